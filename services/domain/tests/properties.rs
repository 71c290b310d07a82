//! Property tests over random command sequences, for every aggregate:
//! - each decided event carries the command's `at`, survives encoding, and deciding is
//!   deterministic;
//! - the state built by evolving after each decision equals the fold from scratch of the
//!   events re-read from their encoded bytes, and event times never go backwards;
//! - petitions agree with a small reference model written independently of `decide` and
//!   `evolve` (which commands succeed, which events they produce, the signature count, the
//!   status, the threshold reached at most once), and the status moves only along an explicit
//!   list of allowed transitions;
//! - dialogue contributions fall inside the open window and never follow closing; the outcome
//!   follows closing;
//! - action plans keep milestones inside commitments inside the plan, and close only with every
//!   commitment assessed;
//! - participatory budget rounds take ballots only in the voting period, for eligible projects,
//!   one per voter, declare exactly the results computed from the ballots, fund only winners
//!   within the amount, and change nothing once closed.

mod fixtures;

use std::collections::BTreeSet;

use domain::action_plan::{
    ActionPlanCommand, ActionPlanEvent, ImplementationStatus, OgpValue, OpenedGovernment,
    PlanStatus,
};
use domain::budget::{
    BallotCast, BudgetCommand, BudgetEvent, ProjectStatus, ReviewOutcome, RoundStatus, Voter,
    results,
};
use domain::dialogue::{ContributionResponse, DialogueCommand, DialogueEvent, DialogueKind};
use domain::petition::{
    AnswerDecision, PetitionCommand, PetitionEvent, PetitionStatus, StatuteRule,
};
use domain::{
    ActionPlan, Aggregate, BudgetRound, Dialogue, DomainError, Event, EventType, Petition,
    PseudonymTag, Refusal, decode, encode,
};
use event_store_core::Timestamp;
use fixtures::samples::{numbered_project_text, round_rules, submit_project};
use fixtures::{
    commitment, contribution, date, dialogue_id, kyiv, milestone, petition_id, plan_id, project,
    round_id, tag, weekdays_only,
};
use proptest::prelude::*;

const MINUTE_MICROS: i64 = 60_000_000;
const DAY_MICROS: i64 = 24 * 60 * MINUTE_MICROS;

fn minutes(at: Timestamp, minutes: i64) -> Timestamp {
    Timestamp(at.0 + minutes * MINUTE_MICROS)
}

/// A stream driven command by command: the state evolved after each decision, and the log.
struct Run<A: Aggregate> {
    state: A::State,
    log: Vec<A::Event>,
}

impl<A: Aggregate> Run<A>
where
    A::Event: TryFrom<Event, Error = Event>,
{
    fn new() -> Self {
        Self {
            state: A::State::default(),
            log: Vec::new(),
        }
    }

    /// Decides `command` (dated `at`), checks what every decision must satisfy, and evolves
    /// the state by each decided event in turn.
    fn step(&mut self, command: A::Command, at: Timestamp) -> Result<Vec<A::Event>, DomainError> {
        let result = A::decide(&self.state, command.clone());
        assert_eq!(
            A::decide(&self.state, command),
            result,
            "deciding is deterministic"
        );
        if let Ok(events) = &result {
            for event in events {
                let event: Event = event.clone().into();
                assert_eq!(event.at(), at, "an event carries its command's time");
                let encoded = encode(&event);
                let decoded = decode(encoded.event_type, encoded.schema_version, &encoded.payload);
                assert_eq!(decoded, Ok(event), "decided events survive encoding");
            }
            for event in events {
                self.state = A::evolve(self.state.clone(), event);
            }
            self.log.extend(events.iter().cloned());
        }
        result
    }

    /// Checks the log as a whole: re-read from its bytes and folded from scratch, it gives the
    /// state evolved step by step, and its times never go backwards.
    fn finish(&self) {
        let reread: Vec<A::Event> = self
            .log
            .iter()
            .map(|event| {
                let encoded = encode(&event.clone().into());
                let decoded = decode(encoded.event_type, encoded.schema_version, &encoded.payload)
                    .expect("logged events decode");
                A::Event::try_from(decoded).expect("decoded into the same aggregate")
            })
            .collect();
        assert_eq!(reread, self.log);
        assert_eq!(
            A::fold(&reread),
            self.state,
            "the fold of the re-read log equals the state evolved step by step"
        );
        let times: Vec<Timestamp> = self
            .log
            .iter()
            .map(|e| Into::<Event>::into(e.clone()).at())
            .collect();
        assert!(
            times.windows(2).all(|pair| pair[0] <= pair[1]),
            "time went backwards in {times:?}"
        );
    }
}

