//! Host identities: every host's static Ed25519 key pair, its private key
//! file, the X25519 keys derived from it for the transport, and signatures
//! that prove to third parties what a host said.
//!
//! A host's **public key** (Ed25519) is listed next to its address in the
//! cluster file; its **private key** (the 32-byte Ed25519 seed) lives only in
//! its own key file (`hN.key`, mode 0600):
//!
//! ```toml
//! # ftc host key: keep this file private (mode 0600).
//! host = "h3"
//! private_key = "64 hex digits"
//! ```
//!
//! The transport authenticates links with the X25519 form of the same key
//! pair (the Noise `KK` handshake, `transport.rs`): the private scalar of the
//! Ed25519 key and the Montgomery form of the public key, the conversion
//! libsodium and age use. For protocols that must convince a *third* host of
//! what a peer sent (a byzantine group's view change), a host signs the bytes
//! with its Ed25519 key ([`HostKey::sign`]) and anyone holding the cluster
//! file checks them ([`ProofKeys::verify`]). A lying host cannot produce a
//! signature that a correct host accepts as another host's.

use crate::cluster::host_name;
use crate::types::HostId;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::str::FromStr;

/// Bytes of a public or private key.
pub const KEY_BYTES: usize = 32;
/// Bytes of a signature.
pub const SIGNATURE_BYTES: usize = 64;

/// A problem with a key or a key file.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error("cannot read key file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot write key file {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
    #[error(
        "key file {path} is readable by other users (mode {mode:o}); \
         make it private with `chmod 600 {path}`"
    )]
    NotPrivate { path: String, mode: u32 },
    #[error("key file {path}: {why}")]
    Invalid { path: String, why: String },
    #[error("not a key: {0}")]
    BadKey(String),
    #[error("no random source: {0}")]
    Random(String),
}

/// A host's public key: a compressed Ed25519 point, written as 64 lowercase
/// hex digits. Parsing checks that it is a point.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PublicKey(pub [u8; KEY_BYTES]);

impl PublicKey {
    /// The X25519 public key of the same key pair (for the Noise handshake);
    /// `None` when the bytes are not an Ed25519 point.
    pub fn dh_public(&self) -> Option<[u8; KEY_BYTES]> {
        let key = ed25519_dalek::VerifyingKey::from_bytes(&self.0).ok()?;
        Some(key.to_montgomery().to_bytes())
    }

    /// True when `signature` is this key's signature of `body`.
    pub fn verify(&self, body: &[u8], signature: &[u8]) -> bool {
        let Ok(key) = ed25519_dalek::VerifyingKey::from_bytes(&self.0) else {
            return false;
        };
        let Ok(signature) = ed25519_dalek::Signature::from_slice(signature) else {
            return false;
        };
        key.verify_strict(body, &signature).is_ok()
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({self})")
    }
}

impl FromStr for PublicKey {
    type Err = IdentityError;
    fn from_str(text: &str) -> Result<PublicKey, IdentityError> {
        let key = PublicKey(parse_hex_key(text)?);
        match key.dh_public() {
            Some(_) => Ok(key),
            None => Err(IdentityError::BadKey(
                "not an Ed25519 public key (made by an older `keygen`? make a new one)".into(),
            )),
        }
    }
}

fn parse_hex_key(text: &str) -> Result<[u8; KEY_BYTES], IdentityError> {
    let text = text.trim();
    if text.len() != 2 * KEY_BYTES || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(IdentityError::BadKey(format!(
            "expected {} hex digits, found {} characters",
            2 * KEY_BYTES,
            text.len()
        )));
    }
    let mut out = [0u8; KEY_BYTES];
    for (i, byte) in out.iter_mut().enumerate() {
        // Checked above: two ASCII hex digits.
        *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16)
            .map_err(|e| IdentityError::BadKey(e.to_string()))?;
    }
    Ok(out)
}

/// A host's static key pair. The private half never leaves the process except
/// through [`HostKey::write_file`]; `Debug` shows only the public half.
#[derive(Clone)]
pub struct HostKey {
    signing: ed25519_dalek::SigningKey,
    public: PublicKey,
}

impl fmt::Debug for HostKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HostKey(public {})", self.public)
    }
}

/// The key file's layout.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyFile {
    host: String,
    private_key: String,
}

impl HostKey {
    /// A fresh key pair from the OS random source.
    pub fn generate() -> Result<HostKey, IdentityError> {
        use rand::TryRngCore;
        let mut bytes = [0u8; KEY_BYTES];
        rand::rngs::OsRng
            .try_fill_bytes(&mut bytes)
            .map_err(|e| IdentityError::Random(e.to_string()))?;
        Ok(HostKey::from_private(bytes))
    }

    /// The key pair whose private key (Ed25519 seed) is `bytes`.
    pub fn from_private(bytes: [u8; KEY_BYTES]) -> HostKey {
        let signing = ed25519_dalek::SigningKey::from_bytes(&bytes);
        let public = PublicKey(signing.verifying_key().to_bytes());
        HostKey { signing, public }
    }

