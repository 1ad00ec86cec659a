//! The tasks file's parser: lines into the header's columns, the rows' cells and the `#ecsub:` directives, every
//! problem recorded with its line and column (errors stop nothing: the whole file is read, so that one run says
//! everything that is wrong).

use super::names::{check_label_name, check_variable_name};
use super::*;
use crate::diag::Diagnostic;
use crate::staging::unstageable;
use std::collections::HashMap;

pub(super) struct Parser<'a> {
    pub(super) file: &'a str,
    pub(super) diagnostics: Vec<Diagnostic>,
    pub(super) directives: Vec<Directive>,
}

/// A header cell with where it stands, kept until the header is known good.
struct HeaderCell<'a> {
    text: &'a str,
    column: usize,
}

pub(super) type Parsed = (Vec<Column>, Vec<Task>, Vec<Directive>);

/// A header known good: its line, its columns, and what a short row's left-off cells cost in the task's
/// environment (`empty_tail[i]`: the columns from `i` on, all empty), so that a row costs its own cells only.
struct Header {
    line: usize,
    columns: Vec<Column>,
    empty_tail: Vec<usize>,
}

/// A short row's warning names this many of the columns it leaves empty, then counts the rest.
const LEFT_EMPTY_NAMED: usize = 3;

impl<'a> Parser<'a> {
    fn error(&mut self, line: usize, column: usize, message: impl Into<String>) {
        self.diagnostics
            .push(Diagnostic::error(self.file, line, column, message));
    }

    fn warning(&mut self, line: usize, column: usize, message: impl Into<String>) {
        self.diagnostics
            .push(Diagnostic::warning(self.file, line, column, message));
    }

    pub(super) fn run(&mut self, bytes: &[u8]) -> Option<Parsed> {
        let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        let mut header: Option<Header> = None;
        let mut header_failed = false;
        let mut tasks = Vec::new();

        for (i, raw) in bytes.split(|&b| b == b'\n').enumerate() {
            let line_no = i + 1;
            let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
            let line = match std::str::from_utf8(raw) {
                Ok(line) => line,
                Err(e) => {
                    let valid = String::from_utf8_lossy(&raw[..e.valid_up_to()])
                        .chars()
                        .count();
                    self.error(line_no, valid + 1, "the line is not valid UTF-8");
                    continue;
                }
            };
            if let Some(at) = line.find('\0') {
                self.error(
                    line_no,
                    line[..at].chars().count() + 1,
                    "the line contains a NUL byte",
                );
                continue;
            }
            if line.trim().is_empty() {
                if !line.is_empty() && header.is_some() {
                    self.warning(
                        line_no,
                        1,
                        "a line of only spaces and TABs is skipped as blank (a task needs a non-blank cell)",
                    );
                }
                continue;
            }
            if line.starts_with('#') {
                self.comment_warnings(line_no, line, header.as_ref().map(|h| h.columns.len()));
                if let Some(rest) = line.strip_prefix(DIRECTIVE_PREFIX) {
                    if header.is_some() || header_failed {
                        self.error(
                            line_no,
                            1,
                            format!(
                                "`{DIRECTIVE_PREFIX}` directives must come before the header row"
                            ),
                        );
                    } else {
                        match split_words(rest) {
                            Ok(words) => self.directives.push(Directive {
                                line: line_no,
                                words,
                            }),
                            Err((offset, why)) => self.error(
                                line_no,
                                DIRECTIVE_PREFIX.len() + rest[..offset].chars().count() + 1,
                                why,
                            ),
                        }
                    }
                }
                continue;
            }
            if header.is_none() && !header_failed {
                header = self.header(line_no, line);
                header_failed = header.is_none();
                continue;
            }
            if let Some(header) = &header {
                if let Some(cells) = self.row(line_no, line, header) {
                    tasks.push(Task {
                        index: tasks.len(),
                        line: line_no,
                        cells,
                    });
                }
            }
        }

        match header {
            None if !header_failed => {
                self.error(
                    1,
                    1,
                    "no header row: expected TAB-separated `TYPE NAME` cells such as `--env NAME\t--input INPUT_FILE`",
                );
                None
            }
            None => None,
            Some(Header { line, columns, .. }) => {
                let any_row_error = self
                    .diagnostics
                    .iter()
                    .any(|d| d.is_error() && d.line > line);
                if tasks.is_empty() && !any_row_error {
                    self.error(
                        line,
                        1,
                        "no tasks: the file has a header row but no task rows",
                    );
                }
                Some((columns, tasks, std::mem::take(&mut self.directives)))
            }
        }
    }

