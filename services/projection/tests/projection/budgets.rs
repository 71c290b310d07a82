//! Participatory budget rounds in the projection: a round's life, in batches cut anywhere,
//! gives the rows worked out by hand; events the rows show cannot apply (a second funding, a
//! ballot after the results, a project of another round, a report on an unfunded project, a
//! step after closing) are anomalies that change nothing else.

use domain::budget::{
    BallotCast, BudgetEvent, CountingMethod, Electorate, ProjectFunded, ProjectProgressReported,
    ProjectReviewed, ProjectStatus, ProjectSubmitted, ResultsDeclared, ReviewOutcome,
    RoundAnnounced, RoundClosed, RoundRules, Tally,
};
use domain::disclosure::{Commitment, ProjectText, Salt};
use domain::{Event, ProjectId, RoundId};
use event_store_core::Timestamp;
use projection::{BudgetProjectRow, MemoryStore, Outcome, RoundRow, Verified};
use uuid::Uuid;

use crate::common::*;

const UAH: u64 = 100;

fn round_id(n: u8) -> RoundId {
    RoundId(Uuid::from_u128(0x0B00 + u128::from(n)))
}

fn project(n: u8) -> ProjectId {
    ProjectId(Uuid::from_u128(0x0C00 + u128::from(n)))
}

fn at(minutes: i64) -> Timestamp {
    Timestamp(kyiv("2026-03-02", 9, 0).0 + minutes * 60_000_000)
}

fn rules() -> RoundRules {
    RoundRules {
        budget_year: 2027,
        amount: 1_000_000 * UAH,
        local_budget: 200_000_000 * UAH,
        project_cost_min: 10_000 * UAH,
        project_cost_max: 600_000 * UAH,
        voter_age_min: 14,
        electorate: Electorate::Residents,
        votes_per_ballot: 2,
        projects_per_author: 1,
        categories: vec!["Благоустрій".into()],
        counting: CountingMethod::GreedyByVotes,
        submission_opens: at(10),
        submission_closes: at(100),
        voting_opens: at(200),
        voting_closes: at(300),
    }
}

fn budget(e: BudgetEvent) -> Event {
    Event::Budget(e)
}

fn announced(r: u8) -> Event {
    budget(BudgetEvent::Announced(RoundAnnounced {
        round_id: round_id(r),
        title: "Громадський бюджет".into(),
        council_decision: "№ 1".into(),
        rules: rules(),
        at: at(0),
        acted_by: None,
    }))
}

fn submitted(r: u8, p: u8, cost: u64) -> Event {
    budget(BudgetEvent::ProjectSubmitted(ProjectSubmitted {
        round_id: round_id(r),
        project_id: project(p),
        author: tag(p),
        content: Commitment([p; 32]),
        category: 0,
        cost: cost * UAH,
        at: at(20 + i64::from(p)),
    }))
}

fn reviewed(r: u8, p: u8, approved: Option<u64>) -> Event {
    let outcome = match approved {
        Some(cost) => ReviewOutcome::Eligible {
            disclosure: ProjectText {
                salt: Salt([p; 32]),
                title: format!("Проєкт {p}"),
                description: "Опис.".into(),
            },
            cost: cost * UAH,
        },
        None => ReviewOutcome::Ineligible {
            reason: "Поза повноваженнями.".into(),
        },
    };
    budget(BudgetEvent::ProjectReviewed(ProjectReviewed {
        round_id: round_id(r),
        project_id: project(p),
        outcome,
        at: at(150),
        acted_by: None,
    }))
}

fn ballot(r: u8, voter: u8, projects: &[u8]) -> Event {
    budget(BudgetEvent::BallotCast(BallotCast {
        round_id: round_id(r),
        voter: tag(voter),
        projects: projects.iter().map(|p| project(*p)).collect(),
        at: at(210 + i64::from(voter)),
    }))
}

fn results(r: u8, winners: &[u8]) -> Event {
    budget(BudgetEvent::ResultsDeclared(ResultsDeclared {
        round_id: round_id(r),
        ballots: 3,
        ranking: winners
            .iter()
            .map(|p| Tally {
                project_id: project(*p),
                votes: 1,
            })
            .collect(),
        winners: winners.iter().map(|p| project(*p)).collect(),
        at: at(310),
        acted_by: None,
    }))
}

fn funded(r: u8, p: u8, amount: u64) -> Event {
    budget(BudgetEvent::ProjectFunded(ProjectFunded {
        round_id: round_id(r),
        project_id: project(p),
        amount: amount * UAH,
        at: at(320),
        acted_by: None,
    }))
}

