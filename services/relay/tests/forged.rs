//! Messages someone else published on the node's own subjects do not steer the relay: on
//! reconnect it believes only messages whose bodies are its log's (an event's stored bytes, a
//! checkpoint's stored note), never their headers. A forgery neither stops it, nor makes it
//! skip events or checkpoints, nor overflows it; every real event and checkpoint still reaches
//! the stream, once each.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::Context;
use async_nats::jetstream::message::PublishMessage;
use event_store::Backend;
use event_store_conformance::{municipality, signer};
use event_store_core::{
    Checkpoint, Envelope, EventId, EventTypeCode, LogSeq, NoteSigner, SchemaVersion, StreamId,
    StreamVersion, Timestamp, origin_for,
};
use relay::{CHECKPOINT_CURSOR, EVENT_CURSOR, RelayConfig};
use support::{
    SqliteLog, append, check_stream_except, every_events, jetstream, open_log, wait_status,
};
use testkit::NatsServer;
use wire::{SEQ_HEADER, TREE_SIZE_HEADER, checkpoint_subject, event_subject};

/// The stream's duplicate window: tiny, so a relay that resumed too early would be seen
/// republishing (JetStream would no longer drop the copies).
const DUPLICATE_WINDOW: Duration = Duration::from_secs(1);
/// Events the relay published before it stopped, and events in the log by the end; the log
/// signs a checkpoint at each.
const PUBLISHED: u64 = 10;
const LOG_SIZE: u64 = 20;

/// A log whose relay published its first [`PUBLISHED`] events and their checkpoint and then
/// stopped, with [`LOG_SIZE`] events and two checkpoints by now.
struct Stopped {
    _server: NatsServer,
    _dir: tempfile::TempDir,
    log: Arc<SqliteLog>,
    config: RelayConfig,
    js: Context,
}

impl Stopped {
    /// With `lose_cursors`, the relay's saved positions are gone too (as if it died before
    /// saving them) and the duplicate window has passed: only the stream says where it stopped.
    async fn new(lose_cursors: bool) -> Self {
        let server = NatsServer::start().await.expect("start nats-server");
        let dir = tempfile::tempdir().unwrap();
        let log = open_log(dir.path(), every_events(10)).await;
        let config = RelayConfig {
            duplicate_window: DUPLICATE_WINDOW,
            idle_poll: Duration::from_millis(50),
            ..RelayConfig::new(server.url())
        };
        let relay = relay::spawn(log.clone(), config.clone()).expect("valid config");
        append(&log, 10, 10).await;
        wait_status(
            &mut relay.status(),
            PUBLISHED,
            PUBLISHED,
            Duration::from_secs(30),
        )
        .await;
        relay.shutdown().await.expect("clean shutdown");
        append(&log, 10, 10).await;
        assert_eq!(log.size(), LOG_SIZE);
        let sizes: Vec<u64> = support::all_checkpoints(&log)
            .await
            .iter()
            .map(|c| c.size)
            .collect();
        assert_eq!(sizes, [PUBLISHED, LOG_SIZE]);
        if lose_cursors {
            log.backend().set_cursor(EVENT_CURSOR, 0).await.unwrap();
            log.backend()
                .set_cursor(CHECKPOINT_CURSOR, 0)
                .await
                .unwrap();
            tokio::time::sleep(DUPLICATE_WINDOW * 3).await;
        }
        let js = jetstream(&server.url()).await;
        Self {
            _server: server,
            _dir: dir,
            log,
            config,
            js,
        }
    }

    /// Publishes a message straight on `subject`, as any client of the server could; returns
    /// its stream sequence.
    async fn forge(&self, subject: String, headers: &[(&str, String)], payload: Vec<u8>) -> u64 {
        let mut message = PublishMessage::build().payload(payload.into());
        for (name, value) in headers {
            message = message.header(*name, value.as_str());
        }
        self.js
            .send_publish(subject, message)
            .await
            .expect("publish the forgery")
            .await
            .expect("the stream takes the forgery")
            .sequence
    }

    /// Starts the relay again and checks that the stream then holds every event and every
    /// checkpoint of the log once, in order, beside the `forged` messages.
    async fn restart_and_check(self, forged: &[u64]) {
        let relay = relay::spawn(self.log.clone(), self.config.clone()).expect("valid config");
        let mut status = relay.status();
        let s = wait_status(&mut status, LOG_SIZE, LOG_SIZE, Duration::from_secs(30)).await;
        assert!(s.connected && s.last_error.is_none(), "{s:?}");
        relay.shutdown().await.expect("clean shutdown");
        let checked = check_stream_except(&self.js, &self.log, forged).await;
        assert_eq!(checked.events, LOG_SIZE);
        assert_eq!(checked.checkpoints, [PUBLISHED, LOG_SIZE]);
        assert_eq!(
            self.log.backend().cursor(EVENT_CURSOR).await.unwrap(),
            Some(LOG_SIZE)
        );
        assert_eq!(
            self.log.backend().cursor(CHECKPOINT_CURSOR).await.unwrap(),
            Some(LOG_SIZE)
        );
    }
}

