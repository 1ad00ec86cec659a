//! Command-line definitions: ecsub's flag names, shared job options from ecsub-core, and help that explains.

use clap::{Args, Parser, Subcommand, ValueEnum};
use ecsub_core::JobArgs;
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "ecsub-cli",
    version,
    propagate_version = true,
    about = "Run a batch of tasks (one container per row of a tasks file) on AWS, or on this machine",
    long_about = "Run a batch of tasks — one container per row of a tasks file — on AWS, each on its own EC2 \
instance, with inputs and outputs staged through S3; or run the same job on this machine first with `run --local`.\n\n\
A tasks file is TAB-separated: a header of `TYPE NAME` cells (--env, --secret-env, --input, --input-recursive, \
--output, --output-recursive, --label), then one row per task. Comment lines start with `#`; `#ecsub:` lines before \
the header carry job options.",
    after_help = "Exit status: 0 all tasks succeeded, 1 some task failed, 2 usage or input error (nothing was run), \
3 runtime error, 130 interrupted."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check a tasks file (and its `#ecsub:` options) without running anything
    Validate(ValidateArgs),
    /// Run a job: with --local, every task as a process on this machine, s3:// mapped to a folder
    Run(RunArgs),
    /// Upload a job to the stack's bucket, which starts it (with --dry-run: print the plan, touch nothing)
    #[command(alias = "submit")]
    Push(PushArgs),
    /// Show a job's state: per task its state, attempts, instance type, exit code and reason
    Status(StatusArgs),
    /// List the jobs in the stack's bucket, newest first: state, tasks by outcome, cost
    Ls(LsArgs),
    /// Follow a job until it ends: counts, a progress bar, and why each task is not running yet (plain lines
    /// when not on a terminal); exits like push --wait
    Watch(WatchArgs),
    /// Report every attempt of a job in ecsub's columns (times, instance, cpu, memory, disk, price, log link),
    /// as a table, TSV or JSON, and with --html a page with the job's timeline
    Report(ReportArgs),
    /// Print a job's container logs (CloudWatch Logs), task by task and attempt by attempt
    Logs(LogsArgs),
    /// Stop a job: its execution is stopped, and the stack's janitor terminates its instances and writes its summary
    #[command(alias = "delete")]
    Cancel(CancelArgs),
    /// End the hold of a failed task's instance kept for a look (--keep-on-failure) before its deadline: the
    /// instance is terminated, and its scratch with it
    Release(ReleaseArgs),
    /// dsub's command line, run by this stack (--provider aws) or on this machine (--provider local): dsub's
    /// flags and tasks files, s3:// for gs://; stdout holds the job id (docs/dsub.md)
    Dsub(Box<crate::dsub::args::DsubArgs>),
    /// dsub's dstat over this stack's jobs: each task's state with dsub's field names, as text, JSON or YAML
    Dstat(crate::dsub::args::DstatArgs),
    /// dsub's ddel: stop the running jobs chosen by id, user, age or label
    Ddel(crate::dsub::args::DdelArgs),
    /// Put the stager (ecsub-stage, one static binary per architecture) in the stack's bucket, where every
    /// instance fetches it at boot: run once after each deploy
    PublishStager(PublishStagerArgs),
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum Output {
    #[default]
    Text,
    Json,
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Tasks file (TSV) to check
    #[arg(long, value_name = "FILE")]
    pub tasks: PathBuf,
    /// Print the result as text or JSON
    #[arg(long, value_enum, default_value_t)]
    pub output: Output,
}

/// What every command that runs or uploads a job needs.
#[derive(Debug, Args)]
pub struct JobInput {
    /// Tasks file (TSV): a header of `TYPE NAME` cells, then one row per task
    #[arg(long, value_name = "FILE")]
    pub tasks: PathBuf,
    /// Script each task runs (with --shell), after its inputs are downloaded
    #[arg(long, value_name = "FILE")]
    pub script: PathBuf,
    #[command(flatten)]
    pub job: JobArgs,
}

