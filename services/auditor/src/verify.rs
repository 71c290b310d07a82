//! Full verification of an archive, offline: every leaf hash, every root against every
//! checkpoint, every checkpoint's signature under the key valid when it was accepted and its
//! witness cosignature, consistency between successive checkpoints (each root is recomputed
//! from the same leaves, so each extends the one before), sequence and stream-version
//! continuity, and every event decoding and passing the rules in order. The **first** failure
//! of each hromada is reported with its sequence number, what failed, and expected vs found.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Mutex;

use domain::disclosure::Commitment;
use domain::petition::{PetitionContent, PetitionEvent};
use event_store_core::checkpoint::{
    CheckpointError, NoteVerifier, SignedCheckpoint, WitnessVerifier, origin_for,
};
use event_store_core::merkle::{self, Frontier};
use event_store_core::{EnvelopeRef, Hash, MunicipalityCode};
use indicatif::ProgressBar;
use projection::association_log::{
    Decision, Entry, KeyHistory, LogError, ORIGIN as ASSOCIATION_ORIGIN,
};
use projection::{Outcome, Verified, Working};
use serde::Serialize;

use crate::archive::{
    Archive, ArchiveError, CheckpointRecord, EventsFile, KeyRecord, Keys, LeavesHasher, events_in,
};

/// What failed, first, for one hromada.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Failure {
    /// The event's sequence number, or the checkpoint's size.
    pub seq: u64,
    /// A stable code: `missing`, `sequence`, `leaf_hash`, `undecodable`, `municipality`,
    /// `stream_version`, `disclosure`, `rules`, `root`, `fork`, `checkpoint`, `signature`,
    /// `cosignature`, `beyond_events`, `unsigned`, `archive`; for the association's log also
    /// `time`, `statement`, `keys` and `format`.
    pub check: &'static str,
    pub detail: String,
    pub expected: String,
    pub found: String,
}

/// One hromada's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MunicipalityReport {
    pub code: String,
    pub events: u64,
    pub checkpoints: u64,
    /// Events covered by a verified checkpoint (a prefix `1..verified_to`).
    pub verified_to: u64,
    pub failure: Option<Failure>,
}

/// The whole result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    pub ok: bool,
    pub events: u64,
    /// The association's own log (in an archive of format 1, which has none, a `format`
    /// failure unless accepted).
    pub association: Option<AssociationReport>,
    /// What the reader should know that is not a failure.
    pub notes: Vec<String>,
    /// The archive's witness key when it is not the one the auditor pinned (then every
    /// signature of the association is checked under the pinned key).
    pub witness_mismatch: Option<String>,
    /// Files whose SHA-256 differs from the manifest, or that are missing or unlisted.
    pub manifest_problems: Vec<(String, String)>,
    pub municipalities: Vec<MunicipalityReport>,
}

/// One piece of a verify's work, taken by whichever thread is free.
enum Job<'a> {
    Municipality(&'a (MunicipalityCode, Vec<EventsFile>)),
    /// A manifest that pins every file by its bytes (formats 1 and 2): all of them hashed.
    ManifestByBytes,
    /// For a manifest of format 3, the walk of the archive, every file hashed but the events
    /// files, whose leaves the hromadas' jobs hash as they check them.
    ManifestScan,
}

/// Keys of one hromada with the time each was valid.
#[derive(Debug)]
struct ValidKey {
    key: NoteVerifier,
    from: i64,
    until: Option<i64>,
}

fn failure(
    seq: u64,
    check: &'static str,
    detail: impl Into<String>,
    expected: impl Into<String>,
    found: impl Into<String>,
) -> Failure {
    Failure {
        seq,
        check,
        detail: detail.into(),
        expected: expected.into(),
        found: found.into(),
    }
}

/// How to verify.
#[derive(Debug, Clone, Default)]
pub struct VerifyOptions {
    /// Hromadas verified at once (1 to 16).
    pub threads: usize,
    /// Show a progress bar.
    pub progress: bool,
    /// The association's witness key as the auditor knows it from elsewhere: every signature
    /// of the association (its log, cosignatures, statement) is checked under it, and an
    /// archive naming another key is reported. Without it the archive's key is taken.
    pub pinned: Option<NoteVerifier>,
    /// Accept an archive of format 1, whose key history is not a signed log.
    pub accept_format_1: bool,
}

/// Verifies the archive at `archive`, `threads` hromadas at a time; `progress` shows a bar.
pub fn verify(archive: &Archive, threads: usize, progress: bool) -> Result<Report, ArchiveError> {
    verify_with(
        archive,
        &VerifyOptions {
            threads,
            progress,
            ..VerifyOptions::default()
        },
    )
}

