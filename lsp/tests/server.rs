//! Drives the language server in memory as an editor would, on a fixture,
//! and checks its exact answers.

mod common;

use lsp_server::{Connection, Message, Notification, Request, RequestId};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const FIXTURE: &str = include_str!("data/counter.cmsl");
const URI: &str = "file:///work/counter.cmsl";
/// Long enough for a slow machine; a wait that ends is a failure, not a timing.
const WAIT: Duration = Duration::from_secs(120);

struct Client {
    connection: Connection,
    server: Option<std::thread::JoinHandle<()>>,
    next_id: i32,
}

impl Client {
    /// Starts a server in a thread and does the `initialize` handshake.
    fn start() -> Client {
        let (server, client) = Connection::memory();
        let thread = std::thread::spawn(move || ftc_lsp::serve(&server).expect("server failed"));
        let mut c = Client {
            connection: client,
            server: Some(thread),
            next_id: 0,
        };
        let init = c.request("initialize", json!({ "capabilities": {} }));
        assert_eq!(init["capabilities"]["textDocumentSync"], json!(1));
        assert_eq!(init["capabilities"]["hoverProvider"], json!(true));
        c.notify("initialized", json!({}));
        c
    }

    fn notify(&self, method: &str, params: Value) {
        let n = Notification::new(method.to_string(), params);
        self.connection
            .sender
            .send(Message::Notification(n))
            .unwrap();
    }

    fn request(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = RequestId::from(self.next_id);
        let r = Request::new(id.clone(), method.to_string(), params);
        self.connection.sender.send(Message::Request(r)).unwrap();
        loop {
            match self
                .connection
                .receiver
                .recv_timeout(WAIT)
                .expect("no answer")
            {
                Message::Response(resp) if resp.id == id => {
                    assert!(resp.error.is_none(), "{method}: {:?}", resp.error);
                    return resp.result.unwrap_or(Value::Null);
                }
                _ => continue,
            }
        }
    }

    /// The next `publishDiagnostics` for the fixture.
    fn diagnostics(&self) -> Value {
        loop {
            match self
                .connection
                .receiver
                .recv_timeout(WAIT)
                .expect("no diagnostics")
            {
                Message::Notification(n) if n.method == "textDocument/publishDiagnostics" => {
                    assert_eq!(n.params["uri"], json!(URI));
                    return n.params["diagnostics"].clone();
                }
                _ => continue,
            }
        }
    }

    fn open(&self, text: &str) -> Value {
        self.notify(
            "textDocument/didOpen",
            json!({ "textDocument": {
                "uri": URI, "languageId": "cmsl", "version": 1, "text": text
            }}),
        );
        self.diagnostics()
    }

    fn change(&self, version: i32, text: &str) -> Value {
        self.notify(
            "textDocument/didChange",
            json!({
                "textDocument": { "uri": URI, "version": version },
                "contentChanges": [{ "text": text }]
            }),
        );
        self.diagnostics()
    }

    fn at(&mut self, method: &str, line: u32, character: u32) -> Value {
        let mut params = json!({
            "textDocument": { "uri": URI },
            "position": { "line": line, "character": character },
        });
        if method == "textDocument/references" {
            params["context"] = json!({ "includeDeclaration": true });
        }
        self.request(method, params)
    }

    fn stop(mut self) {
        self.request("shutdown", Value::Null);
        self.notify("exit", Value::Null);
        self.server.take().unwrap().join().unwrap();
    }
}

/// The 0-based line and UTF-16 column of the `nth` (0-based) `needle`, plus `delta` columns.
fn find(needle: &str, nth: usize, delta: u32) -> (u32, u32) {
    let offset = FIXTURE.match_indices(needle).nth(nth).expect(needle).0;
    let line = FIXTURE[..offset].matches('\n').count() as u32;
    let column = offset - FIXTURE[..offset].rfind('\n').map_or(0, |i| i + 1);
    (line, column as u32 + delta)
}

fn range(line: u32, start: u32, end: u32) -> Value {
    json!({ "start": { "line": line, "character": start },
            "end": { "line": line, "character": end } })
}

