//! Locations that get in each other's way: an output over an input of its own task (an error of its row), and
//! outputs shared by two tasks (warnings of the file). The output contract (`crate::outputs`) counts an object
//! written during the attempt; both cases would let an object the attempt did not make count.
//!
//! Pure, and bounded by the file's size: a row is checked pair by pair (a task has at most 254 locations: each
//! takes over 4 KiB of its 1 MiB environment), the file's outputs by sorting them once (O(n log n)).

use super::parser::cells_with_columns;
use super::{Cell, Column, TasksFile};
use crate::diag::Diagnostic;
use crate::outputs::{listing_prefix, overlaps};
use crate::S3Path;
use std::borrow::Cow;
use std::collections::HashMap;

/// The outputs of a row that overlap one of its inputs, or that need as a folder the key of one (or the other
/// way round), each with its message (probe 2026-12, finding 9).
///
/// Refused rather than warned: `run.sh` uploads the task's copy of an input it overlaps again, with a fresh time,
/// so a script that wrote nothing would count as having written the output, and a script that changed its copy of
/// the input in place would overwrite the original (on a retry, the task would start from its own changed input).
/// No check of times or ETags tells such an upload from a real output on both transports; the declaration is
/// what is wrong. An input file `x` and an output `x/y` cannot both be in the task's scratch folder, where one
/// path is a file or a folder, not both.
fn outputs_over_inputs(columns: &[Column], cells: &[Cell]) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    for (o, output_column, output) in locations(columns, cells, false) {
        let Some((i, input_column, input, relation)) = locations(columns, cells, true)
            .find_map(|(i, column, input)| relation(output, input).map(|r| (i, column, input, r)))
        else {
            continue;
        };
        let input_cell = format!("column {} (`{input_column}`)", i + 1);
        let (how, why) = match relation {
            Relation::Same => (format!("is also the input of {input_cell}"), OVERLAP_WHY),
            Relation::Within => (
                format!("lies in the input folder `{input}` of {input_cell}"),
                OVERLAP_WHY,
            ),
            Relation::Holds => (
                format!("holds the input `{input}` of {input_cell}"),
                OVERLAP_WHY,
            ),
            Relation::Meets => (
                format!("can name the same objects as the input `{input}` of {input_cell}"),
                OVERLAP_WHY,
            ),
            Relation::Blocks => (
                format!("is a file where the input `{input}` of {input_cell} needs a folder"),
                FOLDER_WHY,
            ),
            Relation::BlockedBy => (
                format!("needs a folder where the input of {input_cell} is the file `{input}`"),
                FOLDER_WHY,
            ),
        };
        found.push((
            o,
            format!(
                "column {} (`{output_column}`): the output `{output}` {how}; {why} (write the output to another \
                 place)",
                o + 1
            ),
        ));
    }
    found
}

const OVERLAP_WHY: &str = "an output may not overlap an input of its own task: its upload would overwrite the \
                           input, and the task's copy of the input, uploaded again, would count as the output";
const FOLDER_WHY: &str =
    "in the task's scratch folder one path is a file or a folder, not both, so the input's \
                          download or the output's write would fail";

/// Every row's outputs that overlap its own inputs ([`outputs_over_inputs`]), as errors at the output's cell.
/// Checked once a job, when it is planned (validate, run, push, submit), not in `tasks::parse`: a job accepted
/// before this check existed still has its tasks' results read after an upgrade. `bytes` is the file, read again
/// only for the rows an error names.
pub fn outputs_over_own_inputs(file: &TasksFile, bytes: &[u8]) -> Vec<Diagnostic> {
    let found: Vec<(usize, usize, String)> = file
        .tasks
        .iter()
        .flat_map(|task| {
            outputs_over_inputs(&file.columns, &task.cells)
                .into_iter()
                .map(move |(cell, why)| (task.line, cell, why))
        })
        .collect();
    if found.is_empty() {
        return Vec::new();
    }
    let mut lines: Vec<usize> = found.iter().map(|(line, _, _)| *line).collect();
    lines.dedup();
    let columns = cell_columns(bytes, &lines);
    found
        .into_iter()
        .map(|(line, cell, why)| {
            let column = columns
                .get(&line)
                .and_then(|cells| cells.get(cell))
                .copied()
                .unwrap_or(1);
            Diagnostic::error(&file.file, line, column, why)
        })
        .collect()
}

