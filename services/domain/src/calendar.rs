//! Working days in a hromada: civil dates, the Europe/Kyiv clock, and the calendar of
//! non-working dates in force, which is itself recorded in the log so the node, the
//! association and auditors compute every deadline the same way.
//!
//! # Kyiv time without a tz database
//!
//! Deadlines count civil days in Kyiv, so a timestamp must become a Kyiv date. The rule is
//! written in code instead of read from a tz database file: a pure crate does no file I/O, and
//! the answer must not change with the host's tzdata package. Kyiv keeps EET (UTC+2) and, under
//! the EU rule Ukraine follows, EEST (UTC+3) from the last Sunday of March 01:00 UTC to the last
//! Sunday of October 01:00 UTC. This matches tzdata `Europe/Kyiv` for every year since 1997
//! (older history differs, which no civic record here predates). If Ukraine changes its clock
//! law, the change goes here as a new dated rule, keeping the old one for older timestamps.
//!
//! # Working days
//!
//! A working day is Monday to Friday in Kyiv, except the dates in the hromada's list of
//! non-working dates. A term of `n` working days "from" a day starts counting on the next day
//! (Civil Code of Ukraine, art. 253): the deadline is the `n`-th working day after it, and an
//! act is on time if its Kyiv date is on or before the deadline.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use event_store_core::Timestamp;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::{DomainError, Violation};
use crate::stream::check_not_before_last;
use crate::text::{bounded_list, check_len, check_strictly_ascending};

/// Most non-working dates a calendar holds: public holidays and their transfers are about 15 a
/// year, so 1,024 covers decades of history while keeping each calendar event under ~6 KB.
pub const NON_WORKING_DATES_MAX: u32 = 1_024;

/// Seconds in a civil day (Kyiv has no leap seconds in civil time).
const DAY_SECS: i64 = 86_400;

/// Microseconds in 24 hours, the unit of [`Timestamp`]: collection periods and dialogue spans
/// are counted in these, not in civil days.
pub(crate) const DAY_MICROS: i64 = DAY_SECS * 1_000_000;

/// Kyiv's offset from UTC in winter (EET).
pub const KYIV_STANDARD_OFFSET_SECS: i64 = 2 * 3_600;

/// Kyiv's offset from UTC in summer (EEST).
pub const KYIV_SUMMER_OFFSET_SECS: i64 = 3 * 3_600;

/// Smallest and largest days since 1970-01-01 a [`CivilDate`] can hold (years within `i32`).
const EPOCH_DAYS_MIN: i64 = -784_353_015_833;
const EPOCH_DAYS_MAX: i64 = 784_351_576_776;

/// A day of the proleptic Gregorian calendar, e.g. `2024-08-24`. Always a real date.
///
/// Encoded by postcard as year (`i32`, zigzag varint), month (`u8`), day (`u8`); decoding
/// refuses a date that does not exist.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "CivilDateParts", into = "CivilDateParts")]
pub struct CivilDate {
    year: i32,
    month: u8,
    day: u8,
}

/// The encoded form of a [`CivilDate`], checked when it becomes one.
#[derive(Serialize, Deserialize)]
struct CivilDateParts {
    year: i32,
    month: u8,
    day: u8,
}

impl TryFrom<CivilDateParts> for CivilDate {
    type Error = &'static str;
    fn try_from(parts: CivilDateParts) -> Result<Self, Self::Error> {
        Self::new(parts.year, parts.month, parts.day).ok_or("no such calendar date")
    }
}

impl From<CivilDate> for CivilDateParts {
    fn from(date: CivilDate) -> Self {
        Self {
            year: date.year,
            month: date.month,
            day: date.day,
        }
    }
}

/// A day of the week.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Weekday {
    Monday,
    Tuesday,
    Wednesday,
    Thursday,
    Friday,
    Saturday,
    Sunday,
}

impl CivilDate {
    /// The date, if it exists (`2023-02-29` does not).
    pub const fn new(year: i32, month: u8, day: u8) -> Option<Self> {
        if month < 1 || month > 12 || day < 1 || day > days_in_month(year, month) {
            return None;
        }
        Some(Self { year, month, day })
    }

