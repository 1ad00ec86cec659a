//! The generated scripts, run for real: `run.sh` + `setenv.sh` + a user script in bash (and dash, the `/bin/sh`
//! of Debian images), with the local transport mapping `s3://B/K` onto a folder. The crate itself writes no
//! files; these tests do, to check that what it generates behaves.

#![allow(clippy::unwrap_used)]

use ecsub_core::exit::{EXIT_INPUT_FAILED, EXIT_OUTPUT_FAILED, EXIT_SETUP_FAILED};
mod shell;

use ecsub_core::JobArgs;
use shell::Job;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Values that broke or were executed by ecsub's `export NAME="value"`.
const CORPUS: &[&str] = &[
    "\"",
    "'",
    "$HOME",
    "`id`",
    "$(id)",
    "\\",
    "a;b",
    "trailing spaces   ",
    "  leading",
    "*",
    "naïve — 日本語 🧬",
    "",
    "'\\''",
    "%s %d -n -e",
    "${PATH}",
    "$((1+1))",
    "a\rb",
    "!x && y || z | w > v < u # not a comment ~",
    "\\n\\t literal escapes",
];

#[test]
fn every_value_of_the_corpus_reaches_the_script_byte_for_byte_in_bash_and_dash() {
    let header: Vec<String> = (0..CORPUS.len()).map(|i| format!("--env V{i}")).collect();
    let tsv = format!(
        "{}\t--output-recursive OUT\n{}\ts3://bkt/out\n",
        header.join("\t"),
        CORPUS.join("\t")
    );
    let user_script = "mkdir -p \"$OUT\"\nfor n in $(compgen -v V); do printf '%s' \"${!n}\" > \"$OUT/$n\"; done\n";
    let job = Job::new(&tsv, user_script, JobArgs::default());
    for shell in ["bash", "dash"] {
        let outcome = job.run_with(shell, 0, &[], None);
        assert_eq!(outcome.code, 0, "{shell}: {}", outcome.log);
        for (i, value) in CORPUS.iter().enumerate() {
            let got = fs::read(job.s3(&format!("bkt/out/V{i}"))).unwrap();
            assert_eq!(String::from_utf8_lossy(&got), *value, "{shell}: V{i}");
        }
        fs::remove_dir_all(job.s3("bkt/out")).unwrap();
    }
}

/// Probe 2026-12, finding 3 on `run` and `push`: the empty cells that end a row, left off or written as tabs, are
/// one line of setenv.sh, not one a column, so 3 000 rows of one cell under 20 000 columns make a setenv.sh the
/// size of the tasks file (it was 1.5 GB). The task still sees each of those columns as an empty cell: `NAME=`
/// for a variable, `NAME=` and `S3_NAME=` for an input or output, in bash and dash.
#[test]
fn the_empty_cells_ending_a_row_are_empty_variables_and_cost_setenv_one_line() {
    let mut header = vec!["--env A".to_owned(), "--label L".to_owned()];
    header.extend((0..20_000).map(|k| format!("--input I{k}")));
    header.extend([
        "--env Z".to_owned(),
        "--secret-env S".to_owned(),
        "--output-recursive OUT".to_owned(),
    ]);
    let tsv = format!(
        "{}\n{}last\tl{}\n",
        header.join("\t"),
        "a\n".repeat(2_999),
        // The last row writes every cell, the empty ones as tabs.
        "\t".repeat(20_003),
    );
    // Each variable the task sees: `set:` and its value, or nothing when it is not set.
    let user_script = "for n in A I0 S3_I0 I19999 S3_I19999 Z S OUT S3_OUT; do\n\
                         eval \"v=\\${$n+set:}\\${$n-}\"; printf '%s=%s\\n' \"$n\" \"$v\" >&2\n\
                       done\n";
    let job = Job::new(&tsv, user_script, JobArgs::default());
    let setenv = fs::metadata(job.dir.path().join("scripts/setenv.sh"))
        .unwrap()
        .len();
    assert!(
        setenv < 2 * tsv.len() as u64,
        "setenv.sh is {setenv} bytes for a {}-byte tasks file",
        tsv.len()
    );
    for shell in ["bash", "dash"] {
        for (index, a) in [(1, "a"), (2_999, "last")] {
            let outcome = job.run_with(shell, index, &[], None);
            assert_eq!(outcome.code, 0, "{shell}: {}", outcome.log);
            assert!(
                outcome.log.contains(&format!("\nA=set:{a}\n")),
                "{shell}: {}",
                outcome.log
            );
            for n in [
                "I0",
                "S3_I0",
                "I19999",
                "S3_I19999",
                "Z",
                "S",
                "OUT",
                "S3_OUT",
            ] {
                assert!(
                    outcome.log.contains(&format!("\n{n}=set:\n")),
                    "{shell} task {index}: {n}: {}",
                    outcome.log
                );
            }
        }
    }
}

