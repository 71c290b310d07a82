//! Conversions at the gRPC boundary: proto fields are parsed into domain types here, once, and
//! every malformed field becomes a field violation naming it.

use domain::CivilDate;
use domain::action_plan::{ImplementationStatus, OgpValue, OpenedGovernment};
use domain::dialogue::{ContributionResponse, DialogueKind};
use domain::petition::{AnswerDecision, PetitionStatus};
use event_store_core::Timestamp;
use proto::node::v1 as pb;
use uuid::Uuid;

use crate::error::NodeError;
use crate::executor::Outcome;

/// Longest verified-identity subject accepted (identity providers' subject ids are far shorter).
pub const SUBJECT_LEN_MAX: usize = 256;

/// Parses a UUID field.
pub fn id<T: From<Uuid>>(field: &str, text: &str) -> Result<T, NodeError> {
    Uuid::parse_str(text)
        .map(T::from)
        .map_err(|_| NodeError::invalid(field, "must be a UUID"))
}

/// Checks a verified identity subject: only its keyed pseudonym is ever stored.
pub fn subject<'a>(field: &str, text: &'a str) -> Result<&'a str, NodeError> {
    if text.trim().is_empty() {
        return Err(NodeError::invalid(field, "must not be empty"));
    }
    if text.len() > SUBJECT_LEN_MAX {
        return Err(NodeError::invalid(field, "must be at most 256 bytes"));
    }
    Ok(text)
}

/// Parses a `YYYY-MM-DD` civil date field.
pub fn date(field: &str, text: &str) -> Result<CivilDate, NodeError> {
    text.parse()
        .map_err(|_| NodeError::invalid(field, "must be a date YYYY-MM-DD"))
}

/// Parses a required timestamp field.
pub fn timestamp(field: &str, ts: Option<prost_types::Timestamp>) -> Result<Timestamp, NodeError> {
    let ts = ts.ok_or_else(|| NodeError::invalid(field, "is required"))?;
    if !(0..1_000_000_000).contains(&ts.nanos) {
        return Err(NodeError::invalid(field, "nanos must be in 0..1e9"));
    }
    ts.seconds
        .checked_mul(1_000_000)
        .and_then(|us| us.checked_add(i64::from(ts.nanos / 1_000)))
        .map(Timestamp)
        .ok_or_else(|| NodeError::invalid(field, "is out of range"))
}

/// A timestamp for a response.
pub fn to_pb_ts(t: Timestamp) -> prost_types::Timestamp {
    let nanos = i32::try_from(t.0.rem_euclid(1_000_000) * 1_000).unwrap_or(0);
    prost_types::Timestamp {
        seconds: t.0.div_euclid(1_000_000),
        nanos,
    }
}

/// An optional timestamp for a response.
pub fn opt_ts(t: Option<Timestamp>) -> Option<prost_types::Timestamp> {
    t.map(to_pb_ts)
}

/// An optional date for a response (empty when unknown).
pub fn opt_date(d: Option<CivilDate>) -> String {
    d.map(|d| d.to_string()).unwrap_or_default()
}

/// The response to a command.
pub fn command_result(o: &Outcome) -> pb::CommandResult {
    let count = if o.first_seq.0 == 0 {
        0
    } else {
        o.last_seq.0 - o.first_seq.0 + 1
    };
    pb::CommandResult {
        stream_id: o.stream.to_string(),
        stream_version: o.stream_version.0,
        first_seq: o.first_seq.0,
        last_seq: o.last_seq.0,
        event_count: u32::try_from(count).unwrap_or(u32::MAX),
        deduplicated: o.deduplicated,
        event_types: o.event_types.iter().map(|t| (*t).to_owned()).collect(),
    }
}

fn unspecified(field: &str) -> NodeError {
    NodeError::invalid(field, "must be set to a known value")
}

