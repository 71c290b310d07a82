//! The verifying loop's state: every enrolled node's [`NodeVerifier`], the batch the next
//! commit writes, and the bound on events waiting in memory over all nodes.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use event_store_core::checkpoint::NoteSigner;
use event_store_core::{MunicipalityCode, Timestamp};
use tokio::sync::watch;
use wire::{Subject, SubjectKind};

use crate::batch::{Batch, ForkRecord, IngestProgress, QuarantineRecord};
use crate::commit::{self, CommitSummary};
use crate::error::AssociationError;
use crate::ingest::backfill::Backfills;
use crate::ingest::pump::{AbortOnDrop, Origin};
use crate::ingest::traces;
use crate::lease::Lease;
use crate::store::Store;
use crate::verifier::{CheckpointOutcome, EventOutcome, NodeVerifier, Quarantine, Reason, Segment};

/// Events waiting for their checkpoints over all nodes, and their bytes: past either, the
/// node holding the most sheds half of it (back-filled from its stream later), so memory stays
/// flat however many nodes send at once, and no node's waiting events crowd out another's.
const PENDING_TOTAL_MAX: usize = 200_000;
const PENDING_BYTES_TOTAL_MAX: usize = 512 << 20;
/// Ingest-stream messages a restart replays at most (see [`State::resume_position`]).
const RESUME_REPLAY_MAX: u64 = 100_000;
/// Bytes of verified events that make the next commit due (besides the configured count).
/// Two batches may be in memory at once, one committing while the next is verified.
pub(crate) const COMMIT_BYTES_MAX: usize = 32 << 20;

/// The verifying loop's state.
pub(crate) struct State {
    pub nodes: BTreeMap<MunicipalityCode, NodeVerifier>,
    pub batch: Batch,
    /// The ingest stream position after the last message handled.
    pub next_stream_seq: u64,
    received: HashMap<MunicipalityCode, u64>,
    /// Events waiting in all nodes' verifiers, and their bytes.
    pending_total: usize,
    pending_bytes: usize,
    /// Whether commits write the practice catalogue.
    pub catalogue: bool,
    /// What commits count for operators.
    pub metrics: crate::telemetry::Metrics,
    /// The term this state commits in: every commit is fenced by it.
    lease: Lease,
    /// The enrolment's version (`Store::enrolment_version`) read before the keys were: the
    /// keys are reloaded when the database's is another.
    pub keys_version: String,
    /// The revocations' version read before the keys were: a commit refuses when the
    /// database's is another (a key revoked by another instance or process since), so nothing
    /// is cosigned under a revoked key.
    revocations: String,
}

impl State {
    /// The state of the committed ingest, for a term of `lease`.
    pub async fn load(store: &Store, lease: Lease) -> Result<Self, AssociationError> {
        // Read before the keys: a change in between makes the next commit refuse and start
        // over, never cosign under keys older than the version says.
        let keys_version = store.enrolment_version().await?;
        let revocations = store.revocation_version().await?;
        let mut nodes = BTreeMap::new();
        for row in store.nodes().await? {
            nodes.insert(
                row.code,
                NodeVerifier::new(row.code, row.keys, row.frontier, row.checkpoint),
            );
        }
        Ok(Self {
            nodes,
            batch: Batch::default(),
            next_stream_seq: 1,
            received: HashMap::new(),
            pending_total: 0,
            pending_bytes: 0,
            catalogue: true,
            metrics: crate::telemetry::Metrics::default(),
            lease,
            keys_version,
            revocations,
        })
    }

