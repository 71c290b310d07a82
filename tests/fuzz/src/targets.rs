//! One target per decoder of untrusted bytes. Each names the decoder it drives, the valid
//! samples it starts from, the decoder's declared input limit, and the allocation bound it is
//! held to: at most `per_byte × min(input length, limit) + fixed` bytes, both for the largest
//! single allocation and for the peak of live bytes, measured around the decoder call alone
//! (not around building its input).

use projection::association_log::{Decision, ENTRY_LEN_MAX, Entry, KeyHistory};
use projection::statement::{StatedPosition, Statement};
use std::path::Path;
use std::str::FromStr;

use event_store_core::checkpoint::{
    Checkpoint, NOTE_LEN_MAX, NoteSigner, NoteVerifier, SignedCheckpoint, WitnessVerifier,
    origin_for,
};
use event_store_core::merkle::{self, Frontier};
use event_store_core::{
    ENVELOPE_LEN_MAX, Envelope, EnvelopeRef, EventTypeCode, MunicipalityCode, PAYLOAD_LEN_MAX,
    SchemaVersion, Upcasters,
};

use crate::alloc::{Usage, measure, measure_text};
use crate::samples;

/// Allocation bound: `per_byte × min(len, limit) + fixed` bytes.
#[derive(Debug, Clone, Copy)]
pub struct Bound {
    pub per_byte: usize,
    pub fixed: usize,
}

impl Bound {
    pub fn allowed(&self, len: usize, limit: usize) -> usize {
        self.per_byte
            .saturating_mul(len.min(limit))
            .saturating_add(self.fixed)
    }
}

/// A decoder under test.
#[derive(Debug, Clone, Copy)]
pub struct Target {
    pub name: &'static str,
    /// The decoder(s) it calls.
    pub decoder: &'static str,
    pub seeds: fn() -> Vec<Vec<u8>>,
    /// The decoder's declared maximum input (refused past it), `usize::MAX` for none.
    pub limit: usize,
    /// The longest input the mutator makes.
    pub cap: usize,
    pub bound: Bound,
    /// Runs the decoder on one input; returns what its measured calls allocated.
    pub run: fn(&[u8]) -> Usage,
}

const KIB: usize = 1024;

