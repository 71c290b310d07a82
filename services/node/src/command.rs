//! The node's commands as values: what one request asks, parsed once at the gRPC boundary
//! (`TryFrom<pb::…Request>` in `convert.rs`) and run by [`NodeCore::run`](crate::NodeCore::run).
//! They carry no time and no pseudonyms: the executor dates each attempt, and the core turns a
//! verified identity's [`Subject`] into its keyed pseudonym before anything is decided.

use domain::action_plan::{ForumSide, ImplementationStatus, OgpValue, OpenedGovernment};
use domain::budget::{ProjectStatus, RoundRules};
use domain::dialogue::{ContributionResponse, DialogueKind};
use domain::petition::AnswerDecision;
use domain::{
    CivilDate, CommitmentId, ContributionId, DialogueId, EventType, ForumMemberId, MilestoneId,
    PetitionId, PlanId, ProjectId, RoundId,
};
use event_store_core::Timestamp;
use uuid::Uuid;

use crate::auth::attested::Attested;
use crate::error::NodeError;

/// Longest verified-identity subject accepted (identity providers' subject ids are far shorter).
pub const SUBJECT_LEN_MAX: usize = 256;

/// A verified person's subject at their identity provider. It goes no further than the core,
/// which derives the keyed pseudonym from it; `Debug` hides it, so it cannot reach a log line.
#[derive(Clone, PartialEq, Eq)]
pub struct Subject(String);

impl Subject {
    /// A subject the node itself made from a verified credential (`oidc:…`, `account:…`,
    /// `client:…`), not taken from a request.
    pub(crate) fn verified(subject: String) -> Self {
        Self(subject)
    }

    /// Checks a subject from the request field `field`: not blank, at most [`SUBJECT_LEN_MAX`]
    /// bytes.
    pub fn parse(field: &str, text: String) -> Result<Self, NodeError> {
        if text.trim().is_empty() {
            return Err(NodeError::invalid(field, "must not be empty"));
        }
        if text.len() > SUBJECT_LEN_MAX {
            return Err(NodeError::invalid(field, "must be at most 256 bytes"));
        }
        Ok(Self(text))
    }

    /// The subject, for deriving a pseudonym.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Subject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Subject(..)")
    }
}

/// Who runs a command for the council: the role whose permission it needs, what kind of
/// principal they are, and their subject at the node, from which the core derives the staff
/// pseudonym the official events record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Acting {
    pub role: domain::StaffRole,
    pub kind: domain::ActorKind,
    pub subject: Subject,
}

/// A resident's text that may never be published (a petition's title and text, a
/// contribution): `Debug` shows only its length, so it cannot reach a log line.
#[derive(Clone, PartialEq, Eq)]
pub struct Private(pub String);

impl std::fmt::Debug for Private {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Private({} chars)", self.0.chars().count())
    }
}

/// One command: the client's request id and what it asks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeCommand {
    /// A UUIDv7. It becomes the first event's id, so a retry is answered from the log, and the
    /// id of whatever the command creates (a petition, dialogue, plan, contribution, commitment
    /// or milestone).
    pub request: Uuid,
    pub action: Action,
}

/// What a command asks, by aggregate: creating commands name no stream (the request id is
/// the new stream's id), the others name the stream they act on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Records the hromada's non-working dates; nothing when the log already has them.
    SetNonWorkingDates {
        dates: Vec<CivilDate>,
    },
    FilePetition {
        author_subject: Subject,
        title: Private,
        text: Private,
        category: String,
    },
    Petition(PetitionId, PetitionStep),
    AnnounceDialogue {
        kind: DialogueKind,
        topic: String,
        organiser: String,
        opens_at: Timestamp,
        closes_at: Timestamp,
    },
    /// Submit a contribution to a dialogue (its id is the request id) for a verified person.
    SubmitContribution {
        dialogue: DialogueId,
        author_subject: Subject,
        text: Private,
    },
    Dialogue(DialogueId, DialogueStep),
    AdoptPlan {
        title: String,
        period_start: CivilDate,
        period_end: CivilDate,
        council_decision: String,
    },
    /// Begin a plan as a draft (its id is the request id).
    DraftPlan {
        title: String,
        period_start: CivilDate,
        period_end: CivilDate,
    },
    Plan(PlanId, PlanStep),
    /// Announce a participatory budget round (its id is the request id).
    AnnounceRound {
        title: String,
        council_decision: String,
        rules: RoundRules,
    },
    /// Submit a project to a round (its id is the request id) for a verified person, whose
    /// age and residence the door filled in from what their provider attested.
    SubmitProject {
        round: RoundId,
        author_subject: Subject,
        author: Attested,
        title: Private,
        description: Private,
        category: u8,
        cost: u64,
    },
    Round(RoundId, RoundStep),
}

