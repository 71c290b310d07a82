//! The relay's settings and their bounds: everything it holds in memory or waits for is
//! bounded here, and a setting out of bounds is a typed error before anything starts.

use std::time::Duration;

use event_store::READ_LIMIT_MAX;

use crate::error::RelayError;

/// Most publishes awaiting their `PubAck`. 512-1024 reach the measured pipelined publish rate
/// of a 2-core machine; beyond 4096 only memory and the replay after an error grow.
pub const IN_FLIGHT_MAX_LIMIT: u32 = 4_096;

/// Shortest ack / request timeout: below this a loaded server would time out spuriously.
pub const ACK_TIMEOUT_MIN: Duration = Duration::from_millis(100);
/// Longest ack / request timeout: a relay stuck longer should back off and reconcile instead.
pub const ACK_TIMEOUT_MAX: Duration = Duration::from_secs(60);

/// Shortest duplicate window. The relay's exactness does not depend on it (it reconciles with
/// the stream), so tests may use a tiny one; zero would mean the server's default instead.
pub const DUPLICATE_WINDOW_MIN: Duration = Duration::from_secs(1);
/// Longest duplicate window: the server keeps every message id of the window in memory.
pub const DUPLICATE_WINDOW_MAX: Duration = Duration::from_secs(24 * 60 * 60);

/// Shortest backoff step: retrying faster only floods the log with the same error.
pub const BACKOFF_MIN_LIMIT: Duration = Duration::from_millis(10);
/// Longest backoff step: a returning server is noticed within this time.
pub const BACKOFF_MAX_LIMIT: Duration = Duration::from_secs(5 * 60);

/// Shortest idle wake-up: the fallback poll should not become a busy loop.
pub const IDLE_POLL_MIN: Duration = Duration::from_millis(10);
/// Longest idle wake-up: checkpoints signed on the time policy (which do not change the log's
/// size, so wake no subscriber) go out within this time.
pub const IDLE_POLL_MAX: Duration = Duration::from_secs(60);

/// How the relay reaches JetStream and how hard it pushes. Its `Debug` hides the password a
/// `nats_url` may carry.
#[derive(Clone, PartialEq, Eq)]
pub struct RelayConfig {
    /// The NATS server, e.g. `nats://127.0.0.1:4222` (the node's leaf node in production).
    pub nats_url: String,
    /// Most publishes awaiting their `PubAck`, in `1..=IN_FLIGHT_MAX_LIMIT`.
    pub in_flight_max: u32,
    /// Events read from the log at once, in `1..=event_store::READ_LIMIT_MAX`.
    pub read_batch: u32,
    /// Timeout of every JetStream request and `PubAck`.
    pub ack_timeout: Duration,
    /// The stream's duplicate window (`Nats-Msg-Id` deduplication), used when the relay
    /// creates the stream.
    pub duplicate_window: Duration,
    /// First wait after an error; it doubles on each further error up to `backoff_max`.
    pub backoff_min: Duration,
    /// Longest wait after an error (also the client's longest reconnect delay).
    pub backoff_max: Duration,
    /// Wake-up when the log is quiet: saves the cursors; every tenth reads the database, for
    /// what another process may have written (this process's appends and checkpoints wake the
    /// relay at once).
    pub idle_poll: Duration,
}

impl std::fmt::Debug for RelayConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RelayConfig")
            .field("nats_url", &wire::redacted_url(&self.nats_url))
            .field("in_flight_max", &self.in_flight_max)
            .field("read_batch", &self.read_batch)
            .field("ack_timeout", &self.ack_timeout)
            .field("duplicate_window", &self.duplicate_window)
            .field("backoff_min", &self.backoff_min)
            .field("backoff_max", &self.backoff_max)
            .field("idle_poll", &self.idle_poll)
            .finish()
    }
}

impl Default for RelayConfig {
    fn default() -> Self {
        Self {
            nats_url: "nats://127.0.0.1:4222".to_owned(),
            in_flight_max: 512,
            read_batch: 1_000,
            ack_timeout: Duration::from_secs(5),
            duplicate_window: wire::DUPLICATE_WINDOW_DEFAULT,
            backoff_min: Duration::from_millis(100),
            backoff_max: Duration::from_secs(5),
            idle_poll: Duration::from_secs(1),
        }
    }
}

