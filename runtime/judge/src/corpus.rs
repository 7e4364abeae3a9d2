//! Parsers for the calibration corpus: Jepsen etcd register logs and the
//! EDN-like key-value histories, turned into timed operations.
//!
//! Neither format carries timestamps; the line number is the time, which
//! preserves the real-time order Jepsen recorded.

use std::collections::HashMap;

use crate::check::{check_object, Outcome, Timed};
use crate::history::{HistoryError, OpKind, OpStatus, Operation};
use crate::spec::{CasOutcome, RegisterCall, RegisterSpec};

/// One operation from a Jepsen etcd log, on the single register.
///
/// ```
/// use ftc_judge::corpus::parse_etcd_log;
/// let log = "INFO  jepsen.util - 0\t:invoke\t:write\t4\nINFO  jepsen.util - 0\t:ok\t:write\t4\n";
/// let ops = parse_etcd_log(log).unwrap();
/// assert_eq!((ops[0].call, ops[0].ret), (0, Some(1)));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisterOperation {
    /// The Jepsen process.
    pub process: u64,
    /// Line of the `:invoke` (0-based).
    pub call: u64,
    /// Line of the `:ok`/`:fail`; `None` for `:info` or no completion.
    pub ret: Option<u64>,
    /// How it ended.
    pub status: OpStatus,
    /// The operation; a cas is `Swapped` here, whatever its status.
    pub op: RegisterCall,
}

fn malformed(line: usize, message: impl Into<String>) -> HistoryError {
    HistoryError::Malformed {
        line: line + 1,
        message: message.into(),
    }
}

fn parse_status(word: &str, line: usize) -> Result<Option<OpStatus>, HistoryError> {
    match word {
        ":invoke" => Ok(None),
        ":ok" => Ok(Some(OpStatus::Ok)),
        ":fail" => Ok(Some(OpStatus::Fail)),
        ":info" => Ok(Some(OpStatus::Info)),
        other => Err(malformed(line, format!("unknown status `{other}`"))),
    }
}

fn parse_register_value(word: &str, line: usize) -> Result<Option<u64>, HistoryError> {
    if word == "nil" {
        return Ok(None);
    }
    word.parse()
        .map(Some)
        .map_err(|_| malformed(line, format!("expected an integer or nil, found `{word}`")))
}

/// Parses the invoked operation of an etcd log line: `f` and its argument.
fn parse_register_call(f: &str, arg: &str, line: usize) -> Result<RegisterCall, HistoryError> {
    match f {
        ":read" => Ok(RegisterCall::Read { out: None }),
        ":write" => match parse_register_value(arg, line)? {
            Some(value) => Ok(RegisterCall::Write { value }),
            None => Err(malformed(line, "a write needs a value")),
        },
        ":cas" => {
            let inner = arg
                .strip_prefix('[')
                .and_then(|rest| rest.strip_suffix(']'))
                .ok_or_else(|| malformed(line, format!("expected `[old new]`, found `{arg}`")))?;
            let mut values = inner.split_whitespace();
            match (values.next(), values.next(), values.next()) {
                (Some(from), Some(to), None) => Ok(RegisterCall::Cas {
                    from: parse_register_value(from, line)?
                        .ok_or_else(|| malformed(line, "cas from nil"))?,
                    to: parse_register_value(to, line)?
                        .ok_or_else(|| malformed(line, "cas to nil"))?,
                    outcome: CasOutcome::Swapped,
                }),
                _ => Err(malformed(
                    line,
                    format!("expected `[old new]`, found `{arg}`"),
                )),
            }
        }
        other => Err(malformed(line, format!("unknown operation `{other}`"))),
    }
}

