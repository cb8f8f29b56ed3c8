//! One writer per store (the advisory lock on `<db>.lock`), and read-only
//! opens that take no lock, write nothing and work on read-only files.
//!
//! The second process is this test binary itself, re-run with a filter
//! selecting [`lock_holder_child`] and an environment variable that turns it
//! on, as in `crash.rs`.

use std::{
    fs,
    os::unix::fs::PermissionsExt,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    thread,
    time::{Duration, Instant},
};

use archive_store::{Database, Error, Store};

use crate::{
    open::sidecars_absent,
    sample::{EVERYTHING, all, message, topic},
};

const CHILD_ENV: &str = "ARCHIVE_STORE_LOCK_CHILD_DB";
const DEADLINE: Duration = Duration::from_secs(60);

#[test]
fn a_second_writer_is_refused_at_once_naming_the_holder() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    let mut first = Database::open(&path).unwrap();
    first.insert_messages(&[message(topic(1), 10, 1)]).unwrap();

    let started = Instant::now();
    let err = Database::open(&path).unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(5), "it waited");
    match &err {
        Error::Locked { path: p, holder } => {
            assert_eq!(p, &path);
            assert!(
                holder.contains(&format!("pid {}", std::process::id())),
                "{holder}"
            );
        }
        e => panic!("expected Locked, got {e:?}"),
    }
    assert!(err.to_string().contains("open for writing"), "{err}");

    // Readers need no lock and see what the writer committed.
    let reader = Database::open_read_only(&path).unwrap();
    assert_eq!(all(&reader, &[topic(1)]), vec![message(topic(1), 10, 1)]);

    drop(first);
    let mut again = Database::open(&path).unwrap();
    again.insert_messages(&[message(topic(1), 11, 2)]).unwrap();
}

/// Runs only when the parent re-executes this binary for it: holds the
/// store open for writing until the parent creates the release file.
#[test]
fn lock_holder_child() {
    let Some(path) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let path = PathBuf::from(path);
    let db = Database::open(&path).unwrap();
    fs::write(path.with_extension("ready"), b"").unwrap();
    let deadline = Instant::now() + DEADLINE;
    while !path.with_extension("release").exists() && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(10));
    }
    drop(db);
}

/// Kills and reaps the child however the parent leaves.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
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

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + DEADLINE;
    while !done() {
        assert!(Instant::now() < deadline, "{what} did not happen in time");
        thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_writer_in_another_process_is_named_and_its_exit_frees_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    drop(Database::open(&path).unwrap());
    let mut child = Reaped(
        Command::new(std::env::current_exe().unwrap())
            .args([
                "lock::lock_holder_child",
                "--exact",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, &path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_for("the child's open", || {
        path.with_extension("ready").exists() || matches!(child.0.try_wait(), Ok(Some(_)))
    });
    assert!(
        path.with_extension("ready").exists(),
        "the child exited early"
    );

    let err = Database::open(&path).unwrap_err();
    match &err {
        Error::Locked { holder, .. } => {
            assert!(
                holder.contains(&format!("pid {}", child.0.id())),
                "{holder}"
            );
            assert!(holder.contains("lock_holder_child"), "{holder}");
        }
        e => panic!("expected Locked, got {e:?}"),
    }
    Database::open_read_only(&path).unwrap();

    fs::write(path.with_extension("release"), b"").unwrap();
    wait_for("the child's exit", || {
        matches!(child.0.try_wait(), Ok(Some(_)))
    });
    Database::open(&path).unwrap();
}

fn set_mode(path: &Path, mode: u32) {
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

/// `status` and `messages export` only read: they must work on a store the
/// user may not write (file 0444 in a 0555 directory) and leave it as it was.
#[tokio::test]
async fn a_read_only_open_works_on_a_read_only_file_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("ro");
    fs::create_dir(&folder).unwrap();
    let path = folder.join("store.db");
    {
        let mut db = Database::open(&path).unwrap();
        db.insert_messages(&[message(topic(1), 10, 1), message(topic(2), 20, 2)])
            .unwrap();
    }
    fs::remove_file(folder.join("store.db.lock")).unwrap();
    let before = fs::read(&path).unwrap();
    set_mode(&path, 0o444);
    set_mode(&folder, 0o555);

    let result = std::panic::AssertUnwindSafe(async {
        let db = Database::open_read_only(&path).unwrap();
        assert_eq!(db.message_count().unwrap(), 2);
        assert_eq!(db.topics().unwrap(), vec![topic(1), topic(2)]);
        drop(db);
        let store = Store::open_read_only(path.clone()).await.unwrap();
        assert_eq!(store.message_count().await.unwrap(), 2);
        assert_eq!(
            store.oldest_timestamp(vec![topic(2)]).await.unwrap(),
            Some(20)
        );
        let db = Database::open_read_only(&path).unwrap();
        let mut db = db;
        // Writes through a read-only handle fail; nothing changes.
        assert!(db.insert_messages(&[message(topic(1), 30, 3)]).is_err());
        assert_eq!(db.messages(&[topic(1)], EVERYTHING).unwrap().len(), 1);
    });
    let outcome = futures::FutureExt::catch_unwind(result).await;
    set_mode(&folder, 0o755);
    set_mode(&path, 0o644);
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
    assert_eq!(fs::read(&path).unwrap(), before, "the file was modified");
    sidecars_absent(&path);
    assert!(!folder.join("store.db.lock").exists(), "a lock was taken");
}

/// A node that stopped while handles to its store live on gives up writing,
/// so the node restarted on the same files in the same process can open it.
#[tokio::test]
async fn a_released_writer_frees_the_store_and_keeps_reading() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    let stopped = Store::open(path.clone()).await.unwrap();
    stopped
        .insert_messages(vec![message(topic(1), 10, 1)])
        .await
        .unwrap();
    assert!(matches!(
        Store::open(path.clone()).await,
        Err(Error::Locked { .. })
    ));

    stopped.release_writer().await.unwrap();
    stopped.release_writer().await.unwrap();
    let restarted = Store::open(path.clone()).await.unwrap();
    restarted
        .insert_messages(vec![message(topic(1), 11, 2)])
        .await
        .unwrap();
    assert_eq!(stopped.message_count().await.unwrap(), 2, "it reads on");
    assert!(
        stopped
            .insert_messages(vec![message(topic(1), 12, 3)])
            .await
            .is_err()
    );
    assert_eq!(restarted.message_count().await.unwrap(), 2);
}
