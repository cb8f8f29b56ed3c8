//! The `archivist` command-line tool: create, inspect, seed and fetch community
//! history archives.

#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a CLI talks on stdout and stderr"
)]

mod codex;
mod create;
mod inspect;
mod inspect_torrent;
mod jsonl;
mod keygen;
mod messages;
mod torrent;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Keeps a chat community's message history alive as status-go history archives.
#[derive(Debug, Parser)]
#[command(name = "archivist", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Append archives for a time range to a community's data and index files.
    Create(create::CreateArgs),
    /// Show what an index or an archive holds.
    #[command(subcommand)]
    Inspect(inspect::InspectCommand),
    /// Seed a community's archives over BitTorrent until interrupted.
    Seed(torrent::SeedArgs),
    /// Download a community's index and archives from a magnet link.
    Fetch(torrent::FetchArgs),
    /// Serve the Codex REST API locally (a faithful test node).
    CodexDevnode(codex::DevnodeArgs),
    /// Create a community key and print the community ID.
    Keygen(keygen::KeygenArgs),
    /// Import messages into a store or export them as JSONL.
    #[command(subcommand)]
    Messages(messages::MessagesCommand),
}

/// The async runtime for the commands that talk to the network.
pub(crate) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Create(args) => create::run(args).map(|report| println!("{report}")),
        Command::Inspect(command) => inspect::run(command),
        Command::Messages(command) => messages::run(command),
        Command::Keygen(args) => keygen::run(args).map(|report| println!("{report}")),
        Command::CodexDevnode(args) => runtime().and_then(|rt| rt.block_on(codex::devnode(args))),
        Command::Seed(args) => runtime().and_then(|rt| rt.block_on(torrent::seed(args))),
        Command::Fetch(args) => runtime()
            .and_then(|rt| rt.block_on(torrent::fetch(args)))
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
