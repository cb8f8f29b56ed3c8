//! The `archivist` command-line tool: create, inspect, seed and fetch community
//! history archives.

#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a CLI talks on stdout and stderr"
)]

mod announcement;
mod codex;
mod create;
mod demo;
mod demo_table;
mod fetch;
mod inspect;
mod inspect_torrent;
mod jsonl;
mod keygen;
mod messages;
mod node;
mod torrent;
mod verify;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Keeps a chat community's message history alive as status-go history archives.
#[derive(Debug, Parser)]
#[command(
    name = "archivist",
    version,
    about,
    after_help = "Start with `archivist demo`: an owner and a member on this machine, over \
    BitTorrent, Codex and Waku.\nLogs go to stderr; set RUST_LOG (e.g. RUST_LOG=archivist=debug) \
    for more."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run an owner and a member on this machine and show the history move.
    Demo(demo::DemoArgs),
    /// Run a node from a configuration file until SIGINT or SIGTERM.
    Run(node::RunArgs),
    /// Show what a node's store says about its communities.
    Status(node::StatusArgs),
    /// Check that a community's data, index and .torrent agree.
    Verify(verify::VerifyArgs),
    /// Append archives for a time range to a community's data and index files.
    Create(create::CreateArgs),
    /// Show what an index or an archive holds.
    #[command(subcommand)]
    Inspect(inspect::InspectCommand),
    /// Seed a community's archives over BitTorrent until interrupted.
    Seed(torrent::SeedArgs),
    /// Download a community's index and archives from a magnet link.
    Fetch(fetch::FetchArgs),
    /// Serve the Codex REST API locally (a faithful test node).
    CodexDevnode(codex::DevnodeArgs),
    /// Create a community key and print the community ID.
    Keygen(keygen::KeygenArgs),
    /// Import messages into a store or export them as JSONL.
    #[command(subcommand)]
    Messages(messages::MessagesCommand),
    /// Build an announcement as it goes on Waku, or peel one received.
    #[command(subcommand)]
    Announcement(announcement::AnnouncementCommand),
}

/// Logs to stderr, filtered by `RUST_LOG` (warnings and errors by default).
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
}

/// The async runtime for the commands that talk to the network.
pub(crate) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    let result = match cli.command {
        Command::Demo(args) => runtime().and_then(|rt| rt.block_on(demo::run(args))),
        Command::Run(args) => runtime().and_then(|rt| rt.block_on(node::run(args))),
        Command::Status(args) => runtime().and_then(|rt| rt.block_on(node::status(args))),
        Command::Verify(args) => verify::run(&args),
        Command::Create(args) => create::run(args).map(|report| println!("{report}")),
        Command::Inspect(command) => inspect::run(command),
        Command::Messages(command) => messages::run(command),
        Command::Announcement(command) => announcement::run(command),
        Command::Keygen(args) => keygen::run(args).map(|report| println!("{report}")),
        Command::CodexDevnode(args) => runtime().and_then(|rt| rt.block_on(codex::devnode(args))),
        Command::Seed(args) => runtime().and_then(|rt| rt.block_on(torrent::seed(args))),
        Command::Fetch(args) => runtime()
            .and_then(|rt| rt.block_on(fetch::fetch(args)))
            .map(|report| println!("{report}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("archivist: {e:#}");
            ExitCode::FAILURE
        }
    }
}
