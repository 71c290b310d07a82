//! Given/when/then tests of every petition rule, each with a passing and a refusing case, on
//! the real statutes: Kyiv 6,000 signatures in 60 days, Koryukivka 100 in 60, national
//! petitions 25,000 in 90, and the law's 10 working days to answer.

mod fixtures;

use domain::disclosure::{PetitionText, Salt};
use domain::petition::PetitionContent;
use domain::petition::{
    AnswerDecision, CATEGORY_LEN_MAX, CollectionClosedWithoutThreshold, ConsiderationStarted,
    IMPLEMENTATION_UPDATES_MAX, ImplementationUpdated, PETITION_TEXT_LEN_MAX, PetitionAnswered,
    PetitionCommand, PetitionEvent, PetitionFiled, PetitionPublished, PetitionRejected,
    PetitionSigned, PetitionState, PetitionStatus, SignatureThresholdReached, StatuteRule,
    TITLE_LEN_MAX, answered_within_deadline, moderated_within_deadline,
};
use domain::testing::given;
use domain::{Aggregate, DomainError, Petition, Refusal, Violation};
use event_store_core::Timestamp;
use fixtures::{
    calendar_with, date, kyiv, petition_id, plus_days, plus_micros, tag, weekdays_only, wide_tag,
};

/// Filed on Friday 2024-05-03 at 15:00 Kyiv.
fn filed_at() -> Timestamp {
    kyiv("2024-05-03", 15, 0)
}

/// Published on Monday 2024-05-06 at 10:00 Kyiv.
fn published_at() -> Timestamp {
    kyiv("2024-05-06", 10, 0)
}

/// The petition's title and text, with the salt of their commitment.
fn text() -> PetitionText {
    PetitionText {
        salt: Salt([3; 32]),
        title: "Облаштувати велодоріжку на Хрещатику".into(),
        text: "Просимо облаштувати велодоріжку.\nДякуємо.".into(),
    }
}

fn file_command() -> PetitionCommand {
    PetitionCommand::File {
        petition_id: petition_id(),
        author: tag(1),
        text: text(),
        category: "транспорт".into(),
        at: filed_at(),
        calendar: weekdays_only(),
    }
}

fn filed() -> PetitionEvent {
    PetitionEvent::Filed(PetitionFiled {
        petition_id: petition_id(),
        author: tag(1),
        content: PetitionContent::Committed(text().commitment()),
        category: "транспорт".into(),
        at: filed_at(),
        moderation_due: date("2024-05-07"),
    })
}

fn published(rule: StatuteRule) -> PetitionEvent {
    PetitionEvent::Published(PetitionPublished {
        petition_id: petition_id(),
        rule,
        at: published_at(),
        disclosure: Some(text()),
        acted_by: None,
    })
}

fn signed(signer: domain::PseudonymTag, at: Timestamp) -> PetitionEvent {
    PetitionEvent::Signed(PetitionSigned {
        petition_id: petition_id(),
        signer,
        at,
    })
}

fn threshold_reached(count: u32, at: Timestamp) -> PetitionEvent {
    PetitionEvent::ThresholdReached(SignatureThresholdReached {
        petition_id: petition_id(),
        signature_count: count,
        at,
    })
}

/// Filed, published under `rule`, and signed by `count` distinct signers on day one.
fn collecting(rule: StatuteRule, count: u32) -> Vec<PetitionEvent> {
    let mut events = vec![filed(), published(rule)];
    let at = plus_days(published_at(), 1);
    events.extend((0..count).map(|n| signed(wide_tag(n), at)));
    if count >= rule.signature_threshold {
        events.push(threshold_reached(rule.signature_threshold, at));
    }
    events
}

/// Consideration started on Monday 2024-06-03 at 10:00 Kyiv; answer due 2024-06-17.
fn considered() -> Vec<PetitionEvent> {
    let mut events = collecting(StatuteRule::KORYUKIVKA, 100);
    events.push(PetitionEvent::ConsiderationStarted(ConsiderationStarted {
        petition_id: petition_id(),
        at: kyiv("2024-06-03", 10, 0),
        answer_due: date("2024-06-17"),
        acted_by: None,
    }));
    events
}

fn answered(decision: AnswerDecision, at: Timestamp) -> PetitionEvent {
    PetitionEvent::Answered(PetitionAnswered {
        petition_id: petition_id(),
        decision,
        response: "Підтримано. Велодоріжку включено до плану на 2025 рік.".into(),
        responder_role: "Київський міський голова".into(),
        at,
        acted_by: None,
    })
}

