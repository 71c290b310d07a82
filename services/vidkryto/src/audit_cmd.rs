//! `vidkryto audit …`: what an auditor runs (state audit, civil society, a journalist, OGP's
//! IRM researcher). Exit codes: 0 all verified, 1 a fault was found (the report names it),
//! 2 bad input or an operating error.

use std::collections::BTreeMap;
use std::io::IsTerminal as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use auditor::prove::Target;
use auditor::verify::Report;
use auditor::{Archive, AuditError};
use clap::{Args, Subcommand, ValueEnum};

use crate::association_cmd::{municipality, read_vkey};
use event_store_core::EventId;
use projection::statement::Statement;

/// Exit code when verification finds a fault.
const EXIT_FAULT: u8 = 1;

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Pull the association's verified history into an archive (resumes where it stopped).
    Export(ExportArgs),
    /// Verify an archive (or an association, through a temporary archive) completely.
    Verify(VerifyArgs),
    /// Rebuild the national projections from an archive alone and print their digest.
    Recompute(RecomputeArgs),
    /// Fetch and check a citizen's receipt: an event's inclusion in a cosigned checkpoint.
    Prove(ProveArgs),
    /// Write every archived event as one JSON line with its decoded payload.
    Decode(DecodeArgs),
}

#[derive(Debug, Args)]
pub struct DecodeArgs {
    /// The archive directory.
    pub archive: PathBuf,
    /// Only these hromadas (repeat the flag); default: every one in the archive.
    #[arg(long)]
    pub municipality: Vec<String>,
    /// Write to this file (replaced when complete) instead of standard output.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The association's gRPC URL (http:// or https://).
    #[arg(long)]
    pub from: String,
    /// For an https:// association: trust the certificate authorities in this PEM file (a
    /// private CA) instead of the system's root certificates.
    #[arg(long, value_name = "FILE")]
    pub ca: Option<PathBuf>,
    /// The archive directory (created; an existing archive is continued).
    #[arg(long)]
    pub out: PathBuf,
    /// Only this hromada.
    #[arg(long)]
    pub municipality: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    Text,
    Json,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// An archive directory, or an association's URL (http://… or https://…).
    pub target: String,
    /// For an https:// association: trust the certificate authorities in this PEM file (a
    /// private CA) instead of the system's root certificates.
    #[arg(long, value_name = "FILE")]
    pub ca: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "text")]
    pub output: Output,
    /// Hromadas verified at once.
    #[arg(long, default_value_t = 2)]
    pub threads: usize,
    /// The association's witness key as the auditor knows it from elsewhere (text or @path):
    /// the archive's must be this one, or nothing in it is taken as the association's.
    #[arg(long, value_name = "VKEY")]
    pub witness_vkey: Option<String>,
    /// Accept an archive of format 1 (exported before the association kept its own log),
    /// whose key history is the association's word rather than a signed log.
    #[arg(long)]
    pub accept_format_1: bool,
}

#[derive(Debug, Args)]
pub struct RecomputeArgs {
    /// The archive directory.
    pub archive: PathBuf,
    /// An association's URL: fetch its signed statement at the archive's positions and say
    /// whether the recomputed digest matches it (the archive's own statement is always
    /// checked).
    #[arg(long)]
    pub compare: Option<String>,
    /// For an https:// association: trust the certificate authorities in this PEM file (a
    /// private CA) instead of the system's root certificates.
    #[arg(long, value_name = "FILE")]
    pub ca: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ProveArgs {
    /// The association's gRPC URL (http:// or https://).
    #[arg(long)]
    pub from: String,
    /// For an https:// association: trust the certificate authorities in this PEM file (a
    /// private CA) instead of the system's root certificates.
    #[arg(long, value_name = "FILE")]
    pub ca: Option<PathBuf>,
    #[arg(long)]
    pub municipality: String,
    /// The event's sequence number in the hromada's log.
    #[arg(
        long,
        conflicts_with = "event_id",
        required_unless_present = "event_id"
    )]
    pub seq: Option<u64>,
    /// The event's id (looked up among the hromada's first 100,000 events).
    #[arg(long)]
    pub event_id: Option<String>,
    /// Trust this node key (text or @file) instead of the association's enrolment list.
    #[arg(long)]
    pub node_vkey: Option<String>,
    /// Trust this witness key (text or @file) instead of the one the association names.
    #[arg(long)]
    pub witness_vkey: Option<String>,
    /// Also write the receipt as JSON to this file.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

