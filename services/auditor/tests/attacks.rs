//! Attacks on the auditor through a crafted archive (issue 13, defect 10), built offline with
//! the real encoders:
//! - a verified event (signed by the node, cosigned by the association) whose payload does not
//!   decode: the association skips it for the projections (and quarantines it), so `recompute`
//!   must skip it too, report it, and reach the association's digest;
//! - events-file names whose numbers are crafted (first past last, a range no file can hold,
//!   numbers at the edge of `u64`): refused with a typed error, never an overflow or a panic.

use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

use auditor::archive::{
    Archive, ArchiveError, CHECKPOINTS, CheckpointRecord, EventsFileNameError, KEYS, KeyRecord,
    Keys, MUNICIPALITIES, encode_events, events_file_name, parse_events_file_name, to_json_line,
    write_atomic,
};
use auditor::recompute::recompute;
use auditor::verify::verify;
use domain::petition::{
    PetitionEvent, PetitionFiled, PetitionPublished, PetitionSigned, StatuteRule,
};
use domain::{Event, PetitionId, PseudonymTag};
use event_store_core::checkpoint::{Checkpoint, NoteSigner, SignedCheckpoint, origin_for};
use event_store_core::{
    Envelope, EventId, LogSeq, MunicipalityCode, StreamVersion, Timestamp, merkle,
};
use projection::association_log::Decision;
use projection::{MemoryStore, Verified};
use uuid::Uuid;

const VINNYTSIA: &str = "UA05020030000031457";
const AT: i64 = 1_714_737_600_000_000; // 2024-05-03 12:00 UTC

fn code() -> MunicipalityCode {
    MunicipalityCode::parse(VINNYTSIA).unwrap()
}

fn node_signer() -> NoteSigner {
    NoteSigner::from_seed(&origin_for(&code()), [1; 32]).unwrap()
}

fn witness() -> NoteSigner {
    NoteSigner::from_seed("vidkryto-association", [2; 32]).unwrap()
}

fn petition() -> PetitionId {
    PetitionId(Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0001))
}

/// The envelope of `event` at `seq`, version `seq` of the petition's stream.
fn envelope_of(seq: u64, event: &Event) -> Vec<u8> {
    let encoded = domain::encode(event);
    envelope_at(
        seq,
        encoded.event_type,
        encoded.schema_version,
        encoded.payload,
    )
}

/// An envelope of a schema-1 payload.
fn envelope(seq: u64, event_type: event_store_core::EventTypeCode, payload: Vec<u8>) -> Vec<u8> {
    envelope_at(seq, event_type, domain::SCHEMA_VERSION_1, payload)
}

fn envelope_at(
    seq: u64,
    event_type: event_store_core::EventTypeCode,
    schema_version: event_store_core::SchemaVersion,
    payload: Vec<u8>,
) -> Vec<u8> {
    Envelope {
        event_type,
        schema_version,
        municipality: code(),
        seq: LogSeq(seq),
        stream_id: event_store_core::StreamId(petition().0),
        stream_version: StreamVersion(seq),
        event_id: EventId(Uuid::from_u128(
            0x0190_0000_0000_7000_8000_0000_0001_0000 + seq as u128,
        )),
        recorded_at: Timestamp(AT + seq as i64),
        payload,
    }
    .encode()
    .unwrap()
}

fn petition_text() -> domain::disclosure::PetitionText {
    domain::disclosure::PetitionText {
        salt: domain::disclosure::Salt([2; 32]),
        title: "Сквер".into(),
        text: "Зберегти сквер.".into(),
    }
}

fn filed() -> Event {
    PetitionEvent::Filed(PetitionFiled {
        petition_id: petition(),
        author: PseudonymTag([1; 32]),
        content: domain::petition::PetitionContent::Committed(petition_text().commitment()),
        category: "довкілля".into(),
        at: Timestamp(AT),
        moderation_due: "2024-05-09".parse().unwrap(),
    })
    .into()
}

fn published() -> Event {
    PetitionEvent::Published(PetitionPublished {
        petition_id: petition(),
        rule: StatuteRule::KYIV,
        at: Timestamp(AT + 2),
        disclosure: Some(petition_text()),
        acted_by: None,
    })
    .into()
}

fn signed(n: u8, seq: u64) -> Event {
    PetitionEvent::Signed(PetitionSigned {
        petition_id: petition(),
        signer: PseudonymTag([n; 32]),
        at: Timestamp(AT + seq as i64),
    })
    .into()
}

/// Writes the association's log of the archive: Vinnytsia's node key enrolled at time 0,
/// signed by `association`.
fn write_enrolment_log(archive: &Archive, association: &NoteSigner) {
    auditor::archive::AssociationLogWriter::write_signed(
        archive,
        association,
        vec![(
            0,
            Decision::Enrolled {
                municipality: VINNYTSIA.into(),
                vkey: node_signer().verifier().to_text(),
            },
        )],
    )
    .unwrap();
}

