//! The tasks-file engine against real files: ecsub's own example shapes, dsub's extras, and malformed files whose
//! messages are asserted word for word.

#![allow(clippy::unwrap_used)]

use ecsub_core::plan::{plan, Identity, Options, Request};
use ecsub_core::tasks::{parse, Cell, ColumnKind};
use ecsub_core::{Diagnostics, JobArgs};

fn fixture(name: &str) -> (String, Vec<u8>) {
    let path = format!(
        "{}/../../tests/fixtures/tasks/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    (
        name.to_owned(),
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}")),
    )
}

fn errors_of(name: &str) -> Vec<String> {
    let (file, bytes) = fixture(name);
    let Diagnostics(all) = parse(&file, &bytes).expect_err("the file should be rejected");
    all.iter().map(ToString::to_string).collect()
}

fn text(cell: &Cell) -> &str {
    match cell {
        Cell::Text(t) => t,
        other => panic!("not text: {other:?}"),
    }
}

fn url(cell: &Cell) -> String {
    match cell {
        Cell::Path(p) => p.url(),
        other => panic!("not a path: {other:?}"),
    }
}

#[test]
fn ecsub_wordcount_with_crlf_line_ends_has_two_tasks() {
    let (file, bytes) = fixture("ecsub-wordcount-crlf.tsv");
    let tasks = parse(&file, &bytes).unwrap();
    assert_eq!(tasks.tasks.len(), 2);
    assert_eq!(
        tasks.column_summary(),
        "1 env, 1 input, 1 input-recursive, 1 output"
    );
    let lear = &tasks.tasks[1];
    assert_eq!((lear.index, lear.line), (1, 3));
    assert_eq!(
        text(&lear.cells[0]),
        "Kinglear",
        "no CR may be left on the last cell or the first"
    );
    assert_eq!(url(&lear.cells[2]), "s3://ecsub-tokyo/wordcount/python/");
    assert_eq!(
        url(&lear.cells[3]),
        "s3://ecsub-tokyo/output/kinglear-count.txt"
    );
    assert!(tasks.warnings.is_empty());
}

#[test]
fn ecsub_test_file_with_comments_blank_line_and_secret_env_has_three_tasks() {
    let (file, bytes) = fixture("ecsub-secret-env.tsv");
    let tasks = parse(&file, &bytes).unwrap();
    assert_eq!(tasks.tasks.len(), 3);
    assert_eq!(tasks.columns[0].kind, ColumnKind::SecretEnv);
    assert_eq!(tasks.columns[0].name, "SECRET_NAME");
    assert_eq!(tasks.tasks[0].line, 6);
    assert!(text(&tasks.tasks[2].cells[0]).starts_with("AQICAH"));
}

#[test]
fn bom_directives_labels_wildcards_and_late_comments_are_understood() {
    let (file, bytes) = fixture("bom-directives-labels.tsv");
    let tasks = parse(&file, &bytes).unwrap();
    assert_eq!(
        tasks.tasks.len(),
        2,
        "the comment after the header is not a task"
    );
    assert_eq!(
        tasks.columns[0].kind,
        ColumnKind::Env,
        "TYPE is case-insensitive"
    );
    assert_eq!(tasks.columns[1].kind, ColumnKind::Label);
    assert_eq!(url(&tasks.tasks[0].cells[2]), "s3://genome-data/run1/*.bam");
    assert_eq!(
        url(&tasks.tasks[0].cells[3]),
        "s3://genome-results/run1/s1/"
    );
    assert_eq!(tasks.tasks[1].line, 6);
    let options = JobArgs::from_directives(&tasks).unwrap();
    assert_eq!(options.image.as_deref(), Some("ubuntu:24.04"));
    assert_eq!(options.processes, Some(2));
}

