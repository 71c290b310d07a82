//! OGP-Local action plans: a plan adopted by the council → commitments tagged with OGP values →
//! milestones with due dates → progress reports on the IRM scale → each commitment assessed →
//! plan closed. A plan closes only with at least one commitment, every one assessed or
//! withdrawn.
//!
//! **Amendments and withdrawals.** While the plan is open, the council may move a commitment's
//! end or a milestone's due date, or withdraw either, each with a public reason; the history
//! keeps every one. A withdrawn commitment or milestone takes no more steps and is never
//! overdue; an amended milestone is overdue by its new date. A complete milestone is not moved,
//! and nothing changes after the plan closes.
//!
//! **Co-creation.** The plan is drafted with the public: residents' and organisations'
//! proposals are contributions to a dialogue (the local forum's call), each answered with a
//! reason. A commitment records the proposals it takes ([`ProposalsTaken`]): only proposals that
//! dialogue accepted, in full or in part, so the plan shows which proposals it contains and
//! each taken proposal leads to the commitment it became.
//!
//! A milestone past its due date and not complete is overdue
//! ([`ActionPlanState::overdue_milestones`]), while its commitment is still open: once the
//! commitment is assessed (or the plan closed, which needs every commitment assessed) no
//! progress can be reported on it any more, so calling it overdue would flag forever something
//! no one can act on. The assessment's completion level is the final word on it instead.
//!
//! As in every aggregate, a command dated before the latest event is refused.

use std::collections::BTreeMap;

use event_store_core::Timestamp;
use serde::{Deserialize, Serialize};

use crate::actor::Actor;
use crate::calendar::CivilDate;
use crate::error::{DomainError, Refusal, Violation};
use crate::ids::{CommitmentId, ContributionId, DialogueId, MilestoneId, PlanId};
use crate::stream::check_not_before_last;
use crate::text::{
    bounded_list, check_http_url, check_len, check_line, check_paragraphs,
    check_strictly_ascending, is_full,
};

/// Longest plan, commitment or milestone title: one line.
pub const PLAN_TITLE_LEN_MAX: u32 = 300;

/// Longest council decision reference, e.g. "рішення № 1234/5678 від 12.03.2024".
pub const COUNCIL_DECISION_LEN_MAX: u32 = 200;

/// Longest commitment description: the OGP template's sections fit in a few pages.
pub const COMMITMENT_DESCRIPTION_LEN_MAX: u32 = 10_000;

/// Longest lead institution name: a department or body, never a person.
pub const LEAD_INSTITUTION_LEN_MAX: u32 = 300;

/// Longest evidence link; browsers and servers handle URLs up to about this length.
pub const EVIDENCE_LINK_LEN_MAX: u32 = 2_000;

/// Most commitments in a plan: OGP-Local plans have a handful; the bound keeps state small.
pub const COMMITMENTS_MAX: u32 = 100;

/// Most milestones in a commitment.
pub const MILESTONES_PER_COMMITMENT_MAX: u32 = 50;

/// Longest plan period in days: OGP-Local plans run two years; four is generous.
pub const PLAN_PERIOD_DAYS_MAX: u32 = 1_461;

/// The four OGP values a commitment can advance (at most four, one of each).
pub const OGP_VALUES_MAX: u32 = 4;

/// An OGP value.
///
/// Encoded by its variant index: append only, never reorder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum OgpValue {
    AccessToInformation,
    CivicParticipation,
    PublicAccountability,
    TechnologyAndInnovation,
}

/// Progress on the IRM's implementation scale.
///
/// Encoded by its variant index: append only, never reorder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum ImplementationStatus {
    NoEvidenceAvailable,
    NotStarted,
    Limited,
    Substantial,
    Complete,
}

impl ImplementationStatus {
    /// Whether a report with this status must link to evidence (anything that claims progress).
    pub const fn needs_evidence(self) -> bool {
        matches!(self, Self::Limited | Self::Substantial | Self::Complete)
    }
}

/// The IRM's "did it open government?" scale.
///
/// Encoded by its variant index: append only, never reorder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum OpenedGovernment {
    Worsened,
    DidNotChange,
    Marginal,
    Major,
    Outstanding,
}

