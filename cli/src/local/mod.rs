//! `ecsub-cli run --local`: every task of a job as a local process running the generated scripts, with
//! `s3://BUCKET/KEY` mapped to `S3_ROOT/BUCKET/KEY` and each task's `/scratch` mapped to its own folder.
//!
//! At most `--processes` tasks run at once; each runs in its own process group, so Ctrl-C (or SIGTERM) stops the
//! task and everything it started, and the report is still printed.

use crate::args::{Output, RunArgs};
use crate::plan::{self, Plan};
use crate::report::{self, human, TaskReport, TaskState};
use crate::{InputError, EXIT_INTERRUPTED, EXIT_TASK_FAILED};
use anyhow::Context as _;
use ecsub_core::chain::{classify, Outcome, Stopped};
use ecsub_core::s3path::wildcard_matches;
use ecsub_core::tasks::{Cell, ColumnKind};
use ecsub_core::S3Path;
use ecsub_core::{exit, job::SCRIPT_FILE};
use std::collections::HashMap;
use std::fs;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::{ExitCode, ExitStatus, Stdio};
use std::time::{Duration, Instant, SystemTime};
use tokio::signal::unix::{signal, SignalKind};
use tokio::task::JoinSet;

/// How long a stopped task gets between SIGTERM and SIGKILL.
const GRACE: Duration = Duration::from_secs(5);

pub fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    if !args.local {
        return Err(InputError(vec![
            "ecsub-cli run: add --local to run the job on this machine (running on AWS is `ecsub-cli push`)".into(),
        ])
        .into());
    }
    let plan = plan::build(&args.input, &plan::random_suffix())?;
    if !plan.aws_only_flags.is_empty() {
        eprintln!(
            "ecsub-cli: ignored by --local (AWS only): {}",
            plan.aws_only_flags.join(" ")
        );
    }
    let s3_root = std::path::absolute(&args.s3_root)
        .with_context(|| format!("{}: cannot resolve the folder", args.s3_root.display()))?;
    if !plan.spec.verify_bucket {
        eprintln!("ecsub-cli: --not-verify-bucket: inputs are not checked before the tasks start");
    } else {
        check_inputs(&plan, &s3_root)?;
    }
    let secrets: Vec<_> = plan
        .tasks
        .columns
        .iter()
        .filter(|c| c.kind == ColumnKind::SecretEnv)
        .map(|c| c.name.as_str())
        .collect();
    if !secrets.is_empty() {
        eprintln!(
            "ecsub-cli: --local has no KMS: --secret-env values are passed as written ({})",
            secrets.join(", ")
        );
    }
    let dirs = RunDirs::create(&args.wdir, &plan)?;
    let runner = Runner {
        plan: &plan,
        dirs: &dirs,
        s3_root,
        keep_scratch: args.keep_scratch,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let started = Instant::now();
    let (reports, interrupted) = runtime.block_on(runner.execute())?;

    let job = plan.spec.job_id.as_str();
    fs::write(
        dirs.root.join("report.json"),
        serde_json::to_vec_pretty(&reports)?,
    )
    .with_context(|| format!("{}: cannot write the report", dirs.root.display()))?;
    match args.output {
        Output::Text => print!("{}", report::table(job, &reports)),
        Output::Json => println!("{}", serde_json::to_string_pretty(&reports)?),
    }
    let succeeded = reports
        .iter()
        .filter(|r| r.state == TaskState::Succeeded)
        .count();
    eprintln!(
        "ecsub-cli: job {job}: {succeeded}/{} tasks succeeded in {}{}; scripts, logs and report in {}",
        reports.len(),
        human(started.elapsed()),
        if interrupted { " (interrupted)" } else { "" },
        dirs.root.display()
    );
    Ok(if interrupted {
        ExitCode::from(EXIT_INTERRUPTED)
    } else if succeeded == reports.len() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_TASK_FAILED)
    })
}

