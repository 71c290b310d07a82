//! Applying a batch of verified events to the projection, touching only the rows the batch
//! reads, so a store with millions of rows loads a handful per batch.
//!
//! A store runs each batch in four steps, inside the one transaction that also saves its
//! positions:
//! 1. [`touched`] lists the keys of the entity rows the batch reads;
//! 2. the store loads the rows that exist for those keys into [`Working::new`] with
//!    [`Working::insert_petition`] and its siblings (a key with no row is simply not
//!    inserted: the entity does not exist yet);
//! 3. [`Working::apply`] each event, in log order;
//! 4. [`Working::finish`] gives the [`Changes`]: the new and changed rows to upsert, and the
//!    deltas to add to the counters, the weekly buckets and the histogram of days to answer.
//!
//! The rows carry every fact the rules below read, and the counters are only ever added to, so
//! one batch or many over the same events give the same rows and the same sums.
//!
//! A replay from each log's first event needs no store: [`Working::open`] admits each key when
//! the rules first look it up, and keeps every row it made. [`Working::rules_only`] is the same
//! without the counts: each event's outcome and nothing else (the auditor's rules check).
//!
//! # Rules
//!
//! An event applies if the entity it names exists (or, for an event that creates one, does
//! not), belongs to the parent the event names, and is in a state where the domain allows the
//! event (as far as the rows can tell: the domain's own checks already ran at the node). An
//! event that does not apply is an [`Anomaly`]: it adds one to
//! [`Counters::anomalies`](crate::Counters::anomalies) of its municipality and changes nothing
//! else, so a row is never half made and no count is doubled. Events of the calendar change
//! nothing. "Weekly" means the bucket of the Monday of the Kyiv week of the event's own time.
//!
//! | event | applies when | row | counters (+1 unless said) | weekly |
//! | --- | --- | --- | --- | --- |
//! | petition filed | no such petition | created, phase awaiting moderation, `moderation_due` (bounded) | `petitions_filed` | `petitions_filed` |
//! | published | awaiting moderation | phase collecting, `published_at`, `threshold`, `answer_term_days`, `collection_period_days` from the rule, `moderated_on_time` | `petitions_published`; `petitions_moderated_late` if late; `statute_answer_beyond_law`, `statute_collection_beyond_law` if the rule goes beyond the law | |
//! | rejected | awaiting moderation | phase rejected, `moderated_on_time` | `petitions_rejected`; `petitions_moderated_late` if late | |
//! | signed | collecting or threshold reached | `signatures` +1; `start_due` when it reaches the threshold | `signatures` | `signatures` |
//! | threshold reached | collecting | phase threshold reached, `threshold_reached_at`, `start_due` (if not set) | `petitions_threshold_reached` | `petitions_threshold_reached` |
//! | collection closed | collecting, below the threshold | phase collection failed | `petitions_collection_failed` | |
//! | consideration started | threshold reached | phase under consideration, `consideration_started_at`, `answer_due` (bounded), `started_on_time` | `petitions_consideration_started`; `petitions_started_late` if late | |
//! | answered | under consideration | phase answered, `answered_at`, `decision`, `answered_on_time` | `petitions_answered`, `petitions_answered_on_time` if on time; answer days +1 | `petitions_answered` |
//! | implementation updated | answered, supported or partly | `implementation_updates` +1 | | |
//! | dialogue announced | no such dialogue | created | `dialogues_announced_by_kind[kind]` | |
//! | contribution submitted | not closed | `contributions` +1 | `contributions` | `contributions` |
//! | contribution answered | no outcome yet, fewer answered than submitted | `answered` and the response's column +1 | `contributions_answered` | |
//! | dialogue closed | not closed | `closed_at`, `attendance` | `dialogues_closed` | `dialogues_closed` |
//! | outcome published | closed, no outcome yet | `outcome_published_at` | `outcome_reports` | |
//! | plan adopted | no such plan | created | `plans_adopted` | |
//! | commitment added | plan exists, not closed; no such commitment | commitment created, plan `commitments` +1 | `commitments` | |
//! | milestone added | commitment of that plan exists, neither assessed nor withdrawn; no such milestone | milestone created (no report), commitment `milestones` +1 | `milestones`, `milestones_by_status[0]` | |
//! | progress reported | milestone of that plan and commitment exists | `status`; `completed_at` the first time it is complete | `milestones_by_status`: old slot −1, new slot +1 | `milestones_completed` the first time complete |
//! | commitment assessed | commitment of that plan exists | `completion`, `opened_government` | first time: `commitments_assessed`, `opened_government[level]`; again: the level moves | |
//! | plan closed | plan exists, not closed | `closed_at` | `plans_closed` | |
//! | proposals taken | — | no effect (a link the node's plan shows) | | |
//! | commitment amended | commitment of that plan exists, neither assessed nor withdrawn | (its end is history; no row field) | | |
//! | commitment withdrawn | as amended | `withdrawn_at` (its milestones are never overdue) | | |
//! | milestone amended | milestone of that plan and commitment exists, neither it nor its commitment withdrawn, commitment not assessed, not reported complete | `due` the new date | | |
//! | milestone withdrawn | as amended, complete or not | `withdrawn_at` (never overdue) | | |
//! | round announced | no such round | created with its year, amount, local budget, close of voting | | |
//! | project submitted | round exists, no results yet, fewer than 500 projects; no such project | project created, round `projects` +1 | | |
//! | project reviewed | project of that round exists, not reviewed; round has no results | `eligible`, `cost` the approved cost; round `projects_eligible` +1 if eligible | | |
//! | ballot cast | round exists, no results yet | round `ballots` +1 | | |
//! | results declared | round exists, no results yet | `results_at`, `winners` | | |
//! | project funded | round has results, not closed; project of that round eligible, not funded, amount within its approved cost and what is left of the round's amount | `funded`; round `projects_funded` +1, `funded_total` + amount | | |
//! | budget progress reported | round not closed; project of that round funded, last status not final | `status`; round `projects_completed` or `projects_cancelled` +1 when it becomes final | | |
//! | round closed | round has results, not closed | `closed_at` | | |
//!
//! Answer days are the Kyiv calendar days from the day consideration started to the day of the
//! answer (never below 0).
//!
//! # The law's clock
//!
//! Deadlines follow the law and a node cannot stretch them. Every term is counted on the
//! national clock ([`domain::calendar::national_deadline`]: Monday to Friday, no hromada's own
//! days off) and a deadline a node records counts only up to it: moderation within two working
//! days of filing; the start of consideration within
//! [`CONSIDERATION_START_WORKING_DAYS`] of the signature that reached the threshold (whether or
//! not the node records that it did; closing such a collection as failed is refused); the answer within the
//! statute's term of the start. An answer is on time only when consideration started in time
//! and the answer's Kyiv date is on or before `answer_due`, so waiting to start consideration
//! never makes a late answer look timely; a petition still waiting past [`PetitionRow::due`]
//! is counted as overdue by the read side. A statute's answer term above the law's 10 working
//! days, or a collection period above its 90 days, is counted, not corrected: the hromada's
//! page flags it. A re-assessment of a commitment is refused by today's domain; the projection moves
//! the level's count rather than report it, so a later correction event would still project
//! right.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use domain::Event;
use domain::action_plan::{ActionPlanEvent, ImplementationStatus};
use domain::budget::{BudgetEvent, ProjectStatus, ReviewOutcome};
use domain::calendar::{monday_on_or_before, national_deadline};
use domain::dialogue::{ContributionResponse, DialogueEvent};
use domain::petition::{
    AnswerDecision, CONSIDERATION_START_WORKING_DAYS, MODERATION_WORKING_DAYS, PetitionEvent,
    answer_term_beyond_law, collection_period_beyond_law,
};
use domain::{CivilDate, EventType, kyiv_date, kyiv_epoch_day};
use event_store_core::{MunicipalityCode, Timestamp};
use uuid::Uuid;

