//! Third-party peers and trackers as child processes that cannot outlive the
//! test that started them.

use std::{
    io::{BufRead, BufReader},
    path::Path,
    process::{Child, Command, Stdio},
    sync::mpsc,
    time::Duration,
};

/// Kills and reaps the process when dropped, however the test ends.
pub(crate) struct Process(pub(crate) Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Process {
    /// The first line the process prints, waiting at most `timeout`.
    pub(crate) fn first_line(&mut self, timeout: Duration) -> String {
        self.lines()
            .recv_timeout(timeout)
            .expect("the process answers in time")
    }

    /// Every line the process prints from now on, as it prints them; the
    /// channel closes when the process closes its stdout.
    pub(crate) fn lines(&mut self) -> mpsc::Receiver<String> {
        let stdout = self.0.stdout.take().expect("stdout is piped, read once");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        rx
    }

    /// Closes the process's stdin, which asks our peers to report and exit.
    pub(crate) fn close_stdin(&mut self) {
        drop(self.0.stdin.take());
    }
}

/// `libtorrent_peer.py` (python3-libtorrent) with `args`.
pub(crate) fn libtorrent_peer(args: &[&str]) -> Process {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/libtorrent_peer.py");
    // Debian's python3-libtorrent is importable only from the system Python.
    let child = Command::new("/usr/bin/python3")
        .arg(script)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("/usr/bin/python3 with python3-libtorrent (installed by `cargo xtask test`)");
    Process(child)
}

/// A libtorrent seeder (`libtorrent_peer.py seed`), killed when dropped.
pub(crate) struct Seeder {
    process: Process,
    lines: mpsc::Receiver<String>,
    /// Where it listens, on 127.0.0.1.
    pub(crate) port: u16,
}

impl Seeder {
    /// Seeds `torrent` from the files under `save_dir` once libtorrent has
    /// them ready; `options` are the script's seed options.
    pub(crate) fn start(torrent: &Path, save_dir: &Path, options: &[&str]) -> Seeder {
        let mut args = vec![
            "seed",
            torrent.to_str().expect("a UTF-8 path"),
            save_dir.to_str().expect("a UTF-8 path"),
        ];
        args.extend_from_slice(options);
        let mut process = libtorrent_peer(&args);
        let lines = process.lines();
        let line = lines
            .recv_timeout(Duration::from_secs(60))
            .expect("the seeder starts in time");
        let port = line
            .trim()
            .strip_prefix("port ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("the seeder did not start: {line}"));
        Seeder {
            process,
            lines,
            port,
        }
    }

    /// Asks the seeder to stop and returns the payload bytes it sent.
    pub(crate) fn stop(mut self) -> u64 {
        self.process.close_stdin();
        let line = self
            .lines
            .recv_timeout(Duration::from_secs(10))
            .expect("the seeder reports before it exits");
        line.trim()
            .strip_prefix("uploaded ")
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("unexpected report: {line}"))
    }
}
