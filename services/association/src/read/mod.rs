//! The read side: a snapshot of every municipality's counters, answer-day histogram, overdue
//! counts and verified position, reloaded from PostgreSQL after commits (coalesced), so the
//! national queries many readers send are answered from memory in microseconds; and the
//! projection digest, computed once per position of the database however many ask
//! (`digests`).
//! Everything here reads through the read side's own pool (`Store::connect_readers`).

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use domain::{CivilDate, kyiv_date};
use event_store_core::{MunicipalityCode, Timestamp};
use projection::Counters;
use sqlx::Row;
use tokio::sync::watch;

use crate::batch::IngestProgress;
use crate::error::AssociationError;
use crate::store::{Store, db, parse_code, statement_timeout, uint};
use reference::Reference;

pub mod area;
pub mod budgets;
pub mod digests;
pub mod practices;
pub mod queries;
mod rates;

/// The least time between two reloads: a burst of commits costs one reload.
const RELOAD_INTERVAL_MIN: Duration = Duration::from_millis(200);
/// Reload at least this often, so "overdue now" follows the Kyiv date.
const RELOAD_INTERVAL_MAX: Duration = Duration::from_secs(30);
/// How often an instance that does not ingest looks for new commits in the database.
const COMMITS_POLL: Duration = Duration::from_millis(100);
/// The longest one statement of a reload may run. A reload counts over whole tables (overdue
/// petitions and milestones, each node's quarantine) so it may take longer than a reader's
/// query (`READER_STATEMENT_TIMEOUT`), but only one runs at a time, so a minute bounds it
/// without ever failing it on a healthy database.
const RELOAD_STATEMENT_TIMEOUT: Duration = Duration::from_secs(60);

/// Where one node's verified history stands.
#[derive(Debug, Clone, Default)]
pub struct NodeInfo {
    pub enrolled: bool,
    pub revoked: bool,
    pub verified_size: u64,
    pub received_seq: u64,
    pub checkpoint_size: u64,
    pub checkpoint_root: Vec<u8>,
    pub cosigned_note: String,
    pub verified_at_micros: i64,
    pub quarantined: u64,
    /// 1 when a quarantine record arrived since the last accepted checkpoint, else 0 (the
    /// counts are kept on the node's row, so the table is never counted).
    pub quarantined_recently: u64,
    pub forks: u64,
}

/// Everything the national queries read.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// Bumped on every reload.
    pub version: u64,
    pub as_of: Option<CivilDate>,
    pub counters: BTreeMap<MunicipalityCode, Counters>,
    pub answer_days: BTreeMap<MunicipalityCode, BTreeMap<i32, i64>>,
    /// Petitions past the law's bound for their answer: consideration not started in time
    /// after the threshold, or the answer's deadline passed (`PetitionRow::due`).
    pub overdue_petitions: BTreeMap<MunicipalityCode, u64>,
    /// Petitions awaiting moderation past its deadline.
    pub overdue_moderation: BTreeMap<MunicipalityCode, u64>,
    pub overdue_milestones: BTreeMap<MunicipalityCode, u64>,
    /// Participatory budget rounds' totals per hromada.
    pub budgets: BTreeMap<MunicipalityCode, budgets::BudgetTotals>,
    pub nodes: BTreeMap<MunicipalityCode, NodeInfo>,
    /// Municipalities whose verified history grew since the previous snapshot.
    pub updated: Vec<MunicipalityCode>,
}

/// The shared read model.
#[derive(Debug, Clone)]
pub struct ReadModel {
    pub reference: Arc<Reference>,
    snapshot: Arc<RwLock<Arc<Snapshot>>>,
    version: watch::Sender<u64>,
    /// Bumped by every change of the association's own to the catalogue (a recommendation),
    /// which no commit of the ingest announces.
    catalogue_edits: Arc<std::sync::atomic::AtomicU64>,
}

impl ReadModel {
    pub fn new(reference: Arc<Reference>) -> Self {
        Self {
            reference,
            snapshot: Arc::new(RwLock::new(Arc::new(Snapshot::default()))),
            version: watch::channel(0).0,
            catalogue_edits: Arc::default(),
        }
    }

    /// Says the association changed the catalogue's recommendations.
    pub fn catalogue_edited(&self) {
        self.catalogue_edits
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }

