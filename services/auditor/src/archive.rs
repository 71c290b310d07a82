//! The archive: a directory an auditor can keep, copy and verify offline. The format is
//! documented for third parties in `services/auditor/ARCHIVE.md`; this module is its one
//! reader and writer.
//!
//! ```text
//! manifest.json                         every other file with its size and SHA-256, events files
//!                                       with the SHA-256 of their leaves (written last)
//! keys.json                             enrolment history of every node key, the witness key
//! digest.json                           the association's projection digest and positions
//! municipalities/<KATOTTG>/events-<first>-<last>.bin   consecutive events, as stored
//! municipalities/<KATOTTG>/checkpoints.jsonl           accepted checkpoints, cosigned
//! association/events-<first>-<last>.bin                the association's own log's entries
//! association/checkpoints.jsonl                         its checkpoints, signed by its key
//! ```

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use event_store_core::{Hash, MunicipalityCode, merkle};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

/// The format name and version in `manifest.json` this code writes: version 3 pins each events
/// file by its events' leaf hashes (which `verify` computes anyway), not by a second pass over
/// its bytes.
pub const FORMAT: &str = "vidkryto-archive/3";
/// The format that first held the association's own log, still read (its manifest pins every
/// file by the SHA-256 of its bytes).
pub const FORMAT_V2: &str = "vidkryto-archive/2";
/// The format before the association's log, still read (its key history is the association's
/// word alone).
pub const FORMAT_V1: &str = "vidkryto-archive/1";
/// The association's own log's directory.
pub const ASSOCIATION: &str = "association";
pub const MANIFEST: &str = "manifest.json";
pub const KEYS: &str = "keys.json";
pub const DIGEST: &str = "digest.json";
pub const MUNICIPALITIES: &str = "municipalities";
pub const CHECKPOINTS: &str = "checkpoints.jsonl";
/// Events one events file holds at most.
pub const EVENTS_PER_FILE: u64 = 100_000;
/// The largest event record accepted when reading (an envelope is at most 128 KiB + 256).
const EVENT_LEN_MAX: u32 = 256 * 1024;

/// What can go wrong reading or writing an archive.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {detail}")]
    Format { path: PathBuf, detail: String },
    /// A file named like an events file whose name does not say a range a file can hold.
    #[error("{path}: not an events file name: {source}")]
    EventsFileName {
        path: PathBuf,
        source: EventsFileNameError,
    },
}

/// Why a name of the form `events-<first>-<last>.bin` is refused. The numbers are read with
/// checked arithmetic: a crafted name can neither overflow a count nor claim a range no
/// events file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EventsFileNameError {
    /// Not two decimal numbers (digits only, at most 20) that fit in 64 bits.
    #[error("the sequence numbers are not two decimal numbers of 64 bits")]
    NotANumber,
    #[error("sequence numbers start at 1, the name's first is 0")]
    ZeroFirst,
    #[error("the first event {first} comes after the last {last}")]
    FirstPastLast { first: u64, last: u64 },
    #[error("{first}..={last} is more than the {EVENTS_PER_FILE} events an events file holds")]
    TooManyEvents { first: u64, last: u64 },
    #[error("sequence number {last} is past {SEQ_MAX}, the last one a log can hold")]
    PastLog { last: u64 },
}

/// The largest sequence number a log holds: nodes and the association store sequence numbers
/// and tree sizes in signed 64-bit columns.
pub const SEQ_MAX: u64 = i64::MAX as u64;

pub(crate) fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ArchiveError + '_ {
    move |source| ArchiveError::Io {
        path: path.to_owned(),
        source,
    }
}

fn format_error(path: &Path, detail: impl Into<String>) -> ArchiveError {
    ArchiveError::Format {
        path: path.to_owned(),
        detail: detail.into(),
    }
}

