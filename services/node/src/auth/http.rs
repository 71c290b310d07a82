//! The node's one HTTP client, for an OpenID provider: what it publishes (its discovery
//! document and its keys, `GET`, which `openidconnect` calls through its `AsyncHttpClient`, a
//! function from request to response) and the token endpoint where the node's own sign-in
//! exchanges a code (a form `POST`, [`post_form`]). HTTPS (rustls, the system's roots) except
//! to a loopback address, no redirects, 10 s per request, 1 MiB per response.

use std::net::IpAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full, Limited};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio_rustls::rustls;

/// Longest a request may take, connection and TLS included.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest response body read (a provider's keys are a few KiB).
pub const RESPONSE_BYTES_MAX: usize = 1024 * 1024;

/// Why a request to the provider failed.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("{0}")]
    Refused(String),
    #[error("request to {host} failed: {detail}")]
    Failed { host: String, detail: String },
    #[error("request to {host} took longer than {REQUEST_TIMEOUT:?}")]
    Timeout { host: String },
}

/// An HTTP request and response as `openidconnect` passes them.
pub type HttpRequest = http::Request<Vec<u8>>;
pub type HttpResponse = http::Response<Vec<u8>>;

/// Sends `request` (a `GET` with an empty body) and reads its response.
pub async fn fetch(request: HttpRequest) -> Result<HttpResponse, HttpError> {
    if request.method() != http::Method::GET || !request.body().is_empty() {
        return Err(HttpError::Refused(format!(
            "only GET is sent to the identity provider's published documents, not {}",
            request.method()
        )));
    }
    send_bounded(request).await
}

/// Posts the form `body` (`application/x-www-form-urlencoded`) to `uri`, with the extra
/// `headers`, and reads the response.
pub async fn post_form(
    uri: &str,
    body: String,
    headers: &[(http::HeaderName, String)],
) -> Result<HttpResponse, HttpError> {
    let mut builder = http::Request::builder()
        .method(http::Method::POST)
        .uri(uri)
        .header(
            http::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .header(http::header::ACCEPT, "application/json");
    for (name, value) in headers {
        builder = builder.header(name, value);
    }
    let request = builder
        .body(body.into_bytes())
        .map_err(|e| HttpError::Refused(e.to_string()))?;
    send_bounded(request).await
}

async fn send_bounded(request: HttpRequest) -> Result<HttpResponse, HttpError> {
    let uri = request.uri().clone();
    let host = uri.host().unwrap_or_default().to_owned();
    match tokio::time::timeout(REQUEST_TIMEOUT, fetch_inner(request)).await {
        Ok(result) => result,
        Err(_) => Err(HttpError::Timeout { host }),
    }
}

async fn fetch_inner(request: HttpRequest) -> Result<HttpResponse, HttpError> {
    let (parts, body) = request.into_parts();
    let uri = parts.uri;
    let host = uri
        .host()
        .ok_or_else(|| HttpError::Refused(format!("{uri} names no host")))?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let failed = |detail: String| HttpError::Failed {
        host: host.clone(),
        detail,
    };
    let tls = match uri.scheme_str() {
        Some("https") => true,
        Some("http") if is_loopback_host(&host) => false,
        _ => {
            return Err(HttpError::Refused(format!(
                "{uri}: an identity provider is reached over https (plain http only on loopback)"
            )));
        }
    };
    let port = uri.port_u16().unwrap_or(if tls { 443 } else { 80 });
    let tcp = TcpStream::connect((host.as_str(), port))
        .await
        .map_err(|e| failed(e.to_string()))?;
    let path = uri
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "/".into());
    let authority = uri
        .authority()
        .map(|a| a.as_str().to_owned())
        .unwrap_or_default();
    let mut builder = http::Request::builder()
        .method(parts.method.clone())
        .uri(path)
        .header(http::header::HOST, authority);
    for (name, value) in &parts.headers {
        builder = builder.header(name, value);
    }
    let outgoing = builder
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| failed(e.to_string()))?;
    let response = if tls {
        let name = rustls::pki_types::ServerName::try_from(host.clone())
            .map_err(|e| failed(e.to_string()))?;
        let stream = tokio_rustls::TlsConnector::from(client_config())
            .connect(name, tcp)
            .await
            .map_err(|e| failed(format!("TLS: {e}")))?;
        send(TokioIo::new(stream), outgoing).await
    } else {
        send(TokioIo::new(tcp), outgoing).await
    }
    .map_err(failed)?;
    let (parts, body) = response.into_parts();
    let body = Limited::new(body, RESPONSE_BYTES_MAX)
        .collect()
        .await
        .map_err(|e| failed(format!("reading the response: {e}")))?
        .to_bytes();
    Ok(http::Response::from_parts(parts, body.to_vec()))
}

async fn send<T>(
    io: TokioIo<T>,
    request: http::Request<Full<Bytes>>,
) -> Result<http::Response<hyper::body::Incoming>, String>
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    sender
        .send_request(request)
        .await
        .map_err(|e| e.to_string())
}

/// Whether `host` (a name or an address, IPv6 without its brackets) is this machine.
pub(crate) fn is_loopback_host(host: &str) -> bool {
    host == "localhost" || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// rustls trusting the system's root certificates, made once.
fn client_config() -> Arc<rustls::ClientConfig> {
    static CONFIG: OnceLock<Arc<rustls::ClientConfig>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let mut roots = rustls::RootCertStore::empty();
            for cert in rustls_native_certs::load_native_certs().certs {
                let _ = roots.add(cert);
            }
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let config = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .map(|b| b.with_root_certificates(roots).with_no_client_auth())
                .unwrap_or_else(|_| {
                    // The ring provider supports the default versions; this is unreachable
                    // but must not panic.
                    rustls::ClientConfig::builder()
                        .with_root_certificates(rustls::RootCertStore::empty())
                        .with_no_client_auth()
                });
            Arc::new(config)
        })
        .clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(url: &str) -> HttpRequest {
        http::Request::get(url).body(Vec::new()).unwrap()
    }

    #[tokio::test]
    async fn plain_http_is_refused_off_loopback_and_only_get_is_sent() {
        let err = fetch(get(
            "http://id.example.gov.ua/.well-known/openid-configuration",
        ))
        .await
        .unwrap_err();
        assert!(matches!(err, HttpError::Refused(_)), "{err}");
        let post = http::Request::post("http://127.0.0.1:1/token")
            .body(b"x".to_vec())
            .unwrap();
        assert!(matches!(
            fetch(post).await.unwrap_err(),
            HttpError::Refused(_)
        ));
    }

    #[tokio::test]
    async fn a_response_past_the_limit_is_an_error_not_memory() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 1024];
            let _ = socket.read(&mut buf).await;
            let body = vec![b'x'; RESPONSE_BYTES_MAX + 1];
            let head = format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n", body.len());
            let _ = socket.write_all(head.as_bytes()).await;
            let _ = socket.write_all(&body).await;
        });
        let err = fetch(get(&format!("http://{addr}/jwks")))
            .await
            .unwrap_err();
        assert!(
            matches!(&err, HttpError::Failed { detail, .. } if detail.contains("reading")),
            "{err}"
        );
    }
}
