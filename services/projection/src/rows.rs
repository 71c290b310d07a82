//! The projection's rows: one per petition, dialogue, plan, commitment, milestone,
//! participatory budget round and budget project, counters per municipality, weekly counters
//! and the histogram of days to answer a petition.
//!
//! Stores map these structs to tables one to one (a column per field, in this order), and the
//! digest encodes them with postcard field by field, so **field order, types and meaning are
//! frozen**: a change is a new digest version (see [`crate::digest`]). Times are microseconds
//! since the Unix epoch (a [`event_store_core::Timestamp`]'s value); dates are days since
//! 1970-01-01 of the Kyiv civil date, as `i32` (a date beyond the `i32` range, about 5.8
//! million years away, is stored as `i32::MIN` or `i32::MAX`). Enums are `u8` codes from
//! [`crate::codes`]. Counts are `i64`, signed, so the same struct carries deltas; they add
//! with wrapping arithmetic, which is associative, so a sum never depends on how a history
//! was split into batches, even at the (unreachable) overflow.

use event_store_core::MunicipalityCode;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::codes::{DIALOGUE_KINDS, IMPLEMENTATION_STATUSES, OPENED_GOVERNMENT_LEVELS};

/// The key of an entity row: the municipality whose log holds it, and its id. Ids are unique
/// only within a municipality's log, so the municipality is always part of the key. Orders by
/// the municipality code's text, then the id's bytes: the order of [`crate::Changes`] and of
/// the digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct EntityKey {
    pub municipality: MunicipalityCode,
    pub id: Uuid,
}

/// Hashed as integers (the id as one `u128`), not as byte slices with their lengths: the
/// working set looks a key up for every event it applies.
impl std::hash::Hash for EntityKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.municipality.hash(state);
        state.write_u128(self.id.as_u128());
    }
}

impl EntityKey {
    pub const fn new(municipality: MunicipalityCode, id: Uuid) -> Self {
        Self { municipality, id }
    }
}

impl std::fmt::Display for EntityKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.municipality, self.id)
    }
}

/// The kinds of entity rows, for errors and anomaly reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EntityKind {
    Petition,
    Dialogue,
    Plan,
    Commitment,
    Milestone,
    Round,
    BudgetProject,
}

impl std::fmt::Display for EntityKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Petition => "petition",
            Self::Dialogue => "dialogue",
            Self::Plan => "action plan",
            Self::Commitment => "commitment",
            Self::Milestone => "milestone",
            Self::Round => "budget round",
            Self::BudgetProject => "budget project",
        })
    }
}

/// A petition. Key: (`municipality`, `petition_id`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PetitionRow {
    pub municipality: MunicipalityCode,
    pub petition_id: Uuid,
    pub filed_at: i64,
    /// A [`crate::PetitionPhase`] code.
    pub phase: u8,
    pub published_at: Option<i64>,
    /// Signatures needed, from the statute's rule at publication; 0 until published.
    pub threshold: u32,
    pub signatures: u32,
    pub threshold_reached_at: Option<i64>,
    pub consideration_started_at: Option<i64>,
    /// The last Kyiv day for the answer (epoch days), set when consideration starts: the
    /// node's recorded deadline, but never later than the statute's term counted on the
    /// national clock ([`domain::calendar::national_deadline`]) from the day consideration
    /// started.
    pub answer_due: Option<i32>,
    pub answered_at: Option<i64>,
    /// An answer decision code ([`crate::codes::decision_code`]).
    pub decision: Option<u8>,
    /// Whether the answer was on time: consideration started by `start_due` and the Kyiv date
    /// of the answer on or before `answer_due`. `None` until answered.
    pub answered_on_time: Option<bool>,
    pub implementation_updates: u32,
    /// The last Kyiv day for moderation: the node's recorded deadline, never later than the
    /// statute's two working days on the national clock from the day of filing.
    pub moderation_due: i32,
    /// Whether publication or rejection came by `moderation_due`; `None` until moderated.
    pub moderated_on_time: Option<bool>,
    /// The statute's answer term in working days, from the rule at publication; 0 until
    /// published.
    pub answer_term_days: u16,
    /// The statute's collection period in days, from the rule at publication; 0 until
    /// published.
    pub collection_period_days: u16,
    /// The last Kyiv day to start consideration: [`domain::petition::CONSIDERATION_START_WORKING_DAYS`]
    /// on the national clock from the day of the signature that reached the threshold.
    pub start_due: Option<i32>,
    /// Whether consideration started by `start_due`; `None` until it starts.
    pub started_on_time: Option<bool>,
}

