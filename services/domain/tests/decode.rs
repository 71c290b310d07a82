//! Decoding never trusts its input: garbage, truncated or padded payloads, unknown codes and
//! versions, and payloads whose fields break the bounds they are written with are errors, and
//! nothing panics.

mod fixtures;

use domain::petition::{PetitionContent, PetitionEvent, PetitionFiled, TITLE_LEN_MAX};
use domain::{DecodeError, Event, EventType, SCHEMA_VERSION_1, Violation, decode, encode};
use event_store_core::{EventTypeCode, SchemaVersion};
use fixtures::samples::every_event_type;
use fixtures::{date, petition_id, tag, utc};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn random_bytes_never_panic_for_any_type_code(
        index in 0..EventType::ALL.len(),
        payload in proptest::collection::vec(any::<u8>(), 0..256),
    ) {
        let code = EventType::ALL[index].code();
        if let Ok(event) = decode(code, SCHEMA_VERSION_1, &payload) {
            // Whatever decodes is a valid event that re-encodes to the same bytes.
            prop_assert_eq!(encode(&event).payload, payload);
        }
    }

    #[test]
    fn corrupted_samples_never_panic(
        index in 0..EventType::ALL.len(),
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
    ) {
        let event = &every_event_type()[index];
        let mut payload = encode(event).payload;
        for (at, byte) in flips {
            let i = at.index(payload.len());
            payload[i] ^= byte;
        }
        let _ = decode(event.event_type().code(), event.event_type().schema_version(), &payload);
    }

    #[test]
    fn random_codes_and_versions_never_panic(code in any::<u16>(), version in any::<u16>(), payload in proptest::collection::vec(any::<u8>(), 0..64)) {
        let _ = decode(EventTypeCode(code), SchemaVersion(version), &payload);
    }
}

#[test]
fn every_truncation_of_every_sample_is_an_error() {
    for event in every_event_type() {
        let encoded = encode(&event);
        for len in 0..encoded.payload.len() {
            let result = decode(
                encoded.event_type,
                encoded.schema_version,
                &encoded.payload[..len],
            );
            assert!(
                result.is_err(),
                "{:?} truncated to {len} bytes decoded",
                event.event_type()
            );
        }
    }
}

#[test]
fn trailing_bytes_are_refused() {
    for event in every_event_type() {
        let mut encoded = encode(&event);
        encoded.payload.push(0);
        assert_eq!(
            decode(encoded.event_type, encoded.schema_version, &encoded.payload),
            Err(DecodeError::TrailingBytes {
                type_code: encoded.event_type.0,
                count: 1
            })
        );
    }
}

#[test]
fn over_long_varints_are_refused_as_non_canonical() {
    // PlanClosed: a 16-byte id, then the timestamp 0 written as two bytes instead of one.
    let mut payload = vec![0x10];
    payload.extend([1; 16]);
    let canonical = [payload.as_slice(), &[0x00]].concat();
    assert!(decode(EventTypeCode(306), SCHEMA_VERSION_1, &canonical).is_ok());
    let over_long = [payload.as_slice(), &[0x80, 0x00]].concat();
    assert_eq!(
        decode(EventTypeCode(306), SCHEMA_VERSION_1, &over_long),
        Err(DecodeError::NonCanonical { type_code: 306 })
    );
}

#[test]
fn unknown_codes_and_versions_are_refused() {
    assert_eq!(
        decode(EventTypeCode(0), SchemaVersion(1), &[]),
        Err(DecodeError::UnknownTypeCode { type_code: 0 })
    );
    assert_eq!(
        decode(EventTypeCode(110), SchemaVersion(1), &[]),
        Err(DecodeError::UnknownTypeCode { type_code: 110 })
    );
    assert_eq!(
        decode(EventTypeCode(104), SchemaVersion(2), &[]),
        Err(DecodeError::UnsupportedSchemaVersion {
            type_code: 104,
            schema_version: 2
        })
    );
}

fn filed_with_title(title: String) -> Event {
    PetitionEvent::Filed(PetitionFiled {
        petition_id: petition_id(),
        author: tag(1),
        content: PetitionContent::Clear {
            title,
            text: "Текст".into(),
        },
        category: "інше".into(),
        at: utc("2024-05-03", 12, 0),
        moderation_due: date("2024-05-07"),
    })
    .into()
}

#[test]
fn bounds_are_checked_again_on_decode() {
    // Bytes that no `decide` would write: a title one character too long.
    let encoded = encode(&filed_with_title("ї".repeat(201)));
    assert_eq!(
        decode(encoded.event_type, encoded.schema_version, &encoded.payload),
        Err(DecodeError::Invalid {
            type_code: 101,
            field: "title",
            rule: Violation::TooLong {
                chars_max: TITLE_LEN_MAX
            },
        })
    );
    let encoded = encode(&filed_with_title("ї".repeat(200)));
    assert!(decode(encoded.event_type, encoded.schema_version, &encoded.payload).is_ok());
}

