//! The digest follows its documented format byte for byte, moves with every field, and
//! refuses rows out of order.

use event_store_core::MunicipalityCode;
use projection::{
    AnswerDays, BudgetProjectRow, CommitmentRow, Counters, DIGEST_PREFIX, DialogueRow, Digest,
    DigestBuilder, DigestError, MemoryStore, MilestoneRow, PetitionRow, PlanRow, RoundRow, Table,
    WeeklyCounters,
};
use serde::Serialize;
use sha2::{Digest as _, Sha256};
use uuid::Uuid;

use crate::common::*;
use crate::script::scripted_life;

/// One row of every table.
#[derive(Debug, Clone)]
struct State {
    counters: (MunicipalityCode, Counters),
    weekly: WeeklyCounters,
    answer_days: AnswerDays,
    petition: PetitionRow,
    dialogue: DialogueRow,
    plan: PlanRow,
    commitment: CommitmentRow,
    milestone: MilestoneRow,
    round: RoundRow,
    project: BudgetProjectRow,
}

impl State {
    fn sample() -> Self {
        let k = kyiv_city();
        let id = |n: u128| Uuid::from_u128(n);
        Self {
            counters: (
                k,
                Counters {
                    petitions_filed: 3,
                    signatures: 5,
                    milestones: 1,
                    milestones_by_status: [1, 0, 0, 0, 0, 0],
                    ..Counters::default()
                },
            ),
            weekly: WeeklyCounters {
                petitions_filed: 1,
                ..WeeklyCounters::zero(k, monday("2024-01-15"))
            },
            answer_days: AnswerDays {
                municipality: k,
                days: 14,
                count: 1,
            },
            petition: PetitionRow {
                municipality: k,
                petition_id: id(1),
                filed_at: 1,
                phase: 2,
                published_at: Some(-1),
                threshold: 300,
                signatures: 0,
                threshold_reached_at: None,
                consideration_started_at: None,
                answer_due: Some(19_723),
                answered_at: None,
                decision: Some(1),
                answered_on_time: Some(true),
                implementation_updates: 0,
                moderation_due: 19_700,
                moderated_on_time: Some(false),
                answer_term_days: 10,
                collection_period_days: 90,
                start_due: None,
                started_on_time: None,
            },
            dialogue: DialogueRow {
                municipality: k,
                dialogue_id: id(2),
                kind: 1,
                announced_at: 10,
                contributions: 3,
                answered: 2,
                accepted: 1,
                partly_accepted: 1,
                rejected: 0,
                closed_at: None,
                attendance: 0,
                outcome_published_at: None,
            },
            plan: PlanRow {
                municipality: k,
                plan_id: id(3),
                adopted_at: 20,
                period_start: 19_723,
                period_end: 20_453,
                commitments: 1,
                closed_at: None,
                draft: false,
            },
            commitment: CommitmentRow {
                municipality: k,
                commitment_id: id(4),
                plan_id: id(3),
                added_at: 30,
                milestones: 1,
                completion: None,
                opened_government: None,
                withdrawn_at: None,
            },
            milestone: MilestoneRow {
                municipality: k,
                milestone_id: id(5),
                plan_id: id(3),
                commitment_id: id(4),
                due: 19_900,
                status: None,
                completed_at: None,
                withdrawn_at: None,
            },
            round: RoundRow {
                municipality: k,
                round_id: id(6),
                announced_at: 40,
                budget_year: 2027,
                amount: 100_000_000,
                local_budget: 15_000_000_000,
                voting_closes: 50,
                projects: 1,
                projects_eligible: 1,
                ballots: 3,
                results_at: None,
                winners: 0,
                projects_funded: 0,
                funded_total: 0,
                projects_completed: 0,
                projects_cancelled: 0,
                closed_at: None,
            },
            project: BudgetProjectRow {
                municipality: k,
                project_id: id(7),
                round_id: id(6),
                submitted_at: 41,
                cost: 45_000_000,
                eligible: Some(true),
                funded: None,
                status: None,
            },
        }
    }

    fn digest(&self) -> [u8; 32] {
        let mut builder = DigestBuilder::new();
        builder
            .counters(self.counters.0, &self.counters.1)
            .and_then(|()| builder.weekly(&self.weekly))
            .and_then(|()| builder.answer_days(&self.answer_days))
            .and_then(|()| builder.petition(&self.petition))
            .and_then(|()| builder.dialogue(&self.dialogue))
            .and_then(|()| builder.plan(&self.plan))
            .and_then(|()| builder.commitment(&self.commitment))
            .and_then(|()| builder.milestone(&self.milestone))
            .and_then(|()| builder.round(&self.round))
            .and_then(|()| builder.budget_project(&self.project))
            .expect("one row per table is in order");
        builder.finish()
    }
}