/// One file of the archive in the manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestEntry {
    /// Relative to the archive's root, `/`-separated.
    pub path: String,
    pub size: u64,
    /// SHA-256 of the file, lowercase hex: every file but, from format 3 on, events files.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub sha256: String,
    /// Format 3, events files only: SHA-256 of the concatenation of the file's events' leaf
    /// hashes (each the RFC 6962 leaf hash of the event's bytes) in file order, lowercase hex.
    /// With every record's leaf checked against its bytes, it pins the file's bytes.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub leaves_sha256: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    pub created_at_micros: i64,
    /// Where the archive was exported from.
    pub source: String,
    pub files: Vec<ManifestEntry>,
}

/// One key ever enrolled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyRecord {
    pub code: String,
    /// The node's note verifier key (C2SP vkey text).
    pub vkey: String,
    pub enrolled_at_micros: i64,
    /// 0 while valid.
    pub revoked_at_micros: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Keys {
    pub witness_vkey: String,
    pub keys: Vec<KeyRecord>,
}

/// A hromada's verified position the digest covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    pub code: String,
    pub verified_size: u64,
    /// Lowercase hex; empty before the first checkpoint.
    pub root: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DigestRecord {
    pub digest: String,
    pub positions: Vec<Position>,
    pub computed_at_micros: i64,
    /// The association's signed statement of `digest` at `positions`
    /// (`projection::statement`), when the export covers every hromada.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub statement_note: String,
}

/// One accepted checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointRecord {
    pub size: u64,
    /// Lowercase hex.
    pub root: String,
    /// The node's signed note with the association's cosignature line.
    pub cosigned_note: String,
    pub accepted_at_micros: i64,
}

/// One checkpoint of the association's own log (`projection::association_log`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogCheckpointRecord {
    pub size: u64,
    /// Lowercase hex.
    pub root: String,
    /// The C2SP signed note, origin `vidkryto/association`, signed with the witness key.
    pub note: String,
}

/// One event as archived, borrowed from its file's bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventRecord<'a> {
    /// The leaf hash the exporter computed from the bytes it received.
    pub leaf: &'a Hash,
    pub bytes: &'a [u8],
}

/// One line of `checkpoints.jsonl`, with its newline.
pub fn to_json_line<T: Serialize>(record: &T) -> Result<String, serde_json::Error> {
    Ok(serde_json::to_string(record)? + "\n")
}

/// An events file's name for `first..=last`.
pub fn events_file_name(first: u64, last: u64) -> String {
    format!("events-{first:012}-{last:012}.bin")
}

/// The `(first, last)` of an events file name: `Ok(None)` for a name not of the form
/// `events-*.bin` (another file of the directory), an error for one of that form whose numbers
/// are not a range an events file holds (`1 <= first <= last <= SEQ_MAX`, at most
/// [`EVENTS_PER_FILE`] events), so `last - first + 1` ([`events_in`]) never overflows.
pub fn parse_events_file_name(name: &str) -> Result<Option<(u64, u64)>, EventsFileNameError> {
    let Some(rest) = name
        .strip_prefix("events-")
        .and_then(|rest| rest.strip_suffix(".bin"))
    else {
        return Ok(None);
    };
    let (first, last) = rest
        .split_once('-')
        .ok_or(EventsFileNameError::NotANumber)?;
    let (first, last) = (sequence_number(first)?, sequence_number(last)?);
    if first == 0 {
        return Err(EventsFileNameError::ZeroFirst);
    }
    if first > last {
        return Err(EventsFileNameError::FirstPastLast { first, last });
    }
    if last > SEQ_MAX {
        return Err(EventsFileNameError::PastLog { last });
    }
    // `first <= last`, so the difference cannot underflow.
    if last - first >= EVENTS_PER_FILE {
        return Err(EventsFileNameError::TooManyEvents { first, last });
    }
    Ok(Some((first, last)))
}

/// A sequence number as a name writes it: decimal digits only (no sign, no space), at most 20.
fn sequence_number(text: &str) -> Result<u64, EventsFileNameError> {
    if text.is_empty() || text.len() > 20 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(EventsFileNameError::NotANumber);
    }
    text.parse().map_err(|_| EventsFileNameError::NotANumber)
}

