//! Participatory budgets (громадський бюджет): one round per stream. The council announces a
//! round under the hromada's own rules (the amount, the cost limits of one project, who may
//! vote and how many projects one ballot may choose, the submission and voting periods) →
//! residents submit projects (their text committed, not yet public) → each project is reviewed:
//! eligible (its text disclosed, checked against the commitment) or not, with the reason →
//! residents vote: one pseudonymous ballot per resident per round, for eligible projects only →
//! after voting closes, the results are computed from the round's own events → winners are
//! funded → their implementation is reported → the round closes.
//!
//! **Ballots.** A voter appears as a [`PseudonymTag`] under a key of this round
//! ([`crate::pseudonym::budget_voter_tag`]): a second ballot by the same person in a round is
//! caught, one person's ballots in two rounds are unrelated to anyone without the node's
//! secret, and an author's tag ([`crate::pseudonym::budget_author_tag`]) is unrelated to their
//! ballot's. Who may vote or submit (age, residence) is checked on what the identity provider
//! attested ([`Voter`]); neither is recorded. Every project must be reviewed before the
//! results, so none is left off the ballot without a public reason.
//!
//! **Results** ([`results`], the round's [`CountingMethod`]): eligible projects ranked by votes
//! (more first), then by approved cost (cheaper first), then by submission order; going down the ranking, each project with at
//! least one vote that fits in what is left of the round's amount wins. The declared results
//! are exactly these, so anyone replaying the round's events gets the same winners.
//!
//! As in every aggregate, a command dated before the latest event is refused; once the round is
//! closed nothing changes.

use std::collections::{BTreeMap, BTreeSet};

use event_store_core::Timestamp;
use serde::{Deserialize, Serialize};

use crate::actor::Actor;
use crate::calendar::CivilDate;
use crate::disclosure::{Commitment, ProjectText};
use crate::error::{DomainError, Refusal, Violation};
use crate::ids::{ProjectId, RoundId};
use crate::pseudonym::PseudonymTag;
use crate::stream::check_not_before_last;
use crate::text::{
    bounded_list, check_http_url, check_len, check_line, check_paragraphs, check_range,
    check_strictly_ascending, is_full,
};

/// Longest round or project title: one line.
pub const TITLE_LEN_MAX: u32 = 300;
/// Longest reference to the council's decision on the round's rules.
pub const COUNCIL_DECISION_LEN_MAX: u32 = 200;
/// Longest project description.
pub const DESCRIPTION_LEN_MAX: u32 = 10_000;
/// Longest reason a project is not eligible.
pub const REASON_LEN_MAX: u32 = 2_000;
/// Longest evidence link.
pub const EVIDENCE_LINK_LEN_MAX: u32 = 2_000;
/// Longest note on a project's implementation.
pub const NOTE_LEN_MAX: u32 = 2_000;
/// Largest amount in kopecks (10 trillion hryvnias): above the state budget, so far above any
/// hromada's whole budget (Kyiv's is about 100 billion).
pub const AMOUNT_MAX: u64 = 1_000_000_000_000_000;
/// Most projects in a round.
pub const PROJECTS_MAX: u32 = 500;
/// Projects one ballot may choose at most, whatever the round allows.
pub const VOTES_PER_BALLOT_MAX: u8 = 10;
/// Youngest voting age a round may set, and the oldest.
pub const VOTER_AGE_MIN: u8 = 14;
pub const VOTER_AGE_MAX: u8 = 35;
/// Longest round, from the opening of submissions to the close of voting.
pub const ROUND_DAYS_MAX: i64 = 366;
/// Implementation reports on one project at most.
pub const REPORTS_PER_PROJECT_MAX: u32 = 100;

const MICROS_PER_DAY: i64 = 86_400_000_000;

/// Who may vote and submit projects in a round, as the identity provider attests it.
///
/// Encoded by its variant index: append only, never reorder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Electorate {
    /// Those whose registered residence is in the hromada.
    Residents,
    /// Anyone the identity provider attests the age of.
    Anyone,
}

/// How the results are counted ([`results`]).
///
/// Encoded by its variant index: append only, never reorder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum CountingMethod {
    /// Ranked by votes, then approved cost, then submission order; down the ranking, each
    /// project with a vote that fits in what is left of the amount wins.
    GreedyByVotes,
}

