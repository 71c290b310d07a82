//! `vidkryto log …`: operator and auditor tools over one node's log database: create it,
//! show its head, verify it, and prove an event's inclusion.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Args, Subcommand, ValueEnum};
use event_store::{Backend, LogMeta, verify};
use event_store_core::checkpoint::{NoteVerifier, SignedCheckpoint};
use event_store_core::{LogSeq, MunicipalityCode, merkle};
use serde_json::json;

use crate::store;
use crate::store::with_backend;

/// Exit code when verification finds a fault.
pub const EXIT_VERIFY_FAILED: u8 = 1;

#[derive(Debug, Subcommand)]
pub enum LogCommand {
    /// Create a node's log database and, if missing, its signing key.
    Init(InitArgs),
    /// Show a log's size and latest signed checkpoint.
    Show(DbArgs),
    /// Verify a log: every leaf hash, position, checkpoint signature and root.
    Verify(VerifyArgs),
    /// Print and check the inclusion proof of one event against a signed checkpoint.
    Prove(ProveArgs),
}

#[derive(Debug, Args)]
pub struct DbArgs {
    /// The log database: a SQLite file path or a postgres:// URL.
    #[arg(long, env = "VIDKRYTO_DB", hide_env_values = true)]
    pub db: String,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    #[command(flatten)]
    pub db: DbArgs,
    /// The municipality's KATOTTG code, e.g. UA05020030000031457.
    #[arg(long)]
    pub municipality: String,
    /// The node's signing key file (created, readable only by its owner, if missing).
    #[arg(long)]
    pub key: PathBuf,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Output {
    Text,
    Json,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub db: DbArgs,
    /// The node's verifier key (text, or @file). Without it the key recorded in the
    /// database is used, which proves integrity only against accidents, not an attacker.
    #[arg(long)]
    pub vkey: Option<String>,
    /// First sequence number to verify.
    #[arg(long, default_value_t = 1)]
    pub from: u64,
    /// Last sequence number to verify (default: the newest).
    #[arg(long)]
    pub to: Option<u64>,
    #[arg(long, value_enum, default_value_t = Output::Text)]
    pub output: Output,
}

#[derive(Debug, Args)]
pub struct ProveArgs {
    #[command(flatten)]
    pub db: DbArgs,
    /// The event's sequence number.
    #[arg(long)]
    pub seq: u64,
}

/// Runs a `log` subcommand.
pub async fn run(cmd: LogCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        LogCommand::Init(args) => init(args).await,
        LogCommand::Show(args) => with_backend!(&args.db, false, |b| show(&b).await),
        LogCommand::Verify(args) => {
            let vkey = args.vkey.as_deref().map(store::read_verifier).transpose()?;
            with_backend!(&args.db.db, false, |b| {
                verify_cmd(&b, vkey, args.from, args.to, args.output).await
            })
        }
        LogCommand::Prove(args) => with_backend!(&args.db.db, false, |b| prove(&b, args.seq).await),
    }
}

async fn init(args: InitArgs) -> anyhow::Result<ExitCode> {
    let municipality = MunicipalityCode::parse(&args.municipality)
        .with_context(|| format!("--municipality {}", args.municipality))?;
    let signer = if args.key.exists() {
        store::read_key_file(&args.key)?
    } else {
        store::create_key_file(&args.key, &municipality)?
    };
    let vkey = signer.verifier().to_text();
    let policy = event_store::CheckpointPolicy::default();
    with_backend!(&args.db.db, true, |b| drop(
        store::open_log(b, municipality, signer, policy).await?
    ));
    let location = node::store::StoreLocation::parse(&args.db.db).context("--db")?;
    println!("log of {municipality} ready in {location}");
    println!("verifier key: {vkey}");
    Ok(ExitCode::SUCCESS)
}

async fn meta<B: Backend>(backend: &B) -> anyhow::Result<(LogMeta, MunicipalityCode)> {
    let meta = backend
        .meta()
        .await?
        .context("the database holds no log (run `vidkryto log init`)")?;
    let code =
        MunicipalityCode::parse(&meta.municipality).context("the log's municipality code")?;
    Ok((meta, code))
}

