//! Where the enrolled nodes' streams live and how the ingest stream sources them: the
//! association's own JetStream (development, tests) or each hromada's leaf domain, read
//! through `$JS.<domain>.API` and filtered to that hromada's subjects.

use std::collections::BTreeMap;
use std::time::Duration;

use async_nats::jetstream::Context;
use async_nats::jetstream::stream::{self, External, Source, StorageType};
use event_store_core::MunicipalityCode;

use crate::error::AssociationError;

/// The stream every enrolled node's stream is sourced into.
pub const INGEST_STREAM: &str = "VIDKRYTO_FEDERATION";

/// Where the enrolled nodes' streams live, seen from the association's NATS, and how the
/// ingest stream is replicated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topology {
    /// The JetStream domain holding each node's stream, `{code}` standing for its KATOTTG code
    /// (`muni_{code}` when every hromada runs a NATS leaf node with a domain of its own, see
    /// `deploy/nats`). `None`: the nodes publish into the association's own JetStream (one
    /// server, as in development and tests), where the association also creates their streams.
    pub source_domain_template: Option<String>,
    /// Replicas of the ingest stream when the association creates it (3 on the hub cluster).
    pub ingest_replicas: usize,
}

impl Default for Topology {
    fn default() -> Self {
        Self {
            source_domain_template: None,
            ingest_replicas: 1,
        }
    }
}

impl Topology {
    /// Replicas JetStream allows for a stream.
    pub const REPLICAS_MAX: usize = 5;

    /// Checks the template (it names `{code}` and yields a legal domain name) and the replicas.
    pub fn validate(&self) -> Result<(), AssociationError> {
        if !(1..=Self::REPLICAS_MAX).contains(&self.ingest_replicas) {
            return Err(AssociationError::invalid(
                "ingest_replicas",
                format!("must be 1 to {}", Self::REPLICAS_MAX),
            ));
        }
        if let Some(template) = &self.source_domain_template {
            if !template.contains("{code}") {
                return Err(AssociationError::invalid(
                    "source_domain_template",
                    "must contain {code}",
                ));
            }
            // What JetStream accepts as a domain: no dots, spaces or wildcards.
            let sample = template.replace("{code}", "UA05020030000031457");
            if !sample
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            {
                return Err(AssociationError::invalid(
                    "source_domain_template",
                    "may hold only ASCII letters, digits, '_' and '-' besides {code}",
                ));
            }
        }
        Ok(())
    }

    /// The JetStream domain of `code`'s stream, if it is not the association's own.
    pub fn domain_of(&self, code: &MunicipalityCode) -> Option<String> {
        self.source_domain_template
            .as_ref()
            .map(|t| t.replace("{code}", code.as_str()))
    }
}

/// Connects to NATS with the association's settings. A user and password in the URL
/// (`nats://association:secret@hub-1:4222`, as the hub's FEDERATION account requires) are
/// sent as credentials: the client library does not take them from the URL by itself.
pub async fn connect(url: &str) -> Result<async_nats::Client, AssociationError> {
    let options = async_nats::ConnectOptions::new()
        .name("vidkryto-association")
        .retry_on_initial_connect()
        .max_reconnects(None)
        .connection_timeout(Duration::from_secs(5));
    wire::with_url_credentials(options, url)
        .connect(url)
        .await
        .map_err(AssociationError::nats)
}

/// Makes sure `code`'s own stream exists (with the relay's settings) and that the ingest
/// stream sources it, all in the association's own JetStream.
pub async fn ensure_sourced(
    js: &Context,
    codes: &[MunicipalityCode],
    max_age: Duration,
) -> Result<(), AssociationError> {
    ensure_sourced_in(js, codes, max_age, &Topology::default()).await
}

/// How the ingest stream sources one node's stream: from another domain's API or (`api`
/// `None`) the association's own JetStream, always keeping only that hromada's subjects.
#[derive(Debug, Clone, PartialEq, Eq)]
struct SourceSpec {
    api: Option<String>,
    filter: Option<String>,
}

