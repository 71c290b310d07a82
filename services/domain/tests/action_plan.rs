//! Given/when/then tests of every OGP-Local action plan rule, each with a passing and a
//! refusing case, and the overdue-milestone derivation.

mod fixtures;

use domain::action_plan::{
    ActionPlanCommand, ActionPlanEvent, COMMITMENTS_MAX, CoChairNamed, CommitmentAdded,
    CommitmentAssessed, CommitmentWithdrawn, FORUM_MEMBERS_MAX, ForumMemberJoined, ForumMemberLeft,
    ForumSide, ImplementationStatus, MILESTONES_PER_COMMITMENT_MAX, MilestoneAdded,
    MilestoneAmended, OgpValue, OpenedGovernment, PROPOSALS_PER_COMMITMENT_MAX, PlanAdopted,
    PlanClosed, PlanDrafted, PlanStatus, ProgressReported, Proposal, ProposalsTaken,
};
use domain::testing::given;
use domain::{ActionPlan, CivilDate, CommitmentId, DomainError, MilestoneId, Refusal, Violation};
use event_store_core::Timestamp;
use fixtures::{commitment, date, kyiv, milestone, plan_id};
use uuid::Uuid;

fn at() -> Timestamp {
    kyiv("2024-02-01", 12, 0)
}

fn adopt(start: CivilDate, end: CivilDate) -> ActionPlanCommand {
    ActionPlanCommand::Adopt {
        plan_id: plan_id(),
        title: "План дій OGP Local 2024–2025".into(),
        period_start: start,
        period_end: end,
        council_decision: "рішення № 12/345 від 25.01.2024".into(),
        at: at(),
    }
}

fn adopted() -> ActionPlanEvent {
    ActionPlanEvent::Adopted(PlanAdopted {
        plan_id: plan_id(),
        title: "План дій OGP Local 2024–2025".into(),
        period_start: date("2024-01-01"),
        period_end: date("2025-12-31"),
        council_decision: "рішення № 12/345 від 25.01.2024".into(),
        at: at(),
        acted_by: None,
    })
}

fn add_commitment(n: u8, values: Vec<OgpValue>, start: &str, end: &str) -> ActionPlanCommand {
    ActionPlanCommand::AddCommitment {
        commitment_id: commitment(n),
        title: "Відкриті дані бюджету".into(),
        description: "Публікувати бюджет щомісяця у форматі відкритих даних.".into(),
        lead_institution: "Фінансове управління".into(),
        values,
        start: date(start),
        end: date(end),
        at: at(),
    }
}

fn commitment_added(n: u8) -> ActionPlanEvent {
    ActionPlanEvent::CommitmentAdded(CommitmentAdded {
        plan_id: plan_id(),
        commitment_id: commitment(n),
        title: "Відкриті дані бюджету".into(),
        description: "Публікувати бюджет щомісяця у форматі відкритих даних.".into(),
        lead_institution: "Фінансове управління".into(),
        values: vec![
            OgpValue::AccessToInformation,
            OgpValue::TechnologyAndInnovation,
        ],
        start: date("2024-03-01"),
        end: date("2025-06-30"),
        at: at(),
        acted_by: None,
    })
}

fn add_milestone(c: u8, m: u8, due: &str) -> ActionPlanCommand {
    ActionPlanCommand::AddMilestone {
        commitment_id: commitment(c),
        milestone_id: milestone(m),
        title: "Портал відкритих даних запущено".into(),
        due: date(due),
        at: at(),
    }
}

fn milestone_added(c: u8, m: u8, due: &str) -> ActionPlanEvent {
    ActionPlanEvent::MilestoneAdded(MilestoneAdded {
        plan_id: plan_id(),
        commitment_id: commitment(c),
        milestone_id: milestone(m),
        title: "Портал відкритих даних запущено".into(),
        due: date(due),
        at: at(),
        acted_by: None,
    })
}

fn report(m: u8, status: ImplementationStatus, link: Option<&str>) -> ActionPlanCommand {
    ActionPlanCommand::ReportProgress {
        milestone_id: milestone(m),
        status,
        evidence_link: link.map(str::to_owned),
        at: at(),
    }
}

fn reported(c: u8, m: u8, status: ImplementationStatus, link: Option<&str>) -> ActionPlanEvent {
    ActionPlanEvent::ProgressReported(ProgressReported {
        plan_id: plan_id(),
        commitment_id: commitment(c),
        milestone_id: milestone(m),
        status,
        evidence_link: link.map(str::to_owned),
        at: at(),
        acted_by: None,
    })
}

fn assess(c: u8) -> ActionPlanCommand {
    ActionPlanCommand::AssessCommitment {
        commitment_id: commitment(c),
        completion: ImplementationStatus::Substantial,
        opened_government: OpenedGovernment::Major,
        at: at(),
    }
}

