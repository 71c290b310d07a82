//! The wire form of an area's figures: counters, shares and rates as `pb::Figures`, with the
//! frozen names of dialogue kinds, milestone statuses and "did it open government" grades.

use projection::Counters;
use proto::national::v1 as pb;

use crate::read::area::{AreaFigures, answer_owed, share};
use crate::read::budgets::saturated;

use projection::codes::{DIALOGUE_KIND_NAMES, MILESTONE_STATUS_NAMES, OPENED_GOVERNMENT_NAMES};

pub(crate) fn count(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

fn kinds(names: &[&str], counts: &[i64]) -> Vec<pb::KindCount> {
    names
        .iter()
        .zip(counts)
        .map(|(kind, n)| pb::KindCount {
            kind: (*kind).to_owned(),
            count: count(*n),
        })
        .collect()
}

/// The wire figures of an area.
pub fn figures(area: &AreaFigures) -> pb::Figures {
    let c: &Counters = &area.counters;
    let announced: i64 = c.dialogues_announced_by_kind.iter().sum();
    let substantial_or_complete = c.milestones_by_status[4] + c.milestones_by_status[5];
    let b = &area.budgets;
    let t = &b.totals;
    pb::Figures {
        population: area.population,
        petitions_filed: count(c.petitions_filed),
        petitions_published: count(c.petitions_published),
        petitions_rejected: count(c.petitions_rejected),
        petitions_threshold_reached: count(c.petitions_threshold_reached),
        petitions_collection_failed: count(c.petitions_collection_failed),
        petitions_answered: count(c.petitions_answered),
        petitions_answered_on_time: count(c.petitions_answered_on_time),
        petitions_overdue_now: area.overdue_petitions,
        signatures: count(c.signatures),
        median_days_to_answer: area.median_days_to_answer(),
        dialogues_by_kind: kinds(&DIALOGUE_KIND_NAMES, &c.dialogues_announced_by_kind),
        dialogues_announced: count(announced),
        dialogues_closed: count(c.dialogues_closed),
        contributions: count(c.contributions),
        contributions_answered: count(c.contributions_answered),
        outcome_reports: count(c.outcome_reports),
        action_plans: count(c.plans_adopted),
        action_plans_closed: count(c.plans_closed),
        commitments: count(c.commitments),
        commitments_assessed: count(c.commitments_assessed),
        milestones: count(c.milestones),
        milestones_by_status: kinds(&MILESTONE_STATUS_NAMES, &c.milestones_by_status),
        milestones_overdue_now: area.overdue_milestones,
        opened_government: kinds(&OPENED_GOVERNMENT_NAMES, &c.opened_government),
        petitions_per_10k: area.per_10k(c.petitions_filed),
        signatures_per_10k: area.per_10k(c.signatures),
        contributions_per_10k: area.per_10k(c.contributions),
        share_answered_on_time: share(
            c.petitions_answered_on_time,
            answer_owed(c.petitions_answered, area.overdue_petitions),
        ),
        share_contributions_answered: share(c.contributions_answered, c.contributions),
        share_milestones_substantial_or_complete: share(substantial_or_complete, c.milestones),
        anomalies: count(c.anomalies),
        petitions_consideration_started: count(c.petitions_consideration_started),
        petitions_moderation_overdue_now: area.overdue_moderation,
        petitions_moderated_late: count(c.petitions_moderated_late),
        petitions_started_late: count(c.petitions_started_late),
        statute_answer_beyond_law: count(c.statute_answer_beyond_law),
        statute_collection_beyond_law: count(c.statute_collection_beyond_law),
        budget_rounds: t.rounds,
        budget_rounds_with_results: t.rounds_with_results,
        budget_ballots: t.ballots,
        budget_amount: count(saturated(t.amount)),
        budget_local_budget: count(saturated(t.local_budget)),
        budget_share_of_local_budget: b.share_of_local_budget(),
        budget_ballots_per_10k: b.ballots_per_10k(),
        budget_projects: t.projects,
        budget_projects_eligible: t.projects_eligible,
        budget_projects_funded: t.projects_funded,
        budget_funded_total: count(saturated(t.funded_total)),
        budget_projects_completed: t.projects_completed,
        budget_projects_cancelled: t.projects_cancelled,
        budget_implementation_rate: b.implementation_rate(),
    }
}
