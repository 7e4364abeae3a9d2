//! The client-history model and its JSON Lines form (`HISTORY-FORMAT.md`).
//!
//! One [`Operation`] per line. `fail` operations were guaranteed not to take
//! effect and are ignored by the checker; `info` operations have an unknown
//! outcome and stay open until the end of the history.

use std::io::{BufRead, Write};

use serde::{Deserialize, Serialize};

/// What a key-value operation does (`f` in the JSON form).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OpKind {
    /// Reads a key; `out` is the value seen (`None`: the key was absent).
    Get,
    /// Sets a key to `value`.
    Put,
    /// Appends `value` to a key (an absent key counts as empty).
    Append,
    /// Sets a key to `to` if it holds `from`.
    Cas,
}

/// How an operation ended (`type` in the JSON form).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OpStatus {
    /// Completed; its output was observed.
    Ok,
    /// Guaranteed not to have taken effect.
    Fail,
    /// Outcome unknown: it may or may not have taken effect.
    Info,
}

/// One operation a client performed, with its call and return times.
///
/// ```
/// use ftc_judge::{OpKind, OpStatus, Operation};
/// let op = Operation::put(0, "x", "1", 0, Some(10));
/// assert_eq!(op.kind, OpKind::Put);
/// assert_eq!(op.status, OpStatus::Ok);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Operation {
    /// The client (process) that issued the operation.
    pub client: u64,
    /// What the operation does.
    #[serde(rename = "f")]
    pub kind: OpKind,
    /// The key it acts on.
    pub key: String,
    /// The `put`/`append` argument.
    #[serde(default)]
    pub value: Option<String>,
    /// The value a `cas` expects.
    #[serde(default)]
    pub from: Option<String>,
    /// The value a `cas` installs.
    #[serde(default)]
    pub to: Option<String>,
    /// What a `get` returned (`None`: key absent).
    #[serde(default)]
    pub out: Option<String>,
    /// When the client issued it.
    pub call: u64,
    /// When the client accepted the result; `None` for `info`.
    #[serde(default)]
    pub ret: Option<u64>,
    /// How it ended.
    #[serde(rename = "type")]
    pub status: OpStatus,
    /// `Some(false)`: the cas ran and its comparison failed.
    #[serde(default)]
    pub cas_ok: Option<bool>,
}

impl Operation {
    fn base(client: u64, kind: OpKind, key: &str, call: u64, ret: Option<u64>) -> Self {
        Operation {
            client,
            kind,
            key: key.to_string(),
            value: None,
            from: None,
            to: None,
            out: None,
            call,
            ret,
            status: if ret.is_some() {
                OpStatus::Ok
            } else {
                OpStatus::Info
            },
            cas_ok: None,
        }
    }

    /// A `get` that returned `out` (`ret: None` makes it `info`).
    ///
    /// ```
    /// let op = ftc_judge::Operation::get(1, "x", None, 10, Some(20));
    /// assert_eq!(op.out, None);
    /// ```
    pub fn get(client: u64, key: &str, out: Option<&str>, call: u64, ret: Option<u64>) -> Self {
        Operation {
            out: out.map(str::to_string),
            ..Self::base(client, OpKind::Get, key, call, ret)
        }
    }

    /// A `put` of `value` (`ret: None` makes it `info`).
    ///
    /// ```
    /// let op = ftc_judge::Operation::put(0, "x", "1", 0, None);
    /// assert_eq!(op.status, ftc_judge::OpStatus::Info);
    /// ```
    pub fn put(client: u64, key: &str, value: &str, call: u64, ret: Option<u64>) -> Self {
        Operation {
            value: Some(value.to_string()),
            ..Self::base(client, OpKind::Put, key, call, ret)
        }
    }

    /// An `append` of `value` (`ret: None` makes it `info`).
    ///
    /// ```
    /// let op = ftc_judge::Operation::append(2, "y", "a;", 70, Some(80));
    /// assert_eq!(op.value.as_deref(), Some("a;"));
    /// ```
    pub fn append(client: u64, key: &str, value: &str, call: u64, ret: Option<u64>) -> Self {
        Operation {
            value: Some(value.to_string()),
            ..Self::base(client, OpKind::Append, key, call, ret)
        }
    }

    /// A `cas` from `from` to `to`; `cas_ok: Some(false)` if its comparison
    /// failed (`ret: None` makes it `info`).
    ///
    /// ```
    /// let op = ftc_judge::Operation::cas(3, "x", "7", "9", Some(false), 61, Some(65));
    /// assert_eq!(op.cas_ok, Some(false));
    /// ```
    pub fn cas(
        client: u64,
        key: &str,
        from: &str,
        to: &str,
        cas_ok: Option<bool>,
        call: u64,
        ret: Option<u64>,
    ) -> Self {
        Operation {
            from: Some(from.to_string()),
            to: Some(to.to_string()),
            cas_ok,
            ..Self::base(client, OpKind::Cas, key, call, ret)
        }
    }

