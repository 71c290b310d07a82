//! A participatory budget round through the node's door, against a real OpenID provider
//! (`deploy/oidc`) that attests residents' dates of birth and residence: a round from its
//! announcement to a funded, completed winner, and every way a participant might take part
//! who may not — too young, from another hromada, with no attested date of birth, a second
//! ballot, a person claiming an age of their own, a machine client vouching for an age it was
//! not allowed to — each refused, naming its rule, appending nothing. Neither a date of birth
//! nor a residence reaches the log.

mod support;

use std::collections::BTreeMap;

use oidc_process::{Attested, DevProvider, ProviderConfig, RegisteredClient};
use proto::node::v1 as pb;
use support::{TestNode, add_client, request_id};
use tonic::Code;
use tonic_types::StatusExt as _;

const NODE_CLIENT: &str = "koriukivka-node";
/// Registered residences: one in the test node's hromada (`UA7404013…`), one in another.
const HOME: &str = "UA74040130010012345";
const ELSEWHERE: &str = "UA74020030010063857";
const UAH: u64 = 100;

fn years_ago(years: i32) -> String {
    use chrono::Datelike as _;
    let today = chrono::Utc::now().date_naive();
    format!("{:04}-01-01", today.year() - years)
}

async fn provider() -> DevProvider {
    let mut staff = BTreeMap::new();
    staff.insert("iryna".to_owned(), vec!["coordinator".to_owned()]);
    staff.insert("taras".to_owned(), vec!["official".to_owned()]);
    let mut people = BTreeMap::new();
    for (login, person) in [
        ("mykola", Attested::new("1990-05-01", HOME)),
        ("oksana", Attested::new("1985-11-30", HOME)),
        ("sofiia", Attested::new(&years_ago(13), HOME)),
        ("visitor", Attested::new("1979-03-03", ELSEWHERE)),
        (
            "unborn",
            Attested {
                birthdate: None,
                residence: Some(HOME.into()),
            },
        ),
    ] {
        people.insert(login.to_owned(), person);
    }
    DevProvider::start(&ProviderConfig {
        clients: vec![RegisteredClient::public(NODE_CLIENT)],
        staff,
        people,
        ..ProviderConfig::default()
    })
    .await
    .expect("the OpenID provider starts")
}

async fn as_holder(node: &TestNode, token: &str) -> node::auth::AuthedNodeClient {
    node::auth::connect(&node.url(), token, None).await.unwrap()
}

fn ts(t: event_store_core::Timestamp, plus_secs: i64) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: t.0.div_euclid(1_000_000) + plus_secs,
        nanos: 0,
    }
}

fn ballot(round: &str, projects: &[&str]) -> pb::CastBallotRequest {
    pb::CastBallotRequest {
        request_id: request_id(),
        round_id: round.to_owned(),
        project_ids: projects.iter().map(|p| (*p).to_owned()).collect(),
        ..pb::CastBallotRequest::default()
    }
}

/// The rule a refusal names.
fn rule(err: &tonic::Status) -> String {
    assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");
    err.get_details_precondition_failure().unwrap().violations[0]
        .subject
        .clone()
}