    /// The year.
    pub const fn year(self) -> i32 {
        self.year
    }

    /// The month, 1 to 12.
    pub const fn month(self) -> u8 {
        self.month
    }

    /// The day of the month, 1 to 31.
    pub const fn day(self) -> u8 {
        self.day
    }

    /// Days since 1970-01-01 (negative before it).
    pub const fn epoch_days(self) -> i64 {
        // Howard Hinnant's `days_from_civil`, on a year that starts in March.
        let month = self.month as i64;
        let year = self.year as i64 - if month <= 2 { 1 } else { 0 };
        let era = year.div_euclid(400);
        let year_of_era = year - era * 400;
        let month_from_march = (month + 9) % 12;
        let day_of_year = (153 * month_from_march + 2) / 5 + self.day as i64 - 1;
        let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
        era * 146_097 + day_of_era - 719_468
    }

    /// The date `days` after 1970-01-01, if its year fits an `i32`.
    pub const fn from_epoch_days(days: i64) -> Option<Self> {
        if days < EPOCH_DAYS_MIN || days > EPOCH_DAYS_MAX {
            return None;
        }
        // Howard Hinnant's `civil_from_days`.
        let shifted = days + 719_468;
        let era = shifted.div_euclid(146_097);
        let day_of_era = shifted - era * 146_097;
        let year_of_era =
            (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
        let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
        let month_from_march = (5 * day_of_year + 2) / 153;
        let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
        let month = if month_from_march < 10 {
            month_from_march + 3
        } else {
            month_from_march - 9
        };
        let year = year_of_era + era * 400 + if month <= 2 { 1 } else { 0 };
        // In range by the bounds checked above.
        Some(Self {
            year: year as i32,
            month: month as u8,
            day: day as u8,
        })
    }

    /// Like [`CivilDate::from_epoch_days`], clamping to the representable range. Exact for
    /// every date reachable from an `i64`-microsecond timestamp plus any `u16` count of days.
    fn from_epoch_days_clamped(days: i64) -> Self {
        let clamped = days.clamp(EPOCH_DAYS_MIN, EPOCH_DAYS_MAX);
        match Self::from_epoch_days(clamped) {
            Some(date) => date,
            None => Self {
                year: 1970,
                month: 1,
                day: 1,
            },
        }
    }

    /// The date `days` later (earlier if negative), clamped to the representable range.
    pub fn add_days(self, days: i64) -> Self {
        Self::from_epoch_days_clamped(self.epoch_days().saturating_add(days))
    }

    /// The day of the week.
    pub const fn weekday(self) -> Weekday {
        match days_since_monday(self.epoch_days()) {
            0 => Weekday::Monday,
            1 => Weekday::Tuesday,
            2 => Weekday::Wednesday,
            3 => Weekday::Thursday,
            4 => Weekday::Friday,
            5 => Weekday::Saturday,
            _ => Weekday::Sunday,
        }
    }
}

/// Days from the Monday on or before the day `epoch_day` days after 1970-01-01 (0 for a
/// Monday; 1970-01-01 was a Thursday).
pub const fn days_since_monday(epoch_day: i64) -> i64 {
    (epoch_day + 3).rem_euclid(7)
}

/// The Monday on or before the day `epoch_day` days after 1970-01-01, in days after it: the key
/// of the week the day falls in.
pub const fn monday_on_or_before(epoch_day: i64) -> i64 {
    epoch_day - days_since_monday(epoch_day)
}

const fn is_leap_year(year: i32) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

const fn days_in_month(year: i32, month: u8) -> u8 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap_year(year) => 29,
        2 => 28,
        _ => 0,
    }
}

impl fmt::Display for CivilDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

impl fmt::Debug for CivilDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CivilDate({self})")
    }
}

/// Why text is not a `YYYY-MM-DD` date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("date must be an existing day written as yyyy-mm-dd")]
pub struct CivilDateParseError;