    /// Takes the enrolled keys from the database. A node that lost a key (revoked by another
    /// process) may have segments accepted under it waiting for the next commit, which would
    /// record them as accepted after the revocation: those are dropped and the node starts
    /// again from what was committed (a back-fill brings its events back for a valid key).
    pub async fn reload_keys(&mut self, store: &Store) -> Result<(), AssociationError> {
        self.keys_version = store.enrolment_version().await?;
        self.revocations = store.revocation_version().await?;
        for row in store.nodes().await? {
            match self.nodes.get_mut(&row.code) {
                Some(node) if node.keys_removed(&row.keys) => {
                    let code = row.code;
                    let dropped: usize = self
                        .batch
                        .segments
                        .iter()
                        .filter(|s| s.code == code)
                        .map(|s| s.events.len())
                        .sum();
                    self.batch.segments.retain(|s| s.code != code);
                    self.batch.events -= dropped;
                    self.tracked(code, |_, node| node.clear_waiting());
                    let fresh = NodeVerifier::new(code, row.keys, row.frontier, row.checkpoint);
                    self.nodes.insert(code, fresh);
                }
                Some(node) => node.set_keys(row.keys),
                None => {
                    self.nodes.insert(
                        row.code,
                        NodeVerifier::new(row.code, row.keys, row.frontier, row.checkpoint),
                    );
                }
            }
        }
        Ok(())
    }

    /// Routes one message to its node's verifier. Whose message it is comes from where it was
    /// read as much as from its subject: a back-fill reads one node's subjects only, and a
    /// message of the ingest stream must come from the stream of the node its subject names.
    pub fn handle(
        &mut self,
        subject: &str,
        payload: Vec<u8>,
        origin: &Origin,
        backfills: &mut Backfills,
    ) {
        let stream_seq = origin.stream_seq();
        if stream_seq > 0 {
            self.next_stream_seq = self.next_stream_seq.max(stream_seq.saturating_add(1));
        }
        let Some(parsed) = Subject::parse(subject) else {
            tracing::debug!(subject, "ignoring a message on a foreign subject");
            return;
        };
        let code_text = parsed.code_text;
        let record = |code: &str, reason: Reason, detail: String| {
            QuarantineRecord::with(
                code.to_owned(),
                subject,
                None,
                reason,
                detail,
                &payload,
                stream_seq,
            )
        };
        let Ok(code) = parsed.municipality() else {
            let detail = format!("{code_text:?} is not a KATOTTG code");
            self.quarantine(record(code_text, Reason::UnknownMunicipality, detail));
            return;
        };
        match origin {
            Origin::Backfill(filled) if *filled != code => {
                // The back-fill's filter keeps other subjects out; this is only a second lock.
                tracing::warn!(%filled, subject, "ignoring another node's subject in a back-fill");
                return;
            }
            Origin::Ingest { source, .. }
                if source.as_deref() != Some(&wire::stream_name(&code)) =>
            {
                // Held against the stream it came from, when that is a hromada's.
                let from = source.as_deref().unwrap_or("no stream");
                let blamed = from.strip_prefix("VIDKRYTO_").unwrap_or(code_text);
                let detail = format!("{code}'s subject, but sourced from {from}");
                self.quarantine(record(blamed, Reason::WrongSubject, detail));
                return;
            }
            _ => {}
        }
        if !self.nodes.contains_key(&code) {
            let detail = format!("{code} is not enrolled");
            self.quarantine(record(code_text, Reason::UnknownMunicipality, detail));
            return;
        }
        if parsed.kind == SubjectKind::Event {
            let room = self.make_room(code, payload.len());
            self.tracked(code, |state, node| {
                state.on_event(node, subject, &payload, origin, room);
            });
            return;
        }
        if parsed.kind == SubjectKind::Leaves {
            self.tracked(code, |state, node| {
                if let Some(q) = node.on_leaves(&payload) {
                    let record = QuarantineRecord::new(q, subject, &payload, stream_seq);
                    state.batch.quarantine.push(record);
                }
            });
            return;
        }
        self.tracked(code, |state, node| {
            state.on_checkpoint(node, subject, &payload, stream_seq, backfills);
        });
    }

