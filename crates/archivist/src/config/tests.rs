//! Configuration: the embedded defaults, the example file, environment
//! overrides and errors that name the key.

use std::{net::SocketAddr, time::Duration};

use archive_index::LinkKind;

use super::{Config, ConfigError};

const COMMUNITY: &str = "0x02aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

fn parse(text: &str, env: &[(&str, &str)]) -> Result<Config, ConfigError> {
    Config::parse(
        text,
        "test.toml",
        env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    )
}

fn key_of(result: Result<Config, ConfigError>) -> String {
    match result {
        Err(ConfigError::Invalid { key, message }) => {
            assert!(!message.is_empty());
            key
        }
        other => panic!("expected an invalid key, got {other:?}"),
    }
}

#[test]
fn no_file_is_the_embedded_defaults() {
    let config = parse("", &[]).unwrap();
    assert_eq!(config, Config::default());
    assert_eq!(config.enabled_kinds(), [LinkKind::TORRENT]);
    assert_eq!(config.torrent.listen.ip().to_string(), "127.0.0.1");
    assert_eq!(config.store_path(), config.data_dir.join("store.sqlite"));
}

/// The example in the repository parses, so it cannot rot.
#[test]
fn the_example_file_is_valid() {
    let text = include_str!("../../../../examples/owner.toml");
    let config = parse(text, &[]).unwrap();
    assert_eq!(config.owned.len(), 1);
    let text = include_str!("../../../../examples/member.toml");
    let config = parse(text, &[]).unwrap();
    assert_eq!(config.joined.len(), 1);
}

#[test]
fn a_full_file_is_read_into_typed_values() {
    let text = format!(
        r#"
        data_dir = "/var/lib/archivist"
        archive_interval_secs = 3600
        quiet_period_secs = 0
        reannounce_interval_secs = 120
        request_link_on_join = false
        link_reply_interval_secs = 5
        [torrent]
        listen = "127.0.0.1:9025"
        peers = ["127.0.0.1:9026"]
        [codex]
        enabled = true
        url = "http://127.0.0.1:8080/"
        prefix = "/api/codex/v1"
        [waku]
        bootstrap = ["/ip4/127.0.0.1/tcp/60000"]
        [import]
        order = "newest-first"
        [[owned]]
        key_file = "owner.key"
        topics = ["0xdeadbeef", "0x0badf00d"]
        [[joined]]
        community = "{COMMUNITY}"
        prefer = "codex"
        "#
    );
    let config = parse(&text, &[]).unwrap();
    assert_eq!(config.archive_interval, Duration::from_secs(3600));
    assert_eq!(config.quiet_period, Duration::ZERO);
    assert_eq!(config.reannounce_interval, Duration::from_secs(120));
    assert!(!config.request_link_on_join);
    assert_eq!(config.link_reply_interval, Duration::from_secs(5));
    assert_eq!(
        config.torrent.listen,
        "127.0.0.1:9025".parse::<SocketAddr>().unwrap()
    );
    assert_eq!(
        config.codex.url, "http://127.0.0.1:8080",
        "trailing slash dropped"
    );
    assert_eq!(config.enabled_kinds(), [LinkKind::TORRENT, LinkKind::CODEX]);
    assert!(config.import.newest_first);
    assert_eq!(config.owned[0].topics.len(), 2);
    assert!(config.owned[0].archiving);
    assert_eq!(config.joined[0].community.to_string(), COMMUNITY);
    assert_eq!(config.joined[0].prefer, Some(LinkKind::CODEX));
}