/// [`verify`] with all of [`VerifyOptions`].
pub fn verify_with(archive: &Archive, options: &VerifyOptions) -> Result<Report, ArchiveError> {
    let (threads, progress) = (options.threads, options.progress);
    let mut archived_keys = archive.keys()?;
    let mut witness_mismatch = None;
    let mut notes = Vec::new();
    if options.pinned.is_none() {
        notes.push(format!(
            "the association's key was taken from the archive ({}); pin the one you know with \
             --witness-vkey",
            archived_keys.witness_vkey.trim()
        ));
    }
    if let Some(pinned) = &options.pinned {
        let archived = NoteVerifier::parse(archived_keys.witness_vkey.trim()).ok();
        if archived.as_ref() != Some(pinned) {
            witness_mismatch = Some(archived_keys.witness_vkey.trim().to_owned());
            archived_keys.witness_vkey = pinned.to_text();
        }
    }
    let codes = archive.municipalities()?;
    // The key history node signatures are checked against: the association's signed log's,
    // or in an archive of format 1 (no log) keys.json, the association's word alone.
    // Read once here for its format (checked whole, with every file, at the end).
    let format = archive.manifest().map(|m| m.format).unwrap_or_default();
    let format_2 = format == crate::archive::FORMAT || format == crate::archive::FORMAT_V2;
    let (association, keys) = if archive.has_association_log() || format_2 {
        let statement = archive
            .digest()
            .map(|d| d.statement_note)
            .unwrap_or_default();
        let (report, keys) = verify_association(archive, &archived_keys, &statement, threads)?;
        let keys = Keys {
            witness_vkey: archived_keys.witness_vkey.clone(),
            keys,
        };
        (Some(report), keys)
    } else {
        let unsigned = "the archive holds no association log (format 1): the enrolment history \
                        in keys.json is the association's word, not a signed log";
        let report = AssociationReport {
            entries: 0,
            checkpoints: 0,
            verified_to: 0,
            statement_entry: None,
            failure: (!options.accept_format_1).then(|| {
                failure(
                    0,
                    "format",
                    format!("{unsigned}; export again, or accept it with --accept-format-1"),
                    crate::archive::FORMAT,
                    crate::archive::FORMAT_V1,
                )
            }),
        };
        if options.accept_format_1 {
            notes.push(unsigned.to_owned());
        }
        (Some(report), archived_keys)
    };
    let witness = NoteVerifier::parse(keys.witness_vkey.trim())
        .map(|k| WitnessVerifier::from_note_verifier(&k))
        .ok();
    // Each hromada's events files, listed once: they size the bar and are then verified.
    let listings: Vec<(MunicipalityCode, Vec<EventsFile>)> = codes
        .iter()
        .map(|c| archive.events_files(c).map(|files| (*c, files)))
        .collect::<Result<_, _>>()?;
    let total: u64 = listings
        .iter()
        .flat_map(|(_, files)| files.iter().map(|(a, b, _)| events_in(*a, *b)))
        .fold(0, u64::saturating_add);
    let bar = crate::progress_bar(
        progress,
        total,
        "{spinner} verifying {pos}/{len} events ({per_sec}, {eta} left) {wide_bar}",
    );
    // Jobs: each hromada, and one for the manifest: every file hashed by its bytes for a
    // manifest of format 2 or 1; for format 3, the walk of the archive, its events files left
    // for the leaves the hromadas' jobs hash as they check them (compared after them).
    let by_leaves = format == crate::archive::FORMAT;
    let mut jobs: Vec<Job<'_>> = listings.iter().map(Job::Municipality).collect();
    // Taken first (the queue is a stack), beside the first hromada.
    jobs.push(if by_leaves {
        Job::ManifestScan
    } else {
        Job::ManifestByBytes
    });
    let queue = Mutex::new(jobs);
    let results = Mutex::new(Vec::new());
    let leaves = Mutex::new(HashMap::new());
    let errors = Mutex::new(Vec::new());
    let manifest = Mutex::new(None);
    let scan = Mutex::new(None);
    let worker = || {
        loop {
            let next = match queue.lock() {
                Ok(mut q) => q.pop(),
                Err(_) => None,
            };
            let Some(job) = next else { break };
            let (code, files) = match job {
                Job::Municipality((code, files)) => (code, files),
                Job::ManifestByBytes => {
                    let checked = archive.check_manifest();
                    if let Ok(mut m) = manifest.lock() {
                        *m = Some(checked);
                    }
                    continue;
                }
                Job::ManifestScan => {
                    let scanned = archive.scan_files(true);
                    if let Ok(mut s) = scan.lock() {
                        *s = Some(scanned);
                    }
                    continue;
                }
            };
            match verify_municipality(archive, &keys, witness.as_ref(), code, files, &bar) {
                Ok((report, hashed)) => {
                    if let Ok(mut r) = results.lock() {
                        r.push(report);
                    }
                    if let Ok(mut l) = leaves.lock() {
                        l.extend(hashed);
                    }
                }
                Err(e) => {
                    if let Ok(mut errs) = errors.lock() {
                        errs.push(e);
                    }
                }
            }
        }
    };
    std::thread::scope(|scope| {
        let spawned = (0..threads.clamp(1, 16))
            .filter(|_| verify_thread(scope, worker).is_ok())
            .count();
        if spawned == 0 {
            worker();
        }
    });
    bar.finish_and_clear();
    if let Some(e) = errors.into_inner().ok().and_then(|mut e| e.pop()) {
        return Err(e);
    }
    let manifest_problems = match manifest.into_inner().ok().flatten() {
        Some(checked) => checked?,
        None => {
            let known = leaves.into_inner().unwrap_or_default();
            // The scan is the first job taken; without it (a poisoned lock) the walk is made here.
            match scan.into_inner().ok().flatten() {
                Some(scanned) => archive.check_manifest_scanned(scanned?, &known)?,
                None => archive.check_manifest_with(&known)?,
            }
        }
    };
    let mut municipalities = results.into_inner().unwrap_or_default();
    municipalities.sort_by(|a, b| a.code.cmp(&b.code));
    let ok = manifest_problems.is_empty()
        && witness_mismatch.is_none()
        && municipalities.iter().all(|m| m.failure.is_none())
        && association.as_ref().is_none_or(|a| a.failure.is_none());
    Ok(Report {
        ok,
        events: municipalities.iter().map(|m| m.events).sum(),
        association,
        notes,
        witness_mismatch,
        manifest_problems,
        municipalities,
    })
}