/// Writes an archive of Vinnytsia's `events` in one file, with one checkpoint over all of
/// them signed by the node and cosigned by the association, and its manifest.
fn write_archive(dir: &Path, events: &[Vec<u8>]) -> Archive {
    let archive = Archive::new(dir);
    let muni = archive.municipality_dir(&code());
    std::fs::create_dir_all(&muni).unwrap();
    let size = events.len() as u64;
    write_atomic(
        &muni.join(events_file_name(1, size)),
        &encode_events(events.iter().map(Vec::as_slice)),
    )
    .unwrap();
    let leaves: Vec<_> = events.iter().map(|e| merkle::leaf_hash(e)).collect();
    let root = merkle::root_from_leaves(&leaves);
    let mut note = node_signer().sign(Checkpoint {
        origin: origin_for(&code()),
        size,
        root,
    });
    note.cosign(&witness(), 1_714_737_700);
    let record = CheckpointRecord {
        size,
        root: hex::encode(root),
        cosigned_note: note.to_note(),
        accepted_at_micros: AT + 1_000_000,
    };
    write_atomic(
        &muni.join(CHECKPOINTS),
        to_json_line(&record).unwrap().as_bytes(),
    )
    .unwrap();
    archive
        .write_json(
            KEYS,
            &Keys {
                witness_vkey: witness().verifier().to_text(),
                keys: vec![KeyRecord {
                    code: VINNYTSIA.into(),
                    vkey: node_signer().verifier().to_text(),
                    enrolled_at_micros: 0,
                    revoked_at_micros: 0,
                }],
            },
        )
        .unwrap();
    write_enrolment_log(&archive, &witness());
    auditor::export::write_manifest(&archive, "test").unwrap();
    archive
}

/// The digest the association reaches on these verified events: it projects the ones whose
/// payload decodes, in log order, and skips (quarantines) the others
/// (`services/association/src/commit.rs`).
fn association_digest(events: &[Vec<u8>]) -> String {
    let projected: Vec<Verified> = events
        .iter()
        .filter_map(|bytes| domain::open(bytes).ok())
        .map(|recorded| Verified {
            municipality: recorded.envelope.municipality,
            seq: recorded.envelope.seq.0,
            event: recorded.event,
        })
        .collect();
    let mut store = MemoryStore::new();
    store.apply_batch(&projected).unwrap();
    projection::Digest(store.digest().unwrap()).to_string()
}

#[test]
fn a_verified_event_whose_payload_does_not_decode_is_skipped_and_reported_as_the_association_does()
{
    let signed_type = domain::encode(&signed(9, 3)).event_type;
    let events = vec![
        envelope_of(1, &filed()),
        envelope_of(2, &published()),
        // A well-formed envelope, in its place in the log and the stream, covered by the
        // node's signed checkpoint, whose payload is no petition signature.
        envelope(3, signed_type, vec![0xff, 0xff, 0xff, 0x0f, 0x00]),
        envelope_of(4, &signed(4, 4)),
        envelope_of(5, &signed(5, 5)),
    ];
    assert!(
        domain::open(&events[2]).is_err(),
        "the crafted payload must not decode"
    );
    let dir = tempfile::tempdir().unwrap();
    let archive = write_archive(dir.path(), &events);

    // `verify` names it: the node signed an event that is not a domain event.
    let report = verify(&archive, 1, false).unwrap();
    let failure = report.municipalities[0].failure.clone().unwrap();
    assert_eq!((failure.seq, failure.check), (3, "undecodable"));

    // `recompute` skips it for the projections, as the association does, and says so.
    let recomputed = recompute(&archive, &BTreeMap::new()).expect("recompute skips, never stops");
    assert_eq!(recomputed.digest, association_digest(&events));
    assert_eq!(recomputed.positions.get(&code()), Some(&5));
    assert_eq!(recomputed.events, 5);
    assert_eq!(recomputed.undecodable.len(), 1);
    assert_eq!(recomputed.undecodable[0].municipality, code());
    assert_eq!(recomputed.undecodable[0].seq, 3);
    assert!(
        recomputed.undecodable[0].detail.contains("104"),
        "{:?}",
        recomputed.undecodable[0].detail
    );
    // The same up to an explicit position past it, and before it nothing is skipped.
    let upto = BTreeMap::from([(code(), 5)]);
    assert_eq!(
        recompute(&archive, &upto).unwrap().digest,
        recomputed.digest
    );
    let upto = BTreeMap::from([(code(), 2)]);
    let before = recompute(&archive, &upto).unwrap();
    assert!(before.undecodable.is_empty());
    assert_eq!(before.digest, association_digest(&events[..2]));
}

