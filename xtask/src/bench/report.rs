//! The bench report: repeated measurements reduced to medians, the comparison
//! table with targets, and the markdown written to `target/bench-report.md`.

use std::{fmt::Write as _, time::Duration};

use super::{machine::Machine, process::Finished};

/// Repeated runs of one side of a comparison.
#[derive(Clone, Debug, Default)]
pub(crate) struct Series {
    pub(crate) seconds: Vec<f64>,
    pub(crate) peaks_kib: Vec<u64>,
}

impl Series {
    pub(crate) fn push(&mut self, run: &Finished) {
        self.push_time(run.wall, run.peak_kib);
    }

    pub(crate) fn push_time(&mut self, wall: Duration, peak_kib: u64) {
        self.seconds.push(wall.as_secs_f64());
        self.peaks_kib.push(peak_kib);
    }

    /// Median wall time, seconds.
    pub(crate) fn median(&self) -> f64 {
        median(&self.seconds)
    }

    /// Highest peak resident memory of any run, MiB.
    pub(crate) fn peak_mib(&self) -> f64 {
        self.peaks_kib.iter().copied().max().unwrap_or(0) as f64 / 1024.0
    }

    /// `median (min–max, n runs)`.
    pub(crate) fn spread(&self) -> String {
        let min = self.seconds.iter().copied().fold(f64::INFINITY, f64::min);
        let max = self.seconds.iter().copied().fold(0.0, f64::max);
        format!(
            "median {} (min {}, max {}, n = {})",
            secs(self.median()),
            secs(min),
            secs(max),
            self.seconds.len()
        )
    }
}

pub(crate) fn median(values: &[f64]) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    if sorted.len() % 2 == 1 {
        sorted[mid]
    } else {
        (sorted[mid - 1] + sorted[mid]) / 2.0
    }
}

pub(crate) fn secs(s: f64) -> String {
    if s < 1.0 {
        format!("{:.1} ms", s * 1000.0)
    } else {
        format!("{s:.2} s")
    }
}

/// Bytes per second as MB/s (10^6, as network and disk speeds are quoted).
pub(crate) fn mb_per_s(bytes: u64, seconds: f64) -> String {
    format!("{:.1} MB/s", bytes as f64 / seconds / 1e6)
}

pub(crate) fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1u64 << 20) as f64)
}

/// One side of a comparison row.
#[derive(Clone, Debug)]
pub(crate) struct Side {
    /// Who: "archivist fetch", "libtorrent 2.0.8".
    pub(crate) who: String,
    /// The headline number, e.g. "412.3 MB/s (2.61 s)".
    pub(crate) value: String,
    /// Peak resident memory, MiB; `None` when not applicable.
    pub(crate) peak_mib: Option<f64>,
}

impl Side {
    pub(crate) fn new(who: impl Into<String>, value: impl Into<String>, peak_mib: f64) -> Side {
        Side {
            who: who.into(),
            value: value.into(),
            peak_mib: Some(peak_mib),
        }
    }

    pub(crate) fn without_memory(who: impl Into<String>, value: impl Into<String>) -> Side {
        Side {
            who: who.into(),
            value: value.into(),
            peak_mib: None,
        }
    }
}

/// Whether a target was met.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    Met,
    Missed,
    /// No target: reported for information.
    Reported,
}

/// One row of the table.
#[derive(Clone, Debug)]
pub(crate) struct Row {
    pub(crate) what: String,
    pub(crate) ours: Side,
    pub(crate) reference: Side,
    pub(crate) ratio: String,
    pub(crate) target: String,
    pub(crate) verdict: Verdict,
}

/// One side of a speed comparison: who moved how many bytes, in which runs.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Throughput<'a> {
    pub(crate) who: &'a str,
    pub(crate) bytes: u64,
    pub(crate) runs: &'a Series,
}

impl Throughput<'_> {
    /// Median bytes per second.
    fn speed(&self) -> f64 {
        self.bytes as f64 / self.runs.median()
    }

    /// `412.3 MB/s (2.61 s)` and the peak memory.
    fn side(&self) -> Side {
        let median = self.runs.median();
        Side::new(
            self.who,
            format!("{} ({})", mb_per_s(self.bytes, median), secs(median)),
            self.runs.peak_mib(),
        )
    }
}

impl Row {
    /// A row comparing how fast two sides move their bytes: `what` with the
    /// reference's size in GiB, the ratio of our speed to `versus`'s, met
    /// when at least `target` (reported only without one).
    pub(crate) fn throughput(
        what: &str,
        ours: Throughput<'_>,
        reference: Throughput<'_>,
        versus: &str,
        target: Option<f64>,
    ) -> Row {
        let ratio = ours.speed() / reference.speed();
        Row {
            what: format!(
                "{what}, {:.2} GiB",
                reference.bytes as f64 / (1u64 << 30) as f64
            ),
            ours: ours.side(),
            reference: reference.side(),
            ratio: format!("{ratio:.2}× {versus}'s speed"),
            target: target.map_or_else(|| "— (reported)".into(), |t| format!("≥ {t:.1}×")),
            verdict: match target {
                None => Verdict::Reported,
                Some(t) if ratio >= t => Verdict::Met,
                Some(_) => Verdict::Missed,
            },
        }
    }
}