#[test]
fn paths_are_exported_under_scratch_with_their_urls() {
    let tsv = "--input IN\t--input-recursive REF\t--output OUT\ns3://bkt/a b/in.txt\ts3://bkt/ref\ts3://bkt/o/out.txt\n";
    let script = "printf '%s\\n%s\\n%s\\n%s\\n%s\\n' \"$IN\" \"$S3_IN\" \"$REF\" \"$S3_REF\" \"$PWD\" > /dev/stderr\n\
                  mkdir -p \"${OUT%/*}\" && cat \"$IN\" \"${REF}r.txt\" > \"$OUT\"\n";
    let job = Job::new(tsv, script, JobArgs::default());
    job.put("bkt/a b/in.txt", b"in\n");
    job.put("bkt/ref/r.txt", b"ref\n");
    job.put("bkt/ref2/not-mine.txt", b"a sibling prefix, never copied\n");
    let outcome = job.run(0);
    assert_eq!(outcome.code, 0, "{}", outcome.log);
    let scratch = job.dir.path().join("scratch-0");
    let s = scratch.display();
    assert!(outcome.log.contains(&format!(
        "{s}/AWS_DATA/bkt/a b/in.txt\ns3://bkt/a b/in.txt\n{s}/AWS_DATA/bkt/ref/\ns3://bkt/ref/\n{s}\n"
    )), "{}", outcome.log);
    assert_eq!(fs::read(job.s3("bkt/o/out.txt")).unwrap(), b"in\nref\n");
    assert!(!scratch.join("AWS_DATA/bkt/ref2").exists());
}

#[test]
fn a_script_that_exits_3_fails_with_3_and_uploads_nothing() {
    let tsv = "--output OUT\ns3://bkt/out.txt\n";
    let job = Job::new(
        tsv,
        "mkdir -p \"${OUT%/*}\"; echo partial > \"$OUT\"; exit 3\n",
        JobArgs::default(),
    );
    let outcome = job.run(0);
    assert_eq!(outcome.code, 3, "{}", outcome.log);
    assert!(outcome
        .log
        .contains("ecsub: the script exited with 3: outputs are not uploaded"));
    assert!(!job.s3("bkt/out.txt").exists());
}

#[test]
fn a_missing_input_fails_the_task_before_the_script_runs() {
    let tsv = "--input A\t--input B\ns3://bkt/a.txt\ts3://bkt/missing.txt\n";
    let job = Job::new(tsv, "echo the script ran\n", JobArgs::default());
    job.put("bkt/a.txt", b"a");
    let outcome = job.run(0);
    assert_eq!(outcome.code, EXIT_INPUT_FAILED, "{}", outcome.log);
    assert!(
        outcome
            .log
            .contains("ecsub: input B: could not download s3://bkt/missing.txt"),
        "{}",
        outcome.log
    );
    assert!(!outcome.log.contains("the script ran"));
}

