//! What the node keeps that its log does not: residents' text that is not public yet (a
//! petition's title and text until publication), with the salt of the commitment the log
//! records. It lives in `texts.sqlite` in the node's directory, apart from the log, so the node
//! can erase a text on a lawful request while the log, which holds only the commitment, still
//! verifies. Every erasure is recorded (when, and the reason the operator gave), never the
//! text.

use std::path::Path;
use std::str::FromStr as _;
use std::time::Duration;

use domain::PetitionId;
use domain::disclosure::{PetitionText, Salt};
use rand::RngCore as _;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};

use crate::error::NodeError;

/// The store's file name in the node's directory.
pub const TEXTS_FILE: &str = "texts.sqlite";
/// Longest erasure reason kept.
pub const ERASURE_REASON_LEN_MAX: usize = 2_000;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS petition_texts (
    petition_id BLOB PRIMARY KEY NOT NULL,
    salt BLOB NOT NULL,
    title TEXT NOT NULL,
    text TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS erasures (
    petition_id BLOB PRIMARY KEY NOT NULL,
    erased_at TEXT NOT NULL,
    reason TEXT NOT NULL
);
";

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
    #[error("the node holds no text of petition {0} (never filed here, or already erased)")]
    NotHeld(PetitionId),
    #[error("the reason must be 1 to {ERASURE_REASON_LEN_MAX} bytes")]
    Reason,
    #[error("the text store failed: {0}")]
    Storage(#[from] sqlx::Error),
}

impl TextStore {
    /// Opens (creating) the store in the node's directory `dir`.
    pub async fn open(dir: &Path) -> anyhow::Result<Self> {
        let path = dir.join(TEXTS_FILE);
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
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
        }
        Ok(Self { pool })
    }

    /// Keeps a petition's title and text under a fresh salt, unless it is kept already (a
    /// retried filing): returns what is kept, whose commitment the filing records.
    pub async fn keep(
        &self,
        petition: PetitionId,
        title: &str,
        text: &str,
    ) -> Result<PetitionText, NodeError> {
        let mut salt = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut salt);
        let id = petition.0.as_bytes().to_vec();
        sqlx::query(
            "INSERT INTO petition_texts (petition_id, salt, title, text) VALUES ($1, $2, $3, $4)
             ON CONFLICT (petition_id) DO NOTHING",
        )
        .bind(&id)
        .bind(salt.to_vec())
        .bind(title)
        .bind(text)
        .execute(&self.pool)
        .await
        .map_err(storage)?;
        self.petition(petition)
            .await?
            .ok_or_else(|| NodeError::Internal("a kept text is not found".into()))
    }

    /// A petition's kept title and text, if held.
    pub async fn petition(&self, petition: PetitionId) -> Result<Option<PetitionText>, NodeError> {
        let row: Option<(Vec<u8>, String, String)> =
            sqlx::query_as("SELECT salt, title, text FROM petition_texts WHERE petition_id = $1")
                .bind(petition.0.as_bytes().to_vec())
                .fetch_optional(&self.pool)
                .await
                .map_err(storage)?;
        row.map(|(salt, title, text)| {
            let salt: [u8; 32] = salt
                .try_into()
                .map_err(|_| NodeError::Internal("a kept salt is not 32 bytes".into()))?;
            Ok(PetitionText {
                salt: Salt(salt),
                title,
                text,
            })
        })
        .transpose()
    }

    /// Erases a petition's kept title and text, recording when and why.
    pub async fn erase(&self, petition: PetitionId, reason: &str) -> Result<(), EraseError> {
        if reason.trim().is_empty() || reason.len() > ERASURE_REASON_LEN_MAX {
            return Err(EraseError::Reason);
        }
        let id = petition.0.as_bytes().to_vec();
        let mut tx = self.pool.begin().await?;
        let deleted = sqlx::query("DELETE FROM petition_texts WHERE petition_id = $1")
            .bind(&id)
            .execute(&mut *tx)
            .await?;
        if deleted.rows_affected() == 0 {
            return Err(EraseError::NotHeld(petition));
        }
        sqlx::query(
            "INSERT INTO erasures (petition_id, erased_at, reason) VALUES ($1, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'), $2)
             ON CONFLICT (petition_id) DO UPDATE SET erased_at = excluded.erased_at, reason = excluded.reason",
        )
        .bind(&id)
        .bind(reason)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        // Nor in the write-ahead log's copies of the pages.
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Whether a petition's text was erased.
    pub async fn erased(&self, petition: PetitionId) -> Result<bool, NodeError> {
        let found: Option<i64> =
            sqlx::query_scalar("SELECT 1 FROM erasures WHERE petition_id = $1")
                .bind(petition.0.as_bytes().to_vec())
                .fetch_optional(&self.pool)
                .await
                .map_err(storage)?;
        Ok(found.is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_kept_text_is_kept_once_and_erased_wholly() {
        let dir = tempfile::tempdir().unwrap();
        let store = TextStore::open(dir.path()).await.unwrap();
        let id = PetitionId(uuid::Uuid::now_v7());
        let first = store.keep(id, "Сквер", "Зберегти сквер.").await.unwrap();
        // A retry keeps the first text and salt, so the commitment does not change.
        let again = store.keep(id, "Інше", "Інший текст.").await.unwrap();
        assert_eq!(first, again);
        assert_eq!(store.petition(id).await.unwrap(), Some(first));
        assert!(matches!(
            store.erase(id, " ").await,
            Err(EraseError::Reason)
        ));
        store.erase(id, "рішення суду № 1/2026").await.unwrap();
        assert_eq!(store.petition(id).await.unwrap(), None);
        assert!(store.erased(id).await.unwrap());
        assert!(matches!(
            store.erase(id, "again").await,
            Err(EraseError::NotHeld(_))
        ));
        // Nothing of the text is left in the file.
        drop(store);
        for file in std::fs::read_dir(dir.path()).unwrap() {
            let bytes = std::fs::read(file.unwrap().path()).unwrap();
            let needle = "Зберегти сквер.".as_bytes();
            assert!(!bytes.windows(needle.len()).any(|w| w == needle));
        }
    }
}
