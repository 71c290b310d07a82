//! Shared setup of the relay's system tests: a SQLite log in a temporary directory, appends,
//! and readers that check what reached a real JetStream stream against the log.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_nats::jetstream::consumer::pull::OrderedConfig;
use async_nats::jetstream::{self, Context};
use event_store::{Backend, CheckpointPolicy, ExpectedVersion, Log, StoredCheckpoint};
use event_store_conformance::{event, municipality, signer};
use event_store_core::checkpoint::SignedCheckpoint;
use event_store_core::{LogSeq, StreamId, origin_for};
use event_store_sqlite::{Durability, SqliteBackend};
use futures_util::StreamExt;
use relay::RelayStatus;
use tokio::sync::watch;
use wire::{
    SEQ_HEADER, TREE_SIZE_HEADER, checkpoint_msg_id, checkpoint_subject, event_subject, stream_name,
};

pub type SqliteLog = Log<SqliteBackend>;

/// Opens (creating) the test municipality's log in `dir`.
pub async fn open_log(dir: &Path, policy: CheckpointPolicy) -> Arc<SqliteLog> {
    let backend = SqliteBackend::open(&dir.join("log.db"), Durability::Full)
        .await
        .expect("open sqlite");
    Arc::new(
        Log::open(backend, municipality(), signer(), policy)
            .await
            .expect("open log"),
    )
}

/// A checkpoint policy that signs only every `every_events` events (never on time alone).
pub fn every_events(every_events: u32) -> CheckpointPolicy {
    CheckpointPolicy {
        every_events,
        every_ms: 3_600_000,
    }
}

/// Appends `n` events in batches of at most `batch`, each batch a new stream.
pub async fn append(log: &SqliteLog, n: u32, batch: u32) {
    let mut done = 0;
    while done < n {
        let len = batch.min(n - done);
        let events = (done..done + len).map(event).collect();
        log.append(
            StreamId(uuid::Uuid::now_v7()),
            ExpectedVersion::NoStream,
            events,
        )
        .await
        .expect("append");
        done += len;
    }
}

/// A JetStream context on `url`.
pub async fn jetstream(url: &str) -> Context {
    let client = async_nats::connect(url).await.expect("connect to nats");
    jetstream::new(client)
}

/// Waits until the relay reports at least `seq` events and checkpoint size `checkpoint`.
pub async fn wait_status(
    status: &mut watch::Receiver<RelayStatus>,
    seq: u64,
    checkpoint: u64,
    timeout: Duration,
) -> RelayStatus {
    let reached = {
        let wait =
            status.wait_for(|s| s.acked_seq >= seq && s.published_checkpoint_size >= checkpoint);
        match tokio::time::timeout(timeout, wait).await {
            Ok(Ok(s)) => Some(s.clone()),
            _ => None,
        }
    };
    match reached {
        Some(s) => s,
        None => panic!(
            "relay did not reach event {seq} and checkpoint {checkpoint} within {timeout:?}: {:?}",
            *status.borrow()
        ),
    }
}

/// The number in `header` of the last message on `subject` (0 if none).
async fn last_on_subject(js: &Context, subject: &str, header: &str) -> u64 {
    let Ok(stream) = js.get_stream(stream_name(&municipality())).await else {
        return 0;
    };
    match stream.get_last_raw_message_by_subject(subject).await {
        Ok(m) => m.headers.get(header).unwrap().as_str().parse().unwrap(),
        Err(_) => 0,
    }
}

