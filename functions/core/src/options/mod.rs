//! Job options: ecsub's `submit` flags, shared by the command line and by `#ecsub:` directives in a tasks file,
//! and their resolution into a validated [`JobSpec`].
//!
//! One clap definition serves both places, so a directive accepts exactly the flags a user types and reports the
//! same errors. Pure: parsing and validation only.

use crate::chain::limits::{MAX_CARRIED_OPTION_BYTES, MAX_STATE_BYTES};
use crate::diag::{Diagnostic, Diagnostics};
use crate::job::JobId;
use crate::s3path::check_bucket;
use crate::tasks::TasksFile;
use clap::{Args, Parser};
use serde::{Deserialize, Serialize};

mod range;
pub use range::TaskRange;

/// A modern image with Python 3 and `bash`, from ECR Public: Docker Hub allows anonymous pulls only 10 an hour per
/// IP address, which a few tasks behind one NAT gateway use up (docker/docs#22081).
pub const DEFAULT_IMAGE: &str = "public.ecr.aws/docker/library/python:3.12-slim";
pub const DEFAULT_SHELL: &str = "/bin/bash";
pub const DEFAULT_INSTANCE_TYPE: &str = "t3.micro";
/// GiB added to the 30 GiB root volume, as in ecsub.
pub const DEFAULT_DISK_SIZE: u32 = 22;
pub const DEFAULT_PROCESSES: u32 = 20;
pub const DEFAULT_WAITER_DELAY: u32 = 15;
/// The most jobs `--after` may name: each is read when the job arrives and again when it ends.
pub const MAX_AFTER: usize = 20;
/// ecsub's job options. Every field is optional so that the command line can be laid over the tasks file's
/// directives; defaults are applied by [`JobArgs::resolve`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Args, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[command(next_help_heading = "Job options (also accepted in `#ecsub:` lines of the tasks file)")]
pub struct JobArgs {
    /// Container image [default: public.ecr.aws/docker/library/python:3.12-slim] (AWS only)
    #[arg(long, value_name = "IMAGE")]
    pub image: Option<String>,
    /// The image is in this account's ECR: IMAGE becomes <account>.dkr.ecr.<region>.amazonaws.com/IMAGE (AWS only)
    #[arg(long)]
    pub use_amazon_ecr: bool,
    /// Pull the image from a private registry (Docker Hub, GitHub, GitLab, Quay, any) with the user name and
    /// password or token in this Secrets Manager secret, a JSON object {"username": "...", "password": "..."} under
    /// the stack's secrets prefix; ECS reads it with the stack's execution role at each pull (AWS only)
    #[arg(long, value_name = "secretsmanager:NAME")]
    pub image_credentials: Option<String>,
    /// Shell that runs the user script, with its arguments [default: /bin/bash]
    #[arg(long, value_name = "SH")]
    pub shell: Option<String>,
    /// Command run in the container before anything else [default: none: the stack's stager does every copy, so the image needs no AWS CLI] (AWS only)
    #[arg(long, value_name = "CMD")]
    pub setup_container_cmd: Option<String>,
    /// Bind the host's /var/run/docker.sock into the container (AWS only)
    #[arg(long)]
    pub dind: bool,
    /// Run the container privileged with /dev/fuse, for goofys mounts (AWS only)
    #[arg(long)]
    pub goofys: bool,
    /// Job name [default: the tasks file's name]; the job id adds a random suffix
    #[arg(long, value_name = "NAME")]
    pub task_name: Option<String>,
    /// Instance types to try, in order; a list needs --spot [default: t3.micro]. A type with NVIDIA GPUs (g4dn, g5,
    /// g6, p4d, p5, …) boots the ECS GPU-optimized AMI and gives each task all of its GPUs (AWS only)
    #[arg(long, value_name = "TYPE[,TYPE...]", value_delimiter = ',')]
    pub aws_ec2_instance_type: Vec<String>,
    /// The image is built for both x86_64 and arm64: the instance types may mix the two architectures (a job
    /// whose types mix them is refused without it: a one-architecture image fails on the other's CPU) (AWS only)
    #[arg(long)]
    pub multi_arch: bool,
    /// Accepted for ecsub's command lines: a stack runs its instances and tasks with its own roles only, so this
    /// may only name the stack's instance profile or role (AWS only)
    #[arg(long, value_name = "ROLE")]
    pub aws_ecs_instance_role_name: Option<String>,
    /// GiB added to the 30 GiB root volume [default: 22] (AWS only)
    #[arg(long, value_name = "GIB")]
    pub disk_size: Option<u32>,
    /// Tasks run at the same time [default: 20]
    #[arg(long, value_name = "N")]
    pub processes: Option<u32>,
    /// Security group of the instances (AWS only)
    #[arg(long, value_name = "ID")]
    pub aws_security_group_id: Option<String>,
    /// EC2 key pair for SSH into the instances (AWS only)
    #[arg(long, value_name = "NAME")]
    pub aws_key_name: Option<String>,
    /// CloudWatch Logs group of the containers [default: ecsub-<job>] (AWS only)
    #[arg(long, value_name = "NAME")]
    pub aws_log_group_name: Option<String>,
    /// Subnets to launch in, in order (AWS only)
    #[arg(long, value_name = "ID[,ID...]", value_delimiter = ',')]
    pub aws_subnet_id: Vec<String>,
    /// Use spot instances (AWS only)
    #[arg(long)]
    pub spot: bool,
    /// After a spot attempt is interrupted, its retries run on demand (AWS only)
    #[arg(long)]
    pub retry_od: bool,
    /// With --spot: the first N attempts of a task run on spot, the rest on demand, whatever ended the attempt
    /// before (dsub's `--preemptible N`) (AWS only)
    #[arg(long, value_name = "N")]
    pub spot_attempts: Option<u32>,
    /// Try a task whose script failed (a non-zero exit, or exit 0 without its outputs) up to N more times, on the
    /// same kind of instance; an interrupted instance is tried again apart from these [default: 0, at most 10]
    #[arg(long, value_name = "N")]
    pub retries: Option<u32>,
    /// With --retries: try again only after these exit codes (e.g. 75 for a temporary failure)
    #[arg(long, value_name = "CODE[,CODE...]", value_delimiter = ',')]
    pub retry_on_exit: Vec<i32>,
    /// With --retries: a task killed for want of memory is tried again on the next larger type (the next of the
    /// list, or its family's next size), and one that ran out of disk with twice the disk (AWS only)
    #[arg(long)]
    pub retry_larger: bool,
    /// Keep the instance of a task that failed for good (its last attempt) for a look, up to DURATION (`30m`, `2h`;
    /// at most 24h): its scratch stays as the task left it; `status` says how to get in, `ecsub-cli release JOB
    /// [TASK]` ends the hold sooner, and the janitor terminates it at the deadline. It is billed (and priced) until
    /// then (AWS only)
    #[arg(long, value_name = "DURATION")]
    pub keep_on_failure: Option<String>,
    /// Where each attempt's three log files go when it ends, by dsub's rule: a folder (`s3://B/logs/`: the files are
    /// `<job-id>.<task>.log`, `-stdout.log` and `-stderr.log`, and `.<attempt>` before them with --retries), a name
    /// ending in `.log` used as their stem, or a pattern with `{job-id}`, `{job-name}`, `{task-id}` (the task's
    /// number from 1) and `{task-attempt}`. The `.log` file holds ecsub's steps, the others the script's stdout and
    /// stderr (which also go to the console and, on AWS, to CloudWatch Logs)
    #[arg(long, value_name = "S3_URL")]
    pub logging: Option<String>,
    /// Make each output's folder (a file output's parent, a recursive output itself) before the script runs, as dsub
    /// does; without it the script makes them
    #[arg(long)]
    pub make_output_folders: bool,
    /// Buckets whose copies add `--request-payer requester` (AWS only)
    #[arg(long, value_name = "BUCKET[,BUCKET...]", value_delimiter = ',')]
    pub request_payer_bucket: Vec<String>,
    /// Do not check that the buckets are in the stack's region (AWS only)
    #[arg(long)]
    pub ignore_location: bool,
    /// Do not check that every input exists before the tasks start
    #[arg(long)]
    pub not_verify_bucket: bool,
    /// Do not price the job's attempts when it ends (AWS only; see `status`)
    #[arg(long)]
    pub skip_price: bool,
    /// Seconds between the state machine's polls [default: 15] (AWS only)
    #[arg(long, value_name = "SECONDS")]
    pub waiter_delay: Option<u32>,
    /// Stop a task's attempt running longer than this (`90m`, `6h`, `2d`; at least 10s), as failed; the stack's
    /// own TaskTimeoutSeconds is the most it may be (AWS only)
    #[arg(long, value_name = "DURATION")]
    pub timeout: Option<String>,
    /// Start the job only once these jobs (of the same stack) have all succeeded: the stack waits, not this command;
    /// a job among them that fails, is refused or does not exist refuses this one, naming it
    #[arg(long, value_name = "JOB[,JOB...]", value_delimiter = ',')]
    pub after: Vec<String>,
    /// Run only these tasks: M-N, M- or M (0-based, as ecsub numbers them)
    #[arg(long, value_name = "RANGE")]
    pub task_range: Option<TaskRange>,
    /// Put this tag on everything the job makes and pays for (instances, volumes, ECS tasks, the cluster, task
    /// definition and log group), beside ecsub's own; repeatable, at most 45. Activate the key as a cost
    /// allocation tag in Billing to split the bill by it; `report` totals the job by it (AWS only)
    #[arg(long = "tag", value_name = "KEY=VALUE")]
    pub tags: Vec<String>,
}