/// How many events the file `first..=last` holds: `last - first + 1`, or 0 for a range that
/// [`parse_events_file_name`] refuses (never an overflow).
pub fn events_in(first: u64, last: u64) -> u64 {
    last.checked_sub(first)
        .and_then(|d| d.checked_add(1))
        .unwrap_or(0)
}

/// Encodes events as a file's bytes: per event its leaf hash (32 bytes), its length (u32
/// little-endian) and its stored bytes.
pub fn encode_events<'a>(events: impl IntoIterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut out = Vec::new();
    for bytes in events {
        out.extend_from_slice(&merkle::leaf_hash(bytes));
        out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
        out.extend_from_slice(bytes);
    }
    out
}

/// Decodes an events file's bytes.
pub fn decode_events<'a>(
    path: &Path,
    mut data: &'a [u8],
) -> Result<Vec<EventRecord<'a>>, ArchiveError> {
    let mut out = Vec::new();
    while !data.is_empty() {
        let (leaf, rest) = data
            .split_first_chunk::<32>()
            .ok_or_else(|| format_error(path, format!("truncated after {} events", out.len())))?;
        let (len, rest) = rest
            .split_first_chunk::<4>()
            .ok_or_else(|| format_error(path, format!("truncated after {} events", out.len())))?;
        let len = u32::from_le_bytes(*len);
        if len > EVENT_LEN_MAX || rest.len() < len as usize {
            return Err(format_error(
                path,
                format!("event record {} claims {len} bytes", out.len() + 1),
            ));
        }
        let (bytes, rest) = rest.split_at(len as usize);
        out.push(EventRecord { leaf, bytes });
        data = rest;
    }
    Ok(out)
}

/// Writes `bytes` to `path` through a temporary file and a rename, so a file that exists is
/// whole (an interrupted export leaves no half file behind).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), ArchiveError> {
    let tmp = path.with_extension("partial");
    let mut file = fs::File::create(&tmp).map_err(io(&tmp))?;
    file.write_all(bytes).map_err(io(&tmp))?;
    file.sync_all().map_err(io(&tmp))?;
    fs::rename(&tmp, path).map_err(io(path))?;
    Ok(())
}

/// Writes the association's own log into an archive, entry by entry: entries files of at
/// most [`EVENTS_PER_FILE`] and `checkpoints.jsonl`, in a directory of their own that
/// [`Self::finish`] puts in place of the archive's (so a failed export leaves the one before).
#[derive(Debug)]
pub struct AssociationLogWriter {
    target: PathBuf,
    dir: PathBuf,
    file: Vec<Vec<u8>>,
    next: u64,
    lines: String,
}

impl AssociationLogWriter {
    pub fn new(archive: &Archive) -> Result<Self, ArchiveError> {
        let target = archive.association_dir();
        let dir = archive.root.join(format!("{ASSOCIATION}.partial"));
        if dir.exists() {
            fs::remove_dir_all(&dir).map_err(io(&dir))?;
        }
        fs::create_dir_all(&dir).map_err(io(&dir))?;
        Ok(Self {
            target,
            dir,
            file: Vec::new(),
            next: 1,
            lines: String::new(),
        })
    }

    /// The sequence number the next entry must have.
    pub fn next(&self) -> u64 {
        self.next
    }

    /// Adds the next entry's bytes and the signed checkpoint of its size; returns the root
    /// recorded for it (lowercase hex, empty when the note does not parse).
    pub fn push(&mut self, bytes: Vec<u8>, checkpoint: String) -> Result<String, ArchiveError> {
        let root = event_store_core::checkpoint::SignedCheckpoint::parse(&checkpoint)
            .map(|c| hex::encode(c.checkpoint.root))
            .unwrap_or_default();
        let record = LogCheckpointRecord {
            size: self.next,
            root: root.clone(),
            note: checkpoint,
        };
        let line = to_json_line(&record).map_err(|e| format_error(&self.dir, e.to_string()))?;
        self.lines.push_str(&line);
        self.file.push(bytes);
        self.next += 1;
        if self.file.len() as u64 == EVENTS_PER_FILE {
            self.flush()?;
        }
        Ok(root)
    }

