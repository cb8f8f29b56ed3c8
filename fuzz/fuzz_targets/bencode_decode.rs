//! Fuzz target `bencode_decode`: the property is [`archivist_fuzz::torrent::bencode_decode`].

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| archivist_fuzz::torrent::bencode_decode(data));
