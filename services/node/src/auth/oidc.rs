//! The node as a relying party of one OpenID provider (ID.gov.ua, which federates Diia and
//! BankID NBU, or `vidkryto dev`'s provider): discovery, the provider's keys, and checks of the
//! ID tokens residents and officials present, all through `openidconnect` (issuer, audience,
//! expiry on the node's clock, the signature under a key of the provider's set, the algorithm
//! on the operator's allow-list; `none` and shared-secret algorithms are never allowed). A
//! token signed with a key the node does not know makes it fetch the provider's keys again, at
//! most once every 30 s, so a key rotation is followed and a flood of made-up key ids costs one
//! fetch.
//!
//! The nonce: an app that signs a resident in checks the nonce it sent against the ID token it
//! got back; the node, which did not send it, takes the token as a bearer credential (any
//! nonce). When the node runs the sign-in itself (its web pages, `auth::web`), the token must
//! carry the nonce of that sign-in ([`OidcVerifier::verify_for`]).

use std::collections::HashMap;
use std::str::FromStr as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use openidconnect::core::{
    CoreGenderClaim, CoreIdTokenVerifier, CoreJsonWebKeySet, CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm, CoreProviderMetadata,
};
use openidconnect::{
    AdditionalClaims, ClaimsVerificationError, ClientId, IdToken, IssuerUrl, Nonce,
    SignatureVerificationError,
};
use serde::{Deserialize, Serialize};
use tokio::sync::{Mutex, RwLock};

use super::attested::Attested;
use super::http;
use crate::executor::Clock;

/// The claim that carries a staff member's roles, unless the operator names another.
pub const ROLES_CLAIM_DEFAULT: &str = "vidkryto_roles";
/// Algorithms allowed unless the operator lists others.
pub const ALGORITHMS_DEFAULT: [&str; 3] = ["RS256", "PS256", "ES256"];
/// Least time between two fetches of the provider's keys.
const REFRESH_INTERVAL_MIN: Duration = Duration::from_secs(30);
/// Longest ID token accepted, in bytes (a provider's tokens are 1–3 KiB).
pub const TOKEN_BYTES_MAX: usize = 16 * 1024;
/// Most roles read from one token.
const ROLES_MAX: usize = 16;

/// The provider, as the operator configures it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OidcSettings {
    /// The issuer URL exactly as the provider names itself.
    pub issuer: String,
    /// The node's client id at the provider: every ID token must name it as its audience.
    pub client_id: String,
    /// JWS algorithms accepted.
    pub algorithms: Vec<CoreJwsSigningAlgorithm>,
    /// The claim holding a staff member's roles.
    pub roles_claim: String,
    /// The claim holding the KATOTTG code of a person's registered residence.
    pub residence_claim: String,
    /// Whether the operator affirms that the provider attests `birthdate` and the residence
    /// claim from a register (as ID.gov.ua does through Diia and BankID), not as a user typed
    /// them. Off: both are ignored, and no budget ballot has an attested age.
    pub attests_birthdate_and_residence: bool,
    /// The node's own sign-in for its web pages (`auth::web`), when configured.
    pub web: Option<WebSignInSettings>,
}

/// What the operator configures for the node's own sign-in for its web pages (`auth::web`).
#[derive(Clone, PartialEq, Eq)]
pub struct WebSignInSettings {
    /// This node's callback as the provider knows it (`https://…/auth/callback`).
    pub redirect_url: String,
    /// The node's client secret at the provider, when it is a confidential client (sent with
    /// HTTP Basic authentication); `None` for a public client (PKCE alone).
    pub client_secret: Option<String>,
}

impl std::fmt::Debug for WebSignInSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebSignInSettings")
            .field("redirect_url", &self.redirect_url)
            .field("client_secret", &self.client_secret.as_ref().map(|_| ".."))
            .finish()
    }
}

