//! `archivist demo`, `run`, `status` and `verify` as a user runs them.

use std::{
    io::{BufRead, BufReader},
    process::{Command, Stdio},
    sync::mpsc,
    time::Duration,
};

use crate::{D1, DAY, Running, TOPIC, archivist, archivist_json, line, write_jsonl};

/// The demo on a small history, over both networks: exit 0, equal
/// histories, and round 2 moved exactly the new archives.
#[test]
fn demo_over_both_networks_ends_with_equal_histories() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("demo");
    let data = data.to_str().unwrap();
    let report = archivist_json(&[
        "demo",
        "--messages",
        "1200",
        "--weeks",
        "2",
        "--backend",
        "both",
        "--json",
        "--data-dir",
        data,
    ]);
    assert_eq!(report["histories_equal"], true, "{report:#}");
    assert_eq!(report["second_round_only_new"], true, "{report:#}");
    let rounds = report["rounds"].as_array().unwrap();
    assert_eq!(rounds.len(), 4, "two members, two rounds");
    for round in rounds {
        let fetched = round["archives_fetched"].as_u64().unwrap();
        if round["round"] == 2 {
            assert_eq!(fetched, 1, "{round}");
            assert!(round["bytes_moved"].as_u64().unwrap() > 0);
        } else {
            assert_eq!(fetched, 2, "{round}");
        }
        assert_eq!(round["owner_messages"], round["member_messages"]);
    }

    // A second run reuses its own folder; a folder it did not make is refused.
    let foreign = dir.path().join("mine");
    std::fs::create_dir(&foreign).unwrap();
    std::fs::write(foreign.join("keep.txt"), "precious").unwrap();
    let out = archivist(&["demo", "--data-dir", foreign.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("was not made by `archivist demo`"));
    assert!(foreign.join("keep.txt").exists());
}

/// An owner from a config file: `run` archives and announces, stops cleanly
/// on SIGTERM; `status` shows what it did; `verify` accepts its files and
/// refuses them after one flipped byte.
#[test]
fn run_status_and_verify_an_owner_from_a_config_file() {
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("owner.key");
    let key = archivist_json(&["keygen", "--out", key_file.to_str().unwrap()]);
    let community = key["community"].as_str().unwrap().to_owned();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let jsonl = dir.path().join("history.jsonl");
    let lines: Vec<String> = (0..40)
        .map(|i| line(D1 + i * DAY / 2, &format!("0x{i:064x}"), TOPIC))
        .collect();
    write_jsonl(&jsonl, &lines);
    let store = data.join("store.sqlite");
    let out = archivist(&[
        "messages",
        "import",
        "--db",
        store.to_str().unwrap(),
        "--jsonl",
        jsonl.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let config = dir.path().join("owner.toml");
    std::fs::write(
        &config,
        format!(
            "data_dir = \"data\"\n[waku]\nlisten = [\"/ip4/127.0.0.1/tcp/0\"]\n\
             [[owned]]\nkey_file = \"owner.key\"\ntopics = [\"{TOPIC}\"]\n"
        ),
    )
    .unwrap();

    let mut child = Command::new(env!("CARGO_BIN_EXE_archivist"))
        .args(["run", "--json", "--config", config.to_str().unwrap()])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let pid = child.id();
    let running = Running(child);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut seen = Vec::new();
    // Alone on the relay, the announcement cannot go out: it is recorded
    // and retried, and the failure is reported.
    let failed = loop {
        let line = rx
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("no announcement attempt; saw {seen:#?}"));
        let event: serde_json::Value = serde_json::from_str(&line).unwrap();
        if event["type"] == "archivist.announceFailed" {
            break event;
        }
        seen.push(event);
    };
    assert_eq!(failed["event"]["communityId"], community.as_str());
    assert!(
        seen.iter()
            .any(|e| e["type"] == "community.historyArchivesCreated")
    );
    assert!(
        seen.iter()
            .any(|e| e["type"] == "community.historyArchivesSeeding")
    );

    let term = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    let mut running = running;
    let exited = wait_with_timeout(&mut running, Duration::from_secs(30));
    assert!(
        exited.is_some_and(|s| s.success()),
        "graceful exit: {exited:?}"
    );

    let status = archivist_json(&["status", "--json", "--config", config.to_str().unwrap()]);
    let torrent = &status[0]["networks"][0];
    assert_eq!(status[0]["role"], "owner");
    assert_eq!(torrent["network"], "torrent");
    assert!(torrent["last_archive_end"].as_u64().unwrap() > D1);
    assert!(
        torrent["announced_link"]
            .as_str()
            .unwrap()
            .starts_with("magnet:?")
    );
    // Nothing the store cannot know is shown as `false`; what the run knew
    // is there, with readable times.
    assert!(status[0].get("owned").is_none(), "{status:#}");
    assert!(torrent.get("archiving").is_none(), "{status:#}");
    assert_eq!(torrent["heard"], false, "no relay peer took it: {status:#}");
    assert_eq!(
        torrent["seeding"], false,
        "a stopped node seeds nothing: {status:#}"
    );
    assert!(
        torrent["last_archive_end_utc"]
            .as_str()
            .unwrap()
            .ends_with(" UTC")
    );
    let archives = &status[0]["archives"];
    assert!(archives["count"].as_u64().unwrap() >= 3, "{status:#}");
    assert!(archives["bytes"].as_u64().unwrap() > 0, "{status:#}");
    assert_eq!(archives["from"], D1, "{status:#}");
    assert_eq!(archives["from_utc"], "2020-01-01 00:00:00 UTC");
    assert!(status[0]["last_event"]["time"].is_string(), "{status:#}");
    let text = archivist(&["status", "--config", config.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("node: stopped at "), "{text}");
    assert!(text.contains("heard: no  seeding: no"), "{text}");

    let archive_dir = data.join("torrent/archivedata").join(&community);
    let report = archivist_json(&["verify", "--json", archive_dir.to_str().unwrap()]);
    assert_eq!(report["messages"], 40);
    assert!(report["archives"].as_u64().unwrap() >= 3);
    assert!(
        report["infohash"].is_string(),
        "the .torrent was found and checked"
    );

    let data_file = archive_dir.join("data");
    let mut bytes = std::fs::read(&data_file).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&data_file, bytes).unwrap();
    let out = archivist(&["verify", archive_dir.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("piece hashes do not match"));
}

fn wait_with_timeout(running: &mut Running, timeout: Duration) -> Option<std::process::ExitStatus> {
    let deadline = std::time::Instant::now() + timeout;
    while std::time::Instant::now() < deadline {
        if let Some(status) = running.0.try_wait().unwrap() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

/// The demo as an encrypted community: equal histories over both networks,
/// and what the owner published is sealed (its torrent index is a
/// hash-ratchet message, not a plain index).
#[test]
fn demo_encrypted_over_both_networks() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("demo");
    let report = archivist_json(&[
        "demo",
        "--encrypted",
        "--messages",
        "600",
        "--weeks",
        "2",
        "--json",
        "--data-dir",
        data.to_str().unwrap(),
    ]);
    assert_eq!(report["histories_equal"], true, "{report:#}");
    assert_eq!(report["rounds"].as_array().unwrap().len(), 4, "{report:#}");
    let community = report["community"].as_str().unwrap();
    let index = data
        .join("owner/torrent/archivedata")
        .join(community)
        .join("index");
    let bytes = std::fs::read(&index).unwrap();
    assert!(
        matches!(
            archive_crypto::detect_index(&bytes),
            archive_crypto::Detected::Encrypted(_)
        ),
        "{} is not sealed",
        index.display()
    );
}
