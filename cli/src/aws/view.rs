//! How `status` shows a job: a line of counts by state, then the tasks, those that need a look first.

use crate::args::Output;
use crate::table::write_aligned;
use ecsub_core::cost::{format_usd, JobCost};
use ecsub_core::status::{JobState, JobStatus, TaskState, TaskStatus};

/// How a task's state sorts in the table: what needs a look first (failed), then what is under way, then what
/// is waiting, and what succeeded last.
fn table_rank(state: TaskState) -> u8 {
    match state {
        s if s.succeeded() => 4,
        TaskState::Pending => 3,
        TaskState::Ended(_) => 0,
        TaskState::Retrying => 1,
        TaskState::Booting | TaskState::Joining | TaskState::Starting | TaskState::Running => 2,
    }
}

/// Rows of cells as text columns, two spaces apart, without trailing blanks (`status`'s, `ls`'s and `report`'s
/// tables).
pub fn align(rows: &[Vec<String>]) -> String {
    let mut out = Vec::new();
    // Writing to a Vec cannot fail.
    let _ = write_aligned(&mut out, || rows.iter().cloned());
    String::from_utf8_lossy(&out).into_owned()
}

/// `N tasks: 3 failed, 1 running, …`: how many tasks are in each state, in the table's order.
pub fn counts(status: &JobStatus) -> String {
    let mut by_state: std::collections::BTreeMap<(u8, &str), usize> =
        std::collections::BTreeMap::new();
    for t in &status.tasks {
        *by_state
            .entry((table_rank(t.state), t.state.as_str()))
            .or_default() += 1;
    }
    let parts: Vec<String> = by_state
        .iter()
        .map(|((_, state), n)| format!("{n} {state}"))
        .collect();
    format!("{} tasks: {}", status.tasks.len(), parts.join(", "))
}

/// `cost: $1.23 (4 attempts; prices from …)`, and what could not be priced and why.
fn cost_lines(cost: &JobCost) -> String {
    let mut text = format!(
        "cost: {} ({} attempts; prices from {}{})\n",
        format_usd(cost.usd),
        cost.attempts.len(),
        if cost.sources.is_empty() {
            "nowhere".to_owned()
        } else {
            cost.sources.join(", ")
        },
        cost.ebs_source
            .as_ref()
            .map(|s| format!("; EBS from {s}"))
            .unwrap_or_default()
    );
    if cost.unpriced > 0 {
        text.push_str(&format!(
            "  {} attempts could not be priced and are not in the total\n",
            cost.unpriced
        ));
    }
    for note in &cost.notes {
        text.push_str(&format!("  {note}\n"));
    }
    text
}

fn table(status: &JobStatus) -> String {
    let mut header = vec![
        "task",
        "state",
        "attempts",
        "instance_type",
        "spot",
        "exit_code",
    ];
    if status.cost.is_some() {
        header.push("cost");
    }
    header.push("reason");
    let mut rows: Vec<Vec<String>> = vec![header.iter().map(|h| (*h).to_owned()).collect()];
    let by_task = status.cost.as_ref().map(JobCost::by_task);
    let mut tasks: Vec<&TaskStatus> = status.tasks.iter().collect();
    tasks.sort_by_key(|t| (table_rank(t.state), t.index));
    for t in tasks {
        let mut row = vec![
            format!("{:03}", t.index),
            t.state.to_string(),
            t.attempts.to_string(),
            t.instance_type.clone().unwrap_or_else(|| "-".into()),
            if t.spot { "spot" } else { "on-demand" }.into(),
            t.exit_code.map_or_else(|| "-".into(), |c| c.to_string()),
        ];
        if let Some(by_task) = &by_task {
            row.push(format_usd(by_task.get(&t.index).copied().unwrap_or(0.0)));
        }
        row.push(t.reason.clone());
        rows.push(row);
    }
    // Why the job ended before its tasks did, if it did (the Map failed, the execution was stopped).
    let errors: String = status
        .errors
        .iter()
        .map(|e| format!("  {e}\n"))
        .chain(status.notes.iter().map(|n| format!("  note: {n}\n")))
        .collect();
    let cost = status.cost.as_ref().map(cost_lines).unwrap_or_default();
    format!(
        "job {}: {}\n{errors}{}\n{cost}{}{}",
        status.job_id,
        status.state,
        counts(status),
        align(&rows),
        held_lines(status)
    )
}