    fn flush(&mut self) -> Result<(), ArchiveError> {
        if self.file.is_empty() {
            return Ok(());
        }
        let first = self.next - self.file.len() as u64;
        let path = self.dir.join(events_file_name(first, self.next - 1));
        write_atomic(&path, &encode_events(self.file.iter().map(Vec::as_slice)))?;
        self.file.clear();
        Ok(())
    }

    /// Writes what is left and puts the log in place; returns the entries written.
    pub fn finish(mut self) -> Result<u64, ArchiveError> {
        self.flush()?;
        write_atomic(&self.dir.join(CHECKPOINTS), self.lines.as_bytes())?;
        if self.target.exists() {
            fs::remove_dir_all(&self.target).map_err(io(&self.target))?;
        }
        fs::rename(&self.dir, &self.target).map_err(io(&self.target))?;
        Ok(self.next - 1)
    }

    /// Writes a whole log of `decisions` (time, decision), each entry's checkpoint signed by
    /// `association`: for archives made without an association (benches, tests).
    pub fn write_signed(
        archive: &Archive,
        association: &event_store_core::checkpoint::NoteSigner,
        decisions: Vec<(i64, projection::association_log::Decision)>,
    ) -> Result<u64, ArchiveError> {
        let mut writer = Self::new(archive)?;
        let mut frontier = merkle::Frontier::new();
        for (at, decision) in decisions {
            let bytes =
                projection::association_log::Entry::new(writer.next(), at, decision).encode();
            let checkpoint = projection::association_log::extend(&mut frontier, &bytes);
            writer.push(bytes, association.sign(checkpoint).to_note())?;
        }
        writer.finish()
    }
}

impl Drop for AssociationLogWriter {
    /// A writer not finished leaves nothing behind.
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// One events file of a hromada: the first and last sequence numbers it holds, and its path.
pub type EventsFile = (u64, u64, PathBuf);

/// An archive directory.
#[derive(Debug, Clone)]
pub struct Archive {
    pub root: PathBuf,
}

impl Archive {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    pub fn municipality_dir(&self, code: &MunicipalityCode) -> PathBuf {
        self.root.join(MUNICIPALITIES).join(code.as_str())
    }

    fn read_json<T: for<'de> Deserialize<'de>>(&self, name: &str) -> Result<T, ArchiveError> {
        let path = self.root.join(name);
        let text = fs::read_to_string(&path).map_err(io(&path))?;
        serde_json::from_str(&text).map_err(|e| format_error(&path, e.to_string()))
    }

    pub fn write_json<T: Serialize>(&self, name: &str, value: &T) -> Result<(), ArchiveError> {
        let path = self.root.join(name);
        let text =
            serde_json::to_string_pretty(value).map_err(|e| format_error(&path, e.to_string()))?;
        write_atomic(&path, text.as_bytes())
    }

    pub fn manifest(&self) -> Result<Manifest, ArchiveError> {
        self.read_json(MANIFEST)
    }

    pub fn keys(&self) -> Result<Keys, ArchiveError> {
        self.read_json(KEYS)
    }

    /// `digest.json`: the statement (or digest) the export stopped at.
    pub fn digest(&self) -> Result<DigestRecord, ArchiveError> {
        self.read_json(DIGEST)
    }

    /// The hromadas the archive holds, by code.
    pub fn municipalities(&self) -> Result<Vec<MunicipalityCode>, ArchiveError> {
        let dir = self.root.join(MUNICIPALITIES);
        let mut codes = Vec::new();
        if !dir.exists() {
            return Ok(codes);
        }
        for entry in fs::read_dir(&dir).map_err(io(&dir))? {
            let entry = entry.map_err(io(&dir))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let code = MunicipalityCode::parse(&name)
                .map_err(|e| format_error(&entry.path(), format!("not a hromada code: {e}")))?;
            codes.push(code);
        }
        codes.sort();
        Ok(codes)
    }

