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
//! **The local forum and the draft.** A plan may begin as a draft (`Draft`) worked out with
//! the local forum: members are seats of bodies and organisations, from the government side or
//! the public side, each with its role (never a person's name); each side has one co-chair.
//! Commitments and milestones are added to the draft and take proposals as above; nothing is
//! reported or assessed before adoption. The council adopts the draft (`AdoptDraft`) only with
//! both co-chairs named and at least one commitment standing, and the adoption records every
//! proposal the plan contains, as the rules compute them from its commitments
//! ([`DraftAdopted::proposals`]). The forum goes on after adoption, until the plan closes.
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
use crate::ids::{CommitmentId, ContributionId, DialogueId, ForumMemberId, MilestoneId, PlanId};
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

/// Most members of a plan's local forum.
pub const FORUM_MEMBERS_MAX: u32 = 200;

/// Longest name of a forum member's body or organisation.
pub const FORUM_ORGANISATION_LEN_MAX: u32 = 300;

/// Longest role of a forum member in its organisation: a position, never a person's name.
pub const FORUM_ROLE_LEN_MAX: u32 = 200;

/// Most proposals one commitment takes, over all its events.
pub const PROPOSALS_PER_COMMITMENT_MAX: u32 = 50;

/// Most proposals an adopted plan contains.
pub const PROPOSALS_IN_PLAN_MAX: u32 = 1_000;

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

/// Which side of the local forum a member sits on.
///
/// Encoded by its variant index: append only, never reorder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum ForumSide {
    /// The council and its bodies.
    Government,
    /// Civil society: organisations, initiatives, residents' bodies.
    Public,
}

/// A proposal a plan contains: a contribution to a co-creation dialogue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Proposal {
    pub dialogue_id: DialogueId,
    pub contribution_id: ContributionId,
}

/// A request to change an action plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActionPlanCommand {
    /// Begin a plan as a draft in this (empty) stream, to be worked out with the local forum.
    Draft {
        plan_id: PlanId,
        title: String,
        period_start: CivilDate,
        period_end: CivilDate,
        at: Timestamp,
    },
    /// A seat joins the plan's local forum.
    JoinForum {
        member_id: ForumMemberId,
        side: ForumSide,
        organisation: String,
        role: String,
        at: Timestamp,
    },
    /// A member leaves the forum, with the reason (a co-chair's seat falls vacant).
    LeaveForum {
        member_id: ForumMemberId,
        reason: String,
        at: Timestamp,
    },
    /// A member becomes its side's co-chair (the previous one of that side steps down).
    NameCoChair {
        member_id: ForumMemberId,
        at: Timestamp,
    },
    /// The council adopts the draft.
    AdoptDraft {
        council_decision: String,
        at: Timestamp,
    },
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
    Drafted(PlanDrafted),
    ForumMemberJoined(ForumMemberJoined),
    ForumMemberLeft(ForumMemberLeft),
    CoChairNamed(CoChairNamed),
    DraftAdopted(DraftAdopted),
}

/// A plan was begun as a draft.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanDrafted {
    pub plan_id: PlanId,
    /// At most [`PLAN_TITLE_LEN_MAX`] characters, one line.
    pub title: String,
    pub period_start: CivilDate,
    /// On or after `period_start`, at most [`PLAN_PERIOD_DAYS_MAX`] days later.
    pub period_end: CivilDate,
    pub at: Timestamp,
    /// Who acted for the council.
    pub acted_by: Option<Actor>,
}

/// A seat joined the local forum.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForumMemberJoined {
    pub plan_id: PlanId,
    pub member_id: ForumMemberId,
    pub side: ForumSide,
    /// The body or organisation: at most [`FORUM_ORGANISATION_LEN_MAX`] characters, one line.
    pub organisation: String,
    /// Its representative's role: at most [`FORUM_ROLE_LEN_MAX`] characters, one line.
    pub role: String,
    pub at: Timestamp,
    /// Who acted for the council.
    pub acted_by: Option<Actor>,
}

/// A member left the local forum.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForumMemberLeft {
    pub plan_id: PlanId,
    pub member_id: ForumMemberId,
    /// At most [`AMENDMENT_REASON_LEN_MAX`] characters, one line.
    pub reason: String,
    pub at: Timestamp,
    /// Who acted for the council.
    pub acted_by: Option<Actor>,
}

/// A member became its side's co-chair.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CoChairNamed {
    pub plan_id: PlanId,
    pub member_id: ForumMemberId,
    /// The member's side, whose seat it takes.
    pub side: ForumSide,
    pub at: Timestamp,
    /// Who acted for the council.
    pub acted_by: Option<Actor>,
}

