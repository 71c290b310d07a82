//! Action plan amendments and withdrawals in the projection: a moved milestone keeps its row
//! with the new due date; a withdrawn milestone or commitment carries `withdrawn_at`; a step on
//! a withdrawn one, or moving a complete milestone, is an anomaly that changes nothing else.

use domain::Event;
use domain::action_plan::{
    ActionPlanEvent, CommitmentWithdrawn, ImplementationStatus, MilestoneAmended,
    MilestoneWithdrawn,
};
use projection::{MemoryStore, Outcome};

use crate::common::*;

fn amended(m: u8, due: &str, at: event_store_core::Timestamp) -> Event {
    ActionPlanEvent::MilestoneAmended(MilestoneAmended {
        plan_id: plan(1),
        commitment_id: commitment(1),
        milestone_id: milestone(m),
        due: date(due),
        reason: "Тендер перенесено.".into(),
        at,
        acted_by: None,
    })
    .into()
}

fn milestone_withdrawn(m: u8, at: event_store_core::Timestamp) -> Event {
    ActionPlanEvent::MilestoneWithdrawn(MilestoneWithdrawn {
        plan_id: plan(1),
        commitment_id: commitment(1),
        milestone_id: milestone(m),
        reason: "Етап об'єднано.".into(),
        at,
        acted_by: None,
    })
    .into()
}

fn commitment_withdrawn(at: event_store_core::Timestamp) -> Event {
    ActionPlanEvent::CommitmentWithdrawn(CommitmentWithdrawn {
        plan_id: plan(1),
        commitment_id: commitment(1),
        reason: "Виконує область.".into(),
        at,
        acted_by: None,
    })
    .into()
}

#[test]
fn amendments_move_due_dates_and_withdrawals_mark_rows() {
    let k = kyiv_city();
    let t = |minute| kyiv("2024-04-02", 10, minute);
    let mut log = Log::default();
    log.push(k, adopted(plan(1), "2024-01-01", "2025-12-31", t(0)));
    log.push(k, commitment_added(plan(1), commitment(1), t(1)));
    log.push(
        k,
        milestone_added(plan(1), commitment(1), milestone(1), "2024-06-30", t(2)),
    );
    log.push(
        k,
        milestone_added(plan(1), commitment(1), milestone(2), "2024-06-30", t(3)),
    );
    log.push(
        k,
        milestone_added(plan(1), commitment(1), milestone(3), "2024-06-30", t(4)),
    );
    log.push(
        k,
        progress(
            plan(1),
            commitment(1),
            milestone(3),
            ImplementationStatus::Complete,
            t(5),
        ),
    );
    log.push(k, amended(1, "2025-03-31", t(6)));
    log.push(k, milestone_withdrawn(2, t(7)));
    // Not allowed: moving a complete milestone, reporting on a withdrawn one.
    log.push(k, amended(3, "2025-03-31", t(8)));
    log.push(
        k,
        progress(
            plan(1),
            commitment(1),
            milestone(2),
            ImplementationStatus::NotStarted,
            t(9),
        ),
    );
    log.push(k, commitment_withdrawn(t(10)));
    // Not allowed: anything on the withdrawn commitment.
    log.push(k, amended(1, "2025-04-30", t(11)));
    let mut store = MemoryStore::new();
    let outcomes = store.apply_batch(&log.events).expect("the log fits");
    let anomalies: Vec<usize> = outcomes
        .iter()
        .enumerate()
        .filter(|(_, o)| matches!(o, Outcome::Anomaly(_)))
        .map(|(i, _)| i)
        .collect();
    assert_eq!(anomalies, [8, 9, 11]);
    let m1 = store.milestone(&key(k, milestone(1).0)).unwrap();
    assert_eq!((m1.due, m1.withdrawn_at), (day("2025-03-31"), None));
    let m2 = store.milestone(&key(k, milestone(2).0)).unwrap();
    assert_eq!((m2.status, m2.withdrawn_at), (None, Some(t(7).0)));
    assert_eq!(
        store.milestone(&key(k, milestone(3).0)).unwrap().due,
        day("2024-06-30")
    );
    let c = store.commitment(&key(k, commitment(1).0)).unwrap();
    assert_eq!(c.withdrawn_at, Some(t(10).0));
    assert_eq!(store.counters(k).anomalies, 3);
    // Cut anywhere, the same rows.
    for cut in 1..log.events.len() {
        let mut split = MemoryStore::new();
        split.apply_batch(&log.events[..cut]).unwrap();
        split.apply_batch(&log.events[cut..]).unwrap();
        assert_eq!(split, store, "cut at {cut}");
    }
}