    /// Runs `f` on `code`'s verifier and keeps the totals of what waits in memory true.
    fn tracked(&mut self, code: MunicipalityCode, f: impl FnOnce(&mut Self, &mut NodeVerifier)) {
        let Some(mut node) = self.nodes.remove(&code) else {
            return;
        };
        let (events, bytes) = (node.pending_len(), node.pending_bytes());
        f(self, &mut node);
        for event in node.take_rejected() {
            self.batch.quarantine.push(QuarantineRecord::with(
                code.to_string(),
                &wire::event_subject(&code),
                Some(event.seq),
                Reason::Forged,
                "not the event the leaves of the municipality's signed checkpoint name at this \
                 sequence number"
                    .into(),
                &event.bytes,
                event.stream_seq,
            ));
        }
        self.pending_total = (self.pending_total + node.pending_len()).saturating_sub(events);
        self.pending_bytes = (self.pending_bytes + node.pending_bytes()).saturating_sub(bytes);
        self.received.insert(code, node.received_seq());
        self.nodes.insert(code, node);
    }

    /// Whether `code` may keep another waiting event of `len` bytes. When the bounds over all
    /// nodes are reached, the node holding the most sheds half of what it holds (a signed
    /// checkpoint has it back-filled later), unless that is `code` itself: no node's waiting
    /// events crowd out another's.
    fn make_room(&mut self, code: MunicipalityCode, len: usize) -> bool {
        let full = |s: &Self| {
            s.pending_total >= PENDING_TOTAL_MAX
                || s.pending_bytes.saturating_add(len) > PENDING_BYTES_TOTAL_MAX
        };
        while full(self) {
            let own = self.nodes.get(&code).map_or(0, NodeVerifier::pending_bytes);
            let Some(largest) = self
                .nodes
                .values()
                .filter(|n| n.code() != code && n.pending_len() > 0)
                .max_by_key(|n| n.pending_bytes())
                .map(NodeVerifier::code)
            else {
                return false;
            };
            if self.nodes[&largest].pending_bytes() <= own {
                return false;
            }
            tracing::warn!(municipality = %largest, "shedding waiting events to make room");
            self.tracked(largest, |_, node| node.shed_pending());
        }
        true
    }

    fn quarantine(&mut self, record: QuarantineRecord) {
        self.batch.quarantine.push(record);
    }

    fn on_event(
        &mut self,
        node: &mut NodeVerifier,
        subject: &str,
        payload: &[u8],
        origin: &Origin,
        room: bool,
    ) {
        let code = node.code();
        let stream_seq = origin.stream_seq();
        match node.on_event(payload, stream_seq, room, origin.trace()) {
            EventOutcome::Pending | EventOutcome::Candidate | EventOutcome::Duplicate => {}
            EventOutcome::CheckStored { seq, leaf } => {
                let record = QuarantineRecord::new(
                    Quarantine {
                        code,
                        seq: Some(seq),
                        reason: Reason::Tampered,
                        detail: "bytes differ from the verified event at this sequence number"
                            .into(),
                    },
                    subject,
                    payload,
                    stream_seq,
                );
                self.batch.check_events.push((code, seq, leaf, record));
            }
            // Only a signed checkpoint has a node back-filled: an event anyone could have sent
            // out of order only waits for one.
            EventOutcome::Gap { .. } => {}
            EventOutcome::Quarantined(q) => {
                let record = QuarantineRecord::new(q, subject, payload, stream_seq);
                self.batch.quarantine.push(record);
            }
        }
    }

