//! A Waku relay peer on rust-libp2p, carrying archive announcements.
//!
//! - [`new_message`], [`decode_message`], [`message_hash`]: the
//!   14/WAKU2-MESSAGE envelope, bounded before decoding, and its deterministic
//!   hash.
//! - [`WakuNode`]: gossipsub as 11/WAKU2-RELAY (`/vac/waku/relay/2.0.0`,
//!   StrictNoSign, message id `sha256(data)`) over TCP and websocket with
//!   noise and yamux or mplex, plus identify and ping. It implements
//!   [`archive_dispatch::Transport`], so announcements travel over it; js-waku
//!   peers interoperate with this configuration.
//! - What peers cannot do to it: a relayed message is forwarded and delivered
//!   only once checked (decodable, within the size cap, with a content topic,
//!   within its sender's [`RateLimit`]); a refused one costs the sender
//!   gossipsub score. Incoming connections are capped, and listening sockets
//!   never share their port (no `SO_REUSEPORT`), so a taken port fails start
//!   with [`Error::Listen`].
//! - [`Ingestion`]: received messages into [`archive_store::Store`], mapped as
//!   status-go stores them, first come first kept.
//!
//! Nothing here knows a storage backend or the scheduler.

mod config;
mod error;
mod ingest;
mod message;
mod node;
mod swarm;
mod task;
mod tcp;
mod validation;

pub use archive_dispatch::v1_topic;
pub use archive_proto::waku::relay::WakuRelayMessage;
pub use config::WakuConfig;
pub use error::{Error, Result};
pub use ingest::{Ingestion, stored_message};
pub use libp2p::{Multiaddr, PeerId};
pub use message::{DEFAULT_MAX_MESSAGE_SIZE, decode_message, message_hash, new_message};
pub use node::{RelayMessage, WakuNode};
pub use swarm::RELAY_PROTOCOL;
pub use validation::{RateLimit, RelayStats};
