//! The REST API's path prefixes, one per generation of the node (spec 1):
//! what a client puts before every route and a node serves them under.

/// The prefix of Logos Storage (2026) nodes.
pub const STORAGE_PREFIX: &str = "/api/storage/v1";
/// The prefix of Codex (≤ 2025) nodes.
pub const CODEX_PREFIX: &str = "/api/codex/v1";