#[test]
fn header_errors_are_all_reported_with_line_and_column() {
    assert_eq!(
        errors_of("bad-header.tsv"),
        vec![
            "bad-header.tsv:1:12: column 2 (`--inputs IN`): unknown column type `--inputs` (expected one of \
             --env, --secret-env, --input, --input-recursive, --output, --output-recursive, --label)",
            "bad-header.tsv:1:24: column 3 (`--input 2BAD`): `2BAD` is not a shell variable name (letters, \
             digits and `_`, not starting with a digit)",
            "bad-header.tsv:1:37: column 4 (`--output NAME`): duplicate variable `NAME` (column 1 `--env NAME` \
             already sets it)",
            "bad-header.tsv:1:51: column 5 (`--input-recursive`): missing NAME after `--input-recursive` \
             (expected `TYPE NAME`)",
        ]
    );
}

#[test]
fn row_errors_are_all_reported_and_short_rows_only_warn() {
    assert_eq!(
        errors_of("bad-rows.tsv"),
        vec![
            "bad-rows.tsv:3:44: the row has 4 cells but the header has 3 columns (first extra cell: `surplus`)",
            "bad-rows.tsv:4:4: column 2 (`--input INPUT_FILE`): `gs://bkt-1/in.txt` is not an s3:// path",
            "bad-rows.tsv:5:24: warning: the row has 2 cells but the header has 3 columns: \
             `--output OUTPUT_FILE` left empty",
            "bad-rows.tsv:6:6: column 2 (`--input INPUT_FILE`): `s3://bkt-1/d*/x.txt`: `*` is only allowed in \
             the file name, not in a folder",
            "bad-rows.tsv:6:26: column 3 (`--output OUTPUT_FILE`): `s3://BKT/out.txt`: `BKT` is not a valid \
             bucket name (lowercase letters, digits, `.` and `-`; beginning and ending with a letter or digit)",
        ]
    );
}

#[test]
fn a_header_without_rows_has_no_tasks() {
    assert_eq!(
        errors_of("header-only.tsv"),
        vec!["header-only.tsv:2:1: no tasks: the file has a header row but no task rows"]
    );
}

#[test]
fn an_empty_file_has_no_header() {
    let Diagnostics(all) = parse("empty.tsv", b"\n# nothing\n").unwrap_err();
    assert_eq!(
        all[0].to_string(),
        "empty.tsv:1:1: no header row: expected TAB-separated `TYPE NAME` cells such as \
         `--env NAME\t--input INPUT_FILE`"
    );
}

#[test]
fn a_short_row_gets_empty_trailing_cells() {
    let tasks = parse("t.tsv", b"--env A\t--input IN\t--env B\nx\n").unwrap();
    let task = &tasks.tasks[0];
    assert_eq!(
        task.cells_with(&tasks.columns)
            .map(|(_, cell)| cell.clone())
            .collect::<Vec<_>>(),
        vec![
            Cell::Text("x".into()),
            Cell::Empty,
            Cell::Text(String::new())
        ]
    );
    // The cells the row leaves off are not stored: a wide header costs a short row nothing.
    assert_eq!(task.cells, vec![Cell::Text("x".into())]);
    assert_eq!(tasks.warnings.len(), 1);
}

#[test]
fn input_and_s3_names_collide_and_reserved_names_are_refused() {
    let Diagnostics(all) = parse(
        "t.tsv",
        b"--input X\t--env S3_X\t--env ECSUB_JOB\t--env PATH\n",
    )
    .unwrap_err();
    let messages: Vec<_> = all.iter().map(|d| d.message.as_str()).collect();
    assert_eq!(
        messages,
        vec![
            "column 2 (`--env S3_X`): duplicate variable `S3_X` (column 1 `--input X` already sets it)",
            "column 3 (`--env ECSUB_JOB`): `ECSUB_JOB` is reserved by ecsub's scripts; choose another name",
            "column 4 (`--env PATH`): `PATH` is reserved by ecsub's scripts; choose another name",
        ]
    );
}

