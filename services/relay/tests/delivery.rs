//! Must show 1: what is appended to a node's log arrives on JetStream once each, in order,
//! byte for byte, and its signed checkpoints follow the events they cover.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::{Duration, Instant};

use async_nats::jetstream::stream::StorageType;
use event_store::Backend;
use event_store_conformance::municipality;
use relay::{CHECKPOINT_CURSOR, EVENT_CURSOR, RelayConfig};
use support::{append, check_stream, every_events, jetstream, open_log, wait_status};
use testkit::NatsServer;
use wire::{checkpoint_subject, event_subject, stream_name};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn appended_events_and_checkpoints_arrive_once_in_order() {
    let started = Instant::now();
    let server = NatsServer::start().await.expect("start nats-server");
    let dir = tempfile::tempdir().unwrap();
    let log = open_log(dir.path(), every_events(60)).await;
    let config = RelayConfig {
        idle_poll: Duration::from_millis(50),
        ..RelayConfig::new(server.url())
    };
    let relay = relay::spawn(log.clone(), config).expect("valid config");
    let mut status = relay.status();

    // Live appends: ten batches of 30 (a checkpoint every 60 events), then a short one and a
    // checkpoint signed outside any append, which only the relay's idle poll can notice.
    append(&log, 300, 30).await;
    append(&log, 7, 7).await;
    assert_eq!(log.checkpoint_now().await.unwrap(), Some(307));
    let s = wait_status(&mut status, 307, 307, Duration::from_secs(30)).await;
    assert!(s.connected, "{s:?}");
    assert_eq!(s.last_error, None);

    let js = jetstream(&server.url()).await;
    let checked = check_stream(&js, &log).await;
    assert_eq!(checked.events, 307);
    // The log signs its first append at once (no checkpoint yet), then every 60 events.
    assert_eq!(checked.checkpoints, [30, 90, 150, 210, 270, 307]);

    let code = municipality();
    let mut stream = js.get_stream(stream_name(&code)).await.unwrap();
    let config = stream.info().await.unwrap().config.clone();
    assert_eq!(stream_name(&code), "VIDKRYTO_UA74040130000074451");
    assert_eq!(
        config.subjects,
        [
            "vidkryto.ev.UA74040130000074451",
            "vidkryto.ckpt.UA74040130000074451",
            "vidkryto.leaves.UA74040130000074451"
        ]
    );
    assert_eq!(
        config.subjects,
        [
            event_subject(&code),
            checkpoint_subject(&code),
            wire::leaves_subject(&code)
        ]
    );
    assert!(config.deny_delete && config.deny_purge && config.allow_direct);
    assert_eq!(config.storage, StorageType::File);
    assert_eq!(config.duplicate_window, Duration::from_secs(600));

    // A graceful stop leaves the cursors at what JetStream acknowledged.
    relay.shutdown().await.expect("clean shutdown");
    assert_eq!(log.backend().cursor(EVENT_CURSOR).await.unwrap(), Some(307));
    assert_eq!(
        log.backend().cursor(CHECKPOINT_CURSOR).await.unwrap(),
        Some(307)
    );
    eprintln!("delivery: {:?}", started.elapsed());
}

/// A checkpoint signed outside any append (the time policy's, for the last events of a burst)
/// is what lets the association verify those events: it goes out as soon as it is signed, not
/// at the relay's next idle poll, here a minute away (the longest allowed).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_checkpoint_signed_on_its_own_goes_out_at_once() {
    let server = NatsServer::start().await.expect("start nats-server");
    let dir = tempfile::tempdir().unwrap();
    let log = open_log(dir.path(), every_events(1_000)).await;
    let config = RelayConfig {
        idle_poll: Duration::from_secs(60),
        ..RelayConfig::new(server.url())
    };
    let relay = relay::spawn(log.clone(), config).expect("valid config");
    let mut status = relay.status();
    // The first append is signed at once; the next events wait for a checkpoint of their own.
    append(&log, 1, 1).await;
    wait_status(&mut status, 1, 1, Duration::from_secs(30)).await;
    append(&log, 5, 5).await;
    wait_status(&mut status, 6, 1, Duration::from_secs(30)).await;
    assert_eq!(log.checkpoint_now().await.unwrap(), Some(6));
    let signed = Instant::now();
    let s = wait_status(&mut status, 6, 6, Duration::from_secs(10)).await;
    assert!(s.connected, "{s:?}");
    eprintln!("checkpoint published {:?} after signing", signed.elapsed());
    relay.shutdown().await.expect("clean shutdown");
}
