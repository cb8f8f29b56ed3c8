//! The layering of `docs/design.md`, enforced: which crate may depend on which.
//!
//! The check walks each workspace crate's normal (non-dev, non-build)
//! dependencies transitively, so a forbidden crate pulled in through another
//! one is caught too.

use std::{
    collections::{BTreeMap, BTreeSet},
    process::Command,
};

use serde_json::Value;

/// Crates that bind the system to a concrete storage network or transport.
fn is_concrete(name: &str) -> bool {
    name.starts_with("backend-") || name.starts_with("transport-") || name == "codex-devnode"
}

/// Only these may depend on concrete backends and transports.
/// (`archivist-api` serves a composed node: it reaches the networks only
/// through the facade's `Node`, and names no backend itself.)
const COMPOSERS: &[&str] = &[
    "archivist",
    "archivist-api",
    "archivist-cli",
    "archivist-tests",
    "xtask",
];

/// What each crate must not depend on, directly or not.
const FORBIDDEN: &[(&str, &[&str])] = &[
    (
        "codex-format",
        &[
            "archive-index",
            "archive-backend",
            "tokio",
            "axum",
            "reqwest",
        ],
    ),
    (
        "archive-proto",
        &["archive-index", "archive-store", "archive-backend", "tokio"],
    ),
    (
        "archive-index",
        &[
            "archive-store",
            "archive-backend",
            "tokio",
            "futures",
            "reqwest",
            "rusqlite",
            "librqbit",
            "libp2p",
            "axum",
        ],
    ),
    // The hash-ratchet format: pure like archive-index (its one file write
    // is std only), and below everything that moves or stores bytes.
    (
        "archive-crypto",
        &[
            "archive-store",
            "archive-backend",
            "archive-dispatch",
            "archive-scheduler",
            "torrent-format",
            "codex-format",
            "tokio",
            "futures",
            "reqwest",
            "rusqlite",
            "librqbit",
            "libp2p",
            "axum",
        ],
    ),
    (
        "archive-store",
        &[
            "archive-backend",
            "archive-dispatch",
            "archive-scheduler",
            "reqwest",
            "librqbit",
            "libp2p",
            "axum",
        ],
    ),
    (
        "archive-backend",
        &["archive-store", "archive-dispatch", "archive-scheduler"],
    ),
    (
        "archive-dispatch",
        &[
            "archive-store",
            "archive-backend",
            "archive-scheduler",
            "rusqlite",
            "reqwest",
            "librqbit",
            "libp2p",
        ],
    ),
    (
        "archive-scheduler",
        &["archive-dispatch", "reqwest", "librqbit", "libp2p"],
    ),
    (
        "torrent-format",
        &[
            "archive-backend",
            "archive-store",
            "archive-dispatch",
            "archive-scheduler",
            "tokio",
            "futures",
            "librqbit",
            "reqwest",
            "rusqlite",
            "libp2p",
            "axum",
        ],
    ),
    (
        "backend-torrent",
        &["archive-scheduler", "archive-dispatch", "archive-store"],
    ),
    (
        "backend-codex",
        &["archive-scheduler", "archive-dispatch", "librqbit"],
    ),
    // A backend as an outside author writes one: the trait, the format and
    // its own storage, nothing of the node around it and no other backend's
    // machinery.
    (
        "backend-dirshare",
        &[
            "archive-scheduler",
            "archive-dispatch",
            "archive-store",
            "archivist",
            "torrent-format",
            "codex-format",
            "librqbit",
            "reqwest",
            "libp2p",
        ],
    ),
    (
        "codex-devnode",
        &[
            "archive-index",
            "archive-store",
            "archive-backend",
            "librqbit",
        ],
    ),
    (
        "transport-waku",
        &["archive-backend", "archive-scheduler", "librqbit"],
    ),
    // A leaf of std only, shared by the store and the torrent files.
    (
        "writer-lock",
        &[
            "archive-index",
            "archive-store",
            "torrent-format",
            "tokio",
            "futures",
        ],
    ),
    // The facade knows no CLI concerns: no argument parsing or terminal
    // output. (`anyhow` arrives through librqbit, so it cannot be listed.)
    (
        "archivist",
        &["archivist-cli", "clap", "indicatif", "tracing-subscriber"],
    ),
    // The API serves a node; it parses no arguments and prints nothing, and
    // the facade never learns of it.
    (
        "archivist-api",
        &["archivist-cli", "clap", "indicatif", "tracing-subscriber"],
    ),
];

/// Package name → names of its transitive normal dependencies.
fn dependency_closures() -> BTreeMap<String, BTreeSet<String>> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = Command::new(cargo)
        .args(["metadata", "--format-version", "1"])
        .current_dir(crate::workspace_root())
        .output()
        .expect("cargo metadata runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let meta: Value = serde_json::from_slice(&output.stdout).unwrap();

    let names: BTreeMap<&str, &str> = meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["id"].as_str().unwrap(), p["name"].as_str().unwrap()))
        .collect();
    let mut direct: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for node in meta["resolve"]["nodes"].as_array().unwrap() {
        let id = node["id"].as_str().unwrap();
        let deps = node["deps"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| {
                d["dep_kinds"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|k| k["kind"].is_null())
            })
            .map(|d| d["pkg"].as_str().unwrap())
            .collect();
        direct.insert(id, deps);
    }
    let mut closures = BTreeMap::new();
    for member in meta["workspace_members"].as_array().unwrap() {
        let member = member.as_str().unwrap();
        let mut seen = BTreeSet::new();
        let mut stack = direct[member].clone();
        while let Some(id) = stack.pop() {
            if seen.insert(names[id].to_string()) {
                stack.extend(direct[id].iter().copied());
            }
        }
        closures.insert(names[member].to_string(), seen);
    }
    closures
}

#[test]
fn crates_keep_to_their_layer() {
    let closures = dependency_closures();
    assert!(
        closures.contains_key("archive-index"),
        "cargo metadata lists the workspace"
    );
    let mut violations = Vec::new();
    for (krate, deps) in &closures {
        if !COMPOSERS.contains(&krate.as_str()) {
            for dep in deps.iter().filter(|d| is_concrete(d) && *d != krate) {
                violations.push(format!("{krate} depends on the concrete crate {dep}"));
            }
        }
        if let Some((_, forbidden)) = FORBIDDEN.iter().find(|(name, _)| name == krate) {
            for dep in forbidden.iter().filter(|f| deps.contains(**f)) {
                violations.push(format!("{krate} must not depend on {dep}"));
            }
        }
    }
    assert!(
        violations.is_empty(),
        "layering violations:\n{}",
        violations.join("\n")
    );
}
