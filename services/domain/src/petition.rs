//! Petitions, as the Law of Ukraine "On citizens' appeals" (art. 23-1) and a hromada's statute
//! run them: filed → moderated (published with the statute's rule, or rejected) → signed →
//! threshold reached, or collection closed without it → consideration started → answered →
//! implementation updates.
//!
//! Deadlines are recorded in the events when they start (the moderation deadline in
//! [`PetitionFiled`], the answer deadline in [`ConsiderationStarted`]), computed with the
//! working calendar in force at that moment, so whether an act came on time is derivable from
//! the petition's own events: see [`answered_within_deadline`] and
//! [`moderated_within_deadline`].
//!
//! Choices the law leaves open, made here:
//! - the collection period is `collection_period_days` × 24 hours from publication;
//! - signatures keep coming after the threshold is reached, until the period ends or
//!   consideration starts, whichever is first;
//! - a late moderation or answer is accepted and recorded: lateness is a fact for
//!   projections, not a reason to refuse the act;
//! - a command dated before the petition's latest event is refused, as in every aggregate
//!   (see [`crate::Aggregate`]), so a signature before publication or an answer before
//!   consideration cannot be recorded.

use std::collections::BTreeSet;

use event_store_core::Timestamp;
use serde::{Deserialize, Serialize};

use crate::actor::Actor;
use crate::calendar::{
    CivilDate, DAY_MICROS, WorkingCalendar, check_deadline, kyiv_date, on_or_before,
};
use crate::disclosure::{Commitment, PetitionText};
use crate::error::{DomainError, Refusal};
use crate::ids::PetitionId;
use crate::pseudonym::PseudonymTag;
use crate::stream::check_not_before_last;
use crate::text::{check_line, check_paragraphs, check_range};

/// Longest petition title: the national and Kyiv e-petition sites cap titles near this.
pub const TITLE_LEN_MAX: u32 = 200;

/// Longest petition text: several pages, enough for any petition seen on the Kyiv site.
pub const PETITION_TEXT_LEN_MAX: u32 = 10_000;

/// Longest category name: categories are short labels chosen by the hromada.
pub const CATEGORY_LEN_MAX: u32 = 100;

/// Longest rejection reason: a paragraph citing the statute's grounds.
pub const REJECTION_REASON_LEN_MAX: u32 = 2_000;

/// Longest official response: a multi-page letter; keeps an answer event under ~80 KB.
pub const RESPONSE_LEN_MAX: u32 = 20_000;

/// Longest responder role, e.g. "Київський міський голова" (a role, never a person's name).
pub const RESPONDER_ROLE_LEN_MAX: u32 = 200;

/// Longest implementation update: a progress note.
pub const IMPLEMENTATION_UPDATE_LEN_MAX: u32 = 5_000;

/// Most implementation updates per petition: weekly notes for twenty years.
pub const IMPLEMENTATION_UPDATES_MAX: u32 = 1_000;

/// Working days the hromada has to moderate a filed petition (statutes commonly say two).
pub const MODERATION_WORKING_DAYS: u16 = 2;

/// The law's answer term for an e-petition, in working days (Law of Ukraine "On citizens'
/// appeals", art. 23-1). A statute may set longer (up to [`ANSWER_DEADLINE_WORKING_DAYS_MAX`]);
/// the association flags it on the hromada's page.
pub const LAW_ANSWER_WORKING_DAYS: u16 = 10;

/// The longest collection period the law sets for e-petitions, in days (three months for the
/// national ones, art. 23-1). A statute may set longer; the association flags it.
pub const LAW_COLLECTION_PERIOD_DAYS: u16 = 90;

/// Working days from reaching the threshold to the start of consideration before a petition
/// counts as late nationally: the term the national e-petition procedure gives to announce
/// that consideration has begun. Without a bound, a council that never starts consideration
/// would never be late.
pub const CONSIDERATION_START_WORKING_DAYS: u16 = 3;

/// Whether a statute's rule goes beyond the law: a longer answer term or collection period.
pub fn answer_term_beyond_law(rule: &StatuteRule) -> bool {
    rule.answer_deadline_working_days > LAW_ANSWER_WORKING_DAYS
}