impl Action {
    /// The type of the first event this command records: each kind of command has its own, so
    /// an event found under a request id tells which kind of command that id answered.
    pub fn first_event_type(&self) -> EventType {
        match self {
            Self::SetNonWorkingDates { .. } => EventType::NonWorkingDatesSet,
            Self::FilePetition { .. } => EventType::PetitionFiled,
            Self::Petition(_, step) => match step {
                PetitionStep::Publish => EventType::PetitionPublished,
                PetitionStep::Reject { .. } => EventType::PetitionRejected,
                PetitionStep::Sign { .. } => EventType::PetitionSigned,
                PetitionStep::CloseCollection => EventType::CollectionClosedWithoutThreshold,
                PetitionStep::StartConsideration => EventType::ConsiderationStarted,
                PetitionStep::Answer { .. } => EventType::PetitionAnswered,
                PetitionStep::ReportImplementation { .. } => EventType::ImplementationUpdated,
            },
            Self::AnnounceDialogue { .. } => EventType::DialogueAnnounced,
            Self::SubmitContribution { .. } => EventType::ContributionSubmitted,
            Self::Dialogue(_, step) => match step {
                DialogueStep::AnswerContribution { .. } => EventType::ContributionAnswered,
                DialogueStep::Close { .. } => EventType::DialogueClosed,
                DialogueStep::PublishOutcome { .. } => EventType::OutcomeReportPublished,
            },
            Self::AdoptPlan { .. } => EventType::PlanAdopted,
            Self::DraftPlan { .. } => EventType::PlanDrafted,
            Self::Plan(_, step) => match step {
                PlanStep::AddCommitment { .. } => EventType::CommitmentAdded,
                PlanStep::AddMilestone { .. } => EventType::MilestoneAdded,
                PlanStep::ReportProgress { .. } => EventType::ProgressReported,
                PlanStep::AssessCommitment { .. } => EventType::CommitmentAssessed,
                PlanStep::Close => EventType::PlanClosed,
                PlanStep::AmendCommitment { .. } => EventType::CommitmentAmended,
                PlanStep::WithdrawCommitment { .. } => EventType::CommitmentWithdrawn,
                PlanStep::AmendMilestone { .. } => EventType::MilestoneAmended,
                PlanStep::WithdrawMilestone { .. } => EventType::MilestoneWithdrawn,
                PlanStep::TakeProposals { .. } => EventType::ProposalsTaken,
                PlanStep::JoinForum { .. } => EventType::ForumMemberJoined,
                PlanStep::LeaveForum { .. } => EventType::ForumMemberLeft,
                PlanStep::NameCoChair { .. } => EventType::CoChairNamed,
                PlanStep::AdoptDraft { .. } => EventType::DraftAdopted,
            },
            Self::AnnounceRound { .. } => EventType::RoundAnnounced,
            Self::SubmitProject { .. } => EventType::ProjectSubmitted,
            Self::Round(_, step) => match step {
                RoundStep::Review { .. } => EventType::ProjectReviewed,
                RoundStep::Vote { .. } => EventType::BallotCast,
                RoundStep::DeclareResults => EventType::ResultsDeclared,
                RoundStep::Fund { .. } => EventType::ProjectFunded,
                RoundStep::ReportProgress { .. } => EventType::BudgetProgressReported,
                RoundStep::Close => EventType::RoundClosed,
            },
        }
    }
}

