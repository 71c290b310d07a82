//! Cross-origin reads of the public audit API from browsers: a hromada's portal, served by its
//! node on the node's own origin, fetches a resident's checkpoint, proofs and the published
//! keys from here, so the receipt it checks comes from the association, not from the node.
//!
//! Only the services named in [`PublicReadsLayer::new`] are open to other origins, for
//! anyone (`Access-Control-Allow-Origin: *`) and without credentials: no cookie is ever sent
//! cross-origin and `authorization` is not an allowed header, so an operator's token can never
//! ride along. Everything else (the federation's enrolment, the dashboard's own calls) stays
//! same-origin only: its preflight gets no CORS answer, so the browser refuses the call.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::header::{self, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use tonic::body::Body;

/// Request headers a gRPC-Web call from a browser sends.
const ALLOWED_HEADERS: &str = "content-type, x-grpc-web, x-user-agent, grpc-timeout";
/// Response headers a page may read: a trailers-only reply carries its status in headers.
const EXPOSED_HEADERS: &str = "grpc-status, grpc-message, grpc-status-details-bin";
/// How long a browser may keep a preflight's answer, in seconds.
const PREFLIGHT_MAX_AGE: &str = "7200";

/// Opens the gRPC services whose full names are given to calls from any origin.
#[derive(Clone, Debug)]
pub struct PublicReadsLayer {
    prefixes: std::sync::Arc<[String]>,
}

impl PublicReadsLayer {
    /// `services`: full gRPC service names, e.g. `vidkryto.audit.v1.AuditService`.
    pub fn new(services: &[&str]) -> Self {
        Self {
            prefixes: services.iter().map(|s| format!("/{s}/")).collect(),
        }
    }
}

impl<S> tower::Layer<S> for PublicReadsLayer {
    type Service = PublicReads<S>;

    fn layer(&self, inner: S) -> Self::Service {
        PublicReads {
            inner,
            prefixes: self.prefixes.clone(),
        }
    }
}

/// The service [`PublicReadsLayer`] makes.
#[derive(Clone, Debug)]
pub struct PublicReads<S> {
    inner: S,
    prefixes: std::sync::Arc<[String]>,
}

impl<S> PublicReads<S> {
    fn is_public<B>(&self, request: &Request<B>) -> bool {
        let path = request.uri().path();
        self.prefixes.iter().any(|p| path.starts_with(p.as_str()))
    }
}

type BoxFuture<T, E> = Pin<Box<dyn Future<Output = Result<T, E>> + Send>>;

impl<S, B> tower::Service<Request<B>> for PublicReads<S>
where
    S: tower::Service<Request<B>, Response = Response<Body>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = BoxFuture<Response<Body>, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let cross_origin = request.headers().contains_key(header::ORIGIN);
        let public = cross_origin && self.is_public(&request);
        if public
            && request.method() == Method::OPTIONS
            && request
                .headers()
                .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
        {
            return Box::pin(async { Ok(preflight()) });
        }
        let reply = self.inner.call(request);
        Box::pin(async move {
            let mut response = reply.await?;
            if public {
                set_all(
                    response.headers_mut(),
                    &[
                        (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
                        (header::ACCESS_CONTROL_EXPOSE_HEADERS, EXPOSED_HEADERS),
                    ],
                );
            }
            Ok(response)
        })
    }
}

/// Sets each of `values` in `headers`.
fn set_all(headers: &mut http::HeaderMap, values: &[(header::HeaderName, &'static str)]) {
    for (name, value) in values {
        headers.insert(name.clone(), HeaderValue::from_static(value));
    }
}

/// The answer to a preflight for a public service: `POST` with gRPC-Web's headers, from anyone.
fn preflight() -> Response<Body> {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::NO_CONTENT;
    set_all(
        response.headers_mut(),
        &[
            (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
            (header::ACCESS_CONTROL_ALLOW_METHODS, "POST"),
            (header::ACCESS_CONTROL_ALLOW_HEADERS, ALLOWED_HEADERS),
            (header::ACCESS_CONTROL_MAX_AGE, PREFLIGHT_MAX_AGE),
        ],
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use tower::{Layer as _, ServiceExt as _};

    /// The answer of an inner service that answers `200 OK` to everything, behind the layer.
    async fn through_layer(request: Request<()>) -> Response<Body> {
        let inner = tower::service_fn(|_: Request<()>| async {
            Ok::<_, std::convert::Infallible>(Response::new(Body::empty()))
        });
        PublicReadsLayer::new(&["vidkryto.audit.v1.AuditService"])
            .layer(inner)
            .oneshot(request)
            .await
            .unwrap()
    }

    fn request(method: Method, path: &str, origin: bool) -> Request<()> {
        let mut builder = Request::builder().method(method).uri(path);
        if origin {
            builder = builder
                .header("origin", "http://127.0.0.1:8080")
                .header("access-control-request-method", "POST");
        }
        builder.body(()).unwrap()
    }

    #[tokio::test]
    async fn a_public_service_answers_preflight_and_calls_from_any_origin() {
        let path = "/vidkryto.audit.v1.AuditService/ListKeys";
        let answer = through_layer(request(Method::OPTIONS, path, true)).await;
        assert_eq!(answer.status(), StatusCode::NO_CONTENT);
        assert_eq!(answer.headers()["access-control-allow-origin"], "*");
        let allowed = answer.headers()["access-control-allow-headers"]
            .to_str()
            .unwrap();
        assert!(allowed.contains("x-grpc-web"), "{allowed}");
        assert!(!allowed.contains("authorization"), "{allowed}");
        let call = through_layer(request(Method::POST, path, true)).await;
        assert_eq!(call.headers()["access-control-allow-origin"], "*");
        assert!(
            call.headers()["access-control-expose-headers"]
                .to_str()
                .unwrap()
                .contains("grpc-status")
        );
    }

    #[tokio::test]
    async fn other_services_and_same_origin_calls_get_no_cors_headers() {
        for (path, origin) in [
            ("/vidkryto.federation.v1.FederationService/Enroll", true),
            ("/vidkryto.audit.v1.AuditServiceX/ListKeys", true),
            ("/vidkryto.audit.v1.AuditService/ListKeys", false),
        ] {
            for method in [Method::OPTIONS, Method::POST] {
                let answer = through_layer(request(method.clone(), path, origin)).await;
                assert!(
                    !answer.headers().contains_key("access-control-allow-origin"),
                    "{method} {path} (origin: {origin})"
                );
                assert_eq!(answer.status(), StatusCode::OK, "{method} {path}");
            }
        }
    }
}
