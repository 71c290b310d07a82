//! vidkryto's log engine: one totally ordered, append-only, tamper-evident log per node, over
//! any [`Backend`]. It numbers events gaplessly, makes appends idempotent and optimistic, keeps
//! the Merkle tree incrementally, signs checkpoints, serves proofs and verifies stored history.

pub mod backend;
pub mod error;
pub mod log;
pub mod proof;
#[cfg(feature = "sqlx")]
pub mod sql;
pub mod verify;

pub use backend::{
    Backend, EventRow, Head, LogMeta, StoredCheckpoint, WriteTx, check_cursor_name, hash_row,
    sql_int,
};
pub use error::StoreError;
pub use log::{
    APPEND_BATCH_MAX, Appended, CheckpointPolicy, ExpectedVersion, Log, NewEvent, READ_LIMIT_MAX,
};
#[cfg(feature = "sqlx")]
pub use sql::{LogRow, SqlBackend};
pub use verify::{FailureKind, Verifier, VerifyFailure, VerifyReport, verify};