/// A record as the format describes it: tag, little-endian length, postcard body.
fn record(hasher: &mut Sha256, tag: u8, row: &impl Serialize) {
    let body = postcard::to_allocvec(row).expect("rows encode");
    hasher.update([tag]);
    hasher.update(u32::try_from(body.len()).expect("small").to_le_bytes());
    hasher.update(&body);
}

#[test]
fn a_petition_row_encodes_as_documented() {
    let row = State::sample().petition;
    let mut expected = vec![19];
    expected.extend_from_slice(b"UA80000000000093317");
    expected.push(16);
    expected.extend_from_slice(&[0; 15]);
    expected.push(1);
    expected.extend_from_slice(&[
        0x02, // filed_at 1, zigzag
        0x02, // phase
        0x01, 0x01, // published_at Some(-1), zigzag
        0xac, 0x02, // threshold 300, varint
        0x00, // signatures
        0x00, // threshold_reached_at None
        0x00, // consideration_started_at None
        0x01, 0x96, 0xb4, 0x02, // answer_due Some(19723), zigzag 39446
        0x00, // answered_at None
        0x01, 0x01, // decision Some(1)
        0x01, 0x01, // answered_on_time Some(true)
        0x00, // implementation_updates
        0xe8, 0xb3, 0x02, // moderation_due 19700, zigzag 39400
        0x01, 0x00, // moderated_on_time Some(false)
        0x0a, // answer_term_days 10
        0x5a, // collection_period_days 90
        0x00, // start_due None
        0x00, // started_on_time None
    ]);
    assert_eq!(
        hex::encode(postcard::to_allocvec(&row).expect("encodes")),
        hex::encode(&expected)
    );

    let mut builder = DigestBuilder::new();
    builder.petition(&row).expect("one row");
    let mut hasher = Sha256::new();
    hasher.update(b"vidkryto/projection-digest/v7");
    hasher.update([4]);
    hasher.update(u32::try_from(expected.len()).expect("small").to_le_bytes());
    hasher.update(&expected);
    let by_hand: [u8; 32] = hasher.finalize().into();
    assert_eq!(builder.finish(), by_hand);
}

#[test]
fn every_table_is_framed_as_documented() {
    let state = State::sample();
    let mut hasher = Sha256::new();
    hasher.update(DIGEST_PREFIX);
    record(&mut hasher, 1, &state.counters);
    record(&mut hasher, 2, &state.weekly);
    record(&mut hasher, 3, &state.answer_days);
    record(&mut hasher, 4, &state.petition);
    record(&mut hasher, 5, &state.dialogue);
    record(&mut hasher, 6, &state.plan);
    record(&mut hasher, 7, &state.commitment);
    record(&mut hasher, 8, &state.milestone);
    record(&mut hasher, 9, &state.round);
    record(&mut hasher, 10, &state.project);
    let by_hand: [u8; 32] = hasher.finalize().into();
    assert_eq!(state.digest(), by_hand);
    // Frozen: if this changes, the format changed and needs a new version.
    assert_eq!(
        Digest(state.digest()).to_string(),
        "e472f8f31a7e6f67d4e9920cdbb1718cfff68111f5ac2bbab05190933f1d3d54"
    );
}

#[test]
fn the_scripted_life_has_a_frozen_digest() {
    let log = scripted_life();
    let mut store = MemoryStore::new();
    store.apply_batch(&log.events).expect("the script fits");
    let digest = Digest(store.digest().expect("digest"));
    // Frozen: a change to the rules, the rows or the format shows here.
    assert_eq!(
        digest.to_string(),
        "8ee7e8e91afefc0ffae0844a96aff76857eeb0a4fc8468af9bf084cae5c6a993"
    );
}

/// Copies of `$base`, each with one field (or array element) changed.
macro_rules! variants {
    ($base:expr, $($field:ident $([$index:expr])? => $value:expr),+ $(,)?) => {{
        let mut out = Vec::new();
        $(
            let mut row = $base.clone();
            row.$field $([$index])? = $value;
            out.push(row);
        )+
        out
    }};
}

