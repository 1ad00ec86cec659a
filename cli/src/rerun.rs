//! `ecsub-cli push --rerun-failed JOB`: a new job of exactly the tasks of JOB that did not succeed. The new job's
//! tasks file is JOB's (from the bucket) with only those tasks' rows (`subset`), its script is JOB's unless
//! `--script` names another, and its options are JOB's with this command line's over them. Task numbers start
//! again at 000 in the new job; what each was in JOB is printed.

use crate::args::{JobInput, PushArgs};
use crate::remote::{connect, runtime};
use crate::InputError;
use anyhow::Context as _;
use ecsub_aws::store;
use ecsub_core::chain::{JobSubmission, Outcome, Summary};
use ecsub_core::tasks;
use ecsub_core::{JobArgs, JobLayout};
use std::collections::BTreeSet;
use std::process::ExitCode;

/// What the new job is made of, read from JOB's folder.
struct Ended {
    submission: JobSubmission,
    summary: Summary,
    tasks: Vec<u8>,
    script: Vec<u8>,
}

pub fn run(args: &PushArgs, bucket: &str, job: &str) -> anyhow::Result<ExitCode> {
    let layout = crate::remote::job_layout("push --rerun-failed", job, Some(bucket))?;
    let ended = runtime()?.block_on(read(&layout))?;
    let failed: BTreeSet<usize> = ended
        .summary
        .tasks
        .iter()
        .filter(|t| t.outcome != Outcome::Succeeded)
        .map(|t| t.index)
        .collect();
    if failed.is_empty() {
        println!("every task of {job} succeeded: nothing to rerun");
        return Ok(ExitCode::SUCCESS);
    }
    let name = &ended.submission.tasks_file;
    let parsed = tasks::parse(name, &ended.tasks).map_err(|d| {
        anyhow::anyhow!(
            "{}: the job's tasks file no longer parses: {d}",
            layout.url(&layout.tasks_key())
        )
    })?;
    let folder = crate::subset::Folder::new("rerun")?;
    let tasks_path = folder.write(name, &crate::subset::rows(&ended.tasks, &parsed, &failed))?;
    let script = match &args.script {
        Some(path) => path.clone(),
        None => folder.write("script", &ended.script)?,
    };
    // JOB's options as job.json holds them (its file's `#ecsub:` lines merged in), without its --task-range: the
    // rows are picked already.
    let earlier = JobArgs {
        task_range: None,
        ..ended.submission.args.clone()
    };
    let input = JobInput {
        tasks: tasks_path,
        script,
        job: args.job.clone().over(earlier),
    };
    let numbers: Vec<String> = failed.iter().map(|i| format!("{i:03}")).collect();
    eprintln!(
        "ecsub-cli: rerunning the {} of {} tasks of {job} that did not succeed ({}): in the new job they are \
         tasks 000 to {:03}, in this order",
        failed.len(),
        ended.summary.tasks.len(),
        numbers.join(", "),
        failed.len() - 1
    );
    crate::push::push(args, bucket, &input)
}

/// Reads JOB's summary, submission, tasks file and script; a job that has not ended is an input error.
async fn read(layout: &JobLayout) -> anyhow::Result<Ended> {
    let ctx = connect().await?;
    let job = &layout.job_id;
    let get = |key: String| {
        let ctx = &ctx;
        async move {
            store::get(&ctx.s3, &layout.bucket, &key)
                .await
                .with_context(|| format!("reading {}", layout.url(&key)))
        }
    };
    let Some(submission) = get(layout.spec_key()).await? else {
        return Err(InputError(vec![format!(
            "--rerun-failed: no job {job} in {}",
            layout.url(&layout.job_folder())
        )])
        .into());
    };
    let Some(summary) = get(layout.summary_key()).await? else {
        return Err(InputError(vec![format!(
            "--rerun-failed: {job} has not ended (it has no summary.json yet): wait for it (ecsub-cli status \
             {job}) or cancel it (ecsub-cli cancel {job}) first"
        )])
        .into());
    };
    let tasks = get(layout.tasks_key())
        .await?
        .with_context(|| format!("{} is gone", layout.url(&layout.tasks_key())))?;
    let script = get(layout.script_key())
        .await?
        .with_context(|| format!("{} is gone", layout.url(&layout.script_key())))?;
    Ok(Ended {
        submission: serde_json::from_slice(&submission).with_context(|| {
            format!("{} is not what ecsub wrote", layout.url(&layout.spec_key()))
        })?,
        summary: serde_json::from_slice(&summary).with_context(|| {
            format!(
                "{} is not what ecsub wrote",
                layout.url(&layout.summary_key())
            )
        })?,
        tasks,
        script,
    })
}
