//! Outputs that two tasks share (probe 2026-12, findings 11 and 25): each is warned about at its cell, naming the
//! other's, and the check takes the file's size (sorted once), not rows × rows.

#![allow(clippy::unwrap_used)]

use ecsub_core::outputs::{listing_prefix, overlaps};
use ecsub_core::tasks::{parse, shared_outputs, Cell};
use ecsub_core::S3Path;
use proptest::prelude::*;

fn warnings(tsv: &str) -> Vec<String> {
    let file = parse("t.tsv", tsv.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
    shared_outputs(&file, tsv.as_bytes())
        .iter()
        .map(ToString::to_string)
        .collect()
}

#[test]
fn two_tasks_with_one_output_key_are_warned_about_naming_both_cells() {
    // The probe's `race/`: the lazy task's empty attempt counted as succeeded, the writer's upload landing during it.
    let got = warnings(
        "--env WHO\t--output OUT\nwriter\ts3://bkt/shared/result.txt\nlazy\ts3://bkt/shared/result.txt\n",
    );
    assert_eq!(
        got,
        ["t.tsv:3:6: warning: column 2 (`--output OUT`): `s3://bkt/shared/result.txt` is also an output of task 0 \
          (t.tsv:2:8): the tasks overwrite each other's result, and either one's upload can count as the other's \
          output"]
    );
}

#[test]
fn a_file_where_another_task_needs_a_folder_is_warned_about() {
    // The probe's `r18/`: S3 holds `pre/a` and `pre/a/b`, the local S3 root cannot.
    let got = warnings("--output OUT\ns3://bkt/pre/a\ns3://bkt/pre/a/b\n");
    assert_eq!(
        got,
        ["t.tsv:3:1: warning: column 1 (`--output OUT`): `s3://bkt/pre/a/b` needs a folder where task 0 \
          (t.tsv:2:1) writes the file `s3://bkt/pre/a`: S3 holds both, the local S3 root (`run --local`) cannot, \
          so the later upload fails there"]
    );
    let got =
        warnings("--output OUT\t--output-recursive DIR\ns3://bkt/pre/a\t\n\ts3://bkt/pre/a\n");
    assert_eq!(
        got,
        ["t.tsv:2:1: warning: column 1 (`--output OUT`): `s3://bkt/pre/a` is a file where the output \
          `s3://bkt/pre/a/` of task 1 (t.tsv:3:2) needs a folder: S3 holds both, the local S3 root (`run --local`) \
          cannot, so the later upload fails there"]
    );
}

#[test]
fn an_output_in_another_task_s_output_folder_is_warned_about() {
    let got = warnings(
        "--output-recursive DIR\t--output OUT\ns3://bkt/res\t\n\ts3://bkt/res/x/y.txt\n\ts3://bkt/res/*.txt\n",
    );
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(
        got[0],
        "t.tsv:3:2: warning: column 2 (`--output OUT`): `s3://bkt/res/x/y.txt` lies in the output folder \
         `s3://bkt/res/` of task 0 (t.tsv:2:1): either task's upload can count as the other's output"
    );
    assert!(got[1].starts_with(
        "t.tsv:4:2: warning: column 2 (`--output OUT`): `s3://bkt/res/*.txt` lies in"
    ));
}

#[test]
fn outputs_apart_or_of_one_task_are_not_warned_about() {
    // One folder of many tasks' files, neighbours (`res` and `res2`), other buckets, and a task's own outputs.
    let got = warnings(
        "--output OUT\t--output-recursive DIR\n\
         s3://bkt/out/a.txt\ts3://bkt/res/a\n\
         s3://bkt/out/b.txt\ts3://bkt/res2\n\
         s3://other/out/a.txt\ts3://bkt/res/b\n\
         s3://bkt/mine/x\ts3://bkt/mine\n",
    );
    assert!(got.is_empty(), "{got:?}");
    // Wildcards of one folder that cannot match one name; the same wildcard twice is warned about, whatever sorts
    // between them.
    let got = warnings("--output G\ns3://bkt/o/*.txt\ns3://bkt/o/*.log\ns3://bkt/o/*.txt\n");
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(got[0].starts_with("t.tsv:4:1: warning: column 1 (`--output G`): `s3://bkt/o/*.txt` is also an output of task 0 (t.tsv:2:1)"));
}

/// Many rows over one output: one warning a row, each naming the first; a deep chain of folders, each in the
/// next one's way: one each. Both are linear here; a pairwise check would take rows × rows.
#[test]
fn the_check_takes_the_file_s_size() {
    let rows = 50_000;
    let tsv = format!("--output OUT\n{}", "s3://bkt/same.txt\n".repeat(rows));
    let got = warnings(&tsv);
    assert_eq!(got.len(), rows - 1);
    assert!(got.iter().all(|w| w.contains("task 0 (t.tsv:2:1)")));
    let chain: String = (1..400)
        .map(|d| format!("s3://bkt/{}\n", "d/".repeat(d)))
        .collect();
    let got = warnings(&format!("--output-recursive DIR\n{chain}"));
    assert_eq!(
        got.len(),
        398,
        "every folder but the first lies in the one above"
    );
}

/// Locations to draw from: folders, files and wildcards that nest, block, match and neighbour each other.
const FOLDERS: [&str; 6] = [
    "s3://bkt",
    "s3://bkt/a",
    "s3://bkt/a/b",
    "s3://bkt/ab",
    "s3://bkt/a/x.txt",
    "s3://oth/a",
];
const FILES: [&str; 9] = [
    "s3://bkt/a",
    "s3://bkt/a/b",
    "s3://bkt/a/b/c",
    "s3://bkt/ab",
    "s3://bkt/a/x.txt",
    "s3://bkt/a/*.txt",
    "s3://bkt/a/*",
    "s3://bkt/*.txt",
    "s3://bkt/a/x*",
];

/// The folder a location needs (a file's own key: anything under it needs it as a folder).
fn needs(path: &S3Path) -> &str {
    if path.has_wildcard() {
        listing_prefix(path)
    } else {
        path.key()
    }
}

/// Must two outputs of two tasks be warned about (at one of them, at least)? The same location, one holding the
/// other (a folder), or a file at a key the other needs as a folder. (Two different wildcards, or a wildcard and
/// a file, that could match one name are warned about only sometimes: not required here.)
fn must_clash(a: &S3Path, b: &S3Path) -> bool {
    let blocks = |f: &S3Path, o: &S3Path| {
        !f.is_recursive() && !f.has_wildcard() && needs(o).starts_with(&format!("{}/", f.key()))
    };
    a.bucket() == b.bucket()
        && (a == b
            || ((a.is_recursive() || b.is_recursive()) && overlaps(a, b))
            || blocks(a, b)
            || blocks(b, a))
}

/// May a warning at `a` be about `b`? Any of the above, or two locations that could hold one object.
fn may_clash(a: &S3Path, b: &S3Path) -> bool {
    must_clash(a, b) || overlaps(a, b)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn every_clash_is_warned_about_at_one_of_its_cells_and_every_warning_is_one(
        rows in prop::collection::vec(
            (prop::option::of(0..FOLDERS.len()), prop::option::of(0..FILES.len()), prop::option::of(0..FILES.len())),
            1..14,
        )
    ) {
        let mut tsv = String::from("--env N\t--output-recursive D\t--output F\t--output G\n");
        for (n, (d, f, g)) in rows.iter().enumerate() {
            let cell = |i: Option<usize>, from: &[&str]| i.map_or("", |i| from[i]).to_owned();
            tsv.push_str(&format!("{n}\t{}\t{}\t{}\n", cell(*d, &FOLDERS), cell(*f, &FILES), cell(*g, &FILES)));
        }
        let file = parse("t.tsv", tsv.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
        let warned = shared_outputs(&file, tsv.as_bytes());
        // Each output cell: its task, its place (line, column as the parser counts) and its location.
        let mut outputs = Vec::new();
        for task in &file.tasks {
            let line = tsv.lines().nth(task.line - 1).unwrap();
            let mut column = 1;
            for (c, text) in line.split('\t').enumerate() {
                if let Some(Cell::Path(path)) = task.cells.get(c) {
                    outputs.push((task.index, (task.line, column), path));
                }
                column += text.chars().count() + 1;
            }
        }
        prop_assert!(warned.len() <= 3 * outputs.len());
        let at = |place: (usize, usize)| warned.iter().any(|w| (w.line, w.column) == place);
        for (t, place, path) in &outputs {
            for (u, other_place, other) in &outputs {
                if t != u && must_clash(path, other) {
                    prop_assert!(at(*place) || at(*other_place), "{path} and {other}: neither is warned about\n{tsv}");
                }
            }
        }
        for w in &warned {
            let (t, _, path) = outputs.iter().find(|(_, place, _)| *place == (w.line, w.column)).unwrap();
            prop_assert!(
                outputs.iter().any(|(u, _, other)| u != t && may_clash(path, other)),
                "{w}\n{tsv}"
            );
        }
    }
}
