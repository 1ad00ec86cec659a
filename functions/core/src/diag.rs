//! Diagnostics: an error or warning that points at a place in a user's file.
//!
//! Every message the tasks-file engine produces is one of these, so the CLI and the Lambdas print the same
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

    /// Reads back a `FILE:LINE:COL: [warning: ]message` line (as [`Display`](fmt::Display) writes it).
    pub fn parse_line(text: &str) -> Option<Self> {
        let mut search = 0;
        while let Some(found) = text[search..].find(':') {
            let at = search + found;
            let rest = &text[at + 1..];
            let mut parts = rest.splitn(3, ':');
            let (Some(line), Some(column), Some(message)) =
                (parts.next(), parts.next(), parts.next())
            else {
                return None;
            };
            if let (Ok(line), Ok(column), Some(message)) = (
                line.parse::<usize>(),
                column.parse::<usize>(),
                message.strip_prefix(' '),
            ) {
                let file = &text[..at];
                return Some(match message.strip_prefix("warning: ") {
                    Some(m) => Self::warning(file, line, column, m),
                    None => Self::error(file, line, column, message),
                });
            }
            search = at + 1;
        }
        None
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
    fn a_printed_diagnostic_reads_back() {
        for d in [
            Diagnostic::error("dir:x/f.tsv", 12, 7, "column 2 (`--env A`): bad: really"),
            Diagnostic::warning("f.tsv", 1, 1, "a warning"),
        ] {
            assert_eq!(Diagnostic::parse_line(&d.to_string()), Some(d));
        }
        assert_eq!(
            Diagnostic::parse_line("f.tsv: --processes: must be at least 1"),
            None
        );
    }
}