/// Parses a Jepsen etcd log (`INFO jepsen.util - <process> :invoke|:ok|:fail|:info
/// :read|:write|:cas <value>`), pairing each completion with its process's
/// invocation. Lines of other loggers and of the nemesis are skipped; an
/// invocation never completed counts as `:info`.
///
/// ```
/// use ftc_judge::corpus::parse_etcd_log;
/// use ftc_judge::OpStatus;
/// let log = "INFO  jepsen.util - 1\t:invoke\t:cas\t[3 0]\nINFO  jepsen.util - 1\t:info\t:cas\t:timed-out\n";
/// let ops = parse_etcd_log(log).unwrap();
/// assert_eq!(ops[0].status, OpStatus::Info);
/// assert!(parse_etcd_log("INFO  jepsen.util - 1\t:ok\t:read\t3\n").is_err());
/// ```
pub fn parse_etcd_log(text: &str) -> Result<Vec<RegisterOperation>, HistoryError> {
    let mut ops: Vec<RegisterOperation> = Vec::new();
    let mut pending: HashMap<u64, usize> = HashMap::new();
    for (line, content) in text.lines().enumerate() {
        let words: Vec<&str> = content.split_whitespace().collect();
        let Some(at) = words.iter().position(|w| *w == "jepsen.util") else {
            continue;
        };
        let words = &words[at + 1..];
        if words.first() == Some(&"-") && words.len() >= 2 && words[1].starts_with(':') {
            continue; // the nemesis, not a client
        }
        if words.len() < 5 || words[0] != "-" {
            return Err(malformed(line, "expected `- <process> <type> <f> <value>`"));
        }
        let process: u64 = words[1]
            .parse()
            .map_err(|_| malformed(line, format!("bad process `{}`", words[1])))?;
        let status = parse_status(words[2], line)?;
        let f = words[3];
        let arg = words[4..].join(" ");
        let time = line as u64;
        match status {
            None => {
                if pending.contains_key(&process) {
                    return Err(malformed(
                        line,
                        format!("process {process} invokes while an operation is open"),
                    ));
                }
                let op = parse_register_call(f, &arg, line)?;
                pending.insert(process, ops.len());
                ops.push(RegisterOperation {
                    process,
                    call: time,
                    ret: None,
                    status: OpStatus::Info,
                    op,
                });
            }
            Some(status) => {
                let index = pending.remove(&process).ok_or_else(|| {
                    malformed(line, format!("process {process} completes nothing"))
                })?;
                let op = &mut ops[index];
                let same_f = matches!(
                    (f, op.op),
                    (":read", RegisterCall::Read { .. })
                        | (":write", RegisterCall::Write { .. })
                        | (":cas", RegisterCall::Cas { .. })
                );
                if !same_f {
                    return Err(malformed(
                        line,
                        format!("`{f}` completes another operation"),
                    ));
                }
                op.status = status;
                if status != OpStatus::Info {
                    op.ret = Some(time);
                }
                if let (OpStatus::Ok, RegisterCall::Read { out }) = (status, &mut op.op) {
                    *out = parse_register_value(&arg, line)?;
                }
            }
        }
    }
    Ok(ops)
}

/// The checker's form of a register history: `:fail` reads and writes are
/// dropped (not applied); a `:fail` cas is one whose comparison failed (the
/// etcd client reports a failed comparison as `:fail`); `:info` operations
/// stay open to the end, and `:info` reads are dropped.
///
/// ```
/// use ftc_judge::corpus::{parse_etcd_log, register_calls};
/// let log = "INFO  jepsen.util - 0\t:invoke\t:read\tnil\nINFO  jepsen.util - 0\t:fail\t:read\t:timed-out\n";
/// assert!(register_calls(&parse_etcd_log(log).unwrap()).is_empty());
/// ```
pub fn register_calls(ops: &[RegisterOperation]) -> Vec<Timed<RegisterCall>> {
    ops.iter()
        .filter_map(|op| {
            let call = match (op.status, op.op) {
                (OpStatus::Ok, call) => call,
                (OpStatus::Fail, RegisterCall::Cas { from, to, .. }) => RegisterCall::Cas {
                    from,
                    to,
                    outcome: CasOutcome::CompareFailed,
                },
                (OpStatus::Fail, _) | (OpStatus::Info, RegisterCall::Read { .. }) => return None,
                (OpStatus::Info, RegisterCall::Cas { from, to, .. }) => RegisterCall::Cas {
                    from,
                    to,
                    outcome: CasOutcome::Unknown,
                },
                (OpStatus::Info, call) => call,
            };
            let ret = if op.status == OpStatus::Info {
                None
            } else {
                op.ret
            };
            Some(Timed {
                call: op.call,
                ret,
                op: call,
            })
        })
        .collect()
}

/// Checks a register history with the todc-utils WGL checker.
///
/// ```
/// use std::time::Duration;
/// use ftc_judge::corpus::{check_register, parse_etcd_log};
/// let log = "INFO  jepsen.util - 0\t:invoke\t:read\tnil\nINFO  jepsen.util - 0\t:ok\t:read\t3\n";
/// let ops = parse_etcd_log(log).unwrap();
/// assert_eq!(check_register(&ops, Duration::from_secs(5)), ftc_judge::Outcome::NotLinearizable);
/// ```
pub fn check_register(ops: &[RegisterOperation], budget: std::time::Duration) -> Outcome {
    check_object::<RegisterSpec>(&register_calls(ops), budget)
}

/// A value of the EDN subset the key-value histories use.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Edn {
    Keyword(String),
    Str(String),
    Int(i64),
    Nil,
}

