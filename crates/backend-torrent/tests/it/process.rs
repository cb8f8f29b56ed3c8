//! Third-party peers and trackers as child processes that cannot outlive the
//! test that started them.

use std::{
    io::{BufRead, BufReader},
    process::Child,
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
        let stdout = self.0.stdout.take().expect("stdout is piped");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        rx.recv_timeout(timeout)
            .expect("the process answers in time")
    }
}