fn progress(r: u8, p: u8, status: ProjectStatus) -> Event {
    budget(BudgetEvent::ProgressReported(ProjectProgressReported {
        round_id: round_id(r),
        project_id: project(p),
        status,
        evidence_link: None,
        note: String::new(),
        at: at(400),
        acted_by: None,
    }))
}

fn closed(r: u8) -> Event {
    budget(BudgetEvent::Closed(RoundClosed {
        round_id: round_id(r),
        at: at(500),
        acted_by: None,
    }))
}

/// Kyiv's events, numbered from 1.
fn numbered(events: Vec<Event>) -> Vec<Verified> {
    events
        .into_iter()
        .zip(1..)
        .map(|(event, seq)| Verified {
            municipality: kyiv_city(),
            seq,
            event,
        })
        .collect()
}

/// A round: three projects (the third ineligible), three ballots, two winners funded, one
/// completed, one still in progress, closed.
fn life() -> Vec<Verified> {
    numbered(vec![
        announced(1),
        submitted(1, 1, 500_000),
        submitted(1, 2, 300_000),
        submitted(1, 3, 200_000),
        reviewed(1, 1, Some(450_000)),
        reviewed(1, 2, Some(300_000)),
        reviewed(1, 3, None),
        ballot(1, 1, &[1, 2]),
        ballot(1, 2, &[1]),
        ballot(1, 3, &[2]),
        results(1, &[1, 2]),
        funded(1, 1, 440_000),
        funded(1, 2, 300_000),
        progress(1, 1, ProjectStatus::InProgress),
        progress(1, 1, ProjectStatus::Completed),
        progress(1, 2, ProjectStatus::InProgress),
        closed(1),
    ])
}

fn expected_round() -> RoundRow {
    RoundRow {
        municipality: kyiv_city(),
        round_id: round_id(1).0,
        announced_at: at(0).0,
        budget_year: 2027,
        amount: 100_000_000,
        local_budget: 20_000_000_000,
        voting_closes: at(300).0,
        projects: 3,
        projects_eligible: 2,
        ballots: 3,
        results_at: Some(at(310).0),
        winners: 2,
        projects_funded: 2,
        funded_total: 74_000_000,
        projects_completed: 1,
        projects_cancelled: 0,
        closed_at: Some(at(500).0),
    }
}

#[test]
fn a_rounds_life_gives_the_rows_worked_out_by_hand_in_any_batches() {
    let events = life();
    let mut whole = MemoryStore::new();
    let outcomes = whole.apply_batch(&events).expect("the life fits");
    assert!(
        outcomes.iter().all(|o| *o == Outcome::Projected),
        "{outcomes:?}"
    );
    assert_eq!(
        whole.round(&key(kyiv_city(), round_id(1).0)),
        Some(&expected_round())
    );
    assert_eq!(
        whole.budget_project(&key(kyiv_city(), project(1).0)),
        Some(&BudgetProjectRow {
            municipality: kyiv_city(),
            project_id: project(1).0,
            round_id: round_id(1).0,
            submitted_at: at(21).0,
            cost: 45_000_000,
            eligible: Some(true),
            funded: Some(44_000_000),
            status: Some(2),
        })
    );
    let third = whole
        .budget_project(&key(kyiv_city(), project(3).0))
        .expect("submitted");
    assert_eq!(
        (third.eligible, third.cost, third.funded),
        (Some(false), 20_000_000, None)
    );
    assert_eq!(whole.entity_counts()[5..], [1, 3]);
    // No counters, weekly or answer-day row moves.
    assert!(whole.counters(kyiv_city()).is_zero());
    for cut in 1..events.len() {
        let mut split = MemoryStore::new();
        split.apply_batch(&events[..cut]).expect("first part");
        split.apply_batch(&events[cut..]).expect("second part");
        assert_eq!(split, whole, "cut at {cut}");
        assert_eq!(split.digest(), whole.digest());
    }
}