/// Whether a statute's collection period is longer than the law's.
pub fn collection_period_beyond_law(rule: &StatuteRule) -> bool {
    rule.collection_period_days > LAW_COLLECTION_PERIOD_DAYS
}

/// Largest signature threshold a statute may set: above the national 25,000 by far, and below
/// Ukraine's adult population.
pub const SIGNATURE_THRESHOLD_MAX: u32 = 10_000_000;

/// Longest collection period a statute may set, in days (statutes say 30 to 90).
pub const COLLECTION_PERIOD_DAYS_MAX: u16 = 365;

/// Longest answer deadline a statute may set, in working days (the law says 10).
pub const ANSWER_DEADLINE_WORKING_DAYS_MAX: u16 = 60;

/// The statute's rule for a petition, captured in [`PetitionPublished`] so later changes to the
/// statute do not change petitions already collecting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct StatuteRule {
    /// Signatures needed for consideration, 1 to [`SIGNATURE_THRESHOLD_MAX`].
    pub signature_threshold: u32,
    /// Days of collection from publication, 1 to [`COLLECTION_PERIOD_DAYS_MAX`].
    pub collection_period_days: u16,
    /// Working days to answer from the start of consideration, 1 to
    /// [`ANSWER_DEADLINE_WORKING_DAYS_MAX`].
    pub answer_deadline_working_days: u16,
    /// The hromada's version of this rule, from 1, bumped when its statute changes.
    pub rule_version: u32,
}

impl StatuteRule {
    /// Kyiv city: 6,000 signatures in 60 days.
    pub const KYIV: Self = Self::with_law_deadline(6_000, 60);
    /// Koryukivka hromada: 100 signatures in 60 days.
    pub const KORYUKIVKA: Self = Self::with_law_deadline(100, 60);
    /// Petitions to the President, Parliament or Cabinet: 25,000 signatures in 90 days.
    pub const NATIONAL: Self = Self::with_law_deadline(25_000, 90);

    /// A first-version rule with the law's 10-working-day answer deadline.
    pub const fn with_law_deadline(signature_threshold: u32, collection_period_days: u16) -> Self {
        Self {
            signature_threshold,
            collection_period_days,
            answer_deadline_working_days: 10,
            rule_version: 1,
        }
    }

    fn check(&self) -> Result<(), DomainError> {
        let threshold = i64::from(self.signature_threshold);
        check_range(
            "signature_threshold",
            threshold,
            1,
            i64::from(SIGNATURE_THRESHOLD_MAX),
        )?;
        let period = i64::from(self.collection_period_days);
        check_range(
            "collection_period_days",
            period,
            1,
            i64::from(COLLECTION_PERIOD_DAYS_MAX),
        )?;
        let answer = i64::from(self.answer_deadline_working_days);
        let answer_max = i64::from(ANSWER_DEADLINE_WORKING_DAYS_MAX);
        check_range("answer_deadline_working_days", answer, 1, answer_max)?;
        check_range(
            "rule_version",
            i64::from(self.rule_version),
            1,
            i64::from(u32::MAX),
        )
    }
}

/// The hromada's answer to a petition.
///
/// Encoded by its variant index: append only, never reorder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum AnswerDecision {
    Supported,
    PartlySupported,
    NotSupported,
}

/// A request to change a petition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PetitionCommand {
    /// File a new petition in this (empty) stream.
    File {
        petition_id: PetitionId,
        /// The author's [`crate::pseudonym::petition_tag`] on this petition.
        author: PseudonymTag,
        /// The title and text with the salt of their commitment, which the event records
        /// instead of them.
        text: PetitionText,
        category: String,
        at: Timestamp,
        /// The calendar in force, for the moderation deadline.
        calendar: WorkingCalendar,
    },
    /// Publish after moderation, under the statute's current rule, disclosing the title and
    /// text (needed when the filing recorded a commitment, ignored when it recorded them in
    /// the clear).
    Publish {
        rule: StatuteRule,
        text: Option<PetitionText>,
        at: Timestamp,
    },
    /// Reject at moderation.
    Reject { reason: String, at: Timestamp },
    /// Sign.
    Sign {
        /// The signer's [`crate::pseudonym::petition_tag`] on this petition.
        signer: PseudonymTag,
        at: Timestamp,
    },
    /// Close a collection that ended without reaching the threshold (clock-driven: the node
    /// sends it once the period is over).
    CloseCollection { at: Timestamp },
    /// Start considering a petition that reached its threshold.
    StartConsideration {
        at: Timestamp,
        /// The calendar in force, for the answer deadline.
        calendar: WorkingCalendar,
    },
    /// Answer.
    Answer {
        decision: AnswerDecision,
        response: String,
        responder_role: String,
        at: Timestamp,
    },
    /// Report progress implementing a supported petition.
    ReportImplementation { text: String, at: Timestamp },
}

