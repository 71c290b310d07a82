//! A plan drafted with its local forum in the projection: the draft has a row from the start
//! (its commitments need one) but counts as an adopted plan only once the council adopts it;
//! a report, an assessment or closing on a draft, and adopting twice, are anomalies that
//! change nothing (a hostile node cannot count a draft's self-assessment nationally).

use domain::Event;
use domain::action_plan::{
    ActionPlanEvent, CoChairNamed, DraftAdopted, ForumMemberJoined, ForumMemberLeft, ForumSide,
    ImplementationStatus, OpenedGovernment, PlanDrafted, Proposal,
};
use domain::{ContributionId, DialogueId, ForumMemberId};
use projection::{MemoryStore, Outcome};
use uuid::Uuid;

use crate::common::*;

fn member(n: u8) -> ForumMemberId {
    ForumMemberId(Uuid::from_u128(0xF0 + u128::from(n)))
}

fn drafted(at: event_store_core::Timestamp) -> Event {
    ActionPlanEvent::Drafted(PlanDrafted {
        plan_id: plan(1),
        title: "План дій (проєкт)".into(),
        period_start: date("2024-01-01"),
        period_end: date("2025-12-31"),
        at,
        acted_by: None,
    })
    .into()
}

fn joined(n: u8, side: ForumSide, at: event_store_core::Timestamp) -> Event {
    ActionPlanEvent::ForumMemberJoined(ForumMemberJoined {
        plan_id: plan(1),
        member_id: member(n),
        side,
        organisation: "ГО".into(),
        role: "голова".into(),
        at,
        acted_by: None,
    })
    .into()
}

fn draft_adopted(proposals: usize, at: event_store_core::Timestamp) -> Event {
    ActionPlanEvent::DraftAdopted(DraftAdopted {
        plan_id: plan(1),
        council_decision: "№ 1".into(),
        proposals: (0..proposals)
            .map(|n| Proposal {
                dialogue_id: DialogueId(Uuid::from_u128(0xD1)),
                contribution_id: ContributionId(Uuid::from_u128(n as u128)),
            })
            .collect(),
        at,
        acted_by: None,
    })
    .into()
}

#[test]
fn a_draft_counts_as_adopted_only_when_the_council_adopts_it() {
    let k = kyiv_city();
    let t = |minute| kyiv("2024-02-02", 10, minute);
    let mut log = Log::default();
    log.push(k, drafted(t(0)));
    log.push(k, joined(1, ForumSide::Government, t(1)));
    log.push(k, joined(2, ForumSide::Public, t(2)));
    log.push(k, joined(3, ForumSide::Public, t(3)));
    log.push(
        k,
        ActionPlanEvent::CoChairNamed(CoChairNamed {
            plan_id: plan(1),
            member_id: member(2),
            side: ForumSide::Public,
            at: t(4),
            acted_by: None,
        })
        .into(),
    );
    log.push(
        k,
        ActionPlanEvent::ForumMemberLeft(ForumMemberLeft {
            plan_id: plan(1),
            member_id: member(3),
            reason: "Вибула.".into(),
            at: t(5),
            acted_by: None,
        })
        .into(),
    );
    log.push(k, commitment_added(plan(1), commitment(1), t(6)));
    let mut store = MemoryStore::new();
    store.apply_batch(&log.events).expect("the log fits");
    let row = store.plan(&key(k, plan(1).0)).unwrap().clone();
    assert!(row.draft);
    assert_eq!(row.commitments, 1);
    assert_eq!(store.counters(k).plans_adopted, 0, "a draft is not adopted");

    // Not allowed on a draft: a report, an assessment, closing.
    log.push(
        k,
        milestone_added(plan(1), commitment(1), milestone(1), "2024-06-30", t(7)),
    );
    log.push(
        k,
        progress(
            plan(1),
            commitment(1),
            milestone(1),
            ImplementationStatus::NotStarted,
            t(8),
        ),
    );
    log.push(
        k,
        assessed(
            plan(1),
            commitment(1),
            ImplementationStatus::Complete,
            OpenedGovernment::Major,
            t(9),
        ),
    );
    log.push(k, plan_closed(plan(1), t(10)));
    log.push(k, draft_adopted(3, t(11)));
    // Not allowed: adopting it again.
    log.push(k, draft_adopted(1, t(12)));
    let mut store = MemoryStore::new();
    let outcomes = store.apply_batch(&log.events).expect("the log fits");
    let anomalies: Vec<usize> = outcomes
        .iter()
        .enumerate()
        .filter(|(_, o)| matches!(o, Outcome::Anomaly(_)))
        .map(|(i, _)| i)
        .collect();
    assert_eq!(anomalies, [8, 9, 10, 12]);
    let row = store.plan(&key(k, plan(1).0)).unwrap();
    assert!(!row.draft);
    assert_eq!((row.adopted_at, row.closed_at), (t(11).0, None));
    let counters = store.counters(k);
    assert_eq!(
        (
            counters.plans_adopted,
            counters.commitments_assessed,
            counters.plans_closed
        ),
        (1, 0, 0)
    );
    // Cut anywhere, the same rows.
    for cut in 1..log.events.len() {
        let mut split = MemoryStore::new();
        split.apply_batch(&log.events[..cut]).unwrap();
        split.apply_batch(&log.events[cut..]).unwrap();
        assert_eq!(split, store, "cut at {cut}");
    }
}
