//! Verification of a stored log: re-hash every leaf, check each event's position and identity
//! against its bytes, rebuild the tree and check every signed checkpoint on the way. Reports the
//! first bad sequence number and why; trusts nothing in the database but the key it is given.

use std::fmt;

use event_store_core::checkpoint::{NoteVerifier, SignedCheckpoint};
use event_store_core::{EnvelopeRef, Frontier, LogSeq, MunicipalityCode, merkle, origin_for};

use crate::backend::{Backend, EventRow, StoredCheckpoint};
use crate::error::StoreError;
use crate::proof;

/// Events read per query while verifying. Large enough to amortise a query, small enough
/// (a few MiB) to keep memory flat whatever the log's size.
pub const VERIFY_CHUNK_LEN: u32 = 8_192;
/// Threads that re-hash rows at once: the tree itself is extended on one.
const VERIFY_THREADS_MAX: usize = 4;
/// Fewer rows than this are checked on the calling thread; a thread costs tens of µs.
const PARALLEL_ROWS_MIN: usize = 2_048;
/// Checkpoints read per query while verifying.
const CHECKPOINT_PAGE_LEN: u32 = 1_000;

/// What is wrong at the first bad sequence number.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FailureKind {
    /// No event is stored at this sequence number (a gap).
    Missing,
    /// The stored bytes are not a valid envelope.
    Undecodable(String),
    /// The bytes carry another sequence number (events moved or swapped).
    WrongPosition { found: u64 },
    /// The bytes belong to another municipality's log.
    WrongMunicipality { found: String },
    /// An indexed column (event id, stream, stream version) disagrees with the bytes.
    ColumnMismatch(&'static str),
    /// The bytes do not hash to the stored leaf hash (the bytes were altered).
    LeafHashMismatch,
    /// The tree rebuilt from the stored events does not have the root the node signed at
    /// `checkpoint_size`: an event after the previous good checkpoint was altered.
    RootMismatch { checkpoint_size: u64 },
    /// A stored checkpoint does not parse or verify under the given key.
    BadCheckpoint {
        checkpoint_size: u64,
        reason: String,
    },
    /// The stored head (the tree's right edge used for the next append) disagrees with the
    /// tree rebuilt from the events.
    HeadMismatch,
}

impl fmt::Display for FailureKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Missing => f.write_str("event is missing (gap in the log)"),
            Self::Undecodable(e) => write!(f, "stored bytes do not decode: {e}"),
            Self::WrongPosition { found } => write!(f, "stored bytes are those of event {found}"),
            Self::WrongMunicipality { found } => {
                write!(f, "stored bytes belong to the log of {found}")
            }
            Self::ColumnMismatch(c) => write!(f, "stored {c} disagrees with the event's bytes"),
            Self::LeafHashMismatch => {
                f.write_str("stored bytes do not hash to the stored leaf hash")
            }
            Self::RootMismatch { checkpoint_size } => {
                write!(
                    f,
                    "rebuilt root differs from the signed checkpoint at size {checkpoint_size}"
                )
            }
            Self::BadCheckpoint {
                checkpoint_size,
                reason,
            } => {
                write!(
                    f,
                    "checkpoint at size {checkpoint_size} is invalid: {reason}"
                )
            }
            Self::HeadMismatch => f.write_str("stored head differs from the rebuilt tree"),
        }
    }
}

/// The first failure found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifyFailure {
    /// The first sequence number that is not as it must be.
    pub seq: u64,
    pub kind: FailureKind,
}

impl fmt::Display for VerifyFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sequence {}: {}", self.seq, self.kind)
    }
}

/// The outcome of verifying a range.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifyReport {
    pub from: u64,
    pub to: u64,
    pub events_checked: u64,
    pub checkpoints_checked: u64,
    /// The last checkpoint size that verified, if any.
    pub verified_checkpoint: Option<u64>,
    pub failure: Option<VerifyFailure>,
}

impl VerifyReport {
    /// Whether everything checked out.
    pub fn is_ok(&self) -> bool {
        self.failure.is_none()
    }
}

