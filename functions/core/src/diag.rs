//! Diagnostics: an error or warning that points at a place in a user's file ([`Diagnostic`]), and any finding
//! about a command's input, placed as far as it can be ([`Finding`]: a flag typed on the command line has no
//! place). They stay values until they are printed or serialised: `--output json` writes their fields, never a
//! message read back from its text.
//!
//! Every message the tasks-file engine produces is a [`Diagnostic`], so the CLI and the Lambdas print the same
//! `FILE:LINE:COL: message` text. Depends on nothing but `std` and `serde`.

use serde::{Deserialize, Serialize};
use std::fmt;

/// How bad a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The input is rejected.
    Error,
    /// The input is accepted; the user should still look.
    Warning,
}

/// One finding about a user's file, with a 1-based line and (character) column.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diagnostic {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub severity: Severity,
    pub message: String,
}

/// The longest message kept (characters): a message quoting a 50 MB cell is cut in its middle.
pub const MAX_MESSAGE_CHARS: usize = 1_000;

/// `text` cut to [`MAX_MESSAGE_CHARS`] characters, its middle replaced by a note of how much was left out.
pub fn cut(text: &str) -> String {
    let count = text.chars().count();
    if count <= MAX_MESSAGE_CHARS {
        return text.to_owned();
    }
    let keep = MAX_MESSAGE_CHARS / 2;
    let head: String = text.chars().take(keep).collect();
    let tail: String = text.chars().skip(count - keep).collect();
    format!("{head}…[{} characters cut]…{tail}", count - 2 * keep)
}

/// `text` safe to print on a terminal: control characters (ESC, CR, BEL, …; not TAB) from a user's file are
/// written as escapes (`\u{1b}`, `\r`), so a cell cannot retitle the window or rewrite the line.
pub fn printable(text: &str) -> String {
    let unsafe_char = |c: char| c.is_control() && c != '\t';
    if !text.chars().any(unsafe_char) {
        return text.to_owned();
    }
    text.chars()
        .map(|c| {
            if unsafe_char(c) {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

impl Diagnostic {
    pub fn error(file: &str, line: usize, column: usize, message: impl Into<String>) -> Self {
        Self {
            file: cut(file),
            line,
            column,
            severity: Severity::Error,
            message: cut(&message.into()),
        }
    }

    pub fn warning(file: &str, line: usize, column: usize, message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Warning,
            ..Self::error(file, line, column, message)
        }
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: ",
            printable(&self.file),
            self.line,
            self.column
        )?;
        if self.severity == Severity::Warning {
            f.write_str("warning: ")?;
        }
        f.write_str(&printable(&self.message))
    }
}

/// A rejected input: every error found (never just the first), plus the warnings seen on the way.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", render(.0))]
pub struct Diagnostics(pub Vec<Diagnostic>);

fn render(all: &[Diagnostic]) -> String {
    all.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

impl Diagnostics {
    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.0.iter().filter(|d| d.is_error())
    }

    /// One `FILE:LINE:COL: message` line per diagnostic, in order.
    pub fn lines(&self) -> Vec<String> {
        self.0.iter().map(ToString::to_string).collect()
    }
}

/// One finding about a command's input, kept as a value until it is printed or serialised: as much of its place
/// as it has (a file, a line, a column: a flag typed on the command line has none) and what it says. Printed
/// `FILE:LINE:COL: message`, `FILE: message` or `message`; serialised with the fields it has (a [`Diagnostic`]'s
/// five, or fewer). Either way its text is [`printable`]: a JSON document read by a program is printed by a
/// person too.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "printable_file"
    )]
    pub file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<usize>,
    pub severity: Severity,
    #[serde(serialize_with = "printable_message")]
    pub message: String,
}

fn printable_file<S: serde::Serializer>(file: &Option<String>, s: S) -> Result<S::Ok, S::Error> {
    match file {
        Some(file) => s.serialize_some(&printable(file)),
        None => s.serialize_none(),
    }
}

fn printable_message<S: serde::Serializer>(message: &str, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&printable(message))
}

impl Finding {
    /// An error about no file: a flag typed on the command line, the command itself.
    pub fn error(message: impl Into<String>) -> Self {
        Self {
            file: None,
            line: None,
            column: None,
            severity: Severity::Error,
            message: cut(&message.into()),
        }
    }

    /// An error about a file as a whole (it cannot be read, it is too large).
    pub fn in_file(file: &str, message: impl Into<String>) -> Self {
        Self {
            file: Some(cut(file)),
            ..Self::error(message)
        }
    }

