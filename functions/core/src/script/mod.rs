//! Script generation: the container's `run.sh` (one per job) and `setenv.sh` (every task's environment, one
//! `case` branch per task), keeping ecsub's container contract.
//!
//! Values reach the task's environment byte for byte: they are only ever written inside single quotes. Every copy
//! goes through `ecsub_copy` in `run.sh`, so the same scripts run against S3 and against a local folder. Pure:
//! returns strings, writes nothing.

use crate::exit::{EXIT_INPUT_FAILED, EXIT_OUTPUT_FAILED};
use crate::job::SCRIPT_FILE;
use crate::options::JobSpec;
use crate::tasks::{Cell, Column, ColumnKind, Task};
use std::fmt::Write as _;

const RUN_SH_TEMPLATE: &str = include_str!("run.sh");

/// Quotes a value for a POSIX shell so that it is taken literally, whatever its bytes: `'it'\''s'`.
pub fn shell_quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    push_quoted(&mut out, value);
    out
}

fn push_quoted(out: &mut String, value: &str) {
    out.push('\'');
    for (i, part) in value.split('\'').enumerate() {
        if i > 0 {
            out.push_str("'\\''");
        }
        out.push_str(part);
    }
    out.push('\'');
}

/// The job's `run.sh`: the transport, the steps, and one download or upload line per input or output column.
pub fn run_script(spec: &JobSpec, columns: &[Column]) -> String {
    let copy_lines = |pick: fn(ColumnKind) -> bool, verb: &str, code: i32| {
        let lines = columns
            .iter()
            .filter(|c| pick(c.kind))
            .map(|c| {
                let mode = if c.kind.is_recursive() { "dir" } else { "file" };
                let n = &c.name;
                format!("ecsub_{verb} {mode} \"$S3_{n}\" \"${n}\" {n} || exit {code}")
            })
            .collect::<Vec<_>>();
        if lines.is_empty() {
            format!(": no {verb} columns")
        } else {
            lines.join("\n")
        }
    };
    let payer = format!(" {} ", spec.request_payer_buckets.join(" "));
    let shell = spec
        .shell
        .iter()
        .map(|w| shell_quote(w))
        .collect::<Vec<_>>()
        .join(" ");
    RUN_SH_TEMPLATE
        .replace("@JOB_ID@", spec.job_id.as_str())
        .replace("@JOB_ID_QUOTED@", &shell_quote(spec.job_id.as_str()))
        .replace("@PAYER_QUOTED@", &shell_quote(&payer))
        .replace(
            "@GETS@",
            &copy_lines(ColumnKind::is_input, "get", EXIT_INPUT_FAILED),
        )
        .replace(
            "@PUTS@",
            &copy_lines(ColumnKind::is_output, "put", EXIT_OUTPUT_FAILED),
        )
        .replace("@SCRIPT_FILE@", SCRIPT_FILE)
        // Last: the shell is the user's text, and no placeholder in it may be replaced.
        .replace("@SHELL@", &shell)
}

/// One task's environment: `export` lines for every column (input and output columns export `NAME`, the local
/// path under `$ECSUB_SCRATCH`, and `S3_NAME`, the URL), and a decryption call for each secret.
pub fn task_environment(columns: &[Column], task: &Task) -> String {
    let mut out = String::with_capacity(64 * columns.len());
    write_task_environment(&mut out, columns, task);
    out
}

fn write_task_environment(out: &mut String, columns: &[Column], task: &Task) {
    for (column, cell) in task.cells_with(columns) {
        let name = &column.name;
        match (column.kind, cell) {
            (ColumnKind::Label, _) => {}
            (ColumnKind::SecretEnv, cell) => {
                let _ = write!(out, "ecsub_secret {name} ");
                push_quoted(out, cell_text(cell));
                out.push_str(" || return 1\n");
            }
            (_, Cell::Path(path)) => {
                let _ = write!(out, "export {name}=\"$ECSUB_SCRATCH\"/");
                push_quoted(out, &path.local_relative());
                let _ = write!(out, "\nexport S3_{name}=");
                push_quoted(out, &path.url());
                out.push('\n');
            }
            (kind, cell) if kind.is_path() => {
                let _ = writeln!(out, "export {name}='' S3_{name}=''{}", empty_note(cell));
            }
            (_, cell) => {
                let _ = write!(out, "export {name}=");
                push_quoted(out, cell_text(cell));
                out.push('\n');
            }
        }
    }
}

