//! `create --torrent-dir`, `inspect torrent`, `seed` and `fetch`: an owner's
//! files reach a member over BitTorrent on 127.0.0.1, byte for byte.

use super::*;

#[test]
fn a_member_fetches_what_the_owner_seeds() {
    let tmp = tempfile::tempdir().unwrap();
    let jsonl = tmp.path().join("m.jsonl");
    let lines: Vec<_> = (0..30u64)
        .map(|i| line(D1 + i * 40_000, &format!("0x{i:02x}"), TOPIC))
        .collect();
    write_jsonl(&jsonl, &lines);
    let (data, torrents) = (tmp.path().join("data"), tmp.path().join("torrents"));
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
        data.to_str().unwrap(),
        "--torrent-dir",
        torrents.to_str().unwrap(),
    ]);
    let magnet = report["magnet"]
        .as_str()
        .expect("create prints the magnet link")
        .to_string();
    assert!(magnet.starts_with("magnet:?xt=urn:btih:"));

    let torrent_file = torrents.join(format!("{COMMUNITY}.torrent"));
    let inspected = archivist_json(&[
        "inspect",
        "torrent",
        torrent_file.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(inspected["name"], COMMUNITY);
    assert_eq!(inspected["piece_length"], 102_400);
    assert_eq!(inspected["files"][0]["path"], "data");
    assert_eq!(inspected["files"][1]["path"], "index");
    assert_eq!(inspected["magnet"], magnet.as_str());

    let (seeder, seeding) = start_archivist(&[
        "seed",
        "--data-dir",
        data.to_str().unwrap(),
        "--torrent-dir",
        torrents.to_str().unwrap(),
        "--community",
        COMMUNITY,
        "--listen",
        "127.0.0.1:0",
    ]);
    assert_eq!(seeding["magnet"], magnet.as_str());
    let listen = seeding["listen"].as_str().unwrap();

    let out = tmp.path().join("member");
    let fetched = archivist_json(&[
        "fetch",
        &magnet,
        "--out",
        out.to_str().unwrap(),
        "--peer",
        listen,
        "--timeout",
        "30",
    ]);
    assert_eq!(fetched["archives"].as_array().unwrap().len(), 2);
    for file in ["data", "index"] {
        assert_eq!(
            std::fs::read(out.join(COMMUNITY).join(file)).unwrap(),
            std::fs::read(data.join(COMMUNITY).join(file)).unwrap(),
            "{file} differs"
        );
    }
    drop(seeder);

    // Nobody serves the link any more: fetch fails with a clear error.
    let failed = archivist(&[
        "fetch",
        &magnet,
        "--out",
        out.to_str().unwrap(),
        "--peer",
        listen,
        "--timeout",
        "1",
    ]);
    assert!(!failed.status.success());
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert!(
        stderr.contains("joining a magnet link") || stderr.contains("no metadata"),
        "{stderr}"
    );
}

/// `--deadline` bounds the whole fetch, whatever it waits on: here a peer
/// that accepts the connection and never says a word.
#[test]
fn fetch_gives_up_at_its_deadline_with_a_silent_peer() {
    let tmp = tempfile::tempdir().unwrap();
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let peer = silent.local_addr().unwrap().to_string();
    let magnet = format!("magnet:?xt=urn:btih:{}&dn={COMMUNITY}", "ab".repeat(20));
    let started = std::time::Instant::now();
    let failed = archivist(&[
        "fetch",
        &magnet,
        "--out",
        tmp.path().join("member").to_str().unwrap(),
        "--peer",
        &peer,
        "--timeout",
        "120",
        "--deadline",
        "2",
    ]);
    assert!(!failed.status.success());
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert!(
        stderr.contains("did not finish within 2s (--deadline)"),
        "{stderr}"
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(60),
        "the deadline of 2 s took {:?}",
        started.elapsed()
    );
    drop(silent);
}