impl PetitionRow {
    pub fn key(&self) -> EntityKey {
        EntityKey::new(self.municipality, self.petition_id)
    }

    /// The last day of the step the council owes now: moderation while awaiting it, the start
    /// of consideration once the threshold is reached, the answer while under consideration
    /// (or, when consideration started late, the start's day: its answer can no longer be on
    /// time, so it stays overdue until answered); `None` when the council owes nothing. A
    /// petition is overdue on a Kyiv day after it.
    pub fn due(&self) -> Option<i32> {
        use crate::codes::PetitionPhase as P;
        match P::from_u8(self.phase)? {
            P::AwaitingModeration => Some(self.moderation_due),
            // Collecting with enough signatures: the threshold was reached, said or not.
            P::Collecting | P::ThresholdReached => self.start_due,
            P::UnderConsideration if self.started_on_time == Some(false) => self.start_due,
            P::UnderConsideration => self.answer_due,
            _ => None,
        }
    }
}

/// A public dialogue. Key: (`municipality`, `dialogue_id`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DialogueRow {
    pub municipality: MunicipalityCode,
    pub dialogue_id: Uuid,
    /// A dialogue kind code ([`crate::codes::dialogue_kind_code`]).
    pub kind: u8,
    pub announced_at: i64,
    pub contributions: u32,
    /// Contributions answered: always `accepted + partly_accepted + rejected`.
    pub answered: u32,
    pub accepted: u32,
    pub partly_accepted: u32,
    pub rejected: u32,
    pub closed_at: Option<i64>,
    /// The attendance count reported at closing; 0 until closed.
    pub attendance: u32,
    pub outcome_published_at: Option<i64>,
}

impl DialogueRow {
    pub fn key(&self) -> EntityKey {
        EntityKey::new(self.municipality, self.dialogue_id)
    }
}

/// An OGP-Local action plan. Key: (`municipality`, `plan_id`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanRow {
    pub municipality: MunicipalityCode,
    pub plan_id: Uuid,
    /// When the council adopted it; while a draft, when it was drafted.
    pub adopted_at: i64,
    /// First day of the plan's period (epoch days).
    pub period_start: i32,
    /// Last day of the plan's period (epoch days).
    pub period_end: i32,
    pub commitments: u32,
    pub closed_at: Option<i64>,
    /// A draft the council has not adopted yet: nothing is reported, assessed or closed on it.
    pub draft: bool,
}

impl PlanRow {
    pub fn key(&self) -> EntityKey {
        EntityKey::new(self.municipality, self.plan_id)
    }
}

/// A commitment of an action plan. Key: (`municipality`, `commitment_id`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitmentRow {
    pub municipality: MunicipalityCode,
    pub commitment_id: Uuid,
    pub plan_id: Uuid,
    pub added_at: i64,
    pub milestones: u32,
    /// The assessed completion, an implementation status code
    /// ([`crate::codes::status_code`]); `None` until assessed.
    pub completion: Option<u8>,
    /// The assessed "did it open government?" level
    /// ([`crate::codes::opened_government_code`]); `None` until assessed.
    pub opened_government: Option<u8>,
    /// When it was withdrawn from the plan, if it was: its milestones are never overdue.
    pub withdrawn_at: Option<i64>,
}

impl CommitmentRow {
    pub fn key(&self) -> EntityKey {
        EntityKey::new(self.municipality, self.commitment_id)
    }
}

/// A milestone of a commitment. Key: (`municipality`, `milestone_id`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MilestoneRow {
    pub municipality: MunicipalityCode,
    pub milestone_id: Uuid,
    pub plan_id: Uuid,
    pub commitment_id: Uuid,
    /// The due day (epoch days).
    pub due: i32,
    /// The last reported implementation status code ([`crate::codes::status_code`]); `None`:
    /// no report yet.
    pub status: Option<u8>,
    /// When a report first said complete; kept if a later report says otherwise.
    pub completed_at: Option<i64>,
    /// When it was withdrawn, if it was: never overdue after.
    pub withdrawn_at: Option<i64>,
}

impl MilestoneRow {
    pub fn key(&self) -> EntityKey {
        EntityKey::new(self.municipality, self.milestone_id)
    }
}

/// A participatory budget round. Key: (`municipality`, `round_id`). Amounts are in kopecks.
/// The national budget figures are sums over these rows: a round is one a year per hromada at
/// most, so there are few.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoundRow {
    pub municipality: MunicipalityCode,
    pub round_id: Uuid,
    pub announced_at: i64,
    pub budget_year: u16,
    /// What the winners may cost together.
    pub amount: i64,
    /// The hromada's local budget for the year, as the round states it.
    pub local_budget: i64,
    pub voting_closes: i64,
    pub projects: u32,
    pub projects_eligible: u32,
    pub ballots: u32,
    pub results_at: Option<i64>,
    pub winners: u32,
    pub projects_funded: u32,
    pub funded_total: i64,
    /// Funded projects first reported completed, and cancelled.
    pub projects_completed: u32,
    pub projects_cancelled: u32,
    pub closed_at: Option<i64>,
}

