//! The association against real nodes, a real nats-server and a real PostgreSQL: national
//! figures equal what the test computes by hand; duplicates count once; a rebuild reproduces
//! the digest; tampered, forged, inconsistent, forked and misaddressed messages sent straight to
//! NATS are quarantined with the right reason and change nothing.

use std::collections::BTreeMap;
use std::time::Duration;

use event_store_core::checkpoint::{Checkpoint, NoteSigner, SignedCheckpoint, origin_for};
use event_store_core::merkle;
use proto::audit::v1 as auditpb;
use proto::federation::v1 as fedpb;
use proto::national::v1 as natpb;
use proto::node::v1 as nodepb;
use system_tests::{Civic, KORIUKIVKA, KYIV, TestAssociation, TestNode, VINNYTSIA, code};
use testkit::NatsServer;

const VERIFY_TIMEOUT: Duration = Duration::from_secs(30);

/// Populations from the reference data (2022 estimates; Kyiv's from the State Statistics
/// Service).
const POP_VINNYTSIA: u64 = 387_439;
const POP_KYIV: u64 = 2_952_301;

fn population_of(code_text: &str) -> u64 {
    let reference = reference::Reference::load();
    reference
        .municipality(&code(code_text))
        .map(|m| m.population)
        .unwrap_or(0)
}

