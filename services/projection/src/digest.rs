//! The canonical digest of the projection: one SHA-256 over every row in a fixed order, so the
//! association's PostgreSQL store and an auditor's independent replay can show they hold the
//! same projection by comparing 32 bytes.
//!
//! # Format, version 7
//!
//! ```text
//! digest = SHA-256( "vidkryto/projection-digest/v7" || record || record || … )
//! record = tag (1 byte) || length (u32, little-endian) || body (length bytes)
//! ```
//!
//! The prefix is the 29 ASCII bytes shown, with no terminator. Records come table by table in
//! this order, each table's rows ascending by key, each key once; a table with no rows
//! contributes nothing:
//!
//! | tag | table | body | key, in sort order |
//! | --- | --- | --- | --- |
//! | 1 | counters | `(MunicipalityCode, Counters)` | municipality |
//! | 2 | weekly | [`WeeklyCounters`] | municipality, `week` |
//! | 3 | answer days | [`AnswerDays`] | municipality, `days` |
//! | 4 | petitions | [`PetitionRow`] | municipality, `petition_id` |
//! | 5 | dialogues | [`DialogueRow`] | municipality, `dialogue_id` |
//! | 6 | plans | [`PlanRow`] | municipality, `plan_id` |
//! | 7 | commitments | [`CommitmentRow`] | municipality, `commitment_id` |
//! | 8 | milestones | [`MilestoneRow`] | municipality, `milestone_id` |
//! | 9 | budget rounds | [`RoundRow`] | municipality, `round_id` |
//! | 10 | budget projects | [`BudgetProjectRow`] | municipality, `project_id` |
//!
//! Municipalities sort by their code's text (19 ASCII bytes, so byte order); `week` and
//! `days` as signed integers; ids by their 16 bytes, most significant first (the order of the
//! UUID's text too). A counters, weekly or answer-days row whose counts are all zero is the
//! same state as no row and is skipped, so a store may keep or drop such rows.
//!
//! A body is the row's fields in declaration order (see [`crate::rows`]), encoded with
//! postcard 1.x: `u8` and `bool` as one byte (`bool` 0 or 1); `u32` and `u64` as unsigned
//! LEB128 varints; `i32` and `i64` zigzag-mapped (0, −1, 1, −2, … to 0, 1, 2, 3, …), then as
//! unsigned varints; `Option<T>` as a byte 0 (none) or 1 followed by `T`; a fixed array
//! (`[i64; 6]`) as its elements in order with no length; a municipality code as the varint 19
//! then its 19 ASCII bytes; a UUID as the varint 16 then its 16 bytes; a pair as its two parts
//! in order; a `u16` as an unsigned varint. `tests/projection/digest.rs` works one petition row through byte by byte and
//! freezes the digest of a sample with one row per table.
//!
//! Any change to a row's fields, their order or meaning, a code table or this layout is a new
//! version with a new prefix. Version 2 added the law's clock to petition rows (moderation and
//! start-of-consideration deadlines, the statute's terms) and four counters after
//! `petitions_answered_on_time`; version 3 starts the clock for the start of consideration at
//! the signature that reaches the threshold (and refuses closing such a collection as failed),
//! with the same rows; version 4 adds the participatory budget tables; version 5 adds
//! `withdrawn_at` to commitments and milestones (amendments and withdrawals); version 6 adds
//! `draft`, `forum_seats` and `proposals` to plans; version 7 keeps `draft` alone (a plan
//! worked out with its local forum before adoption; reports, assessments and closing refused on
//! it), as the projection cannot check the other two counts a node would claim. Digests of
//! other versions are not comparable.

use std::fmt;
use std::str::FromStr;

use event_store_core::MunicipalityCode;
use serde::Serialize;
use sha2::{Digest as _, Sha256};
use uuid::Uuid;

use crate::rows::{
    AnswerDays, BudgetProjectRow, CommitmentRow, Counters, DialogueRow, MilestoneRow, PetitionRow,
    PlanRow, RoundRow, WeeklyCounters,
};