impl RoundRow {
    pub fn key(&self) -> EntityKey {
        EntityKey::new(self.municipality, self.round_id)
    }
}

/// A project submitted to a round. Key: (`municipality`, `project_id`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BudgetProjectRow {
    pub municipality: MunicipalityCode,
    pub project_id: Uuid,
    pub round_id: Uuid,
    pub submitted_at: i64,
    /// The author's estimate, then the approved cost once eligible (kopecks).
    pub cost: i64,
    /// `None` before review.
    pub eligible: Option<bool>,
    /// Kopecks given, once funded (only winners are).
    pub funded: Option<i64>,
    /// The last reported status code ([`crate::codes::project_status_code`]); `None`: no
    /// report yet.
    pub status: Option<u8>,
}

impl BudgetProjectRow {
    pub fn key(&self) -> EntityKey {
        EntityKey::new(self.municipality, self.project_id)
    }
}

/// Totals of one municipality, or a change to them. Key: the municipality (kept outside the
/// struct: rows and the digest pair it with one, `(MunicipalityCode, Counters)`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counters {
    pub petitions_filed: i64,
    pub petitions_published: i64,
    pub petitions_rejected: i64,
    pub petitions_threshold_reached: i64,
    pub petitions_collection_failed: i64,
    pub petitions_consideration_started: i64,
    pub petitions_answered: i64,
    /// Answers on time: consideration started within its bound and the answer's Kyiv date on
    /// or before the answer deadline (see [`PetitionRow::answered_on_time`]).
    pub petitions_answered_on_time: i64,
    /// Petitions published or rejected after their moderation deadline.
    pub petitions_moderated_late: i64,
    /// Petitions whose consideration started after its bound.
    pub petitions_started_late: i64,
    /// Petitions published under a rule whose answer term is longer than the law's 10
    /// working days.
    pub statute_answer_beyond_law: i64,
    /// Petitions published under a rule whose collection period is longer than the law's 90
    /// days.
    pub statute_collection_beyond_law: i64,
    pub signatures: i64,
    /// Indexed by dialogue kind code.
    pub dialogues_announced_by_kind: [i64; DIALOGUE_KINDS],
    pub dialogues_closed: i64,
    pub outcome_reports: i64,
    pub contributions: i64,
    pub contributions_answered: i64,
    pub plans_adopted: i64,
    pub plans_closed: i64,
    pub commitments: i64,
    /// Commitments assessed at least once (a re-assessment does not count again).
    pub commitments_assessed: i64,
    pub milestones: i64,
    /// Milestones by their last reported status: index 0 no report yet, then 1 + the status
    /// code. Always sums to `milestones`.
    pub milestones_by_status: [i64; IMPLEMENTATION_STATUSES + 1],
    /// Assessed commitments by their current "opened government" level code.
    pub opened_government: [i64; OPENED_GOVERNMENT_LEVELS],
    /// Events that could not be applied: they name an entity the projection has never seen,
    /// create one that exists, or do not fit the entity's state (see [`crate::Anomaly`]).
    /// Such an event changes nothing else.
    pub anomalies: i64,
}

