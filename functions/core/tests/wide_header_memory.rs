//! Probe 2026-12, finding 3: a tasks file's parse costs memory by the file's size, not by its rows times its
//! columns. The probe's `k20r3000.tsv` (295 KB: 20 000 empty `--input` columns, 3 000 rows of one cell) made
//! `validate` allocate gigabytes; its heap is counted here. One test in its own binary: the allocator counts the
//! whole process, so no other test may run beside it.

#![allow(clippy::unwrap_used)]

#[path = "../benches/support/mod.rs"]
mod support;

#[global_allocator]
static ALLOCATOR: support::Counting = support::Counting;

/// The parse's peak heap stays within a small multiple of the file (here ~300 KB), whatever its rows × columns
/// (60 million cells).
#[test]
fn a_wide_header_over_many_short_rows_parses_in_memory_bounded_by_the_file() {
    let header: Vec<String> = std::iter::once("--env A".to_owned())
        .chain((0..20_000).map(|k| format!("--input I{k}")))
        .collect();
    let tsv = format!("{}\n{}", header.join("\t"), "a\n".repeat(3_000));
    assert!(tsv.len() < 300_000, "{}", tsv.len());
    // A regression fails here (the allocation is refused) instead of taking the machine's memory.
    support::set_ceiling(1 << 30);
    let (file, heap) =
        support::heap_of(|| ecsub_core::tasks::parse("k20r3000.tsv", tsv.as_bytes()));
    let file = file.unwrap();
    let peak = heap.peak;
    assert_eq!(file.tasks.len(), 3_000);
    assert!(
        peak < 64 * tsv.len(),
        "parsing a {}-byte file took {peak} bytes of heap at its peak",
        tsv.len()
    );
}
