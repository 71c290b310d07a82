//! Budgets count bytes: a hromada that writes a gigabyte of the largest events between two
//! checkpoints neither fails the association's commit (PostgreSQL refuses a value over 1 GB)
//! nor stops any other hromada, and one that writes a hundred megabytes is verified, its
//! segment written in bounded pieces.

use std::time::Duration;

use async_nats::jetstream;
use system_tests::{
    Civic, KORIUKIVKA, KYIV, SyntheticLog, TestAssociation, TestNode, VINNYTSIA, code,
};
use testkit::NatsServer;

/// Just under the largest payload an envelope may carry.
const PAYLOAD: usize = 127 * 1024;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_gigabyte_between_checkpoints_stops_no_other_hromada() {
    let nats = NatsServer::start().await.unwrap();
    let association = TestAssociation::start(&nats.url()).await;
    let honest = TestNode::start(KYIV, 1_000, &nats.url()).await;
    association.enroll(&honest).await;
    let mut large = SyntheticLog::new(code(VINNYTSIA), 1);
    let mut huge = SyntheticLog::new(code(KORIUKIVKA), 2);
    for log in [&large, &huge] {
        association
            .enroll_key(log.code, &log.signer().verifier().to_text())
            .await;
    }
    // Enrolment creates the streams (one-server topology) before it returns.
    let js = jetstream::new(async_nats::connect(nats.url()).await.unwrap());
    // 1,000 of the largest events (127 MiB): what a node's default policy may checkpoint.
    large.publish(&js, 1_000, PAYLOAD, 0).await;
    large.publish_checkpoint(&js).await;
    // 8,400 of them (1.05 GiB): more than a node may have waiting, and more than PostgreSQL
    // takes as one value.
    huge.publish(&js, 8_400, PAYLOAD, 0).await;
    huge.publish_checkpoint(&js).await;

    let mut civic = Civic::of(&honest).await;
    let petition = civic.petition("Lights on the footbridge").await;
    civic.sign(&petition, 0..20).await;
    association
        .wait_all(&[&honest], Duration::from_secs(120))
        .await;
    association
        .wait_verified(large.code, 1_000, Duration::from_secs(120))
        .await;
    assert_eq!(association.summary().await.figures.unwrap().signatures, 20);
    assert_eq!(association.node(huge.code).await.verified_size, 0);

    // The ingest keeps going after all of that.
    civic.sign(&petition, 20..30).await;
    association
        .wait_all(&[&honest], Duration::from_secs(60))
        .await;
    assert_eq!(association.summary().await.figures.unwrap().signatures, 30);
    association.shutdown().await;
}
