//! The ingest's shared types, a leaf that the verifying loop, the commit and the read side
//! all use without using each other: what one commit writes ([`Batch`], its quarantine and
//! fork records) and the progress the ingest reports after each commit.

use event_store_core::{Hash, MunicipalityCode};

use crate::verifier::{Quarantine, Reason, Segment};

/// What the ingest reports after each commit.
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
    pub quarantine: Vec<QuarantineRecord>,
    pub forks: Vec<ForkRecord>,
    /// Events at or below the verified size, to compare with the stored bytes.
    pub check_events: Vec<(MunicipalityCode, u64, [u8; 32], QuarantineRecord)>,
    /// Checkpoints for an already verified size, to compare with the stored tree.
    pub check_roots: Vec<(MunicipalityCode, u64, [u8; 32], String, QuarantineRecord)>,
}

impl Batch {
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
    pub payload: Vec<u8>,
    pub stream_seq: Option<u64>,
}

impl QuarantineRecord {
    pub fn new(q: Quarantine, subject: &str, payload: &[u8], stream_seq: u64) -> Self {
        Self {
            code: q.code.to_string(),
            subject: subject.to_owned(),
            seq: q.seq,
            reason: q.reason,
            detail: q.detail,
            payload: payload.to_vec(),
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