impl FromStr for CivilDate {
    type Err = CivilDateParseError;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let mut parts = text.splitn(3, '-');
        let (Some(year), Some(month), Some(day)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(CivilDateParseError);
        };
        let digits = |s: &str, len: usize| s.len() == len && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(year, 4) || !digits(month, 2) || !digits(day, 2) {
            return Err(CivilDateParseError);
        }
        let year = year.parse().map_err(|_| CivilDateParseError)?;
        let month = month.parse().map_err(|_| CivilDateParseError)?;
        let day = day.parse().map_err(|_| CivilDateParseError)?;
        Self::new(year, month, day).ok_or(CivilDateParseError)
    }
}

/// The instant summer time starts (`month` 3) or ends (`month` 10) in `year`: the last Sunday
/// of that month, 01:00 UTC, in seconds since the epoch.
const fn eu_switch_secs(year: i32, month: u8) -> i64 {
    let last_day = CivilDate {
        year,
        month,
        day: 31,
    };
    let back = match last_day.weekday() {
        Weekday::Sunday => 0,
        Weekday::Monday => 1,
        Weekday::Tuesday => 2,
        Weekday::Wednesday => 3,
        Weekday::Thursday => 4,
        Weekday::Friday => 5,
        Weekday::Saturday => 6,
    };
    (last_day.epoch_days() - back) * DAY_SECS + 3_600
}

/// The years whose switches are tabled: every instant a log holds in practice.
const SWITCH_TABLE_FIRST_YEAR: i32 = 1970;
const SWITCH_TABLE_YEARS: usize = 230;

/// Summer time's start and end of every tabled year, ascending (computed at compile time): an
/// instant is in summer time when an odd number of them are at or before it. Every event's
/// Kyiv date goes through here, so it is a binary search instead of two date computations.
static SWITCHES: [i64; 2 * SWITCH_TABLE_YEARS] = switch_table();

const fn switch_table() -> [i64; 2 * SWITCH_TABLE_YEARS] {
    let mut table = [0; 2 * SWITCH_TABLE_YEARS];
    let mut i = 0;
    while i < SWITCH_TABLE_YEARS {
        let year = SWITCH_TABLE_FIRST_YEAR + i as i32;
        table[2 * i] = eu_switch_secs(year, 3);
        table[2 * i + 1] = eu_switch_secs(year, 10);
        i += 1;
    }
    table
}

/// Kyiv's offset from UTC at `at`, in seconds: +3 h in summer time, +2 h otherwise.
pub fn kyiv_offset_secs(at: Timestamp) -> i64 {
    let secs = at.as_secs();
    let summer = match (SWITCHES.first(), SWITCHES.last()) {
        (Some(&first), Some(&last)) if secs >= first && secs < last => {
            SWITCHES.partition_point(|&switch| switch <= secs) % 2 == 1
        }
        _ => summer_time_computed(secs),
    };
    if summer {
        KYIV_SUMMER_OFFSET_SECS
    } else {
        KYIV_STANDARD_OFFSET_SECS
    }
}

/// Whether `secs` is in summer time, from the rule itself (outside the table).
fn summer_time_computed(secs: i64) -> bool {
    let year = CivilDate::from_epoch_days_clamped(secs.div_euclid(DAY_SECS)).year;
    secs >= eu_switch_secs(year, 3) && secs < eu_switch_secs(year, 10)
}

/// The civil date in Kyiv at `at`.
pub fn kyiv_date(at: Timestamp) -> CivilDate {
    CivilDate::from_epoch_days_clamped(kyiv_epoch_day(at))
}

/// [`kyiv_date`] as days since 1970-01-01, without the civil date's year, month and day: the
/// projections ask it of every event they count.
pub fn kyiv_epoch_day(at: Timestamp) -> i64 {
    let local_secs = at.as_secs() + kyiv_offset_secs(at);
    local_secs
        .div_euclid(DAY_SECS)
        .clamp(EPOCH_DAYS_MIN, EPOCH_DAYS_MAX)
}

