//! The pure Codex formats: CIDs, chunking and the tree root, the format-A
//! manifest and its JSON, and the node's upload-header rules. No I/O, no
//! HTTP, nothing of archives.
//!
//! This directory is the one source of this code for two crates: the devnode
//! compiles it as `codex_devnode::format`, and `backend-codex` (which the
//! layering rules forbid to depend on the devnode) compiles the same files
//! through a `#[path]` module to verify downloads. So every path inside stays
//! relative (`super::`), and nothing here may refer to the rest of a crate.

pub mod cid;
pub mod manifest;
pub mod tree;
pub mod upload_headers;

/// A manifest block or manifest JSON that is not a plain format-A manifest.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("bad manifest: {0}")]
pub struct BadManifest(pub String);
