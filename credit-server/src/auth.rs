//! API keys and roles. A key is a bearer token `ck_<id>_<secret>`; the platform keeps only its blake3
//! hash, in `keys.json` in the data directory (mode 0600), so a copied keys file grants nothing.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub const KEYS_FILE: &str = "keys.json";
const TOKEN_PREFIX: &str = "ck_";

pub use credit_core::actor::Role;

/// Who is calling, as established for each request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// `None` for anonymous (public) callers.
    pub key_id: Option<String>,
    pub role: Role,
    /// The department a provider (or any) key is bound to.
    pub dept: Option<String>,
    /// The unified code a `subject` key is bound to.
    pub subject_code: Option<String>,
    pub ip: Option<IpAddr>,
}

impl Caller {
    pub fn anonymous(ip: Option<IpAddr>) -> Caller {
        Caller { key_id: None, role: Role::Public, dept: None, subject_code: None, ip }
    }

    /// The caller as the platform's use cases and the audit log know it.
    pub fn actor(&self) -> credit_core::actor::Actor {
        credit_core::actor::Actor {
            key_id: self.key_id.clone(),
            role: self.role,
            department: self.dept.clone(),
            // An anonymous caller is known by its address only.
            name: self.key_id.is_none().then(|| self.ip.map_or_else(|| "unknown".to_string(), |ip| ip.to_string())),
            subject_code: self.subject_code.clone(),
        }
    }

