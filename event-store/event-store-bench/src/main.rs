//! Benchmark of vidkryto's log, printing in one run, for batches of 1, 100 and 1,000 events:
//! append events/s on SQLite and PostgreSQL next to a raw sqlx insert of the same rows (same
//! table shape, same batch size, same durability), and verify events/s next to raw SHA-256
//! over the same bytes. Every figure is the median of several runs; the machine is noisy.
//!
//! Run: `cargo run --release -p event-store-bench` (PostgreSQL from `VIDKRYTO_TEST_PG_URL`).
//! `--quick` runs fewer events, for a smoke check.

use std::time::Instant;

use anyhow::Context as _;
use event_store::{
    Backend, CheckpointPolicy, EventRow, ExpectedVersion, Log, NewEvent, SqlBackend as _, Verifier,
    verify,
};
use event_store_core::checkpoint::NoteSigner;
use event_store_core::{
    Envelope, EventId, EventTypeCode, Frontier, LogSeq, MunicipalityCode, SchemaVersion, StreamId,
    StreamVersion, Timestamp, merkle, origin_for,
};
use event_store_postgres::PgBackend;
use event_store_sqlite::{Durability, SqliteBackend};
use sha2::Digest as _;
use sqlx::{AssertSqlSafe, Connection as _};

/// Runs per figure; the median is reported.
const RUNS: usize = 3;
/// Payload bytes per event: a signature event is about this size.
const PAYLOAD_LEN: usize = 240;

struct Plan {
    batch: usize,
    events: usize,
}

fn plans(quick: bool) -> Vec<Plan> {
    let scale = if quick { 10 } else { 1 };
    vec![
        Plan {
            batch: 1,
            events: 2_000 / scale,
        },
        Plan {
            batch: 100,
            events: 50_000 / scale,
        },
        Plan {
            batch: 1_000,
            events: 100_000 / scale,
        },
    ]
}

fn municipality() -> MunicipalityCode {
    MunicipalityCode::parse("UA05020030000031457").unwrap_or_else(|_| unreachable!())
}

fn signer() -> anyhow::Result<NoteSigner> {
    Ok(NoteSigner::from_seed(
        &origin_for(&municipality()),
        [5; 32],
    )?)
}

fn new_event(n: usize) -> NewEvent {
    let mut payload = format!("signature {n:010} ").into_bytes();
    payload.resize(PAYLOAD_LEN, b'.');
    NewEvent {
        event_id: EventId::new_v7(),
        event_type: EventTypeCode(0x0103),
        schema_version: SchemaVersion(1),
        recorded_at: Timestamp(1_764_151_200_000_000 + n as i64),
        payload,
    }
}

/// The rows the log would store for `events` in batches on fresh streams, precomputed, for
/// the raw baseline.
fn raw_rows(events: &[NewEvent], batch: usize) -> anyhow::Result<Vec<Vec<EventRow>>> {
    let mut seq = 0u64;
    let mut out = Vec::new();
    for chunk in events.chunks(batch) {
        let stream = StreamId(uuid::Uuid::now_v7());
        let mut rows = Vec::new();
        for (i, e) in chunk.iter().enumerate() {
            seq += 1;
            let env = Envelope {
                event_type: e.event_type,
                schema_version: e.schema_version,
                municipality: municipality(),
                seq: LogSeq(seq),
                stream_id: stream,
                stream_version: StreamVersion(i as u64 + 1),
                event_id: e.event_id,
                recorded_at: e.recorded_at,
                payload: e.payload.clone(),
            };
            let bytes = env.encode()?;
            rows.push(EventRow {
                seq: LogSeq(seq),
                event_id: e.event_id,
                stream_id: stream,
                stream_version: StreamVersion(i as u64 + 1),
                leaf_hash: merkle::leaf_hash(&bytes),
                bytes,
            });
        }
        out.push(rows);
    }
    Ok(out)
}

async fn append_log<B: Backend>(
    backend: B,
    events: &[NewEvent],
    batch: usize,
) -> anyhow::Result<f64> {
    let log = Log::open(
        backend,
        municipality(),
        signer()?,
        CheckpointPolicy::default(),
    )
    .await?;
    let started = Instant::now();
    for chunk in events.chunks(batch) {
        log.append(
            StreamId(uuid::Uuid::now_v7()),
            ExpectedVersion::NoStream,
            chunk.to_vec(),
        )
        .await?;
    }
    Ok(events.len() as f64 / started.elapsed().as_secs_f64())
}

/// The raw baseline table: the log's `events` table shape (same columns, keys and indexes),
/// with none of the log's work (no checks, no tree, no checkpoints).
const RAW_TABLE_SQLITE: &str = "CREATE TABLE raw_events (seq INTEGER PRIMARY KEY, event_id BLOB NOT NULL UNIQUE, \
    stream_id BLOB NOT NULL, stream_version INTEGER NOT NULL, leaf_hash BLOB NOT NULL, bytes BLOB NOT NULL, \
    UNIQUE (stream_id, stream_version))";
