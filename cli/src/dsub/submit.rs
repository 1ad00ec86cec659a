//! `ecsub-cli dsub`: dsub's command line as a job of this stack (`--provider aws`, through `push`) or of this
//! machine (`--provider local`, through `run --local`). The decisions are ecsub-core's (`ecsub_core::dsub`);
//! here the files are read, the flags checked, and the job handed to the command that runs it.

use super::args::{DsubArgs, Provider};
use super::streams::JobIdOnStdout;
use crate::args::{Output, PushArgs};
use crate::error::InputError;
use crate::plan::{self, Source};
use crate::{local, push};
use ecsub_core::dsub::{self, AutoNames, Param};
use ecsub_core::tasks::ColumnKind;
use ecsub_core::{Finding, JobArgs, JobId};
use std::process::ExitCode;

pub fn run(args: &DsubArgs) -> anyhow::Result<ExitCode> {
    let job = Job::read(args)?;
    if let [region] = args.regions.as_slice() {
        // dsub's --regions, on AWS: the region the SDK asks (the stack's), as AWS_REGION says it.
        std::env::set_var("AWS_REGION", region);
    }
    let suffix = plan::random_suffix();
    let id = JobId::new(&job.id_name, &suffix)
        .map_err(|why| InputError::new(format!("dsub: the job id: {why}")))?;
    let source = Source {
        tasks_name: job.tasks_name,
        tasks_bytes: job.tasks_bytes,
        script: job.script,
        typed: job.typed,
    };
    // dsub's streams: stdout holds the job id alone, said when the command is done; all else goes to stderr.
    let stdout = JobIdOnStdout::start()?;
    let outcome = match args.provider {
        Provider::Local => {
            let folders = local::Folders {
                s3_root: args.s3_root.clone(),
                wdir: args.wdir.clone(),
                keep_scratch: false,
            };
            local::run_source(&folders, source, &suffix, Output::Text).map(|code| (code, true))
        }
        _ => {
            let push = PushArgs {
                aws_s3_bucket: args.aws_s3_bucket.clone(),
                dry_run: args.dry_run,
                wait: args.wait,
                poll: args.poll_interval.max(1) as f64,
                pickup_timeout: 300,
                skip_existing: args.skip,
                rerun_failed: None,
                tasks: None,
                script: None,
                job: JobArgs::default(),
            };
            let Some(bucket) = push.aws_s3_bucket.clone() else {
                stdout.finish(None);
                return Err(InputError::new(
                    "dsub --provider aws: no stack: pass --aws-s3-bucket s3://BUCKET (the stack's bucket) or set \
                     ECSUB_BUCKET",
                )
                .into());
            };
            push::run_source(&push, &bucket, source, &suffix).map(|p| (p.code, p.sent))
        }
    };
    // dsub's NO_JOB: every task's outputs were there (--skip), and no job was started.
    match outcome {
        Ok((code, sent)) => {
            stdout.finish(Some(if sent { id.as_str() } else { "NO_JOB" }));
            Ok(code)
        }
        Err(e) => {
            stdout.finish(None);
            Err(e)
        }
    }
}

/// A dsub command line read: the ecsub tasks file it makes, the script, the options, and the job id's name.
struct Job {
    tasks_name: String,
    tasks_bytes: Vec<u8>,
    script: Result<Vec<u8>, Finding>,
    typed: JobArgs,
    id_name: String,
}

