//! `archivist seed`: serve a community's archives over BitTorrent from the
//! files `archivist create` wrote.

use std::{net::SocketAddr, path::PathBuf};

use anyhow::Context;
use archive_index::CommunityId;
use backend_torrent::{Config, TorrentBackend};
use serde_json::json;

/// Arguments of `archivist seed`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Example:\n  archivist seed --data-dir ./archivedata --torrent-dir ./torrents \\\n      \
    --community 0x02… --listen 127.0.0.1:9025"
)]
pub(crate) struct SeedArgs {
    /// Where DIR/<community>/{data,index} are.
    #[arg(long, value_name = "DIR")]
    data_dir: PathBuf,
    /// Where DIR/<community>.torrent is.
    #[arg(long, value_name = "DIR")]
    torrent_dir: PathBuf,
    /// The community ID.
    #[arg(long)]
    community: CommunityId,
    /// Address to accept peers on.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
}

pub(crate) async fn seed(args: SeedArgs) -> anyhow::Result<()> {
    let mut config = Config::new(&args.data_dir);
    config.data_dir = args.data_dir;
    config.torrent_dir = args.torrent_dir;
    config.listen = args.listen;
    let node = TorrentBackend::start(config).await?;
    let link = node.seed_existing(&args.community).await?;
    let listen = node.listen_addr().context("the node listens")?;
    println!(
        "{}",
        json!({ "magnet": link.to_string(), "listen": listen.to_string() })
    );
    tokio::signal::ctrl_c().await?;
    node.stop().await;
    Ok(())
}
