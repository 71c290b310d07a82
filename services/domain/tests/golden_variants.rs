//! Golden bytes of every variant of every enum stored inside an event, and of the samples whose
//! optional fields are `None` (and lists empty): `tests/golden.rs` freezes one sample per event
//! type, which pins only the variants those samples happen to use.
//!
//! Postcard stores a unit variant as its index (one varint byte here), so reordering or
//! inserting a variant silently changes what old bytes mean. Two pins, each enough on its own:
//! - a table in code of every variant and its index, checked both ways, and checked to be
//!   complete (the index after the last one must not decode);
//! - `tests/golden_variants/<enum>.hex`, one line per variant: the whole payload of an event
//!   carrying it. `none.hex` holds events with `None` and empty lists.
//!
//! Appending a variant fails here until it is added to the table; then run with
//! `VIDKRYTO_BLESS=1 cargo test -p domain --test golden_variants` to append its line, and
//! review the diff: existing lines must never change.

mod fixtures;

use std::collections::BTreeSet;
use std::fmt::Debug;
use std::path::PathBuf;

use domain::action_plan::{ActionPlanEvent, ImplementationStatus, OgpValue, OpenedGovernment};
use domain::budget::{BudgetEvent, CountingMethod, Electorate, ProjectStatus, ReviewOutcome};
use domain::calendar::CalendarEvent;
use domain::dialogue::{ContributionResponse, DialogueEvent, DialogueKind};
use domain::petition::{AnswerDecision, PetitionContent, PetitionEvent};
use domain::{ActorKind, Event, EventType, StaffRole, decode, encode};
use fixtures::samples::every_event_type;
use serde::Serialize;
use serde::de::DeserializeOwned;

const DIALOGUE_KINDS: [(DialogueKind, u8); 6] = [
    (DialogueKind::PublicConsultation, 0),
    (DialogueKind::PublicHearing, 1),
    (DialogueKind::RoundTable, 2),
    (DialogueKind::EConsultation, 3),
    (DialogueKind::YouthCouncil, 4),
    (DialogueKind::Other, 5),
];

const CONTRIBUTION_RESPONSES: [(ContributionResponse, u8); 3] = [
    (ContributionResponse::Accepted, 0),
    (ContributionResponse::PartlyAccepted, 1),
    (ContributionResponse::Rejected, 2),
];

const ANSWER_DECISIONS: [(AnswerDecision, u8); 3] = [
    (AnswerDecision::Supported, 0),
    (AnswerDecision::PartlySupported, 1),
    (AnswerDecision::NotSupported, 2),
];

const OGP_VALUES: [(OgpValue, u8); 4] = [
    (OgpValue::AccessToInformation, 0),
    (OgpValue::CivicParticipation, 1),
    (OgpValue::PublicAccountability, 2),
    (OgpValue::TechnologyAndInnovation, 3),
];

const IMPLEMENTATION_STATUSES: [(ImplementationStatus, u8); 5] = [
    (ImplementationStatus::NoEvidenceAvailable, 0),
    (ImplementationStatus::NotStarted, 1),
    (ImplementationStatus::Limited, 2),
    (ImplementationStatus::Substantial, 3),
    (ImplementationStatus::Complete, 4),
];

const STAFF_ROLES: [(StaffRole, u8); 4] = [
    (StaffRole::Moderator, 0),
    (StaffRole::Official, 1),
    (StaffRole::Coordinator, 2),
    (StaffRole::Administrator, 3),
];

const ACTOR_KINDS: [(ActorKind, u8); 2] = [(ActorKind::Staff, 0), (ActorKind::Client, 1)];

const OPENED_GOVERNMENT: [(OpenedGovernment, u8); 5] = [
    (OpenedGovernment::Worsened, 0),
    (OpenedGovernment::DidNotChange, 1),
    (OpenedGovernment::Marginal, 2),
    (OpenedGovernment::Major, 3),
    (OpenedGovernment::Outstanding, 4),
];

const ELECTORATES: [(Electorate, u8); 2] = [(Electorate::Residents, 0), (Electorate::Anyone, 1)];

const COUNTING_METHODS: [(CountingMethod, u8); 1] = [(CountingMethod::GreedyByVotes, 0)];

