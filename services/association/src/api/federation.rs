//! `vidkryto.federation.v1.FederationService`: nodes, lag, quarantine, forks, and enrolment
//! (admin methods behind the association's bearer token).

use std::sync::Arc;

use prost::Message as _;
use proto::federation::v1 as pb;
use proto::federation::v1::federation_service_server::FederationService;
use sha2::{Digest as _, Sha256};
use tokio::sync::watch;
use tonic::transport::server::{TcpConnectInfo, TlsConnectInfo};
use tonic::{Request, Response, Status};

use super::{code, decode_token, encode_token, invalid, next_page_token, page_size};
use crate::assessments::{self, MonitorEnrolment, Recorded};
use crate::batch::IngestProgress;
use crate::catalogue::{self, Recommended};
use crate::decisions::Signer;
use crate::enrolment::Enrolment;
use crate::read::{NodeInfo, ReadModel, queries};
use crate::store::Store;
use projection::catalogue::{EntryKey, Tool};

type Reply<T> = Result<Response<T>, Status>;

/// Characters of a recommendation's reason at most.
pub const RECOMMENDATION_REASON_MAX: usize = 2_000;

/// A catalogue entry's key from a request's fields.
fn practice_key(code_text: &str, tool: &str, id: &str) -> Result<EntryKey, Status> {
    Ok(EntryKey {
        municipality: code("code", code_text)?,
        tool: Tool::parse(tool.trim())
            .ok_or_else(|| invalid("tool", "one of petition, dialogue, commitment"))?,
        id: uuid::Uuid::parse_str(id.trim()).map_err(|e| invalid("id", e.to_string()))?,
    })
}

/// Encoded bytes of one ListQuarantine page at most. Records carry at most 4 KiB of their
/// message and 1,024 characters of detail, so a page of 500 could still be several MiB; half
/// a MiB holds a hundred records at their largest (and all 500 of typical ones, a checkpoint
/// note or an envelope of a few hundred bytes), stays well under a client's default 4 MiB
/// message limit, and the 512 requests the server admits at once hold 256 MiB at worst.
pub const QUARANTINE_PAGE_BYTES_MAX: usize = 512 * 1024;
/// Room kept in a page for its `next_page_token` (base64 of an id and the query's code).
const PAGE_TOKEN_ROOM: usize = 128;

/// The federation service.
#[derive(Debug, Clone)]
pub struct FederationApi {
    read: ReadModel,
    /// Whether the ingest is current, which a node must be to be healthy.
    progress: watch::Receiver<IngestProgress>,
    store: Store,
    /// The admin calls' side; `None` on an instance that serves reads only.
    admin: Option<Admin>,
}

/// What the admin calls (enrolment, recommendations) need: they write the association's own
/// decisions.
#[derive(Debug, Clone)]
pub struct Admin {
    /// The ingest's pool, for the association's own decisions (recommendations).
    writer: Store,
    /// Signs the association log's entries.
    signer: Signer,
    enrolment: Enrolment,
    /// SHA-256 of the admin token; `None` refuses every admin call.
    token_hash: Option<Arc<[u8; 32]>>,
    /// Assessment submissions being decided at once (anyone may submit one).
    submissions: Arc<tokio::sync::Semaphore>,
}

/// Assessment submissions decided at once: each holds a database connection while it reads,
/// and a recorded one the association log's lock; more wait for none and are told to retry.
pub const SUBMISSIONS_AT_ONCE: usize = 4;

impl Admin {
    pub fn new(
        writer: Store,
        signer: Signer,
        enrolment: Enrolment,
        admin_token: Option<String>,
    ) -> Self {
        Self {
            writer,
            signer,
            enrolment,
            token_hash: admin_token.map(|t| Arc::new(Sha256::digest(t.as_bytes()).into())),
            submissions: Arc::new(tokio::sync::Semaphore::new(SUBMISSIONS_AT_ONCE)),
        }
    }
}

impl FederationApi {
    /// The writing side, which every call that records a decision needs; a reads-only
    /// instance refuses them.
    fn writer(&self) -> Result<&Admin, Status> {
        self.admin.as_ref().ok_or_else(|| {
            Status::failed_precondition(
                "this instance serves reads only (`association serve`): send calls that record \
                 to an instance of `association run`",
            )
        })
    }

    pub fn new(
        read: ReadModel,
        progress: watch::Receiver<IngestProgress>,
        store: Store,
        admin: Option<Admin>,
    ) -> Self {
        Self {
            read,
            progress,
            store,
            admin,
        }
    }

