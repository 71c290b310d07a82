//! The node's transactional outbox: a task that streams the node's log and its signed
//! checkpoints to NATS JetStream, in order and exactly once, across restarts and outages.
//!
//! The log is the record; JetStream is transport. The relay only reads the log, so it never
//! blocks command handling. Events go out pipelined (a bounded number in flight, every
//! `PubAck` awaited in order); the last acknowledged sequence is kept durably as a cursor in
//! the log's own database, and on every (re)start the relay reconciles with the stream's last
//! message, so a crash between an acknowledgement and saving the cursor duplicates nothing,
//! even past JetStream's duplicate window.
//!
//! Scheme, per municipality `<KATOTTG>` (see [`event_subject`], [`checkpoint_subject`],
//! [`stream_name`]):
//!
//! | what | subject | payload | headers |
//! | --- | --- | --- | --- |
//! | event | `vidkryto.ev.<KATOTTG>` | the event's canonical bytes, as stored | `Nats-Msg-Id` = event id (UUID), `Vidkryto-Seq` = log sequence |
//! | checkpoint | `vidkryto.ckpt.<KATOTTG>` | the signed note | `Nats-Msg-Id` = `<KATOTTG>-ckpt-<size>`, `Vidkryto-Tree-Size` = size |
//!
//! Both subjects live in the stream `VIDKRYTO_<KATOTTG>` (file storage, `deny_delete`,
//! `deny_purge`, `allow_direct`, a duplicate window). A checkpoint is published only once
//! every event it covers is acknowledged, and checkpoints go out by increasing size.

mod config;
mod error;
mod relay;
mod url;

use std::sync::Arc;

use event_store::{Backend, Log};
use event_store_core::MunicipalityCode;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

pub use config::{
    ACK_TIMEOUT_MAX, ACK_TIMEOUT_MIN, BACKOFF_MAX_LIMIT, BACKOFF_MIN_LIMIT, DUPLICATE_WINDOW_MAX,
    DUPLICATE_WINDOW_MIN, IDLE_POLL_MAX, IDLE_POLL_MIN, IN_FLIGHT_MAX_LIMIT, RelayConfig,
};
pub use error::RelayError;
pub use relay::run;
pub use url::{redacted_url, with_url_credentials};

/// Header carrying an event's log sequence number.
pub const SEQ_HEADER: &str = "Vidkryto-Seq";
/// Header carrying a checkpoint's tree size.
pub const TREE_SIZE_HEADER: &str = "Vidkryto-Tree-Size";
/// The log cursor holding the last event sequence JetStream acknowledged.
pub const EVENT_CURSOR: &str = "relay.jetstream";
/// The log cursor holding the size of the last checkpoint JetStream acknowledged.
pub const CHECKPOINT_CURSOR: &str = "relay.jetstream.ckpt";

/// The subject a municipality's events are published on: `vidkryto.ev.<KATOTTG>`.
pub fn event_subject(municipality: &MunicipalityCode) -> String {
    format!("vidkryto.ev.{municipality}")
}

/// The subject a municipality's signed checkpoints are published on: `vidkryto.ckpt.<KATOTTG>`.
pub fn checkpoint_subject(municipality: &MunicipalityCode) -> String {
    format!("vidkryto.ckpt.{municipality}")
}

/// A filter matching both subjects of a municipality, and no other's: `vidkryto.*.<KATOTTG>`.
pub fn subjects_filter(municipality: &MunicipalityCode) -> String {
    format!("vidkryto.*.{municipality}")
}

/// The JetStream stream holding both subjects of a municipality: `VIDKRYTO_<KATOTTG>`.
pub fn stream_name(municipality: &MunicipalityCode) -> String {
    format!("VIDKRYTO_{municipality}")
}

/// The `Nats-Msg-Id` of a checkpoint: `<KATOTTG>-ckpt-<size>`.
pub fn checkpoint_msg_id(municipality: &MunicipalityCode, size: u64) -> String {
    format!("{municipality}-ckpt-{size}")
}

/// The configuration of a municipality's stream, shared by the relay (which creates it if
/// missing) and the association (which creates it on enrolment so it can source it at once):
/// file storage, deletes and purges refused, direct gets allowed for back-fills.
pub fn stream_config(
    municipality: &MunicipalityCode,
    duplicate_window: std::time::Duration,
) -> async_nats::jetstream::stream::Config {
    async_nats::jetstream::stream::Config {
        name: stream_name(municipality),
        subjects: vec![
            event_subject(municipality),
            checkpoint_subject(municipality),
        ],
        storage: async_nats::jetstream::stream::StorageType::File,
        deny_delete: true,
        deny_purge: true,
        allow_direct: true,
        duplicate_window,
        ..Default::default()
    }
}

/// What the relay reports for health checks and metrics.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RelayStatus {
    /// The last log sequence JetStream acknowledged (0 before the first).
    pub acked_seq: u64,
    /// The size of the last checkpoint JetStream acknowledged (0 before the first).
    pub published_checkpoint_size: u64,
    /// Whether the relay is talking to JetStream (false while it backs off after an error).
    pub connected: bool,
    /// The last error, kept until the relay has made progress again.
    pub last_error: Option<String>,
}

/// A relay running as a tokio task. Dropping the handle stops the relay gracefully, as
/// [`RelayHandle::shutdown`] does without waiting.
#[derive(Debug)]
pub struct RelayHandle {
    status: watch::Receiver<RelayStatus>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), RelayError>>,
}

/// Checks `config` and starts a relay of `log` on the current tokio runtime.
pub fn spawn<B: Backend>(log: Arc<Log<B>>, config: RelayConfig) -> Result<RelayHandle, RelayError> {
    config.validate()?;
    let (status_tx, status) = watch::channel(RelayStatus::default());
    let (stop, stopped) = oneshot::channel::<()>();
    let shutdown = async move {
        // Either a stop request or a dropped handle ends the relay.
        let _ = stopped.await;
    };
    let task = tokio::spawn(run(log, config, status_tx, shutdown));
    Ok(RelayHandle {
        status,
        stop: Some(stop),
        task,
    })
}

impl RelayHandle {
    /// A receiver of the relay's status.
    pub fn status(&self) -> watch::Receiver<RelayStatus> {
        self.status.clone()
    }

    /// Asks the relay to stop and waits for it: in-flight publishes are awaited (each bounded
    /// by the ack timeout) and the cursors saved.
    pub async fn shutdown(mut self) -> Result<(), RelayError> {
        if let Some(stop) = self.stop.take() {
            // The task may already have ended; its result is below.
            let _ = stop.send(());
        }
        Self::join(&mut self.task).await
    }

    /// Stops the task at once, dropping whatever is in flight, as a crash would.
    pub fn abort(self) {
        self.task.abort();
    }

    /// Waits for the task to end by itself (only a fatal error ends it without a stop).
    pub async fn wait(mut self) -> Result<(), RelayError> {
        Self::join(&mut self.task).await
    }

    async fn join(task: &mut JoinHandle<Result<(), RelayError>>) -> Result<(), RelayError> {
        match task.await {
            Ok(result) => result,
            Err(e) => Err(RelayError::Task(e.to_string())),
        }
    }
}
