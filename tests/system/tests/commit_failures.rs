//! The ingest commits one batch while it verifies the next (`association::ingest::state`). A
//! commit that fails in flight, its connection cut by PostgreSQL in the middle of the
//! transaction, again and again under a steady load from three nodes: the association ends
//! with exactly the figures the acknowledged commands add up to, every event verified once,
//! and a rebuild reproduces its digest.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use association::store::WRITER_APPLICATION_NAME;
use system_tests::process::assert_rebuild_gives;
use system_tests::{Civic, KORIUKIVKA, KYIV, TestAssociation, VINNYTSIA};
use testkit::NatsServer;

/// Transactions of the writing pool to cut.
const CUTS: usize = 10;
const SIGNATURES_PER_NODE: u32 = 500;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn commits_cut_in_flight_lose_and_double_nothing() {
    let nats = NatsServer::start().await.unwrap();
    let (association, nodes) = TestAssociation::with_nodes(
        &nats.url(),
        [
            (VINNYTSIA, 1_000_000),
            (KORIUKIVKA, 1_000_000),
            (KYIV, 1_000_000),
        ],
    )
    .await;

    let pool = sqlx::PgPool::connect(&association.db_url()).await.unwrap();
    let done = Arc::new(AtomicBool::new(false));
    let mut load = Vec::new();
    for node in &nodes {
        let mut civic = Civic::of(node).await;
        load.push(tokio::spawn(async move {
            let petition = civic.petition("Longer library hours").await;
            for i in 0..SIGNATURES_PER_NODE {
                civic.sign(&petition, i..i + 1).await;
            }
        }));
    }

    // Meanwhile: whenever a connection of the writing pool is inside a transaction that has
    // written (a commit: its first statement renews the lease) and is not the association
    // signing a statement, PostgreSQL ends its backend.
    let killer = {
        let done = done.clone();
        let pool = pool.clone();
        tokio::spawn(async move {
            let mut cut = 0;
            while cut < CUTS && !done.load(Ordering::SeqCst) {
                let ended: i64 = sqlx::query_scalar(
                    "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity \
                     WHERE datname = current_database() AND application_name = $1 \
                       AND backend_xid IS NOT NULL AND pid <> pg_backend_pid() \
                       AND query NOT ILIKE '%statement%' AND query NOT ILIKE '%association_log%'",
                )
                .bind(WRITER_APPLICATION_NAME)
                .fetch_one(&pool)
                .await
                .unwrap();
                cut += usize::try_from(ended).unwrap();
                tokio::time::sleep(Duration::from_millis(if ended > 0 { 100 } else { 5 })).await;
            }
            cut
        })
    };
    for task in load {
        task.await.unwrap();
    }
    done.store(true, Ordering::SeqCst);
    let cut = killer.await.unwrap();
    eprintln!("{cut} transactions of the writing pool cut");
    assert!(
        cut >= 3,
        "only {cut} transactions were cut: the load ended before the test did anything"
    );

    let all: Vec<_> = nodes.iter().collect();
    association.wait_all(&all, Duration::from_secs(120)).await;
    let summary = association.summary().await;
    let figures = summary.figures.unwrap();
    assert_eq!(figures.signatures, 3 * u64::from(SIGNATURES_PER_NODE));
    assert_eq!(figures.petitions_filed, 3);
    assert_eq!(figures.petitions_published, 3);
    assert_eq!(
        summary.events_verified,
        nodes.iter().map(|n| n.log_size()).sum::<u64>()
    );
    let quarantined: i64 = sqlx::query_scalar("SELECT count(*) FROM quarantine")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(quarantined, 0, "a cut commit put good events in quarantine");

    let live = association.digest().await;
    assert_rebuild_gives(
        env!("CARGO_BIN_EXE_vidkryto-under-test"),
        &association.db_url(),
        &live.digest,
    );
    association.shutdown().await;
}
