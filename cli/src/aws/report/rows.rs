//! `ecsub-cli report JOB`: one row per attempt of every task of a pushed job, in ecsub's columns (exit_code,
//! taskname, no, spot, task_startAt, task_endAt, instance_type, cpu, memory, disk_size, price, instance_createAt,
//! instance_stopAt, log) with the attempt and its outcome beside them; as a table, TSV, JSON, or a self-contained
//! HTML page with a timeline (`html.rs`). Pure: the rows are made from what the command (`report/mod.rs`) read.

use ecsub_core::chain::{AttemptRecord, Summary};
use ecsub_core::cost::format_usd;
use serde::Serialize;
use std::collections::BTreeMap;

/// An instance type's size, from EC2's DescribeInstanceTypes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Size {
    pub vcpus: u32,
    pub memory_mib: u64,
}

/// One attempt of one task.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    pub exit_code: Option<i32>,
    pub taskname: String,
    pub no: usize,
    pub attempt: u32,
    pub outcome: String,
    pub spot: bool,
    #[serde(rename = "task_startAt")]
    pub task_start_at: Option<String>,
    #[serde(rename = "task_endAt")]
    pub task_end_at: Option<String>,
    pub instance_type: Option<String>,
    pub cpu: Option<u32>,
    /// MiB.
    pub memory: Option<u64>,
    /// GiB of the root volume.
    pub disk_size: u32,
    /// US dollars, when the job has been priced.
    pub price: Option<f64>,
    pub price_source: Option<String>,
    #[serde(rename = "instance_createAt")]
    pub instance_create_at: Option<String>,
    #[serde(rename = "instance_stopAt")]
    pub instance_stop_at: Option<String>,
    /// The CloudWatch console's page of the attempt's log stream.
    pub log: Option<String>,
    pub reason: String,
}

/// The columns, in the order they are printed (`--sortby` takes any of them).
pub const COLUMNS: [&str; 17] = [
    "exit_code",
    "taskname",
    "no",
    "attempt",
    "outcome",
    "spot",
    "task_startAt",
    "task_endAt",
    "instance_type",
    "cpu",
    "memory",
    "disk_size",
    "price",
    "instance_createAt",
    "instance_stopAt",
    "log",
    "reason",
];

/// Where the attempts' logs are (for the console links).
#[derive(Debug, Clone)]
pub struct Logs {
    pub region: String,
    pub group: String,
}

impl Logs {
    /// The CloudWatch console's page of a log stream (the console's URL escapes `/` as `$252F`).
    pub fn link(&self, stream: &str) -> String {
        let escape = |s: &str| {
            s.chars()
                .map(|c| match c {
                    'a'..='z' | 'A'..='Z' | '0'..='9' | '-' | '_' | '.' => c.to_string(),
                    c => {
                        let mut buf = [0u8; 4];
                        c.encode_utf8(&mut buf)
                            .bytes()
                            .map(|b| format!("$25{b:02X}"))
                            .collect()
                    }
                })
                .collect::<String>()
        };
        format!(
            "https://{r}.console.aws.amazon.com/cloudwatch/home?region={r}#logsV2:log-groups/log-group/{}/log-events/{}",
            escape(&self.group),
            escape(stream),
            r = self.region
        )
    }
}

/// The rows of a job: one per attempt record, with its price from the summary when the job was priced.
pub fn rows(
    job_id: &str,
    records: &[AttemptRecord],
    summary: Option<&Summary>,
    sizes: &BTreeMap<String, Size>,
    disk_gib: u32,
    logs: &Logs,
) -> Vec<Row> {
    let priced: BTreeMap<(usize, u32), (f64, String)> = summary
        .and_then(|s| s.cost.as_ref())
        .map(|c| {
            c.attempts
                .iter()
                .filter(|a| a.unpriced.is_none())
                .map(|a| ((a.index, a.attempt), (a.usd, a.source.clone())))
                .collect()
        })
        .unwrap_or_default();
    let mut rows: Vec<Row> = records
        .iter()
        .map(|r| {
            let size = r.instance_type.as_ref().and_then(|t| sizes.get(t));
            let price = priced.get(&(r.index, r.attempt));
            Row {
                exit_code: r.exit_code,
                taskname: job_id.to_owned(),
                no: r.index,
                attempt: r.attempt,
                outcome: r.outcome.as_str().to_owned(),
                spot: r.spot,
                task_start_at: r.started_at.clone(),
                task_end_at: r.stopped_at.clone(),
                instance_type: r.instance_type.clone(),
                cpu: size.map(|s| s.vcpus),
                memory: size.map(|s| s.memory_mib),
                disk_size: disk_gib,
                price: price.map(|p| p.0),
                price_source: price.map(|p| p.1.clone()),
                instance_create_at: r.launched_at.clone(),
                instance_stop_at: r.instance_id.as_ref().map(|_| r.recorded_at.clone()),
                log: r
                    .task_arn
                    .as_deref()
                    .map(|arn| logs.link(&ecsub_core::chain::log_stream(arn))),
                reason: r.reason.clone(),
            }
        })
        .collect();
    rows.sort_by_key(|r| (r.no, r.attempt));
    rows
}

