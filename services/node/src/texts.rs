//! What the node keeps that its log does not: residents' text that is not public yet (a
//! petition's title and text until publication, a contribution's text until it is accepted, a
//! budget project's title and description until it is found eligible),
//! with the salt of the commitment the log records. It lives in `texts.sqlite` in the node's directory, apart from the log, so the node
//! can erase a text on a lawful request while the log, which holds only the commitment, still
//! verifies. Every erasure is recorded (when, and the reason the operator gave), never the
//! text.

use std::path::Path;
use std::str::FromStr as _;
use std::time::Duration;

use domain::disclosure::{ContributionText, PetitionText, ProjectText, Salt};
use domain::{ContributionId, PetitionId, ProjectId};
use rand::RngCore as _;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};

use crate::error::NodeError;

/// The store's file name in the node's directory.
pub const TEXTS_FILE: &str = "texts.sqlite";
/// Tries to truncate the write-ahead log after an erasure.
const CHECKPOINT_ATTEMPTS: u32 = 20;
/// Longest erasure reason kept.
pub const ERASURE_REASON_LEN_MAX: usize = 2_000;

/// `kind` is `petition` (title and text), `contribution` (text, title empty) or `project`
/// (title, and description as text); `id` the petition's, contribution's or project's UUID.
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS texts (
    kind TEXT NOT NULL,
    id BLOB NOT NULL,
    salt BLOB NOT NULL,
    title TEXT NOT NULL,
    text TEXT NOT NULL,
    PRIMARY KEY (kind, id)
);
CREATE TABLE IF NOT EXISTS erasures (
    kind TEXT NOT NULL,
    id BLOB NOT NULL,
    erased_at TEXT NOT NULL,
    reason TEXT NOT NULL,
    PRIMARY KEY (kind, id)
);
";

/// What a kept text belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TextOf {
    Petition(PetitionId),
    Contribution(ContributionId),
    Project(ProjectId),
}

impl TextOf {
    fn key(self) -> (&'static str, Vec<u8>) {
        match self {
            Self::Petition(id) => ("petition", id.0.as_bytes().to_vec()),
            Self::Contribution(id) => ("contribution", id.0.as_bytes().to_vec()),
            Self::Project(id) => ("project", id.0.as_bytes().to_vec()),
        }
    }
}

impl std::fmt::Display for TextOf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Petition(id) => write!(f, "petition {}", id.0),
            Self::Contribution(id) => write!(f, "contribution {}", id.0),
            Self::Project(id) => write!(f, "project {}", id.0),
        }
    }
}

/// A kept row: salt, title, text.
type Kept = (Vec<u8>, String, String);

/// The node's store of non-public text.
#[derive(Clone, Debug)]
pub struct TextStore {
    pool: SqlitePool,
}

fn storage(e: sqlx::Error) -> NodeError {
    NodeError::Internal(format!("the text store failed: {e}"))
}

/// Why an erasure did not happen.
#[derive(Debug, thiserror::Error)]
pub enum EraseError {
    #[error("the node holds no text of {0} (never written here, or already erased)")]
    NotHeld(TextOf),
    #[error("the reason must be 1 to {ERASURE_REASON_LEN_MAX} bytes")]
    Reason,
    #[error(
        "the text is deleted but the store's write-ahead log still holds it (the database stayed busy); run the erasure again"
    )]
    Busy,
    #[error("the text store failed: {0}")]
    Storage(#[from] sqlx::Error),
}

impl TextStore {
    /// Opens (creating) the store in the node's directory `dir`.
    pub async fn open(dir: &Path) -> anyhow::Result<Self> {
        let path = dir.join(TEXTS_FILE);
        // Created owner-only before SQLite opens it: its -wal and -shm files take its mode.
        #[cfg(unix)]
        {
            use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .mode(0o600)
                .open(&path)?;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
        }
        let options = SqliteConnectOptions::from_str("sqlite:")?
            .filename(&path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // Deleted text is overwritten with zeros, not left in free pages.
            .pragma("secure_delete", "on")
            .busy_timeout(Duration::from_secs(5));
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await?;
        sqlx::raw_sql(SCHEMA).execute(&pool).await?;
        Ok(Self { pool })
    }

    /// Keeps a text under a fresh salt unless one is kept already (a retried command);
    /// returns what is kept, whose commitment the command records, and whether this call
    /// kept it (the caller forgets it again unless the command appends it:
    /// [`TextStore::forget`]). An id whose text was erased takes no text again.
    async fn keep(&self, of: TextOf, title: &str, text: &str) -> Result<(Kept, bool), NodeError> {
        let mut salt = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut salt);
        let (kind, id) = of.key();
        // One statement: nothing is inserted under an erased id.
        let inserted = sqlx::query(
            "INSERT INTO texts (kind, id, salt, title, text)
             SELECT $1, $2, $3, $4, $5
             WHERE NOT EXISTS (SELECT 1 FROM erasures WHERE kind = $1 AND id = $2)
             ON CONFLICT (kind, id) DO NOTHING",
        )
        .bind(kind)
        .bind(&id)
        .bind(salt.to_vec())
        .bind(title)
        .bind(text)
        .execute(&self.pool)
        .await
        .map_err(storage)?
        .rows_affected()
            == 1;
        // Nothing kept after that insert: the id's text was erased.
        let kept = self.kept(of).await?.ok_or_else(|| {
            NodeError::invalid(
                "request_id",
                "names a text that was erased on request; send a new request id",
            )
        })?;
        Ok((kept, inserted))
    }

