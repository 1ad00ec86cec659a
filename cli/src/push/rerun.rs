//! `ecsub-cli push --rerun-failed JOB`: a new job of exactly the tasks of JOB that did not succeed. Its tasks file
//! is JOB's (from the bucket) with only those tasks' rows (`subset`), its script is JOB's unless `--script` names
//! another, and its options are JOB's with this command line's over them. Task numbers start again at 000 in the
//! new job; what each was in JOB is printed.

use super::subset;
use crate::args::PushArgs;
use crate::aws::{self, job_layout};
use crate::plan::{read_script, Source};
use ecsub_core::chain::Outcome;
use ecsub_core::tasks;
use ecsub_core::JobArgs;
use std::collections::BTreeSet;

/// What the new job is made of; `None` (said on stdout) when every task of JOB succeeded.
pub fn failed_rows(args: &PushArgs, bucket: &str, job: &str) -> anyhow::Result<Option<Source>> {
    let layout = job_layout("push --rerun-failed", job, Some(bucket))?;
    let ended = aws::ended_job(&layout)?;
    let failed: BTreeSet<usize> = ended
        .summary
        .tasks
        .iter()
        .filter(|t| t.outcome != Outcome::Succeeded)
        .map(|t| t.index)
        .collect();
    if failed.is_empty() {
        show!("every task of {job} succeeded: nothing to rerun");
        return Ok(None);
    }
    let name = &ended.submission.tasks_file;
    let parsed = tasks::parse(name, &ended.tasks).map_err(|d| {
        anyhow::anyhow!(
            "{}: the job's tasks file no longer parses: {d}",
            layout.url(&layout.tasks_key())
        )
    })?;
    let script = match &args.script {
        Some(path) => read_script(path),
        None => Ok(ended.script),
    };
    // JOB's options as job.json holds them (its file's `#ecsub:` lines merged in), without its --task-range: the
    // rows are picked already.
    let earlier = JobArgs {
        task_range: None,
        ..ended.submission.args.clone()
    };
    let numbers: Vec<String> = failed.iter().map(|i| format!("{i:03}")).collect();
    say!(
        "ecsub-cli: rerunning the {} of {} tasks of {job} that did not succeed ({}): in the new job they are \
         tasks 000 to {:03}, in this order",
        failed.len(),
        ended.summary.tasks.len(),
        numbers.join(", "),
        failed.len() - 1
    );
    Ok(Some(Source {
        tasks_name: name.clone(),
        tasks_bytes: subset::rows(&ended.tasks, &parsed, &failed),
        script,
        typed: args.job.clone().over(earlier),
    }))
}
