//! `vidkryto.national.v1.NationalService`: national projections from the read model's
//! snapshot (memory), weekly series from PostgreSQL.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use domain::CivilDate;
use futures_util::Stream;
use proto::national::v1 as pb;
use proto::national::v1::national_service_server::NationalService;
use tonic::{Request, Response, Status};

use super::streams::Gate;
use super::{code, decode_token, invalid, next_page_token, page_size};
use crate::api::figures::{count, figures};
use crate::assessments;
use crate::read::area::{Area, AreaError, AreaFigures, Metric, leaderboard};
use crate::read::{ReadModel, Snapshot, practices, queries};
use crate::store::Store;
use event_store_core::MunicipalityCode;
use projection::catalogue::{OGP_VALUE_NAMES, STATUSES, Tool};
use projection::codes::MILESTONE_STATUS_NAMES;
use reference::Municipality;

/// The law's answer deadline in working days ("On citizens' appeals", art. 23-1).
const DEADLINE_WORKING_DAYS: u32 = 10;
const WEEKS_MAX: u32 = 520;
/// Characters of a practice search at most.
const PRACTICE_QUERY_CHARS_MAX: usize = 500;
/// The furthest a practice search pages: past it, narrow the search.
const PRACTICE_OFFSET_MAX: usize = 10_000;
const LEADERBOARD_MAX: u32 = 500;
/// The least time between two updates on one watch.
const WATCH_INTERVAL_MIN: Duration = Duration::from_millis(250);
/// Updates buffered for one watch: a client that reads sees at most these few old ones.
const WATCH_BUFFER: usize = 4;

/// The national service.
#[derive(Debug, Clone)]
pub struct NationalApi {
    read: ReadModel,
    store: Store,
    /// What the hot queries return, built once per snapshot.
    views: Arc<Mutex<Option<Arc<Views>>>>,
    /// Practice searches answered in this snapshot.
    searches: Arc<Mutex<SearchCache>>,
    /// Searches PostgreSQL runs at once: half the read side's pool, so searches never hold
    /// every connection the figures, the digest and the statements read through.
    search_permits: Arc<tokio::sync::Semaphore>,
    /// Admission of WatchUpdates streams, and their bounds.
    watches: Gate,
}

/// Practice searches PostgreSQL runs at once (the read side's pool has 8 connections).
const SEARCHES_AT_ONCE: usize = 4;

/// Bytes of search answers kept at most: past it the cache starts again.
const SEARCH_CACHE_BYTES: usize = 32 * 1024 * 1024;

/// The practice searches answered in one snapshot of the read model, so readers repeating a
/// search (a shared link, a popular word) cost a lookup; emptied when the snapshot changes
/// (every commit reloads it) and bounded in bytes.
#[derive(Debug, Default)]
struct SearchCache {
    /// The snapshot's version and the catalogue's edits the answers are of.
    version: (u64, u64),
    bytes: usize,
    answers: std::collections::HashMap<String, Arc<pb::SearchPracticesResponse>>,
}

impl SearchCache {
    fn get(&mut self, version: (u64, u64), key: &str) -> Option<Arc<pb::SearchPracticesResponse>> {
        if self.version != version {
            *self = Self {
                version,
                ..Self::default()
            };
        }
        self.answers.get(key).cloned()
    }

    fn put(&mut self, version: (u64, u64), key: String, answer: Arc<pb::SearchPracticesResponse>) {
        use prost::Message as _;
        let len = answer.encoded_len() + key.len();
        if self.version != version || self.bytes + len > SEARCH_CACHE_BYTES {
            *self = Self {
                version,
                ..Self::default()
            };
        }
        self.bytes += len;
        self.answers.insert(key, answer);
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match mutex.lock() {
        Ok(guard) => guard,
        Err(poisoned) => poisoned.into_inner(),
    }
}

/// The summary and every municipality's view for one snapshot, so the queries many readers
/// send only filter, sort and copy.
#[derive(Debug)]
struct Views {
    version: u64,
    summary: pb::Summary,
    /// Every municipality of the reference data, by code.
    municipalities: Vec<pb::Municipality>,
    /// Lowercase Ukrainian and English names, for prefix filters and sorting by name.
    names: Vec<(String, String)>,
}

impl NationalApi {
    /// The service on the read model and the read side's `store`, admitting watches through
    /// `watches`.
    pub fn new(read: ReadModel, store: Store, watches: Gate) -> Self {
        Self {
            read,
            store,
            views: Arc::default(),
            searches: Arc::default(),
            search_permits: Arc::new(tokio::sync::Semaphore::new(SEARCHES_AT_ONCE)),
            watches,
        }
    }

