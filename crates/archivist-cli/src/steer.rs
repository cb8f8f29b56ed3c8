//! `archivist join | leave | archive-now | archiving`: steer a running
//! `archivist run` through its HTTP API, found in `<data_dir>/api.json`,
//! with the token in `<data_dir>/api-token`.

use std::path::PathBuf;

use anyhow::Context;
use archivist::index::CommunityId;
use archivist_api::Client;
use serde_json::{Value, json};

use crate::config_check;

/// The node to steer.
#[derive(Debug, clap::Args)]
pub(crate) struct Target {
    /// The running node's TOML configuration (its `data_dir` says where
    /// the API is); embedded defaults when absent.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

/// Arguments of `archivist join`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Joins until the node stops: add a [[joined]] entry to the \
    configuration to keep it.\n\nExamples:\n  \
    archivist join --config examples/member.toml 0x02…\n  \
    archivist join --config examples/member.toml 0x02… --prefer codex --download latest"
)]
pub(crate) struct JoinArgs {
    #[command(flatten)]
    target: Target,
    /// The community ID.
    community: CommunityId,
    /// The network tried first when the owner announces several.
    #[arg(long)]
    prefer: Option<String>,
    /// `all` (default), `latest`, or a duration such as `30d`.
    #[arg(long)]
    download: Option<String>,
}

/// Arguments of `archivist leave` and `archivist archive-now`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  archivist leave --config examples/member.toml 0x02…\n  \
    archivist archive-now --config examples/owner.toml 0x02…"
)]
pub(crate) struct CommunityArgs {
    #[command(flatten)]
    target: Target,
    /// The community ID.
    community: CommunityId,
}

/// Arguments of `archivist archiving`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  archivist archiving --config examples/owner.toml 0x02… off\n  \
    archivist archiving --config examples/owner.toml 0x02… on"
)]
pub(crate) struct ArchivingArgs {
    #[command(flatten)]
    target: Target,
    /// The community ID.
    community: CommunityId,
    /// `on` or `off`.
    #[arg(value_parser = ["on", "off"])]
    state: String,
}

/// The running node's API, or why there is none.
fn client(target: &Target) -> anyhow::Result<Client> {
    let config = config_check::load(target.config.as_deref())?;
    Client::discover(&config.data_dir).with_context(|| {
        format!(
            "no running node's API: {} does not exist (start `archivist run` with this \
             configuration; [api] enabled is the default)",
            config.data_dir.join(archivist_api::ADDRESS_FILE).display()
        )
    })
}

async fn post(target: &Target, path: &str, body: Value) -> anyhow::Result<Value> {
    let client = client(target)?;
    Ok(client.post(path, &body).await?)
}

pub(crate) async fn join(args: JoinArgs) -> anyhow::Result<Value> {
    let mut body = json!({});
    if let Some(prefer) = args.prefer {
        body["prefer"] = json!(prefer);
    }
    if let Some(download) = args.download {
        body["download"] = json!(download);
    }
    post(
        &args.target,
        &format!("/api/v1/communities/{}/join", args.community),
        body,
    )
    .await
}

pub(crate) async fn leave(args: CommunityArgs) -> anyhow::Result<Value> {
    post(
        &args.target,
        &format!("/api/v1/communities/{}/leave", args.community),
        json!({}),
    )
    .await
}

pub(crate) async fn archive_now(args: CommunityArgs) -> anyhow::Result<Value> {
    post(
        &args.target,
        &format!("/api/v1/communities/{}/archive-now", args.community),
        json!({}),
    )
    .await
}

pub(crate) async fn archiving(args: ArchivingArgs) -> anyhow::Result<Value> {
    post(
        &args.target,
        &format!("/api/v1/communities/{}/archiving", args.community),
        json!({ "enabled": args.state == "on" }),
    )
    .await
}