/// Categories a round may offer at most.
pub const CATEGORIES_MAX: u32 = 30;
/// Longest category name.
pub const CATEGORY_LEN_MAX: u32 = 100;
/// Projects one author may submit in a round, at most, whatever the round allows.
pub const PROJECTS_PER_AUTHOR_MAX: u8 = 10;

/// The rules of one round, set by the council when it announces it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoundRules {
    /// The budget year the winners are funded from (voting in one year often funds the next).
    pub budget_year: u16,
    /// The round's amount, in kopecks: what the winners may cost together.
    pub amount: u64,
    /// The hromada's local budget for the year, in kopecks (for the round's share of it).
    pub local_budget: u64,
    /// The least and the most one project may cost, in kopecks.
    pub project_cost_min: u64,
    pub project_cost_max: u64,
    /// The youngest age at which one may vote or submit a project.
    pub voter_age_min: u8,
    /// Who may vote and submit projects.
    pub electorate: Electorate,
    /// How many projects one ballot may choose.
    pub votes_per_ballot: u8,
    /// How many projects one author may submit.
    pub projects_per_author: u8,
    /// The categories projects are submitted under, by index: one to [`CATEGORIES_MAX`] lines
    /// of at most [`CATEGORY_LEN_MAX`] characters. A project names its category by index, so
    /// no resident's free text is public before review.
    #[serde(deserialize_with = "categories")]
    pub categories: Vec<String>,
    pub counting: CountingMethod,
    pub submission_opens: Timestamp,
    pub submission_closes: Timestamp,
    pub voting_opens: Timestamp,
    pub voting_closes: Timestamp,
}

fn categories<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    bounded_list(deserializer, CATEGORIES_MAX)
}

/// Who casts a ballot or submits a project, as the identity provider attested it when they
/// signed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Voter {
    /// [`crate::pseudonym::budget_voter_tag`] of the person on this round (for a ballot), or
    /// [`crate::pseudonym::budget_author_tag`] (for a project): one person's two are
    /// unrelated, so an author known by name does not reveal their ballot.
    pub tag: PseudonymTag,
    /// Full years of age on the day of the ballot or submission ([`age_on`]); `None` when the
    /// identity provider attested no date of birth (refused: the age is a rule of the round).
    pub age: Option<u8>,
    /// Whether the identity provider attested a registered residence in the hromada (`false`
    /// when it attested none).
    pub resident: bool,
}

/// Checks a project's title and description against the bounds its disclosure is held to
/// (the node checks before keeping the text anywhere).
pub fn check_project_text(title: &str, description: &str) -> Result<(), DomainError> {
    check_line("title", title, TITLE_LEN_MAX)?;
    check_paragraphs("description", description, DESCRIPTION_LEN_MAX)
}

/// Full years of age on `on` of one born on `born` (one born on 29 February has a birthday on
/// 1 March in other years); `None` for a birth after `on`. Ages above 255 are 255.
pub fn age_on(born: CivilDate, on: CivilDate) -> Option<u8> {
    let mut years = on.year().checked_sub(born.year())?;
    if (on.month(), on.day()) < (born.month(), born.day()) {
        years -= 1;
    }
    if years < 0 {
        return None;
    }
    Some(u8::try_from(years).unwrap_or(u8::MAX))
}

/// A review's decision.
///
/// Encoded by its variant index: append only, never reorder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ReviewOutcome {
    /// On the ballot at `cost` (kopecks, within the round's limits: the commission's estimate,
    /// which may differ from the author's); its title and description made public, as
    /// committed at submission.
    Eligible { disclosure: ProjectText, cost: u64 },
    /// Not on the ballot, for this reason (the text stays private).
    Ineligible { reason: String },
}

/// How a funded project stands.
///
/// Encoded by its variant index: append only, never reorder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum ProjectStatus {
    NotStarted,
    InProgress,
    Completed,
    Cancelled,
}

impl ProjectStatus {
    /// Whether no report may follow this one.
    pub const fn is_final(self) -> bool {
        matches!(self, Self::Completed | Self::Cancelled)
    }
}

