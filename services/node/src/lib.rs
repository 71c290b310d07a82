//! The municipality node: what a hromada's IT operator runs. It takes commands over gRPC, runs
//! them through the domain rules, appends the events to its own log (the system of record),
//! serves read-only log access, relays the log to NATS JetStream, and issues the clock-driven
//! commands itself.

pub mod api;
pub mod auth;
pub mod auth_api;
pub mod command;
pub mod config;
pub mod convert;
pub mod core;
pub mod error;
pub mod executor;
pub mod log_api;
pub mod metrics;
pub mod pages;
pub mod scheduler;
pub mod server;
pub mod store;
pub mod texts;
pub mod tls;

pub use crate::core::NodeCore;
pub use error::NodeError;
pub use server::{RunningNode, start, start_with_clock};
