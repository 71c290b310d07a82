//! Figures of an area of the country (the nation, an oblast, one hromada) from a snapshot:
//! the sums of its enrolled hromadas' counters and the figures derived from them (median days
//! to answer, rates per 10,000 residents, shares, leaderboards).

use std::collections::BTreeMap;

use event_store_core::MunicipalityCode;
use projection::Counters;

use crate::read::Snapshot;
use reference::{KYIV, Municipality, Reference};

/// An area of the country a request names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Area {
    Nation,
    Oblast(String),
    Municipality(MunicipalityCode),
}

/// Why a text names no area.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AreaError {
    /// Not an oblast code, and not a valid KATOTTG code.
    Invalid(String),
    /// A valid code of no hromada in the reference data.
    Unknown(String),
}

impl Area {
    /// The area `text` names: empty for the nation, an oblast code, or a hromada's code.
    pub fn parse(reference: &Reference, text: &str) -> Result<Self, AreaError> {
        let text = text.trim();
        if text.is_empty() {
            return Ok(Self::Nation);
        }
        if reference.oblasts.contains_key(text) && text != KYIV {
            return Ok(Self::Oblast(text.to_owned()));
        }
        let code = MunicipalityCode::parse(text)
            .map_err(|e| AreaError::Invalid(format!("{text:?}: {e}")))?;
        if reference.municipality(&code).is_none() {
            return Err(AreaError::Unknown(format!("no hromada or oblast {text}")));
        }
        Ok(Self::Municipality(code))
    }

    /// The enrolled municipalities of the area.
    pub fn members<'r>(
        &self,
        reference: &'r Reference,
        snapshot: &Snapshot,
    ) -> Vec<&'r Municipality> {
        reference
            .municipalities
            .values()
            .filter(|m| snapshot.nodes.contains_key(&m.code))
            .filter(|m| match self {
                Self::Nation => true,
                Self::Oblast(oblast) => &m.oblast == oblast,
                Self::Municipality(code) => &m.code == code,
            })
            .collect()
    }

    /// The area's figures: the sum over its enrolled municipalities.
    pub fn figures(&self, reference: &Reference, snapshot: &Snapshot) -> AreaFigures {
        let mut figures = AreaFigures::default();
        for m in self.members(reference, snapshot) {
            figures.add(snapshot, &m.code, m.population);
        }
        figures
    }
}

/// A rate a leaderboard ranks hromadas by, with the counts behind it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    PetitionsPer10k,
    SignaturesPer10k,
    ContributionsPer10k,
    ShareAnsweredOnTime,
    ShareMilestonesSubstantialOrComplete,
}

impl Metric {
    /// The metric named `text` (its API name), if any.
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "petitions_per_10k" => Self::PetitionsPer10k,
            "signatures_per_10k" => Self::SignaturesPer10k,
            "contributions_per_10k" => Self::ContributionsPer10k,
            "share_answered_on_time" => Self::ShareAnsweredOnTime,
            "share_milestones_substantial_or_complete" => {
                Self::ShareMilestonesSubstantialOrComplete
            }
            _ => return None,
        })
    }

    /// Numerator, denominator and scale of the metric for one hromada, which has `overdue`
    /// petitions past the law's bound for their answer.
    fn parts(self, c: &Counters, population: i64, overdue: u64) -> (i64, i64, f64) {
        match self {
            Self::PetitionsPer10k => (c.petitions_filed, population, 10_000.0),
            Self::SignaturesPer10k => (c.signatures, population, 10_000.0),
            Self::ContributionsPer10k => (c.contributions, population, 10_000.0),
            Self::ShareAnsweredOnTime => (
                c.petitions_answered_on_time,
                answer_owed(c.petitions_answered, overdue),
                1.0,
            ),
            Self::ShareMilestonesSubstantialOrComplete => (
                c.milestones_by_status[4] + c.milestones_by_status[5],
                c.milestones,
                1.0,
            ),
        }
    }
}

/// One hromada's place on a leaderboard.
#[derive(Debug, Clone)]
pub struct Ranked<'r> {
    pub municipality: &'r Municipality,
    pub value: f64,
    pub numerator: i64,
    pub denominator: i64,
}

