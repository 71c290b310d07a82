//! Participatory budgets across the federation: a round in Kyiv and one in Vinnytsia, each
//! from announcement to funded winners through the node's API, verified and projected by the
//! association; the national and hromada figures equal the ones worked out here by hand from
//! the reference populations; the archive's replay (`audit recompute`) counts both rounds
//! again from their ballots, agrees with the association's digest and names a round whose
//! declared winners were rewritten.

use std::time::Duration;

use auditor::Archive;
use auditor::archive::{decode_events, encode_events};
use auditor::export::{ExportOptions, export};
use auditor::recompute::recompute;
use domain::budget::BudgetEvent;
use event_store_core::EnvelopeRef;
use proto::national::v1 as national;
use proto::node::v1 as pb;
use system_tests::{KYIV, TestAssociation, TestNode, VINNYTSIA, code, copy_dir, request_id};
use testkit::NatsServer;

const UAH: u64 = 100;

/// A registered residence in the hromada `hromada` (its first nine characters and a
/// settlement's digits).
fn residence_in(hromada: &str) -> String {
    format!("{}0010012345", &hromada[..9])
}

fn ts(t: event_store_core::Timestamp, plus_hours: i64) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: t.0.div_euclid(1_000_000) + plus_hours * 3_600,
        nanos: 0,
    }
}

/// What one hromada's round is given: its amount and local budget (UAH), its projects'
/// submitted and approved costs (UAH; no approved cost: not eligible), its ballots (project
/// numbers from 1), the amounts funded and the reports, and whether it closes.
struct Round {
    amount: u64,
    local_budget: u64,
    projects: Vec<(u64, Option<u64>)>,
    ballots: Vec<Vec<usize>>,
    funded: Vec<(usize, u64)>,
    reports: Vec<(usize, pb::ProjectStatus)>,
    close: bool,
}

/// Runs `round` on `node` through its API, as the hromada's council and residents (the
/// `tests` client may vouch for residents' age and residence); returns the round's id and its
/// projects' ids.
async fn run(node: &TestNode, round: &Round) -> (String, Vec<String>) {
    let mut c = node.client().await;
    let t0 = node.clock.now();
    let round_id = c
        .announce_round(pb::AnnounceRoundRequest {
            request_id: request_id(),
            title: "Громадський бюджет 2027".into(),
            council_decision: "Рішення № 7/2026".into(),
            rules: Some(pb::RoundRules {
                budget_year: 2027,
                amount: round.amount * UAH,
                local_budget: round.local_budget * UAH,
                project_cost_min: 10_000 * UAH,
                project_cost_max: 2_000_000 * UAH,
                voter_age_min: 16,
                electorate: pb::Electorate::Residents as i32,
                votes_per_ballot: 2,
                projects_per_author: 1,
                categories: vec!["Благоустрій".into()],
                submission_opens: Some(ts(t0, 1)),
                submission_closes: Some(ts(t0, 2)),
                voting_opens: Some(ts(t0, 3)),
                voting_closes: Some(ts(t0, 4)),
            }),
        })
        .await
        .expect("announced")
        .into_inner()
        .stream_id;
    let home = residence_in(node.code.as_str());
    node.clock.advance_hours(1);
    // A project's id is its submission's request id.
    let mut projects = Vec::new();
    for (i, (cost, _)) in round.projects.iter().enumerate() {
        let id = request_id();
        c.submit_project(pb::SubmitProjectRequest {
            request_id: id.clone(),
            round_id: round_id.clone(),
            author_subject: format!("author-{i}"),
            author_birthdate: "1980-04-01".into(),
            author_residence: home.clone(),
            title: format!("Проєкт {}", i + 1),
            description: "Опис проєкту.".into(),
            category: 0,
            cost: cost * UAH,
        })
        .await
        .expect("submitted");
        projects.push(id);
    }
    node.clock.advance_hours(1);
    for ((_, approved), id) in round.projects.iter().zip(&projects) {
        c.review_project(pb::ReviewProjectRequest {
            request_id: request_id(),
            round_id: round_id.clone(),
            project_id: id.clone(),
            eligible: approved.is_some(),
            approved_cost: approved.unwrap_or(0) * UAH,
            reason: if approved.is_some() {
                String::new()
            } else {
                "Поза повноваженнями громади.".into()
            },
        })
        .await
        .expect("reviewed");
    }
    node.clock.advance_hours(1);
    for (v, chosen) in round.ballots.iter().enumerate() {
        c.cast_ballot(pb::CastBallotRequest {
            request_id: request_id(),
            round_id: round_id.clone(),
            voter_subject: format!("resident-{v}"),
            voter_birthdate: "1990-06-15".into(),
            voter_residence: home.clone(),
            project_ids: chosen.iter().map(|p| projects[p - 1].clone()).collect(),
        })
        .await
        .expect("a ballot");
    }
    node.clock.advance_hours(1);
    c.declare_results(pb::DeclareResultsRequest {
        request_id: request_id(),
        round_id: round_id.clone(),
    })
    .await
    .expect("results");
    for (p, amount) in &round.funded {
        c.fund_project(pb::FundProjectRequest {
            request_id: request_id(),
            round_id: round_id.clone(),
            project_id: projects[p - 1].clone(),
            amount: amount * UAH,
        })
        .await
        .expect("funded");
    }
    for (p, status) in &round.reports {
        c.report_project_progress(pb::ReportProjectProgressRequest {
            request_id: request_id(),
            round_id: round_id.clone(),
            project_id: projects[p - 1].clone(),
            status: *status as i32,
            evidence_link: "https://hromada.example/zvit".into(),
            note: String::new(),
        })
        .await
        .expect("reported");
    }
    if round.close {
        c.close_round(pb::CloseRoundRequest {
            request_id: request_id(),
            round_id: round_id.clone(),
        })
        .await
        .expect("closed");
    }
    (round_id, projects)
}

