//! Participatory budget figures of an area: sums over the rounds of its hromadas
//! (`projection::RoundRow`), and the rates the national coordination council reads from them.
//!
//! - **share of the local budget**: what the rounds offered over the local budgets they state,
//!   summed over rounds (so a hromada's two rounds weigh as two years of its budget);
//! - **ballots per 10,000 residents per round**: ballots over the residents of each round's
//!   hromada, summed over rounds, times 10,000 (a hromada with two rounds counts its residents
//!   twice: once for each chance to vote);
//! - **implementation rate**: funded projects reported completed over funded projects.

use projection::RoundRow;

use super::rates::share;

/// Totals over some rounds. Kopeck sums are `i128`: a round's amounts are bounded by the
/// domain (10^15 kopecks), so no number of rounds overflows them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BudgetTotals {
    pub rounds: u64,
    /// Rounds whose results are declared.
    pub rounds_with_results: u64,
    pub ballots: u64,
    /// Kopecks offered, and the local budgets the rounds state.
    pub amount: i128,
    pub local_budget: i128,
    pub projects: u64,
    pub projects_eligible: u64,
    pub projects_funded: u64,
    pub funded_total: i128,
    pub projects_completed: u64,
    pub projects_cancelled: u64,
}

impl BudgetTotals {
    /// Adds one round.
    pub fn add_round(&mut self, r: &RoundRow) {
        self.add(&BudgetTotals {
            rounds: 1,
            rounds_with_results: u64::from(r.results_at.is_some()),
            ballots: u64::from(r.ballots),
            amount: i128::from(r.amount),
            local_budget: i128::from(r.local_budget),
            projects: u64::from(r.projects),
            projects_eligible: u64::from(r.projects_eligible),
            projects_funded: u64::from(r.projects_funded),
            funded_total: i128::from(r.funded_total),
            projects_completed: u64::from(r.projects_completed),
            projects_cancelled: u64::from(r.projects_cancelled),
        });
    }

    /// Adds another area's totals.
    pub fn add(&mut self, other: &BudgetTotals) {
        self.rounds += other.rounds;
        self.rounds_with_results += other.rounds_with_results;
        self.ballots += other.ballots;
        self.amount += other.amount;
        self.local_budget += other.local_budget;
        self.projects += other.projects;
        self.projects_eligible += other.projects_eligible;
        self.projects_funded += other.projects_funded;
        self.funded_total += other.funded_total;
        self.projects_completed += other.projects_completed;
        self.projects_cancelled += other.projects_cancelled;
    }
}

/// An area's budget figures: its rounds' totals and the residents the rounds were open to.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct BudgetFigures {
    pub totals: BudgetTotals,
    /// Σ over rounds of the residents of the round's hromada.
    pub round_residents: u64,
}

impl BudgetFigures {
    /// Adds one hromada's rounds, the hromada having `population` residents.
    pub fn add(&mut self, totals: &BudgetTotals, population: u64) {
        self.totals.add(totals);
        self.round_residents = self
            .round_residents
            .saturating_add(totals.rounds.saturating_mul(population));
    }

    /// Offered over the local budgets stated, 0 with none.
    pub fn share_of_local_budget(&self) -> f64 {
        share(
            saturated(self.totals.amount),
            saturated(self.totals.local_budget),
        )
    }

    /// Ballots per 10,000 residents per round, 0 with no round.
    pub fn ballots_per_10k(&self) -> f64 {
        if self.round_residents == 0 {
            0.0
        } else {
            self.totals.ballots as f64 * 10_000.0 / self.round_residents as f64
        }
    }

    /// Funded projects completed over funded projects, 0 with none funded.
    pub fn implementation_rate(&self) -> f64 {
        let funded = i64::try_from(self.totals.projects_funded).unwrap_or(i64::MAX);
        let done = i64::try_from(self.totals.projects_completed).unwrap_or(i64::MAX);
        share(done, funded)
    }
}

/// A kopeck sum as `i64`, saturated (for rates: 9.2 × 10^18 kopecks is past any budget).
pub fn saturated(sum: i128) -> i64 {
    i64::try_from(sum).unwrap_or(if sum < 0 { i64::MIN } else { i64::MAX })
}

#[cfg(test)]
mod tests {
    use super::*;
    use event_store_core::MunicipalityCode;

    fn round(amount: i64, local: i64, ballots: u32, funded: u32, completed: u32) -> RoundRow {
        RoundRow {
            municipality: MunicipalityCode::parse("UA80000000000093317").unwrap(),
            round_id: uuid::Uuid::nil(),
            announced_at: 0,
            budget_year: 2027,
            amount,
            local_budget: local,
            voting_closes: 0,
            projects: 5,
            projects_eligible: 4,
            ballots,
            results_at: Some(1),
            winners: funded,
            projects_funded: funded,
            funded_total: amount / 2,
            projects_completed: completed,
            projects_cancelled: 0,
            closed_at: None,
        }
    }

    #[test]
    fn rates_are_sums_over_rounds_with_residents_counted_per_round() {
        let mut a = BudgetTotals::default();
        a.add_round(&round(1_000, 100_000, 300, 2, 1));
        a.add_round(&round(3_000, 100_000, 500, 2, 2));
        let mut b = BudgetTotals::default();
        b.add_round(&round(2_000, 50_000, 100, 0, 0));
        let mut area = BudgetFigures::default();
        area.add(&a, 40_000);
        area.add(&b, 20_000);
        assert_eq!(area.totals.rounds, 3);
        assert_eq!(area.round_residents, 2 * 40_000 + 20_000);
        assert!((area.share_of_local_budget() - 6_000.0 / 250_000.0).abs() < 1e-12);
        assert!((area.ballots_per_10k() - 900.0 * 10_000.0 / 100_000.0).abs() < 1e-9);
        assert!((area.implementation_rate() - 0.75).abs() < 1e-12);
        assert_eq!(BudgetFigures::default().ballots_per_10k(), 0.0);
        assert_eq!(BudgetFigures::default().implementation_rate(), 0.0);
    }
}
