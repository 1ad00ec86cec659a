//! The `ecsub-stage` binary itself, on the local transport: byte ranges, its usage errors, and a signal that
//! leaves no partly written file. (Its copies' rules are tested through run.sh: local_transport.rs.)

#![allow(clippy::unwrap_used)]

use std::fs;
use std::path::PathBuf;
use std::process::{Command, Output};

struct Here {
    dir: tempfile::TempDir,
}

impl Here {
    fn new() -> Here {
        let here = Here {
            dir: tempfile::tempdir().unwrap(),
        };
        fs::create_dir_all(here.root()).unwrap();
        fs::create_dir_all(here.task()).unwrap();
        here
    }

    fn root(&self) -> PathBuf {
        self.dir.path().join("s3")
    }

    fn task(&self) -> PathBuf {
        self.dir.path().join("task")
    }

    fn put(&self, relative: &str, bytes: &[u8]) {
        let path = self.root().join(relative);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, bytes).unwrap();
    }

    fn stage(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_ecsub-stage"))
            .args(args)
            .env("ECSUB_TRANSPORT", "local")
            .env("ECSUB_LOCAL_S3_ROOT", self.root())
            .output()
            .unwrap()
    }
}

fn err(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_range_is_the_bytes_asked_for_and_fewer_at_the_end() {
    let here = Here::new();
    here.put("bkt/j/setenv.sh", b"0123456789");
    let out = here.stage(&["range", "s3://bkt/j/setenv.sh", "3", "4"]);
    assert!(out.status.success(), "{}", err(&out));
    assert_eq!(out.stdout, b"3456");
    let out = here.stage(&["range", "s3://bkt/j/setenv.sh", "8", "24"]);
    assert_eq!(out.stdout, b"89");
}

#[test]
fn wrong_usage_and_a_missing_root_say_so() {
    let here = Here::new();
    let out = here.stage(&["copy", "file", "/a", "/b"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        err(&out).contains("exactly one side must be an s3:// URL"),
        "{}",
        err(&out)
    );
    let out = here.stage(&["copy", "glob", "s3://bkt/a/", "/b/"]);
    assert!(
        err(&out).contains("copy glob needs a PATTERN"),
        "{}",
        err(&out)
    );
    let out = here.stage(&["copy", "sideways", "s3://bkt/a", "/b"]);
    assert_eq!(out.status.code(), Some(2));
    let out = Command::new(env!("CARGO_BIN_EXE_ecsub-stage"))
        .args(["copy", "file", "s3://bkt/a", "/tmp/x"])
        .env("ECSUB_TRANSPORT", "local")
        .env_remove("ECSUB_LOCAL_S3_ROOT")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        err(&out),
        "ecsub: ECSUB_LOCAL_S3_ROOT is not set (needed by ECSUB_TRANSPORT=local)\n"
    );
}

#[test]
fn a_signal_stops_a_copy_and_leaves_no_part() {
    let here = Here::new();
    let big = here.task().join("big");
    fs::File::create(&big).unwrap().set_len(8 << 30).unwrap(); // sparse: 8 GiB of zeros to read
    let mut child = Command::new(env!("CARGO_BIN_EXE_ecsub-stage"))
        .args(["copy", "file", &big.display().to_string(), "s3://bkt/big"])
        .env("ECSUB_TRANSPORT", "local")
        .env("ECSUB_LOCAL_S3_ROOT", here.root())
        .spawn()
        .unwrap();
    let bkt = here.root().join("bkt");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !(bkt.exists() && fs::read_dir(&bkt).unwrap().next().is_some()) {
        assert!(
            std::time::Instant::now() < deadline,
            "the copy never started"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(143));
    assert_eq!(fs::read_dir(&bkt).unwrap().count(), 0, "a part was left");
}

fn names(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Probe 2026-12, finding 12: the part name no longer grows with the file's, so a name of 255 bytes (the most a
/// file name may have) goes up and comes down.
#[test]
fn a_name_of_255_bytes_is_copied_both_ways() {
    let here = Here::new();
    let long = "n".repeat(255);
    let src = here.task().join(&long);
    fs::write(&src, b"long").unwrap();
    let url = format!("s3://bkt/o/{long}");
    let out = here.stage(&["copy", "file", &src.display().to_string(), &url]);
    assert!(out.status.success(), "{}", err(&out));
    assert_eq!(
        fs::read(here.root().join("bkt/o").join(&long)).unwrap(),
        b"long"
    );
    let back = here.task().join("back").join(&long);
    let out = here.stage(&["copy", "file", &url, &back.display().to_string()]);
    assert!(out.status.success(), "{}", err(&out));
    assert_eq!(fs::read(&back).unwrap(), b"long");
    assert_eq!(names(&here.root().join("bkt/o")), vec![long]);
}

/// Probe 2026-12, finding 4: a part left in the root by a killed upload is no input: a folder copy and a wildcard
/// skip it (and remove it, its writer being gone), and a copy of it by name is refused.
#[test]
fn a_part_left_by_a_killed_copy_is_never_copied_and_is_removed() {
    let here = Here::new();
    here.put("bkt/res/big.bin", b"whole");
    let mut gone = Command::new("true").spawn().unwrap();
    let dead = gone.id();
    gone.wait().unwrap();
    let left = format!("bkt/res/.ecsub-part.{dead}.big.bin");
    here.put(&left, b"fragment");
    let a_minute_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(61);
    let set_age = |rel: &str| {
        fs::File::options()
            .write(true)
            .open(here.root().join(rel))
            .unwrap()
            .set_modified(a_minute_ago)
            .unwrap();
    };
    set_age(&left);
    // A copy in progress, by this (live) process: skipped, and kept.
    let writing = format!("bkt/res/.ecsub-part.{}.7", std::process::id());
    here.put(&writing, b"in progress");
    set_age(&writing);

    let to = here.task().join("glob");
    let out = here.stage(&[
        "copy",
        "glob",
        "s3://bkt/res/",
        &to.display().to_string(),
        "*.bin",
    ]);
    assert!(out.status.success(), "{}", err(&out));
    assert_eq!(names(&to), vec!["big.bin"]);
    assert_eq!(
        names(&here.root().join("bkt/res")),
        vec![
            format!(".ecsub-part.{}.7", std::process::id()),
            "big.bin".to_owned()
        ],
        "the stale part is removed, the live one kept"
    );

    here.put(&left, b"fragment");
    set_age(&left);
    let to = here.task().join("dir");
    let out = here.stage(&["copy", "dir", "s3://bkt/res/", &to.display().to_string()]);
    assert!(out.status.success(), "{}", err(&out));
    assert_eq!(names(&to), vec!["big.bin"]);
    assert!(!here.root().join(&left).exists());

    // Out of the task, the same: a part in its folder (a download killed mid-way) is not uploaded.
    fs::write(to.join(format!(".ecsub-part.{dead}.3")), b"fragment").unwrap();
    let out = here.stage(&["copy", "dir", &to.display().to_string(), "s3://bkt/up/"]);
    assert!(out.status.success(), "{}", err(&out));
    assert_eq!(names(&here.root().join("bkt/up")), vec!["big.bin"]);

    here.put(&left, b"fragment");
    let out = here.stage(&[
        "copy",
        "file",
        &format!("s3://{left}"),
        &here.task().join("f").display().to_string(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        err(&out).contains("is named as a part file (`.ecsub-part.<pid>.…`)"),
        "{}",
        err(&out)
    );
}
