//! The law's clock: a council cannot escape a deadline by waiting to start consideration, by
//! recording a later deadline than the statute gives, or by moderating late; a statute beyond
//! the law is counted for the hromada's page. Each case is an attack a node's own log could
//! carry, since the node's rules are not the association's to trust.

use domain::petition::{
    AnswerDecision, PetitionEvent, PetitionFiled, PetitionPublished, StatuteRule,
};
use domain::{Event, PetitionId};
use event_store_core::Timestamp;
use projection::{MemoryStore, PetitionPhase, PetitionRow};

use crate::common::*;

/// A filing whose node recorded `moderation_due` itself.
fn filed_due(p: PetitionId, at: Timestamp, moderation_due: &str) -> Event {
    let Event::Petition(PetitionEvent::Filed(filed)) = filed(p, at) else {
        unreachable!("filed makes a filing")
    };
    PetitionEvent::Filed(PetitionFiled {
        moderation_due: date(moderation_due),
        ..filed
    })
    .into()
}

/// A publication under `rule`.
fn published_under(p: PetitionId, rule: StatuteRule, at: Timestamp) -> Event {
    PetitionEvent::Published(PetitionPublished {
        petition_id: p,
        rule,
        at,
        disclosure: Some(petition_text()),
        acted_by: None,
    })
    .into()
}

fn project(log: &Log) -> MemoryStore {
    let mut store = MemoryStore::new();
    store
        .apply_batch(&log.events)
        .expect("the log fits a batch");
    store
}

fn row(store: &MemoryStore, p: PetitionId) -> PetitionRow {
    store
        .petition(&key(kyiv_city(), p.0))
        .cloned()
        .expect("the petition is projected")
}

/// Filed Monday 15 January 2024, published the next day, threshold reached on Monday the 22nd.
fn at_threshold(log: &mut Log, p: PetitionId) {
    let k = kyiv_city();
    log.push(k, filed(p, kyiv("2024-01-15", 10, 0)));
    log.push(k, published(p, 1, kyiv("2024-01-16", 9, 0)));
    log.push(k, signed(p, 1, kyiv("2024-01-22", 9, 0)));
    log.push(k, threshold_reached(p, 1, kyiv("2024-01-22", 9, 0)));
}

#[test]
fn a_petition_whose_consideration_never_starts_is_overdue_three_working_days_after_the_threshold() {
    let mut log = Log::default();
    at_threshold(&mut log, pid(1));
    let store = project(&log);
    let row = row(&store, pid(1));
    assert_eq!(row.phase, PetitionPhase::ThresholdReached.as_u8());
    // Tuesday, Wednesday, Thursday: overdue from Friday the 26th on, answered or not.
    assert_eq!(row.start_due, Some(day("2024-01-25")));
    assert_eq!(row.due(), Some(day("2024-01-25")));
    assert_eq!(store.counters(kyiv_city()).petitions_answered_on_time, 0);
}

#[test]
fn waiting_to_start_consideration_makes_an_answer_by_the_nodes_deadline_late() {
    let mut log = Log::default();
    at_threshold(&mut log, pid(1));
    let k = kyiv_city();
    // A month's wait, then an answer well inside the ten working days from the start.
    log.push(
        k,
        consideration_started(pid(1), kyiv("2024-02-22", 10, 0), "2024-03-07"),
    );
    log.push(
        k,
        answered(pid(1), AnswerDecision::Supported, kyiv("2024-02-23", 10, 0)),
    );
    // Between the late start and the answer, it stays overdue from the start's bound.
    let mut started_late = MemoryStore::new();
    started_late
        .apply_batch(&log.events[..log.events.len() - 1])
        .expect("the log fits a batch");
    assert_eq!(row(&started_late, pid(1)).due(), Some(day("2024-01-25")));
    let store = project(&log);
    let row = row(&store, pid(1));
    assert_eq!(row.started_on_time, Some(false));
    assert_eq!(row.answered_on_time, Some(false));
    assert_eq!(row.due(), None);
    let counters = store.counters(k);
    assert_eq!(counters.petitions_started_late, 1);
    assert_eq!(counters.petitions_answered, 1);
    assert_eq!(counters.petitions_answered_on_time, 0);
}

