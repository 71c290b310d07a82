//! No hromada can hurt another. Each test plays an attacker straight on NATS (a hostile hromada
//! changing its own stream, or a local process publishing on a hromada's subject) against a
//! real association on real JetStream and PostgreSQL, and checks that honest hromadas stay
//! verified, healthy and exactly counted.

use std::time::Duration;

use async_nats::jetstream::{self, stream::SubjectTransform};
use event_store_core::checkpoint::{Checkpoint, NoteSigner, origin_for};
use event_store_core::{
    Envelope, EventId, EventTypeCode, LogSeq, MunicipalityCode, SchemaVersion, StreamId,
    StreamVersion, Timestamp,
};
use proto::federation::v1::NodeStatus;
use system_tests::{Civic, KORIUKIVKA, KYIV, TestAssociation, TestNode, VINNYTSIA};
use testkit::NatsServer;

/// Well-formed envelope bytes for `code` at `seq` that its node never wrote.
fn forged_envelope(code: MunicipalityCode, seq: u64) -> Vec<u8> {
    Envelope {
        event_type: EventTypeCode(1),
        schema_version: SchemaVersion(1),
        municipality: code,
        seq: LogSeq(seq),
        stream_id: StreamId(uuid::Uuid::now_v7()),
        stream_version: StreamVersion(1),
        event_id: EventId::new_v7(),
        recorded_at: Timestamp::now(),
        payload: b"forged".to_vec(),
    }
    .encode()
    .expect("a well-formed envelope")
}

/// A checkpoint note signed with `signer` for a tree `code`'s log does not have.
fn forged_checkpoint(signer: &NoteSigner, code: MunicipalityCode, size: u64) -> String {
    signer
        .sign(Checkpoint {
            origin: origin_for(&code),
            size,
            root: [7; 32],
        })
        .to_note()
}

/// Waits until the ingest stream sources `count` streams.
async fn wait_sourced(js: &jetstream::Context, count: usize) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(mut stream) = js.get_stream(association::ingest::INGEST_STREAM).await {
            let sources = stream.info().await.unwrap().config.sources.clone();
            if sources.is_some_and(|s| s.len() >= count) {
                return;
            }
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "enrolled streams not sourced"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Makes hromada `hostile`'s own stream store whatever is published on
/// `vidkryto.forge.<X>` as `vidkryto.ev.<X>`: what a hostile hromada can do on its own leaf,
/// where it may put any subject in its stream.
async fn let_stream_carry_others_subjects(js: &jetstream::Context, hostile: MunicipalityCode) {
    let mut stream = js.get_stream(wire::stream_name(&hostile)).await.unwrap();
    let mut config = stream.info().await.unwrap().config.clone();
    config.subjects.push("vidkryto.forge.*".into());
    config.subject_transform = Some(SubjectTransform {
        source: "vidkryto.forge.*".into(),
        destination: "vidkryto.ev.{{wildcard(1)}}".into(),
    });
    js.update_stream(config).await.unwrap();
}

/// Publishes `messages` (subject, payload) with at most 512 acknowledgements outstanding.
async fn publish_all(
    js: &jetstream::Context,
    messages: impl IntoIterator<Item = (String, Vec<u8>)>,
) {
    let mut acks = std::collections::VecDeque::new();
    for (subject, payload) in messages {
        acks.push_back(js.publish(subject, payload.into()).await.unwrap());
        if acks.len() >= 512 {
            acks.pop_front().unwrap().await.unwrap();
        }
    }
    for ack in acks {
        ack.await.unwrap();
    }
}

async fn node_status(association: &TestAssociation, code: MunicipalityCode) -> NodeStatus {
    NodeStatus::try_from(association.node(code).await.status).unwrap()
}

/// Hromada A puts B's event subject in its own stream, publishes fake envelopes at B's next
/// sequence numbers there, and forces a back-fill of itself with a checkpoint signed for a
/// tree it does not have. B's real events must still be verified and counted exactly, B stays
/// healthy, and what A forged is held against A.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hromada_cannot_put_events_into_anothers_record() {
    let nats = NatsServer::start().await.unwrap();
    let association = TestAssociation::start(&nats.url()).await;
    let hostile = TestNode::start(KORIUKIVKA, 1_000, &nats.url()).await;
    let victim = TestNode::start(VINNYTSIA, 1_000, &nats.url()).await;
    association.enroll(&hostile).await;
    association.enroll(&victim).await;
    let js = jetstream::new(async_nats::connect(nats.url()).await.unwrap());
    wait_sourced(&js, 2).await;

    let mut a = Civic::of(&hostile).await;
    a.petition("Street lights on the bridge").await;
    association
        .wait_all(&[&hostile], Duration::from_secs(30))
        .await;

    let_stream_carry_others_subjects(&js, hostile.code).await;
    let next = victim.log_size() + 1;
    let forged = (next..next + 50).map(|seq| {
        (
            format!("vidkryto.forge.{}", victim.code),
            forged_envelope(victim.code, seq),
        )
    });
    publish_all(&js, forged).await;
    // A's envelope of B on A's own subject, and a signed checkpoint for a tree A does not
    // have (the association back-fills A from its own stream, where B's fakes sit).
    let own_subject = vec![
        (
            wire::event_subject(&hostile.code),
            forged_envelope(victim.code, next),
        ),
        (
            wire::checkpoint_subject(&hostile.code),
            forged_checkpoint(&hostile.signer(), hostile.code, hostile.log_size() + 3).into_bytes(),
        ),
    ];
    publish_all(&js, own_subject).await;
    tokio::time::sleep(Duration::from_secs(3)).await;

    let mut b = Civic::of(&victim).await;
    let petition = b.petition("Shade trees in the schoolyard").await;
    b.sign(&petition, 0..12).await;
    association
        .wait_all(&[&victim], Duration::from_secs(30))
        .await;
    let figures = association.summary().await.figures.unwrap();
    assert_eq!(figures.signatures, 12);
    assert_eq!(
        node_status(&association, victim.code).await,
        NodeStatus::Healthy,
        "{:?}",
        association.quarantine(victim.code).await
    );
    assert!(association.quarantine(victim.code).await.is_empty());
    let held_against_a = association.quarantine(hostile.code).await;
    assert!(
        held_against_a
            .iter()
            .any(|r| r.reason == "wrong_subject" && r.subject == wire::event_subject(&hostile.code)),
        "{held_against_a:?}"
    );
    // A's own record is untouched by its own forgeries too.
    let mut a = Civic::of(&hostile).await;
    a.petition("Benches by the river").await;
    association
        .wait_all(&[&hostile], Duration::from_secs(30))
        .await;
    association.shutdown().await;
}

