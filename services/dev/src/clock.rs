//! Simulated time for `vidkryto dev`: weeks of civic history in minutes, never in the future.
//!
//! Deadlines in the domain are days long (2 working days to moderate, 10 to answer, 60 to
//! collect signatures), so a federation running at wall-clock speed shows no answered or late
//! petitions for days. Every node of the dev federation therefore reads this clock: it starts
//! `history` before the present and runs `speed` times faster than the wall clock until it
//! reaches the present, then follows the system clock. Every recorded time is a real past
//! instant, deadlines fall where the rules put them, and lateness is the node's own finding.
//! One visible seam: the association computes "overdue now" against the real date, so while
//! the replay runs, petitions and milestones still open in simulated time but due before the
//! real today count as overdue; they stop counting once they are answered or time catches up.

use std::sync::Arc;
use std::time::{Duration, Instant};

use event_store_core::Timestamp;

const DAY_MICROS: i64 = 86_400_000_000;

/// A clock that replays `history` quickly, then keeps to the present.
#[derive(Debug, Clone)]
pub struct SimClock {
    started: Instant,
    origin: Timestamp,
    speed: i64,
}

impl SimClock {
    /// Starts `history_days` before now, running `speed` times faster than the wall clock.
    pub fn new(history_days: u32, speed: u32) -> Self {
        Self::starting_at(
            Timestamp(Timestamp::now().0 - i64::from(history_days) * DAY_MICROS),
            speed,
        )
    }

    fn starting_at(origin: Timestamp, speed: u32) -> Self {
        Self {
            started: Instant::now(),
            origin,
            speed: i64::from(speed.max(1)),
        }
    }

    /// The simulated present: never later than the system clock's.
    pub fn now(&self) -> Timestamp {
        let elapsed = i64::try_from(self.started.elapsed().as_micros()).unwrap_or(i64::MAX);
        let simulated = self
            .origin
            .0
            .saturating_add(elapsed.saturating_mul(self.speed));
        Timestamp(simulated.min(Timestamp::now().0))
    }

    /// Wall-clock time until the simulated present reaches the real one (zero once it has).
    pub fn catching_up_for(&self) -> Duration {
        let behind = Timestamp::now().0.saturating_sub(self.now().0).max(0);
        let micros = u64::try_from(behind / self.speed).unwrap_or(0);
        Duration::from_micros(micros)
    }

    /// The clock as the node reads it.
    pub fn node_clock(&self) -> node::executor::Clock {
        let clock = self.clone();
        Arc::new(move || clock.now())
    }
}

/// `days` simulated days as a timestamp offset (fractions allowed).
pub fn days(days: f64) -> i64 {
    // Bounded by the callers' ranges (at most a few hundred days), so no overflow.
    (days * DAY_MICROS as f64) as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_fast_through_the_past_and_never_passes_the_present() {
        let start = Timestamp(Timestamp::now().0 - 10 * DAY_MICROS);
        let clock = SimClock::starting_at(start, 86_400 * 1_000);
        // A thousand days a second: ten days pass within 10 ms of wall time.
        std::thread::sleep(Duration::from_millis(30));
        let now = clock.now();
        assert!(now.0 <= Timestamp::now().0, "never in the future");
        assert!(
            now.0 >= Timestamp::now().0 - 1_000_000,
            "caught up with the present"
        );
        assert_eq!(clock.catching_up_for(), Duration::ZERO);

        let slow = SimClock::starting_at(start, 2);
        let a = slow.now();
        std::thread::sleep(Duration::from_millis(20));
        let b = slow.now();
        assert!(b.0 - a.0 >= 40_000, "two simulated seconds per second");
        assert!(
            b.0 < Timestamp::now().0 - 9 * DAY_MICROS,
            "still in the past"
        );
        assert!(slow.catching_up_for() > Duration::from_secs(86_400));
    }
}
