//! `vidkryto dev`: a complete local federation on loopback, the quick start's run command. A
//! `nats-server -js` child process, a real OpenID provider (`oidc-process`: residents and demo
//! officials sign in there and call the nodes with their ID tokens), the association on a fresh
//! PostgreSQL database, several municipality nodes in this process (each enrolled), and
//! simulated civic activity sent to the nodes' gRPC APIs (as a machine client, the way an
//! e-petition platform feeds a node); it prints where everything listens and runs until Ctrl-C or SIGTERM,
//! then stops the activity, the nodes (their relays flush), the association and NATS, in that
//! order, and removes what it made unless told to keep it.
//!
//! **Fresh every run.** The association's database (`--db`, default
//! `postgres://postgres@127.0.0.1:5432/vidkryto_dev`) is dropped and created again at start, so
//! its name must start with `vidkryto_dev`; the state directory (`--dir`) must be empty or
//! absent. Without `--dir` the state lives in a temporary directory and the database is
//! dropped on exit; with it, both are kept for inspection.
//!
//! A library of its own, so the shipped binary's other subcommands do not carry it and it
//! links nothing test-only: the `vidkryto` binary parses [`DevArgs`] and calls [`run`].

mod clock;
pub mod monitors;
mod sim;

/// What the simulated residents and councils write (also the association bench's catalogue).
pub use sim::texts;

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, bail};
use association::enrolment::Enrolment;
use association::server::{AssociationSettings, RunningAssociation};
use association::store::Store;
use clap::Args;
use event_store_core::MunicipalityCode;
use futures_util::StreamExt as _;
use nats_process::NatsServer;
use node::RunningNode;
use node::auth::Bearer;
use node::config::{InitOptions, NodeSettings, Overrides, StatuteSettings};
use oidc_process::{DevProvider, ProviderConfig, RegisteredClient};
use proto::node::v1::node_service_client::NodeServiceClient;
use reference::{Municipality, Reference};
use tokio::sync::watch;

use self::clock::SimClock;
use self::sim::{Stats, Town};

/// The association's database unless `--db` says otherwise.
const DEFAULT_DB: &str = "postgres://postgres@127.0.0.1:5432/vidkryto_dev";
/// What the database's name must start with: `dev` drops it at every start.
const DB_NAME_PREFIX: &str = "vidkryto_dev";
/// Every hromada plus Kyiv.
const NODES_MAX: u32 = 1_470;
/// Nodes listed one per line; past this, a summary (the full list is in `nodes.tsv`).
const NODES_LISTED_MAX: usize = 10;
/// Nodes created, started or stopped at once (each opens a SQLite log and a NATS connection).
const NODE_STARTS_AT_ONCE: usize = 8;
/// Bound on stopping one node (its relay saves its position; in-flight requests finish).
const NODE_STOP_TIMEOUT: Duration = Duration::from_secs(15);
/// How often a status line is printed.
const STATUS_EVERY: Duration = Duration::from_secs(10);
/// Files a node keeps open (SQLite log and its worker connections, listener, NATS, clients):
/// about 12 measured with all 1,470 nodes; rounded up.
const FILES_PER_NODE: u64 = 16;
/// Files the rest keeps open (association, its database pool, NATS child's pipes, logs).
const FILES_BASE: u64 = 256;

/// Options of `vidkryto dev`.
#[derive(Debug, Args)]
pub struct DevArgs {
    /// Municipality nodes to run: the N most populous hromadas, Kyiv first (1 to 1,470;
    /// default 5).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=i64::from(NODES_MAX)),
          conflicts_with = "municipalities")]
    pub nodes: Option<u32>,
    /// Run exactly these hromadas instead (comma-separated KATOTTG codes).
    #[arg(long, value_delimiter = ',')]
    pub municipalities: Vec<String>,
    /// Simulated commands per second over the whole country, spread by population (0: none).
    #[arg(long, default_value_t = 20.0, value_parser = parse_rate)]
    pub rate: f64,
    /// Days of civic history to simulate: every node's clock starts this far back and runs
    /// `--speed` times faster than the wall clock until it reaches the present (0: no history,
    /// real time from the start).
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u32).range(0..=3_650))]
    pub history_days: u32,
    /// How much faster than the wall clock simulated time runs while it catches up (8,640: a
    /// day every 10 seconds).
    #[arg(long, default_value_t = 8_640, value_parser = clap::value_parser!(u32).range(1..=10_000_000))]
    pub speed: u32,
    /// The association's PostgreSQL database, dropped and created afresh at every start (so
    /// its name must start with `vidkryto_dev`).
    #[arg(long, env = "VIDKRYTO_DEV_DB", hide_env_values = true, default_value = DEFAULT_DB)]
    pub db: String,
    /// The association's gRPC (and gRPC-Web) listen address.
    #[arg(long, default_value = "127.0.0.1:50100")]
    pub association_listen: SocketAddr,
    /// Keep the federation's state (NATS store, node logs and keys, the association's keys) in
    /// DIR, which must be empty or absent, and keep the database. Without it: a temporary
    /// directory, removed on exit with the database.
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// The national dashboard's built assets, served by the association at `/` (default: this
    /// repository's services/dashboard/dist, when deploy/local/setup.sh has built it).
    #[arg(long)]
    pub dashboard_dir: Option<PathBuf>,
    /// The hromadas' portal's built assets, served by every node at `/` (default: this
    /// repository's services/portal/dist, when deploy/local/setup.sh has built it).
    #[arg(long)]
    pub portal_dir: Option<PathBuf>,
}

