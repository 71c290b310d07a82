//! Keeps the domain crate pure: no dependency (direct, dev, or transitive) that does I/O or
//! async may enter `services/domain/Cargo.toml` or its dependency graph in `Cargo.lock`, and no
//! source file under `src/` reads a clock, touches files or the network, or draws randomness.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Crates that do network, database or async I/O. None belongs in the domain's graph.
const FORBIDDEN: &[&str] = &[
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

const MANIFEST: &str = include_str!("../Cargo.toml");

/// The dependency names of every `[*dependencies*]` section of a manifest.
fn manifest_dependencies(manifest: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut in_dependencies = false;
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            in_dependencies = line.contains("dependencies");
            // `[dependencies.foo]` names the dependency in the header.
            if let Some(rest) = line.trim_matches(['[', ']']).split_once("dependencies.") {
                names.insert(rest.1.trim().to_owned());
                in_dependencies = false;
            }
            continue;
        }
        if in_dependencies
            && !line.starts_with('#')
            && let Some((name, _)) = line.split_once('=')
        {
            let name = name.trim().trim_matches('"');
            names.insert(name.split('.').next().unwrap_or(name).to_owned());
        }
    }
    names
}

#[test]
fn the_manifest_names_no_io_or_async_dependency() {
    let names = manifest_dependencies(MANIFEST);
    assert!(
        names.contains("serde") && names.contains("proptest"),
        "parser sees {names:?}"
    );
    for name in &names {
        assert!(
            !FORBIDDEN.contains(&name.as_str()),
            "{name} does I/O or async"
        );
    }
}

#[test]
fn the_manifest_check_catches_a_forbidden_dependency() {
    let bad = "[dependencies]\nserde.workspace = true\n\n[dev-dependencies]\ntokio = \"1\"\n";
    assert!(manifest_dependencies(bad).contains("tokio"));
    let table = "[target.'cfg(unix)'.dependencies.sqlx]\nversion = \"0.9\"\n";
    assert!(manifest_dependencies(table).contains("sqlx"));
}

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
        } else if in_deps {
            let dep = line
                .trim_matches([',', '"'])
                .split(' ')
                .next()
                .unwrap_or_default();
            if let Some(name) = &current {
                graph.entry(name.clone()).or_default().push(dep.to_owned());
            }
        }
    }
    graph
}

#[test]
fn no_io_or_async_crate_is_reachable_in_the_lock_file() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../Cargo.lock");
    let lock = std::fs::read_to_string(path).expect("cargo writes Cargo.lock before running tests");
    let graph = lock_graph(&lock);
    let mut seen = BTreeSet::new();
    let mut stack = vec!["domain".to_owned()];
    while let Some(name) = stack.pop() {
        if !seen.insert(name.clone()) {
            continue;
        }
        stack.extend(graph.get(&name).into_iter().flatten().cloned());
    }
    assert!(
        seen.contains("postcard"),
        "the lock graph parser found {seen:?}"
    );
    for name in &seen {
        assert!(
            !FORBIDDEN.contains(&name.as_str()),
            "{name} is reachable from domain"
        );
    }
}

/// Text that means a source file reads the clock, touches files or the network, or draws
/// randomness. Time, ids and randomness arrive in commands instead.
const FORBIDDEN_IN_SOURCE: &[&str] = &[
    "Timestamp::now",
    "std::fs",
    "std::net",
    "SystemTime",
    "Instant::now",
    "rand::",
];

/// Every `.rs` file under `dir`, recursively, sorted.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("source directory is readable") {
            let path = entry.expect("readable entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|ext| ext == "rs") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// `(line number, pattern)` of every forbidden pattern in `source`, comments included: a doc
/// example that reads the clock would be just as wrong.
fn forbidden_uses(source: &str) -> Vec<(usize, &'static str)> {
    source
        .lines()
        .enumerate()
        .flat_map(|(n, line)| {
            FORBIDDEN_IN_SOURCE
                .iter()
                .filter(move |pattern| line.contains(**pattern))
                .map(move |pattern| (n + 1, *pattern))
        })
        .collect()
}

#[test]
fn no_source_file_reads_a_clock_or_does_io_or_randomness() {
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src");
    let files = rust_files(&src);
    assert!(
        files.iter().any(|f| f.ends_with("lib.rs")) && files.len() > 5,
        "the scan found {files:?}"
    );
    let mut found = Vec::new();
    for file in &files {
        let source = std::fs::read_to_string(file).expect("source is readable");
        for (line, pattern) in forbidden_uses(&source) {
            found.push(format!("{}:{line}: {pattern}", file.display()));
        }
    }
    assert!(
        found.is_empty(),
        "impure code in the domain:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_source_scan_catches_each_forbidden_use() {
    let bad = "fn f() {\n    let t = Timestamp::now();\n    let x = rand::random::<u8>();\n}\nuse std::fs::File;\nuse std::net::TcpStream;\nuse std::time::{Instant, SystemTime};\nlet s = Instant::now();\n";
    let patterns: BTreeSet<&str> = forbidden_uses(bad).into_iter().map(|(_, p)| p).collect();
    let all: BTreeSet<&str> = FORBIDDEN_IN_SOURCE.iter().copied().collect();
    assert_eq!(patterns, all);
    assert_eq!(forbidden_uses(bad)[0], (2, "Timestamp::now"));
    assert!(forbidden_uses("let at = command.at();\n").is_empty());
}
