//! The README's "Running an owner and a member", followed as written: the
//! commands are read from README.md, not retyped, and run in order from a
//! scratch folder holding a copy of the repository's `examples/`. The only
//! changes are the ones a careful user makes: the community ID goes into
//! `member.toml` where the README says, and (so that parallel test runs
//! cannot collide) every fixed port is moved to a free one, in the commands
//! and the example files alike.

use std::{
    collections::BTreeMap,
    io::{BufRead, BufReader},
    net::{TcpListener, TcpStream},
    path::Path,
    process::{Command, Stdio},
    sync::mpsc,
    time::{Duration, Instant},
};

use crate::{Running, archivist_in};

const README: &str = include_str!("../../../../README.md");

/// The README's name for "the member has everything".
const DONE_EVENT: &str = "community.downloadingHistoryArchivesFinished";

/// How long a node may take to reach the point the next step needs.
const STEP_DEADLINE: Duration = Duration::from_secs(240);

/// One command line of the README.
#[derive(Debug)]
struct Step {
    args: Vec<String>,
    background: bool,
}

/// The `sh` blocks of the section titled `title`, in order.
fn sh_blocks(title: &str) -> Vec<Vec<String>> {
    let start = README
        .find(&format!("## {title}\n"))
        .unwrap_or_else(|| panic!("README has no section {title:?}"));
    let section = &README[start + 3..];
    let section = &section[..section.find("\n## ").unwrap_or(section.len())];
    let mut blocks = Vec::new();
    let mut lines = section.lines();
    while let Some(line) = lines.next() {
        if line.trim() == "```sh" {
            blocks.push(
                lines
                    .by_ref()
                    .take_while(|l| l.trim() != "```")
                    .map(str::to_owned)
                    .collect(),
            );
        }
    }
    blocks
}

/// A README line as a command: the comment cut off, a trailing `&` meaning
/// "in the background"; `None` for a line that is not an `archivist` command.
fn step(line: &str) -> Option<Step> {
    let command = line.split(" #").next().unwrap_or_default().trim();
    let mut args: Vec<String> = command.split_whitespace().map(str::to_owned).collect();
    if args.first().map(String::as_str) != Some("archivist") {
        return None;
    }
    args.remove(0);
    let background = args.last().map(String::as_str) == Some("&");
    if background {
        args.pop();
    }
    Some(Step { args, background })
}

