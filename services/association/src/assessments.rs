//! Independent assessment of OGP-Local commitments (`domain::assessment`): the association
//! enrols monitors (organisations with an Ed25519 key of their own, declaring the hromadas they
//! are not independent of) and records the assessments they sign, each decision an entry of
//! its own log (`decisions`) written in the decision's transaction.
//!
//! An assessment is checked under the domain's rules before it is recorded: the monitor
//! enrolled now, its signature, no hromada's key behind it, not a hromada the monitor is not
//! independent of, the commitment in the hromada's verified log (and not withdrawn), not dated
//! ahead. Auditors check the same rules again when they replay the log
//! (`projection::association_log::KeyHistory`), all but the commitment's existence, which
//! needs the hromada's log.
//!
//! Kept apart from the projection: an independent assessment never changes the hromada's
//! self-reported figures, and the national reads show both side by side, naming the monitor.

use std::collections::HashMap;

use domain::assessment::{
    self, CommitmentStanding, Context, Monitor, SignedAssessment, completion_name,
    opened_government_name,
};
use domain::{CommitmentId, PlanId};
use event_store_core::checkpoint::NoteVerifier;
use event_store_core::{MunicipalityCode, Timestamp};
use projection::association_log::Decision;
use projection::codes::{opened_government_from_code, status_from_code};
use projection::rows::{CommitmentRow, PlanRow};
use sha2::{Digest as _, Sha256};
use sqlx::{Postgres, Row, Transaction};

use crate::decisions::{Head, Signer};
use crate::error::AssociationError;
use crate::rows::{COMMITMENTS, PLANS, decode};
use crate::store::{Store, db, int, uint};

/// Longest assessment note accepted (a summary of 1,000 characters is under 4 KiB).
pub const NOTE_LEN_MAX: usize = 8 * 1024;

/// A monitor to enrol.
#[derive(Debug, Clone)]
pub struct MonitorEnrolment {
    pub monitor: String,
    pub name: String,
    pub vkey: NoteVerifier,
    /// Sorted, without repeats.
    pub not_independent_of: Vec<MunicipalityCode>,
}

impl MonitorEnrolment {
    /// An enrolment as given (by the API, the command line): id and name trimmed, the
    /// hromadas sorted and each once.
    pub fn new(
        monitor: &str,
        name: &str,
        vkey: NoteVerifier,
        mut not_independent_of: Vec<MunicipalityCode>,
    ) -> Self {
        not_independent_of.sort();
        not_independent_of.dedup();
        Self {
            monitor: monitor.trim().to_owned(),
            name: name.trim().to_owned(),
            vkey,
            not_independent_of,
        }
    }
}

/// Every key any hromada (`code`: only that one) was ever enrolled with.
async fn hromada_keys(
    tx: &mut Transaction<'_, Postgres>,
    code: Option<&MunicipalityCode>,
) -> Result<Vec<NoteVerifier>, AssociationError> {
    let texts: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT vkey FROM enrolment WHERE $1::text IS NULL OR code = $1",
    )
    .bind(code.map(MunicipalityCode::as_str))
    .fetch_all(&mut **tx)
    .await
    .map_err(db)?;
    texts.iter().map(|text| parse_key(text)).collect()
}

fn parse_key(text: &str) -> Result<NoteVerifier, AssociationError> {
    NoteVerifier::parse(text)
        .map_err(|e| AssociationError::Corrupt(format!("an enrolled key {text:?}: {e}")))
}

/// The monitor whose key (ever enrolled) is `key`, whatever name it goes by: a hromada may
/// not sign with it (`decisions::enroll` refuses such a key).
pub(crate) async fn monitor_with_key(
    tx: &mut Transaction<'_, Postgres>,
    key: &NoteVerifier,
) -> Result<Option<String>, AssociationError> {
    let rows: Vec<(String, String)> = sqlx::query_as("SELECT monitor, vkey FROM monitor")
        .fetch_all(&mut **tx)
        .await
        .map_err(db)?;
    for (monitor, vkey) in rows {
        if parse_key(&vkey)?.public_key() == key.public_key() {
            return Ok(Some(monitor));
        }
    }
    Ok(None)
}