    /// A hromada's events files, `(first, last, path)` ascending, each with `1 <= first <=
    /// last` and at most [`EVENTS_PER_FILE`] events. A file named like an events file whose
    /// numbers are no such range is an [`ArchiveError::EventsFileName`].
    pub fn events_files(&self, code: &MunicipalityCode) -> Result<Vec<EventsFile>, ArchiveError> {
        events_files_in(&self.municipality_dir(code))
    }

    /// The association log's directory.
    pub fn association_dir(&self) -> PathBuf {
        self.root.join(ASSOCIATION)
    }

    /// Whether the archive holds the association's own log.
    pub fn has_association_log(&self) -> bool {
        self.association_dir().is_dir()
    }

    /// The association log's entries files, as [`Self::events_files`].
    pub fn association_files(&self) -> Result<Vec<EventsFile>, ArchiveError> {
        events_files_in(&self.association_dir())
    }

    /// The association log's checkpoints, in file order.
    pub fn association_checkpoints(&self) -> Result<Vec<LogCheckpointRecord>, ArchiveError> {
        read_json_lines(&self.association_dir().join(CHECKPOINTS))
    }

    /// Reads one events file's bytes (decode them with [`decode_events`]).
    pub fn read_events_file(&self, path: &Path) -> Result<Vec<u8>, ArchiveError> {
        fs::read(path).map_err(io(path))
    }

    /// A hromada's accepted checkpoints, in file order.
    pub fn checkpoints(
        &self,
        code: &MunicipalityCode,
    ) -> Result<Vec<CheckpointRecord>, ArchiveError> {
        read_json_lines(&self.municipality_dir(code).join(CHECKPOINTS))
    }

    /// The archive's files (all but the manifest) as the manifest of [`FORMAT`] lists them,
    /// sorted by path: events files by their leaves, every other file by its bytes. An events
    /// file one of whose recorded leaves is not its event's is an error (the exporter wrote
    /// both).
    pub fn scan(&self) -> Result<Vec<ManifestEntry>, ArchiveError> {
        self.scan_for(FORMAT)
    }

    /// [`Self::scan`] as the manifest of `format` lists files: before [`FORMAT`], events files
    /// too by the SHA-256 of their bytes.
    pub fn scan_for(&self, format: &str) -> Result<Vec<ManifestEntry>, ArchiveError> {
        self.scan_pinned(format == FORMAT, &HashMap::new())?
            .into_iter()
            .map(|(entry, problem)| match problem {
                None => Ok(entry),
                Some(problem) => Err(format_error(&self.root.join(&entry.path), problem)),
            })
            .collect()
    }

    /// The archive's files (all but the manifest) with sizes and, when `by_leaves`, events
    /// files by their leaves (taken from `known`, relative path to leaves' SHA-256, when
    /// there, else computed), every other file by the SHA-256 of its bytes; sorted by path.
    /// Each with what is wrong with it beyond its hash (a recorded leaf that is not its
    /// event's).
    fn scan_pinned(
        &self,
        by_leaves: bool,
        known: &HashMap<String, String>,
    ) -> Result<Vec<(ManifestEntry, Option<String>)>, ArchiveError> {
        self.scan_files(by_leaves)?.resolve(known)
    }

