//! `vidkryto node …`: what a hromada's IT operator runs. `init` creates the node's directory
//! (keys and a config to edit); `run` serves until Ctrl-C or SIGTERM.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Args, Subcommand};
use event_store_core::MunicipalityCode;
use node::config::{InitOptions, NodeSettings, Overrides, StatuteSettings};

#[derive(Debug, Subcommand)]
pub enum NodeCommand {
    /// Create a node's directory: signing key, pseudonym secret, config file.
    Init(InitArgs),
    /// Serve: gRPC commands and log access, relay to NATS, clock-driven rules.
    Run(RunArgs),
    /// Machine clients allowed to write (an e-petition platform, the council's systems).
    #[command(subcommand)]
    Client(ClientCommand),
    /// Node-local staff accounts (officials who do not sign in through the identity provider).
    #[command(subcommand)]
    Account(AccountCommand),
    /// Erase a petition's title and text that were never made public, on a lawful request.
    /// The log holds only their commitment, so it verifies as before; the erasure (when,
    /// why) is recorded, never the text.
    EraseText(EraseTextArgs),
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("text").required(true).multiple(false)))]
pub struct EraseTextArgs {
    /// The node's directory.
    #[arg(long, env = "VIDKRYTO_NODE_DIR", hide_env_values = true)]
    pub dir: PathBuf,
    /// The petition's id (its title and text are erased).
    #[arg(long, group = "text")]
    pub petition: Option<String>,
    /// The dialogue contribution's id (its text is erased).
    #[arg(long, group = "text")]
    pub contribution: Option<String>,
    /// The budget project's id (its title and description are erased).
    #[arg(long, group = "text")]
    pub project: Option<String>,
    /// The lawful ground (e.g. the decision's number), kept with the erasure.
    #[arg(long)]
    pub reason: String,
}

#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Allow a client; prints its API token once (or records its TLS certificate).
    Add(ClientAddArgs),
    /// Refuse a client from now on (a running node notices within two seconds).
    Remove(ClientNameArgs),
    /// List the clients and their permissions.
    List(ClientDirArgs),
}

#[derive(Debug, Subcommand)]
pub enum AccountCommand {
    /// Add an account; its password is read from --password-file, else from standard input
    /// (one line).
    Add(AccountAddArgs),
    /// Remove an account; its sessions end within two seconds.
    Remove(ClientNameArgs),
    /// List the accounts and their roles.
    List(ClientDirArgs),
}

