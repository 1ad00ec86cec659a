//! `ecsub-cli dsub` on dsub's own command lines: those of dsub's examples (`tests/dsub-corpus/`, their tasks files)
//! are planned with dsub's tasks once `gs://` reads `s3://` and Google's flags are left out; as written, each of
//! Google's flags and paths is refused with what to use on AWS, and nothing is written. stdout holds the job id
//! alone, and the binary linked as `dsub` is the command.

#![allow(clippy::unwrap_used)]

mod common;
use common::{cli, repo, run};

/// The `--tasks` command lines of dsub's examples (their READMEs, at dsub's 15d70ac), as a user moving to AWS
/// writes them: `--provider aws`, `s3://my-bucket` for `gs://MY-BUCKET`, Google's `--project` and `--zones` or
/// `--regions` left out. (tasks file, name prefix of the job id, the rest of the command line)
const EXAMPLES: [(&str, &str, &[&str]); 4] = [
    (
        "samtools.tsv",
        "samtools-i--",
        &[
            "--logging",
            "s3://my-bucket/samtools/submit_list/logging",
            "--disk-size",
            "200",
            "--name",
            "samtools index",
            "--image",
            "quay.io/cancercollaboratory/dockstore-tool-samtools-index",
            "--command",
            "export BAI_NAME=\"$(basename \"${INPUT_BAM}\").bai\"\n samtools index \"${INPUT_BAM}\" \"$(dirname \"${OUTPUT_BAI}\")/${BAI_NAME}\"",
        ],
    ),
    (
        "fastqc.tsv",
        "fastqc--",
        &[
            "--logging",
            "s3://my-bucket/samtools/submit_list/logging",
            "--disk-size",
            "200",
            "--name",
            "fastqc",
            "--image",
            "my-account.dkr.ecr.us-east-1.amazonaws.com/fastqc",
            "--command",
            "fastqc ${INPUT_BAM} --outdir=$(dirname ${OUTPUT_FILES})",
        ],
    ),
    (
        "decompress.tsv",
        "gunzip--",
        &[
            "--logging",
            "s3://my-bucket/decompress_list/logging",
            "--disk-size",
            "200",
            "--image",
            "ubuntu:14.04",
            "--command",
            "gunzip ${INPUT_VCF} && mv ${INPUT_VCF%.gz} $(dirname ${OUTPUT_VCF})",
        ],
    ),
    (
        "custom_scripts.tsv",
        "sample-ids--",
        &["--logging", "s3://my-bucket/get_vcf_sample_ids/logging", "--disk-size", "200", "--image", "debian:stable-slim"],
    ),
];

