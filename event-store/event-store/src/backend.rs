//! The storage trait every backend implements. It speaks rows, not rules: the log engine in
//! this crate decides sequence numbers, hashes and checkpoints, so SQLite and PostgreSQL cannot
//! drift apart in anything but SQL.

use std::future::Future;

use event_store_core::{
    EventId, Frontier, Hash, LogSeq, NodeId, StreamId, StreamVersion, Timestamp,
};

use crate::error::StoreError;

/// One stored event: its position, the columns indexed for lookups, and its canonical bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventRow {
    pub seq: LogSeq,
    pub event_id: EventId,
    pub stream_id: StreamId,
    pub stream_version: StreamVersion,
    pub leaf_hash: Hash,
    pub bytes: Vec<u8>,
}

/// The log's head: the tree's right edge and when it was last checkpointed. One row, updated
/// in the same transaction as every append.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Head {
    pub frontier: Frontier,
    pub last_checkpoint_size: u64,
    pub last_checkpoint_at: Option<Timestamp>,
}

impl Head {
    /// Number of events in the log.
    pub fn size(&self) -> u64 {
        self.frontier.size()
    }
}

/// A checkpoint as stored: its size and root (for lookups) and the signed note (the record).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredCheckpoint {
    pub size: u64,
    pub root: Hash,
    pub note: String,
    pub created_at: Timestamp,
}

/// What a log database says about itself, written once when it is created.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogMeta {
    /// The municipality whose log this is (KATOTTG code as text).
    pub municipality: String,
    /// The verifier key of the node that signs its checkpoints.
    pub verifier_key: String,
}

