//! Archive announcements: how a community's owner tells members where its
//! history archives are, and how members decide whether to believe it.
//!
//! - [`CommunityKey`]: the community's secp256k1 key, its [`CommunityId`], and
//!   the key file `archivist keygen` writes.
//! - [`sign_announcement`] / [`open_announcement`]: status-go's signed
//!   `ApplicationMetadataMessage` carrying a magnet link (type 43) or a Codex
//!   index CID (type 76); opening recovers the signer, which is the community.
//! - [`check`]: the acceptance rules of spec c.9 as a pure function over a
//!   [`CommunityView`] the caller supplies; every refusal is a [`Rejection`].
//! - [`Debouncer`]: only the newest announcement per community and kind, and
//!   only after a quiet period.
//! - [`Channel`]: status-go's chat IDs and the Waku content topics they map to.
//! - [`Transport`]: the publish/subscribe seam, with [`MemoryHub`] for tests
//!   and single-process use; [`Dispatcher`] ties the rest together.
//!
//! Nothing here knows a storage backend, a store, or a concrete network.
//!
//! ```
//! use archive_dispatch::{CommunityKey, CommunityView, LinkKind, MAX_WIRE_SIZE, check};
//!
//! let key = CommunityKey::generate();
//! let wire = archive_dispatch::sign_announcement(&key, LinkKind::Magnet, 1_000, "magnet:?xt=…")?;
//!
//! let received = archive_dispatch::open_announcement(&wire, MAX_WIRE_SIZE)?;
//! assert_eq!(received.community, key.community_id());
//! let member = CommunityView { joined: true, ..CommunityView::default() };
//! assert!(check(&received, Some(&member)).is_ok());
//! # Ok::<(), archive_dispatch::Error>(())
//! ```

mod announcement;
mod channel;
mod debounce;
mod dispatcher;
mod error;
mod key;
mod rules;
mod transport;

pub use announcement::{
    Announcement, LinkKind, MAX_WIRE_SIZE, message_type, open_announcement, sign_announcement,
};
pub use archive_index::CommunityId;
pub use channel::{Channel, DEFAULT_PUBSUB_TOPIC, content_topic};
pub use debounce::{DEFAULT_QUIET_PERIOD, Debouncer};
pub use dispatcher::{CommunityLookup, DispatchConfig, Dispatcher, Event, Listener};
pub use error::{Error, Result};
pub use key::CommunityKey;
pub use rules::{CommunityView, Rejection, check};
pub use transport::{MemoryHub, MemoryTransport, Received, Subscription, Transport};
