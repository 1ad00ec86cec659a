//! `ecsub-cli validate`: ecsub's own example shapes are accepted with the right counts; malformed files exit 2
//! with one `FILE:LINE:COL: message` per error on stderr.

#![allow(clippy::unwrap_used)]

mod common;
use common::{cli, fixture, run};

#[test]
fn validate_accepts_ecsub_examples_with_their_task_counts() {
    for (name, summary) in [
        (
            "ecsub-wordcount-crlf.tsv",
            "2 tasks, 4 columns (1 env, 1 input, 1 input-recursive, 1 output)",
        ),
        (
            "ecsub-secret-env.tsv",
            "3 tasks, 5 columns (1 secret-env, 1 env, 1 input, 1 input-recursive, 1 output)",
        ),
    ] {
        let out = run(cli().arg("validate").arg("--tasks").arg(fixture(name)));
        assert_eq!(out.code, 0, "{name}: {}", out.stderr);
        assert_eq!(
            out.stdout,
            format!("{}: {summary}\n", fixture(name).display())
        );
    }
}

#[test]
fn validate_shows_the_options_a_file_carries() {
    let out = run(cli()
        .args(["validate", "--tasks"])
        .arg(fixture("bom-directives-labels.tsv")));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.ends_with(
        "2 tasks, 4 columns (1 env, 1 label, 1 input, 1 output-recursive); options from the file: \
         --image ubuntu:24.04 --processes 2\n"
    ));
}

#[test]
fn validate_rejects_a_malformed_file_with_every_error_and_exit_2() {
    let out = run(cli()
        .current_dir(fixture("."))
        .args(["validate", "--tasks", "bad-rows.tsv"]));
    assert_eq!(out.code, 2);
    assert_eq!(out.stdout, "");
    let lines: Vec<_> = out.stderr.lines().collect();
    assert_eq!(lines.len(), 5, "{}", out.stderr);
    assert!(lines[0].starts_with("bad-rows.tsv:3:44: the row has 4 cells"));
    assert!(lines[1].starts_with("bad-rows.tsv:4:4: column 2"));
    assert!(lines[2].starts_with("bad-rows.tsv:5:24: warning: "));
    assert!(lines[3].starts_with("bad-rows.tsv:6:6: "));
    assert!(lines[4].starts_with("bad-rows.tsv:6:26: "));
}

#[test]
fn validate_names_an_unreadable_file() {
    let out = run(cli().args(["validate", "--tasks", "/nonexistent/tasks.tsv"]));
    assert_eq!(out.code, 2);
    assert_eq!(
        out.stderr,
        "/nonexistent/tasks.tsv: cannot read the tasks file: No such file or directory (os error 2)\n"
    );
}

#[test]
fn validate_checks_the_options_in_directives() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("t.tsv");
    std::fs::write(
        &file,
        "#ecsub: --processes 0 --aws-ec2-instance-type t3.micro,t3.small\n--env A\nx\n",
    )
    .unwrap();
    let out = run(cli()
        .current_dir(dir.path())
        .args(["validate", "--tasks", "t.tsv"]));
    assert_eq!(out.code, 2);
    assert_eq!(
        out.stderr,
        "t.tsv:1:23: --aws-ec2-instance-type: a list of types (`t3.micro,t3.small`) needs --spot\n\
         t.tsv:1:9: --processes: must be at least 1\n"
    );
}

#[test]
fn validate_json_lists_columns_and_warnings() {
    let out = run(cli()
        .args(["validate", "--output", "json", "--tasks"])
        .arg(fixture("ecsub-wordcount-crlf.tsv")));
    assert_eq!(out.code, 0);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["tasks"], 2);
    assert_eq!(v["columns"][2]["kind"], "input-recursive");
    assert_eq!(v["columns"][2]["name"], "SCRIPT");
    assert_eq!(v["warnings"], serde_json::json!([]));

    // A file with warnings lists them (test audit 1.10: the test's name promised it, and it never looked).
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("w.tsv");
    std::fs::write(&file, "--env A\t--env B\nx\n#y\tz\n").unwrap();
    let out = run(cli()
        .args(["validate", "--output", "json", "--tasks"])
        .arg(&file));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let warnings = v["warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), 2, "{v}");
    assert_eq!(warnings[0]["line"], 2);
    assert_eq!(warnings[0]["severity"], "warning");
    assert!(
        warnings[0]["message"]
            .as_str()
            .unwrap()
            .starts_with("the row has 1 cells but the header has 2 columns"),
        "{v}"
    );
    assert_eq!(warnings[1]["line"], 3);
}