/// The first instant of the Kyiv day `date` (Kyiv's midnight never falls in a clock change,
/// which happens at 03:00 and 04:00 local time).
pub fn kyiv_midnight(date: CivilDate) -> Timestamp {
    let utc_midnight = date.epoch_days().saturating_mul(DAY_SECS);
    let summer = utc_midnight - KYIV_SUMMER_OFFSET_SECS;
    let secs = if kyiv_offset_secs(Timestamp(summer.saturating_mul(1_000_000)))
        == KYIV_SUMMER_OFFSET_SECS
    {
        summer
    } else {
        utc_midnight - KYIV_STANDARD_OFFSET_SECS
    };
    Timestamp(secs.saturating_mul(1_000_000))
}

/// Whether an act at `at` is on time for a deadline that ends with the Kyiv day `due`.
pub fn on_or_before(at: Timestamp, due: CivilDate) -> bool {
    kyiv_date(at) <= due
}

/// The hromada's working days: Monday to Friday, except a bounded list of non-working dates.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WorkingCalendar {
    non_working: BTreeSet<CivilDate>,
}

impl WorkingCalendar {
    /// A calendar with these non-working dates (in any order; duplicates are merged).
    pub fn new(non_working: impl IntoIterator<Item = CivilDate>) -> Result<Self, DomainError> {
        let non_working: BTreeSet<CivilDate> = non_working.into_iter().collect();
        check_len("dates", non_working.len(), NON_WORKING_DATES_MAX)?;
        Ok(Self { non_working })
    }

    /// The non-working dates, ascending.
    pub fn non_working_dates(&self) -> impl Iterator<Item = CivilDate> + '_ {
        self.non_working.iter().copied()
    }

    /// Whether `date` is a working day.
    pub fn is_working_day(&self, date: CivilDate) -> bool {
        !matches!(date.weekday(), Weekday::Saturday | Weekday::Sunday)
            && !self.non_working.contains(&date)
    }

    /// The `working_days`-th working day after `from` (`from` itself is not counted; zero
    /// days gives `from`). At the end of the representable range it stops at the last date,
    /// working or not: no later day exists to count.
    pub fn add_working_days(&self, from: CivilDate, working_days: u16) -> CivilDate {
        let mut date = from;
        let mut left = working_days;
        // Terminates: every step either advances the date (and every week has five weekdays
        // while the list is finite) or finds it saturated and stops.
        while left > 0 {
            let next = date.add_days(1);
            if next == date {
                break;
            }
            date = next;
            if self.is_working_day(date) {
                left -= 1;
            }
        }
        date
    }

    /// The deadline of a term of `working_days` counted from the Kyiv day of `start`.
    pub fn deadline(&self, start: Timestamp, working_days: u16) -> CivilDate {
        self.add_working_days(kyiv_date(start), working_days)
    }

    /// How many working days lie after `from`, up to and including `to` (zero if `to` is not
    /// after `from`). Late answers are measured with it.
    pub fn working_days_between(&self, from: CivilDate, to: CivilDate) -> u64 {
        let (first, last) = (from.epoch_days() + 1, to.epoch_days());
        if last < first {
            return 0;
        }
        let weekdays = weekdays_up_to(last) - weekdays_up_to(first - 1);
        let listed = self
            .non_working
            .range(from.add_days(1)..=to)
            .filter(|d| !matches!(d.weekday(), Weekday::Saturday | Weekday::Sunday))
            .count();
        u64::try_from(weekdays).unwrap_or(0) - u64::try_from(listed).unwrap_or(0)
    }
}

/// The national clock: a term of `working_days` counted Monday to Friday from the Kyiv day
/// `from`, with no hromada's own non-working dates (under martial law no public holiday is a
/// day off). The association bounds every deadline a node records by it, so a node cannot
/// stretch a term by recording a later date or declaring days off.
pub fn national_deadline(from: CivilDate, working_days: u16) -> CivilDate {
    WorkingCalendar {
        non_working: BTreeSet::new(),
    }
    .add_working_days(from, working_days)
}