use crate::codes::{
    PetitionPhase, decision_code, dialogue_kind_code, milestone_status_slot,
    opened_government_code, project_status_code, status_code,
};
use crate::rows::{
    AnswerDays, BudgetProjectRow, CommitmentRow, Counters, DialogueRow, EntityKey, EntityKind,
    MilestoneRow, PetitionRow, PlanRow, RoundRow, WeeklyCounters,
};

/// An event that passed the association's verification (its municipality's next sequence
/// number, its bytes the next leaf, covered by a verified checkpoint), decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub municipality: MunicipalityCode,
    /// Its sequence number in the municipality's log.
    pub seq: u64,
    pub event: Event,
}

/// The entity keys a batch reads, per table, each ascending and without duplicates: the rows a
/// store loads before applying the batch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Touched {
    pub petitions: Vec<EntityKey>,
    pub dialogues: Vec<EntityKey>,
    pub plans: Vec<EntityKey>,
    pub commitments: Vec<EntityKey>,
    pub milestones: Vec<EntityKey>,
    pub rounds: Vec<EntityKey>,
    pub budget_projects: Vec<EntityKey>,
}

impl Touched {
    /// Whether the batch reads no entity row (e.g. only calendar events).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many keys there are in all tables.
    pub fn len(&self) -> usize {
        self.petitions.len()
            + self.dialogues.len()
            + self.plans.len()
            + self.commitments.len()
            + self.milestones.len()
            + self.rounds.len()
            + self.budget_projects.len()
    }
}

/// The keys the events read, for the store to load.
pub fn touched(events: &[Verified]) -> Touched {
    let mut sets: [BTreeSet<EntityKey>; 7] = Default::default();
    for verified in events {
        for (kind, key) in reads(verified.municipality, &verified.event)
            .into_iter()
            .flatten()
        {
            sets[table_index(kind)].insert(key);
        }
    }
    let [
        petitions,
        dialogues,
        plans,
        commitments,
        milestones,
        rounds,
        budget_projects,
    ] = sets.map(|set| set.into_iter().collect());
    Touched {
        petitions,
        dialogues,
        plans,
        commitments,
        milestones,
        rounds,
        budget_projects,
    }
}

/// The entity rows an event reads: at most two (a parent it updates and a child it creates).
fn reads(municipality: MunicipalityCode, event: &Event) -> [Option<(EntityKind, EntityKey)>; 2] {
    let key = |kind, id: Uuid| Some((kind, EntityKey::new(municipality, id)));
    match event {
        Event::Calendar(_) => [None, None],
        Event::Budget(e) => {
            let round = key(EntityKind::Round, e.round_id().0);
            let project = match e {
                BudgetEvent::ProjectSubmitted(e) => Some(e.project_id),
                BudgetEvent::ProjectReviewed(e) => Some(e.project_id),
                BudgetEvent::ProjectFunded(e) => Some(e.project_id),
                BudgetEvent::ProgressReported(e) => Some(e.project_id),
                BudgetEvent::Announced(_)
                | BudgetEvent::BallotCast(_)
                | BudgetEvent::ResultsDeclared(_)
                | BudgetEvent::Closed(_) => None,
            };
            [
                round,
                project.and_then(|p| key(EntityKind::BudgetProject, p.0)),
            ]
        }
        Event::Petition(e) => [key(EntityKind::Petition, e.petition_id().0), None],
        Event::Dialogue(e) => [key(EntityKind::Dialogue, e.dialogue_id().0), None],
        Event::ActionPlan(e) => match e {
            ActionPlanEvent::Adopted(a) => [key(EntityKind::Plan, a.plan_id.0), None],
            ActionPlanEvent::Drafted(d) => [key(EntityKind::Plan, d.plan_id.0), None],
            ActionPlanEvent::DraftAdopted(a) => [key(EntityKind::Plan, a.plan_id.0), None],
            ActionPlanEvent::CommitmentAdded(a) => [
                key(EntityKind::Plan, a.plan_id.0),
                key(EntityKind::Commitment, a.commitment_id.0),
            ],
            ActionPlanEvent::MilestoneAdded(a) => [
                key(EntityKind::Commitment, a.commitment_id.0),
                key(EntityKind::Milestone, a.milestone_id.0),
            ],
            // The plan too: a draft takes no reports or assessments.
            ActionPlanEvent::ProgressReported(r) => [
                key(EntityKind::Milestone, r.milestone_id.0),
                key(EntityKind::Plan, r.plan_id.0),
            ],
            ActionPlanEvent::CommitmentAssessed(a) => [
                key(EntityKind::Commitment, a.commitment_id.0),
                key(EntityKind::Plan, a.plan_id.0),
            ],
            ActionPlanEvent::Closed(c) => [key(EntityKind::Plan, c.plan_id.0), None],
            ActionPlanEvent::CommitmentAmended(a) => {
                [key(EntityKind::Commitment, a.commitment_id.0), None]
            }
            ActionPlanEvent::CommitmentWithdrawn(w) => {
                [key(EntityKind::Commitment, w.commitment_id.0), None]
            }
            ActionPlanEvent::MilestoneAmended(a) => [
                key(EntityKind::Commitment, a.commitment_id.0),
                key(EntityKind::Milestone, a.milestone_id.0),
            ],
            ActionPlanEvent::MilestoneWithdrawn(w) => [
                key(EntityKind::Commitment, w.commitment_id.0),
                key(EntityKind::Milestone, w.milestone_id.0),
            ],
            // A link to the proposals a commitment takes, the local forum's seats and
            // co-chairs: no row or figure shows them (the node's plan view does).
            ActionPlanEvent::ProposalsTaken(_)
            | ActionPlanEvent::ForumMemberJoined(_)
            | ActionPlanEvent::ForumMemberLeft(_)
            | ActionPlanEvent::CoChairNamed(_) => [None, None],
        },
    }
}

const fn table_index(kind: EntityKind) -> usize {
    match kind {
        EntityKind::Petition => 0,
        EntityKind::Dialogue => 1,
        EntityKind::Plan => 2,
        EntityKind::Commitment => 3,
        EntityKind::Milestone => 4,
        EntityKind::Round => 5,
        EntityKind::BudgetProject => 6,
    }
}

/// What applying one event did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The event changed rows and counters.
    Projected,
    /// The event is of a kind projections do not show (the calendar).
    NoEffect,
    /// The event could not be applied; it was counted in
    /// [`Counters::anomalies`](crate::Counters::anomalies) and changed nothing else.
    Anomaly(Anomaly),
}

/// Why an event could not be applied. A verified log that followed the domain's rules has
/// none; each one is worth a line in the association's report on the municipality.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Anomaly {
    #[error("the event names a {0} the projection has never seen")]
    Unknown(EntityKind),
    #[error("the event creates a {0} that already exists")]
    AlreadyExists(EntityKind),
    #[error("the event names a {0} of another parent than the one it belongs to")]
    OtherParent(EntityKind),
    #[error("the {kind} is not in a state that allows {}", .event.name())]
    NotAllowed { kind: EntityKind, event: EventType },
    #[error("a count of the {0} would overflow")]
    Overflow(EntityKind),
}

