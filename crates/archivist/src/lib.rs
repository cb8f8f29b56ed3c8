//! Archivist keeps a chat community's full message history alive on
//! decentralized storage.
//!
//! A community's owner archives its messages every week into status-go's
//! protobuf history archives, publishes them over BitTorrent and/or a Codex
//! node, and announces the magnet link or index CID in a message signed with
//! the community key. Members verify the announcement, fetch only the
//! archives they miss, import them and keep serving them.
//!
//! [`Node`] does all of that from a [`Config`]:
//!
//! ```no_run
//! # async fn run() -> Result<(), archivist::Error> {
//! use archivist::{Config, Node};
//!
//! let config = Config::load(Some("archivist.toml".as_ref()))?;
//! let node = Node::start(config).await?;
//! let mut events = node.events();
//! while let Some(event) = archivist::next_event(&mut events).await {
//!     println!("{}", event.to_json());
//! }
//! node.stop().await;
//! # Ok(()) }
//! ```
//!
//! The layers underneath are re-exported as modules, so a program can use
//! only what it needs; the networks are behind features (`torrent`, `codex`,
//! `devnode`, `waku`):
//!
//! - [`index`]: the archive format (pure, no I/O);
//! - [`store`]: the SQLite message store and archive state;
//! - [`backend`]: the storage backend trait and its conformance kit;
//! - [`dispatch`]: signed announcements and the transport trait;
//! - [`scheduler`]: the owner's periodic archive tasks;
//! - [`fetch`]: one pass from a link into the store, as members and
//!   `archivist fetch --db` run it;
//! - `torrent`, `codex`, `devnode`, `waku`: the concrete networks.

mod config;
mod digest;
mod encryption;
mod error;
mod event;
pub mod fetch;
mod member;
mod networks;
mod node;
mod owner;
mod repeats;
mod status;
pub mod synthetic;

pub use config::{
    ApiConfig, CodexConfig, Config, ConfigError, ENV_PREFIX, ImportConfig, JoinedCommunity,
    OwnedCommunity, TorrentConfig, WakuConfig,
};
pub use digest::{HistoryDigest, history_digest};
pub use encryption::{KEYS_INBOX, keys_inbox, restore_counters, stored_counters};
pub use error::{Error, Result};
pub use event::{NodeEvent, next_event, try_next_event};
pub use member::JoinOptions;
pub use node::{Node, NodeBuilder};
pub use owner::OwnOptions;
pub use status::{CommunityStatus, NetworkStatus};

pub use archive_backend as backend;
pub use archive_crypto as crypto;
pub use archive_dispatch as dispatch;
pub use archive_index as index;
pub use archive_scheduler as scheduler;
pub use archive_store as store;
#[cfg(feature = "codex")]
pub use backend_codex as codex;
#[cfg(feature = "torrent")]
pub use backend_torrent as torrent;
#[cfg(feature = "devnode")]
pub use codex_devnode as devnode;
#[cfg(feature = "waku")]
pub use transport_waku as waku;

/// The README's Rust examples, compiled as doctests so they cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
struct ReadmeDoctests;