fn event_types<E: Clone + Into<Event>>(events: &[E]) -> Vec<EventType> {
    events
        .iter()
        .map(|e| e.clone().into().event_type())
        .collect()
}

// --- petitions -----------------------------------------------------------------------------

#[derive(Debug, Clone)]
enum PetitionOp {
    Wait(i64),
    Back(i64),
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
        3 => (0i64..4 * 24 * 60).prop_map(PetitionOp::Wait),
        1 => (1i64..3 * 24 * 60).prop_map(PetitionOp::Back),
        2 => (1u32..6, 1u16..4).prop_map(|(threshold, days)| PetitionOp::Publish { threshold, days }),
        1 => Just(PetitionOp::Reject),
        10 => (0u8..8).prop_map(PetitionOp::Sign),
        1 => Just(PetitionOp::Close),
        2 => Just(PetitionOp::Start),
        2 => (0u8..3).prop_map(PetitionOp::Answer),
        1 => Just(PetitionOp::Report),
    ]
}

const DECISIONS: [AnswerDecision; 3] = [
    AnswerDecision::Supported,
    AnswerDecision::PartlySupported,
    AnswerDecision::NotSupported,
];

fn petition_text() -> domain::disclosure::PetitionText {
    domain::disclosure::PetitionText {
        salt: domain::disclosure::Salt([9; 32]),
        title: "Сквер".into(),
        text: "Зберегти сквер.".into(),
    }
}

fn contribution_text(n: u8) -> domain::disclosure::ContributionText {
    domain::disclosure::ContributionText {
        salt: domain::disclosure::Salt([n; 32]),
        text: "Пропозиція".into(),
    }
}

fn petition_command(op: &PetitionOp, at: Timestamp) -> PetitionCommand {
    match *op {
        PetitionOp::Wait(_) | PetitionOp::Back(_) => unreachable!("not a command"),
        PetitionOp::Publish { threshold, days } => PetitionCommand::Publish {
            rule: StatuteRule {
                signature_threshold: threshold,
                collection_period_days: days,
                ..StatuteRule::KYIV
            },
            text: Some(petition_text()),
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
            decision: DECISIONS[usize::from(n)],
            response: "Відповідь".into(),
            responder_role: "Міський голова".into(),
            at,
        },
        PetitionOp::Report => PetitionCommand::ReportImplementation {
            text: "Виконано".into(),
            at,
        },
    }
}

/// Every status change a petition may make; anything else is a bug.
const ALLOWED_TRANSITIONS: [(PetitionStatus, PetitionStatus); 7] = {
    use PetitionStatus as S;
    [
        (S::NotFiled, S::AwaitingModeration),
        (S::AwaitingModeration, S::Collecting),
        (S::AwaitingModeration, S::Rejected),
        (S::Collecting, S::ThresholdReached),
        (S::Collecting, S::CollectionFailed),
        (S::ThresholdReached, S::UnderConsideration),
        (S::UnderConsideration, S::Answered),
    ]
};

/// The petition rules restated as plainly as possible, without `decide` or `evolve`: what a
/// filed petition should do with each command.
struct PetitionModel {
    status: PetitionStatus,
    last_at: Timestamp,
    closes_at: Timestamp,
    threshold: u32,
    signers: BTreeSet<PseudonymTag>,
    thresholds_reached: u32,
    answer: Option<AnswerDecision>,
}

impl PetitionModel {
    fn filed(at: Timestamp) -> Self {
        Self {
            status: PetitionStatus::AwaitingModeration,
            last_at: at,
            closes_at: Timestamp(i64::MAX),
            threshold: u32::MAX,
            signers: BTreeSet::new(),
            thresholds_reached: 0,
            answer: None,
        }
    }

