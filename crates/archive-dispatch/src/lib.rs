//! Archive announcements: how a community's owner tells members where its
//! history archives are, and how members decide whether to believe it.
//!
//! - [`CommunityKey`]: the community's secp256k1 key, its [`CommunityId`], and
//!   the key file `archivist keygen` writes.
//! - [`NodeIdentity`]: this node's frame-signing key and installation ID,
//!   persisted beside the data dir.
//! - [`wire`]: an announcement exactly as status-go sends it on Waku —
//!   `ApplicationMetadataMessage` type 43 in `ProtocolMessage`, in a signed
//!   26/WAKU2-PAYLOAD frame, AES-256-GCM under the chat's PBKDF2 key —
//!   with [`wire::encode_announcement`] and [`wire::decode_announcement`].
//! - [`sign_announcement`] / [`open_announcement`]: the innermost layer alone,
//!   the signed `ApplicationMetadataMessage`; opening recovers the signer,
//!   which is the community, and reads the link's kind from the signed link.
//! - [`check`]: the acceptance rules of spec c.9 as a pure function over a
//!   [`CommunityView`] the caller supplies; every refusal is a [`Rejection`].
//! - [`Debouncer`]: only the newest announcement per community and kind, and
//!   only after a quiet period.
//! - [`Channel`]: status-go's chat IDs and the Waku content topics they map to.
//! - [`request`]: Archivist's own link request, with which a member that
//!   joins late asks the owner to repeat its current announcement.
//! - [`Transport`]: the publish/subscribe seam, with [`MemoryHub`] for tests
//!   and single-process use; [`Dispatcher`] ties the rest together.
//!
//! Nothing here knows a storage backend, a store, or a concrete network.
//!
//! ```
//! use archive_dispatch::{CommunityKey, CommunityView, LinkKind, MAX_WIRE_SIZE, check};
//!
//! let key = CommunityKey::generate();
//! let wire = archive_dispatch::sign_announcement(&key, LinkKind::TORRENT, 1_000, "magnet:?xt=…")?;
//! assert_eq!(archive_dispatch::link_kind("magnet:?xt=…")?, LinkKind::TORRENT);
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
mod frame;
mod identity;
mod key;
pub mod request;
mod rules;
mod transport;
pub mod wire;

pub use announcement::{
    ARCHIVE_LINK_TYPE, Announcement, LinkKind, MAX_LINK_LEN, MAX_WIRE_SIZE, link_kind,
    message_type, open_announcement, sign_announcement,
};
pub use archive_index::CommunityId;
pub use channel::{CHAT_KEY_ITERATIONS, Channel, DEFAULT_PUBSUB_TOPIC, content_topic, v1_topic};
pub use debounce::{DEFAULT_QUIET_PERIOD, Debouncer};
pub use dispatcher::{CommunityLookup, Config, Dispatcher, Event, LinkRequestListener, Listener};
pub use error::{Error, Result};
pub use identity::{NODE_IDENTITY_FILE, NodeIdentity};
pub use key::CommunityKey;
pub use request::{LinkRequest, decode_link_request, encode_link_request};
pub use rules::{CommunityView, Rejection, check};
pub use transport::{MemoryHub, MemoryTransport, Received, Subscription, Transport};
pub use wire::{
    NodePublicKey, VerifiedAnnouncement, WakuOutbound, decode_announcement, encode_announcement,
};