const PROJECT_STATUSES: [(ProjectStatus, u8); 4] = [
    (ProjectStatus::NotStarted, 0),
    (ProjectStatus::InProgress, 1),
    (ProjectStatus::Completed, 2),
    (ProjectStatus::Cancelled, 3),
];

/// Checks a table of every variant of `T` against postcard: each encodes to its index byte,
/// each index byte decodes to it, and the next index does not decode (nothing unlisted).
fn assert_indices<T>(table: &[(T, u8)])
where
    T: Serialize + DeserializeOwned + PartialEq + Debug,
{
    for (index, (variant, pinned)) in table.iter().enumerate() {
        assert_eq!(
            usize::from(*pinned),
            index,
            "{variant:?}: table out of order"
        );
        let bytes = postcard::to_allocvec(variant).expect("unit variants encode");
        assert_eq!(bytes, [*pinned], "{variant:?} moved");
        let decoded: T = postcard::from_bytes(&[*pinned]).expect("pinned index decodes");
        assert_eq!(&decoded, variant);
    }
    let next = u8::try_from(table.len()).expect("small enums");
    assert!(
        postcard::from_bytes::<T>(&[next]).is_err(),
        "{} has a variant at index {next} that is not pinned",
        std::any::type_name::<T>()
    );
}

#[test]
fn every_enum_variant_keeps_its_index() {
    assert_indices(&DIALOGUE_KINDS);
    assert_indices(&CONTRIBUTION_RESPONSES);
    assert_indices(&ANSWER_DECISIONS);
    assert_indices(&OGP_VALUES);
    assert_indices(&IMPLEMENTATION_STATUSES);
    assert_indices(&OPENED_GOVERNMENT);
    assert_indices(&STAFF_ROLES);
    assert_indices(&ACTOR_KINDS);
    assert_indices(&PROJECT_STATUSES);
    assert_indices(&ELECTORATES);
    assert_indices(&COUNTING_METHODS);
    // `Option` is an enum too: `None` is 0, `Some` is 1 then the value.
    assert_eq!(postcard::to_allocvec(&None::<String>).unwrap(), [0]);
    assert_eq!(
        postcard::to_allocvec(&Some("a".to_owned())).unwrap(),
        [1, 1, b'a']
    );
}

/// The sample of `event_type` from the golden samples.
fn sample(event_type: EventType) -> Event {
    every_event_type()
        .into_iter()
        .find(|e| e.event_type() == event_type)
        .expect("every type is sampled")
}