    /// Checks the transport (TLS, or plain text from loopback: [`wire::credentials_transport_allowed`])
    /// and then the bearer token (compared as hashes, so timing says nothing about it).
    fn authorize<T>(&self, request: &Request<T>) -> Result<&Admin, Status> {
        let admin = self.writer()?;
        let peer = request.remote_addr();
        let tls = request
            .extensions()
            .get::<TlsConnectInfo<TcpConnectInfo>>()
            .is_some();
        if !wire::credentials_transport_allowed(peer, tls) {
            let from = peer.map_or_else(|| "an unknown peer".to_owned(), |p| p.ip().to_string());
            return Err(Status::permission_denied(format!(
                "admin calls require TLS: this one came over plain text from {from}, which is \
                 not loopback, so the admin token crossed the network unencrypted (serve TLS \
                 with `association run --tls-cert FILE --tls-key FILE`, or call from the \
                 association's own host)"
            )));
        }
        let Some(expected) = &admin.token_hash else {
            return Err(Status::permission_denied(
                "this association has no admin token configured",
            ));
        };
        let given = request
            .metadata()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or_else(|| {
                Status::unauthenticated("an admin call needs `authorization: Bearer <token>`")
            })?;
        let given: [u8; 32] = Sha256::digest(given.trim().as_bytes()).into();
        if given != **expected {
            return Err(Status::unauthenticated("wrong admin token"));
        }
        Ok(admin)
    }

    async fn node(&self, code: event_store_core::MunicipalityCode) -> Result<pb::Node, Status> {
        let snapshot = self.read.snapshot();
        let keys = self.store.keys(Some(&code)).await?;
        let info = snapshot.nodes.get(&code).cloned().unwrap_or_default();
        Ok(self.node_view(code, &info, keys))
    }

    fn node_view(
        &self,
        code: event_store_core::MunicipalityCode,
        info: &NodeInfo,
        keys: Vec<crate::store::KeyRecord>,
    ) -> pb::Node {
        let reference = self.read.reference.municipality(&code);
        pb::Node {
            code: code.to_string(),
            name_uk: reference.map(|m| m.name_uk.clone()).unwrap_or_default(),
            name_en: reference.map(|m| m.name_en.clone()).unwrap_or_default(),
            status: status(info, self.progress.borrow().current()) as i32,
            keys: keys
                .into_iter()
                .map(|k| pb::EnrolledKey {
                    vkey: k.vkey,
                    enrolled_at_micros: k.enrolled_at_micros,
                    revoked_at_micros: k.revoked_at_micros.unwrap_or(0),
                })
                .collect(),
            verified_size: info.verified_size,
            received_seq: info.received_seq,
            lag_events: info.received_seq.saturating_sub(info.verified_size),
            checkpoint_size: info.checkpoint_size,
            checkpoint_root: info.checkpoint_root.clone(),
            cosigned_note: info.cosigned_note.clone(),
            verified_at_micros: info.verified_at_micros,
            quarantined: info.quarantined,
            forks: info.forks,
        }
    }
}

/// A node's status, worst first. With the ingest not `current` (disconnected, or not reading
/// its stream as fast as it fills), what would be healthy is lagging: the node's stream may
/// hold what was not verified yet.
pub fn status(info: &NodeInfo, current: bool) -> pb::NodeStatus {
    if info.revoked {
        pb::NodeStatus::Revoked
    } else if info.forks > 0 {
        pb::NodeStatus::Forked
    } else if info.quarantined_recently > 0 {
        pb::NodeStatus::Quarantine
    } else if info.received_seq > info.verified_size || (!current && info.verified_size > 0) {
        pb::NodeStatus::Lagging
    } else if info.verified_size == 0 {
        pb::NodeStatus::Waiting
    } else {
        pb::NodeStatus::Healthy
    }
}

#[tonic::async_trait]
impl FederationService for FederationApi {
    async fn list_nodes(
        &self,
        request: Request<pb::ListNodesRequest>,
    ) -> Reply<pb::ListNodesResponse> {
        let r = request.into_inner();
        let size = page_size(r.page_size, 100, 2_000)?;
        let wanted =
            pb::NodeStatus::try_from(r.status).map_err(|_| invalid("status", "unknown status"))?;
        let fingerprint = format!("status={}", r.status);
        let offset = decode_token(&r.page_token, &fingerprint)?;
        let current = self.progress.borrow().current();
        let snapshot = self.read.snapshot();
        let keys = self.store.keys(None).await?;
        let matching: Vec<_> = snapshot
            .nodes
            .iter()
            .filter(|(_, info)| {
                wanted == pb::NodeStatus::Unspecified || status(info, current) == wanted
            })
            .collect();
        // The offset comes from a token anyone can write: no arithmetic on it may overflow.
        let start = offset.min(matching.len());
        let end = start.saturating_add(size).min(matching.len());
        let nodes = matching[start..end]
            .iter()
            .map(|(code, info)| {
                let own = keys
                    .iter()
                    .filter(|k| k.code == code.as_str())
                    .cloned()
                    .collect();
                self.node_view(**code, info, own)
            })
            .collect();
        let next_page_token = next_page_token(end, matching.len(), &fingerprint);
        Ok(Response::new(pb::ListNodesResponse {
            nodes,
            next_page_token,
        }))
    }