/// Makes sure the ingest stream sources every node's stream where `topology` says it lives.
/// Streams in the association's own JetStream are created if missing (with the relay's
/// settings); a stream in another domain is the node's to create, and the source waits for it.
pub async fn ensure_sourced_in(
    js: &Context,
    codes: &[MunicipalityCode],
    max_age: Duration,
    topology: &Topology,
) -> Result<(), AssociationError> {
    let window = wire::DUPLICATE_WINDOW_DEFAULT;
    let mut wanted = BTreeMap::new();
    for code in codes {
        let source = match topology.domain_of(code) {
            // The server takes a domain as an external API prefix. The filter (here and below)
            // keeps a node's stream to its own hromada's subjects, whatever its operator puts
            // in it.
            Some(domain) => SourceSpec {
                api: Some(format!("$JS.{domain}.API")),
                filter: Some(wire::subjects_filter(code)),
            },
            None => {
                js.get_or_create_stream(wire::stream_config(code, window))
                    .await
                    .map_err(AssociationError::nats)?;
                SourceSpec {
                    api: None,
                    filter: Some(wire::subjects_filter(code)),
                }
            }
        };
        wanted.insert(wire::stream_name(code), source);
    }
    let mut existing = js.get_stream(INGEST_STREAM).await.ok();
    let mut config = match existing.as_mut() {
        Some(stream) => stream
            .info()
            .await
            .map_err(AssociationError::nats)?
            .config
            .clone(),
        None => stream::Config {
            name: INGEST_STREAM.into(),
            storage: StorageType::File,
            max_age,
            num_replicas: topology.ingest_replicas,
            // A transport buffer: each node's own stream is the durable copy (deletes and
            // purges refused there), and any message missing here is back-filled from it.
            allow_direct: true,
            max_message_size: wire::MESSAGE_SIZE_MAX,
            ..Default::default()
        },
    };
    let size_changed = config.max_message_size != wire::MESSAGE_SIZE_MAX;
    config.max_message_size = wire::MESSAGE_SIZE_MAX;
    let have: BTreeMap<String, SourceSpec> = config
        .sources
        .iter()
        .flatten()
        .map(|s| {
            let spec = SourceSpec {
                api: s.external.as_ref().map(|e| e.api_prefix.clone()),
                filter: s.filter_subject.clone(),
            };
            (s.name.clone(), spec)
        })
        .collect();
    if existing.is_some()
        && !size_changed
        && wanted
            .iter()
            .all(|(name, spec)| have.get(name) == Some(spec))
    {
        return Ok(());
    }
    let mut all = have;
    all.extend(wanted);
    config.sources = Some(
        all.into_iter()
            .map(|(name, spec)| Source {
                name,
                external: spec.api.map(|api_prefix| External {
                    api_prefix,
                    delivery_prefix: None,
                }),
                filter_subject: spec.filter,
                ..Default::default()
            })
            .collect(),
    );
    if existing.is_some() {
        js.update_stream(config)
            .await
            .map_err(AssociationError::nats)?;
    } else {
        js.create_stream(config)
            .await
            .map_err(AssociationError::nats)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_domain_template_names_each_hromadas_leaf_domain() {
        let code = MunicipalityCode::parse("UA05020030000031457").unwrap();
        let own = Topology::default();
        assert_eq!(own.domain_of(&code), None);
        own.validate().unwrap();

        let leaves = Topology {
            source_domain_template: Some("muni_{code}".into()),
            ingest_replicas: 3,
        };
        leaves.validate().unwrap();
        assert_eq!(
            leaves.domain_of(&code).as_deref(),
            Some("muni_UA05020030000031457")
        );

        for bad in ["muni", "muni.{code}", "muni {code}", "muni_{code}.>"] {
            let topology = Topology {
                source_domain_template: Some(bad.into()),
                ..Topology::default()
            };
            assert!(topology.validate().is_err(), "{bad}");
        }
        for replicas in [0, 6] {
            let topology = Topology {
                ingest_replicas: replicas,
                ..Topology::default()
            };
            assert!(topology.validate().is_err(), "{replicas}");
        }
    }
}