/// Every target, in a fixed order.
pub fn all() -> Vec<Target> {
    vec![
        Target {
            name: "envelope_ref",
            decoder: "event_store_core::EnvelopeRef::decode, payload_header, PayloadHeader::payload",
            seeds: samples::envelopes,
            limit: ENVELOPE_LEN_MAX,
            cap: ENVELOPE_LEN_MAX + 64,
            bound: Bound {
                per_byte: 0,
                fixed: 4 * KIB,
            },
            run: envelope_ref,
        },
        Target {
            name: "envelope",
            decoder: "event_store_core::Envelope::decode, decode_unchecked_canonical",
            seeds: samples::envelopes,
            limit: ENVELOPE_LEN_MAX,
            cap: ENVELOPE_LEN_MAX + 64,
            bound: Bound {
                per_byte: 4,
                fixed: 4 * KIB,
            },
            run: envelope,
        },
        Target {
            name: "domain_payload",
            decoder: "domain::decode (every type code and schema version), domain::decode_with through a registry with upcasting steps",
            seeds: payload_seeds,
            limit: 4 + PAYLOAD_LEN_MAX,
            cap: 4 + PAYLOAD_LEN_MAX + 64,
            // The decoded strings are copies of the input and its lists hold at most their
            // declared maximum of items (1,024 dates, 200 names, 4 values): a few times the
            // input and a few KiB, whatever the list lengths the bytes claim.
            bound: Bound {
                per_byte: 4,
                fixed: 32 * KIB,
            },
            run: domain_payload,
        },
        Target {
            name: "domain_open",
            decoder: "domain::open (domain::schema), domain::decode_payload",
            seeds: samples::envelopes,
            limit: ENVELOPE_LEN_MAX,
            cap: ENVELOPE_LEN_MAX + 64,
            // The decoded strings are copies of the input and its lists hold at most their
            // declared maximum of items (1,024 dates, 200 names, 4 values): a few times the
            // input and a few KiB, whatever the list lengths the bytes claim.
            bound: Bound {
                per_byte: 4,
                fixed: 32 * KIB,
            },
            run: domain_open,
        },
        Target {
            name: "signed_checkpoint",
            decoder: "SignedCheckpoint::parse (signed and cosigned notes), verify, verify_for, verify_cosignature, to_note",
            seeds: samples::notes,
            limit: NOTE_LEN_MAX,
            cap: NOTE_LEN_MAX + 64,
            bound: Bound {
                per_byte: 8,
                fixed: 4 * KIB,
            },
            run: signed_checkpoint,
        },
        Target {
            name: "projection_statement",
            decoder: "projection::statement::Statement::open, open_at",
            seeds: statements,
            limit: NOTE_LEN_MAX,
            cap: NOTE_LEN_MAX + 64,
            // The note's body and signature lines copied once, their base64 decoded.
            bound: Bound {
                per_byte: 8,
                fixed: 4 * KIB,
            },
            run: projection_statement,
        },
        Target {
            name: "association_log_entry",
            decoder: "projection::association_log::Entry::decode, KeyHistory::apply",
            seeds: association_log_entries,
            limit: ENTRY_LEN_MAX,
            cap: ENTRY_LEN_MAX + 64,
            // The entry decoded once and encoded again to check its one form.
            bound: Bound {
                per_byte: 8,
                fixed: 4 * KIB,
            },
            run: association_log_entry,
        },
        Target {
            name: "checkpoint_body",
            decoder: "Checkpoint::parse_body",
            seeds: bodies,
            limit: usize::MAX,
            cap: 4 * KIB,
            // The origin copied, and the root line's base64 decoded.
            bound: Bound {
                per_byte: 4,
                fixed: KIB,
            },
            run: checkpoint_body,
        },
        Target {
            name: "vkey",
            decoder: "NoteVerifier::parse, WitnessVerifier::from_note_verifier, to_text",
            seeds: samples::vkeys,
            limit: usize::MAX,
            cap: 4 * KIB,
            bound: Bound {
                per_byte: 2,
                fixed: KIB,
            },
            run: vkey,
        },
        #[cfg(feature = "association")]
        Target {
            name: "association_parse_vkey",
            decoder: "association::enrolment::parse_vkey",
            seeds: samples::vkeys,
            limit: usize::MAX,
            cap: 4 * KIB,
            bound: Bound {
                per_byte: 2,
                fixed: KIB,
            },
            run: association_parse_vkey,
        },
        Target {
            name: "private_key",
            decoder: "NoteSigner::parse",
            seeds: samples::private_keys,
            limit: usize::MAX,
            cap: 4 * KIB,
            bound: Bound {
                per_byte: 2,
                fixed: KIB,
            },
            run: private_key,
        },
        Target {
            name: "archive_events",
            decoder: "auditor::archive::decode_events",
            seeds: archive_files,
            limit: usize::MAX,
            cap: 512 * KIB,
            bound: Bound {
                per_byte: 2,
                fixed: 4 * KIB,
            },
            run: archive_events,
        },
        Target {
            name: "archive_file_name",
            decoder: "auditor::archive::parse_events_file_name, events_in",
            seeds: file_names,
            limit: usize::MAX,
            cap: 256,
            bound: Bound {
                per_byte: 0,
                fixed: 0,
            },
            run: archive_file_name,
        },
        Target {
            name: "archive_json",
            decoder: "the archive's JSON records as auditor::archive reads them: CheckpointRecord (checkpoints.jsonl), Keys, DigestRecord, Manifest",
            seeds: json_records,
            limit: usize::MAX,
            cap: 16 * KIB,
            bound: Bound {
                per_byte: 8,
                fixed: 4 * KIB,
            },
            run: archive_json,
        },
        Target {
            name: "nats_subject",
            decoder: "wire::Subject::parse, Subject::municipality",
            seeds: subjects,
            limit: usize::MAX,
            cap: 256,
            bound: Bound {
                per_byte: 0,
                fixed: 0,
            },
            run: nats_subject,
        },
        Target {
            name: "nats_leaves",
            decoder: "wire::decode_leaves (the relay's leaf hashes before each checkpoint)",
            seeds: leaves,
            limit: usize::MAX,
            cap: 4 * 1024,
            // The hashes it returns: at most the input's bytes, plus the vector's header.
            bound: Bound {
                per_byte: 2,
                fixed: 256,
            },
            run: nats_leaves,
        },
        Target {
            name: "nats_headers",
            decoder: "wire::log_position, and the relay's read of Vidkryto-Seq / Vidkryto-Tree-Size (relay::last_header is private: the same expression)",
            seeds: headers,
            limit: usize::MAX,
            cap: 1024,
            // async-nats's `HeaderMap::get` turns the `&str` name into an owned header name.
            bound: Bound {
                per_byte: 0,
                fixed: 256,
            },
            run: nats_headers,
        },
        Target {
            name: "municipality_code",
            decoder: "MunicipalityCode::parse, FromStr",
            seeds: codes,
            limit: usize::MAX,
            cap: 128,
            bound: Bound {
                per_byte: 0,
                fixed: 256,
            },
            run: municipality_code,
        },
        #[cfg(feature = "association")]
        Target {
            name: "association_verifier_event",
            decoder: "association::verifier::NodeVerifier::on_event (events 1..=2 pending)",
            seeds: verifier_events,
            limit: ENVELOPE_LEN_MAX,
            cap: ENVELOPE_LEN_MAX + 64,
            bound: Bound {
                per_byte: 2,
                fixed: 8 * KIB,
            },
            run: association_verifier_event,
        },
        #[cfg(feature = "association")]
        Target {
            name: "association_verifier_checkpoint",
            decoder: "association::verifier::NodeVerifier::on_checkpoint (events 1..=3 pending)",
            seeds: samples::notes,
            limit: NOTE_LEN_MAX,
            cap: NOTE_LEN_MAX + 64,
            bound: Bound {
                per_byte: 8,
                fixed: 16 * KIB,
            },
            run: association_verifier_checkpoint,
        },
        #[cfg(feature = "association")]
        Target {
            name: "association_verifier_sequence",
            decoder: "association::verifier::NodeVerifier, a sequence of event and checkpoint messages (candidates, held checkpoints, segments)",
            seeds: verifier_sequences,
            limit: usize::MAX,
            cap: 64 * KIB,
            bound: Bound {
                per_byte: 16,
                fixed: 64 * KIB,
            },
            run: association_verifier_sequence,
        },
        #[cfg(feature = "association")]
        Target {
            name: "association_chunk",
            decoder: "association::store::split_chunk",
            seeds: chunks,
            limit: usize::MAX,
            cap: 64 * KIB,
            bound: Bound {
                per_byte: 8,
                fixed: KIB,
            },
            run: association_chunk,
        },
        Target {
            name: "merkle_proof",
            decoder: "merkle::verify_inclusion, verify_consistency, inclusion_ranges, consistency_ranges, Frontier::from_parts",
            seeds: proofs,
            limit: usize::MAX,
            cap: 4 * KIB,
            bound: Bound {
                per_byte: 2,
                fixed: 4 * KIB,
            },
            run: merkle_proof,
        },
        Target {
            name: "text_values",
            decoder: "projection::Digest::from_str, domain::CivilDate::from_str",
            seeds: text_value_seeds,
            limit: usize::MAX,
            cap: 256,
            bound: Bound {
                per_byte: 0,
                fixed: 256,
            },
            run: text_values,
        },
    ]
}

