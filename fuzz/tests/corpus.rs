//! Replays every committed corpus file through its target's property with
//! plain `cargo test`, no libFuzzer needed: crashes found once stay fixed.

use std::{fs, path::Path};

#[test]
fn every_corpus_file_passes_its_target() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    let mut replayed = 0;
    for target in archivist_fuzz::TARGETS {
        let dir = root.join(target);
        let files = fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        for file in files {
            let path = file.expect("a directory entry").path();
            let bytes = fs::read(&path).expect("a corpus file");
            assert!(archivist_fuzz::run(target, &bytes));
            replayed += 1;
        }
    }
    assert!(
        replayed >= archivist_fuzz::TARGETS.len(),
        "every target has seeds"
    );
}
