//! Tests of `.torrent` building (full and incremental), parsing and writing.

use std::fs;

use archive_index::PIECE_LENGTH;
use proptest::prelude::*;
use sha1::{Digest, Sha1};

use super::*;
use crate::ArchiveDir;

const P: usize = PIECE_LENGTH as usize;

fn community() -> CommunityId {
    format!("0x02{}", "11".repeat(32)).parse().unwrap()
}

fn owner() -> String {
    format!("0x04{}", "cd".repeat(64))
}

fn opts() -> TorrentOptions {
    TorrentOptions::new(owner(), 1_700_000_000)
}

fn data_bytes(len: usize) -> Vec<u8> {
    (0..len).map(|i| ((i * 7 + 3) % 251) as u8).collect()
}

fn index_bytes(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 256) as u8 ^ 0x5a).collect()
}

/// A community directory with the given `data` and `index` contents.
fn community_dir(root: &Path, data: &[u8], index: &[u8]) -> ArchiveDir {
    let dir = ArchiveDir::new(root, &community());
    fs::create_dir_all(dir.path()).unwrap();
    fs::write(dir.data_path(), data).unwrap();
    fs::write(dir.index_path(), index).unwrap();
    dir
}

/// SHA-1 of each piece of `data‖index`, computed independently of the builder.
fn expected_pieces(data: &[u8], index: &[u8]) -> Vec<[u8; 20]> {
    [data, index]
        .concat()
        .chunks(P)
        .map(|piece| Sha1::digest(piece).into())
        .collect()
}

fn build(dir: &ArchiveDir, previous: Option<&Metainfo>) -> (Metainfo, BuildStats) {
    Metainfo::build_with_stats(dir, &opts(), previous).unwrap()
}

#[test]
fn matches_an_independent_encoding_and_a_golden_infohash() {
    let root = tempfile::tempdir().unwrap();
    let (data, index) = (data_bytes(2 * P), index_bytes(1000));
    let dir = community_dir(root.path(), &data, &index);
    let (metainfo, stats) = build(&dir, None);
    assert_eq!(
        stats,
        BuildStats {
            reused_pieces: 0,
            hashed_pieces: 3
        }
    );

    let name = community().to_string();
    let pieces = expected_pieces(&data, &index).concat();
    let mut info = format!(
        "d5:filesld6:lengthi{}e4:pathl4:dataeed6:lengthi1000e4:pathl5:indexeee\
         4:name{}:{name}12:piece lengthi102400e6:pieces{}:",
        2 * P,
        name.len(),
        pieces.len()
    )
    .into_bytes();
    info.extend_from_slice(&pieces);
    info.push(b'e');
    assert_eq!(metainfo.info_bytes(), info);
    // Computed with Python's hashlib over a hand-written encoding.
    assert_eq!(
        metainfo.info_hash().to_string(),
        "f083b5262eb0eac37d2b87a8fbda0593209c3696"
    );

    let mut torrent = format!(
        "d13:announce-listll42:udp://tracker.opentrackr.org:1337/announceel\
         46:udp://tracker.openbittorrent.com:6969/announceee\
         10:created by{}:{}13:creation datei1700000000e4:info",
        owner().len(),
        owner()
    )
    .into_bytes();
    torrent.extend_from_slice(&info);
    torrent.push(b'e');
    assert_eq!(metainfo.to_bytes(), torrent);
}

#[test]
fn piece_count_is_exact_on_piece_boundaries() {
    for (data_len, index_len, pieces) in [
        (2 * P, P, 3),
        (2 * P, P - 1, 3),
        (2 * P, P + 1, 4),
        (P, 1, 2),
        (0, 10, 1),
        (3 * P, 0, 3),
    ] {
        let root = tempfile::tempdir().unwrap();
        let (data, index) = (data_bytes(data_len), index_bytes(index_len));
        let dir = community_dir(root.path(), &data, &index);
        let (metainfo, _) = build(&dir, None);
        assert_eq!(
            metainfo.info().pieces.len(),
            pieces,
            "{data_len}+{index_len}"
        );
        assert_eq!(metainfo.info().pieces, expected_pieces(&data, &index));
        // Our own parser enforces the count, so this also checks consistency.
        Metainfo::from_bytes(&metainfo.to_bytes()).unwrap();
    }
}

