//! `cargo run --release -p fuzz -- --cases N --seed S [--target NAME]`: sustained fuzzing of
//! every target (or one), printing per target the cases run, the time and the findings.
//! Exits 1 when anything was found.

use std::process::ExitCode;
use std::time::Instant;

fn usage() -> ExitCode {
    eprintln!(
        "usage: fuzz [--cases N] [--seed S] [--target NAME]\n  targets: {}",
        fuzz::targets::all()
            .iter()
            .map(|t| t.name)
            .collect::<Vec<_>>()
            .join(", ")
    );
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let mut cases = 1_000_000u64;
    let mut seed = fuzz::DEFAULT_SEED;
    let mut only: Option<String> = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let value = args.next();
        let parsed = match (arg.as_str(), value) {
            ("--cases", Some(v)) => v.replace('_', "").parse().map(|n| cases = n).is_ok(),
            ("--seed", Some(v)) => {
                let v = v.trim_start_matches("0x");
                u64::from_str_radix(
                    v,
                    if v.chars().all(|c| c.is_ascii_digit()) {
                        10
                    } else {
                        16
                    },
                )
                .map(|s| seed = s)
                .is_ok()
            }
            ("--target", Some(v)) => {
                only = Some(v);
                true
            }
            _ => false,
        };
        if !parsed {
            return usage();
        }
    }
    let targets: Vec<_> = fuzz::targets::all()
        .into_iter()
        .filter(|t| only.as_deref().is_none_or(|name| name == t.name))
        .collect();
    if targets.is_empty() {
        return usage();
    }
    println!("seed {seed:#x}, {cases} cases per target");
    let started = Instant::now();
    let mut found = 0;
    let mut total = 0;
    for target in &targets {
        let outcome = fuzz::run(target, cases, seed);
        total += outcome.cases;
        found += outcome.findings.len();
        println!(
            "{:<32} {:>10} cases {:>8.1} s {:>9.0} cases/s  peak alloc {:>7} B single, {:>7} B live  findings {}",
            outcome.target,
            outcome.cases,
            outcome.elapsed.as_secs_f64(),
            outcome.cases as f64 / outcome.elapsed.as_secs_f64().max(1e-9),
            outcome.peak_single,
            outcome.peak_live,
            outcome.findings.len()
        );
        for finding in &outcome.findings {
            println!("  - {}", fuzz::describe(finding).replace('\n', "\n    "));
        }
    }
    println!(
        "{} targets, {total} cases in {:.1} s, {found} findings",
        targets.len(),
        started.elapsed().as_secs_f64()
    );
    if found == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