#[test]
fn an_output_the_script_did_not_write_is_reported_and_left_to_the_outputs_check() {
    let tsv = "--output A\t--output B\ns3://bkt/a.txt\ts3://bkt/b.txt\n";
    let job = Job::new(
        tsv,
        "mkdir -p \"${A%/*}\" && echo a > \"$A\"\n",
        JobArgs::default(),
    );
    let outcome = job.run(0);
    assert_eq!(
        outcome.code, 0,
        "the task's exit code stays the script's: {}",
        outcome.log
    );
    let scratch = job.dir.path().join("scratch-0");
    assert!(outcome.log.contains(&format!(
        "ecsub: output B: the script did not create {}/AWS_DATA/bkt/b.txt; nothing to upload",
        scratch.display()
    )));
    assert!(job.s3("bkt/a.txt").exists());
    assert!(!job.s3("bkt/b.txt").exists());
}

#[test]
fn an_upload_that_fails_fails_the_task_with_121() {
    let job = Job::new(
        "--output A\ns3://bkt/a.txt\n",
        "mkdir -p \"${A%/*}\" && echo a > \"$A\"\n",
        JobArgs::default(),
    );
    // The local S3 root's bucket folder is a file, so the copy into it fails.
    fs::write(job.s3("bkt"), b"not a folder").unwrap();
    let outcome = job.run(0);
    assert_eq!(outcome.code, EXIT_OUTPUT_FAILED, "{}", outcome.log);
    assert!(
        outcome
            .log
            .contains("ecsub: output A: could not upload to s3://bkt/a.txt"),
        "{}",
        outcome.log
    );
}

#[test]
fn wildcards_copy_the_matching_files_of_one_folder_only() {
    let tsv = "--input BAMS\t--output OUTS\ns3://bkt/in/*.bam\ts3://bkt/out/*.txt\n";
    let script = "ls \"${BAMS%/*}\" | sort > /dev/stderr\nmkdir -p \"${OUTS%/*}\"\n\
                  for f in \"${BAMS%/*}\"/*.bam; do wc -c < \"$f\" > \"${OUTS%/*}/$(basename \"$f\").txt\"; done\n\
                  echo skip > \"${OUTS%/*}/not-an-output.log\"\n";
    let job = Job::new(tsv, script, JobArgs::default());
    job.put("bkt/in/a.bam", b"aa");
    job.put("bkt/in/b.bam", b"bbb");
    job.put("bkt/in/c.bai", b"index");
    job.put("bkt/in/sub/d.bam", b"nested: not matched by *");
    let outcome = job.run(0);
    assert_eq!(outcome.code, 0, "{}", outcome.log);
    assert!(outcome.log.contains("a.bam\nb.bam\n"), "{}", outcome.log);
    assert!(
        !outcome.log.contains("c.bai") && !outcome.log.contains("\nsub\n"),
        "{}",
        outcome.log
    );
    assert_eq!(
        fs::read_to_string(job.s3("bkt/out/a.bam.txt"))
            .unwrap()
            .trim(),
        "2"
    );
    assert_eq!(
        fs::read_to_string(job.s3("bkt/out/b.bam.txt"))
            .unwrap()
            .trim(),
        "3"
    );
    assert!(!job.s3("bkt/out/not-an-output.log").exists());
}

#[test]
fn a_wildcard_input_that_matches_nothing_fails() {
    let job = Job::new(
        "--input X\ns3://bkt/in/*.vcf\n",
        "true\n",
        JobArgs::default(),
    );
    job.put("bkt/in/a.bam", b"");
    let outcome = job.run(0);
    assert_eq!(outcome.code, EXIT_INPUT_FAILED, "{}", outcome.log);
    assert!(
        outcome
            .log
            .contains("ecsub: input X: no file matches s3://bkt/in/*.vcf"),
        "{}",
        outcome.log
    );
}

#[test]
fn empty_cells_export_empty_values_and_copy_nothing() {
    let job = Job::new(
        "--env E\t--input I\t--output O\nx\t\t\n",
        "test -z \"$I$S3_I$O$S3_O\"\n",
        JobArgs::default(),
    );
    let outcome = job.run(0);
    assert_eq!(outcome.code, 0, "{}", outcome.log);
}

