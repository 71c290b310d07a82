//! Several `vidkryto association run` processes on one database, as operators run them for
//! failover: exactly one ingests (it holds the ingest lease), the others stand by. The leader
//! is killed with SIGKILL under live load from many nodes, ten times in a row, and each time a
//! standby ingests within 10 s; afterwards the figures are exactly what the nodes acknowledged
//! and a rebuild gives the same digest. A leader paused with SIGSTOP is taken over, and once
//! resumed commits nothing: every commit in the database after the pause is the new leader's.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use event_store_core::MunicipalityCode;
use system_tests::process::{AssociationProcess, assert_rebuild_gives};
use system_tests::{KORIUKIVKA, KYIV, TestAssociation, TestNode, VINNYTSIA, code, signing_load};
use testkit::NatsServer;
use tokio::task::JoinHandle;

const LEADER: &str = "vidkryto_ingest_leader";
const COMMITS: &str = "vidkryto_ingest_commits_total";

fn start(association: &TestAssociation) -> AssociationProcess {
    AssociationProcess::run(env!("CARGO_BIN_EXE_vidkryto-under-test"), association, true)
}

/// The hromadas of the test: the three named ones and `more` others from the reference data.
fn hromadas(more: usize) -> Vec<MunicipalityCode> {
    let named = [VINNYTSIA, KORIUKIVKA, KYIV].map(code);
    let reference = reference::Reference::load();
    let others = reference
        .municipalities
        .keys()
        .copied()
        .filter(|c| !named.contains(c))
        .take(more);
    named.into_iter().chain(others).collect()
}

/// Nodes of `codes`, enrolled; the in-process association that enrolled them is stopped, so
/// only the processes under test ingest.
async fn nodes_enrolled(
    setup: &mut TestAssociation,
    nats: &str,
    codes: &[MunicipalityCode],
) -> Vec<TestNode> {
    let mut nodes = Vec::new();
    for code in codes {
        let node = TestNode::start(&code.to_string(), 1_000_000, nats).await;
        setup.enroll(&node).await;
        nodes.push(node);
    }
    setup.stop().await;
    nodes
}

/// Every node signs its petition, one signature per command, until `stop`.
async fn load(
    nodes: &[TestNode],
    signed: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
) -> Vec<JoinHandle<()>> {
    signing_load(nodes, signed, stop, Duration::from_millis(20)).await
}

/// The database's count of verified events and of commits.
async fn verified_and_commits(db: &sqlx::PgPool) -> (i64, i64) {
    let verified: i64 =
        sqlx::query_scalar("SELECT coalesce(sum(verified_size), 0)::int8 FROM fed_node")
            .fetch_one(db)
            .await
            .unwrap();
    let commits: i64 = sqlx::query_scalar("SELECT commits FROM ingest_position")
        .fetch_one(db)
        .await
        .unwrap();
    (verified, commits)
}

