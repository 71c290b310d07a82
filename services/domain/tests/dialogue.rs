//! Given/when/then tests of every dialogue rule, each with a passing and a refusing case.

mod fixtures;

use domain::dialogue::{
    CONTRIBUTIONS_MAX, ContributionAnswered, ContributionContent, ContributionResponse,
    ContributionSubmitted, DialogueAnnounced, DialogueClosed, DialogueCommand, DialogueEvent,
    DialogueKind, DialogueStatus, ORGANISATIONS_MAX, OutcomeReportPublished,
};
use domain::disclosure::{ContributionText, Salt};
use domain::testing::given;
use domain::{Aggregate, ContributionId, Dialogue, DomainError, Refusal, Violation};
use event_store_core::Timestamp;
use fixtures::{contribution, dialogue_id, kyiv, plus_days, plus_micros, tag};
use uuid::Uuid;

fn announced_at() -> Timestamp {
    kyiv("2024-03-01", 9, 0)
}

fn opens_at() -> Timestamp {
    kyiv("2024-03-04", 9, 0)
}

fn closes_at() -> Timestamp {
    kyiv("2024-03-18", 18, 0)
}

fn announce_command(opens_at: Timestamp, closes_at: Timestamp) -> DialogueCommand {
    DialogueCommand::Announce {
        dialogue_id: dialogue_id(),
        kind: DialogueKind::PublicHearing,
        topic: "Проєкт Генерального плану громади".into(),
        organiser: "Департамент містобудування".into(),
        opens_at,
        closes_at,
        at: announced_at(),
    }
}

fn announced() -> DialogueEvent {
    DialogueEvent::Announced(DialogueAnnounced {
        dialogue_id: dialogue_id(),
        kind: DialogueKind::PublicHearing,
        topic: "Проєкт Генерального плану громади".into(),
        organiser: "Департамент містобудування".into(),
        opens_at: opens_at(),
        closes_at: closes_at(),
        at: announced_at(),
        acted_by: None,
    })
}

/// Contribution `n`'s text, with the salt of its commitment.
fn said(n: u8) -> ContributionText {
    ContributionText {
        salt: Salt([n; 32]),
        text: "Пропоную зберегти сквер біля школи.".into(),
    }
}

fn submitted(n: u8, at: Timestamp) -> DialogueEvent {
    DialogueEvent::ContributionSubmitted(ContributionSubmitted {
        dialogue_id: dialogue_id(),
        contribution_id: contribution(n),
        author: tag(n),
        content: ContributionContent::Committed(said(n).commitment()),
        at,
    })
}

fn submit(n: u8, at: Timestamp) -> DialogueCommand {
    DialogueCommand::SubmitContribution {
        contribution_id: contribution(n),
        author: tag(n),
        text: said(n),
        at,
    }
}

fn answer(n: u8, at: Timestamp) -> DialogueCommand {
    DialogueCommand::AnswerContribution {
        contribution_id: contribution(n),
        response: ContributionResponse::PartlyAccepted,
        reason: "Сквер збережено, але в меншій площі.".into(),
        text: Some(said(n)),
        at,
    }
}

fn answered(n: u8, at: Timestamp) -> DialogueEvent {
    DialogueEvent::ContributionAnswered(ContributionAnswered {
        dialogue_id: dialogue_id(),
        contribution_id: contribution(n),
        response: ContributionResponse::PartlyAccepted,
        reason: "Сквер збережено, але в меншій площі.".into(),
        at,
        disclosure: Some(said(n)),
        acted_by: None,
    })
}

fn close(at: Timestamp) -> DialogueCommand {
    DialogueCommand::Close {
        attendance_count: 143,
        participating_organisations: vec!["ГО «Зелене місто»".into(), "ОСББ «Сонячне»".into()],
        at,
    }
}

fn closed(at: Timestamp) -> DialogueEvent {
    DialogueEvent::Closed(DialogueClosed {
        dialogue_id: dialogue_id(),
        attendance_count: 143,
        participating_organisations: vec!["ГО «Зелене місто»".into(), "ОСББ «Сонячне»".into()],
        at,
        acted_by: None,
    })
}

fn publish(at: Timestamp) -> DialogueCommand {
    DialogueCommand::PublishOutcome {
        report: "Враховано 12 пропозицій з 20.".into(),
        council_decision_ref: Some("рішення № 45/1234 від 28.03.2024".into()),
        at,
    }
}

fn outcome(at: Timestamp) -> DialogueEvent {
    DialogueEvent::OutcomePublished(OutcomeReportPublished {
        dialogue_id: dialogue_id(),
        report: "Враховано 12 пропозицій з 20.".into(),
        council_decision_ref: Some("рішення № 45/1234 від 28.03.2024".into()),
        at,
        acted_by: None,
    })
}

fn during() -> Timestamp {
    plus_days(opens_at(), 2)
}

fn after_close() -> Timestamp {
    plus_days(closes_at(), 1)
}

// --- announcement --------------------------------------------------------------------------

#[test]
fn announcing_records_kind_topic_organiser_and_window() {
    let state = given::<Dialogue>([])
        .when(announce_command(opens_at(), closes_at()))
        .then([announced()]);
    assert_eq!(state.status, DialogueStatus::Announced);
}

