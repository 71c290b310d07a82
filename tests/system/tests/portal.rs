//! The hromada's portal as residents and council staff use it, in Debian's headless Chromium
//! driven by playwright-core (`tests/system/browser/portal.mjs`), against a whole federation:
//! a real nats-server, a real node serving the built portal (`services/portal/dist`) and its
//! gRPC-Web API on one origin, a real OpenID provider (`deploy/oidc`), and the association
//! ingesting the node's log, cosigning its checkpoints, serving its public audit API to the
//! portal's origin and the national dashboard on its own.
//!
//! A resident signs in at the provider and files a petition; a moderator publishes it from
//! the staff console; three residents sign it; the first one's receipt is checked in the page
//! against the keys the association publishes, then again pasted, and fails, with its reason,
//! with one byte flipped or signed by another key. An official starts consideration and
//! answers; the petition page shows the answer and "on time", and the national dashboard's
//! figures for the hromada follow within 2 s. Everything by keyboard, axe-core on every view
//! (no WCAG 2 A/AA violation), no Content-Security-Policy violation, screenshots at phone and
//! desktop width in `target/portal-screenshots/`.

use std::path::Path;
use std::time::Duration;

use oidc_process::{DevProvider, ProviderConfig, RegisteredClient};
use proto::national::v1 as natpb;
use proto::node::v1 as pb;
use system_tests::{Civic, KORIUKIVKA, NodeExtras, TestAssociation, TestNode, chromium, repo};
use testkit::NatsServer;