    /// The views of the current snapshot (built by the first reader after a reload).
    fn views(&self) -> Arc<Views> {
        let snapshot = self.read.snapshot();
        let mut guard = lock(&self.views);
        if let Some(views) = guard.as_ref()
            && views.version == snapshot.version
        {
            return views.clone();
        }
        let municipalities: Vec<pb::Municipality> = self
            .read
            .reference
            .municipalities
            .values()
            .map(|m| self.municipality(&snapshot, m))
            .collect();
        let names = municipalities
            .iter()
            .map(|m| (m.name_uk.to_lowercase(), m.name_en.to_lowercase()))
            .collect();
        let views = Arc::new(Views {
            version: snapshot.version,
            summary: self.summary(&snapshot),
            municipalities,
            names,
        });
        *guard = Some(views.clone());
        views
    }
}

/// The Kyiv date the snapshot's figures are as of (today when it has none yet).
fn today(snapshot: &Snapshot) -> CivilDate {
    snapshot
        .as_of
        .unwrap_or_else(|| domain::kyiv_date(event_store_core::Timestamp::now()))
}

/// A day (days since the epoch) as `YYYY-MM-DD`, empty outside the calendar's range.
fn day_text(days: i64) -> String {
    CivilDate::from_epoch_days(days).map_or_else(String::new, |d| d.to_string())
}

impl NationalApi {
    fn area(&self, field: &str, text: &str) -> Result<Area, Status> {
        Area::parse(&self.read.reference, text).map_err(|e| match e {
            AreaError::Invalid(detail) => invalid(field, detail),
            AreaError::Unknown(detail) => Status::not_found(detail),
        })
    }

    fn summary(&self, snapshot: &Snapshot) -> pb::Summary {
        let area = Area::Nation.figures(&self.read.reference, snapshot);
        pb::Summary {
            figures: Some(figures(&area)),
            municipalities_enrolled: snapshot.nodes.values().filter(|n| !n.revoked).count() as u32,
            municipalities_reporting: snapshot
                .nodes
                .values()
                .filter(|n| n.verified_size > 0)
                .count() as u32,
            events_verified: snapshot.nodes.values().map(|n| n.verified_size).sum(),
            as_of_date: snapshot.as_of.map(|d| d.to_string()).unwrap_or_default(),
        }
    }

    fn municipality(&self, snapshot: &Snapshot, m: &Municipality) -> pb::Municipality {
        let oblast = self.read.reference.oblasts.get(&m.oblast);
        let node = snapshot.nodes.get(&m.code);
        let mut area = AreaFigures::default();
        area.add(snapshot, &m.code, m.population);
        pb::Municipality {
            code: m.code.to_string(),
            name_uk: m.name_uk.clone(),
            name_en: m.name_en.clone(),
            kind: m.kind.clone(),
            oblast_code: m.oblast.clone(),
            oblast_uk: oblast.map(|o| o.name_uk.clone()).unwrap_or_default(),
            oblast_en: oblast.map(|o| o.name_en.clone()).unwrap_or_default(),
            centre_lat: m.lat,
            centre_lon: m.lon,
            enrolled: node.is_some_and(|n| !n.revoked),
            figures: Some(figures(&area)),
            provenance: node.map(|n| pb::Provenance {
                verified_size: n.verified_size,
                checkpoint_size: n.checkpoint_size,
                checkpoint_root: n.checkpoint_root.clone(),
                cosigned_note: n.cosigned_note.clone(),
                verified_at_micros: n.verified_at_micros,
            }),
        }
    }
}

/// A numeric sort key of the municipality list (`None`: sort by text, or an unknown field).
fn numeric_key(field: &str) -> Option<fn(&pb::Municipality) -> f64> {
    fn figure(m: &pb::Municipality, f: fn(&pb::Figures) -> f64) -> f64 {
        m.figures.as_ref().map(f).unwrap_or(0.0)
    }
    Some(match field {
        "population" => |m| figure(m, |f| f.population as f64),
        "petitions_filed" => |m| figure(m, |f| f.petitions_filed as f64),
        "signatures" => |m| figure(m, |f| f.signatures as f64),
        "petitions_per_10k" => |m| figure(m, |f| f.petitions_per_10k),
        "signatures_per_10k" => |m| figure(m, |f| f.signatures_per_10k),
        "share_answered_on_time" => |m| figure(m, |f| f.share_answered_on_time),
        "verified_size" => |m| {
            m.provenance
                .as_ref()
                .map(|p| p.verified_size as f64)
                .unwrap_or(0.0)
        },
        _ => return None,
    })
}

/// `order_by`: one field and an optional `asc`/`desc`.
fn parse_order(text: &str) -> Result<(String, bool), Status> {
    let mut parts = text.split_whitespace();
    let field = parts.next().unwrap_or("code").to_owned();
    let descending = match parts.next() {
        None | Some("asc") => false,
        Some("desc") => true,
        Some(other) => {
            return Err(invalid(
                "order_by",
                format!("direction {other:?} is not asc or desc"),
            ));
        }
    };
    if parts.next().is_some() {
        return Err(invalid("order_by", "sort by one field only"));
    }
    Ok((field, descending))
}

type Reply<T> = Result<Response<T>, Status>;

#[tonic::async_trait]
impl NationalService for NationalApi {
    async fn get_national_summary(
        &self,
        _: Request<pb::GetNationalSummaryRequest>,
    ) -> Reply<pb::Summary> {
        Ok(Response::new(self.views().summary.clone()))
    }

