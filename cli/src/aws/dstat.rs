//! `ecsub-cli dstat` and `ddel`: dsub's views of this stack's jobs. The jobs are chosen as dsub chooses them (by id,
//! name, user, age, label), each task read as `status` reads it, and shown as dstat's rows (ecsub-core's
//! `dsub::stat`); `ddel` stops the running ones as `cancel` does.

use super::collect::{collect, Seen};
use super::records::get_json;
use super::session::{connect, runtime};
use crate::dsub::args::{Chooser, DdelArgs, DstatArgs, Format, Provider};
use crate::error::InputError;
use ecsub_aws::{execution, store, Clients};
use ecsub_core::chain::{JobSubmission, StartedRecord, Summary};
use ecsub_core::dsub::stat::{self, DStatus, Row};
use ecsub_core::status::{JobState, TaskState, TaskStatus};
use ecsub_core::{tasks, JobId, JobLayout};
use std::process::ExitCode;

/// Which jobs a dstat or ddel command line names.
struct Choice {
    work: String,
    /// `None`: every job ('*').
    jobs: Option<Vec<String>>,
    names: Vec<String>,
    /// `None`: everyone's ('*').
    users: Option<Vec<String>>,
    /// Jobs created before this (ms) are left out.
    since_ms: Option<i64>,
    labels: Vec<(String, String)>,
    tasks: Vec<String>,
}

impl Choice {
    fn of(
        command: &str,
        choose: &Chooser,
        jobs: &[String],
        names: &[String],
    ) -> Result<Choice, InputError> {
        let Chooser {
            provider,
            tasks,
            users,
            age,
            label: labels,
            aws_s3_bucket,
        } = choose;
        let (bucket, age) = (aws_s3_bucket.as_deref(), age.as_deref());
        match provider {
            Provider::Aws => {}
            Provider::Local => {
                return Err(InputError::new(format!(
                    "{command} --provider local: a local job has ended when `ecsub-cli dsub --provider local` \
                     returns; its tasks are in its report, WDIR/JOB/report.json (.ecsub/work by default)"
                )))
            }
            Provider::Google => {
                return Err(InputError::new(format!(
                    "{command} --provider google-batch: Google's jobs are dsub's own to show; here give --provider aws"
                )))
            }
        }
        let Some(work) = bucket else {
            return Err(InputError::new(format!(
                "{command}: no stack: pass --aws-s3-bucket s3://BUCKET (the stack's bucket) or set ECSUB_BUCKET"
            )));
        };
        let mut errors = Vec::new();
        let since_ms = match age.map(|a| stat::age_cutoff(a, ecsub_aws::now_ms())) {
            Some(Err(why)) => {
                errors.push(why);
                None
            }
            Some(Ok(ms)) => Some(ms),
            None => None,
        };
        let mut wanted = Vec::new();
        for label in labels {
            match label.split_once('=') {
                Some((k, v)) if !k.is_empty() => wanted.push((k.to_owned(), v.to_owned())),
                _ => errors.push(format!("--label {label}: expected KEY=VALUE")),
            }
        }
        if !errors.is_empty() {
            return Err(InputError(
                errors.into_iter().map(ecsub_core::Finding::error).collect(),
            ));
        }
        let me = crate::dsub::user_id(None);
        Ok(Choice {
            work: work.to_owned(),
            jobs: (!jobs.is_empty() && !jobs.iter().any(|j| j == "*")).then(|| jobs.to_vec()),
            names: names.to_vec(),
            users: if users.iter().any(|u| u == "*") {
                None
            } else if users.is_empty() {
                Some(vec![me])
            } else {
                Some(
                    users
                        .iter()
                        .map(|u| ecsub_core::dsub::label_chars(u))
                        .collect(),
                )
            },
            since_ms,
            labels: wanted,
            tasks: tasks.to_vec(),
        })
    }
}

/// A chosen job, read: its layout, what `status` says of it, and its rows.
struct Read {
    layout: JobLayout,
    state: JobState,
    execution_arn: Option<String>,
    /// Held by the stack until the jobs before it end (`--after`).
    parked: bool,
    rows: Vec<Row>,
}