/// ecsub's pre-flight, on the local folder: every input of every selected task must exist before any task runs.
fn check_inputs(plan: &Plan, s3_root: &Path) -> Result<(), InputError> {
    let mut errors = Vec::new();
    for task in plan.selected_tasks() {
        for (column, cell) in plan.tasks.columns.iter().zip(&task.cells) {
            let Cell::Path(path) = cell else { continue };
            if !column.kind.is_input() {
                continue;
            }
            let local = s3_root.join(path.bucket()).join(path.key());
            if !exists_locally(s3_root, path) {
                errors.push(format!(
                    "{}:{}: task {} (`{column}`): input `{path}` not found (looked for {})",
                    plan.tasks.file,
                    task.line,
                    task.index,
                    local.display()
                ));
            }
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        errors.push("nothing was run (--not-verify-bucket skips this check)".into());
        Err(InputError(errors))
    }
}

/// Does an S3 location exist under the local S3 root: a file, a folder, or at least one wildcard match?
fn exists_locally(s3_root: &Path, path: &S3Path) -> bool {
    let local = s3_root.join(path.bucket()).join(path.key());
    if path.has_wildcard() {
        matches_in_folder(&local)
    } else if path.is_recursive() {
        local.is_dir()
    } else {
        local.is_file()
    }
}

/// The declared outputs of a task that are not under the local S3 root (the controller's outputs check).
fn missing_outputs(plan: &Plan, s3_root: &Path, index: usize) -> Vec<String> {
    let Some(task) = plan.tasks.tasks.get(index) else {
        return Vec::new();
    };
    plan.tasks
        .columns
        .iter()
        .zip(&task.cells)
        .filter_map(|(column, cell)| match cell {
            Cell::Path(path) if column.kind.is_output() && !exists_locally(s3_root, path) => {
                Some(path.url())
            }
            _ => None,
        })
        .collect()
}

/// Is there a file in PATH's folder whose name matches PATH's last segment, where `*` matches any run of
/// characters?
fn matches_in_folder(path: &Path) -> bool {
    let (Some(dir), Some(pattern)) = (path.parent(), path.file_name().and_then(|n| n.to_str()))
    else {
        return false;
    };
    let Ok(entries) = fs::read_dir(dir) else {
        return false;
    };
    entries
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .any(|e| {
            e.file_name()
                .to_str()
                .is_some_and(|name| wildcard_matches(pattern, name))
        })
}

/// The folders of one local run: `WDIR/<job-id>/{scripts, tasks/NNN (scratch), logs}`.
#[derive(Debug)]
struct RunDirs {
    root: PathBuf,
    scripts: PathBuf,
}

impl RunDirs {
    fn create(wdir: &Path, plan: &Plan) -> anyhow::Result<RunDirs> {
        let root = std::path::absolute(wdir.join(plan.spec.job_id.as_str()))?;
        let scripts = root.join("scripts");
        let write = |path: PathBuf, bytes: &[u8]| {
            fs::write(&path, bytes).with_context(|| format!("{}: cannot write", path.display()))
        };
        for dir in [&scripts, &root.join("logs"), &root.join("tasks")] {
            fs::create_dir_all(dir)
                .with_context(|| format!("{}: cannot create the folder", dir.display()))?;
        }
        write(scripts.join("run.sh"), plan.run_sh.as_bytes())?;
        write(scripts.join("setenv.sh"), plan.setenv_sh.as_bytes())?;
        write(scripts.join(SCRIPT_FILE), &plan.script_bytes)?;
        write(root.join("tasks.tsv"), &plan.tasks_bytes)?;
        write(
            root.join("job.json"),
            &serde_json::to_vec_pretty(&plan.spec)?,
        )?;
        Ok(RunDirs { root, scripts })
    }

    fn scratch(&self, index: usize) -> PathBuf {
        self.root.join("tasks").join(format!("{index:03}"))
    }

    fn log(&self, index: usize) -> PathBuf {
        self.root.join("logs").join(format!("{index:03}.log"))
    }
}

struct Runner<'a> {
    plan: &'a Plan,
    dirs: &'a RunDirs,
    s3_root: PathBuf,
    keep_scratch: bool,
}

/// A task that has been started: its process group, and when.
struct Started {
    pgid: Option<i32>,
    start: SystemTime,
}