/// Everything the markdown file holds.
#[derive(Debug, Default)]
pub(crate) struct Report {
    pub(crate) rows: Vec<Row>,
    /// Per-scenario details: raw medians and spreads, sizes, what was run.
    pub(crate) details: Vec<(String, Vec<String>)>,
    pub(crate) notes: Vec<String>,
}

impl Report {
    pub(crate) fn detail(&mut self, section: &str, line: impl Into<String>) {
        let line = line.into();
        println!("  {line}");
        match self.details.iter_mut().find(|(s, _)| s == section) {
            Some((_, lines)) => lines.push(line),
            None => self.details.push((section.to_owned(), vec![line])),
        }
    }

    pub(crate) fn render(&self, machine: &Machine, mode: &str, probe: &str) -> String {
        let mut md = String::new();
        let _ = writeln!(md, "# Archivist bench report\n");
        let _ = writeln!(
            md,
            "Generated by `cargo xtask bench{}`. Every side is a whole process \
             (the release `archivist` binary or the reference tool), timed from \
             spawn to exit; medians of repeated runs, interleaved so that \
             background load hits both sides alike.\n",
            if mode == "quick" { " --quick" } else { "" }
        );
        let _ = writeln!(md, "## Machine\n");
        let _ = writeln!(md, "| | |\n|---|---|");
        let _ = writeln!(md, "| CPU | {} |", machine.cpu);
        let _ = writeln!(md, "| cores | {} |", machine.cores);
        let _ = writeln!(md, "| RAM | {} |", machine.ram);
        let _ = writeln!(md, "| kernel | {} |", machine.kernel);
        let _ = writeln!(md, "| rustc | {} |", machine.rustc);
        let _ = writeln!(
            md,
            "| libtorrent (python3-libtorrent) | {} |",
            machine.libtorrent
        );
        let _ = writeln!(md, "| curl | {} |", machine.curl);
        let _ = writeln!(md, "| load average at start | {} |", machine.load);
        let _ = writeln!(
            md,
            "| load average at end | {} |",
            super::machine::load_average()
        );
        let _ = writeln!(md, "| mode | {mode} |");
        let _ = writeln!(md, "| peak memory measured with | {probe} |\n");

        let _ = writeln!(md, "## Results\n");
        let _ = writeln!(
            md,
            "| comparison | ours | reference | ratio | target | result | ours peak RSS | reference peak RSS |"
        );
        let _ = writeln!(md, "|---|---|---|---|---|---|---|---|");
        for row in &self.rows {
            let peak = |side: &Side| {
                side.peak_mib
                    .map_or_else(|| "—".to_owned(), |m| format!("{m:.1} MiB"))
            };
            let verdict = match row.verdict {
                Verdict::Met => "**met**",
                Verdict::Missed => "**missed**",
                Verdict::Reported => "—",
            };
            let _ = writeln!(
                md,
                "| {} | {}: {} | {}: {} | {} | {} | {} | {} | {} |",
                row.what,
                row.ours.who,
                row.ours.value,
                row.reference.who,
                row.reference.value,
                row.ratio,
                row.target,
                verdict,
                peak(&row.ours),
                peak(&row.reference),
            );
        }
        for (section, lines) in &self.details {
            let _ = writeln!(md, "\n## {section}\n");
            for line in lines {
                let _ = writeln!(md, "- {line}");
            }
        }
        if !self.notes.is_empty() {
            let _ = writeln!(md, "\n## Notes\n");
            for note in &self.notes {
                let _ = writeln!(md, "- {note}");
            }
        }
        md
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_of_odd_and_even_counts() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(median(&[]).is_nan());
    }

    fn runs(seconds: &[f64]) -> Series {
        Series {
            seconds: seconds.to_vec(),
            peaks_kib: vec![2048; seconds.len()],
        }
    }

    #[test]
    fn throughput_rows_compare_speeds_not_times() {
        let (fast, slow) = (runs(&[1.0, 9.0, 1.0]), runs(&[2.0]));
        let side = |who, bytes, runs| Throughput { who, bytes, runs };
        // Half the bytes in half the time: the same speed.
        let row = Row::throughput(
            "upload",
            side("ours", 1 << 29, &fast),
            side("curl", 1 << 30, &slow),
            "curl",
            Some(1.0),
        );
        assert_eq!(row.what, "upload, 1.00 GiB");
        assert_eq!(row.ratio, "1.00× curl's speed");
        assert_eq!((row.target.as_str(), row.verdict), ("≥ 1.0×", Verdict::Met));
        assert_eq!(row.ours.value, "536.9 MB/s (1.00 s)");
        assert_eq!(row.ours.peak_mib, Some(2.0));

        let missed = Row::throughput(
            "download",
            side("ours", 1 << 20, &slow),
            side("lt", 1 << 20, &fast),
            "lt",
            Some(0.9),
        );
        assert_eq!(
            (missed.ratio.as_str(), missed.verdict),
            ("0.50× lt's speed", Verdict::Missed)
        );
        let reported = Row::throughput("x", side("a", 1, &fast), side("b", 1, &slow), "b", None);
        assert_eq!(
            (reported.target.as_str(), reported.verdict),
            ("— (reported)", Verdict::Reported)
        );
    }
}