#[test]
fn every_field_moves_the_digest() {
    let base = State::sample();
    let v = vinnytsia();
    let other = Uuid::from_u128(99);
    let mut states = vec![base.clone()];
    let counters = variants!(base.counters.1,
        petitions_filed => 4,
        petitions_published => 1,
        petitions_rejected => 1,
        petitions_threshold_reached => 1,
        petitions_collection_failed => 1,
        petitions_consideration_started => 1,
        petitions_answered => 1,
        petitions_answered_on_time => 1,
        petitions_moderated_late => 1,
        petitions_started_late => 1,
        statute_answer_beyond_law => 1,
        statute_collection_beyond_law => 1,
        signatures => 6,
        dialogues_announced_by_kind[0] => 1,
        dialogues_announced_by_kind[1] => 1,
        dialogues_announced_by_kind[2] => 1,
        dialogues_announced_by_kind[3] => 1,
        dialogues_announced_by_kind[4] => 1,
        dialogues_announced_by_kind[5] => 1,
        dialogues_closed => 1,
        outcome_reports => 1,
        contributions => 1,
        contributions_answered => 1,
        plans_adopted => 1,
        plans_closed => 1,
        commitments => 1,
        commitments_assessed => 1,
        milestones => 2,
        milestones_by_status[0] => 2,
        milestones_by_status[1] => 1,
        milestones_by_status[2] => 1,
        milestones_by_status[3] => 1,
        milestones_by_status[4] => 1,
        milestones_by_status[5] => 1,
        opened_government[0] => 1,
        opened_government[1] => 1,
        opened_government[2] => 1,
        opened_government[3] => 1,
        opened_government[4] => 1,
        anomalies => 1,
    );
    for c in counters {
        states.push(State {
            counters: (base.counters.0, c),
            ..base.clone()
        });
    }
    states.push(State {
        counters: (v, base.counters.1.clone()),
        ..base.clone()
    });
    for w in variants!(base.weekly,
        municipality => v,
        week => monday("2024-01-22"),
        petitions_filed => 2,
        signatures => 1,
        petitions_threshold_reached => 1,
        petitions_answered => 1,
        dialogues_closed => 1,
        contributions => 1,
        milestones_completed => 1,
    ) {
        states.push(State {
            weekly: w,
            ..base.clone()
        });
    }
    for a in variants!(base.answer_days, municipality => v, days => 15, count => 2) {
        states.push(State {
            answer_days: a,
            ..base.clone()
        });
    }
    for p in variants!(base.petition,
        municipality => v,
        petition_id => other,
        filed_at => 2,
        phase => 3,
        published_at => None,
        threshold => 301,
        signatures => 1,
        threshold_reached_at => Some(0),
        consideration_started_at => Some(0),
        answer_due => None,
        answered_at => Some(0),
        decision => None,
        answered_on_time => Some(false),
        implementation_updates => 1,
        moderation_due => 19_701,
        moderated_on_time => None,
        answer_term_days => 11,
        collection_period_days => 91,
        start_due => Some(19_702),
        started_on_time => Some(true),
    ) {
        states.push(State {
            petition: p,
            ..base.clone()
        });
    }
    for d in variants!(base.dialogue,
        municipality => v,
        dialogue_id => other,
        kind => 2,
        announced_at => 11,
        contributions => 4,
        answered => 3,
        accepted => 2,
        partly_accepted => 2,
        rejected => 1,
        closed_at => Some(0),
        attendance => 1,
        outcome_published_at => Some(0),
    ) {
        states.push(State {
            dialogue: d,
            ..base.clone()
        });
    }
    for p in variants!(base.plan,
        municipality => v,
        plan_id => other,
        adopted_at => 21,
        period_start => 19_724,
        period_end => 20_454,
        commitments => 2,
        closed_at => Some(0),
    ) {
        states.push(State {
            plan: p,
            ..base.clone()
        });
    }
    for c in variants!(base.commitment,
        municipality => v,
        commitment_id => other,
        plan_id => other,
        added_at => 31,
        milestones => 2,
        completion => Some(0),
        opened_government => Some(0),
        withdrawn_at => Some(0),
    ) {
        states.push(State {
            commitment: c,
            ..base.clone()
        });
    }
    for m in variants!(base.milestone,
        municipality => v,
        milestone_id => other,
        plan_id => other,
        commitment_id => other,
        due => 19_901,
        status => Some(0),
        completed_at => Some(0),
        withdrawn_at => Some(0),
    ) {
        states.push(State {
            milestone: m,
            ..base.clone()
        });
    }
    for r in variants!(base.round,
        municipality => v,
        round_id => other,
        announced_at => 39,
        budget_year => 2028,
        amount => 100_000_001,
        local_budget => 15_000_000_001,
        voting_closes => 51,
        projects => 2,
        projects_eligible => 0,
        ballots => 4,
        results_at => Some(0),
        winners => 1,
        projects_funded => 1,
        funded_total => 1,
        projects_completed => 1,
        projects_cancelled => 1,
        closed_at => Some(0),
    ) {
        states.push(State {
            round: r,
            ..base.clone()
        });
    }
    for p in variants!(base.project,
        municipality => v,
        project_id => other,
        round_id => other,
        submitted_at => 42,
        cost => 45_000_001,
        eligible => None,
        funded => Some(0),
        status => Some(2),
    ) {
        states.push(State {
            project: p,
            ..base.clone()
        });
    }
    let digests: std::collections::BTreeSet<[u8; 32]> = states.iter().map(State::digest).collect();
    assert_eq!(digests.len(), states.len(), "two states share a digest");
    // 40 counters variants and a municipality, 9 weekly, 3 answer days, 20 petition fields,
    // 12 dialogue, 7 plan, 8 commitment, 8 milestone, 17 round and 8 budget project fields,
    // and the base.
    assert_eq!(states.len(), 1 + 41 + 9 + 3 + 20 + 12 + 7 + 8 + 8 + 17 + 8);
}

