//! End-to-end tests through the `archivist` facade: an owner node and member
//! nodes in one process on 127.0.0.1, with real BitTorrent (librqbit), Codex
//! devnodes, and announcements over an in-memory hub or a real Waku relay;
//! restarts, hostile owners, late joiners, taken ports and download
//! policies.

mod encrypted;
mod fixture;
mod flows;
mod jswaku;
mod late;
mod ports;
mod restart;
mod selective;
mod trust;
mod wire;
