//! The projection digest over the PostgreSQL tables: every row in the canonical order the
//! `projection` crate defines, read in one repeatable-read snapshot together with the verified
//! position of every node, so the digest and the positions it derives from always match.

use std::time::Duration;

use event_store_core::MunicipalityCode;
use futures_util::TryStreamExt;
use projection::{
    AnswerDays, BudgetProjectRow, CommitmentRow, Counters, DialogueRow, DigestBuilder,
    MilestoneRow, PetitionRow, PlanRow, RoundRow, WeeklyCounters,
};
use sqlx::Row;

use crate::error::AssociationError;
use crate::rows::decode;
use crate::store::{Store, db, parse_code, uint};

/// A node's verified position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position {
    pub code: String,
    pub verified_size: u64,
    pub root: Vec<u8>,
}

/// The digest and the positions it covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectionDigest {
    pub hex: String,
    pub rows: u64,
    pub positions: Vec<Position>,
}

fn corrupt(e: projection::DigestError) -> AssociationError {
    AssociationError::Corrupt(format!("projection rows out of canonical order: {e}"))
}

/// What sees every row the digest's scan reads, in digest order, from the same snapshot (the
/// open-data files are written this way, so they derive from exactly the stated positions).
pub trait RowSink: Send {
    fn counters(&mut self, code: MunicipalityCode, counters: &Counters);
    fn weekly(&mut self, row: &WeeklyCounters);
    fn answer_days(&mut self, row: &AnswerDays);
    fn petition(&mut self, row: &PetitionRow);
    fn dialogue(&mut self, row: &DialogueRow);
    fn plan(&mut self, row: &PlanRow);
    fn commitment(&mut self, row: &CommitmentRow);
    fn milestone(&mut self, row: &MilestoneRow);
    fn round(&mut self, row: &RoundRow);
    fn budget_project(&mut self, row: &BudgetProjectRow);
    /// A public entry of the practice catalogue (read in the same snapshot after the
    /// projection's rows; not part of the digest).
    fn practice(&mut self, row: &sqlx::postgres::PgRow) -> Result<(), AssociationError>;
}

/// Computes the digest of the current projection.
pub async fn compute(store: &Store) -> Result<ProjectionDigest, AssociationError> {
    Ok(compute_within(store, None, None).await?.0)
}

