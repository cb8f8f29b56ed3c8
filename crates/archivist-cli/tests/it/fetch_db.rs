//! `fetch --db`: a member imports what it fetches into its message store,
//! over BitTorrent and over Codex, and a later fetch imports only the archives
//! the store does not have yet.

use super::*;

pub(crate) fn week_lines(week: u64, count: u64) -> Vec<String> {
    (0..count)
        .map(|i| {
            line(
                D1 + week * 7 * DAY + i * 3_600,
                &format!("0x{week:02x}{i:02x}"),
                TOPIC,
            )
        })
        .collect()
}

/// `archivist create` of `lines` for `[from, to)`, with extra arguments.
pub(crate) fn create(
    tmp: &Path,
    lines: &[String],
    from: u64,
    to: u64,
    extra: &[&str],
) -> serde_json::Value {
    let jsonl = tmp.join(format!("m-{from}.jsonl"));
    write_jsonl(&jsonl, lines);
    let mut args = vec![
        "create".to_string(),
        "--messages".into(),
        jsonl.display().to_string(),
        "--community".into(),
        COMMUNITY.into(),
        "--topics".into(),
        TOPIC.into(),
        "--from".into(),
        from.to_string(),
        "--to".into(),
        to.to_string(),
        "--out".into(),
        tmp.join("owner").display().to_string(),
    ];
    args.extend(extra.iter().map(|a| a.to_string()));
    archivist_json(&args.iter().map(String::as_str).collect::<Vec<_>>())
}

/// The hashes a store holds, in export order.
pub(crate) fn stored_hashes(db: &Path) -> Vec<String> {
    let out = archivist(&["messages", "export", "--db", db.to_str().unwrap()]);
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["hash"].as_str().unwrap().to_string()
        })
        .collect()
}

pub(crate) fn hashes(lines: &[String]) -> Vec<String> {
    lines
        .iter()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["hash"].as_str().unwrap().to_string()
        })
        .collect()
}

#[test]
fn a_member_imports_what_it_fetches_over_bittorrent_and_only_once() {
    let tmp = tempfile::tempdir().unwrap();
    let torrents = tmp.path().join("torrents");
    let torrent_dir = ["--torrent-dir", torrents.to_str().unwrap()];
    let first = [week_lines(0, 5), week_lines(1, 4)].concat();
    create(tmp.path(), &first, D1, D1 + 14 * DAY, &torrent_dir);
    let db = tmp.path().join("member.sqlite");
    let member = tmp.path().join("member");

    let seed_and_fetch = || {
        let (_seeder, seeding) = start_archivist(&[
            "seed",
            "--data-dir",
            tmp.path().join("owner").to_str().unwrap(),
            "--torrent-dir",
            torrents.to_str().unwrap(),
            "--community",
            COMMUNITY,
        ]);
        archivist_json(&[
            "fetch",
            seeding["magnet"].as_str().unwrap(),
            "--out",
            member.to_str().unwrap(),
            "--peer",
            seeding["listen"].as_str().unwrap(),
            "--timeout",
            "30",
            "--db",
            db.to_str().unwrap(),
        ])
    };

    let fetched = seed_and_fetch();
    assert_eq!(fetched["imported"]["archives"], 2, "{fetched}");
    assert_eq!(fetched["imported"]["messages"], 9, "{fetched}");
    assert_eq!(stored_hashes(&db), hashes(&first));

    // Nothing new: nothing is fetched or imported again.
    let again = seed_and_fetch();
    assert_eq!(again["archives"].as_array().unwrap().len(), 0, "{again}");
    assert_eq!(again["imported"]["archives"], 0, "{again}");

    // The owner appends a week; only its archive is imported.
    let third = week_lines(2, 3);
    create(
        tmp.path(),
        &third,
        D1 + 14 * DAY,
        D1 + 21 * DAY,
        &torrent_dir,
    );
    let later = seed_and_fetch();
    assert_eq!(later["imported"]["archives"], 1, "{later}");
    assert_eq!(later["imported"]["messages"], 3, "{later}");
    assert_eq!(stored_hashes(&db), hashes(&[first, third].concat()));
}