impl OidcSettings {
    /// Checks the operator's settings: a URL issuer, a client id, and algorithms that are
    /// asymmetric signatures (never `none`, never `HS*`).
    pub fn new(
        issuer: String,
        client_id: String,
        algorithms: &[String],
        roles_claim: Option<String>,
    ) -> anyhow::Result<Self> {
        IssuerUrl::new(issuer.clone())
            .map_err(|e| anyhow::anyhow!("oidc.issuer: {issuer:?} is not a URL: {e}"))?;
        if client_id.trim().is_empty() {
            anyhow::bail!("oidc.client_id must not be empty");
        }
        let names: Vec<String> = if algorithms.is_empty() {
            ALGORITHMS_DEFAULT.iter().map(|s| (*s).to_owned()).collect()
        } else {
            algorithms.to_vec()
        };
        let mut parsed = Vec::new();
        for name in &names {
            let alg: CoreJwsSigningAlgorithm =
                serde_json::from_value(serde_json::Value::String(name.clone()))
                    .map_err(|_| anyhow::anyhow!("oidc.algorithms: {name:?} is unknown"))?;
            if matches!(
                alg,
                CoreJwsSigningAlgorithm::None
                    | CoreJwsSigningAlgorithm::HmacSha256
                    | CoreJwsSigningAlgorithm::HmacSha384
                    | CoreJwsSigningAlgorithm::HmacSha512
            ) {
                anyhow::bail!(
                    "oidc.algorithms: {name} is not allowed (only signatures with the provider's public keys)"
                );
            }
            parsed.push(alg);
        }
        Ok(Self {
            issuer,
            client_id,
            algorithms: parsed,
            roles_claim: roles_claim.unwrap_or_else(|| ROLES_CLAIM_DEFAULT.to_owned()),
            residence_claim: super::attested::RESIDENCE_CLAIM_DEFAULT.to_owned(),
            attests_birthdate_and_residence: false,
            web: None,
        })
    }
}

/// Every claim of the token besides the standard ones, where the roles claim is looked up.
#[derive(Clone, Debug, Deserialize, Serialize)]
struct OtherClaims(HashMap<String, serde_json::Value>);
impl AdditionalClaims for OtherClaims {}

type NodeIdToken = IdToken<
    OtherClaims,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;

/// A verified ID token: who, at which provider, until when, with which role names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedPerson {
    pub issuer: String,
    pub subject: String,
    pub expires_at: DateTime<Utc>,
    /// The role names in the roles claim, as given (unknown ones are the caller's to ignore).
    pub roles: Vec<String>,
    /// The date of birth and residence the token attests, where it does.
    pub attested: Attested,
}

/// Why an ID token was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum OidcError {
    /// The token is not one the node accepts; the text says why (no secret in it).
    #[error("{0}")]
    Rejected(String),
    /// The node could not learn the provider's keys.
    #[error("the identity provider cannot be reached: {0}")]
    Unavailable(String),
}

/// The provider's keys, and when they were last fetched.
struct Keys {
    /// The verifier over the provider's keys, built once per fetch.
    verifier: CoreIdTokenVerifier<'static>,
    /// Where the node sends a browser to sign in, and exchanges the code it comes back with.
    endpoints: Endpoints,
    fetched: Instant,
}

/// The provider's endpoints for the authorization code flow, from its discovery document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoints {
    pub authorization: String,
    /// `None` when the provider publishes none (the node's own sign-in is then unavailable).
    pub token: Option<String>,
}

/// Verifies ID tokens of one provider.
pub struct OidcVerifier {
    settings: OidcSettings,
    issuer: IssuerUrl,
    clock: Clock,
    keys: RwLock<Option<Arc<Keys>>>,
    /// Held while fetching, so concurrent callers share one fetch; holds when the last fetch
    /// that failed was tried, so a provider that is down is asked at most every 30 s.
    fetching: Mutex<Option<(Instant, OidcError)>>,
}

impl std::fmt::Debug for OidcVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcVerifier")
            .field("issuer", &self.settings.issuer)
            .field("client_id", &self.settings.client_id)
            .finish_non_exhaustive()
    }
}

