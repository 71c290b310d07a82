//! The door's cost: the same `sign_petition` load through gRPC as residents send it (TLS with
//! the node's certificate, each command under the ID token of a different resident, signed in
//! beforehand through the development OpenID provider), next to the plain-text load of a
//! machine client holding an API token. Every resident's first command verifies an RS256
//! signature (nothing is cached yet): the worst case of the door.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, ensure};
use oidc_process::{DevProvider, ProviderConfig, RegisteredClient};
use proto::node::v1 as pb;
use proto::node::v1::node_service_client::NodeServiceClient;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint};
use uuid::Uuid;

use crate::commands::{CALLERS, Latency, PETITIONS, StartedNode, file_and_publish, sign_load};

/// The node's client id at the provider.
const NODE_CLIENT: &str = "bench-node";
/// ID tokens live an hour: a full bench run stays well within it.
const TOKEN_TTL_SECONDS: u32 = 3_600;
/// Longest one command may take.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);

/// The provider and the ID tokens of `residents` residents.
pub struct Residents {
    provider: DevProvider,
    tokens: Vec<String>,
}

impl std::fmt::Debug for Residents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Residents")
            .field("tokens", &self.tokens.len())
            .finish_non_exhaustive()
    }
}

impl Residents {
    /// Starts the provider and signs `count` residents in through its sign-in page.
    pub async fn sign_in(count: usize) -> anyhow::Result<Self> {
        let provider = DevProvider::start(&ProviderConfig {
            clients: vec![RegisteredClient::public(NODE_CLIENT)],
            id_token_ttl_seconds: TOKEN_TTL_SECONDS,
            ..ProviderConfig::default()
        })
        .await
        .context("failed to start the OpenID provider (deploy/local/setup.sh installs it)")?;
        let tokens = provider
            .sign_in_many(NODE_CLIENT, "bench-resident", Some(count))
            .await?
            .into_iter()
            .map(|s| s.id_token)
            .collect();
        Ok(Self { provider, tokens })
    }

    pub async fn stop(self) {
        self.provider.stop().await;
    }

    /// A node for `commands` of these residents' signatures, with the petitions they sign
    /// (filed and published by its machine client over TLS).
    async fn prepared(
        &self,
        commands: usize,
        relaying: bool,
    ) -> anyhow::Result<(StartedNode, Vec<String>)> {
        ensure!(commands <= self.tokens.len(), "too few residents signed in");
        let node = self.node(relaying).await?;
        let petitions = file_and_publish(&mut NodeServiceClient::with_interceptor(
            tls_channel(&node).await?,
            node::auth::Bearer::new(&node.token)?,
        ))
        .await?;
        Ok((node, petitions))
    }

    /// A node that takes these residents' tokens, serving TLS with its own certificate.
    async fn node(&self, relaying: bool) -> anyhow::Result<StartedNode> {
        let tables = format!(
            "[oidc]\nissuer = \"{}\"\nclient_id = \"{NODE_CLIENT}\"\n\n[tls]\nself_signed = true\n",
            self.provider.issuer()
        );
        StartedNode::start_configured(relaying, &tables).await
    }
}

/// A TLS channel to `node`, trusting its self-signed certificate.
async fn tls_channel(node: &StartedNode) -> anyhow::Result<Channel> {
    let ca = std::fs::read_to_string(node.dir().join(node::tls::SELF_SIGNED_CERT))?;
    let url = format!("https://localhost:{}", node.port());
    Ok(Endpoint::from_shared(url)?
        .tls_config(ClientTlsConfig::new().ca_certificate(Certificate::from_pem(ca)))?
        .connect_timeout(Duration::from_secs(5))
        .timeout(COMMAND_TIMEOUT)
        .connect()
        .await?)
}

/// Resident `i`'s signature on one of `petitions`, under their own ID token.
fn signed_by(
    token: &str,
    petitions: &[String],
    i: usize,
) -> anyhow::Result<tonic::Request<pb::SignPetitionRequest>> {
    let mut request = tonic::Request::new(pb::SignPetitionRequest {
        request_id: Uuid::now_v7().to_string(),
        petition_id: petitions[i % petitions.len()].clone(),
        signer_subject: String::new(),
    });
    request
        .metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse()?);
    Ok(request)
}

/// `commands` signatures from [`CALLERS`] TLS clients, each resident signing `per_resident`
/// petitions in a row under one ID token (1: every command a new resident, whose token the
/// node checks in full; [`PETITIONS`]: a session signing every petition, checked once and
/// then found in the node's cache); commands/s.
pub async fn secure_grpc_run(
    residents: &Residents,
    commands: usize,
    per_resident: usize,
    relaying: bool,
) -> anyhow::Result<f64> {
    ensure!(
        (1..=PETITIONS).contains(&per_resident),
        "a resident signs 1 to {PETITIONS} petitions"
    );
    let (node, petitions) = residents
        .prepared(commands.div_ceil(per_resident), relaying)
        .await?;
    let mut clients = Vec::with_capacity(CALLERS);
    for _ in 0..CALLERS {
        clients.push(NodeServiceClient::new(tls_channel(&node).await?));
    }
    let before = node.log_size();
    let tokens: Arc<[String]> = residents.tokens[..commands.div_ceil(per_resident)].into();
    let petitions: Arc<[String]> = petitions.into();
    let rate = sign_load(clients, commands, move |i| {
        signed_by(&tokens[i / per_resident], &petitions, i)
    })
    .await?;
    let grew = node.log_size() - before;
    node.stop().await?;
    ensure!(
        grew == commands as u64,
        "log grew by {grew}, not {commands}"
    );
    Ok(rate)
}

/// One TLS client, `commands` sequential signatures, each by another resident (after a
/// warm-up of the connection by the machine client's reads).
pub async fn secure_latency_run(
    residents: &Residents,
    commands: usize,
    relaying: bool,
) -> anyhow::Result<Latency> {
    let (node, petitions) = residents.prepared(commands, relaying).await?;
    let mut client = NodeServiceClient::new(tls_channel(&node).await?);
    for petition in &petitions {
        client
            .get_petition(pb::GetPetitionRequest {
                petition_id: petition.clone(),
            })
            .await?;
    }
    let mut samples = Vec::with_capacity(commands);
    for i in 0..commands {
        let request = signed_by(&residents.tokens[i], &petitions, i)?;
        let started = Instant::now();
        client
            .sign_petition(request)
            .await
            .context("a resident's command failed")?;
        samples.push(started.elapsed());
    }
    node.stop().await?;
    Ok(Latency::of(samples))
}
