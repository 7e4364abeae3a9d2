//! Pass 2: Rust names for everything the generated code declares.
//!
//! After it: classes are CamelCase type names that clash with nothing the
//! runtime prelude exports; variables, fields and functions keep their CMSL
//! names, escaped when they are Rust keywords or clash with a prelude
//! function; `main` is `cmsl_main`. Every class knows the root of its
//! inheritance tree; a plain root with subclasses has a kind enum and a
//! struct holding the fields of the whole tree, each under a name unique in
//! it (a field named like one of another branch is prefixed by its class).

use crate::{ClassIr, ProgramIr};
use ftc_frontend::program::VarKind;
use ftc_frontend::types::{ClassId, VarId};
use ftc_frontend::CheckedProgram;
use std::collections::{HashMap, HashSet};

/// Type names the prelude and the generated file already use.
const TYPE_NAMES: &[&str] = &[
    "Array",
    "Encoded",
    "Failure",
    "FailureKind",
    "Host",
    "List",
    "Map",
    "Obj",
    "Printer",
    "Res",
    "ResultExt",
    "Show",
    "Future",
    "ProgramDef",
    "Props",
    "Server",
    "ServerClass",
    "ServerClassDef",
    "TypedServer",
    "Model",
    "Deserialize",
    "Serialize",
    "String",
    "Vec",
    "Option",
    "Result",
    "Ok",
    "Err",
    "Some",
    "None",
    "Default",
    "Clone",
    "Debug",
    "Self",
    // The rest of the Rust standard prelude: a struct of that name would
    // shadow a trait or type the generated code or its derives may name.
    "Box",
    "Copy",
    "Send",
    "Sized",
    "Sync",
    "Unpin",
    "Drop",
    "Fn",
    "FnMut",
    "FnOnce",
    "AsMut",
    "AsRef",
    "From",
    "Into",
    "DoubleEndedIterator",
    "ExactSizeIterator",
    "Extend",
    "IntoIterator",
    "Iterator",
    "Eq",
    "Ord",
    "PartialEq",
    "PartialOrd",
    "ToOwned",
    "ToString",
    "TryFrom",
    "TryInto",
    "FromIterator",
];

/// Value names the prelude and the generated code already use.
const VALUE_NAMES: &[&str] = &[
    "accept",
    "accept_or_timeout",
    "accept_timeout",
    "args",
    "host",
    "my_host",
    "print",
    "println",
    "run",
    "sleep",
    "abs_int",
    "abs_real",
    "atan2",
    "concat",
    "cos",
    "floor",
    "max_int",
    "max_real",
    "min_int",
    "min_real",
    "now",
    "parse_int",
    "parse_real",
    "random",
    "read_lines",
    "sin",
    "split",
    "sqrt",
    "to_string",
    "trim",
    "write_file",
    "to_int",
    "to_real",
    "round",
    "ceil",
    "substr",
    "index_of",
    "char_at",
    "check",
    "decode",
    "deep_copy",
    "encode",
    "int",
    "len",
    "main",
    "cmsl_main",
    "this",
    "outcome",
    "result",
    "index",
    "command",
    "construct",
    "dispatch",
    "invariant",
    "init_state",
    "show",
    "p",
    "SRC",
    "attempt",
    // The generated code's temporary in element and field stores.
    "value",
    // The prelude's enum variants: a `let` binding cannot shadow them.
    "Some",
    "None",
    "Ok",
    "Err",
];

/// Every Rust keyword (strict, reserved and weak, 2015 to 2024 editions),
/// CMSL keywords included: none may name a Rust value.
const KEYWORDS: &[&str] = &[
    "as",
    "async",
    "await",
    "break",
    "const",
    "continue",
    "crate",
    "dyn",
    "else",
    "enum",
    "extern",
    "false",
    "fn",
    "for",
    "if",
    "impl",
    "in",
    "let",
    "loop",
    "match",
    "mod",
    "move",
    "mut",
    "pub",
    "ref",
    "return",
    "self",
    "Self",
    "static",
    "struct",
    "super",
    "trait",
    "true",
    "type",
    "unsafe",
    "use",
    "where",
    "while",
    "abstract",
    "become",
    "box",
    "do",
    "final",
    "macro",
    "override",
    "priv",
    "typeof",
    "unsized",
    "virtual",
    "yield",
    "try",
    "gen",
    "union",
    "raw",
    "safe",
    "macro_rules",
    "_",
];

/// Method names of traits the generated types implement or derive
/// (`Default`, `Clone`, `Debug`, serde's, the runtime's `Show` and
/// `ServerClass`) and of the standard prelude's traits: an inherent method
/// of one of these names would be shadowed by, or shadow, the trait's.
const TRAIT_METHODS: &[&str] = &[
    "default",
    "clone",
    "clone_from",
    "fmt",
    "serialize",
    "deserialize",
    "into",
    "from",
    "try_into",
    "try_from",
    "as_ref",
    "as_mut",
    "to_owned",
    "eq",
    "ne",
    "cmp",
    "partial_cmp",
    "lt",
    "le",
    "gt",
    "ge",
    "max",
    "min",
    "clamp",
    "drop",
    "new",
    "into_iter",
    "next",
    "extend",
    "hash",
    "borrow",
    "borrow_mut",
    "type_id",
];

/// `counter` → `Counter`, `air_traffic` → `AirTraffic` (the shell's rule for
/// command variants, so both front ends name them alike).
pub(crate) fn camel(name: &str) -> String {
    let mut out = ftc_shell::upper_camel(name);
    if out.is_empty() {
        out.push('X');
    }
    out
}

