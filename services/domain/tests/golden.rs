//! Golden bytes: the postcard payload of one sample of every event type, frozen in
//! `tests/golden/<code>-<name>.hex`. A change to any encoding fails here. To write the files
//! for a new event type or schema version, run with `VIDKRYTO_BLESS=1` and review the diff:
//! released bytes must never change.

mod fixtures;

use std::collections::BTreeSet;
use std::path::PathBuf;

use domain::{EventType, decode, encode};
use event_store_core::{EventTypeCode, SchemaVersion};
use fixtures::samples::{every_event_type, older_schema_samples};

/// `<code>-<name>.hex` for schema 1 (as first released), `<code>-<name>.v<N>.hex` after.
fn golden_path(event_type: EventType, version: u16) -> PathBuf {
    let suffix = if version == 1 {
        String::new()
    } else {
        format!(".v{version}")
    };
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(format!(
            "{:03}-{}{suffix}.hex",
            event_type.code().0,
            event_type.name()
        ))
}

/// Every (type, version) with golden bytes: every version of every type up to its current.
fn golden_versions() -> Vec<(EventType, u16)> {
    EventType::ALL
        .into_iter()
        .flat_map(|t| (1..=t.schema_version().0).map(move |v| (t, v)))
        .collect()
}

fn blessing() -> bool {
    std::env::var("VIDKRYTO_BLESS").is_ok_and(|v| v == "1")
}

#[test]
fn every_event_type_encodes_to_its_golden_bytes_and_back() {
    let mut failures = Vec::new();
    for event in every_event_type() {
        let event_type = event.event_type();
        let encoded = encode(&event);
        assert_eq!(encoded.event_type, event_type.code());
        assert_eq!(encoded.schema_version, event_type.schema_version());
        let path = golden_path(event_type, event_type.schema_version().0);
        let actual = hex::encode(&encoded.payload);
        if blessing() {
            std::fs::write(&path, format!("{actual}\n")).expect("golden file is writable");
        }
        let Ok(committed) = std::fs::read_to_string(&path) else {
            failures.push(format!(
                "{}: missing (run with VIDKRYTO_BLESS=1)",
                path.display()
            ));
            continue;
        };
        let committed = committed.trim();
        if committed != actual {
            failures.push(format!(
                "{}: bytes differ\n  committed {committed}\n  encoded   {actual}",
                path.display()
            ));
        }
        let bytes = hex::decode(committed).expect("golden file holds hex");
        let decoded = decode(event_type.code(), event_type.schema_version(), &bytes);
        assert_eq!(
            decoded,
            Ok(event),
            "{} does not decode to the sample",
            path.display()
        );
    }
    assert!(
        failures.is_empty(),
        "golden bytes drifted:\n{}",
        failures.join("\n")
    );
}

#[test]
fn every_golden_file_belongs_to_a_known_event_type() {
    if blessing() {
        // The files are being rewritten by the test above, concurrently.
        return;
    }
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let expected: BTreeSet<PathBuf> = golden_versions()
        .into_iter()
        .map(|(t, v)| golden_path(t, v))
        .collect();
    let present: BTreeSet<PathBuf> = std::fs::read_dir(&dir)
        .expect("golden directory exists")
        .map(|entry| entry.expect("readable entry").path())
        .collect();
    assert_eq!(present, expected);
}

#[test]
fn older_schema_golden_bytes_still_decode_through_the_upcasters() {
    let older = older_schema_samples();
    let expected_versions: Vec<(EventType, u16)> = golden_versions()
        .into_iter()
        .filter(|(t, v)| *v < t.schema_version().0)
        .collect();
    assert_eq!(
        older.iter().map(|(t, v, _)| (*t, *v)).collect::<Vec<_>>(),
        expected_versions,
        "every older version of every type has a sample"
    );
    for (event_type, version, event) in older {
        let path = golden_path(event_type, version);
        let committed =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let bytes = hex::decode(committed.trim()).expect("golden file holds hex");
        assert_eq!(
            decode(event_type.code(), SchemaVersion(version), &bytes),
            Ok(event),
            "{} does not read as its sample",
            path.display()
        );
    }
}

#[test]
fn type_codes_are_unique_and_the_samples_cover_every_one() {
    let codes: BTreeSet<u16> = EventType::ALL.into_iter().map(|t| t.code().0).collect();
    assert_eq!(
        codes.len(),
        EventType::ALL.len(),
        "a type code is used twice"
    );
    let names: BTreeSet<&str> = EventType::ALL.into_iter().map(EventType::name).collect();
    assert_eq!(
        names.len(),
        EventType::ALL.len(),
        "a type name is used twice"
    );

    let sampled: Vec<EventType> = every_event_type().iter().map(|e| e.event_type()).collect();
    assert_eq!(
        sampled,
        EventType::ALL.to_vec(),
        "samples must cover every type once, in order"
    );

    for code in 0..=u16::MAX {
        if let Some(event_type) = EventType::from_code(EventTypeCode(code)) {
            assert_eq!(event_type.code(), EventTypeCode(code));
        }
    }
    for event_type in EventType::ALL {
        assert_eq!(EventType::from_code(event_type.code()), Some(event_type));
    }
}

#[test]
fn every_sample_names_its_stream() {
    use domain::AggregateKind;
    for event in every_event_type() {
        let stream = event.stream();
        assert_eq!(stream.kind, event.event_type().aggregate());
        let expected = match stream.kind {
            AggregateKind::Calendar => domain::calendar::CALENDAR_STREAM_ID,
            AggregateKind::Petition => fixtures::petition_id().0,
            AggregateKind::Dialogue => fixtures::dialogue_id().0,
            AggregateKind::ActionPlan => fixtures::plan_id().0,
            AggregateKind::BudgetRound => fixtures::round_id().0,
        };
        assert_eq!(stream.stream_id().0, expected);
    }
}
