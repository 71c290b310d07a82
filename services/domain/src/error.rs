//! The typed errors of the domain: why a command was refused and why stored bytes are not an
//! event, each carrying a machine-readable field or rule so an API layer can map them to its
//! own status codes (validation errors to field violations, refusals to failed preconditions).

use std::fmt;

/// Why a command produced no events.
///
/// The API layer maps [`DomainError::Invalid`] to `INVALID_ARGUMENT` (one field violation),
/// [`DomainError::Refused`] to `FAILED_PRECONDITION` (the rule's [`Refusal::code`] as the
/// violation type) and [`DomainError::NotFound`] to `NOT_FOUND`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    /// A field of the command breaks a rule that needs no state to check.
    #[error("{field}: {rule}")]
    Invalid {
        /// The field's name as it appears in the event, e.g. `title`.
        field: &'static str,
        /// The rule it breaks.
        rule: Violation,
    },
    /// The command is well formed, but the aggregate's current state forbids it.
    #[error("{rule}")]
    Refused {
        /// The rule that forbids it.
        rule: Refusal,
    },
    /// The command names something that does not exist in the aggregate.
    #[error("{entity} not found")]
    NotFound {
        /// What was looked for: `petition`, `dialogue`, `contribution`, `action plan`,
        /// `commitment`, `milestone`, `budget round` or `project`.
        entity: &'static str,
    },
}

impl DomainError {
    /// Shorthand for [`DomainError::Invalid`].
    pub const fn invalid(field: &'static str, rule: Violation) -> Self {
        Self::Invalid { field, rule }
    }

    /// Shorthand for [`DomainError::Refused`].
    pub const fn refused(rule: Refusal) -> Self {
        Self::Refused { rule }
    }

    /// Shorthand for [`DomainError::NotFound`].
    pub const fn not_found(entity: &'static str) -> Self {
        Self::NotFound { entity }
    }
}

/// A stateless rule a field breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Violation {
    /// Empty, or only whitespace.
    Blank,
    /// Longer than the bound, in Unicode scalar values.
    TooLong {
        /// The bound.
        chars_max: u32,
    },
    /// Contains a control character (a line break in a one-line field).
    ControlCharacter,
    /// A number outside its allowed range.
    OutOfRange {
        /// Smallest allowed value.
        min: i64,
        /// Largest allowed value.
        max: i64,
    },
    /// More items than the bound.
    TooMany {
        /// The bound.
        items_max: u32,
    },
    /// Needs at least one item.
    Empty,
    /// Items must be strictly ascending (sorted, no duplicates).
    NotStrictlyAscending,
    /// An end that comes before (or, for times, at) its start.
    EndBeforeStart,
    /// A link that is not an absolute `http` or `https` URL.
    NotHttpUrl,
    /// Required for this status or kind, but missing.
    Missing,
    /// A span longer than the bound.
    SpanTooLong {
        /// The bound, in days.
        days_max: u32,
    },
    /// A deadline recorded in an event that does not come after the event's own date.
    DeadlineNotAfterStart,
    /// Not in the one written form the format gives it.
    NotInItsForm,
    /// A signature that does not verify under the key it names.
    SignatureInvalid,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Blank => f.write_str("must not be blank"),
            Self::TooLong { chars_max } => write!(f, "at most {chars_max} characters"),
            Self::ControlCharacter => f.write_str("must not contain control characters"),
            Self::OutOfRange { min, max } => write!(f, "must be between {min} and {max}"),
            Self::TooMany { items_max } => write!(f, "at most {items_max} items"),
            Self::Empty => f.write_str("needs at least one item"),
            Self::NotStrictlyAscending => f.write_str("must be sorted with no duplicates"),
            Self::EndBeforeStart => f.write_str("must end after it starts"),
            Self::NotHttpUrl => f.write_str("must be an http or https url"),
            Self::Missing => f.write_str("is required here"),
            Self::SpanTooLong { days_max } => write!(f, "must span at most {days_max} days"),
            Self::DeadlineNotAfterStart => f.write_str("must come after the day it counts from"),
            Self::NotInItsForm => f.write_str("is not in its written form"),
            Self::SignatureInvalid => f.write_str("its signature does not verify"),
        }
    }
}