/// Parses one `{:k v, ...}` map of keywords to keywords, strings, integers
/// or nil.
fn parse_edn_map(text: &str, line: usize) -> Result<Vec<(String, Edn)>, HistoryError> {
    let body = text
        .trim()
        .strip_prefix('{')
        .and_then(|rest| rest.strip_suffix('}'))
        .ok_or_else(|| malformed(line, "expected a `{...}` map"))?;
    let mut atoms = Vec::new();
    let mut chars = body.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() || c == ',' {
            chars.next();
        } else if c == '"' {
            chars.next();
            let mut s = String::new();
            loop {
                match chars.next() {
                    None => return Err(malformed(line, "unterminated string")),
                    Some('"') => break,
                    Some('\\') => match chars.next() {
                        Some('n') => s.push('\n'),
                        Some('t') => s.push('\t'),
                        Some(other) => s.push(other),
                        None => return Err(malformed(line, "unterminated string")),
                    },
                    Some(other) => s.push(other),
                }
            }
            atoms.push(Edn::Str(s));
        } else {
            let mut word = String::new();
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() || c == ',' || c == '"' {
                    break;
                }
                word.push(c);
                chars.next();
            }
            atoms.push(if let Some(keyword) = word.strip_prefix(':') {
                Edn::Keyword(keyword.to_string())
            } else if word == "nil" {
                Edn::Nil
            } else {
                Edn::Int(
                    word.parse()
                        .map_err(|_| malformed(line, format!("unexpected `{word}`")))?,
                )
            });
        }
    }
    if atoms.len() % 2 != 0 {
        return Err(malformed(line, "a map needs key-value pairs"));
    }
    let mut pairs = Vec::new();
    let mut atoms = atoms.into_iter();
    while let (Some(key), Some(value)) = (atoms.next(), atoms.next()) {
        match key {
            Edn::Keyword(key) => pairs.push((key, value)),
            other => {
                return Err(malformed(
                    line,
                    format!("map key {other:?} is not a keyword"),
                ))
            }
        }
    }
    Ok(pairs)
}

/// Parses an EDN-like key-value history (`{:process 0, :type :invoke, :f
/// :append, :key "0", :value "x 0 0 y"}` per line) into operations; the line
/// number is the time. These histories come from a model in which a missing
/// key reads as `""`, so a `get` returning `""` becomes `out: None` (absent);
/// none of them writes `""`.
///
/// ```
/// use ftc_judge::corpus::parse_kv_edn;
/// let text = "{:process 0, :type :invoke, :f :get, :key \"5\", :value nil}\n\
///             {:process 0, :type :ok, :f :get, :key \"5\", :value \"\"}\n";
/// let ops = parse_kv_edn(text).unwrap();
/// assert_eq!((ops[0].out.clone(), ops[0].call, ops[0].ret), (None, 0, Some(1)));
/// ```
pub fn parse_kv_edn(text: &str) -> Result<Vec<Operation>, HistoryError> {
    let mut ops: Vec<Operation> = Vec::new();
    let mut pending: HashMap<i64, usize> = HashMap::new();
    for (line, content) in text.lines().enumerate() {
        if content.trim().is_empty() {
            continue;
        }
        let pairs = parse_edn_map(content, line)?;
        let field = |name: &str| pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v);
        let keyword = |name: &str| match field(name) {
            Some(Edn::Keyword(k)) => Ok(k.as_str()),
            _ => Err(malformed(line, format!("`:{name}` must be a keyword"))),
        };
        let string = |name: &str| match field(name) {
            Some(Edn::Str(s)) => Ok(Some(s.clone())),
            Some(Edn::Nil) | None => Ok(None),
            _ => Err(malformed(
                line,
                format!("`:{name}` must be a string or nil"),
            )),
        };
        let process = match field("process") {
            Some(Edn::Int(p)) => *p,
            _ => return Err(malformed(line, "`:process` must be an integer")),
        };
        let kind = match keyword("f")? {
            "get" => OpKind::Get,
            "put" => OpKind::Put,
            "append" => OpKind::Append,
            other => return Err(malformed(line, format!("unknown operation `:{other}`"))),
        };
        let key = string("key")?.ok_or_else(|| malformed(line, "`:key` missing"))?;
        let value = string("value")?;
        let time = line as u64;
        let status = match keyword("type")? {
            "invoke" => None,
            "ok" => Some(OpStatus::Ok),
            "fail" => Some(OpStatus::Fail),
            "info" => Some(OpStatus::Info),
            other => return Err(malformed(line, format!("unknown type `:{other}`"))),
        };
        match status {
            None => {
                if pending.contains_key(&process) {
                    return Err(malformed(
                        line,
                        format!("process {process} invokes while an operation is open"),
                    ));
                }
                if kind != OpKind::Get && value.is_none() {
                    return Err(malformed(line, "a put or append needs a `:value`"));
                }
                pending.insert(process, ops.len());
                ops.push(Operation {
                    client: process.unsigned_abs(),
                    kind,
                    key,
                    value: if kind == OpKind::Get { None } else { value },
                    from: None,
                    to: None,
                    out: None,
                    call: time,
                    ret: None,
                    status: OpStatus::Info,
                    cas_ok: None,
                });
            }
            Some(status) => {
                let index = pending.remove(&process).ok_or_else(|| {
                    malformed(line, format!("process {process} completes nothing"))
                })?;
                let op = &mut ops[index];
                if op.kind != kind || op.key != key {
                    return Err(malformed(line, "completes a different operation"));
                }
                op.status = status;
                if status != OpStatus::Info {
                    op.ret = Some(time);
                }
                if kind == OpKind::Get && status == OpStatus::Ok {
                    op.out = value.filter(|v| !v.is_empty());
                }
            }
        }
    }
    Ok(ops)
}
