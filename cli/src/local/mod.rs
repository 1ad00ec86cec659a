//! `ecsub-cli run --local`: every task of a job as a local process running the generated scripts, with
//! `s3://BUCKET/KEY` mapped to `S3_ROOT/BUCKET/KEY` and each task's `/scratch` mapped to its own folder.
//!
//! At most `--processes` tasks run at once. Each runs under a leader of its own ([`leader`]): in its own session
//! (no controlling terminal; its process group is the session's), reaped as its processes end, and ended with
//! everything it started when its `run.sh` ends or the CLI dies ([`lifetime`] is the CLI's side of it). Ctrl-C
//! (or SIGTERM) stops every task's process group, and the report is still printed. A succeeded task's scratch
//! folder is removed without crossing a mount point ([`scratch`]). The job's folder is its owner's alone
//! ([`dirs`]); a failed task's note comes from the step its `run.sh` recorded, not from its exit code; the end —
//! `report.json`, then the table, then the exit code, the job's — is [`finish`]'s.

use crate::args::RunArgs;
use crate::error::{InputError, EXIT_INTERRUPTED};
use crate::plan::{self, Plan};
use anyhow::Context as _;
use ecsub_core::chain::task_env::RunEnv;
use ecsub_core::chain::{
    classify, failure_class, next_attempt, Attempt, FailureClass, Outcome, RetryPolicy, Stopped,
};
use ecsub_core::exit;
use ecsub_core::tasks::ColumnKind;
use std::collections::{HashMap, HashSet, VecDeque};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{ExitCode, ExitStatus, Stdio};
use std::time::{Duration, Instant, SystemTime};
use tokio::signal::unix::{signal, SignalKind};
use tokio::task::JoinSet;

mod dirs;
mod finish;
mod leader;
mod lifetime;
mod objects;
mod progress;
mod report;
mod scratch;

pub use leader::{lead_task, LEAD};
use lifetime::signal_group;

use dirs::RunDirs;
use objects::{check_inputs, clock_marks, missing_outputs, Marks};
use progress::Progress;
use report::{TaskResult, TaskState};

/// `ecsub-cli stage ARGS` is `ecsub-stage ARGS` with the local transport only: what `run --local`'s tasks call
/// for their copies (hidden from the help: run.sh's, not a user's).
pub const STAGE: &str = "stage";

/// How long a stopped task gets between SIGTERM and SIGKILL.
const GRACE: Duration = Duration::from_secs(5);

pub fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    if !args.local {
        return Err(InputError::new(
            "ecsub-cli run: add --local to run the job on this machine (running on AWS is `ecsub-cli push`)",
        )
        .into());
    }
    let source = plan::Source::read(&args.input)?;
    let folders = Folders {
        s3_root: args.s3_root,
        wdir: args.wdir,
        keep_scratch: args.keep_scratch,
    };
    run_source(&folders, source, &plan::random_suffix(), args.output)
}

/// Where a local run reads and writes: RunArgs' folders, or `dsub --provider local`'s.
#[derive(Debug, Clone)]
pub struct Folders {
    pub s3_root: PathBuf,
    pub wdir: PathBuf,
    pub keep_scratch: bool,
}