#[test]
fn diagnostics_are_those_of_ftc_check_as_you_type() {
    let c = Client::start();
    let broken = FIXTURE.replace("c->add(2)", "c->add(\"two\")");
    let got = c.open(&broken);
    let expected = ftc_frontend::check_source(&broken).diagnostics;
    assert_eq!(expected.len(), 1);
    let d = &got.as_array().unwrap()[0];
    assert_eq!(got.as_array().unwrap().len(), 1);
    assert_eq!(d["code"], json!(expected[0].code));
    assert_eq!(d["source"], json!("ftc"));
    assert_eq!(d["severity"], json!(1));
    assert!(d["message"]
        .as_str()
        .unwrap()
        .starts_with(&expected[0].message));
    let (line, col) = find("c->add(2)", 0, 7);
    assert_eq!(d["range"], range(line, col, col + 5));
    // Fixed: the diagnostics are cleared.
    assert_eq!(c.change(2, FIXTURE), json!([]));
    // A syntax error is reported with its own code.
    let half = FIXTURE.replace("println(sum);", "println(sum)");
    let got = c.change(3, &half);
    assert_eq!(
        got[0]["code"],
        json!(ftc_frontend::check_source(&half).diagnostics[0].code)
    );
    // Closing clears them.
    c.notify(
        "textDocument/didClose",
        json!({ "textDocument": { "uri": URI } }),
    );
    assert_eq!(c.diagnostics(), json!([]));
    c.stop();
}

#[test]
fn hover_shows_types_signatures_and_contracts() {
    let mut c = Client::start();
    assert_eq!(c.open(FIXTURE), json!([]));
    let (line, col) = find("total += n", 0, 2);
    let hover = c.at("textDocument/hover", line, col);
    assert_eq!(
        hover,
        json!({
            "contents": { "kind": "markdown",
                "value": "```cmsl\nint total\n```\nprivate state variable of `counter`" },
            "range": range(line, col - 2, col + 3)
        })
    );
    let (line, col) = find("add(2)", 0, 1);
    let hover = c.at("textDocument/hover", line, col);
    assert_eq!(
        hover["contents"]["value"],
        json!("```cmsl\nint counter::add (int n)\n  requires n > 0\n```\npublic method of server class `counter`: a command clients send to its replicas")
    );
    let (line, col) = find("counter c", 0, 0);
    let hover = c.at("textDocument/hover", line, col);
    assert_eq!(
        hover["contents"]["value"],
        json!("```cmsl\nserver class counter\n```\n1 state variables, 1 methods")
    );
    // Expressions that name no symbol show their type.
    let (line, col) = find("println", 0, 2);
    assert_eq!(
        c.at("textDocument/hover", line, col)["contents"]["value"],
        json!("```cmsl\nvoid\n```\nbuilt-in function `println`")
    );
    let (line, col) = find("(2)", 0, 1);
    assert_eq!(
        c.at("textDocument/hover", line, col),
        json!({
            "contents": { "kind": "markdown", "value": "```cmsl\nint\n```" },
            "range": range(line, col, col + 1)
        })
    );
    // White space has nothing to show.
    assert_eq!(c.at("textDocument/hover", 0, 0), Value::Null);
    c.stop();
}

#[test]
fn definition_and_references() {
    let mut c = Client::start();
    c.open(FIXTURE);
    let (line, col) = find("println(sum)", 0, 8);
    let (dl, dc) = find("sum =", 0, 0);
    assert_eq!(
        c.at("textDocument/definition", line, col),
        json!({ "uri": URI, "range": range(dl, dc, dc + 3) })
    );
    let (line, col) = find("total;", 1, 0);
    let refs = c.at("textDocument/references", line, col);
    let lines: Vec<u64> = refs
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["range"]["start"]["line"].as_u64().unwrap())
        .collect();
    assert_eq!(lines, [6, 10, 11]);
    // The class is referred to by its declaration, its definition's `counter::`,
    // the variable's type and the `server` expression.
    let refs = c.at("textDocument/references", 1, 14);
    assert_eq!(refs.as_array().unwrap().len(), 4);
    c.stop();
}