#[test]
fn impossible_dates_and_enum_variants_are_refused() {
    // The calendar sample: [len=2, 2024-01-01, 2024-08-24, at]; make the first month 13.
    let sample = &every_event_type()[0];
    let mut payload = encode(sample).payload;
    assert_eq!(&payload[..5], &[2, 0xd0, 0x1f, 1, 1]);
    payload[3] = 13;
    assert!(matches!(
        decode(EventTypeCode(1), SCHEMA_VERSION_1, &payload),
        Err(DecodeError::Malformed { .. })
    ));
    // Dates out of order are refused by the bound check.
    let mut payload = encode(sample).payload;
    payload[3] = 9;
    assert_eq!(
        decode(EventTypeCode(1), SCHEMA_VERSION_1, &payload),
        Err(DecodeError::Invalid {
            type_code: 1,
            field: "dates",
            rule: Violation::NotStrictlyAscending
        })
    );
    // An answer decision with a variant index that does not exist.
    let answered = every_event_type()
        .into_iter()
        .find(|e| e.event_type() == EventType::PetitionAnswered);
    let mut payload = encode(&answered.expect("sampled")).payload;
    assert_eq!(payload[17], 1, "decision follows the 17-byte id");
    payload[17] = 3;
    assert!(matches!(
        decode(EventTypeCode(108), SCHEMA_VERSION_1, &payload),
        Err(DecodeError::Malformed { .. })
    ));
}

/// Lists longer than their bound decode to the same `TooMany` as ever, however many items the
/// bytes hold or claim; decoding keeps at most the bound plus one of them (the fuzz target
/// `domain_payload` measures that: a 128 KiB payload of empty names once made 3 MiB of
/// `String`s, a claimed length alone a 1 MiB reservation).
#[test]
fn over_long_lists_are_too_many_whatever_their_length() {
    use domain::calendar::{CalendarEvent, NON_WORKING_DATES_MAX, NonWorkingDatesSet};
    use domain::dialogue::{DialogueClosed, DialogueEvent, ORGANISATIONS_MAX};
    let at = utc("2024-05-03", 12, 0);
    let closed = |names: usize| -> Event {
        DialogueEvent::Closed(DialogueClosed {
            dialogue_id: fixtures::dialogue_id(),
            attendance_count: 1,
            participating_organisations: vec![String::new(); names],
            at,
            acted_by: None,
        })
        .into()
    };
    let too_many_names = Err(DecodeError::Invalid {
        type_code: 204,
        field: "participating_organisations",
        rule: Violation::TooMany {
            items_max: ORGANISATIONS_MAX,
        },
    });
    for names in [ORGANISATIONS_MAX as usize + 1, 1_000, 100_000] {
        let encoded = encode(&closed(names));
        assert_eq!(
            decode(encoded.event_type, encoded.schema_version, &encoded.payload),
            too_many_names,
            "{names} names"
        );
    }
    // Within the bound, the names' own rule applies (a name is not blank).
    let encoded = encode(&closed(2));
    assert!(matches!(
        decode(encoded.event_type, encoded.schema_version, &encoded.payload),
        Err(DecodeError::Invalid {
            field: "participating_organisations",
            ..
        })
    ));
    let dates = |n: i64| -> Event {
        CalendarEvent::NonWorkingDatesSet(NonWorkingDatesSet {
            dates: (0..n).map(|d| date("2000-01-01").add_days(d)).collect(),
            at,
        })
        .into()
    };
    let encoded = encode(&dates(i64::from(NON_WORKING_DATES_MAX)));
    assert!(decode(encoded.event_type, encoded.schema_version, &encoded.payload).is_ok());
    let encoded = encode(&dates(i64::from(NON_WORKING_DATES_MAX) + 500));
    assert_eq!(
        decode(encoded.event_type, encoded.schema_version, &encoded.payload),
        Err(DecodeError::Invalid {
            type_code: 1,
            field: "dates",
            rule: Violation::TooMany {
                items_max: NON_WORKING_DATES_MAX
            },
        })
    );
    // A claimed length far past the bytes is truncated input, as before.
    let mut payload = encode(&closed(0)).payload;
    let names_at = 1 + 16 + 1; // the dialogue id (length and 16 bytes), attendance 1
    assert_eq!(payload[names_at], 0);
    payload.splice(names_at..=names_at, [0xff, 0xff, 0xff, 0xff, 0x0f]);
    assert!(matches!(
        decode(EventTypeCode(204), SCHEMA_VERSION_1, &payload),
        Err(DecodeError::Malformed { .. })
    ));
}

/// An official event from before `acted_by` is upcast by appending `None`; bytes trailing its
/// older form that would complete an actor are refused as trailing, never read as who acted.
#[test]
fn bytes_trailing_an_older_official_event_never_read_as_who_acted() {
    let mut checked = 0;
    for mut event in every_event_type() {
        let event_type = event.event_type();
        let Some(since) = event_type.actor_since() else {
            assert!(!event.attribute(None), "{event_type:?} records no actor");
            continue;
        };
        event.attribute(None);
        let mut older = encode(&event).payload;
        assert_eq!(older.pop(), Some(0), "the current form ends in `None`");
        if since.0 == 1 {
            // Released with `acted_by`: there is no older form to upcast.
            continue;
        }
        let before = event_store_core::SchemaVersion(since.0 - 1);
        assert_eq!(decode(event_type.code(), before, &older), Ok(event.clone()));
        // `Some`, role, kind and 31 of the tag's 32 bytes; the step's 0x00 would be the 32nd.
        let mut forged = older.clone();
        forged.extend([1, 1, 0]);
        forged.extend([0xaa; 31]);
        assert_eq!(
            decode(event_type.code(), before, &forged),
            Err(DecodeError::TrailingBytes {
                type_code: event_type.code().0,
                count: 34
            }),
            "{event_type:?}"
        );
        checked += 1;
    }
    assert_eq!(
        checked, 15,
        "every official event type released before `acted_by`"
    );
}
