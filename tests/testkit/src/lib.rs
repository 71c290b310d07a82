//! Test support for vidkryto's system tests: real services on free loopback ports, so tests
//! never mock NATS (see STYLE.md, "Tests").

mod nats;
mod pg;

pub use nats::NatsServer;
pub use pg::{PgDatabase, admin_url};