/// One event per variant of each enum, named `<file>`: `(line label, event)`.
fn variant_samples() -> Vec<(&'static str, Vec<(String, Event)>)> {
    let label = |variant: &dyn Debug| format!("{variant:?}");
    let announced = |kind| {
        let Event::Dialogue(DialogueEvent::Announced(mut e)) = sample(EventType::DialogueAnnounced)
        else {
            unreachable!()
        };
        e.kind = kind;
        Event::from(DialogueEvent::Announced(e))
    };
    let contribution_answered = |response| {
        let Event::Dialogue(DialogueEvent::ContributionAnswered(mut e)) =
            sample(EventType::ContributionAnswered)
        else {
            unreachable!()
        };
        e.response = response;
        Event::from(DialogueEvent::ContributionAnswered(e))
    };
    let petition_answered = |decision| {
        let Event::Petition(PetitionEvent::Answered(mut e)) = sample(EventType::PetitionAnswered)
        else {
            unreachable!()
        };
        e.decision = decision;
        Event::from(PetitionEvent::Answered(e))
    };
    let commitment_added = |value| {
        let Event::ActionPlan(ActionPlanEvent::CommitmentAdded(mut e)) =
            sample(EventType::CommitmentAdded)
        else {
            unreachable!()
        };
        e.values = vec![value];
        Event::from(ActionPlanEvent::CommitmentAdded(e))
    };
    let progress_reported = |status| {
        let Event::ActionPlan(ActionPlanEvent::ProgressReported(mut e)) =
            sample(EventType::ProgressReported)
        else {
            unreachable!()
        };
        e.status = status;
        Event::from(ActionPlanEvent::ProgressReported(e))
    };
    let assessed = |completion, opened_government| {
        let Event::ActionPlan(ActionPlanEvent::CommitmentAssessed(mut e)) =
            sample(EventType::CommitmentAssessed)
        else {
            unreachable!()
        };
        e.completion = completion;
        e.opened_government = opened_government;
        Event::from(ActionPlanEvent::CommitmentAssessed(e))
    };
    vec![
        (
            "dialogue_kind.v2",
            DIALOGUE_KINDS
                .iter()
                .map(|(v, _)| (label(v), announced(*v)))
                .collect(),
        ),
        (
            // Schema 3 of `dialogue.contribution_answered`; `contribution_response.hex` holds
            // schema 1 and `.v2.hex` schema 2 (`older_variant_files_still_read`).
            "contribution_response.v3",
            CONTRIBUTION_RESPONSES
                .iter()
                .map(|(v, _)| (label(v), contribution_answered(*v)))
                .collect(),
        ),
        (
            "answer_decision.v2",
            ANSWER_DECISIONS
                .iter()
                .map(|(v, _)| (label(v), petition_answered(*v)))
                .collect(),
        ),
        (
            "ogp_value.v2",
            OGP_VALUES
                .iter()
                .map(|(v, _)| (label(v), commitment_added(*v)))
                .collect(),
        ),
        (
            "implementation_status.v2",
            IMPLEMENTATION_STATUSES
                .iter()
                .flat_map(|(v, _)| {
                    [
                        (format!("progress {v:?}"), progress_reported(*v)),
                        (
                            format!("completion {v:?}"),
                            assessed(*v, OpenedGovernment::Major),
                        ),
                    ]
                })
                .collect(),
        ),
        (
            "opened_government.v2",
            OPENED_GOVERNMENT
                .iter()
                .map(|(v, _)| (label(v), assessed(ImplementationStatus::Complete, *v)))
                .collect(),
        ),
        ("project_status", project_status_samples()),
        ("review_outcome", review_outcome_samples()),
        ("budget_none", budget_none_samples()),
        ("petition_content", petition_content_samples()),
        ("staff_role", staff_role_samples()),
        ("actor_kind", actor_kind_samples()),
        ("none.v2", none_samples()),
    ]
}

/// A participatory budget project's report in each status.
fn project_status_samples() -> Vec<(String, Event)> {
    PROJECT_STATUSES
        .iter()
        .map(|(status, _)| {
            let Event::Budget(BudgetEvent::ProgressReported(mut e)) =
                sample(EventType::BudgetProgressReported)
            else {
                unreachable!()
            };
            e.status = *status;
            (
                format!("{status:?}"),
                BudgetEvent::ProgressReported(e).into(),
            )
        })
        .collect()
}

/// A review finding a project eligible (its text disclosed) and one finding it not (a reason).
/// `ReviewOutcome` carries data, so its indices are pinned by these bytes alone.
fn review_outcome_samples() -> Vec<(String, Event)> {
    let Event::Budget(BudgetEvent::ProjectReviewed(eligible)) = sample(EventType::ProjectReviewed)
    else {
        unreachable!()
    };
    assert!(matches!(eligible.outcome, ReviewOutcome::Eligible { .. }));
    let mut ineligible = eligible.clone();
    ineligible.outcome = ReviewOutcome::Ineligible {
        reason: "Не належить до повноважень громади.".into(),
    };
    vec![
        (
            "Eligible".into(),
            BudgetEvent::ProjectReviewed(eligible).into(),
        ),
        (
            "Ineligible".into(),
            BudgetEvent::ProjectReviewed(ineligible).into(),
        ),
    ]
}

/// Participatory budget events with optional fields `None`, lists empty and flags off.
fn budget_none_samples() -> Vec<(String, Event)> {
    let Event::Budget(BudgetEvent::ProgressReported(mut progress)) =
        sample(EventType::BudgetProgressReported)
    else {
        unreachable!()
    };
    progress.status = ProjectStatus::InProgress;
    progress.evidence_link = None;
    progress.note = String::new();
    let Event::Budget(BudgetEvent::ResultsDeclared(mut results)) =
        sample(EventType::ResultsDeclared)
    else {
        unreachable!()
    };
    results.ballots = 0;
    results.ranking = Vec::new();
    results.winners = Vec::new();
    let Event::Budget(BudgetEvent::Announced(mut announced)) = sample(EventType::RoundAnnounced)
    else {
        unreachable!()
    };
    announced.rules.electorate = Electorate::Anyone;
    let mut unattributed = sample(EventType::RoundClosed);
    unattributed.attribute(None);
    let events: [Event; 4] = [
        BudgetEvent::Announced(announced).into(),
        BudgetEvent::ResultsDeclared(results).into(),
        BudgetEvent::ProgressReported(progress).into(),
        unattributed,
    ];
    events
        .into_iter()
        .map(|e| (e.event_type().name().to_owned(), e))
        .collect()
}