/// Polls the stream itself (not the relay's status) until its last event is `seq` and its
/// last checkpoint `checkpoint`, or panics after `timeout`.
pub async fn wait_stream(js: &Context, seq: u64, checkpoint: u64, timeout: Duration) {
    let code = municipality();
    let deadline = Instant::now() + timeout;
    loop {
        let last_event = last_on_subject(js, &event_subject(&code), SEQ_HEADER).await;
        let last_checkpoint =
            last_on_subject(js, &checkpoint_subject(&code), TREE_SIZE_HEADER).await;
        if last_event >= seq && last_checkpoint >= checkpoint {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "stream reached event {last_event} and checkpoint {last_checkpoint}, \
             not {seq} and {checkpoint}, within {timeout:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// One message as the stream holds it.
#[derive(Debug)]
pub struct Stored {
    pub sequence: u64,
    pub subject: String,
    pub headers: async_nats::HeaderMap,
    pub payload: Vec<u8>,
}

/// Every message of the municipality's stream, by stream sequence, read with an ordered
/// consumer (one request per message would take seconds for ten thousand).
pub async fn stream_messages(js: &Context) -> Vec<Stored> {
    let mut stream = js
        .get_stream(stream_name(&municipality()))
        .await
        .expect("stream exists");
    let state = stream.info().await.expect("stream info").state.clone();
    assert_eq!(state.first_sequence, 1, "nothing removed from the stream");
    assert_eq!(state.messages, state.last_sequence, "no hole in the stream");
    let consumer = stream
        .create_consumer(OrderedConfig::default())
        .await
        .expect("ordered consumer");
    let mut messages = consumer.messages().await.expect("consume");
    let mut out = Vec::with_capacity(usize::try_from(state.messages).unwrap());
    while (out.len() as u64) < state.messages {
        let m = tokio::time::timeout(Duration::from_secs(10), messages.next())
            .await
            .expect("next message in time")
            .expect("stream open")
            .expect("message");
        out.push(Stored {
            sequence: m.info().expect("jetstream message").stream_sequence,
            subject: m.subject.to_string(),
            headers: m.headers.clone().unwrap_or_default(),
            payload: m.payload.to_vec(),
        });
    }
    out
}

/// What a stream held, once checked.
#[derive(Debug)]
pub struct Checked {
    pub events: u64,
    pub checkpoints: Vec<u64>,
}

/// Checks that the stream holds exactly the log: every event once, in log order, with its
/// stored bytes and headers; every signed checkpoint once, by increasing size, each after all
/// the events it covers, verifying under the log's key.
pub async fn check_stream(js: &Context, log: &SqliteLog) -> Checked {
    check_stream_except(js, log, &[]).await
}

/// [`check_stream`], but for the messages at the stream sequences `forged`, which someone
/// other than the relay published on the node's subjects and which are skipped.
pub async fn check_stream_except(js: &Context, log: &SqliteLog, forged: &[u64]) -> Checked {
    let code = municipality();
    let (events_subject, checkpoints_subject) = (event_subject(&code), checkpoint_subject(&code));
    let size = log.size();
    let mut rows = Vec::new();
    while (rows.len() as u64) < size {
        let batch = log
            .read(LogSeq(rows.len() as u64 + 1), event_store::READ_LIMIT_MAX)
            .await
            .unwrap();
        rows.extend(batch);
    }
    let stored: Vec<StoredCheckpoint> = all_checkpoints(log).await;
    let verifier = log.verifier();
    let origin = origin_for(&code);

    let mut next_event = 1_u64;
    let mut checkpoints = Vec::new();
    let messages = stream_messages(js).await;
    for (i, m) in messages.iter().enumerate() {
        assert_eq!(m.sequence, i as u64 + 1);
    }
    for m in messages.iter().filter(|m| !forged.contains(&m.sequence)) {
        let header = |name: &str| m.headers.get(name).map(|v| v.as_str().to_owned());
        if m.subject == events_subject {
            let seq: u64 = header(SEQ_HEADER).unwrap().parse().unwrap();
            assert_eq!(
                seq, next_event,
                "event out of order or duplicated at stream {}",
                m.sequence
            );
            let row = &rows[usize::try_from(seq - 1).unwrap()];
            assert_eq!(header("Nats-Msg-Id").unwrap(), row.event_id.to_string());
            assert_eq!(&m.payload[..], &row.bytes[..], "payload of event {seq}");
            next_event += 1;
        } else if m.subject == checkpoints_subject {
            let size: u64 = header(TREE_SIZE_HEADER).unwrap().parse().unwrap();
            assert!(
                checkpoints.last().is_none_or(|&last| size > last),
                "checkpoint {size} after {checkpoints:?}"
            );
            assert!(
                size < next_event,
                "checkpoint {size} before event {next_event}"
            );
            let note = std::str::from_utf8(&m.payload).unwrap();
            assert_eq!(
                header("Nats-Msg-Id").unwrap(),
                checkpoint_msg_id(&code, size, note)
            );
            let signed = SignedCheckpoint::parse(note).unwrap();
            signed.verify_for(&verifier, &origin).unwrap();
            assert_eq!(signed.checkpoint.size, size);
            let original = stored.iter().find(|c| c.size == size).unwrap();
            assert_eq!(note, original.note);
            checkpoints.push(size);
        } else if m.subject == wire::leaves_subject(&code) {
            // The leaf hashes of the events the next checkpoint adds, already published.
            let (first, leaves) = wire::decode_leaves(&m.payload).unwrap();
            let last = first + leaves.len() as u64 - 1;
            assert!(
                last < next_event,
                "leaves up to {last} before event {next_event}"
            );
            assert!(
                checkpoints.last().is_none_or(|&c| first > c),
                "leaves from {first} after checkpoint {checkpoints:?}"
            );
            for (seq, leaf) in (first..).zip(&leaves) {
                let row = &rows[usize::try_from(seq - 1).unwrap()];
                assert_eq!(
                    *leaf,
                    event_store_core::merkle::leaf_hash(&row.bytes),
                    "leaf {seq}"
                );
            }
        } else {
            panic!("unexpected subject {}", m.subject);
        }
    }
    assert_eq!(
        next_event - 1,
        size,
        "every event of the log is on the stream"
    );
    let stored_sizes: Vec<u64> = stored.iter().map(|c| c.size).collect();
    assert_eq!(
        checkpoints, stored_sizes,
        "every checkpoint of the log is on the stream"
    );
    Checked {
        events: size,
        checkpoints,
    }
}

/// Every checkpoint the log has signed, by size.
pub async fn all_checkpoints(log: &SqliteLog) -> Vec<StoredCheckpoint> {
    let mut all: Vec<StoredCheckpoint> = Vec::new();
    loop {
        let from = all.last().map_or(1, |c| c.size + 1);
        let batch = log.backend().checkpoints(from, 1_000).await.unwrap();
        if batch.is_empty() {
            return all;
        }
        all.extend(batch);
    }
}
