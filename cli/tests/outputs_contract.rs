//! The output contract through `run --local` (local review 2026-11, finding 4; test audit I2): an output counts
//! only if this attempt wrote it, so an object left by an earlier run never turns a task green, and an empty
//! output folder is missing here as on S3.

#![allow(clippy::unwrap_used)]

mod common;
use common::LocalJob;
use std::fs;

const OUTPUTS: &str = "--output OUT\t--output-recursive DIR\t--output GLOB\n\
                       s3://bkt/stale/out.txt\ts3://bkt/stale/dir\ts3://bkt/stale/g/*.txt\n";

#[test]
fn outputs_left_by_an_earlier_run_do_not_make_a_task_that_wrote_nothing_succeed() {
    let job = LocalJob::new(
        OUTPUTS,
        "mkdir -p \"${OUT%/*}\" \"$DIR\" \"${GLOB%/*}\"\n\
         echo 1 > \"$OUT\"; echo 2 > \"$DIR/f\"; echo 3 > \"${GLOB%/*}/a.txt\"\n",
    );
    let first = job.run(&[]);
    assert_eq!(first.code, 0, "{}", first.stderr);
    assert!(job.path("s3/bkt/stale/dir/f").is_file());

    fs::write(job.path("script.sh"), "echo nothing\n").unwrap();
    let second = job.run(&[]);
    assert_eq!(second.code, 1, "{}\n{}", second.stdout, second.stderr);
    let row = second.stdout.lines().nth(1).unwrap();
    assert!(
        row.ends_with(
            "exited 0 but these outputs are missing: s3://bkt/stale/out.txt, s3://bkt/stale/dir/, \
             s3://bkt/stale/g/*.txt"
        ),
        "{}",
        second.stdout
    );
    // The earlier run's objects are still there: the check ignored them, it did not remove them.
    assert_eq!(fs::read(job.path("s3/bkt/stale/out.txt")).unwrap(), b"1\n");
}

#[test]
fn a_task_that_rewrites_only_some_outputs_is_missing_the_others() {
    let job = LocalJob::new(
        OUTPUTS,
        "mkdir -p \"${OUT%/*}\" \"$DIR\" \"${GLOB%/*}\"\n\
         echo 1 > \"$OUT\"; echo 2 > \"$DIR/f\"; echo 3 > \"${GLOB%/*}/a.txt\"\n",
    );
    assert_eq!(job.run(&[]).code, 0);
    fs::write(
        job.path("script.sh"),
        "mkdir -p \"${OUT%/*}\" \"${GLOB%/*}\" && echo new > \"$OUT\" && echo log > \"${GLOB%/*}/a.log\"\n",
    )
    .unwrap();
    let second = job.run(&[]);
    assert_eq!(second.code, 1);
    assert!(
        second
            .stdout
            .contains("missing: s3://bkt/stale/dir/, s3://bkt/stale/g/*.txt"),
        "{}",
        second.stdout
    );
}

#[test]
fn an_empty_output_folder_is_missing_as_on_s3() {
    let job = LocalJob::new(
        "--output-recursive DIR\ns3://bkt/empty\n",
        "mkdir -p \"$DIR/sub\"\n",
    );
    let out = job.run(&[]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stdout
            .contains("exited 0 but these outputs are missing: s3://bkt/empty/"),
        "{}",
        out.stdout
    );
}

#[test]
fn an_input_folder_with_no_file_is_refused_before_anything_runs() {
    let job = LocalJob::new("--input-recursive IN\ns3://bkt/in\n", "touch ran\n");
    fs::create_dir_all(job.path("s3/bkt/in/sub")).unwrap();
    let out = job.run(&[]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.starts_with(
            "tasks.tsv:2:1: task 0 (`--input-recursive IN`): input `s3://bkt/in/` holds no file (looked in"
        ),
        "{}",
        out.stderr
    );
    assert!(!job.path("work").exists());
}

