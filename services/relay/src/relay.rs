//! The relay loop: connect, reconcile with the stream, pump the log through a bounded pipeline
//! of publishes, and on any error drop what is in flight, back off and start over from what
//! JetStream has acknowledged.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_nats::jetstream::context::PublishAckFuture;
use async_nats::jetstream::message::PublishMessage;
use async_nats::jetstream::{self, Context};
use event_store::{Backend, EventRow, Log, StoredCheckpoint};
use event_store_core::{EventId, LogSeq, MunicipalityCode};
use futures_util::FutureExt;
use tokio::sync::watch;

use crate::config::RelayConfig;
use crate::error::RelayError;
use crate::reconcile::{Subjects, proven_on_stream};
use crate::status::{CHECKPOINT_CURSOR, EVENT_CURSOR, RelayStatus};
use opentelemetry::trace::{Span as _, SpanKind, Status, Tracer as _};
use opentelemetry::{KeyValue, global::BoxedSpan};
use wire::trace::{TRACEPARENT_HEADER, traceparent};
use wire::{
    SEQ_HEADER, TREE_SIZE_HEADER, checkpoint_msg_id, checkpoint_subject, event_subject, stream_name,
};

/// Save the cursors at least this often while events flow. The cursor only shortens the
/// reconciliation after a restart (the stream's last messages that are the log's own are the
/// authority; the cursor is the fallback when none is found), so a write per second (or per
/// batch of events, below) is plenty and keeps the relay from adding a database write to every
/// append.
const CURSOR_SAVE_INTERVAL: Duration = Duration::from_secs(1);

/// Save the cursors once this many events were acknowledged since the last save, even within
/// [`CURSOR_SAVE_INTERVAL`]: a catch-up of millions of events then writes one row per
/// thousand.
const CURSOR_SAVE_EVENTS: u64 = 1_000;

/// Checkpoints fetched from the log at once. Nodes sign one per 1,000 events or second by
/// default, so a read batch rarely covers more than a few.
const CHECKPOINT_FETCH_MAX: u32 = 64;

/// The names of one municipality's stream and subjects.
#[derive(Debug)]
struct Names {
    municipality: MunicipalityCode,
    stream: String,
    events: String,
    checkpoints: String,
}

impl Names {
    fn new(municipality: MunicipalityCode) -> Self {
        Self {
            municipality,
            stream: stream_name(&municipality),
            events: event_subject(&municipality),
            checkpoints: checkpoint_subject(&municipality),
        }
    }
}

/// Streams `log` to JetStream until `shutdown` resolves; returns early only on a fatal error
/// (a bad setting, an unusable URL, the relay's own saved cursors ahead of the log). What is
/// on the stream is never fatal: messages there that are not the log's are passed over. Every
/// other error is reported in `status`, and the relay retries after a bounded exponential
/// backoff.
///
/// On shutdown the publishes in flight are awaited (each bounded by `ack_timeout`) and the
/// cursors saved; cancelling the future instead is safe too, as the next run reconciles with
/// the stream.
#[tracing::instrument(name = "relay", skip_all, fields(municipality = %log.municipality()))]
pub async fn run<B: Backend>(
    log: Arc<Log<B>>,
    config: RelayConfig,
    status: watch::Sender<RelayStatus>,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), RelayError> {
    config.validate()?;
    let names = Names::new(log.municipality());
    let (backoff_min, backoff_max) = (config.backoff_min, config.backoff_max);
    let options = async_nats::ConnectOptions::new()
        .name(format!("vidkryto-relay-{}", names.municipality))
        .retry_on_initial_connect()
        .max_reconnects(None)
        .connection_timeout(config.ack_timeout)
        .reconnect_delay_callback(move |attempt| backoff_delay(backoff_min, backoff_max, attempt));
    let client = wire::with_url_credentials(options, &config.nats_url)
        .connect(config.nats_url.as_str())
        .await
        .map_err(RelayError::Connect)?;
    // The context's own limit on unawaited acks must leave room for the publishes dropped
    // after an error, whose permits its acker holds until their ack times out.
    let context_in_flight = usize::try_from(config.in_flight_max)
        .unwrap_or(usize::MAX)
        .saturating_mul(2);
    let js = jetstream::ContextBuilder::new()
        .timeout(config.ack_timeout)
        .ack_timeout(config.ack_timeout)
        .max_ack_inflight(context_in_flight)
        .backpressure_on_inflight(true)
        .build(client.clone());

    let mut shutdown = Shutdown::new(shutdown);
    let mut backoff = Backoff::new(backoff_min, backoff_max);
    loop {
        let mut pump = Pump::new(&log, &js, &names, &config, &status);
        let result = pump.run(&mut shutdown).await;
        let progressed = pump.progressed;
        match result {
            Ok(()) => {
                status.send_modify(|s| s.connected = false);
                tracing::info!(acked_seq = pump.acked_seq, "relay stopped");
                return Ok(());
            }
            Err(e) => {
                let message = wire::error_chain(&e);
                status.send_modify(|s| {
                    s.connected = false;
                    s.last_error = Some(message.clone());
                });
                if e.is_fatal() {
                    tracing::error!(error = %message, "relay failed");
                    return Err(e);
                }
                if shutdown.fired() {
                    tracing::warn!(error = %message, "relay stopped after an error");
                    return Ok(());
                }
                if progressed {
                    backoff.reset();
                }
                let delay = backoff.next_delay();
                tracing::warn!(
                    error = %message,
                    retry_in_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                    acked_seq = pump.acked_seq,
                    "relay error, backing off"
                );
                tokio::select! {
                    () = shutdown.wait() => return Ok(()),
                    () = tokio::time::sleep(delay) => {}
                }
            }
        }
    }
}