/// Every port written after `127.0.0.1:` or `/tcp/` in `text`.
fn ports_in(text: &str, ports: &mut Vec<u16>) {
    for marker in ["127.0.0.1:", "/tcp/"] {
        for (at, _) in text.match_indices(marker) {
            let digits: String = text[at + marker.len()..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            if let Ok(port) = digits.parse::<u16>()
                && port != 0
                && !ports.contains(&port)
            {
                ports.push(port);
            }
        }
    }
}

/// `text` with every mapped port replaced where it follows a marker, in
/// one pass, so a new port that equals an old one is not replaced again.
fn remap(text: &str, ports: &BTreeMap<u16, u16>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    loop {
        let next = ["127.0.0.1:", "/tcp/"]
            .iter()
            .filter_map(|m| rest.find(m).map(|at| (at, m.len())))
            .min();
        let Some((at, len)) = next else {
            out.push_str(rest);
            return out;
        };
        out.push_str(&rest[..at + len]);
        rest = &rest[at + len..];
        let digits = rest.chars().take_while(char::is_ascii_digit).count();
        match rest[..digits]
            .parse::<u16>()
            .ok()
            .and_then(|p| ports.get(&p))
        {
            Some(to) => out.push_str(&to.to_string()),
            None => out.push_str(&rest[..digits]),
        }
        rest = &rest[digits..];
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A long-running `archivist` of the README and the lines it prints.
struct Node {
    running: Running,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Node {
    fn start(dir: &Path, args: &[String]) -> Node {
        let mut child = Command::new(env!("CARGO_BIN_EXE_archivist"))
            .current_dir(dir)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .expect("the archivist binary runs");
        let stdout = child.stdout.take().expect("stdout is piped");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Node {
            running: Running(child),
            lines,
            seen: Vec::new(),
        }
    }

    /// Waits for `count` lines containing `needle`, failing with what was
    /// printed after [`STEP_DEADLINE`].
    fn wait_for(&mut self, needle: &str, count: usize) {
        let deadline = Instant::now() + STEP_DEADLINE;
        while self.seen.iter().filter(|l| l.contains(needle)).count() < count {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => self.seen.push(line),
                Err(_) => panic!(
                    "no {count}× {needle:?} within {STEP_DEADLINE:?}; printed:\n{}",
                    self.seen.join("\n")
                ),
            }
        }
    }

    /// SIGTERM, as Ctrl-C: the node must stop cleanly and say so.
    fn stop(mut self) {
        let pid = self.running.0.id().to_string();
        assert!(
            Command::new("kill")
                .args(["-TERM", &pid])
                .status()
                .unwrap()
                .success()
        );
        let deadline = Instant::now() + Duration::from_secs(60);
        let status = loop {
            if let Some(status) = self.running.0.try_wait().unwrap() {
                break status;
            }
            assert!(Instant::now() < deadline, "no clean stop within 60 s");
            std::thread::sleep(Duration::from_millis(50));
        };
        assert!(status.success(), "stopped with {status}");
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(5)) {
            self.seen.push(line);
        }
        assert!(
            self.seen.iter().any(|l| l.contains("archivist.stopped")),
            "{:#?}",
            self.seen
        );
    }
}

/// Waits until something listens on `port` of 127.0.0.1.
fn wait_listening(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "nothing listens on {port}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn the_owner_and_member_section_works_when_followed_literally() {
    let blocks = sh_blocks("Running an owner and a member");
    assert_eq!(
        blocks.first().map(Vec::as_slice),
        Some(&["cargo install --path crates/archivist-cli".to_owned()][..]),
        "the section starts by putting archivist on the PATH"
    );
    assert!(
        Path::new(env!("CARGO_MANIFEST_DIR")).ends_with("crates/archivist-cli"),
        "the install path is this crate"
    );
    assert!(
        README.contains(DONE_EVENT),
        "the README names the done event"
    );
    let lines = blocks.get(1).expect("the section's commands");
    let mut steps: Vec<Step> = lines.iter().filter_map(|l| step(l)).collect();
    assert_eq!(
        steps.len(),
        lines.len(),
        "every line is an archivist command"
    );

    // A scratch copy of examples/, ports moved to free ones everywhere.
    let dir = tempfile::tempdir().unwrap();
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    let mut files = Vec::new();
    for entry in std::fs::read_dir(&examples).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            let name = path.file_name().unwrap().to_owned();
            files.push((name, std::fs::read_to_string(&path).unwrap()));
        }
    }
    let mut readme_ports = Vec::new();
    for step in &steps {
        ports_in(&step.args.join(" "), &mut readme_ports);
    }
    for (_, text) in &files {
        ports_in(text, &mut readme_ports);
    }
    let ports: BTreeMap<u16, u16> = readme_ports.iter().map(|&p| (p, free_port())).collect();
    std::fs::create_dir(dir.path().join("examples")).unwrap();
    for (name, text) in &files {
        std::fs::write(dir.path().join("examples").join(name), remap(text, &ports)).unwrap();
    }
    for step in &mut steps {
        for arg in &mut step.args {
            *arg = remap(arg, &ports);
        }
    }

    let mut walk = Walk {
        dir: dir.path(),
        background: Vec::new(),
        owner: None,
        member: None,
        exports: Vec::new(),
        export_steps: Vec::new(),
        late_from: None,
    };
    for step in &steps {
        walk.step(step);
    }
    assert_eq!(walk.exports.len(), 2, "the owner's and the member's export");
    assert_eq!(walk.exports[0].lines().count(), 40, "{}", walk.exports[0]);
    assert_eq!(
        walk.exports[0], walk.exports[1],
        "the member holds the owner's history"
    );

    // Late messages: the owner is stopped (Ctrl-C), the block run, and the
    // member, still running, ends up with the owner's history again.
    let late_lines = blocks.get(2).expect("the section's late-message commands");
    let late_steps: Vec<Step> = late_lines
        .iter()
        .filter_map(|l| step(l))
        .map(|mut step| {
            for arg in &mut step.args {
                *arg = remap(arg, &ports);
            }
            step
        })
        .collect();
    assert_eq!(late_steps.len(), late_lines.len());
    walk.owner.take().expect("the owner runs").stop();
    for step in &late_steps {
        walk.step(step);
    }
    let member = walk.member.as_mut().expect("the member runs");
    // A download that the owner's restart interrupted may end first (with
    // nothing fetched); the one that counts fetches the rebuilt archive.
    member.wait_for("(1 fetched now)", 1);
    assert!(
        member
            .seen
            .iter()
            .any(|l| l.contains(DONE_EVENT) && l.contains("(1 fetched now)")),
        "only the rebuilt archive travels: {:#?}",
        member.seen
    );
    walk.exports.clear();
    for args in walk.export_steps.clone() {
        walk.run_once(&args);
    }
    assert_eq!(walk.exports[0].lines().count(), 41, "{}", walk.exports[0]);
    assert_eq!(
        walk.exports[0], walk.exports[1],
        "the member holds the late message too"
    );
    for node in [walk.owner.take(), walk.member.take()]
        .into_iter()
        .flatten()
    {
        node.stop();
    }
}

