//! Serves the national dashboard's built assets (`services/dashboard/dist`) on the association's
//! own listener, so the page and the gRPC-Web API it calls share one origin (no CORS, one URL
//! to give the council).
//!
//! [`DashboardLayer`] is put in front of the gRPC server's routes (`wire::intercept`): `GET`
//! and `HEAD` requests are answered from the dashboard directory (`/` is `index.html`); every
//! other request (gRPC over HTTP/2, gRPC-Web `POST`s over HTTP/1.1) passes through untouched,
//! since gRPC never uses `GET`.
//! Paths are checked segment by segment against a small alphabet (no `..`, no dot files, no
//! percent escapes) and the resolved file must stay inside the directory even through
//! symlinks; files are bounded in size; `index.html` is `no-cache` while everything under
//! `assets/` is immutable (the dashboard's build names that directory by the hash of its
//! contents).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;
use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use http_body_util::Full;
use tokio::io::AsyncReadExt as _;
use tonic::body::Body;

/// The largest file served. The biggest asset (ECharts' minified module) is about 1.1 MiB; a
/// bound keeps one request from pulling an arbitrary file into memory.
const FILE_SIZE_MAX: u64 = 8 * 1024 * 1024;
/// The longest request path considered (the build's paths are under 100 bytes).
const PATH_LEN_MAX: usize = 256;
/// Path segments considered (the build nests at most `assets/<hash>/vendor/file`).
const PATH_SEGMENTS_MAX: usize = 8;
/// The page itself: fetched again on every visit, so a new build is picked up at once.
const CACHE_PAGE: &str = "no-cache";
/// Everything under `assets/`: the directory name changes with its contents.
const CACHE_ASSET: &str = "public, max-age=31536000, immutable";
/// Scripts, styles and data come from this origin only: no inline scripts and no `eval` (the
/// page's protobuf codec interprets the API's descriptor instead of compiling code from it).
/// `'unsafe-inline'` styles: ECharts sets inline styles on its tooltips.
const PAGE_CSP: &str = "default-src 'self'; script-src 'self'; \
                        style-src 'self' 'unsafe-inline'; \
                        img-src 'self' data: blob:; connect-src 'self'; object-src 'none'; \
                        base-uri 'none'; frame-ancestors 'none'; form-action 'none'";

/// The dashboard's directory, checked once.
#[derive(Debug)]
struct Files {
    /// Canonical (symlinks resolved), so containment can be checked on canonical paths.
    root: PathBuf,
}

/// Answers `GET`/`HEAD` from the dashboard directory and leaves every other request to the
/// gRPC routes (all of them when no directory is configured).
#[derive(Debug, Clone)]
pub struct DashboardLayer {
    files: Option<Arc<Files>>,
}

impl DashboardLayer {
    /// `new(dir)` when a directory is configured, else a layer every request passes through.
    pub fn from_setting(dir: Option<&Path>) -> anyhow::Result<Self> {
        dir.map_or_else(|| Ok(Self { files: None }), Self::new)
    }

    /// Serves `dir`, which must be a directory with an `index.html` (the dashboard's `dist`).
    pub fn new(dir: &Path) -> anyhow::Result<Self> {
        let root = dir
            .canonicalize()
            .with_context(|| format!("dashboard directory {}", dir.display()))?;
        anyhow::ensure!(
            root.join("index.html").is_file(),
            "dashboard directory {} has no index.html (build it: deploy/local/setup.sh)",
            dir.display()
        );
        Ok(Self {
            files: Some(Arc::new(Files { root })),
        })
    }
}

impl wire::intercept::Intercept for DashboardLayer {
    fn answers<B>(&self, request: &Request<B>) -> bool {
        // gRPC and gRPC-Web are POSTs: they pass straight through.
        self.files.is_some()
            && (request.method() == Method::GET || request.method() == Method::HEAD)
    }

    fn answer<B>(&self, request: Request<B>) -> wire::intercept::Answer {
        let files = self.files.clone();
        let head = request.method() == Method::HEAD;
        let path = request.uri().path().to_owned();
        Box::pin(async move {
            let Some(files) = files else {
                return Response::builder()
                    .status(StatusCode::NOT_FOUND)
                    .body(Body::empty())
                    .unwrap_or_default();
            };
            let response = files.respond(&path).await;
            if head { strip_body(response) } else { response }
        })
    }
}

