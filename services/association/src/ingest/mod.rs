//! Verified ingest, supervised: every enrolled node's stream is sourced into one ingest stream; one loop
//! reads it in order, runs each message through its node's [`NodeVerifier`], and commits
//! verified segments, their projections, quarantine records and the resume position in one
//! PostgreSQL transaction per batch.
//!
//! **Exactly once.** A node's verified size and its projections move in the same transaction,
//! and an event at or below the verified size is never applied again; the ingest resumes at
//! the oldest stream position still held only in memory, so a crash loses nothing and counts
//! nothing twice.
//!
//! **Pipelined.** A batch's commit runs on a task of its own while the loop verifies the next
//! batch: one commit at most, commits in order, and whatever reads what a commit writes (a
//! reload of the keys, a revocation) waits for it first.
//!
//! **Gaps.** A missing event (lost by JetStream, or dropped from memory past the bounds) is
//! back-filled from the node's own stream, found by binary search on its sequence header; only
//! that node waits.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_nats::jetstream;
use event_store_core::checkpoint::NoteVerifier;
use event_store_core::{MunicipalityCode, Timestamp};
use tokio::sync::{mpsc, oneshot, watch};

use crate::decisions::Signer;
use crate::error::AssociationError;
use crate::lease::{Candidate, Lease, RENEW_INTERVAL};
use crate::store::Store;

mod backfill;
mod pump;
mod state;
mod topology;
mod traces;

pub use crate::batch::IngestProgress;
pub use topology::{INGEST_STREAM, Topology, connect, ensure_sourced, ensure_sourced_in};

use backfill::Backfills;
use pump::{AbortOnDrop, Feed, Incoming, Origin, read_stream};
use state::{InFlight, State};

/// How long an instance whose term ended in failure (a rebuild that failed) stands by before
/// it campaigns again, so another may take over and no instance retries in a tight loop.
const FAILED_TERM_PAUSE: Duration = Duration::from_secs(10);
/// A leader whose ingest has not reached NATS for this long gives the lease up, so a standby
/// that does can ingest (a leader cut off from NATS but not from PostgreSQL would otherwise
/// renew its lease forever while nothing is ingested).
pub const NATS_CUT_OFF_MAX: Duration = Duration::from_secs(10);
/// Messages in flight from the readers to the verifying loop.
const CHANNEL_CAPACITY: usize = 4_096;
/// How often nodes that still wait for events are looked at again.
const STALL_CHECK: Duration = Duration::from_secs(2);
/// How long the ingest stream's reader may deliver nothing before the ingest asks the stream
/// whether it is behind.
const READER_QUIET_MAX: Duration = Duration::from_secs(10);

/// How the ingest runs.
#[derive(Debug, Clone)]
pub struct IngestConfig {
    pub nats_url: String,
    pub topology: Topology,
    /// Commit when this many records wait (verified events, quarantine records, checks), 1 to
    /// 50,000.
    pub batch_events_max: usize,
    /// Commit at least this often while verified events wait.
    pub commit_interval: Duration,
    /// How long the ingest stream keeps messages (each node's own stream keeps everything).
    pub ingest_max_age: Duration,
    /// Whether commits write the practice catalogue (on; off only to measure its cost).
    pub catalogue: bool,
    /// What the ingest counts for operators (`telemetry`).
    pub metrics: crate::telemetry::Metrics,
}

impl IngestConfig {
    pub fn new(nats_url: impl Into<String>) -> Self {
        Self {
            nats_url: nats_url.into(),
            topology: Topology::default(),
            batch_events_max: 10_000,
            commit_interval: Duration::from_millis(100),
            ingest_max_age: Duration::from_secs(30 * 24 * 60 * 60),
            catalogue: true,
            metrics: crate::telemetry::Metrics::default(),
        }
    }
}

