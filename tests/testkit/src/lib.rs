//! Test support for vidkryto's system tests: real services on free loopback ports, so tests
//! never mock NATS (see STYLE.md, "Tests").

mod nats;

pub use nats::NatsServer;
