//! Wire types of the history-archive protocol, generated from `proto/*.proto`.
//!
//! The types are prost messages with status-go's field numbers, so bytes written
//! here are read by status-go and the other way round. The code under
//! `src/generated/` is written by `cargo xtask codegen`; a test in `xtask` fails
//! when it no longer matches the `.proto` files. Maps are `BTreeMap`s so that an
//! index encodes to the same bytes every time.

/// status-go's `package protobuf`: archives, indexes, announcements.
#[allow(clippy::all, missing_docs, unreachable_pub)]
pub mod protobuf {
    include!("generated/protobuf.rs");
}

/// status-go's `package encryption`: the `ProtocolMessage` envelope around
/// public (announcements) and hash-ratchet encrypted (archives) messages.
#[allow(clippy::all, missing_docs, unreachable_pub)]
pub mod encryption {
    include!("generated/encryption.rs");
}

/// The 14/WAKU2-MESSAGE envelope relayed over `/vac/waku/relay/2.0.0`.
pub mod waku {
    /// `package waku.relay`.
    #[allow(clippy::all, missing_docs, unreachable_pub)]
    pub mod relay {
        include!("generated/waku.relay.rs");
    }
}

pub use prost::Message;
