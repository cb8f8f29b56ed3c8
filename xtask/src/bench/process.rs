//! Running the release `archivist` and the reference tools as whole
//! processes: every one with a deadline, long-running ones killed when their
//! guard drops, and measured ones with wall time and peak resident memory.
//!
//! Peak memory comes from GNU time (`/usr/bin/time -f %M`, i.e. the child's
//! `ru_maxrss` from wait4) when it is installed: a small C parent, so the
//! number is the command's own. A Python or Rust parent would not do: the
//! kernel carries the spawning process's peak into its child's across exec.
//! Without GNU time, `/proc/<pid>/status` `VmHWM` is sampled every few
//! milliseconds instead, which can miss only a rise in the last sample gap.

use std::{
    io::{BufRead, BufReader, Read},
    path::{Path, PathBuf},
    process::{Child, Command, ExitStatus, Stdio},
    sync::mpsc,
    time::{Duration, Instant},
};

use anyhow::{Context, bail};

/// What a finished process produced.
#[derive(Debug)]
pub(crate) struct Finished {
    pub(crate) status: ExitStatus,
    pub(crate) stdout: Vec<u8>,
    pub(crate) stderr: Vec<u8>,
    /// Wall time from spawn to exit.
    pub(crate) wall: Duration,
    /// Peak resident memory, KiB (0 when not measured).
    pub(crate) peak_kib: u64,
    /// Peak anonymous resident memory (heap, stacks: not file pages mapped
    /// in), KiB; sampled, so 0 unless measured with [`MemoryProbe::Sampling`].
    pub(crate) peak_anon_kib: u64,
}

impl Finished {
    /// Fails with the command's stderr unless it exited with 0.
    pub(crate) fn ok(self, what: &str) -> anyhow::Result<Finished> {
        if !self.status.success() {
            bail!(
                "{what} failed ({}): {}",
                self.status,
                String::from_utf8_lossy(&self.stderr).trim()
            );
        }
        Ok(self)
    }

    /// Stdout parsed as one JSON value.
    pub(crate) fn json(&self) -> anyhow::Result<serde_json::Value> {
        serde_json::from_slice(&self.stdout).with_context(|| {
            format!(
                "stdout is not JSON: {}",
                String::from_utf8_lossy(&self.stdout)
            )
        })
    }

    pub(crate) fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    pub(crate) fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
}

/// How peak memory is taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum MemoryProbe {
    /// GNU time around `timeout`.
    GnuTime,
    /// Sampling `VmHWM`.
    Sampling,
}

impl MemoryProbe {
    pub(crate) fn detect() -> MemoryProbe {
        let works = Command::new("/usr/bin/time")
            .args(["-f", "%M", "true"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if works {
            MemoryProbe::GnuTime
        } else {
            MemoryProbe::Sampling
        }
    }

    pub(crate) fn describe(self) -> &'static str {
        match self {
            MemoryProbe::GnuTime => "GNU time `%M` (wait4 ru_maxrss of the command)",
            MemoryProbe::Sampling => "VmHWM of /proc/<pid>/status sampled every 5 ms",
        }
    }
}

/// Runs `program args` to completion, killing it after `timeout`.
pub(crate) fn run(
    program: impl AsRef<Path>,
    args: &[String],
    timeout: Duration,
) -> anyhow::Result<Finished> {
    let mut command = Command::new(program.as_ref());
    command.args(args);
    finish(command, timeout, None)
}

/// Runs `program args` to completion with its peak memory measured.
pub(crate) fn measure(
    probe: MemoryProbe,
    scratch: &Path,
    program: impl AsRef<Path>,
    args: &[String],
    timeout: Duration,
) -> anyhow::Result<Finished> {
    let program = program.as_ref();
    match probe {
        MemoryProbe::GnuTime => {
            let result = scratch.join(format!("peak-{}.txt", std::process::id()));
            let mut command = Command::new("/usr/bin/time");
            command
                .arg("-q")
                .arg("-o")
                .arg(&result)
                .args(["-f", "%M", "timeout", "-s", "KILL"])
                .arg(format!("{}", timeout.as_secs().max(1)))
                .arg(program)
                .args(args);
            // `timeout` enforces the deadline; ours is a backstop.
            let mut finished = finish(command, timeout + Duration::from_secs(30), None)?;
            let text = std::fs::read_to_string(&result).unwrap_or_default();
            let _ = std::fs::remove_file(&result);
            finished.peak_kib = text
                .lines()
                .filter_map(|l| l.trim().parse::<u64>().ok())
                .next_back()
                .unwrap_or(0);
            Ok(finished)
        }
        MemoryProbe::Sampling => {
            let mut command = Command::new(program);
            command.args(args);
            finish(command, timeout, Some(Duration::from_millis(5)))
        }
    }
}

fn finish(
    mut command: Command,
    timeout: Duration,
    sample: Option<Duration>,
) -> anyhow::Result<Finished> {
    let started = Instant::now();
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {command:?}"))?;
    let stdout = drain(child.stdout.take().expect("piped"));
    let stderr = drain(child.stderr.take().expect("piped"));
    let (mut peak_kib, mut peak_anon_kib) = (0, 0);
    let deadline = started + timeout;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if sample.is_some()
            && let Some((hwm, anon)) = memory_kib(child.id())
        {
            peak_kib = peak_kib.max(hwm);
            peak_anon_kib = peak_anon_kib.max(anon);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            bail!("{command:?} did not finish within {timeout:?}; killed");
        }
        std::thread::sleep(sample.unwrap_or(Duration::from_millis(2)));
    };
    let wall = started.elapsed();
    Ok(Finished {
        status,
        stdout: stdout.recv().unwrap_or_default(),
        stderr: stderr.recv().unwrap_or_default(),
        wall,
        peak_kib,
        peak_anon_kib,
    })
}

