//! Who may write: the node's door. Every command carries a credential in its
//! `authorization: Bearer …` metadata, and the node learns from it who is asking and what they
//! may do, before anything is parsed further:
//!
//! - an **ID token** of the node's OpenID provider (`oidc`): a person. Every person may
//!   participate (file, sign, contribute) as themselves: their identity is `(issuer, sub)`, and
//!   the node, not the request, names the subject whose keyed pseudonym is recorded; staff get
//!   the permissions of the roles in their token's roles claim;
//! - an **API token** or a **TLS client certificate** of a machine client (`clients`): the
//!   permissions the operator gave it. A client that participates passes the subject it
//!   verified itself in the request, kept apart from the provider's by its name.
//!
//! Reads need no credential. A command without one is `UNAUTHENTICATED`; one whose credential
//! lacks the command's permission is `PERMISSION_DENIED`; neither writes anything. Credentials
//! travel only over TLS, or over plain text from a loopback peer, where they never leave the
//! machine (`wire::credentials_transport_allowed`).

pub mod accounts;
pub mod attested;
pub mod clients;
pub mod http;
pub mod oidc;
mod permission;
pub mod watched;
pub mod web;

pub use permission::{Permission, Role};

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use chrono::{DateTime, Utc};
use domain::ActorKind;
use proto::node::v1 as pb;
use sha2::{Digest as _, Sha256};
use tonic::metadata::{Ascii, MetadataMap, MetadataValue};
use tonic::{Code, Status};

use crate::command::{Acting, Subject};
use crate::executor::Clock;
use accounts::{AccountRegistry, Sessions};
use attested::Attested;
use clients::ClientRegistry;
use event_store_core::Timestamp;
use oidc::{OidcError, OidcVerifier};

/// Who a request proved to be.
#[derive(Clone, PartialEq, Eq)]
pub struct Principal {
    identity: Identity,
    /// What the provider attested of a person (nothing for a client or a staff account).
    attested: Attested,
    permissions: Vec<Permission>,
    /// When the credential stops being valid (an ID token's expiry), if it does.
    expires_at: Option<DateTime<Utc>>,
}

#[derive(Clone, PartialEq, Eq)]
enum Identity {
    /// A person signed in at the provider: the subject the node records pseudonyms of.
    Person { subject: String },
    /// A machine client, by name.
    Client { name: String },
}

impl std::fmt::Debug for Principal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let who = match &self.identity {
            Identity::Person { .. } => "person".to_owned(),
            Identity::Client { name } => format!("client {name}"),
        };
        f.debug_struct("Principal")
            .field("who", &who)
            .field("permissions", &self.permissions)
            .finish_non_exhaustive()
    }
}

impl Principal {
    /// A person with the identity `(issuer, subject)` and roles. The subject the node records
    /// pseudonyms of is `oidc:` and the SHA-256 of both (length-prefixed), so it has one length
    /// whatever the provider's, and no machine client's subject can equal it.
    pub fn person(issuer: &str, subject: &str, roles: &[Role]) -> Self {
        Self::person_with_subject(person_subject(issuer, subject), roles)
    }

    /// A person by the subject the node derived at sign-in ([`person_subject`]).
    fn person_with_subject(subject: String, roles: &[Role]) -> Self {
        let mut permissions = vec![Permission::Participate];
        permissions.extend(roles.iter().map(|r| permission::granted_by(*r)));
        permissions.sort();
        permissions.dedup();
        Self {
            identity: Identity::Person { subject },
            attested: Attested::default(),
            permissions,
            expires_at: None,
        }
    }

    /// The person with what their provider attested of them.
    pub fn with_attested(mut self, attested: Attested) -> Self {
        if matches!(self.identity, Identity::Person { .. }) {
            self.attested = attested;
        }
        self
    }

    /// What the provider attested of this person.
    pub fn attested(&self) -> &Attested {
        &self.attested
    }