/// Local review findings 11 and 13: `validate` checks `--task-name` as `run` does, and reports every option error
/// at once, not one layer at a time.
#[test]
fn validate_checks_the_task_name_and_reports_every_option_error_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tn.tsv");
    std::fs::write(
        &file,
        "#ecsub: --task-name ../../x\n#ecsub: --processes 0\n#ecsub: --task-range 7\n--env A\nx\n",
    )
    .unwrap();
    let out = run(cli().arg("validate").arg("--tasks").arg(&file));
    assert_eq!(out.code, 2, "{}", out.stdout);
    for what in ["--task-name", "--processes", "7"] {
        assert!(out.stderr.contains(what), "{what}: {}", out.stderr);
    }
    assert!(out.stderr.lines().count() >= 3, "{}", out.stderr);
}

/// Local review finding 19e: an endless tasks file (or script) stops at ecsub's size limit with exit 2.
#[test]
fn an_endless_tasks_file_or_script_stops_at_the_size_limit() {
    let out = run(cli().args(["validate", "--tasks", "/dev/zero"]));
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert_eq!(
        out.stderr,
        "/dev/zero: the tasks file is 268435457 bytes or more, over the 256 MiB ecsub reads; split it into several jobs\n"
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("t.tsv"), "--env A\nx\n").unwrap();
    let out = run(cli().current_dir(dir.path()).args([
        "run",
        "--local",
        "--tasks",
        "t.tsv",
        "--script",
        "/dev/zero",
    ]));
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains(
            "/dev/zero: the script is 67108865 bytes or more, over the 64 MiB ecsub takes"
        ),
        "{}",
        out.stderr
    );
    assert!(!dir.path().join(".ecsub").exists());
}

/// Local review findings 13 and 15: a directive's error is reported with the rows' errors, `--output json` gives
/// the errors as JSON objects with their positions, and a cell's control characters are escaped in messages.
#[test]
fn every_error_at_once_as_json_and_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.tsv");
    std::fs::write(
        &file,
        "#ecsub: --bogus\n#ecsub: --processes 0\n--env A\tjunk\x1b]0;PWN\x07\nx\n",
    )
    .unwrap();
    let out = run(cli().arg("validate").arg("--tasks").arg(&file));
    assert_eq!(out.code, 2);
    let f = file.display();
    assert_eq!(
        out.stderr,
        format!(
            "{f}:1:1: in `#ecsub:` options: unexpected argument '--bogus' found\n\
             {f}:3:9: column 2 (`junk\\u{{1b}}]0;PWN\\u{{7}}`): unknown column type `junk\\u{{1b}}]0;PWN\\u{{7}}` \
             (expected one of --env, --secret-env, --input, --input-recursive, --output, --output-recursive, --label)\n"
        )
    );
    let out = run(cli()
        .arg("validate")
        .arg("--tasks")
        .arg(&file)
        .args(["--output", "json"]));
    assert_eq!(out.code, 2);
    assert_eq!(out.stderr, "");
    let json: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let errors = json["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 2, "{json}");
    assert_eq!(errors[1]["line"], 3);
    assert_eq!(errors[1]["column"], 9);
    assert!(
        errors[1]["message"]
            .as_str()
            .unwrap()
            .contains("junk\\u{1b}]0;PWN\\u{7}"),
        "{json}"
    );

    std::fs::write(&file, "#ecsub: --processes 0\n--env A\nx\n").unwrap();
    let out = run(cli()
        .arg("validate")
        .arg("--tasks")
        .arg(&file)
        .args(["--output", "json"]));
    let json: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(json["errors"][0]["line"], 1, "{json}");
    assert_eq!(json["errors"][0]["column"], 9, "{json}");
    assert_eq!(
        json["errors"][0]["message"],
        "--processes: must be at least 1"
    );
}

/// Probe 2026-12, finding 3: 20 000 empty columns over 3 000 one-cell rows (a 295 KB file that took gigabytes):
/// each row keeps its own cell and gets one short warning.
#[test]
fn validate_takes_a_wide_header_over_short_rows_by_the_file_s_size() {
    let dir = tempfile::tempdir().unwrap();
    let header: Vec<String> = std::iter::once("--env A".to_owned())
        .chain((0..20_000).map(|k| format!("--input I{k}")))
        .collect();
    std::fs::write(
        dir.path().join("k20r3000.tsv"),
        format!("{}\n{}", header.join("\t"), "a\n".repeat(3_000)),
    )
    .unwrap();
    let out = run(cli()
        .current_dir(dir.path())
        .args(["validate", "--tasks", "k20r3000.tsv"]));
    assert_eq!(
        out.code,
        0,
        "{}",
        &out.stderr[..out.stderr.len().min(2_000)]
    );
    assert_eq!(
        out.stdout,
        "k20r3000.tsv: 3000 tasks, 20001 columns (1 env, 20000 input)\n"
    );
    assert_eq!(out.stderr.lines().count(), 3_000);
    assert_eq!(
        out.stderr.lines().next().unwrap(),
        "k20r3000.tsv:2:2: warning: the row has 1 cells but the header has 20001 columns: `--input I0`, \
         `--input I1`, `--input I2` and 19997 more left empty"
    );
}