/// A request to change a round.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BudgetCommand {
    /// Announce a round in this (empty) stream.
    Announce {
        round_id: RoundId,
        title: String,
        council_decision: String,
        rules: RoundRules,
        at: Timestamp,
    },
    /// A resident submits a project: its text is committed, and public only once eligible.
    Submit {
        project_id: ProjectId,
        /// The author, checked against the round's electorate and age as a voter is.
        author: Voter,
        content: Commitment,
        /// An index into the round's categories.
        category: u8,
        /// The project's estimated cost, in kopecks.
        cost: u64,
        at: Timestamp,
    },
    /// Review a project before voting opens.
    Review {
        project_id: ProjectId,
        outcome: ReviewOutcome,
        at: Timestamp,
    },
    /// Cast a ballot for eligible projects.
    Vote {
        voter: Voter,
        /// In any order; duplicates are merged.
        projects: Vec<ProjectId>,
        at: Timestamp,
    },
    /// Declare the results once voting is over.
    DeclareResults { at: Timestamp },
    /// Fund a winning project.
    Fund {
        project_id: ProjectId,
        amount: u64,
        at: Timestamp,
    },
    /// Report how a funded project is being carried out.
    ReportProgress {
        project_id: ProjectId,
        status: ProjectStatus,
        evidence_link: Option<String>,
        note: String,
        at: Timestamp,
    },
    /// Close the round once its results are declared.
    Close { at: Timestamp },
}

/// What happened to a round.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BudgetEvent {
    Announced(RoundAnnounced),
    ProjectSubmitted(ProjectSubmitted),
    ProjectReviewed(ProjectReviewed),
    BallotCast(BallotCast),
    ResultsDeclared(ResultsDeclared),
    ProjectFunded(ProjectFunded),
    ProgressReported(ProjectProgressReported),
    Closed(RoundClosed),
}

/// The council announced a round.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoundAnnounced {
    pub round_id: RoundId,
    /// At most [`TITLE_LEN_MAX`] characters, one line.
    pub title: String,
    /// At most [`COUNCIL_DECISION_LEN_MAX`] characters, one line.
    pub council_decision: String,
    pub rules: RoundRules,
    pub at: Timestamp,
    /// Who acted for the council.
    pub acted_by: Option<Actor>,
}

/// A resident submitted a project.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectSubmitted {
    pub round_id: RoundId,
    pub project_id: ProjectId,
    pub author: PseudonymTag,
    /// The commitment to its title and description ([`ProjectText::commitment`]).
    pub content: Commitment,
    /// An index into the round's categories.
    pub category: u8,
    /// In kopecks, within the round's limits.
    pub cost: u64,
    pub at: Timestamp,
}

/// A project was reviewed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectReviewed {
    pub round_id: RoundId,
    pub project_id: ProjectId,
    pub outcome: ReviewOutcome,
    pub at: Timestamp,
    /// Who acted for the council.
    pub acted_by: Option<Actor>,
}

/// A resident voted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BallotCast {
    pub round_id: RoundId,
    pub voter: PseudonymTag,
    /// One to [`VOTES_PER_BALLOT_MAX`] projects, strictly ascending.
    #[serde(deserialize_with = "ballot_projects")]
    pub projects: Vec<ProjectId>,
    pub at: Timestamp,
}

fn ballot_projects<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<ProjectId>, D::Error> {
    bounded_list(deserializer, u32::from(VOTES_PER_BALLOT_MAX))
}

/// One project's votes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tally {
    pub project_id: ProjectId,
    pub votes: u32,
}

/// The results of the vote, as [`results`] computes them from the round's events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResultsDeclared {
    pub round_id: RoundId,
    /// Ballots cast.
    pub ballots: u32,
    /// Every eligible project, in the ranking's order.
    #[serde(deserialize_with = "tallies")]
    pub ranking: Vec<Tally>,
    /// The winners, in the ranking's order.
    #[serde(deserialize_with = "winners")]
    pub winners: Vec<ProjectId>,
    pub at: Timestamp,
    /// Who acted for the council.
    pub acted_by: Option<Actor>,
}

fn tallies<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Vec<Tally>, D::Error> {
    bounded_list(deserializer, PROJECTS_MAX)
}

fn winners<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Vec<ProjectId>, D::Error> {
    bounded_list(deserializer, PROJECTS_MAX)
}

/// A winning project was funded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectFunded {
    pub round_id: RoundId,
    pub project_id: ProjectId,
    /// In kopecks.
    pub amount: u64,
    pub at: Timestamp,
    /// Who acted for the council.
    pub acted_by: Option<Actor>,
}

/// How a funded project is being carried out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectProgressReported {
    pub round_id: RoundId,
    pub project_id: ProjectId,
    pub status: ProjectStatus,
    /// An `http(s)` URL; required for [`ProjectStatus::Completed`].
    pub evidence_link: Option<String>,
    /// At most [`NOTE_LEN_MAX`] characters; may be empty.
    pub note: String,
    pub at: Timestamp,
    /// Who acted for the council.
    pub acted_by: Option<Actor>,
}

