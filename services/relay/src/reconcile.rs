//! What a municipality's stream proves the relay already published, read from the messages'
//! bodies. Whoever may publish on the node's subjects can put anything there, headers
//! included, so a message counts only when its body is the log's own: an event whose bytes
//! are the log's stored event at the sequence its envelope names, a checkpoint whose note is
//! the log's stored note at the size it names (so signed by the node's key, for a size the log
//! has reached). Headers decide nothing here.
//!
//! Publishing a message again costs nothing (JetStream drops it within its duplicate window,
//! the association takes identical bytes as a duplicate after it), while resuming past what
//! was published leaves a hole nobody can fill. So when the last message on a subject is not
//! the log's, the relay looks further back, a bounded number of messages, and without a
//! proven message it resumes from its own saved cursor.

use async_nats::jetstream::message::StreamMessage;
use async_nats::jetstream::stream::{LastRawMessageErrorKind, Stream};
use event_store::{Backend, StoreError};
use event_store_core::{EnvelopeRef, SignedCheckpoint};

use crate::error::RelayError;

/// Most stream messages read, one request each (each bounded by the ack timeout), when looking
/// back from a subject's last message that is not the log's. A few thousand covers several
/// checkpoint intervals at the default policy and takes a second or so against a local leaf;
/// past it the saved cursors (at most a second or a thousand events old) are the fallback.
pub const RECONCILE_WALK_BACK_MAX: u64 = 2_048;

/// The highest log positions the stream proves published: an event sequence and a checkpoint
/// size, 0 where nothing is proven.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Proven {
    pub event: u64,
    pub checkpoint: u64,
}

/// The subjects of one municipality.
pub(crate) struct Subjects<'a> {
    pub events: &'a str,
    pub checkpoints: &'a str,
}

/// The last messages of `stream` on both subjects that are `backend`'s log's (of `log_size`
/// events), looking back at most [`RECONCILE_WALK_BACK_MAX`] messages past a last one that is
/// not. Only reading the stream or the log can fail, and that is retried.
pub(crate) async fn proven_on_stream<B: Backend>(
    backend: &B,
    stream: &Stream,
    subjects: &Subjects<'_>,
    log_size: u64,
) -> Result<Proven, RelayError> {
    let mut events = Search::new(Kind::Event, subjects.events);
    let mut checkpoints = Search::new(Kind::Checkpoint, subjects.checkpoints);
    for search in [&mut events, &mut checkpoints] {
        match stream.get_last_raw_message_by_subject(search.subject).await {
            Ok(message) => search.consider(backend, &message, log_size).await?,
            Err(e) if e.kind() == LastRawMessageErrorKind::NoMessageFound => search.found = Some(0),
            Err(source) => {
                return Err(RelayError::ReadStream {
                    what: format!("the last message on {}", search.subject),
                    source,
                });
            }
        }
    }

    // Both subjects are looked for in one walk down the stream's sequences, from just below
    // the highest last message that is not the log's.
    let mut next = [&events, &checkpoints]
        .iter()
        .filter_map(|s| s.lowest_rejected)
        .max()
        .unwrap_or(0);
    let mut read = 0_u64;
    while (events.looking() || checkpoints.looking()) && next > 1 && read < RECONCILE_WALK_BACK_MAX
    {
        next -= 1;
        read += 1;
        let message = match stream.get_raw_message(next).await {
            Ok(message) => message,
            // Removed (a stream allowing deletes, or limits): nothing to prove there.
            Err(e) if e.kind() == LastRawMessageErrorKind::NoMessageFound => continue,
            Err(source) => {
                return Err(RelayError::ReadStream {
                    what: format!("message {next}"),
                    source,
                });
            }
        };
        for search in [&mut events, &mut checkpoints] {
            if search.looking()
                && search.lowest_rejected.is_some_and(|below| next < below)
                && message.subject.as_str() == search.subject
            {
                search.consider(backend, &message, log_size).await?;
            }
        }
    }
    for search in [&events, &checkpoints] {
        if search.looking() {
            tracing::warn!(
                subject = search.subject,
                not_the_logs = search.rejected,
                lowest_stream_seq = search.lowest_rejected,
                "no message of the log's among the last on the node's subject; \
                 resuming after the relay's saved cursor"
            );
        } else if search.rejected > 0 {
            tracing::warn!(
                subject = search.subject,
                not_the_logs = search.rejected,
                lowest_stream_seq = search.lowest_rejected,
                proven = search.found,
                "messages on the node's subject that are not its log's were passed over"
            );
        }
    }
    Ok(Proven {
        event: events.found.unwrap_or(0),
        checkpoint: checkpoints.found.unwrap_or(0),
    })
}

#[derive(Clone, Copy, Debug)]
enum Kind {
    Event,
    Checkpoint,
}

/// The look for the last message of the log's on one subject.
struct Search<'a> {
    kind: Kind,
    subject: &'a str,
    /// The position the last message of the log's holds, once found (0: none on the stream).
    found: Option<u64>,
    /// Messages seen on the subject that are not the log's, and the lowest stream sequence
    /// among them.
    rejected: u64,
    lowest_rejected: Option<u64>,
}

impl<'a> Search<'a> {
    fn new(kind: Kind, subject: &'a str) -> Self {
        Self {
            kind,
            subject,
            found: None,
            rejected: 0,
            lowest_rejected: None,
        }
    }

    fn looking(&self) -> bool {
        self.found.is_none()
    }

    async fn consider<B: Backend>(
        &mut self,
        backend: &B,
        message: &StreamMessage,
        log_size: u64,
    ) -> Result<(), RelayError> {
        let position = match self.kind {
            Kind::Event => event_position(backend, &message.payload, log_size).await?,
            Kind::Checkpoint => checkpoint_size(backend, &message.payload, log_size).await?,
        };
        match position {
            Some(position) => self.found = Some(position),
            None => {
                if self.rejected == 0 {
                    tracing::warn!(
                        subject = self.subject,
                        stream_seq = message.sequence,
                        claimed = wire::log_position(&message.headers),
                        "the last message on the node's subject is not its log's; \
                         looking further back"
                    );
                }
                self.rejected += 1;
                self.lowest_rejected = Some(message.sequence);
            }
        }
        Ok(())
    }
}

/// The sequence of the log's event whose stored bytes `body` is, if it is one of the first
/// `log_size`.
async fn event_position<B: Backend>(
    backend: &B,
    body: &[u8],
    log_size: u64,
) -> Result<Option<u64>, StoreError> {
    let Ok(envelope) = EnvelopeRef::decode(body) else {
        return Ok(None);
    };
    if envelope.seq.0 > log_size {
        return Ok(None);
    }
    let rows = backend.read_events(envelope.seq, 1).await?;
    Ok(rows
        .first()
        .filter(|row| row.seq == envelope.seq && row.bytes == body)
        .map(|row| row.seq.0))
}

/// The size of the log's checkpoint whose stored note `body` is, if its size is at most
/// `log_size`.
async fn checkpoint_size<B: Backend>(
    backend: &B,
    body: &[u8],
    log_size: u64,
) -> Result<Option<u64>, StoreError> {
    let Ok(note) = std::str::from_utf8(body) else {
        return Ok(None);
    };
    let Ok(signed) = SignedCheckpoint::parse(note) else {
        return Ok(None);
    };
    let size = signed.checkpoint.size;
    if size > log_size {
        return Ok(None);
    }
    let stored = backend.checkpoints(size, 1).await?;
    Ok(stored
        .first()
        .filter(|c| c.size == size && c.note == note)
        .map(|c| c.size))
}
