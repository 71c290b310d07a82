//! Bounds on the server-streaming calls (WatchUpdates, ReadLog). The server's request timeout
//! and concurrency limits end when a response starts, and a stream's response goes on after
//! that, so each kind of stream is admitted through a semaphore of its own ([`Gate`]), and its
//! producer ([`Sink`]) stops when the client takes no message for an idle bound or when the
//! stream's lifetime is over; the stream then ends with `DEADLINE_EXCEEDED`.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::Stream;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio::time::Instant;
use tonic::Status;

/// Concurrent WatchUpdates streams. Every dashboard page open holds one; each costs a task and
/// a few buffered updates of a few KiB (an update is the national summary, built once per
/// snapshot for all), so a thousand cost a few MiB and leave room under the 2,048 connections
/// the server accepts.
pub const WATCHES_MAX: usize = 1_024;
/// Concurrent ReadLog streams. Each reads up to 2,000 events a step through the read side's
/// pool of 8 connections; an auditor's export reads one hromada at a time, so 16 serve many
/// auditors at once and leave most of the pool to the other readers.
pub const READ_LOGS_MAX: usize = 16;
/// A message the client has not taken for this long ends its stream. A client that reads
/// keeps the buffers moving in milliseconds; one that stopped reading must not keep its place
/// (and the messages buffered for it) longer than a request may take (30 s).
pub const SEND_IDLE_MAX: Duration = Duration::from_secs(30);
/// How long a WatchUpdates stream lasts at most; the dashboard then opens another (it
/// reconnects with backoff), so no client holds a place for good, and the streams of clients
/// long gone behind a silent network are ended within this bound.
pub const WATCH_LIFETIME_MAX: Duration = Duration::from_secs(15 * 60);
/// How long a ReadLog stream lasts at most. Its 100,000 events at most take seconds to a
/// reader that keeps up; ten minutes leaves room for a slow link, and a reader cut short asks
/// again from the next sequence number.
pub const READ_LOG_LIFETIME_MAX: Duration = Duration::from_secs(10 * 60);

/// The bounds of the server streams; `Default` is the constants above.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamLimits {
    pub watches_max: usize,
    pub read_logs_max: usize,
    pub send_idle_max: Duration,
    pub watch_lifetime_max: Duration,
    pub read_log_lifetime_max: Duration,
}

impl Default for StreamLimits {
    fn default() -> Self {
        Self {
            watches_max: WATCHES_MAX,
            read_logs_max: READ_LOGS_MAX,
            send_idle_max: SEND_IDLE_MAX,
            watch_lifetime_max: WATCH_LIFETIME_MAX,
            read_log_lifetime_max: READ_LOG_LIFETIME_MAX,
        }
    }
}

impl StreamLimits {
    /// The gate of WatchUpdates streams.
    pub fn watches(&self) -> Gate {
        Gate::new(
            "WatchUpdates",
            self.watches_max,
            self.send_idle_max,
            self.watch_lifetime_max,
        )
    }

    /// The gate of ReadLog streams.
    pub fn read_logs(&self) -> Gate {
        Gate::new(
            "ReadLog",
            self.read_logs_max,
            self.send_idle_max,
            self.read_log_lifetime_max,
        )
    }
}

/// Admission to one kind of stream: at most `max` open at once, shared by every connection.
#[derive(Debug, Clone)]
pub struct Gate {
    kind: &'static str,
    max: usize,
    permits: Arc<Semaphore>,
    idle: Duration,
    lifetime: Duration,
}

impl Gate {
    pub fn new(kind: &'static str, max: usize, idle: Duration, lifetime: Duration) -> Self {
        Self {
            kind,
            max,
            permits: Arc::new(Semaphore::new(max)),
            idle,
            lifetime,
        }
    }

    /// Admits one more stream buffering up to `buffer` messages, or refuses it with
    /// `RESOURCE_EXHAUSTED` when `max` are open. The place is taken until the [`Sink`] drops.
    pub fn open<T>(&self, buffer: usize) -> Result<(Sink<T>, Bounded<T>), Status> {
        let permit = self.permits.clone().try_acquire_owned().map_err(|_| {
            Status::resource_exhausted(format!(
                "{} {} streams are open, as many as this association serves at once; \
                 try again later",
                self.max, self.kind
            ))
        })?;
        let (tx, rx) = mpsc::channel(buffer.max(1));
        let end = Arc::new(Mutex::new(None));
        let sink = Sink {
            tx,
            end: end.clone(),
            kind: self.kind,
            idle: self.idle,
            lifetime: self.lifetime,
            deadline: Instant::now() + self.lifetime,
            _permit: permit,
        };
        Ok((sink, Bounded { rx, end }))
    }
}

fn lock(end: &Mutex<Option<Status>>) -> MutexGuard<'_, Option<Status>> {
    end.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The producer's side of an admitted stream; dropping it ends the stream and frees its place.