/// What happened to a petition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PetitionEvent {
    Filed(PetitionFiled),
    Published(PetitionPublished),
    Rejected(PetitionRejected),
    Signed(PetitionSigned),
    ThresholdReached(SignatureThresholdReached),
    CollectionClosed(CollectionClosedWithoutThreshold),
    ConsiderationStarted(ConsiderationStarted),
    Answered(PetitionAnswered),
    ImplementationUpdated(ImplementationUpdated),
}

/// A petition was filed and awaits moderation. Schema 2: its title and text are a
/// commitment until publication (schema 1 recorded them in the clear; read as
/// [`PetitionContent::Clear`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PetitionFiled {
    pub petition_id: PetitionId,
    pub author: PseudonymTag,
    pub content: PetitionContent,
    /// At most [`CATEGORY_LEN_MAX`] characters, one line.
    pub category: String,
    pub at: Timestamp,
    /// The last Kyiv day for moderation: [`MODERATION_WORKING_DAYS`] after filing.
    pub moderation_due: CivilDate,
}

/// A petition's title and text as its filing recorded them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum PetitionContent {
    /// In the clear, as schema 1 recorded every petition.
    Clear {
        /// At most [`TITLE_LEN_MAX`] characters, one line.
        title: String,
        /// At most [`PETITION_TEXT_LEN_MAX`] characters.
        text: String,
    },
    /// A commitment to them ([`PetitionText::commitment`]), disclosed on publication.
    Committed(Commitment),
}

/// A petition passed moderation and collects signatures under `rule`. Schema 2: with the
/// disclosure of its committed title and text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PetitionPublished {
    pub petition_id: PetitionId,
    pub rule: StatuteRule,
    pub at: Timestamp,
    /// The salt, title and text whose commitment the filing recorded; `None` when the filing
    /// recorded them in the clear.
    pub disclosure: Option<PetitionText>,
    /// Who acted for the council; `None` before it was recorded (see [`crate::actor`]).
    pub acted_by: Option<Actor>,
}

/// A petition failed moderation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PetitionRejected {
    pub petition_id: PetitionId,
    /// At most [`REJECTION_REASON_LEN_MAX`] characters.
    pub reason: String,
    pub at: Timestamp,
    /// Who acted for the council; `None` before it was recorded (see [`crate::actor`]).
    pub acted_by: Option<Actor>,
}

/// A person signed a petition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PetitionSigned {
    pub petition_id: PetitionId,
    pub signer: PseudonymTag,
    pub at: Timestamp,
}

/// The signature recorded just before this event reached the threshold. Emitted exactly once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignatureThresholdReached {
    pub petition_id: PetitionId,
    /// Signatures at that moment (equal to the threshold).
    pub signature_count: u32,
    pub at: Timestamp,
}

/// The collection period ended without reaching the threshold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CollectionClosedWithoutThreshold {
    pub petition_id: PetitionId,
    /// Signatures collected.
    pub signature_count: u32,
    pub at: Timestamp,
}

/// The hromada started considering the petition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsiderationStarted {
    pub petition_id: PetitionId,
    pub at: Timestamp,
    /// The last Kyiv day for the answer: the rule's answer deadline in working days after `at`.
    pub answer_due: CivilDate,
    /// Who acted for the council; `None` before it was recorded (see [`crate::actor`]).
    pub acted_by: Option<Actor>,
}

