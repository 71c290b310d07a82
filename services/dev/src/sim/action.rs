//! The simulation's vocabulary: the commands it chooses from a hromada's state ([`Action`]) and
//! how they end ([`Outcome`]), shared by the chooser (`sim`) and the sender (`send`) so
//! neither depends on the other's internals.

use domain::CivilDate;
use event_store_core::Timestamp;
use proto::node::v1 as pb;

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
}

/// What the node says of an item now.
#[derive(Debug, Clone, Copy)]
pub(super) enum ItemStatus {
    Petition(pb::PetitionStatus),
    Dialogue(pb::DialogueStatus),
}