    async fn get_node(&self, request: Request<pb::GetNodeRequest>) -> Reply<pb::Node> {
        let code = code("code", &request.into_inner().code)?;
        if !self.read.snapshot().nodes.contains_key(&code)
            && self.store.keys(Some(&code)).await?.is_empty()
        {
            return Err(Status::not_found(format!("{code} was never enrolled")));
        }
        Ok(Response::new(self.node(code).await?))
    }

    async fn list_quarantine(
        &self,
        request: Request<pb::ListQuarantineRequest>,
    ) -> Reply<pb::ListQuarantineResponse> {
        let r = request.into_inner();
        let size = page_size(r.page_size, 50, 500)?;
        let filter = if r.code.is_empty() {
            None
        } else {
            Some(code("code", &r.code)?)
        };
        let fingerprint = format!("code={}", r.code);
        // The token carries the last id seen (newest first).
        let before = match decode_token(&r.page_token, &fingerprint)? {
            0 => i64::MAX,
            id => id as i64,
        };
        let entries = queries::quarantine(&self.store, filter.as_ref(), before, size + 1).await?;
        let fetched = entries.len();
        // Records in order until the page is full by count or by bytes.
        let budget = QUARANTINE_PAGE_BYTES_MAX - PAGE_TOKEN_ROOM;
        let mut used = 0;
        let mut records = Vec::new();
        for q in entries.into_iter().take(size) {
            let record = pb::QuarantineRecord {
                id: q.id,
                code: q.code,
                subject: q.subject,
                seq: q.seq,
                reason: q.reason,
                detail: q.detail,
                received_at_micros: q.received_at_micros,
                payload: q.payload,
                payload_size: q.payload_size,
            };
            let len = record.encoded_len();
            // A field of the response: its tag, its length, the record.
            let field = 1 + prost::length_delimiter_len(len) + len;
            if !records.is_empty() && used + field > budget {
                break;
            }
            used += field;
            records.push(record);
        }
        let more = fetched > records.len();
        let next_page_token = match (more, records.last()) {
            (true, Some(last)) => encode_token(last.id as usize, &fingerprint),
            _ => String::new(),
        };
        Ok(Response::new(pb::ListQuarantineResponse {
            records,
            next_page_token,
        }))
    }

    async fn list_forks(
        &self,
        request: Request<pb::ListForksRequest>,
    ) -> Reply<pb::ListForksResponse> {
        let r = request.into_inner();
        let filter = if r.code.is_empty() {
            None
        } else {
            Some(code("code", &r.code)?)
        };
        let forks = queries::forks(&self.store, filter.as_ref())
            .await?
            .into_iter()
            .map(|f| pb::Fork {
                code: f.code,
                size: f.size,
                accepted_root: f.accepted_root,
                other_root: f.other_root,
                other_note: f.other_note,
                detected_at_micros: f.detected_at_micros,
            })
            .collect();
        Ok(Response::new(pb::ListForksResponse { forks }))
    }

    async fn enroll(&self, request: Request<pb::EnrollRequest>) -> Reply<pb::Node> {
        let admin = self.authorize(&request)?;
        let r = request.into_inner();
        let code = code("code", &r.code)?;
        if self.read.reference.municipality(&code).is_none() {
            return Err(invalid(
                "code",
                format!("{code} is not a hromada in the reference data"),
            ));
        }
        let vkey = crate::enrolment::parse_vkey(&r.vkey)?;
        admin.enrolment.enroll(&code, &vkey).await?;
        Ok(Response::new(self.node(code).await?))
    }

    async fn revoke(&self, request: Request<pb::RevokeRequest>) -> Reply<pb::Node> {
        let admin = self.authorize(&request)?;
        let r = request.into_inner();
        let code = code("code", &r.code)?;
        let vkey = if r.vkey.trim().is_empty() {
            None
        } else {
            Some(crate::enrolment::parse_vkey(&r.vkey)?)
        };
        let revoked = admin.enrolment.revoke(&code, vkey.as_ref()).await?;
        if revoked == 0 {
            return Err(Status::not_found(format!("{code} has no such valid key")));
        }
        Ok(Response::new(self.node(code).await?))
    }