    fn header(&mut self, line_no: usize, line: &str) -> Option<Header> {
        let cells = cells_with_columns(line)
            .map(|(column, text)| HeaderCell { text, column })
            .collect::<Vec<_>>();
        let mut columns = Vec::with_capacity(cells.len());
        let mut ok = true;
        // Exported variable names (NAME and S3_NAME) and label names, with the column that took them first.
        let mut taken: HashMap<String, (usize, String)> = HashMap::new();
        for (index, cell) in cells.iter().enumerate() {
            let number = index + 1;
            let Some(column) = self.header_cell(line_no, number, cell) else {
                ok = false;
                continue;
            };
            let mut names = vec![column.name.clone()];
            if column.kind.is_path() {
                names.push(format!("S3_{}", column.name));
            }
            for name in names {
                let key = if column.kind == ColumnKind::Label {
                    format!("label:{name}")
                } else {
                    name.clone()
                };
                if let Some((first, first_text)) = taken.get(&key) {
                    let what = if column.kind == ColumnKind::Label {
                        "label"
                    } else {
                        "variable"
                    };
                    self.error(
                        line_no,
                        cell.column,
                        format!(
                            "column {number} (`{}`): duplicate {what} `{name}` (column {first} `{first_text}` already sets it)",
                            cell.text.trim()
                        ),
                    );
                    ok = false;
                } else {
                    taken.insert(key, (number, cell.text.trim().to_owned()));
                }
            }
            columns.push(column);
        }
        if !ok {
            return None;
        }
        let mut empty_tail = vec![0; columns.len() + 1];
        for (i, column) in columns.iter().enumerate().rev() {
            empty_tail[i] = empty_tail[i + 1] + exported_bytes(column, Cell::left_off(column.kind));
        }
        // Every task's environment holds at least every column's empty cell: a header over the limit would fail
        // every task (and make every short row cost its width), so it is refused here, once.
        if empty_tail[0] > MAX_TASK_ENVIRONMENT_BYTES {
            self.error(
                line_no,
                1,
                format!(
                    "the header has {} columns, which take {} bytes of every task's environment even when empty \
                     (`NAME=` for each, `NAME=` and `S3_NAME=` for an input or output), over the \
                     {MAX_TASK_ENVIRONMENT_BYTES} ecsub allows; split the columns into several jobs",
                    columns.len(),
                    empty_tail[0]
                ),
            );
            return None;
        }
        Some(Header {
            line: line_no,
            columns,
            empty_tail,
        })
    }

    fn header_cell(
        &mut self,
        line_no: usize,
        number: usize,
        cell: &HeaderCell<'_>,
    ) -> Option<Column> {
        let text = cell.text.trim();
        let at = cell.column + (cell.text.len() - cell.text.trim_start().len());
        let mut words = text.split_whitespace();
        let (Some(kind_text), name, extra) = (words.next(), words.next(), words.next()) else {
            self.error(
                line_no,
                at,
                format!("column {number}: empty header cell (expected `TYPE NAME`)"),
            );
            return None;
        };
        let Some(kind) = ColumnKind::from_flag(kind_text) else {
            let expected = ColumnKind::ALL.map(ColumnKind::flag).join(", ");
            self.error(
                line_no,
                at,
                format!("column {number} (`{text}`): unknown column type `{kind_text}` (expected one of {expected})"),
            );
            return None;
        };
        let Some(name) = name else {
            self.error(
                line_no,
                at,
                format!("column {number} (`{text}`): missing NAME after `{kind_text}` (expected `TYPE NAME`)"),
            );
            return None;
        };
        if let Some(extra) = extra {
            self.error(
                line_no,
                at,
                format!("column {number} (`{text}`): unexpected `{extra}` after the NAME (expected `TYPE NAME`)"),
            );
            return None;
        }
        let problem = if kind == ColumnKind::Label {
            check_label_name(name)
        } else {
            check_variable_name(name)
        };
        if let Err(why) = problem {
            self.error(line_no, at, format!("column {number} (`{text}`): {why}"));
            return None;
        }
        Some(Column {
            kind,
            name: name.to_owned(),
        })
    }

