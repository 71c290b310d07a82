//! Budgets count bytes: a hromada that writes a gigabyte of the largest events between two
//! checkpoints neither fails the association's commit (PostgreSQL refuses a value over 1 GB)
//! nor stops any other hromada, and one that writes a hundred megabytes is verified, its
//! segment written in bounded pieces.

use std::time::Duration;

use async_nats::jetstream;
use event_store_core::checkpoint::{Checkpoint, NoteSigner, origin_for};
use event_store_core::merkle;
use event_store_core::{
    Envelope, EventId, EventTypeCode, LogSeq, MunicipalityCode, SchemaVersion, StreamId,
    StreamVersion, Timestamp,
};
use system_tests::{Civic, KORIUKIVKA, KYIV, TestAssociation, TestNode, VINNYTSIA, code};
use testkit::NatsServer;

/// Just under the largest payload an envelope may carry.
const PAYLOAD: usize = 127 * 1024;

/// Publishes `count` envelopes of the largest size as `code`'s log, then a checkpoint over
/// them signed by `signer`.
async fn publish_log(
    js: &jetstream::Context,
    code: MunicipalityCode,
    signer: &NoteSigner,
    count: u64,
) {
    let stream_id = StreamId(uuid::Uuid::now_v7());
    let mut leaves = Vec::with_capacity(count as usize);
    let mut acks = std::collections::VecDeque::new();
    for seq in 1..=count {
        let bytes = Envelope {
            event_type: EventTypeCode(1),
            schema_version: SchemaVersion(1),
            municipality: code,
            seq: LogSeq(seq),
            stream_id,
            stream_version: StreamVersion(seq),
            event_id: EventId::new_v7(),
            recorded_at: Timestamp::now(),
            payload: vec![(seq % 251) as u8; PAYLOAD],
        }
        .encode()
        .unwrap();
        leaves.push(merkle::leaf_hash(&bytes));
        acks.push_back(
            js.publish(wire::event_subject(&code), bytes.into())
                .await
                .unwrap(),
        );
        if acks.len() >= 256 {
            acks.pop_front().unwrap().await.unwrap();
        }
    }
    for ack in acks {
        ack.await.unwrap();
    }
    let note = signer
        .sign(Checkpoint {
            origin: origin_for(&code),
            size: count,
            root: merkle::root_from_leaves(&leaves),
        })
        .to_note();
    js.publish(wire::checkpoint_subject(&code), note.into_bytes().into())
        .await
        .unwrap()
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_gigabyte_between_checkpoints_stops_no_other_hromada() {
    let nats = NatsServer::start().await.unwrap();
    let association = TestAssociation::start(&nats.url()).await;
    let honest = TestNode::start(KYIV, 1_000, &nats.url()).await;
    association.enroll(&honest).await;
    let (large, huge) = (code(VINNYTSIA), code(KORIUKIVKA));
    let signers: Vec<NoteSigner> = [large, huge]
        .iter()
        .zip(1_u8..)
        .map(|(c, i)| NoteSigner::from_seed(&origin_for(c), [i; 32]).unwrap())
        .collect();
    for (c, signer) in [large, huge].iter().zip(&signers) {
        association
            .enroll_key(*c, &signer.verifier().to_text())
            .await;
    }
    let js = jetstream::new(async_nats::connect(nats.url()).await.unwrap());
    // Enrolment creates the streams (one-server topology) before it returns.
    // 1,000 of the largest events (127 MiB): what a node's default policy may checkpoint.
    publish_log(&js, large, &signers[0], 1_000).await;
    // 8,400 of them (1.05 GiB): more than a node may have waiting, and more than PostgreSQL
    // takes as one value.
    publish_log(&js, huge, &signers[1], 8_400).await;

    let mut civic = Civic::of(&honest).await;
    let petition = civic.petition("Lights on the footbridge").await;
    civic.sign(&petition, 0..20).await;
    association
        .wait_all(&[&honest], Duration::from_secs(120))
        .await;
    association
        .wait_verified(large, 1_000, Duration::from_secs(120))
        .await;
    assert_eq!(association.summary().await.figures.unwrap().signatures, 20);
    assert_eq!(association.node(huge).await.verified_size, 0);

    // The ingest keeps going after all of that.
    civic.sign(&petition, 20..30).await;
    association
        .wait_all(&[&honest], Duration::from_secs(60))
        .await;
    assert_eq!(association.summary().await.figures.unwrap().signatures, 30);
    association.shutdown().await;
}