/// The council adopted the draft.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DraftAdopted {
    pub plan_id: PlanId,
    /// At most [`COUNCIL_DECISION_LEN_MAX`] characters, one line.
    pub council_decision: String,
    /// Every proposal the plan contains (those its standing commitments take), strictly
    /// ascending, at most [`PROPOSALS_IN_PLAN_MAX`]; computed by the rules, never chosen.
    #[serde(deserialize_with = "plan_proposals")]
    pub proposals: Vec<Proposal>,
    pub at: Timestamp,
    /// Who acted for the council.
    pub acted_by: Option<Actor>,
}

fn plan_proposals<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<Proposal>, D::Error> {
    bounded_list(deserializer, PROPOSALS_IN_PLAN_MAX)
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
    /// Being worked out with the local forum.
    Draft,
    Active,
    Closed,
}

/// A seat of the local forum as the rules see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ForumSeat {
    pub side: ForumSide,
    /// Left the forum.
    pub left: bool,
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
    /// The local forum's seats.
    pub forum: BTreeMap<ForumMemberId, ForumSeat>,
    /// Each side's co-chair, when named.
    pub co_chairs: BTreeMap<ForumSide, ForumMemberId>,
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
        // A draft takes no reports yet, and a closed plan none any more.
        self.status == PlanStatus::Active
            && commitment.assessment.is_none()
            && !commitment.withdrawn
    }

    /// A seat of the forum that has not left, or the rule that stops a step on it.
    fn forum_member(&self, id: ForumMemberId) -> Result<ForumSeat, DomainError> {
        match self.forum.get(&id) {
            None => Err(DomainError::not_found("forum member")),
            Some(seat) if seat.left => Err(DomainError::refused(Refusal::ForumMemberLeft)),
            Some(seat) => Ok(*seat),
        }
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
    if let ActionPlanCommand::Draft {
        plan_id,
        title,
        period_start,
        period_end,
        at,
    } = command
    {
        if state.status != PlanStatus::NotAdopted {
            return refused(Refusal::PlanAlreadyAdopted);
        }
        let event = ActionPlanEvent::Drafted(PlanDrafted {
            plan_id,
            title,
            period_start,
            period_end,
            at,
            acted_by: None,
        });
        event.check()?;
        return Ok(vec![event]);
    }
    if let ActionPlanCommand::Adopt {
        plan_id,
        title,
        period_start,
        period_end,
        council_decision,
        at,
    } = command
    {
        if state.status == PlanStatus::Draft {
            return refused(Refusal::PlanIsADraft);
        }
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
    let draft = state.status == PlanStatus::Draft;
    let event = match command {
        ActionPlanCommand::Adopt { .. } | ActionPlanCommand::Draft { .. } => {
            return refused(Refusal::PlanAlreadyAdopted);
        }
        ActionPlanCommand::ReportProgress { .. }
        | ActionPlanCommand::AssessCommitment { .. }
        | ActionPlanCommand::Close { .. }
            if draft =>
        {
            return refused(Refusal::PlanNotAdopted);
        }
        ActionPlanCommand::AdoptDraft {
            council_decision,
            at,
        } => {
            if !draft {
                return refused(Refusal::PlanAlreadyAdopted);
            }
            let standing = state.commitments.values().filter(|c| !c.withdrawn);
            if standing.clone().next().is_none() {
                return refused(Refusal::PlanHasNoCommitments);
            }
            if state.co_chairs.len() < 2 {
                return refused(Refusal::CoChairsNotNamed);
            }
            let mut proposals: Vec<Proposal> = standing
                .flat_map(|c| c.sources.iter())
                .map(|&(dialogue_id, contribution_id)| Proposal {
                    dialogue_id,
                    contribution_id,
                })
                .collect();
            proposals.sort_unstable();
            proposals.dedup();
            ActionPlanEvent::DraftAdopted(DraftAdopted {
                plan_id,
                council_decision,
                proposals,
                at,
                acted_by: None,
            })
        }
        ActionPlanCommand::JoinForum {
            member_id,
            side,
            organisation,
            role,
            at,
        } => {
            if state.forum.contains_key(&member_id) {
                return refused(Refusal::DuplicateForumMember);
            }
            if is_full(state.forum.len(), FORUM_MEMBERS_MAX) {
                return refused(Refusal::TooManyForumMembers);
            }
            ActionPlanEvent::ForumMemberJoined(ForumMemberJoined {
                plan_id,
                member_id,
                side,
                organisation,
                role,
                at,
                acted_by: None,
            })
        }
        ActionPlanCommand::LeaveForum {
            member_id,
            reason,
            at,
        } => {
            state.forum_member(member_id)?;
            ActionPlanEvent::ForumMemberLeft(ForumMemberLeft {
                plan_id,
                member_id,
                reason,
                at,
                acted_by: None,
            })
        }
        ActionPlanCommand::NameCoChair { member_id, at } => {
            let seat = state.forum_member(member_id)?;
            if state.co_chairs.get(&seat.side) == Some(&member_id) {
                return refused(Refusal::AlreadyCoChair);
            }
            ActionPlanEvent::CoChairNamed(CoChairNamed {
                plan_id,
                member_id,
                side: seat.side,
                at,
                acted_by: None,
            })
        }
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
            let in_plan: usize = state.commitments.values().map(|c| c.sources.len()).sum();
            if commitment.sources.len() + contributions.len()
                > PROPOSALS_PER_COMMITMENT_MAX as usize
                || in_plan + contributions.len() > PROPOSALS_IN_PLAN_MAX as usize
            {
                return refused(Refusal::TooManyProposals);
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
        ActionPlanEvent::Drafted(drafted) => {
            state.id = Some(drafted.plan_id);
            state.status = PlanStatus::Draft;
            state.period_start = Some(drafted.period_start);
            state.period_end = Some(drafted.period_end);
        }
        ActionPlanEvent::DraftAdopted(_) => state.status = PlanStatus::Active,
        ActionPlanEvent::ForumMemberJoined(joined) => {
            let seat = ForumSeat {
                side: joined.side,
                left: false,
            };
            state.forum.insert(joined.member_id, seat);
        }
        ActionPlanEvent::ForumMemberLeft(left) => {
            if let Some(seat) = state.forum.get_mut(&left.member_id) {
                seat.left = true;
                if state.co_chairs.get(&seat.side) == Some(&left.member_id) {
                    state.co_chairs.remove(&seat.side);
                }
            }
        }
        ActionPlanEvent::CoChairNamed(named) => {
            // The seat's own side, whatever the event says: a member co-chairs only its side.
            if let Some(seat) = state.forum.get(&named.member_id).filter(|s| !s.left) {
                state.co_chairs.insert(seat.side, named.member_id);
            }
        }
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
            | Self::Draft { at, .. }
            | Self::JoinForum { at, .. }
            | Self::LeaveForum { at, .. }
            | Self::NameCoChair { at, .. }
            | Self::AdoptDraft { at, .. }
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
            Self::Drafted(e) => e.at,
            Self::ForumMemberJoined(e) => e.at,
            Self::ForumMemberLeft(e) => e.at,
            Self::CoChairNamed(e) => e.at,
            Self::DraftAdopted(e) => e.at,
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
            Self::Drafted(e) => e.plan_id,
            Self::ForumMemberJoined(e) => e.plan_id,
            Self::ForumMemberLeft(e) => e.plan_id,
            Self::CoChairNamed(e) => e.plan_id,
            Self::DraftAdopted(e) => e.plan_id,
        }
    }

    /// Checks every bound the event is written with; run on decide and on decode.
    pub(crate) fn check(&self) -> Result<(), DomainError> {
        /// A plan's title and period, adopted or drafted.
        fn check_plan(title: &str, start: CivilDate, end: CivilDate) -> Result<(), DomainError> {
            check_line("title", title, PLAN_TITLE_LEN_MAX)?;
            if end < start {
                return Err(DomainError::invalid(
                    "period_end",
                    Violation::EndBeforeStart,
                ));
            }
            let days = end.epoch_days() - start.epoch_days();
            if days > i64::from(PLAN_PERIOD_DAYS_MAX) {
                let days_max = PLAN_PERIOD_DAYS_MAX;
                return Err(DomainError::invalid(
                    "period_end",
                    Violation::SpanTooLong { days_max },
                ));
            }
            Ok(())
        }
        match self {
            Self::Adopted(e) => {
                check_line(
                    "council_decision",
                    &e.council_decision,
                    COUNCIL_DECISION_LEN_MAX,
                )?;
                check_plan(&e.title, e.period_start, e.period_end)
            }
            Self::Drafted(e) => check_plan(&e.title, e.period_start, e.period_end),
            Self::ForumMemberJoined(e) => {
                check_line("organisation", &e.organisation, FORUM_ORGANISATION_LEN_MAX)?;
                check_line("role", &e.role, FORUM_ROLE_LEN_MAX)
            }
            Self::ForumMemberLeft(e) => check_line("reason", &e.reason, AMENDMENT_REASON_LEN_MAX),
            Self::CoChairNamed(_) => Ok(()),
            Self::DraftAdopted(e) => {
                check_line(
                    "council_decision",
                    &e.council_decision,
                    COUNCIL_DECISION_LEN_MAX,
                )?;
                check_len("proposals", e.proposals.len(), PROPOSALS_IN_PLAN_MAX)?;
                check_strictly_ascending("proposals", &e.proposals)
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
