//! `cargo xtask test [-p CRATE]...`: the one command that runs the test
//! suite, whole or one crate's part of it.
//!
//! It installs the third-party peers the interop tests talk to (once per
//! machine: Debian's python3-libtorrent, aria2 and chromium, a pinned npm
//! tracker) and then runs `cargo test --locked` over the workspace, so a newcomer and CI
//! run the same thing. Given packages, it installs only the peers their
//! tests use and runs `cargo test --locked` on those packages alone.

use std::process::{Command, Stdio};

use anyhow::{Context, bail};

use crate::workspace_root;

/// A Debian package an interop test needs: the package, the check that it
/// works (program and arguments), and the crates whose tests use it.
struct Peer {
    package: &'static str,
    program: &'static str,
    args: &'static [&'static str],
    used_by: &'static [&'static str],
}

/// Debian packages the interop tests need.
const PEERS: &[Peer] = &[
    // Debian's libtorrent bindings import only into the system Python.
    Peer {
        package: "python3-libtorrent",
        program: "/usr/bin/python3",
        args: &["-c", "import libtorrent"],
        used_by: &["backend-torrent"],
    },
    Peer {
        package: "aria2",
        program: "aria2c",
        args: &["--version"],
        used_by: &["backend-torrent"],
    },
    // The dashboard's browser test drives Debian's headless Chromium.
    Peer {
        package: "chromium",
        program: "/usr/bin/chromium",
        args: &["--version"],
        used_by: &["archivist-api"],
    },
];

/// npm packages the interop tests need, pinned, installed under
/// `target/interop` without running their install scripts (one of them would
/// download a native binary from outside the registry), with the crates whose
/// tests use them. (js-waku's tests install their own pinned packages.)
const NPM_PACKAGES: &[(&str, &[&str])] = &[("bittorrent-tracker@11.2.3", &["backend-torrent"])];

pub(crate) fn run(args: Vec<String>) -> anyhow::Result<()> {
    let packages = packages(&args)?;
    // The whole suite needs every peer; named crates only their own.
    let wanted = |used_by: &[&str]| {
        packages.is_empty() || used_by.iter().any(|c| packages.iter().any(|p| p == c))
    };
    install_interop_peers(PEERS.iter().filter(|p| wanted(p.used_by)))?;
    install_npm_packages(
        NPM_PACKAGES
            .iter()
            .filter(|(_, used_by)| wanted(used_by))
            .map(|(spec, _)| *spec),
    )?;
    let root = workspace_root();
    let mut cargo = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cargo.current_dir(&root).args(["test", "--locked"]);
    if packages.is_empty() && !args.iter().any(|a| a == "--workspace") {
        cargo.arg("--workspace");
    }
    let status = cargo.args(args).status()?;
    anyhow::ensure!(status.success(), "cargo test failed: {status}");
    Ok(())
}

/// The packages `-p`/`--package` name among cargo test's arguments (before
/// any `--`, after which the arguments are the test binaries').
fn packages(args: &[String]) -> anyhow::Result<Vec<String>> {
    let mut packages = Vec::new();
    let mut args = args.iter().take_while(|a| *a != "--");
    while let Some(arg) = args.next() {
        let named = match arg.as_str() {
            "-p" | "--package" => match args.next() {
                Some(name) => name.clone(),
                None => bail!("{arg} needs a package name"),
            },
            other => match other
                .strip_prefix("--package=")
                .or_else(|| other.strip_prefix("-p").filter(|rest| !rest.is_empty()))
            {
                Some(name) => name.to_owned(),
                None => continue,
            },
        };
        packages.push(named);
    }
    Ok(packages)
}

fn works(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn install_interop_peers<'a>(peers: impl Iterator<Item = &'a Peer>) -> anyhow::Result<()> {
    let missing: Vec<&str> = peers
        .filter(|peer| !works(peer.program, peer.args))
        .map(|peer| peer.package)
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

fn install_npm_packages<'a>(specs: impl Iterator<Item = &'a str>) -> anyhow::Result<()> {
    let dir = workspace_root().join("target/interop");
    let missing: Vec<&str> = specs
        .filter(|spec| {
            let name = spec.rsplit_once('@').map_or(*spec, |(name, _)| name);
            !dir.join("node_modules")
                .join(name)
                .join("package.json")
                .exists()
        })
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

#[cfg(test)]
mod tests {
    use super::*;

    fn args(words: &str) -> Vec<String> {
        words.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn packages_are_read_in_every_spelling_cargo_accepts() {
        assert_eq!(
            packages(&args(
                "-p codex-format --package transport-waku --package=a -pb"
            ))
            .unwrap(),
            ["codex-format", "transport-waku", "a", "b"]
        );
        assert!(packages(&args("--lib -- --nocapture")).unwrap().is_empty());
        assert!(packages(&args("-- -p not-a-package")).unwrap().is_empty());
        assert!(packages(&args("-p")).is_err());
        assert!(packages(&args("--workspace")).unwrap().is_empty());
    }

    #[test]
    fn every_peer_names_a_crate_of_the_workspace() {
        let root = workspace_root();
        let crates = PEERS
            .iter()
            .flat_map(|p| p.used_by)
            .chain(NPM_PACKAGES.iter().flat_map(|(_, used_by)| *used_by));
        for name in crates {
            assert!(
                root.join("crates").join(name).join("Cargo.toml").exists(),
                "{name} is not a crate under crates/"
            );
        }
    }
}