    /// How often the association has changed the catalogue's recommendations.
    pub fn catalogue_edits(&self) -> u64 {
        self.catalogue_edits
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    /// The current snapshot.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        match self.snapshot.read() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// A receiver that changes whenever a new snapshot is in place.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.version.subscribe()
    }

    /// Reloads everything from the database.
    pub async fn reload(&self, store: &Store) -> Result<(), AssociationError> {
        let previous = self.snapshot();
        let mut next = load(store).await?;
        next.version = previous.version + 1;
        next.updated = next
            .nodes
            .iter()
            .filter(|(code, node)| {
                previous
                    .nodes
                    .get(code)
                    .is_none_or(|before| before.verified_size < node.verified_size)
            })
            .map(|(code, _)| *code)
            .collect();
        let version = next.version;
        match self.snapshot.write() {
            Ok(mut guard) => *guard = Arc::new(next),
            Err(poisoned) => *poisoned.into_inner() = Arc::new(next),
        }
        self.version.send_replace(version);
        Ok(())
    }

    /// Keeps the snapshot fresh: reloads after commits (at most every 200 ms) and every 30 s.
    /// Commits are seen in `progress` when the ingest runs in this process, and in the
    /// database's count of commits otherwise (an instance standing by, or serving reads from a
    /// replica), looked at every [`COMMITS_POLL`].
    pub async fn follow(self, store: Store, mut progress: watch::Receiver<IngestProgress>) {
        let commits = |store: &Store| {
            let pool = store.pool().clone();
            async move {
                sqlx::query_scalar::<_, i64>("SELECT commits FROM ingest_position")
                    .fetch_optional(&pool)
                    .await
                    .ok()
                    .flatten()
            }
        };
        loop {
            progress.borrow_and_update();
            let seen = commits(&store).await;
            if let Err(err) = self.reload(&store).await {
                tracing::warn!(error = %err, "reloading the national snapshot failed");
            }
            tokio::time::sleep(RELOAD_INTERVAL_MIN).await;
            let due = tokio::time::Instant::now() + RELOAD_INTERVAL_MAX;
            loop {
                tokio::select! {
                    changed = progress.changed() => if changed.is_err() { return } else { break },
                    () = tokio::time::sleep(COMMITS_POLL) => {
                        if tokio::time::Instant::now() >= due || commits(&store).await != seen {
                            break;
                        }
                    }
                }
            }
        }
    }
}

