//! `push --skip-existing`: the tasks whose declared outputs all exist already are left out of the job, by dsub's
//! rules — a file output by its object, a recursive output when its folder holds an object (`s3://b/data/` is not
//! satisfied by `data2/`), a wildcard when something matches it. A task with no output is never skipped. The checks
//! run 16 at a time (one HeadObject per file, ListObjectsV2 pages for a folder or a wildcard), with the caller's
//! credentials, as dsub checks them: the caller must be able to read the outputs' buckets.

use crate::plan::Plan;
use crate::remote::{connect, runtime};
use ecsub_aws::store::{self, Payer};
use ecsub_core::tasks::Cell;
use ecsub_core::S3Path;
use std::collections::{BTreeMap, BTreeSet};

const CHECKS_AT_ONCE: usize = 16;

/// The selected tasks of `plan` whose outputs all exist (their indices).
pub fn existing(plan: &Plan) -> anyhow::Result<BTreeSet<usize>> {
    let mut outputs: BTreeMap<usize, Vec<S3Path>> = BTreeMap::new();
    for task in plan.selected_tasks() {
        let declared: Vec<S3Path> = plan
            .tasks
            .columns
            .iter()
            .zip(&task.cells)
            .filter_map(|(column, cell)| match (column.kind.is_output(), cell) {
                (true, Cell::Path(path)) => Some(path.clone()),
                _ => None,
            })
            .collect();
        if !declared.is_empty() {
            outputs.insert(task.index, declared);
        }
    }
    if outputs.is_empty() {
        return Ok(BTreeSet::new());
    }
    let payer = plan.spec.request_payer_buckets.clone();
    runtime()?.block_on(async {
        let ctx = connect().await?;
        let mut missing: BTreeSet<usize> = BTreeSet::new();
        let mut checks = outputs
            .iter()
            .flat_map(|(index, paths)| paths.iter().map(move |p| (*index, p.clone())));
        let mut running = tokio::task::JoinSet::new();
        loop {
            while running.len() < CHECKS_AT_ONCE {
                let Some((index, path)) = checks.next() else {
                    break;
                };
                if missing.contains(&index) {
                    continue;
                }
                let (s3, payer) = (ctx.s3.clone(), payer.clone());
                running.spawn(async move {
                    let found = store::location_exists(&s3, &path, Payer(&payer)).await;
                    (index, path, found)
                });
            }
            let Some(done) = running.join_next().await else {
                break;
            };
            let (index, path, found) = done?;
            match found {
                Ok(true) => {}
                Ok(false) => {
                    missing.insert(index);
                }
                Err(e) => anyhow::bail!(
                    "--skip-existing: cannot check {} ({}): it checks the outputs with your own credentials, which \
                     need s3:ListBucket and s3:GetObject on the outputs' buckets (the stack's UserPolicy grants \
                     neither); nothing was pushed",
                    path.url(),
                    e.message
                ),
            }
        }
        Ok(outputs
            .keys()
            .copied()
            .filter(|i| !missing.contains(i))
            .collect())
    })
}