    /// A node-local staff account: the permissions of its roles (not a resident's: an
    /// account never signs or files).
    pub fn staff(name: &str, roles: &[Role]) -> Self {
        let mut permissions: Vec<Permission> =
            roles.iter().map(|r| permission::granted_by(*r)).collect();
        permissions.sort();
        permissions.dedup();
        Self {
            identity: Identity::Person {
                subject: format!("account:{name}"),
            },
            attested: Attested::default(),
            permissions,
            expires_at: None,
        }
    }

    /// A machine client.
    pub fn client(client: &clients::Client) -> Self {
        Self {
            identity: Identity::Client {
                name: client.name.clone(),
            },
            attested: Attested::default(),
            permissions: client.permissions.clone(),
            expires_at: None,
        }
    }

    /// Who acts for the council when this principal runs a command needing `permission`:
    /// `None` for a resident's permission (`Participate`), whose events record pseudonyms of
    /// their own.
    pub fn acting(&self, permission: Permission) -> Option<Acting> {
        let role = permission.role()?;
        let (kind, subject) = match &self.identity {
            Identity::Person { subject } => (ActorKind::Staff, subject.clone()),
            Identity::Client { name } => (ActorKind::Client, format!("client:{name}")),
        };
        Some(Acting {
            role,
            kind,
            subject: Subject::verified(subject),
        })
    }

    /// The subject the node derives a person's pseudonyms from; `None` for a machine client or
    /// a staff account (neither signs as a person).
    pub fn resident_subject(&self) -> Option<&str> {
        match &self.identity {
            Identity::Person { subject } if self.may(Permission::Participate) => Some(subject),
            _ => None,
        }
    }

    pub fn may(&self, permission: Permission) -> bool {
        self.permissions.contains(&permission)
    }

    /// `Ok` if the principal has `permission`, else `PERMISSION_DENIED` naming it.
    pub fn require(&self, permission: Permission) -> Result<(), AuthError> {
        if self.may(permission) {
            Ok(())
        } else {
            Err(AuthError::Denied(permission))
        }
    }

    /// Fills in a command's attestation fields (`fields`: the birthdate field's name and value,
    /// the residence field's value): a person's from their provider, which the request must
    /// leave empty; a client's as it gives them, only if the operator let it attest (else the
    /// request must leave them empty, and the participant's age is unknown).
    pub fn bind_attested(
        &self,
        (birthdate_field, residence_field): (&'static str, &'static str),
        birthdate: &mut String,
        residence: &mut String,
    ) -> Result<(), AuthError> {
        match &self.identity {
            Identity::Person { .. } => {
                if !birthdate.is_empty() {
                    return Err(AuthError::SubjectGiven(birthdate_field));
                }
                if !residence.is_empty() {
                    return Err(AuthError::SubjectGiven(residence_field));
                }
                if let Some(date) = self.attested.birthdate {
                    *birthdate = date.to_string();
                }
                if let Some(code) = &self.attested.residence {
                    *residence = code.as_str().to_owned();
                }
            }
            Identity::Client { .. } => {
                if !(birthdate.is_empty() && residence.is_empty()) {
                    self.require(Permission::Attest)?;
                }
            }
        }
        Ok(())
    }

    /// [`bind_subject`](Self::bind_subject), except for a machine client allowed to attest that
    /// vouches for the participant's age and residence (`vouched`) on a node with an identity
    /// provider (`issuer`): the subject it gives is the person's `sub` at that provider, and
    /// the node derives the person's own subject from it, so a ballot through the client and
    /// one through the person's own sign-in are one person's (a second is refused).
    pub fn bind_subject_vouched(
        &self,
        field: &'static str,
        value: &mut String,
        vouched: bool,
        issuer: Option<&str>,
    ) -> Result<(), AuthError> {
        match (&self.identity, issuer) {
            (Identity::Client { .. }, Some(issuer)) if vouched && self.may(Permission::Attest) => {
                if !value.trim().is_empty() {
                    *value = person_subject(issuer, value);
                }
                Ok(())
            }
            _ => self.bind_subject(field, value),
        }
    }

