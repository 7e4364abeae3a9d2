//! Rendering: colour only on request, JSON positions in characters, long lines not quoted.

use ftc_frontend::render::{render_human, render_json, SourceFile};
use ftc_frontend::Diagnostic;
use ftc_grammar::Span;

fn diagnostic(start: usize, end: usize) -> Diagnostic {
    Diagnostic::error("E0100", "cannot find `x`", Span::new(start, end))
        .with_label("not declared")
        .with_secondary(Span::new(0, 4), "context")
        .with_note("a note")
        .with_help("a help")
}

#[test]
fn colour_only_when_asked() {
    let text = "void main () { x = 1; }\n";
    let file = SourceFile::new("a.cmsl", text);
    let d = [diagnostic(15, 16)];
    let plain = render_human(&d, &file, false);
    assert!(!plain.contains('\x1b'));
    assert!(plain.contains("error[E0100]: cannot find `x`"));
    assert!(plain.contains("a.cmsl:1:16"));
    assert!(plain.contains("= note: a note"));
    assert!(plain.contains("= help: a help"));
    let coloured = render_human(&d, &file, true);
    assert!(coloured.contains("\x1b["));
}

#[test]
fn json_columns_count_characters() {
    let text = "// é\nvoid main () { x = 1; }\n// ü\n";
    let file = SourceFile::new("b.cmsl", text);
    let start = text.find('x').expect("x");
    let json = render_json(&diagnostic(start, start + 1), &file);
    let v: serde_json::Value = serde_json::from_str(&json).expect("json");
    assert_eq!(v["line"], 2);
    assert_eq!(v["column"], 16);
    assert_eq!(v["labels"][0]["end_column"], 17);
    assert_eq!(v["labels"][0]["primary"], true);
    assert_eq!(v["labels"][1]["primary"], false);
    assert_eq!(v["labels"][1]["column"], 1);
    assert_eq!(v["notes"][0], "a note");
    assert_eq!(v["help"], "a help");
    let after = text.rfind('ü').expect("ü") + 'ü'.len_utf8();
    let json = render_json(&diagnostic(after, after), &file);
    let v: serde_json::Value = serde_json::from_str(&json).expect("json");
    assert_eq!(
        (v["line"].clone(), v["column"].clone()),
        (3.into(), 5.into())
    );
}

#[test]
fn spans_out_of_range_are_clamped() {
    let file = SourceFile::new("c.cmsl", "ab");
    let d = [diagnostic(10, 20)];
    assert!(render_human(&d, &file, false).contains("error[E0100]"));
    assert!(render_json(&d[0], &file).contains("\"line\":1"));
}

#[test]
fn very_long_lines_are_not_quoted() {
    let text = format!("{}\n", "y".repeat(100_000));
    let file = SourceFile::new("d.cmsl", &text);
    let out = render_human(&[diagnostic(50_000, 50_001)], &file, false);
    assert!(out.len() < 1_000, "{}", out.len());
    assert!(out.contains("--> d.cmsl:1:50001"));
}