/// The bytes every digest starts with: they name the format and its version.
pub const DIGEST_PREFIX: &[u8] = b"vidkryto/projection-digest/v7";

/// The version [`DIGEST_PREFIX`] names: of the digest, the rows and the rules alike. A store
/// holding rows of another version rebuilds them.
pub const PROJECTION_VERSION: u32 = 7;

/// The projection's tables, in digest order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Table {
    Counters,
    Weekly,
    AnswerDays,
    Petitions,
    Dialogues,
    Plans,
    Commitments,
    Milestones,
    Rounds,
    BudgetProjects,
}

impl Table {
    /// Every table, in digest order.
    pub const ALL: [Self; 10] = [
        Self::Counters,
        Self::Weekly,
        Self::AnswerDays,
        Self::Petitions,
        Self::Dialogues,
        Self::Plans,
        Self::Commitments,
        Self::Milestones,
        Self::Rounds,
        Self::BudgetProjects,
    ];

    /// The table's frozen tag byte in the digest.
    pub const fn tag(self) -> u8 {
        match self {
            Self::Counters => 1,
            Self::Weekly => 2,
            Self::AnswerDays => 3,
            Self::Petitions => 4,
            Self::Dialogues => 5,
            Self::Plans => 6,
            Self::Commitments => 7,
            Self::Milestones => 8,
            Self::Rounds => 9,
            Self::BudgetProjects => 10,
        }
    }

    /// A stable name for errors and logs.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Counters => "counters",
            Self::Weekly => "weekly",
            Self::AnswerDays => "answer_days",
            Self::Petitions => "petitions",
            Self::Dialogues => "dialogues",
            Self::Plans => "plans",
            Self::Commitments => "commitments",
            Self::Milestones => "milestones",
            Self::Rounds => "budget_rounds",
            Self::BudgetProjects => "budget_projects",
        }
    }
}

impl fmt::Display for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a row was refused. The row is not hashed and the builder stays as it was, but a store
/// must treat any of these as fatal: a digest that skipped a row proves nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DigestError {
    #[error("a row of table {table} came after table {after}; tables go in digest order")]
    TableOutOfOrder { table: Table, after: Table },
    #[error(
        "row {key} of table {table} is not after the previous row; rows go in ascending key order, each key once"
    )]
    RowOutOfOrder { table: Table, key: String },
    #[error("row {key} of table {table} did not encode: {reason}")]
    Encode {
        table: Table,
        key: String,
        reason: String,
    },
}

/// A key as bytes whose order is the key's order: the municipality's 19 bytes, then an `i32`
/// big-endian with its sign bit flipped, or a UUID's 16 bytes. Only keys of one table are
/// compared, so the unused tail is zero.
type SortKey = [u8; MunicipalityCode::LEN + 16];

fn sort_key(municipality: MunicipalityCode, rest: &[u8]) -> SortKey {
    let mut key = [0; MunicipalityCode::LEN + 16];
    let code = municipality.as_str().as_bytes();
    let (head, tail) = key.split_at_mut(MunicipalityCode::LEN);
    head.iter_mut().zip(code).for_each(|(k, b)| *k = *b);
    tail.iter_mut().zip(rest).for_each(|(k, b)| *k = *b);
    key
}

fn int_key(municipality: MunicipalityCode, value: i32) -> SortKey {
    let ordered = value.cast_unsigned() ^ 0x8000_0000;
    sort_key(municipality, &ordered.to_be_bytes())
}

fn id_key(municipality: MunicipalityCode, id: Uuid) -> SortKey {
    sort_key(municipality, id.as_bytes())
}

/// Hashes the projection's rows in canonical order (see the [module docs](self)) and refuses
/// rows fed out of that order, so two stores can never disagree about order silently.
pub struct DigestBuilder {
    hasher: Sha256,
    /// The table and key of the last row accepted.
    last: Option<(Table, SortKey)>,
    rows: u64,
    buffer: Vec<u8>,
}