/// Enrols a monitor from now, recording the decision in the log. Returns whether anything
/// changed (the same key enrolled again changes nothing; another key while one is enrolled is
/// refused: revoke it first).
pub async fn enroll_monitor(
    store: &Store,
    signer: &Signer,
    enrolment: &MonitorEnrolment,
) -> Result<bool, AssociationError> {
    let mut tx = store.pool().begin().await.map_err(db)?;
    let mut head = Head::lock(&mut tx, signer).await?;
    let keys = hromada_keys(&mut tx, None).await?;
    assessment::check_enrolment(
        &enrolment.monitor,
        &enrolment.name,
        &enrolment.vkey,
        &enrolment.not_independent_of,
        &keys,
    )?;
    let vkey = enrolment.vkey.to_text();
    let not_independent_of: Vec<String> = enrolment
        .not_independent_of
        .iter()
        .map(ToString::to_string)
        .collect();
    let open: Option<(String, String, Vec<String>)> = sqlx::query_as(
        "SELECT vkey, name, not_independent_of FROM monitor \
         WHERE monitor = $1 AND revoked_at IS NULL",
    )
    .bind(&enrolment.monitor)
    .fetch_optional(&mut *tx)
    .await
    .map_err(db)?;
    match open {
        Some((k, n, c)) if k == vkey && n == enrolment.name && c == not_independent_of => {
            return Ok(false);
        }
        // A name or a declared conflict never changes silently: the log would not say so.
        Some(_) => {
            return Err(AssociationError::invalid(
                "vkey",
                format!(
                    "monitor {:?} is enrolled with another key, name or list of hromadas it is \
                     not independent of: revoke it first, then enrol it anew",
                    enrolment.monitor
                ),
            ));
        }
        None => {}
    }
    let at = head.time(Timestamp::now());
    sqlx::query(
        "INSERT INTO monitor (monitor, name, vkey, not_independent_of, enrolled_at) \
         VALUES ($1, $2, $3, $4, timestamptz 'epoch' + $5 * interval '1 microsecond')",
    )
    .bind(&enrolment.monitor)
    .bind(&enrolment.name)
    .bind(&vkey)
    .bind(&not_independent_of)
    .bind(at)
    .execute(&mut *tx)
    .await
    .map_err(db)?;
    let decision = Decision::MonitorEnrolled {
        monitor: enrolment.monitor.clone(),
        name: enrolment.name.clone(),
        vkey,
        not_independent_of,
    };
    head.append(&mut tx, signer, at, decision).await?;
    head.commit(tx, signer).await?;
    Ok(true)
}

/// Revokes a monitor's key from now: its later assessments are refused, the earlier ones
/// stand. Returns whether one was enrolled.
pub async fn revoke_monitor(
    store: &Store,
    signer: &Signer,
    monitor: &str,
) -> Result<bool, AssociationError> {
    let mut tx = store.pool().begin().await.map_err(db)?;
    let mut head = Head::lock(&mut tx, signer).await?;
    let at = head.time(Timestamp::now());
    let revoked: Option<String> = sqlx::query_scalar(
        "UPDATE monitor SET revoked_at = timestamptz 'epoch' + $2 * interval '1 microsecond' \
         WHERE monitor = $1 AND revoked_at IS NULL RETURNING vkey",
    )
    .bind(monitor)
    .bind(at)
    .fetch_optional(&mut *tx)
    .await
    .map_err(db)?;
    let Some(vkey) = revoked else {
        return Ok(false);
    };
    let decision = Decision::MonitorRevoked {
        monitor: monitor.to_owned(),
        vkey,
    };
    head.append(&mut tx, signer, at, decision).await?;
    head.commit(tx, signer).await?;
    Ok(true)
}

/// A monitor's enrolment window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonitorRow {
    pub monitor: String,
    pub name: String,
    pub vkey: String,
    pub not_independent_of: Vec<String>,
    pub enrolled_at_micros: i64,
    pub revoked_at_micros: Option<i64>,
    /// Assessments recorded under this window's key.
    pub assessments: u64,
}

