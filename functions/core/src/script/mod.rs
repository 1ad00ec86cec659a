//! Script generation: the container's `run.sh` (one per job) and `setenv.sh` (every task's environment, one
//! `case` branch per task), keeping ecsub's container contract.
//!
//! Values reach the task's environment byte for byte: they are only ever written inside single quotes. Every copy
//! goes through `ecsub_copy` in `run.sh`, so the same scripts run against S3 and against a local folder. Pure:
//! returns strings, writes nothing.

use crate::exit::{EXIT_DISK_FULL, EXIT_INPUT_FAILED, EXIT_OUTPUT_FAILED};
use crate::job::SCRIPT_FILE;
use crate::options::JobSpec;
use crate::s3path::LOCAL_DATA_DIR;
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
    push_quoted_parts(out, &[value]);
}

/// Quotes the concatenation of `parts`, with no copy of it made.
fn push_quoted_parts(out: &mut String, parts: &[&str]) {
    out.push('\'');
    for part in parts {
        for (i, piece) in part.split('\'').enumerate() {
            if i > 0 {
                out.push_str("'\\''");
            }
            out.push_str(piece);
        }
    }
    out.push('\'');
}

/// The job's `run.sh`: the transport, the steps, and one download or upload line per input or output column.
pub fn run_script(spec: &JobSpec, columns: &[Column]) -> String {
    let copy_lines = |pick: fn(ColumnKind) -> bool, verb: &str, on_failure: &str| {
        let lines = columns
            .iter()
            .filter(|c| pick(c.kind))
            .map(|c| {
                let mode = if c.kind.is_recursive() { "dir" } else { "file" };
                let n = &c.name;
                format!("ecsub_{verb} {mode} \"$S3_{n}\" \"${n}\" {n} || {on_failure}")
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
    let logging = shell_quote(spec.logging.as_deref().unwrap_or_default());
    let fixed = RUN_SH_TEMPLATE
        .replace("@JOB_ID@", spec.job_id.as_str())
        .replace("@JOB_ID_QUOTED@", &shell_quote(spec.job_id.as_str()))
        .replace("@PAYER_QUOTED@", &shell_quote(&payer))
        .replace(
            "@GETS@",
            &copy_lines(
                ColumnKind::is_input,
                "get",
                &format!("ecsub_failed {EXIT_INPUT_FAILED} \"$?\""),
            ),
        )
        .replace(
            "@PUTS@",
            &copy_lines(
                ColumnKind::is_output,
                "put",
                &format!("exit {EXIT_OUTPUT_FAILED}"),
            ),
        )
        .replace("@MKDIRS@", &output_folders(spec, columns))
        .replace("@DISK_FULL@", &EXIT_DISK_FULL.to_string())
        .replace("@SCRIPT_FILE@", SCRIPT_FILE)
        .replace("@COLUMN_WORDS@", &column_words(columns));
    // Last, in one pass: the shell and the logging path are the user's texts, and no placeholder in either may be
    // replaced.
    fill_once(
        &fixed,
        &[("@SHELL@", &shell), ("@LOGGING_QUOTED@", &logging)],
    )
}

/// `--make-output-folders`: a line per output column making its folder (nothing for an empty cell).
fn output_folders(spec: &JobSpec, columns: &[Column]) -> String {
    let lines: Vec<String> = columns
        .iter()
        .filter(|c| spec.make_output_folders && c.kind.is_output())
        .map(|c| {
            let n = &c.name;
            let folder = if c.kind.is_recursive() {
                format!("\"${n}\"")
            } else {
                format!("\"${{{n}%/*}}\"")
            };
            format!("[ -z \"${n}\" ] || mkdir -p {folder} || ecsub_fail 122 \"output {n}: cannot make its folder\"")
        })
        .collect();
    if lines.is_empty() {
        ": no output folders to make".to_owned()
    } else {
        lines.join("\n")
    }
}

/// `text` with each placeholder of `pairs` replaced by its value, in one pass: a value is never searched again.
fn fill_once(text: &str, pairs: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    loop {
        let next = pairs
            .iter()
            .filter_map(|(from, to)| rest.find(from).map(|at| (at, *from, *to)))
            .min_by_key(|(at, _, _)| *at);
        let Some((at, from, to)) = next else {
            out.push_str(rest);
            return out;
        };
        out.push_str(&rest[..at]);
        out.push_str(to);
        rest = &rest[at + from.len()..];
    }
}

/// The header as `ecsub_left_off` reads it: a word a column, `NAME` for a variable, `+NAME` for an input or output
/// (NAME and S3_NAME), `-` for a label. Names are identifiers, so the words need no quoting.
fn column_words(columns: &[Column]) -> String {
    let words = columns.iter().map(|c| match c.kind {
        ColumnKind::Label => "-".to_owned(),
        kind if kind.is_path() => format!("+{}", c.name),
        _ => c.name.clone(),
    });
    words.collect::<Vec<_>>().join(" ")
}

/// One task's environment: `export` lines for every cell of its row (input and output columns export `NAME`, the
/// local path under `$ECSUB_SCRATCH`, and `S3_NAME`, the URL), a decryption call for each secret, and for a short
/// row one `ecsub_left_off` call that empties the columns it leaves off (run.sh holds the header). Its size is the
/// row's, not the header's.
pub fn task_environment(columns: &[Column], task: &Task) -> String {
    let mut out = String::with_capacity(64 * task.cells.len() + 32);
    write_task_environment(&mut out, columns, task);
    out
}

fn write_task_environment(out: &mut String, columns: &[Column], task: &Task) {
    // The empty cells that end the row, left off or written, are one `ecsub_left_off` line: run.sh holds the
    // header, so a short row under a wide header costs its own cells only. A label exports nothing, so it counts
    // as empty here.
    let exports = |(column, cell): (&Column, &Cell)| match cell {
        _ if column.kind == ColumnKind::Label => false,
        Cell::Empty => false,
        Cell::Text(text) => !text.is_empty(),
        Cell::Path(_) => true,
    };
    let written = columns
        .iter()
        .zip(&task.cells)
        .rposition(exports)
        .map_or(0, |last| last + 1);
    for (column, cell) in columns.iter().zip(&task.cells).take(written) {
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
                let (bucket, key) = (path.bucket(), path.key());
                push_quoted_parts(out, &[LOCAL_DATA_DIR, "/", bucket, "/", key]);
                let _ = write!(out, "\nexport S3_{name}=");
                push_quoted_parts(out, &["s3://", bucket, "/", key]);
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
    if written < columns.len() {
        let _ = writeln!(out, "ecsub_left_off {written} || return 1");
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

/// The largest `setenv.sh` ecsub writes (bytes): the submit function builds it in memory (512 MB, beside the tasks
/// file and its parse) and uploads it in one PUT, and `run --local` writes it into the job's folder. A job of
/// 100 000 tasks of eight cells, paths included, takes about 80 MB.
pub const MAX_SETENV_BYTES: usize = 128 << 20;

/// Where `setenv.sh` of these tasks would pass `limit` bytes: the first task whose environment takes it past,
/// and the bytes up to and including that task. Each task's text is made as `setenv_script` makes it, one at a
/// time, so the check costs the time of writing the file but not its memory.
pub fn setenv_overflow<'a>(
    file: &str,
    columns: &[Column],
    tasks: &'a [Task],
    limit: usize,
) -> Option<(&'a Task, usize)> {
    let mut text = String::new();
    write_setenv_preamble(&mut text, file);
    let mut total = SETENV_INDEX_LINE * (1 + tasks.len()) + text.len();
    for task in tasks {
        text.clear();
        let _ = writeln!(text, "# task {} (line {})", task.index, task.line);
        write_task_environment(&mut text, columns, task);
        total += text.len();
        if total > limit {
            return Some((task, total));
        }
    }
    None
}

/// The comment between `setenv.sh`'s index and its tasks.
fn write_setenv_preamble(out: &mut String, file: &str) {
    let _ = writeln!(
        out,
        "# ecsub setenv.sh (generated from {}; do not edit). Above: one 24-byte line per task, its environment's \
         offset and length in this file; run.sh reads its own task's bytes only.",
        file.replace(['\n', '\r'], " ")
    );
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
    let cells: usize = tasks.iter().map(|t| t.cells.len() + 1).sum();
    let mut out = String::with_capacity(header + 64 * cells + 256);
    out.extend(std::iter::repeat_n(' ', header));
    write_setenv_preamble(&mut out, file);
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

    /// The empty cells that end a row (left off, written empty, or labels, which export nothing) are one
    /// `ecsub_left_off N` line; an empty cell before a value is written as before.
    #[test]
    fn the_empty_cells_ending_a_row_are_one_left_off_line() {
        let file = crate::tasks::parse(
            "t.tsv",
            b"--env A\t--input I\t--env B\t--label L\t--secret-env S\n\
              a\n\
              a\t\tb\n\
              a\t\t\tl\t\n\
              \t\t\t\tS\n",
        )
        .unwrap();
        let env = |i: usize| task_environment(&file.columns, &file.tasks[i]);
        assert_eq!(env(0), "export A='a'\necsub_left_off 1 || return 1\n");
        assert_eq!(
            env(1),
            "export A='a'\nexport I='' S3_I=''  # empty cell: nothing to copy\nexport B='b'\n\
             ecsub_left_off 3 || return 1\n"
        );
        assert_eq!(env(2), "export A='a'\necsub_left_off 1 || return 1\n");
        assert!(
            env(3).ends_with("ecsub_secret S 'S' || return 1\n"),
            "{}",
            env(3)
        );
        assert!(!env(3).contains("left_off"), "{}", env(3));
        let words = column_words(&file.columns);
        assert_eq!(words, "A +I B - S");
    }

    /// The overflow check counts what `setenv_script` writes, and names the first task past the limit.
    #[test]
    fn setenv_overflow_names_the_task_that_passes_the_limit() {
        let file = crate::tasks::parse("t.tsv", b"--env A\none\ntwo\nthree\n").unwrap();
        let whole = setenv_script("t.tsv", &file.columns, &file.tasks).len();
        let overflow = |limit| setenv_overflow("t.tsv", &file.columns, &file.tasks, limit);
        assert_eq!(overflow(whole).map(|(t, _)| t.index), None);
        let (task, bytes) = overflow(whole - 1).unwrap();
        assert_eq!((task.index, bytes), (2, whole));
    }

    #[test]
    fn quoting_wraps_in_single_quotes_and_escapes_them() {
        assert_eq!(shell_quote(""), "''");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote("$(id) `x` \\ \""), r#"'$(id) `x` \ "'"#);
    }
}
