//! Plain values for the projection's tests: municipalities, ids, Kyiv times, one constructor
//! per domain event, and a log that numbers events per municipality.

use std::collections::BTreeMap;

use domain::action_plan::{
    ActionPlanEvent, CommitmentAdded, CommitmentAssessed, ImplementationStatus, MilestoneAdded,
    OgpValue, OpenedGovernment, PlanAdopted, PlanClosed, ProgressReported,
};
use domain::calendar::{
    CalendarEvent, KYIV_STANDARD_OFFSET_SECS, NonWorkingDatesSet, kyiv_offset_secs,
};
use domain::dialogue::{
    ContributionAnswered, ContributionResponse, ContributionSubmitted, DialogueAnnounced,
    DialogueClosed, DialogueEvent, DialogueKind, OutcomeReportPublished,
};
use domain::petition::{
    AnswerDecision, CollectionClosedWithoutThreshold, ConsiderationStarted, ImplementationUpdated,
    PetitionAnswered, PetitionEvent, PetitionFiled, PetitionPublished, PetitionRejected,
    PetitionSigned, SignatureThresholdReached, StatuteRule,
};
use domain::{
    CivilDate, CommitmentId, ContributionId, DialogueId, Event, MilestoneId, PetitionId, PlanId,
    PseudonymTag,
};
use event_store_core::{MunicipalityCode, Timestamp};
use projection::{EntityKey, Verified};
use uuid::Uuid;

pub fn kyiv_city() -> MunicipalityCode {
    MunicipalityCode::parse("UA80000000000093317").expect("Kyiv's code is valid")
}

pub fn vinnytsia() -> MunicipalityCode {
    MunicipalityCode::parse("UA05020030000031457").expect("Vinnytsia's code is valid")
}

pub fn date(text: &str) -> CivilDate {
    text.parse().expect("test dates are valid")
}

/// Epoch days of a date, as rows store them.
pub fn day(text: &str) -> i32 {
    i32::try_from(date(text).epoch_days()).expect("test dates fit i32")
}

/// Epoch days of a Monday, as weekly rows store them; refuses another weekday.
pub fn monday(text: &str) -> i32 {
    assert_eq!(
        date(text).weekday(),
        domain::calendar::Weekday::Monday,
        "{text} is not a Monday"
    );
    day(text)
}

/// The instant of Kyiv local `day` at `hour:minute` (not for the skipped or repeated hour).
pub fn kyiv(day: &str, hour: i64, minute: i64) -> Timestamp {
    let local = date(day).epoch_days() * 86_400 + hour * 3_600 + minute * 60;
    let standard = Timestamp::from_secs(local - KYIV_STANDARD_OFFSET_SECS);
    Timestamp::from_secs(local - kyiv_offset_secs(standard))
}

fn id(group: u128, n: u8) -> Uuid {
    Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0000 + (group << 16) + u128::from(n))
}

pub fn pid(n: u8) -> PetitionId {
    PetitionId(id(1, n))
}

pub fn did(n: u8) -> DialogueId {
    DialogueId(id(2, n))
}

pub fn plan(n: u8) -> PlanId {
    PlanId(id(3, n))
}

pub fn commitment(n: u8) -> CommitmentId {
    CommitmentId(id(4, n))
}

pub fn milestone(n: u8) -> MilestoneId {
    MilestoneId(id(5, n))
}

pub fn contribution(n: u8) -> ContributionId {
    ContributionId(id(6, n))
}

pub fn tag(n: u8) -> PseudonymTag {
    PseudonymTag([n; 32])
}

pub fn key(municipality: MunicipalityCode, id: Uuid) -> EntityKey {
    EntityKey::new(municipality, id)
}

// One constructor per event type, with fixed text.

pub fn calendar_set(at: Timestamp) -> Event {
    CalendarEvent::NonWorkingDatesSet(NonWorkingDatesSet {
        dates: vec![date("2024-08-24")],
        at,
    })
    .into()
}

/// The title and text every sample petition commits to.
pub fn petition_text() -> domain::disclosure::PetitionText {
    domain::disclosure::PetitionText {
        salt: domain::disclosure::Salt([1; 32]),
        title: "Сквер".into(),
        text: "Зберегти сквер.".into(),
    }
}