    /// Forgets a text kept for a command that did not append it (refused, or answered from an
    /// earlier command under the same id), so nothing is kept that the log does not commit to.
    pub async fn forget(&self, of: TextOf) -> Result<(), NodeError> {
        let (kind, id) = of.key();
        sqlx::query("DELETE FROM texts WHERE kind = $1 AND id = $2")
            .bind(kind)
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(storage)?;
        Ok(())
    }

    async fn kept(&self, of: TextOf) -> Result<Option<Kept>, NodeError> {
        let (kind, id) = of.key();
        sqlx::query_as("SELECT salt, title, text FROM texts WHERE kind = $1 AND id = $2")
            .bind(kind)
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(storage)
    }

    /// Keeps a petition's title and text (see [`TextStore::keep`]).
    pub async fn keep_petition(
        &self,
        petition: PetitionId,
        title: &str,
        text: &str,
    ) -> Result<(PetitionText, bool), NodeError> {
        let ((salt, title, text), inserted) =
            self.keep(TextOf::Petition(petition), title, text).await?;
        let kept = PetitionText {
            salt: salt_of(salt)?,
            title,
            text,
        };
        Ok((kept, inserted))
    }

    /// A petition's kept title and text, if held.
    pub async fn petition(&self, petition: PetitionId) -> Result<Option<PetitionText>, NodeError> {
        self.kept(TextOf::Petition(petition))
            .await?
            .map(|(salt, title, text)| {
                Ok(PetitionText {
                    salt: salt_of(salt)?,
                    title,
                    text,
                })
            })
            .transpose()
    }

    /// Keeps a contribution's text (see [`TextStore::keep`]).
    pub async fn keep_contribution(
        &self,
        contribution: ContributionId,
        text: &str,
    ) -> Result<(ContributionText, bool), NodeError> {
        let ((salt, _, text), inserted) = self
            .keep(TextOf::Contribution(contribution), "", text)
            .await?;
        let kept = ContributionText {
            salt: salt_of(salt)?,
            text,
        };
        Ok((kept, inserted))
    }

    /// A contribution's kept text, if held.
    pub async fn contribution(
        &self,
        contribution: ContributionId,
    ) -> Result<Option<ContributionText>, NodeError> {
        self.kept(TextOf::Contribution(contribution))
            .await?
            .map(|(salt, _, text)| {
                Ok(ContributionText {
                    salt: salt_of(salt)?,
                    text,
                })
            })
            .transpose()
    }

    /// Keeps a budget project's title and description (see [`TextStore::keep`]).
    pub async fn keep_project(
        &self,
        project: ProjectId,
        title: &str,
        description: &str,
    ) -> Result<(ProjectText, bool), NodeError> {
        let ((salt, title, description), inserted) = self
            .keep(TextOf::Project(project), title, description)
            .await?;
        let kept = ProjectText {
            salt: salt_of(salt)?,
            title,
            description,
        };
        Ok((kept, inserted))
    }

    /// A budget project's kept title and description, if held.
    pub async fn project(&self, project: ProjectId) -> Result<Option<ProjectText>, NodeError> {
        self.kept(TextOf::Project(project))
            .await?
            .map(|(salt, title, description)| {
                Ok(ProjectText {
                    salt: salt_of(salt)?,
                    title,
                    description,
                })
            })
            .transpose()
    }

