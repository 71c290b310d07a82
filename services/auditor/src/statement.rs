//! The association's signed statements, as an auditor checks them: the one an archive was
//! exported to (kept in `digest.json`), and the one the association serves for the archive's
//! positions. Both are checked under the witness key the archive holds (`keys.json`, the key
//! every archived checkpoint's cosignature verifies under) and against the archive's own
//! positions, before their digest is believed.

use event_store_core::MunicipalityCode;
use event_store_core::checkpoint::NoteVerifier;
use projection::statement::{StatedPosition, Statement, positions_hash};
use proto::audit::v1 as pb;

use crate::AuditError;
use crate::archive::{Archive, DigestRecord};
use crate::export::{connect, remote};

/// The positions `digest.json` records, as a statement states them.
pub fn archived_positions(record: &DigestRecord) -> Result<Vec<StatedPosition>, AuditError> {
    record
        .positions
        .iter()
        .map(|p| {
            let municipality = MunicipalityCode::parse(&p.code).map_err(|e| {
                AuditError::Input(format!("digest.json: position {:?}: {e}", p.code))
            })?;
            let root = hex::decode(&p.root)
                .map_err(|e| AuditError::Input(format!("digest.json: root of {}: {e}", p.code)))?;
            Ok(StatedPosition {
                municipality,
                size: p.verified_size,
                root,
            })
        })
        .collect()
}

/// The association's witness key as the archive holds it.
fn witness(archive: &Archive) -> Result<NoteVerifier, AuditError> {
    let keys = archive.keys()?;
    NoteVerifier::parse(&keys.witness_vkey)
        .map_err(|e| AuditError::Input(format!("keys.json: the witness key: {e}")))
}

/// The statement the archive was exported to, checked: `None` when the archive holds none (an
/// export of one hromada), [`AuditError::Failed`] when it does not verify or covers other
/// positions than the archive's.
pub fn archived(archive: &Archive) -> Result<Option<Statement>, AuditError> {
    let record = archive.digest()?;
    if record.statement_note.is_empty() {
        return Ok(None);
    }
    let positions = archived_positions(&record)?;
    Statement::open_at(&record.statement_note, &witness(archive)?, &positions)
        .map(Some)
        .map_err(|e| AuditError::Failed(format!("the archive's statement: {e}")))
}

/// The statement the association at `url` serves for the archive's positions, checked as
/// [`archived`] checks the archive's own.
pub async fn served_for(
    archive: &Archive,
    url: &str,
    ca: Option<&std::path::Path>,
) -> Result<Statement, AuditError> {
    let positions = archived_positions(&archive.digest()?)?;
    let key = witness(archive)?;
    let mut client = connect(url, ca).await?;
    let served = client
        .get_statement(pb::GetStatementRequest {
            positions_hash: positions_hash(&positions).to_vec(),
        })
        .await
        .map_err(|e| match e.code() {
            tonic::Code::NotFound => AuditError::Failed(format!(
                "the association has no statement at the archive's positions: {}",
                e.message()
            )),
            _ => remote(e),
        })?
        .into_inner();
    Statement::open_at(&served.note, &key, &positions)
        .map_err(|e| AuditError::Failed(format!("the association's statement: {e}")))
}