/// What is awaiting a `PubAck`.
#[derive(Debug)]
enum Sent {
    Event(u64),
    /// The leaf hashes of the events up to this sequence number.
    Leaves(u64),
    Checkpoint(u64),
}

/// One connection's worth of relaying: from reconciliation to the first error or shutdown.
struct Pump<'a, B: Backend> {
    log: &'a Log<B>,
    js: &'a Context,
    names: &'a Names,
    config: &'a RelayConfig,
    status: &'a watch::Sender<RelayStatus>,
    in_flight: VecDeque<(Sent, PublishAckFuture, Option<BoxedSpan>)>,
    /// The next event sequence to publish.
    next_seq: u64,
    /// The last event sequence acknowledged, and the last one saved in the cursor.
    acked_seq: u64,
    saved_seq: u64,
    /// Signed checkpoints not yet published, by size, and the largest size published.
    checkpoints: VecDeque<StoredCheckpoint>,
    checkpoint_sent: u64,
    /// The last checkpoint size acknowledged, and the last one saved.
    checkpoint_acked: u64,
    checkpoint_saved: u64,
    saved_at: Instant,
    /// Whether anything was acknowledged in this session (so the backoff starts over).
    progressed: bool,
}

impl<'a, B: Backend> Pump<'a, B> {
    fn new(
        log: &'a Log<B>,
        js: &'a Context,
        names: &'a Names,
        config: &'a RelayConfig,
        status: &'a watch::Sender<RelayStatus>,
    ) -> Self {
        let (acked_seq, checkpoint_acked) = {
            let s = status.borrow();
            (s.acked_seq, s.published_checkpoint_size)
        };
        Self {
            log,
            js,
            names,
            config,
            status,
            in_flight: VecDeque::new(),
            next_seq: acked_seq.saturating_add(1),
            acked_seq,
            saved_seq: 0,
            checkpoints: VecDeque::new(),
            checkpoint_sent: checkpoint_acked,
            checkpoint_acked,
            checkpoint_saved: 0,
            saved_at: Instant::now(),
            progressed: false,
        }
    }

