//! Enrolment: which municipality signs with which key. Changes go to the database, each with
//! its entry in the association's log (`decisions`), and, when the ingest runs in this process,
//! straight to it (a running association also notices changes made by `vidkryto association
//! enroll` from another process within seconds).

use event_store_core::checkpoint::NoteVerifier;
use event_store_core::{MunicipalityCode, Timestamp};

use crate::decisions::{self, Signer};
use crate::error::AssociationError;
use crate::ingest::IngestControl;
use crate::store::Store;

#[derive(Debug, Clone)]
pub struct Enrolment {
    store: Store,
    /// Signs the association log's entries.
    signer: Signer,
    ingest: Option<IngestControl>,
}

impl Enrolment {
    pub fn new(store: Store, signer: Signer, ingest: Option<IngestControl>) -> Self {
        Self {
            store,
            signer,
            ingest,
        }
    }

    /// Enrols `vkey` for `code`; the key's name must be the municipality's log origin, so a
    /// key made for one hromada cannot be enrolled for another.
    pub async fn enroll(
        &self,
        code: &MunicipalityCode,
        vkey: &NoteVerifier,
    ) -> Result<bool, AssociationError> {
        let changed = decisions::enroll(&self.store, &self.signer, code, vkey).await?;
        if let Some(ingest) = &self.ingest {
            ingest.reload().await;
        }
        Ok(changed)
    }

    /// Revokes one key of `code`, or all of them. With the ingest in this process, the
    /// revocation takes effect in it before this returns: what it accepted under the key is
    /// committed first, then the revocation is recorded, so no checkpoint is cosigned under a
    /// revoked key. (A revocation by another process reaches a running ingest within seconds,
    /// and what it accepted meanwhile but had not committed is dropped and verified again.)
    pub async fn revoke(
        &self,
        code: &MunicipalityCode,
        vkey: Option<&NoteVerifier>,
    ) -> Result<u64, AssociationError> {
        if let Some(ingest) = &self.ingest
            && let Some(result) = ingest.revoke(*code, vkey.cloned()).await
        {
            return result;
        }
        decisions::revoke(&self.store, &self.signer, code, vkey, Timestamp::now()).await
    }
}

/// Parses a node verifier key given as text.
pub fn parse_vkey(text: &str) -> Result<NoteVerifier, AssociationError> {
    NoteVerifier::parse(text.trim()).map_err(|e| AssociationError::invalid("vkey", e.to_string()))
}