/// A store loaded rows that do not fit the batch. A programmer error in the store: the batch
/// must be abandoned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoadError {
    #[error("{kind} {key} is not among the keys the batch touches")]
    NotTouched { kind: EntityKind, key: EntityKey },
    #[error("{kind} {key} is loaded twice")]
    AlreadyLoaded { kind: EntityKind, key: EntityKey },
    #[error("{kind} {key} is loaded after events were applied")]
    AfterApply { kind: EntityKind, key: EntityKey },
}

/// An event that does not fit the batch the working set was made for. A programmer error in
/// the store: the batch must be abandoned. The event changed nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApplyError {
    #[error(
        "event {seq} of {municipality} reads {kind} {id}, which is not among the keys the batch touches"
    )]
    NotTouched {
        municipality: MunicipalityCode,
        seq: u64,
        kind: EntityKind,
        id: Uuid,
    },
    #[error("event {seq} of {municipality} does not come after event {last}, already applied")]
    SeqNotAfter {
        municipality: MunicipalityCode,
        seq: u64,
        last: u64,
    },
}

/// What a batch changed, every list ascending by key with no zero delta. Rows are full values
/// to upsert (only new or changed ones); counts are deltas to add to what the store holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Changes {
    pub petitions: Vec<PetitionRow>,
    pub dialogues: Vec<DialogueRow>,
    pub plans: Vec<PlanRow>,
    pub commitments: Vec<CommitmentRow>,
    pub milestones: Vec<MilestoneRow>,
    pub rounds: Vec<RoundRow>,
    pub budget_projects: Vec<BudgetProjectRow>,
    /// Deltas to add to each municipality's counters.
    pub counters: Vec<(MunicipalityCode, Counters)>,
    /// Deltas to add to weekly buckets (a missing bucket starts at zero).
    pub weekly: Vec<WeeklyCounters>,
    /// Deltas to add to the histogram of days to answer (a missing bucket starts at zero).
    pub answer_days: Vec<AnswerDays>,
    /// The last sequence number applied per municipality, for the store to save with the
    /// changes in one transaction (every event counts, anomalies and calendar events too).
    pub positions: Vec<(MunicipalityCode, u64)>,
}

impl Changes {
    /// Whether there is nothing to write, not even a position.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// A loaded row and its value as the batch goes on.
#[derive(Debug, Clone)]
struct Slot<R> {
    /// Boxed: most slots never hold a loaded row (an open working set's none), and an
    /// unboxed `None` takes a whole row's room.
    loaded: Option<Box<R>>,
    current: Option<R>,
}

/// Slots by key, hashed: a catch-up or an audit looks a key up for every event, and a hash
/// lookup does not walk a tree comparing municipality codes. The keys come from hostile nodes,
/// so the hasher (foldhash) is seeded per process and per map, from address-space layout
/// randomisation and the clock rather than the OS's random source: no collisions that hold
/// whatever the seed are known, but it is not a keyed PRF like std's SipHash.
/// [`Working::finish`] sorts what it returns.
#[derive(Debug, Clone)]
struct Slots<R> {
    map: HashMap<EntityKey, Slot<R>, foldhash::fast::RandomState>,
    /// A key with no slot is an entity that does not exist yet, and looking it up admits it
    /// ([`Working::open`]); otherwise only the keys of the batch have slots.
    admits: bool,
}

impl<R> Default for Slots<R> {
    fn default() -> Self {
        Self {
            map: HashMap::default(),
            admits: false,
        }
    }
}

impl<R> Slots<R> {
    /// An empty slot for each key.
    fn with_keys(keys: &[EntityKey]) -> Self {
        Self {
            map: keys.iter().map(|key| (*key, Slot::empty())).collect(),
            admits: false,
        }
    }

    /// No slots yet, any key admitted when looked up.
    fn admitting() -> Self {
        Self {
            admits: true,
            ..Self::default()
        }
    }
}

impl<R> Slot<R> {
    /// The slot of an entity that does not exist until a row is loaded or an event creates it.
    const fn empty() -> Self {
        Self {
            loaded: None,
            current: None,
        }
    }
}

/// The rows one batch reads, and what it has done so far. See the [module docs](self).
#[derive(Debug, Clone, Default)]
pub struct Working {
    petitions: Slots<PetitionRow>,
    dialogues: Slots<DialogueRow>,
    plans: Slots<PlanRow>,
    commitments: Slots<CommitmentRow>,
    milestones: Slots<MilestoneRow>,
    rounds: Slots<RoundRow>,
    budget_projects: Slots<BudgetProjectRow>,
    counters: BTreeMap<MunicipalityCode, Counters>,
    weekly: BTreeMap<(MunicipalityCode, i32), WeeklyCounters>,
    answer_days: BTreeMap<(MunicipalityCode, i32), i64>,
    positions: BTreeMap<MunicipalityCode, u64>,
    applied_any: bool,
    /// Outcomes only: no counters, weekly buckets or days to answer ([`Working::rules_only`]).
    uncounted: bool,
}

/// Puts a loaded row into its slot, checking it fits the batch.
fn load<R>(
    slots: &mut Slots<R>,
    kind: EntityKind,
    key: EntityKey,
    row: R,
    applied_any: bool,
) -> Result<(), LoadError>
where
    R: Clone,
{
    if applied_any {
        return Err(LoadError::AfterApply { kind, key });
    }
    let Some(slot) = slots.map.get_mut(&key) else {
        return Err(LoadError::NotTouched { kind, key });
    };
    if slot.loaded.is_some() {
        return Err(LoadError::AlreadyLoaded { kind, key });
    }
    slot.current = Some(row.clone());
    slot.loaded = Some(Box::new(row));
    Ok(())
}

impl Working {
    /// An empty working set for a batch that touches these keys: every key stands for an
    /// entity that does not exist until its row is inserted.
    pub fn new(touched: &Touched) -> Self {
        Self {
            petitions: Slots::with_keys(&touched.petitions),
            dialogues: Slots::with_keys(&touched.dialogues),
            plans: Slots::with_keys(&touched.plans),
            commitments: Slots::with_keys(&touched.commitments),
            milestones: Slots::with_keys(&touched.milestones),
            rounds: Slots::with_keys(&touched.rounds),
            budget_projects: Slots::with_keys(&touched.budget_projects),
            ..Self::default()
        }
    }

    /// A working set with no store behind it, for a replay from each log's first event: a key
    /// is admitted when the rules first look it up, as an entity that does not exist yet.
    /// Its [`Working::finish`] gives every row the replay made and every count, as one batch
    /// over the same events would (the tests hold it to that). Each row is held in its slot,
    /// so memory grows with the entities.
    pub fn open() -> Self {
        Self {
            petitions: Slots::admitting(),
            dialogues: Slots::admitting(),
            plans: Slots::admitting(),
            commitments: Slots::admitting(),
            milestones: Slots::admitting(),
            rounds: Slots::admitting(),
            budget_projects: Slots::admitting(),
            ..Self::default()
        }
    }

    /// [`Working::open`] that only decides each event's [`Outcome`]: it keeps the rows the
    /// rules read, but counts nothing (no counters, weekly buckets or days to answer), so its
    /// [`Working::finish`] has rows and positions with every count left out. What an auditor
    /// checks a log against; the figures are `audit recompute`'s.
    pub fn rules_only() -> Self {
        Self {
            uncounted: true,
            ..Self::open()
        }
    }

