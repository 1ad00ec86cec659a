//! What a job is now, as the stack records it: the job's objects in the bucket (job.json, error.txt,
//! started.json, attempts/, summary.json), its execution, and the instances tagged with it.

use super::cache::RecordCache;
use crate::InputError;
use anyhow::Context as _;
use ecsub_aws::store;
use ecsub_aws::Ctx;
use ecsub_core::chain::{AttemptRecord, JobSubmission, StartedRecord, Summary, TaskRef, TAG_TASK};
use ecsub_core::{JobId, JobLayout};
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct TaskStatus {
    pub index: usize,
    pub state: String,
    pub attempts: u32,
    pub instance_type: Option<String>,
    pub spot: bool,
    pub exit_code: Option<i32>,
    pub reason: String,
    /// The CloudWatch console's page of the log of the task's last attempt (JSON only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct JobStatus {
    pub job_id: String,
    /// submitted, rejected, running, succeeded, failed, or `execution <STATUS>` when it ended without a summary.
    pub state: String,
    pub errors: Vec<String>,
    pub execution_arn: Option<String>,
    pub tasks: Vec<TaskStatus>,
    /// What the job cost, attempt by attempt (from its summary: known once the job has ended, unless it was
    /// pushed with `--skip-price`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost: Option<ecsub_core::cost::JobCost>,
}

impl JobStatus {
    pub(super) fn done(&self) -> usize {
        self.tasks.iter().filter(|t| is_final(&t.state)).count()
    }

    pub(super) fn failed(&self) -> usize {
        self.tasks
            .iter()
            .filter(|t| is_final(&t.state) && t.state != "succeeded")
            .count()
    }

    pub(super) fn finished(&self) -> bool {
        matches!(self.state.as_str(), "rejected" | "succeeded" | "failed")
            || self.state.starts_with("execution ")
    }
}

pub(super) fn is_final(state: &str) -> bool {
    matches!(
        state,
        "succeeded" | "failed" | "outputs-missing" | "interrupted" | "infrastructure-error"
    )
}

pub(super) async fn get_json<T: serde::de::DeserializeOwned>(
    ctx: &Ctx,
    layout: &JobLayout,
    key: &str,
) -> anyhow::Result<Option<T>> {
    match store::get(&ctx.s3, &layout.bucket, key).await? {
        None => Ok(None),
        Some(bytes) => Ok(Some(serde_json::from_slice(&bytes).with_context(|| {
            format!("{} is not what ecsub wrote", layout.url(key))
        })?)),
    }
}

/// A job's job.json and its options as resolved from it; a job that is not there is an input error.
pub(super) async fn job_spec(
    ctx: &Ctx,
    layout: &JobLayout,
    command: &str,
) -> anyhow::Result<(JobSubmission, ecsub_core::JobSpec)> {
    let Some(submission) = get_json::<JobSubmission>(ctx, layout, &layout.spec_key()).await? else {
        return Err(InputError(vec![format!(
            "ecsub-cli {command}: no job {} in {}",
            layout.job_id,
            layout.url(&layout.job_folder())
        )])
        .into());
    };
    let spec = submission
        .args
        .clone()
        .resolve(layout.job_id.clone())
        .map_err(|e| anyhow::anyhow!("job.json of {}: {}", layout.job_id, e.join("; ")))?;
    Ok((submission, spec))
}

/// Reads the job's attempt records not in `records` yet (key → record; each is written once and never changes):
/// one LIST per 1 000 keys, then a GET per new record, a few at a time. `true` if there were new ones.
pub(super) async fn read_records(
    ctx: &Ctx,
    layout: &JobLayout,
    records: &mut std::collections::BTreeMap<String, AttemptRecord>,
) -> anyhow::Result<bool> {
    let unread: Vec<String> = store::list(&ctx.s3, &layout.bucket, &layout.attempts_folder())
        .await?
        .into_iter()
        .filter(|key| !records.contains_key(key))
        .collect();
    let new = !unread.is_empty();
    for (key, bytes) in store::get_many(&ctx.s3, &layout.bucket, unread).await? {
        let record: AttemptRecord = serde_json::from_slice(&bytes)
            .with_context(|| format!("{} is not what ecsub wrote", layout.url(&key)))?;
        records.insert(key, record);
    }
    Ok(new)
}

