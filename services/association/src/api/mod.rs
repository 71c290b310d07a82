//! The association's gRPC services, the one place their errors become statuses, and the
//! bounds of their server streams (`streams`).

pub mod audit;
pub mod federation;
mod figures;
pub mod national;
pub mod streams;

use base64::Engine as _;
use event_store_core::MunicipalityCode;
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt as _};

use crate::error::AssociationError;

/// `INVALID_ARGUMENT` naming the field.
pub(crate) fn invalid(field: &str, description: impl Into<String>) -> Status {
    field_status(Code::InvalidArgument, field, description.into())
}

/// A status of `code` with a `BadRequest` violation naming the field.
fn field_status(code: Code, field: &str, description: String) -> Status {
    let details = ErrorDetails::with_bad_request_violation(field, description.clone());
    Status::with_error_details(code, format!("{field}: {description}"), details)
}

impl From<AssociationError> for Status {
    fn from(err: AssociationError) -> Self {
        match err {
            AssociationError::Invalid { field, detail } => invalid(field, detail),
            AssociationError::NotFound(what) => Status::not_found(what),
            AssociationError::OutOfRange { field, detail } => {
                field_status(Code::OutOfRange, field, detail)
            }
            AssociationError::Domain(domain::DomainError::Invalid { field, rule }) => {
                invalid(field, rule.to_string())
            }
            AssociationError::Domain(domain::DomainError::Refused { rule }) => {
                let details = ErrorDetails::with_precondition_failure_violation(
                    "DOMAIN_RULE",
                    rule.code(),
                    rule.to_string(),
                );
                // The rule's code in the message too: a monitor's command line shows it.
                Status::with_error_details(
                    Code::FailedPrecondition,
                    format!("{}: {rule}", rule.code()),
                    details,
                )
            }
            AssociationError::Domain(domain::DomainError::NotFound { entity }) => {
                Status::not_found(format!("{entity} not found"))
            }
            other => {
                tracing::error!(error = %other, "request failed");
                Status::unavailable(other.to_string())
            }
        }
    }
}

/// A municipality code from a request.
pub(crate) fn code(field: &str, text: &str) -> Result<MunicipalityCode, Status> {
    MunicipalityCode::parse(text.trim()).map_err(|e| invalid(field, format!("{text:?}: {e}")))
}

/// A page size within `1..=max`, `default` for 0.
pub(crate) fn page_size(value: i32, default: usize, max: usize) -> Result<usize, Status> {
    match value {
        0 => Ok(default),
        v if v < 0 => Err(invalid("page_size", "must not be negative")),
        v if v as usize > max => Err(invalid("page_size", format!("at most {max}"))),
        v => Ok(v as usize),
    }
}

/// A page token is the offset of the next item and a fingerprint of the query it belongs to,
/// so a token cannot be replayed against another query (AIP-158).
pub(crate) fn encode_token(offset: usize, fingerprint: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{offset}:{fingerprint}"))
}

/// The token of the page after one that ended at item `end` of `total`, or empty after the
/// last page.
pub(crate) fn next_page_token(end: usize, total: usize, fingerprint: &str) -> String {
    if end < total {
        encode_token(end, fingerprint)
    } else {
        String::new()
    }
}

pub(crate) fn decode_token(token: &str, fingerprint: &str) -> Result<usize, Status> {
    if token.is_empty() {
        return Ok(0);
    }
    let bad = || {
        invalid(
            "page_token",
            "not a token from the previous page of this query",
        )
    };
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .map_err(|_| bad())?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    let (offset, rest) = text.split_once(':').ok_or_else(bad)?;
    if rest != fingerprint {
        return Err(bad());
    }
    offset.parse().map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_tokens_are_bound_to_their_query() {
        let token = encode_token(150, "order=name");
        assert_eq!(decode_token(&token, "order=name").unwrap(), 150);
        assert_eq!(decode_token("", "order=name").unwrap(), 0);
        let err = decode_token(&token, "order=code").unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument);
        assert!(decode_token("%%%", "x").is_err());
        assert!(page_size(-1, 50, 500).is_err());
        assert!(page_size(501, 50, 500).is_err());
        assert_eq!(page_size(0, 50, 500).unwrap(), 50);
    }
}