/// Probe 2026-12, findings 3 and 8: a header whose empty cells alone overflow every task's environment is refused
/// at its line, with its count, exit 2.
#[test]
fn validate_refuses_a_header_too_wide_for_any_task() {
    let dir = tempfile::tempdir().unwrap();
    let name = "x".repeat(200);
    let header: Vec<String> = std::iter::once("--env A".to_owned())
        .chain((0..6_000).map(|n| format!("--input I{n}_{name}")))
        .collect();
    std::fs::write(
        dir.path().join("wide.tsv"),
        format!("{}\na\n", header.join("\t")),
    )
    .unwrap();
    let out = run(cli()
        .current_dir(dir.path())
        .args(["validate", "--tasks", "wide.tsv"]));
    assert_eq!(out.code, 2, "{}", out.stdout);
    assert_eq!(
        out.stderr,
        "wide.tsv:1:1: the header has 6001 columns, which take 2511783 bytes of every task's environment even \
         when empty (`NAME=` for each, `NAME=` and `S3_NAME=` for an input or output), over the 1048576 ecsub \
         allows; split the columns into several jobs\n"
    );
}

/// Probe 2026-12, finding 3 on `run` and `push`: every task's environment goes into one setenv.sh a job, so a
/// small file of long names and short values could make a setenv.sh of gigabytes (100 times the file here). The
/// job is refused at the row that takes setenv.sh past its limit, by `validate` and by `run --local`, which then
/// writes nothing.
#[test]
fn a_job_whose_setenv_would_pass_its_limit_is_refused_at_the_row_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let long = "y".repeat(200);
    let header: Vec<String> = (0..500).map(|k| format!("--env E{k}_{long}")).collect();
    let row = vec!["x"; 500].join("\t");
    let tsv = format!(
        "{}\n{}",
        header.join("\t"),
        format!("{row}\n").repeat(1_300)
    );
    assert!(tsv.len() < 2 << 20, "{}", tsv.len());
    std::fs::write(dir.path().join("t.tsv"), &tsv).unwrap();
    std::fs::write(dir.path().join("s.sh"), "true\n").unwrap();
    let out = run(cli()
        .current_dir(dir.path())
        .args(["validate", "--tasks", "t.tsv"]));
    assert_eq!(out.code, 2, "{}", out.stdout);
    let (place, message) = out.stderr.split_once(": ").unwrap();
    let line: usize = place
        .strip_prefix("t.tsv:")
        .unwrap()
        .strip_suffix(":1")
        .unwrap()
        .parse()
        .unwrap();
    // 500 cells of about 217 bytes of setenv.sh a row: the limit falls near row 1 240.
    assert!((1_200..1_300).contains(&line), "{}", out.stderr);
    assert!(
        message.contains("need a setenv.sh") && message.ends_with("over the 128 MiB ecsub writes; split the rows into several jobs (or run parts of them with --task-range)\n"),
        "{}",
        out.stderr
    );
    let out = run(cli().current_dir(dir.path()).args([
        "run",
        "--local",
        "--tasks",
        "t.tsv",
        "--script",
        "s.sh",
        "--s3-root",
        "s3",
        "--wdir",
        "work",
    ]));
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("need a setenv.sh"), "{}", out.stderr);
    assert!(
        !dir.path().join("work").exists(),
        "run --local wrote its job folder"
    );
}

/// Runs `validate` on `tsv`, written as `t.tsv` in a fresh folder.
fn validate(tsv: &str) -> common::Run {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("t.tsv"), tsv).unwrap();
    run(cli()
        .current_dir(dir.path())
        .args(["validate", "--tasks", "t.tsv"]))
}

/// Probe 2026-12, finding 19: bucket names S3 never allows are refused, each at its cell with the rule it breaks.
#[test]
fn validate_refuses_bucket_names_s3_never_allows() {
    let buckets = [
        "a..b",
        "192.168.1.1",
        "xn--abc",
        "sthree-x",
        "amzn-s3-demo-x",
        "bkt.mrap",
    ];
    let rows: String = buckets.iter().map(|b| format!("s3://{b}/x\n")).collect();
    let out = validate(&format!("--input IN\n{rows}"));
    assert_eq!(out.code, 2, "{}", out.stdout);
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(lines.len(), buckets.len(), "{}", out.stderr);
    assert_eq!(
        lines[0],
        "t.tsv:2:1: column 1 (`--input IN`): `s3://a..b/x`: `a..b` is not a valid bucket name: S3 allows no two \
         adjacent `.`"
    );
    assert_eq!(
        lines[1],
        "t.tsv:3:1: column 1 (`--input IN`): `s3://192.168.1.1/x`: `192.168.1.1` is not a valid bucket name: S3 \
         allows no name in the form of an IP address"
    );
    for (line, what) in lines[2..].iter().zip([
        "the prefix `xn--`",
        "the prefix `sthree-`",
        "the prefix `amzn-s3-demo-`",
        "the suffix `.mrap`",
    ]) {
        assert!(line.contains(&format!("S3 reserves {what}")), "{line}");
    }
}