fn assessed(c: u8) -> ActionPlanEvent {
    ActionPlanEvent::CommitmentAssessed(CommitmentAssessed {
        plan_id: plan_id(),
        commitment_id: commitment(c),
        completion: ImplementationStatus::Substantial,
        opened_government: OpenedGovernment::Major,
        at: at(),
        acted_by: None,
    })
}

fn closed() -> ActionPlanEvent {
    ActionPlanEvent::Closed(PlanClosed {
        plan_id: plan_id(),
        at: at(),
        acted_by: None,
    })
}

const LINK: &str = "https://opendata.kyiv.ua/budget-2024";

// --- adoption ------------------------------------------------------------------------------

#[test]
fn adopting_records_title_period_and_council_decision() {
    let state = given::<ActionPlan>([])
        .when(adopt(date("2024-01-01"), date("2025-12-31")))
        .then([adopted()]);
    assert_eq!(state.status, PlanStatus::Active);
}

#[test]
fn adopting_refuses_a_bad_period_and_a_second_adoption() {
    given::<ActionPlan>([])
        .when(adopt(date("2025-12-31"), date("2024-01-01")))
        .then_error(DomainError::invalid(
            "period_end",
            Violation::EndBeforeStart,
        ));
    given::<ActionPlan>([])
        .when(adopt(date("2024-01-01"), date("2029-01-01")))
        .then_error(DomainError::invalid(
            "period_end",
            Violation::SpanTooLong { days_max: 1_461 },
        ));
    given::<ActionPlan>([adopted()])
        .when(adopt(date("2024-01-01"), date("2025-12-31")))
        .then_error(DomainError::refused(Refusal::PlanAlreadyAdopted));
}

// --- commitments ---------------------------------------------------------------------------

#[test]
fn commitments_record_their_values_in_canonical_order() {
    let values = vec![
        OgpValue::TechnologyAndInnovation,
        OgpValue::AccessToInformation,
        OgpValue::TechnologyAndInnovation,
    ];
    given::<ActionPlan>([adopted()])
        .when(add_commitment(1, values, "2024-03-01", "2025-06-30"))
        .then([commitment_added(1)]);
}

#[test]
fn commitments_are_refused_without_values_outside_the_plan_or_twice() {
    given::<ActionPlan>([adopted()])
        .when(add_commitment(1, vec![], "2024-03-01", "2025-06-30"))
        .then_error(DomainError::invalid("values", Violation::Empty));
    given::<ActionPlan>([adopted()])
        .when(add_commitment(
            1,
            vec![OgpValue::CivicParticipation],
            "2024-03-01",
            "2026-01-01",
        ))
        .then_error(DomainError::refused(Refusal::OutsidePlanPeriod));
    given::<ActionPlan>([adopted(), commitment_added(1)])
        .when(add_commitment(
            1,
            vec![OgpValue::CivicParticipation],
            "2024-03-01",
            "2025-06-30",
        ))
        .then_error(DomainError::refused(Refusal::DuplicateCommitment));
    given::<ActionPlan>([])
        .when(add_commitment(
            1,
            vec![OgpValue::CivicParticipation],
            "2024-03-01",
            "2025-06-30",
        ))
        .then_error(DomainError::not_found("action plan"));
}

// --- milestones ----------------------------------------------------------------------------

#[test]
fn milestones_are_due_within_their_commitment() {
    given::<ActionPlan>([adopted(), commitment_added(1)])
        .when(add_milestone(1, 1, "2024-06-30"))
        .then([milestone_added(1, 1, "2024-06-30")]);
}

#[test]
fn milestones_are_refused_outside_the_commitment_for_unknown_commitments_or_twice() {
    given::<ActionPlan>([adopted(), commitment_added(1)])
        .when(add_milestone(1, 1, "2025-07-01"))
        .then_error(DomainError::refused(Refusal::OutsideCommitmentPeriod));
    given::<ActionPlan>([adopted(), commitment_added(1)])
        .when(add_milestone(2, 1, "2024-06-30"))
        .then_error(DomainError::not_found("commitment"));
    given::<ActionPlan>([
        adopted(),
        commitment_added(1),
        milestone_added(1, 1, "2024-06-30"),
    ])
    .when(add_milestone(1, 1, "2024-07-30"))
    .then_error(DomainError::refused(Refusal::DuplicateMilestone));
    given::<ActionPlan>([adopted(), commitment_added(1), assessed(1)])
        .when(add_milestone(1, 2, "2024-07-30"))
        .then_error(DomainError::refused(Refusal::CommitmentAlreadyAssessed));
}

// --- progress reports ----------------------------------------------------------------------

fn with_milestone() -> Vec<ActionPlanEvent> {
    vec![
        adopted(),
        commitment_added(1),
        milestone_added(1, 1, "2024-06-30"),
    ]
}

#[test]
fn progress_is_reported_on_the_irm_scale_with_evidence() {
    given::<ActionPlan>(with_milestone())
        .when(report(1, ImplementationStatus::Substantial, Some(LINK)))
        .then([reported(
            1,
            1,
            ImplementationStatus::Substantial,
            Some(LINK),
        )]);
    // No progress claimed, no evidence needed.
    given::<ActionPlan>(with_milestone())
        .when(report(1, ImplementationStatus::NotStarted, None))
        .then([reported(1, 1, ImplementationStatus::NotStarted, None)]);
}

