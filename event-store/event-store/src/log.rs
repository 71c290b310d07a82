//! The writer's view of a node's log: numbered, idempotent, optimistic appends; signed
//! checkpoints every N events or T milliseconds; reads and a subscription to new entries.

use std::sync::Arc;
use std::time::Duration;

use event_store_core::checkpoint::{Checkpoint, NoteSigner, NoteVerifier};
use event_store_core::{
    Envelope, EventId, EventTypeCode, Hash, LogSeq, MunicipalityCode, PAYLOAD_LEN_MAX,
    SchemaVersion, StreamId, StreamVersion, Timestamp, merkle, origin_for,
};
use std::collections::HashMap;

use tokio::sync::{Mutex, oneshot, watch};

use crate::backend::{Backend, EventRow, Head, LogMeta, StoredCheckpoint, WriteTx};
use crate::error::StoreError;
use crate::proof;

/// Most events in one append. A batch is one transaction; a thousand 300-byte events is a
/// third of a megabyte, well within what SQLite and PostgreSQL commit in milliseconds.
pub const APPEND_BATCH_MAX: usize = 1_000;

/// Most events returned by one read.
pub const READ_LIMIT_MAX: u32 = 10_000;

/// Bounds of the checkpoint cadence. Every event may be checkpointed (at a signature per
/// append); at most every 100,000 events or hour, so a verifier never waits long for one.
pub const CHECKPOINT_EVERY_EVENTS_MAX: u32 = 100_000;
pub const CHECKPOINT_EVERY_MS_MIN: u32 = 50;
pub const CHECKPOINT_EVERY_MS_MAX: u32 = 3_600_000;

/// When the log signs a checkpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CheckpointPolicy {
    /// Sign once this many events have arrived since the last checkpoint.
    pub every_events: u32,
    /// The floor between checkpoints signed on demand (`Log::run_checkpointer`): one is
    /// signed as soon as the log has grown, but never sooner than this after the last.
    pub every_ms: u32,
}

impl Default for CheckpointPolicy {
    /// 1,000 events or a quarter second: a live event is covered at once when its log was
    /// quiet and within 250 ms when it is busy, a node signs at most four checkpoints a second
    /// on time (so 1,470 nodes at most about 5,900, the association's cosigning bounded with
    /// them), and a catch-up of millions of events costs one signature per thousand.
    fn default() -> Self {
        Self {
            every_events: 1_000,
            every_ms: 250,
        }
    }
}

impl CheckpointPolicy {
    /// Checks the bounds.
    pub fn validate(&self) -> Result<(), StoreError> {
        if self.every_events == 0 || self.every_events > CHECKPOINT_EVERY_EVENTS_MAX {
            return Err(StoreError::OutOfRange {
                what: "checkpoint_every_events",
                detail: format!(
                    "{} not in 1..={CHECKPOINT_EVERY_EVENTS_MAX}",
                    self.every_events
                ),
            });
        }
        if !(CHECKPOINT_EVERY_MS_MIN..=CHECKPOINT_EVERY_MS_MAX).contains(&self.every_ms) {
            return Err(StoreError::OutOfRange {
                what: "checkpoint_every_ms",
                detail: format!(
                    "{} not in {CHECKPOINT_EVERY_MS_MIN}..={CHECKPOINT_EVERY_MS_MAX}",
                    self.every_ms
                ),
            });
        }
        Ok(())
    }
}

/// What a stream's version must be for an append to go ahead.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExpectedVersion {
    /// Whatever it is.
    Any,
    /// The stream must not exist yet.
    NoStream,
    /// The stream must be at exactly this version.
    Exact(StreamVersion),
}

impl std::fmt::Display for ExpectedVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Any => f.write_str("any"),
            Self::NoStream => f.write_str("no stream"),
            Self::Exact(v) => write!(f, "{}", v.0),
        }
    }
}

/// An event to append: everything but its position, which the log assigns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewEvent {
    pub event_id: EventId,
    pub event_type: EventTypeCode,
    pub schema_version: SchemaVersion,
    pub recorded_at: Timestamp,
    pub payload: Vec<u8>,
}

/// Where an append's events landed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Appended {
    /// Log sequence and stream version of each event, in batch order.
    pub positions: Vec<(LogSeq, StreamVersion)>,
    /// True when the batch was already in the log and nothing was written.
    pub deduplicated: bool,
}

