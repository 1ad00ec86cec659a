//! `ecsub-cli report JOB`: reads a job's attempt records (one LIST per 1 000, a GET each, a few at a time), its
//! summary (prices, when it has ended) and the sizes of its instance types (one DescribeInstanceTypes), and prints
//! the [`rows`] — or writes their HTML page ([`html`]).

mod groups;
mod html;
mod rows;

pub use rows::Logs;

use super::records::{get_json, job_spec, read_records};
use super::session::{connect, runtime};
use crate::args::{ReportArgs, ReportOutput};
use crate::aws::job_layout;
use crate::error::InputError;
use anyhow::Context as _;
use ecsub_aws::{compute, store, Clients};
use ecsub_core::chain::{AttemptRecord, StartedRecord, Summary, BASE_DISK_GIB};
use ecsub_core::status::JobState;
use ecsub_core::tasks;
use ecsub_core::JobLayout;
use std::collections::BTreeMap;
use std::process::ExitCode;

pub fn report(args: &ReportArgs) -> anyhow::Result<ExitCode> {
    let layout = job_layout("report", &args.job, args.aws_s3_bucket.as_deref())?;
    runtime()?.block_on(async {
        let aws = connect().await?;
        let (submission, spec) = job_spec(&aws, &layout, "report").await?;
        let records = records(&aws, &layout).await?;
        let summary = get_json::<Summary>(&aws, &layout, &layout.summary_key()).await?;
        let sizes = sizes(&aws, &records).await;
        // The log group as the job's start named it (a job that never started has no logs to link).
        let started = get_json::<StartedRecord>(&aws, &layout, &layout.started_key()).await?;
        let logs = Logs {
            region: aws.region.clone(),
            group: started.map(|s| s.log_group).unwrap_or_default(),
        };
        let job_id = layout.job_id.to_string();
        let disk = BASE_DISK_GIB.saturating_add(spec.disk_size);
        let mut rows = rows::rows(&job_id, &records, summary.as_ref(), &sizes, disk, &logs);
        if let Some(column) = &args.sortby {
            rows::sort(&mut rows, column).map_err(InputError::new)?;
        }
        let skipped = (!submission.skipped.is_empty()).then(|| {
            let numbers: Vec<String> =
                submission.skipped.iter().map(|i| format!("{i:03}")).collect();
            format!(
                "skipped by --skip-existing (every output existed), in the tasks file as pushed: {}",
                numbers.join(", ")
            )
        });
        if let Some(path) = &args.html {
            let mut totals = totals(&job_id, &records, summary.as_ref());
            totals.skipped = submission.skipped.len();
            std::fs::write(path, html::page(&totals, &rows))
                .with_context(|| format!("writing {}", path.display()))?;
            say!(
                "ecsub-cli: {} attempts of {} tasks: {}",
                rows.len(),
                totals.outcomes.len(),
                path.display()
            );
        }
        let totals = job_totals(&aws, &layout, &spec, summary.as_ref()).await?;
        if args.totals {
            show_inline!("{}", groups::render(&totals, args.output));
            return Ok(ExitCode::SUCCESS);
        }
        if let Some(line) = &skipped {
            if args.output == ReportOutput::Text {
                show!("{line}");
            } else {
                say!("ecsub-cli: {line}");
            }
        }
        match args.output {
            ReportOutput::Text => {
                show_inline!("{}", rows::text(&rows));
                if !totals.by_label.is_empty() || !totals.by_tag.is_empty() {
                    show_inline!("{}", groups::render(&totals, ReportOutput::Text));
                }
            }
            ReportOutput::Tsv => show_inline!("{}", rows::tsv(&rows)),
            ReportOutput::Json => show!("{}", serde_json::to_string_pretty(&rows)?),
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// The job's cost by `--label` value and under its `--tag`s; a job not priced yet says why instead.
async fn job_totals(
    aws: &Clients,
    layout: &JobLayout,
    spec: &ecsub_core::JobSpec,
    summary: Option<&Summary>,
) -> anyhow::Result<groups::Totals> {
    let mut totals = groups::Totals {
        job: layout.job_id.to_string(),
        usd: None,
        by_label: Vec::new(),
        by_tag: Vec::new(),
        note: None,
    };
    let cost = match summary {
        None => {
            totals.note = Some("the job has not ended: it is priced when it ends".to_owned());
            return Ok(totals);
        }
        Some(s) => match &s.cost {
            None => {
                totals.note = Some("the job was not priced (--skip-price)".to_owned());
                return Ok(totals);
            }
            Some(cost) => cost,
        },
    };
    totals.usd = Some(cost.usd);
    totals.by_tag = ecsub_core::cost::groups::by_tag(&spec.tags, cost);
    let key = layout.tasks_key();
    let file =
        match store::get_at_most(&aws.s3, &layout.bucket, &key, tasks::MAX_FILE_BYTES).await? {
            store::Bounded::Bytes(bytes) => tasks::parse(&layout.url(&key), &bytes).ok(),
            _ => None,
        };
    match file {
        Some(file) => totals.by_label = ecsub_core::cost::groups::by_label(&file, cost),
        None => say!(
            "ecsub-cli: no cost by --label: {} is gone or not a tasks file",
            layout.url(&key)
        ),
    }
    Ok(totals)
}

/// Every attempt record of the job.
async fn records(aws: &Clients, layout: &JobLayout) -> anyhow::Result<Vec<AttemptRecord>> {
    let mut records = BTreeMap::new();
    read_records(aws, layout, &mut records).await?;
    Ok(records.into_values().collect())
}

/// The vCPUs and memory of the instance types the attempts ran on; empty (and said on stderr) when EC2 will not
/// tell.
async fn sizes(aws: &Clients, records: &[AttemptRecord]) -> BTreeMap<String, rows::Size> {
    let types: std::collections::BTreeSet<String> = records
        .iter()
        .filter_map(|r| r.instance_type.clone())
        .collect();
    if types.is_empty() {
        return BTreeMap::new();
    }
    let types: Vec<String> = types.into_iter().collect();
    match compute::describe_types(&aws.ec2, &types).await {
        Ok(described) => described
            .into_iter()
            .filter_map(|t| {
                let size = rows::Size {
                    vcpus: t.vcpus?,
                    memory_mib: t.memory_mib?,
                };
                Some((t.name, size))
            })
            .collect(),
        Err(e) => {
            say!("ecsub-cli: no cpu and memory figures: {}", e.message);
            BTreeMap::new()
        }
    }
}

/// The job's totals: each task's last attempt decides it (the summary's word once the job has ended).
fn totals(job_id: &str, records: &[AttemptRecord], summary: Option<&Summary>) -> html::Totals {
    let mut outcomes: BTreeMap<usize, (u32, String)> = BTreeMap::new();
    for r in records {
        let entry = outcomes
            .entry(r.index)
            .or_insert((r.attempt, r.outcome.as_str().to_owned()));
        if r.attempt >= entry.0 {
            *entry = (r.attempt, r.outcome.as_str().to_owned());
        }
    }
    let mut outcomes: BTreeMap<usize, String> =
        outcomes.into_iter().map(|(i, (_, o))| (i, o)).collect();
    let state = match summary {
        Some(s) => {
            for t in &s.tasks {
                outcomes.insert(t.index, t.outcome.as_str().to_owned());
            }
            if s.failed == 0 {
                JobState::Succeeded
            } else {
                JobState::Failed
            }
        }
        None => JobState::Running,
    };
    html::Totals {
        job_id: job_id.to_owned(),
        state: state.to_string(),
        outcomes,
        usd: summary.and_then(|s| s.cost.as_ref()).map(|c| c.usd),
        skipped: 0,
    }
}