async fn load(store: &Store) -> Result<Snapshot, AssociationError> {
    let pool = store.pool();
    let today = kyiv_date(Timestamp::now());
    let today_days = i32::try_from(today.epoch_days()).unwrap_or(i32::MAX);
    let mut snapshot = Snapshot {
        as_of: Some(today),
        ..Snapshot::default()
    };
    let mut tx = pool.begin().await.map_err(db)?;
    // One consistent view of all tables.
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        .execute(&mut *tx)
        .await
        .map_err(db)?;
    statement_timeout(&mut tx, RELOAD_STATEMENT_TIMEOUT).await?;
    for row in sqlx::query("SELECT municipality, counters FROM proj_counters")
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?
    {
        let code = parse_code(&row.try_get::<String, _>("municipality").map_err(db)?)?;
        let bytes: Vec<u8> = row.try_get("counters").map_err(db)?;
        let counters = postcard::from_bytes(&bytes)
            .map_err(|e| AssociationError::Corrupt(format!("counters of {code}: {e}")))?;
        snapshot.counters.insert(code, counters);
    }
    for row in sqlx::query("SELECT municipality, days, count FROM proj_answer_days")
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?
    {
        let code = parse_code(&row.try_get::<String, _>("municipality").map_err(db)?)?;
        let days: i32 = row.try_get("days").map_err(db)?;
        let count: i64 = row.try_get("count").map_err(db)?;
        snapshot
            .answer_days
            .entry(code)
            .or_default()
            .insert(days, count);
    }
    // Each petition's `due` is the deadline of the step the council owes now.
    let moderation = i16::from(projection::PetitionPhase::AwaitingModeration.as_u8());
    let petitions = sqlx::query(
        "SELECT municipality, count(*) AS n FROM proj_petition \
         WHERE due < $2 AND phase <> $1 GROUP BY municipality",
    )
    .bind(moderation)
    .bind(today_days);
    snapshot.overdue_petitions = counts(petitions, &mut tx).await?;
    let awaiting = sqlx::query(
        "SELECT municipality, count(*) AS n FROM proj_petition \
         WHERE due < $2 AND phase = $1 GROUP BY municipality",
    )
    .bind(moderation)
    .bind(today_days);
    snapshot.overdue_moderation = counts(awaiting, &mut tx).await?;
    // `domain::action_plan::milestone_overdue`, the node's rule: past due, last report not
    // complete, commitment not assessed, plan adopted and not closed, neither withdrawn.
    let milestones = sqlx::query(
        "SELECT m.municipality, count(*) AS n FROM proj_milestone m \
         JOIN proj_commitment c ON c.municipality = m.municipality AND c.id = m.commitment_id \
         JOIN proj_plan p ON p.municipality = m.municipality AND p.id = m.plan_id \
         WHERE m.due < $1 AND NOT m.complete AND NOT c.assessed AND NOT p.closed \
               AND NOT p.draft AND NOT m.withdrawn AND NOT c.withdrawn \
         GROUP BY m.municipality",
    )
    .bind(today_days);
    snapshot.overdue_milestones = counts(milestones, &mut tx).await?;
    for row in sqlx::query("SELECT row FROM proj_round")
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?
    {
        let bytes: Vec<u8> = row.try_get("row").map_err(db)?;
        let round: projection::RoundRow = crate::rows::decode(crate::rows::ROUNDS, &bytes)?;
        snapshot
            .budgets
            .entry(round.municipality)
            .or_default()
            .add_round(&round);
    }
    for row in sqlx::query(
        "SELECT n.code, n.verified_size, n.received_seq, n.checkpoint_size, n.checkpoint_root, \
                (extract(epoch FROM n.verified_at) * 1000000)::int8 AS verified_at, \
                c.cosigned_note, \
                EXISTS (SELECT 1 FROM enrolment e WHERE e.code = n.code AND e.revoked_at IS NULL) AS active, \
                n.quarantined, \
                (CASE WHEN n.quarantined_at > coalesce(n.verified_at, '-infinity') \
                      THEN 1 ELSE 0 END)::int8 AS recent, \
                (SELECT count(*) FROM fed_fork f WHERE f.code = n.code) AS forks \
         FROM fed_node n \
         LEFT JOIN fed_checkpoint c ON c.code = n.code AND c.size = n.checkpoint_size",
    )
    .fetch_all(&mut *tx)
    .await
    .map_err(db)?
    {
        let code = parse_code(&row.try_get::<String, _>("code").map_err(db)?)?;
        let active: bool = row.try_get("active").map_err(db)?;
        snapshot.nodes.insert(
            code,
            NodeInfo {
                enrolled: true,
                revoked: !active,
                verified_size: uint(row.try_get("verified_size").map_err(db)?),
                received_seq: uint(row.try_get("received_seq").map_err(db)?),
                checkpoint_size: uint(row.try_get("checkpoint_size").map_err(db)?),
                checkpoint_root: row
                    .try_get::<Option<Vec<u8>>, _>("checkpoint_root")
                    .map_err(db)?
                    .unwrap_or_default(),
                cosigned_note: row
                    .try_get::<Option<String>, _>("cosigned_note")
                    .map_err(db)?
                    .unwrap_or_default(),
                verified_at_micros: row
                    .try_get::<Option<i64>, _>("verified_at")
                    .map_err(db)?
                    .unwrap_or(0),
                quarantined: uint(row.try_get("quarantined").map_err(db)?),
                quarantined_recently: uint(row.try_get("recent").map_err(db)?),
                forks: uint(row.try_get("forks").map_err(db)?),
            },
        );
    }
    tx.commit().await.map_err(db)?;
    Ok(snapshot)
}

/// `(municipality, n)` rows as a map.
async fn counts(
    query: sqlx::query::Query<'_, sqlx::Postgres, sqlx::postgres::PgArguments>,
    tx: &mut crate::store::Tx<'_>,
) -> Result<BTreeMap<MunicipalityCode, u64>, AssociationError> {
    let mut out = BTreeMap::new();
    for row in query.fetch_all(&mut **tx).await.map_err(db)? {
        let code = parse_code(&row.try_get::<String, _>("municipality").map_err(db)?)?;
        out.insert(code, uint(row.try_get("n").map_err(db)?));
    }
    Ok(out)
}