    /// Fills in a command's participant subject field: a person's own, which the request must
    /// leave empty; a client's, which it gives (an empty one stays empty, for the request's
    /// parser to report in field order), kept apart from other clients' and from persons' by
    /// the client's name.
    pub fn bind_subject(&self, field: &'static str, value: &mut String) -> Result<(), AuthError> {
        match &self.identity {
            Identity::Person { subject } => {
                if !value.is_empty() {
                    return Err(AuthError::SubjectGiven(field));
                }
                value.clone_from(subject);
            }
            Identity::Client { name } => {
                if !value.trim().is_empty() {
                    *value = format!("client:{name}:{value}");
                }
            }
        }
        Ok(())
    }
}

/// The subject the node records pseudonyms of for the person `(issuer, subject)`: `oidc:` and
/// the base64url SHA-256 of both, length-prefixed.
pub fn person_subject(issuer: &str, subject: &str) -> String {
    let mut hasher = Sha256::new();
    for part in [issuer, subject] {
        hasher.update((part.len() as u64).to_be_bytes());
        hasher.update(part.as_bytes());
    }
    let digest = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(hasher.finalize());
    format!("oidc:{digest}")
}

/// The cookie of a person's session from the node's own web sign-in (`web`) when its pages
/// are served over https: the `__Host-` prefix makes browsers refuse it unless it was set by
/// this host, `Secure`, for `/` (so no sibling host or plain-http page can plant one).
pub const SESSION_COOKIE_SECURE: &str = "__Host-vk_session";
/// The session cookie on a loopback development node served over plain http.
pub const SESSION_COOKIE_LOOPBACK: &str = "vk_session";
/// Longest a web session with staff roles lasts.
pub const STAFF_SESSION_LIFETIME: std::time::Duration = std::time::Duration::from_secs(3_600);
/// Most signed-out sessions remembered until their end.
const SIGNED_OUT_MAX: usize = 100_000;

/// Why a request was not let in.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("this command needs a credential: `authorization: Bearer <ID token or API token>`")]
    Missing,
    #[error("the credential is not accepted: {0}")]
    Rejected(String),
    #[error("credentials are taken only over TLS, or over plain text from this machine (loopback)")]
    Transport,
    #[error("the credential does not allow this command (it needs permission `{}`)", .0.name())]
    Denied(Permission),
    #[error("{0}: set by the node from your sign-in; leave it empty")]
    SubjectGiven(&'static str),
    #[error("{0}")]
    Unavailable(String),
}

impl From<AuthError> for Status {
    fn from(e: AuthError) -> Self {
        let message = e.to_string();
        match e {
            AuthError::Missing | AuthError::Rejected(_) => {
                let mut status = Status::new(Code::Unauthenticated, message);
                status
                    .metadata_mut()
                    .insert("www-authenticate", MetadataValue::from_static("Bearer"));
                status
            }
            AuthError::Transport | AuthError::Denied(_) => {
                Status::new(Code::PermissionDenied, message)
            }
            AuthError::SubjectGiven(field) => {
                crate::error::NodeError::invalid(field, &message).into()
            }
            AuthError::Unavailable(_) => Status::new(Code::Unavailable, message),
        }
    }
}

/// Most verified ID tokens remembered (by digest) so a session's next command skips the
/// signature check; each is still checked against its expiry on every use.
const VERIFIED_CACHE_MAX: usize = 16_384;

/// What a request brings to the door: its metadata, its peer and its TLS client certificate.
#[derive(Clone, Copy, Debug)]
pub struct Knock<'a> {
    pub metadata: &'a MetadataMap,
    pub peer: Option<SocketAddr>,
    /// The DER bytes of the client certificate the TLS handshake verified, if any.
    pub certificate: Option<&'a [u8]>,
}

