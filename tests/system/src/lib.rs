//! Support for the system tests: municipality nodes and an association started in-process on
//! fresh directories, databases and free ports, talking to real `nats-server` processes; and
//! small gRPC helpers for scripted civic activity.

pub mod hub;
pub mod pg_cluster;
pub mod process;

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use association::ingest::Topology;
use association::server::{AssociationSettings, RunningAssociation, ServingLimits, WITNESS_NAME};
use event_store_core::checkpoint::NoteSigner;
use event_store_core::{MunicipalityCode, Timestamp};
use node::RunningNode;
use node::auth::AuthedNodeClient;
use node::config::{InitOptions, NodeSettings, Overrides, StatuteSettings};
use node::executor::Clock;
use proto::audit::v1::audit_service_client::AuditServiceClient;
use proto::federation::v1::federation_service_client::FederationServiceClient;
use proto::national::v1::national_service_client::NationalServiceClient;
use proto::node::v1 as nodepb;
use testkit::PgDatabase;
use tonic::transport::Channel;

/// Vinnytsia city hromada.
pub const VINNYTSIA: &str = "UA05020030000031457";
/// Koriukivka city hromada (Chernihiv oblast).
pub const KORIUKIVKA: &str = "UA74020010000010449";
/// Kyiv, the capital (a municipality of its own).
pub const KYIV: &str = "UA80000000000093317";

/// The repository's root.
pub fn repo() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Debian's Chromium for the browser tests: `VIDKRYTO_CHROMIUM` (set by setup.sh), else
/// `chromium` on the PATH.
pub fn chromium() -> Option<std::path::PathBuf> {
    if let Some(path) = std::env::var_os("VIDKRYTO_CHROMIUM").map(std::path::PathBuf::from)
        && path.is_file()
    {
        return Some(path);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("chromium"))
        .find(|candidate| candidate.is_file())
}

pub fn code(text: &str) -> MunicipalityCode {
    MunicipalityCode::parse(text).expect("a valid test code")
}

/// A clock the test moves.
#[derive(Clone, Debug)]
pub struct TestClock(Arc<AtomicI64>);

impl Default for TestClock {
    fn default() -> Self {
        Self(Arc::new(AtomicI64::new(Timestamp::now().0)))
    }
}

impl TestClock {
    pub fn advance_days(&self, days: i64) {
        self.0.fetch_add(days * 86_400_000_000, Ordering::SeqCst);
    }

    pub fn advance_hours(&self, hours: i64) {
        self.0.fetch_add(hours * 3_600_000_000, Ordering::SeqCst);
    }

    pub fn now(&self) -> Timestamp {
        Timestamp(self.0.load(Ordering::SeqCst))
    }

    pub fn clock(&self) -> Clock {
        let t = self.0.clone();
        Arc::new(move || Timestamp(t.load(Ordering::SeqCst)))
    }
}

/// A municipality's node, in-process, with its own directory and a test clock.
#[derive(Debug)]
pub struct TestNode {
    pub code: MunicipalityCode,
    pub dir: tempfile::TempDir,
    pub running: Option<RunningNode>,
    pub clock: TestClock,
    /// The API token of the machine client `tests`, which has every permission.
    pub token: String,
    /// The address it listens on (`127.0.0.1:0` unless given).
    pub listen: String,
    /// Whether it reads the system's clock rather than `clock` (sign-in checks token times).
    pub real_clock: bool,
}

/// What a test node is started with beyond its statute.
#[derive(Clone, Debug, Default)]
pub struct NodeExtras {
    /// The address to listen on (a port the test reserved); none: any free port.
    pub listen: Option<String>,
    /// Top-level settings written at the start of `node.toml` (e.g. `portal_dir = "…"`).
    pub top_level: String,
    /// Tables appended to `node.toml` (e.g. `[oidc]`).
    pub tables: String,
    /// Run on the system's clock, not the test's.
    pub real_clock: bool,
    /// The statute's answer term in working days; none: the law's 10.
    pub answer_term_days: Option<u16>,
    /// Start the test clock this many days in the past (the node's log never goes back in
    /// time, so this is the only way to give its first events an earlier date).
    pub days_ago: i64,
}