/// Requests to the ingest, served ahead of any message waiting for it.
#[derive(Debug)]
pub(crate) enum Control {
    /// The enrolment changed in the database: reload the keys now.
    Reload(oneshot::Sender<()>),
    /// Revoke `vkey` of `code` (all its keys with `None`): commit what was accepted so far,
    /// record the revocation after it, reload the keys.
    Revoke {
        code: MunicipalityCode,
        vkey: Option<Box<NoteVerifier>>,
        reply: oneshot::Sender<Result<u64, AssociationError>>,
    },
}

/// Control requests waiting at most.
const CONTROL_CAPACITY: usize = 16;
/// How long a caller waits for the ingest to serve a control request (it may be reconnecting;
/// it reloads the keys from the database when it starts again anyway).
const CONTROL_TIMEOUT: Duration = Duration::from_secs(10);

/// A handle to tell the ingest about enrolment changes.
#[derive(Debug, Clone)]
pub struct IngestControl {
    tx: mpsc::Sender<Control>,
}

impl IngestControl {
    /// Has the ingest reload the enrolled keys, waiting until it did (or for the timeout).
    pub async fn reload(&self) {
        let (reply, done) = oneshot::channel();
        if self.tx.send(Control::Reload(reply)).await.is_ok() {
            let _ = tokio::time::timeout(CONTROL_TIMEOUT, done).await;
        }
    }

    /// Has the ingest revoke `vkey` of `code`; `None` when it did not answer in time (the
    /// caller records the revocation itself).
    pub async fn revoke(
        &self,
        code: MunicipalityCode,
        vkey: Option<NoteVerifier>,
    ) -> Option<Result<u64, AssociationError>> {
        let (reply, done) = oneshot::channel();
        let request = Control::Revoke {
            code,
            vkey: vkey.map(Box::new),
            reply,
        };
        self.tx.send(request).await.ok()?;
        tokio::time::timeout(CONTROL_TIMEOUT, done).await.ok()?.ok()
    }
}

/// The running ingest.
#[derive(Debug)]
pub struct Ingest {
    pub control: IngestControl,
    pub progress: watch::Receiver<IngestProgress>,
    /// The lease while this instance leads (ingests), `None` while it stands by.
    pub leadership: watch::Receiver<Option<Lease>>,
    task: tokio::task::JoinHandle<()>,
    store: Store,
    holder: uuid::Uuid,
}

impl Ingest {
    /// Stops the ingest; what was committed stays, what was only in memory is read again on
    /// the next start. The lease is given up, so a standby takes over at once (and instances
    /// that serve reads say the figures are not current once none does).
    pub async fn shutdown(self) {
        self.task.abort();
        let _ = self.task.await;
        if let Err(err) = crate::lease::release(&self.store, self.holder).await {
            tracing::warn!(error = %err, "cannot give up the ingest lease; it runs out");
        }
    }
}

/// Starts the ingest: it stands by until it holds the ingest lease (`lease`), then reconnects
/// and restarts from the database after any failure for as long as it holds it, and stands by
/// again once another instance took it over.
pub fn spawn(store: Store, signer: Signer, config: IngestConfig) -> Ingest {
    let (tx, rx) = mpsc::channel(CHANNEL_CAPACITY);
    let (control_tx, control_rx) = mpsc::channel(CONTROL_CAPACITY);
    let (progress_tx, progress) = watch::channel(IngestProgress::default());
    let (leadership_tx, leadership) = watch::channel(None);
    let control = IngestControl { tx: control_tx };
    let channels = Channels {
        tx,
        rx,
        control: control_rx,
    };
    let candidate = Candidate::new(store.clone());
    let holder = candidate.holder();
    let task = tokio::spawn(supervise(
        candidate,
        store.clone(),
        signer,
        config,
        channels,
        progress_tx,
        leadership_tx,
    ));
    Ingest {
        control,
        progress,
        leadership,
        task,
        store,
        holder,
    }
}