/// A rule of the domain that the current state forbids breaking.
///
/// [`Refusal::code`] is stable and machine-readable; the `Display` text is for people.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    // petitions
    /// A petition with this stream already exists.
    PetitionAlreadyFiled,
    /// Publication or rejection of a petition that is not awaiting moderation.
    PetitionNotAwaitingModeration,
    /// A signature on a petition that is not (yet) published, or was rejected.
    PetitionNotPublished,
    /// A signature at or after the end of the collection period.
    CollectionPeriodOver,
    /// A signature after consideration started.
    CollectionEnded,
    /// A second signature by the same signer.
    AlreadySigned,
    /// More signatures than a `u32` can count.
    SignatureCountAtMaximum,
    /// Closing the collection before its period is over.
    CollectionPeriodNotOver,
    /// Closing the collection "without the threshold" after the threshold was reached.
    ThresholdAlreadyReached,
    /// Starting consideration of a petition that has not reached its threshold.
    ThresholdNotReached,
    /// Starting consideration twice.
    ConsiderationAlreadyStarted,
    /// Answering a petition whose consideration has not started.
    ConsiderationNotStarted,
    /// Answering twice.
    PetitionAlreadyAnswered,
    /// An implementation update on a petition not yet answered.
    PetitionNotAnswered,
    /// An implementation update on a petition that was answered "not supported".
    AnswerNotSupported,
    /// More implementation updates than the bound.
    TooManyImplementationUpdates,

    // dialogues
    /// A dialogue with this stream already exists.
    DialogueAlreadyAnnounced,
    /// A contribution before the dialogue opens.
    DialogueNotOpenYet,
    /// A contribution at or after the dialogue's closing time, or after it was closed.
    DialogueNotOpen,
    /// A contribution id used twice.
    DuplicateContribution,
    /// More contributions than the bound.
    TooManyContributions,
    /// Answering a contribution twice.
    ContributionAlreadyAnswered,
    /// Answering or closing after the outcome report was published.
    OutcomeAlreadyPublished,
    /// Closing a dialogue before it opened.
    DialogueNotStarted,
    /// Closing a dialogue twice.
    DialogueAlreadyClosed,
    /// Publishing an outcome report before the dialogue is closed.
    DialogueNotClosed,

    // action plans
    /// An action plan with this stream already exists.
    PlanAlreadyAdopted,
    /// Any change to a closed plan.
    PlanClosed,
    /// A commitment id used twice.
    DuplicateCommitment,
    /// A milestone id used twice.
    DuplicateMilestone,
    /// More commitments than the bound.
    TooManyCommitments,
    /// More milestones in one commitment than the bound.
    TooManyMilestones,
    /// A commitment period outside the plan's period.
    OutsidePlanPeriod,
    /// A milestone due date outside its commitment's period.
    OutsideCommitmentPeriod,
    /// A change to a commitment that was already assessed.
    CommitmentAlreadyAssessed,
    /// Closing a plan while some commitment is not assessed.
    CommitmentsNotAssessed,

    // added after the first release; appended so earlier variants keep their place
    /// A command dated before the latest event already in its stream: an aggregate's time
    /// never goes backwards (every aggregate).
    TimeBeforePrevious,
    /// Closing a dialogue before its announced `closes_at`, which would cut contributions off
    /// early.
    DialogueStillOpen,
    /// Closing an action plan that has no commitments.
    PlanHasNoCommitments,
    /// Publishing a petition whose committed title and text are not given (erased on a
    /// lawful request, so it can no longer be published).
    PetitionTextMissing,
    /// Publishing a petition with a title and text that do not match its commitment.
    DisclosureMismatch,
    /// Accepting a contribution whose committed text is not given (erased).
    ContributionTextMissing,
    /// Accepting a contribution with a text that does not match its commitment.
    ContributionDisclosureMismatch,
    // participatory budgets
    /// A budget round with this stream already exists.
    RoundAlreadyAnnounced,
    /// Any change to a closed budget round.
    RoundClosed,
    /// A project submitted before submissions open or at or after they close.
    SubmissionNotOpen,
    /// A project id used twice.
    DuplicateProject,
    /// More projects than the bound.
    TooManyProjects,
    /// A project costing less or more than the round's limits.
    ProjectCostOutOfBounds,
    /// Reviewing a project twice.
    ProjectAlreadyReviewed,
    /// Reviewing a project once voting has opened, which would change the ballot mid-vote.
    ReviewAfterVotingOpened,
    /// Finding a project eligible with a title and description that do not match its commitment.
    ProjectDisclosureMismatch,
    /// A ballot before voting opens or at or after it closes.
    VotingNotOpen,
    /// A ballot by someone younger than the round's voting age.
    VoterTooYoung,
    /// A ballot by one whose date of birth the identity provider did not attest.
    VoterAgeNotAttested,
    /// A step on a commitment withdrawn from the plan.
    CommitmentWithdrawn,
    /// A step on a withdrawn milestone.
    MilestoneWithdrawn,
    /// Moving a milestone already reported complete.
    MilestoneComplete,
    /// A commitment taking a proposal its dialogue did not accept.
    ProposalNotAccepted,
    /// A commitment taking a proposal it has already taken.
    ProposalAlreadyTaken,
    /// A recorded budget event that differs from what the rules decide for its command (an
    /// auditor's finding, never a node's refusal).
    NotWhatTheRulesDecide,
    /// A ballot by a non-resident in a round only residents vote in.
    VoterNotResident,
    /// A second ballot by the same voter in a round.
    AlreadyVoted,
    /// More ballots than a `u32` can count.
    BallotCountAtMaximum,
    /// A ballot choosing more projects than the round allows.
    TooManyVotes,
    /// A ballot for a project that is not eligible (not reviewed, not eligible, or not in the round).
    ProjectNotOnBallot,
    /// Declaring results before voting closes.
    VotingNotOver,
    /// Declaring results twice.
    ResultsAlreadyDeclared,
    /// Funding a project or closing a round before its results are declared.
    ResultsNotDeclared,
    /// Funding a project that was not found eligible.
    ProjectIneligible,
    /// Funding an eligible project that did not win.
    ProjectNotWinner,
    /// Funding a project twice.
    ProjectAlreadyFunded,
    /// Reporting on a project that is not funded.
    ProjectNotFunded,
    /// Reporting on a project already completed or cancelled.
    ProjectFinished,
    /// More implementation reports on one project than the bound.
    TooManyProgressReports,
    /// A project under a category the round does not offer.
    UnknownCategory,
    /// A project by someone the round's age or electorate leaves out.
    AuthorNotEligible,
    /// More projects by one author than the round allows.
    TooManyProjectsByAuthor,
    /// Declaring results while a project is not reviewed.
    ProjectsNotReviewed,
    /// Funding a project beyond its approved cost.
    FundingOverCost,
    // the local forum and the draft
    /// Reporting, assessing or closing a plan that is still a draft.
    PlanNotAdopted,
    /// Adopting a draft before both co-chairs of the forum are named.
    CoChairsNotNamed,
    /// A forum member whose id the plan already has.
    DuplicateForumMember,
    /// More forum members than the bound.
    TooManyForumMembers,
    /// A step on a member who left the forum.
    ForumMemberLeft,
    /// Naming the co-chair who already is.
    AlreadyCoChair,
    /// More proposals in a commitment or a plan than the bound.
    TooManyProposals,
    /// Adopting a draft as a new plan: its adoption is `AdoptDraft`.
    PlanIsADraft,
    // independent assessment
    /// An independent assessment written by the hromada itself: signed under its key name,
    /// or by a monitor whose key the hromada signs its log with.
    AssessmentByTheHromada,
    /// An assessment signed by another key than the monitor it names.
    AssessmentSignerNotTheMonitor,
    /// An assessment by a monitor the association has not enrolled (or revoked).
    MonitorNotEnrolled,
    /// An assessment of a hromada the monitor declared itself not independent of.
    AssessorNotIndependent,
    /// An assessment dated after the day it is recorded.
    AssessmentDatedAhead,
}

