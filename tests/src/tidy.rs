//! House rules no linter checks: every source file says what it is for, no
//! skipped or placeholder tests, no grab-bag module names, no error or
//! config type named after its own crate.

use std::{
    fs,
    path::{Path, PathBuf},
};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        if path.is_dir() {
            if name != "target" && name != "generated" && name != "node_modules" {
                rust_files(&path, out);
            }
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn workspace_sources() -> Vec<PathBuf> {
    let root = crate::workspace_root();
    let mut files = Vec::new();
    for dir in ["crates", "xtask", "tests"] {
        rust_files(&root.join(dir), &mut files);
    }
    assert!(files.len() > 10, "found the sources");
    files
}

#[test]
fn every_file_opens_with_a_module_doc() {
    let missing: Vec<_> = workspace_sources()
        .into_iter()
        .filter(|f| {
            let text = fs::read_to_string(f).unwrap();
            !text
                .lines()
                .find(|l| !l.trim().is_empty())
                .is_some_and(|l| l.starts_with("//!"))
        })
        .collect();
    assert!(
        missing.is_empty(),
        "files without a leading //! line: {missing:#?}"
    );
}

#[test]
fn no_placeholders_or_skipped_tests() {
    // Spelled in pieces so this file does not match itself.
    let banned = [
        concat!("#[", "ignore"),
        concat!("#[", "should_panic"),
        concat!("todo", "!("),
        concat!("unimplemented", "!("),
    ];
    let mut hits = Vec::new();
    for file in workspace_sources() {
        let text = fs::read_to_string(&file).unwrap();
        for (n, line) in text.lines().enumerate() {
            if let Some(b) = banned.iter().find(|b| line.contains(**b)) {
                hits.push(format!("{}:{}: {b}", file.display(), n + 1));
            }
        }
    }
    assert!(
        hits.is_empty(),
        "placeholders or skipped tests:\n{}",
        hits.join("\n")
    );
}

#[test]
fn no_grab_bag_modules() {
    let bad: Vec<_> = workspace_sources()
        .into_iter()
        .filter(|f| {
            let stem = f.file_stem().unwrap().to_string_lossy();
            matches!(
                stem.as_ref(),
                "utils" | "util" | "helpers" | "helper" | "common" | "misc"
            )
        })
        .collect();
    assert!(bad.is_empty(), "name modules after what they are: {bad:?}");
}

/// The public type a line declares, if it declares one.
fn declared_type(line: &str) -> Option<&str> {
    let rest = ["pub struct ", "pub enum ", "pub type "]
        .iter()
        .find_map(|kind| line.trim_start().strip_prefix(kind))?;
    let end = rest
        .find(|c: char| !c.is_alphanumeric() && c != '_')
        .unwrap_or(rest.len());
    Some(&rest[..end])
}

/// A crate's own error and configuration types are `Error` and `Config`,
/// qualified by the crate (ARCHITECTURE.md, "Names"): none is named after
/// its crate, as `DevnodeError` in `codex-devnode` would be.
#[test]
fn own_error_and_config_types_are_not_named_after_their_crate() {
    let mut hits = Vec::new();
    for entry in fs::read_dir(crate::workspace_root().join("crates"))
        .unwrap()
        .flatten()
    {
        let crate_name = entry.file_name().to_string_lossy().into_owned();
        // `transport-waku` → ["Transport", "Waku"].
        let words: Vec<String> = crate_name
            .split('-')
            .map(|w| {
                let mut chars = w.chars();
                chars.next().map_or_else(String::new, |first| {
                    first.to_uppercase().chain(chars).collect()
                })
            })
            .collect();
        let mut files = Vec::new();
        rust_files(&entry.path().join("src"), &mut files);
        for file in files {
            let text = fs::read_to_string(&file).unwrap();
            for (n, line) in text.lines().enumerate() {
                let Some(name) = declared_type(line) else {
                    continue;
                };
                let named_after_crate = ["Error", "Config"].iter().any(|suffix| {
                    name.strip_suffix(suffix)
                        .is_some_and(|prefix| words.iter().any(|w| w == prefix))
                });
                if named_after_crate {
                    hits.push(format!("{}:{}: {name}", file.display(), n + 1));
                }
            }
        }
    }
    assert!(
        hits.is_empty(),
        "name a crate's own types Error and Config:\n{}",
        hits.join("\n")
    );
}