/// Weekdays (Monday to Friday) from an arbitrary fixed Monday up to epoch day `day`, so the
/// difference of two calls counts weekdays in between. 1970-01-05 (epoch day 4) was a Monday.
fn weekdays_up_to(day: i64) -> i64 {
    let since_monday = day - 4;
    let weeks = since_monday.div_euclid(7);
    let rest = since_monday.rem_euclid(7) + 1;
    weeks * 5 + rest.min(5)
}

/// The fixed id of the hromada's calendar stream: each node's log has exactly one.
pub const CALENDAR_STREAM_ID: Uuid = Uuid::from_u128(0x7669_646b_7279_746f_8000_6361_6c65_6e64);

/// A change to the calendar stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CalendarCommand {
    /// Replace the list of non-working dates.
    SetNonWorkingDates {
        /// The new list, in any order; duplicates are merged.
        dates: Vec<CivilDate>,
        /// When the change is made.
        at: Timestamp,
    },
}

/// What happened to the calendar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CalendarEvent {
    /// The list of non-working dates changed.
    NonWorkingDatesSet(NonWorkingDatesSet),
}

/// The hromada's list of non-working dates is now exactly `dates`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NonWorkingDatesSet {
    /// The whole list, strictly ascending, at most [`NON_WORKING_DATES_MAX`].
    #[serde(deserialize_with = "non_working_dates")]
    pub dates: Vec<CivilDate>,
    /// When the list changed.
    pub at: Timestamp,
}

/// Reads at most [`NON_WORKING_DATES_MAX`] + 1 dates (see [`bounded_list`]).
fn non_working_dates<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<CivilDate>, D::Error> {
    bounded_list(deserializer, NON_WORKING_DATES_MAX)
}

impl NonWorkingDatesSet {
    pub(crate) fn check(&self) -> Result<(), DomainError> {
        check_len("dates", self.dates.len(), NON_WORKING_DATES_MAX)?;
        check_strictly_ascending("dates", &self.dates)
    }
}

/// The calendar in force.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CalendarState {
    /// The working days as of the last change.
    pub calendar: WorkingCalendar,
    /// When the list last changed, if ever: the time of the stream's latest event, since every
    /// event is a change.
    pub changed_at: Option<Timestamp>,
}

impl CalendarCommand {
    /// When the command is made.
    pub fn at(&self) -> Timestamp {
        match self {
            Self::SetNonWorkingDates { at, .. } => *at,
        }
    }
}

/// Decides a calendar command. Setting the list it already has changes nothing; a change
/// dated before the last one is refused ([`crate::Refusal::TimeBeforePrevious`]).
pub fn decide(
    state: &CalendarState,
    command: CalendarCommand,
) -> Result<Vec<CalendarEvent>, DomainError> {
    match command {
        CalendarCommand::SetNonWorkingDates { dates, at } => {
            check_not_before_last(state.changed_at, at)?;
            let calendar = WorkingCalendar::new(dates)?;
            if calendar == state.calendar {
                return Ok(Vec::new());
            }
            let event = NonWorkingDatesSet {
                dates: calendar.non_working_dates().collect(),
                at,
            };
            event.check()?;
            Ok(vec![CalendarEvent::NonWorkingDatesSet(event)])
        }
    }
}

/// Applies a calendar event.
pub fn evolve(_state: CalendarState, event: &CalendarEvent) -> CalendarState {
    // Each change carries the whole list, so the previous state is replaced.
    match event {
        CalendarEvent::NonWorkingDatesSet(set) => CalendarState {
            calendar: WorkingCalendar {
                non_working: set.dates.iter().copied().collect(),
            },
            changed_at: Some(set.at),
        },
    }
}

