//! Files operators keep secret: a node's signing key and pseudonym secret, the association's
//! witness key and admin token. They are read through [`read_secret_file`], which refuses a
//! file its group or others may access, so a key left world-readable is noticed at start-up
//! rather than after it leaked.

use std::fmt;
use std::io::Read as _;
use std::path::{Path, PathBuf};

/// Permission bits a secret file must not have: any access by its group or by others.
pub const SECRET_FILE_FORBIDDEN_MODE: u32 = 0o077;

/// Why a secret file was not read.
#[derive(Debug)]
pub enum SecretFileError {
    /// The file could not be opened or read (missing, unreadable, not UTF-8).
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The file's group or others have permissions on it (`mode & 0o077 != 0`).
    Exposed { path: PathBuf, mode: u32 },
}

impl SecretFileError {
    /// Whether the file does not exist (for secrets that are optional).
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::Read { source, .. } if source.kind() == std::io::ErrorKind::NotFound)
    }
}

impl fmt::Display for SecretFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Read { path, source } => write!(f, "failed to read {}: {source}", path.display()),
            Self::Exposed { path, mode } => write!(
                f,
                "{} holds a secret but its mode is {mode:04o}, so its group or others may read \
                 it; refusing to use it: run `chmod 600 {}` (and consider the secret exposed)",
                path.display(),
                path.display()
            ),
        }
    }
}

impl std::error::Error for SecretFileError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Read { source, .. } => Some(source),
            Self::Exposed { .. } => None,
        }
    }
}

/// Reads a secret file as text. On Unix, a file whose group or others have any permission
/// bit ([`SECRET_FILE_FORBIDDEN_MODE`]) is refused with [`SecretFileError::Exposed`]; the mode
/// checked is the opened file's (through a symlink, its target's), so it is the file read.
pub fn read_secret_file(path: &Path) -> Result<String, SecretFileError> {
    let read = |source| SecretFileError::Read {
        path: path.to_owned(),
        source,
    };
    let mut file = std::fs::File::open(path).map_err(read)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = file.metadata().map_err(read)?.permissions().mode() & 0o7777;
        if mode & SECRET_FILE_FORBIDDEN_MODE != 0 {
            return Err(SecretFileError::Exposed {
                path: path.to_owned(),
                mode,
            });
        }
    }
    let mut text = String::new();
    file.read_to_string(&mut text).map_err(read)?;
    Ok(text)
}

/// Writes a new secret file readable and writable by its owner only (`0600` on Unix); refuses
/// to overwrite an existing file (`ErrorKind::AlreadyExists`), so a secret is never replaced
/// by accident.
pub fn write_secret_file(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_written_secret_reads_back_and_is_never_overwritten() {
        let dir = std::env::temp_dir().join(format!("wire-write-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("token");
        let _ = std::fs::remove_file(&path);
        write_secret_file(&path, "first\n").unwrap();
        assert_eq!(read_secret_file(&path).unwrap(), "first\n");
        let err = write_secret_file(&path, "second\n").unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::AlreadyExists);
        assert_eq!(read_secret_file(&path).unwrap(), "first\n");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[cfg(unix)]
    fn with_mode(dir: &Path, name: &str, mode: u32) -> PathBuf {
        use std::os::unix::fs::PermissionsExt as _;
        let path = dir.join(name);
        std::fs::write(&path, "s3cret\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        path
    }

    #[cfg(unix)]
    #[test]
    fn only_owner_only_files_are_read() {
        let dir = std::env::temp_dir().join(format!("wire-secret-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for mode in [0o600, 0o400, 0o700] {
            let path = with_mode(&dir, &format!("ok-{mode:o}"), mode);
            assert_eq!(read_secret_file(&path).unwrap(), "s3cret\n", "{mode:o}");
        }
        for mode in [0o644, 0o640, 0o604, 0o660, 0o666, 0o601, 0o610] {
            let path = with_mode(&dir, &format!("loose-{mode:o}"), mode);
            let err = read_secret_file(&path).unwrap_err();
            let SecretFileError::Exposed { mode: seen, .. } = &err else {
                panic!("{mode:o}: {err}");
            };
            assert_eq!(*seen, mode);
            let message = err.to_string();
            assert!(message.contains(&format!("{mode:04o}")), "{message}");
            assert!(
                message.contains(&format!("chmod 600 {}", path.display())),
                "{message}"
            );
            assert!(!message.contains("s3cret"), "{message}");
        }
        // Through a symlink the target's mode counts.
        let target = with_mode(&dir, "target", 0o644);
        let link = dir.join("link");
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert!(matches!(
            read_secret_file(&link),
            Err(SecretFileError::Exposed { .. })
        ));
        let missing = read_secret_file(&dir.join("missing")).unwrap_err();
        assert!(missing.is_not_found(), "{missing}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
