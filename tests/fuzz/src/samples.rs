//! Valid inputs for every decoder, made with the real encoders: the mutator starts from these.

use domain::action_plan::{
    ActionPlanEvent, CommitmentAdded, CommitmentAssessed, ImplementationStatus, MilestoneAdded,
    OgpValue, OpenedGovernment, PlanAdopted, PlanClosed, ProgressReported,
};
use domain::calendar::{CalendarEvent, NonWorkingDatesSet};
use domain::dialogue::{
    ContributionAnswered, ContributionContent, ContributionResponse, ContributionSubmitted,
    DialogueAnnounced, DialogueClosed, DialogueEvent, DialogueKind, OutcomeReportPublished,
};
use domain::petition::{
    AnswerDecision, CollectionClosedWithoutThreshold, ConsiderationStarted, ImplementationUpdated,
    PetitionAnswered, PetitionContent, PetitionEvent, PetitionFiled, PetitionPublished,
    PetitionRejected, PetitionSigned, SignatureThresholdReached, StatuteRule,
};
use domain::{
    CivilDate, CommitmentId, ContributionId, DialogueId, Event, MilestoneId, PetitionId, PlanId,
    PseudonymTag,
};
use event_store_core::checkpoint::{Checkpoint, NoteSigner, origin_for};
use event_store_core::{
    Envelope, EventId, LogSeq, MunicipalityCode, StreamVersion, Timestamp, merkle,
};
use uuid::Uuid;

/// The hromada of the samples (Vinnytsia).
pub const CODE: &str = "UA05020030000031457";
/// Another hromada (Kyiv).
pub const OTHER_CODE: &str = "UA80000000000093317";
/// The witness key's name.
pub const WITNESS: &str = "vidkryto-association";

pub fn code() -> MunicipalityCode {
    MunicipalityCode::parse(CODE).expect("a KATOTTG code")
}

/// The node's signing key.
pub fn node_signer() -> NoteSigner {
    NoteSigner::from_seed(&origin_for(&code()), [0x11; 32]).expect("a key name")
}

/// The association's witness key.
pub fn witness() -> NoteSigner {
    NoteSigner::from_seed(WITNESS, [0x22; 32]).expect("a key name")
}

fn date(text: &str) -> CivilDate {
    text.parse().expect("a date")
}

fn uuid(n: u128) -> Uuid {
    Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0000 + n)
}

