//! The projection tables in PostgreSQL: loading the rows a batch touches, applying the batch
//! with the `projection` crate's rules, and writing the changes back in a few `UNNEST`
//! statements, all inside the ingest's commit transaction.

use std::collections::BTreeMap;

use event_store_core::MunicipalityCode;
use projection::{Counters, EntityKey, Working};
use serde::de::DeserializeOwned;
use sqlx::Row;

use crate::error::AssociationError;
use crate::rows::{
    BUDGET_PROJECTS, COMMITMENTS, DIALOGUES, MILESTONES, PETITIONS, PLANS, ROUNDS, decode,
    decode_rows, encode,
};
use crate::store::{Tx, db, parse_code};

pub use projection::Verified as ProjectedEvent;

fn corrupt(e: impl std::fmt::Display) -> AssociationError {
    AssociationError::Corrupt(e.to_string())
}

/// Loads the stored rows of `keys` from `table`.
async fn load<T: DeserializeOwned>(
    tx: &mut Tx<'_>,
    table: &str,
    keys: &[EntityKey],
) -> Result<Vec<T>, AssociationError> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let codes: Vec<String> = keys.iter().map(|k| k.municipality.to_string()).collect();
    let ids: Vec<Vec<u8>> = keys.iter().map(|k| k.id.as_bytes().to_vec()).collect();
    let sql = format!(
        "SELECT t.row FROM {table} t JOIN UNNEST($1::text[], $2::bytea[]) AS k(m, i) \
         ON t.municipality = k.m AND t.id = k.i"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(codes)
        .bind(ids)
        .fetch_all(&mut **tx)
        .await
        .map_err(db)?;
    decode_rows(table, &rows)
}

/// Writes entity rows (whole rows), with the boolean filter columns a table may have beside
/// them (`flags`: each one's name and a value per row).
async fn upsert(
    tx: &mut Tx<'_>,
    table: &str,
    keys: Vec<EntityKey>,
    rows: Vec<Vec<u8>>,
    flags: Vec<(&str, Vec<bool>)>,
) -> Result<(), AssociationError> {
    if keys.is_empty() {
        return Ok(());
    }
    let codes: Vec<String> = keys.iter().map(|k| k.municipality.to_string()).collect();
    let ids: Vec<Vec<u8>> = keys.iter().map(|k| k.id.as_bytes().to_vec()).collect();
    let mut columns = String::new();
    let mut params = String::new();
    let mut sets = String::new();
    for (i, (column, _)) in flags.iter().enumerate() {
        columns.push_str(&format!(", {column}"));
        params.push_str(&format!(", ${}::bool[]", i + 4));
        sets.push_str(&format!(", {column} = EXCLUDED.{column}"));
    }
    let query = format!(
        "INSERT INTO {table} (municipality, id, row{columns}) \
         SELECT * FROM UNNEST($1::text[], $2::bytea[], $3::bytea[]{params}) \
         ON CONFLICT (municipality, id) DO UPDATE SET row = EXCLUDED.row{sets}"
    );
    let mut query = sqlx::query(sqlx::AssertSqlSafe(query))
        .bind(codes)
        .bind(ids)
        .bind(rows);
    for (_, values) in flags {
        query = query.bind(values);
    }
    query.execute(&mut **tx).await.map_err(db)?;
    Ok(())
}

