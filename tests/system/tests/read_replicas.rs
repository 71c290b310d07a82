//! Read replicas (`vidkryto association serve`): two processes that serve the national,
//! federation and audit APIs and open data from the association's database, beside the
//! instance that ingests. Their live update streams follow the ingest's commits; their
//! figures, digest and witness key are the ingesting instance's; they hold no secret and
//! refuse admin calls; and they serve on while the ingesting instance is gone.

use std::time::Duration;

use futures_util::StreamExt as _;
use proto::federation::v1 as fedpb;
use proto::national::v1 as natpb;
use system_tests::process::{AssociationProcess, http_get};
use system_tests::{Civic, TestAssociation, VINNYTSIA};
use testkit::NatsServer;

/// `vidkryto association serve` on the database of `association`, with a directory holding
/// only its public witness key.
fn serve(association: &TestAssociation, dir: &std::path::Path) -> AssociationProcess {
    AssociationProcess::serve(env!("CARGO_BIN_EXE_vidkryto-under-test"), association, dir)
}

/// Waits up to 10 s until the replica at `url` shows Vinnytsia's node with `status`.
async fn wait_status(url: &str, status: fedpb::NodeStatus) {
    let mut federation =
        fedpb::federation_service_client::FederationServiceClient::connect(url.to_owned())
            .await
            .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let node = federation
            .get_node(fedpb::GetNodeRequest {
                code: VINNYTSIA.into(),
            })
            .await
            .unwrap()
            .into_inner();
        if node.status() == status {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{:?} on a replica, not {status:?}",
            node.status()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A PostgreSQL role that may log in and read the association's tables, nothing else.
struct ReadOnlyRole {
    name: String,
    /// The association's database URL with this role as its user.
    url: String,
    admin: sqlx::PgPool,
}

impl ReadOnlyRole {
    async fn create(association: &TestAssociation) -> Self {
        let name = format!("vidkryto_reader_{}", std::process::id());
        let admin = sqlx::PgPool::connect(&association.db_url()).await.unwrap();
        for statement in [
            format!("DROP ROLE IF EXISTS {name}"),
            format!("CREATE ROLE {name} LOGIN"),
            format!("GRANT USAGE ON SCHEMA public TO {name}"),
            format!("GRANT SELECT ON ALL TABLES IN SCHEMA public TO {name}"),
        ] {
            sqlx::query(sqlx::AssertSqlSafe(statement))
                .execute(&admin)
                .await
                .unwrap();
        }
        let db_url = association.db_url();
        let (scheme, rest) = db_url.split_once("://").unwrap();
        let host_and_db = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
        let url = format!("{scheme}://{name}@{host_and_db}");
        // It can read, and cannot write.
        let as_reader = sqlx::PgPool::connect(&url).await.unwrap();
        sqlx::query("SELECT count(*) FROM fed_node")
            .execute(&as_reader)
            .await
            .unwrap();
        let write = sqlx::query("UPDATE ingest_position SET commits = commits + 1")
            .execute(&as_reader)
            .await
            .unwrap_err();
        assert!(write.to_string().contains("permission denied"), "{write}");
        as_reader.close().await;
        Self { name, url, admin }
    }

    async fn drop_role(self) {
        for statement in [
            format!("DROP OWNED BY {}", self.name),
            format!("DROP ROLE {}", self.name),
        ] {
            sqlx::query(sqlx::AssertSqlSafe(statement))
                .execute(&self.admin)
                .await
                .unwrap();
        }
    }
}

/// A replica's directory: the association's public witness key only, no secret.
fn public_dir(association: &TestAssociation) -> tempfile::TempDir {
    let public = tempfile::tempdir().unwrap();
    std::fs::copy(
        association
            .dir
            .path()
            .join(association::server::WITNESS_VKEY_FILE),
        public.path().join(association::server::WITNESS_VKEY_FILE),
    )
    .unwrap();
    public
}

/// Waits up to 30 s until `replica` serves open data under the statement of `digest`.
async fn wait_open_data(replica: &AssociationProcess, digest: &str) {
    let addr = replica.url.trim_start_matches("http://").parse().unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let index = http_get(addr, "GET", "/open-data/index.json")
            .await
            .unwrap();
        if index.starts_with("HTTP/1.1 200") && index.contains(digest) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no open data under {digest} on a replica: {index}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

async fn national(
    url: &str,
) -> natpb::national_service_client::NationalServiceClient<tonic::transport::Channel> {
    natpb::national_service_client::NationalServiceClient::connect(url.to_owned())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_replicas_serve_live_figures_of_the_ingest_and_refuse_admin_calls() {
    let nats = NatsServer::start().await.unwrap();
    let (mut association, [node]) =
        TestAssociation::with_nodes(&nats.url(), [(VINNYTSIA, 1_000)]).await;
    let public = public_dir(&association);
    // The replicas log in as a role that may only read: they write nothing.
    let reader = ReadOnlyRole::create(&association).await;
    let exe = env!("CARGO_BIN_EXE_vidkryto-under-test");
    let replicas = [
        AssociationProcess::serve_from(exe, &reader.url, public.path()),
        AssociationProcess::serve_from(exe, &reader.url, public.path()),
    ];

    // Each replica's live update stream says what the ingest just verified.
    let mut watches = Vec::new();
    for replica in &replicas {
        let mut stream = national(&replica.url)
            .await
            .watch_updates(natpb::WatchUpdatesRequest {})
            .await
            .unwrap()
            .into_inner();
        // The first update is the state as it is.
        stream.next().await.unwrap().unwrap();
        watches.push(stream);
    }
    let mut civic = Civic::of(&node).await;
    let petition = civic.petition("Lights in the park").await;
    civic.sign(&petition, 0..7).await;
    for (i, stream) in watches.iter_mut().enumerate() {
        let update = tokio::time::timeout(Duration::from_secs(20), async {
            loop {
                let update = stream.next().await.unwrap().unwrap();
                let signatures = update.summary.as_ref().and_then(|s| s.figures.as_ref());
                if signatures.is_some_and(|f| f.signatures == 7) {
                    return update;
                }
            }
        })
        .await
        .unwrap_or_else(|_| panic!("replica {i} sent no update with the signatures"));
        assert!(update.municipalities.contains(&VINNYTSIA.to_owned()));
    }

    // Figures, the digest and the witness key are the ingesting instance's.
    let leader = association.summary().await;
    let digest = association.digest().await;
    for replica in &replicas {
        let summary = replica.summary().await;
        assert_eq!(summary.figures, leader.figures);
        assert_eq!(summary.events_verified, leader.events_verified);
        let mut audit = proto::audit::v1::audit_service_client::AuditServiceClient::connect(
            replica.url.clone(),
        )
        .await
        .unwrap();
        assert_eq!(replica.digest().await.digest, digest.digest);
        let keys = audit
            .list_keys(proto::audit::v1::ListKeysRequest::default())
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            keys.witness_vkey,
            association.witness().verifier().to_text()
        );
        // A node is healthy on a replica as the leader says it is.
        wait_status(&replica.url, fedpb::NodeStatus::Healthy).await;
        let mut federation =
            fedpb::federation_service_client::FederationServiceClient::connect(replica.url.clone())
                .await
                .unwrap();

        // Admin calls are refused, even with the right token from loopback.
        let mut enroll = tonic::Request::new(fedpb::EnrollRequest {
            code: VINNYTSIA.into(),
            vkey: node.vkey(),
        });
        enroll.metadata_mut().insert(
            "authorization",
            format!("Bearer {}", association.admin_token)
                .parse()
                .unwrap(),
        );
        let refused = federation.enroll(enroll).await.unwrap_err();
        assert_eq!(refused.code(), tonic::Code::FailedPrecondition);
        assert!(refused.message().contains("reads only"), "{refused:?}");

        // Open data under the statement of the projection as it is, once the ingesting
        // instance stated it and the replica found the statement.
        association.wait_stated().await;
        wait_open_data(replica, &digest.digest).await;
        let metrics = replica.scrape().await.expect("metrics");
        assert_eq!(metrics.get("vidkryto_ingest_leader"), Some(&0.0));
        assert_eq!(metrics.get("vidkryto_database_up"), Some(&1.0));
    }

    // The ingesting instance gone, the replicas serve what was verified, and say the figures
    // are not current.
    association.stop().await;
    for replica in &replicas {
        assert_eq!(replica.summary().await.figures, leader.figures);
        wait_status(&replica.url, fedpb::NodeStatus::Lagging).await;
    }
    drop(replicas);
    reader.drop_role().await;
    let _ = node;
    association.shutdown().await;
}

/// The database is not the witness: a statement row rewritten by someone who can write to the
/// database but does not hold the association's key (a note signed by another key under the
/// same name, for the same digest and positions) is never served as open data by a replica,
/// which checks it against the association's public key; put back, it is served.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_replica_serves_no_open_data_under_a_statement_the_association_did_not_sign() {
    use projection::statement::Statement;
    use sqlx::Row as _;

    let nats = NatsServer::start().await.unwrap();
    let (mut association, [node]) =
        TestAssociation::with_nodes(&nats.url(), [(VINNYTSIA, 1_000)]).await;
    let mut civic = Civic::of(&node).await;
    let petition = civic.petition("Benches on the square").await;
    civic.sign(&petition, 0..3).await;
    association
        .wait_verified(node.code, node.log_size(), Duration::from_secs(20))
        .await;
    let stated = association.wait_stated().await;
    association.stop().await;

    let db = sqlx::PgPool::connect(&association.db_url()).await.unwrap();
    let row = sqlx::query("SELECT id, note FROM statement ORDER BY id DESC LIMIT 1")
        .fetch_one(&db)
        .await
        .unwrap();
    let (id, note): (i64, String) = (row.get("id"), row.get("note"));
    let genuine = Statement::open(&note, &association.witness().verifier()).unwrap();
    assert_eq!(hex::encode(genuine.digest), stated.digest);
    let forger = event_store_core::checkpoint::NoteSigner::from_seed(
        system_tests::witness_name(),
        [0x66; 32],
    )
    .unwrap();
    let forged = genuine.sign(&forger);
    sqlx::query("UPDATE statement SET note = $1 WHERE id = $2")
        .bind(&forged)
        .bind(id)
        .execute(&db)
        .await
        .unwrap();

    let public = public_dir(&association);
    let replica = serve(&association, public.path());
    let addr = replica.url.trim_start_matches("http://").parse().unwrap();
    // Two of the replica's looks for a new statement, and more.
    let until = tokio::time::Instant::now() + Duration::from_secs(25);
    while tokio::time::Instant::now() < until {
        let index = http_get(addr, "GET", "/open-data/index.json")
            .await
            .unwrap();
        assert!(
            !index.starts_with("HTTP/1.1 200"),
            "open data served under a forged statement: {index}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    // The genuine note back, the replica serves the open data under it.
    sqlx::query("UPDATE statement SET note = $1 WHERE id = $2")
        .bind(&note)
        .bind(id)
        .execute(&db)
        .await
        .unwrap();
    wait_open_data(&replica, &stated.digest).await;
    drop(replica);
    association.shutdown().await;
}
