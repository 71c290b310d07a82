//! The receipt fixture the browsers' receipt checker is tested against
//! (`services/dashboard/test/fixtures/receipt.json`, read by `receipt.test.mjs`): a receipt for
//! event 3 in a checkpoint of 5 events, signed by a node's key and cosigned by a witness, and a
//! newer checkpoint of 7 with the consistency proof between them, made here by the same code
//! the node and the association sign and prove with. Deterministic keys and times, so the file
//! is the same on every run; `VIDKRYTO_BLESS=1` writes it.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use event_store_core::checkpoint::{Checkpoint, NoteSigner};
use event_store_core::merkle::{
    consistency_ranges, inclusion_ranges, leaf_hash, proof_from_leaves, root_from_leaves,
};
use event_store_core::{
    Envelope, EventId, EventTypeCode, LogSeq, SchemaVersion, StreamId, StreamVersion, Timestamp,
};

const ORIGIN: &str = "vidkryto/UA74040130000074451";
const WITNESS: &str = "vidkryto-association";

fn fixture() -> serde_json::Value {
    let node = NoteSigner::from_seed(ORIGIN, [0x11; 32]).unwrap();
    let witness = NoteSigner::from_seed(WITNESS, [0x22; 32]).unwrap();
    let petition = StreamId(uuid::Uuid::from_u128(
        0x0190_0000_0000_7000_8000_0000_0000_0001,
    ));
    // Real envelopes (the checker reads their headers): a petition's signatures, one a position.
    let events: Vec<Vec<u8>> = (1..=7u64)
        .map(|i| {
            Envelope {
                event_type: EventTypeCode(104),
                schema_version: SchemaVersion(1),
                municipality: ORIGIN["vidkryto/".len()..].parse().unwrap(),
                seq: LogSeq(i),
                stream_id: petition,
                stream_version: StreamVersion(i),
                event_id: EventId(uuid::Uuid::from_u128(
                    0x0190_0000_0001_7000_8000_0000_0000_0000 + u128::from(i),
                )),
                recorded_at: Timestamp(1_790_000_000_000_000 + i as i64 * 1_000_000),
                payload: format!("подія {i}: петиція підписана").into_bytes(),
            }
            .encode()
            .unwrap()
        })
        .collect();
    let leaves: Vec<_> = events.iter().map(|e| leaf_hash(e)).collect();
    let note = |size: usize, time: u64| {
        let mut signed = node.sign(Checkpoint {
            origin: ORIGIN.into(),
            size: size as u64,
            root: root_from_leaves(&leaves[..size]),
        });
        signed.cosign(&witness, time);
        signed.to_note()
    };
    let b64s =
        |hashes: Vec<[u8; 32]>| -> Vec<String> { hashes.iter().map(|h| B64.encode(h)).collect() };
    let seq = 3u64;
    serde_json::json!({
        "node_key": node.verifier().to_text(),
        "witness_key": witness.verifier().to_text(),
        "receipt": {
            "format": "vidkryto-receipt/v1",
            "origin": ORIGIN,
            "seq": seq,
            "event": B64.encode(&events[seq as usize - 1]),
            "checkpoint": note(5, 1_790_000_000),
            "inclusion": b64s(proof_from_leaves(&leaves[..5], &inclusion_ranges(seq - 1, 5))),
            "claim": {
                "eventType": 104,
                "streamId": petition.0.to_string(),
                "eventId": uuid::Uuid::from_u128(0x0190_0000_0001_7000_8000_0000_0000_0000 + u128::from(seq)).to_string(),
            },
        },
        "newer": {
            "checkpoint": note(7, 1_790_000_060),
            "consistency": b64s(proof_from_leaves(&leaves[..7], &consistency_ranges(5, 7))),
        },
    })
}

#[test]
fn the_receipt_fixture_is_what_the_log_code_makes() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../services/dashboard/test/fixtures/receipt.json");
    let made = serde_json::to_string_pretty(&fixture()).unwrap() + "\n";
    if std::env::var("VIDKRYTO_BLESS").is_ok_and(|v| v == "1") {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &made).unwrap();
    }
    let committed = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (run with VIDKRYTO_BLESS=1)", path.display()));
    assert_eq!(committed, made, "{} drifted", path.display());
}