/// Every monitor's enrolment windows, by monitor and time.
pub async fn monitors(store: &Store) -> Result<Vec<MonitorRow>, AssociationError> {
    let rows = sqlx::query(
        "SELECT m.monitor, m.name, m.vkey, m.not_independent_of, \
                (extract(epoch FROM m.enrolled_at) * 1000000)::int8 AS enrolled, \
                (extract(epoch FROM m.revoked_at) * 1000000)::int8 AS revoked, \
                (SELECT count(*) FROM independent_assessment a WHERE a.monitor = m.monitor \
                   AND a.recorded_at >= m.enrolled_at \
                   AND (m.revoked_at IS NULL OR a.recorded_at <= m.revoked_at)) AS assessments \
         FROM monitor m ORDER BY m.monitor, m.id LIMIT 10000",
    )
    .fetch_all(store.pool())
    .await
    .map_err(db)?;
    rows.iter()
        .map(|row| {
            Ok(MonitorRow {
                monitor: row.try_get("monitor").map_err(db)?,
                name: row.try_get("name").map_err(db)?,
                vkey: row.try_get("vkey").map_err(db)?,
                not_independent_of: row.try_get("not_independent_of").map_err(db)?,
                enrolled_at_micros: row.try_get("enrolled").map_err(db)?,
                revoked_at_micros: row.try_get("revoked").map_err(db)?,
                assessments: uint(row.try_get("assessments").map_err(db)?),
            })
        })
        .collect()
}

/// What recording an assessment did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// Recorded as the log's entry `seq`.
    New { seq: u64 },
    /// The same note was recorded before, as entry `seq`: nothing written.
    Already { seq: u64 },
}

impl Recorded {
    pub fn seq(self) -> u64 {
        match self {
            Self::New { seq } | Self::Already { seq } => seq,
        }
    }
}

/// The enrolled monitor of this id, if one is enrolled now.
async fn enrolled_monitor(
    tx: &mut Transaction<'_, Postgres>,
    id: &str,
) -> Result<Option<Monitor>, AssociationError> {
    let row = sqlx::query(
        "SELECT vkey, not_independent_of FROM monitor WHERE monitor = $1 AND revoked_at IS NULL",
    )
    .bind(id)
    .fetch_optional(&mut **tx)
    .await
    .map_err(db)?;
    let Some(row) = row else {
        return Ok(None);
    };
    let corrupt = |what: String| AssociationError::Corrupt(format!("monitor {id:?}: {what}"));
    let vkey: String = row.try_get("vkey").map_err(db)?;
    let codes: Vec<String> = row.try_get("not_independent_of").map_err(db)?;
    Ok(Some(Monitor {
        id: id.to_owned(),
        key: NoteVerifier::parse(&vkey).map_err(|e| corrupt(e.to_string()))?,
        not_independent_of: codes
            .iter()
            .map(|c| MunicipalityCode::parse(c).map_err(|e| corrupt(e.to_string())))
            .collect::<Result<_, _>>()?,
    }))
}

/// Where the commitment stands in the hromada's verified log, as the projection has it.
async fn standing(
    tx: &mut Transaction<'_, Postgres>,
    code: &MunicipalityCode,
    commitment: CommitmentId,
) -> Result<CommitmentStanding, AssociationError> {
    let bytes: Option<Vec<u8>> =
        sqlx::query_scalar("SELECT row FROM proj_commitment WHERE municipality = $1 AND id = $2")
            .bind(code.as_str())
            .bind(commitment.as_bytes().as_slice())
            .fetch_optional(&mut **tx)
            .await
            .map_err(db)?;
    let Some(bytes) = bytes else {
        return Ok(CommitmentStanding::Unknown);
    };
    let row: CommitmentRow = decode(COMMITMENTS, &bytes)?;
    let plan: Option<Vec<u8>> =
        sqlx::query_scalar("SELECT row FROM proj_plan WHERE municipality = $1 AND id = $2")
            .bind(code.as_str())
            .bind(row.plan_id.as_bytes().as_slice())
            .fetch_optional(&mut **tx)
            .await
            .map_err(db)?;
    let adopted = match plan {
        Some(bytes) => !decode::<PlanRow>(PLANS, &bytes)?.draft,
        None => false,
    };
    Ok(CommitmentStanding::InPlan {
        plan: PlanId::from(row.plan_id),
        withdrawn: row.withdrawn_at.is_some(),
        adopted,
    })
}