/// Runs the job `source` describes (its id made with `suffix`) in `folders`.
pub fn run_source(
    args: &Folders,
    source: plan::Source,
    suffix: &str,
    output: crate::args::Output,
) -> anyhow::Result<ExitCode> {
    let mut plan = plan::build(source, suffix)?;
    let aws_only = plan.typed.aws_only_flags();
    if !aws_only.is_empty() {
        say!(
            "ecsub-cli: ignored by --local (AWS only): {}",
            aws_only.join(" ")
        );
    }
    if let Some(gpu) = plan
        .spec
        .instance_types
        .iter()
        .find(|t| ecsub_core::chain::gpu::has_nvidia_family(t))
    {
        say!(
            "ecsub-cli: --local hands out no GPU: tasks run as this machine's processes and see what it \
             has; on AWS each {gpu} task gets its instance's GPUs (NVIDIA_VISIBLE_DEVICES names them)"
        );
    }
    let s3_root = std::path::absolute(&args.s3_root)
        .with_context(|| format!("{}: cannot resolve the folder", args.s3_root.display()))?;
    if !plan.spec.verify_bucket {
        say!("ecsub-cli: --not-verify-bucket: inputs are not checked before the tasks start");
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
        say!(
            "ecsub-cli: --local has no KMS: --secret-env values are passed as written ({})",
            secrets.join(", ")
        );
    }
    for (flag, dir) in [("--wdir", &args.wdir), ("--s3-root", &args.s3_root)] {
        if dir.exists() && !dir.is_dir() {
            return Err(InputError::new(format!("{flag} {}: not a folder", dir.display())).into());
        }
    }
    check_wdir(&args.wdir)?;
    let dirs = RunDirs::create(&args.wdir, &plan)?;
    // Written to the job's folder; the run needs only the parsed rows, so the file's bytes are not held for its
    // length.
    plan.tasks_bytes = Vec::new();
    let plan = plan;
    let runner = Runner {
        plan: &plan,
        dirs: &dirs,
        s3_root,
        stager: std::env::current_exe().context(
            "cannot find this program's own path (the tasks' copies run it as `ecsub-cli stage`)",
        )?,
        keep_scratch: args.keep_scratch,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let started = Instant::now();
    let (results, stopped_by) = runtime.block_on(runner.execute())?;
    finish::Ended {
        plan: &plan,
        dirs: &dirs,
        results: &results,
        stopped_by,
        took: started.elapsed(),
    }
    .finish(output)
}

/// Refuses a `--wdir` whose absolute path is not UTF-8: the tasks' copies (`ecsub-cli stage`, the same stager
/// as on AWS) take their paths as text, so every task of the job would fail to download its inputs, or to upload
/// its outputs, after its script had run. Nothing is written.
fn check_wdir(wdir: &Path) -> Result<(), InputError> {
    let absolute = std::path::absolute(wdir).unwrap_or_else(|_| wdir.to_path_buf());
    if absolute.to_str().is_some() {
        return Ok(());
    }
    Err(InputError::new(format!(
        "--wdir {}: the folder's path ({}) is not valid UTF-8, and the tasks' copies take their paths as text: \
         choose a folder whose path is",
        wdir.display(),
        absolute.display()
    )))
}

struct Runner<'a> {
    plan: &'a Plan,
    dirs: &'a RunDirs,
    s3_root: PathBuf,
    /// This program: each task runs under `<stager> lead-task …`, and its copies run `<stager> stage copy …`.
    stager: PathBuf,
    keep_scratch: bool,
}

/// What stopped a run before its end: the signal the CLI got, and the exit status it then gives (a shell's
/// 128 + the signal's number).
#[derive(Debug, Clone, Copy)]
enum Stop {
    Interrupt,
    Terminate,
    Hangup,
}

impl Stop {
    fn name(self) -> &'static str {
        match self {
            Stop::Interrupt => "Ctrl-C",
            Stop::Terminate => "SIGTERM",
            Stop::Hangup => "SIGHUP",
        }
    }

    fn exit_status(self) -> u8 {
        match self {
            Stop::Interrupt => EXIT_INTERRUPTED,
            Stop::Terminate => 143,
            Stop::Hangup => 129,
        }
    }
}

/// A task that has been started: its leader's pid (also its session's and process group's), when (for the
/// report), and its outputs' file clocks just before it (for the output contract).
struct Started {
    pgid: Option<i32>,
    start: SystemTime,
    since: Marks,
}

