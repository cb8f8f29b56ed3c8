//! The machine a bench ran on, so numbers are never read without it.

use std::{path::Path, process::Command};

/// What the report says about the machine.
#[derive(Debug)]
pub(crate) struct Machine {
    pub(crate) cpu: String,
    pub(crate) cores: usize,
    pub(crate) ram: String,
    pub(crate) kernel: String,
    pub(crate) rustc: String,
    pub(crate) libtorrent: String,
    pub(crate) curl: String,
    pub(crate) load: String,
}

impl Machine {
    pub(crate) fn probe() -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu = cpuinfo
            .lines()
            .find(|l| l.starts_with("model name"))
            .and_then(|l| l.split_once(':'))
            .map_or_else(|| "unknown".into(), |(_, v)| v.trim().to_owned());
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let ram = meminfo
            .lines()
            .find(|l| l.starts_with("MemTotal:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kib| kib.parse::<u64>().ok())
            .map_or_else(
                || "unknown".into(),
                |kib| format!("{:.1} GiB", kib as f64 / (1 << 20) as f64),
            );
        Machine {
            cpu,
            cores: std::thread::available_parallelism().map_or(0, |n| n.get()),
            ram,
            kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
                .map_or_else(|_| "unknown".into(), |s| s.trim().to_owned()),
            rustc: first_line("rustc", &["--version"]),
            libtorrent: first_line(
                "/usr/bin/python3",
                &["-c", "import libtorrent; print(libtorrent.__version__)"],
            ),
            curl: first_line("curl", &["--version"])
                .split_whitespace()
                .take(2)
                .collect::<Vec<_>>()
                .join(" "),
            load: load_average(),
        }
    }
}

/// `/proc/loadavg`: other work on the machine shows up here.
pub(crate) fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map_or_else(|_| "unknown".into(), |s| s.trim().to_owned())
}

fn first_line(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .next()
                .map(str::to_owned)
        })
        .unwrap_or_else(|| "not installed".into())
}

/// Free bytes on the file system holding `path`, from `df`.
pub(crate) fn free_bytes(path: &Path) -> anyhow::Result<u64> {
    let out = Command::new("df").arg("-Pk").arg(path).output()?;
    anyhow::ensure!(out.status.success(), "df {} failed", path.display());
    let text = String::from_utf8_lossy(&out.stdout);
    let kib: u64 = text
        .lines()
        .nth(1)
        .and_then(|l| l.split_whitespace().nth(3))
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| anyhow::anyhow!("unexpected df output: {text}"))?;
    Ok(kib * 1024)
}