/// Verifies events `from..=to` (clamped to the log) of `municipality`'s log under `key`.
/// `to = None` means up to the newest event. Database errors are `Err`; anything wrong with
/// the stored log is a report with a failure.
pub async fn verify<B: Backend>(
    backend: &B,
    municipality: &MunicipalityCode,
    key: &NoteVerifier,
    from: u64,
    to: Option<u64>,
) -> Result<VerifyReport, StoreError> {
    let head = backend.head().await?;
    let from = from.max(1);
    let to = to.map_or(head.size(), |t| t.min(head.size()));
    if from > to {
        return Ok(Verifier::new(municipality, key, from, to, Frontier::new()).report);
    }

    // The tree before `from`, from the stored subtree hashes.
    let prefix = from - 1;
    let mut hashes = Vec::new();
    for node in Frontier::node_ids(prefix) {
        hashes.push(proof::subtree_hash(backend, node).await?);
    }
    let frontier = Frontier::from_node_hashes(prefix, hashes)
        .map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let mut v = Verifier::new(municipality, key, from, to, frontier);
    v.checkpoints = backend.checkpoints(from, CHECKPOINT_PAGE_LEN).await?;

    let mut rows = backend.read_events(LogSeq(from), VERIFY_CHUNK_LEN).await?;
    loop {
        let last = rows.last().map(|r| r.seq.0);
        let more = last.is_some_and(|l| l < to);
        // Read the next chunk while this one is hashed.
        let next = async {
            match (more, last) {
                (true, Some(l)) => backend
                    .read_events(LogSeq(l + 1), VERIFY_CHUNK_LEN)
                    .await
                    .map(Some),
                _ => Ok(None),
            }
        };
        let check = async { v.check_rows(&rows) };
        let (next, stop) = tokio::join!(next, check);
        if stop {
            return Ok(v.report);
        }
        // Checkpoints reached in this chunk may need the next page.
        while v.next_checkpoint >= v.checkpoints.len()
            && v.checkpoints.len() as u32 == CHECKPOINT_PAGE_LEN
        {
            let after = v.checkpoints.last().map_or(from, |c| c.size + 1);
            v.checkpoints = backend.checkpoints(after, CHECKPOINT_PAGE_LEN).await?;
            v.next_checkpoint = 0;
            if v.check_reached_checkpoints() {
                return Ok(v.report);
            }
        }
        match next? {
            Some(n) if !n.is_empty() => rows = n,
            _ => break,
        }
    }
    let head_root = (to == head.size()).then(|| head.frontier.root());
    Ok(v.finish(head_root))
}

/// The checks of [`verify`] over rows and checkpoints fed in order, whatever they are read
/// from: a database, or an auditor's archive.
#[derive(Debug)]
pub struct Verifier<'k> {
    municipality: MunicipalityCode,
    origin: String,
    key: &'k NoteVerifier,
    frontier: Frontier,
    checkpoints: Vec<StoredCheckpoint>,
    next_checkpoint: usize,
    last_good_checkpoint: Option<u64>,
    expected: u64,
    report: VerifyReport,
}

impl<'k> Verifier<'k> {
    /// A verifier of events `from..=to`, starting from the tree of the first `from - 1`.
    pub fn new(
        municipality: &MunicipalityCode,
        key: &'k NoteVerifier,
        from: u64,
        to: u64,
        prefix: Frontier,
    ) -> Self {
        debug_assert!(from > to || prefix.size() + 1 == from);
        Self {
            municipality: *municipality,
            origin: origin_for(municipality),
            key,
            frontier: prefix,
            checkpoints: Vec::new(),
            next_checkpoint: 0,
            last_good_checkpoint: None,
            expected: from,
            report: VerifyReport {
                from,
                to,
                events_checked: 0,
                checkpoints_checked: 0,
                verified_checkpoint: None,
                failure: None,
            },
        }
    }

    /// Adds checkpoints to check, in increasing size, all at least `from`.
    pub fn add_checkpoints(&mut self, checkpoints: impl IntoIterator<Item = StoredCheckpoint>) {
        self.checkpoints.extend(checkpoints);
    }

    /// Ends verification: a missing tail is a gap; `head_root` (the root the store will extend
    /// next) must equal the rebuilt root.
    pub fn finish(mut self, head_root: Option<merkle::Hash>) -> VerifyReport {
        if self.report.failure.is_none() {
            if self.expected <= self.report.to {
                self.fail(self.expected, FailureKind::Missing);
            } else if head_root.is_some_and(|r| r != self.frontier.root()) {
                self.fail(self.report.to, FailureKind::HeadMismatch);
            }
        }
        self.report
    }

    fn fail(&mut self, seq: u64, kind: FailureKind) {
        self.report.failure = Some(VerifyFailure { seq, kind });
    }