#[test]
fn directives_after_the_header_and_bad_directives_are_errors() {
    let Diagnostics(all) =
        parse("t.tsv", b"#ecsub: --image 'x\n--env A\n#ecsub: --spot\n1\n").unwrap_err();
    let shown: Vec<_> = all.iter().map(ToString::to_string).collect();
    assert_eq!(
        shown,
        vec![
            "t.tsv:1:17: unterminated `'` quote",
            "t.tsv:3:1: `#ecsub:` directives must come before the header row",
        ]
    );
    let tasks = parse("t.tsv", b"#ecsub: --spot --no-such-flag\n--env A\n1\n").unwrap();
    let Diagnostics(all) = JobArgs::from_directives(&tasks).unwrap_err();
    assert_eq!(
        all[0].to_string(),
        "t.tsv:1:1: in `#ecsub:` options: unexpected argument '--no-such-flag' found"
    );
}

#[test]
fn invalid_utf8_and_nul_bytes_are_located() {
    let Diagnostics(all) = parse("t.tsv", b"--env A\nab\xff\nx\0y\n").unwrap_err();
    let shown: Vec<_> = all.iter().map(ToString::to_string).collect();
    assert_eq!(
        shown,
        vec![
            "t.tsv:2:3: the line is not valid UTF-8",
            "t.tsv:3:2: the line contains a NUL byte"
        ]
    );
}

#[test]
fn recursive_columns_match_folders_not_prefixes() {
    let tasks = parse("t.tsv", b"--input-recursive D\ns3://bkt/data\n").unwrap();
    assert_eq!(url(&tasks.tasks[0].cells[0]), "s3://bkt/data/");
}

fn warnings(bytes: &[u8]) -> Vec<String> {
    let file = parse("w.tsv", bytes).unwrap_or_else(|e| panic!("{e}"));
    file.warnings.iter().map(ToString::to_string).collect()
}

/// Local review findings 7 and 14: a `#` row shaped like a task, a whitespace-only row and a misspelt directive
/// are still what ecsub makes of them (comments, blank), but each gets a warning naming its line.
#[test]
fn comments_and_blanks_that_look_like_something_else_are_warned_about() {
    let got = warnings(
        b"#ECSUB: --processes 0\n# ecsub: --spot\n--env COLOR\t--env N\n#ff0000\tred\nplain\tblue\n \t \n# a note\n",
    );
    assert_eq!(
        got,
        [
            "w.tsv:1:1: warning: this is a comment, not an option directive: directives are spelled `#ecsub:` exactly",
            "w.tsv:2:1: warning: this is a comment, not an option directive: directives are spelled `#ecsub:` exactly",
            "w.tsv:4:1: warning: this row starts with `#`, so it is a comment and not a task (as in ecsub), although \
             it has the header's number of cells; if it is a task, move a column whose value cannot start with `#` first",
            "w.tsv:6:1: warning: a line of only spaces and TABs is skipped as blank (a task needs a non-blank cell)",
        ]
    );
}

/// Local review finding 10: a value Linux cannot pass to a process is refused by validation, with the limit.
#[test]
fn values_too_long_for_a_process_are_refused_up_front() {
    let fits = format!(
        "--env A\t--output OUT\n{}\ts3://bkt/f/o\n",
        "x".repeat(131_069)
    );
    assert!(parse("big.tsv", fits.as_bytes()).is_ok());
    let over = format!(
        "--env A\t--output OUT\n{}\ts3://bkt/f/o\n",
        "x".repeat(131_070)
    );
    let Diagnostics(all) = parse("big.tsv", over.as_bytes()).unwrap_err();
    assert_eq!(
        all[0].to_string(),
        "big.tsv:2:1: column 1 (`--env A`): the value is 131070 bytes, over the 131069 bytes Linux passes to a \
         process in one environment variable (MAX_ARG_STRLEN)"
    );
    let header: Vec<String> = (0..10).map(|i| format!("--env V{i}")).collect();
    let row = vec!["y".repeat(120_000); 10];
    let wide = format!("{}\n{}\n", header.join("\t"), row.join("\t"));
    let Diagnostics(all) = parse("wide.tsv", wide.as_bytes()).unwrap_err();
    assert!(
        all[0].to_string().starts_with(
            "wide.tsv:2:1: the task's environment is 1200040 bytes, over the 1048576 ecsub allows"
        ),
        "{}",
        all[0]
    );
}