/// `--dashboard-dir`, else the dashboard built beside this program's sources, if it is.
fn dashboard_dir(args: &DevArgs) -> Option<PathBuf> {
    args.dashboard_dir.clone().or_else(|| {
        let built = Path::new(env!("CARGO_MANIFEST_DIR")).join("../dashboard/dist");
        built.join("index.html").is_file().then_some(built)
    })
}

/// `--portal-dir`, else the portal built beside this program's sources, if it is; absolute.
fn portal_dir(args: &DevArgs) -> anyhow::Result<Option<PathBuf>> {
    let dir = args.portal_dir.clone().or_else(|| {
        let built = Path::new(env!("CARGO_MANIFEST_DIR")).join("../portal/dist");
        built.join("index.html").is_file().then_some(built)
    });
    dir.map(|d| {
        d.canonicalize()
            .with_context(|| format!("--portal-dir {}", d.display()))
    })
    .transpose()
}

/// Has a node serve the portal in `portal`, fetching receipts from the association at
/// `association` (written at the start of its `node.toml`, where top-level settings go).
fn add_portal(
    root: &Path,
    code: &MunicipalityCode,
    portal: &Path,
    association: &str,
) -> anyhow::Result<()> {
    let config = node_dir(root, code).join(node::config::CONFIG_FILE);
    let text = std::fs::read_to_string(&config)
        .with_context(|| format!("failed to read {}", config.display()))?;
    let portal = portal
        .to_str()
        .context("the portal's directory is not UTF-8")?;
    std::fs::write(
        &config,
        format!("portal_dir = {portal:?}\nassociation_url = {association:?}\n{text}"),
    )
    .with_context(|| format!("failed to write {}", config.display()))
}

fn parse_rate(text: &str) -> Result<f64, String> {
    let rate: f64 = text
        .parse()
        .map_err(|_| format!("{text:?} is not a number"))?;
    if !rate.is_finite() || !(0.0..=sim::RATE_MAX).contains(&rate) {
        return Err(format!("must be 0 to {}", sim::RATE_MAX));
    }
    Ok(rate)
}

/// One hromada of the dev federation.
#[derive(Debug, Clone)]
struct Member {
    code: MunicipalityCode,
    name: String,
    population: u64,
}

/// The hromadas to run: `--municipalities`, or the `--nodes` most populous, Kyiv first.
fn members(args: &DevArgs, reference: &Reference) -> anyhow::Result<Vec<Member>> {
    let member = |m: &Municipality| Member {
        code: m.code,
        name: format!("{} ({})", m.name_uk, m.name_en),
        population: m.population,
    };
    if !args.municipalities.is_empty() {
        let mut chosen: Vec<Member> = Vec::new();
        for text in &args.municipalities {
            let code = MunicipalityCode::parse(text.trim())
                .with_context(|| format!("--municipalities: {text:?}"))?;
            let m = reference.municipality(&code).with_context(|| {
                format!("--municipalities: {code} is not a hromada in the reference data")
            })?;
            if !chosen.iter().any(|c| c.code == code) {
                chosen.push(member(m));
            }
        }
        return Ok(chosen);
    }
    let count = usize::try_from(args.nodes.unwrap_or(5)).unwrap_or(5);
    let kyiv = MunicipalityCode::parse(reference::KYIV).ok();
    let mut all: Vec<&Municipality> = reference.municipalities.values().collect();
    all.sort_by_key(|m| {
        (
            Some(m.code) != kyiv,
            std::cmp::Reverse(m.population),
            m.code,
        )
    });
    Ok(all.into_iter().take(count).map(member).collect())
}