    async fn list_oblasts(
        &self,
        _: Request<pb::ListOblastsRequest>,
    ) -> Reply<pb::ListOblastsResponse> {
        let snapshot = self.read.snapshot();
        let oblasts = self
            .read
            .reference
            .oblasts
            .values()
            .map(|o| {
                let area = Area::Oblast(o.code.clone());
                let all = self
                    .read
                    .reference
                    .municipalities
                    .values()
                    .filter(|m| m.oblast == o.code)
                    .count();
                let members = area.members(&self.read.reference, &snapshot);
                let reporting = members
                    .iter()
                    .filter(|m| {
                        snapshot
                            .nodes
                            .get(&m.code)
                            .is_some_and(|n| n.verified_size > 0)
                    })
                    .count();
                pb::Oblast {
                    code: o.code.clone(),
                    name_uk: o.name_uk.clone(),
                    name_en: o.name_en.clone(),
                    municipalities: all as u32,
                    municipalities_reporting: reporting as u32,
                    figures: Some(figures(&area.figures(&self.read.reference, &snapshot))),
                }
            })
            .collect();
        Ok(Response::new(pb::ListOblastsResponse { oblasts }))
    }

    async fn list_municipalities(
        &self,
        request: Request<pb::ListMunicipalitiesRequest>,
    ) -> Reply<pb::ListMunicipalitiesResponse> {
        let r = request.into_inner();
        let size = page_size(r.page_size, 50, 500)?;
        let (field, descending) = parse_order(&r.order_by)?;
        if !r.oblast.is_empty() && !self.read.reference.oblasts.contains_key(r.oblast.trim()) {
            return Err(invalid(
                "oblast",
                format!("{:?} is not an oblast code", r.oblast),
            ));
        }
        if r.name_prefix.chars().count() > 100 {
            return Err(invalid("name_prefix", "at most 100 characters"));
        }
        let fingerprint = format!(
            "{field}|{descending}|{}|{}|{}",
            r.oblast.trim(),
            r.name_prefix.to_lowercase(),
            r.enrolled_only
        );
        let offset = decode_token(&r.page_token, &fingerprint)?;
        let numeric = numeric_key(&field);
        if numeric.is_none() && field != "code" && field != "name" {
            return Err(invalid("order_by", format!("cannot sort by {field:?}")));
        }
        let views = self.views();
        let prefix = r.name_prefix.to_lowercase();
        let oblast = r.oblast.trim();
        let mut all: Vec<usize> = (0..views.municipalities.len())
            .filter(|&i| {
                let m = &views.municipalities[i];
                let (uk, en) = &views.names[i];
                (oblast.is_empty() || m.oblast_code == oblast)
                    && (!r.enrolled_only || m.enrolled)
                    && (prefix.is_empty() || uk.starts_with(&prefix) || en.starts_with(&prefix))
            })
            .collect();
        let by = |a: &usize, b: &usize| {
            let (ma, mb) = (&views.municipalities[*a], &views.municipalities[*b]);
            let ordering = match (numeric, field.as_str()) {
                (Some(key), _) => key(ma).total_cmp(&key(mb)),
                (None, "name") => views.names[*a].0.cmp(&views.names[*b].0),
                _ => std::cmp::Ordering::Equal,
            };
            let ordering = if descending {
                ordering.reverse()
            } else {
                ordering
            };
            ordering.then_with(|| ma.code.cmp(&mb.code))
        };
        all.sort_by(by);
        let total = all.len();
        // The offset comes from a token anyone can write: no arithmetic on it may overflow.
        let start = offset.min(total);
        let end = start.saturating_add(size).min(total);
        let page: Vec<pb::Municipality> = all[start..end]
            .iter()
            .map(|&i| views.municipalities[i].clone())
            .collect();
        let next_page_token = next_page_token(end, total, &fingerprint);
        Ok(Response::new(pb::ListMunicipalitiesResponse {
            municipalities: page,
            next_page_token,
            total_size: total as u32,
        }))
    }