#[test]
fn progress_reports_need_evidence_for_progress_and_a_known_milestone() {
    given::<ActionPlan>(with_milestone())
        .when(report(1, ImplementationStatus::Complete, None))
        .then_error(DomainError::invalid("evidence_link", Violation::Missing));
    given::<ActionPlan>(with_milestone())
        .when(report(
            1,
            ImplementationStatus::Limited,
            Some("див. сайт ради"),
        ))
        .then_error(DomainError::invalid("evidence_link", Violation::NotHttpUrl));
    given::<ActionPlan>(with_milestone())
        .when(report(2, ImplementationStatus::NotStarted, None))
        .then_error(DomainError::not_found("milestone"));
}

// --- assessment and closing ----------------------------------------------------------------

#[test]
fn commitments_are_assessed_once() {
    given::<ActionPlan>(with_milestone())
        .when(assess(1))
        .then([assessed(1)]);
    let mut history = with_milestone();
    history.push(assessed(1));
    given::<ActionPlan>(history.clone())
        .when(assess(1))
        .then_error(DomainError::refused(Refusal::CommitmentAlreadyAssessed));
    given::<ActionPlan>(history)
        .when(report(1, ImplementationStatus::Complete, Some(LINK)))
        .then_error(DomainError::refused(Refusal::CommitmentAlreadyAssessed));
}

#[test]
fn a_plan_closes_once_every_commitment_is_assessed() {
    let mut history = with_milestone();
    given::<ActionPlan>(history.clone())
        .when(ActionPlanCommand::Close { at: at() })
        .then_error(DomainError::refused(Refusal::CommitmentsNotAssessed));
    history.push(assessed(1));
    let state = given::<ActionPlan>(history.clone())
        .when(ActionPlanCommand::Close { at: at() })
        .then([closed()]);
    assert_eq!(state.status, PlanStatus::Closed);
    history.push(closed());
    given::<ActionPlan>(history.clone())
        .when(ActionPlanCommand::Close { at: at() })
        .then_error(DomainError::refused(Refusal::PlanClosed));
    given::<ActionPlan>(history)
        .when(add_commitment(
            2,
            vec![OgpValue::PublicAccountability],
            "2024-03-01",
            "2025-06-30",
        ))
        .then_error(DomainError::refused(Refusal::PlanClosed));
}

// --- overdue milestones --------------------------------------------------------------------

#[test]
fn a_milestone_past_due_and_not_complete_is_overdue() {
    let mut history = with_milestone();
    history.push(milestone_added(1, 2, "2024-09-30"));
    history.push(reported(
        1,
        1,
        ImplementationStatus::Substantial,
        Some(LINK),
    ));
    let state = given::<ActionPlan>(history.clone()).state().clone();
    assert_eq!(
        state.milestone_overdue(milestone(1), date("2024-06-30")),
        Some(false)
    );
    assert_eq!(
        state.milestone_overdue(milestone(1), date("2024-07-01")),
        Some(true)
    );
    assert_eq!(
        state.milestone_overdue(milestone(9), date("2024-07-01")),
        None
    );
    assert_eq!(
        state.overdue_milestones(date("2024-07-01")),
        vec![milestone(1)]
    );
    assert_eq!(
        state.overdue_milestones(date("2024-10-01")),
        vec![milestone(1), milestone(2)]
    );

    history.push(reported(1, 1, ImplementationStatus::Complete, Some(LINK)));
    let state = given::<ActionPlan>(history).state().clone();
    assert_eq!(
        state.milestone_overdue(milestone(1), date("2024-07-01")),
        Some(false)
    );
    assert_eq!(
        state.overdue_milestones(date("2024-10-01")),
        vec![milestone(2)]
    );
}

// --- bounds --------------------------------------------------------------------------------

fn nth_commitment(n: u32) -> CommitmentId {
    CommitmentId(Uuid::from_u128(0xc0_0000_0000 + u128::from(n)))
}

fn nth_milestone(n: u32) -> MilestoneId {
    MilestoneId(Uuid::from_u128(0x30_0000_0000 + u128::from(n)))
}

fn commitment_added_as(id: CommitmentId) -> ActionPlanEvent {
    let ActionPlanEvent::CommitmentAdded(mut added) = commitment_added(1) else {
        unreachable!()
    };
    added.commitment_id = id;
    ActionPlanEvent::CommitmentAdded(added)
}