/// A request to change an action plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActionPlanCommand {
    /// Adopt a new plan in this (empty) stream.
    Adopt {
        plan_id: PlanId,
        title: String,
        period_start: CivilDate,
        period_end: CivilDate,
        council_decision: String,
        at: Timestamp,
    },
    /// Add a commitment within the plan's period.
    AddCommitment {
        commitment_id: CommitmentId,
        title: String,
        description: String,
        lead_institution: String,
        /// In any order; duplicates are merged.
        values: Vec<OgpValue>,
        start: CivilDate,
        end: CivilDate,
        at: Timestamp,
    },
    /// Add a milestone due within its commitment's period.
    AddMilestone {
        commitment_id: CommitmentId,
        milestone_id: MilestoneId,
        title: String,
        due: CivilDate,
        at: Timestamp,
    },
    /// Report progress on a milestone.
    ReportProgress {
        milestone_id: MilestoneId,
        status: ImplementationStatus,
        evidence_link: Option<String>,
        at: Timestamp,
    },
    /// Assess a commitment at the end of the plan.
    AssessCommitment {
        commitment_id: CommitmentId,
        completion: ImplementationStatus,
        opened_government: OpenedGovernment,
        at: Timestamp,
    },
    /// Close the plan once every commitment is assessed or withdrawn.
    Close { at: Timestamp },
    /// Move a commitment's end, with the reason.
    AmendCommitment {
        commitment_id: CommitmentId,
        end: CivilDate,
        reason: String,
        at: Timestamp,
    },
    /// Withdraw a commitment from the plan, with the reason.
    WithdrawCommitment {
        commitment_id: CommitmentId,
        reason: String,
        at: Timestamp,
    },
    /// Move a milestone's due date, with the reason.
    AmendMilestone {
        milestone_id: MilestoneId,
        due: CivilDate,
        reason: String,
        at: Timestamp,
    },
    /// Withdraw a milestone, with the reason.
    WithdrawMilestone {
        milestone_id: MilestoneId,
        reason: String,
        at: Timestamp,
    },
    /// Record that a commitment takes proposals made in a co-creation dialogue. `accepted` is
    /// what the dialogue's own record says it accepted, in full or in part (the node reads it
    /// from the dialogue's stream).
    TakeProposals {
        commitment_id: CommitmentId,
        dialogue_id: DialogueId,
        /// In any order; duplicates are merged.
        contributions: Vec<ContributionId>,
        accepted: std::collections::BTreeSet<ContributionId>,
        at: Timestamp,
    },
}

/// What happened to an action plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActionPlanEvent {
    Adopted(PlanAdopted),
    CommitmentAdded(CommitmentAdded),
    MilestoneAdded(MilestoneAdded),
    ProgressReported(ProgressReported),
    CommitmentAssessed(CommitmentAssessed),
    Closed(PlanClosed),
    CommitmentAmended(CommitmentAmended),
    CommitmentWithdrawn(CommitmentWithdrawn),
    MilestoneAmended(MilestoneAmended),
    MilestoneWithdrawn(MilestoneWithdrawn),
    ProposalsTaken(ProposalsTaken),
}

/// The council adopted an action plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanAdopted {
    pub plan_id: PlanId,
    /// At most [`PLAN_TITLE_LEN_MAX`] characters, one line.
    pub title: String,
    pub period_start: CivilDate,
    /// On or after `period_start`, at most [`PLAN_PERIOD_DAYS_MAX`] days later.
    pub period_end: CivilDate,
    /// At most [`COUNCIL_DECISION_LEN_MAX`] characters, one line.
    pub council_decision: String,
    pub at: Timestamp,
    /// Who acted for the council; `None` before it was recorded (see [`crate::actor`]).
    pub acted_by: Option<Actor>,
}

/// A commitment joined the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitmentAdded {
    pub plan_id: PlanId,
    pub commitment_id: CommitmentId,
    /// At most [`PLAN_TITLE_LEN_MAX`] characters, one line.
    pub title: String,
    /// At most [`COMMITMENT_DESCRIPTION_LEN_MAX`] characters.
    pub description: String,
    /// At most [`LEAD_INSTITUTION_LEN_MAX`] characters, one line.
    pub lead_institution: String,
    /// One to four values, strictly ascending.
    #[serde(deserialize_with = "ogp_values")]
    pub values: Vec<OgpValue>,
    pub start: CivilDate,
    /// On or after `start`.
    pub end: CivilDate,
    pub at: Timestamp,
    /// Who acted for the council; `None` before it was recorded (see [`crate::actor`]).
    pub acted_by: Option<Actor>,
}