    /// The walk of [`Self::scan_pinned`], every file but the events files pinned by their
    /// leaves hashed: those wait in the [`Scan`] for the leaves a verifier computes meanwhile.
    pub fn scan_files(&self, by_leaves: bool) -> Result<Scan, ArchiveError> {
        let mut entries = Vec::new();
        let mut stack = vec![self.root.clone()];
        while let Some(dir) = stack.pop() {
            for entry in fs::read_dir(&dir).map_err(io(&dir))? {
                let entry = entry.map_err(io(&dir))?;
                let path = entry.path();
                // The entry's own type, not its target's: links are never followed.
                let kind = entry.file_type().map_err(io(&path))?;
                if kind.is_dir() {
                    stack.push(path);
                    continue;
                }
                let relative = self.relative(&path)?;
                if relative == MANIFEST || relative.ends_with(".partial") {
                    continue;
                }
                if !kind.is_file() {
                    // Never read: a link to a directory would loop, one to a device or a pipe
                    // would not end. An export writes regular files only.
                    let entry = ManifestEntry {
                        path: relative,
                        size: 0,
                        sha256: String::new(),
                        leaves_sha256: String::new(),
                    };
                    let problem = "not a regular file (a link, a device or a pipe): not read";
                    entries.push((entry, Some(problem.to_owned()), None));
                    continue;
                }
                if by_leaves && is_events_file(&relative) {
                    let size = fs::metadata(&path).map_err(io(&path))?.len();
                    let entry = ManifestEntry {
                        path: relative,
                        size,
                        sha256: String::new(),
                        leaves_sha256: String::new(),
                    };
                    entries.push((entry, None, Some(path)));
                } else {
                    let (size, sha256) = hash_file(&path)?;
                    let entry = ManifestEntry {
                        path: relative,
                        size,
                        sha256,
                        leaves_sha256: String::new(),
                    };
                    entries.push((entry, None, None));
                }
            }
        }
        entries.sort_by(|a, b| a.0.path.cmp(&b.0.path));
        Ok(Scan { by_leaves, entries })
    }

    /// The path of a file of the archive relative to its root, `/`-separated, as the manifest
    /// names it.
    pub fn relative(&self, path: &Path) -> Result<String, ArchiveError> {
        Ok(path
            .strip_prefix(&self.root)
            .map_err(|_| format_error(path, "outside the archive"))?
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join("/"))
    }

    /// The manifest, if its format is one this build reads.
    fn readable_manifest(&self) -> Result<Manifest, ArchiveError> {
        let manifest = self.manifest()?;
        if ![FORMAT, FORMAT_V2, FORMAT_V1].contains(&manifest.format.as_str()) {
            return Err(format_error(
                &self.root.join(MANIFEST),
                format!(
                    "format {:?}, expected {FORMAT:?}, {FORMAT_V2:?} or {FORMAT_V1:?}",
                    manifest.format
                ),
            ));
        }
        Ok(manifest)
    }

    /// [`Self::check_manifest_with`] from a [`Self::scan_files`] made while the leaves in
    /// `known` were computed (scanned again if the manifest's format wants the other scan).
    pub fn check_manifest_scanned(
        &self,
        scan: Scan,
        known: &HashMap<String, String>,
    ) -> Result<Vec<(String, String)>, ArchiveError> {
        let manifest = self.readable_manifest()?;
        let scan = if scan.by_leaves == (manifest.format == FORMAT) {
            scan
        } else {
            self.scan_files(manifest.format == FORMAT)?
        };
        Ok(manifest_problems(manifest, scan.resolve(known)?))
    }

    /// Files whose size or SHA-256 differ from the manifest, and files missing from it or
    /// from the disk, as `(path, what)`.
    pub fn check_manifest(&self) -> Result<Vec<(String, String)>, ArchiveError> {
        self.check_manifest_with(&HashMap::new())
    }

