//! `--logging`: where a task's three log files go, by dsub's rule (`docs/logging.md`, and its
//! `format_logging_uri`): a path ending in `.log` is the log's own name, any other a folder the files are named
//! in after the job id; a task of a `--tasks` job adds `.{task-id}`, and an attempt of a `--retries` job
//! `.{task-attempt}`. A path with `{…}` placeholders is used as written. The task's log, its script's stdout and
//! its stderr are `STEM.log`, `STEM-stdout.log` and `STEM-stderr.log`.

/// The placeholders dsub knows.
pub const PLACEHOLDERS: [&str; 5] = ["job-id", "job-name", "task-id", "user-id", "task-attempt"];

/// Checks a `--logging` path's placeholders: each `{…}` must be one of dsub's, and no `*`.
pub fn check(uri: &str) -> Result<(), String> {
    if uri.contains('*') {
        return Err(format!(
            "--logging {uri}: a logging path may not hold a wildcard"
        ));
    }
    let mut rest = uri;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else {
            return Err(format!("--logging {uri}: a `{{` without its `}}`"));
        };
        let name = &after[..close];
        if !PLACEHOLDERS.contains(&name) {
            return Err(format!(
                "--logging {uri}: `{{{name}}}` is not one of dsub's placeholders ({})",
                PLACEHOLDERS.map(|p| format!("{{{p}}}")).join(", ")
            ));
        }
        rest = &after[close + 1..];
    }
    Ok(())
}

/// The explicit pattern of a `--logging` path: as written when it has placeholders, else by dsub's rule for a
/// job whose tasks have ids (`tasks`, a `--tasks` job) and attempts (`retries`, a `--retries` job).
pub fn pattern(uri: &str, tasks: bool, retries: bool) -> String {
    if uri.contains('{') {
        return uri.to_owned();
    }
    let mut pattern = match uri.strip_suffix(".log") {
        Some(stem) => stem.to_owned(),
        None => format!("{}/{{job-id}}", uri.trim_end_matches('/')),
    };
    if tasks {
        pattern.push_str(".{task-id}");
    }
    if retries {
        pattern.push_str(".{task-attempt}");
    }
    pattern.push_str(".log");
    pattern
}

/// A job's `--logging`, checked, with its job's parts filled in: `{job-id}`, and `{job-name}` (the id less its
/// suffix). `tasks`: the job has more than one task, so its tasks' ids name their files (dsub's `--tasks` job).
/// What is left, `{task-id}` and `{task-attempt}`, each attempt fills in (run.sh). dsub's command fills
/// `{job-name}` and `{user-id}` first.
pub fn for_job(uri: &str, job_id: &str, tasks: bool, retries: bool) -> Result<String, String> {
    if uri.starts_with("gs://") {
        return Err(format!("--logging {uri}: {}", super::tasks::GCS_ADVICE));
    }
    let Some((bucket, key)) = uri
        .strip_prefix("s3://")
        .map(|rest| rest.split_once('/').unwrap_or((rest, "")))
    else {
        return Err(format!("--logging {uri}: not an s3:// path"));
    };
    crate::s3path::check_bucket(bucket).map_err(|why| format!("--logging {uri}: {why}"))?;
    if key.is_empty() {
        return Err(format!(
            "--logging {uri}: name a folder or a file in the bucket (s3://BUCKET/logs/)"
        ));
    }
    check(uri)?;
    let pattern = pattern(uri, tasks, retries);
    if !pattern.ends_with(".log") {
        return Err(format!(
            "--logging {uri}: a path with placeholders must end in .log (its stem names the files)"
        ));
    }
    if pattern.contains("{user-id}") {
        return Err(format!(
            "--logging {uri}: {{user-id}} is dsub's (`ecsub-cli dsub` fills it in)"
        ));
    }
    let name = job_id.rsplit_once('-').map_or(job_id, |(name, _)| name);
    Ok(pattern
        .replace("{job-id}", job_id)
        .replace("{job-name}", name))
}

/// A pattern's task and attempt filled in: the stem of the attempt's three files (run.sh does the same).
pub fn stem(pattern: &str, task_id: usize, attempt: u32) -> String {
    let filled = pattern
        .replace("{task-id}", &task_id.to_string())
        .replace("{task-attempt}", &attempt.to_string());
    filled
        .strip_suffix(".log")
        .map(str::to_owned)
        .unwrap_or(filled)
}

/// A task's three log files: its log, its stdout's, its stderr's.
pub fn files(stem: &str) -> [String; 3] {
    [
        format!("{stem}.log"),
        format!("{stem}-stdout.log"),
        format!("{stem}-stderr.log"),
    ]
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const ID: &str = "job--me--261207-101010-abcde";

    #[test]
    fn a_folder_names_the_files_after_the_job_task_and_attempt() {
        let dir = "s3://bkt/logs/";
        assert_eq!(pattern(dir, false, false), "s3://bkt/logs/{job-id}.log");
        assert_eq!(
            pattern(dir, true, false),
            "s3://bkt/logs/{job-id}.{task-id}.log"
        );
        assert_eq!(
            pattern("s3://bkt/logs", true, true),
            "s3://bkt/logs/{job-id}.{task-id}.{task-attempt}.log"
        );
        let job = for_job(dir, ID, true, true).unwrap();
        assert_eq!(stem(&job, 3, 2), format!("s3://bkt/logs/{ID}.3.2"));
    }

    #[test]
    fn a_log_file_is_its_own_name_and_placeholders_are_used_as_written() {
        assert_eq!(pattern("s3://bkt/p.log", false, false), "s3://bkt/p.log");
        assert_eq!(
            stem(&for_job("s3://bkt/p.log", ID, true, false).unwrap(), 1, 1),
            "s3://bkt/p.1"
        );
        let custom = for_job("s3://bkt/{job-name}/{task-id}/task.log", ID, true, true).unwrap();
        assert_eq!(
            stem(&custom, 4, 2),
            "s3://bkt/job--me--261207-101010/4/task"
        );
        assert_eq!(
            files("s3://bkt/p.1"),
            [
                "s3://bkt/p.1.log",
                "s3://bkt/p.1-stdout.log",
                "s3://bkt/p.1-stderr.log"
            ]
            .map(String::from)
        );
    }

    #[test]
    fn a_logging_path_is_s3s_and_its_pattern_names_files() {
        assert!(for_job("gs://b/logs/", ID, true, false)
            .unwrap_err()
            .contains("Google Cloud Storage"));
        assert!(for_job("/tmp/logs", ID, true, false).is_err());
        assert!(for_job("s3://bkt", ID, true, false)
            .unwrap_err()
            .contains("name a folder"));
        assert!(for_job("s3://bkt/{task-id}/x", ID, true, false)
            .unwrap_err()
            .contains("must end in .log"));
        assert!(for_job("s3://bkt/{user-id}.log", ID, true, false)
            .unwrap_err()
            .contains("dsub's"));
    }

    #[test]
    fn unknown_placeholders_and_wildcards_are_refused() {
        assert!(check("s3://bkt/{job-id}/{task-attempt}.log").is_ok());
        assert!(check("s3://bkt/{jobid}.log")
            .unwrap_err()
            .contains("not one of dsub's"));
        assert!(check("s3://bkt/{job-id.log")
            .unwrap_err()
            .contains("without"));
        assert!(check("s3://bkt/*.log").unwrap_err().contains("wildcard"));
    }
}