/// Reads at most [`OGP_VALUES_MAX`] + 1 values (see [`bounded_list`]).
fn ogp_values<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<OgpValue>, D::Error> {
    bounded_list(deserializer, OGP_VALUES_MAX)
}

/// A milestone joined a commitment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MilestoneAdded {
    pub plan_id: PlanId,
    pub commitment_id: CommitmentId,
    pub milestone_id: MilestoneId,
    /// At most [`PLAN_TITLE_LEN_MAX`] characters, one line.
    pub title: String,
    pub due: CivilDate,
    pub at: Timestamp,
    /// Who acted for the council; `None` before it was recorded (see [`crate::actor`]).
    pub acted_by: Option<Actor>,
}

/// Progress on a milestone was reported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProgressReported {
    pub plan_id: PlanId,
    pub commitment_id: CommitmentId,
    pub milestone_id: MilestoneId,
    pub status: ImplementationStatus,
    /// An `http(s)` URL of at most [`EVIDENCE_LINK_LEN_MAX`] characters; required when the
    /// status claims progress ([`ImplementationStatus::needs_evidence`]).
    pub evidence_link: Option<String>,
    pub at: Timestamp,
    /// Who acted for the council; `None` before it was recorded (see [`crate::actor`]).
    pub acted_by: Option<Actor>,
}

/// A commitment was assessed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitmentAssessed {
    pub plan_id: PlanId,
    pub commitment_id: CommitmentId,
    pub completion: ImplementationStatus,
    pub opened_government: OpenedGovernment,
    pub at: Timestamp,
    /// Who acted for the council; `None` before it was recorded (see [`crate::actor`]).
    pub acted_by: Option<Actor>,
}

/// The plan closed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanClosed {
    pub plan_id: PlanId,
    pub at: Timestamp,
    /// Who acted for the council; `None` before it was recorded (see [`crate::actor`]).
    pub acted_by: Option<Actor>,
}

/// Longest reason for an amendment or a withdrawal.
pub const AMENDMENT_REASON_LEN_MAX: u32 = 2_000;

/// A commitment's end was moved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitmentAmended {
    pub plan_id: PlanId,
    pub commitment_id: CommitmentId,
    /// The new end: within the plan's period, on or after the commitment's start and every
    /// milestone's due date.
    pub end: CivilDate,
    /// At most [`AMENDMENT_REASON_LEN_MAX`] characters, not blank.
    pub reason: String,
    pub at: Timestamp,
    /// Who acted for the council.
    pub acted_by: Option<Actor>,
}

/// A commitment was withdrawn from the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitmentWithdrawn {
    pub plan_id: PlanId,
    pub commitment_id: CommitmentId,
    /// At most [`AMENDMENT_REASON_LEN_MAX`] characters, not blank.
    pub reason: String,
    pub at: Timestamp,
    /// Who acted for the council.
    pub acted_by: Option<Actor>,
}

/// A milestone's due date was moved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MilestoneAmended {
    pub plan_id: PlanId,
    pub commitment_id: CommitmentId,
    pub milestone_id: MilestoneId,
    /// The new due date, within the commitment's period.
    pub due: CivilDate,
    /// At most [`AMENDMENT_REASON_LEN_MAX`] characters, not blank.
    pub reason: String,
    pub at: Timestamp,
    /// Who acted for the council.
    pub acted_by: Option<Actor>,
}

/// A milestone was withdrawn.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MilestoneWithdrawn {
    pub plan_id: PlanId,
    pub commitment_id: CommitmentId,
    pub milestone_id: MilestoneId,
    /// At most [`AMENDMENT_REASON_LEN_MAX`] characters, not blank.
    pub reason: String,
    pub at: Timestamp,
    /// Who acted for the council.
    pub acted_by: Option<Actor>,
}

/// Proposals one commitment takes at most, in one event.
pub const PROPOSALS_TAKEN_MAX: u32 = 50;

/// A commitment takes proposals a co-creation dialogue accepted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProposalsTaken {
    pub plan_id: PlanId,
    pub commitment_id: CommitmentId,
    /// The dialogue the proposals were made in.
    pub dialogue_id: DialogueId,
    /// One to [`PROPOSALS_TAKEN_MAX`] contributions, strictly ascending, each accepted in full
    /// or in part.
    #[serde(deserialize_with = "proposals")]
    pub contributions: Vec<ContributionId>,
    pub at: Timestamp,
    /// Who acted for the council.
    pub acted_by: Option<Actor>,
}