#[test]
fn files_are_data_then_index_under_the_community_name() {
    let root = tempfile::tempdir().unwrap();
    let dir = community_dir(root.path(), &data_bytes(P), &index_bytes(7));
    let (metainfo, _) = build(&dir, None);
    let info = metainfo.info();
    assert_eq!(info.name, community().to_string());
    assert_eq!(info.piece_length, 102_400);
    let files: Vec<_> = info
        .files
        .iter()
        .map(|f| (f.path.join("/"), f.length))
        .collect();
    assert_eq!(
        files,
        [("data".to_string(), P as u64), ("index".to_string(), 7)]
    );
    assert_eq!(info.total_length(), P as u64 + 7);
    assert_eq!(metainfo.community().unwrap(), community());
}

#[test]
fn infohash_is_stable_and_ignores_the_top_level() {
    let root = tempfile::tempdir().unwrap();
    let dir = community_dir(root.path(), &data_bytes(P), &index_bytes(9));
    let first = Metainfo::build(&dir, &opts(), None).unwrap();
    let again = Metainfo::build(&dir, &opts(), None).unwrap();
    assert_eq!(first.to_bytes(), again.to_bytes());
    let other_opts = TorrentOptions {
        announce_list: vec![],
        created_by: String::new(),
        creation_date: 0,
    };
    let bare = Metainfo::build(&dir, &other_opts, None).unwrap();
    assert_eq!(bare.info_hash(), first.info_hash());
    // Go's omitempty: nothing but `info` remains.
    assert!(bare.to_bytes().starts_with(b"d4:infod5:files"));
}

#[test]
fn incremental_rebuild_hashes_only_new_pieces_and_equals_a_full_one() {
    let root = tempfile::tempdir().unwrap();
    let mut data = data_bytes(5 * P);
    let dir = community_dir(root.path(), &data, &index_bytes(300));
    let (previous, _) = build(&dir, None);

    data.extend(index_bytes(2 * P));
    let index = index_bytes(P + 5);
    fs::write(dir.data_path(), &data).unwrap();
    fs::write(dir.index_path(), &index).unwrap();
    let (incremental, stats) = build(&dir, Some(&previous));
    assert_eq!(
        stats,
        BuildStats {
            reused_pieces: 5,
            hashed_pieces: 4
        }
    );
    let (full, _) = build(&dir, None);
    assert_eq!(incremental.to_bytes(), full.to_bytes());
    assert_eq!(incremental.info().pieces, expected_pieces(&data, &index));
}

#[test]
fn a_previous_torrent_that_does_not_fit_is_ignored() {
    let root = tempfile::tempdir().unwrap();
    let data = data_bytes(3 * P);
    let dir = community_dir(root.path(), &data, &index_bytes(10));
    let (current, _) = build(&dir, None);

    // Another community's torrent with the same files.
    let other_root = tempfile::tempdir().unwrap();
    let other_dir = ArchiveDir::at(other_root.path().join(format!("0x03{}", "22".repeat(32))));
    fs::create_dir_all(other_dir.path()).unwrap();
    fs::write(other_dir.data_path(), &data).unwrap();
    fs::write(other_dir.index_path(), index_bytes(10)).unwrap();
    let (other, _) = build(&other_dir, None);

    // `data` that is longer than now, and `data` whose content was rewritten.
    let longer = community_dir(root.path(), &data_bytes(4 * P), &index_bytes(10));
    let (longer, _) = build(&longer, None);
    let mut rewritten = data.clone();
    rewritten[3 * P - 1] ^= 1;
    let rewritten_dir = community_dir(root.path(), &rewritten, &index_bytes(10));
    let (rewritten, _) = build(&rewritten_dir, None);

    let dir = community_dir(root.path(), &data, &index_bytes(10));
    for previous in [&other, &longer, &rewritten] {
        let (rebuilt, stats) = build(&dir, Some(previous));
        assert_eq!(stats.reused_pieces, 0);
        assert_eq!(rebuilt, current);
    }
}