/// The hromada answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PetitionAnswered {
    pub petition_id: PetitionId,
    pub decision: AnswerDecision,
    /// At most [`RESPONSE_LEN_MAX`] characters.
    pub response: String,
    /// At most [`RESPONDER_ROLE_LEN_MAX`] characters, one line.
    pub responder_role: String,
    pub at: Timestamp,
    /// Who acted for the council; `None` before it was recorded (see [`crate::actor`]).
    pub acted_by: Option<Actor>,
}

/// Progress implementing a supported petition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImplementationUpdated {
    pub petition_id: PetitionId,
    /// At most [`IMPLEMENTATION_UPDATE_LEN_MAX`] characters.
    pub text: String,
    pub at: Timestamp,
    /// Who acted for the council; `None` before it was recorded (see [`crate::actor`]).
    pub acted_by: Option<Actor>,
}

/// Where a petition is in its life. Statuses only move forward (see [`PetitionStatus::rank`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum PetitionStatus {
    #[default]
    NotFiled,
    AwaitingModeration,
    Rejected,
    Collecting,
    ThresholdReached,
    CollectionFailed,
    UnderConsideration,
    Answered,
}

impl PetitionStatus {
    /// The status's step in the petition's life: every transition increases it. Rejected and
    /// Collecting share a step (both follow moderation), as do ThresholdReached and
    /// CollectionFailed (both end the collection's outcome).
    pub const fn rank(self) -> u8 {
        match self {
            Self::NotFiled => 0,
            Self::AwaitingModeration => 1,
            Self::Rejected | Self::Collecting => 2,
            Self::ThresholdReached | Self::CollectionFailed => 3,
            Self::UnderConsideration => 4,
            Self::Answered => 5,
        }
    }
}

/// What the rules know about one petition, folded from its events by [`evolve`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PetitionState {
    pub id: Option<PetitionId>,
    /// The commitment its filing recorded, if it recorded one (not the text in the clear).
    pub commitment: Option<Commitment>,
    pub status: PetitionStatus,
    pub filed_at: Option<Timestamp>,
    pub moderation_due: Option<CivilDate>,
    /// When it was published or rejected.
    pub moderated_at: Option<Timestamp>,
    pub rule: Option<StatuteRule>,
    pub published_at: Option<Timestamp>,
    /// Every distinct signer.
    pub signers: BTreeSet<PseudonymTag>,
    /// Always `signers.len()`.
    pub signature_count: u32,
    pub threshold_reached_at: Option<Timestamp>,
    pub consideration_started_at: Option<Timestamp>,
    pub answer_due: Option<CivilDate>,
    pub answer: Option<AnswerDecision>,
    pub answered_at: Option<Timestamp>,
    pub implementation_updates: u32,
    /// The time of the latest event; no command may be dated before it.
    pub last_event_at: Option<Timestamp>,
}

impl PetitionState {
    /// The end of the collection period (exclusive), once published.
    pub fn collection_closes_at(&self) -> Option<Timestamp> {
        let (published_at, rule) = (self.published_at?, self.rule?);
        let period = i64::from(rule.collection_period_days).saturating_mul(DAY_MICROS);
        Some(Timestamp(published_at.0.saturating_add(period)))
    }

    /// Whether moderation came by its deadline; `None` until moderated.
    pub fn moderated_on_time(&self) -> Option<bool> {
        Some(on_or_before(self.moderated_at?, self.moderation_due?))
    }

    /// Whether the answer came by its deadline; `None` until answered.
    pub fn answered_on_time(&self) -> Option<bool> {
        Some(on_or_before(self.answered_at?, self.answer_due?))
    }

    /// Whether, at `now`, the petition awaits moderation past its deadline.
    pub fn moderation_overdue(&self, now: Timestamp) -> bool {
        self.status == PetitionStatus::AwaitingModeration
            && self.moderation_due.is_some_and(|due| kyiv_date(now) > due)
    }

    /// Whether, at `now`, the petition awaits its answer past the deadline.
    pub fn answer_overdue(&self, now: Timestamp) -> bool {
        self.status == PetitionStatus::UnderConsideration
            && self.answer_due.is_some_and(|due| kyiv_date(now) > due)
    }
}

