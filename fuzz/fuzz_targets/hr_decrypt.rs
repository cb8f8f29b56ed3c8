//! Fuzz target `hr_decrypt`: the property is [`archivist_fuzz::crypto::hr_decrypt`].

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| archivist_fuzz::crypto::hr_decrypt(data));
