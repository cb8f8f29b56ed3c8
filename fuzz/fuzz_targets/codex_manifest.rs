//! Fuzz target `codex_manifest`: the property is [`archivist_fuzz::codex::codex_manifest`].

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| archivist_fuzz::codex::codex_manifest(data));
