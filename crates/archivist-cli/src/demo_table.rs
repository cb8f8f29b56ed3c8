//! The demo's final table: one row per member and round.

use std::fmt::Write;

use serde_json::{Value, json};

/// What one member did in one round.
#[derive(Debug)]
pub(crate) struct Row {
    pub(crate) round: u32,
    pub(crate) network: String,
    pub(crate) archives_published: usize,
    pub(crate) archives_fetched: usize,
    pub(crate) bytes_moved: u64,
    pub(crate) seconds: f64,
    pub(crate) owner_messages: u64,
    pub(crate) member_messages: u64,
    pub(crate) equal: bool,
}

impl Row {
    pub(crate) fn to_json(&self) -> Value {
        json!({
            "round": self.round,
            "network": self.network,
            "archives_published": self.archives_published,
            "archives_fetched": self.archives_fetched,
            "bytes_moved": self.bytes_moved,
            "seconds": self.seconds,
            "owner_messages": self.owner_messages,
            "member_messages": self.member_messages,
            "equal": self.equal,
        })
    }
}

/// The rows as an aligned text table.
pub(crate) fn render(rows: &[Row]) -> String {
    let header = [
        "round",
        "network",
        "published",
        "fetched",
        "moved",
        "time",
        "owner msgs",
        "member msgs",
        "equal",
    ];
    let cells: Vec<[String; 9]> = rows
        .iter()
        .map(|r| {
            [
                r.round.to_string(),
                r.network.to_owned(),
                r.archives_published.to_string(),
                r.archives_fetched.to_string(),
                human_bytes(r.bytes_moved),
                format!("{:.2} s", r.seconds),
                r.owner_messages.to_string(),
                r.member_messages.to_string(),
                if r.equal { "yes" } else { "NO" }.to_owned(),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &cells {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.len());
        }
    }
    let mut out = String::new();
    let line = |out: &mut String, row: &[&str]| {
        let parts: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(cell, w)| format!("{cell:>w$}"))
            .collect();
        let _ = writeln!(out, "{}", parts.join("  "));
    };
    line(&mut out, &header);
    for row in &cells {
        line(&mut out, &row.each_ref().map(String::as_str));
    }
    out
}

fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligned_with_a_header() {
        let rows = [Row {
            round: 2,
            network: "torrent".to_owned(),
            archives_published: 1,
            archives_fetched: 1,
            bytes_moved: 3 * 1024 * 1024,
            seconds: 0.5,
            owner_messages: 12_500,
            member_messages: 12_500,
            equal: true,
        }];
        let table = render(&rows);
        let lines: Vec<_> = table.lines().collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].len(), lines[1].len());
        assert!(lines[1].contains("3.0 MiB") && lines[1].ends_with("yes"));
        assert_eq!(human_bytes(512), "512 B");
    }
}
