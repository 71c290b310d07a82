//! Anonymous readers cannot exhaust the association (issue 13, defect 5), against a real
//! nats-server, a real PostgreSQL and a real node: a flood of projection digest calls leaves
//! the ingest committing; a quarantine page carries a bounded number of payload bytes however
//! large the quarantined messages were; server streams beyond the global limit are refused; a
//! stream whose reader stops reading, or that stays open past its lifetime, is closed.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use association::api::federation::QUARANTINE_PAGE_BYTES_MAX;
use association::api::streams::{READ_LOGS_MAX, StreamLimits, WATCHES_MAX};
use association::read::queries::QUARANTINE_PAYLOAD_PREVIEW_MAX;
use association::server::ServingLimits;
use event_store_core::MunicipalityCode;
use proto::audit::v1 as auditpb;
use proto::audit::v1::audit_service_client::AuditServiceClient;
use proto::federation::v1 as fedpb;
use proto::federation::v1::federation_service_client::FederationServiceClient;
use proto::national::v1 as natpb;
use system_tests::{Civic, TestAssociation, TestNode, VINNYTSIA};
use testkit::NatsServer;
use tonic::Code;
use tonic::transport::{Channel, Endpoint};

const VERIFY_TIMEOUT: Duration = Duration::from_secs(60);

/// Weeks of weekly rows seeded for every other hromada: 1,468 × 35 = 51,380 rows, so one
/// digest is a scan of about half a second (in a debug build), not of milliseconds.
const SEEDED_WEEKS: i32 = 35;
/// Concurrent anonymous digest callers, over this many connections.
const DIGEST_CALLERS: usize = 64;
const DIGEST_CONNECTIONS: usize = 8;
/// Signatures the hromada collects while the flood goes on.
const SIGNATURES_DURING_FLOOD: u32 = 60;
/// How long after the hromada's last write its events must show verified, flood or not.
const KEEP_UP_BOUND: Duration = Duration::from_secs(20);

/// Junk messages, quarantined `undecodable`: 300 of 8 KiB hold more than a page may carry
/// (`QUARANTINE_PAGE_BYTES_MAX`, documented on `ListQuarantineResponse`) even where the ingest
/// keeps only each message's first 4 KiB.
const JUNK_MESSAGES: usize = 300;
const JUNK_BYTES: usize = 8 * 1024;

/// Events in the node's log for the stream tests: more than a client's 64 KiB HTTP/2 window
/// and the server's buffer hold, so a ReadLog stream nobody reads keeps its producer waiting.
const LOG_SIGNATURES: u32 = 1_500;
/// Streams opened at once, beyond the global limits.
const WATCHES_OPENED: usize = 2_000;
const WATCH_CONNECTIONS: usize = 4;
const READ_LOGS_OPENED: usize = 64;
/// The stream bounds of the timeout test, shortened so it runs in seconds.
const TEST_SEND_IDLE_MAX: Duration = Duration::from_secs(2);
const TEST_WATCH_LIFETIME_MAX: Duration = Duration::from_secs(4);
/// How long the idle test leaves a ReadLog stream unread, and how long the lifetime test
/// follows a WatchUpdates stream at most.
const IDLE_WAIT: Duration = Duration::from_secs(5);
const LIFETIME_WAIT: Duration = Duration::from_secs(20);

/// An audit client on a connection of its own whose HTTP/2 windows are the protocol's least
/// (64 KiB), as a client that means to hold the server's streams cheaply would open.
async fn small_window_audit(association: &TestAssociation) -> AuditServiceClient<Channel> {
    let channel = Endpoint::from_shared(association.url())
        .unwrap()
        .initial_stream_window_size(Some(65_535))
        .initial_connection_window_size(Some(65_535))
        .connect()
        .await
        .expect("audit connection");
    AuditServiceClient::new(channel)
}

