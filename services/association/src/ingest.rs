//! Verified ingest: every enrolled node's stream is sourced into one ingest stream; one loop
//! reads it in order, runs each message through its node's [`NodeVerifier`], and commits
//! verified segments, their projections, quarantine records and the resume position in one
//! PostgreSQL transaction per batch.
//!
//! **Exactly once.** A node's verified size and its projections move in the same transaction,
//! and an event at or below the verified size is never applied again; the ingest resumes at
//! the oldest stream position still held only in memory, so a crash loses nothing and counts
//! nothing twice.
//!
//! **Gaps.** A missing event (lost by JetStream, or dropped from memory past the bounds) is
//! back-filled from the node's own stream, found by binary search on its sequence header; only
//! that node waits.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_nats::jetstream::consumer::DeliverPolicy;
use async_nats::jetstream::consumer::pull::OrderedConfig;
use async_nats::jetstream::stream::{self, External, Source, StorageType};
use async_nats::jetstream::{self, Context};
use event_store_core::checkpoint::{NoteSigner, NoteVerifier};
use event_store_core::{MunicipalityCode, Timestamp};
use futures_util::StreamExt;
use tokio::sync::{mpsc, watch};

use crate::commit;
use crate::error::AssociationError;
use crate::store::Store;
use crate::verifier::{CheckpointOutcome, EventOutcome, NodeVerifier, Quarantine, Reason, Segment};

/// The stream every enrolled node's stream is sourced into.
pub const INGEST_STREAM: &str = "VIDKRYTO_FEDERATION";
/// Messages in flight from the readers to the verifying loop.
const CHANNEL_CAPACITY: usize = 4_096;
/// Back-fills running at once.
const BACKFILLS_MAX: usize = 4;
/// Messages one back-fill reads at most before handing over (it is asked again if needed).
const BACKFILL_MESSAGES_MAX: u64 = 100_000;
/// Events waiting for their checkpoints over all nodes (about 300 bytes each): past it, new
/// events are dropped and back-filled from their node's stream later, so memory stays flat
/// however many nodes send at once.
const PENDING_TOTAL_MAX: usize = 200_000;
/// How often nodes that still wait for events are looked at again.
const STALL_CHECK: Duration = Duration::from_secs(2);

/// Where the enrolled nodes' streams live, seen from the association's NATS, and how the
/// ingest stream is replicated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topology {
    /// The JetStream domain holding each node's stream, `{code}` standing for its KATOTTG code
    /// (`muni_{code}` when every hromada runs a NATS leaf node with a domain of its own, see
    /// `deploy/nats`). `None`: the nodes publish into the association's own JetStream (one
    /// server, as in development and tests), where the association also creates their streams.
    pub source_domain_template: Option<String>,
    /// Replicas of the ingest stream when the association creates it (3 on the hub cluster).
    pub ingest_replicas: usize,
}

impl Default for Topology {
    fn default() -> Self {
        Self {
            source_domain_template: None,
            ingest_replicas: 1,
        }
    }
}

impl Topology {
    /// Replicas JetStream allows for a stream.
    pub const REPLICAS_MAX: usize = 5;

    /// Checks the template (it names `{code}` and yields a legal domain name) and the replicas.
    pub fn validate(&self) -> Result<(), AssociationError> {
        if !(1..=Self::REPLICAS_MAX).contains(&self.ingest_replicas) {
            return Err(AssociationError::invalid(
                "ingest_replicas",
                format!("must be 1 to {}", Self::REPLICAS_MAX),
            ));
        }
        if let Some(template) = &self.source_domain_template {
            if !template.contains("{code}") {
                return Err(AssociationError::invalid(
                    "source_domain_template",
                    "must contain {code}",
                ));
            }
            // What JetStream accepts as a domain: no dots, spaces or wildcards.
            let sample = template.replace("{code}", "UA05020030000031457");
            if !sample
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            {
                return Err(AssociationError::invalid(
                    "source_domain_template",
                    "may hold only ASCII letters, digits, '_' and '-' besides {code}",
                ));
            }
        }
        Ok(())
    }