    fn on_checkpoint(
        &mut self,
        node: &mut NodeVerifier,
        subject: &str,
        payload: &[u8],
        stream_seq: u64,
        backfills: &mut Backfills,
    ) {
        let code = node.code();
        let note = String::from_utf8_lossy(payload).into_owned();
        match node.on_checkpoint(&note, stream_seq) {
            CheckpointOutcome::Accepted(segments, failed) => {
                self.accept(segments);
                self.quarantine_held(failed);
            }
            CheckpointOutcome::Duplicate => {}
            CheckpointOutcome::Held { from_seq } => backfills.want(code, from_seq),
            CheckpointOutcome::CheckStored {
                size,
                checkpoint,
                note,
            } => {
                let record = QuarantineRecord::new(
                    Quarantine {
                        code,
                        seq: Some(size),
                        reason: Reason::Fork,
                        detail: format!(
                            "a second root {} for tree size {size}",
                            hex::encode(checkpoint.checkpoint.root)
                        ),
                    },
                    subject,
                    payload,
                    stream_seq,
                );
                self.batch
                    .check_roots
                    .push((code, size, checkpoint.checkpoint.root, note, record));
            }
            CheckpointOutcome::Fork {
                size,
                accepted_root,
                other,
                note,
            } => {
                let record = QuarantineRecord::new(
                    Quarantine {
                        code,
                        seq: Some(size),
                        reason: Reason::Fork,
                        detail: format!(
                            "root {} for tree size {size}, which was accepted with root {}",
                            hex::encode(other.checkpoint.root),
                            hex::encode(accepted_root)
                        ),
                    },
                    subject,
                    payload,
                    stream_seq,
                );
                self.batch.quarantine.push(record);
                self.batch.forks.push(ForkRecord {
                    code,
                    size,
                    accepted_root,
                    other_root: other.checkpoint.root,
                    other_note: note,
                });
            }
            CheckpointOutcome::Quarantined(q) => {
                let record = QuarantineRecord::new(q, subject, payload, stream_seq);
                self.batch.quarantine.push(record);
            }
        }
    }

    /// Verified segments go to the next commit; the bytes their checkpoint did not choose to
    /// the quarantine.
    fn accept(&mut self, segments: Vec<Segment>) {
        for mut segment in segments {
            let size = segment.checkpoint.checkpoint.size;
            for event in std::mem::take(&mut segment.forged) {
                self.batch.quarantine.push(QuarantineRecord::with(
                    segment.code.to_string(),
                    &wire::event_subject(&segment.code),
                    Some(event.seq),
                    Reason::Forged,
                    format!(
                        "not the event the municipality's checkpoint signed for size {size} \
                         covers at this sequence number"
                    ),
                    &event.bytes,
                    event.stream_seq,
                ));
            }
            self.batch.events += segment.events.len();
            self.batch.bytes += segment.events.iter().map(|e| e.bytes.len()).sum::<usize>();
            self.batch.segments.push(segment);
        }
    }

    /// Held checkpoints that failed once their events arrived (their note is in the detail).
    fn quarantine_held(&mut self, failed: Vec<Quarantine>) {
        for q in failed {
            let subject = wire::checkpoint_subject(&q.code);
            self.batch
                .quarantine
                .push(QuarantineRecord::new(q, &subject, &[], 0));
        }
    }

    /// After a back-fill: checkpoints held for its events may now apply.
    pub fn release(&mut self, code: MunicipalityCode) {
        self.tracked(code, |state, node| {
            let (segments, failed) = node.release_held();
            state.accept(segments);
            state.quarantine_held(failed);
        });
    }

    /// Nodes still waiting for events a checkpoint covers, with where to back-fill from.
    pub fn stalled(&mut self) -> Vec<(MunicipalityCode, u64)> {
        let mut out = Vec::new();
        let codes: Vec<MunicipalityCode> = self.nodes.keys().copied().collect();
        for code in codes {
            self.release(code);
            if let Some(from_seq) = self.nodes.get(&code).and_then(NodeVerifier::waiting_for) {
                out.push((code, from_seq));
            }
        }
        out
    }