/// Waits until one more stream of a kind is admitted (the places of closed streams come back
/// as their producers notice), and returns it.
async fn admitted_again<S, F, Fut>(what: &str, mut open: F) -> S
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<tonic::Response<S>, tonic::Status>>,
{
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match open().await {
            Ok(stream) => return stream.into_inner(),
            Err(status) => assert!(
                Instant::now() < deadline,
                "{what}: no place came back: {status:?}"
            ),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Inserts `weeks` weekly rows for every hromada of the reference data but `except`, straight
/// into the association's database; returns how many.
async fn seed_weekly_rows(db_url: &str, weeks: i32, except: &[MunicipalityCode]) -> u64 {
    let codes: Vec<String> = reference::Reference::load()
        .municipalities
        .keys()
        .filter(|c| !except.contains(c))
        .map(|c| c.to_string())
        .collect();
    let pool = sqlx::PgPool::connect(db_url)
        .await
        .expect("seed connection");
    // Mondays from 1970-01-05 (epoch day 4) on.
    let inserted = sqlx::query(
        "INSERT INTO proj_weekly (municipality, week, petitions_filed, signatures, \
                petitions_threshold_reached, petitions_answered, dialogues_closed, \
                contributions, milestones_completed) \
         SELECT m, 4 + 7 * w, 1, 2, 0, 0, 0, 0, 0 \
         FROM unnest($1::text[]) AS m, generate_series(0, $2 - 1) AS w",
    )
    .bind(codes)
    .bind(weeks)
    .execute(&pool)
    .await
    .expect("seed weekly rows")
    .rows_affected();
    sqlx::query("ANALYZE proj_weekly")
        .execute(&pool)
        .await
        .expect("analyze");
    pool.close().await;
    inserted
}

/// A node of Vinnytsia enrolled at `association`, with one petition open for signatures.
async fn enrolled_node(association: &TestAssociation, nats_url: &str) -> (TestNode, Civic, String) {
    let node = TestNode::start(VINNYTSIA, 1_000_000, nats_url).await;
    association.enroll(&node).await;
    let mut civic = Civic::of(&node).await;
    let petition = civic.petition("Lights on the school route").await;
    association.wait_all(&[&node], VERIFY_TIMEOUT).await;
    (node, civic, petition)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_flood_of_digest_calls_leaves_the_ingest_committing() {
    let nats = NatsServer::start().await.unwrap();
    let association = TestAssociation::start(&nats.url()).await;
    let (node, mut civic, petition) = enrolled_node(&association, &nats.url()).await;
    let rows = seed_weekly_rows(&association.db_url(), SEEDED_WEEKS, &[node.code]).await;
    let started = Instant::now();
    association.digest().await;
    eprintln!(
        "one digest over {rows} seeded weekly rows took {:?}",
        started.elapsed()
    );

    // Any failure of the ingest (a commit that could not get a connection in time restarts
    // it) is recorded.
    let mut progress = association.running.as_ref().unwrap().progress();
    let failures = Arc::new(Mutex::new(Vec::<String>::new()));
    let watcher = {
        let failures = failures.clone();
        tokio::spawn(async move {
            while progress.changed().await.is_ok() {
                if let Some(error) = progress.borrow_and_update().last_error.clone() {
                    failures.lock().unwrap().push(error);
                }
            }
        })
    };

    let stop = Arc::new(AtomicBool::new(false));
    let answered = Arc::new(AtomicU64::new(0));
    let refused = Arc::new(AtomicU64::new(0));
    let mut callers = Vec::new();
    for _ in 0..DIGEST_CONNECTIONS {
        let client = association.audit().await;
        for _ in 0..DIGEST_CALLERS / DIGEST_CONNECTIONS {
            let (mut client, stop) = (client.clone(), stop.clone());
            let (answered, refused) = (answered.clone(), refused.clone());
            callers.push(tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let reply = client
                        .get_projection_digest(auditpb::GetProjectionDigestRequest {})
                        .await;
                    match reply {
                        Ok(_) => answered.fetch_add(1, Ordering::Relaxed),
                        Err(_) => refused.fetch_add(1, Ordering::Relaxed),
                    };
                }
            }));
        }
    }
    tokio::time::sleep(Duration::from_secs(2)).await;

    // The hromada keeps writing under the flood; its events show verified within the bound.
    let writing = Instant::now();
    civic.sign(&petition, 0..SIGNATURES_DURING_FLOOD).await;
    let written = node.log_size();
    eprintln!(
        "{written} events written, the last {SIGNATURES_DURING_FLOOD} in {:?}",
        writing.elapsed()
    );
    let verifying = Instant::now();
    association
        .wait_verified(node.code, written, KEEP_UP_BOUND)
        .await;
    eprintln!(
        "verified {:?} after the last write; digests answered {}, refused {}",
        verifying.elapsed(),
        answered.load(Ordering::Relaxed),
        refused.load(Ordering::Relaxed)
    );
    stop.store(true, Ordering::Relaxed);
    for caller in callers {
        caller.abort();
    }
    watcher.abort();
    let failures = failures.lock().unwrap().clone();
    assert!(
        failures.is_empty(),
        "the ingest failed under the digest flood: {failures:?}"
    );
    assert!(
        answered.load(Ordering::Relaxed) > 0,
        "no digest was answered"
    );
}