/// The node's door.
pub struct Authenticator {
    oidc: Option<OidcVerifier>,
    clients: Arc<ClientRegistry>,
    accounts: Arc<AccountRegistry>,
    sessions: Sessions,
    tls: bool,
    clock: Clock,
    verified: Mutex<HashMap<[u8; 32], Principal>>,
    /// The name of the session cookie (see [`SESSION_COOKIE_SECURE`]).
    session_cookie: &'static str,
    /// Person sessions signed out before their end, by digest, with that end.
    signed_out: Mutex<HashMap<[u8; 32], Timestamp>>,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator")
            .field("oidc", &self.oidc)
            .field("tls", &self.tls)
            .finish_non_exhaustive()
    }
}

impl Authenticator {
    pub fn new(
        oidc: Option<OidcVerifier>,
        clients: Arc<ClientRegistry>,
        accounts: Arc<AccountRegistry>,
        sessions: Sessions,
        tls: bool,
        clock: Clock,
    ) -> Self {
        Self {
            oidc,
            clients,
            accounts,
            sessions,
            tls,
            clock,
            verified: Mutex::new(HashMap::new()),
            session_cookie: session_cookie_name(tls),
            signed_out: Mutex::new(HashMap::new()),
        }
    }

    /// Takes the session cookie under its `__Host-` name: the node's pages are served over
    /// https (by itself, or by a proxy in front of it).
    pub fn with_secure_cookies(mut self, secure: bool) -> Self {
        self.session_cookie = session_cookie_name(secure || self.tls);
        self
    }