    /// Erases a kept text, recording when and why.
    pub async fn erase(&self, of: TextOf, reason: &str) -> Result<(), EraseError> {
        if reason.trim().is_empty() || reason.len() > ERASURE_REASON_LEN_MAX {
            return Err(EraseError::Reason);
        }
        let (kind, id) = of.key();
        let mut tx = self.pool.begin().await?;
        let deleted = sqlx::query("DELETE FROM texts WHERE kind = $1 AND id = $2")
            .bind(kind)
            .bind(&id)
            .execute(&mut *tx)
            .await?;
        if deleted.rows_affected() == 0 {
            return Err(EraseError::NotHeld(of));
        }
        sqlx::query(
            "INSERT INTO erasures (kind, id, erased_at, reason)
             VALUES ($1, $2, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'), $3)
             ON CONFLICT (kind, id) DO UPDATE SET erased_at = excluded.erased_at, reason = excluded.reason",
        )
        .bind(kind)
        .bind(&id)
        .bind(reason)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        // Nor in the write-ahead log's copies of the pages: the checkpoint must complete (it
        // reports a busy database as a row, not an error), else the erasure is not done.
        for attempt in 0..CHECKPOINT_ATTEMPTS {
            let (busy, log, done): (i64, i64, i64) =
                sqlx::query_as("PRAGMA wal_checkpoint(TRUNCATE)")
                    .fetch_one(&self.pool)
                    .await?;
            if busy == 0 && log == done {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100 << attempt.min(4))).await;
        }
        Err(EraseError::Busy)
    }

    /// Whether a text was erased.
    pub async fn erased(&self, of: TextOf) -> Result<bool, NodeError> {
        let (kind, id) = of.key();
        let found: Option<i64> =
            sqlx::query_scalar("SELECT 1 FROM erasures WHERE kind = $1 AND id = $2")
                .bind(kind)
                .bind(id)
                .fetch_optional(&self.pool)
                .await
                .map_err(storage)?;
        Ok(found.is_some())
    }
}

fn salt_of(bytes: Vec<u8>) -> Result<Salt, NodeError> {
    let salt: [u8; 32] = bytes
        .try_into()
        .map_err(|_| NodeError::Internal("a kept salt is not 32 bytes".into()))?;
    Ok(Salt(salt))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_kept_text_is_kept_once_and_erased_wholly() {
        let dir = tempfile::tempdir().unwrap();
        let store = TextStore::open(dir.path()).await.unwrap();
        let id = PetitionId(uuid::Uuid::now_v7());
        let (first, inserted) = store
            .keep_petition(id, "Сквер", "Зберегти сквер.")
            .await
            .unwrap();
        assert!(inserted);
        // A retry keeps the first text and salt, so the commitment does not change.
        let (again, inserted) = store
            .keep_petition(id, "Інше", "Інший текст.")
            .await
            .unwrap();
        assert_eq!(first, again);
        assert!(!inserted);
        assert_eq!(store.petition(id).await.unwrap(), Some(first));
        // A contribution with the same id is another text.
        let contribution = ContributionId(id.0);
        let (said, _) = store
            .keep_contribution(contribution, "Підтримую.")
            .await
            .unwrap();
        assert_eq!(store.contribution(contribution).await.unwrap(), Some(said));
        let of = TextOf::Petition(id);
        assert!(matches!(
            store.erase(of, " ").await,
            Err(EraseError::Reason)
        ));
        store.erase(of, "рішення суду № 1/2026").await.unwrap();
        assert_eq!(store.petition(id).await.unwrap(), None);
        assert!(store.erased(of).await.unwrap());
        assert!(
            !store
                .erased(TextOf::Contribution(contribution))
                .await
                .unwrap()
        );
        assert!(store.contribution(contribution).await.unwrap().is_some());
        assert!(matches!(
            store.erase(of, "again").await,
            Err(EraseError::NotHeld(_))
        ));
        // An erased id takes no text again (a retried filing cannot put it back).
        assert!(
            store
                .keep_petition(id, "Сквер", "Зберегти сквер.")
                .await
                .is_err()
        );
        // A text kept for a command that was refused is forgotten.
        let other = ContributionId(uuid::Uuid::now_v7());
        store.keep_contribution(other, "Ні.").await.unwrap();
        store.forget(TextOf::Contribution(other)).await.unwrap();
        assert_eq!(store.contribution(other).await.unwrap(), None);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(dir.path().join(TEXTS_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0, "owner only");
        }
        // Nothing of the text is left in the file.
        drop(store);
        for file in std::fs::read_dir(dir.path()).unwrap() {
            let bytes = std::fs::read(file.unwrap().path()).unwrap();
            let needle = "Зберегти сквер.".as_bytes();
            assert!(!bytes.windows(needle.len()).any(|w| w == needle));
        }
    }
}
