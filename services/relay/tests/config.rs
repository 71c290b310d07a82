//! Must show 4: a relay setting out of bounds is a typed error before anything starts, never a
//! panic.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::future::ready;
use std::time::Duration;

use event_store::READ_LIMIT_MAX;
use relay::{RelayConfig, RelayError, RelayStatus};
use support::{every_events, open_log};
use tokio::sync::watch;

fn bad_configs() -> Vec<(&'static str, RelayConfig)> {
    let ok = RelayConfig::new("nats://127.0.0.1:1");
    vec![
        (
            "in_flight_max",
            RelayConfig {
                in_flight_max: 0,
                ..ok.clone()
            },
        ),
        (
            "in_flight_max",
            RelayConfig {
                in_flight_max: 4_097,
                ..ok.clone()
            },
        ),
        (
            "read_batch",
            RelayConfig {
                read_batch: 0,
                ..ok.clone()
            },
        ),
        (
            "read_batch",
            RelayConfig {
                read_batch: READ_LIMIT_MAX + 1,
                ..ok.clone()
            },
        ),
        (
            "ack_timeout",
            RelayConfig {
                ack_timeout: Duration::ZERO,
                ..ok.clone()
            },
        ),
        (
            "duplicate_window",
            RelayConfig {
                duplicate_window: Duration::ZERO,
                ..ok.clone()
            },
        ),
        (
            "backoff_max",
            RelayConfig {
                backoff_max: Duration::from_millis(50),
                ..ok.clone()
            },
        ),
        (
            "idle_poll",
            RelayConfig {
                idle_poll: Duration::ZERO,
                ..ok.clone()
            },
        ),
        (
            "nats_url",
            RelayConfig {
                nats_url: "http://[::1".to_owned(),
                ..ok.clone()
            },
        ),
    ]
}

#[tokio::test]
async fn out_of_bounds_settings_are_typed_errors() {
    let dir = tempfile::tempdir().unwrap();
    let log = open_log(dir.path(), every_events(100)).await;
    for (field, config) in bad_configs() {
        match relay::spawn(log.clone(), config.clone()) {
            Err(RelayError::Config { field: f, detail }) => {
                assert_eq!(f, field, "{detail}");
                assert!(!detail.is_empty());
            }
            other => panic!("{field}: expected a config error, got {other:?}"),
        }
        let (status, _) = watch::channel(RelayStatus::default());
        match relay::run(log.clone(), config, status, ready(())).await {
            Err(RelayError::Config { field: f, .. }) => assert_eq!(f, field),
            other => panic!("{field}: expected a config error from run, got {other:?}"),
        }
    }
    assert!(RelayConfig::default().validate().is_ok());
}