/// The row's input (or output) locations: the cell's index, its column, the location.
fn locations<'a>(
    columns: &'a [Column],
    cells: &'a [Cell],
    inputs: bool,
) -> impl Iterator<Item = (usize, &'a Column, &'a S3Path)> + 'a {
    columns
        .iter()
        .zip(cells)
        .enumerate()
        .filter_map(move |(i, (column, cell))| match cell {
            Cell::Path(path) if column.kind.is_input() == inputs => Some((i, column, path)),
            _ => None,
        })
}

/// How one location stands to another (`a` to `b`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Relation {
    /// The same location.
    Same,
    /// Every key of `a` lies in the folder `b`.
    Within,
    /// `a` is a folder holding every key of `b`.
    Holds,
    /// Some key may be in both (wildcards).
    Meets,
    /// `a` is a file at the key `b` needs as a folder.
    Blocks,
    /// `b` is a file at the key `a` needs as a folder.
    BlockedBy,
}

/// The folder a location's keys are under (a file's key itself: a key under it would need it as a folder).
fn needs(path: &S3Path) -> &str {
    if path.has_wildcard() {
        listing_prefix(path)
    } else {
        path.key()
    }
}

/// Is `key` a folder of `under` (`under` starts with `key/`)?
fn folder_of(key: &str, under: &str) -> bool {
    under.len() > key.len() && under.starts_with(key) && under.as_bytes()[key.len()] == b'/'
}

fn is_file(path: &S3Path) -> bool {
    !path.is_recursive() && !path.has_wildcard()
}

fn relation(a: &S3Path, b: &S3Path) -> Option<Relation> {
    if a.bucket() != b.bucket() {
        return None;
    }
    if a == b {
        return Some(Relation::Same);
    }
    if is_file(a) && folder_of(a.key(), needs(b)) {
        return Some(Relation::Blocks);
    }
    if is_file(b) && folder_of(b.key(), needs(a)) {
        return Some(Relation::BlockedBy);
    }
    if !overlaps(a, b) {
        return None;
    }
    Some(if b.is_recursive() && needs(a).starts_with(b.key()) {
        Relation::Within
    } else if a.is_recursive() && needs(b).starts_with(a.key()) {
        Relation::Holds
    } else {
        Relation::Meets
    })
}

/// One output cell of the file, placed in its bucket's key space.
struct Placed<'a> {
    path: &'a S3Path,
    /// Where it sorts and what it is under: a folder's key, a wildcard's folder, a file's key with a `/` (a key
    /// under it needs it as a folder).
    scope: Cow<'a, str>,
    /// A folder or a file: what comes under its scope meets it (a wildcard's matches are not folders).
    opens: bool,
    /// Index of the task in the file, and of the cell in the row.
    task: usize,
    cell: usize,
}

/// Two outputs of two tasks that get in each other's way: the one warned about, the other, and how.
type Clash = (usize, usize, Relation);

