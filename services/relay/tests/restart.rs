//! Must show 3: a relay killed mid-stream, whose cursor was never saved, resumes exactly where
//! the stream ends, even when JetStream's duplicate window has long passed; only its own
//! cursors ahead of its log stop it, never what the stream holds.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::{Duration, Instant};

use async_nats::jetstream::message::PublishMessage;
use event_store::Backend;
use event_store_conformance::municipality;
use event_store_core::LogSeq;
use relay::{CHECKPOINT_CURSOR, EVENT_CURSOR, RelayConfig, RelayError};
use support::{append, check_stream, every_events, jetstream, open_log, wait_status, wait_stream};
use testkit::NatsServer;
use wire::{SEQ_HEADER, event_subject, stream_name};

/// Events in the log by the end.
const EVENTS: u32 = 20_000;
/// The stream's duplicate window: tiny, so the restart happens well past it.
const DUPLICATE_WINDOW: Duration = Duration::from_secs(1);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_after_a_crash_and_a_lost_cursor_publishes_nothing_twice() {
    let started = Instant::now();
    let server = NatsServer::start().await.expect("start nats-server");
    let dir = tempfile::tempdir().unwrap();
    let log = open_log(dir.path(), every_events(500)).await;
    let config = RelayConfig {
        in_flight_max: 256,
        read_batch: 500,
        duplicate_window: DUPLICATE_WINDOW,
        idle_poll: Duration::from_millis(50),
        ..RelayConfig::new(server.url())
    };

    let relay = relay::spawn(log.clone(), config.clone()).expect("valid config");
    let mut status = relay.status();
    append(&log, 1_000, 500).await;
    wait_status(&mut status, 1_000, 0, Duration::from_secs(30)).await;
    // A backlog the relay pipelines through; abort it halfway, publishes in flight.
    append(&log, EVENTS - 1_000, 1_000).await;
    let halfway = status.borrow().acked_seq + 1_000;
    wait_status(&mut status, halfway, 0, Duration::from_secs(30)).await;
    relay.abort();
    let acked_at_abort = status.borrow().acked_seq;
    assert!(
        acked_at_abort < u64::from(EVENTS),
        "the relay finished before it could be aborted"
    );

    // As if the process died before saving its cursors; and wait until JetStream's
    // deduplication has forgotten every message id the relay published.
    log.backend().set_cursor(EVENT_CURSOR, 0).await.unwrap();
    log.backend()
        .set_cursor(CHECKPOINT_CURSOR, 0)
        .await
        .unwrap();
    tokio::time::sleep(DUPLICATE_WINDOW * 3).await;
    let js = jetstream(&server.url()).await;
    let code = municipality();
    let mut stream = js.get_stream(stream_name(&code)).await.unwrap();
    let info = stream.info().await.unwrap().clone();
    assert_eq!(info.config.duplicate_window, DUPLICATE_WINDOW);
    let before: u64 = stream
        .get_last_raw_message_by_subject(&event_subject(&code))
        .await
        .unwrap()
        .headers
        .get(SEQ_HEADER)
        .unwrap()
        .as_str()
        .parse()
        .unwrap();
    assert!(
        (acked_at_abort..u64::from(EVENTS)).contains(&before),
        "stream ends at {before}, acked at abort {acked_at_abort}"
    );

    log.checkpoint_now().await.unwrap();
    let last_checkpoint = log.latest_checkpoint().await.unwrap().unwrap().size;
    let restarted = Instant::now();
    let relay = relay::spawn(log.clone(), config).expect("valid config");
    wait_stream(
        &js,
        u64::from(EVENTS),
        last_checkpoint,
        Duration::from_secs(60),
    )
    .await;
    let caught_up_in = restarted.elapsed();
    let mut status = relay.status();
    wait_status(
        &mut status,
        u64::from(EVENTS),
        last_checkpoint,
        Duration::from_secs(10),
    )
    .await;
    relay.shutdown().await.expect("clean shutdown");

    let checked = check_stream(&js, &log).await;
    assert_eq!(checked.events, u64::from(EVENTS));
    assert_eq!(checked.checkpoints.last(), Some(&last_checkpoint));

    // Control: JetStream alone would have taken a republished event as new.
    let first = log.read(LogSeq(1), 1).await.unwrap().remove(0);
    let ack = js
        .send_publish(
            event_subject(&code),
            PublishMessage::build()
                .payload(first.bytes.into())
                .message_id(first.event_id.to_string()),
        )
        .await
        .unwrap()
        .await
        .unwrap();
    assert!(!ack.duplicate, "the duplicate window still knew event 1");
    eprintln!(
        "restart: aborted at {acked_at_abort} acked, stream at {before}; resumed and caught up \
         {} events in {caught_up_in:?}; {:?} in all",
        u64::from(EVENTS) - before,
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cursor_ahead_of_its_log_stops_the_relay() {
    let server = NatsServer::start().await.expect("start nats-server");
    let dir = tempfile::tempdir().unwrap();
    let log = open_log(dir.path(), every_events(100)).await;
    append(&log, 10, 10).await;
    // The relay's own record says it published more than the log holds: the database was
    // replaced under it, and only an operator can say which side is right.
    log.backend().set_cursor(EVENT_CURSOR, 15).await.unwrap();
    let relay = relay::spawn(log.clone(), RelayConfig::new(server.url())).unwrap();
    let status = relay.status();
    let result = tokio::time::timeout(Duration::from_secs(30), relay.wait())
        .await
        .expect("the relay stops by itself");
    match result {
        Err(RelayError::AheadOfLog {
            what: "relay cursor",
            position: 15,
            log_size: 10,
        }) => {}
        other => panic!("expected the cursor to be ahead of the log, got {other:?}"),
    }
    let s = status.borrow().clone();
    assert!(!s.connected);
    assert!(s.last_error.unwrap().contains("relay cursor is at 15"));

    log.backend().set_cursor(EVENT_CURSOR, 10).await.unwrap();
    log.backend()
        .set_cursor(CHECKPOINT_CURSOR, 11)
        .await
        .unwrap();
    let relay = relay::spawn(log, RelayConfig::new(server.url())).unwrap();
    match tokio::time::timeout(Duration::from_secs(30), relay.wait()).await {
        Ok(Err(RelayError::AheadOfLog {
            what: "relay checkpoint cursor",
            position: 11,
            log_size: 10,
        })) => {}
        other => panic!("expected the checkpoint cursor to be ahead of the log, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_ahead_of_its_log_neither_stops_the_relay_nor_makes_it_skip() {
    let server = NatsServer::start().await.expect("start nats-server");
    let first = tempfile::tempdir().unwrap();
    let log = open_log(first.path(), every_events(100)).await;
    let relay = relay::spawn(log.clone(), RelayConfig::new(server.url())).unwrap();
    append(&log, 10, 10).await;
    wait_status(&mut relay.status(), 10, 10, Duration::from_secs(30)).await;
    relay.shutdown().await.unwrap();

    // The same municipality's node with a fresh database: the stream's ten events are not its
    // log's (their bytes differ), so they prove nothing. Anyone able to publish on the node's
    // subjects could have put them there; stopping would let them silence the node, and
    // resuming after them would skip its events. It publishes its own, and the association,
    // which verifies bytes and checkpoints, sees the two histories disagree.
    let second = tempfile::tempdir().unwrap();
    let fresh = open_log(second.path(), every_events(100)).await;
    let relay = relay::spawn(fresh.clone(), RelayConfig::new(server.url())).unwrap();
    append(&fresh, 3, 3).await;
    let s = wait_status(&mut relay.status(), 3, 3, Duration::from_secs(30)).await;
    assert!(s.connected && s.last_error.is_none(), "{s:?}");
    relay.shutdown().await.unwrap();
    let js = jetstream(&server.url()).await;
    let stream = js.get_stream(stream_name(&municipality())).await.unwrap();
    let last = stream
        .get_last_raw_message_by_subject(&event_subject(&municipality()))
        .await
        .unwrap();
    let third = fresh.read(LogSeq(3), 1).await.unwrap().remove(0);
    assert_eq!(last.payload.as_ref(), third.bytes.as_slice());
}
