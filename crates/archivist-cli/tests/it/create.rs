//! `archivist create` and `archivist inspect`.

use std::fs;

use super::*;

fn create(jsonl: &Path, from: u64, to: u64, out: &Path) -> serde_json::Value {
    archivist_json(&[
        "create",
        "--messages",
        jsonl.to_str().unwrap(),
        "--community",
        COMMUNITY,
        "--topics",
        TOPIC,
        "--from",
        &from.to_string(),
        "--to",
        &to.to_string(),
        "--out",
        out.to_str().unwrap(),
    ])
}

#[test]
fn same_input_gives_byte_identical_files() {
    let tmp = tempfile::tempdir().unwrap();
    let jsonl = tmp.path().join("m.jsonl");
    // Out of order on purpose: archives order by (timestamp, hash).
    write_jsonl(
        &jsonl,
        &[
            line(D1 + 7200, "0x02", TOPIC),
            line(D1 + 3600, "0x01", TOPIC),
            line(D1 + 3600, "0x00", TOPIC),
        ],
    );
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    let first = create(&jsonl, D1, D1 + 7 * DAY, &a);
    let second = create(&jsonl, D1, D1 + 7 * DAY, &b);
    assert_eq!(first, second);
    assert_eq!(first["archives"][0]["messages"], 3);
    for file in ["data", "index"] {
        let a = fs::read(a.join(COMMUNITY).join(file)).unwrap();
        let b = fs::read(b.join(COMMUNITY).join(file)).unwrap();
        assert_eq!(a, b, "{file} differs between runs");
    }
}

/// status-go ManagerSuite 9/12 through the CLI: [D1, D7) then [D7, D14).
#[test]
fn a_second_week_is_appended_after_the_first() {
    let tmp = tempfile::tempdir().unwrap();
    let jsonl = tmp.path().join("m.jsonl");
    write_jsonl(
        &jsonl,
        &[
            line(D1 + 3600, "0x01", TOPIC),
            line(D1 + 6 * DAY + 7200, "0x02", TOPIC),
        ],
    );
    let out = tmp.path().join("out");
    let first = create(&jsonl, D1, D1 + 6 * DAY, &out);
    let data = out.join(COMMUNITY).join("data");
    let prefix = fs::read(&data).unwrap();
    let second = create(&jsonl, D1 + 6 * DAY, D1 + 13 * DAY, &out);
    assert_eq!(
        second["archives"][0]["offset"],
        first["archives"][0]["size"]
    );
    assert_eq!(&fs::read(&data).unwrap()[..prefix.len()], &prefix[..]);

    let index = out.join(COMMUNITY).join("index");
    let listed = archivist_json(&["inspect", "index", index.to_str().unwrap(), "--json"]);
    assert_eq!(listed["archives"].as_array().unwrap().len(), 2);

    let id = second["archives"][0]["id"].as_str().unwrap();
    let dir = out.join(COMMUNITY);
    let archive = archivist_json(&[
        "inspect",
        "archive",
        dir.to_str().unwrap(),
        "--id",
        id,
        "--json",
    ]);
    assert_eq!(archive["messages"][0]["hash"], "0x02");
    assert_eq!(archive["messages"][0]["timestamp"], D1 + 6 * DAY + 7200);
}

/// status-go ManagerSuite 6: no messages in range, no files at all.
#[test]
fn no_messages_no_files() {
    let tmp = tempfile::tempdir().unwrap();
    let jsonl = tmp.path().join("m.jsonl");
    write_jsonl(
        &jsonl,
        &[
            line(D1 + 30 * DAY, "0x01", TOPIC),
            line(D1 + 3600, "0x02", "0x00000000"),
        ],
    );
    let out = tmp.path().join("out");
    let report = create(&jsonl, D1, D1 + 7 * DAY, &out);
    assert_eq!(report["archives"].as_array().unwrap().len(), 0);
    assert!(!out.exists());
}