    pub fn public(&self) -> PublicKey {
        self.public
    }

    /// The X25519 private key of the same pair, for the Noise handshake (the
    /// Ed25519 secret scalar; X25519 clamps it as Ed25519 does).
    pub(crate) fn dh_private(&self) -> [u8; KEY_BYTES] {
        self.signing.to_scalar_bytes()
    }

    /// This host's signature of `body`.
    pub fn sign(&self, body: &[u8]) -> [u8; SIGNATURE_BYTES] {
        use ed25519_dalek::Signer;
        self.signing.sign(body).to_bytes()
    }

    /// Writes `host`'s key file at `path`, created with mode 0600; an existing
    /// file is never overwritten.
    pub fn write_file(&self, host: HostId, path: &Path) -> Result<(), IdentityError> {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let text = format!(
            "# ftc host key: keep this file private (mode 0600).\n{}",
            toml::to_string(&KeyFile {
                host: host_name(host),
                private_key: self
                    .signing
                    .to_bytes()
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect(),
            })
            .map_err(|e| IdentityError::Invalid {
                path: path.display().to_string(),
                why: e.to_string(),
            })?
        );
        let write_err = |source| IdentityError::Write {
            path: path.display().to_string(),
            source,
        };
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(write_err)?;
        file.write_all(text.as_bytes()).map_err(write_err)?;
        file.sync_all().map_err(write_err)
    }

    /// Reads `host`'s key file, refusing one that other users can read or
    /// that names another host.
    pub fn load_file(host: HostId, path: &Path) -> Result<HostKey, IdentityError> {
        use std::os::unix::fs::PermissionsExt;
        let shown = path.display().to_string();
        let read_err = |source| IdentityError::Read {
            path: shown.clone(),
            source,
        };
        let meta = std::fs::metadata(path).map_err(read_err)?;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(IdentityError::NotPrivate { path: shown, mode });
        }
        let text = std::fs::read_to_string(path).map_err(read_err)?;
        let invalid = |why: String| IdentityError::Invalid {
            path: shown.clone(),
            why,
        };
        let file: KeyFile = toml::from_str(&text).map_err(|e| invalid(e.to_string()))?;
        if file.host != host_name(host) {
            return Err(invalid(format!(
                "it is the key of {}, not of {}",
                file.host,
                host_name(host)
            )));
        }
        let bytes = parse_hex_key(&file.private_key).map_err(|e| invalid(e.to_string()))?;
        Ok(HostKey::from_private(bytes))
    }
}

/// Makes `host`'s key pair: writes its private key file at `path` (mode
/// 0600, never over an existing file) and returns the public key, for the
/// cluster file. `ftc keygen` and a program's `--keygen`.
pub fn keygen(host: HostId, path: &Path) -> Result<PublicKey, IdentityError> {
    let key = HostKey::generate()?;
    key.write_file(host, path)?;
    Ok(key.public())
}

/// What a host needs to sign its own statements and check other hosts':
/// its key pair and every host's public key (the cluster file's).
#[derive(Clone, Debug)]
pub struct ProofKeys {
    me: HostId,
    key: HostKey,
    hosts: BTreeMap<HostId, PublicKey>,
}

impl ProofKeys {
    /// `me`, holding `key`, in a cluster whose hosts' public keys are `hosts`.
    pub fn new(me: HostId, key: HostKey, hosts: BTreeMap<HostId, PublicKey>) -> ProofKeys {
        ProofKeys { me, key, hosts }
    }

    /// Keys for simulated or test hosts, derived from `seed` and the host
    /// number, so every host of one run computes every other's. Never for a
    /// real cluster: anyone who knows the seed holds every private key.
    pub fn simulated(me: HostId, hosts: &[HostId], seed: u64) -> ProofKeys {
        let key_of = |h: HostId| {
            let mut bytes = [0u8; KEY_BYTES];
            bytes[..8].copy_from_slice(&seed.to_le_bytes());
            bytes[8..12].copy_from_slice(&h.0.to_le_bytes());
            bytes[12..].copy_from_slice(&b"ftc-simulated-host-key"[..KEY_BYTES - 12]);
            HostKey::from_private(bytes)
        };
        ProofKeys {
            me,
            key: key_of(me),
            hosts: hosts.iter().map(|h| (*h, key_of(*h).public())).collect(),
        }
    }

    pub fn me(&self) -> HostId {
        self.me
    }

    /// This host's signature of `body`.
    pub fn sign(&self, body: &[u8]) -> [u8; SIGNATURE_BYTES] {
        self.key.sign(body)
    }