/// Parses one directive's words with the same definition as the command line.
#[derive(Debug, Parser)]
#[command(
    name = "#ecsub:",
    no_binary_name = true,
    disable_help_flag = true,
    disable_version_flag = true,
    color = clap::ColorChoice::Never
)]
struct DirectiveLine {
    #[command(flatten)]
    args: JobArgs,
    /// Only in directives: where the user script is, for a tasks file dropped into the bucket's inbox.
    #[arg(long, value_name = "S3_URL")]
    script: Option<String>,
}

/// What a tasks file's `#ecsub:` lines say: job options, and (for inbox drops) where the script is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileDirectives {
    pub args: JobArgs,
    pub script: Option<String>,
}

impl JobArgs {
    /// The options carried by a tasks file's `#ecsub:` lines; a later line wins over an earlier one.
    pub fn from_directives(tasks: &TasksFile) -> Result<JobArgs, Diagnostics> {
        Self::parse_directives(tasks).map(|d| d.args)
    }

    /// Everything a tasks file's `#ecsub:` lines carry, including `--script`.
    pub fn parse_directives(tasks: &TasksFile) -> Result<FileDirectives, Diagnostics> {
        Self::parse_directive_lines(&tasks.file, &tasks.directives)
    }

    /// The options of `#ecsub:` lines of `file` (as [`crate::tasks::directives`] finds them in a file that may
    /// have other errors).
    pub fn parse_directive_lines(
        file: &str,
        directives: &[crate::tasks::Directive],
    ) -> Result<FileDirectives, Diagnostics> {
        let mut merged = FileDirectives::default();
        let mut errors = Vec::new();
        for directive in directives {
            match DirectiveLine::try_parse_from(&directive.words) {
                Ok(line) => {
                    merged.args = line.args.over(merged.args);
                    merged.script = line.script.or(merged.script);
                }
                Err(e) => errors.push(Diagnostic::error(
                    file,
                    directive.line,
                    1,
                    format!("in `#ecsub:` options: {}", first_line(&e.to_string())),
                )),
            }
        }
        if errors.is_empty() {
            Ok(merged)
        } else {
            Err(Diagnostics(errors))
        }
    }

