//! Events the projection cannot apply are counted and change nothing else; a store that feeds
//! a batch the wrong rows or events gets a typed error and no change.

use domain::action_plan::{ImplementationStatus as S, OpenedGovernment as O};
use domain::dialogue::ContributionResponse;
use domain::petition::AnswerDecision;
use domain::{Event, EventType};
use event_store_core::MunicipalityCode;
use projection::{
    Anomaly, ApplyError, Changes, Counters, EntityKind, LoadError, MemoryStore, Outcome, Touched,
    Verified, Working, touched,
};

use crate::common::*;
use crate::script::scripted_life;

/// Every event type that names an existing entity, each naming ids no log ever created.
fn events_for_unknown_entities() -> Vec<(Event, EntityKind)> {
    let at = kyiv("2025-06-02", 10, 0);
    let (p, d) = (pid(77), did(77));
    let (pl, c, m) = (plan(77), commitment(77), milestone(77));
    use EntityKind::{Commitment, Dialogue, Milestone, Petition, Plan};
    vec![
        (published(p, 10, at), Petition),
        (rejected(p, at), Petition),
        (signed(p, 1, at), Petition),
        (threshold_reached(p, 10, at), Petition),
        (collection_closed(p, 1, at), Petition),
        (consideration_started(p, at, "2025-06-16"), Petition),
        (answered(p, AnswerDecision::Supported, at), Petition),
        (implementation_updated(p, at), Petition),
        (contributed(d, 1, at), Dialogue),
        (
            contribution_answered(d, 1, ContributionResponse::Accepted, at),
            Dialogue,
        ),
        (dialogue_closed(d, 5, at), Dialogue),
        (outcome_published(d, at), Dialogue),
        (commitment_added(pl, c, at), Plan),
        (milestone_added(pl, c, m, "2025-12-01", at), Commitment),
        (progress(pl, c, m, S::Limited, at), Milestone),
        (assessed(pl, c, S::Limited, O::Major, at), Commitment),
        (plan_closed(pl, at), Plan),
    ]
}

fn numbered(municipality: MunicipalityCode, first_seq: u64, events: Vec<Event>) -> Vec<Verified> {
    events
        .into_iter()
        .zip(first_seq..)
        .map(|(event, seq)| Verified {
            municipality,
            seq,
            event,
        })
        .collect()
}

/// `store` as it should be after `count` anomalies of `municipality` up to `seq`.
fn with_anomalies(
    store: &MemoryStore,
    municipality: MunicipalityCode,
    count: i64,
    seq: u64,
) -> MemoryStore {
    let mut expected = store.clone();
    expected.commit(&Changes {
        counters: vec![(
            municipality,
            Counters {
                anomalies: count,
                ..Counters::default()
            },
        )],
        positions: vec![(municipality, seq)],
        ..Changes::default()
    });
    expected
}

#[test]
fn unknown_entities_are_counted_and_change_nothing_else() {
    let log = scripted_life();
    let mut store = MemoryStore::new();
    store.apply_batch(&log.events).expect("the script fits");
    let before = store.clone();
    let k = kyiv_city();
    let (events, kinds): (Vec<Event>, Vec<EntityKind>) =
        events_for_unknown_entities().into_iter().unzip();
    let first = log.len_of(k) + 1;
    let batch = numbered(k, first, events);
    let outcomes = store.apply_batch(&batch).expect("fits its batch");
    let expected: Vec<Outcome> = kinds
        .iter()
        .map(|kind| Outcome::Anomaly(Anomaly::Unknown(*kind)))
        .collect();
    assert_eq!(outcomes, expected);
    let count = i64::try_from(batch.len()).expect("small");
    let last = first + u64::try_from(batch.len()).expect("small") - 1;
    assert_eq!(store, with_anomalies(&before, k, count, last));
    assert_eq!(
        store.digest().expect("digest"),
        with_anomalies(&before, k, count, last)
            .digest()
            .expect("digest")
    );
}

#[test]
fn ids_of_another_municipality_are_unknown() {
    let log = scripted_life();
    let mut store = MemoryStore::new();
    store.apply_batch(&log.events).expect("the script fits");
    let before = store.clone();
    // Vinnytsia's plan, commitment and milestone, and Kyiv's petition and dialogue, named in
    // the other municipality's log.
    let at = kyiv("2025-06-02", 10, 0);
    let (k, v) = (kyiv_city(), vinnytsia());
    let in_kyiv = numbered(
        k,
        log.len_of(k) + 1,
        vec![
            progress(plan(1), commitment(1), milestone(2), S::Complete, at),
            plan_closed(plan(1), at),
        ],
    );
    let in_vinnytsia = numbered(
        v,
        log.len_of(v) + 1,
        vec![signed(pid(1), 9, at), dialogue_closed(did(1), 1, at)],
    );
    store.apply_batch(&in_kyiv).expect("fits");
    store.apply_batch(&in_vinnytsia).expect("fits");
    let expected = with_anomalies(&before, k, 2, log.len_of(k) + 2);
    let expected = with_anomalies(&expected, v, 2, log.len_of(v) + 2);
    assert_eq!(store, expected);
}

