//! `--task-range`: a subset of a job's tasks by 0-based index, as dsub writes it (`M-N`, `M-`, `M`).

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A subset of tasks by 0-based index: `M-N` (both included), `M-` (to the end) or `M`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskRange {
    pub first: usize,
    /// The last index included; `None` means up to the last task.
    pub last: Option<usize>,
}

impl TaskRange {
    /// The indices this range selects out of `count` tasks, or why it selects none that exist.
    pub fn select(&self, count: usize) -> Result<std::ops::RangeInclusive<usize>, String> {
        let last_task = count
            .checked_sub(1)
            .ok_or_else(|| "there are no tasks".to_owned())?;
        let last = self.last.unwrap_or(last_task);
        if self.first > last_task || last > last_task {
            return Err(format!(
                "--task-range {self} is outside the {count} tasks (0-{last_task})"
            ));
        }
        Ok(self.first..=last)
    }
}

impl fmt::Display for TaskRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.last {
            Some(last) if last == self.first => write!(f, "{}", self.first),
            Some(last) => write!(f, "{}-{last}", self.first),
            None => write!(f, "{}-", self.first),
        }
    }
}

impl FromStr for TaskRange {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let number = |part: &str| {
            part.trim()
                .parse::<usize>()
                .map_err(|_| format!("`{s}` is not a task range (expected M-N, M- or M, e.g. 0-9)"))
        };
        let range = match s.split_once('-') {
            None => {
                let n = number(s)?;
                TaskRange {
                    first: n,
                    last: Some(n),
                }
            }
            Some((first, "")) => TaskRange {
                first: number(first)?,
                last: None,
            },
            Some((first, last)) => TaskRange {
                first: number(first)?,
                last: Some(number(last)?),
            },
        };
        if let Some(last) = range.last {
            if last < range.first {
                return Err(format!("task range `{s}` ends before it starts"));
            }
        }
        Ok(range)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_ranges_parse_like_dsub() {
        assert_eq!("3".parse::<TaskRange>().unwrap().select(10).unwrap(), 3..=3);
        assert_eq!(
            "2-".parse::<TaskRange>().unwrap().select(10).unwrap(),
            2..=9
        );
        assert_eq!(
            "0-4".parse::<TaskRange>().unwrap().select(10).unwrap(),
            0..=4
        );
        assert_eq!(
            "5-9".parse::<TaskRange>().unwrap().select(2).unwrap_err(),
            "--task-range 5-9 is outside the 2 tasks (0-1)"
        );
        assert_eq!(
            "4-2".parse::<TaskRange>().unwrap_err(),
            "task range `4-2` ends before it starts"
        );
        assert!("a-b"
            .parse::<TaskRange>()
            .unwrap_err()
            .contains("not a task range"));
        assert_eq!(
            "-3".parse::<TaskRange>().unwrap_err(),
            "`-3` is not a task range (expected M-N, M- or M, e.g. 0-9)"
        );
    }
}
