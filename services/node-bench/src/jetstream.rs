//! The relay against its baseline: a fresh SQLite log prefilled with domain events is relayed
//! to a real `nats-server` (timed from `relay::spawn` until every event is acknowledged), and
//! the very same stored bytes are published straight to JetStream, pipelined with the same
//! bounded window, every `PubAck` awaited.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail, ensure};
use async_nats::jetstream::context::PublishAckFuture;
use async_nats::jetstream::message::PublishMessage;
use async_nats::jetstream::stream::{self, StorageType};
use async_nats::jetstream::{self, Context};
use domain::dialogue::{ContributionContent, ContributionSubmitted, DialogueEvent};
use domain::{ContributionId, DialogueId, PseudonymTag};
use event_store::{ExpectedVersion, Log, NewEvent, READ_LIMIT_MAX};
use event_store_core::{EventId, LogSeq, StreamId, Timestamp};
use event_store_sqlite::SqliteBackend;
use relay::RelayConfig;
use uuid::Uuid;

use crate::commands::open_log;

/// Events per `Log::append` while prefilling (the log's largest batch).
const PREFILL_BATCH: usize = 1_000;
/// Longest the relay (or a raw publish run) may take to get every event acknowledged.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(600);
/// Timeout of every JetStream request and `PubAck`, as the relay's default.
const ACK_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest wait for the relay to stop after its last acknowledgement.
const RELAY_STOP_TIMEOUT: Duration = Duration::from_secs(30);

/// One stored event, ready to publish: its bytes and the relay's headers.
#[derive(Debug)]
struct Stored {
    seq: u64,
    msg_id: String,
    bytes: Vec<u8>,
}

/// A contribution to a public dialogue: a domain event of about 300 stored bytes (its text in
/// the clear, as an accepted contribution's disclosure is about as long).
fn contribution(dialogue: DialogueId, n: usize, at: Timestamp) -> NewEvent {
    let mut author = [0u8; 32];
    author[..8].copy_from_slice(&(n as u64).to_le_bytes());
    let text =
        format!("Пропозиція {n}: облаштувати пішохідний перехід біля школи та освітлення зупинки.");
    let encoded = domain::encode(&domain::Event::Dialogue(
        DialogueEvent::ContributionSubmitted(ContributionSubmitted {
            dialogue_id: dialogue,
            contribution_id: ContributionId(Uuid::now_v7()),
            author: PseudonymTag(author),
            content: ContributionContent::Clear { text },
            at,
        }),
    ));
    NewEvent {
        event_id: EventId::new_v7(),
        event_type: encoded.event_type,
        schema_version: encoded.schema_version,
        recorded_at: at,
        payload: encoded.payload,
    }
}

/// Appends `events` contributions in batches of [`PREFILL_BATCH`], one dialogue per batch.
async fn prefill(log: &Log<SqliteBackend>, events: usize) -> anyhow::Result<()> {
    let mut n = 0;
    while n < events {
        let len = PREFILL_BATCH.min(events - n);
        let dialogue = DialogueId(Uuid::now_v7());
        let at = Timestamp::now();
        let batch = (n..n + len)
            .map(|i| contribution(dialogue, i, at))
            .collect();
        log.append(StreamId(dialogue.0), ExpectedVersion::NoStream, batch)
            .await
            .context("failed to prefill the log")?;
        n += len;
    }
    Ok(())
}

/// Every event of `log` as stored, in order.
async fn read_stored(log: &Log<SqliteBackend>) -> anyhow::Result<Vec<Stored>> {
    let mut out = Vec::new();
    loop {
        let from = out.last().map_or(1, |s: &Stored| s.seq + 1);
        let rows = log
            .read(LogSeq(from), READ_LIMIT_MAX)
            .await
            .context("failed to read the log")?;
        if rows.is_empty() {
            return Ok(out);
        }
        out.extend(rows.into_iter().map(|r| Stored {
            seq: r.seq.0,
            msg_id: r.event_id.to_string(),
            bytes: r.bytes,
        }));
    }
}

/// A JetStream context set up as the relay sets up its own.
fn context(client: async_nats::Client, in_flight: usize) -> Context {
    jetstream::ContextBuilder::new()
        .timeout(ACK_TIMEOUT)
        .ack_timeout(ACK_TIMEOUT)
        .max_ack_inflight(in_flight.saturating_mul(2))
        .backpressure_on_inflight(true)
        .build(client)
}

/// How the raw baseline publishes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Raw {
    /// With the relay's headers: `Nats-Msg-Id`, `Vidkryto-Seq`, `Nats-Expected-Stream`.
    RelayHeaders,
    /// The payload alone.
    Plain,
}