fn proposals<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<ContributionId>, D::Error> {
    bounded_list(deserializer, PROPOSALS_TAKEN_MAX)
}

/// Where a plan is in its life.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum PlanStatus {
    #[default]
    NotAdopted,
    Active,
    Closed,
}

/// A milestone as the rules see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MilestoneState {
    pub due: CivilDate,
    /// The last reported status, if any.
    pub status: Option<ImplementationStatus>,
    /// Withdrawn: no more steps, never overdue.
    pub withdrawn: bool,
}

impl MilestoneState {
    /// Whether, on Kyiv day `today`, the milestone is past due and not complete, judged on the
    /// milestone alone. A milestone of an assessed commitment or a closed plan is not overdue;
    /// [`ActionPlanState::milestone_overdue`] applies that rule too.
    pub fn is_overdue(&self, today: CivilDate) -> bool {
        milestone_overdue(self.due, self.status, !self.withdrawn, today)
    }
}

/// The one rule for an overdue milestone, which the node's views and the association's
/// national figures both apply: past its due day (Kyiv `today` after `due`), its last report
/// not complete, and `open`: its commitment not assessed and its plan not closed (see the
/// module docs).
pub fn milestone_overdue(
    due: CivilDate,
    last_status: Option<ImplementationStatus>,
    open: bool,
    today: CivilDate,
) -> bool {
    open && today > due && last_status != Some(ImplementationStatus::Complete)
}

/// A commitment's assessment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Assessment {
    pub completion: ImplementationStatus,
    pub opened_government: OpenedGovernment,
}

/// A commitment as the rules see it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommitmentState {
    pub start: Option<CivilDate>,
    pub end: Option<CivilDate>,
    pub milestones: BTreeMap<MilestoneId, MilestoneState>,
    pub assessment: Option<Assessment>,
    /// Withdrawn from the plan: no more steps, its milestones never overdue.
    pub withdrawn: bool,
    /// The proposals it takes, by dialogue.
    pub sources: std::collections::BTreeSet<(DialogueId, ContributionId)>,
}

/// What the rules know about one action plan, folded from its events by [`evolve`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ActionPlanState {
    pub id: Option<PlanId>,
    pub status: PlanStatus,
    pub period_start: Option<CivilDate>,
    pub period_end: Option<CivilDate>,
    pub commitments: BTreeMap<CommitmentId, CommitmentState>,
    /// Which commitment each milestone belongs to.
    pub milestone_owners: BTreeMap<MilestoneId, CommitmentId>,
    /// The time of the latest event; no command may be dated before it.
    pub last_event_at: Option<Timestamp>,
}

impl ActionPlanState {
    /// A milestone, if the plan has it.
    pub fn milestone(&self, milestone: MilestoneId) -> Option<&MilestoneState> {
        let owner = self.milestone_owners.get(&milestone)?;
        self.commitments.get(owner)?.milestones.get(&milestone)
    }

    /// Whether a milestone is overdue on Kyiv day `today` (use
    /// [`crate::calendar::kyiv_date`] of the current time): past due, not complete, and its
    /// commitment neither assessed nor in a closed plan (see the module docs). `None` if there
    /// is no such milestone.
    pub fn milestone_overdue(&self, milestone: MilestoneId, today: CivilDate) -> Option<bool> {
        let owner = self.milestone_owners.get(&milestone)?;
        let commitment = self.commitments.get(owner)?;
        let m = commitment.milestones.get(&milestone)?;
        Some(milestone_overdue(
            m.due,
            m.status,
            self.is_open(commitment) && !m.withdrawn,
            today,
        ))
    }

    /// Every milestone overdue on Kyiv day `today`, ascending by id.
    pub fn overdue_milestones(&self, today: CivilDate) -> Vec<MilestoneId> {
        let mut overdue: Vec<MilestoneId> = self
            .commitments
            .values()
            .filter(|c| self.is_open(c))
            .flat_map(|c| c.milestones.iter())
            .filter(|(_, m)| m.is_overdue(today))
            .map(|(id, _)| *id)
            .collect();
        overdue.sort_unstable();
        overdue
    }