    /// Loads a stored petition, before any event is applied.
    pub fn insert_petition(&mut self, row: PetitionRow) -> Result<(), LoadError> {
        let (key, kind) = (row.key(), EntityKind::Petition);
        load(&mut self.petitions, kind, key, row, self.applied_any)
    }

    /// Loads a stored dialogue, before any event is applied.
    pub fn insert_dialogue(&mut self, row: DialogueRow) -> Result<(), LoadError> {
        let (key, kind) = (row.key(), EntityKind::Dialogue);
        load(&mut self.dialogues, kind, key, row, self.applied_any)
    }

    /// Loads a stored plan, before any event is applied.
    pub fn insert_plan(&mut self, row: PlanRow) -> Result<(), LoadError> {
        let (key, kind) = (row.key(), EntityKind::Plan);
        load(&mut self.plans, kind, key, row, self.applied_any)
    }

    /// Loads a stored commitment, before any event is applied.
    pub fn insert_commitment(&mut self, row: CommitmentRow) -> Result<(), LoadError> {
        let (key, kind) = (row.key(), EntityKind::Commitment);
        load(&mut self.commitments, kind, key, row, self.applied_any)
    }

    /// Loads a stored milestone, before any event is applied.
    pub fn insert_milestone(&mut self, row: MilestoneRow) -> Result<(), LoadError> {
        let (key, kind) = (row.key(), EntityKind::Milestone);
        load(&mut self.milestones, kind, key, row, self.applied_any)
    }

    /// Loads a stored budget round, before any event is applied.
    pub fn insert_round(&mut self, row: RoundRow) -> Result<(), LoadError> {
        let (key, kind) = (row.key(), EntityKind::Round);
        load(&mut self.rounds, kind, key, row, self.applied_any)
    }

    /// Loads a stored budget project, before any event is applied.
    pub fn insert_budget_project(&mut self, row: BudgetProjectRow) -> Result<(), LoadError> {
        let (key, kind) = (row.key(), EntityKind::BudgetProject);
        load(&mut self.budget_projects, kind, key, row, self.applied_any)
    }

    fn has_slot(&self, kind: EntityKind, key: &EntityKey) -> bool {
        match kind {
            EntityKind::Petition => self.petitions.map.contains_key(key),
            EntityKind::Dialogue => self.dialogues.map.contains_key(key),
            EntityKind::Plan => self.plans.map.contains_key(key),
            EntityKind::Commitment => self.commitments.map.contains_key(key),
            EntityKind::Milestone => self.milestones.map.contains_key(key),
            EntityKind::Round => self.rounds.map.contains_key(key),
            EntityKind::BudgetProject => self.budget_projects.map.contains_key(key),
        }
    }

    /// Applies the next event of the batch. Events of one municipality must come in ascending
    /// sequence order; an event that reads a key outside the batch's [`Touched`] is refused
    /// (unless the working set is [`Working::open`], which admits it).
    /// Both errors leave the working set as it was.
    pub fn apply(&mut self, verified: &Verified) -> Result<Outcome, ApplyError> {
        let municipality = verified.municipality;
        let seq = verified.seq;
        if let Some(&last) = self.positions.get(&municipality)
            && seq <= last
        {
            return Err(ApplyError::SeqNotAfter {
                municipality,
                seq,
                last,
            });
        }
        // An open working set admits each key as the rules look it up: nothing to check.
        let open = self.petitions.admits;
        let reads = (!open).then(|| reads(municipality, &verified.event));
        for (kind, key) in reads.into_iter().flatten().flatten() {
            if !self.has_slot(kind, &key) {
                return Err(ApplyError::NotTouched {
                    municipality,
                    seq,
                    kind,
                    id: key.id,
                });
            }
        }
        self.positions.insert(municipality, seq);
        self.applied_any = true;
        let mut delta = Delta::new(municipality, verified.event.at().0);
        let deny = verified.event.event_type();
        let applied = match &verified.event {
            Event::Calendar(_)
            | Event::ActionPlan(
                ActionPlanEvent::ProposalsTaken(_)
                | ActionPlanEvent::ForumMemberJoined(_)
                | ActionPlanEvent::ForumMemberLeft(_)
                | ActionPlanEvent::CoChairNamed(_),
            ) => {
                return Ok(Outcome::NoEffect);
            }
            Event::Budget(event) => {
                let mut budget = BudgetTables {
                    rounds: &mut self.rounds,
                    projects: &mut self.budget_projects,
                };
                budget.apply(municipality, event, deny)
            }
            Event::Petition(event) => {
                apply_petition(&mut self.petitions, municipality, event, deny, &mut delta)
            }
            Event::Dialogue(event) => {
                apply_dialogue(&mut self.dialogues, municipality, event, deny, &mut delta)
            }
            Event::ActionPlan(event) => {
                let mut plan = PlanTables {
                    plans: &mut self.plans,
                    commitments: &mut self.commitments,
                    milestones: &mut self.milestones,
                };
                plan.apply(municipality, event, deny, &mut delta)
            }
        };
        match applied {
            Ok(()) if self.uncounted => Ok(Outcome::Projected),
            Ok(()) => {
                self.record(delta);
                Ok(Outcome::Projected)
            }
            Err(anomaly) if self.uncounted => Ok(Outcome::Anomaly(anomaly)),
            Err(anomaly) => {
                let counters = self.counters.entry(municipality).or_default();
                counters.anomalies = counters.anomalies.wrapping_add(1);
                Ok(Outcome::Anomaly(anomaly))
            }
        }
    }

    fn record(&mut self, mut delta: Delta) {
        let municipality = delta.weekly.municipality;
        if !delta.counters.is_zero() {
            self.counters
                .entry(municipality)
                .or_default()
                .add(&delta.counters);
        }
        if !delta.weekly.is_zero() {
            delta.weekly.week = kyiv_week(delta.at);
            self.weekly
                .entry(delta.weekly.key())
                .or_insert_with(|| WeeklyCounters::zero(municipality, delta.weekly.week))
                .add_counts(&delta.weekly);
        }
        if let Some(days) = delta.answer_days {
            let count = self.answer_days.entry((municipality, days)).or_default();
            *count = count.wrapping_add(1);
        }
    }