#[test]
fn dsubs_example_command_lines_are_planned_with_dsubs_tasks() {
    let folder = repo().join("tests/dsub-corpus");
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("sample-ids.sh");
    std::fs::write(
        &script,
        "#!/bin/bash\nset -eu\nzcat \"$INPUT_VCF\" | grep -m1 '^#CHROM' > \"$OUTPUT_FILE\"\n",
    )
    .unwrap();
    for (file, prefix, rest) in EXAMPLES {
        let mut args = vec![
            "dsub",
            "--provider",
            "aws",
            "--aws-s3-bucket",
            "s3://my-stack",
            "--dry-run",
            "--user",
            "me",
        ];
        args.extend(["--tasks", file]);
        args.extend_from_slice(rest);
        if file == "custom_scripts.tsv" {
            args.extend(["--script", script.to_str().unwrap()]);
        }
        let out = run(cli().current_dir(&folder).args(&args));
        assert_eq!(out.code, 0, "{file}: {}\n{}", out.stdout, out.stderr);
        let lines: Vec<&str> = out.stdout.lines().collect();
        assert_eq!(
            lines.len(),
            1,
            "{file}: stdout is the job id alone: {}",
            out.stdout
        );
        assert!(
            lines[0].starts_with(&format!("{prefix}me--")),
            "{file}: {}",
            lines[0]
        );
        assert!(
            out.stderr.contains(&format!("tasks: 3 of 3 in {file}")),
            "{file}: {}",
            out.stderr
        );
        assert!(
            out.stderr.contains("nothing was uploaded (--dry-run)"),
            "{file}"
        );
        // dsub's rule for a folder, a --tasks job without --retries.
        assert!(
            out.stderr
                .contains(&format!("{}.{{task-id}}.log", lines[0])),
            "{file}: {}",
            out.stderr
        );
    }
    // A script's #! line is its interpreter.
    let python = dir.path().join("ids.py");
    std::fs::write(&python, "#!/usr/bin/env python3\nprint('hi')\n").unwrap();
    let out = run(cli().current_dir(&folder).args([
        "dsub",
        "--aws-s3-bucket",
        "s3://my-stack",
        "--dry-run",
        "--tasks",
        "custom_scripts.tsv",
        "--script",
        python.to_str().unwrap(),
    ]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("\"shell\": [\n    \"/usr/bin/env\",\n    \"python3\"\n  ]"),
        "{}",
        out.stderr
    );
}

#[test]
fn googles_flags_and_paths_as_dsubs_documents_write_them_are_refused_with_what_to_use() {
    let folder = repo().join("tests/dsub-corpus");
    let dir = tempfile::tempdir().unwrap();
    let out = run(cli().current_dir(dir.path()).args([
        "dsub",
        "--provider",
        "local",
        "--project",
        "MY-PROJECT",
        "--zones",
        "us-central1-*",
        "--logging",
        "gs://MY-BUCKET/decompress_one/logging",
        "--machine-type",
        "n1-standard-4",
        "--input",
        "INPUT_VCF=gs://genomics-public-data/x.vcf.gz",
        "--tasks",
        folder.join("params_tasks.tsv").to_str().unwrap(),
        "--env",
        "SAMPLE_ID=dup",
        "--preemptible",
        "3",
        "--retries",
        "2",
        "--command",
        "true",
    ]));
    assert_eq!(out.code, 2, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(out.stdout, "", "no job id: nothing was submitted");
    for said in [
        "--project is Google Cloud's: on AWS the account is your AWS profile's",
        "--zones us-central1-*: the instances launch in the stack's subnets",
        "--machine-type n1-standard-4: a Google Compute Engine type; on AWS give an EC2 instance type",
        "`gs://genomics-public-data/x.vcf.gz` is a Google Cloud Storage path; on AWS the data must be in S3",
        "--logging gs://MY-BUCKET/decompress_one/logging: is a Google Cloud Storage path",
        "params_tasks.tsv:1:1: the column `SAMPLE_ID` is also given by --env on the command line",
        "--preemptible 3: larger than --retries 2",
    ] {
        assert!(out.stderr.contains(said), "missing {said:?} in:\n{}", out.stderr);
    }
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert!(left.is_empty(), "nothing is written: {left:?}");
}

#[test]
fn the_binary_linked_as_dsub_is_dsub() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("dsub");
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_ecsub-cli"), &link).unwrap();
    let out = run(std::process::Command::new(&link).args(["--provider", "local", "--version"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.starts_with("ecsub-cli-dsub ") || out.stdout.contains(env!("CARGO_PKG_VERSION")),
        "{}",
        out.stdout
    );
    let help = run(std::process::Command::new(&link).arg("--help"));
    assert!(
        help.stdout.contains("Usage: ecsub-cli dsub [OPTIONS]"),
        "{}",
        help.stdout
    );
    assert!(help.stdout.contains("--preemptible"), "{}", help.stdout);
}

/// The command lines of dsub's documents (`docs/input_output.md`, `docs/code.md`, `docs/job_control.md`), `gs://`
/// made `s3://`: each is planned, and its values reach the task as dsub's documents say.
#[test]
fn dsubs_documented_command_lines_are_planned_with_their_meaning() {
    let dir = tempfile::tempdir().unwrap();
    let driver = dir.path().join("driver.sh");
    std::fs::write(
        &driver,
        "#!/bin/bash\nset -o errexit\nchmod u+x ${SCRIPT_DIR}/*.sh\n${SCRIPT_DIR}/script1.sh\n",
    )
    .unwrap();
    let driver = driver.to_str().unwrap();
    let lines: [&[&str]; 5] = [
        &["--env", "MESSAGE=hello", "--command", "echo ${MESSAGE}"],
        &[
            "--input",
            "INPUT_VCF=s3://bucket/path/to/my.vcf",
            "--output",
            "OUTPUT_VCF=s3://bucket/path/to/new.vcf",
            "--script",
            driver,
        ],
        &[
            "--input",
            "INPUT_FILES=s3://bucket/path/*.bam",
            "--output",
            "OUTPUT_FILES=s3://bucket/out/*.bam",
            "--command",
            "ls ${INPUT_FILES}",
        ],
        &[
            "--input-recursive",
            "SCRIPT_DIR=s3://my-bucket/my-code",
            "--script",
            driver,
        ],
        &[
            "--after",
            "echo--me--180924-112256-abcde",
            "echo--me--180924-112259-abcde",
            "--command",
            "echo \"job C\"",
        ],
    ];
    // `dsub --dry-run` on the stack `s3://my-stack`, with these flags.
    let dry_run = |rest: &[&str]| {
        let mut args = vec!["dsub", "--aws-s3-bucket", "s3://my-stack", "--dry-run"];
        args.extend_from_slice(rest);
        run(cli().current_dir(dir.path()).args(&args))
    };
    for rest in lines {
        let out = dry_run(rest);
        assert_eq!(out.code, 0, "{rest:?}: {}", out.stderr);
        assert_eq!(out.stdout.lines().count(), 1, "{rest:?}: {}", out.stdout);
        assert!(
            out.stderr.contains("tasks: 1 of 1"),
            "{rest:?}: {}",
            out.stderr
        );
    }
    // The job-wide values are the one task's columns, as setenv.sh exports them.
    let out = dry_run(&[
        "--env",
        "MESSAGE=hello",
        "--input",
        "s3://bucket/path/file.bam",
        "--command",
        "echo ${MESSAGE}",
    ]);
    assert!(
        out.stderr.contains("export MESSAGE='hello'\n"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("export S3_INPUT_0='s3://bucket/path/file.bam'\n"),
        "an input without a NAME is INPUT_0: {}",
        out.stderr
    );
    // --after's jobs are carried to the stack.
    let out = dry_run(&[
        "--after",
        "a--me--180924-112256-abcde",
        "NO_JOB",
        "--command",
        "true",
    ]);
    assert!(
        out.stderr
            .contains("\"after\": [\n    \"a--me--180924-112256-abcde\"\n  ]"),
        "{}",
        out.stderr
    );
}

/// `ecsub-cli dsub --provider local` in `dir`, with `root` standing for S3, and these flags.
fn local_dsub(dir: &std::path::Path, root: &std::path::Path, rest: &[&str]) -> common::Run {
    let mut args = vec![
        "dsub",
        "--provider",
        "local",
        "--s3-root",
        root.to_str().unwrap(),
    ];
    args.extend_from_slice(rest);
    run(cli().current_dir(dir).args(&args))
}

/// `--provider local` with `--logging`: the three files of each task land under `--s3-root`, dsub's names; a
/// script that leaves a process behind holding its stdout does not hold the task (the log's tee is stopped 5 s
/// after the script), and a missing output's folder is made, as dsub makes it.
#[test]
fn a_local_job_writes_dsubs_log_files_and_a_process_left_behind_does_not_hold_it() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("s3");
    let tasks = dir.path().join("t.tsv");
    std::fs::write(
        &tasks,
        "NAME\t--output OUT\nada\ts3://bkt/out/ada/hello.txt\n",
    )
    .unwrap();
    let started = std::time::Instant::now();
    let out = local_dsub(dir.path(), &root, &[
        "--tasks",
        tasks.to_str().unwrap(),
        "--logging",
        "s3://bkt/logs/{job-name}/{task-id}.log",
        "--name",
        "greet",
        "--command",
        "sleep 60 & echo \"hello $NAME\" > \"$OUT\"; echo \"to stdout\"; echo \"to stderr\" >&2",
    ]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(40),
        "held by the process left behind"
    );
    assert_eq!(
        std::fs::read_to_string(root.join("bkt/out/ada/hello.txt")).unwrap(),
        "hello ada\n"
    );
    let logs = root.join("bkt/logs/greet");
    assert_eq!(
        std::fs::read_to_string(logs.join("1-stdout.log")).unwrap(),
        "to stdout\n"
    );
    assert_eq!(
        std::fs::read_to_string(logs.join("1-stderr.log")).unwrap(),
        "to stderr\n"
    );
    let log = std::fs::read_to_string(logs.join("1.log")).unwrap();
    assert!(
        log.contains(" I: running the script\n") && log.contains(" I: exit status 0\n"),
        "{log}"
    );
}

/// dsub's `--logging NAME.log` for a job without `--tasks` or `--retries` names the files after it as written
/// (`NAME.log`, `NAME-stdout.log`), with no task id.
#[test]
fn a_log_name_of_a_job_without_tasks_is_its_files_stem() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("s3");
    let out = local_dsub(
        dir.path(),
        &root,
        &[
            "--logging",
            "s3://bkt/logs/hello.log",
            "--env",
            "WHO=world",
            "--command",
            "echo \"hello $WHO\"",
        ],
    );
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(
        std::fs::read_to_string(root.join("bkt/logs/hello-stdout.log")).unwrap(),
        "hello world\n"
    );
    assert!(root.join("bkt/logs/hello.log").is_file());
    assert!(root.join("bkt/logs/hello-stderr.log").is_file());
}