async fn show<B: Backend>(backend: &B) -> anyhow::Result<ExitCode> {
    let (meta, code) = meta(backend).await?;
    let head = backend.head().await?;
    println!("municipality: {code}");
    println!("verifier key: {}", meta.verifier_key);
    println!("events: {}", head.size());
    println!("root: {}", hex::encode(head.frontier.root()));
    match backend.latest_checkpoint().await? {
        Some(cp) => print!("latest checkpoint:\n{}", cp.note),
        None => println!("latest checkpoint: none"),
    }
    Ok(ExitCode::SUCCESS)
}

async fn verify_cmd<B: Backend>(
    backend: &B,
    vkey: Option<NoteVerifier>,
    from: u64,
    to: Option<u64>,
    output: Output,
) -> anyhow::Result<ExitCode> {
    let (meta, code) = meta(backend).await?;
    let trusted = vkey.is_some();
    let key = match vkey {
        Some(k) => k,
        None => {
            NoteVerifier::parse(&meta.verifier_key).context("the key recorded in the database")?
        }
    };
    let report = verify(backend, &code, &key, from, to).await?;
    match output {
        Output::Json => {
            let doc = json!({
                "municipality": code.to_string(),
                "verifier_key": key.to_text(),
                "key_from_database": !trusted,
                "from": report.from,
                "to": report.to,
                "events_checked": report.events_checked,
                "checkpoints_checked": report.checkpoints_checked,
                "verified_checkpoint": report.verified_checkpoint,
                "ok": report.is_ok(),
                "failure": report.failure.as_ref().map(|f| json!({"seq": f.seq, "reason": f.kind.to_string()})),
            });
            println!("{doc}");
        }
        Output::Text => {
            if !trusted {
                eprintln!("warning: no --vkey given, trusting the key recorded in the database");
            }
            match &report.failure {
                None => println!(
                    "ok: log of {code}, events {}..={} verified ({} events, {} checkpoints, last verified checkpoint {})",
                    report.from,
                    report.to,
                    report.events_checked,
                    report.checkpoints_checked,
                    report
                        .verified_checkpoint
                        .map_or("none".to_owned(), |s| s.to_string()),
                ),
                Some(f) => println!("FAILED: log of {code}, {f}"),
            }
        }
    }
    Ok(if report.is_ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_VERIFY_FAILED)
    })
}

async fn prove<B: Backend>(backend: &B, seq: u64) -> anyhow::Result<ExitCode> {
    let (meta, _) = meta(backend).await?;
    let key = NoteVerifier::parse(&meta.verifier_key)?;
    let cp = backend
        .checkpoints(seq, 1)
        .await?
        .into_iter()
        .next()
        .with_context(|| format!("no signed checkpoint covers event {seq} yet"))?;
    let signed = SignedCheckpoint::parse(&cp.note)?;
    signed
        .verify(&key)
        .context("the covering checkpoint does not verify")?;
    let row = backend
        .read_events(LogSeq(seq), 1)
        .await?
        .into_iter()
        .find(|r| r.seq.0 == seq)
        .with_context(|| format!("event {seq} is not in the log"))?;
    let proof = event_store::proof::inclusion_proof(backend, LogSeq(seq), cp.size).await?;
    let leaf = merkle::leaf_hash(&row.bytes);
    merkle::verify_inclusion(&leaf, seq - 1, cp.size, &proof, &signed.checkpoint.root)
        .context("the inclusion proof does not verify")?;
    let doc = json!({
        "seq": seq,
        "event_id": row.event_id.to_string(),
        "leaf_hash": hex::encode(leaf),
        "tree_size": cp.size,
        "proof": proof.iter().map(hex::encode).collect::<Vec<_>>(),
        "checkpoint": cp.note,
    });
    println!("{}", serde_json::to_string_pretty(&doc)?);
    Ok(ExitCode::SUCCESS)
}
