//! Following a job to its end: `ecsub-cli watch JOB` and `push --wait`. On a terminal the screen is redrawn every
//! poll: the counts by state, a progress bar, and the tasks that are not done, each with why it is not running yet
//! (waiting for a slot, being launched, booting, joining, starting, retrying after an interruption). Elsewhere (a
//! log, a pipe) plain lines: the counts when they change, and (watch) one line per task whose state or reason
//! changes.
//! `watch` draws on stdout; `push --wait` on stderr, so that its stdout is the job id and the final table. Both end
//! with the status table on stdout and an exit code: 0 all succeeded, 1 some failed, 2 rejected, 3 otherwise.

use super::collect::{collect, Seen};
use super::session::{connect, runtime};
use super::view::print;
use crate::args::{Output, WatchArgs};
use crate::aws::job_layout;
use crate::error::{EXIT_INPUT, EXIT_RUNTIME, EXIT_TASK_FAILED};
use crate::table::human;
use ecsub_aws::Clients;
use ecsub_core::status::{JobState, JobStatus, TaskState};
use ecsub_core::JobLayout;
use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// Rows of not-done tasks shown on a terminal (the rest are counted).
const SHOWN: usize = 30;

pub fn watch(args: &WatchArgs) -> anyhow::Result<ExitCode> {
    let layout = job_layout("watch", &args.job, args.aws_s3_bucket.as_deref())?;
    runtime()?.block_on(async {
        let aws = connect().await?;
        follow(&aws, &layout, args.poll, None, Draw::Stdout).await
    })
}

/// `push --wait`: follows the job on stderr. `pickup` is how long the job may stay `submitted` (the submit
/// function has neither started nor refused it).
pub async fn wait(
    aws: &Clients,
    layout: &JobLayout,
    poll: f64,
    pickup: Duration,
) -> anyhow::Result<ExitCode> {
    follow(aws, layout, poll, Some(pickup), Draw::Stderr).await
}

/// Where the live view goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Draw {
    Stdout,
    Stderr,
}

impl Draw {
    fn tty(self) -> bool {
        match self {
            Draw::Stdout => std::io::stdout().is_terminal(),
            Draw::Stderr => std::io::stderr().is_terminal(),
        }
    }

    fn put(self, text: &str) {
        match self {
            Draw::Stdout => {
                show_inline!("{text}");
                let _ = std::io::stdout().flush();
            }
            Draw::Stderr => {
                say_inline!("{text}");
                let _ = std::io::stderr().flush();
            }
        }
    }
}

async fn follow(
    aws: &Clients,
    layout: &JobLayout,
    poll: f64,
    pickup: Option<Duration>,
    draw: Draw,
) -> anyhow::Result<ExitCode> {
    let tty = draw.tty();
    let delay = Duration::from_secs_f64(poll.clamp(0.2, 300.0));
    let since = Instant::now();
    let mut seen = Seen::default();
    let mut states: HashMap<usize, (TaskState, String)> = HashMap::new();
    let mut last_counts = String::new();
    let (mut read_once, mut failed_polls) = (false, 0);
    loop {
        // A poll that fails once the job has been read (a throttled ECS or Step Functions call past the SDK's own
        // retries, a network blip) is said and tried again at the next poll: one bad second of an hours-long job
        // must not end the wait. The first poll's failure (a wrong bucket or profile, no permission) ends it at
        // once, as do MAX_FAILED_POLLS in a row.
        let status = match collect(aws, layout, &mut seen).await {
            Ok(status) => {
                (read_once, failed_polls) = (true, 0);
                status
            }
            Err(e) if !read_once || failed_polls + 1 >= MAX_FAILED_POLLS => return Err(e),
            Err(e) => {
                failed_polls += 1;
                say!(
                    "ecsub: reading job {} failed ({failed_polls} of {MAX_FAILED_POLLS} in a row); trying again in {}: {e:#}",
                    layout.job_id,
                    human(delay)
                );
                tokio::time::sleep(delay).await;
                continue;
            }
        };
        let counts = counts_line(&status);
        if tty {
            draw.put(&format!(
                "\x1b[H\x1b[2J{}",
                screen(&status, &counts, since.elapsed())
            ));
        } else {
            let mut text = String::new();
            if counts != last_counts {
                text.push_str(&format!("{counts} [{}]\n", human(since.elapsed())));
            }
            // push --wait in a log: the counts only (a line per task of a 10 000-task job is watch's to give).
            if draw == Draw::Stdout {
                for line in changes(&mut states, &status) {
                    text.push_str(&line);
                    text.push('\n');
                }
            }
            draw.put(&text);
        }
        last_counts = counts;
        // A job the stack parked until others end (--after) has been picked up: it waits as long as they run.
        if let Some(pickup) = pickup.filter(|p| {
            status.state == JobState::Submitted
                && !super::collect::parked(&status)
                && since.elapsed() > *p
        }) {
            return Err(anyhow::anyhow!(
                "job {} was uploaded but the stack's submit function has not started it after {}: check that \
                 the bucket is the stack's and see the submit function's logs (the job itself stays in {})",
                status.job_id,
                human(pickup),
                layout.url(&layout.job_folder())
            ));
        }
        if status.finished() {
            if tty {
                draw.put("\x1b[H\x1b[2J");
            }
            print(&status, Output::Text)?;
            return Ok(exit_code(&status));
        }
        tokio::time::sleep(delay).await;
    }
}

