//! The frozen `u8` codes that projection rows store for enums, so a PostgreSQL table, an
//! auditor's embedded store and the digest all hold the same small integers.
//!
//! The codes of the domain's enums are their variant indices, which the domain already freezes
//! for its postcard encoding (append only, never reordered): one number means one thing in an
//! event payload and in a projection row. Every mapping below is an exhaustive `match`, so a
//! variant appended to a domain enum fails to compile here until it is given a code (and, for
//! the enums counted in fixed arrays of [`crate::Counters`], until the digest format gets a new
//! version with a longer array).
//!
//! | code | [`PetitionPhase`] | [`AnswerDecision`] | [`DialogueKind`] | [`ContributionResponse`] | [`ImplementationStatus`] | [`OpenedGovernment`] |
//! | ---- | ------------------ | ------------------ | ---------------- | ------------------------ | ------------------------ | -------------------- |
//! | 0 | awaiting moderation | supported | public consultation | accepted | no evidence available | worsened |
//! | 1 | rejected | partly supported | public hearing | partly accepted | not started | did not change |
//! | 2 | collecting | not supported | round table | rejected | limited | marginal |
//! | 3 | threshold reached | | e-consultation | | substantial | major |
//! | 4 | collection failed | | youth council | | complete | outstanding |
//! | 5 | under consideration | | other | | | |
//! | 6 | answered | | | | | |

use domain::action_plan::{ImplementationStatus, OpenedGovernment};
use domain::dialogue::{ContributionResponse, DialogueKind};
use domain::petition::AnswerDecision;

/// Where a petition is in its life, as [`crate::PetitionRow::phase`] stores it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PetitionPhase {
    AwaitingModeration,
    Rejected,
    Collecting,
    ThresholdReached,
    CollectionFailed,
    UnderConsideration,
    Answered,
}

impl PetitionPhase {
    /// Every phase, ascending by code.
    pub const ALL: [Self; 7] = [
        Self::AwaitingModeration,
        Self::Rejected,
        Self::Collecting,
        Self::ThresholdReached,
        Self::CollectionFailed,
        Self::UnderConsideration,
        Self::Answered,
    ];

    /// The frozen code. Never change or reuse one.
    pub const fn as_u8(self) -> u8 {
        match self {
            Self::AwaitingModeration => 0,
            Self::Rejected => 1,
            Self::Collecting => 2,
            Self::ThresholdReached => 3,
            Self::CollectionFailed => 4,
            Self::UnderConsideration => 5,
            Self::Answered => 6,
        }
    }

    /// The phase with this code, if any.
    pub const fn from_u8(code: u8) -> Option<Self> {
        match code {
            0 => Some(Self::AwaitingModeration),
            1 => Some(Self::Rejected),
            2 => Some(Self::Collecting),
            3 => Some(Self::ThresholdReached),
            4 => Some(Self::CollectionFailed),
            5 => Some(Self::UnderConsideration),
            6 => Some(Self::Answered),
            _ => None,
        }
    }
}

/// The code of a funded budget project's status: its variant index (not started 0, in
/// progress 1, completed 2, cancelled 3).
pub const fn project_status_code(status: domain::budget::ProjectStatus) -> u8 {
    use domain::budget::ProjectStatus as S;
    match status {
        S::NotStarted => 0,
        S::InProgress => 1,
        S::Completed => 2,
        S::Cancelled => 3,
    }
}

/// The code of an answer decision.
pub const fn decision_code(decision: AnswerDecision) -> u8 {
    match decision {
        AnswerDecision::Supported => 0,
        AnswerDecision::PartlySupported => 1,
        AnswerDecision::NotSupported => 2,
    }
}

/// The answer decision with this code, if any.
pub const fn decision_from_code(code: u8) -> Option<AnswerDecision> {
    match code {
        0 => Some(AnswerDecision::Supported),
        1 => Some(AnswerDecision::PartlySupported),
        2 => Some(AnswerDecision::NotSupported),
        _ => None,
    }
}

/// How many dialogue kinds there are: the length of
/// [`crate::Counters::dialogues_announced_by_kind`].
pub const DIALOGUE_KINDS: usize = 6;

/// The code of a dialogue kind, also its index in
/// [`crate::Counters::dialogues_announced_by_kind`].
pub const fn dialogue_kind_code(kind: DialogueKind) -> u8 {
    match kind {
        DialogueKind::PublicConsultation => 0,
        DialogueKind::PublicHearing => 1,
        DialogueKind::RoundTable => 2,
        DialogueKind::EConsultation => 3,
        DialogueKind::YouthCouncil => 4,
        DialogueKind::Other => 5,
    }
}