fn refused(rule: Refusal) -> DomainError {
    DomainError::refused(rule)
}

// --- filing --------------------------------------------------------------------------------

#[test]
fn filing_records_the_moderation_deadline_two_working_days_later() {
    let state = given::<Petition>([]).when(file_command()).then([filed()]);
    assert_eq!(state.status, PetitionStatus::AwaitingModeration);
    // Friday + 2 working days = Tuesday; with Monday listed as non-working, Wednesday.
    let PetitionCommand::File {
        petition_id,
        author,
        text,
        category,
        at,
        ..
    } = file_command()
    else {
        unreachable!()
    };
    let command = PetitionCommand::File {
        petition_id,
        author,
        text,
        category,
        at,
        calendar: calendar_with(&["2024-05-06"]),
    };
    let events = given::<Petition>([]).when(command).then_ok();
    let PetitionEvent::Filed(event) = &events[0] else {
        panic!("{events:?}")
    };
    assert_eq!(event.moderation_due, date("2024-05-08"));
}

#[test]
fn filing_refuses_bad_fields_and_a_second_filing() {
    let with_title = |title: String| {
        let PetitionCommand::File {
            petition_id,
            author,
            text,
            category,
            at,
            calendar,
            ..
        } = file_command()
        else {
            unreachable!()
        };
        PetitionCommand::File {
            petition_id,
            author,
            text: PetitionText { title, ..text },
            category,
            at,
            calendar,
        }
    };
    given::<Petition>([])
        .when(with_title("ї".repeat(201)))
        .then_error(DomainError::invalid(
            "title",
            Violation::TooLong {
                chars_max: TITLE_LEN_MAX,
            },
        ));
    given::<Petition>([])
        .when(with_title(" ".into()))
        .then_error(DomainError::invalid("title", Violation::Blank));
    given::<Petition>([])
        .when(with_title("два\nрядки".into()))
        .then_error(DomainError::invalid("title", Violation::ControlCharacter));
    given::<Petition>([])
        .when(with_title("ї".repeat(200)))
        .then_ok();
    given::<Petition>([filed()])
        .when(file_command())
        .then_error(refused(Refusal::PetitionAlreadyFiled));
}

#[test]
fn commands_on_a_petition_never_filed_find_nothing() {
    given::<Petition>([])
        .when(PetitionCommand::Sign {
            signer: tag(2),
            at: published_at(),
        })
        .then_error(DomainError::not_found("petition"));
}

// --- moderation ----------------------------------------------------------------------------

#[test]
fn publishing_captures_the_statute_rule() {
    let state = given::<Petition>([filed()])
        .when(PetitionCommand::Publish {
            rule: StatuteRule::KYIV,
            text: Some(text()),
            at: published_at(),
        })
        .then([published(StatuteRule::KYIV)]);
    assert_eq!(state.status, PetitionStatus::Collecting);
    assert_eq!(
        state.rule,
        Some(StatuteRule {
            signature_threshold: 6_000,
            collection_period_days: 60,
            answer_deadline_working_days: 10,
            rule_version: 1
        })
    );
    assert_eq!(
        state.collection_closes_at(),
        Some(plus_days(published_at(), 60))
    );
}

#[test]
fn publishing_refuses_a_bad_rule_or_a_petition_already_moderated() {
    let zero = StatuteRule {
        signature_threshold: 0,
        ..StatuteRule::KYIV
    };
    given::<Petition>([filed()])
        .when(PetitionCommand::Publish {
            rule: zero,
            text: Some(text()),
            at: published_at(),
        })
        .then_error(DomainError::invalid(
            "signature_threshold",
            Violation::OutOfRange {
                min: 1,
                max: 10_000_000,
            },
        ));
    given::<Petition>([filed(), published(StatuteRule::KYIV)])
        .when(PetitionCommand::Publish {
            rule: StatuteRule::KYIV,
            text: Some(text()),
            at: published_at(),
        })
        .then_error(refused(Refusal::PetitionNotAwaitingModeration));
}