/// Text of a text format: the bytes as UTF-8, or with invalid sequences replaced, so byte
/// mutations still reach the parser.
fn text(input: &[u8]) -> String {
    String::from_utf8_lossy(input).into_owned()
}

fn envelope_ref(input: &[u8]) -> Usage {
    measure(|| {
        if let Ok(envelope) = EnvelopeRef::decode(input) {
            let header = envelope.payload_header(input);
            assert_eq!(header.payload(input), envelope.payload);
            assert!(envelope.payload.len() <= PAYLOAD_LEN_MAX);
        }
    })
}

fn envelope(input: &[u8]) -> Usage {
    measure(|| {
        let canonical = Envelope::decode(input);
        let any = Envelope::decode_unchecked_canonical(input);
        if let Ok(envelope) = &canonical {
            // What decodes canonically encodes back to the same bytes.
            assert_eq!(envelope.encode().as_deref(), Ok(input));
            assert_eq!(any.as_ref(), Ok(envelope));
        }
    })
}

/// `[type code u16 LE][schema version u16 LE][payload]`, so mutations reach every type code
/// and version.
fn payload_seeds() -> Vec<Vec<u8>> {
    let seed = |code: u16, version: u16, payload: &[u8]| {
        let mut input = code.to_le_bytes().to_vec();
        input.extend_from_slice(&version.to_le_bytes());
        input.extend_from_slice(payload);
        input
    };
    let mut seeds: Vec<Vec<u8>> = samples::events()
        .iter()
        .map(|event| {
            let encoded = domain::encode(event);
            seed(
                encoded.event_type.0,
                encoded.schema_version.0,
                &encoded.payload,
            )
        })
        .collect();
    seeds.extend(
        samples::older_payloads()
            .iter()
            .map(|(t, version, payload)| seed(t.code().0, *version, payload)),
    );
    seeds
}

