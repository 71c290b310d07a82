//! The practice catalogue: what hromadas did, in their own words, from their verified logs:
//! published petitions with their category, decision and answer; dialogues with their kind,
//! topic and outcome report; OGP commitments with their values, lead institution and
//! assessment; participatory budget projects with what became of them (on the ballot, won,
//! funded, carried out). One entry per petition, dialogue, commitment or budget project, built
//! from **public** content only: a petition's entry becomes public when it is published (its
//! title and text are disclosed then), and one that moderation rejected never does; a budget
//! project's when the review puts it on the ballot (its text disclosed), never if found
//! ineligible.
//!
//! Like the projection it is a function of each hromada's events in log order: [`patches`]
//! turns a batch into one [`Patch`] per entry it touches, fields that the batch set and `None`
//! for those it left alone, and a store applies a patch by overwriting exactly the fields that
//! are `Some`. So any batching gives the same entries. The catalogue is content, not figures:
//! it is not part of the projection digest.

use std::collections::BTreeMap;

use domain::Event;
use domain::action_plan::{ActionPlanEvent, OgpValue};
use domain::assessment;
use domain::budget::{BudgetEvent, ProjectStatus, ReviewOutcome};
use domain::dialogue::{DialogueEvent, DialogueKind};
use domain::petition::{AnswerDecision, PetitionContent, PetitionEvent};
use event_store_core::MunicipalityCode;
use uuid::Uuid;

use crate::codes::{DECISION_NAMES, DIALOGUE_KIND_NAMES, decision_code, dialogue_kind_code};
use crate::search::index_terms;
use crate::{Outcome, Verified};

/// Characters of an entry's text kept at most (a petition's text is at most 10,000, an outcome
/// report at most 20,000; a catalogue entry shows and indexes the first part).
pub const TEXT_CHARS_MAX: usize = 4_000;

/// The participation tool an entry comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Tool {
    Petition,
    Dialogue,
    Commitment,
    /// A participatory budget project.
    BudgetProject,
}

impl Tool {
    pub const ALL: [Self; 4] = [
        Self::Petition,
        Self::Dialogue,
        Self::Commitment,
        Self::BudgetProject,
    ];

    /// Its stored code.
    pub const fn code(self) -> i16 {
        match self {
            Self::Petition => 1,
            Self::Dialogue => 2,
            Self::Commitment => 3,
            Self::BudgetProject => 4,
        }
    }

    pub fn from_code(code: i16) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.code() == code)
    }

    /// Its API name.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Petition => "petition",
            Self::Dialogue => "dialogue",
            Self::Commitment => "commitment",
            Self::BudgetProject => "budget_project",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.name() == name)
    }
}

/// An entry's key: the hromada, the tool and the petition's, dialogue's or commitment's id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EntryKey {
    pub municipality: MunicipalityCode,
    pub tool: Tool,
    pub id: Uuid,
}

/// What a batch changes in one entry: `Some` fields overwrite, `None` fields stay. Texts come
/// with their search terms ([`crate::search::index_terms`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Patch {
    /// Whether the entry is shown: a petition from publication on.
    pub public: Option<bool>,
    pub title: Option<String>,
    /// The petition's text, the dialogue's organiser, the commitment's description.
    pub body: Option<String>,
    /// The council's answer, the outcome report.
    pub outcome: Option<String>,
    /// The petition's category, the dialogue's kind.
    pub category: Option<String>,
    /// Where it stands (API names: `collecting`, `answered`, `open`, `assessed`, …).
    pub status: Option<&'static str>,
    /// The answer's decision, or the commitment's "did it open government" level.
    pub decision: Option<&'static str>,
    /// The commitment's completion at assessment.
    pub completion: Option<&'static str>,
    /// The commitment's lead institution.
    pub lead: Option<String>,
    /// The commitment's OGP values.
    pub values: Option<Vec<&'static str>>,
    /// The time of the event that created the entry (microseconds).
    pub started_at: Option<i64>,
    /// The time and sequence number of the latest event that changed it: what a receipt for
    /// the entry's current state names.
    pub updated_at: i64,
    pub seq: u64,
    pub title_terms: Option<String>,
    pub body_terms: Option<String>,
    pub outcome_terms: Option<String>,
}

