//! The one way an area's shares are computed, for the figures and the leaderboards alike.

/// `part / whole`, 0 when whole is 0.
pub fn share(part: i64, whole: i64) -> f64 {
    if whole <= 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}