    /// The event types `op` at `at` should produce (and applies them to the model), or
    /// `Err(Some(rule))` / `Err(None)` when it should be refused (with a known rule or any).
    fn apply(&mut self, op: &PetitionOp, at: Timestamp) -> Result<Vec<EventType>, Option<Refusal>> {
        use PetitionStatus as S;
        if at < self.last_at {
            return Err(Some(Refusal::TimeBeforePrevious));
        }
        let events = match *op {
            PetitionOp::Wait(_) | PetitionOp::Back(_) => unreachable!("not a command"),
            PetitionOp::Publish { threshold, days } if self.status == S::AwaitingModeration => {
                self.status = S::Collecting;
                self.threshold = threshold;
                self.closes_at = Timestamp(at.0 + i64::from(days) * DAY_MICROS);
                vec![EventType::PetitionPublished]
            }
            PetitionOp::Reject if self.status == S::AwaitingModeration => {
                self.status = S::Rejected;
                vec![EventType::PetitionRejected]
            }
            PetitionOp::Sign(n)
                if matches!(self.status, S::Collecting | S::ThresholdReached)
                    && at < self.closes_at
                    && !self.signers.contains(&tag(n)) =>
            {
                self.signers.insert(tag(n));
                let count = u32::try_from(self.signers.len()).expect("few signers");
                if self.status == S::Collecting && count >= self.threshold {
                    self.status = S::ThresholdReached;
                    self.thresholds_reached += 1;
                    vec![
                        EventType::PetitionSigned,
                        EventType::SignatureThresholdReached,
                    ]
                } else {
                    vec![EventType::PetitionSigned]
                }
            }
            PetitionOp::Close if self.status == S::Collecting && at >= self.closes_at => {
                self.status = S::CollectionFailed;
                vec![EventType::CollectionClosedWithoutThreshold]
            }
            PetitionOp::Start if self.status == S::ThresholdReached => {
                self.status = S::UnderConsideration;
                vec![EventType::ConsiderationStarted]
            }
            PetitionOp::Answer(n) if self.status == S::UnderConsideration => {
                self.status = S::Answered;
                self.answer = Some(DECISIONS[usize::from(n)]);
                vec![EventType::PetitionAnswered]
            }
            PetitionOp::Report
                if matches!(
                    self.answer,
                    Some(AnswerDecision::Supported | AnswerDecision::PartlySupported)
                ) =>
            {
                vec![EventType::ImplementationUpdated]
            }
            _ => return Err(None),
        };
        self.last_at = at;
        Ok(events)
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn petitions_follow_the_reference_model(ops in proptest::collection::vec(petition_op(), 0..80)) {
        let mut at = kyiv("2024-05-03", 15, 0);
        let mut run = Run::<Petition>::new();
        let file = PetitionCommand::File {
            petition_id: petition_id(),
            author: tag(200),
            text: petition_text(),
            category: "довкілля".into(),
            at,
            calendar: weekdays_only(),
        };
        run.step(file, at).expect("filing an empty stream works");
        let mut model = PetitionModel::filed(at);
        for op in &ops {
            match op {
                PetitionOp::Wait(m) => { at = minutes(at, *m); continue; }
                PetitionOp::Back(m) => { at = minutes(at, -*m); continue; }
                _ => {}
            }
            let before = run.state.status;
            let actual = run.step(petition_command(op, at), at);
            let expected = model.apply(op, at);
            match (&actual, &expected) {
                (Ok(events), Ok(types)) => prop_assert_eq!(&event_types(events), types, "{:?}", op),
                (Err(error), Err(Some(rule))) => prop_assert_eq!(error, &DomainError::refused(*rule)),
                (Err(_), Err(None)) => {}
                _ => prop_assert!(false, "{:?} at {:?}: model {:?}, rules {:?}", op, at, expected, actual),
            }

            let after = run.state.status;
            prop_assert!(
                before == after || ALLOWED_TRANSITIONS.contains(&(before, after)),
                "status moved from {:?} to {:?}", before, after
            );
            prop_assert_eq!(after, model.status);
            prop_assert_eq!(run.state.signature_count as usize, model.signers.len());
            prop_assert_eq!(&run.state.signers, &model.signers);
            let reached: Vec<u32> = run.log.iter().filter_map(|e| match e {
                PetitionEvent::ThresholdReached(r) => Some(r.signature_count),
                _ => None,
            }).collect();
            prop_assert!(reached.len() <= 1, "threshold reached twice");
            prop_assert_eq!(reached.len(), model.thresholds_reached as usize);
            if let (Some(count), Some(rule)) = (reached.first(), run.state.rule) {
                prop_assert_eq!(*count, rule.signature_threshold);
            }
        }
        run.finish();
    }
}

#[test]
fn the_transition_list_excludes_going_back_or_sideways() {
    use PetitionStatus as S;
    for forbidden in [
        (S::ThresholdReached, S::CollectionFailed),
        (S::CollectionFailed, S::ThresholdReached),
        (S::Rejected, S::Collecting),
        (S::Answered, S::UnderConsideration),
        (S::Collecting, S::AwaitingModeration),
    ] {
        assert!(!ALLOWED_TRANSITIONS.contains(&forbidden), "{forbidden:?}");
    }
}

// --- dialogues -----------------------------------------------------------------------------

#[derive(Debug, Clone)]
enum DialogueOp {
    Wait(i64),
    Back(i64),
    Submit(u8),
    Answer(u8, u8),
    Close(u32),
    Publish,
}

fn dialogue_op() -> impl Strategy<Value = DialogueOp> {
    prop_oneof![
        3 => (0i64..2 * 24 * 60).prop_map(DialogueOp::Wait),
        1 => (1i64..24 * 60).prop_map(DialogueOp::Back),
        6 => (0u8..10).prop_map(DialogueOp::Submit),
        4 => (0u8..10, 0u8..3).prop_map(|(n, r)| DialogueOp::Answer(n, r)),
        2 => (0u32..500).prop_map(DialogueOp::Close),
        1 => Just(DialogueOp::Publish),
    ]
}

const RESPONSES: [ContributionResponse; 3] = [
    ContributionResponse::Accepted,
    ContributionResponse::PartlyAccepted,
    ContributionResponse::Rejected,
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn dialogues_take_contributions_only_while_open(ops in proptest::collection::vec(dialogue_op(), 0..60)) {
        let mut at = kyiv("2024-03-01", 9, 0);
        let (opens_at, closes_at) = (minutes(at, 24 * 60), minutes(at, 6 * 24 * 60));
        let mut run = Run::<Dialogue>::new();
        let announce = DialogueCommand::Announce {
            dialogue_id: dialogue_id(),
            kind: DialogueKind::RoundTable,
            topic: "Бюджет участі".into(),
            organiser: "Виконком".into(),
            opens_at,
            closes_at,
            at,
        };
        run.step(announce, at).expect("announcing an empty stream works");
        for op in ops {
            let command = match op {
                DialogueOp::Wait(m) => { at = minutes(at, m); continue; }
                DialogueOp::Back(m) => { at = minutes(at, -m); continue; }
                DialogueOp::Submit(n) => DialogueCommand::SubmitContribution {
                    contribution_id: contribution(n),
                    author: tag(n),
                    text: contribution_text(n),
                    at,
                },
                DialogueOp::Answer(n, r) => DialogueCommand::AnswerContribution {
                    contribution_id: contribution(n),
                    response: RESPONSES[usize::from(r)],
                    reason: "Причина".into(),
                    text: Some(contribution_text(n)),
                    at,
                },
                DialogueOp::Close(attendance) => DialogueCommand::Close {
                    attendance_count: attendance,
                    participating_organisations: vec!["ГО".into()],
                    at,
                },
                DialogueOp::Publish => DialogueCommand::PublishOutcome { report: "Звіт".into(), council_decision_ref: None, at },
            };
            let _ = run.step(command, at);
        }

        let mut closed = false;
        let mut submitted = BTreeSet::new();
        let mut answered = BTreeSet::new();
        for event in &run.log {
            match event {
                DialogueEvent::Announced(_) => {}
                DialogueEvent::ContributionSubmitted(s) => {
                    prop_assert!(opens_at <= s.at && s.at < closes_at, "submitted outside the window at {:?}", s.at);
                    prop_assert!(!closed, "submitted after closing");
                    prop_assert!(submitted.insert(s.contribution_id), "submitted twice");
                }
                DialogueEvent::ContributionAnswered(a) => {
                    prop_assert!(submitted.contains(&a.contribution_id), "answered before submitted");
                    prop_assert!(answered.insert(a.contribution_id), "answered twice");
                }
                DialogueEvent::Closed(c) => {
                    prop_assert!(!closed, "closed twice");
                    prop_assert!(c.at >= closes_at, "closed early at {:?}", c.at);
                    closed = true;
                }
                DialogueEvent::OutcomePublished(_) => prop_assert!(closed, "outcome before closing"),
            }
        }
        run.finish();
    }
}

// --- action plans --------------------------------------------------------------------------

#[derive(Debug, Clone)]
enum PlanOp {
    Wait(i64),
    Back(i64),
    AddCommitment(u8, i64, i64),
    AddMilestone(u8, u8, i64),
    Report(u8, u8, bool),
    Assess(u8, u8),
    Close,
    AmendCommitment(u8, i64),
    WithdrawCommitment(u8),
    AmendMilestone(u8, i64),
    WithdrawMilestone(u8),
}

fn plan_op() -> impl Strategy<Value = PlanOp> {
    prop_oneof![
        1 => (0i64..30 * 24 * 60).prop_map(PlanOp::Wait),
        1 => (1i64..24 * 60).prop_map(PlanOp::Back),
        3 => (0u8..4, -30i64..700, 0i64..400).prop_map(|(c, s, l)| PlanOp::AddCommitment(c, s, l)),
        4 => (0u8..4, 0u8..8, -30i64..800).prop_map(|(c, m, d)| PlanOp::AddMilestone(c, m, d)),
        4 => (0u8..8, 0u8..5, any::<bool>()).prop_map(|(m, s, l)| PlanOp::Report(m, s, l)),
        2 => (0u8..4, 0u8..5).prop_map(|(c, o)| PlanOp::Assess(c, o)),
        1 => Just(PlanOp::Close),
        1 => (0u8..4, -30i64..800).prop_map(|(c, e)| PlanOp::AmendCommitment(c, e)),
        1 => (0u8..4).prop_map(PlanOp::WithdrawCommitment),
        2 => (0u8..8, -30i64..800).prop_map(|(m, d)| PlanOp::AmendMilestone(m, d)),
        1 => (0u8..8).prop_map(PlanOp::WithdrawMilestone),
    ]
}

const STATUSES: [ImplementationStatus; 5] = [
    ImplementationStatus::NoEvidenceAvailable,
    ImplementationStatus::NotStarted,
    ImplementationStatus::Limited,
    ImplementationStatus::Substantial,
    ImplementationStatus::Complete,
];

const OPENED: [OpenedGovernment; 5] = [
    OpenedGovernment::Worsened,
    OpenedGovernment::DidNotChange,
    OpenedGovernment::Marginal,
    OpenedGovernment::Major,
    OpenedGovernment::Outstanding,
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn action_plans_keep_their_structure(ops in proptest::collection::vec(plan_op(), 0..60)) {
        let mut at = kyiv("2024-02-01", 12, 0);
        let start = date("2024-01-01");
        let mut run = Run::<ActionPlan>::new();
        let adopt = ActionPlanCommand::Adopt {
            plan_id: plan_id(),
            title: "План дій".into(),
            period_start: start,
            period_end: date("2025-12-31"),
            council_decision: "№ 1".into(),
            at,
        };
        run.step(adopt, at).expect("adopting an empty stream works");
        for op in ops {
            let command = match op {
                PlanOp::Wait(m) => { at = minutes(at, m); continue; }
                PlanOp::Back(m) => { at = minutes(at, -m); continue; }
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
                    opened_government: OPENED[usize::from(o)],
                    at,
                },
                PlanOp::Close => ActionPlanCommand::Close { at },
                PlanOp::AmendCommitment(c, end) => ActionPlanCommand::AmendCommitment {
                    commitment_id: commitment(c),
                    end: start.add_days(end),
                    reason: "Продовжено".into(),
                    at,
                },
                PlanOp::WithdrawCommitment(c) => ActionPlanCommand::WithdrawCommitment {
                    commitment_id: commitment(c),
                    reason: "Вилучено".into(),
                    at,
                },
                PlanOp::AmendMilestone(m, due) => ActionPlanCommand::AmendMilestone {
                    milestone_id: milestone(m),
                    due: start.add_days(due),
                    reason: "Перенесено".into(),
                    at,
                },
                PlanOp::WithdrawMilestone(m) => ActionPlanCommand::WithdrawMilestone {
                    milestone_id: milestone(m),
                    reason: "Вилучено".into(),
                    at,
                },
            };
            let _ = run.step(command, at);
            let state = &run.state;
            // Every live milestone lies within its commitment, which lies within the plan,
            // however they were amended.
            for c in state.commitments.values() {
                let (Some(c_start), Some(c_end)) = (c.start, c.end) else { continue };
                prop_assert!(state.period_start <= Some(c_start) && Some(c_end) <= state.period_end);
                for m in c.milestones.values().filter(|m| !m.withdrawn) {
                    prop_assert!(c_start <= m.due && m.due <= c_end);
                }
                // A withdrawn commitment or milestone is never overdue.
                if c.withdrawn {
                    prop_assert!(c.assessment.is_none(), "assessed after its withdrawal");
                }
            }
            for id in state.overdue_milestones(date("2030-01-01")) {
                let owner = &state.commitments[&state.milestone_owners[&id]];
                prop_assert!(!owner.withdrawn && !owner.milestones[&id].withdrawn);
            }
            if state.status == PlanStatus::Closed {
                prop_assert!(!state.commitments.is_empty(), "closed without commitments");
                prop_assert!(state
                    .commitments
                    .values()
                    .all(|c| c.assessment.is_some() || c.withdrawn));
                prop_assert!(state.overdue_milestones(date("2030-01-01")).is_empty());
            }
        }
        // Nothing is amended or withdrawn after the plan closed.
        let closed_at = run.log.iter().position(|e| matches!(e, ActionPlanEvent::Closed(_)));
        if let Some(closed_at) = closed_at {
            prop_assert_eq!(closed_at, run.log.len() - 1, "an event after closing");
        }
        // Milestones of assessed commitments are never overdue.
        let assessed: BTreeSet<_> = run.log.iter().filter_map(|e| match e {
            ActionPlanEvent::CommitmentAssessed(a) => Some(a.commitment_id),
            _ => None,
        }).collect();
        for id in run.state.overdue_milestones(date("2030-01-01")) {
            let owner = run.state.milestone_owners[&id];
            prop_assert!(!assessed.contains(&owner), "{:?} of an assessed commitment is overdue", id);
        }
        run.finish();
    }
}

