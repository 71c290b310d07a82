//! The projection tables' names and how their rows are stored (postcard bytes of the
//! `projection` crate's row types): shared by the write side (`projections`), the read side
//! and the digest, which use this leaf and not each other.

use serde::Serialize;
use serde::de::DeserializeOwned;
use sqlx::Row;

use crate::error::AssociationError;
use crate::store::db;

/// Entity tables.
pub(crate) const PETITIONS: &str = "proj_petition";
pub(crate) const DIALOGUES: &str = "proj_dialogue";
pub(crate) const PLANS: &str = "proj_plan";
pub(crate) const COMMITMENTS: &str = "proj_commitment";
pub(crate) const MILESTONES: &str = "proj_milestone";
pub(crate) const ROUNDS: &str = "proj_round";
pub(crate) const BUDGET_PROJECTS: &str = "proj_budget_project";

pub(crate) fn encode<T: Serialize>(row: &T) -> Result<Vec<u8>, AssociationError> {
    postcard::to_stdvec(row)
        .map_err(|e| AssociationError::Corrupt(format!("encoding a projection row: {e}")))
}

pub(crate) fn decode<T: DeserializeOwned>(
    table: &str,
    bytes: &[u8],
) -> Result<T, AssociationError> {
    postcard::from_bytes(bytes)
        .map_err(|e| AssociationError::Corrupt(format!("a row of {table}: {e}")))
}

/// The `row` column of each fetched row of `table`, decoded.
pub(crate) fn decode_rows<T: DeserializeOwned>(
    table: &str,
    rows: &[sqlx::postgres::PgRow],
) -> Result<Vec<T>, AssociationError> {
    rows.iter()
        .map(|row| {
            let bytes: Vec<u8> = row.try_get("row").map_err(db)?;
            decode(table, &bytes)
        })
        .collect()
}