/// The round closed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoundClosed {
    pub round_id: RoundId,
    pub at: Timestamp,
    /// Who acted for the council.
    pub acted_by: Option<Actor>,
}

/// Where a round is in its life.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum RoundStatus {
    #[default]
    NotAnnounced,
    Open,
    ResultsDeclared,
    Closed,
}

/// A project as the rules see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectState {
    /// Submission order, from 0.
    pub order: u32,
    pub content: Commitment,
    /// The author's estimate, then the approved cost once found eligible.
    pub cost: u64,
    /// `None` before review; whether it is on the ballot after.
    pub eligible: Option<bool>,
    pub votes: u32,
    pub funded: Option<u64>,
    pub status: Option<ProjectStatus>,
    pub reports: u32,
}

/// What the rules know about one round, folded from its events by [`evolve`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BudgetState {
    pub id: Option<RoundId>,
    pub status: RoundStatus,
    pub rules: Option<RoundRules>,
    pub projects: BTreeMap<ProjectId, ProjectState>,
    pub voters: BTreeSet<PseudonymTag>,
    /// Projects submitted by each author.
    pub authors: BTreeMap<PseudonymTag, u8>,
    pub ballots: u32,
    pub winners: Vec<ProjectId>,
    /// What the funded projects were given together, in kopecks.
    pub funded_total: u64,
    /// The time of the latest event; no command may be dated before it.
    pub last_event_at: Option<Timestamp>,
}

/// The ranking and the winners of a round whose votes are `state`'s: see the module docs.
pub fn results(state: &BudgetState) -> (Vec<Tally>, Vec<ProjectId>) {
    let mut eligible: Vec<(&ProjectId, &ProjectState)> = state
        .projects
        .iter()
        .filter(|(_, p)| p.eligible == Some(true))
        .collect();
    eligible.sort_by_key(|(_, p)| (std::cmp::Reverse(p.votes), p.cost, p.order));
    let mut left = state.rules.as_ref().map_or(0, |r| r.amount);
    let mut winners = Vec::new();
    for (id, project) in &eligible {
        if project.votes > 0 && project.cost <= left {
            left -= project.cost;
            winners.push(**id);
        }
    }
    let ranking = eligible
        .into_iter()
        .map(|(id, p)| Tally {
            project_id: *id,
            votes: p.votes,
        })
        .collect();
    (ranking, winners)
}

/// Checks that `event`, read from a log, is exactly what the rules decide from `state` for the
/// command it records, as an auditor replays a round: the command is rebuilt from the event
/// (a participant's age and residence, never recorded, are taken as eligible) and decided
/// again; who acted for the council is not compared. A ballot outside the voting period, a
/// second ballot by one voter, a project that was not on the ballot, results other than the
/// ballots give, funding of a project that did not win: each is refused with the rule it
/// breaks, and an event that differs from the decision in any other field is
/// [`Refusal::NotWhatTheRulesDecide`].
pub fn check_recorded(state: &BudgetState, event: &BudgetEvent) -> Result<(), DomainError> {
    let eligible = |tag| Voter {
        tag,
        age: Some(u8::MAX),
        resident: true,
    };
    let command = match event.clone() {
        BudgetEvent::Announced(e) => BudgetCommand::Announce {
            round_id: e.round_id,
            title: e.title,
            council_decision: e.council_decision,
            rules: e.rules,
            at: e.at,
        },
        BudgetEvent::ProjectSubmitted(e) => BudgetCommand::Submit {
            project_id: e.project_id,
            author: eligible(e.author),
            content: e.content,
            category: e.category,
            cost: e.cost,
            at: e.at,
        },
        BudgetEvent::ProjectReviewed(e) => BudgetCommand::Review {
            project_id: e.project_id,
            outcome: e.outcome,
            at: e.at,
        },
        BudgetEvent::BallotCast(e) => BudgetCommand::Vote {
            voter: eligible(e.voter),
            projects: e.projects,
            at: e.at,
        },
        BudgetEvent::ResultsDeclared(e) => BudgetCommand::DeclareResults { at: e.at },
        BudgetEvent::ProjectFunded(e) => BudgetCommand::Fund {
            project_id: e.project_id,
            amount: e.amount,
            at: e.at,
        },
        BudgetEvent::ProgressReported(e) => BudgetCommand::ReportProgress {
            project_id: e.project_id,
            status: e.status,
            evidence_link: e.evidence_link,
            note: e.note,
            at: e.at,
        },
        BudgetEvent::Closed(e) => BudgetCommand::Close { at: e.at },
    };
    let decided = decide(state, command)?;
    let mut recorded = event.clone();
    match &mut recorded {
        BudgetEvent::Announced(e) => e.acted_by = None,
        BudgetEvent::ProjectReviewed(e) => e.acted_by = None,
        BudgetEvent::ResultsDeclared(e) => e.acted_by = None,
        BudgetEvent::ProjectFunded(e) => e.acted_by = None,
        BudgetEvent::ProgressReported(e) => e.acted_by = None,
        BudgetEvent::Closed(e) => e.acted_by = None,
        BudgetEvent::ProjectSubmitted(_) | BudgetEvent::BallotCast(_) => {}
    }
    if decided == [recorded] {
        Ok(())
    } else {
        Err(DomainError::refused(Refusal::NotWhatTheRulesDecide))
    }
}