#[derive(Debug, Args)]
#[command(
    after_help = "Example:\n  ecsub-cli run --local --tasks examples/wordcount/wordcount.tsv \
--script examples/wordcount/wordcount.sh --s3-root examples/wordcount/s3"
)]
pub struct RunArgs {
    /// Run on this machine: each task is a local process, s3://BUCKET/KEY is the file S3_ROOT/BUCKET/KEY
    #[arg(long)]
    pub local: bool,
    /// Folder that stands for S3: s3://BUCKET/KEY is read from and written to S3_ROOT/BUCKET/KEY
    #[arg(long, value_name = "DIR", default_value = ".ecsub/s3")]
    pub s3_root: PathBuf,
    /// Folder for the job's scripts, each task's scratch folder (its /scratch) and logs
    #[arg(long, value_name = "DIR", default_value = ".ecsub/work")]
    pub wdir: PathBuf,
    /// Keep each succeeded task's scratch folder (failed tasks always keep theirs)
    #[arg(long)]
    pub keep_scratch: bool,
    /// Print the final report as text or JSON
    #[arg(long, value_enum, default_value_t)]
    pub output: Output,
    #[command(flatten)]
    pub input: JobInput,
}

#[derive(Debug, Args)]
pub struct PushArgs {
    /// The stack's bucket, optionally with a prefix: s3://BUCKET[/PREFIX]
    #[arg(long, value_name = "S3_URL", env = "ECSUB_BUCKET")]
    pub aws_s3_bucket: Option<String>,
    /// Print the job id, the objects it would write and every generated script; upload nothing
    #[arg(long, conflicts_with = "wait")]
    pub dry_run: bool,
    /// Follow the job until it ends (progress on stderr, the status table at the end); exit 0 only if every
    /// task succeeded. Interrupting the wait does not stop the job.
    #[arg(long)]
    pub wait: bool,
    /// Seconds between polls while waiting
    #[arg(long, value_name = "SECONDS", default_value_t = 2.0)]
    pub poll: f64,
    /// With --wait: how long to wait for the stack to pick the job up (its submit function to start or refuse
    /// it) before giving up with exit 3; the job itself stays uploaded
    #[arg(long, value_name = "SECONDS", default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..))]
    pub pickup_timeout: u64,
    /// Leave out the tasks whose declared outputs all exist already (a file by its object, a recursive output
    /// when its folder holds an object, a wildcard when something matches); a task with no output always runs.
    /// When every task is left out, no job is started
    #[arg(long, conflicts_with = "dry_run")]
    pub skip_existing: bool,
    /// Run, as a new job, the tasks of the ended job JOB that did not succeed: its tasks file's rows of those
    /// tasks, its script and its options, each replaced by what this command line gives (--script, options)
    #[arg(long, value_name = "JOB", conflicts_with = "tasks")]
    pub rerun_failed: Option<String>,
    /// Tasks file (TSV): a header of `TYPE NAME` cells, then one row per task
    #[arg(long, value_name = "FILE", required_unless_present = "rerun_failed")]
    pub tasks: Option<PathBuf>,
    /// Script each task runs (with --shell), after its inputs are downloaded; with --rerun-failed, replaces the
    /// job's
    #[arg(long, value_name = "FILE", required_unless_present = "rerun_failed")]
    pub script: Option<PathBuf>,
    #[command(flatten)]
    pub job: JobArgs,
}

