//! A plan drafted with its local forum in the projection: the draft has a row from the start
//! (its commitments need one) but counts as an adopted plan only once the council adopts it;
//! the row counts the forum's seats and the proposals the adoption recorded; adopting twice, or
//! a forum step after closing, is an anomaly that changes nothing.

use domain::Event;
use domain::action_plan::{
    ActionPlanEvent, CoChairNamed, DraftAdopted, ForumMemberJoined, ForumMemberLeft, ForumSide,
    PlanDrafted, Proposal,
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
    assert_eq!((row.forum_seats, row.commitments, row.proposals), (2, 1, 0));
    assert_eq!(store.counters(k).plans_adopted, 0, "a draft is not adopted");

    log.push(k, draft_adopted(3, t(7)));
    // Not allowed: adopting it again.
    log.push(k, draft_adopted(1, t(8)));
    let mut store = MemoryStore::new();
    let outcomes = store.apply_batch(&log.events).expect("the log fits");
    let anomalies: Vec<usize> = outcomes
        .iter()
        .enumerate()
        .filter(|(_, o)| matches!(o, Outcome::Anomaly(_)))
        .map(|(i, _)| i)
        .collect();
    assert_eq!(anomalies, [8]);
    let row = store.plan(&key(k, plan(1).0)).unwrap();
    assert!(!row.draft);
    assert_eq!(
        (row.adopted_at, row.proposals, row.forum_seats),
        (t(7).0, 3, 2)
    );
    assert_eq!(store.counters(k).plans_adopted, 1);
    // Cut anywhere, the same rows.
    for cut in 1..log.events.len() {
        let mut split = MemoryStore::new();
        split.apply_batch(&log.events[..cut]).unwrap();
        split.apply_batch(&log.events[cut..]).unwrap();
        assert_eq!(split, store, "cut at {cut}");
    }
}