/// The probe's `k20r3000.tsv` (probe 2026-12, finding 3): 20 000 empty columns and 3 000 one-cell rows. Each row
/// keeps its one cell (the 20 000 it leaves off are implicit) and gets one short warning, not 20 000 names.
#[test]
fn a_wide_header_costs_a_short_row_only_its_own_cells() {
    let header: Vec<String> = std::iter::once("--env A".to_owned())
        .chain((0..20_000).map(|k| format!("--input I{k}")))
        .collect();
    let tsv = format!("{}\n{}", header.join("\t"), "a\n".repeat(3_000));
    let file = parse("k20r3000.tsv", tsv.as_bytes()).unwrap();
    assert_eq!(file.tasks.len(), 3_000);
    assert!(file
        .tasks
        .iter()
        .all(|t| t.cells == [Cell::Text("a".into())]));
    assert_eq!(file.tasks[7].cells_with(&file.columns).count(), 20_001);
    assert_eq!(
        file.tasks[7].cells_with(&file.columns).last().unwrap().1,
        &Cell::Empty
    );
    assert_eq!(file.warnings.len(), 3_000);
    assert_eq!(
        file.warnings[0].to_string(),
        "k20r3000.tsv:2:2: warning: the row has 1 cells but the header has 20001 columns: `--input I0`, \
         `--input I1`, `--input I2` and 19997 more left empty"
    );
}

/// Probe 2026-12, findings 3 and 8: a header whose empty cells alone exceed a task's environment (run.sh exports
/// `NAME=''` and `S3_NAME=''` for every empty input) is refused once, at the header, with the count.
#[test]
fn a_header_too_wide_for_any_task_environment_is_refused_with_its_count() {
    let name = "x".repeat(200);
    let header: Vec<String> = std::iter::once("--env A".to_owned())
        .chain((0..6_000).map(|n| format!("--input I{n}_{name}")))
        .collect();
    let tsv = format!("{}\na\n", header.join("\t"));
    let Diagnostics(all) = parse("wide.tsv", tsv.as_bytes()).unwrap_err();
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!(
        all[0].to_string(),
        "wide.tsv:1:1: the header has 6001 columns, which take 2511783 bytes of every task's environment even \
         when empty (`NAME=` for each, `NAME=` and `S3_NAME=` for an input or output), over the 1048576 ecsub \
         allows; split the columns into several jobs"
    );
}

/// Probe 2026-12, finding 8: empty input and output cells count in the task's environment, two variables each.
#[test]
fn empty_path_cells_count_in_the_task_environment() {
    let name = "x".repeat(200);
    let header: Vec<String> = ["--env A".to_owned(), "--env B".to_owned()]
        .into_iter()
        .chain((0..2_000).map(|n| format!("--input I{n}_{name}")))
        .collect();
    // 2 000 empty inputs take 2 × (name + 2) + 3 bytes each, ~834 KB: with two values of 120 000 bytes the task is
    // over 1 MiB, though its values alone are not.
    let value = "v".repeat(120_000);
    let tsv = format!("{}\n{value}\t{value}\n", header.join("\t"));
    let Diagnostics(all) = parse("empty.tsv", tsv.as_bytes()).unwrap_err();
    let error = all.iter().find(|d| d.is_error()).unwrap();
    assert!(
        error.to_string().starts_with(
            "empty.tsv:2:1: the task's environment is 1075786 bytes, over the 1048576 ecsub allows"
        ),
        "{error}"
    );
    // The same file written out with its empty cells costs the same.
    let explicit = format!(
        "{}\n{value}\t{value}{}\n",
        header.join("\t"),
        "\t".repeat(2_000)
    );
    let Diagnostics(all) = parse("empty.tsv", explicit.as_bytes()).unwrap_err();
    let error = all.iter().find(|d| d.is_error()).unwrap();
    assert!(error.to_string().contains("is 1075786 bytes"), "{error}");
}