/// Every type current at schema version 3, with identity steps from 1 and 2 (an upcaster that
/// passes the bytes on): the upcasting path of `decode_with`.
fn stepped() -> &'static Upcasters {
    static REGISTRY: std::sync::LazyLock<Upcasters> = std::sync::LazyLock::new(|| {
        domain::EventType::ALL
            .into_iter()
            .fold(Upcasters::new(), |registry, t| {
                registry
                    .current(t.code(), SchemaVersion(3))
                    .step(t.code(), SchemaVersion(1), |bytes| Ok(bytes.to_vec()))
                    .step(t.code(), SchemaVersion(2), |bytes| Ok(bytes.to_vec()))
            })
    });
    &REGISTRY
}

fn domain_payload(input: &[u8]) -> Usage {
    let Some((header, payload)) = input.split_first_chunk::<4>() else {
        return Usage::default();
    };
    let event_type = EventTypeCode(u16::from_le_bytes([header[0], header[1]]));
    let schema = SchemaVersion(u16::from_le_bytes([header[2], header[3]]));
    let direct = measure(|| {
        if let Ok(event) = domain::decode(event_type, schema, payload) {
            // What decodes at the current version is the one encoding of its event (an older
            // version's is upcast, so it encodes to the current form).
            let encoded = domain::encode(&event);
            if encoded.schema_version == schema {
                assert_eq!(encoded.payload, payload);
            }
            assert_eq!(encoded.event_type, event_type);
        }
    });
    let stepped = measure(|| {
        let _ = domain::decode_with(stepped(), event_type, schema, payload);
    });
    direct.max(stepped)
}

fn domain_open(input: &[u8]) -> Usage {
    measure(|| {
        let opened = domain::open(input);
        if let Ok(envelope) = EnvelopeRef::decode(input) {
            let header = envelope.payload_header(input);
            let payload = domain::decode_payload(header, input);
            assert_eq!(
                payload.ok(),
                opened.as_ref().ok().map(|r| r.event.clone()),
                "open and decode_payload agree"
            );
        }
    })
}

fn signed_checkpoint(input: &[u8]) -> Usage {
    let note = text(input);
    let node = samples::node_signer().verifier();
    let witness = samples::witness().witness_verifier();
    let origin = origin_for(&samples::code());
    measure_text(note.len(), || {
        if let Ok(signed) = SignedCheckpoint::parse(&note) {
            let _ = signed.verify(&node);
            let _ = signed.verify_for(&node, &origin);
            let _ = signed.verify_cosignature(&witness);
            let again = SignedCheckpoint::parse(&signed.to_note());
            assert_eq!(again.as_ref(), Ok(&signed), "a parsed note round-trips");
        }
    })
}

fn bodies() -> Vec<Vec<u8>> {
    [0u64, 1, 3, u64::MAX]
        .into_iter()
        .map(|size| {
            Checkpoint {
                origin: origin_for(&samples::code()),
                size,
                root: [9; 32],
            }
            .body()
            .into_bytes()
        })
        .collect()
}

/// A statement the association signs, at one position.
fn statement_note() -> String {
    let positions = [StatedPosition {
        municipality: samples::code(),
        size: 2,
        root: vec![5; 32],
    }];
    Statement::new([7; 32], &positions, 1_795_000_000).sign(&samples::witness())
}

fn statements() -> Vec<Vec<u8>> {
    vec![statement_note().into_bytes()]
}

fn projection_statement(input: &[u8]) -> Usage {
    let note = text(input);
    let witness = samples::witness().verifier();
    let positions = [StatedPosition {
        municipality: samples::code(),
        size: 2,
        root: vec![5; 32],
    }];
    measure_text(note.len(), || {
        if let Ok(statement) = Statement::open(&note, &witness) {
            let _ = statement.body();
        }
        let _ = Statement::open_at(&note, &witness, &positions);
    })
}