    /// The JetStream domain of `code`'s stream, if it is not the association's own.
    pub fn domain_of(&self, code: &MunicipalityCode) -> Option<String> {
        self.source_domain_template
            .as_ref()
            .map(|t| t.replace("{code}", code.as_str()))
    }
}

/// How the ingest runs.
#[derive(Debug, Clone)]
pub struct IngestConfig {
    pub nats_url: String,
    pub topology: Topology,
    /// Commit when this many verified events are waiting, 1 to 50,000.
    pub batch_events_max: usize,
    /// Commit at least this often while verified events wait.
    pub commit_interval: Duration,
    /// How long the ingest stream keeps messages (each node's own stream keeps everything).
    pub ingest_max_age: Duration,
}

impl IngestConfig {
    pub fn new(nats_url: impl Into<String>) -> Self {
        Self {
            nats_url: nats_url.into(),
            topology: Topology::default(),
            batch_events_max: 10_000,
            commit_interval: Duration::from_millis(100),
            ingest_max_age: Duration::from_secs(30 * 24 * 60 * 60),
        }
    }
}

/// What the ingest reports after each commit.
#[derive(Debug, Clone, Default)]
pub struct IngestProgress {
    /// Commits so far (by this process).
    pub commits: u64,
    /// Verified events committed so far (by this process).
    pub events: u64,
    pub connected: bool,
    pub last_error: Option<String>,
}

/// One message for the verifying loop.
#[derive(Debug)]
enum Incoming {
    Message {
        subject: String,
        payload: Vec<u8>,
        /// The ingest stream's sequence (0 for a back-fill).
        stream_seq: u64,
    },
    BackfillDone(MunicipalityCode),
    /// The set of enrolled keys changed.
    EnrolmentChanged,
}

/// A handle to tell the ingest about enrolment changes.
#[derive(Debug, Clone)]
pub struct IngestControl {
    tx: mpsc::Sender<Incoming>,
}

impl IngestControl {
    pub async fn enrolment_changed(&self) {
        let _ = self.tx.send(Incoming::EnrolmentChanged).await;
    }
}

/// Connects to NATS with the association's settings. A user and password in the URL
/// (`nats://association:secret@hub-1:4222`, as the hub's FEDERATION account requires) are
/// sent as credentials: the client library does not take them from the URL by itself.
pub async fn connect(url: &str) -> Result<async_nats::Client, AssociationError> {
    let options = async_nats::ConnectOptions::new()
        .name("vidkryto-association")
        .retry_on_initial_connect()
        .max_reconnects(None)
        .connection_timeout(Duration::from_secs(5));
    relay::with_url_credentials(options, url)
        .connect(url)
        .await
        .map_err(AssociationError::nats)
}

/// Makes sure `code`'s own stream exists (with the relay's settings) and that the ingest
/// stream sources it, all in the association's own JetStream.
pub async fn ensure_sourced(
    js: &Context,
    codes: &[MunicipalityCode],
    max_age: Duration,
) -> Result<(), AssociationError> {
    ensure_sourced_in(js, codes, max_age, &Topology::default()).await
}

/// How the ingest stream sources one node's stream: from another domain's API, keeping only
/// that hromada's subjects; or (all `None`) from the association's own JetStream.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct SourceSpec {
    api: Option<String>,
    filter: Option<String>,
}

