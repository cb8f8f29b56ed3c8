//! Fuzz target `announcement_open`: the property is [`archivist_fuzz::announcement::announcement_open`].

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| archivist_fuzz::announcement::announcement_open(data));
