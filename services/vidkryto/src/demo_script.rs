//! The demo's scripted activity: one petition's life decided by the real domain rules, turned
//! into log appends. Pure: the caller passes the start time.

use anyhow::Context as _;
use domain::petition::{AnswerDecision, PetitionCommand, PetitionEvent, StatuteRule};
use domain::{Aggregate as _, Petition, PetitionId, WorkingCalendar, petition_tag};
use event_store::NewEvent;
use event_store_core::{EventId, MunicipalityCode, StreamId, Timestamp};

/// Seconds between two simulated signatures.
const SIGNATURE_SPACING_SECS: i64 = 3;

/// Turns decided domain events into log events.
pub fn to_new_events(events: &[PetitionEvent]) -> Vec<NewEvent> {
    events
        .iter()
        .map(|e| {
            let event: domain::Event = e.clone().into();
            let encoded = domain::encode(&event);
            NewEvent {
                event_id: EventId::new_v7(),
                event_type: encoded.event_type,
                schema_version: encoded.schema_version,
                recorded_at: event.at(),
                payload: encoded.payload,
            }
        })
        .collect()
}

/// A petition filed, published under a statute whose threshold `signatures` reaches, signed
/// `signatures` times by distinct citizens, taken into consideration and answered. Returns the
/// petition's stream and its events in order.
pub fn petition_script(
    municipality: MunicipalityCode,
    signatures: u32,
    start: Timestamp,
    secret: [u8; 32],
) -> anyhow::Result<Vec<(StreamId, Vec<NewEvent>)>> {
    let secret = domain::NodeSecret::from_bytes(secret);
    let petition = PetitionId(uuid::Uuid::now_v7());
    let calendar = WorkingCalendar::default();
    let mut state = <Petition as domain::Aggregate>::State::default();
    let mut all = Vec::new();
    // The title and text are committed at filing and disclosed at publication; the salt
    // comes from the secret, so the demo stays reproducible from its seed.
    let text = domain::disclosure::PetitionText {
        salt: domain::disclosure::Salt(petition_tag(&secret, petition, "demo-text-salt").0),
        title: format!("Велодоріжка вздовж набережної ({municipality})"),
        text: "Просимо облаштувати безпечну велодоріжку вздовж набережної.".to_owned(),
    };
    let mut at = start.as_secs();
    let mut step = |state: &mut <Petition as domain::Aggregate>::State,
                    cmd: PetitionCommand|
     -> anyhow::Result<()> {
        let events =
            Petition::decide(state, cmd).context("demo command refused by the domain rules")?;
        for e in &events {
            *state = Petition::evolve(state.clone(), e);
        }
        all.extend(events);
        Ok(())
    };
    step(
        &mut state,
        PetitionCommand::File {
            petition_id: petition,
            author: petition_tag(&secret, petition, "demo-author"),
            text: text.clone(),
            category: "transport".to_owned(),
            at: Timestamp::from_secs(at),
            calendar: calendar.clone(),
        },
    )?;
    at += 3_600;
    let rule = StatuteRule::with_law_deadline(signatures.clamp(1, 6_000), 60);
    step(
        &mut state,
        PetitionCommand::Publish {
            rule,
            text: Some(text),
            at: Timestamp::from_secs(at),
        },
    )?;
    for i in 0..signatures {
        at += SIGNATURE_SPACING_SECS;
        let signer = petition_tag(&secret, petition, &format!("demo-citizen-{i}"));
        step(
            &mut state,
            PetitionCommand::Sign {
                signer,
                at: Timestamp::from_secs(at),
            },
        )?;
    }
    at += 86_400;
    step(
        &mut state,
        PetitionCommand::StartConsideration {
            at: Timestamp::from_secs(at),
            calendar,
        },
    )?;
    at += 3 * 86_400;
    step(
        &mut state,
        PetitionCommand::Answer {
            decision: AnswerDecision::Supported,
            response: "Підтримано: велодоріжку включено до плану робіт.".to_owned(),
            responder_role: "міський голова".to_owned(),
            at: Timestamp::from_secs(at),
        },
    )?;
    let stream = StreamId(petition.0);
    Ok(vec![(stream, to_new_events(&all))])
}