#[test]
fn completion_of_members_and_server_properties() {
    let mut c = Client::start();
    c.open(FIXTURE);
    let labels = |v: Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|i| i["label"].as_str().unwrap().to_string())
            .collect()
    };
    // Half-typed `c->`: a syntax error, answered from the last version that parsed.
    let typing = FIXTURE.replace("println(sum);", "println(sum);\n  c->");
    assert_ne!(c.change(2, &typing), json!([]));
    let (line, _) = find("println(sum)", 0, 0);
    let items = c.at("textDocument/completion", line + 1, 5);
    // A client sees a server's public methods, never its state.
    assert_eq!(labels(items.clone()), ["add"]);
    assert_eq!(items[0]["detail"], json!("int counter::add (int n)"));
    // Inside the class, `this->` offers private state too.
    let (line, col) = find("total += n", 0, 0);
    let inside = FIXTURE.replace("total += n;", "this->total += n;");
    c.change(3, &inside);
    assert_eq!(
        labels(c.at("textDocument/completion", line, col + 6)),
        ["total", "add"]
    );
    // Chains of members, indexes and calls: the result of `c->add(1)` is an
    // `int`, which has no members; a list's element has its class's.
    let chained = FIXTURE.replace("println(sum);", "println(sum);\n  c->add(1)->");
    c.change(4, &chained);
    let (line, _) = find("println(sum)", 0, 0);
    assert_eq!(c.at("textDocument/completion", line + 1, 14), json!([]));
    // A map's element: `data->get(k)->` inside the key-value store.
    let kv = include_str!("../../frontend/tests/data/ok/kvstore.cmsl");
    let anchor = "    e = data->get(k);\n";
    let typing = kv.replacen(anchor, &format!("{anchor}    data->get(k)->\n"), 1);
    let line = typing[..typing.find(anchor).unwrap()].matches('\n').count() as u32 + 1;
    assert_eq!(c.change(5, kv), json!([]));
    c.change(6, &typing);
    assert_eq!(
        labels(c.at("textDocument/completion", line, 18)),
        ["key", "value", "version"]
    );
    // Properties of a `server` expression, and the models after `model`.
    let (line, col) = find("model crash", 0, 0);
    c.change(7, FIXTURE);
    assert_eq!(
        labels(c.at("textDocument/completion", line, col)),
        ["model", "tolerate", "replicas", "priority", "hosts", "disjoint", "durable"]
    );
    assert_eq!(
        labels(c.at("textDocument/completion", line, col + 6)),
        ["correct", "crash", "byzantine"]
    );
    c.stop();
}

#[test]
fn document_symbols_outline_the_program() {
    let mut c = Client::start();
    c.open(FIXTURE);
    let symbols = c.request(
        "textDocument/documentSymbol",
        json!({ "textDocument": { "uri": URI } }),
    );
    let outline: Vec<(String, u64)> = symbols
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap().into(),
                s["kind"].as_u64().unwrap(),
            )
        })
        .collect();
    // Class 5, method 6, function 12.
    assert_eq!(
        outline,
        [
            ("counter".into(), 5),
            ("add".into(), 6),
            ("main".into(), 12)
        ]
    );
    let members: Vec<&str> = symbols[0]["children"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(members, ["add", "total"]);
    c.stop();
}

#[test]
fn rapid_changes_end_with_the_last_text() {
    let mut c = Client::start();
    c.open(FIXTURE);
    let broken = FIXTURE.replace("c->add(2)", "c->add(\"two\")");
    for version in 2..40 {
        let text = if version % 2 == 0 { &broken } else { FIXTURE };
        c.notify(
            "textDocument/didChange",
            json!({
                "textDocument": { "uri": URI, "version": version },
                "contentChanges": [{ "text": text }]
            }),
        );
    }
    // Answered after every change before it: the last text (version 39, clean).
    c.next_id += 1;
    let id = RequestId::from(c.next_id);
    let hover =
        json!({ "textDocument": { "uri": URI }, "position": { "line": 0, "character": 0 } });
    let r = Request::new(id.clone(), "textDocument/hover".into(), hover);
    c.connection.sender.send(Message::Request(r)).unwrap();
    let mut published = Vec::new();
    loop {
        match c.connection.receiver.recv_timeout(WAIT).expect("an answer") {
            Message::Response(resp) if resp.id == id => break,
            Message::Notification(n) => published.push(n.params["diagnostics"].clone()),
            _ => {}
        }
    }
    eprintln!("{} of 38 changes checked", published.len());
    assert!(
        !published.is_empty() && published.len() <= 38,
        "{}",
        published.len()
    );
    assert_eq!(published.last().unwrap(), &json!([]));
    c.stop();
}

