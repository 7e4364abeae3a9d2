//! Rust code generation from the replication IR (quote + proc-macro2, formatted
//! with prettyplease).
//!
//! [`generate`] turns a checked program and its [`ProgramIr`] into a Cargo
//! project: `Cargo.toml` and `src/main.rs`. The Rust follows
//! `runtime/examples/golden.rs` and `docs/codegen-contract.md`: one Rust item
//! per CMSL item, names from the CMSL source, and a `// line N: …` comment
//! before the code of every CMSL statement. quote drops comments, so the
//! generator emits a marker statement (`cmsl_line!(N);`) that
//! [`format`] replaces by the comment after formatting.

mod body;
mod items;
mod source;

use ftc_frontend::CheckedProgram;
use ftc_transforms::ProgramIr;
use proc_macro2::TokenStream;

/// The crate that generated projects depend on, when not overridden by
/// `FTC_RUNTIME_DIR` at run time.
pub const DEFAULT_RUNTIME_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../runtime");

/// A code generation failure: a compiler bug, reported with a clear message.
#[derive(Debug, thiserror::Error)]
pub enum CodegenError {
    /// The generated tokens were not valid Rust.
    #[error("internal error: generated Rust does not parse: {0}")]
    Parse(String),
}

/// A generated Cargo project.
#[derive(Clone, Debug)]
pub struct GeneratedCrate {
    /// The package name.
    pub package: String,
    /// `Cargo.toml`.
    pub cargo_toml: String,
    /// `src/main.rs`.
    pub main_rs: String,
}

/// Options of [`generate`].
#[derive(Clone, Debug)]
pub struct Options {
    /// The CMSL file name, for locations (`prog.cmsl`).
    pub file_name: String,
    /// The package and binary name.
    pub package: String,
    /// The runtime crate's directory (absolute).
    pub runtime_dir: String,
}

/// The runtime directory: `FTC_RUNTIME_DIR` when set, else the checkout's.
pub fn runtime_dir() -> String {
    std::env::var("FTC_RUNTIME_DIR").unwrap_or_else(|_| {
        std::path::Path::new(DEFAULT_RUNTIME_DIR)
            .canonicalize()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|_| DEFAULT_RUNTIME_DIR.to_string())
    })
}

/// A package name from a file stem: lowercase letters, digits and `-`.
pub fn package_name(stem: &str) -> String {
    let mut s: String = stem
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    if !s.starts_with(|c: char| c.is_ascii_lowercase()) {
        s.insert_str(0, "cmsl-");
    }
    s
}

/// Generates the Rust crate of a program.
pub fn generate(
    program: &CheckedProgram,
    ir: &ProgramIr,
    source: &str,
    options: &Options,
) -> Result<GeneratedCrate, CodegenError> {
    let mut printed = Printed::default();
    items::program(
        program,
        ir,
        &source::Source::new(source),
        options,
        &mut |item| printed.add(item),
    );
    let main_rs = comment_lines(&printed.finish()?, source);
    let cargo_toml = format!(
        "[package]\nname = \"{pkg}\"\nversion = \"0.1.0\"\nedition = \"2021\"\npublish = false\n\n\
         [dependencies]\nftc-runtime = {{ path = \"{rt}\" }}\nserde = {{ version = \"1\", features = [\"derive\"] }}\n",
        pkg = options.package,
        rt = options.runtime_dir.replace('\\', "\\\\").replace('"', "\\\""),
    );
    Ok(GeneratedCrate {
        package: options.package.clone(),
        cargo_toml,
        main_rs,
    })
}

/// The shells of the program's server classes, in class order: what
/// [`generate`] hands to `ftc_shell::emit` for each (the Rust front end,
/// `#[ftc_runtime::server]`, hands it the shell of an `impl` block).
pub fn server_shells(
    program: &CheckedProgram,
    ir: &ProgramIr,
    source: &str,
) -> Vec<ftc_shell::ServerShell> {
    let source = source::Source::new(source);
    ir.classes
        .iter()
        .filter_map(|class| items::server_shell(program, ir, &source, class))
        .collect()
}

/// Formats tokens with prettyplease and turns line markers into comments
/// quoting the CMSL source line.
pub fn format(tokens: &TokenStream, source: &str) -> Result<String, CodegenError> {
    let mut printed = Printed::default();
    printed.add(tokens.clone());
    Ok(comment_lines(&printed.finish()?, source))
}

/// A file printed part by part (the header, then one part per item): each
/// part is parsed, printed and dropped in turn, so the syntax trees of the
/// whole file never coexist and the cost stays linear in the program's size.
#[derive(Default)]
struct Printed {
    text: String,
    error: Option<CodegenError>,
}

impl Printed {
    fn add(&mut self, part: TokenStream) {
        if self.error.is_some() {
            return;
        }
        match syn::parse2::<syn::File>(part) {
            Ok(file) => self.text.push_str(&prettyplease::unparse(&file)),
            Err(e) => self.error = Some(CodegenError::Parse(e.to_string())),
        }
    }

    fn finish(self) -> Result<String, CodegenError> {
        match self.error {
            Some(e) => Err(e),
            None => Ok(self.text),
        }
    }
}

/// Blank lines between items and methods, and every line marker turned into
/// a comment quoting its CMSL line.
fn comment_lines(text: &str, source: &str) -> String {
    let lines: Vec<&str> = source.lines().collect();
    let mut out = String::with_capacity(text.len() + 1024);
    let mut last: Option<usize> = None;
    let mut prev = "";
    for line in text.lines() {
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        let prev_trimmed = prev.trim_start();
        let prev_indent = prev.len() - prev_trimmed.len();
        // A blank line between items and between methods, for readability.
        if indent <= 4
            && indent == prev_indent
            && (prev_trimmed == "}"
                || (indent == 0 && prev_trimmed.ends_with(';') && !trimmed.starts_with("use ")))
            && !trimmed.starts_with('}')
        {
            out.push('\n');
        }
        prev = line;
        if let Some(rest) = trimmed.strip_prefix("cmsl_line!(") {
            let n: Option<usize> = rest.strip_suffix(");").and_then(|d| d.parse().ok());
            if let Some(n) = n {
                if last == Some(n) {
                    continue;
                }
                last = Some(n);
                let text = lines.get(n.wrapping_sub(1)).map(|l| l.trim()).unwrap_or("");
                let text: String = text.chars().take(100).collect();
                let pad = &line[..indent];
                out.push_str(&format!("{pad}// line {n}: {text}\n"));
                prev = "//";
                continue;
            }
        }
        last = None;
        prev = line;
        out.push_str(line);
        out.push('\n');
    }
    out
}
