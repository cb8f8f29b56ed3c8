//! The pure Codex formats: the API prefixes, CIDs, chunking and the tree root, the format-A
//! manifest and its JSON, and the node's upload-header rules. No I/O, no
//! HTTP, nothing of archives.
//!
//! Both sides of the Codex REST API use it: `codex-devnode` to compute what a
//! real node computes, and `backend-codex` to verify what a node hands it.

pub mod api;
pub mod cid;
pub mod manifest;
pub mod tree;
pub mod upload_headers;

/// A manifest block or manifest JSON that is not a plain format-A manifest.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("bad manifest: {0}")]
pub struct BadManifest(pub String);
