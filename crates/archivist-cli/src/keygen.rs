//! `archivist keygen`: create a community key.

use std::path::PathBuf;

use archive_dispatch::CommunityKey;
use serde_json::json;

/// Arguments of `archivist keygen`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "The key file holds one line: 0x and the 64 hex digits of the secp256k1\n\
    secret key, created with mode 0600. An existing file is never overwritten.\n\n\
    Example:\n  archivist keygen --out owner.key"
)]
pub(crate) struct KeygenArgs {
    /// Where to write the key.
    #[arg(long, value_name = "FILE", default_value = "community.key")]
    out: PathBuf,
}

pub(crate) fn run(args: KeygenArgs) -> anyhow::Result<serde_json::Value> {
    let key = CommunityKey::generate();
    key.write_file(&args.out)?;
    Ok(json!({
        "community": key.community_id().to_string(),
        "key_file": args.out.display().to_string(),
    }))
}
