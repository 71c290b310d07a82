//! The practice catalogue against real nodes, nats-server and PostgreSQL: hand-built content in
//! Ukrainian found by inflected forms, filtered and paged; only public content (a petition
//! moderation rejected never shows); what a receipt needs carried and usable; the
//! association's recommendations behind its admin token; bad requests refused with the field.

use std::collections::BTreeSet;
use std::time::Duration;

use proto::audit::v1 as auditpb;
use proto::federation::v1 as fedpb;
use proto::national::v1 as natpb;
use proto::node::v1 as nodepb;
use system_tests::{Civic, KORIUKIVKA, TestAssociation, VINNYTSIA, request_id};
use testkit::NatsServer;

const VERIFY_TIMEOUT: Duration = Duration::from_secs(30);

/// Chernihiv oblast, Koriukivka's.
const CHERNIHIV_OBLAST: &str = "UA74000000000025378";

async fn search(
    association: &TestAssociation,
    request: natpb::SearchPracticesRequest,
) -> natpb::SearchPracticesResponse {
    association
        .national()
        .await
        .search_practices(request)
        .await
        .expect("search")
        .into_inner()
}

fn query(text: &str) -> natpb::SearchPracticesRequest {
    natpb::SearchPracticesRequest {
        query: text.into(),
        ..Default::default()
    }
}

fn recommended_only() -> natpb::SearchPracticesRequest {
    natpb::SearchPracticesRequest {
        recommended_only: true,
        ..query("")
    }
}

fn titles(response: &natpb::SearchPracticesResponse) -> BTreeSet<String> {
    response.practices.iter().map(|p| p.title.clone()).collect()
}

fn set(titles: &[&str]) -> BTreeSet<String> {
    titles.iter().map(|t| (*t).to_owned()).collect()
}

