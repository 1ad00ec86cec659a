//! dsub's command lines (`dsub`, `dstat`, `ddel`), with dsub's flag names and meanings; Google's own flags are
//! read too, so that each is refused with what to use on AWS instead of being ignored (`docs/dsub.md`).

use clap::{Args, ValueEnum};
use std::path::PathBuf;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum Provider {
    /// This stack: the job runs on EC2, through the stack's bucket
    #[default]
    Aws,
    /// This machine: `ecsub-cli run --local`, s3:// paths mapped to the --s3-root folder
    Local,
    /// Google's providers: refused, with what to use here
    #[value(name = "google-batch", alias = "google-cls-v2", alias = "google-v2")]
    Google,
}

#[derive(Debug, Args)]
#[command(
    after_help = "dsub's flags keep dsub's meaning; docs/dsub.md has every flag and what it does here. \
stdout gets one line, the job id (NO_JOB when every task was skipped); everything else goes to stderr.\n\n\
Exit status: 0 submitted (with --wait: every task succeeded), 1 a task failed (with --wait), 2 a usage or input \
error (nothing was submitted), 3 a runtime error."
)]
pub struct DsubArgs {
    /// Where the job runs: aws (this stack) or local (this machine, as `ecsub-cli run --local`)
    #[arg(long, value_enum, default_value_t)]
    pub provider: Provider,
    /// Container image [default: public.ecr.aws/docker/library/python:3.12-slim, with bash and Python] (local:
    /// ignored, tasks are processes)
    #[arg(long, value_name = "IMAGE")]
    pub image: Option<String>,
    /// Script file each task runs (by its `#!` line; bash without one)
    #[arg(
        long,
        value_name = "FILE",
        conflicts_with = "command",
        required_unless_present = "command"
    )]
    pub script: Option<PathBuf>,
    /// Command each task runs, with bash
    #[arg(long, value_name = "COMMAND")]
    pub command: Option<String>,
    /// Tasks file (TSV, dsub's header: `--env NAME`, a bare `NAME`, `--input NAME`, …), and optionally which
    /// tasks: M-N, M- or M (dsub's task ids, from 1)
    #[arg(long, value_name = "FILE [M-N]", num_args = 1..=2)]
    pub tasks: Vec<String>,
    /// Job name [default: the script's name, or the command's first word]
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// User id in the job id and on its tasks [default: $USER]
    #[arg(long, short = 'u', value_name = "USER")]
    pub user: Option<String>,
    /// Environment variables of every task: NAME=VALUE ...
    #[arg(long, value_name = "NAME=VALUE", num_args = 1..)]
    pub env: Vec<String>,
    /// Labels of every task (tags on what it runs): KEY=VALUE ...
    #[arg(long, value_name = "KEY=VALUE", num_args = 1..)]
    pub label: Vec<String>,
    /// Input files of every task: [NAME=]s3://BUCKET/KEY (a `*` in the file name: every match) ...
    #[arg(long, value_name = "[NAME=]S3_URL", num_args = 1..)]
    pub input: Vec<String>,
    /// Input folders of every task: [NAME=]s3://BUCKET/PREFIX/ ...
    #[arg(long, value_name = "[NAME=]S3_URL", num_args = 1..)]
    pub input_recursive: Vec<String>,
    /// Output files of every task: [NAME=]s3://BUCKET/KEY (a `*` in the file name: every match) ...
    #[arg(long, value_name = "[NAME=]S3_URL", num_args = 1..)]
    pub output: Vec<String>,
    /// Output folders of every task: [NAME=]s3://BUCKET/PREFIX/ ...
    #[arg(long, value_name = "[NAME=]S3_URL", num_args = 1..)]
    pub output_recursive: Vec<String>,
    /// Where each task's log, stdout and stderr go: a folder, or a name ending in .log; {job-id}, {job-name},
    /// {task-id}, {task-attempt} and {user-id} are filled in
    #[arg(long, value_name = "S3_URL")]
    pub logging: Option<String>,
    /// Wait for the job to end; exit 0 only if every task succeeded
    #[arg(long)]
    pub wait: bool,
    /// Seconds between polls while waiting
    #[arg(long, value_name = "SECONDS", default_value_t = 10)]
    pub poll_interval: u64,
    /// Try a failed task up to N more times; run by the stack, so it goes on without this command
    #[arg(long, value_name = "N")]
    pub retries: Option<u32>,
    /// Run on spot instances: every attempt, or with N the first N attempts, then on demand
    #[arg(long, value_name = "N", num_args = 0..=1, default_missing_value = "all")]
    pub preemptible: Option<String>,
    /// Start the job only when these jobs have succeeded (decided by the stack, not by a waiting client; one
    /// that fails refuses this one, naming it)
    #[arg(long, value_name = "JOB", num_args = 1..)]
    pub after: Vec<String>,
    /// Leave out the tasks whose outputs all exist already (each task by its own outputs); none left: no job, and
    /// stdout says NO_JOB
    #[arg(long)]
    pub skip: bool,
    /// The smallest number of vCPUs of the instance
    #[arg(long, value_name = "N")]
    pub min_cores: Option<u32>,
    /// The least memory of the instance, in GB (GiB, as dsub counts them)
    #[arg(long, value_name = "GB")]
    pub min_ram: Option<f64>,
    /// EC2 instance type (e.g. m5.xlarge)
    #[arg(long, value_name = "TYPE")]
    pub machine_type: Option<String>,
    /// GiB of disk for the task's data (its /scratch) [default: 22]
    #[arg(long, value_name = "GB")]
    pub disk_size: Option<u32>,
    /// GiB of the instance's boot volume: the stack's is 30, and the task's data goes on --disk-size
    #[arg(long, value_name = "GB")]
    pub boot_disk_size: Option<u32>,
    /// Stop a task running longer than this (`30m`, `6h`, `7d`)
    #[arg(long, value_name = "DURATION")]
    pub timeout: Option<String>,
    /// Print the job id and what would run; submit nothing
    #[arg(long)]
    pub dry_run: bool,
    /// The stack's AWS region (as AWS_REGION); a Google region is refused
    #[arg(long, value_name = "REGION", num_args = 1..)]
    pub regions: Vec<String>,
    /// Google zones: refused (the stack's subnets pick the zones; --aws-subnet-id for others)
    #[arg(long, value_name = "ZONE", num_args = 1..)]
    pub zones: Vec<String>,
    /// A job id of 32 letters and digits instead of dsub's readable one
    #[arg(long)]
    pub unique_job_id: bool,
    /// The stack's bucket (aws), optionally with a prefix: s3://BUCKET[/PREFIX]
    #[arg(long, value_name = "S3_URL", env = "ECSUB_BUCKET")]
    pub aws_s3_bucket: Option<String>,
    /// local: the folder that stands for S3 (s3://BUCKET/KEY is S3_ROOT/BUCKET/KEY)
    #[arg(long, value_name = "DIR", default_value = ".ecsub/s3")]
    pub s3_root: PathBuf,
    /// local: the folder of the job's scripts, scratch folders and logs
    #[arg(long, value_name = "DIR", default_value = ".ecsub/work")]
    pub wdir: PathBuf,
    #[command(flatten)]
    pub google: GoogleOnly,
}