impl Refusal {
    /// A stable, machine-readable name of the rule, e.g. `petition.already_signed`.
    pub const fn code(self) -> &'static str {
        match self {
            Self::PetitionAlreadyFiled => "petition.already_filed",
            Self::PetitionNotAwaitingModeration => "petition.not_awaiting_moderation",
            Self::PetitionNotPublished => "petition.not_published",
            Self::CollectionPeriodOver => "petition.collection_period_over",
            Self::CollectionEnded => "petition.collection_ended",
            Self::AlreadySigned => "petition.already_signed",
            Self::SignatureCountAtMaximum => "petition.signature_count_at_maximum",
            Self::CollectionPeriodNotOver => "petition.collection_period_not_over",
            Self::ThresholdAlreadyReached => "petition.threshold_already_reached",
            Self::ThresholdNotReached => "petition.threshold_not_reached",
            Self::ConsiderationAlreadyStarted => "petition.consideration_already_started",
            Self::ConsiderationNotStarted => "petition.consideration_not_started",
            Self::PetitionAlreadyAnswered => "petition.already_answered",
            Self::PetitionNotAnswered => "petition.not_answered",
            Self::AnswerNotSupported => "petition.answer_not_supported",
            Self::TooManyImplementationUpdates => "petition.too_many_implementation_updates",
            Self::DialogueAlreadyAnnounced => "dialogue.already_announced",
            Self::DialogueNotOpenYet => "dialogue.not_open_yet",
            Self::DialogueNotOpen => "dialogue.not_open",
            Self::DuplicateContribution => "dialogue.duplicate_contribution",
            Self::TooManyContributions => "dialogue.too_many_contributions",
            Self::ContributionAlreadyAnswered => "dialogue.contribution_already_answered",
            Self::OutcomeAlreadyPublished => "dialogue.outcome_already_published",
            Self::DialogueNotStarted => "dialogue.not_started",
            Self::DialogueAlreadyClosed => "dialogue.already_closed",
            Self::DialogueNotClosed => "dialogue.not_closed",
            Self::PlanAlreadyAdopted => "action_plan.already_adopted",
            Self::PlanClosed => "action_plan.closed",
            Self::DuplicateCommitment => "action_plan.duplicate_commitment",
            Self::DuplicateMilestone => "action_plan.duplicate_milestone",
            Self::TooManyCommitments => "action_plan.too_many_commitments",
            Self::TooManyMilestones => "action_plan.too_many_milestones",
            Self::OutsidePlanPeriod => "action_plan.outside_plan_period",
            Self::OutsideCommitmentPeriod => "action_plan.outside_commitment_period",
            Self::CommitmentAlreadyAssessed => "action_plan.commitment_already_assessed",
            Self::CommitmentsNotAssessed => "action_plan.commitments_not_assessed",
            Self::TimeBeforePrevious => "stream.time_before_previous",
            Self::DialogueStillOpen => "dialogue.still_open",
            Self::PlanHasNoCommitments => "action_plan.no_commitments",
            Self::PetitionTextMissing => "petition.text_missing",
            Self::DisclosureMismatch => "petition.disclosure_mismatch",
            Self::ContributionTextMissing => "dialogue.contribution_text_missing",
            Self::ContributionDisclosureMismatch => "dialogue.disclosure_mismatch",
            Self::RoundAlreadyAnnounced => "budget.round_already_announced",
            Self::RoundClosed => "budget.round_closed",
            Self::SubmissionNotOpen => "budget.submission_not_open",
            Self::DuplicateProject => "budget.duplicate_project",
            Self::TooManyProjects => "budget.too_many_projects",
            Self::ProjectCostOutOfBounds => "budget.project_cost_out_of_bounds",
            Self::ProjectAlreadyReviewed => "budget.project_already_reviewed",
            Self::ReviewAfterVotingOpened => "budget.review_after_voting_opened",
            Self::ProjectDisclosureMismatch => "budget.disclosure_mismatch",
            Self::VotingNotOpen => "budget.voting_not_open",
            Self::VoterTooYoung => "budget.voter_too_young",
            Self::VoterAgeNotAttested => "budget.voter_age_not_attested",
            Self::CommitmentWithdrawn => "action_plan.commitment_withdrawn",
            Self::MilestoneWithdrawn => "action_plan.milestone_withdrawn",
            Self::MilestoneComplete => "action_plan.milestone_complete",
            Self::ProposalNotAccepted => "action_plan.proposal_not_accepted",
            Self::ProposalAlreadyTaken => "action_plan.proposal_already_taken",
            Self::NotWhatTheRulesDecide => "budget.not_what_the_rules_decide",
            Self::VoterNotResident => "budget.voter_not_resident",
            Self::AlreadyVoted => "budget.already_voted",
            Self::BallotCountAtMaximum => "budget.ballot_count_at_maximum",
            Self::TooManyVotes => "budget.too_many_votes",
            Self::ProjectNotOnBallot => "budget.project_not_on_ballot",
            Self::VotingNotOver => "budget.voting_not_over",
            Self::ResultsAlreadyDeclared => "budget.results_already_declared",
            Self::ResultsNotDeclared => "budget.results_not_declared",
            Self::ProjectIneligible => "budget.project_ineligible",
            Self::ProjectNotWinner => "budget.project_not_winner",
            Self::ProjectAlreadyFunded => "budget.project_already_funded",
            Self::ProjectNotFunded => "budget.project_not_funded",
            Self::ProjectFinished => "budget.project_finished",
            Self::TooManyProgressReports => "budget.too_many_progress_reports",
            Self::UnknownCategory => "budget.unknown_category",
            Self::AuthorNotEligible => "budget.author_not_eligible",
            Self::TooManyProjectsByAuthor => "budget.too_many_projects_by_author",
            Self::ProjectsNotReviewed => "budget.projects_not_reviewed",
            Self::FundingOverCost => "budget.funding_over_cost",
            Self::PlanNotAdopted => "action_plan.not_adopted",
            Self::CoChairsNotNamed => "action_plan.co_chairs_not_named",
            Self::DuplicateForumMember => "action_plan.duplicate_forum_member",
            Self::TooManyForumMembers => "action_plan.too_many_forum_members",
            Self::ForumMemberLeft => "action_plan.forum_member_left",
            Self::AlreadyCoChair => "action_plan.already_co_chair",
            Self::TooManyProposals => "action_plan.too_many_proposals",
            Self::PlanIsADraft => "action_plan.is_a_draft",
            Self::AssessmentByTheHromada => "assessment.by_the_hromada",
            Self::AssessmentSignerNotTheMonitor => "assessment.signer_not_the_monitor",
            Self::MonitorNotEnrolled => "assessment.monitor_not_enrolled",
            Self::AssessorNotIndependent => "assessment.not_independent",
            Self::AssessmentDatedAhead => "assessment.dated_ahead",
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            Self::PetitionAlreadyFiled => "the petition is already filed",
            Self::PetitionNotAwaitingModeration => "the petition is not awaiting moderation",
            Self::PetitionNotPublished => "the petition is not published",
            Self::CollectionPeriodOver => "the signature collection period is over",
            Self::CollectionEnded => "signature collection ended when consideration started",
            Self::AlreadySigned => "this signer has already signed the petition",
            Self::SignatureCountAtMaximum => "the petition cannot count more signatures",
            Self::CollectionPeriodNotOver => "the signature collection period is not over yet",
            Self::ThresholdAlreadyReached => "the petition already reached its threshold",
            Self::ThresholdNotReached => "the petition has not reached its threshold",
            Self::ConsiderationAlreadyStarted => "consideration has already started",
            Self::ConsiderationNotStarted => "consideration has not started",
            Self::PetitionAlreadyAnswered => "the petition is already answered",
            Self::PetitionNotAnswered => "the petition is not answered yet",
            Self::AnswerNotSupported => "the petition was answered as not supported",
            Self::TooManyImplementationUpdates => {
                "the petition has too many implementation updates"
            }
            Self::DialogueAlreadyAnnounced => "the dialogue is already announced",
            Self::DialogueNotOpenYet => "the dialogue is not open yet",
            Self::DialogueNotOpen => "the dialogue is no longer open for contributions",
            Self::DuplicateContribution => "a contribution with this id already exists",
            Self::TooManyContributions => "the dialogue has too many contributions",
            Self::ContributionAlreadyAnswered => "the contribution is already answered",
            Self::OutcomeAlreadyPublished => "the dialogue's outcome report is already published",
            Self::DialogueNotStarted => "the dialogue has not opened yet",
            Self::DialogueAlreadyClosed => "the dialogue is already closed",
            Self::DialogueNotClosed => "the dialogue is not closed yet",
            Self::PlanAlreadyAdopted => "the action plan is already adopted",
            Self::PlanClosed => "the action plan is closed",
            Self::DuplicateCommitment => "a commitment with this id already exists",
            Self::DuplicateMilestone => "a milestone with this id already exists",
            Self::TooManyCommitments => "the action plan has too many commitments",
            Self::TooManyMilestones => "the commitment has too many milestones",
            Self::OutsidePlanPeriod => "the commitment's period is outside the plan's period",
            Self::OutsideCommitmentPeriod => {
                "the milestone's due date is outside the commitment's period"
            }
            Self::CommitmentAlreadyAssessed => "the commitment is already assessed",
            Self::CommitmentsNotAssessed => "some commitments are not assessed yet",
            Self::TimeBeforePrevious => "the command is dated before the stream's latest event",
            Self::DialogueStillOpen => {
                "the dialogue is open for contributions until its closing time"
            }
            Self::PlanHasNoCommitments => "the action plan has no commitments",
            Self::PetitionTextMissing => {
                "the petition's title and text are no longer held (erased), so it cannot be published"
            }
            Self::DisclosureMismatch => {
                "the title and text given do not match the commitment recorded at filing"
            }
            Self::ContributionTextMissing => {
                "the contribution's text is no longer held (erased), so it cannot be accepted"
            }
            Self::ContributionDisclosureMismatch => {
                "the text given does not match the commitment recorded at submission"
            }
            Self::RoundAlreadyAnnounced => "the budget round is already announced",
            Self::RoundClosed => "the budget round is closed",
            Self::SubmissionNotOpen => "submissions to the round are not open",
            Self::DuplicateProject => "a project with this id was already submitted",
            Self::TooManyProjects => "the round has as many projects as it may",
            Self::ProjectCostOutOfBounds => "the project's cost is outside the round's limits",
            Self::ProjectAlreadyReviewed => "the project was already reviewed",
            Self::ReviewAfterVotingOpened => "projects cannot be reviewed once voting has opened",
            Self::ProjectDisclosureMismatch => {
                "the text given does not match the commitment recorded at submission"
            }
            Self::VotingNotOpen => "voting is not open",
            Self::VoterTooYoung => "the voter is younger than the round's voting age",
            Self::CommitmentWithdrawn => "the commitment was withdrawn from the plan",
            Self::MilestoneWithdrawn => "the milestone was withdrawn",
            Self::MilestoneComplete => "the milestone was reported complete and is not moved",
            Self::ProposalNotAccepted => {
                "a commitment takes only proposals its dialogue accepted, in full or in part"
            }
            Self::ProposalAlreadyTaken => "the commitment has already taken this proposal",
            Self::NotWhatTheRulesDecide => {
                "the recorded event is not what the rules decide for its command"
            }
            Self::VoterAgeNotAttested => {
                "the identity provider attested no date of birth, so the voter's age is unknown"
            }
            Self::VoterNotResident => {
                "only residents registered in the hromada vote in this round, and the identity provider attested no such residence"
            }
            Self::AlreadyVoted => "the voter has already voted in this round",
            Self::BallotCountAtMaximum => "the round cannot count more ballots",
            Self::TooManyVotes => "the ballot chooses more projects than the round allows",
            Self::ProjectNotOnBallot => "a chosen project is not on the ballot",
            Self::VotingNotOver => "voting is not over",
            Self::ResultsAlreadyDeclared => "the results are already declared",
            Self::ResultsNotDeclared => "the round's results are not declared",
            Self::ProjectIneligible => "the project is not eligible",
            Self::ProjectNotWinner => "the project did not win",
            Self::ProjectAlreadyFunded => "the project is already funded",
            Self::ProjectNotFunded => "the project is not funded",
            Self::ProjectFinished => "the project is already completed or cancelled",
            Self::TooManyProgressReports => "the project has as many reports as it may",
            Self::UnknownCategory => "the round offers no such category",
            Self::AuthorNotEligible => "the author may not take part in this round",
            Self::TooManyProjectsByAuthor => {
                "the author has submitted as many projects as the round allows"
            }
            Self::ProjectsNotReviewed => "every project must be reviewed before the results",
            Self::FundingOverCost => "funding would exceed the project's approved cost",
            Self::PlanNotAdopted => "the plan is a draft: the council has not adopted it yet",
            Self::CoChairsNotNamed => {
                "the forum's co-chairs, one from each side, must be named before adoption"
            }
            Self::DuplicateForumMember => "the forum already has this member",
            Self::TooManyForumMembers => "the forum has as many members as it may",
            Self::ForumMemberLeft => "the member has left the forum",
            Self::AlreadyCoChair => "the member is already its side's co-chair",
            Self::TooManyProposals => {
                "the commitment or the plan takes as many proposals as it may"
            }
            Self::PlanIsADraft => "the plan is a draft: record the council's adoption of the draft",
            Self::AssessmentByTheHromada => {
                "an independent assessment cannot be written by the hromada itself"
            }
            Self::AssessmentSignerNotTheMonitor => {
                "the assessment is not signed by the monitor it names"
            }
            Self::MonitorNotEnrolled => "the association has not enrolled this monitor",
            Self::AssessorNotIndependent => {
                "the monitor declared itself not independent of this hromada"
            }
            Self::AssessmentDatedAhead => "the assessment is dated after today",
        };
        f.write_str(text)
    }
}