    async fn run<F: Future<Output = ()>>(
        &mut self,
        shutdown: &mut Shutdown<F>,
    ) -> Result<(), RelayError> {
        self.reconcile().await?;
        let mut size = self.log.subscribe();
        let mut checkpoints = self.log.subscribe_checkpoints();
        // The next batch, read while the previous one was being published.
        let mut prefetched: Option<Vec<EventRow>> = None;
        loop {
            if shutdown.fired() {
                self.drain().await?;
                return self.save_cursors().await;
            }
            // Mark the size seen before reading, so an append racing the read wakes us below.
            size.borrow_and_update();
            let batch = self.config.read_batch;
            let rows = match prefetched.take() {
                Some(rows) if rows.first().is_some_and(|r| r.seq.0 == self.next_seq) => rows,
                _ => self.log.read(LogSeq(self.next_seq), batch).await?,
            };
            let caught_up = rows.len() < batch as usize;
            if caught_up {
                for row in rows {
                    self.publish_event(row).await?;
                }
                self.publish_due_checkpoints().await?;
            } else {
                let next_from = rows.last().map_or(self.next_seq, |r| r.seq.0 + 1);
                let log = self.log;
                let read_next = async move { log.read(LogSeq(next_from), batch).await };
                let publish = async {
                    for row in rows {
                        self.publish_event(row).await?;
                    }
                    self.publish_due_checkpoints().await
                };
                let (next, published) = tokio::join!(read_next, publish);
                published?;
                prefetched = Some(next?);
            }
            if !caught_up {
                self.report();
                self.save_cursors_if_due().await?;
                continue;
            }
            // Caught up: settle everything, so the checkpoints covering the last events go out.
            self.drain().await?;
            self.publish_due_checkpoints().await?;
            self.drain().await?;
            self.report();
            self.save_cursors_if_due().await?;
            // Wait for news. The log's watches announce every append and checkpoint of this
            // process, so a quiet poll reads the database only every [`QUIET_POLLS_PER_READ`]
            // (for what another process may have written): an idle node costs no query a
            // second, which with 1,470 nodes in one process (`vidkryto dev`) was most of its
            // CPU.
            let mut quiet = 0u32;
            loop {
                tokio::select! {
                    () = shutdown.wait() => {}
                    changed = size.changed() => {
                        if changed.is_err() {
                            // The log is gone; only the fallback poll is left.
                            tokio::time::sleep(self.config.idle_poll).await;
                        }
                    }
                    // A checkpoint signed on the time policy goes out at once, not at the next
                    // poll: it is what lets the association verify (and project) the last
                    // events.
                    changed = checkpoints.changed() => {
                        if changed.is_err() {
                            tokio::time::sleep(self.config.idle_poll).await;
                        }
                    }
                    () = tokio::time::sleep(self.config.idle_poll) => {
                        // Quiet: a good moment to save what was acknowledged since the last
                        // save.
                        self.save_cursors().await?;
                        quiet += 1;
                        if quiet < QUIET_POLLS_PER_READ {
                            continue;
                        }
                    }
                }
                break;
            }
        }
    }

    /// Makes sure the stream exists and resumes after what it already holds: the later of the
    /// saved cursor and the last message on the stream that is the log's own (by its body;
    /// headers prove nothing), so nothing is published twice even when the cursor was not
    /// saved after the last acknowledgements, and nothing is skipped whatever others published
    /// on the node's subjects.
    async fn reconcile(&mut self) -> Result<(), RelayError> {
        let names = self.names;
        let stream = self
            .js
            .get_or_create_stream(wire::stream_config(
                &names.municipality,
                self.config.duplicate_window,
            ))
            .await
            .map_err(|source| RelayError::Stream {
                stream: names.stream.clone(),
                source,
            })?;
        let info = stream.cached_info().clone();
        // A stream made by an earlier version lacks newer subjects or limits: add them.
        let wanted = wire::stream_config(&names.municipality, self.config.duplicate_window);
        let missing = wanted
            .subjects
            .iter()
            .any(|s| !info.config.subjects.contains(s));
        if missing || info.config.max_message_size != wanted.max_message_size {
            let mut config = info.config.clone();
            for subject in wanted.subjects {
                if !config.subjects.contains(&subject) {
                    config.subjects.push(subject);
                }
            }
            config.max_message_size = wanted.max_message_size;
            self.js
                .update_stream(config)
                .await
                .map_err(|e| RelayError::UpdateStream {
                    stream: names.stream.clone(),
                    detail: e.to_string(),
                })?;
        }
        if !info.config.deny_delete || !info.config.deny_purge {
            tracing::warn!(
                stream = %names.stream,
                "existing stream allows deleting or purging messages"
            );
        }

        let backend = self.log.backend();
        let log_size = backend.head().await?.size();
        let saved = backend.cursor(EVENT_CURSOR).await?.unwrap_or(0);
        let saved_checkpoint = backend.cursor(CHECKPOINT_CURSOR).await?.unwrap_or(0);
        // The relay's own record past its log: the database was replaced under it.
        for (what, position) in [
            ("relay cursor", saved),
            ("relay checkpoint cursor", saved_checkpoint),
        ] {
            if position > log_size {
                return Err(RelayError::AheadOfLog {
                    what,
                    position,
                    log_size,
                });
            }
        }
        let subjects = Subjects {
            events: &names.events,
            checkpoints: &names.checkpoints,
        };
        let proven = proven_on_stream(backend, &stream, &subjects, log_size).await?;

        // Every position here is at most the log's size, so the next one cannot overflow.
        self.acked_seq = self.acked_seq.max(saved).max(proven.event);
        self.next_seq = self.acked_seq.saturating_add(1);
        self.saved_seq = saved;
        self.checkpoint_acked = self
            .checkpoint_acked
            .max(saved_checkpoint)
            .max(proven.checkpoint);
        self.checkpoint_sent = self.checkpoint_acked;
        self.checkpoint_saved = saved_checkpoint;
        self.checkpoints.clear();
        tracing::info!(
            stream = %names.stream,
            saved_cursor = saved,
            stream_last_seq = proven.event,
            stream_last_checkpoint = proven.checkpoint,
            resume_from = self.next_seq,
            checkpoint_size = self.checkpoint_acked,
            log_size,
            "relay reconciled with the stream"
        );
        self.status.send_modify(|s| {
            s.connected = true;
            s.acked_seq = self.acked_seq;
            s.published_checkpoint_size = self.checkpoint_acked;
        });
        self.save_cursors().await
    }