    /// The batch's changes, every list ascending by key, zero deltas and unchanged rows left
    /// out.
    pub fn finish(self) -> Changes {
        Changes {
            petitions: changed(self.petitions),
            dialogues: changed(self.dialogues),
            plans: changed(self.plans),
            commitments: changed(self.commitments),
            milestones: changed(self.milestones),
            rounds: changed(self.rounds),
            budget_projects: changed(self.budget_projects),
            counters: self
                .counters
                .into_iter()
                .filter(|(_, counters)| !counters.is_zero())
                .collect(),
            weekly: self
                .weekly
                .into_values()
                .filter(|weekly| !weekly.is_zero())
                .collect(),
            answer_days: self
                .answer_days
                .into_iter()
                .filter(|(_, count)| *count != 0)
                .map(|((municipality, days), count)| AnswerDays {
                    municipality,
                    days,
                    count,
                })
                .collect(),
            positions: self.positions.into_iter().collect(),
        }
    }
}

/// The rows of slots that are new or differ from what was loaded, ascending by key.
fn changed<R: PartialEq>(slots: Slots<R>) -> Vec<R> {
    let mut changed: Vec<(EntityKey, R)> = slots
        .map
        .into_iter()
        .filter_map(|(key, slot)| match slot.current {
            Some(row) if slot.loaded.as_deref() != Some(&row) => Some((key, row)),
            _ => None,
        })
        .collect();
    changed.sort_unstable_by_key(|(key, _)| *key);
    changed.into_iter().map(|(_, row)| row).collect()
}

/// What one event adds to the counts, kept apart until the event is known to apply.
struct Delta {
    counters: Counters,
    /// Its week is set when the counts are recorded: most events count nothing weekly.
    weekly: WeeklyCounters,
    at: i64,
    answer_days: Option<i32>,
}

impl Delta {
    fn new(municipality: MunicipalityCode, at: i64) -> Self {
        Self {
            counters: Counters::default(),
            weekly: WeeklyCounters::zero(municipality, 0),
            at,
            answer_days: None,
        }
    }
}

/// Days since 1970-01-01 of the Kyiv date at `at` (microseconds).
fn kyiv_day(at: i64) -> i64 {
    kyiv_epoch_day(Timestamp(at))
}

/// The Monday of the Kyiv week of `at`, in epoch days.
fn kyiv_week(at: i64) -> i32 {
    day_i32(monday_on_or_before(kyiv_day(at)))
}

/// Epoch days as stored: saturated into `i32` (only dates millions of years away saturate).
fn day_i32(days: i64) -> i32 {
    i32::try_from(days).unwrap_or(if days < 0 { i32::MIN } else { i32::MAX })
}

fn allow(condition: bool, kind: EntityKind, event: EventType) -> Result<(), Anomaly> {
    if condition {
        Ok(())
    } else {
        Err(Anomaly::NotAllowed { kind, event })
    }
}

fn plus_one(count: u32, kind: EntityKind) -> Result<u32, Anomaly> {
    count.checked_add(1).ok_or(Anomaly::Overflow(kind))
}

/// The current row of an existing entity.
fn existing<R>(slot: &mut Slot<R>, kind: EntityKind) -> Result<&mut R, Anomaly> {
    slot.current.as_mut().ok_or(Anomaly::Unknown(kind))
}

/// The slot of a key: present for every key [`Working::apply`] checked against the batch, or
/// made empty on first lookup in a table that admits keys ([`Working::open`]).
fn slot_of<R>(
    slots: &mut Slots<R>,
    kind: EntityKind,
    key: EntityKey,
) -> Result<&mut Slot<R>, Anomaly> {
    if slots.admits {
        return Ok(slots.map.entry(key).or_insert_with(Slot::empty));
    }
    slots.map.get_mut(&key).ok_or(Anomaly::Unknown(kind))
}

fn apply_petition(
    slots: &mut Slots<PetitionRow>,
    municipality: MunicipalityCode,
    event: &PetitionEvent,
    event_type: EventType,
    delta: &mut Delta,
) -> Result<(), Anomaly> {
    use PetitionPhase as P;
    const KIND: EntityKind = EntityKind::Petition;
    let key = EntityKey::new(municipality, event.petition_id().0);
    let slot = slot_of(slots, KIND, key)?;
    let at = event.at().0;
    let counters = &mut delta.counters;
    if let PetitionEvent::Filed(filed) = event {
        if slot.current.is_some() {
            return Err(Anomaly::AlreadyExists(KIND));
        }
        let moderation_due = bounded_due(filed.moderation_due, at, MODERATION_WORKING_DAYS);
        slot.current = Some(PetitionRow {
            municipality,
            petition_id: key.id,
            filed_at: at,
            phase: P::AwaitingModeration.as_u8(),
            published_at: None,
            threshold: 0,
            signatures: 0,
            threshold_reached_at: None,
            consideration_started_at: None,
            answer_due: None,
            answered_at: None,
            decision: None,
            answered_on_time: None,
            implementation_updates: 0,
            moderation_due,
            moderated_on_time: None,
            answer_term_days: 0,
            collection_period_days: 0,
            start_due: None,
            started_on_time: None,
        });
        counters.petitions_filed = 1;
        delta.weekly.petitions_filed = 1;
        return Ok(());
    }
    let row = existing(slot, KIND)?;
    let phase = P::from_u8(row.phase);
    let allow_in =
        |phases: &[P]| allow(phase.is_some_and(|p| phases.contains(&p)), KIND, event_type);
    match event {
        // Handled above, before the row is required; never reached.
        PetitionEvent::Filed(_) => return Err(Anomaly::AlreadyExists(KIND)),
        PetitionEvent::Published(published) => {
            allow_in(&[P::AwaitingModeration])?;
            let rule = &published.rule;
            row.phase = P::Collecting.as_u8();
            row.published_at = Some(at);
            row.threshold = rule.signature_threshold;
            row.answer_term_days = rule.answer_deadline_working_days;
            row.collection_period_days = rule.collection_period_days;
            moderated(row, at, counters);
            counters.petitions_published = 1;
            counters.statute_answer_beyond_law = i64::from(answer_term_beyond_law(rule));
            counters.statute_collection_beyond_law = i64::from(collection_period_beyond_law(rule));
        }
        PetitionEvent::Rejected(_) => {
            allow_in(&[P::AwaitingModeration])?;
            row.phase = P::Rejected.as_u8();
            moderated(row, at, counters);
            counters.petitions_rejected = 1;
        }
        PetitionEvent::Signed(_) => {
            allow_in(&[P::Collecting, P::ThresholdReached])?;
            row.signatures = plus_one(row.signatures, KIND)?;
            // The clock starts with the signature that reaches the threshold, whether or not
            // the node ever says the threshold was reached.
            if row.threshold > 0 && row.signatures >= row.threshold && row.start_due.is_none() {
                row.start_due = Some(start_due(at));
            }
            counters.signatures = 1;
            delta.weekly.signatures = 1;
        }
        PetitionEvent::ThresholdReached(_) => {
            allow_in(&[P::Collecting])?;
            row.phase = P::ThresholdReached.as_u8();
            row.threshold_reached_at = Some(at);
            row.start_due = Some(row.start_due.unwrap_or_else(|| start_due(at)));
            counters.petitions_threshold_reached = 1;
            delta.weekly.petitions_threshold_reached = 1;
        }
        PetitionEvent::CollectionClosed(_) => {
            allow_in(&[P::Collecting])?;
            // A collection that has its signatures did not fail: closing it is escaping the
            // answer.
            allow(row.start_due.is_none(), KIND, event_type)?;
            row.phase = P::CollectionFailed.as_u8();
            counters.petitions_collection_failed = 1;
        }
        PetitionEvent::ConsiderationStarted(started) => {
            allow_in(&[P::ThresholdReached])?;
            let started_on_time = row.start_due.map(|due| kyiv_day(at) <= i64::from(due));
            row.phase = P::UnderConsideration.as_u8();
            row.consideration_started_at = Some(at);
            row.answer_due = Some(bounded_due(started.answer_due, at, row.answer_term_days));
            row.started_on_time = started_on_time;
            counters.petitions_consideration_started = 1;
            counters.petitions_started_late = i64::from(started_on_time == Some(false));
        }
        PetitionEvent::Answered(answered) => {
            allow_in(&[P::UnderConsideration])?;
            let answer_day = kyiv_day(at);
            let on_time = row
                .answer_due
                .map(|due| answer_day <= i64::from(due) && row.started_on_time != Some(false));
            row.phase = P::Answered.as_u8();
            row.answered_at = Some(at);
            row.decision = Some(decision_code(answered.decision));
            row.answered_on_time = on_time;
            counters.petitions_answered = 1;
            counters.petitions_answered_on_time = i64::from(on_time == Some(true));
            delta.weekly.petitions_answered = 1;
            delta.answer_days = row
                .consideration_started_at
                .map(|started| day_i32((answer_day - kyiv_day(started)).max(0)));
        }
        PetitionEvent::ImplementationUpdated(_) => {
            let implementing = [AnswerDecision::Supported, AnswerDecision::PartlySupported]
                .map(|d| Some(decision_code(d)));
            allow(
                phase == Some(P::Answered) && implementing.contains(&row.decision),
                KIND,
                event_type,
            )?;
            row.implementation_updates = plus_one(row.implementation_updates, KIND)?;
        }
    }
    Ok(())
}

/// The last day to start consideration of a petition whose threshold was reached at `at`.
fn start_due(at: i64) -> i32 {
    let due = national_deadline(kyiv_date(Timestamp(at)), CONSIDERATION_START_WORKING_DAYS);
    day_i32(due.epoch_days())
}

/// A deadline a node recorded, bounded by `working_days` on the national clock from the Kyiv
/// day of `at`: whichever is earlier, in epoch days.
fn bounded_due(recorded: CivilDate, at: i64, working_days: u16) -> i32 {
    let national = national_deadline(kyiv_date(Timestamp(at)), working_days);
    day_i32(recorded.min(national).epoch_days())
}

/// Records the moderation (publication or rejection) at `at` against the petition's deadline.
fn moderated(row: &mut PetitionRow, at: i64, counters: &mut Counters) {
    let on_time = kyiv_day(at) <= i64::from(row.moderation_due);
    row.moderated_on_time = Some(on_time);
    counters.petitions_moderated_late = i64::from(!on_time);
}

fn apply_dialogue(
    slots: &mut Slots<DialogueRow>,
    municipality: MunicipalityCode,
    event: &DialogueEvent,
    event_type: EventType,
    delta: &mut Delta,
) -> Result<(), Anomaly> {
    const KIND: EntityKind = EntityKind::Dialogue;
    let key = EntityKey::new(municipality, event.dialogue_id().0);
    let slot = slot_of(slots, KIND, key)?;
    let at = event.at().0;
    let counters = &mut delta.counters;
    if let DialogueEvent::Announced(announced) = event {
        if slot.current.is_some() {
            return Err(Anomaly::AlreadyExists(KIND));
        }
        let kind = dialogue_kind_code(announced.kind);
        slot.current = Some(DialogueRow {
            municipality,
            dialogue_id: key.id,
            kind,
            announced_at: at,
            contributions: 0,
            answered: 0,
            accepted: 0,
            partly_accepted: 0,
            rejected: 0,
            closed_at: None,
            attendance: 0,
            outcome_published_at: None,
        });
        counters.dialogues_announced_by_kind[usize::from(kind)] = 1;
        return Ok(());
    }
    let row = existing(slot, KIND)?;
    match event {
        DialogueEvent::Announced(_) => return Err(Anomaly::AlreadyExists(KIND)),
        DialogueEvent::ContributionSubmitted(_) => {
            allow(row.closed_at.is_none(), KIND, event_type)?;
            row.contributions = plus_one(row.contributions, KIND)?;
            counters.contributions = 1;
            delta.weekly.contributions = 1;
        }
        DialogueEvent::ContributionAnswered(answered) => {
            let open = row.outcome_published_at.is_none() && row.answered < row.contributions;
            allow(open, KIND, event_type)?;
            let (accepted, partly, rejected) = match answered.response {
                ContributionResponse::Accepted => (1, 0, 0),
                ContributionResponse::PartlyAccepted => (0, 1, 0),
                ContributionResponse::Rejected => (0, 0, 1),
            };
            let overflow = Anomaly::Overflow(KIND);
            let accepted = row.accepted.checked_add(accepted).ok_or(overflow)?;
            let partly = row.partly_accepted.checked_add(partly).ok_or(overflow)?;
            let rejected = row.rejected.checked_add(rejected).ok_or(overflow)?;
            row.answered = plus_one(row.answered, KIND)?;
            row.accepted = accepted;
            row.partly_accepted = partly;
            row.rejected = rejected;
            counters.contributions_answered = 1;
        }
        DialogueEvent::Closed(closed) => {
            allow(row.closed_at.is_none(), KIND, event_type)?;
            row.closed_at = Some(at);
            row.attendance = closed.attendance_count;
            counters.dialogues_closed = 1;
            delta.weekly.dialogues_closed = 1;
        }
        DialogueEvent::OutcomePublished(_) => {
            let closed = row.closed_at.is_some() && row.outcome_published_at.is_none();
            allow(closed, KIND, event_type)?;
            row.outcome_published_at = Some(at);
            counters.outcome_reports = 1;
        }
    }
    Ok(())
}

/// The three tables an action plan event may touch.
struct PlanTables<'a> {
    plans: &'a mut Slots<PlanRow>,
    commitments: &'a mut Slots<CommitmentRow>,
    milestones: &'a mut Slots<MilestoneRow>,
}

