//! Files the platform writes outside its store: backups hold every personal record the store does, so
//! only the owner may read them.

use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::Path;

use crate::engine::Engine;
use crate::store::Store;

/// Creates `dir` (and its missing parents) readable by the owner only, and makes it so if it existed.
pub fn private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
}

/// Directories 0700, files 0600, all the way down.
pub fn make_private(dir: &Path) -> std::io::Result<()> {
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        if kind.is_dir() {
            make_private(&entry.path())?;
        } else if kind.is_file() {
            std::fs::set_permissions(entry.path(), std::fs::Permissions::from_mode(0o600))?;
        }
    }
    Ok(())
}

/// A consistent copy of `store` in the new directory `to`, private to the owner.
pub(super) fn write_backup<E: Engine>(store: &Store<E>, to: &Path) -> std::io::Result<()> {
    if to.exists() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::AlreadyExists,
            format!("{} exists; a backup goes into a new directory", to.display()),
        ));
    }
    if let Some(parent) = to.parent().filter(|p| !p.as_os_str().is_empty()) {
        private_dir(parent)?;
    }
    store.backup(to).map_err(std::io::Error::other)?;
    make_private(to)
}