/// What polling a job has read already and will not change: the job's spec, its task indices, the attempt
/// records (each written once). `--wait` keeps one across polls, so a poll reads only what is new.
#[derive(Debug, Default)]
pub struct Seen {
    submission: Option<JobSubmission>,
    indices: Option<Vec<usize>>,
    records: std::collections::BTreeMap<String, AttemptRecord>,
    /// The records an earlier `status` on this machine read (loaded once the job has started).
    cache: Option<RecordCache>,
}

pub async fn collect(ctx: &Ctx, layout: &JobLayout, seen: &mut Seen) -> anyhow::Result<JobStatus> {
    let job_id = layout.job_id.to_string();
    if seen.submission.is_none() {
        seen.submission = get_json::<JobSubmission>(ctx, layout, &layout.spec_key()).await?;
    }
    if seen.submission.is_none() {
        return Err(InputError(vec![format!(
            "ecsub-cli: no job {job_id} in {}",
            layout.url(&layout.job_folder())
        )])
        .into());
    }
    let links = Links::of(ctx, seen.submission.as_ref(), layout);
    if let Some(errors) = store::get(&ctx.s3, &layout.bucket, &layout.error_key()).await? {
        return Ok(JobStatus {
            job_id,
            state: "rejected".into(),
            errors: String::from_utf8_lossy(&errors)
                .lines()
                .map(str::to_owned)
                .collect(),
            execution_arn: None,
            tasks: Vec::new(),
            cost: None,
        });
    }
    let started = get_json::<StartedRecord>(ctx, layout, &layout.started_key()).await?;
    let execution_arn = started.as_ref().map(|s| s.execution_arn.clone());
    // The execution is asked before the summary is read: the summary is written before the execution ends, so
    // an ended execution without a summary really ended without one.
    let mut execution_status = None;
    if let Some(arn) = &execution_arn {
        if let Ok(out) = ctx.sfn.describe_execution().execution_arn(arn).send().await {
            execution_status = Some(out.status().as_str().to_owned());
        }
    }
    if let Some(summary) = get_json::<Summary>(ctx, layout, &layout.summary_key()).await? {
        return Ok(JobStatus {
            job_id,
            state: if summary.failed == 0 {
                "succeeded"
            } else {
                "failed"
            }
            .into(),
            errors: summary.job_error.into_iter().collect(),
            execution_arn,
            tasks: summary
                .tasks
                .into_iter()
                .map(|t| TaskStatus {
                    index: t.index,
                    state: t.outcome.as_str().into(),
                    attempts: t.attempts,
                    instance_type: t.instance_type,
                    spot: t.spot,
                    exit_code: t.exit_code,
                    reason: t.reason,
                    log: t.task_arn.as_deref().and_then(|arn| links.link_of(arn)),
                })
                .collect(),
            cost: summary.cost,
        });
    }
    if seen.indices.is_none() {
        // The tasks the Map runs, as submit wrote them once it started the job (a 100 000-row tasks file is not
        // read and parsed again on every `status`).
        if let Some(items) = get_json::<Vec<TaskRef>>(ctx, layout, &layout.items_key()).await? {
            seen.indices = Some(items.into_iter().map(|t| t.index).collect());
        }
    }
    let indices = seen.indices.clone().unwrap_or_default();
    // The attempt records not read yet, a few at a time: a 10 000-task job's first poll is not 10 000 GETs in a
    // row (each record is read once; `--wait` keeps what it has read across polls).
    if seen.cache.is_none() {
        if let Some(cache) = started
            .as_ref()
            .and_then(|s| RecordCache::for_job(layout, s))
        {
            seen.records.extend(cache.load());
            seen.cache = Some(cache);
        }
    }
    let new = read_records(ctx, layout, &mut seen.records).await?;
    if let (true, Some(cache)) = (new, &seen.cache) {
        cache.save(&seen.records);
    }
    // Each task's last attempt and live instance, looked up by index (a 10 000-task job is not searched
    // 10 000 times over).
    let mut last_attempts: std::collections::HashMap<usize, &AttemptRecord> =
        std::collections::HashMap::new();
    for record in seen.records.values() {
        let slot = last_attempts.entry(record.index).or_insert(record);
        if record.attempt > slot.attempt {
            *slot = record;
        }
    }
    let instances = tagged_instances(ctx, &layout.job_id).await?;
    let live_instances: std::collections::HashMap<usize, &(usize, String, String)> =
        instances.iter().map(|i| (i.0, i)).collect();
    // What ECS says of the tasks on running instances (a ListTasks and a DescribeTasks per 100 of them): joined
    // and starting (pulling the image) or running.
    let ecs_states = match (&started, instances.iter().any(|i| i.2 == "running")) {
        (Some(started), true) if !started.cluster.is_empty() => {
            ecs_states(ctx, &started.cluster).await?
        }
        _ => std::collections::HashMap::new(),
    };
    let processes = seen
        .submission
        .as_ref()
        .and_then(|s| s.args.processes)
        .unwrap_or(ecsub_core::options::DEFAULT_PROCESSES);
    let waiting_for_slot = instances.len() >= processes as usize;
    // Why launches wait, when EC2 refused some for capacity or quota (read only while a task waits for one).
    let launching = indices.iter().any(|i| {
        !live_instances.contains_key(i)
            && last_attempts
                .get(i)
                .is_none_or(|r| r.next_attempt.is_some())
    });
    let waiting = if started.is_some() && launching {
        waiting_markers(ctx, layout).await?
    } else {
        std::collections::HashMap::new()
    };
    let tasks = indices
        .iter()
        .map(|&index| {
            let last = last_attempts.get(&index).copied();
            let live = live_instances.get(&index).copied();
            match (last, live) {
                (Some(r), _) if r.next_attempt.is_none() => TaskStatus {
                    index,
                    state: r.outcome.as_str().into(),
                    attempts: r.attempt,
                    instance_type: r.instance_type.clone(),
                    spot: r.spot,
                    exit_code: r.exit_code,
                    reason: r.reason.clone(),
                    log: None,
                },
                (last, Some((_, instance_type, state))) => {
                    let (state, why) = match (state.as_str(), ecs_states.get(&index)) {
                        ("pending", _) => ("booting", "its instance is booting"),
                        (_, None) => (
                            "joining",
                            "its instance runs; its ECS agent is joining the cluster",
                        ),
                        (_, Some((ecs, _))) if ecs == "RUNNING" => ("running", ""),
                        (_, Some(_)) => (
                            "starting",
                            "ECS is pulling the image and starting the container",
                        ),
                    };
                    let retry = last.map(|r| format!("retrying after: {}", r.reason));
                    TaskStatus {
                        index,
                        state: state.into(),
                        attempts: last.map_or(1, |r| r.attempt + 1),
                        instance_type: Some(instance_type.clone()),
                        spot: false,
                        exit_code: None,
                        reason: match retry {
                            Some(retry) if why.is_empty() => retry,
                            Some(retry) => format!("{why}; {retry}"),
                            None => why.to_owned(),
                        },
                        log: None,
                    }
                }
                (Some(r), None) => TaskStatus {
                    index,
                    state: "retrying".into(),
                    attempts: r.attempt,
                    instance_type: r.instance_type.clone(),
                    spot: r.spot,
                    exit_code: r.exit_code,
                    reason: match waiting.get(&index).filter(|w| w.attempt == r.attempt + 1) {
                        Some(w) => format!("{}; after: {}", w.reason(), r.reason),
                        None => r.reason.clone(),
                    },
                    log: None,
                },
                (None, None) => TaskStatus {
                    index,
                    state: "pending".into(),
                    attempts: 0,
                    instance_type: None,
                    spot: false,
                    exit_code: None,
                    reason: if started.is_none() {
                        String::new()
                    } else if let Some(w) = waiting.get(&index).filter(|w| w.attempt == 1) {
                        w.reason()
                    } else if waiting_for_slot {
                        format!("waiting for a slot: {processes} tasks at once (--processes)")
                    } else {
                        "being launched (EC2's request limits are waited out)".to_owned()
                    },
                    log: None,
                },
            }
        })
        .collect();
    let mut tasks: Vec<TaskStatus> = tasks;
    for task in &mut tasks {
        // The attempt ECS runs now, else the last one recorded.
        let arn = ecs_states
            .get(&task.index)
            .map(|(_, arn)| arn.as_str())
            .or_else(|| {
                last_attempts
                    .get(&task.index)
                    .and_then(|r| r.task_arn.as_deref())
            });
        task.log = arn.and_then(|arn| links.link_of(arn));
    }
    let mut state = if started.is_some() {
        "running".to_owned()
    } else {
        "submitted".to_owned()
    };
    if let Some(status) = execution_status.filter(|s| s != "RUNNING") {
        state = format!("execution {status}");
    }
    Ok(JobStatus {
        job_id,
        state,
        errors: Vec::new(),
        execution_arn,
        tasks,
        cost: None,
    })
}

