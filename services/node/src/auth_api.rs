//! The `vidkryto.node.v1.AuthService` gRPC service: node-local staff accounts sign in for a
//! session token. Each check is Argon2id (tens of milliseconds of CPU), so at most
//! [`SIGN_INS_AT_ONCE`] run at a time, off the async threads, and one more is refused at once.

use std::sync::Arc;

use proto::node::v1 as pb;
use proto::node::v1::auth_service_server::AuthService;
use tokio::sync::Semaphore;
use tonic::{Code, Request, Response, Status};

use crate::auth::Authenticator;
use crate::convert::to_pb_ts;

/// Sign-ins checked at once.
pub const SIGN_INS_AT_ONCE: usize = 2;

/// The gRPC face of staff sign-in.
pub struct AuthApi {
    auth: Arc<Authenticator>,
    checks: Arc<Semaphore>,
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
        let permit = self.checks.clone().try_acquire_owned().map_err(|_| {
            Status::new(
                Code::ResourceExhausted,
                "too many sign-ins at once; try again",
            )
        })?;
        let pb::SignInRequest { account, password } = request.into_inner();
        let auth = self.auth.clone();
        let signed = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            auth.sign_in(&account, &password)
        })
        .await
        .map_err(|_| Status::internal("the sign-in check failed"))?;
        let (account, token, ends) =
            signed.ok_or_else(|| Status::unauthenticated("unknown account or wrong password"))?;
        Ok(Response::new(pb::SignInResponse {
            session_token: token,
            expires_at: Some(to_pb_ts(ends)),
            roles: account.roles.iter().map(|r| r.name().to_owned()).collect(),
        }))
    }
}