/// Makes sure the ingest stream sources every node's stream where `topology` says it lives.
/// Streams in the association's own JetStream are created if missing (with the relay's
/// settings); a stream in another domain is the node's to create, and the source waits for it.
pub async fn ensure_sourced_in(
    js: &Context,
    codes: &[MunicipalityCode],
    max_age: Duration,
    topology: &Topology,
) -> Result<(), AssociationError> {
    let window = relay::RelayConfig::default().duplicate_window;
    let mut wanted = BTreeMap::new();
    for code in codes {
        let source = match topology.domain_of(code) {
            // The server takes a domain as an external API prefix. The filter keeps a leaf's
            // stream to its own hromada's subjects, whatever its operator puts in it.
            Some(domain) => SourceSpec {
                api: Some(format!("$JS.{domain}.API")),
                filter: Some(relay::subjects_filter(code)),
            },
            None => {
                js.get_or_create_stream(relay::stream_config(code, window))
                    .await
                    .map_err(AssociationError::nats)?;
                SourceSpec::default()
            }
        };
        wanted.insert(relay::stream_name(code), source);
    }
    let mut existing = js.get_stream(INGEST_STREAM).await.ok();
    let mut config = match existing.as_mut() {
        Some(stream) => stream
            .info()
            .await
            .map_err(AssociationError::nats)?
            .config
            .clone(),
        None => stream::Config {
            name: INGEST_STREAM.into(),
            storage: StorageType::File,
            max_age,
            num_replicas: topology.ingest_replicas,
            // A transport buffer: each node's own stream is the durable copy (deletes and
            // purges refused there), and any message missing here is back-filled from it.
            allow_direct: true,
            ..Default::default()
        },
    };
    let have: BTreeMap<String, SourceSpec> = config
        .sources
        .iter()
        .flatten()
        .map(|s| {
            let spec = SourceSpec {
                api: s.external.as_ref().map(|e| e.api_prefix.clone()),
                filter: s.filter_subject.clone(),
            };
            (s.name.clone(), spec)
        })
        .collect();
    if existing.is_some()
        && wanted
            .iter()
            .all(|(name, spec)| have.get(name) == Some(spec))
    {
        return Ok(());
    }
    let mut all = have;
    all.extend(wanted);
    config.sources = Some(
        all.into_iter()
            .map(|(name, spec)| Source {
                name,
                external: spec.api.map(|api_prefix| External {
                    api_prefix,
                    delivery_prefix: None,
                }),
                filter_subject: spec.filter,
                ..Default::default()
            })
            .collect(),
    );
    if existing.is_some() {
        js.update_stream(config)
            .await
            .map_err(AssociationError::nats)?;
    } else {
        js.create_stream(config)
            .await
            .map_err(AssociationError::nats)?;
    }
    Ok(())
}

/// The running ingest.
#[derive(Debug)]
pub struct Ingest {
    pub control: IngestControl,
    pub progress: watch::Receiver<IngestProgress>,
    task: tokio::task::JoinHandle<()>,
}

impl Ingest {
    /// Stops the ingest; what was committed stays, what was only in memory is read again on
    /// the next start.
    pub async fn shutdown(self) {
        self.task.abort();
        let _ = self.task.await;
    }
}

/// Starts the ingest: it reconnects and restarts from the database after any failure.
pub fn spawn(store: Store, witness: Arc<NoteSigner>, config: IngestConfig) -> Ingest {
    let (tx, rx) = mpsc::channel(CHANNEL_CAPACITY);
    let (progress_tx, progress) = watch::channel(IngestProgress::default());
    let control = IngestControl { tx: tx.clone() };
    let task = tokio::spawn(supervise(store, witness, config, tx, rx, progress_tx));
    Ingest {
        control,
        progress,
        task,
    }
}

async fn supervise(
    store: Store,
    witness: Arc<NoteSigner>,
    config: IngestConfig,
    tx: mpsc::Sender<Incoming>,
    mut rx: mpsc::Receiver<Incoming>,
    progress: watch::Sender<IngestProgress>,
) {
    let mut delay = Duration::from_millis(100);
    loop {
        let started = Instant::now();
        let result = run_once(&store, &witness, &config, &tx, &mut rx, &progress).await;
        if let Err(err) = result {
            tracing::warn!(error = %err, "ingest stopped; restarting from the database");
            progress.send_modify(|p| {
                p.connected = false;
                p.last_error = Some(err.to_string());
            });
        }
        if started.elapsed() > Duration::from_secs(30) {
            delay = Duration::from_millis(100);
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(10));
        // Drop what the failed run left in the channel: it is read again from the stream.
        while rx.try_recv().is_ok() {}
    }
}

