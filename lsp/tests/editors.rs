//! The editor packages under `editors/`: the VS Code TextMate grammar, run by
//! a small TextMate tokenizer over every CMSL fixture of the project, must
//! agree with the lexer (keywords, literals, comments); every keyword of the
//! language reference is highlighted by it and by the Vim syntax file.

mod common;

use common::{fixtures, root};
use fancy_regex::Regex;
use ftc_grammar::lexer::Token;
use logos::Logos;
use serde_json::Value;

fn read(path: &str) -> String {
    std::fs::read_to_string(root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn json(path: &str) -> Value {
    serde_json::from_str(&read(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// A rule of the grammar, includes resolved.
enum Rule {
    Match {
        regex: Regex,
        name: Option<String>,
        captures: Vec<(usize, String)>,
    },
    Region {
        begin: Regex,
        end: Regex,
        name: String,
        inner: Vec<Rule>,
    },
}

fn compile(pattern: &Value, what: &str) -> Regex {
    let text = pattern
        .as_str()
        .unwrap_or_else(|| panic!("{what}: not a string"));
    Regex::new(text).unwrap_or_else(|e| panic!("{what} `{text}` does not compile: {e}"))
}

fn captures(rule: &Value) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for key in ["captures", "beginCaptures", "endCaptures"] {
        if let Some(map) = rule[key].as_object() {
            for (group, c) in map {
                let name = c["name"].as_str().expect("capture without a name");
                if key == "captures" {
                    out.push((group.parse().expect("capture group"), name.to_string()));
                }
            }
        }
    }
    out
}

/// Flattens `patterns` (with `include`s of the repository) into rules.
fn rules(patterns: &Value, repository: &Value, depth: usize) -> Vec<Rule> {
    assert!(depth < 16, "include cycle");
    let mut out = Vec::new();
    for p in patterns.as_array().expect("patterns is a list") {
        let p = match p["include"].as_str() {
            Some(name) => {
                let key = name.strip_prefix('#').expect("only #repository includes");
                let r = &repository[key];
                assert!(!r.is_null(), "include of a missing rule `{name}`");
                r
            }
            None => p,
        };
        let name = p["name"].as_str().map(str::to_string);
        if !p["match"].is_null() {
            out.push(Rule::Match {
                regex: compile(&p["match"], "match"),
                name,
                captures: captures(p),
            });
        } else if !p["begin"].is_null() {
            let inner = if p["patterns"].is_null() {
                Vec::new()
            } else {
                rules(&p["patterns"], repository, depth + 1)
            };
            out.push(Rule::Region {
                begin: compile(&p["begin"], "begin"),
                end: compile(&p["end"], "end"),
                name: name.expect("a region has a name"),
                inner,
            });
        } else {
            out.extend(rules(&p["patterns"], repository, depth + 1));
        }
    }
    out
}

fn grammar() -> Vec<Rule> {
    let g = json("editors/vscode/syntaxes/cmsl.tmLanguage.json");
    assert_eq!(g["scopeName"], "source.cmsl");
    rules(&g["patterns"], &g["repository"], 0)
}

/// The earliest match of any rule at or after `pos` (the first rule on a tie).
fn earliest<'r, 't>(
    rules: &'r [Rule],
    line: &'t str,
    pos: usize,
) -> Option<(&'r Rule, fancy_regex::Captures<'t>)> {
    let mut best: Option<(&Rule, fancy_regex::Captures<'t>)> = None;
    for rule in rules {
        let regex = match rule {
            Rule::Match { regex, .. } => regex,
            Rule::Region { begin, .. } => begin,
        };
        if let Some(c) = regex.captures_from_pos(line, pos).expect("regex runs") {
            let start = c.get(0).unwrap().start();
            if best
                .as_ref()
                .is_none_or(|(_, b)| start < b.get(0).unwrap().start())
            {
                best = Some((rule, c));
            }
        }
    }
    best
}

/// The innermost scope of every byte of `text` (empty where none).
fn highlight(rules: &[Rule], text: &str) -> Vec<String> {
    let mut scopes = vec![String::new(); text.len()];
    let mut region: Option<&Rule> = None;
    let mut line_start = 0;
    for line in text.split('\n') {
        let mut pos = 0;
        let set = |scopes: &mut Vec<String>, from: usize, to: usize, name: &str| {
            for s in &mut scopes[line_start + from..line_start + to] {
                *s = name.to_string();
            }
        };
        for _ in 0..=line.len() * 4 + 4 {
            if pos > line.len() {
                break;
            }
            if let Some(Rule::Region {
                end, name, inner, ..
            }) = region
            {
                let close = end.find_from_pos(line, pos).expect("regex runs");
                let close_start = close.map_or(line.len(), |m| m.start());
                match earliest(inner, line, pos)
                    .filter(|(_, c)| c.get(0).unwrap().start() < close_start)
                {
                    Some((
                        Rule::Match {
                            name: inner_name, ..
                        },
                        c,
                    )) => {
                        let m = c.get(0).unwrap();
                        set(&mut scopes, pos, m.start(), name);
                        set(
                            &mut scopes,
                            m.start(),
                            m.end(),
                            inner_name.as_deref().unwrap_or(name),
                        );
                        pos = m.end().max(pos + 1);
                    }
                    Some((Rule::Region { .. }, _)) => panic!("nested regions are not used"),
                    None => {
                        let to = close.map_or(line.len(), |m| m.end());
                        set(&mut scopes, pos, to, name);
                        if close.is_some() {
                            region = None;
                            pos = to;
                            if to == line.len() {
                                break;
                            }
                        } else {
                            break;
                        }
                    }
                }
                continue;
            }
            let Some((rule, c)) = earliest(rules, line, pos) else {
                break;
            };
            let m = c.get(0).unwrap();
            match rule {
                Rule::Match { name, captures, .. } => {
                    if let Some(n) = name {
                        set(&mut scopes, m.start(), m.end(), n);
                    }
                    for (group, n) in captures {
                        if let Some(g) = c.get(*group) {
                            set(&mut scopes, g.start(), g.end(), n);
                        }
                    }
                    pos = m.end().max(m.start() + 1);
                }
                Rule::Region { name, .. } => {
                    set(&mut scopes, m.start(), m.end(), name);
                    region = Some(rule);
                    pos = m.end();
                }
            }
        }
        line_start += line.len() + 1;
    }
    scopes
}

fn is_keyword_scope(scope: &str) -> bool {
    [
        "keyword.",
        "storage.",
        "constant.language",
        "variable.language",
    ]
    .iter()
    .any(|p| scope.starts_with(p))
}

#[test]
fn every_fixture_highlights_as_the_lexer_reads_it() {
    let rules = grammar();
    let files = fixtures();
    assert!(files.len() > 100, "only {} fixtures found", files.len());
    let mut checked = 0;
    for path in &files {
        let Ok(text) = std::fs::read_to_string(path) else {
            continue; // The fixture of a file that is not UTF-8.
        };
        let tokens: Vec<_> = Token::lexer(&text).spanned().collect();
        if tokens.iter().any(|(t, _)| t.is_err()) {
            continue; // Fixtures of lexical errors.
        }
        let scopes = highlight(&rules, &text);
        let at = |r: &std::ops::Range<usize>| {
            format!(
                "{}: `{}` at byte {} has scope `{}`",
                path.display(),
                &text[r.clone()],
                r.start,
                scopes[r.start]
            )
        };
        let mut covered = 0;
        for (token, range) in &tokens {
            let word = &text[range.clone()];
            let scope = &scopes[range.start];
            let whole = scopes[range.clone()].iter().all(|s| s == scope);
            match token.as_ref().unwrap() {
                Token::Ident(_) => assert!(!is_keyword_scope(scope), "{}", at(range)),
                Token::StrLit(_) => assert!(
                    scopes[range.clone()]
                        .iter()
                        .all(|s| s.starts_with("string.")
                            || s.starts_with("constant.character")
                            || s.starts_with("punctuation.definition.string")),
                    "{}",
                    at(range)
                ),
                Token::IntLit(_) | Token::RealLit(_) => {
                    assert!(
                        scope.starts_with("constant.numeric") && whole,
                        "{}",
                        at(range)
                    )
                }
                _ if word.chars().all(|c| c.is_ascii_alphabetic()) => {
                    assert!(is_keyword_scope(scope) && whole, "{}", at(range))
                }
                _ => {}
            }
            // Between tokens: white space or comments only.
            for (i, c) in text[covered..range.start].char_indices() {
                let s = &scopes[covered + i];
                assert!(
                    c.is_whitespace() || c == '\u{FEFF}' || s.contains("comment"),
                    "{}: `{c}` at byte {} outside any token has scope `{s}`",
                    path.display(),
                    covered + i
                );
            }
            covered = range.end;
        }
        checked += 1;
    }
    assert!(checked > 100, "only {checked} fixtures checked");
}

/// The keywords of the table in `docs/language.md` §2.
fn documented_keywords() -> Vec<String> {
    let doc = read("docs/language.md");
    let words: Vec<String> = doc
        .lines()
        .filter(|l| l.starts_with("| MSL |") || l.starts_with("| CMSL |"))
        .flat_map(|l| l.split('`').nth(1).unwrap_or("").split_whitespace())
        .map(str::to_string)
        .collect();
    assert!(words.len() > 50, "the keyword table was not found");
    words
}

#[test]
fn every_documented_keyword_is_highlighted() {
    let rules = grammar();
    let vim = read("editors/vim/syntax/cmsl.vim");
    let vim_keywords: Vec<&str> = vim
        .lines()
        .filter_map(|l| l.strip_prefix("syn keyword "))
        .flat_map(|l| l.split_whitespace().skip(1))
        .collect();
    for word in documented_keywords() {
        let text = format!("x {word} y");
        let scopes = highlight(&rules, &text);
        assert!(
            is_keyword_scope(&scopes[2])
                && scopes[2..2 + word.len()].iter().all(|s| *s == scopes[2]),
            "`{word}` is not highlighted as a keyword (scope `{}`)",
            scopes[2]
        );
        assert!(!is_keyword_scope(&scopes[0]));
        assert!(
            vim_keywords.contains(&word.as_str()),
            "vim: `{word}` missing"
        );
    }
    // Not keywords: a keyword inside a longer name is not highlighted.
    let scopes = highlight(&rules, "int hosts_up = 0;");
    assert!(!is_keyword_scope(&scopes[4]));
}

#[test]
fn the_vscode_package_is_complete() {
    let package = json("editors/vscode/package.json");
    assert_eq!(package["main"], "./extension.js");
    let language = &package["contributes"]["languages"][0];
    assert_eq!(language["extensions"][0], ".cmsl");
    let config = language["configuration"].as_str().unwrap();
    let grammar = package["contributes"]["grammars"][0]["path"]
        .as_str()
        .unwrap();
    for file in [config, grammar, "./extension.js"] {
        let path = root().join("editors/vscode").join(file);
        assert!(path.is_file(), "{} is missing", path.display());
    }
    let configuration = json("editors/vscode/language-configuration.json");
    assert_eq!(configuration["comments"]["lineComment"], "//");
    compile(&configuration["wordPattern"], "wordPattern");
    for key in ["increaseIndentPattern", "decreaseIndentPattern"] {
        compile(&configuration["indentationRules"][key], key);
    }
    assert!(read("editors/vscode/extension.js").contains("args: [\"lsp\"]"));
}

#[test]
fn the_highlighter_can_fail() {
    // A grammar without the comment rule leaves a comment unhighlighted.
    let rules = grammar();
    let scopes = highlight(&rules, "int x; // class\n/* if\nwhile */ x");
    assert!(scopes[7].starts_with("comment.line"));
    assert!(scopes[16].starts_with("comment.block"));
    assert!(scopes[23].starts_with("comment.block"));
    assert_eq!(scopes[31], "");
    let without: Vec<Rule> = rules.into_iter().skip(2).collect();
    let scopes = highlight(&without, "int x; // class");
    assert!(is_keyword_scope(&scopes[10]));
}

/// Runs `program args…` in `dir` (bounded: `secs`); its output, or why not.
fn run_in(
    dir: &std::path::Path,
    program: &str,
    args: &[&str],
    secs: u64,
) -> Result<String, String> {
    use std::process::{Command, Stdio};
    let mut child = Command::new(program)
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("{program}: {e}"))?;
    let until = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if std::time::Instant::now() < until => {
                std::thread::sleep(std::time::Duration::from_millis(100))
            }
            _ => {
                let _ = child.kill();
                break;
            }
        }
    }
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if out.status.success() {
        Ok(text)
    } else {
        Err(format!("{program} {args:?}: {:?}\n{text}", out.status))
    }
}

/// The extension packaged as users install it: `npm ci` from the committed
/// lock file, then `vsce package` (a devDependency), on a copy of
/// `editors/vscode`. The `.vsix` must hold the manifest, the client, the
/// grammar, the language configuration and the language client library it
/// loads. Needs Node.js and the npm registry; without `npm`, or with the
/// registry unreachable, it says so and passes, as the README's quick start
/// needs only the Rust toolchain.
#[test]
fn the_vscode_extension_packages_as_a_vsix() {
    if run_in(&root(), "npm", &["--version"], 30).is_err() {
        eprintln!("skipped: npm is not installed, so the extension cannot be packaged here");
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let source = root().join("editors/vscode");
    let mut stack = vec![std::path::PathBuf::new()];
    while let Some(rel) = stack.pop() {
        for entry in std::fs::read_dir(source.join(&rel)).expect("read editors/vscode") {
            let entry = entry.expect("entry");
            let name = entry.file_name();
            if name == "node_modules" || name.to_string_lossy().ends_with(".vsix") {
                continue;
            }
            let rel = rel.join(&name);
            if entry.file_type().expect("file type").is_dir() {
                std::fs::create_dir_all(dir.path().join(&rel)).expect("mkdir");
                stack.push(rel);
            } else {
                std::fs::copy(entry.path(), dir.path().join(&rel)).expect("copy");
            }
        }
    }
    // One retry: the registry is a network service.
    let install = ["ci", "--no-audit", "--no-fund", "--ignore-scripts"];
    let installed = run_in(dir.path(), "npm", &install, 300)
        .or_else(|_| run_in(dir.path(), "npm", &install, 300));
    if let Err(e) = installed {
        // A machine that cannot reach the registry cannot package; anything
        // else (a broken lock file, a missing package) is a failure.
        let offline = [
            "ENOTFOUND",
            "EAI_AGAIN",
            "ECONNREFUSED",
            "ETIMEDOUT",
            "ENETUNREACH",
        ];
        if offline.iter().any(|code| e.contains(code)) {
            eprintln!("skipped: the npm registry is unreachable here:\n{e}");
            return;
        }
        panic!("npm ci failed: {e}");
    }
    let packaged = run_in(
        dir.path(),
        "npx",
        &[
            "--no-install",
            "vsce",
            "package",
            "--allow-missing-repository",
            "-o",
            "cmsl.vsix",
        ],
        300,
    );
    let log = packaged.unwrap_or_else(|e| panic!("vsce package failed: {e}"));
    let vsix = std::fs::read(dir.path().join("cmsl.vsix")).expect("the .vsix");
    assert!(vsix.starts_with(b"PK\x03\x04"), "a .vsix is a zip archive");
    // Entry names are stored uncompressed in a zip's headers.
    for entry in [
        "extension.vsixmanifest",
        "extension/package.json",
        "extension/extension.js",
        "extension/syntaxes/cmsl.tmLanguage.json",
        "extension/language-configuration.json",
        "extension/LICENSE.txt",
        "extension/node_modules/vscode-languageclient/package.json",
    ] {
        assert!(
            vsix.windows(entry.len()).any(|w| w == entry.as_bytes()),
            "{entry} is not in the package:\n{log}"
        );
    }
    // The packaging tool and its own dependencies stay out.
    assert!(!vsix.windows(13).any(|w| w == b"node_modules/@"), "{log}");
}