fn keys_of(keys: &Keys, code: &MunicipalityCode) -> Vec<ValidKey> {
    keys.keys
        .iter()
        .filter(|k: &&KeyRecord| k.code == code.as_str())
        .filter_map(|k| {
            Some(ValidKey {
                key: NoteVerifier::parse(k.vkey.trim()).ok()?,
                from: k.enrolled_at_micros,
                until: (k.revoked_at_micros > 0).then_some(k.revoked_at_micros),
            })
        })
        .collect()
}

/// Checks one checkpoint; `None` when it is good.
fn check_checkpoint(
    code: &MunicipalityCode,
    cp: &CheckpointRecord,
    keys: &[ValidKey],
    witness: Option<&WitnessVerifier>,
) -> Option<Failure> {
    let origin = origin_for(code);
    let signed = match SignedCheckpoint::parse(&cp.cosigned_note) {
        Ok(signed) => signed,
        Err(e) => {
            return Some(failure(
                cp.size,
                "checkpoint",
                format!("the note does not parse: {e}"),
                "a signed note",
                "",
            ));
        }
    };
    if signed.checkpoint.size != cp.size
        || hex::encode(signed.checkpoint.root) != cp.root
        || signed.checkpoint.origin != origin
    {
        return Some(failure(
            cp.size,
            "checkpoint",
            "the note does not say what its record says",
            format!("{origin} size {} root {}", cp.size, cp.root),
            format!(
                "{} size {} root {}",
                signed.checkpoint.origin,
                signed.checkpoint.size,
                hex::encode(signed.checkpoint.root)
            ),
        ));
    }
    let valid: Vec<&ValidKey> = keys
        .iter()
        .filter(|k| {
            k.from <= cp.accepted_at_micros
                && k.until.is_none_or(|until| cp.accepted_at_micros < until)
        })
        .collect();
    if !valid
        .iter()
        .any(|k| signed.verify_for(&k.key, &origin).is_ok())
    {
        return Some(failure(
            cp.size,
            "signature",
            "no signature verifies under a key enrolled when the checkpoint was accepted",
            valid
                .iter()
                .map(|k| k.key.to_text())
                .collect::<Vec<_>>()
                .join(" or "),
            signed
                .signatures
                .iter()
                .map(|s| s.name.clone())
                .collect::<Vec<_>>()
                .join(", "),
        ));
    }
    match witness {
        Some(witness) => {
            if let Err(e) = signed.verify_cosignature(witness) {
                return Some(failure(
                    cp.size,
                    "cosignature",
                    format!("the witness cosignature does not verify: {e}"),
                    "a valid cosignature",
                    "",
                ));
            }
        }
        None => {
            return Some(failure(
                cp.size,
                "cosignature",
                "the archive's witness key does not parse",
                "a witness vkey",
                "",
            ));
        }
    }
    None
}

