//! End-to-end tests of the `archivist` binary.

mod announcement;
mod api;
mod codex;
mod create;
mod fetch_db;
mod first_hour;
mod keygen;
mod keys;
mod node;
mod readme;
mod resume;
mod selective;
mod store;
mod torrent;

use std::{
    io::{BufRead, BufReader, Read, Write},
    path::Path,
    process::{Child, Command, Output, Stdio},
    time::Duration,
};

/// 2020-01-01 00:00:00 UTC, status-go's `D(1)`.
pub(crate) const D1: u64 = 1_577_836_800;
pub(crate) const DAY: u64 = 86_400;
pub(crate) const COMMUNITY: &str =
    "0x02aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
pub(crate) const TOPIC: &str = "0xdeadbeef";

/// How long any one `archivist` command of these tests may run: a hang
/// fails the test (and is killed) instead of stopping the suite.
pub(crate) const COMMAND_DEADLINE: Duration = Duration::from_secs(300);

/// Runs `archivist` with `args` and returns its output, killing it and
/// failing after [`COMMAND_DEADLINE`].
pub(crate) fn archivist(args: &[&str]) -> Output {
    archivist_with_stdin(args, None)
}

/// [`archivist`] with `input`, if any, on its stdin.
pub(crate) fn archivist_with_stdin(args: &[&str], input: Option<&str>) -> Output {
    archivist_in(None, args, input)
}

/// [`archivist_with_stdin`] in the working directory `dir`, if given, as a
/// user runs commands with relative paths.
pub(crate) fn archivist_in(dir: Option<&Path>, args: &[&str], input: Option<&str>) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_archivist"));
    if let Some(dir) = dir {
        command.current_dir(dir);
    }
    let mut child = Running(
        command
            .args(args)
            .stdin(if input.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the archivist binary runs"),
    );
    let writer = child.0.stdin.take().map(|mut stdin| {
        let input = input.unwrap_or_default().to_owned();
        std::thread::spawn(move || {
            let _ = stdin.write_all(input.as_bytes());
        })
    });
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut bytes);
            }
            bytes
        })
    };
    let stdout = drain(child.0.stdout.take().map(|p| Box::new(p) as _));
    let stderr = drain(child.0.stderr.take().map(|p| Box::new(p) as _));
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.0.try_wait().expect("waiting for archivist") {
            break status;
        }
        assert!(
            started.elapsed() < COMMAND_DEADLINE,
            "archivist {args:?} still running after {COMMAND_DEADLINE:?}: killed"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    if let Some(writer) = writer {
        writer.join().expect("stdin writer");
    }
    Output {
        status,
        stdout: stdout.join().expect("stdout reader"),
        stderr: stderr.join().expect("stderr reader"),
    }
}

/// Runs `archivist`, requires success and parses stdout as JSON.
pub(crate) fn archivist_json(args: &[&str]) -> serde_json::Value {
    let out = archivist(args);
    assert!(
        out.status.success(),
        "archivist {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("stdout is JSON")
}

/// One JSONL message line.
pub(crate) fn line(timestamp: u64, hash: &str, topic: &str) -> String {
    format!(
        r#"{{"timestamp":{timestamp},"topic":"{topic}","hash":"{hash}","payload":"AQ==","sig":"AQ==","padding":"AQ=="}}"#
    )
}

pub(crate) fn write_jsonl(path: &Path, lines: &[String]) {
    std::fs::write(path, lines.join("\n") + "\n").unwrap();
}

/// A long-running `archivist` (a seeder, a devnode), killed when dropped
/// however the test ends.
pub(crate) struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `archivist` with `args` and returns it with the JSON object it
/// prints first, waiting at most 60 seconds.
pub(crate) fn start_archivist(args: &[&str]) -> (Running, serde_json::Value) {
    let mut running = Running(
        Command::new(env!("CARGO_BIN_EXE_archivist"))
            .args(args)
            .stdout(Stdio::piped())
            .spawn()
            .expect("the archivist binary runs"),
    );
    let stdout = running.0.stdout.take().expect("stdout is piped");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut first = String::new();
        let _ = BufReader::new(stdout).read_line(&mut first);
        let _ = tx.send(first);
    });
    let first = rx
        .recv_timeout(Duration::from_secs(60))
        .unwrap_or_else(|_| panic!("archivist {args:?} did not start"));
    let value = serde_json::from_str(&first).unwrap_or_else(|_| panic!("not JSON: {first:?}"));
    (running, value)
}
