//! `--output json`'s input errors, with the real binary (probe 2026-12, findings 21 and 22): each error's own
//! file, line and column, never read back from its printed text, and the pre-flight's errors placed at their
//! cell.

#![allow(clippy::unwrap_used)]

mod common;
use common::{cli, run, LocalJob};

/// Finding 21: a file in a folder named like a position (`run:7:3: x`) keeps its name, line and column.
#[test]
fn a_file_whose_path_looks_like_a_position_keeps_its_own() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("run:7:3: x")).unwrap();
    std::fs::write(
        dir.path().join("run:7:3: x/t.tsv"),
        "--env A\t--input IN\na\ts3://Bad_Bucket/k\n",
    )
    .unwrap();
    let out = run(cli().current_dir(dir.path()).args([
        "validate",
        "--tasks",
        "run:7:3: x/t.tsv",
        "--output",
        "json",
    ]));
    assert_eq!(out.code, 2, "{}", out.stderr);
    let json: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let error = &json["errors"][0];
    assert_eq!(error["file"], "run:7:3: x/t.tsv", "{json}");
    assert_eq!(error["line"], 2, "{json}");
    assert_eq!(error["column"], 3, "{json}");
    assert_eq!(error["severity"], "error", "{json}");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .starts_with("column 2 (`--input IN`): "),
        "the message holds no position: {json}"
    );

    let out = run(cli()
        .current_dir(dir.path())
        .args(["validate", "--tasks", "run:7:3: x/t.tsv"]));
    assert!(
        out.stderr
            .starts_with("run:7:3: x/t.tsv:2:3: column 2 (`--input IN`): "),
        "{}",
        out.stderr
    );
}

/// Finding 22: the pre-flight's errors (an input that is not there) have the cell's position, as text and as
/// JSON; the line that says nothing ran has none.
#[test]
fn a_missing_inputs_error_is_placed_at_its_cell() {
    let job = LocalJob::new(
        "--env A\t--input IN\nhere\ts3://bkt/here.txt\ngone\ts3://bkt/gone.txt\n",
        "true\n",
    );
    job.put("bkt/here.txt", b"x");
    let out = job.run(&["--output", "json"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    let json: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let s3 = job.path("s3");
    assert_eq!(
        json,
        serde_json::json!({"errors": [
            {
                "file": "tasks.tsv",
                "line": 3,
                "column": 6,
                "severity": "error",
                "message": format!(
                    "task 1 (`--input IN`): input `s3://bkt/gone.txt` not found (looked for {}/bkt/gone.txt)",
                    s3.display()
                ),
            },
            {"severity": "error", "message": "nothing was run (--not-verify-bucket skips this check)"},
        ]})
    );
    assert!(!job.path("work").exists(), "nothing is written");
}

/// Errors about a file as a whole, or about a flag typed on the command line, have the place they have and no
/// more: a file and no line, or nothing.
#[test]
fn an_error_about_a_whole_file_or_a_typed_flag_has_only_the_place_it_has() {
    let job = LocalJob::new("--env A\nx\n", "true\n");
    std::fs::write(job.path("script.sh"), " \n").unwrap();
    let out = job.run(&["--processes", "0", "--output", "json"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    let json: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"errors": [
            {"file": "script.sh", "severity": "error", "message": "the script is empty"},
            {"severity": "error", "message": "--processes: must be at least 1 (on the command line)"},
        ]})
    );
}