/// A statute scaled for a demonstration: a tenth of the usual share of residents (Kyiv's 6,000
/// of 2.95 million is 0.2%), so petitions reach their threshold within minutes.
fn dev_statute(population: u64) -> StatuteSettings {
    StatuteSettings {
        signature_threshold: u32::try_from((population / 10_000).clamp(5, 300)).unwrap_or(300),
        collection_period_days: 60,
        answer_deadline_working_days: 10,
        rule_version: 1,
    }
}

/// The soft limit on open files, from `/proc/self/limits` (Linux); `None` elsewhere or when
/// unlimited.
fn open_files_limit() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/limits").ok()?;
    parse_open_files_limit(&text)
}

fn parse_open_files_limit(limits: &str) -> Option<u64> {
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line["Max open files".len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Refuses a node count the process cannot open files for, before anything starts.
fn check_open_files(nodes: usize) -> anyhow::Result<()> {
    let needed = FILES_BASE + FILES_PER_NODE * nodes as u64;
    match open_files_limit() {
        Some(limit) if limit < needed => bail!(
            "{nodes} nodes need about {needed} open files, but this shell allows {limit}: \
             raise it (`ulimit -n {needed}`, up to the hard limit `ulimit -Hn`) or run fewer \
             nodes"
        ),
        _ => Ok(()),
    }
}

/// Refuses a database `dev` must not drop.
fn check_db_name(url: &str) -> anyhow::Result<String> {
    use sqlx::postgres::PgConnectOptions;
    let options: PgConnectOptions = url
        .parse()
        .with_context(|| format!("--db {url:?} is not a PostgreSQL URL"))?;
    let name = options.get_database().unwrap_or_default().to_owned();
    if !name.starts_with(DB_NAME_PREFIX) {
        bail!(
            "--db names the database {name:?}; vidkryto dev drops and recreates its database \
             at every start, so it only uses one whose name starts with {DB_NAME_PREFIX:?}"
        );
    }
    Ok(name)
}

/// Drops the database `url` names (closing its connections), through the server's `postgres`
/// database.
async fn drop_database(url: &str) -> anyhow::Result<()> {
    use sqlx::ConnectOptions as _;
    use sqlx::postgres::PgConnectOptions;
    let options: PgConnectOptions = url.parse().context("database URL")?;
    let name = options.get_database().unwrap_or_default().to_owned();
    let mut admin = options
        .database("postgres")
        .connect()
        .await
        .with_context(|| format!("failed to connect to the PostgreSQL server of {url}"))?;
    let quoted = name.replace('"', "\"\"");
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS \"{quoted}\" WITH (FORCE)"
    )))
    .execute(&mut admin)
    .await
    .with_context(|| format!("failed to drop the database {name}"))?;
    Ok(())
}

/// The state directory: `--dir` (must be empty or absent), or a temporary one.
fn state_dir(dir: Option<&Path>) -> anyhow::Result<(PathBuf, Option<tempfile::TempDir>)> {
    match dir {
        Some(dir) => {
            if dir.exists() {
                let mut entries = std::fs::read_dir(dir)
                    .with_context(|| format!("--dir {}: failed to read it", dir.display()))?;
                if entries.next().is_some() {
                    bail!(
                        "--dir {} is not empty: vidkryto dev starts a fresh federation every \
                         run; name an empty or new directory",
                        dir.display()
                    );
                }
            }
            std::fs::create_dir_all(dir)
                .with_context(|| format!("failed to create {}", dir.display()))?;
            Ok((dir.to_owned(), None))
        }
        None => {
            let temp = tempfile::Builder::new()
                .prefix("vidkryto-dev-")
                .tempdir()
                .context("failed to create a temporary directory")?;
            Ok((temp.path().to_owned(), Some(temp)))
        }
    }
}

/// A running node of the federation.
#[derive(Debug)]
struct DevNode {
    member: Member,
    running: RunningNode,
    /// The API token of the machine client `simulator` (every permission), which drives it.
    token: String,
}

/// The file, in a dev node's directory, holding the simulator's API token.
const SIMULATOR_TOKEN_FILE: &str = "simulator.token";

/// The client id of `code`'s node at the development provider.
fn node_client_id(code: &MunicipalityCode) -> String {
    format!("vidkryto-node-{code}")
}