/// One run of the ingest, from loading the state to the first error.
async fn run_once(
    store: &Store,
    witness: &NoteSigner,
    config: &IngestConfig,
    tx: &mpsc::Sender<Incoming>,
    rx: &mut mpsc::Receiver<Incoming>,
    progress: &watch::Sender<IngestProgress>,
) -> Result<(), AssociationError> {
    let client = connect(&config.nats_url).await?;
    let js = jetstream::new(client.clone());
    let mut state = State::load(store).await?;
    let codes: Vec<MunicipalityCode> = state.nodes.keys().copied().collect();
    ensure_sourced_in(&js, &codes, config.ingest_max_age, &config.topology).await?;
    let resume = store.ingest_position().await?;
    let reader = tokio::spawn(read_stream(js.clone(), resume, tx.clone()));
    let _reader_guard = AbortOnDrop(reader);
    progress.send_modify(|p| {
        p.connected = true;
        p.last_error = None;
    });
    state.next_stream_seq = resume;
    let mut enrolment_version = store.enrolment_version().await?;
    let mut backfills = Backfills::default();
    let mut stall_check = tokio::time::interval(STALL_CHECK);
    let mut commit_timer = tokio::time::interval(config.commit_interval);
    loop {
        tokio::select! {
            message = rx.recv() => {
                let Some(message) = message else { return Ok(()) };
                match message {
                    Incoming::Message { subject, payload, stream_seq } => {
                        state.handle(&subject, payload, stream_seq, &mut backfills);
                    }
                    Incoming::BackfillDone(code) => {
                        backfills.running.remove(&code);
                        state.release(code);
                    }
                    Incoming::EnrolmentChanged => {
                        state.reload_keys(store).await?;
                        let codes: Vec<MunicipalityCode> = state.nodes.keys().copied().collect();
                        ensure_sourced_in(&js, &codes, config.ingest_max_age, &config.topology)
                            .await?;
                    }
                }
                if state.batch.events >= config.batch_events_max {
                    state.commit(store, witness, progress).await?;
                }
            }
            _ = commit_timer.tick() => {
                if !state.batch.is_empty() {
                    state.commit(store, witness, progress).await?;
                }
            }
            _ = stall_check.tick() => {
                let version = store.enrolment_version().await?;
                if version != enrolment_version {
                    enrolment_version = version;
                    state.reload_keys(store).await?;
                    let codes: Vec<MunicipalityCode> = state.nodes.keys().copied().collect();
                    ensure_sourced_in(&js, &codes, config.ingest_max_age, &config.topology)
                        .await?;
                }
                for (code, from_seq) in state.stalled() {
                    backfills.want(code, from_seq);
                }
            }
        }
        for (code, from_seq) in backfills.start_ready() {
            let stream = relay::stream_name(&code);
            // A node's stream in another domain is read through that domain's API.
            let node_js = match config.topology.domain_of(&code) {
                Some(domain) => jetstream::with_domain(client.clone(), domain),
                None => js.clone(),
            };
            tokio::spawn(backfill(node_js, code, stream, from_seq, tx.clone()));
        }
    }
}

/// Aborts a task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<Result<(), AssociationError>>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Reads the ingest stream in order from `resume`, forever.
async fn read_stream(
    js: Context,
    resume: u64,
    tx: mpsc::Sender<Incoming>,
) -> Result<(), AssociationError> {
    let stream = js
        .get_stream(INGEST_STREAM)
        .await
        .map_err(AssociationError::nats)?;
    pump(&stream, resume, Pump::Live, &tx).await
}

/// Which reading a pump does.
#[derive(Debug, Clone, Copy)]
enum Pump {
    /// The ingest stream, forever, each message tagged with its stream sequence.
    Live,
    /// A node's own stream up to `last`, untagged (it is not the ingest stream's position).
    Backfill { last: u64 },
}

