//! Simulated civic activity for `vidkryto dev`, sent to the nodes' gRPC APIs as a hromada's own
//! web apps would send it: petitions filed, published or rejected, signed until their
//! threshold, considered and answered (on time or late), dialogues announced, contributed to,
//! answered, closed and reported on, action plans adopted, filled with commitments and
//! milestones, reported on, assessed and closed, participatory budget rounds announced,
//! proposed to, reviewed, voted in (residents too young or registered elsewhere are refused, as
//! they should be), declared, funded, reported on and closed.
//!
//! Each command goes to a hromada drawn with probability proportional to its population, at a
//! national rate. What to do there follows from what that hromada has going on, in simulated
//! time ([`super::clock::SimClock`]): a petition is moderated within two days, an answer comes
//! either within the statute's ten working days or (a quarter of the time) weeks later.
//! Commands the rules refuse (a second signature by the same citizen, a race with the node's
//! own scheduler closing a collection) are expected: they are counted, and the hromada's view
//! of the item is read back from the node.
//!
//! **Bounds.** At most [`IN_FLIGHT_MAX`] commands in flight (a tick that finds none free is
//! skipped and counted, so a slow node never builds a queue), each bounded by
//! [`COMMAND_TIMEOUT`]; a bounded number of tracked items per hromada.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use domain::{CivilDate, kyiv_date};
use event_store_core::{MunicipalityCode, Timestamp};
use node::auth::AuthedNodeClient;
use proto::node::v1 as pb;
use rand::Rng as _;
use rand::rngs::StdRng;
use rand::seq::SliceRandom as _;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

use super::clock::{SimClock, days};

mod action;
mod send;
pub mod texts;

use self::action::{Action, ItemStatus, Outcome};
pub use self::send::COMMAND_TIMEOUT;

/// Commands in flight at once over all nodes.
pub const IN_FLIGHT_MAX: usize = 64;
/// Highest national rate accepted, in commands per second: well past what one machine's nodes
/// take, low enough that the dispatch loop itself is never the limit.
pub const RATE_MAX: f64 = 5_000.0;
/// Shortest pause between two dispatch rounds: above ~100 commands/s a round sends several.
const TICK_MIN: Duration = Duration::from_millis(10);
/// Commands one round may catch up on after a stall, so a pause never turns into a burst.
const ROUND_COMMANDS_MAX: f64 = 64.0;
/// How long stopping waits for commands in flight.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(15);

/// Petitions collecting signatures at once in one hromada: signatures concentrate on a few, so
/// thresholds are reached.
const COLLECTING_MAX: usize = 4;
/// Petitions awaiting moderation at once in one hromada.
const MODERATION_MAX: usize = 3;
/// Items a hromada keeps track of; finished ones are forgotten first.
const PETITIONS_TRACKED_MAX: usize = 24;
const DIALOGUES_TRACKED_MAX: usize = 6;
/// Unanswered contributions remembered per dialogue.
const CONTRIBUTIONS_TRACKED_MAX: usize = 64;
const COMMITMENTS_PER_PLAN: usize = 3;
/// Seats of a simulated local forum.
const FORUM_SEATS: usize = 4;
const MILESTONES_PER_COMMITMENT: usize = 3;
/// Share of answers given late (weeks after consideration started, past the statute's ten
/// working days); the rest come within ten working days.
const LATE_ANSWER_SHARE: f64 = 0.25;
/// Share of petitions moderation rejects.
const REJECTED_SHARE: f64 = 0.15;

/// What the simulation has done so far.
#[derive(Debug, Default)]
pub struct Stats {
    /// Commands the node accepted.
    pub accepted: AtomicU64,
    /// Commands a domain rule refused (`FAILED_PRECONDITION`), as expected now and then.
    pub refused: AtomicU64,
    /// Commands that failed otherwise (timeouts, unavailable nodes, bad requests).
    pub failed: AtomicU64,
    /// Commands not sent because [`IN_FLIGHT_MAX`] were in flight.
    pub skipped: AtomicU64,
}

impl Stats {
    pub fn line(&self) -> String {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        format!(
            "{} accepted, {} refused by the rules, {} failed, {} skipped",
            get(&self.accepted),
            get(&self.refused),
            get(&self.failed),
            get(&self.skipped)
        )
    }
}

/// One hromada the simulation drives.
#[derive(Debug)]
pub struct Town {
    pub code: MunicipalityCode,
    pub population: u64,
    client: AuthedNodeClient,
    state: Mutex<TownState>,
}