/// For each task whose instance is held for a look (`--keep-on-failure`): until when, how to get in, where its
/// files are, and how to end the hold sooner.
pub fn held_lines(status: &JobStatus) -> String {
    let mut out = String::new();
    for t in &status.tasks {
        let Some(held) = &t.held else { continue };
        out.push_str(&format!(
            "task {} failed; its instance {} is held for a look until {} (billed until then):\n  \
             get in:  aws ssm start-session --target {}   (the AWS CLI's Session Manager plugin; the task's files \
             are in {})\n  \
             release: ecsub-cli release {} {}\n",
            t.index,
            held.instance_id,
            held.until,
            held.instance_id,
            ecsub_core::chain::instance::SCRATCH,
            status.job_id,
            t.index
        ));
    }
    out
}

pub fn print(status: &JobStatus, output: Output) -> anyhow::Result<()> {
    match output {
        Output::Text => {
            if status.state == JobState::Rejected {
                show!("job {}: rejected", status.job_id);
                for line in &status.errors {
                    show!("  {line}");
                }
            } else {
                show_inline!("{}", table(status));
            }
        }
        Output::Json => show!("{}", serde_json::to_string_pretty(status)?),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ecsub_core::chain::Outcome;
    use TaskState::Ended;

    fn task(index: usize, state: TaskState) -> TaskStatus {
        TaskStatus {
            index,
            state,
            attempts: 1,
            instance_type: Some("t3.micro".into()),
            spot: false,
            exit_code: None,
            reason: String::new(),
            log: None,
            held: None,
        }
    }

    #[test]
    fn the_table_counts_states_and_puts_the_tasks_to_look_at_first() {
        let status = JobStatus {
            job_id: "j-abcde".into(),
            state: JobState::Running,
            errors: Vec::new(),
            execution_arn: None,
            tasks: vec![
                task(0, Ended(Outcome::Succeeded)),
                task(1, TaskState::Pending),
                task(2, Ended(Outcome::OutputsMissing)),
                task(3, TaskState::Running),
                task(4, Ended(Outcome::Failed)),
                task(5, TaskState::Retrying),
                task(6, Ended(Outcome::Succeeded)),
            ],
            cost: None,
            notes: Vec::new(),
        };
        let text = table(&status);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "job j-abcde: running");
        assert_eq!(
            lines[1],
            "7 tasks: 1 failed, 1 outputs-missing, 1 retrying, 1 running, 1 pending, 2 succeeded"
        );
        let order: Vec<&str> = lines[3..]
            .iter()
            .map(|l| l.split_whitespace().next().unwrap_or_default())
            .collect();
        assert_eq!(order, ["002", "004", "005", "003", "001", "000", "006"]);
    }

    #[test]
    fn a_job_that_ended_early_says_why_under_its_state() {
        let status = JobStatus {
            job_id: "j-abcde".into(),
            state: JobState::Failed,
            errors: vec!["the job's Map failed (States.ItemReaderFailed: denied)".into()],
            execution_arn: None,
            tasks: vec![task(0, Ended(Outcome::InfrastructureError))],
            cost: None,
            notes: Vec::new(),
        };
        let text = table(&status);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "job j-abcde: failed");
        assert_eq!(
            lines[1],
            "  the job's Map failed (States.ItemReaderFailed: denied)"
        );
        assert_eq!(lines[2], "1 tasks: 1 infrastructure-error");
    }

    #[test]
    fn a_priced_job_shows_each_tasks_cost_and_the_total_with_its_sources() {
        use ecsub_core::cost::{price, sources, Prices, Rate, Span};
        let mut prices = Prices::default();
        prices.on_demand.insert(
            "t3.micro".into(),
            Rate {
                usd: 0.0104,
                source: sources::PRICING_API.into(),
            },
        );
        prices.notes.push("spot price history: denied".into());
        let span = |index: usize, hours: i64| Span {
            index,
            attempt: 1,
            instance_type: Some("t3.micro".into()),
            spot: false,
            availability_zone: None,
            launched_ms: Some(0),
            ended_ms: hours * 3_600_000,
            disk_gib: 30,
        };
        let status = JobStatus {
            job_id: "j-abcde".into(),
            state: JobState::Succeeded,
            errors: Vec::new(),
            execution_arn: None,
            tasks: vec![
                task(0, Ended(Outcome::Succeeded)),
                task(1, Ended(Outcome::Succeeded)),
            ],
            cost: Some(price(&[span(0, 1), span(1, 200)], &prices)),
            notes: Vec::new(),
        };
        let text = table(&status);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[2],
            "cost: $2.09 (2 attempts; prices from pricing-api)"
        );
        assert_eq!(lines[3], "  spot price history: denied");
        assert!(lines[4].contains("cost"), "{text}");
        assert!(lines[5].contains("$0.0104"), "{text}");
        assert!(lines[6].contains("$2.08"), "{text}");
    }
}
