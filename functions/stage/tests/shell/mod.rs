//! The harness of the generated-script tests: a job written out the way a runner lays it out (scripts, a scratch
//! folder per task, a local S3 root), and one task of it run in a real shell, its copies made by this crate's
//! `ecsub-stage`.

#![allow(clippy::unwrap_used, dead_code)]

use ecsub_core::script::{run_script, setenv_script};
use ecsub_core::{tasks, JobArgs, JobId};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A job written out the way a runner lays it out: scripts, a scratch folder per task, a local S3 root.
pub struct Job {
    pub dir: tempfile::TempDir,
}

pub struct Outcome {
    pub code: i32,
    pub log: String,
}

impl Job {
    pub fn new(tasks_tsv: &str, user_script: &str, args: JobArgs) -> Job {
        let dir = tempfile::tempdir().unwrap();
        let tasks =
            tasks::parse("tasks.tsv", tasks_tsv.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
        let spec = args.resolve(JobId::new("test", "abcde").unwrap()).unwrap();
        let scripts = dir.path().join("scripts");
        fs::create_dir_all(&scripts).unwrap();
        fs::write(scripts.join("run.sh"), run_script(&spec, &tasks.columns)).unwrap();
        fs::write(
            scripts.join("setenv.sh"),
            setenv_script("tasks.tsv", &tasks.columns, &tasks.tasks),
        )
        .unwrap();
        fs::write(scripts.join("script"), user_script).unwrap();
        fs::create_dir_all(dir.path().join("s3")).unwrap();
        Job { dir }
    }

    pub fn s3(&self, url_path: &str) -> PathBuf {
        self.dir.path().join("s3").join(url_path)
    }

    pub fn put(&self, url_path: &str, bytes: &[u8]) {
        let path = self.s3(url_path);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, bytes).unwrap();
    }

    pub fn run_with(
        &self,
        shell: &str,
        index: usize,
        extra_env: &[(&str, &str)],
        path_prefix: Option<&Path>,
    ) -> Outcome {
        let scratch = self.dir.path().join(format!("scratch-{index}"));
        let mut cmd = Command::new(shell);
        cmd.arg(self.dir.path().join("scripts/run.sh"))
            .env("ECSUB_TASK_INDEX", index.to_string())
            .env("ECSUB_SCRATCH", &scratch)
            .env("ECSUB_TRANSPORT", "local")
            .env("ECSUB_LOCAL_S3_ROOT", self.dir.path().join("s3"))
            .env("ECSUB_STAGE", env!("CARGO_BIN_EXE_ecsub-stage"));
        if let Some(prefix) = path_prefix {
            let path = format!(
                "{}:{}",
                prefix.display(),
                std::env::var("PATH").unwrap_or_default()
            );
            cmd.env("PATH", path);
        }
        for (k, v) in extra_env {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        Outcome {
            code: out.status.code().unwrap_or(-1),
            log: String::from_utf8_lossy(&out.stderr).into_owned()
                + &String::from_utf8_lossy(&out.stdout),
        }
    }

    pub fn run(&self, index: usize) -> Outcome {
        self.run_with("bash", index, &[], None)
    }
}
