//! `vidkryto monitor …`: what an independent monitor of OGP-Local commitments runs (an
//! organisation the association enrols, never a hromada). `init` makes its signing key;
//! `assess` signs an assessment of one commitment (`domain::assessment`'s note) and submits it
//! to the association, which checks it under the rules and records it in its own log.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Args, Subcommand};
use domain::assessment::{self, Assessment, monitor_key_name};
use domain::{CivilDate, CommitmentId, PlanId};
use event_store_core::checkpoint::NoteSigner;
use proto::federation::v1 as pb;
use proto::federation::v1::federation_service_client::FederationServiceClient;

/// The monitor's signing key in its directory.
pub const KEY_FILE: &str = "monitor.key";
/// Its verifier key, for the association to enrol.
pub const VKEY_FILE: &str = "monitor.vkey";
/// Exit code when the association refuses the assessment.
const EXIT_REFUSED: u8 = 1;

#[derive(Debug, Subcommand)]
pub enum MonitorCommand {
    /// Create the monitor's directory with a fresh signing key; prints the verifier key to
    /// send to the association.
    Init(InitArgs),
    /// Sign an assessment of one commitment and submit it to the association.
    Assess(AssessArgs),
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// The monitor's directory (created).
    #[arg(long)]
    pub dir: PathBuf,
    /// The monitor's id, as the association will enrol it: 2 to 40 of a-z, 0-9 and '-'.
    #[arg(long)]
    pub monitor: String,
}

#[derive(Debug, Args)]
pub struct AssessArgs {
    /// The monitor's directory (from `init`).
    #[arg(long, env = "VIDKRYTO_MONITOR_DIR")]
    pub dir: PathBuf,
    /// The association's gRPC URL (http:// on loopback, else https://).
    #[arg(long)]
    pub association: String,
    /// For an https:// association: trust the certificate authorities in this PEM file.
    #[arg(long)]
    pub ca: Option<PathBuf>,
    /// The hromada's KATOTTG code.
    #[arg(long)]
    pub municipality: String,
    /// The action plan's id.
    #[arg(long)]
    pub plan: String,
    /// The commitment's id.
    #[arg(long)]
    pub commitment: String,
    /// not_started, limited, substantial or complete.
    #[arg(long)]
    pub completion: String,
    /// worsened, did_not_change, marginal, major or outstanding.
    #[arg(long)]
    pub opened_government: String,
    /// The day assessed (yyyy-mm-dd); today in Kyiv by default.
    #[arg(long)]
    pub assessed_on: Option<String>,
    /// Why, in one line.
    #[arg(long)]
    pub summary: String,
    /// Print the signed note and submit nothing.
    #[arg(long)]
    pub print_only: bool,
}

fn load_key(dir: &Path) -> anyhow::Result<NoteSigner> {
    let path = dir.join(KEY_FILE);
    let text = wire::read_secret_file(&path)
        .context("cannot use the monitor's key (`vidkryto monitor init` makes one)")?;
    NoteSigner::parse(text.trim())
        .with_context(|| format!("{} is not a signing key", path.display()))
}

fn parse_id<T: std::str::FromStr>(flag: &str, text: &str) -> anyhow::Result<T> {
    text.trim()
        .parse()
        .map_err(|_| anyhow::anyhow!("--{flag} {text:?} is not an id"))
}