#[test]
fn bad_input_fails_clearly_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let jsonl = tmp.path().join("m.jsonl");
    write_jsonl(
        &jsonl,
        &[line(D1 + 3600, "0x01", TOPIC), "{not json".into()],
    );
    let out = tmp.path().join("out");
    let run = |jsonl: &Path, community: &str, topics: &str, from: u64, to: u64| {
        archivist(&[
            "create",
            "--messages",
            jsonl.to_str().unwrap(),
            "--community",
            community,
            "--topics",
            topics,
            "--from",
            &from.to_string(),
            "--to",
            &to.to_string(),
            "--out",
            out.to_str().unwrap(),
        ])
    };
    let cases = [
        (run(&jsonl, COMMUNITY, TOPIC, D1, D1 + DAY), "line 2"),
        (run(&jsonl, COMMUNITY, TOPIC, D1, D1), "must be before"),
        (run(&jsonl, "0x1234", TOPIC, D1, D1 + DAY), "community ID"),
        (run(&jsonl, COMMUNITY, "0xdead", D1, D1 + DAY), "topic"),
    ];
    for (output, expected) in cases {
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success());
        assert!(
            stderr.contains(expected),
            "expected {expected:?} in {stderr}"
        );
    }
    assert!(!out.exists(), "nothing is written on bad input");
}

fn create_args(jsonl: &Path, from: u64, to: u64, out: &Path) -> Vec<String> {
    [
        "create",
        "--messages",
        jsonl.to_str().unwrap(),
        "--community",
        COMMUNITY,
        "--topics",
        TOPIC,
        "--from",
        &from.to_string(),
        "--to",
        &to.to_string(),
        "--out",
        out.to_str().unwrap(),
    ]
    .map(str::to_owned)
    .to_vec()
}

/// Two `archivist create` runs on one community folder at once used to
/// interleave their bytes, leaving an index that pointed at the other's
/// archives. Now one may have to give up, naming the other, and the folder
/// always verifies.
#[test]
fn two_creates_on_one_folder_never_interleave() {
    let tmp = tempfile::tempdir().unwrap();
    let jsonl = tmp.path().join("m.jsonl");
    let lines: Vec<String> = (0..20_000u64)
        .map(|i| line(D1 + i * 60, &format!("0x{i:08x}"), TOPIC))
        .collect();
    write_jsonl(&jsonl, &lines);
    for trial in 0..3 {
        let out = tmp.path().join(format!("out{trial}"));
        let weeks = [(D1, D1 + 7 * DAY), (D1 + 7 * DAY, D1 + 14 * DAY)];
        let outputs: Vec<Output> = std::thread::scope(|s| {
            let runs: Vec<_> = weeks
                .iter()
                .map(|&(from, to)| {
                    let args = create_args(&jsonl, from, to, &out);
                    s.spawn(move || {
                        let args: Vec<&str> = args.iter().map(String::as_str).collect();
                        archivist(&args)
                    })
                })
                .collect();
            runs.into_iter().map(|r| r.join().unwrap()).collect()
        });
        let mut written = 0;
        for output in &outputs {
            if output.status.success() {
                written += 1;
            } else {
                let stderr = String::from_utf8_lossy(&output.stderr);
                assert!(
                    stderr.contains("is locked by another writer (pid "),
                    "trial {trial}: {stderr}"
                );
            }
        }
        assert!(written >= 1, "trial {trial}: neither run wrote");
        let dir = out.join(COMMUNITY);
        let verified = archivist_json(&["verify", dir.to_str().unwrap(), "--json"]);
        assert_eq!(verified["archives"], written, "trial {trial}: {verified}");
    }
}

/// A writer holding the folder's lock makes `archivist create` fail at once,
/// naming the holder, and leaves the files as they were.
#[test]
fn create_on_a_locked_folder_fails_naming_the_holder() {
    use std::io::Write as _;
    let tmp = tempfile::tempdir().unwrap();
    let jsonl = tmp.path().join("m.jsonl");
    write_jsonl(&jsonl, &[line(D1 + 3600, "0x01", TOPIC)]);
    let out = tmp.path().join("out");
    let dir = out.join(COMMUNITY);
    fs::create_dir_all(&dir).unwrap();
    let mut lock = fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .open(dir.join("writer.lock"))
        .unwrap();
    lock.try_lock().unwrap();
    writeln!(lock, "pid 1: the other writer").unwrap();

    let args = create_args(&jsonl, D1, D1 + 7 * DAY, &out);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let output = archivist(&args);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("locked by another writer (pid 1: the other writer)"),
        "{stderr}"
    );
    assert!(!dir.join("data").exists() && !dir.join("index").exists());

    drop(lock);
    archivist_json(&args);
    archivist_json(&["verify", dir.to_str().unwrap(), "--json"]);
}
