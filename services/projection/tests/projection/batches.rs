//! However a history is split into batches, the projection comes out the same, row for row and
//! digest for digest: the property that lets the association commit a batch at a time and an
//! auditor replay in one go.

use domain::Event;
use domain::action_plan::{ImplementationStatus, OpenedGovernment};
use domain::dialogue::{ContributionResponse, DialogueKind};
use domain::petition::AnswerDecision;
use event_store_core::{MunicipalityCode, Timestamp};
use projection::{Changes, MemoryStore, Verified, Working};
use proptest::prelude::*;

use crate::common::*;
use crate::script::scripted_life;

fn one_batch(events: &[Verified]) -> MemoryStore {
    let mut store = MemoryStore::new();
    store.apply_batch(events).expect("events fit one batch");
    store
}

/// Applies the events in batches cut at `cuts` (any order, duplicates and out-of-range cuts
/// allowed).
fn split(events: &[Verified], cuts: &[usize]) -> MemoryStore {
    let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (events.len() + 1)).collect();
    cuts.push(0);
    cuts.push(events.len());
    cuts.sort_unstable();
    cuts.dedup();
    let mut store = MemoryStore::new();
    for pair in cuts.windows(2) {
        store
            .apply_batch(&events[pair[0]..pair[1]])
            .expect("events fit any batch");
    }
    store
}

fn assert_same(one: &MemoryStore, other: &MemoryStore) {
    assert_eq!(one, other);
    assert_eq!(
        one.digest().expect("digest of a store"),
        other.digest().expect("digest of a store")
    );
}

#[test]
fn the_script_one_event_per_batch_equals_one_batch() {
    let log = scripted_life();
    let all: Vec<usize> = (0..log.events.len()).collect();
    assert_same(&one_batch(&log.events), &split(&log.events, &all));
}

/// An event from small pools of ids, so creations, duplicates, unknown ids, other parents and
/// every state machine step all happen in a few dozen events.
fn random_event(kind: u8, a: u8, b: u8, c: u8, choice: u8, minutes: i64) -> Event {
    // From Monday 2024-01-01 00:00 UTC, across both of Kyiv's clock changes.
    let at = Timestamp::from_secs(1_704_067_200 + minutes * 60);
    let decision = [
        AnswerDecision::Supported,
        AnswerDecision::PartlySupported,
        AnswerDecision::NotSupported,
    ][usize::from(choice % 3)];
    let response = [
        ContributionResponse::Accepted,
        ContributionResponse::PartlyAccepted,
        ContributionResponse::Rejected,
    ][usize::from(choice % 3)];
    let status = [
        ImplementationStatus::NoEvidenceAvailable,
        ImplementationStatus::NotStarted,
        ImplementationStatus::Limited,
        ImplementationStatus::Substantial,
        ImplementationStatus::Complete,
    ][usize::from(choice % 5)];
    let level = [
        OpenedGovernment::Worsened,
        OpenedGovernment::DidNotChange,
        OpenedGovernment::Marginal,
        OpenedGovernment::Major,
        OpenedGovernment::Outstanding,
    ][usize::from(choice / 5 % 5)];
    let kinds = [
        DialogueKind::PublicConsultation,
        DialogueKind::PublicHearing,
        DialogueKind::RoundTable,
        DialogueKind::EConsultation,
        DialogueKind::YouthCouncil,
        DialogueKind::Other,
    ];
    let dialogue_kind = kinds[usize::from(choice % 6)];
    let due = domain::kyiv_date(at).add_days(i64::from(choice % 20) + 1);
    match kind % 21 {
        0 => calendar_set(at),
        1 => filed(pid(a), at),
        2 => published(pid(a), u32::from(choice % 3) + 1, at),
        3 => rejected(pid(a), at),
        4 => signed(pid(a), b, at),
        5 => threshold_reached(pid(a), 1, at),
        6 => collection_closed(pid(a), 1, at),
        7 => consideration_started_on(pid(a), at, due),
        8 => answered(pid(a), decision, at),
        9 => implementation_updated(pid(a), at),
        10 => announced(did(a), dialogue_kind, at),
        11 => contributed(did(a), b, at),
        12 => contribution_answered(did(a), b, response, at),
        13 => dialogue_closed(did(a), u32::from(b), at),
        14 => outcome_published(did(a), at),
        15 => adopted(plan(a), "2024-01-01", "2025-12-31", at),
        16 => commitment_added(plan(a), commitment(b), at),
        17 => milestone_added(plan(a), commitment(b), milestone(c), "2024-06-30", at),
        18 => progress(plan(a), commitment(b), milestone(c), status, at),
        19 => assessed(plan(a), commitment(b), status, level, at),
        _ => plan_closed(plan(a), at),
    }
}

