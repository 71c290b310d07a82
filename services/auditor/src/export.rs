//! `vidkryto audit export`: pulls the association's verified history through its audit gRPC
//! API into an archive. It first asks for the association's latest signed statement (its
//! projection digest and the positions it covers) and checks it under the witness key, then
//! exports every hromada exactly up to its position, so the archive recomputes to that digest
//! however far the association has moved on, and keeps the statement in `digest.json`. Then
//! the association's own log as it is (its decisions, signed; `keys.json` is the enrolment
//! history it replays to). Export resumes: whole events files already on disk are kept (a file
//! is written under a temporary name and renamed), and the last file, if not full, is fetched
//! again; the association's log is fetched whole each time.

use std::path::{Path, PathBuf};
use std::time::Duration;

use event_store_core::checkpoint::NoteVerifier;
use event_store_core::{MunicipalityCode, Timestamp};
use indicatif::ProgressBar;
use projection::association_log::{Entry, KeyHistory, LogError};
use projection::statement::Statement;
use proto::audit::v1 as pb;
use proto::audit::v1::audit_service_client::AuditServiceClient;
use tonic::transport::{Certificate, Channel, ClientTlsConfig};

use crate::AuditError;
use crate::archive::{
    Archive, AssociationLogWriter, CHECKPOINTS, CheckpointRecord, DIGEST, DigestRecord,
    EVENTS_PER_FILE, FORMAT, KEYS, Keys, MANIFEST, Manifest, Position, encode_events,
    events_file_name, events_in, write_atomic,
};

/// Checkpoints one ListCheckpoints call returns at most (the API's bound).
const CHECKPOINT_PAGE: u32 = 1_000;
/// Responses can carry up to 100,000 events of up to 128 KiB; one message is one event.
const MESSAGE_SIZE_MAX: usize = 1 << 20;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// What to export.
#[derive(Debug, Clone)]
pub struct ExportOptions {
    /// The association's gRPC URL, e.g. `http://127.0.0.1:50100` or `https://…`.
    pub url: String,
    /// For an `https://` URL: the certificate authorities to trust (PEM) instead of the
    /// system's roots.
    pub ca: Option<PathBuf>,
    pub out: PathBuf,
    /// Only this hromada (all by default).
    pub municipality: Option<MunicipalityCode>,
    pub progress: bool,
}

/// What an export did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportSummary {
    pub municipalities: usize,
    /// Events fetched by this run.
    pub events_fetched: u64,
    /// Events the archive holds now.
    pub events_total: u64,
    /// Entries of the association's own log the archive holds.
    pub association_entries: u64,
    /// Why the association's log does not replay into a key history (`verify` names it too).
    pub association_log_problem: Option<String>,
}

/// Connects to the association's audit API. An `https://` URL is reached over TLS (rustls),
/// its certificate checked against `ca` (a PEM file of the certificate authorities to trust,
/// for an association with a private CA) or, without one, the system's root certificates.
pub async fn connect(
    url: &str,
    ca: Option<&Path>,
) -> Result<AuditServiceClient<Channel>, AuditError> {
    let channel = channel(url, ca).await?;
    Ok(AuditServiceClient::new(channel).max_decoding_message_size(MESSAGE_SIZE_MAX))
}