// --- participatory budgets -----------------------------------------------------------------

#[derive(Debug, Clone)]
enum BudgetOp {
    Back(i64),
    Submit(u8, u64),
    Review(u8, bool),
    Vote(u8, Vec<u8>),
    Declare,
    Fund(u8, u64),
    Report(u8, u8, bool),
    Close,
}

fn budget_op() -> impl Strategy<Value = BudgetOp> {
    // Few projects and voters, so ballots often find eligible ones and voters come twice.
    prop_oneof![
        1 => (1i64..24 * 60).prop_map(BudgetOp::Back),
        3 => (0u8..4, 4_000_000u64..32_000_000).prop_map(|(p, c)| BudgetOp::Submit(p, c)),
        3 => (0u8..4, prop::bool::weighted(0.8)).prop_map(|(p, e)| BudgetOp::Review(p, e)),
        6 => (0u8..8, proptest::collection::vec(0u8..4, 0..3)).prop_map(|(v, p)| BudgetOp::Vote(v, p)),
        1 => Just(BudgetOp::Declare),
        3 => (0u8..4, 1u64..15_000_000).prop_map(|(p, a)| BudgetOp::Fund(p, a)),
        3 => (0u8..4, 0u8..4, any::<bool>()).prop_map(|(p, s, l)| BudgetOp::Report(p, s, l)),
        1 => Just(BudgetOp::Close),
    ]
}

