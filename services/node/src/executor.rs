//! Runs commands through the domain rules into the log: loads a stream's state (from a bounded
//! cache, topped up from the log), decides, appends with the expected stream version, and makes
//! every command idempotent by its client-chosen request id.
//!
//! **Request ids.** A request id is a UUIDv7. The command's first event gets it as its event id
//! and the next ones ids derived from it (`derived_event_id`), so the log itself remembers every
//! request: a retry finds its events by id and returns the first result, writing nothing, and
//! an append racing a retry is deduplicated by the log. No second table can disagree with it.
//! A retry is only the same request if it asks the same kind of command on the same stream: an
//! id whose first event is on another stream or of another type is refused as `request_id`,
//! never answered with a result that is not this command's.

use std::any::Any;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use domain::{Actor, Aggregate, Event, EventType};
use event_store::{Backend, EventRow, ExpectedVersion, Log, NewEvent, StoreError};
use event_store_core::{EnvelopeRef, EventId, LogSeq, StreamId, StreamVersion, Timestamp};
use opentelemetry::KeyValue;
use opentelemetry::trace::{Span as _, SpanKind, Status, Tracer as _};
use uuid::Uuid;

use crate::error::NodeError;

/// Streams whose state is kept in memory. A petition with 25,000 signatures holds 800 KB of
/// signer tags, so the cache is bounded by count and cleared wholesale when full: a miss costs
/// one read of the stream.
const STATE_CACHE_STREAMS_MAX: usize = 1_024;
/// Commands on one stream are serialised by a lock; streams share this many locks.
const STREAM_LOCK_SHARDS: usize = 64;
/// Events read per query while loading a stream's state.
const LOAD_CHUNK_LEN: u32 = 10_000;
/// Attempts of one command when another writer (another process on the same database) moved
/// the stream between our read and our append.
const CONFLICT_RETRIES_MAX: u32 = 3;

/// An aggregate whose streams the executor runs: its state is cached and shared between tasks,
/// and its events are read back from the log's domain events.
pub trait StreamAggregate:
    Aggregate<State: Send + Sync + 'static, Event: TryFrom<Event, Error = Event>>
{
}

impl<A> StreamAggregate for A where
    A: Aggregate<State: Send + Sync + 'static, Event: TryFrom<Event, Error = Event>>
{
}

/// What a command records: the type of its first event (each kind of command has its own, so a
/// retry's stored events tell which kind of command its id answered), and who acted for the
/// council, which each official event it records carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Recording {
    pub first: EventType,
    pub by: Option<Actor>,
}

/// `event` with `by` as who acted, when it is an official event.
fn attributed<E: Into<Event> + TryFrom<Event, Error = Event>>(event: E, by: Option<Actor>) -> E {
    let Some(by) = by else {
        return event;
    };
    let mut event: Event = event.into();
    event.attribute(Some(by));
    match E::try_from(event) {
        Ok(event) => event,
        // Unreachable: it came from an `E` and attributing keeps its variant.
        Err(other) => unreachable!("attributing changed the event's aggregate: {other:?}"),
    }
}

/// Where a command's events landed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    pub stream: StreamId,
    pub stream_version: StreamVersion,
    pub first_seq: LogSeq,
    pub last_seq: LogSeq,
    pub event_types: Vec<&'static str>,
    pub deduplicated: bool,
}

/// The time source: the system clock in production, a fixed or stepped one in tests.
pub type Clock = Arc<dyn Fn() -> Timestamp + Send + Sync>;

/// The system clock.
pub fn system_clock() -> Clock {
    Arc::new(Timestamp::now)
}

/// Checks that a request id is a UUIDv7 and returns it.
pub fn parse_request_id(text: &str) -> Result<Uuid, NodeError> {
    let id =
        Uuid::parse_str(text).map_err(|_| NodeError::invalid("request_id", "must be a UUID"))?;
    if id.get_version_num() != 7 {
        return Err(NodeError::invalid("request_id", "must be a UUIDv7"));
    }
    Ok(id)
}