/// Reads `stream` in order from `start` into the verifying loop.
async fn pump(
    stream: &jetstream::stream::Stream,
    start: u64,
    kind: Pump,
    tx: &mpsc::Sender<Incoming>,
) -> Result<(), AssociationError> {
    let consumer = stream
        .create_consumer(OrderedConfig {
            deliver_policy: DeliverPolicy::ByStartSequence {
                start_sequence: start,
            },
            ..Default::default()
        })
        .await
        .map_err(AssociationError::nats)?;
    let mut messages = consumer.messages().await.map_err(AssociationError::nats)?;
    let mut read = 0;
    while let Some(message) = messages.next().await {
        let message = message.map_err(AssociationError::nats)?;
        let seq = message
            .info()
            .map_err(AssociationError::nats)?
            .stream_sequence;
        let incoming = Incoming::Message {
            subject: message.subject.to_string(),
            payload: message.payload.to_vec(),
            stream_seq: match kind {
                Pump::Live => seq,
                Pump::Backfill { .. } => 0,
            },
        };
        if tx.send(incoming).await.is_err() {
            break;
        }
        read += 1;
        if let Pump::Backfill { last } = kind
            && (seq >= last || read >= BACKFILL_MESSAGES_MAX)
        {
            break;
        }
    }
    Ok(())
}

/// Reads `code`'s own stream from the message carrying log sequence `from_seq` (or the first
/// later one), up to what the stream holds now, into the verifying loop.
async fn backfill(
    js: Context,
    code: MunicipalityCode,
    stream_name: String,
    from_seq: u64,
    tx: mpsc::Sender<Incoming>,
) {
    if let Err(err) = backfill_inner(&js, &stream_name, from_seq, &tx).await {
        tracing::warn!(municipality = %code, error = %err, "back-fill failed; it is retried");
    }
    let _ = tx.send(Incoming::BackfillDone(code)).await;
}

async fn backfill_inner(
    js: &Context,
    stream_name: &str,
    from_seq: u64,
    tx: &mpsc::Sender<Incoming>,
) -> Result<(), AssociationError> {
    let mut stream = js
        .get_stream(stream_name)
        .await
        .map_err(AssociationError::nats)?;
    let info = stream.info().await.map_err(AssociationError::nats)?;
    let (first, last) = (info.state.first_sequence, info.state.last_sequence);
    if last == 0 || last < first {
        return Ok(());
    }
    // The smallest stream sequence whose log position is >= from_seq.
    let (mut lo, mut hi) = (first, last + 1);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        let position = match stream.get_raw_message(mid).await {
            Ok(message) => log_position(&message.headers),
            Err(_) => None,
        };
        match position {
            Some(p) if p >= from_seq => hi = mid,
            _ => lo = mid + 1,
        }
    }
    let start = lo.saturating_sub(1).max(first);
    pump(&stream, start, Pump::Backfill { last }, tx).await
}

/// An event's log sequence or a checkpoint's tree size, from the relay's headers.
fn log_position(headers: &async_nats::HeaderMap) -> Option<u64> {
    headers
        .get(relay::SEQ_HEADER)
        .or_else(|| headers.get(relay::TREE_SIZE_HEADER))
        .and_then(|v| v.as_str().parse().ok())
}

/// Back-fills wanted and running.
#[derive(Debug, Default)]
struct Backfills {
    running: BTreeSet<MunicipalityCode>,
    wanted: BTreeMap<MunicipalityCode, u64>,
}

impl Backfills {
    fn want(&mut self, code: MunicipalityCode, from_seq: u64) {
        if !self.running.contains(&code) {
            self.wanted.entry(code).or_insert(from_seq);
        }
    }