/// Whether a petition's answer came within its deadline, from its events alone: `None` if it
/// is not answered (or the events are not a petition's).
pub fn answered_within_deadline(events: &[PetitionEvent]) -> Option<bool> {
    events
        .iter()
        .fold(PetitionState::default(), evolve)
        .answered_on_time()
}

/// Whether a petition's moderation came within its deadline, from its events alone: `None` if
/// it is not moderated.
pub fn moderated_within_deadline(events: &[PetitionEvent]) -> Option<bool> {
    events
        .iter()
        .fold(PetitionState::default(), evolve)
        .moderated_on_time()
}

/// Decides a petition command.
pub fn decide(
    state: &PetitionState,
    command: PetitionCommand,
) -> Result<Vec<PetitionEvent>, DomainError> {
    use PetitionStatus as S;
    let refused = |rule| Err(DomainError::refused(rule));
    if let PetitionCommand::File {
        petition_id,
        author,
        text,
        category,
        at,
        calendar,
    } = command
    {
        if state.status != S::NotFiled {
            return refused(Refusal::PetitionAlreadyFiled);
        }
        check_text(&text)?;
        let event = PetitionEvent::Filed(PetitionFiled {
            petition_id,
            author,
            content: PetitionContent::Committed(text.commitment()),
            category,
            at,
            moderation_due: calendar.deadline(at, MODERATION_WORKING_DAYS),
        });
        event.check()?;
        return Ok(vec![event]);
    }
    let Some(petition_id) = state.id else {
        return Err(DomainError::not_found("petition"));
    };
    check_not_before_last(state.last_event_at, command.at())?;
    let event = match command {
        PetitionCommand::File { .. } => return refused(Refusal::PetitionAlreadyFiled),
        PetitionCommand::Publish { rule, text, at } => {
            if state.status != S::AwaitingModeration {
                return refused(Refusal::PetitionNotAwaitingModeration);
            }
            let disclosure = match (state.commitment, text) {
                (None, _) => None,
                (Some(_), None) => return refused(Refusal::PetitionTextMissing),
                (Some(commitment), Some(text)) if text.commitment() == commitment => Some(text),
                (Some(_), Some(_)) => return refused(Refusal::DisclosureMismatch),
            };
            PetitionEvent::Published(PetitionPublished {
                petition_id,
                rule,
                at,
                disclosure,
                acted_by: None,
            })
        }
        PetitionCommand::Reject { reason, at } => {
            if state.status != S::AwaitingModeration {
                return refused(Refusal::PetitionNotAwaitingModeration);
            }
            PetitionEvent::Rejected(PetitionRejected {
                petition_id,
                reason,
                at,
                acted_by: None,
            })
        }
        PetitionCommand::Sign { signer, at } => return decide_sign(state, petition_id, signer, at),
        PetitionCommand::CloseCollection { at } => {
            match state.status {
                S::Collecting => {}
                S::NotFiled | S::AwaitingModeration | S::Rejected => {
                    return refused(Refusal::PetitionNotPublished);
                }
                S::CollectionFailed => return refused(Refusal::CollectionPeriodOver),
                S::ThresholdReached | S::UnderConsideration | S::Answered => {
                    return refused(Refusal::ThresholdAlreadyReached);
                }
            }
            if state
                .collection_closes_at()
                .is_none_or(|closes_at| at < closes_at)
            {
                return refused(Refusal::CollectionPeriodNotOver);
            }
            PetitionEvent::CollectionClosed(CollectionClosedWithoutThreshold {
                petition_id,
                signature_count: state.signature_count,
                at,
            })
        }
        PetitionCommand::StartConsideration { at, calendar } => {
            match state.status {
                S::ThresholdReached => {}
                S::UnderConsideration | S::Answered => {
                    return refused(Refusal::ConsiderationAlreadyStarted);
                }
                _ => return refused(Refusal::ThresholdNotReached),
            }
            let working_days = state
                .rule
                .map_or(0, |rule| rule.answer_deadline_working_days);
            let answer_due = calendar.deadline(at, working_days);
            PetitionEvent::ConsiderationStarted(ConsiderationStarted {
                petition_id,
                at,
                answer_due,
                acted_by: None,
            })
        }
        PetitionCommand::Answer {
            decision,
            response,
            responder_role,
            at,
        } => {
            match state.status {
                S::UnderConsideration => {}
                S::Answered => return refused(Refusal::PetitionAlreadyAnswered),
                _ => return refused(Refusal::ConsiderationNotStarted),
            }
            PetitionEvent::Answered(PetitionAnswered {
                petition_id,
                decision,
                response,
                responder_role,
                at,
                acted_by: None,
            })
        }
        PetitionCommand::ReportImplementation { text, at } => {
            match state.answer {
                None => return refused(Refusal::PetitionNotAnswered),
                Some(AnswerDecision::NotSupported) => return refused(Refusal::AnswerNotSupported),
                Some(AnswerDecision::Supported | AnswerDecision::PartlySupported) => {}
            }
            if state.implementation_updates >= IMPLEMENTATION_UPDATES_MAX {
                return refused(Refusal::TooManyImplementationUpdates);
            }
            PetitionEvent::ImplementationUpdated(ImplementationUpdated {
                petition_id,
                text,
                at,
                acted_by: None,
            })
        }
    };
    event.check()?;
    Ok(vec![event])
}

