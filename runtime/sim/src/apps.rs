//! The replicated applications the workloads run: a key-value store
//! (get/put/append/cas), a counter, and a forwarder whose commands call the
//! counter through a nested command after an application timer fires.

use crate::sim::Fnv;
use ftc_runtime::app::{
    AppFactory, AppInput, AppOutput, AppTimerId, CallOutcome, NestedCallId, RestoreError,
    StateMachine,
};
use ftc_runtime::types::{GroupId, RequestId};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::hash::Hasher;
use std::sync::atomic::{AtomicU64, Ordering};

/// Separates fields in command and reply payloads (values never contain it).
const SEP: char = '\u{1f}';

/// A key-value command, as clients send it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KvCommand {
    /// Read a key.
    Get { key: String },
    /// Set a key.
    Put { key: String, value: String },
    /// Append to a key's value (absent: empty).
    Append { key: String, value: String },
    /// Set a key to `to` if it holds `from`.
    Cas {
        key: String,
        from: String,
        to: String,
    },
}

/// A key-value reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KvReply {
    /// A `get`'s value (`None`: absent).
    Value(Option<String>),
    /// A `put` or `append` took effect.
    Done,
    /// Whether a `cas` comparison succeeded.
    Cas(bool),
    /// The command could not be decoded.
    Malformed,
}

impl KvCommand {
    /// The payload a client sends: fields separated by U+001F.
    pub fn encode(&self) -> Vec<u8> {
        let fields: Vec<&str> = match self {
            KvCommand::Get { key } => vec!["get", key],
            KvCommand::Put { key, value } => vec!["put", key, value],
            KvCommand::Append { key, value } => vec!["append", key, value],
            KvCommand::Cas { key, from, to } => vec!["cas", key, from, to],
        };
        fields.join(&SEP.to_string()).into_bytes()
    }

    /// Parses a payload; `None` if it is not a well-formed command.
    pub fn decode(payload: &[u8]) -> Option<KvCommand> {
        let text = std::str::from_utf8(payload).ok()?;
        let fields: Vec<&str> = text.split(SEP).collect();
        let s = |i: usize| fields.get(i).map(|f| f.to_string());
        Some(match (fields.first().copied()?, fields.len()) {
            ("get", 2) => KvCommand::Get { key: s(1)? },
            ("put", 3) => KvCommand::Put {
                key: s(1)?,
                value: s(2)?,
            },
            ("append", 3) => KvCommand::Append {
                key: s(1)?,
                value: s(2)?,
            },
            ("cas", 4) => KvCommand::Cas {
                key: s(1)?,
                from: s(2)?,
                to: s(3)?,
            },
            _ => return None,
        })
    }
}

impl KvReply {
    /// The payload the server replies with.
    pub fn encode(&self) -> Vec<u8> {
        match self {
            KvReply::Value(None) => "none".to_string(),
            KvReply::Value(Some(v)) => format!("val{SEP}{v}"),
            KvReply::Done => "ok".to_string(),
            KvReply::Cas(ok) => format!("cas{SEP}{ok}"),
            KvReply::Malformed => "malformed".to_string(),
        }
        .into_bytes()
    }

    /// Parses a reply payload; `None` if it is not one.
    pub fn decode(payload: &[u8]) -> Option<KvReply> {
        let text = std::str::from_utf8(payload).ok()?;
        Some(match text.split_once(SEP) {
            None if text == "none" => KvReply::Value(None),
            None if text == "ok" => KvReply::Done,
            None if text == "malformed" => KvReply::Malformed,
            Some(("val", v)) => KvReply::Value(Some(v.to_string())),
            Some(("cas", "true")) => KvReply::Cas(true),
            Some(("cas", "false")) => KvReply::Cas(false),
            _ => return None,
        })
    }
}

/// The replicated key-value store.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KvStore {
    entries: BTreeMap<String, String>,
    /// Commands applied, so the digest tells positions apart.
    applied: u64,
}

impl KvStore {
    /// The value of `key`, if set.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries.get(key).map(String::as_str)
    }

    fn execute(&mut self, command: KvCommand) -> KvReply {
        match command {
            KvCommand::Get { key } => KvReply::Value(self.entries.get(&key).cloned()),
            KvCommand::Put { key, value } => {
                self.entries.insert(key, value);
                KvReply::Done
            }
            KvCommand::Append { key, value } => {
                self.entries.entry(key).or_default().push_str(&value);
                KvReply::Done
            }
            KvCommand::Cas { key, from, to } => {
                if self.entries.get(&key) == Some(&from) {
                    self.entries.insert(key, to);
                    KvReply::Cas(true)
                } else {
                    KvReply::Cas(false)
                }
            }
        }
    }
}

impl StateMachine for KvStore {
    fn apply(&mut self, input: AppInput<'_>, out: &mut Vec<AppOutput>) {
        if let AppInput::Command { request, payload } = input {
            self.applied += 1;
            let reply = match KvCommand::decode(payload) {
                Some(command) => self.execute(command),
                None => KvReply::Malformed,
            };
            out.push(AppOutput::Reply {
                request,
                payload: reply.encode(),
            });
        }
    }

    fn snapshot(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a key-value store serialises")
    }

    fn restore(&mut self, snapshot: &[u8]) -> Result<(), RestoreError> {
        *self = serde_json::from_slice(snapshot).map_err(|e| RestoreError(e.to_string()))?;
        Ok(())
    }

