//! Serves a built web page and its assets (the association's dashboard, `services/dashboard/dist`;
//! a node's portal) on the listener of the gRPC-Web API it calls, so page and API share one
//! origin (no CORS, one URL to give people).
//!
//! A [`Site`] is put in front of the gRPC server's routes (`crate::intercept`): `GET` and
//! `HEAD` requests are answered from its directory (`/` is `index.html`); every other request
//! (gRPC over HTTP/2, gRPC-Web `POST`s over HTTP/1.1) passes through untouched, since gRPC
//! never uses `GET`. Paths are checked segment by segment against a small alphabet (no `..`,
//! no dot files, no percent escapes) and the resolved file must stay inside the directory even
//! through symlinks; files are bounded in size; `index.html` is `no-cache` while everything
//! under `assets/` is immutable (the build names that directory by the hash of its contents).
//!
//! The build writes a compressed copy next to each text file (`x.js.br`, `x.js.gz`); a browser
//! that accepts one gets it (`Content-Encoding`, `Vary: Accept-Encoding`), never compressed on
//! the fly. Every file is sent with a strong `ETag` (SHA-256 of the bytes sent, remembered per
//! file, length and modification time), and a request whose `If-None-Match` names it is
//! answered `304 Not Modified` with no body.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{HeaderMap, Method, Request, Response, StatusCode};
use http_body_util::Full;
use sha2::{Digest as _, Sha256};
use tokio::io::AsyncReadExt as _;
use tonic::body::Body;

/// The largest file served. The biggest asset (ECharts' minified module) is about 1.1 MiB; a
/// bound keeps one request from pulling an arbitrary file into memory.
pub const FILE_SIZE_MAX: u64 = 8 * 1024 * 1024;
/// The longest request path considered (the build's paths are under 100 bytes).
const PATH_LEN_MAX: usize = 256;
/// Path segments considered (the build nests at most `assets/<hash>/vendor/file`).
const PATH_SEGMENTS_MAX: usize = 8;
/// The page itself: fetched again on every visit (or revalidated by its `ETag`), so a new
/// build is picked up at once.
const CACHE_PAGE: &str = "no-cache";
/// Everything under `assets/`: the directory name changes with its contents.
const CACHE_ASSET: &str = "public, max-age=31536000, immutable";
/// Files whose `ETag` is remembered; past it the memory is cleared and filled again.
const ETAGS_MAX: usize = 4_096;
/// Longest `Accept-Encoding` or `If-None-Match` read.
const HEADER_LEN_MAX: usize = 1_024;

/// The compressed copies the build writes, best first: `(file suffix, content coding)`.
const ENCODINGS: [(&str, &str); 2] = [(".br", "br"), (".gz", "gzip")];

/// A built site's directory, checked once, and its page's content security policy.
#[derive(Debug)]
struct Files {
    /// Canonical (symlinks resolved), so containment can be checked on canonical paths.
    root: PathBuf,
    csp: HeaderValue,
    /// `ETag`s by file.
    etags: Mutex<HashMap<FileKey, HeaderValue>>,
}

/// Answers `GET`/`HEAD` from a site's directory and leaves every other request to the gRPC
/// routes (all of them when no directory is configured).
#[derive(Debug, Clone)]
pub struct Site {
    files: Option<Arc<Files>>,
}

impl Site {
    /// `new(dir, csp)` when a directory is configured, else a site every request passes
    /// through.
    pub fn from_setting(dir: Option<&Path>, csp: &str) -> Result<Self, String> {
        match dir {
            Some(dir) => Self::new(dir, csp),
            None => Ok(Self { files: None }),
        }
    }

    /// Serves `dir`, which must be a directory with an `index.html` (a build's `dist`), its
    /// page under the content security policy `csp`.
    pub fn new(dir: &Path, csp: &str) -> Result<Self, String> {
        let csp = HeaderValue::from_str(csp)
            .map_err(|_| format!("the content security policy {csp:?} is not a header value"))?;
        let root = dir
            .canonicalize()
            .map_err(|e| format!("site directory {}: {e}", dir.display()))?;
        if !root.join("index.html").is_file() {
            return Err(format!(
                "site directory {} has no index.html (build it: deploy/local/setup.sh)",
                dir.display()
            ));
        }
        Ok(Self {
            files: Some(Arc::new(Files {
                root,
                csp,
                etags: Mutex::new(HashMap::new()),
            })),
        })
    }
}