impl TestNode {
    /// Creates and starts a node relaying to `nats_url` with the given signature threshold.
    pub async fn start(code_text: &str, threshold: u32, nats_url: &str) -> Self {
        Self::start_with(code_text, threshold, nats_url, NodeExtras::default()).await
    }

    /// Creates and starts a node as [`start`](Self::start) does, with `extras` in its config.
    pub async fn start_with(
        code_text: &str,
        threshold: u32,
        nats_url: &str,
        extras: NodeExtras,
    ) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let options = InitOptions {
            municipality: code(code_text),
            statute: StatuteSettings {
                signature_threshold: threshold,
                collection_period_days: 60,
                answer_deadline_working_days: extras.answer_term_days.unwrap_or(10),
                rule_version: 1,
            },
            listen: "127.0.0.1:0".into(),
            nats_url: nats_url.to_owned(),
            storage: "node.sqlite".into(),
        };
        node::config::init(dir.path(), &options).expect("node init");
        let config = dir.path().join(node::config::CONFIG_FILE);
        let text = std::fs::read_to_string(&config).expect("node.toml");
        std::fs::write(
            &config,
            format!("{}\n{text}\n{}\n", extras.top_level, extras.tables),
        )
        .expect("node.toml written");
        let token = node::auth::clients::add(
            dir.path(),
            "tests",
            node::auth::Permission::ALL.to_vec(),
            node::auth::clients::Credential::Token,
        )
        .expect("a client")
        .expect("its token");
        let mut node = Self {
            code: code(code_text),
            dir,
            running: None,
            clock: {
                let clock = TestClock::default();
                clock.advance_days(-extras.days_ago);
                clock
            },
            token,
            listen: extras.listen.unwrap_or_else(|| "127.0.0.1:0".into()),
            real_clock: extras.real_clock,
        };
        node.boot().await;
        node
    }

    pub fn settings(&self) -> NodeSettings {
        NodeSettings::load(
            self.dir.path(),
            Overrides {
                listen: Some(self.listen.clone()),
                ..Overrides::default()
            },
        )
        .expect("node settings")
    }

    pub async fn boot(&mut self) {
        let clock = if self.real_clock {
            node::executor::system_clock()
        } else {
            self.clock.clock()
        };
        let running = node::start_with_clock(self.settings(), clock)
            .await
            .expect("node start");
        self.running = Some(running);
    }

    pub async fn stop(&mut self) {
        if let Some(running) = self.running.take() {
            running.shutdown().await;
        }
    }

    /// The node's signing key (the test plays a forger with it).
    pub fn signer(&self) -> NoteSigner {
        self.settings().signer
    }

    /// The node's verifier key text, as `node init` printed it.
    pub fn vkey(&self) -> String {
        self.signer().verifier().to_text()
    }

    pub fn url(&self) -> String {
        format!(
            "http://{}",
            self.running.as_ref().expect("running").grpc_addr()
        )
    }

    /// A client holding the `tests` token.
    pub async fn client(&self) -> AuthedNodeClient {
        node::auth::connect(&self.url(), &self.token, None)
            .await
            .expect("node client")
    }

    /// Events in the node's log now.
    pub fn log_size(&self) -> u64 {
        *self.running.as_ref().expect("running").log_size().borrow()
    }
}

/// The association, in-process, on a fresh database.
#[derive(Debug)]
pub struct TestAssociation {
    pub db: Option<PgDatabase>,
    pub dir: tempfile::TempDir,
    pub running: Option<RunningAssociation>,
    pub nats_url: String,
    pub admin_token: String,
    /// Where the nodes' streams live (default: the association's own JetStream).
    pub topology: Topology,
    /// The dashboard's built assets it serves (default: none).
    pub dashboard_dir: Option<std::path::PathBuf>,
    /// What clients may hold of its server (default: production's bounds).
    pub limits: ServingLimits,
    /// The certificate its listener serves TLS with, and the CA that issued it (default:
    /// none, plain text).
    pub tls: Option<TestTls>,
}

