//! The task's container environment, one typed contract. The launch side writes [`TaskEnv`] into the main
//! container's environment (the StartTask override); task-stopped reads it back from the "Task State Change"
//! event, the janitor from DescribeTasks, the CLI's `status` and `logs` from the tasks ECS runs. `run.sh` reads
//! [`names::TASK_INDEX`] and [`names::JOB_URL`] of it, and its own variables ([`RunEnv`]), which the container
//! command defaults on AWS and `run --local` sets for each task.
//!
//! Pure: values in, name–value pairs out; the callers read and write environments.

use super::{Attempt, RetryPolicy};
use std::ffi::OsString;
use std::path::Path;

/// Every `ECSUB_*` name a task's environment holds, each spelled once.
pub mod names {
    /// The job's folder, `s3://bucket/<prefix>jobs/<job-id>/`.
    pub const JOB_URL: &str = "ECSUB_JOB_URL";
    /// The task to run (0-based).
    pub const TASK_INDEX: &str = "ECSUB_TASK_INDEX";
    /// The attempt's number (from 1), and whether it runs on spot, whether a retry goes on demand.
    pub const ATTEMPT: &str = "ECSUB_ATTEMPT";
    pub const SPOT: &str = "ECSUB_SPOT";
    pub const RETRY_OD: &str = "ECSUB_RETRY_OD";
    /// `--spot-attempts`: the attempts from 1 to this run on spot, the rest on demand (empty: every attempt).
    pub const SPOT_ATTEMPTS: &str = "ECSUB_SPOT_ATTEMPTS";
    /// `--retries`, `--retry-on-exit` (space-separated codes) and the attempt's own failures retried before it.
    pub const RETRIES: &str = "ECSUB_RETRIES";
    pub const RETRY_ON_EXIT: &str = "ECSUB_RETRY_ON_EXIT";
    pub const FAILURES: &str = "ECSUB_FAILURES";
    /// `--retry-larger`, and the attempt's sizes up and disk doublings (see [`super::super::Attempt`]).
    pub const RETRY_LARGER: &str = "ECSUB_RETRY_LARGER";
    pub const LARGER: &str = "ECSUB_LARGER";
    pub const DISK_DOUBLINGS: &str = "ECSUB_DISK_DOUBLINGS";
    /// `--keep-on-failure`, in seconds (empty: off).
    pub const KEEP_ON_FAILURE: &str = "ECSUB_KEEP_ON_FAILURE";
    /// The attempt's instance, for its record and its cost.
    pub const INSTANCE_ID: &str = "ECSUB_INSTANCE_ID";
    pub const INSTANCE_TYPE: &str = "ECSUB_INSTANCE_TYPE";
    pub const LAUNCHED_AT: &str = "ECSUB_LAUNCHED_AT";
    pub const AVAILABILITY_ZONE: &str = "ECSUB_AVAILABILITY_ZONE";
    /// Buckets read and written with the requester paying (space-separated).
    pub const REQUEST_PAYER_BUCKETS: &str = "ECSUB_REQUEST_PAYER_BUCKETS";
    /// The state's task token: task-stopped resumes the execution with it.
    pub const TASK_TOKEN: &str = "ECSUB_TASK_TOKEN";

    /// run.sh's own: the job (run.sh sets it), the task's working folder, where the scripts are, the task's own
    /// environment as a file (`run --local`), how copies go and through what, how secrets are read, and the
    /// container command's folder for the scripts it fetches.
    pub const JOB_ID: &str = "ECSUB_JOB_ID";
    pub const SCRATCH: &str = "ECSUB_SCRATCH";
    pub const SCRIPTS_DIR: &str = "ECSUB_SCRIPTS_DIR";
    pub const TASK_ENV: &str = "ECSUB_TASK_ENV";
    pub const TRANSPORT: &str = "ECSUB_TRANSPORT";
    pub const LOCAL_S3_ROOT: &str = "ECSUB_LOCAL_S3_ROOT";
    pub const STAGE: &str = "ECSUB_STAGE";
    pub const STAGE_VIA: &str = "ECSUB_STAGE_VIA";
    pub const SECRETS: &str = "ECSUB_SECRETS";
    pub const HOME: &str = "ECSUB_HOME";
    /// Where run.sh records the step it is in (`run --local`: a file of the job's; `ecsub_core::exit::Phase`).
    pub const PHASE_FILE: &str = "ECSUB_PHASE_FILE";