    /// The session cookie's name on this node.
    pub fn session_cookie(&self) -> &'static str {
        self.session_cookie
    }

    /// Whether this node's cookies are `Secure` (and `__Host-`).
    pub fn secure_cookies(&self) -> bool {
        self.session_cookie == SESSION_COOKIE_SECURE
    }

    /// Who holds the session cookie `token` sent from `peer` to the node's pages (not a gRPC
    /// call: the page asks who is signed in). Only a session is taken.
    pub async fn session_holder(
        &self,
        token: &str,
        peer: Option<SocketAddr>,
    ) -> Result<Principal, AuthError> {
        if !wire::credentials_transport_allowed(peer, self.tls) {
            return Err(AuthError::Transport);
        }
        if !is_session_token(token) {
            return Err(AuthError::Rejected("the cookie holds no session".into()));
        }
        self.holder_of(token).await
    }

    /// Ends the person's session `token` before its time (signing out): it is refused from
    /// now on. Nothing for a token that is not a valid person's session.
    pub fn sign_out(&self, token: &str) {
        let now = (self.clock)();
        let Ok(accounts::PersonSession { ends, .. }) = self.sessions.check_person(token, now)
        else {
            return;
        };
        let mut signed_out = self.signed_out.lock().unwrap_or_else(|e| e.into_inner());
        if signed_out.len() >= SIGNED_OUT_MAX {
            signed_out.retain(|_, end| end.0 > now.0);
        }
        if signed_out.len() < SIGNED_OUT_MAX {
            signed_out.insert(Sha256::digest(token.as_bytes()).into(), ends);
        }
    }

    pub fn oidc(&self) -> Option<&OidcVerifier> {
        self.oidc.as_ref()
    }

    /// Whether credentials may be taken from `peer` on this listener.
    pub fn transport_allows(&self, peer: Option<SocketAddr>) -> bool {
        wire::credentials_transport_allowed(peer, self.tls)
    }

    /// Signs a staff account in (CPU-heavy: run off the async threads): a session token and
    /// its end, or `None` for an unknown account or a wrong password.
    pub fn sign_in(
        &self,
        account: &str,
        password: &str,
    ) -> Option<(Arc<accounts::Account>, String, Timestamp)> {
        let account = self.accounts.check(account, password)?;
        let (token, ends) = self.sessions.issue(&account, (self.clock)());
        Some((account, token, ends))
    }

    /// Checks an ID token the node's own web sign-in asked for (its `nonce`), and issues the
    /// person's session: their node subject and roles, ending at `ends`.
    pub async fn sign_in_person(
        &self,
        id_token: &str,
        nonce: &str,
        lifetime: std::time::Duration,
    ) -> Result<(String, Timestamp), AuthError> {
        let oidc = self.oidc.as_ref().ok_or_else(|| {
            AuthError::Rejected("this node has no identity provider configured".into())
        })?;
        let person = oidc
            .verify_for(id_token, Some(nonce))
            .await
            .map_err(|e| match e {
                OidcError::Rejected(why) => AuthError::Rejected(why),
                OidcError::Unavailable(why) => AuthError::Unavailable(why),
            })?;
        let roles: Vec<Role> = person.roles.iter().filter_map(|r| Role::parse(r)).collect();
        // Roles are as the provider said at sign-in: a session that grants them lasts an hour,
        // so a role withdrawn at the provider stops acting soon.
        let lifetime = if roles.is_empty() {
            lifetime
        } else {
            lifetime.min(STAFF_SESSION_LIFETIME)
        };
        let lifetime = i64::try_from(lifetime.as_micros()).unwrap_or(i64::MAX);
        let ends = Timestamp((self.clock)().0.saturating_add(lifetime));
        let subject = person_subject(&person.issuer, &person.subject);
        Ok((
            self.sessions
                .issue_person(&subject, &roles, &person.attested, ends),
            ends,
        ))
    }

    /// Who `knock` proves to be: a client by its certificate, else by the bearer credential.
    pub async fn authenticate(&self, knock: Knock<'_>) -> Result<Principal, AuthError> {
        if let Some(der) = knock.certificate
            && let Some(client) = self.clients.by_certificate(der)
        {
            return Ok(Principal::client(&client));
        }
        let token = match knock.metadata.get("authorization") {
            Some(value) => bearer(value)?,
            // The node's web pages carry their session in a cookie: only a session, never an
            // API token or an ID token, is taken from there, and only on a gRPC request from
            // this node's own pages. A browser sends a cross-origin `application/grpc…`
            // request only after asking (CORS, which the node never allows), and names the
            // origin a request comes from in `Sec-Fetch-Site`; so no other page, not even one
            // on a sibling host of the same site, acts with a resident's or official's session.
            None => match cookie_in(
                knock
                    .metadata
                    .get_all("cookie")
                    .iter()
                    .filter_map(|v| v.to_str().ok()),
                self.session_cookie,
            ) {
                Some(token) => {
                    if !from_own_pages(knock.metadata) {
                        return Err(AuthError::Rejected(
                            "a session cookie is taken only from this node's own pages".into(),
                        ));
                    }
                    if !is_session_token(token) {
                        return Err(AuthError::Rejected("the cookie holds no session".into()));
                    }
                    token
                }
                None => return Err(AuthError::Missing),
            },
        };
        if !wire::credentials_transport_allowed(knock.peer, self.tls) {
            return Err(AuthError::Transport);
        }
        self.holder_of(token).await
    }

    /// Who holds `token` (a session, an API token or an ID token), once the request it came
    /// in was let bring it.
    async fn holder_of(&self, token: &str) -> Result<Principal, AuthError> {
        if token.starts_with(accounts::PERSON_SESSION_PREFIX) {
            let session = self
                .sessions
                .check_person(token, (self.clock)())
                .map_err(|why| AuthError::Rejected(why.into()))?;
            let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
            if self
                .signed_out
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .contains_key(&digest)
            {
                return Err(AuthError::Rejected(
                    "the session was signed out; sign in again".into(),
                ));
            }
            let mut principal = Principal::person_with_subject(session.subject, &session.roles)
                .with_attested(session.attested);
            principal.expires_at = DateTime::from_timestamp_micros(session.ends.0);
            return Ok(principal);
        }
        if token.starts_with(accounts::SESSION_PREFIX) {
            let (name, generation) = self
                .sessions
                .check(token, (self.clock)())
                .map_err(|why| AuthError::Rejected(why.into()))?;
            return match self.accounts.get(&name) {
                Some(account) if account.generation == generation => {
                    Ok(Principal::staff(&account.name, &account.roles))
                }
                _ => Err(AuthError::Rejected(
                    "the account no longer exists, or was added again; sign in again".into(),
                )),
            };
        }
        if token.starts_with(clients::TOKEN_PREFIX) {
            return match self.clients.by_token(token) {
                Some(client) => Ok(Principal::client(&client)),
                None => Err(AuthError::Rejected("unknown API token".into())),
            };
        }
        self.person(token).await
    }

    async fn person(&self, token: &str) -> Result<Principal, AuthError> {
        let Some(oidc) = &self.oidc else {
            return Err(AuthError::Rejected(
                "this node takes no ID tokens (no identity provider is configured)".into(),
            ));
        };
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let now =
            DateTime::from_timestamp_micros((self.clock)().0).unwrap_or(DateTime::<Utc>::MIN_UTC);
        {
            let cache = self.verified.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(p) = cache.get(&digest)
                && p.expires_at.is_some_and(|t| t > now)
            {
                return Ok(p.clone());
            }
        }
        let person = oidc.verify(token).await.map_err(|e| match e {
            OidcError::Rejected(why) => AuthError::Rejected(why),
            OidcError::Unavailable(why) => AuthError::Unavailable(why),
        })?;
        let roles: Vec<Role> = person.roles.iter().filter_map(|r| Role::parse(r)).collect();
        let mut principal = Principal::person(&person.issuer, &person.subject, &roles)
            .with_attested(person.attested);
        principal.expires_at = Some(person.expires_at);
        let mut cache = self.verified.lock().unwrap_or_else(|e| e.into_inner());
        if cache.len() >= VERIFIED_CACHE_MAX {
            cache.retain(|_, p| p.expires_at.is_some_and(|t| t > now));
            if cache.len() >= VERIFIED_CACHE_MAX {
                cache.clear();
            }
        }
        cache.insert(digest, principal.clone());
        Ok(principal)
    }
}