#[derive(Debug, Args)]
pub struct AccountAddArgs {
    #[command(flatten)]
    pub account: ClientNameArgs,
    /// Its roles: moderator, official, coordinator, administrator (repeat or separate with
    /// commas).
    #[arg(long = "role", value_delimiter = ',', required = true)]
    pub roles: Vec<String>,
    /// A file holding the password (12 to 1,024 bytes; a final newline is dropped).
    #[arg(long)]
    pub password_file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ClientDirArgs {
    /// The node's directory.
    #[arg(long, env = "VIDKRYTO_NODE_DIR", hide_env_values = true)]
    pub dir: PathBuf,
}

#[derive(Debug, Args)]
pub struct ClientNameArgs {
    #[command(flatten)]
    pub dir: ClientDirArgs,
    /// The client's name.
    #[arg(long)]
    pub name: String,
}

#[derive(Debug, Args)]
pub struct ClientAddArgs {
    #[command(flatten)]
    pub client: ClientNameArgs,
    /// What it may do: participate, moderate, answer, coordinate, administer (repeat or
    /// separate with commas).
    #[arg(long = "permission", value_delimiter = ',', required = true)]
    pub permissions: Vec<String>,
    /// It proves itself with this TLS client certificate (PEM) instead of an API token.
    #[arg(long)]
    pub certificate: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// The node's directory (created).
    #[arg(long)]
    pub dir: PathBuf,
    /// The municipality's KATOTTG code, e.g. UA74040130000074451.
    #[arg(long)]
    pub municipality: String,
    /// Signatures a petition needs (the statute's threshold).
    #[arg(long)]
    pub signature_threshold: u32,
    /// Days a petition collects signatures.
    #[arg(long, default_value_t = 60)]
    pub collection_period_days: u16,
    /// gRPC listen address.
    #[arg(long, default_value = "127.0.0.1:50051")]
    pub listen: String,
    /// The NATS server (the node's leaf node); empty to run offline.
    #[arg(long, default_value = "nats://127.0.0.1:4222")]
    pub nats_url: String,
    /// The log: a SQLite file in the node's directory, or a postgres:// URL.
    #[arg(long, default_value = "node.sqlite")]
    pub storage: String,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The node's directory.
    #[arg(long, env = "VIDKRYTO_NODE_DIR", hide_env_values = true)]
    pub dir: PathBuf,
    /// Overrides the config's gRPC listen address.
    #[arg(long)]
    pub listen: Option<String>,
    /// Overrides the config's metrics listen address.
    #[arg(long)]
    pub metrics_listen: Option<String>,
    /// Overrides the config's storage.
    #[arg(long)]
    pub storage: Option<String>,
    /// Overrides the config's NATS URL.
    #[arg(long)]
    pub nats_url: Option<String>,
}

/// Runs a `node` subcommand.
pub async fn run(cmd: NodeCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        NodeCommand::Init(a) => {
            let municipality = MunicipalityCode::parse(&a.municipality)
                .with_context(|| format!("--municipality {}", a.municipality))?;
            let options = InitOptions {
                municipality,
                statute: StatuteSettings {
                    signature_threshold: a.signature_threshold,
                    collection_period_days: a.collection_period_days,
                    answer_deadline_working_days: 10,
                    rule_version: 1,
                },
                listen: a.listen,
                nats_url: a.nats_url,
                storage: a.storage,
            };
            let vkey = node::config::init(&a.dir, &options)?;
            println!("node of {municipality} created in {}", a.dir.display());
            println!("verifier key (send it to the association to enrol): {vkey}");
            Ok(ExitCode::SUCCESS)
        }
        NodeCommand::Run(a) => {
            let overrides = Overrides {
                listen: a.listen,
                metrics_listen: a.metrics_listen,
                storage: a.storage,
                nats_url: a.nats_url,
            };
            let settings = NodeSettings::load(&a.dir, overrides)?;
            let municipality = settings.municipality;
            let running = node::start(settings).await?;
            println!(
                "node of {municipality} serving gRPC on {}",
                running.grpc_addr()
            );
            if let Some(addr) = running.metrics_addr() {
                println!("metrics on http://{addr}/metrics");
            }
            ready_until_signal().await;
            eprintln!("shutting down");
            running.shutdown().await;
            Ok(ExitCode::SUCCESS)
        }
        NodeCommand::Client(c) => client(c),
        NodeCommand::Account(c) => account(c),
        NodeCommand::EraseText(a) => {
            let parse = |flag: &str, text: &str| {
                uuid::Uuid::parse_str(text).with_context(|| format!("{flag} {text:?} is not an id"))
            };
            let of = match (&a.petition, &a.contribution, &a.project) {
                (Some(p), _, _) => TextOf::Petition(domain::PetitionId(parse("--petition", p)?)),
                (None, Some(c), _) => {
                    TextOf::Contribution(domain::ContributionId(parse("--contribution", c)?))
                }
                (None, None, Some(p)) => TextOf::Project(domain::ProjectId(parse("--project", p)?)),
                (None, None, None) => {
                    anyhow::bail!("give --petition, --contribution or --project")
                }
            };
            if !a.dir.join(node::config::CONFIG_FILE).exists() {
                anyhow::bail!(
                    "{} holds no node (no {})",
                    a.dir.display(),
                    node::config::CONFIG_FILE
                );
            }
            let store = node::texts::TextStore::open(&a.dir).await?;
            store.erase(of, &a.reason).await?;
            println!("the text of {of} is erased; the log still verifies");
            Ok(ExitCode::SUCCESS)
        }
    }
}