impl Town {
    pub fn new(code: MunicipalityCode, population: u64, client: AuthedNodeClient) -> Self {
        Self {
            code,
            population,
            client,
            state: Mutex::new(TownState::default()),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, TownState> {
        // A poisoned lock only means a task panicked mid-update; the state is still usable.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[derive(Debug, Default)]
struct TownState {
    petitions: Vec<PetitionSim>,
    dialogues: Vec<DialogueSim>,
    plan: Option<PlanSim>,
    round: Option<RoundSim>,
    /// Numbers the authors of petitions and contributions (the node only keeps pseudonyms).
    authors: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Moderation,
    Collecting,
    ThresholdReached,
    Considering,
    Done,
}

#[derive(Debug)]
struct PetitionSim {
    id: String,
    stage: Stage,
    /// When the next step is due (publication, consideration, answer).
    due: Timestamp,
    busy: bool,
}

#[derive(Debug)]
struct DialogueSim {
    id: String,
    closes_at: Timestamp,
    status: pb::DialogueStatus,
    unanswered: Vec<String>,
    busy: bool,
}

#[derive(Debug)]
struct PlanSim {
    id: String,
    end: CivilDate,
    commitments: Vec<CommitmentSim>,
    busy: bool,
    /// Still a draft, worked out with the local forum.
    draft: bool,
    /// Its forum's seats (member ids), in the order they joined.
    forum: Vec<String>,
    co_chairs: usize,
}

#[derive(Debug)]
struct CommitmentSim {
    id: String,
    start: CivilDate,
    end: CivilDate,
    /// Milestone ids with their latest reported status.
    milestones: Vec<(String, pb::ImplementationStatus)>,
    assessed: bool,
}

/// A participatory budget round: its periods, its projects and where it stands.
#[derive(Debug)]
struct RoundSim {
    id: String,
    amount_uah: u64,
    submission_closes: Timestamp,
    voting_opens: Timestamp,
    voting_closes: Timestamp,
    /// Each project submitted, with the cost (UAH) it was submitted at.
    projects: Vec<(String, u64)>,
    reviewed: usize,
    eligible: Vec<String>,
    declared: bool,
    funded_all: bool,
    reported_all: bool,
    busy: bool,
}

/// Projects one simulated round takes.
const PROJECTS_PER_ROUND: usize = 6;
/// Share of projects reviews find eligible.
const ELIGIBLE_SHARE: f64 = 0.8;

/// Runs the simulation until `stop` turns true: `rate` commands per second over `towns`, drawn
/// by population. Returns after the commands in flight have ended (bounded).
pub async fn run(
    towns: Vec<Arc<Town>>,
    clock: SimClock,
    rate: f64,
    stats: Arc<Stats>,
    assessed: Option<tokio::sync::mpsc::Sender<crate::monitors::SelfAssessed>>,
    mut stop: watch::Receiver<bool>,
) {
    if towns.is_empty() || rate <= 0.0 || !rate.is_finite() {
        let _ = stop.wait_for(|s| *s).await;
        return;
    }
    let rate = rate.min(RATE_MAX);
    let weights: Vec<u64> = towns
        .iter()
        .scan(0_u64, |total, t| {
            *total += t.population.max(1);
            Some(*total)
        })
        .collect();
    let total = weights.last().copied().unwrap_or(1);
    let permits = Arc::new(Semaphore::new(IN_FLIGHT_MAX));
    let mut tasks = JoinSet::new();
    let mut rng: StdRng = rand::SeedableRng::from_entropy();
    let tick = Duration::from_secs_f64(1.0 / rate).max(TICK_MIN);
    let mut ticker = tokio::time::interval(tick);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut last = tokio::time::Instant::now();
    let mut credit = 0.0_f64;
    loop {
        tokio::select! {
            _ = stop.wait_for(|s| *s) => break,
            _ = ticker.tick() => {}
        }
        while tasks.try_join_next().is_some() {}
        let now_wall = tokio::time::Instant::now();
        credit = (credit + rate * (now_wall - last).as_secs_f64()).min(ROUND_COMMANDS_MAX);
        last = now_wall;
        while credit >= 1.0 {
            credit -= 1.0;
            let Ok(permit) = permits.clone().try_acquire_owned() else {
                stats.skipped.fetch_add(1, Ordering::Relaxed);
                continue;
            };
            let pick = rng.gen_range(0..total);
            let index = weights.partition_point(|&w| w <= pick).min(towns.len() - 1);
            let town = towns[index].clone();
            let now = clock.now();
            let Some(action) = choose(&mut town.state(), now, town.population, &mut rng) else {
                continue;
            };
            let (stats, clock, assessed) = (stats.clone(), clock.clone(), assessed.clone());
            tasks.spawn(async move {
                let _permit = permit;
                let outcome = send::execute(&town.client, &town.code, &action).await;
                // A self-assessment for the monitors to assess independently (dropped when
                // their queue is full: the simulation never waits for them).
                if let (
                    Outcome::Accepted { .. },
                    Action::Assess {
                        plan,
                        commitment,
                        opened,
                    },
                    Some(tx),
                ) = (&outcome, &action, &assessed)
                {
                    let _ = tx.try_send(crate::monitors::SelfAssessed {
                        code: town.code,
                        plan: plan.clone(),
                        commitment: commitment.clone(),
                        // The node's own reading of its API's level; an unset one is none.
                        opened: node::convert::opened_government("opened", *opened as i32)
                            .unwrap_or(domain::action_plan::OpenedGovernment::DidNotChange),
                    });
                }
                let counter = match &outcome {
                    Outcome::Accepted { .. } => Some(&stats.accepted),
                    Outcome::Refused { .. } => Some(&stats.refused),
                    Outcome::Failed => Some(&stats.failed),
                    // Nothing was sent.
                    Outcome::Idle { .. } => None,
                };
                if let Some(counter) = counter {
                    counter.fetch_add(1, Ordering::Relaxed);
                }
                apply(
                    &mut town.state(),
                    &action,
                    outcome,
                    clock.now(),
                    &mut rand::thread_rng(),
                );
            });
        }
    }
    let drained = tokio::time::timeout(DRAIN_TIMEOUT, async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tasks.abort_all();
    }
}

/// Picks the next command for a hromada, marking the item it works on as busy. `None` when
/// there is nothing sensible to do there right now.
fn choose(
    state: &mut TownState,
    now: Timestamp,
    population: u64,
    rng: &mut StdRng,
) -> Option<Action> {
    let roll: f64 = rng.r#gen();
    let action = if roll < 0.62 {
        sign(state, population, rng).or_else(|| petition_step(state, now, rng))
    } else if roll < 0.76 {
        petition_step(state, now, rng).or_else(|| sign(state, population, rng))
    } else if roll < 0.84 {
        dialogue_step(state, now, rng)
    } else if roll < 0.90 {
        plan_step(state, now, rng)
    } else {
        budget_step(state, now, population, rng)
    };
    action.or_else(|| petition_step(state, now, rng))
}

fn sign(state: &mut TownState, population: u64, rng: &mut StdRng) -> Option<Action> {
    let open: Vec<&PetitionSim> = state
        .petitions
        .iter()
        .filter(|p| matches!(p.stage, Stage::Collecting | Stage::ThresholdReached))
        .collect();
    let petition = open.choose(rng)?;
    Some(Action::Sign {
        petition: petition.id.clone(),
        // Any resident may sign; the same one twice is refused by the rules, as it should be.
        citizen: rng.gen_range(0..population.max(1)),
    })
}

fn petition_step(state: &mut TownState, now: Timestamp, rng: &mut StdRng) -> Option<Action> {
    if let Some(p) = state
        .petitions
        .iter_mut()
        .find(|p| !p.busy && p.stage != Stage::Collecting && p.stage != Stage::Done && p.due <= now)
    {
        p.busy = true;
        let petition = p.id.clone();
        return Some(match p.stage {
            Stage::Moderation if rng.gen_bool(REJECTED_SHARE) => Action::Reject { petition },
            Stage::Moderation => Action::Publish { petition },
            Stage::ThresholdReached => Action::Consider { petition },
            _ => Action::Answer {
                petition,
                decision: *[
                    pb::AnswerDecision::Supported,
                    pb::AnswerDecision::PartlySupported,
                    pb::AnswerDecision::NotSupported,
                ]
                .choose(rng)
                .unwrap_or(&pb::AnswerDecision::Supported),
            },
        });
    }
    let count = |stage| state.petitions.iter().filter(|p| p.stage == stage).count();
    if count(Stage::Collecting) < COLLECTING_MAX && count(Stage::Moderation) < MODERATION_MAX {
        state.authors += 1;
        return Some(Action::File {
            author: state.authors,
        });
    }
    None
}

fn dialogue_step(state: &mut TownState, now: Timestamp, rng: &mut StdRng) -> Option<Action> {
    use pb::DialogueStatus as S;
    let authors = &mut state.authors;
    if let Some(d) = state
        .dialogues
        .iter_mut()
        .find(|d| !d.busy && d.status == S::Closed)
    {
        d.busy = true;
        return Some(Action::PublishOutcome {
            dialogue: d.id.clone(),
        });
    }
    if let Some(d) = state
        .dialogues
        .iter_mut()
        .find(|d| !d.busy && d.status == S::Announced && d.closes_at <= now)
    {
        d.busy = true;
        return Some(Action::CloseDialogue {
            dialogue: d.id.clone(),
            attendance: rng.gen_range(5..400),
        });
    }
    if let Some(d) = state
        .dialogues
        .iter_mut()
        .find(|d| d.status == S::Announced && now < d.closes_at)
    {
        if !d.unanswered.is_empty() && rng.gen_bool(0.4) {
            let i = rng.gen_range(0..d.unanswered.len());
            let contribution = d.unanswered.swap_remove(i);
            return Some(Action::AnswerContribution {
                dialogue: d.id.clone(),
                contribution,
            });
        }
        *authors += 1;
        return Some(Action::Contribute {
            dialogue: d.id.clone(),
            author: *authors,
        });
    }
    let kind = *[
        pb::DialogueKind::PublicConsultation,
        pb::DialogueKind::PublicHearing,
        pb::DialogueKind::RoundTable,
        pb::DialogueKind::EConsultation,
        pb::DialogueKind::YouthCouncil,
    ]
    .choose(rng)
    .unwrap_or(&pb::DialogueKind::PublicHearing);
    Some(Action::Announce {
        kind,
        opens_at: Timestamp(now.0 - days(1.0 / 24.0)),
        closes_at: Timestamp(now.0 + days(rng.gen_range(3.0..21.0))),
    })
}

fn plan_step(state: &mut TownState, now: Timestamp, rng: &mut StdRng) -> Option<Action> {
    use pb::ImplementationStatus as I;
    let today = kyiv_date(now);
    let Some(plan) = state.plan.as_mut() else {
        // Most plans are co-created: drafted with a local forum, then adopted.
        if rng.gen_bool(0.7) {
            return Some(Action::DraftPlan {
                start: today,
                end: today.add_days(729),
            });
        }
        return Some(Action::AdoptPlan {
            start: today,
            end: today.add_days(729),
        });
    };
    if plan.busy {
        return None;
    }
    plan.busy = true;
    let id = plan.id.clone();
    if plan.draft {
        // The forum first (two seats a side, government and public by turns), its co-chairs
        // (the first seat of each side), the commitments, then the council's adoption.
        if plan.forum.len() < FORUM_SEATS {
            return Some(Action::JoinForum {
                plan: id,
                seat: plan.forum.len(),
            });
        }
        if plan.co_chairs < 2 {
            return Some(Action::NameCoChair {
                plan: id,
                member: plan.forum[plan.co_chairs].clone(),
            });
        }
        if plan.commitments.len() < COMMITMENTS_PER_PLAN {
            let end = today.add_days(365).min(plan.end);
            return Some(Action::AddCommitment {
                plan: id,
                start: today,
                end,
            });
        }
        return Some(Action::AdoptDraft { plan: id });
    }
    // Progress on an unfinished milestone, most of the time.
    let unfinished: Vec<(String, I)> = plan
        .commitments
        .iter()
        .filter(|c| !c.assessed)
        .flat_map(|c| c.milestones.iter())
        .filter(|(_, status)| *status != I::Complete)
        .cloned()
        .collect();
    if let Some((milestone, status)) = unfinished.choose(rng).cloned()
        && rng.gen_bool(0.6)
    {
        let status = match status {
            I::Unspecified | I::NoEvidenceAvailable => I::NotStarted,
            I::NotStarted => I::Limited,
            I::Limited => I::Substantial,
            I::Substantial | I::Complete => I::Complete,
        };
        return Some(Action::ReportProgress {
            plan: id,
            milestone,
            status,
        });
    }
    if let Some(c) = plan
        .commitments
        .iter()
        .find(|c| !c.assessed && c.milestones.len() < MILESTONES_PER_COMMITMENT)
    {
        let span = (c.end.epoch_days() - c.start.epoch_days()).max(1);
        let due = c.start.add_days(rng.gen_range(1..=span));
        return Some(Action::AddMilestone {
            plan: id,
            commitment: c.id.clone(),
            due,
        });
    }
    if plan.commitments.len() < COMMITMENTS_PER_PLAN && today < plan.end {
        let end = today.add_days(365).min(plan.end);
        return Some(Action::AddCommitment {
            plan: id,
            start: today,
            end,
        });
    }
    if let Some(c) = plan.commitments.iter().find(|c| {
        !c.assessed
            && !c.milestones.is_empty()
            && c.milestones.iter().all(|(_, s)| *s == I::Complete)
    }) {
        return Some(Action::Assess {
            plan: id,
            commitment: c.id.clone(),
            opened: *[
                pb::OpenedGovernment::DidNotChange,
                pb::OpenedGovernment::Marginal,
                pb::OpenedGovernment::Major,
                pb::OpenedGovernment::Outstanding,
            ]
            .choose(rng)
            .unwrap_or(&pb::OpenedGovernment::Marginal),
        });
    }
    if !plan.commitments.is_empty() && plan.commitments.iter().all(|c| c.assessed) {
        return Some(Action::ClosePlan { plan: id });
    }
    plan.busy = false;
    None
}

fn budget_step(
    state: &mut TownState,
    now: Timestamp,
    population: u64,
    rng: &mut StdRng,
) -> Option<Action> {
    let Some(round) = state.round.as_mut() else {
        // Two hryvnias of every hundred of a local budget of some 12,000 per resident.
        let local_budget_uah = population.max(1_000) * 12_000;
        let amount_uah = (local_budget_uah / 100).max(action::ROUND_AMOUNT_MIN_UAH);
        return Some(Action::AnnounceRound {
            amount_uah,
            local_budget_uah,
            // Announced before submissions open (the command reaches the node a moment later).
            submission_opens: Timestamp(now.0 + days(1.0 / 24.0)),
            submission_closes: Timestamp(now.0 + days(5.0)),
            voting_opens: Timestamp(now.0 + days(6.0)),
            voting_closes: Timestamp(now.0 + days(12.0)),
        });
    };
    if round.busy {
        return None;
    }
    let id = round.id.clone();
    let action = if now < round.submission_closes {
        if round.projects.len() >= PROJECTS_PER_ROUND {
            return None;
        }
        state.authors += 1;
        let top = (round.amount_uah / 2).max(action::PROJECT_COST_MIN_UAH);
        Action::SubmitProject {
            round: id,
            author: state.authors,
            cost_uah: rng.gen_range(action::PROJECT_COST_MIN_UAH..=top),
        }
    } else if now < round.voting_opens {
        let (project, cost_uah) = round.projects.get(round.reviewed)?.clone();
        Action::ReviewProject {
            round: id,
            project,
            eligible: rng.gen_bool(ELIGIBLE_SHARE),
            cost_uah,
        }
    } else if now < round.voting_closes {
        let first = round.eligible.choose(rng)?.clone();
        let mut projects = vec![first];
        if let Some(second) = round.eligible.choose(rng)
            && !projects.contains(second)
            && rng.gen_bool(0.5)
        {
            projects.push(second.clone());
        }
        // Any resident may vote; a second ballot, or one too young or registered elsewhere,
        // is refused by the rules, as it should be.
        return Some(Action::CastBallot {
            round: id,
            citizen: rng.gen_range(0..population.max(1)),
            projects,
        });
    } else if !round.declared {
        Action::DeclareResults { round: id }
    } else if !round.funded_all {
        Action::FundNextWinner { round: id }
    } else if !round.reported_all {
        Action::ReportNextProject { round: id }
    } else {
        Action::CloseRound { round: id }
    };
    round.busy = true;
    Some(action)
}

/// Updates a hromada's view after a command.
fn apply(
    state: &mut TownState,
    action: &Action,
    outcome: Outcome,
    now: Timestamp,
    rng: &mut impl rand::Rng,
) {
    use Action as A;
    let (petition_id, dialogue_id) = (action.petition(), action.dialogue());
    if let Some(id) = petition_id
        && let Some(p) = state.petitions.iter_mut().find(|p| p.id == id)
    {
        p.busy = false;
    }
    if let Some(id) = dialogue_id
        && let Some(d) = state.dialogues.iter_mut().find(|d| d.id == id)
    {
        d.busy = false;
    }
    if let Some(plan) = state.plan.as_mut() {
        plan.busy = false;
    }
    if let Some(round) = state.round.as_mut() {
        round.busy = false;
    }
    let (request_id, result) = match outcome {
        Outcome::Accepted { request_id, result } => (request_id, result),
        Outcome::Refused { status } => {
            refused(state, action, petition_id, dialogue_id, status, now);
            return;
        }
        Outcome::Idle { status } => {
            if let (Some(round), ItemStatus::Round(_)) = (state.round.as_mut(), status) {
                match action {
                    A::FundNextWinner { .. } => round.funded_all = true,
                    A::ReportNextProject { .. } => round.reported_all = true,
                    _ => {}
                }
            }
            return;
        }
        Outcome::Failed => return,
    };
    let petition = |state: &mut TownState| -> Option<usize> {
        let id = petition_id?;
        state.petitions.iter().position(|p| p.id == id)
    };
    match action {
        A::File { .. } => {
            forget_finished_petitions(state);
            state.petitions.push(PetitionSim {
                id: result.stream_id,
                stage: Stage::Moderation,
                // Moderation takes up to two days.
                due: Timestamp(now.0 + days(rng.gen_range(0.05..2.0))),
                busy: false,
            });
        }
        A::Publish { .. } => {
            if let Some(i) = petition(state) {
                state.petitions[i].stage = Stage::Collecting;
            }
        }
        A::Reject { .. } | A::Answer { .. } => {
            if let Some(i) = petition(state) {
                state.petitions[i].stage = Stage::Done;
            }
        }
        A::Sign { .. } => {
            if result
                .event_types
                .iter()
                .any(|t| t == "petition.threshold_reached")
                && let Some(i) = petition(state)
            {
                let p = &mut state.petitions[i];
                p.stage = Stage::ThresholdReached;
                p.due = Timestamp(now.0 + days(rng.gen_range(0.2..3.0)));
            }
        }
        A::Consider { .. } => {
            if let Some(i) = petition(state) {
                // The statute allows ten working days (about two weeks); some answers come
                // weeks late.
                let delay = if rng.gen_bool(LATE_ANSWER_SHARE) {
                    rng.gen_range(18.0..45.0)
                } else {
                    rng.gen_range(0.5..12.0)
                };
                let p = &mut state.petitions[i];
                p.stage = Stage::Considering;
                p.due = Timestamp(now.0 + days(delay));
            }
        }
        A::Announce { closes_at, .. } => {
            if state.dialogues.len() >= DIALOGUES_TRACKED_MAX {
                state.dialogues.remove(0);
            }
            state.dialogues.push(DialogueSim {
                id: result.stream_id,
                closes_at: *closes_at,
                status: pb::DialogueStatus::Announced,
                unanswered: Vec::new(),
                busy: false,
            });
        }
        A::Contribute { dialogue, .. } => {
            if let Some(d) = state.dialogues.iter_mut().find(|d| &d.id == dialogue)
                && d.unanswered.len() < CONTRIBUTIONS_TRACKED_MAX
            {
                d.unanswered.push(request_id);
            }
        }
        A::AnswerContribution { .. } => {}
        A::CloseDialogue { dialogue, .. } => {
            if let Some(d) = state.dialogues.iter_mut().find(|d| &d.id == dialogue) {
                d.status = pb::DialogueStatus::Closed;
            }
        }
        A::PublishOutcome { dialogue } => state.dialogues.retain(|d| &d.id != dialogue),
        A::AdoptPlan { end, .. } | A::DraftPlan { end, .. } => {
            state.plan = Some(PlanSim {
                id: result.stream_id,
                end: *end,
                commitments: Vec::new(),
                busy: false,
                draft: matches!(action, A::DraftPlan { .. }),
                forum: Vec::new(),
                co_chairs: 0,
            });
        }
        A::JoinForum { .. } => {
            if let Some(plan) = state.plan.as_mut() {
                plan.forum.push(request_id);
            }
        }
        A::NameCoChair { .. } => {
            if let Some(plan) = state.plan.as_mut() {
                plan.co_chairs += 1;
            }
        }
        A::AdoptDraft { .. } => {
            if let Some(plan) = state.plan.as_mut() {
                plan.draft = false;
            }
        }
        A::AddCommitment { start, end, .. } => {
            if let Some(plan) = state.plan.as_mut() {
                plan.commitments.push(CommitmentSim {
                    id: request_id,
                    start: *start,
                    end: *end,
                    milestones: Vec::new(),
                    assessed: false,
                });
            }
        }
        A::AddMilestone { commitment, .. } => {
            if let Some(c) = commitment_mut(state, commitment) {
                c.milestones
                    .push((request_id, pb::ImplementationStatus::Unspecified));
            }
        }
        A::ReportProgress {
            milestone, status, ..
        } => {
            if let Some(plan) = state.plan.as_mut() {
                for c in &mut plan.commitments {
                    for (id, s) in &mut c.milestones {
                        if id == milestone {
                            *s = *status;
                        }
                    }
                }
            }
        }
        A::Assess { commitment, .. } => {
            if let Some(c) = commitment_mut(state, commitment) {
                c.assessed = true;
            }
        }
        A::ClosePlan { .. } => state.plan = None,
        A::AnnounceRound {
            amount_uah,
            submission_closes,
            voting_opens,
            voting_closes,
            ..
        } => {
            state.round = Some(RoundSim {
                id: result.stream_id,
                amount_uah: *amount_uah,
                submission_closes: *submission_closes,
                voting_opens: *voting_opens,
                voting_closes: *voting_closes,
                projects: Vec::new(),
                reviewed: 0,
                eligible: Vec::new(),
                declared: false,
                funded_all: false,
                reported_all: false,
                busy: false,
            });
        }
        A::SubmitProject { cost_uah, .. } => {
            if let Some(round) = state.round.as_mut() {
                round.projects.push((request_id, *cost_uah));
            }
        }
        A::ReviewProject {
            project, eligible, ..
        } => {
            if let Some(round) = state.round.as_mut() {
                round.reviewed += 1;
                if *eligible {
                    round.eligible.push(project.clone());
                }
            }
        }
        A::CastBallot { .. } | A::FundNextWinner { .. } | A::ReportNextProject { .. } => {}
        A::DeclareResults { .. } => {
            if let Some(round) = state.round.as_mut() {
                round.declared = true;
            }
        }
        A::CloseRound { .. } => state.round = None,
    }
}

fn commitment_mut<'a>(state: &'a mut TownState, id: &str) -> Option<&'a mut CommitmentSim> {
    state
        .plan
        .as_mut()?
        .commitments
        .iter_mut()
        .find(|c| c.id == id)
}

/// After a refusal: take the node's word for the item's status. A refused plan command (which
/// the simulation's own bookkeeping should prevent) drops the plan; a new one is adopted.
fn refused(
    state: &mut TownState,
    action: &Action,
    petition_id: Option<&str>,
    dialogue_id: Option<&str>,
    status: Option<ItemStatus>,
    now: Timestamp,
) {
    use pb::PetitionStatus as P;
    match (status, petition_id, dialogue_id) {
        (Some(ItemStatus::Petition(status)), Some(id), _) => {
            if let Some(p) = state.petitions.iter_mut().find(|p| p.id == id) {
                let stage = match status {
                    P::AwaitingModeration => Stage::Moderation,
                    P::Collecting => Stage::Collecting,
                    P::ThresholdReached => Stage::ThresholdReached,
                    P::UnderConsideration => Stage::Considering,
                    P::Unspecified | P::Rejected | P::CollectionFailed | P::Answered => Stage::Done,
                };
                if stage != p.stage {
                    p.stage = stage;
                    p.due = now;
                }
            }
        }
        (Some(ItemStatus::Round(status)), _, _) => {
            use pb::RoundStatus as R;
            match status {
                // A closed round, or one the node no longer shows: start a new one.
                R::Closed | R::Unspecified => state.round = None,
                R::ResultsDeclared => {
                    if let Some(round) = state.round.as_mut() {
                        round.declared = true;
                    }
                }
                // Refused while open (a second ballot, a voter too young or from elsewhere, a
                // review the rules refuse): the sim moves on; a refused review is skipped.
                R::Open => {
                    if let (Some(round), Action::ReviewProject { .. }) =
                        (state.round.as_mut(), action)
                    {
                        round.reviewed += 1;
                    }
                }
            }
        }
        (Some(ItemStatus::Dialogue(status)), _, Some(id)) => {
            if status == pb::DialogueStatus::OutcomePublished {
                state.dialogues.retain(|d| d.id != id);
            } else if let Some(d) = state.dialogues.iter_mut().find(|d| d.id == id) {
                d.status = status;
            }
        }
        _ => {
            if matches!(
                action,
                Action::AddCommitment { .. }
                    | Action::AddMilestone { .. }
                    | Action::ReportProgress { .. }
                    | Action::Assess { .. }
                    | Action::ClosePlan { .. }
            ) {
                state.plan = None;
            }
        }
    }
}

/// Keeps the tracked petitions bounded: finished ones go first, then the oldest.
fn forget_finished_petitions(state: &mut TownState) {
    if state.petitions.len() < PETITIONS_TRACKED_MAX {
        return;
    }
    state.petitions.retain(|p| p.stage != Stage::Done);
    while state.petitions.len() >= PETITIONS_TRACKED_MAX {
        state.petitions.remove(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rng() -> StdRng {
        rand::SeedableRng::seed_from_u64(7)
    }

    fn accepted(stream_id: &str, event_types: &[&str]) -> Outcome {
        Outcome::Accepted {
            request_id: send::request_id(),
            result: pb::CommandResult {
                stream_id: stream_id.into(),
                event_types: event_types.iter().map(|t| (*t).to_owned()).collect(),
                ..Default::default()
            },
        }
    }

    /// Applies `action` as accepted, with `stream_id` and `event_types` in its result.
    fn accept(
        state: &mut TownState,
        action: &Action,
        stream_id: &str,
        events: &[&str],
        at: Timestamp,
    ) {
        apply(state, action, accepted(stream_id, events), at, &mut rng());
    }

    #[test]
    fn a_petition_goes_from_filing_to_an_answer_as_its_steps_fall_due() {
        let mut state = TownState::default();
        let mut rng = rng();
        let t0 = Timestamp(1_750_000_000_000_000);
        let file = petition_step(&mut state, t0, &mut rng).unwrap();
        assert!(matches!(file, Action::File { .. }));
        accept(&mut state, &file, "p1", &["petition.filed"], t0);
        assert_eq!(state.petitions[0].stage, Stage::Moderation);

        // Moderation is due within two days: publish (or reject).
        let later = Timestamp(t0.0 + days(2.1));
        let moderate = petition_step(&mut state, later, &mut rng).unwrap();
        assert!(
            matches!(moderate, Action::Publish { .. } | Action::Reject { .. }),
            "{moderate:?}"
        );
        let publish = Action::Publish {
            petition: "p1".into(),
        };
        accept(&mut state, &publish, "p1", &["petition.published"], later);
        assert_eq!(state.petitions[0].stage, Stage::Collecting);
        let sign = sign(&mut state, 1_000, &mut rng).unwrap();
        assert!(matches!(sign, Action::Sign { .. }));
        let reached = ["petition.signed", "petition.threshold_reached"];
        accept(&mut state, &sign, "p1", &reached, later);
        assert_eq!(state.petitions[0].stage, Stage::ThresholdReached);

        // Consideration within three days, the answer at most 45 days later.
        let considered = Timestamp(later.0 + days(3.1));
        let consider = petition_step(&mut state, considered, &mut rng).unwrap();
        assert!(matches!(consider, Action::Consider { .. }));
        accept(&mut state, &consider, "p1", &[], considered);
        assert_eq!(state.petitions[0].stage, Stage::Considering);
        let answer_at = Timestamp(considered.0 + days(45.1));
        let answer = petition_step(&mut state, answer_at, &mut rng).unwrap();
        assert!(matches!(answer, Action::Answer { .. }));
        accept(&mut state, &answer, "p1", &[], answer_at);
        assert_eq!(state.petitions[0].stage, Stage::Done);
    }

    #[test]
    fn a_refusal_takes_the_nodes_word_for_the_status() {
        let mut state = TownState::default();
        let mut rng = rng();
        let now = Timestamp(1_750_000_000_000_000);
        state.petitions.push(PetitionSim {
            id: "p1".into(),
            stage: Stage::Collecting,
            due: now,
            busy: false,
        });
        let sign = Action::Sign {
            petition: "p1".into(),
            citizen: 1,
        };
        let outcome = Outcome::Refused {
            status: Some(ItemStatus::Petition(pb::PetitionStatus::CollectionFailed)),
        };
        apply(&mut state, &sign, outcome, now, &mut rng);
        assert_eq!(state.petitions[0].stage, Stage::Done);
        assert!(super::sign(&mut state, 10, &mut rng).is_none());
    }

    #[test]
    fn a_dialogue_is_closed_only_after_its_closing_time_then_reported() {
        let mut state = TownState::default();
        let mut rng = rng();
        let now = Timestamp(1_750_000_000_000_000);
        let announce = dialogue_step(&mut state, now, &mut rng).unwrap();
        let Action::Announce { closes_at, .. } = announce else {
            panic!("expected an announcement, got {announce:?}");
        };
        accept(&mut state, &announce, "d1", &[], now);
        for _ in 0..20 {
            let step = dialogue_step(&mut state, now, &mut rng).unwrap();
            assert!(
                matches!(
                    step,
                    Action::Contribute { .. } | Action::AnswerContribution { .. }
                ),
                "{step:?} while open"
            );
            accept(&mut state, &step, "d1", &[], now);
        }
        let after = Timestamp(closes_at.0 + 1);
        let close = dialogue_step(&mut state, after, &mut rng).unwrap();
        assert!(matches!(close, Action::CloseDialogue { .. }));
        accept(&mut state, &close, "d1", &[], after);
        let report = dialogue_step(&mut state, after, &mut rng).unwrap();
        assert!(matches!(report, Action::PublishOutcome { .. }));
        accept(&mut state, &report, "d1", &[], after);
        assert!(state.dialogues.is_empty());
    }

    #[test]
    fn a_budget_round_goes_from_announcement_to_closing_as_its_periods_pass() {
        let mut state = TownState::default();
        let mut rng = rng();
        let start = Timestamp(1_750_000_000_000_000);
        let mut now = start;
        let mut seen = Vec::new();
        for i in 0..2_000 {
            let Some(step) = budget_step(&mut state, now, 50_000, &mut rng) else {
                // Nothing to do in this period: time moves on.
                now = Timestamp(now.0 + days(0.5));
                continue;
            };
            let name = format!("{step:?}");
            let name = name.split([' ', '{']).next().unwrap_or_default().to_owned();
            if seen.last() != Some(&name) {
                seen.push(name.clone());
            }
            match step {
                // Nothing left to fund or report: the sender found the round done.
                Action::FundNextWinner { .. } | Action::ReportNextProject { .. } if i % 3 == 0 => {
                    let status = ItemStatus::Round(pb::RoundStatus::ResultsDeclared);
                    apply(&mut state, &step, Outcome::Idle { status }, now, &mut rng);
                }
                Action::CloseRound { .. } => {
                    accept(&mut state, &step, "round", &[], now);
                    break;
                }
                _ => accept(&mut state, &step, &format!("r{i}"), &[], now),
            }
            now = Timestamp(now.0 + days(0.05));
        }
        assert_eq!(
            seen,
            [
                "AnnounceRound",
                "SubmitProject",
                "ReviewProject",
                "CastBallot",
                "DeclareResults",
                "FundNextWinner",
                "ReportNextProject",
                "CloseRound"
            ]
        );
        assert!(state.round.is_none(), "closed rounds are forgotten");
        assert!(
            now.0 - start.0 >= days(12.0),
            "voting closes after twelve days"
        );
    }

    #[test]
    fn a_plan_fills_up_is_reported_on_assessed_and_closed() {
        let mut state = TownState::default();
        let mut rng = rng();
        let now = Timestamp(1_750_000_000_000_000);
        let mut closed = false;
        for i in 0..500 {
            let Some(step) = plan_step(&mut state, now, &mut rng) else {
                continue;
            };
            let id = format!("s{i}");
            let closes = matches!(step, Action::ClosePlan { .. });
            accept(&mut state, &step, &id, &[], now);
            if closes {
                closed = true;
                break;
            }
        }
        assert!(closed, "the plan reached its close");
        assert!(state.plan.is_none());
    }

    #[test]
    fn tracked_petitions_stay_bounded() {
        let mut state = TownState::default();
        let mut rng = rng();
        let now = Timestamp(1_750_000_000_000_000);
        for i in 0..(PETITIONS_TRACKED_MAX * 3) {
            let file = Action::File { author: 1 };
            apply(
                &mut state,
                &file,
                accepted(&format!("p{i}"), &[]),
                now,
                &mut rng,
            );
        }
        assert!(state.petitions.len() <= PETITIONS_TRACKED_MAX);
    }
}