    /// A comment that looks like something else gets a warning: a directive spelled otherwise than `#ecsub:`
    /// (its options would be lost), or, once the header is known, a comment shaped like a row whose first cell
    /// starts with `#` (a task that would be dropped: ecsub reads it as a comment, and so does this): one with the
    /// header's number of cells, or fewer but more than one (a short row), or any in a one-column file, where
    /// nothing tells a comment from a row. A one-cell comment under a wider header (`# a note`) is a note, and a
    /// comment before the header is never warned about.
    fn comment_warnings(&mut self, line_no: usize, line: &str, columns: Option<usize>) {
        if line.starts_with(DIRECTIVE_PREFIX) {
            return;
        }
        let squeezed: String = line[1..].trim_start().chars().take(6).collect();
        if squeezed.eq_ignore_ascii_case("ecsub:") {
            self.warning(
                line_no,
                1,
                format!("this is a comment, not an option directive: directives are spelled `{DIRECTIVE_PREFIX}` exactly"),
            );
            return;
        }
        let Some(n) = columns else {
            return;
        };
        let cells = line.split('\t').count();
        const LOST: &str =
            "this row starts with `#`, so it is a comment and not a task (as in ecsub)";
        const MOVE: &str = "if it is a task, move a column whose value cannot start with `#` first";
        let why = match (n, cells) {
            (1, 1) => format!(
                "{LOST}, although a row of this one-column file looks the same; if it is a task, add a first \
                 column whose value cannot start with `#`; if it is a comment, move it before the header, where \
                 comments are not warned about"
            ),
            (n, c) if n > 1 && c == n => {
                format!("{LOST}, although it has the header's number of cells; {MOVE}")
            }
            (n, c) if c > 1 && c < n => format!(
                "{LOST}, although it has {c} of the header's {n} cells (a row may leave its last cells empty); {MOVE}"
            ),
            _ => return,
        };
        self.warning(line_no, 1, why);
    }

    fn row(&mut self, line_no: usize, line: &str, header: &Header) -> Option<Vec<Cell>> {
        let columns = &header.columns;
        let cells = cells_with_columns(line).collect::<Vec<_>>();
        if cells.len() > columns.len() {
            let (at, extra) = cells[columns.len()];
            self.error(
                line_no,
                at,
                format!(
                    "the row has {} cells but the header has {} columns (first extra cell: `{extra}`)",
                    cells.len(),
                    columns.len()
                ),
            );
            return None;
        }
        if cells.len() < columns.len() {
            self.warning(
                line_no,
                line.chars().count() + 1,
                left_empty(cells.len(), columns),
            );
        }
        // Only the cells the row has: those it leaves off are empty (see `Task::cells`).
        let mut ok = true;
        let mut out = Vec::with_capacity(cells.len());
        for (i, (column, &(at, value))) in columns.iter().zip(&cells).enumerate() {
            match cell_value(column, value) {
                Ok(cell) => {
                    if let Some(why) = match &cell {
                        Cell::Path(path) => unstageable(path),
                        _ => None,
                    } {
                        self.warning(line_no, at, format!("column {} (`{column}`): {why}", i + 1));
                    }
                    out.push(cell);
                }
                Err(why) => {
                    self.error(line_no, at, format!("column {} (`{column}`): {why}", i + 1));
                    ok = false;
                }
            }
        }
        if ok {
            ok = self.fits_a_process(line_no, header, &out, &cells);
        }
        ok.then_some(out)
    }

