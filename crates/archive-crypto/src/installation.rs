//! The installation ID an encrypted blob carries, chosen so that no reader
//! can mistake the blob for a plain archive (spec B.7.1's pitfall).
//!
//! `ProtocolMessage.installation_id` is field 2, length-delimited; so is
//! `WakuMessageArchive.metadata`. status-go reads an archive as plain first
//! and decrypts only when that fails, so a blob whose installation ID bytes
//! parse as a protobuf message — the empty ID always does, proto3 does not
//! even write it — reads as an empty plain archive and is silently lost.
//! Archivist therefore never writes such an ID.

use std::fmt;

use crate::{
    error::{Error, Result},
    wire::parses_as_message,
};

/// Longest installation ID accepted; status-go's are 36-character UUIDs.
pub const MAX_INSTALLATION_ID_LEN: usize = 64;

/// A non-empty installation ID whose bytes do not parse as a protobuf message.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct InstallationId(String);

impl InstallationId {
    /// Checks `id`: 1 to 64 bytes that are not a protobuf message.
    pub fn new(id: &str) -> Result<InstallationId> {
        let refuse = |reason| {
            Err(Error::InvalidInstallationId {
                id: id.chars().take(80).collect(),
                reason,
            })
        };
        if id.is_empty() {
            return refuse(
                "it is empty, and status-go would read the encrypted archive as an empty plain one",
            );
        }
        if id.len() > MAX_INSTALLATION_ID_LEN {
            return refuse("it is longer than 64 bytes");
        }
        if parses_as_message(id.as_bytes()) {
            return refuse(
                "its bytes parse as a protobuf message, so status-go could read the \
                 encrypted archive as a plain one",
            );
        }
        Ok(InstallationId(id.to_owned()))
    }

    /// A random UUIDv4 string, drawn again until it passes [`Self::new`]
    /// (a UUID rarely fails it: about 0.07 % parse, spec B.7.1).
    pub fn random() -> Result<InstallationId> {
        for _ in 0..64 {
            let mut bytes = [0u8; 16];
            getrandom::fill(&mut bytes).map_err(|e| Error::Entropy(e.to_string()))?;
            bytes[6] = (bytes[6] & 0x0f) | 0x40;
            bytes[8] = (bytes[8] & 0x3f) | 0x80;
            let hex = hex::encode(bytes);
            let uuid = format!(
                "{}-{}-{}-{}-{}",
                &hex[..8],
                &hex[8..12],
                &hex[12..16],
                &hex[16..20],
                &hex[20..]
            );
            if let Ok(id) = InstallationId::new(&uuid) {
                return Ok(id);
            }
        }
        Err(Error::Entropy(
            "64 random UUIDs in a row parsed as protobuf messages".into(),
        ))
    }

    /// The ID as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for InstallationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for InstallationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_readers_could_misparse_are_refused() {
        assert!(InstallationId::new("").is_err());
        // Field 1, varint 1: a valid message.
        assert!(InstallationId::new("\u{8}\u{1}").is_err());
        assert!(InstallationId::new(&"x".repeat(65)).is_err());
        // The spec's example: 'r' = field 14, wire type 2, then a length past the end.
        assert_eq!(
            InstallationId::new("rust-installation-1").unwrap().as_str(),
            "rust-installation-1"
        );
    }

    #[test]
    fn random_ids_are_uuids_that_pass() {
        let id = InstallationId::random().unwrap();
        assert_eq!(id.as_str().len(), 36);
        assert_eq!(&id.as_str()[14..15], "4");
        assert!(!parses_as_message(id.as_str().as_bytes()));
    }
}
