//! archive-index's integration tests: what each decoder may cost in memory,
//! measured with a counting global allocator over hostile and honest input.

mod memory;

use std::sync::{Mutex, MutexGuard};

use peak_alloc::PeakAlloc;

#[global_allocator]
static HEAP: PeakAlloc = PeakAlloc;

/// The allocator's counters are process-wide, so every test of this binary
/// holds this lock for its whole body: nothing else allocates while one
/// measures.
static SERIAL: Mutex<()> = Mutex::new(());

pub(crate) fn serial() -> MutexGuard<'static, ()> {
    SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Runs `f` and returns its result with the most heap bytes live at any one
/// time beyond those live when it started (the result included).
pub(crate) fn peak_during<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let base = HEAP.current_usage();
    HEAP.reset_peak_usage();
    let out = f();
    (out, HEAP.peak_usage().saturating_sub(base))
}

/// Peak heap at most `ratio` × the input, plus the fixed allowance every
/// decoder has for tiny inputs: 4 for archives (issue 19), 8 for indexes.
#[allow(
    clippy::print_stderr,
    reason = "the measured peak is what these tests report (see --nocapture)"
)]
pub(crate) fn assert_within(what: &str, ratio: usize, input: usize, peak: usize) {
    let bound = ratio * input + archive_index::DECODE_HEAP_ALLOWANCE as usize;
    eprintln!(
        "{what}: {input} input bytes, peak heap {peak} bytes ({:.2}×)",
        peak as f64 / input as f64
    );
    assert!(
        peak <= bound,
        "{what}: peak heap {peak} bytes for {input} input bytes, over {bound}"
    );
}
