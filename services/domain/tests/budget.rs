//! Given/when/then tests of every participatory budget rule, each refusal with its named rule,
//! and property tests of the results and of one ballot per voter.

mod fixtures;

use domain::budget::{
    BallotCast, BudgetCommand, BudgetEvent, BudgetState, Electorate, ProjectStatus,
    ResultsDeclared, ReviewOutcome, RoundRules, RoundStatus, Tally, Voter, results,
};
use domain::disclosure::ProjectText;
use domain::testing::given;
use domain::{
    Aggregate, BudgetRound, DomainError, NodeSecret, ProjectId, PseudonymTag, Refusal, RoundId,
    Violation, budget_author_tag, budget_voter_tag,
};
use event_store_core::Timestamp;
use fixtures::samples::{numbered_project_text, round_rules, submit_project};
use fixtures::{plus_micros, project, round_id, tag, utc};
use proptest::prelude::*;

fn rules() -> RoundRules {
    round_rules()
}

fn text(n: u8) -> ProjectText {
    numbered_project_text(n)
}

fn announce() -> BudgetCommand {
    BudgetCommand::Announce {
        round_id: round_id(),
        title: "Громадський бюджет 2024".into(),
        council_decision: "рішення № 7/812".into(),
        rules: rules(),
        at: utc("2024-04-20", 9, 0),
    }
}

fn submitting() -> Timestamp {
    utc("2024-05-10", 9, 0)
}

fn reviewing() -> Timestamp {
    utc("2024-06-03", 9, 0)
}

fn voting() -> Timestamp {
    utc("2024-06-15", 9, 0)
}

fn after_voting() -> Timestamp {
    utc("2024-07-01", 9, 0)
}

fn submit(n: u8, cost: u64, at: Timestamp) -> BudgetCommand {
    submit_project(n, cost, at)
}

/// Project `n` found eligible at an approved `cost`.
fn eligible(n: u8, cost: u64) -> BudgetCommand {
    BudgetCommand::Review {
        project_id: project(n),
        outcome: ReviewOutcome::Eligible {
            disclosure: text(n),
            cost,
        },
        at: reviewing(),
    }
}

fn ineligible(n: u8) -> BudgetCommand {
    BudgetCommand::Review {
        project_id: project(n),
        outcome: ReviewOutcome::Ineligible {
            reason: "Не належить до повноважень громади.".into(),
        },
        at: reviewing(),
    }
}

fn voter(n: u8) -> Voter {
    Voter {
        tag: tag(n),
        age: Some(30),
        resident: true,
    }
}

fn vote(n: u8, projects: &[u8], at: Timestamp) -> BudgetCommand {
    BudgetCommand::Vote {
        voter: voter(n),
        projects: projects.iter().map(|&p| project(p)).collect(),
        at,
    }
}

fn declare() -> BudgetCommand {
    BudgetCommand::DeclareResults { at: after_voting() }
}

fn fund(n: u8, amount: u64) -> BudgetCommand {
    BudgetCommand::Fund {
        project_id: project(n),
        amount,
        at: after_voting(),
    }
}

fn progress(n: u8, status: ProjectStatus, link: Option<&str>) -> BudgetCommand {
    BudgetCommand::ReportProgress {
        project_id: project(n),
        status,
        evidence_link: link.map(str::to_owned),
        note: String::new(),
        at: after_voting(),
    }
}

/// The events of `commands` decided one after another in a new round; each must succeed.
#[track_caller]
fn run(commands: impl IntoIterator<Item = BudgetCommand>) -> Vec<BudgetEvent> {
    next(&[], commands)
}

/// Projects 1 (120,000 UAH), 2 (80,000) and 3 (300,000) submitted and found eligible, 4
/// (60,000) submitted and found not eligible.
fn reviewed() -> Vec<BudgetEvent> {
    run([
        announce(),
        submit(1, 12_000_000, submitting()),
        submit(2, 8_000_000, submitting()),
        submit(3, 30_000_000, submitting()),
        submit(4, 6_000_000, submitting()),
        eligible(1, 12_000_000),
        eligible(2, 8_000_000),
        eligible(3, 30_000_000),
        ineligible(4),
    ])
}

