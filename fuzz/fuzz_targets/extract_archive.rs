//! Fuzz target `extract_archive`: the property is [`archivist_fuzz::archive::extract_archive`].

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| archivist_fuzz::archive::extract_archive(data));