impl crate::intercept::Intercept for Site {
    fn answers<B>(&self, request: &Request<B>) -> bool {
        // gRPC and gRPC-Web are POSTs: they pass straight through.
        self.files.is_some()
            && (request.method() == Method::GET || request.method() == Method::HEAD)
    }

    fn answer<B>(&self, request: Request<B>) -> crate::intercept::Answer {
        let files = self.files.clone();
        let head = request.method() == Method::HEAD;
        let path = request.uri().path().to_owned();
        let headers = request.headers().clone();
        Box::pin(async move {
            let Some(files) = files else {
                return plain(StatusCode::NOT_FOUND, "not found\n");
            };
            let response = files.respond(&path, &headers).await;
            if head { strip_body(response) } else { response }
        })
    }
}

/// A `HEAD` answer: the `GET` answer's status and headers (with its `Content-Length`), no body.
fn strip_body(response: Response<Body>) -> Response<Body> {
    let (parts, _) = response.into_parts();
    Response::from_parts(parts, Body::empty())
}

/// The file a request path names, relative to the site's directory: `None` for anything
/// outside the small alphabet the build uses.
fn relative_path(path: &str) -> Option<&str> {
    let rel = match path {
        "/" => "index.html",
        _ => path.strip_prefix('/')?,
    };
    if rel.len() > PATH_LEN_MAX {
        return None;
    }
    let mut segments = 0;
    for segment in rel.split('/') {
        segments += 1;
        let allowed = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_');
        if segments > PATH_SEGMENTS_MAX
            || segment.is_empty()
            || segment.starts_with('.')
            || !segment.bytes().all(allowed)
        {
            return None;
        }
    }
    Some(rel)
}