impl Job {
    fn read(args: &DsubArgs) -> Result<Job, InputError> {
        let mut errors: Vec<Finding> = refusals(args).into_iter().map(Finding::error).collect();
        let mut auto = AutoNames::default();
        let mut job_wide = Vec::new();
        for (kind, values) in [
            (ColumnKind::Env, &args.env),
            (ColumnKind::Label, &args.label),
            (ColumnKind::Input, &args.input),
            (ColumnKind::InputRecursive, &args.input_recursive),
            (ColumnKind::Output, &args.output),
            (ColumnKind::OutputRecursive, &args.output_recursive),
        ] {
            for value in values {
                match Param::parse(kind, value, &mut auto) {
                    Ok(param) => job_wide.push(param),
                    Err(why) => errors.push(Finding::error(why)),
                }
            }
        }
        let (script, script_file) = match (&args.script, &args.command) {
            (Some(path), _) => (plan::read_script(path), Some(path.display().to_string())),
            (None, Some(command)) => (
                Ok(format!("#!/usr/bin/env bash\n{command}\n").into_bytes()),
                None,
            ),
            (None, None) => (
                Err(Finding::error(
                    "dsub: give --script FILE or --command 'COMMAND'",
                )),
                None,
            ),
        };
        let job_name = dsub::job_name(
            args.name.as_deref(),
            script_file.as_deref(),
            args.command.as_deref(),
        );
        let user = super::user_id(args.user.as_deref());
        let id_name = if args.unique_job_id {
            unique_name()
        } else {
            dsub::job_id_name(&job_name, &user, now_ms())
        };
        let (file, range) = match args.tasks.as_slice() {
            [] => (None, None),
            [file] => (Some(file), None),
            [file, range, ..] => (Some(file), Some(range)),
        };
        let task_range = match range.map(|r| dsub::task_range(r)) {
            Some(Err(why)) => {
                errors.push(Finding::error(format!(
                    "--tasks {}: {why}",
                    file.map_or("", |f| f.as_str())
                )));
                None
            }
            Some(Ok(range)) => Some(range),
            None => None,
        };
        let read = match file {
            Some(file) => Some(plan::read_tasks(std::path::Path::new(file))?),
            None => None,
        };
        let tasks_name = read
            .as_ref()
            .map_or_else(|| format!("{job_name}.tsv"), |(name, _)| name.clone());
        let merged = dsub::tasks::merge(
            read.as_ref()
                .map(|(name, bytes)| (name.as_str(), bytes.as_slice())),
            &job_wide,
            &job_name,
            &mut auto,
        );
        let tasks_bytes = match merged {
            Ok(bytes) => bytes,
            Err(found) => {
                errors.extend(found);
                Vec::new()
            }
        };
        let typed = match options(args, &script, &job_name, &user, &id_name, task_range) {
            Ok(typed) => typed,
            Err(found) => {
                errors.extend(found.into_iter().map(Finding::error));
                JobArgs::default()
            }
        };
        if !errors.is_empty() {
            return Err(InputError(errors));
        }
        Ok(Job {
            tasks_name,
            tasks_bytes,
            script,
            typed,
            id_name,
        })
    }
}

/// The job's ecsub options from dsub's flags.
fn options(
    args: &DsubArgs,
    script: &Result<Vec<u8>, Finding>,
    job_name: &str,
    user: &str,
    id_name: &str,
    task_range: Option<ecsub_core::TaskRange>,
) -> Result<JobArgs, Vec<String>> {
    let mut errors = Vec::new();
    let machine = match args.machine_type.as_deref().map(dsub::machine_type) {
        Some(Ok(t)) => vec![t],
        Some(Err(why)) => {
            errors.push(why);
            Vec::new()
        }
        None => Vec::new(),
    };
    // dsub's --preemptible: every attempt on spot, or the first N.
    let (spot, spot_attempts) = match args.preemptible.as_deref() {
        None | Some("0") => (false, None),
        Some("all") => (true, None),
        Some(n) => match n.parse::<u32>() {
            Ok(n) => (true, Some(n)),
            Err(_) => {
                errors.push(format!(
                    "--preemptible {n}: expected a number of attempts, or nothing for every attempt"
                ));
                (false, None)
            }
        },
    };
    if let Some(n) = args
        .preemptible
        .as_deref()
        .and_then(|n| n.parse::<u32>().ok())
    {
        if n > args.retries.unwrap_or(0) {
            errors.push(format!(
                "--preemptible {n}: larger than --retries {} (dsub's rule: the attempts after the preemptible \
                 ones are retries)",
                args.retries.unwrap_or(0)
            ));
        }
    }
    if let Some(logging) = &args.logging {
        if logging.starts_with("gs://") {
            errors.push(format!("--logging {logging}: {}", dsub::tasks::GCS_ADVICE));
        } else if let Err(why) = dsub::logging::check(logging) {
            errors.push(why);
        }
    }
    let tag = |key: &str, value: &str| format!("{key}={value}");
    Ok(JobArgs {
        image: args.image.clone(),
        shell: script.as_ref().ok().and_then(|bytes| dsub::shell_of(bytes)),
        task_name: Some(id_name.to_owned()),
        aws_ec2_instance_type: machine,
        disk_size: args.disk_size,
        spot,
        spot_attempts,
        retries: args.retries,
        task_range,
        timeout: args.timeout.clone(),
        // dsub's NO_JOB (a job dsub left out, its outputs there already) is no job to wait for.
        after: args
            .after
            .iter()
            .filter(|j| *j != "NO_JOB")
            .cloned()
            .collect(),
        // dsub's rule, by whether the job has --tasks and --retries, made explicit (a path with placeholders is used
        // as written); with neither, a job of one task, which the plan names without a task id. dsub's names filled.
        logging: args.logging.as_deref().map(|uri| {
            let (tasks, retries) = (!args.tasks.is_empty(), args.retries.unwrap_or(0) > 0);
            let uri = if tasks || retries {
                dsub::logging::pattern(uri, tasks, retries)
            } else {
                uri.to_owned()
            };
            uri.replace("{job-name}", job_name)
                .replace("{user-id}", user)
        }),
        make_output_folders: true,
        // On AWS, dstat finds a job's name and user by them (and Billing splits the cost by them).
        tags: if args.provider == Provider::Aws {
            vec![tag("dsub-job-name", job_name), tag("dsub-user-id", user)]
        } else {
            Vec::new()
        },
        ..JobArgs::default()
    })
    .and_then(|typed| {
        if errors.is_empty() {
            Ok(typed)
        } else {
            Err(errors)
        }
    })
}