/// Computes the digest of the current projection, each table's scan bounded by
/// `statement_timeout` when given (instead of the session's bound); with the PostgreSQL
/// snapshot it read (`pg_current_snapshot()` as text: which transactions it saw committed).
pub async fn compute_within(
    store: &Store,
    statement_timeout: Option<Duration>,
    mut sink: Option<&mut dyn RowSink>,
) -> Result<(ProjectionDigest, String), AssociationError> {
    let mut tx = store.pool().begin().await.map_err(db)?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        .execute(&mut *tx)
        .await
        .map_err(db)?;
    if let Some(timeout) = statement_timeout {
        crate::store::statement_timeout(&mut tx, timeout).await?;
    }
    // Repeatable read: every statement of the transaction reads this one snapshot.
    let snapshot: String = sqlx::query_scalar("SELECT pg_current_snapshot()::text")
        .fetch_one(&mut *tx)
        .await
        .map_err(db)?;
    let mut builder = DigestBuilder::new();

    let mut rows = sqlx::query(
        "SELECT municipality, counters FROM proj_counters ORDER BY municipality COLLATE \"C\"",
    )
    .fetch(&mut *tx);
    while let Some(row) = rows.try_next().await.map_err(db)? {
        // Rows already received do not yield: a whole country's would hold a runtime thread
        // (every loop below does the same).
        tokio::task::coop::consume_budget().await;
        let code = parse_code(&row.try_get::<String, _>("municipality").map_err(db)?)?;
        let bytes: Vec<u8> = row.try_get("counters").map_err(db)?;
        let counters: Counters = decode("proj_counters", &bytes)?;
        builder.counters(code, &counters).map_err(corrupt)?;
        if let Some(sink) = sink.as_mut() {
            sink.counters(code, &counters);
        }
    }
    drop(rows);

    let mut rows =
        sqlx::query("SELECT * FROM proj_weekly ORDER BY municipality COLLATE \"C\", week")
            .fetch(&mut *tx);
    while let Some(row) = rows.try_next().await.map_err(db)? {
        tokio::task::coop::consume_budget().await;
        let code = parse_code(&row.try_get::<String, _>("municipality").map_err(db)?)?;
        let get = |name: &str| row.try_get::<i64, _>(name).map_err(db);
        let weekly = WeeklyCounters {
            municipality: code,
            week: row.try_get("week").map_err(db)?,
            petitions_filed: get("petitions_filed")?,
            signatures: get("signatures")?,
            petitions_threshold_reached: get("petitions_threshold_reached")?,
            petitions_answered: get("petitions_answered")?,
            dialogues_closed: get("dialogues_closed")?,
            contributions: get("contributions")?,
            milestones_completed: get("milestones_completed")?,
        };
        builder.weekly(&weekly).map_err(corrupt)?;
        if let Some(sink) = sink.as_mut() {
            sink.weekly(&weekly);
        }
    }
    drop(rows);

    let mut rows = sqlx::query(
        "SELECT municipality, days, count FROM proj_answer_days ORDER BY municipality COLLATE \"C\", days",
    )
    .fetch(&mut *tx);
    while let Some(row) = rows.try_next().await.map_err(db)? {
        tokio::task::coop::consume_budget().await;
        let code = parse_code(&row.try_get::<String, _>("municipality").map_err(db)?)?;
        let days = AnswerDays {
            municipality: code,
            days: row.try_get("days").map_err(db)?,
            count: row.try_get("count").map_err(db)?,
        };
        builder.answer_days(&days).map_err(corrupt)?;
        if let Some(sink) = sink.as_mut() {
            sink.answer_days(&days);
        }
    }
    drop(rows);

    macro_rules! entities {
        ($table:literal, $method:ident, $ty:ty) => {{
            let mut rows = sqlx::query(concat!(
                "SELECT row FROM ",
                $table,
                " ORDER BY municipality COLLATE \"C\", id"
            ))
            .fetch(&mut *tx);
            while let Some(row) = rows.try_next().await.map_err(db)? {
                tokio::task::coop::consume_budget().await;
                let bytes: Vec<u8> = row.try_get("row").map_err(db)?;
                let entity: $ty = decode($table, &bytes)?;
                builder.$method(&entity).map_err(corrupt)?;
                if let Some(sink) = sink.as_mut() {
                    sink.$method(&entity);
                }
            }
        }};
    }
    entities!("proj_petition", petition, PetitionRow);
    entities!("proj_dialogue", dialogue, DialogueRow);
    entities!("proj_plan", plan, PlanRow);
    entities!("proj_commitment", commitment, CommitmentRow);
    entities!("proj_milestone", milestone, MilestoneRow);
    entities!("proj_round", round, RoundRow);
    entities!("proj_budget_project", budget_project, BudgetProjectRow);
    if let Some(sink) = sink.as_mut() {
        let mut rows = sqlx::query(
            "SELECT municipality, tool, id, title, body, outcome, category, status, decision, \
                    completion, lead, ogp_values, started_at, updated_at, seq \
             FROM catalogue WHERE public ORDER BY municipality COLLATE \"C\", tool, id",
        )
        .fetch(&mut *tx);
        while let Some(row) = rows.try_next().await.map_err(db)? {
            tokio::task::coop::consume_budget().await;
            sink.practice(&row)?;
        }
    }

    let positions = sqlx::query(
        "SELECT code, verified_size, coalesce(checkpoint_root, ''::bytea) AS root \
         FROM fed_node ORDER BY code COLLATE \"C\"",
    )
    .fetch_all(&mut *tx)
    .await
    .map_err(db)?
    .iter()
    .map(|row| {
        Ok(Position {
            code: row.try_get("code").map_err(db)?,
            verified_size: uint(row.try_get("verified_size").map_err(db)?),
            root: row.try_get("root").map_err(db)?,
        })
    })
    .collect::<Result<Vec<_>, AssociationError>>()?;
    tx.commit().await.map_err(db)?;
    let rows = builder.rows();
    let digest = ProjectionDigest {
        hex: projection::Digest(builder.finish()).to_string(),
        rows,
        positions,
    };
    Ok((digest, snapshot))
}