impl Counters {
    /// Adds `other` field by field (wrapping, so sums are associative).
    pub fn add(&mut self, other: &Counters) {
        let Counters {
            petitions_filed,
            petitions_published,
            petitions_rejected,
            petitions_threshold_reached,
            petitions_collection_failed,
            petitions_consideration_started,
            petitions_answered,
            petitions_answered_on_time,
            petitions_moderated_late,
            petitions_started_late,
            statute_answer_beyond_law,
            statute_collection_beyond_law,
            signatures,
            dialogues_announced_by_kind,
            dialogues_closed,
            outcome_reports,
            contributions,
            contributions_answered,
            plans_adopted,
            plans_closed,
            commitments,
            commitments_assessed,
            milestones,
            milestones_by_status,
            opened_government,
            anomalies,
        } = other;
        add(&mut self.petitions_filed, *petitions_filed);
        add(&mut self.petitions_published, *petitions_published);
        add(&mut self.petitions_rejected, *petitions_rejected);
        add(
            &mut self.petitions_threshold_reached,
            *petitions_threshold_reached,
        );
        add(
            &mut self.petitions_collection_failed,
            *petitions_collection_failed,
        );
        add(
            &mut self.petitions_consideration_started,
            *petitions_consideration_started,
        );
        add(&mut self.petitions_answered, *petitions_answered);
        add(
            &mut self.petitions_answered_on_time,
            *petitions_answered_on_time,
        );
        add(
            &mut self.petitions_moderated_late,
            *petitions_moderated_late,
        );
        add(&mut self.petitions_started_late, *petitions_started_late);
        add(
            &mut self.statute_answer_beyond_law,
            *statute_answer_beyond_law,
        );
        add(
            &mut self.statute_collection_beyond_law,
            *statute_collection_beyond_law,
        );
        add(&mut self.signatures, *signatures);
        add_all(
            &mut self.dialogues_announced_by_kind,
            dialogues_announced_by_kind,
        );
        add(&mut self.dialogues_closed, *dialogues_closed);
        add(&mut self.outcome_reports, *outcome_reports);
        add(&mut self.contributions, *contributions);
        add(&mut self.contributions_answered, *contributions_answered);
        add(&mut self.plans_adopted, *plans_adopted);
        add(&mut self.plans_closed, *plans_closed);
        add(&mut self.commitments, *commitments);
        add(&mut self.commitments_assessed, *commitments_assessed);
        add(&mut self.milestones, *milestones);
        add_all(&mut self.milestones_by_status, milestones_by_status);
        add_all(&mut self.opened_government, opened_government);
        add(&mut self.anomalies, *anomalies);
    }

    /// Whether every count is zero: a zero delta changes nothing, and a zero row is the same
    /// state as no row.
    pub fn is_zero(&self) -> bool {
        *self == Self::default()
    }
}

/// Counts of one municipality's events in one Kyiv week, or a change to them. Key:
/// (`municipality`, `week`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WeeklyCounters {
    pub municipality: MunicipalityCode,
    /// The Monday of the Kyiv week of the event's own time (epoch days).
    pub week: i32,
    pub petitions_filed: i64,
    pub signatures: i64,
    pub petitions_threshold_reached: i64,
    pub petitions_answered: i64,
    pub dialogues_closed: i64,
    pub contributions: i64,
    /// Milestones first reported complete.
    pub milestones_completed: i64,
}

impl WeeklyCounters {
    /// A bucket with every count zero.
    pub const fn zero(municipality: MunicipalityCode, week: i32) -> Self {
        Self {
            municipality,
            week,
            petitions_filed: 0,
            signatures: 0,
            petitions_threshold_reached: 0,
            petitions_answered: 0,
            dialogues_closed: 0,
            contributions: 0,
            milestones_completed: 0,
        }
    }

    /// The row's key.
    pub const fn key(&self) -> (MunicipalityCode, i32) {
        (self.municipality, self.week)
    }

    /// Adds the counts of `other` (wrapping); its key is not looked at.
    pub fn add_counts(&mut self, other: &WeeklyCounters) {
        add(&mut self.petitions_filed, other.petitions_filed);
        add(&mut self.signatures, other.signatures);
        add(
            &mut self.petitions_threshold_reached,
            other.petitions_threshold_reached,
        );
        add(&mut self.petitions_answered, other.petitions_answered);
        add(&mut self.dialogues_closed, other.dialogues_closed);
        add(&mut self.contributions, other.contributions);
        add(&mut self.milestones_completed, other.milestones_completed);
    }

    /// Whether every count is zero.
    pub fn is_zero(&self) -> bool {
        *self == Self::zero(self.municipality, self.week)
    }
}

/// How many of a municipality's petitions were answered `days` Kyiv calendar days after
/// consideration started (0: the same day), or a change to that count. Key:
/// (`municipality`, `days`). The median days to answer is read from it; the legal deadline is
/// 10 working days, which is 14 calendar days in a week without holidays.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnswerDays {
    pub municipality: MunicipalityCode,
    pub days: i32,
    pub count: i64,
}

impl AnswerDays {
    /// The row's key.
    pub const fn key(&self) -> (MunicipalityCode, i32) {
        (self.municipality, self.days)
    }
}

fn add(total: &mut i64, delta: i64) {
    *total = total.wrapping_add(delta);
}