/// Decides `signed` under the domain's rules at `at_micros`, on what `tx` sees. The rules a
/// forger fails (the signer, the monitor enrolled, its signature) are decided first, on one
/// row; only then are the hromada's keys and the commitment read.
async fn check(
    tx: &mut Transaction<'_, Postgres>,
    signed: &SignedAssessment,
    at_micros: i64,
) -> Result<(), AssociationError> {
    let a = &signed.assessment;
    let monitor = enrolled_monitor(tx, &a.monitor).await?;
    let today = domain::kyiv_date(Timestamp(at_micros));
    let context = |hromada_keys, commitment| Context {
        monitor: monitor.as_ref(),
        hromada_keys,
        commitment,
        today,
    };
    assessment::decide(signed, &context(&[], None))?;
    let keys = hromada_keys(tx, Some(&a.municipality)).await?;
    let commitment = standing(tx, &a.municipality, a.commitment).await?;
    assessment::decide(signed, &context(&keys, Some(commitment)))?;
    Ok(())
}

/// Whether this note was recorded before, and as which entry.
async fn recorded_as(
    executor: impl sqlx::PgExecutor<'_>,
    note_sha256: &[u8; 32],
) -> Result<Option<u64>, AssociationError> {
    let seq: Option<i64> =
        sqlx::query_scalar("SELECT seq FROM independent_assessment WHERE note_sha256 = $1")
            .bind(note_sha256.as_slice())
            .fetch_optional(executor)
            .await
            .map_err(db)?;
    Ok(seq.map(uint))
}

/// Records a monitor's signed assessment, after the domain's rules admit it, with its entry
/// in the association's log. The same note again records nothing and returns its entry (also
/// after its monitor was revoked: what it said stands). Everything that can refuse a note is
/// read from `readers` before the log's lock is taken on `store`, so neither a replayed nor a
/// forged note holds up the association's decisions; the rules are decided again under the
/// lock. Callers bound how many run at once.
pub async fn record(
    store: &Store,
    readers: &Store,
    signer: &Signer,
    note: &str,
) -> Result<Recorded, AssociationError> {
    if note.len() > NOTE_LEN_MAX {
        return Err(AssociationError::invalid(
            "note",
            format!("{} bytes, more than {NOTE_LEN_MAX}", note.len()),
        ));
    }
    let signed = SignedAssessment::read(note)?;
    let note_sha256: [u8; 32] = Sha256::digest(note.as_bytes()).into();
    if let Some(seq) = recorded_as(readers.pool(), &note_sha256).await? {
        return Ok(Recorded::Already { seq });
    }
    {
        let mut tx = readers.pool().begin().await.map_err(db)?;
        check(&mut tx, &signed, Timestamp::now().as_micros()).await?;
    }
    let mut tx = store.pool().begin().await.map_err(db)?;
    let mut head = Head::lock(&mut tx, signer).await?;
    if let Some(seq) = recorded_as(&mut *tx, &note_sha256).await? {
        return Ok(Recorded::Already { seq });
    }
    let at = head.time(Timestamp::now());
    check(&mut tx, &signed, at).await?;
    let a = &signed.assessment;
    let seq = head
        .append(
            &mut tx,
            signer,
            at,
            Decision::Assessed {
                note: note.to_owned(),
            },
        )
        .await?;
    sqlx::query(
        "INSERT INTO independent_assessment (seq, note_sha256, monitor, municipality, plan_id, \
            commitment_id, completion, opened_government, assessed_on, summary, note, recorded_at, \
            monitor_name) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::date, $10, $11, \
                 timestamptz 'epoch' + $12 * interval '1 microsecond', \
                 coalesce((SELECT name FROM monitor WHERE monitor = $3 AND revoked_at IS NULL), \
                          ''))",
    )
    .bind(int(seq))
    .bind(note_sha256.as_slice())
    .bind(&a.monitor)
    .bind(a.municipality.as_str())
    .bind(a.plan.as_bytes().as_slice())
    .bind(a.commitment.as_bytes().as_slice())
    .bind(completion_name(a.completion))
    .bind(opened_government_name(a.opened_government))
    .bind(a.assessed_on.to_string())
    .bind(&a.summary)
    .bind(note)
    .bind(at)
    .execute(&mut *tx)
    .await
    .map_err(db)?;
    head.commit(tx, signer).await?;
    Ok(Recorded::New { seq })
}