#[test]
fn environment_overrides_the_file() {
    let config = parse(
        "[torrent]\nlisten = \"127.0.0.1:1\"\n",
        &[
            ("ARCHIVIST_TORRENT__LISTEN", "127.0.0.1:2"),
            ("ARCHIVIST_CODEX__ENABLED", "true"),
            ("ARCHIVIST_CODEX__URL", "http://127.0.0.1:9"),
            ("ARCHIVIST_DATA_DIR", "/tmp/elsewhere"),
            ("ARCHIVIST_REANNOUNCE_INTERVAL_SECS", "60"),
            ("ARCHIVIST_WAKU__BOOTSTRAP", r#"["/ip4/127.0.0.1/tcp/1"]"#),
            ("UNRELATED", "x"),
        ],
    )
    .unwrap();
    assert_eq!(config.torrent.listen.port(), 2);
    assert!(config.codex.enabled);
    assert_eq!(config.codex.url, "http://127.0.0.1:9");
    assert_eq!(config.data_dir.to_str(), Some("/tmp/elsewhere"));
    assert_eq!(config.waku.bootstrap.len(), 1);
    assert_eq!(config.reannounce_interval, Duration::from_secs(60));
}

#[test]
fn errors_name_the_key() {
    assert_eq!(
        key_of(parse("[torrent]\nlisten = \"nowhere\"\n", &[])),
        "torrent.listen"
    );
    assert_eq!(
        key_of(parse("[torrent]\nenabled = \"yes\"\n", &[])),
        "torrent.enabled"
    );
    assert_eq!(
        key_of(parse("[torrent]\nlisten_addr = \"x\"\n", &[])),
        "torrent.listen_addr"
    );
    assert_eq!(
        key_of(parse("archive_interval_secs = 0\n", &[])),
        "archive_interval_secs"
    );
    assert_eq!(
        key_of(parse("link_reply_interval_secs = 0\n", &[])),
        "link_reply_interval_secs"
    );
    assert_eq!(
        key_of(parse(
            "[[owned]]\nkey_file = \"k\"\ntopics = [\"0xdead\"]\n",
            &[]
        )),
        "owned[0].topics[0]"
    );
    assert_eq!(
        key_of(parse("[[joined]]\ncommunity = \"0x02\"\n", &[])),
        "joined[0].community"
    );
    assert_eq!(
        key_of(parse(
            &format!("[[joined]]\ncommunity = \"{COMMUNITY}\"\nprefer = \"IPFS\"\n"),
            &[]
        )),
        "joined[0].prefer"
    );
    assert_eq!(
        key_of(parse("", &[("ARCHIVIST_TORRENT__PORT", "1")])),
        "torrent.port",
        "a misspelt override is an unknown key, not ignored"
    );
    assert_eq!(
        key_of(parse("[torrent]\nenabled = false\n", &[])),
        "torrent.enabled",
        "no network at all"
    );
    assert_eq!(
        key_of(parse(
            "[codex]\nenabled = true\nurl = \"127.0.0.1:8080\"\n",
            &[]
        )),
        "codex.url"
    );
    assert!(matches!(
        parse("[torrent\n", &[]),
        Err(ConfigError::Syntax { .. })
    ));
}

#[test]
fn relative_paths_in_a_file_are_relative_to_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("node.toml");
    std::fs::write(
        &path,
        "data_dir = \"data\"\n[[owned]]\nkey_file = \"keys/c.key\"\ntopics = [\"0xdeadbeef\"]\n",
    )
    .unwrap();
    let config = Config::load(Some(&path)).unwrap();
    assert_eq!(config.data_dir, dir.path().join("data"));
    assert_eq!(config.owned[0].key_file, dir.path().join("keys/c.key"));
    assert!(matches!(
        Config::load(Some(&dir.path().join("missing.toml"))),
        Err(ConfigError::Read { .. })
    ));
}

/// `waku.pubsub_topic` defaults to status-go's community shard, can be set
/// from the file or the environment, and must look like a Waku pubsub topic.
#[test]
fn the_waku_pubsub_topic_is_configurable_and_checked() {
    assert_eq!(
        parse("", &[]).unwrap().waku.pubsub_topic,
        "/waku/2/rs/16/32"
    );
    let config = parse("[waku]\npubsub_topic = \"/waku/2/rs/16/64\"\n", &[]).unwrap();
    assert_eq!(config.waku.pubsub_topic, "/waku/2/rs/16/64");
    let config = parse("", &[("ARCHIVIST_WAKU__PUBSUB_TOPIC", "/waku/2/rs/16/128")]).unwrap();
    assert_eq!(config.waku.pubsub_topic, "/waku/2/rs/16/128");
    for bad in [
        "",
        "rs/16/32",
        "/waku/2/",
        "/waku/1/rs/16/32",
        "/waku/2/rs 16",
    ] {
        assert_eq!(
            key_of(parse(&format!("[waku]\npubsub_topic = {bad:?}\n"), &[])),
            "waku.pubsub_topic",
            "{bad:?}"
        );
    }
}

#[test]
fn a_joined_community_chooses_what_to_download() {
    let config = parse(
        &format!(
            "[[joined]]\ncommunity = \"{COMMUNITY}\"\ndownload = {{ last = \"30d\" }}\n\
             [[joined]]\ncommunity = \"{COMMUNITY}\"\n"
        ),
        &[],
    )
    .unwrap();
    assert_eq!(
        config.joined[0].download,
        archive_index::DownloadPolicy::Last {
            seconds: 30 * 86_400
        }
    );
    assert_eq!(
        config.joined[1].download,
        archive_index::DownloadPolicy::All
    );
    let error = parse(
        &format!("[[joined]]\ncommunity = \"{COMMUNITY}\"\ndownload = \"some\"\n"),
        &[],
    )
    .unwrap_err();
    assert_eq!(error.key(), Some("joined[0].download"));
}

#[test]
fn the_api_stays_on_loopback_unless_told_otherwise() {
    let config = parse("", &[]).unwrap();
    assert!(config.api.enabled);
    assert!(config.api.listen.ip().is_loopback());
    assert_eq!(config.api.listen.port(), 0, "ephemeral by default");
    let config = parse("[api]\nlisten = \"127.0.0.1:9030\"\n", &[]).unwrap();
    assert_eq!(config.api.listen.port(), 9030);
    assert_eq!(
        key_of(parse("[api]\nlisten = \"0.0.0.0:9030\"\n", &[])),
        "api.listen"
    );
    let config = parse(
        "[api]\nlisten = \"0.0.0.0:9030\"\nallow_remote = true\n",
        &[],
    )
    .unwrap();
    assert!(!config.api.listen.ip().is_loopback());
    let config = parse("", &[("ARCHIVIST_API__ENABLED", "false")]).unwrap();
    assert!(!config.api.enabled);
}