    /// Whether progress can still be reported on the commitment's milestones.
    fn is_open(&self, commitment: &CommitmentState) -> bool {
        self.status != PlanStatus::Closed
            && commitment.assessment.is_none()
            && !commitment.withdrawn
    }

    /// A commitment that can still change (neither assessed nor withdrawn), or the rule that
    /// stops it.
    fn changeable(&self, id: CommitmentId) -> Result<&CommitmentState, DomainError> {
        let Some(commitment) = self.commitments.get(&id) else {
            return Err(DomainError::not_found("commitment"));
        };
        if commitment.withdrawn {
            return Err(DomainError::refused(Refusal::CommitmentWithdrawn));
        }
        if commitment.assessment.is_some() {
            return Err(DomainError::refused(Refusal::CommitmentAlreadyAssessed));
        }
        Ok(commitment)
    }

    /// A milestone that can still change (it and its commitment neither withdrawn nor
    /// assessed), with its commitment's id, or the rule that stops it.
    fn changeable_milestone(
        &self,
        id: MilestoneId,
    ) -> Result<(CommitmentId, &CommitmentState, &MilestoneState), DomainError> {
        let Some(&owner) = self.milestone_owners.get(&id) else {
            return Err(DomainError::not_found("milestone"));
        };
        let commitment = self.changeable(owner)?;
        let Some(milestone) = commitment.milestones.get(&id) else {
            return Err(DomainError::not_found("milestone"));
        };
        if milestone.withdrawn {
            return Err(DomainError::refused(Refusal::MilestoneWithdrawn));
        }
        Ok((owner, commitment, milestone))
    }
}

