//! Public dialogues between a hromada and its residents (consultations, hearings, round
//! tables, e-consultations, youth councils): announced → contributions while open → each
//! contribution answered once → closed → outcome report published.
//!
//! The announced window is a promise to residents: contributions are taken from `opens_at` up
//! to (not including) `closes_at`, and the dialogue cannot be closed before `closes_at`, so no
//! one is cut off early. Answers may come before or after closing, until the outcome report.
//! As in every aggregate, a command dated before the latest event is refused.

use std::collections::BTreeMap;

use event_store_core::Timestamp;
use serde::{Deserialize, Serialize};

use crate::actor::Actor;
use crate::calendar::DAY_MICROS;
use crate::disclosure::{Commitment, ContributionText};
use crate::error::{DomainError, Refusal, Violation};
use crate::ids::{ContributionId, DialogueId};
use crate::pseudonym::PseudonymTag;
use crate::stream::check_not_before_last;
use crate::text::{
    bounded_list, check_len, check_line, check_optional_line, check_paragraphs, check_range,
    is_full,
};

/// Longest dialogue topic: a one-line subject.
pub const TOPIC_LEN_MAX: u32 = 300;

/// Longest organiser name: a department or body, never a person.
pub const ORGANISER_LEN_MAX: u32 = 300;

/// Longest contribution: several pages of comments on a draft.
pub const CONTRIBUTION_LEN_MAX: u32 = 10_000;

/// Longest reason given when answering a contribution.
pub const ANSWER_REASON_LEN_MAX: u32 = 2_000;

/// Longest name of a participating organisation.
pub const ORGANISATION_NAME_LEN_MAX: u32 = 300;

/// Most participating organisations listed when closing: a large hearing has dozens.
pub const ORGANISATIONS_MAX: u32 = 200;

/// Largest attendance count: more than any hromada hearing could physically hold, and more
/// than a city's e-consultation draws.
pub const ATTENDANCE_MAX: u32 = 1_000_000;

/// Longest outcome report; keeps the event under ~80 KB.
pub const OUTCOME_REPORT_LEN_MAX: u32 = 20_000;

/// Longest council decision reference, e.g. "рішення № 1234/5678 від 12.03.2024".
pub const COUNCIL_DECISION_REF_LEN_MAX: u32 = 200;

/// Most contributions per dialogue: a city-wide e-consultation stays well below, and the
/// bound keeps the folded state small.
pub const CONTRIBUTIONS_MAX: u32 = 100_000;

/// Longest time a dialogue may stay open, in days.
pub const DIALOGUE_SPAN_DAYS_MAX: u32 = 366;

/// The form of a dialogue.
///
/// Encoded by its variant index: append only, never reorder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DialogueKind {
    PublicConsultation,
    PublicHearing,
    RoundTable,
    EConsultation,
    YouthCouncil,
    Other,
}

/// How a contribution was taken into account.
///
/// Encoded by its variant index: append only, never reorder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ContributionResponse {
    Accepted,
    PartlyAccepted,
    Rejected,
}

/// A request to change a dialogue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DialogueCommand {
    /// Announce a new dialogue in this (empty) stream.
    Announce {
        dialogue_id: DialogueId,
        kind: DialogueKind,
        topic: String,
        organiser: String,
        /// When contributions open.
        opens_at: Timestamp,
        /// When contributions close (exclusive).
        closes_at: Timestamp,
        at: Timestamp,
    },
    /// Submit a contribution while the dialogue is open.
    SubmitContribution {
        contribution_id: ContributionId,
        /// The author's [`crate::pseudonym::dialogue_tag`] in this dialogue.
        author: PseudonymTag,
        /// The text with the salt of its commitment, which the event records instead.
        text: ContributionText,
        at: Timestamp,
    },
    /// Answer a contribution; accepting it (fully or partly) discloses its committed text,
    /// which must then be given.
    AnswerContribution {
        contribution_id: ContributionId,
        response: ContributionResponse,
        reason: String,
        text: Option<ContributionText>,
        at: Timestamp,
    },
    /// Close the dialogue.
    Close {
        attendance_count: u32,
        participating_organisations: Vec<String>,
        at: Timestamp,
    },
    /// Publish the outcome report of a closed dialogue.
    PublishOutcome {
        report: String,
        council_decision_ref: Option<String>,
        at: Timestamp,
    },
}

/// What happened in a dialogue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DialogueEvent {
    Announced(DialogueAnnounced),
    ContributionSubmitted(ContributionSubmitted),
    ContributionAnswered(ContributionAnswered),
    Closed(DialogueClosed),
    OutcomePublished(OutcomeReportPublished),
}