/// Applies verified events, in order, to the projection tables; what applying each did.
pub async fn apply(
    tx: &mut Tx<'_>,
    events: &[ProjectedEvent],
) -> Result<Vec<projection::Outcome>, AssociationError> {
    if events.is_empty() {
        return Ok(Vec::new());
    }
    let touched = projection::touched(events);
    let mut working = Working::new(&touched);
    for row in load(tx, PETITIONS, &touched.petitions).await? {
        working.insert_petition(row).map_err(corrupt)?;
    }
    for row in load(tx, DIALOGUES, &touched.dialogues).await? {
        working.insert_dialogue(row).map_err(corrupt)?;
    }
    for row in load(tx, PLANS, &touched.plans).await? {
        working.insert_plan(row).map_err(corrupt)?;
    }
    for row in load(tx, COMMITMENTS, &touched.commitments).await? {
        working.insert_commitment(row).map_err(corrupt)?;
    }
    for row in load(tx, MILESTONES, &touched.milestones).await? {
        working.insert_milestone(row).map_err(corrupt)?;
    }
    for row in load(tx, ROUNDS, &touched.rounds).await? {
        working.insert_round(row).map_err(corrupt)?;
    }
    for row in load(tx, BUDGET_PROJECTS, &touched.budget_projects).await? {
        working.insert_budget_project(row).map_err(corrupt)?;
    }
    let outcomes = events
        .iter()
        .map(|event| working.apply(event).map_err(corrupt))
        .collect::<Result<Vec<_>, _>>()?;
    write(tx, working.finish()).await?;
    Ok(outcomes)
}

