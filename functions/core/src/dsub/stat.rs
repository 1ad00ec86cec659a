//! dstat's view of a job of this stack: each task a row with dsub's field names (`job-id`, `task-id`, `status`,
//! `status-message`, …), dsub's four states, its filters (`--status`, `--age`, `--label`, `--tasks`), its
//! `--summary`, and its text and YAML forms. The facts come from the stack's records (`status`); the CLI reads them.

use crate::status::{TaskState, TaskStatus};
use crate::tasks::{Cell, ColumnKind, TasksFile};
use serde::Serialize;
use std::collections::BTreeMap;

/// dsub's task states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum DStatus {
    Running,
    Success,
    Failure,
    Canceled,
}

impl DStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DStatus::Running => "RUNNING",
            DStatus::Success => "SUCCESS",
            DStatus::Failure => "FAILURE",
            DStatus::Canceled => "CANCELED",
        }
    }

    /// dstat's `--status` values (and `*`, every state); anything else is refused with the list.
    pub fn parse_filter(values: &[String]) -> Result<Option<Vec<DStatus>>, String> {
        if values.is_empty() {
            return Ok(Some(vec![DStatus::Running]));
        }
        if values.iter().any(|v| v == "*") {
            return Ok(None);
        }
        values
            .iter()
            .map(|v| match v.to_ascii_uppercase().as_str() {
                "RUNNING" => Ok(DStatus::Running),
                "SUCCESS" => Ok(DStatus::Success),
                "FAILURE" => Ok(DStatus::Failure),
                "CANCELED" => Ok(DStatus::Canceled),
                _ => Err(format!(
                    "--status {v}: expected RUNNING, SUCCESS, FAILURE, CANCELED or '*'"
                )),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }
}

/// A task's dsub state: decided tasks by their outcome (a task cut short by a stopped execution, `ddel`'s, is
/// CANCELED), the rest RUNNING.
pub fn status_of(state: TaskState, reason: &str) -> DStatus {
    match state {
        TaskState::Ended(crate::chain::Outcome::Succeeded) => DStatus::Success,
        TaskState::Ended(_) if reason.contains("execution ended ABORTED") => DStatus::Canceled,
        TaskState::Ended(_) => DStatus::Failure,
        _ => DStatus::Running,
    }
}

/// What a job's rows share.
#[derive(Debug, Clone, Default)]
pub struct Job {
    pub job_id: String,
    pub job_name: String,
    pub user_id: String,
    /// When the stack started it (RFC 3339), and when it ended.
    pub create_time: Option<String>,
    pub end_time: Option<String>,
    pub logging: Option<String>,
    pub internal_id: Option<String>,
    pub script_name: Option<String>,
    /// The job was refused: every task is a FAILURE with this message.
    pub refused: Option<String>,
}

/// One task's row, in dsub's `--full` order (the first four are dstat's default fields).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Row {
    pub job_name: String,
    pub task_id: String,
    pub last_update: String,
    pub status_message: String,
    pub job_id: String,
    pub user_id: String,
    pub status: DStatus,
    pub status_detail: String,
    pub task_attempt: u32,
    pub create_time: String,
    pub start_time: String,
    pub end_time: String,
    pub internal_id: String,
    pub logging: String,
    pub labels: BTreeMap<String, String>,
    pub envs: BTreeMap<String, String>,
    pub inputs: BTreeMap<String, String>,
    pub input_recursives: BTreeMap<String, String>,
    pub outputs: BTreeMap<String, String>,
    pub output_recursives: BTreeMap<String, String>,
    pub mounts: BTreeMap<String, String>,
    pub provider: String,
    pub provider_attributes: BTreeMap<String, serde_json::Value>,
    pub script_name: String,
}

/// The label of a job of `ecsub-cli dsub` without a tasks file, which is no label of the user's.
const OWN_LABEL: &str = "dsub-job";