    async fn publish_event(&mut self, row: EventRow) -> Result<(), RelayError> {
        if row.seq.0 != self.next_seq {
            return Err(RelayError::LogOrder {
                expected: self.next_seq,
                found: row.seq.0,
            });
        }
        self.make_room().await?;
        let seq = row.seq.0;
        let mut message = PublishMessage::build()
            .payload(row.bytes.into())
            .message_id(row.event_id.to_string())
            .header(SEQ_HEADER, seq.to_string())
            .expected_stream(self.names.stream.as_str());
        let span = self.publish_span(seq, row.event_id);
        if let Some(parent) = span.as_ref().and_then(|s| traceparent(s.span_context())) {
            message = message.header(TRACEPARENT_HEADER, parent);
        }
        let ack = match self
            .js
            .send_publish(self.names.events.clone(), message)
            .await
        {
            Ok(ack) => ack,
            Err(source) => {
                if let Some(mut span) = span {
                    span.set_status(Status::error(source.to_string()));
                }
                return Err(RelayError::Publish {
                    what: format!("event {seq}"),
                    source,
                });
            }
        };
        self.in_flight.push_back((Sent::Event(seq), ack, span));
        self.next_seq = seq + 1;
        Ok(())
    }

    /// The span of publishing event `seq`, a child of the command's that appended it, when
    /// this process traces and ran that command; it ends with the event's acknowledgement.
    fn publish_span(&self, seq: u64, id: EventId) -> Option<BoxedSpan> {
        let parent = wire::trace::take(id)?;
        let tracer = wire::trace::tracer();
        let span = tracer
            .span_builder("vidkryto.relay.publish")
            .with_kind(SpanKind::Producer)
            .with_attributes([
                KeyValue::new("vidkryto.hromada", self.names.municipality.to_string()),
                KeyValue::new("vidkryto.log.seq", seq as i64),
                KeyValue::new("messaging.system", "nats"),
                KeyValue::new("messaging.destination.name", self.names.events.clone()),
            ])
            .start_with_context(tracer, &wire::trace::under(parent));
        Some(span)
    }