impl Appended {
    /// The last event's sequence number.
    pub fn last_seq(&self) -> LogSeq {
        self.positions.last().map_or(LogSeq(0), |p| p.0)
    }
    /// The stream's version after the append.
    pub fn stream_version(&self) -> StreamVersion {
        self.positions.last().map_or(StreamVersion(0), |p| p.1)
    }
}

/// Most batches committed in one transaction (group commit).
const GROUP_BATCHES_MAX: usize = 256;
/// Most events committed in one transaction: a few megabytes at most.
const GROUP_EVENTS_MAX: usize = 4 * APPEND_BATCH_MAX;

/// Where a batch's outcome goes, and the outcome.
type Reply = (
    oneshot::Sender<Result<Appended, StoreError>>,
    Result<Appended, StoreError>,
);

/// A batch waiting for the next group commit.
#[derive(Debug)]
struct Pending {
    stream: StreamId,
    expected: ExpectedVersion,
    events: Vec<NewEvent>,
    reply: oneshot::Sender<Result<Appended, StoreError>>,
}

/// A node's log: the single writer of one backend.
#[derive(Debug)]
pub struct Log<B: Backend> {
    shared: Arc<Shared<B>>,
}

/// The log's state, shared with the group commits, which run in tasks of their own so that a
/// caller going away cannot abandon the other batches of its group half-way.
#[derive(Debug)]
struct Shared<B: Backend> {
    backend: B,
    municipality: MunicipalityCode,
    origin: String,
    signer: NoteSigner,
    policy: CheckpointPolicy,
    /// Serialises writers inside this process; the database serialises across processes.
    write_lock: Arc<Mutex<()>>,
    /// Batches waiting for the holder of `write_lock` to commit them.
    queue: std::sync::Mutex<Vec<Pending>>,
    size_tx: watch::Sender<u64>,
    /// The size of the latest checkpoint, sent after each one signed on its own (one signed
    /// with an append is seen through `size_tx`).
    checkpoint_tx: watch::Sender<u64>,
}

impl<B: Backend> Log<B> {
    /// Opens (creating on first use) the log of `municipality` in `backend`, signing with
    /// `signer`. Refuses a database that holds another municipality's log or another key's.
    pub async fn open(
        backend: B,
        municipality: MunicipalityCode,
        signer: NoteSigner,
        policy: CheckpointPolicy,
    ) -> Result<Self, StoreError> {
        policy.validate()?;
        let origin = origin_for(&municipality);
        if signer.name() != origin {
            return Err(StoreError::OutOfRange {
                what: "signer name",
                detail: format!(
                    "key is named {}, the log's origin is {origin}",
                    signer.name()
                ),
            });
        }
        let verifier_key = signer.verifier().to_text();
        match backend.meta().await? {
            Some(meta) => {
                if meta.municipality != municipality.as_str() {
                    return Err(StoreError::WrongLog {
                        expected: municipality.to_string(),
                        found: meta.municipality,
                    });
                }
                if meta.verifier_key != verifier_key {
                    return Err(StoreError::WrongLog {
                        expected: format!("a log signed by {verifier_key}"),
                        found: format!("a log signed by {}", meta.verifier_key),
                    });
                }
            }
            None => {
                backend
                    .init_meta(&LogMeta {
                        municipality: municipality.to_string(),
                        verifier_key,
                    })
                    .await?;
            }
        }
        let head = backend.head().await?;
        let size = head.size();
        let (size_tx, _) = watch::channel(size);
        let (checkpoint_tx, _) = watch::channel(head.last_checkpoint_size);
        Ok(Self {
            shared: Arc::new(Shared {
                backend,
                municipality,
                origin,
                signer,
                policy,
                write_lock: Arc::new(Mutex::new(())),
                queue: std::sync::Mutex::new(Vec::new()),
                size_tx,
                checkpoint_tx,
            }),
        })
    }

    /// The storage backend.
    pub fn backend(&self) -> &B {
        &self.shared.backend
    }

    /// The municipality whose log this is.
    pub fn municipality(&self) -> MunicipalityCode {
        self.shared.municipality
    }

    /// The public key that verifies this log's checkpoints.
    pub fn verifier(&self) -> NoteVerifier {
        self.shared.signer.verifier()
    }

    /// Number of committed events.
    pub fn size(&self) -> u64 {
        *self.shared.size_tx.borrow()
    }