#[test]
fn an_archive_without_undecodable_events_reports_none() {
    let events = vec![
        envelope_of(1, &filed()),
        envelope_of(2, &published()),
        envelope_of(3, &signed(3, 3)),
    ];
    let dir = tempfile::tempdir().unwrap();
    let archive = write_archive(dir.path(), &events);
    assert!(verify(&archive, 1, false).unwrap().ok);
    let recomputed = recompute(&archive, &BTreeMap::new()).unwrap();
    assert!(recomputed.undecodable.is_empty());
    assert_eq!(recomputed.digest, association_digest(&events));
}

/// A node that publishes a petition with a title and text other than those its filing
/// committed to (or with none) has signed it, but `verify` names the publication.
#[test]
fn a_publication_that_does_not_disclose_the_committed_text_is_named() {
    let other = domain::disclosure::PetitionText {
        text: "Знести сквер.".into(),
        ..petition_text()
    };
    let Event::Petition(PetitionEvent::Published(mut wrong)) = published() else {
        unreachable!()
    };
    wrong.disclosure = Some(other);
    let mut silent = wrong.clone();
    silent.disclosure = None;
    for publication in [wrong, silent] {
        let events = vec![
            envelope_of(1, &filed()),
            envelope_of(2, &PetitionEvent::Published(publication).into()),
            envelope_of(3, &signed(3, 3)),
        ];
        let dir = tempfile::tempdir().unwrap();
        let archive = write_archive(dir.path(), &events);
        let report = verify(&archive, 1, false).unwrap();
        let failure = report.municipalities[0].failure.clone().unwrap();
        assert_eq!(
            (failure.seq, failure.check),
            (2, "disclosure"),
            "{failure:?}"
        );
    }
}

/// Adds an events file named `name` (holding one valid event) beside the archive's files.
fn plant(archive: &Archive, name: &str) {
    let path = archive.root.join(MUNICIPALITIES).join(VINNYTSIA).join(name);
    std::fs::write(
        path,
        encode_events([envelope_of(9, &signed(9, 9)).as_slice()]),
    )
    .unwrap();
}

/// Runs `f`, failing the test with the panic's message if it panicked.
fn no_panic<T>(what: &str, f: impl FnOnce() -> T) -> T {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(value) => value,
        Err(panic) => {
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_default();
            panic!("{what} panicked: {message}");
        }
    }
}

#[test]
fn crafted_events_file_names_are_refused_with_a_typed_error_never_a_panic() {
    let crafted = [
        // first past last: `last + 1 - first` underflows.
        "events-000000000003-000000000001.bin",
        // the largest u64 as last: `last + 1` overflows.
        "events-000000000001-18446744073709551615.bin",
        // one event, but past the last sequence number a log holds.
        "events-18446744073709551615-18446744073709551615.bin",
        // a range no events file holds (at most 100,000 events).
        "events-000000000001-000000200000.bin",
    ];
    for name in crafted {
        let events = vec![envelope_of(1, &filed()), envelope_of(2, &published())];
        let dir = tempfile::tempdir().unwrap();
        let archive = write_archive(dir.path(), &events);
        plant(&archive, name);
        let listed = no_panic("events_files", || archive.events_files(&code()));
        assert!(
            matches!(listed, Err(ArchiveError::EventsFileName { .. })),
            "{name}: {listed:?}"
        );
        let verified = no_panic("verify", || verify(&archive, 1, false));
        assert!(
            matches!(verified, Err(ArchiveError::EventsFileName { .. })),
            "{name}: {verified:?}"
        );
        let recomputed = no_panic("recompute", || recompute(&archive, &BTreeMap::new()));
        assert!(
            matches!(
                recomputed,
                Err(auditor::AuditError::Archive(
                    ArchiveError::EventsFileName { .. }
                ))
            ),
            "{name}: {recomputed:?}"
        );
    }
}

#[test]
fn events_file_names_parse_with_checked_arithmetic() {
    assert_eq!(
        parse_events_file_name(&events_file_name(1, 100_000)),
        Ok(Some((1, 100_000)))
    );
    assert_eq!(
        parse_events_file_name(&events_file_name(100_001, 100_007)),
        Ok(Some((100_001, 100_007)))
    );
    // Not an events file at all: other files of the directory.
    for other in [
        CHECKPOINTS,
        "events.bin",
        "events-1-2.bin.partial",
        "notes.txt",
    ] {
        assert_eq!(parse_events_file_name(other), Ok(None), "{other}");
    }
    let refused = [
        (
            "events-000000000003-000000000001.bin",
            EventsFileNameError::FirstPastLast { first: 3, last: 1 },
        ),
        (
            "events-000000000000-000000000001.bin",
            EventsFileNameError::ZeroFirst,
        ),
        (
            "events-000000000001-18446744073709551615.bin",
            EventsFileNameError::PastLog { last: u64::MAX },
        ),
        (
            "events-000000000001-000000100001.bin",
            EventsFileNameError::TooManyEvents {
                first: 1,
                last: 100_001,
            },
        ),
        (
            "events-9223372036854775808-9223372036854775808.bin",
            EventsFileNameError::PastLog { last: 1 << 63 },
        ),
        ("events-x-1.bin", EventsFileNameError::NotANumber),
        ("events-+1-2.bin", EventsFileNameError::NotANumber),
        (
            "events-1-18446744073709551616.bin",
            EventsFileNameError::NotANumber,
        ),
        ("events-1.bin", EventsFileNameError::NotANumber),
        ("events-1-2-3.bin", EventsFileNameError::NotANumber),
    ];
    for (name, error) in refused {
        assert_eq!(parse_events_file_name(name), Err(error), "{name}");
    }
}