#[test]
fn publishing_discloses_exactly_the_committed_text() {
    // Without the text (erased on a lawful request), the petition cannot be published.
    given::<Petition>([filed()])
        .when(PetitionCommand::Publish {
            rule: StatuteRule::KYIV,
            text: None,
            at: published_at(),
        })
        .then_error(refused(Refusal::PetitionTextMissing));
    // Another text, or the same under another salt, is not what was committed.
    for other in [
        PetitionText {
            text: "Інший текст.".into(),
            ..text()
        },
        PetitionText {
            salt: Salt([4; 32]),
            ..text()
        },
    ] {
        given::<Petition>([filed()])
            .when(PetitionCommand::Publish {
                rule: StatuteRule::KYIV,
                text: Some(other),
                at: published_at(),
            })
            .then_error(refused(Refusal::DisclosureMismatch));
    }
    // A petition filed under schema 1 (its text in the clear) discloses nothing more.
    let PetitionEvent::Filed(mut clear) = filed() else {
        unreachable!()
    };
    clear.content = PetitionContent::Clear {
        title: text().title,
        text: text().text,
    };
    let PetitionEvent::Published(mut expected) = published(StatuteRule::KYIV) else {
        unreachable!()
    };
    expected.disclosure = None;
    given::<Petition>([PetitionEvent::Filed(clear)])
        .when(PetitionCommand::Publish {
            rule: StatuteRule::KYIV,
            text: Some(text()),
            at: published_at(),
        })
        .then([PetitionEvent::Published(expected)]);
}

#[test]
fn rejecting_records_the_reason() {
    let rejected = PetitionEvent::Rejected(PetitionRejected {
        petition_id: petition_id(),
        reason: "Питання не належить до компетенції міської ради.".into(),
        at: published_at(),
        acted_by: None,
    });
    let state = given::<Petition>([filed()])
        .when(PetitionCommand::Reject {
            reason: "Питання не належить до компетенції міської ради.".into(),
            at: published_at(),
        })
        .then([rejected.clone()]);
    assert_eq!(state.status, PetitionStatus::Rejected);
    given::<Petition>([filed()])
        .when(PetitionCommand::Reject {
            reason: "".into(),
            at: published_at(),
        })
        .then_error(DomainError::invalid("reason", Violation::Blank));
    given::<Petition>([filed(), rejected])
        .when(PetitionCommand::Publish {
            rule: StatuteRule::KYIV,
            text: Some(text()),
            at: published_at(),
        })
        .then_error(refused(Refusal::PetitionNotAwaitingModeration));
}

#[test]
fn the_moderation_deadline_is_tracked_from_the_events() {
    let on_time = vec![filed(), published(StatuteRule::KYIV)];
    assert_eq!(moderated_within_deadline(&on_time), Some(true));
    let late = vec![
        filed(),
        PetitionEvent::Published(PetitionPublished {
            petition_id: petition_id(),
            rule: StatuteRule::KYIV,
            at: kyiv("2024-05-08", 9, 0),
            disclosure: Some(text()),
            acted_by: None,
        }),
    ];
    assert_eq!(moderated_within_deadline(&late), Some(false));
    assert_eq!(moderated_within_deadline(&[filed()]), None);
    let waiting = given::<Petition>([filed()]);
    assert!(
        !waiting
            .state()
            .moderation_overdue(kyiv("2024-05-07", 23, 59))
    );
    assert!(waiting.state().moderation_overdue(kyiv("2024-05-08", 0, 1)));
}

// --- signing -------------------------------------------------------------------------------

#[test]
fn signing_a_published_petition_records_the_signature() {
    let at = plus_days(published_at(), 3);
    let state = given::<Petition>(collecting(StatuteRule::KYIV, 0))
        .when(PetitionCommand::Sign { signer: tag(2), at })
        .then([signed(tag(2), at)]);
    assert_eq!(state.signature_count, 1);
}

#[test]
fn signing_is_refused_before_publication_and_after_rejection() {
    given::<Petition>([filed()])
        .when(PetitionCommand::Sign {
            signer: tag(2),
            at: published_at(),
        })
        .then_error(refused(Refusal::PetitionNotPublished));
    let rejected = PetitionEvent::Rejected(PetitionRejected {
        petition_id: petition_id(),
        reason: "Дублікат".into(),
        at: published_at(),
        acted_by: None,
    });
    given::<Petition>([filed(), rejected])
        .when(PetitionCommand::Sign {
            signer: tag(2),
            at: published_at(),
        })
        .then_error(refused(Refusal::PetitionNotPublished));
    // A signature timestamped before publication is refused too: publication is the
    // petition's latest event, and no command may be dated before it.
    given::<Petition>(collecting(StatuteRule::KYIV, 0))
        .when(PetitionCommand::Sign {
            signer: tag(2),
            at: plus_micros(published_at(), -1),
        })
        .then_error(refused(Refusal::TimeBeforePrevious));
}

