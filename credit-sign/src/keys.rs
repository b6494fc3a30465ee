//! The platform's signing key, and the verifying keys it publishes.
//!
//! The signing key is an ed25519 private key in a PKCS#8 PEM file (`openssl genpkey -algorithm
//! ed25519` writes the same format), refused when anyone but its owner may read it. A key's id is
//! derived from its public half, so nothing else needs to be kept in step with the file. Verifying
//! keys are published as a JSON key set; retired keys stay in it so reports they signed still verify.

use std::path::{Path, PathBuf};

use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey, spki::der::pem::LineEnding};
use ed25519_dalek::{Signature, Signer};
use serde::{Deserialize, Serialize};

/// The only signature algorithm, named in key sets and signed files.
pub const ALGORITHM: &str = "ed25519";

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}: the signing key may be read by others (mode {mode:04o}); make it private with `chmod 600 {path}`")]
    TooOpen { path: PathBuf, mode: u32 },
    #[error("{path}: not an ed25519 private key in PKCS#8 PEM form: {reason}")]
    Malformed { path: PathBuf, reason: String },
    #[error("{path}: already exists; refusing to overwrite a signing key")]
    Exists { path: PathBuf },
    #[error("no randomness from the operating system: {0}")]
    Random(String),
    #[error("key set {source_name}: {reason}")]
    KeySet { source_name: String, reason: String },
}

/// A short, stable name for a verifying key: the first 8 bytes of the BLAKE3 hash of its 32 public
/// key bytes, in hex.
pub fn key_id(public_key: &[u8; 32]) -> String {
    hex(&blake3::hash(public_key).as_bytes()[..8])
}

/// The platform's signing key, with its id.
pub struct SigningKey {
    id: String,
    key: ed25519_dalek::SigningKey,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey").field("id", &self.id).finish_non_exhaustive()
    }
}

impl SigningKey {
    /// A new key from the operating system's randomness.
    pub fn generate() -> Result<SigningKey, KeyError> {
        let mut secret = [0u8; 32];
        getrandom::fill(&mut secret).map_err(|e| KeyError::Random(e.to_string()))?;
        Ok(SigningKey::from_secret(&secret))
    }

    pub fn from_secret(secret: &[u8; 32]) -> SigningKey {
        let key = ed25519_dalek::SigningKey::from_bytes(secret);
        SigningKey { id: key_id(key.verifying_key().as_bytes()), key }
    }

    /// Reads a PKCS#8 PEM key file, refusing one that its group or others may read.
    pub fn load(path: &Path) -> Result<SigningKey, KeyError> {
        let io = |source| KeyError::Io { path: path.to_path_buf(), source };
        let metadata = std::fs::metadata(path).map_err(io)?;
        refuse_open_permissions(path, &metadata)?;
        let pem = std::fs::read_to_string(path).map_err(io)?;
        let key = ed25519_dalek::SigningKey::from_pkcs8_pem(&pem)
            .map_err(|e| KeyError::Malformed { path: path.to_path_buf(), reason: e.to_string() })?;
        Ok(SigningKey { id: key_id(key.verifying_key().as_bytes()), key })
    }

    /// Writes the key to a new file, readable by its owner only (mode 0600 from the start: the
    /// secret is never on disk with wider permissions).
    pub fn write_new(&self, path: &Path) -> Result<(), KeyError> {
        use std::io::Write;
        let pem = self
            .key
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(|e| KeyError::Malformed { path: path.to_path_buf(), reason: e.to_string() })?;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(path).map_err(|source| match source.kind() {
            std::io::ErrorKind::AlreadyExists => KeyError::Exists { path: path.to_path_buf() },
            _ => KeyError::Io { path: path.to_path_buf(), source },
        })?;
        file.write_all(pem.as_bytes())
            .and_then(|()| file.sync_all())
            .map_err(|source| KeyError::Io { path: path.to_path_buf(), source })
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn public_key(&self) -> [u8; 32] {
        self.key.verifying_key().to_bytes()
    }

    /// The ed25519 signature of `message`.
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.key.sign(message).to_bytes()
    }

    /// This key as a key-set entry.
    pub fn published(&self) -> PublishedKey {
        PublishedKey {
            key_id: self.id.clone(),
            algorithm: ALGORITHM.to_string(),
            public_key: hex(&self.public_key()),
            status: KeyStatus::Active,
        }
    }
}

#[cfg(unix)]
fn refuse_open_permissions(path: &Path, metadata: &std::fs::Metadata) -> Result<(), KeyError> {
    use std::os::unix::fs::PermissionsExt;
    let mode = metadata.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(KeyError::TooOpen { path: path.to_path_buf(), mode });
    }
    Ok(())
}

#[cfg(not(unix))]
fn refuse_open_permissions(_: &Path, _: &std::fs::Metadata) -> Result<(), KeyError> {
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyStatus {
    /// Signs new reports.
    Active,
    /// Rotated out: signs nothing new, still verifies what it signed.
    Retired,
}

/// One published verifying key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishedKey {
    pub key_id: String,
    pub algorithm: String,
    /// The 32 public key bytes, lower-case hex.
    pub public_key: String,
    pub status: KeyStatus,
}

/// The verifying keys a platform publishes: `{"keys":[{"key_id", "algorithm", "public_key", "status"}]}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeySet {
    pub keys: Vec<PublishedKey>,
}