    async fn get_municipality(
        &self,
        request: Request<pb::GetMunicipalityRequest>,
    ) -> Reply<pb::Municipality> {
        let code = code("code", &request.into_inner().code)?;
        let views = self.views();
        match views
            .municipalities
            .binary_search_by(|m| m.code.as_str().cmp(code.as_str()))
        {
            Ok(i) => Ok(Response::new(views.municipalities[i].clone())),
            Err(_) => Err(Status::not_found(format!("no hromada {code}"))),
        }
    }

    async fn get_time_series(
        &self,
        request: Request<pb::GetTimeSeriesRequest>,
    ) -> Reply<pb::TimeSeries> {
        let r = request.into_inner();
        let weeks = match r.weeks {
            0 => 52,
            w if w > WEEKS_MAX => return Err(invalid("weeks", format!("at most {WEEKS_MAX}"))),
            w => w,
        };
        let area = self.area("area", &r.area)?;
        let snapshot = self.read.snapshot();
        let today = today(&snapshot);
        let this_monday = domain::calendar::monday_on_or_before(today.epoch_days());
        let first = this_monday - 7 * (i64::from(weeks) - 1);
        let codes: Vec<String> = area
            .members(&self.read.reference, &snapshot)
            .iter()
            .map(|m| m.code.to_string())
            .collect();
        let by_week = queries::weekly(&self.store, &codes, first)
            .await
            .map_err(Status::from)?;
        let weeks = (0..i64::from(weeks))
            .map(|i| {
                let week = first + 7 * i;
                let w = by_week.get(&week).copied().unwrap_or_default();
                pb::Week {
                    week_start: day_text(week),
                    petitions_filed: w.petitions_filed,
                    signatures: w.signatures,
                    petitions_threshold_reached: w.petitions_threshold_reached,
                    petitions_answered: w.petitions_answered,
                    dialogues_closed: w.dialogues_closed,
                    contributions: w.contributions,
                    milestones_completed: w.milestones_completed,
                }
            })
            .collect();
        Ok(Response::new(pb::TimeSeries {
            area: r.area,
            weeks,
        }))
    }

    async fn get_leaderboard(
        &self,
        request: Request<pb::GetLeaderboardRequest>,
    ) -> Reply<pb::Leaderboard> {
        let r = request.into_inner();
        let metric = if r.metric.is_empty() {
            "petitions_per_10k".to_owned()
        } else {
            r.metric.clone()
        };
        let limit = match r.limit {
            0 => 20,
            l if l > LEADERBOARD_MAX => {
                return Err(invalid("limit", format!("at most {LEADERBOARD_MAX}")));
            }
            l => l,
        } as usize;
        if !r.oblast.is_empty() && !self.read.reference.oblasts.contains_key(r.oblast.trim()) {
            return Err(invalid(
                "oblast",
                format!("{:?} is not an oblast code", r.oblast),
            ));
        }
        let metric_kind = Metric::parse(&metric)
            .ok_or_else(|| invalid("metric", format!("unknown metric {metric:?}")))?;
        let oblast = Some(r.oblast.trim()).filter(|o| !o.is_empty());
        let snapshot = self.read.snapshot();
        let ranked = leaderboard(
            &self.read.reference,
            &snapshot,
            metric_kind,
            oblast,
            r.ascending,
            limit,
        );
        let entries = ranked
            .into_iter()
            .zip(1..)
            .map(|(e, rank)| pb::LeaderboardEntry {
                rank,
                code: e.municipality.code.to_string(),
                name_uk: e.municipality.name_uk.clone(),
                name_en: e.municipality.name_en.clone(),
                value: e.value,
                numerator: count(e.numerator),
                denominator: count(e.denominator),
            })
            .collect();
        Ok(Response::new(pb::Leaderboard { metric, entries }))
    }

