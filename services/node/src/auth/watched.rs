//! The node's access files (`clients.toml`, `accounts.toml`): TOML the operator's commands
//! write (owner-only, replaced whole, never half-written, one edit at a time) and a running
//! node reads again within two seconds of a change; a file that no longer reads fails closed
//! (nothing in it is known until it reads again).

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

use anyhow::Context as _;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Reads an owner-only TOML file (`wire::read_secret_file`), or `T::default()` when absent.
pub fn read_toml<T: DeserializeOwned + Default>(path: &Path) -> anyhow::Result<T> {
    if !path.exists() {
        return Ok(T::default());
    }
    let text = wire::read_secret_file(path)?;
    toml::from_str(&text).with_context(|| format!("{} is not valid", path.display()))
}

/// Runs `edit` (a read-modify-write of the file at `path`) holding an exclusive lock on
/// `<path>.lock`, so two operator commands at once never lose each other's change.
pub fn locked<R>(path: &Path, edit: impl FnOnce() -> anyhow::Result<R>) -> anyhow::Result<R> {
    let lock_path = path.with_extension("toml.lock");
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .with_context(|| format!("failed to open {}", lock_path.display()))?;
    lock.lock()
        .with_context(|| format!("failed to lock {}", lock_path.display()))?;
    edit()
}

/// Replaces an owner-only TOML file with `value` under the comment `header`: written beside
/// it, then renamed over it.
pub fn write_toml<T: Serialize>(path: &Path, header: &str, value: &T) -> anyhow::Result<()> {
    let temporary = path.with_extension("toml.new");
    let _ = std::fs::remove_file(&temporary);
    let text = format!(
        "# {header}\n{}",
        toml::to_string_pretty(value)
            .with_context(|| format!("failed to write {}", path.display()))?
    );
    wire::write_secret_file(&temporary, &text)
        .with_context(|| format!("failed to write {}", temporary.display()))?;
    std::fs::rename(&temporary, path)
        .with_context(|| format!("failed to replace {}", path.display()))
}

/// What a running node made of a file, made again when the file changes.
pub struct Watched<T> {
    path: PathBuf,
    load: fn(&Path) -> anyhow::Result<T>,
    value: RwLock<Arc<T>>,
    seen: RwLock<Option<(SystemTime, u64)>>,
}

impl<T> std::fmt::Debug for Watched<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watched")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl<T> Watched<T> {
    /// Loads `path` with `load` now.
    pub fn open(path: PathBuf, load: fn(&Path) -> anyhow::Result<T>) -> anyhow::Result<Self> {
        let seen = stamp(&path);
        let value = load(&path)?;
        Ok(Self {
            path,
            load,
            value: RwLock::new(Arc::new(value)),
            seen: RwLock::new(seen),
        })
    }

    /// Loads the file again if its time or size changed since it was last loaded. A file
    /// that does not load fails closed: nothing in it is known until it loads again (an
    /// operator who broke it while revoking a credential revokes it).
    pub fn reload_if_changed(&self) -> anyhow::Result<bool>
    where
        T: Default,
    {
        let now = stamp(&self.path);
        if now == *self.seen.read().unwrap_or_else(|e| e.into_inner()) {
            return Ok(false);
        }
        if let Err(e) = self.reload() {
            *self.value.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(T::default());
            *self.seen.write().unwrap_or_else(|e| e.into_inner()) = now;
            return Err(e);
        }
        Ok(true)
    }

    /// Loads the file again.
    pub fn reload(&self) -> anyhow::Result<()> {
        let now = stamp(&self.path);
        let value = (self.load)(&self.path)?;
        *self.value.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(value);
        *self.seen.write().unwrap_or_else(|e| e.into_inner()) = now;
        Ok(())
    }

    /// What was made of the file when last loaded.
    pub fn get(&self) -> Arc<T> {
        self.value.read().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

fn stamp(path: &Path) -> Option<(SystemTime, u64)> {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.modified().ok()?, meta.len()))
}
