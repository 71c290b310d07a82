//! The `vidkryto.node.v1.AuthService` gRPC service: node-local staff accounts sign in for a
//! session token. Each check is Argon2id (tens of milliseconds of CPU), so at most
//! [`SIGN_INS_AT_ONCE`] run at a time, off the async threads, and one more is refused at once;
//! after [`FAILURES_FREE`] failures an account name, and a peer address, waits before its
//! next try, twice as long after each further failure (up to [`WAIT_MAX`]).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use proto::node::v1 as pb;
use proto::node::v1::auth_service_server::AuthService;
use tokio::sync::Semaphore;
use tonic::{Code, Request, Response, Status};

use crate::auth::Authenticator;
use crate::convert::to_pb_ts;

/// Sign-ins checked at once.
pub const SIGN_INS_AT_ONCE: usize = 2;
/// Failed sign-ins an account name or a peer address may make before it waits.
pub const FAILURES_FREE: u32 = 5;
/// The longest wait: after each further failure the wait doubles from one second up to this.
pub const WAIT_MAX: Duration = Duration::from_secs(15 * 60);
/// Names and addresses remembered (those still waiting are kept when it fills).
const REMEMBERED_MAX: usize = 10_000;

/// Failed sign-ins by account name and by peer address, and until when each must wait.
#[derive(Debug, Default)]
struct Throttle {
    failures: Mutex<HashMap<String, (u32, Instant)>>,
}

impl Throttle {
    fn keys(account: &str, peer: Option<IpAddr>) -> [String; 2] {
        let peer = peer.map_or_else(|| "unknown".to_owned(), |ip| ip.to_string());
        [format!("account:{account}"), format!("peer:{peer}")]
    }

    /// How long the caller must still wait, if at all.
    fn wait(&self, keys: &[String; 2]) -> Option<Duration> {
        let failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        keys.iter()
            .filter_map(|k| failures.get(k))
            .filter_map(|(_, until)| until.checked_duration_since(now))
            .max()
    }

    fn failed(&self, keys: &[String; 2]) {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        if failures.len() >= REMEMBERED_MAX {
            failures.retain(|_, (_, until)| *until > now);
            if failures.len() >= REMEMBERED_MAX {
                failures.clear();
            }
        }
        for key in keys {
            let entry = failures.entry(key.clone()).or_insert((0, now));
            entry.0 = entry.0.saturating_add(1);
            if entry.0 >= FAILURES_FREE {
                let doublings = (entry.0 - FAILURES_FREE).min(20);
                let wait = Duration::from_secs(1u64 << doublings).min(WAIT_MAX);
                entry.1 = now + wait;
            }
        }
    }

    fn succeeded(&self, keys: &[String; 2]) {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        for key in keys {
            failures.remove(key);
        }
    }
}

/// The gRPC face of staff sign-in.
pub struct AuthApi {
    auth: Arc<Authenticator>,
    checks: Arc<Semaphore>,
    throttle: Throttle,
}

impl std::fmt::Debug for AuthApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthApi").finish_non_exhaustive()
    }
}

impl AuthApi {
    pub fn new(auth: Arc<Authenticator>) -> Self {
        Self {
            auth,
            checks: Arc::new(Semaphore::new(SIGN_INS_AT_ONCE)),
            throttle: Throttle::default(),
        }
    }
}

#[tonic::async_trait]
impl AuthService for AuthApi {
    async fn sign_in(
        &self,
        request: Request<pb::SignInRequest>,
    ) -> Result<Response<pb::SignInResponse>, Status> {
        if !self.auth.transport_allows(request.remote_addr()) {
            return Err(Status::permission_denied(
                "passwords are taken only over TLS, or over plain text from this machine",
            ));
        }
        let peer = request.remote_addr().map(|a| a.ip());
        let pb::SignInRequest { account, password } = request.into_inner();
        let keys = Throttle::keys(&account, peer);
        if let Some(wait) = self.throttle.wait(&keys) {
            return Err(Status::new(
                Code::ResourceExhausted,
                format!(
                    "too many failed sign-ins; try again in {} s",
                    wait.as_secs().max(1)
                ),
            ));
        }
        let permit = self.checks.clone().try_acquire_owned().map_err(|_| {
            Status::new(
                Code::ResourceExhausted,
                "too many sign-ins at once; try again",
            )
        })?;
        let auth = self.auth.clone();
        let signed = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            auth.sign_in(&account, &password)
        })
        .await
        .map_err(|_| Status::internal("the sign-in check failed"))?;
        let Some((account, token, ends)) = signed else {
            self.throttle.failed(&keys);
            return Err(Status::unauthenticated("unknown account or wrong password"));
        };
        self.throttle.succeeded(&keys);
        Ok(Response::new(pb::SignInResponse {
            session_token: token,
            expires_at: Some(to_pb_ts(ends)),
            roles: account.roles.iter().map(|r| r.name().to_owned()).collect(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_make_a_name_and_an_address_wait_and_a_success_forgets_them() {
        let throttle = Throttle::default();
        let keys = Throttle::keys("olena", Some("10.0.0.7".parse().unwrap()));
        for _ in 0..FAILURES_FREE - 1 {
            throttle.failed(&keys);
            assert_eq!(throttle.wait(&keys), None);
        }
        throttle.failed(&keys);
        assert!(throttle.wait(&keys).is_some());
        // Another address trying the same name waits too; the name is what is guessed.
        let elsewhere = Throttle::keys("olena", Some("10.0.0.8".parse().unwrap()));
        assert!(throttle.wait(&elsewhere).is_some());
        throttle.succeeded(&keys);
        assert_eq!(throttle.wait(&keys), None);
    }
}