/// One hromada's report, and the leaves' SHA-256 of each events file it went through whole
/// with every recorded leaf its event's (relative path, lowercase hex), for the manifest.
fn verify_municipality(
    archive: &Archive,
    keys: &Keys,
    witness: Option<&WitnessVerifier>,
    code: &MunicipalityCode,
    files: &[EventsFile],
    bar: &ProgressBar,
) -> Result<(MunicipalityReport, Vec<(String, String)>), ArchiveError> {
    let mut hashed = Vec::with_capacity(files.len());
    let keys = keys_of(keys, code);
    let checkpoints = archive.checkpoints(code)?;
    let mut report = MunicipalityReport {
        code: code.to_string(),
        events: 0,
        checkpoints: checkpoints.len() as u64,
        verified_to: 0,
        failure: None,
    };
    // Checkpoints by size; a second, different root for one size is a fork.
    let (by_size, forks) = index_checkpoints(&checkpoints, |c| (c.size, &c.root));
    // The sizes with a checkpoint (and so any fork) to check: most events have none. The tree
    // grows one leaf at a time from size 1, so each of these is met in turn; a record of size 0
    // (never met) must not stand in the way of the others.
    let marks: BTreeSet<u64> = by_size.keys().copied().filter(|size| *size > 0).collect();
    let mut next_mark = marks.first().copied();
    let mut run = Run::new(*code);
    let mut failure_found: Option<Failure> = None;
    'files: for &(first, last, ref path) in files {
        if first != run.next {
            failure_found = Some(failure(
                run.next,
                "missing",
                format!("no events file starts at {}", run.next),
                format!("events from {}", run.next),
                format!("a file of {first}..={last}"),
            ));
            break;
        }
        let data = archive.read_events_file(path)?;
        let records = crate::archive::decode_events(path, &data)?;
        let held = records.len() as u64;
        bar.inc(held);
        let mut leaves = LeavesHasher::default();
        for record in records {
            report.events += 1;
            // The one hash of the event's bytes: its leaf, for the tree and the manifest.
            let leaf = merkle::leaf_hash(record.bytes);
            leaves.push(&leaf);
            if let Some(f) = run.event(record.leaf, leaf, record.bytes) {
                failure_found = Some(f);
                break 'files;
            }
            let size = run.frontier.size();
            if next_mark != Some(size) {
                continue;
            }
            next_mark = marks.range(size + 1..).next().copied();
            if let Some((accepted, other)) = forks.get(&size) {
                failure_found = Some(failure(
                    size,
                    "fork",
                    "two checkpoints of one size with different roots",
                    accepted.clone(),
                    other.clone(),
                ));
                break 'files;
            }
            if let Some(cp) = by_size.get(&size) {
                if let Some(f) = check_checkpoint(code, cp, &keys, witness) {
                    failure_found = Some(f);
                    break 'files;
                }
                let root = hex::encode(run.frontier.root());
                if root != cp.root {
                    failure_found = Some(failure(
                        size,
                        "root",
                        "the checkpoint's root is not the root of the archived events (not consistent with the previous checkpoint and the events since)",
                        cp.root.clone(),
                        root,
                    ));
                    break 'files;
                }
                report.verified_to = size;
            }
        }
        let named = events_in(first, last);
        if held != named {
            failure_found = Some(failure(
                first.saturating_add(held),
                "missing",
                format!(
                    "{} holds {held} events, its name says {named}",
                    path.display(),
                ),
                format!("{named} events"),
                format!("{held} events"),
            ));
            break;
        }
        hashed.push((archive.relative(path)?, leaves.finish()));
    }
    if failure_found.is_none()
        && let Some((&size, _)) = by_size.range(run.frontier.size() + 1..).next()
    {
        failure_found = Some(failure(
            run.frontier.size() + 1,
            "beyond_events",
            format!("a checkpoint of size {size} covers events the archive does not hold"),
            format!("{size} events"),
            format!("{} events", run.frontier.size()),
        ));
    }
    if failure_found.is_none()
        && let Some((&size, (a, b))) = forks.iter().next()
    {
        failure_found = Some(failure(
            size,
            "fork",
            "two checkpoints of one size with different roots",
            a.clone(),
            b.clone(),
        ));
    }
    // The association verifies a hromada's events only under a checkpoint it signed, and an
    // export stops at the verified size: events past the last checkpoint (or a hromada whose
    // checkpoints are gone) are events nobody signed for.
    if failure_found.is_none() && report.verified_to < run.frontier.size() {
        failure_found = Some(failure(
            report.verified_to + 1,
            "unsigned",
            "events no checkpoint of the hromada covers",
            format!("a checkpoint of size {}", run.frontier.size()),
            format!("the last at {}", report.verified_to),
        ));
    }
    report.failure = failure_found;
    Ok((report, hashed))
}

/// What a commitment is to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Committed {
    Petition,
    Contribution,
}

/// The hasher of a run's maps: fast, and seeded per process and map (as the working set's,
/// `projection::batch`), as the ids in them are the archive's (hostile until verified).
type Seeded = foldhash::fast::RandomState;