/// A channel to the association at `url`, as [`connect`] makes it (also for a monitor's
/// `vidkryto monitor assess`).
pub async fn channel(url: &str, ca: Option<&Path>) -> Result<Channel, AuditError> {
    let mut endpoint = tonic::transport::Endpoint::from_shared(url.to_owned())
        .map_err(|e| AuditError::Input(format!("association URL {url:?}: {e}")))?
        .connect_timeout(CONNECT_TIMEOUT);
    let https = endpoint.uri().scheme_str() == Some("https");
    if https {
        let tls = match ca {
            Some(path) => {
                let pem = std::fs::read(path).map_err(|e| {
                    AuditError::Input(format!("cannot read the CA file {}: {e}", path.display()))
                })?;
                ClientTlsConfig::new().ca_certificate(Certificate::from_pem(pem))
            }
            None => ClientTlsConfig::new().with_native_roots(),
        };
        endpoint = endpoint
            .tls_config(tls)
            .map_err(|e| AuditError::Input(format!("TLS for {url}: {}", wire::error_chain(&e))))?;
    } else if let Some(path) = ca {
        return Err(AuditError::Input(format!(
            "a CA ({}) is only used for an https:// URL, not {url}",
            path.display()
        )));
    }
    let channel = endpoint.connect().await.map_err(|e| {
        let why = wire::error_chain(&e);
        let hint = if https && why.contains("certificate") {
            match ca {
                Some(path) => format!(
                    " (the association's certificate is not one {} vouches for, or not for \
                     this host name)",
                    path.display()
                ),
                None => " (the association's certificate is not trusted by this system: for \
                         a private CA, give its certificate with --ca FILE)"
                    .to_owned(),
            }
        } else {
            String::new()
        };
        AuditError::Remote(format!("cannot reach {url}: {why}{hint}"))
    })?;
    Ok(channel)
}

pub(crate) fn remote(e: tonic::Status) -> AuditError {
    AuditError::Remote(format!("{}: {}", e.code(), e.message()))
}

pub async fn export(options: &ExportOptions) -> Result<ExportSummary, AuditError> {
    let mut client = connect(&options.url, options.ca.as_deref()).await?;
    let archive = Archive::new(&options.out);
    std::fs::create_dir_all(&options.out).map_err(crate::archive::io(&options.out))?;
    let keys = client
        .list_keys(pb::ListKeysRequest {
            code: String::new(),
        })
        .await
        .map_err(remote)?
        .into_inner();
    // The latest of the association's signed statements: its positions are where the export
    // stops, so a recomputation compares with what the association said at exactly them.
    let statement = client
        .get_statement(pb::GetStatementRequest {
            positions_hash: Vec::new(),
        })
        .await
        .map_err(|e| match e.code() {
            tonic::Code::NotFound => AuditError::Remote(format!(
                "{}: the association states its projection within a minute of it moving; \
                 try again then",
                e.message()
            )),
            _ => remote(e),
        })?
        .into_inner();
    let witness = NoteVerifier::parse(&keys.witness_vkey)
        .map_err(|e| AuditError::Remote(format!("the witness key: {e}")))?;
    let stated: Vec<Position> = statement
        .positions
        .iter()
        .map(|p| Position {
            code: p.code.clone(),
            verified_size: p.verified_size,
            root: hex::encode(&p.root),
        })
        .collect();
    let record = DigestRecord {
        digest: statement.digest.clone(),
        positions: stated,
        computed_at_micros: statement.made_at_micros,
        statement_note: statement.note.clone(),
    };
    Statement::open_at(
        &statement.note,
        &witness,
        &crate::statement::archived_positions(&record)?,
    )
    .map_err(|e| AuditError::Remote(format!("the association's latest statement: {e}")))?;
    let mut positions: Vec<(MunicipalityCode, u64)> = Vec::new();
    for p in &statement.positions {
        let code = MunicipalityCode::parse(&p.code)
            .map_err(|e| AuditError::Remote(format!("position of {:?}: {e}", p.code)))?;
        if options.municipality.is_none_or(|m| m == code) {
            positions.push((code, p.verified_size));
        }
    }
    if let Some(m) = options.municipality
        && positions.is_empty()
    {
        return Err(AuditError::Input(format!(
            "the association has no hromada {m}"
        )));
    }
    // The association's own log, read after the statement (whose entry it therefore holds);
    // keys.json is the enrolment history it replays to (`verify` checks both).
    let (association_entries, history, problem) =
        export_association_log(&mut client, &archive).await?;
    archive.write_json(
        KEYS,
        &Keys {
            witness_vkey: keys.witness_vkey,
            keys: crate::verify::key_records(&history),
        },
    )?;

    let total: u64 = positions.iter().map(|(_, size)| size).sum();
    let bar = crate::progress_bar(
        options.progress,
        total,
        "{spinner} exporting {pos}/{len} events ({per_sec}) {wide_bar}",
    );
    let mut fetched = 0;
    for (code, size) in &positions {
        fetched += export_events(&mut client, &archive, code, *size, &bar).await?;
        export_checkpoints(&mut client, &archive, code, *size).await?;
    }
    bar.finish_and_clear();
    // One hromada's export keeps its position only; the statement covers them all, so it is
    // kept only with all of them.
    let record = match options.municipality {
        None => record,
        Some(m) => DigestRecord {
            positions: record
                .positions
                .into_iter()
                .filter(|p| p.code == m.as_str())
                .collect(),
            statement_note: String::new(),
            ..record
        },
    };
    archive.write_json(DIGEST, &record)?;
    write_manifest(&archive, &options.url)?;
    Ok(ExportSummary {
        municipalities: positions.len(),
        events_fetched: fetched,
        events_total: total,
        association_entries,
        association_log_problem: problem.map(|e| e.to_string()),
    })
}

