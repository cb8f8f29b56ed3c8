//! Tests of the crash-safe append.

use std::io::Write;

use archive_index::{ArchiveRun, Message, PIECE_LENGTH, TimeRange, Topic, write_archives};

use super::*;

const TOPIC: Topic = Topic([1, 2, 3, 4]);
const DAY: u64 = 86_400;

fn community() -> CommunityId {
    format!("0x02{}", "11".repeat(32)).parse().unwrap()
}

fn msg(timestamp: u64, hash: u8) -> Message {
    Message {
        sig: vec![1],
        timestamp,
        topic: TOPIC,
        payload: vec![1],
        padding: vec![1],
        hash: vec![hash],
        third_party_id: String::new(),
    }
}

fn week(
    from: u64,
    messages: Vec<Message>,
) -> impl FnOnce(&mut dyn Write, u64) -> Result<WriteReport> {
    move |out, start| {
        let run = ArchiveRun {
            range: TimeRange {
                from,
                to: from + 7 * DAY,
            },
            interval: 7 * DAY,
            topics: vec![TOPIC],
        };
        Ok(write_archives(out, start, &run, messages)?.1)
    }
}

#[test]
fn a_run_without_archives_creates_nothing() {
    let root = tempfile::tempdir().unwrap();
    let dir = ArchiveDir::new(root.path(), &community());
    let outcome = dir.append(week(0, vec![])).unwrap();
    assert!(outcome.report.archives.is_empty());
    assert!(!dir.path().exists());
}

#[test]
fn appends_extend_data_and_index() {
    let root = tempfile::tempdir().unwrap();
    let dir = ArchiveDir::new(root.path(), &community());
    dir.append(week(0, vec![msg(10, 1)])).unwrap();
    let first = fs::read(dir.data_path()).unwrap();
    let outcome = dir
        .append(week(7 * DAY, vec![msg(7 * DAY + 5, 2)]))
        .unwrap();
    assert_eq!(outcome.report.archives[0].entry.offset, PIECE_LENGTH);
    let data = fs::read(dir.data_path()).unwrap();
    assert_eq!(&data[..first.len()], &first[..]);
    assert_eq!(dir.load_index().unwrap().len(), 2);
    assert_eq!(dir.load_index().unwrap(), outcome.index);
}

#[test]
fn leftovers_of_a_crashed_append_are_cut_off() {
    let root = tempfile::tempdir().unwrap();
    let dir = ArchiveDir::new(root.path(), &community());
    dir.append(week(0, vec![msg(10, 1)])).unwrap();
    // A crash after writing data but before replacing the index.
    OpenOptions::new()
        .append(true)
        .open(dir.data_path())
        .unwrap()
        .write_all(&[7; 5000])
        .unwrap();
    let outcome = dir
        .append(week(7 * DAY, vec![msg(7 * DAY + 5, 2)]))
        .unwrap();
    assert_eq!(outcome.truncated, 5000);
    assert_eq!(dir.data_len().unwrap(), 2 * PIECE_LENGTH);
    assert_eq!(outcome.report.archives[0].entry.offset, PIECE_LENGTH);
}

#[test]
fn a_data_file_shorter_than_the_index_is_refused() {
    let root = tempfile::tempdir().unwrap();
    let dir = ArchiveDir::new(root.path(), &community());
    dir.append(week(0, vec![msg(10, 1)])).unwrap();
    let index_before = fs::read(dir.index_path()).unwrap();
    OpenOptions::new()
        .write(true)
        .open(dir.data_path())
        .unwrap()
        .set_len(10)
        .unwrap();
    let err = dir
        .append(week(7 * DAY, vec![msg(7 * DAY + 5, 2)]))
        .unwrap_err();
    assert!(
        matches!(err, Error::DataTruncated { expected, actual: 10, .. } if expected == PIECE_LENGTH)
    );
    assert_eq!(fs::read(dir.index_path()).unwrap(), index_before);
}

