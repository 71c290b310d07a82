//! The node's own sign-in for its web pages: the node is the relying party of the OpenID
//! authorization code flow with PKCE, a `state` bound to the browser, and a `nonce` the ID
//! token must carry; a signed-in person gets a session cookie (`__Host-vk_session` over https:
//! `Secure`, `HttpOnly`, `SameSite=Strict`; `vk_session` on a loopback node over plain http)
//! that the door takes like a bearer session, on gRPC calls from the node's own pages only.
//!
//! - `GET /auth/sign-in?next=/path` sends the browser to the provider. What the sign-in must
//!   remember (state, nonce, PKCE verifier, `next`, when it started) travels in a flow cookie
//!   sealed with a key derived from the node's secret, so the node keeps nothing per sign-in
//!   and no one can fill its memory with sign-ins they never finish;
//! - `GET /auth/callback?code=…&state=…` is where the provider sends it back: the flow cookie
//!   must be this node's, at most 10 minutes old and name this `state` (so an answer brought
//!   to another browser signs no one in), the answer's `iss` must be the provider's; the code
//!   is exchanged at the provider's token endpoint with the flow's PKCE verifier (the provider
//!   takes each code once), the ID token is checked (the door's checks and this flow's nonce),
//!   the flow cookie is cleared and the session set;
//! - `POST /auth/sign-out` ends the session (the node refuses it from then on) and clears it;
//!   `GET /auth/session` tells the page who is signed in.
//!
//! Everything the browser sends is bounded: the query, the flow cookie, `next` (a path on
//! this node, never another origin). Sign-out is taken only from the node's own pages.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use http::header::{self, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use rand::RngCore as _;
use sha2::{Digest as _, Sha256};
use tonic::body::Body;

use super::oidc::WebSignInSettings;
use super::{AuthError, Authenticator, http as provider_http};

/// The cookie holding a sign-in in progress, over https and on loopback (see
/// `super::SESSION_COOKIE_SECURE`).
const FLOW_COOKIE_SECURE: &str = "__Host-vk_flow";
const FLOW_COOKIE_LOOPBACK: &str = "vk_flow";
/// How long a sign-in may wait for the provider.
pub const FLOW_LIFETIME: Duration = Duration::from_secs(600);
/// How long a session lasts.
pub const SESSION_LIFETIME: Duration = Duration::from_secs(8 * 3_600);
/// Longest query string read.
const QUERY_LEN_MAX: usize = 4 * 1024;
/// Longest `next` path kept.
const NEXT_LEN_MAX: usize = 512;

/// A sign-in waiting for the provider, as its sealed flow cookie carries it.
#[derive(serde::Serialize, serde::Deserialize)]
struct Flow {
    state: String,
    nonce: String,
    verifier: String,
    next: String,
    /// Microseconds since 1970 on the node's clock.
    started: i64,
}

/// The web sign-in: its settings, and the door it issues sessions through.
pub struct WebSignIn {
    settings: WebSignInSettings,
    auth: Arc<Authenticator>,
}

impl std::fmt::Debug for WebSignIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebSignIn")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// A random 256-bit value, base64url.
fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    B64.encode(bytes)
}

/// `next` if it is a path on this node (`/…`, not `//…`, no backslash or control character),
/// else `/`.
fn local_path(next: Option<&str>) -> String {
    match next {
        Some(p)
            if p.starts_with('/')
                && !p.starts_with("//")
                && p.len() <= NEXT_LEN_MAX
                && !p.contains('\\')
                && !p.chars().any(char::is_control) =>
        {
            p.to_owned()
        }
        _ => "/".to_owned(),
    }
}

/// The query's parameters, decoded; `None` if it is too long.
fn query(request: &Request<impl Sized>) -> Option<HashMap<String, String>> {
    let query = request.uri().query().unwrap_or_default();
    if query.len() > QUERY_LEN_MAX {
        return None;
    }
    Some(
        openidconnect::url::form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect(),
    )
}

fn cookie<'a>(request: &'a Request<impl Sized>, name: &str) -> Option<&'a str> {
    let headers = request.headers().get_all(header::COOKIE);
    super::cookie_in(headers.iter().filter_map(|v| v.to_str().ok()), name)
}