impl Patch {
    /// Applies `later` on top of this patch (its `Some` fields win).
    fn merge(&mut self, later: Patch) {
        macro_rules! take {
            ($($field:ident),*) => { $( if later.$field.is_some() { self.$field = later.$field; } )* };
        }
        take!(
            public,
            title,
            body,
            outcome,
            category,
            status,
            decision,
            completion,
            lead,
            values,
            started_at,
            title_terms,
            body_terms,
            outcome_terms
        );
        self.updated_at = later.updated_at;
        self.seq = later.seq;
    }

    fn at(updated_at: i64, seq: u64) -> Self {
        Self {
            updated_at,
            seq,
            ..Self::default()
        }
    }

    fn title(mut self, title: &str) -> Self {
        let title = bounded(title);
        self.title_terms = Some(index_terms(&title));
        self.title = Some(title);
        self
    }

    fn body(mut self, body: &str) -> Self {
        let body = bounded(body);
        self.body_terms = Some(index_terms(&body));
        self.body = Some(body);
        self
    }

    fn outcome(mut self, outcome: &str) -> Self {
        let outcome = bounded(outcome);
        self.outcome_terms = Some(index_terms(&outcome));
        self.outcome = Some(outcome);
        self
    }

    fn status(mut self, status: &'static str) -> Self {
        self.status = Some(status);
        self
    }
}

fn bounded(text: &str) -> String {
    text.chars().take(TEXT_CHARS_MAX).collect()
}

/// The patches a batch of verified events makes, one per entry, in key order. `outcomes` are
/// the projection's for the same events ([`crate::Working::apply`]): an event the projection
/// refused (an anomaly: a publication after a rejection, a step out of order) changes nothing
/// here either, so a hostile log cannot show what its rules never made public.
pub fn patches(events: &[Verified], outcomes: &[Outcome]) -> BTreeMap<EntryKey, Patch> {
    merge_patches(events, outcomes, event_patches(events))
}

/// Each event's own patches, whatever the projection makes of it: the costly part of
/// [`patches`] (texts and their search terms), which does not need the projection's outcomes,
/// so a store can compute it while the projection is written.
pub fn event_patches(events: &[Verified]) -> EventPatches {
    events.iter().map(patches_of).collect()
}

/// What [`event_patches`] returns: for each event, the entries it changes and how.
pub type EventPatches = Vec<Vec<(Tool, Uuid, Patch)>>;

/// [`patches`] from [`event_patches`] of the same `events`: only the events the projection
/// applied count, merged in order into one patch per entry.
pub fn merge_patches(
    events: &[Verified],
    outcomes: &[Outcome],
    each: EventPatches,
) -> BTreeMap<EntryKey, Patch> {
    debug_assert_eq!(events.len(), outcomes.len(), "an outcome per event");
    debug_assert_eq!(events.len(), each.len(), "the events' own patches");
    let mut out: BTreeMap<EntryKey, Patch> = BTreeMap::new();
    let projected = events
        .iter()
        .zip(outcomes)
        .zip(each)
        .filter(|((_, outcome), _)| matches!(outcome, Outcome::Projected))
        .map(|((event, _), patches)| (event, patches));
    for (verified, patches) in projected {
        for (tool, id, patch) in patches {
            let key = EntryKey {
                municipality: verified.municipality,
                tool,
                id,
            };
            match out.get_mut(&key) {
                Some(existing) => existing.merge(patch),
                None => {
                    out.insert(key, patch);
                }
            }
        }
    }
    out
}

/// What one event changes in the catalogue: results change every project of their round.
fn patches_of(verified: &Verified) -> Vec<(Tool, Uuid, Patch)> {
    match &verified.event {
        Event::Budget(BudgetEvent::ResultsDeclared(declared)) => {
            let base = Patch::at(verified.event.at().0, verified.seq);
            declared
                .ranking
                .iter()
                .map(|tally| {
                    let won = declared.winners.contains(&tally.project_id);
                    let status = if won { "won" } else { "not_won" };
                    (
                        Tool::BudgetProject,
                        tally.project_id.0,
                        base.clone().status(status),
                    )
                })
                .collect()
        }
        _ => patch_of(verified).into_iter().collect(),
    }
}

