//! The tasks file: ecsub's TSV grammar, dsub's extras, and strict validation that reports every problem at once.
//!
//! Input is raw bytes (whatever the user uploaded); output is a typed [`TasksFile`] or [`Diagnostics`] naming
//! file, line and column of each problem. Parsing never panics, whatever the bytes. Pure: the caller reads the
//! file.

mod names;
mod overlap;
mod parser;
pub mod secret;

use crate::diag::{Diagnostic, Diagnostics};
use crate::s3path::S3Path;
pub use overlap::{outputs_over_own_inputs, shared_outputs};
use parser::Parser;
use serde::{Deserialize, Serialize};
use std::fmt;

/// The prefix of an option directive: a comment line before the header that carries the job's options.
pub const DIRECTIVE_PREFIX: &str = "#ecsub:";

/// What a column holds, from its header's TYPE.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ColumnKind {
    Env,
    SecretEnv,
    Input,
    InputRecursive,
    Output,
    OutputRecursive,
    Label,
}

impl ColumnKind {
    pub const ALL: [ColumnKind; 7] = [
        ColumnKind::Env,
        ColumnKind::SecretEnv,
        ColumnKind::Input,
        ColumnKind::InputRecursive,
        ColumnKind::Output,
        ColumnKind::OutputRecursive,
        ColumnKind::Label,
    ];

    /// The TYPE as written in a header, e.g. `--input-recursive`.
    pub fn flag(self) -> &'static str {
        match self {
            ColumnKind::Env => "--env",
            ColumnKind::SecretEnv => "--secret-env",
            ColumnKind::Input => "--input",
            ColumnKind::InputRecursive => "--input-recursive",
            ColumnKind::Output => "--output",
            ColumnKind::OutputRecursive => "--output-recursive",
            ColumnKind::Label => "--label",
        }
    }

    /// The kind a header's TYPE names (`--input`, in any case).
    pub fn from_flag(flag: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|k| k.flag().eq_ignore_ascii_case(flag))
    }

    /// Input and output columns hold S3 locations and export both `NAME` and `S3_NAME`.
    pub fn is_path(self) -> bool {
        matches!(
            self,
            ColumnKind::Input
                | ColumnKind::InputRecursive
                | ColumnKind::Output
                | ColumnKind::OutputRecursive
        )
    }

    pub fn is_recursive(self) -> bool {
        matches!(
            self,
            ColumnKind::InputRecursive | ColumnKind::OutputRecursive
        )
    }

    pub fn is_input(self) -> bool {
        matches!(self, ColumnKind::Input | ColumnKind::InputRecursive)
    }

    pub fn is_output(self) -> bool {
        matches!(self, ColumnKind::Output | ColumnKind::OutputRecursive)
    }
}

/// One header cell: `TYPE NAME`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Column {
    pub kind: ColumnKind,
    pub name: String,
}

impl fmt::Display for Column {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.kind.flag(), self.name)
    }
}

/// A task's value for one column.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", tag = "type", content = "value")]
pub enum Cell {
    /// An env, secret-env or label value, byte for byte as written (possibly empty).
    Text(String),
    /// A validated S3 location.
    Path(S3Path),
    /// An empty input or output cell: exported empty, nothing copied.
    Empty,
}

/// One row of the tasks file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Task {
    /// 0-based, in file order (ecsub's numbering: `setenv.0.sh`, task `000`).
    pub index: usize,
    /// 1-based line of the row in the file, for messages.
    pub line: usize,
    /// The row's cells, in header order, up to the last one the row has: the columns after it (a short row's) are
    /// empty and not stored, so a wide header costs nothing per row. Read them with [`Task::cells_with`].
    pub cells: Vec<Cell>,
}

/// The empty cell of a column a row leaves off: an empty value, or (an input or output) nothing to copy.
static EMPTY_TEXT: Cell = Cell::Text(String::new());
static EMPTY_PATH: Cell = Cell::Empty;

impl Cell {
    /// The cell of a `kind` column that a row leaves off.
    pub fn left_off(kind: ColumnKind) -> &'static Cell {
        if kind.is_path() {
            &EMPTY_PATH
        } else {
            &EMPTY_TEXT
        }
    }
}

impl Task {
    /// Every column with the task's cell for it, in header order (the cells a short row leaves off are empty).
    pub fn cells_with<'a>(
        &'a self,
        columns: &'a [Column],
    ) -> impl Iterator<Item = (&'a Column, &'a Cell)> + 'a {
        columns.iter().enumerate().map(|(i, column)| {
            (
                column,
                self.cells
                    .get(i)
                    .unwrap_or_else(|| Cell::left_off(column.kind)),
            )
        })
    }
}

/// `#ecsub:` words from one comment line before the header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Directive {
    pub line: usize,
    pub words: Vec<String>,
}

/// A parsed, valid tasks file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TasksFile {
    /// The name used in messages (usually the path the user typed).
    pub file: String,
    pub columns: Vec<Column>,
    pub tasks: Vec<Task>,
    pub directives: Vec<Directive>,
    pub warnings: Vec<Diagnostic>,
}

