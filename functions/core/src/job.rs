//! Job identity and where a job's objects live in the stack's bucket.
//!
//! The job id is the Step Functions execution name, the ECS cluster name and the S3 folder of the job, so it
//! must satisfy all three (`[A-Za-z0-9_-]`, at most 80 characters). Pure: callers supply the randomness.

use serde::{Deserialize, Serialize};
use std::fmt;

const MAX_NAME: usize = 64;
const SUFFIX_LEN: usize = 5;

/// A job id: `<name>-<5 random lowercase letters or digits>`, e.g. `wordcount-k3x9a`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct JobId(String);

impl JobId {
    /// Joins a job name and a random suffix. The name must be 1–64 letters, digits, `_` or `-`.
    pub fn new(name: &str, suffix: &str) -> Result<Self, String> {
        check_name(name)?;
        if suffix.len() != SUFFIX_LEN
            || !suffix
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        {
            return Err(format!(
                "`{suffix}` is not a job id suffix (5 lowercase letters or digits)"
            ));
        }
        Ok(Self(format!("{name}-{suffix}")))
    }

    /// A job name made from a tasks file's name: its stem, with anything a job id cannot hold turned into `-`.
    pub fn name_from_file(file_name: &str) -> String {
        let base = file_name.rsplit(['/', '\\']).next().unwrap_or(file_name);
        let stem = base.split_once('.').map_or(base, |(stem, _)| stem);
        let mut name: String = stem
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                    c
                } else {
                    '-'
                }
            })
            .take(MAX_NAME)
            .collect();
        if name.trim_matches('-').is_empty() {
            name = "job".to_owned();
        }
        name
    }

    /// Turns 25+ bits of randomness into a suffix for [`JobId::new`].
    pub fn suffix_from(random: u64) -> String {
        const ALPHABET: &[u8; 36] = b"abcdefghijklmnopqrstuvwxyz0123456789";
        let mut n = random;
        (0..SUFFIX_LEN)
            .map(|_| {
                let c = ALPHABET[(n % 36) as usize] as char;
                n /= 36;
                c
            })
            .collect()
    }

    /// A suffix that is the same every time for the same `parts` (FNV-1a), for job ids that must come out
    /// the same when an event is delivered twice.
    pub fn suffix_for(parts: &[&str]) -> String {
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for part in parts {
            for byte in part.bytes().chain(std::iter::once(0)) {
                hash ^= u64::from(byte);
                hash = hash.wrapping_mul(0x0100_0000_01b3);
            }
        }
        Self::suffix_from(hash)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The rule for `--task-name`: what the job id, cluster and execution names can all hold.
pub fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > MAX_NAME {
        return Err(format!(
            "job name `{name}` must be 1 to {MAX_NAME} characters long"
        ));
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err(format!(
            "job name `{name}` may only hold letters, digits, `_` and `-`"
        ));
    }
    Ok(())
}

impl TryFrom<String> for JobId {
    type Error = String;

    fn try_from(id: String) -> Result<Self, Self::Error> {
        match id.rsplit_once('-') {
            Some((name, suffix)) => Self::new(name, suffix),
            None => Err(format!("`{id}` is not a job id (`<name>-<suffix>`)")),
        }
    }
}

impl From<JobId> for String {
    fn from(id: JobId) -> String {
        id.0
    }
}

impl fmt::Display for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The work location (`--aws-s3-bucket s3://bucket[/prefix]`) and the keys of one job's objects under it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobLayout {
    pub bucket: String,
    /// Empty, or a folder ending in `/`.
    pub prefix: String,
    pub job_id: JobId,
}

/// The name the uploaded user script is stored and run under.
pub const SCRIPT_FILE: &str = "script";

impl JobLayout {
    /// Parses `s3://bucket` or `s3://bucket/prefix` for a job.
    pub fn new(work: &str, job_id: JobId) -> Result<Self, String> {
        let (bucket, prefix) = Self::work(work)?;
        Ok(Self {
            bucket,
            prefix,
            job_id,
        })
    }

    /// The bucket and the prefix (empty, or ending in `/`) of a work location, `s3://bucket[/prefix]`.
    pub fn work(work: &str) -> Result<(String, String), String> {
        let rest = work.strip_prefix("s3://").ok_or_else(|| {
            format!("`{work}` is not an s3:// bucket (expected s3://bucket or s3://bucket/prefix)")
        })?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        crate::s3path::check_bucket(bucket).map_err(|why| format!("`{work}`: {why}"))?;
        let prefix = prefix.trim_matches('/');
        check_prefix(work, prefix)?;
        let prefix = if prefix.is_empty() {
            String::new()
        } else {
            format!("{prefix}/")
        };
        Ok((bucket.to_owned(), prefix))
    }

