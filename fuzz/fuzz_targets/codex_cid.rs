//! Fuzz target `codex_cid`: the property is [`archivist_fuzz::codex::codex_cid`].

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| archivist_fuzz::codex::codex_cid(data));