/// Task index → why its launch waits (`waiting/<index>.json`, written by the launch function).
async fn waiting_markers(
    ctx: &Ctx,
    layout: &JobLayout,
) -> anyhow::Result<std::collections::HashMap<usize, ecsub_core::chain::Waiting>> {
    let keys = store::list(&ctx.s3, &layout.bucket, &layout.waiting_folder()).await?;
    let mut found = std::collections::HashMap::new();
    for (key, bytes) in store::get_many(&ctx.s3, &layout.bucket, keys).await? {
        let index = key
            .rsplit('/')
            .next()
            .and_then(|name| name.strip_suffix(".json"))
            .and_then(|n| n.parse::<usize>().ok());
        if let (Some(index), Ok(waiting)) = (index, serde_json::from_slice(&bytes)) {
            found.insert(index, waiting);
        }
    }
    Ok(found)
}

/// Task index → ECS's lastStatus and task ARN of the job's tasks that ECS runs or is starting.
async fn ecs_states(
    ctx: &Ctx,
    cluster: &str,
) -> anyhow::Result<std::collections::HashMap<usize, (String, String)>> {
    let tasks =
        ecsub_aws::ecs_tasks::tasks(ctx, cluster, ecsub_aws::ecs_tasks::DesiredStatus::Running)
            .await?;
    Ok(tasks
        .iter()
        .filter_map(|t| {
            let index = ecsub_aws::ecs_tasks::env_number(t, "ECSUB_TASK_INDEX")?;
            Some((
                usize::try_from(index).ok()?,
                (
                    t.last_status().unwrap_or_default().to_owned(),
                    t.task_arn().unwrap_or_default().to_owned(),
                ),
            ))
        })
        .collect())
}

