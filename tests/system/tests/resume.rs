//! A hromada whose waiting events never get a checkpoint (a node that died before signing its
//! tail, or one whose subject carries forgeries) cannot pin the federation's resume position:
//! a restart of the association replays a bounded window, not everything since.

use std::time::Duration;

use async_nats::jetstream;
use system_tests::{KORIUKIVKA, SyntheticLog, TestAssociation, VINNYTSIA, code};
use testkit::NatsServer;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_unsigned_tail_does_not_pin_the_resume_position() {
    let nats = NatsServer::start().await.unwrap();
    let mut association = TestAssociation::start(&nats.url()).await;
    let mut stalled = SyntheticLog::new(code(KORIUKIVKA), 1);
    let mut busy = SyntheticLog::new(code(VINNYTSIA), 2);
    for log in [&stalled, &busy] {
        association
            .enroll_key(log.code, &log.signer().verifier().to_text())
            .await;
    }
    let js = jetstream::new(async_nats::connect(nats.url()).await.unwrap());
    // One event that waits for a checkpoint forever.
    stalled.publish(&js, 1, 100, 0).await;
    // Then far more than a restart replays, all verified.
    busy.publish(&js, 120_000, 16, 1_000).await;
    association
        .wait_verified(busy.code, 120_000, Duration::from_secs(180))
        .await;
    let store = association::store::Store::connect(&association.db_url())
        .await
        .unwrap();
    // Let the commit after the last segment record its position.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let resume = store.ingest_position().await.unwrap();
    assert!(
        resume > 20_000,
        "the resume position is pinned at {resume} by one unsigned event"
    );
    // A restart still ends with everything verified (the stalled hromada's event is read
    // again from its own stream when a checkpoint asks for it).
    association.stop().await;
    association.boot().await;
    stalled.publish_checkpoint(&js).await;
    association
        .wait_verified(stalled.code, 1, Duration::from_secs(60))
        .await;
    association.shutdown().await;
}