    /// `self` laid over `lower`: a value set here wins; flags are on if either turns them on.
    pub fn over(self, lower: JobArgs) -> JobArgs {
        fn list(high: Vec<String>, low: Vec<String>) -> Vec<String> {
            if high.is_empty() {
                low
            } else {
                high
            }
        }
        JobArgs {
            image: self.image.or(lower.image),
            use_amazon_ecr: self.use_amazon_ecr || lower.use_amazon_ecr,
            image_credentials: self.image_credentials.or(lower.image_credentials),
            shell: self.shell.or(lower.shell),
            setup_container_cmd: self.setup_container_cmd.or(lower.setup_container_cmd),
            dind: self.dind || lower.dind,
            goofys: self.goofys || lower.goofys,
            task_name: self.task_name.or(lower.task_name),
            aws_ec2_instance_type: list(self.aws_ec2_instance_type, lower.aws_ec2_instance_type),
            multi_arch: self.multi_arch || lower.multi_arch,
            aws_ecs_instance_role_name: self
                .aws_ecs_instance_role_name
                .or(lower.aws_ecs_instance_role_name),
            disk_size: self.disk_size.or(lower.disk_size),
            processes: self.processes.or(lower.processes),
            aws_security_group_id: self.aws_security_group_id.or(lower.aws_security_group_id),
            aws_key_name: self.aws_key_name.or(lower.aws_key_name),
            aws_log_group_name: self.aws_log_group_name.or(lower.aws_log_group_name),
            aws_subnet_id: list(self.aws_subnet_id, lower.aws_subnet_id),
            spot: self.spot || lower.spot,
            retry_od: self.retry_od || lower.retry_od,
            spot_attempts: self.spot_attempts.or(lower.spot_attempts),
            retry_larger: self.retry_larger || lower.retry_larger,
            retries: self.retries.or(lower.retries),
            keep_on_failure: self.keep_on_failure.or(lower.keep_on_failure),
            logging: self.logging.or(lower.logging),
            make_output_folders: self.make_output_folders || lower.make_output_folders,
            retry_on_exit: if self.retry_on_exit.is_empty() {
                lower.retry_on_exit
            } else {
                self.retry_on_exit
            },
            request_payer_bucket: list(self.request_payer_bucket, lower.request_payer_bucket),
            ignore_location: self.ignore_location || lower.ignore_location,
            not_verify_bucket: self.not_verify_bucket || lower.not_verify_bucket,
            skip_price: self.skip_price || lower.skip_price,
            waiter_delay: self.waiter_delay.or(lower.waiter_delay),
            task_range: self.task_range.or(lower.task_range),
            after: list(self.after, lower.after),
            timeout: self.timeout.or(lower.timeout),
            tags: crate::tags::over(self.tags, lower.tags),
        }
    }