/// [`reviewed`] with two ballots: voter 1 for projects 1 and 2, voter 2 for project 1.
fn voted() -> Vec<BudgetEvent> {
    let mut events = reviewed();
    events.extend(next(
        &events,
        [vote(1, &[1, 2], voting()), vote(2, &[1], voting())],
    ));
    events
}

/// The events `commands` add after `past`, decided one after another; each must succeed.
#[track_caller]
fn next(
    past: &[BudgetEvent],
    commands: impl IntoIterator<Item = BudgetCommand>,
) -> Vec<BudgetEvent> {
    let mut state = BudgetRound::fold(past);
    let mut events = Vec::new();
    for command in commands {
        let decided = BudgetRound::decide(&state, command.clone())
            .unwrap_or_else(|e| panic!("{command:?} refused: {e}"));
        for event in decided {
            state = BudgetRound::evolve(state, &event);
            events.push(event);
        }
    }
    events
}

fn declared() -> Vec<BudgetEvent> {
    let mut events = voted();
    events.extend(next(&events, [declare()]));
    events
}

fn refused(rule: Refusal) -> DomainError {
    DomainError::refused(rule)
}

#[test]
fn a_round_is_announced_once_under_rules_that_make_sense() {
    given::<BudgetRound>([]).when(announce()).then_ok();
    given::<BudgetRound>(run([announce()]))
        .when(announce())
        .then_error(refused(Refusal::RoundAlreadyAnnounced));
    let mut backwards = rules();
    backwards.voting_opens = plus_micros(backwards.submission_closes, -1);
    given::<BudgetRound>([])
        .when(BudgetCommand::Announce {
            round_id: round_id(),
            title: "Бюджет".into(),
            council_decision: "№ 1".into(),
            rules: rules(),
            at: plus_micros(rules().submission_opens, 1),
        })
        .then_error(DomainError::invalid(
            "submission_opens",
            Violation::DeadlineNotAfterStart,
        ));
    given::<BudgetRound>([])
        .when(BudgetCommand::Announce {
            round_id: round_id(),
            title: "Бюджет".into(),
            council_decision: "№ 1".into(),
            rules: backwards,
            at: utc("2024-04-20", 9, 0),
        })
        .then_error(DomainError::invalid(
            "voting_opens",
            Violation::EndBeforeStart,
        ));
    let mut young = rules();
    young.voter_age_min = 12;
    given::<BudgetRound>([])
        .when(BudgetCommand::Announce {
            round_id: round_id(),
            title: "Бюджет".into(),
            council_decision: "№ 1".into(),
            rules: young,
            at: utc("2024-04-20", 9, 0),
        })
        .then_error(DomainError::invalid(
            "voter_age_min",
            Violation::OutOfRange { min: 14, max: 35 },
        ));
    let mut dear = rules();
    dear.project_cost_max = dear.amount + 1;
    let refused_rules = BudgetRound::decide(
        &BudgetState::default(),
        BudgetCommand::Announce {
            round_id: round_id(),
            title: "Бюджет".into(),
            council_decision: "№ 1".into(),
            rules: dear,
            at: utc("2024-04-20", 9, 0),
        },
    );
    assert!(
        matches!(
            refused_rules,
            Err(DomainError::Invalid {
                field: "project_cost_max",
                ..
            })
        ),
        "{refused_rules:?}"
    );
}

#[test]
fn projects_are_submitted_only_while_submissions_are_open_and_within_the_cost_limits() {
    let announced = run([announce()]);
    given::<BudgetRound>(announced.clone())
        .when(submit(1, 12_000_000, submitting()))
        .then_ok();
    given::<BudgetRound>(announced.clone())
        .when(submit(
            1,
            12_000_000,
            plus_micros(rules().submission_opens, -1),
        ))
        .then_error(refused(Refusal::SubmissionNotOpen));
    given::<BudgetRound>(announced.clone())
        .when(submit(1, 12_000_000, rules().submission_closes))
        .then_error(refused(Refusal::SubmissionNotOpen));
    given::<BudgetRound>(announced.clone())
        .when(submit(1, rules().project_cost_min - 1, submitting()))
        .then_error(refused(Refusal::ProjectCostOutOfBounds));
    given::<BudgetRound>(announced.clone())
        .when(submit(1, rules().project_cost_max + 1, submitting()))
        .then_error(refused(Refusal::ProjectCostOutOfBounds));
    given::<BudgetRound>(run([announce(), submit(1, 12_000_000, submitting())]))
        .when(submit(1, 12_000_000, submitting()))
        .then_error(refused(Refusal::DuplicateProject));
}