    /// The resume position: the oldest message still only in memory, or the next one, but
    /// never more than [`RESUME_REPLAY_MAX`] messages back. A node whose waiting events are
    /// older (one that died before signing its tail, a revoked or a poisoned one) cannot pin
    /// the whole federation's replay there: after a restart, its next checkpoint has its own
    /// stream back-filled from its verified size instead.
    fn resume_position(&self) -> u64 {
        let floor = self
            .next_stream_seq
            .saturating_sub(RESUME_REPLAY_MAX)
            .max(1);
        self.nodes
            .values()
            .filter_map(NodeVerifier::oldest_stream_seq)
            .min()
            .unwrap_or(self.next_stream_seq)
            .min(self.next_stream_seq)
            .max(floor)
    }

    /// Starts committing the batch on a task of its own, so that the next batch is verified
    /// while the database writes this one. The caller has at most one running: it finishes it
    /// ([`State::finish_commit`]) before it starts another, and before anything that reads
    /// what a commit writes (the keys, the nodes' committed positions). Commits stay in order,
    /// so a commit's checks of stored events and roots see every earlier batch.
    pub fn start_commit(&mut self, store: &Store, witness: &Arc<NoteSigner>) -> InFlight {
        let mut batch = std::mem::take(&mut self.batch);
        let traced = traces::committing(&mut batch);
        let quarantined = batch.quarantine.iter().map(|q| q.reason).collect();
        let forks = batch.forks.len() as u64;
        let received: Vec<(MunicipalityCode, u64)> = self.received.drain().collect();
        let resume = self.resume_position();
        let now = Timestamp::now();
        let (store, witness) = (store.clone(), Arc::clone(witness));
        let (lease, revocations, catalogue) =
            (self.lease, self.revocations.clone(), self.catalogue);
        let task = tokio::spawn(async move {
            let started = Instant::now();
            let batch_events = batch.events;
            let writer = commit::Writer {
                store: &store,
                lease: &lease,
                revocations: &revocations,
            };
            let outcome =
                commit::commit(writer, &witness, batch, &received, resume, now, catalogue).await;
            traces::end(traced, batch_events, outcome.as_ref().err());
            outcome.map(|summary| (summary, started.elapsed()))
        });
        InFlight {
            task: AbortOnDrop(task),
            quarantined,
            forks,
        }
    }

    /// Takes the outcome of a commit [`State::start_commit`] started. A failed commit leaves
    /// the in-memory state ahead of the database: what waits is dropped, and the caller
    /// restarts from the database.
    pub fn finish_commit(
        &mut self,
        commit: InFlight,
        outcome: Result<(CommitSummary, Duration), AssociationError>,
        progress: &watch::Sender<IngestProgress>,
    ) -> Result<(), AssociationError> {
        match outcome {
            Ok((summary, elapsed)) => {
                progress.send_modify(|p| {
                    p.commits += 1;
                    p.events += summary.events as u64;
                });
                self.metrics.committed(
                    elapsed,
                    summary.events as u64,
                    commit.quarantined,
                    commit.forks,
                );
                self.metrics
                    .pending(self.pending_total as u64, self.pending_bytes as u64);
                Ok(())
            }
            Err(err) => {
                for node in self.nodes.values_mut() {
                    node.clear_waiting();
                }
                self.pending_total = 0;
                self.pending_bytes = 0;
                Err(err)
            }
        }
    }
}

/// A commit running on its task, aborted if dropped. Whether it committed or not, a restart
/// loads what the database holds: the commit's rows, the nodes' positions and the resume
/// position move in its one transaction.
pub(crate) struct InFlight {
    task: AbortOnDrop<Result<(CommitSummary, Duration), AssociationError>>,
    quarantined: Vec<Reason>,
    forks: u64,
}

impl InFlight {
    /// Waits for the commit's outcome. Cancel-safe; once it returned, it is never polled
    /// again (the caller hands it to [`State::finish_commit`], or drops it when the run ends).
    pub async fn outcome(&mut self) -> Result<(CommitSummary, Duration), AssociationError> {
        match (&mut self.task.0).await {
            Ok(outcome) => outcome,
            Err(err) => Err(AssociationError::Database(format!(
                "the commit's task stopped: {err}"
            ))),
        }
    }
}