/// Writes `manifest.json` for what the archive holds now.
pub fn write_manifest(archive: &Archive, source: &str) -> Result<(), AuditError> {
    let manifest = Manifest {
        format: FORMAT.to_owned(),
        created_at_micros: Timestamp::now().as_micros(),
        source: source.to_owned(),
        files: archive.scan()?,
    };
    archive.write_json(MANIFEST, &manifest)?;
    Ok(())
}

/// Fetches `code`'s events up to `size` that the archive lacks; returns how many.
async fn export_events(
    client: &mut AuditServiceClient<Channel>,
    archive: &Archive,
    code: &MunicipalityCode,
    size: u64,
    bar: &ProgressBar,
) -> Result<u64, AuditError> {
    let dir = archive.municipality_dir(code);
    std::fs::create_dir_all(&dir).map_err(crate::archive::io(&dir))?;
    // Keep whole, full files; fetch again from the start of the first one that is not.
    let mut next = 1;
    for (first, last, path) in archive.events_files(code)? {
        let held = events_in(first, last);
        let full = held == EVENTS_PER_FILE;
        if first != next || !(full || last >= size) || last > size {
            std::fs::remove_file(&path).map_err(crate::archive::io(&path))?;
            continue;
        }
        bar.inc(held);
        next = last.saturating_add(1);
    }
    let mut fetched = 0;
    while next <= size {
        let file_first = next;
        let file_last = size.min(file_first + EVENTS_PER_FILE - 1);
        let mut stream = client
            .read_log(pb::ReadLogRequest {
                code: code.to_string(),
                from_seq: file_first,
                limit: u32::try_from(file_last + 1 - file_first).unwrap_or(u32::MAX),
            })
            .await
            .map_err(remote)?
            .into_inner();
        let mut events: Vec<Vec<u8>> = Vec::with_capacity((file_last + 1 - file_first) as usize);
        while let Some(entry) = stream.message().await.map_err(remote)? {
            let expected = file_first + events.len() as u64;
            if entry.seq != expected {
                return Err(AuditError::Remote(format!(
                    "{code}: the association sent event {} where {expected} was due",
                    entry.seq
                )));
            }
            events.push(entry.envelope);
            bar.inc(1);
            if expected == file_last {
                break;
            }
        }
        if events.len() as u64 != file_last + 1 - file_first {
            return Err(AuditError::Remote(format!(
                "{code}: the association sent {} of events {file_first}..={file_last}",
                events.len()
            )));
        }
        let path = dir.join(events_file_name(file_first, file_last));
        write_atomic(&path, &encode_events(events.iter().map(Vec::as_slice)))?;
        fetched += events.len() as u64;
        next = file_last + 1;
    }
    Ok(fetched)
}