    async fn get_answer_days(
        &self,
        request: Request<pb::GetAnswerDaysRequest>,
    ) -> Reply<pb::AnswerDays> {
        let area = self.area("area", &request.into_inner().area)?;
        let snapshot = self.read.snapshot();
        let figures = area.figures(&self.read.reference, &snapshot);
        let buckets = figures
            .answer_days
            .iter()
            .map(|(days, n)| pb::answer_days::Bucket {
                days: u32::try_from(*days).unwrap_or(0),
                count: count(*n),
            })
            .collect();
        let c = &figures.counters;
        Ok(Response::new(pb::AnswerDays {
            buckets,
            deadline_working_days: DEADLINE_WORKING_DAYS,
            answered: count(c.petitions_answered),
            answered_late: count(c.petitions_answered - c.petitions_answered_on_time),
        }))
    }

    async fn search_practices(
        &self,
        request: Request<pb::SearchPracticesRequest>,
    ) -> Reply<pb::SearchPracticesResponse> {
        let r = request.into_inner();
        let size = page_size(r.page_size, 20, 100)?;
        if r.query.chars().count() > PRACTICE_QUERY_CHARS_MAX {
            return Err(invalid(
                "query",
                format!("at most {PRACTICE_QUERY_CHARS_MAX} characters"),
            ));
        }
        let reference = &self.read.reference;
        let mut query = practices::PracticeQuery {
            terms: projection::search::query_terms(&r.query),
            recommended_only: r.recommended_only,
            ..Default::default()
        };
        if !r.oblast_code.trim().is_empty() {
            let oblast = r.oblast_code.trim();
            if !reference.oblasts.contains_key(oblast) {
                return Err(invalid("oblast_code", format!("no oblast {oblast:?}")));
            }
            query.municipalities = Some(
                reference
                    .municipalities
                    .values()
                    .filter(|m| m.oblast == oblast)
                    .map(|m| m.code)
                    .collect(),
            );
        }
        if !r.code.trim().is_empty() {
            let code = code("code", &r.code)?;
            if reference.municipality(&code).is_none() {
                return Err(invalid("code", format!("{code} is not a hromada")));
            }
            let within = query
                .municipalities
                .as_ref()
                .is_none_or(|c| c.contains(&code));
            query.municipalities = Some(if within { vec![code] } else { Vec::new() });
        }
        if !r.tool.is_empty() {
            query.tool = Some(
                Tool::parse(&r.tool)
                    .ok_or_else(|| invalid("tool", "one of petition, dialogue, commitment"))?,
            );
        }
        if !r.status.is_empty() {
            if !STATUSES.contains(&r.status.as_str()) {
                return Err(invalid("status", format!("one of {}", STATUSES.join(", "))));
            }
            query.status = Some(r.status.clone());
        }
        if !r.ogp_value.is_empty() {
            if !OGP_VALUE_NAMES.contains(&r.ogp_value.as_str()) {
                return Err(invalid(
                    "ogp_value",
                    format!("one of {}", OGP_VALUE_NAMES.join(", ")),
                ));
            }
            query.ogp_value = Some(r.ogp_value.clone());
        }
        let day = |field: &str, text: &str| -> Result<Option<CivilDate>, Status> {
            let text = text.trim();
            if text.is_empty() {
                return Ok(None);
            }
            let date = text
                .parse()
                .map_err(|_| invalid(field, format!("{text:?} is not a date (yyyy-mm-dd)")))?;
            Ok(Some(date))
        };
        let midnight = |date: CivilDate| domain::calendar::kyiv_midnight(date).0;
        query.from = day("from", &r.from)?.map(midnight);
        // Up to and including the last day: before the next day's midnight.
        query.until = day("to", &r.to)?.map(|d| midnight(d.add_days(1)));
        let fingerprint = format!("practices|{:?}", (&query, size));
        let offset = decode_token(&r.page_token, &fingerprint)?;
        if offset > PRACTICE_OFFSET_MAX {
            return Err(invalid(
                "page_token",
                format!(
                    "results past the first {PRACTICE_OFFSET_MAX} are not paged: narrow the search"
                ),
            ));
        }
        // The edits are read first: a recommendation made during the search makes its answer
        // one the next reader does not take.
        let edits = self.read.catalogue_edits();
        let snapshot = self.read.snapshot();
        let version = (snapshot.version, edits);
        let key = format!("{offset}|{fingerprint}");
        if let Some(answer) = lock(&self.searches).get(version, &key) {
            return Ok(Response::new((*answer).clone()));
        }
        let page = {
            let _permit = self
                .search_permits
                .acquire()
                .await
                .map_err(|_| Status::unavailable("the association is stopping"))?;
            practices::search(&self.store, &query, offset, size)
                .await
                .map_err(Status::from)?
        };
        let micros_day = |at: i64| domain::kyiv_date(event_store_core::Timestamp(at)).to_string();
        let found = page
            .rows
            .iter()
            .map(|row| {
                let m = reference.municipality(&row.municipality);
                pb::Practice {
                    code: row.municipality.to_string(),
                    name_uk: m.map(|m| m.name_uk.clone()).unwrap_or_default(),
                    name_en: m.map(|m| m.name_en.clone()).unwrap_or_default(),
                    oblast_code: m.map(|m| m.oblast.clone()).unwrap_or_default(),
                    tool: row.tool.name().to_owned(),
                    id: row.id.to_string(),
                    title: row.title.clone(),
                    text: row.text.clone(),
                    outcome: row.outcome.clone(),
                    category: row.category.clone(),
                    status: row.status.clone(),
                    decision: row.decision.clone(),
                    completion: row.completion.clone(),
                    lead_institution: row.lead.clone(),
                    ogp_values: row.ogp_values.clone(),
                    started_on: micros_day(row.started_at),
                    updated_on: micros_day(row.updated_at),
                    seq: row.seq,
                    checkpoint_size: snapshot
                        .nodes
                        .get(&row.municipality)
                        .map_or(0, |n| n.checkpoint_size),
                    recommendation: row.recommendation.as_ref().map(|(reason, at)| {
                        pb::Recommendation {
                            reason: reason.clone(),
                            recommended_on: micros_day(*at),
                        }
                    }),
                }
            })
            .collect();
        let end = offset.saturating_add(page.rows.len());
        let total = usize::try_from(page.total).unwrap_or(usize::MAX);
        let reachable = total.min(PRACTICE_OFFSET_MAX.saturating_add(size));
        let answer = pb::SearchPracticesResponse {
            practices: found,
            total_size: page.total,
            total_size_capped: page.capped,
            next_page_token: next_page_token(end, reachable, &fingerprint),
        };
        lock(&self.searches).put(version, key, Arc::new(answer.clone()));
        Ok(Response::new(answer))
    }

