//! Reading a JetStream stream in order into the verifying loop: the ingest stream forever
//! (each message tagged with its stream sequence), or a node's own stream for a back-fill.

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::consumer::DeliverPolicy;
use async_nats::jetstream::consumer::pull::OrderedConfig;
use async_nats::jetstream::{self, Context};
use event_store_core::MunicipalityCode;
use futures_util::StreamExt;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};

use crate::error::AssociationError;
use crate::ingest::topology::INGEST_STREAM;

/// Messages one back-fill hands to the verifying loop at most before it ends (it is asked
/// again if needed).
const BACKFILL_MESSAGES_MAX: u64 = 100_000;
/// A back-fill that receives nothing for this long ends (a leaf link that dropped mid-read),
/// freeing its slot for other nodes' gaps.
const BACKFILL_IDLE_TIMEOUT: Duration = Duration::from_secs(15);
/// A back-fill ends after this long in any case (a link that trickles), and is asked again
/// later if needed.
const BACKFILL_DEADLINE: Duration = Duration::from_secs(60);

/// Bytes of messages on their way from the readers to the verifying loop at most (besides
/// [`super::CHANNEL_CAPACITY`] messages): 4,096 messages of up to 1 MiB would be 4 GiB.
pub(crate) const CHANNEL_BYTES_MAX: usize = 64 << 20;

/// One message for the verifying loop.
#[derive(Debug)]
pub(crate) enum Incoming {
    Message {
        subject: String,
        payload: Vec<u8>,
        origin: Origin,
        /// The message's share of [`CHANNEL_BYTES_MAX`], given back when it is dropped.
        _bytes: OwnedSemaphorePermit,
    },
    /// A back-fill of this node ended; `completed` false when it failed (a dropped link, a
    /// timeout) rather than reading what it was asked to.
    BackfillDone {
        code: MunicipalityCode,
        completed: bool,
    },
}

/// Where a message was read, which decides whose it may be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Origin {
    /// The ingest stream at `stream_seq`, sourced from the stream JetStream names in the
    /// message's `Nats-Stream-Source` header (`None` when the header is missing).
    Ingest {
        stream_seq: u64,
        source: Option<String>,
        /// The span it was published under, when traced.
        trace: Option<wire::trace::Traced>,
    },
    /// A back-fill of this municipality's own stream, read through a filter on its subjects.
    Backfill(MunicipalityCode),
}

impl Origin {
    /// The ingest stream's position (0 for a back-fill: not the ingest stream's).
    pub fn stream_seq(&self) -> u64 {
        match self {
            Self::Ingest { stream_seq, .. } => *stream_seq,
            Self::Backfill(_) => 0,
        }
    }

    /// The span the message was published under, when it came traced on the ingest stream.
    pub fn trace(&self) -> Option<&wire::trace::Traced> {
        match self {
            Self::Ingest { trace, .. } => trace.as_ref(),
            Self::Backfill(_) => None,
        }
    }
}

/// The stream a sourced message came from, from the `Nats-Stream-Source` header JetStream adds
/// when it copies a message into a sourcing stream: its first word is the source stream's name,
/// followed by `:<hash>` when the source is in another domain.
fn source_stream(headers: Option<&async_nats::HeaderMap>) -> Option<String> {
    let value = headers?.get("Nats-Stream-Source")?.as_str();
    let first = value.split_whitespace().next()?;
    let name = first.split_once(':').map_or(first, |(name, _)| name);
    Some(name.to_owned())
}

/// Aborts a task when dropped.
pub(crate) struct AbortOnDrop<T = Result<(), AssociationError>>(pub tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The way into the verifying loop, bounded in messages and in bytes.
#[derive(Debug, Clone)]
pub(crate) struct Feed {
    pub tx: mpsc::Sender<Incoming>,
    bytes: Arc<Semaphore>,
}

impl Feed {
    pub fn new(tx: mpsc::Sender<Incoming>) -> Self {
        Self {
            tx,
            bytes: Arc::new(Semaphore::new(CHANNEL_BYTES_MAX)),
        }
    }

    /// Sends a message once there is room for its bytes; false when the loop is gone.
    async fn send(&self, subject: String, payload: Vec<u8>, origin: Origin) -> bool {
        let share = u32::try_from(payload.len().clamp(1, CHANNEL_BYTES_MAX)).unwrap_or(u32::MAX);
        let Ok(permit) = self.bytes.clone().acquire_many_owned(share).await else {
            return false;
        };
        let message = Incoming::Message {
            subject,
            payload,
            origin,
            _bytes: permit,
        };
        self.tx.send(message).await.is_ok()
    }
}

/// Reads the ingest stream in order from `resume`, forever.
pub(crate) async fn read_stream(
    js: Context,
    resume: u64,
    feed: Feed,
) -> Result<(), AssociationError> {
    let stream = js
        .get_stream(INGEST_STREAM)
        .await
        .map_err(AssociationError::nats)?;
    pump(&stream, resume, Pump::Live, &feed).await
}

/// Which reading a pump does.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Pump {
    /// The ingest stream, forever, each message tagged with its stream sequence and source.
    Live,
    /// `code`'s own stream up to `last`, only `code`'s subjects (a hromada's stream may hold
    /// any subject its operator adds; only its own are read), skipping events before
    /// `from_seq` by their bytes.
    Backfill {
        code: MunicipalityCode,
        last: u64,
        from_seq: u64,
    },
}