fn association_log_entries() -> Vec<Vec<u8>> {
    let vkey = samples::node_signer().verifier().to_text();
    [
        Decision::Enrolled {
            municipality: samples::CODE.into(),
            vkey: vkey.clone(),
        },
        Decision::Revoked {
            municipality: samples::CODE.into(),
            vkey,
        },
        Decision::Recommended {
            municipality: samples::CODE.into(),
            tool: 1,
            id: [7; 16],
            reason: "Відкритий бюджет".into(),
        },
        Decision::Stated {
            note: statement_note(),
        },
    ]
    .into_iter()
    .map(|d| Entry::new(1, 1_714_737_600_000_000, d).encode())
    .collect()
}

fn association_log_entry(input: &[u8]) -> Usage {
    measure(|| {
        if let Ok(entry) = Entry::decode(1, input) {
            assert_eq!(entry.encode(), input);
            let _ = KeyHistory::new().apply(&entry);
        }
    })
}

fn checkpoint_body(input: &[u8]) -> Usage {
    let body = text(input);
    measure_text(body.len(), || {
        if let Ok(checkpoint) = Checkpoint::parse_body(&body) {
            let _ = checkpoint.body();
        }
    })
}

fn vkey(input: &[u8]) -> Usage {
    let key = text(input);
    measure_text(key.len(), || {
        if let Ok(verifier) = NoteVerifier::parse(&key) {
            let _ = WitnessVerifier::from_note_verifier(&verifier);
            assert_eq!(
                NoteVerifier::parse(&verifier.to_text()).as_ref(),
                Ok(&verifier)
            );
        }
    })
}

#[cfg(feature = "association")]
fn association_parse_vkey(input: &[u8]) -> Usage {
    let key = text(input);
    measure_text(key.len(), || {
        let _ = association::enrolment::parse_vkey(&key);
    })
}

fn private_key(input: &[u8]) -> Usage {
    let key = text(input);
    measure_text(key.len(), || {
        if let Ok(signer) = NoteSigner::parse(&key) {
            let _ = signer.verifier();
        }
    })
}

fn archive_files() -> Vec<Vec<u8>> {
    let log = samples::log(4);
    vec![
        auditor::archive::encode_events(log.iter().map(Vec::as_slice)),
        auditor::archive::encode_events(log[..1].iter().map(Vec::as_slice)),
        auditor::archive::encode_events([&b""[..], b"x"]),
    ]
}

fn archive_events(input: &[u8]) -> Usage {
    let path = Path::new("events-000000000001-000000000004.bin");
    measure(|| {
        if let Ok(records) = auditor::archive::decode_events(path, input) {
            let total: usize = records.iter().map(|r| 36 + r.bytes.len()).sum();
            assert_eq!(total, input.len(), "records cover the file");
        }
    })
}

fn file_names() -> Vec<Vec<u8>> {
    [
        (1, 1),
        (1, 100_000),
        (100_001, 200_000),
        (1_000_000_000_000, 1_000_000_000_005),
    ]
    .into_iter()
    .map(|(a, b)| auditor::archive::events_file_name(a, b).into_bytes())
    .chain([b"checkpoints.jsonl".to_vec()])
    .collect()
}

fn archive_file_name(input: &[u8]) -> Usage {
    let name = text(input);
    measure_text(name.len(), || {
        if let Ok(Some((first, last))) = auditor::archive::parse_events_file_name(&name) {
            assert!(1 <= first && first <= last);
            let held = auditor::archive::events_in(first, last);
            assert!((1..=auditor::archive::EVENTS_PER_FILE).contains(&held));
        }
    })
}