/// Decides a round command.
pub fn decide(
    state: &BudgetState,
    command: BudgetCommand,
) -> Result<Vec<BudgetEvent>, DomainError> {
    let refused = |rule| Err(DomainError::refused(rule));
    if let BudgetCommand::Announce {
        round_id,
        title,
        council_decision,
        rules,
        at,
    } = command
    {
        if state.status != RoundStatus::NotAnnounced {
            return refused(Refusal::RoundAlreadyAnnounced);
        }
        let event = BudgetEvent::Announced(RoundAnnounced {
            round_id,
            title,
            council_decision,
            rules,
            at,
            acted_by: None,
        });
        event.check()?;
        return Ok(vec![event]);
    }
    let (Some(round_id), Some(rules)) = (state.id, state.rules.as_ref()) else {
        return Err(DomainError::not_found("budget round"));
    };
    check_not_before_last(state.last_event_at, command.at())?;
    if state.status == RoundStatus::Closed {
        return refused(Refusal::RoundClosed);
    }
    let project = |id: &ProjectId| {
        state
            .projects
            .get(id)
            .ok_or(DomainError::not_found("project"))
    };
    let event = match command {
        BudgetCommand::Announce { .. } => return refused(Refusal::RoundAlreadyAnnounced),
        BudgetCommand::Submit {
            project_id,
            author,
            content,
            category,
            cost,
            at,
        } => {
            if at < rules.submission_opens || at >= rules.submission_closes {
                return refused(Refusal::SubmissionNotOpen);
            }
            if state.projects.contains_key(&project_id) {
                return refused(Refusal::DuplicateProject);
            }
            if is_full(state.projects.len(), PROJECTS_MAX) {
                return refused(Refusal::TooManyProjects);
            }
            if cost < rules.project_cost_min || cost > rules.project_cost_max {
                return refused(Refusal::ProjectCostOutOfBounds);
            }
            if usize::from(category) >= rules.categories.len() {
                return refused(Refusal::UnknownCategory);
            }
            if !rules.old_enough(&author) || !rules.in_electorate(&author) {
                return refused(Refusal::AuthorNotEligible);
            }
            if state.authors.get(&author.tag).copied().unwrap_or(0) >= rules.projects_per_author {
                return refused(Refusal::TooManyProjectsByAuthor);
            }
            BudgetEvent::ProjectSubmitted(ProjectSubmitted {
                round_id,
                project_id,
                author: author.tag,
                content,
                category,
                cost,
                at,
            })
        }
        BudgetCommand::Review {
            project_id,
            outcome,
            at,
        } => {
            let p = project(&project_id)?;
            if p.eligible.is_some() {
                return refused(Refusal::ProjectAlreadyReviewed);
            }
            if at >= rules.voting_opens {
                return refused(Refusal::ReviewAfterVotingOpened);
            }
            if let ReviewOutcome::Eligible { disclosure, cost } = &outcome {
                if disclosure.commitment() != p.content {
                    return refused(Refusal::ProjectDisclosureMismatch);
                }
                if *cost < rules.project_cost_min || *cost > rules.project_cost_max {
                    return refused(Refusal::ProjectCostOutOfBounds);
                }
            }
            BudgetEvent::ProjectReviewed(ProjectReviewed {
                round_id,
                project_id,
                outcome,
                at,
                acted_by: None,
            })
        }
        BudgetCommand::Vote {
            voter,
            mut projects,
            at,
        } => {
            if at < rules.voting_opens || at >= rules.voting_closes {
                return refused(Refusal::VotingNotOpen);
            }
            if voter.age.is_none() {
                return refused(Refusal::VoterAgeNotAttested);
            }
            if !rules.old_enough(&voter) {
                return refused(Refusal::VoterTooYoung);
            }
            if !rules.in_electorate(&voter) {
                return refused(Refusal::VoterNotResident);
            }
            if state.voters.contains(&voter.tag) {
                return refused(Refusal::AlreadyVoted);
            }
            if state.ballots == u32::MAX {
                return refused(Refusal::BallotCountAtMaximum);
            }
            projects.sort_unstable();
            projects.dedup();
            if projects.is_empty() {
                return Err(DomainError::invalid("projects", Violation::Empty));
            }
            if projects.len() > usize::from(rules.votes_per_ballot) {
                return refused(Refusal::TooManyVotes);
            }
            if projects.iter().any(|id| {
                state
                    .projects
                    .get(id)
                    .is_none_or(|p| p.eligible != Some(true))
            }) {
                return refused(Refusal::ProjectNotOnBallot);
            }
            BudgetEvent::BallotCast(BallotCast {
                round_id,
                voter: voter.tag,
                projects,
                at,
            })
        }
        BudgetCommand::DeclareResults { at } => {
            if state.status == RoundStatus::ResultsDeclared {
                return refused(Refusal::ResultsAlreadyDeclared);
            }
            if at < rules.voting_closes {
                return refused(Refusal::VotingNotOver);
            }
            // Every project answered: none is left off the ballot without a reason.
            if state.projects.values().any(|p| p.eligible.is_none()) {
                return refused(Refusal::ProjectsNotReviewed);
            }
            let (ranking, winners) = results(state);
            BudgetEvent::ResultsDeclared(ResultsDeclared {
                round_id,
                ballots: state.ballots,
                ranking,
                winners,
                at,
                acted_by: None,
            })
        }
        BudgetCommand::Fund {
            project_id,
            amount,
            at,
        } => {
            let p = project(&project_id)?;
            if state.status != RoundStatus::ResultsDeclared {
                return refused(Refusal::ResultsNotDeclared);
            }
            if p.eligible != Some(true) {
                return refused(Refusal::ProjectIneligible);
            }
            if !state.winners.contains(&project_id) {
                return refused(Refusal::ProjectNotWinner);
            }
            if p.funded.is_some() {
                return refused(Refusal::ProjectAlreadyFunded);
            }
            if amount > p.cost {
                return refused(Refusal::FundingOverCost);
            }
            // Winners' approved costs fit in the amount together (`results`), so funding each
            // within its cost keeps the round within its amount.
            BudgetEvent::ProjectFunded(ProjectFunded {
                round_id,
                project_id,
                amount,
                at,
                acted_by: None,
            })
        }
        BudgetCommand::ReportProgress {
            project_id,
            status,
            evidence_link,
            note,
            at,
        } => {
            let p = project(&project_id)?;
            if p.funded.is_none() {
                return refused(Refusal::ProjectNotFunded);
            }
            if p.status.is_some_and(ProjectStatus::is_final) {
                return refused(Refusal::ProjectFinished);
            }
            if is_full(p.reports as usize, REPORTS_PER_PROJECT_MAX) {
                return refused(Refusal::TooManyProgressReports);
            }
            BudgetEvent::ProgressReported(ProjectProgressReported {
                round_id,
                project_id,
                status,
                evidence_link,
                note,
                at,
                acted_by: None,
            })
        }
        BudgetCommand::Close { at } => {
            if state.status != RoundStatus::ResultsDeclared {
                return refused(Refusal::ResultsNotDeclared);
            }
            BudgetEvent::Closed(RoundClosed {
                round_id,
                at,
                acted_by: None,
            })
        }
    };
    event.check()?;
    Ok(vec![event])
}