/// Probe 2026-12, finding 12: a name no file can have, or a part file's, is warned about (S3 would take it).
#[test]
fn names_the_stager_cannot_stage_are_warned_about() {
    let long = "n".repeat(256);
    let tsv = format!(
        "--input IN\t--output OUT\ns3://bkt/i/{long}\ts3://bkt/res/.ecsub-part.1628.big.bin\n\
         s3://bkt/i/{}\ts3://bkt/o/ok\n",
        "n".repeat(255)
    );
    let file = parse("names.tsv", tsv.as_bytes()).unwrap();
    let warnings: Vec<String> = file.warnings.iter().map(ToString::to_string).collect();
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    assert_eq!(
        warnings[0],
        format!(
            "names.tsv:2:1: warning: column 1 (`--input IN`): `s3://bkt/i/{long}`: the name `{long}` is 256 bytes, \
             over the 255 a file name may have; the stager cannot copy it to or from a file"
        )
    );
    assert!(warnings[1].starts_with("names.tsv:2:269: warning: column 2 (`--output OUT`): `s3://bkt/res/.ecsub-part.1628.big.bin`: names beginning `.ecsub-part.<pid>.` are the stager's part files"), "{}", warnings[1]);
}

/// Probe 2026-12, finding 23: a `#` row that would be a task is warned about in a one-column file too, and when it
/// has fewer cells than the header (more than one: a one-cell note under a wider header is a note). It stays a
/// comment, as the tasks file's documentation promises; a comment before the header is never warned about.
#[test]
fn hash_rows_of_one_column_files_and_short_hash_rows_are_warned_about() {
    let file = parse(
        "hash1.tsv",
        b"# colours\n--env COLOR\n#ff0000\n#00ff00\nplain\n",
    )
    .unwrap();
    assert_eq!(file.tasks.len(), 1, "`#` rows are comments, as in ecsub");
    let got: Vec<String> = file.warnings.iter().map(ToString::to_string).collect();
    let one = "warning: this row starts with `#`, so it is a comment and not a task (as in ecsub), although a row \
               of this one-column file looks the same; if it is a task, add a first column whose value cannot \
               start with `#`; if it is a comment, move it before the header, where comments are not warned about";
    assert_eq!(
        got,
        [
            format!("hash1.tsv:3:1: {one}"),
            format!("hash1.tsv:4:1: {one}")
        ]
    );

    let got =
        warnings(b"--env COLOR\t--env NAME\t--env N\n#ff0000\tred\n# a note\nplain\tblue\t1\n");
    assert_eq!(
        got,
        [
            "w.tsv:2:1: warning: this row starts with `#`, so it is a comment and not a task (as in ecsub), \
             although it has 2 of the header's 3 cells (a row may leave its last cells empty); if it is a task, \
             move a column whose value cannot start with `#` first"
        ]
    );
}

/// The errors a job of the file is refused for by `plan` (validate, run, push and submit): the checks across a
/// row's cells that run once a job.
fn plan_errors(file: &str, bytes: &[u8]) -> Vec<String> {
    let typed = JobArgs::default();
    match plan(&Request {
        file,
        bytes,
        options: Options::Typed(&typed),
        identity: Identity::Draw("check"),
    }) {
        Ok(_) => Vec::new(),
        Err(refused) => refused.errors.iter().map(ToString::to_string).collect(),
    }
}