/// The ingest's channels: messages from the readers, and control requests.
struct Channels {
    tx: mpsc::Sender<Incoming>,
    rx: mpsc::Receiver<Incoming>,
    control: mpsc::Receiver<Control>,
}

async fn supervise(
    candidate: Candidate,
    store: Store,
    signer: Signer,
    config: IngestConfig,
    mut channels: Channels,
    progress: watch::Sender<IngestProgress>,
    leadership: watch::Sender<Option<Lease>>,
) {
    let candidate = Arc::new(tokio::sync::Mutex::new(candidate));
    loop {
        let lease = stand_by(
            &mut *candidate.lock().await,
            &store,
            &signer,
            &mut channels,
            &progress,
        )
        .await;
        tracing::info!(epoch = lease.epoch, holder = %lease.holder, "leading the ingest");
        progress.send_modify(|p| {
            p.connected = false;
            p.behind = true;
        });
        leadership.send_replace(Some(lease));
        let why = lead(
            candidate.clone(),
            lease,
            &store,
            &signer,
            &config,
            &mut channels,
            &progress,
        )
        .await;
        leadership.send_replace(None);
        candidate.lock().await.step_down().await;
        if !matches!(why, AssociationError::Fenced { .. }) {
            tokio::time::sleep(FAILED_TERM_PAUSE).await;
        }
        tracing::warn!(epoch = lease.epoch, reason = %why, "stopped leading the ingest; standing by");
        progress.send_modify(|p| {
            p.connected = false;
            p.last_error = Some(why.to_string());
        });
    }
}

/// Stands by until this instance takes the lease, reporting what the leader says of itself
/// and serving control requests (the leader notices enrolment changes in the database).
async fn stand_by(
    candidate: &mut Candidate,
    store: &Store,
    signer: &Signer,
    channels: &mut Channels,
    progress: &watch::Sender<IngestProgress>,
) -> Lease {
    let mut campaign = tokio::time::interval(crate::lease::CAMPAIGN_INTERVAL);
    campaign.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut failures = 0u32;
    loop {
        tokio::select! {
            biased;
            Some(request) = channels.control.recv() => match request {
                Control::Reload(reply) => {
                    let _ = reply.send(());
                }
                Control::Revoke { code, vkey, reply } => {
                    let revoked = crate::decisions::revoke(
                        store, signer, &code, vkey.as_deref(), Timestamp::now(),
                    )
                    .await;
                    let _ = reply.send(revoked);
                }
            },
            _ = campaign.tick() => {
                match candidate.try_acquire().await {
                    Ok(Some(lease)) => return lease,
                    Ok(None) => failures = 0,
                    Err(err) => {
                        failures += 1;
                        // Once, then every minute or so while it lasts.
                        if failures % 120 == 1 {
                            tracing::warn!(error = %err, "cannot campaign for the ingest lease");
                        }
                    }
                }
                report_leader(store, progress).await;
            }
        }
    }
}

/// Reports, as this instance's progress, what the lease row says of the leader: an instance
/// that stands by (or serves reads only) shows nodes current only while a leader is.
pub async fn report_leader(store: &Store, progress: &watch::Sender<IngestProgress>) {
    let view = crate::lease::observe(store).await.unwrap_or_default();
    progress.send_if_modified(|p| {
        let (connected, behind) = (view.held, !view.current);
        let changed = p.connected != connected || p.behind != behind;
        p.connected = connected;
        p.behind = behind;
        changed
    });
}