#[test]
fn bad_requests_are_answered_with_errors() {
    let mut c = Client::start();
    c.next_id += 1;
    let id = RequestId::from(c.next_id);
    let r = Request::new(
        id.clone(),
        "textDocument/hover".into(),
        json!({ "nonsense": 1 }),
    );
    c.connection.sender.send(Message::Request(r)).unwrap();
    match c.connection.receiver.recv_timeout(WAIT).unwrap() {
        Message::Response(resp) => {
            assert_eq!(resp.id, id);
            assert_eq!(resp.error.unwrap().code, -32602);
        }
        other => panic!("unexpected {other:?}"),
    }
    // An unknown document has nothing to show.
    assert_eq!(c.at("textDocument/hover", 0, 0), Value::Null);
    c.stop();
}

/// A measurement, not an assertion: how long a keystroke on a 10,000-line
/// program takes until its diagnostics arrive (printed with `--nocapture`).
#[test]
fn keystroke_on_a_ten_thousand_line_file() {
    let mut program = String::new();
    let mut lines = 0;
    let mut i = 0;
    while lines < 10_000 {
        program += &format!(
            "int f{i} (int x) {{\n  int y = x * 2;\n  if (y > 10) {{ y = y - 1; }}\n  return y + {i};\n}}\n"
        );
        lines += 5;
        i += 1;
    }
    program += "void main () {\n  println(f1(2));\n}\n";
    let c = Client::start();
    assert_eq!(c.open(&program), json!([]));
    let edited = program.replacen("x * 2", "x * 3", 1);
    let start = Instant::now();
    assert_eq!(c.change(2, &edited), json!([]));
    let elapsed = start.elapsed();
    eprintln!(
        "keystroke on a {}-line file: {:.1} ms until diagnostics",
        edited.lines().count(),
        elapsed.as_secs_f64() * 1000.0
    );
    c.stop();
}

/// Every request at the start, middle or end of every line of every fixture
/// (broken ones included) is answered, never with an error, and the
/// diagnostics are exactly `ftc check`'s.
#[test]
fn every_fixture_is_answered_everywhere() {
    let mut c = Client::start();
    let files = common::fixtures();
    assert!(files.len() > 100, "only {} fixtures", files.len());
    let mut requests = 0;
    for (version, path) in files.iter().enumerate() {
        let bytes = std::fs::read(path).unwrap();
        // An editor sends text; a file that is not UTF-8 arrives decoded.
        let text = String::from_utf8_lossy(&bytes);
        let output = ftc_frontend::check_source(&text);
        let got = c.change(version as i32 + 1, &text);
        assert_eq!(
            got.as_array().unwrap().len(),
            output.diagnostics.len(),
            "{}",
            path.display()
        );
        for (d, g) in output.diagnostics.iter().zip(got.as_array().unwrap()) {
            assert_eq!(g["code"], json!(d.code), "{}", path.display());
        }
        for (line, content) in text.lines().enumerate().take(300) {
            let width = content.encode_utf16().count() as u32;
            // The start, middle or end of the line, in turn.
            let column = [0, width / 2, width][line % 3];
            {
                for method in [
                    "textDocument/hover",
                    "textDocument/definition",
                    "textDocument/references",
                    "textDocument/completion",
                ] {
                    c.at(method, line as u32, column);
                    requests += 1;
                }
            }
        }
        c.request(
            "textDocument/documentSymbol",
            json!({ "textDocument": { "uri": URI } }),
        );
    }
    assert!(requests > 5_000, "only {requests} requests");
    c.stop();
}
