//! gzip for browsers' gRPC-Web replies (and the protobuf documents pages read): a page of 500 hromadas is about 200 KB of protobuf and
//! a twentieth of that compressed. Only unary replies are compressed: a compressor holds what
//! it is given until its buffer fills, so a server stream (live updates, a log being read)
//! would stall; requests to the streaming methods named lose their `accept-encoding` before
//! the compressor sees them. Native gRPC (HTTP/2, `application/grpc`) has its own compression
//! and is never touched, nor is anything already encoded (the sites' precompressed files).

use std::task::{Context, Poll};

use http::header::{self, HeaderMap};
use http::{Extensions, Request, StatusCode, Version};
use tower_http::compression::CompressionLayer;
use tower_http::compression::predicate::{Predicate, SizeAbove};

/// Replies known to be smaller than this are sent as they are (a gRPC-Web reply's size is
/// rarely known ahead, so most are compressed whatever their size).
const COMPRESS_ABOVE_BYTES: u16 = 1024;

/// Whether a reply is gRPC-Web (a browser's call) or a protobuf document (a page's API
/// descriptor), and not encoded yet.
fn is_grpc_web(_: StatusCode, _: Version, headers: &HeaderMap, _: &Extensions) -> bool {
    let protobuf = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("application/grpc-web") || t == PROTOBUF_MEDIA_TYPE);
    protobuf && !headers.contains_key(header::CONTENT_ENCODING)
}

/// The media type of a protobuf document served to pages (compressed like gRPC-Web).
pub const PROTOBUF_MEDIA_TYPE: &str = "application/x-protobuf";

/// The compressor: gzip, for gRPC-Web replies not known to be under [`COMPRESS_ABOVE_BYTES`].
pub fn grpc_web_gzip() -> CompressionLayer<impl Predicate> {
    CompressionLayer::new().gzip(true).compress_when(
        SizeAbove::new(COMPRESS_ABOVE_BYTES)
            .and(is_grpc_web as fn(StatusCode, Version, &HeaderMap, &Extensions) -> bool),
    )
}

/// Put outside [`grpc_web_gzip`]: requests to these streaming methods (full paths,
/// `/package.Service/Method`) are answered uncompressed.
#[derive(Clone, Debug)]
pub struct StreamsUncompressedLayer(&'static [&'static str]);

impl StreamsUncompressedLayer {
    pub fn new(streams: &'static [&'static str]) -> Self {
        Self(streams)
    }
}

impl<S> tower::Layer<S> for StreamsUncompressedLayer {
    type Service = StreamsUncompressed<S>;

    fn layer(&self, inner: S) -> Self::Service {
        StreamsUncompressed {
            inner,
            streams: self.0,
        }
    }
}

/// The service [`StreamsUncompressedLayer`] makes.
#[derive(Clone, Debug)]
pub struct StreamsUncompressed<S> {
    inner: S,
    streams: &'static [&'static str],
}

impl<S, B> tower::Service<Request<B>> for StreamsUncompressed<S>
where
    S: tower::Service<Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        if self.streams.contains(&request.uri().path()) {
            request.headers_mut().remove(header::ACCEPT_ENCODING);
        }
        self.inner.call(request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use http::Response;
    use http_body_util::{BodyExt as _, Full};
    use tower::{Layer as _, ServiceExt as _};

    const STREAMS: &[&str] = &["/vidkryto.national.v1.NationalService/WatchUpdates"];

    /// The reply to `path` through both layers, from a service answering `content_type` with
    /// 4 KiB of repetitive bytes; its `content-encoding` and body length.
    async fn reply(path: &str, content_type: &'static str) -> (Option<String>, usize) {
        let inner = tower::service_fn(move |_: Request<Full<Bytes>>| async move {
            let body = Full::new(Bytes::from(vec![b'a'; 4096]));
            Ok::<_, std::convert::Infallible>(
                Response::builder()
                    .header(header::CONTENT_TYPE, content_type)
                    .body(body)
                    .unwrap(),
            )
        });
        let service = StreamsUncompressedLayer::new(STREAMS).layer(grpc_web_gzip().layer(inner));
        let request = Request::builder()
            .uri(path)
            .header(header::ACCEPT_ENCODING, "gzip, deflate, br")
            .body(Full::new(Bytes::new()))
            .unwrap();
        let response = service.oneshot(request).await.unwrap();
        let encoding = response
            .headers()
            .get(header::CONTENT_ENCODING)
            .map(|v| v.to_str().unwrap().to_owned());
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (encoding, body.len())
    }

    #[tokio::test]
    async fn unary_grpc_web_replies_are_gzipped_streams_and_native_grpc_are_not() {
        let (encoding, len) = reply(
            "/vidkryto.national.v1.NationalService/ListMunicipalities",
            "application/grpc-web+proto",
        )
        .await;
        assert_eq!(encoding.as_deref(), Some("gzip"));
        assert!(len < 200, "{len} bytes");
        for (path, content_type) in [
            (STREAMS[0], "application/grpc-web+proto"),
            (
                "/vidkryto.national.v1.NationalService/ListMunicipalities",
                "application/grpc",
            ),
        ] {
            let (encoding, len) = reply(path, content_type).await;
            assert_eq!(encoding, None, "{path} {content_type}");
            assert_eq!(len, 4096);
        }
    }
}
