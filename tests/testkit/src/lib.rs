//! Test support for vidkryto's system tests: real services on free loopback ports, so tests
//! never mock NATS (see STYLE.md, "Tests"). The `nats-server` launcher is the product crate
//! `nats-process` (`vidkryto dev` runs it too), re-exported here; the rest is test-only.

mod pg;
mod proxy;
mod tls;

pub use nats_process::{
    NATS_SERVER_ENV, NATS_SERVER_VERSION_MIN, NatsServer, check_nats_server, free_loopback_ports,
    nats_server_binary, nats_server_version,
};
pub use pg::{PgDatabase, admin_url, database_exists};
pub use proxy::TcpProxy;
pub use tls::{ServerCert, TestCa};