/// An op at a point of the round's life: the period (0 submission, 1 review, 2 voting,
/// 3 after) and how far into it, in thousandths. Any op may come in any period.
fn timed_budget_op() -> impl Strategy<Value = (u8, u16, BudgetOp)> {
    (0u8..4, 0u16..1000, budget_op())
}

const PROJECT_STATUSES: [ProjectStatus; 4] = [
    ProjectStatus::NotStarted,
    ProjectStatus::InProgress,
    ProjectStatus::Completed,
    ProjectStatus::Cancelled,
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// A round driven through its whole life at random: ballots only in the voting period and
    /// only for eligible projects, one per voter; the declared results are the ones computed
    /// from the ballots; only winners are funded, within the amount; nothing after closing.
    #[test]
    fn budget_rounds_keep_their_rules(mut ops in proptest::collection::vec(timed_budget_op(), 0..100)) {
        let rules = round_rules();
        let periods = [
            (rules.submission_opens, rules.submission_closes),
            (rules.submission_closes, rules.voting_opens),
            (rules.voting_opens, rules.voting_closes),
            (rules.voting_closes, Timestamp(rules.voting_closes.0 + 60 * DAY_MICROS)),
        ];
        ops.sort_by_key(|(period, permille, _)| (*period, *permille));
        let mut at = rules.submission_opens;
        let mut run = Run::<BudgetRound>::new();
        let announce = BudgetCommand::Announce {
            round_id: round_id(),
            title: "Громадський бюджет".into(),
            council_decision: "№ 1".into(),
            rules: rules.clone(),
            at,
        };
        run.step(announce, at).expect("announcing in an empty stream works");
        // Minutes the next command is dated before its point (a command from the past).
        let mut back = 0;
        for (period, permille, op) in ops {
            let (start, end) = periods[usize::from(period)];
            at = minutes(Timestamp(start.0 + (end.0 - start.0) / 1000 * i64::from(permille)), -back);
            back = 0;
            let before = run.state.clone();
            let command = match op {
                BudgetOp::Back(m) => { back = m; continue; }
                BudgetOp::Submit(p, cost) => submit_project(p, cost, at),
                BudgetOp::Review(p, eligible) => BudgetCommand::Review {
                    project_id: project(p),
                    outcome: if eligible {
                        ReviewOutcome::Eligible { disclosure: numbered_project_text(p), cost: 10_000_000 }
                    } else {
                        ReviewOutcome::Ineligible { reason: "Поза повноваженнями.".into() }
                    },
                    at,
                },
                BudgetOp::Vote(v, picks) => BudgetCommand::Vote {
                    voter: Voter { tag: tag(0x90 + v), age: Some(16 + v), resident: v != 7 },
                    projects: picks.into_iter().map(project).collect(),
                    at,
                },
                BudgetOp::Declare => BudgetCommand::DeclareResults { at },
                BudgetOp::Fund(p, amount) => BudgetCommand::Fund { project_id: project(p), amount, at },
                BudgetOp::Report(p, s, link) => BudgetCommand::ReportProgress {
                    project_id: project(p),
                    status: PROJECT_STATUSES[usize::from(s)],
                    evidence_link: link.then(|| "https://example.gov.ua/p".to_owned()),
                    note: String::new(),
                    at,
                },
                BudgetOp::Close => BudgetCommand::Close { at },
            };
            let decided = run.step(command, at);
            let Ok(events) = decided else { continue };
            prop_assert!(before.status != RoundStatus::Closed, "a closed round changed");
            for event in &events {
                match event {
                    BudgetEvent::BallotCast(ballot) => {
                        prop_assert!(rules.voting_opens <= ballot.at && ballot.at < rules.voting_closes);
                        prop_assert!(!before.voters.contains(&ballot.voter), "a second ballot");
                        for id in &ballot.projects {
                            prop_assert_eq!(before.projects[id].eligible, Some(true));
                        }
                    }
                    BudgetEvent::ResultsDeclared(declared) => {
                        prop_assert!(declared.at >= rules.voting_closes);
                        let (ranking, winners) = results(&before);
                        prop_assert_eq!(&declared.ranking, &ranking);
                        prop_assert_eq!(&declared.winners, &winners);
                        // Counted again from the ballots in the log, not from the state.
                        let ballots: Vec<&BallotCast> = run.log.iter().filter_map(|e| match e {
                            BudgetEvent::BallotCast(b) => Some(b),
                            _ => None,
                        }).collect();
                        prop_assert_eq!(declared.ballots as usize, ballots.len());
                        for tally in &declared.ranking {
                            let counted = ballots.iter().filter(|b| b.projects.contains(&tally.project_id)).count();
                            prop_assert_eq!(tally.votes as usize, counted);
                        }
                    }
                    BudgetEvent::ProjectFunded(funded) => {
                        prop_assert!(before.winners.contains(&funded.project_id));
                        prop_assert!(funded.amount <= before.projects[&funded.project_id].cost);
                    }
                    _ => {}
                }
            }
            prop_assert!(run.state.funded_total <= rules.amount);
            prop_assert_eq!(run.state.ballots as usize, run.state.voters.len());
        }
        run.finish();
    }
}