fn decide_sign(
    state: &PetitionState,
    petition_id: PetitionId,
    signer: PseudonymTag,
    at: Timestamp,
) -> Result<Vec<PetitionEvent>, DomainError> {
    use PetitionStatus as S;
    let refusal = match state.status {
        S::Collecting | S::ThresholdReached => None,
        S::NotFiled | S::AwaitingModeration | S::Rejected => Some(Refusal::PetitionNotPublished),
        S::CollectionFailed => Some(Refusal::CollectionPeriodOver),
        S::UnderConsideration | S::Answered => Some(Refusal::CollectionEnded),
    };
    if let Some(rule) = refusal {
        return Err(DomainError::refused(rule));
    }
    if state
        .published_at
        .is_none_or(|published_at| at < published_at)
    {
        return Err(DomainError::refused(Refusal::PetitionNotPublished));
    }
    if state
        .collection_closes_at()
        .is_none_or(|closes_at| at >= closes_at)
    {
        return Err(DomainError::refused(Refusal::CollectionPeriodOver));
    }
    if state.signers.contains(&signer) {
        return Err(DomainError::refused(Refusal::AlreadySigned));
    }
    let Some(signature_count) = state.signature_count.checked_add(1) else {
        return Err(DomainError::refused(Refusal::SignatureCountAtMaximum));
    };
    let mut events = vec![PetitionEvent::Signed(PetitionSigned {
        petition_id,
        signer,
        at,
    })];
    let threshold = state.rule.map_or(u32::MAX, |rule| rule.signature_threshold);
    if state.status == S::Collecting && signature_count >= threshold {
        events.push(PetitionEvent::ThresholdReached(SignatureThresholdReached {
            petition_id,
            signature_count,
            at,
        }));
    }
    Ok(events)
}

/// Applies a petition event.
pub fn evolve(mut state: PetitionState, event: &PetitionEvent) -> PetitionState {
    use PetitionStatus as S;
    state.last_event_at = Some(event.at());
    match event {
        PetitionEvent::Filed(filed) => {
            state.id = Some(filed.petition_id);
            state.commitment = match filed.content {
                PetitionContent::Committed(c) => Some(c),
                PetitionContent::Clear { .. } => None,
            };
            state.status = S::AwaitingModeration;
            state.filed_at = Some(filed.at);
            state.moderation_due = Some(filed.moderation_due);
        }
        PetitionEvent::Published(published) => {
            state.status = S::Collecting;
            state.moderated_at = Some(published.at);
            state.published_at = Some(published.at);
            state.rule = Some(published.rule);
        }
        PetitionEvent::Rejected(rejected) => {
            state.status = S::Rejected;
            state.moderated_at = Some(rejected.at);
        }
        PetitionEvent::Signed(signed) => {
            if state.signers.insert(signed.signer) {
                state.signature_count = state.signature_count.saturating_add(1);
            }
        }
        PetitionEvent::ThresholdReached(reached) => {
            state.status = S::ThresholdReached;
            state.threshold_reached_at = Some(reached.at);
        }
        PetitionEvent::CollectionClosed(_) => state.status = S::CollectionFailed,
        PetitionEvent::ConsiderationStarted(started) => {
            state.status = S::UnderConsideration;
            state.consideration_started_at = Some(started.at);
            state.answer_due = Some(started.answer_due);
        }
        PetitionEvent::Answered(answered) => {
            state.status = S::Answered;
            state.answer = Some(answered.decision);
            state.answered_at = Some(answered.at);
        }
        PetitionEvent::ImplementationUpdated(_) => {
            state.implementation_updates = state.implementation_updates.saturating_add(1);
        }
    }
    state
}

