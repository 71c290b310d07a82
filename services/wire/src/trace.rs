//! Traces across the NATS hop, off unless the process installed an exporter ([`enable`]).
//!
//! One event is followed from the node's command to the association's commit: the node's
//! executor opens a span for the command and [`remember`]s it for the positions its events took
//! in the log; the relay, which reads those events back from the log (never from the command),
//! [`take`]s the span, publishes the event under a child span and puts that span's W3C
//! `traceparent` on the message ([`TRACEPARENT_HEADER`]); the association reads it back
//! ([`from_headers`]) and ends its commit span as that span's child.
//!
//! A `traceparent` is a hint like every other header: it decides nothing but where a span
//! hangs. One that is not exactly a version-00 trace context is ignored.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};

use std::time::SystemTime;

use event_store_core::EventId;
use opentelemetry::trace::{SpanContext, SpanId, TraceFlags, TraceId, TraceState};

/// The W3C trace-context header the relay sets on event messages.
pub const TRACEPARENT_HEADER: &str = "traceparent";
/// Appended events whose command spans wait for the relay at most; older ones are forgotten
/// (their events go out untraced).
pub const REMEMBERED_MAX: usize = 16_384;
/// Events of one command remembered at most (a command records a handful).
const EVENTS_PER_COMMAND_MAX: usize = 64;

static ENABLED: AtomicBool = AtomicBool::new(false);

/// Turns tracing on for this process: called once a tracer provider is installed.
pub fn enable() {
    ENABLED.store(true, Ordering::Relaxed);
}

/// Whether this process exports traces (otherwise no span is made and no header read).
pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// The tracer every vidkryto span comes from (taken from the provider installed before
/// [`enable`], once).
pub fn tracer() -> &'static opentelemetry::global::BoxedTracer {
    static TRACER: OnceLock<opentelemetry::global::BoxedTracer> = OnceLock::new();
    TRACER.get_or_init(|| opentelemetry::global::tracer("vidkryto"))
}

/// The context a span started in becomes the child of `parent` (a span of another task or
/// process).
pub fn under(parent: SpanContext) -> opentelemetry::Context {
    use opentelemetry::trace::TraceContextExt as _;
    opentelemetry::Context::new().with_remote_span_context(parent)
}

/// `context` as a `traceparent` value: `00-<trace id>-<span id>-<flags>`; none for an invalid
/// context.
pub fn traceparent(context: &SpanContext) -> Option<String> {
    context.is_valid().then(|| {
        format!(
            "00-{}-{}-{:02x}",
            context.trace_id(),
            context.span_id(),
            context.trace_flags().to_u8()
        )
    })
}

/// The remote span context in a `traceparent` value, if it is exactly one of version 00
/// (lower-case hex, ids not all zeros); anything else is none.
pub fn parse_traceparent(text: &str) -> Option<SpanContext> {
    let mut parts = text.split('-');
    let (version, trace, span, flags) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let lower_hex = |s: &str, len: usize| {
        s.len() == len
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    };
    if parts.next().is_some()
        || version != "00"
        || !lower_hex(trace, 32)
        || !lower_hex(span, 16)
        || !lower_hex(flags, 2)
    {
        return None;
    }
    let trace_id = TraceId::from_hex(trace).ok()?;
    let span_id = SpanId::from_hex(span).ok()?;
    let flags = u8::from_str_radix(flags, 16).ok()?;
    let context = SpanContext::new(
        trace_id,
        span_id,
        TraceFlags::new(flags & TraceFlags::SAMPLED.to_u8()),
        true,
        TraceState::NONE,
    );
    context.is_valid().then_some(context)
}

/// The span context a message's `traceparent` names, when tracing is on and it names one.
pub fn from_headers(headers: Option<&async_nats::HeaderMap>) -> Option<SpanContext> {
    if !enabled() {
        return None;
    }
    parse_traceparent(headers?.get(TRACEPARENT_HEADER)?.as_str())
}

/// Command spans by the ids of the events they append, until the relay takes them.
#[derive(Debug, Default)]
struct Remembered {
    spans: HashMap<EventId, SpanContext>,
    order: VecDeque<EventId>,
}

