//! The `janitor` function: nothing tagged with a dead job keeps running. It handles
//! - Step Functions "Execution Status Change" events for an execution that ended FAILED, ABORTED or TIMED_OUT
//!   (a cancel, a timeout, a bug): the job is closed as `finalize` would have (instances terminated, cluster
//!   removed, `summary.json` written, unfinished tasks said to have been cut short);
//! - a periodic sweep: every instance tagged `ecsub:job` whose job's execution is not running is terminated.

use crate::compute::terminate;
use crate::ctx::Ctx;
use crate::error::{code, FnError};
use crate::events::EventBridgeEvent;
use crate::finalize::close_job;
use aws_sdk_ec2::types::Filter;
use ecsub_core::chain::{ExecutionInput, TAG_JOB};
use lambda_runtime::LambdaEvent;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use tracing::{info, warn};

/// `detail` of a "Step Functions Execution Status Change" event.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ExecutionDetail {
    #[serde(default)]
    execution_arn: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    input: Option<String>,
}

pub async fn handle(ctx: &Ctx, event: LambdaEvent<Value>) -> Result<Value, FnError> {
    let event: EventBridgeEvent<Value> = serde_json::from_value(event.payload)
        .map_err(|e| FnError::invalid_input(format!("not an EventBridge event: {e}")))?;
    match (event.source.as_str(), event.detail_type.as_str()) {
        ("aws.states", "Step Functions Execution Status Change") => {
            let detail: ExecutionDetail = serde_json::from_value(event.detail)
                .map_err(|e| FnError::invalid_input(format!("execution status change: {e}")))?;
            execution_ended(ctx, &detail).await
        }
        ("aws.events", "Scheduled Event") => sweep(ctx).await,
        (source, kind) => {
            info!(source, kind, "not an event the janitor handles; ignored");
            Ok(json!({ "ignored": kind }))
        }
    }
}

async fn execution_ended(ctx: &Ctx, detail: &ExecutionDetail) -> Result<Value, FnError> {
    if !matches!(detail.status.as_str(), "FAILED" | "ABORTED" | "TIMED_OUT") {
        return Ok(json!({ "ignored": detail.execution_arn, "status": detail.status }));
    }
    let input = match &detail.input {
        Some(input) => input.clone(),
        None => ctx
            .sfn
            .describe_execution()
            .execution_arn(&detail.execution_arn)
            .send()
            .await
            .map_err(|e| FnError::aws(format!("DescribeExecution {}", detail.execution_arn), &e))?
            .input()
            .unwrap_or_default()
            .to_owned(),
    };
    let input: ExecutionInput = serde_json::from_str(&input).map_err(|e| {
        FnError::invalid_input(format!(
            "{}: not an ecsub execution: {e}",
            detail.execution_arn
        ))
    })?;
    warn!(job_id = %input.job.job_id, status = detail.status, "the execution ended early; closing the job");
    close_job(ctx, &input.job, &input.tasks, Some(&detail.status)).await
}

/// Terminates instances of jobs whose execution is not running (or does not exist).
async fn sweep(ctx: &Ctx) -> Result<Value, FnError> {
    let state_machine = ctx
        .config
        .state_machine_arn
        .as_deref()
        .ok_or_else(|| FnError::invalid_input("ECSUB_STATE_MACHINE_ARN is not set"))?;
    let mut pages = ctx
        .ec2
        .describe_instances()
        .filters(Filter::builder().name("tag-key").values(TAG_JOB).build())
        .filters(
            Filter::builder()
                .name("instance-state-name")
                .values("pending")
                .values("running")
                .build(),
        )
        .into_paginator()
        .send();
    let mut by_job: BTreeMap<String, Vec<String>> = BTreeMap::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| FnError::aws("DescribeInstances", &e))?;
        for instance in page.reservations().iter().flat_map(|r| r.instances()) {
            let job = instance
                .tags()
                .iter()
                .find(|t| t.key() == Some(TAG_JOB))
                .and_then(|t| t.value());
            if let (Some(job), Some(id)) = (job, instance.instance_id()) {
                by_job
                    .entry(job.to_owned())
                    .or_default()
                    .push(id.to_owned());
            }
        }
    }
    let executions = state_machine.replacen(":stateMachine:", ":execution:", 1);
    let mut terminated = Vec::new();
    for (job, ids) in by_job {
        let arn = format!("{executions}:{job}");
        let running = match ctx
            .sfn
            .describe_execution()
            .execution_arn(&arn)
            .send()
            .await
        {
            Ok(out) => out.status().as_str() == "RUNNING",
            Err(e) if code(&e) == Some("ExecutionDoesNotExist") => false,
            Err(e) => return Err(FnError::aws(format!("DescribeExecution {arn}"), &e)),
        };
        if !running {
            for id in &ids {
                terminate(ctx, id).await?;
            }
            warn!(
                job_id = job,
                ?ids,
                "terminated instances of a job that is not running"
            );
            terminated.extend(ids);
        }
    }
    Ok(json!({ "terminated": terminated }))
}
