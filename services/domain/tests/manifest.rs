//! Keeps the domain crate pure: no dependency (direct, dev, or transitive) that does I/O or
//! async may enter `services/domain/Cargo.toml` or its dependency graph in `Cargo.lock`.

use std::collections::{BTreeMap, BTreeSet};

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