/// An envelope of the node's municipality at `seq` that is not the log's event there.
fn forged_envelope(seq: u64) -> Vec<u8> {
    Envelope {
        event_type: EventTypeCode(0x0103),
        schema_version: SchemaVersion(1),
        municipality: municipality(),
        seq: LogSeq(seq),
        stream_id: StreamId(uuid::Uuid::now_v7()),
        stream_version: StreamVersion(1),
        event_id: EventId::new_v7(),
        recorded_at: Timestamp(1_764_151_200_000_000),
        payload: b"forged".to_vec(),
    }
    .encode()
    .unwrap()
}

/// (a) A message with no header (and no envelope) as the last on the events subject.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_headerless_forgery_on_the_events_subject_does_not_stop_the_relay() {
    let stopped = Stopped::new(true).await;
    let forged = stopped
        .forge(event_subject(&municipality()), &[], b"garbage".to_vec())
        .await;
    stopped.restart_and_check(&[forged]).await;
}

/// (b) A sequence header above the log's size.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sequence_header_above_the_log_does_not_stop_the_relay() {
    let stopped = Stopped::new(false).await;
    let forged = stopped
        .forge(
            event_subject(&municipality()),
            &[(SEQ_HEADER, (LOG_SIZE + 1_000).to_string())],
            forged_envelope(LOG_SIZE + 1_000),
        )
        .await;
    stopped.restart_and_check(&[forged]).await;
}

/// (c) A sequence header within the log but past what the relay published, on an envelope
/// that is not the log's event there: the relay must not skip the events in between.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sequence_header_past_what_was_published_leaves_no_hole() {
    let stopped = Stopped::new(true).await;
    let code = municipality();
    let mut forged = Vec::new();
    for seq in [PUBLISHED + 3, PUBLISHED + 5] {
        forged.push(
            stopped
                .forge(
                    event_subject(&code),
                    &[(SEQ_HEADER, seq.to_string())],
                    forged_envelope(seq),
                )
                .await,
        );
    }
    stopped.restart_and_check(&forged).await;
}

/// (d) `Vidkryto-Tree-Size: u64::MAX` on the checkpoint subject.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tree_size_header_of_u64_max_neither_overflows_nor_skips_checkpoints() {
    let stopped = Stopped::new(true).await;
    let forged = stopped
        .forge(
            checkpoint_subject(&municipality()),
            &[(TREE_SIZE_HEADER, u64::MAX.to_string())],
            b"garbage".to_vec(),
        )
        .await;
    stopped.restart_and_check(&[forged]).await;
}

/// (e) A note for the log's own next checkpoint (its size and root), signed by another key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_checkpoint_not_signed_by_the_node_is_not_taken_as_published() {
    let stopped = Stopped::new(true).await;
    let code = municipality();
    let stored = stopped
        .log
        .backend()
        .checkpoints(LOG_SIZE, 1)
        .await
        .unwrap()
        .remove(0);
    let impostor = NoteSigner::from_seed(&origin_for(&code), [99; 32]).unwrap();
    let note = impostor
        .sign(Checkpoint {
            origin: origin_for(&code),
            size: LOG_SIZE,
            root: stored.root,
        })
        .to_note();
    assert_ne!(note, stored.note);
    let forged = stopped
        .forge(
            checkpoint_subject(&code),
            &[(TREE_SIZE_HEADER, LOG_SIZE.to_string())],
            note.into_bytes(),
        )
        .await;
    stopped.restart_and_check(&[forged]).await;
}

/// (f) A note signed with the node's own key, for a size above the log (as another database of
/// the same node, or a stolen key, would make).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_signed_checkpoint_above_the_log_is_not_taken_as_published() {
    let stopped = Stopped::new(false).await;
    let code = municipality();
    let size = LOG_SIZE + 1_000;
    let note = signer()
        .sign(Checkpoint {
            origin: origin_for(&code),
            size,
            root: [7; 32],
        })
        .to_note();
    let forged = stopped
        .forge(
            checkpoint_subject(&code),
            &[(TREE_SIZE_HEADER, size.to_string())],
            note.into_bytes(),
        )
        .await;
    stopped.restart_and_check(&[forged]).await;
}

/// More forgeries than the relay walks back over: it falls back to its saved cursors.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn more_forgeries_than_the_walk_back_covers_fall_back_to_the_saved_cursors() {
    let stopped = Stopped::new(false).await;
    let code = municipality();
    let many = relay::RECONCILE_WALK_BACK_MAX + 10;
    let mut acks = Vec::new();
    for i in 0..many {
        let subject = if i % 2 == 0 {
            event_subject(&code)
        } else {
            checkpoint_subject(&code)
        };
        acks.push(
            stopped
                .js
                .send_publish(
                    subject,
                    PublishMessage::build()
                        .payload(b"garbage".to_vec().into())
                        .header(SEQ_HEADER, "15")
                        .header(TREE_SIZE_HEADER, "20"),
                )
                .await
                .unwrap(),
        );
    }
    let mut forged = Vec::new();
    for ack in acks {
        forged.push(ack.await.unwrap().sequence);
    }
    stopped.restart_and_check(&forged).await;
}
