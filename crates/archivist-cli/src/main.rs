//! The `archivist` command-line tool: create, inspect, seed and fetch community
//! history archives.

#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a CLI talks on stdout and stderr"
)]

mod announcement;
mod codex;
mod config_check;
mod create;
mod demo;
mod demo_table;
mod fetch;
mod human_time;
mod inspect;
mod inspect_torrent;
mod jsonl;
mod keyed_read;
mod keygen;
mod keys;
mod live_status;
mod messages;
mod narration;
mod node;
mod rearchive;
mod status;
mod steer;
mod torrent;
mod verify;

use std::{io::IsTerminal, process::ExitCode};

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
    Status(status::StatusArgs),
    /// Join a community on a running node (through its HTTP API).
    Join(steer::JoinArgs),
    /// Leave a community on a running node.
    Leave(steer::CommunityArgs),
    /// Archive an owned community now on a running node.
    ArchiveNow(steer::CommunityArgs),
    /// Turn archiving of an owned community on or off on a running node.
    Archiving(steer::ArchivingArgs),
    /// Check that a community's data, index and .torrent agree.
    Verify(verify::VerifyArgs),
    /// Append archives for a time range to a community's data and index files.
    Create(create::CreateArgs),
    /// Show what an index or an archive holds.
    #[command(
        subcommand,
        after_help = "Examples:\n  archivist inspect index member-data/torrent/archivedata/0x02…/index\n  \
        archivist inspect archive member-data/torrent/archivedata/0x02… --id 0x5f…\n  \
        archivist inspect torrent owner-data/torrent/torrents/0x02….torrent --json"
    )]
    Inspect(inspect::InspectCommand),
    /// Seed a community's archives over BitTorrent until interrupted.
    Seed(torrent::SeedArgs),
    /// Download a community's index and archives from a magnet link.
    Fetch(fetch::FetchArgs),
    /// Serve the Codex REST API locally (a faithful test node).
    CodexDevnode(codex::DevnodeArgs),
    /// Create a community key and print the community ID.
    Keygen(keygen::KeygenArgs),
    /// An encrypted community's keys as files: make, import into a store, export.
    #[command(
        subcommand,
        after_help = "Examples:\n  archivist keys new --community 0x02… --out community-keys.json\n  \
        archivist keys import --db member-data/store.sqlite community-keys.json\n  \
        archivist keys export --db owner-data/store.sqlite --community 0x02… --out keys.json\n  \
        archivist inspect index ./archivedata/0x02…/index --keys community-keys.json"
    )]
    Keys(keys::KeysCommand),
    /// Import messages into a store or export them as JSONL.
    #[command(
        subcommand,
        after_help = "Examples:\n  archivist messages import --db examples/owner-data/store.sqlite \
        --jsonl examples/community.jsonl\n  \
        archivist messages export --db examples/member-data/store.sqlite > member.jsonl"
    )]
    Messages(messages::MessagesCommand),
    /// Archive a range again after late messages (owner stopped).
    Rearchive(rearchive::RearchiveArgs),
    /// Build an announcement as it goes on Waku, or peel one received.
    #[command(
        subcommand,
        after_help = "Examples:\n  archivist announcement encode --key owner.key --link 'magnet:?xt=urn:btih:…'\n  \
        archivist announcement encode --key owner.key --link 'magnet:?xt=…' --json \
        | jq -r .payload | archivist announcement decode --community 0x02… -"
    )]
    Announcement(announcement::AnnouncementCommand),
}

/// Logs to stderr, filtered by `RUST_LOG` (warnings and errors by default,
/// also when `RUST_LOG` is set but empty), with colour only on a terminal so
/// a log file or a CI capture holds no escape codes.
fn init_logging() {
    let filter = match std::env::var("RUST_LOG") {
        Ok(directives) if !directives.trim().is_empty() => {
            tracing_subscriber::EnvFilter::try_new(&directives).unwrap_or_else(|e| {
                eprintln!(
                    "archivist: RUST_LOG={directives:?} is not a log filter ({e}); using \"warn\""
                );
                tracing_subscriber::EnvFilter::new("warn")
            })
        }
        _ => tracing_subscriber::EnvFilter::new("warn"),
    };
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .init();
}

/// `error` and its causes on one line, each said once: many errors repeat
/// their source's text in their own message, and anyhow's `{:#}` would
/// print it again.
fn error_text(error: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in error.chain() {
        let said = cause.to_string();
        if said.is_empty() || text.contains(&said) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&said);
    }
    text
}

/// The async runtime for the commands that talk to the network.
pub(crate) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

/// Runs a call to a running node and prints its JSON answer.
fn steered(
    call: impl std::future::Future<Output = anyhow::Result<serde_json::Value>>,
) -> anyhow::Result<()> {
    let answer = runtime()?.block_on(call)?;
    println!("{}", serde_json::to_string_pretty(&answer)?);
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    let result = match cli.command {
        Command::Demo(args) => runtime().and_then(|rt| rt.block_on(demo::run(args))),
        Command::Run(args) => runtime().and_then(|rt| rt.block_on(node::run(args))),
        Command::Status(args) => runtime().and_then(|rt| rt.block_on(status::status(args))),
        Command::Join(args) => steered(steer::join(args)),
        Command::Leave(args) => steered(steer::leave(args)),
        Command::ArchiveNow(args) => steered(steer::archive_now(args)),
        Command::Archiving(args) => steered(steer::archiving(args)),
        Command::Verify(args) => verify::run(&args),
        Command::Create(args) => create::run(args).map(|report| println!("{report}")),
        Command::Inspect(command) => inspect::run(command),
        Command::Messages(command) => messages::run(command),
        Command::Announcement(command) => announcement::run(command),
        Command::Rearchive(args) => rearchive::run(&args).map(|report| println!("{report}")),
        Command::Keys(command) => keys::run(command).map(|report| println!("{report}")),
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
            eprintln!("archivist: {}", error_text(&e));
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    /// The README promises an example in every `--help`, groups included.
    #[test]
    fn every_command_and_group_has_an_example_in_its_help() {
        fn walk(command: &mut clap::Command, path: &str, missing: &mut Vec<String>) {
            // clap's own `help` subcommands are not ours to document.
            for sub in command
                .get_subcommands_mut()
                .filter(|sub| sub.get_name() != "help")
            {
                let path = format!("{path} {}", sub.get_name());
                let help = sub.render_long_help().to_string();
                if !help.contains("Example") {
                    missing.push(path.clone());
                }
                walk(sub, &path, missing);
            }
        }
        let mut missing = Vec::new();
        walk(&mut Cli::command(), "archivist", &mut missing);
        assert!(missing.is_empty(), "no example in the help of {missing:?}");
    }
}