/// dsub's flags that only Google's providers have: each is refused, with what to use on AWS.
#[derive(Debug, Args)]
#[command(next_help_heading = "Google's flags (refused, each with what to use on AWS)")]
pub struct GoogleOnly {
    #[arg(long, value_name = "PROJECT", hide_short_help = true)]
    pub project: Option<String>,
    #[arg(long, value_name = "LOCATION", hide_short_help = true)]
    pub location: Option<String>,
    #[arg(long, value_name = "PROJECT", hide_short_help = true)]
    pub user_project: Option<String>,
    #[arg(long, value_name = "NAME=PATH", hide_short_help = true)]
    pub mount: Vec<String>,
    #[arg(long, value_name = "TYPE", hide_short_help = true)]
    pub accelerator_type: Option<String>,
    #[arg(long, value_name = "N", hide_short_help = true)]
    pub accelerator_count: Option<u32>,
    #[arg(long, value_name = "SCOPE", num_args = 1.., hide_short_help = true)]
    pub scopes: Vec<String>,
    #[arg(long, value_name = "ACCOUNT", hide_short_help = true)]
    pub service_account: Option<String>,
    #[arg(long, value_name = "NETWORK", hide_short_help = true)]
    pub network: Option<String>,
    #[arg(long, value_name = "SUBNETWORK", hide_short_help = true)]
    pub subnetwork: Option<String>,
    #[arg(long, hide_short_help = true)]
    pub use_private_address: bool,
    #[arg(long, value_name = "TYPE", hide_short_help = true)]
    pub disk_type: Option<String>,
    #[arg(long, value_name = "IMAGE", hide_short_help = true)]
    pub boot_disk_image: Option<String>,
    #[arg(long, value_name = "PLATFORM", hide_short_help = true)]
    pub cpu_platform: Option<String>,
    #[arg(long, value_name = "INTERVAL", hide_short_help = true)]
    pub log_interval: Option<String>,
    #[arg(long, value_name = "FILE", hide_short_help = true)]
    pub credentials_file: Option<String>,
    #[arg(long, value_name = "BOOL", hide_short_help = true)]
    pub install_gpu_drivers: Option<String>,
    #[arg(long, value_name = "VERSION", hide_short_help = true)]
    pub nvidia_driver_version: Option<String>,
    #[arg(long, hide_short_help = true)]
    pub ssh: bool,
    #[arg(long, hide_short_help = true)]
    pub enable_stackdriver_monitoring: bool,
    #[arg(long, hide_short_help = true)]
    pub block_external_network: bool,
    #[arg(long, hide_short_help = true)]
    pub summary: bool,
}