    /// `<prefix>jobs/<job-id>/`
    pub fn job_folder(&self) -> String {
        format!("{}jobs/{}/", self.prefix, self.job_id)
    }

    fn key(&self, name: &str) -> String {
        format!("{}{name}", self.job_folder())
    }

    /// The job spec; pushed last, so its arrival means the job is complete and starts it.
    pub fn spec_key(&self) -> String {
        self.key("job.json")
    }

    pub fn tasks_key(&self) -> String {
        self.key("tasks.tsv")
    }

    /// The user script, beside the generated scripts so that a task fetches one folder.
    pub fn script_key(&self) -> String {
        self.key(&format!("scripts/{SCRIPT_FILE}"))
    }

    /// Written by the submit function when it rejects a job: what is wrong, one line per problem.
    pub fn error_key(&self) -> String {
        self.key("error.txt")
    }

    /// Written by the submit function when the execution has started.
    pub fn started_key(&self) -> String {
        self.key("started.json")
    }

    /// One record per attempt of a task, written once (conditionally) by whoever saw the attempt end.
    pub fn attempt_key(&self, index: usize, attempt: u32) -> String {
        self.key(&format!("attempts/{index:06}.{attempt}.json"))
    }

    pub fn attempts_folder(&self) -> String {
        self.key("attempts/")
    }

    /// The task token of an attempt whose task was started by an earlier try of the same start
    /// (`tokens/<index>.<attempt>`): a retried StartTask state may carry a new token while the task it finds on
    /// its instance carries the first one, so the start writes the new one here and task-stopped resumes with it
    /// when the task's own token is no longer waited for.
    pub fn token_key(&self, index: usize, attempt: u32) -> String {
        self.key(&format!("tokens/{index:06}.{attempt}"))
    }

    /// Why a task's launch waits (`waiting/<index>.json`, [`crate::chain::Waiting`]): written by the launch function
    /// when EC2 has no capacity or the account's quota is used up.
    pub fn waiting_key(&self, index: usize) -> String {
        self.key(&format!("waiting/{index:06}.json"))
    }

    /// The instance a task's launch (attempt, launch again) was given: written once, by the launcher that claims
    /// it, before it answers the task; a later launch for the same ask finds it and keeps to it.
    pub fn launched_key(&self, index: usize, attempt: u32, relaunch: u32) -> String {
        self.key(&format!("launched/{index:06}.{attempt}.{relaunch}.json"))
    }

    pub fn waiting_folder(&self) -> String {
        self.key("waiting/")
    }

    /// `items.json`: the job's tasks as the distributed Map reads them (written by the submit function).
    pub fn items_key(&self) -> String {
        self.key("items.json")
    }

    /// Where the Map run writes its results (`map/<map-run-id>/manifest.json` and result files).
    pub fn results_prefix(&self) -> String {
        self.key("map/")
    }

    /// `after.json`: the jobs this one waits for (`--after`), written by the submit function when it parks it.
    pub fn after_key(&self) -> String {
        self.key("after.json")
    }

    /// The job `id` of the same stack's bucket and prefix.
    pub fn sibling(&self, id: JobId) -> JobLayout {
        JobLayout {
            bucket: self.bucket.clone(),
            prefix: self.prefix.clone(),
            job_id: id,
        }
    }

    /// Where the jobs parked until this one ends are named (`after/<this job>/<job waiting>`, empty objects): the
    /// stack's own index, read when this job ends or is refused.
    pub fn successors_prefix(&self) -> String {
        format!("{}after/{}/", self.prefix, self.job_id)
    }

    /// The mark that `successor` waits for this job.
    pub fn successor_key(&self, successor: &JobId) -> String {
        format!("{}{successor}", self.successors_prefix())
    }

    /// The job's end state, written by the finalize function.
    pub fn summary_key(&self) -> String {
        self.key("summary.json")
    }

    /// The layout of the job whose folder URL is `s3://bucket/<prefix>jobs/<job-id>/`.
    pub fn from_url(job_url: &str) -> Option<JobLayout> {
        let rest = job_url.strip_prefix("s3://")?;
        let (bucket, key) = rest.split_once('/')?;
        Self::from_key(bucket, &format!("{key}x")).map(|(layout, _)| layout)
    }

    /// `s3://bucket/<prefix>jobs/<job-id>/`
    pub fn job_url(&self) -> String {
        self.url(&self.job_folder())
    }