/// Probe 2026-12, finding 9: an output that is, holds or lies in an input of its own task is refused at the
/// output's cell, naming both cells: run.sh would upload the task's copy of the input again (a fresh object that
/// counts as the output) and over the original. Refused when a job is planned; `tasks::parse`, which the
/// task-stopped function runs for jobs accepted before the check, takes the row.
#[test]
fn an_output_overlapping_an_input_of_its_task_is_refused_naming_both_cells() {
    let same = b"--input IN\t--output OUT\ns3://bkt/proj/in.txt\ts3://bkt/proj/in.txt\n";
    let tail = "; an output may not overlap an input of its own task: its upload would overwrite the input, and the \
                task's copy of the input, uploaded again, would count as the output (write the output to another \
                place)";
    assert_eq!(
        plan_errors("ov.tsv", same),
        [format!(
            "ov.tsv:2:22: column 2 (`--output OUT`): the output `s3://bkt/proj/in.txt` is also the input of column \
             1 (`--input IN`){tail}"
        )]
    );
    assert!(parse("ov.tsv", same).is_ok());
    // The probe's in-place edit: the output folder holds the input folder.
    let all = plan_errors(
        "ov.tsv",
        b"--input-recursive REF\t--output-recursive OUT\ns3://bkt/proj/ref\ts3://bkt/proj\n",
    );
    assert_eq!(
        all[0],
        format!(
            "ov.tsv:2:19: column 2 (`--output-recursive OUT`): the output `s3://bkt/proj/` holds the input \
             `s3://bkt/proj/ref/` of column 1 (`--input-recursive REF`){tail}"
        )
    );
    // An input file `x` and an output `x/y`, or the other way round: one path of the scratch folder would have
    // to be a file and a folder.
    let all = plan_errors(
        "ov.tsv",
        b"--input IN\t--output OUT\ns3://bkt/x\ts3://bkt/x/y\ns3://bkt/a/b\ts3://bkt/a\n",
    );
    let folder = "in the task's scratch folder one path is a file or a folder, not both, so the input's download or \
                  the output's write would fail (write the output to another place)";
    assert_eq!(
        all,
        [
            format!(
                "ov.tsv:2:12: column 2 (`--output OUT`): the output `s3://bkt/x/y` needs a folder where the input \
                 of column 1 (`--input IN`) is the file `s3://bkt/x`; {folder}"
            ),
            format!(
                "ov.tsv:3:14: column 2 (`--output OUT`): the output `s3://bkt/a` is a file where the input \
                 `s3://bkt/a/b` of column 1 (`--input IN`) needs a folder; {folder}"
            ),
        ]
    );
    // An output in an input folder (a rerun would download the old output with the input, and upload it again),
    // and wildcards that can name one object.
    for row in [
        "s3://bkt/proj\ts3://bkt/proj/out.txt\t\t",
        "\t\ts3://bkt/in/*.txt\ts3://bkt/in/x.txt",
        "\t\ts3://bkt/in/x.txt\ts3://bkt/in/*",
        "\t\ts3://bkt/in/a*\ts3://bkt/in/*b",
    ] {
        let tsv = format!("--input-recursive D\t--output O\t--input I\t--output P\n{row}\n");
        assert!(!plan_errors("ov.tsv", tsv.as_bytes()).is_empty(), "{row}");
    }
    // Apart: neighbours, another bucket, wildcards that cannot meet, an output beside its input.
    for row in [
        "s3://bkt/proj\ts3://bkt/proj2/out.txt\t\t",
        "s3://bkt/proj\ts3://other/proj/out.txt\t\t",
        "\t\ts3://bkt/in/*.txt\ts3://bkt/in/*.log",
        "\t\ts3://bkt/in/x.txt\ts3://bkt/in/x.txt.out",
    ] {
        let tsv = format!("--input-recursive D\t--output O\t--input I\t--output P\n{row}\n");
        assert_eq!(
            plan_errors("ov.tsv", tsv.as_bytes()),
            Vec::<String>::new(),
            "{row}"
        );
    }
}
