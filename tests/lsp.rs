//! `ftc lsp` over stdio, driven like an editor: the handshake, a file with an
//! error and its diagnostic at the right line, hover, definition, completion,
//! and a clean exit.

use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant};

/// A wait that ends is a failure, not a timing.
const WAIT: Duration = Duration::from_secs(120);
const URI: &str = "file:///tmp/editor.cmsl";
const PROGRAM: &str = "server class counter {
  public:
    int add (int n) { total += n; return total; }
  private:
    attribute int total;
}

void main () {
  counter c = server counter model crash tolerate (1);
  int sum = c->add(true);
  println(sum);
}
";

struct Editor {
    child: Child,
    stdin: ChildStdin,
    messages: Receiver<Value>,
    next_id: u64,
}

/// Reads `Content-Length`-framed JSON messages until the stream ends.
fn read_messages(stdout: impl Read, sender: std::sync::mpsc::Sender<Value>) {
    let mut reader = BufReader::new(stdout);
    loop {
        let mut length = None;
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).unwrap_or(0) == 0 {
                return;
            }
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some(n) = header.strip_prefix("Content-Length: ") {
                length = n.parse::<usize>().ok();
            }
        }
        let mut body = vec![0; length.expect("a Content-Length header")];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let value = serde_json::from_slice(&body).expect("JSON body");
        if sender.send(value).is_err() {
            return;
        }
    }
}

impl Editor {
    fn start() -> Editor {
        let mut child = Command::new(env!("CARGO_BIN_EXE_ftc"))
            .arg("lsp")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("ftc lsp starts");
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (sender, messages) = channel();
        std::thread::spawn(move || read_messages(stdout, sender));
        Editor {
            child,
            stdin,
            messages,
            next_id: 0,
        }
    }

    fn send(&mut self, message: Value) {
        let body = message.to_string();
        write!(self.stdin, "Content-Length: {}\r\n\r\n{body}", body.len()).unwrap();
        self.stdin.flush().unwrap();
    }

    fn notify(&mut self, method: &str, params: Value) {
        self.send(json!({ "jsonrpc": "2.0", "method": method, "params": params }));
    }

    fn request(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        self.send(json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params }));
        loop {
            let m = self.messages.recv_timeout(WAIT).expect("an answer");
            if m["id"] == json!(id) {
                assert!(m["error"].is_null(), "{method}: {m}");
                return m["result"].clone();
            }
        }
    }

    fn notification(&mut self, method: &str) -> Value {
        loop {
            let m = self.messages.recv_timeout(WAIT).expect("a notification");
            if m["method"] == json!(method) {
                return m["params"].clone();
            }
        }
    }

    fn at(&mut self, method: &str, line: u32, character: u32) -> Value {
        self.request(
            method,
            json!({ "textDocument": { "uri": URI },
                    "position": { "line": line, "character": character } }),
        )
    }
}

#[test]
fn an_editor_session_over_stdio() {
    let mut e = Editor::start();
    let init = e.request(
        "initialize",
        json!({ "processId": null, "capabilities": {} }),
    );
    assert_eq!(init["capabilities"]["definitionProvider"], json!(true));
    e.notify("initialized", json!({}));
    e.notify(
        "textDocument/didOpen",
        json!({ "textDocument": { "uri": URI, "languageId": "cmsl", "version": 1, "text": PROGRAM } }),
    );
    let published = e.notification("textDocument/publishDiagnostics");
    let diagnostics = published["diagnostics"].as_array().unwrap();
    assert_eq!(diagnostics.len(), 1, "{published}");
    // `c->add(true)`: line 10 (9 from zero), the argument at column 19.
    assert_eq!(
        diagnostics[0]["range"]["start"],
        json!({ "line": 9, "character": 19 })
    );
    assert_eq!(diagnostics[0]["code"].as_str().unwrap().len(), 5);
    // Hover over `total` in `total += n`.
    let hover = e.at("textDocument/hover", 2, 24);
    assert_eq!(
        hover["contents"]["value"],
        json!("```cmsl\nint total\n```\nprivate state variable of `counter`")
    );
    // `sum` in `println(sum)` is declared on line 10.
    let definition = e.at("textDocument/definition", 10, 11);
    assert_eq!(
        definition["range"]["start"],
        json!({ "line": 9, "character": 6 })
    );
    // Completion after `c->` on a new line.
    let typing = PROGRAM.replace("println(sum);", "println(sum);\n  c->");
    e.notify(
        "textDocument/didChange",
        json!({ "textDocument": { "uri": URI, "version": 2 }, "contentChanges": [{ "text": typing }] }),
    );
    e.notification("textDocument/publishDiagnostics");
    let items = e.at("textDocument/completion", 11, 5);
    assert_eq!(items[0]["label"], json!("add"));
    assert_eq!(items.as_array().unwrap().len(), 1);
    e.request("shutdown", Value::Null);
    e.notify("exit", Value::Null);
    let deadline = Instant::now() + WAIT;
    let status = loop {
        if let Some(status) = e.child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "ftc lsp did not exit");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status}");
}
