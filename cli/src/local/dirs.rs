//! The folders and files of one local run: `WDIR/<job-id>/{scripts, tasks/NNN (scratch), logs, env}`, and
//! `report.json` at the end.
//!
//! The job's folder is the owner's alone (0700), and the files that hold the tasks' values (`tasks.tsv`,
//! `scripts/setenv.sh`, each running task's `env/NNN.sh`) are 0600 whatever the umask: a `--secret-env` value is
//! in them as written (there is no KMS locally), and the tasks file it came from may have been the user's alone.
//! `env/` also holds each running task's step (`env/NNN.phase`, written by its `run.sh`), read and removed when
//! the task ends. Depends on std and ecsub-core only.

use super::report::{TaskReport, TaskResult};
use crate::plan::Plan;
use anyhow::Context as _;
use ecsub_core::exit::Phase;
use ecsub_core::job::SCRIPT_FILE;
use std::fs;
use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};

/// The job's folder: its owner's alone.
const JOB_FOLDER_MODE: u32 = 0o700;
/// A file holding the tasks' values: its owner's alone.
const PRIVATE_FILE_MODE: u32 = 0o600;

/// The folders of one local run.
#[derive(Debug)]
pub struct RunDirs {
    pub root: PathBuf,
    pub scripts: PathBuf,
}

impl RunDirs {
    /// Makes the job's folder under `wdir` (0700, new: no other run's), its folders, and writes the job's scripts,
    /// tasks file and spec.
    pub fn create(wdir: &Path, plan: &Plan) -> anyhow::Result<RunDirs> {
        let root = std::path::absolute(wdir.join(plan.spec.job_id.as_str()))?;
        fs::create_dir_all(wdir)
            .with_context(|| format!("{}: cannot create the folder", wdir.display()))?;
        fs::DirBuilder::new()
            .mode(JOB_FOLDER_MODE)
            .create(&root)
            .with_context(|| format!("{}: cannot create the job's folder", root.display()))?;
        let scripts = root.join("scripts");
        for dir in [
            &scripts,
            &root.join("logs"),
            &root.join("tasks"),
            &root.join("env"),
        ] {
            fs::create_dir_all(dir)
                .with_context(|| format!("{}: cannot create the folder", dir.display()))?;
        }
        write(&scripts.join("run.sh"), plan.run_script().as_bytes())?;
        write_private(&scripts.join("setenv.sh"), plan.setenv_script().as_bytes())?;
        write(&scripts.join(SCRIPT_FILE), &plan.script_bytes)?;
        write_private(&root.join("tasks.tsv"), &plan.tasks_bytes)?;
        write(
            &root.join("job.json"),
            &serde_json::to_vec_pretty(&plan.spec)?,
        )?;
        Ok(RunDirs { root, scripts })
    }

    pub fn scratch(&self, index: usize) -> PathBuf {
        self.root.join("tasks").join(format!("{index:03}"))
    }

    pub fn log(&self, index: usize) -> PathBuf {
        self.root.join("logs").join(format!("{index:03}.log"))
    }

    /// A running task's environment (its record of setenv.sh), removed when the task ends.
    pub fn env(&self, index: usize) -> PathBuf {
        self.root.join("env").join(format!("{index:03}.sh"))
    }

    /// Writes a task's environment, its owner's alone.
    pub fn write_env(&self, index: usize, env: &str) -> anyhow::Result<PathBuf> {
        let path = self.env(index);
        write_private(&path, env.as_bytes())?;
        Ok(path)
    }

    /// Where a running task's `run.sh` records the step it is in.
    pub fn phase_file(&self, index: usize) -> PathBuf {
        self.root.join("env").join(format!("{index:03}.phase"))
    }

    /// The step an ended task's `run.sh` recorded last (`None`: it recorded none, or something else wrote
    /// there); the files of the task's environment are removed.
    pub fn ended(&self, index: usize) -> Option<Phase> {
        let path = self.phase_file(index);
        // A record is a word and a newline: a few bytes are read at most, whatever is there.
        let phase = fs::File::open(&path)
            .and_then(|file| crate::plan::read_bounded(file, 16))
            .ok()
            .and_then(Result::ok)
            .and_then(|bytes| Phase::from_record(&String::from_utf8_lossy(&bytes)));
        let _ = fs::remove_file(&path);
        let _ = fs::remove_file(self.env(index));
        phase
    }

    /// A task's row of the report.
    pub fn report(&self, index: usize, result: &TaskResult) -> TaskReport {
        TaskReport {
            index,
            state: result.state,
            exit_code: result.exit_code,
            start: result.start,
            end: result.end,
            log: self.log(index),
            note: result.note.as_deref().map(str::to_owned),
            class: result.class,
            attempts: result.attempts,
        }
    }
}

fn write(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    fs::write(path, bytes).with_context(|| format!("{}: cannot write", path.display()))
}

/// Writes a new file that only its owner may read (0600 from its creation, not after).
fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(PRIVATE_FILE_MODE)
        .open(path)
        .and_then(|mut file| file.write_all(bytes))
        .with_context(|| format!("{}: cannot write", path.display()))
}