impl Runner<'_> {
    /// Runs the tasks; gives each selected task's result, in order, and what stopped the run if something did.
    async fn execute(&self) -> anyhow::Result<(Vec<TaskResult>, Option<Stop>)> {
        let mut interrupt = signal(SignalKind::interrupt()).context("cannot catch SIGINT")?;
        let mut terminate = signal(SignalKind::terminate()).context("cannot catch SIGTERM")?;
        let mut hangup = signal(SignalKind::hangup()).context("cannot catch SIGHUP")?;
        if !lifetime::become_subreaper() {
            say!("ecsub-cli: cannot become the tasks' subreaper: a process that leaves its task's process group may outlive the job");
        }
        let mut queue = self.plan.selected.clone().peekable();
        // `--retries`: a failed task runs again before the next new one, from a fresh scratch folder (a new
        // instance on AWS), with the same policy as there (no interruptions here).
        // `--retry-larger` is AWS's: this machine has one size.
        let policy = RetryPolicy {
            retry_od: false,
            spot_attempts: None,
            retries: self.plan.spec.retries,
            retry_on_exit: self.plan.spec.retry_on_exit.clone(),
            larger: false,
        };
        let first_attempt = Attempt {
            number: 1,
            ..Attempt::default()
        };
        let mut attempts: HashMap<usize, Attempt> = HashMap::new();
        let mut again: VecDeque<usize> = VecDeque::new();
        let mut limit = self.plan.spec.processes as usize;
        let mut running: JoinSet<(usize, std::io::Result<ExitStatus>)> = JoinSet::new();
        let mut started: HashMap<usize, Started> = HashMap::new();
        let first = *self.plan.selected.start();
        let mut results: Vec<Option<TaskResult>> = vec![None; self.plan.selected_tasks().len()];
        let mut progress = Progress::new(self.plan.selected_tasks().len());
        let mut ticker = tokio::time::interval(Duration::from_secs(1));
        let mut stopping: Option<tokio::time::Instant> = None;
        let mut stopped_by: Option<Stop> = None;
        let mut killed = false;

        loop {
            while stopping.is_none() && running.len() < limit {
                let (index, retried) = match (again.front(), queue.peek()) {
                    (Some(&index), _) => (index, true),
                    (None, Some(&index)) => (index, false),
                    (None, None) => break,
                };
                let attempt = attempts.get(&index).copied().unwrap_or(first_attempt);
                let since = clock_marks(self.plan, &self.s3_root, index);
                let spawned = self.spawn(index, attempt.number);
                if let Err(e) = &spawned {
                    // Out of file descriptors or processes while others run: wait for a slot (and run fewer at
                    // once from now on) instead of failing the task.
                    if !running.is_empty() && is_exhaustion(e) {
                        limit = running.len();
                        say!("ecsub-cli: cannot start more tasks now ({e:#}): running at most {limit} at once");
                        break;
                    }
                }
                if retried {
                    again.pop_front();
                } else {
                    queue.next();
                }
                match spawned {
                    Ok(mut child) => {
                        started.insert(
                            index,
                            Started {
                                pgid: child.id().map(|id| id as i32),
                                start: SystemTime::now(),
                                since,
                            },
                        );
                        progress.started(index, attempt.number, &self.dirs.log(index));
                        running.spawn(async move { (index, child.wait().await) });
                    }
                    Err(e) => {
                        let now = SystemTime::now();
                        let note = format!("could not start: {e:#}");
                        progress.finished(index, None, false, &note);
                        results[index - first] = Some(TaskResult {
                            state: TaskState::Failed,
                            exit_code: None,
                            start: Some(now),
                            end: None,
                            note: Some(note.into()),
                            class: Some(FailureClass::Infrastructure),
                            attempts: attempt.number,
                        });
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
                    // The task's leader has ended, and has killed everything the task left (as at a container's
                    // end); its process group too, should the leader have been killed before it could.
                    signal_group(started.get(&index).and_then(|s| s.pgid), libc::SIGKILL);
                    let phase = self.dirs.ended(index);
                    let start = started.get(&index).map(|s| s.start);
                    let since = started.get(&index).map(|s| &s.since);
                    let (state, code, note, outcome, class) = match status {
                        Ok(status) => {
                            let code = exit_code(status);
                            if stopping.is_some() && code != 0 {
                                (TaskState::Interrupted, Some(code), Some("interrupted".to_owned()), None, None)
                            } else {
                                let missing = match (code, since) { (0, Some(since)) => missing_outputs(self.plan, &self.s3_root, index, since), _ => Vec::new() };
                                let stopped = Stopped { exit_code: Some(code), ..Default::default() };
                                let (outcome, reason) = classify(&stopped, &missing);
                                let class = failure_class(&stopped, outcome);
                                match outcome {
                                    Outcome::Succeeded => (TaskState::Succeeded, Some(code), None, Some(outcome), class),
                                    Outcome::OutputsMissing => (TaskState::Failed, Some(code), Some(reason), Some(outcome), class),
                                    _ => (TaskState::Failed, Some(code), failure_note(phase, code), Some(outcome), class),
                                }
                            }
                        }
                        Err(e) => (TaskState::Failed, None, Some(format!("lost the process: {e}")), None, Some(FailureClass::Infrastructure)),
                    };
                    let attempt = attempts.get(&index).copied().unwrap_or(first_attempt);
                    let next = outcome
                        .filter(|_| stopping.is_none())
                        .and_then(|outcome| next_attempt(outcome, code, None, attempt, &policy));
                    if let Some(next) = next {
                        progress.retrying(index, code, note.as_deref().unwrap_or(""), next.number);
                        // The next attempt starts from nothing, as on a new instance.
                        if let Some(warning) = scratch::remove(&self.dirs.scratch(index)) {
                            progress.say(&format!("ecsub-cli: task {index:03}: {warning}"));
                        }
                        attempts.insert(index, next);
                        again.push_back(index);
                        started.remove(&index);
                        reap_orphans(&started);
                        continue;
                    }
                    progress.finished(index, code, state == TaskState::Succeeded, note.as_deref().unwrap_or(""));
                    if state == TaskState::Succeeded && !self.keep_scratch {
                        if let Some(warning) = scratch::remove(&self.dirs.scratch(index)) {
                            progress.say(&format!("ecsub-cli: task {index:03}: {warning}"));
                        }
                    }
                    results[index - first] = Some(TaskResult {
                        state,
                        exit_code: code,
                        start,
                        end: Some(SystemTime::now()),
                        note: note.map(String::into_boxed_str),
                        class,
                        attempts: attempt.number,
                    });
                    started.remove(&index);
                    reap_orphans(&started);
                }
                _ = interrupt.recv(), if stopping.is_none() => {
                    stopping = Some(self.stop_all(&started, Stop::Interrupt));
                    stopped_by = Some(Stop::Interrupt);
                }
                _ = terminate.recv(), if stopping.is_none() => {
                    stopping = Some(self.stop_all(&started, Stop::Terminate));
                    stopped_by = Some(Stop::Terminate);
                }
                _ = hangup.recv(), if stopping.is_none() => {
                    stopping = Some(self.stop_all(&started, Stop::Hangup));
                    stopped_by = Some(Stop::Hangup);
                }
                _ = tokio::time::sleep_until(stopping.unwrap_or_else(tokio::time::Instant::now)), if stopping.is_some() && !killed => {
                    for s in started.values() {
                        signal_group(s.pgid, libc::SIGKILL);
                    }
                    killed = true;
                }
                _ = ticker.tick() => {
                    progress.redraw();
                    reap_orphans(&started);
                }
            }
        }
        progress.clear();
        let _ = fs::remove_dir(self.dirs.root.join("env"));
        let stray = lifetime::kill_descendants();
        if stray > 0 {
            say!("ecsub-cli: killed {stray} process(es) the tasks left behind");
        }
        let all = results
            .into_iter()
            .map(|result| {
                result.unwrap_or_else(|| TaskResult {
                    state: TaskState::NotStarted,
                    exit_code: None,
                    start: None,
                    end: None,
                    note: Some("not started".into()),
                    class: None,
                    attempts: 0,
                })
            })
            .collect();
        Ok((all, stopped_by))
    }

    /// Starts a task's `attempt` (from 1); a later attempt's lines follow the earlier ones' in the task's log.
    fn spawn(&self, index: usize, attempt: u32) -> anyhow::Result<tokio::process::Child> {
        let scratch = self.dirs.scratch(index);
        fs::create_dir_all(&scratch)
            .with_context(|| format!("{}: cannot create", scratch.display()))?;
        let log_path = self.dirs.log(index);
        let mut log = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .append(attempt > 1)
            .truncate(attempt == 1)
            .open(&log_path)
            .with_context(|| format!("{}: cannot create", log_path.display()))?;
        if attempt > 1 {
            use std::io::Write as _;
            writeln!(log, "== ecsub: attempt {attempt} (--retries) ==")
                .with_context(|| format!("{}: cannot write", log_path.display()))?;
        }
        let log_err = log.try_clone()?;
        // The task's own environment, handed over as a file: run.sh sources it instead of finding the task's
        // record in setenv.sh (three processes and a byte-at-a-time read fewer per task). The same text as the
        // record, from the same function.
        let env = ecsub_core::script::task_environment(
            &self.plan.tasks.columns,
            &self.plan.tasks.tasks[index],
        );
        let env_path = self.dirs.write_env(index, &env)?;
        let phase_file = self.dirs.phase_file(index);
        let run_env = RunEnv {
            index,
            attempt,
            scratch: &scratch,
            scripts_dir: &self.dirs.scripts,
            task_env: &env_path,
            phase_file: &phase_file,
            local_s3_root: &self.s3_root,
            stage: &self.stager,
            stage_via: STAGE,
        };
        let run_sh = self.dirs.scripts.join("run.sh");
        let child = leader::command(&self.stager, "sh", &[run_sh.as_os_str()])
            .current_dir(&scratch)
            .envs(run_env.pairs())
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            .spawn();
        if child.is_err() {
            let _ = self.dirs.ended(index);
        }
        child.with_context(|| format!("cannot run `{} {LEAD}`", self.stager.display()))
    }

    /// Asks every running task's process group to stop; returns when to stop asking nicely.
    fn stop_all(&self, started: &HashMap<usize, Started>, why: Stop) -> tokio::time::Instant {
        say!(
            "\necsub-cli: {}: stopping {} running task(s) (SIGTERM, then SIGKILL after {} s); the rest will not start",
            why.name(),
            started.len(),
            GRACE.as_secs()
        );
        for s in started.values() {
            signal_group(s.pgid, libc::SIGTERM);
        }
        tokio::time::Instant::now() + GRACE
    }
}

