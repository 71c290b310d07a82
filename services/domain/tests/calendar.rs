//! Working-day and Kyiv-time arithmetic, and the calendar stream that records which dates are
//! non-working, tested across weekends, listed dates and summer-time switches.

mod fixtures;

use domain::calendar::{
    CalendarCommand, CalendarEvent, NON_WORKING_DATES_MAX, NonWorkingDatesSet, Weekday,
    kyiv_offset_secs, on_or_before,
};
use domain::testing::given;
use domain::{Calendar, CivilDate, DomainError, Refusal, Violation, WorkingCalendar, kyiv_date};
use event_store_core::Timestamp;
use fixtures::{calendar_with, date, utc, weekdays_only};

#[test]
fn kyiv_is_utc_plus_two_in_winter_and_three_in_summer() {
    assert_eq!(kyiv_offset_secs(utc("2024-01-15", 12, 0)), 7_200);
    assert_eq!(kyiv_offset_secs(utc("2024-07-15", 12, 0)), 10_800);
    // 2024: summer time from Sunday 31 March 01:00 UTC to Sunday 27 October 01:00 UTC.
    assert_eq!(
        kyiv_offset_secs(Timestamp(utc("2024-03-31", 1, 0).0 - 1)),
        7_200
    );
    assert_eq!(kyiv_offset_secs(utc("2024-03-31", 1, 0)), 10_800);
    assert_eq!(
        kyiv_offset_secs(Timestamp(utc("2024-10-27", 1, 0).0 - 1)),
        10_800
    );
    assert_eq!(kyiv_offset_secs(utc("2024-10-27", 1, 0)), 7_200);
    // 2025: 30 March and 26 October.
    assert_eq!(kyiv_offset_secs(utc("2025-03-30", 0, 59)), 7_200);
    assert_eq!(kyiv_offset_secs(utc("2025-03-30", 1, 0)), 10_800);
    assert_eq!(kyiv_offset_secs(utc("2025-10-26", 0, 59)), 10_800);
    assert_eq!(kyiv_offset_secs(utc("2025-10-26", 1, 0)), 7_200);
}

#[test]
fn kyiv_dates_roll_over_before_utc_dates() {
    // Winter: Kyiv midnight is 22:00 UTC the day before.
    assert_eq!(kyiv_date(utc("2024-12-31", 21, 59)), date("2024-12-31"));
    assert_eq!(kyiv_date(utc("2024-12-31", 22, 0)), date("2025-01-01"));
    // Summer: Kyiv midnight is 21:00 UTC the day before.
    assert_eq!(kyiv_date(utc("2024-06-30", 20, 59)), date("2024-06-30"));
    assert_eq!(kyiv_date(utc("2024-06-30", 21, 0)), date("2024-07-01"));
    // An act at 23:30 Kyiv on the due day is on time; at 00:30 the next day it is late.
    let due = date("2024-06-17");
    assert!(on_or_before(utc("2024-06-17", 20, 30), due));
    assert!(!on_or_before(utc("2024-06-17", 21, 30), due));
}

#[test]
fn conversion_never_panics_at_the_ends_of_time() {
    for at in [
        Timestamp(i64::MIN),
        Timestamp(i64::MAX),
        Timestamp(0),
        Timestamp(-1),
    ] {
        let day = kyiv_date(at);
        assert!(CivilDate::new(day.year(), day.month(), day.day()).is_some());
        let _ = weekdays_only().add_working_days(day, u16::MAX);
    }
    assert_eq!(kyiv_date(Timestamp(0)), date("1970-01-01"));
}