    /// Checks rows in sequence order; returns true when verification must stop (a failure,
    /// or past `to`).
    pub fn check_rows(&mut self, rows: &[EventRow]) -> bool {
        if self.report.failure.is_some() {
            return true;
        }
        let faults = self.check_rows_parallel(rows);
        for (row, fault) in rows.iter().zip(faults) {
            if self.expected > self.report.to {
                return true;
            }
            if row.seq.0 != self.expected {
                self.fail(self.expected, FailureKind::Missing);
                return true;
            }
            if let Some(kind) = fault {
                self.fail(row.seq.0, kind);
                return true;
            }
            self.frontier.push(row.leaf_hash, |_, _| {});
            // The rebuilt tree holds exactly the events checked so far.
            debug_assert_eq!(self.frontier.size(), self.expected);
            self.report.events_checked += 1;
            self.expected += 1;
            if self.check_reached_checkpoints() {
                return true;
            }
        }
        false
    }

    /// The per-row checks (decode, re-hash, identity), which do not depend on each other, on
    /// up to [`VERIFY_THREADS_MAX`] threads; the tree is then extended in order on one.
    fn check_rows_parallel(&self, rows: &[EventRow]) -> Vec<Option<FailureKind>> {
        let threads = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(VERIFY_THREADS_MAX);
        if threads < 2 || rows.len() < PARALLEL_ROWS_MIN {
            return rows.iter().map(|r| self.check_row(r)).collect();
        }
        let per_thread = rows.len().div_ceil(threads);
        std::thread::scope(|scope| {
            let handles: Vec<_> = rows
                .chunks(per_thread)
                .map(|chunk| {
                    scope.spawn(move || chunk.iter().map(|r| self.check_row(r)).collect::<Vec<_>>())
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| {
                    h.join().unwrap_or_else(|_| {
                        vec![Some(FailureKind::Undecodable(
                            "checker thread panicked".into(),
                        ))]
                    })
                })
                .collect()
        })
    }

    fn check_row(&self, row: &EventRow) -> Option<FailureKind> {
        let env = match EnvelopeRef::decode(&row.bytes) {
            Ok(env) => env,
            Err(e) => return Some(FailureKind::Undecodable(e.to_string())),
        };
        if merkle::leaf_hash(&row.bytes) != row.leaf_hash {
            return Some(FailureKind::LeafHashMismatch);
        }
        if env.seq != row.seq {
            return Some(FailureKind::WrongPosition { found: env.seq.0 });
        }
        if env.municipality != self.municipality {
            return Some(FailureKind::WrongMunicipality {
                found: env.municipality.to_string(),
            });
        }
        if env.event_id != row.event_id {
            return Some(FailureKind::ColumnMismatch("event id"));
        }
        if env.stream_id != row.stream_id {
            return Some(FailureKind::ColumnMismatch("stream id"));
        }
        if env.stream_version != row.stream_version {
            return Some(FailureKind::ColumnMismatch("stream version"));
        }
        None
    }

    /// Checks every loaded checkpoint the rebuilt tree has reached; true on failure.
    fn check_reached_checkpoints(&mut self) -> bool {
        while let Some(cp) = self.checkpoints.get(self.next_checkpoint) {
            if cp.size > self.frontier.size() {
                return false;
            }
            let size = cp.size;
            let failure_seq = self
                .last_good_checkpoint
                .map_or(self.report.from, |s| s + 1);
            let checked = SignedCheckpoint::parse(&cp.note)
                .map_err(|e| e.to_string())
                .and_then(|signed| {
                    signed
                        .verify_for(self.key, &self.origin)
                        .map_err(|e| e.to_string())?;
                    if signed.checkpoint.size != size || signed.checkpoint.root != cp.root {
                        return Err(
                            "stored size or root column differs from the signed note".into()
                        );
                    }
                    Ok(signed.checkpoint.root)
                });
            match checked {
                Err(reason) => {
                    self.fail(
                        size.max(1),
                        FailureKind::BadCheckpoint {
                            checkpoint_size: size,
                            reason,
                        },
                    );
                    return true;
                }
                Ok(root) if cp.size == self.frontier.size() && root != self.frontier.root() => {
                    self.fail(
                        failure_seq,
                        FailureKind::RootMismatch {
                            checkpoint_size: size,
                        },
                    );
                    return true;
                }
                Ok(_) => {}
            }
            self.report.checkpoints_checked += 1;
            self.last_good_checkpoint = Some(size);
            self.report.verified_checkpoint = Some(size);
            self.next_checkpoint += 1;
        }
        false
    }
}