#[test]
fn a_member_imports_what_it_fetches_over_codex() {
    let tmp = tempfile::tempdir().unwrap();
    let (_node, started) = start_archivist(&[
        "codex-devnode",
        "--listen",
        "127.0.0.1:0",
        "--data-dir",
        tmp.path().join("node").to_str().unwrap(),
    ]);
    let url = started["url"].as_str().unwrap().to_string();
    let lines = [week_lines(0, 4), week_lines(1, 2)].concat();
    let report = create(tmp.path(), &lines, D1, D1 + 14 * DAY, &["--codex", &url]);
    let link = format!("codex:{}", report["index_cid"].as_str().unwrap());
    let db = tmp.path().join("member.sqlite");
    let fetch = || {
        archivist_json(&[
            "fetch",
            &link,
            "--codex",
            &url,
            "--community",
            COMMUNITY,
            "--out",
            tmp.path().join("member").to_str().unwrap(),
            "--db",
            db.to_str().unwrap(),
        ])
    };

    let fetched = fetch();
    assert_eq!(fetched["imported"]["archives"], 2, "{fetched}");
    assert_eq!(fetched["imported"]["messages"], 6, "{fetched}");
    assert_eq!(stored_hashes(&db), hashes(&lines));

    let again = fetch();
    assert_eq!(again["imported"]["archives"], 0, "{again}");
    assert_eq!(stored_hashes(&db), hashes(&lines));
}

/// Issue 13 item 2 through the CLI: community A's archive lists B's topic
/// and covers B's range. Fetched into a store that holds B's history, it
/// must leave B's messages alone and say how many of its own it dropped.
#[test]
fn an_archive_of_another_community_cannot_replace_a_communitys_messages() {
    const OTHER: &str = "0x02bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
    const OTHER_TOPIC: &str = "0xcafef00d";
    let tmp = tempfile::tempdir().unwrap();
    let (_node, started) = start_archivist(&[
        "codex-devnode",
        "--listen",
        "127.0.0.1:0",
        "--data-dir",
        tmp.path().join("node").to_str().unwrap(),
    ]);
    let url = started["url"].as_str().unwrap().to_string();
    let db = tmp.path().join("member.sqlite");
    let publish_and_fetch = |community: &str, topics: &str, lines: &[String]| {
        let jsonl = tmp.path().join(format!("{community}.jsonl"));
        write_jsonl(&jsonl, lines);
        let out = tmp.path().join(format!("owner-{community}"));
        let report = archivist_json(&[
            "create",
            "--messages",
            jsonl.to_str().unwrap(),
            "--community",
            community,
            "--topics",
            topics,
            "--from",
            &D1.to_string(),
            "--to",
            &(D1 + 7 * DAY).to_string(),
            "--out",
            out.to_str().unwrap(),
            "--codex",
            &url,
        ]);
        let link = format!("codex:{}", report["index_cid"].as_str().unwrap());
        archivist_json(&[
            "fetch",
            &link,
            "--codex",
            &url,
            "--community",
            community,
            "--out",
            tmp.path()
                .join(format!("member-{community}"))
                .to_str()
                .unwrap(),
            "--db",
            db.to_str().unwrap(),
        ])
    };

    let victims = week_lines(0, 20);
    let fetched = publish_and_fetch(COMMUNITY, TOPIC, &victims);
    assert_eq!(fetched["imported"]["messages"], 20, "{fetched}");

    let own: Vec<String> = (0..3)
        .map(|i| line(D1 + i * 60, &format!("0xaa{i:02x}"), OTHER_TOPIC))
        .collect();
    let forged: Vec<String> = (0..5)
        .map(|i| line(D1 + i * 60 + 30, &format!("0xbb{i:02x}"), TOPIC))
        .collect();
    let attack = publish_and_fetch(
        OTHER,
        &format!("{OTHER_TOPIC},{TOPIC}"),
        &[own.clone(), forged].concat(),
    );
    assert_eq!(attack["imported"]["archives"], 1, "{attack}");
    assert_eq!(attack["imported"]["removed"], 0, "{attack}");
    assert_eq!(attack["imported"]["messages"], 3, "{attack}");
    assert_eq!(attack["imported"]["foreign_topic_messages"], 5, "{attack}");

    let mut expected = [hashes(&victims), hashes(&own)].concat();
    expected.sort();
    let mut stored = stored_hashes(&db);
    stored.sort();
    assert_eq!(stored, expected);
    // B's archive stays imported, and a refetch finds nothing to do.
    let again = publish_and_fetch(COMMUNITY, TOPIC, &victims);
    assert_eq!(again["imported"]["archives"], 0, "{again}");
}