/// Writes one batch's changes.
async fn write(tx: &mut Tx<'_>, changes: projection::Changes) -> Result<(), AssociationError> {
    // Petitions carry their phase and the deadline of the step owed now for "overdue now".
    if !changes.petitions.is_empty() {
        let codes: Vec<String> = changes
            .petitions
            .iter()
            .map(|r| r.municipality.to_string())
            .collect();
        let ids: Vec<Vec<u8>> = changes
            .petitions
            .iter()
            .map(|r| r.petition_id.as_bytes().to_vec())
            .collect();
        let phases: Vec<i16> = changes
            .petitions
            .iter()
            .map(|r| i16::from(r.phase))
            .collect();
        let dues: Vec<Option<i32>> = changes.petitions.iter().map(|r| r.due()).collect();
        let rows = changes
            .petitions
            .iter()
            .map(encode)
            .collect::<Result<Vec<_>, _>>()?;
        sqlx::query(
            "INSERT INTO proj_petition (municipality, id, phase, due, row) \
             SELECT * FROM UNNEST($1::text[], $2::bytea[], $3::int2[], $4::int4[], $5::bytea[]) \
             ON CONFLICT (municipality, id) DO UPDATE \
             SET phase = EXCLUDED.phase, due = EXCLUDED.due, row = EXCLUDED.row",
        )
        .bind(codes)
        .bind(ids)
        .bind(phases)
        .bind(dues)
        .bind(rows)
        .execute(&mut **tx)
        .await
        .map_err(db)?;
    }
    if !changes.milestones.is_empty() {
        let m = &changes.milestones;
        let uuid = |id: &uuid::Uuid| id.as_bytes().to_vec();
        let complete = Some(projection::codes::status_code(
            domain::action_plan::ImplementationStatus::Complete,
        ));
        let rows = m.iter().map(encode).collect::<Result<Vec<_>, _>>()?;
        sqlx::query(
            "INSERT INTO proj_milestone \
                 (municipality, id, due, completed_at, plan_id, commitment_id, complete, row, \
                  withdrawn) \
             SELECT * FROM UNNEST($1::text[], $2::bytea[], $3::int4[], $4::int8[], \
                                  $5::bytea[], $6::bytea[], $7::bool[], $8::bytea[], $9::bool[]) \
             ON CONFLICT (municipality, id) DO UPDATE \
             SET due = EXCLUDED.due, completed_at = EXCLUDED.completed_at, \
                 plan_id = EXCLUDED.plan_id, commitment_id = EXCLUDED.commitment_id, \
                 complete = EXCLUDED.complete, row = EXCLUDED.row, withdrawn = EXCLUDED.withdrawn",
        )
        .bind(
            m.iter()
                .map(|r| r.municipality.to_string())
                .collect::<Vec<_>>(),
        )
        .bind(m.iter().map(|r| uuid(&r.milestone_id)).collect::<Vec<_>>())
        .bind(m.iter().map(|r| r.due).collect::<Vec<i32>>())
        .bind(m.iter().map(|r| r.completed_at).collect::<Vec<_>>())
        .bind(m.iter().map(|r| uuid(&r.plan_id)).collect::<Vec<_>>())
        .bind(m.iter().map(|r| uuid(&r.commitment_id)).collect::<Vec<_>>())
        .bind(
            m.iter()
                .map(|r| r.status == complete)
                .collect::<Vec<bool>>(),
        )
        .bind(rows)
        .bind(
            m.iter()
                .map(|r| r.withdrawn_at.is_some())
                .collect::<Vec<bool>>(),
        )
        .execute(&mut **tx)
        .await
        .map_err(db)?;
    }
    let keyed = |key: EntityKey, row: Result<Vec<u8>, AssociationError>| row.map(|r| (key, r));
    let dialogues = changes
        .dialogues
        .iter()
        .map(|r| keyed(r.key(), encode(r)))
        .collect::<Result<Vec<_>, _>>()?;
    let (keys, rows) = dialogues.into_iter().unzip();
    upsert(tx, DIALOGUES, keys, rows, Vec::new()).await?;
    // Whether a plan is closed and a commitment assessed: the milestone overdue rule's
    // "open" (`domain::action_plan::milestone_overdue`).
    let plans = changes
        .plans
        .iter()
        .map(|r| keyed(r.key(), encode(r)))
        .collect::<Result<Vec<_>, _>>()?;
    let (keys, rows) = plans.into_iter().unzip();
    let closed = changes
        .plans
        .iter()
        .map(|r| r.closed_at.is_some())
        .collect();
    // A draft's milestones are not overdue either: nothing is reported on a draft.
    let draft = changes.plans.iter().map(|r| r.draft).collect();
    upsert(
        tx,
        PLANS,
        keys,
        rows,
        vec![("closed", closed), ("draft", draft)],
    )
    .await?;
    let commitments = changes
        .commitments
        .iter()
        .map(|r| keyed(r.key(), encode(r)))
        .collect::<Result<Vec<_>, _>>()?;
    let (keys, rows) = commitments.into_iter().unzip();
    let assessed = changes
        .commitments
        .iter()
        .map(|r| r.opened_government.is_some())
        .collect();
    let withdrawn = changes
        .commitments
        .iter()
        .map(|r| r.withdrawn_at.is_some())
        .collect();
    upsert(
        tx,
        COMMITMENTS,
        keys,
        rows,
        vec![("assessed", assessed), ("withdrawn", withdrawn)],
    )
    .await?;
    let rounds = changes
        .rounds
        .iter()
        .map(|r| keyed(r.key(), encode(r)))
        .collect::<Result<Vec<_>, _>>()?;
    let (keys, rows) = rounds.into_iter().unzip();
    upsert(tx, ROUNDS, keys, rows, Vec::new()).await?;
    let projects = changes
        .budget_projects
        .iter()
        .map(|r| keyed(r.key(), encode(r)))
        .collect::<Result<Vec<_>, _>>()?;
    let (keys, rows) = projects.into_iter().unzip();
    upsert(tx, BUDGET_PROJECTS, keys, rows, Vec::new()).await?;

    write_counters(tx, &changes.counters).await?;

    if !changes.weekly.is_empty() {
        let w = &changes.weekly;
        let col = |f: fn(&projection::WeeklyCounters) -> i64| w.iter().map(f).collect::<Vec<i64>>();
        sqlx::query(
            "INSERT INTO proj_weekly AS p (municipality, week, petitions_filed, signatures, \
                 petitions_threshold_reached, petitions_answered, dialogues_closed, contributions, \
                 milestones_completed) \
             SELECT * FROM UNNEST($1::text[], $2::int4[], $3::int8[], $4::int8[], $5::int8[], \
                                  $6::int8[], $7::int8[], $8::int8[], $9::int8[]) \
             ON CONFLICT (municipality, week) DO UPDATE SET \
                 petitions_filed = p.petitions_filed + EXCLUDED.petitions_filed, \
                 signatures = p.signatures + EXCLUDED.signatures, \
                 petitions_threshold_reached = p.petitions_threshold_reached + EXCLUDED.petitions_threshold_reached, \
                 petitions_answered = p.petitions_answered + EXCLUDED.petitions_answered, \
                 dialogues_closed = p.dialogues_closed + EXCLUDED.dialogues_closed, \
                 contributions = p.contributions + EXCLUDED.contributions, \
                 milestones_completed = p.milestones_completed + EXCLUDED.milestones_completed",
        )
        .bind(w.iter().map(|r| r.municipality.to_string()).collect::<Vec<_>>())
        .bind(w.iter().map(|r| r.week).collect::<Vec<i32>>())
        .bind(col(|r| r.petitions_filed))
        .bind(col(|r| r.signatures))
        .bind(col(|r| r.petitions_threshold_reached))
        .bind(col(|r| r.petitions_answered))
        .bind(col(|r| r.dialogues_closed))
        .bind(col(|r| r.contributions))
        .bind(col(|r| r.milestones_completed))
        .execute(&mut **tx)
        .await
        .map_err(db)?;
    }
    if !changes.answer_days.is_empty() {
        let a = &changes.answer_days;
        sqlx::query(
            "INSERT INTO proj_answer_days AS p (municipality, days, count) \
             SELECT * FROM UNNEST($1::text[], $2::int4[], $3::int8[]) \
             ON CONFLICT (municipality, days) DO UPDATE SET count = p.count + EXCLUDED.count",
        )
        .bind(
            a.iter()
                .map(|r| r.municipality.to_string())
                .collect::<Vec<_>>(),
        )
        .bind(a.iter().map(|r| r.days).collect::<Vec<i32>>())
        .bind(a.iter().map(|r| r.count).collect::<Vec<i64>>())
        .execute(&mut **tx)
        .await
        .map_err(db)?;
    }
    Ok(())
}