/// Why stored bytes could not be read back as an event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// No event type has this code.
    #[error("unknown event type code {type_code}")]
    UnknownTypeCode {
        /// The code read.
        type_code: u16,
    },
    /// The event type exists, but not in this schema version.
    #[error("event type {type_code} has no schema version {schema_version}")]
    UnsupportedSchemaVersion {
        /// The code read.
        type_code: u16,
        /// The schema version read.
        schema_version: u16,
    },
    /// The payload is not a postcard encoding of the event type.
    #[error("event type {type_code} payload is malformed: {reason}")]
    Malformed {
        /// The code read.
        type_code: u16,
        /// What postcard reported.
        reason: String,
    },
    /// The payload decodes, but bytes are left over.
    #[error("event type {type_code} payload has {count} trailing bytes")]
    TrailingBytes {
        /// The code read.
        type_code: u16,
        /// How many bytes are left over.
        count: u64,
    },
    /// The payload decodes, but is not the one encoding of its event (e.g. an over-long
    /// varint), so two byte strings could otherwise stand for the same event in the log.
    #[error("event type {type_code} payload is not canonically encoded")]
    NonCanonical {
        /// The code read.
        type_code: u16,
    },
    /// The payload decodes, but a field breaks a bound that every event is written with.
    #[error("event type {type_code} field {field}: {rule}")]
    Invalid {
        /// The code read.
        type_code: u16,
        /// The field.
        field: &'static str,
        /// The rule it breaks.
        rule: Violation,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_refusals_have_stable_codes_and_lowercase_messages() {
        for (rule, code) in [
            (Refusal::TimeBeforePrevious, "stream.time_before_previous"),
            (Refusal::DialogueStillOpen, "dialogue.still_open"),
            (Refusal::PlanHasNoCommitments, "action_plan.no_commitments"),
            (Refusal::PetitionTextMissing, "petition.text_missing"),
            (Refusal::DisclosureMismatch, "petition.disclosure_mismatch"),
            (
                Refusal::ContributionTextMissing,
                "dialogue.contribution_text_missing",
            ),
            (
                Refusal::ContributionDisclosureMismatch,
                "dialogue.disclosure_mismatch",
            ),
        ] {
            assert_eq!(rule.code(), code);
            let text = rule.to_string();
            assert!(
                text.starts_with(char::is_lowercase) && !text.ends_with('.'),
                "{text}"
            );
        }
    }
}