fn json_records() -> Vec<Vec<u8>> {
    use auditor::archive::{
        CheckpointRecord, DigestRecord, KeyRecord, Keys, Manifest, ManifestEntry, Position,
    };
    let log = samples::log(2);
    let root = samples::root_of(&log);
    let checkpoint = CheckpointRecord {
        size: 2,
        root: hex::encode(root),
        cosigned_note: samples::note(2, root, true),
        accepted_at_micros: 1_714_737_600_000_000,
    };
    let keys = Keys {
        witness_vkey: samples::witness().verifier().to_text(),
        keys: vec![KeyRecord {
            code: samples::CODE.into(),
            vkey: samples::node_signer().verifier().to_text(),
            enrolled_at_micros: 0,
            revoked_at_micros: 0,
        }],
    };
    let digest = DigestRecord {
        digest: "ab".repeat(32),
        positions: vec![Position {
            code: samples::CODE.into(),
            verified_size: 2,
            root: hex::encode(root),
        }],
        computed_at_micros: 1,
        statement_note: statement_note(),
    };
    let manifest = Manifest {
        format: auditor::archive::FORMAT.into(),
        created_at_micros: 1,
        source: "http://127.0.0.1:50100".into(),
        files: vec![ManifestEntry {
            path: "keys.json".into(),
            size: 10,
            sha256: "cd".repeat(32),
            leaves_sha256: String::new(),
        }],
    };
    vec![
        auditor::archive::to_json_line(&checkpoint)
            .expect("json")
            .into_bytes(),
        serde_json::to_vec_pretty(&keys).expect("json"),
        serde_json::to_vec_pretty(&digest).expect("json"),
        serde_json::to_vec_pretty(&manifest).expect("json"),
    ]
}

fn archive_json(input: &[u8]) -> Usage {
    use auditor::archive::{CheckpointRecord, DigestRecord, Keys, Manifest};
    let json = text(input);
    measure_text(json.len(), || {
        // `checkpoints.jsonl` is read line by line.
        for line in json.lines().filter(|l| !l.trim().is_empty()) {
            if let Ok(record) = serde_json::from_str::<CheckpointRecord>(line) {
                let _ = SignedCheckpoint::parse(&record.cosigned_note);
            }
        }
        let _ = serde_json::from_str::<Keys>(&json);
        let _ = serde_json::from_str::<DigestRecord>(&json);
        let _ = serde_json::from_str::<Manifest>(&json);
    })
}

fn subjects() -> Vec<Vec<u8>> {
    let code = samples::code();
    let other = MunicipalityCode::parse(samples::OTHER_CODE).expect("a code");
    vec![
        wire::event_subject(&code).into_bytes(),
        wire::checkpoint_subject(&other).into_bytes(),
        wire::leaves_subject(&code).into_bytes(),
        wire::subjects_filter(&code).into_bytes(),
        b"vidkryto.ev.".to_vec(),
    ]
}

fn nats_subject(input: &[u8]) -> Usage {
    let subject = text(input);
    let mut parsed = None;
    let usage = measure_text(subject.len(), || {
        parsed = wire::Subject::parse(&subject).map(|s| (s.kind, s.municipality()));
    });
    if let Some((kind, Ok(code))) = parsed {
        let rebuilt = match kind {
            wire::SubjectKind::Event => wire::event_subject(&code),
            wire::SubjectKind::Checkpoint => wire::checkpoint_subject(&code),
            wire::SubjectKind::Leaves => wire::leaves_subject(&code),
        };
        assert_eq!(
            rebuilt, subject,
            "a subject that parses is the one built for its code"
        );
    }
    usage
}

fn leaves() -> Vec<Vec<u8>> {
    vec![
        wire::encode_leaves(1, &[[1; 32]]),
        wire::encode_leaves(7, &[[2; 32], [3; 32], [4; 32]]),
        wire::encode_leaves(u64::MAX - 2, &[[5; 32]]),
    ]
}

fn nats_leaves(input: &[u8]) -> Usage {
    measure(|| {
        if let Ok((first, leaves)) = wire::decode_leaves(input) {
            assert!(first >= 1 && !leaves.is_empty());
            assert!(leaves.len() <= wire::LEAVES_PER_MESSAGE_MAX);
            assert_eq!(wire::encode_leaves(first, &leaves), input);
        }
    })
}

fn headers() -> Vec<Vec<u8>> {
    vec![
        format!("{}: 5\r\n", wire::SEQ_HEADER).into_bytes(),
        format!("{}: 1000\r\n", wire::TREE_SIZE_HEADER).into_bytes(),
        format!(
            "Nats-Msg-Id: {}-ckpt-7\r\n{}: 18446744073709551615\r\n",
            samples::CODE,
            wire::TREE_SIZE_HEADER
        )
        .into_bytes(),
        format!(
            "{}: 12\r\n{}: 3\r\n",
            wire::TREE_SIZE_HEADER,
            wire::SEQ_HEADER
        )
        .into_bytes(),
    ]
}

