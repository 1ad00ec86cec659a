//! How `status` shows a job: a line of counts by state, then the tasks, those that need a look first.

use super::collect::{is_final, JobStatus, TaskStatus};
use crate::args::Output;

/// How a task's state sorts in the table: what needs a look first (failed), then what is under way, then what
/// is waiting, and what succeeded last.
fn table_rank(state: &str) -> u8 {
    match state {
        "succeeded" => 4,
        "pending" => 3,
        s if is_final(s) => 0,
        "retrying" => 1,
        _ => 2,
    }
}

/// `N tasks: 3 failed, 1 running, …`: how many tasks are in each state, in the table's order.
fn counts(status: &JobStatus) -> String {
    let mut by_state: std::collections::BTreeMap<(u8, &str), usize> =
        std::collections::BTreeMap::new();
    for t in &status.tasks {
        *by_state
            .entry((table_rank(&t.state), t.state.as_str()))
            .or_default() += 1;
    }
    let parts: Vec<String> = by_state
        .iter()
        .map(|((_, state), n)| format!("{n} {state}"))
        .collect();
    format!("{} tasks: {}", status.tasks.len(), parts.join(", "))
}

fn table(status: &JobStatus) -> String {
    let header = [
        "task",
        "state",
        "attempts",
        "instance_type",
        "spot",
        "exit_code",
        "reason",
    ];
    let mut rows: Vec<Vec<String>> = vec![header.iter().map(|h| (*h).to_owned()).collect()];
    let mut tasks: Vec<&TaskStatus> = status.tasks.iter().collect();
    tasks.sort_by_key(|t| (table_rank(&t.state), t.index));
    for t in tasks {
        rows.push(vec![
            format!("{:03}", t.index),
            t.state.clone(),
            t.attempts.to_string(),
            t.instance_type.clone().unwrap_or_else(|| "-".into()),
            if t.spot { "spot" } else { "on-demand" }.into(),
            t.exit_code.map_or_else(|| "-".into(), |c| c.to_string()),
            t.reason.clone(),
        ]);
    }
    // Why the job ended before its tasks did, if it did (the Map failed, the execution was stopped).
    let errors: String = status.errors.iter().map(|e| format!("  {e}\n")).collect();
    format!(
        "job {}: {}\n{errors}{}\n{}",
        status.job_id,
        status.state,
        counts(status),
        crate::report::align(&rows)
    )
}

pub(super) fn print(status: &JobStatus, output: Output) -> anyhow::Result<()> {
    match output {
        Output::Text => {
            if status.state == "rejected" {
                println!("job {}: rejected", status.job_id);
                for line in &status.errors {
                    println!("  {line}");
                }
            } else {
                print!("{}", table(status));
            }
        }
        Output::Json => println!("{}", serde_json::to_string_pretty(status)?),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(index: usize, state: &str) -> TaskStatus {
        TaskStatus {
            index,
            state: state.into(),
            attempts: 1,
            instance_type: Some("t3.micro".into()),
            spot: false,
            exit_code: None,
            reason: String::new(),
        }
    }

    #[test]
    fn the_table_counts_states_and_puts_the_tasks_to_look_at_first() {
        let status = JobStatus {
            job_id: "j-abcde".into(),
            state: "running".into(),
            errors: Vec::new(),
            execution_arn: None,
            tasks: vec![
                task(0, "succeeded"),
                task(1, "pending"),
                task(2, "outputs-missing"),
                task(3, "running"),
                task(4, "failed"),
                task(5, "retrying"),
                task(6, "succeeded"),
            ],
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
            state: "failed".into(),
            errors: vec!["the job's Map failed (States.ItemReaderFailed: denied)".into()],
            execution_arn: None,
            tasks: vec![task(0, "infrastructure-error")],
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
}
