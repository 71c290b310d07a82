//! Conversions at the gRPC boundary: proto fields are parsed into domain types here, once, and
//! every malformed field becomes a field violation naming it.

use domain::CivilDate;
use domain::action_plan::{ForumSide, ImplementationStatus, OgpValue, OpenedGovernment};
use domain::dialogue::{ContributionResponse, DialogueKind};
use domain::petition::{AnswerDecision, PetitionContent, PetitionStatus};
use event_store_core::Timestamp;
use proto::node::v1 as pb;
use uuid::Uuid;

use crate::auth::attested::{Attested, Residence};
use crate::command::{
    Action, DialogueStep, NodeCommand, PetitionStep, PlanStep, Private, ReviewDecision, RoundStep,
    Subject,
};
use crate::core::rounds::RoundView;
use crate::core::{ContributionView, DialogueView, PetitionView, PlanView};
use crate::error::NodeError;
use crate::executor::{Outcome, parse_request_id};
use domain::budget::{CountingMethod, Electorate, ProjectStatus, RoundRules, RoundStatus};

/// Parses a UUID field.
pub fn id<T: From<Uuid>>(field: &str, text: &str) -> Result<T, NodeError> {
    Uuid::parse_str(text)
        .map(T::from)
        .map_err(|_| NodeError::invalid(field, "must be a UUID"))
}

