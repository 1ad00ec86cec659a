//! `ecsub-cli push --rerun-failed JOB`: a new job of exactly the tasks of JOB that did not succeed. The new job's
//! tasks file is JOB's (from the bucket) with only those tasks' rows — its header, comments and `#ecsub:` lines
//! kept — its script is JOB's unless `--script` names another, and its options are JOB's with this command line's
//! over them. Task numbers start again at 000 in the new job; what each was in JOB is printed.

use crate::args::{JobInput, PushArgs};
use crate::remote::{connect, runtime};
use crate::InputError;
use anyhow::Context as _;
use ecsub_aws::store;
use ecsub_core::chain::{JobSubmission, Outcome, Summary};
use ecsub_core::tasks::{self, TasksFile};
use ecsub_core::{JobArgs, JobId, JobLayout};
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
    let job_id = JobId::try_from(job.to_owned())
        .map_err(|e| InputError(vec![format!("--rerun-failed: {e}")]))?;
    let layout = JobLayout::new(bucket, job_id)
        .map_err(|e| InputError(vec![format!("--aws-s3-bucket: {e}")]))?;
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
    let rows = subset(&ended.tasks, &parsed, &failed);
    let dir = std::env::temp_dir().join(format!(
        "ecsub-rerun-{}-{}",
        std::process::id(),
        crate::plan::random_suffix()
    ));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let outcome = (|| {
        let tasks_path = dir.join(file_name(name));
        std::fs::write(&tasks_path, rows)
            .with_context(|| format!("writing {}", tasks_path.display()))?;
        let script = match &args.script {
            Some(path) => path.clone(),
            None => {
                let path = dir.join("script");
                std::fs::write(&path, &ended.script)
                    .with_context(|| format!("writing {}", path.display()))?;
                path
            }
        };
        // The rows are picked already: JOB's --task-range would pick again among them.
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
    })();
    let _ = std::fs::remove_dir_all(&dir);
    outcome
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

/// A file name the tasks file can be written under (the job's name comes from it).
fn file_name(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    if base.is_empty() || base == "." || base == ".." {
        "tasks.tsv".to_owned()
    } else {
        base.to_owned()
    }
}

/// The tasks file with only the rows of the tasks in `keep`: every other line (comments, `#ecsub:` lines, the
/// header, blank lines) as it was, so the new file says what the old one said about its columns and options.
pub fn subset(bytes: &[u8], file: &TasksFile, keep: &BTreeSet<usize>) -> Vec<u8> {
    let dropped: BTreeSet<usize> = file
        .tasks
        .iter()
        .filter(|t| !keep.contains(&t.index))
        .map(|t| t.line)
        .collect();
    let mut out = Vec::with_capacity(bytes.len());
    for (n, line) in bytes.split_inclusive(|&b| b == b'\n').enumerate() {
        if !dropped.contains(&(n + 1)) {
            out.extend_from_slice(line);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_subset_keeps_the_header_options_and_comments_and_the_rows_asked_for() {
        let text = "#ecsub: --processes 2\n--env N\t--output OUT\n1\ts3://bkt/1\n# a note\n2\ts3://bkt/2\n3\ts3://bkt/3";
        let file = tasks::parse("t.tsv", text.as_bytes()).unwrap_or_else(|d| panic!("{d}"));
        let kept = subset(text.as_bytes(), &file, &BTreeSet::from([1, 2]));
        let kept = String::from_utf8(kept).unwrap_or_default();
        assert_eq!(
            kept,
            "#ecsub: --processes 2\n--env N\t--output OUT\n# a note\n2\ts3://bkt/2\n3\ts3://bkt/3"
        );
        let again = tasks::parse("t.tsv", kept.as_bytes()).unwrap_or_else(|d| panic!("{d}"));
        assert_eq!(again.tasks.len(), 2);
        assert_eq!(file_name("a/b/wordcount.tsv"), "wordcount.tsv");
        assert_eq!(file_name(".."), "tasks.tsv");
    }
}
