//! `archivist messages` and `archivist create --db`: status-go's ManagerSuite
//! tests 7–9 (the "FromDB" variants) and parity with `create --messages`.

use std::fs;

use super::*;

fn import(db: &Path, jsonl: &Path) -> serde_json::Value {
    archivist_json(&[
        "messages",
        "import",
        "--db",
        db.to_str().unwrap(),
        "--jsonl",
        jsonl.to_str().unwrap(),
    ])
}

fn create(source: &[&str], from: u64, to: u64, out: &Path) -> serde_json::Value {
    let (from, to) = (from.to_string(), to.to_string());
    let mut args = vec!["create"];
    args.extend_from_slice(source);
    args.extend_from_slice(&[
        "--community",
        COMMUNITY,
        "--topics",
        TOPIC,
        "--from",
        &from,
        "--to",
        &to,
    ]);
    args.extend_from_slice(&["--out", out.to_str().unwrap()]);
    archivist_json(&args)
}

fn messages_per_archive(report: &serde_json::Value) -> Vec<(u64, u64)> {
    report["archives"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["from"].as_u64().unwrap(), a["messages"].as_u64().unwrap()))
        .collect()
}

/// status-go 7: messages at D1+1h, D1+2h and D7+2h; [D1, D7) gives one archive of 2.
#[test]
fn status_go_7_creates_an_archive_from_the_store() {
    let tmp = tempfile::tempdir().unwrap();
    let (jsonl, db, out) = (
        tmp.path().join("m.jsonl"),
        tmp.path().join("m.db"),
        tmp.path().join("out"),
    );
    write_jsonl(
        &jsonl,
        &[
            line(D1 + 3600, "0x01", TOPIC),
            line(D1 + 7200, "0x02", TOPIC),
            line(D1 + 6 * DAY + 7200, "0x03", TOPIC),
        ],
    );
    assert_eq!(import(&db, &jsonl)["imported"], 3);
    let db_arg = db.to_str().unwrap();
    let report = create(&["--db", db_arg], D1, D1 + 6 * DAY, &out);
    assert_eq!(messages_per_archive(&report), vec![(D1, 2)]);
    assert_eq!(report["archives"][0]["offset"], 0);
    // The store now records the archive end: archiving [D1, …) again is refused.
    let again = archivist(&[
        "create",
        "--db",
        db_arg,
        "--community",
        COMMUNITY,
        "--topics",
        TOPIC,
        "--from",
        &D1.to_string(),
        "--to",
        &(D1 + 7 * DAY).to_string(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("archived up to"));
}

/// status-go 8: [D1, D21) → archives from D1, D8, D15 with 2, 1, 1 messages.
#[test]
fn status_go_8_creates_multiple_archives_from_the_store() {
    let tmp = tempfile::tempdir().unwrap();
    let (jsonl, db, out) = (
        tmp.path().join("m.jsonl"),
        tmp.path().join("m.db"),
        tmp.path().join("out"),
    );
    write_jsonl(
        &jsonl,
        &[
            line(D1 + 3600, "0x01", TOPIC),
            line(D1 + 7200, "0x02", TOPIC),
            line(D1 + 8 * DAY, "0x03", TOPIC),
            line(D1 + 14 * DAY, "0x04", TOPIC),
        ],
    );
    import(&db, &jsonl);
    let report = create(&["--db", db.to_str().unwrap()], D1, D1 + 20 * DAY, &out);
    assert_eq!(
        messages_per_archive(&report),
        vec![(D1, 2), (D1 + 7 * DAY, 1), (D1 + 14 * DAY, 1)]
    );
}

/// status-go 9: a second run from the store appends after the first.
#[test]
fn status_go_9_appends_archives_from_the_store() {
    let tmp = tempfile::tempdir().unwrap();
    let (jsonl, db, out) = (
        tmp.path().join("m.jsonl"),
        tmp.path().join("m.db"),
        tmp.path().join("out"),
    );
    write_jsonl(&jsonl, &[line(D1 + 3600, "0x01", TOPIC)]);
    import(&db, &jsonl);
    let db_arg = db.to_str().unwrap();
    let first = create(&["--db", db_arg], D1, D1 + 6 * DAY, &out);
    write_jsonl(&jsonl, &[line(D1 + 6 * DAY + 7200, "0x02", TOPIC)]);
    import(&db, &jsonl);
    let second = create(&["--db", db_arg], D1 + 6 * DAY, D1 + 13 * DAY, &out);
    assert_eq!(
        second["archives"][0]["offset"],
        first["archives"][0]["size"]
    );
    let index = out.join(COMMUNITY).join("index");
    let listed = archivist_json(&["inspect", "index", index.to_str().unwrap(), "--json"]);
    assert_eq!(listed["archives"].as_array().unwrap().len(), 2);
}

#[test]
fn create_from_the_store_equals_create_from_jsonl() {
    let tmp = tempfile::tempdir().unwrap();
    let (jsonl, db) = (tmp.path().join("m.jsonl"), tmp.path().join("m.db"));
    let mut lines: Vec<String> = (0..50u64)
        .map(|i| line(D1 + (i * 7919) % (20 * DAY), &format!("0x{i:04x}"), TOPIC))
        .collect();
    lines.push(line(D1 + 5, "0x0001", TOPIC)); // a later duplicate hash replaces the earlier one
    lines.push(line(D1 + 9, "0xffff", "0x00000000")); // another topic
    write_jsonl(&jsonl, &lines);
    import(&db, &jsonl);
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    let from_jsonl = create(
        &["--messages", jsonl.to_str().unwrap()],
        D1,
        D1 + 20 * DAY,
        &a,
    );
    let from_db = create(&["--db", db.to_str().unwrap()], D1, D1 + 20 * DAY, &b);
    assert_eq!(from_jsonl, from_db);
    for file in ["data", "index"] {
        assert_eq!(
            fs::read(a.join(COMMUNITY).join(file)).unwrap(),
            fs::read(b.join(COMMUNITY).join(file)).unwrap(),
            "{file} differs"
        );
    }
}

#[test]
fn export_prints_what_import_stored() {
    let tmp = tempfile::tempdir().unwrap();
    let (jsonl, db) = (tmp.path().join("m.jsonl"), tmp.path().join("m.db"));
    write_jsonl(
        &jsonl,
        &[
            line(D1 + 2, "0x02", TOPIC),
            line(D1 + 1, "0x01", "0x00000001"),
            line(D1 + 3, "0x03", TOPIC),
        ],
    );
    import(&db, &jsonl);
    let db_arg = db.to_str().unwrap();
    let export = |extra: &[&str]| {
        let mut args = vec!["messages", "export", "--db", db_arg];
        args.extend_from_slice(extra);
        let out = archivist(&args);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let all = export(&[]);
    let hashes: Vec<_> = all
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["hash"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(hashes, vec!["0x01", "0x02", "0x03"]);
    let one_topic = export(&["--topics", TOPIC, "--from", &(D1 + 3).to_string()]);
    assert_eq!(one_topic.lines().count(), 1);
}

#[test]
fn a_bad_line_imports_nothing_and_a_foreign_file_is_left_alone() {
    let tmp = tempfile::tempdir().unwrap();
    let (jsonl, db) = (tmp.path().join("m.jsonl"), tmp.path().join("m.db"));
    write_jsonl(
        &jsonl,
        &[line(D1, "0x01", TOPIC), r#"{"timestamp":1}"#.into()],
    );
    let out = archivist(&[
        "messages",
        "import",
        "--db",
        db.to_str().unwrap(),
        "--jsonl",
        jsonl.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("line 2"));
    assert!(!db.exists(), "nothing is created from a bad file");

    let foreign = tmp.path().join("notes.txt");
    fs::write(
        &foreign,
        b"these are not the droids you are looking for, not SQLite at all",
    )
    .unwrap();
    let before = fs::read(&foreign).unwrap();
    write_jsonl(&jsonl, &[line(D1, "0x01", TOPIC)]);
    let out = archivist(&[
        "messages",
        "import",
        "--db",
        foreign.to_str().unwrap(),
        "--jsonl",
        jsonl.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    assert_eq!(fs::read(&foreign).unwrap(), before);
}

/// The import streams its file in batches (4 096 messages each): the report
/// counts a repeat in a later batch once, as for a small file, and a bad
/// line after the first batch still imports nothing and names its line.
#[test]
fn a_large_import_streams_in_batches_and_stays_all_or_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let (jsonl, db) = (tmp.path().join("m.jsonl"), tmp.path().join("new/m.db"));
    let hash = |n: usize| format!("0x{n:08x}");
    let mut lines: Vec<String> = (0..10_000)
        .map(|n| line(D1 + n as u64, &hash(n), TOPIC))
        .collect();
    // Repeats of the first message, one batch and two batches later.
    lines.push(line(D1, &hash(0), TOPIC));
    lines.insert(5_000, line(D1, &hash(0), TOPIC));
    lines.push(r#"{"timestamp":1}"#.into());
    write_jsonl(&jsonl, &lines);
    let out = archivist(&[
        "messages",
        "import",
        "--db",
        db.to_str().unwrap(),
        "--jsonl",
        jsonl.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("line 10003"), "{stderr}");
    assert!(
        !db.exists() && !db.parent().unwrap().exists(),
        "nothing left behind"
    );

    lines.pop();
    write_jsonl(&jsonl, &lines);
    let report = import(&db, &jsonl);
    assert_eq!(report["imported"], 10_002);
    assert_eq!(
        (report["new"].as_u64(), report["already_present"].as_u64()),
        (Some(10_000), Some(0))
    );
    // Again, with one more: all present but the new one.
    lines.push(line(D1 + 20_000, &hash(20_000), TOPIC));
    write_jsonl(&jsonl, &lines);
    let report = import(&db, &jsonl);
    assert_eq!(
        (report["new"].as_u64(), report["already_present"].as_u64()),
        (Some(1), Some(10_000))
    );
}

/// Runs `archivist` as a user who cannot write what the test's files deny
/// (as root, `setpriv` drops to `nobody`: root would write a 0444 file).
fn archivist_unprivileged(args: &[&str]) -> Output {
    use std::os::unix::fs::MetadataExt;
    let root = fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0);
    let mut command = if root {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"]);
        c.arg(env!("CARGO_BIN_EXE_archivist"));
        c
    } else {
        Command::new(env!("CARGO_BIN_EXE_archivist"))
    };
    command.args(args).output().expect("archivist runs")
}

/// `status` and `messages export` only read: on a store the user may not
/// write (file 0444 in a 0555 directory) they work, take no writer lock and
/// leave every byte as it was, with no `-wal`/`-shm` beside it. They used to
/// open it for writing and fail switching it to WAL.
#[test]
fn status_and_export_read_a_read_only_store_without_touching_it() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let mode = |path: &Path, mode: u32| {
        fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
    };
    mode(tmp.path(), 0o755);
    let data = tmp.path().join("data");
    fs::create_dir(&data).unwrap();
    let (jsonl, db) = (tmp.path().join("m.jsonl"), data.join("store.sqlite"));
    let lines = [line(D1, "0x01", TOPIC), line(D1 + 60, "0x02", TOPIC)];
    write_jsonl(&jsonl, &lines);
    assert_eq!(import(&db, &jsonl)["imported"], 2);
    let _ = fs::remove_file(data.join("store.sqlite.lock"));
    let config = tmp.path().join("member.toml");
    fs::write(
        &config,
        format!("data_dir = \"data\"\n[[joined]]\ncommunity = \"{COMMUNITY}\"\n"),
    )
    .unwrap();
    mode(&config, 0o644);
    let before = fs::read(&db).unwrap();
    mode(&db, 0o444);
    mode(&data, 0o555);
    let status =
        archivist_unprivileged(&["status", "--json", "--config", config.to_str().unwrap()]);
    let export = archivist_unprivileged(&["messages", "export", "--db", db.to_str().unwrap()]);
    mode(&data, 0o755);
    mode(&db, 0o644);

    assert!(status.status.success(), "{status:?}");
    let status: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(status[0]["role"], "member", "{status}");
    assert!(export.status.success(), "{export:?}");
    assert_eq!(String::from_utf8(export.stdout).unwrap().lines().count(), 2);
    assert_eq!(fs::read(&db).unwrap(), before, "the store was modified");
    let mut names: Vec<String> = fs::read_dir(&data)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, vec!["store.sqlite"]);
}