#[test]
fn a_review_discloses_exactly_the_committed_text_once_and_before_voting() {
    let submitted = run([announce(), submit(1, 12_000_000, submitting())]);
    given::<BudgetRound>(submitted.clone())
        .when(eligible(1, 12_000_000))
        .then_ok();
    given::<BudgetRound>(submitted.clone())
        .when(BudgetCommand::Review {
            project_id: project(1),
            outcome: ReviewOutcome::Eligible {
                disclosure: ProjectText {
                    title: "Інший проєкт".into(),
                    ..text(1)
                },
                cost: 12_000_000,
            },
            at: reviewing(),
        })
        .then_error(refused(Refusal::ProjectDisclosureMismatch));
    given::<BudgetRound>(submitted.clone())
        .when(BudgetCommand::Review {
            project_id: project(1),
            outcome: ReviewOutcome::Eligible {
                disclosure: text(1),
                cost: 12_000_000,
            },
            at: rules().voting_opens,
        })
        .then_error(refused(Refusal::ReviewAfterVotingOpened));
    let mut reviewed_once = submitted.clone();
    reviewed_once.extend(next(&submitted, [ineligible(1)]));
    given::<BudgetRound>(reviewed_once)
        .when(eligible(1, 12_000_000))
        .then_error(refused(Refusal::ProjectAlreadyReviewed));
    given::<BudgetRound>(submitted)
        .when(eligible(9, 12_000_000))
        .then_error(DomainError::not_found("project"));
}

#[test]
fn a_vote_outside_the_round_is_refused() {
    given::<BudgetRound>(reviewed())
        .when(vote(1, &[1], plus_micros(rules().voting_opens, -1)))
        .then_error(refused(Refusal::VotingNotOpen));
    given::<BudgetRound>(reviewed())
        .when(vote(1, &[1], rules().voting_closes))
        .then_error(refused(Refusal::VotingNotOpen));
    given::<BudgetRound>(reviewed())
        .when(vote(1, &[1], plus_micros(rules().voting_closes, -1)))
        .then_ok();
}

#[test]
fn a_second_ballot_is_refused_and_ballots_choose_only_what_is_on_the_ballot() {
    let once = voted();
    given::<BudgetRound>(once.clone())
        .when(vote(1, &[3], voting()))
        .then_error(refused(Refusal::AlreadyVoted));
    given::<BudgetRound>(reviewed())
        .when(vote(5, &[4], voting()))
        .then_error(refused(Refusal::ProjectNotOnBallot));
    given::<BudgetRound>(reviewed())
        .when(vote(5, &[9], voting()))
        .then_error(refused(Refusal::ProjectNotOnBallot));
    given::<BudgetRound>(reviewed())
        .when(vote(5, &[], voting()))
        .then_error(DomainError::invalid("projects", Violation::Empty));
    // Duplicates merge; four different projects are more than the round's three.
    let merged = given::<BudgetRound>(reviewed())
        .when(vote(5, &[2, 1, 2], voting()))
        .then_ok();
    assert_eq!(
        merged,
        vec![BudgetEvent::BallotCast(BallotCast {
            round_id: round_id(),
            voter: tag(5),
            projects: vec![project(1), project(2)],
            at: voting(),
        })]
    );
    let mut four = rules();
    four.votes_per_ballot = 2;
    let mut narrow = reviewed();
    if let BudgetEvent::Announced(a) = &mut narrow[0] {
        a.rules = four;
    }
    given::<BudgetRound>(narrow)
        .when(vote(5, &[1, 2, 3], voting()))
        .then_error(refused(Refusal::TooManyVotes));
}

