//! The simulation's vocabulary: the commands it chooses from a hromada's state ([`Action`]) and
//! how they end ([`Outcome`]), shared by the chooser (`sim`) and the sender (`send`) so
//! neither depends on the other's internals.

use domain::CivilDate;
use event_store_core::Timestamp;
use proto::node::v1 as pb;

/// The least a simulated round offers.
pub(super) const ROUND_AMOUNT_MIN_UAH: u64 = 200_000;
/// The least a project may cost in a simulated round.
pub(super) const PROJECT_COST_MIN_UAH: u64 = 20_000;

/// One command, chosen from a hromada's state.
#[derive(Debug, Clone)]
pub(super) enum Action {
    File {
        author: u64,
    },
    Publish {
        petition: String,
    },
    Reject {
        petition: String,
    },
    Sign {
        petition: String,
        citizen: u64,
    },
    Consider {
        petition: String,
    },
    Answer {
        petition: String,
        decision: pb::AnswerDecision,
    },
    Announce {
        kind: pb::DialogueKind,
        opens_at: Timestamp,
        closes_at: Timestamp,
    },
    Contribute {
        dialogue: String,
        author: u64,
    },
    AnswerContribution {
        dialogue: String,
        contribution: String,
    },
    CloseDialogue {
        dialogue: String,
        attendance: u32,
    },
    PublishOutcome {
        dialogue: String,
    },
    AdoptPlan {
        start: CivilDate,
        end: CivilDate,
    },
    /// Begin a plan as a draft, to be worked out with the local forum.
    DraftPlan {
        start: CivilDate,
        end: CivilDate,
    },
    /// The `seat`th seat of the forum joins (even: government, odd: public).
    JoinForum {
        plan: String,
        seat: usize,
    },
    NameCoChair {
        plan: String,
        member: String,
    },
    AdoptDraft {
        plan: String,
    },
    AddCommitment {
        plan: String,
        start: CivilDate,
        end: CivilDate,
    },
    AddMilestone {
        plan: String,
        commitment: String,
        due: CivilDate,
    },
    ReportProgress {
        plan: String,
        milestone: String,
        status: pb::ImplementationStatus,
    },
    Assess {
        plan: String,
        commitment: String,
        opened: pb::OpenedGovernment,
    },
    ClosePlan {
        plan: String,
    },
    AnnounceRound {
        amount_uah: u64,
        local_budget_uah: u64,
        submission_opens: Timestamp,
        submission_closes: Timestamp,
        voting_opens: Timestamp,
        voting_closes: Timestamp,
    },
    SubmitProject {
        round: String,
        author: u64,
        cost_uah: u64,
    },
    ReviewProject {
        round: String,
        project: String,
        eligible: bool,
        /// Approved as submitted, when eligible.
        cost_uah: u64,
    },
    CastBallot {
        round: String,
        citizen: u64,
        projects: Vec<String>,
    },
    DeclareResults {
        round: String,
    },
    /// Funds the next winner not funded yet (the sender reads the round to find it).
    FundNextWinner {
        round: String,
    },
    /// Reports on the next funded project not finished yet (the sender reads the round).
    ReportNextProject {
        round: String,
    },
    CloseRound {
        round: String,
    },
}

impl Action {
    /// The petition the command is about, if any.
    pub(super) fn petition(&self) -> Option<&str> {
        match self {
            Self::Publish { petition }
            | Self::Reject { petition }
            | Self::Sign { petition, .. }
            | Self::Consider { petition }
            | Self::Answer { petition, .. } => Some(petition),
            _ => None,
        }
    }

    /// The budget round the command is about, if any.
    pub(super) fn round(&self) -> Option<&str> {
        match self {
            Self::SubmitProject { round, .. }
            | Self::ReviewProject { round, .. }
            | Self::CastBallot { round, .. }
            | Self::DeclareResults { round }
            | Self::FundNextWinner { round }
            | Self::ReportNextProject { round }
            | Self::CloseRound { round } => Some(round),
            _ => None,
        }
    }

    /// The dialogue the command is about, if any.
    pub(super) fn dialogue(&self) -> Option<&str> {
        match self {
            Self::Contribute { dialogue, .. }
            | Self::AnswerContribution { dialogue, .. }
            | Self::CloseDialogue { dialogue, .. }
            | Self::PublishOutcome { dialogue } => Some(dialogue),
            _ => None,
        }
    }
}

/// How a command ended.
#[derive(Debug)]
pub(super) enum Outcome {
    Accepted {
        request_id: String,
        result: pb::CommandResult,
    },
    /// A rule refused it; `status` is what the node says of the item now, when read back.
    Refused {
        status: Option<ItemStatus>,
    },
    Failed,
    /// Nothing was left to send (every winner funded, every funded project finished); the
    /// round as the node shows it.
    Idle {
        status: ItemStatus,
    },
}

/// What the node says of an item now.
#[derive(Debug, Clone, Copy)]
pub(super) enum ItemStatus {
    Petition(pb::PetitionStatus),
    Dialogue(pb::DialogueStatus),
    Round(pb::RoundStatus),
}