/// The state of a walk through the README's commands.
struct Walk<'a> {
    dir: &'a Path,
    background: Vec<Running>,
    owner: Option<Node>,
    member: Option<Node>,
    exports: Vec<String>,
    export_steps: Vec<Vec<String>>,
    /// The `from` of the last import's `late` report.
    late_from: Option<u64>,
}

impl Walk<'_> {
    fn step(&mut self, step: &Step) {
        let args: Vec<&str> = step.args.iter().map(String::as_str).collect();
        if step.background {
            let listen = args
                .iter()
                .position(|a| *a == "--listen")
                .and_then(|i| args.get(i + 1))
                .expect("a background command listens somewhere");
            let port: u16 = listen.rsplit(':').next().unwrap().parse().unwrap();
            let mut command = Command::new(env!("CARGO_BIN_EXE_archivist"));
            command
                .current_dir(self.dir)
                .args(&args)
                .stdin(Stdio::null())
                .stdout(Stdio::null());
            self.background.push(Running(command.spawn().unwrap()));
            wait_listening(port);
            return;
        }
        if args[0] == "run" {
            let mut node = Node::start(self.dir, &step.args);
            if args.iter().any(|a| a.ends_with("owner.toml")) {
                // Its archives are published on both networks.
                node.wait_for("community.historyArchivesSeeding", 2);
                self.owner = Some(node);
            } else {
                node.wait_for("archivist.waiting", 1);
                node.wait_for(DONE_EVENT, 1);
                self.member = Some(node);
            }
            return;
        }
        if args[0] == "messages" && args[1] == "export" {
            self.export_steps.push(step.args.clone());
        }
        if args[0] == "rearchive" {
            let from = args
                .iter()
                .position(|a| *a == "--from")
                .and_then(|i| args.get(i + 1))
                .unwrap();
            assert_eq!(
                Some(from.parse::<u64>().unwrap()),
                self.late_from,
                "the README's --from is the import's late range"
            );
        }
        self.run_once(&step.args);
    }

    fn run_once(&mut self, args: &[String]) {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = archivist_in(Some(self.dir), &args, None);
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "archivist {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        match args[0] {
            "keygen" => {
                // What the README asks of the user before the member starts.
                let key: serde_json::Value = serde_json::from_str(&stdout).unwrap();
                let community = key["community"].as_str().unwrap();
                let member = self.dir.join("examples/member.toml");
                let text = std::fs::read_to_string(&member).unwrap();
                let placeholder: Vec<&str> = text
                    .lines()
                    .filter(|l| l.starts_with("community = \"0x02aa"))
                    .collect();
                assert_eq!(placeholder.len(), 1, "one line to edit: {placeholder:?}");
                let edited = text.replace(placeholder[0], &format!("community = \"{community}\""));
                std::fs::write(&member, edited).unwrap();
            }
            "status" => {
                for expected in [
                    "(member)",
                    "heard: yes",
                    "seeding: yes",
                    "imported: 2 archive(s)",
                ] {
                    assert!(stdout.contains(expected), "{expected:?} in:\n{stdout}");
                }
            }
            "messages" if args[1] == "import" => {
                let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
                self.late_from = report["late"]["from"].as_u64();
            }
            "rearchive" => {
                let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
                assert!(report[0]["rebuilt"].as_u64().unwrap() >= 1, "{report}");
            }
            "messages" if args[1] == "export" => self.exports.push(stdout),
            _ => {}
        }
    }
}

#[test]
fn commands_and_ports_are_read_from_the_readme_as_written() {
    let parsed =
        step("archivist codex-devnode --listen 127.0.0.1:8080 --data-dir codex-a &").unwrap();
    assert!(parsed.background);
    assert_eq!(
        parsed.args,
        [
            "codex-devnode",
            "--listen",
            "127.0.0.1:8080",
            "--data-dir",
            "codex-a"
        ]
    );
    let parsed =
        step("archivist run --config examples/owner.toml       # archives, seeds").unwrap();
    assert!(!parsed.background);
    assert_eq!(parsed.args, ["run", "--config", "examples/owner.toml"]);
    assert!(step("cargo install --path crates/archivist-cli").is_none());

    let mut ports = Vec::new();
    ports_in(
        "listen = [\"/ip4/127.0.0.1/tcp/60000\"]\nurl = \"http://127.0.0.1:8080\"",
        &mut ports,
    );
    assert_eq!(ports, [8080, 60000]);
    // A new port that is also an old one is not moved twice.
    let map = BTreeMap::from([(8080, 60000), (60000, 16000)]);
    assert_eq!(
        remap(
            "[\"/ip4/127.0.0.1/tcp/60000\"] http://127.0.0.1:8080 127.0.0.1:80801\n",
            &map
        ),
        "[\"/ip4/127.0.0.1/tcp/16000\"] http://127.0.0.1:60000 127.0.0.1:80801\n"
    );
}