    /// The flags set here that only mean something on AWS, as typed (`--spot`, `--image python:3.12-slim`).
    pub fn aws_only_flags(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut value = |flag: &str, v: Option<String>| {
            if let Some(v) = v {
                out.push(format!("--{flag} {v}"));
            }
        };
        value("image", self.image.clone());
        value("image-credentials", self.image_credentials.clone());
        value("setup-container-cmd", self.setup_container_cmd.clone());
        value("aws-ec2-instance-type", join(&self.aws_ec2_instance_type));
        value(
            "aws-ecs-instance-role-name",
            self.aws_ecs_instance_role_name.clone(),
        );
        value("disk-size", self.disk_size.map(|v| v.to_string()));
        value("aws-security-group-id", self.aws_security_group_id.clone());
        value("aws-key-name", self.aws_key_name.clone());
        value("aws-log-group-name", self.aws_log_group_name.clone());
        value("aws-subnet-id", join(&self.aws_subnet_id));
        value("request-payer-bucket", join(&self.request_payer_bucket));
        value("waiter-delay", self.waiter_delay.map(|v| v.to_string()));
        value("keep-on-failure", self.keep_on_failure.clone());
        value("spot-attempts", self.spot_attempts.map(|n| n.to_string()));
        value("after", join(&self.after));
        value("timeout", self.timeout.clone());
        for tag in &self.tags {
            value("tag", Some(tag.clone()));
        }
        let flags = [
            ("use-amazon-ecr", self.use_amazon_ecr),
            ("dind", self.dind),
            ("goofys", self.goofys),
            ("multi-arch", self.multi_arch),
            ("spot", self.spot),
            ("retry-od", self.retry_od),
            ("retry-larger", self.retry_larger),
            ("ignore-location", self.ignore_location),
            ("skip-price", self.skip_price),
        ];
        out.extend(
            flags
                .iter()
                .filter(|(_, on)| *on)
                .map(|(f, _)| format!("--{f}")),
        );
        out
    }