const RAW_TABLE_PG: &str = "CREATE TABLE raw_events (seq BIGINT PRIMARY KEY, event_id BYTEA NOT NULL UNIQUE, \
    stream_id BYTEA NOT NULL, stream_version BIGINT NOT NULL, leaf_hash BYTEA NOT NULL, bytes BYTEA NOT NULL, \
    UNIQUE (stream_id, stream_version))";

async fn raw_sqlite(dir: &std::path::Path, batches: &[Vec<EventRow>]) -> anyhow::Result<f64> {
    // Same file settings as the log: WAL, synchronous=FULL, one transaction per batch.
    let backend = SqliteBackend::open(&dir.join("raw.sqlite"), Durability::Full).await?;
    let pool = backend.pool();
    sqlx::query(RAW_TABLE_SQLITE).execute(pool).await?;
    let events: usize = batches.iter().map(Vec::len).sum();
    let started = Instant::now();
    for rows in batches {
        let mut tx = pool.begin().await?;
        for chunk in rows.chunks(500) {
            let values = vec!["(?, ?, ?, ?, ?, ?)"; chunk.len()].join(", ");
            let sql = format!(
                "INSERT INTO raw_events (seq, event_id, stream_id, stream_version, leaf_hash, bytes) VALUES {values}"
            );
            let mut q = sqlx::query(AssertSqlSafe(sql));
            for r in chunk {
                q = q
                    .bind(r.seq.0 as i64)
                    .bind(r.event_id.as_bytes().to_vec())
                    .bind(r.stream_id.as_bytes().to_vec())
                    .bind(r.stream_version.0 as i64)
                    .bind(r.leaf_hash.to_vec())
                    .bind(r.bytes.clone());
            }
            q.execute(&mut *tx).await?;
        }
        tx.commit().await?;
    }
    Ok(events as f64 / started.elapsed().as_secs_f64())
}

async fn raw_pg(url: &str, batches: &[Vec<EventRow>]) -> anyhow::Result<f64> {
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(2)
        .connect(url)
        .await?;
    sqlx::query(RAW_TABLE_PG).execute(&pool).await?;
    let events: usize = batches.iter().map(Vec::len).sum();
    let started = Instant::now();
    for rows in batches {
        let mut tx = pool.begin().await?;
        sqlx::query(
            "INSERT INTO raw_events (seq, event_id, stream_id, stream_version, leaf_hash, bytes) \
             SELECT * FROM UNNEST($1::int8[], $2::bytea[], $3::bytea[], $4::int8[], $5::bytea[], $6::bytea[])",
        )
        .bind(rows.iter().map(|r| r.seq.0 as i64).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.event_id.as_bytes().to_vec()).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.stream_id.as_bytes().to_vec()).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.stream_version.0 as i64).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.leaf_hash.to_vec()).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.bytes.clone()).collect::<Vec<_>>())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
    }
    pool.close().await;
    Ok(events as f64 / started.elapsed().as_secs_f64())
}

/// A fresh PostgreSQL database, dropped when the benchmark is done with it.
struct PgDb {
    admin: String,
    name: String,
}