const KYIV: &str = "UA80000000000093317";

fn kyiv_key(seed: u8) -> String {
    NoteSigner::from_seed(&format!("vidkryto/{KYIV}"), [seed; 32])
        .unwrap()
        .verifier()
        .to_text()
}

/// An archive whose association log enrols Vinnytsia's node (entry 1), a key of Kyiv's
/// (entry 2) and states something (entry 3), with keys.json to match; verifies as it is.
fn archive_with_log(dir: &Path) -> Archive {
    let events = vec![envelope_of(1, &filed()), envelope_of(2, &published())];
    let archive = write_archive(dir, &events);
    let decisions = vec![
        (
            0,
            Decision::Enrolled {
                municipality: VINNYTSIA.into(),
                vkey: node_signer().verifier().to_text(),
            },
        ),
        (
            5,
            Decision::Enrolled {
                municipality: KYIV.into(),
                vkey: kyiv_key(7),
            },
        ),
        (
            9,
            Decision::Stated {
                note: "a statement\n".into(),
            },
        ),
    ];
    auditor::archive::AssociationLogWriter::write_signed(&archive, &witness(), decisions).unwrap();
    let mut keys = archive.keys().unwrap();
    keys.keys.push(KeyRecord {
        code: KYIV.into(),
        vkey: kyiv_key(7),
        enrolled_at_micros: 5,
        revoked_at_micros: 0,
    });
    archive.write_json(KEYS, &keys).unwrap();
    auditor::export::write_manifest(&archive, "test").unwrap();
    let report = verify(&archive, 1, false).unwrap();
    assert!(report.ok, "{report:?}");
    assert_eq!(report.association.as_ref().unwrap().verified_to, 3);
    archive
}

fn association_failure(archive: &Archive) -> (u64, &'static str) {
    let report = verify(archive, 1, false).unwrap();
    assert!(!report.ok);
    let failure = report.association.unwrap().failure.unwrap();
    (failure.seq, failure.check)
}

/// Someone who holds the association's database but not its key swaps the key of an
/// enrolment after the association signed it, and makes the archive consistent with the
/// swap: the leaf hash recomputed, keys.json and the manifest rewritten. The checkpoint the
/// association signed at that size names the entry.
#[test]
fn a_rewritten_enrolment_in_the_association_log_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let archive = archive_with_log(dir.path());
    let path = archive.association_dir().join(events_file_name(1, 3));
    let data = std::fs::read(&path).unwrap();
    let mut entries: Vec<Vec<u8>> = auditor::archive::decode_events(&path, &data)
        .unwrap()
        .iter()
        .map(|r| r.bytes.to_vec())
        .collect();
    entries[1] = projection::association_log::Entry::new(
        2,
        5,
        Decision::Enrolled {
            municipality: KYIV.into(),
            vkey: kyiv_key(66),
        },
    )
    .encode();
    write_atomic(&path, &encode_events(entries.iter().map(Vec::as_slice))).unwrap();
    let mut keys = archive.keys().unwrap();
    keys.keys[1].vkey = kyiv_key(66);
    archive.write_json(KEYS, &keys).unwrap();
    auditor::export::write_manifest(&archive, "test").unwrap();
    assert_eq!(association_failure(&archive), (2, "root"));
}

/// keys.json claiming a key the log never enrolled is named, and node signatures are checked
/// against the log's history, not keys.json's.
#[test]
fn keys_json_other_than_the_log_is_named_and_not_trusted() {
    let dir = tempfile::tempdir().unwrap();
    let archive = archive_with_log(dir.path());
    let mut keys = archive.keys().unwrap();
    keys.keys.remove(1);
    archive.write_json(KEYS, &keys).unwrap();
    auditor::export::write_manifest(&archive, "test").unwrap();
    assert_eq!(association_failure(&archive), (3, "keys"));

    // The log revokes Vinnytsia's key before its checkpoint was accepted; keys.json says it
    // is valid: the node's checkpoint fails under the log's history.
    let dir = tempfile::tempdir().unwrap();
    let archive = write_archive(dir.path(), &[envelope_of(1, &filed())]);
    let key = node_signer().verifier().to_text();
    auditor::archive::AssociationLogWriter::write_signed(
        &archive,
        &witness(),
        vec![
            (
                0,
                Decision::Enrolled {
                    municipality: VINNYTSIA.into(),
                    vkey: key.clone(),
                },
            ),
            (
                1,
                Decision::Revoked {
                    municipality: VINNYTSIA.into(),
                    vkey: key,
                },
            ),
        ],
    )
    .unwrap();
    auditor::export::write_manifest(&archive, "test").unwrap();
    let report = verify(&archive, 1, false).unwrap();
    assert_eq!(report.association.unwrap().failure.unwrap().check, "keys");
    let node = report.municipalities[0].failure.clone().unwrap();
    assert_eq!((node.seq, node.check), (1, "signature"));
}