/// Whether a request is a gRPC call from this node's own pages: `application/grpc…` (never a
/// form or a "simple" cross-origin request) and, where the browser says where it comes from,
/// from this very origin.
fn from_own_pages(metadata: &MetadataMap) -> bool {
    let header = |name: &str| metadata.get(name).and_then(|v| v.to_str().ok());
    let grpc = header("content-type").is_some_and(|t| t.starts_with("application/grpc"));
    let same_origin = header("sec-fetch-site").is_none_or(|s| s == "same-origin");
    grpc && same_origin
}

/// The session cookie's name on pages served over https (`secure`) or plain http.
fn session_cookie_name(secure: bool) -> &'static str {
    if secure {
        SESSION_COOKIE_SECURE
    } else {
        SESSION_COOKIE_LOOPBACK
    }
}

/// Whether `token` is a session (a person's or a staff account's): all a cookie may carry.
fn is_session_token(token: &str) -> bool {
    token.starts_with(accounts::PERSON_SESSION_PREFIX)
        || token.starts_with(accounts::SESSION_PREFIX)
}

/// The value of the cookie `name` in `Cookie` header values.
pub(crate) fn cookie_in<'a>(headers: impl Iterator<Item = &'a str>, name: &str) -> Option<&'a str> {
    headers.flat_map(|h| h.split(';')).find_map(|pair| {
        let (n, value) = pair.trim().split_once('=')?;
        (n == name).then_some(value)
    })
}

fn bearer(value: &MetadataValue<Ascii>) -> Result<&str, AuthError> {
    let text = value
        .to_str()
        .map_err(|_| AuthError::Rejected("the authorization value is not text".into()))?;
    let (scheme, token) = text
        .split_once(' ')
        .ok_or_else(|| AuthError::Rejected("the authorization value is `Bearer <token>`".into()))?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(AuthError::Rejected(
            "the authorization value is `Bearer <token>`".into(),
        ));
    }
    Ok(token.trim())
}

