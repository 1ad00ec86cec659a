//! ecsub's pre-flight: every input of every selected task exists before anything starts (each distinct location
//! checked once, 16 at a time). Requester-pays buckets are asked with `x-amz-request-payer`; a location the stack
//! may not read is reported as such, not as missing.

use crate::Ctx;
use ecsub_aws::store::{self, Payer};
use ecsub_aws::FnError;
use ecsub_core::tasks::{Cell, TasksFile};
use ecsub_core::JobSpec;
use std::ops::RangeInclusive;

/// One line per input that is missing or cannot be checked (empty: all there).
pub async fn missing_inputs(
    ctx: &Ctx,
    tasks: &TasksFile,
    selected: RangeInclusive<usize>,
    spec: &JobSpec,
) -> Result<Vec<String>, FnError> {
    let mut wanted: Vec<(String, ecsub_core::S3Path)> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for task in &tasks.tasks[selected] {
        for (column, cell) in tasks.columns.iter().zip(&task.cells) {
            if let (true, Cell::Path(path)) = (column.kind.is_input(), cell) {
                if seen.insert(path.url()) {
                    let at = format!(
                        "{}:{}: task {} (`{column}`)",
                        tasks.file, task.line, task.index
                    );
                    wanted.push((at, path.clone()));
                }
            }
        }
    }
    let mut checks = tokio::task::JoinSet::new();
    let limit = std::sync::Arc::new(tokio::sync::Semaphore::new(16));
    let payer = std::sync::Arc::new(spec.request_payer_buckets.clone());
    for (i, (_, path)) in wanted.iter().enumerate() {
        let (s3, path, limit, payer) = (
            ctx.aws.s3.clone(),
            path.clone(),
            limit.clone(),
            payer.clone(),
        );
        checks.spawn(async move {
            let _permit = limit.acquire_owned().await;
            (i, store::location_exists(&s3, &path, Payer(&payer)).await)
        });
    }
    let mut problems = Vec::new();
    while let Some(done) = checks.join_next().await {
        let (i, found) = done.map_err(|e| FnError::invalid_input(format!("input check: {e}")))?;
        let (at, path) = &wanted[i];
        match found {
            Ok(true) => {}
            Ok(false) => problems.push((i, format!("{at}: input `{path}` not found"))),
            Err(e) if !e.is_transient() => problems.push((
                i,
                format!(
                    "{at}: cannot check input `{path}`: {} (a requester-pays bucket needs --request-payer-bucket {})",
                    e.message,
                    path.bucket()
                ),
            )),
            Err(e) => return Err(e),
        }
    }
    problems.sort();
    Ok(problems.into_iter().map(|(_, m)| m).collect())
}