/// A dialogue was announced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DialogueAnnounced {
    pub dialogue_id: DialogueId,
    pub kind: DialogueKind,
    /// At most [`TOPIC_LEN_MAX`] characters, one line.
    pub topic: String,
    /// At most [`ORGANISER_LEN_MAX`] characters, one line.
    pub organiser: String,
    pub opens_at: Timestamp,
    /// After `opens_at`, at most [`DIALOGUE_SPAN_DAYS_MAX`] days later.
    pub closes_at: Timestamp,
    pub at: Timestamp,
    /// Who acted for the council; `None` before it was recorded (see [`crate::actor`]).
    pub acted_by: Option<Actor>,
}

/// A resident contributed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContributionSubmitted {
    pub dialogue_id: DialogueId,
    pub contribution_id: ContributionId,
    pub author: PseudonymTag,
    pub content: ContributionContent,
    pub at: Timestamp,
}

/// A contribution's text as its submission recorded it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ContributionContent {
    /// In the clear, as schema 1 recorded every contribution; at most
    /// [`CONTRIBUTION_LEN_MAX`] characters.
    Clear { text: String },
    /// A commitment to it ([`ContributionText::commitment`]), disclosed if it is accepted.
    Committed(Commitment),
}

/// The organiser answered a contribution. Schema 2: an accepted contribution's committed text
/// is disclosed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContributionAnswered {
    pub dialogue_id: DialogueId,
    pub contribution_id: ContributionId,
    pub response: ContributionResponse,
    /// At most [`ANSWER_REASON_LEN_MAX`] characters.
    pub reason: String,
    pub at: Timestamp,
    /// The salt and text whose commitment the submission recorded, when the contribution is
    /// accepted fully or partly; `None` when rejected (its text never leaves the node) or
    /// submitted in the clear.
    pub disclosure: Option<ContributionText>,
    /// Who acted for the council; `None` before it was recorded (see [`crate::actor`]).
    pub acted_by: Option<Actor>,
}

/// The dialogue closed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DialogueClosed {
    pub dialogue_id: DialogueId,
    /// At most [`ATTENDANCE_MAX`].
    pub attendance_count: u32,
    /// At most [`ORGANISATIONS_MAX`] names, each one line of at most
    /// [`ORGANISATION_NAME_LEN_MAX`] characters.
    #[serde(deserialize_with = "organisations")]
    pub participating_organisations: Vec<String>,
    pub at: Timestamp,
    /// Who acted for the council; `None` before it was recorded (see [`crate::actor`]).
    pub acted_by: Option<Actor>,
}

/// Reads at most [`ORGANISATIONS_MAX`] + 1 names (see [`bounded_list`]).
fn organisations<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<String>, D::Error> {
    bounded_list(deserializer, ORGANISATIONS_MAX)
}

/// The outcome report of a closed dialogue was published.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutcomeReportPublished {
    pub dialogue_id: DialogueId,
    /// At most [`OUTCOME_REPORT_LEN_MAX`] characters.
    pub report: String,
    /// The council decision that followed, if any.
    pub council_decision_ref: Option<String>,
    pub at: Timestamp,
    /// Who acted for the council; `None` before it was recorded (see [`crate::actor`]).
    pub acted_by: Option<Actor>,
}

/// Where a dialogue is in its life.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum DialogueStatus {
    #[default]
    NotAnnounced,
    Announced,
    Closed,
    OutcomePublished,
}

/// What the rules know about one dialogue, folded from its events by [`evolve`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DialogueState {
    pub id: Option<DialogueId>,
    pub status: DialogueStatus,
    pub kind: Option<DialogueKind>,
    pub opens_at: Option<Timestamp>,
    pub closes_at: Option<Timestamp>,
    /// Every contribution, with its answer once given.
    pub contributions: BTreeMap<ContributionId, Option<ContributionResponse>>,
    /// The commitments of contributions submitted committed and not answered yet.
    pub commitments: BTreeMap<ContributionId, Commitment>,
    pub closed_at: Option<Timestamp>,
    /// The time of the latest event; no command may be dated before it.
    pub last_event_at: Option<Timestamp>,
}

impl DialogueState {
    /// Whether contributions are accepted at `at`.
    pub fn is_open_at(&self, at: Timestamp) -> bool {
        self.status == DialogueStatus::Announced
            && self.opens_at.is_some_and(|opens_at| opens_at <= at)
            && self.closes_at.is_some_and(|closes_at| at < closes_at)
    }
}

/// Checks a contribution's text against the bounds a submission holds it to (callers check
/// before keeping the text anywhere).
pub fn check_contribution_text(text: &str) -> Result<(), DomainError> {
    check_paragraphs("text", text, CONTRIBUTION_LEN_MAX)
}

