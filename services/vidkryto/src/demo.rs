//! `vidkryto demo`: the quick start's end-to-end run. It creates a real municipality's node log
//! on SQLite, records a petition's life through the domain rules (filed, published, signed by
//! thousands, answered), signs checkpoints, verifies the whole history and proves one
//! signature's inclusion, printing what it did and how fast.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context as _, bail};
use clap::Args;
use event_store::{CheckpointPolicy, ExpectedVersion, Log, NewEvent, verify};
use event_store_core::checkpoint::SignedCheckpoint;
use event_store_core::{LogSeq, MunicipalityCode, StreamId, Timestamp, merkle};
use event_store_sqlite::{Durability, SqliteBackend};

use crate::store;

/// Most signatures the demo will record; it is a demonstration, not a load test.
const SIGNATURES_MAX: u32 = 1_000_000;

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Directory for the demo's node (its log and key); recreated on every run.
    #[arg(long, default_value = ".vidkryto-dev/demo")]
    pub dir: PathBuf,
    /// The municipality (KATOTTG code); default Vinnytsia city hromada.
    #[arg(long, default_value = "UA05020030000031457")]
    pub municipality: String,
    /// How many citizens sign the demo petition.
    #[arg(long, default_value_t = 10_000)]
    pub signatures: u32,
}

/// Runs the demo.
pub async fn run(args: DemoArgs) -> anyhow::Result<ExitCode> {
    let municipality = MunicipalityCode::parse(&args.municipality)
        .with_context(|| format!("--municipality {}", args.municipality))?;
    if args.signatures == 0 || args.signatures > SIGNATURES_MAX {
        bail!("--signatures must be 1..={SIGNATURES_MAX}");
    }
    if args.dir.exists() {
        std::fs::remove_dir_all(&args.dir)
            .with_context(|| format!("failed to clear {}", args.dir.display()))?;
    }
    std::fs::create_dir_all(&args.dir)
        .with_context(|| format!("failed to create {}", args.dir.display()))?;
    let db_path = args.dir.join("log.sqlite");
    let key_path = args.dir.join("node.key");
    let vkey_path = args.dir.join("node.vkey");

    let signer = store::create_key_file(&key_path, &municipality)?;
    std::fs::write(&vkey_path, format!("{}\n", signer.verifier().to_text()))?;
    let backend = SqliteBackend::open(&db_path, Durability::Full).await?;
    let log = Log::open(
        backend.clone(),
        municipality,
        signer,
        CheckpointPolicy::default(),
    )
    .await?;
    println!(
        "node log of {municipality} created in {}",
        db_path.display()
    );

    let started = Instant::now();
    let mut secret = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut secret);
    let script = crate::demo_script::petition_script(
        municipality,
        args.signatures,
        Timestamp::now(),
        secret,
    )?;
    let mut events = 0u64;
    for (stream, batch) in script {
        let len = batch.len();
        append_all(&log, stream, batch).await?;
        events += len as u64;
    }
    log.checkpoint_now().await?;
    let elapsed = started.elapsed();
    println!(
        "recorded {events} events (a petition filed, published, signed {} times, answered) in {:.2} s: {:.0} events/s",
        args.signatures,
        elapsed.as_secs_f64(),
        events as f64 / elapsed.as_secs_f64()
    );

    let started = Instant::now();
    let report = verify(&backend, &municipality, &log.verifier(), 1, None).await?;
    let elapsed = started.elapsed();
    match &report.failure {
        None => println!(
            "verified {} events and {} signed checkpoints in {:.2} s: {:.0} events/s",
            report.events_checked,
            report.checkpoints_checked,
            elapsed.as_secs_f64(),
            report.events_checked as f64 / elapsed.as_secs_f64()
        ),
        Some(f) => bail!("verification failed: {f}"),
    }

    let seq = events / 2;
    let cp = log.latest_checkpoint().await?.context("no checkpoint")?;
    let signed = SignedCheckpoint::parse(&cp.note)?;
    let row = log
        .read(LogSeq(seq), 1)
        .await?
        .into_iter()
        .next()
        .context("event missing")?;
    let proof = log.inclusion_proof(LogSeq(seq), cp.size).await?;
    merkle::verify_inclusion(
        &merkle::leaf_hash(&row.bytes),
        seq - 1,
        cp.size,
        &proof,
        &signed.checkpoint.root,
    )?;
    println!(
        "receipt: event {seq} is in the log of {} events ({} proof hashes), under checkpoint:\n{}",
        cp.size,
        proof.len(),
        cp.note
    );
    println!(
        "try: vidkryto log verify --db {} --vkey @{}",
        db_path.display(),
        vkey_path.display()
    );
    Ok(ExitCode::SUCCESS)
}

async fn append_all<B: event_store::Backend>(
    log: &Log<B>,
    stream: StreamId,
    events: Vec<NewEvent>,
) -> anyhow::Result<()> {
    for chunk in events.chunks(event_store::APPEND_BATCH_MAX) {
        log.append(stream, ExpectedVersion::Any, chunk.to_vec())
            .await?;
    }
    Ok(())
}