/// Probe 2026-12, finding 2: the bucket folder is another filesystem than the root, one that keeps whole seconds
/// (ext2 with 128-byte inodes, loop-mounted in a mount namespace of its own). Its outputs are stamped by its clock
/// and count for the attempt that wrote them: the mark is taken on the filesystem each output lands on. Needs
/// root, `unshare`, `mkfs.ext2` and a loop device: says so and passes without them.
#[test]
fn outputs_on_a_whole_second_filesystem_count_for_the_attempt_that_wrote_them() {
    let rows: String = (0..10)
        .map(|i| format!("{i}\ts3://bkt/out/{i}.txt\n"))
        .collect();
    let job = LocalJob::new(
        &format!("--env I\t--output OUT\n{rows}"),
        "mkdir -p \"$(dirname \"$OUT\")\"; echo $I > \"$OUT\"\n",
    );
    let image = job.path("ext2.img");
    fs::File::create(&image).unwrap().set_len(16 << 20).unwrap();
    let made = std::process::Command::new("mkfs.ext2")
        .args(["-q", "-F", "-I", "128"])
        .arg(&image)
        .output();
    if !made.is_ok_and(|out| out.status.success()) {
        eprintln!("skipped: mkfs.ext2 is not available");
        return;
    }
    fs::create_dir_all(job.path("s3/bkt")).unwrap();
    // In its own mount namespace: the mount (and its loop device) goes when the namespace does.
    let out = common::run(
        std::process::Command::new("unshare")
            .current_dir(job.dir.path())
            .env_remove("ECSUB_BUCKET")
            .args(["-m", "sh", "-c"])
            .arg(
                "mount -o loop ext2.img s3/bkt || exit 97\n\
                 \"$0\" run --local --tasks tasks.tsv --script script.sh --s3-root s3 --wdir work --processes 1\n\
                 rc=$?; ls s3/bkt/out > listing; stat -c %y s3/bkt/out/0.txt >> listing; umount s3/bkt; exit $rc",
            )
            .arg(env!("CARGO_BIN_EXE_ecsub-cli")),
    );
    if out.code == 97 || out.stderr.starts_with("unshare: ") {
        eprintln!("skipped: cannot mount a loop device here: {}", out.stderr);
        return;
    }
    let listing = fs::read_to_string(job.path("listing")).unwrap();
    assert!(
        listing.contains(".000000000 "),
        "the bucket's filesystem keeps whole seconds: {listing}"
    );
    assert_eq!(out.code, 0, "{}\n{}\n{listing}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains("10/10 tasks succeeded"),
        "{}",
        out.stderr
    );
    assert_eq!(listing.lines().filter(|l| l.ends_with(".txt")).count(), 10);
}