impl TestAssociation {
    pub async fn start(nats_url: &str) -> Self {
        Self::start_with(nats_url, Topology::default()).await
    }

    /// Starts an association that finds the nodes' streams where `topology` says.
    pub async fn start_with(nats_url: &str, topology: Topology) -> Self {
        Self::start_configured(nats_url, topology, None, ServingLimits::default(), None).await
    }

    /// Starts an association that also serves the dashboard built in `dashboard_dir`.
    pub async fn start_serving_dashboard(nats_url: &str, dashboard_dir: &std::path::Path) -> Self {
        Self::start_configured(
            nats_url,
            Topology::default(),
            Some(dashboard_dir.to_owned()),
            ServingLimits::default(),
            None,
        )
        .await
    }

    /// Starts an association whose server holds to `limits` (tests shorten its timeouts).
    pub async fn start_with_limits(nats_url: &str, limits: ServingLimits) -> Self {
        Self::start_configured(nats_url, Topology::default(), None, limits, None).await
    }

    /// Starts an association serving TLS with a certificate for `localhost` and `127.0.0.1`
    /// from a fresh test CA (its clients here trust that CA), and the files of
    /// `dashboard_dir` if given.
    pub async fn start_with_tls(nats_url: &str, dashboard_dir: Option<std::path::PathBuf>) -> Self {
        Self::start_configured(
            nats_url,
            Topology::default(),
            dashboard_dir,
            ServingLimits::default(),
            Some(TestTls::new()),
        )
        .await
    }

    async fn start_configured(
        nats_url: &str,
        topology: Topology,
        dashboard_dir: Option<std::path::PathBuf>,
        limits: ServingLimits,
        tls: Option<TestTls>,
    ) -> Self {
        let db = PgDatabase::create().await.expect("test database");
        let dir = tempfile::tempdir().expect("temp dir");
        association::server::init_dir(dir.path()).expect("association init");
        let admin_token =
            std::fs::read_to_string(dir.path().join(association::server::ADMIN_TOKEN_FILE))
                .expect("admin token")
                .trim()
                .to_owned();
        let mut association = Self {
            db: Some(db),
            dir,
            running: None,
            nats_url: nats_url.to_owned(),
            admin_token,
            topology,
            dashboard_dir,
            limits,
            tls,
        };
        association.boot().await;
        association
    }

    pub fn db_url(&self) -> String {
        self.db.as_ref().expect("database").url.clone()
    }

    pub fn settings(&self) -> AssociationSettings {
        let mut settings = AssociationSettings::from_dir(
            self.dir.path(),
            self.db_url(),
            self.nats_url.clone(),
            "127.0.0.1:0".parse().expect("address"),
        )
        .expect("association settings");
        settings.topology = self.topology.clone();
        settings.dashboard_dir = self.dashboard_dir.clone();
        // Tests export right after the ingest settles: state within half a second.
        settings.statement_interval = std::time::Duration::from_millis(500);
        settings.limits = self.limits;
        settings.tls = self.tls.as_ref().map(|tls| {
            association::tls::TlsIdentity::from_files(&tls.cert.cert_file, &tls.cert.key_file)
                .expect("the test TLS identity")
        });
        settings
    }

    pub async fn boot(&mut self) {
        let running = association::server::start(self.settings())
            .await
            .expect("association start");
        self.running = Some(running);
    }

    pub async fn stop(&mut self) {
        if let Some(running) = self.running.take() {
            running.shutdown().await;
        }
    }

    /// `http://127.0.0.1:<port>`, or `https://…` when it serves TLS.
    pub fn url(&self) -> String {
        format!(
            "{}://{}",
            if self.tls.is_some() { "https" } else { "http" },
            self.running.as_ref().expect("running").grpc_addr
        )
    }

    /// A channel to its gRPC server (over TLS, trusting the test CA, when it serves TLS).
    pub async fn channel(&self) -> Channel {
        let mut endpoint = tonic::transport::Endpoint::from_shared(self.url()).expect("a URL");
        if let Some(tls) = &self.tls {
            endpoint = endpoint
                .tls_config(tls.client_config())
                .expect("client TLS configuration");
        }
        endpoint.connect().await.expect("association channel")
    }

