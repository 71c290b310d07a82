//! What the node's own pages need from it besides gRPC-Web: the API's descriptor set
//! (`GET /api/descriptor.binpb`, the encoded `google.protobuf.FileDescriptorSet` of every
//! service this build serves), from which the page's protobuf library builds its codecs at run
//! time, so pages and node never disagree on a message.

use http::header::{self, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use tonic::body::Body;

/// Where the descriptor set is served.
pub const DESCRIPTOR_PATH: &str = "/api/descriptor.binpb";

/// Answers `GET`/`HEAD` of [`DESCRIPTOR_PATH`].
#[derive(Clone, Copy, Debug, Default)]
pub struct ApiDescriptor;

impl wire::intercept::Intercept for ApiDescriptor {
    fn answers<B>(&self, request: &Request<B>) -> bool {
        request.uri().path() == DESCRIPTOR_PATH
            && (request.method() == Method::GET || request.method() == Method::HEAD)
    }

    fn answer<B>(&self, request: Request<B>) -> wire::intercept::Answer {
        let head = request.method() == Method::HEAD;
        Box::pin(async move {
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
            headers.insert(
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            );
            response
        })
    }
}