    /// Applies defaults and checks every option; all problems are reported together.
    pub fn resolve(self, job_id: JobId) -> Result<JobSpec, Vec<String>> {
        let mut errors = Vec::new();
        let instance_types = if self.aws_ec2_instance_type.is_empty() {
            vec![DEFAULT_INSTANCE_TYPE.to_owned()]
        } else {
            self.aws_ec2_instance_type
        };
        for t in &instance_types {
            if !is_instance_type(t) {
                errors.push(format!(
                    "--aws-ec2-instance-type: `{t}` is not an instance type (e.g. `t3.micro`)"
                ));
            }
        }
        if instance_types.len() > 1 && !self.spot {
            errors.push(format!(
                "--aws-ec2-instance-type: a list of types (`{}`) needs --spot",
                instance_types.join(",")
            ));
        }
        if self.retry_od && !self.spot {
            errors.push("--retry-od only makes sense with --spot".to_owned());
        }
        match self.spot_attempts {
            Some(_) if !self.spot => {
                errors.push("--spot-attempts only makes sense with --spot".to_owned())
            }
            Some(0) => errors.push("--spot-attempts 0: no attempt on spot is no --spot".to_owned()),
            _ => {}
        }
        let retries = self.retries.unwrap_or(0);
        if retries > crate::chain::MAX_RETRIES {
            errors.push(format!(
                "--retries {retries}: a task is tried again at most {} times",
                crate::chain::MAX_RETRIES
            ));
        }
        if self.retry_larger && retries == 0 {
            errors.push(
                "--retry-larger needs --retries N (how many times to try again, larger)".to_owned(),
            );
        }
        if !self.retry_on_exit.is_empty() && retries == 0 {
            errors
                .push("--retry-on-exit needs --retries N (how many times to try again)".to_owned());
        }
        for code in &self.retry_on_exit {
            if !(1..=255).contains(code) {
                errors.push(format!(
                    "--retry-on-exit: {code} is not an exit code a script can fail with (1 to 255)"
                ));
            }
        }
        let shell = self.shell.unwrap_or_else(|| DEFAULT_SHELL.to_owned());
        // Split as a shell would (quotes group words), so `--shell "bash -c 'set -e; . \"$0\"'"` works.
        let shell_words = match crate::tasks::split_words(&shell) {
            Ok(words) if words.is_empty() => {
                errors.push("--shell: the shell is empty".to_owned());
                words
            }
            Ok(words) => words,
            Err((_, why)) => {
                errors.push(format!("--shell: {why}"));
                Vec::new()
            }
        };
        let processes = self.processes.unwrap_or(DEFAULT_PROCESSES);
        if processes == 0 {
            errors.push("--processes: must be at least 1".to_owned());
        }
        let disk_size = self.disk_size.unwrap_or(DEFAULT_DISK_SIZE);
        if disk_size > 16_384 - 30 {
            errors.push(format!(
                "--disk-size: {disk_size} GiB is more than an EBS volume holds"
            ));
        }
        for bucket in &self.request_payer_bucket {
            if let Err(why) = check_bucket(bucket) {
                errors.push(format!("--request-payer-bucket: {why}"));
            }
        }
        let carried = instance_types
            .iter()
            .chain(&self.aws_subnet_id)
            .chain(&self.request_payer_bucket)
            .chain(&self.aws_security_group_id)
            .chain(&self.aws_key_name)
            .map(|v| v.len() + 3) // quoted, and a comma
            .sum::<usize>()
            + self
                .tags
                .iter()
                .map(|t| t.len() + 20) // {"key":"","value":""},
                .sum::<usize>();
        if carried > MAX_CARRIED_OPTION_BYTES {
            errors.push(format!(
                "--aws-ec2-instance-type, --aws-subnet-id, --request-payer-bucket, --aws-security-group-id, \
                 --aws-key-name and --tag name {carried} bytes together: every state of every task carries them, \
                 and Step Functions fails a state over {} KiB; keep them within {MAX_CARRIED_OPTION_BYTES} bytes \
                 (fewer types, subnets, buckets or tags)",
                MAX_STATE_BYTES / 1024
            ));
        }
        let image = self.image.unwrap_or_else(|| DEFAULT_IMAGE.to_owned());
        if image.trim().is_empty() || image.chars().any(char::is_whitespace) {
            errors.push(format!("--image: `{image}` is not an image name"));
        }
        if let Some(credentials) = &self.image_credentials {
            if let Err(why) = check_image_credentials(credentials) {
                errors.push(format!("--image-credentials: {why}"));
            }
            if self.use_amazon_ecr {
                errors.push(
                    "--image-credentials with --use-amazon-ecr: ECR images are pulled with the instance's own role; \
                     credentials are for other registries"
                        .to_owned(),
                );
            }
        }
        let waiter_delay = self.waiter_delay.unwrap_or(DEFAULT_WAITER_DELAY);
        if waiter_delay == 0 {
            errors.push("--waiter-delay: must be at least 1 second".to_owned());
        }
        if let Some(Err(why)) = self
            .aws_log_group_name
            .as_deref()
            .map(crate::chain::check_log_group_name)
        {
            errors.push(format!("--aws-log-group-name: {why}"));
        }
        let keep_on_failure = match self
            .keep_on_failure
            .as_deref()
            .map(crate::chain::hold::parse_keep)
        {
            Some(Err(why)) => {
                errors.push(format!("--keep-on-failure: {why}"));
                None
            }
            Some(Ok(seconds)) => Some(seconds),
            None => None,
        };
        let logging = match self
            .logging
            .as_deref()
            .map(|uri| crate::dsub::logging::for_job(uri, job_id.as_str(), true, retries > 0))
        {
            Some(Err(why)) => {
                errors.push(why);
                None
            }
            Some(Ok(pattern)) => Some(pattern),
            None => None,
        };
        let timeout = match self.timeout.as_deref().map(crate::dsub::timeout_seconds) {
            Some(Ok(seconds)) if seconds < 10 => {
                errors.push(format!(
                    "--timeout {}: at least 10s (Step Functions' wait)",
                    self.timeout.as_deref().unwrap_or_default()
                ));
                None
            }
            Some(Ok(seconds)) => Some(u32::try_from(seconds).unwrap_or(u32::MAX)),
            Some(Err(why)) => {
                errors.push(why);
                None
            }
            None => None,
        };
        let mut after = Vec::new();
        for id in &self.after {
            match JobId::try_from(id.clone()) {
                Ok(id) if id == job_id => {
                    errors.push(format!("--after {id}: a job cannot wait for itself"))
                }
                Ok(id) if !after.contains(&id) => after.push(id),
                Ok(_) => {}
                Err(why) => errors.push(format!("--after: {why}")),
            }
        }
        if after.len() > MAX_AFTER {
            errors.push(format!(
                "--after names {} jobs; at most {MAX_AFTER}",
                after.len()
            ));
        }
        let tags = crate::tags::parse_all(&self.tags).unwrap_or_else(|mut why| {
            errors.append(&mut why);
            Vec::new()
        });
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(JobSpec {
            log_group_name: self
                .aws_log_group_name
                .unwrap_or_else(|| job_id.to_string()),
            job_id,
            image,
            use_amazon_ecr: self.use_amazon_ecr,
            image_credentials: self.image_credentials,
            shell: shell_words,
            setup_container_cmd: self.setup_container_cmd.unwrap_or_default(),
            dind: self.dind,
            goofys: self.goofys,
            instance_types,
            multi_arch: self.multi_arch,
            instance_role_name: self.aws_ecs_instance_role_name,
            disk_size,
            processes,
            security_group_id: self.aws_security_group_id,
            key_name: self.aws_key_name,
            subnet_ids: self.aws_subnet_id,
            spot: self.spot,
            retry_od: self.retry_od,
            spot_attempts: self.spot_attempts,
            retries,
            retry_on_exit: self.retry_on_exit,
            retry_larger: self.retry_larger,
            keep_on_failure,
            logging,
            make_output_folders: self.make_output_folders,
            after,
            timeout,
            request_payer_buckets: self.request_payer_bucket,
            ignore_location: self.ignore_location,
            verify_bucket: !self.not_verify_bucket,
            skip_price: self.skip_price,
            waiter_delay,
            task_range: self.task_range,
            tags,
        })
    }
}

