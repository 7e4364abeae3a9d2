//! CMSL lexer (logos), grammar (lalrpop) and abstract syntax tree with spans.