#[test]
fn a_plan_holds_at_most_commitments_max_commitments() {
    let add = |id| ActionPlanCommand::AddCommitment {
        commitment_id: id,
        title: "Відкриті дані бюджету".into(),
        description: "Публікувати бюджет щомісяця у форматі відкритих даних.".into(),
        lead_institution: "Фінансове управління".into(),
        values: vec![OgpValue::AccessToInformation],
        start: date("2024-03-01"),
        end: date("2025-06-30"),
        at: at(),
    };
    let mut history = vec![adopted()];
    history.extend((0..COMMITMENTS_MAX - 1).map(|n| commitment_added_as(nth_commitment(n))));
    given::<ActionPlan>(history.clone())
        .when(add(nth_commitment(COMMITMENTS_MAX - 1)))
        .then_ok();
    history.push(commitment_added_as(nth_commitment(COMMITMENTS_MAX - 1)));
    given::<ActionPlan>(history)
        .when(add(nth_commitment(COMMITMENTS_MAX)))
        .then_error(DomainError::refused(Refusal::TooManyCommitments));
}

#[test]
fn a_commitment_holds_at_most_milestones_max_milestones() {
    let added = |n| {
        ActionPlanEvent::MilestoneAdded(MilestoneAdded {
            plan_id: plan_id(),
            commitment_id: commitment(1),
            milestone_id: nth_milestone(n),
            title: "Етап".into(),
            due: date("2024-06-30"),
            at: at(),
            acted_by: None,
        })
    };
    let add = |n| ActionPlanCommand::AddMilestone {
        commitment_id: commitment(1),
        milestone_id: nth_milestone(n),
        title: "Етап".into(),
        due: date("2024-06-30"),
        at: at(),
    };
    let mut history = vec![adopted(), commitment_added(1)];
    history.extend((0..MILESTONES_PER_COMMITMENT_MAX - 1).map(added));
    given::<ActionPlan>(history.clone())
        .when(add(MILESTONES_PER_COMMITMENT_MAX - 1))
        .then([added(MILESTONES_PER_COMMITMENT_MAX - 1)]);
    history.push(added(MILESTONES_PER_COMMITMENT_MAX - 1));
    given::<ActionPlan>(history)
        .when(add(MILESTONES_PER_COMMITMENT_MAX))
        .then_error(DomainError::refused(Refusal::TooManyMilestones));
}

#[test]
fn evidence_links_need_a_host() {
    for bad in ["https:///budget", "http://?q=1", "https://#top"] {
        given::<ActionPlan>(with_milestone())
            .when(report(1, ImplementationStatus::Complete, Some(bad)))
            .then_error(DomainError::invalid("evidence_link", Violation::NotHttpUrl));
    }
}

// --- closing and overdue -------------------------------------------------------------------

#[test]
fn a_plan_without_commitments_cannot_close() {
    given::<ActionPlan>([adopted()])
        .when(ActionPlanCommand::Close { at: at() })
        .then_error(DomainError::refused(Refusal::PlanHasNoCommitments));
    given::<ActionPlan>([adopted(), commitment_added(1), assessed(1)])
        .when(ActionPlanCommand::Close { at: at() })
        .then([closed()]);
}

#[test]
fn milestones_of_an_assessed_commitment_or_a_closed_plan_are_not_overdue() {
    let late = date("2024-07-01");
    let open = given::<ActionPlan>(with_milestone()).state().clone();
    assert_eq!(open.milestone_overdue(milestone(1), late), Some(true));
    assert_eq!(open.overdue_milestones(late), vec![milestone(1)]);

    let mut history = with_milestone();
    history.push(assessed(1));
    let assessed_state = given::<ActionPlan>(history.clone()).state().clone();
    assert_eq!(
        assessed_state.milestone_overdue(milestone(1), late),
        Some(false)
    );
    assert!(assessed_state.overdue_milestones(late).is_empty());

    history.push(closed());
    let closed_state = given::<ActionPlan>(history).state().clone();
    assert_eq!(
        closed_state.milestone_overdue(milestone(1), late),
        Some(false)
    );
    assert!(closed_state.overdue_milestones(late).is_empty());
}

// --- time never goes backwards -------------------------------------------------------------

#[test]
fn a_progress_report_dated_before_its_milestone_is_refused() {
    let before = Timestamp(at().0 - 1);
    given::<ActionPlan>(with_milestone())
        .when(ActionPlanCommand::ReportProgress {
            milestone_id: milestone(1),
            status: ImplementationStatus::NotStarted,
            evidence_link: None,
            at: before,
        })
        .then_error(DomainError::refused(Refusal::TimeBeforePrevious));
    given::<ActionPlan>(with_milestone())
        .when(report(1, ImplementationStatus::NotStarted, None))
        .then([reported(1, 1, ImplementationStatus::NotStarted, None)]);
}

#[test]
fn closing_before_the_last_assessment_is_refused() {
    let history = [adopted(), commitment_added(1), assessed(1)];
    given::<ActionPlan>(history.clone())
        .when(ActionPlanCommand::Close {
            at: Timestamp(at().0 - 1),
        })
        .then_error(DomainError::refused(Refusal::TimeBeforePrevious));
    given::<ActionPlan>(history)
        .when(ActionPlanCommand::Close { at: at() })
        .then([closed()]);
}

// --- amendments and withdrawals ------------------------------------------------------------

