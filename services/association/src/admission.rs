//! What the gRPC server admits, across all clients: connections ([`limit_connections`], one
//! past the bound is closed as soon as it is accepted) and requests in flight
//! ([`RequestLimitLayer`], one past the bound is answered `RESOURCE_EXHAUSTED` at once). Both
//! are global: tonic's own limits are per connection, and a client may open many.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_util::{Stream, StreamExt as _};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tonic::Status;
use tonic::body::Body;
use tonic::transport::server::{Connected, TcpConnectInfo, TcpIncoming};

/// An accepted connection holding its place among the admitted ones until it closes.
#[derive(Debug)]
pub struct AdmittedConnection {
    stream: TcpStream,
    _place: OwnedSemaphorePermit,
}

impl Connected for AdmittedConnection {
    type ConnectInfo = TcpConnectInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        self.stream.connect_info()
    }
}

impl AsyncRead for AdmittedConnection {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for AdmittedConnection {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}

/// The connections `incoming` accepts, at most `max` open at once: one accepted beyond that is
/// closed at once (its client sees the connection fail, `UNAVAILABLE`), so the server keeps
/// accepting and a client retrying later gets in as soon as a place is free.
pub fn limit_connections(
    incoming: TcpIncoming,
    max: usize,
) -> impl Stream<Item = io::Result<AdmittedConnection>> {
    let places = Arc::new(Semaphore::new(max));
    incoming.filter_map(move |accepted| {
        let admitted = accepted.map_or_else(
            |e| Some(Err(e)),
            |stream| match places.clone().try_acquire_owned() {
                Ok(place) => Some(Ok(AdmittedConnection {
                    stream,
                    _place: place,
                })),
                Err(_) => {
                    tracing::debug!(
                        peer = ?stream.peer_addr().ok(),
                        max,
                        "connection refused: the server holds as many as it admits"
                    );
                    None
                }
            },
        );
        std::future::ready(admitted)
    })
}

/// A layer admitting at most `max` requests in flight across all connections; one more is
/// answered `RESOURCE_EXHAUSTED` at once rather than queued. A request holds its place until
/// its response starts (a stream's body is bounded by `api::streams`).
#[derive(Debug, Clone)]
pub struct RequestLimitLayer {
    places: Arc<Semaphore>,
    max: usize,
}

impl RequestLimitLayer {
    pub fn new(max: usize) -> Self {
        Self {
            places: Arc::new(Semaphore::new(max)),
            max,
        }
    }

    /// Requests being served now.
    pub fn in_flight(&self) -> usize {
        self.max.saturating_sub(self.places.available_permits())
    }
}

impl<S> tower::Layer<S> for RequestLimitLayer {
    type Service = RequestLimit<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequestLimit {
            inner,
            layer: self.clone(),
        }
    }
}

/// See [`RequestLimitLayer`].
#[derive(Debug, Clone)]
pub struct RequestLimit<S> {
    inner: S,
    layer: RequestLimitLayer,
}

type BoxFuture<T, E> = Pin<Box<dyn Future<Output = Result<T, E>> + Send>>;

impl<S, B> tower::Service<http::Request<B>> for RequestLimit<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<Body>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = S::Error;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        match self.layer.places.clone().try_acquire_owned() {
            Ok(place) => {
                let response = self.inner.call(request);
                Box::pin(async move {
                    let response = response.await;
                    drop(place);
                    response
                })
            }
            Err(_) => {
                let max = self.layer.max;
                Box::pin(async move {
                    Ok(Status::resource_exhausted(format!(
                        "{max} requests are in flight, as many as this association serves at \
                         once; try again later"
                    ))
                    .into_http())
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use tower::{Layer as _, Service as _, ServiceExt as _};

    use super::*;

    #[tokio::test]
    async fn requests_beyond_the_limit_are_refused_at_once() {
        let (release, wait) = tokio::sync::watch::channel(false);
        let slow = tower::service_fn(move |_: http::Request<()>| {
            let mut wait = wait.clone();
            async move {
                let _ = wait.wait_for(|go| *go).await;
                Ok::<_, Infallible>(http::Response::new(Body::empty()))
            }
        });
        let mut service = RequestLimitLayer::new(1).layer(slow);
        let first = service.ready().await.unwrap().call(http::Request::new(()));
        let first = tokio::spawn(first);
        tokio::task::yield_now().await;
        let refused = service
            .ready()
            .await
            .unwrap()
            .call(http::Request::new(()))
            .await
            .unwrap();
        let status = Status::from_header_map(refused.headers()).expect("a gRPC status");
        assert_eq!(status.code(), tonic::Code::ResourceExhausted);
        release.send_replace(true);
        first.await.unwrap().unwrap();
        let again = service
            .ready()
            .await
            .unwrap()
            .call(http::Request::new(()))
            .await
            .unwrap();
        assert!(Status::from_header_map(again.headers()).is_none());
    }
}
