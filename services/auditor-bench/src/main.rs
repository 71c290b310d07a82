//! The auditor's benchmark, in one run over one archive of simulated nodes' events (real
//! envelopes of real domain events, real trees, checkpoints signed by each node every 1,000
//! events and cosigned by a witness):
//! - `audit verify` events/s (every check: leaf hashes, roots, signatures, cosignatures,
//!   continuity, decoding, rules), next to raw SHA-256 leaf hashing of the same bytes from
//!   memory, medians of 3 runs;
//! - the time `audit recompute` takes to rebuild the projections and their digest.
//!
//! Run: `cargo run --release -p auditor-bench -- [--events N] [--nodes N] [--threads N]`
//! (defaults 1,000,000 events, 300 nodes, 2 threads; `--quick` for 50,000). `--verify-only`
//! runs only the verify of the current format, ten times, with nothing else between: what to
//! profile.

use std::collections::BTreeMap;
use std::time::Instant;

use anyhow::{Context as _, ensure};
use association_bench::sim::SimNode;
use auditor::Archive;
use auditor::archive::{
    CHECKPOINTS, CheckpointRecord, EVENTS_PER_FILE, KEYS, KeyRecord, Keys, encode_events,
    events_file_name,
};
use event_store_core::checkpoint::{NoteSigner, SignedCheckpoint};
use event_store_core::{Timestamp, merkle};

const CHECKPOINT_EVERY: u64 = 1_000;
const RUNS: usize = 3;

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn arg(name: &str, default: u64) -> anyhow::Result<u64> {
    let args: Vec<String> = std::env::args().collect();
    match args.windows(2).find(|w| w[0] == name) {
        Some(w) => w[1].parse().with_context(|| name.to_owned()),
        None => Ok(default),
    }
}

fn main() -> anyhow::Result<()> {
    let quick = std::env::args().any(|a| a == "--quick");
    let events = arg("--events", if quick { 50_000 } else { 1_000_000 })?;
    let nodes = arg("--nodes", if quick { 50 } else { 300 })? as usize;
    let threads = arg("--threads", 2)? as usize;
    ensure!((1..=1_470).contains(&nodes), "--nodes must be 1 to 1,470");
    let dir = tempfile::tempdir()?;
    let started = Instant::now();
    let (archive, bytes) = write_archive(dir.path(), events, nodes)?;
    println!(
        "auditor bench: archive of {events} events from {nodes} nodes written in {:.1} s ({:.0} MiB of events)",
        started.elapsed().as_secs_f64(),
        bytes.iter().map(Vec::len).sum::<usize>() as f64 / (1024.0 * 1024.0)
    );

    // The same archive under a manifest of format 2 too, which pins events files by their
    // bytes: what verify cost before it checked them in its one hashing pass. Each run
    // measures all three in turn, so the machine's noise falls on each alike.
    let format_3 = archive.manifest()?;
    let mut format_2 = format_3.clone();
    format_2.format = auditor::archive::FORMAT_V2.into();
    format_2.files = archive.scan_for(auditor::archive::FORMAT_V2)?;
    // Events/s of one verify of the whole archive, which must verify every event.
    let timed_verify = |what: &str| -> anyhow::Result<f64> {
        let t = Instant::now();
        let report = auditor::verify::verify(&archive, threads, false)?;
        let rate = events as f64 / t.elapsed().as_secs_f64();
        ensure!(report.ok, "{what} does not verify: {report:?}");
        ensure!(report.events == events, "verified {} events", report.events);
        Ok(rate)
    };
    if std::env::args().any(|a| a == "--verify-only") {
        let rates = (0..10)
            .map(|_| timed_verify("the generated archive"))
            .collect::<anyhow::Result<Vec<_>>>()?;
        println!("audit verify, median of 10: {:.0} events/s", median(rates));
        return Ok(());
    }
    let (mut raw, mut ours, mut by_bytes) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..RUNS {
        let t = Instant::now();
        let mut acc = 0u8;
        for event in &bytes {
            acc ^= merkle::leaf_hash(event)[0];
        }
        std::hint::black_box(acc);
        raw.push(events as f64 / t.elapsed().as_secs_f64());
        ours.push(timed_verify("the generated archive")?);
        archive.write_json(auditor::archive::MANIFEST, &format_2)?;
        by_bytes.push(timed_verify("the format 2 archive")?);
        archive.write_json(auditor::archive::MANIFEST, &format_3)?;
    }
    let (raw, ours, by_bytes) = (median(raw), median(ours), median(by_bytes));
    println!("verify ({threads} threads), medians of {RUNS} runs:");
    println!("  raw SHA-256 leaf hashing, 1 thread, from memory : {raw:>10.0} events/s");
    println!("  audit verify, every check, from the archive      : {ours:>10.0} events/s");
    println!(
        "  ratio                                            : {:>10.1} %",
        100.0 * ours / raw
    );
    println!(
        "  the same, format 2 manifest (files hashed again) : {by_bytes:>10.0} events/s ({:.1} %)",
        100.0 * by_bytes / raw
    );

    let t = Instant::now();
    let recomputed = auditor::recompute::recompute(&archive, &BTreeMap::new())?;
    let secs = t.elapsed().as_secs_f64();
    ensure!(
        recomputed.events == events,
        "recomputed {} events",
        recomputed.events
    );
    println!(
        "recompute: {events} events in {secs:.2} s ({:.0} events/s), digest {}",
        events as f64 / secs,
        recomputed.digest
    );
    Ok(())
}