    /// Publishes, by increasing size, every signed checkpoint whose events are all
    /// acknowledged.
    async fn publish_due_checkpoints(&mut self) -> Result<(), RelayError> {
        loop {
            if self.checkpoints.is_empty() {
                let fetched = self
                    .log
                    .backend()
                    .checkpoints(self.checkpoint_sent.saturating_add(1), CHECKPOINT_FETCH_MAX)
                    .await?;
                if fetched.is_empty() {
                    return Ok(());
                }
                self.checkpoints.extend(fetched);
            }
            let Some(size) = self.checkpoints.front().map(|c| c.size) else {
                return Ok(());
            };
            if size > self.acked_seq {
                return Ok(());
            }
            self.make_room().await?;
            let Some(checkpoint) = self.checkpoints.pop_front() else {
                return Ok(());
            };
            if checkpoint.size <= self.checkpoint_sent {
                continue;
            }
            self.publish_leaves(self.checkpoint_sent.saturating_add(1), size)
                .await?;
            let message_id = checkpoint_msg_id(&self.names.municipality, size, &checkpoint.note);
            let message = PublishMessage::build()
                .payload(checkpoint.note.into_bytes().into())
                .message_id(message_id)
                .header(TREE_SIZE_HEADER, size.to_string())
                .expected_stream(self.names.stream.as_str());
            let ack = self
                .js
                .send_publish(self.names.checkpoints.clone(), message)
                .await
                .map_err(|source| RelayError::Publish {
                    what: format!("checkpoint {size}"),
                    source,
                })?;
            self.in_flight
                .push_back((Sent::Checkpoint(size), ack, None));
            self.checkpoint_sent = size;
        }
    }

    /// Publishes the leaf hashes of events `first ..= last` (the events a checkpoint adds), in
    /// messages of at most `wire::LEAVES_PER_MESSAGE_MAX`, ahead of the checkpoint: with them
    /// the association picks the node's own bytes among whatever else was published on its
    /// subject, and the checkpoint's root authenticates them.
    async fn publish_leaves(&mut self, first: u64, last: u64) -> Result<(), RelayError> {
        let mut from = first;
        while from <= last {
            let count = (last - from + 1).min(wire::LEAVES_PER_MESSAGE_MAX as u64);
            let rows = self
                .log
                .read(LogSeq(from), u32::try_from(count).unwrap_or(u32::MAX))
                .await?;
            let leaves: Vec<[u8; 32]> = rows
                .iter()
                .take_while(|row| row.seq.0 <= last)
                .map(|row| event_store_core::merkle::leaf_hash(&row.bytes))
                .collect();
            if leaves.len() as u64 != count {
                return Err(RelayError::LogOrder {
                    expected: from + leaves.len() as u64,
                    found: rows.get(leaves.len()).map_or(0, |r| r.seq.0),
                });
            }
            let end = from + count - 1;
            let payload = wire::encode_leaves(from, &leaves);
            self.make_room().await?;
            let message = PublishMessage::build()
                .message_id(wire::leaves_msg_id(
                    &self.names.municipality,
                    from,
                    &payload,
                ))
                .payload(payload.into())
                .header(SEQ_HEADER, end.to_string())
                .expected_stream(self.names.stream.as_str());
            let ack = self
                .js
                .send_publish(wire::leaves_subject(&self.names.municipality), message)
                .await
                .map_err(|source| RelayError::Publish {
                    what: format!("leaves {from} to {end}"),
                    source,
                })?;
            self.in_flight.push_back((Sent::Leaves(end), ack, None));
            from = end + 1;
        }
        Ok(())
    }

    /// Waits for acknowledgements until fewer than `in_flight_max` publishes are pending.
    async fn make_room(&mut self) -> Result<(), RelayError> {
        while self.in_flight.len() >= self.config.in_flight_max as usize {
            self.settle_one().await?;
        }
        Ok(())
    }

    /// Waits for every pending acknowledgement.
    async fn drain(&mut self) -> Result<(), RelayError> {
        while !self.in_flight.is_empty() {
            self.settle_one().await?;
        }
        Ok(())
    }

    /// Awaits the oldest pending acknowledgement (acks are taken strictly in publish order).
    async fn settle_one(&mut self) -> Result<(), RelayError> {
        let Some((sent, ack, mut span)) = self.in_flight.pop_front() else {
            return Ok(());
        };
        let what = match sent {
            Sent::Event(seq) => format!("event {seq}"),
            Sent::Leaves(last) => format!("leaves up to {last}"),
            Sent::Checkpoint(size) => format!("checkpoint {size}"),
        };
        let ack = match ack.await {
            Ok(ack) => ack,
            Err(source) => {
                if let Some(span) = span.as_mut() {
                    span.set_status(Status::error(source.to_string()));
                }
                return Err(RelayError::Publish { what, source });
            }
        };
        if let Some(span) = span.as_mut() {
            span.set_attribute(KeyValue::new("vidkryto.stream.seq", ack.sequence as i64));
        }
        if ack.stream != self.names.stream {
            return Err(RelayError::WrongStream {
                what,
                expected: self.names.stream.clone(),
                found: ack.stream,
            });
        }
        match sent {
            Sent::Event(seq) => self.acked_seq = seq,
            Sent::Leaves(_) => {}
            Sent::Checkpoint(size) => self.checkpoint_acked = size,
        }
        self.progressed = true;
        Ok(())
    }