/// Warnings for outputs that two tasks share (probe 2026-12, findings 11 and 25): the same location (one result
/// lost, and one task's upload can count as the other's output), one in the other's folder (the same race), a
/// wildcard whose matches meet another task's, and a file at a key another task needs as a folder (S3 holds both,
/// the local S3 root cannot). Each names both cells, `FILE:LINE:COL`. `bytes` is the file, read again only for
/// the lines a warning names. A task's own outputs are not compared with each other.
pub fn shared_outputs(file: &TasksFile, bytes: &[u8]) -> Vec<Diagnostic> {
    let mut placed: Vec<Placed<'_>> = Vec::new();
    for (t, task) in file.tasks.iter().enumerate() {
        for (c, (column, cell)) in file.columns.iter().zip(&task.cells).enumerate() {
            let Cell::Path(path) = cell else { continue };
            if !column.kind.is_output() {
                continue;
            }
            let (scope, opens) = if path.is_recursive() {
                (Cow::Borrowed(path.key()), true)
            } else if path.has_wildcard() {
                (Cow::Borrowed(listing_prefix(path)), false)
            } else {
                (Cow::Owned(format!("{}/", path.key())), true)
            };
            placed.push(Placed {
                path,
                scope,
                opens,
                task: t,
                cell: c,
            });
        }
    }
    // Folders first within a scope, then files, then wildcards: the first of a scope is the one the others meet.
    let rank = |p: &Placed<'_>| match (p.path.is_recursive(), p.path.has_wildcard()) {
        (true, _) => 0,
        (false, false) => 1,
        (false, true) => 2,
    };
    placed.sort_by(|a, b| {
        (a.path.bucket(), &*a.scope)
            .cmp(&(b.path.bucket(), &*b.scope))
            .then_with(|| rank(a).cmp(&rank(b)))
            .then_with(|| a.path.key().cmp(b.path.key()))
            .then_with(|| (a.task, a.cell).cmp(&(b.task, b.cell)))
    });
    let clashes = clashes(&placed);
    if clashes.is_empty() {
        return Vec::new();
    }
    let mut lines: Vec<usize> = clashes
        .iter()
        .flat_map(|&(a, b, _)| {
            [
                file.tasks[placed[a].task].line,
                file.tasks[placed[b].task].line,
            ]
        })
        .collect();
    lines.sort_unstable();
    lines.dedup();
    let columns = cell_columns(bytes, &lines);
    let at = |p: &Placed<'_>| {
        let line = file.tasks[p.task].line;
        let column = columns
            .get(&line)
            .and_then(|cells| cells.get(p.cell))
            .copied()
            .unwrap_or(1);
        (line, column)
    };
    let mut warnings: Vec<Diagnostic> = clashes
        .into_iter()
        .map(|(a, b, how)| {
            let (a, b) = (&placed[a], &placed[b]);
            let (line, column) = at(a);
            let (other_line, other_column) = at(b);
            let other = format!(
                "task {} ({}:{other_line}:{other_column})",
                file.tasks[b.task].index, file.file
            );
            let (this, that) = (a.path, b.path);
            let why = match how {
                Relation::Same => format!(
                    "`{this}` is also an output of {other}: the tasks overwrite each other's result, and either \
                     one's upload can count as the other's output"
                ),
                Relation::Within => format!(
                    "`{this}` lies in the output folder `{that}` of {other}: either task's upload can count as the \
                     other's output"
                ),
                Relation::Holds => format!(
                    "`{this}` holds the output `{that}` of {other}: either task's upload can count as the other's \
                     output"
                ),
                Relation::Meets => format!(
                    "`{this}` and the output `{that}` of {other} can name the same objects: either task's upload \
                     can count as the other's output"
                ),
                Relation::Blocks => format!(
                    "`{this}` is a file where the output `{that}` of {other} needs a folder: S3 holds both, the \
                     local S3 root (`run --local`) cannot, so the later upload fails there"
                ),
                Relation::BlockedBy => format!(
                    "`{this}` needs a folder where {other} writes the file `{that}`: S3 holds both, the local S3 \
                     root (`run --local`) cannot, so the later upload fails there"
                ),
            };
            let column_name = &file.columns[a.cell];
            Diagnostic::warning(
                &file.file,
                line,
                column,
                format!("column {} (`{column_name}`): {why}", a.cell + 1),
            )
        })
        .collect();
    warnings.sort_by_key(|d| (d.line, d.column));
    warnings
}