    pub fn witness(&self) -> NoteSigner {
        association::server::load_witness(
            &self.dir.path().join(association::server::WITNESS_KEY_FILE),
        )
        .expect("witness key")
    }

    pub async fn national(&self) -> NationalServiceClient<Channel> {
        NationalServiceClient::new(self.channel().await)
    }

    pub async fn federation(&self) -> FederationServiceClient<Channel> {
        FederationServiceClient::new(self.channel().await)
    }

    pub async fn audit(&self) -> AuditServiceClient<Channel> {
        AuditServiceClient::new(self.channel().await)
    }

    /// The national summary now.
    pub async fn summary(&self) -> proto::national::v1::Summary {
        self.national()
            .await
            .get_national_summary(proto::national::v1::GetNationalSummaryRequest {})
            .await
            .expect("national summary")
            .into_inner()
    }

    /// The projection digest now, through the audit API.
    pub async fn digest(&self) -> proto::audit::v1::ProjectionDigest {
        self.audit()
            .await
            .get_projection_digest(proto::audit::v1::GetProjectionDigestRequest {})
            .await
            .expect("projection digest")
            .into_inner()
    }

    /// An association with a node for each `(code, signature threshold)`, every one enrolled.
    pub async fn with_nodes<const N: usize>(
        nats_url: &str,
        nodes: [(&str, u32); N],
    ) -> (Self, [TestNode; N]) {
        let association = Self::start(nats_url).await;
        let mut started = Vec::with_capacity(N);
        for (code, threshold) in nodes {
            let node = TestNode::start(code, threshold, nats_url).await;
            association.enroll(&node).await;
            started.push(node);
        }
        let Ok(nodes) = started.try_into() else {
            unreachable!("one node per entry")
        };
        (association, nodes)
    }