    /// Every name: a task's environment holds no other `ECSUB_*` (a test checks run.sh and the container
    /// command against this list).
    pub const ALL: &[&str] = &[
        JOB_URL,
        TASK_INDEX,
        ATTEMPT,
        SPOT,
        RETRY_OD,
        SPOT_ATTEMPTS,
        RETRIES,
        RETRY_ON_EXIT,
        FAILURES,
        RETRY_LARGER,
        LARGER,
        DISK_DOUBLINGS,
        KEEP_ON_FAILURE,
        INSTANCE_ID,
        INSTANCE_TYPE,
        LAUNCHED_AT,
        AVAILABILITY_ZONE,
        REQUEST_PAYER_BUCKETS,
        TASK_TOKEN,
        JOB_ID,
        SCRATCH,
        SCRIPTS_DIR,
        TASK_ENV,
        TRANSPORT,
        LOCAL_S3_ROOT,
        STAGE,
        STAGE_VIA,
        SECRETS,
        HOME,
        PHASE_FILE,
    ];
}

/// What the state machine's StartTask puts in the main container's environment for one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskEnv {
    pub job_url: String,
    pub index: usize,
    pub attempt: Attempt,
    pub retry_od: bool,
    /// `--spot-attempts`.
    pub spot_attempts: Option<u32>,
    pub retries: u32,
    pub retry_on_exit: Vec<i32>,
    pub retry_larger: bool,
    /// `--keep-on-failure`, in seconds.
    pub keep_on_failure: Option<u32>,
    /// The attempt's instance (absent only in a task that something other than ecsub's launch started).
    pub instance_id: Option<String>,
    pub instance_type: Option<String>,
    /// EC2's launch time, for the attempt's cost.
    pub launched_at: Option<String>,
    pub availability_zone: Option<String>,
    pub request_payer_buckets: Vec<String>,
    pub task_token: String,
}

impl TaskEnv {
    /// How the job tries this task again.
    pub fn retry_policy(&self) -> RetryPolicy {
        RetryPolicy {
            retry_od: self.retry_od,
            spot_attempts: self.spot_attempts,
            retries: self.retries,
            retry_on_exit: self.retry_on_exit.clone(),
            larger: self.retry_larger,
        }
    }

    /// The environment's variables, in a stable order.
    pub fn pairs(&self) -> Vec<(&'static str, String)> {
        vec![
            (names::JOB_URL, self.job_url.clone()),
            (names::TASK_INDEX, self.index.to_string()),
            (names::ATTEMPT, self.attempt.number.to_string()),
            (names::SPOT, self.attempt.spot.to_string()),
            (names::RETRY_OD, self.retry_od.to_string()),
            (
                names::SPOT_ATTEMPTS,
                self.spot_attempts
                    .map(|n| n.to_string())
                    .unwrap_or_default(),
            ),
            (names::RETRIES, self.retries.to_string()),
            (
                names::RETRY_ON_EXIT,
                self.retry_on_exit
                    .iter()
                    .map(i32::to_string)
                    .collect::<Vec<_>>()
                    .join(" "),
            ),
            (names::FAILURES, self.attempt.failures.to_string()),
            (names::RETRY_LARGER, self.retry_larger.to_string()),
            (names::LARGER, self.attempt.larger.to_string()),
            (
                names::DISK_DOUBLINGS,
                self.attempt.disk_doublings.to_string(),
            ),
            (
                names::KEEP_ON_FAILURE,
                self.keep_on_failure
                    .map(|s| s.to_string())
                    .unwrap_or_default(),
            ),
            (
                names::INSTANCE_ID,
                self.instance_id.clone().unwrap_or_default(),
            ),
            (
                names::INSTANCE_TYPE,
                self.instance_type.clone().unwrap_or_default(),
            ),
            (
                names::LAUNCHED_AT,
                self.launched_at.clone().unwrap_or_default(),
            ),
            (
                names::AVAILABILITY_ZONE,
                self.availability_zone.clone().unwrap_or_default(),
            ),
            (
                names::REQUEST_PAYER_BUCKETS,
                self.request_payer_buckets.join(" "),
            ),
            (names::TASK_TOKEN, self.task_token.clone()),
        ]
    }