    async fn list_milestones(
        &self,
        request: Request<pb::ListMilestonesRequest>,
    ) -> Reply<pb::ListMilestonesResponse> {
        let r = request.into_inner();
        let code = code("code", &r.code)?;
        let size = page_size(r.page_size, 200, 1000)?;
        let fingerprint = format!("milestones|{code}");
        let offset = decode_token(&r.page_token, &fingerprint)?;
        if !self.read.reference.municipalities.contains_key(&code) {
            return Err(Status::not_found(format!("no hromada {code}")));
        }
        let today = today(&self.read.snapshot());
        let (total, rows) = queries::milestones(&self.store, &code, offset, size)
            .await
            .map_err(Status::from)?;
        let milestones = rows
            .iter()
            .map(|listed| {
                let m = &listed.row;
                let status = m.status.and_then(projection::codes::status_from_code);
                let due = domain::CivilDate::from_epoch_days(i64::from(m.due));
                pb::Milestone {
                    milestone_id: m.milestone_id.to_string(),
                    plan_id: m.plan_id.to_string(),
                    commitment_id: m.commitment_id.to_string(),
                    due: day_text(i64::from(m.due)),
                    status: projection::codes::milestone_status_slot(m.status)
                        .and_then(|slot| MILESTONE_STATUS_NAMES.get(slot))
                        .map_or_else(String::new, |s| (*s).to_owned()),
                    completed_on: m.completed_at.map_or_else(String::new, |at| {
                        domain::kyiv_date(event_store_core::Timestamp(at)).to_string()
                    }),
                    // The rule the read model counts `milestones_overdue_now` by, and the node's.
                    overdue: due.is_some_and(|due| {
                        domain::action_plan::milestone_overdue(due, status, listed.open, today)
                    }),
                }
            })
            .collect();
        let end = offset.saturating_add(rows.len());
        let next_page_token = next_page_token(end, total, &fingerprint);
        Ok(Response::new(pb::ListMilestonesResponse {
            milestones,
            next_page_token,
            total_size: u32::try_from(total).unwrap_or(u32::MAX),
        }))
    }

