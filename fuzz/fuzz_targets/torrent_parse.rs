//! Fuzz target `torrent_parse`: the property is [`archivist_fuzz::torrent::torrent_parse`].

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| archivist_fuzz::torrent::torrent_parse(data));