/// Entries past the association's last signed checkpoint, a statement the log does not hold
/// and a log signed by another key are each named.
#[test]
fn an_unsigned_tail_a_missing_statement_and_a_foreign_signature_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let archive = archive_with_log(dir.path());
    let checkpoints = archive.association_dir().join(CHECKPOINTS);
    let text = std::fs::read_to_string(&checkpoints).unwrap();
    let kept: Vec<&str> = text.lines().take(2).collect();
    std::fs::write(&checkpoints, kept.join("\n") + "\n").unwrap();
    auditor::export::write_manifest(&archive, "test").unwrap();
    assert_eq!(association_failure(&archive), (3, "unsigned"));

    let dir = tempfile::tempdir().unwrap();
    let archive = archive_with_log(dir.path());
    archive
        .write_json(
            auditor::archive::DIGEST,
            &auditor::archive::DigestRecord {
                digest: "00".repeat(32),
                positions: Vec::new(),
                computed_at_micros: 1,
                statement_note: "another statement\n".into(),
            },
        )
        .unwrap();
    auditor::export::write_manifest(&archive, "test").unwrap();
    assert_eq!(association_failure(&archive), (3, "statement"));

    let dir = tempfile::tempdir().unwrap();
    let archive = archive_with_log(dir.path());
    let stranger = NoteSigner::from_seed("vidkryto-association", [3; 32]).unwrap();
    write_enrolment_log(&archive, &stranger);
    auditor::export::write_manifest(&archive, "test").unwrap();
    assert_eq!(association_failure(&archive), (1, "signature"));
}

/// A checkpoint of the association's log in the middle re-signed by another key (its note
/// otherwise the same): verify names that checkpoint, on one thread as on several (the log's
/// signatures are checked in parallel), and takes node keys only from the entries before it.
#[test]
fn a_foreign_signature_in_the_middle_of_the_association_log_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let archive = archive_with_log(dir.path());
    let path = archive.association_dir().join(CHECKPOINTS);
    let mut records: Vec<auditor::archive::LogCheckpointRecord> = std::fs::read_to_string(&path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let signed = SignedCheckpoint::parse(&records[1].note).unwrap();
    let stranger = NoteSigner::from_seed("vidkryto-association", [3; 32]).unwrap();
    records[1].note = stranger.sign(signed.checkpoint).to_note();
    let lines: String = records
        .iter()
        .map(|r| auditor::archive::to_json_line(r).unwrap())
        .collect();
    std::fs::write(&path, lines).unwrap();
    auditor::export::write_manifest(&archive, "test").unwrap();
    for threads in [1, 2, 3] {
        let report = verify(&archive, threads, false).unwrap();
        let log = report.association.unwrap();
        let failure = log.failure.unwrap();
        assert_eq!((failure.seq, failure.check), (2, "signature"), "{threads}");
        assert_eq!(log.verified_to, 1);
        assert_eq!(log.entries, 2, "the log is read up to the failure");
    }
}

/// A hromada's checkpoints deleted (the manifest written again): its events are no longer
/// covered by anything it signed, and verify says so instead of passing them.
#[test]
fn events_no_checkpoint_covers_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let archive = write_archive(
        dir.path(),
        &[envelope_of(1, &filed()), envelope_of(2, &published())],
    );
    let muni = archive.municipality_dir(&code());
    write_atomic(&muni.join(CHECKPOINTS), b"").unwrap();
    auditor::export::write_manifest(&archive, "test").unwrap();
    let report = verify(&archive, 2, false).unwrap();
    assert!(!report.ok, "{report:?}");
    let failure = report.municipalities[0].failure.clone().unwrap();
    assert_eq!((failure.seq, failure.check), (1, "unsigned"), "{failure:?}");
}