    /// Waits until the association's latest signed statement covers the projection as it is
    /// now (it states at most every half second in tests); returns that statement.
    pub async fn wait_stated(&self) -> proto::audit::v1::Statement {
        let now = self.digest().await;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let latest = self
                .audit()
                .await
                .get_statement(proto::audit::v1::GetStatementRequest::default())
                .await;
            if let Ok(latest) = latest {
                let latest = latest.into_inner();
                if latest.digest == now.digest && latest.positions == now.positions {
                    return latest;
                }
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no statement of the current projection within 20 s"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Enrols a node through the admin gRPC method.
    pub async fn enroll(&self, node: &TestNode) {
        self.enroll_key(node.code, &node.vkey()).await;
    }

    /// Enrols `vkey` for `code` through the admin gRPC method (a hromada with no running node).
    pub async fn enroll_key(&self, code: MunicipalityCode, vkey: &str) {
        let mut request = tonic::Request::new(proto::federation::v1::EnrollRequest {
            code: code.to_string(),
            vkey: vkey.to_owned(),
        });
        request.metadata_mut().insert(
            "authorization",
            format!("Bearer {}", self.admin_token)
                .parse()
                .expect("metadata"),
        );
        self.federation()
            .await
            .enroll(request)
            .await
            .expect("enroll");
    }

    /// What the federation API says about `code` now.
    pub async fn node(&self, code: MunicipalityCode) -> proto::federation::v1::Node {
        self.federation()
            .await
            .get_node(proto::federation::v1::GetNodeRequest {
                code: code.to_string(),
            })
            .await
            .expect("get node")
            .into_inner()
    }

    /// The first page of `code`'s quarantine records (newest first, as the API serves them).
    pub async fn quarantine(
        &self,
        code: MunicipalityCode,
    ) -> Vec<proto::federation::v1::QuarantineRecord> {
        self.federation()
            .await
            .list_quarantine(proto::federation::v1::ListQuarantineRequest {
                page_size: 500,
                page_token: String::new(),
                code: code.to_string(),
            })
            .await
            .expect("list quarantine")
            .into_inner()
            .records
    }

    /// Checks that nothing, of any hromada, was quarantined.
    pub async fn assert_nothing_quarantined(&self) {
        let records = self
            .federation()
            .await
            .list_quarantine(proto::federation::v1::ListQuarantineRequest::default())
            .await
            .expect("list quarantine")
            .into_inner()
            .records;
        assert!(records.is_empty(), "{records:?}");
    }

    /// Waits until the association has verified `size` events of `code` and its national
    /// snapshot shows them.
    pub async fn wait_verified(&self, code: MunicipalityCode, size: u64, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        let mut national = self.national().await;
        loop {
            let m = national
                .get_municipality(proto::national::v1::GetMunicipalityRequest {
                    code: code.to_string(),
                })
                .await
                .expect("get municipality")
                .into_inner();
            let verified = m.provenance.map(|p| p.verified_size).unwrap_or(0);
            if verified >= size {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{code}: verified {verified} of {size} events after {timeout:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits, one after another, until the association has verified every event each of
    /// `nodes` has logged so far, allowing `timeout` for each.
    pub async fn wait_all(&self, nodes: &[&TestNode], timeout: Duration) {
        for node in nodes {
            self.wait_verified(node.code, node.log_size(), timeout)
                .await;
        }
    }

    pub async fn shutdown(mut self) {
        self.stop().await;
        if let Some(db) = self.db.take() {
            let _ = db.drop_db().await;
        }
    }
}

/// Renders a template of `deploy/` (e.g. `nats/leaf/leaf.conf.template`): every `{{KEY}}`
/// replaced by its value, as `deploy/nats/render.sh` does; panics on a key left unset.
/// Every node of `nodes` files a petition and signs it, one signature per command with
/// `pause` between them, until `stop`; `signed` counts the acknowledged signatures. The load
/// of the failover and hub-loss tests.
pub async fn signing_load(
    nodes: &[TestNode],
    signed: Arc<std::sync::atomic::AtomicU64>,
    stop: Arc<std::sync::atomic::AtomicBool>,
    pause: Duration,
) -> Vec<tokio::task::JoinHandle<()>> {
    use std::sync::atomic::Ordering;
    let mut tasks = Vec::new();
    for node in nodes {
        let mut civic = Civic::of(node).await;
        let (signed, stop) = (signed.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            let petition = civic.petition("Longer library hours").await;
            let mut i = 0;
            while !stop.load(Ordering::SeqCst) {
                civic.sign(&petition, i..i + 1).await;
                signed.fetch_add(1, Ordering::SeqCst);
                i += 1;
                tokio::time::sleep(pause).await;
            }
        }));
    }
    tasks
}

pub fn render_deploy_template(path: &str, values: &[(&str, &str)]) -> String {
    let full = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../deploy")
        .join(path);
    let mut text = std::fs::read_to_string(&full)
        .unwrap_or_else(|e| panic!("failed to read {}: {e}", full.display()));
    for (key, value) in values {
        text = text.replace(&format!("{{{{{key}}}}}"), value);
    }
    if let Some(at) = text.find("{{") {
        let rest: String = text[at..].chars().take(40).collect();
        panic!("{path}: unset placeholder at {rest:?}");
    }
    text
}

/// The witness name the association cosigns with.
pub fn witness_name() -> &'static str {
    WITNESS_NAME
}

/// Copies the directory tree `from` to `to` (an archive a test then tampers with).
pub fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).expect("a directory");
    for entry in std::fs::read_dir(from).expect("readable") {
        let entry = entry.expect("an entry");
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).expect("copied");
        }
    }
}

pub fn request_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// Scripted civic activity through a node's gRPC API.
#[derive(Debug, Clone)]
pub struct Civic {
    pub client: AuthedNodeClient,
}

impl Civic {
    pub async fn of(node: &TestNode) -> Self {
        Self {
            client: node.client().await,
        }
    }

    /// Files a petition; returns its id.
    pub async fn file(&mut self, title: &str, category: &str) -> String {
        let text = format!("{title}: the text of the petition.");
        self.file_text(title, &text, category).await
    }

    /// Files a petition with its text; returns its id.
    pub async fn file_text(&mut self, title: &str, text: &str, category: &str) -> String {
        self.client
            .file_petition(nodepb::FilePetitionRequest {
                request_id: request_id(),
                author_subject: format!("author of {title}"),
                title: title.to_owned(),
                text: text.to_owned(),
                category: category.to_owned(),
            })
            .await
            .expect("file petition")
            .into_inner()
            .stream_id
    }

