//! The properties behind the fuzz targets in `fuzz_targets/`, one function per
//! target, so they can also be replayed over the committed corpus with plain
//! `cargo test` (see `tests/corpus.rs`) on a machine without libFuzzer.
//!
//! Each function takes the fuzzer's bytes and panics only when a property
//! fails: decoders must answer hostile bytes with an error, and whatever they
//! accept must survive a round trip through the encoder unchanged.

pub mod announcement;
pub mod archive;
pub mod codex;
pub mod crypto;
pub mod heap;
pub mod torrent;

/// Every target, as named in `Cargo.toml` and under `corpus/`.
pub const TARGETS: [&str; 11] = [
    "archive_decode",
    "torrent_index_decode",
    "codex_index_decode",
    "extract_archive",
    "bencode_decode",
    "torrent_parse",
    "magnet_parse",
    "announcement_open",
    "codex_manifest",
    "codex_cid",
    "hr_decrypt",
];

/// Runs target `name`'s property on `data`; `false` for an unknown name.
pub fn run(name: &str, data: &[u8]) -> bool {
    let check: fn(&[u8]) = match name {
        "archive_decode" => archive::archive_decode,
        "torrent_index_decode" => archive::torrent_index_decode,
        "codex_index_decode" => archive::codex_index_decode,
        "extract_archive" => archive::extract_archive,
        "bencode_decode" => torrent::bencode_decode,
        "torrent_parse" => torrent::torrent_parse,
        "magnet_parse" => torrent::magnet_parse,
        "announcement_open" => announcement::announcement_open,
        "codex_manifest" => codex::codex_manifest,
        "codex_cid" => codex::codex_cid,
        "hr_decrypt" => crypto::hr_decrypt,
        _ => return false,
    };
    check(data);
    true
}