    /// Finds the job a key belongs to: `<prefix>jobs/<job-id>/<name>` gives the layout and `<name>`.
    pub fn from_key(bucket: &str, key: &str) -> Option<(JobLayout, String)> {
        let at = if key.starts_with("jobs/") {
            0
        } else {
            key.rfind("/jobs/")? + 1
        };
        let (prefix, rest) = key.split_at(at);
        let rest = rest.strip_prefix("jobs/")?;
        let (id, name) = rest.split_once('/')?;
        let job_id = JobId::try_from(id.to_owned()).ok()?;
        Some((
            JobLayout {
                bucket: bucket.to_owned(),
                prefix: prefix.to_owned(),
                job_id,
            },
            name.to_owned(),
        ))
    }

    pub fn run_sh_key(&self) -> String {
        self.key("scripts/run.sh")
    }

    pub fn setenv_key(&self) -> String {
        self.key("scripts/setenv.sh")
    }

    pub fn url(&self, key: &str) -> String {
        format!("s3://{}/{key}", self.bucket)
    }
}

/// A job bucket's prefix holds S3's safe key characters only (letters, digits, `!-_.*'()` and `/`: S3 user
/// guide, "Object key naming guidelines"), in segments that are neither empty, `.` nor `..`: a prefix is spliced
/// into keys, paths and log lines (local review 2026-11, finding 19f).
fn check_prefix(work: &str, prefix: &str) -> Result<(), String> {
    if prefix.is_empty() {
        return Ok(());
    }
    let safe = |c: char| c.is_ascii_alphanumeric() || "!-_.*'()".contains(c);
    for segment in prefix.split('/') {
        if segment.is_empty() || segment == "." || segment == ".." {
            return Err(format!(
                "`{work}`: the prefix may not have empty, `.` or `..` segments"
            ));
        }
        if let Some(bad) = segment.chars().find(|&c| !safe(c)) {
            return Err(format!(
                "`{work}`: the prefix may hold letters, digits, `!-_.*'()` and `/` only, not `{}`",
                bad.escape_default()
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_ids_join_a_name_and_a_suffix() {
        let id = JobId::new("wordcount", &JobId::suffix_from(123_456_789)).unwrap();
        assert_eq!(id.as_str().len(), "wordcount-".len() + 5);
        assert_eq!(JobId::try_from(id.to_string()).unwrap(), id);
        assert!(JobId::new("a b", "abcde")
            .unwrap_err()
            .contains("may only hold"));
        assert_eq!(
            JobId::new("x", "ABCDE").unwrap_err(),
            "`ABCDE` is not a job id suffix (5 lowercase letters or digits)"
        );
    }

    #[test]
    fn names_from_files_drop_folders_and_extensions() {
        assert_eq!(
            JobId::name_from_file("examples/wordcount/tasks.tsv"),
            "tasks"
        );
        assert_eq!(JobId::name_from_file("my data.v2.tsv"), "my-data");
        assert_eq!(JobId::name_from_file(".tsv"), "job");
    }

    #[test]
    fn layout_puts_jobs_under_the_work_prefix() {
        let id = JobId::new("wc", "abcde").unwrap();
        let plain = JobLayout::new("s3://bkt", id.clone()).unwrap();
        assert_eq!(plain.spec_key(), "jobs/wc-abcde/job.json");
        let nested = JobLayout::new("s3://bkt/team/a/", id.clone()).unwrap();
        assert_eq!(nested.run_sh_key(), "team/a/jobs/wc-abcde/scripts/run.sh");
        assert_eq!(
            nested.url(&nested.tasks_key()),
            "s3://bkt/team/a/jobs/wc-abcde/tasks.tsv"
        );
        assert_eq!(
            JobLayout::new("bkt", JobId::new("wc", "abcde").unwrap()).unwrap_err(),
            "`bkt` is not an s3:// bucket (expected s3://bucket or s3://bucket/prefix)"
        );
        let (found, name) = JobLayout::from_key("bkt", "team/a/jobs/wc-abcde/job.json").unwrap();
        assert_eq!(found, nested);
        assert_eq!(name, "job.json");
        assert_eq!(
            JobLayout::from_key("bkt", "jobs/wc-abcde/job.json")
                .unwrap()
                .0,
            plain
        );
        assert!(JobLayout::from_key("bkt", "inbox/x.tsv").is_none());
        assert_eq!(JobLayout::from_url(&nested.job_url()).unwrap(), nested);
        assert_eq!(
            JobId::suffix_for(&["a", "b"]),
            JobId::suffix_for(&["a", "b"])
        );
        assert_ne!(
            JobId::suffix_for(&["a", "b"]),
            JobId::suffix_for(&["ab", ""])
        );
    }
}