/// A step in a filed petition's life.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PetitionStep {
    /// Publish under the statute's rule in force.
    Publish,
    Reject {
        reason: String,
    },
    /// Sign for a verified person; only their pseudonym on this petition is recorded.
    Sign {
        signer_subject: Subject,
    },
    /// Close a collection that ended without its threshold (the scheduler's command).
    CloseCollection,
    /// Start considering, under the calendar in force.
    StartConsideration,
    Answer {
        decision: AnswerDecision,
        response: String,
        responder_role: String,
    },
    ReportImplementation {
        text: String,
    },
}

/// A step in an announced dialogue's life.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DialogueStep {
    AnswerContribution {
        contribution_id: ContributionId,
        response: ContributionResponse,
        reason: String,
    },
    Close {
        attendance_count: u32,
        participating_organisations: Vec<String>,
    },
    PublishOutcome {
        report: String,
        council_decision_ref: Option<String>,
    },
}

/// A step in an adopted action plan's life.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PlanStep {
    /// Add a commitment; its id is the request id.
    AddCommitment {
        title: String,
        description: String,
        lead_institution: String,
        values: Vec<OgpValue>,
        start: CivilDate,
        end: CivilDate,
    },
    /// Add a milestone; its id is the request id.
    AddMilestone {
        commitment_id: CommitmentId,
        title: String,
        due: CivilDate,
    },
    ReportProgress {
        milestone_id: MilestoneId,
        status: ImplementationStatus,
        evidence_link: Option<String>,
    },
    AssessCommitment {
        commitment_id: CommitmentId,
        completion: ImplementationStatus,
        opened_government: OpenedGovernment,
    },
    Close,
    AmendCommitment {
        commitment_id: CommitmentId,
        end: CivilDate,
        reason: String,
    },
    WithdrawCommitment {
        commitment_id: CommitmentId,
        reason: String,
    },
    AmendMilestone {
        milestone_id: MilestoneId,
        due: CivilDate,
        reason: String,
    },
    WithdrawMilestone {
        milestone_id: MilestoneId,
        reason: String,
    },
    /// Take proposals a dialogue accepted into a commitment (the core reads which it accepted).
    TakeProposals {
        commitment_id: CommitmentId,
        dialogue_id: DialogueId,
        contributions: Vec<ContributionId>,
    },
    /// A seat joins the local forum; its id is the request id.
    JoinForum {
        side: ForumSide,
        organisation: String,
        role: String,
    },
    LeaveForum {
        member_id: ForumMemberId,
        reason: String,
    },
    NameCoChair {
        member_id: ForumMemberId,
    },
    AdoptDraft {
        council_decision: String,
    },
}

/// A step in an announced participatory budget round's life.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RoundStep {
    /// Review a project: on the ballot at an approved cost (its kept text disclosed), or not,
    /// with the reason.
    Review {
        project_id: ProjectId,
        decision: ReviewDecision,
    },
    /// Cast a ballot for a verified person, whose age and residence the door filled in.
    Vote {
        voter_subject: Subject,
        voter: Attested,
        projects: Vec<ProjectId>,
    },
    DeclareResults,
    Fund {
        project_id: ProjectId,
        amount: u64,
    },
    ReportProgress {
        project_id: ProjectId,
        status: ProjectStatus,
        evidence_link: Option<String>,
        note: String,
    },
    Close,
}

/// A review's decision as the reviewer gives it (the node adds the disclosure of the text).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReviewDecision {
    Eligible { cost: u64 },
    Ineligible { reason: String },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_subject_is_checked_and_never_printed() {
        let subject = Subject::parse("signer_subject", "diia:1234567890".into()).unwrap();
        assert_eq!(subject.as_str(), "diia:1234567890");
        let command = NodeCommand {
            request: Uuid::now_v7(),
            action: Action::Petition(
                PetitionId(Uuid::now_v7()),
                PetitionStep::Sign {
                    signer_subject: subject,
                },
            ),
        };
        assert!(!format!("{command:?}").contains("1234567890"));
        for bad in [" ".to_owned(), "x".repeat(SUBJECT_LEN_MAX + 1)] {
            let Err(NodeError::Invalid(violations)) = Subject::parse("signer_subject", bad) else {
                panic!("a bad subject was accepted");
            };
            assert_eq!(violations[0].field, "signer_subject");
        }
    }
}