/// The state after one event.
pub fn evolve(mut state: BudgetState, event: &BudgetEvent) -> BudgetState {
    state.last_event_at = Some(event.at());
    match event {
        BudgetEvent::Announced(announced) => {
            state.id = Some(announced.round_id);
            state.status = RoundStatus::Open;
            state.rules = Some(announced.rules.clone());
        }
        BudgetEvent::ProjectSubmitted(submitted) => {
            let by_author = state.authors.entry(submitted.author).or_insert(0);
            *by_author = by_author.saturating_add(1);
            let order = u32::try_from(state.projects.len()).unwrap_or(u32::MAX);
            state.projects.insert(
                submitted.project_id,
                ProjectState {
                    order,
                    content: submitted.content,
                    cost: submitted.cost,
                    eligible: None,
                    votes: 0,
                    funded: None,
                    status: None,
                    reports: 0,
                },
            );
        }
        BudgetEvent::ProjectReviewed(reviewed) => {
            if let Some(p) = state.projects.get_mut(&reviewed.project_id) {
                p.eligible = Some(matches!(reviewed.outcome, ReviewOutcome::Eligible { .. }));
                if let ReviewOutcome::Eligible { cost, .. } = reviewed.outcome {
                    p.cost = cost;
                }
            }
        }
        BudgetEvent::BallotCast(ballot) => {
            state.voters.insert(ballot.voter);
            state.ballots = state.ballots.saturating_add(1);
            for id in &ballot.projects {
                if let Some(p) = state.projects.get_mut(id) {
                    p.votes = p.votes.saturating_add(1);
                }
            }
        }
        BudgetEvent::ResultsDeclared(declared) => {
            state.status = RoundStatus::ResultsDeclared;
            state.winners = declared.winners.clone();
        }
        BudgetEvent::ProjectFunded(funded) => {
            state.funded_total = state.funded_total.saturating_add(funded.amount);
            if let Some(p) = state.projects.get_mut(&funded.project_id) {
                p.funded = Some(funded.amount);
            }
        }
        BudgetEvent::ProgressReported(reported) => {
            if let Some(p) = state.projects.get_mut(&reported.project_id) {
                p.status = Some(reported.status);
                p.reports = p.reports.saturating_add(1);
            }
        }
        BudgetEvent::Closed(_) => state.status = RoundStatus::Closed,
    }
    state
}

