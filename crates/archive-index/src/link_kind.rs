//! The two ways a community's archives are announced, shared by the store, the
//! announcements and the backends so that all three mean the same thing.

use std::fmt;

/// Which kind of link an owner announces, and so which index format is behind
/// it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LinkKind {
    /// A BitTorrent magnet link to `data` + `index` (status-go's design).
    Magnet,
    /// The CID of a Codex index (the Codex team's design).
    IndexCid,
}

impl fmt::Display for LinkKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LinkKind::Magnet => "magnet link",
            LinkKind::IndexCid => "index CID",
        })
    }
}