#[test]
fn only_those_the_round_lets_vote_may_vote() {
    let too_young = Voter {
        age: Some(rules().voter_age_min - 1),
        ..voter(5)
    };
    given::<BudgetRound>(reviewed())
        .when(BudgetCommand::Vote {
            voter: too_young,
            projects: vec![project(1)],
            at: voting(),
        })
        .then_error(refused(Refusal::VoterTooYoung));
    // No attested date of birth: the age is unknown, and a round always has an age rule.
    given::<BudgetRound>(reviewed())
        .when(BudgetCommand::Vote {
            voter: Voter {
                age: None,
                ..voter(5)
            },
            projects: vec![project(1)],
            at: voting(),
        })
        .then_error(refused(Refusal::VoterAgeNotAttested));
    let visitor = Voter {
        resident: false,
        ..voter(5)
    };
    given::<BudgetRound>(reviewed())
        .when(BudgetCommand::Vote {
            voter: visitor,
            projects: vec![project(1)],
            at: voting(),
        })
        .then_error(refused(Refusal::VoterNotResident));
    let mut open = rules();
    open.electorate = Electorate::Anyone;
    let mut anyone = reviewed();
    if let BudgetEvent::Announced(a) = &mut anyone[0] {
        a.rules = open;
    }
    given::<BudgetRound>(anyone)
        .when(BudgetCommand::Vote {
            voter: visitor,
            projects: vec![project(1)],
            at: voting(),
        })
        .then_ok();
}

#[test]
fn results_come_after_voting_once_and_rank_by_votes_within_the_amount() {
    given::<BudgetRound>(voted())
        .when(BudgetCommand::DeclareResults {
            at: plus_micros(rules().voting_closes, -1),
        })
        .then_error(refused(Refusal::VotingNotOver));
    // Project 1 has two votes, project 2 one, project 3 none (a project nobody chose never
    // wins); 1,000,000 UAH covers 1 and 2.
    given::<BudgetRound>(voted())
        .when(declare())
        .then([BudgetEvent::ResultsDeclared(ResultsDeclared {
            round_id: round_id(),
            ballots: 2,
            ranking: vec![
                Tally {
                    project_id: project(1),
                    votes: 2,
                },
                Tally {
                    project_id: project(2),
                    votes: 1,
                },
                Tally {
                    project_id: project(3),
                    votes: 0,
                },
            ],
            winners: vec![project(1), project(2)],
            at: after_voting(),
            acted_by: None,
        })]);
    given::<BudgetRound>(declared())
        .when(declare())
        .then_error(refused(Refusal::ResultsAlreadyDeclared));
}

#[test]
fn a_project_that_does_not_fit_what_is_left_is_passed_over_for_one_that_does() {
    // 1,000,000 UAH: project 1 (300,000 UAH, 3 votes), 2 (300,000, 3 votes, later), 3
    // (300,000, 2 votes), 4 (300,000, 1 vote) and 5 (50,000, 1 vote).
    let mut events = run([
        announce(),
        submit(1, 30_000_000, submitting()),
        submit(2, 30_000_000, submitting()),
        submit(3, 30_000_000, submitting()),
        submit(4, 30_000_000, submitting()),
        submit(5, 5_000_000, submitting()),
        eligible(1, 30_000_000),
        eligible(2, 30_000_000),
        eligible(3, 30_000_000),
        eligible(4, 30_000_000),
        eligible(5, 5_000_000),
    ]);
    events.extend(next(
        &events,
        [
            vote(1, &[1, 2, 3], voting()),
            vote(2, &[1, 2, 3], voting()),
            vote(3, &[1, 2, 4], voting()),
            vote(4, &[5], voting()),
        ],
    ));
    let state = BudgetRound::fold(&events);
    let (ranking, winners) = results(&state);
    let order: Vec<ProjectId> = ranking.iter().map(|t| t.project_id).collect();
    // Equal votes: the cheaper first, then the earlier.
    assert_eq!(order, [1, 2, 3, 5, 4].map(project).to_vec());
    // 1, 2 and 3 take 900,000; 4 does not fit the 100,000 left, 5 does.
    assert_eq!(
        winners,
        vec![project(1), project(2), project(3), project(5)]
    );
}