    /// Publishes the acknowledged positions to the status receivers.
    fn report(&self) {
        let (acked_seq, checkpoint) = (self.acked_seq, self.checkpoint_acked);
        self.status.send_if_modified(|s| {
            let changed = s.acked_seq != acked_seq
                || s.published_checkpoint_size != checkpoint
                || !s.connected
                || (s.last_error.is_some() && self.progressed);
            s.acked_seq = acked_seq;
            s.published_checkpoint_size = checkpoint;
            s.connected = true;
            if self.progressed {
                s.last_error = None;
            }
            changed
        });
    }

    async fn save_cursors_if_due(&mut self) -> Result<(), RelayError> {
        let due = self.acked_seq >= self.saved_seq + CURSOR_SAVE_EVENTS
            || self.saved_at.elapsed() >= CURSOR_SAVE_INTERVAL;
        if due {
            self.save_cursors().await?;
        }
        Ok(())
    }

    /// Saves the acknowledged positions that changed since the last save.
    async fn save_cursors(&mut self) -> Result<(), RelayError> {
        let backend = self.log.backend();
        if self.acked_seq > self.saved_seq {
            backend.set_cursor(EVENT_CURSOR, self.acked_seq).await?;
            self.saved_seq = self.acked_seq;
        }
        if self.checkpoint_acked > self.checkpoint_saved {
            backend
                .set_cursor(CHECKPOINT_CURSOR, self.checkpoint_acked)
                .await?;
            self.checkpoint_saved = self.checkpoint_acked;
        }
        self.saved_at = Instant::now();
        Ok(())
    }
}

/// Quiet polls (nothing announced by the log's watches) between two reads of the database.
const QUIET_POLLS_PER_READ: u32 = 10;

/// The delay before reconnect `attempt` (0-based): `min · 2^attempt`, at most `max`.
fn backoff_delay(min: Duration, max: Duration, attempt: usize) -> Duration {
    let factor = 1_u32 << u32::try_from(attempt).unwrap_or(u32::MAX).min(16);
    min.saturating_mul(factor).min(max)
}

/// Bounded exponential backoff between sessions.
#[derive(Debug)]
struct Backoff {
    min: Duration,
    max: Duration,
    attempt: usize,
}

impl Backoff {
    fn new(min: Duration, max: Duration) -> Self {
        Self {
            min,
            max,
            attempt: 0,
        }
    }

    fn next_delay(&mut self) -> Duration {
        let delay = backoff_delay(self.min, self.max, self.attempt);
        self.attempt = self.attempt.saturating_add(1);
        delay
    }

    fn reset(&mut self) {
        self.attempt = 0;
    }
}

/// The caller's shutdown future, pollable both as a check and as a wait (it is never polled
/// again once it has resolved).
struct Shutdown<F> {
    future: Pin<Box<F>>,
    fired: bool,
}

impl<F: Future<Output = ()>> Shutdown<F> {
    fn new(future: F) -> Self {
        Self {
            future: Box::pin(future),
            fired: false,
        }
    }

    fn fired(&mut self) -> bool {
        if !self.fired && self.future.as_mut().now_or_never().is_some() {
            self.fired = true;
        }
        self.fired
    }

    async fn wait(&mut self) {
        if !self.fired {
            self.future.as_mut().await;
            self.fired = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_its_bound() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_secs(5));
        let delays: Vec<u128> = (0..9).map(|_| b.next_delay().as_millis()).collect();
        assert_eq!(delays, [100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000]);
        b.reset();
        assert_eq!(b.next_delay(), Duration::from_millis(100));
        assert_eq!(
            backoff_delay(
                Duration::from_millis(100),
                Duration::from_secs(5),
                usize::MAX
            ),
            Duration::from_secs(5)
        );
    }
}