    fn start_ready(&mut self) -> Vec<(MunicipalityCode, u64)> {
        let mut started = Vec::new();
        while self.running.len() < BACKFILLS_MAX {
            let Some((code, from_seq)) = self.wanted.pop_first() else {
                break;
            };
            self.running.insert(code);
            started.push((code, from_seq));
        }
        started
    }
}

/// What the next commit writes.
#[derive(Debug, Default)]
pub(crate) struct Batch {
    pub segments: Vec<Segment>,
    pub events: usize,
    pub quarantine: Vec<QuarantineRecord>,
    pub forks: Vec<commit::ForkRecord>,
    /// Events at or below the verified size, to compare with the stored bytes.
    pub check_events: Vec<(MunicipalityCode, u64, [u8; 32], QuarantineRecord)>,
    /// Checkpoints for an already verified size, to compare with the stored tree.
    pub check_roots: Vec<(MunicipalityCode, u64, [u8; 32], String, QuarantineRecord)>,
}

impl Batch {
    fn is_empty(&self) -> bool {
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
    fn new(q: Quarantine, subject: &str, payload: &[u8], stream_seq: u64) -> Self {
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

/// The verifying loop's state.
struct State {
    nodes: BTreeMap<MunicipalityCode, NodeVerifier>,
    batch: Batch,
    /// The ingest stream position after the last message handled.
    next_stream_seq: u64,
    received: HashMap<MunicipalityCode, u64>,
    /// Events waiting in all nodes' verifiers.
    pending_total: usize,
}

impl State {
    async fn load(store: &Store) -> Result<Self, AssociationError> {
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
        })
    }

    async fn reload_keys(&mut self, store: &Store) -> Result<(), AssociationError> {
        for row in store.nodes().await? {
            match self.nodes.get_mut(&row.code) {
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

    fn handle(
        &mut self,
        subject: &str,
        payload: Vec<u8>,
        stream_seq: u64,
        backfills: &mut Backfills,
    ) {
        if stream_seq > 0 {
            self.next_stream_seq = self.next_stream_seq.max(stream_seq + 1);
        }
        let (is_event, code_text) = if let Some(code) = subject.strip_prefix("vidkryto.ev.") {
            (true, code)
        } else if let Some(code) = subject.strip_prefix("vidkryto.ckpt.") {
            (false, code)
        } else {
            tracing::debug!(subject, "ignoring a message on a foreign subject");
            return;
        };
        let unknown = |detail: String| QuarantineRecord {
            code: code_text.to_owned(),
            subject: subject.to_owned(),
            seq: None,
            reason: Reason::UnknownMunicipality,
            detail,
            payload: payload.clone(),
            stream_seq: (stream_seq > 0).then_some(stream_seq),
        };
        let Ok(code) = MunicipalityCode::parse(code_text) else {
            let record = unknown(format!("{code_text:?} is not a KATOTTG code"));
            self.batch.quarantine.push(record);
            return;
        };
        let Some(node) = self.nodes.get_mut(&code) else {
            let record = unknown(format!("{code} is not enrolled"));
            self.batch.quarantine.push(record);
            return;
        };
        if is_event {
            match node.on_event(&payload, stream_seq, self.pending_total < PENDING_TOTAL_MAX) {
                EventOutcome::Pending => self.pending_total += 1,
                EventOutcome::Duplicate => {}
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
                        &payload,
                        stream_seq,
                    );
                    self.batch.check_events.push((code, seq, leaf, record));
                }
                EventOutcome::Gap { from_seq } => backfills.want(code, from_seq),
                EventOutcome::Quarantined(q) => {
                    let record = QuarantineRecord::new(q, subject, &payload, stream_seq);
                    self.batch.quarantine.push(record);
                }
            }
            self.received.insert(code, node.received_seq());
            return;
        }
        let note = String::from_utf8_lossy(&payload).into_owned();
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
                    &payload,
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
                    &payload,
                    stream_seq,
                );
                self.batch.quarantine.push(record);
                self.batch.forks.push(commit::ForkRecord {
                    code,
                    size,
                    accepted_root,
                    other_root: other.checkpoint.root,
                    other_note: note,
                });
            }
            CheckpointOutcome::Quarantined(q) => {
                let record = QuarantineRecord::new(q, subject, &payload, stream_seq);
                self.batch.quarantine.push(record);
            }
        }
    }

    fn accept(&mut self, segments: Vec<Segment>) {
        for segment in segments {
            self.pending_total = self.pending_total.saturating_sub(segment.events.len());
            self.batch.events += segment.events.len();
            self.batch.segments.push(segment);
        }
    }

    /// Held checkpoints that failed once their events arrived (their note is in the detail).
    fn quarantine_held(&mut self, failed: Vec<Quarantine>) {
        for q in failed {
            self.batch.quarantine.push(QuarantineRecord {
                code: q.code.to_string(),
                subject: relay::checkpoint_subject(&q.code),
                seq: q.seq,
                reason: q.reason,
                detail: q.detail,
                payload: Vec::new(),
                stream_seq: None,
            });
        }
    }

    /// After a back-fill: checkpoints held for its events may now apply.
    fn release(&mut self, code: MunicipalityCode) {
        if let Some(node) = self.nodes.get_mut(&code) {
            let (segments, failed) = node.release_held();
            self.accept(segments);
            self.quarantine_held(failed);
        }
    }

    /// Nodes still waiting for events a checkpoint covers, with where to back-fill from.
    fn stalled(&mut self) -> Vec<(MunicipalityCode, u64)> {
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

    /// The resume position: the oldest message still only in memory, or the next one.
    fn resume_position(&self) -> u64 {
        self.nodes
            .values()
            .filter_map(NodeVerifier::oldest_stream_seq)
            .min()
            .unwrap_or(self.next_stream_seq)
            .min(self.next_stream_seq)
    }

    async fn commit(
        &mut self,
        store: &Store,
        witness: &NoteSigner,
        progress: &watch::Sender<IngestProgress>,
    ) -> Result<(), AssociationError> {
        let batch = std::mem::take(&mut self.batch);
        let received: Vec<(MunicipalityCode, u64)> = self.received.drain().collect();
        let resume = self.resume_position();
        let now = Timestamp::now();
        let outcome = commit::commit(store, witness, batch, &received, resume, now).await;
        match outcome {
            Ok(summary) => {
                progress.send_modify(|p| {
                    p.commits += 1;
                    p.events += summary.events as u64;
                });
                Ok(())
            }
            Err(err) => {
                // The in-memory state ran ahead of the database: drop it; the supervisor
                // reloads from the database.
                for node in self.nodes.values_mut() {
                    node.clear_waiting();
                }
                self.pending_total = 0;
                Err(err)
            }
        }
    }
}

/// Parses a node verifier key given as text.
pub fn parse_vkey(text: &str) -> Result<NoteVerifier, AssociationError> {
    NoteVerifier::parse(text.trim()).map_err(|e| AssociationError::invalid("vkey", e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_domain_template_names_each_hromadas_leaf_domain() {
        let code = MunicipalityCode::parse("UA05020030000031457").unwrap();
        let own = Topology::default();
        assert_eq!(own.domain_of(&code), None);
        own.validate().unwrap();

        let leaves = Topology {
            source_domain_template: Some("muni_{code}".into()),
            ingest_replicas: 3,
        };
        leaves.validate().unwrap();
        assert_eq!(
            leaves.domain_of(&code).as_deref(),
            Some("muni_UA05020030000031457")
        );

        for bad in ["muni", "muni.{code}", "muni {code}", "muni_{code}.>"] {
            let topology = Topology {
                source_domain_template: Some(bad.into()),
                ..Topology::default()
            };
            assert!(topology.validate().is_err(), "{bad}");
        }
        for replicas in [0, 6] {
            let topology = Topology {
                ingest_replicas: replicas,
                ..Topology::default()
            };
            assert!(topology.validate().is_err(), "{replicas}");
        }
    }
}
