//! A built-in replicated key-value store (`get`, `put`, `append`, `cas`), the
//! application the kernel binary `ftc-kvnode`, the real-process tests and the
//! benchmark run.

use crate::app::{AppFactory, AppInput, AppOutput, RestoreError, StateMachine};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The server class name the factory knows.
pub const KV_CLASS: &str = "KeyValue";

/// A command, postcard-encoded as the call payload.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum KvCommand {
    Get {
        key: String,
    },
    Put {
        key: String,
        value: String,
    },
    Append {
        key: String,
        value: String,
    },
    Cas {
        key: String,
        from: String,
        to: String,
    },
}

/// A reply, postcard-encoded as the reply payload.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum KvReply {
    /// `get`: the value, `None` if absent.
    Value(Option<String>),
    /// `put` / `append` done.
    Done,
    /// `cas`: whether the comparison held (and the value was replaced).
    Cas(bool),
    /// The payload was not a command.
    BadCommand(String),
}

impl KvCommand {
    pub fn encode(&self) -> Vec<u8> {
        // Encoding plain strings into a Vec cannot fail.
        postcard::to_allocvec(self).unwrap_or_default()
    }
}

impl KvReply {
    pub fn decode(bytes: &[u8]) -> Result<KvReply, String> {
        postcard::from_bytes(bytes).map_err(|e| e.to_string())
    }
}

/// The replicated state: an ordered map, so snapshots are deterministic.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KvStore {
    map: BTreeMap<String, String>,
    /// The wrapping sum of every entry's digest, kept by each command, so
    /// the state digest a replica takes after every execution costs O(1),
    /// not O(state).
    sum: u64,
}

fn entry_digest(key: &str, value: &str) -> u64 {
    value_digest(key_digest(key), value)
}

/// The digest of `key` alone, which [`value_digest`] continues.
fn key_digest(key: &str) -> crate::digest::Fnv {
    let mut h = crate::digest::Fnv::new();
    h.bytes(key.as_bytes());
    h
}

fn value_digest(mut key: crate::digest::Fnv, value: &str) -> u64 {
    key.bytes(value.as_bytes());
    key.finish()
}

impl KvStore {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.map.get(key).map(String::as_str)
    }

    fn set(&mut self, key: String, value: String) {
        let k = key_digest(&key);
        self.sum = self.sum.wrapping_add(value_digest(k.clone(), &value));
        if let Some(old) = self.map.insert(key, value) {
            self.sum = self.sum.wrapping_sub(value_digest(k, &old));
        }
    }

    /// Applies a command and returns the reply.
    pub fn execute(&mut self, command: KvCommand) -> KvReply {
        match command {
            KvCommand::Get { key } => KvReply::Value(self.map.get(&key).cloned()),
            KvCommand::Put { key, value } => {
                self.set(key, value);
                KvReply::Done
            }
            KvCommand::Append { key, value } => {
                let mut whole = self.map.get(&key).cloned().unwrap_or_default();
                whole.push_str(&value);
                self.set(key, whole);
                KvReply::Done
            }
            KvCommand::Cas { key, from, to } => {
                if self.map.get(&key) == Some(&from) {
                    self.set(key, to);
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
            let reply = match postcard::from_bytes::<KvCommand>(payload) {
                Ok(command) => self.execute(command),
                Err(e) => KvReply::BadCommand(e.to_string()),
            };
            out.push(AppOutput::Reply {
                request,
                payload: postcard::to_allocvec(&reply).unwrap_or_default(),
            });
        }
    }

    fn snapshot(&self) -> Vec<u8> {
        postcard::to_allocvec(&self.map).unwrap_or_default()
    }

    fn restore(&mut self, snapshot: &[u8]) -> Result<(), RestoreError> {
        let map: BTreeMap<String, String> =
            postcard::from_bytes(snapshot).map_err(|e| RestoreError(e.to_string()))?;
        self.sum = map
            .iter()
            .fold(0u64, |sum, (k, v)| sum.wrapping_add(entry_digest(k, v)));
        self.map = map;
        Ok(())
    }

    fn digest(&self) -> u64 {
        let mut h = crate::digest::Fnv::new();
        h.u64(self.map.len() as u64);
        h.u64(self.sum);
        h.finish()
    }
}

/// Creates [`KvStore`]s for the class [`KV_CLASS`].
pub struct KvFactory;

impl AppFactory for KvFactory {
    fn create(&self, class: &str) -> Option<Box<dyn StateMachine>> {
        (class == KV_CLASS).then(|| Box::new(KvStore::default()) as Box<dyn StateMachine>)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{ClientId, GroupId, RequestId};

    fn run(store: &mut KvStore, cmd: KvCommand) -> KvReply {
        let mut out = Vec::new();
        let request = RequestId {
            client: ClientId::Group(GroupId(1)),
            seq: 1,
        };
        store.apply(
            AppInput::Command {
                request,
                payload: &cmd.encode(),
            },
            &mut out,
        );
        match out.as_slice() {
            [AppOutput::Reply { payload, .. }] => KvReply::decode(payload).expect("reply"),
            other => panic!("unexpected outputs {other:?}"),
        }
    }

    #[test]
    fn commands_snapshot_and_digest() {
        let mut s = KvStore::default();
        assert_eq!(
            run(&mut s, KvCommand::Get { key: "x".into() }),
            KvReply::Value(None)
        );
        run(
            &mut s,
            KvCommand::Put {
                key: "x".into(),
                value: "1".into(),
            },
        );
        run(
            &mut s,
            KvCommand::Append {
                key: "x".into(),
                value: "2".into(),
            },
        );
        let cas = |from: &str| KvCommand::Cas {
            key: "x".into(),
            from: from.into(),
            to: "9".into(),
        };
        assert_eq!(run(&mut s, cas("1")), KvReply::Cas(false));
        assert_eq!(run(&mut s, cas("12")), KvReply::Cas(true));
        assert_eq!(
            run(&mut s, KvCommand::Get { key: "x".into() }),
            KvReply::Value(Some("9".into()))
        );
        let mut t = KvStore::default();
        t.restore(&s.snapshot()).expect("restore");
        assert_eq!(t, s);
        assert_eq!(t.digest(), s.digest());
        // The digest kept per command is the one computed from scratch, and
        // another value of one key changes it.
        run(
            &mut t,
            KvCommand::Put {
                key: "y".into(),
                value: "long value".into(),
            },
        );
        run(
            &mut t,
            KvCommand::Append {
                key: "y".into(),
                value: "!".into(),
            },
        );
        let mut u = KvStore::default();
        u.restore(&t.snapshot()).expect("restore");
        assert_eq!((u.digest(), u.sum), (t.digest(), t.sum));
        assert_ne!(t.digest(), s.digest());
        let before = t.digest();
        run(
            &mut t,
            KvCommand::Put {
                key: "y".into(),
                value: "long value?".into(),
            },
        );
        assert_ne!(t.digest(), before);
        assert!(t.restore(&[0xff, 0xff, 0xff]).is_err());
        let mut out = Vec::new();
        let request = RequestId {
            client: ClientId::Group(GroupId(1)),
            seq: 2,
        };
        s.apply(
            AppInput::Command {
                request,
                payload: &[0xff],
            },
            &mut out,
        );
        assert!(matches!(&out[0], AppOutput::Reply { payload, .. }
            if matches!(KvReply::decode(payload), Ok(KvReply::BadCommand(_)))));
        assert!(KvFactory.create(KV_CLASS).is_some());
        assert!(KvFactory.create("Other").is_none());
    }
}
