//! The association: enrolment, verified ingest of every node's log from NATS JetStream, the
//! witness, national projections in PostgreSQL, the national, federation and audit gRPC APIs
//! (also over gRPC-Web), and the dashboard's static files on the same listener.

mod admission;
pub mod api;
pub mod assessments;
mod batch;
pub mod catalogue;
mod commit;
mod cors;
pub mod decisions;
pub mod digest;
pub mod enrolment;
pub mod error;
pub mod ingest;
pub mod lease;
pub mod open_data;
pub mod projections;
pub mod publish;
pub mod read;
pub mod rebuild;
mod rows;
pub mod server;
pub mod statements;
pub mod store;
pub mod telemetry;
pub mod tls;
pub mod verifier;

pub use error::AssociationError;