/// Every event type at least once, with every variant of the enums their payloads hold,
/// optional fields present and absent, and text at and near its limits.
pub fn events() -> Vec<Event> {
    let at = Timestamp(1_714_737_600_000_000);
    let pid = PetitionId(uuid(1));
    let did = DialogueId(uuid(2));
    let plan = PlanId(uuid(3));
    let commitment = CommitmentId(uuid(4));
    let milestone = MilestoneId(uuid(5));
    let contribution = ContributionId(uuid(6));
    let mut events: Vec<Event> = vec![
        CalendarEvent::NonWorkingDatesSet(NonWorkingDatesSet {
            dates: vec![date("2024-01-01"), date("2024-08-24"), date("2024-12-25")],
            at,
        })
        .into(),
        CalendarEvent::NonWorkingDatesSet(NonWorkingDatesSet { dates: vec![], at }).into(),
        PetitionEvent::Filed(PetitionFiled {
            petition_id: pid,
            author: PseudonymTag([1; 32]),
            content: PetitionContent::Committed(petition_text().commitment()),
            category: "довкілля".into(),
            at,
            moderation_due: date("2024-05-09"),
        })
        .into(),
        PetitionEvent::Filed(PetitionFiled {
            petition_id: pid,
            author: PseudonymTag([1; 32]),
            content: PetitionContent::Clear {
                title: "Сквер".into(),
                text: "Зберегти сквер. ".repeat(40),
            },
            category: "довкілля".into(),
            at,
            moderation_due: date("2024-05-09"),
        })
        .into(),
        PetitionEvent::Published(PetitionPublished {
            petition_id: pid,
            rule: StatuteRule::KYIV,
            at,
            disclosure: Some(petition_text()),
            acted_by: None,
        })
        .into(),
        PetitionEvent::Published(PetitionPublished {
            petition_id: pid,
            rule: StatuteRule::KYIV,
            at,
            disclosure: None,
            acted_by: None,
        })
        .into(),
        PetitionEvent::Rejected(PetitionRejected {
            petition_id: pid,
            reason: "Дублікат".into(),
            at,
            acted_by: None,
        })
        .into(),
        PetitionEvent::Signed(PetitionSigned {
            petition_id: pid,
            signer: PseudonymTag([2; 32]),
            at,
        })
        .into(),
        PetitionEvent::ThresholdReached(SignatureThresholdReached {
            petition_id: pid,
            signature_count: 6_000,
            at,
        })
        .into(),
        PetitionEvent::CollectionClosed(CollectionClosedWithoutThreshold {
            petition_id: pid,
            signature_count: 42,
            at,
        })
        .into(),
        PetitionEvent::ConsiderationStarted(ConsiderationStarted {
            petition_id: pid,
            at,
            answer_due: date("2024-05-17"),
            acted_by: None,
        })
        .into(),
        PetitionEvent::ImplementationUpdated(ImplementationUpdated {
            petition_id: pid,
            text: "Роботи розпочато.".into(),
            at,
            acted_by: None,
        })
        .into(),
        DialogueEvent::ContributionSubmitted(ContributionSubmitted {
            dialogue_id: did,
            contribution_id: contribution,
            author: PseudonymTag([3; 32]),
            content: ContributionContent::Committed(contribution_text().commitment()),
            at,
        })
        .into(),
        DialogueEvent::ContributionSubmitted(ContributionSubmitted {
            dialogue_id: did,
            contribution_id: contribution,
            author: PseudonymTag([3; 32]),
            content: ContributionContent::Clear {
                text: "Більше лавок.".into(),
            },
            at,
        })
        .into(),
        DialogueEvent::Closed(DialogueClosed {
            dialogue_id: did,
            attendance_count: 143,
            participating_organisations: vec!["ГО «Зелене місто»".into(), "Клуб".into()],
            at,
            acted_by: None,
        })
        .into(),
        DialogueEvent::Closed(DialogueClosed {
            dialogue_id: did,
            attendance_count: 0,
            participating_organisations: vec![],
            at,
            acted_by: None,
        })
        .into(),
        ActionPlanEvent::Adopted(PlanAdopted {
            plan_id: plan,
            title: "План дій".into(),
            period_start: date("2024-01-01"),
            period_end: date("2025-12-31"),
            council_decision: "№ 12/345".into(),
            at,
            acted_by: None,
        })
        .into(),
        ActionPlanEvent::MilestoneAdded(MilestoneAdded {
            plan_id: plan,
            commitment_id: commitment,
            milestone_id: milestone,
            title: "Портал запущено".into(),
            due: date("2024-06-30"),
            at,
            acted_by: None,
        })
        .into(),
        ActionPlanEvent::Closed(PlanClosed {
            plan_id: plan,
            at,
            acted_by: None,
        })
        .into(),
    ];
    for decision in [
        AnswerDecision::Supported,
        AnswerDecision::PartlySupported,
        AnswerDecision::NotSupported,
    ] {
        events.push(
            PetitionEvent::Answered(PetitionAnswered {
                petition_id: pid,
                decision,
                response: "Частково підтримано.".into(),
                responder_role: "Міський голова".into(),
                at,
                acted_by: None,
            })
            .into(),
        );
    }
    for kind in [
        DialogueKind::PublicConsultation,
        DialogueKind::PublicHearing,
        DialogueKind::RoundTable,
        DialogueKind::EConsultation,
        DialogueKind::YouthCouncil,
        DialogueKind::Other,
    ] {
        events.push(
            DialogueEvent::Announced(DialogueAnnounced {
                dialogue_id: did,
                kind,
                topic: "Бюджет участі".into(),
                organiser: "Виконавчий комітет".into(),
                opens_at: Timestamp(at.0 + 86_400_000_000),
                closes_at: Timestamp(at.0 + 15 * 86_400_000_000),
                at,
                acted_by: None,
            })
            .into(),
        );
    }
    for response in [
        ContributionResponse::Accepted,
        ContributionResponse::PartlyAccepted,
        ContributionResponse::Rejected,
    ] {
        events.push(
            DialogueEvent::ContributionAnswered(ContributionAnswered {
                dialogue_id: did,
                contribution_id: contribution,
                response,
                reason: "Враховано.".into(),
                at,
                disclosure: (response != ContributionResponse::Rejected).then(contribution_text),
                acted_by: None,
            })
            .into(),
        );
    }
    for decision_ref in [Some("№ 45/1234".to_owned()), None] {
        events.push(
            DialogueEvent::OutcomePublished(OutcomeReportPublished {
                dialogue_id: did,
                report: "Звіт.".into(),
                council_decision_ref: decision_ref,
                at,
                acted_by: None,
            })
            .into(),
        );
    }
    events.push(
        ActionPlanEvent::CommitmentAdded(CommitmentAdded {
            plan_id: plan,
            commitment_id: commitment,
            title: "Відкритий бюджет".into(),
            description: "Публікувати бюджет.".into(),
            lead_institution: "Фінансове управління".into(),
            values: vec![
                OgpValue::AccessToInformation,
                OgpValue::CivicParticipation,
                OgpValue::PublicAccountability,
                OgpValue::TechnologyAndInnovation,
            ],
            start: date("2024-03-01"),
            end: date("2025-06-30"),
            at,
            acted_by: None,
        })
        .into(),
    );
    for (status, link) in [
        (ImplementationStatus::NoEvidenceAvailable, None),
        (ImplementationStatus::NotStarted, None),
        (
            ImplementationStatus::Limited,
            Some("https://example.gov.ua/a"),
        ),
        (
            ImplementationStatus::Substantial,
            Some("https://example.gov.ua/b"),
        ),
        (
            ImplementationStatus::Complete,
            Some("https://example.gov.ua/c"),
        ),
    ] {
        events.push(
            ActionPlanEvent::ProgressReported(ProgressReported {
                plan_id: plan,
                commitment_id: commitment,
                milestone_id: milestone,
                status,
                evidence_link: link.map(str::to_owned),
                at,
                acted_by: None,
            })
            .into(),
        );
    }
    for opened in [
        OpenedGovernment::Worsened,
        OpenedGovernment::DidNotChange,
        OpenedGovernment::Marginal,
        OpenedGovernment::Major,
        OpenedGovernment::Outstanding,
    ] {
        events.push(
            ActionPlanEvent::CommitmentAssessed(CommitmentAssessed {
                plan_id: plan,
                commitment_id: commitment,
                completion: ImplementationStatus::Complete,
                opened_government: opened,
                at,
                acted_by: None,
            })
            .into(),
        );
    }
    // Most official events record who acted (every role and kind), some from before it was.
    for (i, event) in events.iter_mut().enumerate() {
        if i % 3 != 0 {
            event.attribute(Some(domain::Actor {
                role: domain::StaffRole::ALL[i % domain::StaffRole::ALL.len()],
                kind: if i % 2 == 0 {
                    domain::ActorKind::Staff
                } else {
                    domain::ActorKind::Client
                },
                tag: PseudonymTag([i as u8; 32]),
            }));
        }
    }
    events
}