/// Leads until the lease is lost: runs the ingest, restarting it from the database after any
/// failure, while a task of its own renews the lease. Returns why it stopped.
async fn lead(
    candidate: Arc<tokio::sync::Mutex<Candidate>>,
    lease: Lease,
    store: &Store,
    signer: &Signer,
    config: &IngestConfig,
    channels: &mut Channels,
    progress: &watch::Sender<IngestProgress>,
) -> AssociationError {
    let (lost_tx, mut lost) = watch::channel(false);
    let _keeper = AbortOnDrop(tokio::spawn(keep(
        candidate,
        lease,
        progress.subscribe(),
        lost_tx,
    )));
    // An upgrade's new projection is rebuilt by the first leader that runs it, before it
    // ingests.
    match crate::rebuild::ensure_current(store, Some(&lease)).await {
        Ok(Some(summary)) => tracing::info!(events = summary.events, "rebuilt the projection"),
        Ok(None) => {}
        // Ingesting into a projection of another version would mix two sets of rules: the
        // term ends, and the instance stands by a while before it tries again.
        Err(err) => {
            tracing::error!(error = %err, "rebuilding the projection failed");
            return err;
        }
    }
    let fenced = AssociationError::Fenced { epoch: lease.epoch };
    let mut delay = Duration::from_millis(100);
    // When the ingest last reached NATS (or this term began).
    let mut reached_nats = Instant::now();
    loop {
        let started = Instant::now();
        let err = match run_once(store, signer, config, channels, progress, &mut lost, lease).await
        {
            Ok(()) => AssociationError::Nats("the ingest's channel closed".into()),
            Err(err) => err,
        };
        if matches!(err, AssociationError::Fenced { .. }) {
            return err;
        }
        // A run that got as far as reading the stream reached NATS; one that failed on
        // anything but NATS says nothing about it.
        if progress.borrow().connected || !matches!(err, AssociationError::Nats(_)) {
            reached_nats = Instant::now();
        } else if reached_nats.elapsed() >= NATS_CUT_OFF_MAX {
            tracing::error!(error = %err, "the ingest has not reached NATS for {NATS_CUT_OFF_MAX:?}: giving the lease up");
            return AssociationError::Nats(format!(
                "cut off from NATS for {NATS_CUT_OFF_MAX:?} ({err})"
            ));
        }
        tracing::warn!(error = %err, "ingest stopped; restarting from the database");
        progress.send_modify(|p| {
            p.connected = false;
            p.behind = true;
            p.last_error = Some(err.to_string());
        });
        if started.elapsed() > Duration::from_secs(30) {
            delay = Duration::from_millis(100);
        }
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            () = lost_now(&mut lost) => return fenced,
        }
        delay = (delay * 2).min(Duration::from_secs(10));
        // Drop what the failed run left in the channel: it is read again from the stream.
        while channels.rx.try_recv().is_ok() {}
    }
}

/// Returns once `lost` turns true (never, if its keeper is gone without finding it lost).
async fn lost_now(lost: &mut watch::Receiver<bool>) {
    if lost.wait_for(|l| *l).await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// Renews `lease` every [`RENEW_INTERVAL`] with the ingest's word on being current, until a
/// renewal finds it lost (then `lost` turns true). A failure to reach the database keeps the
/// term: every write is fenced anyway, and a renewal says so once the lease ran out. Each
/// write fences itself in the database; this is how an idle leader learns it lost.
async fn keep(
    candidate: Arc<tokio::sync::Mutex<Candidate>>,
    lease: Lease,
    progress: watch::Receiver<IngestProgress>,
    lost: watch::Sender<bool>,
) {
    let mut ticks = tokio::time::interval(RENEW_INTERVAL);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let current = progress.borrow().current();
        match candidate.lock().await.renew(&lease, current).await {
            Ok(true) => {}
            Ok(false) => {
                lost.send_replace(true);
                return;
            }
            Err(err) => tracing::warn!(error = %err, "cannot renew the ingest lease"),
        }
    }
}

