//! `archivist codex-devnode`, the Codex half of `create`, and the Codex
//! backend `fetch` uses.

use std::{net::SocketAddr, path::PathBuf};

use anyhow::Context;
use archive_backend::{
    Backend, Link, MessageSource, PublishOptions, PublishOutcome, PublishRequest,
};
use archive_index::{ArchiveRun, CommunityId};
use backend_codex::{ClientConfig, CodexBackend, CodexClient};
use codex_devnode::Devnode;
use serde_json::json;

/// Arguments of `archivist codex-devnode`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Serves the Codex / Logos Storage REST API (both /api/storage/v1 and\n\
    /api/codex/v1) with byte-identical CIDs, for tests, demos and development.\n\n\
    Example:\n  archivist codex-devnode --listen 127.0.0.1:8080 --data-dir ./codex-a\n  \
    archivist codex-devnode --listen 127.0.0.1:8081 --data-dir ./codex-b --peer http://127.0.0.1:8080"
)]
pub(crate) struct DevnodeArgs {
    /// Address to serve on.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Where blocks are stored.
    #[arg(long, value_name = "DIR")]
    data_dir: PathBuf,
    /// API prefix to serve (repeatable); both generations when absent.
    #[arg(long = "prefix")]
    prefixes: Vec<String>,
    /// A peer devnode to fetch missing data from (repeatable).
    #[arg(long = "peer", value_name = "URL")]
    peers: Vec<String>,
}

pub(crate) async fn devnode(args: DevnodeArgs) -> anyhow::Result<()> {
    let mut config = codex_devnode::Config::new(args.data_dir);
    config.listen = args.listen;
    if !args.prefixes.is_empty() {
        config.prefixes = args.prefixes;
    }
    config.peers = args.peers;
    let node = Devnode::spawn(config)
        .await
        .with_context(|| format!("starting a devnode on --listen {}", args.listen))?;
    println!(
        "{}",
        json!({ "url": node.url(), "api_url": node.api_url() })
    );
    tokio::signal::ctrl_c().await?;
    node.shutdown().await?;
    Ok(())
}

/// The Codex backend on the node at `url`.
pub(crate) fn backend(url: &str) -> anyhow::Result<CodexBackend> {
    let client =
        CodexClient::new(ClientConfig::new(url)).with_context(|| format!("Codex node at {url}"))?;
    Ok(CodexBackend::new(client))
}

/// Publishes the archives of `run` to the Codex node at `url`, extending the
/// index behind `previous`.
pub(crate) async fn publish(
    url: &str,
    community: CommunityId,
    run: &ArchiveRun,
    previous: Option<Link>,
    messages: &dyn MessageSource,
    envelope: Option<archive_backend::SharedEnvelope>,
) -> anyhow::Result<PublishOutcome> {
    let request = PublishRequest {
        community,
        topics: run.topics.clone(),
        range: run.range,
        interval: run.interval,
        previous,
        messages,
    };
    Ok(backend(url)?
        .publish(request, &PublishOptions::with_envelope(envelope))
        .await?)
}
