//! Helpers shared by the CLI's tests: run the real `ecsub-cli` binary in a temporary folder.

#![allow(clippy::unwrap_used)]
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

pub fn fixture(name: &str) -> PathBuf {
    repo().join("tests/fixtures/tasks").join(name)
}

pub fn cli() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ecsub-cli"));
    cmd.env_remove("ECSUB_BUCKET");
    cmd
}

#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

pub fn run(cmd: &mut Command) -> Run {
    let Output {
        status,
        stdout,
        stderr,
    } = cmd.output().expect("ecsub-cli runs");
    Run {
        code: status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    }
}

/// Copies a folder tree (the example's local S3 root) so a test can write into it freely.
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// A job in a temporary folder: a tasks file, a script, a local S3 root and a work folder.
#[derive(Debug)]
pub struct LocalJob {
    pub dir: tempfile::TempDir,
}

impl LocalJob {
    pub fn new(tasks: &str, script: &str) -> LocalJob {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("tasks.tsv"), tasks).unwrap();
        std::fs::write(dir.path().join("script.sh"), script).unwrap();
        std::fs::create_dir_all(dir.path().join("s3")).unwrap();
        LocalJob { dir }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn put(&self, rel: &str, bytes: &[u8]) {
        let path = self.path(&format!("s3/{rel}"));
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }

    /// `ecsub-cli run --local` on this job, with `extra` flags, and the roots left to their defaults.
    pub fn bare_command(&self, extra: &[&str]) -> Command {
        let mut cmd = cli();
        cmd.current_dir(self.dir.path())
            .args([
                "run",
                "--local",
                "--tasks",
                "tasks.tsv",
                "--script",
                "script.sh",
            ])
            .args(extra);
        cmd
    }

    /// `ecsub-cli run --local` on this job, with `extra` flags, the S3 root `s3/` and the work folder `work/`.
    pub fn command(&self, extra: &[&str]) -> Command {
        let mut cmd = self.bare_command(&["--s3-root", "s3", "--wdir", "work"]);
        cmd.args(extra);
        cmd
    }

    pub fn run(&self, extra: &[&str]) -> Run {
        run(&mut self.command(extra))
    }

    /// The folder of the only job run so far under `work/`.
    pub fn job_dir(&self) -> PathBuf {
        let mut jobs: Vec<_> = std::fs::read_dir(self.path("work"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert_eq!(jobs.len(), 1, "{jobs:?}");
        jobs.remove(0)
    }
}
