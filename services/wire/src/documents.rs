//! Small documents a listener serves to its own pages beside the gRPC-Web API: the API's
//! descriptor set (from which a page's protobuf library builds its codecs at run time, so page
//! and server never disagree on a message) and a page's settings. Each is answered to `GET` and
//! `HEAD` with a strong `ETag`, revalidated on every use (`no-cache`), `304` when unchanged.

use std::sync::Arc;

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use tonic::body::Body;

/// Where a listener serves the encoded `google.protobuf.FileDescriptorSet` of its API.
pub const DESCRIPTOR_PATH: &str = "/api/descriptor.binpb";

/// One document: where it is served, its bytes, media type and `ETag`.
#[derive(Debug)]
struct Document {
    path: &'static str,
    bytes: Bytes,
    media_type: &'static str,
    etag: HeaderValue,
}

/// Answers `GET`/`HEAD` of its documents' paths; every other request passes.
#[derive(Clone, Debug)]
pub struct Documents(Arc<[Document]>);

impl Documents {
    /// The documents `(path, bytes, media type)`.
    fn new(documents: Vec<(&'static str, Bytes, &'static str)>) -> Self {
        Self(
            documents
                .into_iter()
                .map(|(path, bytes, media_type)| Document {
                    path,
                    etag: crate::site::strong_etag(&bytes),
                    bytes,
                    media_type,
                })
                .collect(),
        )
    }

    /// The API's descriptor set at [`DESCRIPTOR_PATH`], and `others`.
    pub fn with_descriptor(
        descriptor: &'static [u8],
        others: Vec<(&'static str, Bytes, &'static str)>,
    ) -> Self {
        let mut all = vec![(
            DESCRIPTOR_PATH,
            Bytes::from_static(descriptor),
            crate::compress::PROTOBUF_MEDIA_TYPE,
        )];
        all.extend(others);
        Self::new(all)
    }

    fn find(&self, path: &str) -> Option<usize> {
        self.0.iter().position(|d| d.path == path)
    }
}

impl crate::intercept::Intercept for Documents {
    fn answers<B>(&self, request: &Request<B>) -> bool {
        (request.method() == Method::GET || request.method() == Method::HEAD)
            && self.find(request.uri().path()).is_some()
    }

    fn answer<B>(&self, request: Request<B>) -> crate::intercept::Answer {
        let head = request.method() == Method::HEAD;
        let found = self.find(request.uri().path());
        let documents = self.0.clone();
        let unchanged =
            found.is_some_and(|i| crate::site::none_match(request.headers(), &documents[i].etag));
        Box::pin(async move {
            let Some(document) = found.map(|i| &documents[i]) else {
                let mut response = Response::new(Body::empty());
                *response.status_mut() = StatusCode::NOT_FOUND;
                return response;
            };
            respond(
                head,
                unchanged,
                &document.bytes,
                document.media_type,
                &document.etag,
            )
        })
    }
}

/// The answer to a `GET` (or, with `head`, a `HEAD`) of a document held in memory: `304` with
/// its `ETag` when the client's copy is `unchanged`, else `200` with its media type, length,
/// `no-cache` (revalidated on every use) and `nosniff`.
pub fn respond(
    head: bool,
    unchanged: bool,
    bytes: &Bytes,
    media_type: &'static str,
    etag: &HeaderValue,
) -> Response<Body> {
    let mut response = if unchanged {
        let mut response = Response::new(Body::empty());
        *response.status_mut() = StatusCode::NOT_MODIFIED;
        response
    } else {
        let body = if head {
            Body::empty()
        } else {
            Body::new(http_body_util::Full::new(bytes.clone()))
        };
        let mut response = Response::new(body);
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(media_type));
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(bytes.len()));
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        headers.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        response
    };
    response.headers_mut().insert(header::ETAG, etag.clone());
    response
}