#[derive(Debug)]
pub struct Sink<T> {
    tx: mpsc::Sender<Result<T, Status>>,
    end: Arc<Mutex<Option<Status>>>,
    kind: &'static str,
    idle: Duration,
    lifetime: Duration,
    deadline: Instant,
    _permit: OwnedSemaphorePermit,
}

impl<T> Sink<T> {
    /// Sends one message. `false`: the stream is over (the client left, took no message for
    /// the idle bound, or the lifetime ended) and the producer should stop.
    pub async fn send(&self, message: Result<T, Status>) -> bool {
        let now = Instant::now();
        if now >= self.deadline {
            self.expire();
            return false;
        }
        let until = (now + self.idle).min(self.deadline);
        match tokio::time::timeout_at(until, self.tx.send(message)).await {
            Ok(sent) => sent.is_ok(),
            Err(_) if until == self.deadline => {
                self.expire();
                false
            }
            Err(_) => {
                self.end_with(Status::deadline_exceeded(format!(
                    "the client took no message of this {} stream for {:?}",
                    self.kind, self.idle
                )));
                false
            }
        }
    }

    /// Runs `work` (waiting for news, reading the database) unless the stream's lifetime ends
    /// or the client leaves first; `None` then, and the producer should stop.
    pub async fn during<F: Future>(&self, work: F) -> Option<F::Output> {
        tokio::select! {
            out = work => Some(out),
            () = tokio::time::sleep_until(self.deadline) => {
                self.expire();
                None
            }
            () = self.tx.closed() => None,
        }
    }

    fn expire(&self) {
        self.end_with(Status::deadline_exceeded(format!(
            "a {} stream lasts at most {:?}; open another",
            self.kind, self.lifetime
        )));
    }

    fn end_with(&self, status: Status) {
        lock(&self.end).get_or_insert(status);
    }
}

/// The stream tonic serves: the producer's messages, then the status it ended with, if any.
#[derive(Debug)]
pub struct Bounded<T> {
    rx: mpsc::Receiver<Result<T, Status>>,
    end: Arc<Mutex<Option<Status>>>,
}

impl<T> Stream for Bounded<T> {
    type Item = Result<T, Status>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        match self.rx.poll_recv(cx) {
            // The producer is gone (it set any end status before dropping its sender).
            Poll::Ready(None) => Poll::Ready(lock(&self.end).take().map(Err)),
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use futures_util::StreamExt as _;
    use tonic::Code;

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn streams_beyond_the_limit_are_refused_and_places_come_back() {
        let gate = Gate::new("test", 2, Duration::from_secs(1), Duration::from_secs(60));
        let first = gate.open::<u32>(1).unwrap();
        let _second = gate.open::<u32>(1).unwrap();
        let refused = gate.open::<u32>(1).unwrap_err();
        assert_eq!(refused.code(), Code::ResourceExhausted);
        drop(first);
        assert!(gate.open::<u32>(1).is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn a_stream_nobody_reads_ends_after_the_idle_bound_with_an_error() {
        let gate = Gate::new("test", 1, Duration::from_secs(1), Duration::from_secs(60));
        let (sink, mut stream) = gate.open::<u32>(1).unwrap();
        assert!(sink.send(Ok(1)).await);
        // The buffer is full and nobody reads: the second send gives up after the idle bound.
        assert!(!sink.send(Ok(2)).await);
        drop(sink);
        assert_eq!(stream.next().await.unwrap().unwrap(), 1);
        let end = stream.next().await.unwrap().unwrap_err();
        assert_eq!(end.code(), Code::DeadlineExceeded);
        assert!(stream.next().await.is_none());
        assert!(gate.open::<u32>(1).is_ok(), "the place came back");
    }

    #[tokio::test(start_paused = true)]
    async fn a_stream_ends_when_its_lifetime_is_over() {
        let gate = Gate::new("test", 1, Duration::from_secs(30), Duration::from_secs(5));
        let (sink, mut stream) = gate.open::<u32>(4).unwrap();
        assert!(sink.send(Ok(1)).await);
        assert_eq!(sink.during(std::future::pending::<()>()).await, None);
        assert!(!sink.send(Ok(2)).await);
        drop(sink);
        assert_eq!(stream.next().await.unwrap().unwrap(), 1);
        assert_eq!(
            stream.next().await.unwrap().unwrap_err().code(),
            Code::DeadlineExceeded
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_stream_the_client_left_ends_without_a_status() {
        let gate = Gate::new("test", 1, Duration::from_secs(30), Duration::from_secs(60));
        let (sink, stream) = gate.open::<u32>(4).unwrap();
        drop(stream);
        assert!(!sink.send(Ok(1)).await);
        assert_eq!(sink.during(std::future::pending::<()>()).await, None);
        assert!(lock(&sink.end).is_none());
    }
}