/// A short page saying what went wrong, Ukrainian first.
fn failure(status: StatusCode, why: &str) -> Response<Body> {
    let escaped = why
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    let page = format!(
        "<!doctype html><html lang=\"uk\"><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width\">\
         <title>Вхід не вдався / Sign-in failed</title>\
         <h1>Вхід не вдався</h1><p lang=\"en\">Sign-in failed: {escaped}</p>\
         <p><a href=\"/auth/sign-in\">Спробувати ще раз / Try again</a></p></html>"
    );
    let mut response = answer(status, "text/html; charset=utf-8", page);
    response.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"),
    );
    response
}

/// An answer of `status` with `body` of `content_type`, never cached nor sniffed.
fn answer(status: StatusCode, content_type: &'static str, body: String) -> Response<Body> {
    let mut response = Response::new(Body::new(http_body_util::Full::new(bytes::Bytes::from(
        body,
    ))));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

fn redirect(location: &str, cookies: &[String]) -> Response<Body> {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::SEE_OTHER;
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(location) {
        headers.insert(header::LOCATION, value);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    for c in cookies {
        if let Ok(value) = HeaderValue::from_str(c) {
            headers.append(header::SET_COOKIE, value);
        }
    }
    response
}

fn json(value: &serde_json::Value) -> Response<Body> {
    answer(StatusCode::OK, "application/json", value.to_string())
}

/// What the provider's token endpoint answers (only the ID token is used).
#[derive(serde::Deserialize)]
struct TokenResponse {
    id_token: Option<String>,
}

impl WebSignIn {
    pub fn new(settings: WebSignInSettings, auth: Arc<Authenticator>) -> Self {
        Self { settings, auth }
    }

    /// `Secure` when the pages are served over https.
    fn cookie_attributes(&self) -> &'static str {
        if self.auth.secure_cookies() {
            "; Secure"
        } else {
            ""
        }
    }

    fn flow_cookie(&self) -> &'static str {
        if self.auth.secure_cookies() {
            FLOW_COOKIE_SECURE
        } else {
            FLOW_COOKIE_LOOPBACK
        }
    }

    fn clear_flow(&self) -> String {
        format!(
            "{}=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax{}",
            self.flow_cookie(),
            self.cookie_attributes()
        )
    }

    /// Answers a request under `/auth/`.
    pub async fn respond(&self, request: Request<()>) -> Response<Body> {
        let peer = peer_of(&request);
        if !self.auth.transport_allows(peer) {
            return failure(
                StatusCode::FORBIDDEN,
                "sign-in is taken only over TLS, or over plain text from this machine",
            );
        }
        match (request.method(), request.uri().path()) {
            (&Method::GET, "/auth/sign-in") => self.start(&request).await,
            (&Method::GET, "/auth/callback") => self.finish(&request).await,
            (&Method::POST, "/auth/sign-out") => self.sign_out(&request),
            (&Method::GET, "/auth/session") => self.session(&request, peer).await,
            _ => failure(StatusCode::NOT_FOUND, "no such page"),
        }
    }

    async fn start(&self, request: &Request<()>) -> Response<Body> {
        let Some(params) = query(request) else {
            return failure(StatusCode::BAD_REQUEST, "the address is too long");
        };
        let Some(oidc) = self.auth.oidc() else {
            return failure(
                StatusCode::NOT_FOUND,
                "this node has no identity provider configured",
            );
        };
        let endpoints = match oidc.endpoints().await {
            Ok(e) => e,
            Err(e) => return failure(StatusCode::SERVICE_UNAVAILABLE, &e.to_string()),
        };
        let flow = Flow {
            state: random_token(),
            nonce: random_token(),
            verifier: random_token(),
            next: local_path(params.get("next").map(String::as_str)),
            started: (self.auth.clock)().0,
        };
        let Ok(body) = serde_json::to_vec(&flow) else {
            return failure(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the sign-in could not start",
            );
        };
        let sealed = self.auth.sessions.seal_flow(&body);
        let (state, nonce, verifier) = (&flow.state, &flow.nonce, &flow.verifier);
        let challenge = B64.encode(Sha256::digest(verifier.as_bytes()));
        let Ok(mut url) = openidconnect::url::Url::parse(&endpoints.authorization) else {
            return failure(
                StatusCode::SERVICE_UNAVAILABLE,
                "the provider's authorization endpoint is not a URL",
            );
        };
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &oidc.settings().client_id)
            .append_pair("redirect_uri", &self.settings.redirect_url)
            .append_pair("scope", "openid vidkryto")
            .append_pair("state", state)
            .append_pair("nonce", nonce)
            .append_pair("code_challenge", &challenge)
            .append_pair("code_challenge_method", "S256");
        redirect(
            url.as_str(),
            // `Lax`: the provider sends the browser back with a top-level cross-site GET.
            &[format!(
                "{}={sealed}; Path=/; Max-Age={}; HttpOnly; SameSite=Lax{}",
                self.flow_cookie(),
                FLOW_LIFETIME.as_secs(),
                self.cookie_attributes()
            )],
        )
    }

    async fn finish(&self, request: &Request<()>) -> Response<Body> {
        let Some(params) = query(request) else {
            return failure(StatusCode::BAD_REQUEST, "the address is too long");
        };
        if let Some(error) = params.get("error") {
            // Only the provider's error code, from the standard's list: the page never shows
            // text from the address (anyone can send a link to this page).
            let code = [
                "access_denied",
                "login_required",
                "consent_required",
                "interaction_required",
                "account_selection_required",
                "invalid_request",
                "unauthorized_client",
                "invalid_scope",
                "server_error",
                "temporarily_unavailable",
            ]
            .into_iter()
            .find(|c| c == error)
            .unwrap_or("unknown");
            return failure(
                StatusCode::BAD_REQUEST,
                &format!("the identity provider did not sign you in ({code})"),
            );
        }
        // RFC 9207: an answer that names its issuer must name this node's provider, so an
        // answer from another provider is never taken for one from this.
        if let (Some(iss), Some(oidc)) = (params.get("iss"), self.auth.oidc())
            && iss != &oidc.settings().issuer
        {
            return failure(
                StatusCode::BAD_REQUEST,
                "the answer comes from another issuer than this node's identity provider",
            );
        }
        let (Some(code), Some(state)) = (params.get("code"), params.get("state")) else {
            return failure(
                StatusCode::BAD_REQUEST,
                "the provider's answer is incomplete",
            );
        };
        // The browser that comes back must be the one that started it, recently.
        let flow = cookie(request, self.flow_cookie())
            .and_then(|sealed| self.auth.sessions.open_flow(sealed))
            .and_then(|body| serde_json::from_slice::<Flow>(&body).ok());
        let Some(flow) =
            flow.filter(|f| wire::constant_time_eq(f.state.as_bytes(), state.as_bytes()))
        else {
            return failure(
                StatusCode::BAD_REQUEST,
                "this sign-in was not started in this browser; start again",
            );
        };
        let lifetime = i64::try_from(FLOW_LIFETIME.as_micros()).unwrap_or(i64::MAX);
        let now = (self.auth.clock)().0;
        if now < flow.started || now - flow.started >= lifetime {
            return failure(
                StatusCode::BAD_REQUEST,
                "this sign-in took too long; start again",
            );
        }
        let id_token = match self.exchange(code, &flow.verifier).await {
            Ok(token) => token,
            Err(why) => return failure(StatusCode::BAD_GATEWAY, &why),
        };
        match self
            .auth
            .sign_in_person(&id_token, &flow.nonce, SESSION_LIFETIME)
            .await
        {
            Ok((session, ends)) => {
                let max_age = (ends.0 - (self.auth.clock)().0).max(0) / 1_000_000;
                redirect(
                    &flow.next,
                    &[
                        format!(
                            "{}={session}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Strict{}",
                            self.auth.session_cookie(),
                            self.cookie_attributes()
                        ),
                        self.clear_flow(),
                    ],
                )
            }
            Err(AuthError::Unavailable(why)) => failure(StatusCode::SERVICE_UNAVAILABLE, &why),
            Err(e) => failure(StatusCode::FORBIDDEN, &e.to_string()),
        }
    }

    /// Exchanges `code` at the provider's token endpoint; the ID token it answers with.
    async fn exchange(&self, code: &str, verifier: &str) -> Result<String, String> {
        let oidc = self
            .auth
            .oidc()
            .ok_or("this node has no identity provider configured")?;
        let endpoints = oidc.endpoints().await.map_err(|e| e.to_string())?;
        let token_url = endpoints
            .token
            .ok_or("the identity provider publishes no token endpoint")?;
        let client_id = &oidc.settings().client_id;
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", self.settings.redirect_url.as_str()),
            ("code_verifier", verifier),
        ];
        let mut headers = Vec::new();
        match &self.settings.client_secret {
            Some(secret) => {
                let encode = |s: &str| -> String {
                    openidconnect::url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
                };
                let basic = base64::engine::general_purpose::STANDARD.encode(format!(
                    "{}:{}",
                    encode(client_id),
                    encode(secret)
                ));
                headers.push((header::AUTHORIZATION, format!("Basic {basic}")));
            }
            None => form.push(("client_id", client_id.as_str())),
        }
        let body = openidconnect::url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        let response = provider_http::post_form(&token_url, body, &headers)
            .await
            .map_err(|e| e.to_string())?;
        if !response.status().is_success() {
            return Err(format!(
                "the identity provider refused the code ({})",
                response.status()
            ));
        }
        let body: TokenResponse = serde_json::from_slice(response.body())
            .map_err(|_| "the identity provider's token answer does not read".to_owned())?;
        body.id_token
            .ok_or_else(|| "the identity provider's token answer has no ID token".to_owned())
    }

    /// Ends the session the request carries, from the node's own pages only.
    fn sign_out(&self, request: &Request<()>) -> Response<Body> {
        let site = request
            .headers()
            .get("sec-fetch-site")
            .and_then(|v| v.to_str().ok());
        if site.is_some_and(|s| s != "same-origin") {
            return failure(
                StatusCode::FORBIDDEN,
                "signing out is taken only from this node's own pages",
            );
        }
        if let Some(token) = cookie(request, self.auth.session_cookie()) {
            self.auth.sign_out(token);
        }
        redirect(
            "/",
            &[format!(
                "{}=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict{}",
                self.auth.session_cookie(),
                self.cookie_attributes()
            )],
        )
    }

    async fn session(
        &self,
        request: &Request<()>,
        peer: Option<std::net::SocketAddr>,
    ) -> Response<Body> {
        let holder = match cookie(request, self.auth.session_cookie()) {
            Some(token) => self.auth.session_holder(token, peer).await,
            None => Err(AuthError::Missing),
        };
        match holder {
            Ok(principal) => json(&serde_json::json!({
                "signed_in": true,
                "resident": principal.may(super::Permission::Participate),
                "roles": super::Role::ALL
                    .into_iter()
                    .filter(|r| principal.may(super::permission::granted_by(*r)))
                    .map(super::Role::name)
                    .collect::<Vec<_>>(),
                "ends_at": principal.expires_at.map(|t| t.to_rfc3339()),
            })),
            Err(_) => json(&serde_json::json!({ "signed_in": false })),
        }
    }
}