fn print_report(report: &Report, output: Output) -> anyhow::Result<()> {
    if output == Output::Json {
        println!("{}", serde_json::to_string_pretty(report)?);
        return Ok(());
    }
    for (path, problem) in &report.manifest_problems {
        println!("archive: {path}: {problem}");
    }
    for note in &report.notes {
        println!("note: {note}");
    }
    if let Some(archived) = &report.witness_mismatch {
        println!(
            "witness key: FAILED: the archive names {archived}, not the pinned key (every \
             signature of the association was checked under the pinned one)"
        );
    }
    if let Some(a) = &report.association {
        match &a.failure {
            None => println!(
                "association log: ok, {} entries, signed 1..{}{}",
                a.entries,
                a.verified_to,
                a.statement_entry
                    .map(|seq| format!(", the statement is entry {seq}"))
                    .unwrap_or_default()
            ),
            Some(f) => println!(
                "association log: FAILED at {} ({}): {}; expected {}, found {}",
                f.seq, f.check, f.detail, f.expected, f.found
            ),
        }
    }
    for m in &report.municipalities {
        match &m.failure {
            None => println!(
                "{}: ok, {} events, {} checkpoints, verified 1..{}",
                m.code, m.events, m.checkpoints, m.verified_to
            ),
            Some(f) => println!(
                "{}: FAILED at {} ({}): {}; expected {}, found {}",
                m.code, f.seq, f.check, f.detail, f.expected, f.found
            ),
        }
    }
    println!(
        "{}: {} events in {} hromadas",
        if report.ok {
            "verified"
        } else {
            "NOT verified"
        },
        report.events,
        report.municipalities.len()
    );
    Ok(())
}

