//! `push --skip-existing`'s checks: which tasks' declared outputs all exist, by dsub's rules (ecsub-core's
//! `outputs`, as the stack's own outputs check). They run 16 at a time (one HeadObject per file, ListObjectsV2 pages
//! for a folder or a wildcard), with the caller's credentials, as dsub checks them: the caller must be able to read
//! the outputs' buckets.

use super::session::{connect, runtime};
use ecsub_aws::store::{self, Payer};
use ecsub_core::S3Path;
use std::collections::{BTreeMap, BTreeSet};

const CHECKS_AT_ONCE: usize = 16;

/// Of `outputs` (task index → its declared outputs), the tasks whose outputs all exist. Requests to `payer`'s
/// buckets say that the requester pays.
pub fn existing_outputs(
    outputs: &BTreeMap<usize, Vec<S3Path>>,
    payer: &[String],
) -> anyhow::Result<BTreeSet<usize>> {
    if outputs.is_empty() {
        return Ok(BTreeSet::new());
    }
    let payer = payer.to_vec();
    runtime()?.block_on(async {
        let aws = connect().await?;
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
                let (s3, payer) = (aws.s3.clone(), payer.clone());
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
