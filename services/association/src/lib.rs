//! The association: enrolment, verified ingest of every node's log from NATS JetStream, the
//! witness, national projections in PostgreSQL, and the national, federation and audit gRPC
//! APIs (also over gRPC-Web, for the dashboard).

pub mod api;
mod commit;
pub mod digest;
pub mod enrolment;
pub mod error;
pub mod ingest;
pub mod projections;
pub mod read;
pub mod rebuild;
pub mod reference;
pub mod server;
pub mod store;
pub mod verifier;

pub use error::AssociationError;