#[test]
fn working_days_skip_weekends() {
    let calendar = weekdays_only();
    assert_eq!(date("2024-05-03").weekday(), Weekday::Friday);
    assert!(calendar.is_working_day(date("2024-05-03")));
    assert!(!calendar.is_working_day(date("2024-05-04")));
    assert!(!calendar.is_working_day(date("2024-05-05")));
    // Friday + 2 working days = Tuesday.
    assert_eq!(
        calendar.add_working_days(date("2024-05-03"), 2),
        date("2024-05-07")
    );
    // Saturday + 1 = Monday; zero days is the day itself.
    assert_eq!(
        calendar.add_working_days(date("2024-05-04"), 1),
        date("2024-05-06")
    );
    assert_eq!(
        calendar.add_working_days(date("2024-05-04"), 0),
        date("2024-05-04")
    );
    // Monday + 10 = Monday two weeks later.
    assert_eq!(
        calendar.add_working_days(date("2024-06-03"), 10),
        date("2024-06-17")
    );
}

#[test]
fn working_days_skip_listed_dates() {
    let calendar = calendar_with(&["2024-05-06", "2024-06-10", "2024-06-11"]);
    assert!(!calendar.is_working_day(date("2024-05-06")));
    assert_eq!(
        calendar.add_working_days(date("2024-05-03"), 2),
        date("2024-05-08")
    );
    assert_eq!(
        calendar.add_working_days(date("2024-06-03"), 10),
        date("2024-06-19")
    );
    // A listed date on a weekend changes nothing.
    let weekend_listed = calendar_with(&["2024-05-04"]);
    assert_eq!(
        weekend_listed.add_working_days(date("2024-05-03"), 2),
        date("2024-05-07")
    );
    // Deadlines count from the Kyiv day of the start: 23:30 Kyiv on Thursday is Thursday,
    // 00:30 Kyiv on Friday is Friday although it is still Thursday in UTC.
    let thursday_night = utc("2024-05-02", 20, 30);
    assert_eq!(
        weekdays_only().deadline(thursday_night, 2),
        date("2024-05-06")
    );
    let friday_early = utc("2024-05-02", 21, 30);
    assert_eq!(
        weekdays_only().deadline(friday_early, 2),
        date("2024-05-07")
    );
}

#[test]
fn counts_working_days_between_dates() {
    let calendar = calendar_with(&["2024-06-10"]);
    assert_eq!(
        calendar.working_days_between(date("2024-06-03"), date("2024-06-03")),
        0
    );
    assert_eq!(
        calendar.working_days_between(date("2024-06-03"), date("2024-06-02")),
        0
    );
    assert_eq!(
        calendar.working_days_between(date("2024-06-03"), date("2024-06-17")),
        9
    );
    assert_eq!(
        weekdays_only().working_days_between(date("2024-06-03"), date("2024-06-17")),
        10
    );
    // Agrees with stepping day by day over two years.
    let start = date("2024-01-01");
    for n in 0..520u16 {
        let end = calendar.add_working_days(start, n);
        assert_eq!(calendar.working_days_between(start, end), u64::from(n));
    }
}

#[test]
fn a_calendar_change_is_recorded_as_the_whole_sorted_list() {
    let at = utc("2024-01-10", 9, 0);
    let state = given::<Calendar>([])
        .when(CalendarCommand::SetNonWorkingDates {
            dates: vec![date("2024-05-06"), date("2024-01-01"), date("2024-05-06")],
            at,
        })
        .then([CalendarEvent::NonWorkingDatesSet(NonWorkingDatesSet {
            dates: vec![date("2024-01-01"), date("2024-05-06")],
            at,
        })]);
    assert!(!state.calendar.is_working_day(date("2024-01-01")));
    assert_eq!(state.changed_at, Some(at));
}

#[test]
fn setting_the_same_list_records_nothing() {
    let first = NonWorkingDatesSet {
        dates: vec![date("2024-01-01")],
        at: utc("2024-01-01", 0, 0),
    };
    given::<Calendar>([CalendarEvent::NonWorkingDatesSet(first)])
        .when(CalendarCommand::SetNonWorkingDates {
            dates: vec![date("2024-01-01")],
            at: utc("2024-02-01", 0, 0),
        })
        .then([]);
}

