//! The association as an operator runs it (`vidkryto association run`), killed with SIGKILL
//! while it ingests a steady load from three nodes, then started again: it ends with exactly
//! the figures the acknowledged commands add up to, and a rebuild reproduces its digest.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use proto::national::v1 as natpb;
use system_tests::process::{AssociationProcess, assert_rebuild_gives};
use system_tests::{Civic, KORIUKIVKA, KYIV, TestAssociation, TestNode, VINNYTSIA};
use testkit::NatsServer;

fn start(association: &TestAssociation) -> AssociationProcess {
    AssociationProcess::run(
        env!("CARGO_BIN_EXE_vidkryto-under-test"),
        association,
        false,
    )
}

async fn verified(url: &str, code: &str) -> u64 {
    let Ok(mut client) =
        proto::national::v1::national_service_client::NationalServiceClient::connect(
            url.to_owned(),
        )
        .await
    else {
        return 0;
    };
    client
        .get_municipality(natpb::GetMunicipalityRequest { code: code.into() })
        .await
        .ok()
        .and_then(|r| r.into_inner().provenance)
        .map(|p| p.verified_size)
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_association_killed_mid_ingest_ends_with_exact_figures() {
    let nats = NatsServer::start().await.unwrap();
    // The in-process association only prepares the directory, database and enrolment; the
    // process under test does the ingesting.
    let mut setup = TestAssociation::start(&nats.url()).await;
    let nodes = [
        TestNode::start(VINNYTSIA, 1_000_000, &nats.url()).await,
        TestNode::start(KORIUKIVKA, 1_000_000, &nats.url()).await,
        TestNode::start(KYIV, 1_000_000, &nats.url()).await,
    ];
    for node in &nodes {
        setup.enroll(node).await;
    }
    setup.stop().await;

    let mut process = start(&setup);
    let signed = Arc::new(AtomicU64::new(0));
    let mut load = Vec::new();
    for node in &nodes {
        let mut civic = Civic::of(node).await;
        let signed = signed.clone();
        load.push(tokio::spawn(async move {
            let petition = civic.petition("Longer library hours").await;
            for i in 0..400 {
                civic.sign(&petition, i..i + 1).await;
                signed.fetch_add(1, Ordering::SeqCst);
            }
        }));
    }
    // Kill it once it has verified part of the load, then start it again.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while verified(&process.url, VINNYTSIA).await < 50 {
        assert!(tokio::time::Instant::now() < deadline, "nothing verified");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    process.kill();
    let at_kill = signed.load(Ordering::SeqCst);
    for task in load {
        task.await.unwrap();
    }
    assert!(at_kill < 1_200, "the kill came after the load ended");
    let process = start(&setup);
    for node in &nodes {
        let size = node.log_size();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while verified(&process.url, node.code.as_str()).await < size {
            assert!(
                tokio::time::Instant::now() < deadline,
                "{} not verified",
                node.code
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    let summary = process.summary().await;
    let figures = summary.figures.unwrap();
    assert_eq!(figures.signatures, 1_200);
    assert_eq!(figures.petitions_filed, 3);
    assert_eq!(figures.petitions_published, 3);
    assert_eq!(
        summary.events_verified,
        nodes.iter().map(|n| n.log_size()).sum::<u64>()
    );

    let live = process.digest().await;
    drop(process);
    assert_rebuild_gives(
        env!("CARGO_BIN_EXE_vidkryto-under-test"),
        &setup.db_url(),
        &live.digest,
    );
    setup.shutdown().await;
}