use node::texts::TextOf;

fn account(cmd: AccountCommand) -> anyhow::Result<ExitCode> {
    use node::auth::Role;
    use node::auth::accounts;
    match cmd {
        AccountCommand::Add(a) => {
            let roles = a
                .roles
                .iter()
                .map(|r| {
                    Role::parse(r.trim()).with_context(|| {
                        format!(
                            "--role {r:?}: one of moderator, official, coordinator, administrator"
                        )
                    })
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            let password = match &a.password_file {
                Some(path) => wire::read_secret_file(path)?,
                None => {
                    let mut line = String::new();
                    std::io::stdin()
                        .read_line(&mut line)
                        .context("failed to read the password from standard input")?;
                    line
                }
            };
            let password = password.strip_suffix('\n').unwrap_or(&password);
            let password = password.strip_suffix('\r').unwrap_or(password);
            let name = a.account.name;
            accounts::add(&a.account.dir.dir, &name, &roles, password)?;
            println!("account {name} added");
        }
        AccountCommand::Remove(a) => {
            accounts::remove(&a.dir.dir, &a.name)?;
            println!("account {} removed", a.name);
        }
        AccountCommand::List(a) => {
            for entry in accounts::list(&a.dir)? {
                println!(
                    "{}\t{}\t{}",
                    entry.name,
                    entry.roles.join(","),
                    entry.created
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn client(cmd: ClientCommand) -> anyhow::Result<ExitCode> {
    use node::auth::Permission;
    use node::auth::clients::{self, Credential};
    match cmd {
        ClientCommand::Add(a) => {
            let permissions = a
                .permissions
                .iter()
                .map(|p| {
                    Permission::parse(p.trim()).with_context(|| {
                        format!(
                            "--permission {p:?}: one of participate, moderate, answer, coordinate, administer"
                        )
                    })
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            let credential = match a.certificate {
                Some(path) => Credential::Certificate(path),
                None => Credential::Token,
            };
            let name = a.client.name;
            match clients::add(&a.client.dir.dir, &name, permissions, credential)? {
                Some(token) => {
                    println!("client {name} added; its API token (shown only now):");
                    println!("{token}");
                }
                None => println!("client {name} added; it proves itself with its certificate"),
            }
        }
        ClientCommand::Remove(a) => {
            clients::remove(&a.dir.dir, &a.name)?;
            println!("client {} removed", a.name);
        }
        ClientCommand::List(a) => {
            for c in clients::list(&a.dir)? {
                let names: Vec<&str> = c.permissions.iter().map(|p| p.name()).collect();
                let by = if c.certificate_sha256.is_some() {
                    "certificate"
                } else {
                    "token"
                };
                println!("{}\t{}\t{by}\t{}", c.name, names.join(","), c.created);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Tells the service manager the service is ready (systemd's `Type=notify`), waits for Ctrl-C
/// or SIGTERM, and tells it the service is stopping. The handlers are installed first.
pub async fn ready_until_signal() {
    let signal = wait_for_signal();
    crate::notify::sd_notify_logged(crate::notify::READY);
    signal.await;
    crate::notify::sd_notify_logged(crate::notify::STOPPING);
}

/// Resolves on Ctrl-C or SIGTERM. The handlers are installed when this is called, not when
/// the future is first polled: call it before telling anyone (systemd, a test) that the
/// service is up, so a SIGTERM sent right after never meets the default action.
pub fn wait_for_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let term = signal(SignalKind::terminate()).ok();
        let int = signal(SignalKind::interrupt()).ok();
        async move {
            match (term, int) {
                (Some(mut term), Some(mut int)) => {
                    tokio::select! {
                        _ = int.recv() => {}
                        _ = term.recv() => {}
                    }
                }
                _ => {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        }
    }
    #[cfg(not(unix))]
    {
        async {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
