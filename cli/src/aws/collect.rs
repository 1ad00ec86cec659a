//! What a job is now, read from what the stack records: the job's objects in the bucket (job.json, error.txt,
//! started.json, attempts/, waiting/, summary.json), its execution, the instances tagged with it and the tasks
//! ECS runs. What those facts mean — each task's state and why — is ecsub-core's [`status`](ecsub_core::status).

use super::cache::RecordCache;
use super::records::{get_json, read_records};
use super::report::Logs;
use crate::error::InputError;
use ecsub_aws::compute::{self, state_of, tag_of};
use ecsub_aws::ecs_tasks::{self, DesiredStatus};
use ecsub_aws::{execution, store, Clients};
use ecsub_core::chain::after::AfterRecord;
use ecsub_core::chain::{
    AttemptRecord, JobSubmission, StartedRecord, Summary, TaskRef, Waiting, TAG_TASK,
};
use ecsub_core::status::{
    awaits_launch, running_job_state, task_status, JobFacts, JobStatus, LiveInstance, TaskFacts,
};
use ecsub_core::{JobId, JobLayout};
use std::collections::{BTreeMap, HashMap};

/// What polling a job has read already and will not change: the job's spec, its task indices, the attempt
/// records (each written once). `--wait` keeps one across polls, so a poll reads only what is new.
#[derive(Debug, Default)]
pub struct Seen {
    submission: Option<JobSubmission>,
    indices: Option<Vec<usize>>,
    records: BTreeMap<String, AttemptRecord>,
    /// The records an earlier `status` on this machine read (loaded once the job has started).
    cache: Option<RecordCache>,
}

/// One of the job's instances that is not terminated.
struct Tagged {
    task: usize,
    instance_type: String,
    state: String,
}

pub async fn collect(
    aws: &Clients,
    layout: &JobLayout,
    seen: &mut Seen,
) -> anyhow::Result<JobStatus> {
    let job_id = layout.job_id.to_string();
    if seen.submission.is_none() {
        seen.submission = get_json::<JobSubmission>(aws, layout, &layout.spec_key()).await?;
    }
    let Some(submission) = &seen.submission else {
        return Err(InputError::new(format!(
            "ecsub-cli: no job {job_id} in {}",
            layout.url(&layout.job_folder())
        ))
        .into());
    };
    if let Some(status) = refused(aws, layout, &job_id).await? {
        return Ok(status);
    }
    let started = get_json::<StartedRecord>(aws, layout, &layout.started_key()).await?;
    let links = Links::of(aws, started.as_ref());
    let execution_arn = started.as_ref().map(|s| s.execution_arn.clone());
    // The execution is asked before the summary is read: the summary is written before the execution ends, so
    // an ended execution without a summary really ended without one.
    let mut execution_status = None;
    if let Some(arn) = &execution_arn {
        execution_status = execution::status(&aws.sfn, arn).await.ok().flatten();
    }
    if let Some(summary) = get_json::<Summary>(aws, layout, &layout.summary_key()).await? {
        let log_of: HashMap<usize, String> = summary
            .tasks
            .iter()
            .filter_map(|t| Some((t.index, links.link_of(t.task_arn.as_deref()?)?)))
            .collect();
        let mut status = JobStatus::ended(summary, execution_arn);
        for task in &mut status.tasks {
            task.log = log_of.get(&task.index).cloned();
        }
        return Ok(status);
    }
    if execution_status.as_deref().is_some_and(|s| s != "RUNNING") {
        // Ended without a summary: a refused job whose execution a copy of its event had started, and the refusal
        // stopped (error.txt is written before the stop, and may have come after the read above).
        if let Some(status) = refused(aws, layout, &job_id).await? {
            return Ok(status);
        }
    }
    if seen.indices.is_none() {
        // The tasks the Map runs, as submit wrote them once it started the job (a 100 000-row tasks file is not
        // read and parsed again on every `status`).
        if let Some(items) = get_json::<Vec<TaskRef>>(aws, layout, &layout.items_key()).await? {
            seen.indices = Some(items.into_iter().map(|t| t.index).collect());
        }
    }
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
    if read_records(aws, layout, &mut seen.records).await? {
        if let Some(cache) = &seen.cache {
            cache.save(&seen.records);
        }
    }
    // Each task's last attempt and live instance, looked up by index (a 10 000-task job is not searched
    // 10 000 times over).
    let mut last_attempts: HashMap<usize, &AttemptRecord> = HashMap::new();
    for record in seen.records.values() {
        let slot = last_attempts.entry(record.index).or_insert(record);
        if record.attempt > slot.attempt {
            *slot = record;
        }
    }
    let instances = tagged_instances(aws, &layout.job_id).await?;
    let live: HashMap<usize, LiveInstance<'_>> = instances
        .iter()
        .map(|i| {
            let instance = LiveInstance {
                instance_type: &i.instance_type,
                booting: i.state == "pending",
            };
            (i.task, instance)
        })
        .collect();
    // What ECS says of the tasks on running instances (a ListTasks and a DescribeTasks per 100 of them): joined
    // and starting (pulling the image) or running.
    let ecs = match (&started, instances.iter().any(|i| i.state == "running")) {
        (Some(started), true) if !started.cluster.is_empty() => {
            ecs_states(aws, &started.cluster).await?
        }
        _ => HashMap::new(),
    };
    // The resolved `--processes` (its default when job.json leaves it out).
    let processes = submission
        .args
        .clone()
        .resolve(layout.job_id.clone())
        .map_or(ecsub_core::options::DEFAULT_PROCESSES, |spec| {
            spec.processes
        });
    let job = JobFacts {
        started: started.is_some(),
        processes,
        slots_full: instances.len() >= processes as usize,
    };
    let indices = seen.indices.clone().unwrap_or_default();
    let known = Known {
        last_attempts: &last_attempts,
        live: &live,
        ecs: &ecs,
    };
    // Why launches wait, when EC2 refused some for capacity or quota (read only while a task waits for one).
    let launching = indices
        .iter()
        .any(|&i| awaits_launch(&known.facts(i, None)));
    let waiting = if job.started && launching {
        waiting_markers(aws, layout).await?
    } else {
        HashMap::new()
    };
    let tasks = indices
        .iter()
        .map(|&index| {
            let mut status = task_status(index, &known.facts(index, waiting.get(&index)), &job);
            // The attempt ECS runs now, else the last one recorded.
            let arn = ecs.get(&index).map(|(_, arn)| arn.as_str()).or_else(|| {
                last_attempts
                    .get(&index)
                    .and_then(|r| r.task_arn.as_deref())
            });
            status.log = arn.and_then(|arn| links.link_of(arn));
            status
        })
        .collect();
    Ok(JobStatus {
        job_id,
        state: running_job_state(job.started, execution_status.as_deref()),
        errors: Vec::new(),
        execution_arn,
        tasks,
        cost: None,
        notes: match started {
            Some(s) => s.notes,
            None => waiting_after(aws, layout).await?,
        },
    })
}

