//! Must show 2: a node keeps appending while NATS is down, and when the server returns its
//! backlog drains by itself, once each and in order.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::{Duration, Instant};

use event_store::CheckpointPolicy;
use relay::RelayConfig;
use support::{append, check_stream, jetstream, open_log, wait_status, wait_stream};
use testkit::NatsServer;

/// Events appended while the server is down.
const OFFLINE_EVENTS: u32 = 10_000;
/// Events appended before, to see the relay connected first.
const ONLINE_EVENTS: u32 = 100;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backlog_appended_while_nats_is_down_drains_by_itself() {
    let started = Instant::now();
    let mut server = NatsServer::start().await.expect("start nats-server");
    let dir = tempfile::tempdir().unwrap();
    let log = open_log(dir.path(), CheckpointPolicy::default()).await;
    // Default settings: the relay must cope with the outage on its own.
    let relay = relay::spawn(log.clone(), RelayConfig::new(server.url())).expect("valid config");
    let mut status = relay.status();

    append(&log, ONLINE_EVENTS, 100).await;
    wait_status(
        &mut status,
        u64::from(ONLINE_EVENTS),
        0,
        Duration::from_secs(30),
    )
    .await;

    server.stop().await.expect("stop nats-server");
    let offline = Instant::now();
    append(&log, OFFLINE_EVENTS, 1_000).await;
    let appended_in = offline.elapsed();
    let total = u64::from(ONLINE_EVENTS + OFFLINE_EVENTS);
    log.checkpoint_now().await.unwrap();
    assert_eq!(log.size(), total);

    // The relay notices the outage (and reports it) but the log took every append.
    let down = tokio::time::timeout(
        Duration::from_secs(30),
        status.wait_for(|s| !s.connected && s.last_error.is_some()),
    )
    .await
    .map(|r| r.map(|s| s.clone()));
    assert!(
        matches!(down, Ok(Ok(_))),
        "relay did not report the outage: {:?}",
        *status.borrow()
    );
    assert!(status.borrow().acked_seq < total);

    server.restart().await.expect("restart nats-server");
    let restarted = Instant::now();
    let js = jetstream(&server.url()).await;
    wait_stream(&js, total, total, Duration::from_secs(60)).await;
    let drained_in = restarted.elapsed();

    let checked = check_stream(&js, &log).await;
    assert_eq!(checked.events, total);
    assert_eq!(checked.checkpoints.last(), Some(&total));
    let s = wait_status(&mut status, total, total, Duration::from_secs(10)).await;
    assert!(s.connected);
    relay.shutdown().await.expect("clean shutdown");
    eprintln!(
        "offline: {OFFLINE_EVENTS} appends in {appended_in:?} while down, drained {drained_in:?} \
         after restart, {:?} in all",
        started.elapsed()
    );
}
