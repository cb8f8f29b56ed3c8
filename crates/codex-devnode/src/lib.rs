//! A local node that serves the Codex / Logos Storage REST API faithfully,
//! for tests, demos and development.
//!
//! - Same routes under `/api/storage/v1` and `/api/codex/v1`, same status
//!   codes, error bodies and quirks as the node (spec 2), so a client tested
//!   here behaves the same against a real node.
//! - Byte-identical CIDs for manifest format A (spec 4): [`format`] is pure and know nothing of HTTP; clients use them to verify
//!   downloads.
//! - Blocks live on disk under the data dir, padded and content-addressed.
//!   "The network" is the local store plus peer devnodes, whose data is
//!   verified before it is stored.
//! - Faults (latency, 503s, lying downloads) can be injected for client tests.
//!
//! Where it knowingly differs from a real node:
//! - its MIME table is a subset of Nim's (so it is stricter, never laxer);
//! - `GET /data/{cid}` never fetches missing blocks from peers, and peers are
//!   asked only through that and `GET /data`, so peered devnodes cannot loop;
//! - `/network/stream` first fetches and verifies the whole dataset (held in
//!   memory), then streams it, where a node streams while fetching;
//! - the quota is reported, not enforced; peer IDs and SPRs are stand-ins.
//!
//! ```no_run
//! # async fn demo() -> Result<(), codex_devnode::DevnodeError> {
//! use codex_devnode::{Devnode, DevnodeConfig};
//! let node = Devnode::spawn(DevnodeConfig::new("/tmp/devnode")).await?;
//! println!("{}", node.api_url()); // http://127.0.0.1:PORT/api/storage/v1
//! node.shutdown().await
//! # }
//! ```

mod error;
pub use codex_format as format;
mod network;
mod node;
mod server;
mod store;

pub use error::DevnodeError;
pub use node::{CODEX_PREFIX, Devnode, DevnodeConfig, DevnodeHandle, Faults, STORAGE_PREFIX};
