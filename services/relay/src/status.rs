//! What the relay reports and where it keeps its place: the status health checks and metrics
//! read, and the names of the log cursors holding the acknowledged positions.

/// The log cursor holding the last event sequence JetStream acknowledged.
pub const EVENT_CURSOR: &str = "relay.jetstream";
/// The log cursor holding the size of the last checkpoint JetStream acknowledged.
pub const CHECKPOINT_CURSOR: &str = "relay.jetstream.ckpt";

/// What the relay reports for health checks and metrics.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RelayStatus {
    /// The last log sequence JetStream acknowledged (0 before the first).
    pub acked_seq: u64,
    /// The size of the last checkpoint JetStream acknowledged (0 before the first).
    pub published_checkpoint_size: u64,
    /// Whether the relay is talking to JetStream (false while it backs off after an error).
    pub connected: bool,
    /// The last error, kept until the relay has made progress again.
    pub last_error: Option<String>,
}