impl fmt::Debug for DigestBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DigestBuilder")
            .field("table", &self.last.map(|(table, _)| table))
            .field("rows", &self.rows)
            .finish_non_exhaustive()
    }
}

impl Default for DigestBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl DigestBuilder {
    /// A digest of no rows yet.
    pub fn new() -> Self {
        let mut hasher = Sha256::new();
        hasher.update(DIGEST_PREFIX);
        Self {
            hasher,
            last: None,
            rows: 0,
            buffer: Vec::new(),
        }
    }

    /// How many records were hashed (zero rows skipped are not counted).
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Adds a municipality's counters (skipped if all zero).
    pub fn counters(
        &mut self,
        municipality: MunicipalityCode,
        counters: &Counters,
    ) -> Result<(), DigestError> {
        let key = sort_key(municipality, &[]);
        let name = || municipality.to_string();
        let hash = !counters.is_zero();
        self.feed(Table::Counters, key, name, hash, &(municipality, counters))
    }

    /// Adds a weekly bucket (skipped if all zero).
    pub fn weekly(&mut self, row: &WeeklyCounters) -> Result<(), DigestError> {
        let key = int_key(row.municipality, row.week);
        let name = || format!("{}/{}", row.municipality, row.week);
        self.feed(Table::Weekly, key, name, !row.is_zero(), row)
    }

    /// Adds a bucket of the histogram of days to answer (skipped if zero).
    pub fn answer_days(&mut self, row: &AnswerDays) -> Result<(), DigestError> {
        let key = int_key(row.municipality, row.days);
        let name = || format!("{}/{}", row.municipality, row.days);
        self.feed(Table::AnswerDays, key, name, row.count != 0, row)
    }

    /// Adds a petition.
    pub fn petition(&mut self, row: &PetitionRow) -> Result<(), DigestError> {
        let key = id_key(row.municipality, row.petition_id);
        let name = || format!("{}/{}", row.municipality, row.petition_id);
        self.feed(Table::Petitions, key, name, true, row)
    }

    /// Adds a dialogue.
    pub fn dialogue(&mut self, row: &DialogueRow) -> Result<(), DigestError> {
        let key = id_key(row.municipality, row.dialogue_id);
        let name = || format!("{}/{}", row.municipality, row.dialogue_id);
        self.feed(Table::Dialogues, key, name, true, row)
    }

    /// Adds an action plan.
    pub fn plan(&mut self, row: &PlanRow) -> Result<(), DigestError> {
        let key = id_key(row.municipality, row.plan_id);
        let name = || format!("{}/{}", row.municipality, row.plan_id);
        self.feed(Table::Plans, key, name, true, row)
    }

    /// Adds a commitment.
    pub fn commitment(&mut self, row: &CommitmentRow) -> Result<(), DigestError> {
        let key = id_key(row.municipality, row.commitment_id);
        let name = || format!("{}/{}", row.municipality, row.commitment_id);
        self.feed(Table::Commitments, key, name, true, row)
    }

    /// Adds a milestone.
    pub fn milestone(&mut self, row: &MilestoneRow) -> Result<(), DigestError> {
        let key = id_key(row.municipality, row.milestone_id);
        let name = || format!("{}/{}", row.municipality, row.milestone_id);
        self.feed(Table::Milestones, key, name, true, row)
    }

    /// Adds a participatory budget round.
    pub fn round(&mut self, row: &RoundRow) -> Result<(), DigestError> {
        let key = id_key(row.municipality, row.round_id);
        let name = || format!("{}/{}", row.municipality, row.round_id);
        self.feed(Table::Rounds, key, name, true, row)
    }

    /// Adds a participatory budget project.
    pub fn budget_project(&mut self, row: &BudgetProjectRow) -> Result<(), DigestError> {
        let key = id_key(row.municipality, row.project_id);
        let name = || format!("{}/{}", row.municipality, row.project_id);
        self.feed(Table::BudgetProjects, key, name, true, row)
    }