#[test]
fn signing_is_refused_once_the_collection_period_is_over() {
    let closes_at = plus_days(published_at(), 60);
    given::<Petition>(collecting(StatuteRule::KYIV, 0))
        .when(PetitionCommand::Sign {
            signer: tag(2),
            at: plus_micros(closes_at, -1),
        })
        .then([signed(tag(2), plus_micros(closes_at, -1))]);
    given::<Petition>(collecting(StatuteRule::KYIV, 0))
        .when(PetitionCommand::Sign {
            signer: tag(2),
            at: closes_at,
        })
        .then_error(refused(Refusal::CollectionPeriodOver));
}

#[test]
fn national_petitions_collect_for_ninety_days() {
    let day_89 = plus_days(published_at(), 89);
    given::<Petition>(collecting(StatuteRule::NATIONAL, 0))
        .when(PetitionCommand::Sign {
            signer: tag(2),
            at: day_89,
        })
        .then([signed(tag(2), day_89)]);
    given::<Petition>(collecting(StatuteRule::NATIONAL, 0))
        .when(PetitionCommand::Sign {
            signer: tag(2),
            at: plus_days(published_at(), 90),
        })
        .then_error(refused(Refusal::CollectionPeriodOver));
}

#[test]
fn one_signature_per_signer() {
    let at = plus_days(published_at(), 2);
    let mut history = collecting(StatuteRule::KYIV, 0);
    history.push(signed(tag(2), at));
    given::<Petition>(history.clone())
        .when(PetitionCommand::Sign { signer: tag(2), at })
        .then_error(refused(Refusal::AlreadySigned));
    given::<Petition>(history)
        .when(PetitionCommand::Sign { signer: tag(3), at })
        .then([signed(tag(3), at)]);
}

// --- threshold -----------------------------------------------------------------------------

#[test]
fn koryukivka_threshold_is_reached_by_the_hundredth_signature_exactly_once() {
    let at = plus_days(published_at(), 5);
    let state = given::<Petition>(collecting(StatuteRule::KORYUKIVKA, 99))
        .when(PetitionCommand::Sign { signer: tag(2), at })
        .then([signed(tag(2), at), threshold_reached(100, at)]);
    assert_eq!(state.status, PetitionStatus::ThresholdReached);
    // The 101st signature is still accepted, but reaches nothing.
    let mut history = collecting(StatuteRule::KORYUKIVKA, 99);
    history.extend([signed(tag(2), at), threshold_reached(100, at)]);
    given::<Petition>(history)
        .when(PetitionCommand::Sign { signer: tag(3), at })
        .then([signed(tag(3), at)]);
    // The 99th does not reach it.
    given::<Petition>(collecting(StatuteRule::KORYUKIVKA, 98))
        .when(PetitionCommand::Sign { signer: tag(2), at })
        .then([signed(tag(2), at)]);
}

#[test]
fn kyiv_threshold_is_reached_by_the_six_thousandth_signature() {
    let at = plus_days(published_at(), 30);
    given::<Petition>(collecting(StatuteRule::KYIV, 5_998))
        .when(PetitionCommand::Sign { signer: tag(2), at })
        .then([signed(tag(2), at)]);
    given::<Petition>(collecting(StatuteRule::KYIV, 5_999))
        .when(PetitionCommand::Sign { signer: tag(2), at })
        .then([signed(tag(2), at), threshold_reached(6_000, at)]);
}

// --- closing without the threshold ---------------------------------------------------------

#[test]
fn collection_closes_without_the_threshold_at_the_end_of_the_period() {
    let closes_at = plus_days(published_at(), 60);
    let state = given::<Petition>(collecting(StatuteRule::KORYUKIVKA, 42))
        .when(PetitionCommand::CloseCollection { at: closes_at })
        .then([PetitionEvent::CollectionClosed(
            CollectionClosedWithoutThreshold {
                petition_id: petition_id(),
                signature_count: 42,
                at: closes_at,
            },
        )]);
    assert_eq!(state.status, PetitionStatus::CollectionFailed);
    let mut closed = collecting(StatuteRule::KORYUKIVKA, 42);
    closed.push(PetitionEvent::CollectionClosed(
        CollectionClosedWithoutThreshold {
            petition_id: petition_id(),
            signature_count: 42,
            at: closes_at,
        },
    ));
    given::<Petition>(closed.clone())
        .when(PetitionCommand::Sign {
            signer: tag(2),
            at: closes_at,
        })
        .then_error(refused(Refusal::CollectionPeriodOver));
    given::<Petition>(closed)
        .when(PetitionCommand::CloseCollection { at: closes_at })
        .then_error(refused(Refusal::CollectionPeriodOver));
}