#[test]
fn the_shell_option_runs_the_user_script() {
    let args = JobArgs {
        shell: Some("python3 -B".into()),
        ..Default::default()
    };
    let job = Job::new(
        "--env WHO\nworld\n",
        "import os, sys\nsys.exit(0 if os.environ['WHO'] == 'world' else 9)\n",
        args,
    );
    let outcome = job.run(0);
    assert_eq!(outcome.code, 0, "{}", outcome.log);
}

#[test]
fn a_task_index_outside_the_job_is_a_setup_failure() {
    let job = Job::new("--env A\nx\n", "true\n", JobArgs::default());
    let outcome = job.run(7);
    assert_eq!(outcome.code, EXIT_SETUP_FAILED, "{}", outcome.log);
    assert!(outcome.log.contains("ecsub: task 7 is not in this job"));
}

/// Writes a stager that records its arguments (and the request-payer buckets run.sh hands it) and stands in for
/// S3: `secret kms B64` prints the base64's bytes, a copy makes its destination (a folder gets one file, a wildcard
/// matches nothing), so run.sh's calls can be checked without AWS. The real stager's S3 side is tested on the
/// emulated cloud (tests/e2e/stage.rs) and every e2e job goes through it.
fn recording_stager(dir: &Path) -> PathBuf {
    let path = dir.join("recording-stage");
    let log = dir.join("stage-calls.log");
    let script = format!(
        "#!/bin/sh\nprintf '%s|%s\\n' \"$ECSUB_REQUEST_PAYER_BUCKETS\" \"$*\" >> '{}'\n\
         case $1:$2 in\n\
         secret:kms) printf '%s' \"$4\" | base64 -d ;;\n\
         copy:file) case $4 in s3://*) ;; *) mkdir -p \"$(dirname \"$4\")\" && : > \"$4\" ;; esac ;;\n\
         copy:dir) case $4 in s3://*) ;; *) mkdir -p \"$4\" && : > \"$4/recorded\" ;; esac ;;\n\
         copy:glob) case $4 in s3://*) ;; *) mkdir -p \"$4\" ;; esac ;;\n\
         esac\n",
        log.display()
    );
    fs::write(&path, script).unwrap();
    Command::new("chmod").arg("+x").arg(&path).status().unwrap();
    path
}

#[test]
fn secrets_are_read_by_the_stager_byte_for_byte() {
    use std::io::Write;
    let plaintext = b"top 'secret'\n\n";
    let mut b64 = Command::new("base64")
        .arg("-w0")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    b64.stdin.take().unwrap().write_all(plaintext).unwrap();
    let ciphertext = String::from_utf8(b64.wait_with_output().unwrap().stdout).unwrap();
    let tsv = format!("--secret-env TOKEN\n{ciphertext}\n");
    let job = Job::new(
        &tsv,
        "printf '%s' \"$TOKEN\" > \"$ECSUB_SCRATCH/token\"\n",
        JobArgs::default(),
    );
    let stager = recording_stager(job.dir.path());
    let stager = stager.to_str().unwrap();
    let outcome = job.run_with("bash", 0, &[("ECSUB_STAGE", stager)], None);
    assert_eq!(outcome.code, 0, "{}", outcome.log);
    let token = fs::read(job.dir.path().join("scratch-0/token")).unwrap();
    assert_eq!(token, plaintext);
    let calls = fs::read_to_string(job.dir.path().join("stage-calls.log")).unwrap();
    assert_eq!(calls, format!("  |secret kms -- {ciphertext}\n"));

    // References go to the stager as its kind and name (the tasks file refuses what is neither).
    let refs = Job::new(
        "--secret-env A\t--secret-env B\nssm:/ecsub/db\tsecretsmanager:ecsub/token\n",
        "true\n",
        JobArgs::default(),
    );
    let stager = recording_stager(refs.dir.path());
    let outcome = refs.run_with(
        "bash",
        0,
        &[("ECSUB_STAGE", stager.to_str().unwrap())],
        None,
    );
    assert_eq!(outcome.code, 0, "{}", outcome.log);
    let calls = fs::read_to_string(refs.dir.path().join("stage-calls.log")).unwrap();
    assert_eq!(
        calls,
        "  |secret ssm -- /ecsub/db\n  |secret secretsmanager -- ecsub/token\n"
    );
}

