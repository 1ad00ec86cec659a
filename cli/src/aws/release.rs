//! `ecsub-cli release JOB [TASK]`: ends the hold of a failed task's instance kept for a look
//! (`--keep-on-failure`) before its deadline: the instance is terminated. The user's policy may terminate the
//! stack's held instances only (template.yaml: UserPolicy's `ReleaseHeld`). And what `status` shows of a hold: only
//! while its instance is still there.

use super::session::{connect, runtime};
use crate::args::ReleaseArgs;
use crate::aws::job_layout;
use ecsub_aws::compute::{instances, tag_of, terminate_all};
use ecsub_aws::hold::hold_of;
use ecsub_aws::{now_ms, Clients};
use ecsub_core::chain::hold::Hold;
use ecsub_core::chain::TAG_TASK;
use ecsub_core::status::JobStatus;
use ecsub_core::JobId;
use std::process::ExitCode;

/// The states of an instance a hold keeps (or a release ends).
const LIVE: &[&str] = &["pending", "running", "stopping", "stopped"];

pub fn release(args: &ReleaseArgs) -> anyhow::Result<ExitCode> {
    let layout = job_layout("release", &args.job, args.aws_s3_bucket.as_deref())?;
    runtime()?.block_on(async {
        let aws = connect().await?;
        let now = now_ms();
        let held: Vec<(String, String)> = instances(&aws.ec2, None, Some(&layout.job_id), LIVE)
            .await
            .map_err(|e| anyhow::anyhow!(e.message))?
            .iter()
            .filter(|i| hold_of(i, now) != Hold::No)
            .filter_map(|i| {
                let task = tag_of(i, TAG_TASK).unwrap_or("?").to_owned();
                let wanted = args.task.is_none_or(|t| t.to_string() == task);
                Some((i.instance_id()?.to_owned(), task)).filter(|_| wanted)
            })
            .collect();
        let which = args
            .task
            .map(|t| format!("task {t} of job {}", layout.job_id))
            .unwrap_or_else(|| format!("job {}", layout.job_id));
        if held.is_empty() {
            say!("ecsub-cli: no instance of {which} is held (released already, past its deadline, or never held)");
            return Ok(ExitCode::SUCCESS);
        }
        let ids: Vec<String> = held.iter().map(|(id, _)| id.clone()).collect();
        let done = terminate_all(&aws.ec2, &ids).await;
        for (id, task) in &held {
            if done.terminated.contains(id) {
                show!("released task {task}: instance {id} terminated");
            }
        }
        if let Some(error) = done.errors.first() {
            return Err(anyhow::anyhow!(
                "ecsub-cli release: {} of {} held instances of {which} not terminated: {}",
                done.left.len(),
                held.len(),
                error.message
            ));
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// Drops from `status` the holds whose instance is gone (released, or terminated at its deadline).
pub async fn still_held(aws: &Clients, job: &JobId, status: &mut JobStatus) -> anyhow::Result<()> {
    if status.tasks.iter().all(|t| t.held.is_none()) {
        return Ok(());
    }
    let now = now_ms();
    let live: Vec<String> = instances(&aws.ec2, None, Some(job), LIVE)
        .await
        .map_err(|e| anyhow::anyhow!(e.message))?
        .iter()
        .filter(|i| hold_of(i, now).is_held())
        .filter_map(|i| i.instance_id().map(str::to_owned))
        .collect();
    for task in &mut status.tasks {
        if task
            .held
            .as_ref()
            .is_some_and(|h| !live.contains(&h.instance_id))
        {
            task.held = None;
        }
    }
    Ok(())
}