/// Probe 2026-12, finding 23: `#` rows of a one-column file, and `#` rows with fewer cells than the header, are
/// still comments but no longer dropped silently.
#[test]
fn validate_warns_about_hash_rows_of_one_column_files_and_short_ones() {
    let out = validate("--env COLOR\n#ff0000\n#00ff00\nplain\n");
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout, "t.tsv: 1 tasks, 1 columns (1 env)\n");
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{}", out.stderr);
    assert!(
        lines[0].starts_with(
            "t.tsv:2:1: warning: this row starts with `#`, so it is a comment and not a task"
        ),
        "{}",
        out.stderr
    );
    let out = validate("--env COLOR\t--env NAME\t--env N\n#ff0000\tred\nplain\tblue\t1\n");
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr.starts_with(
            "t.tsv:2:1: warning: this row starts with `#`, so it is a comment and not a task (as in ecsub), \
             although it has 2 of the header's 3 cells"
        ),
        "{}",
        out.stderr
    );
}

/// Probe 2026-12, finding 9: an output over an input of its own task is refused with both cells named.
#[test]
fn validate_refuses_an_output_over_an_input_of_its_task() {
    let out = validate(
        "--input-recursive REF\t--output-recursive OUT\ns3://bkt/proj/ref\ts3://bkt/proj\n",
    );
    assert_eq!(out.code, 2, "{}", out.stdout);
    assert!(
        out.stderr.starts_with(
            "t.tsv:2:19: column 2 (`--output-recursive OUT`): the output `s3://bkt/proj/` holds the input \
             `s3://bkt/proj/ref/` of column 1 (`--input-recursive REF`); an output may not overlap an input of its \
             own task"
        ),
        "{}",
        out.stderr
    );
}

/// Probe 2026-12, findings 11 and 25: outputs two tasks share, or where one needs a folder the other writes as a
/// file, are warned about at one cell, naming the other's `FILE:LINE:COL`.
#[test]
fn validate_warns_about_outputs_two_tasks_share() {
    let out = validate(
        "--env WHO\t--output OUT\n\
         writer\ts3://bkt/shared/result.txt\n\
         lazy\ts3://bkt/shared/result.txt\n\
         a\ts3://bkt/pre/a\n\
         ab\ts3://bkt/pre/a/b\n",
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout, "t.tsv: 4 tasks, 2 columns (1 env, 1 output)\n");
    assert_eq!(
        out.stderr,
        "t.tsv:3:6: warning: column 2 (`--output OUT`): `s3://bkt/shared/result.txt` is also an output of task 0 \
         (t.tsv:2:8): the tasks overwrite each other's result, and either one's upload can count as the other's \
         output\n\
         t.tsv:5:4: warning: column 2 (`--output OUT`): `s3://bkt/pre/a/b` needs a folder where task 2 (t.tsv:4:3) \
         writes the file `s3://bkt/pre/a`: S3 holds both, the local S3 root (`run --local`) cannot, so the later \
         upload fails there\n"
    );
}

/// `--tag` in a directive meets AWS's tag rules, each refusal naming the tag and the rule (issue 23).
#[test]
fn validate_refuses_tags_aws_would_refuse_naming_each_and_its_rule() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("t.tsv"),
        "#ecsub: --tag project=genomics --tag team=a,b --tag aws:owner=me --tag project=again\n--env A\nx\n",
    )
    .unwrap();
    let out = run(cli()
        .current_dir(dir.path())
        .args(["validate", "--tasks", "t.tsv"]));
    assert_eq!(out.code, 2, "{}", out.stdout);
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(lines.len(), 3, "{}", out.stderr);
    assert!(lines[0].contains("the value of `team=a,b` holds ','"));
    assert!(lines[1].contains("`aws:owner`: keys beginning with `aws:` are AWS's own"));
    assert!(lines[2].contains("`project` is given twice (`project=genomics` and `project=again`)"));
    std::fs::write(
        dir.path().join("t.tsv"),
        "#ecsub: --tag project=genomics --tag cost\\ center=Lab\\ 7 --tag batch=\n--env A\nx\n",
    )
    .unwrap();
    let out = run(cli()
        .current_dir(dir.path())
        .args(["validate", "--tasks", "t.tsv"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout
            .contains("--tag project=genomics --tag cost center=Lab 7 --tag batch="),
        "{}",
        out.stdout
    );
}