#[test]
fn announcing_refuses_a_bad_window_and_a_second_announcement() {
    given::<Dialogue>([])
        .when(announce_command(closes_at(), opens_at()))
        .then_error(DomainError::invalid("closes_at", Violation::EndBeforeStart));
    given::<Dialogue>([])
        .when(announce_command(opens_at(), plus_days(opens_at(), 367)))
        .then_error(DomainError::invalid(
            "closes_at",
            Violation::SpanTooLong { days_max: 366 },
        ));
    given::<Dialogue>([announced()])
        .when(announce_command(opens_at(), closes_at()))
        .then_error(DomainError::refused(Refusal::DialogueAlreadyAnnounced));
}

// --- contributions -------------------------------------------------------------------------

#[test]
fn contributions_are_accepted_while_open() {
    given::<Dialogue>([announced()])
        .when(submit(1, opens_at()))
        .then([submitted(1, opens_at())]);
    let last = plus_micros(closes_at(), -1);
    given::<Dialogue>([announced()])
        .when(submit(1, last))
        .then([submitted(1, last)]);
}

#[test]
fn contributions_are_refused_before_opening_after_closing_or_twice() {
    given::<Dialogue>([announced()])
        .when(submit(1, plus_micros(opens_at(), -1)))
        .then_error(DomainError::refused(Refusal::DialogueNotOpenYet));
    given::<Dialogue>([announced()])
        .when(submit(1, closes_at()))
        .then_error(DomainError::refused(Refusal::DialogueNotOpen));
    given::<Dialogue>([announced(), closed(during())])
        .when(submit(1, during()))
        .then_error(DomainError::refused(Refusal::DialogueNotOpen));
    given::<Dialogue>([announced(), submitted(1, during())])
        .when(submit(1, during()))
        .then_error(DomainError::refused(Refusal::DuplicateContribution));
    given::<Dialogue>([])
        .when(submit(1, during()))
        .then_error(DomainError::not_found("dialogue"));
}

// --- answers -------------------------------------------------------------------------------

#[test]
fn each_contribution_is_answered_with_a_reason() {
    let state = given::<Dialogue>([announced(), submitted(1, during())])
        .when(answer(1, after_close()))
        .then([answered(1, after_close())]);
    assert_eq!(
        state.contributions[&contribution(1)],
        Some(ContributionResponse::PartlyAccepted)
    );
    // Answers may come after the dialogue closes, while the report is being written.
    given::<Dialogue>([announced(), submitted(1, during()), closed(closes_at())])
        .when(answer(1, after_close()))
        .then([answered(1, after_close())]);
}

#[test]
fn an_accepted_contribution_discloses_its_text_and_a_rejected_one_never() {
    let history = || [announced(), submitted(1, during())];
    // Accepted, fully or partly: the committed text goes with the answer.
    given::<Dialogue>(history())
        .when(answer(1, after_close()))
        .then([answered(1, after_close())]);
    // Rejected: nothing is disclosed, even when the text is at hand.
    let rejected = DialogueCommand::AnswerContribution {
        contribution_id: contribution(1),
        response: ContributionResponse::Rejected,
        reason: "Поза межами теми.".into(),
        text: Some(said(1)),
        at: after_close(),
    };
    let events = given::<Dialogue>(history()).when(rejected).then_ok();
    let DialogueEvent::ContributionAnswered(e) = &events[0] else {
        panic!("{events:?}")
    };
    assert_eq!(e.disclosure, None);
    // Accepting needs the text (erased: refused), and exactly the committed one.
    let accept = |text| DialogueCommand::AnswerContribution {
        contribution_id: contribution(1),
        response: ContributionResponse::Accepted,
        reason: "Враховано.".into(),
        text,
        at: after_close(),
    };
    given::<Dialogue>(history())
        .when(accept(None))
        .then_error(DomainError::refused(Refusal::ContributionTextMissing));
    given::<Dialogue>(history())
        .when(accept(Some(said(2))))
        .then_error(DomainError::refused(
            Refusal::ContributionDisclosureMismatch,
        ));
}

#[test]
fn a_contribution_is_answered_once_and_must_exist() {
    given::<Dialogue>([announced(), submitted(1, during()), answered(1, during())])
        .when(answer(1, after_close()))
        .then_error(DomainError::refused(Refusal::ContributionAlreadyAnswered));
    given::<Dialogue>([announced()])
        .when(answer(1, after_close()))
        .then_error(DomainError::not_found("contribution"));
    given::<Dialogue>([announced(), submitted(1, during())])
        .when(DialogueCommand::AnswerContribution {
            contribution_id: contribution(1),
            response: ContributionResponse::Rejected,
            reason: "\t".into(),
            text: None,
            at: after_close(),
        })
        .then_error(DomainError::invalid("reason", Violation::Blank));
    given::<Dialogue>([
        announced(),
        submitted(1, during()),
        closed(closes_at()),
        outcome(after_close()),
    ])
    .when(answer(1, after_close()))
    .then_error(DomainError::refused(Refusal::OutcomeAlreadyPublished));
}

