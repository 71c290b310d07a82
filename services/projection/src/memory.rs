//! The reference store: the whole projection in ordered maps, run through the same batch steps
//! a database store takes. Tests use it; the auditor's small replays and other stores'
//! conformance tests can compare their digest with its one.

use std::collections::BTreeMap;

use event_store_core::MunicipalityCode;

use crate::batch::{ApplyError, Changes, LoadError, Outcome, Verified, Working, touched};
use crate::digest::{DigestBuilder, DigestError};
use crate::rows::{
    AnswerDays, BudgetProjectRow, CommitmentRow, Counters, DialogueRow, EntityKey, MilestoneRow,
    PetitionRow, PlanRow, RoundRow, WeeklyCounters,
};

/// Why a batch was not applied; the store is unchanged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BatchError {
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error(transparent)]
    Apply(#[from] ApplyError),
}

/// The whole projection in memory. Rows whose counts are all zero are never kept, so two
/// stores holding the same projection are equal.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemoryStore {
    petitions: BTreeMap<EntityKey, PetitionRow>,
    dialogues: BTreeMap<EntityKey, DialogueRow>,
    plans: BTreeMap<EntityKey, PlanRow>,
    commitments: BTreeMap<EntityKey, CommitmentRow>,
    milestones: BTreeMap<EntityKey, MilestoneRow>,
    rounds: BTreeMap<EntityKey, RoundRow>,
    budget_projects: BTreeMap<EntityKey, BudgetProjectRow>,
    counters: BTreeMap<MunicipalityCode, Counters>,
    weekly: BTreeMap<(MunicipalityCode, i32), WeeklyCounters>,
    answer_days: BTreeMap<(MunicipalityCode, i32), i64>,
    positions: BTreeMap<MunicipalityCode, u64>,
}

fn load_rows<R: Clone>(
    rows: &BTreeMap<EntityKey, R>,
    keys: &[EntityKey],
    mut insert: impl FnMut(R) -> Result<(), LoadError>,
) -> Result<(), LoadError> {
    keys.iter()
        .filter_map(|key| rows.get(key))
        .try_for_each(|row| insert(row.clone()))
}

fn upsert<R: Clone>(
    rows: &mut BTreeMap<EntityKey, R>,
    changed: &[R],
    key: impl Fn(&R) -> EntityKey,
) {
    for row in changed {
        rows.insert(key(row), row.clone());
    }
}

impl MemoryStore {
    /// An empty projection.
    pub fn new() -> Self {
        Self::default()
    }

    /// Applies a batch the way a database store does: list the touched keys, load their rows,
    /// apply every event, commit the changes. On an error nothing is committed.
    pub fn apply_batch(&mut self, events: &[Verified]) -> Result<Vec<Outcome>, BatchError> {
        let keys = touched(events);
        let mut working = Working::new(&keys);
        load_rows(&self.petitions, &keys.petitions, |r| {
            working.insert_petition(r)
        })?;
        load_rows(&self.dialogues, &keys.dialogues, |r| {
            working.insert_dialogue(r)
        })?;
        load_rows(&self.plans, &keys.plans, |r| working.insert_plan(r))?;
        load_rows(&self.commitments, &keys.commitments, |r| {
            working.insert_commitment(r)
        })?;
        load_rows(&self.milestones, &keys.milestones, |r| {
            working.insert_milestone(r)
        })?;
        load_rows(&self.rounds, &keys.rounds, |r| working.insert_round(r))?;
        load_rows(&self.budget_projects, &keys.budget_projects, |r| {
            working.insert_budget_project(r)
        })?;
        let outcomes = events
            .iter()
            .map(|event| working.apply(event))
            .collect::<Result<Vec<_>, _>>()?;
        self.commit(&working.finish());
        Ok(outcomes)
    }