    /// Publishes a filed petition.
    pub async fn publish(&mut self, petition: &str) {
        self.client
            .publish_petition(nodepb::PublishPetitionRequest {
                request_id: request_id(),
                petition_id: petition.to_owned(),
            })
            .await
            .expect("publish petition");
    }

    /// Files and publishes a petition; returns its id.
    pub async fn petition(&mut self, title: &str) -> String {
        let id = self.file(title, "transport").await;
        self.publish(&id).await;
        id
    }

    /// Files a petition that moderation rejects; returns its id.
    pub async fn file_and_reject(&mut self, title: &str) -> String {
        let id = self.file(title, "other").await;
        self.client
            .reject_petition(nodepb::RejectPetitionRequest {
                request_id: request_id(),
                petition_id: id.clone(),
                reason: "outside the hromada's powers".into(),
            })
            .await
            .expect("reject petition");
        id
    }

    pub async fn sign(&mut self, petition: &str, signers: std::ops::Range<u32>) {
        for i in signers {
            self.client
                .sign_petition(nodepb::SignPetitionRequest {
                    request_id: request_id(),
                    petition_id: petition.to_owned(),
                    signer_subject: format!("signer {i}"),
                })
                .await
                .expect("sign petition");
        }
    }

    pub async fn consider(&mut self, petition: &str) {
        self.client
            .start_consideration(nodepb::StartConsiderationRequest {
                request_id: request_id(),
                petition_id: petition.to_owned(),
            })
            .await
            .expect("start consideration");
    }

    pub async fn answer(&mut self, petition: &str, decision: nodepb::AnswerDecision) {
        self.client
            .answer_petition(nodepb::AnswerPetitionRequest {
                request_id: request_id(),
                petition_id: petition.to_owned(),
                decision: decision as i32,
                response: "The council considered the petition.".into(),
                responder_role: "mayor".into(),
            })
            .await
            .expect("answer petition");
    }

    /// Announces a dialogue open from an hour ago for `days` days; returns its id.
    pub async fn dialogue(
        &mut self,
        kind: nodepb::DialogueKind,
        clock: &TestClock,
        days: i64,
    ) -> String {
        let now = clock.now();
        let ts = |t: Timestamp| prost_types::Timestamp {
            seconds: t.as_secs(),
            nanos: 0,
        };
        self.client
            .announce_dialogue(nodepb::AnnounceDialogueRequest {
                request_id: request_id(),
                kind: kind as i32,
                topic: "The hromada's budget for 2027".into(),
                organiser: "Executive committee".into(),
                opens_at: Some(ts(Timestamp(now.0 - 3_600_000_000))),
                closes_at: Some(ts(Timestamp(now.0 + days * 86_400_000_000))),
            })
            .await
            .expect("announce dialogue")
            .into_inner()
            .stream_id
    }

    /// Submits a contribution; returns its id (the node uses the request id).
    pub async fn contribute(&mut self, dialogue: &str, author: &str) -> String {
        let id = request_id();
        self.client
            .submit_contribution(nodepb::SubmitContributionRequest {
                request_id: id.clone(),
                dialogue_id: dialogue.to_owned(),
                author_subject: author.to_owned(),
                text: "More lighting on the school route.".into(),
            })
            .await
            .expect("submit contribution");
        id
    }

    pub async fn answer_contribution(&mut self, dialogue: &str, contribution: &str) {
        self.client
            .answer_contribution(nodepb::AnswerContributionRequest {
                request_id: request_id(),
                dialogue_id: dialogue.to_owned(),
                contribution_id: contribution.to_owned(),
                response: nodepb::ContributionResponse::Accepted as i32,
                reason: "Included in the plan.".into(),
            })
            .await
            .expect("answer contribution");
    }