/// A `HEAD` answer: the `GET` answer's status and headers (with its `Content-Length`), no body.
fn strip_body(response: Response<Body>) -> Response<Body> {
    let (parts, _) = response.into_parts();
    Response::from_parts(parts, Body::empty())
}

/// The file a request path names, relative to the dashboard directory: `None` for anything
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
    async fn respond(&self, path: &str) -> Response<Body> {
        let Some(rel) = relative_path(path) else {
            return plain(StatusCode::NOT_FOUND, "not found\n");
        };
        match self.read(rel).await {
            Ok(bytes) => file_response(rel, bytes),
            Err(Refusal::NotFound) => plain(StatusCode::NOT_FOUND, "not found\n"),
            Err(Refusal::TooLarge(len)) => {
                tracing::warn!(
                    path = rel,
                    len,
                    max = FILE_SIZE_MAX,
                    "dashboard file too large"
                );
                plain(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "file too large to serve\n",
                )
            }
            Err(Refusal::Io(e)) => {
                tracing::warn!(path = rel, error = %e, "failed to read a dashboard file");
                plain(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "failed to read the file\n",
                )
            }
        }
    }

    /// The bytes of `rel`, if it is a regular file inside the root and not too large.
    async fn read(&self, rel: &str) -> Result<Bytes, Refusal> {
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
        Ok(Bytes::from(bytes))
    }
}

fn file_response(rel: &str, bytes: Bytes) -> Response<Body> {
    let cache = if rel.starts_with("assets/") {
        CACHE_ASSET
    } else {
        CACHE_PAGE
    };
    let mut builder = Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, content_type(rel))
        .header(header::CONTENT_LENGTH, bytes.len())
        .header(header::CACHE_CONTROL, cache)
        .header(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    if rel.ends_with(".html") {
        builder = builder
            .header(header::CONTENT_SECURITY_POLICY, PAGE_CSP)
            .header(header::REFERRER_POLICY, "no-referrer");
    }
    builder
        .body(Body::new(Full::new(bytes)))
        .unwrap_or_else(|_| plain(StatusCode::INTERNAL_SERVER_ERROR, "bad response\n"))
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
        layer: &DashboardLayer,
        method: Method,
        uri: &str,
        headers: &[(&str, &str)],
    ) -> (StatusCode, http::HeaderMap, String) {
        let mut request = Request::builder().method(method).uri(uri);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request.body(Body::empty()).unwrap();
        let response = wire::intercept::InterceptLayer::new(Some(layer.clone()))
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
        let layer = DashboardLayer::new(&dist).unwrap();
        for uri in ["/", "/index.html", "/?lang=en"] {
            let (status, headers, body) = send(&layer, Method::GET, uri, &[]).await;
            assert_eq!(status, StatusCode::OK, "{uri}");
            assert_eq!(headers["content-type"], "text/html; charset=utf-8");
            assert_eq!(headers["cache-control"], "no-cache");
            let csp = headers["content-security-policy"].to_str().unwrap();
            assert!(csp.contains("script-src 'self';"), "{csp}");
            assert!(!csp.contains("unsafe-eval"), "{csp}");
            assert_eq!(headers["content-length"], body.len().to_string().as_str());
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
        let layer = DashboardLayer::new(&dist).unwrap();
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
        let layer = DashboardLayer::new(&dist).unwrap();
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
        let layer = DashboardLayer::new(&dist).unwrap();
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
        let layer = DashboardLayer::from_setting(None).unwrap();
        for uri in ["/", "/index.html", "/assets/x.js"] {
            let (status, _, body) = send(&layer, Method::GET, uri, &[]).await;
            assert_eq!(status, StatusCode::IM_A_TEAPOT, "{uri}");
            assert_eq!(body, format!("inner GET {uri}"));
        }
    }

    #[test]
    fn a_directory_without_a_page_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let e = DashboardLayer::new(dir.path()).unwrap_err();
        assert!(e.to_string().contains("no index.html"), "{e}");
        assert!(DashboardLayer::new(&dir.path().join("absent")).is_err());
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