/// Header lines `Name: value`, read as a NATS client reads a message's header block: names and
/// values that the client refuses are skipped, the others go into the map.
fn header_map(text: &str) -> async_nats::HeaderMap {
    let mut map = async_nats::HeaderMap::new();
    for line in text.split("\r\n") {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let (Ok(name), Ok(value)) = (
            async_nats::HeaderName::from_str(name),
            async_nats::HeaderValue::from_str(value.trim()),
        ) else {
            continue;
        };
        map.append(name, value);
    }
    map
}

fn nats_headers(input: &[u8]) -> Usage {
    let map = header_map(&text(input));
    measure(|| {
        let position = wire::log_position(&map);
        // relay::last_header, which is private to the relay.
        for header in [wire::SEQ_HEADER, wire::TREE_SIZE_HEADER] {
            let _ = map.get(header).and_then(|v| v.as_str().parse::<u64>().ok());
        }
        if let Some(p) = position {
            let _ = p.checked_add(1);
        }
    })
}

fn codes() -> Vec<Vec<u8>> {
    vec![
        samples::CODE.as_bytes().to_vec(),
        samples::OTHER_CODE.as_bytes().to_vec(),
    ]
}

fn municipality_code(input: &[u8]) -> Usage {
    let code = text(input);
    measure_text(code.len(), || {
        if let Ok(parsed) = MunicipalityCode::parse(&code) {
            assert_eq!(parsed.as_str(), code);
            assert_eq!(MunicipalityCode::from_str(&code), Ok(parsed));
        }
    })
}

#[cfg(feature = "association")]
/// A node verifier of Vinnytsia with its key enrolled and `pending` events received.
fn verifier_with(pending: u64) -> association::verifier::NodeVerifier {
    let mut verifier = association::verifier::NodeVerifier::new(
        samples::code(),
        vec![samples::node_signer().verifier()],
        Frontier::new(),
        None,
    );
    for (i, event) in samples::log(pending).iter().enumerate() {
        let outcome = verifier.on_event(event, 1 + i as u64, true, None);
        assert_eq!(outcome, association::verifier::EventOutcome::Pending);
    }
    verifier
}

#[cfg(feature = "association")]
fn verifier_events() -> Vec<Vec<u8>> {
    samples::log(4)
}

#[cfg(feature = "association")]
fn association_verifier_event(input: &[u8]) -> Usage {
    let mut verifier = verifier_with(2);
    measure(|| {
        let _ = verifier.on_event(input, 100, true, None);
    })
}

#[cfg(feature = "association")]
fn association_verifier_checkpoint(input: &[u8]) -> Usage {
    let note = text(input);
    let mut verifier = verifier_with(3);
    measure_text(note.len(), || {
        let _ = verifier.on_checkpoint(&note, 100);
    })
}