    /// An error at a line and (character) column of a file.
    pub fn at(file: &str, line: usize, column: usize, message: impl Into<String>) -> Self {
        Diagnostic::error(file, line, column, message).into()
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl From<Diagnostic> for Finding {
    fn from(d: Diagnostic) -> Self {
        Self {
            file: Some(d.file),
            line: Some(d.line),
            column: Some(d.column),
            severity: d.severity,
            message: d.message,
        }
    }
}

impl From<Diagnostics> for Vec<Finding> {
    fn from(all: Diagnostics) -> Self {
        all.0.into_iter().map(Finding::from).collect()
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(file) = &self.file {
            write!(f, "{}:", printable(file))?;
            if let Some(line) = self.line {
                write!(f, "{line}:")?;
                if let Some(column) = self.column {
                    write!(f, "{column}:")?;
                }
            }
            f.write_str(" ")?;
        }
        if self.severity == Severity::Warning {
            f.write_str("warning: ")?;
        }
        f.write_str(&printable(&self.message))
    }
}

/// The 1-based character column where cell `cell` (0-based) of a TAB-separated row starts, as the tasks-file
/// parser counts it; a cell the row leaves off is placed just past the row's end.
pub fn cell_column(row: &str, cell: usize) -> usize {
    let mut column = 1;
    for (i, text) in row.split('\t').enumerate() {
        if i == cell {
            return column;
        }
        column += text.chars().count() + 1;
    }
    column.saturating_sub(1).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_printable_and_bounded() {
        let d = Diagnostic::error("f.tsv", 2, 3, "cell `a\u{1b}]0;PWN\u{7}b\rc`");
        assert_eq!(d.to_string(), "f.tsv:2:3: cell `a\\u{1b}]0;PWN\\u{7}b\\rc`");
        let long = Diagnostic::error("f.tsv", 1, 1, "y".repeat(50_000_000));
        assert_eq!(
            long.message.chars().count(),
            1_000 + "…[49999000 characters cut]…".chars().count()
        );
    }

    #[test]
    fn a_finding_prints_and_serialises_the_place_it_has_and_no_more() {
        // A folder named like a position (probe 2026-12, finding 21): the file is a field, never read back.
        let at = Finding::at("run:7:3: x/t.tsv", 2, 3, "bad: really");
        assert_eq!(at.to_string(), "run:7:3: x/t.tsv:2:3: bad: really");
        assert_eq!(
            serde_json::to_value(&at).unwrap(),
            serde_json::json!({"file": "run:7:3: x/t.tsv", "line": 2, "column": 3, "severity": "error",
                               "message": "bad: really"})
        );
        let in_file = Finding::in_file("t.tsv", "cannot read the tasks file: gone");
        assert_eq!(
            in_file.to_string(),
            "t.tsv: cannot read the tasks file: gone"
        );
        assert_eq!(
            serde_json::to_value(&in_file).unwrap(),
            serde_json::json!({"file": "t.tsv", "severity": "error",
                               "message": "cannot read the tasks file: gone"})
        );
        let typed = Finding::error("--processes 0: must be at least 1 (on the command line)");
        assert_eq!(
            typed.to_string(),
            "--processes 0: must be at least 1 (on the command line)"
        );
        assert_eq!(
            serde_json::to_value(&typed).unwrap(),
            serde_json::json!({"severity": "error",
                               "message": "--processes 0: must be at least 1 (on the command line)"})
        );
        let warning: Finding = Diagnostic::warning("f\rtsv", 1, 1, "a \u{1b}warning").into();
        assert_eq!(
            warning.to_string(),
            "f\\rtsv:1:1: warning: a \\u{1b}warning"
        );
        assert_eq!(
            serde_json::to_value(&warning).unwrap(),
            serde_json::json!({"file": "f\\rtsv", "line": 1, "column": 1, "severity": "warning",
                               "message": "a \\u{1b}warning"}),
            "escaped in JSON as in text"
        );
        assert!(!warning.is_error());
    }

    #[test]
    fn a_cells_column_counts_characters_and_tabs_as_the_parser_does() {
        assert_eq!(cell_column("a\tbb\tccc", 0), 1);
        assert_eq!(cell_column("a\tbb\tccc", 1), 3);
        assert_eq!(cell_column("a\tbb\tccc", 2), 6);
        assert_eq!(cell_column("naïve\tx", 1), 7, "characters, not bytes");
        assert_eq!(cell_column("a\tb", 5), 4, "left off: just past the row");
        assert_eq!(cell_column("", 0), 1);
    }
}