/// The id of event `index` of the command with this request id: the request id itself, then
/// the same UUIDv7 with `index` added to its 62 random bits (so still a valid UUIDv7).
pub fn derived_event_id(request: Uuid, index: u32) -> EventId {
    if index == 0 {
        return EventId(request);
    }
    const RAND_B_MASK: u128 = (1u128 << 62) - 1;
    let raw = request.as_u128();
    let rand_b = (raw & RAND_B_MASK).wrapping_add(u128::from(index)) & RAND_B_MASK;
    EventId(Uuid::from_u128((raw & !RAND_B_MASK) | rand_b))
}

struct Cached {
    version: StreamVersion,
    state: Arc<dyn Any + Send + Sync>,
}

/// Executes commands and loads states over one node's log.
pub struct Executor<B: Backend> {
    log: Arc<Log<B>>,
    clock: Clock,
    /// The latest time handed to a command, in microseconds: time never runs backwards in
    /// the log even if the system clock is stepped back (the domain refuses a command dated
    /// before its stream's last event).
    last_at: std::sync::atomic::AtomicI64,
    cache: Mutex<HashMap<StreamId, Cached>>,
    locks: Vec<tokio::sync::Mutex<()>>,
}

impl<B: Backend> std::fmt::Debug for Executor<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Executor")
            .field("municipality", &self.log.municipality())
            .finish_non_exhaustive()
    }
}

/// Decodes a stored event: the node's one way of reading its own log back.
pub(crate) fn open_event(row: &EventRow) -> Result<domain::Event, NodeError> {
    domain::open(&row.bytes)
        .map(|recorded| recorded.event)
        .map_err(|e| NodeError::Store(StoreError::Corrupt(format!("event {}: {e}", row.seq.0))))
}

/// Decodes a stored event into the domain's event of aggregate `A`.
fn domain_event<A: StreamAggregate>(row: &EventRow) -> Result<A::Event, NodeError> {
    let event = open_event(row)?;
    A::Event::try_from(event).map_err(|_| {
        NodeError::Store(StoreError::Corrupt(format!(
            "event {} belongs to another kind of stream",
            row.seq.0
        )))
    })
}

impl<B: Backend> Executor<B> {
    /// An executor over `log`, reading time from `clock`.
    pub fn new(log: Arc<Log<B>>, clock: Clock) -> Self {
        let locks = (0..STREAM_LOCK_SHARDS)
            .map(|_| tokio::sync::Mutex::new(()))
            .collect();
        Self {
            log,
            clock,
            last_at: std::sync::atomic::AtomicI64::new(i64::MIN),
            cache: Mutex::new(HashMap::new()),
            locks,
        }
    }

    /// The log.
    pub fn log(&self) -> &Arc<Log<B>> {
        &self.log
    }

    /// The current time.
    pub fn now(&self) -> Timestamp {
        use std::sync::atomic::Ordering;
        let now = (self.clock)().0;
        let previous = self.last_at.fetch_max(now, Ordering::SeqCst);
        Timestamp(now.max(previous))
    }

    /// Makes `now` never return a time before `at` (the newest event already in the log).
    pub fn not_before(&self, at: Timestamp) {
        self.last_at
            .fetch_max(at.0, std::sync::atomic::Ordering::SeqCst);
    }

    fn lock_for(&self, stream: StreamId) -> &tokio::sync::Mutex<()> {
        let shard = (stream.0.as_u128() % STREAM_LOCK_SHARDS as u128) as usize;
        &self.locks[shard]
    }

    /// The state of a stream and its version.
    pub async fn load<A: StreamAggregate>(
        &self,
        stream: StreamId,
    ) -> Result<(A::State, StreamVersion), NodeError> {
        let cached = {
            let cache = self
                .cache
                .lock()
                .map_err(|_| NodeError::Internal("state cache poisoned".into()))?;
            cache.get(&stream).and_then(|c| {
                c.state
                    .clone()
                    .downcast::<A::State>()
                    .ok()
                    .map(|s| ((*s).clone(), c.version))
            })
        };
        let (mut state, mut version) =
            cached.unwrap_or_else(|| (A::State::default(), StreamVersion(0)));
        loop {
            let rows = self
                .log
                .read_stream(stream, StreamVersion(version.0 + 1), LOAD_CHUNK_LEN)
                .await?;
            let Some(last) = rows.last() else { break };
            let last_version = last.stream_version;
            for row in &rows {
                state = A::evolve(state, &domain_event::<A>(row)?);
            }
            version = last_version;
            if rows.len() < LOAD_CHUNK_LEN as usize {
                break;
            }
        }
        self.remember(stream, version, &state)?;
        Ok((state, version))
    }