impl PlanTables<'_> {
    /// A milestone of the plan and commitment an event names, with whether that commitment is
    /// closed to changes (assessed or withdrawn).
    fn milestone_of(
        &mut self,
        municipality: MunicipalityCode,
        plan: Uuid,
        commitment: Uuid,
        milestone: Uuid,
    ) -> Result<(bool, &mut MilestoneRow), Anomaly> {
        use EntityKind::{Commitment, Milestone};
        let key = |id: Uuid| EntityKey::new(municipality, id);
        let c = existing(
            slot_of(self.commitments, Commitment, key(commitment))?,
            Commitment,
        )?;
        if c.plan_id != plan {
            return Err(Anomaly::OtherParent(Commitment));
        }
        let closed = c.opened_government.is_some() || c.withdrawn_at.is_some();
        let m = existing(
            slot_of(self.milestones, Milestone, key(milestone))?,
            Milestone,
        )?;
        if m.plan_id != plan || m.commitment_id != commitment {
            return Err(Anomaly::OtherParent(Milestone));
        }
        Ok((closed, m))
    }

    fn apply(
        &mut self,
        municipality: MunicipalityCode,
        event: &ActionPlanEvent,
        event_type: EventType,
        delta: &mut Delta,
    ) -> Result<(), Anomaly> {
        use EntityKind::{Commitment, Milestone, Plan};
        let key = |id: Uuid| EntityKey::new(municipality, id);
        let at = event.at().0;
        let counters = &mut delta.counters;
        match event {
            ActionPlanEvent::Adopted(adopted) => {
                let slot = slot_of(self.plans, Plan, key(adopted.plan_id.0))?;
                if slot.current.is_some() {
                    return Err(Anomaly::AlreadyExists(Plan));
                }
                slot.current = Some(PlanRow {
                    municipality,
                    plan_id: adopted.plan_id.0,
                    adopted_at: at,
                    period_start: day_i32(adopted.period_start.epoch_days()),
                    period_end: day_i32(adopted.period_end.epoch_days()),
                    commitments: 0,
                    closed_at: None,
                    draft: false,
                });
                counters.plans_adopted = 1;
            }
            ActionPlanEvent::Drafted(drafted) => {
                let slot = slot_of(self.plans, Plan, key(drafted.plan_id.0))?;
                if slot.current.is_some() {
                    return Err(Anomaly::AlreadyExists(Plan));
                }
                // A plan in the making: counted as adopted only once the council adopts it.
                slot.current = Some(PlanRow {
                    municipality,
                    plan_id: drafted.plan_id.0,
                    adopted_at: at,
                    period_start: day_i32(drafted.period_start.epoch_days()),
                    period_end: day_i32(drafted.period_end.epoch_days()),
                    commitments: 0,
                    closed_at: None,
                    draft: true,
                });
            }
            ActionPlanEvent::DraftAdopted(adopted) => {
                let plan = existing(slot_of(self.plans, Plan, key(adopted.plan_id.0))?, Plan)?;
                allow(plan.draft && plan.closed_at.is_none(), Plan, event_type)?;
                plan.draft = false;
                plan.adopted_at = at;
                counters.plans_adopted = 1;
            }
            // `Working::apply` answers them before this: no row shows them.
            ActionPlanEvent::ForumMemberJoined(_)
            | ActionPlanEvent::ForumMemberLeft(_)
            | ActionPlanEvent::CoChairNamed(_) => {}
            ActionPlanEvent::CommitmentAdded(added) => {
                let plan = existing(slot_of(self.plans, Plan, key(added.plan_id.0))?, Plan)?;
                allow(plan.closed_at.is_none(), Plan, event_type)?;
                let slot = slot_of(self.commitments, Commitment, key(added.commitment_id.0))?;
                if slot.current.is_some() {
                    return Err(Anomaly::AlreadyExists(Commitment));
                }
                plan.commitments = plus_one(plan.commitments, Plan)?;
                slot.current = Some(CommitmentRow {
                    municipality,
                    commitment_id: added.commitment_id.0,
                    plan_id: added.plan_id.0,
                    added_at: at,
                    milestones: 0,
                    completion: None,
                    opened_government: None,
                    withdrawn_at: None,
                });
                counters.commitments = 1;
            }
            ActionPlanEvent::MilestoneAdded(added) => {
                let commitment_key = key(added.commitment_id.0);
                let commitment = existing(
                    slot_of(self.commitments, Commitment, commitment_key)?,
                    Commitment,
                )?;
                if commitment.plan_id != added.plan_id.0 {
                    return Err(Anomaly::OtherParent(Commitment));
                }
                let closed =
                    commitment.opened_government.is_some() || commitment.withdrawn_at.is_some();
                allow(!closed, Commitment, event_type)?;
                let slot = slot_of(self.milestones, Milestone, key(added.milestone_id.0))?;
                if slot.current.is_some() {
                    return Err(Anomaly::AlreadyExists(Milestone));
                }
                commitment.milestones = plus_one(commitment.milestones, Commitment)?;
                slot.current = Some(MilestoneRow {
                    municipality,
                    milestone_id: added.milestone_id.0,
                    plan_id: added.plan_id.0,
                    commitment_id: added.commitment_id.0,
                    due: day_i32(added.due.epoch_days()),
                    status: None,
                    completed_at: None,
                    withdrawn_at: None,
                });
                counters.milestones = 1;
                counters.milestones_by_status[0] = 1;
            }
            ActionPlanEvent::ProgressReported(reported) => {
                let slot = slot_of(self.milestones, Milestone, key(reported.milestone_id.0))?;
                let milestone = existing(slot, Milestone)?;
                if milestone.plan_id != reported.plan_id.0
                    || milestone.commitment_id != reported.commitment_id.0
                {
                    return Err(Anomaly::OtherParent(Milestone));
                }
                allow(milestone.withdrawn_at.is_none(), Milestone, event_type)?;
                let draft = slot_of(self.plans, Plan, key(reported.plan_id.0))?
                    .current
                    .as_ref()
                    .is_some_and(|p| p.draft);
                // A draft's milestones take no reports until the council adopts it.
                allow(!draft, Plan, event_type)?;
                let status = status_code(reported.status);
                let old = milestone_status_slot(milestone.status);
                let new = milestone_status_slot(Some(status));
                let (Some(old), Some(new)) = (old, new) else {
                    return Err(Anomaly::NotAllowed {
                        kind: Milestone,
                        event: event_type,
                    });
                };
                let by_status = &mut counters.milestones_by_status;
                by_status[old] -= 1;
                by_status[new] += 1;
                milestone.status = Some(status);
                let complete = reported.status == ImplementationStatus::Complete;
                if complete && milestone.completed_at.is_none() {
                    milestone.completed_at = Some(at);
                    delta.weekly.milestones_completed = 1;
                }
            }
            ActionPlanEvent::CommitmentAssessed(assessed) => {
                let commitment_key = key(assessed.commitment_id.0);
                let slot = slot_of(self.commitments, Commitment, commitment_key)?;
                let commitment = existing(slot, Commitment)?;
                if commitment.plan_id != assessed.plan_id.0 {
                    return Err(Anomaly::OtherParent(Commitment));
                }
                allow(commitment.withdrawn_at.is_none(), Commitment, event_type)?;
                let draft = slot_of(self.plans, Plan, key(assessed.plan_id.0))?
                    .current
                    .as_ref()
                    .is_some_and(|p| p.draft);
                // A draft's commitments are assessed only once the council adopts it.
                allow(!draft, Plan, event_type)?;
                let level = opened_government_code(assessed.opened_government);
                let levels = &mut counters.opened_government;
                match commitment.opened_government {
                    None => counters.commitments_assessed = 1,
                    Some(old) => {
                        let Some(count) = levels.get_mut(usize::from(old)) else {
                            return Err(Anomaly::NotAllowed {
                                kind: Commitment,
                                event: event_type,
                            });
                        };
                        *count -= 1;
                    }
                }
                levels[usize::from(level)] += 1;
                commitment.completion = Some(status_code(assessed.completion));
                commitment.opened_government = Some(level);
            }
            // `Working::apply` answers it before this: no row shows it.
            ActionPlanEvent::ProposalsTaken(_) => {}
            ActionPlanEvent::CommitmentAmended(amended) => {
                let slot = slot_of(self.commitments, Commitment, key(amended.commitment_id.0))?;
                let commitment = existing(slot, Commitment)?;
                if commitment.plan_id != amended.plan_id.0 {
                    return Err(Anomaly::OtherParent(Commitment));
                }
                let open =
                    commitment.opened_government.is_none() && commitment.withdrawn_at.is_none();
                allow(open, Commitment, event_type)?;
                // The commitment row keeps no end date: the amendment is its history.
            }
            ActionPlanEvent::CommitmentWithdrawn(withdrawn) => {
                let slot = slot_of(self.commitments, Commitment, key(withdrawn.commitment_id.0))?;
                let commitment = existing(slot, Commitment)?;
                if commitment.plan_id != withdrawn.plan_id.0 {
                    return Err(Anomaly::OtherParent(Commitment));
                }
                let open =
                    commitment.opened_government.is_none() && commitment.withdrawn_at.is_none();
                allow(open, Commitment, event_type)?;
                commitment.withdrawn_at = Some(at);
            }
            ActionPlanEvent::MilestoneAmended(amended) => {
                let (commitment, milestone) = self.milestone_of(
                    municipality,
                    amended.plan_id.0,
                    amended.commitment_id.0,
                    amended.milestone_id.0,
                )?;
                let complete =
                    milestone.status == Some(status_code(ImplementationStatus::Complete));
                let open = !commitment && milestone.withdrawn_at.is_none() && !complete;
                allow(open, Milestone, event_type)?;
                milestone.due = day_i32(amended.due.epoch_days());
            }
            ActionPlanEvent::MilestoneWithdrawn(withdrawn) => {
                let (commitment, milestone) = self.milestone_of(
                    municipality,
                    withdrawn.plan_id.0,
                    withdrawn.commitment_id.0,
                    withdrawn.milestone_id.0,
                )?;
                let open = !commitment && milestone.withdrawn_at.is_none();
                allow(open, Milestone, event_type)?;
                milestone.withdrawn_at = Some(at);
            }
            ActionPlanEvent::Closed(_) => {
                let slot = slot_of(self.plans, Plan, key(event.plan_id().0))?;
                let plan = existing(slot, Plan)?;
                allow(plan.closed_at.is_none() && !plan.draft, Plan, event_type)?;
                plan.closed_at = Some(at);
                counters.plans_closed = 1;
            }
        }
        Ok(())
    }
}

