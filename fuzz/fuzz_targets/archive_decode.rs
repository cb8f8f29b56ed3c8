//! Fuzz target `archive_decode`: the property is [`archivist_fuzz::archive::archive_decode`].

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| archivist_fuzz::archive::archive_decode(data));
