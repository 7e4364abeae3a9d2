//! `analyze_source` (for editors) reports exactly what `check_source` reports,
//! and keeps the tables when checking, not parsing, found errors.

use std::path::Path;

#[test]
fn analysis_reports_what_checking_reports_on_every_fixture() {
    let mut with_tables_despite_errors = 0;
    let mut files = 0;
    for dir in ["ok", "err"] {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data")
            .join(dir);
        for entry in std::fs::read_dir(&dir).expect("fixture directory") {
            let path = entry.expect("entry").path();
            let bytes = std::fs::read(&path).expect("fixture");
            let text = String::from_utf8_lossy(&bytes);
            let checked = ftc_frontend::check_source(&text);
            let analysis = ftc_frontend::analyze_source(&text);
            assert_eq!(
                analysis.diagnostics,
                checked.diagnostics,
                "{}",
                path.display()
            );
            let syntax = !ftc_grammar::parse(&text).errors.is_empty();
            assert_eq!(analysis.program.is_some(), !syntax, "{}", path.display());
            if checked.has_errors() && analysis.program.is_some() {
                with_tables_despite_errors += 1;
            }
            files += 1;
        }
    }
    assert!(files > 50, "only {files} fixtures");
    assert!(with_tables_despite_errors > 20);
}
