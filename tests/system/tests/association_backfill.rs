//! A message JetStream lost costs latency, never data: an event deleted from the ingest stream
//! (as a lossy server would lose it) is back-filled from the node's own stream, and every
//! figure ends exact.

use std::time::Duration;

use system_tests::{Civic, KYIV, TestAssociation, TestNode, VINNYTSIA};
use testkit::NatsServer;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_event_lost_by_the_ingest_stream_is_back_filled_from_the_node() {
    let nats = NatsServer::start().await.unwrap();
    let mut association = TestAssociation::start(&nats.url()).await;
    let vinnytsia = TestNode::start(VINNYTSIA, 1_000, &nats.url()).await;
    let kyiv = TestNode::start(KYIV, 1_000, &nats.url()).await;
    association.enroll(&vinnytsia).await;
    association.enroll(&kyiv).await;
    // The running ingest sources an enrolled node's stream as soon as it hears of it.
    let js = async_nats::jetstream::new(async_nats::connect(nats.url()).await.unwrap());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(mut stream) = js.get_stream(association::ingest::INGEST_STREAM).await {
            let sources = stream.info().await.unwrap().config.sources.clone();
            if sources.is_some_and(|s| s.len() == 2) {
                break;
            }
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "enrolled streams not sourced"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    association.stop().await;

    // Activity while the association is down: it all waits in the ingest stream.
    let mut v = Civic::of(&vinnytsia).await;
    let p = v.petition("Shade trees in the schoolyard").await;
    v.sign(&p, 0..20).await;
    let mut c = Civic::of(&kyiv).await;
    let q = c.petition("Quiet hours at night").await;
    c.sign(&q, 0..10).await;
    let mut ingest = js
        .get_stream(association::ingest::INGEST_STREAM)
        .await
        .unwrap();
    // Every event and at least one checkpoint of each node have been sourced.
    let expected = vinnytsia.log_size() + kyiv.log_size() + 2;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while ingest.info().await.unwrap().state.messages < expected {
        assert!(tokio::time::Instant::now() < deadline, "sourcing stalled");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Lose Vinnytsia's event 7 from the ingest stream.
    let last = ingest.info().await.unwrap().state.last_sequence;
    let subject = wire::event_subject(&system_tests::code(VINNYTSIA));
    let mut lost = None;
    for seq in 1..=last {
        let Ok(message) = ingest.get_raw_message(seq).await else {
            continue;
        };
        let log_seq = message
            .headers
            .get(wire::SEQ_HEADER)
            .map(|v| v.as_str().to_owned());
        if message.subject.as_str() == subject && log_seq.as_deref() == Some("7") {
            lost = Some(seq);
            break;
        }
    }
    let lost = lost.expect("event 7 of Vinnytsia in the ingest stream");
    assert!(ingest.delete_message(lost).await.unwrap());

    association.boot().await;
    association
        .wait_all(&[&vinnytsia, &kyiv], Duration::from_secs(30))
        .await;
    let figures = association.summary().await.figures.unwrap();
    assert_eq!(figures.signatures, 30);
    assert_eq!(figures.petitions_filed, 2);
    association.shutdown().await;
}