/// Polls in a row that may fail before `watch` and `push --wait` give up.
const MAX_FAILED_POLLS: u32 = 5;

/// The exit code of a command that followed a job to its end.
fn exit_code(status: &JobStatus) -> ExitCode {
    match status.state {
        JobState::Succeeded => ExitCode::SUCCESS,
        JobState::Failed => ExitCode::from(EXIT_TASK_FAILED),
        JobState::Rejected => ExitCode::from(EXIT_INPUT),
        JobState::Submitted | JobState::Running | JobState::ExecutionEnded(_) => {
            ExitCode::from(EXIT_RUNTIME)
        }
    }
}

fn bar(done: usize, total: usize) -> String {
    const WIDTH: usize = 20;
    let filled = (done * WIDTH).checked_div(total).unwrap_or(0).min(WIDTH);
    format!("[{}{}]", "#".repeat(filled), "-".repeat(WIDTH - filled))
}

/// `job J: running [####------] 12/40 done, 1 failed`.
fn counts_line(status: &JobStatus) -> String {
    let total = status.tasks.len();
    format!(
        "job {}: {} {} {}/{} done, {} failed",
        status.job_id,
        status.state,
        bar(status.done(), total),
        status.done(),
        total,
        status.failed()
    )
}

/// What a terminal shows: the counts, the states, and the tasks not done with why.
fn screen(status: &JobStatus, counts: &str, elapsed: Duration) -> String {
    let mut out = format!(
        "{counts} [{}]\n{}\n\n",
        human(elapsed),
        super::view::counts(status)
    );
    let open: Vec<_> = status
        .tasks
        .iter()
        .filter(|t| !t.state.succeeded())
        .collect();
    for t in open.iter().take(SHOWN) {
        out.push_str(&format!(
            "  {:03}  {:<22}  {}\n",
            t.index, t.state, t.reason
        ));
    }
    if open.len() > SHOWN {
        out.push_str(&format!("  … and {} more\n", open.len() - SHOWN));
    }
    out
}

/// One line per task whose state or reason changed since the last poll (`task 003: booting -> running`,
/// `task 004: pending: waiting for a slot …`).
fn changes(states: &mut HashMap<usize, (TaskState, String)>, status: &JobStatus) -> Vec<String> {
    let mut lines = Vec::new();
    for t in &status.tasks {
        let now = (t.state, t.reason.clone());
        let before = states.insert(t.index, now.clone());
        if before.as_ref() == Some(&now) {
            continue;
        }
        let why = if t.reason.is_empty() {
            String::new()
        } else {
            format!(": {}", t.reason)
        };
        lines.push(match before {
            Some((state, _)) if state != t.state => {
                format!("task {:03}: {state} -> {}{why}", t.index, t.state)
            }
            _ => format!("task {:03}: {}{why}", t.index, t.state),
        });
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use ecsub_core::chain::Outcome;
    use ecsub_core::status::TaskStatus;

    fn status(states: &[TaskState]) -> JobStatus {
        JobStatus {
            job_id: "j-abcde".into(),
            state: JobState::Running,
            errors: Vec::new(),
            execution_arn: None,
            tasks: states
                .iter()
                .enumerate()
                .map(|(index, state)| TaskStatus {
                    index,
                    state: *state,
                    attempts: 1,
                    instance_type: None,
                    spot: false,
                    exit_code: None,
                    reason: if *state == TaskState::Pending {
                        "waiting for a slot: 1 tasks at once (--processes)".into()
                    } else {
                        String::new()
                    },
                    log: None,
                    held: None,
                })
                .collect(),
            cost: None,
            notes: Vec::new(),
        }
    }

    #[test]
    fn plain_lines_say_each_change_once_and_the_screen_says_why_tasks_wait() {
        let mut seen = HashMap::new();
        assert_eq!(
            changes(
                &mut seen,
                &status(&[TaskState::Booting, TaskState::Pending])
            ),
            [
                "task 000: booting",
                "task 001: pending: waiting for a slot: 1 tasks at once (--processes)"
            ]
        );
        assert_eq!(
            changes(
                &mut seen,
                &status(&[TaskState::Running, TaskState::Pending])
            ),
            ["task 000: booting -> running"]
        );
        let mut reason_changed = status(&[TaskState::Running, TaskState::Pending]);
        reason_changed.tasks[1].reason = "being launched".into();
        assert_eq!(
            changes(&mut seen, &reason_changed),
            ["task 001: pending: being launched"]
        );
        let s = status(&[TaskState::Ended(Outcome::Succeeded), TaskState::Pending]);
        assert_eq!(
            counts_line(&s),
            "job j-abcde: running [##########----------] 1/2 done, 0 failed"
        );
        let text = screen(&s, &counts_line(&s), Duration::from_secs(5));
        assert!(text.contains("1 pending, 1 succeeded"), "{text}");
        assert!(
            text.contains("  001  pending                 waiting for a slot"),
            "{text}"
        );
        assert!(!text.contains("  000"), "done tasks are not listed: {text}");
    }
}
