//! The node's transactional outbox: a task that streams the node's log and its signed
//! checkpoints to NATS JetStream, in order and exactly once, across restarts and outages.
//!
//! The log is the record; JetStream is transport. The relay only reads the log, so it never
//! blocks command handling. Events go out pipelined (a bounded number in flight, every
//! `PubAck` awaited in order); the last acknowledged sequence is kept durably as a cursor in
//! the log's own database, and on every (re)start the relay reconciles with the last messages
//! on the stream that are its log's own (their bodies are the stored bytes; headers are not
//! believed), so a crash between an acknowledgement and saving the cursor duplicates nothing,
//! even past JetStream's duplicate window, and nothing another client published on the node's
//! subjects can stop the relay or make it skip.
//!
//! The subjects, headers and stream settings it publishes under are the federation's wire
//! contract, kept in the `wire` crate that the association reads them with. A checkpoint is
//! published only once every event it covers is acknowledged, and checkpoints go out by
//! increasing size.

mod config;
mod error;
mod reconcile;
mod relay;
mod status;

use std::sync::Arc;

use event_store::{Backend, Log};
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

pub use config::{
    ACK_TIMEOUT_MAX, ACK_TIMEOUT_MIN, BACKOFF_MAX_LIMIT, BACKOFF_MIN_LIMIT, DUPLICATE_WINDOW_MAX,
    DUPLICATE_WINDOW_MIN, IDLE_POLL_MAX, IDLE_POLL_MIN, IN_FLIGHT_MAX_LIMIT, RelayConfig,
};
pub use error::RelayError;
pub use reconcile::RECONCILE_WALK_BACK_MAX;
pub use relay::run;
pub use status::{CHECKPOINT_CURSOR, EVENT_CURSOR, RelayStatus};

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