/// Adds counter deltas: read the current rows (locked), add in Rust, write back.
async fn write_counters(
    tx: &mut Tx<'_>,
    deltas: &[(MunicipalityCode, Counters)],
) -> Result<(), AssociationError> {
    if deltas.is_empty() {
        return Ok(());
    }
    let codes: Vec<String> = deltas.iter().map(|(c, _)| c.to_string()).collect();
    let rows = sqlx::query(
        "SELECT municipality, counters FROM proj_counters WHERE municipality = ANY($1) FOR UPDATE",
    )
    .bind(&codes)
    .fetch_all(&mut **tx)
    .await
    .map_err(db)?;
    let mut current: BTreeMap<MunicipalityCode, Counters> = BTreeMap::new();
    for row in rows {
        let code = parse_code(&row.try_get::<String, _>("municipality").map_err(db)?)?;
        let bytes: Vec<u8> = row.try_get("counters").map_err(db)?;
        current.insert(code, decode("proj_counters", &bytes)?);
    }
    let mut encoded = Vec::with_capacity(deltas.len());
    for (code, delta) in deltas {
        let counters = current.entry(*code).or_default();
        counters.add(delta);
        encoded.push(encode(counters)?);
    }
    sqlx::query(
        "INSERT INTO proj_counters (municipality, counters) \
         SELECT * FROM UNNEST($1::text[], $2::bytea[]) \
         ON CONFLICT (municipality) DO UPDATE SET counters = EXCLUDED.counters",
    )
    .bind(codes)
    .bind(encoded)
    .execute(&mut **tx)
    .await
    .map_err(db)?;
    Ok(())
}

/// Empties every projection table (for a rebuild).
pub async fn truncate(tx: &mut Tx<'_>) -> Result<(), AssociationError> {
    sqlx::query(
        "TRUNCATE proj_counters, proj_weekly, proj_answer_days, proj_petition, proj_dialogue, \
         proj_plan, proj_commitment, proj_milestone, proj_round, proj_budget_project",
    )
    .execute(&mut **tx)
    .await
    .map_err(db)?;
    Ok(())
}
