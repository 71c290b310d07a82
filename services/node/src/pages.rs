//! What the node's own pages need from it besides gRPC-Web:
//!
//! - `GET /api/descriptor.binpb`: the API's descriptor set (the encoded
//!   `google.protobuf.FileDescriptorSet` of every service this build serves), from which the
//!   page's protobuf library builds its codecs at run time, so pages and node never disagree
//!   on a message;
//! - `GET /api/portal.json`: the hromada's code and the association's public API the portal
//!   fetches receipts from (`association_url` in `node.toml`; `null` without one).
//!
//! Both with a strong `ETag`, revalidated on every use (`no-cache`), `304` when unchanged; the
//! descriptor goes out gzipped to browsers that take it (`wire::compress`).

use std::sync::Arc;

use http::header::{self, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use tonic::body::Body;

/// Where the descriptor set is served.
pub const DESCRIPTOR_PATH: &str = "/api/descriptor.binpb";
/// Where the portal's settings are served.
pub const PORTAL_SETTINGS_PATH: &str = "/api/portal.json";

/// One document: its bytes, media type and `ETag`.
#[derive(Debug)]
struct Document {
    bytes: bytes::Bytes,
    media_type: &'static str,
    etag: HeaderValue,
}

impl Document {
    fn new(bytes: bytes::Bytes, media_type: &'static str) -> Self {
        Self {
            etag: wire::site::strong_etag(&bytes),
            bytes,
            media_type,
        }
    }
}

/// Answers `GET`/`HEAD` of [`DESCRIPTOR_PATH`] and [`PORTAL_SETTINGS_PATH`].
#[derive(Clone, Debug)]
pub struct ApiPages {
    descriptor: Arc<Document>,
    settings: Arc<Document>,
}

impl ApiPages {
    /// The pages of the node of `municipality`, whose portal fetches receipts from the
    /// association at `association` (an origin), if any.
    pub fn new(municipality: &str, association: Option<&str>) -> Self {
        let settings = serde_json::json!({
            "municipality": municipality,
            "association": association,
        });
        Self {
            descriptor: Arc::new(Document::new(
                bytes::Bytes::from_static(proto::FILE_DESCRIPTOR_SET),
                wire::compress::PROTOBUF_MEDIA_TYPE,
            )),
            settings: Arc::new(Document::new(
                bytes::Bytes::from(settings.to_string()),
                "application/json",
            )),
        }
    }

    fn document(&self, path: &str) -> Option<&Arc<Document>> {
        match path {
            DESCRIPTOR_PATH => Some(&self.descriptor),
            PORTAL_SETTINGS_PATH => Some(&self.settings),
            _ => None,
        }
    }
}

impl wire::intercept::Intercept for ApiPages {
    fn answers<B>(&self, request: &Request<B>) -> bool {
        self.document(request.uri().path()).is_some()
            && (request.method() == Method::GET || request.method() == Method::HEAD)
    }

    fn answer<B>(&self, request: Request<B>) -> wire::intercept::Answer {
        let head = request.method() == Method::HEAD;
        let document = self
            .document(request.uri().path())
            .cloned()
            .unwrap_or_else(|| self.descriptor.clone());
        let unchanged = wire::site::none_match(request.headers(), &document.etag);
        Box::pin(async move {
            if unchanged {
                let mut response = Response::new(Body::empty());
                *response.status_mut() = StatusCode::NOT_MODIFIED;
                response
                    .headers_mut()
                    .insert(header::ETAG, document.etag.clone());
                return response;
            }
            let body = if head {
                Body::empty()
            } else {
                Body::new(http_body_util::Full::new(document.bytes.clone()))
            };
            let mut response = Response::new(body);
            *response.status_mut() = StatusCode::OK;
            let headers = response.headers_mut();
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(document.media_type),
            );
            headers.insert(
                header::CONTENT_LENGTH,
                HeaderValue::from(document.bytes.len()),
            );
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
            headers.insert(header::ETAG, document.etag.clone());
            headers.insert(
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            );
            response
        })
    }
}