fn field(err: &tonic::Status) -> String {
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    err.get_details_bad_request().unwrap().field_violations[0]
        .field
        .clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_round_runs_through_the_door_and_only_those_its_rules_let_in_take_part() {
    let provider = provider().await;
    let tables = format!(
        "[oidc]\nissuer = \"{}\"\nclient_id = \"{NODE_CLIENT}\"\nattests_birthdate_and_residence = true\n",
        provider.issuer()
    );
    let node = TestNode::start_configured(None, 100, &tables).await;
    let mut people = BTreeMap::new();
    for login in [
        "iryna", "taras", "mykola", "oksana", "sofiia", "visitor", "unborn",
    ] {
        let token = provider.sign_in(NODE_CLIENT, login).await.unwrap();
        people.insert(login, as_holder(&node, &token).await);
    }
    let c = |login: &str| people[login].clone();

    // The coordinator announces; a resident may not.
    let t0 = node.clock.now();
    let announce = pb::AnnounceRoundRequest {
        request_id: request_id(),
        title: "Громадський бюджет 2027".into(),
        council_decision: "Рішення ради № 12/2026".into(),
        rules: Some(pb::RoundRules {
            budget_year: 2027,
            amount: 700_000 * UAH,
            local_budget: 150_000_000 * UAH,
            project_cost_min: 10_000 * UAH,
            project_cost_max: 600_000 * UAH,
            voter_age_min: 14,
            electorate: pb::Electorate::Residents as i32,
            votes_per_ballot: 2,
            projects_per_author: 2,
            categories: vec!["Благоустрій".into(), "Освіта".into()],
            submission_opens: Some(ts(t0, 10)),
            submission_closes: Some(ts(t0, 60)),
            voting_opens: Some(ts(t0, 120)),
            voting_closes: Some(ts(t0, 300)),
        }),
    };
    let err = c("mykola")
        .announce_round(announce.clone())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");
    let round = c("iryna")
        .announce_round(announce)
        .await
        .unwrap()
        .into_inner()
        .stream_id;

    // Submissions.
    node.clock.advance_secs(10);
    let submit = |title: &str, cost: u64| pb::SubmitProjectRequest {
        request_id: request_id(),
        round_id: round.clone(),
        title: title.into(),
        description: format!("{title}: опис проєкту."),
        category: 0,
        cost: cost * UAH,
        ..pb::SubmitProjectRequest::default()
    };
    let p1 = c("mykola")
        .submit_project(submit("Сквер біля школи", 500_000))
        .await
        .unwrap()
        .into_inner()
        .first_seq;
    let p2 = c("oksana")
        .submit_project(submit("Велодоріжка", 300_000))
        .await
        .unwrap()
        .into_inner()
        .first_seq;
    let p3 = c("mykola")
        .submit_project(submit("Фонтан", 400_000))
        .await
        .unwrap()
        .into_inner()
        .first_seq;
    assert!(p1 < p2 && p2 < p3);
    let size = node.log_size();
    // A person cannot claim an age or residence of their own: the node fills them in.
    let mut claimed = submit("Каток", 100_000);
    claimed.author_birthdate = "1970-01-01".into();
    let err = c("unborn").submit_project(claimed).await.unwrap_err();
    assert_eq!(field(&err), "author_birthdate");
    let err = c("visitor")
        .submit_project(submit("Каток", 100_000))
        .await
        .unwrap_err();
    assert_eq!(rule(&err), "budget.author_not_eligible");
    let err = c("sofiia")
        .submit_project(submit("Каток", 100_000))
        .await
        .unwrap_err();
    assert_eq!(rule(&err), "budget.author_not_eligible");
    assert_eq!(node.log_size(), size, "refusals append nothing");

    // Before review a project's text is the reviewers' only.
    let get = pb::GetRoundRequest {
        round_id: round.clone(),
    };
    let public = node
        .anonymous_client()
        .await
        .get_round(get.clone())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(public.projects.len(), 3);
    assert!(public.projects.iter().all(|p| p.title.is_empty()));
    assert_eq!(public.voted_by_caller, None);
    let reviewer = c("taras")
        .get_round(get.clone())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(reviewer.projects[0].title, "Сквер біля школи");
    assert!(!reviewer.projects[0].text_public);
    let ids: Vec<String> = public
        .projects
        .iter()
        .map(|p| p.project_id.clone())
        .collect();

    // Review: two on the ballot (one at a lower approved cost), one not, with its reason.
    node.clock.advance_secs(60);
    let review =
        |project: &str, eligible: bool, cost: u64, reason: &str| pb::ReviewProjectRequest {
            request_id: request_id(),
            round_id: round.clone(),
            project_id: project.to_owned(),
            eligible,
            approved_cost: cost * UAH,
            reason: reason.into(),
        };
    let err = c("iryna")
        .review_project(review(&ids[0], true, 450_000, ""))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "reviews need `answer`");
    for request in [
        review(&ids[0], true, 450_000, ""),
        review(&ids[1], true, 300_000, ""),
        review(&ids[2], false, 0, "Не належить до повноважень громади."),
    ] {
        c("taras").review_project(request).await.unwrap();
    }
    let err = c("mykola")
        .cast_ballot(ballot(&round, &[&ids[0]]))
        .await
        .unwrap_err();
    assert_eq!(rule(&err), "budget.voting_not_open");

    // Voting.
    node.clock.advance_secs(60);
    let mykolas = c("mykola")
        .cast_ballot(ballot(&round, &[&ids[0], &ids[1]]))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(mykolas.event_types, ["budget.ballot_cast"]);
    c("oksana")
        .cast_ballot(ballot(&round, &[&ids[0]]))
        .await
        .unwrap();
    let size = node.log_size();
    for (login, request, expected) in [
        ("mykola", ballot(&round, &[&ids[1]]), "budget.already_voted"),
        (
            "sofiia",
            ballot(&round, &[&ids[1]]),
            "budget.voter_too_young",
        ),
        (
            "visitor",
            ballot(&round, &[&ids[1]]),
            "budget.voter_not_resident",
        ),
        (
            "unborn",
            ballot(&round, &[&ids[1]]),
            "budget.voter_age_not_attested",
        ),
        ("oksana", ballot(&round, &[&ids[2]]), "budget.already_voted"),
    ] {
        let err = c(login).cast_ballot(request).await.unwrap_err();
        assert_eq!(rule(&err), expected, "{login}");
    }
    // One with no attested date of birth claims one.
    let mut claimed = ballot(&round, &[&ids[1]]);
    claimed.voter_birthdate = "1970-01-01".into();
    let err = c("unborn").cast_ballot(claimed).await.unwrap_err();
    assert_eq!(
        field(&err),
        "voter_birthdate",
        "the fields are the node's to fill"
    );
    let mut claimed = ballot(&round, &[&ids[1]]);
    claimed.voter_residence = HOME.into();
    let err = c("visitor").cast_ballot(claimed).await.unwrap_err();
    assert_eq!(field(&err), "voter_residence", "the field given is named");
    // A platform may vouch for its users' age and residence only if the operator let it.
    let platform = add_client(
        node.dir.path(),
        "e-services",
        &[node::auth::Permission::Participate],
    );
    let mut platform = as_holder(&node, &platform).await;
    let vouched = |subject: &str| pb::CastBallotRequest {
        voter_subject: subject.into(),
        voter_birthdate: "1960-02-29".into(),
        voter_residence: HOME.into(),
        ..ballot(&round, &[&ids[1]])
    };
    // The node reads its clients file again within two seconds of a change.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let err = loop {
        let err = platform.cast_ballot(vouched("user-7")).await.unwrap_err();
        if err.code() != Code::Unauthenticated || std::time::Instant::now() > deadline {
            break err;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");
    assert!(err.message().contains("attest"), "{}", err.message());
    let err = platform
        .cast_ballot(pb::CastBallotRequest {
            voter_subject: "user-7".into(),
            ..ballot(&round, &[&ids[1]])
        })
        .await
        .unwrap_err();
    assert_eq!(rule(&err), "budget.voter_age_not_attested");
    assert_eq!(node.log_size(), size, "refusals append nothing");
    // The `tests` client holds `attest`; the subject it vouches for is the person's `sub` at
    // the node's provider, so Mykola, who voted through his own sign-in, cannot vote again
    // through it.
    let err = node
        .client()
        .await
        .cast_ballot(vouched("mykola"))
        .await
        .unwrap_err();
    assert_eq!(rule(&err), "budget.already_voted");
    node.client()
        .await
        .cast_ballot(vouched("user-7"))
        .await
        .unwrap();
    let mine = c("mykola")
        .get_round(get.clone())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(mine.voted_by_caller, Some(true));
    let not_mine = c("sofiia")
        .get_round(get.clone())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(not_mine.voted_by_caller, Some(false));
    assert_eq!(mine.ballots, 3);
    let votes: Vec<u32> = mine.projects.iter().map(|p| p.votes).collect();
    assert_eq!(votes, [2, 2, 0]);

    // Results: a tie on votes goes to the cheaper project, and the dearer one no longer fits
    // in what is left of the 700,000 UAH.
    let err = c("iryna")
        .declare_results(pb::DeclareResultsRequest {
            request_id: request_id(),
            round_id: round.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(rule(&err), "budget.voting_not_over");
    node.clock.advance_secs(200);
    c("iryna")
        .declare_results(pb::DeclareResultsRequest {
            request_id: request_id(),
            round_id: round.clone(),
        })
        .await
        .unwrap();
    let fund = |project: &str, amount: u64| pb::FundProjectRequest {
        request_id: request_id(),
        round_id: round.clone(),
        project_id: project.to_owned(),
        amount: amount * UAH,
    };
    let err = c("iryna")
        .fund_project(fund(&ids[0], 450_000))
        .await
        .unwrap_err();
    assert_eq!(rule(&err), "budget.project_not_winner");
    let err = c("iryna")
        .fund_project(fund(&ids[1], 300_001))
        .await
        .unwrap_err();
    assert_eq!(rule(&err), "budget.funding_over_cost");
    c("iryna")
        .fund_project(fund(&ids[1], 295_000))
        .await
        .unwrap();
    c("iryna")
        .report_project_progress(pb::ReportProjectProgressRequest {
            request_id: request_id(),
            round_id: round.clone(),
            project_id: ids[1].clone(),
            status: pb::ProjectStatus::Completed as i32,
            evidence_link: "https://koriukivka.example/velodorizhka".into(),
            note: "Збудовано.".into(),
        })
        .await
        .unwrap();
    c("iryna")
        .close_round(pb::CloseRoundRequest {
            request_id: request_id(),
            round_id: round.clone(),
        })
        .await
        .unwrap();
    let err = c("iryna").fund_project(fund(&ids[0], 1)).await.unwrap_err();
    assert_eq!(rule(&err), "budget.round_closed");

    let done = node
        .anonymous_client()
        .await
        .get_round(get)
        .await
        .unwrap()
        .into_inner();
    assert_eq!(done.status, pb::RoundStatus::Closed as i32);
    let winners: Vec<bool> = done.projects.iter().map(|p| p.winner).collect();
    assert_eq!(winners, [false, true, false]);
    assert_eq!(done.projects[0].cost, 450_000 * UAH, "the approved cost");
    assert_eq!(done.projects[1].funded, Some(295_000 * UAH));
    assert_eq!(done.funded_total, 295_000 * UAH);
    assert_eq!(done.projects[1].status, pb::ProjectStatus::Completed as i32);
    assert_eq!(
        done.projects[1].title, "Велодоріжка",
        "public once eligible"
    );
    assert!(
        done.projects[2].title.is_empty(),
        "an ineligible text stays private"
    );
    assert_eq!(
        done.projects[2].ineligible_reason,
        "Не належить до повноважень громади."
    );
    let listed = node
        .anonymous_client()
        .await
        .list_rounds(pb::ListRoundsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.rounds.len(), 1);
    assert_eq!(listed.rounds[0].round_id, round);

    // What the provider attested decided; none of it is in the log.
    let log = node.read_whole_log().await;
    assert!(log.iter().any(|e| e.seq == mykolas.first_seq));
    for entry in &log {
        for secret in ["1990-05-01", "1985-11-30", HOME, "UA7404013001", "Фонтан"] {
            assert!(
                !entry
                    .envelope
                    .windows(secret.len())
                    .any(|w| w == secret.as_bytes()),
                "event {} holds {secret}",
                entry.seq
            );
        }
    }
}

/// A node whose operator has not affirmed that the provider attests dates of birth and
/// residence from a register takes neither from the token: a resident's ballot has no age.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claims_count_only_where_the_operator_affirms_the_provider_attests_them() {
    let provider = provider().await;
    let tables = format!(
        "[oidc]\nissuer = \"{}\"\nclient_id = \"{NODE_CLIENT}\"\n",
        provider.issuer()
    );
    let node = TestNode::start_configured(None, 100, &tables).await;
    let t0 = node.clock.now();
    let mut c = node.client().await;
    let round = c
        .announce_round(pb::AnnounceRoundRequest {
            request_id: request_id(),
            title: "Громадський бюджет".into(),
            council_decision: "№ 1".into(),
            rules: Some(pb::RoundRules {
                budget_year: 2027,
                amount: 100_000 * UAH,
                local_budget: 1_000_000 * UAH,
                project_cost_min: 1_000 * UAH,
                project_cost_max: 100_000 * UAH,
                voter_age_min: 14,
                electorate: pb::Electorate::Anyone as i32,
                votes_per_ballot: 1,
                projects_per_author: 1,
                categories: vec!["Благоустрій".into()],
                submission_opens: Some(ts(t0, 10)),
                submission_closes: Some(ts(t0, 20)),
                voting_opens: Some(ts(t0, 30)),
                voting_closes: Some(ts(t0, 60)),
            }),
        })
        .await
        .unwrap()
        .into_inner()
        .stream_id;
    node.clock.advance_secs(10);
    let project = request_id();
    c.submit_project(pb::SubmitProjectRequest {
        request_id: project.clone(),
        round_id: round.clone(),
        author_subject: "author".into(),
        author_birthdate: "1980-01-01".into(),
        title: "Лавки".into(),
        description: "Лавки в парку.".into(),
        cost: 10_000 * UAH,
        ..pb::SubmitProjectRequest::default()
    })
    .await
    .unwrap();
    node.clock.advance_secs(10);
    c.review_project(pb::ReviewProjectRequest {
        request_id: request_id(),
        round_id: round.clone(),
        project_id: project.clone(),
        eligible: true,
        approved_cost: 10_000 * UAH,
        reason: String::new(),
    })
    .await
    .unwrap();
    node.clock.advance_secs(10);
    let token = provider.sign_in(NODE_CLIENT, "mykola").await.unwrap();
    let err = as_holder(&node, &token)
        .await
        .cast_ballot(ballot(&round, &[&project]))
        .await
        .unwrap_err();
    assert_eq!(rule(&err), "budget.voter_age_not_attested");
}