/// Messages as `[kind][length u16 LE][bytes]`: an even kind is an event, an odd one a
/// checkpoint note.
#[cfg(feature = "association")]
fn sequence(messages: &[(bool, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    for (checkpoint, bytes) in messages {
        out.push(u8::from(*checkpoint));
        out.extend_from_slice(&(bytes.len() as u16).to_le_bytes());
        out.extend_from_slice(bytes);
    }
    out
}

#[cfg(feature = "association")]
fn verifier_sequences() -> Vec<Vec<u8>> {
    let log = samples::log(4);
    let note = |n: usize, cosigned| {
        samples::note(n as u64, samples::root_of(&log[..n]), cosigned).into_bytes()
    };
    let (n2, n3, n4) = (note(2, false), note(3, true), note(4, false));
    // Other bytes for position 3: another event of the sample log, moved to seq 3.
    let forged = samples::envelope(&samples::events()[7], 3, 3);
    vec![
        sequence(&[
            (false, &log[0]),
            (false, &log[1]),
            (false, &log[2]),
            (true, &n3),
        ]),
        sequence(&[
            (false, &log[0]),
            (false, &log[1]),
            (false, &forged),
            (false, &log[2]),
            (true, &n3),
            (false, &log[3]),
            (true, &n4),
        ]),
        sequence(&[(true, &n2), (false, &log[0]), (false, &log[1]), (true, &n2)]),
        sequence(&[
            (true, &n4),
            (true, &n2),
            (false, &log[0]),
            (false, &log[1]),
            (false, &log[3]),
            (false, &log[2]),
        ]),
    ]
}

#[cfg(feature = "association")]
fn association_verifier_sequence(input: &[u8]) -> Usage {
    let mut messages: Vec<(bool, String, &[u8])> = Vec::new();
    let mut rest = input;
    while let Some((&kind, tail)) = rest.split_first() {
        let Some((len, tail)) = tail.split_first_chunk::<2>() else {
            break;
        };
        let len = usize::from(u16::from_le_bytes(*len)).min(tail.len());
        let (bytes, tail) = tail.split_at(len);
        messages.push((kind % 2 == 1, text(bytes), bytes));
        rest = tail;
    }
    let mut verifier = verifier_with(0);
    measure(|| {
        for (i, (checkpoint, note, bytes)) in messages.iter().enumerate() {
            if *checkpoint {
                let _ = verifier.on_checkpoint(note, 1 + i as u64);
            } else {
                let _ = verifier.on_event(bytes, 1 + i as u64, true, None);
            }
        }
    })
}

#[cfg(feature = "association")]
fn chunks() -> Vec<Vec<u8>> {
    let log = samples::log(3);
    vec![
        association::store::pack_chunk(log.iter().map(Vec::as_slice)),
        association::store::pack_chunk([&b""[..]]),
    ]
}

#[cfg(feature = "association")]
fn association_chunk(input: &[u8]) -> Usage {
    measure(|| {
        if let Ok(events) = association::store::split_chunk(input) {
            let total: usize = events.iter().map(|e| 4 + e.len()).sum();
            assert_eq!(total, input.len());
        }
    })
}

/// `[a u64 LE][b u64 LE][hashes…]`: a leaf index or old size, a tree size, then proof hashes.
fn proofs() -> Vec<Vec<u8>> {
    let leaves: Vec<[u8; 32]> = samples::log(7)
        .iter()
        .map(|e| merkle::leaf_hash(e))
        .collect();
    let mut out = Vec::new();
    for (a, b) in [(2u64, 7u64), (0, 1), (6, 7), (3, 7)] {
        let ranges = merkle::inclusion_ranges(a, b);
        let proof = merkle::proof_from_leaves(&leaves[..b as usize], &ranges);
        let mut input = a.to_le_bytes().to_vec();
        input.extend_from_slice(&b.to_le_bytes());
        for hash in proof {
            input.extend_from_slice(&hash);
        }
        out.push(input);
    }
    out
}

fn merkle_proof(input: &[u8]) -> Usage {
    let Some((a, rest)) = input.split_first_chunk::<8>() else {
        return Usage::default();
    };
    let Some((b, rest)) = rest.split_first_chunk::<8>() else {
        return Usage::default();
    };
    let (a, b) = (u64::from_le_bytes(*a), u64::from_le_bytes(*b));
    let hashes: Vec<[u8; 32]> = rest
        .chunks_exact(32)
        .map(|c| c.try_into().expect("32 bytes"))
        .collect();
    let leaf = merkle::leaf_hash(b"leaf");
    let root = merkle::root_from_leaves(&[leaf]);
    measure(|| {
        let _ = merkle::verify_inclusion(&leaf, a, b, &hashes, &root);
        let _ = merkle::verify_consistency(a, b, &hashes, &leaf, &root);
        assert!(merkle::inclusion_ranges(a, b).len() <= 64);
        assert!(merkle::consistency_ranges(a, b).len() <= 65);
        if let Ok(frontier) = Frontier::from_parts(b, rest) {
            assert_eq!(frontier.size(), b);
            let _ = frontier.root();
        }
    })
}

fn text_value_seeds() -> Vec<Vec<u8>> {
    vec![
        "0123456789abcdef".repeat(4).into_bytes(),
        b"2024-02-29".to_vec(),
        b"-0001-12-31".to_vec(),
    ]
}

fn text_values(input: &[u8]) -> Usage {
    let value = text(input);
    measure_text(value.len(), || {
        if let Ok(digest) = projection::Digest::from_str(&value) {
            assert_eq!(digest.to_string(), value.to_ascii_lowercase());
        }
        if let Ok(date) = domain::CivilDate::from_str(&value) {
            let _ = date.to_string();
        }
    })
}
