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