/// A task's row. `tasks`: the job's tasks file as the stack holds it (its cells are the task's envs, labels,
/// inputs and outputs); `now`: the RFC 3339 time of a running task's last update.
pub fn row(job: &Job, task: &TaskStatus, tasks: Option<&TasksFile>, now: &str) -> Row {
    let (status, message) = match &job.refused {
        Some(why) => (DStatus::Failure, why.clone()),
        None => (status_of(task.state, &task.reason), task.reason.clone()),
    };
    let message = match status {
        DStatus::Success => "Success".to_owned(),
        _ if message.is_empty() => task.state.as_str().to_owned(),
        _ => message,
    };
    let mut row = Row {
        job_name: job.job_name.clone(),
        task_id: (task.index + 1).to_string(),
        last_update: dsub_time(job.end_time.as_deref().unwrap_or(now)),
        status_message: message,
        job_id: job.job_id.clone(),
        user_id: job.user_id.clone(),
        status,
        status_detail: task.state.as_str().to_owned(),
        task_attempt: task.attempts.max(1),
        create_time: job
            .create_time
            .as_deref()
            .map(dsub_time)
            .unwrap_or_default(),
        start_time: job
            .create_time
            .as_deref()
            .map(dsub_time)
            .unwrap_or_default(),
        end_time: job.end_time.as_deref().map(dsub_time).unwrap_or_default(),
        internal_id: job.internal_id.clone().unwrap_or_default(),
        logging: job.logging.clone().unwrap_or_default(),
        labels: BTreeMap::new(),
        envs: BTreeMap::new(),
        inputs: BTreeMap::new(),
        input_recursives: BTreeMap::new(),
        outputs: BTreeMap::new(),
        output_recursives: BTreeMap::new(),
        mounts: BTreeMap::new(),
        provider: "aws".to_owned(),
        provider_attributes: BTreeMap::new(),
        script_name: job.script_name.clone().unwrap_or_default(),
    };
    let attributes = &mut row.provider_attributes;
    if let Some(t) = &task.instance_type {
        attributes.insert("instance-type".to_owned(), t.clone().into());
    }
    attributes.insert("spot".to_owned(), task.spot.into());
    if let Some(code) = task.exit_code {
        attributes.insert("exit-code".to_owned(), code.into());
    }
    if let Some(file) = tasks {
        if let Some(t) = file.tasks.iter().find(|t| t.index == task.index) {
            for (column, cell) in t.cells_with(&file.columns) {
                let value = match cell {
                    Cell::Text(text) => text.clone(),
                    Cell::Path(path) => path.to_string(),
                    Cell::Empty => String::new(),
                };
                let map = match column.kind {
                    ColumnKind::Env => &mut row.envs,
                    // A secret's reference is not shown: dstat prints what it is given.
                    ColumnKind::SecretEnv => continue,
                    ColumnKind::Label if column.name == OWN_LABEL => continue,
                    ColumnKind::Label => &mut row.labels,
                    ColumnKind::Input => &mut row.inputs,
                    ColumnKind::InputRecursive => &mut row.input_recursives,
                    ColumnKind::Output => &mut row.outputs,
                    ColumnKind::OutputRecursive => &mut row.output_recursives,
                };
                map.insert(column.name.clone(), value);
            }
        }
    }
    row
}

/// dsub's time form, `2026-12-07 23:21:09.581195`, from RFC 3339 (UTC).
pub fn dsub_time(rfc3339: &str) -> String {
    let text = rfc3339.trim_end_matches('Z').replacen('T', " ", 1);
    match text.split_once('.') {
        Some((seconds, fraction)) => {
            format!("{seconds}.{:0<6}", &fraction[..fraction.len().min(6)])
        }
        None => format!("{text}.000000"),
    }
}

/// The job name and user of a job id in dsub's form (`<name>--<user>--<yymmdd-HHMMSS>-<suffix>`).
pub fn id_parts(job_id: &str) -> Option<(&str, &str)> {
    let mut parts = job_id.splitn(3, "--");
    let (name, user, rest) = (parts.next()?, parts.next()?, parts.next()?);
    let stamp_ok = rest.len() == 19 && rest.as_bytes()[6] == b'-' && rest.as_bytes()[13] == b'-';
    stamp_ok.then_some((name, user))
}

/// dstat's `--age`: `<n>s|m|h|d|w` before `now_ms`, or a UTC time in seconds since 1970; the cutoff in ms.
pub fn age_cutoff(text: &str, now_ms: i64) -> Result<i64, String> {
    let bad = || {
        format!("--age {text}: expected a number and a unit s, m, h, d or w (e.g. 3d), or seconds since 1970")
    };
    if let Ok(seconds) = text.parse::<i64>() {
        return Ok(seconds.saturating_mul(1000));
    }
    let unit = text.chars().last().ok_or_else(bad)?;
    let number = &text[..text.len() - unit.len_utf8()];
    let n: i64 = number.parse().map_err(|_| bad())?;
    let scale = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        'w' => 604_800,
        _ => return Err(bad()),
    };
    Ok(now_ms.saturating_sub(n.saturating_mul(scale).saturating_mul(1000)))
}