#[test]
fn an_empty_projection_takes_no_half_rows_from_orphans() {
    let mut store = MemoryStore::new();
    let v = vinnytsia();
    let (events, _): (Vec<Event>, Vec<EntityKind>) =
        events_for_unknown_entities().into_iter().unzip();
    let count = events.len();
    store
        .apply_batch(&numbered(v, 1, events))
        .expect("fits its batch");
    assert_eq!(store.entity_counts(), [0; 7]);
    assert!(store.weekly().next().is_none());
    assert!(store.answer_days().next().is_none());
    let expected = Counters {
        anomalies: i64::try_from(count).expect("small"),
        ..Counters::default()
    };
    assert_eq!(store.counters(v), expected);
}

#[test]
fn anomalies_name_the_rule_they_broke() {
    let log = scripted_life();
    let outcomes = MemoryStore::new()
        .apply_batch(&log.events)
        .expect("the script fits");
    let anomalies: Vec<Anomaly> = outcomes
        .iter()
        .filter_map(|outcome| match outcome {
            Outcome::Anomaly(anomaly) => Some(*anomaly),
            _ => None,
        })
        .collect();
    let not_allowed = |kind, event| Anomaly::NotAllowed { kind, event };
    use EntityKind::{Commitment, Dialogue, Milestone, Petition, Plan};
    assert_eq!(
        anomalies,
        vec![
            Anomaly::AlreadyExists(Petition),
            not_allowed(Dialogue, EventType::ContributionSubmitted),
            not_allowed(Dialogue, EventType::ContributionAnswered),
            Anomaly::Unknown(Petition),
            Anomaly::AlreadyExists(Plan),
            not_allowed(Petition, EventType::ConsiderationStarted),
            Anomaly::Unknown(Milestone),
            Anomaly::Unknown(Milestone),
            not_allowed(Petition, EventType::ImplementationUpdated),
            Anomaly::OtherParent(Milestone),
            not_allowed(Commitment, EventType::MilestoneAdded),
            not_allowed(Plan, EventType::PlanClosed),
            not_allowed(Plan, EventType::CommitmentAdded),
        ]
    );
    assert_eq!(
        not_allowed(Petition, EventType::PetitionSigned).to_string(),
        "the petition is not in a state that allows petition.signed"
    );
}

#[test]
fn an_event_outside_the_touched_keys_is_refused_and_changes_nothing() {
    let k = kyiv_city();
    let at = kyiv("2025-06-02", 10, 0);
    let mut working = Working::new(&Touched::default());
    let event = Verified {
        municipality: k,
        seq: 1,
        event: filed(pid(1), at),
    };
    assert_eq!(
        working.apply(&event),
        Err(ApplyError::NotTouched {
            municipality: k,
            seq: 1,
            kind: EntityKind::Petition,
            id: pid(1).0,
        })
    );
    // The calendar reads no row: it fits any batch, and only moves the position.
    let calendar = Verified {
        municipality: k,
        seq: 1,
        event: calendar_set(at),
    };
    assert_eq!(working.apply(&calendar), Ok(Outcome::NoEffect));
    let changes = working.finish();
    assert_eq!(
        changes,
        Changes {
            positions: vec![(k, 1)],
            ..Changes::default()
        }
    );
}

#[test]
fn events_of_one_municipality_must_come_in_sequence_order() {
    let (k, v) = (kyiv_city(), vinnytsia());
    let at = kyiv("2025-06-02", 10, 0);
    let batch = vec![
        Verified {
            municipality: k,
            seq: 5,
            event: filed(pid(1), at),
        },
        Verified {
            municipality: v,
            seq: 1,
            event: filed(pid(1), at),
        },
        Verified {
            municipality: k,
            seq: 5,
            event: signed(pid(1), 1, at),
        },
    ];
    let mut working = Working::new(&touched(&batch));
    assert_eq!(working.apply(&batch[0]), Ok(Outcome::Projected));
    assert_eq!(working.apply(&batch[1]), Ok(Outcome::Projected));
    assert_eq!(
        working.apply(&batch[2]),
        Err(ApplyError::SeqNotAfter {
            municipality: k,
            seq: 5,
            last: 5,
        })
    );
    let changes = working.finish();
    assert_eq!(changes.positions, vec![(v, 1), (k, 5)]);
    assert_eq!(changes.petitions.len(), 2);
    assert!(changes.petitions.iter().all(|row| row.signatures == 0));
    // Through the reference store, the whole batch is refused and nothing is committed.
    let mut store = MemoryStore::new();
    assert!(store.apply_batch(&batch).is_err());
    assert_eq!(store, MemoryStore::new());
}