/// A checkpoint record of size 0 put before the real ones (no tree has that size) changes
/// nothing: an event rewritten after the hromada signed its checkpoint is still named by that
/// checkpoint's root.
#[test]
fn a_checkpoint_of_size_zero_hides_no_rewritten_event() {
    let dir = tempfile::tempdir().unwrap();
    let first = [envelope_of(1, &filed()), envelope_of(2, &published())];
    let signed_by = |n| {
        [
            first[0].clone(),
            first[1].clone(),
            envelope_of(3, &signed(n, 3)),
        ]
    };
    let archive = write_archive(dir.path(), &signed_by(1));
    let muni = archive.municipality_dir(&code());
    // The signature rewritten (another signer), its recorded leaf made to match.
    let rewritten = signed_by(2);
    write_atomic(
        &muni.join(events_file_name(1, 3)),
        &encode_events(rewritten.iter().map(Vec::as_slice)),
    )
    .unwrap();
    let real = std::fs::read_to_string(muni.join(CHECKPOINTS)).unwrap();
    let record: CheckpointRecord = serde_json::from_str(real.trim()).unwrap();
    let zero = CheckpointRecord {
        size: 0,
        ..record.clone()
    };
    let lines = to_json_line(&zero).unwrap() + &to_json_line(&record).unwrap();
    write_atomic(&muni.join(CHECKPOINTS), lines.as_bytes()).unwrap();
    auditor::export::write_manifest(&archive, "test").unwrap();
    for threads in [1, 2] {
        let report = verify(&archive, threads, false).unwrap();
        assert!(!report.ok, "{report:?}");
        let failure = report.municipalities[0].failure.clone().unwrap();
        assert_eq!((failure.seq, failure.check), (3, "root"), "{failure:?}");
        assert_eq!(report.municipalities[0].verified_to, 0);
    }
}

/// An archive of format 1 (before the association's log) still verifies, with a note that its
/// key history is the association's word; one of format 2 without the log does not.
#[test]
fn an_archive_without_the_association_log() {
    let dir = tempfile::tempdir().unwrap();
    let archive = write_archive(dir.path(), &[envelope_of(1, &filed())]);
    std::fs::remove_dir_all(archive.association_dir()).unwrap();
    auditor::export::write_manifest(&archive, "test").unwrap();
    assert_eq!(association_failure(&archive), (1, "missing"));
    // Relabelled as format 1: refused unless the auditor accepts format 1 knowingly.
    let mut manifest = archive.manifest().unwrap();
    manifest.format = auditor::archive::FORMAT_V1.into();
    manifest.files = archive.scan_for(auditor::archive::FORMAT_V1).unwrap();
    archive
        .write_json(auditor::archive::MANIFEST, &manifest)
        .unwrap();
    assert_eq!(association_failure(&archive), (0, "format"));
    let options = auditor::verify::VerifyOptions {
        threads: 1,
        accept_format_1: true,
        ..Default::default()
    };
    let report = auditor::verify::verify_with(&archive, &options).unwrap();
    assert!(report.ok, "{report:?}");
    assert!(
        report
            .notes
            .iter()
            .any(|n| n.contains("association's word")),
        "{:?}",
        report.notes
    );
}

/// A pinned witness key other than the archive's: nothing of the association's is taken
/// under the archive's key.
#[test]
fn a_witness_key_other_than_the_pinned_one_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let archive = archive_with_log(dir.path());
    let pinned = |key: &NoteSigner| auditor::verify::VerifyOptions {
        threads: 1,
        pinned: Some(key.verifier()),
        ..Default::default()
    };
    let report = auditor::verify::verify_with(&archive, &pinned(&witness())).unwrap();
    assert!(report.ok && report.witness_mismatch.is_none(), "{report:?}");
    let stranger = NoteSigner::from_seed("vidkryto-association", [3; 32]).unwrap();
    let report = auditor::verify::verify_with(&archive, &pinned(&stranger)).unwrap();
    assert!(!report.ok);
    assert!(report.witness_mismatch.is_some());
    let log = report.association.unwrap().failure.unwrap();
    assert_eq!((log.seq, log.check), (1, "signature"));
}

/// An archive whose association log (signed by the association's own key) enrols Vinnytsia's
/// node, a monitor, and records `assessment` as an independent assessment.
fn archive_with_assessment(dir: &Path, assessment: String) -> Archive {
    let events = vec![envelope_of(1, &filed()), envelope_of(2, &published())];
    let archive = write_archive(dir, &events);
    let monitor =
        NoteSigner::from_seed(&domain::assessment::monitor_key_name("chesno"), [12; 32]).unwrap();
    let decisions = vec![
        (
            0,
            Decision::Enrolled {
                municipality: VINNYTSIA.into(),
                vkey: node_signer().verifier().to_text(),
            },
        ),
        (
            AT,
            Decision::MonitorEnrolled {
                monitor: "chesno".into(),
                name: "Рух ЧЕСНО".into(),
                vkey: monitor.verifier().to_text(),
                not_independent_of: vec![],
            },
        ),
        (AT, Decision::Assessed { note: assessment }),
    ];
    auditor::archive::AssociationLogWriter::write_signed(&archive, &witness(), decisions).unwrap();
    auditor::export::write_manifest(&archive, "test").unwrap();
    archive
}

fn vinnytsia_assessment() -> domain::assessment::Assessment {
    domain::assessment::Assessment {
        monitor: "chesno".into(),
        municipality: code(),
        plan: domain::PlanId::from(Uuid::from_u128(1)),
        commitment: domain::CommitmentId::from(Uuid::from_u128(2)),
        completion: domain::action_plan::ImplementationStatus::Limited,
        opened_government: domain::action_plan::OpenedGovernment::Marginal,
        assessed_on: "2024-05-01".parse().unwrap(),
        summary: "Реєстр опубліковано, але не оновлюється.".into(),
    }
}