pub fn filed(p: PetitionId, at: Timestamp) -> Event {
    PetitionEvent::Filed(PetitionFiled {
        petition_id: p,
        author: tag(1),
        content: domain::petition::PetitionContent::Committed(petition_text().commitment()),
        category: "довкілля".into(),
        at,
        moderation_due: domain::kyiv_date(at).add_days(3),
    })
    .into()
}

pub fn published(p: PetitionId, threshold: u32, at: Timestamp) -> Event {
    PetitionEvent::Published(PetitionPublished {
        petition_id: p,
        rule: StatuteRule::with_law_deadline(threshold, 30),
        at,
        disclosure: Some(petition_text()),
        acted_by: None,
    })
    .into()
}

pub fn rejected(p: PetitionId, at: Timestamp) -> Event {
    PetitionEvent::Rejected(PetitionRejected {
        petition_id: p,
        reason: "Дублікат".into(),
        at,
        acted_by: None,
    })
    .into()
}

pub fn signed(p: PetitionId, signer: u8, at: Timestamp) -> Event {
    PetitionEvent::Signed(PetitionSigned {
        petition_id: p,
        signer: tag(signer),
        at,
    })
    .into()
}

pub fn threshold_reached(p: PetitionId, count: u32, at: Timestamp) -> Event {
    PetitionEvent::ThresholdReached(SignatureThresholdReached {
        petition_id: p,
        signature_count: count,
        at,
    })
    .into()
}

pub fn collection_closed(p: PetitionId, count: u32, at: Timestamp) -> Event {
    PetitionEvent::CollectionClosed(CollectionClosedWithoutThreshold {
        petition_id: p,
        signature_count: count,
        at,
    })
    .into()
}

pub fn consideration_started(p: PetitionId, at: Timestamp, answer_due: &str) -> Event {
    consideration_started_on(p, at, date(answer_due))
}

pub fn consideration_started_on(p: PetitionId, at: Timestamp, answer_due: CivilDate) -> Event {
    PetitionEvent::ConsiderationStarted(ConsiderationStarted {
        petition_id: p,
        at,
        answer_due,
        acted_by: None,
    })
    .into()
}

pub fn answered(p: PetitionId, decision: AnswerDecision, at: Timestamp) -> Event {
    PetitionEvent::Answered(PetitionAnswered {
        petition_id: p,
        decision,
        response: "Відповідь.".into(),
        responder_role: "Міський голова".into(),
        at,
        acted_by: None,
    })
    .into()
}

pub fn implementation_updated(p: PetitionId, at: Timestamp) -> Event {
    PetitionEvent::ImplementationUpdated(ImplementationUpdated {
        petition_id: p,
        text: "Роботи тривають.".into(),
        at,
        acted_by: None,
    })
    .into()
}

pub fn announced(d: DialogueId, kind: DialogueKind, at: Timestamp) -> Event {
    DialogueEvent::Announced(DialogueAnnounced {
        dialogue_id: d,
        kind,
        topic: "Бюджет участі".into(),
        organiser: "Виконавчий комітет".into(),
        opens_at: at,
        closes_at: Timestamp(at.0 + 14 * 86_400 * 1_000_000),
        at,
        acted_by: None,
    })
    .into()
}

pub fn contributed(d: DialogueId, c: u8, at: Timestamp) -> Event {
    DialogueEvent::ContributionSubmitted(ContributionSubmitted {
        dialogue_id: d,
        contribution_id: contribution(c),
        author: tag(c),
        content: domain::dialogue::ContributionContent::Committed(
            contribution_text(c).commitment(),
        ),
        at,
    })
    .into()
}

/// Contribution `c`'s text, with the salt of its commitment.
pub fn contribution_text(c: u8) -> domain::disclosure::ContributionText {
    domain::disclosure::ContributionText {
        salt: domain::disclosure::Salt([c; 32]),
        text: "Більше лавок.".into(),
    }
}

