//! The progress of a local run on stderr: one line per start and end, and on a terminal a status line kept up
//! to date.

use crate::table::human;
use std::io::{IsTerminal, Write};
use std::path::Path;
use std::time::Instant;

/// The progress shown on stderr: one line per start and end, and on a terminal a status line kept up to date.
pub struct Progress {
    total: usize,
    running: usize,
    done: usize,
    failed: usize,
    since: Instant,
    tty: bool,
}

impl Progress {
    pub fn new(total: usize) -> Progress {
        Progress {
            total,
            running: 0,
            done: 0,
            failed: 0,
            since: Instant::now(),
            tty: std::io::stderr().is_terminal(),
        }
    }

    pub fn say(&self, line: &str) {
        let mut err = std::io::stderr().lock();
        if self.tty {
            let _ = write!(err, "\r\x1b[K");
        }
        let _ = writeln!(err, "{line}");
        drop(err);
        self.redraw();
    }

    pub fn started(&mut self, index: usize, attempt: u32, log: &Path) {
        self.running += 1;
        let again = if attempt > 1 {
            format!("attempt {attempt}; ")
        } else {
            String::new()
        };
        self.say(&format!(
            "ecsub-cli: task {index:03} started ({again}log: {})",
            log.display()
        ));
    }

    /// A task's attempt has failed and the task will run again (`--retries`): it is not done.
    pub fn retrying(&mut self, index: usize, code: Option<i32>, note: &str, next: u32) {
        self.running = self.running.saturating_sub(1);
        self.say(&format!(
            "{}; it runs again (attempt {next}, --retries)",
            exited(index, code, note)
        ));
    }

    /// A task has ended: `succeeded` is its outcome, not its exit code (a task that exited 0 without its outputs
    /// failed).
    pub fn finished(&mut self, index: usize, code: Option<i32>, succeeded: bool, note: &str) {
        self.running = self.running.saturating_sub(1);
        self.done += 1;
        if !succeeded {
            self.failed += 1;
        }
        self.say(&format!(
            "{} [{}/{} done, {} running, {} failed, {}]",
            exited(index, code, note),
            self.done,
            self.total,
            self.running,
            self.failed,
            human(self.since.elapsed())
        ));
    }

    pub fn redraw(&self) {
        if self.tty {
            let mut err = std::io::stderr().lock();
            let _ = write!(
                err,
                "\r\x1b[K[{}/{} done, {} running, {} failed] {}",
                self.done,
                self.total,
                self.running,
                self.failed,
                human(self.since.elapsed())
            );
            let _ = err.flush();
        }
    }

    pub fn clear(&self) {
        if self.tty {
            say_inline!("\r\x1b[K");
        }
    }
}

/// `ecsub-cli: task 007 exited 3 (note)`: how an attempt ended.
fn exited(index: usize, code: Option<i32>, note: &str) -> String {
    let code = code.map_or_else(|| "-".to_owned(), |c| c.to_string());
    if note.is_empty() {
        format!("ecsub-cli: task {index:03} exited {code}")
    } else {
        format!("ecsub-cli: task {index:03} exited {code} ({note})")
    }
}
