//! What the benchmarks (and the memory test) share: a global allocator that counts the heap, and a tasks file
//! of the shape a genomics job has.
//!
//! The counters see the whole process, so a binary that installs [`Counting`] measures one thing at a time.

#![allow(dead_code)] // each binary uses its part

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

/// Counts live bytes, their peak and the number of allocations. Past [`set_ceiling`]'s bytes it refuses to
/// allocate, so a regression fails (the process aborts on the failed allocation) instead of taking the
/// machine's memory.
pub struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);
static CEILING: AtomicUsize = AtomicUsize::new(usize::MAX);

/// Refuse allocations that would take the live heap past `bytes`.
pub fn set_ceiling(bytes: usize) {
    CEILING.store(bytes, Relaxed);
}

fn grow(by: usize) -> bool {
    let live = LIVE.fetch_add(by, Relaxed) + by;
    if live > CEILING.load(Relaxed) {
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
        ALLOCATIONS.fetch_add(1, Relaxed);
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
        ALLOCATIONS.fetch_add(1, Relaxed);
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

/// The heap one call of `work` took: its peak above what was live before, and its allocations.
#[derive(Debug, Clone, Copy)]
pub struct Heap {
    pub peak: usize,
    pub allocations: usize,
}

pub fn heap_of<T>(work: impl FnOnce() -> T) -> (T, Heap) {
    let before = LIVE.load(Relaxed);
    PEAK.store(before, Relaxed);
    let allocations = ALLOCATIONS.load(Relaxed);
    let out = work();
    let heap = Heap {
        peak: PEAK.load(Relaxed) - before,
        allocations: ALLOCATIONS.load(Relaxed) - allocations,
    };
    (out, heap)
}

/// A genomics job's tasks file: `rows` rows of 8 columns (every kind: env, label, inputs, a recursive input, a
/// secret, outputs), under an `#ecsub:` line.
pub fn genomics_tasks(rows: usize) -> String {
    let mut tsv = String::from(
        "#ecsub: --image python:3.12-slim --spot --aws-ec2-instance-type t3.micro,t3.small\n\
         --env SAMPLE\t--label batch\t--input BAM\t--input BAI\t--input-recursive REF\t--secret-env TOKEN\t\
         --output VCF\t--output-recursive QC\n",
    );
    for i in 0..rows {
        tsv.push_str(&format!(
            "sample-{i:05}\tnight-7\ts3://genome-input/cohort/s{i:05}/reads.bam\ts3://genome-input/cohort/s{i:05}/reads.bam.bai\t\
             s3://genome-ref/GRCh38/\tAQICAHhZmFrZWNpcGhlcnRleHQ{i}=\ts3://genome-output/cohort/s{i:05}/calls.vcf.gz\t\
             s3://genome-output/cohort/s{i:05}/qc\n"
        ));
    }
    tsv
}
