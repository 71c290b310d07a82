//! The relay's typed errors, split by what follows from them: a bad setting or a log behind the
//! relay's own saved cursors ends the relay; anything else is retried after a backoff. Nothing
//! on the stream ends it: what others published there is passed over (see `reconcile`).

use event_store::StoreError;

/// Everything the relay can fail with.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    #[error("invalid relay setting {field}: {detail}")]
    Config { field: &'static str, detail: String },
    #[error("failed to connect to nats")]
    Connect(#[source] async_nats::ConnectError),
    #[error("failed to create or open stream {stream}")]
    Stream {
        stream: String,
        #[source]
        source: async_nats::jetstream::context::CreateStreamError,
    },
    #[error("failed to add the current subjects and limits to stream {stream}: {detail}")]
    UpdateStream { stream: String, detail: String },
    #[error("failed to read {what} from the stream")]
    ReadStream {
        what: String,
        #[source]
        source: async_nats::jetstream::stream::LastRawMessageError,
    },
    #[error("failed to publish {what}")]
    Publish {
        what: String,
        #[source]
        source: async_nats::jetstream::context::PublishError,
    },
    #[error("{what} was stored in stream {found}, expected {expected}")]
    WrongStream {
        what: String,
        expected: String,
        found: String,
    },
    #[error("the log returned event {found} where {expected} was expected")]
    LogOrder { expected: u64, found: u64 },
    #[error("the {what} is at {position} but the log holds only {log_size} events")]
    AheadOfLog {
        what: &'static str,
        position: u64,
        log_size: u64,
    },
    #[error("log error")]
    Log(#[from] StoreError),
    #[error("relay task failed: {0}")]
    Task(String),
}

impl RelayError {
    /// Whether retrying cannot help: the relay stops and reports it.
    pub fn is_fatal(&self) -> bool {
        matches!(
            self,
            Self::Config { .. } | Self::Connect(_) | Self::AheadOfLog { .. } | Self::Task(_)
        )
    }
}
