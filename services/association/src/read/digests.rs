//! The projection digest for the audit API, computed at most once per position of the
//! database. The digest scans every projection table and anyone may ask for it, so the callers
//! at one position share one scan, and only one scan runs at a time (single flight), on the
//! read side's pool.
//!
//! The position is PostgreSQL's own (`pg_current_snapshot()`: which transactions had
//! committed), not a counter of this process: it moves with every commit of the ingest and
//! also with what this process never hears of (`vidkryto association rebuild` or `enroll` run
//! beside it), and read-only transactions (every reader's) leave it where it is. Asking for
//! it costs each caller one trivial query; a scan only when something committed since.

use std::sync::Arc;
use std::time::Duration;

use event_store_core::Timestamp;
use tokio::sync::Mutex;

use crate::digest::{self, ProjectionDigest};
use crate::error::AssociationError;
use crate::store::{Store, db};

/// The longest one table's scan of a digest may run. A scan streams its rows and hashes them as
/// they come, a million rows in seconds, so two minutes fails only a database in trouble;
/// being single-flight, a slow scan holds one connection of the read side's pool, not all.
pub(crate) const DIGEST_STATEMENT_TIMEOUT: Duration = Duration::from_secs(120);

/// Which transactions a PostgreSQL snapshot saw committed: those below `xmax` but the ones
/// in progress then.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Position {
    xmax: u64,
    in_progress: Vec<u64>,
}

impl Position {
    /// Parses `pg_snapshot` text, `xmin:xmax:xip,xip,…`.
    fn parse(text: &str) -> Result<Self, AssociationError> {
        let bad = || AssociationError::Database(format!("unexpected pg_snapshot {text:?}"));
        let mut parts = text.split(':');
        let (Some(_xmin), Some(xmax), Some(xip), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        let in_progress = xip
            .split(',')
            .filter(|x| !x.is_empty())
            .map(str::parse)
            .collect::<Result<_, _>>()
            .map_err(|_| bad())?;
        Ok(Self {
            xmax: xmax.parse().map_err(|_| bad())?,
            in_progress,
        })
    }

    /// Whether everything committed as of `asked` is committed as of `self` too, so a digest
    /// read at `self` answers a caller who asked at `asked`.
    fn covers(&self, asked: &Self) -> bool {
        self.xmax >= asked.xmax
            && self
                .in_progress
                .iter()
                .all(|x| *x >= asked.xmax || asked.in_progress.contains(x))
    }
}

/// A digest and when its scan started.
#[derive(Debug)]
pub struct Computed {
    pub digest: ProjectionDigest,
    pub computed_at_micros: i64,
}

#[derive(Debug)]
struct Cached {
    at: Position,
    computed: Arc<Computed>,
}

/// The digest, cached per position and computed by one scan at a time.
#[derive(Debug, Clone)]
pub struct Digests {
    store: Store,
    latest: Arc<Mutex<Option<Cached>>>,
}

impl Digests {
    /// Digests computed on `store` (the read side's pool).
    pub fn new(store: Store) -> Self {
        Self {
            store,
            latest: Arc::default(),
        }
    }

    /// The digest of the projection as of this call or later: the cached one when its scan
    /// saw everything committed before this call, else a new scan's, which every caller
    /// waiting meanwhile shares.
    pub async fn current(&self) -> Result<Arc<Computed>, AssociationError> {
        let asked: String = sqlx::query_scalar("SELECT pg_current_snapshot()::text")
            .fetch_one(self.store.pool())
            .await
            .map_err(db)?;
        let asked = Position::parse(&asked)?;
        let mut latest = self.latest.clone().lock_owned().await;
        if let Some(cached) = latest.as_ref()
            && cached.at.covers(&asked)
        {
            return Ok(cached.computed.clone());
        }
        // The scan runs in a task of its own that holds the lock: a caller that gives up (its
        // request timed out) neither wastes the scan nor lets a second one start beside it.
        let store = self.store.clone();
        let scan = tokio::spawn(async move {
            let computed_at_micros = Timestamp::now().as_micros();
            let (digest, at) =
                digest::compute_within(&store, Some(DIGEST_STATEMENT_TIMEOUT), None).await?;
            let computed = Arc::new(Computed {
                digest,
                computed_at_micros,
            });
            *latest = Some(Cached {
                at: Position::parse(&at)?,
                computed: computed.clone(),
            });
            Ok(computed)
        });
        scan.await
            .map_err(|e| AssociationError::Database(format!("the digest's scan stopped: {e}")))?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Position {
        Position::parse(text).unwrap()
    }

    #[test]
    fn a_scan_answers_only_callers_whose_commits_it_saw() {
        assert_eq!(
            at("10:15:10,12"),
            Position {
                xmax: 15,
                in_progress: vec![10, 12]
            }
        );
        assert_eq!(at("20:20:").in_progress, Vec::<u64>::new());
        assert!(Position::parse("1:2").is_err());
        assert!(Position::parse("1:x:").is_err());

        let scan = at("10:15:10,12");
        assert!(scan.covers(&scan));
        // Asked earlier: 12 and 14 were in progress, or not begun.
        assert!(scan.covers(&at("10:13:10,12")));
        // Asked when 12 had committed: the scan saw it in progress.
        assert!(!scan.covers(&at("10:15:10")));
        // Asked after transaction 15 began (it may have committed).
        assert!(!scan.covers(&at("10:16:10,12,15")));
        // A scan after 10 committed answers a caller who saw it in progress.
        assert!(at("12:15:12").covers(&scan));
    }
}
