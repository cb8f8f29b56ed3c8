//! A local node that serves the Codex / Logos Storage REST API faithfully,
//! for tests, demos and development.
//!
//! - Same routes under `/api/storage/v1` and `/api/codex/v1`, same status
//!   codes, error bodies and quirks as the node (spec 2), so a client tested
//!   here behaves the same against a real node.
//! - Byte-identical CIDs for manifest format A (spec 4): [`format`](mod@format)
//!   is pure and knows nothing of HTTP; clients use it to verify downloads.
//! - Blocks live on disk under the data dir, padded and content-addressed,
//!   written durably and reference-counted as a node's repo store does: a
//!   `DELETE` removes only the blocks no other dataset uses, a stored block
//!   is compared with the bytes that name it before it is reused, and the
//!   quota is enforced (an upload past it is the node's 500 `Unable to store
//!   block <cid>`). "The network" is the local store plus peer devnodes,
//!   whose data is verified before it is stored.
//! - Its HTTP/1 server bounds what a client can hold: header-read and idle
//!   timeouts, a cap on open connections, and, when full, connections that
//!   have sent nothing for a second are closed to make room.
//! - Faults (latency, 503s, lying downloads) can be injected for client tests.
//!
//! Where it knowingly differs from a real node:
//! - its MIME table is a subset of Nim's (so it is stricter, never laxer);
//! - `GET /data/{cid}` never fetches missing blocks from peers, and peers are
//!   asked only through that and `GET /data`, so peered devnodes cannot loop;
//! - `/network/stream` streams while it fetches, as a node does, but from one
//!   peer's whole-dataset download: the REST API has no per-block proofs, so
//!   the tree root is checked only when the last block is in, and that block
//!   is held back until then. A wrong dataset ends the response early (fewer
//!   bytes than `Content-Length`, like any failed fetch on a node) where a
//!   node would reject the bad blocks and ask other peers;
//! - blocks have no time-to-live, and `quotaReservedBytes` is always 0 (no
//!   marketplace); peer IDs and SPRs are stand-ins.
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
mod middleware;
mod network;
mod node;
mod serve;
mod server;
mod state;
mod store;

pub use error::DevnodeError;
pub use format::api::{CODEX_PREFIX, STORAGE_PREFIX};
pub use node::{Devnode, DevnodeConfig, DevnodeHandle, Faults};
