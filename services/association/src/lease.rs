//! Which `association run` instance ingests, when several run on one database: a lease in
//! PostgreSQL (`ingest_lease`, one row: holder, epoch, expiry), with fencing.
//!
//! **Taking it.** An instance standing by tries every [`CAMPAIGN_INTERVAL`]. It takes the lease
//! when it has run out, or at once when it can take the session advisory lock [`LEASE_LOCK`]
//! that the leader holds on its lease connection for as long as it lives (the row's `locked`):
//! a leader killed (SIGKILL, a crash, a machine gone) loses its connection, and with it the
//! lock, so a standby follows within a second. A leader that took over from a paused one takes
//! the lock once that one lets it go (a standby that takes it while the leader lives without it
//! lets it go again). Every takeover adds one to the epoch.
//!
//! **Fencing.** The leader renews the lease every [`RENEW_INTERVAL`], and every write of the
//! ingest renews it first in its own transaction ([`fence`]), only while holder and epoch are
//! still its own and the lease has not run out, under the row's lock until the transaction
//! ends. A takeover's `UPDATE` of that row therefore comes wholly before or wholly after such
//! a transaction: a former leader that was paused (SIGSTOP, a stalled VM) or cut off and comes
//! back finds another epoch and commits nothing. A transaction left open by a paused leader
//! is ended by PostgreSQL after `idle_in_transaction_session_timeout` (`store`), which frees
//! the row; a takeover waits at most [`LOCK_WAIT_MAX`] per attempt for it.

use std::time::Duration;

use sqlx::postgres::PgConnection;
use sqlx::{Connection as _, Row};

use crate::error::AssociationError;
use crate::store::{Store, db};

/// How long a lease lasts unless renewed.
pub const LEASE_TTL: Duration = Duration::from_secs(10);
/// How often the leader renews it.
pub const RENEW_INTERVAL: Duration = Duration::from_secs(2);
/// How often an instance standing by tries to take it.
pub const CAMPAIGN_INTERVAL: Duration = Duration::from_millis(500);
/// How long one statement on the lease connection may wait for the row's lock.
const LOCK_WAIT_MAX: Duration = Duration::from_secs(1);
/// How long one statement on the lease connection may take.
const STATEMENT_MAX: Duration = Duration::from_secs(3);
/// The session advisory lock a leader holds while it lives ("vidkryto ingest" in ASCII, cut).
const LEASE_LOCK: i64 = 0x7669_646b_696e_6765;

/// A term of leadership: this instance's id and the epoch it took the lease at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lease {
    pub holder: uuid::Uuid,
    pub epoch: i64,
}

/// What an instance that does not lead knows of the one that does (the lease row).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LeaderView {
    /// Someone holds a lease that has not run out.
    pub held: bool,
    /// The leader's word, at its last renewal, that it reads its stream as fast as it fills.
    pub current: bool,
}

/// Reads the lease row (also on a read-only replica of the database).
pub async fn observe(store: &Store) -> Result<LeaderView, AssociationError> {
    let row = sqlx::query(
        "SELECT current, holder IS NOT NULL AND expires_at > clock_timestamp() AS held \
         FROM ingest_lease WHERE id = 1",
    )
    .fetch_optional(store.pool())
    .await
    .map_err(db)?;
    let Some(row) = row else {
        return Ok(LeaderView::default());
    };
    let held: bool = row.try_get("held").map_err(db)?;
    Ok(LeaderView {
        held,
        current: held && row.try_get::<bool, _>("current").map_err(db)?,
    })
}