/// Writes an archive of `events` events from `nodes` simulated nodes; returns it and every
/// event's bytes (for the raw baseline).
fn write_archive(
    root: &std::path::Path,
    events: u64,
    nodes: usize,
) -> anyhow::Result<(Archive, Vec<Vec<u8>>)> {
    let archive = Archive::new(root);
    let reference = reference::Reference::load();
    let witness = NoteSigner::from_seed("vidkryto-association", [42; 32])?;
    let mut keys = Vec::new();
    let mut all = Vec::with_capacity(events as usize);
    let per_node = events / nodes as u64;
    let mut extra = events % nodes as u64;
    for (i, code) in reference.municipalities.keys().take(nodes).enumerate() {
        let count = per_node + u64::from(extra > 0);
        extra = extra.saturating_sub(1);
        let mut node = SimNode::new(*code, i as u64)?;
        keys.push(KeyRecord {
            code: code.to_string(),
            vkey: node.signer.verifier().to_text(),
            enrolled_at_micros: 0,
            revoked_at_micros: 0,
        });
        let dir = archive.municipality_dir(code);
        std::fs::create_dir_all(&dir)?;
        let mut checkpoints = String::new();
        let mut file: Vec<Vec<u8>> = Vec::new();
        let base = Timestamp::now().0 - 90 * 86_400_000_000;
        for seq in 1..=count {
            let (_, bytes) = node.next_event(Timestamp(base + seq as i64 * 60_000_000))?;
            file.push(bytes);
            if seq % CHECKPOINT_EVERY == 0 || seq == count {
                let mut signed = SignedCheckpoint::parse(&node.checkpoint())?;
                signed.cosign(&witness, 1_800_000_000);
                let record = CheckpointRecord {
                    size: seq,
                    root: hex::encode(signed.checkpoint.root),
                    cosigned_note: signed.to_note(),
                    accepted_at_micros: 1,
                };
                checkpoints.push_str(&auditor::archive::to_json_line(&record)?);
            }
            if seq % EVENTS_PER_FILE == 0 || seq == count {
                let first = seq + 1 - file.len() as u64;
                let path = dir.join(events_file_name(first, seq));
                std::fs::write(&path, encode_events(file.iter().map(Vec::as_slice)))?;
                all.append(&mut file);
            }
        }
        std::fs::write(dir.join(CHECKPOINTS), checkpoints)?;
    }
    let enrolments = keys
        .iter()
        .map(|k| {
            (
                k.enrolled_at_micros,
                projection::association_log::Decision::Enrolled {
                    municipality: k.code.clone(),
                    vkey: k.vkey.clone(),
                },
            )
        })
        .collect();
    auditor::archive::AssociationLogWriter::write_signed(&archive, &witness, enrolments)?;
    archive.write_json(
        KEYS,
        &Keys {
            witness_vkey: witness.verifier().to_text(),
            keys,
        },
    )?;
    auditor::export::write_manifest(&archive, "auditor-bench")?;
    Ok((archive, all))
}