/// A rejection by each role, and one acted on by a machine client.
fn staff_role_samples() -> Vec<(String, Event)> {
    STAFF_ROLES
        .iter()
        .map(|(role, _)| {
            let mut event = sample(EventType::PetitionRejected);
            let mut by = *event.acted_by().expect("the sample records who acted");
            by.role = *role;
            event.attribute(Some(by));
            (format!("{role:?}"), event)
        })
        .collect()
}

/// A rejection by each kind of principal.
fn actor_kind_samples() -> Vec<(String, Event)> {
    ACTOR_KINDS
        .iter()
        .map(|(kind, _)| {
            let mut event = sample(EventType::PetitionRejected);
            let mut by = *event.acted_by().expect("the sample records who acted");
            by.kind = *kind;
            event.attribute(Some(by));
            (format!("{kind:?}"), event)
        })
        .collect()
}

/// A filing with each form of its title and text: committed (what the node writes) and in
/// the clear (what a schema-1 filing reads as).
fn petition_content_samples() -> Vec<(String, Event)> {
    let Event::Petition(PetitionEvent::Filed(committed)) = sample(EventType::PetitionFiled) else {
        unreachable!()
    };
    let mut clear = committed.clone();
    clear.content = PetitionContent::Clear {
        title: "Сквер".into(),
        text: "Зберегти сквер.".into(),
    };
    vec![
        ("Committed".into(), PetitionEvent::Filed(committed).into()),
        ("Clear".into(), PetitionEvent::Filed(clear).into()),
    ]
}

/// Events with every optional field `None` and every list that may be empty, empty.
fn none_samples() -> Vec<(String, Event)> {
    let Event::Dialogue(DialogueEvent::OutcomePublished(mut outcome)) =
        sample(EventType::OutcomeReportPublished)
    else {
        unreachable!()
    };
    outcome.council_decision_ref = None;
    let Event::ActionPlan(ActionPlanEvent::ProgressReported(mut progress)) =
        sample(EventType::ProgressReported)
    else {
        unreachable!()
    };
    progress.status = ImplementationStatus::NotStarted;
    progress.evidence_link = None;
    let Event::Dialogue(DialogueEvent::Closed(mut closed)) = sample(EventType::DialogueClosed)
    else {
        unreachable!()
    };
    closed.participating_organisations = Vec::new();
    closed.attendance_count = 0;
    let Event::Calendar(CalendarEvent::NonWorkingDatesSet(mut dates)) =
        sample(EventType::NonWorkingDatesSet)
    else {
        unreachable!()
    };
    dates.dates = Vec::new();
    let Event::Petition(PetitionEvent::Published(mut published)) =
        sample(EventType::PetitionPublished)
    else {
        unreachable!()
    };
    published.disclosure = None;
    let mut unattributed = sample(EventType::PlanClosed);
    unattributed.attribute(None);
    let events: [Event; 6] = [
        CalendarEvent::NonWorkingDatesSet(dates).into(),
        DialogueEvent::Closed(closed).into(),
        DialogueEvent::OutcomePublished(outcome).into(),
        ActionPlanEvent::ProgressReported(progress).into(),
        // Appended with schema 2 of `petition.published`.
        PetitionEvent::Published(published).into(),
        // Appended with schema 2 of the official events (`acted_by`).
        unattributed,
    ];
    events
        .into_iter()
        .map(|e| (e.event_type().name().to_owned(), e))
        .collect()
}

fn golden_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden_variants")
}

fn blessing() -> bool {
    std::env::var("VIDKRYTO_BLESS").is_ok_and(|v| v == "1")
}