/// A value name: keywords are suffixed (`type` → `type_`), prelude and trait
/// method names too. Names that already end in `_` get one more, so the
/// mapping stays one to one (`type_` → `type__`).
pub(crate) fn value_name(name: &str) -> String {
    if KEYWORDS.contains(&name)
        || VALUE_NAMES.contains(&name)
        || TRAIT_METHODS.contains(&name)
        || name.starts_with("__")
        || name.ends_with('_')
    {
        format!("{name}_")
    } else {
        name.to_string()
    }
}

pub(crate) fn assign(program: &CheckedProgram) -> ProgramIr {
    let mut used: HashSet<String> = TYPE_NAMES.iter().map(|s| s.to_string()).collect();
    let mut classes = Vec::new();
    for (i, class) in program.classes.iter().enumerate() {
        let mut rust = camel(&class.name);
        // `…Command` and `…Client` are the names of a server class's command
        // enum and typed client.
        while used.contains(&rust) || rust.ends_with("Command") || rust.ends_with("Client") {
            rust.push_str("Class");
        }
        used.insert(rust.clone());
        let id = ClassId(i as u32);
        let chain = program.class_chain(id);
        let root = chain[chain.len() - 1];
        let (fields, methods) = if class.is_server {
            (program.all_state(id), program.all_methods(id))
        } else if root == id {
            (class.state.clone(), class.methods.clone())
        } else {
            (Vec::new(), class.methods.clone())
        };
        classes.push(ClassIr {
            id,
            cmsl_name: class.name.clone(),
            rust_name: rust,
            fields,
            methods,
            server: None,
            root,
            family: Vec::new(),
            kind_enum: None,
        });
    }
    // Trees: every class joins its root's family, in declaration order.
    for i in 0..classes.len() {
        let root = classes[i].root;
        if root != classes[i].id {
            let r = root.0 as usize;
            if classes[r].family.is_empty() {
                classes[r].family.push(root);
            }
            let id = classes[i].id;
            classes[r].family.push(id);
        }
    }
    let mut var_names: Vec<String> = program.vars.iter().map(|v| value_name(&v.name)).collect();
    for class in classes.iter_mut() {
        if class.family.is_empty() || program.class(class.id).is_server {
            continue;
        }
        let mut kind = format!("{}Kind", class.rust_name);
        while used.contains(&kind) {
            kind.push_str("Kind");
        }
        used.insert(kind.clone());
        class.kind_enum = Some(kind);
        // One struct holds the fields of every class of the tree: a field
        // named like one of another branch gets its class's name in front.
        let family = class.family.clone();
        let all: Vec<VarId> = family
            .iter()
            .flat_map(|c| program.class(*c).state.iter().copied())
            .collect();
        let natural: HashSet<String> = all
            .iter()
            .map(|v| var_names[v.0 as usize].clone())
            .collect();
        let mut taken: HashSet<String> = HashSet::new();
        for v in &all {
            let name = var_names[v.0 as usize].clone();
            if taken.insert(name.clone()) {
                continue;
            }
            let owner = match program.var(*v).kind {
                VarKind::State { class, .. } => program.class(class).name.clone(),
                _ => String::new(),
            };
            let mut unique = format!("{owner}_{name}");
            while natural.contains(&unique) || taken.contains(&unique) {
                unique.push('_');
            }
            taken.insert(unique.clone());
            var_names[v.0 as usize] = unique;
        }
        class.fields = all;
    }
    let mut function_names = Vec::new();
    let mut free: HashMap<String, usize> = HashMap::new();
    for (i, f) in program.functions.iter().enumerate() {
        let name = if program.main.map(|m| m.0 as usize) == Some(i) {
            "cmsl_main".to_string()
        } else {
            value_name(&f.name)
        };
        if f.owner.is_none() {
            *free.entry(name.clone()).or_default() += 1;
        }
        function_names.push(name);
    }
    ProgramIr {
        classes,
        function_names,
        var_names,
        handle_arrays: HashSet::new(),
        decl_vars: program
            .vars
            .iter()
            .enumerate()
            .map(|(i, v)| ((v.span.start, v.span.end), VarId(i as u32)))
            .collect(),
        specs: HashMap::new(),
        commands_by_method: HashMap::new(),
        parallel: crate::parallel::Parallel::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaped_names_are_distinct_from_every_other_name() {
        let mut names: Vec<String> = KEYWORDS
            .iter()
            .chain(VALUE_NAMES)
            .chain(TRAIT_METHODS)
            .map(|s| s.to_string())
            .collect();
        // The escapes themselves and plain names are CMSL names too.
        let more: Vec<String> = names.iter().map(|n| format!("{n}_")).collect();
        names.extend(more);
        names.extend(["x", "x_", "x__", "_", "__", "___", "total"].map(String::from));
        names.sort();
        names.dedup();
        let mut seen = HashSet::new();
        for n in &names {
            let rust = value_name(n);
            assert!(seen.insert(rust.clone()), "`{n}` → `{rust}` clashes");
            assert!(
                !KEYWORDS.contains(&rust.as_str()),
                "`{n}` → keyword `{rust}`"
            );
            assert!(!TRAIT_METHODS.contains(&rust.as_str()), "`{n}` → `{rust}`");
        }
        assert_eq!(value_name("total"), "total");
        assert_eq!(value_name("default"), "default_");
        assert_eq!(value_name("type_"), "type__");
    }
}
