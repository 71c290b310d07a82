//! The auditor on a real exported archive: a clean archive verifies and recomputes to the
//! association's digest; a flipped byte, a removed event, two swapped events, a checkpoint
//! signed by the wrong key, a checkpoint inconsistent with its predecessor and a fork are each
//! reported with the exact hromada and sequence number; a citizen's receipt verifies.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use auditor::Archive;
use auditor::archive::{CHECKPOINTS, CheckpointRecord, decode_events, encode_events};
use auditor::export::{ExportOptions, export};
use auditor::prove::{Target, prove};
use auditor::verify::verify;
use event_store_core::checkpoint::{Checkpoint, NoteSigner, origin_for};
use system_tests::{Civic, KYIV, TestAssociation, TestNode, VINNYTSIA, code, copy_dir};
use testkit::NatsServer;

/// A copy of the archive with one hromada's events rewritten by `change`.
fn with_events(archive: &Path, dir: &Path, change: impl Fn(&mut Vec<Vec<u8>>)) -> Archive {
    copy_dir(archive, dir);
    let copy = Archive::new(dir);
    let (_, _, path) = copy.events_files(&code(VINNYTSIA)).unwrap().remove(0);
    let data = std::fs::read(&path).unwrap();
    let records = decode_events(&path, &data).unwrap();
    let mut events: Vec<Vec<u8>> = records.into_iter().map(|r| r.bytes.to_vec()).collect();
    change(&mut events);
    std::fs::write(&path, encode_events(events.iter().map(Vec::as_slice))).unwrap();
    copy
}

/// A copy of the archive with one hromada's checkpoints rewritten by `change`.
fn with_checkpoints(
    archive: &Path,
    dir: &Path,
    change: impl Fn(&mut Vec<CheckpointRecord>),
) -> Archive {
    copy_dir(archive, dir);
    let copy = Archive::new(dir);
    let mut checkpoints = copy.checkpoints(&code(VINNYTSIA)).unwrap();
    change(&mut checkpoints);
    let lines: String = checkpoints
        .iter()
        .map(|c| serde_json::to_string(c).unwrap() + "\n")
        .collect();
    std::fs::write(
        copy.municipality_dir(&code(VINNYTSIA)).join(CHECKPOINTS),
        lines,
    )
    .unwrap();
    copy
}

/// Where verification of `archive` failed for Vinnytsia, and Kyiv is still clean.
fn failure_of(archive: &Archive) -> (u64, &'static str) {
    let report = verify(archive, 2, false).unwrap();
    assert!(!report.ok);
    let kyiv = report
        .municipalities
        .iter()
        .find(|m| m.code == KYIV)
        .unwrap();
    assert_eq!(kyiv.failure, None, "the honest hromada stays clean");
    let v = report
        .municipalities
        .iter()
        .find(|m| m.code == VINNYTSIA)
        .unwrap();
    let failure = v.failure.clone().expect("a failure for Vinnytsia");
    (failure.seq, failure.check)
}