    /// Writes a batch's changes: upserts its rows, adds its deltas, saves its positions.
    pub fn commit(&mut self, changes: &Changes) {
        upsert(&mut self.petitions, &changes.petitions, PetitionRow::key);
        upsert(&mut self.dialogues, &changes.dialogues, DialogueRow::key);
        upsert(&mut self.plans, &changes.plans, PlanRow::key);
        upsert(
            &mut self.commitments,
            &changes.commitments,
            CommitmentRow::key,
        );
        upsert(&mut self.milestones, &changes.milestones, MilestoneRow::key);
        upsert(&mut self.rounds, &changes.rounds, RoundRow::key);
        upsert(
            &mut self.budget_projects,
            &changes.budget_projects,
            BudgetProjectRow::key,
        );
        for (municipality, delta) in &changes.counters {
            let counters = self.counters.entry(*municipality).or_default();
            counters.add(delta);
            if counters.is_zero() {
                self.counters.remove(municipality);
            }
        }
        for delta in &changes.weekly {
            let key = delta.key();
            let bucket = self
                .weekly
                .entry(key)
                .or_insert_with(|| WeeklyCounters::zero(key.0, key.1));
            bucket.add_counts(delta);
            if bucket.is_zero() {
                self.weekly.remove(&key);
            }
        }
        for delta in &changes.answer_days {
            let key = delta.key();
            let count = self.answer_days.entry(key).or_default();
            *count = count.wrapping_add(delta.count);
            if *count == 0 {
                self.answer_days.remove(&key);
            }
        }
        for (municipality, seq) in &changes.positions {
            self.positions.insert(*municipality, *seq);
        }
    }

    /// The canonical digest of the projection.
    pub fn digest(&self) -> Result<[u8; 32], DigestError> {
        let mut digest = DigestBuilder::new();
        for (municipality, counters) in &self.counters {
            digest.counters(*municipality, counters)?;
        }
        for row in self.weekly.values() {
            digest.weekly(row)?;
        }
        for row in self.answer_days() {
            digest.answer_days(&row)?;
        }
        self.petitions
            .values()
            .try_for_each(|r| digest.petition(r))?;
        self.dialogues
            .values()
            .try_for_each(|r| digest.dialogue(r))?;
        self.plans.values().try_for_each(|r| digest.plan(r))?;
        self.commitments
            .values()
            .try_for_each(|r| digest.commitment(r))?;
        self.milestones
            .values()
            .try_for_each(|r| digest.milestone(r))?;
        self.rounds.values().try_for_each(|r| digest.round(r))?;
        self.budget_projects
            .values()
            .try_for_each(|r| digest.budget_project(r))?;
        Ok(digest.finish())
    }

    /// A petition's row.
    pub fn petition(&self, key: &EntityKey) -> Option<&PetitionRow> {
        self.petitions.get(key)
    }

    /// A dialogue's row.
    pub fn dialogue(&self, key: &EntityKey) -> Option<&DialogueRow> {
        self.dialogues.get(key)
    }

    /// A plan's row.
    pub fn plan(&self, key: &EntityKey) -> Option<&PlanRow> {
        self.plans.get(key)
    }

    /// A commitment's row.
    pub fn commitment(&self, key: &EntityKey) -> Option<&CommitmentRow> {
        self.commitments.get(key)
    }

    /// A milestone's row.
    pub fn milestone(&self, key: &EntityKey) -> Option<&MilestoneRow> {
        self.milestones.get(key)
    }

    /// A budget round's row.
    pub fn round(&self, key: &EntityKey) -> Option<&RoundRow> {
        self.rounds.get(key)
    }

    /// Every budget round, ascending by key.
    pub fn rounds(&self) -> impl Iterator<Item = &RoundRow> {
        self.rounds.values()
    }

    /// A budget project's row.
    pub fn budget_project(&self, key: &EntityKey) -> Option<&BudgetProjectRow> {
        self.budget_projects.get(key)
    }

    /// A municipality's counters (all zero if it has none).
    pub fn counters(&self, municipality: MunicipalityCode) -> Counters {
        self.counters
            .get(&municipality)
            .cloned()
            .unwrap_or_default()
    }

    /// Every weekly bucket, ascending by key.
    pub fn weekly(&self) -> impl Iterator<Item = &WeeklyCounters> {
        self.weekly.values()
    }

    /// Every bucket of the histogram of days to answer, ascending by key.
    pub fn answer_days(&self) -> impl Iterator<Item = AnswerDays> + '_ {
        self.answer_days
            .iter()
            .map(|(&(municipality, days), &count)| AnswerDays {
                municipality,
                days,
                count,
            })
    }

    /// The last sequence number applied for a municipality.
    pub fn position(&self, municipality: MunicipalityCode) -> Option<u64> {
        self.positions.get(&municipality).copied()
    }

    /// How many rows of each entity table there are: petitions, dialogues, plans,
    /// commitments, milestones, budget rounds, budget projects.
    pub fn entity_counts(&self) -> [usize; 7] {
        [
            self.petitions.len(),
            self.dialogues.len(),
            self.plans.len(),
            self.commitments.len(),
            self.milestones.len(),
            self.rounds.len(),
            self.budget_projects.len(),
        ]
    }
}
