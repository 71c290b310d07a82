//! The scripted life, applied in several batches through the reference store, checked number by
//! number against values worked out by hand.

use projection::codes::{decision_code, dialogue_kind_code, opened_government_code, status_code};
use projection::{
    AnswerDays, CommitmentRow, Counters, DialogueRow, MemoryStore, MilestoneRow, Outcome,
    PetitionPhase, PetitionRow, PlanRow, WeeklyCounters,
};

use domain::action_plan::{ImplementationStatus as S, OpenedGovernment as O};
use domain::dialogue::DialogueKind;
use domain::petition::AnswerDecision;

use crate::common::*;
use crate::script::scripted_life;

/// The script applied in four uneven batches.
fn projected() -> MemoryStore {
    let log = scripted_life();
    let mut store = MemoryStore::new();
    let events = &log.events;
    for range in [0..10, 10..11, 11..33, 33..events.len()] {
        store
            .apply_batch(&events[range])
            .expect("the script fits every batch");
    }
    store
}

#[test]
fn counters_match_the_script() {
    let store = projected();
    let kyiv = Counters {
        petitions_filed: 3,
        petitions_published: 2,
        petitions_rejected: 1,
        petitions_threshold_reached: 1,
        petitions_collection_failed: 1,
        petitions_consideration_started: 1,
        petitions_answered: 1,
        petitions_answered_on_time: 1,
        signatures: 5,
        dialogues_announced_by_kind: [0, 1, 0, 0, 0, 0],
        dialogues_closed: 1,
        outcome_reports: 1,
        contributions: 3,
        contributions_answered: 3,
        anomalies: 6,
        ..Counters::default()
    };
    assert_eq!(store.counters(kyiv_city()), kyiv);
    let vinnytsia_counters = Counters {
        petitions_filed: 2,
        petitions_published: 2,
        petitions_threshold_reached: 1,
        petitions_consideration_started: 1,
        petitions_answered: 1,
        petitions_answered_on_time: 0,
        signatures: 1,
        dialogues_announced_by_kind: [0, 0, 0, 0, 1, 0],
        contributions: 1,
        plans_adopted: 1,
        plans_closed: 1,
        commitments: 2,
        commitments_assessed: 2,
        milestones: 3,
        // No report (milestone 3), not started (2), complete (1).
        milestones_by_status: [1, 0, 1, 0, 0, 1],
        // Marginal (commitment 2) and outstanding (commitment 1, re-assessed from major).
        opened_government: [0, 0, 1, 0, 1],
        anomalies: 7,
        ..Counters::default()
    };
    assert_eq!(store.counters(vinnytsia()), vinnytsia_counters);
}

#[test]
fn weekly_buckets_and_answer_days_match_the_script() {
    let store = projected();
    let (k, v) = (kyiv_city(), vinnytsia());
    let week =
        |municipality, monday_text: &str| WeeklyCounters::zero(municipality, monday(monday_text));
    let expected = vec![
        // Vinnytsia's code sorts first.
        WeeklyCounters {
            petitions_filed: 1,
            signatures: 1,
            petitions_threshold_reached: 1,
            contributions: 1,
            ..week(v, "2024-03-25")
        },
        WeeklyCounters {
            petitions_filed: 1,
            ..week(v, "2024-04-01")
        },
        WeeklyCounters {
            petitions_answered: 1,
            ..week(v, "2024-04-15")
        },
        WeeklyCounters {
            milestones_completed: 1,
            ..week(v, "2024-05-13")
        },
        WeeklyCounters {
            petitions_filed: 3,
            signatures: 3,
            contributions: 2,
            ..week(k, "2024-01-15")
        },
        WeeklyCounters {
            signatures: 2,
            petitions_threshold_reached: 1,
            contributions: 1,
            ..week(k, "2024-01-22")
        },
        WeeklyCounters {
            dialogues_closed: 1,
            ..week(k, "2024-01-29")
        },
        WeeklyCounters {
            petitions_answered: 1,
            ..week(k, "2024-02-05")
        },
    ];
    assert_eq!(store.weekly().cloned().collect::<Vec<_>>(), expected);
    let answer_days = vec![
        AnswerDays {
            municipality: v,
            days: 15,
            count: 1,
        },
        AnswerDays {
            municipality: k,
            days: 14,
            count: 1,
        },
    ];
    assert_eq!(store.answer_days().collect::<Vec<_>>(), answer_days);
}