    /// How logs and the audit trail name the caller.
    pub fn label(&self) -> String {
        match (&self.key_id, self.ip) {
            (Some(id), _) => id.clone(),
            (None, Some(ip)) => format!("anonymous@{ip}"),
            (None, None) => "anonymous".into(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}: not a keys file: {source}")]
    Format { path: PathBuf, source: serde_json::Error },
    #[error("no random numbers from the operating system: {0}")]
    Random(getrandom::Error),
    #[error("no key with id {0:?}")]
    UnknownKey(String),
    #[error("--dept: a provider key must be bound to a department")]
    ProviderWithoutDept,
    #[error("--code: a subject key must be bound to a valid unified social credit code ({0})")]
    SubjectWithoutCode(String),
    #[error("--code: only a subject key is bound to a code")]
    CodeWithoutSubject,
}

/// A key created or revoked, as a reload found it.
#[derive(Debug, Clone)]
pub struct KeyChange {
    pub revoked: bool,
    pub key: KeyEntry,
}

impl KeyChange {
    /// The act the audit log records for this change.
    pub fn act(&self) -> credit_core::platform::AdminAct {
        use credit_core::platform::AdminAct;
        let (id, role, dept) = (self.key.id.clone(), self.key.role, self.key.dept.clone());
        if self.revoked {
            AdminAct::ApiKeyRevoked { id, role, dept }
        } else {
            AdminAct::ApiKeyCreated { id, role, dept }
        }
    }
}

/// One key as stored: never the token itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyEntry {
    pub id: String,
    pub role: Role,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dept: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// The unified code a `subject` key is bound to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject_code: Option<String>,
    /// blake3 of the whole token, hex.
    pub hash: String,
    pub created_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct KeysFile {
    keys: Vec<KeyEntry>,
}

/// A key just created: the token is shown once and never stored.
#[derive(Debug, Clone, Serialize)]
pub struct NewKey {
    pub token: String,
    #[serde(flatten)]
    pub entry: KeyEntry,
}

/// The keys file of a data directory. Changes are written to a temporary file and renamed over the
/// old one under an exclusive lock, so readers never see half a file and two writers never interleave.
#[derive(Debug, Clone)]
pub struct KeyFile {
    path: PathBuf,
}

impl KeyFile {
    pub fn in_dir(data_dir: &Path) -> KeyFile {
        KeyFile { path: data_dir.join(KEYS_FILE) }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Every key, revoked ones included; none when the file does not exist yet.
    pub fn list(&self) -> Result<Vec<KeyEntry>, KeyError> {
        Ok(self.read()?.keys)
    }

    pub fn create(&self, role: Role, dept: Option<String>, label: Option<String>) -> Result<NewKey, KeyError> {
        self.create_bound(role, dept, label, None)
    }

    /// Creates a key; a `subject` key is bound to `code`, a valid unified social credit code.
    pub fn create_bound(
        &self,
        role: Role,
        dept: Option<String>,
        label: Option<String>,
        code: Option<String>,
    ) -> Result<NewKey, KeyError> {
        if role == Role::Provider && dept.is_none() {
            return Err(KeyError::ProviderWithoutDept);
        }
        let subject_code = match (role, code) {
            (Role::Subject, Some(code)) => {
                let code = credit_core::ident::normalize_code(&code);
                credit_core::ident::Uscc::parse_normalized(&code, credit_core::ident::Codebook::builtin()).map_err(
                    |errors| {
                        let reasons: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
                        KeyError::SubjectWithoutCode(format!("{code:?}: {}", reasons.join("; ")))
                    },
                )?;
                Some(code)
            }
            (Role::Subject, None) => return Err(KeyError::SubjectWithoutCode("none given".into())),
            (_, Some(_)) => return Err(KeyError::CodeWithoutSubject),
            (_, None) => None,
        };
        self.update(|file| {
            let mut id;
            loop {
                id = hex(&random_bytes::<4>()?);
                if !file.keys.iter().any(|k| k.id == id) {
                    break;
                }
            }
            let token = format!("{TOKEN_PREFIX}{id}_{}", hex(&random_bytes::<32>()?));
            let entry = KeyEntry {
                id,
                role,
                dept,
                label,
                subject_code,
                hash: blake3::hash(token.as_bytes()).to_hex().to_string(),
                created_at: Utc::now(),
                revoked_at: None,
            };
            file.keys.push(entry.clone());
            Ok(NewKey { token, entry })
        })
    }

    pub fn revoke(&self, id: &str) -> Result<KeyEntry, KeyError> {
        self.update(|file| {
            let entry = file.keys.iter_mut().find(|k| k.id == id).ok_or_else(|| KeyError::UnknownKey(id.into()))?;
            if entry.revoked_at.is_none() {
                entry.revoked_at = Some(Utc::now());
            }
            Ok(entry.clone())
        })
    }

    fn read(&self) -> Result<KeysFile, KeyError> {
        match fs::read(&self.path) {
            Ok(bytes) => {
                serde_json::from_slice(&bytes).map_err(|source| KeyError::Format { path: self.path.clone(), source })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(KeysFile::default()),
            Err(source) => Err(KeyError::Io { path: self.path.clone(), source }),
        }
    }

    fn update<T>(&self, change: impl FnOnce(&mut KeysFile) -> Result<T, KeyError>) -> Result<T, KeyError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| KeyError::Io { path, source }
        };
        if let Some(dir) = self.path.parent() {
            fs::create_dir_all(dir).map_err(io(dir))?;
        }
        let lock_path = self.path.with_extension("lock");
        let lock = File::create(&lock_path).map_err(io(&lock_path))?;
        lock.lock().map_err(io(&lock_path))?;
        let mut file = self.read()?;
        let out = change(&mut file)?;
        let tmp = self.path.with_extension("json.tmp");
        let bytes =
            serde_json::to_vec_pretty(&file).map_err(|source| KeyError::Format { path: tmp.clone(), source })?;
        write_private(&tmp, &bytes)?;
        fs::rename(&tmp, &self.path).map_err(io(&self.path))?;
        // The rename is durable once the directory is: a crash must not bring back a revoked key.
        if let Some(dir) = self.path.parent() {
            fs::File::open(dir).and_then(|d| d.sync_all()).map_err(io(dir))?;
        }
        Ok(out)
    }
}

/// Writes `bytes` to a new file only its owner can read, synced before returning.
pub fn write_private(path: &Path, bytes: &[u8]) -> Result<(), KeyError> {
    let io = |source| KeyError::Io { path: path.to_path_buf(), source };
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(io)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(fs::Permissions::from_mode(0o600)).map_err(io)?;
    }
    file.write_all(bytes).map_err(io)?;
    file.sync_all().map_err(io)
}

fn random_bytes<const N: usize>() -> Result<[u8; N], KeyError> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(KeyError::Random)?;
    Ok(bytes)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Why a presented token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    Malformed,
    Unknown,
    Revoked,
}

/// The keys the server accepts, re-read when the file changes.
#[derive(Debug)]
pub struct KeyRing {
    file: KeyFile,
    state: RwLock<RingState>,
}

#[derive(Debug, Default)]
struct RingState {
    by_id: HashMap<String, KeyEntry>,
    modified: Option<SystemTime>,
}