impl RelayConfig {
    /// The default settings for the server at `nats_url`.
    pub fn new(nats_url: impl Into<String>) -> Self {
        Self {
            nats_url: nats_url.into(),
            ..Self::default()
        }
    }

    /// Checks every bound; the first setting out of bounds is a [`RelayError::Config`].
    pub fn validate(&self) -> Result<(), RelayError> {
        if let Err(e) = self.nats_url.parse::<async_nats::ServerAddr>() {
            return Err(bad(
                "nats_url",
                format!(
                    "{:?} is not a NATS URL: {e}",
                    wire::redacted_url(&self.nats_url)
                ),
            ));
        }
        if !(1..=IN_FLIGHT_MAX_LIMIT).contains(&self.in_flight_max) {
            return Err(bad(
                "in_flight_max",
                format!("{} not in 1..={IN_FLIGHT_MAX_LIMIT}", self.in_flight_max),
            ));
        }
        if !(1..=READ_LIMIT_MAX).contains(&self.read_batch) {
            return Err(bad(
                "read_batch",
                format!("{} not in 1..={READ_LIMIT_MAX}", self.read_batch),
            ));
        }
        within(
            "ack_timeout",
            self.ack_timeout,
            ACK_TIMEOUT_MIN,
            ACK_TIMEOUT_MAX,
        )?;
        within(
            "duplicate_window",
            self.duplicate_window,
            DUPLICATE_WINDOW_MIN,
            DUPLICATE_WINDOW_MAX,
        )?;
        within(
            "backoff_min",
            self.backoff_min,
            BACKOFF_MIN_LIMIT,
            BACKOFF_MAX_LIMIT,
        )?;
        within(
            "backoff_max",
            self.backoff_max,
            self.backoff_min,
            BACKOFF_MAX_LIMIT,
        )?;
        within("idle_poll", self.idle_poll, IDLE_POLL_MIN, IDLE_POLL_MAX)?;
        Ok(())
    }
}

fn bad(field: &'static str, detail: String) -> RelayError {
    RelayError::Config { field, detail }
}

fn within(
    field: &'static str,
    value: Duration,
    min: Duration,
    max: Duration,
) -> Result<(), RelayError> {
    if value < min || value > max {
        return Err(bad(field, format!("{value:?} not in {min:?}..={max:?}")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_valid() {
        assert!(RelayConfig::default().validate().is_ok());
    }

    #[test]
    fn each_bound_names_its_field() {
        let cases: Vec<(&str, RelayConfig)> = vec![
            ("nats_url", RelayConfig::new("not a url at all")),
            (
                "in_flight_max",
                RelayConfig {
                    in_flight_max: 0,
                    ..Default::default()
                },
            ),
            (
                "in_flight_max",
                RelayConfig {
                    in_flight_max: 4_097,
                    ..Default::default()
                },
            ),
            (
                "read_batch",
                RelayConfig {
                    read_batch: 0,
                    ..Default::default()
                },
            ),
            (
                "read_batch",
                RelayConfig {
                    read_batch: READ_LIMIT_MAX + 1,
                    ..Default::default()
                },
            ),
            (
                "ack_timeout",
                RelayConfig {
                    ack_timeout: Duration::ZERO,
                    ..Default::default()
                },
            ),
            (
                "duplicate_window",
                RelayConfig {
                    duplicate_window: Duration::ZERO,
                    ..Default::default()
                },
            ),
            (
                "backoff_min",
                RelayConfig {
                    backoff_min: Duration::ZERO,
                    ..Default::default()
                },
            ),
            (
                "backoff_max",
                RelayConfig {
                    backoff_min: Duration::from_secs(2),
                    backoff_max: Duration::from_secs(1),
                    ..Default::default()
                },
            ),
            (
                "idle_poll",
                RelayConfig {
                    idle_poll: Duration::from_secs(3_600),
                    ..Default::default()
                },
            ),
        ];
        for (field, config) in cases {
            match config.validate() {
                Err(RelayError::Config { field: f, .. }) => assert_eq!(f, field),
                other => panic!("{field}: expected a config error, got {other:?}"),
            }
        }
    }
}