/// An assessment as the national reads list it: what the monitor said, beside what the
/// hromada itself reported for the same commitment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedAssessment {
    pub seq: u64,
    pub monitor: String,
    /// The monitor's name as enrolled when it assessed.
    pub monitor_name: String,
    pub municipality: String,
    pub plan_id: PlanId,
    pub commitment_id: CommitmentId,
    /// The commitment's title, once the hromada published it (empty before).
    pub title: String,
    pub completion: String,
    pub opened_government: String,
    pub assessed_on: String,
    pub summary: String,
    pub recorded_at_micros: i64,
    /// The hromada's own assessment of the commitment, when it made one.
    pub self_completion: Option<String>,
    pub self_opened_government: Option<String>,
    /// The signed note, for anyone to check against the monitor's key.
    pub note: String,
}

/// Independent assessments in `municipalities` (all when `None`), newest first: the total
/// and one page.
pub async fn list(
    store: &Store,
    municipalities: Option<&[String]>,
    offset: usize,
    limit: usize,
) -> Result<(usize, Vec<ListedAssessment>), AssociationError> {
    let total: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM independent_assessment \
         WHERE ($1::text[] IS NULL OR municipality = ANY($1))",
    )
    .bind(municipalities)
    .fetch_one(store.pool())
    .await
    .map_err(db)?;
    let rows = sqlx::query(
        "SELECT a.seq, a.monitor, a.municipality, a.plan_id, a.commitment_id, a.completion, \
                a.opened_government, a.assessed_on::text AS assessed_on, a.summary, a.note, \
                (extract(epoch FROM a.recorded_at) * 1000000)::int8 AS recorded, \
                a.monitor_name, \
                coalesce(k.title, '') AS title, c.row \
         FROM independent_assessment a \
         LEFT JOIN catalogue k ON k.municipality = a.municipality AND k.tool = $4 \
              AND k.id = a.commitment_id AND k.public \
         LEFT JOIN proj_commitment c ON c.municipality = a.municipality \
              AND c.id = a.commitment_id \
         WHERE ($1::text[] IS NULL OR a.municipality = ANY($1)) \
         ORDER BY a.seq DESC OFFSET $2 LIMIT $3",
    )
    .bind(municipalities)
    .bind(i64::try_from(offset).unwrap_or(i64::MAX))
    .bind(i64::try_from(limit).unwrap_or(i64::MAX))
    .bind(projection::catalogue::Tool::Commitment.code())
    .fetch_all(store.pool())
    .await
    .map_err(db)?;
    let corrupt = |what: &str| AssociationError::Corrupt(format!("an assessment's {what}"));
    let listed = rows
        .iter()
        .map(|row| {
            let self_row: Option<Vec<u8>> = row.try_get("row").map_err(db)?;
            let self_row: Option<CommitmentRow> = self_row
                .map(|bytes| decode(COMMITMENTS, &bytes))
                .transpose()?;
            let plan: Vec<u8> = row.try_get("plan_id").map_err(db)?;
            let commitment: Vec<u8> = row.try_get("commitment_id").map_err(db)?;
            Ok(ListedAssessment {
                seq: uint(row.try_get("seq").map_err(db)?),
                monitor: row.try_get("monitor").map_err(db)?,
                monitor_name: row.try_get("monitor_name").map_err(db)?,
                municipality: row.try_get("municipality").map_err(db)?,
                plan_id: PlanId::from_slice(&plan).ok_or_else(|| corrupt("plan"))?,
                commitment_id: CommitmentId::from_slice(&commitment)
                    .ok_or_else(|| corrupt("commitment"))?,
                title: row.try_get("title").map_err(db)?,
                completion: row.try_get("completion").map_err(db)?,
                opened_government: row.try_get("opened_government").map_err(db)?,
                assessed_on: row.try_get("assessed_on").map_err(db)?,
                summary: row.try_get("summary").map_err(db)?,
                recorded_at_micros: row.try_get("recorded").map_err(db)?,
                self_completion: self_row
                    .as_ref()
                    .and_then(|r| r.completion)
                    .and_then(status_from_code)
                    .map(|s| completion_name(s).to_owned()),
                self_opened_government: self_row
                    .as_ref()
                    .and_then(|r| r.opened_government)
                    .and_then(opened_government_from_code)
                    .map(|o| opened_government_name(o).to_owned()),
                note: row.try_get("note").map_err(db)?,
            })
        })
        .collect::<Result<Vec<_>, AssociationError>>()?;
    Ok((usize::try_from(total).unwrap_or(0), listed))
}