#[test]
fn parsing_round_trips_and_writing_is_atomic() {
    let root = tempfile::tempdir().unwrap();
    let dir = community_dir(root.path(), &data_bytes(2 * P), &index_bytes(10));
    let (metainfo, _) = build(&dir, None);
    assert_eq!(
        Metainfo::from_bytes(&metainfo.to_bytes()).unwrap(),
        metainfo
    );

    let torrents = root.path().join("torrents");
    assert!(Metainfo::load(&torrents, &community()).unwrap().is_none());
    let path = metainfo.write(&torrents).unwrap();
    assert_eq!(path, torrents.join(format!("{}.torrent", community())));
    assert_eq!(path, torrent_path(&torrents, &community()));
    assert_eq!(fs::read(&path).unwrap(), metainfo.to_bytes());
    let loaded = Metainfo::load(&torrents, &community()).unwrap().unwrap();
    assert_eq!(loaded, metainfo);
    assert_eq!(loaded.magnet(), metainfo.magnet());
    let names: Vec<_> = fs::read_dir(&torrents)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 1, "no temporary file left: {names:?}");
}

#[test]
fn the_magnet_is_status_gos() {
    let root = tempfile::tempdir().unwrap();
    let dir = community_dir(root.path(), &data_bytes(2 * P), &index_bytes(1000));
    let (metainfo, _) = build(&dir, None);
    assert_eq!(
        metainfo.magnet().to_string(),
        format!(
            "magnet:?xt=urn:btih:f083b5262eb0eac37d2b87a8fbda0593209c3696&dn={}\
             &tr=udp%3A%2F%2Ftracker.opentrackr.org%3A1337%2Fannounce\
             &tr=udp%3A%2F%2Ftracker.openbittorrent.com%3A6969%2Fannounce",
            community()
        )
    );
}

/// A break of the `torrent_parse` fuzz target's property (a torrent's own
/// magnet parses back): a `.torrent` whose announce list holds an empty URL
/// gave a magnet with `tr=`, which `Magnet` refuses. An empty URL names no
/// tracker, so the magnet leaves it out.
#[test]
fn empty_tracker_urls_stay_out_of_the_magnet() {
    let root = tempfile::tempdir().unwrap();
    let dir = community_dir(root.path(), &data_bytes(P), &index_bytes(10));
    let mut options = opts();
    options.announce_list = vec![vec![String::new()], vec!["udp://t:1".into(), String::new()]];
    let metainfo = Metainfo::build(&dir, &options, None).unwrap();
    let parsed = Metainfo::from_bytes(&metainfo.to_bytes()).unwrap();
    assert_eq!(parsed.announce_list(), options.announce_list.as_slice());
    let magnet = parsed.magnet();
    assert_eq!(magnet.trackers, ["udp://t:1"]);
    assert_eq!(magnet.to_string().parse::<Magnet>().unwrap(), magnet);
}

#[test]
fn a_torrent_not_named_after_a_community_is_not_written() {
    let root = tempfile::tempdir().unwrap();
    let dir = ArchiveDir::at(root.path().join("not-a-community"));
    fs::create_dir_all(dir.path()).unwrap();
    fs::write(dir.data_path(), data_bytes(P)).unwrap();
    fs::write(dir.index_path(), index_bytes(1)).unwrap();
    let (metainfo, _) = build(&dir, None);
    let err = metainfo.write(&root.path().join("t")).unwrap_err();
    assert!(
        matches!(err, Error::InvalidTorrent { field: "name", .. }),
        "{err}"
    );
}