/// A cell's value for sorting: numbers as numbers, times and words as text, a missing value first.
#[derive(Debug, Clone, PartialEq, PartialOrd)]
enum Key {
    Missing,
    Number(f64),
    Text(String),
}

fn key(row: &Row, column: &str) -> Key {
    let number = |v: Option<f64>| v.map_or(Key::Missing, Key::Number);
    let text = |v: Option<&String>| v.map_or(Key::Missing, |s| Key::Text(s.clone()));
    match column {
        "exit_code" => number(row.exit_code.map(f64::from)),
        "no" => Key::Number(row.no as f64),
        "attempt" => Key::Number(f64::from(row.attempt)),
        "cpu" => number(row.cpu.map(f64::from)),
        "memory" => number(row.memory.map(|m| m as f64)),
        "disk_size" => Key::Number(f64::from(row.disk_size)),
        "price" => number(row.price),
        "spot" => Key::Number(f64::from(u8::from(row.spot))),
        "taskname" => Key::Text(row.taskname.clone()),
        "outcome" => Key::Text(row.outcome.clone()),
        "task_startAt" => text(row.task_start_at.as_ref()),
        "task_endAt" => text(row.task_end_at.as_ref()),
        "instance_type" => text(row.instance_type.as_ref()),
        "instance_createAt" => text(row.instance_create_at.as_ref()),
        "instance_stopAt" => text(row.instance_stop_at.as_ref()),
        "log" => text(row.log.as_ref()),
        _ => Key::Text(row.reason.clone()),
    }
}