/// `--image-credentials`: a Secrets Manager reference (ECS reads registry credentials from Secrets Manager only:
/// "Private registry authentication for tasks").
fn check_image_credentials(value: &str) -> Result<(), String> {
    if !value.starts_with("secretsmanager:") {
        return Err(format!(
            "`{value}` is not secretsmanager:NAME: ECS reads a registry's credentials from a Secrets Manager secret \
             only (a JSON object with username and password)"
        ));
    }
    crate::tasks::secret::check(value)
}

fn join(list: &[String]) -> Option<String> {
    (!list.is_empty()).then(|| list.join(","))
}

fn first_line(message: &str) -> String {
    let line = message.lines().next().unwrap_or_default();
    line.strip_prefix("error: ").unwrap_or(line).to_owned()
}

/// `family.size`, e.g. `t3.micro`, `m7g.2xlarge`, `u-6tb1.metal`.
fn is_instance_type(t: &str) -> bool {
    let Some((family, size)) = t.split_once('.') else {
        return false;
    };
    let word = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    };
    word(family) && word(size) && family.starts_with(|c: char| c.is_ascii_lowercase())
}

/// A job's options, resolved and valid: what `job.json` holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobSpec {
    pub job_id: JobId,
    pub image: String,
    pub use_amazon_ecr: bool,
    /// `--image-credentials secretsmanager:NAME`: the registry's credentials, as typed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_credentials: Option<String>,
    /// The shell command that runs the user script, as words.
    pub shell: Vec<String>,
    pub setup_container_cmd: String,
    pub dind: bool,
    pub goofys: bool,
    pub instance_types: Vec<String>,
    /// `--multi-arch`: the image runs on both architectures, so the types may mix them.
    #[serde(default)]
    pub multi_arch: bool,
    /// The instance profile (and task role) name; `None` means the stack's default.
    pub instance_role_name: Option<String>,
    pub disk_size: u32,
    pub processes: u32,
    pub security_group_id: Option<String>,
    pub key_name: Option<String>,
    pub log_group_name: String,
    pub subnet_ids: Vec<String>,
    pub spot: bool,
    pub retry_od: bool,
    /// `--spot-attempts`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spot_attempts: Option<u32>,
    /// `--retries` and `--retry-on-exit` (absent in a job.json written before they existed: none).
    #[serde(default)]
    pub retries: u32,
    #[serde(default)]
    pub retry_on_exit: Vec<i32>,
    /// `--retry-larger` (absent in a job.json written before it existed: off).
    #[serde(default)]
    pub retry_larger: bool,
    /// `--keep-on-failure`, in seconds (absent in a job.json written before it existed: off).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_on_failure: Option<u32>,
    /// `--logging`, its job's parts filled in: `{task-id}` and `{task-attempt}` are each task's attempt's to fill
    /// (run.sh), and the pattern ends in `.log`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logging: Option<String>,
    /// `--timeout`, in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<u32>,
    /// `--after`: the jobs that must have succeeded before this one starts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub after: Vec<JobId>,
    /// `--make-output-folders`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub make_output_folders: bool,
    pub request_payer_buckets: Vec<String>,
    pub ignore_location: bool,
    pub verify_bucket: bool,
    pub skip_price: bool,
    pub waiter_delay: u32,
    pub task_range: Option<TaskRange>,
    /// `--tag`s, in the order given (absent in a job.json written before they existed: none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<crate::tags::Tag>,
}

#[cfg(test)]
mod tests;