    /// A receiver that sees the log's size after every commit.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.shared.size_tx.subscribe()
    }

    /// A receiver that sees the size of each checkpoint signed on its own, by the time policy
    /// or on demand (a relay publishes it at once instead of at its next poll).
    pub fn subscribe_checkpoints(&self) -> watch::Receiver<u64> {
        self.shared.checkpoint_tx.subscribe()
    }

    /// Waits until the log holds at least `size` events or `timeout` passes; returns the size.
    pub async fn wait_for(&self, size: u64, timeout: Duration) -> Result<u64, StoreError> {
        let mut rx = self.subscribe();
        let wait = rx.wait_for(|s| *s >= size);
        match tokio::time::timeout(timeout, wait).await {
            Ok(Ok(s)) => Ok(*s),
            Ok(Err(_)) | Err(_) => Err(StoreError::Timeout),
        }
    }

    /// Appends a batch to one stream, atomically. Retrying a batch that is already in the log
    /// (same event ids, same content) returns the original positions and writes nothing.
    #[tracing::instrument(level = "debug", skip(self, events), fields(municipality = %self.shared.municipality, len = events.len()))]
    pub async fn append(
        &self,
        stream: StreamId,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<Appended, StoreError> {
        if events.is_empty() || events.len() > APPEND_BATCH_MAX {
            return Err(StoreError::BatchSize {
                len: events.len(),
                max: APPEND_BATCH_MAX,
            });
        }
        let mut ids = std::collections::HashSet::with_capacity(events.len());
        for e in &events {
            if e.payload.len() > PAYLOAD_LEN_MAX {
                return Err(event_store_core::EnvelopeError::PayloadTooLarge {
                    len: e.payload.len(),
                    max: PAYLOAD_LEN_MAX,
                }
                .into());
            }
            if !ids.insert(e.event_id) {
                return Err(StoreError::DuplicateInBatch(e.event_id));
            }
        }

        // Group commit: queue the batch; whoever holds the write lock next commits every queued
        // batch in one transaction (one fsync for all of them) and answers each.
        let (reply, mut answer) = oneshot::channel();
        self.shared.lock_queue()?.push(Pending {
            stream,
            expected,
            events,
            reply,
        });
        // Only a panic in the committer can drop a reply unanswered.
        let dropped = || StoreError::Corrupt("the group commit stopped before answering".into());
        // Wait for whichever comes first: another leader's answer, or the lock (then lead).
        let guard = tokio::select! {
            biased;
            answered = &mut answer => return answered.unwrap_or_else(|_| Err(dropped())),
            guard = Arc::clone(&self.shared.write_lock).lock_owned() => guard,
        };
        let group: Vec<Pending> = {
            let mut queue = self.shared.lock_queue()?;
            let mut taken = 0usize;
            let mut events = 0usize;
            while taken < queue.len() && taken < GROUP_BATCHES_MAX && events < GROUP_EVENTS_MAX {
                events += queue[taken].events.len();
                taken += 1;
            }
            queue.drain(..taken).collect()
        };
        if group.is_empty() {
            drop(guard);
        } else {
            // The group holds other callers' batches: commit it in a task of its own, holding
            // the lock, so that dropping this call (a client that went away) neither abandons
            // them nor leaves a committed group unannounced.
            let shared = Arc::clone(&self.shared);
            tokio::spawn(async move {
                shared.commit_group(group).await;
                drop(guard);
            });
        }
        // Our batch was in this group or an earlier leader's.
        answer.await.unwrap_or_else(|_| Err(dropped()))
    }
}