/// Reads `stream` in order from `start` into the verifying loop.
pub(crate) async fn pump(
    stream: &jetstream::stream::Stream,
    start: u64,
    kind: Pump,
    feed: &Feed,
) -> Result<(), AssociationError> {
    let filter_subject = match kind {
        Pump::Live => None,
        Pump::Backfill { code, .. } => Some(wire::subjects_filter(&code)),
    };
    let consumer = stream
        .create_consumer(OrderedConfig {
            deliver_policy: DeliverPolicy::ByStartSequence {
                start_sequence: start,
            },
            filter_subject: filter_subject.unwrap_or_default(),
            ..Default::default()
        })
        .await
        .map_err(AssociationError::nats)?;
    let mut messages = consumer.messages().await.map_err(AssociationError::nats)?;
    let mut read = 0;
    let deadline = tokio::time::Instant::now() + BACKFILL_DEADLINE;
    loop {
        let next = match kind {
            Pump::Live => messages.next().await,
            Pump::Backfill { .. } => {
                let idle = tokio::time::Instant::now() + BACKFILL_IDLE_TIMEOUT;
                match tokio::time::timeout_at(idle.min(deadline), messages.next()).await {
                    Ok(next) => next,
                    Err(_) => {
                        return Err(AssociationError::Nats(format!(
                            "back-fill idle for {BACKFILL_IDLE_TIMEOUT:?} or past its \
                             deadline of {BACKFILL_DEADLINE:?}"
                        )));
                    }
                }
            }
        };
        let Some(message) = next else { break };
        let message = message.map_err(AssociationError::nats)?;
        let info = message.info().map_err(AssociationError::nats)?;
        let (seq, pending) = (info.stream_sequence, info.pending);
        let origin = match kind {
            Pump::Live => Origin::Ingest {
                stream_seq: seq,
                source: source_stream(message.headers.as_ref()),
                trace: wire::trace::Traced::read(message.headers.as_ref()),
            },
            Pump::Backfill { code, .. } => Origin::Backfill(code),
        };
        // A back-fill ends at the stream's last message when it started, or when its filter
        // has nothing more (the stream's last message may be on another subject).
        let backfill_done =
            matches!(kind, Pump::Backfill { last, .. } if seq >= last || pending == 0);
        if let Pump::Backfill { from_seq, .. } = kind
            && is_event_before(&message.subject, &message.payload, from_seq)
        {
            if backfill_done {
                break;
            }
            continue;
        }
        if !feed
            .send(
                message.subject.to_string(),
                message.payload.to_vec(),
                origin,
            )
            .await
        {
            break;
        }
        read += 1;
        if backfill_done || (matches!(kind, Pump::Backfill { .. }) && read >= BACKFILL_MESSAGES_MAX)
        {
            break;
        }
    }
    Ok(())
}

/// Whether a message is an event (by its bytes) earlier than `from_seq`: a back-fill skips
/// those rather than have each compared with the stored log.
fn is_event_before(subject: &str, payload: &[u8], from_seq: u64) -> bool {
    wire::Subject::parse(subject).is_some_and(|s| s.kind == wire::SubjectKind::Event)
        && event_store_core::EnvelopeRef::decode(payload).is_ok_and(|e| e.seq.0 < from_seq)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_source_stream_is_the_first_word_of_the_header() {
        let mut headers = async_nats::HeaderMap::new();
        assert_eq!(source_stream(Some(&headers)), None);
        assert_eq!(source_stream(None), None);
        headers.insert("Nats-Stream-Source", "VIDKRYTO_UA05020030000031457 17 > >");
        assert_eq!(
            source_stream(Some(&headers)).as_deref(),
            Some("VIDKRYTO_UA05020030000031457")
        );
        headers.insert(
            "Nats-Stream-Source",
            "VIDKRYTO_UA05020030000031457:ab12 3 > >",
        );
        assert_eq!(
            source_stream(Some(&headers)).as_deref(),
            Some("VIDKRYTO_UA05020030000031457")
        );
        headers.insert("Nats-Stream-Source", "   ");
        assert_eq!(source_stream(Some(&headers)), None);
    }
}
