//! The platform's signing key and the verifying keys it publishes, as the server and the embedded
//! commands find them: configured paths, else the conventional files of the data directory.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use credit_sign::keys::{KeyError, KeySet, KeyStatus, SigningKey};

use crate::config::Config;

/// The signing key's file name in the data directory.
pub const SIGNING_KEY_FILE: &str = "signing.key";
/// The retired verifying keys' file name in the data directory.
pub const VERIFYING_KEYS_FILE: &str = "verifying-keys.json";

/// Where the keys live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPaths {
    pub signing_key: PathBuf,
    pub verifying_keys: PathBuf,
}

impl KeyPaths {
    pub fn of(config: &Config, data_dir: &Path) -> KeyPaths {
        let or_default = |path: &Path, file: &str| {
            if path.as_os_str().is_empty() { data_dir.join(file) } else { path.to_path_buf() }
        };
        KeyPaths {
            signing_key: or_default(&config.signing_key, SIGNING_KEY_FILE),
            verifying_keys: or_default(&config.verifying_keys, VERIFYING_KEYS_FILE),
        }
    }

    /// The conventional files of `data_dir`.
    pub fn in_dir(data_dir: &Path) -> KeyPaths {
        KeyPaths::of(&Config::default(), data_dir)
    }
}

/// The signing key (if any) and every published verifying key.
#[derive(Debug, Clone)]
pub struct Signing {
    pub key: Option<Arc<SigningKey>>,
    pub published: KeySet,
}

impl Signing {
    /// Loads the keys; with `generate`, creates the signing key (mode 0600) when there is none.
    pub fn load(paths: &KeyPaths, generate: bool) -> Result<Signing, KeyError> {
        let key = if paths.signing_key.exists() {
            Some(SigningKey::load(&paths.signing_key)?)
        } else if generate {
            let key = SigningKey::generate()?;
            key.write_new(&paths.signing_key)?;
            tracing::info!(key_id = key.id(), path = %paths.signing_key.display(), "generated a signing key");
            Some(key)
        } else {
            None
        };
        let retired =
            if paths.verifying_keys.exists() { KeySet::load(&paths.verifying_keys)? } else { KeySet::default() };
        let published = match &key {
            Some(key) => retired.with(key.published()),
            None => retired,
        };
        Ok(Signing { key: key.map(Arc::new), published })
    }

    /// Retires the current signing key and puts a new one in its place: the old public key joins the
    /// published retired keys, the old private key is kept as `signing-<id>.key.retired` (mode 0600)
    /// for the operator to archive or destroy. Returns (old id, new id).
    pub fn rotate(paths: &KeyPaths) -> Result<(String, String), KeyError> {
        let old = SigningKey::load(&paths.signing_key)?;
        let mut retired_entry = old.published();
        retired_entry.status = KeyStatus::Retired;
        let mut retired =
            if paths.verifying_keys.exists() { KeySet::load(&paths.verifying_keys)? } else { KeySet::default() };
        retired.keys.retain(|k| k.key_id != old.id());
        retired.keys.insert(0, retired_entry);
        write_atomically(&paths.verifying_keys, retired.to_json().as_bytes())?;

        let archived = paths.signing_key.with_file_name(format!("signing-{}.key.retired", old.id()));
        std::fs::rename(&paths.signing_key, &archived)
            .map_err(|source| KeyError::Io { path: paths.signing_key.clone(), source })?;
        let new = SigningKey::generate()?;
        new.write_new(&paths.signing_key)?;
        Ok((old.id().to_string(), new.id().to_string()))
    }
}

fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), KeyError> {
    let io = |source| KeyError::Io { path: path.to_path_buf(), source };
    let temporary = path.with_extension("json.tmp");
    std::fs::write(&temporary, bytes).map_err(io)?;
    std::fs::rename(&temporary, path).map_err(io)
}
