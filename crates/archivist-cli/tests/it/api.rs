//! `archivist run` serves its HTTP API, and the CLI uses it: `status`
//! shows what the running node says, `archive-now`, `archiving` and `leave`
//! steer it, and with the node stopped the commands say there is none.

use std::{
    io::{BufRead, BufReader},
    process::{Command, Stdio},
    sync::mpsc,
    time::Duration,
};

use crate::{D1, DAY, Running, TOPIC, archivist, archivist_json, line, write_jsonl};

#[test]
fn the_cli_steers_a_running_node_through_its_api() {
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("owner.key");
    let key = archivist_json(&["keygen", "--out", key_file.to_str().unwrap()]);
    let community = key["community"].as_str().unwrap().to_owned();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let jsonl = dir.path().join("history.jsonl");
    let lines: Vec<String> = (0..20)
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
    assert!(out.status.success());
    let config = dir.path().join("owner.toml");
    std::fs::write(
        &config,
        format!(
            "data_dir = \"data\"\n[waku]\nlisten = [\"/ip4/127.0.0.1/tcp/0\"]\n\
             [[owned]]\nkey_file = \"owner.key\"\ntopics = [\"{TOPIC}\"]\n"
        ),
    )
    .unwrap();
    let config = config.to_str().unwrap();

    // Not running yet: steering says where it looked.
    let out = archivist(&["archive-now", "--config", config, &community]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("api.json"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let mut child = Command::new(env!("CARGO_BIN_EXE_archivist"))
        .args(["run", "--json", "--config", config])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let pid = child.id();
    let mut running = Running(child);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut api = None;
    loop {
        let line = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("the owner archives");
        let event: serde_json::Value = serde_json::from_str(&line).unwrap();
        if event["type"] == "archivist.started" {
            api = event["event"]["api"].as_str().map(str::to_owned);
        }
        if event["type"] == "community.historyArchivesSeeding" {
            break;
        }
    }
    let api = api.expect("archivist.started names the API");
    assert!(api.starts_with("http://127.0.0.1:"), "{api}");
    let address: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(data.join("api.json")).unwrap()).unwrap();
    assert_eq!(address["url"], api.as_str());

    let status = archivist_json(&["status", "--json", "--config", config]);
    assert_eq!(status[0]["live"], "api", "{status:#}");
    assert_eq!(status[0]["networks"][0]["archiving"], true, "{status:#}");
    assert_eq!(status[0]["networks"][0]["seeding"], true, "{status:#}");
    let text = archivist(&["status", "--config", config]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains(&format!("api: {api}")), "{text}");

    let runs = archivist_json(&["archive-now", "--config", config, &community]);
    assert_eq!(runs["runs"][0]["network"], "torrent", "{runs:#}");
    assert_eq!(runs["runs"][0]["outcome"], "nothing", "{runs:#}");
    let off = archivist_json(&["archiving", "--config", config, &community, "off"]);
    assert_eq!(off["networks"][0]["archiving"], false, "{off:#}");
    let left = archivist_json(&["leave", "--config", config, &community]);
    assert_eq!(left["left"], true);
    let out = archivist(&["leave", "--config", config, &community]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown-community"));

    let term = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let exited = loop {
        if let Some(status) = running.0.try_wait().unwrap() {
            break Some(status);
        }
        if std::time::Instant::now() > deadline {
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(exited.is_some_and(|s| s.success()), "{exited:?}");
    assert!(
        !data.join("api.json").exists(),
        "a stopped node's address is gone"
    );
    let status = archivist_json(&["status", "--json", "--config", config]);
    assert!(
        status[0].get("live").is_none(),
        "read from the store: {status:#}"
    );
}