impl Runner<'_> {
    async fn execute(&self) -> anyhow::Result<(Vec<TaskReport>, bool)> {
        let mut interrupt = signal(SignalKind::interrupt()).context("cannot catch SIGINT")?;
        let mut terminate = signal(SignalKind::terminate()).context("cannot catch SIGTERM")?;
        let mut queue = self.plan.selected.clone();
        let limit = self.plan.spec.processes as usize;
        let mut running: JoinSet<(usize, std::io::Result<ExitStatus>)> = JoinSet::new();
        let mut started: HashMap<usize, Started> = HashMap::new();
        let mut reports: HashMap<usize, TaskReport> = HashMap::new();
        let mut progress = Progress::new(self.plan.selected_tasks().len());
        let mut ticker = tokio::time::interval(Duration::from_secs(1));
        let mut stopping: Option<tokio::time::Instant> = None;
        let mut killed = false;

        loop {
            while stopping.is_none() && running.len() < limit {
                let Some(index) = queue.next() else { break };
                match self.spawn(index) {
                    Ok(mut child) => {
                        started.insert(
                            index,
                            Started {
                                pgid: child.id().map(|id| id as i32),
                                start: SystemTime::now(),
                            },
                        );
                        progress.started(index, &self.dirs.log(index));
                        running.spawn(async move { (index, child.wait().await) });
                    }
                    Err(e) => {
                        let now = SystemTime::now();
                        let note = format!("could not start: {e:#}");
                        progress.finished(index, None, &note);
                        reports.insert(
                            index,
                            self.report(index, TaskState::Failed, None, Some(now), Some(note)),
                        );
                    }
                }
            }
            if running.is_empty() {
                break;
            }
            tokio::select! {
                joined = running.join_next() => {
                    let Some(joined) = joined else { continue };
                    let (index, status) = joined.context("a task's waiter failed")?;
                    let start = started.get(&index).map(|s| s.start);
                    let (state, code, note) = match status {
                        Ok(status) => {
                            let code = exit_code(status);
                            if stopping.is_some() && code != 0 {
                                (TaskState::Interrupted, Some(code), Some("interrupted".to_owned()))
                            } else {
                                let missing = if code == 0 { missing_outputs(self.plan, &self.s3_root, index) } else { Vec::new() };
                                let stopped = Stopped { exit_code: Some(code), ..Default::default() };
                                let (outcome, reason) = classify(&stopped, &missing);
                                match outcome {
                                    Outcome::Succeeded => (TaskState::Succeeded, Some(code), None),
                                    Outcome::OutputsMissing => (TaskState::Failed, Some(code), Some(reason)),
                                    _ => (TaskState::Failed, Some(code), exit::describe(code).map(str::to_owned)),
                                }
                            }
                        }
                        Err(e) => (TaskState::Failed, None, Some(format!("lost the process: {e}"))),
                    };
                    progress.finished(index, code, note.as_deref().unwrap_or(""));
                    if state == TaskState::Succeeded && !self.keep_scratch {
                        let _ = fs::remove_dir_all(self.dirs.scratch(index));
                    }
                    let mut report = self.report(index, state, code, start, note);
                    report.end = Some(SystemTime::now());
                    reports.insert(index, report);
                    started.remove(&index);
                }
                _ = interrupt.recv(), if stopping.is_none() => {
                    stopping = Some(self.stop_all(&started, "Ctrl-C"));
                }
                _ = terminate.recv(), if stopping.is_none() => {
                    stopping = Some(self.stop_all(&started, "SIGTERM"));
                }
                _ = tokio::time::sleep_until(stopping.unwrap_or_else(tokio::time::Instant::now)), if stopping.is_some() && !killed => {
                    for s in started.values() {
                        signal_group(s.pgid, libc::SIGKILL);
                    }
                    killed = true;
                }
                _ = ticker.tick() => progress.redraw(),
            }
        }
        progress.clear();
        let all = self
            .plan
            .selected
            .clone()
            .map(|index| {
                reports.remove(&index).unwrap_or_else(|| {
                    self.report(
                        index,
                        TaskState::NotStarted,
                        None,
                        None,
                        Some("not started".into()),
                    )
                })
            })
            .collect();
        Ok((all, stopping.is_some()))
    }

    fn spawn(&self, index: usize) -> anyhow::Result<tokio::process::Child> {
        let scratch = self.dirs.scratch(index);
        fs::create_dir_all(&scratch)
            .with_context(|| format!("{}: cannot create", scratch.display()))?;
        let log_path = self.dirs.log(index);
        let log = fs::File::create(&log_path)
            .with_context(|| format!("{}: cannot create", log_path.display()))?;
        let log_err = log.try_clone()?;
        let child = tokio::process::Command::new("sh")
            .arg(self.dirs.scripts.join("run.sh"))
            .current_dir(&scratch)
            .env("ECSUB_TASK_INDEX", index.to_string())
            .env("ECSUB_SCRATCH", &scratch)
            .env("ECSUB_SCRIPTS_DIR", &self.dirs.scripts)
            .env("ECSUB_TRANSPORT", "local")
            .env("ECSUB_LOCAL_S3_ROOT", &self.s3_root)
            .env("ECSUB_SECRETS", "plain")
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            .process_group(0)
            .spawn()
            .context("cannot run `sh`")?;
        Ok(child)
    }

    /// Asks every running task's process group to stop; returns when to stop asking nicely.
    fn stop_all(&self, started: &HashMap<usize, Started>, why: &str) -> tokio::time::Instant {
        eprintln!(
            "\necsub-cli: {why}: stopping {} running task(s); the rest will not start",
            started.len()
        );
        for s in started.values() {
            signal_group(s.pgid, libc::SIGTERM);
        }
        tokio::time::Instant::now() + GRACE
    }

    fn report(
        &self,
        index: usize,
        state: TaskState,
        exit_code: Option<i32>,
        start: Option<SystemTime>,
        note: Option<String>,
    ) -> TaskReport {
        TaskReport {
            index,
            state,
            exit_code,
            start,
            end: None,
            log: self.dirs.log(index),
            note,
        }
    }
}