#[test]
fn only_a_winner_is_funded_once_within_the_amount() {
    let declared = declared();
    given::<BudgetRound>(voted())
        .when(fund(1, 12_000_000))
        .then_error(refused(Refusal::ResultsNotDeclared));
    given::<BudgetRound>(declared.clone())
        .when(fund(4, 6_000_000))
        .then_error(refused(Refusal::ProjectIneligible));
    given::<BudgetRound>(declared.clone())
        .when(fund(3, 30_000_000))
        .then_error(refused(Refusal::ProjectNotWinner));
    // Within the approved cost (120,000 UAH), not the author's estimate or the amount.
    given::<BudgetRound>(declared.clone())
        .when(fund(1, 12_000_001))
        .then_error(refused(Refusal::FundingOverCost));
    let mut funded = declared.clone();
    funded.extend(next(&declared, [fund(1, 12_000_000)]));
    given::<BudgetRound>(funded.clone())
        .when(fund(1, 1))
        .then_error(refused(Refusal::ProjectAlreadyFunded));
    given::<BudgetRound>(funded)
        .when(fund(2, 8_000_000))
        .then_ok();
}

#[test]
fn authors_take_part_as_voters_do_within_the_round_s_limits() {
    let announced = run([announce()]);
    let by = |n: u8, age: u8, resident: bool, category: u8| BudgetCommand::Submit {
        project_id: project(n),
        author: Voter {
            tag: tag(0x41),
            age: Some(age),
            resident,
        },
        content: text(n).commitment(),
        category,
        cost: 12_000_000,
        at: submitting(),
    };
    given::<BudgetRound>(announced.clone())
        .when(by(1, rules().voter_age_min - 1, true, 0))
        .then_error(refused(Refusal::AuthorNotEligible));
    given::<BudgetRound>(announced.clone())
        .when(by(1, 30, false, 0))
        .then_error(refused(Refusal::AuthorNotEligible));
    given::<BudgetRound>(announced.clone())
        .when(BudgetCommand::Submit {
            project_id: project(1),
            author: Voter {
                tag: tag(0x41),
                age: None,
                resident: true,
            },
            content: text(1).commitment(),
            category: 0,
            cost: 12_000_000,
            at: submitting(),
        })
        .then_error(refused(Refusal::AuthorNotEligible));
    given::<BudgetRound>(announced.clone())
        .when(by(1, 30, true, rules().categories.len() as u8))
        .then_error(refused(Refusal::UnknownCategory));
    // Two projects per author in the sample round: a third by the same person is refused.
    let mut two = announced.clone();
    two.extend(next(&announced, [by(1, 30, true, 0), by(2, 30, true, 1)]));
    given::<BudgetRound>(two)
        .when(by(3, 30, true, 2))
        .then_error(refused(Refusal::TooManyProjectsByAuthor));
}

#[test]
fn a_review_approves_a_cost_within_the_limits_and_every_project_is_answered_before_results() {
    let submitted = run([announce(), submit(1, 12_000_000, submitting())]);
    given::<BudgetRound>(submitted.clone())
        .when(eligible(1, rules().project_cost_max + 1))
        .then_error(refused(Refusal::ProjectCostOutOfBounds));
    // Project 1 reviewed, project 2 never: no results while it waits for an answer.
    let mut events = run([
        announce(),
        submit(1, 12_000_000, submitting()),
        submit(2, 8_000_000, submitting()),
        eligible(1, 9_000_000),
    ]);
    events.extend(next(&events, [vote(1, &[1], voting())]));
    given::<BudgetRound>(events.clone())
        .when(declare())
        .then_error(refused(Refusal::ProjectsNotReviewed));
    let state = BudgetRound::fold(&events);
    assert_eq!(
        state.projects[&project(1)].cost,
        9_000_000,
        "the approved cost counts"
    );
}

#[test]
fn only_funded_projects_report_progress_and_a_finished_one_no_more() {
    let declared = declared();
    given::<BudgetRound>(declared.clone())
        .when(progress(1, ProjectStatus::InProgress, None))
        .then_error(refused(Refusal::ProjectNotFunded));
    let mut funded = declared.clone();
    funded.extend(next(&declared, [fund(1, 12_000_000)]));
    given::<BudgetRound>(funded.clone())
        .when(progress(1, ProjectStatus::Completed, None))
        .then_error(DomainError::invalid("evidence_link", Violation::Missing));
    let mut completed = funded.clone();
    completed.extend(next(
        &funded,
        [progress(
            1,
            ProjectStatus::Completed,
            Some("https://example.gov.ua/bike"),
        )],
    ));
    given::<BudgetRound>(completed)
        .when(progress(1, ProjectStatus::InProgress, None))
        .then_error(refused(Refusal::ProjectFinished));
}

