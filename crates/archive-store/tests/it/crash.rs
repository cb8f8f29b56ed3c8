//! Crash test: a child process replaces a large range over and over and is
//! killed with SIGKILL at a random moment; after reopening, the range must
//! hold exactly the old or exactly the new set, never a mix.
//!
//! The child is this test binary itself, re-run with a filter selecting
//! [`crash_child`] and an environment variable that turns it on.

use std::{
    collections::hash_map::RandomState,
    fs,
    hash::BuildHasher,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    thread,
    time::{Duration, Instant},
};

use archive_index::{Archive, Message, TimeRange};
use archive_store::Database;

use crate::sample::{archive, archive_id, community, topic};

const CHILD_ENV: &str = "ARCHIVE_STORE_CRASH_CHILD_DB";
const MESSAGES: u64 = 200_000;
const ROUNDS: usize = 4;
const DEADLINE: Duration = Duration::from_secs(60);

/// Generation `g` of the range: `MESSAGES` messages whose hashes start with
/// `g`, so any mix of generations is visible in a single pass. The two
/// generations' ranges differ by one second so that neither counts as a
/// sibling chunk of the other and each import replaces.
fn generation(g: u8) -> Archive {
    let messages = (0..MESSAGES)
        .map(|i| {
            let mut hash = vec![g];
            hash.extend_from_slice(&i.to_be_bytes());
            Message {
                sig: vec![g; 8],
                timestamp: i % 1_000,
                topic: topic(1),
                payload: vec![g; 16],
                padding: Vec::new(),
                hash,
                third_party_id: String::new(),
            }
        })
        .collect();
    archive(
        TimeRange {
            from: 0,
            to: 1_000 + u64::from(g),
        },
        &[topic(1)],
        messages,
    )
}

/// Which generation the stored range holds, or a description of the mix.
fn stored_generation(path: &Path) -> Result<u8, String> {
    let db = Database::open(path).map_err(|e| e.to_string())?;
    let mut counts = [0u64; 2];
    db.for_each_message(&[topic(1)], TimeRange { from: 0, to: 2_000 }, |m| {
        counts[usize::from(m.hash[0])] += 1;
        Ok::<_, archive_store::Error>(())
    })
    .map_err(|e| e.to_string())?;
    match counts {
        [MESSAGES, 0] => Ok(0),
        [0, MESSAGES] => Ok(1),
        [old, new] => Err(format!("{old} old and {new} new messages")),
    }
}

/// Runs only when the parent re-executes this binary for it.
#[test]
fn crash_child() {
    let Some(path) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let path = PathBuf::from(path);
    let archives = [generation(0), generation(1)];
    let mut db = Database::open(&path).unwrap();
    fs::write(path.with_extension("ready"), b"").unwrap();
    for round in 1u64.. {
        let g = (round % 2) as usize;
        db.import_archive(&community(1), &archive_id(g as u64), &archives[g])
            .unwrap();
    }
}

/// Kills and reaps the child however the parent leaves.
struct Reaped(Child);

impl Reaped {
    fn kill(&mut self) {
        let _ = self.0.kill();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            thread::sleep(Duration::from_millis(5));
        }
    }
}

impl Drop for Reaped {
    fn drop(&mut self) {
        self.kill();
    }
}

fn random_below(bound: u64) -> u64 {
    RandomState::new().hash_one(Instant::now()) % bound.max(1)
}

#[test]
fn sigkill_during_a_large_import_leaves_old_or_new_never_a_mix() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crash.db");
    let started = Instant::now();
    {
        let mut db = Database::open(&path).unwrap();
        db.import_archive(&community(1), &archive_id(0), &generation(0))
            .unwrap();
    }
    // One import's duration, to aim kills across the child's whole cycle.
    let one_import = started.elapsed().as_millis() as u64;
    let exe = std::env::current_exe().unwrap();
    let mut seen = Vec::new();

    for round in 0..ROUNDS {
        let ready = path.with_extension("ready");
        let _ = fs::remove_file(&ready);
        let log = fs::File::create(dir.path().join(format!("child-{round}.log"))).unwrap();
        let mut child = Reaped(
            Command::new(&exe)
                .args([
                    "crash::crash_child",
                    "--exact",
                    "--nocapture",
                    "--test-threads=1",
                ])
                .env(CHILD_ENV, &path)
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .unwrap(),
        );
        let deadline = Instant::now() + DEADLINE;
        while !ready.exists() {
            if let Ok(Some(status)) = child.0.try_wait() {
                let log =
                    fs::read_to_string(dir.path().join(format!("child-{round}.log"))).unwrap();
                panic!("child exited early with {status}: {log}");
            }
            assert!(Instant::now() < deadline, "child never became ready");
            thread::sleep(Duration::from_millis(5));
        }
        thread::sleep(Duration::from_millis(random_below(3 * one_import)));
        child.kill();

        match stored_generation(&path) {
            Ok(g) => seen.push(g),
            Err(mix) => panic!("round {round}: the range holds a mix: {mix}"),
        }
    }
    assert_eq!(seen.len(), ROUNDS);
}
