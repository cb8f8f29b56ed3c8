//! Integration tests of archive-dispatch through its public API: the spec's
//! wire vectors, every layer of the wire format, forgeries and replays, fuzzed
//! decoding, key and identity files, and two nodes over the in-memory hub.

mod exchange;
mod key_file;
mod layers;
mod node_identity;
mod request;
mod vectors;
mod wire;