/// Storage for one node's log. A SQL backend gets it by implementing `sql::SqlBackend` (with
/// the `sqlx` feature), which brings the shared read queries.
pub trait Backend: Send + Sync + 'static {
    /// A write transaction holding the log's write lock.
    type Tx: WriteTx;

    /// Starts a write transaction; writers are serialised by the database, so two processes
    /// sharing one database still never produce a gap or a duplicate.
    fn begin_write(&self) -> impl Future<Output = Result<Self::Tx, StoreError>> + Send;

    /// The log's identity, if it has been initialised.
    fn meta(&self) -> impl Future<Output = Result<Option<LogMeta>, StoreError>> + Send;

    /// Records the log's identity; fails if one is already recorded.
    fn init_meta(&self, meta: &LogMeta) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The committed head.
    fn head(&self) -> impl Future<Output = Result<Head, StoreError>> + Send;

    /// Events with `seq >= from`, in order, at most `limit`.
    fn read_events(
        &self,
        from: LogSeq,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<EventRow>, StoreError>> + Send;

    /// The event with this id, if the log has it.
    fn event_by_id(
        &self,
        id: EventId,
    ) -> impl Future<Output = Result<Option<EventRow>, StoreError>> + Send;

    /// A stream's events with `version >= from`, in order, at most `limit`.
    fn read_stream(
        &self,
        stream: StreamId,
        from: StreamVersion,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<EventRow>, StoreError>> + Send;

    /// The stored hashes of nodes `start..end` at a stored level (level 0: leaf hashes), as
    /// `(index, hash)` in index order. Missing nodes are simply absent.
    fn read_hashes(
        &self,
        level: u8,
        start: u64,
        end: u64,
    ) -> impl Future<Output = Result<Vec<(u64, Hash)>, StoreError>> + Send;

    /// Checkpoints with `size >= from_size`, by size, at most `limit`.
    fn checkpoints(
        &self,
        from_size: u64,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<StoredCheckpoint>, StoreError>> + Send;

    /// The checkpoint with the largest size.
    fn latest_checkpoint(
        &self,
    ) -> impl Future<Output = Result<Option<StoredCheckpoint>, StoreError>> + Send;

    /// A reader's saved position (see [`CURSOR_NAME_LEN_MAX`]).
    fn cursor(&self, name: &str) -> impl Future<Output = Result<Option<u64>, StoreError>> + Send;

    /// Saves a reader's position durably.
    fn set_cursor(
        &self,
        name: &str,
        position: u64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// Longest cursor name accepted.
pub const CURSOR_NAME_LEN_MAX: usize = 64;

/// Checks a cursor name: 1 to [`CURSOR_NAME_LEN_MAX`] bytes of ASCII letters, digits, `.`, `-`
/// and `_`.
pub fn check_cursor_name(name: &str) -> Result<(), StoreError> {
    let ok = !name.is_empty()
        && name.len() <= CURSOR_NAME_LEN_MAX
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(StoreError::OutOfRange {
            what: "cursor name",
            detail: format!("{name:?}"),
        })
    }
}

/// The operations of one write transaction. Dropping it without `commit` rolls back.
pub trait WriteTx: Send {
    /// The head, as of this transaction.
    fn head(&mut self) -> impl Future<Output = Result<Head, StoreError>> + Send;

    /// The stored events with these ids (any order).
    fn find_events(
        &mut self,
        ids: &[EventId],
    ) -> impl Future<Output = Result<Vec<EventRow>, StoreError>> + Send;

    /// A stream's current version (0 if it has no event).
    fn stream_version(
        &mut self,
        stream: StreamId,
    ) -> impl Future<Output = Result<StreamVersion, StoreError>> + Send;

    /// Inserts events (already numbered and hashed). A duplicate event id is
    /// `StoreError::EventIdReused`; a duplicate stream version is a `Conflict`.
    fn insert_events(
        &mut self,
        rows: &[EventRow],
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Inserts completed subtree hashes at stored levels above 0.
    fn insert_nodes(
        &mut self,
        nodes: &[(NodeId, Hash)],
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Inserts a checkpoint.
    fn insert_checkpoint(
        &mut self,
        checkpoint: &StoredCheckpoint,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Replaces the head.
    fn set_head(&mut self, head: &Head) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Commits.
    fn commit(self) -> impl Future<Output = Result<(), StoreError>> + Send;
}

fn column_u64(name: &'static str, value: i64) -> Result<u64, StoreError> {
    u64::try_from(value).map_err(|_| StoreError::Corrupt(format!("negative {name} {value}")))
}

fn column_hash(name: &'static str, bytes: &[u8]) -> Result<Hash, StoreError> {
    bytes
        .try_into()
        .map_err(|_| StoreError::Corrupt(format!("{name} of {} bytes", bytes.len())))
}

/// Converts a log position to the signed integer SQL databases store.
pub fn sql_int(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

impl EventRow {
    /// Rebuilds a row from its SQL columns, checking their shapes.
    pub fn from_columns(
        seq: i64,
        event_id: &[u8],
        stream_id: &[u8],
        stream_version: i64,
        leaf_hash: &[u8],
        bytes: Vec<u8>,
    ) -> Result<Self, StoreError> {
        Ok(Self {
            seq: LogSeq(column_u64("seq", seq)?),
            event_id: EventId::from_slice(event_id).ok_or_else(|| {
                StoreError::Corrupt(format!("event id of {} bytes", event_id.len()))
            })?,
            stream_id: StreamId::from_slice(stream_id).ok_or_else(|| {
                StoreError::Corrupt(format!("stream id of {} bytes", stream_id.len()))
            })?,
            stream_version: StreamVersion(column_u64("stream version", stream_version)?),
            leaf_hash: column_hash("leaf hash", leaf_hash)?,
            bytes,
        })
    }
}

impl Head {
    /// Rebuilds the head from its SQL columns.
    pub fn from_columns(
        size: i64,
        frontier: &[u8],
        last_checkpoint_size: i64,
        last_checkpoint_at: Option<i64>,
    ) -> Result<Self, StoreError> {
        let frontier = Frontier::from_parts(column_u64("tree size", size)?, frontier)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let last_checkpoint_size = column_u64("last checkpoint size", last_checkpoint_size)?;
        // The log asserts this when it writes the head; read back, it is input to check.
        if last_checkpoint_size > frontier.size() {
            return Err(StoreError::Corrupt(format!(
                "last checkpoint size {last_checkpoint_size} is beyond the tree size {}",
                frontier.size()
            )));
        }
        Ok(Self {
            frontier,
            last_checkpoint_size,
            last_checkpoint_at: last_checkpoint_at.map(Timestamp),
        })
    }
}

impl StoredCheckpoint {
    /// Rebuilds a checkpoint from its SQL columns.
    pub fn from_columns(
        size: i64,
        root: &[u8],
        note: String,
        created_at: i64,
    ) -> Result<Self, StoreError> {
        Ok(Self {
            size: column_u64("checkpoint size", size)?,
            root: column_hash("checkpoint root", root)?,
            note,
            created_at: Timestamp(created_at),
        })
    }
}

/// Converts `(index, hash)` columns of a hash read.
pub fn hash_row(index: i64, hash: &[u8]) -> Result<(u64, Hash), StoreError> {
    Ok((
        column_u64("node index", index)?,
        column_hash("node hash", hash)?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_head_checkpointed_beyond_its_tree_is_corrupt() {
        assert!(Head::from_columns(0, &[], 0, None).is_ok());
        let err = Head::from_columns(0, &[], 1, None).unwrap_err();
        assert!(matches!(err, StoreError::Corrupt(_)), "{err}");
    }
}
