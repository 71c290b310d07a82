//! The node over gRPC, against a real nats-server: commands land in the log through the domain
//! rules and reach JetStream once each, in order; bad requests get the right status with
//! details and append nothing; retries are answered from the log; deadlines close by themselves.

mod support;

use std::time::Duration;

use event_store_core::{Envelope, Timestamp, checkpoint::SignedCheckpoint, merkle};
use node::convert::to_pb_ts;
use proto::node::v1 as pb;
use support::{TestNode, relayed_events, request_id};
use tonic::Code;
use tonic_types::StatusExt as _;

async fn file(client: &mut node::auth::AuthedNodeClient) -> String {
    let out = client
        .file_petition(pb::FilePetitionRequest {
            request_id: request_id(),
            author_subject: "diia:author-1".into(),
            title: "Освітлення парку".into(),
            text: "Просимо встановити ліхтарі в центральному парку.".into(),
            category: "infrastructure".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(out.event_types, vec!["petition.filed"]);
    out.stream_id
}

/// A petition as the node shows it.
async fn petition_view(client: &mut node::auth::AuthedNodeClient, petition: &str) -> pb::Petition {
    client
        .get_petition(pb::GetPetitionRequest {
            petition_id: petition.to_owned(),
        })
        .await
        .unwrap()
        .into_inner()
}

/// Announces a dialogue open from an hour ago to a day from now; its id.
/// A resident's proposal to a dialogue, answered by the council with `response`; its id.
async fn propose(
    c: &mut node::auth::AuthedNodeClient,
    dialogue: &str,
    author: &str,
    text: &str,
    response: pb::ContributionResponse,
) -> String {
    let id = request_id();
    c.submit_contribution(pb::SubmitContributionRequest {
        request_id: id.clone(),
        dialogue_id: dialogue.to_owned(),
        author_subject: author.to_owned(),
        text: text.to_owned(),
    })
    .await
    .unwrap();
    c.answer_contribution(pb::AnswerContributionRequest {
        request_id: request_id(),
        dialogue_id: dialogue.to_owned(),
        contribution_id: id.clone(),
        response: response as i32,
        reason: "Розглянуто форумом.".into(),
    })
    .await
    .unwrap();
    id
}

async fn open_dialogue(
    c: &mut node::auth::AuthedNodeClient,
    kind: pb::DialogueKind,
    topic: &str,
    organiser: &str,
) -> String {
    let now = Timestamp::now();
    c.announce_dialogue(pb::AnnounceDialogueRequest {
        request_id: request_id(),
        kind: kind as i32,
        topic: topic.into(),
        organiser: organiser.into(),
        opens_at: Some(to_pb_ts(Timestamp(now.0 - 3_600_000_000))),
        closes_at: Some(to_pb_ts(Timestamp(now.0 + 86_400_000_000))),
    })
    .await
    .unwrap()
    .into_inner()
    .stream_id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_land_in_the_log_and_reach_jetstream_once_in_order() {
    let nats = testkit::NatsServer::start().await.unwrap();
    let node = TestNode::start(Some(nats.url()), 3).await;
    let mut c = node.client().await;
    let petition = file(&mut c).await;
    c.publish_petition(pb::PublishPetitionRequest {
        request_id: request_id(),
        petition_id: petition.clone(),
    })
    .await
    .unwrap();
    for i in 0..3 {
        let out = c
            .sign_petition(pb::SignPetitionRequest {
                request_id: request_id(),
                petition_id: petition.clone(),
                signer_subject: format!("diia:citizen-{i}"),
            })
            .await
            .unwrap()
            .into_inner();
        if i == 2 {
            // The signature that reaches the threshold also records it, exactly once.
            assert_eq!(
                out.event_types,
                vec!["petition.signed", "petition.threshold_reached"]
            );
        }
    }
    c.start_consideration(pb::StartConsiderationRequest {
        request_id: request_id(),
        petition_id: petition.clone(),
    })
    .await
    .unwrap();
    c.answer_petition(pb::AnswerPetitionRequest {
        request_id: request_id(),
        petition_id: petition.clone(),
        decision: pb::AnswerDecision::Supported as i32,
        response: "Підтримано.".into(),
        responder_role: "міський голова".into(),
    })
    .await
    .unwrap();
    let view = petition_view(&mut c, &petition).await;
    assert_eq!(view.status, pb::PetitionStatus::Answered as i32);
    assert_eq!(view.signature_count, 3);
    assert_eq!(view.answered_on_time, Some(true));
    assert_eq!(view.title, "Освітлення парку");
    // The node returns what it stores: the answer with its text and who gave it.
    assert_eq!(view.answer, pb::AnswerDecision::Supported as i32);
    assert_eq!(
        (
            view.answer_response.as_str(),
            view.answer_responder_role.as_str()
        ),
        ("Підтримано.", "міський голова")
    );

    // 1 filed + 1 published + 3 signed + 1 threshold + 1 consideration + 1 answer (the calendar
    // has no non-working dates, so no calendar event).
    let size = 8;
    node.wait_relayed(size, Duration::from_secs(20)).await;
    let relayed = relayed_events(&nats.url(), size as usize).await;
    assert_eq!(relayed.len(), size as usize);
    let stored = node.read_whole_log().await;
    assert_eq!(stored.len(), size as usize);
    let mut last_stream_seq = 0;
    for (i, (r, s)) in relayed.iter().zip(&stored).enumerate() {
        let seq = i as u64 + 1;
        assert_eq!((r.log_seq, s.seq), (seq, seq), "order");
        // Checkpoints share the stream, so stream sequences only increase.
        assert!(r.stream_seq > last_stream_seq);
        last_stream_seq = r.stream_seq;
        assert_eq!(
            r.payload, s.envelope,
            "JetStream carries the stored bytes exactly"
        );
        let env = Envelope::decode(&s.envelope).unwrap();
        assert_eq!(r.msg_id, env.event_id.to_string());
    }
    // No personal data: the signer subjects appear nowhere in what left the node.
    for r in &relayed {
        assert!(!String::from_utf8_lossy(&r.payload).contains("diia:citizen"));
    }

    // Implementation updates: the latest ten, oldest first, and how many there are.
    for n in 1..=12 {
        c.report_implementation(pb::ReportImplementationRequest {
            request_id: request_id(),
            petition_id: petition.clone(),
            text: format!("Етап {n} виконано."),
        })
        .await
        .unwrap();
    }
    let view = petition_view(&mut c, &petition).await;
    assert_eq!(view.implementation_update_count, 12);
    let texts: Vec<&str> = view
        .implementation_updates
        .iter()
        .map(|u| u.text.as_str())
        .collect();
    assert_eq!(texts.len(), 10);
    assert_eq!(
        (texts[0], texts[9]),
        ("Етап 3 виконано.", "Етап 12 виконано.")
    );
    assert_eq!(view.answer_response, "Підтримано.");

    // A rejected petition shows why.
    let rejected = file(&mut c).await;
    c.reject_petition(pb::RejectPetitionRequest {
        request_id: request_id(),
        petition_id: rejected.clone(),
        reason: "Питання не належить до повноважень громади.".into(),
    })
    .await
    .unwrap();
    let view = petition_view(&mut c, &rejected).await;
    assert_eq!(
        view.rejection_reason,
        "Питання не належить до повноважень громади."
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_the_right_status_with_details_and_append_nothing() {
    let node = TestNode::start(None, 100).await;
    let mut c = node.client().await;
    let petition = file(&mut c).await;
    let size = *node.running.as_ref().unwrap().log_size().borrow();

    // Malformed: not a UUID, no signer.
    let err = c
        .sign_petition(pb::SignPetitionRequest {
            request_id: request_id(),
            petition_id: "not-a-uuid".into(),
            signer_subject: "".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    let fields: Vec<String> = err
        .get_details_bad_request()
        .unwrap()
        .field_violations
        .into_iter()
        .map(|v| v.field)
        .collect();
    assert_eq!(fields, vec!["petition_id"]);
    let err = c
        .sign_petition(pb::SignPetitionRequest {
            request_id: "x".into(),
            petition_id: petition.clone(),
            signer_subject: "s".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(
        err.get_details_bad_request().unwrap().field_violations[0].field,
        "request_id"
    );
    let err = c
        .sign_petition(pb::SignPetitionRequest {
            request_id: uuid::Uuid::from_u128(1).to_string(),
            petition_id: petition.clone(),
            signer_subject: "s".into(),
        })
        .await
        .unwrap_err();
    assert!(
        err.message().contains("request_id"),
        "a non-v7 request id is refused: {err:?}"
    );
    // A domain field rule: an empty title.
    let err = c
        .file_petition(pb::FilePetitionRequest {
            request_id: request_id(),
            author_subject: "a".into(),
            title: " ".into(),
            text: "t".into(),
            category: "c".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(
        err.get_details_bad_request().unwrap().field_violations[0].field,
        "title"
    );

    // A domain rule: signing before publication.
    let err = c
        .sign_petition(pb::SignPetitionRequest {
            request_id: request_id(),
            petition_id: petition.clone(),
            signer_subject: "s".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");
    let violation = &err.get_details_precondition_failure().unwrap().violations[0];
    assert_eq!(violation.r#type, "DOMAIN_RULE");
    assert!(violation.subject.starts_with("petition."), "{violation:?}");

    // Unknown petition.
    let err = c
        .get_petition(pb::GetPetitionRequest {
            petition_id: uuid::Uuid::now_v7().to_string(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);

    // Oversize: a 300 KiB text against the 256 KiB request limit.
    let err = c
        .file_petition(pb::FilePetitionRequest {
            request_id: request_id(),
            author_subject: "a".into(),
            title: "big".into(),
            text: "ї".repeat(150 * 1024),
            category: "c".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::OutOfRange, "{err:?}");

    // Pagination tokens are checked.
    let err = c
        .list_petitions(pb::ListPetitionsRequest {
            page_size: 5,
            page_token: "garbage".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(
        err.get_details_bad_request().unwrap().field_violations[0].field,
        "page_token"
    );

    assert_eq!(
        *node.running.as_ref().unwrap().log_size().borrow(),
        size,
        "nothing was appended"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_request_returns_the_first_result_and_appends_nothing() {
    let node = TestNode::start(None, 100).await;
    let mut c = node.client().await;
    let petition = file(&mut c).await;
    c.publish_petition(pb::PublishPetitionRequest {
        request_id: request_id(),
        petition_id: petition.clone(),
    })
    .await
    .unwrap();
    let sign = pb::SignPetitionRequest {
        request_id: request_id(),
        petition_id: petition.clone(),
        signer_subject: "s-1".into(),
    };
    let first = c.sign_petition(sign.clone()).await.unwrap().into_inner();
    let size = *node.running.as_ref().unwrap().log_size().borrow();
    let again = c.sign_petition(sign.clone()).await.unwrap().into_inner();
    assert!(!first.deduplicated && again.deduplicated);
    assert_eq!(
        (again.first_seq, again.last_seq, again.stream_version),
        (first.first_seq, first.last_seq, first.stream_version)
    );
    assert_eq!(again.event_types, first.event_types);
    assert_eq!(*node.running.as_ref().unwrap().log_size().borrow(), size);
    // The same person signing again with a new request id is a domain refusal.
    let err = c
        .sign_petition(pb::SignPetitionRequest {
            request_id: request_id(),
            ..sign.clone()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    // A request id reused for a command on another stream is refused.
    let other = file(&mut c).await;
    let err = c
        .publish_petition(pb::PublishPetitionRequest {
            request_id: sign.request_id.clone(),
            petition_id: other,
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_collections_close_exactly_once_across_restarts() {
    let mut node = TestNode::start(None, 100).await;
    let mut c = node.client().await;
    let petition = file(&mut c).await;
    c.publish_petition(pb::PublishPetitionRequest {
        request_id: request_id(),
        petition_id: petition.clone(),
    })
    .await
    .unwrap();
    c.sign_petition(pb::SignPetitionRequest {
        request_id: request_id(),
        petition_id: petition.clone(),
        signer_subject: "s".into(),
    })
    .await
    .unwrap();
    node.clock.advance_days(61);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let view = petition_view(&mut c, &petition).await;
        if view.status == pb::PetitionStatus::CollectionFailed as i32 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "collection not closed: {view:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    node.stop().await;
    node.boot().await;
    tokio::time::sleep(Duration::from_millis(2_500)).await; // two scheduler ticks
    let mut closes = 0;
    for entry in node.read_whole_log().await {
        let env = Envelope::decode(&entry.envelope).unwrap();
        if env.event_type == domain::EventType::CollectionClosedWithoutThreshold.code() {
            closes += 1;
        }
    }
    assert_eq!(closes, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_service_gives_receipts_that_verify_and_lists_paginate() {
    let node = TestNode::start(None, 100).await;
    let mut c = node.client().await;
    let mut petitions = Vec::new();
    for _ in 0..7 {
        petitions.push(file(&mut c).await);
    }
    let mut log = node.log_client().await;
    // Checkpoints come every second on the time policy.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let cp = loop {
        match log
            .get_checkpoint(pb::GetCheckpointRequest { at_least_size: 7 })
            .await
        {
            Ok(cp) => break cp.into_inner(),
            Err(e) => {
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "no checkpoint covers 7 events: {e:?}"
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    };
    let signed = SignedCheckpoint::parse(&cp.note).unwrap();
    let vkey = std::fs::read_to_string(node.dir.path().join("node.vkey")).unwrap();
    signed
        .verify(&event_store_core::NoteVerifier::parse(&vkey).unwrap())
        .unwrap();
    let proof = log
        .get_inclusion_proof(pb::GetInclusionProofRequest {
            seq: 5,
            tree_size: 0,
        })
        .await
        .unwrap()
        .into_inner();
    let hashes: Vec<merkle::Hash> = proof
        .hashes
        .iter()
        .map(|h| h.as_slice().try_into().unwrap())
        .collect();
    let leaf: merkle::Hash = proof.leaf_hash.as_slice().try_into().unwrap();
    merkle::verify_inclusion(&leaf, 4, proof.tree_size, &hashes, &signed.checkpoint.root).unwrap();
    // A tree size past the log is out of range (it becomes valid as the log grows), and the
    // details name the field; sizes that can never fit are invalid.
    let first_field = |err: &tonic::Status| {
        let violations = err.get_details_bad_request().unwrap().field_violations;
        violations[0].field.clone()
    };
    for seq in [5, 900] {
        let request = pb::GetInclusionProofRequest {
            seq,
            tree_size: 1_000,
        };
        let err = log.get_inclusion_proof(request).await.unwrap_err();
        assert_eq!(err.code(), Code::OutOfRange, "{err:?}");
        assert_eq!(first_field(&err), "tree_size");
    }
    for (old_size, new_size, code, field) in [
        (3, 1_000, Code::OutOfRange, "new_size"),
        (5, 3, Code::InvalidArgument, "old_size"),
    ] {
        let request = pb::GetConsistencyProofRequest { old_size, new_size };
        let err = log.get_consistency_proof(request).await.unwrap_err();
        assert_eq!(err.code(), code, "{err:?}");
        assert_eq!(first_field(&err), field);
    }
    let err = log
        .read_log(pb::ReadLogRequest {
            from_seq: 0,
            limit: 0,
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);

    // Newest first, three per page, tokens to the end.
    let mut seen = Vec::new();
    let mut token = String::new();
    loop {
        let page = c
            .list_petitions(pb::ListPetitionsRequest {
                page_size: 3,
                page_token: token.clone(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        assert!(page.petitions.len() <= 3);
        seen.extend(page.petitions.into_iter().map(|p| p.petition_id));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    petitions.reverse();
    assert_eq!(seen, petitions);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_reflection_and_metrics_are_served() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let node = TestNode::start(None, 100).await;
    let mut c = node.client().await;
    file(&mut c).await;
    let _ = c
        .get_petition(pb::GetPetitionRequest {
            petition_id: "nope".into(),
        })
        .await;

    let channel = tonic::transport::Endpoint::from_shared(node.url())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel.clone());
    for service in [
        "",
        "vidkryto.node.v1.NodeService",
        "vidkryto.node.v1.LogService",
    ] {
        let status = health
            .check(tonic_health::pb::HealthCheckRequest {
                service: service.into(),
            })
            .await
            .unwrap()
            .into_inner()
            .status;
        assert_eq!(
            status,
            tonic_health::pb::health_check_response::ServingStatus::Serving as i32,
            "{service}"
        );
    }

    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
    let mut reflection = ServerReflectionClient::new(channel);
    let request = tonic_reflection::pb::v1::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut answers = reflection
        .server_reflection_info(tokio_stream::iter(vec![request]))
        .await
        .unwrap()
        .into_inner();
    let Some(MessageResponse::ListServicesResponse(list)) =
        answers.message().await.unwrap().unwrap().message_response
    else {
        panic!("reflection did not list services");
    };
    let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    for expected in [
        "vidkryto.node.v1.NodeService",
        "vidkryto.node.v1.LogService",
        "grpc.health.v1.Health",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} not in {names:?}"
        );
    }

    let addr = node.running.as_ref().unwrap().metrics_addr().unwrap();
    tokio::time::sleep(Duration::from_millis(1_100)).await; // gauges refresh every second
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    tcp.write_all(b"GET /metrics HTTP/1.1\r\nHost: node\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut body = String::new();
    tcp.read_to_string(&mut body).await.unwrap();
    assert!(body.starts_with("HTTP/1.1 200"), "{body}");
    assert!(
        body.contains("vidkryto_node_commands_total{command=\"file_petition\",outcome=\"ok\"} 1"),
        "{body}"
    );
    assert!(body.contains("vidkryto_node_log_size 1"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clock_stepped_back_does_not_make_commands_fail() {
    let mut node = TestNode::start(None, 100).await;
    let mut c = node.client().await;
    let petition = file(&mut c).await;
    node.clock.advance_days(-2); // e.g. an NTP correction
    c.publish_petition(pb::PublishPetitionRequest {
        request_id: request_id(),
        petition_id: petition.clone(),
    })
    .await
    .expect("time in the log never runs backwards");
    // Also after a restart, which must seed the node's clock from the log.
    node.stop().await;
    node.clock.advance_days(-2);
    node.boot().await;
    let mut c = node.client().await;
    c.sign_petition(pb::SignPetitionRequest {
        request_id: request_id(),
        petition_id: petition,
        signer_subject: "s".into(),
    })
    .await
    .expect("still accepted after a restart");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dialogues_and_plans_take_every_command_and_show_their_views() {
    let node = TestNode::start(None, 100).await;
    let mut c = node.client().await;
    let dialogue = open_dialogue(
        &mut c,
        pb::DialogueKind::PublicHearing,
        "Бюджет громади на 2027 рік",
        "Виконавчий комітет",
    )
    .await;
    let contribution = request_id();
    let submitted = c
        .submit_contribution(pb::SubmitContributionRequest {
            request_id: contribution.clone(),
            dialogue_id: dialogue.clone(),
            author_subject: "diia:resident-1".into(),
            text: "Більше освітлення на шляху до школи.".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        submitted.event_types,
        vec!["dialogue.contribution_submitted"]
    );
    c.answer_contribution(pb::AnswerContributionRequest {
        request_id: request_id(),
        dialogue_id: dialogue.clone(),
        contribution_id: contribution,
        response: pb::ContributionResponse::Accepted as i32,
        reason: "Включено до плану.".into(),
    })
    .await
    .unwrap();
    node.clock.advance_days(2);
    c.close_dialogue(pb::CloseDialogueRequest {
        request_id: request_id(),
        dialogue_id: dialogue.clone(),
        attendance_count: 40,
        participating_organisations: vec!["Молодіжна рада".into()],
    })
    .await
    .unwrap();
    c.publish_outcome(pb::PublishOutcomeRequest {
        request_id: request_id(),
        dialogue_id: dialogue.clone(),
        report: "Бюджет додає освітлення.".into(),
        council_decision_ref: String::new(),
    })
    .await
    .unwrap();
    let view = c
        .get_dialogue(pb::GetDialogueRequest {
            dialogue_id: dialogue.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(view.status, pb::DialogueStatus::OutcomePublished as i32);
    assert_eq!(view.kind, pb::DialogueKind::PublicHearing as i32);
    assert_eq!((view.contributions, view.contributions_answered), (1, 1));
    assert_eq!(view.stream_version, 5);
    // The node returns what it stores: the outcome report.
    assert_eq!(view.outcome_report, "Бюджет додає освітлення.");
    assert_eq!(view.council_decision_ref, "");

    let plan = c
        .adopt_plan(pb::AdoptPlanRequest {
            request_id: request_id(),
            title: "План дій OGP Local".into(),
            period_start: "2026-01-01".into(),
            period_end: "2027-12-31".into(),
            council_decision: "№ 7/2026".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .stream_id;
    let commitment = request_id();
    c.add_commitment(pb::AddCommitmentRequest {
        request_id: commitment.clone(),
        plan_id: plan.clone(),
        title: "Відкритий бюджет".into(),
        description: "Публікувати бюджет як відкриті дані.".into(),
        lead_institution: "Фінансовий відділ".into(),
        values: vec![pb::OgpValue::AccessToInformation as i32],
        start: "2026-01-01".into(),
        end: "2027-06-30".into(),
    })
    .await
    .unwrap();
    let milestone = request_id();
    c.add_milestone(pb::AddMilestoneRequest {
        request_id: milestone.clone(),
        plan_id: plan.clone(),
        commitment_id: commitment.clone(),
        title: "Портал даних".into(),
        due: "2026-06-30".into(),
    })
    .await
    .unwrap();
    c.report_progress(pb::ReportProgressRequest {
        request_id: request_id(),
        plan_id: plan.clone(),
        milestone_id: milestone.clone(),
        status: pb::ImplementationStatus::Complete as i32,
        evidence_link: "https://example.gov.ua/evidence".into(),
    })
    .await
    .unwrap();
    c.assess_commitment(pb::AssessCommitmentRequest {
        request_id: request_id(),
        plan_id: plan.clone(),
        commitment_id: commitment.clone(),
        completion: pb::ImplementationStatus::Complete as i32,
        opened_government: pb::OpenedGovernment::Major as i32,
    })
    .await
    .unwrap();
    c.close_plan(pb::ClosePlanRequest {
        request_id: request_id(),
        plan_id: plan.clone(),
    })
    .await
    .unwrap();
    let view = c
        .get_plan(pb::GetPlanRequest {
            plan_id: plan.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(view.closed);
    assert_eq!((view.commitments, view.commitments_assessed), (1, 1));
    assert_eq!(view.milestones.len(), 1);
    // A new commitment's and milestone's ids are their request ids.
    assert_eq!(
        (
            &view.milestones[0].milestone_id,
            &view.milestones[0].commitment_id
        ),
        (&milestone, &commitment)
    );
    assert_eq!(
        view.milestones[0].status,
        pb::ImplementationStatus::Complete as i32
    );
    // ...and the plan's documents: the decision, each commitment, each milestone's evidence.
    assert_eq!(view.council_decision, "№ 7/2026");
    assert_eq!(
        view.milestones[0].evidence_link,
        "https://example.gov.ua/evidence"
    );
    assert_eq!(view.commitment_details.len(), 1);
    let detail = &view.commitment_details[0];
    assert_eq!(detail.commitment_id, commitment);
    assert_eq!(detail.description, "Публікувати бюджет як відкриті дані.");
    assert_eq!(detail.lead_institution, "Фінансовий відділ");
    assert_eq!(detail.completion, pb::ImplementationStatus::Complete as i32);

    let dialogues = c
        .list_dialogues(pb::ListDialoguesRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(dialogues.dialogues.len(), 1);
    assert_eq!(dialogues.dialogues[0].dialogue_id, dialogue);
    let plans = c
        .list_plans(pb::ListPlansRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(plans.plans.len(), 1);
    assert_eq!(plans.plans[0].plan_id, plan);
    // No personal data: the contributor's subject is nowhere in the log.
    for entry in node.read_whole_log().await {
        assert!(!String::from_utf8_lossy(&entry.envelope).contains("diia:resident"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dialogues_contributions_list_in_pages_with_text_as_public_as_it_is() {
    let node = TestNode::start(None, 100).await;
    let mut c = node.client().await;
    let now = node.clock.clock()();
    let ts = |micros: i64| node::convert::to_pb_ts(event_store_core::Timestamp(micros));
    let dialogue = c
        .announce_dialogue(pb::AnnounceDialogueRequest {
            request_id: request_id(),
            kind: pb::DialogueKind::EConsultation as i32,
            topic: "Бюджет участі".into(),
            organiser: "Виконавчий комітет".into(),
            opens_at: Some(ts(now.0 - 3_600_000_000)),
            closes_at: Some(ts(now.0 + 86_400_000_000)),
        })
        .await
        .unwrap()
        .into_inner()
        .stream_id;
    let mut ids = Vec::new();
    for (n, response) in [
        Some(pb::ContributionResponse::Accepted),
        Some(pb::ContributionResponse::Rejected),
        None,
    ]
    .into_iter()
    .enumerate()
    {
        let id = request_id();
        c.submit_contribution(pb::SubmitContributionRequest {
            request_id: id.clone(),
            dialogue_id: dialogue.clone(),
            author_subject: format!("resident-{n}"),
            text: format!("Пропозиція {n}"),
        })
        .await
        .unwrap();
        if let Some(response) = response {
            c.answer_contribution(pb::AnswerContributionRequest {
                request_id: request_id(),
                dialogue_id: dialogue.clone(),
                contribution_id: id.clone(),
                response: response as i32,
                reason: format!("Розглянуто {n}."),
            })
            .await
            .unwrap();
        }
        ids.push(id);
    }
    let list = |page_token: String| pb::ListContributionsRequest {
        dialogue_id: dialogue.clone(),
        page_size: 2,
        page_token,
    };
    // Anyone: two pages, only the accepted text.
    let mut anonymous = node.anonymous_client().await;
    let first = anonymous
        .list_contributions(list(String::new()))
        .await
        .unwrap()
        .into_inner();
    let second = anonymous
        .list_contributions(list(first.next_page_token.clone()))
        .await
        .unwrap()
        .into_inner();
    assert!(!first.next_page_token.is_empty());
    assert!(second.next_page_token.is_empty());
    let seen: Vec<_> = first
        .contributions
        .iter()
        .chain(&second.contributions)
        .collect();
    assert_eq!(
        seen.iter()
            .map(|c| c.contribution_id.clone())
            .collect::<Vec<_>>(),
        ids
    );
    assert_eq!(
        seen.iter()
            .map(|c| (c.text.as_str(), c.text_public))
            .collect::<Vec<_>>(),
        vec![("Пропозиція 0", true), ("", false), ("", false)]
    );
    assert_eq!(
        seen.iter().map(|c| c.response).collect::<Vec<_>>(),
        vec![
            pb::ContributionResponse::Accepted as i32,
            pb::ContributionResponse::Rejected as i32,
            pb::ContributionResponse::Unspecified as i32
        ]
    );
    // Each answer with its reason and time, the rejected one's too (its text stays private).
    assert_eq!(
        seen.iter()
            .map(|c| (c.response_reason.as_str(), c.answered_at.is_some()))
            .collect::<Vec<_>>(),
        vec![
            ("Розглянуто 0.", true),
            ("Розглянуто 1.", true),
            ("", false)
        ]
    );
    // One who may answer reads every text.
    let mut texts = Vec::new();
    let mut token = String::new();
    loop {
        let page = c
            .list_contributions(list(token))
            .await
            .unwrap()
            .into_inner();
        texts.extend(page.contributions.into_iter().map(|c| c.text));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(texts, vec!["Пропозиція 0", "Пропозиція 1", "Пропозиція 2"]);
    // A token this node did not issue is refused.
    let err = c
        .list_contributions(list("not-a-token".into()))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn petitions_list_by_status_category_and_words_and_text_stays_private_in_search() {
    let node = TestNode::start(None, 100).await;
    let mut c = node.client().await;
    let mut filed = Vec::new();
    for (title, category) in [
        ("Ремонт ШКОЛИ № 3", "education"),
        ("Нова школа на Вишневій", "education"),
        ("Ліхтарі в парку", "infrastructure"),
        ("Таємна школа", "education"),
    ] {
        let out = c
            .file_petition(pb::FilePetitionRequest {
                request_id: request_id(),
                author_subject: "diia:author-1".into(),
                title: title.into(),
                text: "Просимо раду діяти цього року.".into(),
                category: category.into(),
            })
            .await
            .unwrap()
            .into_inner();
        filed.push(out.stream_id);
    }
    // All but the last are published; the last stays in moderation.
    for id in &filed[..3] {
        c.publish_petition(pb::PublishPetitionRequest {
            request_id: request_id(),
            petition_id: id.clone(),
        })
        .await
        .unwrap();
    }
    let anyone = proto::node::v1::node_service_client::NodeServiceClient::connect(node.url())
        .await
        .unwrap();
    let titles = |page: pb::ListPetitionsResponse| -> Vec<String> {
        page.petitions.into_iter().map(|p| p.title).collect()
    };
    let list = |request: pb::ListPetitionsRequest| {
        let mut anyone = anyone.clone();
        async move { anyone.list_petitions(request).await.map(|r| r.into_inner()) }
    };

    // Words match in any case, every word must match, newest first.
    let found = list(pb::ListPetitionsRequest {
        query: "школ".into(),
        ..Default::default()
    })
    .await
    .unwrap();
    assert_eq!(
        titles(found),
        ["Нова школа на Вишневій", "Ремонт ШКОЛИ № 3"],
        "the petition in moderation never matches a reader's query"
    );
    let found = list(pb::ListPetitionsRequest {
        query: "школи ремонт".into(),
        ..Default::default()
    })
    .await
    .unwrap();
    assert_eq!(titles(found), ["Ремонт ШКОЛИ № 3"]);
    // A moderator's query finds the petition in moderation too.
    let found = c
        .list_petitions(pb::ListPetitionsRequest {
            query: "таємна".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(titles(found), ["Таємна школа"]);

    // By status and category.
    let collecting = list(pb::ListPetitionsRequest {
        statuses: vec![pb::PetitionStatus::Collecting as i32],
        category: "education".into(),
        ..Default::default()
    })
    .await
    .unwrap();
    assert_eq!(collecting.petitions.len(), 2);
    let waiting = list(pb::ListPetitionsRequest {
        statuses: vec![pb::PetitionStatus::AwaitingModeration as i32],
        ..Default::default()
    })
    .await
    .unwrap();
    assert_eq!(waiting.petitions.len(), 1);
    assert_eq!(waiting.petitions[0].petition_id, filed[3]);
    assert!(
        waiting.petitions[0].title.is_empty(),
        "its text stays private"
    );

    // A filtered page may be short and still have a next one; every petition comes once.
    let mut seen = Vec::new();
    let mut token = String::new();
    loop {
        let page = list(pb::ListPetitionsRequest {
            page_size: 1,
            page_token: token.clone(),
            category: "education".into(),
            ..Default::default()
        })
        .await
        .unwrap();
        seen.extend(page.petitions.into_iter().map(|p| p.petition_id));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(seen, [filed[3].clone(), filed[1].clone(), filed[0].clone()]);

    // Bad filters are named.
    for (request, field) in [
        (
            pb::ListPetitionsRequest {
                statuses: vec![0],
                ..Default::default()
            },
            "statuses",
        ),
        (
            pb::ListPetitionsRequest {
                statuses: vec![99],
                ..Default::default()
            },
            "statuses",
        ),
        (
            pb::ListPetitionsRequest {
                statuses: vec![3, 4, 3],
                ..Default::default()
            },
            "statuses",
        ),
        (
            pb::ListPetitionsRequest {
                query: "ш".repeat(101),
                ..Default::default()
            },
            "query",
        ),
    ] {
        let err = list(request).await.unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
        assert_eq!(
            err.get_details_bad_request().unwrap().field_violations[0].field,
            field
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_is_amended_and_withdrawn_with_reasons_and_overdue_follows() {
    let node = TestNode::start(None, 100).await;
    let mut c = node.client().await;
    let year: i32 = domain::kyiv_date(node.clock.clock()()).year();
    let plan = c
        .adopt_plan(pb::AdoptPlanRequest {
            request_id: request_id(),
            title: "План дій OGP Local".into(),
            period_start: format!("{}-01-01", year - 1),
            period_end: format!("{}-12-31", year + 1),
            council_decision: "№ 7".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .stream_id;
    let commitment = request_id();
    c.add_commitment(pb::AddCommitmentRequest {
        request_id: commitment.clone(),
        plan_id: plan.clone(),
        title: "Відкритий бюджет".into(),
        description: "Публікувати бюджет як відкриті дані.".into(),
        lead_institution: "Фінансовий відділ".into(),
        values: vec![pb::OgpValue::AccessToInformation as i32],
        start: format!("{}-01-01", year - 1),
        end: format!("{}-06-30", year + 1),
    })
    .await
    .unwrap();
    // Two milestones already past due.
    let mut milestones = Vec::new();
    for title in ["Портал даних", "Навчання"] {
        let id = request_id();
        c.add_milestone(pb::AddMilestoneRequest {
            request_id: id.clone(),
            plan_id: plan.clone(),
            commitment_id: commitment.clone(),
            title: title.into(),
            due: format!("{}-06-30", year - 1),
        })
        .await
        .unwrap();
        milestones.push(id);
    }
    let view = |c: &mut node::auth::AuthedNodeClient| {
        let mut c = c.clone();
        let plan = plan.clone();
        async move {
            c.get_plan(pb::GetPlanRequest { plan_id: plan })
                .await
                .unwrap()
                .into_inner()
        }
    };
    assert!(view(&mut c).await.milestones.iter().all(|m| m.overdue));

    // One moved to next year with its reason, the other withdrawn: neither overdue now.
    let moved = c
        .amend_milestone(pb::AmendMilestoneRequest {
            request_id: request_id(),
            plan_id: plan.clone(),
            milestone_id: milestones[0].clone(),
            due: format!("{}-03-31", year + 1),
            reason: "Тендер перенесено.".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(moved.event_types, ["action_plan.milestone_amended"]);
    c.withdraw_milestone(pb::WithdrawMilestoneRequest {
        request_id: request_id(),
        plan_id: plan.clone(),
        milestone_id: milestones[1].clone(),
        reason: "Етап об'єднано з наступним.".into(),
    })
    .await
    .unwrap();
    let now = view(&mut c).await;
    let m = &now.milestones;
    assert_eq!(m[0].due, format!("{}-03-31", year + 1));
    assert!(!m[0].overdue && !m[0].withdrawn);
    assert!(!m[1].overdue && m[1].withdrawn);
    // A reason is required; a withdrawn milestone takes no more steps.
    let err = c
        .amend_milestone(pb::AmendMilestoneRequest {
            request_id: request_id(),
            plan_id: plan.clone(),
            milestone_id: milestones[0].clone(),
            due: format!("{}-03-31", year + 1),
            reason: "  ".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    let err = c
        .report_progress(pb::ReportProgressRequest {
            request_id: request_id(),
            plan_id: plan.clone(),
            milestone_id: milestones[1].clone(),
            status: pb::ImplementationStatus::NotStarted as i32,
            evidence_link: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(
        err.get_details_precondition_failure().unwrap().violations[0].subject,
        "action_plan.milestone_withdrawn"
    );
    // The commitment extended, then withdrawn; the plan closes without assessing it, and
    // nothing is amended after.
    c.amend_commitment(pb::AmendCommitmentRequest {
        request_id: request_id(),
        plan_id: plan.clone(),
        commitment_id: commitment.clone(),
        end: format!("{}-12-31", year + 1),
        reason: "Продовжено рішенням ради № 9.".into(),
    })
    .await
    .unwrap();
    assert_eq!(
        view(&mut c).await.commitment_details[0].end,
        format!("{}-12-31", year + 1)
    );
    c.withdraw_commitment(pb::WithdrawCommitmentRequest {
        request_id: request_id(),
        plan_id: plan.clone(),
        commitment_id: commitment.clone(),
        reason: "Зобов'язання виконує область.".into(),
    })
    .await
    .unwrap();
    c.close_plan(pb::ClosePlanRequest {
        request_id: request_id(),
        plan_id: plan.clone(),
    })
    .await
    .unwrap();
    let size = node.log_size();
    let err = c
        .amend_milestone(pb::AmendMilestoneRequest {
            request_id: request_id(),
            plan_id: plan.clone(),
            milestone_id: milestones[0].clone(),
            due: format!("{}-04-30", year + 1),
            reason: "Ще раз.".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(
        err.get_details_precondition_failure().unwrap().violations[0].subject,
        "action_plan.closed"
    );
    assert_eq!(node.log_size(), size);
    let closed = view(&mut c).await;
    assert!(closed.closed && closed.commitment_details[0].withdrawn);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commitment_takes_the_proposals_its_forum_accepted() {
    let node = TestNode::start(None, 100).await;
    let mut c = node.client().await;
    let now = Timestamp::now();
    // The local forum's call for proposals: a dialogue.
    let forum = open_dialogue(
        &mut c,
        pb::DialogueKind::PublicConsultation,
        "Пропозиції до плану дій OGP Local",
        "Форум OGP Local: співголови від ради та громадськості",
    )
    .await;
    let mut proposals = Vec::new();
    for (n, response) in [
        pb::ContributionResponse::Accepted,
        pb::ContributionResponse::Rejected,
        pb::ContributionResponse::Accepted,
    ]
    .into_iter()
    .enumerate()
    {
        let text = format!("Пропозиція {n}: відкрити дані про закупівлі.");
        let author = format!("diia:resident-{n}");
        proposals.push(propose(&mut c, &forum, &author, &text, response).await);
    }
    let year: i32 = domain::kyiv_date(now).year();
    let plan = c
        .adopt_plan(pb::AdoptPlanRequest {
            request_id: request_id(),
            title: "План дій OGP Local".into(),
            period_start: format!("{year}-01-01"),
            period_end: format!("{}-12-31", year + 1),
            council_decision: "№ 8".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .stream_id;
    let commitment = request_id();
    c.add_commitment(pb::AddCommitmentRequest {
        request_id: commitment.clone(),
        plan_id: plan.clone(),
        title: "Відкриті закупівлі".into(),
        description: "Публікувати дані про закупівлі.".into(),
        lead_institution: "Відділ закупівель".into(),
        values: vec![pb::OgpValue::AccessToInformation as i32],
        start: format!("{year}-01-01"),
        end: format!("{}-12-31", year + 1),
    })
    .await
    .unwrap();
    let take = |contributions: Vec<String>| pb::TakeProposalsRequest {
        request_id: request_id(),
        plan_id: plan.clone(),
        commitment_id: commitment.clone(),
        dialogue_id: forum.clone(),
        contribution_ids: contributions,
    };
    let size = node.log_size();
    let err = c
        .take_proposals(take(vec![proposals[0].clone(), proposals[1].clone()]))
        .await
        .unwrap_err();
    assert_eq!(
        err.get_details_precondition_failure().unwrap().violations[0].subject,
        "action_plan.proposal_not_accepted",
        "the rejected one cannot be taken"
    );
    assert_eq!(node.log_size(), size);
    let taken = c
        .take_proposals(take(vec![proposals[2].clone(), proposals[0].clone()]))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(taken.event_types, ["action_plan.proposals_taken"]);
    let view = c
        .get_plan(pb::GetPlanRequest { plan_id: plan })
        .await
        .unwrap()
        .into_inner();
    let mut sources: Vec<(String, String)> = view.commitment_details[0]
        .sources
        .iter()
        .map(|s| (s.dialogue_id.clone(), s.contribution_id.clone()))
        .collect();
    sources.sort();
    let mut expected = vec![
        (forum.clone(), proposals[0].clone()),
        (forum.clone(), proposals[2].clone()),
    ];
    expected.sort();
    assert_eq!(sources, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_draft_worked_out_with_the_forum_is_adopted_with_the_proposals_it_contains() {
    let node = TestNode::start(None, 100).await;
    let mut c = node.client().await;
    let year: i32 = domain::kyiv_date(Timestamp::now()).year();
    let forum_call = open_dialogue(
        &mut c,
        pb::DialogueKind::PublicConsultation,
        "Пропозиції до плану дій OGP Local",
        "Місцевий форум OGP Local",
    )
    .await;
    let proposal = propose(
        &mut c,
        &forum_call,
        "diia:resident-1",
        "Публікувати договори оренди комунального майна.",
        pb::ContributionResponse::Accepted,
    )
    .await;
    let plan = c
        .draft_plan(pb::DraftPlanRequest {
            request_id: request_id(),
            title: "План дій OGP Local (проєкт)".into(),
            period_start: format!("{year}-01-01"),
            period_end: format!("{}-12-31", year + 1),
        })
        .await
        .unwrap()
        .into_inner()
        .stream_id;
    let seat = |side: pb::ForumSide, organisation: &str, role: &str| pb::JoinForumRequest {
        request_id: request_id(),
        plan_id: plan.clone(),
        side: side as i32,
        organisation: organisation.into(),
        role: role.into(),
    };
    let council = seat(
        pb::ForumSide::Government,
        "Виконавчий комітет",
        "заступник голови",
    );
    let ngo = seat(pb::ForumSide::Public, "ГО «Прозоре місто»", "координаторка");
    for request in [council.clone(), ngo.clone()] {
        c.join_forum(request).await.unwrap();
    }
    let commitment = request_id();
    c.add_commitment(pb::AddCommitmentRequest {
        request_id: commitment.clone(),
        plan_id: plan.clone(),
        title: "Відкрита оренда".into(),
        description: "Договори оренди комунального майна — відкритими даними.".into(),
        lead_institution: "Управління комунального майна".into(),
        values: vec![pb::OgpValue::AccessToInformation as i32],
        start: format!("{year}-02-01"),
        end: format!("{year}-12-31"),
    })
    .await
    .unwrap();
    c.take_proposals(pb::TakeProposalsRequest {
        request_id: request_id(),
        plan_id: plan.clone(),
        commitment_id: commitment.clone(),
        dialogue_id: forum_call.clone(),
        contribution_ids: vec![proposal.clone()],
    })
    .await
    .unwrap();
    let adopt = |decision: &str| pb::AdoptDraftRequest {
        request_id: request_id(),
        plan_id: plan.clone(),
        council_decision: decision.into(),
    };
    // Before co-chairs: refused, nothing recorded; nothing is assessed in a draft either.
    let size = node.log_size();
    let err = c.adopt_draft(adopt("№ 9/101")).await.unwrap_err();
    assert_eq!(
        err.get_details_precondition_failure().unwrap().violations[0].subject,
        "action_plan.co_chairs_not_named"
    );
    let err = c
        .assess_commitment(pb::AssessCommitmentRequest {
            request_id: request_id(),
            plan_id: plan.clone(),
            commitment_id: commitment.clone(),
            completion: pb::ImplementationStatus::Complete as i32,
            opened_government: pb::OpenedGovernment::Major as i32,
        })
        .await
        .unwrap_err();
    assert_eq!(
        err.get_details_precondition_failure().unwrap().violations[0].subject,
        "action_plan.not_adopted"
    );
    assert_eq!(node.log_size(), size);
    // A side left unset is a field error.
    let err = c
        .join_forum(pb::JoinForumRequest {
            side: 0,
            ..seat(pb::ForumSide::Public, "ГО", "член")
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    for member in [&council.request_id, &ngo.request_id] {
        c.name_co_chair(pb::NameCoChairRequest {
            request_id: request_id(),
            plan_id: plan.clone(),
            member_id: member.clone(),
        })
        .await
        .unwrap();
    }
    let adopted = c.adopt_draft(adopt("№ 9/101")).await.unwrap().into_inner();
    assert_eq!(adopted.event_types, ["action_plan.draft_adopted"]);
    let view = c
        .get_plan(pb::GetPlanRequest {
            plan_id: plan.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(!view.draft);
    assert_eq!(view.council_decision, "№ 9/101");
    assert_eq!(view.title, "План дій OGP Local (проєкт)");
    assert_eq!(
        view.proposals
            .iter()
            .map(|p| (p.dialogue_id.clone(), p.contribution_id.clone()))
            .collect::<Vec<_>>(),
        [(forum_call, proposal)]
    );
    let seats: Vec<(String, i32, bool)> = view
        .forum
        .iter()
        .map(|m| (m.organisation.clone(), m.side, m.co_chair))
        .collect();
    assert_eq!(
        seats,
        [
            (
                "Виконавчий комітет".to_owned(),
                pb::ForumSide::Government as i32,
                true
            ),
            (
                "ГО «Прозоре місто»".to_owned(),
                pb::ForumSide::Public as i32,
                true
            ),
        ]
    );
    // Adopted once.
    let err = c.adopt_draft(adopt("№ 9/102")).await.unwrap_err();
    assert_eq!(
        err.get_details_precondition_failure().unwrap().violations[0].subject,
        "action_plan.already_adopted"
    );
}