/// The date of birth the development provider attests of every demo resident.
const DEMO_BIRTHDATE: &str = "1990-05-01";

/// Demo officials at the development provider and their roles (any other login is a resident).
const DEMO_STAFF: [(&str, &[&str]); 4] = [
    ("moderator", &["moderator"]),
    ("official", &["official"]),
    ("coordinator", &["coordinator"]),
    ("administrator", &["administrator"]),
];

/// Distinct free loopback ports, one per node: each node's sign-in callback is registered at
/// the provider before the node listens. (Taken one at a time and let go at once, so as many
/// as the federation has never hold file descriptors together.)
fn free_ports(count: usize) -> anyhow::Result<Vec<u16>> {
    let mut ports = std::collections::BTreeSet::new();
    let mut attempts = 0;
    while ports.len() < count {
        attempts += 1;
        anyhow::ensure!(
            attempts <= count * 4 + 100,
            "cannot find {count} free loopback ports"
        );
        ports.insert(
            std::net::TcpListener::bind("127.0.0.1:0")?
                .local_addr()?
                .port(),
        );
    }
    let mut ports: Vec<u16> = ports.into_iter().collect();
    // Not in ascending order: one town's port says nothing of the next one's.
    ports.rotate_left(count / 2);
    Ok(ports)
}

/// The URL a dev node's sign-in comes back to.
fn callback_url(port: u16) -> String {
    format!("http://127.0.0.1:{port}/auth/callback")
}

/// Creates a node's directory, listening on `port`, taking ID tokens of the provider at
/// `issuer` and signing people in on its own pages, with the simulator as a machine client
/// allowed everything, and returns its verifier key text.
fn init_node(
    root: &Path,
    member: &Member,
    port: u16,
    nats_url: &str,
    issuer: &str,
) -> anyhow::Result<String> {
    let options = InitOptions {
        municipality: member.code,
        statute: dev_statute(member.population),
        listen: format!("127.0.0.1:{port}"),
        nats_url: nats_url.to_owned(),
        storage: "node.sqlite".into(),
    };
    let dir = node_dir(root, &member.code);
    let vkey = node::config::init(&dir, &options)
        .with_context(|| format!("failed to create the node of {}", member.code))?;
    let config = dir.join(node::config::CONFIG_FILE);
    let text = std::fs::read_to_string(&config)?;
    std::fs::write(
        &config,
        format!(
            "{text}\n[oidc]\nissuer = \"{issuer}\"\nclient_id = \"{}\"\nredirect_url = \"{}\"\nattests_birthdate_and_residence = true\n",
            node_client_id(&member.code),
            callback_url(port)
        ),
    )?;
    let token = node::auth::clients::add(
        &dir,
        "simulator",
        node::auth::Permission::ALL.to_vec(),
        node::auth::clients::Credential::Token,
    )?
    .context("a token client has a token")?;
    let token_path = dir.join(SIMULATOR_TOKEN_FILE);
    wire::write_secret_file(&token_path, &format!("{token}\n"))
        .with_context(|| format!("failed to write {}", token_path.display()))?;
    Ok(vkey)
}

fn node_dir(root: &Path, code: &MunicipalityCode) -> PathBuf {
    root.join("nodes").join(code.as_str())
}

async fn start_node(
    root: &Path,
    (member, port): (Member, u16),
    nats_url: &str,
    clock: &SimClock,
) -> anyhow::Result<DevNode> {
    // Every setting that the environment could override is given, so a shell's
    // VIDKRYTO_NODE_* variables cannot point all dev nodes at one place.
    let overrides = Overrides {
        listen: Some(format!("127.0.0.1:{port}")),
        metrics_listen: Some(String::new()),
        storage: Some("node.sqlite".into()),
        nats_url: Some(nats_url.to_owned()),
    };
    let dir = node_dir(root, &member.code);
    let token = wire::read_secret_file(&dir.join(SIMULATOR_TOKEN_FILE))?
        .trim()
        .to_owned();
    let settings = NodeSettings::load(&dir, overrides)?;
    let running = node::start_with_clock(settings, clock.node_clock())
        .await
        .with_context(|| format!("failed to start the node of {}", member.code))?;
    Ok(DevNode {
        member,
        running,
        token,
    })
}