/// A shell's view of how a process ended: its exit code, or 128 + the signal that killed it.
fn exit_code(status: ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status
        .code()
        .or_else(|| status.signal().map(|s| 128 + s))
        .unwrap_or(-1)
}

#[allow(unsafe_code)]
fn signal_group(pgid: Option<i32>, signal: libc::c_int) {
    if let Some(pgid) = pgid.filter(|&p| p > 0) {
        // SAFETY: killpg has no memory-safety preconditions; a group that is already gone gives ESRCH, ignored.
        unsafe {
            libc::killpg(pgid, signal);
        }
    }
}

/// The progress shown on stderr: one line per start and end, and on a terminal a status line kept up to date.
struct Progress {
    total: usize,
    running: usize,
    done: usize,
    failed: usize,
    since: Instant,
    tty: bool,
}

impl Progress {
    fn new(total: usize) -> Progress {
        Progress {
            total,
            running: 0,
            done: 0,
            failed: 0,
            since: Instant::now(),
            tty: std::io::stderr().is_terminal(),
        }
    }

    fn say(&self, line: &str) {
        let mut err = std::io::stderr().lock();
        if self.tty {
            let _ = write!(err, "\r\x1b[K");
        }
        let _ = writeln!(err, "{line}");
        drop(err);
        self.redraw();
    }

    fn started(&mut self, index: usize, log: &Path) {
        self.running += 1;
        self.say(&format!(
            "ecsub-cli: task {index:03} started (log: {})",
            log.display()
        ));
    }

    fn finished(&mut self, index: usize, code: Option<i32>, note: &str) {
        self.running = self.running.saturating_sub(1);
        self.done += 1;
        if code != Some(0) {
            self.failed += 1;
        }
        let code = code.map_or_else(|| "-".to_owned(), |c| c.to_string());
        let note = if note.is_empty() {
            String::new()
        } else {
            format!(" ({note})")
        };
        self.say(&format!(
            "ecsub-cli: task {index:03} exited {code}{note} [{}/{} done, {} running, {} failed, {}]",
            self.done,
            self.total,
            self.running,
            self.failed,
            human(self.since.elapsed())
        ));
    }

    fn redraw(&self) {
        if self.tty {
            let mut err = std::io::stderr().lock();
            let _ = write!(
                err,
                "\r\x1b[K[{}/{} done, {} running, {} failed] {}",
                self.done,
                self.total,
                self.running,
                self.failed,
                human(self.since.elapsed())
            );
            let _ = err.flush();
        }
    }

    fn clear(&self) {
        if self.tty {
            eprint!("\r\x1b[K");
        }
    }
}
