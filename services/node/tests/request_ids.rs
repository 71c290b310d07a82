//! Request ids over gRPC, against a running node: the ids the node chooses for its own commands
//! cannot be taken first by a client, and a request id that answered one kind of command is
//! never taken as the answer to another.

mod support;

use std::time::Duration;

use node::convert::timestamp;
use proto::node::v1 as pb;
use support::{TestNode, request_id};
use tonic::Code;
use tonic_types::StatusExt as _;

type Client = node::auth::AuthedNodeClient;

async fn file(client: &mut Client) -> String {
    client
        .file_petition(pb::FilePetitionRequest {
            request_id: request_id(),
            author_subject: "diia:author-1".into(),
            title: "Освітлення парку".into(),
            text: "Просимо встановити ліхтарі в центральному парку.".into(),
            category: "infrastructure".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .stream_id
}

async fn view(client: &mut Client, petition: &str) -> pb::Petition {
    client
        .get_petition(pb::GetPetitionRequest {
            petition_id: petition.to_owned(),
        })
        .await
        .unwrap()
        .into_inner()
}

/// What anyone can compute from a petition's public view: a UUIDv7 whose time is the deadline
/// and whose random bits are the petition id's last ten bytes (how the scheduler chose its
/// close request id before issue 13, defect 8).
fn public_close_request_id(petition: uuid::Uuid, closes_at_micros: i64) -> uuid::Uuid {
    let millis = u64::try_from(closes_at_micros.div_euclid(1_000)).unwrap();
    let mut random = [0u8; 10];
    random.copy_from_slice(&petition.as_bytes()[6..16]);
    uuid::Builder::from_unix_timestamp_millis(millis, &random).into_uuid()
}

/// The attack of issue 13, defect 8: a signature sent before the deadline with the request id
/// the scheduler would use to close the collection. Had the id been predictable, the close would
/// have been answered by the signature (a "retry") and the petition collected forever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signature_sent_with_the_schedulers_close_request_id_does_not_stop_the_close() {
    let node = TestNode::start(None, 100).await;
    let mut c = node.client().await;
    let petition = file(&mut c).await;
    c.publish_petition(pb::PublishPetitionRequest {
        request_id: request_id(),
        petition_id: petition.clone(),
    })
    .await
    .unwrap();
    let published = view(&mut c, &petition).await;
    let closes_at = timestamp("collection_closes_at", published.collection_closes_at).unwrap();
    let taken = public_close_request_id(petition.parse().unwrap(), closes_at.0);
    c.sign_petition(pb::SignPetitionRequest {
        request_id: taken.to_string(),
        petition_id: petition.clone(),
        signer_subject: "diia:attacker".into(),
    })
    .await
    .expect("a signature before the deadline is accepted");

    node.clock.advance_days(61);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let now = view(&mut c, &petition).await;
        if now.status == pb::PetitionStatus::CollectionFailed as i32 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the scheduler did not close the collection: {now:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The signature still counts: only the close was added.
    assert_eq!(view(&mut c, &petition).await.signature_count, 1);
}

/// A request id that answered one kind of command is refused for another kind, naming the
/// field, and nothing is written; the first command's result is not handed back as this one's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_id_reused_for_another_kind_of_command_is_refused_and_writes_nothing() {
    let node = TestNode::start(None, 100).await;
    let mut c = node.client().await;
    let size = || *node.running.as_ref().unwrap().log_size().borrow();
    let request_id_field = |err: &tonic::Status| {
        err.get_details_bad_request()
            .expect("field violations")
            .field_violations[0]
            .field
            .clone()
    };

    // Filing's request id is the petition's id: publishing with it is another command.
    let petition = file(&mut c).await;
    let before = size();
    let err = c
        .publish_petition(pb::PublishPetitionRequest {
            request_id: petition.clone(),
            petition_id: petition.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    assert_eq!(request_id_field(&err), "request_id");
    assert!(err.message().contains("petition.filed"), "{err:?}");
    assert_eq!(size(), before, "nothing was written");
    assert_eq!(
        view(&mut c, &petition).await.status,
        pb::PetitionStatus::AwaitingModeration as i32,
        "the petition was not published by the refused request"
    );

    // A signature's request id reused to reject, and to sign again, on the same petition.
    c.publish_petition(pb::PublishPetitionRequest {
        request_id: request_id(),
        petition_id: petition.clone(),
    })
    .await
    .unwrap();
    let sign = pb::SignPetitionRequest {
        request_id: request_id(),
        petition_id: petition.clone(),
        signer_subject: "diia:citizen-1".into(),
    };
    c.sign_petition(sign.clone()).await.unwrap();
    let before = size();
    let err = c
        .reject_petition(pb::RejectPetitionRequest {
            request_id: sign.request_id.clone(),
            petition_id: petition.clone(),
            reason: "дублікат".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    assert_eq!(request_id_field(&err), "request_id");
    assert_eq!(size(), before, "nothing was written");
    // The same kind of command with the same id is still a retry, answered from the log.
    let again = c.sign_petition(sign).await.unwrap().into_inner();
    assert!(again.deduplicated);
    assert_eq!(size(), before);

    // Across aggregates on one stream id is impossible (ids are streams), but a dialogue's
    // contribution id reused to close that dialogue is another kind too.
    let now = event_store_core::Timestamp::now();
    let dialogue = c
        .announce_dialogue(pb::AnnounceDialogueRequest {
            request_id: request_id(),
            kind: pb::DialogueKind::PublicHearing as i32,
            topic: "Бюджет".into(),
            organiser: "Виконавчий комітет".into(),
            opens_at: Some(node::convert::to_pb_ts(event_store_core::Timestamp(
                now.0 - 3_600_000_000,
            ))),
            closes_at: Some(node::convert::to_pb_ts(event_store_core::Timestamp(
                now.0 + 86_400_000_000,
            ))),
        })
        .await
        .unwrap()
        .into_inner()
        .stream_id;
    let contribution = request_id();
    c.submit_contribution(pb::SubmitContributionRequest {
        request_id: contribution.clone(),
        dialogue_id: dialogue.clone(),
        author_subject: "diia:resident-1".into(),
        text: "Більше світла.".into(),
    })
    .await
    .unwrap();
    let before = size();
    let err = c
        .close_dialogue(pb::CloseDialogueRequest {
            request_id: contribution,
            dialogue_id: dialogue,
            attendance_count: 1,
            participating_organisations: vec![],
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    assert_eq!(request_id_field(&err), "request_id");
    assert_eq!(size(), before, "nothing was written");
}
