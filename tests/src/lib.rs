//! Workspace-wide tests: the layering rules of `docs/design.md` checked over
//! `cargo metadata`, and the tidy rules a linter cannot express.

#[cfg(test)]
mod layering;
#[cfg(test)]
mod tidy;

/// The workspace root.
#[cfg(test)]
fn workspace_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the workspace root")
        .to_path_buf()
}
