//! `codex-devnode`, `create --codex` and `fetch codex:<CID>`: an owner uploads
//! to node A, a member fetches through node B peered with A.

use super::*;

/// Starts `archivist codex-devnode` and returns it with its URL.
fn devnode(data_dir: &Path, peers: &[&str]) -> (Running, String) {
    let mut args = vec![
        "codex-devnode",
        "--listen",
        "127.0.0.1:0",
        "--data-dir",
        data_dir.to_str().unwrap(),
    ];
    for peer in peers {
        args.extend(["--peer", peer]);
    }
    let (node, started) = start_archivist(&args);
    (node, started["url"].as_str().unwrap().to_string())
}

#[test]
fn a_member_fetches_through_its_node_what_the_owner_uploaded() {
    let tmp = tempfile::tempdir().unwrap();
    let (_a, url_a) = devnode(&tmp.path().join("node-a"), &[]);
    let (_b, url_b) = devnode(&tmp.path().join("node-b"), &[&url_a]);

    let jsonl = tmp.path().join("m.jsonl");
    let lines: Vec<_> = (0..12u64)
        .map(|i| line(D1 + i * 100_000, &format!("0x{i:02x}"), TOPIC))
        .collect();
    write_jsonl(&jsonl, &lines);
    let report = archivist_json(&[
        "create",
        "--messages",
        jsonl.to_str().unwrap(),
        "--community",
        COMMUNITY,
        "--topics",
        TOPIC,
        "--from",
        &D1.to_string(),
        "--to",
        &(D1 + 14 * DAY).to_string(),
        "--out",
        tmp.path().join("owner").to_str().unwrap(),
        "--codex",
        &url_a,
    ]);
    let cid = report["index_cid"]
        .as_str()
        .expect("create prints the index CID");
    assert!(cid.starts_with("zDv"), "{cid}");
    assert_eq!(report["codex_archives"].as_array().unwrap().len(), 2);

    let out = tmp.path().join("member");
    let link = format!("codex:{cid}");
    let fetched = archivist_json(&[
        "fetch",
        &link,
        "--codex",
        &url_b,
        "--community",
        COMMUNITY,
        "--out",
        out.to_str().unwrap(),
    ]);
    let archives = fetched["archives"].as_array().unwrap();
    assert_eq!(archives.len(), 2);
    let mut messages = 0;
    for id in archives {
        let path = out
            .join(COMMUNITY)
            .join(format!("{}.jsonl", id.as_str().unwrap()));
        messages += std::fs::read_to_string(path).unwrap().lines().count();
    }
    assert_eq!(messages, 12, "every message arrived");
    assert!(out.join(COMMUNITY).join("index").exists());

    let missing_community = archivist(&[
        "fetch",
        &link,
        "--codex",
        &url_b,
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(!missing_community.status.success());
    assert!(String::from_utf8_lossy(&missing_community.stderr).contains("--community"));
}