const REASON: &str = "Постачальник затримав обладнання; рішення виконкому № 44.";

fn amend_milestone(m: u8, due: &str) -> ActionPlanCommand {
    ActionPlanCommand::AmendMilestone {
        milestone_id: milestone(m),
        due: date(due),
        reason: REASON.into(),
        at: at(),
    }
}

fn withdraw_milestone(m: u8) -> ActionPlanCommand {
    ActionPlanCommand::WithdrawMilestone {
        milestone_id: milestone(m),
        reason: REASON.into(),
        at: at(),
    }
}

fn amend_commitment(c: u8, end: &str) -> ActionPlanCommand {
    ActionPlanCommand::AmendCommitment {
        commitment_id: commitment(c),
        end: date(end),
        reason: REASON.into(),
        at: at(),
    }
}

fn withdraw_commitment(c: u8) -> ActionPlanCommand {
    ActionPlanCommand::WithdrawCommitment {
        commitment_id: commitment(c),
        reason: REASON.into(),
        at: at(),
    }
}

#[test]
fn a_milestone_moved_with_a_reason_is_overdue_by_its_new_date() {
    let mut history = with_milestone();
    given::<ActionPlan>(history.clone())
        .when(amend_milestone(1, "2024-09-30"))
        .then(vec![ActionPlanEvent::MilestoneAmended(MilestoneAmended {
            plan_id: plan_id(),
            commitment_id: commitment(1),
            milestone_id: milestone(1),
            due: date("2024-09-30"),
            reason: REASON.into(),
            at: at(),
            acted_by: None,
        })]);
    history.extend(
        given::<ActionPlan>(history.clone())
            .when(amend_milestone(1, "2024-09-30"))
            .then_ok(),
    );
    let state = given::<ActionPlan>(history.clone()).state().clone();
    assert_eq!(
        state.milestone_overdue(milestone(1), date("2024-07-01")),
        Some(false)
    );
    assert_eq!(
        state.milestone_overdue(milestone(1), date("2024-10-01")),
        Some(true)
    );
    // Within the commitment's period only, with a reason, and never once complete.
    given::<ActionPlan>(history.clone())
        .when(amend_milestone(1, "2025-07-01"))
        .then_error(DomainError::refused(Refusal::OutsideCommitmentPeriod));
    given::<ActionPlan>(history.clone())
        .when(ActionPlanCommand::AmendMilestone {
            milestone_id: milestone(1),
            due: date("2024-09-30"),
            reason: " ".into(),
            at: at(),
        })
        .then_error(DomainError::invalid("reason", Violation::Blank));
    history.push(reported(1, 1, ImplementationStatus::Complete, Some(LINK)));
    given::<ActionPlan>(history)
        .when(amend_milestone(1, "2024-12-31"))
        .then_error(DomainError::refused(Refusal::MilestoneComplete));
}

#[test]
fn a_withdrawn_milestone_takes_no_more_steps_and_is_never_overdue() {
    let mut history = with_milestone();
    history.extend(
        given::<ActionPlan>(history.clone())
            .when(withdraw_milestone(1))
            .then_ok(),
    );
    let state = given::<ActionPlan>(history.clone()).state().clone();
    assert_eq!(
        state.milestone_overdue(milestone(1), date("2025-01-01")),
        Some(false)
    );
    assert!(state.overdue_milestones(date("2025-01-01")).is_empty());
    for step in [
        report(1, ImplementationStatus::Limited, Some(LINK)),
        amend_milestone(1, "2024-09-30"),
        withdraw_milestone(1),
    ] {
        given::<ActionPlan>(history.clone())
            .when(step)
            .then_error(DomainError::refused(Refusal::MilestoneWithdrawn));
    }
}

#[test]
fn a_withdrawn_commitment_needs_no_assessment_and_takes_no_more_steps() {
    let mut history = with_milestone();
    history.push(commitment_added(2));
    history.push(assessed(2));
    given::<ActionPlan>(history.clone())
        .when(ActionPlanCommand::Close { at: at() })
        .then_error(DomainError::refused(Refusal::CommitmentsNotAssessed));
    history.extend(
        given::<ActionPlan>(history.clone())
            .when(withdraw_commitment(1))
            .then_ok(),
    );
    let state = given::<ActionPlan>(history.clone()).state().clone();
    assert!(
        state.overdue_milestones(date("2025-01-01")).is_empty(),
        "its milestones are not overdue"
    );
    for step in [
        add_milestone(1, 3, "2024-08-01"),
        report(1, ImplementationStatus::Limited, Some(LINK)),
        assess(1),
        amend_commitment(1, "2025-12-31"),
        withdraw_commitment(1),
    ] {
        given::<ActionPlan>(history.clone())
            .when(step)
            .then_error(DomainError::refused(Refusal::CommitmentWithdrawn));
    }
    given::<ActionPlan>(history)
        .when(ActionPlanCommand::Close { at: at() })
        .then_ok();
}