#[test]
fn collection_cannot_close_early_or_after_reaching_the_threshold() {
    let closes_at = plus_days(published_at(), 60);
    given::<Petition>(collecting(StatuteRule::KORYUKIVKA, 42))
        .when(PetitionCommand::CloseCollection {
            at: plus_micros(closes_at, -1),
        })
        .then_error(refused(Refusal::CollectionPeriodNotOver));
    given::<Petition>(collecting(StatuteRule::KORYUKIVKA, 100))
        .when(PetitionCommand::CloseCollection { at: closes_at })
        .then_error(refused(Refusal::ThresholdAlreadyReached));
    given::<Petition>([filed()])
        .when(PetitionCommand::CloseCollection { at: closes_at })
        .then_error(refused(Refusal::PetitionNotPublished));
}

// --- consideration and answer --------------------------------------------------------------

#[test]
fn consideration_records_the_answer_deadline_ten_working_days_later() {
    let at = kyiv("2024-06-03", 10, 0);
    let state = given::<Petition>(collecting(StatuteRule::KORYUKIVKA, 100))
        .when(PetitionCommand::StartConsideration {
            at,
            calendar: weekdays_only(),
        })
        .then([PetitionEvent::ConsiderationStarted(ConsiderationStarted {
            petition_id: petition_id(),
            at,
            answer_due: date("2024-06-17"),
            acted_by: None,
        })]);
    assert_eq!(state.status, PetitionStatus::UnderConsideration);
    // A non-working day inside the term moves the deadline.
    let events = given::<Petition>(collecting(StatuteRule::KORYUKIVKA, 100))
        .when(PetitionCommand::StartConsideration {
            at,
            calendar: calendar_with(&["2024-06-10"]),
        })
        .then_ok();
    let PetitionEvent::ConsiderationStarted(started) = &events[0] else {
        panic!()
    };
    assert_eq!(started.answer_due, date("2024-06-18"));
}

#[test]
fn consideration_needs_the_threshold_and_starts_once() {
    let at = kyiv("2024-06-03", 10, 0);
    given::<Petition>(collecting(StatuteRule::KORYUKIVKA, 99))
        .when(PetitionCommand::StartConsideration {
            at,
            calendar: weekdays_only(),
        })
        .then_error(refused(Refusal::ThresholdNotReached));
    given::<Petition>(considered())
        .when(PetitionCommand::StartConsideration {
            at,
            calendar: weekdays_only(),
        })
        .then_error(refused(Refusal::ConsiderationAlreadyStarted));
}

#[test]
fn signing_ends_when_consideration_starts() {
    given::<Petition>(considered())
        .when(PetitionCommand::Sign {
            signer: tag(2),
            at: kyiv("2024-06-04", 10, 0),
        })
        .then_error(refused(Refusal::CollectionEnded));
}

#[test]
fn answering_records_decision_response_and_role() {
    let at = kyiv("2024-06-14", 16, 0);
    let state = given::<Petition>(considered())
        .when(PetitionCommand::Answer {
            decision: AnswerDecision::Supported,
            response: "Підтримано. Велодоріжку включено до плану на 2025 рік.".into(),
            responder_role: "Київський міський голова".into(),
            at,
        })
        .then([answered(AnswerDecision::Supported, at)]);
    assert_eq!(state.status, PetitionStatus::Answered);
}

#[test]
fn answering_needs_consideration_and_happens_once() {
    let answer = |at| PetitionCommand::Answer {
        decision: AnswerDecision::NotSupported,
        response: "Не підтримано.".into(),
        responder_role: "Секретар ради".into(),
        at,
    };
    let at = kyiv("2024-06-14", 16, 0);
    given::<Petition>(collecting(StatuteRule::KORYUKIVKA, 100))
        .when(answer(at))
        .then_error(refused(Refusal::ConsiderationNotStarted));
    let mut history = considered();
    history.push(answered(AnswerDecision::Supported, at));
    given::<Petition>(history)
        .when(answer(at))
        .then_error(refused(Refusal::PetitionAlreadyAnswered));
    given::<Petition>(considered())
        .when(PetitionCommand::Answer {
            decision: AnswerDecision::Supported,
            response: "Так".into(),
            responder_role: "Міський голова\r".into(),
            at,
        })
        .then_error(DomainError::invalid(
            "responder_role",
            Violation::ControlCharacter,
        ));
}