#[test]
fn every_s3_copy_goes_through_the_stager_with_the_request_payer_buckets() {
    let args = JobArgs {
        request_payer_bucket: vec!["payer-bkt".into()],
        ..Default::default()
    };
    let tsv = "--input A\t--input-recursive B\t--input C\ns3://payer-bkt/a\ts3://free-bkt/b\ts3://payer-bkt/c/*.x\n";
    let job = Job::new(tsv, "true\n", args);
    let stager = recording_stager(job.dir.path());
    // The recording stager leaves one file in a downloaded folder and matches nothing for a wildcard, so the
    // wildcard's match check fails after the copy: that is expected.
    let outcome = job.run_with(
        "bash",
        0,
        &[
            ("ECSUB_TRANSPORT", "s3"),
            ("ECSUB_STAGE", stager.to_str().unwrap()),
        ],
        None,
    );
    assert_eq!(outcome.code, EXIT_INPUT_FAILED, "{}", outcome.log);
    let scratch = job.dir.path().join("scratch-0");
    let s = scratch.display();
    let calls = fs::read_to_string(job.dir.path().join("stage-calls.log")).unwrap();
    assert_eq!(
        calls,
        format!(
            " payer-bkt |copy file s3://payer-bkt/a {s}/AWS_DATA/payer-bkt/a\n \
             payer-bkt |copy dir s3://free-bkt/b/ {s}/AWS_DATA/free-bkt/b/\n \
             payer-bkt |copy glob s3://payer-bkt/c/ {s}/AWS_DATA/payer-bkt/c/ *.x\n"
        )
    );
}

/// Local review finding 8: names run.sh used for itself (`_src`, `_dst`, `_f`, `_mode`, …) reach the script as
/// given; run.sh's own variables are `ecsub_*`, a prefix no column may have (finding 9: nor a shell's own names).
#[test]
fn columns_named_like_run_sh_internals_keep_their_values() {
    let names = [
        "_src", "_dst", "_f", "_ifs", "_mode", "_pat", "_u", "_b", "_e", "_p",
    ];
    let header: Vec<String> = names.iter().map(|n| format!("--env {n}")).collect();
    let values: Vec<String> = names.iter().map(|n| format!("val{n}")).collect();
    let tsv = format!(
        "{}\t--input IN\t--input GLOB\n{}\ts3://bkt/in/a.txt\ts3://bkt/in/*.txt\n",
        header.join("\t"),
        values.join("\t")
    );
    let script: String = names
        .iter()
        .map(|n| format!("printf '%s=%s\\n' {n} \"${n}\" >&2\n"))
        .collect();
    let job = Job::new(&tsv, &script, JobArgs::default());
    job.put("bkt/in/a.txt", b"a");
    for sh in ["bash", "dash"] {
        let outcome = job.run_with(sh, 0, &[], None);
        assert_eq!(outcome.code, 0, "{sh}: {}", outcome.log);
        for n in names {
            assert!(
                outcome.log.contains(&format!("{n}=val{n}\n")),
                "{sh}: {n}: {}",
                outcome.log
            );
        }
    }
    for reserved in ["OPTIND", "ecsub_src", "Ecsub_x", "BASH_ENV", "HOME"] {
        let err = ecsub_core::tasks::parse("t.tsv", format!("--env {reserved}\nx\n").as_bytes())
            .err()
            .unwrap_or_else(|| panic!("{reserved} was accepted"));
        assert!(
            err.to_string().contains("is reserved by ecsub's scripts"),
            "{reserved}: {err}"
        );
    }
}