fn add_all<const N: usize>(totals: &mut [i64; N], deltas: &[i64; N]) {
    for (total, delta) in totals.iter_mut().zip(deltas) {
        add(total, *delta);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Counters with every field non-zero and different.
    fn every_field_set() -> Counters {
        Counters {
            petitions_filed: 1,
            petitions_published: 2,
            petitions_rejected: 3,
            petitions_threshold_reached: 4,
            petitions_collection_failed: 5,
            petitions_consideration_started: 6,
            petitions_answered: 7,
            petitions_answered_on_time: 8,
            petitions_moderated_late: 37,
            petitions_started_late: 38,
            statute_answer_beyond_law: 39,
            statute_collection_beyond_law: 40,
            signatures: 9,
            dialogues_announced_by_kind: [10, 11, 12, 13, 14, 15],
            dialogues_closed: 16,
            outcome_reports: 17,
            contributions: 18,
            contributions_answered: 19,
            plans_adopted: 20,
            plans_closed: 21,
            commitments: 22,
            commitments_assessed: 23,
            milestones: 24,
            milestones_by_status: [25, 26, 27, 28, 29, -30],
            opened_government: [31, 32, 33, 34, -35],
            anomalies: 36,
        }
    }

    #[test]
    fn counters_add_every_field_and_know_zero() {
        let one = every_field_set();
        assert!(!one.is_zero());
        assert!(Counters::default().is_zero());
        let mut sum = Counters::default();
        sum.add(&one);
        assert_eq!(sum, one);
        sum.add(&one);
        assert_eq!(sum.petitions_filed, 2);
        assert_eq!(sum.milestones_by_status[5], -60);
        // Every field of `add` is wired: adding the negation of each field leaves zero.
        let mut back = one.clone();
        back.add(&negate(&one));
        assert!(back.is_zero(), "{back:?}");
        let mut wrapped = Counters {
            signatures: i64::MAX,
            ..Counters::default()
        };
        wrapped.add(&Counters {
            signatures: 1,
            ..Counters::default()
        });
        assert_eq!(wrapped.signatures, i64::MIN, "sums wrap rather than panic");
    }

    fn negate(c: &Counters) -> Counters {
        let n = |v: i64| v.wrapping_neg();
        Counters {
            petitions_filed: n(c.petitions_filed),
            petitions_published: n(c.petitions_published),
            petitions_rejected: n(c.petitions_rejected),
            petitions_threshold_reached: n(c.petitions_threshold_reached),
            petitions_collection_failed: n(c.petitions_collection_failed),
            petitions_consideration_started: n(c.petitions_consideration_started),
            petitions_answered: n(c.petitions_answered),
            petitions_answered_on_time: n(c.petitions_answered_on_time),
            petitions_moderated_late: n(c.petitions_moderated_late),
            petitions_started_late: n(c.petitions_started_late),
            statute_answer_beyond_law: n(c.statute_answer_beyond_law),
            statute_collection_beyond_law: n(c.statute_collection_beyond_law),
            signatures: n(c.signatures),
            dialogues_announced_by_kind: c.dialogues_announced_by_kind.map(n),
            dialogues_closed: n(c.dialogues_closed),
            outcome_reports: n(c.outcome_reports),
            contributions: n(c.contributions),
            contributions_answered: n(c.contributions_answered),
            plans_adopted: n(c.plans_adopted),
            plans_closed: n(c.plans_closed),
            commitments: n(c.commitments),
            commitments_assessed: n(c.commitments_assessed),
            milestones: n(c.milestones),
            milestones_by_status: c.milestones_by_status.map(n),
            opened_government: c.opened_government.map(n),
            anomalies: n(c.anomalies),
        }
    }

    #[test]
    fn weekly_counters_add_counts_only() {
        let code = MunicipalityCode::parse("UA80000000000093317").expect("Kyiv's code");
        let mut week = WeeklyCounters::zero(code, 19_716);
        assert!(week.is_zero());
        let mut other = WeeklyCounters::zero(code, 0);
        other.signatures = 3;
        other.milestones_completed = 1;
        week.add_counts(&other);
        week.add_counts(&other);
        assert_eq!(week.week, 19_716);
        assert_eq!(week.signatures, 6);
        assert_eq!(week.milestones_completed, 2);
        assert!(!week.is_zero());
    }

    #[test]
    fn entity_keys_order_by_municipality_text_then_id() {
        let kyiv = MunicipalityCode::parse("UA80000000000093317").expect("valid");
        let vinnytsia = MunicipalityCode::parse("UA05020030000031457").expect("valid");
        let a = EntityKey::new(vinnytsia, Uuid::from_u128(u128::MAX));
        let b = EntityKey::new(kyiv, Uuid::from_u128(0));
        assert!(vinnytsia.as_str() < kyiv.as_str());
        assert!(a < b);
        let c = EntityKey::new(kyiv, Uuid::from_u128(1 << 120));
        let d = EntityKey::new(kyiv, Uuid::from_u128(2));
        assert!(d < c, "ids order by their bytes, most significant first");
    }
}
