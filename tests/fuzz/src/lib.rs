//! Bounded, coverage-free mutation fuzzing on stable Rust, for every decoder of untrusted
//! bytes in the workspace (`targets`). Each case takes a valid sample made with the real
//! encoders (`samples`), applies a few PRNG-chosen edits (`mutate`), and runs the decoder
//! inside `catch_unwind` with a counting allocator (`alloc`): a panic, or an allocation past
//! the target's bound (`per_byte × min(len, limit) + fixed`, for both the largest single
//! allocation and the peak of live bytes), is a finding.
//!
//! `cargo test -p fuzz` runs [`CASES_PER_TARGET`] cases of every target from
//! [`DEFAULT_SEED`]; `cargo run --release -p fuzz -- --cases N --seed S [--target NAME]` runs
//! as many as asked and prints, per target, the cases, the time and the findings (each with
//! its input in hex and, for a panic, its message, location and stack).

pub mod alloc;
pub mod mutate;
pub mod rng;
pub mod samples;
pub mod targets;

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Once;
use std::time::{Duration, Instant};

use crate::rng::Rng;
use crate::targets::Target;

#[global_allocator]
static GLOBAL: alloc::Counting = alloc::Counting;

/// Cases per target in `cargo test -p fuzz`: enough to pass every edit over every sample many
/// times, few enough that all targets together run in well under a minute in a debug build on
/// two cores. Longer runs are the binary's (`--cases`).
pub const CASES_PER_TARGET: u64 = 20_000;

/// Targets whose every case verifies Ed25519 signatures run this fraction of the cases in the
/// test (a debug build verifies a few hundred signatures a second); the binary runs them all.
pub const SIGNATURE_TARGETS_DIVISOR: u64 = 10;

/// The seed `cargo test -p fuzz` uses.
pub const DEFAULT_SEED: u64 = 0x005E_ED0F_F022;

/// One kind of finding, at one place.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// A panic: its location (`file:line:col`) and message.
    Panic { location: String, message: String },
    /// An allocation past the bound.
    Allocation {
        peak_single: usize,
        peak_live: usize,
        allowed: usize,
    },
}

/// A finding with the first input that showed it and how many cases did.
#[derive(Debug, Clone)]
pub struct Finding {
    pub kind: Kind,
    pub input: Vec<u8>,
    /// The stack of a panic, captured for the first input only.
    pub stack: String,
    pub cases: u64,
}

/// What one target's run gave.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub target: &'static str,
    pub cases: u64,
    pub elapsed: Duration,
    pub findings: Vec<Finding>,
    /// The largest single allocation and live peak seen, and the input length they came with.
    pub peak_single: usize,
    pub peak_live: usize,
}

thread_local! {
    static FUZZING: Cell<bool> = const { Cell::new(false) };
    static LAST_PANIC: RefCell<Option<(String, String, String)>> = const { RefCell::new(None) };
    static STACK_FOR: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

/// A panic hook that, on a fuzzing thread, records the panic (message, location, and the
/// stack the first time a location panics) instead of printing it; elsewhere it is the
/// default hook.
fn install_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !FUZZING.with(Cell::get) {
                default(info);
                return;
            }
            let location = info
                .location()
                .map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column()))
                .unwrap_or_default();
            let message = info
                .payload()
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| {
                    info.payload()
                        .downcast_ref::<&str>()
                        .map(|s| (*s).to_owned())
                })
                .unwrap_or_default();
            let first = STACK_FOR.with(|seen| {
                let mut seen = seen.borrow_mut();
                if seen.contains(&location) {
                    false
                } else {
                    seen.push(location.clone());
                    true
                }
            });
            let stack = if first {
                std::backtrace::Backtrace::force_capture().to_string()
            } else {
                String::new()
            };
            LAST_PANIC.with(|last| *last.borrow_mut() = Some((location, message, stack)));
        }));
    });
}