fn drain(mut pipe: impl Read + Send + 'static) -> mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = pipe.read_to_end(&mut buf);
        let _ = tx.send(buf);
    });
    rx
}

/// `VmHWM` (the kernel's own high-water mark, so a late sample still sees
/// an earlier peak) and the current `RssAnon` of `pid`, KiB.
fn memory_kib(pid: u32) -> Option<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| -> Option<u64> {
        let line = status.lines().find(|l| l.starts_with(name))?;
        line.split_whitespace().nth(1)?.parse().ok()
    };
    Some((field("VmHWM:")?, field("RssAnon:")?))
}

/// A long-running process (a seeder, a devnode), killed when dropped however
/// the caller ends.
#[derive(Debug)]
pub(crate) struct Server {
    child: Child,
    /// The first line it printed, parsed as JSON.
    pub(crate) hello: serde_json::Value,
}

impl Server {
    /// Starts `program args` and waits at most `timeout` for its first line
    /// of stdout, a JSON object.
    pub(crate) fn start(
        program: impl AsRef<Path>,
        args: &[String],
        log: PathBuf,
        timeout: Duration,
    ) -> anyhow::Result<Server> {
        let log_file =
            std::fs::File::create(&log).with_context(|| format!("creating {}", log.display()))?;
        let mut child = Command::new(program.as_ref())
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log_file)
            .spawn()
            .with_context(|| format!("starting {}", program.as_ref().display()))?;
        let stdout = child.stdout.take().expect("piped");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut first = String::new();
            let _ = reader.read_line(&mut first);
            let _ = tx.send(first);
            // Keep reading so the server never blocks on a full pipe.
            let _ = std::io::copy(&mut reader, &mut std::io::sink());
        });
        let mut server = Server {
            child,
            hello: serde_json::Value::Null,
        };
        let first = rx.recv_timeout(timeout).map_err(|_| {
            anyhow::anyhow!(
                "{} {args:?} printed nothing within {timeout:?}; see {}",
                program.as_ref().display(),
                log.display()
            )
        })?;
        server.hello = serde_json::from_str(&first).with_context(|| {
            format!(
                "{} {args:?} said {first:?}; see {}",
                program.as_ref().display(),
                log.display()
            )
        })?;
        Ok(server)
    }

    /// The string field `key` of its first line.
    pub(crate) fn field(&self, key: &str) -> anyhow::Result<String> {
        self.hello[key]
            .as_str()
            .map(str::to_owned)
            .with_context(|| format!("no {key:?} in {}", self.hello))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Command-line arguments as owned strings: `argv!["create", path, 7u64]`.
macro_rules! argv {
    ($($arg:expr),* $(,)?) => {
        Vec::<String>::from([$($crate::bench::process::AsArg::as_arg(&$arg)),*])
    };
}
pub(crate) use argv;

/// Something that can be a command-line argument.
pub(crate) trait AsArg {
    fn as_arg(&self) -> String;
}

impl<T: AsArg + ?Sized> AsArg for &T {
    fn as_arg(&self) -> String {
        (**self).as_arg()
    }
}

impl AsArg for str {
    fn as_arg(&self) -> String {
        self.to_owned()
    }
}

impl AsArg for String {
    fn as_arg(&self) -> String {
        self.clone()
    }
}

impl AsArg for Path {
    fn as_arg(&self) -> String {
        self.display().to_string()
    }
}

impl AsArg for PathBuf {
    fn as_arg(&self) -> String {
        self.display().to_string()
    }
}

impl AsArg for u64 {
    fn as_arg(&self) -> String {
        self.to_string()
    }
}
