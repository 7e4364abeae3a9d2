//! Every example in `docs/language.md` is a valid program: ```cmsl blocks parse and check without errors.
//!
//! Blocks fenced as ```cmsl parse-only are only required to parse.

use std::path::Path;

struct Example {
    line: usize,
    check: bool,
    source: String,
}

/// The ```cmsl blocks of the reference, with the line each starts on.
fn examples(reference: &str) -> Vec<Example> {
    let mut examples = Vec::new();
    let mut current: Option<Example> = None;
    for (index, line) in reference.lines().enumerate() {
        match current.as_mut() {
            Some(_) if line.trim_start().starts_with("```") => {
                examples.extend(current.take());
            }
            Some(example) => {
                example.source.push_str(line);
                example.source.push('\n');
            }
            None => {
                let fence = line.trim();
                if fence == "```cmsl" || fence == "```cmsl parse-only" {
                    current = Some(Example {
                        line: index + 2,
                        check: fence == "```cmsl",
                        source: String::new(),
                    });
                }
            }
        }
    }
    examples
}

#[test]
fn every_reference_example_is_a_valid_program() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/language.md");
    let reference = std::fs::read_to_string(&path).expect("docs/language.md exists");
    let examples = examples(&reference);
    assert!(
        examples.len() >= 20,
        "only {} examples found",
        examples.len()
    );
    let mut failures = Vec::new();
    for example in &examples {
        let parsed = ftc_grammar::parse(&example.source);
        for error in &parsed.errors {
            let (line, col) = ftc_grammar::line_col(&example.source, error.span.start);
            failures.push(format!(
                "docs/language.md:{}:{col}: {error}",
                example.line + line - 1
            ));
        }
        if example.check && parsed.errors.is_empty() {
            let output = ftc_frontend::check_source(&example.source);
            if output.has_errors() {
                failures.push(format!(
                    "docs/language.md:{}: the example does not check:\n{:#?}",
                    example.line, output.diagnostics
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