/// The `Content-Type` of a file by its extension.
fn content_type(rel: &str) -> &'static str {
    let extension = rel.rsplit_once('.').map_or("", |(_, e)| e);
    match extension {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" | "map" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "txt" => "text/plain; charset=utf-8",
        "csv" => "text/csv; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// Why a file could not be served.
#[derive(Debug)]
enum Refusal {
    NotFound,
    TooLarge(u64),
    Io(std::io::Error),
}

impl From<std::io::Error> for Refusal {
    fn from(e: std::io::Error) -> Self {
        if e.kind() == std::io::ErrorKind::NotFound {
            Refusal::NotFound
        } else {
            Refusal::Io(e)
        }
    }
}

impl Files {
    async fn respond(&self, path: &str, request: &HeaderMap) -> Response<Body> {
        let Some(rel) = relative_path(path) else {
            return plain(StatusCode::NOT_FOUND, "not found\n");
        };
        let accepted = header_text(request, header::ACCEPT_ENCODING);
        // The best compressed copy the browser accepts, if the build wrote one.
        // A copy is read only when the browser takes it; the others are only looked at, for
        // `Vary`.
        let mut chosen = None;
        let mut compressed = false;
        for (suffix, coding) in ENCODINGS {
            let copy = format!("{rel}{suffix}");
            if chosen.is_none()
                && accepts(accepted, coding)
                && let Ok(found) = self.read(&copy).await
            {
                compressed = true;
                chosen = Some((found, Some(coding)));
            } else if !compressed && self.is_file(&copy).await {
                compressed = true;
            }
        }
        let found = match chosen {
            Some(found) => Ok(found),
            None => self.read(rel).await.map(|f| (f, None)),
        };
        match found {
            Ok((file, coding)) => {
                let etag = self.etag(&file);
                if none_match(request, &etag) {
                    let mut response = Response::new(Body::empty());
                    *response.status_mut() = StatusCode::NOT_MODIFIED;
                    let headers = response.headers_mut();
                    headers.insert(header::ETAG, etag);
                    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache(rel)));
                    if compressed {
                        headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
                    }
                    return response;
                }
                self.file_response(rel, file.bytes, coding, compressed, etag)
            }
            Err(Refusal::NotFound) => plain(StatusCode::NOT_FOUND, "not found\n"),
            Err(Refusal::TooLarge(len)) => {
                tracing::warn!(path = rel, len, max = FILE_SIZE_MAX, "site file too large");
                plain(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "file too large to serve\n",
                )
            }
            Err(Refusal::Io(e)) => {
                tracing::warn!(path = rel, error = %e, "failed to read a site file");
                plain(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "failed to read the file\n",
                )
            }
        }
    }

    /// Whether `rel` is a regular file inside the root.
    async fn is_file(&self, rel: &str) -> bool {
        match tokio::fs::canonicalize(self.root.join(rel)).await {
            Ok(path) if path.starts_with(&self.root) => {
                tokio::fs::metadata(&path).await.is_ok_and(|m| m.is_file())
            }
            _ => false,
        }
    }

    /// The file `rel`, if it is a regular file inside the root and not too large.
    async fn read(&self, rel: &str) -> Result<Found, Refusal> {
        let path = tokio::fs::canonicalize(self.root.join(rel)).await?;
        if !path.starts_with(&self.root) {
            return Err(Refusal::NotFound);
        }
        let file = tokio::fs::File::open(&path).await?;
        let metadata = file.metadata().await?;
        if !metadata.is_file() {
            return Err(Refusal::NotFound);
        }
        if metadata.len() > FILE_SIZE_MAX {
            return Err(Refusal::TooLarge(metadata.len()));
        }
        // The file may grow between the check and the read: read one byte past the bound.
        let mut bytes = Vec::with_capacity(usize::try_from(metadata.len()).unwrap_or(0));
        file.take(FILE_SIZE_MAX + 1).read_to_end(&mut bytes).await?;
        if bytes.len() as u64 > FILE_SIZE_MAX {
            return Err(Refusal::TooLarge(bytes.len() as u64));
        }
        Ok(Found {
            key: (path, metadata.len(), metadata.modified().ok()),
            bytes: Bytes::from(bytes),
        })
    }

    /// The strong `ETag` of a file's bytes, remembered while it keeps its length and time.
    fn etag(&self, file: &Found) -> HeaderValue {
        let mut etags = self.etags.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(etag) = etags.get(&file.key) {
            return etag.clone();
        }
        let etag = strong_etag(&file.bytes);
        if etags.len() >= ETAGS_MAX {
            etags.clear();
        }
        etags.insert(file.key.clone(), etag.clone());
        etag
    }

    fn file_response(
        &self,
        rel: &str,
        bytes: Bytes,
        coding: Option<&'static str>,
        compressed: bool,
        etag: HeaderValue,
    ) -> Response<Body> {
        let mut builder = Response::builder()
            .status(StatusCode::OK)
            .header(header::CONTENT_TYPE, content_type(rel))
            .header(header::CONTENT_LENGTH, bytes.len())
            .header(header::CACHE_CONTROL, cache(rel))
            .header(header::ETAG, etag)
            .header(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
        if let Some(coding) = coding {
            builder = builder.header(header::CONTENT_ENCODING, coding);
        }
        if compressed {
            builder = builder.header(header::VARY, "accept-encoding");
        }
        if rel.ends_with(".html") {
            builder = builder
                .header(header::CONTENT_SECURITY_POLICY, self.csp.clone())
                .header(header::REFERRER_POLICY, "no-referrer");
        }
        builder
            .body(Body::new(Full::new(bytes)))
            .unwrap_or_else(|_| plain(StatusCode::INTERNAL_SERVER_ERROR, "bad response\n"))
    }
}

/// What a file's `ETag` is remembered by: its canonical path, length and modification time.
type FileKey = (PathBuf, u64, Option<SystemTime>);

/// A file read, and what its `ETag` is remembered by.
struct Found {
    key: FileKey,
    bytes: Bytes,
}

fn cache(rel: &str) -> &'static str {
    if rel.starts_with("assets/") {
        CACHE_ASSET
    } else {
        CACHE_PAGE
    }
}

/// A request header as text, if it is short enough to read.
fn header_text(headers: &HeaderMap, name: header::HeaderName) -> &str {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .filter(|v| v.len() <= HEADER_LEN_MAX)
        .unwrap_or_default()
}

/// Whether `Accept-Encoding` text accepts `coding` (named, and not with `q=0`).
fn accepts(accept_encoding: &str, coding: &str) -> bool {
    accept_encoding.split(',').any(|item| {
        let mut parts = item.split(';').map(str::trim);
        let named = parts.next().is_some_and(|c| c.eq_ignore_ascii_case(coding));
        let refused = parts.any(|p| {
            p.strip_prefix("q=")
                .is_some_and(|q| q.parse::<f32>().is_ok_and(|q| q <= 0.0))
        });
        named && !refused
    })
}

