//! What a new user hits in the first hour: errors that name the config key,
//! argument or environment variable to fix (once, and before anything is
//! created), logs fit for a file, and imports that say what they did.

use std::{fs, os::unix::fs::PermissionsExt};

use super::*;

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `text` says `what` exactly once.
fn said_once(text: &str, what: &str) {
    assert_eq!(text.matches(what).count(), 1, "{what:?} once in {text:?}");
}

#[test]
fn config_mistakes_are_named_once_by_key_and_nothing_is_created() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("owner.toml");
    fs::write(
        &config,
        "data_dir = \"data\"\n[[owned]]\nkey_file = \"nope.key\"\ntopics = [\"0xdeadbeef\"]\n",
    )
    .unwrap();
    let config = config.to_str().unwrap();
    let out = archivist(&["run", "--config", config]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("config key `owned[0].key_file`"), "{err}");
    assert!(err.contains("archivist keygen --out"), "{err}");
    said_once(&err, "does not exist");
    assert!(
        !dir.path().join("data").exists(),
        "nothing created before the key was found"
    );

    // A bad data_dir, from the file or the environment.
    fs::write(dir.path().join("file"), "").unwrap();
    let bad_dir = dir.path().join("bad.toml");
    fs::write(&bad_dir, "data_dir = \"file/below\"\n").unwrap();
    let out = archivist(&["run", "--config", bad_dir.to_str().unwrap()]);
    let err = stderr(&out);
    assert!(!out.status.success());
    assert!(err.contains("config key `data_dir`"), "{err}");
    said_once(&err, "Not a directory");

    let out = Command::new(env!("CARGO_BIN_EXE_archivist"))
        .args(["status", "--config", bad_dir.to_str().unwrap()])
        .env("ARCHIVIST_TORRENT__LISTEN", "nowhere")
        .output()
        .unwrap();
    let err = stderr(&out);
    assert!(!out.status.success());
    assert!(
        err.contains(
            "config key `torrent.listen`: \"nowhere\": invalid socket address syntax (set by the \
             environment variable ARCHIVIST_TORRENT__LISTEN)"
        ),
        "{err}"
    );

    let out = archivist(&["run", "--config", "missing.toml"]);
    let err = stderr(&out);
    assert!(
        err.starts_with("archivist: --config missing.toml: no such file"),
        "{err}"
    );
}

#[test]
fn a_key_readable_by_others_is_warned_about_in_plain_text() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("owner.key");
    archivist_json(&["keygen", "--out", key.to_str().unwrap()]);
    fs::set_permissions(&key, fs::Permissions::from_mode(0o644)).unwrap();
    // The node stops at the bad data_dir, after the key was checked.
    fs::write(dir.path().join("data"), "").unwrap();
    let config = dir.path().join("owner.toml");
    fs::write(
        &config,
        "data_dir = \"data\"\n[[owned]]\nkey_file = \"owner.key\"\ntopics = [\"0xdeadbeef\"]\n",
    )
    .unwrap();
    let out = archivist(&["run", "--config", config.to_str().unwrap()]);
    let err = stderr(&out);
    assert!(!out.status.success());
    assert!(err.contains("WARN"), "warnings show by default: {err}");
    assert!(
        err.contains("can be read by other users (mode 644)"),
        "{err}"
    );
    assert!(err.contains("chmod 600"), "{err}");
    assert!(
        !err.contains('\u{1b}'),
        "no colour codes into a pipe: {err:?}"
    );
}

#[test]
fn import_creates_the_store_folder_and_reports_new_present_and_late_messages() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("owner-data/store.sqlite");
    let db = db.to_str().unwrap();
    let jsonl = dir.path().join("week.jsonl");
    let lines: Vec<String> = (0..6)
        .map(|i| line(D1 + i * DAY, &format!("0x{i:064x}"), TOPIC))
        .collect();
    write_jsonl(&jsonl, &lines);
    let jsonl = jsonl.to_str().unwrap();
    let first = archivist_json(&["messages", "import", "--db", db, "--jsonl", jsonl]);
    assert_eq!(first["imported"], 6, "{first}");
    assert_eq!(first["new"], 6, "{first}");
    assert_eq!(first["already_present"], 0, "{first}");
    assert!(first["late"].is_null(), "{first}");
    let again = archivist_json(&["messages", "import", "--db", db, "--jsonl", jsonl]);
    assert_eq!(
        (again["new"].as_u64(), again["already_present"].as_u64()),
        (Some(0), Some(6))
    );

    // The owner archives the first week; then two messages of that week
    // arrive, and one after it.
    let out = dir.path().join("out");
    let (from, to) = (D1.to_string(), (D1 + 7 * DAY).to_string());
    archivist_json(&[
        "create",
        "--db",
        db,
        "--community",
        COMMUNITY,
        "--topics",
        TOPIC,
        "--from",
        &from,
        "--to",
        &to,
        "--out",
        out.to_str().unwrap(),
    ]);
    let late = dir.path().join("late.jsonl");
    write_jsonl(
        &late,
        &[
            line(D1 + DAY / 2, "0xaa", TOPIC),
            line(D1 + 3 * DAY, "0xbb", TOPIC),
            line(D1 + 8 * DAY, "0xcc", TOPIC),
        ],
    );
    let output = archivist(&[
        "messages",
        "import",
        "--db",
        db,
        "--jsonl",
        late.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["new"], 3, "{report}");
    let late = &report["late"];
    assert_eq!(late["community"], COMMUNITY, "{report}");
    assert_eq!(late["messages"], 2, "{report}");
    assert_eq!(late["from"], D1 + DAY / 2, "{report}");
    assert_eq!(late["to"], D1 + 3 * DAY, "{report}");
    assert_eq!(late["archive_end"], D1 + 7 * DAY, "{report}");
    assert!(
        stderr(&output).contains("no archive (and no member) will hold them"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn export_refuses_a_store_that_is_not_there() {
    let dir = tempfile::tempdir().unwrap();
    let typo = dir.path().join("typo.sqlite");
    let out = archivist(&["messages", "export", "--db", typo.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("no message store there"),
        "{}",
        stderr(&out)
    );
    assert!(!typo.exists(), "no empty store was created");
}