impl<B: Backend> Shared<B> {
    fn lock_queue(&self) -> Result<std::sync::MutexGuard<'_, Vec<Pending>>, StoreError> {
        self.queue
            .lock()
            .map_err(|_| StoreError::Corrupt("append queue poisoned".into()))
    }

    /// Commits a group of batches in one transaction and answers each. A batch that conflicts
    /// or replays is answered without being written; a database failure fails them all.
    async fn commit_group(&self, group: Vec<Pending>) {
        let mut replies = Vec::with_capacity(group.len());
        let result = self.write_group(group, &mut replies).await;
        match result {
            Ok(size) => {
                self.size_tx.send_replace(size);
                for (reply, outcome) in replies {
                    let _ = reply.send(outcome);
                }
            }
            Err(e) => {
                let message = e.to_string();
                for (reply, outcome) in replies {
                    // Answers that did not depend on the commit stand; the others failed with it.
                    let outcome = match outcome {
                        Ok(a) if !a.deduplicated => {
                            Err(StoreError::Database(message.clone().into()))
                        }
                        other => other,
                    };
                    let _ = reply.send(outcome);
                }
            }
        }
    }

    async fn write_group(
        &self,
        group: Vec<Pending>,
        replies: &mut Vec<Reply>,
    ) -> Result<u64, StoreError> {
        // Until the transaction is open, a failure must still answer every batch.
        // Until the first batch is placed, a failure fails every batch of the group.
        let mut tx = match self.backend.begin_write().await {
            Ok(tx) => tx,
            Err(e) => return Err(fail_all(group, replies, e)),
        };
        let ids: Vec<EventId> = group
            .iter()
            .flat_map(|p| p.events.iter().map(|e| e.event_id))
            .collect();
        let known = match tx.find_events(&ids).await {
            Ok(k) => k,
            Err(e) => return Err(fail_all(group, replies, e)),
        };
        let mut head = match tx.head().await {
            Ok(h) => h,
            Err(e) => return Err(fail_all(group, replies, e)),
        };
        let loaded = head.size();
        let mut versions: HashMap<StreamId, StreamVersion> = HashMap::new();
        // Rows written by earlier batches of this group, for retries racing in the same group.
        // Only a placed batch adds to it, so it is also exactly what this group inserts.
        let mut written: Vec<EventRow> = Vec::new();
        let mut nodes = Vec::new();
        let mut pending = group.into_iter();
        while let Some(p) = pending.next() {
            let outcome = self
                .place_batch(
                    &mut tx,
                    &known,
                    &mut written,
                    &mut versions,
                    &mut head,
                    &mut nodes,
                    &p,
                )
                .await;
            if let Err(StoreError::Database(e)) = &outcome {
                let error = StoreError::Database(e.to_string().into());
                replies.push((p.reply, outcome));
                return Err(fail_all(pending, replies, error));
            }
            replies.push((p.reply, outcome));
        }
        // The tree grew by exactly the rows written (each numbered as the tree's size then).
        debug_assert_eq!(head.size(), loaded + written.len() as u64);
        if written.is_empty() {
            return Ok(head.size());
        }
        tx.insert_events(&written).await?;
        if !nodes.is_empty() {
            tx.insert_nodes(&nodes).await?;
        }
        let now = Timestamp::now();
        if self.checkpoint_due(&head, now) {
            self.sign_into(&mut tx, &mut head, now).await?;
        }
        tx.set_head(&head).await?;
        tx.commit().await?;
        Ok(head.size())
    }

    /// Decides one batch of a group: a replay, a conflict, or its positions (extending `head`
    /// and pushing its rows to `written`).
    #[allow(clippy::too_many_arguments)]
    async fn place_batch(
        &self,
        tx: &mut B::Tx,
        known: &[EventRow],
        written: &mut Vec<EventRow>,
        versions: &mut HashMap<StreamId, StreamVersion>,
        head: &mut Head,
        nodes: &mut Vec<(event_store_core::NodeId, Hash)>,
        p: &Pending,
    ) -> Result<Appended, StoreError> {
        let (stream, expected, events) = (p.stream, p.expected, &p.events);
        let mine: Vec<EventRow> = known
            .iter()
            .chain(written.iter())
            .filter(|r| events.iter().any(|e| e.event_id == r.event_id))
            .cloned()
            .collect();
        if !mine.is_empty() {
            return replayed(&mine, stream, events);
        }
        let actual = match versions.get(&stream) {
            Some(v) => *v,
            None => {
                let v = tx
                    .stream_version(stream)
                    .await
                    .map_err(|e| StoreError::Database(e.to_string().into()))?;
                versions.insert(stream, v);
                v
            }
        };
        let ok = match expected {
            ExpectedVersion::Any => true,
            ExpectedVersion::NoStream => actual.0 == 0,
            ExpectedVersion::Exact(v) => actual == v,
        };
        if !ok {
            return Err(StoreError::Conflict {
                stream,
                expected: expected.to_string(),
                actual,
            });
        }
        let mut encoded = Vec::with_capacity(events.len());
        for (i, e) in events.iter().enumerate() {
            let seq = LogSeq(head.size() + 1 + i as u64);
            let stream_version = StreamVersion(actual.0 + 1 + i as u64);
            let envelope = Envelope {
                event_type: e.event_type,
                schema_version: e.schema_version,
                municipality: self.municipality,
                seq,
                stream_id: stream,
                stream_version,
                event_id: e.event_id,
                recorded_at: e.recorded_at,
                payload: e.payload.clone(),
            };
            encoded.push((seq, stream_version, envelope.encode()?));
        }
        let mut positions = Vec::with_capacity(events.len());
        for ((seq, stream_version, bytes), e) in encoded.into_iter().zip(events) {
            let leaf = merkle::leaf_hash(&bytes);
            head.frontier.push(leaf, |id, hash| {
                if id.level > 0 && id.is_stored() {
                    nodes.push((id, *hash));
                }
            });
            // The tree holds exactly the events numbered so far.
            debug_assert_eq!(head.size(), seq.0);
            positions.push((seq, stream_version));
            written.push(EventRow {
                seq,
                event_id: e.event_id,
                stream_id: stream,
                stream_version,
                leaf_hash: leaf,
                bytes,
            });
        }
        versions.insert(stream, positions.last().map_or(actual, |p| p.1));
        Ok(Appended {
            positions,
            deduplicated: false,
        })
    }

    fn checkpoint_due(&self, head: &Head, now: Timestamp) -> bool {
        // Checked as a `Corrupt` error where the head is read back (`Head::from_columns`).
        debug_assert!(head.last_checkpoint_size <= head.size());
        let pending = head.size() - head.last_checkpoint_size;
        if pending == 0 {
            return false;
        }
        if pending >= u64::from(self.policy.every_events) {
            return true;
        }
        match head.last_checkpoint_at {
            None => true,
            Some(at) => now.0.saturating_sub(at.0) >= i64::from(self.policy.every_ms) * 1_000,
        }
    }

    async fn sign_into(
        &self,
        tx: &mut B::Tx,
        head: &mut Head,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        // Only signed when events are not yet covered: checkpoint sizes strictly increase.
        debug_assert!(head.last_checkpoint_size < head.size());
        let root = head.frontier.root();
        let signed = self.signer.sign(Checkpoint {
            origin: self.origin.clone(),
            size: head.size(),
            root,
        });
        let stored = StoredCheckpoint {
            size: head.size(),
            root,
            note: signed.to_note(),
            created_at: now,
        };
        tx.insert_checkpoint(&stored).await?;
        head.last_checkpoint_size = head.size();
        head.last_checkpoint_at = Some(now);
        tracing::debug!(municipality = %self.municipality, size = head.size(), "checkpoint signed");
        Ok(())
    }
}