/// The strong `ETag` of `bytes`: the first 16 bytes of their SHA-256, in hex.
pub fn strong_etag(bytes: &[u8]) -> HeaderValue {
    let digest = Sha256::digest(bytes);
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    HeaderValue::from_str(&format!("\"{hex}\""))
        .unwrap_or_else(|_| HeaderValue::from_static("\"\""))
}

/// Whether the request's `If-None-Match` names `etag` (or is `*`).
pub fn none_match(request: &HeaderMap, etag: &HeaderValue) -> bool {
    let given = header_text(request, header::IF_NONE_MATCH);
    let ours = etag.to_str().unwrap_or_default();
    given
        .split(',')
        .map(str::trim)
        .any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == ours)
}

fn plain(status: StatusCode, text: &'static str) -> Response<Body> {
    let mut response = Response::new(Body::new(text.to_owned()));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(text.len()));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible as Never;

    use http_body_util::BodyExt as _;
    use tower::{Layer as _, ServiceExt as _};

    use super::*;

    const CSP: &str = "default-src 'self'; script-src 'self'; object-src 'none'";

    /// The inner service: answers 418 with the method and path, so a test sees what passed.
    fn inner() -> impl tower::Service<
        Request<Body>,
        Response = Response<Body>,
        Error = Never,
        Future = impl Future<Output = Result<Response<Body>, Never>> + Send + 'static,
    > + Clone {
        tower::service_fn(|request: Request<Body>| async move {
            let text = format!("inner {} {}", request.method(), request.uri().path());
            let mut response = Response::new(Body::new(text));
            *response.status_mut() = StatusCode::IM_A_TEAPOT;
            Ok::<_, Never>(response)
        })
    }

    /// A dashboard directory like the build's, with an outside file a traversal would reach.
    fn site() -> (tempfile::TempDir, PathBuf) {
        let top = tempfile::tempdir().unwrap();
        let dist = top.path().join("dist");
        std::fs::create_dir_all(dist.join("assets/0123abcd/vendor")).unwrap();
        std::fs::write(dist.join("index.html"), "<!doctype html><title>t</title>").unwrap();
        std::fs::write(dist.join("assets/0123abcd/app.js"), "export const x = 1;\n").unwrap();
        std::fs::write(dist.join("assets/0123abcd/style.css"), "body{}").unwrap();
        std::fs::write(dist.join("assets/0123abcd/vendor/e.mjs"), "export {};").unwrap();
        std::fs::write(dist.join("assets/0123abcd/data.json"), "{}").unwrap();
        std::fs::write(dist.join(".sources"), "hash").unwrap();
        std::fs::write(top.path().join("secret.txt"), "secret").unwrap();
        std::os::unix::fs::symlink(top.path().join("secret.txt"), dist.join("link.txt")).unwrap();
        (top, dist)
    }

    async fn send(
        layer: &Site,
        method: Method,
        uri: &str,
        headers: &[(&str, &str)],
    ) -> (StatusCode, http::HeaderMap, String) {
        let mut request = Request::builder().method(method).uri(uri);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request.body(Body::empty()).unwrap();
        let response = crate::intercept::InterceptLayer::new(Some(layer.clone()))
            .layer(inner())
            .oneshot(request)
            .await
            .unwrap();
        let (parts, body) = response.into_parts();
        let bytes = body.collect().await.unwrap().to_bytes();
        (
            parts.status,
            parts.headers,
            String::from_utf8_lossy(&bytes).into_owned(),
        )
    }

    #[tokio::test]
    async fn the_page_and_its_assets_are_served_with_their_types_and_caching() {
        let (_top, dist) = site();
        let layer = Site::new(&dist, CSP).unwrap();
        for uri in ["/", "/index.html", "/?lang=en"] {
            let (status, headers, body) = send(&layer, Method::GET, uri, &[]).await;
            assert_eq!(status, StatusCode::OK, "{uri}");
            assert_eq!(headers["content-type"], "text/html; charset=utf-8");
            assert_eq!(headers["cache-control"], "no-cache");
            let csp = headers["content-security-policy"].to_str().unwrap();
            assert!(csp.contains("script-src 'self';"), "{csp}");
            assert!(!csp.contains("unsafe-eval"), "{csp}");
            assert_eq!(headers["content-length"], body.len().to_string().as_str());
            assert!(headers.contains_key("etag"));
            assert!(body.starts_with("<!doctype html>"));
        }
        for (uri, ty) in [
            ("/assets/0123abcd/app.js", "text/javascript; charset=utf-8"),
            ("/assets/0123abcd/style.css", "text/css; charset=utf-8"),
            (
                "/assets/0123abcd/vendor/e.mjs",
                "text/javascript; charset=utf-8",
            ),
            ("/assets/0123abcd/data.json", "application/json"),
        ] {
            let (status, headers, _) = send(&layer, Method::GET, uri, &[]).await;
            assert_eq!(status, StatusCode::OK, "{uri}");
            assert_eq!(headers["content-type"], ty, "{uri}");
            assert_eq!(
                headers["cache-control"],
                "public, max-age=31536000, immutable"
            );
            assert_eq!(headers["x-content-type-options"], "nosniff");
        }
        // HEAD: the same headers, no body.
        let (status, headers, body) =
            send(&layer, Method::HEAD, "/assets/0123abcd/app.js", &[]).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(headers["content-length"], "20");
        assert!(body.is_empty());
    }

    #[tokio::test]
    async fn grpc_and_grpc_web_requests_pass_through() {
        let (_top, dist) = site();
        let layer = Site::new(&dist, CSP).unwrap();
        let path = "/vidkryto.national.v1.NationalService/GetNationalSummary";
        for content_type in ["application/grpc", "application/grpc-web+proto"] {
            let (status, _, body) = send(
                &layer,
                Method::POST,
                path,
                &[("content-type", content_type)],
            )
            .await;
            assert_eq!(status, StatusCode::IM_A_TEAPOT, "{content_type}");
            assert_eq!(body, format!("inner POST {path}"));
        }
        // Any other method too, even on the page's own path.
        for method in [Method::POST, Method::OPTIONS, Method::PUT, Method::DELETE] {
            let (status, _, _) = send(&layer, method.clone(), "/", &[]).await;
            assert_eq!(status, StatusCode::IM_A_TEAPOT, "{method}");
        }
    }

    #[tokio::test]
    async fn missing_files_are_404_and_nothing_outside_the_directory_is_reachable() {
        let (_top, dist) = site();
        let layer = Site::new(&dist, CSP).unwrap();
        for uri in [
            "/nope.js",
            "/assets/",
            "/assets",
            "/assets/0123abcd",
            "/assets//0123abcd/app.js",
            "/../secret.txt",
            "/assets/../../secret.txt",
            "/assets/0123abcd/../../../secret.txt",
            "/%2e%2e/secret.txt",
            "/assets/%2e%2e/%2e%2e/secret.txt",
            "/..%2fsecret.txt",
            "/.sources",
            "/assets/.hidden",
            "/link.txt",
            "/index.html/",
            "/a\\b",
            "/vidkryto.national.v1.NationalService/GetNationalSummary",
        ] {
            let Ok(uri_ok) = http::Uri::try_from(uri) else {
                continue; // not even a request line
            };
            let (status, headers, body) = send(&layer, Method::GET, &uri_ok.to_string(), &[]).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{uri}");
            assert_eq!(headers["cache-control"], "no-store", "{uri}");
            assert!(!body.contains("secret"), "{uri}: {body}");
        }
        let long = format!("/{}", "a/".repeat(200));
        let (status, _, _) = send(&layer, Method::GET, &long, &[]).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }

    #[tokio::test]
    async fn files_past_the_size_bound_are_refused() {
        let (_top, dist) = site();
        let big = std::fs::File::create(dist.join("big.bin")).unwrap();
        big.set_len(FILE_SIZE_MAX + 1).unwrap();
        let exact = std::fs::File::create(dist.join("exact.bin")).unwrap();
        exact.set_len(FILE_SIZE_MAX).unwrap();
        let layer = Site::new(&dist, CSP).unwrap();
        let (status, _, body) = send(&layer, Method::GET, "/big.bin", &[]).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(body, "file too large to serve\n");
        let (status, headers, _) = send(&layer, Method::HEAD, "/exact.bin", &[]).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(headers["content-type"], "application/octet-stream");
        assert_eq!(
            headers["content-length"],
            FILE_SIZE_MAX.to_string().as_str()
        );
    }

    #[tokio::test]
    async fn without_a_directory_everything_passes_through() {
        let layer = Site::from_setting(None, CSP).unwrap();
        for uri in ["/", "/index.html", "/assets/x.js"] {
            let (status, _, body) = send(&layer, Method::GET, uri, &[]).await;
            assert_eq!(status, StatusCode::IM_A_TEAPOT, "{uri}");
            assert_eq!(body, format!("inner GET {uri}"));
        }
    }

    #[test]
    fn a_directory_without_a_page_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let e = Site::new(dir.path(), CSP).unwrap_err();
        assert!(e.contains("no index.html"), "{e}");
        assert!(Site::new(&dir.path().join("absent"), CSP).is_err());
    }

    #[tokio::test]
    async fn compressed_copies_go_to_browsers_that_accept_them_and_etags_save_the_bytes() {
        let (_top, dist) = site();
        let plain_js = "export const x = 1;\n";
        std::fs::write(dist.join("assets/0123abcd/app.js.gz"), b"gzip bytes").unwrap();
        std::fs::write(dist.join("assets/0123abcd/app.js.br"), b"br bytes").unwrap();
        let layer = Site::new(&dist, CSP).unwrap();
        let uri = "/assets/0123abcd/app.js";
        let cases = [
            ("", None, plain_js),
            ("gzip, deflate", Some("gzip"), "gzip bytes"),
            ("gzip, deflate, br, zstd", Some("br"), "br bytes"),
            ("br;q=0, gzip;q=0.5", Some("gzip"), "gzip bytes"),
            ("identity", None, plain_js),
        ];
        let mut etags = Vec::new();
        for (accept, coding, body_expected) in cases {
            let (status, headers, body) =
                send(&layer, Method::GET, uri, &[("accept-encoding", accept)]).await;
            assert_eq!(status, StatusCode::OK, "{accept}");
            assert_eq!(body, body_expected, "{accept}");
            assert_eq!(
                headers.get("content-encoding").map(|v| v.to_str().unwrap()),
                coding,
                "{accept}"
            );
            assert_eq!(headers["vary"], "accept-encoding");
            assert_eq!(headers["content-type"], "text/javascript; charset=utf-8");
            etags.push((accept, headers["etag"].to_str().unwrap().to_owned()));
        }
        // Each representation has its own tag; naming it gets 304 and no body.
        assert_ne!(etags[0].1, etags[1].1);
        assert_ne!(etags[1].1, etags[2].1);
        for (accept, etag) in &etags {
            let (status, headers, body) = send(
                &layer,
                Method::GET,
                uri,
                &[("accept-encoding", accept), ("if-none-match", etag)],
            )
            .await;
            assert_eq!(status, StatusCode::NOT_MODIFIED, "{accept}");
            assert!(body.is_empty());
            assert_eq!(headers["etag"], etag.as_str());
        }
        let weak = format!("W/{}, \"other\"", etags[0].1);
        let (status, _, _) = send(&layer, Method::GET, uri, &[("if-none-match", &weak)]).await;
        assert_eq!(status, StatusCode::NOT_MODIFIED);
        let (status, _, body) =
            send(&layer, Method::GET, uri, &[("if-none-match", "\"stale\"")]).await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, plain_js));
        // A changed file gets a new tag.
        std::fs::write(dist.join("index.html"), "<!doctype html><title>new</title>").unwrap();
        let (_, before, _) = send(&layer, Method::GET, "/", &[]).await;
        std::fs::write(
            dist.join("index.html"),
            "<!doctype html><title>newer!</title>",
        )
        .unwrap();
        let (_, after, _) = send(&layer, Method::GET, "/", &[]).await;
        assert_ne!(before["etag"], after["etag"]);
        // A file with no compressed copy says nothing of encodings.
        let (_, headers, _) = send(
            &layer,
            Method::GET,
            "/assets/0123abcd/style.css",
            &[("accept-encoding", "gzip")],
        )
        .await;
        assert!(!headers.contains_key("content-encoding") && !headers.contains_key("vary"));
    }

    #[test]
    fn paths_are_checked_segment_by_segment() {
        assert_eq!(relative_path("/"), Some("index.html"));
        assert_eq!(relative_path("/assets/ab/x.js"), Some("assets/ab/x.js"));
        for bad in [
            "", "x", "//", "/..", "/a/../b", "/.env", "/a/.b", "/a%20b", "/a b", "/a\\b",
        ] {
            assert_eq!(relative_path(bad), None, "{bad:?}");
        }
        assert_eq!(relative_path(&format!("/{}", "a/".repeat(8) + "b")), None);
    }
}