#[test]
fn rows_out_of_order_are_refused() {
    let state = State::sample();
    let k = kyiv_city();
    let mut later = state.petition.clone();
    later.petition_id = Uuid::from_u128(2);

    let mut builder = DigestBuilder::new();
    builder.petition(&later).expect("first row");
    let error = builder
        .petition(&state.petition)
        .expect_err("a smaller key");
    assert!(matches!(
        error,
        DigestError::RowOutOfOrder {
            table: Table::Petitions,
            ..
        }
    ));
    let error = builder.petition(&later).expect_err("the same key twice");
    assert!(matches!(
        error,
        DigestError::RowOutOfOrder {
            table: Table::Petitions,
            ..
        }
    ));
    let error = builder
        .counters(k, &state.counters.1)
        .expect_err("a table backwards");
    assert_eq!(
        error,
        DigestError::TableOutOfOrder {
            table: Table::Counters,
            after: Table::Petitions
        }
    );
    // Refused rows leave the builder as it was.
    builder.dialogue(&state.dialogue).expect("the next table");
    let mut fresh = DigestBuilder::new();
    fresh.petition(&later).expect("first row");
    fresh.dialogue(&state.dialogue).expect("the next table");
    assert_eq!(builder.finish(), fresh.finish());

    // A municipality sorts by its code's text: Vinnytsia (UA05…) before Kyiv (UA80…).
    let mut builder = DigestBuilder::new();
    let mut in_vinnytsia = state.petition.clone();
    in_vinnytsia.municipality = vinnytsia();
    in_vinnytsia.petition_id = Uuid::from_u128(u128::MAX);
    builder.petition(&in_vinnytsia).expect("first row");
    builder
        .petition(&state.petition)
        .expect("a later municipality");
    assert!(builder.petition(&in_vinnytsia).is_err());

    // Weeks and days sort as signed integers.
    let mut builder = DigestBuilder::new();
    builder
        .weekly(&WeeklyCounters {
            signatures: 1,
            ..WeeklyCounters::zero(k, -7)
        })
        .expect("a week before 1970");
    builder
        .weekly(&WeeklyCounters {
            signatures: 1,
            ..WeeklyCounters::zero(k, 4)
        })
        .expect("a later week");
    let error = builder
        .weekly(&WeeklyCounters {
            signatures: 1,
            ..WeeklyCounters::zero(k, -14)
        })
        .expect_err("an earlier week");
    assert!(matches!(
        error,
        DigestError::RowOutOfOrder {
            table: Table::Weekly,
            ..
        }
    ));
    assert_eq!(builder.rows(), 2);
}

#[test]
fn zero_count_rows_are_the_same_as_no_rows() {
    let k = kyiv_city();
    let mut with_zeros = DigestBuilder::new();
    with_zeros
        .counters(k, &Counters::default())
        .expect("in order");
    with_zeros
        .weekly(&WeeklyCounters::zero(k, 0))
        .expect("in order");
    with_zeros
        .answer_days(&AnswerDays {
            municipality: k,
            days: 3,
            count: 0,
        })
        .expect("in order");
    assert_eq!(with_zeros.rows(), 0);
    assert_eq!(with_zeros.finish(), DigestBuilder::new().finish());
    let prefix_only: [u8; 32] = Sha256::digest(DIGEST_PREFIX).into();
    assert_eq!(DigestBuilder::new().finish(), prefix_only);
}
