//! Parses a CMSL file and prints its syntax errors (and, with `--tree`, the tree).

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(path) = args.next() else {
        eprintln!("usage: parse_file FILE [--tree]");
        std::process::exit(2);
    };
    let source = match std::fs::read_to_string(&path) {
        Ok(source) => source,
        Err(error) => {
            eprintln!("{path}: {error}");
            std::process::exit(2);
        }
    };
    let parsed = ftc_grammar::parse(&source);
    if args.next().as_deref() == Some("--tree") {
        println!("{:#?}", parsed.program);
    }
    for error in &parsed.errors {
        let (line, col) = ftc_grammar::line_col(&source, error.span.start);
        println!("{path}:{line}:{col}: {error}");
    }
}