#[test]
fn a_commitment_is_extended_within_the_plan_and_never_before_its_milestones() {
    let history = with_milestone();
    given::<ActionPlan>(history.clone())
        .when(amend_commitment(1, "2025-12-31"))
        .then_ok();
    given::<ActionPlan>(history.clone())
        .when(amend_commitment(1, "2026-01-01"))
        .then_error(DomainError::refused(Refusal::OutsidePlanPeriod));
    given::<ActionPlan>(history.clone())
        .when(amend_commitment(1, "2024-05-31"))
        .then_error(DomainError::refused(Refusal::OutsideCommitmentPeriod));
    given::<ActionPlan>(history.clone())
        .when(amend_commitment(9, "2025-12-31"))
        .then_error(DomainError::not_found("commitment"));
    let mut assessed_plan = history;
    assessed_plan.push(assessed(1));
    given::<ActionPlan>(assessed_plan)
        .when(amend_commitment(1, "2025-12-31"))
        .then_error(DomainError::refused(Refusal::CommitmentAlreadyAssessed));
}

#[test]
fn nothing_is_amended_or_withdrawn_after_the_plan_closes() {
    let mut history = with_milestone();
    history.push(assessed(1));
    history.push(closed());
    for step in [
        amend_commitment(1, "2025-12-31"),
        withdraw_commitment(1),
        amend_milestone(1, "2024-09-30"),
        withdraw_milestone(1),
    ] {
        given::<ActionPlan>(history.clone())
            .when(step)
            .then_error(DomainError::refused(Refusal::PlanClosed));
    }
}

// --- co-creation ---------------------------------------------------------------------------

fn take(c: u8, contributions: &[u8], accepted: &[u8]) -> ActionPlanCommand {
    ActionPlanCommand::TakeProposals {
        commitment_id: commitment(c),
        dialogue_id: domain::DialogueId(Uuid::from_u128(0x0D1A)),
        contributions: contributions
            .iter()
            .map(|n| fixtures::contribution(*n))
            .collect(),
        accepted: accepted
            .iter()
            .map(|n| fixtures::contribution(*n))
            .collect(),
        at: at(),
    }
}

#[test]
fn a_commitment_takes_only_proposals_its_dialogue_accepted_and_each_once() {
    let history = vec![adopted(), commitment_added(1)];
    let taken = given::<ActionPlan>(history.clone())
        .when(take(1, &[2, 1, 2], &[1, 2, 3]))
        .then_ok();
    let ActionPlanEvent::ProposalsTaken(event) = &taken[0] else {
        panic!("not proposals taken: {taken:?}");
    };
    assert_eq!(
        event.contributions,
        [fixtures::contribution(1), fixtures::contribution(2)],
        "ascending, each once"
    );
    given::<ActionPlan>(history.clone())
        .when(take(1, &[1, 4], &[1, 2, 3]))
        .then_error(DomainError::refused(Refusal::ProposalNotAccepted));
    given::<ActionPlan>(history.clone())
        .when(take(1, &[], &[1]))
        .then_error(DomainError::invalid("contributions", Violation::Empty));
    let mut after = history;
    after.extend(taken);
    given::<ActionPlan>(after.clone())
        .when(take(1, &[2], &[1, 2]))
        .then_error(DomainError::refused(Refusal::ProposalAlreadyTaken));
    given::<ActionPlan>(after.clone())
        .when(take(9, &[3], &[3]))
        .then_error(DomainError::not_found("commitment"));
    let mut closed_plan = after;
    closed_plan.push(assessed(1));
    closed_plan.push(closed());
    given::<ActionPlan>(closed_plan)
        .when(take(1, &[3], &[3]))
        .then_error(DomainError::refused(Refusal::PlanClosed));
}

// --- the local forum and the draft ---------------------------------------------------------

fn drafted() -> ActionPlanEvent {
    ActionPlanEvent::Drafted(PlanDrafted {
        plan_id: plan_id(),
        title: "План дій OGP Local 2024–2025 (проєкт)".into(),
        period_start: date("2024-01-01"),
        period_end: date("2025-12-31"),
        at: at(),
        acted_by: None,
    })
}

fn join(n: u8, side: ForumSide) -> ActionPlanCommand {
    ActionPlanCommand::JoinForum {
        member_id: fixtures::forum_member(n),
        side,
        organisation: "ГО «Агенція місцевого розвитку»".into(),
        role: "виконавча директорка".into(),
        at: at(),
    }
}

fn joined(n: u8, side: ForumSide) -> ActionPlanEvent {
    ActionPlanEvent::ForumMemberJoined(ForumMemberJoined {
        plan_id: plan_id(),
        member_id: fixtures::forum_member(n),
        side,
        organisation: "ГО «Агенція місцевого розвитку»".into(),
        role: "виконавча директорка".into(),
        at: at(),
        acted_by: None,
    })
}

fn co_chair(n: u8, side: ForumSide) -> ActionPlanEvent {
    ActionPlanEvent::CoChairNamed(CoChairNamed {
        plan_id: plan_id(),
        member_id: fixtures::forum_member(n),
        side,
        at: at(),
        acted_by: None,
    })
}