    /// Checks the fields this operation's kind and status require; the
    /// message names the field.
    ///
    /// ```
    /// let mut op = ftc_judge::Operation::put(0, "x", "1", 5, Some(10));
    /// assert!(op.validate().is_ok());
    /// op.ret = Some(4);
    /// assert!(op.validate().is_err());
    /// ```
    pub fn validate(&self) -> Result<(), String> {
        match self.kind {
            OpKind::Put | OpKind::Append if self.value.is_none() => {
                return Err(format!("`{}` needs a `value`", self.kind.name()));
            }
            OpKind::Cas if self.from.is_none() || self.to.is_none() => {
                return Err("`cas` needs `from` and `to`".to_string());
            }
            _ => {}
        }
        if self.cas_ok.is_some() && self.kind != OpKind::Cas {
            return Err("`cas_ok` is only meaningful on a `cas`".to_string());
        }
        match (self.status, self.ret) {
            (OpStatus::Ok | OpStatus::Fail, None) => {
                Err("an `ok` or `fail` operation needs a `ret` time".to_string())
            }
            (_, Some(ret)) if ret < self.call => {
                Err(format!("`ret` ({ret}) is before `call` ({})", self.call))
            }
            _ => Ok(()),
        }
    }
}

impl OpKind {
    /// The name used in the JSON form (`get`, `put`, `append`, `cas`).
    ///
    /// ```
    /// assert_eq!(ftc_judge::OpKind::Cas.name(), "cas");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            OpKind::Get => "get",
            OpKind::Put => "put",
            OpKind::Append => "append",
            OpKind::Cas => "cas",
        }
    }
}

/// The JSON shape of one line: `out` is written (possibly as `null`) for a
/// `get`, `ret` always, the other optional fields only when present.
#[derive(Serialize)]
struct OperationLine<'a> {
    client: u64,
    f: OpKind,
    key: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    value: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    from: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    to: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    out: Option<Option<&'a str>>,
    call: u64,
    ret: Option<u64>,
    #[serde(rename = "type")]
    status: OpStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    cas_ok: Option<bool>,
}

impl Serialize for Operation {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let out = if self.kind == OpKind::Get || self.out.is_some() {
            Some(self.out.as_deref())
        } else {
            None
        };
        OperationLine {
            client: self.client,
            f: self.kind,
            key: &self.key,
            value: self.value.as_deref(),
            from: self.from.as_deref(),
            to: self.to.as_deref(),
            out,
            call: self.call,
            ret: self.ret,
            status: self.status,
            cas_ok: self.cas_ok,
        }
        .serialize(serializer)
    }
}

/// Why a history could not be read.
///
/// ```
/// let error = ftc_judge::read_jsonl("\n{\"client\":1}\n".as_bytes()).unwrap_err();
/// assert!(matches!(error, ftc_judge::HistoryError::Malformed { line: 2, .. }));
/// assert!(error.to_string().starts_with("line 2: "));
/// ```
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    /// The input could not be read.
    #[error("cannot read the history: {0}")]
    Io(#[from] std::io::Error),
    /// A line is not a well-formed operation.
    #[error("line {line}: {message}")]
    Malformed {
        /// 1-based line number.
        line: usize,
        /// What is wrong with it.
        message: String,
    },
}

/// Writes `ops` as JSON Lines, one operation per line.
///
/// ```
/// let ops = vec![ftc_judge::Operation::get(1, "x", None, 10, Some(20))];
/// let mut text = Vec::new();
/// ftc_judge::write_jsonl(&ops, &mut text).unwrap();
/// assert_eq!(
///     String::from_utf8(text).unwrap(),
///     "{\"client\":1,\"f\":\"get\",\"key\":\"x\",\"out\":null,\"call\":10,\"ret\":20,\"type\":\"ok\"}\n"
/// );
/// ```
pub fn write_jsonl(ops: &[Operation], w: &mut impl Write) -> std::io::Result<()> {
    for op in ops {
        serde_json::to_writer(&mut *w, op)?;
        w.write_all(b"\n")?;
    }
    Ok(())
}

/// Reads a JSON Lines history; blank lines are skipped. Every operation is
/// checked with [`Operation::validate`]; errors carry the 1-based line number.
///
/// ```
/// let text = "{\"client\":0,\"f\":\"put\",\"key\":\"x\",\"value\":\"1\",\"call\":0,\"ret\":null,\"type\":\"info\"}\n";
/// let ops = ftc_judge::read_jsonl(text.as_bytes()).unwrap();
/// assert_eq!(ops[0].status, ftc_judge::OpStatus::Info);
/// assert!(ftc_judge::read_jsonl("{".as_bytes()).is_err());
/// ```
pub fn read_jsonl(r: impl BufRead) -> Result<Vec<Operation>, HistoryError> {
    let mut ops = Vec::new();
    for (index, line) in r.lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let malformed = |message: String| HistoryError::Malformed {
            line: index + 1,
            message,
        };
        let op: Operation = serde_json::from_str(&line).map_err(|e| malformed(e.to_string()))?;
        op.validate().map_err(malformed)?;
        ops.push(op);
    }
    Ok(ops)
}