/// A command request as the door sees it: the permission it needs, and the field naming its
/// participant, if it has one.
pub trait CommandRequest {
    const PERMISSION: Permission;
    /// The participant subject field's name and value.
    fn subject_field(&mut self) -> Option<(&'static str, &mut String)> {
        None
    }
    /// The participant's attestation fields: their names, the birthdate's value and the
    /// residence's value.
    #[allow(clippy::type_complexity)]
    fn attested_fields(
        &mut self,
    ) -> Option<((&'static str, &'static str), &mut String, &mut String)> {
        None
    }
}

/// The door's table: every command request, the permission it needs, and its subject field.
macro_rules! command_permissions {
    ($($request:ty => $permission:ident
        $(, subject: $field:ident)? $(, attested: ($birthdate:ident, $residence:ident))?;)+) => {
        $(
            impl CommandRequest for $request {
                const PERMISSION: Permission = Permission::$permission;
                $(
                    fn subject_field(&mut self) -> Option<(&'static str, &mut String)> {
                        Some((stringify!($field), &mut self.$field))
                    }
                )?
                $(
                    fn attested_fields(
                        &mut self,
                    ) -> Option<((&'static str, &'static str), &mut String, &mut String)> {
                        Some((
                            (stringify!($birthdate), stringify!($residence)),
                            &mut self.$birthdate,
                            &mut self.$residence,
                        ))
                    }
                )?
            }
        )+
    };
}

command_permissions! {
    pb::FilePetitionRequest => Participate, subject: author_subject;
    pb::SignPetitionRequest => Participate, subject: signer_subject;
    pb::SubmitContributionRequest => Participate, subject: author_subject;
    pb::PublishPetitionRequest => Moderate;
    pb::RejectPetitionRequest => Moderate;
    pb::StartConsiderationRequest => Answer;
    pb::AnswerPetitionRequest => Answer;
    pb::ReportImplementationRequest => Answer;
    pb::AnnounceDialogueRequest => Answer;
    pb::AnswerContributionRequest => Answer;
    pb::CloseDialogueRequest => Answer;
    pb::PublishOutcomeRequest => Answer;
    pb::AdoptPlanRequest => Coordinate;
    pb::AddCommitmentRequest => Coordinate;
    pb::AddMilestoneRequest => Coordinate;
    pb::ReportProgressRequest => Coordinate;
    pb::AssessCommitmentRequest => Coordinate;
    pb::ClosePlanRequest => Coordinate;
    pb::AmendCommitmentRequest => Coordinate;
    pb::WithdrawCommitmentRequest => Coordinate;
    pb::AmendMilestoneRequest => Coordinate;
    pb::WithdrawMilestoneRequest => Coordinate;
    pb::TakeProposalsRequest => Coordinate;
    pb::DraftPlanRequest => Coordinate;
    pb::JoinForumRequest => Coordinate;
    pb::LeaveForumRequest => Coordinate;
    pb::NameCoChairRequest => Coordinate;
    pb::AdoptDraftRequest => Coordinate;
    pb::AnnounceRoundRequest => Coordinate;
    pb::SubmitProjectRequest => Participate, subject: author_subject,
        attested: (author_birthdate, author_residence);
    pb::ReviewProjectRequest => Answer;
    pb::CastBallotRequest => Participate, subject: voter_subject,
        attested: (voter_birthdate, voter_residence);
    pb::DeclareResultsRequest => Coordinate;
    pb::FundProjectRequest => Coordinate;
    pb::ReportProjectProgressRequest => Coordinate;
    pb::CloseRoundRequest => Coordinate;
}

/// A client's side of the door: adds `authorization: Bearer <token>` to every request.
#[derive(Clone)]
pub struct Bearer(MetadataValue<Ascii>);

impl std::fmt::Debug for Bearer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Bearer(..)")
    }
}