/// The rows a participatory budget event reads. Every check comes before any change, so an
/// anomaly changes nothing.
struct BudgetTables<'a> {
    rounds: &'a mut Slots<RoundRow>,
    projects: &'a mut Slots<BudgetProjectRow>,
}

/// The project at `key`, which must belong to round `round_id`.
fn project_of(
    projects: &mut Slots<BudgetProjectRow>,
    key: EntityKey,
    round_id: Uuid,
) -> Result<&mut BudgetProjectRow, Anomaly> {
    let kind = EntityKind::BudgetProject;
    let project = existing(slot_of(projects, kind, key)?, kind)?;
    if project.round_id == round_id {
        Ok(project)
    } else {
        Err(Anomaly::OtherParent(kind))
    }
}

/// Kopecks as stored (amounts are bounded far below `i64::MAX` by the domain).
fn kopecks(amount: u64) -> i64 {
    i64::try_from(amount).unwrap_or(i64::MAX)
}

impl BudgetTables<'_> {
    fn apply(
        &mut self,
        municipality: MunicipalityCode,
        event: &BudgetEvent,
        event_type: EventType,
    ) -> Result<(), Anomaly> {
        use EntityKind::{BudgetProject, Round};
        let key = |id: Uuid| EntityKey::new(municipality, id);
        let at = event.at().0;
        let round_id = event.round_id().0;
        let round_slot = slot_of(self.rounds, Round, key(round_id))?;
        if let BudgetEvent::Announced(announced) = event {
            if round_slot.current.is_some() {
                return Err(Anomaly::AlreadyExists(Round));
            }
            let rules = &announced.rules;
            round_slot.current = Some(RoundRow {
                municipality,
                round_id,
                announced_at: at,
                budget_year: rules.budget_year,
                amount: kopecks(rules.amount),
                local_budget: kopecks(rules.local_budget),
                voting_closes: rules.voting_closes.0,
                projects: 0,
                projects_eligible: 0,
                ballots: 0,
                results_at: None,
                winners: 0,
                projects_funded: 0,
                funded_total: 0,
                projects_completed: 0,
                projects_cancelled: 0,
                closed_at: None,
            });
            return Ok(());
        }
        let round = existing(round_slot, Round)?;
        let open = round.results_at.is_none() && round.closed_at.is_none();
        let project = |projects, id: Uuid| project_of(projects, key(id), round_id);
        match event {
            BudgetEvent::Announced(_) => {}
            BudgetEvent::ProjectSubmitted(submitted) => {
                allow(open, Round, event_type)?;
                let slot = slot_of(self.projects, BudgetProject, key(submitted.project_id.0))?;
                if slot.current.is_some() {
                    return Err(Anomaly::AlreadyExists(BudgetProject));
                }
                // The domain's bound, which a node that skipped its rules may not pass.
                if round.projects >= domain::budget::PROJECTS_MAX {
                    return Err(Anomaly::Overflow(Round));
                }
                round.projects = plus_one(round.projects, Round)?;
                slot.current = Some(BudgetProjectRow {
                    municipality,
                    project_id: submitted.project_id.0,
                    round_id,
                    submitted_at: at,
                    cost: kopecks(submitted.cost),
                    eligible: None,
                    funded: None,
                    status: None,
                });
            }
            BudgetEvent::ProjectReviewed(reviewed) => {
                allow(open, Round, event_type)?;
                let project = project(self.projects, reviewed.project_id.0)?;
                allow(project.eligible.is_none(), BudgetProject, event_type)?;
                match &reviewed.outcome {
                    ReviewOutcome::Eligible { cost, .. } => {
                        round.projects_eligible = plus_one(round.projects_eligible, Round)?;
                        project.eligible = Some(true);
                        project.cost = kopecks(*cost);
                    }
                    ReviewOutcome::Ineligible { .. } => project.eligible = Some(false),
                }
            }
            BudgetEvent::BallotCast(_) => {
                allow(open, Round, event_type)?;
                round.ballots = plus_one(round.ballots, Round)?;
            }
            BudgetEvent::ResultsDeclared(declared) => {
                allow(open, Round, event_type)?;
                round.results_at = Some(at);
                round.winners = u32::try_from(declared.winners.len()).unwrap_or(u32::MAX);
            }
            BudgetEvent::ProjectFunded(funded) => {
                let fundable = round.results_at.is_some() && round.closed_at.is_none();
                allow(fundable, Round, event_type)?;
                let project = project(self.projects, funded.project_id.0)?;
                let amount = kopecks(funded.amount);
                // Only an eligible project not funded yet, within its approved cost and what
                // is left of the round's amount (so no sum can overflow).
                let fundable = project.eligible == Some(true)
                    && project.funded.is_none()
                    && amount <= project.cost;
                allow(fundable, BudgetProject, event_type)?;
                let total = round
                    .funded_total
                    .checked_add(amount)
                    .filter(|total| *total <= round.amount);
                let Some(total) = total else {
                    return Err(Anomaly::NotAllowed {
                        kind: Round,
                        event: event_type,
                    });
                };
                round.projects_funded = plus_one(round.projects_funded, Round)?;
                round.funded_total = total;
                project.funded = Some(amount);
            }
            BudgetEvent::ProgressReported(reported) => {
                allow(round.closed_at.is_none(), Round, event_type)?;
                let project = project(self.projects, reported.project_id.0)?;
                let completed = project_status_code(ProjectStatus::Completed);
                let cancelled = project_status_code(ProjectStatus::Cancelled);
                let is_final =
                    matches!(project.status, Some(s) if s == completed || s == cancelled);
                allow(
                    project.funded.is_some() && !is_final,
                    BudgetProject,
                    event_type,
                )?;
                match reported.status {
                    ProjectStatus::Completed => {
                        round.projects_completed = plus_one(round.projects_completed, Round)?;
                    }
                    ProjectStatus::Cancelled => {
                        round.projects_cancelled = plus_one(round.projects_cancelled, Round)?;
                    }
                    ProjectStatus::NotStarted | ProjectStatus::InProgress => {}
                }
                project.status = Some(project_status_code(reported.status));
            }
            BudgetEvent::Closed(_) => {
                let closable = round.results_at.is_some() && round.closed_at.is_none();
                allow(closable, Round, event_type)?;
                round.closed_at = Some(at);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::calendar::Weekday;

    proptest::proptest! {
        /// The week by day arithmetic is the Monday on or before the event's Kyiv date, within
        /// six days of it, across clock changes and before 1970 too.
        #[test]
        fn kyiv_week_is_the_monday_of_the_kyiv_date(
            at in -2_000_000_000_000_000_i64..4_000_000_000_000_000,
        ) {
            let date = kyiv_date(Timestamp(at));
            let monday = CivilDate::from_epoch_days(i64::from(kyiv_week(at)))
                .expect("a representable date");
            proptest::prop_assert_eq!(monday.weekday(), Weekday::Monday);
            let back = date.epoch_days() - monday.epoch_days();
            proptest::prop_assert!((0..7).contains(&back), "{date:?} is {back} days after {monday:?}");
            proptest::prop_assert_eq!(kyiv_day(at), date.epoch_days());
        }
    }
}