pub fn answer_decision(field: &str, v: i32) -> Result<AnswerDecision, NodeError> {
    match pb::AnswerDecision::try_from(v) {
        Ok(pb::AnswerDecision::Supported) => Ok(AnswerDecision::Supported),
        Ok(pb::AnswerDecision::PartlySupported) => Ok(AnswerDecision::PartlySupported),
        Ok(pb::AnswerDecision::NotSupported) => Ok(AnswerDecision::NotSupported),
        _ => Err(unspecified(field)),
    }
}

pub fn pb_answer_decision(d: AnswerDecision) -> pb::AnswerDecision {
    match d {
        AnswerDecision::Supported => pb::AnswerDecision::Supported,
        AnswerDecision::PartlySupported => pb::AnswerDecision::PartlySupported,
        AnswerDecision::NotSupported => pb::AnswerDecision::NotSupported,
    }
}

pub fn pb_petition_status(s: PetitionStatus) -> pb::PetitionStatus {
    match s {
        PetitionStatus::NotFiled => pb::PetitionStatus::Unspecified,
        PetitionStatus::AwaitingModeration => pb::PetitionStatus::AwaitingModeration,
        PetitionStatus::Rejected => pb::PetitionStatus::Rejected,
        PetitionStatus::Collecting => pb::PetitionStatus::Collecting,
        PetitionStatus::ThresholdReached => pb::PetitionStatus::ThresholdReached,
        PetitionStatus::CollectionFailed => pb::PetitionStatus::CollectionFailed,
        PetitionStatus::UnderConsideration => pb::PetitionStatus::UnderConsideration,
        PetitionStatus::Answered => pb::PetitionStatus::Answered,
    }
}

pub fn dialogue_kind(field: &str, v: i32) -> Result<DialogueKind, NodeError> {
    match pb::DialogueKind::try_from(v) {
        Ok(pb::DialogueKind::PublicConsultation) => Ok(DialogueKind::PublicConsultation),
        Ok(pb::DialogueKind::PublicHearing) => Ok(DialogueKind::PublicHearing),
        Ok(pb::DialogueKind::RoundTable) => Ok(DialogueKind::RoundTable),
        Ok(pb::DialogueKind::EConsultation) => Ok(DialogueKind::EConsultation),
        Ok(pb::DialogueKind::YouthCouncil) => Ok(DialogueKind::YouthCouncil),
        Ok(pb::DialogueKind::Other) => Ok(DialogueKind::Other),
        _ => Err(unspecified(field)),
    }
}

pub fn pb_dialogue_kind(k: DialogueKind) -> pb::DialogueKind {
    match k {
        DialogueKind::PublicConsultation => pb::DialogueKind::PublicConsultation,
        DialogueKind::PublicHearing => pb::DialogueKind::PublicHearing,
        DialogueKind::RoundTable => pb::DialogueKind::RoundTable,
        DialogueKind::EConsultation => pb::DialogueKind::EConsultation,
        DialogueKind::YouthCouncil => pb::DialogueKind::YouthCouncil,
        DialogueKind::Other => pb::DialogueKind::Other,
    }
}

pub fn contribution_response(field: &str, v: i32) -> Result<ContributionResponse, NodeError> {
    match pb::ContributionResponse::try_from(v) {
        Ok(pb::ContributionResponse::Accepted) => Ok(ContributionResponse::Accepted),
        Ok(pb::ContributionResponse::PartlyAccepted) => Ok(ContributionResponse::PartlyAccepted),
        Ok(pb::ContributionResponse::Rejected) => Ok(ContributionResponse::Rejected),
        _ => Err(unspecified(field)),
    }
}

pub fn ogp_value(field: &str, v: i32) -> Result<OgpValue, NodeError> {
    match pb::OgpValue::try_from(v) {
        Ok(pb::OgpValue::AccessToInformation) => Ok(OgpValue::AccessToInformation),
        Ok(pb::OgpValue::CivicParticipation) => Ok(OgpValue::CivicParticipation),
        Ok(pb::OgpValue::PublicAccountability) => Ok(OgpValue::PublicAccountability),
        Ok(pb::OgpValue::TechnologyAndInnovation) => Ok(OgpValue::TechnologyAndInnovation),
        _ => Err(unspecified(field)),
    }
}