#[test]
fn petition_rows_match_the_script() {
    let store = projected();
    let (k, v) = (kyiv_city(), vinnytsia());
    // Moderation is due two working days after filing on the national clock (the script's
    // node records three calendar days: the earlier counts), and every moderation came in
    // time; publication records the statute's 10 working days and 30 days of collection.
    let base = |municipality, p: domain::PetitionId, filed_at: (&str, i64, i64), due| PetitionRow {
        municipality,
        petition_id: p.0,
        filed_at: kyiv(filed_at.0, filed_at.1, filed_at.2).0,
        phase: PetitionPhase::AwaitingModeration.as_u8(),
        published_at: None,
        threshold: 0,
        signatures: 0,
        threshold_reached_at: None,
        consideration_started_at: None,
        answer_due: None,
        answered_at: None,
        decision: None,
        answered_on_time: None,
        implementation_updates: 0,
        moderation_due: day(due),
        moderated_on_time: Some(true),
        answer_term_days: 10,
        collection_period_days: 30,
        start_due: None,
        started_on_time: None,
    };
    let p1 = PetitionRow {
        phase: PetitionPhase::Answered.as_u8(),
        published_at: Some(kyiv("2024-01-16", 9, 0).0),
        threshold: 3,
        signatures: 4,
        threshold_reached_at: Some(kyiv("2024-01-22", 0, 30).0),
        consideration_started_at: Some(kyiv("2024-01-24", 10, 0).0),
        answer_due: Some(day("2024-02-07")),
        answered_at: Some(kyiv("2024-02-07", 17, 0).0),
        decision: Some(decision_code(AnswerDecision::Supported)),
        answered_on_time: Some(true),
        implementation_updates: 2,
        // Three working days from Monday 22 January; started on the 24th.
        start_due: Some(day("2024-01-25")),
        started_on_time: Some(true),
        ..base(k, pid(1), ("2024-01-15", 10, 0), "2024-01-17")
    };
    assert_eq!(store.petition(&key(k, pid(1).0)), Some(&p1));
    let p2 = PetitionRow {
        phase: PetitionPhase::Rejected.as_u8(),
        answer_term_days: 0,
        collection_period_days: 0,
        ..base(k, pid(2), ("2024-01-17", 11, 0), "2024-01-19")
    };
    assert_eq!(store.petition(&key(k, pid(2).0)), Some(&p2));
    let p3 = PetitionRow {
        phase: PetitionPhase::CollectionFailed.as_u8(),
        published_at: Some(kyiv("2024-01-19", 9, 0).0),
        threshold: 100,
        signatures: 1,
        // The node's three calendar days end on Sunday, before the national Monday.
        ..base(k, pid(3), ("2024-01-18", 12, 0), "2024-01-21")
    };
    assert_eq!(store.petition(&key(k, pid(3).0)), Some(&p3));
    let p4 = PetitionRow {
        phase: PetitionPhase::Answered.as_u8(),
        published_at: Some(kyiv("2024-03-26", 10, 0).0),
        threshold: 1,
        signatures: 1,
        threshold_reached_at: Some(kyiv("2024-03-30", 23, 30).0),
        consideration_started_at: Some(kyiv("2024-04-01", 9, 0).0),
        answer_due: Some(day("2024-04-15")),
        answered_at: Some(kyiv("2024-04-16", 0, 30).0),
        decision: Some(decision_code(AnswerDecision::NotSupported)),
        answered_on_time: Some(false),
        // The threshold came on a Saturday: Monday, Tuesday, Wednesday.
        start_due: Some(day("2024-04-03")),
        started_on_time: Some(true),
        ..base(v, pid(4), ("2024-03-25", 10, 0), "2024-03-27")
    };
    assert_eq!(store.petition(&key(v, pid(4).0)), Some(&p4));
    let p5 = PetitionRow {
        phase: PetitionPhase::Collecting.as_u8(),
        published_at: Some(kyiv("2024-04-04", 10, 0).0),
        threshold: 50,
        ..base(v, pid(5), ("2024-04-02", 10, 0), "2024-04-04")
    };
    assert_eq!(store.petition(&key(v, pid(5).0)), Some(&p5));
    // Nothing for the petition Kyiv never filed, nor for Kyiv's ids in Vinnytsia.
    assert_eq!(store.petition(&key(k, pid(9).0)), None);
    assert_eq!(store.petition(&key(v, pid(1).0)), None);
}