impl TasksFile {
    /// How many columns of each kind, in header order of first appearance: `1 env, 2 input`.
    pub fn column_summary(&self) -> String {
        let mut counts: Vec<(ColumnKind, usize)> = Vec::new();
        for column in &self.columns {
            match counts.iter_mut().find(|(k, _)| *k == column.kind) {
                Some((_, n)) => *n += 1,
                None => counts.push((column.kind, 1)),
            }
        }
        counts
            .iter()
            .map(|(k, n)| format!("{n} {}", k.flag().trim_start_matches("--")))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Parses and validates a tasks file. `file` is the name to use in messages.
pub fn parse(file: &str, bytes: &[u8]) -> Result<TasksFile, Diagnostics> {
    let mut parser = Parser {
        file,
        diagnostics: Vec::new(),
        directives: Vec::new(),
    };
    let parsed = parser.run(bytes);
    let has_error = parser.diagnostics.iter().any(Diagnostic::is_error);
    match parsed {
        Some((columns, tasks, directives)) if !has_error => Ok(TasksFile {
            file: file.to_owned(),
            columns,
            tasks,
            directives,
            warnings: parser.diagnostics,
        }),
        _ => Err(Diagnostics(parser.diagnostics)),
    }
}

/// The `#ecsub:` directives of a file, whatever else is wrong with it, so that their errors can be reported
/// together with the file's (`validate` reports every error at once).
pub fn directives(file: &str, bytes: &[u8]) -> Vec<Directive> {
    let mut parser = Parser {
        file,
        diagnostics: Vec::new(),
        directives: Vec::new(),
    };
    match parser.run(bytes) {
        Some((_, _, directives)) => directives,
        None => parser.directives,
    }
}

/// The largest tasks file ecsub reads (bytes): reading stops there, so `--tasks /dev/zero` or a runaway file is
/// refused instead of filling memory. 256 MiB holds well over a million ordinary rows.
pub const MAX_FILE_BYTES: u64 = 256 << 20;

/// The message for a tasks file over [`MAX_FILE_BYTES`] (`size` is what is known of it: at least that much).
pub fn too_large(file: &str, size: u64) -> String {
    format!(
        "{file}: the tasks file is {size} bytes or more, over the {} MiB ecsub reads; split it into several jobs",
        MAX_FILE_BYTES >> 20
    )
}

/// The largest user script ecsub takes (bytes): each task downloads it.
pub const MAX_SCRIPT_BYTES: u64 = 64 << 20;

/// The largest `NAME=value` (with its NUL) Linux passes to a process: MAX_ARG_STRLEN, 32 pages.
pub const MAX_VARIABLE_BYTES: usize = 131_072;

/// The largest environment a task may have: half of Linux's default ARG_MAX (2 MiB), leaving the rest for the
/// environment the task inherits (the image's, ECS's, ecsub's).
pub const MAX_TASK_ENVIRONMENT_BYTES: usize = 1 << 20;

/// Splits a directive into words like a shell would, without expansions: whitespace separates words, `'…'` keeps
/// everything literally, `"…"` keeps everything but `\"` and `\\`, and `\` outside quotes escapes one character.
/// On error, returns the byte offset of the problem and a message.
pub fn split_words(text: &str) -> Result<Vec<String>, (usize, String)> {
    let mut words = Vec::new();
    let mut current: Option<String> = None;
    let mut chars = text.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if let Some(word) = current.take() {
                    words.push(word);
                }
            }
            '\'' => {
                let word = current.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some((_, '\'')) => break,
                        Some((_, c)) => word.push(c),
                        None => return Err((at, "unterminated `'` quote".to_owned())),
                    }
                }
            }
            '"' => {
                let word = current.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some((_, '"')) => break,
                        Some((_, '\\')) if matches!(chars.peek(), Some((_, '"' | '\\'))) => {
                            if let Some((_, escaped)) = chars.next() {
                                word.push(escaped);
                            }
                        }
                        Some((_, c)) => word.push(c),
                        None => return Err((at, "unterminated `\"` quote".to_owned())),
                    }
                }
            }
            '\\' => match chars.next() {
                Some((_, escaped)) => current.get_or_insert_with(String::new).push(escaped),
                None => {
                    return Err((
                        at,
                        "a `\\` at the end of the line escapes nothing".to_owned(),
                    ))
                }
            },
            c => current.get_or_insert_with(String::new).push(c),
        }
    }
    words.extend(current);
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_words_handles_quotes_and_escapes() {
        assert_eq!(
            split_words(r#" --image python:3.12  --setup-container-cmd 'apt-get install -y x' --x "a \"b\"" c\ d"#)
                .unwrap(),
            vec!["--image", "python:3.12", "--setup-container-cmd", "apt-get install -y x", "--x", "a \"b\"", "c d"]
        );
        assert_eq!(split_words("''").unwrap(), vec![""]);
        assert_eq!(split_words(" a 'b").unwrap_err().0, 3);
    }
}