#[test]
fn whether_the_answer_was_on_time_is_derived_from_the_events_alone() {
    // Due 2024-06-17: 23:30 Kyiv that day is on time, 00:30 the next day is late, although
    // both are 2024-06-17 in UTC.
    let mut on_time = considered();
    on_time.push(answered(
        AnswerDecision::Supported,
        kyiv("2024-06-17", 23, 30),
    ));
    assert_eq!(answered_within_deadline(&on_time), Some(true));
    let mut late = considered();
    late.push(answered(
        AnswerDecision::Supported,
        kyiv("2024-06-18", 0, 30),
    ));
    assert_eq!(answered_within_deadline(&late), Some(false));
    assert_eq!(answered_within_deadline(&considered()), None);
    let waiting = given::<Petition>(considered());
    assert!(!waiting.state().answer_overdue(kyiv("2024-06-17", 23, 59)));
    assert!(waiting.state().answer_overdue(kyiv("2024-06-18", 0, 1)));
}

// --- implementation ------------------------------------------------------------------------

fn update(at: Timestamp) -> PetitionEvent {
    PetitionEvent::ImplementationUpdated(ImplementationUpdated {
        petition_id: petition_id(),
        text: "Проєкт велодоріжки погоджено.".into(),
        at,
        acted_by: None,
    })
}

#[test]
fn supported_petitions_get_implementation_updates() {
    let at = kyiv("2024-09-01", 12, 0);
    for decision in [AnswerDecision::Supported, AnswerDecision::PartlySupported] {
        let mut history = considered();
        history.push(answered(decision, kyiv("2024-06-14", 16, 0)));
        let state = given::<Petition>(history)
            .when(PetitionCommand::ReportImplementation {
                text: "Проєкт велодоріжки погоджено.".into(),
                at,
            })
            .then([update(at)]);
        assert_eq!(state.implementation_updates, 1);
    }
}

#[test]
fn implementation_updates_are_refused_unless_answered_as_supported_and_are_bounded() {
    let command = || PetitionCommand::ReportImplementation {
        text: "Проєкт велодоріжки погоджено.".into(),
        at: kyiv("2024-09-01", 12, 0),
    };
    given::<Petition>(considered())
        .when(command())
        .then_error(refused(Refusal::PetitionNotAnswered));
    let mut not_supported = considered();
    not_supported.push(answered(
        AnswerDecision::NotSupported,
        kyiv("2024-06-14", 16, 0),
    ));
    given::<Petition>(not_supported)
        .when(command())
        .then_error(refused(Refusal::AnswerNotSupported));
    let mut full = considered();
    full.push(answered(
        AnswerDecision::Supported,
        kyiv("2024-06-14", 16, 0),
    ));
    full.extend((0..IMPLEMENTATION_UPDATES_MAX).map(|_| update(kyiv("2024-09-01", 12, 0))));
    given::<Petition>(full)
        .when(command())
        .then_error(refused(Refusal::TooManyImplementationUpdates));
}

// --- bounds and refusals not covered above -------------------------------------------------

fn file_with(body: String, category: String) -> PetitionCommand {
    let PetitionCommand::File {
        petition_id,
        author,
        at,
        calendar,
        ..
    } = file_command()
    else {
        unreachable!()
    };
    PetitionCommand::File {
        petition_id,
        author,
        text: PetitionText {
            text: body,
            ..text()
        },
        category,
        at,
        calendar,
    }
}

#[test]
fn filing_bounds_the_text_and_the_category() {
    let category = || "транспорт".to_owned();
    given::<Petition>([])
        .when(file_with("ї".repeat(10_000), category()))
        .then_ok();
    given::<Petition>([])
        .when(file_with("ї".repeat(10_001), category()))
        .then_error(DomainError::invalid(
            "text",
            Violation::TooLong {
                chars_max: PETITION_TEXT_LEN_MAX,
            },
        ));
    let text = || "Просимо.".to_owned();
    given::<Petition>([])
        .when(file_with(text(), "ї".repeat(100)))
        .then_ok();
    given::<Petition>([])
        .when(file_with(text(), "ї".repeat(101)))
        .then_error(DomainError::invalid(
            "category",
            Violation::TooLong {
                chars_max: CATEGORY_LEN_MAX,
            },
        ));
    given::<Petition>([])
        .when(file_with(text(), "два\nрядки".into()))
        .then_error(DomainError::invalid(
            "category",
            Violation::ControlCharacter,
        ));
}