    fn digest(&self) -> u64 {
        let mut h = Fnv::new();
        h.write_u64(self.applied);
        for (k, v) in &self.entries {
            h.write(k.as_bytes());
            h.write_u8(0);
            h.write(v.as_bytes());
            h.write_u8(0);
        }
        h.finish()
    }
}

/// A replicated counter: `inc` adds one and answers the new value, `get` answers it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counter {
    value: u64,
    applied: u64,
}

impl StateMachine for Counter {
    fn apply(&mut self, input: AppInput<'_>, out: &mut Vec<AppOutput>) {
        if let AppInput::Command { request, payload } = input {
            self.applied += 1;
            if payload == b"inc" {
                self.value += 1;
            }
            out.push(AppOutput::Reply {
                request,
                payload: self.value.to_string().into_bytes(),
            });
        }
    }

    fn snapshot(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a counter serialises")
    }

    fn restore(&mut self, snapshot: &[u8]) -> Result<(), RestoreError> {
        *self = serde_json::from_slice(snapshot).map_err(|e| RestoreError(e.to_string()))?;
        Ok(())
    }

    fn digest(&self) -> u64 {
        let mut h = Fnv::new();
        h.write_u64(self.value);
        h.write_u64(self.applied);
        h.finish()
    }
}

/// A forwarder: the command `<counter group id>` arms a short application
/// timer; when it fires, the forwarder calls `inc` on that counter group
/// (a nested command) and replies with the counter's answer.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Forwarder {
    next_id: u64,
    /// Armed timers: the request waiting and the counter to call.
    waiting: BTreeMap<u64, (RequestId, GroupId)>,
    /// Issued calls: the request to answer.
    calls: BTreeMap<u64, RequestId>,
    applied: u64,
}

/// How long the forwarder waits before calling the counter.
pub const FORWARD_DELAY_US: u64 = 2_000;

impl StateMachine for Forwarder {
    fn apply(&mut self, input: AppInput<'_>, out: &mut Vec<AppOutput>) {
        self.applied += 1;
        match input {
            AppInput::Command { request, payload } => {
                let counter = std::str::from_utf8(payload)
                    .ok()
                    .and_then(|t| t.parse::<u64>().ok());
                match counter {
                    Some(group) => {
                        self.next_id += 1;
                        self.waiting.insert(self.next_id, (request, GroupId(group)));
                        out.push(AppOutput::ArmTimer {
                            timer: AppTimerId(self.next_id),
                            after: FORWARD_DELAY_US,
                        });
                    }
                    None => out.push(AppOutput::Reply {
                        request,
                        payload: b"malformed".to_vec(),
                    }),
                }
            }
            AppInput::TimerFired { timer } => {
                if let Some((request, group)) = self.waiting.remove(&timer.0) {
                    self.calls.insert(timer.0, request);
                    out.push(AppOutput::Call {
                        call: NestedCallId(timer.0),
                        group,
                        payload: b"inc".to_vec(),
                    });
                }
            }
            AppInput::NestedReply { call, outcome } => {
                if let Some(request) = self.calls.remove(&call.0) {
                    let payload = match outcome {
                        CallOutcome::Reply(p) => p.clone(),
                        CallOutcome::ServerFailure(reason) => {
                            format!("server_failure: {reason}").into_bytes()
                        }
                    };
                    out.push(AppOutput::Reply { request, payload });
                }
            }
        }
    }

    fn snapshot(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a forwarder serialises")
    }

    fn restore(&mut self, snapshot: &[u8]) -> Result<(), RestoreError> {
        *self = serde_json::from_slice(snapshot).map_err(|e| RestoreError(e.to_string()))?;
        Ok(())
    }

    fn digest(&self) -> u64 {
        let mut h = Fnv::new();
        h.write(&self.snapshot());
        h.finish()
    }
}

/// A deliberately wrong key-value store: its state digest includes a number that
/// differs per replica (the order in which the factory created it), as if it read
/// a local clock or a random number. Check (d) must catch it.
pub struct NondeterministicKv {
    store: KvStore,
    salt: u64,
}

impl StateMachine for NondeterministicKv {
    fn apply(&mut self, input: AppInput<'_>, out: &mut Vec<AppOutput>) {
        self.store.apply(input, out);
    }

    fn snapshot(&self) -> Vec<u8> {
        self.store.snapshot()
    }

    fn restore(&mut self, snapshot: &[u8]) -> Result<(), RestoreError> {
        self.store.restore(snapshot)
    }

    fn digest(&self) -> u64 {
        self.store.digest() ^ self.salt
    }
}

/// Server classes of the simulated programs: `kv`, `counter`, `forwarder`, and
/// `kv-nondeterministic` (see [`NondeterministicKv`]).
#[derive(Debug, Default)]
pub struct SimApps {
    created: AtomicU64,
}

impl AppFactory for SimApps {
    fn create(&self, class: &str) -> Option<Box<dyn StateMachine>> {
        let created = self.created.fetch_add(1, Ordering::Relaxed);
        match class {
            "kv" => Some(Box::new(KvStore::default())),
            "kv-nondeterministic" => Some(Box::new(NondeterministicKv {
                store: KvStore::default(),
                salt: created.wrapping_mul(0x9e37_79b9_7f4a_7c15),
            })),
            "counter" => Some(Box::new(Counter::default())),
            "forwarder" => Some(Box::new(Forwarder::default())),
            _ => None,
        }
    }
}
