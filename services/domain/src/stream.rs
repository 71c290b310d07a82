//! Rules every stream keeps, whatever its aggregate: the leaf that each aggregate's module
//! and the [`Aggregate`](crate::aggregate::Aggregate) trait's implementations share.

use event_store_core::Timestamp;

use crate::error::{DomainError, Refusal};

/// Refuses a command dated `at` in a stream whose latest event is dated `last` (if any) when
/// it is earlier: see [`Aggregate`](crate::aggregate::Aggregate).
pub(crate) fn check_not_before_last(
    last: Option<Timestamp>,
    at: Timestamp,
) -> Result<(), DomainError> {
    match last {
        Some(last) if at < last => Err(DomainError::refused(Refusal::TimeBeforePrevious)),
        _ => Ok(()),
    }
}