/// Checks a petition's title and text against their bounds.
fn check_text(text: &PetitionText) -> Result<(), DomainError> {
    check_title_and_text(&text.title, &text.text)
}

/// Checks a petition's title and text against the bounds a filing holds them to (callers
/// check before keeping the text anywhere).
pub fn check_title_and_text(title: &str, text: &str) -> Result<(), DomainError> {
    check_line("title", title, TITLE_LEN_MAX)?;
    check_paragraphs("text", text, PETITION_TEXT_LEN_MAX)
}

impl PetitionCommand {
    /// When the command is made.
    pub fn at(&self) -> Timestamp {
        match self {
            Self::File { at, .. }
            | Self::Publish { at, .. }
            | Self::Reject { at, .. }
            | Self::Sign { at, .. }
            | Self::CloseCollection { at }
            | Self::StartConsideration { at, .. }
            | Self::Answer { at, .. }
            | Self::ReportImplementation { at, .. } => *at,
        }
    }
}

impl PetitionEvent {
    /// When it happened: the `at` of the command that decided it.
    pub fn at(&self) -> Timestamp {
        match self {
            Self::Filed(e) => e.at,
            Self::Published(e) => e.at,
            Self::Rejected(e) => e.at,
            Self::Signed(e) => e.at,
            Self::ThresholdReached(e) => e.at,
            Self::CollectionClosed(e) => e.at,
            Self::ConsiderationStarted(e) => e.at,
            Self::Answered(e) => e.at,
            Self::ImplementationUpdated(e) => e.at,
        }
    }

    /// The petition this event belongs to.
    pub fn petition_id(&self) -> PetitionId {
        match self {
            Self::Filed(e) => e.petition_id,
            Self::Published(e) => e.petition_id,
            Self::Rejected(e) => e.petition_id,
            Self::Signed(e) => e.petition_id,
            Self::ThresholdReached(e) => e.petition_id,
            Self::CollectionClosed(e) => e.petition_id,
            Self::ConsiderationStarted(e) => e.petition_id,
            Self::Answered(e) => e.petition_id,
            Self::ImplementationUpdated(e) => e.petition_id,
        }
    }

    /// Checks every bound the event is written with; run on decide and on decode.
    pub(crate) fn check(&self) -> Result<(), DomainError> {
        match self {
            Self::Filed(e) => {
                if let PetitionContent::Clear { title, text } = &e.content {
                    check_line("title", title, TITLE_LEN_MAX)?;
                    check_paragraphs("text", text, PETITION_TEXT_LEN_MAX)?;
                }
                check_line("category", &e.category, CATEGORY_LEN_MAX)?;
                check_deadline("moderation_due", e.at, e.moderation_due)
            }
            Self::Published(e) => {
                e.rule.check()?;
                e.disclosure.as_ref().map_or(Ok(()), check_text)
            }
            Self::Rejected(e) => check_paragraphs("reason", &e.reason, REJECTION_REASON_LEN_MAX),
            Self::Signed(_) | Self::ThresholdReached(_) | Self::CollectionClosed(_) => Ok(()),
            Self::ConsiderationStarted(e) => check_deadline("answer_due", e.at, e.answer_due),
            Self::Answered(e) => {
                check_paragraphs("response", &e.response, RESPONSE_LEN_MAX)?;
                check_line("responder_role", &e.responder_role, RESPONDER_ROLE_LEN_MAX)
            }
            Self::ImplementationUpdated(e) => {
                check_paragraphs("text", &e.text, IMPLEMENTATION_UPDATE_LEN_MAX)
            }
        }
    }
}