/// The association signs its log, but an auditor does not take its word for an independent
/// assessment: one signed by the hromada's own node key, recorded as independent, is named
/// with its entry and rule; the monitor's own verifies.
#[test]
fn an_assessment_by_the_hromada_recorded_as_independent_is_named() {
    let monitor =
        NoteSigner::from_seed(&domain::assessment::monitor_key_name("chesno"), [12; 32]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let honest =
        archive_with_assessment(dir.path(), vinnytsia_assessment().sign(&monitor).unwrap());
    let report = verify(&honest, 1, false).unwrap();
    assert!(report.ok, "{report:?}");
    assert_eq!(report.association.as_ref().unwrap().verified_to, 3);

    let dir = tempfile::tempdir().unwrap();
    let by_the_hromada = node_signer()
        .sign_note(vinnytsia_assessment().body())
        .to_note();
    let archive = archive_with_assessment(dir.path(), by_the_hromada);
    let report = verify(&archive, 1, false).unwrap();
    assert!(!report.ok);
    let failure = report.association.unwrap().failure.unwrap();
    assert_eq!((failure.seq, failure.check), (3, "rules"));
    assert!(
        format!("{failure:?}").contains("assessment.by_the_hromada"),
        "{failure:?}"
    );
}

/// Vinnytsia's events (filed, published, signed 3..=5) in two files, 1..=2 and 3..=5, under
/// one checkpoint, with the manifest written after the split.
fn archive_in_two_files(dir: &Path) -> (Archive, [std::path::PathBuf; 2]) {
    let events: Vec<Vec<u8>> = [envelope_of(1, &filed()), envelope_of(2, &published())]
        .into_iter()
        .chain((3..=5).map(|seq| envelope_of(seq, &signed(seq as u8, seq))))
        .collect();
    let archive = write_archive(dir, &events);
    let muni = archive.municipality_dir(&code());
    std::fs::remove_file(muni.join(events_file_name(1, 5))).unwrap();
    let files = [
        muni.join(events_file_name(1, 2)),
        muni.join(events_file_name(3, 5)),
    ];
    write_atomic(
        &files[0],
        &encode_events(events[..2].iter().map(Vec::as_slice)),
    )
    .unwrap();
    write_atomic(
        &files[1],
        &encode_events(events[2..].iter().map(Vec::as_slice)),
    )
    .unwrap();
    auditor::export::write_manifest(&archive, "test").unwrap();
    (archive, files)
}

/// Rewrites the events file at `path` with `change` applied to its events' bytes, each leaf
/// recomputed (a consistent forgery) unless `keep_leaves`.
fn rewrite_events(path: &Path, keep_leaves: bool, change: impl Fn(usize, &mut Vec<u8>)) {
    let data = std::fs::read(path).unwrap();
    let records = auditor::archive::decode_events(path, &data).unwrap();
    let mut out = Vec::new();
    for (i, record) in records.iter().enumerate() {
        let mut bytes = record.bytes.to_vec();
        change(i, &mut bytes);
        let leaf = if keep_leaves {
            *record.leaf
        } else {
            merkle::leaf_hash(&bytes)
        };
        out.extend_from_slice(&leaf);
        out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
        out.extend_from_slice(&bytes);
    }
    write_atomic(path, &out).unwrap();
}

fn manifest_problem<'a>(report: &'a auditor::verify::Report, path: &Path) -> Option<&'a str> {
    let name = path.file_name().unwrap().to_string_lossy();
    report
        .manifest_problems
        .iter()
        .find(|(p, _)| p.ends_with(name.as_ref()))
        .map(|(_, what)| what.as_str())
}