/// Probe 2026-12, finding 4: a part left in the bucket by a killed upload is no object: the pre-flight finds
/// neither input there (and removes the part, its writer being gone), and a task never downloads one.
#[test]
fn a_part_left_by_a_killed_upload_is_no_input() {
    let job = LocalJob::new(
        "--input-recursive RES\t--input G\t--output N\ns3://bkt/res\ts3://bkt/res/*.bin\ts3://bkt/next/n.txt\n",
        "mkdir -p \"$(dirname \"$N\")\"; ls -A \"$RES\" \"$(dirname \"$G\")\" > \"$N\"\n",
    );
    let mut gone = std::process::Command::new("true").spawn().unwrap();
    let dead = gone.id();
    gone.wait().unwrap();
    let part = format!("bkt/res/.ecsub-part.{dead}.big.bin");
    let a_minute_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(61);
    job.put(&part, b"the first 50 MB of big.bin");
    fs::File::options()
        .write(true)
        .open(job.path(&format!("s3/{part}")))
        .unwrap()
        .set_modified(a_minute_ago)
        .unwrap();
    let out = job.run(&[]);
    assert_eq!(out.code, 2, "{}\n{}", out.stdout, out.stderr);
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert!(
        lines[0].starts_with(
            "tasks.tsv:2:1: task 0 (`--input-recursive RES`): input `s3://bkt/res/` holds no file"
        ),
        "{}",
        out.stderr
    );
    assert!(
        lines[1].starts_with(
            "tasks.tsv:2:14: task 0 (`--input G`): input `s3://bkt/res/*.bin` not found"
        ),
        "{}",
        out.stderr
    );
    assert!(
        !job.path(&format!("s3/{part}")).exists(),
        "the stale part is removed"
    );

    // Left a moment ago, so kept for now (its writer may be elsewhere): still no task ever sees it.
    job.put("bkt/res/big.bin", b"whole");
    job.put(&part, b"the first 50 MB of big.bin");
    let out = job.run(&[]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let listed = fs::read_to_string(job.path("s3/bkt/next/n.txt")).unwrap();
    assert!(!listed.contains(".ecsub-part"), "{listed}");
    assert_eq!(listed.matches("big.bin").count(), 2, "{listed}");
    assert!(job.path(&format!("s3/{part}")).exists());
}

/// Probe 2026-12, finding 12: names of 237 to 255 bytes could never be staged (the part name added ~18 bytes);
/// the longest name a file may have now goes in and out.
#[test]
fn a_name_of_255_bytes_is_an_input_and_an_output() {
    let long = "n".repeat(255);
    let job = LocalJob::new(
        &format!("--input IN\t--output OUT\ns3://bkt/i/{long}\ts3://bkt/o/{long}\n"),
        "mkdir -p \"$(dirname \"$OUT\")\"; cat \"$IN\" > \"$OUT\"\n",
    );
    job.put(&format!("bkt/i/{long}"), b"long\n");
    let out = job.run(&[]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(
        fs::read(job.path(&format!("s3/bkt/o/{long}"))).unwrap(),
        b"long\n"
    );
}

/// Probe 2026-12, finding 10: outputs left by an earlier run and stamped an hour ahead (a clock stepped back since,
/// or `cp -p`, `rsync -a`, `tar x` from a machine whose clock runs fast) were not written by this attempt.
#[test]
fn outputs_stamped_in_the_future_do_not_make_a_task_that_wrote_nothing_succeed() {
    let job = LocalJob::new(
        OUTPUTS,
        "mkdir -p \"${OUT%/*}\" \"$DIR\" \"${GLOB%/*}\"\n\
         echo 1 > \"$OUT\"; echo 2 > \"$DIR/f\"; echo 3 > \"${GLOB%/*}/a.txt\"\n",
    );
    assert_eq!(job.run(&[]).code, 0);
    let in_an_hour = std::time::SystemTime::now() + std::time::Duration::from_secs(3_600);
    for file in ["stale/out.txt", "stale/dir/f", "stale/g/a.txt"] {
        fs::File::options()
            .write(true)
            .open(job.path(&format!("s3/bkt/{file}")))
            .unwrap()
            .set_modified(in_an_hour)
            .unwrap();
    }
    fs::write(job.path("script.sh"), "echo nothing\n").unwrap();
    let second = job.run(&[]);
    assert_eq!(second.code, 1, "{}\n{}", second.stdout, second.stderr);
    assert!(
        second.stdout.contains(
            "exited 0 but these outputs are missing: s3://bkt/stale/out.txt, s3://bkt/stale/dir/, \
             s3://bkt/stale/g/*.txt"
        ),
        "{}",
        second.stdout
    );
}

/// Probe 2026-12, finding 9: a task whose output is its own input is refused before anything runs (run.sh would
/// upload the task's copy of the input again, and that fresh object would count as the output).
#[test]
fn an_output_that_is_an_input_of_its_task_is_refused_before_anything_runs() {
    let job = LocalJob::new(
        "--input IN\t--output OUT\ns3://bkt/proj/in.txt\ts3://bkt/proj/in.txt\n",
        "touch ran\n",
    );
    job.put("bkt/proj/in.txt", b"ORIGINAL\n");
    let out = job.run(&[]);
    assert_eq!(out.code, 2, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains(
            "tasks.tsv:2:22: column 2 (`--output OUT`): the output `s3://bkt/proj/in.txt` is also the input of \
             column 1 (`--input IN`)"
        ),
        "{}",
        out.stderr
    );
    assert!(!job.path("ran").exists() && !job.path("work").exists());
    assert_eq!(
        fs::read(job.path("s3/bkt/proj/in.txt")).unwrap(),
        b"ORIGINAL\n"
    );
}

/// Probe 2026-12, finding 25: `pre/a` and `pre/a/b` from two tasks: the run warns before it starts, and the upload
/// that meets the other's object names it.
#[test]
fn an_output_where_another_task_wrote_a_file_names_the_object_in_the_way() {
    let job = LocalJob::new(
        "--output OUT\ns3://bkt/pre/a\ns3://bkt/pre/a/b\n",
        "mkdir -p \"$(dirname \"$OUT\")\"; echo x > \"$OUT\"\n",
    );
    let out = job.run(&["--processes", "1"]);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stderr.starts_with(
            "tasks.tsv:3:1: warning: column 1 (`--output OUT`): `s3://bkt/pre/a/b` needs a folder where task 0 \
             (tasks.tsv:2:1) writes the file `s3://bkt/pre/a`"
        ),
        "{}",
        out.stderr
    );
    let log = fs::read_to_string(job.job_dir().join("logs/001.log")).unwrap();
    assert!(
        log.contains(&format!(
            "an object exists at {} where a folder is needed",
            job.path("s3/bkt/pre/a").display()
        )),
        "{log}"
    );
}
