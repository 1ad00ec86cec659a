//! dsub's tasks file and job-wide parameters into one ecsub tasks file, line for line.
//!
//! dsub's header may name a column by its bare NAME (an environment variable, as `--env NAME`), and its command
//! line adds job-wide `--env`/`--label`/`--input[-recursive]`/`--output[-recursive]` values to every task. ecsub's
//! grammar has neither, so the file is rewritten: a bare header word becomes `--env NAME`, and each job-wide value
//! becomes a column of its own at the end of every row, holding the same value. Every line keeps its number and
//! every cell the user wrote keeps its column, so ecsub's messages about the file point into the user's file.

use super::{AutoNames, Param};
use crate::diag::Finding;
use crate::tasks::ColumnKind;
use std::collections::BTreeMap;

/// What Google Cloud Storage's paths are called, and what a user moving to AWS writes instead.
pub const GCS_ADVICE: &str =
    "is a Google Cloud Storage path; on AWS the data must be in S3: copy it there and write s3://BUCKET/KEY";

/// The ecsub tasks file of a dsub job: `file` (`name`, its bytes) with `job_wide` added to every task, or without
/// a file, one task holding `job_wide` alone (`job_name` names it). A header's `--input` or `--output` without a
/// NAME is named on from `auto` (dsub counts the command line's first). Every problem is returned at once, placed
/// in the user's file where it is there.
pub fn merge(
    file: Option<(&str, &[u8])>,
    job_wide: &[Param],
    job_name: &str,
    auto: &mut AutoNames,
) -> Result<Vec<u8>, Vec<Finding>> {
    let mut errors = Vec::new();
    let mut seen: BTreeMap<(bool, &str), String> = BTreeMap::new();
    for param in job_wide {
        let key = (param.kind == ColumnKind::Label, param.name.as_str());
        if let Some(first) = seen.insert(key, param.flag()) {
            errors.push(Finding::error(format!(
                "{} {}: the name `{}` is given twice (first by {first}); each name may be given once",
                param.flag(),
                param.text(),
                param.name
            )));
        }
        if param.kind.is_path() && param.value.starts_with("gs://") {
            errors.push(Finding::error(format!(
                "{} {}: `{}` {GCS_ADVICE}",
                param.flag(),
                param.text(),
                param.value
            )));
        }
    }
    let merged = match file {
        Some((name, bytes)) => with_file(name, bytes, job_wide, &seen, &mut errors, auto),
        None => Some(alone(job_wide, job_name)),
    };
    match merged {
        Some(bytes) if errors.is_empty() => Ok(bytes),
        // Not UTF-8: ecsub's parser says where; the file is passed on as it is, with the flags' errors, if any.
        None if errors.is_empty() => Ok(file.map(|(_, b)| b.to_vec()).unwrap_or_default()),
        _ => Err(errors),
    }
}

/// One task: a header of the job-wide values' columns and a row of their values. A job given none still needs a
/// column and a cell for ecsub's grammar: the label `dsub-job`, the job's name (a tag on what it runs).
fn alone(job_wide: &[Param], job_name: &str) -> Vec<u8> {
    if job_wide.is_empty() {
        return format!("--label dsub-job\n{job_name}\n").into_bytes();
    }
    let header: Vec<String> = job_wide.iter().map(Param::header).collect();
    let row: Vec<&str> = job_wide.iter().map(|p| p.value.as_str()).collect();
    format!("{}\n{}\n", header.join("\t"), row.join("\t")).into_bytes()
}

/// The user's file with the job-wide values' columns added; `None` when it is not UTF-8.
fn with_file(
    name: &str,
    bytes: &[u8],
    job_wide: &[Param],
    flags: &BTreeMap<(bool, &str), String>,
    errors: &mut Vec<Finding>,
    auto: &mut AutoNames,
) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(bytes).ok()?;
    let mut out = String::with_capacity(text.len() + 64);
    let mut columns: Option<Vec<Option<ColumnKind>>> = None;
    for (number, raw) in text.split_inclusive('\n').enumerate() {
        let line_no = number + 1;
        let (line, end) = split_end(raw);
        if line.trim().is_empty() || line.starts_with('#') {
            out.push_str(raw);
            continue;
        }
        match &columns {
            None => {
                let mut kinds = Vec::new();
                let mut cells = Vec::new();
                for (at, cell) in cells_at(line) {
                    let (cell, kind, named) = header_cell(cell, auto);
                    if let Some(named) = named {
                        let key = (kind == Some(ColumnKind::Label), named);
                        if let Some(flag) = flags.get(&key) {
                            errors.push(Finding::at(
                                name,
                                line_no,
                                at,
                                format!(
                                    "the column `{named}` is also given by {flag} on the command line; each name \
                                     may be given once"
                                ),
                            ));
                        }
                    }
                    kinds.push(kind);
                    cells.push(cell);
                }
                cells.extend(job_wide.iter().map(Param::header));
                out.push_str(&cells.join("\t"));
                columns = Some(kinds);
            }
            Some(kinds) => {
                let mut cells: Vec<&str> = Vec::with_capacity(kinds.len() + job_wide.len());
                for (index, (at, cell)) in cells_at(line).enumerate() {
                    let path = kinds
                        .get(index)
                        .copied()
                        .flatten()
                        .is_some_and(ColumnKind::is_path);
                    if path && cell.trim().starts_with("gs://") {
                        errors.push(Finding::at(
                            name,
                            line_no,
                            at,
                            format!("`{}` {GCS_ADVICE}", cell.trim()),
                        ));
                    }
                    cells.push(cell);
                }
                if !job_wide.is_empty() {
                    // A short row's left-off cells are empty (ecsub's rule); the job-wide values come after them.
                    while cells.len() < kinds.len() {
                        cells.push("");
                    }
                    cells.extend(job_wide.iter().map(|p| p.value.as_str()));
                }
                out.push_str(&cells.join("\t"));
            }
        }
        out.push_str(end);
    }
    Some(out.into_bytes())
}