/// The manifest pins events files by the SHA-256 of their leaves, which `verify` computes in
/// its one pass over the bytes: an event rewritten after export with its leaf recomputed, or
/// a recorded leaf changed, is named in the manifest's problems, also in a file `verify` no
/// longer goes through after the hromada's first failure; a clean archive has none.
#[test]
fn events_files_changed_after_export_are_named_by_their_leaves() {
    for threads in [1, 2] {
        let dir = tempfile::tempdir().unwrap();
        let (archive, _) = archive_in_two_files(dir.path());
        let report = verify(&archive, threads, false).unwrap();
        assert!(report.ok, "{report:?}");
        let manifest = archive.manifest().unwrap();
        assert_eq!(manifest.format, auditor::archive::FORMAT);
        let events: Vec<_> = manifest
            .files
            .iter()
            .filter(|f| f.path.contains("/events-"))
            .collect();
        // Vinnytsia's two and the association log's one.
        assert_eq!(events.len(), 3);
        assert!(
            events
                .iter()
                .all(|f| f.sha256.is_empty() && f.leaves_sha256.len() == 64)
        );
    }

    // A signature's bytes changed in the second file, its leaf recomputed: the tree's root
    // fails at the checkpoint, and the manifest names the file.
    let dir = tempfile::tempdir().unwrap();
    let (archive, files) = archive_in_two_files(dir.path());
    rewrite_events(&files[1], false, |i, bytes| {
        if i == 1 {
            let last = bytes.len() - 1;
            bytes[last] ^= 1;
        }
    });
    let report = verify(&archive, 2, false).unwrap();
    assert!(!report.ok);
    let what = manifest_problem(&report, &files[1]).expect("the changed file is named");
    assert!(what.contains("leaves"), "{what}");
    assert!(manifest_problem(&report, &files[0]).is_none(), "{report:?}");

    // Both files changed: the first's recorded leaf (bytes kept) stops the hromada's check at
    // event 1, and the second file, not gone through, is still checked.
    rewrite_events(&files[0], true, |_, _| {});
    let data = std::fs::read(&files[0]).unwrap();
    let mut forged = data.clone();
    forged[0] ^= 0xff;
    write_atomic(&files[0], &forged).unwrap();
    let report = verify(&archive, 2, false).unwrap();
    let failure = report.municipalities[0].failure.as_ref().unwrap();
    assert_eq!((failure.seq, failure.check), (1, "leaf_hash"));
    let what = manifest_problem(&report, &files[0]).expect("the first file is named");
    assert!(what.contains("recorded leaf"), "{what}");
    let what = manifest_problem(&report, &files[1]).expect("the second file is named");
    assert!(what.contains("leaves"), "{what}");
}

/// An archive of format 2 pins events files by the SHA-256 of their bytes, and is still
/// checked that way.
#[test]
fn a_format_2_manifest_is_checked_by_the_files_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let (archive, files) = archive_in_two_files(dir.path());
    let mut manifest = archive.manifest().unwrap();
    manifest.format = auditor::archive::FORMAT_V2.into();
    manifest.files = archive.scan_for(auditor::archive::FORMAT_V2).unwrap();
    assert!(manifest.files.iter().all(|f| f.sha256.len() == 64));
    archive
        .write_json(auditor::archive::MANIFEST, &manifest)
        .unwrap();
    let report = verify(&archive, 2, false).unwrap();
    assert!(report.ok, "{report:?}");

    rewrite_events(&files[1], false, |i, bytes| {
        if i == 0 {
            let last = bytes.len() - 1;
            bytes[last] ^= 1;
        }
    });
    let report = verify(&archive, 2, false).unwrap();
    let what = manifest_problem(&report, &files[1]).expect("the changed file is named");
    assert!(what.starts_with("SHA-256"), "{what}");
    assert!(manifest_problem(&report, &files[0]).is_none(), "{report:?}");
}

/// Links and truncated files planted in an archive: a link loop or a link to a device is named,
/// never followed (the scan would never end); a link named as an events file is refused; a
/// truncated events file after a hromada's first failure is named in the report, not an error.
#[test]
fn links_and_truncated_files_are_named_not_followed() {
    let dir = tempfile::tempdir().unwrap();
    let (archive, files) = archive_in_two_files(dir.path());
    let muni = archive.municipality_dir(&code());
    std::os::unix::fs::symlink(".", muni.join("loop")).unwrap();
    std::os::unix::fs::symlink("/dev/zero", muni.join("zero")).unwrap();
    let report = verify(&archive, 2, false).unwrap();
    for name in ["loop", "zero"] {
        let what = report
            .manifest_problems
            .iter()
            .find(|(p, _)| p.ends_with(name))
            .map(|(_, what)| what.as_str());
        assert!(
            what.is_some_and(|w| w.contains("not a regular file")),
            "{name}: {report:?}"
        );
    }
    std::fs::remove_file(muni.join("loop")).unwrap();
    std::fs::remove_file(muni.join("zero")).unwrap();

    // The first file fails at event 1; the second, truncated, is named.
    let data = std::fs::read(&files[0]).unwrap();
    let mut forged = data.clone();
    forged[0] ^= 0xff;
    write_atomic(&files[0], &forged).unwrap();
    let data = std::fs::read(&files[1]).unwrap();
    write_atomic(&files[1], &data[..data.len() - 1]).unwrap();
    let report = verify(&archive, 2, false).unwrap();
    let what = manifest_problem(&report, &files[1]).expect("the truncated file is named");
    assert!(
        what.contains("claims") || what.contains("truncated"),
        "{what}"
    );

    // A link named as an events file is refused before anything is read through it.
    let dir = tempfile::tempdir().unwrap();
    let (archive, _) = archive_in_two_files(dir.path());
    let muni = archive.municipality_dir(&code());
    std::os::unix::fs::symlink("/dev/zero", muni.join(events_file_name(6, 6))).unwrap();
    let err = verify(&archive, 2, false).unwrap_err();
    assert!(err.to_string().contains("not a regular file"), "{err}");
}
