//! The ingest's shared types, a leaf that the verifying loop, the commit and the read side
//! all use without using each other: what one commit writes ([`Batch`], its quarantine and
//! fork records) and the progress the ingest reports after each commit.

use event_store_core::{Hash, MunicipalityCode};

use crate::verifier::{Quarantine, Reason, Segment};

/// What the ingest reports after each commit. An instance that does not lead reports the
/// leader's word from the lease row as `connected` and `behind`.
#[derive(Debug, Clone, Default)]
pub struct IngestProgress {
    /// Commits so far (by this process).
    pub commits: u64,
    /// Verified events committed so far (by this process).
    pub events: u64,
    pub connected: bool,
    /// The ingest stream held, two stall checks ago, messages the ingest has still not read
    /// (a consumer lost or a reader falling behind): no node's figures are known current.
    pub behind: bool,
    pub last_error: Option<String>,
}

impl IngestProgress {
    /// Whether what was verified is as recent as what the nodes have published, as far as the
    /// ingest can tell: connected and reading the ingest stream as fast as it fills.
    pub fn current(&self) -> bool {
        self.connected && !self.behind
    }
}

/// What the next commit writes.
#[derive(Debug, Default)]
pub(crate) struct Batch {
    pub segments: Vec<Segment>,
    pub events: usize,
    /// Bytes of the segments' events.
    pub bytes: usize,
    pub quarantine: Vec<QuarantineRecord>,
    pub forks: Vec<ForkRecord>,
    /// Events at or below the verified size, to compare with the stored bytes.
    pub check_events: Vec<(MunicipalityCode, u64, [u8; 32], QuarantineRecord)>,
    /// Checkpoints for an already verified size, to compare with the stored tree.
    pub check_roots: Vec<(MunicipalityCode, u64, [u8; 32], String, QuarantineRecord)>,
}

impl Batch {
    /// What the commit writes, counted against its size limit: verified events, quarantine
    /// records, forks and checks, so a flood of junk is committed (and bounded) as events are.
    pub fn records(&self) -> usize {
        self.events
            + self.quarantine.len()
            + self.forks.len()
            + self.check_events.len()
            + self.check_roots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.segments.is_empty()
            && self.quarantine.is_empty()
            && self.forks.is_empty()
            && self.check_events.is_empty()
            && self.check_roots.is_empty()
    }
}

/// A quarantine record with the message it is about.
#[derive(Debug, Clone)]
pub(crate) struct QuarantineRecord {
    pub code: String,
    pub subject: String,
    pub seq: Option<u64>,
    pub reason: Reason,
    pub detail: String,
    /// The message's first [`QUARANTINE_PAYLOAD_MAX`] bytes, and its whole length.
    pub payload: Vec<u8>,
    pub payload_len: usize,
    pub stream_seq: Option<u64>,
}

/// Bytes of a quarantined message kept with its record: enough to see what it was, while
/// whoever publishes junk cannot fill the database at a megabyte a message.
pub(crate) const QUARANTINE_PAYLOAD_MAX: usize = 4 * 1024;

impl QuarantineRecord {
    pub fn new(q: Quarantine, subject: &str, payload: &[u8], stream_seq: u64) -> Self {
        Self::with(
            q.code.to_string(),
            subject,
            q.seq,
            q.reason,
            q.detail,
            payload,
            stream_seq,
        )
    }

    /// A record of `payload` (kept up to [`QUARANTINE_PAYLOAD_MAX`] bytes); `stream_seq` 0 is
    /// a message not read from the ingest stream.
    pub fn with(
        code: String,
        subject: &str,
        seq: Option<u64>,
        reason: Reason,
        detail: String,
        payload: &[u8],
        stream_seq: u64,
    ) -> Self {
        Self {
            code,
            subject: subject.to_owned(),
            seq,
            reason,
            detail,
            payload: payload[..payload.len().min(QUARANTINE_PAYLOAD_MAX)].to_vec(),
            payload_len: payload.len(),
            stream_seq: (stream_seq > 0).then_some(stream_seq),
        }
    }
}

/// A second root seen for an accepted size.
#[derive(Debug, Clone)]
pub(crate) struct ForkRecord {
    pub code: MunicipalityCode,
    pub size: u64,
    pub accepted_root: Hash,
    pub other_root: Hash,
    pub other_note: String,
}