/// The dialogue kind with this code, if any.
pub const fn dialogue_kind_from_code(code: u8) -> Option<DialogueKind> {
    match code {
        0 => Some(DialogueKind::PublicConsultation),
        1 => Some(DialogueKind::PublicHearing),
        2 => Some(DialogueKind::RoundTable),
        3 => Some(DialogueKind::EConsultation),
        4 => Some(DialogueKind::YouthCouncil),
        5 => Some(DialogueKind::Other),
        _ => None,
    }
}

/// The code of a contribution response. Rows do not store it (they count each response in
/// its own column), but exports and queries that name one use this code.
pub const fn response_code(response: ContributionResponse) -> u8 {
    match response {
        ContributionResponse::Accepted => 0,
        ContributionResponse::PartlyAccepted => 1,
        ContributionResponse::Rejected => 2,
    }
}

/// The contribution response with this code, if any.
pub const fn response_from_code(code: u8) -> Option<ContributionResponse> {
    match code {
        0 => Some(ContributionResponse::Accepted),
        1 => Some(ContributionResponse::PartlyAccepted),
        2 => Some(ContributionResponse::Rejected),
        _ => None,
    }
}

/// How many implementation statuses there are. [`crate::Counters::milestones_by_status`] has
/// one more slot, index 0, for milestones with no report yet.
pub const IMPLEMENTATION_STATUSES: usize = 5;

/// The code of an implementation status.
pub const fn status_code(status: ImplementationStatus) -> u8 {
    match status {
        ImplementationStatus::NoEvidenceAvailable => 0,
        ImplementationStatus::NotStarted => 1,
        ImplementationStatus::Limited => 2,
        ImplementationStatus::Substantial => 3,
        ImplementationStatus::Complete => 4,
    }
}

/// The implementation status with this code, if any.
pub const fn status_from_code(code: u8) -> Option<ImplementationStatus> {
    match code {
        0 => Some(ImplementationStatus::NoEvidenceAvailable),
        1 => Some(ImplementationStatus::NotStarted),
        2 => Some(ImplementationStatus::Limited),
        3 => Some(ImplementationStatus::Substantial),
        4 => Some(ImplementationStatus::Complete),
        _ => None,
    }
}

/// How many "did it open government?" levels there are: the length of
/// [`crate::Counters::opened_government`].
pub const OPENED_GOVERNMENT_LEVELS: usize = 5;

/// The code of an "opened government" level, also its index in
/// [`crate::Counters::opened_government`].
pub const fn opened_government_code(level: OpenedGovernment) -> u8 {
    match level {
        OpenedGovernment::Worsened => 0,
        OpenedGovernment::DidNotChange => 1,
        OpenedGovernment::Marginal => 2,
        OpenedGovernment::Major => 3,
        OpenedGovernment::Outstanding => 4,
    }
}

/// The "opened government" level with this code, if any.
pub const fn opened_government_from_code(code: u8) -> Option<OpenedGovernment> {
    match code {
        0 => Some(OpenedGovernment::Worsened),
        1 => Some(OpenedGovernment::DidNotChange),
        2 => Some(OpenedGovernment::Marginal),
        3 => Some(OpenedGovernment::Major),
        4 => Some(OpenedGovernment::Outstanding),
        _ => None,
    }
}

/// The slot of [`crate::Counters::milestones_by_status`] for a milestone whose last reported
/// status code is `status` (`None`: no report yet, slot 0); `None` for a code that names no
/// status (a corrupt stored row), so a caller never indexes past the array.
pub const fn milestone_status_slot(status: Option<u8>) -> Option<usize> {
    match status {
        None => Some(0),
        Some(code) if (code as usize) < IMPLEMENTATION_STATUSES => Some(code as usize + 1),
        Some(_) => None,
    }
}

/// The API names of dialogue kinds, by code ([`dialogue_kind_code`]).
pub const DIALOGUE_KIND_NAMES: [&str; DIALOGUE_KINDS] = [
    "public_consultation",
    "public_hearing",
    "round_table",
    "e_consultation",
    "youth_council",
    "other",
];