/// What one event changes in one catalogue entry, if anything.
fn patch_of(verified: &Verified) -> Option<(Tool, Uuid, Patch)> {
    let at = verified.event.at().0;
    let base = Patch::at(at, verified.seq);
    match &verified.event {
        Event::Calendar(_) => None,
        Event::Budget(e) => {
            let (project, patch) = match e {
                BudgetEvent::ProjectSubmitted(submitted) => (
                    submitted.project_id,
                    Patch {
                        public: Some(false),
                        started_at: Some(at),
                        ..base
                    }
                    .status("submitted"),
                ),
                BudgetEvent::ProjectReviewed(reviewed) => match &reviewed.outcome {
                    ReviewOutcome::Eligible { disclosure, .. } => (
                        reviewed.project_id,
                        Patch {
                            public: Some(true),
                            ..base
                        }
                        .status("on_ballot")
                        .title(&disclosure.title)
                        .body(&disclosure.description),
                    ),
                    // Its text stays private: the entry is never shown.
                    ReviewOutcome::Ineligible { .. } => {
                        (reviewed.project_id, base.status("not_eligible"))
                    }
                },
                BudgetEvent::ProjectFunded(funded) => (funded.project_id, base.status("funded")),
                BudgetEvent::ProgressReported(reported) => {
                    let status = match reported.status {
                        ProjectStatus::NotStarted => "funded",
                        ProjectStatus::InProgress => "in_progress",
                        ProjectStatus::Completed => "completed",
                        ProjectStatus::Cancelled => "cancelled",
                    };
                    let patch = base.status(status);
                    let patch = if reported.note.trim().is_empty() {
                        patch
                    } else {
                        patch.outcome(&reported.note)
                    };
                    (reported.project_id, patch)
                }
                BudgetEvent::Announced(_)
                | BudgetEvent::BallotCast(_)
                | BudgetEvent::ResultsDeclared(_)
                | BudgetEvent::Closed(_) => return None,
            };
            Some((Tool::BudgetProject, project.0, patch))
        }
        Event::Petition(e) => {
            let patch = match e {
                PetitionEvent::Filed(filed) => {
                    let patch = Patch {
                        public: Some(false),
                        category: Some(bounded(&filed.category)),
                        started_at: Some(at),
                        ..base
                    }
                    .status("awaiting_moderation");
                    // Schema 1 recorded the text in the clear; it shows only once published.
                    match &filed.content {
                        PetitionContent::Clear { title, text } => patch.title(title).body(text),
                        PetitionContent::Committed(_) => patch,
                    }
                }
                PetitionEvent::Published(published) => {
                    let patch = Patch {
                        public: Some(true),
                        ..base
                    }
                    .status("collecting");
                    match &published.disclosure {
                        Some(text) => patch.title(&text.title).body(&text.text),
                        None => patch,
                    }
                }
                PetitionEvent::Rejected(_) => base.status("rejected"),
                PetitionEvent::Signed(_) | PetitionEvent::ImplementationUpdated(_) => return None,
                PetitionEvent::ThresholdReached(_) => base.status("threshold_reached"),
                PetitionEvent::CollectionClosed(_) => base.status("collection_failed"),
                PetitionEvent::ConsiderationStarted(_) => base.status("under_consideration"),
                PetitionEvent::Answered(answered) => Patch {
                    decision: Some(decision_name(answered.decision)),
                    ..base
                }
                .status("answered")
                .outcome(&answered.response),
            };
            Some((Tool::Petition, e.petition_id().0, patch))
        }
        Event::Dialogue(e) => {
            let patch = match e {
                DialogueEvent::Announced(announced) => Patch {
                    public: Some(true),
                    category: Some(dialogue_kind_name(announced.kind).to_owned()),
                    started_at: Some(at),
                    ..base
                }
                .status("open")
                .title(&announced.topic)
                .body(&announced.organiser),
                DialogueEvent::ContributionSubmitted(_)
                | DialogueEvent::ContributionAnswered(_) => return None,
                DialogueEvent::Closed(_) => base.status("closed"),
                DialogueEvent::OutcomePublished(outcome) => {
                    base.status("outcome_published").outcome(&outcome.report)
                }
            };
            Some((Tool::Dialogue, e.dialogue_id().0, patch))
        }
        Event::ActionPlan(e) => match e {
            ActionPlanEvent::CommitmentAdded(added) => {
                let patch = Patch {
                    public: Some(true),
                    lead: Some(bounded(&added.lead_institution)),
                    values: Some(added.values.iter().map(|v| ogp_value_name(*v)).collect()),
                    started_at: Some(at),
                    ..base
                }
                .status("in_progress")
                .title(&added.title)
                .body(&added.description);
                Some((Tool::Commitment, added.commitment_id.0, patch))
            }
            ActionPlanEvent::CommitmentAssessed(assessed) => {
                let patch = Patch {
                    decision: Some(assessment::opened_government_name(
                        assessed.opened_government,
                    )),
                    completion: Some(assessment::completion_name(assessed.completion)),
                    ..base
                }
                .status("assessed");
                Some((Tool::Commitment, assessed.commitment_id.0, patch))
            }
            _ => None,
        },
    }
}