/// Publishes `stored` to a fresh stream configured as the relay's, with at most `in_flight`
/// unacknowledged; returns messages/s.
async fn raw_publish(
    js: &Context,
    name: &str,
    stored: &[Stored],
    in_flight: usize,
    how: Raw,
) -> anyhow::Result<f64> {
    let subject = format!("bench.{}", name.to_lowercase());
    js.create_stream(stream::Config {
        name: name.to_owned(),
        subjects: vec![subject.clone()],
        storage: StorageType::File,
        deny_delete: true,
        deny_purge: true,
        allow_direct: true,
        duplicate_window: RelayConfig::default().duplicate_window,
        ..Default::default()
    })
    .await
    .with_context(|| format!("failed to create the stream {name}"))?;
    // Messages are built before the clock starts: the baseline is the publishing alone.
    let messages: Vec<(u64, PublishMessage)> = stored
        .iter()
        .map(|m| {
            let message = PublishMessage::build().payload(m.bytes.clone().into());
            let message = match how {
                Raw::RelayHeaders => message
                    .message_id(m.msg_id.as_str())
                    .header(wire::SEQ_HEADER, m.seq.to_string())
                    .expected_stream(name),
                Raw::Plain => message,
            };
            (m.seq, message)
        })
        .collect();
    let mut pending: VecDeque<PublishAckFuture> = VecDeque::with_capacity(in_flight);
    let started = Instant::now();
    let deadline = started + DELIVERY_TIMEOUT;
    for (seq, message) in messages {
        while pending.len() >= in_flight {
            settle(&mut pending, how).await?;
        }
        let ack = js
            .send_publish(subject.clone(), message)
            .await
            .with_context(|| format!("failed to publish message {seq}"))?;
        pending.push_back(ack);
        ensure!(
            Instant::now() < deadline,
            "raw publish took over {DELIVERY_TIMEOUT:?}"
        );
    }
    while !pending.is_empty() {
        settle(&mut pending, how).await?;
    }
    Ok(stored.len() as f64 / started.elapsed().as_secs_f64())
}

/// Awaits the oldest pending `PubAck` (bounded by the context's ack timeout).
async fn settle(pending: &mut VecDeque<PublishAckFuture>, how: Raw) -> anyhow::Result<()> {
    if let Some(ack) = pending.pop_front() {
        let ack = ack.await.context("a PubAck failed")?;
        ensure!(
            how == Raw::Plain || !ack.duplicate,
            "message {} was taken for a duplicate",
            ack.sequence
        );
    }
    Ok(())
}

/// Relays all of `log` to a fresh stream on `nats_url`; returns events/s from the spawn until
/// JetStream acknowledged the last event.
async fn relay_run(log: &Arc<Log<SqliteBackend>>, nats_url: &str) -> anyhow::Result<f64> {
    let size = log.size();
    let started = Instant::now();
    let handle = relay::spawn(log.clone(), RelayConfig::new(nats_url.to_owned()))
        .context("failed to start the relay")?;
    let mut status = handle.status();
    let reached = matches!(
        tokio::time::timeout(DELIVERY_TIMEOUT, status.wait_for(|s| s.acked_seq >= size)).await,
        Ok(Ok(_))
    );
    let took = started.elapsed();
    if !reached {
        let last = status.borrow().clone();
        handle.abort();
        bail!("the relay did not reach {size} within {DELIVERY_TIMEOUT:?}: {last:?}");
    }
    match tokio::time::timeout(RELAY_STOP_TIMEOUT, handle.shutdown()).await {
        Ok(result) => result.context("the relay stopped with an error")?,
        Err(_) => bail!("the relay did not stop within {RELAY_STOP_TIMEOUT:?}"),
    }
    Ok(size as f64 / took.as_secs_f64())
}

/// One run's figures, in events (or messages) per second.
#[derive(Clone, Copy, Debug)]
pub struct RelayRun {
    pub relay: f64,
    pub raw_relay_headers: f64,
    pub raw_plain: f64,
    /// Reading every stored event from the log alone, events/s.
    pub read_alone: f64,
    /// Mean stored bytes per event.
    pub event_len_mean: f64,
}

/// One run on a fresh `nats-server` and a fresh log of `events` events; `rotation` rotates the
/// order of the three measurements between runs, so none always goes first.
pub async fn relay_vs_raw(events: usize, rotation: usize) -> anyhow::Result<RelayRun> {
    let dir = tempfile::tempdir()?;
    let log = open_log(dir.path()).await?;
    prefill(&log, events).await?;
    let read_started = Instant::now();
    let stored = read_stored(&log).await?;
    let read_alone = events as f64 / read_started.elapsed().as_secs_f64();
    ensure!(
        stored.len() == events,
        "read {} events back, not {events}",
        stored.len()
    );
    let event_len_mean = stored.iter().map(|s| s.bytes.len()).sum::<usize>() as f64 / events as f64;

    let mut nats = testkit::NatsServer::start()
        .await
        .context("failed to start nats-server")?;
    let url = nats.url();
    let in_flight = RelayConfig::default().in_flight_max as usize;
    let client = async_nats::ConnectOptions::new()
        .connection_timeout(ACK_TIMEOUT)
        .connect(url.as_str())
        .await
        .context("failed to connect to nats-server")?;
    let js = context(client, in_flight);
    let (mut relay, mut with_headers, mut plain) = (0.0, 0.0, 0.0);
    for step in 0..3 {
        match (step + rotation) % 3 {
            0 => relay = relay_run(&log, &url).await?,
            1 => {
                with_headers =
                    raw_publish(&js, "RAW_HEADERS", &stored, in_flight, Raw::RelayHeaders).await?
            }
            _ => plain = raw_publish(&js, "RAW_PLAIN", &stored, in_flight, Raw::Plain).await?,
        }
    }
    nats.stop().await.context("failed to stop nats-server")?;
    Ok(RelayRun {
        relay,
        raw_relay_headers: with_headers,
        raw_plain: plain,
        read_alone,
        event_len_mean,
    })
}