    /// Can the task's environment be handed to a process? Linux takes at most 128 KiB for one `NAME=value`
    /// (MAX_ARG_STRLEN) and ARG_MAX (a quarter of the stack limit, 2 MiB by default) for the arguments and the
    /// whole environment, so a longer value would make every run of the task fail as "script not executable".
    fn fits_a_process(
        &mut self,
        line_no: usize,
        header: &Header,
        cells: &[Cell],
        positions: &[(usize, &str)],
    ) -> bool {
        let mut total = header.empty_tail.get(cells.len()).copied().unwrap_or(0);
        let mut ok = true;
        for (i, (column, cell)) in header.columns.iter().zip(cells).enumerate() {
            let exported = exported_bytes(column, cell);
            total += exported;
            if exported > MAX_VARIABLE_BYTES {
                self.error(
                    line_no,
                    positions.get(i).map_or(1, |p| p.0),
                    format!(
                        "column {} (`{column}`): the value is {} bytes, over the {} bytes Linux passes to a process \
                         in one environment variable (MAX_ARG_STRLEN)",
                        i + 1,
                        exported - column.name.len() - 2,
                        MAX_VARIABLE_BYTES - column.name.len() - 2
                    ),
                );
                ok = false;
            }
        }
        if ok && total > MAX_TASK_ENVIRONMENT_BYTES {
            self.error(
                line_no,
                1,
                format!(
                    "the task's environment is {total} bytes, over the {MAX_TASK_ENVIRONMENT_BYTES} ecsub allows \
                     (Linux passes at most ARG_MAX, 2 MiB by default, of arguments and environment to a process)"
                ),
            );
            ok = false;
        }
        ok
    }
}

/// What a cell takes in the task's environment: `NAME=value` and its NUL, as run.sh exports it (an input or output
/// exports two variables, empty ones too; a label nothing).
fn exported_bytes(column: &Column, cell: &Cell) -> usize {
    let name = column.name.len();
    match (column.kind, cell) {
        (ColumnKind::Label, _) => 0,
        (_, Cell::Text(text)) => name + 1 + text.len() + 1,
        // NAME=$ECSUB_SCRATCH/AWS_DATA/… and S3_NAME=s3://…, with room for the scratch folder's path.
        (_, Cell::Path(path)) => {
            let url = "s3://".len() + path.bucket().len() + 1 + path.key().len();
            2 * name + 2 * url + 4 + 4096
        }
        // NAME='' and S3_NAME=''.
        (_, Cell::Empty) => (name + 2) + ("S3_".len() + name + 2),
    }
}

/// A short row's warning: the columns it leaves empty, the first few by name (a row of one cell under a header of
/// 20 000 columns gets one line, not 20 000 names).
fn left_empty(has: usize, columns: &[Column]) -> String {
    let missing = columns.get(has..).unwrap_or_default();
    let mut named = missing
        .iter()
        .take(LEFT_EMPTY_NAMED)
        .map(|c| format!("`{c}`"))
        .collect::<Vec<_>>()
        .join(", ");
    if missing.len() > LEFT_EMPTY_NAMED {
        named.push_str(&format!(" and {} more", missing.len() - LEFT_EMPTY_NAMED));
    }
    format!(
        "the row has {has} cells but the header has {} columns: {named} left empty",
        columns.len()
    )
}

/// TAB-separated cells with the 1-based character column each starts at.
pub(super) fn cells_with_columns(line: &str) -> impl Iterator<Item = (usize, &str)> {
    let mut column = 1;
    line.split('\t').map(move |cell| {
        let at = column;
        column += cell.chars().count() + 1;
        (at, cell)
    })
}

fn cell_value(column: &Column, value: &str) -> Result<Cell, String> {
    match column.kind {
        ColumnKind::Env | ColumnKind::SecretEnv => Ok(Cell::Text(value.to_owned())),
        ColumnKind::Label => {
            check_label_value(value)?;
            Ok(Cell::Text(value.to_owned()))
        }
        _ if value.is_empty() => Ok(Cell::Empty),
        kind if kind.is_recursive() => S3Path::parse_folder(value).map(Cell::Path),
        _ => S3Path::parse_file(value).map(Cell::Path),
    }
}

fn check_label_value(value: &str) -> Result<(), String> {
    if value.chars().count() > 256 {
        return Err(format!(
            "label value `{value}` is longer than 256 characters"
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(format!(
            "label value `{value}` contains a control character"
        ));
    }
    Ok(())
}