/// The sequential checks of one hromada's events.
struct Run {
    code: MunicipalityCode,
    next: u64,
    frontier: Frontier,
    stream_versions: HashMap<u128, u64, Seeded>,
    /// Commitments of petitions filed and not yet moderated, and of contributions submitted
    /// and not yet answered, by kind and id.
    commitments: HashMap<(Committed, u128), Commitment, Seeded>,
    /// The rules ([`Working::rules_only`]): a replay from the log's first event, each event
    /// applied as soon as it is decoded, while its bytes and fields are still in the cache.
    rules: Working,
}

impl Run {
    fn new(code: MunicipalityCode) -> Self {
        Self {
            code,
            next: 1,
            frontier: Frontier::new(),
            stream_versions: HashMap::default(),
            commitments: HashMap::default(),
            rules: Working::rules_only(),
        }
    }

    /// Checks one event, whose bytes hash to `leaf`, adds it to the tree and applies it to the
    /// rules; `Some` on its failure.
    fn event(&mut self, recorded_leaf: &Hash, leaf: Hash, bytes: &[u8]) -> Option<Failure> {
        let seq = self.next;
        if &leaf != recorded_leaf {
            return Some(failure(
                seq,
                "leaf_hash",
                "the event's bytes do not hash to the leaf recorded when it was exported",
                hex::encode(recorded_leaf),
                hex::encode(leaf),
            ));
        }
        let envelope = match EnvelopeRef::decode(bytes) {
            Ok(envelope) => envelope,
            Err(e) => {
                return Some(failure(
                    seq,
                    "undecodable",
                    format!("not an envelope: {e}"),
                    "an envelope",
                    "",
                ));
            }
        };
        if envelope.seq.0 != seq {
            return Some(failure(
                seq,
                "sequence",
                "the event at this position carries another sequence number",
                seq.to_string(),
                envelope.seq.0.to_string(),
            ));
        }
        if envelope.municipality != self.code {
            return Some(failure(
                seq,
                "municipality",
                "the event belongs to another hromada",
                self.code.to_string(),
                envelope.municipality.to_string(),
            ));
        }
        let stream = envelope.stream_id.0.as_u128();
        let version = self.stream_versions.entry(stream).or_insert(0);
        if envelope.stream_version.0 != *version + 1 {
            return Some(failure(
                seq,
                "stream_version",
                format!("stream {} does not continue", envelope.stream_id.0),
                (*version + 1).to_string(),
                envelope.stream_version.0.to_string(),
            ));
        }
        *version += 1;
        let event = match domain::decode(
            envelope.event_type,
            envelope.schema_version,
            envelope.payload,
        ) {
            Ok(event) => event,
            Err(e) => {
                return Some(failure(
                    seq,
                    "undecodable",
                    format!("the payload does not decode: {e}"),
                    "a domain event",
                    "",
                ));
            }
        };
        if let Some(failure) = self.check_disclosure(seq, &event) {
            return Some(failure);
        }
        self.frontier.push(leaf, |_, _| {});
        self.next += 1;
        let verified = Verified {
            municipality: self.code,
            seq,
            event,
        };
        match self.rules.apply(&verified) {
            Ok(Outcome::Anomaly(anomaly)) => Some(failure(
                seq,
                "rules",
                format!(
                    "{} breaks the rules: {anomaly}",
                    verified.event.event_type().name()
                ),
                "an event the rules allow here",
                anomaly.to_string(),
            )),
            Ok(_) => None,
            Err(e) => Some(failure(seq, "rules", e.to_string(), "", "")),
        }
    }