impl OidcVerifier {
    /// A verifier that fetches the provider's keys when first needed.
    pub fn new(settings: OidcSettings, clock: Clock) -> anyhow::Result<Self> {
        let issuer = IssuerUrl::new(settings.issuer.clone())?;
        Ok(Self {
            settings,
            issuer,
            clock,
            keys: RwLock::new(None),
            fetching: Mutex::new(None),
        })
    }

    pub fn settings(&self) -> &OidcSettings {
        &self.settings
    }

    /// Fetches the discovery document (its issuer must be the configured one) and the keys,
    /// unless another caller did within [`REFRESH_INTERVAL_MIN`].
    pub async fn refresh(&self) -> Result<(), OidcError> {
        let mut failed = self.fetching.lock().await;
        if let Some(keys) = self.keys.read().await.as_ref()
            && keys.fetched.elapsed() < REFRESH_INTERVAL_MIN
        {
            return Ok(());
        }
        if let Some((at, error)) = failed.as_ref()
            && at.elapsed() < REFRESH_INTERVAL_MIN
        {
            return Err(error.clone());
        }
        let metadata =
            match CoreProviderMetadata::discover_async(self.issuer.clone(), &http::fetch).await {
                Ok(metadata) => metadata,
                Err(e) => {
                    let error = OidcError::Unavailable(wire::error_chain(&e));
                    *failed = Some((Instant::now(), error.clone()));
                    return Err(error);
                }
            };
        *failed = None;
        let keys = Keys {
            verifier: self.verifier(metadata.jwks().clone()),
            endpoints: Endpoints {
                authorization: metadata.authorization_endpoint().as_str().to_owned(),
                token: metadata.token_endpoint().map(|t| t.as_str().to_owned()),
            },
            fetched: Instant::now(),
        };
        *self.keys.write().await = Some(Arc::new(keys));
        Ok(())
    }

    /// The provider's authorization and token endpoints (fetching its discovery document if
    /// the node has not yet).
    pub async fn endpoints(&self) -> Result<Endpoints, OidcError> {
        if self.keys.read().await.is_none() {
            self.refresh().await?;
        }
        Ok(self.current_keys().await?.endpoints.clone())
    }

    /// Checks `token` presented as a bearer credential: its signature under the provider's
    /// keys with an allowed algorithm, its issuer, its audience (this node's client id, and no
    /// other), and its expiry on the node's clock; any nonce (the app that asked for the token
    /// checked it).
    pub async fn verify(&self, token: &str) -> Result<VerifiedPerson, OidcError> {
        self.verify_for(token, None).await
    }

    /// [`verify`](Self::verify), and, for a token the node's own sign-in asked for, that it
    /// carries that sign-in's `nonce`.
    pub async fn verify_for(
        &self,
        token: &str,
        nonce: Option<&str>,
    ) -> Result<VerifiedPerson, OidcError> {
        if token.len() > TOKEN_BYTES_MAX {
            return Err(OidcError::Rejected("the ID token is too long".into()));
        }
        let parsed = NodeIdToken::from_str(token).map_err(|_| {
            OidcError::Rejected("the credential is not a well-formed ID token".into())
        })?;
        // Read in a statement of its own: a guard kept for the match would deadlock the
        // refresh's write.
        let current = self.keys.read().await.clone();
        let keys = match current {
            Some(keys) => keys,
            None => {
                self.refresh().await?;
                self.current_keys().await?
            }
        };
        match self.check(&parsed, &keys.verifier, nonce) {
            Err(ClaimsVerificationError::SignatureVerification(
                SignatureVerificationError::NoMatchingKey,
            )) if keys.fetched.elapsed() >= REFRESH_INTERVAL_MIN => {
                // Perhaps the provider rotated its keys.
                self.refresh().await?;
                let keys = self.current_keys().await?;
                self.check(&parsed, &keys.verifier, nonce).map_err(rejected)
            }
            other => other.map_err(rejected),
        }
    }

    async fn current_keys(&self) -> Result<Arc<Keys>, OidcError> {
        self.keys
            .read()
            .await
            .clone()
            .ok_or_else(|| OidcError::Unavailable("no keys fetched".into()))
    }

