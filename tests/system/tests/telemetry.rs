//! What an operator sees: Prometheus metrics scraped from `--metrics-listen` while a node
//! writes and a junk message is quarantined, and the association's gRPC health turning
//! NOT_SERVING while its PostgreSQL (a cluster this test starts and stops) or its NATS server
//! is lost, then SERVING again once it is back.

use std::time::Duration;

use association::server::AssociationSettings;
use system_tests::pg_cluster::{ThrowawayPg, postgres_or_skip};
use system_tests::process::{http_get, samples};
use system_tests::{Civic, TestNode, VINNYTSIA};
use testkit::NatsServer;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

/// `method path` on `addr`, within 10 s.
async fn get(addr: std::net::SocketAddr, method: &str, path: &str) -> String {
    tokio::time::timeout(Duration::from_secs(10), http_get(addr, method, path))
        .await
        .expect("a scrape within 10 s")
        .expect("a response")
}

async fn health(url: &str) -> ServingStatus {
    let Ok(channel) = tonic::transport::Endpoint::from_shared(url.to_owned())
        .expect("a URL")
        .connect()
        .await
    else {
        return ServingStatus::Unknown;
    };
    let mut client = HealthClient::new(channel);
    client
        .check(tonic_health::pb::HealthCheckRequest {
            service: String::new(),
        })
        .await
        .map(|r| r.into_inner().status())
        .unwrap_or(ServingStatus::Unknown)
}

async fn wait_health(url: &str, want: ServingStatus, within: Duration) {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let now = health(url).await;
        if now == want {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "health {now:?}, not {want:?}, after {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn metrics_follow_the_ingest_and_health_follows_postgresql() {
    let Some(bin) = postgres_or_skip("metrics_follow_the_ingest_and_health_follows_postgresql")
    else {
        return;
    };
    let pg = ThrowawayPg::start(bin, None).await;
    let mut nats = NatsServer::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    association::server::init_dir(dir.path()).unwrap();
    let mut settings = AssociationSettings::from_dir(
        dir.path(),
        pg.url("vidkryto_telemetry", ""),
        nats.url(),
        "127.0.0.1:0".parse().unwrap(),
    )
    .unwrap();
    settings.metrics_listen = Some("127.0.0.1:0".parse().unwrap());
    let running = association::server::start(settings).await.unwrap();
    let url = format!("http://{}", running.grpc_addr);
    let metrics = running.metrics_addr.expect("metrics served");

    let node = TestNode::start(VINNYTSIA, 1_000, &nats.url()).await;
    let token =
        std::fs::read_to_string(dir.path().join(association::server::ADMIN_TOKEN_FILE)).unwrap();
    let mut enroll = tonic::Request::new(proto::federation::v1::EnrollRequest {
        code: VINNYTSIA.into(),
        vkey: node.vkey(),
    });
    enroll.metadata_mut().insert(
        "authorization",
        format!("Bearer {}", token.trim()).parse().unwrap(),
    );
    proto::federation::v1::federation_service_client::FederationServiceClient::connect(url.clone())
        .await
        .unwrap()
        .enroll(enroll)
        .await
        .unwrap();
    let mut civic = Civic::of(&node).await;
    let petition = civic.petition("Ліхтарі на набережній").await;
    civic.sign(&petition, 0..10).await;
    // Junk on the hromada's own subject: quarantined as undecodable.
    let client = async_nats::connect(nats.url()).await.unwrap();
    client
        .publish(format!("vidkryto.ev.{VINNYTSIA}"), "junk".into())
        .await
        .unwrap();
    client.flush().await.unwrap();

    let verified = format!("vidkryto_node_verified_size{{hromada=\"{VINNYTSIA}\"}}");
    let undecodable = "vidkryto_quarantined_messages_total{reason=\"undecodable\"}";
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let scraped = loop {
        let text = get(metrics, "GET", "/metrics").await;
        let s = samples(&text);
        if s.get(&verified) == Some(&(node.log_size() as f64))
            && s.get(undecodable).is_some_and(|n| *n >= 1.0)
        {
            break text;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the metrics never showed the node verified and the junk quarantined:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(scraped.starts_with("HTTP/1.1 200"), "{scraped}");
    assert!(
        scraped.contains("content-type: text/plain; version=0.0.4"),
        "{scraped}"
    );
    assert!(scraped.contains("# TYPE vidkryto_ingest_commit_duration_seconds histogram"));
    let s = samples(&scraped);
    let version = format!(
        "vidkryto_build_info{{version=\"{}\"}}",
        env!("CARGO_PKG_VERSION")
    );
    assert_eq!(s.get(&version), Some(&1.0), "{scraped}");
    assert_eq!(s["vidkryto_database_up"], 1.0);
    assert_eq!(s["vidkryto_nats_up"], 1.0);
    assert!(s["vidkryto_ingest_commits_total"] >= 1.0);
    assert_eq!(
        s["vidkryto_ingest_events_verified_total"],
        node.log_size() as f64
    );
    assert_eq!(
        s["vidkryto_ingest_commit_duration_seconds_count"],
        s["vidkryto_ingest_commits_total"]
    );
    assert_eq!(
        s["vidkryto_ingest_commit_duration_seconds_bucket{le=\"+Inf\"}"],
        s["vidkryto_ingest_commits_total"]
    );
    let lag = format!("vidkryto_node_lag_events{{hromada=\"{VINNYTSIA}\"}}");
    assert_eq!(s[&lag], 0.0);
    // Only /metrics, only read.
    assert!(get(metrics, "GET", "/").await.starts_with("HTTP/1.1 404"));
    assert!(
        get(metrics, "POST", "/metrics")
            .await
            .starts_with("HTTP/1.1 405")
    );

    // PostgreSQL lost: NOT_SERVING, and the metrics say why; back: SERVING.
    wait_health(&url, ServingStatus::Serving, Duration::from_secs(10)).await;
    pg.stop();
    wait_health(&url, ServingStatus::NotServing, Duration::from_secs(15)).await;
    let down = samples(&get(metrics, "GET", "/metrics").await);
    assert_eq!(down["vidkryto_database_up"], 0.0);
    pg.start_again();
    wait_health(&url, ServingStatus::Serving, Duration::from_secs(30)).await;
    let up = samples(&get(metrics, "GET", "/metrics").await);
    assert_eq!(up["vidkryto_database_up"], 1.0);

    // NATS lost: the same, for NATS.
    nats.stop().await.unwrap();
    wait_health(&url, ServingStatus::NotServing, Duration::from_secs(15)).await;
    let down = samples(&get(metrics, "GET", "/metrics").await);
    assert_eq!(down["vidkryto_nats_up"], 0.0);
    assert_eq!(down["vidkryto_database_up"], 1.0);
    nats.restart().await.unwrap();
    wait_health(&url, ServingStatus::Serving, Duration::from_secs(30)).await;
    let up = samples(&get(metrics, "GET", "/metrics").await);
    assert_eq!(up["vidkryto_nats_up"], 1.0);

    running.shutdown().await;
}