/// A petition's title and text with a fixed salt.
pub fn petition_text() -> domain::disclosure::PetitionText {
    domain::disclosure::PetitionText {
        salt: domain::disclosure::Salt([0x5a; 32]),
        title: "Сквер".into(),
        text: "Зберегти сквер. ".repeat(40),
    }
}

/// A contribution's text with a fixed salt.
pub fn contribution_text() -> domain::disclosure::ContributionText {
    domain::disclosure::ContributionText {
        salt: domain::disclosure::Salt([0xc5; 32]),
        text: "Більше лавок.".into(),
    }
}

/// Payloads of the older schema versions, as `(type, version, payload)`: what the upcasters
/// read.
pub fn older_payloads() -> Vec<(domain::EventType, u16, Vec<u8>)> {
    use domain::legacy::{
        ContributionAnsweredV1, ContributionSubmittedV1, PetitionFiledV1, PetitionPublishedV1,
    };
    let at = Timestamp(1_714_737_600_000_000);
    let pid = PetitionId(uuid(1));
    let filed = PetitionFiledV1 {
        petition_id: pid,
        author: PseudonymTag([1; 32]),
        title: "Сквер".into(),
        text: "Зберегти сквер. ".repeat(40),
        category: "довкілля".into(),
        at,
        moderation_due: date("2024-05-09"),
    };
    let published = PetitionPublishedV1 {
        petition_id: pid,
        rule: StatuteRule::KYIV,
        at,
    };
    let did = DialogueId(uuid(2));
    let contribution = ContributionId(uuid(6));
    let submitted = ContributionSubmittedV1 {
        dialogue_id: did,
        contribution_id: contribution,
        author: PseudonymTag([3; 32]),
        text: "Більше лавок.".into(),
        at,
    };
    let answered = ContributionAnsweredV1 {
        dialogue_id: did,
        contribution_id: contribution,
        response: ContributionResponse::PartlyAccepted,
        reason: "Враховано.".into(),
        at,
    };
    // Each official event as written before it recorded who acted: the current form without
    // its final `None`.
    let before_actor = events().into_iter().filter_map(|mut event| {
        let since = event.event_type().actor_since()?;
        event.attribute(None);
        let mut payload = domain::encode(&event).payload;
        payload.pop();
        Some((event.event_type(), since.0 - 1, payload))
    });
    let mut older: Vec<_> = before_actor.collect();
    older.extend([
        (
            domain::EventType::ContributionSubmitted,
            1,
            postcard::to_stdvec(&submitted).unwrap_or_default(),
        ),
        (
            domain::EventType::ContributionAnswered,
            1,
            postcard::to_stdvec(&answered).unwrap_or_default(),
        ),
        (
            domain::EventType::PetitionFiled,
            1,
            postcard::to_stdvec(&filed).unwrap_or_default(),
        ),
        (
            domain::EventType::PetitionPublished,
            1,
            postcard::to_stdvec(&published).unwrap_or_default(),
        ),
    ]);
    older
}