/// Decides an action plan command.
pub fn decide(
    state: &ActionPlanState,
    command: ActionPlanCommand,
) -> Result<Vec<ActionPlanEvent>, DomainError> {
    let refused = |rule| Err(DomainError::refused(rule));
    if let ActionPlanCommand::Adopt {
        plan_id,
        title,
        period_start,
        period_end,
        council_decision,
        at,
    } = command
    {
        if state.status != PlanStatus::NotAdopted {
            return refused(Refusal::PlanAlreadyAdopted);
        }
        let event = ActionPlanEvent::Adopted(PlanAdopted {
            plan_id,
            title,
            period_start,
            period_end,
            council_decision,
            at,
            acted_by: None,
        });
        event.check()?;
        return Ok(vec![event]);
    }
    let Some(plan_id) = state.id else {
        return Err(DomainError::not_found("action plan"));
    };
    check_not_before_last(state.last_event_at, command.at())?;
    if state.status == PlanStatus::Closed {
        return refused(Refusal::PlanClosed);
    }
    let event = match command {
        ActionPlanCommand::Adopt { .. } => return refused(Refusal::PlanAlreadyAdopted),
        ActionPlanCommand::AddCommitment {
            commitment_id,
            title,
            description,
            lead_institution,
            mut values,
            start,
            end,
            at,
        } => {
            if state.commitments.contains_key(&commitment_id) {
                return refused(Refusal::DuplicateCommitment);
            }
            if is_full(state.commitments.len(), COMMITMENTS_MAX) {
                return refused(Refusal::TooManyCommitments);
            }
            let within = |date| {
                state.period_start.is_some_and(|s| s <= date)
                    && state.period_end.is_some_and(|e| date <= e)
            };
            if !within(start) || !within(end) {
                return refused(Refusal::OutsidePlanPeriod);
            }
            values.sort_unstable();
            values.dedup();
            ActionPlanEvent::CommitmentAdded(CommitmentAdded {
                plan_id,
                commitment_id,
                title,
                description,
                lead_institution,
                values,
                start,
                end,
                at,
                acted_by: None,
            })
        }
        ActionPlanCommand::AddMilestone {
            commitment_id,
            milestone_id,
            title,
            due,
            at,
        } => {
            let commitment = state.changeable(commitment_id)?;
            if state.milestone_owners.contains_key(&milestone_id) {
                return refused(Refusal::DuplicateMilestone);
            }
            if is_full(commitment.milestones.len(), MILESTONES_PER_COMMITMENT_MAX) {
                return refused(Refusal::TooManyMilestones);
            }
            let after_start = commitment.start.is_some_and(|start| start <= due);
            let before_end = commitment.end.is_some_and(|end| due <= end);
            if !after_start || !before_end {
                return refused(Refusal::OutsideCommitmentPeriod);
            }
            ActionPlanEvent::MilestoneAdded(MilestoneAdded {
                plan_id,
                commitment_id,
                milestone_id,
                title,
                due,
                at,
                acted_by: None,
            })
        }
        ActionPlanCommand::ReportProgress {
            milestone_id,
            status,
            evidence_link,
            at,
        } => {
            let (commitment_id, _, _) = state.changeable_milestone(milestone_id)?;
            ActionPlanEvent::ProgressReported(ProgressReported {
                plan_id,
                commitment_id,
                milestone_id,
                status,
                evidence_link,
                at,
                acted_by: None,
            })
        }
        ActionPlanCommand::AssessCommitment {
            commitment_id,
            completion,
            opened_government,
            at,
        } => {
            state.changeable(commitment_id)?;
            ActionPlanEvent::CommitmentAssessed(CommitmentAssessed {
                plan_id,
                commitment_id,
                completion,
                opened_government,
                at,
                acted_by: None,
            })
        }
        ActionPlanCommand::Close { at } => {
            if state.commitments.is_empty() {
                return refused(Refusal::PlanHasNoCommitments);
            }
            if state
                .commitments
                .values()
                .any(|c| c.assessment.is_none() && !c.withdrawn)
            {
                return refused(Refusal::CommitmentsNotAssessed);
            }
            ActionPlanEvent::Closed(PlanClosed {
                plan_id,
                at,
                acted_by: None,
            })
        }
        ActionPlanCommand::AmendCommitment {
            commitment_id,
            end,
            reason,
            at,
        } => {
            let commitment = state.changeable(commitment_id)?;
            let within_plan = state.period_end.is_some_and(|e| end <= e);
            let after_start = commitment.start.is_some_and(|s| s <= end);
            let covers_milestones = commitment
                .milestones
                .values()
                .all(|m| m.withdrawn || m.due <= end);
            if !within_plan || !after_start {
                return refused(Refusal::OutsidePlanPeriod);
            }
            if !covers_milestones {
                return refused(Refusal::OutsideCommitmentPeriod);
            }
            ActionPlanEvent::CommitmentAmended(CommitmentAmended {
                plan_id,
                commitment_id,
                end,
                reason,
                at,
                acted_by: None,
            })
        }
        ActionPlanCommand::WithdrawCommitment {
            commitment_id,
            reason,
            at,
        } => {
            state.changeable(commitment_id)?;
            ActionPlanEvent::CommitmentWithdrawn(CommitmentWithdrawn {
                plan_id,
                commitment_id,
                reason,
                at,
                acted_by: None,
            })
        }
        ActionPlanCommand::AmendMilestone {
            milestone_id,
            due,
            reason,
            at,
        } => {
            let (commitment_id, commitment, milestone) =
                state.changeable_milestone(milestone_id)?;
            if milestone.status == Some(ImplementationStatus::Complete) {
                return refused(Refusal::MilestoneComplete);
            }
            let after_start = commitment.start.is_some_and(|start| start <= due);
            let before_end = commitment.end.is_some_and(|end| due <= end);
            if !after_start || !before_end {
                return refused(Refusal::OutsideCommitmentPeriod);
            }
            ActionPlanEvent::MilestoneAmended(MilestoneAmended {
                plan_id,
                commitment_id,
                milestone_id,
                due,
                reason,
                at,
                acted_by: None,
            })
        }
        ActionPlanCommand::TakeProposals {
            commitment_id,
            dialogue_id,
            mut contributions,
            accepted,
            at,
        } => {
            let commitment = state.changeable(commitment_id)?;
            contributions.sort_unstable();
            contributions.dedup();
            if contributions.is_empty() {
                return Err(DomainError::invalid("contributions", Violation::Empty));
            }
            if contributions.iter().any(|c| !accepted.contains(c)) {
                return refused(Refusal::ProposalNotAccepted);
            }
            if contributions
                .iter()
                .any(|c| commitment.sources.contains(&(dialogue_id, *c)))
            {
                return refused(Refusal::ProposalAlreadyTaken);
            }
            ActionPlanEvent::ProposalsTaken(ProposalsTaken {
                plan_id,
                commitment_id,
                dialogue_id,
                contributions,
                at,
                acted_by: None,
            })
        }
        ActionPlanCommand::WithdrawMilestone {
            milestone_id,
            reason,
            at,
        } => {
            let (commitment_id, _, _) = state.changeable_milestone(milestone_id)?;
            ActionPlanEvent::MilestoneWithdrawn(MilestoneWithdrawn {
                plan_id,
                commitment_id,
                milestone_id,
                reason,
                at,
                acted_by: None,
            })
        }
    };
    event.check()?;
    Ok(vec![event])
}