#[test]
fn a_failing_writer_leaves_the_files_as_they_were() {
    let root = tempfile::tempdir().unwrap();
    let dir = ArchiveDir::new(root.path(), &community());
    dir.append(week(0, vec![msg(10, 1)])).unwrap();
    let (data, index) = (
        fs::read(dir.data_path()).unwrap(),
        fs::read(dir.index_path()).unwrap(),
    );
    let err = dir
        .append(|out, _| {
            out.write_all(&[9; 300_000]).map_err(|e| Error::Io {
                path: "data".into(),
                source: e,
            })?;
            Err(archive_index::Error::ZeroInterval.into())
        })
        .unwrap_err();
    assert!(matches!(err, Error::Format(_)));
    assert_eq!(fs::read(dir.data_path()).unwrap(), data);
    assert_eq!(fs::read(dir.index_path()).unwrap(), index);
}

#[test]
fn a_second_writer_of_one_folder_fails_at_once_naming_the_holder() {
    let root = tempfile::tempdir().unwrap();
    let first = ArchiveDir::new(root.path(), &community());
    let second = ArchiveDir::new(root.path(), &community());
    let mut inner = None;
    first
        .append(|out: &mut dyn Write, start| {
            // While the first append runs, a second writer of the same folder.
            inner = Some(second.append(week(7 * DAY, vec![msg(7 * DAY + 5, 2)])));
            week(0, vec![msg(10, 1)])(out, start)
        })
        .unwrap();
    let err = inner.unwrap().unwrap_err();
    let Error::Locked { path, holder } = &err else {
        panic!("expected Locked, got {err}");
    };
    assert_eq!(path, &first.lock_path());
    assert!(
        holder.starts_with(&format!("pid {}:", std::process::id())),
        "{holder}"
    );
    // Only the first writer's archive is there, and the index describes it.
    let (_, len, index) = first.open_data().unwrap();
    assert_eq!(index.len(), 1);
    assert_eq!(len, index.data_len());
    // Once the first is done, the second may write.
    second
        .append(week(7 * DAY, vec![msg(7 * DAY + 5, 2)]))
        .unwrap();
    assert_eq!(second.load_index().unwrap().len(), 2);
}

#[test]
fn creating_a_community_folder_creates_its_parents_owner_only() {
    let root = tempfile::tempdir().unwrap();
    let dir = ArchiveDir::new(&root.path().join("archives"), &community());
    let created = dir.create().unwrap();
    assert_eq!(
        created,
        vec![dir.path().to_path_buf(), root.path().join("archives")]
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(dir.path()).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
    }
    assert!(
        dir.create().unwrap().is_empty(),
        "nothing new the second time"
    );
}

#[test]
fn a_rewind_takes_back_the_archives_from_a_time_on_and_a_rerun_replaces_them() {
    let root = tempfile::tempdir().unwrap();
    let dir = ArchiveDir::new(root.path(), &community());
    dir.append(week(0, vec![msg(10, 1)])).unwrap();
    let first_week = fs::read(dir.data_path()).unwrap();
    dir.append(week(7 * DAY, vec![msg(7 * DAY + 5, 2)]))
        .unwrap();
    dir.append(week(14 * DAY, vec![msg(14 * DAY + 5, 3)]))
        .unwrap();

    // Nothing ends after the last archive's end.
    assert!(dir.rewind(21 * DAY).unwrap().is_empty());
    assert_eq!(dir.load_index().unwrap().len(), 3);

    // A time inside the second week takes back the second and the third.
    let taken = dir.rewind(7 * DAY + 1).unwrap();
    let ranges: Vec<u64> = taken.iter().map(|e| e.metadata.range.from).collect();
    assert_eq!(ranges, [7 * DAY, 14 * DAY]);
    assert_eq!(dir.load_index().unwrap().len(), 1);
    assert_eq!(fs::read(dir.data_path()).unwrap(), first_week);

    // Archived again with a late message, the week gets a new archive.
    let again = dir
        .append(week(
            7 * DAY,
            vec![msg(7 * DAY + 5, 2), msg(7 * DAY + 9, 4)],
        ))
        .unwrap();
    assert_eq!(again.report.archives[0].entry.offset, PIECE_LENGTH);
    assert_ne!(again.report.archives[0].id, taken[0].id());
    assert_eq!(dir.load_index().unwrap().len(), 2);
}
