//! Keeps the crate pure, as the association and the auditor both rely on: no I/O or async
//! crate in its manifest or reachable in the lock file, and no clock, file, network or
//! randomness in its sources. (The domain's `tests/manifest.rs` guards the domain the same
//! way; a shared helper would belong in `tests/testkit`.)

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

const FORBIDDEN_CRATES: &[&str] = &[
    "tokio",
    "sqlx",
    "async-nats",
    "tonic",
    "hyper",
    "reqwest",
    "axum",
    "async-std",
    "smol",
    "mio",
    "futures",
    "rusqlite",
    "tokio-postgres",
    "nats",
];

const FORBIDDEN_IN_SOURCE: &[&str] = &[
    "Timestamp::now",
    "std::fs",
    "std::net",
    "SystemTime",
    "Instant::now",
    "rand::",
];

/// Package name → its dependencies' names, from a `Cargo.lock`.
fn lock_graph(lock: &str) -> BTreeMap<String, Vec<String>> {
    let mut graph: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut current: Option<String> = None;
    let mut in_deps = false;
    for line in lock.lines().map(str::trim) {
        if line == "[[package]]" {
            current = None;
            in_deps = false;
        } else if let Some(name) = line.strip_prefix("name = ") {
            let name = name.trim_matches('"').to_owned();
            graph.entry(name.clone()).or_default();
            current = Some(name);
        } else if line.starts_with("dependencies = [") {
            in_deps = !line.ends_with(']');
        } else if in_deps && line == "]" {
            in_deps = false;
        } else if in_deps && let Some(name) = &current {
            let dep = line.trim_matches([',', '"']).split(' ').next();
            let dep = dep.unwrap_or_default().to_owned();
            graph.entry(name.clone()).or_default().push(dep);
        }
    }
    graph
}

#[test]
fn no_io_or_async_crate_is_reachable_from_the_projection() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../Cargo.lock");
    let lock = std::fs::read_to_string(path).expect("cargo writes Cargo.lock before tests");
    let graph = lock_graph(&lock);
    let mut seen = BTreeSet::new();
    let mut stack = vec!["projection".to_owned()];
    while let Some(name) = stack.pop() {
        if seen.insert(name.clone()) {
            stack.extend(graph.get(&name).into_iter().flatten().cloned());
        }
    }
    assert!(
        seen.contains("domain") && seen.contains("postcard"),
        "the parser found {seen:?}"
    );
    let forbidden: Vec<&String> = seen
        .iter()
        .filter(|name| FORBIDDEN_CRATES.contains(&name.as_str()))
        .collect();
    assert!(forbidden.is_empty(), "reachable: {forbidden:?}");
    let manifest = include_str!("../../Cargo.toml");
    for name in FORBIDDEN_CRATES {
        let named = manifest.lines().any(|line| {
            let dependency = line.split(['.', '=', ' ']).next().unwrap_or_default();
            dependency == *name
        });
        assert!(!named, "the manifest names {name}");
    }
}

#[test]
fn no_source_file_reads_a_clock_or_does_io_or_randomness() {
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut found = Vec::new();
    let mut files = 0;
    for entry in std::fs::read_dir(&src).expect("src is readable") {
        let path = entry.expect("readable entry").path();
        if path.extension().is_none_or(|ext| ext != "rs") {
            continue;
        }
        files += 1;
        let source = std::fs::read_to_string(&path).expect("source is readable");
        for (n, line) in source.lines().enumerate() {
            for pattern in FORBIDDEN_IN_SOURCE {
                if line.contains(pattern) {
                    found.push(format!("{}:{}: {pattern}", path.display(), n + 1));
                }
            }
        }
    }
    assert!(files >= 5, "the scan found {files} files");
    assert!(found.is_empty(), "impure code:\n{}", found.join("\n"));
}