// --- closing -------------------------------------------------------------------------------

#[test]
fn closing_records_attendance_and_organisations() {
    let state = given::<Dialogue>([announced()])
        .when(close(closes_at()))
        .then([closed(closes_at())]);
    assert_eq!(state.status, DialogueStatus::Closed);
}

#[test]
fn closing_is_refused_before_opening_twice_or_with_too_many_organisations() {
    given::<Dialogue>([announced()])
        .when(close(plus_micros(opens_at(), -1)))
        .then_error(DomainError::refused(Refusal::DialogueNotStarted));
    given::<Dialogue>([announced(), closed(closes_at())])
        .when(close(after_close()))
        .then_error(DomainError::refused(Refusal::DialogueAlreadyClosed));
    let too_many = (0..=ORGANISATIONS_MAX)
        .map(|n| format!("ГО №{n}"))
        .collect();
    given::<Dialogue>([announced()])
        .when(DialogueCommand::Close {
            attendance_count: 10,
            participating_organisations: too_many,
            at: closes_at(),
        })
        .then_error(DomainError::invalid(
            "participating_organisations",
            Violation::TooMany {
                items_max: ORGANISATIONS_MAX,
            },
        ));
}

// --- outcome report ------------------------------------------------------------------------

#[test]
fn the_outcome_report_is_published_after_closing() {
    let state = given::<Dialogue>([announced(), closed(closes_at())])
        .when(publish(after_close()))
        .then([outcome(after_close())]);
    assert_eq!(state.status, DialogueStatus::OutcomePublished);
}

#[test]
fn the_outcome_report_is_refused_before_closing_and_published_once() {
    given::<Dialogue>([announced()])
        .when(publish(after_close()))
        .then_error(DomainError::refused(Refusal::DialogueNotClosed));
    given::<Dialogue>([announced(), closed(closes_at()), outcome(after_close())])
        .when(publish(after_close()))
        .then_error(DomainError::refused(Refusal::OutcomeAlreadyPublished));
}

// --- closing time and bounds ---------------------------------------------------------------

#[test]
fn closing_before_the_announced_closing_time_is_refused() {
    given::<Dialogue>([announced(), submitted(1, during())])
        .when(close(plus_micros(closes_at(), -1)))
        .then_error(DomainError::refused(Refusal::DialogueStillOpen));
    given::<Dialogue>([announced(), submitted(1, during())])
        .when(close(closes_at()))
        .then([closed(closes_at())]);
    given::<Dialogue>([announced()])
        .when(close(after_close()))
        .then([closed(after_close())]);
}

#[test]
fn contributions_are_bounded() {
    // CONTRIBUTIONS_MAX submissions, folded once; ids beyond the u8 fixtures.
    let id = |n: u32| ContributionId(Uuid::from_u128(0xc0_0000_0000 + u128::from(n)));
    let mut history = vec![announced()];
    history.extend((0..CONTRIBUTIONS_MAX - 1).map(|n| {
        DialogueEvent::ContributionSubmitted(ContributionSubmitted {
            dialogue_id: dialogue_id(),
            contribution_id: id(n),
            author: tag(1),
            content: ContributionContent::Committed(said(1).commitment()),
            at: during(),
        })
    }));
    let state = given::<Dialogue>(history).state().clone();
    let submit_id = |n| DialogueCommand::SubmitContribution {
        contribution_id: id(n),
        author: tag(2),
        text: said(2),
        at: during(),
    };
    let events = Dialogue::decide(&state, submit_id(CONTRIBUTIONS_MAX)).expect("the last one fits");
    let state = events.iter().fold(state, Dialogue::evolve);
    assert_eq!(
        Dialogue::decide(&state, submit_id(CONTRIBUTIONS_MAX + 1)),
        Err(DomainError::refused(Refusal::TooManyContributions))
    );
}

// --- time never goes backwards -------------------------------------------------------------

#[test]
fn answering_a_contribution_before_it_was_submitted_is_refused() {
    given::<Dialogue>([announced(), submitted(1, during())])
        .when(answer(1, plus_micros(during(), -1)))
        .then_error(DomainError::refused(Refusal::TimeBeforePrevious));
    given::<Dialogue>([announced(), submitted(1, during())])
        .when(answer(1, during()))
        .then([answered(1, during())]);
}

#[test]
fn a_contribution_dated_before_the_latest_event_is_refused() {
    let later = plus_days(during(), 1);
    given::<Dialogue>([announced(), submitted(1, later)])
        .when(submit(2, during()))
        .then_error(DomainError::refused(Refusal::TimeBeforePrevious));
    given::<Dialogue>([announced(), submitted(1, during())])
        .when(submit(2, later))
        .then([submitted(2, later)]);
}

#[test]
fn the_outcome_report_is_refused_before_the_closing_time() {
    given::<Dialogue>([announced(), closed(after_close())])
        .when(publish(closes_at()))
        .then_error(DomainError::refused(Refusal::TimeBeforePrevious));
    given::<Dialogue>([announced(), closed(after_close())])
        .when(publish(after_close()))
        .then([outcome(after_close())]);
}