/// Writes the association's own log as it is now: its entries and the checkpoint of each size.
/// Returns how many, the key history they replay to, and the first entry that does not
/// replay (the history stops before it).
async fn export_association_log(
    client: &mut AuditServiceClient<Channel>,
    archive: &Archive,
) -> Result<(u64, KeyHistory, Option<LogError>), AuditError> {
    // What this archive held before: the log now must extend it, or it was rewritten (even by
    // someone holding the association's key), and the archive keeps the evidence.
    let held = archive
        .association_checkpoints()
        .ok()
        .and_then(|c| c.last().cloned());
    let mut writer = AssociationLogWriter::new(archive)?;
    let mut history = KeyHistory::new();
    let mut problem: Option<LogError> = None;
    let mut size: Option<u64> = None;
    while size.is_none_or(|size| writer.next() <= size) {
        let next = writer.next();
        let page = client
            .read_association_log(pb::ReadAssociationLogRequest {
                from_seq: next,
                limit: 0,
            })
            .await
            .map_err(remote)?
            .into_inner();
        // The log as it was at the first page; later entries wait for the next export.
        let end = *size.get_or_insert(page.size);
        for entry in page.entries {
            if entry.seq > end {
                break;
            }
            if entry.seq != writer.next() {
                return Err(AuditError::Remote(format!(
                    "the association sent entry {} of its log where {} was due",
                    entry.seq,
                    writer.next()
                )));
            }
            if problem.is_none()
                && let Err(e) =
                    Entry::decode(entry.seq, &entry.entry).and_then(|e| history.apply(&e))
            {
                problem = Some(e);
            }
            let root = writer.push(entry.entry, entry.checkpoint)?;
            if let Some(held) = &held
                && held.size == entry.seq
                && root != held.root
            {
                return Err(AuditError::Failed(format!(
                    "the association's log no longer extends the one this archive holds: \
                     at size {} its root is {root}, the archive's {} (an entry up to there \
                     was rewritten); the archive is kept as it was",
                    held.size, held.root
                )));
            }
        }
        if let Some(held) = &held
            && end < held.size
        {
            return Err(AuditError::Failed(format!(
                "the association's log holds {end} entries, this archive {} (it was cut); \
                 the archive is kept as it was",
                held.size
            )));
        }
        if writer.next() == next && next <= end {
            return Err(AuditError::Remote(format!(
                "the association's log holds {end} entries but sent none from {next}"
            )));
        }
    }
    Ok((writer.finish()?, history, problem))
}

/// Writes `code`'s accepted checkpoints up to `size`.
async fn export_checkpoints(
    client: &mut AuditServiceClient<Channel>,
    archive: &Archive,
    code: &MunicipalityCode,
    size: u64,
) -> Result<(), AuditError> {
    let mut lines = String::new();
    let mut from = 0;
    loop {
        let page = client
            .list_checkpoints(pb::ListCheckpointsRequest {
                code: code.to_string(),
                from_size: from,
                limit: CHECKPOINT_PAGE,
            })
            .await
            .map_err(remote)?
            .into_inner()
            .checkpoints;
        let Some(last) = page.last().map(|c| c.size) else {
            break;
        };
        for cp in &page {
            if cp.size > size {
                continue;
            }
            let record = CheckpointRecord {
                size: cp.size,
                root: hex::encode(&cp.root),
                cosigned_note: cp.cosigned_note.clone(),
                accepted_at_micros: cp.accepted_at_micros,
            };
            let line = crate::archive::to_json_line(&record)
                .map_err(|e| AuditError::Remote(format!("checkpoint {}: {e}", cp.size)))?;
            lines.push_str(&line);
        }
        if page.len() < CHECKPOINT_PAGE as usize || last >= size {
            break;
        }
        from = last + 1;
    }
    write_atomic(
        &archive.municipality_dir(code).join(CHECKPOINTS),
        lines.as_bytes(),
    )?;
    Ok(())
}
