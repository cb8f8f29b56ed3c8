//! `cargo xtask test`: the one command that runs the whole test suite.
//!
//! It installs the third-party peers the interop tests talk to (once per
//! machine: Debian's python3-libtorrent and aria2, a pinned npm tracker) and
//! then runs `cargo test` over the workspace, so a newcomer and CI run the
//! same thing.

use std::process::{Command, Stdio};

use anyhow::{Context, bail};

use crate::workspace_root;

/// Debian packages the interop tests need, with the check that each works.
const PEERS: &[(&str, &str, &[&str])] = &[
    // Debian's libtorrent bindings import only into the system Python.
    (
        "python3-libtorrent",
        "/usr/bin/python3",
        &["-c", "import libtorrent"],
    ),
    ("aria2", "aria2c", &["--version"]),
];

/// npm packages the interop tests need, pinned, installed under
/// `target/interop` without running their install scripts (one of them would
/// download a native binary from outside the registry).
const NPM_PACKAGES: &[&str] = &["bittorrent-tracker@11.2.3"];

pub(crate) fn run(extra: Vec<String>) -> anyhow::Result<()> {
    install_interop_peers()?;
    install_npm_packages()?;
    let root = workspace_root();
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .current_dir(&root)
        .args(["test", "--workspace", "--locked"])
        .args(extra)
        .status()?;
    anyhow::ensure!(status.success(), "cargo test failed: {status}");
    Ok(())
}

fn works(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn install_interop_peers() -> anyhow::Result<()> {
    let missing: Vec<&str> = PEERS
        .iter()
        .filter(|(_, program, args)| !works(program, args))
        .map(|(package, _, _)| *package)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    println!("installing interop peers: {}", missing.join(" "));
    let sudo: &[&str] = if works("id", &["-u"]) && is_root() {
        &[]
    } else {
        &["sudo"]
    };
    let apt = |args: &[&str]| -> anyhow::Result<()> {
        let (program, rest) = match sudo.first() {
            Some(s) => (*s, [&["apt-get"][..], args].concat()),
            None => ("apt-get", args.to_vec()),
        };
        let status = Command::new(program)
            .args(&rest)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .with_context(|| format!("running apt-get {}", args.join(" ")))?;
        if !status.success() {
            bail!("apt-get {} failed: {status}", args.join(" "));
        }
        Ok(())
    };
    apt(&["update", "-qq"])?;
    apt(&[&["install", "-y", "-qq"][..], &missing].concat())?;
    Ok(())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn install_npm_packages() -> anyhow::Result<()> {
    let dir = workspace_root().join("target/interop");
    let missing: Vec<&str> = NPM_PACKAGES
        .iter()
        .filter(|spec| {
            let name = spec.rsplit_once('@').map_or(**spec, |(name, _)| name);
            !dir.join("node_modules")
                .join(name)
                .join("package.json")
                .exists()
        })
        .copied()
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    std::fs::create_dir_all(&dir)?;
    println!("installing npm packages: {}", missing.join(" "));
    let status = Command::new("npm")
        .args([
            "install",
            "--ignore-scripts",
            "--no-audit",
            "--no-fund",
            "--prefix",
        ])
        .arg(&dir)
        .args(&missing)
        .status()
        .context("running npm (Node.js 20 or newer is needed for the interop tests)")?;
    if !status.success() {
        bail!("npm install {} failed: {status}", missing.join(" "));
    }
    Ok(())
}