/// Renews `lease` inside a write transaction, or refuses: the first statement of every write
/// the ingest makes. The row stays locked until the transaction ends, so no takeover falls
/// inside it.
pub async fn fence(conn: &mut PgConnection, lease: &Lease) -> Result<(), AssociationError> {
    let renewed = sqlx::query(
        "UPDATE ingest_lease SET expires_at = clock_timestamp() + $3 * interval '1 millisecond' \
         WHERE id = 1 AND holder = $1::uuid AND epoch = $2 AND expires_at > clock_timestamp()",
    )
    .bind(lease.holder.to_string())
    .bind(lease.epoch)
    .bind(millis(LEASE_TTL))
    .execute(conn)
    .await
    .map_err(db)?
    .rows_affected();
    if renewed == 1 {
        Ok(())
    } else {
        Err(AssociationError::Fenced { epoch: lease.epoch })
    }
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// One instance's side of the lease: its id and, while it campaigns or leads, a connection of
/// its own (holding [`LEASE_LOCK`] once it could take it).
#[derive(Debug)]
pub struct Candidate {
    store: Store,
    holder: uuid::Uuid,
    conn: Option<PgConnection>,
    holds_lock: bool,
}

impl Candidate {
    pub fn new(store: Store) -> Self {
        Self {
            store,
            holder: uuid::Uuid::now_v7(),
            conn: None,
            holds_lock: false,
        }
    }

    /// This instance's id, as the lease row names its holder.
    pub fn holder(&self) -> uuid::Uuid {
        self.holder
    }

    async fn conn(&mut self) -> Result<&mut PgConnection, AssociationError> {
        if self.conn.is_none() {
            let mut conn = self.store.pool().acquire().await.map_err(db)?.detach();
            for (setting, value) in [
                ("lock_timeout", format!("{}ms", millis(LOCK_WAIT_MAX))),
                ("statement_timeout", format!("{}ms", millis(STATEMENT_MAX))),
                (
                    "application_name",
                    crate::store::LEASE_APPLICATION_NAME.to_owned(),
                ),
            ] {
                sqlx::query("SELECT set_config($1, $2, false)")
                    .bind(setting)
                    .bind(value)
                    .execute(&mut conn)
                    .await
                    .map_err(db)?;
            }
            self.conn = Some(conn);
            self.holds_lock = false;
        }
        self.conn
            .as_mut()
            .ok_or_else(|| AssociationError::Database("no lease connection".into()))
    }

    /// Forgets the lease connection after an error that is not the database's own answer (a
    /// timeout or refusal keeps the session, and with it the lock, so a busy database does not
    /// hand leadership around).
    fn after_error(&mut self, err: &AssociationError) {
        if !matches!(err, AssociationError::Database(text) if text.starts_with(DATABASE_ANSWER)) {
            self.drop_conn();
        }
    }

    /// Forgets the lease connection (its session, and any lock, ends).
    fn drop_conn(&mut self) {
        if let Some(conn) = self.conn.take() {
            tokio::spawn(async move {
                let _ = tokio::time::timeout(Duration::from_secs(1), conn.close()).await;
            });
        }
        self.holds_lock = false;
    }

    /// Takes [`LEASE_LOCK`] if it is free; whether this session holds it now.
    async fn try_lock(&mut self) -> Result<bool, AssociationError> {
        if !self.holds_lock {
            let conn = self.conn().await?;
            let locked: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
                .bind(LEASE_LOCK)
                .fetch_one(conn)
                .await
                .map_err(db)?;
            self.holds_lock = locked;
        }
        Ok(self.holds_lock)
    }

    /// One attempt to lead: the lease when this instance took it.
    pub async fn try_acquire(&mut self) -> Result<Option<Lease>, AssociationError> {
        let result = self.acquire_once().await;
        if let Err(err) = &result {
            self.after_error(err);
        }
        result
    }

    async fn acquire_once(&mut self) -> Result<Option<Lease>, AssociationError> {
        // Holding the lock a leader that held it would still hold means that leader is gone:
        // no need to wait out its lease. (A leader that took over from a paused one may not
        // hold it yet; then the lease must run out.)
        let locked = self.try_lock().await?;
        let holder = self.holder.to_string();
        let conn = self.conn().await?;
        let taken: Option<i64> = sqlx::query_scalar(
            "UPDATE ingest_lease SET holder = $1::uuid, epoch = epoch + 1, current = false, \
                 locked = $3, expires_at = clock_timestamp() + $2 * interval '1 millisecond' \
             WHERE id = 1 AND (expires_at <= clock_timestamp() OR ($3 AND locked)) \
             RETURNING epoch",
        )
        .bind(&holder)
        .bind(millis(LEASE_TTL))
        .bind(locked)
        .fetch_optional(&mut *conn)
        .await
        .or_else(|e| match lock_timeout(&e) {
            // The row is locked by a write of the leader: it is alive.
            true => Ok(None),
            false => Err(db(e)),
        })?;
        if taken.is_none() && locked {
            // The leader lives without the lock: leave it free for the leader to take.
            sqlx::query("SELECT pg_advisory_unlock($1)")
                .bind(LEASE_LOCK)
                .execute(conn)
                .await
                .map_err(db)?;
            self.holds_lock = false;
        }
        Ok(taken.map(|epoch| Lease {
            holder: self.holder,
            epoch,
        }))
    }

    /// Renews `lease`, recording the leader's word on being `current`; `false` once it is
    /// another's (or ran out), after which this instance must not write.
    pub async fn renew(&mut self, lease: &Lease, current: bool) -> Result<bool, AssociationError> {
        let result = self.renew_once(lease, current).await;
        if let Err(err) = &result {
            self.after_error(err);
        }
        result
    }

    async fn renew_once(&mut self, lease: &Lease, current: bool) -> Result<bool, AssociationError> {
        // A leader that took over from a paused one could not take the lock then.
        let locked = self.try_lock().await?;
        let conn = self.conn().await?;
        let renewed = sqlx::query(
            "UPDATE ingest_lease SET current = $3, locked = $5, \
                 expires_at = clock_timestamp() + $4 * interval '1 millisecond' \
             WHERE id = 1 AND holder = $1::uuid AND epoch = $2 AND expires_at > clock_timestamp()",
        )
        .bind(lease.holder.to_string())
        .bind(lease.epoch)
        .bind(current)
        .bind(millis(LEASE_TTL))
        .bind(locked)
        .execute(&mut *conn)
        .await;
        match renewed {
            Ok(done) => Ok(done.rows_affected() == 1),
            // A write holds the row: one of this leader's (which renews the lease itself), or a
            // takeover. What is committed says which.
            Err(e) if lock_timeout(&e) => sqlx::query_scalar(
                "SELECT holder = $1::uuid AND epoch = $2 AND expires_at > clock_timestamp() \
                 FROM ingest_lease WHERE id = 1",
            )
            .bind(lease.holder.to_string())
            .bind(lease.epoch)
            .fetch_optional(conn)
            .await
            .map(|ours: Option<Option<bool>>| ours.flatten().unwrap_or(false))
            .map_err(db),
            Err(e) => Err(db(e)),
        }
    }

    /// Gives up the lease if this instance holds it, and the lease connection (with its lock):
    /// a standby takes over at once.
    pub async fn step_down(&mut self) {
        if let Err(err) = release(&self.store, self.holder).await {
            tracing::warn!(error = %err, "cannot give up the ingest lease; it runs out");
        }
        self.drop_conn();
    }
}

/// Gives up the lease if `holder` holds it (a term that ended, or a clean shutdown with its
/// tasks stopped): a standby takes over at once.
pub async fn release(store: &Store, holder: uuid::Uuid) -> Result<(), AssociationError> {
    sqlx::query(
        "UPDATE ingest_lease SET expires_at = '-infinity', current = false, locked = false \
         WHERE id = 1 AND holder = $1::uuid",
    )
    .bind(holder.to_string())
    .execute(store.pool())
    .await
    .map_err(db)?;
    Ok(())
}

/// How `store::db` words an error PostgreSQL answered (as opposed to a lost connection).
const DATABASE_ANSWER: &str = "error returned from database";

/// Whether `e` is PostgreSQL's `lock_not_available` (a `lock_timeout` that ran out).
fn lock_timeout(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .and_then(|d| d.code())
        .is_some_and(|code| code == "55P03")
}