impl PushArgs {
    /// The tasks file, script and options of a push of new files (not a rerun).
    pub fn input(&self) -> Option<JobInput> {
        Some(JobInput {
            tasks: self.tasks.clone()?,
            script: self.script.clone()?,
            job: self.job.clone(),
        })
    }
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The job id `push` printed
    #[arg(value_name = "JOB")]
    pub job: String,
    /// The stack's bucket, optionally with a prefix: s3://BUCKET[/PREFIX]
    #[arg(long, value_name = "S3_URL", env = "ECSUB_BUCKET")]
    pub aws_s3_bucket: Option<String>,
    /// Print the status as text or JSON
    #[arg(long, value_enum, default_value_t)]
    pub output: Output,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum ReportOutput {
    #[default]
    Text,
    Tsv,
    Json,
}

#[derive(Debug, Args)]
#[command(
    after_help = "Columns (for --sortby): exit_code, taskname, no, attempt, outcome, spot, task_startAt, \
task_endAt, instance_type, cpu, memory (MiB), disk_size (GiB), price (USD, once the job has ended), \
instance_createAt, instance_stopAt, log (the CloudWatch console's page of the attempt's log), reason."
)]
pub struct ReportArgs {
    /// The job id `push` printed
    #[arg(value_name = "JOB")]
    pub job: String,
    /// The stack's bucket, optionally with a prefix: s3://BUCKET[/PREFIX]
    #[arg(long, value_name = "S3_URL", env = "ECSUB_BUCKET")]
    pub aws_s3_bucket: Option<String>,
    /// Sort the rows by this column (default: task, then attempt)
    #[arg(long, value_name = "COLUMN")]
    pub sortby: Option<String>,
    /// Print the rows as an aligned table, TSV or JSON
    #[arg(long, value_enum, default_value_t)]
    pub output: ReportOutput,
    /// Also write one self-contained HTML page (nothing fetched from the network): the job's totals, a timeline
    /// with a row per task and a bar per attempt coloured by outcome, and the table
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Print only the job's cost totals: by each --label column's values (the tasks sharing a value, their
    /// attempts, what they cost) and under each --tag of the job; as text, TSV or JSON (--output). The table's
    /// text output ends with them too
    #[arg(long)]
    pub totals: bool,
}

#[derive(Debug, Args)]
pub struct WatchArgs {
    /// The job id `push` printed
    #[arg(value_name = "JOB")]
    pub job: String,
    /// The stack's bucket, optionally with a prefix: s3://BUCKET[/PREFIX]
    #[arg(long, value_name = "S3_URL", env = "ECSUB_BUCKET")]
    pub aws_s3_bucket: Option<String>,
    /// Seconds between polls
    #[arg(long, value_name = "SECONDS", default_value_t = 2.0)]
    pub poll: f64,
}

#[derive(Debug, Args)]
pub struct LsArgs {
    /// The stack's bucket, optionally with a prefix: s3://BUCKET[/PREFIX]
    #[arg(long, value_name = "S3_URL", env = "ECSUB_BUCKET")]
    pub aws_s3_bucket: Option<String>,
    /// Show at most this many jobs, the newest (0: all)
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub limit: usize,
    /// Print the list as text or JSON
    #[arg(long, value_enum, default_value_t)]
    pub output: Output,
}

#[derive(Debug, Args)]
pub struct CancelArgs {
    /// The job id `push` printed
    #[arg(value_name = "JOB")]
    pub job: String,
    /// The stack's bucket, optionally with a prefix: s3://BUCKET[/PREFIX]
    #[arg(long, value_name = "S3_URL", env = "ECSUB_BUCKET")]
    pub aws_s3_bucket: Option<String>,
}

#[derive(Debug, Args)]
pub struct ReleaseArgs {
    /// The job id `push` printed
    #[arg(value_name = "JOB")]
    pub job: String,
    /// Only this task's instance (its index, as `status` shows it) [default: every held instance of the job]
    #[arg(value_name = "TASK")]
    pub task: Option<usize>,
    /// The stack's bucket, optionally with a prefix: s3://BUCKET[/PREFIX]
    #[arg(long, value_name = "S3_URL", env = "ECSUB_BUCKET")]
    pub aws_s3_bucket: Option<String>,
}

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// The job id `push` printed
    #[arg(value_name = "JOB")]
    pub job: String,
    /// Only this task (its index, as in the tasks file's numbering)
    #[arg(long, value_name = "N")]
    pub task: Option<usize>,
    /// Keep printing new lines (and new attempts) as they come, until the job has ended; each line is prefixed
    /// with `[TASK.ATTEMPT]` unless --task picks one task
    #[arg(long, short = 'f')]
    pub follow: bool,
    /// The stack's bucket, optionally with a prefix: s3://BUCKET[/PREFIX]
    #[arg(long, value_name = "S3_URL", env = "ECSUB_BUCKET")]
    pub aws_s3_bucket: Option<String>,
}

#[derive(Debug, Args)]
pub struct PublishStagerArgs {
    /// ecsub-stage binaries (x86_64 and/or aarch64, read from each file's ELF header), e.g. from
    /// infra/build-stager.sh; a published architecture not named here keeps its binary
    #[arg(value_name = "BINARY", required = true)]
    pub binaries: Vec<std::path::PathBuf>,
    /// The stack's bucket: s3://BUCKET
    #[arg(long, value_name = "S3_URL", env = "ECSUB_BUCKET")]
    pub aws_s3_bucket: Option<String>,
}