fn cell_text(cell: &Cell) -> &str {
    match cell {
        Cell::Text(text) => text,
        Cell::Path(_) | Cell::Empty => "",
    }
}

fn empty_note(cell: &Cell) -> &'static str {
    match cell {
        Cell::Empty => "  # empty cell: nothing to copy",
        _ => "",
    }
}

/// Width of every line of `setenv.sh`'s index, so that a task finds its record by arithmetic.
pub const SETENV_INDEX_LINE: usize = 24;

/// `setenv.sh`: every selected task's environment in one file (one object to upload, whatever the number of
/// tasks), laid out so that a task reads only its own bytes, in constant time whatever the job's size:
///
/// ```text
/// # ecsub   FIRST   COUNT\n            line 0: the first task index in the file, and how many (24 bytes a line)
/// #       OFFSET   LENGTH\n            line 1 + (i - FIRST): where task i's environment is
/// ...
/// # comment, then each task's environment (export lines, sourced by run.sh)
/// ```
///
/// `tasks` must be consecutive indexes (a job's tasks, or a `--task-range` of them).
pub fn setenv_script<'a>(
    file: &str,
    columns: &[Column],
    tasks: impl IntoIterator<Item = &'a Task>,
) -> String {
    let tasks: Vec<&Task> = tasks.into_iter().collect();
    let header = SETENV_INDEX_LINE * (1 + tasks.len());
    // The index is written last, over a placeholder of its exact size: one buffer, no copy of the bodies.
    let mut out = String::with_capacity(header + 64 * columns.len() * tasks.len() + 256);
    out.extend(std::iter::repeat_n(' ', header));
    let _ = writeln!(
        out,
        "# ecsub setenv.sh (generated from {}; do not edit). Above: one 24-byte line per task, its environment's \
         offset and length in this file; run.sh reads its own task's bytes only.",
        file.replace(['\n', '\r'], " ")
    );
    let mut index = String::with_capacity(header);
    let first = tasks.first().map_or(0, |t| t.index);
    let _ = writeln!(index, "# ecsub {first:>7} {:>7}", tasks.len());
    for task in &tasks {
        let start = out.len();
        let _ = writeln!(out, "# task {} (line {})", task.index, task.line);
        write_task_environment(&mut out, columns, task);
        let _ = writeln!(index, "# {start:>12} {:>8}", out.len() - start);
    }
    debug_assert_eq!(index.len(), header);
    out.replace_range(..header, &index);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn setenv_indexes_each_tasks_bytes_in_fixed_width_lines() {
        let file = crate::tasks::parse("t.tsv", b"--env A\n#x\nzero\none\ntwo\nthree\n").unwrap();
        let picked = &file.tasks[1..3];
        let out = setenv_script("t.tsv", &file.columns, picked);
        let lines: Vec<&str> = out.split_inclusive('\n').collect();
        assert_eq!(lines[0], "# ecsub       1       2\n");
        for (line, task) in lines[1..3].iter().zip(picked) {
            assert_eq!(line.len(), SETENV_INDEX_LINE);
            let mut fields = line[1..]
                .split_whitespace()
                .map(|f| f.parse::<usize>().unwrap());
            let (offset, len) = (fields.next().unwrap(), fields.next().unwrap());
            let body = &out[offset..offset + len];
            assert_eq!(
                body,
                format!(
                    "# task {} (line {})\nexport A={}\n",
                    task.index,
                    task.line,
                    shell_quote(["zero", "one", "two", "three"][task.index])
                )
            );
        }
    }

    #[test]
    fn quoting_wraps_in_single_quotes_and_escapes_them() {
        assert_eq!(shell_quote(""), "''");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote("$(id) `x` \\ \""), r#"'$(id) `x` \ "'"#);
    }
}
