//! The log's typed errors: what a caller can act on (a conflict, a reused id, a batch out of
//! bounds) apart from what only an operator can (a database failure, corrupt stored state).

use event_store_core::{EnvelopeError, EventId, StreamId, StreamVersion};

/// Everything the log can refuse or fail with.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("stream {stream} is at version {}, expected {expected}", actual.0)]
    Conflict {
        stream: StreamId,
        expected: String,
        actual: StreamVersion,
    },
    #[error("event id {0} is already in the log with different content")]
    EventIdReused(EventId),
    #[error("event id {0} appears twice in one batch")]
    DuplicateInBatch(EventId),
    #[error("a batch must hold 1 to {max} events, got {len}")]
    BatchSize { len: usize, max: usize },
    #[error("invalid event: {0}")]
    Envelope(#[from] EnvelopeError),
    #[error("{what} is out of range: {detail}")]
    OutOfRange { what: &'static str, detail: String },
    #[error("this database holds the log of {found}, not {expected}")]
    WrongLog { expected: String, found: String },
    #[error("stored log state is corrupt: {0}")]
    Corrupt(String),
    #[error("database error: {0}")]
    Database(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("timed out waiting for the log")]
    Timeout,
}

impl StoreError {
    /// Wraps a backend's database error.
    pub fn database(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Database(Box::new(e))
    }
}