/// Everything `dev` runs.
#[derive(Debug)]
struct Federation {
    nats: NatsServer,
    nats_version: String,
    provider: DevProvider,
    association: RunningAssociation,
    nodes: Vec<DevNode>,
    clock: SimClock,
    stats: Arc<Stats>,
    monitor_stats: Arc<monitors::MonitorStats>,
    stop_sim: watch::Sender<bool>,
    sim: tokio::task::JoinHandle<()>,
    /// Whether the association serves the dashboard.
    dashboard: bool,
    /// Whether the nodes serve the portal.
    portal: bool,
}

async fn start(args: &DevArgs, root: &Path, members: Vec<Member>) -> anyhow::Result<Federation> {
    let binary = nats_process::nats_server_binary()?;
    let nats_version = nats_process::check_nats_server(&binary).await?;
    let nats = NatsServer::start_in(binary, root.join("nats"))
        .await
        .context("failed to start nats-server")?;
    let nats_url = nats.url();

    // The OpenID provider residents and officials sign in at, as at ID.gov.ua: each node is a
    // client there, for apps on residents' devices and for its own pages' sign-in.
    let ports = free_ports(members.len())?;
    let provider = DevProvider::start(&ProviderConfig {
        clients: members
            .iter()
            .zip(&ports)
            .map(|(m, port)| {
                let mut client = RegisteredClient::public(&node_client_id(&m.code));
                client.redirect_uris.push(callback_url(*port));
                client
            })
            .collect(),
        staff: DEMO_STAFF
            .iter()
            .map(|(login, roles)| {
                (
                    (*login).to_owned(),
                    roles.iter().map(|r| (*r).to_owned()).collect(),
                )
            })
            .collect(),
        // As ID.gov.ua attests from the registers: every demo resident is an adult living in
        // the hromada whose node they sign in to.
        default_person: Some(oidc_process::Attested {
            birthdate: Some(DEMO_BIRTHDATE.to_owned()),
            residence: None,
        }),
        client_residences: members
            .iter()
            .map(|m| (node_client_id(&m.code), m.code.to_string()))
            .collect(),
        ..ProviderConfig::default()
    })
    .await
    .context("failed to start the development OpenID provider")?;

    drop_database(&args.db).await?;
    let store = Store::connect(&args.db)
        .await
        .with_context(|| format!("failed to create the association's database {}", args.db))?;
    let association_dir = root.join("association");
    association::server::init_dir(&association_dir)?;

    // Nodes' directories, enrolled before the association starts, so it sources every stream
    // in one go.
    let witness = association::server::load_witness(
        &association_dir.join(association::server::WITNESS_KEY_FILE),
    )?;
    let signer =
        association::decisions::Signer::of_dir(std::sync::Arc::new(witness), &association_dir);
    let enrolment = Enrolment::new(store.clone(), signer.clone(), None);
    for (member, port) in members.iter().zip(&ports) {
        let vkey = init_node(root, member, *port, &nats_url, provider.issuer())?;
        let vkey = association::enrolment::parse_vkey(&vkey)?;
        enrolment.enroll(&member.code, &vkey).await?;
    }
    let mut settings = AssociationSettings::from_dir(
        &association_dir,
        args.db.clone(),
        nats_url.clone(),
        args.association_listen,
    )?;
    settings.dashboard_dir = dashboard_dir(args);
    let dashboard = settings.dashboard_dir.is_some();
    let association = association::server::start(settings).await.map_err(|e| {
        if format!("{e:#}").contains("failed to listen") {
            e.context(
                "--association-listen: the address is taken (another association or dev \
                 running?); 127.0.0.1:0 picks a free port",
            )
        } else {
            e.context("failed to start the association")
        }
    })?;

    // The portal fetches receipts from the association, whose address is known now.
    let portal = portal_dir(args)?;
    if let Some(dir) = &portal {
        let association_url = format!("http://{}", association.grpc_addr);
        for member in &members {
            add_portal(root, &member.code, dir, &association_url)?;
        }
    }

    let clock = SimClock::new(args.history_days, args.speed);
    let started: Vec<anyhow::Result<DevNode>> =
        futures_util::stream::iter(members.into_iter().zip(ports))
            .map(|member| start_node(root, member, &nats_url, &clock))
            .buffered(NODE_STARTS_AT_ONCE)
            .collect()
            .await;
    let nodes = started.into_iter().collect::<anyhow::Result<Vec<_>>>()?;
    write_node_list(root, &nodes)?;

    let mut towns = Vec::with_capacity(nodes.len());
    for node in &nodes {
        let channel =
            tonic::transport::Channel::from_shared(format!("http://{}", node.running.grpc_addr()))?
                .connect_timeout(sim::COMMAND_TIMEOUT)
                .connect_lazy();
        towns.push(Arc::new(Town::new(
            node.member.code,
            node.member.population,
            NodeServiceClient::with_interceptor(channel, Bearer::new(&node.token)?),
        )));
    }
    let stats = Arc::new(Stats::default());
    let (stop_sim, stop_rx) = watch::channel(false);
    // Independent monitors, enrolled by the association; one is not independent of the first
    // hromada.
    let sim_monitors = monitors::monitors(towns.first().map(|t| t.code))?;
    for m in &sim_monitors {
        let enrolment = association::assessments::MonitorEnrolment::new(
            m.id,
            m.name,
            m.key.verifier(),
            m.not_independent_of.clone(),
        );
        association::assessments::enroll_monitor(&store, &signer, &enrolment).await?;
    }
    let (assessed_tx, assessed_rx) = tokio::sync::mpsc::channel(monitors::QUEUE_MAX);
    let monitor_stats = Arc::new(monitors::MonitorStats::default());
    tokio::spawn(monitors::run(
        sim_monitors,
        format!("http://{}", association.grpc_addr),
        assessed_rx,
        monitor_stats.clone(),
        stop_rx.clone(),
    ));
    let sim = tokio::spawn(sim::run(
        towns,
        clock.clone(),
        args.rate,
        stats.clone(),
        Some(assessed_tx),
        stop_rx,
    ));
    Ok(Federation {
        nats,
        nats_version,
        provider,
        association,
        nodes,
        clock,
        stats,
        monitor_stats,
        stop_sim,
        sim,
        dashboard,
        portal: portal.is_some(),
    })
}