impl KeySet {
    /// Parses and checks a key set: every key ed25519, 32 bytes of hex, its id the one derived from it.
    pub fn from_json(text: &str, source_name: &str) -> Result<KeySet, KeyError> {
        let invalid = |reason: String| KeyError::KeySet { source_name: source_name.to_string(), reason };
        let set: KeySet = serde_json::from_str(text).map_err(|e| invalid(e.to_string()))?;
        for (i, key) in set.keys.iter().enumerate() {
            if key.algorithm != ALGORITHM {
                return Err(invalid(format!("keys[{i}].algorithm: {:?} is not {ALGORITHM}", key.algorithm)));
            }
            let bytes = key
                .public_bytes()
                .ok_or_else(|| invalid(format!("keys[{i}].public_key: not 32 bytes of hex ({:?})", key.public_key)))?;
            if key_id(&bytes) != key.key_id {
                return Err(invalid(format!(
                    "keys[{i}].key_id: {:?} is not the id of its public key ({})",
                    key.key_id,
                    key_id(&bytes)
                )));
            }
        }
        Ok(set)
    }

    pub fn load(path: &Path) -> Result<KeySet, KeyError> {
        let text = std::fs::read_to_string(path).map_err(|source| KeyError::Io { path: path.to_path_buf(), source })?;
        KeySet::from_json(&text, &path.display().to_string())
    }

    /// Compact JSON, one line.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("key sets serialise")
    }

    pub fn get(&self, key_id: &str) -> Option<&PublishedKey> {
        self.keys.iter().find(|k| k.key_id == key_id)
    }

    /// Adds `key` unless a key with its id is there; the newest active key first.
    pub fn with(mut self, key: PublishedKey) -> KeySet {
        if self.get(&key.key_id).is_none() {
            self.keys.insert(0, key);
        }
        self
    }

    /// Whether `signature` over `message` was made by the key `key_id` of this set.
    pub fn verify(&self, key_id: &str, message: &[u8], signature: &[u8; 64]) -> Result<(), SignatureCheck> {
        let key = self.get(key_id).ok_or(SignatureCheck::UnknownKey)?;
        let bytes = key.public_bytes().ok_or(SignatureCheck::UnknownKey)?;
        let verifying = ed25519_dalek::VerifyingKey::from_bytes(&bytes).map_err(|_| SignatureCheck::UnknownKey)?;
        verifying.verify_strict(message, &Signature::from_bytes(signature)).map_err(|_| SignatureCheck::BadSignature)
    }
}

/// Why a signature did not check out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureCheck {
    UnknownKey,
    BadSignature,
}

impl PublishedKey {
    pub fn public_bytes(&self) -> Option<[u8; 32]> {
        unhex(&self.public_key)?.try_into().ok()
    }
}

pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[(b >> 4) as usize] as char);
        out.push(DIGITS[(b & 15) as usize] as char);
    }
    out
}

/// Lower-case hex only: one spelling per value, so a signed file has one canonical form.
pub fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    let digit = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    };
    text.as_bytes().chunks(2).map(|pair| Some(digit(pair[0])? << 4 | digit(pair[1])?)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_files_round_trip_with_owner_only_permissions() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("signing.key");
        let key = SigningKey::generate().unwrap();
        key.write_new(&path).unwrap();
        let loaded = SigningKey::load(&path).unwrap();
        assert_eq!(loaded.id(), key.id());
        assert_eq!(loaded.public_key(), key.public_key());
        assert!(matches!(key.write_new(&path), Err(KeyError::Exists { .. })));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
            let error = SigningKey::load(&path).unwrap_err();
            assert!(matches!(error, KeyError::TooOpen { mode: 0o644, .. }), "{error}");
            assert!(error.to_string().contains("chmod 600"), "{error}");
        }
    }

    #[test]
    fn key_sets_verify_and_name_what_is_wrong() {
        let key = SigningKey::from_secret(&[7; 32]);
        let set = KeySet::default().with(key.published());
        let parsed = KeySet::from_json(&set.to_json(), "keys.json").unwrap();
        assert_eq!(parsed, set);
        let signature = key.sign(b"message");
        assert_eq!(parsed.verify(key.id(), b"message", &signature), Ok(()));
        assert_eq!(parsed.verify(key.id(), b"massage", &signature), Err(SignatureCheck::BadSignature));
        assert_eq!(parsed.verify("0011223344556677", b"message", &signature), Err(SignatureCheck::UnknownKey));

        let wrong_id = set.to_json().replace(key.id(), "0011223344556677");
        let error = KeySet::from_json(&wrong_id, "keys.json").unwrap_err().to_string();
        assert!(error.contains("keys[0].key_id") && error.contains(key.id()), "{error}");
        let upper = set.to_json().replace(&hex(&key.public_key()), &hex(&key.public_key()).to_uppercase());
        assert!(KeySet::from_json(&upper, "keys.json").unwrap_err().to_string().contains("keys[0].public_key"));
    }

    #[test]
    fn hex_round_trips_lower_case_only() {
        assert_eq!(unhex(&hex(&[0, 1, 0xab, 0xff])), Some(vec![0, 1, 0xab, 0xff]));
        assert_eq!(unhex("AB"), None);
        assert_eq!(unhex("abc"), None);
    }
}