/// A hostile hromada floods ten other hromadas' subjects from its own stream with as many
/// fake envelopes as the ingest keeps in memory: every other hromada keeps being verified.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ten_victims_do_not_stop_the_national_ingest() {
    let nats = NatsServer::start().await.unwrap();
    let association = TestAssociation::start(&nats.url()).await;
    let hostile = TestNode::start(KORIUKIVKA, 1_000, &nats.url()).await;
    let honest = TestNode::start(KYIV, 1_000, &nats.url()).await;
    association.enroll(&hostile).await;
    association.enroll(&honest).await;
    let reference = reference::Reference::load();
    let victims: Vec<MunicipalityCode> = reference
        .municipalities
        .keys()
        .copied()
        .filter(|c| ![hostile.code, honest.code].contains(c))
        .take(10)
        .collect();
    for (i, victim) in victims.iter().enumerate() {
        let signer = NoteSigner::from_seed(&origin_for(victim), [i as u8 + 1; 32]).unwrap();
        association
            .enroll_key(*victim, &signer.verifier().to_text())
            .await;
    }
    let js = jetstream::new(async_nats::connect(nats.url()).await.unwrap());
    wait_sourced(&js, 12).await;

    let_stream_carry_others_subjects(&js, hostile.code).await;
    // 20,000 per victim: what one node may keep waiting, ten times what all may.
    let forged = victims.iter().flat_map(|victim| {
        (1..=20_000).map(move |seq| {
            (
                format!("vidkryto.forge.{victim}"),
                forged_envelope(*victim, seq),
            )
        })
    });
    publish_all(&js, forged).await;

    let mut c = Civic::of(&honest).await;
    let petition = c.petition("A crossing by the school").await;
    c.sign(&petition, 0..25).await;
    association
        .wait_all(&[&honest], Duration::from_secs(60))
        .await;
    let figures = association.summary().await.figures.unwrap();
    assert_eq!(figures.signatures, 25);
    assert_eq!(
        node_status(&association, honest.code).await,
        NodeStatus::Healthy
    );
    for victim in &victims {
        let info = association.node(*victim).await;
        assert_eq!(
            (info.received_seq, info.verified_size),
            (0, 0),
            "{victim}: A's fakes reached its record"
        );
    }
    association.shutdown().await;
}