/// The API names of milestone status slots ([`milestone_status_slot`]): no report yet, then
/// the implementation statuses by code; the statuses alone are `[1..]`.
pub const MILESTONE_STATUS_NAMES: [&str; IMPLEMENTATION_STATUSES + 1] = [
    "no_report",
    "no_evidence_available",
    "not_started",
    "limited",
    "substantial",
    "complete",
];

/// The API names of "did it open government" levels, by code ([`opened_government_code`]).
pub const OPENED_GOVERNMENT_NAMES: [&str; OPENED_GOVERNMENT_LEVELS] = [
    "worsened",
    "did_not_change",
    "marginal",
    "major",
    "outstanding",
];

/// The API names of answer decisions, by code ([`decision_code`]).
/// The names of funded budget projects' status codes, by code, as open data writes them.
pub const PROJECT_STATUS_NAMES: [&str; 4] =
    ["not_started", "in_progress", "completed", "cancelled"];

pub const DECISION_NAMES: [&str; 3] = ["supported", "partly_supported", "not_supported"];

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Serialize;

    /// The variant index postcard writes for a unit variant: the domain's frozen encoding.
    fn variant_index<T: Serialize>(value: &T) -> u8 {
        let bytes = postcard::to_allocvec(value).expect("unit variants encode");
        assert_eq!(bytes.len(), 1, "a unit variant is one varint byte");
        bytes[0]
    }

    #[test]
    fn domain_enum_codes_are_their_frozen_variant_indices_and_round_trip() {
        use AnswerDecision as D;
        for d in [D::Supported, D::PartlySupported, D::NotSupported] {
            assert_eq!(decision_code(d), variant_index(&d));
            assert_eq!(decision_from_code(decision_code(d)), Some(d));
        }
        use DialogueKind as K;
        let kinds = [
            K::PublicConsultation,
            K::PublicHearing,
            K::RoundTable,
            K::EConsultation,
            K::YouthCouncil,
            K::Other,
        ];
        assert_eq!(kinds.len(), DIALOGUE_KINDS);
        for k in kinds {
            assert_eq!(dialogue_kind_code(k), variant_index(&k));
            assert_eq!(dialogue_kind_from_code(dialogue_kind_code(k)), Some(k));
        }
        use ContributionResponse as R;
        for r in [R::Accepted, R::PartlyAccepted, R::Rejected] {
            assert_eq!(response_code(r), variant_index(&r));
            assert_eq!(response_from_code(response_code(r)), Some(r));
        }
        use ImplementationStatus as S;
        let statuses = [
            S::NoEvidenceAvailable,
            S::NotStarted,
            S::Limited,
            S::Substantial,
            S::Complete,
        ];
        assert_eq!(statuses.len(), IMPLEMENTATION_STATUSES);
        for s in statuses {
            assert_eq!(status_code(s), variant_index(&s));
            assert_eq!(status_from_code(status_code(s)), Some(s));
        }
        use OpenedGovernment as O;
        let levels = [
            O::Worsened,
            O::DidNotChange,
            O::Marginal,
            O::Major,
            O::Outstanding,
        ];
        assert_eq!(levels.len(), OPENED_GOVERNMENT_LEVELS);
        for o in levels {
            assert_eq!(opened_government_code(o), variant_index(&o));
            assert_eq!(
                opened_government_from_code(opened_government_code(o)),
                Some(o)
            );
        }
        assert_eq!(decision_from_code(3), None);
        assert_eq!(dialogue_kind_from_code(6), None);
        assert_eq!(response_from_code(3), None);
        assert_eq!(status_from_code(5), None);
        assert_eq!(opened_government_from_code(5), None);
    }

    #[test]
    fn petition_phases_have_their_frozen_codes() {
        for (code, phase) in PetitionPhase::ALL.into_iter().enumerate() {
            assert_eq!(usize::from(phase.as_u8()), code);
            assert_eq!(PetitionPhase::from_u8(phase.as_u8()), Some(phase));
        }
        assert_eq!(PetitionPhase::from_u8(7), None);
        assert_eq!(PetitionPhase::from_u8(u8::MAX), None);
    }

    #[test]
    fn milestone_slots_put_no_report_first() {
        assert_eq!(milestone_status_slot(None), Some(0));
        assert_eq!(
            milestone_status_slot(Some(status_code(ImplementationStatus::Complete))),
            Some(IMPLEMENTATION_STATUSES)
        );
        let past_the_end = u8::try_from(IMPLEMENTATION_STATUSES).expect("small");
        assert_eq!(milestone_status_slot(Some(past_the_end)), None);
    }
}