fn adopt_draft() -> ActionPlanCommand {
    ActionPlanCommand::AdoptDraft {
        council_decision: "рішення № 15/900 від 20.02.2024".into(),
        at: at(),
    }
}

fn proposals_taken(c: u8, contributions: &[u8]) -> ActionPlanEvent {
    ActionPlanEvent::ProposalsTaken(ProposalsTaken {
        plan_id: plan_id(),
        commitment_id: commitment(c),
        dialogue_id: domain::DialogueId(Uuid::from_u128(0x0D1A)),
        contributions: contributions
            .iter()
            .map(|n| fixtures::contribution(*n))
            .collect(),
        at: at(),
        acted_by: None,
    })
}

/// A draft with a forum of two, both co-chairs named, and two commitments, the first taking
/// proposals 1 and 2, the second proposal 3.
fn co_created_draft() -> Vec<ActionPlanEvent> {
    vec![
        drafted(),
        joined(1, ForumSide::Government),
        joined(2, ForumSide::Public),
        co_chair(1, ForumSide::Government),
        co_chair(2, ForumSide::Public),
        commitment_added(1),
        commitment_added(2),
        proposals_taken(1, &[1, 2]),
        proposals_taken(2, &[3]),
    ]
}

#[test]
fn an_adopted_draft_records_every_proposal_its_commitments_take() {
    let adopted = given::<ActionPlan>(co_created_draft())
        .when(adopt_draft())
        .then_ok();
    let ActionPlanEvent::DraftAdopted(event) = &adopted[0] else {
        panic!("not a draft adopted: {adopted:?}");
    };
    let proposal = |n| Proposal {
        dialogue_id: domain::DialogueId(Uuid::from_u128(0x0D1A)),
        contribution_id: fixtures::contribution(n),
    };
    assert_eq!(event.proposals, [proposal(1), proposal(2), proposal(3)]);
    // A withdrawn commitment's proposals are not in the plan.
    let mut history = co_created_draft();
    history.push(ActionPlanEvent::CommitmentWithdrawn(CommitmentWithdrawn {
        plan_id: plan_id(),
        commitment_id: commitment(2),
        reason: "Об'єднано з першим.".into(),
        at: at(),
        acted_by: None,
    }));
    let adopted = given::<ActionPlan>(history).when(adopt_draft()).then_ok();
    let ActionPlanEvent::DraftAdopted(event) = &adopted[0] else {
        panic!("not a draft adopted: {adopted:?}");
    };
    assert_eq!(event.proposals, [proposal(1), proposal(2)]);
}

#[test]
fn a_draft_is_adopted_only_with_both_co_chairs_and_a_commitment() {
    // No public co-chair.
    let mut one_chair = co_created_draft();
    one_chair.retain(|e| *e != co_chair(2, ForumSide::Public));
    given::<ActionPlan>(one_chair)
        .when(adopt_draft())
        .then_error(DomainError::refused(Refusal::CoChairsNotNamed));
    // The public co-chair left: the seat is vacant.
    let mut left = co_created_draft();
    left.push(ActionPlanEvent::ForumMemberLeft(ForumMemberLeft {
        plan_id: plan_id(),
        member_id: fixtures::forum_member(2),
        reason: "Організація вийшла з форуму.".into(),
        at: at(),
        acted_by: None,
    }));
    given::<ActionPlan>(left.clone())
        .when(adopt_draft())
        .then_error(DomainError::refused(Refusal::CoChairsNotNamed));
    given::<ActionPlan>(left)
        .when(ActionPlanCommand::NameCoChair {
            member_id: fixtures::forum_member(2),
            at: at(),
        })
        .then_error(DomainError::refused(Refusal::ForumMemberLeft));
    // No commitment.
    given::<ActionPlan>(co_created_draft()[..5].to_vec())
        .when(adopt_draft())
        .then_error(DomainError::refused(Refusal::PlanHasNoCommitments));
    // Adopted already; a plan adopted without a draft.
    let mut twice = co_created_draft();
    twice.extend(
        given::<ActionPlan>(co_created_draft())
            .when(adopt_draft())
            .then_ok(),
    );
    given::<ActionPlan>(twice)
        .when(adopt_draft())
        .then_error(DomainError::refused(Refusal::PlanAlreadyAdopted));
    given::<ActionPlan>(vec![adopted()])
        .when(adopt_draft())
        .then_error(DomainError::refused(Refusal::PlanAlreadyAdopted));
}

#[test]
fn nothing_is_reported_assessed_or_closed_in_a_draft() {
    let mut history = co_created_draft();
    history.push(milestone_added(1, 1, "2024-06-30"));
    for step in [
        report(1, ImplementationStatus::NotStarted, None),
        assess(1),
        ActionPlanCommand::Close { at: at() },
    ] {
        given::<ActionPlan>(history.clone())
            .when(step)
            .then_error(DomainError::refused(Refusal::PlanNotAdopted));
    }
}