impl GoogleOnly {
    /// Each Google flag given, with what to use on AWS.
    pub fn refusals(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut refuse = |given: bool, flag: &str, instead: &str| {
            if given {
                out.push(format!("{flag} is Google Cloud's: {instead}"));
            }
        };
        refuse(self.project.is_some(), "--project", "on AWS the account is your AWS profile's, and the stack is named by --aws-s3-bucket (or $ECSUB_BUCKET)");
        refuse(
            self.location.is_some(),
            "--location",
            "the stack runs in its own region; --regions REGION names it if $AWS_REGION does not",
        );
        refuse(self.user_project.is_some(), "--user-project", "for a requester-pays bucket give ecsub's --request-payer-bucket BUCKET through `ecsub-cli push`");
        refuse(
            !self.mount.is_empty(),
            "--mount",
            "mount nothing: give the data as --input-recursive NAME=s3://BUCKET/PREFIX/",
        );
        refuse(self.accelerator_type.is_some() || self.accelerator_count.is_some(), "--accelerator-type/--accelerator-count", "give a GPU instance type as --machine-type (e.g. g4dn.xlarge: 1 NVIDIA T4); each task gets all of its instance's GPUs");
        refuse(
            !self.scopes.is_empty() || self.service_account.is_some(),
            "--scopes/--service-account",
            "the tasks run with the stack's task role; its rights are the stack's (template.yaml)",
        );
        refuse(self.network.is_some() || self.subnetwork.is_some() || self.use_private_address, "--network/--subnetwork/--use-private-address", "the instances run in the stack's subnets; `ecsub-cli push --aws-subnet-id SUBNET` picks others");
        refuse(self.disk_type.is_some() || self.boot_disk_image.is_some() || self.cpu_platform.is_some(), "--disk-type/--boot-disk-image/--cpu-platform", "the stack boots the ECS-optimized AMI on gp3; pick the CPU by --machine-type (e.g. m7i.large, m7g.large)");
        refuse(self.log_interval.is_some(), "--log-interval", "--logging files are written when each attempt ends; `ecsub-cli logs JOB -f` follows a running task's output");
        refuse(
            self.credentials_file.is_some(),
            "--credentials-file",
            "AWS credentials come from your AWS profile or environment",
        );
        refuse(
            self.install_gpu_drivers.is_some(),
            "--install-gpu-drivers",
            "a GPU instance type boots the ECS GPU-optimized AMI, whose drivers are installed",
        );
        refuse(self.ssh, "--ssh", "keep a failed task's instance with `ecsub-cli push --keep-on-failure 2h` and enter it with `aws ssm start-session`");
        refuse(
            self.enable_stackdriver_monitoring,
            "--enable-stackdriver-monitoring",
            "the containers' output is in CloudWatch Logs (`ecsub-cli logs JOB`)",
        );
        refuse(
            self.block_external_network,
            "--block-external-network",
            "the network is the stack's subnets' and security group's",
        );
        refuse(
            self.summary,
            "--summary",
            "follow the job with --wait, or `ecsub-cli dstat --summary --jobs JOB`",
        );
        out
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum Format {
    #[default]
    Text,
    Json,
    Yaml,
}

/// How dstat and ddel choose the jobs and tasks, beside `--jobs`.
#[derive(Debug, Args)]
pub struct Chooser {
    /// Where the jobs ran
    #[arg(long, value_enum, default_value_t)]
    pub provider: Provider,
    /// Task ids (from 1)
    #[arg(long, short = 't', value_name = "TASK", num_args = 1..)]
    pub tasks: Vec<String>,
    /// Users ('*': everyone) [default: $USER]
    #[arg(long, short = 'u', value_name = "USER", num_args = 1..)]
    pub users: Vec<String>,
    /// Only jobs newer than this: 30s, 10m, 2h, 3d, 1w, or a UTC time in seconds since 1970
    #[arg(long, value_name = "AGE")]
    pub age: Option<String>,
    /// Only tasks with these labels: KEY=VALUE ...
    #[arg(long, value_name = "KEY=VALUE", num_args = 1..)]
    pub label: Vec<String>,
    /// The stack's bucket, optionally with a prefix: s3://BUCKET[/PREFIX]
    #[arg(long, value_name = "S3_URL", env = "ECSUB_BUCKET")]
    pub aws_s3_bucket: Option<String>,
}

#[derive(Debug, Args)]
#[command(
    after_help = "dsub's dstat over this stack's jobs (docs/dsub.md). Exit status 0, whatever the tasks' \
states; 2 a usage error, 3 a runtime error."
)]
pub struct DstatArgs {
    /// Job ids ('*': every job)
    #[arg(long, short = 'j', value_name = "JOB", num_args = 1..)]
    pub jobs: Vec<String>,
    /// Job names
    #[arg(long, short = 'n', value_name = "NAME", num_args = 1..)]
    pub names: Vec<String>,
    /// Task states: RUNNING, SUCCESS, FAILURE, CANCELED, or '*' [default: RUNNING]
    #[arg(long, short = 's', value_name = "STATUS", num_args = 1..)]
    pub status: Vec<String>,
    /// Every field of each task (YAML unless --format says otherwise)
    #[arg(long, short = 'f', conflicts_with = "summary")]
    pub full: bool,
    /// Tasks counted by job and state
    #[arg(long)]
    pub summary: bool,
    /// Print again until no task shown is running
    #[arg(long)]
    pub wait: bool,
    /// Seconds between prints with --wait
    #[arg(long, value_name = "SECONDS", default_value_t = 10)]
    pub poll_interval: u64,
    /// Show at most this many tasks (0: all)
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub limit: usize,
    /// text, json or yaml
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    #[command(flatten)]
    pub choose: Chooser,
}

#[derive(Debug, Args)]
#[command(
    after_help = "dsub's ddel over this stack's jobs (docs/dsub.md): the running tasks of the jobs chosen are \
stopped, and their instances terminated. Exit status 0 (also when nothing was running), 2 a usage error, 3 a \
runtime error."
)]
pub struct DdelArgs {
    /// Job ids ('*': every job of the users)
    #[arg(long, short = 'j', value_name = "JOB", num_args = 1.., required = true)]
    pub jobs: Vec<String>,
    #[command(flatten)]
    pub choose: Chooser,
}