/// An optional text field: empty means absent.
pub fn optional(text: String) -> Option<String> {
    if text.is_empty() { None } else { Some(text) }
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

impl From<Outcome> for pb::CommandResult {
    fn from(o: Outcome) -> Self {
        let count = if o.first_seq.0 == 0 {
            0
        } else {
            o.last_seq.0 - o.first_seq.0 + 1
        };
        Self {
            stream_id: o.stream.to_string(),
            stream_version: o.stream_version.0,
            first_seq: o.first_seq.0,
            last_seq: o.last_seq.0,
            event_count: u32::try_from(count).unwrap_or(u32::MAX),
            deduplicated: o.deduplicated,
            event_types: o.event_types.iter().map(|t| (*t).to_owned()).collect(),
        }
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

pub fn forum_side(field: &str, v: i32) -> Result<ForumSide, NodeError> {
    match pb::ForumSide::try_from(v) {
        Ok(pb::ForumSide::Government) => Ok(ForumSide::Government),
        Ok(pb::ForumSide::Public) => Ok(ForumSide::Public),
        _ => Err(unspecified(field)),
    }
}

pub fn pb_forum_side(v: ForumSide) -> pb::ForumSide {
    match v {
        ForumSide::Government => pb::ForumSide::Government,
        ForumSide::Public => pb::ForumSide::Public,
    }
}

pub fn pb_ogp_value(v: OgpValue) -> pb::OgpValue {
    match v {
        OgpValue::AccessToInformation => pb::OgpValue::AccessToInformation,
        OgpValue::CivicParticipation => pb::OgpValue::CivicParticipation,
        OgpValue::PublicAccountability => pb::OgpValue::PublicAccountability,
        OgpValue::TechnologyAndInnovation => pb::OgpValue::TechnologyAndInnovation,
    }
}

pub fn pb_opened_government(v: OpenedGovernment) -> pb::OpenedGovernment {
    match v {
        OpenedGovernment::Worsened => pb::OpenedGovernment::Worsened,
        OpenedGovernment::DidNotChange => pb::OpenedGovernment::DidNotChange,
        OpenedGovernment::Marginal => pb::OpenedGovernment::Marginal,
        OpenedGovernment::Major => pb::OpenedGovernment::Major,
        OpenedGovernment::Outstanding => pb::OpenedGovernment::Outstanding,
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

/// A page of a stream read by version: its size and the version to start from (AIP-158
/// tokens; the first page starts at the stream's start).
pub fn version_page(page_size: i32, token: &str) -> Result<(usize, u64), NodeError> {
    let (size, _) = page(page_size, "", 0)?;
    let from = if token.is_empty() {
        1
    } else {
        decode_token(token)
            .map(|v| v as u64)
            .filter(|&v| v >= 1)
            .ok_or_else(|| NodeError::invalid("page_token", "is not a token this node issued"))?
    };
    Ok((size, from))
}

/// The token of the page starting at stream version `version`.
pub fn next_token_at(version: u64) -> String {
    next_token(usize::try_from(version).unwrap_or(usize::MAX))
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

/// `TryFrom<pb::…Request> for NodeCommand`, one line of fields a request: the request id is
/// checked first, then the fields in the order written, and the first malformed one is reported.
macro_rules! node_commands {
    ($($request:ty => |$r:ident| $action:expr;)+) => {$(
        impl TryFrom<$request> for NodeCommand {
            type Error = NodeError;

            fn try_from($r: $request) -> Result<Self, NodeError> {
                let request = parse_request_id(&$r.request_id)?;
                Ok(Self { request, action: $action })
            }
        }
    )+};
}

node_commands! {
    pb::FilePetitionRequest => |r| Action::FilePetition {
        author_subject: Subject::parse("author_subject", r.author_subject)?,
        title: Private(r.title),
        text: Private(r.text),
        category: r.category,
    };
    pb::PublishPetitionRequest => |r| {
        Action::Petition(id("petition_id", &r.petition_id)?, PetitionStep::Publish)
    };
    pb::RejectPetitionRequest => |r| Action::Petition(
        id("petition_id", &r.petition_id)?,
        PetitionStep::Reject { reason: r.reason },
    );
    pb::SignPetitionRequest => |r| Action::Petition(
        id("petition_id", &r.petition_id)?,
        PetitionStep::Sign {
            signer_subject: Subject::parse("signer_subject", r.signer_subject)?,
        },
    );
    pb::StartConsiderationRequest => |r| {
        Action::Petition(id("petition_id", &r.petition_id)?, PetitionStep::StartConsideration)
    };
    pb::AnswerPetitionRequest => |r| Action::Petition(
        id("petition_id", &r.petition_id)?,
        PetitionStep::Answer {
            decision: answer_decision("decision", r.decision)?,
            response: r.response,
            responder_role: r.responder_role,
        },
    );
    pb::ReportImplementationRequest => |r| Action::Petition(
        id("petition_id", &r.petition_id)?,
        PetitionStep::ReportImplementation { text: r.text },
    );
    pb::AnnounceDialogueRequest => |r| Action::AnnounceDialogue {
        kind: dialogue_kind("kind", r.kind)?,
        topic: r.topic,
        organiser: r.organiser,
        opens_at: timestamp("opens_at", r.opens_at)?,
        closes_at: timestamp("closes_at", r.closes_at)?,
    };
    pb::SubmitContributionRequest => |r| Action::SubmitContribution {
        dialogue: id("dialogue_id", &r.dialogue_id)?,
        author_subject: Subject::parse("author_subject", r.author_subject)?,
        text: Private(r.text),
    };
    pb::AnswerContributionRequest => |r| Action::Dialogue(
        id("dialogue_id", &r.dialogue_id)?,
        DialogueStep::AnswerContribution {
            contribution_id: id("contribution_id", &r.contribution_id)?,
            response: contribution_response("response", r.response)?,
            reason: r.reason,
        },
    );
    pb::CloseDialogueRequest => |r| Action::Dialogue(
        id("dialogue_id", &r.dialogue_id)?,
        DialogueStep::Close {
            attendance_count: r.attendance_count,
            participating_organisations: r.participating_organisations,
        },
    );
    pb::PublishOutcomeRequest => |r| Action::Dialogue(
        id("dialogue_id", &r.dialogue_id)?,
        DialogueStep::PublishOutcome {
            report: r.report,
            council_decision_ref: optional(r.council_decision_ref),
        },
    );
    pb::AdoptPlanRequest => |r| Action::AdoptPlan {
        title: r.title,
        period_start: date("period_start", &r.period_start)?,
        period_end: date("period_end", &r.period_end)?,
        council_decision: r.council_decision,
    };
    pb::DraftPlanRequest => |r| Action::DraftPlan {
        title: r.title,
        period_start: date("period_start", &r.period_start)?,
        period_end: date("period_end", &r.period_end)?,
    };
    pb::JoinForumRequest => |r| Action::Plan(
        id("plan_id", &r.plan_id)?,
        PlanStep::JoinForum {
            side: forum_side("side", r.side)?,
            organisation: r.organisation,
            role: r.role,
        },
    );
    pb::LeaveForumRequest => |r| Action::Plan(
        id("plan_id", &r.plan_id)?,
        PlanStep::LeaveForum {
            member_id: id("member_id", &r.member_id)?,
            reason: r.reason,
        },
    );
    pb::NameCoChairRequest => |r| Action::Plan(
        id("plan_id", &r.plan_id)?,
        PlanStep::NameCoChair {
            member_id: id("member_id", &r.member_id)?,
        },
    );
    pb::AdoptDraftRequest => |r| Action::Plan(
        id("plan_id", &r.plan_id)?,
        PlanStep::AdoptDraft {
            council_decision: r.council_decision,
        },
    );
    pb::AddCommitmentRequest => |r| Action::Plan(
        id("plan_id", &r.plan_id)?,
        PlanStep::AddCommitment {
            title: r.title,
            description: r.description,
            lead_institution: r.lead_institution,
            values: r
                .values
                .iter()
                .map(|v| ogp_value("values", *v))
                .collect::<Result<Vec<_>, _>>()?,
            start: date("start", &r.start)?,
            end: date("end", &r.end)?,
        },
    );
    pb::AddMilestoneRequest => |r| Action::Plan(
        id("plan_id", &r.plan_id)?,
        PlanStep::AddMilestone {
            commitment_id: id("commitment_id", &r.commitment_id)?,
            title: r.title,
            due: date("due", &r.due)?,
        },
    );
    pb::ReportProgressRequest => |r| Action::Plan(
        id("plan_id", &r.plan_id)?,
        PlanStep::ReportProgress {
            milestone_id: id("milestone_id", &r.milestone_id)?,
            status: implementation_status("status", r.status)?,
            evidence_link: optional(r.evidence_link),
        },
    );
    pb::AssessCommitmentRequest => |r| Action::Plan(
        id("plan_id", &r.plan_id)?,
        PlanStep::AssessCommitment {
            commitment_id: id("commitment_id", &r.commitment_id)?,
            completion: implementation_status("completion", r.completion)?,
            opened_government: opened_government("opened_government", r.opened_government)?,
        },
    );
    pb::ClosePlanRequest => |r| Action::Plan(id("plan_id", &r.plan_id)?, PlanStep::Close);
    pb::AmendCommitmentRequest => |r| Action::Plan(
        id("plan_id", &r.plan_id)?,
        PlanStep::AmendCommitment {
            commitment_id: id("commitment_id", &r.commitment_id)?,
            end: date("end", &r.end)?,
            reason: r.reason,
        },
    );
    pb::WithdrawCommitmentRequest => |r| Action::Plan(
        id("plan_id", &r.plan_id)?,
        PlanStep::WithdrawCommitment {
            commitment_id: id("commitment_id", &r.commitment_id)?,
            reason: r.reason,
        },
    );
    pb::AmendMilestoneRequest => |r| Action::Plan(
        id("plan_id", &r.plan_id)?,
        PlanStep::AmendMilestone {
            milestone_id: id("milestone_id", &r.milestone_id)?,
            due: date("due", &r.due)?,
            reason: r.reason,
        },
    );
    pb::TakeProposalsRequest => |r| Action::Plan(
        id("plan_id", &r.plan_id)?,
        PlanStep::TakeProposals {
            commitment_id: id("commitment_id", &r.commitment_id)?,
            dialogue_id: id("dialogue_id", &r.dialogue_id)?,
            contributions: contribution_ids(&r.contribution_ids)?,
        },
    );
    pb::WithdrawMilestoneRequest => |r| Action::Plan(
        id("plan_id", &r.plan_id)?,
        PlanStep::WithdrawMilestone {
            milestone_id: id("milestone_id", &r.milestone_id)?,
            reason: r.reason,
        },
    );
    pb::AnnounceRoundRequest => |r| Action::AnnounceRound {
        title: r.title,
        council_decision: r.council_decision,
        rules: round_rules(r.rules)?,
    };
    pb::SubmitProjectRequest => |r| Action::SubmitProject {
        round: id("round_id", &r.round_id)?,
        author_subject: Subject::parse("author_subject", r.author_subject)?,
        author: attested(
            ("author_birthdate", &r.author_birthdate),
            ("author_residence", &r.author_residence),
        )?,
        title: Private(r.title),
        description: Private(r.description),
        category: small("category", r.category)?,
        cost: r.cost,
    };
    pb::ReviewProjectRequest => |r| Action::Round(
        id("round_id", &r.round_id)?,
        RoundStep::Review {
            project_id: id("project_id", &r.project_id)?,
            decision: if r.eligible {
                if !r.reason.is_empty() {
                    return Err(NodeError::invalid(
                        "reason",
                        "is given only for a project that is not eligible",
                    ));
                }
                ReviewDecision::Eligible { cost: r.approved_cost }
            } else {
                if r.approved_cost != 0 {
                    return Err(NodeError::invalid(
                        "approved_cost",
                        "is given only for an eligible project",
                    ));
                }
                ReviewDecision::Ineligible { reason: r.reason }
            },
        },
    );
    pb::CastBallotRequest => |r| Action::Round(
        id("round_id", &r.round_id)?,
        RoundStep::Vote {
            voter_subject: Subject::parse("voter_subject", r.voter_subject)?,
            voter: attested(
                ("voter_birthdate", &r.voter_birthdate),
                ("voter_residence", &r.voter_residence),
            )?,
            projects: project_ids(&r.project_ids)?,
        },
    );
    pb::DeclareResultsRequest => |r| {
        Action::Round(id("round_id", &r.round_id)?, RoundStep::DeclareResults)
    };
    pb::FundProjectRequest => |r| Action::Round(
        id("round_id", &r.round_id)?,
        RoundStep::Fund {
            project_id: id("project_id", &r.project_id)?,
            amount: r.amount,
        },
    );
    pb::ReportProjectProgressRequest => |r| Action::Round(
        id("round_id", &r.round_id)?,
        RoundStep::ReportProgress {
            project_id: id("project_id", &r.project_id)?,
            status: project_status("status", r.status)?,
            evidence_link: optional(r.evidence_link),
            note: r.note,
        },
    );
    pb::CloseRoundRequest => |r| Action::Round(id("round_id", &r.round_id)?, RoundStep::Close);
}

/// The contributions a commitment takes: at most as many as one event holds, each a UUID.
fn contribution_ids(ids: &[String]) -> Result<Vec<domain::ContributionId>, NodeError> {
    if ids.len() > domain::action_plan::PROPOSALS_TAKEN_MAX as usize {
        return Err(NodeError::invalid(
            "contribution_ids",
            "a commitment takes at most 50 proposals at once",
        ));
    }
    ids.iter().map(|c| id("contribution_ids", c)).collect()
}

/// A number field that fits in a byte.
fn small(field: &str, v: u32) -> Result<u8, NodeError> {
    u8::try_from(v).map_err(|_| NodeError::invalid(field, "must be at most 255"))
}

/// The projects a ballot chooses: at most as many as any round allows (the round's own limit is
/// its rule), each a UUID.
fn project_ids(ids: &[String]) -> Result<Vec<domain::ProjectId>, NodeError> {
    if ids.len() > usize::from(domain::budget::VOTES_PER_BALLOT_MAX) {
        return Err(NodeError::invalid(
            "project_ids",
            "a ballot chooses at most 10 projects",
        ));
    }
    ids.iter().map(|p| id("project_ids", p)).collect()
}

/// What the door filled in (or a machine client allowed to attest gave): a date of birth
/// `YYYY-MM-DD` and a KATOTTG code, each empty when not attested.
fn attested(
    (birthdate_field, birthdate): (&str, &str),
    (residence_field, residence): (&str, &str),
) -> Result<Attested, NodeError> {
    Ok(Attested {
        birthdate: if birthdate.is_empty() {
            None
        } else {
            Some(date(birthdate_field, birthdate)?)
        },
        residence: if residence.is_empty() {
            None
        } else {
            Some(Residence::parse(residence).ok_or_else(|| {
                NodeError::invalid(residence_field, "must be a KATOTTG code: UA and 17 digits")
            })?)
        },
    })
}

fn round_rules(rules: Option<pb::RoundRules>) -> Result<RoundRules, NodeError> {
    let r = rules.ok_or_else(|| NodeError::invalid("rules", "is required"))?;
    Ok(RoundRules {
        budget_year: u16::try_from(r.budget_year)
            .map_err(|_| NodeError::invalid("rules.budget_year", "is out of range"))?,
        amount: r.amount,
        local_budget: r.local_budget,
        project_cost_min: r.project_cost_min,
        project_cost_max: r.project_cost_max,
        voter_age_min: small("rules.voter_age_min", r.voter_age_min)?,
        electorate: match pb::Electorate::try_from(r.electorate) {
            Ok(pb::Electorate::Residents) => Electorate::Residents,
            Ok(pb::Electorate::Anyone) => Electorate::Anyone,
            _ => return Err(unspecified("rules.electorate")),
        },
        votes_per_ballot: small("rules.votes_per_ballot", r.votes_per_ballot)?,
        projects_per_author: small("rules.projects_per_author", r.projects_per_author)?,
        categories: r.categories,
        counting: CountingMethod::GreedyByVotes,
        submission_opens: timestamp("rules.submission_opens", r.submission_opens)?,
        submission_closes: timestamp("rules.submission_closes", r.submission_closes)?,
        voting_opens: timestamp("rules.voting_opens", r.voting_opens)?,
        voting_closes: timestamp("rules.voting_closes", r.voting_closes)?,
    })
}

fn pb_round_rules(r: &RoundRules) -> pb::RoundRules {
    pb::RoundRules {
        budget_year: u32::from(r.budget_year),
        amount: r.amount,
        local_budget: r.local_budget,
        project_cost_min: r.project_cost_min,
        project_cost_max: r.project_cost_max,
        voter_age_min: u32::from(r.voter_age_min),
        electorate: match r.electorate {
            Electorate::Residents => pb::Electorate::Residents,
            Electorate::Anyone => pb::Electorate::Anyone,
        } as i32,
        votes_per_ballot: u32::from(r.votes_per_ballot),
        projects_per_author: u32::from(r.projects_per_author),
        categories: r.categories.clone(),
        submission_opens: Some(to_pb_ts(r.submission_opens)),
        submission_closes: Some(to_pb_ts(r.submission_closes)),
        voting_opens: Some(to_pb_ts(r.voting_opens)),
        voting_closes: Some(to_pb_ts(r.voting_closes)),
    }
}

fn project_status(field: &str, v: i32) -> Result<ProjectStatus, NodeError> {
    match pb::ProjectStatus::try_from(v) {
        Ok(pb::ProjectStatus::NotStarted) => Ok(ProjectStatus::NotStarted),
        Ok(pb::ProjectStatus::InProgress) => Ok(ProjectStatus::InProgress),
        Ok(pb::ProjectStatus::Completed) => Ok(ProjectStatus::Completed),
        Ok(pb::ProjectStatus::Cancelled) => Ok(ProjectStatus::Cancelled),
        _ => Err(unspecified(field)),
    }
}

fn pb_project_status(s: Option<ProjectStatus>) -> pb::ProjectStatus {
    match s {
        None => pb::ProjectStatus::Unspecified,
        Some(ProjectStatus::NotStarted) => pb::ProjectStatus::NotStarted,
        Some(ProjectStatus::InProgress) => pb::ProjectStatus::InProgress,
        Some(ProjectStatus::Completed) => pb::ProjectStatus::Completed,
        Some(ProjectStatus::Cancelled) => pb::ProjectStatus::Cancelled,
    }
}

impl From<RoundView> for pb::Round {
    fn from(v: RoundView) -> Self {
        let s = &v.state;
        let a = v.announced.as_ref();
        Self {
            round_id: s.id.map(|i| i.to_string()).unwrap_or_default(),
            title: a.map(|a| a.title.clone()).unwrap_or_default(),
            council_decision: a.map(|a| a.council_decision.clone()).unwrap_or_default(),
            rules: s.rules.as_ref().map(pb_round_rules),
            status: match s.status {
                RoundStatus::NotAnnounced => pb::RoundStatus::Unspecified,
                RoundStatus::Open => pb::RoundStatus::Open,
                RoundStatus::ResultsDeclared => pb::RoundStatus::ResultsDeclared,
                RoundStatus::Closed => pb::RoundStatus::Closed,
            } as i32,
            projects: v
                .projects
                .into_iter()
                .map(|p| {
                    let state = s.projects.get(&p.id);
                    let (status, note, evidence) = match p.progress {
                        Some((status, note, evidence)) => (Some(status), note, evidence),
                        None => (None, String::new(), None),
                    };
                    pb::BudgetProject {
                        project_id: p.id.to_string(),
                        category: u32::from(p.submitted.category),
                        cost: state.map_or(p.submitted.cost, |st| st.cost),
                        review: match p.eligible {
                            None => pb::ProjectReview::Pending,
                            Some(true) => pb::ProjectReview::Eligible,
                            Some(false) => pb::ProjectReview::Ineligible,
                        } as i32,
                        title: p.text.as_ref().map(|t| t.title.clone()).unwrap_or_default(),
                        description: p.text.as_ref().map(|t| t.text.clone()).unwrap_or_default(),
                        text_public: p.text.as_ref().is_some_and(|t| t.public),
                        text_commitment: p.submitted.content.0.to_vec(),
                        ineligible_reason: p.ineligible_reason.unwrap_or_default(),
                        votes: state.map_or(0, |st| st.votes),
                        winner: s.winners.contains(&p.id),
                        funded: state.and_then(|st| st.funded),
                        status: pb_project_status(status) as i32,
                        latest_note: note,
                        evidence_link: evidence.unwrap_or_default(),
                        submitted_at: Some(to_pb_ts(p.submitted.at)),
                    }
                })
                .collect(),
            ballots: s.ballots,
            funded_total: s.funded_total,
            stream_version: v.version.0,
            announced_at: a.map(|a| to_pb_ts(a.at)),
            voted_by_caller: None,
        }
    }
}

impl From<PetitionView> for pb::Petition {
    fn from(v: PetitionView) -> Self {
        let s = &v.state;
        let filed = v.filed.as_ref();
        Self {
            petition_id: s.id.map(|i| i.to_string()).unwrap_or_default(),
            title: v.text.as_ref().map(|t| t.title.clone()).unwrap_or_default(),
            text: v.text.as_ref().map(|t| t.text.clone()).unwrap_or_default(),
            text_public: v.text.as_ref().is_some_and(|t| t.public),
            text_commitment: match filed.map(|f| &f.content) {
                Some(PetitionContent::Committed(c)) => c.0.to_vec(),
                _ => Vec::new(),
            },
            rejection_reason: v.rejection_reason.clone().unwrap_or_default(),
            answer_response: v
                .answer
                .as_ref()
                .map(|a| a.response.clone())
                .unwrap_or_default(),
            answer_responder_role: v
                .answer
                .as_ref()
                .map(|a| a.responder_role.clone())
                .unwrap_or_default(),
            implementation_updates: v
                .updates
                .iter()
                .map(|u| pb::ImplementationUpdate {
                    text: u.text.clone(),
                    at: Some(to_pb_ts(u.at)),
                    reported_by: u.acted_by.map(pb_actor),
                })
                .collect(),
            implementation_update_count: s.implementation_updates,
            category: filed.map(|f| f.category.clone()).unwrap_or_default(),
            status: pb_petition_status(s.status) as i32,
            signature_count: s.signature_count,
            signature_threshold: s.rule.map_or(0, |r| r.signature_threshold),
            collection_period_days: s.rule.map_or(0, |r| u32::from(r.collection_period_days)),
            filed_at: opt_ts(s.filed_at),
            published_at: opt_ts(s.published_at),
            collection_closes_at: opt_ts(s.collection_closes_at()),
            moderation_due: opt_date(s.moderation_due),
            answer_due: opt_date(s.answer_due),
            answer: s
                .answer
                .map_or(pb::AnswerDecision::Unspecified, pb_answer_decision)
                as i32,
            answered_at: opt_ts(s.answered_at),
            answered_on_time: s.answered_on_time(),
            stream_version: v.version.0,
            moderated_by: v.moderated_by.map(pb_actor),
            answered_by: v.answer.as_ref().and_then(|a| a.acted_by).map(pb_actor),
            signed_by_caller: None,
        }
    }
}

fn pb_actor(actor: domain::Actor) -> pb::StaffActor {
    pb::StaffActor {
        role: actor.role.name().to_owned(),
        machine_client: actor.kind == domain::ActorKind::Client,
        staff_pseudonym: actor.tag.0.to_vec(),
    }
}

impl From<DialogueView> for pb::Dialogue {
    fn from(v: DialogueView) -> Self {
        use domain::dialogue::DialogueStatus as S;
        let s = &v.state;
        let a = v.announced.as_ref();
        let answered = s.contributions.values().filter(|r| r.is_some()).count();
        Self {
            dialogue_id: s.id.map(|i| i.to_string()).unwrap_or_default(),
            kind: s
                .kind
                .map_or(pb::DialogueKind::Unspecified, pb_dialogue_kind) as i32,
            topic: a.map(|a| a.topic.clone()).unwrap_or_default(),
            organiser: a.map(|a| a.organiser.clone()).unwrap_or_default(),
            opens_at: opt_ts(s.opens_at),
            closes_at: opt_ts(s.closes_at),
            status: match s.status {
                S::NotAnnounced => pb::DialogueStatus::Unspecified,
                S::Announced => pb::DialogueStatus::Announced,
                S::Closed => pb::DialogueStatus::Closed,
                S::OutcomePublished => pb::DialogueStatus::OutcomePublished,
            } as i32,
            contributions: u32::try_from(s.contributions.len()).unwrap_or(u32::MAX),
            contributions_answered: u32::try_from(answered).unwrap_or(u32::MAX),
            stream_version: v.version.0,
            outcome_report: v
                .outcome
                .as_ref()
                .map(|o| o.report.clone())
                .unwrap_or_default(),
            council_decision_ref: v
                .outcome
                .as_ref()
                .and_then(|o| o.council_decision_ref.clone())
                .unwrap_or_default(),
        }
    }
}

impl From<ContributionView> for pb::Contribution {
    fn from(v: ContributionView) -> Self {
        Self {
            contribution_id: v.id.to_string(),
            text: v.text.unwrap_or_default(),
            text_public: v.public,
            response: match v.response {
                None => pb::ContributionResponse::Unspecified,
                Some(ContributionResponse::Accepted) => pb::ContributionResponse::Accepted,
                Some(ContributionResponse::PartlyAccepted) => {
                    pb::ContributionResponse::PartlyAccepted
                }
                Some(ContributionResponse::Rejected) => pb::ContributionResponse::Rejected,
            } as i32,
            submitted_at: Some(to_pb_ts(v.submitted_at)),
            response_reason: v.answer.as_ref().map(|a| a.0.clone()).unwrap_or_default(),
            answered_at: v.answer.map(|a| to_pb_ts(a.1)),
        }
    }
}

impl From<PlanView> for pb::Plan {
    fn from(v: PlanView) -> Self {
        let s = &v.state;
        let assessed = s
            .commitments
            .values()
            .filter(|c| c.assessment.is_some())
            .count();
        Self {
            plan_id: s.id.map(|i| i.to_string()).unwrap_or_default(),
            title: v.title.clone(),
            period_start: opt_date(s.period_start),
            period_end: opt_date(s.period_end),
            closed: s.status == domain::action_plan::PlanStatus::Closed,
            commitments: u32::try_from(s.commitments.len()).unwrap_or(u32::MAX),
            commitments_assessed: u32::try_from(assessed).unwrap_or(u32::MAX),
            milestones: v
                .milestones
                .into_iter()
                .map(|m| pb::Milestone {
                    milestone_id: m.id.to_string(),
                    commitment_id: m.commitment.to_string(),
                    title: m.title,
                    due: m.due.to_string(),
                    status: pb_implementation_status(m.status) as i32,
                    overdue: m.overdue,
                    evidence_link: m.evidence_link.unwrap_or_default(),
                    withdrawn: m.withdrawn,
                })
                .collect(),
            stream_version: v.version.0,
            council_decision: v.council_decision.clone(),
            draft: s.status == domain::action_plan::PlanStatus::Draft,
            forum: v
                .forum
                .iter()
                .map(|m| {
                    let seat = s.forum.get(&m.member_id);
                    pb::ForumMember {
                        member_id: m.member_id.to_string(),
                        side: pb_forum_side(m.side) as i32,
                        organisation: m.organisation.clone(),
                        role: m.role.clone(),
                        co_chair: s.co_chairs.get(&m.side) == Some(&m.member_id),
                        left: seat.is_some_and(|seat| seat.left),
                    }
                })
                .collect(),
            proposals: v
                .proposals
                .iter()
                .map(|p| pb::ProposalSource {
                    dialogue_id: p.dialogue_id.to_string(),
                    contribution_id: p.contribution_id.to_string(),
                })
                .collect(),
            commitment_details: v
                .commitments
                .iter()
                .map(|c| {
                    let now = s.commitments.get(&c.commitment_id);
                    let assessment = now.and_then(|state| state.assessment);
                    pb::Commitment {
                        commitment_id: c.commitment_id.to_string(),
                        title: c.title.clone(),
                        description: c.description.clone(),
                        lead_institution: c.lead_institution.clone(),
                        values: c.values.iter().map(|v| pb_ogp_value(*v) as i32).collect(),
                        start: c.start.to_string(),
                        // As amended.
                        end: now.and_then(|n| n.end).unwrap_or(c.end).to_string(),
                        withdrawn: now.is_some_and(|n| n.withdrawn),
                        sources: now
                            .map(|n| {
                                n.sources
                                    .iter()
                                    .map(|(d, c)| pb::ProposalSource {
                                        dialogue_id: d.to_string(),
                                        contribution_id: c.to_string(),
                                    })
                                    .collect()
                            })
                            .unwrap_or_default(),
                        completion: pb_implementation_status(assessment.map(|a| a.completion))
                            as i32,
                        opened_government: assessment
                            .map_or(pb::OpenedGovernment::Unspecified, |a| {
                                pb_opened_government(a.opened_government)
                            }) as i32,
                    }
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(e: NodeError) -> Vec<String> {
        match e {
            NodeError::Invalid(violations) => violations.into_iter().map(|v| v.field).collect(),
            other => panic!("not a field violation: {other:?}"),
        }
    }

    #[test]
    fn a_request_becomes_one_command_and_the_first_bad_field_is_named() {
        let request = Uuid::now_v7();
        let petition = Uuid::now_v7();
        let sign = pb::SignPetitionRequest {
            request_id: request.to_string(),
            petition_id: petition.to_string(),
            signer_subject: "diia:citizen-1".into(),
        };
        let command = NodeCommand::try_from(sign.clone()).unwrap();
        assert_eq!(command.request, request);
        let Action::Petition(id, PetitionStep::Sign { signer_subject }) = command.action else {
            panic!("not a signature: {:?}", command.action);
        };
        assert_eq!(
            (id.0, signer_subject.as_str()),
            (petition, "diia:citizen-1")
        );

        // The request id is checked first, then the fields in order.
        let bad = pb::SignPetitionRequest {
            request_id: "x".into(),
            petition_id: "y".into(),
            signer_subject: String::new(),
        };
        assert_eq!(
            fields(NodeCommand::try_from(bad).unwrap_err()),
            ["request_id"]
        );
        let bad = pb::SignPetitionRequest {
            petition_id: "y".into(),
            signer_subject: String::new(),
            ..sign.clone()
        };
        assert_eq!(
            fields(NodeCommand::try_from(bad).unwrap_err()),
            ["petition_id"]
        );
        let bad = pb::SignPetitionRequest {
            signer_subject: " ".into(),
            ..sign
        };
        assert_eq!(
            fields(NodeCommand::try_from(bad).unwrap_err()),
            ["signer_subject"]
        );
        let commitment = pb::AddCommitmentRequest {
            request_id: request.to_string(),
            plan_id: Uuid::now_v7().to_string(),
            values: vec![pb::OgpValue::CivicParticipation as i32, 99],
            start: "not a date".into(),
            ..pb::AddCommitmentRequest::default()
        };
        assert_eq!(
            fields(NodeCommand::try_from(commitment).unwrap_err()),
            ["values"]
        );
    }
}
