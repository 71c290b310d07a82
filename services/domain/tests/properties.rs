//! Property tests over random command sequences: signature counts equal distinct signers, a
//! petition's status never goes backwards, and for every aggregate the state each decision
//! sees is exactly the fold of the events decided so far (incremental evolve = fold from
//! scratch), every decided event survives encoding, and deciding is deterministic.

mod fixtures;

use std::collections::BTreeSet;

use domain::action_plan::{ActionPlanCommand, ImplementationStatus, OgpValue, OpenedGovernment};
use domain::dialogue::{ContributionResponse, DialogueCommand, DialogueKind};
use domain::petition::{AnswerDecision, PetitionCommand, PetitionEvent, StatuteRule};
use domain::{ActionPlan, Aggregate, Dialogue, DomainError, Petition, decode, encode};
use event_store_core::Timestamp;
use fixtures::{
    commitment, contribution, date, dialogue_id, kyiv, milestone, petition_id, plan_id, tag,
    weekdays_only,
};
use proptest::prelude::*;

/// Decides `command`, applies what it decided, and checks the invariants every aggregate
/// shares. Returns the decided events (or the refusal).
fn step<A: Aggregate>(
    state: &mut A::State,
    log: &mut Vec<A::Event>,
    command: A::Command,
) -> Result<Vec<A::Event>, DomainError> {
    let result = A::decide(state, command.clone());
    assert_eq!(
        A::decide(state, command),
        result,
        "deciding is deterministic"
    );
    if let Ok(events) = &result {
        for event in events {
            let event: domain::Event = event.clone().into();
            let encoded = encode(&event);
            let decoded = decode(encoded.type_code, encoded.schema_version, &encoded.payload);
            assert_eq!(decoded, Ok(event), "decided events survive encoding");
        }
        *state = events.iter().fold(state.clone(), A::evolve);
        log.extend(events.iter().cloned());
    }
    assert_eq!(
        &A::fold(log.iter()),
        state,
        "incremental state equals the fold from scratch"
    );
    result
}

fn minutes(at: Timestamp, minutes: u32) -> Timestamp {
    Timestamp(at.0 + i64::from(minutes) * 60_000_000)
}

// --- petitions -----------------------------------------------------------------------------

#[derive(Debug, Clone)]
enum PetitionOp {
    Wait(u32),
    Publish { threshold: u32, days: u16 },
    Reject,
    Sign(u8),
    Close,
    Start,
    Answer(u8),
    Report,
}

fn petition_op() -> impl Strategy<Value = PetitionOp> {
    prop_oneof![
        3 => (0u32..4 * 24 * 60).prop_map(PetitionOp::Wait),
        2 => (1u32..6, 1u16..4).prop_map(|(threshold, days)| PetitionOp::Publish { threshold, days }),
        1 => Just(PetitionOp::Reject),
        10 => (0u8..8).prop_map(PetitionOp::Sign),
        1 => Just(PetitionOp::Close),
        2 => Just(PetitionOp::Start),
        2 => (0u8..3).prop_map(PetitionOp::Answer),
        1 => Just(PetitionOp::Report),
    ]
}