/// Decides a dialogue command.
pub fn decide(
    state: &DialogueState,
    command: DialogueCommand,
) -> Result<Vec<DialogueEvent>, DomainError> {
    use DialogueStatus as S;
    let refused = |rule| Err(DomainError::refused(rule));
    if let DialogueCommand::Announce {
        dialogue_id,
        kind,
        topic,
        organiser,
        opens_at,
        closes_at,
        at,
    } = command
    {
        if state.status != S::NotAnnounced {
            return refused(Refusal::DialogueAlreadyAnnounced);
        }
        let event = DialogueEvent::Announced(DialogueAnnounced {
            dialogue_id,
            kind,
            topic,
            organiser,
            opens_at,
            closes_at,
            at,
            acted_by: None,
        });
        event.check()?;
        return Ok(vec![event]);
    }
    let Some(dialogue_id) = state.id else {
        return Err(DomainError::not_found("dialogue"));
    };
    check_not_before_last(state.last_event_at, command.at())?;
    let event = match command {
        DialogueCommand::Announce { .. } => return refused(Refusal::DialogueAlreadyAnnounced),
        DialogueCommand::SubmitContribution {
            contribution_id,
            author,
            text,
            at,
        } => {
            if state.status == S::Announced && state.opens_at.is_some_and(|opens| at < opens) {
                return refused(Refusal::DialogueNotOpenYet);
            }
            if !state.is_open_at(at) {
                return refused(Refusal::DialogueNotOpen);
            }
            if state.contributions.contains_key(&contribution_id) {
                return refused(Refusal::DuplicateContribution);
            }
            if is_full(state.contributions.len(), CONTRIBUTIONS_MAX) {
                return refused(Refusal::TooManyContributions);
            }
            check_contribution_text(&text.text)?;
            DialogueEvent::ContributionSubmitted(ContributionSubmitted {
                dialogue_id,
                contribution_id,
                author,
                content: ContributionContent::Committed(text.commitment()),
                at,
            })
        }
        DialogueCommand::AnswerContribution {
            contribution_id,
            response,
            reason,
            text,
            at,
        } => {
            if state.status == S::OutcomePublished {
                return refused(Refusal::OutcomeAlreadyPublished);
            }
            match state.contributions.get(&contribution_id) {
                None => return Err(DomainError::not_found("contribution")),
                Some(Some(_)) => return refused(Refusal::ContributionAlreadyAnswered),
                Some(None) => {}
            }
            let accepted = response != ContributionResponse::Rejected;
            let disclosure = match (state.commitments.get(&contribution_id), text) {
                (Some(_), _) if !accepted => None,
                (None, _) => None,
                (Some(_), None) => return refused(Refusal::ContributionTextMissing),
                (Some(c), Some(text)) if text.commitment() == *c => Some(text),
                (Some(_), Some(_)) => return refused(Refusal::ContributionDisclosureMismatch),
            };
            DialogueEvent::ContributionAnswered(ContributionAnswered {
                dialogue_id,
                contribution_id,
                response,
                reason,
                at,
                disclosure,
                acted_by: None,
            })
        }
        DialogueCommand::Close {
            attendance_count,
            participating_organisations,
            at,
        } => {
            match state.status {
                S::Announced => {}
                S::Closed | S::OutcomePublished => return refused(Refusal::DialogueAlreadyClosed),
                S::NotAnnounced => return Err(DomainError::not_found("dialogue")),
            }
            if state.opens_at.is_none_or(|opens_at| at < opens_at) {
                return refused(Refusal::DialogueNotStarted);
            }
            if state.closes_at.is_none_or(|closes_at| at < closes_at) {
                return refused(Refusal::DialogueStillOpen);
            }
            DialogueEvent::Closed(DialogueClosed {
                dialogue_id,
                attendance_count,
                participating_organisations,
                at,
                acted_by: None,
            })
        }
        DialogueCommand::PublishOutcome {
            report,
            council_decision_ref,
            at,
        } => {
            match state.status {
                S::Closed => {}
                S::OutcomePublished => return refused(Refusal::OutcomeAlreadyPublished),
                S::Announced | S::NotAnnounced => return refused(Refusal::DialogueNotClosed),
            }
            DialogueEvent::OutcomePublished(OutcomeReportPublished {
                dialogue_id,
                report,
                council_decision_ref,
                at,
                acted_by: None,
            })
        }
    };
    event.check()?;
    Ok(vec![event])
}