/// `nodes.tsv` in the state directory: code, name, gRPC endpoint of every node.
fn write_node_list(root: &Path, nodes: &[DevNode]) -> anyhow::Result<()> {
    let mut text = String::from("code\tname\tgrpc\n");
    for node in nodes {
        text.push_str(&format!(
            "{}\t{}\thttp://{}\n",
            node.member.code,
            node.member.name,
            node.running.grpc_addr()
        ));
    }
    let path = root.join("nodes.tsv");
    std::fs::write(&path, text).with_context(|| format!("failed to write {}", path.display()))
}

impl Federation {
    fn print(&self, args: &DevArgs, root: &Path, temporary: bool) {
        let pid = self
            .nats
            .pid()
            .map_or_else(String::new, |pid| format!(", pid {pid}"));
        println!(
            "nats: {} (nats-server {}{pid}, JetStream store in {})",
            self.nats.url(),
            self.nats_version,
            self.nats.store_dir().join("store").display()
        );
        println!(
            "association: http://{} (gRPC with reflection, and gRPC-Web; database {})",
            self.association.grpc_addr, args.db
        );
        println!(
            "sign in: {} (development OpenID provider; any login name is a resident, and \
             moderator, official, coordinator, administrator are demo officials)",
            self.provider.issuer()
        );
        if let Some(node) = self.nodes.first() {
            println!(
                "  an ID token for {}: node {}/sign-in.mjs --issuer {} --client-id {} \
                 --redirect-uri {} --login olena",
                node.member.code,
                oidc_process::scripts_dir().display(),
                self.provider.issuer(),
                node_client_id(&node.member.code),
                oidc_process::REDIRECT_URI
            );
            println!(
                "  then send it to the node as `authorization: Bearer <id_token>`, e.g. \
                 grpcurl -plaintext -H \"authorization: Bearer $TOKEN\" {} vidkryto.node.v1.NodeService/ListPetitions",
                node.running.grpc_addr()
            );
            println!(
                "  or sign in in a browser at a node's own sign-in, e.g. \
                 http://{}/auth/sign-in (a resident: any name; staff: {})",
                node.running.grpc_addr(),
                DEMO_STAFF.map(|(login, _)| login).join(", ")
            );
        }
        if let Some(node) = self.nodes.first().filter(|_| self.portal) {
            let addr = node.running.grpc_addr();
            println!(
                "portal: every node serves its hromada's pages at its address, e.g. http://{addr}/ \
                 ({}); sign in there as a resident with any name (e.g. olena), or as staff: \
                 moderator (moderation queue), official (answers), coordinator, administrator, \
                 then open http://{addr}/#/staff; check a receipt at http://{addr}/#/receipt",
                node.member.name
            );
        } else if !self.nodes.is_empty() {
            println!("portal: not built (deploy/local/setup.sh builds it)");
        }
        if self.dashboard {
            println!("dashboard: http://{}/", self.association.grpc_addr);
        } else {
            println!("dashboard: not built (deploy/local/setup.sh builds it)");
        }
        for node in self.nodes.iter().take(NODES_LISTED_MAX) {
            println!(
                "node {} {}: http://{}",
                node.member.code,
                node.member.name,
                node.running.grpc_addr()
            );
        }
        if self.nodes.len() > NODES_LISTED_MAX {
            println!(
                "nodes: {} more on 127.0.0.1 (all {} listed in {})",
                self.nodes.len() - NODES_LISTED_MAX,
                self.nodes.len(),
                root.join("nodes.tsv").display()
            );
        }
        if args.rate > 0.0 {
            let catch_up = self.clock.catching_up_for();
            let time = if catch_up.is_zero() {
                "in real time".to_owned()
            } else {
                format!(
                    "replaying {} days of history at {}x for about {} min, then in real time",
                    args.history_days,
                    args.speed,
                    catch_up.as_secs().div_ceil(60)
                )
            };
            println!(
                "activity: {} commands/s over {} hromadas by population, {time}",
                args.rate,
                self.nodes.len()
            );
        }
        let kept = if temporary {
            "removed on exit, with the database"
        } else {
            "kept on exit, with the database"
        };
        println!("state: {} ({kept})", root.display());
        println!("running; Ctrl-C stops everything");
    }

