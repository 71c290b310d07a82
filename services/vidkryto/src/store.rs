//! Opening a node's log from what an operator types: a SQLite file path (the default) or a
//! PostgreSQL URL, and the node's key file. One place, so every subcommand agrees.

use std::path::Path;

use anyhow::{Context, bail};
use event_store::{Backend, CheckpointPolicy, Log};
use event_store_core::MunicipalityCode;
use event_store_core::checkpoint::{NoteSigner, NoteVerifier};
use event_store_postgres::PgBackend;
use event_store_sqlite::{Durability, SqliteBackend};

/// Where a log lives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoreLocation {
    Sqlite(std::path::PathBuf),
    Postgres(String),
}

impl StoreLocation {
    /// `postgres://…` / `postgresql://…` is PostgreSQL; anything else is a SQLite file path.
    pub fn parse(text: &str) -> Self {
        if text.starts_with("postgres://") || text.starts_with("postgresql://") {
            Self::Postgres(text.to_owned())
        } else {
            Self::Sqlite(text.strip_prefix("sqlite:").unwrap_or(text).into())
        }
    }
}

/// A backend of either kind, for code that calls a generic function once per kind.
#[derive(Debug)]
pub enum AnyBackend {
    Sqlite(SqliteBackend),
    Postgres(PgBackend),
}

/// Opens the log database named by `$db` and evaluates `$body` with `$b` bound to its
/// backend, whichever kind it is (closures cannot be generic over the backend type).
#[macro_export]
macro_rules! with_backend {
    ($db:expr, $create:expr, |$b:ident| $body:expr) => {
        match $crate::store::open_backend(&$crate::store::StoreLocation::parse($db), $create)
            .await?
        {
            $crate::store::AnyBackend::Sqlite($b) => $body,
            $crate::store::AnyBackend::Postgres($b) => $body,
        }
    };
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
                .with_context(|| format!("failed to open SQLite log {}", path.display()))?;
            AnyBackend::Sqlite(backend)
        }
        StoreLocation::Postgres(url) => AnyBackend::Postgres(
            PgBackend::connect(url)
                .await
                .context("failed to open PostgreSQL log")?,
        ),
    })
}

/// Generates a node signing key for `municipality` and writes it to `path`, readable only by
/// its owner. Refuses to overwrite an existing key.
pub fn create_key_file(path: &Path, municipality: &MunicipalityCode) -> anyhow::Result<NoteSigner> {
    let signer = node::config::new_node_key(municipality)?;
    node::config::write_private(path, &format!("{}\n", signer.to_private_text()))?;
    Ok(signer)
}

/// Reads a node signing key.
pub fn read_key_file(path: &Path) -> anyhow::Result<NoteSigner> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("failed to read key file {}", path.display()))?;
    NoteSigner::parse(&text)
        .with_context(|| format!("key file {} is not a node key", path.display()))
}

/// Reads a verifier key given as text or as `@path`.
pub fn read_verifier(arg: &str) -> anyhow::Result<NoteVerifier> {
    let text = match arg.strip_prefix('@') {
        Some(path) => {
            std::fs::read_to_string(path).with_context(|| format!("failed to read {path}"))?
        }
        None => arg.to_owned(),
    };
    NoteVerifier::parse(&text).context("not a verifier key (expected name+hash+base64)")
}

/// Opens the writer of a log.
pub async fn open_log<B: Backend>(
    backend: B,
    municipality: MunicipalityCode,
    signer: NoteSigner,
    policy: CheckpointPolicy,
) -> anyhow::Result<Log<B>> {
    Log::open(backend, municipality, signer, policy)
        .await
        .context("failed to open the log")
}