pub fn contribution_answered(
    d: DialogueId,
    c: u8,
    response: ContributionResponse,
    at: Timestamp,
) -> Event {
    DialogueEvent::ContributionAnswered(ContributionAnswered {
        dialogue_id: d,
        contribution_id: contribution(c),
        response,
        reason: "Розглянуто.".into(),
        at,
        disclosure: (response != ContributionResponse::Rejected).then(|| contribution_text(c)),
        acted_by: None,
    })
    .into()
}

pub fn dialogue_closed(d: DialogueId, attendance: u32, at: Timestamp) -> Event {
    DialogueEvent::Closed(DialogueClosed {
        dialogue_id: d,
        attendance_count: attendance,
        participating_organisations: vec!["ГО «Зелене місто»".into()],
        at,
        acted_by: None,
    })
    .into()
}

pub fn outcome_published(d: DialogueId, at: Timestamp) -> Event {
    DialogueEvent::OutcomePublished(OutcomeReportPublished {
        dialogue_id: d,
        report: "Звіт.".into(),
        council_decision_ref: Some("№ 45/1234".into()),
        at,
        acted_by: None,
    })
    .into()
}

pub fn adopted(p: PlanId, start: &str, end: &str, at: Timestamp) -> Event {
    ActionPlanEvent::Adopted(PlanAdopted {
        plan_id: p,
        title: "План дій".into(),
        period_start: date(start),
        period_end: date(end),
        council_decision: "№ 12/345".into(),
        at,
        acted_by: None,
    })
    .into()
}

pub fn commitment_added(p: PlanId, c: CommitmentId, at: Timestamp) -> Event {
    ActionPlanEvent::CommitmentAdded(CommitmentAdded {
        plan_id: p,
        commitment_id: c,
        title: "Відкритий бюджет".into(),
        description: "Публікувати бюджет.".into(),
        lead_institution: "Фінансове управління".into(),
        values: vec![OgpValue::AccessToInformation],
        start: date("2024-04-01"),
        end: date("2025-12-31"),
        at,
        acted_by: None,
    })
    .into()
}

pub fn milestone_added(
    p: PlanId,
    c: CommitmentId,
    m: MilestoneId,
    due: &str,
    at: Timestamp,
) -> Event {
    ActionPlanEvent::MilestoneAdded(MilestoneAdded {
        plan_id: p,
        commitment_id: c,
        milestone_id: m,
        title: "Портал запущено".into(),
        due: date(due),
        at,
        acted_by: None,
    })
    .into()
}

pub fn progress(
    p: PlanId,
    c: CommitmentId,
    m: MilestoneId,
    status: ImplementationStatus,
    at: Timestamp,
) -> Event {
    let evidence_link = status
        .needs_evidence()
        .then(|| "https://example.gov.ua/x".to_string());
    ActionPlanEvent::ProgressReported(ProgressReported {
        plan_id: p,
        commitment_id: c,
        milestone_id: m,
        status,
        evidence_link,
        at,
        acted_by: None,
    })
    .into()
}

pub fn assessed(
    p: PlanId,
    c: CommitmentId,
    completion: ImplementationStatus,
    opened_government: OpenedGovernment,
    at: Timestamp,
) -> Event {
    ActionPlanEvent::CommitmentAssessed(CommitmentAssessed {
        plan_id: p,
        commitment_id: c,
        completion,
        opened_government,
        at,
        acted_by: None,
    })
    .into()
}

pub fn plan_closed(p: PlanId, at: Timestamp) -> Event {
    ActionPlanEvent::Closed(PlanClosed {
        plan_id: p,
        at,
        acted_by: None,
    })
    .into()
}

/// Verified events of several municipalities, each numbered 1, 2, 3… in its own log.
#[derive(Debug, Default)]
pub struct Log {
    pub events: Vec<Verified>,
    next: BTreeMap<MunicipalityCode, u64>,
}

impl Log {
    pub fn push(&mut self, municipality: MunicipalityCode, event: Event) {
        let seq = self.next.entry(municipality).or_insert(0);
        *seq += 1;
        self.events.push(Verified {
            municipality,
            seq: *seq,
            event,
        });
    }

    /// The events pushed for `municipality`.
    pub fn len_of(&self, municipality: MunicipalityCode) -> u64 {
        self.next.get(&municipality).copied().unwrap_or(0)
    }
}