#[test]
fn a_closed_round_changes_no_more() {
    given::<BudgetRound>(voted())
        .when(BudgetCommand::Close { at: after_voting() })
        .then_error(refused(Refusal::ResultsNotDeclared));
    let declared = declared();
    let mut closed = declared.clone();
    closed.extend(next(
        &declared,
        [BudgetCommand::Close { at: after_voting() }],
    ));
    assert_eq!(BudgetRound::fold(&closed).status, RoundStatus::Closed);
    for amendment in [
        fund(1, 12_000_000),
        progress(1, ProjectStatus::InProgress, None),
        declare(),
        BudgetCommand::Close { at: after_voting() },
        vote(9, &[1], after_voting()),
    ] {
        given::<BudgetRound>(closed.clone())
            .when(amendment)
            .then_error(refused(Refusal::RoundClosed));
    }
}

#[test]
fn time_never_goes_backwards_and_an_unannounced_round_has_nothing() {
    given::<BudgetRound>(reviewed())
        .when(submit(7, 12_000_000, submitting()))
        .then_error(refused(Refusal::TimeBeforePrevious));
    given::<BudgetRound>([])
        .when(submit(1, 12_000_000, submitting()))
        .then_error(DomainError::not_found("budget round"));
}

#[test]
fn a_voter_is_one_tag_in_a_round_and_unlinkable_across_rounds_and_from_their_projects() {
    let secret = NodeSecret::from_bytes([9; 32]);
    let other_round = RoundId(uuid::Uuid::from_u128(42));
    let a = budget_voter_tag(&secret, round_id(), "subject-1");
    assert_eq!(a, budget_voter_tag(&secret, round_id(), "subject-1"));
    assert_ne!(a, budget_voter_tag(&secret, other_round, "subject-1"));
    assert_ne!(a, budget_voter_tag(&secret, round_id(), "subject-2"));
    assert_ne!(
        a,
        budget_author_tag(&secret, round_id(), "subject-1"),
        "an author's tag does not reveal their ballot"
    );
    let petition = domain::petition_tag(&secret, domain::PetitionId(round_id().0), "subject-1");
    assert_ne!(
        a, petition,
        "a round's key is not a petition's of the same id"
    );
}

/// A round with `costs.len()` eligible projects and these ballots (each a set of indexes).
fn round_with(costs: &[u64], ballots: &[Vec<usize>]) -> BudgetState {
    let mut commands = vec![announce()];
    for (i, cost) in costs.iter().enumerate() {
        commands.push(submit(i as u8 + 1, *cost, submitting()));
    }
    for (i, cost) in costs.iter().enumerate() {
        commands.push(eligible(i as u8 + 1, *cost));
    }
    for (v, ballot) in ballots.iter().enumerate() {
        let projects: Vec<u8> = ballot.iter().map(|i| *i as u8 + 1).collect();
        commands.push(BudgetCommand::Vote {
            voter: Voter {
                tag: PseudonymTag([v as u8; 32]),
                age: Some(40),
                resident: true,
            },
            projects: projects.into_iter().map(project).collect(),
            at: voting(),
        });
    }
    BudgetRound::fold(&run(commands))
}