/// The envelope of `event` at `seq`, version `version` of its stream.
pub fn envelope(event: &Event, seq: u64, version: u64) -> Vec<u8> {
    let encoded = domain::encode(event);
    Envelope {
        event_type: encoded.event_type,
        schema_version: encoded.schema_version,
        municipality: code(),
        seq: LogSeq(seq),
        stream_id: event.stream().stream_id(),
        stream_version: StreamVersion(version),
        event_id: EventId(uuid(0x1000 + u128::from(seq))),
        recorded_at: event.at(),
        payload: encoded.payload,
    }
    .encode()
    .expect("a sample envelope encodes")
}

/// Envelopes of every sample event, at small and large positions.
pub fn envelopes() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let edges = [1u64, 127, 128, 1 << 32, i64::MAX as u64, u64::MAX];
    for (i, event) in events().iter().enumerate() {
        let seq = edges[i % edges.len()];
        out.push(envelope(event, seq, 1 + i as u64));
    }
    out
}

/// A log of `n` events of Vinnytsia from 1, valid in order (the first events of a petition).
pub fn log(n: u64) -> Vec<Vec<u8>> {
    let events = events();
    (1..=n)
        .map(|seq| {
            let event = &events[(seq as usize - 1) % events.len()];
            envelope(event, seq, seq)
        })
        .collect()
}

/// The root of the events' leaves.
pub fn root_of(events: &[Vec<u8>]) -> [u8; 32] {
    let leaves: Vec<_> = events.iter().map(|e| merkle::leaf_hash(e)).collect();
    merkle::root_from_leaves(&leaves)
}

/// A checkpoint note of `size` over `root`, signed by the node, cosigned when `cosigned`.
pub fn note(size: u64, root: [u8; 32], cosigned: bool) -> String {
    let mut signed = node_signer().sign(Checkpoint {
        origin: origin_for(&code()),
        size,
        root,
    });
    if cosigned {
        signed.cosign(&witness(), 1_714_737_700);
    }
    signed.to_note()
}

/// Signed and cosigned notes: over the sample log, and at edge sizes.
pub fn notes() -> Vec<Vec<u8>> {
    let log = log(3);
    let mut out = Vec::new();
    for size in 1..=3u64 {
        let root = root_of(&log[..size as usize]);
        out.push(note(size, root, false).into_bytes());
        out.push(note(size, root, true).into_bytes());
    }
    for size in [0, i64::MAX as u64, u64::MAX] {
        out.push(note(size, [7; 32], true).into_bytes());
    }
    // A note with a second node signature line and the witness's.
    let mut two = node_signer().sign(Checkpoint {
        origin: origin_for(&code()),
        size: 2,
        root: root_of(&log[..2]),
    });
    two.cosign(&witness(), 0);
    two.cosign(&witness(), u64::MAX);
    out.push(two.to_note().into_bytes());
    out
}

/// Verifier keys, private keys and their edges.
pub fn vkeys() -> Vec<Vec<u8>> {
    vec![
        node_signer().verifier().to_text().into_bytes(),
        witness().verifier().to_text().into_bytes(),
        format!("  {}\n", node_signer().verifier().to_text()).into_bytes(),
    ]
}

pub fn private_keys() -> Vec<Vec<u8>> {
    vec![
        node_signer().to_private_text().into_bytes(),
        witness().to_private_text().into_bytes(),
    ]
}