#[test]
fn a_missing_file_is_an_io_error() {
    let root = tempfile::tempdir().unwrap();
    let dir = ArchiveDir::new(root.path(), &community());
    let err = Metainfo::build(&dir, &opts(), None).unwrap_err();
    assert!(matches!(err, Error::Io { .. }), "{err}");
}

/// A one-file info dict with the given middle, wrapped as a torrent.
fn torrent_with_info(info: &str) -> Vec<u8> {
    format!("d4:infod{info}ee").into_bytes()
}

fn pieces_field(n: usize) -> String {
    format!("6:pieces{}:{}", n * 20, "x".repeat(n * 20))
}

#[test]
fn hostile_torrents_are_typed_errors() {
    let files = "5:filesld6:lengthi10e4:pathl4:dataeee";
    let name = "4:name4:abcd";
    let plen = "12:piece lengthi102400e";
    let ok = format!("{files}{name}{plen}{}", pieces_field(1));
    Metainfo::from_bytes(&torrent_with_info(&ok)).unwrap();

    let invalid = |info: String| match Metainfo::from_bytes(&torrent_with_info(&info)) {
        Err(Error::InvalidTorrent { field, reason }) => (field, reason),
        other => panic!("{info}: {other:?}"),
    };
    assert_eq!(
        invalid(format!("{files}4:namei1e{plen}{}", pieces_field(1))),
        ("name", "is not a string")
    );
    assert_eq!(
        invalid(format!("{files}4:name2:..{plen}{}", pieces_field(1))),
        ("name", "is not a safe directory name")
    );
    assert_eq!(
        invalid(format!(
            "{files}{name}12:piece lengthi0e{}",
            pieces_field(1)
        )),
        ("piece length", "is out of range")
    );
    assert_eq!(
        invalid(format!(
            "{files}{name}12:piece length1:x{}",
            pieces_field(1)
        )),
        ("piece length", "is not an integer")
    );
    assert_eq!(
        invalid(format!("6:lengthi1e{name}{plen}{}", pieces_field(1))),
        (
            "files",
            "is missing: a single-file torrent is no community archive"
        )
    );
    assert_eq!(
        invalid(format!(
            "5:filesld6:lengthi-1e4:pathl4:dataeee{name}{plen}{}",
            pieces_field(1)
        )),
        ("length", "is negative")
    );
    assert_eq!(
        invalid(format!(
            "5:filesld6:lengthi1e4:pathl2:..4:dataeee{name}{plen}{}",
            pieces_field(1)
        )),
        ("path", "has a component that escapes the torrent")
    );
    assert_eq!(
        invalid(format!("{files}{name}{plen}6:pieces3:abc")),
        ("pieces", "is not a whole number of SHA-1 hashes")
    );
    let m = i64::MAX;
    assert_eq!(
        invalid(format!(
            "5:filesld6:lengthi{m}e4:pathl1:aeed6:lengthi{m}e4:pathl1:beed6:lengthi{m}e4:pathl1:ceee\
             {name}{plen}{}",
            pieces_field(1)
        )),
        ("files", "lengths overflow")
    );
    assert_eq!(
        invalid("5:filesle".to_string() + name + plen + "6:pieces0:"),
        ("files", "is empty")
    );
    let top = |t: &str| match Metainfo::from_bytes(t.as_bytes()) {
        Err(Error::InvalidTorrent { field, reason }) => (field, reason),
        other => panic!("{t}: {other:?}"),
    };
    assert_eq!(top("le"), ("torrent", "is not a dictionary"));
    assert_eq!(
        top("d4:infoi1ee"),
        ("info", "is missing or not a dictionary")
    );
    assert_eq!(
        top(&format!("d13:announce-listl1:xe4:infod{ok}ee")),
        ("announce-list", "has a tier that is not a list")
    );

    // A huge claimed length is caught by the piece count, before any
    // allocation sized by it.
    let huge = format!(
        "5:filesld6:lengthi{}e4:pathl4:dataeee{name}{plen}{}",
        i64::MAX,
        pieces_field(1)
    );
    assert!(matches!(
        Metainfo::from_bytes(&torrent_with_info(&huge)),
        Err(Error::PieceCountMismatch {
            expected: 90_071_992_547_410,
            actual: 1,
            ..
        })
    ));
    // The extra hash librqbit appends on exact multiples is refused too.
    let extra = format!(
        "5:filesld6:lengthi204800e4:pathl4:dataeee{name}{plen}{}",
        pieces_field(3)
    );
    assert!(matches!(
        Metainfo::from_bytes(&torrent_with_info(&extra)),
        Err(Error::PieceCountMismatch {
            expected: 2,
            actual: 3,
            ..
        })
    ));
    assert!(matches!(
        Metainfo::from_bytes(b"d4:infod"),
        Err(Error::Bencode { .. })
    ));
}

