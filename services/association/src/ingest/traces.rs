//! The association's end of a traced event (see `wire::trace`): an event message that came
//! with a `traceparent` keeps it while it waits for its checkpoint (it is shed, forgotten or
//! quarantined with the event, so only events verified under the node's key ever make a span,
//! one each), and once its segment is committed (or the commit failed) a span from its reading
//! to the commit ends as a child of the relay's publish span. Nothing here decides anything
//! about the event.

use event_store_core::MunicipalityCode;
use opentelemetry::KeyValue;
use opentelemetry::trace::{Span as _, SpanKind, Status, Tracer as _};
use wire::trace::Traced;

use crate::batch::Batch;
use crate::error::AssociationError;

/// A traced event of a batch being committed.
#[derive(Debug)]
pub(crate) struct Committing {
    traced: Traced,
    code: MunicipalityCode,
    seq: u64,
    stream_seq: u64,
}

/// The traced events `batch` commits (their traces taken out of it).
pub(crate) fn committing(batch: &mut Batch) -> Vec<Committing> {
    if !wire::trace::enabled() {
        return Vec::new();
    }
    let mut out = Vec::new();
    for segment in &mut batch.segments {
        for event in &mut segment.events {
            if let Some(traced) = event.trace.take() {
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

/// Ends the spans of `events`, committed in a batch of `batch_events` events (or not, with
/// `failed`'s reason).
pub(crate) fn end(events: Vec<Committing>, batch_events: usize, failed: Option<&AssociationError>) {
    if events.is_empty() {
        return;
    }
    let failed = failed.map(ToString::to_string);
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
            .start_with_context(tracer, &wire::trace::under(event.traced.parent));
        if let Some(reason) = &failed {
            span.set_status(Status::error(reason.clone()));
        }
        span.end();
    }
}
