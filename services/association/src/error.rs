//! The association's errors.

/// What can go wrong in the association's libraries.
#[derive(Debug, thiserror::Error)]
pub enum AssociationError {
    #[error("database: {0}")]
    Database(String),
    #[error("NATS: {0}")]
    Nats(String),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("configuration: {0}")]
    Config(String),
    #[error("invalid {field}: {detail}")]
    Invalid { field: &'static str, detail: String },
    #[error("not found: {0}")]
    NotFound(String),
    /// The ingest's lease is another instance's now (or ran out): this one must not write
    /// (`lease`).
    #[error("the ingest lease of epoch {epoch} is no longer this instance's")]
    Fenced { epoch: i64 },
    /// A key was revoked since the ingest loaded its keys: it reloads them and verifies again
    /// before committing.
    #[error("a key was revoked since the ingest loaded its keys")]
    EnrolmentChanged,
    /// A position past what exists yet (a tree size beyond the verified log): valid later.
    #[error("{field} out of range: {detail}")]
    OutOfRange { field: &'static str, detail: String },
    /// A decision the domain's rules refuse (an independent assessment, a monitor's
    /// enrolment).
    #[error(transparent)]
    Domain(#[from] domain::DomainError),
}

impl From<event_store::StoreError> for AssociationError {
    /// Errors of the proofs served from the verified copy.
    fn from(e: event_store::StoreError) -> Self {
        match e {
            event_store::StoreError::OutOfRange { what, detail } => Self::OutOfRange {
                field: what,
                detail,
            },
            other => Self::Database(other.to_string()),
        }
    }
}

impl AssociationError {
    pub(crate) fn nats(e: impl std::fmt::Display) -> Self {
        Self::Nats(e.to_string())
    }

    pub(crate) fn invalid(field: &'static str, detail: impl Into<String>) -> Self {
        Self::Invalid {
            field,
            detail: detail.into(),
        }
    }
}
