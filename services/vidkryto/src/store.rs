//! Opening a node's log from what an operator types (a SQLite file path, the default, or a
//! PostgreSQL URL, read by the node crate's `StoreLocation`, the one parser the node itself
//! uses) and the node's key files, so every subcommand agrees.

use std::path::Path;

use anyhow::Context;
use event_store::{Backend, CheckpointPolicy, Log};
use event_store_core::MunicipalityCode;
use event_store_core::checkpoint::{NoteSigner, NoteVerifier};

/// Opens the log database named by `$db` (read by the node's one parser,
/// `node::store::StoreLocation::parse`) and evaluates `$body` with `$b` bound to its backend, whichever
/// kind it is (closures cannot be generic over the backend type).
macro_rules! with_backend {
    ($db:expr, $create:expr, |$b:ident| $body:expr) => {
        match ::node::store::open_backend(
            &::anyhow::Context::context(::node::store::StoreLocation::parse($db), "--db")?,
            $create,
        )
        .await?
        {
            ::node::store::AnyBackend::Sqlite($b) => $body,
            ::node::store::AnyBackend::Postgres($b) => $body,
        }
    };
}
pub(crate) use with_backend;

/// Generates a node signing key for `municipality` and writes it to `path`, readable only by
/// its owner. Refuses to overwrite an existing key.
pub fn create_key_file(path: &Path, municipality: &MunicipalityCode) -> anyhow::Result<NoteSigner> {
    let signer = node::config::new_node_key(municipality)?;
    wire::write_secret_file(path, &format!("{}\n", signer.to_private_text()))
        .with_context(|| format!("failed to write {}", path.display()))?;
    Ok(signer)
}

/// Reads a node signing key, refused when its group or others may access it
/// (`wire::read_secret_file`).
pub fn read_key_file(path: &Path) -> anyhow::Result<NoteSigner> {
    let text = wire::read_secret_file(path).context("key file")?;
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
