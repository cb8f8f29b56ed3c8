//! Fuzz target `torrent_index_decode`: the property is [`archivist_fuzz::archive::torrent_index_decode`].

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| archivist_fuzz::archive::torrent_index_decode(data));