/// A checkpoint of `size` with `root`, signed by `signer` and cosigned by the association.
fn checkpoint(
    signer: &NoteSigner,
    witness: &NoteSigner,
    size: u64,
    root: [u8; 32],
    accepted_at: i64,
) -> CheckpointRecord {
    let mut signed = signer.sign(Checkpoint {
        origin: origin_for(&code(VINNYTSIA)),
        size,
        root,
    });
    signed.cosign(witness, 1_800_000_000);
    CheckpointRecord {
        size,
        root: hex::encode(root),
        cosigned_note: signed.to_note(),
        accepted_at_micros: accepted_at,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn audits_of_a_real_archive_find_every_kind_of_tampering() {
    let nats = NatsServer::start().await.unwrap();
    let association = TestAssociation::start(&nats.url()).await;
    let vinnytsia = TestNode::start(VINNYTSIA, 100, &nats.url()).await;
    let kyiv = TestNode::start(KYIV, 100, &nats.url()).await;
    association.enroll(&vinnytsia).await;
    association.enroll(&kyiv).await;
    let mut v = Civic::of(&vinnytsia).await;
    let p = v.petition("Benches along the embankment").await;
    v.sign(&p, 0..12).await;
    // A second batch after a pause gives Vinnytsia more than one checkpoint.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    v.sign(&p, 12..20).await;
    let mut c = Civic::of(&kyiv).await;
    let q = c.petition("A skate park").await;
    c.sign(&q, 0..5).await;
    association
        .wait_all(&[&vinnytsia, &kyiv], Duration::from_secs(30))
        .await;
    association.wait_stated().await;

    let dir = tempfile::tempdir().unwrap();
    let clean = dir.path().join("clean");
    let options = ExportOptions {
        url: association.url(),
        ca: None,
        out: clean.clone(),
        municipality: None,
        progress: false,
    };
    let summary = export(&options).await.unwrap();
    assert_eq!(summary.municipalities, 2);
    assert_eq!(summary.events_total, vinnytsia.log_size() + kyiv.log_size());

    // A clean archive verifies, every event covered by a verified checkpoint.
    let archive = Archive::new(&clean);
    let report = verify(&archive, 2, false).unwrap();
    assert!(report.ok, "{report:#?}");
    assert!(report.manifest_problems.is_empty());
    let sizes: BTreeMap<String, u64> = report
        .municipalities
        .iter()
        .map(|m| (m.code.clone(), m.verified_to))
        .collect();
    assert_eq!(sizes[VINNYTSIA], vinnytsia.log_size());
    assert_eq!(sizes[KYIV], kyiv.log_size());
    let checkpoints = archive.checkpoints(&code(VINNYTSIA)).unwrap();
    assert!(checkpoints.len() >= 2, "{checkpoints:?}");

    // It recomputes to the association's digest, from the archive alone.
    let theirs = association.digest().await;
    let upto = theirs
        .positions
        .iter()
        .map(|p| (code(&p.code), p.verified_size))
        .collect();
    let ours = auditor::recompute::recompute(&archive, &upto).unwrap();
    assert_eq!(ours.digest, theirs.digest);

    // Every event decodes to a JSON line anyone can read without our types.
    let mut jsonl = Vec::new();
    let decoded = auditor::decode::decode(&archive, &[], &mut jsonl).unwrap();
    assert_eq!(decoded.events, summary.events_total);
    assert_eq!((decoded.municipalities, decoded.undecodable), (2, 0));
    let lines: Vec<serde_json::Value> = String::from_utf8(jsonl)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len() as u64, summary.events_total);
    let filed = lines
        .iter()
        .find(|l| l["type"] == "petition.filed" && l["municipality"] == VINNYTSIA)
        .expect("Vinnytsia's petition filed");
    assert_eq!(filed["event_type"], 101);
    assert_eq!(filed["stream_id"], p.as_str());
    assert!(filed["payload"]["category"].is_string(), "{filed}");
    let signed = lines
        .iter()
        .filter(|l| l["type"] == "petition.signed" && l["stream_id"] == p.as_str())
        .count();
    assert_eq!(signed, 20);
    for (i, line) in lines
        .iter()
        .filter(|l| l["municipality"] == KYIV)
        .enumerate()
    {
        assert_eq!(line["seq"], i as u64 + 1, "{line}");
        assert_eq!(line["leaf_hash"].as_str().map(str::len), Some(64), "{line}");
    }

    // Export resumes: nothing new, nothing fetched but the unfinished last file.
    let again = export(&options).await.unwrap();
    assert_eq!(again.events_total, summary.events_total);
    assert!(verify(&archive, 2, false).unwrap().ok);

    // A flipped byte in event 5.
    let flipped = with_events(&clean, &dir.path().join("flipped"), |events| {
        let last = events[4].len() - 1;
        events[4][last] ^= 0x01;
    });
    // encode_events records the leaf of the new bytes, so the record's leaf agrees with the
    // flipped bytes: the root at the first checkpoint after event 5 is what catches it, unless
    // the leaf recorded at export is kept. Keep it, as a byte flipped at rest would.
    restore_leaf(&clean, &flipped, 5);
    assert_eq!(failure_of(&flipped), (5, "leaf_hash"));

    // Event 7 removed.
    let removed = with_events(&clean, &dir.path().join("removed"), |events| {
        events.remove(6);
    });
    assert_eq!(failure_of(&removed), (7, "sequence"));

    // Events 8 and 9 swapped.
    let swapped = with_events(&clean, &dir.path().join("swapped"), |events| {
        events.swap(7, 8)
    });
    assert_eq!(failure_of(&swapped), (8, "sequence"));

    let witness = association.witness();
    let first = checkpoints[0].clone();
    let first_root: [u8; 32] = hex::decode(&first.root).unwrap().try_into().unwrap();
    // The first checkpoint signed by another key (and cosigned, so only the signature fails).
    let stranger = NoteSigner::from_seed(&origin_for(&code(VINNYTSIA)), [5; 32]).unwrap();
    let wrong_key = with_checkpoints(&clean, &dir.path().join("wrong-key"), |cps| {
        cps[0] = checkpoint(
            &stranger,
            &witness,
            first.size,
            first_root,
            first.accepted_at_micros,
        );
    });
    assert_eq!(failure_of(&wrong_key), (first.size, "signature"));

    // The second checkpoint, properly signed, with a root inconsistent with the first.
    let node_key = vinnytsia.signer();
    let second = checkpoints[1].clone();
    let inconsistent = with_checkpoints(&clean, &dir.path().join("inconsistent"), |cps| {
        cps[1] = checkpoint(
            &node_key,
            &witness,
            second.size,
            [9; 32],
            second.accepted_at_micros,
        );
    });
    assert_eq!(failure_of(&inconsistent), (second.size, "root"));

    // A fork: a second checkpoint for the first size with another root.
    let fork = with_checkpoints(&clean, &dir.path().join("fork"), |cps| {
        cps.push(checkpoint(
            &node_key,
            &witness,
            first.size,
            [7; 32],
            first.accepted_at_micros,
        ));
    });
    assert_eq!(failure_of(&fork), (first.size, "fork"));

    // A citizen's receipt for their signature (event 4), checked offline.
    let receipt = prove(
        &association.url(),
        None,
        code(VINNYTSIA),
        Target::Seq(4),
        None,
        None,
    )
    .await
    .unwrap();
    assert_eq!(receipt.seq, 4);
    assert_eq!(receipt.event_type, "petition.signed");
    // Pinning a key that did not sign it fails the receipt.
    let err = prove(
        &association.url(),
        None,
        code(VINNYTSIA),
        Target::Seq(4),
        Some(stranger.verifier()),
        None,
    )
    .await
    .unwrap_err();
    assert!(matches!(err, auditor::AuditError::Failed(_)), "{err}");

    // The command line: exit 0 on the clean archive, 1 with a JSON report on a tampered one.
    let vidkryto = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_vidkryto-under-test"))
            .args(args)
            .output()
            .unwrap()
    };
    let ok = vidkryto(&[
        "audit",
        "verify",
        "--output",
        "json",
        clean.to_str().unwrap(),
    ]);
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let swapped_dir = dir.path().join("swapped");
    let bad = vidkryto(&[
        "audit",
        "verify",
        "--output",
        "json",
        swapped_dir.to_str().unwrap(),
    ]);
    assert_eq!(bad.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_slice(&bad.stdout).unwrap();
    assert_eq!(json["ok"], false);
    let url = association.url();
    // Recompute from the archive alone and compare with the association's digest.
    let out = vidkryto(&[
        "audit",
        "recompute",
        clean.to_str().unwrap(),
        "--compare",
        &url,
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("matches the association's signed statement at the archive's positions"),
        "{text}"
    );
    // Verify an association directly (through a temporary archive).
    let out = vidkryto(&["audit", "verify", &url]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    // A receipt by event id, written to a file.
    let receipt_path = dir.path().join("receipt.json");
    let out = vidkryto(&[
        "audit",
        "prove",
        "--from",
        &url,
        "--municipality",
        VINNYTSIA,
        "--event-id",
        &receipt.event_id,
        "--out",
        receipt_path.to_str().unwrap(),
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let saved: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&receipt_path).unwrap()).unwrap();
    assert_eq!(saved["seq"], 4);
    // Bad input is an operating error, exit 2.
    let out = vidkryto(&[
        "audit",
        "prove",
        "--from",
        &url,
        "--municipality",
        "UA1",
        "--seq",
        "1",
    ]);
    assert_eq!(out.status.code(), Some(2));
    association.shutdown().await;
}

/// Puts back the leaf hash recorded at export for event `seq` of Vinnytsia in `copy`.
fn restore_leaf(clean: &Path, copy: &Archive, seq: usize) {
    let original = Archive::new(clean);
    let (_, _, path) = original.events_files(&code(VINNYTSIA)).unwrap().remove(0);
    let data = std::fs::read(&path).unwrap();
    let records = decode_events(&path, &data).unwrap();
    let (_, _, copy_path) = copy.events_files(&code(VINNYTSIA)).unwrap().remove(0);
    let offset: usize = records[..seq - 1].iter().map(|r| 36 + r.bytes.len()).sum();
    let mut copied = std::fs::read(&copy_path).unwrap();
    copied[offset..offset + 32].copy_from_slice(records[seq - 1].leaf);
    std::fs::write(&copy_path, copied).unwrap();
}
