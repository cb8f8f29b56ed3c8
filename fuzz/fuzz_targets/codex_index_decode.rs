//! Fuzz target `codex_index_decode`: the property is [`archivist_fuzz::archive::codex_index_decode`].

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| archivist_fuzz::archive::codex_index_decode(data));