/// Publishes raw bytes on a subject, as an attacker with NATS access would.
async fn publish_raw(js: &async_nats::jetstream::Context, subject: String, payload: Vec<u8>) {
    js.publish(subject, payload.into())
        .await
        .unwrap()
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_quarantine_page_carries_a_bounded_number_of_payload_bytes() {
    let nats = NatsServer::start().await.unwrap();
    let association = TestAssociation::start(&nats.url()).await;
    let (node, _civic, _petition) = enrolled_node(&association, &nats.url()).await;

    // Junk that is no envelope, on the node's own subject.
    let js = async_nats::jetstream::new(async_nats::connect(nats.url()).await.unwrap());
    let subject = wire::event_subject(&node.code);
    for i in 0..JUNK_MESSAGES {
        let mut junk = vec![b'j'; JUNK_BYTES];
        junk[..8].copy_from_slice(&(i as u64).to_le_bytes());
        publish_raw(&js, subject.clone(), junk).await;
    }
    let deadline = Instant::now() + VERIFY_TIMEOUT;
    while association.node(node.code).await.quarantined < JUNK_MESSAGES as u64 {
        assert!(Instant::now() < deadline, "the junk was not quarantined");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // A client that takes responses of any size, to see what the server sends.
    let mut federation = FederationServiceClient::connect(association.url())
        .await
        .unwrap()
        .max_decoding_message_size(usize::MAX);
    let mut seen = Vec::new();
    let mut page_token = String::new();
    let mut pages = 0;
    loop {
        let page = federation
            .list_quarantine(fedpb::ListQuarantineRequest {
                page_size: 500,
                page_token: page_token.clone(),
                code: node.code.to_string(),
            })
            .await
            .expect("list quarantine")
            .into_inner();
        pages += 1;
        let payload_bytes: usize = page.records.iter().map(|r| r.payload.len()).sum();
        let page_bytes = prost::Message::encoded_len(&page);
        assert!(
            page_bytes <= QUARANTINE_PAGE_BYTES_MAX,
            "page {pages} of {} records is {page_bytes} bytes ({payload_bytes} of payloads), \
             over the documented {QUARANTINE_PAGE_BYTES_MAX}",
            page.records.len()
        );
        assert!(!page.records.is_empty(), "page {pages} is empty");
        for record in &page.records {
            // The message's start, and its whole length.
            assert_eq!(
                record.payload.len(),
                JUNK_BYTES.min(QUARANTINE_PAYLOAD_PREVIEW_MAX)
            );
            assert!(record.payload[8..].iter().all(|b| *b == b'j'));
            assert_eq!(record.payload_size, JUNK_BYTES as u64);
        }
        seen.extend(page.records.into_iter().map(|r| (r.id, r.reason)));
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    assert_eq!(seen.len(), JUNK_MESSAGES, "{seen:?}");
    assert!(pages > 1, "the page was not cut short by its bytes");
    assert!(seen.iter().all(|(_, reason)| reason == "undecodable"));
    let mut ids: Vec<i64> = seen.iter().map(|(id, _)| *id).collect();
    ids.dedup();
    assert_eq!(ids.len(), JUNK_MESSAGES, "a record was listed twice");
}

/// Opens `count` streams with `open`, keeping those accepted; returns them and the codes of
/// the refusals.
async fn open_streams<S, F, Fut>(count: usize, mut open: F) -> (Vec<S>, Vec<Code>)
where
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = Result<tonic::Response<S>, tonic::Status>>,
{
    let mut held = Vec::new();
    let mut refused = Vec::new();
    for i in 0..count {
        match open(i).await {
            Ok(stream) => held.push(stream.into_inner()),
            Err(status) => refused.push(status.code()),
        }
    }
    (held, refused)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn server_streams_beyond_the_global_limit_are_refused() {
    let nats = NatsServer::start().await.unwrap();
    let association = TestAssociation::start(&nats.url()).await;
    let (node, mut civic, petition) = enrolled_node(&association, &nats.url()).await;
    civic.sign(&petition, 0..LOG_SIGNATURES).await;
    association.wait_all(&[&node], VERIFY_TIMEOUT).await;

    let mut clients = Vec::new();
    for _ in 0..WATCH_CONNECTIONS {
        clients.push(association.national().await);
    }
    let (watches, watches_refused) = open_streams(WATCHES_OPENED, |i| {
        let mut client = clients[i % WATCH_CONNECTIONS].clone();
        async move { client.watch_updates(natpb::WatchUpdatesRequest {}).await }
    })
    .await;
    let watches_accepted = watches.len();
    drop(watches);

    // ReadLog streams nobody reads hold the server's producers.
    let audit = small_window_audit(&association).await;
    let (logs, logs_refused) = open_streams(READ_LOGS_OPENED, |_| {
        let mut client = audit.clone();
        async move {
            client
                .read_log(auditpb::ReadLogRequest {
                    code: VINNYTSIA.into(),
                    from_seq: 1,
                    limit: 0,
                })
                .await
        }
    })
    .await;
    let logs_accepted = logs.len();
    drop(logs);

    eprintln!(
        "WatchUpdates: {watches_accepted} accepted, {} refused; ReadLog: {logs_accepted} \
         accepted, {} refused",
        watches_refused.len(),
        logs_refused.len()
    );
    let overload = |c: &Code| matches!(c, Code::ResourceExhausted | Code::Unavailable);
    assert!(
        !watches_refused.is_empty() && watches_refused.iter().all(overload),
        "{watches_accepted} WatchUpdates streams accepted, refused: {watches_refused:?}"
    );
    assert!(
        !logs_refused.is_empty() && logs_refused.iter().all(overload),
        "{logs_accepted} ReadLog streams accepted, refused: {logs_refused:?}"
    );
    assert_eq!(watches_accepted, WATCHES_MAX);
    assert_eq!(logs_accepted, READ_LOGS_MAX);

    // The places of closed streams come back.
    admitted_again("WatchUpdates", || {
        let mut national = clients[0].clone();
        async move { national.watch_updates(natpb::WatchUpdatesRequest {}).await }
    })
    .await;
    admitted_again("ReadLog", || {
        let mut audit = audit.clone();
        async move {
            audit
                .read_log(auditpb::ReadLogRequest {
                    code: VINNYTSIA.into(),
                    from_seq: 1,
                    limit: 1,
                })
                .await
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stream_idle_or_open_past_its_timeout_is_closed() {
    let nats = NatsServer::start().await.unwrap();
    let limits = ServingLimits {
        streams: StreamLimits {
            read_logs_max: 1,
            send_idle_max: TEST_SEND_IDLE_MAX,
            watch_lifetime_max: TEST_WATCH_LIFETIME_MAX,
            ..StreamLimits::default()
        },
        ..ServingLimits::default()
    };
    let association = TestAssociation::start_with_limits(&nats.url(), limits).await;
    let (node, mut civic, petition) = enrolled_node(&association, &nats.url()).await;
    civic.sign(&petition, 0..LOG_SIGNATURES).await;
    association.wait_all(&[&node], VERIFY_TIMEOUT).await;
    let total = node.log_size();

    // A ReadLog whose reader stops after one event holds the only place, until it has been
    // idle past the bound: then it ends with an error and its place is free again.
    let mut audit = small_window_audit(&association).await;
    let request = || auditpb::ReadLogRequest {
        code: VINNYTSIA.into(),
        from_seq: 1,
        limit: 0,
    };
    let mut log = audit.read_log(request()).await.unwrap().into_inner();
    log.message().await.unwrap().expect("a first event");
    let second = audit.read_log(request()).await.map(|_| ());
    tokio::time::sleep(IDLE_WAIT).await;
    let mut read = 1;
    let end = loop {
        match log.message().await {
            Ok(Some(_)) => read += 1,
            Ok(None) => break Ok(()),
            Err(status) => break Err(status),
        }
    };
    let idle_outcome = format!(
        "a ReadLog left unread for {IDLE_WAIT:?} delivered {read} of {total} events and ended \
         {end:?}"
    );
    let third = audit.read_log(request()).await.map(|_| ());

    // A WatchUpdates stream, read all along, ends when its lifetime is over.
    let mut national = association.national().await;
    // Timed from before the call: the server's lifetime starts when it takes the call, which
    // is before the response reaches this client.
    let opened = Instant::now();
    let mut watch = national
        .watch_updates(natpb::WatchUpdatesRequest {})
        .await
        .unwrap()
        .into_inner();
    let ended = tokio::time::timeout(LIFETIME_WAIT, async {
        loop {
            match watch.message().await {
                Ok(Some(_)) => continue,
                other => return other.map(|_| ()),
            }
        }
    })
    .await;
    let lived = opened.elapsed();
    let lifetime_outcome =
        format!("a WatchUpdates stream read all along: {ended:?} after {lived:?}");
    eprintln!("{idle_outcome}\n{lifetime_outcome}");
    assert!(
        matches!(&end, Err(s) if s.code() == Code::DeadlineExceeded) && read < total,
        "{idle_outcome}"
    );
    assert_eq!(
        second.map_err(|s| s.code()),
        Err(Code::ResourceExhausted),
        "a second ReadLog beside the idle one"
    );
    assert!(
        third.is_ok(),
        "the idle stream's place did not come back: {third:?}"
    );
    assert!(
        matches!(&ended, Ok(Err(s)) if s.code() == Code::DeadlineExceeded),
        "{lifetime_outcome}"
    );
    assert!(lived >= TEST_WATCH_LIFETIME_MAX, "{lifetime_outcome}");
}
