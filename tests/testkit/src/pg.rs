//! Fresh PostgreSQL databases on the test server, one per test, so tests never share state.

use anyhow::Context as _;
use sqlx::Connection as _;

/// Environment variable naming the server's admin URL (`deploy/local/setup.sh` exports it).
pub const PG_URL_ENV: &str = "VIDKRYTO_TEST_PG_URL";
const PG_URL_DEFAULT: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// The admin URL of the test server.
pub fn admin_url() -> String {
    std::env::var(PG_URL_ENV).unwrap_or_else(|_| PG_URL_DEFAULT.to_owned())
}

/// A database created for one test; dropped (with its connections closed) by [`Self::drop_db`].
#[derive(Debug)]
pub struct PgDatabase {
    pub name: String,
    pub url: String,
}

impl PgDatabase {
    /// Creates `vidkryto_test_<uuid-ish>` on the test server.
    pub async fn create() -> anyhow::Result<Self> {
        let admin = admin_url();
        let name = format!("vidkryto_test_{}", unique_suffix());
        let mut conn = sqlx::PgConnection::connect(&admin)
            .await
            .with_context(|| format!("failed to connect to {admin}"))?;
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
            .execute(&mut conn)
            .await
            .context("failed to create the test database")?;
        let base = admin
            .rsplit_once('/')
            .map(|(base, _)| base.to_owned())
            .unwrap_or(admin.clone());
        Ok(Self {
            url: format!("{base}/{name}"),
            name,
        })
    }

    /// Drops the database, closing whatever still connects to it.
    pub async fn drop_db(self) -> anyhow::Result<()> {
        let mut conn = sqlx::PgConnection::connect(&admin_url()).await?;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
            self.name
        )))
        .execute(&mut conn)
        .await?;
        Ok(())
    }
}

/// Whether a database of that name exists on the test server.
pub async fn database_exists(name: &str) -> anyhow::Result<bool> {
    let mut conn = sqlx::PgConnection::connect(&admin_url()).await?;
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(name)
            .fetch_one(&mut conn)
            .await?;
    Ok(exists)
}

/// Unique across processes (the pid) and within one (a counter: two tests' threads can read
/// the same nanosecond, which once gave two tests one database name).
fn unique_suffix() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::{SystemTime, UNIX_EPOCH};
    static CREATED: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let n = CREATED.fetch_add(1, Ordering::Relaxed);
    format!("{:x}_{}_{n}", nanos, std::process::id())
}