/// Applies a dialogue event.
pub fn evolve(mut state: DialogueState, event: &DialogueEvent) -> DialogueState {
    state.last_event_at = Some(event.at());
    match event {
        DialogueEvent::Announced(announced) => {
            state.id = Some(announced.dialogue_id);
            state.status = DialogueStatus::Announced;
            state.kind = Some(announced.kind);
            state.opens_at = Some(announced.opens_at);
            state.closes_at = Some(announced.closes_at);
        }
        DialogueEvent::ContributionSubmitted(submitted) => {
            state
                .contributions
                .entry(submitted.contribution_id)
                .or_insert(None);
            if let ContributionContent::Committed(c) = submitted.content {
                state.commitments.insert(submitted.contribution_id, c);
            }
        }
        DialogueEvent::ContributionAnswered(answered) => {
            state
                .contributions
                .insert(answered.contribution_id, Some(answered.response));
            state.commitments.remove(&answered.contribution_id);
        }
        DialogueEvent::Closed(closed) => {
            state.status = DialogueStatus::Closed;
            state.closed_at = Some(closed.at);
        }
        DialogueEvent::OutcomePublished(_) => state.status = DialogueStatus::OutcomePublished,
    }
    state
}

impl DialogueCommand {
    /// When the command is made.
    pub fn at(&self) -> Timestamp {
        match self {
            Self::Announce { at, .. }
            | Self::SubmitContribution { at, .. }
            | Self::AnswerContribution { at, .. }
            | Self::Close { at, .. }
            | Self::PublishOutcome { at, .. } => *at,
        }
    }
}

impl DialogueEvent {
    /// When it happened: the `at` of the command that decided it.
    pub fn at(&self) -> Timestamp {
        match self {
            Self::Announced(e) => e.at,
            Self::ContributionSubmitted(e) => e.at,
            Self::ContributionAnswered(e) => e.at,
            Self::Closed(e) => e.at,
            Self::OutcomePublished(e) => e.at,
        }
    }

    /// The dialogue this event belongs to.
    pub fn dialogue_id(&self) -> DialogueId {
        match self {
            Self::Announced(e) => e.dialogue_id,
            Self::ContributionSubmitted(e) => e.dialogue_id,
            Self::ContributionAnswered(e) => e.dialogue_id,
            Self::Closed(e) => e.dialogue_id,
            Self::OutcomePublished(e) => e.dialogue_id,
        }
    }

    /// Checks every bound the event is written with; run on decide and on decode.
    pub(crate) fn check(&self) -> Result<(), DomainError> {
        match self {
            Self::Announced(e) => {
                check_line("topic", &e.topic, TOPIC_LEN_MAX)?;
                check_line("organiser", &e.organiser, ORGANISER_LEN_MAX)?;
                if e.closes_at <= e.opens_at {
                    return Err(DomainError::invalid("closes_at", Violation::EndBeforeStart));
                }
                let span_max = i64::from(DIALOGUE_SPAN_DAYS_MAX).saturating_mul(DAY_MICROS);
                if e.closes_at.0.saturating_sub(e.opens_at.0) > span_max {
                    let days_max = DIALOGUE_SPAN_DAYS_MAX;
                    return Err(DomainError::invalid(
                        "closes_at",
                        Violation::SpanTooLong { days_max },
                    ));
                }
                Ok(())
            }
            Self::ContributionSubmitted(e) => match &e.content {
                ContributionContent::Clear { text } => {
                    check_paragraphs("text", text, CONTRIBUTION_LEN_MAX)
                }
                ContributionContent::Committed(_) => Ok(()),
            },
            Self::ContributionAnswered(e) => {
                check_paragraphs("reason", &e.reason, ANSWER_REASON_LEN_MAX)?;
                match &e.disclosure {
                    Some(d) => check_paragraphs("text", &d.text, CONTRIBUTION_LEN_MAX),
                    None => Ok(()),
                }
            }
            Self::Closed(e) => {
                let attendance = i64::from(e.attendance_count);
                check_range("attendance_count", attendance, 0, i64::from(ATTENDANCE_MAX))?;
                let organisations = &e.participating_organisations;
                check_len(
                    "participating_organisations",
                    organisations.len(),
                    ORGANISATIONS_MAX,
                )?;
                organisations.iter().try_for_each(|name| {
                    check_line(
                        "participating_organisations",
                        name,
                        ORGANISATION_NAME_LEN_MAX,
                    )
                })
            }
            Self::OutcomePublished(e) => {
                check_paragraphs("report", &e.report, OUTCOME_REPORT_LEN_MAX)?;
                let reference = e.council_decision_ref.as_deref();
                check_optional_line(
                    "council_decision_ref",
                    reference,
                    COUNCIL_DECISION_REF_LEN_MAX,
                )
            }
        }
    }
}