/// Independent figures of an area. The levels count each monitor's latest assessment of each
/// commitment: a later assessment by another monitor stands beside an earlier one, never
/// replaces it (two monitors who disagree are both counted).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IndependentFigures {
    /// Commitments with at least one independent assessment.
    pub commitments: u64,
    /// Each monitor's latest assessment of each commitment.
    pub assessments: u64,
    /// Monitors that assessed any of them.
    pub monitors: u64,
    /// Assessments by completion: not started, limited, substantial, complete.
    pub by_completion: Vec<(String, u64)>,
    /// Assessments by "did it open government", in scale order.
    pub by_opened_government: Vec<(String, u64)>,
}

/// The figures of `municipalities` (all when `None`).
pub async fn figures(
    store: &Store,
    municipalities: Option<&[String]>,
) -> Result<IndependentFigures, AssociationError> {
    let rows = sqlx::query(
        "WITH latest AS ( \
             SELECT DISTINCT ON (municipality, commitment_id, monitor) completion, \
                    opened_government \
             FROM independent_assessment WHERE ($1::text[] IS NULL OR municipality = ANY($1)) \
             ORDER BY municipality, commitment_id, monitor, seq DESC) \
         SELECT completion, opened_government, count(*) AS n FROM latest GROUP BY 1, 2",
    )
    .bind(municipalities)
    .fetch_all(store.pool())
    .await
    .map_err(db)?;
    let (monitors, commitments): (i64, i64) = sqlx::query_as(
        "SELECT count(DISTINCT monitor), count(DISTINCT (municipality, commitment_id)) \
         FROM independent_assessment WHERE ($1::text[] IS NULL OR municipality = ANY($1))",
    )
    .bind(municipalities)
    .fetch_one(store.pool())
    .await
    .map_err(db)?;
    let mut completion: HashMap<String, u64> = HashMap::new();
    let mut opened: HashMap<String, u64> = HashMap::new();
    let mut assessments = 0;
    for row in rows {
        let n = uint(row.try_get("n").map_err(db)?);
        assessments += n;
        *completion
            .entry(row.try_get("completion").map_err(db)?)
            .or_default() += n;
        *opened
            .entry(row.try_get("opened_government").map_err(db)?)
            .or_default() += n;
    }
    Ok(IndependentFigures {
        commitments: uint(commitments),
        assessments,
        monitors: uint(monitors),
        by_completion: assessment::COMPLETION_LEVELS
            .iter()
            .map(|l| {
                let name = completion_name(*l);
                (name.to_owned(), completion.get(name).copied().unwrap_or(0))
            })
            .collect(),
        by_opened_government: assessment::OPENED_GOVERNMENT_LEVELS
            .iter()
            .map(|l| {
                let name = opened_government_name(*l);
                (name.to_owned(), opened.get(name).copied().unwrap_or(0))
            })
            .collect(),
    })
}