#[test]
fn budget_events_the_rows_cannot_take_are_anomalies_that_change_nothing_else() {
    let life = life();
    // Just after the results (event 11), before any funding.
    let declared = life.len() - 6;
    let before_close = life.len() - 1;
    let mut cases: Vec<(&str, usize, Vec<Event>)> = vec![
        (
            "funding over the approved cost",
            declared,
            vec![funded(1, 1, 450_001)],
        ),
        (
            "funding a project that lost",
            declared,
            vec![funded(1, 3, 1)],
        ),
    ];
    let late: Vec<(&str, Vec<Event>)> = vec![
        ("a second announcement", vec![announced(1)]),
        ("a second funding", vec![funded(1, 1, 1)]),
        ("funding an ineligible project", vec![funded(1, 3, 1)]),
        ("a ballot after the results", vec![ballot(1, 9, &[1])]),
        (
            "a submission after the results",
            vec![submitted(1, 4, 20_000)],
        ),
        ("a second review", vec![reviewed(1, 2, Some(1))]),
        (
            "a report after completion",
            vec![progress(1, 1, ProjectStatus::Cancelled)],
        ),
        (
            "a project of another round",
            vec![announced(2), results(2, &[]), funded(2, 2, 1)],
        ),
        ("an unknown round", vec![ballot(7, 1, &[1])]),
    ];
    cases.extend(
        late.into_iter()
            .map(|(what, extra)| (what, before_close, extra)),
    );
    for (what, upto, extra) in cases {
        let prefix: Vec<Event> = life[..upto].iter().map(|v| v.event.clone()).collect();
        let mut base = MemoryStore::new();
        base.apply_batch(&numbered(prefix.clone()))
            .expect("the life fits");
        let mut events = prefix;
        let first_extra = events.len();
        events.extend(extra);
        let all = numbered(events);
        let mut store = base.clone();
        let outcomes = store
            .apply_batch(&all[first_extra..])
            .expect("fits the batch");
        let last = outcomes.last().expect("one outcome at least");
        assert!(matches!(last, Outcome::Anomaly(_)), "{what}: {outcomes:?}");
        assert_eq!(
            store.round(&key(kyiv_city(), round_id(1).0)),
            base.round(&key(kyiv_city(), round_id(1).0)),
            "{what}"
        );
        for p in 1..=3 {
            let k = key(kyiv_city(), project(p).0);
            assert_eq!(store.budget_project(&k), base.budget_project(&k), "{what}");
        }
        assert_eq!(store.counters(kyiv_city()).anomalies, 1, "{what}");
    }
    // After closing, nothing more: not even a report on a funded project in progress.
    let mut events: Vec<Event> = life.iter().map(|v| v.event.clone()).collect();
    events.push(progress(1, 2, ProjectStatus::Completed));
    let mut store = MemoryStore::new();
    let outcomes = store.apply_batch(&numbered(events)).expect("fits");
    assert!(matches!(outcomes.last(), Some(Outcome::Anomaly(_))));
    assert_eq!(
        store.round(&key(kyiv_city(), round_id(1).0)),
        Some(&expected_round())
    );
}

/// The catalogue entry a batch gives budget project `p`.
fn entry(
    patches: &std::collections::BTreeMap<
        projection::catalogue::EntryKey,
        projection::catalogue::Patch,
    >,
    p: u8,
) -> projection::catalogue::Patch {
    patches
        .get(&projection::catalogue::EntryKey {
            municipality: kyiv_city(),
            tool: projection::catalogue::Tool::BudgetProject,
            id: project(p).0,
        })
        .cloned()
        .expect("an entry")
}

#[test]
fn budget_projects_enter_the_practice_catalogue_once_on_the_ballot() {
    let events = life();
    let mut store = MemoryStore::new();
    let outcomes = store.apply_batch(&events).expect("the life fits");
    let patches = projection::catalogue::patches(&events, &outcomes);
    let first = entry(&patches, 1);
    assert_eq!(
        (first.public, first.title.as_deref(), first.status),
        (Some(true), Some("Проєкт 1"), Some("completed"))
    );
    assert_eq!(first.started_at, Some(at(21).0));
    assert_eq!(entry(&patches, 2).status, Some("in_progress"));
    // Found ineligible: its text was never disclosed, and the entry is never shown.
    let third = entry(&patches, 3);
    assert_eq!(
        (third.public, third.title, third.status),
        (Some(false), None, Some("not_eligible"))
    );
    // A project on the ballot that did not win.
    let lost = numbered(vec![
        announced(1),
        submitted(1, 1, 500_000),
        submitted(1, 2, 300_000),
        reviewed(1, 1, Some(450_000)),
        reviewed(1, 2, Some(300_000)),
        ballot(1, 1, &[1]),
        budget(BudgetEvent::ResultsDeclared(ResultsDeclared {
            round_id: round_id(1),
            ballots: 1,
            ranking: vec![
                Tally {
                    project_id: project(1),
                    votes: 1,
                },
                Tally {
                    project_id: project(2),
                    votes: 0,
                },
            ],
            winners: vec![project(1)],
            at: at(310),
            acted_by: None,
        })),
    ]);
    let mut store = MemoryStore::new();
    let outcomes = store.apply_batch(&lost).expect("fits");
    let patches = projection::catalogue::patches(&lost, &outcomes);
    assert_eq!(entry(&patches, 1).status, Some("won"));
    assert_eq!(entry(&patches, 2).status, Some("not_won"));
    assert_eq!(entry(&patches, 2).public, Some(true));
}
