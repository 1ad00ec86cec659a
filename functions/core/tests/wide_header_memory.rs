//! Probe 2026-12, finding 3: a tasks file's parse costs memory by the file's size, not by its rows times its
//! columns. The probe's `k20r3000.tsv` (295 KB: 20 000 empty `--input` columns, 3 000 rows of one cell) made
//! `validate` allocate gigabytes; its heap is counted here. One test in its own binary: the allocator counts the
//! whole process, so no other test may run beside it.

#![allow(clippy::unwrap_used)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

/// Counts live bytes and their peak; refuses to go past [`CEILING`], so a regression fails (the process aborts
/// on the failed allocation) instead of taking the machine's memory.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
const CEILING: usize = 1 << 30;

fn grow(by: usize) -> bool {
    let live = LIVE.fetch_add(by, Relaxed) + by;
    if live > CEILING {
        LIVE.fetch_sub(by, Relaxed);
        return false;
    }
    PEAK.fetch_max(live, Relaxed);
    true
}

// The workspace denies unsafe code; a global allocator cannot be written without it. SAFETY: every call is
// passed on to the system allocator unchanged (or refused with null, which the caller's contract allows); the
// counters only observe sizes.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if !grow(layout.size()) {
            return std::ptr::null_mut();
        }
        // SAFETY: the caller's contract for `layout` is the system allocator's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Relaxed);
        // SAFETY: `ptr` was allocated by `System` with `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size >= layout.size() {
            if !grow(new_size - layout.size()) {
                return std::ptr::null_mut();
            }
        } else {
            LIVE.fetch_sub(layout.size() - new_size, Relaxed);
        }
        // SAFETY: `ptr` was allocated by `System` with `layout`; the caller's contract for `new_size` holds.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// The parse's peak heap stays within a small multiple of the file (here ~300 KB), whatever its rows × columns
/// (60 million cells).
#[test]
fn a_wide_header_over_many_short_rows_parses_in_memory_bounded_by_the_file() {
    let header: Vec<String> = std::iter::once("--env A".to_owned())
        .chain((0..20_000).map(|k| format!("--input I{k}")))
        .collect();
    let tsv = format!("{}\n{}", header.join("\t"), "a\n".repeat(3_000));
    assert!(tsv.len() < 300_000, "{}", tsv.len());
    let before = LIVE.load(Relaxed);
    PEAK.store(before, Relaxed);
    let file = ecsub_core::tasks::parse("k20r3000.tsv", tsv.as_bytes()).unwrap();
    let peak = PEAK.load(Relaxed) - before;
    assert_eq!(file.tasks.len(), 3_000);
    assert!(
        peak < 64 * tsv.len(),
        "parsing a {}-byte file took {peak} bytes of heap at its peak",
        tsv.len()
    );
}
