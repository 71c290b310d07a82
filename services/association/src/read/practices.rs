//! Searching the practice catalogue: public entries matching every query stem as a prefix
//! (`projection::search`) and the filters, best match first (titles weigh most), or newest
//! first without a query. One statement per page and one bounded count, built with bound
//! parameters only.

use event_store_core::MunicipalityCode;
use projection::catalogue::Tool;
use sqlx::{Postgres, QueryBuilder, Row};
use uuid::Uuid;

use crate::error::AssociationError;
use crate::store::{Store, db, parse_code, uint};

/// Matches counted at most: past it a count says "more than".
pub const COUNT_MAX: i64 = 1_000;

/// Characters of an entry's text and outcome a result carries.
pub const EXCERPT_CHARS: i32 = 600;

/// What a reader asks for. Terms are stems from [`projection::search::query_terms`]; every
/// filter is optional.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PracticeQuery {
    pub terms: Vec<String>,
    /// Hromadas (one, or an oblast's).
    pub municipalities: Option<Vec<MunicipalityCode>>,
    pub tool: Option<Tool>,
    pub status: Option<String>,
    pub ogp_value: Option<String>,
    /// Entries begun at or after, and before, these times (microseconds).
    pub from: Option<i64>,
    pub until: Option<i64>,
    pub recommended_only: bool,
}

/// One entry found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PracticeRow {
    pub municipality: MunicipalityCode,
    pub tool: Tool,
    pub id: Uuid,
    pub title: String,
    pub text: String,
    pub outcome: String,
    pub category: String,
    pub status: String,
    pub decision: String,
    pub completion: String,
    pub lead: String,
    pub ogp_values: Vec<String>,
    pub started_at: i64,
    pub updated_at: i64,
    pub seq: u64,
    /// The association's reason and when it recommended it (microseconds).
    pub recommendation: Option<(String, i64)>,
}

/// A page of results, and how many match (at most [`COUNT_MAX`]; `capped` past it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PracticePage {
    pub rows: Vec<PracticeRow>,
    pub total: u64,
    pub capped: bool,
}

/// `FROM … WHERE …` for `query`.
fn from_where(builder: &mut QueryBuilder<Postgres>, query: &PracticeQuery) {
    builder.push(
        " FROM catalogue c LEFT JOIN practice_recommendation r \
         ON r.municipality = c.municipality AND r.tool = c.tool AND r.id = c.id WHERE c.public",
    );
    if !query.terms.is_empty() {
        builder.push(" AND c.search @@ to_tsquery('simple', ");
        builder.push_bind(projection::search::tsquery(&query.terms));
        builder.push(")");
    }
    if let Some(codes) = &query.municipalities {
        builder.push(" AND c.municipality = ANY(");
        builder.push_bind(codes.iter().map(ToString::to_string).collect::<Vec<_>>());
        builder.push(")");
    }
    if let Some(tool) = query.tool {
        builder.push(" AND c.tool = ");
        builder.push_bind(tool.code());
    }
    if let Some(status) = &query.status {
        builder.push(" AND c.status = ");
        builder.push_bind(status);
    }
    if let Some(value) = &query.ogp_value {
        builder.push(" AND ");
        builder.push_bind(value);
        builder.push(" = ANY(c.ogp_values)");
    }
    if let Some(from) = query.from {
        builder.push(" AND c.started_at >= ");
        builder.push_bind(from);
    }
    if let Some(until) = query.until {
        builder.push(" AND c.started_at < ");
        builder.push_bind(until);
    }
    if query.recommended_only {
        builder.push(" AND r.reason IS NOT NULL");
    }
}

/// Rows `offset..offset + limit` of the entries matching `query`.
pub async fn search(
    store: &Store,
    query: &PracticeQuery,
    offset: usize,
    limit: usize,
) -> Result<PracticePage, AssociationError> {
    let mut page = QueryBuilder::<Postgres>::new(
        "SELECT c.municipality, c.tool, c.id, c.title, left(c.body, ",
    );
    page.push_bind(EXCERPT_CHARS);
    page.push(") AS body, left(c.outcome, ");
    page.push_bind(EXCERPT_CHARS);
    page.push(
        ") AS outcome, c.category, c.status, c.decision, c.completion, c.lead, c.ogp_values, \
         c.started_at, c.updated_at, c.seq, r.reason, \
         (extract(epoch FROM r.recommended_at) * 1000000)::int8 AS recommended_at",
    );
    from_where(&mut page, query);
    page.push(" ORDER BY ");
    if !query.terms.is_empty() {
        page.push("ts_rank(c.search, to_tsquery('simple', ");
        page.push_bind(projection::search::tsquery(&query.terms));
        page.push(")) DESC, ");
    }
    page.push("c.started_at DESC, c.municipality, c.tool, c.id OFFSET ");
    page.push_bind(i64::try_from(offset).unwrap_or(i64::MAX));
    page.push(" LIMIT ");
    page.push_bind(i64::try_from(limit).unwrap_or(i64::MAX));
    let rows = page.build().fetch_all(store.pool()).await.map_err(db)?;

    let mut count = QueryBuilder::<Postgres>::new("SELECT count(*) FROM (SELECT 1");
    from_where(&mut count, query);
    count.push(" LIMIT ");
    count.push_bind(COUNT_MAX + 1);
    count.push(") AS matched");
    let matched: i64 = count
        .build()
        .fetch_one(store.pool())
        .await
        .map_err(db)?
        .try_get(0)
        .map_err(db)?;

    let rows = rows
        .iter()
        .map(|row| -> Result<PracticeRow, AssociationError> {
            let tool: i16 = row.try_get("tool").map_err(db)?;
            let id: Vec<u8> = row.try_get("id").map_err(db)?;
            let corrupt = |what: &str| AssociationError::Corrupt(format!("a catalogue {what}"));
            let reason: Option<String> = row.try_get("reason").map_err(db)?;
            let recommended_at: Option<i64> = row.try_get("recommended_at").map_err(db)?;
            Ok(PracticeRow {
                municipality: parse_code(&row.try_get::<String, _>("municipality").map_err(db)?)?,
                tool: Tool::from_code(tool).ok_or_else(|| corrupt("tool"))?,
                id: Uuid::from_slice(&id).map_err(|_| corrupt("id"))?,
                title: row.try_get("title").map_err(db)?,
                text: row.try_get("body").map_err(db)?,
                outcome: row.try_get("outcome").map_err(db)?,
                category: row.try_get("category").map_err(db)?,
                status: row.try_get("status").map_err(db)?,
                decision: row.try_get("decision").map_err(db)?,
                completion: row.try_get("completion").map_err(db)?,
                lead: row.try_get("lead").map_err(db)?,
                ogp_values: row.try_get("ogp_values").map_err(db)?,
                started_at: row.try_get("started_at").map_err(db)?,
                updated_at: row.try_get("updated_at").map_err(db)?,
                seq: uint(row.try_get("seq").map_err(db)?),
                recommendation: reason.map(|r| (r, recommended_at.unwrap_or(0))),
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(PracticePage {
        rows,
        total: uint(matched.min(COUNT_MAX)),
        capped: matched > COUNT_MAX,
    })
}