    async fn recommend_practice(
        &self,
        request: Request<pb::RecommendPracticeRequest>,
    ) -> Reply<pb::RecommendPracticeResponse> {
        let admin = self.authorize(&request)?;
        let r = request.into_inner();
        let key = practice_key(&r.code, &r.tool, &r.id)?;
        let reason = r.reason.trim();
        if reason.is_empty() {
            return Err(invalid("reason", "say why the practice is recommended"));
        }
        if reason.chars().count() > RECOMMENDATION_REASON_MAX || reason.contains(['\n', '\r']) {
            return Err(invalid(
                "reason",
                format!("one line of at most {RECOMMENDATION_REASON_MAX} characters"),
            ));
        }
        let outcome = catalogue::recommend(&admin.writer, &admin.signer, &key, reason).await;
        self.read.catalogue_edited();
        match outcome? {
            Recommended::NoSuchPractice => Err(Status::not_found(format!(
                "no public {} {} in {}'s catalogue",
                key.tool.name(),
                key.id,
                key.municipality
            ))),
            outcome => Ok(Response::new(pb::RecommendPracticeResponse {
                changed: outcome == Recommended::Changed,
            })),
        }
    }

    async fn withdraw_recommendation(
        &self,
        request: Request<pb::WithdrawRecommendationRequest>,
    ) -> Reply<pb::RecommendPracticeResponse> {
        let admin = self.authorize(&request)?;
        let r = request.into_inner();
        let key = practice_key(&r.code, &r.tool, &r.id)?;
        let changed = catalogue::withdraw(&admin.writer, &admin.signer, &key).await;
        self.read.catalogue_edited();
        Ok(Response::new(pb::RecommendPracticeResponse {
            changed: changed?,
        }))
    }

    async fn enroll_monitor(
        &self,
        request: Request<pb::EnrollMonitorRequest>,
    ) -> Reply<pb::EnrollMonitorResponse> {
        let admin = self.authorize(&request)?;
        let r = request.into_inner();
        let vkey = event_store_core::checkpoint::NoteVerifier::parse(&r.vkey)
            .map_err(|e| invalid("vkey", e.to_string()))?;
        let not_independent_of = r
            .not_independent_of
            .iter()
            .map(|c| code("not_independent_of", c))
            .collect::<Result<Vec<_>, _>>()?;
        let enrolment = MonitorEnrolment::new(&r.monitor, &r.name, vkey, not_independent_of);
        let changed = assessments::enroll_monitor(&admin.writer, &admin.signer, &enrolment).await?;
        Ok(Response::new(pb::EnrollMonitorResponse { changed }))
    }

    async fn revoke_monitor(
        &self,
        request: Request<pb::RevokeMonitorRequest>,
    ) -> Reply<pb::EnrollMonitorResponse> {
        let admin = self.authorize(&request)?;
        let monitor = request.into_inner().monitor;
        let changed =
            assessments::revoke_monitor(&admin.writer, &admin.signer, monitor.trim()).await?;
        if !changed {
            return Err(Status::not_found(format!(
                "no monitor {monitor:?} is enrolled"
            )));
        }
        Ok(Response::new(pb::EnrollMonitorResponse { changed }))
    }

    async fn list_monitors(
        &self,
        _request: Request<pb::ListMonitorsRequest>,
    ) -> Reply<pb::ListMonitorsResponse> {
        let monitors = assessments::monitors(&self.store)
            .await?
            .into_iter()
            .map(|m| pb::Monitor {
                monitor: m.monitor,
                name: m.name,
                vkey: m.vkey,
                not_independent_of: m.not_independent_of,
                enrolled_at_micros: m.enrolled_at_micros,
                revoked_at_micros: m.revoked_at_micros.unwrap_or(0),
                assessments: m.assessments,
            })
            .collect();
        Ok(Response::new(pb::ListMonitorsResponse { monitors }))
    }

    async fn submit_assessment(
        &self,
        request: Request<pb::SubmitAssessmentRequest>,
    ) -> Reply<pb::SubmitAssessmentResponse> {
        // No token: the monitor's signature is the authority. Only the writer records.
        let admin = self.writer()?;
        let Ok(_permit) = admin.submissions.try_acquire() else {
            return Err(Status::resource_exhausted(
                "the association is deciding as many assessments as it takes at once: retry",
            ));
        };
        let note = request.into_inner().note;
        let recorded =
            assessments::record(&admin.writer, &self.store, &admin.signer, &note).await?;
        Ok(Response::new(pb::SubmitAssessmentResponse {
            seq: recorded.seq(),
            recorded: matches!(recorded, Recorded::New { .. }),
        }))
    }
}