const REPAIR: &str = "Ремонт даху школи №3";
const GYM: &str = "Спортивна зала для нашої школи";
const PARK: &str = "Освітлення міського парку";
const REJECTED: &str = "Закрити школу на Замостянській";
const HEARING: &str = "Громадські слухання щодо будівництва нової школи";
const OPEN_DATA: &str = "Відкриті дані про харчування у школах";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_catalogue_finds_inflected_ukrainian_filters_pages_and_recommends() {
    let nats = NatsServer::start().await.unwrap();
    let (association, [vinnytsia, koriukivka]) =
        TestAssociation::with_nodes(&nats.url(), [(VINNYTSIA, 2), (KORIUKIVKA, 2)]).await;

    // Vinnytsia: a school repair reaching its threshold and answered; a gym for the school and
    // lighting of a park, collecting; a petition to close a school, rejected by moderation.
    let mut v = Civic::of(&vinnytsia).await;
    let repair = v
        .file_text(REPAIR, "Дах протікає над спортзалом.", "освіта")
        .await;
    v.publish(&repair).await;
    v.sign(&repair, 0..2).await;
    v.consider(&repair).await;
    v.client
        .answer_petition(nodepb::AnswerPetitionRequest {
            request_id: request_id(),
            petition_id: repair.clone(),
            decision: nodepb::AnswerDecision::Supported as i32,
            response: "Рада виділила кошти на ремонт покрівлі навчального закладу.".into(),
            responder_role: "міський голова".into(),
        })
        .await
        .expect("answer");
    let gym = v
        .file_text(GYM, "Діти займаються в коридорі.", "спорт")
        .await;
    v.publish(&gym).await;
    let park = v
        .file_text(PARK, "Увечері в парку темно.", "благоустрій")
        .await;
    v.publish(&park).await;
    let rejected = v.file_text(REJECTED, "Замало учнів.", "освіта").await;
    v.client
        .reject_petition(nodepb::RejectPetitionRequest {
            request_id: request_id(),
            petition_id: rejected.clone(),
            reason: "Поза повноваженнями ради".into(),
        })
        .await
        .expect("reject");

    // Koriukivka: a hearing about building a new school; a plan with a commitment to open data
    // on school meals (access to information), led by the education department.
    let mut k = Civic::of(&koriukivka).await;
    let now = koriukivka.clock.now();
    let ts = |micros: i64| prost_types::Timestamp {
        seconds: micros.div_euclid(1_000_000),
        nanos: 0,
    };
    let hearing = k
        .client
        .announce_dialogue(nodepb::AnnounceDialogueRequest {
            request_id: request_id(),
            kind: nodepb::DialogueKind::PublicHearing as i32,
            topic: HEARING.into(),
            organiser: "Виконавчий комітет".into(),
            opens_at: Some(ts(now.0 - 3_600_000_000)),
            closes_at: Some(ts(now.0 + 7 * 86_400_000_000)),
        })
        .await
        .expect("announce")
        .into_inner()
        .stream_id;
    let plan = k.plan("2026-01-01", "2027-12-31").await;
    let commitment = request_id();
    k.client
        .add_commitment(nodepb::AddCommitmentRequest {
            request_id: commitment.clone(),
            plan_id: plan.clone(),
            title: OPEN_DATA.into(),
            description: "Меню та постачальників публікуємо щотижня.".into(),
            lead_institution: "Відділ освіти".into(),
            values: vec![nodepb::OgpValue::AccessToInformation as i32],
            start: "2026-01-01".into(),
            end: "2027-06-30".into(),
        })
        .await
        .expect("commitment");
    association
        .wait_all(&[&vinnytsia, &koriukivka], VERIFY_TIMEOUT)
        .await;

    // «школа» in the nominative finds «школи», «школах», «школи» (genitive) — and never the
    // rejected petition, whose title was never made public.
    let schools = set(&[REPAIR, GYM, HEARING, OPEN_DATA]);
    let found = search(&association, query("школа")).await;
    assert_eq!(titles(&found), schools);
    assert_eq!(found.total_size, 4);
    assert!(!found.total_size_capped);
    // Other forms of the query find the same.
    for form in ["школою", "ШКОЛАМИ", "школі", "у школах"] {
        assert_eq!(
            titles(&search(&association, query(form)).await),
            schools,
            "{form}"
        );
    }
    // Every word is required; the answer's text is searched too.
    assert_eq!(
        titles(&search(&association, query("ремонт школи")).await),
        set(&[REPAIR])
    );
    assert_eq!(
        titles(&search(&association, query("покрівля закладу")).await),
        set(&[REPAIR])
    );
    assert_eq!(
        titles(&search(&association, query("парками")).await),
        set(&[PARK])
    );
    assert!(
        search(&association, query("замостянській"))
            .await
            .practices
            .is_empty()
    );
    // Without a query: every public entry, newest first.
    let all = search(&association, query("")).await;
    assert_eq!(all.total_size, 5);

    // Filters.
    let filtered = |f: fn(&mut natpb::SearchPracticesRequest)| {
        let mut request = query("школа");
        f(&mut request);
        request
    };
    let by = |request| search(&association, request);
    assert_eq!(
        titles(&by(filtered(|r| r.tool = "commitment".into())).await),
        set(&[OPEN_DATA])
    );
    assert_eq!(
        titles(&by(filtered(|r| r.tool = "dialogue".into())).await),
        set(&[HEARING])
    );
    assert_eq!(
        titles(&by(filtered(|r| r.ogp_value = "access_to_information".into())).await),
        set(&[OPEN_DATA])
    );
    assert_eq!(
        titles(&by(filtered(|r| r.code = VINNYTSIA.into())).await),
        set(&[REPAIR, GYM])
    );
    assert_eq!(
        titles(&by(filtered(|r| r.oblast_code = CHERNIHIV_OBLAST.into())).await),
        set(&[HEARING, OPEN_DATA])
    );
    assert_eq!(
        titles(&by(filtered(|r| r.status = "answered".into())).await),
        set(&[REPAIR])
    );
    assert!(
        by(filtered(|r| r.to = "2020-01-01".into()))
            .await
            .practices
            .is_empty()
    );
    let today = domain::kyiv_date(event_store_core::Timestamp::now()).to_string();
    let mut in_period = query("школа");
    in_period.from = today.clone();
    in_period.to = today.clone();
    assert_eq!(titles(&by(in_period).await), schools);

    // An answered petition carries its decision, answer and where its receipt comes from:
    // the event's sequence number and the cosigned checkpoint that covers it.
    let answered = &search(&association, query("ремонт")).await.practices[0];
    assert_eq!(answered.code, VINNYTSIA);
    assert_eq!(answered.tool, "petition");
    assert_eq!(answered.id, repair);
    assert_eq!(answered.decision, "supported");
    assert_eq!(answered.category, "освіта");
    assert!(answered.outcome.contains("покрівлі"));
    assert!(answered.seq > 0 && answered.checkpoint_size >= answered.seq);
    let proof = association
        .audit()
        .await
        .get_inclusion_proof(auditpb::GetInclusionProofRequest {
            code: answered.code.clone(),
            seq: answered.seq,
            tree_size: answered.checkpoint_size,
        })
        .await
        .expect("the entry's event has an inclusion proof")
        .into_inner();
    assert_eq!(proof.tree_size, answered.checkpoint_size);
    let open_data = &by(filtered(|r| r.tool = "commitment".into()))
        .await
        .practices[0];
    assert_eq!(open_data.lead_institution, "Відділ освіти");
    assert_eq!(open_data.ogp_values, ["access_to_information"]);
    assert_eq!(open_data.status, "in_progress");
    assert_eq!(open_data.id, commitment);

    // Pages of one: four distinct results, then none; a token is bound to its query.
    let mut seen = BTreeSet::new();
    let mut token = String::new();
    for page in 0..4 {
        let mut request = query("школа");
        request.page_size = 1;
        request.page_token = token.clone();
        let response = search(&association, request).await;
        assert_eq!(response.practices.len(), 1, "page {page}");
        seen.insert(response.practices[0].title.clone());
        token = response.next_page_token;
        assert_eq!(token.is_empty(), page == 3, "page {page}");
    }
    assert_eq!(seen, schools);
    let mut request = query("школа");
    request.page_size = 1;
    let first = search(&association, request).await;
    let mut other = query("парк");
    other.page_size = 1;
    other.page_token = first.next_page_token;
    let err = association
        .national()
        .await
        .search_practices(other)
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument, "{err:?}");

    // Bad requests name their field and change nothing.
    for (field, request) in [
        ("query", query(&"школа ".repeat(100))),
        (
            "tool",
            natpb::SearchPracticesRequest {
                tool: "petitions".into(),
                ..query("")
            },
        ),
        (
            "status",
            natpb::SearchPracticesRequest {
                status: "done".into(),
                ..query("")
            },
        ),
        (
            "ogp_value",
            natpb::SearchPracticesRequest {
                ogp_value: "openness".into(),
                ..query("")
            },
        ),
        (
            "from",
            natpb::SearchPracticesRequest {
                from: "2026-13-01".into(),
                ..query("")
            },
        ),
        (
            "code",
            natpb::SearchPracticesRequest {
                code: "UA123".into(),
                ..query("")
            },
        ),
        (
            "oblast_code",
            natpb::SearchPracticesRequest {
                oblast_code: "Kyivska".into(),
                ..query("")
            },
        ),
        (
            "page_size",
            natpb::SearchPracticesRequest {
                page_size: 101,
                ..query("")
            },
        ),
    ] {
        let err = association
            .national()
            .await
            .search_practices(request)
            .await
            .unwrap_err();
        assert_eq!(err.code(), tonic::Code::InvalidArgument, "{field}: {err:?}");
        assert!(
            err.message().starts_with(field),
            "{field}: {}",
            err.message()
        );
    }

    // The association recommends the repair, with its reason; only with its admin token, only
    // a public entry, only with a reason.
    let recommend = |token: Option<&str>, id: &str, reason: &str| {
        let mut request = tonic::Request::new(fedpb::RecommendPracticeRequest {
            code: VINNYTSIA.into(),
            tool: "petition".into(),
            id: id.into(),
            reason: reason.into(),
        });
        if let Some(token) = token {
            request.metadata_mut().insert(
                "authorization",
                format!("Bearer {token}").parse().expect("metadata"),
            );
        }
        let association = &association;
        async move {
            association
                .federation()
                .await
                .recommend_practice(request)
                .await
        }
    };
    let token = association.admin_token.clone();
    let reason = "Швидка відповідь і виділені кошти: зразок для інших громад.";
    let err = recommend(None, &repair, reason).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::Unauthenticated, "{err:?}");
    let err = recommend(Some("wrong"), &repair, reason).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::Unauthenticated, "{err:?}");
    let err = recommend(Some(&token), &rejected, reason)
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::NotFound, "{err:?}");
    let err = recommend(Some(&token), &repair, "  ").await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument, "{err:?}");
    assert!(
        search(
            &association,
            natpb::SearchPracticesRequest {
                recommended_only: true,
                ..query("")
            }
        )
        .await
        .practices
        .is_empty()
    );
    let done = recommend(Some(&token), &repair, reason)
        .await
        .unwrap()
        .into_inner();
    assert!(done.changed);
    let again = recommend(Some(&token), &repair, reason)
        .await
        .unwrap()
        .into_inner();
    assert!(!again.changed);
    let recommended = search(&association, recommended_only()).await;
    assert_eq!(titles(&recommended), set(&[REPAIR]));
    let shown = recommended.practices[0]
        .recommendation
        .clone()
        .expect("its recommendation");
    assert_eq!(shown.reason, reason);
    assert_eq!(shown.recommended_on, today);

    // A rebuild replays the catalogue and keeps the association's recommendation.
    let store = association.running.as_ref().unwrap().store.clone();
    association::rebuild::rebuild(&store, None).await.unwrap();
    assert_eq!(titles(&search(&association, query("школа")).await), schools);
    let recommended = search(&association, recommended_only()).await;
    assert_eq!(titles(&recommended), set(&[REPAIR]));

    let mut withdraw = tonic::Request::new(fedpb::WithdrawRecommendationRequest {
        code: VINNYTSIA.into(),
        tool: "petition".into(),
        id: repair.clone(),
    });
    withdraw.metadata_mut().insert(
        "authorization",
        format!("Bearer {token}").parse().expect("metadata"),
    );
    let withdrawn = association
        .federation()
        .await
        .withdraw_recommendation(withdraw)
        .await
        .unwrap()
        .into_inner();
    assert!(withdrawn.changed);

    // Both decisions are entries of the association's own log, once each (the repeated
    // recommendation changed nothing and wrote nothing).
    let log = association
        .audit()
        .await
        .read_association_log(proto::audit::v1::ReadAssociationLogRequest::default())
        .await
        .unwrap()
        .into_inner();
    use projection::association_log::{Decision, Entry};
    let decisions: Vec<Decision> = log
        .entries
        .iter()
        .map(|e| Entry::decode(e.seq, &e.entry).unwrap().decision)
        .filter(|d| !matches!(d, Decision::Stated { .. } | Decision::Enrolled { .. }))
        .collect();
    let id: [u8; 16] = *uuid::Uuid::parse_str(&repair).unwrap().as_bytes();
    assert_eq!(
        decisions,
        [
            Decision::Recommended {
                municipality: VINNYTSIA.into(),
                tool: 1,
                id,
                reason: reason.into(),
            },
            Decision::RecommendationWithdrawn {
                municipality: VINNYTSIA.into(),
                tool: 1,
                id,
            },
        ]
    );
    let _ = (hearing, gym, park);
    association.shutdown().await;
}