#[test]
fn each_side_has_one_co_chair_and_members_are_seats_not_people() {
    let history = vec![
        drafted(),
        joined(1, ForumSide::Public),
        joined(2, ForumSide::Public),
    ];
    let named = given::<ActionPlan>(history.clone())
        .when(ActionPlanCommand::NameCoChair {
            member_id: fixtures::forum_member(2),
            at: at(),
        })
        .then_ok();
    assert_eq!(
        named,
        [co_chair(2, ForumSide::Public)],
        "the member's own side"
    );
    let mut after = history.clone();
    after.extend(named);
    given::<ActionPlan>(after.clone())
        .when(ActionPlanCommand::NameCoChair {
            member_id: fixtures::forum_member(2),
            at: at(),
        })
        .then_error(DomainError::refused(Refusal::AlreadyCoChair));
    // Naming another member of the side replaces the co-chair.
    let replaced = given::<ActionPlan>(after)
        .when(ActionPlanCommand::NameCoChair {
            member_id: fixtures::forum_member(1),
            at: at(),
        })
        .then_ok();
    assert_eq!(replaced, [co_chair(1, ForumSide::Public)]);
    given::<ActionPlan>(history.clone())
        .when(join(1, ForumSide::Government))
        .then_error(DomainError::refused(Refusal::DuplicateForumMember));
    given::<ActionPlan>(history.clone())
        .when(ActionPlanCommand::NameCoChair {
            member_id: fixtures::forum_member(9),
            at: at(),
        })
        .then_error(DomainError::not_found("forum member"));
    // A seat is an organisation and a role, each one line.
    let ActionPlanCommand::JoinForum {
        member_id, side, ..
    } = join(3, ForumSide::Public)
    else {
        unreachable!()
    };
    given::<ActionPlan>(history)
        .when(ActionPlanCommand::JoinForum {
            member_id,
            side,
            organisation: "ГО\nз переносом".into(),
            role: "голова".into(),
            at: at(),
        })
        .then_error(DomainError::invalid(
            "organisation",
            Violation::ControlCharacter,
        ));
}

#[test]
fn the_forum_holds_at_most_forum_members_max_seats() {
    let mut history = vec![drafted()];
    history.extend((0..FORUM_MEMBERS_MAX).map(|n| {
        ActionPlanEvent::ForumMemberJoined(ForumMemberJoined {
            plan_id: plan_id(),
            member_id: domain::ForumMemberId(Uuid::from_u128(0xF000 + u128::from(n))),
            side: ForumSide::Public,
            organisation: "ГО".into(),
            role: "член".into(),
            at: at(),
            acted_by: None,
        })
    }));
    given::<ActionPlan>(history)
        .when(join(255, ForumSide::Government))
        .then_error(DomainError::refused(Refusal::TooManyForumMembers));
}

#[test]
fn a_commitment_takes_at_most_proposals_per_commitment_max_proposals() {
    let mut history = vec![drafted(), commitment_added(1)];
    let ids: Vec<u8> = (0..u8::try_from(PROPOSALS_PER_COMMITMENT_MAX).unwrap()).collect();
    history.push(proposals_taken(1, &ids));
    given::<ActionPlan>(history)
        .when(take(1, &[200], &[200]))
        .then_error(DomainError::refused(Refusal::TooManyProposals));
}

#[test]
fn the_forum_changes_no_more_after_the_plan_closes() {
    let mut history = vec![adopted(), joined(1, ForumSide::Public), commitment_added(1)];
    history.push(assessed(1));
    history.push(closed());
    given::<ActionPlan>(history)
        .when(join(2, ForumSide::Government))
        .then_error(DomainError::refused(Refusal::PlanClosed));
}

#[test]
fn a_drafts_milestones_are_never_overdue_and_a_draft_is_not_adopted_as_a_new_plan() {
    let mut history = co_created_draft();
    history.push(milestone_added(1, 1, "2024-06-30"));
    let state = history.iter().fold(
        domain::action_plan::ActionPlanState::default(),
        domain::action_plan::evolve,
    );
    // Past due and never reported, but nothing may be reported on a draft.
    assert_eq!(
        state.milestone_overdue(milestone(1), date("2025-01-01")),
        Some(false)
    );
    assert!(state.overdue_milestones(date("2025-01-01")).is_empty());
    given::<ActionPlan>(history.clone())
        .when(adopt(date("2024-01-01"), date("2025-12-31")))
        .then_error(DomainError::refused(Refusal::PlanIsADraft));
    // Adopted, the same milestone is overdue.
    history.extend(
        given::<ActionPlan>(history.clone())
            .when(adopt_draft())
            .then_ok(),
    );
    let state = history.iter().fold(
        domain::action_plan::ActionPlanState::default(),
        domain::action_plan::evolve,
    );
    assert_eq!(
        state.milestone_overdue(milestone(1), date("2025-01-01")),
        Some(true)
    );
}