const NODE_CLIENT: &str = "koriukivka-portal";
const TITLE: &str = "Освітлення центрального парку";
/// Signatures the petition needs: the three residents of the test reach it.
const THRESHOLD: u32 = 3;
const BROWSER_TIMEOUT: Duration = Duration::from_secs(420);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn residents_and_staff_use_the_portal_and_receipts_verify_in_chromium() {
    let portal = repo().join("services/portal/dist");
    let dashboard = repo().join("services/dashboard/dist");
    let Some(chromium) = chromium()
        .filter(|_| portal.join("index.html").is_file() && dashboard.join("index.html").is_file())
    else {
        assert!(
            std::env::var_os("VIDKRYTO_REQUIRE_BROWSER").is_none(),
            "VIDKRYTO_REQUIRE_BROWSER is set but Chromium or a built site is absent: run deploy/local/setup.sh"
        );
        eprintln!(
            "SKIPPED: Chromium, services/portal/dist or services/dashboard/dist is absent (deploy/local/setup.sh)"
        );
        return;
    };
    let nats = NatsServer::start().await.unwrap();
    let association = TestAssociation::start_serving_dashboard(&nats.url(), &dashboard).await;

    // The node's port, held until it starts: its callback is registered at the provider
    // first, and the provider (which takes any free port) must not take it.
    let reserved = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = reserved.local_addr().unwrap().port();
    let origin = format!("http://127.0.0.1:{port}");
    let mut client = RegisteredClient::public(NODE_CLIENT);
    client.redirect_uris.push(format!("{origin}/auth/callback"));
    let provider = DevProvider::start(&ProviderConfig {
        clients: vec![client],
        staff: [
            ("moderator".to_owned(), vec!["moderator".to_owned()]),
            ("official".to_owned(), vec!["official".to_owned()]),
            ("coordinator".to_owned(), vec!["coordinator".to_owned()]),
        ]
        .into(),
        // As ID.gov.ua attests from the registers: adults registered in the hromada.
        default_person: Some(oidc_process::Attested::new(
            "1985-03-03",
            &format!("{}0010012345", &KORIUKIVKA[..9]),
        )),
        ..ProviderConfig::default()
    })
    .await
    .expect("the OpenID provider starts");
    let extras = NodeExtras {
        listen: Some(format!("127.0.0.1:{port}")),
        top_level: format!(
            "portal_dir = {:?}\nassociation_url = {:?}\n",
            portal.display().to_string(),
            association.url()
        ),
        tables: format!(
            "[oidc]\nissuer = \"{}\"\nclient_id = \"{NODE_CLIENT}\"\nredirect_url = \"{origin}/auth/callback\"\nattests_birthdate_and_residence = true\n",
            provider.issuer()
        ),
        real_clock: true,
        ..NodeExtras::default()
    };
    drop(reserved);
    let node = TestNode::start_with(KORIUKIVKA, THRESHOLD, &nats.url(), extras).await;
    association.enroll(&node).await;
    let code_text = node.code.to_string();
    // Something else in the log first, so the dashboard shows the hromada before the test.
    let mut staff = node.client().await;
    let in_moderation = staff
        .file_petition(pb::FilePetitionRequest {
            request_id: uuid::Uuid::now_v7().to_string(),
            author_subject: "platform-resident-1".into(),
            title: "Заборонити все".into(),
            text: "Текст, який бачать лише модератори.".into(),
            category: "other".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .stream_id;
    // An open dialogue, and an action plan with a milestone overdue and one to come.
    let mut civic = Civic::of(&node).await;
    let dialogue = civic
        .dialogue(pb::DialogueKind::PublicConsultation, &node.clock, 14)
        .await;
    // One whose contributions ended as the test began: the official closes it.
    let ended = civic
        .dialogue(pb::DialogueKind::PublicHearing, &node.clock, 0)
        .await;
    let year: i32 = domain::kyiv_date(event_store_core::Timestamp::now()).to_string()[..4]
        .parse()
        .unwrap();
    let plan = civic
        .plan(
            &format!("{}-01-01", year - 1),
            &format!("{}-12-31", year + 1),
        )
        .await;
    let commitment = civic
        .commitment(
            &plan,
            &format!("{}-01-01", year - 1),
            &format!("{}-12-31", year + 1),
        )
        .await;
    civic
        .milestone(&plan, &commitment, &format!("{}-06-30", year - 1))
        .await;
    civic
        .milestone(&plan, &commitment, &format!("{}-06-30", year + 1))
        .await;
    // The next plan, a draft with one commitment, for the forum to work out in the browser.
    let draft = civic
        .client
        .draft_plan(pb::DraftPlanRequest {
            request_id: system_tests::request_id(),
            title: "План дій OGP Local (проєкт)".into(),
            period_start: format!("{year}-01-01"),
            period_end: format!("{}-12-31", year + 1),
        })
        .await
        .unwrap()
        .into_inner()
        .stream_id;
    civic
        .commitment(
            &draft,
            &format!("{year}-01-01"),
            &format!("{}-12-31", year + 1),
        )
        .await;
    // Two participatory budget rounds: one taking proposals, one whose voting is open (its
    // periods only seconds apart, the node keeping real time).
    let propose_round = budget_round(&mut staff, 1, 3_600, 7_200, 10_800).await;
    let vote_round = budget_round(&mut staff, 1, 4, 6, 3_600).await;
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let mut on_ballot = Vec::new();
    for title in ["Велодоріжка до школи", "Дитячий майданчик"] {
        let id = uuid::Uuid::now_v7().to_string();
        staff
            .submit_project(pb::SubmitProjectRequest {
                request_id: id.clone(),
                round_id: vote_round.clone(),
                author_subject: format!("author of {title}"),
                author_birthdate: "1980-01-01".into(),
                author_residence: format!("{}0010012345", &KORIUKIVKA[..9]),
                title: title.into(),
                description: format!("{title}: опис."),
                category: 0,
                cost: 200_000 * 100,
            })
            .await
            .unwrap();
        on_ballot.push(id);
    }
    tokio::time::sleep(Duration::from_millis(3_000)).await;
    for project in &on_ballot {
        staff
            .review_project(pb::ReviewProjectRequest {
                request_id: uuid::Uuid::now_v7().to_string(),
                round_id: vote_round.clone(),
                project_id: project.clone(),
                eligible: true,
                approved_cost: 200_000 * 100,
                reason: String::new(),
            })
            .await
            .unwrap();
    }
    tokio::time::sleep(Duration::from_millis(2_000)).await;
    association
        .wait_verified(node.code, node.log_size(), Duration::from_secs(30))
        .await;

    let screenshots = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .unwrap()
        .join("portal-screenshots");
    let script = repo().join("tests/system/browser/portal.mjs");
    let run = tokio::time::timeout(
        BROWSER_TIMEOUT,
        tokio::process::Command::new("node")
            .arg(&script)
            .env("PORTAL_URL", &origin)
            .env("DASHBOARD_URL", association.url())
            .env("CODE", &code_text)
            .env("CHROMIUM", &chromium)
            .env("SCREENSHOTS", &screenshots)
            .env("TITLE", TITLE)
            .env("THRESHOLD", THRESHOLD.to_string())
            .env("DIALOGUE", &dialogue)
            .env("ENDED_DIALOGUE", &ended)
            .env("PLAN", &plan)
            .env("DRAFT", &draft)
            .env("PROPOSE_ROUND", &propose_round)
            .env("VOTE_ROUND", &vote_round)
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("the browser run ends")
    .expect("node runs the browser script");
    let out = String::from_utf8_lossy(&run.stdout);
    eprintln!("{out}{}", String::from_utf8_lossy(&run.stderr));
    assert!(run.status.success() && out.contains("PASS"), "{out}");

    // What the browser did is in the node's log and in the national figures.
    let rejected = staff
        .get_petition(pb::GetPetitionRequest {
            petition_id: in_moderation,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(rejected.status, pb::PetitionStatus::Rejected as i32);
    assert_eq!(
        rejected.rejection_reason,
        "Петиція не стосується повноважень громади."
    );
    let page = staff
        .list_petitions(pb::ListPetitionsRequest {
            page_size: 10,
            query: "центрального парку".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(page.petitions.len(), 1, "{page:?}");
    let petition = &page.petitions[0];
    assert_eq!(petition.title, TITLE);
    assert_eq!(petition.signature_count, THRESHOLD);
    assert_eq!(petition.status, pb::PetitionStatus::Answered as i32);
    assert_eq!(petition.answered_on_time, Some(true));
    assert_eq!(
        petition.moderated_by.as_ref().map(|a| a.role.as_str()),
        Some("moderator")
    );
    assert_eq!(
        petition.answered_by.as_ref().map(|a| a.role.as_str()),
        Some("official")
    );
    association
        .wait_verified(node.code, node.log_size(), Duration::from_secs(30))
        .await;
    let figures = association
        .national()
        .await
        .get_municipality(natpb::GetMunicipalityRequest {
            code: code_text.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .figures
        .unwrap_or_default();
    assert_eq!(figures.petitions_answered, 1);
    assert_eq!(figures.signatures, u64::from(THRESHOLD));
    // The proposal was admitted by the official, its text public; the ballot is counted.
    let proposing = staff
        .get_round(pb::GetRoundRequest {
            round_id: propose_round,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(proposing.projects.len(), 1);
    assert_eq!(proposing.projects[0].title, "Сквер біля бібліотеки");
    assert!(proposing.projects[0].text_public);
    assert_eq!(
        proposing.projects[0].review,
        pb::ProjectReview::Eligible as i32
    );
    assert_eq!(proposing.projects[0].cost, 150_000 * 100);
    let voting = staff
        .get_round(pb::GetRoundRequest {
            round_id: vote_round,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(voting.ballots, 1);
    assert_eq!(voting.projects[0].votes, 1);

    for name in [
        "portal-list-phone",
        "portal-filed-phone",
        "portal-provider-phone",
        "portal-staff-desktop",
        "portal-confirm-desktop",
        "portal-signed-phone",
        "portal-receipt-check-desktop",
        "portal-receipt-failed-desktop",
        "dashboard-receipt-desktop",
        "portal-answer-desktop",
        "portal-answered-phone",
        "portal-answered-desktop",
        "portal-english-phone",
        "portal-dialogue-phone",
        "portal-plan-desktop",
        "portal-plan-sources-desktop",
        "portal-forum-desktop",
        "portal-review-desktop",
        "portal-proposed-phone",
        "portal-voted-phone",
    ] {
        let len = std::fs::metadata(screenshots.join(format!("{name}.png")))
            .unwrap_or_else(|e| panic!("{name}.png: {e}"))
            .len();
        assert!(len > 5_000, "{name}.png is {len} bytes");
    }
    drop(staff);
    provider.stop().await;
    association.shutdown().await;
    let mut node = node;
    node.stop().await;
}

/// Announces a round on the node whose submissions open `opens` seconds from now, close at
/// `closes`, and whose voting runs from `voting` to `voting_closes` seconds from now.
async fn budget_round(
    staff: &mut node::auth::AuthedNodeClient,
    opens: i64,
    closes: i64,
    voting: i64,
    voting_closes: i64,
) -> String {
    let now = event_store_core::Timestamp::now().0.div_euclid(1_000_000);
    let at = |secs: i64| prost_types::Timestamp {
        seconds: now + secs,
        nanos: 0,
    };
    staff
        .announce_round(pb::AnnounceRoundRequest {
            request_id: uuid::Uuid::now_v7().to_string(),
            title: "Громадський бюджет 2027".into(),
            council_decision: "Рішення № 5/2026".into(),
            rules: Some(pb::RoundRules {
                budget_year: 2027,
                amount: 1_000_000 * 100,
                local_budget: 300_000_000 * 100,
                project_cost_min: 10_000 * 100,
                project_cost_max: 500_000 * 100,
                voter_age_min: 16,
                electorate: pb::Electorate::Residents as i32,
                votes_per_ballot: 2,
                projects_per_author: 2,
                categories: vec!["Благоустрій".into(), "Освіта".into()],
                submission_opens: Some(at(opens)),
                submission_closes: Some(at(closes)),
                voting_opens: Some(at(voting)),
                voting_closes: Some(at(voting_closes)),
            }),
        })
        .await
        .expect("a round")
        .into_inner()
        .stream_id
}
