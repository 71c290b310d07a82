//! Reading a JetStream stream in order into the verifying loop: the ingest stream forever
//! (each message tagged with its stream sequence), or a node's own stream for a back-fill.

use async_nats::jetstream::consumer::DeliverPolicy;
use async_nats::jetstream::consumer::pull::OrderedConfig;
use async_nats::jetstream::{self, Context};
use event_store_core::MunicipalityCode;
use futures_util::StreamExt;
use tokio::sync::mpsc;

use crate::error::AssociationError;
use crate::ingest::topology::INGEST_STREAM;

/// Messages one back-fill reads at most before handing over (it is asked again if needed).
const BACKFILL_MESSAGES_MAX: u64 = 100_000;

/// One message for the verifying loop.
#[derive(Debug)]
pub(crate) enum Incoming {
    Message {
        subject: String,
        payload: Vec<u8>,
        /// The ingest stream's sequence (0 for a back-fill).
        stream_seq: u64,
    },
    BackfillDone(MunicipalityCode),
    /// The set of enrolled keys changed.
    EnrolmentChanged,
}

/// Aborts a task when dropped.
pub(crate) struct AbortOnDrop(pub tokio::task::JoinHandle<Result<(), AssociationError>>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Reads the ingest stream in order from `resume`, forever.
pub(crate) async fn read_stream(
    js: Context,
    resume: u64,
    tx: mpsc::Sender<Incoming>,
) -> Result<(), AssociationError> {
    let stream = js
        .get_stream(INGEST_STREAM)
        .await
        .map_err(AssociationError::nats)?;
    pump(&stream, resume, Pump::Live, &tx).await
}

/// Which reading a pump does.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Pump {
    /// The ingest stream, forever, each message tagged with its stream sequence.
    Live,
    /// A node's own stream up to `last`, untagged (it is not the ingest stream's position).
    Backfill { last: u64 },
}

/// Reads `stream` in order from `start` into the verifying loop.
pub(crate) async fn pump(
    stream: &jetstream::stream::Stream,
    start: u64,
    kind: Pump,
    tx: &mpsc::Sender<Incoming>,
) -> Result<(), AssociationError> {
    let consumer = stream
        .create_consumer(OrderedConfig {
            deliver_policy: DeliverPolicy::ByStartSequence {
                start_sequence: start,
            },
            ..Default::default()
        })
        .await
        .map_err(AssociationError::nats)?;
    let mut messages = consumer.messages().await.map_err(AssociationError::nats)?;
    let mut read = 0;
    while let Some(message) = messages.next().await {
        let message = message.map_err(AssociationError::nats)?;
        let seq = message
            .info()
            .map_err(AssociationError::nats)?
            .stream_sequence;
        let incoming = Incoming::Message {
            subject: message.subject.to_string(),
            payload: message.payload.to_vec(),
            stream_seq: match kind {
                Pump::Live => seq,
                Pump::Backfill { .. } => 0,
            },
        };
        if tx.send(incoming).await.is_err() {
            break;
        }
        read += 1;
        if let Pump::Backfill { last } = kind
            && (seq >= last || read >= BACKFILL_MESSAGES_MAX)
        {
            break;
        }
    }
    Ok(())
}