    /// A petition's publication must disclose exactly the title and text its filing committed
    /// to, and an accepted contribution's answer the text its submission committed to
    /// (event-store/FORMAT.md, "Payloads"); nothing else discloses anything.
    fn check_disclosure(&mut self, seq: u64, event: &domain::Event) -> Option<Failure> {
        use domain::dialogue::{ContributionContent, ContributionResponse, DialogueEvent};
        let (key, disclosed, required, what) = match event {
            domain::Event::Petition(PetitionEvent::Filed(filed)) => {
                if let PetitionContent::Committed(c) = filed.content {
                    let id = filed.petition_id.0.as_u128();
                    self.commitments.insert((Committed::Petition, id), c);
                }
                return None;
            }
            domain::Event::Dialogue(DialogueEvent::ContributionSubmitted(submitted)) => {
                if let ContributionContent::Committed(c) = submitted.content {
                    let id = submitted.contribution_id.0.as_u128();
                    self.commitments.insert((Committed::Contribution, id), c);
                }
                return None;
            }
            domain::Event::Petition(PetitionEvent::Rejected(rejected)) => {
                let id = rejected.petition_id.0.as_u128();
                self.commitments.remove(&(Committed::Petition, id));
                return None;
            }
            domain::Event::Petition(PetitionEvent::Published(published)) => (
                (Committed::Petition, published.petition_id.0.as_u128()),
                published.disclosure.as_ref().map(|d| d.commitment()),
                true,
                "the publication does not disclose the title and text its filing committed to",
            ),
            domain::Event::Dialogue(DialogueEvent::ContributionAnswered(answered)) => (
                (
                    Committed::Contribution,
                    answered.contribution_id.0.as_u128(),
                ),
                answered.disclosure.as_ref().map(|d| d.commitment()),
                answered.response != ContributionResponse::Rejected,
                "the answer does not disclose exactly the text the submission committed to",
            ),
            _ => return None,
        };
        let committed = self.commitments.remove(&key);
        match (committed.filter(|_| required), disclosed) {
            (None, None) => None,
            (Some(c), Some(d)) if c == d => None,
            (committed, disclosed) => Some(failure(
                seq,
                "disclosure",
                what,
                committed
                    .map(|c| hex::encode(c.0))
                    .unwrap_or_else(|| "no disclosure".into()),
                disclosed
                    .map(|d| hex::encode(d.0))
                    .unwrap_or_else(|| "none".into()),
            )),
        }
    }
}

/// The association's own log's result (`projection::association_log`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AssociationReport {
    pub entries: u64,
    pub checkpoints: u64,
    /// Entries covered by a checkpoint signed with the witness key (a prefix).
    pub verified_to: u64,
    /// The entry holding the archive's statement, when the archive has one.
    pub statement_entry: Option<u64>,
    pub failure: Option<Failure>,
}

/// Replays the archive's association log, entries `1..=upto` at most, into the key history it
/// says; stops at the first entry that does not decode or breaks a rule, and returns it.
pub fn replay_association_log(
    archive: &Archive,
    upto: u64,
) -> Result<(KeyHistory, Option<LogError>), ArchiveError> {
    let mut history = KeyHistory::new();
    for (_, _, path) in archive.association_files()? {
        let data = archive.read_events_file(&path)?;
        for record in crate::archive::decode_events(&path, &data)? {
            let seq = history.entries() + 1;
            if seq > upto {
                return Ok((history, None));
            }
            let applied = Entry::decode(seq, record.bytes).and_then(|e| history.apply(&e));
            if let Err(e) = applied {
                return Ok((history, Some(e)));
            }
        }
    }
    Ok((history, None))
}

/// The key history as `keys.json` records, by hromada, enrolment time and key.
pub fn key_records(history: &KeyHistory) -> Vec<KeyRecord> {
    history
        .windows()
        .into_iter()
        .map(|w| KeyRecord {
            code: w.municipality,
            vkey: w.vkey,
            enrolled_at_micros: w.enrolled_at_micros,
            revoked_at_micros: w.revoked_at_micros.unwrap_or(0),
        })
        .collect()
}

/// `keys` in one order (by hromada, enrolment time, key, revocation), to compare histories.
fn sorted_keys(keys: &[KeyRecord]) -> Vec<KeyRecord> {
    let mut keys = keys.to_vec();
    keys.sort_by(|a, b| {
        (&a.code, a.enrolled_at_micros, &a.vkey, a.revoked_at_micros).cmp(&(
            &b.code,
            b.enrolled_at_micros,
            &b.vkey,
            b.revoked_at_micros,
        ))
    });
    keys
}