/// What an attempt to sign a checkpoint found.
enum Attempt {
    Signed(u64),
    /// Every event is covered already.
    Covered,
    /// Events wait, but the last checkpoint is younger than the floor: try again after this.
    Wait(Duration),
}

impl<B: Backend> Log<B> {
    /// Signs a checkpoint if the policy says one is due (events waiting and the interval
    /// passed). Returns the checkpoint's size if one was signed.
    pub async fn checkpoint_if_due(&self) -> Result<Option<u64>, StoreError> {
        self.checkpoint(false).await
    }

    /// Signs a checkpoint now if any event is not yet covered by one.
    pub async fn checkpoint_now(&self) -> Result<Option<u64>, StoreError> {
        self.checkpoint(true).await
    }

    async fn checkpoint(&self, force: bool) -> Result<Option<u64>, StoreError> {
        Ok(match self.attempt_checkpoint(force).await? {
            Attempt::Signed(size) => Some(size),
            Attempt::Covered | Attempt::Wait(_) => None,
        })
    }

    /// Signs a checkpoint if one is due (any event uncovered with `force`), or says why not.
    async fn attempt_checkpoint(&self, force: bool) -> Result<Attempt, StoreError> {
        let _guard = self.shared.write_lock.lock().await;
        let mut tx = self.shared.backend.begin_write().await?;
        let mut head = tx.head().await?;
        if head.size() <= head.last_checkpoint_size {
            return Ok(Attempt::Covered);
        }
        let now = Timestamp::now();
        if !force && !self.shared.checkpoint_due(&head, now) {
            let floor = i64::from(self.shared.policy.every_ms) * 1_000;
            let since = head
                .last_checkpoint_at
                .map_or(floor, |at| now.0.saturating_sub(at.0));
            let wait = u64::try_from(floor.saturating_sub(since)).unwrap_or(0);
            return Ok(Attempt::Wait(Duration::from_micros(wait.max(1_000))));
        }
        self.shared.sign_into(&mut tx, &mut head, now).await?;
        tx.set_head(&head).await?;
        tx.commit().await?;
        self.shared.checkpoint_tx.send_replace(head.size());
        Ok(Attempt::Signed(head.size()))
    }