/// Checks an event date recorded as a deadline comes after the Kyiv day it counts from.
pub(crate) fn check_deadline(
    field: &'static str,
    start: Timestamp,
    due: CivilDate,
) -> Result<(), DomainError> {
    if due <= kyiv_date(start) {
        return Err(DomainError::invalid(
            field,
            Violation::DeadlineNotAfterStart,
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(text: &str) -> CivilDate {
        text.parse().unwrap()
    }

    #[test]
    fn kyiv_midnight_is_the_first_instant_of_the_kyiv_day() {
        for text in [
            "2024-01-15",
            "2024-03-31",
            "2024-07-01",
            "2024-10-27",
            "2026-12-06",
        ] {
            let day = date(text);
            let midnight = kyiv_midnight(day);
            assert_eq!(kyiv_date(midnight), day, "{text}");
            assert_eq!(
                kyiv_date(Timestamp(midnight.0 - 1)),
                day.add_days(-1),
                "{text}"
            );
        }
    }

    #[test]
    fn the_switch_table_agrees_with_the_rule_at_every_switch() {
        for switch in SWITCHES {
            for secs in [switch - 1, switch, switch + 1] {
                let at = Timestamp(secs * 1_000_000);
                let tabled = kyiv_offset_secs(at) == KYIV_SUMMER_OFFSET_SECS;
                assert_eq!(tabled, summer_time_computed(secs), "at {secs}");
            }
        }
        // Known instants: 2026 switches on 29 March and 25 October, 01:00 UTC.
        let utc = |text: &str, h: i64| (date(text).epoch_days() * DAY_SECS + h * 3_600) * 1_000_000;
        assert_eq!(
            kyiv_offset_secs(Timestamp(utc("2026-03-29", 1) - 1)),
            2 * 3_600
        );
        assert_eq!(kyiv_offset_secs(Timestamp(utc("2026-03-29", 1))), 3 * 3_600);
        assert_eq!(
            kyiv_offset_secs(Timestamp(utc("2026-10-25", 1) - 1)),
            3 * 3_600
        );
        assert_eq!(kyiv_offset_secs(Timestamp(utc("2026-10-25", 1))), 2 * 3_600);
    }

    proptest::proptest! {
        /// Inside and outside the table, the offset is the rule's.
        #[test]
        fn the_offset_is_the_rules_everywhere(secs in -20_000_000_000_i64..20_000_000_000) {
            let tabled = kyiv_offset_secs(Timestamp(secs * 1_000_000)) == KYIV_SUMMER_OFFSET_SECS;
            proptest::prop_assert_eq!(tabled, summer_time_computed(secs));
        }
    }

    #[test]
    fn epoch_days_round_trip_and_know_weekdays() {
        assert_eq!(date("1970-01-01").epoch_days(), 0);
        assert_eq!(date("2024-02-29").epoch_days(), 19_782);
        assert_eq!(date("2024-08-24").weekday(), Weekday::Saturday);
        assert_eq!(date("1991-08-24").weekday(), Weekday::Saturday);
        for days in [-1_000_000, -1, 0, 1, 19_782, 2_932_896] {
            assert_eq!(CivilDate::from_epoch_days(days).unwrap().epoch_days(), days);
        }
        for days in [EPOCH_DAYS_MIN, EPOCH_DAYS_MAX] {
            let d = CivilDate::from_epoch_days(days).unwrap();
            assert_eq!(d.epoch_days(), days);
        }
        assert_eq!(CivilDate::from_epoch_days(EPOCH_DAYS_MAX + 1), None);
        assert_eq!(CivilDate::from_epoch_days(EPOCH_DAYS_MIN - 1), None);
    }

    #[test]
    fn refuses_dates_that_do_not_exist() {
        assert!(CivilDate::new(2024, 2, 29).is_some());
        assert!(CivilDate::new(2023, 2, 29).is_none());
        assert!(CivilDate::new(1900, 2, 29).is_none());
        assert!(CivilDate::new(2000, 2, 29).is_some());
        assert!(CivilDate::new(2024, 13, 1).is_none());
        assert!(CivilDate::new(2024, 4, 31).is_none());
        assert!(CivilDate::new(2024, 1, 0).is_none());
        for bad in [
            "2024-2-01",
            "2024-02-30",
            "24-02-01",
            "2024-02-01x",
            "",
            "ї",
        ] {
            assert_eq!(bad.parse::<CivilDate>(), Err(CivilDateParseError), "{bad}");
        }
    }
}