/// Reaps the processes re-parented to the CLI that have ended (the tasks' leaders are waited for by the runner):
/// a task whose leader was killed leaves no zombie until the job ends.
fn reap_orphans(started: &HashMap<usize, Started>) {
    let leaders: HashSet<i32> = started.values().filter_map(|s| s.pgid).collect();
    lifetime::reap_orphans(&leaders);
}

/// Is this a failure to start a process for want of a resource that a finishing task gives back (file
/// descriptors, processes)?
fn is_exhaustion(e: &anyhow::Error) -> bool {
    e.chain()
        .filter_map(|c| c.downcast_ref::<std::io::Error>())
        .any(|io| {
            matches!(
                io.raw_os_error(),
                Some(libc::EMFILE | libc::ENFILE | libc::EAGAIN)
            )
        })
}

/// The note of a task that failed with `code`: from the step its `run.sh` recorded last, or, when it recorded none
/// (its leader could not start it), from the code.
fn failure_note(phase: Option<exit::Phase>, code: i32) -> Option<String> {
    match phase {
        Some(phase) => exit::describe_in(phase, code),
        None => exit::describe(code),
    }
    .map(str::to_owned)
}

/// A shell's view of how a process ended: its exit code, or 128 + the signal that killed it.
fn exit_code(status: ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status
        .code()
        .or_else(|| status.signal().map(|s| 128 + s))
        .unwrap_or(-1)
}