/// Verifies the association's log: every entry's leaf, its one encoding, its position, its
/// time and its rules ([`KeyHistory`]), every checkpoint's signature under the witness key and
/// root, no fork and no entry left unsigned; the archive's statement among its entries; and
/// `keys.json` equal to the history it replays to. Returns the report and the key history of
/// the verified prefix, the one node signatures are checked against.
fn verify_association(
    archive: &Archive,
    keys: &Keys,
    statement_note: &str,
    threads: usize,
) -> Result<(AssociationReport, Vec<KeyRecord>), ArchiveError> {
    let files = archive.association_files()?;
    let checkpoints = archive.association_checkpoints()?;
    let witness = NoteVerifier::parse(keys.witness_vkey.trim()).ok();
    let (by_size, forks) = index_checkpoints(&checkpoints, |c| (c.size, &c.root));
    // Each note parsed once: its signature is checked up front, its fields in the walk.
    let notes: BTreeMap<u64, Result<SignedCheckpoint, CheckpointError>> = by_size
        .iter()
        .map(|(size, cp)| (*size, SignedCheckpoint::parse(&cp.note)))
        .collect();
    let signatures = witness
        .as_ref()
        .map(|key| association_signatures(&notes, key, threads))
        .unwrap_or_default();
    let mut report = AssociationReport {
        entries: 0,
        checkpoints: checkpoints.len() as u64,
        verified_to: 0,
        statement_entry: None,
        failure: None,
    };
    let mut history = KeyHistory::new();
    let mut frontier = Frontier::new();
    let mut found: Option<Failure> = None;
    'files: for (first, last, path) in &files {
        let next = frontier.size() + 1;
        if *first != next {
            found = Some(failure(
                next,
                "missing",
                format!("no entries file starts at {next}"),
                format!("entries from {next}"),
                format!("a file of {first}..={last}"),
            ));
            break;
        }
        let data = archive.read_events_file(path)?;
        let records = crate::archive::decode_events(path, &data)?;
        if records.len() as u64 != events_in(*first, *last) {
            found = Some(failure(
                first.saturating_add(records.len() as u64),
                "missing",
                format!(
                    "{} holds {} entries, its name says {}",
                    path.display(),
                    records.len(),
                    events_in(*first, *last)
                ),
                format!("{} entries", events_in(*first, *last)),
                format!("{} entries", records.len()),
            ));
            break;
        }
        for record in records {
            let seq = frontier.size() + 1;
            let leaf = merkle::leaf_hash(record.bytes);
            if &leaf != record.leaf {
                found = Some(failure(
                    seq,
                    "leaf_hash",
                    "the entry's bytes do not hash to the leaf recorded when it was exported",
                    hex::encode(record.leaf),
                    hex::encode(leaf),
                ));
                break 'files;
            }
            let entry = match Entry::decode(seq, record.bytes).and_then(|e| {
                history.apply(&e)?;
                Ok(e)
            }) {
                Ok(entry) => entry,
                Err(e) => {
                    found = Some(failure(seq, e.code(), e.to_string(), "", ""));
                    break 'files;
                }
            };
            report.entries = seq;
            frontier.push(leaf, |_, _| {});
            if let Decision::Stated { note } = &entry.decision
                && !statement_note.is_empty()
                && note == statement_note
            {
                report.statement_entry = Some(seq);
            }
            if let Some((a, b)) = forks.get(&seq) {
                found = Some(failure(
                    seq,
                    "fork",
                    "two checkpoints of one size with different roots",
                    a.clone(),
                    b.clone(),
                ));
                break 'files;
            }
            let Some(cp) = by_size.get(&seq) else {
                continue;
            };
            let signed = match notes.get(&seq) {
                Some(parsed) => parsed.clone(),
                None => SignedCheckpoint::parse(&cp.note),
            };
            let checked = match (&signed, &witness) {
                (Err(e), _) => Err(failure(
                    seq,
                    "checkpoint",
                    format!("the note does not parse: {e}"),
                    "a signed note",
                    "",
                )),
                (Ok(s), _)
                    if s.checkpoint.size != cp.size
                        || hex::encode(s.checkpoint.root) != cp.root
                        || s.checkpoint.origin != ASSOCIATION_ORIGIN =>
                {
                    Err(failure(
                        seq,
                        "checkpoint",
                        "the note does not say what its record says",
                        format!("{ASSOCIATION_ORIGIN} size {} root {}", cp.size, cp.root),
                        format!(
                            "{} size {} root {}",
                            s.checkpoint.origin,
                            s.checkpoint.size,
                            hex::encode(s.checkpoint.root)
                        ),
                    ))
                }
                (Ok(_), None) => Err(failure(
                    seq,
                    "signature",
                    "the archive's witness key does not parse",
                    "a witness vkey",
                    "",
                )),
                (Ok(s), Some(key)) => match signatures.get(&seq) {
                    Some(checked) => checked.clone(),
                    None => s.verify_for(key, ASSOCIATION_ORIGIN),
                }
                .map_err(|e| {
                    failure(
                        seq,
                        "signature",
                        format!("the association's signature does not verify: {e}"),
                        key.to_text(),
                        "",
                    )
                }),
            };
            if let Err(f) = checked {
                found = Some(f);
                break 'files;
            }
            let root = hex::encode(frontier.root());
            if root != cp.root {
                found = Some(failure(
                    seq,
                    "root",
                    "the checkpoint the association signed is not the root of the archived entries (an entry up to here was rewritten)",
                    cp.root.clone(),
                    root,
                ));
                break 'files;
            }
            report.verified_to = seq;
        }
    }
    let entries = frontier.size();
    if found.is_none() && entries == 0 {
        found = Some(failure(
            1,
            "missing",
            "the archive holds no entry of the association's log",
            "its enrolments at least",
            "none",
        ));
    }
    if found.is_none()
        && let Some((&size, _)) = by_size.range(entries + 1..).next()
    {
        found = Some(failure(
            entries + 1,
            "beyond_events",
            format!("a checkpoint of size {size} covers entries the archive does not hold"),
            format!("{size} entries"),
            format!("{entries} entries"),
        ));
    }
    if found.is_none() && report.verified_to < entries {
        found = Some(failure(
            report.verified_to + 1,
            "unsigned",
            "entries no checkpoint of the association covers",
            format!("a checkpoint of size {entries}"),
            format!("the last at {}", report.verified_to),
        ));
    }
    if found.is_none()
        && !statement_note.is_empty()
        && report
            .statement_entry
            .is_none_or(|seq| seq > report.verified_to)
    {
        found = Some(failure(
            entries,
            "statement",
            "the archive's statement is not an entry of the association's log",
            "a Stated entry with the statement's note",
            "none",
        ));
    }
    let replayed = sorted_keys(&key_records(&history));
    let archived = sorted_keys(&keys.keys);
    if found.is_none() && archived != replayed {
        let window = |k: Option<&KeyRecord>| {
            k.map(|k| {
                format!(
                    "{} {} from {} until {}",
                    k.code, k.vkey, k.enrolled_at_micros, k.revoked_at_micros
                )
            })
            .unwrap_or_else(|| "no window".into())
        };
        let at = (0..replayed.len().max(archived.len()))
            .find(|i| replayed.get(*i) != archived.get(*i))
            .unwrap_or(0);
        found = Some(failure(
            entries,
            "keys",
            format!(
                "keys.json is not the enrolment history the association's log says (window {} of {})",
                at + 1,
                replayed.len()
            ),
            window(replayed.get(at)),
            window(archived.get(at)),
        ));
    }
    // Node signatures are checked against the history of the signed prefix only.
    let keys = if found.is_none() {
        replayed
    } else {
        key_records(&replay_association_log(archive, report.verified_to)?.0)
    };
    report.failure = found;
    Ok((report, keys))
}