/// The enrolled hromadas (of one oblast, or all) ranked by `metric`, best first unless
/// `ascending`, ties by code, at most `limit`; hromadas with nothing to divide by are left out.
pub fn leaderboard<'r>(
    reference: &'r Reference,
    snapshot: &Snapshot,
    metric: Metric,
    oblast: Option<&str>,
    ascending: bool,
    limit: usize,
) -> Vec<Ranked<'r>> {
    let mut entries: Vec<Ranked<'r>> = Area::Nation
        .members(reference, snapshot)
        .into_iter()
        .filter(|m| oblast.is_none_or(|o| m.oblast == o))
        .filter_map(|m| {
            let c = snapshot.counters.get(&m.code)?;
            let population = i64::try_from(m.population).unwrap_or(i64::MAX);
            let overdue = snapshot.overdue_petitions.get(&m.code).copied();
            let (numerator, denominator, scale) = metric.parts(c, population, overdue.unwrap_or(0));
            (denominator > 0).then(|| Ranked {
                municipality: m,
                value: numerator as f64 * scale / denominator as f64,
                numerator,
                denominator,
            })
        })
        .collect();
    entries.sort_by(|a, b| {
        let ordering = a
            .value
            .partial_cmp(&b.value)
            .unwrap_or(std::cmp::Ordering::Equal);
        let ordering = if ascending {
            ordering
        } else {
            ordering.reverse()
        };
        ordering.then_with(|| a.municipality.code.cmp(&b.municipality.code))
    });
    entries.truncate(limit);
    entries
}

/// Figures for one area: the sum of its municipalities' counters and derived figures.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AreaFigures {
    pub population: u64,
    pub counters: Counters,
    pub answer_days: BTreeMap<i32, i64>,
    pub overdue_petitions: u64,
    pub overdue_moderation: u64,
    pub overdue_milestones: u64,
    pub budgets: super::budgets::BudgetFigures,
}

impl AreaFigures {
    /// Adds one municipality.
    pub fn add(&mut self, snapshot: &Snapshot, code: &MunicipalityCode, population: u64) {
        self.population += population;
        if let Some(counters) = snapshot.counters.get(code) {
            self.counters.add(counters);
        }
        if let Some(days) = snapshot.answer_days.get(code) {
            for (d, n) in days {
                *self.answer_days.entry(*d).or_default() += n;
            }
        }
        self.overdue_petitions += snapshot.overdue_petitions.get(code).copied().unwrap_or(0);
        self.overdue_moderation += snapshot.overdue_moderation.get(code).copied().unwrap_or(0);
        self.overdue_milestones += snapshot.overdue_milestones.get(code).copied().unwrap_or(0);
        if let Some(totals) = snapshot.budgets.get(code) {
            self.budgets.add(totals, population);
        }
    }

    /// The median of the answer-day histogram (the mean of the two middle values for an even
    /// count), or `None` with no answers.
    pub fn median_days_to_answer(&self) -> Option<f64> {
        let total: i64 = self.answer_days.values().sum();
        if total <= 0 {
            return None;
        }
        let nth = |k: i64| {
            let mut seen = 0;
            for (days, n) in &self.answer_days {
                seen += n;
                if seen > k {
                    return f64::from(*days);
                }
            }
            0.0
        };
        Some(if total % 2 == 1 {
            nth(total / 2)
        } else {
            (nth(total / 2 - 1) + nth(total / 2)) / 2.0
        })
    }

    /// `count` per 10,000 residents.
    pub fn per_10k(&self, count: i64) -> f64 {
        if self.population == 0 {
            0.0
        } else {
            count as f64 * 10_000.0 / self.population as f64
        }
    }
}

/// The petitions an answer was owed for: those answered and those past the law's bound
/// without an answer, so waiting never raises the share answered on time.
pub fn answer_owed(answered: i64, overdue: u64) -> i64 {
    answered.saturating_add(i64::try_from(overdue).unwrap_or(i64::MAX))
}

pub use super::rates::share;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_a_histogram() {
        let mut f = AreaFigures::default();
        assert_eq!(f.median_days_to_answer(), None);
        f.answer_days = BTreeMap::from([(3, 1), (7, 1), (12, 1)]);
        assert_eq!(f.median_days_to_answer(), Some(7.0));
        f.answer_days = BTreeMap::from([(3, 2), (8, 2)]);
        assert_eq!(f.median_days_to_answer(), Some(5.5));
        f.population = 20_000;
        assert_eq!(f.per_10k(7), 3.5);
        assert_eq!(share(1, 4), 0.25);
        assert_eq!(share(1, 0), 0.0);
    }
}
