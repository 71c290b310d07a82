//! One tower layer for the pages a gRPC listener also serves (the association's dashboard, the
//! node's web sign-in): an [`Intercept`] answers the requests that are its own, and every
//! other request (gRPC over HTTP/2, gRPC-Web) passes to the service the layer wraps, untouched.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::{Request, Response};
use tonic::body::Body;

/// An answer being made.
pub type Answer = Pin<Box<dyn Future<Output = Response<Body>> + Send>>;

/// What answers some requests itself.
pub trait Intercept: Clone + Send + 'static {
    /// Whether `request` is this one's to answer.
    fn answers<B>(&self, request: &Request<B>) -> bool;

    /// The answer to a request it [`answers`](Self::answers).
    fn answer<B>(&self, request: Request<B>) -> Answer;
}

/// A layer that puts `I` in front of the service it wraps; with `None`, every request passes.
#[derive(Clone, Debug)]
pub struct InterceptLayer<I>(Option<I>);

impl<I> InterceptLayer<I> {
    pub fn new(intercept: Option<I>) -> Self {
        Self(intercept)
    }
}

impl<S, I: Clone> tower::Layer<S> for InterceptLayer<I> {
    type Service = Intercepted<S, I>;

    fn layer(&self, inner: S) -> Self::Service {
        Intercepted {
            inner,
            intercept: self.0.clone(),
        }
    }
}

/// The service [`InterceptLayer`] makes.
#[derive(Clone, Debug)]
pub struct Intercepted<S, I> {
    inner: S,
    intercept: Option<I>,
}

type BoxFuture<T, E> = Pin<Box<dyn Future<Output = Result<T, E>> + Send>>;

impl<S, I, B> tower::Service<Request<B>> for Intercepted<S, I>
where
    S: tower::Service<Request<B>, Response = Response<Body>>,
    S::Future: Send + 'static,
    I: Intercept,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = futures_util::future::Either<S::Future, BoxFuture<Response<Body>, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        use futures_util::future::Either;
        match &self.intercept {
            Some(intercept) if intercept.answers(&request) => {
                let answer = intercept.answer(request);
                Either::Right(Box::pin(async move { Ok(answer.await) }))
            }
            _ => Either::Left(self.inner.call(request)),
        }
    }
}