impl KeyRing {
    pub fn load(file: KeyFile) -> Result<Arc<KeyRing>, KeyError> {
        let ring = Arc::new(KeyRing { file, state: RwLock::new(RingState::default()) });
        ring.reload_if_changed()?;
        Ok(ring)
    }

    /// Re-reads the file when its modification time changed; `true` when it did.
    /// The keys file behind the ring.
    pub fn file(&self) -> &KeyFile {
        &self.file
    }

    pub fn reload_if_changed(&self) -> Result<bool, KeyError> {
        Ok(self.reload_changes()?.is_some())
    }

    /// Re-reads the keys file when it changed; `Some` with the keys created or revoked meanwhile
    /// (for the audit log), `None` when nothing was re-read.
    pub fn reload_changes(&self) -> Result<Option<Vec<KeyChange>>, KeyError> {
        let modified = match fs::metadata(self.file.path()) {
            Ok(meta) => meta.modified().ok(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(source) => return Err(KeyError::Io { path: self.file.path().to_path_buf(), source }),
        };
        if self.state.read().unwrap_or_else(|e| e.into_inner()).modified == modified && modified.is_some() {
            return Ok(None);
        }
        let keys = self.file.list()?;
        let mut state = self.state.write().unwrap_or_else(|e| e.into_inner());
        let mut changes = Vec::new();
        for key in &keys {
            let before = state.by_id.get(&key.id);
            if before.is_none() {
                changes.push(KeyChange { revoked: false, key: key.clone() });
            }
            if key.revoked_at.is_some() && before.is_some_and(|b| b.revoked_at.is_none()) {
                changes.push(KeyChange { revoked: true, key: key.clone() });
            }
        }
        state.by_id = keys.into_iter().map(|k| (k.id.clone(), k)).collect();
        state.modified = modified;
        Ok(Some(changes))
    }

    /// The key a bearer token belongs to, when it is a valid, unrevoked key.
    pub fn authenticate(&self, token: &str) -> Result<KeyEntry, Refusal> {
        let id = token
            .strip_prefix(TOKEN_PREFIX)
            .and_then(|rest| rest.split_once('_'))
            .map(|(id, _)| id)
            .ok_or(Refusal::Malformed)?;
        let state = self.state.read().unwrap_or_else(|e| e.into_inner());
        let entry = state.by_id.get(id).ok_or(Refusal::Unknown)?;
        let presented = blake3::hash(token.as_bytes());
        let stored = blake3::Hash::from_hex(&entry.hash).map_err(|_| Refusal::Unknown)?;
        // blake3::Hash compares in constant time.
        if presented != stored {
            return Err(Refusal::Unknown);
        }
        if entry.revoked_at.is_some() {
            return Err(Refusal::Revoked);
        }
        Ok(entry.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_authenticate_until_revoked_and_only_hashes_are_stored() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = KeyFile::in_dir(dir.path());
        let key = file.create(Role::Provider, Some("市场监管局".into()), None).expect("created");
        assert!(key.token.starts_with("ck_"));
        let stored = fs::read_to_string(file.path()).expect("keys file");
        assert!(!stored.contains(&key.token), "the token itself is never stored");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(file.path()).expect("meta").permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }

        let ring = KeyRing::load(file.clone()).expect("loads");
        let entry = ring.authenticate(&key.token).expect("valid");
        assert_eq!(entry.role, Role::Provider);
        assert_eq!(entry.dept.as_deref(), Some("市场监管局"));
        let mut forged = key.token.clone();
        forged.pop();
        forged.push(if key.token.ends_with('0') { '1' } else { '0' });
        assert_eq!(ring.authenticate(&forged), Err(Refusal::Unknown));
        assert_eq!(ring.authenticate("Bearer nonsense"), Err(Refusal::Malformed));

        file.revoke(&key.entry.id).expect("revoked");
        // The file's mtime may not have moved within its resolution; force the reread.
        ring.state.write().expect("lock").modified = None;
        assert!(ring.reload_if_changed().expect("reload"));
        assert_eq!(ring.authenticate(&key.token), Err(Refusal::Revoked));
        assert!(matches!(file.revoke("nope"), Err(KeyError::UnknownKey(_))));
    }

    #[test]
    fn provider_keys_need_a_department() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = KeyFile::in_dir(dir.path());
        assert!(matches!(file.create(Role::Provider, None, None), Err(KeyError::ProviderWithoutDept)));
        assert!(file.list().expect("empty list").is_empty());
    }
}
