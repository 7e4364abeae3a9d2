//! Host identities: every host's static X25519 key pair, its private key file,
//! and pairwise message authenticators for proving to third parties what a
//! peer said.
//!
//! A host's **public key** is listed next to its address in the cluster file; its
//! **private key** lives only in its own key file (`hN.key`, mode 0600):
//!
//! ```toml
//! # ftc host key: keep this file private (mode 0600).
//! host = "h3"
//! private_key = "64 hex digits"
//! ```
//!
//! The transport authenticates links with these keys (the Noise `KK`
//! handshake, `transport.rs`). For protocols that must convince a *third*
//! host of what a peer sent (Byzantine agreement), [`Authenticator`] gives
//! every pair of hosts a MAC key derived from their static–static
//! Diffie–Hellman secret, which only those two hosts can compute: a sender
//! attaches a [`MacVector`] (one tag per receiver) and each receiver checks its
//! own entry. A lying host cannot produce a tag that another correct host
//! accepts as coming from a third one.

use crate::cluster::host_name;
use crate::types::HostId;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::str::FromStr;

/// Bytes of a public or private key.
pub const KEY_BYTES: usize = 32;
/// Bytes of one pairwise message tag (truncated HMAC-SHA256).
pub const TAG_BYTES: usize = 16;

type HmacSha256 = Hmac<Sha256>;

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

/// A host's public key: 32 bytes, written as 64 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PublicKey(pub [u8; KEY_BYTES]);

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
        parse_hex_key(text).map(PublicKey)
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
    secret: x25519_dalek::StaticSecret,
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

    /// The key pair whose private key is `bytes` (clamped as X25519 does).
    pub fn from_private(bytes: [u8; KEY_BYTES]) -> HostKey {
        let secret = x25519_dalek::StaticSecret::from(bytes);
        let public = PublicKey(x25519_dalek::PublicKey::from(&secret).to_bytes());
        HostKey { secret, public }
    }

    pub fn public(&self) -> PublicKey {
        self.public
    }

    /// The private key, for the Noise handshake.
    pub(crate) fn private_bytes(&self) -> [u8; KEY_BYTES] {
        self.secret.to_bytes()
    }

    /// The static–static Diffie–Hellman secret with `peer`.
    fn shared_secret(&self, peer: &PublicKey) -> [u8; KEY_BYTES] {
        self.secret
            .diffie_hellman(&x25519_dalek::PublicKey::from(peer.0))
            .to_bytes()
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
                    .private_bytes()
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

/// One tag per receiving host: a message authenticated to every one of them.
pub type MacVector = BTreeMap<HostId, [u8; TAG_BYTES]>;

/// Pairwise message authentication between this host and every peer.
///
/// The key of the pair `{a, b}` is `HMAC-SHA256(DH(a, b), "ftc-pairwise" ‖ a ‖ b)`
/// with `a < b`; the tag of `body` sent from `s` to `r` is
/// `HMAC-SHA256(key, s ‖ r ‖ body)` truncated to [`TAG_BYTES`], so a tag is
/// bound to its direction as well as to its pair.
#[derive(Clone)]
pub struct Authenticator {
    me: HostId,
    keys: BTreeMap<HostId, HmacSha256>,
}

impl fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Authenticator({}, peers {:?})",
            host_name(self.me),
            self.keys.keys().collect::<Vec<_>>()
        )
    }
}

impl Authenticator {
    /// Pairwise keys between `me` (holding `key`) and every other host of `peers`.
    pub fn new(me: HostId, key: &HostKey, peers: &BTreeMap<HostId, PublicKey>) -> Authenticator {
        let keys = peers
            .iter()
            .filter(|(h, _)| **h != me)
            .map(|(peer, public)| {
                let (low, high) = if me < *peer { (me, *peer) } else { (*peer, me) };
                let mut kdf = <HmacSha256 as Mac>::new_from_slice(&key.shared_secret(public))
                    .expect("HMAC takes a key of any length");
                kdf.update(b"ftc-pairwise");
                kdf.update(&low.0.to_be_bytes());
                kdf.update(&high.0.to_be_bytes());
                let pair_key = kdf.finalize().into_bytes();
                let mac = <HmacSha256 as Mac>::new_from_slice(&pair_key)
                    .expect("HMAC takes a key of any length");
                (*peer, mac)
            })
            .collect();
        Authenticator { me, keys }
    }

    fn mac(&self, pair: HostId, from: HostId, to: HostId, body: &[u8]) -> Option<HmacSha256> {
        let mut mac = self.keys.get(&pair)?.clone();
        mac.update(&from.0.to_be_bytes());
        mac.update(&to.0.to_be_bytes());
        mac.update(body);
        Some(mac)
    }

    /// The tag of `body` from this host to `to`; `None` for an unknown host.
    pub fn tag(&self, to: HostId, body: &[u8]) -> Option<[u8; TAG_BYTES]> {
        let full = self.mac(to, self.me, to, body)?.finalize().into_bytes();
        let mut tag = [0u8; TAG_BYTES];
        tag.copy_from_slice(&full[..TAG_BYTES]);
        Some(tag)
    }

    /// Tags of `body` for every peer.
    pub fn vector(&self, body: &[u8]) -> MacVector {
        self.keys
            .keys()
            .filter_map(|peer| Some((*peer, self.tag(*peer, body)?)))
            .collect()
    }

    /// True when `tag` proves that `from` sent `body` to this host.
    pub fn verify(&self, from: HostId, body: &[u8], tag: &[u8]) -> bool {
        self.mac(from, from, self.me, body)
            .is_some_and(|mac| mac.verify_truncated_left(tag).is_ok())
    }

    /// True when this host's entry of `vector` proves that `from` sent `body`.
    pub fn verify_vector(&self, from: HostId, body: &[u8], vector: &MacVector) -> bool {
        vector
            .get(&self.me)
            .is_some_and(|tag| self.verify(from, body, tag))
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
            .private_bytes()
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
    fn pairwise_tags_verify_only_at_their_receiver_from_their_sender() {
        let (keys, publics) = keys(4);
        let auth: Vec<Authenticator> = (0..4)
            .map(|i| Authenticator::new(HostId(i), &keys[i as usize], &publics))
            .collect();
        let body = b"prepare view 3 seq 17 digest abc";
        let vector = auth[1].vector(body);
        assert_eq!(vector.len(), 3);
        for r in [0, 2, 3] {
            assert!(auth[r].verify_vector(HostId(1), body, &vector), "h{r}");
            assert!(!auth[r].verify_vector(HostId(1), b"prepare view 3 seq 18", &vector));
            // The tag says h1 sent it, not anyone else.
            assert!(!auth[r].verify_vector(HostId(2), body, &vector));
        }
        // h2's tag for h0 does not verify at h3 (bound to its receiver).
        let to_h0 = auth[2].tag(HostId(0), body).expect("tag");
        assert!(!auth[3].verify(HostId(2), body, &to_h0));
        // A host with another key (a lying h3 posing as h1) cannot make h1's tags.
        let (other, _) = keys_one();
        let mut forged_publics = publics.clone();
        forged_publics.insert(HostId(1), other.public());
        let impostor = Authenticator::new(HostId(1), &other, &forged_publics);
        let forged = impostor.vector(body);
        for r in [0, 2, 3] {
            assert!(!auth[r].verify_vector(HostId(1), body, &forged));
        }
        assert!(auth[0].tag(HostId(9), body).is_none());
    }

    fn keys_one() -> (HostKey, PublicKey) {
        let k = HostKey::generate().expect("key");
        let p = k.public();
        (k, p)
    }
}
