//! The dashboard in a real headless Chromium (Debian's, which `cargo xtask
//! test` installs): loaded against a running member, polled until the page
//! shows the member's finished download, and a screenshot kept under
//! `target/` as the test's artifact.

use std::{path::PathBuf, process::Stdio, time::Duration};

use serde_json::json;
use tokio::process::Command;

use crate::fixture::{DEADLINE, World};

const CHROMIUM: &str = "/usr/bin/chromium";

/// How long one Chromium run may take before it is killed.
const RUN_TIMEOUT: Duration = Duration::from_secs(60);

/// Runs headless Chromium on `url` with `args`, in a fresh profile, killed
/// after [`RUN_TIMEOUT`]; returns its stdout.
async fn chromium(url: &str, args: &[&str]) -> String {
    let profile = tempfile::tempdir().unwrap();
    let mut command = Command::new(CHROMIUM);
    command
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(args)
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    let child = command.spawn().unwrap_or_else(|e| {
        panic!("{CHROMIUM}: {e} (cargo xtask test -p archivist-api installs Debian's chromium)")
    });
    let output = tokio::time::timeout(RUN_TIMEOUT, child.wait_with_output())
        .await
        .expect("chromium finished in time")
        .unwrap();
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The artifact folder: `target/dashboard/` of the workspace (or of
/// `CARGO_TARGET_DIR`).
fn artifacts() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"),
        PathBuf::from,
    );
    let dir = target.join("dashboard");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_dashboard_shows_a_members_finished_download_in_chromium() {
    let world = World::new(3).await;
    let member = world.member_api.url();
    let community = world.community.to_string();
    let joined = reqwest::Client::new()
        .post(format!("{member}/api/v1/communities/{community}/join"))
        .bearer_auth(world.member_api.token())
        .header("content-type", "application/json")
        .body(json!({ "prefer": "torrent" }).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(joined.status().as_u16(), 201);

    // The page polls the API each second; each dump lets it run a few.
    let start = tokio::time::Instant::now();
    let dom = loop {
        let dom = chromium(&member, &["--virtual-time-budget=4000", "--dump-dom"]).await;
        let finished = dom.contains("class=\"state state-finished\"") && dom.contains("3 imported");
        if finished {
            break dom;
        }
        assert!(
            start.elapsed() < DEADLINE,
            "the dashboard never showed the finished download:\n{dom}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert!(dom.contains(&community[..10]), "the community is listed");
    assert!(
        dom.contains("community.downloadingHistoryArchivesFinished"),
        "recent events"
    );
    assert!(dom.contains(">member<"), "its role");

    let screenshot = artifacts().join("dashboard.png");
    let _ = std::fs::remove_file(&screenshot);
    chromium(
        &member,
        &[
            "--virtual-time-budget=4000",
            "--window-size=1280,900",
            &format!("--screenshot={}", screenshot.display()),
        ],
    )
    .await;
    let png = std::fs::read(&screenshot).expect("chromium wrote the screenshot");
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 10_000,
        "a real picture"
    );
    world.stop().await;
}