#[test]
fn oversized_torrent_files_are_refused_unread() {
    let root = tempfile::tempdir().unwrap();
    let path = root.path().join("big.torrent");
    // Sparse: nothing is written, and nothing may be read.
    fs::File::create(&path)
        .unwrap()
        .set_len(MAX_TORRENT_FILE_SIZE + 1)
        .unwrap();
    assert!(matches!(
        Metainfo::read(&path),
        Err(Error::TorrentTooLarge { len, .. }) if len == MAX_TORRENT_FILE_SIZE + 1
    ));
}

#[test]
fn unknown_info_keys_survive_in_the_infohash() {
    let info = format!(
        "5:filesld6:lengthi10e4:pathl4:dataeee4:name4:abcd12:piece lengthi102400e{}7:privatei1e",
        pieces_field(1)
    );
    let bytes = torrent_with_info(&info);
    let metainfo = Metainfo::from_bytes(&bytes).unwrap();
    assert_eq!(metainfo.info_bytes(), format!("d{info}e").as_bytes());
    assert_eq!(metainfo.to_bytes(), bytes);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Archives of random whole-piece sizes appended one after another, the
    /// index rewritten each time: every incremental rebuild equals a full one.
    #[test]
    fn incremental_equals_full_over_random_appends(
        archives in proptest::collection::vec(1usize..4, 1..6),
        index_lens in proptest::collection::vec(1usize..(2 * P + 2), 6),
        seed in any::<u8>(),
    ) {
        let root = tempfile::tempdir().unwrap();
        let mut data = Vec::new();
        let mut previous: Option<Metainfo> = None;
        for (n, (pieces, index_len)) in archives.iter().zip(&index_lens).enumerate() {
            let start = data.len();
            data.extend((0..pieces * P).map(|i| (i + start) as u8 ^ seed ^ n as u8));
            let index = index_bytes(*index_len);
            let dir = community_dir(root.path(), &data, &index);
            let (incremental, stats) = build(&dir, previous.as_ref());
            let (full, _) = build(&dir, None);
            prop_assert_eq!(incremental.to_bytes(), full.to_bytes());
            prop_assert_eq!(stats.reused_pieces, start / P);
            prop_assert_eq!(&incremental.info().pieces, &expected_pieces(&data, &index));
            previous = Some(incremental);
        }
    }

    #[test]
    fn parsing_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = Metainfo::from_bytes(&bytes);
    }

    #[test]
    fn parsing_corrupted_torrents_never_panics(
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in any::<prop::sample::Index>(),
    ) {
        let info = format!(
            "5:filesld6:lengthi10e4:pathl4:dataeed6:lengthi0e4:pathl5:indexeee\
             4:name4:abcd12:piece lengthi102400e{}",
            pieces_field(1)
        );
        let mut bytes = format!("d13:announce-listll1:aee10:created by1:x13:creation datei5e4:infod{info}ee").into_bytes();
        for (at, byte) in flips {
            let i = at.index(bytes.len());
            bytes[i] = byte;
        }
        let _ = Metainfo::from_bytes(&bytes);
        let _ = Metainfo::from_bytes(&bytes[..cut.index(bytes.len())]);
    }
}
