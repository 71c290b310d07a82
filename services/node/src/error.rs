//! The node's errors, and the one place they become gRPC statuses: malformed input is
//! `INVALID_ARGUMENT` with field violations, a domain rule refusing is `FAILED_PRECONDITION`
//! naming the rule, a position past the log `OUT_OF_RANGE`, unknown things `NOT_FOUND`, lost
//! races `ABORTED`.

use domain::DomainError;
use event_store::StoreError;
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt as _};

/// One malformed field of a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldViolation {
    pub field: String,
    pub description: String,
}

/// What a node operation can fail with.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error("invalid request: {}", .0.iter().map(|v| format!("{}: {}", v.field, v.description)).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<FieldViolation>),
    #[error(transparent)]
    Domain(#[from] DomainError),
    /// A sequence number or tree size past the current log: valid once the log has grown.
    #[error("{field}: {detail}")]
    OutOfRange { field: &'static str, detail: String },
    #[error("{0} not found")]
    NotFound(&'static str),
    /// Any other store error (the store's out-of-range is [`NodeError::OutOfRange`]).
    #[error(transparent)]
    Store(StoreError),
    #[error("internal error: {0}")]
    Internal(String),
}

impl NodeError {
    /// One malformed field.
    pub fn invalid(field: &str, description: &str) -> Self {
        Self::Invalid(vec![FieldViolation {
            field: field.to_owned(),
            description: description.to_owned(),
        }])
    }

    /// Names the request field a position past the log came from (the store names its own
    /// parameter); any other error is unchanged.
    pub fn in_field(self, field: &'static str) -> Self {
        match self {
            Self::OutOfRange { detail, .. } => Self::OutOfRange { field, detail },
            other => other,
        }
    }
}

impl From<StoreError> for NodeError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::OutOfRange { what, detail } => Self::OutOfRange {
                field: what,
                detail,
            },
            other => Self::Store(other),
        }
    }
}

impl From<NodeError> for Status {
    fn from(e: NodeError) -> Self {
        match e {
            NodeError::Invalid(violations) => {
                let mut details = ErrorDetails::new();
                for v in &violations {
                    details.add_bad_request_violation(v.field.clone(), v.description.clone());
                }
                let message = NodeError::Invalid(violations).to_string();
                Status::with_error_details(Code::InvalidArgument, message, details)
            }
            NodeError::Domain(DomainError::Invalid { field, rule }) => {
                let details = ErrorDetails::with_bad_request_violation(field, rule.to_string());
                Status::with_error_details(
                    Code::InvalidArgument,
                    format!("{field}: {rule}"),
                    details,
                )
            }
            NodeError::Domain(DomainError::Refused { rule }) => {
                let details = ErrorDetails::with_precondition_failure_violation(
                    "DOMAIN_RULE",
                    rule.code(),
                    rule.to_string(),
                );
                Status::with_error_details(Code::FailedPrecondition, rule.to_string(), details)
            }
            NodeError::OutOfRange { field, detail } => {
                let message = format!("{field}: {detail}");
                let details = ErrorDetails::with_bad_request_violation(field, detail);
                Status::with_error_details(Code::OutOfRange, message, details)
            }
            NodeError::Domain(DomainError::NotFound { entity }) | NodeError::NotFound(entity) => {
                Status::not_found(format!("{entity} not found"))
            }
            NodeError::Store(StoreError::Conflict { .. }) => {
                Status::aborted("the stream changed concurrently, retry the command")
            }
            NodeError::Store(StoreError::BatchSize { .. } | StoreError::Envelope(_)) => {
                Status::invalid_argument(e.to_string())
            }
            NodeError::Store(StoreError::Database(_) | StoreError::Timeout) => {
                tracing::error!(error = %e, "storage unavailable");
                Status::unavailable("the node's storage is unavailable")
            }
            other => {
                tracing::error!(error = %other, "internal error");
                Status::internal("internal error")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_position_past_the_log_is_out_of_range_naming_the_request_field() {
        let store = StoreError::OutOfRange {
            what: "tree size",
            detail: "9 is larger than the log's 3 events".into(),
        };
        let status = Status::from(NodeError::from(store).in_field("tree_size"));
        assert_eq!(status.code(), Code::OutOfRange);
        assert_eq!(
            status.message(),
            "tree_size: 9 is larger than the log's 3 events"
        );
        let violations = status.get_details_bad_request().unwrap().field_violations;
        assert_eq!(violations[0].field, "tree_size");
        assert_eq!(
            violations[0].description,
            "9 is larger than the log's 3 events"
        );
    }
}