    /// Reads an environment back (`get` answers a variable's value). `Ok(None)`: no task token or job folder,
    /// so the task was not started by ecsub's state machine; `Err` names what is missing or malformed in one that
    /// was.
    pub fn read<'a>(get: impl Fn(&str) -> Option<&'a str>) -> Result<Option<TaskEnv>, String> {
        let (Some(task_token), Some(job_url)) = (get(names::TASK_TOKEN), get(names::JOB_URL))
        else {
            return Ok(None);
        };
        let number = |name: &str| -> Result<u64, String> {
            let value = get(name).ok_or_else(|| format!("{name} is missing"))?;
            value
                .parse()
                .map_err(|_| format!("{name} `{value}` is not a whole number"))
        };
        let text = |name: &str| get(name).filter(|v| !v.is_empty()).map(str::to_owned);
        // Absent in a task started before `--retries` existed: none.
        let count = |name: &str| get(name).and_then(|v| v.parse().ok()).unwrap_or(0);
        Ok(Some(TaskEnv {
            job_url: job_url.to_owned(),
            index: usize::try_from(number(names::TASK_INDEX)?).unwrap_or(usize::MAX),
            attempt: Attempt {
                number: u32::try_from(number(names::ATTEMPT)?).unwrap_or(u32::MAX),
                spot: get(names::SPOT) == Some("true"),
                failures: count(names::FAILURES),
                larger: count(names::LARGER),
                disk_doublings: count(names::DISK_DOUBLINGS),
            },
            retry_od: get(names::RETRY_OD) == Some("true"),
            spot_attempts: get(names::SPOT_ATTEMPTS).and_then(|v| v.parse().ok()),
            retry_larger: get(names::RETRY_LARGER) == Some("true"),
            retries: count(names::RETRIES),
            keep_on_failure: get(names::KEEP_ON_FAILURE).and_then(|v| v.parse().ok()),
            retry_on_exit: get(names::RETRY_ON_EXIT)
                .unwrap_or_default()
                .split_whitespace()
                .filter_map(|code| code.parse().ok())
                .collect(),
            instance_id: text(names::INSTANCE_ID),
            instance_type: text(names::INSTANCE_TYPE),
            launched_at: text(names::LAUNCHED_AT),
            availability_zone: text(names::AVAILABILITY_ZONE),
            request_payer_buckets: get(names::REQUEST_PAYER_BUCKETS)
                .unwrap_or_default()
                .split_whitespace()
                .map(str::to_owned)
                .collect(),
            task_token: task_token.to_owned(),
        }))
    }
}

/// What `run --local` sets for each task's run.sh (on AWS the container command and run.sh's defaults give these):
/// the task, its working folder, the job's scripts, the task's own environment as a file, where run.sh records its
/// step, and the local transport through `ecsub-cli stage`, with secrets used as written.
#[derive(Debug, Clone, Copy)]
pub struct RunEnv<'a> {
    pub index: usize,
    /// The attempt's number, from 1 (`--retries`), as the container's `ECSUB_ATTEMPT` on AWS.
    pub attempt: u32,
    pub scratch: &'a Path,
    pub scripts_dir: &'a Path,
    pub task_env: &'a Path,
    pub phase_file: &'a Path,
    pub local_s3_root: &'a Path,
    /// The program that stages, and its first argument (`ecsub-cli stage`).
    pub stage: &'a Path,
    pub stage_via: &'a str,
}