/// Which of `instances` leads, waiting up to `within` for one to say so (exactly one may).
async fn leader(instances: &[AssociationProcess], within: Duration) -> usize {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let mut leading = Vec::new();
        for (i, instance) in instances.iter().enumerate() {
            if let Some(samples) = instance.scrape().await
                && samples.get(LEADER) == Some(&1.0)
            {
                leading.push(i);
            }
        }
        assert!(
            leading.len() <= 1,
            "instances {leading:?} all say they lead"
        );
        if let [i] = leading[..] {
            return i;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no instance leads after {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until the database holds more verified events than `than`; how long that took.
async fn verified_past(db: &sqlx::PgPool, than: i64, within: Duration) -> Duration {
    let started = tokio::time::Instant::now();
    loop {
        if verified_and_commits(db).await.0 > than {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < within,
            "nothing verified {within:?} after the leader went (still {than})"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Stops the load, waits until every node's log is verified, and checks the national figures
/// against what the nodes acknowledged and the live digest against a rebuild's.
async fn settle_and_check(
    setup: &TestAssociation,
    nodes: &[TestNode],
    tasks: Vec<JoinHandle<()>>,
    signed: &AtomicU64,
    stop: &AtomicBool,
    serving: &AssociationProcess,
) {
    stop.store(true, Ordering::SeqCst);
    for task in tasks {
        task.await.unwrap();
    }
    let db = sqlx::PgPool::connect(&setup.db_url()).await.unwrap();
    let total: u64 = nodes.iter().map(TestNode::log_size).sum();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while verified_and_commits(&db).await.0 < total as i64 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "not all verified: {:?} of {total}",
            verified_and_commits(&db).await
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The serving instance's snapshot follows the database's commits.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let summary = loop {
        let summary = serving.summary().await;
        if summary.events_verified == total || tokio::time::Instant::now() >= deadline {
            break summary;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(summary.events_verified, total);
    let figures = summary.figures.unwrap();
    assert_eq!(figures.signatures, signed.load(Ordering::SeqCst));
    assert_eq!(figures.petitions_filed, nodes.len() as u64);
    assert_eq!(figures.petitions_published, nodes.len() as u64);
    let live = serving.digest().await;
    assert_rebuild_gives(
        env!("CARGO_BIN_EXE_vidkryto-under-test"),
        &setup.db_url(),
        &live.digest,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_leader_killed_ten_times_under_load_is_followed_within_ten_seconds_each_time() {
    let nats = NatsServer::start().await.unwrap();
    let mut setup = TestAssociation::start(&nats.url()).await;
    let nodes = nodes_enrolled(&mut setup, &nats.url(), &hromadas(5)).await;
    let db = sqlx::PgPool::connect(&setup.db_url()).await.unwrap();
    let mut instances: Vec<AssociationProcess> = (0..3).map(|_| start(&setup)).collect();
    let signed = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let tasks = load(&nodes, signed.clone(), stop.clone()).await;

    let mut takeovers = Vec::new();
    for round in 0..10 {
        let leading = leader(&instances, Duration::from_secs(30)).await;
        // It ingests before it is killed.
        let (before, _) = verified_and_commits(&db).await;
        verified_past(&db, before, Duration::from_secs(30)).await;
        instances[leading].kill();
        let (at_kill, _) = verified_and_commits(&db).await;
        let took = verified_past(&db, at_kill, Duration::from_secs(10)).await;
        // Within the 10 s, and well within the lease's 10 s: a killed leader's
        // session lock lets a standby in without waiting for the lease to run out.
        assert!(
            took < association::lease::LEASE_TTL / 2,
            "round {round}: {took:?}"
        );
        takeovers.push(took);
        eprintln!("round {round}: a standby ingested {took:?} after the leader was killed");
        // The killed one comes back as a standby.
        instances[leading] = start(&setup);
    }
    assert_eq!(takeovers.len(), 10);
    let leading = leader(&instances, Duration::from_secs(30)).await;
    settle_and_check(&setup, &nodes, tasks, &signed, &stop, &instances[leading]).await;
    drop(instances);
    setup.shutdown().await;
}

/// A leader cut off from NATS but not from PostgreSQL could renew its lease forever while the
/// country's figures stood still: it gives the lease up once it has not reached NATS for
/// `association::ingest::NATS_CUT_OFF_MAX`, and a standby that reaches NATS ingests.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_leader_cut_off_from_nats_gives_the_ingest_up_to_a_standby_that_is_not() {
    let nats = NatsServer::start().await.unwrap();
    let mut setup = TestAssociation::start(&nats.url()).await;
    let nodes = nodes_enrolled(&mut setup, &nats.url(), &hromadas(2)).await;
    let db = sqlx::PgPool::connect(&setup.db_url()).await.unwrap();
    // The first instance reaches NATS through a link the test can cut; it leads.
    let nats_addr = format!("127.0.0.1:{}", nats.port()).parse().unwrap();
    let link = testkit::TcpProxy::start(nats_addr).await.unwrap();
    let mut args = AssociationProcess::run_args(&setup, true);
    let at = args.iter().position(|a| a == "--nats-url").unwrap() + 1;
    args[at] = format!("nats://127.0.0.1:{}", link.port());
    let exe = env!("CARGO_BIN_EXE_vidkryto-under-test");
    let mut instances = vec![AssociationProcess::start(exe, &args)];
    assert_eq!(leader(&instances, Duration::from_secs(30)).await, 0);
    instances.push(start(&setup));
    let signed = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let tasks = load(&nodes, signed.clone(), stop.clone()).await;
    let (before, _) = verified_and_commits(&db).await;
    verified_past(&db, before, Duration::from_secs(30)).await;

    link.cut();
    let cut = tokio::time::Instant::now();
    // Noticing the cut (the stream's reader going quiet, or a request timing out), then the
    // cut-off bound, then a run that fails once more, then the takeover. (What the leader had
    // read before the cut it may still commit: only the takeover says it gave up.)
    let limit = association::ingest::NATS_CUT_OFF_MAX + Duration::from_secs(30);
    while leader(&instances, Duration::from_secs(5)).await != 1 {
        assert!(cut.elapsed() < limit, "no takeover {limit:?} after the cut");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (at_takeover, _) = verified_and_commits(&db).await;
    let took = verified_past(&db, at_takeover, Duration::from_secs(30)).await;
    eprintln!(
        "the standby took the ingest over {:?} after the leader's link to NATS was cut, and \
         verified more {took:?} later",
        cut.elapsed() - took
    );
    // Back on the link, the former leader stands by.
    link.restore();
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(leader(&instances, Duration::from_secs(5)).await, 1);
    settle_and_check(&setup, &nodes, tasks, &signed, &stop, &instances[1]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_paused_leader_resumed_after_a_takeover_commits_nothing() {
    let nats = NatsServer::start().await.unwrap();
    let mut setup = TestAssociation::start(&nats.url()).await;
    let nodes = nodes_enrolled(&mut setup, &nats.url(), &hromadas(1)).await;
    let db = sqlx::PgPool::connect(&setup.db_url()).await.unwrap();
    let first = start(&setup);
    assert_eq!(
        leader(std::slice::from_ref(&first), Duration::from_secs(30)).await,
        0
    );
    let second = start(&setup);
    let signed = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let tasks = load(&nodes, signed.clone(), stop.clone()).await;
    let (before, _) = verified_and_commits(&db).await;
    verified_past(&db, before, Duration::from_secs(30)).await;

    // Paused mid-load: its lease runs out and the standby takes over.
    first.signal("STOP");
    // A commit it had sent whole before it stopped lands within moments; its lease runs out
    // only after `lease::LEASE_TTL`.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (_, commits_at_pause) = verified_and_commits(&db).await;
    let instances = [first, second];
    assert_eq!(leader(&instances, Duration::from_secs(40)).await, 1);
    let (at_takeover, _) = verified_and_commits(&db).await;
    verified_past(&db, at_takeover, Duration::from_secs(10)).await;

    // Resumed: it finds the lease another's, and commits nothing.
    instances[0].signal("CONT");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let stepped_down = loop {
        let samples = instances[0].scrape().await;
        if let Some(samples) = samples.as_ref().filter(|s| s.get(LEADER) == Some(&0.0)) {
            break samples[COMMITS];
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the resumed instance still says it leads: {samples:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    // It stays a standby while the load goes on.
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(leader(&instances, Duration::from_secs(1)).await, 1);
    settle_and_check(&setup, &nodes, tasks, &signed, &stop, &instances[0]).await;

    // Every commit in the database since the pause is the new leader's.
    let resumed = instances[0].scrape().await.expect("metrics");
    assert_eq!(
        resumed[COMMITS], stepped_down,
        "the former leader committed after it stood down"
    );
    let (_, commits_now) = verified_and_commits(&db).await;
    let new_leader = instances[1].scrape().await.expect("metrics")[COMMITS];
    // ... and the one rebuild `settle_and_check` ran.
    assert_eq!((commits_now - commits_at_pause - 1) as f64, new_leader);
    drop(instances);
    setup.shutdown().await;
}

/// The fence itself, on a real database: a write under a lease that another instance took
/// over (here: the first holder's lease ran out while it was paused, simulated by moving its
/// expiry) is refused and changes nothing, whatever the former leader believes; and a
/// takeover never falls inside a write of the leader, which holds the lease's row until it
/// commits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_under_a_lease_taken_over_is_refused_and_changes_nothing() {
    use association::error::AssociationError;
    use association::lease::{Candidate, fence};
    use association::store::Store;

    let db = testkit::PgDatabase::create().await.unwrap();
    let store = Store::connect(&db.url).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    association::server::init_dir(dir.path()).unwrap();
    let key = association::server::load_witness(&dir.path().join("witness.key")).unwrap();
    let signer = association::decisions::Signer::of_dir(Arc::new(key), dir.path());
    association::decisions::ensure_started(&store, &signer)
        .await
        .unwrap();
    let reference = Arc::new(reference::Reference::load());
    let readers = Store::connect_readers(&db.url).await.unwrap();

    let mut first = Candidate::new(store.clone());
    let mut second = Candidate::new(store.clone());
    let old = first
        .try_acquire()
        .await
        .unwrap()
        .expect("a free lease is taken");
    assert_eq!(
        second.try_acquire().await.unwrap(),
        None,
        "the lease is held"
    );

    // A write of the leader holds the row: no takeover falls inside it, even past its expiry.
    let mut tx = store.pool().begin().await.unwrap();
    fence(&mut tx, &old).await.unwrap();
    let admin = sqlx::PgPool::connect(&db.url).await.unwrap();
    let expire = || async {
        sqlx::query("UPDATE ingest_lease SET expires_at = clock_timestamp()")
            .execute(&admin)
            .await
            .unwrap();
    };
    let expiring = tokio::spawn({
        let admin = admin.clone();
        async move {
            sqlx::query("UPDATE ingest_lease SET expires_at = clock_timestamp()")
                .execute(&admin)
                .await
                .unwrap();
        }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !expiring.is_finished(),
        "the row is the leader's until it commits"
    );
    tx.commit().await.unwrap();
    expiring.await.unwrap();

    // Paused past its lease: the standby takes over (the first still holds the advisory lock,
    // so only the lease's running out lets it).
    expire().await;
    let new = second.try_acquire().await.unwrap().expect("taken over");
    assert_eq!(new.epoch, old.epoch + 1);
    let count = |sql: &'static str| {
        let admin = admin.clone();
        async move {
            sqlx::query_scalar::<_, i64>(sql)
                .fetch_one(&admin)
                .await
                .unwrap()
        }
    };
    let log_before = count("SELECT count(*) FROM association_log").await;

    // The former leader, resumed, writes as if it still led: every write is refused.
    let stated =
        association::statements::state(&store, &readers, reference.clone(), &signer, Some(&old))
            .await;
    assert!(
        matches!(stated, Err(AssociationError::Fenced { epoch }) if epoch == old.epoch),
        "{stated:?}"
    );
    let rebuilt = association::rebuild::rebuild(&store, Some(&old)).await;
    assert!(
        matches!(rebuilt, Err(AssociationError::Fenced { .. })),
        "{rebuilt:?}"
    );
    let mut tx = store.pool().begin().await.unwrap();
    assert!(matches!(
        fence(&mut tx, &old).await,
        Err(AssociationError::Fenced { .. })
    ));
    tx.rollback().await.unwrap();
    assert_eq!(count("SELECT count(*) FROM statement").await, 0);
    assert_eq!(
        count("SELECT count(*) FROM association_log").await,
        log_before
    );
    assert_eq!(count("SELECT commits FROM ingest_position").await, 0);
    assert!(
        !first.renew(&old, true).await.unwrap(),
        "its renewal says it lost"
    );

    // The new leader's writes go through.
    let (row, new_statement, _) =
        association::statements::state(&store, &readers, reference, &signer, Some(&new))
            .await
            .unwrap();
    assert!(new_statement);
    assert!(!row.note.is_empty());
    assert_eq!(
        count("SELECT count(*) FROM association_log").await,
        log_before + 1
    );
    assert!(second.renew(&new, true).await.unwrap());
    drop(store);
    drop(readers);
    admin.close().await;
    let _ = db.drop_db().await;
}

/// A revocation through an instance that stands by, while the leader ingests the hromada's
/// live load: no checkpoint of the hromada is accepted (and cosigned) after the revocation,
/// and its events after it are quarantined, not counted.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_key_revoked_through_a_standby_cosigns_nothing_after() {
    let nats = NatsServer::start().await.unwrap();
    let mut setup = TestAssociation::start(&nats.url()).await;
    let nodes = nodes_enrolled(&mut setup, &nats.url(), &hromadas(0)[..2]).await;
    let db = sqlx::PgPool::connect(&setup.db_url()).await.unwrap();
    let instances = [start(&setup), start(&setup)];
    let leading = leader(&instances, Duration::from_secs(30)).await;
    let standby = &instances[1 - leading];
    let signed = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let tasks = load(&nodes, signed.clone(), stop.clone()).await;
    let (before, _) = verified_and_commits(&db).await;
    verified_past(&db, before + 20, Duration::from_secs(30)).await;

    let mut federation =
        proto::federation::v1::federation_service_client::FederationServiceClient::connect(
            standby.url.clone(),
        )
        .await
        .unwrap();
    let mut revoke = tonic::Request::new(proto::federation::v1::RevokeRequest {
        code: VINNYTSIA.into(),
        vkey: String::new(),
    });
    revoke.metadata_mut().insert(
        "authorization",
        format!("Bearer {}", setup.admin_token).parse().unwrap(),
    );
    federation.revoke(revoke).await.unwrap();
    // The load goes on a while after it, on both hromadas.
    tokio::time::sleep(Duration::from_secs(3)).await;
    stop.store(true, Ordering::SeqCst);
    for task in tasks {
        task.await.unwrap();
    }
    let after: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM fed_checkpoint c JOIN enrolment e ON e.code = c.code \
         WHERE c.code = $1 AND c.accepted_at > e.revoked_at",
    )
    .bind(VINNYTSIA)
    .fetch_one(&db)
    .await
    .unwrap();
    assert_eq!(after, 0, "checkpoints accepted after the revocation");
    // The other hromada is verified to its end; the revoked one stops short of its log.
    let sizes: Vec<(String, i64)> =
        sqlx::query_as("SELECT code, verified_size FROM fed_node ORDER BY code")
            .fetch_all(&db)
            .await
            .unwrap();
    let revoked = nodes.iter().find(|n| n.code.as_str() == VINNYTSIA).unwrap();
    let other = nodes.iter().find(|n| n.code.as_str() != VINNYTSIA).unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let other_size: i64 =
            sqlx::query_scalar("SELECT verified_size FROM fed_node WHERE code = $1")
                .bind(other.code.as_str())
                .fetch_one(&db)
                .await
                .unwrap();
        if other_size as u64 == other.log_size() {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{sizes:?}, the other's log {}",
            other.log_size()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let revoked_size: i64 =
        sqlx::query_scalar("SELECT verified_size FROM fed_node WHERE code = $1")
            .bind(VINNYTSIA)
            .fetch_one(&db)
            .await
            .unwrap();
    assert!(
        (revoked_size as u64) < revoked.log_size(),
        "the revoked hromada was verified to its end ({revoked_size})"
    );
    drop(instances);
    setup.shutdown().await;
}