/// Runs `cases` cases of `target` from `seed`.
pub fn run(target: &Target, cases: u64, seed: u64) -> Outcome {
    install_hook();
    let seeds = (target.seeds)();
    assert!(!seeds.is_empty(), "{} has samples", target.name);
    let mut rng = Rng::new(rng::target_seed(seed, target.name));
    let mut input = Vec::new();
    let mut findings: BTreeMap<String, Finding> = BTreeMap::new();
    let (mut peak_single, mut peak_live) = (0, 0);
    let started = Instant::now();
    FUZZING.with(|f| f.set(true));
    for case in 0..cases {
        // Every sample once unmutated first: the decoder must accept what the encoder wrote.
        if (case as usize) < seeds.len() {
            input.clear();
            input.extend_from_slice(&seeds[case as usize]);
        } else {
            mutate::mutate(&mut rng, &seeds, target.limit, target.cap, &mut input);
        }
        let result = catch_unwind(AssertUnwindSafe(|| (target.run)(&input)));
        let (key, kind, stack) = match result {
            Ok(usage) => {
                peak_single = peak_single.max(usage.peak_single);
                peak_live = peak_live.max(usage.peak_live);
                let len = input.len().max(usage.input_len);
                let allowed = target.bound.allowed(len, target.limit);
                if usage.peak_single <= allowed && usage.peak_live <= allowed {
                    continue;
                }
                (
                    "allocation".to_owned(),
                    Kind::Allocation {
                        peak_single: usage.peak_single,
                        peak_live: usage.peak_live,
                        allowed,
                    },
                    String::new(),
                )
            }
            Err(_) => {
                let (location, message, stack) = LAST_PANIC
                    .with(|last| last.borrow_mut().take())
                    .unwrap_or_default();
                (
                    format!("panic {location}"),
                    Kind::Panic { location, message },
                    stack,
                )
            }
        };
        let finding = findings.entry(key).or_insert_with(|| Finding {
            kind: kind.clone(),
            input: input.clone(),
            stack,
            cases: 0,
        });
        finding.cases += 1;
        // Keep the allocation finding with the worst ratio to its bound.
        if let (
            Kind::Allocation {
                peak_single: a,
                peak_live: b,
                allowed: c,
            },
            Kind::Allocation {
                peak_single: x,
                peak_live: y,
                allowed: z,
            },
        ) = (&finding.kind, &kind)
            && x.max(y) * c > a.max(b) * z
        {
            finding.kind = kind;
            finding.input = input.clone();
        }
    }
    FUZZING.with(|f| f.set(false));
    Outcome {
        target: target.name,
        cases,
        elapsed: started.elapsed(),
        findings: findings.into_values().collect(),
        peak_single,
        peak_live,
    }
}

/// The cases the test runs for `target`.
pub fn test_cases(target: &Target) -> u64 {
    if target.verifies_signatures() {
        CASES_PER_TARGET / SIGNATURE_TARGETS_DIVISOR
    } else {
        CASES_PER_TARGET
    }
}

impl Target {
    /// Whether cases verify Ed25519 signatures (slow in a debug build).
    pub fn verifies_signatures(&self) -> bool {
        matches!(
            self.name,
            "signed_checkpoint"
                | "association_verifier_checkpoint"
                | "association_verifier_sequence"
                | "archive_json"
        )
    }
}

/// A finding as text: what, how often, the input in hex (long inputs shortened in the
/// middle), and a panic's stack.
pub fn describe(finding: &Finding) -> String {
    let what = match &finding.kind {
        Kind::Panic { location, message } => format!("panic at {location}: {message}"),
        Kind::Allocation {
            peak_single,
            peak_live,
            allowed,
        } => format!(
            "allocation past the bound: largest single {peak_single} B, live peak {peak_live} B, allowed {allowed} B"
        ),
    };
    let hex = hex::encode(&finding.input);
    let hex = if hex.len() > 4_096 {
        format!(
            "{}…({} bytes)…{}",
            &hex[..2_048],
            finding.input.len(),
            &hex[hex.len() - 2_048..]
        )
    } else {
        hex
    };
    let mut text = format!(
        "{what}\n  in {} case(s); first input ({} bytes): {hex}",
        finding.cases,
        finding.input.len()
    );
    if !finding.stack.is_empty() {
        text.push_str("\n  stack:\n");
        text.push_str(&finding.stack);
    }
    text
}
