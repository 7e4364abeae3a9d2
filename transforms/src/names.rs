//! Pass 2: Rust names for everything the generated code declares.
//!
//! After it: classes are CamelCase type names that clash with nothing the
//! runtime prelude exports; variables, fields and functions keep their CMSL
//! names, escaped when they are Rust keywords or clash with a prelude
//! function; `main` is `cmsl_main`.

use crate::{ClassIr, ProgramIr};
use ftc_frontend::types::VarId;
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
];

const KEYWORDS: &[&str] = &[
    "as", "async", "await", "const", "crate", "dyn", "enum", "extern", "fn", "impl", "in", "let",
    "loop", "match", "mod", "move", "mut", "pub", "ref", "self", "static", "struct", "super",
    "trait", "type", "unsafe", "use", "where", "abstract", "become", "box", "do", "final", "macro",
    "override", "priv", "typeof", "unsized", "virtual", "yield", "try", "gen",
];

/// `counter` → `Counter`, `air_traffic` → `AirTraffic`.
pub(crate) fn camel(name: &str) -> String {
    let mut out = String::new();
    let mut upper = true;
    for c in name.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    if out.is_empty() {
        out.push('X');
    }
    out
}

/// A value name: keywords are suffixed (`type` → `type_`), prelude names too.
pub(crate) fn value_name(name: &str) -> String {
    if KEYWORDS.contains(&name) || VALUE_NAMES.contains(&name) || name.starts_with("__") {
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
        while used.contains(&rust) || rust.ends_with("Command") {
            rust.push_str("Class");
        }
        used.insert(rust.clone());
        classes.push(ClassIr {
            id: ftc_frontend::types::ClassId(i as u32),
            cmsl_name: class.name.clone(),
            rust_name: rust,
            fields: class.state.clone(),
            methods: class.methods.clone(),
            server: None,
        });
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
    let var_names = program.vars.iter().map(|v| value_name(&v.name)).collect();
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
    }
}