pub fn implementation_status(field: &str, v: i32) -> Result<ImplementationStatus, NodeError> {
    match pb::ImplementationStatus::try_from(v) {
        Ok(pb::ImplementationStatus::NoEvidenceAvailable) => {
            Ok(ImplementationStatus::NoEvidenceAvailable)
        }
        Ok(pb::ImplementationStatus::NotStarted) => Ok(ImplementationStatus::NotStarted),
        Ok(pb::ImplementationStatus::Limited) => Ok(ImplementationStatus::Limited),
        Ok(pb::ImplementationStatus::Substantial) => Ok(ImplementationStatus::Substantial),
        Ok(pb::ImplementationStatus::Complete) => Ok(ImplementationStatus::Complete),
        _ => Err(unspecified(field)),
    }
}

pub fn pb_implementation_status(s: Option<ImplementationStatus>) -> pb::ImplementationStatus {
    match s {
        None => pb::ImplementationStatus::Unspecified,
        Some(ImplementationStatus::NoEvidenceAvailable) => {
            pb::ImplementationStatus::NoEvidenceAvailable
        }
        Some(ImplementationStatus::NotStarted) => pb::ImplementationStatus::NotStarted,
        Some(ImplementationStatus::Limited) => pb::ImplementationStatus::Limited,
        Some(ImplementationStatus::Substantial) => pb::ImplementationStatus::Substantial,
        Some(ImplementationStatus::Complete) => pb::ImplementationStatus::Complete,
    }
}

pub fn opened_government(field: &str, v: i32) -> Result<OpenedGovernment, NodeError> {
    match pb::OpenedGovernment::try_from(v) {
        Ok(pb::OpenedGovernment::Worsened) => Ok(OpenedGovernment::Worsened),
        Ok(pb::OpenedGovernment::DidNotChange) => Ok(OpenedGovernment::DidNotChange),
        Ok(pb::OpenedGovernment::Marginal) => Ok(OpenedGovernment::Marginal),
        Ok(pb::OpenedGovernment::Major) => Ok(OpenedGovernment::Major),
        Ok(pb::OpenedGovernment::Outstanding) => Ok(OpenedGovernment::Outstanding),
        _ => Err(unspecified(field)),
    }
}

/// Most items per page of a list (AIP-158).
pub const PAGE_SIZE_MAX: usize = 100;
/// Items per page when the request says 0.
pub const PAGE_SIZE_DEFAULT: usize = 20;

/// A page request: how many items, and the exclusive upper bound of positions to return.
pub fn page(page_size: i32, token: &str, len: usize) -> Result<(usize, usize), NodeError> {
    let size = match page_size {
        0 => PAGE_SIZE_DEFAULT,
        n if n < 0 => return Err(NodeError::invalid("page_size", "must not be negative")),
        n => usize::try_from(n)
            .unwrap_or(PAGE_SIZE_MAX)
            .min(PAGE_SIZE_MAX),
    };
    let end = if token.is_empty() {
        len
    } else {
        decode_token(token)
            .filter(|&e| e <= len)
            .ok_or_else(|| NodeError::invalid("page_token", "is not a token this node issued"))?
    };
    Ok((size, end))
}

/// The token for the page ending (exclusively) at `end`; empty when nothing is left.
pub fn next_token(end: usize) -> String {
    use base64::Engine as _;
    if end == 0 {
        String::new()
    } else {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("v1:{end}"))
    }
}

fn decode_token(token: &str) -> Option<usize> {
    use base64::Engine as _;
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .ok()?;
    let text = String::from_utf8(raw).ok()?;
    text.strip_prefix("v1:")?.parse().ok()
}