impl BudgetCommand {
    /// When the command is made.
    pub fn at(&self) -> Timestamp {
        match self {
            Self::Announce { at, .. }
            | Self::Submit { at, .. }
            | Self::Review { at, .. }
            | Self::Vote { at, .. }
            | Self::DeclareResults { at }
            | Self::Fund { at, .. }
            | Self::ReportProgress { at, .. }
            | Self::Close { at } => *at,
        }
    }
}

impl BudgetEvent {
    /// When it happened: the `at` of the command that decided it.
    pub fn at(&self) -> Timestamp {
        match self {
            Self::Announced(e) => e.at,
            Self::ProjectSubmitted(e) => e.at,
            Self::ProjectReviewed(e) => e.at,
            Self::BallotCast(e) => e.at,
            Self::ResultsDeclared(e) => e.at,
            Self::ProjectFunded(e) => e.at,
            Self::ProgressReported(e) => e.at,
            Self::Closed(e) => e.at,
        }
    }

    /// The round this event belongs to.
    pub fn round_id(&self) -> RoundId {
        match self {
            Self::Announced(e) => e.round_id,
            Self::ProjectSubmitted(e) => e.round_id,
            Self::ProjectReviewed(e) => e.round_id,
            Self::BallotCast(e) => e.round_id,
            Self::ResultsDeclared(e) => e.round_id,
            Self::ProjectFunded(e) => e.round_id,
            Self::ProgressReported(e) => e.round_id,
            Self::Closed(e) => e.round_id,
        }
    }