#[test]
fn rows_that_do_not_fit_the_batch_are_refused() {
    let log = scripted_life();
    let mut store = MemoryStore::new();
    store.apply_batch(&log.events).expect("the script fits");
    let k = kyiv_city();
    let p1 = store.petition(&key(k, pid(1).0)).cloned().expect("exists");
    let p2 = store.petition(&key(k, pid(2).0)).cloned().expect("exists");
    let batch = vec![Verified {
        municipality: k,
        seq: log.len_of(k) + 1,
        event: implementation_updated(pid(1), kyiv("2025-06-02", 10, 0)),
    }];
    let keys = touched(&batch);
    let mut working = Working::new(&keys);
    assert_eq!(
        working.insert_petition(p2.clone()),
        Err(LoadError::NotTouched {
            kind: EntityKind::Petition,
            key: p2.key(),
        })
    );
    assert_eq!(working.insert_petition(p1.clone()), Ok(()));
    assert_eq!(
        working.insert_petition(p1.clone()),
        Err(LoadError::AlreadyLoaded {
            kind: EntityKind::Petition,
            key: p1.key(),
        })
    );
    assert_eq!(working.apply(&batch[0]), Ok(Outcome::Projected));
    assert_eq!(
        working.insert_petition(p1.clone()),
        Err(LoadError::AfterApply {
            kind: EntityKind::Petition,
            key: p1.key(),
        })
    );
    let changes = working.finish();
    assert_eq!(changes.petitions.len(), 1);
    assert_eq!(changes.petitions[0].implementation_updates, 3);
}

#[test]
fn corrupt_stored_codes_are_anomalies_not_panics() {
    let k = kyiv_city();
    let at = kyiv("2025-06-02", 10, 0);
    let mut store = MemoryStore::new();
    let setup = numbered(
        k,
        1,
        vec![
            filed(pid(1), at),
            adopted(plan(1), "2025-01-01", "2025-12-31", at),
            commitment_added(plan(1), commitment(1), at),
            milestone_added(plan(1), commitment(1), milestone(1), "2025-12-01", at),
            assessed(plan(1), commitment(1), S::Limited, O::Major, at),
        ],
    );
    store.apply_batch(&setup).expect("fits");
    // Rows as a damaged database might hold them: codes that name nothing.
    let mut petition = store.petition(&key(k, pid(1).0)).cloned().expect("exists");
    petition.phase = 200;
    let mut milestone_row = store
        .milestone(&key(k, milestone(1).0))
        .cloned()
        .expect("exists");
    milestone_row.status = Some(9);
    let mut commitment_row = store
        .commitment(&key(k, commitment(1).0))
        .cloned()
        .expect("exists");
    commitment_row.opened_government = Some(77);
    let batch = numbered(
        k,
        6,
        vec![
            published(pid(1), 3, at),
            progress(plan(1), commitment(1), milestone(1), S::Complete, at),
            assessed(plan(1), commitment(1), S::Complete, O::Major, at),
        ],
    );
    let mut working = Working::new(&touched(&batch));
    working.insert_petition(petition).expect("touched");
    working.insert_milestone(milestone_row).expect("touched");
    working.insert_commitment(commitment_row).expect("touched");
    let outcomes: Vec<Outcome> = batch
        .iter()
        .map(|event| working.apply(event).expect("fits"))
        .collect();
    use EntityKind::{Commitment, Milestone, Petition};
    assert_eq!(
        outcomes,
        vec![
            Outcome::Anomaly(Anomaly::NotAllowed {
                kind: Petition,
                event: EventType::PetitionPublished
            }),
            Outcome::Anomaly(Anomaly::NotAllowed {
                kind: Milestone,
                event: EventType::ProgressReported
            }),
            Outcome::Anomaly(Anomaly::NotAllowed {
                kind: Commitment,
                event: EventType::CommitmentAssessed
            }),
        ]
    );
    let changes = working.finish();
    assert!(changes.petitions.is_empty() && changes.milestones.is_empty());
    assert!(changes.commitments.is_empty());
    assert_eq!(
        changes.counters,
        vec![(
            k,
            Counters {
                anomalies: 3,
                ..Counters::default()
            }
        )]
    );
}