/// Runs an `audit` subcommand.
pub async fn run(cmd: AuditCommand) -> anyhow::Result<ExitCode> {
    let progress = std::io::stderr().is_terminal();
    match cmd {
        AuditCommand::Export(a) => {
            let options = auditor::export::ExportOptions {
                url: a.from,
                ca: a.ca,
                out: a.out.clone(),
                municipality: a.municipality.as_deref().map(municipality).transpose()?,
                progress,
            };
            let summary = auditor::export::export(&options).await?;
            println!(
                "archive {}: {} hromadas, {} events ({} fetched now), {} entries of the \
                 association's log",
                a.out.display(),
                summary.municipalities,
                summary.events_total,
                summary.events_fetched,
                summary.association_entries
            );
            if let Some(problem) = &summary.association_log_problem {
                eprintln!(
                    "warning: the association's log does not replay ({problem}); keys.json \
                     holds the history before it, and `audit verify` will name it"
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        AuditCommand::Verify(a) => {
            let temp;
            let archive = if a.target.starts_with("http://") || a.target.starts_with("https://") {
                temp = tempfile_dir()?;
                let options = auditor::export::ExportOptions {
                    url: a.target.clone(),
                    ca: a.ca.clone(),
                    out: temp.clone(),
                    municipality: None,
                    progress,
                };
                auditor::export::export(&options).await?;
                Archive::new(&temp)
            } else {
                Archive::new(&a.target)
            };
            let options = auditor::verify::VerifyOptions {
                threads: a.threads,
                progress,
                pinned: a
                    .witness_vkey
                    .as_deref()
                    .map(read_vkey)
                    .transpose()
                    .context("--witness-vkey")?,
                accept_format_1: a.accept_format_1,
            };
            let report = tokio::task::spawn_blocking(move || {
                auditor::verify::verify_with(&archive, &options)
            })
            .await??;
            print_report(&report, a.output)?;
            Ok(if report.ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(EXIT_FAULT)
            })
        }
        AuditCommand::Recompute(a) => {
            let archive = Archive::new(&a.archive);
            // Replayed up to the positions the export stopped at (the statement's).
            let record = archive.digest()?;
            let mut upto = BTreeMap::new();
            for p in auditor::statement::archived_positions(&record)? {
                upto.insert(p.municipality, p.size);
            }
            let replayed = archive.clone();
            let recomputed = tokio::task::spawn_blocking(move || {
                auditor::recompute::recompute(&replayed, &upto)
            })
            .await??;
            println!(
                "projection digest {} ({} events of {} hromadas)",
                recomputed.digest,
                recomputed.events,
                recomputed.positions.len()
            );
            if !recomputed.undecodable.is_empty() {
                // Skipped for the projections, as the association skips them.
                println!(
                    "skipped {} verified events whose payload does not decode (as the association does):",
                    recomputed.undecodable.len()
                );
                for u in &recomputed.undecodable {
                    println!("  {} event {}: {}", u.municipality, u.seq, u.detail);
                }
            }
            let mut ok = true;
            // Every participatory budget round, replayed under the rules.
            for r in &recomputed.rounds {
                for (seq, rule) in &r.violations {
                    ok = false;
                    println!(
                        "DIFFERS: budget round {} of {}: event {seq} breaks {rule}; left out of the count",
                        r.round.0, r.municipality
                    );
                }
                let winners = r
                    .winners
                    .iter()
                    .map(|p| p.0.to_string())
                    .collect::<Vec<_>>()
                    .join(", ");
                match &r.declared {
                    None => println!(
                        "budget round {} of {}: {} ballots, no results declared yet (they would be: {})",
                        r.round.0, r.municipality, r.ballots, winners
                    ),
                    Some((seq, _)) => println!(
                        "budget round {} of {}: {} ballots, results declared at event {seq} as the ballots give: winners {}",
                        r.round.0, r.municipality, r.ballots, winners
                    ),
                }
            }
            // The statement the archive was exported to, checked offline.
            let mut compare =
                |whose: &str, stated: Result<Option<Statement>, AuditError>| match stated {
                    Ok(None) => Ok(()),
                    Ok(Some(statement)) if hex::encode(statement.digest) == recomputed.digest => {
                        println!("matches {whose} signed statement at the archive's positions");
                        Ok(())
                    }
                    Ok(Some(statement)) => {
                        println!(
                            "DIFFERS from {whose} signed statement {}",
                            hex::encode(statement.digest)
                        );
                        ok = false;
                        Ok(())
                    }
                    Err(AuditError::Failed(why)) => {
                        println!("REFUSED: {why}");
                        ok = false;
                        Ok(())
                    }
                    Err(e) => Err(e),
                };
            compare("the archive's", auditor::statement::archived(&archive))?;
            if let Some(url) = &a.compare {
                let served = auditor::statement::served_for(&archive, url, a.ca.as_deref()).await;
                compare("the association's", served.map(Some))?;
            }
            Ok(if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(EXIT_FAULT)
            })
        }
        AuditCommand::Decode(a) => {
            let archive = Archive::new(&a.archive);
            let only = a
                .municipality
                .iter()
                .map(|c| municipality(c))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let out = a.out.clone();
            let decoded = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
                match &out {
                    Some(path) => {
                        // Written beside the target and renamed: never a half-written file.
                        let tmp = path.with_extension("jsonl.part");
                        let file = std::fs::File::create(&tmp)
                            .with_context(|| format!("failed to create {}", tmp.display()))?;
                        let mut writer = std::io::BufWriter::new(file);
                        let decoded = auditor::decode::decode(&archive, &only, &mut writer)?;
                        drop(writer);
                        std::fs::rename(&tmp, path)
                            .with_context(|| format!("failed to write {}", path.display()))?;
                        Ok(decoded)
                    }
                    None => {
                        let stdout = std::io::stdout();
                        let mut writer = std::io::BufWriter::new(stdout.lock());
                        Ok(auditor::decode::decode(&archive, &only, &mut writer)?)
                    }
                }
            })
            .await??;
            eprintln!(
                "decoded {} events of {} hromadas ({} whose payload does not decode)",
                decoded.events, decoded.municipalities, decoded.undecodable
            );
            Ok(ExitCode::SUCCESS)
        }
        AuditCommand::Prove(a) => {
            let code = municipality(&a.municipality)?;
            let target = match (a.seq, &a.event_id) {
                (Some(seq), _) => Target::Seq(seq),
                (None, Some(id)) => Target::EventId(EventId(
                    uuid::Uuid::parse_str(id.trim()).with_context(|| format!("--event-id {id}"))?,
                )),
                (None, None) => anyhow::bail!("give --seq or --event-id"),
            };
            let node = a.node_vkey.as_deref().map(read_vkey).transpose()?;
            let witness = a.witness_vkey.as_deref().map(read_vkey).transpose()?;
            match auditor::prove::prove(&a.from, a.ca.as_deref(), code, target, node, witness).await
            {
                Ok(receipt) => {
                    println!(
                        "event {} of {} ({}, id {}) is in the log of {} events signed by the node and \
                         cosigned by the association: verified",
                        receipt.seq,
                        receipt.municipality,
                        receipt.event_type,
                        receipt.event_id,
                        receipt.tree_size
                    );
                    if let Some(path) = a.out {
                        std::fs::write(&path, serde_json::to_string_pretty(&receipt)?)
                            .with_context(|| format!("failed to write {}", path.display()))?;
                        println!("receipt written to {}", path.display());
                    }
                    Ok(ExitCode::SUCCESS)
                }
                Err(auditor::AuditError::Failed(why)) => {
                    println!("NOT verified: {why}");
                    Ok(ExitCode::from(EXIT_FAULT))
                }
                Err(e) => Err(e.into()),
            }
        }
    }
}

/// A fresh directory under the system's temporary directory for a verify-by-URL archive; it
/// is kept after the run.
fn tempfile_dir() -> anyhow::Result<PathBuf> {
    let dir = tempfile::Builder::new()
        .prefix("vidkryto-audit-")
        .tempdir()
        .context("failed to create a temporary directory")?;
    Ok(dir.keep())
}