    /// True when `signature` proves that host `from` signed `body`; false for
    /// a host outside the cluster.
    pub fn verify(&self, from: HostId, body: &[u8], signature: &[u8]) -> bool {
        self.hosts
            .get(&from)
            .is_some_and(|key| key.verify(body, signature))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(n: u32) -> (Vec<HostKey>, BTreeMap<HostId, PublicKey>) {
        let keys: Vec<HostKey> = (0..n).map(|_| HostKey::generate().expect("key")).collect();
        let publics = keys
            .iter()
            .enumerate()
            .map(|(i, k)| (HostId(i as u32), k.public()))
            .collect();
        (keys, publics)
    }

    #[test]
    fn public_keys_print_and_parse_as_hex() {
        let key = HostKey::generate().expect("key");
        let text = key.public().to_string();
        assert_eq!(text.len(), 64);
        assert_eq!(text.parse::<PublicKey>().expect("parses"), key.public());
        assert!("abc".parse::<PublicKey>().is_err());
        assert!("zz".repeat(32).parse::<PublicKey>().is_err());
        // Debug never shows the private key (any 8 of its bytes in a row).
        let private: String = key
            .signing
            .to_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let shown = format!("{key:?}");
        assert!((0..private.len() - 16)
            .step_by(2)
            .all(|i| !shown.contains(&private[i..i + 16])));
    }

    #[test]
    fn key_files_are_private_and_bound_to_their_host() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("h3.key");
        let key = HostKey::generate().expect("key");
        key.write_file(HostId(3), &path).expect("write");
        let mode = std::fs::metadata(&path).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert!(
            key.write_file(HostId(3), &path).is_err(),
            "never overwritten"
        );
        let loaded = HostKey::load_file(HostId(3), &path).expect("load");
        assert_eq!(loaded.public(), key.public());
        assert!(matches!(
            HostKey::load_file(HostId(2), &path),
            Err(IdentityError::Invalid { .. })
        ));
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        assert!(matches!(
            HostKey::load_file(HostId(3), &path),
            Err(IdentityError::NotPrivate { .. })
        ));
        assert!(matches!(
            HostKey::load_file(HostId(3), &dir.path().join("missing.key")),
            Err(IdentityError::Read { .. })
        ));
    }

    #[test]
    fn signatures_verify_only_as_their_signer_and_for_their_bytes() {
        let (keys, publics) = keys(4);
        let proofs: Vec<ProofKeys> = (0..4)
            .map(|i| ProofKeys::new(HostId(i), keys[i as usize].clone(), publics.clone()))
            .collect();
        let body = b"view change to view 3 from h1";
        let signature = proofs[1].sign(body);
        for (r, p) in proofs.iter().enumerate() {
            assert!(p.verify(HostId(1), body, &signature), "h{r}");
            assert!(!p.verify(HostId(1), b"view change to view 4", &signature));
            // It says h1 signed, not anyone else.
            assert!(!p.verify(HostId(2), body, &signature));
        }
        let mut flipped = signature;
        flipped[5] ^= 1;
        assert!(!proofs[0].verify(HostId(1), body, &flipped));
        assert!(!proofs[0].verify(HostId(1), body, &signature[..63]));
        assert!(
            !proofs[0].verify(HostId(9), body, &signature),
            "not in the cluster"
        );
        // A host with another key (a lying h3 posing as h1) cannot sign as h1.
        let (other, _) = keys_one();
        let forged = ProofKeys::new(HostId(1), other, publics.clone()).sign(body);
        assert!(!proofs[0].verify(HostId(1), body, &forged));
    }

    #[test]
    fn the_transport_key_is_the_x25519_form_of_the_same_pair() {
        let (keys, _) = keys(2);
        let dh = |k: &HostKey| x25519_dalek::StaticSecret::from(k.dh_private());
        let a_public = keys[0].public().dh_public().expect("a point");
        let b_public = keys[1].public().dh_public().expect("a point");
        assert_eq!(
            x25519_dalek::PublicKey::from(&dh(&keys[0])).to_bytes(),
            a_public
        );
        // Both sides compute one shared secret from the public keys alone.
        let ab = dh(&keys[0]).diffie_hellman(&x25519_dalek::PublicKey::from(b_public));
        let ba = dh(&keys[1]).diffie_hellman(&x25519_dalek::PublicKey::from(a_public));
        assert_eq!(ab.to_bytes(), ba.to_bytes());
        // 32 bytes that are not an Ed25519 point are refused.
        let not_a_point = (0u8..=255)
            .map(|b| PublicKey([b; KEY_BYTES]))
            .find(|k| k.dh_public().is_none())
            .expect("some repeated byte is not a point");
        assert!(not_a_point.to_string().parse::<PublicKey>().is_err());
    }

    #[test]
    fn simulated_keys_agree_across_hosts_and_differ_by_seed() {
        let hosts = [HostId(1), HostId(2)];
        let a = ProofKeys::simulated(HostId(1), &hosts, 7);
        let b = ProofKeys::simulated(HostId(2), &hosts, 7);
        let signature = a.sign(b"x");
        assert!(b.verify(HostId(1), b"x", &signature));
        let other_run = ProofKeys::simulated(HostId(2), &hosts, 8);
        assert!(!other_run.verify(HostId(1), b"x", &signature));
    }

    fn keys_one() -> (HostKey, PublicKey) {
        let k = HostKey::generate().expect("key");
        let p = k.public();
        (k, p)
    }
}
