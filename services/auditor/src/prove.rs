//! `vidkryto audit prove`: a citizen's receipt. Fetches an event, its inclusion proof and the
//! cosigned checkpoint it is proven against, then checks everything offline: the event's leaf,
//! the path to the root, the node's signature under a key enrolled for the hromada (or one the
//! citizen pinned), and the association's witness cosignature.

use std::path::Path;

use event_store_core::checkpoint::{NoteVerifier, SignedCheckpoint, WitnessVerifier, origin_for};
use event_store_core::{EnvelopeRef, EventId, Hash, MunicipalityCode, merkle};
use proto::audit::v1 as pb;
use serde::Serialize;

use crate::AuditError;
use crate::export::{connect, remote};

/// Events scanned at most when looking an event up by its id.
const SCAN_LIMIT: u32 = 100_000;

/// What to prove.
#[derive(Debug, Clone)]
pub enum Target {
    Seq(u64),
    EventId(EventId),
}

/// A verified receipt, self-contained: keep it, and anyone can check it again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Receipt {
    pub municipality: String,
    pub seq: u64,
    pub event_id: String,
    pub event_type: String,
    pub recorded_at_micros: i64,
    /// The stored event, hex.
    pub envelope: String,
    pub leaf_hash: String,
    pub tree_size: u64,
    /// The inclusion path, hex.
    pub proof: Vec<String>,
    /// The node's signed checkpoint with the association's cosignature.
    pub cosigned_note: String,
    pub node_vkey: String,
    pub witness_vkey: String,
}

fn hash(bytes: &[u8]) -> Result<Hash, AuditError> {
    bytes
        .try_into()
        .map_err(|_| AuditError::Remote(format!("a proof hash has {} bytes", bytes.len())))
}

/// Fetches and verifies a receipt. `ca` is the certificate authority to trust for an
/// `https://` URL instead of the system's roots (see [`connect`]). `pinned_node` /
/// `pinned_witness` replace the keys the association lists, for a citizen who got them
/// elsewhere.
pub async fn prove(
    url: &str,
    ca: Option<&Path>,
    code: MunicipalityCode,
    target: Target,
    pinned_node: Option<NoteVerifier>,
    pinned_witness: Option<NoteVerifier>,
) -> Result<Receipt, AuditError> {
    let mut client = connect(url, ca).await?;
    let seq = match target {
        Target::Seq(seq) => seq,
        Target::EventId(id) => {
            let mut stream = client
                .read_log(pb::ReadLogRequest {
                    code: code.to_string(),
                    from_seq: 1,
                    limit: SCAN_LIMIT,
                })
                .await
                .map_err(remote)?
                .into_inner();
            let mut found = None;
            while let Some(entry) = stream.message().await.map_err(remote)? {
                if EnvelopeRef::decode(&entry.envelope).is_ok_and(|e| e.event_id == id) {
                    found = Some(entry.seq);
                    break;
                }
            }
            found.ok_or_else(|| {
                AuditError::Input(format!(
                    "event {} is not among the first {SCAN_LIMIT} events of {code}; give --seq",
                    id.0
                ))
            })?
        }
    };
    let proof = client
        .get_inclusion_proof(pb::GetInclusionProofRequest {
            code: code.to_string(),
            seq,
            tree_size: 0,
        })
        .await
        .map_err(remote)?
        .into_inner();
    let keys = client
        .list_keys(pb::ListKeysRequest {
            code: code.to_string(),
        })
        .await
        .map_err(remote)?
        .into_inner();
    let node_keys: Vec<NoteVerifier> = match pinned_node {
        Some(key) => vec![key],
        None => keys
            .keys
            .iter()
            .filter_map(|k| NoteVerifier::parse(k.vkey.trim()).ok())
            .collect(),
    };
    let witness = match pinned_witness {
        Some(key) => key,
        None => NoteVerifier::parse(keys.witness_vkey.trim())
            .map_err(|e| AuditError::Remote(format!("the association's witness key: {e}")))?,
    };

    // Offline from here.
    let envelope = EnvelopeRef::decode(&proof.envelope)
        .map_err(|e| AuditError::Failed(format!("the event does not decode: {e}")))?;
    if envelope.seq.0 != seq || envelope.municipality != code {
        return Err(AuditError::Failed(format!(
            "the event is {} of {}, not {seq} of {code}",
            envelope.seq.0, envelope.municipality
        )));
    }
    let leaf = merkle::leaf_hash(&proof.envelope);
    let signed = SignedCheckpoint::parse(&proof.cosigned_note)
        .map_err(|e| AuditError::Failed(format!("the checkpoint note does not parse: {e}")))?;
    if signed.checkpoint.size != proof.tree_size {
        return Err(AuditError::Failed(format!(
            "the proof is for size {} but the checkpoint is of {}",
            proof.tree_size, signed.checkpoint.size
        )));
    }
    let origin = origin_for(&code);
    let node_key = node_keys
        .iter()
        .find(|k| signed.verify_for(k, &origin).is_ok())
        .ok_or_else(|| {
            AuditError::Failed("the checkpoint is not signed by the hromada's node key".into())
        })?;
    signed
        .verify_cosignature(&WitnessVerifier::from_note_verifier(&witness))
        .map_err(|e| AuditError::Failed(format!("the witness cosignature does not verify: {e}")))?;
    let path = proof
        .hashes
        .iter()
        .map(|h| hash(h))
        .collect::<Result<Vec<_>, _>>()?;
    merkle::verify_inclusion(
        &leaf,
        seq - 1,
        proof.tree_size,
        &path,
        &signed.checkpoint.root,
    )
    .map_err(|e| AuditError::Failed(format!("the inclusion proof does not verify: {e}")))?;
    let event_type = domain::EventType::from_code(envelope.event_type)
        .map(|t| t.name().to_owned())
        .unwrap_or_else(|| format!("type {}", envelope.event_type.0));
    Ok(Receipt {
        municipality: code.to_string(),
        seq,
        event_id: envelope.event_id.0.to_string(),
        event_type,
        recorded_at_micros: envelope.recorded_at.as_micros(),
        envelope: hex::encode(&proof.envelope),
        leaf_hash: hex::encode(leaf),
        tree_size: proof.tree_size,
        proof: path.iter().map(hex::encode).collect(),
        cosigned_note: proof.cosigned_note,
        node_vkey: node_key.to_text(),
        witness_vkey: witness.to_text(),
    })
}
