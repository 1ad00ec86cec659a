//! `ecsub-cli run --local`, end to end with the real binary: the wordcount example, failures, concurrency,
//! task ranges, the input pre-flight and Ctrl-C.

#![allow(clippy::unwrap_used)]

mod common;
use common::{copy_tree, repo, run, LocalJob};
use std::fs;
use std::process::Command;
use std::time::{Duration, Instant};

fn wordcount(s3_root: &std::path::Path, wdir: &std::path::Path) -> common::Run {
    let example = repo().join("examples/wordcount");
    run(common::cli()
        .args(["run", "--local", "--tasks"])
        .arg(example.join("wordcount.tsv"))
        .arg("--script")
        .arg(example.join("wordcount.sh"))
        .arg("--s3-root")
        .arg(s3_root)
        .arg("--wdir")
        .arg(wdir))
}

#[test]
fn wordcount_example_writes_both_counts_and_a_second_run_is_identical() {
    let tmp = tempfile::tempdir().unwrap();
    let s3 = tmp.path().join("s3");
    copy_tree(&repo().join("examples/wordcount/s3"), &s3);
    let out_dir = s3.join("ecsub-wordcount/output");

    let first = wordcount(&s3, &tmp.path().join("work"));
    assert_eq!(first.code, 0, "{}", first.stderr);
    let table: Vec<_> = first.stdout.lines().collect();
    assert_eq!(table.len(), 3, "{}", first.stdout);
    assert!(table[0].starts_with("exit_code  taskname"));
    assert!(
        table[1].starts_with("0          wordcount-") && table[1].contains(" 000 "),
        "{}",
        table[1]
    );
    assert!(
        table[2].starts_with("0          wordcount-") && table[2].contains(" 001 "),
        "{}",
        table[2]
    );

    let script = repo().join("examples/wordcount/s3/ecsub-wordcount/script/count_words.py");
    for play in ["hamlet", "kinglear"] {
        let got = fs::read(out_dir.join(format!("{play}.count.tsv"))).unwrap();
        let text = s3.join(format!("ecsub-wordcount/input/{play}.txt"));
        let expected = Command::new("python3")
            .arg(&script)
            .arg(&text)
            .output()
            .unwrap()
            .stdout;
        assert!(!expected.is_empty());
        assert_eq!(
            got, expected,
            "{play}: the task's output is the counter's output"
        );
    }
    let first_outputs: Vec<_> = ["hamlet", "kinglear"]
        .map(|p| fs::read(out_dir.join(format!("{p}.count.tsv"))).unwrap())
        .into();

    let second = wordcount(&s3, &tmp.path().join("work"));
    assert_eq!(second.code, 0, "{}", second.stderr);
    for (play, before) in ["hamlet", "kinglear"].iter().zip(first_outputs) {
        assert_eq!(
            fs::read(out_dir.join(format!("{play}.count.tsv"))).unwrap(),
            before
        );
    }
}