/// `--label KEY=VALUE` filters: every one must be the task's.
pub fn labels_match(row: &Row, wanted: &[(String, String)]) -> bool {
    wanted.iter().all(|(k, v)| row.labels.get(k) == Some(v))
}

/// dstat's `--summary`: tasks counted by job and state, RUNNING, SUCCESS, FAILURE, CANCELED in turn.
pub fn summary(rows: &[Row]) -> Vec<BTreeMap<&'static str, serde_json::Value>> {
    let mut counts: BTreeMap<(String, DStatus), usize> = BTreeMap::new();
    for row in rows {
        let name = if row.job_name.is_empty() {
            &row.job_id
        } else {
            &row.job_name
        };
        *counts.entry((name.clone(), row.status)).or_default() += 1;
    }
    let mut out: Vec<_> = counts.into_iter().collect();
    out.sort_by_key(|((name, status), _)| (*status, name.clone()));
    out.into_iter()
        .map(|((name, status), count)| {
            BTreeMap::from([
                ("job-name", name.into()),
                ("status", status.as_str().into()),
                ("task-count", count.into()),
            ])
        })
        .collect()
}

/// dstat's default text: Job Name (at most 15), Task, Status (at most 42) and Last Update, aligned.
pub fn text_table(rows: &[Row]) -> String {
    let cut = |text: &str, width: usize| -> String {
        if text.chars().count() > width {
            format!("{}...", text.chars().take(width - 3).collect::<String>())
        } else {
            text.to_owned()
        }
    };
    let mut table = vec![["Job Name", "Task", "Status", "Last Update"].map(str::to_owned)];
    for row in rows {
        table.push([
            cut(&row.job_name, 15),
            row.task_id.clone(),
            cut(&row.status_message.replace('\n', " "), 42),
            row.last_update
                .get(5..19)
                .unwrap_or(&row.last_update)
                .to_owned(),
        ]);
    }
    let widths: Vec<usize> = (0..4)
        .map(|i| {
            table
                .iter()
                .map(|r| r[i].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for (n, cells) in table.iter().enumerate() {
        let line: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
        if n == 0 {
            let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
            out.push_str(&rule.join("  "));
            out.push('\n');
        }
    }
    out
}

/// YAML of a JSON value, keys sorted as dsub's YAML has them: a list of maps in block style, each scalar (and each
/// nested list or map) in JSON's flow form, which YAML reads as the same value.
pub fn yaml(value: &serde_json::Value) -> String {
    fn map(
        out: &mut String,
        indent: &str,
        m: &serde_json::Map<String, serde_json::Value>,
        first: &str,
    ) {
        let mut lead = first.to_owned();
        let keys: std::collections::BTreeSet<&String> = m.keys().collect();
        for key in keys {
            let value = &m[key];
            match value {
                serde_json::Value::Object(inner) if !inner.is_empty() => {
                    out.push_str(&format!("{lead}{key}:\n"));
                    map(out, &format!("{indent}  "), inner, &format!("{indent}  "));
                }
                _ => out.push_str(&format!("{lead}{key}: {value}\n")),
            }
            lead = indent.to_owned();
        }
    }
    let mut out = String::new();
    match value {
        serde_json::Value::Array(items) if !items.is_empty() => {
            for item in items {
                match item {
                    serde_json::Value::Object(m) if !m.is_empty() => map(&mut out, "  ", m, "- "),
                    other => out.push_str(&format!("- {other}\n")),
                }
            }
        }
        serde_json::Value::Object(m) if !m.is_empty() => map(&mut out, "", m, ""),
        other => out.push_str(&format!("{other}\n")),
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::chain::Outcome;

    fn task(index: usize, state: TaskState, reason: &str) -> TaskStatus {
        TaskStatus {
            index,
            state,
            attempts: 2,
            instance_type: Some("t3.micro".to_owned()),
            spot: true,
            exit_code: Some(0),
            reason: reason.to_owned(),
            log: None,
            held: None,
        }
    }

    #[test]
    fn tasks_have_dsubs_states() {
        let ended = |o| TaskState::Ended(o);
        assert_eq!(
            status_of(ended(Outcome::Succeeded), "exited 0"),
            DStatus::Success
        );
        assert_eq!(
            status_of(ended(Outcome::Failed), "exited 1"),
            DStatus::Failure
        );
        assert_eq!(
            status_of(
                ended(Outcome::InfrastructureError),
                "the job's execution ended ABORTED"
            ),
            DStatus::Canceled
        );
        assert_eq!(status_of(TaskState::Booting, ""), DStatus::Running);
        assert_eq!(
            DStatus::parse_filter(&[]).unwrap(),
            Some(vec![DStatus::Running])
        );
        assert_eq!(DStatus::parse_filter(&["*".to_owned()]).unwrap(), None);
        assert!(DStatus::parse_filter(&["DONE".to_owned()])
            .unwrap_err()
            .contains("CANCELED"));
    }

    #[test]
    fn a_row_has_dsubs_fields_from_the_tasks_file() {
        let file = crate::tasks::parse(
            "t.tsv",
            b"--env SAMPLE\t--input BAM\t--label batch\t--output-recursive OUT\na\ts3://bkt/a.bam\tb1\ts3://bkt/o/\n",
        )
        .unwrap();
        let job = Job {
            job_id: "wc--me--261207-231018-abcde".to_owned(),
            job_name: "wc".to_owned(),
            user_id: "me".to_owned(),
            create_time: Some("2026-12-07T23:10:18.5Z".to_owned()),
            ..Job::default()
        };
        let row = row(
            &job,
            &task(0, TaskState::Ended(Outcome::Succeeded), "exited 0"),
            Some(&file),
            "2026-12-08T00:00:00Z",
        );
        let json = serde_json::to_value(&row).unwrap();
        assert_eq!(json["task-id"], "1");
        assert_eq!(json["status"], "SUCCESS");
        assert_eq!(json["status-message"], "Success");
        assert_eq!(json["task-attempt"], 2);
        assert_eq!(json["create-time"], "2026-12-07 23:10:18.500000");
        assert_eq!(json["last-update"], "2026-12-08 00:00:00.000000");
        assert_eq!(json["envs"]["SAMPLE"], "a");
        assert_eq!(json["inputs"]["BAM"], "s3://bkt/a.bam");
        assert_eq!(json["labels"]["batch"], "b1");
        assert_eq!(json["output-recursives"]["OUT"], "s3://bkt/o/");
        assert_eq!(json["provider-attributes"]["instance-type"], "t3.micro");
        assert!(labels_match(&row, &[("batch".to_owned(), "b1".to_owned())]));
        assert!(!labels_match(
            &row,
            &[("batch".to_owned(), "b2".to_owned())]
        ));
        let yaml = yaml(&serde_json::Value::Array(vec![json]));
        assert!(
            yaml.starts_with("- create-time: \"2026-12-07 23:10:18.500000\"\n  end-time: \"\"\n"),
            "{yaml}"
        );
        assert!(yaml.contains("\n  envs:\n    SAMPLE: \"a\"\n"), "{yaml}");
        let table = text_table(&[row]);
        assert!(
            table.starts_with("Job Name  Task  Status   Last Update\n"),
            "{table}"
        );
        assert!(
            table.contains("wc        1     Success  12-08 00:00:00"),
            "{table}"
        );
    }

    #[test]
    fn ids_ages_and_summaries_are_dstats() {
        assert_eq!(
            id_parts("wc--jane-doe--261207-231018-abcde"),
            Some(("wc", "jane-doe"))
        );
        assert_eq!(id_parts("wordcount-abcde"), None);
        assert_eq!(
            age_cutoff("2h", 10_000_000).unwrap(),
            10_000_000 - 7_200_000
        );
        assert_eq!(age_cutoff("1700000000", 0).unwrap(), 1_700_000_000_000);
        assert!(age_cutoff("2y", 0).is_err());
        assert!(
            age_cutoff("3é", 0).is_err(),
            "a unit of two bytes is refused, not a panic"
        );
        assert!(age_cutoff("", 0).is_err());
        let job = Job {
            job_name: "wc".to_owned(),
            ..Job::default()
        };
        let rows: Vec<Row> = [
            TaskState::Running,
            TaskState::Ended(Outcome::Succeeded),
            TaskState::Running,
        ]
        .into_iter()
        .enumerate()
        .map(|(i, s)| row(&job, &task(i, s, ""), None, "2026-12-08T00:00:00Z"))
        .collect();
        let s = summary(&rows);
        assert_eq!(
            serde_json::to_string(&s).unwrap(),
            r#"[{"job-name":"wc","status":"RUNNING","task-count":2},{"job-name":"wc","status":"SUCCESS","task-count":1}]"#
        );
    }
}