fn decision_name(decision: AnswerDecision) -> &'static str {
    DECISION_NAMES[usize::from(decision_code(decision))]
}

fn dialogue_kind_name(kind: DialogueKind) -> &'static str {
    DIALOGUE_KIND_NAMES[usize::from(dialogue_kind_code(kind))]
}

/// The API names of OGP values, in their order.
pub const OGP_VALUE_NAMES: [&str; 4] = [
    "access_to_information",
    "civic_participation",
    "public_accountability",
    "technology_and_innovation",
];

/// The API name of an OGP value.
pub const fn ogp_value_name(value: OgpValue) -> &'static str {
    match value {
        OgpValue::AccessToInformation => OGP_VALUE_NAMES[0],
        OgpValue::CivicParticipation => OGP_VALUE_NAMES[1],
        OgpValue::PublicAccountability => OGP_VALUE_NAMES[2],
        OgpValue::TechnologyAndInnovation => OGP_VALUE_NAMES[3],
    }
}

/// Every status an entry can have, by tool: what a reader may filter on.
pub const STATUSES: &[&str] = &[
    "collecting",
    "threshold_reached",
    "collection_failed",
    "under_consideration",
    "answered",
    "open",
    "closed",
    "outcome_published",
    "in_progress",
    "assessed",
    "on_ballot",
    "won",
    "not_won",
    "funded",
    "completed",
    "cancelled",
];

#[cfg(test)]
mod tests {
    use super::*;
    use domain::disclosure::{PetitionText, Salt};
    use domain::petition::{
        ConsiderationStarted, PetitionAnswered, PetitionFiled, PetitionPublished, PetitionRejected,
        SignatureThresholdReached, StatuteRule,
    };
    use domain::{CivilDate, PetitionId, PseudonymTag};
    use event_store_core::Timestamp;

    fn code() -> MunicipalityCode {
        MunicipalityCode::parse("UA80000000000093317").expect("Kyiv")
    }

    fn text() -> PetitionText {
        PetitionText {
            salt: Salt([7; 32]),
            title: "Ремонт школи".into(),
            text: "Дах протікає.".into(),
        }
    }

    fn verified(seq: u64, event: impl Into<Event>) -> Verified {
        Verified {
            municipality: code(),
            seq,
            event: event.into(),
        }
    }

    fn filed(p: PetitionId, seq: u64) -> Verified {
        verified(
            seq,
            PetitionEvent::Filed(PetitionFiled {
                petition_id: p,
                author: PseudonymTag([1; 32]),
                content: PetitionContent::Committed(text().commitment()),
                category: "освіта".into(),
                at: Timestamp(seq as i64),
                moderation_due: CivilDate::new(2026, 12, 8).expect("a date"),
            }),
        )
    }