/// The jobs `choice` names, each with every task's row (before the task filters).
async fn read_jobs(aws: &Clients, choice: &Choice) -> anyhow::Result<Vec<Read>> {
    let (bucket, prefix) = JobLayout::work(&choice.work)
        .map_err(|e| InputError::new(format!("--aws-s3-bucket: {e}")))?;
    let ids: Vec<String> = match &choice.jobs {
        Some(ids) => ids.clone(),
        None => super::ls::job_ids(aws, &bucket, &prefix).await?,
    };
    let now = ecsub_core::time::rfc3339_of_ms(ecsub_aws::now_ms());
    let mut out = Vec::new();
    for id in ids {
        let Ok(job_id) = JobId::try_from(id.clone()) else {
            say!("ecsub-cli: {id}: not a job id of this stack; left out");
            continue;
        };
        let layout = JobLayout::new(&choice.work, job_id)
            .map_err(|e| InputError::new(format!("--aws-s3-bucket: {e}")))?;
        let Some(submission) = get_json::<JobSubmission>(aws, &layout, &layout.spec_key()).await?
        else {
            if choice.jobs.is_some() {
                say!(
                    "ecsub-cli: no job {id} in {}",
                    layout.url(&layout.job_folder())
                );
            }
            continue;
        };
        let tag = |key: &str| {
            submission
                .args
                .tags
                .iter()
                .find_map(|t| t.strip_prefix(&format!("{key}=")).map(str::to_owned))
        };
        let parts = stat::id_parts(&id);
        let user = tag("dsub-user-id").or_else(|| parts.map(|(_, u)| u.to_owned()));
        let name = tag("dsub-job-name").unwrap_or_else(|| {
            id.rsplit_once('-')
                .map_or(id.clone(), |(n, _)| n.to_owned())
        });
        if let Some(users) = &choice.users {
            if !user.as_ref().is_some_and(|u| users.contains(u)) {
                continue;
            }
        }
        if !choice.names.is_empty() && !choice.names.contains(&name) {
            continue;
        }
        let started = get_json::<StartedRecord>(aws, &layout, &layout.started_key()).await?;
        let created_ms = started
            .as_ref()
            .and_then(|s| ecsub_core::time::rfc3339_ms(&s.started_at));
        if let (Some(since), Some(created)) = (choice.since_ms, created_ms) {
            if created < since {
                continue;
            }
        }
        let status = collect(aws, &layout, &mut Seen::default()).await?;
        let summary = if status.state.finished() {
            get_json::<Summary>(aws, &layout, &layout.summary_key()).await?
        } else {
            None
        };
        let file = match store::get_at_most(
            &aws.s3,
            &layout.bucket,
            &layout.tasks_key(),
            tasks::MAX_FILE_BYTES,
        )
        .await?
        {
            store::Bounded::Bytes(bytes) => tasks::parse(&submission.tasks_file, &bytes).ok(),
            store::Bounded::Missing | store::Bounded::TooLarge(_) => None,
        };
        let parked = super::collect::parked(&status);
        let job = stat::Job {
            job_id: id.clone(),
            job_name: name,
            user_id: user.unwrap_or_default(),
            create_time: started.as_ref().map(|s| s.started_at.clone()),
            end_time: summary.map(|s| s.finished_at),
            logging: submission.args.logging.clone(),
            internal_id: status.execution_arn.clone(),
            script_name: None,
            refused: (status.state == JobState::Rejected).then(|| status.errors.join("; ")),
        };
        // A job refused or parked has no task of the stack's yet: its rows are its tasks file's (selected) rows,
        // FAILURE with the refusal, or RUNNING with what it waits for.
        let waiting: Vec<TaskStatus>;
        let tasks_of: &[TaskStatus] =
            if status.tasks.is_empty() && (parked || job.refused.is_some()) {
                let range = submission
                    .args
                    .task_range
                    .and_then(|r| file.as_ref().and_then(|f| r.select(f.tasks.len()).ok()));
                waiting = file
                    .iter()
                    .flat_map(|f| f.tasks.iter())
                    .filter(|t| range.as_ref().is_none_or(|r| r.contains(&t.index)))
                    .map(|t| TaskStatus {
                        index: t.index,
                        state: TaskState::Pending,
                        attempts: 0,
                        instance_type: None,
                        spot: false,
                        exit_code: None,
                        reason: status.notes.join("; "),
                        log: None,
                        held: None,
                    })
                    .collect();
                &waiting
            } else {
                &status.tasks
            };
        let rows = tasks_of
            .iter()
            .map(|t| stat::row(&job, t, file.as_ref(), &now))
            .collect();
        out.push(Read {
            layout,
            state: status.state,
            execution_arn: status.execution_arn,
            parked,
            rows,
        });
    }
    Ok(out)
}