#[test]
fn refuses_a_list_longer_than_the_bound() {
    let start = date("2000-01-01");
    let too_many = (0..=i64::from(NON_WORKING_DATES_MAX))
        .map(|n| start.add_days(n))
        .collect();
    given::<Calendar>([])
        .when(CalendarCommand::SetNonWorkingDates {
            dates: too_many,
            at: utc("2024-01-01", 0, 0),
        })
        .then_error(DomainError::invalid(
            "dates",
            Violation::TooMany {
                items_max: NON_WORKING_DATES_MAX,
            },
        ));
    let at_bound = (0..i64::from(NON_WORKING_DATES_MAX)).map(|n| start.add_days(n));
    assert!(WorkingCalendar::new(at_bound).is_ok());
}

#[test]
fn adding_working_days_stops_at_the_last_representable_date() {
    let last = CivilDate::new(i32::MAX, 12, 31).expect("a real date");
    assert_eq!(last.add_days(1), last, "the date saturates");
    // Listed as non-working, the last date can never count: counting must stop there rather
    // than spin in place.
    let listed = WorkingCalendar::new([last]).expect("one date");
    assert_eq!(listed.add_working_days(last.add_days(-3), 10), last);
    assert_eq!(listed.add_working_days(last, 1), last);
    // Near the end but with room, it counts as usual.
    let start = last.add_days(-30);
    let due = weekdays_only().add_working_days(start, 5);
    assert_eq!(weekdays_only().working_days_between(start, due), 5);
}

#[test]
fn a_deadline_from_the_night_of_a_summer_time_switch_counts_from_the_kyiv_day() {
    // 2025-03-30: 00:30 UTC is 02:30 EET Sunday, 01:30 UTC is 04:30 EEST Sunday; 2025-03-29
    // 21:59 UTC is 23:59 EET Saturday. Friday 2025-04-04 is listed, so two working days after
    // either weekend day end on Tuesday, and ten end on Monday 2025-04-14.
    let calendar = calendar_with(&["2025-04-04"]);
    for at in [
        utc("2025-03-29", 21, 59),
        utc("2025-03-30", 0, 30),
        utc("2025-03-30", 1, 30),
    ] {
        assert_eq!(calendar.deadline(at, 2), date("2025-04-01"), "{at:?}");
        assert_eq!(calendar.deadline(at, 10), date("2025-04-14"), "{at:?}");
    }
    // On the Friday before, 23:30 EET (21:30 UTC) is still Friday, so its term starts
    // Monday; 00:30 EET Saturday (22:30 UTC Friday) is Saturday, which also starts Monday.
    assert_eq!(
        calendar.deadline(utc("2025-03-28", 21, 30), 1),
        date("2025-03-31")
    );
    assert_eq!(kyiv_date(utc("2025-03-28", 22, 30)), date("2025-03-29"));
}

#[test]
fn a_calendar_change_dated_before_the_previous_one_is_refused() {
    let first = CalendarEvent::NonWorkingDatesSet(NonWorkingDatesSet {
        dates: vec![date("2024-01-01")],
        at: utc("2024-02-01", 0, 0),
    });
    given::<Calendar>([first.clone()])
        .when(CalendarCommand::SetNonWorkingDates {
            dates: vec![date("2024-08-24")],
            at: utc("2024-01-31", 23, 59),
        })
        .then_error(DomainError::refused(Refusal::TimeBeforePrevious));
    given::<Calendar>([first])
        .when(CalendarCommand::SetNonWorkingDates {
            dates: vec![date("2024-08-24")],
            at: utc("2024-02-01", 0, 0),
        })
        .then([CalendarEvent::NonWorkingDatesSet(NonWorkingDatesSet {
            dates: vec![date("2024-08-24")],
            at: utc("2024-02-01", 0, 0),
        })]);
}