/// One run of the ingest, from loading the state to the first error.
async fn run_once(
    store: &Store,
    signer: &Signer,
    config: &IngestConfig,
    channels: &mut Channels,
    progress: &watch::Sender<IngestProgress>,
    lost: &mut watch::Receiver<bool>,
    lease: Lease,
) -> Result<(), AssociationError> {
    let Channels { tx, rx, control } = channels;
    let client = connect(&config.nats_url).await?;
    let js = jetstream::new(client.clone());
    let mut state = State::load(store, lease).await?;
    state.catalogue = config.catalogue;
    state.metrics = config.metrics.clone();
    let codes: Vec<MunicipalityCode> = state.nodes.keys().copied().collect();
    ensure_sourced_in(&js, &codes, config.ingest_max_age, &config.topology).await?;
    let resume = store.ingest_position().await?;
    let mut ingest_stream = js
        .get_stream(INGEST_STREAM)
        .await
        .map_err(AssociationError::nats)?;
    let mut seen_last = 0;
    let feed = Feed::new(tx.clone());
    let reader = tokio::spawn(read_stream(js.clone(), resume, feed.clone()));
    let mut reader = AbortOnDrop(reader);
    let mut last_live = Instant::now();
    progress.send_modify(|p| {
        p.connected = true;
        p.last_error = None;
    });
    state.next_stream_seq = resume;
    let mut backfills = Backfills::default();
    // Owned by this run: a restart aborts them, so no back-fill of an earlier run reports to
    // this one.
    let mut backfill_tasks = tokio::task::JoinSet::new();
    let mut stall_check = tokio::time::interval(STALL_CHECK);
    let mut commit_timer = tokio::time::interval(config.commit_interval);
    // The commit running while the next batch is verified (one at most), and whether the
    // timer found the batch being verified due.
    let mut in_flight: Option<InFlight> = None;
    let mut due = false;
    let key = signer.key();
    let ended: Result<(), AssociationError> = async {
        loop {
            tokio::select! {
                biased;
                () = lost_now(lost) => return Err(AssociationError::Fenced { epoch: lease.epoch }),
                Some(request) = control.recv() => {
                    settle(&mut state, &mut in_flight, progress).await?;
                    match request {
                        Control::Reload(reply) => {
                            state.reload_keys(store).await?;
                            let codes: Vec<MunicipalityCode> =
                                state.nodes.keys().copied().collect();
                            ensure_sourced_in(&js, &codes, config.ingest_max_age, &config.topology)
                                .await?;
                            let _ = reply.send(());
                        }
                        Control::Revoke { code, vkey, reply } => {
                            // What was accepted under the key is committed before the revocation
                            // is recorded, and nothing is accepted under it after.
                            // (No commit runs: the branch finished it first.)
                            if !state.batch.is_empty() {
                                in_flight = Some(state.start_commit(store, key));
                                settle(&mut state, &mut in_flight, progress).await?;
                            }
                            let at = Timestamp(Timestamp::now().0.saturating_add(1));
                            let revoked =
                                crate::decisions::revoke(
                                    store, signer, &code, vkey.as_deref(), at,
                                )
                                .await;
                            state.reload_keys(store).await?;
                            let _ = reply.send(revoked);
                        }
                    }
                }
                // Ahead of the messages, which are always ready in a catch-up: a finished
                // commit's failure restarts the run at once.
                outcome = running(&mut in_flight) => {
                    if let Some(commit) = in_flight.take() {
                        state.finish_commit(commit, outcome, progress)?;
                    }
                }
                message = rx.recv() => {
                    let Some(message) = message else { return Ok(()) };
                    match message {
                        Incoming::Message { subject, payload, origin, .. } => {
                            if matches!(origin, Origin::Ingest { .. }) {
                                last_live = Instant::now();
                            }
                            state.handle(&subject, payload, &origin, &mut backfills);
                        }
                        Incoming::BackfillDone { code, completed } => {
                            backfills.done(code, completed);
                            let before = state.nodes.get(&code).map(|n| n.verified_size());
                            state.release(code);
                            if state.nodes.get(&code).map(|n| n.verified_size()) != before {
                                backfills.advanced(code);
                            }
                        }
                    }
                    if state.batch.records() >= config.batch_events_max
                        || state.batch.bytes >= state::COMMIT_BYTES_MAX
                    {
                        settle(&mut state, &mut in_flight, progress).await?;
                        in_flight = Some(state.start_commit(store, key));
                        due = false;
                    }
                }
                // After the messages: while they are always ready (a catch-up), batches are
                // committed by size, which is faster than by time.
                _ = commit_timer.tick() => due |= !state.batch.is_empty(),
                ended = &mut reader.0 => {
                    // The reader never ends while the ingest runs: a stream that ended (a server
                    // restart that lost the consumer) or failed starts the ingest over.
                    let why = match ended {
                        Ok(Ok(())) => "the ingest stream's consumer ended".to_owned(),
                        Ok(Err(err)) => err.to_string(),
                        Err(err) => format!("the ingest stream's reader stopped: {err}"),
                    };
                    return Err(AssociationError::Nats(why));
                }
                _ = stall_check.tick() => {
                    let last = ingest_stream
                        .info()
                        .await
                        .map_err(AssociationError::nats)?
                        .state
                        .last_sequence;
                    // Still unread: what the stream held at the last check.
                    let behind = seen_last >= state.next_stream_seq;
                    progress.send_if_modified(|p| {
                        std::mem::replace(&mut p.behind, behind) != behind
                    });
                    seen_last = last;
                    // A consumer that went quiet while the stream holds more than was read (one
                    // lost in a server restart, with the client none the wiser) is recreated.
                    if last_live.elapsed() >= READER_QUIET_MAX {
                        if last >= state.next_stream_seq {
                            return Err(AssociationError::Nats(format!(
                                "no message from the ingest stream for {:?} while it holds up to \
                                 {last} and {} were read",
                                last_live.elapsed(),
                                state.next_stream_seq.saturating_sub(1),
                            )));
                        }
                        last_live = Instant::now();
                    }
                    if store.enrolment_version().await? != state.keys_version {
                        // The keys' reload takes changed nodes' positions from the database.
                        settle(&mut state, &mut in_flight, progress).await?;
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
            // A batch the timer found due is committed once no commit runs.
            if due && in_flight.is_none() {
                due = false;
                if !state.batch.is_empty() {
                    in_flight = Some(state.start_commit(store, key));
                }
            }
            while backfill_tasks.try_join_next().is_some() {}
            for (code, from_seq, retry) in backfills.start_ready() {
                config.metrics.backfill_started();
                // A node's stream in another domain is read through that domain's API.
                let node_js = match config.topology.domain_of(&code) {
                    Some(domain) => jetstream::with_domain(client.clone(), domain),
                    None => js.clone(),
                };
                backfill_tasks.spawn(backfill::backfill(
                    node_js,
                    code,
                    from_seq,
                    retry,
                    feed.clone(),
                ));
            }
        }
    }
    .await;
    // A commit still running is waited for, so a restart loads what it wrote.
    if let Some(mut commit) = in_flight.take()
        && let Err(err) = commit.outcome().await
    {
        tracing::warn!(error = %err, "the last commit of a stopped ingest run failed");
    }
    ended
}

/// Waits for the running commit, if any (never returns without one).
async fn running(
    in_flight: &mut Option<InFlight>,
) -> Result<(crate::commit::CommitSummary, Duration), AssociationError> {
    match in_flight {
        Some(commit) => commit.outcome().await,
        None => std::future::pending().await,
    }
}

/// Finishes the running commit, if any.
async fn settle(
    state: &mut State,
    in_flight: &mut Option<InFlight>,
    progress: &watch::Sender<IngestProgress>,
) -> Result<(), AssociationError> {
    if let Some(mut commit) = in_flight.take() {
        let outcome = commit.outcome().await;
        state.finish_commit(commit, outcome, progress)?;
    }
    Ok(())
}