fn kind(
    figures: &natpb::Figures,
    list: fn(&natpb::Figures) -> &Vec<natpb::KindCount>,
    name: &str,
) -> u64 {
    list(figures)
        .iter()
        .find(|k| k.kind == name)
        .map(|k| k.count)
        .unwrap_or_else(|| panic!("no {name}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_nodes_national_figures_equal_the_hand_computed_ones() {
    let nats = NatsServer::start().await.unwrap();
    let mut association = TestAssociation::start(&nats.url()).await;
    let vinnytsia = TestNode::start(VINNYTSIA, 3, &nats.url()).await;
    let koriukivka = TestNode::start(KORIUKIVKA, 2, &nats.url()).await;
    let kyiv = TestNode::start(KYIV, 10, &nats.url()).await;
    for node in [&vinnytsia, &koriukivka, &kyiv] {
        association.enroll(node).await;
    }

    // Vinnytsia: a petition that reaches its threshold of 3 and is answered the same day, one
    // still collecting, one rejected; a public hearing with two contributions (one answered),
    // closed with 40 present, with its outcome report.
    let mut v = Civic::of(&vinnytsia).await;
    let p1 = v.petition("Bike lanes on Soborna street").await;
    v.sign(&p1, 0..3).await;
    v.consider(&p1).await;
    v.answer(&p1, nodepb::AnswerDecision::Supported).await;
    let p2 = v.petition("A new public library branch").await;
    v.sign(&p2, 0..1).await;
    v.file_and_reject("Rename the river").await;
    let hearing = v
        .dialogue(nodepb::DialogueKind::PublicHearing, &vinnytsia.clock, 1)
        .await;
    let c1 = v.contribute(&hearing, "resident 1").await;
    v.contribute(&hearing, "resident 2").await;
    v.answer_contribution(&hearing, &c1).await;
    vinnytsia.clock.advance_days(2);
    v.close_dialogue(&hearing, 40).await;
    v.publish_outcome(&hearing).await;

    // Koriukivka: a petition reaching its threshold of 2, answered 30 days after consideration
    // started (late: the law gives 10 working days); an action plan with one commitment and three
    // milestones (one complete, one limited, one past due with no report), assessed complete
    // with a major opening.
    let mut k = Civic::of(&koriukivka).await;
    let q1 = k.petition("Repair the bridge").await;
    k.sign(&q1, 0..2).await;
    k.consider(&q1).await;
    koriukivka.clock.advance_days(30);
    k.answer(&q1, nodepb::AnswerDecision::NotSupported).await;
    let plan = k.plan("2026-01-01", "2027-12-31").await;
    let commitment = k.commitment(&plan, "2026-01-01", "2027-06-30").await;
    let m1 = k.milestone(&plan, &commitment, "2026-06-30").await;
    let m2 = k.milestone(&plan, &commitment, "2027-03-31").await;
    let m3 = k.milestone(&plan, &commitment, "2026-09-30").await;
    k.progress(&plan, &m1, nodepb::ImplementationStatus::Complete)
        .await;
    k.progress(&plan, &m2, nodepb::ImplementationStatus::Limited)
        .await;
    k.assess(
        &plan,
        &commitment,
        nodepb::ImplementationStatus::Complete,
        nodepb::OpenedGovernment::Major,
    )
    .await;
    // A second commitment, not assessed, whose one milestone is past due with no report.
    let open_commitment = k.commitment(&plan, "2026-01-01", "2027-06-30").await;
    let m4 = k.milestone(&plan, &open_commitment, "2026-03-31").await;

    // Kyiv: a petition with 4 of its 10 signatures; a youth council with one contribution.
    let mut c = Civic::of(&kyiv).await;
    let r1 = c.petition("Night buses to Troieshchyna").await;
    c.sign(&r1, 0..4).await;
    let youth = c
        .dialogue(nodepb::DialogueKind::YouthCouncil, &kyiv.clock, 7)
        .await;
    c.contribute(&youth, "student").await;

    association
        .wait_all(&[&vinnytsia, &koriukivka, &kyiv], VERIFY_TIMEOUT)
        .await;

    let s = association.summary().await;
    assert_eq!(s.municipalities_enrolled, 3);
    assert_eq!(s.municipalities_reporting, 3);
    assert_eq!(
        s.events_verified,
        vinnytsia.log_size() + koriukivka.log_size() + kyiv.log_size()
    );
    let f = s.figures.clone().unwrap();
    let population = POP_VINNYTSIA + population_of(KORIUKIVKA) + POP_KYIV;
    assert_eq!(f.population, population);
    assert_eq!(f.petitions_filed, 3 + 1 + 1);
    assert_eq!(f.petitions_published, 2 + 1 + 1);
    assert_eq!(f.petitions_rejected, 1);
    assert_eq!(f.petitions_threshold_reached, 2);
    assert_eq!(f.petitions_collection_failed, 0);
    assert_eq!(f.petitions_answered, 2);
    assert_eq!(f.petitions_answered_on_time, 1);
    assert_eq!(f.petitions_overdue_now, 0);
    assert_eq!(f.signatures, 3 + 1 + 2 + 4);
    // Answers after 0 and 30 days: the median of two is their mean.
    assert_eq!(f.median_days_to_answer, Some(15.0));
    assert_eq!(f.dialogues_announced, 2);
    assert_eq!(kind(&f, |f| &f.dialogues_by_kind, "public_hearing"), 1);
    assert_eq!(kind(&f, |f| &f.dialogues_by_kind, "youth_council"), 1);
    assert_eq!(kind(&f, |f| &f.dialogues_by_kind, "round_table"), 0);
    assert_eq!(f.dialogues_closed, 1);
    assert_eq!(f.contributions, 3);
    assert_eq!(f.contributions_answered, 1);
    assert_eq!(f.outcome_reports, 1);
    assert_eq!(f.action_plans, 1);
    assert_eq!(f.commitments, 2);
    assert_eq!(f.commitments_assessed, 1);
    assert_eq!(f.milestones, 4);
    assert_eq!(kind(&f, |f| &f.milestones_by_status, "complete"), 1);
    assert_eq!(kind(&f, |f| &f.milestones_by_status, "limited"), 1);
    assert_eq!(kind(&f, |f| &f.milestones_by_status, "no_report"), 2);
    // The node's rule: past due and not complete, and its commitment still open. The first
    // commitment's milestone due 2026-09-30 has no report but its commitment is assessed (the
    // assessment is the final word on it); the second commitment's is overdue.
    assert_eq!(f.milestones_overdue_now, 1);
    assert_eq!(kind(&f, |f| &f.opened_government, "major"), 1);
    assert_eq!(f.anomalies, 0);
    let per_10k = |n: f64| n * 10_000.0 / population as f64;
    assert!((f.petitions_per_10k - per_10k(5.0)).abs() < 1e-9);
    assert!((f.signatures_per_10k - per_10k(10.0)).abs() < 1e-9);
    assert_eq!(f.share_answered_on_time, 0.5);
    assert!((f.share_contributions_answered - 1.0 / 3.0).abs() < 1e-9);
    assert!((f.share_milestones_substantial_or_complete - 1.0 / 4.0).abs() < 1e-9);

    // One hromada's own figures and provenance.
    let mut national = association.national().await;
    let m = national
        .get_municipality(natpb::GetMunicipalityRequest {
            code: VINNYTSIA.into(),
        })
        .await
        .unwrap()
        .into_inner();
    let mf = m.figures.unwrap();
    assert_eq!(
        (mf.petitions_filed, mf.signatures, mf.contributions),
        (3, 4, 2)
    );
    assert_eq!(mf.median_days_to_answer, Some(0.0));
    let provenance = m.provenance.unwrap();
    assert_eq!(provenance.verified_size, vinnytsia.log_size());
    assert_eq!(provenance.checkpoint_size, provenance.verified_size);
    assert!(
        provenance
            .cosigned_note
            .contains(system_tests::witness_name())
    );

    // Oblasts: Vinnytska has one reporting hromada of its 63.
    let oblasts = national
        .list_oblasts(natpb::ListOblastsRequest {})
        .await
        .unwrap()
        .into_inner();
    let vinnytska = oblasts
        .oblasts
        .iter()
        .find(|o| o.name_en == "Vinnytska")
        .unwrap();
    assert_eq!(vinnytska.municipalities_reporting, 1);
    assert_eq!(vinnytska.figures.as_ref().unwrap().petitions_filed, 3);

    // The leaderboard by petitions per 10,000 residents, with the counts behind each rate.
    let board = national
        .get_leaderboard(natpb::GetLeaderboardRequest {
            metric: "petitions_per_10k".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let rates: BTreeMap<String, (u64, u64)> = board
        .entries
        .iter()
        .map(|e| (e.code.clone(), (e.numerator, e.denominator)))
        .collect();
    assert_eq!(rates[VINNYTSIA], (3, POP_VINNYTSIA));
    assert_eq!(rates[KYIV], (1, POP_KYIV));
    assert!(board.entries.windows(2).all(|w| w[0].value >= w[1].value));

    // Weekly series: the nation's filings over the last year add up to the total.
    let series = national
        .get_time_series(natpb::GetTimeSeriesRequest {
            area: String::new(),
            weeks: 52,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(series.weeks.len(), 52);
    assert_eq!(
        series.weeks.iter().map(|w| w.petitions_filed).sum::<u64>(),
        5
    );
    assert_eq!(series.weeks.iter().map(|w| w.signatures).sum::<u64>(), 10);

    // Koriukivka's milestones one by one, soonest due first, two to a page.
    let list = |page_size: i32, page_token: String| natpb::ListMilestonesRequest {
        code: KORIUKIVKA.into(),
        page_size,
        page_token,
    };
    let first = national
        .list_milestones(list(2, String::new()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((first.total_size, first.milestones.len()), (4, 2));
    assert!(!first.next_page_token.is_empty());
    let second = national
        .list_milestones(list(2, first.next_page_token.clone()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(second.milestones.len(), 2);
    assert!(second.next_page_token.is_empty());
    let all: Vec<&natpb::Milestone> = first.milestones.iter().chain(&second.milestones).collect();
    let seen: Vec<(&str, &str, &str, bool)> = all
        .iter()
        .map(|m| {
            (
                m.milestone_id.as_str(),
                m.due.as_str(),
                m.status.as_str(),
                m.overdue,
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            (m4.as_str(), "2026-03-31", "no_report", true),
            (m1.as_str(), "2026-06-30", "complete", false),
            // Past due with no report, but its commitment is assessed: not overdue.
            (m3.as_str(), "2026-09-30", "no_report", false),
            (m2.as_str(), "2027-03-31", "limited", false),
        ]
    );
    assert!(all.iter().all(|m| m.plan_id == plan));
    assert_eq!(all[0].commitment_id, open_commitment);
    assert!(all[1..].iter().all(|m| m.commitment_id == commitment));
    assert!(!all[1].completed_on.is_empty());
    assert!(all[2].completed_on.is_empty() && all[3].completed_on.is_empty());
    // A page token is bound to its hromada; unknown hromadas and bad sizes are refused.
    let err = national
        .list_milestones(natpb::ListMilestonesRequest {
            code: VINNYTSIA.into(),
            page_size: 2,
            page_token: first.next_page_token.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument, "{err:?}");
    let err = national
        .list_milestones(natpb::ListMilestonesRequest {
            code: "UA123".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument, "{err:?}");
    let err = national
        .list_milestones(list(-1, String::new()))
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument, "{err:?}");
    let err = national
        .list_milestones(natpb::ListMilestonesRequest {
            code: "UA05020990000012345".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::NotFound, "{err:?}");
    // A hromada with no plan has an empty list.
    let none = national
        .list_milestones(natpb::ListMilestonesRequest {
            code: VINNYTSIA.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!((none.total_size, none.milestones.len()), (0, 0));

    // Bad requests are refused with the field named.
    let err = national
        .get_municipality(natpb::GetMunicipalityRequest {
            code: "UA123".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    let err = national
        .list_municipalities(natpb::ListMunicipalitiesRequest {
            order_by: "petitions_filed sideways".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);

    // A citizen's receipt: an inclusion proof of Vinnytsia's event 5 against a checkpoint the
    // node signed and the association cosigned, checked offline.
    let mut audit = association.audit().await;
    let proof = audit
        .get_inclusion_proof(auditpb::GetInclusionProofRequest {
            code: VINNYTSIA.into(),
            seq: 5,
            tree_size: 0,
        })
        .await
        .unwrap()
        .into_inner();
    let signed = SignedCheckpoint::parse(&proof.cosigned_note).unwrap();
    signed
        .verify_for(&vinnytsia.signer().verifier(), &origin_for(&vinnytsia.code))
        .unwrap();
    signed
        .verify_cosignature(&association.witness().witness_verifier())
        .unwrap();
    let hashes: Vec<[u8; 32]> = proof
        .hashes
        .iter()
        .map(|h| h.clone().try_into().unwrap())
        .collect();
    merkle::verify_inclusion(
        &merkle::leaf_hash(&proof.envelope),
        4,
        proof.tree_size,
        &hashes,
        &signed.checkpoint.root,
    )
    .unwrap();
    // The first and the last accepted checkpoints are consistent.
    let checkpoints = audit
        .list_checkpoints(auditpb::ListCheckpointsRequest {
            code: VINNYTSIA.into(),
            from_size: 0,
            limit: 0,
        })
        .await
        .unwrap()
        .into_inner()
        .checkpoints;
    let (first, last) = (checkpoints.first().unwrap(), checkpoints.last().unwrap());
    let consistency = audit
        .get_consistency_proof(auditpb::GetConsistencyProofRequest {
            code: VINNYTSIA.into(),
            old_size: first.size,
            new_size: last.size,
        })
        .await
        .unwrap()
        .into_inner();
    let hashes: Vec<[u8; 32]> = consistency
        .hashes
        .iter()
        .map(|h| h.clone().try_into().unwrap())
        .collect();
    merkle::verify_consistency(
        first.size,
        last.size,
        &hashes,
        &first.root.clone().try_into().unwrap(),
        &last.root.clone().try_into().unwrap(),
    )
    .unwrap();

    // Browsers reach the same API over gRPC-Web (HTTP/1.1).
    let web = grpc_web_call(
        &association.url(),
        "/vidkryto.national.v1.NationalService/GetNationalSummary",
    )
    .await;
    assert!(web.starts_with("HTTP/1.1 200"), "{web}");
    assert!(web.contains("application/grpc-web"), "{web}");
    assert!(web.contains("grpc-status:0"), "{web}");

    // The same event delivered twice counts once. A watcher sees the next update live.
    let mut updates = association
        .national()
        .await
        .watch_updates(natpb::WatchUpdatesRequest {})
        .await
        .unwrap()
        .into_inner();
    let before = association.digest().await;
    let client = async_nats::connect(nats.url()).await.unwrap();
    let js = async_nats::jetstream::new(client);
    let mut entries = audit
        .read_log(auditpb::ReadLogRequest {
            code: VINNYTSIA.into(),
            from_seq: 2,
            limit: 1,
        })
        .await
        .unwrap()
        .into_inner();
    let entry = entries.message().await.unwrap().unwrap();
    js.publish(
        wire::event_subject(&code(VINNYTSIA)),
        entry.envelope.clone().into(),
    )
    .await
    .unwrap()
    .await
    .unwrap();
    let mut civic = Civic::of(&vinnytsia).await;
    civic.sign(&p2, 10..11).await;
    association
        .wait_verified(vinnytsia.code, vinnytsia.log_size(), VERIFY_TIMEOUT)
        .await;
    let after = association.summary().await.figures.unwrap();
    assert_eq!(
        after.signatures, 11,
        "the redelivered event is not counted again"
    );
    let update = tokio::time::timeout(VERIFY_TIMEOUT, async {
        loop {
            let update = updates.message().await.unwrap().unwrap();
            let signatures = update
                .summary
                .as_ref()
                .and_then(|s| s.figures.as_ref())
                .map(|f| f.signatures);
            if signatures == Some(11) {
                return update;
            }
        }
    })
    .await
    .expect("a live update with the new signature");
    assert!(
        update.municipalities.contains(&VINNYTSIA.to_owned()),
        "{update:?}"
    );
    association.assert_nothing_quarantined().await;
    assert_ne!(association.digest().await.digest, before.digest);

    // A rebuild from the verified logs reproduces the digest.
    let live = association.digest().await;
    let store = association.running.as_ref().unwrap().store.clone();
    let summary_rebuild = association::rebuild::rebuild(&store, None).await.unwrap();
    assert_eq!(
        summary_rebuild.events,
        live.positions.iter().map(|p| p.verified_size).sum::<u64>()
    );
    let rebuilt = association.digest().await;
    assert_eq!(rebuilt.digest, live.digest);
    assert_eq!(rebuilt.positions, live.positions);

    // An upgrade whose migration empties the projection (as 0005 does for version 2): the
    // association rebuilds it when it starts, before ingesting, to the same digest.
    association.stop().await;
    let admin = sqlx::PgPool::connect(&association.db_url()).await.unwrap();
    sqlx::query(
        "TRUNCATE proj_counters, proj_weekly, proj_answer_days, proj_petition, proj_dialogue, \
         proj_plan, proj_commitment, proj_milestone",
    )
    .execute(&admin)
    .await
    .unwrap();
    sqlx::query("UPDATE proj_version SET version = 0")
        .execute(&admin)
        .await
        .unwrap();
    admin.close().await;
    association.boot().await;
    let upgraded = association.digest().await;
    assert_eq!(upgraded.digest, live.digest);
    assert_eq!(upgraded.positions, live.positions);

    association.shutdown().await;
}

/// One unary gRPC-Web call with an empty request, over a plain HTTP/1.1 connection as a
/// browser makes it; returns the whole response as text (the frames are mostly ASCII).
async fn grpc_web_call(url: &str, path: &str) -> String {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let addr = url.trim_start_matches("http://");
    let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
    let body = [0u8, 0, 0, 0, 0];
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/grpc-web+proto\r\n\
         X-Grpc-Web: 1\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    conn.write_all(head.as_bytes()).await.unwrap();
    conn.write_all(&body).await.unwrap();
    let mut response = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), conn.read_to_end(&mut response))
        .await
        .unwrap()
        .unwrap();
    String::from_utf8_lossy(&response).into_owned()
}

/// Publishes raw bytes on a subject, as an attacker with NATS access would.
async fn publish_raw(js: &async_nats::jetstream::Context, subject: String, payload: Vec<u8>) {
    js.publish(subject, payload.into())
        .await
        .unwrap()
        .await
        .unwrap();
}

fn note(signer: &NoteSigner, code_text: &str, size: u64, root: [u8; 32]) -> Vec<u8> {
    signer
        .sign(Checkpoint {
            origin: origin_for(&code(code_text)),
            size,
            root,
        })
        .to_note()
        .into_bytes()
}

/// The law's clock against a hromada that games "answered on time": it answers one petition
/// at once and never starts consideration of another, leaves a filing unmoderated, and its
/// statute gives 30 working days to answer. Before the clock, its share was 100 %.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hromada_that_never_starts_consideration_is_late_and_its_long_statute_is_flagged() {
    let nats = NatsServer::start().await.unwrap();
    let association = TestAssociation::start(&nats.url()).await;
    let extras = system_tests::NodeExtras {
        answer_term_days: Some(30),
        // Three weeks ago.
        days_ago: 21,
        ..Default::default()
    };
    let node = TestNode::start_with(KORIUKIVKA, 2, &nats.url(), extras).await;
    association.enroll(&node).await;
    let mut k = Civic::of(&node).await;
    let answered = k.petition("Ремонт мосту через Стрижень").await;
    k.sign(&answered, 0..2).await;
    k.consider(&answered).await;
    k.answer(&answered, nodepb::AnswerDecision::Supported).await;
    let waiting = k.petition("Освітлення вулиці Шевченка").await;
    k.sign(&waiting, 0..2).await;
    k.file("Нова зупинка автобуса", "transport").await;

    let national = association.national().await;
    // Koriukivka's figures once the association has verified the node's whole log.
    let figures = || {
        let mut national = national.clone();
        let (node, association) = (&node, &association);
        async move {
            association.wait_all(&[node], VERIFY_TIMEOUT).await;
            let request = natpb::GetMunicipalityRequest {
                code: KORIUKIVKA.into(),
            };
            let m = national.get_municipality(request).await.unwrap();
            m.into_inner().figures.expect("figures")
        }
    };
    let f = figures().await;
    assert_eq!((f.petitions_answered, f.petitions_answered_on_time), (1, 1));
    // The threshold came three weeks ago and consideration never started: three working days
    // later it was late, and it still is.
    assert_eq!(f.petitions_overdue_now, 1);
    assert_eq!(f.share_answered_on_time, 0.5);
    // The filing has waited past its two working days of moderation.
    assert_eq!(f.petitions_moderation_overdue_now, 1);
    // Both published petitions were under a 30-working-day answer term.
    assert_eq!(f.statute_answer_beyond_law, 2);
    assert_eq!(f.statute_collection_beyond_law, 0);
    assert_eq!(f.petitions_started_late, 0);

    // Starting consideration now is late; the petition stays overdue until it is answered,
    // and then it counts as answered late.
    node.clock.advance_days(21);
    k.consider(&waiting).await;
    let f = figures().await;
    assert_eq!(f.petitions_started_late, 1);
    assert_eq!(f.petitions_overdue_now, 1);
    assert_eq!(f.share_answered_on_time, 0.5);
    k.answer(&waiting, nodepb::AnswerDecision::Supported).await;
    let f = figures().await;
    assert_eq!((f.petitions_answered, f.petitions_answered_on_time), (2, 1));
    assert_eq!(f.petitions_overdue_now, 0);
    assert_eq!(f.share_answered_on_time, 0.5);
    association.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bad_messages_are_quarantined_with_their_reason_and_change_nothing() {
    let nats = NatsServer::start().await.unwrap();
    let association = TestAssociation::start(&nats.url()).await;
    let vinnytsia = TestNode::start(VINNYTSIA, 100, &nats.url()).await;
    let kyiv = TestNode::start(KYIV, 100, &nats.url()).await;
    association.enroll(&vinnytsia).await;
    association.enroll(&kyiv).await;
    let mut v = Civic::of(&vinnytsia).await;
    let p = v.petition("Trees in the central park").await;
    v.sign(&p, 0..5).await;
    let mut c = Civic::of(&kyiv).await;
    let q = c.petition("More public toilets").await;
    c.sign(&q, 0..3).await;
    association
        .wait_all(&[&vinnytsia, &kyiv], VERIFY_TIMEOUT)
        .await;

    let before_digest = association.digest().await;
    let before = association.summary().await;
    let mut audit = association.audit().await;
    let checkpoints = audit
        .list_checkpoints(auditpb::ListCheckpointsRequest {
            code: VINNYTSIA.into(),
            from_size: 0,
            limit: 0,
        })
        .await
        .unwrap()
        .into_inner()
        .checkpoints;
    let accepted = checkpoints.last().unwrap().clone();
    let accepted_sizes: Vec<u64> = checkpoints.iter().map(|c| c.size).collect();
    let unaccepted = (1..accepted.size)
        .find(|s| !accepted_sizes.contains(s))
        .unwrap();
    let read = |code_text: &str, seq: u64| {
        let mut audit = audit.clone();
        let code_text = code_text.to_owned();
        async move {
            let mut stream = audit
                .read_log(auditpb::ReadLogRequest {
                    code: code_text,
                    from_seq: seq,
                    limit: 1,
                })
                .await
                .unwrap()
                .into_inner();
            stream.message().await.unwrap().unwrap().envelope
        }
    };

    let js = async_nats::jetstream::new(async_nats::connect(nats.url()).await.unwrap());
    let ev_v = wire::event_subject(&code(VINNYTSIA));
    let ckpt_v = wire::checkpoint_subject(&code(VINNYTSIA));
    // 1. Tampered bytes of verified event 2 (last byte of its payload flipped).
    let mut tampered = read(VINNYTSIA, 2).await;
    let last = tampered.len() - 1;
    tampered[last] ^= 0x01;
    publish_raw(&js, ev_v.clone(), tampered).await;
    // 2. A checkpoint with the right root but signed by another key under the node's name.
    let forger = NoteSigner::from_seed(&origin_for(&code(VINNYTSIA)), [7; 32]).unwrap();
    let root: [u8; 32] = accepted.root.clone().try_into().unwrap();
    publish_raw(
        &js,
        ckpt_v.clone(),
        note(&forger, VINNYTSIA, accepted.size, root),
    )
    .await;
    // 3. A checkpoint signed by the node's own key for a size it never checkpointed, with a
    //    root that is not the log's.
    let signer = vinnytsia.signer();
    publish_raw(
        &js,
        ckpt_v.clone(),
        note(&signer, VINNYTSIA, unaccepted, [3; 32]),
    )
    .await;
    // 4. A second root for the accepted size: a fork.
    publish_raw(
        &js,
        ckpt_v.clone(),
        note(&signer, VINNYTSIA, accepted.size, [4; 32]),
    )
    .await;
    // 5. Kyiv's event published on Vinnytsia's subject.
    publish_raw(&js, ev_v.clone(), read(KYIV, 1).await).await;
    // 6. Bytes that are no envelope at all.
    publish_raw(&js, ev_v.clone(), b"not an event".to_vec()).await;

    let mut federation = association.federation().await;
    let deadline = tokio::time::Instant::now() + VERIFY_TIMEOUT;
    let records = loop {
        let records = federation
            .list_quarantine(fedpb::ListQuarantineRequest {
                code: VINNYTSIA.into(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .records;
        if records.len() >= 6 || tokio::time::Instant::now() > deadline {
            break records;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let mut reasons: Vec<(String, u64)> =
        records.iter().map(|r| (r.reason.clone(), r.seq)).collect();
    reasons.sort();
    let mut expected = vec![
        ("tampered".to_owned(), 2),
        ("bad_signature".to_owned(), accepted.size),
        ("inconsistent_checkpoint".to_owned(), unaccepted),
        ("fork".to_owned(), accepted.size),
        ("wrong_subject".to_owned(), 1),
        ("undecodable".to_owned(), 0),
    ];
    expected.sort();
    assert_eq!(reasons, expected, "{records:#?}");

    // Nothing changed: same digest, same figures; the fork is on record and shows.
    assert_eq!(association.digest().await.digest, before_digest.digest);
    assert_eq!(association.summary().await.figures, before.figures);
    let forks = federation
        .list_forks(fedpb::ListForksRequest {
            code: VINNYTSIA.into(),
        })
        .await
        .unwrap()
        .into_inner()
        .forks;
    assert_eq!(forks.len(), 1);
    assert_eq!(forks[0].size, accepted.size);
    // The federation view follows the database within a moment (its snapshot reloads after
    // each commit).
    let node = loop {
        let node = federation
            .get_node(fedpb::GetNodeRequest {
                code: VINNYTSIA.into(),
            })
            .await
            .unwrap()
            .into_inner();
        if node.quarantined == 6 || tokio::time::Instant::now() > deadline {
            break node;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(node.status, fedpb::NodeStatus::Forked as i32);
    assert_eq!(node.quarantined, 6);
    let honest = federation
        .get_node(fedpb::GetNodeRequest { code: KYIV.into() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(honest.status, fedpb::NodeStatus::Healthy as i32);
    assert_eq!(honest.quarantined, 0);

    // The honest nodes carry on: new events are verified and projected.
    v.sign(&p, 5..7).await;
    c.sign(&q, 3..4).await;
    association
        .wait_all(&[&vinnytsia, &kyiv], VERIFY_TIMEOUT)
        .await;
    let after = association.summary().await.figures.unwrap();
    assert_eq!(after.signatures, before.figures.unwrap().signatures + 3);

    // Enrolment is an admin method: no token, a wrong token, or a key named for another
    // hromada are refused.
    let enroll = |token: Option<&str>, vkey: String| {
        let mut request = tonic::Request::new(fedpb::EnrollRequest {
            code: KYIV.into(),
            vkey,
        });
        if let Some(token) = token {
            request
                .metadata_mut()
                .insert("authorization", format!("Bearer {token}").parse().unwrap());
        }
        request
    };
    let err = federation
        .enroll(enroll(None, kyiv.vkey()))
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::Unauthenticated);
    let err = federation
        .enroll(enroll(Some("not the token"), kyiv.vkey()))
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::Unauthenticated);
    let err = federation
        .enroll(enroll(Some(&association.admin_token), vinnytsia.vkey()))
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);

    // A revoked node's new events are quarantined and change nothing.
    let mut revoke = tonic::Request::new(fedpb::RevokeRequest {
        code: KYIV.into(),
        vkey: String::new(),
    });
    revoke.metadata_mut().insert(
        "authorization",
        format!("Bearer {}", association.admin_token)
            .parse()
            .unwrap(),
    );
    federation.revoke(revoke).await.unwrap();
    let kyiv_verified = kyiv.log_size();
    c.sign(&q, 4..5).await;
    let deadline = tokio::time::Instant::now() + VERIFY_TIMEOUT;
    let revoked = loop {
        let records = federation
            .list_quarantine(fedpb::ListQuarantineRequest {
                code: KYIV.into(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .records;
        if !records.is_empty() || tokio::time::Instant::now() > deadline {
            break records;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(
        !revoked.is_empty() && revoked.iter().all(|r| r.reason == "revoked"),
        "{revoked:?}"
    );
    let kyiv_node = federation
        .get_node(fedpb::GetNodeRequest { code: KYIV.into() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(kyiv_node.verified_size, kyiv_verified);
    assert!(kyiv_node.keys.iter().all(|k| k.revoked_at_micros > 0));

    association.shutdown().await;
}