/// Whether each of the association's parsed checkpoint notes (by size) is signed under `key`
/// for its log, checked on up to `threads` threads: the log has a checkpoint for each
/// decision, and the hromadas need the key history it gives. A note that does not parse is
/// the caller's to report.
fn association_signatures(
    notes: &BTreeMap<u64, Result<SignedCheckpoint, CheckpointError>>,
    key: &NoteVerifier,
    threads: usize,
) -> HashMap<u64, Result<(), CheckpointError>> {
    let signed: Vec<(u64, &SignedCheckpoint)> = notes
        .iter()
        .filter_map(|(size, note)| Some((*size, note.as_ref().ok()?)))
        .collect();
    let per_thread = signed.len().div_ceil(threads.clamp(1, 16)).max(1);
    let check = |chunk: &[(u64, &SignedCheckpoint)]| -> Vec<(u64, Result<(), CheckpointError>)> {
        chunk
            .iter()
            .map(|(size, s)| (*size, s.verify_for(key, ASSOCIATION_ORIGIN)))
            .collect()
    };
    std::thread::scope(|scope| {
        let spawned: Vec<_> = signed
            .chunks(per_thread)
            .map(|chunk| (chunk, verify_thread(scope, move || check(chunk))))
            .collect();
        // A thread that could not start or did not finish leaves its share to this one.
        spawned
            .into_iter()
            .flat_map(|(chunk, thread)| match thread.map(|t| t.join()) {
                Ok(Ok(checked)) => checked,
                _ => check(chunk),
            })
            .collect()
    })
}

/// A verify thread, named so a profile or a debugger tells them apart; an error when the
/// system cannot start one (the caller does that share itself).
fn verify_thread<'scope, T: Send + 'scope>(
    scope: &'scope std::thread::Scope<'scope, '_>,
    work: impl FnOnce() -> T + Send + 'scope,
) -> std::io::Result<std::thread::ScopedJoinHandle<'scope, T>> {
    std::thread::Builder::new()
        .name("audit-verify".into())
        .spawn_scoped(scope, work)
}

/// Sizes whose checkpoints disagree: the first root and another.
type Forks = BTreeMap<u64, (String, String)>;

/// Checkpoints by size (the first of each), and the sizes with a second, different root.
fn index_checkpoints<T>(
    records: &[T],
    size_root: impl Fn(&T) -> (u64, &String),
) -> (BTreeMap<u64, &T>, Forks) {
    let mut by_size: BTreeMap<u64, &T> = BTreeMap::new();
    let mut forks = BTreeMap::new();
    for record in records {
        let (size, root) = size_root(record);
        match by_size.get(&size) {
            Some(other) => {
                let (_, other_root) = size_root(other);
                if other_root != root {
                    forks.insert(size, (other_root.clone(), root.clone()));
                }
            }
            None => {
                by_size.insert(size, record);
            }
        }
    }
    (by_size, forks)
}