/// Sorts the rows by a column (stable: ties keep task and attempt order); an unknown column is an error naming
/// the ones there are.
pub fn sort(rows: &mut [Row], column: &str) -> Result<(), String> {
    if !COLUMNS.contains(&column) {
        return Err(format!(
            "--sortby: no column `{column}`; the columns are {}",
            COLUMNS.join(", ")
        ));
    }
    rows.sort_by(|a, b| {
        key(a, column)
            .partial_cmp(&key(b, column))
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    Ok(())
}

pub(super) fn cells(row: &Row) -> Vec<String> {
    let or_dash = |v: Option<String>| v.unwrap_or_else(|| "-".to_owned());
    vec![
        or_dash(row.exit_code.map(|c| c.to_string())),
        row.taskname.clone(),
        format!("{:03}", row.no),
        row.attempt.to_string(),
        row.outcome.clone(),
        if row.spot { "spot" } else { "on-demand" }.to_owned(),
        or_dash(row.task_start_at.clone()),
        or_dash(row.task_end_at.clone()),
        or_dash(row.instance_type.clone()),
        or_dash(row.cpu.map(|c| c.to_string())),
        or_dash(row.memory.map(|m| m.to_string())),
        row.disk_size.to_string(),
        or_dash(row.price.map(format_usd)),
        or_dash(row.instance_create_at.clone()),
        or_dash(row.instance_stop_at.clone()),
        or_dash(row.log.clone()),
        row.reason.clone(),
    ]
}

/// The rows as an aligned table (the log links and reasons last, unaligned).
pub fn text(rows: &[Row]) -> String {
    let mut table: Vec<Vec<String>> = vec![COLUMNS.iter().map(|c| (*c).to_owned()).collect()];
    table.extend(rows.iter().map(cells));
    super::super::view::align(&table)
}

/// The rows as TSV with a header (tabs and newlines in a reason become spaces).
pub fn tsv(rows: &[Row]) -> String {
    let clean = |s: String| s.replace(['\t', '\n', '\r'], " ");
    let mut out = COLUMNS.join("\t");
    out.push('\n');
    for row in rows {
        let mut line: Vec<String> = cells(row).into_iter().map(clean).collect();
        if let Some(price) = row.price {
            line[12] = format!("{price:.6}");
        }
        out.push_str(&line.join("\t"));
        out.push('\n');
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use ecsub_core::chain::Outcome;
    use ecsub_core::JobId;

    pub fn record(index: usize, attempt: u32, outcome: Outcome, spot: bool) -> AttemptRecord {
        let at = |m: u32| format!("2026-12-04T03:{m:02}:00Z");
        let base = index as u32 * 3 + attempt * 10;
        AttemptRecord {
            job_id: JobId::new("wc", "abcde").unwrap_or_else(|e| panic!("{e}")),
            index,
            attempt,
            spot,
            instance_id: Some(format!("i-{index}{attempt}")),
            instance_type: Some("m5.large".into()),
            task_arn: Some(format!("arn:aws:ecs:us-east-1:1:task/c/t{index}{attempt}")),
            outcome,
            class: None,
            exit_code: (outcome != Outcome::Interrupted).then_some(0),
            reason: format!("{outcome:?}"),
            missing_outputs: Vec::new(),
            started_at: Some(at(base + 2)),
            stopped_at: Some(at(base + 5)),
            launched_at: Some(at(base)),
            availability_zone: Some("us-east-1a".into()),
            recorded_at: at(base + 6),
            recorded_by: "task-stopped".into(),
            next_attempt: None,
            held_until: None,
        }
    }

    pub fn sample() -> Vec<Row> {
        let records = [
            record(1, 1, Outcome::Succeeded, false),
            record(0, 2, Outcome::Succeeded, false),
            record(0, 1, Outcome::Interrupted, true),
        ];
        let sizes = BTreeMap::from([(
            "m5.large".to_owned(),
            Size {
                vcpus: 2,
                memory_mib: 8192,
            },
        )]);
        let logs = Logs {
            region: "us-east-1".into(),
            group: "/ecsub/ecsub/wc-abcde".into(),
        };
        rows("wc-abcde", &records, None, &sizes, 52, &logs)
    }

    #[test]
    fn rows_are_attempts_in_task_order_with_ecsubs_columns() {
        let rows = sample();
        let order: Vec<(usize, u32)> = rows.iter().map(|r| (r.no, r.attempt)).collect();
        assert_eq!(order, [(0, 1), (0, 2), (1, 1)]);
        assert_eq!(rows[0].cpu, Some(2));
        assert_eq!(rows[0].memory, Some(8192));
        assert_eq!(
            rows[0].log.as_deref(),
            Some(
                "https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1#logsV2:log-groups/\
                 log-group/$252Fecsub$252Fecsub$252Fwc-abcde/log-events/ecsub$252Fmain$252Ft01"
            )
        );
        let json = serde_json::to_value(&rows[0]).unwrap_or_default();
        assert_eq!(json["task_startAt"], "2026-12-04T03:12:00Z");
        assert_eq!(json["instance_createAt"], "2026-12-04T03:10:00Z");
        let tsv = tsv(&rows);
        assert_eq!(tsv.lines().next(), Some(COLUMNS.join("\t").as_str()));
        assert_eq!(tsv.lines().count(), 4);
        let table = text(&rows);
        let lines: Vec<&str> = table.lines().collect();
        assert!(
            lines[0].starts_with("exit_code  taskname  no   attempt"),
            "{table}"
        );
        assert!(
            lines[1].starts_with("-          wc-abcde  000  1 "),
            "{table}"
        );
        assert!(
            lines[2].starts_with("0          wc-abcde  000  2 "),
            "{table}"
        );
    }

    #[test]
    fn sortby_orders_by_the_column_and_names_the_columns_when_it_is_not_one() {
        let mut rows = sample();
        sort(&mut rows, "task_startAt").unwrap_or_else(|e| panic!("{e}"));
        let order: Vec<(usize, u32)> = rows.iter().map(|r| (r.no, r.attempt)).collect();
        assert_eq!(order, [(0, 1), (1, 1), (0, 2)]);
        sort(&mut rows, "exit_code").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(rows[0].exit_code, None, "missing values first");
        let wrong = sort(&mut rows, "colour").unwrap_err();
        assert!(
            wrong.starts_with("--sortby: no column `colour`; the columns are exit_code, taskname")
        );
    }
}