    fn remember<S: Clone + Send + Sync + 'static>(
        &self,
        stream: StreamId,
        version: StreamVersion,
        state: &S,
    ) -> Result<(), NodeError> {
        if version.0 == 0 {
            return Ok(());
        }
        let mut cache = self
            .cache
            .lock()
            .map_err(|_| NodeError::Internal("state cache poisoned".into()))?;
        if cache.len() >= STATE_CACHE_STREAMS_MAX && !cache.contains_key(&stream) {
            cache.clear();
        }
        cache.insert(
            stream,
            Cached {
                version,
                state: Arc::new(state.clone()),
            },
        );
        Ok(())
    }

    /// The first result of a request already in the log, if it is: the events recorded under
    /// `request` by a command of the kind whose first event is of type `kind`, on `stream`. An
    /// id that answered a command on another stream, or of another kind, is refused.
    async fn earlier_result(
        &self,
        request: Uuid,
        kind: EventType,
        stream: StreamId,
    ) -> Result<Option<Outcome>, NodeError> {
        let Some(first) = self.log.backend().event_by_id(EventId(request)).await? else {
            return Ok(None);
        };
        if first.stream_id != stream {
            return Err(NodeError::invalid(
                "request_id",
                "was already used for a command on another stream",
            ));
        }
        let first_type = EnvelopeRef::decode(&first.bytes)
            .map_err(|e| NodeError::Store(StoreError::Corrupt(e.to_string())))?
            .event_type;
        if first_type != kind.code() {
            let earlier = domain::EventType::from_code(first_type).map_or("unknown", |t| t.name());
            return Err(NodeError::invalid(
                "request_id",
                &format!(
                    "was already used for another kind of command (it recorded {earlier}, this \
                     command records {}); send a new request id",
                    kind.name()
                ),
            ));
        }
        let rows = self
            .log
            .read_stream(
                stream,
                first.stream_version,
                event_store::APPEND_BATCH_MAX as u32,
            )
            .await?;
        let mut outcome = Outcome {
            stream,
            stream_version: first.stream_version,
            first_seq: first.seq,
            last_seq: first.seq,
            event_types: Vec::new(),
            deduplicated: true,
        };
        for (i, row) in rows.iter().enumerate() {
            if row.event_id != derived_event_id(request, i as u32) {
                break;
            }
            outcome.stream_version = row.stream_version;
            outcome.last_seq = row.seq;
            let env = EnvelopeRef::decode(&row.bytes)
                .map_err(|e| NodeError::Store(StoreError::Corrupt(e.to_string())))?;
            outcome
                .event_types
                .push(domain::EventType::from_code(env.event_type).map_or("unknown", |t| t.name()));
        }
        Ok(Some(outcome))
    }

    /// Runs one command on one stream: `recording.first` is the type of the first event this
    /// kind of command records (what a retry's stored events must begin with), and each
    /// official event it records carries `recording.by`; `make` builds the domain command for
    /// the time of each attempt.
    pub async fn execute<A: StreamAggregate>(
        &self,
        request: Uuid,
        recording: Recording,
        stream: StreamId,
        make: impl Fn(Timestamp) -> A::Command,
    ) -> Result<Outcome, NodeError> {
        if !wire::trace::enabled() {
            return self.run::<A>(request, recording, stream, make, None).await;
        }
        let tracer = wire::trace::tracer();
        let mut span = tracer
            .span_builder("vidkryto.node.command")
            .with_kind(SpanKind::Server)
            .with_attributes([
                KeyValue::new("vidkryto.hromada", self.log.municipality().to_string()),
                KeyValue::new("vidkryto.command", recording.first.name()),
            ])
            .start(tracer);
        let context = span.span_context().clone();
        let outcome = self
            .run::<A>(request, recording, stream, make, Some(&context))
            .await;
        match &outcome {
            Ok(o) if o.last_seq.0 > 0 => {
                span.set_attribute(KeyValue::new(
                    "vidkryto.log.first_seq",
                    o.first_seq.0 as i64,
                ));
                span.set_attribute(KeyValue::new("vidkryto.log.last_seq", o.last_seq.0 as i64));
                span.set_attribute(KeyValue::new("vidkryto.deduplicated", o.deduplicated));
            }
            Ok(_) => {}
            Err(e) => span.set_status(Status::error(e.to_string())),
        }
        outcome
    }

    /// [`Self::execute`] without its span.
    async fn run<A: StreamAggregate>(
        &self,
        request: Uuid,
        recording: Recording,
        stream: StreamId,
        make: impl Fn(Timestamp) -> A::Command,
        traced: Option<&opentelemetry::trace::SpanContext>,
    ) -> Result<Outcome, NodeError> {
        let kind = recording.first;
        if let Some(outcome) = self.earlier_result(request, kind, stream).await? {
            return Ok(outcome);
        }
        let _guard = self.lock_for(stream).lock().await;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let (state, version) = self.load::<A>(stream).await?;
            let at = self.now();
            let command = make(at);
            let events: Vec<A::Event> = A::decide(&state, command)?
                .into_iter()
                .map(|e| attributed(e, recording.by))
                .collect();
            if events.is_empty() {
                return Ok(Outcome {
                    stream,
                    stream_version: version,
                    first_seq: LogSeq(0),
                    last_seq: LogSeq(0),
                    event_types: Vec::new(),
                    deduplicated: false,
                });
            }
            let mut new_events = Vec::with_capacity(events.len());
            let mut event_types = Vec::with_capacity(events.len());
            for (i, e) in events.iter().enumerate() {
                let event: Event = e.clone().into();
                debug_assert!(
                    i > 0 || event.event_type() == kind,
                    "a command expected to record {} recorded {} first",
                    kind.name(),
                    event.event_type().name()
                );
                let encoded = domain::encode(&event);
                event_types.push(event.event_type().name());
                new_events.push(NewEvent {
                    event_id: derived_event_id(request, i as u32),
                    event_type: encoded.event_type,
                    schema_version: encoded.schema_version,
                    recorded_at: at,
                    payload: encoded.payload,
                });
            }
            let expected = if version.0 == 0 {
                ExpectedVersion::NoStream
            } else {
                ExpectedVersion::Exact(version)
            };
            // Remembered before the append: the relay may publish the events before this
            // task runs again.
            let ids: Vec<EventId> = match traced {
                Some(context) => {
                    let ids: Vec<EventId> = new_events.iter().map(|e| e.event_id).collect();
                    wire::trace::remember(ids.iter().copied(), context);
                    ids
                }
                None => Vec::new(),
            };
            let appended = self.log.append(stream, expected, new_events).await;
            if appended.as_ref().map_or(true, |a| a.deduplicated) {
                wire::trace::forget(ids);
            }
            match appended {
                Ok(appended) => {
                    let state = events.iter().fold(state, A::evolve);
                    self.remember(stream, appended.stream_version(), &state)?;
                    return Ok(Outcome {
                        stream,
                        stream_version: appended.stream_version(),
                        first_seq: appended.positions.first().map_or(LogSeq(0), |p| p.0),
                        last_seq: appended.last_seq(),
                        event_types,
                        deduplicated: appended.deduplicated,
                    });
                }
                Err(StoreError::Conflict { .. }) if attempt < CONFLICT_RETRIES_MAX => {
                    self.forget(stream)?;
                }
                Err(StoreError::EventIdReused(_)) => {
                    // A retry of this request won the race: answer with its result.
                    return self
                        .earlier_result(request, kind, stream)
                        .await?
                        .ok_or_else(|| {
                            NodeError::invalid("request_id", "was already used for another command")
                        });
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    fn forget(&self, stream: StreamId) -> Result<(), NodeError> {
        let mut cache = self
            .cache
            .lock()
            .map_err(|_| NodeError::Internal("state cache poisoned".into()))?;
        cache.remove(&stream);
        Ok(())
    }
}