    /// Checks every bound the event is written with; run on decide and on decode.
    pub(crate) fn check(&self) -> Result<(), DomainError> {
        match self {
            Self::Announced(e) => {
                check_line("title", &e.title, TITLE_LEN_MAX)?;
                check_line(
                    "council_decision",
                    &e.council_decision,
                    COUNCIL_DECISION_LEN_MAX,
                )?;
                e.rules.check()?;
                if e.rules.submission_opens < e.at {
                    return Err(DomainError::invalid(
                        "submission_opens",
                        Violation::DeadlineNotAfterStart,
                    ));
                }
                Ok(())
            }
            Self::ProjectSubmitted(e) => check_kopecks("cost", e.cost, 1, AMOUNT_MAX),
            Self::ProjectReviewed(e) => match &e.outcome {
                ReviewOutcome::Eligible { disclosure, cost } => {
                    check_kopecks("cost", *cost, 1, AMOUNT_MAX)?;
                    check_project_text(&disclosure.title, &disclosure.description)
                }
                ReviewOutcome::Ineligible { reason } => {
                    check_paragraphs("reason", reason, REASON_LEN_MAX)
                }
            },
            Self::BallotCast(e) => {
                if e.projects.is_empty() {
                    return Err(DomainError::invalid("projects", Violation::Empty));
                }
                check_len(
                    "projects",
                    e.projects.len(),
                    u32::from(VOTES_PER_BALLOT_MAX),
                )?;
                check_strictly_ascending("projects", &e.projects)
            }
            Self::ResultsDeclared(e) => {
                check_len("ranking", e.ranking.len(), PROJECTS_MAX)?;
                check_len("winners", e.winners.len(), PROJECTS_MAX)
            }
            Self::ProjectFunded(e) => check_kopecks("amount", e.amount, 1, AMOUNT_MAX),
            Self::ProgressReported(e) => {
                if !e.note.is_empty() {
                    check_paragraphs("note", &e.note, NOTE_LEN_MAX)?;
                }
                match &e.evidence_link {
                    Some(link) => check_http_url("evidence_link", link, EVIDENCE_LINK_LEN_MAX),
                    None if e.status == ProjectStatus::Completed => {
                        Err(DomainError::invalid("evidence_link", Violation::Missing))
                    }
                    None => Ok(()),
                }
            }
            Self::Closed(_) => Ok(()),
        }
    }
}

/// Checks an amount in kopecks against an inclusive range.
fn check_kopecks(field: &'static str, value: u64, min: u64, max: u64) -> Result<(), DomainError> {
    let signed = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
    check_range(field, signed(value), signed(min), signed(max))
}

impl RoundRules {
    /// Whether `who` is of the round's age (an unknown age never is).
    fn old_enough(&self, who: &Voter) -> bool {
        who.age.is_some_and(|age| age >= self.voter_age_min)
    }

    /// Whether `who` is in the round's electorate.
    fn in_electorate(&self, who: &Voter) -> bool {
        match self.electorate {
            Electorate::Residents => who.resident,
            Electorate::Anyone => true,
        }
    }

    /// Checks the rules a council may set.
    fn check(&self) -> Result<(), DomainError> {
        check_kopecks("amount", self.amount, 1, AMOUNT_MAX)?;
        check_kopecks("local_budget", self.local_budget, self.amount, AMOUNT_MAX)?;
        check_kopecks("project_cost_min", self.project_cost_min, 1, self.amount)?;
        check_kopecks(
            "project_cost_max",
            self.project_cost_max,
            self.project_cost_min,
            self.amount,
        )?;
        check_range(
            "voter_age_min",
            i64::from(self.voter_age_min),
            i64::from(VOTER_AGE_MIN),
            i64::from(VOTER_AGE_MAX),
        )?;
        check_range(
            "votes_per_ballot",
            i64::from(self.votes_per_ballot),
            1,
            i64::from(VOTES_PER_BALLOT_MAX),
        )?;
        check_range(
            "projects_per_author",
            i64::from(self.projects_per_author),
            1,
            i64::from(PROJECTS_PER_AUTHOR_MAX),
        )?;
        check_range("budget_year", i64::from(self.budget_year), 2000, 2100)?;
        if self.categories.is_empty() {
            return Err(DomainError::invalid("categories", Violation::Empty));
        }
        check_len("categories", self.categories.len(), CATEGORIES_MAX)?;
        for category in &self.categories {
            check_line("categories", category, CATEGORY_LEN_MAX)?;
        }
        let order = [
            (
                "submission_closes",
                self.submission_opens,
                self.submission_closes,
                true,
            ),
            (
                "voting_opens",
                self.submission_closes,
                self.voting_opens,
                false,
            ),
            ("voting_closes", self.voting_opens, self.voting_closes, true),
        ];
        for (field, before, after, strictly) in order {
            if after < before || (strictly && after == before) {
                return Err(DomainError::invalid(field, Violation::EndBeforeStart));
            }
        }
        let span = self.voting_closes.0.saturating_sub(self.submission_opens.0);
        if span > ROUND_DAYS_MAX * MICROS_PER_DAY {
            return Err(DomainError::invalid(
                "voting_closes",
                Violation::SpanTooLong {
                    days_max: ROUND_DAYS_MAX as u32,
                },
            ));
        }
        Ok(())
    }
}
