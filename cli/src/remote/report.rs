//! `ecsub-cli report JOB`: reads a job's attempt records (one LIST per 1 000, a GET each, a few at a time), its
//! summary (prices, when it has ended) and the sizes of its instance types (one DescribeInstanceTypes), and prints
//! the rows of `job_report` — or writes its HTML page.

use super::collect::get_json;
use super::{connect, job_layout, runtime};
use crate::args::{ReportArgs, ReportOutput};
use crate::job_report::{self, html, Logs, Size};
use crate::InputError;
use anyhow::Context as _;
use ecsub_aws::Ctx;
use ecsub_core::chain::{AttemptRecord, Summary, BASE_DISK_GIB};
use ecsub_core::JobLayout;
use std::collections::BTreeMap;
use std::process::ExitCode;

pub fn report(args: &ReportArgs) -> anyhow::Result<ExitCode> {
    let layout = job_layout("report", &args.job, args.aws_s3_bucket.as_deref())?;
    runtime()?.block_on(async {
        let ctx = connect().await?;
        let (submission, spec) = super::collect::job_spec(&ctx, &layout, "report").await?;
        let records = records(&ctx, &layout).await?;
        let summary = get_json::<Summary>(&ctx, &layout, &layout.summary_key()).await?;
        let sizes = sizes(&ctx, &records).await;
        let logs = Logs {
            region: ctx.region.clone(),
            group: spec.log_group_name.clone(),
        };
        let job_id = layout.job_id.to_string();
        let disk = BASE_DISK_GIB.saturating_add(spec.disk_size);
        let mut rows = job_report::rows(&job_id, &records, summary.as_ref(), &sizes, disk, &logs);
        if let Some(column) = &args.sortby {
            job_report::sort(&mut rows, column).map_err(|e| InputError(vec![e]))?;
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
            eprintln!(
                "ecsub-cli: {} attempts of {} tasks: {}",
                rows.len(),
                totals.outcomes.len(),
                path.display()
            );
        }
        if let Some(line) = &skipped {
            if args.output == ReportOutput::Text {
                println!("{line}");
            } else {
                eprintln!("ecsub-cli: {line}");
            }
        }
        match args.output {
            ReportOutput::Text => print!("{}", job_report::text(&rows)),
            ReportOutput::Tsv => print!("{}", job_report::tsv(&rows)),
            ReportOutput::Json => println!("{}", serde_json::to_string_pretty(&rows)?),
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// Every attempt record of the job.
async fn records(ctx: &Ctx, layout: &JobLayout) -> anyhow::Result<Vec<AttemptRecord>> {
    let mut records = BTreeMap::new();
    super::collect::read_records(ctx, layout, &mut records).await?;
    Ok(records.into_values().collect())
}

/// The vCPUs and memory of the instance types the attempts ran on; empty (and said on stderr) when EC2 will not
/// tell.
async fn sizes(ctx: &Ctx, records: &[AttemptRecord]) -> BTreeMap<String, Size> {
    let types: std::collections::BTreeSet<&str> = records
        .iter()
        .filter_map(|r| r.instance_type.as_deref())
        .collect();
    let mut sizes = BTreeMap::new();
    if types.is_empty() {
        return sizes;
    }
    let asked = ctx
        .ec2
        .describe_instance_types()
        .set_instance_types(Some(
            types
                .iter()
                .map(|t| aws_sdk_ec2::types::InstanceType::from(*t))
                .collect(),
        ))
        .send()
        .await;
    match asked {
        Ok(out) => {
            for t in out.instance_types() {
                if let (Some(name), Some(vcpus), Some(memory)) = (
                    t.instance_type(),
                    t.v_cpu_info().and_then(|v| v.default_v_cpus()),
                    t.memory_info().and_then(|m| m.size_in_mib()),
                ) {
                    sizes.insert(
                        name.as_str().to_owned(),
                        Size {
                            vcpus: u32::try_from(vcpus).unwrap_or(0),
                            memory_mib: u64::try_from(memory).unwrap_or(0),
                        },
                    );
                }
            }
        }
        Err(e) => eprintln!(
            "ecsub-cli: no cpu and memory figures: DescribeInstanceTypes: {}",
            ecsub_aws::error::describe(&e)
        ),
    }
    sizes
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
            if s.failed == 0 { "succeeded" } else { "failed" }.to_owned()
        }
        None => "running".to_owned(),
    };
    html::Totals {
        job_id: job_id.to_owned(),
        state,
        outcomes,
        usd: summary.and_then(|s| s.cost.as_ref()).map(|c| c.usd),
        skipped: 0,
    }
}