    /// Signs checkpoints on demand until `shutdown` resolves: as soon as the log has grown
    /// past its last checkpoint, but never sooner than `every_ms` after the last one. The
    /// floor bounds the signing (and the association's verifying and cosigning) per node
    /// however busy it is; an event is covered at most `every_ms` after it was appended, and
    /// at once when the log was quiet; an idle log signs nothing.
    pub async fn run_checkpointer(&self, shutdown: impl std::future::Future<Output = ()>) {
        let retry = Duration::from_millis(u64::from(self.shared.policy.every_ms).max(1));
        let mut sizes = self.subscribe();
        tokio::pin!(shutdown);
        loop {
            // Marked seen before looking, so an append from now on wakes the wait below.
            sizes.borrow_and_update();
            let wait = match self.attempt_checkpoint(false).await {
                Ok(Attempt::Wait(wait)) => Some(wait),
                Ok(Attempt::Signed(_) | Attempt::Covered) => None,
                Err(e) => {
                    tracing::warn!(municipality = %self.shared.municipality, error = %e, "checkpoint failed");
                    Some(retry)
                }
            };
            match wait {
                Some(wait) => tokio::select! {
                    _ = &mut shutdown => return,
                    () = tokio::time::sleep(wait) => {}
                },
                None => tokio::select! {
                    _ = &mut shutdown => return,
                    changed = sizes.changed() => if changed.is_err() { return },
                },
            }
        }
    }

    /// Events from `from` on, at most `limit` (bounded by [`READ_LIMIT_MAX`]).
    pub async fn read(&self, from: LogSeq, limit: u32) -> Result<Vec<EventRow>, StoreError> {
        self.shared
            .backend
            .read_events(from, limit.min(READ_LIMIT_MAX))
            .await
    }

    /// A stream's events from version `from` on, at most `limit`.
    pub async fn read_stream(
        &self,
        stream: StreamId,
        from: StreamVersion,
        limit: u32,
    ) -> Result<Vec<EventRow>, StoreError> {
        self.shared
            .backend
            .read_stream(stream, from, limit.min(READ_LIMIT_MAX))
            .await
    }

    /// The latest checkpoint.
    pub async fn latest_checkpoint(&self) -> Result<Option<StoredCheckpoint>, StoreError> {
        self.shared.backend.latest_checkpoint().await
    }

    /// The inclusion proof of event `seq` in the tree of `tree_size` events.
    pub async fn inclusion_proof(
        &self,
        seq: LogSeq,
        tree_size: u64,
    ) -> Result<Vec<Hash>, StoreError> {
        proof::inclusion_proof(&self.shared.backend, seq, tree_size).await
    }

    /// The consistency proof between two tree sizes.
    pub async fn consistency_proof(
        &self,
        old_size: u64,
        new_size: u64,
    ) -> Result<Vec<Hash>, StoreError> {
        proof::consistency_proof(&self.shared.backend, old_size, new_size).await
    }
}

/// Answers every batch of `group` with the database failure `e`, which it returns.
fn fail_all(
    group: impl IntoIterator<Item = Pending>,
    replies: &mut Vec<Reply>,
    e: StoreError,
) -> StoreError {
    let message = e.to_string();
    for p in group {
        replies.push((p.reply, Err(StoreError::Database(message.clone().into()))));
    }
    e
}

/// Answers a retried batch from what is stored, or refuses a reused id: a retry must name
/// exactly the stored events, with the same stream, type, schema and payload.
fn replayed(
    stored: &[EventRow],
    stream: StreamId,
    events: &[NewEvent],
) -> Result<Appended, StoreError> {
    let mut positions = Vec::with_capacity(events.len());
    for e in events {
        let row = stored
            .iter()
            .find(|r| r.event_id == e.event_id)
            .ok_or(StoreError::EventIdReused(e.event_id))?;
        let env = event_store_core::EnvelopeRef::decode(&row.bytes)
            .map_err(|err| StoreError::Corrupt(format!("event {}: {err}", row.seq.0)))?;
        let same = row.stream_id == stream
            && env.event_type == e.event_type
            && env.schema_version == e.schema_version
            && env.payload == e.payload.as_slice();
        if !same {
            return Err(StoreError::EventIdReused(e.event_id));
        }
        positions.push((row.seq, row.stream_version));
    }
    Ok(Appended {
        positions,
        deduplicated: true,
    })
}
