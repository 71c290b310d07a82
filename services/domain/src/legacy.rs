//! The older schema versions of event payloads, and the steps that bring each to the current
//! one (registered in [`crate::upcasters`]). A step reads the older bytes exactly (trailing
//! bytes are an error) and writes the current form; the stored bytes are never rewritten.
//!
//! | type | from | to | change |
//! | --- | --- | --- | --- |
//! | 101 `petition.filed` | 1 | 2 | title and text in the clear become [`PetitionContent::Clear`] |
//! | 102 `petition.published` | 1 | 2 | no disclosure (`None`) |
//! | 202 `dialogue.contribution_submitted` | 1 | 2 | text in the clear becomes [`ContributionContent::Clear`] |
//! | 203 `dialogue.contribution_answered` | 1 | 2 | no disclosure (`None`) |
//! | 102, 203 | 2 | 3 | no record of who acted (`acted_by: None`) |
//! | 103, 107–109, 201, 204, 205, 301–306 | 1 | 2 | no record of who acted (`acted_by: None`) |
//!
//! The steps that add `acted_by` do not need the older type: its bytes followed by postcard's
//! `None` (one 0x00 byte) are the current form ([`no_actor_yet`]).

use event_store_core::{Timestamp, UpcastError};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::calendar::CivilDate;
use crate::dialogue::{ContributionContent, ContributionResponse, ContributionSubmitted};
use crate::disclosure::{ContributionText, PetitionText};
use crate::event::EventType;
use crate::ids::{ContributionId, DialogueId, PetitionId};
use crate::petition::{PetitionContent, PetitionFiled, StatuteRule};
use crate::pseudonym::PseudonymTag;

/// `petition.filed`, schema 1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PetitionFiledV1 {
    pub petition_id: PetitionId,
    pub author: PseudonymTag,
    pub title: String,
    pub text: String,
    pub category: String,
    pub at: Timestamp,
    pub moderation_due: CivilDate,
}

/// `petition.published`, schema 1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PetitionPublishedV1 {
    pub petition_id: PetitionId,
    pub rule: StatuteRule,
    pub at: Timestamp,
}

/// `petition.published`, schema 2.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PetitionPublishedV2 {
    pub petition_id: PetitionId,
    pub rule: StatuteRule,
    pub at: Timestamp,
    pub disclosure: Option<PetitionText>,
}

/// `dialogue.contribution_submitted`, schema 1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContributionSubmittedV1 {
    pub dialogue_id: DialogueId,
    pub contribution_id: ContributionId,
    pub author: PseudonymTag,
    pub text: String,
    pub at: Timestamp,
}

/// `dialogue.contribution_answered`, schema 1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContributionAnsweredV1 {
    pub dialogue_id: DialogueId,
    pub contribution_id: ContributionId,
    pub response: ContributionResponse,
    pub reason: String,
    pub at: Timestamp,
}

/// `dialogue.contribution_answered`, schema 2.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContributionAnsweredV2 {
    pub dialogue_id: DialogueId,
    pub contribution_id: ContributionId,
    pub response: ContributionResponse,
    pub reason: String,
    pub at: Timestamp,
    pub disclosure: Option<ContributionText>,
}

/// Reads `bytes` as `Old` wholly, and writes `convert(old)`.
fn step<Old, New>(
    event_type: EventType,
    from: u16,
    bytes: &[u8],
    convert: impl FnOnce(Old) -> New,
) -> Result<Vec<u8>, UpcastError>
where
    Old: DeserializeOwned,
    New: Serialize,
{
    let fail = |reason: String| UpcastError::Payload {
        event_type: event_type.code().0,
        from,
        reason,
    };
    let (old, rest) = postcard::take_from_bytes::<Old>(bytes).map_err(|e| fail(e.to_string()))?;
    if !rest.is_empty() {
        return Err(fail(format!("{} trailing bytes", rest.len())));
    }
    postcard::to_stdvec(&convert(old)).map_err(|e| fail(e.to_string()))
}

/// `petition.filed` 1 → 2.
pub fn petition_filed_1_to_2(bytes: &[u8]) -> Result<Vec<u8>, UpcastError> {
    step(
        EventType::PetitionFiled,
        1,
        bytes,
        |old: PetitionFiledV1| PetitionFiled {
            petition_id: old.petition_id,
            author: old.author,
            content: PetitionContent::Clear {
                title: old.title,
                text: old.text,
            },
            category: old.category,
            at: old.at,
            moderation_due: old.moderation_due,
        },
    )
}

/// `petition.published` 1 → 2.
pub fn petition_published_1_to_2(bytes: &[u8]) -> Result<Vec<u8>, UpcastError> {
    step(
        EventType::PetitionPublished,
        1,
        bytes,
        |old: PetitionPublishedV1| PetitionPublishedV2 {
            petition_id: old.petition_id,
            rule: old.rule,
            at: old.at,
            disclosure: None,
        },
    )
}

/// `dialogue.contribution_submitted` 1 → 2.
pub fn contribution_submitted_1_to_2(bytes: &[u8]) -> Result<Vec<u8>, UpcastError> {
    step(
        EventType::ContributionSubmitted,
        1,
        bytes,
        |old: ContributionSubmittedV1| ContributionSubmitted {
            dialogue_id: old.dialogue_id,
            contribution_id: old.contribution_id,
            author: old.author,
            content: ContributionContent::Clear { text: old.text },
            at: old.at,
        },
    )
}

/// `dialogue.contribution_answered` 1 → 2.
pub fn contribution_answered_1_to_2(bytes: &[u8]) -> Result<Vec<u8>, UpcastError> {
    step(
        EventType::ContributionAnswered,
        1,
        bytes,
        |old: ContributionAnsweredV1| ContributionAnsweredV2 {
            dialogue_id: old.dialogue_id,
            contribution_id: old.contribution_id,
            response: old.response,
            reason: old.reason,
            at: old.at,
            disclosure: None,
        },
    )
}

/// The step that adds `acted_by` to an official event, from the schema version that lacked
/// it: the older bytes and postcard's `None` (one 0x00 byte). The older form is checked when
/// the result is decoded as the current one (`crate::schema::decode_with`), whose errors are
/// typed: a malformed field is reported as such, and bytes trailing the older form, which
/// would otherwise read as an actor, are [`DecodeError::TrailingBytes`](crate::DecodeError).
pub fn no_actor_yet(bytes: &[u8]) -> Result<Vec<u8>, UpcastError> {
    let mut current = Vec::with_capacity(bytes.len() + 1);
    current.extend_from_slice(bytes);
    current.push(0);
    Ok(current)
}