impl PgDb {
    async fn create(admin: &str) -> anyhow::Result<Self> {
        let name = format!("vidkryto_bench_{}", uuid::Uuid::now_v7().simple());
        let mut conn = sqlx::PgConnection::connect(admin)
            .await
            .context("connect to PostgreSQL")?;
        sqlx::query(AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await?;
        Ok(Self {
            admin: admin.to_owned(),
            name,
        })
    }
    fn url(&self) -> String {
        let base = self
            .admin
            .rsplit_once('/')
            .map_or(self.admin.as_str(), |(b, _)| b);
        format!("{base}/{}", self.name)
    }
    async fn drop_db(self) -> anyhow::Result<()> {
        let mut conn = sqlx::PgConnection::connect(&self.admin).await?;
        sqlx::query(AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        )))
        .execute(&mut conn)
        .await?;
        Ok(())
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn line(what: &str, ours: f64, raw: f64) {
    println!(
        "{what:<44} {ours:>12.0} {raw:>12.0} {:>7.1}%",
        100.0 * ours / raw
    );
}

/// Verify rates of a log, each a median of RUNS, with raw SHA-256 over the same bytes.
struct VerifyFigures {
    events: u64,
    /// `verify()` reading from the database.
    from_db: f64,
    /// Reading the same rows alone, for what limits `from_db`.
    read_only: f64,
    /// The same checks over rows already in memory (as an auditor's archive is).
    in_memory: f64,
    raw_sha256: f64,
}

async fn verify_figures<B: Backend>(backend: &B) -> anyhow::Result<VerifyFigures> {
    let key = signer()?.verifier();
    let mut rows: Vec<EventRow> = Vec::new();
    loop {
        let from = rows.last().map_or(1, |r| r.seq.0 + 1);
        let chunk = backend.read_events(LogSeq(from), 10_000).await?;
        if chunk.is_empty() {
            break;
        }
        rows.extend(chunk);
    }
    let checkpoints = backend.checkpoints(0, 100_000).await?;
    let head_root = backend.head().await?.frontier.root();
    let events = rows.len() as u64;
    let (mut from_db, mut read_only, mut in_memory, mut raw) = (vec![], vec![], vec![], vec![]);
    for _ in 0..RUNS {
        let started = Instant::now();
        let report = verify(backend, &municipality(), &key, 1, None).await?;
        anyhow::ensure!(
            report.is_ok(),
            "benchmark log does not verify: {:?}",
            report.failure
        );
        from_db.push(report.events_checked as f64 / started.elapsed().as_secs_f64());

        let started = Instant::now();
        let mut from = 1u64;
        loop {
            let chunk = backend
                .read_events(LogSeq(from), event_store::verify::VERIFY_CHUNK_LEN)
                .await?;
            let Some(last) = chunk.last() else { break };
            from = last.seq.0 + 1;
        }
        read_only.push(events as f64 / started.elapsed().as_secs_f64());

        let started = Instant::now();
        let mut v = Verifier::new(&municipality(), &key, 1, events, Frontier::new());
        v.add_checkpoints(checkpoints.iter().cloned());
        v.check_rows(&rows);
        let report = v.finish(Some(head_root));
        anyhow::ensure!(
            report.is_ok() && report.events_checked == events,
            "in-memory verify failed"
        );
        in_memory.push(events as f64 / started.elapsed().as_secs_f64());

        let started = Instant::now();
        let mut acc = 0u8;
        for r in &rows {
            acc ^= sha2::Sha256::digest(&r.bytes)[0];
        }
        std::hint::black_box(acc);
        raw.push(events as f64 / started.elapsed().as_secs_f64());
    }
    Ok(VerifyFigures {
        events,
        from_db: median(from_db),
        read_only: median(read_only),
        in_memory: median(in_memory),
        raw_sha256: median(raw),
    })
}

fn print_verify(kind: &str, f: &VerifyFigures) {
    line(
        &format!("verify {kind}, from the database ({} ev)", f.events),
        f.from_db,
        f.raw_sha256,
    );
    line(
        &format!("  reading the rows alone, {kind}"),
        f.read_only,
        f.raw_sha256,
    );
    line(
        &format!("verify {kind} rows in memory ({} ev)", f.events),
        f.in_memory,
        f.raw_sha256,
    );
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let quick = std::env::args().any(|a| a == "--quick");
    let admin = std::env::var("VIDKRYTO_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    println!(
        "vidkryto log benchmark: {PAYLOAD_LEN}-byte payloads, median of {RUNS} runs, events/s"
    );
    println!("{:<48} {:>12} {:>12} {:>8}", "", "vidkryto", "raw", "ratio");
    let mut last_sqlite_dir = None;
    let mut last_pg = None;
    for plan in plans(quick) {
        let events: Vec<NewEvent> = (0..plan.events).map(new_event).collect();
        let rows = raw_rows(&events, plan.batch)?;
        let (mut s_ours, mut s_raw, mut p_ours, mut p_raw) = (vec![], vec![], vec![], vec![]);
        for run in 0..RUNS {
            // Fresh ids per run, so no run is a replay of another.
            let events: Vec<NewEvent> = (0..plan.events).map(new_event).collect();
            let dir = tempfile::tempdir()?;
            let backend =
                SqliteBackend::open(&dir.path().join("log.sqlite"), Durability::Full).await?;
            s_ours.push(append_log(backend, &events, plan.batch).await?);
            s_raw.push(raw_sqlite(dir.path(), &rows).await?);

            let db = PgDb::create(&admin).await?;
            let backend = PgBackend::connect(&db.url()).await?;
            p_ours.push(append_log(backend.clone(), &events, plan.batch).await?);
            backend.pool().close().await;
            let raw_db = PgDb::create(&admin).await?;
            p_raw.push(raw_pg(&raw_db.url(), &rows).await?);
            raw_db.drop_db().await?;
            if plan.batch == 1_000 && run == RUNS - 1 {
                last_sqlite_dir = Some(dir);
                last_pg = Some(db);
            } else {
                db.drop_db().await?;
            }
        }
        line(
            &format!(
                "append SQLite, batch {} ({} events)",
                plan.batch, plan.events
            ),
            median(s_ours),
            median(s_raw),
        );
        line(
            &format!(
                "append PostgreSQL, batch {} ({} events)",
                plan.batch, plan.events
            ),
            median(p_ours),
            median(p_raw),
        );
    }
    if let Some(dir) = last_sqlite_dir {
        let backend = SqliteBackend::open(&dir.path().join("log.sqlite"), Durability::Full).await?;
        print_verify("SQLite", &verify_figures(&backend).await?);
    }
    if let Some(db) = last_pg {
        let backend = PgBackend::connect(&db.url()).await?;
        print_verify("PostgreSQL", &verify_figures(&backend).await?);
        backend.pool().close().await;
        db.drop_db().await?;
    }
    Ok(())
}
