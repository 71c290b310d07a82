//! Where a node's log lives, from what an operator types (`storage` in `node.toml`,
//! `--storage`, `VIDKRYTO_NODE_STORAGE`, `vidkryto log --db`): a SQLite file path or a
//! PostgreSQL URL, and opening it. One parser, so the node and every `vidkryto` subcommand
//! read the same text the same way.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use event_store_postgres::PgBackend;
use event_store_sqlite::{Durability, SqliteBackend};

/// The prefixes that make a location a PostgreSQL URL (kept whole, for sqlx).
const POSTGRES_PREFIXES: [&str; 2] = ["postgres://", "postgresql://"];
/// The prefixes stripped from a SQLite path, longest first (`sqlite:///abs/log.sqlite` is
/// `/abs/log.sqlite`, `sqlite:log.sqlite` is `log.sqlite`).
const SQLITE_PREFIXES: [&str; 2] = ["sqlite://", "sqlite:"];

/// Where a log lives. Its `Debug` and `Display` show a PostgreSQL URL through
/// `wire::redacted_url` (no user, password or query).
#[derive(Clone, PartialEq, Eq)]
pub enum StoreLocation {
    /// A SQLite file (the node's embedded default).
    Sqlite(PathBuf),
    /// A PostgreSQL connection URL, `postgres://…` or `postgresql://…`.
    Postgres(String),
}

impl std::fmt::Debug for StoreLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Sqlite(path) => f.debug_tuple("Sqlite").field(path).finish(),
            Self::Postgres(url) => f
                .debug_tuple("Postgres")
                .field(&wire::redacted_url(url))
                .finish(),
        }
    }
}

/// For messages: a SQLite file's path, or a PostgreSQL URL without its secrets.
impl std::fmt::Display for StoreLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Sqlite(path) => write!(f, "{}", path.display()),
            Self::Postgres(url) => f.write_str(&wire::redacted_url(url)),
        }
    }
}

/// Why a location was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StoreLocationError {
    #[error("no log location given: expected a SQLite file path or a postgres:// URL")]
    Empty,
}

impl StoreLocation {
    /// `postgres://…` and `postgresql://…` are PostgreSQL URLs, kept as given; a `sqlite://`
    /// or `sqlite:` prefix is stripped and the rest is a SQLite file path; anything else is a
    /// SQLite file path as it stands. An empty (or blank) location, or a bare prefix, is
    /// refused.
    pub fn parse(text: &str) -> Result<Self, StoreLocationError> {
        if POSTGRES_PREFIXES.iter().any(|p| text.starts_with(p)) {
            return Ok(Self::Postgres(text.to_owned()));
        }
        let path = SQLITE_PREFIXES
            .iter()
            .find_map(|p| text.strip_prefix(p))
            .unwrap_or(text);
        if path.trim().is_empty() {
            return Err(StoreLocationError::Empty);
        }
        Ok(Self::Sqlite(PathBuf::from(path)))
    }

    /// A relative SQLite path taken as relative to `dir` (a node's directory); absolute paths
    /// and PostgreSQL URLs are unchanged.
    pub fn relative_to(self, dir: &Path) -> Self {
        match self {
            Self::Sqlite(path) if path.is_relative() => Self::Sqlite(dir.join(path)),
            other => other,
        }
    }
}

/// A backend of either kind, for code that calls a generic function once per kind.
#[derive(Debug)]
pub enum AnyBackend {
    Sqlite(SqliteBackend),
    Postgres(PgBackend),
}