/// What dsub's command line asks that this stack does not do, each with what to use instead.
fn refusals(args: &DsubArgs) -> Vec<String> {
    let mut out = args.google.refusals();
    if args.provider == Provider::Google {
        out.push(
            "--provider google-batch runs on Google Cloud: here give --provider aws (this stack) or local".to_owned(),
        );
    }
    for zone in &args.zones {
        out.push(format!(
            "--zones {zone}: the instances launch in the stack's subnets, whose zones they are; give ecsub-cli push \
             --aws-subnet-id SUBNET for others"
        ));
    }
    match args.regions.as_slice() {
        [] => {}
        [region] if dsub::aws_region(region) => {}
        [region] => out.push(format!(
            "--regions {region}: a Google region; give the AWS region the stack was deployed to (e.g. us-east-1), \
             or set AWS_REGION"
        )),
        more => out.push(format!(
            "--regions {}: the stack runs in the one region it was deployed to; give that one",
            more.join(" ")
        )),
    }
    if args.provider == Provider::Local && !args.after.is_empty() {
        out.push(
            "--after with --provider local: a local job has ended when `dsub --provider local` returns, so run the \
             jobs in order (`dsub ... && dsub ...`)"
                .to_owned(),
        );
    }
    if args.min_cores.is_some() || args.min_ram.is_some() {
        out.push("--min-cores/--min-ram: not yet on this stack; give --machine-type (e.g. m5.xlarge for 4 vCPUs and 16 GiB)".to_owned());
    }
    if let Some(boot) = args.boot_disk_size {
        out.push(format!(
            "--boot-disk-size {boot}: the stack's boot volume is 30 GiB; the task's data goes on --disk-size"
        ));
    }
    if args.provider == Provider::Local && args.skip {
        out.push(
            "--skip with --provider local: not here yet; run the tasks whose outputs are missing with --tasks FILE M-N, \
             or skip on the stack (--provider aws)"
                .to_owned(),
        );
    }
    if args.provider == Provider::Local && args.dry_run {
        out.push("--dry-run with --provider local: a local run has nothing to submit; give --provider aws --dry-run to see the plan".to_owned());
    }
    out
}

/// `--unique-job-id`: 26 random lowercase letters and digits (the id adds its suffix).
fn unique_name() -> String {
    (0..6).map(|_| plan::random_suffix()).collect::<String>()[..26].to_owned()
}

/// The clock of a command that also runs without the AWS SDK (ecsub-aws's `now_ms` is in that build only).
fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