/// (task index, instance type, state) of the job's instances that are not terminated.
async fn tagged_instances(ctx: &Ctx, job: &JobId) -> anyhow::Result<Vec<(usize, String, String)>> {
    let instances =
        ecsub_aws::compute::instances(&ctx.ec2, None, Some(job), &["pending", "running"]).await?;
    Ok(instances
        .iter()
        .filter_map(|i| {
            let task = i
                .tags()
                .iter()
                .find(|t| t.key() == Some(TAG_TASK))?
                .value()?
                .parse()
                .ok()?;
            let kind = i
                .instance_type()
                .map(|t| t.as_str().to_owned())
                .unwrap_or_default();
            let state = i
                .state()
                .and_then(|s| s.name())
                .map(|n| n.as_str().to_owned())
                .unwrap_or_default();
            Some((task, kind, state))
        })
        .collect())
}

/// Console links of the job's log streams (none when its options do not resolve).
struct Links(Option<crate::job_report::Logs>);

impl Links {
    fn of(ctx: &Ctx, submission: Option<&JobSubmission>, layout: &JobLayout) -> Links {
        Links(submission.and_then(|s| {
            let spec = s.args.clone().resolve(layout.job_id.clone()).ok()?;
            Some(crate::job_report::Logs {
                region: ctx.region.clone(),
                group: spec.log_group_name,
            })
        }))
    }

    fn link_of(&self, task_arn: &str) -> Option<String> {
        let logs = self.0.as_ref()?;
        Some(logs.link(&ecsub_core::chain::log_stream(task_arn)))
    }
}