    fn status(&self) -> String {
        let progress = self.association.progress();
        let progress = progress.borrow();
        format!(
            "status: simulated {}; commands: {}; association verified {} events; monitors' \
             assessments: {} recorded, {} refused",
            domain::kyiv_date(self.clock.now()),
            self.stats.line(),
            progress.events,
            self.monitor_stats
                .recorded
                .load(std::sync::atomic::Ordering::Relaxed),
            self.monitor_stats
                .refused
                .load(std::sync::atomic::Ordering::Relaxed),
        )
    }

    /// Stops the activity, then the nodes (relays flush to NATS), the association, NATS.
    async fn shutdown(self) {
        self.stop_sim.send_replace(true);
        let _ = self.sim.await;
        futures_util::stream::iter(self.nodes)
            .for_each_concurrent(NODE_STARTS_AT_ONCE, |node| async move {
                let code = node.member.code;
                if tokio::time::timeout(NODE_STOP_TIMEOUT, node.running.shutdown())
                    .await
                    .is_err()
                {
                    tracing::warn!(municipality = %code, "node did not stop in time");
                }
            })
            .await;
        self.association.shutdown().await;
        self.provider.stop().await;
        let mut nats = self.nats;
        if let Err(e) = nats.stop().await {
            tracing::warn!(error = %e, "failed to stop nats-server");
        }
    }
}

