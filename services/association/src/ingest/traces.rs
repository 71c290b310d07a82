//! The association's end of a traced event (see `wire::trace`): an event message that came
//! with a `traceparent` is remembered by its ingest-stream position when read, and once its
//! verified segment is committed (or the commit failed) a span from its reading to the commit
//! ends as a child of the relay's publish span. Nothing here decides anything about the event.

use std::collections::BTreeMap;
use std::time::SystemTime;

use event_store_core::MunicipalityCode;
use opentelemetry::KeyValue;
use opentelemetry::trace::{Span as _, SpanContext, SpanKind, Status, Tracer as _};

use crate::batch::Batch;

/// Traced events waiting for their commit at most; past it the oldest are forgotten (an event
/// that never commits, a duplicate or a quarantined one, is not held forever).
const WAITING_MAX: usize = 16_384;

/// Where a traced message's span hangs and when it was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Traced {
    pub parent: SpanContext,
    pub received: SystemTime,
}

impl Traced {
    /// The trace a message read now came with, when this process traces.
    pub fn read(headers: Option<&async_nats::HeaderMap>) -> Option<Self> {
        wire::trace::from_headers(headers).map(|parent| Self {
            parent,
            received: SystemTime::now(),
        })
    }
}

/// Traced events by ingest-stream position, until committed.
#[derive(Debug, Default)]
pub(crate) struct Traces {
    waiting: BTreeMap<u64, Traced>,
}

/// A traced event of a batch being committed.
#[derive(Debug)]
pub(crate) struct Committing {
    traced: Traced,
    code: MunicipalityCode,
    seq: u64,
    stream_seq: u64,
}

impl Traces {
    /// Remembers the event read at `stream_seq`.
    pub fn note(&mut self, stream_seq: u64, traced: Traced) {
        if stream_seq == 0 {
            return;
        }
        self.waiting.insert(stream_seq, traced);
        while self.waiting.len() > WAITING_MAX {
            self.waiting.pop_first();
        }
    }

    /// The traced events `batch` commits, no longer waiting.
    pub fn committing(&mut self, batch: &Batch) -> Vec<Committing> {
        if self.waiting.is_empty() {
            return Vec::new();
        }
        let mut out = Vec::new();
        for segment in &batch.segments {
            for event in &segment.events {
                if let Some(traced) = self.waiting.remove(&event.stream_seq) {
                    out.push(Committing {
                        traced,
                        code: segment.code,
                        seq: event.seq,
                        stream_seq: event.stream_seq,
                    });
                }
            }
        }
        out
    }
}

/// Ends the spans of `events`, committed in a batch of `batch_events` events (or not, with
/// `failed`'s reason).
pub(crate) fn end(events: Vec<Committing>, batch_events: usize, failed: Option<&str>) {
    if events.is_empty() {
        return;
    }
    let tracer = wire::trace::tracer();
    for event in events {
        let mut span = tracer
            .span_builder("vidkryto.association.commit")
            .with_kind(SpanKind::Consumer)
            .with_start_time(event.traced.received)
            .with_attributes([
                KeyValue::new("vidkryto.hromada", event.code.to_string()),
                KeyValue::new("vidkryto.log.seq", event.seq as i64),
                KeyValue::new("vidkryto.ingest.stream_seq", event.stream_seq as i64),
                KeyValue::new("vidkryto.commit.events", batch_events as i64),
                KeyValue::new("messaging.system", "nats"),
            ])
            .start_with_context(&tracer, &wire::trace::under(event.traced.parent));
        if let Some(reason) = failed {
            span.set_status(Status::error(reason.to_owned()));
        }
        span.end();
    }
}