/// A local process on B's machine publishes fake envelopes on B's own event subject at B's
/// next sequence numbers, before B's relay publishes the real ones. B's signed checkpoint
/// decides: the fakes are dropped and quarantined as forged, B's real events verified, and
/// every figure exact.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_signed_checkpoint_decides_over_forged_bytes() {
    let nats = NatsServer::start().await.unwrap();
    let association = TestAssociation::start(&nats.url()).await;
    let victim = TestNode::start(VINNYTSIA, 1_000, &nats.url()).await;
    let honest = TestNode::start(KYIV, 1_000, &nats.url()).await;
    association.enroll(&victim).await;
    association.enroll(&honest).await;
    let js = jetstream::new(async_nats::connect(nats.url()).await.unwrap());
    wait_sourced(&js, 2).await;

    let next = victim.log_size() + 1;
    let forged = (next..next + 40).map(|seq| {
        (
            wire::event_subject(&victim.code),
            forged_envelope(victim.code, seq),
        )
    });
    publish_all(&js, forged).await;
    tokio::time::sleep(Duration::from_secs(1)).await;

    let mut b = Civic::of(&victim).await;
    let petition = b.petition("Shade trees in the schoolyard").await;
    b.sign(&petition, 0..30).await;
    let mut c = Civic::of(&honest).await;
    let other = c.petition("A crossing by the school").await;
    c.sign(&other, 0..5).await;
    association
        .wait_all(&[&victim, &honest], Duration::from_secs(30))
        .await;
    let figures = association.summary().await.figures.unwrap();
    assert_eq!(figures.signatures, 35);
    let quarantined = association.quarantine(victim.code).await;
    let forged: Vec<_> = quarantined
        .iter()
        .filter(|r| r.reason == "forged")
        .collect();
    assert!(!forged.is_empty(), "{quarantined:?}");
    assert!(
        quarantined
            .iter()
            .all(|r| r.reason == "forged" && r.seq >= next && r.seq < next + 40),
        "{quarantined:?}"
    );
    // Later events keep flowing: the node is not stuck behind the forgeries.
    b.sign(&petition, 30..40).await;
    association
        .wait_all(&[&victim], Duration::from_secs(30))
        .await;
    assert_eq!(association.summary().await.figures.unwrap().signatures, 45);
    assert_eq!(
        node_status(&association, honest.code).await,
        NodeStatus::Healthy
    );
    association.shutdown().await;
}

/// Junk on a hromada's subject costs the association a bounded quarantine, and one envelope
/// claiming a huge sequence number does not mark the hromada as lagging forever.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn junk_is_quarantined_within_bounds_and_a_huge_claim_marks_nothing_lagging() {
    let nats = NatsServer::start().await.unwrap();
    let association = TestAssociation::start(&nats.url()).await;
    let victim = TestNode::start(VINNYTSIA, 1_000, &nats.url()).await;
    association.enroll(&victim).await;
    let js = jetstream::new(async_nats::connect(nats.url()).await.unwrap());
    wait_sourced(&js, 1).await;

    let subject = wire::event_subject(&victim.code);
    let mut big = vec![0_u8; 100 * 1024];
    big[0] = 0xee;
    let junk = (0..10_500_u32)
        .map(|i| (subject.clone(), format!("junk {i}").into_bytes()))
        .chain([(subject.clone(), big)])
        .chain([(subject.clone(), forged_envelope(victim.code, 1_000_000_000))]);
    publish_all(&js, junk).await;

    let mut b = Civic::of(&victim).await;
    let petition = b.petition("Shade trees in the schoolyard").await;
    b.sign(&petition, 0..5).await;
    association
        .wait_all(&[&victim], Duration::from_secs(60))
        .await;
    // Everything published before the node's events has been read by now.
    let info = association.node(victim.code).await;
    assert_eq!(info.received_seq, victim.log_size(), "{info:?}");
    assert_eq!(info.quarantined, 10_000, "{info:?}");
    let records = association.quarantine(victim.code).await;
    assert!(
        records.iter().all(|r| r.payload.len() <= 4 * 1024),
        "a payload kept whole"
    );
    association.shutdown().await;
}