    pub async fn close_dialogue(&mut self, dialogue: &str, attendance: u32) {
        self.client
            .close_dialogue(nodepb::CloseDialogueRequest {
                request_id: request_id(),
                dialogue_id: dialogue.to_owned(),
                attendance_count: attendance,
                participating_organisations: vec!["Youth council".into()],
            })
            .await
            .expect("close dialogue");
    }

    pub async fn publish_outcome(&mut self, dialogue: &str) {
        self.client
            .publish_outcome(nodepb::PublishOutcomeRequest {
                request_id: request_id(),
                dialogue_id: dialogue.to_owned(),
                report: "The budget adds school-route lighting.".into(),
                council_decision_ref: "No. 12/2026".into(),
            })
            .await
            .expect("publish outcome");
    }

    /// Adopts a plan for `start..end` (yyyy-mm-dd); returns its id.
    pub async fn plan(&mut self, start: &str, end: &str) -> String {
        self.client
            .adopt_plan(nodepb::AdoptPlanRequest {
                request_id: request_id(),
                title: "OGP Local action plan".into(),
                period_start: start.into(),
                period_end: end.into(),
                council_decision: "No. 7/2026".into(),
            })
            .await
            .expect("adopt plan")
            .into_inner()
            .stream_id
    }

    /// Adds a commitment; returns its id (the request id).
    pub async fn commitment(&mut self, plan: &str, start: &str, end: &str) -> String {
        let id = request_id();
        self.client
            .add_commitment(nodepb::AddCommitmentRequest {
                request_id: id.clone(),
                plan_id: plan.to_owned(),
                title: "Open budget".into(),
                description: "Publish the budget as open data.".into(),
                lead_institution: "Finance department".into(),
                values: vec![nodepb::OgpValue::AccessToInformation as i32],
                start: start.into(),
                end: end.into(),
            })
            .await
            .expect("add commitment");
        id
    }

    /// Adds a milestone; returns its id (the request id).
    pub async fn milestone(&mut self, plan: &str, commitment: &str, due: &str) -> String {
        let id = request_id();
        self.client
            .add_milestone(nodepb::AddMilestoneRequest {
                request_id: id.clone(),
                plan_id: plan.to_owned(),
                commitment_id: commitment.to_owned(),
                title: "Data portal".into(),
                due: due.into(),
            })
            .await
            .expect("add milestone");
        id
    }

    pub async fn progress(
        &mut self,
        plan: &str,
        milestone: &str,
        status: nodepb::ImplementationStatus,
    ) {
        self.client
            .report_progress(nodepb::ReportProgressRequest {
                request_id: request_id(),
                plan_id: plan.to_owned(),
                milestone_id: milestone.to_owned(),
                status: status as i32,
                evidence_link: "https://example.gov.ua/evidence".into(),
            })
            .await
            .expect("report progress");
    }

    pub async fn assess(
        &mut self,
        plan: &str,
        commitment: &str,
        completion: nodepb::ImplementationStatus,
        opened: nodepb::OpenedGovernment,
    ) {
        self.client
            .assess_commitment(nodepb::AssessCommitmentRequest {
                request_id: request_id(),
                plan_id: plan.to_owned(),
                commitment_id: commitment.to_owned(),
                completion: completion as i32,
                opened_government: opened as i32,
            })
            .await
            .expect("assess commitment");
    }
}

/// A hromada's log written by the test itself, straight onto NATS as its relay would publish
/// it: the test holds the signing key (enrol `signer().verifier()`), so it can write logs no
/// node would (the largest events, no checkpoint at all, hundreds of thousands of events).
#[derive(Debug)]
pub struct SyntheticLog {
    pub code: MunicipalityCode,
    signer: NoteSigner,
    stream_id: event_store_core::StreamId,
    leaves: Vec<event_store_core::Hash>,
}

impl SyntheticLog {
    pub fn new(code: MunicipalityCode, seed: u8) -> Self {
        let origin = event_store_core::checkpoint::origin_for(&code);
        Self {
            code,
            signer: NoteSigner::from_seed(&origin, [seed; 32]).expect("a signer"),
            stream_id: event_store_core::StreamId(uuid::Uuid::now_v7()),
            leaves: Vec::new(),
        }
    }