#[test]
fn every_variant_sample_encodes_to_its_golden_bytes_and_back() {
    let mut failures = Vec::new();
    for (file, samples) in variant_samples() {
        let path = golden_dir().join(format!("{file}.hex"));
        let lines: Vec<String> = samples
            .iter()
            .map(|(label, event)| format!("{label} {}", hex::encode(encode(event).payload)))
            .collect();
        if blessing() {
            std::fs::create_dir_all(golden_dir()).expect("golden directory is writable");
            std::fs::write(&path, lines.join("\n") + "\n").expect("golden file is writable");
        }
        let Ok(committed) = std::fs::read_to_string(&path) else {
            failures.push(format!(
                "{}: missing (run with VIDKRYTO_BLESS=1)",
                path.display()
            ));
            continue;
        };
        let committed: Vec<&str> = committed.lines().collect();
        if committed != lines {
            failures.push(format!(
                "{}: bytes differ\n  committed {committed:#?}\n  encoded   {lines:#?}",
                path.display()
            ));
        }
        for ((label, event), line) in samples.iter().zip(&committed) {
            let hex_bytes = line.rsplit(' ').next().unwrap_or_default();
            let bytes = hex::decode(hex_bytes).expect("golden line ends in hex");
            let code = event.event_type().code();
            assert_eq!(
                decode(code, event.event_type().schema_version(), &bytes).as_ref(),
                Ok(event),
                "{file}: {label} does not decode to its sample"
            );
        }
    }
    assert!(
        failures.is_empty(),
        "golden bytes drifted:\n{}",
        failures.join("\n")
    );
}

/// Variant files of older schema versions: `(file, what each line reads as, at which schema
/// version)`. The files written before `acted_by` hold today's samples with no actor, each
/// official event one schema version back.
fn older_variant_files() -> Vec<(String, Vec<(Event, u16)>)> {
    let before_actor = |event: &Event| {
        let mut unattributed = event.clone();
        let version = event.event_type().schema_version().0;
        if unattributed.attribute(None) {
            (unattributed, version - 1)
        } else {
            (unattributed, version)
        }
    };
    let mut older: Vec<(String, Vec<(Event, u16)>)> = variant_samples()
        .into_iter()
        .filter_map(|(file, samples)| {
            let (name, version) = file.rsplit_once(".v")?;
            let version: u16 = version.parse().ok()?;
            let previous = if version == 2 {
                name.to_owned()
            } else {
                format!("{name}.v{}", version - 1)
            };
            // An official event with no actor is itself a sample of the newer form.
            let events = samples
                .iter()
                .filter(|(_, e)| !(e.is_official() && e.acted_by().is_none()))
                .map(|(_, e)| before_actor(e))
                .collect();
            Some((previous, events))
        })
        .collect();
    let answered_v1 = |response| {
        let Event::Dialogue(DialogueEvent::ContributionAnswered(mut e)) =
            sample(EventType::ContributionAnswered)
        else {
            unreachable!()
        };
        e.response = response;
        e.disclosure = None;
        e.acted_by = None;
        (Event::from(DialogueEvent::ContributionAnswered(e)), 1)
    };
    older.push((
        "contribution_response".into(),
        CONTRIBUTION_RESPONSES
            .iter()
            .map(|(v, _)| answered_v1(*v))
            .collect(),
    ));
    older
}

#[test]
fn older_variant_files_still_read() {
    for (file, events) in older_variant_files() {
        let path = golden_dir().join(format!("{file}.hex"));
        let committed = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("the older file {} is kept: {e}", path.display()));
        let lines: Vec<&str> = committed.lines().collect();
        assert_eq!(lines.len(), events.len(), "{file}");
        for (line, (event, version)) in lines.iter().zip(&events) {
            let bytes = hex::decode(line.rsplit(' ').next().unwrap_or_default()).unwrap();
            assert_eq!(
                decode(
                    event.event_type().code(),
                    event_store_core::SchemaVersion(*version),
                    &bytes
                )
                .as_ref(),
                Ok(event),
                "{file}: {line}"
            );
        }
    }
}

#[test]
fn every_variant_golden_file_is_known() {
    if blessing() {
        return;
    }
    let mut expected: BTreeSet<String> = variant_samples()
        .into_iter()
        .map(|(file, _)| format!("{file}.hex"))
        .collect();
    expected.extend(
        older_variant_files()
            .into_iter()
            .map(|(file, _)| format!("{file}.hex")),
    );
    let present: BTreeSet<String> = std::fs::read_dir(golden_dir())
        .expect("golden variants directory exists")
        .map(|entry| {
            entry
                .expect("readable entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    assert_eq!(present, expected);
}
