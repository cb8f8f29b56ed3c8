//! Integration tests of archive-dispatch through its public API: wire format,
//! forgeries and replays, fuzzed decoding, and two nodes over the in-memory hub.

mod exchange;
mod key_file;
mod wire;