proptest! {
    /// The results agree with the ballots counted again from scratch: every eligible project
    /// ranked once with its votes, by votes; the winners within the amount; any project left
    /// out with a vote did not fit in what the better-ranked winners left.
    #[test]
    fn results_follow_from_the_ballots(
        costs in prop::collection::vec(5_000_000u64..=30_000_000, 1..8),
        picks in prop::collection::vec(prop::collection::btree_set(0usize..8, 1..=3), 0..30),
    ) {
        let ballots: Vec<Vec<usize>> = picks
            .into_iter()
            .map(|b| b.into_iter().filter(|i| *i < costs.len()).collect::<Vec<_>>())
            .filter(|b| !b.is_empty())
            .collect();
        let state = round_with(&costs, &ballots);
        let (ranking, winners) = results(&state);
        prop_assert_eq!(ranking.len(), costs.len());
        for tally in &ranking {
            let i = costs.iter().enumerate().position(|(i, _)| project(i as u8 + 1) == tally.project_id).unwrap();
            let counted = ballots.iter().filter(|b| b.contains(&i)).count() as u32;
            prop_assert_eq!(tally.votes, counted);
        }
        prop_assert!(ranking.windows(2).all(|w| w[0].votes >= w[1].votes));
        let cost_of = |id: &ProjectId| state.projects[id].cost;
        let spent: u64 = winners.iter().map(cost_of).sum();
        prop_assert!(spent <= rules().amount);
        let mut left = rules().amount;
        for tally in &ranking {
            if winners.contains(&tally.project_id) {
                prop_assert!(tally.votes > 0);
                left -= cost_of(&tally.project_id);
            } else if tally.votes > 0 {
                prop_assert!(cost_of(&tally.project_id) > left, "{:?} fitted", tally);
            }
        }
    }

    /// However often people try, each casts one ballot per round.
    #[test]
    fn one_ballot_per_voter(voters in prop::collection::vec(0u8..6, 1..40)) {
        let mut state = BudgetRound::fold(&reviewed());
        let mut cast = 0;
        for v in &voters {
            match BudgetRound::decide(&state, vote(*v, &[1], voting())) {
                Ok(events) => {
                    cast += 1;
                    for event in &events {
                        state = BudgetRound::evolve(state, event);
                    }
                }
                Err(e) => prop_assert_eq!(e, refused(Refusal::AlreadyVoted)),
            }
        }
        let distinct: std::collections::BTreeSet<u8> = voters.iter().copied().collect();
        prop_assert_eq!(cast, distinct.len());
        prop_assert_eq!(state.ballots as usize, distinct.len());
    }
}

#[test]
fn age_is_counted_in_full_years_on_the_day() {
    use domain::budget::age_on;
    use domain::calendar::CivilDate;
    let d = |y, m, d| CivilDate::new(y, m, d).unwrap();
    assert_eq!(age_on(d(2010, 6, 15), d(2026, 6, 14)), Some(15));
    assert_eq!(age_on(d(2010, 6, 15), d(2026, 6, 15)), Some(16));
    // Born on 29 February: a year older on 1 March of other years.
    assert_eq!(age_on(d(2012, 2, 29), d(2026, 2, 28)), Some(13));
    assert_eq!(age_on(d(2012, 2, 29), d(2026, 3, 1)), Some(14));
    assert_eq!(age_on(d(2027, 1, 1), d(2026, 12, 31)), None);
    assert_eq!(age_on(d(2026, 12, 31), d(2026, 12, 31)), Some(0));
    assert_eq!(age_on(d(1, 1, 1), d(2026, 1, 1)), Some(255));
}

#[test]
fn a_recorded_event_holds_only_if_it_is_what_the_rules_decide() {
    use domain::budget::{BudgetState, check_recorded, evolve};
    let fold = |events: &[BudgetEvent]| events.iter().fold(BudgetState::default(), evolve);
    // Every event of a genuine round holds, in order.
    let declared = declared();
    for (i, event) in declared.iter().enumerate() {
        assert_eq!(
            check_recorded(&fold(&declared[..i]), event),
            Ok(()),
            "event {i}"
        );
    }
    let voted = voted();
    let state = fold(&voted);
    // A second ballot by a voter who voted: the rule it breaks.
    let again = voted.last().unwrap().clone();
    assert_eq!(
        check_recorded(&state, &again),
        Err(refused(Refusal::AlreadyVoted))
    );
    // Results other than the ballots give.
    let BudgetEvent::ResultsDeclared(mut forged) = declared.last().unwrap().clone() else {
        panic!("the last event declares the results");
    };
    forged.winners.reverse();
    forged.winners.push(project(3));
    assert_eq!(
        check_recorded(&state, &BudgetEvent::ResultsDeclared(forged)),
        Err(refused(Refusal::NotWhatTheRulesDecide))
    );
    // Who acted for the council is not compared.
    let BudgetEvent::ResultsDeclared(mut signed) = declared.last().unwrap().clone() else {
        panic!("the last event declares the results");
    };
    signed.acted_by = Some(domain::Actor {
        role: domain::StaffRole::Coordinator,
        kind: domain::ActorKind::Staff,
        tag: PseudonymTag([9; 32]),
    });
    assert_eq!(
        check_recorded(&state, &BudgetEvent::ResultsDeclared(signed)),
        Ok(())
    );
}
