//! The benchmark's arithmetic and its table: medians, percentiles, and one aligned line per
//! figure with its baseline, the ratio and the goal it is held against.

use std::time::Duration;

/// The median of `values` (the upper one of an even count); `None` when there are none.
pub fn median(mut values: Vec<f64>) -> Option<f64> {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied()
}

/// The nearest-rank `percent`-th percentile of sorted `samples`.
pub fn percentile(sorted: &[Duration], percent: u32) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = (sorted.len() * percent as usize).div_ceil(100).max(1);
    sorted[rank.min(sorted.len()) - 1]
}

/// Milliseconds, for printing.
pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1_000.0
}

/// Whether a figure meets its goal, for the goal column.
#[derive(Clone, Copy, Debug)]
pub enum Goal {
    /// No goal; the figure is context.
    None,
    /// The figure must be at least this.
    AtLeast(f64, &'static str),
    /// The figure must be at most this.
    AtMost(f64, &'static str),
}

impl Goal {
    fn cell(self, value: f64) -> String {
        match self {
            Self::None => String::new(),
            Self::AtLeast(goal, text) => format!("{text} ({})", verdict(value >= goal)),
            Self::AtMost(goal, text) => format!("{text} ({})", verdict(value <= goal)),
        }
    }
}

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "MISSED" }
}

const WHAT_WIDTH: usize = 58;

/// The table's title lines and column heads.
pub fn header(title: &str) {
    println!("{title}");
    println!(
        "{:<WHAT_WIDTH$} {:>10} {:>10} {:>7}  goal",
        "", "vidkryto", "raw", "ratio"
    );
}

/// A rate (or any figure printed without decimals) next to its baseline; the goal applies to
/// the ratio in percent.
pub fn ratio_line(what: &str, ours: f64, raw: f64, goal: Goal) {
    let ratio = 100.0 * ours / raw;
    let line = format!(
        "{what:<WHAT_WIDTH$} {ours:>10.0} {raw:>10.0} {ratio:>6.1}%  {}",
        goal.cell(ratio)
    );
    println!("{}", line.trim_end());
}

/// A figure without a baseline, printed with `decimals`; the goal applies to the figure.
pub fn value_line(what: &str, value: f64, decimals: usize, goal: Goal) {
    let line = format!(
        "{what:<WHAT_WIDTH$} {value:>10.decimals$} {:>10} {:>7}  {}",
        "-",
        "-",
        goal.cell(value)
    );
    println!("{}", line.trim_end());
}

/// A figure that could not be measured, with the reason.
pub fn failed_line(what: &str, error: &anyhow::Error) {
    println!("{what:<WHAT_WIDTH$} not measured: {error:#}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_percentiles() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(vec![]), None);
        let samples: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile(&samples, 50), Duration::from_millis(50));
        assert_eq!(percentile(&samples, 99), Duration::from_millis(99));
        assert_eq!(percentile(&samples, 100), Duration::from_millis(100));
        assert_eq!(percentile(&samples[..1], 99), Duration::from_millis(1));
    }
}