/// A job the stack parked (`--after`): what it waits for, as a note, while it has not started.
async fn waiting_after(aws: &Clients, layout: &JobLayout) -> anyhow::Result<Vec<String>> {
    Ok(get_json::<AfterRecord>(aws, layout, &layout.after_key())
        .await?
        .map(|after| {
            let ids: Vec<String> = after.waiting_for.iter().map(ToString::to_string).collect();
            vec![format!(
                "{AFTER_NOTE} {} to succeed (--after), since {}",
                ids.join(", "),
                after.since
            )]
        })
        .unwrap_or_default())
}

/// How a parked job's note starts (`push --wait` waits for it without a pickup timeout).
pub const AFTER_NOTE: &str = "waiting for job(s)";

/// Is the job parked by the stack until the jobs before it end (`--after`)?
pub fn parked(status: &JobStatus) -> bool {
    status.state == ecsub_core::status::JobState::Submitted
        && status.notes.iter().any(|n| n.starts_with(AFTER_NOTE))
}

/// The job refused, if its `error.txt` says so.
async fn refused(
    aws: &Clients,
    layout: &JobLayout,
    job_id: &str,
) -> anyhow::Result<Option<JobStatus>> {
    let Some(errors) = store::get(&aws.s3, &layout.bucket, &layout.error_key()).await? else {
        return Ok(None);
    };
    let lines = String::from_utf8_lossy(&errors)
        .lines()
        .map(str::to_owned)
        .collect();
    Ok(Some(JobStatus::rejected(job_id.to_owned(), lines)))
}

/// What was read of each task, by index.
struct Known<'a> {
    last_attempts: &'a HashMap<usize, &'a AttemptRecord>,
    live: &'a HashMap<usize, LiveInstance<'a>>,
    ecs: &'a HashMap<usize, (String, String)>,
}

impl<'a> Known<'a> {
    fn facts<'b>(&self, index: usize, waiting: Option<&'b Waiting>) -> TaskFacts<'b>
    where
        'a: 'b,
    {
        TaskFacts {
            last: self.last_attempts.get(&index).copied(),
            instance: self.live.get(&index).copied(),
            ecs: self.ecs.get(&index).map(|(state, _)| state.as_str()),
            waiting,
        }
    }
}

/// Task index → why its launch waits (`waiting/<index>.json`, written by the launch function).
async fn waiting_markers(
    aws: &Clients,
    layout: &JobLayout,
) -> anyhow::Result<HashMap<usize, Waiting>> {
    let keys = store::list(&aws.s3, &layout.bucket, &layout.waiting_folder()).await?;
    let mut found = HashMap::new();
    for (key, bytes) in store::get_many(&aws.s3, &layout.bucket, keys).await? {
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
    aws: &Clients,
    cluster: &str,
) -> anyhow::Result<HashMap<usize, (String, String)>> {
    let tasks = ecs_tasks::tasks(&aws.ecs, cluster, DesiredStatus::Running).await?;
    Ok(tasks
        .into_iter()
        .filter_map(|t| {
            let env = t.task_env().ok()??;
            Some((env.index, (t.last_status, t.task_arn)))
        })
        .collect())
}

/// The job's instances that are not terminated, with their task.
async fn tagged_instances(aws: &Clients, job: &JobId) -> anyhow::Result<Vec<Tagged>> {
    let instances = compute::instances(&aws.ec2, None, Some(job), &["pending", "running"]).await?;
    Ok(instances
        .iter()
        .filter_map(|i| {
            Some(Tagged {
                task: tag_of(i, TAG_TASK)?.parse().ok()?,
                instance_type: i
                    .instance_type()
                    .map(|t| t.as_str().to_owned())
                    .unwrap_or_default(),
                state: state_of(i).to_owned(),
            })
        })
        .collect())
}

/// Console links of the job's log streams, in the log group its start named (none before it started).
struct Links(Option<Logs>);

impl Links {
    fn of(aws: &Clients, started: Option<&StartedRecord>) -> Links {
        Links(started.map(|s| Logs {
            region: aws.region.clone(),
            group: s.log_group.clone(),
        }))
    }

    fn link_of(&self, task_arn: &str) -> Option<String> {
        let logs = self.0.as_ref()?;
        Some(logs.link(&ecsub_core::chain::log_stream(task_arn)))
    }
}
