//! dsub's own tasks files (`tests/dsub-corpus/`, from its examples and tests, `gs://` made `s3://`) are read by
//! `validate` with the tasks and the columns dsub gives them: the same number of tasks, each column's kind and
//! name as its header says.

#![allow(clippy::unwrap_used)]

mod common;
use common::{cli, repo, run};
use serde_json::Value;

/// A file of the corpus, its number of tasks (rows after the header) and its columns (kind, name) as dsub reads
/// its header.
type Expected = (&'static str, usize, &'static [(&'static str, &'static str)]);

const CORPUS: [Expected; 5] = [
    (
        "custom_scripts.tsv",
        3,
        &[("input", "INPUT_VCF"), ("output", "OUTPUT_FILE")],
    ),
    (
        "decompress.tsv",
        3,
        &[("input", "INPUT_VCF"), ("output", "OUTPUT_VCF")],
    ),
    (
        "fastqc.tsv",
        3,
        &[("output", "OUTPUT_FILES"), ("input", "INPUT_BAM")],
    ),
    (
        "samtools.tsv",
        3,
        &[("output", "OUTPUT_BAI"), ("input", "INPUT_BAM")],
    ),
    (
        "params_tasks.tsv",
        4,
        &[
            ("env", "SAMPLE_ID"),
            ("input", "VCF_FILE"),
            ("output-recursive", "OUTPUT_PATH"),
        ],
    ),
];

#[test]
fn dsubs_tasks_files_are_read_with_dsubs_tasks_and_columns() {
    let folder = repo().join("tests/dsub-corpus");
    let readme = std::fs::read_to_string(folder.join("README.md")).unwrap();
    let mut files: Vec<String> = std::fs::read_dir(&folder)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".tsv"))
        .collect();
    files.sort();
    let mut listed: Vec<String> = CORPUS.iter().map(|(f, _, _)| (*f).to_owned()).collect();
    listed.sort();
    assert_eq!(files, listed, "every file of the corpus is checked here");
    for (file, tasks, columns) in CORPUS {
        let text = std::fs::read_to_string(folder.join(file)).unwrap();
        assert!(!text.contains("gs://"), "{file} still names Cloud Storage");
        assert!(
            readme.contains(&format!("| `{file}` |")),
            "{file}: its source is not in the corpus's README"
        );
        let out = run(cli()
            .current_dir(&folder)
            .args(["validate", "--output", "json", "--tasks", file]));
        assert_eq!(out.code, 0, "{file}: {}\n{}", out.stdout, out.stderr);
        let got: Value = serde_json::from_str(&out.stdout).unwrap();
        assert_eq!(got["tasks"], tasks, "{file}: {got}");
        let kinds: Vec<(String, String)> = got["columns"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c["kind"].as_str().unwrap().to_owned(),
                    c["name"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        let wanted: Vec<(String, String)> = columns
            .iter()
            .map(|(k, n)| ((*k).to_owned(), (*n).to_owned()))
            .collect();
        assert_eq!(kinds, wanted, "{file}");
    }
}