    fn feed<T: Serialize + ?Sized>(
        &mut self,
        table: Table,
        key: SortKey,
        name: impl Fn() -> String,
        hash: bool,
        row: &T,
    ) -> Result<(), DigestError> {
        if let Some((last_table, last_key)) = self.last {
            if table < last_table {
                return Err(DigestError::TableOutOfOrder {
                    table,
                    after: last_table,
                });
            }
            if table == last_table && key <= last_key {
                return Err(DigestError::RowOutOfOrder { table, key: name() });
            }
        }
        if hash {
            let encode_error = |reason: String| DigestError::Encode {
                table,
                key: name(),
                reason,
            };
            let mut buffer = std::mem::take(&mut self.buffer);
            buffer.clear();
            let body = postcard::to_extend(row, buffer).map_err(|e| encode_error(e.to_string()))?;
            let Ok(length) = u32::try_from(body.len()) else {
                return Err(encode_error("longer than 4 GiB".into()));
            };
            self.hasher.update([table.tag()]);
            self.hasher.update(length.to_le_bytes());
            self.hasher.update(&body);
            self.buffer = body;
            self.rows = self.rows.wrapping_add(1);
        }
        self.last = Some((table, key));
        Ok(())
    }

    /// The digest of the rows fed.
    pub fn finish(self) -> [u8; 32] {
        self.hasher.finalize().into()
    }
}

/// A projection digest, shown and parsed as 64 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Digest(pub [u8; 32]);

impl From<[u8; 32]> for Digest {
    fn from(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|byte| write!(f, "{byte:02x}"))
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest({self})")
    }
}

/// Why text is not a digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a projection digest is 64 hex digits")]
pub struct DigestParseError;

impl FromStr for Digest {
    type Err = DigestParseError;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.as_bytes();
        if text.len() != 64 {
            return Err(DigestParseError);
        }
        let mut bytes = [0u8; 32];
        for (byte, pair) in bytes.iter_mut().zip(text.chunks_exact(2)) {
            let digit = |c: u8| char::from(c).to_digit(16).ok_or(DigestParseError);
            let value = digit(pair[0])? * 16 + digit(pair[1])?;
            *byte = u8::try_from(value).map_err(|_| DigestParseError)?;
        }
        Ok(Self(bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kyiv() -> MunicipalityCode {
        MunicipalityCode::parse("UA80000000000093317").expect("Kyiv's code")
    }

    #[test]
    fn int_keys_sort_like_the_integers() {
        let values = [i32::MIN, -100, -1, 0, 1, 19_716, i32::MAX];
        for pair in values.windows(2) {
            assert!(
                int_key(kyiv(), pair[0]) < int_key(kyiv(), pair[1]),
                "{pair:?}"
            );
        }
    }

    #[test]
    fn digest_text_round_trips_and_refuses_bad_text() {
        let digest = Digest([0xab; 32]);
        let text = digest.to_string();
        assert_eq!(text, "ab".repeat(32));
        assert_eq!(text.parse::<Digest>(), Ok(digest));
        assert_eq!("AB".repeat(32).parse::<Digest>(), Ok(digest));
        for bad in ["", "ab", &"zz".repeat(32), &"a".repeat(63), &"é".repeat(32)] {
            assert_eq!(bad.parse::<Digest>(), Err(DigestParseError), "{bad}");
        }
    }

    #[test]
    fn empty_digest_is_the_hash_of_the_prefix() {
        let expected: [u8; 32] = Sha256::digest(DIGEST_PREFIX).into();
        assert_eq!(DigestBuilder::new().finish(), expected);
        assert_eq!(DIGEST_PREFIX.len(), 29);
    }

    #[test]
    fn tags_follow_table_order() {
        for (index, table) in Table::ALL.into_iter().enumerate() {
            assert_eq!(usize::from(table.tag()), index + 1);
        }
        assert!(Table::ALL.windows(2).all(|pair| pair[0] < pair[1]));
    }
}