    pub fn signer(&self) -> &NoteSigner {
        &self.signer
    }

    /// Events in the log so far.
    pub fn size(&self) -> u64 {
        self.leaves.len() as u64
    }

    /// Appends `count` events with payloads of `payload_len` bytes and publishes them, with a
    /// signed checkpoint after every `checkpoint_every` of them (0: none), at most 256
    /// acknowledgements outstanding.
    pub async fn publish(
        &mut self,
        js: &async_nats::jetstream::Context,
        count: u64,
        payload_len: usize,
        checkpoint_every: u64,
    ) {
        let mut acks = std::collections::VecDeque::new();
        for _ in 0..count {
            let seq = self.size() + 1;
            let bytes = event_store_core::Envelope {
                event_type: event_store_core::EventTypeCode(1),
                schema_version: event_store_core::SchemaVersion(1),
                municipality: self.code,
                seq: event_store_core::LogSeq(seq),
                stream_id: self.stream_id,
                stream_version: event_store_core::StreamVersion(seq),
                event_id: event_store_core::EventId::new_v7(),
                recorded_at: Timestamp::now(),
                payload: vec![(seq % 251) as u8; payload_len],
            }
            .encode()
            .expect("an envelope");
            self.leaves
                .push(event_store_core::merkle::leaf_hash(&bytes));
            let subject = wire::event_subject(&self.code);
            acks.push_back(js.publish(subject, bytes.into()).await.expect("publish"));
            if checkpoint_every > 0 && seq.is_multiple_of(checkpoint_every) {
                acks.push_back(self.publish_checkpoint_async(js).await);
            }
            if acks.len() >= 256 {
                acks.pop_front()
                    .expect("an ack")
                    .await
                    .expect("acknowledged");
            }
        }
        for ack in acks {
            ack.await.expect("acknowledged");
        }
    }

    /// Publishes a checkpoint over the whole log so far.
    pub async fn publish_checkpoint(&self, js: &async_nats::jetstream::Context) {
        self.publish_checkpoint_async(js)
            .await
            .await
            .expect("acknowledged");
    }

    async fn publish_checkpoint_async(
        &self,
        js: &async_nats::jetstream::Context,
    ) -> async_nats::jetstream::context::PublishAckFuture {
        let note = self
            .signer
            .sign(event_store_core::checkpoint::Checkpoint {
                origin: event_store_core::checkpoint::origin_for(&self.code),
                size: self.size(),
                root: event_store_core::merkle::root_from_leaves(&self.leaves),
            })
            .to_note();
        let subject = wire::checkpoint_subject(&self.code);
        js.publish(subject, note.into_bytes().into())
            .await
            .expect("publish")
    }
}

/// An association's TLS identity for tests: a fresh CA and a server certificate it issued for
/// `localhost` and `127.0.0.1`, its key readable by its owner only (as the association
/// requires of every secret).
#[derive(Debug)]
pub struct TestTls {
    pub ca: testkit::TestCa,
    pub cert: testkit::ServerCert,
}

impl TestTls {
    pub fn new() -> Self {
        let ca = testkit::TestCa::new("vidkryto test association CA").expect("a test CA");
        let cert = ca
            .server_cert("association", &["localhost", "127.0.0.1"])
            .expect("a server certificate");
        owner_only(&cert.key_file);
        Self { ca, cert }
    }

    /// The CA's certificate (PEM), what clients trust.
    pub fn ca_file(&self) -> std::path::PathBuf {
        self.ca.ca_file()
    }

    /// A gRPC client's TLS configuration trusting the test CA only.
    pub fn client_config(&self) -> tonic::transport::ClientTlsConfig {
        let pem = std::fs::read(self.ca_file()).expect("the CA certificate");
        tonic::transport::ClientTlsConfig::new()
            .ca_certificate(tonic::transport::Certificate::from_pem(pem))
    }
}

impl Default for TestTls {
    fn default() -> Self {
        Self::new()
    }
}

/// Makes `path` readable and writable by its owner only (`chmod 600`).
pub fn owner_only(path: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .unwrap_or_else(|e| panic!("chmod 600 {}: {e}", path.display()));
}