#[test]
fn a_task_exiting_3_is_reported_with_3_its_outputs_stay_local_and_the_run_exits_1() {
    let job = LocalJob::new(
        "--env CODE\t--output OUT\n0\ts3://bkt/out/0.txt\n3\ts3://bkt/out/3.txt\n",
        "mkdir -p \"$(dirname \"$OUT\")\"; echo \"code $CODE\" > \"$OUT\"; exit \"$CODE\"\n",
    );
    let out = job.run(&[]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    let rows: Vec<_> = out.stdout.lines().skip(1).collect();
    assert!(rows[0].starts_with("0 "), "{}", out.stdout);
    assert!(rows[1].starts_with("3 "), "{}", out.stdout);
    assert!(job.path("s3/bkt/out/0.txt").exists());
    assert!(
        !job.path("s3/bkt/out/3.txt").exists(),
        "a failed task's outputs are not uploaded"
    );
    let log = fs::read_to_string(job.job_dir().join("logs/001.log")).unwrap();
    assert!(
        log.contains("ecsub: the script exited with 3: outputs are not uploaded"),
        "{log}"
    );
    assert!(
        job.job_dir()
            .join("tasks/001/AWS_DATA/bkt/out/3.txt")
            .exists(),
        "a failed task keeps its scratch"
    );
    assert!(
        !job.job_dir().join("tasks/000").exists(),
        "a succeeded task's scratch is removed"
    );
    let report: serde_json::Value =
        serde_json::from_slice(&fs::read(job.job_dir().join("report.json")).unwrap()).unwrap();
    assert_eq!(report[1]["state"], "failed");
    assert_eq!(report[1]["exit_code"], 3);
}

#[test]
fn a_task_that_exits_0_without_its_output_fails_as_outputs_missing() {
    let job = LocalJob::new("--output OUT\ns3://bkt/never-written.txt\n", "true\n");
    let out = job.run(&[]);
    assert_eq!(out.code, 1);
    let row = out.stdout.lines().nth(1).unwrap();
    assert!(
        row.starts_with("0 "),
        "the exit code stays the script's: {}",
        out.stdout
    );
    assert!(
        row.ends_with("exited 0 but these outputs are missing: s3://bkt/never-written.txt"),
        "{}",
        out.stdout
    );
}

#[test]
fn missing_inputs_are_found_before_anything_runs() {
    let job = LocalJob::new(
        "--input IN\ns3://bkt/here.txt\ns3://bkt/gone.txt\n",
        "touch ran\n",
    );
    job.put("bkt/here.txt", b"x");
    let out = job.run(&[]);
    assert_eq!(out.code, 2);
    let s3 = job.path("s3");
    assert_eq!(
        out.stderr,
        format!(
            "tasks.tsv:3:1: task 1 (`--input IN`): input `s3://bkt/gone.txt` not found (looked for {}/bkt/gone.txt)\n\
             nothing was run (--not-verify-bucket skips this check)\n",
            s3.display()
        )
    );
    assert!(
        !job.path("work").exists(),
        "nothing is written on bad input"
    );
}

/// `--processes` as real overlap (test audit 1.1): each task records its own start and end to the nanosecond,
/// and at no instant do more than N tasks run, while N do run together.
#[test]
fn processes_bounds_how_many_tasks_run_at_once() {
    for n in [1usize, 2, 3] {
        let job = LocalJob::new(
            "--env I\n0\n1\n2\n3\n4\n5\n",
            "echo \"$(date +%s%N) 1\" >> \"$LOG\"; sleep 0.3; echo \"$(date +%s%N) -1\" >> \"$LOG\"\n",
        );
        let log = job.path("spans.log");
        let out = run(job
            .command(&["--processes", &n.to_string()])
            .env("LOG", &log));
        assert_eq!(out.code, 0, "{}", out.stderr);
        let mut events: Vec<(u128, i32)> = fs::read_to_string(&log)
            .unwrap()
            .lines()
            .map(|l| {
                let (t, d) = l.split_once(' ').unwrap();
                (t.parse().unwrap(), d.parse().unwrap())
            })
            .collect();
        assert_eq!(events.len(), 12);
        // Ends before starts at the same instant, so that back-to-back tasks do not count as overlapping.
        events.sort();
        let (mut now, mut most) = (0, 0);
        for (_, delta) in events {
            now += delta;
            most = most.max(now);
        }
        assert_eq!(
            most, n as i32,
            "--processes {n}: at most {most} tasks ran at once"
        );
    }
}

#[test]
fn task_range_runs_only_the_selected_tasks() {
    let job = LocalJob::new(
        "--env I\t--output O\na\ts3://b-1/a\nb\ts3://b-1/b\nc\ts3://b-1/c\n",
        "mkdir -p \"${O%/*}\" && echo \"$I\" > \"$O\"\n",
    );
    let out = job.run(&["--task-range", "1-"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let numbers: Vec<_> = out
        .stdout
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().nth(2).unwrap().to_owned())
        .collect();
    assert_eq!(numbers, ["001", "002"]);
    assert!(!job.path("s3/b-1/a").exists());
    assert_eq!(fs::read_to_string(job.path("s3/b-1/c")).unwrap(), "c\n");

    let out = job.run(&["--task-range", "5"]);
    assert_eq!(out.code, 2);
    assert_eq!(
        out.stderr,
        "--task-range 5 is outside the 3 tasks (0-2) (on the command line)\n"
    );
}

#[test]
fn aws_only_flags_are_accepted_and_reported_as_ignored() {
    let job = LocalJob::new("--env A\nx\n", "true\n");
    let out = job.run(&[
        "--image",
        "ubuntu:24.04",
        "--spot",
        "--aws-ec2-instance-type",
        "t3.micro,t3.small",
        "--disk-size",
        "100",
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stderr.starts_with(
        "ecsub-cli: ignored by --local (AWS only): --image ubuntu:24.04 --aws-ec2-instance-type t3.micro,t3.small \
         --disk-size 100 --spot\n"
    ), "{}", out.stderr);
}

/// A GPU type says what --local does with GPUs (hands none out) and what AWS would (issue 23); a plain type says
/// nothing of them.
#[test]
fn a_gpu_type_is_told_that_local_tasks_get_no_gpus_handed_out() {
    let job = LocalJob::new("--env A\nx\n", "true\n");
    let gpu = job.run(&["--aws-ec2-instance-type", "g5.xlarge", "--tag", "project=p"]);
    assert_eq!(gpu.code, 0, "{}", gpu.stderr);
    assert!(
        gpu.stderr.contains(
            "ecsub-cli: --local hands out no GPU: tasks run as this machine's processes and see what it has; \
             on AWS each g5.xlarge task gets its instance's GPUs (NVIDIA_VISIBLE_DEVICES names them)\n"
        ),
        "{}",
        gpu.stderr
    );
    assert!(gpu.stderr.contains("--tag project=p"), "{}", gpu.stderr);
    let plain = job.run(&["--aws-ec2-instance-type", "m5.large"]);
    assert!(!plain.stderr.contains("GPU"), "{}", plain.stderr);
}

#[test]
fn run_without_local_is_a_usage_error() {
    let job = LocalJob::new("--env A\nx\n", "true\n");
    let out = run(common::cli().current_dir(job.dir.path()).args([
        "run",
        "--tasks",
        "tasks.tsv",
        "--script",
        "script.sh",
    ]));
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("add --local"), "{}", out.stderr);
}

#[test]
fn ctrl_c_stops_running_tasks_and_still_prints_the_table() {
    let job = LocalJob::new(
        "--env I\n0\n1\n2\n",
        "echo $$ > \"$ECSUB_SCRATCH/../../pid.$I\"\nsleep 60 &\necho $! > \"$ECSUB_SCRATCH/../../child.$I\"\nwait\n",
    );
    let child = job
        .command(&["--processes", "2"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let work = job.path("work");
    let started = || {
        fs::read_dir(&work)
            .ok()
            .and_then(|mut jobs| jobs.next())
            .map(|j| j.unwrap().path())
            .filter(|j| j.join("child.0").exists() && j.join("child.1").exists())
    };
    let job_dir = loop {
        if let Some(dir) = started() {
            break dir;
        }
        assert!(Instant::now() < deadline, "the tasks never started");
        std::thread::sleep(Duration::from_millis(50));
    };
    let sent = Instant::now();
    assert_eq!(
        Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status()
            .unwrap()
            .code(),
        Some(0)
    );
    let out = child.wait_with_output().unwrap();
    assert!(
        sent.elapsed() < Duration::from_secs(10),
        "stopping took {:?}",
        sent.elapsed()
    );
    assert_eq!(out.status.code(), Some(130));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let rows: Vec<_> = stdout.lines().collect();
    assert_eq!(rows.len(), 4, "{stdout}");
    assert!(
        rows[1].ends_with("interrupted") && rows[2].ends_with("interrupted"),
        "{stdout}"
    );
    assert!(
        rows[3].starts_with("-") && rows[3].ends_with("not started"),
        "{stdout}"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(
            "ecsub-cli: Ctrl-C: stopping 2 running task(s) (SIGTERM, then SIGKILL after 5 s); the rest will not start"
        ),
        "{stderr}"
    );
    for i in 0..2 {
        for file in ["pid", "child"] {
            let pid = fs::read_to_string(job_dir.join(format!("{file}.{i}"))).unwrap();
            assert!(
                gone_soon(pid.trim()),
                "{file} {} of task {i} is still running",
                pid.trim()
            );
        }
    }
}

/// Is the process gone (or a zombie nobody has reaped yet) within a second?
fn gone_soon(pid: &str) -> bool {
    let deadline = Instant::now() + Duration::from_secs(1);
    loop {
        let state = fs::read_to_string(format!("/proc/{pid}/stat")).ok();
        let running = state.is_some_and(|s| {
            s.rsplit_once(')')
                .is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z'))
        });
        if !running {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Local review finding 16: with a low file-descriptor limit, tasks that cannot be started yet wait for a slot
/// instead of failing.
#[test]
fn tasks_that_cannot_start_for_want_of_file_descriptors_wait_for_a_slot() {
    let rows: String = (0..60).map(|i| format!("{i}\n")).collect();
    let job = LocalJob::new(&format!("--env I\n{rows}"), "sleep 0.2\n");
    let cli = job.command(&["--processes", "60"]);
    let out = run(Command::new("sh")
        .arg("-c")
        .arg("ulimit -n 40 && exec \"$@\"")
        .arg("sh")
        .arg(cli.get_program())
        .args(cli.get_args())
        .current_dir(job.dir.path()));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr.contains("cannot start more tasks now"),
        "{}",
        out.stderr
    );
    assert_eq!(out.stdout.lines().count(), 61, "{}", out.stdout);
}

/// Exit 3 (a runtime error) and local review finding 17: when report.json cannot be written, the table of the
/// tasks' results is still printed, then the error, with exit 3.
#[test]
fn a_report_that_cannot_be_written_exits_3_after_printing_the_table() {
    let job = LocalJob::new(
        "--env I\n0\n",
        "rm -rf \"$(dirname \"$ECSUB_SCRIPTS_DIR\")\"\n",
    );
    let out = job.run(&[]);
    assert_eq!(out.code, 3, "{}", out.stderr);
    let rows: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(rows.len(), 2, "{}", out.stdout);
    assert!(rows[1].starts_with("0 "), "{}", out.stdout);
    assert!(
        out.stderr.contains("cannot write the report"),
        "{}",
        out.stderr
    );
}

/// README promises of `run --local` (test audit §4): the default roots, `ECSUB_JOB_ID` and `ECSUB_TASK_INDEX`
/// in the task, `--task-name`, `--shell`, `--keep-scratch`, and progress on stderr.
#[test]
fn defaults_and_flags_of_run_local_do_what_the_readme_says() {
    let job = LocalJob::new(
        "--output O\ns3://bkt/o.txt\n",
        "import os, pathlib\n\
         p = pathlib.Path(os.environ['O']); p.parent.mkdir(parents=True, exist_ok=True)\n\
         p.write_text(os.environ['ECSUB_JOB_ID'] + ' ' + os.environ['ECSUB_TASK_INDEX'] + '\\n')\n\
         pathlib.Path('kept').write_text('scratch')\n",
    );
    let out = run(&mut job.bare_command(&[
        "--task-name",
        "named",
        "--shell",
        "python3 -B",
        "--keep-scratch",
    ]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let written = fs::read_to_string(job.path(".ecsub/s3/bkt/o.txt")).unwrap();
    let (id, index) = written.trim().split_once(' ').unwrap();
    assert!(
        id.starts_with("named-") && id.len() == "named-".len() + 5,
        "{written}"
    );
    assert_eq!(index, "0");
    let job_dir = job.path(&format!(".ecsub/work/{id}"));
    assert_eq!(
        fs::read_to_string(job_dir.join("tasks/000/kept")).unwrap(),
        "scratch"
    );
    assert!(
        out.stderr.contains("ecsub-cli: task 000 started (log: ")
            && out
                .stderr
                .contains("ecsub-cli: task 000 exited 0 [1/1 done"),
        "{}",
        out.stderr
    );
}

/// Local review finding 19: `--wdir` naming a file is an input error (exit 2), `--shell` is split as a shell
/// would split it (quotes group words) and a placeholder-like text in it is kept as written.
#[test]
fn small_flag_fixes_hold() {
    let job = LocalJob::new("--env I\n0\n", "echo ran\n");
    fs::write(job.path("afile"), "x").unwrap();
    let out = run(&mut job.bare_command(&["--wdir", "afile"]));
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert_eq!(out.stderr, "--wdir afile: not a folder\n");

    let job = LocalJob::new("--env I\n0\n", "echo \"script got: $1\"\n");
    let out = job.run(&[
        "--shell",
        "sh -c 'echo \"shell says @SCRIPT_FILE@\"; sh \"$0\" arg'",
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let log = fs::read_to_string(job.job_dir().join("logs/000.log")).unwrap();
    assert!(log.contains("shell says @SCRIPT_FILE@\n"), "{log}");
    assert!(log.contains("script got: arg\n"), "{log}");
}

/// `run --local` hands each task its environment as a file of its own (not through setenv.sh's index): values
/// still reach the script byte for byte, a `--secret-env` value is passed as written, and no task's environment
/// file is left in the work folder after the run.
#[test]
fn each_task_gets_its_own_values_byte_for_byte_and_no_environment_file_is_left() {
    let values = [
        "$(id)",
        "'\\''",
        "a;b `id` ${PATH}",
        "naïve 🧬",
        "",
        "  x  ",
    ];
    let mut tasks = String::from("--env V\t--secret-env S\t--output OUT\n");
    for (i, v) in values.iter().enumerate() {
        tasks.push_str(&format!("{v}\tsecret {i}\ts3://bkt/v/{i}\n"));
    }
    let job = LocalJob::new(
        &tasks,
        "mkdir -p \"${OUT%/*}\" && printf '%s|%s|%s' \"$V\" \"$S\" \"$ECSUB_TASK_INDEX\" > \"$OUT\"\n",
    );
    let out = job.run(&["--processes", "3"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    for (i, v) in values.iter().enumerate() {
        assert_eq!(
            fs::read_to_string(job.path(&format!("s3/bkt/v/{i}"))).unwrap(),
            format!("{v}|secret {i}|{i}"),
        );
    }
    let left: Vec<_> = fs::read_dir(job.job_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(!left.contains(&"env".to_owned()), "{left:?}");
}