fn random_log() -> impl Strategy<Value = Vec<Verified>> {
    let event = (
        0..2usize,
        any::<u8>(),
        0..2u8,
        0..3u8,
        0..4u8,
        any::<u8>(),
        0..(366 * 24 * 60i64),
    );
    proptest::collection::vec(event, 0..160).prop_map(|events| {
        let municipalities: [MunicipalityCode; 2] = [kyiv_city(), vinnytsia()];
        let mut log = Log::default();
        for (m, kind, a, b, c, choice, minutes) in events {
            log.push(
                municipalities[m],
                random_event(kind, a, b, c, choice, minutes),
            );
        }
        log.events
    })
}

/// Relations every projection keeps, whatever the events.
fn assert_invariants(store: &MemoryStore) {
    for municipality in [kyiv_city(), vinnytsia()] {
        let c = store.counters(municipality);
        assert_eq!(c.milestones_by_status.iter().sum::<i64>(), c.milestones);
        assert!(c.milestones_by_status.iter().all(|n| *n >= 0));
        assert_eq!(
            c.opened_government.iter().sum::<i64>(),
            c.commitments_assessed
        );
        assert!(c.commitments_assessed <= c.commitments);
        assert!(c.petitions_published + c.petitions_rejected <= c.petitions_filed);
        let collection_ended = c.petitions_threshold_reached + c.petitions_collection_failed;
        assert!(collection_ended <= c.petitions_published);
        assert!(c.petitions_consideration_started <= c.petitions_threshold_reached);
        assert!(c.petitions_answered <= c.petitions_consideration_started);
        assert!(c.petitions_answered_on_time <= c.petitions_answered);
        assert!(c.contributions_answered <= c.contributions);
        let announced: i64 = c.dialogues_announced_by_kind.iter().sum();
        assert!(c.outcome_reports <= c.dialogues_closed && c.dialogues_closed <= announced);
        assert!(c.plans_closed <= c.plans_adopted);
        let answer_days: i64 = store
            .answer_days()
            .filter(|row| row.municipality == municipality)
            .map(|row| row.count)
            .sum();
        assert_eq!(answer_days, c.petitions_answered);
        let weekly_signatures: i64 = store
            .weekly()
            .filter(|row| row.municipality == municipality)
            .map(|row| row.signatures)
            .sum();
        assert_eq!(weekly_signatures, c.signatures);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn the_script_split_anywhere_equals_one_batch(
        cuts in proptest::collection::vec(any::<usize>(), 0..12),
    ) {
        let log = scripted_life();
        assert_same(&one_batch(&log.events), &split(&log.events, &cuts));
    }

    #[test]
    fn random_histories_split_anywhere_equal_one_batch(
        events in random_log(),
        cuts in proptest::collection::vec(any::<usize>(), 0..12),
    ) {
        let whole = one_batch(&events);
        assert_invariants(&whole);
        assert_same(&whole, &split(&events, &cuts));
        let every: Vec<usize> = (0..events.len()).collect();
        assert_same(&whole, &split(&events, &every));
    }

    /// An open working set (the auditor's: no store, keys admitted as events read them) gives
    /// each event the outcome a batch gives it, and ends with the same rows and figures.
    #[test]
    fn an_open_working_set_replays_as_a_batch(events in random_log()) {
        let mut batch = MemoryStore::new();
        let expected = batch.apply_batch(&events).expect("events fit one batch");
        let mut open = Working::open();
        let outcomes: Vec<_> = events
            .iter()
            .map(|e| open.apply(e).expect("an open working set reads any key"))
            .collect();
        prop_assert_eq!(&outcomes, &expected);
        let mut replayed = MemoryStore::new();
        replayed.commit(&open.finish());
        assert_same(&batch, &replayed);
    }

    /// A working set for the rules only gives each event the outcome a batch gives it, ends
    /// with the same rows, and counts nothing.
    #[test]
    fn a_rules_only_working_set_decides_as_a_batch(events in random_log()) {
        let mut batch = MemoryStore::new();
        let expected = batch.apply_batch(&events).expect("events fit one batch");
        let (mut rules, mut open) = (Working::rules_only(), Working::open());
        let outcomes: Vec<_> = events
            .iter()
            .map(|e| {
                open.apply(e).expect("an open working set reads any key");
                rules.apply(e).expect("a rules-only working set reads any key")
            })
            .collect();
        prop_assert_eq!(&outcomes, &expected);
        let (rules, open) = (rules.finish(), open.finish());
        prop_assert!(rules.counters.is_empty() && rules.weekly.is_empty());
        prop_assert!(rules.answer_days.is_empty());
        let counted = Changes {
            counters: Vec::new(),
            weekly: Vec::new(),
            answer_days: Vec::new(),
            ..open
        };
        prop_assert_eq!(rules, counted);
    }
}