/// The peer's address, from what the server put in the request's extensions.
fn peer_of<B>(request: &Request<B>) -> Option<std::net::SocketAddr> {
    use tonic::transport::server::{TcpConnectInfo, TlsConnectInfo};
    let extensions = request.extensions();
    extensions
        .get::<TcpConnectInfo>()
        .and_then(TcpConnectInfo::remote_addr)
        .or_else(|| {
            extensions
                .get::<TlsConnectInfo<TcpConnectInfo>>()
                .and_then(|i| i.get_ref().remote_addr())
        })
}

/// The web sign-in in front of the gRPC routes (`wire::intercept`): it answers every request
/// under `/auth/`.
#[derive(Clone, Debug)]
pub struct WebSignInRoutes(pub Arc<WebSignIn>);

impl wire::intercept::Intercept for WebSignInRoutes {
    fn answers<B>(&self, request: &Request<B>) -> bool {
        request.uri().path().starts_with("/auth/")
    }

    fn answer<B>(&self, request: Request<B>) -> wire::intercept::Answer {
        // The body is never read: every route is a GET, or a POST with nothing in it.
        let (parts, _) = request.into_parts();
        let request = Request::from_parts(parts, ());
        let sign_in = Arc::clone(&self.0);
        Box::pin(async move { sign_in.respond(request).await })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_is_only_ever_a_path_on_this_node() {
        assert_eq!(local_path(Some("/petitions/7?x=1")), "/petitions/7?x=1");
        for hostile in [
            "https://evil.example/",
            "//evil.example/",
            "/\\evil.example",
            "javascript:alert(1)",
            "/a\r\nSet-Cookie: x=1",
            "",
        ] {
            assert_eq!(local_path(Some(hostile)), "/", "{hostile:?}");
        }
        assert_eq!(local_path(Some(&format!("/{}", "a".repeat(600)))), "/");
        assert_eq!(local_path(None), "/");
    }
}