fn remembered() -> &'static Mutex<Remembered> {
    static REMEMBERED: OnceLock<Mutex<Remembered>> = OnceLock::new();
    REMEMBERED.get_or_init(Mutex::default)
}

/// Remembers that the events `ids` are being appended under `context`, for the relay that
/// publishes them: before the append, so a relay woken by it finds the span. Bounded by
/// [`REMEMBERED_MAX`] (and [`EVENTS_PER_COMMAND_MAX`] ids of one command).
pub fn remember(ids: impl IntoIterator<Item = EventId>, context: &SpanContext) {
    if !enabled() || !context.is_valid() {
        return;
    }
    let Ok(mut r) = remembered().lock() else {
        return;
    };
    for id in ids.into_iter().take(EVENTS_PER_COMMAND_MAX) {
        r.spans.insert(id, context.clone());
        r.order.push_back(id);
    }
    while r.order.len() > REMEMBERED_MAX {
        if let Some(old) = r.order.pop_front() {
            r.spans.remove(&old);
        }
    }
}

/// Forgets the events `ids` (their append failed, or was a retry's that appended nothing).
pub fn forget(ids: impl IntoIterator<Item = EventId>) {
    if !enabled() {
        return;
    }
    if let Ok(mut r) = remembered().lock() {
        for id in ids {
            r.spans.remove(&id);
        }
    }
}

/// The span of the command that appended event `id`, if it was remembered in this process
/// and not taken yet.
pub fn take(id: EventId) -> Option<SpanContext> {
    if !enabled() {
        return None;
    }
    remembered().lock().ok()?.spans.remove(&id)
}

/// Where a traced message's span hangs, and when it was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Traced {
    pub parent: SpanContext,
    pub received: SystemTime,
}

impl Traced {
    /// The trace a message read now came with, when this process traces.
    pub fn read(headers: Option<&async_nats::HeaderMap>) -> Option<Self> {
        from_headers(headers).map(|parent| Self {
            parent,
            received: SystemTime::now(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sampled() -> SpanContext {
        SpanContext::new(
            TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap(),
            SpanId::from_hex("00f067aa0ba902b7").unwrap(),
            TraceFlags::SAMPLED,
            false,
            TraceState::NONE,
        )
    }

    #[test]
    fn a_traceparent_round_trips_and_anything_else_is_ignored() {
        let context = sampled();
        let text = traceparent(&context).unwrap();
        assert_eq!(
            text,
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
        );
        let parsed = parse_traceparent(&text).unwrap();
        assert_eq!(parsed.trace_id(), context.trace_id());
        assert_eq!(parsed.span_id(), context.span_id());
        assert!(parsed.is_sampled() && parsed.is_remote());
        for bad in [
            "",
            "00",
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
            "00-+bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-zz",
        ] {
            assert!(parse_traceparent(bad).is_none(), "{bad:?} was taken");
        }
        // Flags other than `sampled` are not carried over.
        let odd = parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-ff");
        assert_eq!(odd.unwrap().trace_flags(), TraceFlags::SAMPLED);
    }

    #[test]
    fn remembered_spans_are_taken_once_and_bounded() {
        enable();
        let id = |n: u128| EventId::from_slice(&n.to_be_bytes()).unwrap();
        let context = sampled();
        remember([id(7), id(8)], &context);
        assert_eq!(take(id(7)).as_ref(), Some(&context));
        assert_eq!(take(id(7)), None, "taken once");
        forget([id(8)]);
        assert_eq!(take(id(8)), None, "forgotten");
        // A flood of commands forgets the oldest, never grows past the bound.
        remember([id(1_000)], &context);
        for first in (2_000..2_000 + REMEMBERED_MAX as u128).step_by(4) {
            remember((first..first + 4).map(id), &context);
        }
        assert_eq!(take(id(1_000)), None, "the oldest was forgotten");
        let held = remembered().lock().unwrap().spans.len();
        assert!(held <= REMEMBERED_MAX, "{held}");
        // A command of absurd length remembers a bounded run.
        remember((100_000..200_000).map(id), &context);
        let last = 100_000 + EVENTS_PER_COMMAND_MAX as u128;
        assert!(take(id(last - 1)).is_some());
        assert!(take(id(last)).is_none());
    }
}
