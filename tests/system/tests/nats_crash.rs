//! An operator's bad day: the only `nats-server` is SIGKILLed mid-load and comes back five
//! seconds later. The node keeps accepting commands and relays its backlog; the association
//! notices that its reader of the ingest stream is gone, recreates it from its committed
//! position, and ends with every event verified and every figure exact. While what a node
//! published is not yet verified, the node is never shown healthy.

use std::time::Duration;

use proto::federation::v1::NodeStatus;
use system_tests::{Civic, TestAssociation, TestNode, VINNYTSIA};
use testkit::NatsServer;

const SIGNATURES: u32 = 1_200;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_nats_server_crash_mid_load_ends_with_every_event_verified() {
    let mut nats = NatsServer::start().await.unwrap();
    let association = TestAssociation::start(&nats.url()).await;
    let node = TestNode::start(VINNYTSIA, 1_000_000, &nats.url()).await;
    association.enroll(&node).await;
    let mut civic = Civic::of(&node).await;
    let petition = civic.petition("A playground by the lake").await;
    association
        .wait_all(&[&node], Duration::from_secs(30))
        .await;

    let load = tokio::spawn(async move {
        civic.sign(&petition, 0..SIGNATURES).await;
    });
    while node.log_size() < 400 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    nats.kill().await.unwrap();
    tokio::time::sleep(Duration::from_secs(5)).await;
    nats.restart().await.unwrap();
    load.await.unwrap();
    let logged = node.log_size();

    // The node's relay publishes its backlog once it reconnects; until its last event is in
    // the node's stream the association cannot know of it (it shows what it received).
    let js = async_nats::jetstream::new(async_nats::connect(nats.url()).await.unwrap());
    let stream = js.get_stream(wire::stream_name(&node.code)).await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let published = stream
            .get_last_raw_message_by_subject(&wire::event_subject(&node.code))
            .await
            .ok()
            .and_then(|m| wire::log_position(&m.headers));
        if published == Some(logged) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the relay published up to {published:?} of {logged} events"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Until the association has verified everything, the node is not shown healthy.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    loop {
        let info = association.node(node.code).await;
        let status = NodeStatus::try_from(info.status).unwrap();
        if info.verified_size == logged {
            break;
        }
        assert_ne!(
            status,
            NodeStatus::Healthy,
            "healthy at {} of {logged} verified events",
            info.verified_size
        );
        assert!(
            tokio::time::Instant::now() < deadline,
            "verified {} of {logged} events 90 s after the server came back",
            info.verified_size
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let figures = association.summary().await.figures.unwrap();
    assert_eq!(figures.signatures, u64::from(SIGNATURES));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while NodeStatus::try_from(association.node(node.code).await.status).unwrap()
        != NodeStatus::Healthy
    {
        assert!(tokio::time::Instant::now() < deadline, "not healthy again");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    association.shutdown().await;
}
