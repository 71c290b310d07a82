//! The node as an operator runs it, killed with SIGKILL during a steady command load and
//! started again: its log verifies with no gap, every acknowledged command is in it, and the
//! JetStream stream holds every event exactly once, in order (no duplicates from replaying
//! publishes that were in flight).

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures_util::StreamExt as _;
use node::auth::AuthedNodeClient;
use proto::node::v1 as pb;
use sqlx::Connection as _;

const MUNICIPALITY: &str = "UA74040130000074451";
const LOAD_TASKS: usize = 4;

fn vidkryto() -> Command {
    Command::new(env!("CARGO_BIN_EXE_vidkryto"))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct NodeProcess(Child);

impl Drop for NodeProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn run_node(dir: &std::path::Path) -> NodeProcess {
    let child = vidkryto()
        .args(["node", "run", "--dir", dir.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    NodeProcess(child)
}

async fn connect(url: &str, token: &str) -> AuthedNodeClient {
    for _ in 0..100 {
        if let Ok(c) = node::auth::connect(url, token, None).await {
            return c;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("node did not come up at {url}");
}

fn request_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

async fn log_size(db: &std::path::Path) -> u64 {
    let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite:{}?mode=ro", db.display()))
        .await
        .unwrap();
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM events")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    n as u64
}

/// The `Vidkryto-Seq` of every event message in the municipality's stream, in stream order.
async fn relayed_seqs(nats_url: &str) -> Vec<u64> {
    let js = async_nats::jetstream::new(async_nats::connect(nats_url).await.unwrap());
    let stream = js
        .get_stream(format!("VIDKRYTO_{MUNICIPALITY}"))
        .await
        .unwrap();
    let consumer = stream
        .create_consumer(async_nats::jetstream::consumer::pull::Config {
            filter_subject: format!("vidkryto.ev.{MUNICIPALITY}"),
            ack_policy: async_nats::jetstream::consumer::AckPolicy::None,
            ..Default::default()
        })
        .await
        .unwrap();
    let mut messages = consumer.messages().await.unwrap();
    let mut seqs = Vec::new();
    while let Ok(Some(Ok(msg))) =
        tokio::time::timeout(Duration::from_secs(2), messages.next()).await
    {
        let seq = msg
            .headers
            .as_ref()
            .and_then(|h| h.get("Vidkryto-Seq"))
            .map(|v| v.as_str().to_owned());
        seqs.push(seq.and_then(|s| s.parse().ok()).unwrap_or(0));
    }
    seqs
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_under_load_loses_and_duplicates_nothing() {
    let nats = testkit::NatsServer::start().await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("node");
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let init = vidkryto()
        .args([
            "node",
            "init",
            "--dir",
            dir.to_str().unwrap(),
            "--municipality",
            MUNICIPALITY,
            "--signature-threshold",
            "100000",
            "--nats-url",
            &nats.url(),
            "--listen",
            &format!("127.0.0.1:{port}"),
        ])
        .output()
        .unwrap();
    assert!(init.status.success(), "{init:?}");
    // The load is a machine client, added as an operator does.
    let add = vidkryto()
        .args(["node", "client", "add", "--dir", dir.to_str().unwrap()])
        .args([
            "--name",
            "load",
            "--permission",
            "participate",
            "--permission",
            "moderate",
        ])
        .output()
        .unwrap();
    assert!(add.status.success(), "{add:?}");
    let token = String::from_utf8(add.stdout)
        .unwrap()
        .lines()
        .find(|l| l.starts_with("vkt_"))
        .expect("a token printed")
        .to_owned();

    let mut node = run_node(&dir);
    let mut c = connect(&url, &token).await;
    let mut petitions = Vec::new();
    for _ in 0..LOAD_TASKS {
        let id = c
            .file_petition(pb::FilePetitionRequest {
                request_id: request_id(),
                author_subject: "diia:author".into(),
                title: "Безпечний перехід біля школи".into(),
                text: "Просимо облаштувати пішохідний перехід.".into(),
                category: "safety".into(),
            })
            .await
            .unwrap()
            .into_inner()
            .stream_id;
        c.publish_petition(pb::PublishPetitionRequest {
            request_id: request_id(),
            petition_id: id.clone(),
        })
        .await
        .unwrap();
        petitions.push(id);
    }

    // Steady load; every acknowledged request id is remembered.
    let running = Arc::new(AtomicBool::new(true));
    let mut tasks = Vec::new();
    for (t, petition) in petitions.iter().cloned().enumerate() {
        let (running, url, token) = (running.clone(), url.clone(), token.clone());
        tasks.push(tokio::spawn(async move {
            let mut c = connect(&url, &token).await;
            let mut acked = Vec::new();
            let mut i = 0;
            while running.load(Ordering::SeqCst) {
                let req = pb::SignPetitionRequest {
                    request_id: request_id(),
                    petition_id: petition.clone(),
                    signer_subject: format!("diia:citizen-{t}-{i}"),
                };
                i += 1;
                match c.sign_petition(req.clone()).await {
                    Ok(r) => acked.push((req.request_id, r.into_inner().first_seq)),
                    Err(_) => break, // the node died
                }
            }
            acked
        }));
    }
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    node.0.kill().unwrap(); // SIGKILL
    node.0.wait().unwrap();
    running.store(false, Ordering::SeqCst);
    let mut acked = Vec::new();
    for t in tasks {
        acked.extend(t.await.unwrap());
    }
    assert!(
        acked.len() > 50,
        "the load ran before the kill ({} commands)",
        acked.len()
    );

    let mut node = run_node(&dir);
    let mut c = connect(&url, &token).await;
    // The node keeps working after the crash.
    c.sign_petition(pb::SignPetitionRequest {
        request_id: request_id(),
        petition_id: petitions[0].clone(),
        signer_subject: "diia:after-restart".into(),
    })
    .await
    .unwrap();
    let db = dir.join("node.sqlite");
    let size = log_size(&db).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let seqs = loop {
        let seqs = relayed_seqs(&nats.url()).await;
        if seqs.len() as u64 >= size || tokio::time::Instant::now() > deadline {
            break seqs;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert_eq!(
        seqs,
        (1..=size).collect::<Vec<_>>(),
        "every event exactly once, in order"
    );

    // Every acknowledged command is in the log (a retry returns its original position).
    for (request, first_seq) in acked.iter().step_by(7) {
        let again = c
            .sign_petition(pb::SignPetitionRequest {
                request_id: request.clone(),
                petition_id: petitions[0].clone(),
                signer_subject: "ignored on a retry".into(),
            })
            .await;
        match again {
            Ok(r) => assert_eq!(r.into_inner().first_seq, *first_seq),
            // Retried against another petition than it was made on: still found, so refused.
            Err(s) => assert_eq!(s.code(), tonic::Code::InvalidArgument, "{s:?}"),
        }
    }

    // Graceful stop, then the log verifies end to end.
    let pid = node.0.id().to_string();
    Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    node.0.wait().unwrap();
    let out = vidkryto()
        .args([
            "log",
            "verify",
            "--db",
            db.to_str().unwrap(),
            "--vkey",
            &format!("@{}", dir.join("node.vkey").display()),
            "--output",
            "json",
        ])
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["ok"], true, "{report}");
    assert_eq!(report["events_checked"].as_u64(), Some(log_size(&db).await));
}