    /// [`Self::check_manifest`], taking the leaves' SHA-256 of the events files in `known`
    /// (relative path to lowercase hex) as computed: a verifier that checked every record's
    /// leaf against its bytes and hashed those leaves as it went (the files it did not go
    /// through are read here).
    pub fn check_manifest_with(
        &self,
        known: &HashMap<String, String>,
    ) -> Result<Vec<(String, String)>, ArchiveError> {
        let manifest = self.readable_manifest()?;
        let scanned = self.scan_pinned(manifest.format == FORMAT, known)?;
        Ok(manifest_problems(manifest, scanned))
    }
}

/// The archive's files as a scan found them, events files pinned by their leaves still
/// without them ([`Archive::scan_files`]).
#[derive(Debug)]
pub struct Scan {
    by_leaves: bool,
    /// Each file, what is wrong with it, and for an events file waiting for its leaves, its
    /// path.
    entries: Vec<(ManifestEntry, Option<String>, Option<PathBuf>)>,
}

impl Scan {
    /// Every entry with its events file's leaves: from `known` (relative path to leaves'
    /// SHA-256), else computed from the file.
    fn resolve(
        self,
        known: &HashMap<String, String>,
    ) -> Result<Vec<(ManifestEntry, Option<String>)>, ArchiveError> {
        self.entries
            .into_iter()
            .map(|(mut entry, problem, waiting)| {
                let Some(path) = waiting else {
                    return Ok((entry, problem));
                };
                if let Some(leaves) = known.get(&entry.path) {
                    entry.leaves_sha256 = leaves.clone();
                    return Ok((entry, problem));
                }
                Ok(match leaves_sha256(&path)? {
                    Ok(leaves) => {
                        entry.leaves_sha256 = leaves;
                        (entry, problem)
                    }
                    Err(problem) => (entry, Some(problem)),
                })
            })
            .collect()
    }
}

/// What differs between `manifest` and the `scanned` files, as `(path, what)`.
fn manifest_problems(
    manifest: Manifest,
    scanned: Vec<(ManifestEntry, Option<String>)>,
) -> Vec<(String, String)> {
    let mut problems = Vec::new();
    let mut on_disk = BTreeMap::new();
    for (entry, problem) in scanned {
        if let Some(problem) = problem {
            problems.push((entry.path.clone(), problem));
        }
        on_disk.insert(entry.path.clone(), entry);
    }
    let listed: BTreeMap<String, ManifestEntry> = manifest
        .files
        .into_iter()
        .map(|e| (e.path.clone(), e))
        .collect();
    for (path, entry) in &listed {
        match on_disk.get(path) {
            None => problems.push((
                path.clone(),
                "listed in the manifest but missing".to_owned(),
            )),
            Some(found) if found.size != entry.size => problems.push((
                path.clone(),
                format!("{} bytes, the manifest says {}", found.size, entry.size),
            )),
            Some(found) if found.leaves_sha256 != entry.leaves_sha256 => problems.push((
                path.clone(),
                if entry.leaves_sha256.is_empty() {
                    "an events file the manifest pins by its bytes, not its leaves".to_owned()
                } else if found.leaves_sha256.is_empty() {
                    "the manifest pins it by its leaves, but it is not an events file".to_owned()
                } else {
                    format!(
                        "SHA-256 of its leaves {} differs from the manifest's {}",
                        found.leaves_sha256, entry.leaves_sha256
                    )
                },
            )),
            Some(found) if found.sha256 != entry.sha256 => problems.push((
                path.clone(),
                format!(
                    "SHA-256 {} differs from the manifest's {}",
                    found.sha256, entry.sha256
                ),
            )),
            Some(_) => {}
        }
    }
    for path in on_disk.keys() {
        if !listed.contains_key(path) {
            problems.push((path.clone(), "not listed in the manifest".to_owned()));
        }
    }
    problems
}

/// The events files of `dir` (see [`Archive::events_files`]); none when it does not exist.
fn events_files_in(dir: &Path) -> Result<Vec<EventsFile>, ArchiveError> {
    let mut files = Vec::new();
    if !dir.exists() {
        return Ok(files);
    }
    for entry in fs::read_dir(dir).map_err(io(dir))? {
        let entry = entry.map_err(io(dir))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        match parse_events_file_name(&name) {
            Ok(Some(_)) if !entry.file_type().map_err(io(dir))?.is_file() => {
                return Err(format_error(
                    &entry.path(),
                    "named as an events file but not a regular file (a link, a device or a \
                     pipe): not read",
                ));
            }
            Ok(Some((first, last))) => files.push((first, last, entry.path())),
            Ok(None) => {}
            Err(source) => {
                return Err(ArchiveError::EventsFileName {
                    path: entry.path(),
                    source,
                });
            }
        }
    }
    files.sort();
    Ok(files)
}

/// One JSON value per non-blank line of `path`; none when it does not exist.
fn read_json_lines<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<Vec<T>, ArchiveError> {
    if !path.exists() {
        return Ok(Vec::new());
    }
    let text = fs::read_to_string(path).map_err(io(path))?;
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(i, line)| {
            serde_json::from_str(line)
                .map_err(|e| format_error(path, format!("line {}: {e}", i + 1)))
        })
        .collect()
}