#[test]
fn rejecting_needs_a_petition_awaiting_moderation() {
    let reject = || PetitionCommand::Reject {
        reason: "Дублікат".into(),
        at: published_at(),
    };
    given::<Petition>([filed()]).when(reject()).then_ok();
    given::<Petition>([filed(), published(StatuteRule::KYIV)])
        .when(reject())
        .then_error(refused(Refusal::PetitionNotAwaitingModeration));
    let rejected = PetitionEvent::Rejected(PetitionRejected {
        petition_id: petition_id(),
        reason: "Дублікат".into(),
        at: published_at(),
        acted_by: None,
    });
    given::<Petition>([filed(), rejected])
        .when(reject())
        .then_error(refused(Refusal::PetitionNotAwaitingModeration));
}

#[test]
fn national_threshold_is_reached_by_the_twenty_five_thousandth_signature() {
    let at = plus_days(published_at(), 89);
    given::<Petition>(collecting(StatuteRule::NATIONAL, 24_998))
        .when(PetitionCommand::Sign { signer: tag(2), at })
        .then([signed(tag(2), at)]);
    let state = given::<Petition>(collecting(StatuteRule::NATIONAL, 24_999))
        .when(PetitionCommand::Sign { signer: tag(2), at })
        .then([signed(tag(2), at), threshold_reached(25_000, at)]);
    assert_eq!(state.signature_count, 25_000);
    assert_eq!(state.status, PetitionStatus::ThresholdReached);
}

/// A petition collecting under the national rule whose count is `count`, built directly: four
/// billion signature events are not needed to test the counter's bound.
fn counted(count: u32, status: PetitionStatus) -> PetitionState {
    PetitionState {
        id: Some(petition_id()),
        status,
        rule: Some(StatuteRule::NATIONAL),
        published_at: Some(published_at()),
        signature_count: count,
        ..PetitionState::default()
    }
}

#[test]
fn signatures_are_refused_when_the_count_is_at_its_maximum() {
    let at = plus_days(published_at(), 1);
    let sign = || PetitionCommand::Sign { signer: tag(2), at };
    let events = Petition::decide(
        &counted(u32::MAX - 1, PetitionStatus::ThresholdReached),
        sign(),
    )
    .expect("one below the maximum still counts");
    assert_eq!(events, [signed(tag(2), at)]);
    assert_eq!(
        Petition::decide(&counted(u32::MAX, PetitionStatus::ThresholdReached), sign()),
        Err(refused(Refusal::SignatureCountAtMaximum))
    );
}

#[test]
fn a_deadline_starting_in_the_night_of_a_summer_time_switch_counts_from_the_kyiv_day() {
    // Summer time starts on Sunday 2024-03-31 at 01:00 UTC (03:00 EET becomes 04:00 EEST).
    // 21:59 UTC on Saturday is 23:59 Saturday in Kyiv; 22:30 UTC is already 00:30 Sunday; 00:30
    // and 01:30 UTC are 02:30 EET and 04:30 EEST on Sunday. Counting starts the next day:
    // Monday and Tuesday, so moderation is due Tuesday 2024-04-02 in every case, and the Kyiv
    // day recorded is the one a clock on the wall showed.
    let cases = [
        (fixtures::utc("2024-03-30", 21, 59), "2024-03-30"),
        (fixtures::utc("2024-03-30", 22, 30), "2024-03-31"),
        (fixtures::utc("2024-03-31", 0, 30), "2024-03-31"),
        (fixtures::utc("2024-03-31", 1, 30), "2024-03-31"),
    ];
    for (at, kyiv_day) in cases {
        assert_eq!(domain::kyiv_date(at), date(kyiv_day));
        let events = given::<Petition>([])
            .when(file_at(at, weekdays_only()))
            .then_ok();
        let PetitionEvent::Filed(event) = &events[0] else {
            panic!("{events:?}")
        };
        assert_eq!(event.moderation_due, date("2024-04-02"), "filed at {at:?}");
    }
    // Summer time ends on Sunday 2024-10-27 at 01:00 UTC (04:00 EEST becomes 03:00 EET). With
    // Monday 28 October listed as non-working, a petition filed at 00:30 Kyiv on Sunday (21:30
    // UTC on Saturday) is due Wednesday; one filed at 23:30 Kyiv on Saturday (20:30 UTC) too,
    // since Sunday is not a working day either.
    let calendar = calendar_with(&["2024-10-28"]);
    for at in [
        fixtures::utc("2024-10-26", 20, 30),
        fixtures::utc("2024-10-26", 21, 30),
        fixtures::utc("2024-10-27", 0, 30),
        fixtures::utc("2024-10-27", 1, 30),
    ] {
        let events = given::<Petition>([])
            .when(file_at(at, calendar.clone()))
            .then_ok();
        let PetitionEvent::Filed(event) = &events[0] else {
            panic!("{events:?}")
        };
        assert_eq!(event.moderation_due, date("2024-10-30"), "filed at {at:?}");
    }
    // The answer deadline of a consideration started in that night counts ten working days
    // from Sunday, skipping 28 October: due Monday 2024-11-11.
    let events = given::<Petition>(collecting(StatuteRule::KORYUKIVKA, 100))
        .when(PetitionCommand::StartConsideration {
            at: fixtures::utc("2024-10-27", 0, 30),
            calendar,
        })
        .then_ok();
    let PetitionEvent::ConsiderationStarted(started) = &events[0] else {
        panic!("{events:?}")
    };
    assert_eq!(started.answer_due, date("2024-11-11"));
}