#[test]
fn a_deadline_the_node_records_past_the_statutes_term_counts_only_up_to_the_term() {
    let mut log = Log::default();
    at_threshold(&mut log, pid(1));
    let k = kyiv_city();
    // Started in time, but the node records a deadline a year away.
    log.push(
        k,
        consideration_started(pid(1), kyiv("2024-01-23", 10, 0), "2025-01-23"),
    );
    log.push(
        k,
        answered(pid(1), AnswerDecision::Supported, kyiv("2024-03-01", 10, 0)),
    );
    let store = project(&log);
    let row = row(&store, pid(1));
    // Ten working days from Tuesday 23 January.
    assert_eq!(row.answer_due, Some(day("2024-02-06")));
    assert_eq!(row.started_on_time, Some(true));
    assert_eq!(row.answered_on_time, Some(false));
    assert_eq!(store.counters(k).petitions_answered_on_time, 0);
}

#[test]
fn moderation_past_two_working_days_is_late_whatever_the_node_recorded() {
    let mut log = Log::default();
    let k = kyiv_city();
    // Filed on a Friday; the node records a deadline a month away.
    log.push(
        k,
        filed_due(pid(1), kyiv("2024-01-19", 10, 0), "2024-02-19"),
    );
    log.push(
        k,
        filed_due(pid(2), kyiv("2024-01-19", 11, 0), "2024-02-19"),
    );
    // Published on Tuesday (the second working day): on time; rejected on Wednesday: late.
    log.push(k, published(pid(1), 5, kyiv("2024-01-23", 17, 0)));
    log.push(k, rejected(pid(2), kyiv("2024-01-24", 9, 0)));
    let store = project(&log);
    assert_eq!(row(&store, pid(1)).moderation_due, day("2024-01-23"));
    assert_eq!(row(&store, pid(1)).moderated_on_time, Some(true));
    assert_eq!(row(&store, pid(2)).moderated_on_time, Some(false));
    assert_eq!(store.counters(k).petitions_moderated_late, 1);

    // One still waiting is due on its second working day, as `due` says for the read side.
    let mut waiting = Log::default();
    waiting.push(
        k,
        filed_due(pid(3), kyiv("2024-01-19", 12, 0), "2024-02-19"),
    );
    let store = project(&waiting);
    assert_eq!(row(&store, pid(3)).due(), Some(day("2024-01-23")));
}

#[test]
fn a_statute_beyond_the_law_is_counted_for_the_hromadas_page() {
    let mut log = Log::default();
    let k = kyiv_city();
    let thirty_working_days = StatuteRule {
        answer_deadline_working_days: 30,
        ..StatuteRule::with_law_deadline(10, 60)
    };
    let four_months = StatuteRule::with_law_deadline(10, 120);
    let lawful = StatuteRule::with_law_deadline(10, 90);
    for (n, rule) in [(1, thirty_working_days), (2, four_months), (3, lawful)] {
        log.push(k, filed(pid(n), kyiv("2024-01-15", 10, 0)));
        log.push(k, published_under(pid(n), rule, kyiv("2024-01-16", 10, 0)));
    }
    let store = project(&log);
    let counters = store.counters(k);
    assert_eq!(counters.statute_answer_beyond_law, 1);
    assert_eq!(counters.statute_collection_beyond_law, 1);
    assert_eq!(row(&store, pid(1)).answer_term_days, 30);
    assert_eq!(row(&store, pid(2)).collection_period_days, 120);
}

#[test]
fn a_threshold_the_node_never_declares_still_starts_the_clock_and_cannot_be_closed_away() {
    let mut log = Log::default();
    let k = kyiv_city();
    log.push(k, filed(pid(1), kyiv("2024-01-15", 10, 0)));
    log.push(k, published(pid(1), 2, kyiv("2024-01-16", 9, 0)));
    log.push(k, signed(pid(1), 1, kyiv("2024-01-19", 9, 0)));
    // The second signature reaches the threshold on Monday the 22nd; the node never says so.
    log.push(k, signed(pid(1), 2, kyiv("2024-01-22", 9, 0)));
    let store = project(&log);
    let collecting = row(&store, pid(1));
    assert_eq!(collecting.phase, PetitionPhase::Collecting.as_u8());
    assert_eq!(collecting.start_due, Some(day("2024-01-25")));
    assert_eq!(collecting.due(), Some(day("2024-01-25")));

    // Closing the collection as failed, with its signatures, is refused: it would make the
    // petition owe nothing.
    let mut closed = log;
    closed.push(k, collection_closed(pid(1), 2, kyiv("2024-03-16", 9, 0)));
    let store = project(&closed);
    assert_eq!(row(&store, pid(1)).phase, PetitionPhase::Collecting.as_u8());
    assert_eq!(store.counters(k).petitions_collection_failed, 0);
    assert_eq!(store.counters(k).anomalies, 1);
}