    type WatchUpdatesStream = Pin<Box<dyn Stream<Item = Result<pb::Update, Status>> + Send>>;

    async fn watch_updates(
        &self,
        _: Request<pb::WatchUpdatesRequest>,
    ) -> Reply<Self::WatchUpdatesStream> {
        let (sink, stream) = self.watches.open(WATCH_BUFFER)?;
        let mut versions = self.read.subscribe();
        let api = self.clone();
        tokio::spawn(async move {
            loop {
                versions.borrow_and_update();
                let snapshot = api.read.snapshot();
                let update = pb::Update {
                    municipalities: snapshot.updated.iter().map(|c| c.to_string()).collect(),
                    summary: Some(api.views().summary.clone()),
                };
                if !sink.send(Ok(update)).await
                    || sink
                        .during(tokio::time::sleep(WATCH_INTERVAL_MIN))
                        .await
                        .is_none()
                {
                    return;
                }
                match sink.during(versions.changed()).await {
                    Some(Ok(())) => {}
                    Some(Err(_)) | None => return,
                }
            }
        });
        Ok(Response::new(Box::pin(stream)))
    }

    async fn list_assessments(
        &self,
        request: Request<pb::ListAssessmentsRequest>,
    ) -> Reply<pb::ListAssessmentsResponse> {
        let r = request.into_inner();
        // An assessment with its note is up to ~12 KiB: a page stays under 2 MiB.
        let size = page_size(r.page_size, 50, 100)?;
        let area = self.area("area", &r.area)?;
        let fingerprint = format!("assessments|{}", r.area.trim());
        let offset = decode_token(&r.page_token, &fingerprint)?;
        // The nation unfiltered; an oblast or a hromada as its members (`Area::members`).
        let codes: Option<Vec<String>> = match &area {
            Area::Nation => None,
            area => Some(
                area.members(&self.read.reference, &self.read.snapshot())
                    .iter()
                    .map(|m| m.code.to_string())
                    .collect(),
            ),
        };
        let (total, rows) = assessments::list(&self.store, codes.as_deref(), offset, size)
            .await
            .map_err(Status::from)?;
        let counted = assessments::figures(&self.store, codes.as_deref())
            .await
            .map_err(Status::from)?;
        let kinds = |counts: Vec<(String, u64)>| {
            counts
                .into_iter()
                .map(|(kind, count)| pb::KindCount { kind, count })
                .collect()
        };
        let end = offset.saturating_add(rows.len());
        let listed = rows
            .into_iter()
            .map(|a| {
                let names = MunicipalityCode::parse(&a.municipality)
                    .ok()
                    .and_then(|code| self.read.reference.municipality(&code));
                pb::IndependentAssessment {
                    seq: a.seq,
                    monitor: a.monitor,
                    monitor_name: a.monitor_name,
                    name_uk: names.map(|m| m.name_uk.clone()).unwrap_or_default(),
                    name_en: names.map(|m| m.name_en.clone()).unwrap_or_default(),
                    code: a.municipality,
                    plan_id: a.plan_id.to_string(),
                    commitment_id: a.commitment_id.to_string(),
                    title: a.title,
                    completion: a.completion,
                    opened_government: a.opened_government,
                    assessed_on: a.assessed_on,
                    summary: a.summary,
                    recorded_at_micros: a.recorded_at_micros,
                    self_completion: a.self_completion.unwrap_or_default(),
                    self_opened_government: a.self_opened_government.unwrap_or_default(),
                    note: a.note,
                }
            })
            .collect();
        Ok(Response::new(pb::ListAssessmentsResponse {
            assessments: listed,
            total_size: total as u64,
            next_page_token: next_page_token(end, total, &fingerprint),
            figures: Some(pb::IndependentFigures {
                commitments_assessed: counted.commitments,
                assessments: counted.assessments,
                monitors: counted.monitors,
                by_completion: kinds(counted.by_completion),
                opened_government: kinds(counted.by_opened_government),
            }),
        }))
    }
}