/// Whether a file of the archive (its relative path) is an events file: a hromada's or the
/// association log's, named as [`parse_events_file_name`] reads. A format 3 manifest pins these
/// by their leaves.
fn is_events_file(relative: &str) -> bool {
    let mut parts = relative.split('/');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(MUNICIPALITIES), Some(_), Some(name), None)
        | (Some(ASSOCIATION), Some(name), None, None) => {
            matches!(parse_events_file_name(name), Ok(Some(_)))
        }
        _ => false,
    }
}

/// Hashes the leaves of one events file as a verifier goes through it: each event's leaf, in
/// order (see [`ManifestEntry::leaves_sha256`]).
#[derive(Debug, Default)]
pub struct LeavesHasher(Sha256);

impl LeavesHasher {
    pub fn push(&mut self, leaf: &Hash) {
        self.0.update(leaf);
    }

    /// Lowercase hex, as the manifest writes it.
    pub fn finish(self) -> String {
        hex::encode(self.0.finalize())
    }
}

/// The leaves' SHA-256 of the events file at `path` (lowercase hex), computing each leaf from
/// its event's bytes; `Ok(Err(what))` when a record's recorded leaf is not that, or the file's
/// records do not decode (a truncated file).
pub fn leaves_sha256(path: &Path) -> Result<Result<String, String>, ArchiveError> {
    let data = fs::read(path).map_err(io(path))?;
    let records = match decode_events(path, &data) {
        Ok(records) => records,
        Err(ArchiveError::Format { detail, .. }) => return Ok(Err(detail)),
        Err(other) => return Err(other),
    };
    let mut hasher = LeavesHasher::default();
    for (i, record) in records.iter().enumerate() {
        let leaf = merkle::leaf_hash(record.bytes);
        if &leaf != record.leaf {
            return Ok(Err(format!(
                "event record {} of the file: its recorded leaf {} is not its bytes' {}",
                i + 1,
                hex::encode(record.leaf),
                hex::encode(leaf)
            )));
        }
        hasher.push(&leaf);
    }
    Ok(Ok(hasher.finish()))
}

/// Size and SHA-256 of a file.
pub fn hash_file(path: &Path) -> Result<(u64, String), ArchiveError> {
    let mut file = fs::File::open(path).map_err(io(path))?;
    let mut hasher = Sha256::new();
    let size = std::io::copy(&mut file, &mut hasher).map_err(io(path))?;
    Ok((size, hex::encode(hasher.finalize())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_round_trip_and_refuse_truncation() {
        let events: Vec<&[u8]> = vec![b"first event", b"", b"third"];
        let encoded = encode_events(events.iter().copied());
        let path = Path::new("events-000000000001-000000000003.bin");
        let decoded = decode_events(path, &encoded).unwrap();
        assert_eq!(decoded.len(), 3);
        assert_eq!(decoded[0].bytes, b"first event");
        assert_eq!(*decoded[0].leaf, merkle::leaf_hash(b"first event"));
        assert!(decode_events(path, &encoded[..encoded.len() - 1]).is_err());
        assert_eq!(
            parse_events_file_name(&events_file_name(1, 100_000)),
            Ok(Some((1, 100_000)))
        );
        assert_eq!(
            parse_events_file_name("events-x-1.bin"),
            Err(EventsFileNameError::NotANumber)
        );
        assert_eq!(parse_events_file_name(CHECKPOINTS), Ok(None));
        assert_eq!((events_in(1, 100_000), events_in(3, 1)), (100_000, 0));
        assert_eq!(events_in(0, u64::MAX), 0);
    }
}