impl RunEnv<'_> {
    pub fn pairs(&self) -> Vec<(&'static str, OsString)> {
        vec![
            (names::TASK_INDEX, self.index.to_string().into()),
            (names::ATTEMPT, self.attempt.to_string().into()),
            (names::SCRATCH, self.scratch.into()),
            (names::SCRIPTS_DIR, self.scripts_dir.into()),
            (names::TASK_ENV, self.task_env.into()),
            (names::PHASE_FILE, self.phase_file.into()),
            (names::TRANSPORT, "local".into()),
            (names::LOCAL_S3_ROOT, self.local_s3_root.into()),
            (names::STAGE, self.stage.into()),
            (names::STAGE_VIA, self.stage_via.into()),
            (names::SECRETS, "plain".into()),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn example() -> TaskEnv {
        TaskEnv {
            job_url: "s3://stack-bkt/jobs/wc-abcde/".into(),
            index: 7,
            attempt: Attempt {
                number: 2,
                spot: true,
                failures: 1,
                larger: 1,
                disk_doublings: 2,
            },
            retry_od: true,
            spot_attempts: Some(2),
            retries: 2,
            retry_on_exit: vec![3, 75],
            retry_larger: true,
            keep_on_failure: Some(7200),
            instance_id: Some("i-0abc".into()),
            instance_type: Some("t3.micro".into()),
            launched_at: Some("2026-12-06T01:02:03Z".into()),
            availability_zone: Some("us-east-1a".into()),
            request_payer_buckets: vec!["open-data".into(), "other".into()],
            task_token: "AQCE-token".into(),
        }
    }

    fn as_map(pairs: Vec<(&'static str, String)>) -> HashMap<&'static str, String> {
        pairs.into_iter().collect()
    }

    #[test]
    fn the_environment_written_is_the_environment_read() {
        let env = example();
        let map = as_map(env.pairs());
        assert_eq!(map[names::TASK_INDEX], "7");
        assert_eq!(map[names::SPOT], "true");
        assert_eq!(map[names::REQUEST_PAYER_BUCKETS], "open-data other");
        let back = TaskEnv::read(|name| map.get(name).map(String::as_str));
        assert_eq!(back, Ok(Some(env)));
    }

    #[test]
    fn empty_optional_values_read_as_absent_and_on_demand_reads_as_not_spot() {
        let mut env = example();
        env.availability_zone = None;
        env.instance_type = None;
        env.request_payer_buckets.clear();
        env.attempt.spot = false;
        env.retry_od = false;
        let map = as_map(env.pairs());
        assert_eq!(map[names::AVAILABILITY_ZONE], "");
        let back = TaskEnv::read(|name| map.get(name).map(String::as_str));
        assert_eq!(back, Ok(Some(env)));
    }

    #[test]
    fn a_task_without_a_token_or_job_folder_is_not_ecsubs_and_a_bad_number_is_named() {
        let mut map = as_map(example().pairs());
        map.remove(names::TASK_TOKEN);
        assert_eq!(
            TaskEnv::read(|name| map.get(name).map(String::as_str)),
            Ok(None)
        );
        let mut map = as_map(example().pairs());
        map.remove(names::JOB_URL);
        assert_eq!(
            TaskEnv::read(|name| map.get(name).map(String::as_str)),
            Ok(None)
        );
        let mut map = as_map(example().pairs());
        map.remove(names::ATTEMPT);
        assert_eq!(
            TaskEnv::read(|name| map.get(name).map(String::as_str)),
            Err("ECSUB_ATTEMPT is missing".into())
        );
        map.insert(names::ATTEMPT, "2".into());
        map.insert(names::TASK_INDEX, "seven".into());
        assert_eq!(
            TaskEnv::read(|name| map.get(name).map(String::as_str)),
            Err("ECSUB_TASK_INDEX `seven` is not a whole number".into())
        );
    }

    #[test]
    fn the_local_runner_sets_run_sh_s_variables_for_the_local_transport() {
        let run = RunEnv {
            index: 3,
            attempt: 2,
            scratch: Path::new("/w/tasks/003"),
            scripts_dir: Path::new("/w/scripts"),
            task_env: Path::new("/w/env/003.sh"),
            phase_file: Path::new("/w/env/003.phase"),
            local_s3_root: Path::new("/s3"),
            stage: Path::new("/bin/ecsub-cli"),
            stage_via: "stage",
        };
        let pairs: HashMap<&str, OsString> = run.pairs().into_iter().collect();
        assert_eq!(pairs[names::TASK_INDEX], "3");
        assert_eq!(pairs[names::TRANSPORT], "local");
        assert_eq!(pairs[names::SECRETS], "plain");
        assert_eq!(pairs[names::STAGE_VIA], "stage");
        assert_eq!(pairs[names::PHASE_FILE], "/w/env/003.phase");
        assert_eq!(pairs[names::ATTEMPT], "2");
        assert_eq!(pairs.len(), 11);
    }

    /// run.sh and the container command read no `ECSUB_*` variable the contract does not name.
    #[test]
    fn every_variable_run_sh_and_the_container_command_read_is_in_the_contract() {
        let command = super::super::container_command("echo setup");
        let texts = [include_str!("../script/run.sh"), command.as_str()];
        let mut seen = std::collections::BTreeSet::new();
        for text in texts {
            let bytes = text.as_bytes();
            let mut at = 0;
            while let Some(found) = text[at..].find("ECSUB_") {
                let start = at + found;
                let end = start
                    + bytes[start..]
                        .iter()
                        .take_while(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || **b == b'_')
                        .count();
                seen.insert(&text[start..end]);
                at = end;
            }
        }
        let unknown: Vec<&&str> = seen.iter().filter(|n| !names::ALL.contains(n)).collect();
        assert!(unknown.is_empty(), "not in the contract: {unknown:?}");
        for name in [names::TASK_INDEX, names::JOB_URL, names::STAGE, names::HOME] {
            assert!(seen.contains(name), "{name} is not read");
        }
    }
}