#[test]
fn dialogue_rows_match_the_script() {
    let store = projected();
    let (k, v) = (kyiv_city(), vinnytsia());
    let d1 = DialogueRow {
        municipality: k,
        dialogue_id: did(1).0,
        kind: dialogue_kind_code(DialogueKind::PublicHearing),
        announced_at: kyiv("2024-01-15", 12, 0).0,
        contributions: 3,
        answered: 3,
        accepted: 1,
        partly_accepted: 1,
        rejected: 1,
        closed_at: Some(kyiv("2024-01-30", 18, 0).0),
        attendance: 120,
        outcome_published_at: Some(kyiv("2024-02-05", 10, 0).0),
    };
    assert_eq!(store.dialogue(&key(k, did(1).0)), Some(&d1));
    let d2 = DialogueRow {
        municipality: v,
        dialogue_id: did(2).0,
        kind: dialogue_kind_code(DialogueKind::YouthCouncil),
        announced_at: kyiv("2024-03-25", 11, 0).0,
        contributions: 1,
        answered: 0,
        accepted: 0,
        partly_accepted: 0,
        rejected: 0,
        closed_at: None,
        attendance: 0,
        outcome_published_at: None,
    };
    assert_eq!(store.dialogue(&key(v, did(2).0)), Some(&d2));
}

#[test]
fn plan_rows_match_the_script() {
    let store = projected();
    let v = vinnytsia();
    let plan_row = PlanRow {
        municipality: v,
        plan_id: plan(1).0,
        adopted_at: kyiv("2024-03-26", 10, 0).0,
        period_start: day("2024-04-01"),
        period_end: day("2025-12-31"),
        commitments: 2,
        closed_at: Some(kyiv("2025-01-10", 10, 0).0),
        draft: false,
    };
    assert_eq!(store.plan(&key(v, plan(1).0)), Some(&plan_row));
    let c1 = CommitmentRow {
        municipality: v,
        commitment_id: commitment(1).0,
        plan_id: plan(1).0,
        added_at: kyiv("2024-03-27", 10, 0).0,
        milestones: 2,
        completion: Some(status_code(S::Complete)),
        opened_government: Some(opened_government_code(O::Outstanding)),
        withdrawn_at: None,
    };
    assert_eq!(store.commitment(&key(v, commitment(1).0)), Some(&c1));
    let c2 = CommitmentRow {
        commitment_id: commitment(2).0,
        added_at: kyiv("2024-03-27", 11, 0).0,
        milestones: 1,
        completion: Some(status_code(S::Limited)),
        opened_government: Some(opened_government_code(O::Marginal)),
        ..c1.clone()
    };
    assert_eq!(store.commitment(&key(v, commitment(2).0)), Some(&c2));
    assert_eq!(store.commitment(&key(v, commitment(3).0)), None);
    let m1 = MilestoneRow {
        municipality: v,
        milestone_id: milestone(1).0,
        plan_id: plan(1).0,
        commitment_id: commitment(1).0,
        due: day("2024-06-30"),
        status: Some(status_code(S::Complete)),
        // The first report of completion, not the second.
        completed_at: Some(kyiv("2024-05-15", 10, 0).0),
        withdrawn_at: None,
    };
    assert_eq!(store.milestone(&key(v, milestone(1).0)), Some(&m1));
    let m2 = MilestoneRow {
        milestone_id: milestone(2).0,
        due: day("2024-09-30"),
        status: Some(status_code(S::NotStarted)),
        completed_at: None,
        ..m1.clone()
    };
    assert_eq!(store.milestone(&key(v, milestone(2).0)), Some(&m2));
    let m3 = MilestoneRow {
        milestone_id: milestone(3).0,
        commitment_id: commitment(2).0,
        due: day("2024-12-31"),
        status: None,
        completed_at: None,
        ..m1.clone()
    };
    assert_eq!(store.milestone(&key(v, milestone(3).0)), Some(&m3));
    assert_eq!(store.milestone(&key(v, milestone(4).0)), None);
    assert_eq!(store.entity_counts(), [5, 2, 1, 2, 3, 0, 0]);
}