impl Bearer {
    pub fn new(token: &str) -> anyhow::Result<Self> {
        let value = format!("Bearer {token}")
            .parse()
            .map_err(|_| anyhow::anyhow!("a token is printable ASCII"))?;
        Ok(Self(value))
    }
}

impl tonic::service::Interceptor for Bearer {
    fn call(&mut self, mut request: tonic::Request<()>) -> Result<tonic::Request<()>, Status> {
        request
            .metadata_mut()
            .insert("authorization", self.0.clone());
        Ok(request)
    }
}

/// A `NodeService` client that presents a credential.
pub type AuthedNodeClient = pb::node_service_client::NodeServiceClient<
    tonic::service::interceptor::InterceptedService<tonic::transport::Channel, Bearer>,
>;

/// A channel to a node at `url` (`http://` or, trusting the PEM CA `ca`, `https://`).
pub async fn channel(url: &str, ca: Option<&str>) -> anyhow::Result<tonic::transport::Channel> {
    let mut endpoint = tonic::transport::Endpoint::from_shared(url.to_owned())?
        .connect_timeout(std::time::Duration::from_secs(10));
    if let Some(ca) = ca {
        endpoint = endpoint.tls_config(
            tonic::transport::ClientTlsConfig::new()
                .ca_certificate(tonic::transport::Certificate::from_pem(ca)),
        )?;
    }
    Ok(endpoint.connect().await?)
}

/// Connects to a node at `url` (as [`channel`]) as the holder of `token`.
pub async fn connect(url: &str, token: &str, ca: Option<&str>) -> anyhow::Result<AuthedNodeClient> {
    Ok(
        pb::node_service_client::NodeServiceClient::with_interceptor(
            channel(url, ca).await?,
            Bearer::new(token)?,
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_persons_subject_is_fixed_by_the_node_and_a_clients_is_namespaced() {
        let alice = Principal::person("https://id.gov.ua", "1234567890", &[]);
        let mut field = String::new();
        alice.bind_subject("signer_subject", &mut field).unwrap();
        assert!(field.starts_with("oidc:") && field.len() == 48, "{field}");
        let mut again = String::new();
        Principal::person("https://id.gov.ua", "1234567890", &[Role::Moderator])
            .bind_subject("signer_subject", &mut again)
            .unwrap();
        assert_eq!(field, again, "one person, one subject, whatever the roles");
        let mut other = String::new();
        Principal::person("https://other.example", "1234567890", &[])
            .bind_subject("signer_subject", &mut other)
            .unwrap();
        assert_ne!(field, other, "the issuer is part of the identity");
        let mut given = "someone-else".to_owned();
        assert_eq!(
            alice.bind_subject("signer_subject", &mut given),
            Err(AuthError::SubjectGiven("signer_subject"))
        );
        let platform = Principal::client(&clients::Client {
            name: "e-petitions".into(),
            permissions: vec![Permission::Participate],
        });
        let mut subject = "oidc:abc".to_owned();
        platform
            .bind_subject("signer_subject", &mut subject)
            .unwrap();
        assert_eq!(subject, "client:e-petitions:oidc:abc");
        let mut empty = String::new();
        platform.bind_subject("signer_subject", &mut empty).unwrap();
        assert_eq!(empty, "", "left for the parser to refuse");
    }

    #[test]
    fn roles_grant_their_permissions_and_every_person_participates() {
        let staff = Principal::person("i", "s", &[Role::Moderator, Role::Coordinator]);
        assert!(staff.may(Permission::Participate));
        assert!(staff.may(Permission::Moderate));
        assert!(staff.may(Permission::Coordinate));
        assert!(!staff.may(Permission::Answer));
        assert_eq!(
            Principal::person("i", "s", &[]).require(Permission::Answer),
            Err(AuthError::Denied(Permission::Answer))
        );
        for p in Permission::ALL {
            assert_eq!(Permission::parse(p.name()), Some(p));
        }
    }
}