async fn figures_of(association: &TestAssociation, hromada: &str) -> national::Figures {
    association
        .national()
        .await
        .get_municipality(national::GetMunicipalityRequest {
            code: hromada.to_owned(),
        })
        .await
        .expect("the hromada")
        .into_inner()
        .figures
        .expect("figures")
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * b.abs().max(1.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rounds_in_two_hromadas_reach_the_national_figures_and_recount_from_an_archive() {
    let nats = NatsServer::start().await.unwrap();
    let (association, [kyiv, vinnytsia]) =
        TestAssociation::with_nodes(&nats.url(), [(KYIV, 100), (VINNYTSIA, 100)]).await;

    // Kyiv: two projects on the ballot and one not; both win within 10 million UAH; one is
    // completed and the round closes.
    let kyiv_round = Round {
        amount: 10_000_000,
        local_budget: 100_000_000_000,
        projects: vec![
            (500_000, Some(500_000)),
            (300_000, Some(290_000)),
            (200_000, None),
        ],
        ballots: vec![vec![1, 2], vec![1], vec![2], vec![1]],
        funded: vec![(1, 500_000), (2, 290_000)],
        reports: vec![
            (1, pb::ProjectStatus::Completed),
            (2, pb::ProjectStatus::InProgress),
        ],
        close: true,
    };
    // Vinnytsia: project 2 leads (2 votes to 1) and takes 800,000 of the 2 million; project 1
    // (1.5 million) no longer fits. Funded, in progress, not closed.
    let vinnytsia_round = Round {
        amount: 2_000_000,
        local_budget: 6_000_000_000,
        projects: vec![(1_500_000, Some(1_500_000)), (800_000, Some(800_000))],
        ballots: vec![vec![1], vec![2], vec![2]],
        funded: vec![(2, 800_000)],
        reports: vec![(2, pb::ProjectStatus::InProgress)],
        close: false,
    };
    let (kyiv_id, kyiv_projects) = run(&kyiv, &kyiv_round).await;
    let (vinnytsia_id, vinnytsia_projects) = run(&vinnytsia, &vinnytsia_round).await;
    association
        .wait_all(&[&kyiv, &vinnytsia], Duration::from_secs(30))
        .await;
    association.assert_nothing_quarantined().await;

    // By hand, from the rounds above and the reference populations.
    let reference = reference::Reference::load();
    let population = |c: &str| reference.municipality(&code(c)).expect("known").population;
    let (pk, pv) = (population(KYIV), population(VINNYTSIA));
    assert!(pk > 2_000_000 && pv > 300_000, "{pk} {pv}");
    // The national figures are read once the live snapshot has caught up.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let nation = loop {
        let f = association.summary().await.figures.expect("figures");
        if f.budget_projects_funded == 3 || tokio::time::Instant::now() > deadline {
            break f;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(nation.budget_rounds, 2);
    assert_eq!(nation.budget_rounds_with_results, 2);
    assert_eq!(nation.budget_ballots, 4 + 3);
    assert_eq!(nation.budget_amount, 12_000_000 * UAH);
    assert_eq!(nation.budget_local_budget, 106_000_000_000 * UAH);
    assert!(close(
        nation.budget_share_of_local_budget,
        12_000_000.0 / 106_000_000_000.0
    ));
    assert!(close(
        nation.budget_ballots_per_10k,
        7.0 * 10_000.0 / (pk + pv) as f64
    ));
    assert_eq!(nation.budget_projects, 5);
    assert_eq!(nation.budget_projects_eligible, 4);
    assert_eq!(nation.budget_projects_funded, 3);
    assert_eq!(
        nation.budget_funded_total,
        (500_000 + 290_000 + 800_000) * UAH
    );
    assert_eq!(nation.budget_projects_completed, 1);
    assert!(close(nation.budget_implementation_rate, 1.0 / 3.0));
    let v = figures_of(&association, VINNYTSIA).await;
    assert_eq!((v.budget_rounds, v.budget_ballots), (1, 3));
    assert!(close(
        v.budget_share_of_local_budget,
        2_000_000.0 / 6_000_000_000.0
    ));
    assert!(close(v.budget_ballots_per_10k, 3.0 * 10_000.0 / pv as f64));
    assert_eq!(v.budget_implementation_rate, 0.0);
    let k = figures_of(&association, KYIV).await;
    assert!(close(k.budget_implementation_rate, 0.5));
    // The practice catalogue: the four projects on a ballot, searched as any practice; the
    // ineligible one, whose text was never disclosed, is not there.
    let found = association
        .national()
        .await
        .search_practices(national::SearchPracticesRequest {
            tool: "budget_project".into(),
            page_size: 20,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(found.total_size, 4, "{found:?}");
    assert!(found.practices.iter().all(|p| p.tool == "budget_project"));
    let completed = association
        .national()
        .await
        .search_practices(national::SearchPracticesRequest {
            tool: "budget_project".into(),
            status: "completed".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(completed.total_size, 1, "{completed:?}");

    // The archive: recounted from the ballots, and the association's digest again.
    association.wait_stated().await;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("archive");
    export(&ExportOptions {
        url: association.url(),
        ca: None,
        out: out.clone(),
        municipality: None,
        progress: false,
    })
    .await
    .unwrap();
    let archive = Archive::new(&out);
    let recomputed = recompute(&archive, &Default::default()).unwrap();
    assert_eq!(
        recomputed.digest,
        association.digest().await.digest,
        "the replay's projection is the association's"
    );
    assert_eq!(recomputed.rounds.len(), 2);
    for r in &recomputed.rounds {
        assert!(r.holds(), "{r:?}");
        assert!(r.declared.is_some());
        let (id, projects, winners): (&str, &[String], Vec<usize>) = if r.municipality == code(KYIV)
        {
            (&kyiv_id, &kyiv_projects, vec![1, 2])
        } else {
            (&vinnytsia_id, &vinnytsia_projects, vec![2])
        };
        assert_eq!(r.round.0.to_string(), id);
        let expected: Vec<String> = winners.iter().map(|p| projects[p - 1].clone()).collect();
        let got: Vec<String> = r.winners.iter().map(|p| p.0.to_string()).collect();
        assert_eq!(got, expected);
    }

    // A copy whose Vinnytsia declaration names project 1 the winner instead: the recount
    // names the round.
    let forged = dir.path().join("forged");
    copy_dir(&out, &forged);
    let copy = Archive::new(&forged);
    let (_, _, path) = copy.events_files(&code(VINNYTSIA)).unwrap().remove(0);
    let data = std::fs::read(&path).unwrap();
    let mut events: Vec<Vec<u8>> = decode_events(&path, &data)
        .unwrap()
        .into_iter()
        .map(|r| r.bytes.to_vec())
        .collect();
    let at = events
        .iter()
        .position(|bytes| {
            EnvelopeRef::decode(bytes).unwrap().event_type
                == domain::EventType::ResultsDeclared.code()
        })
        .expect("a declaration");
    let winner = uuid::Uuid::parse_str(&vinnytsia_projects[1]).unwrap();
    let loser = uuid::Uuid::parse_str(&vinnytsia_projects[0]).unwrap();
    let bytes = &mut events[at];
    let spot = bytes
        .windows(16)
        .rposition(|w| w == winner.as_bytes())
        .expect("the winner's id in the declaration");
    bytes[spot..spot + 16].copy_from_slice(loser.as_bytes());
    // And the second ballot re-signed, as it were, by the first ballot's voter: a second
    // ballot of one voter.
    let ballots: Vec<(usize, domain::PseudonymTag)> = events
        .iter()
        .enumerate()
        .filter_map(|(i, bytes)| {
            let env = EnvelopeRef::decode(bytes).unwrap();
            match domain::decode(env.event_type, env.schema_version, env.payload) {
                Ok(domain::Event::Budget(BudgetEvent::BallotCast(b))) => Some((i, b.voter)),
                _ => None,
            }
        })
        .collect();
    let [(_, first_voter), (second, second_voter), ..] = ballots[..] else {
        panic!("Vinnytsia has three ballots");
    };
    let bytes = &mut events[second];
    let spot = bytes
        .windows(32)
        .position(|w| w == second_voter.0)
        .expect("the voter's tag");
    bytes[spot..spot + 32].copy_from_slice(&first_voter.0);
    std::fs::write(&path, encode_events(events.iter().map(Vec::as_slice))).unwrap();
    let recounted = recompute(&copy, &Default::default()).unwrap();
    let v = recounted
        .rounds
        .iter()
        .find(|r| r.municipality == code(VINNYTSIA))
        .unwrap();
    let declaration = u64::try_from(at).unwrap() + 1;
    assert!(
        v.violations
            .contains(&(declaration, "budget.not_what_the_rules_decide".into())),
        "{v:?}"
    );
    let second = u64::try_from(second).unwrap() + 1;
    assert!(
        v.violations
            .contains(&(second, "budget.already_voted".into())),
        "{v:?}"
    );
    assert_eq!(v.ballots, 2, "the second ballot of one voter is left out");
    // Left out, the declaration no longer stands; the ballots still give project 2.
    assert_eq!(v.declared, None);
    assert_eq!(v.winners[0].0, winner);

    association.shutdown().await;
}
