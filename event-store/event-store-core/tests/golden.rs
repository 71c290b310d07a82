//! Golden-byte fixtures: the envelope, checkpoint and key formats are frozen, so bytes written
//! today must decode, and encode identically, forever. Set `VIDKRYTO_BLESS=1` only when adding
//! a new fixture; an existing one changing is a broken release.

use std::path::PathBuf;

use event_store_core::{
    Checkpoint, Envelope, EventId, EventTypeCode, LogSeq, MunicipalityCode, NoteSigner,
    NoteVerifier, SchemaVersion, SignedCheckpoint, StreamId, StreamVersion, Timestamp, merkle,
};
use uuid::Uuid;

fn fixture(name: &str, actual: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    if std::env::var_os("VIDKRYTO_BLESS").is_some() && !path.exists() {
        std::fs::write(&path, actual).unwrap();
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("missing fixture {}: {e}", path.display()));
    assert_eq!(
        actual, expected,
        "fixture {name} changed: released formats are frozen"
    );
}

fn envelope() -> Envelope {
    Envelope {
        event_type: EventTypeCode(0x0103),
        schema_version: SchemaVersion(1),
        municipality: MunicipalityCode::parse("UA74040130000074451").unwrap(),
        seq: LogSeq(300),
        stream_id: StreamId(Uuid::from_u128(0x0193_8a1c_0000_7000_8000_0000_0000_00aa)),
        stream_version: StreamVersion(17),
        event_id: EventId(Uuid::from_u128(0x0193_8a1c_2b00_7abc_8def_0123_4567_89ab)),
        recorded_at: Timestamp(1_764_151_200_123_456),
        payload: "підпис".as_bytes().to_vec(),
    }
}

#[test]
fn envelope_v1_bytes_are_frozen() {
    let bytes = envelope().encode().unwrap();
    fixture("envelope-v1.hex", &format!("{}\n", hex::encode(&bytes)));
    let stored = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden/envelope-v1.hex"),
    )
    .unwrap();
    let decoded = Envelope::decode(&hex::decode(stored.trim()).unwrap()).unwrap();
    assert_eq!(decoded, envelope());
    fixture(
        "envelope-v1.leaf-hash.hex",
        &format!("{}\n", hex::encode(merkle::leaf_hash(&bytes))),
    );
}

#[test]
fn checkpoint_note_and_keys_are_frozen() {
    let signer = NoteSigner::from_seed("vidkryto/UA74040130000074451", [42; 32]).unwrap();
    let checkpoint = Checkpoint {
        origin: "vidkryto/UA74040130000074451".into(),
        size: 300,
        root: merkle::leaf_hash(b"root"),
    };
    let mut signed = signer.sign(checkpoint.clone());
    let witness = NoteSigner::from_seed("vidkryto/association", [7; 32]).unwrap();
    signed.cosign(&witness, 1_764_151_200);
    let note = signed.to_note();
    fixture("checkpoint-v1.note", &note);
    fixture(
        "node-key-v1.vkey",
        &format!("{}\n", signer.verifier().to_text()),
    );

    let parsed = SignedCheckpoint::parse(&note).unwrap();
    assert_eq!(parsed.checkpoint, checkpoint);
    let vkey = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden/node-key-v1.vkey"),
    )
    .unwrap();
    parsed.verify(&NoteVerifier::parse(&vkey).unwrap()).unwrap();
    assert_eq!(
        parsed
            .verify_cosignature(&witness.witness_verifier())
            .unwrap(),
        1_764_151_200
    );
}