/// The clashes among `placed` (sorted by bucket and scope), at most three per output: with the first of its own
/// scope, with the first of another task at its own location (wildcards of one folder differ), and with the
/// nearest folder or file of another task that its scope lies under. The scopes are walked
/// in order with a stack of the openers above the current one, each with the nearest openers of two tasks, so
/// every output is compared with a bounded number of others.
fn clashes(placed: &[Placed<'_>]) -> Vec<Clash> {
    /// An opener's scope on the stack and the nearest openers of at most two tasks at or above it.
    struct Open {
        at: usize,
        nearest: Vec<usize>,
    }
    let same_scope =
        |a: &Placed<'_>, b: &Placed<'_>| a.path.bucket() == b.path.bucket() && a.scope == b.scope;
    let under = |above: &Placed<'_>, p: &Placed<'_>| {
        above.path.bucket() == p.path.bucket() && p.scope.starts_with(&*above.scope)
    };
    let mut found = Vec::new();
    let mut stack: Vec<Open> = Vec::new();
    let mut start = 0;
    while start < placed.len() {
        let end = start
            + placed[start..]
                .iter()
                .take_while(|p| same_scope(p, &placed[start]))
                .count();
        let group = start..end;
        while stack
            .last()
            .is_some_and(|open| !under(&placed[open.at], &placed[start]))
        {
            stack.pop();
        }
        // Within the scope: each with the first of it (a folder if there is one, else a file: every output of the
        // scope clashes with either), or, of the first's own task, with the first of another task; and each with
        // the first of another task among the same location (wildcards of one folder differ), if not that one.
        let other = (start..end).find(|&j| placed[j].task != placed[start].task);
        let mut same = start;
        let mut same_other = other;
        for i in start + 1..end {
            if placed[i].path != placed[same].path {
                same = i;
                same_other = (i..end)
                    .take_while(|&j| placed[j].path == placed[i].path)
                    .find(|&j| placed[j].task != placed[i].task);
            }
            let pick = |from: usize, second: Option<usize>| {
                if placed[i].task != placed[from].task {
                    Some(from)
                } else {
                    second
                }
            };
            let with_first = pick(start, other);
            let with_same = pick(same, same_other).filter(|&j| Some(j) != with_first && j < i);
            for j in with_first.into_iter().chain(with_same) {
                if let Some(how) = relation(placed[i].path, placed[j].path) {
                    found.push((i, j, how));
                }
            }
        }
        // Under another scope: each with the nearest opener of another task above it.
        let above = stack
            .last()
            .map(|open| open.nearest.as_slice())
            .unwrap_or_default();
        for i in group.clone() {
            if let Some(&j) = above.iter().find(|&&j| placed[j].task != placed[i].task) {
                if let Some(how) = relation(placed[i].path, placed[j].path) {
                    found.push((i, j, how));
                }
            }
        }
        let mut nearest: Vec<usize> = Vec::with_capacity(2);
        for i in group
            .clone()
            .filter(|&i| placed[i].opens)
            .chain(above.iter().copied())
        {
            if nearest.len() == 2 {
                break;
            }
            if nearest.iter().all(|&n| placed[n].task != placed[i].task) {
                nearest.push(i);
            }
        }
        if group.clone().any(|i| placed[i].opens) {
            stack.push(Open { at: start, nearest });
        }
        start = end;
    }
    found
}

/// The 1-based character column of each cell of the given lines (sorted, without repeats), read again from the
/// file's bytes in one pass, as the parser read them.
fn cell_columns(bytes: &[u8], lines: &[usize]) -> HashMap<usize, Vec<usize>> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut wanted = lines.iter().copied().peekable();
    let mut columns = HashMap::new();
    for (i, raw) in bytes.split(|&b| b == b'\n').enumerate() {
        let Some(&line) = wanted.peek() else { break };
        if i + 1 < line {
            continue;
        }
        wanted.next();
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        if let Ok(text) = std::str::from_utf8(raw) {
            columns.insert(line, cells_with_columns(text).map(|(at, _)| at).collect());
        }
    }
    columns
}