#[test]
fn positions_count_every_event_and_outcomes_name_each_anomaly() {
    let log = scripted_life();
    let store = projected();
    assert_eq!(store.position(kyiv_city()), Some(log.len_of(kyiv_city())));
    assert_eq!(store.position(vinnytsia()), Some(log.len_of(vinnytsia())));
    let outcomes = MemoryStore::new()
        .apply_batch(&log.events)
        .expect("the script fits one batch");
    let anomalies = outcomes
        .iter()
        .filter(|o| matches!(o, Outcome::Anomaly(_)))
        .count();
    assert_eq!(anomalies, 6 + 7);
    let no_effect = outcomes.iter().filter(|o| **o == Outcome::NoEffect).count();
    assert_eq!(no_effect, 1, "the calendar event");
}

#[test]
fn a_batch_upserts_only_the_rows_it_changed() {
    let log = scripted_life();
    let store = projected();
    let (k, v) = (kyiv_city(), vinnytsia());
    let next = |m| log.len_of(m) + 1;
    let batch = vec![
        // A duplicate filing touches petition 1 but must not rewrite it.
        projection::Verified {
            municipality: k,
            seq: next(k),
            event: filed(pid(1), kyiv("2025-02-01", 10, 0)),
        },
        // A report of the status a milestone already has rewrites nothing and counts nothing.
        projection::Verified {
            municipality: v,
            seq: next(v),
            event: progress(
                plan(1),
                commitment(1),
                milestone(2),
                S::NotStarted,
                kyiv("2025-02-01", 10, 0),
            ),
        },
        projection::Verified {
            municipality: v,
            seq: next(v) + 1,
            event: signed(pid(5), 7, kyiv("2025-02-03", 10, 0)),
        },
    ];
    let touched = projection::touched(&batch);
    assert_eq!(touched.petitions, vec![key(v, pid(5).0), key(k, pid(1).0)]);
    assert_eq!(touched.milestones, vec![key(v, milestone(2).0)]);
    // The report reads its plan too: a draft's milestones take none.
    assert_eq!(touched.plans, vec![key(v, plan(1).0)]);
    assert_eq!(touched.len(), 4);
    let mut working = projection::Working::new(&touched);
    for petition_key in &touched.petitions {
        let row = store.petition(petition_key).cloned().expect("both exist");
        working.insert_petition(row).expect("touched");
    }
    let m2 = store
        .milestone(&touched.milestones[0])
        .cloned()
        .expect("exists");
    working.insert_milestone(m2).expect("touched");
    let p1 = store.plan(&touched.plans[0]).cloned().expect("exists");
    working.insert_plan(p1).expect("touched");
    for verified in &batch {
        working.apply(verified).expect("fits the batch");
    }
    let changes = working.finish();
    let p5 = store.petition(&key(v, pid(5).0)).cloned().expect("exists");
    assert_eq!(
        changes.petitions,
        vec![PetitionRow {
            signatures: 1,
            ..p5
        }]
    );
    assert!(changes.milestones.is_empty());
    assert!(changes.dialogues.is_empty() && changes.plans.is_empty());
    assert!(changes.commitments.is_empty());
    assert_eq!(
        changes.counters,
        vec![
            (
                v,
                Counters {
                    signatures: 1,
                    ..Counters::default()
                }
            ),
            (
                k,
                Counters {
                    anomalies: 1,
                    ..Counters::default()
                }
            ),
        ]
    );
    assert_eq!(
        changes.weekly,
        vec![WeeklyCounters {
            signatures: 1,
            ..WeeklyCounters::zero(v, monday("2025-02-03"))
        }]
    );
    assert!(changes.answer_days.is_empty());
    assert_eq!(changes.positions, vec![(v, next(v) + 1), (k, next(k))]);
}