/// Whether the association refused the assessment itself, rather than the call.
fn is_refusal(status: &tonic::Status) -> bool {
    use tonic_types::StatusExt as _;
    match status.code() {
        tonic::Code::InvalidArgument | tonic::Code::NotFound => true,
        tonic::Code::FailedPrecondition => status
            .get_details_precondition_failure()
            .is_some_and(|f| f.violations.iter().any(|v| v.r#type == "DOMAIN_RULE")),
        _ => false,
    }
}

/// Runs a `monitor` subcommand.
pub async fn run(cmd: MonitorCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        MonitorCommand::Init(a) => {
            assessment::check_monitor_id(&a.monitor)
                .map_err(|e| anyhow::anyhow!("--monitor {:?}: {e}", a.monitor))?;
            std::fs::create_dir_all(&a.dir)
                .with_context(|| format!("failed to create {}", a.dir.display()))?;
            let mut seed = [0u8; 32];
            rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut seed);
            let key = NoteSigner::from_seed(&monitor_key_name(&a.monitor), seed)?;
            let key_path = a.dir.join(KEY_FILE);
            wire::write_secret_file(&key_path, &format!("{}\n", key.to_private_text()))
                .with_context(|| format!("failed to create {}", key_path.display()))?;
            let vkey = key.verifier().to_text();
            let vkey_path = a.dir.join(VKEY_FILE);
            std::fs::write(&vkey_path, format!("{vkey}\n"))
                .with_context(|| format!("failed to write {}", vkey_path.display()))?;
            println!("monitor key: {}", key_path.display());
            println!("verifier key (send it to the association to enrol): {vkey}");
            Ok(ExitCode::SUCCESS)
        }
        MonitorCommand::Assess(a) => {
            let key = load_key(&a.dir)?;
            let monitor = key
                .name()
                .strip_prefix(assessment::MONITOR_KEY_PREFIX)
                .with_context(|| format!("{} is not a monitor's key", key.name()))?
                .to_owned();
            let assessed_on = match &a.assessed_on {
                Some(text) => text
                    .parse::<CivilDate>()
                    .map_err(|e| anyhow::anyhow!("--assessed-on {text:?}: {e}"))?,
                None => domain::kyiv_date(event_store_core::Timestamp::now()),
            };
            let assessment = Assessment {
                monitor,
                municipality: crate::association_cmd::municipality(&a.municipality)?,
                plan: parse_id::<PlanId>("plan", &a.plan)?,
                commitment: parse_id::<CommitmentId>("commitment", &a.commitment)?,
                completion: assessment::parse_completion(&a.completion).with_context(|| {
                    format!(
                        "--completion {:?}: one of not_started, limited, substantial, complete",
                        a.completion
                    )
                })?,
                opened_government: assessment::parse_opened_government(&a.opened_government)
                    .with_context(|| {
                        format!(
                            "--opened-government {:?}: one of worsened, did_not_change, \
                             marginal, major, outstanding",
                            a.opened_government
                        )
                    })?,
                assessed_on,
                summary: a.summary.trim().to_owned(),
            };
            let note = assessment
                .sign(&key)
                .map_err(|e| anyhow::anyhow!("the assessment: {e}"))?;
            if a.print_only {
                print!("{note}");
                return Ok(ExitCode::SUCCESS);
            }
            let channel = auditor::export::channel(&a.association, a.ca.as_deref()).await?;
            let mut client = FederationServiceClient::new(channel);
            match client
                .submit_assessment(pb::SubmitAssessmentRequest { note })
                .await
            {
                Ok(reply) => {
                    let reply = reply.into_inner();
                    if reply.recorded {
                        println!("recorded as entry {} of the association's log", reply.seq);
                    } else {
                        println!("already recorded as entry {}", reply.seq);
                    }
                    Ok(ExitCode::SUCCESS)
                }
                // The association's answer on the assessment itself: a named rule (its
                // DOMAIN_RULE detail), a field, or a commitment it does not know. Anything else
                // (a reads-only instance, a busy one) is an operating error (exit 2).
                Err(status) if is_refusal(&status) => {
                    eprintln!("refused ({:?}): {}", status.code(), status.message());
                    Ok(ExitCode::from(EXIT_REFUSED))
                }
                Err(status) => Err(anyhow::anyhow!(
                    "{}: {:?}: {}",
                    a.association,
                    status.code(),
                    status.message()
                )),
            }
        }
    }
}