    #[test]
    fn a_publication_the_projection_refuses_shows_nothing() {
        // A hostile node's log: a schema-1 filing with its text in the clear, rejected by
        // moderation, then "published" with no disclosure. The projection refuses the
        // publication (the petition is not awaiting moderation); the catalogue must too.
        let p = PetitionId(Uuid::from_u128(3));
        let events = [
            verified(
                1,
                PetitionEvent::Filed(PetitionFiled {
                    petition_id: p,
                    author: PseudonymTag([1; 32]),
                    content: PetitionContent::Clear {
                        title: "Приватне".into(),
                        text: "Текст, який модерація відхилила.".into(),
                    },
                    category: "інше".into(),
                    at: Timestamp(1),
                    moderation_due: CivilDate::new(2026, 12, 8).expect("a date"),
                }),
            ),
            verified(
                2,
                PetitionEvent::Rejected(PetitionRejected {
                    petition_id: p,
                    reason: "образливий зміст".into(),
                    at: Timestamp(2),
                    acted_by: None,
                }),
            ),
            verified(
                3,
                PetitionEvent::Published(PetitionPublished {
                    petition_id: p,
                    rule: StatuteRule::KYIV,
                    at: Timestamp(3),
                    disclosure: None,
                    acted_by: None,
                }),
            ),
        ];
        let mut store = crate::MemoryStore::new();
        let outcomes = store.apply_batch(&events).expect("the batch fits");
        assert!(matches!(outcomes[2], crate::Outcome::Anomaly(_)));
        let entry = &patches(&events, &outcomes)[&EntryKey {
            municipality: code(),
            tool: Tool::Petition,
            id: p.0,
        }];
        assert_eq!(entry.public, Some(false), "{entry:?}");
        assert_eq!(entry.status, Some("rejected"));
    }

    #[test]
    fn a_petition_shows_from_publication_and_a_rejected_one_never() {
        let (shown, hidden) = (
            PetitionId(Uuid::from_u128(1)),
            PetitionId(Uuid::from_u128(2)),
        );
        let events = [
            filed(shown, 1),
            filed(hidden, 2),
            verified(
                3,
                PetitionEvent::Published(PetitionPublished {
                    petition_id: shown,
                    rule: StatuteRule::KYIV,
                    at: Timestamp(3),
                    disclosure: Some(text()),
                    acted_by: None,
                }),
            ),
            verified(
                4,
                PetitionEvent::Rejected(PetitionRejected {
                    petition_id: hidden,
                    reason: "поза повноваженнями".into(),
                    at: Timestamp(4),
                    acted_by: None,
                }),
            ),
            verified(
                5,
                PetitionEvent::ThresholdReached(SignatureThresholdReached {
                    petition_id: shown,
                    signature_count: 6_000,
                    at: Timestamp(5),
                }),
            ),
            verified(
                6,
                PetitionEvent::ConsiderationStarted(ConsiderationStarted {
                    petition_id: shown,
                    at: Timestamp(6),
                    answer_due: CivilDate::new(1970, 1, 15).expect("a date"),
                    acted_by: None,
                }),
            ),
            verified(
                7,
                PetitionEvent::Answered(PetitionAnswered {
                    petition_id: shown,
                    decision: AnswerDecision::Supported,
                    response: "Кошти виділено.".into(),
                    responder_role: "голова".into(),
                    at: Timestamp(7),
                    acted_by: None,
                }),
            ),
        ];
        // One batch or one event at a time: the same fields end up set.
        let outcomes = crate::MemoryStore::new()
            .apply_batch(&events)
            .expect("the batch fits");
        let whole = patches(&events, &outcomes);
        let key = |p: PetitionId| EntryKey {
            municipality: code(),
            tool: Tool::Petition,
            id: p.0,
        };
        let entry = &whole[&key(shown)];
        assert_eq!(entry.public, Some(true));
        assert_eq!(entry.title.as_deref(), Some("Ремонт школи"));
        assert_eq!(entry.title_terms.as_deref(), Some("ремонт школ"));
        assert_eq!(entry.outcome.as_deref(), Some("Кошти виділено."));
        assert_eq!(entry.decision, Some("supported"));
        assert_eq!(entry.status, Some("answered"));
        assert_eq!(entry.category.as_deref(), Some("освіта"));
        assert_eq!((entry.started_at, entry.seq), (Some(1), 7));
        let rejected = &whole[&key(hidden)];
        assert_eq!(rejected.public, Some(false));
        assert_eq!(rejected.title, None);
        assert_eq!(rejected.status, Some("rejected"));

        let mut merged: Option<Patch> = None;
        for event in &events {
            let projected = [Outcome::Projected];
            if let Some(patch) =
                patches(std::slice::from_ref(event), &projected).remove(&key(shown))
            {
                match merged.as_mut() {
                    Some(m) => m.merge(patch),
                    None => merged = Some(patch),
                }
            }
        }
        assert_eq!(merged.as_ref(), Some(entry));
    }
}