fn file_at(at: Timestamp, calendar: domain::WorkingCalendar) -> PetitionCommand {
    let PetitionCommand::File {
        petition_id,
        author,
        text,
        category,
        ..
    } = file_command()
    else {
        unreachable!()
    };
    PetitionCommand::File {
        petition_id,
        author,
        text,
        category,
        at,
        calendar,
    }
}

// --- time never goes backwards -------------------------------------------------------------

#[test]
fn publishing_before_filing_is_refused() {
    given::<Petition>([filed()])
        .when(PetitionCommand::Publish {
            rule: StatuteRule::KYIV,
            text: Some(text()),
            at: plus_micros(filed_at(), -1),
        })
        .then_error(refused(Refusal::TimeBeforePrevious));
    // The same instant as the latest event is not earlier.
    given::<Petition>([filed()])
        .when(PetitionCommand::Publish {
            rule: StatuteRule::KYIV,
            text: Some(text()),
            at: filed_at(),
        })
        .then_ok();
}

#[test]
fn answering_before_consideration_started_is_refused() {
    let started_at = kyiv("2024-06-03", 10, 0);
    let answer = |at| PetitionCommand::Answer {
        decision: AnswerDecision::Supported,
        response: "Підтримано. Велодоріжку включено до плану на 2025 рік.".into(),
        responder_role: "Київський міський голова".into(),
        at,
    };
    given::<Petition>(considered())
        .when(answer(plus_micros(started_at, -1)))
        .then_error(refused(Refusal::TimeBeforePrevious));
    given::<Petition>(considered())
        .when(answer(started_at))
        .then([answered(AnswerDecision::Supported, started_at)]);
}

#[test]
fn a_signature_dated_before_the_latest_signature_is_refused() {
    let at = plus_days(published_at(), 2);
    let mut history = collecting(StatuteRule::KYIV, 0);
    history.push(signed(tag(2), at));
    given::<Petition>(history.clone())
        .when(PetitionCommand::Sign {
            signer: tag(3),
            at: plus_micros(at, -1),
        })
        .then_error(refused(Refusal::TimeBeforePrevious));
    given::<Petition>(history)
        .when(PetitionCommand::Sign {
            signer: tag(3),
            at: plus_micros(at, 1),
        })
        .then([signed(tag(3), plus_micros(at, 1))]);
}

#[test]
fn implementation_updates_are_refused_before_the_answer() {
    let answered_at = kyiv("2024-06-14", 16, 0);
    let mut history = considered();
    history.push(answered(AnswerDecision::Supported, answered_at));
    let report = |at| PetitionCommand::ReportImplementation {
        text: "Проєкт велодоріжки погоджено.".into(),
        at,
    };
    given::<Petition>(history.clone())
        .when(report(plus_micros(answered_at, -1)))
        .then_error(refused(Refusal::TimeBeforePrevious));
    given::<Petition>(history)
        .when(report(answered_at))
        .then([update(answered_at)]);
}
