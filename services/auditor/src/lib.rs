//! The auditor (`vidkryto audit …`): for someone who trusts neither the municipalities nor the
//! association. `export` pulls the association's verified history into an archive (format in
//! `ARCHIVE.md`); `verify` checks every byte, root, signature, cosignature and rule offline and
//! names each hromada's first failure; `recompute` rebuilds the national projections from the
//! archive alone to the digest the association publishes; `prove` makes a citizen's receipt.

pub mod archive;
pub mod decode;
pub mod export;
pub mod prove;
pub mod recompute;
pub mod statement;
pub mod verify;

pub use archive::{Archive, ArchiveError};

/// What can go wrong in an audit (a verification *finding* is not an error: it is in the
/// report).
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error(transparent)]
    Archive(#[from] ArchiveError),
    /// The association is unreachable or answered something unusable.
    #[error("association: {0}")]
    Remote(String),
    /// Bad arguments or an archive that cannot serve the request.
    #[error("{0}")]
    Input(String),
    /// A receipt did not verify.
    #[error("verification failed: {0}")]
    Failed(String),
}

/// A progress bar of `total` events drawn with `template` (the default style if it does not
/// parse), or a hidden one when `show` is false.
pub(crate) fn progress_bar(show: bool, total: u64, template: &str) -> indicatif::ProgressBar {
    if !show {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(total);
    if let Ok(style) = indicatif::ProgressStyle::with_template(template) {
        bar.set_style(style);
    }
    bar
}