    /// The checks of every token, over the provider's keys `jwks`: this node's client id as
    /// the audience, the issuer, the allowed algorithms, expiry on the node's clock.
    fn verifier(&self, jwks: CoreJsonWebKeySet) -> CoreIdTokenVerifier<'static> {
        let clock = self.clock.clone();
        CoreIdTokenVerifier::new_public_client(
            ClientId::new(self.settings.client_id.clone()),
            self.issuer.clone(),
            jwks,
        )
        .set_allowed_algs(self.settings.algorithms.iter().cloned())
        .set_time_fn(move || {
            DateTime::from_timestamp_micros(clock().0).unwrap_or(DateTime::<Utc>::MIN_UTC)
        })
    }

    fn check(
        &self,
        token: &NodeIdToken,
        verifier: &CoreIdTokenVerifier<'static>,
        expected_nonce: Option<&str>,
    ) -> Result<VerifiedPerson, ClaimsVerificationError> {
        let claims = token.claims(verifier, |found: Option<&Nonce>| match expected_nonce {
            None => Ok(()),
            Some(expected) => {
                // Constant time: the nonce is a secret of the sign-in until it completes.
                let matches = found.is_some_and(|n| {
                    wire::constant_time_eq(n.secret().as_bytes(), expected.as_bytes())
                });
                if matches {
                    Ok(())
                } else {
                    Err("the ID token's nonce is not this sign-in's".to_owned())
                }
            }
        })?;
        let roles = match claims.additional_claims().0.get(&self.settings.roles_claim) {
            Some(serde_json::Value::Array(values)) => values
                .iter()
                .filter_map(|v| v.as_str())
                .take(ROLES_MAX)
                .map(str::to_owned)
                .collect(),
            Some(serde_json::Value::String(one)) => vec![one.clone()],
            _ => Vec::new(),
        };
        let trusted = self.settings.attests_birthdate_and_residence;
        let residence = match claims
            .additional_claims()
            .0
            .get(&self.settings.residence_claim)
        {
            Some(serde_json::Value::String(code)) if trusted => Some(code.as_str()),
            _ => None,
        };
        let birthdate = claims.birthdate().filter(|_| trusted).map(|b| b.as_str());
        Ok(VerifiedPerson {
            issuer: claims.issuer().as_str().to_owned(),
            subject: claims.subject().as_str().to_owned(),
            expires_at: claims.expiration(),
            roles,
            attested: Attested::from_claims(birthdate, residence),
        })
    }
}

fn rejected(e: ClaimsVerificationError) -> OidcError {
    let reason = match &e {
        ClaimsVerificationError::Expired(_) => "the ID token has expired".to_owned(),
        ClaimsVerificationError::InvalidAudience(_) => {
            "the ID token was not issued to this node (audience)".to_owned()
        }
        ClaimsVerificationError::InvalidIssuer(_) => {
            "the ID token was not issued by this node's identity provider".to_owned()
        }
        ClaimsVerificationError::SignatureVerification(s) => {
            format!("the ID token's signature does not verify: {s}")
        }
        ClaimsVerificationError::InvalidNonce(why) => why.clone(),
        other => format!("the ID token is not accepted: {other}"),
    };
    OidcError::Rejected(reason)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_refuse_none_and_shared_secret_algorithms_and_bad_issuers() {
        let ok = OidcSettings::new("https://id.gov.ua".into(), "node".into(), &[], None).unwrap();
        assert_eq!(ok.algorithms.len(), 3);
        assert_eq!(ok.roles_claim, ROLES_CLAIM_DEFAULT);
        for alg in ["none", "HS256", "HS512", "XX999"] {
            let err = OidcSettings::new(
                "https://id.gov.ua".into(),
                "node".into(),
                &[alg.to_owned()],
                None,
            )
            .unwrap_err();
            assert!(err.to_string().contains(alg), "{err}");
        }
        assert!(OidcSettings::new("not a url".into(), "node".into(), &[], None).is_err());
        assert!(OidcSettings::new("https://id.gov.ua".into(), " ".into(), &[], None).is_err());
    }
}