/// Runs `vidkryto dev` until `signal()` resolves (Ctrl-C or SIGTERM, as the caller decides),
/// then shuts down in order; a second `signal()` during the shutdown stops at once (exit code
/// 130). `signal` must install its handlers when called, not when first polled: whoever reads
/// the printed addresses may signal at once.
pub async fn run<S, F>(args: DevArgs, signal: S) -> anyhow::Result<ExitCode>
where
    S: Fn() -> F,
    F: Future<Output = ()>,
{
    let members = members(&args, &Reference::load())?;
    check_db_name(&args.db)?;
    check_open_files(members.len())?;
    let (root, temp) = state_dir(args.dir.as_deref())?;
    eprintln!(
        "starting a local federation of {} node(s) in {}",
        members.len(),
        root.display()
    );
    let federation = match start(&args, &root, members).await {
        Ok(federation) => federation,
        Err(e) => {
            if temp.is_some() {
                // Best effort: the error that matters is the one being returned.
                let _ = drop_database(&args.db).await;
            }
            return Err(e);
        }
    };
    // Listen before printing the addresses: whoever reads them may signal at once.
    let first_signal = signal();
    tokio::pin!(first_signal);
    federation.print(&args, &root, temp.is_some());

    let mut status = tokio::time::interval(STATUS_EVERY);
    status.tick().await;
    loop {
        tokio::select! {
            () = &mut first_signal => break,
            _ = status.tick() => println!("{}", federation.status()),
        }
    }
    eprintln!("shutting down: activity, nodes, association, NATS");
    let final_status = federation.status();
    tokio::select! {
        () = federation.shutdown() => {}
        () = signal() => {
            eprintln!("second signal: stopping at once");
            return Ok(ExitCode::from(130));
        }
    }
    println!("{final_status}");
    if let Some(temp) = temp {
        drop_database(&args.db).await?;
        temp.close()
            .with_context(|| format!("failed to remove {}", root.display()))?;
    }
    eprintln!("stopped");
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use clap::Parser as _;

    use super::*;

    /// `vidkryto dev …` as the binary parses it.
    #[derive(Debug, clap::Parser)]
    #[command(name = "vidkryto")]
    struct Cli {
        #[command(subcommand)]
        command: Command,
    }

    #[derive(Debug, clap::Subcommand)]
    enum Command {
        Dev(DevArgs),
    }

    fn args(extra: &[&str]) -> DevArgs {
        let mut argv = vec!["vidkryto", "dev"];
        argv.extend_from_slice(extra);
        let Command::Dev(args) = Cli::try_parse_from(argv).expect("arguments parse").command;
        args
    }

    #[test]
    fn the_most_populous_hromadas_come_first_with_kyiv_at_the_head() {
        let reference = Reference::load();
        let five = members(&args(&[]), &reference).unwrap();
        assert_eq!(five.len(), 5);
        assert_eq!(five[0].code.as_str(), reference::KYIV);
        assert!(five.windows(2).all(|w| w[0].population >= w[1].population));
        let all = members(&args(&["--nodes", "1470"]), &reference).unwrap();
        assert_eq!(all.len(), 1_470);
        let mut codes: Vec<_> = all.iter().map(|m| m.code).collect();
        codes.sort();
        codes.dedup();
        assert_eq!(codes.len(), 1_470, "each hromada once");
    }

    #[test]
    fn named_hromadas_are_checked_against_the_reference_data() {
        let reference = Reference::load();
        let two = members(
            &args(&[
                "--municipalities",
                "UA05020030000031457,UA74020010000010449,UA05020030000031457",
            ]),
            &reference,
        )
        .unwrap();
        assert_eq!(two.len(), 2);
        assert!(members(&args(&["--municipalities", "UA1"]), &reference).is_err());
    }

    #[test]
    fn bad_options_are_refused_before_anything_starts() {
        for bad in [
            vec!["vidkryto", "dev", "--nodes", "0"],
            vec!["vidkryto", "dev", "--nodes", "1471"],
            vec!["vidkryto", "dev", "--rate", "-1"],
            vec!["vidkryto", "dev", "--rate", "NaN"],
            vec![
                "vidkryto",
                "dev",
                "--nodes",
                "3",
                "--municipalities",
                "UA05020030000031457",
            ],
        ] {
            let result = Cli::try_parse_from(bad.clone());
            assert!(result.is_err(), "{bad:?} was accepted");
        }
        assert!(check_db_name(DEFAULT_DB).is_ok());
        assert!(check_db_name("postgres://postgres@127.0.0.1:5432/vidkryto_dev_test").is_ok());
        assert!(check_db_name("postgres://postgres@127.0.0.1:5432/vidkryto_association").is_err());
        assert!(check_db_name("not a url").is_err());
    }

    #[test]
    fn a_non_empty_state_directory_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("something"), "kept").unwrap();
        assert!(state_dir(Some(dir.path())).is_err());
        let fresh = dir.path().join("new");
        let (root, temp) = state_dir(Some(&fresh)).unwrap();
        assert_eq!(root, fresh);
        assert!(temp.is_none() && fresh.is_dir());
    }

    #[test]
    fn the_open_files_limit_is_read_from_proc() {
        let limits = "Limit                     Soft Limit           Hard Limit           Units\n\
                      Max processes             96365                96365                processes\n\
                      Max open files            1024                 524288               files\n";
        assert_eq!(parse_open_files_limit(limits), Some(1024));
        assert_eq!(
            parse_open_files_limit("Max open files unlimited unlimited files"),
            None
        );
        assert_eq!(parse_open_files_limit(""), None);
        // On this process: either unknown, or enough for the default five nodes.
        if let Some(limit) = open_files_limit() {
            assert!(limit > 0);
        }
        assert!(check_open_files(5).is_ok() || open_files_limit().is_some_and(|l| l < 336));
    }

    #[test]
    fn dev_thresholds_scale_with_population() {
        assert_eq!(dev_statute(2_952_301).signature_threshold, 295);
        assert_eq!(dev_statute(12_000).signature_threshold, 5);
        assert_eq!(dev_statute(40_000_000).signature_threshold, 300);
    }
}
