//! What the node's own pages need from it besides gRPC-Web: the API's descriptor set
//! (`GET /api/descriptor.binpb`, the encoded `google.protobuf.FileDescriptorSet` of every
//! service this build serves), from which the page's protobuf library builds its codecs at run
//! time, so pages and node never disagree on a message.

use http::header::{self, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use tonic::body::Body;

/// Where the descriptor set is served.
pub const DESCRIPTOR_PATH: &str = "/api/descriptor.binpb";

/// The descriptor set's strong `ETag`, computed once.
fn descriptor_etag() -> HeaderValue {
    static ETAG: std::sync::LazyLock<HeaderValue> =
        std::sync::LazyLock::new(|| wire::site::strong_etag(proto::FILE_DESCRIPTOR_SET));
    ETAG.clone()
}

/// Answers `GET`/`HEAD` of [`DESCRIPTOR_PATH`], with an `ETag` and `304` when the page has it.
#[derive(Clone, Copy, Debug, Default)]
pub struct ApiDescriptor;

impl wire::intercept::Intercept for ApiDescriptor {
    fn answers<B>(&self, request: &Request<B>) -> bool {
        request.uri().path() == DESCRIPTOR_PATH
            && (request.method() == Method::GET || request.method() == Method::HEAD)
    }

    fn answer<B>(&self, request: Request<B>) -> wire::intercept::Answer {
        let head = request.method() == Method::HEAD;
        let etag = descriptor_etag();
        let unchanged = wire::site::none_match(request.headers(), &etag);
        Box::pin(async move {
            if unchanged {
                let mut response = Response::new(Body::empty());
                *response.status_mut() = StatusCode::NOT_MODIFIED;
                response.headers_mut().insert(header::ETAG, etag);
                return response;
            }
            let bytes = proto::FILE_DESCRIPTOR_SET;
            let body = if head {
                Body::empty()
            } else {
                Body::new(http_body_util::Full::new(bytes::Bytes::from_static(bytes)))
            };
            let mut response = Response::new(body);
            *response.status_mut() = StatusCode::OK;
            let headers = response.headers_mut();
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/octet-stream"),
            );
            headers.insert(header::CONTENT_LENGTH, HeaderValue::from(bytes.len()));
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
            headers.insert(header::ETAG, etag);
            headers.insert(
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            );
            response
        })
    }
}
