//! The attempt records a `status` has read, kept on this machine for the next `status` of the same job: a record
//! is written once and never changes (the functions create it with `If-None-Match`), so a 10 000-task job's second
//! `status` reads only the records that are new since the first, not 10 000 objects again. The cache is keyed by
//! the job's bucket and folder and checked against the job's execution (its ARN and start time), so a job id used
//! again elsewhere never shows another job's records. It is only a cache: a missing, unreadable or unwritable file
//! costs reads, never a wrong answer. `$XDG_CACHE_HOME/ecsub` or `~/.cache/ecsub`.

use ecsub_core::chain::{AttemptRecord, StartedRecord};
use ecsub_core::JobLayout;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;

#[derive(Serialize, Deserialize)]
struct Stored {
    identity: String,
    records: BTreeMap<String, AttemptRecord>,
}

#[derive(Debug)]
pub struct RecordCache {
    path: PathBuf,
    identity: String,
}

impl RecordCache {
    /// The cache of this job's records, or `None` when there is no cache folder (no `XDG_CACHE_HOME`, no `HOME`).
    pub fn for_job(layout: &JobLayout, started: &StartedRecord) -> Option<RecordCache> {
        let base = std::env::var_os("XDG_CACHE_HOME")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| {
                std::env::var_os("HOME")
                    .filter(|v| !v.is_empty())
                    .map(|home| PathBuf::from(home).join(".cache"))
            })?;
        let path = base
            .join("ecsub")
            .join("records")
            .join(&layout.bucket)
            .join(layout.job_folder())
            .join("attempts.json");
        Some(RecordCache {
            path,
            identity: format!("{} {}", started.execution_arn, started.started_at),
        })
    }

    /// The records read before, if the file is this job's.
    pub fn load(&self) -> BTreeMap<String, AttemptRecord> {
        std::fs::read(&self.path)
            .ok()
            .and_then(|bytes| serde_json::from_slice::<Stored>(&bytes).ok())
            .filter(|stored| stored.identity == self.identity)
            .map(|stored| stored.records)
            .unwrap_or_default()
    }

    /// Keeps the records for the next `status` (written aside and renamed: a reader never sees half a file).
    pub fn save(&self, records: &BTreeMap<String, AttemptRecord>) {
        let Some(folder) = self.path.parent() else {
            return;
        };
        let stored = Stored {
            identity: self.identity.clone(),
            records: records.clone(),
        };
        let Ok(bytes) = serde_json::to_vec(&stored) else {
            return;
        };
        let aside = folder.join(format!("attempts.json.{}", std::process::id()));
        let written = std::fs::create_dir_all(folder)
            .and_then(|()| std::fs::write(&aside, bytes))
            .and_then(|()| std::fs::rename(&aside, &self.path));
        if written.is_err() {
            let _ = std::fs::remove_file(&aside);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use ecsub_core::chain::Outcome;
    use ecsub_core::JobId;

    fn record(index: usize) -> AttemptRecord {
        AttemptRecord {
            exit_code: Some(0),
            ..AttemptRecord::example(index, 1, Outcome::Succeeded)
        }
    }

    fn started(at: &str) -> StartedRecord {
        StartedRecord {
            job_id: JobId::new("wc", "abcde").unwrap(),
            execution_arn: "arn:aws:states:us-east-1:1:execution:ecsub-job:wc-abcde".into(),
            tasks: 2,
            started_at: at.into(),
            cluster: "ecsub_wc-abcde".into(),
            log_group: "ecsub-wc-abcde".into(),
            notes: Vec::new(),
        }
    }

    #[test]
    fn records_come_back_for_the_same_job_only() {
        let dir = tempfile::tempdir().unwrap();
        let layout = JobLayout::new("s3://bkt/team", JobId::new("wc", "abcde").unwrap()).unwrap();
        let cache = RecordCache {
            path: dir.path().join("a/b/attempts.json"),
            identity: "one".into(),
        };
        assert!(cache.load().is_empty(), "nothing cached yet");
        let mut records = BTreeMap::new();
        records.insert("jobs/wc-abcde/attempts/000000.1.json".to_owned(), record(0));
        cache.save(&records);
        assert_eq!(cache.load().len(), 1);
        let other = RecordCache {
            path: cache.path.clone(),
            identity: "two".into(),
        };
        assert!(
            other.load().is_empty(),
            "another job's records under the same id"
        );
        std::fs::write(&cache.path, b"{not json").unwrap();
        assert!(cache.load().is_empty(), "a damaged cache is no cache");
        let a = RecordCache::for_job(&layout, &started("2026-12-02T00:00:00Z"));
        let b = RecordCache::for_job(&layout, &started("2026-12-02T00:00:01Z"));
        if let (Some(a), Some(b)) = (a, b) {
            assert_eq!(a.path, b.path);
            assert_ne!(a.identity, b.identity);
            assert!(a
                .path
                .ends_with("ecsub/records/bkt/team/jobs/wc-abcde/attempts.json"));
        }
    }
}
