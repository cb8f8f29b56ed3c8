//! Integration tests of archive-store, one binary with a module per concern.

mod crash;
mod import;
mod keys;
mod lock;
mod migrate;
mod model;
mod open;
mod sample;
mod state;
mod store;