/// Applies an action plan event.
pub fn evolve(mut state: ActionPlanState, event: &ActionPlanEvent) -> ActionPlanState {
    state.last_event_at = Some(event.at());
    match event {
        ActionPlanEvent::Adopted(adopted) => {
            state.id = Some(adopted.plan_id);
            state.status = PlanStatus::Active;
            state.period_start = Some(adopted.period_start);
            state.period_end = Some(adopted.period_end);
        }
        ActionPlanEvent::CommitmentAdded(added) => {
            let commitment = state.commitments.entry(added.commitment_id).or_default();
            commitment.start = Some(added.start);
            commitment.end = Some(added.end);
        }
        ActionPlanEvent::MilestoneAdded(added) => {
            let milestone = MilestoneState {
                due: added.due,
                status: None,
                withdrawn: false,
            };
            state
                .commitments
                .entry(added.commitment_id)
                .or_default()
                .milestones
                .insert(added.milestone_id, milestone);
            state
                .milestone_owners
                .insert(added.milestone_id, added.commitment_id);
        }
        ActionPlanEvent::ProgressReported(reported) => {
            let milestone = state
                .commitments
                .get_mut(&reported.commitment_id)
                .and_then(|c| c.milestones.get_mut(&reported.milestone_id));
            if let Some(milestone) = milestone {
                milestone.status = Some(reported.status);
            }
        }
        ActionPlanEvent::CommitmentAssessed(assessed) => {
            state
                .commitments
                .entry(assessed.commitment_id)
                .or_default()
                .assessment = Some(Assessment {
                completion: assessed.completion,
                opened_government: assessed.opened_government,
            });
        }
        ActionPlanEvent::Closed(_) => state.status = PlanStatus::Closed,
        ActionPlanEvent::CommitmentAmended(amended) => {
            if let Some(c) = state.commitments.get_mut(&amended.commitment_id) {
                c.end = Some(amended.end);
            }
        }
        ActionPlanEvent::CommitmentWithdrawn(withdrawn) => {
            if let Some(c) = state.commitments.get_mut(&withdrawn.commitment_id) {
                c.withdrawn = true;
            }
        }
        ActionPlanEvent::MilestoneAmended(amended) => {
            let milestone = state
                .commitments
                .get_mut(&amended.commitment_id)
                .and_then(|c| c.milestones.get_mut(&amended.milestone_id));
            if let Some(m) = milestone {
                m.due = amended.due;
            }
        }
        ActionPlanEvent::ProposalsTaken(taken) => {
            if let Some(c) = state.commitments.get_mut(&taken.commitment_id) {
                c.sources.extend(
                    taken
                        .contributions
                        .iter()
                        .map(|contribution| (taken.dialogue_id, *contribution)),
                );
            }
        }
        ActionPlanEvent::MilestoneWithdrawn(withdrawn) => {
            let milestone = state
                .commitments
                .get_mut(&withdrawn.commitment_id)
                .and_then(|c| c.milestones.get_mut(&withdrawn.milestone_id));
            if let Some(m) = milestone {
                m.withdrawn = true;
            }
        }
    }
    state
}

impl ActionPlanCommand {
    /// When the command is made.
    pub fn at(&self) -> Timestamp {
        match self {
            Self::Adopt { at, .. }
            | Self::AddCommitment { at, .. }
            | Self::AddMilestone { at, .. }
            | Self::ReportProgress { at, .. }
            | Self::AssessCommitment { at, .. }
            | Self::AmendCommitment { at, .. }
            | Self::WithdrawCommitment { at, .. }
            | Self::AmendMilestone { at, .. }
            | Self::WithdrawMilestone { at, .. }
            | Self::TakeProposals { at, .. }
            | Self::Close { at } => *at,
        }
    }
}