fn petition_command(op: &PetitionOp, at: Timestamp) -> Option<PetitionCommand> {
    Some(match *op {
        PetitionOp::Wait(_) => return None,
        PetitionOp::Publish { threshold, days } => PetitionCommand::Publish {
            rule: StatuteRule {
                signature_threshold: threshold,
                collection_period_days: days,
                ..StatuteRule::KYIV
            },
            at,
        },
        PetitionOp::Reject => PetitionCommand::Reject {
            reason: "Дублікат".into(),
            at,
        },
        PetitionOp::Sign(n) => PetitionCommand::Sign { signer: tag(n), at },
        PetitionOp::Close => PetitionCommand::CloseCollection { at },
        PetitionOp::Start => PetitionCommand::StartConsideration {
            at,
            calendar: weekdays_only(),
        },
        PetitionOp::Answer(n) => PetitionCommand::Answer {
            decision: [
                AnswerDecision::Supported,
                AnswerDecision::PartlySupported,
                AnswerDecision::NotSupported,
            ][usize::from(n)],
            response: "Відповідь".into(),
            responder_role: "Міський голова".into(),
            at,
        },
        PetitionOp::Report => PetitionCommand::ReportImplementation {
            text: "Виконано".into(),
            at,
        },
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn petitions_count_signers_and_only_move_forward(ops in proptest::collection::vec(petition_op(), 0..80)) {
        let mut at = kyiv("2024-05-03", 15, 0);
        let mut state = Default::default();
        let mut log = Vec::new();
        let file = PetitionCommand::File {
            petition_id: petition_id(),
            author: tag(200),
            title: "Сквер".into(),
            text: "Зберегти сквер.".into(),
            category: "довкілля".into(),
            at,
            calendar: weekdays_only(),
        };
        step::<Petition>(&mut state, &mut log, file).expect("filing an empty stream works");
        let mut rank = state.status.rank();
        for op in &ops {
            if let PetitionOp::Wait(m) = op {
                at = minutes(at, *m);
                continue;
            }
            let Some(command) = petition_command(op, at) else { continue };
            let _ = step::<Petition>(&mut state, &mut log, command);
            prop_assert!(state.status.rank() >= rank, "status went back to {:?}", state.status);
            rank = state.status.rank();

            let signers: BTreeSet<_> = log.iter().filter_map(|e| match e {
                PetitionEvent::Signed(s) => Some(s.signer),
                _ => None,
            }).collect();
            let signed = log.iter().filter(|e| matches!(e, PetitionEvent::Signed(_))).count();
            prop_assert_eq!(signed, signers.len(), "a signer signed twice");
            prop_assert_eq!(state.signature_count as usize, signers.len());
            prop_assert_eq!(&state.signers, &signers);

            let reached: Vec<_> = log.iter().filter_map(|e| match e {
                PetitionEvent::ThresholdReached(r) => Some(r.signature_count),
                _ => None,
            }).collect();
            prop_assert!(reached.len() <= 1, "threshold reached twice");
            if let (Some(count), Some(rule)) = (reached.first(), state.rule) {
                prop_assert_eq!(*count, rule.signature_threshold);
            }
        }
    }
}

// --- dialogues -----------------------------------------------------------------------------

#[derive(Debug, Clone)]
enum DialogueOp {
    Wait(u32),
    Submit(u8),
    Answer(u8, u8),
    Close(u32),
    Publish,
}

fn dialogue_op() -> impl Strategy<Value = DialogueOp> {
    prop_oneof![
        3 => (0u32..2 * 24 * 60).prop_map(DialogueOp::Wait),
        6 => (0u8..10).prop_map(DialogueOp::Submit),
        4 => (0u8..10, 0u8..3).prop_map(|(n, r)| DialogueOp::Answer(n, r)),
        1 => (0u32..500).prop_map(DialogueOp::Close),
        1 => Just(DialogueOp::Publish),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn dialogues_fold_consistently(ops in proptest::collection::vec(dialogue_op(), 0..60)) {
        let mut at = kyiv("2024-03-01", 9, 0);
        let mut state = Default::default();
        let mut log = Vec::new();
        let announce = DialogueCommand::Announce {
            dialogue_id: dialogue_id(),
            kind: DialogueKind::RoundTable,
            topic: "Бюджет участі".into(),
            organiser: "Виконком".into(),
            opens_at: minutes(at, 24 * 60),
            closes_at: minutes(at, 6 * 24 * 60),
            at,
        };
        step::<Dialogue>(&mut state, &mut log, announce).expect("announcing an empty stream works");
        let mut answered = BTreeSet::new();
        for op in ops {
            let command = match op {
                DialogueOp::Wait(m) => { at = minutes(at, m); continue; }
                DialogueOp::Submit(n) => DialogueCommand::SubmitContribution {
                    contribution_id: contribution(n),
                    author: tag(n),
                    text: "Пропозиція".into(),
                    at,
                },
                DialogueOp::Answer(n, r) => DialogueCommand::AnswerContribution {
                    contribution_id: contribution(n),
                    response: [ContributionResponse::Accepted, ContributionResponse::PartlyAccepted, ContributionResponse::Rejected][usize::from(r)],
                    reason: "Причина".into(),
                    at,
                },
                DialogueOp::Close(attendance) => DialogueCommand::Close {
                    attendance_count: attendance,
                    participating_organisations: vec!["ГО".into()],
                    at,
                },
                DialogueOp::Publish => DialogueCommand::PublishOutcome { report: "Звіт".into(), council_decision_ref: None, at },
            };
            if let Ok(events) = step::<Dialogue>(&mut state, &mut log, command) {
                for event in events {
                    if let domain::dialogue::DialogueEvent::ContributionAnswered(a) = event {
                        prop_assert!(answered.insert(a.contribution_id), "answered twice");
                    }
                }
            }
        }
    }
}

// --- action plans --------------------------------------------------------------------------

#[derive(Debug, Clone)]
enum PlanOp {
    AddCommitment(u8, i64, i64),
    AddMilestone(u8, u8, i64),
    Report(u8, u8, bool),
    Assess(u8, u8),
    Close,
}

fn plan_op() -> impl Strategy<Value = PlanOp> {
    prop_oneof![
        3 => (0u8..4, -30i64..700, 0i64..400).prop_map(|(c, s, l)| PlanOp::AddCommitment(c, s, l)),
        4 => (0u8..4, 0u8..8, -30i64..800).prop_map(|(c, m, d)| PlanOp::AddMilestone(c, m, d)),
        4 => (0u8..8, 0u8..5, any::<bool>()).prop_map(|(m, s, l)| PlanOp::Report(m, s, l)),
        2 => (0u8..4, 0u8..5).prop_map(|(c, o)| PlanOp::Assess(c, o)),
        1 => Just(PlanOp::Close),
    ]
}

const STATUSES: [ImplementationStatus; 5] = [
    ImplementationStatus::NoEvidenceAvailable,
    ImplementationStatus::NotStarted,
    ImplementationStatus::Limited,
    ImplementationStatus::Substantial,
    ImplementationStatus::Complete,
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn action_plans_fold_consistently(ops in proptest::collection::vec(plan_op(), 0..60)) {
        let at = kyiv("2024-02-01", 12, 0);
        let start = date("2024-01-01");
        let mut state = Default::default();
        let mut log = Vec::new();
        let adopt = ActionPlanCommand::Adopt {
            plan_id: plan_id(),
            title: "План дій".into(),
            period_start: start,
            period_end: date("2025-12-31"),
            council_decision: "№ 1".into(),
            at,
        };
        step::<ActionPlan>(&mut state, &mut log, adopt).expect("adopting an empty stream works");
        for op in ops {
            let command = match op {
                PlanOp::AddCommitment(c, offset, len) => ActionPlanCommand::AddCommitment {
                    commitment_id: commitment(c),
                    title: "Зобов'язання".into(),
                    description: "Опис".into(),
                    lead_institution: "Управління".into(),
                    values: vec![OgpValue::CivicParticipation],
                    start: start.add_days(offset),
                    end: start.add_days(offset + len),
                    at,
                },
                PlanOp::AddMilestone(c, m, due) => ActionPlanCommand::AddMilestone {
                    commitment_id: commitment(c),
                    milestone_id: milestone(m),
                    title: "Етап".into(),
                    due: start.add_days(due),
                    at,
                },
                PlanOp::Report(m, s, link) => ActionPlanCommand::ReportProgress {
                    milestone_id: milestone(m),
                    status: STATUSES[usize::from(s)],
                    evidence_link: link.then(|| "https://example.gov.ua/e".to_owned()),
                    at,
                },
                PlanOp::Assess(c, o) => ActionPlanCommand::AssessCommitment {
                    commitment_id: commitment(c),
                    completion: STATUSES[usize::from(o)],
                    opened_government: [OpenedGovernment::Worsened, OpenedGovernment::DidNotChange, OpenedGovernment::Marginal, OpenedGovernment::Major, OpenedGovernment::Outstanding][usize::from(o)],
                    at,
                },
                PlanOp::Close => ActionPlanCommand::Close { at },
            };
            let _ = step::<ActionPlan>(&mut state, &mut log, command);
            // Every milestone lies within its commitment, which lies within the plan.
            for c in state.commitments.values() {
                let (Some(c_start), Some(c_end)) = (c.start, c.end) else { continue };
                prop_assert!(state.period_start <= Some(c_start) && Some(c_end) <= state.period_end);
                for m in c.milestones.values() {
                    prop_assert!(c_start <= m.due && m.due <= c_end);
                }
            }
        }
    }
}