/// Opens the log's database. A SQLite file must already exist unless `create` is set, so a
/// mistyped path is an error rather than a new empty log.
pub async fn open_backend(location: &StoreLocation, create: bool) -> anyhow::Result<AnyBackend> {
    Ok(match location {
        StoreLocation::Sqlite(path) => {
            if !create && !path.exists() {
                bail!("no log database at {}", path.display());
            }
            let backend = SqliteBackend::open(path, Durability::Full)
                .await
                .with_context(|| format!("failed to open the SQLite log {}", path.display()))?;
            AnyBackend::Sqlite(backend)
        }
        StoreLocation::Postgres(url) => AnyBackend::Postgres(
            PgBackend::connect(url)
                .await
                .context("failed to open the PostgreSQL log")?,
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sqlite(path: &str) -> StoreLocation {
        StoreLocation::Sqlite(PathBuf::from(path))
    }

    #[test]
    fn postgres_urls_are_kept_whole() {
        for url in [
            "postgres://postgres@127.0.0.1:5432/node",
            "postgresql://user:secret@db.example/node?sslmode=require",
        ] {
            assert_eq!(
                StoreLocation::parse(url),
                Ok(StoreLocation::Postgres(url.to_owned()))
            );
        }
    }

    #[test]
    fn debug_and_display_hide_a_database_password() {
        for url in [
            "postgresql://user:s3cret@db.example/node",
            "postgres://user@db.example/node?password=s3cret&sslmode=require",
        ] {
            let location = StoreLocation::parse(url).unwrap();
            for printed in [format!("{location:?}"), location.to_string()] {
                assert!(!printed.contains("s3cret"), "{printed}");
                assert!(printed.contains("db.example/node"), "{printed}");
            }
        }
    }

    #[test]
    fn sqlite_prefixes_are_stripped() {
        assert_eq!(
            StoreLocation::parse("sqlite:node.sqlite"),
            Ok(sqlite("node.sqlite"))
        );
        assert_eq!(
            StoreLocation::parse("sqlite://node.sqlite"),
            Ok(sqlite("node.sqlite"))
        );
        assert_eq!(
            StoreLocation::parse("sqlite:///var/lib/vidkryto/node.sqlite"),
            Ok(sqlite("/var/lib/vidkryto/node.sqlite"))
        );
        assert_eq!(
            StoreLocation::parse("sqlite:/abs/node.sqlite"),
            Ok(sqlite("/abs/node.sqlite"))
        );
    }

    #[test]
    fn anything_else_is_a_sqlite_path() {
        assert_eq!(
            StoreLocation::parse("node.sqlite"),
            Ok(sqlite("node.sqlite"))
        );
        assert_eq!(
            StoreLocation::parse("/abs/node.sqlite"),
            Ok(sqlite("/abs/node.sqlite"))
        );
        assert_eq!(
            StoreLocation::parse("logs/a b.sqlite"),
            Ok(sqlite("logs/a b.sqlite"))
        );
        // Only the exact schemes make a URL.
        assert_eq!(StoreLocation::parse("postgres:x"), Ok(sqlite("postgres:x")));
        assert_eq!(
            StoreLocation::parse("node.sqlite"),
            Ok(sqlite("node.sqlite"))
        );
    }

    #[test]
    fn an_empty_location_is_refused_clearly() {
        for empty in ["", "   ", "sqlite:", "sqlite://", "sqlite: "] {
            assert_eq!(
                StoreLocation::parse(empty),
                Err(StoreLocationError::Empty),
                "{empty:?}"
            );
        }
        let message = StoreLocationError::Empty.to_string();
        assert!(message.contains("no log location given"), "{message}");
    }

    #[test]
    fn relative_sqlite_paths_resolve_against_the_node_directory() {
        let dir = Path::new("/srv/node");
        assert_eq!(
            sqlite("node.sqlite").relative_to(dir),
            sqlite("/srv/node/node.sqlite")
        );
        assert_eq!(
            sqlite("/abs/node.sqlite").relative_to(dir),
            sqlite("/abs/node.sqlite")
        );
        let url = StoreLocation::Postgres("postgres://h/db".into());
        assert_eq!(url.clone().relative_to(dir), url);
    }

    #[tokio::test]
    async fn a_missing_sqlite_file_is_only_created_when_asked() {
        let dir = tempfile::tempdir().unwrap();
        let location = sqlite("log.sqlite").relative_to(dir.path());
        let err = open_backend(&location, false).await.unwrap_err();
        assert!(format!("{err:#}").contains("no log database"), "{err:#}");
        assert!(matches!(
            open_backend(&location, true).await.unwrap(),
            AnyBackend::Sqlite(_)
        ));
    }
}