/// A header cell as ecsub reads it, its kind when it is known, and the name it gives: a bare NAME is dsub's
/// `--env NAME`, and an input or output without a NAME is named as dsub names it.
fn header_cell<'a>(
    cell: &'a str,
    auto: &mut AutoNames,
) -> (String, Option<ColumnKind>, Option<&'a str>) {
    let mut words = cell.split_whitespace();
    match (words.next(), words.next(), words.next()) {
        (Some(name), None, None) if !name.starts_with('-') => {
            (format!("--env {name}"), Some(ColumnKind::Env), Some(name))
        }
        (Some(flag), None, None)
            if ColumnKind::from_flag(flag).is_some_and(ColumnKind::is_path) =>
        {
            let kind = ColumnKind::from_flag(flag);
            let name = kind.map(|k| auto.next(k)).unwrap_or_default();
            (format!("{flag} {name}"), kind, None)
        }
        (Some(flag), Some(name), None) => {
            (cell.to_owned(), ColumnKind::from_flag(flag), Some(name))
        }
        _ => (cell.to_owned(), None, None),
    }
}

/// A line without its end (`\n` or `\r\n`), and the end.
fn split_end(raw: &str) -> (&str, &str) {
    let line = raw.strip_suffix('\n').unwrap_or(raw);
    let line = line.strip_suffix('\r').unwrap_or(line);
    (line, &raw[line.len()..])
}

/// A line's TAB-separated cells, each with its 1-based column.
fn cells_at(line: &str) -> impl Iterator<Item = (usize, &str)> {
    let mut at = 1;
    line.split('\t').map(move |cell| {
        let here = at;
        at += cell.chars().count() + 1;
        (here, cell)
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn param(kind: ColumnKind, name: &str, value: &str) -> Param {
        Param {
            kind,
            name: name.to_owned(),
            value: value.to_owned(),
        }
    }

    #[test]
    fn a_bare_header_word_is_an_env_column_and_job_wide_values_end_every_row_on_its_line() {
        let file = "# samples\nSAMPLE\t--input BAM\r\nA\ts3://b/a.bam\r\n\nB\n";
        let merged = merge(
            Some(("t.tsv", file.as_bytes())),
            &[
                param(ColumnKind::Input, "REF", "s3://b/ref.fa"),
                param(ColumnKind::Label, "batch", "7"),
            ],
            "j",
            &mut AutoNames::default(),
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(merged).unwrap(),
            "# samples\n--env SAMPLE\t--input BAM\t--input REF\t--label batch\r\n\
             A\ts3://b/a.bam\ts3://b/ref.fa\t7\r\n\nB\t\ts3://b/ref.fa\t7\n"
        );
    }

    #[test]
    fn a_name_given_twice_is_refused_where_it_is_given() {
        let file = "--env SAMPLE\t--input BAM\na\ts3://b/a\n";
        let errors = merge(
            Some(("t.tsv", file.as_bytes())),
            &[
                param(ColumnKind::Env, "BAM", "x"),
                param(ColumnKind::Env, "N", "1"),
                param(ColumnKind::Env, "N", "2"),
                // A label's name is not a variable's.
                param(ColumnKind::Label, "SAMPLE", "s"),
            ],
            "j",
            &mut AutoNames::default(),
        )
        .unwrap_err();
        let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(errors.len(), 2, "{text:?}");
        assert!(
            text.iter()
                .any(|t| t.contains("--env N=2") && t.contains("given twice")),
            "{text:?}"
        );
        assert!(
            text.iter()
                .any(|t| t.starts_with("t.tsv:1:14:") && t.contains("`BAM`")),
            "{text:?}"
        );
    }

    #[test]
    fn a_cloud_storage_path_is_refused_with_what_to_write_on_aws() {
        let file = "--input BAM\tNOTE\ngs://b/a.bam\tgs://just-text\n";
        let errors = merge(
            Some(("t.tsv", file.as_bytes())),
            &[param(ColumnKind::Output, "OUT", "gs://b/out/*")],
            "j",
            &mut AutoNames::default(),
        )
        .unwrap_err();
        let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(errors.len(), 2, "an env value is text: {text:?}");
        assert!(
            text[0].contains("--output OUT=gs://b/out/*") && text[0].contains("s3://BUCKET/KEY")
        );
        assert!(text[1].starts_with("t.tsv:2:1:"), "{text:?}");
    }

    #[test]
    fn a_header_input_without_a_name_is_named_after_the_command_lines() {
        let mut auto = AutoNames::default();
        let job_wide = [Param::parse(ColumnKind::Input, "s3://b/ref.fa", &mut auto).unwrap()];
        let merged = merge(
            Some(("t.tsv", b"--input\t--output\ns3://b/x\ts3://b/y\n")),
            &job_wide,
            "j",
            &mut auto,
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(merged).unwrap(),
            "--input INPUT_1\t--output OUTPUT_0\t--input INPUT_0\ns3://b/x\ts3://b/y\ts3://b/ref.fa\n"
        );
    }

    #[test]
    fn without_a_file_the_job_wide_values_are_its_one_task() {
        let one = merge(
            None,
            &[param(ColumnKind::Env, "A", "1 2")],
            "j",
            &mut AutoNames::default(),
        )
        .unwrap();
        assert_eq!(one, b"--env A\n1 2\n");
        assert_eq!(
            merge(None, &[], "hello", &mut AutoNames::default()).unwrap(),
            b"--label dsub-job\nhello\n"
        );
    }
}