impl ActionPlanEvent {
    /// When it happened: the `at` of the command that decided it.
    pub fn at(&self) -> Timestamp {
        match self {
            Self::Adopted(e) => e.at,
            Self::CommitmentAdded(e) => e.at,
            Self::MilestoneAdded(e) => e.at,
            Self::ProgressReported(e) => e.at,
            Self::CommitmentAssessed(e) => e.at,
            Self::Closed(e) => e.at,
            Self::CommitmentAmended(e) => e.at,
            Self::CommitmentWithdrawn(e) => e.at,
            Self::MilestoneAmended(e) => e.at,
            Self::MilestoneWithdrawn(e) => e.at,
            Self::ProposalsTaken(e) => e.at,
        }
    }

    /// The plan this event belongs to.
    pub fn plan_id(&self) -> PlanId {
        match self {
            Self::Adopted(e) => e.plan_id,
            Self::CommitmentAdded(e) => e.plan_id,
            Self::MilestoneAdded(e) => e.plan_id,
            Self::ProgressReported(e) => e.plan_id,
            Self::CommitmentAssessed(e) => e.plan_id,
            Self::Closed(e) => e.plan_id,
            Self::CommitmentAmended(e) => e.plan_id,
            Self::CommitmentWithdrawn(e) => e.plan_id,
            Self::MilestoneAmended(e) => e.plan_id,
            Self::MilestoneWithdrawn(e) => e.plan_id,
            Self::ProposalsTaken(e) => e.plan_id,
        }
    }

    /// Checks every bound the event is written with; run on decide and on decode.
    pub(crate) fn check(&self) -> Result<(), DomainError> {
        match self {
            Self::Adopted(e) => {
                check_line("title", &e.title, PLAN_TITLE_LEN_MAX)?;
                check_line(
                    "council_decision",
                    &e.council_decision,
                    COUNCIL_DECISION_LEN_MAX,
                )?;
                if e.period_end < e.period_start {
                    return Err(DomainError::invalid(
                        "period_end",
                        Violation::EndBeforeStart,
                    ));
                }
                let days = e.period_end.epoch_days() - e.period_start.epoch_days();
                if days > i64::from(PLAN_PERIOD_DAYS_MAX) {
                    let days_max = PLAN_PERIOD_DAYS_MAX;
                    return Err(DomainError::invalid(
                        "period_end",
                        Violation::SpanTooLong { days_max },
                    ));
                }
                Ok(())
            }
            Self::CommitmentAdded(e) => {
                check_line("title", &e.title, PLAN_TITLE_LEN_MAX)?;
                check_paragraphs(
                    "description",
                    &e.description,
                    COMMITMENT_DESCRIPTION_LEN_MAX,
                )?;
                check_line(
                    "lead_institution",
                    &e.lead_institution,
                    LEAD_INSTITUTION_LEN_MAX,
                )?;
                if e.values.is_empty() {
                    return Err(DomainError::invalid("values", Violation::Empty));
                }
                check_len("values", e.values.len(), OGP_VALUES_MAX)?;
                check_strictly_ascending("values", &e.values)?;
                if e.end < e.start {
                    return Err(DomainError::invalid("end", Violation::EndBeforeStart));
                }
                Ok(())
            }
            Self::MilestoneAdded(e) => check_line("title", &e.title, PLAN_TITLE_LEN_MAX),
            Self::ProgressReported(e) => match &e.evidence_link {
                Some(link) => check_http_url("evidence_link", link, EVIDENCE_LINK_LEN_MAX),
                None if e.status.needs_evidence() => {
                    Err(DomainError::invalid("evidence_link", Violation::Missing))
                }
                None => Ok(()),
            },
            Self::CommitmentAssessed(_) | Self::Closed(_) => Ok(()),
            Self::ProposalsTaken(e) => {
                if e.contributions.is_empty() {
                    return Err(DomainError::invalid("contributions", Violation::Empty));
                }
                check_len("contributions", e.contributions.len(), PROPOSALS_TAKEN_MAX)?;
                check_strictly_ascending("contributions", &e.contributions)
            }
            Self::CommitmentAmended(CommitmentAmended { reason, .. })
            | Self::CommitmentWithdrawn(CommitmentWithdrawn { reason, .. })
            | Self::MilestoneAmended(MilestoneAmended { reason, .. })
            | Self::MilestoneWithdrawn(MilestoneWithdrawn { reason, .. }) => {
                check_paragraphs("reason", reason, AMENDMENT_REASON_LEN_MAX)
            }
        }
    }
}