/// The rows of `read` the task filters keep.
fn kept<'a>(
    read: &'a [Read],
    choice: &'a Choice,
    statuses: Option<&'a [DStatus]>,
) -> impl Iterator<Item = &'a Row> {
    read.iter().flat_map(|r| &r.rows).filter(move |row| {
        statuses.is_none_or(|s| s.contains(&row.status))
            && (choice.tasks.is_empty() || choice.tasks.contains(&row.task_id))
            && stat::labels_match(row, &choice.labels)
    })
}

pub fn dstat(args: &DstatArgs) -> anyhow::Result<ExitCode> {
    let choice = Choice::of("dstat", &args.choose, &args.jobs, &args.names)?;
    let statuses = DStatus::parse_filter(&args.status).map_err(InputError::new)?;
    let format = args.format.unwrap_or(if args.full {
        Format::Yaml
    } else {
        Format::Text
    });
    runtime()?.block_on(async {
        let aws = connect().await?;
        loop {
            let read = read_jobs(&aws, &choice).await?;
            let mut rows: Vec<&Row> = kept(&read, &choice, statuses.as_deref()).collect();
            if args.limit > 0 {
                rows.truncate(args.limit);
            }
            print_rows(&rows, args.full, args.summary, format)?;
            if !args.wait || !rows.iter().any(|r| r.status == DStatus::Running) {
                return Ok(ExitCode::SUCCESS);
            }
            tokio::time::sleep(std::time::Duration::from_secs(args.poll_interval.max(1))).await;
        }
    })
}

fn print_rows(rows: &[&Row], full: bool, summary: bool, format: Format) -> anyhow::Result<()> {
    let owned: Vec<Row> = rows.iter().map(|r| (*r).clone()).collect();
    let value = if summary {
        serde_json::to_value(stat::summary(&owned))?
    } else if full {
        serde_json::to_value(&owned)?
    } else {
        // dstat's default fields.
        serde_json::Value::Array(
            owned
                .iter()
                .map(|r| {
                    serde_json::json!({
                        "job-name": r.job_name, "task-id": r.task_id,
                        "last-update": r.last_update, "status-message": r.status_message,
                    })
                })
                .collect(),
        )
    };
    match format {
        Format::Json => show!("{}", serde_json::to_string_pretty(&value)?),
        Format::Yaml => show_inline!("{}", stat::yaml(&value)),
        Format::Text if summary => {
            show!("Job Name  Status  Task Count");
            for s in value.as_array().into_iter().flatten() {
                show!(
                    "{}  {}  {}",
                    s["job-name"].as_str().unwrap_or(""),
                    s["status"].as_str().unwrap_or(""),
                    s["task-count"]
                );
            }
        }
        Format::Text => show_inline!("{}", stat::text_table(&owned)),
    }
    Ok(())
}

pub fn ddel(args: &DdelArgs) -> anyhow::Result<ExitCode> {
    let choice = Choice::of("ddel", &args.choose, &args.jobs, &[])?;
    if !args.choose.tasks.is_empty() {
        return Err(InputError::new(
            "ddel --tasks: a job of this stack is stopped whole; give its --jobs (its tasks that ended stay as they \
             ended)",
        )
        .into());
    }
    runtime()?.block_on(async {
        let aws = connect().await?;
        let read = read_jobs(&aws, &choice).await?;
        say!("Delete running jobs:");
        let (mut jobs, mut tasks) = (0, 0);
        for job in &read {
            if job.parked {
                if super::cancel::cancel_parked(&aws, &job.layout).await? {
                    say!(
                        "  {}: cancelled while it waited (--after)",
                        job.layout.job_id
                    );
                    jobs += 1;
                    tasks += job.rows.len();
                }
                continue;
            }
            let running = job
                .rows
                .iter()
                .filter(|r| r.status == DStatus::Running && stat::labels_match(r, &choice.labels))
                .count();
            if job.state.finished() || running == 0 {
                continue;
            }
            let Some(arn) = &job.execution_arn else {
                say!(
                    "  {}: not started yet by the stack; try again in a moment",
                    job.layout.job_id
                );
                continue;
            };
            execution::stop(&aws.sfn, arn, "Ecsub.Cancelled", "cancelled with ddel")
                .await
                .map_err(|e| anyhow::anyhow!(e.message))?;
            say!(
                "  {}: {running} running task(s) stopped; the stack terminates their instances",
                job.layout.job_id
            );
            jobs += 1;
            tasks += running;
        }
        show!(
            "{jobs} job{} deleted{}",
            if jobs == 1 { "" } else { "s" },
            if tasks > 0 {
                format!(" ({tasks} task{})", if tasks == 1 { "" } else { "s" })
            } else {
                String::new()
            }
        );
        Ok(ExitCode::SUCCESS)
    })
}
