//! dsub's command line on this stack: the pure decisions that turn dsub's parameters, names and values into an
//! ecsub job (dsub, DataBiosphere/dsub, is the specification: its `docs/*.md`).
//!
//! - [`tasks`]: dsub's tasks file and job-wide parameters into one ecsub tasks file, line for line;
//! - [`Param`]: a job-wide `--env`/`--label`/`--input[-recursive]`/`--output[-recursive]` value, named as dsub
//!   names it (`INPUT_0`, … when the name is left out);
//! - [`job_name`], [`label_chars`], [`job_id_name`]: dsub's job name, its user id and its job id form;
//! - [`task_range`]: `--tasks FILE M-N`, dsub's 1-based task ids, as ecsub's 0-based range;
//! - [`shell_of`]: how a script runs (dsub runs it by its `#!` line);
//! - [`machine_type`], [`timeout_seconds`]: resource values, with what to use on AWS for Google's;
//! - [`logging`]: `--logging`'s paths; [`stat`]: dstat's rows, states, filters and forms.
//!
//! Pure, like the rest of the crate: the CLI reads the files and the clock.

pub mod logging;
pub mod stat;
pub mod tasks;

use crate::options::TaskRange;
use crate::tasks::ColumnKind;

/// A job-wide value of dsub's command line: `--env NAME=VALUE`, `--label KEY=VALUE`, `--input NAME=s3://…`, …
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Param {
    pub kind: ColumnKind,
    pub name: String,
    pub value: String,
}

/// Counts the inputs and outputs given without a name, for dsub's `INPUT_0`, `OUTPUT_0`, …
#[derive(Debug, Default)]
pub struct AutoNames {
    inputs: usize,
    outputs: usize,
}

impl AutoNames {
    /// The name of the next input or output given without one (`kind` a path column's).
    pub fn next(&mut self, kind: ColumnKind) -> String {
        let input = matches!(kind, ColumnKind::Input | ColumnKind::InputRecursive);
        let (prefix, counter) = if input {
            ("INPUT_", &mut self.inputs)
        } else {
            ("OUTPUT_", &mut self.outputs)
        };
        let name = format!("{prefix}{counter}");
        *counter += 1;
        name
    }
}

impl Param {
    /// dsub's reading of a flag's value: `NAME=VALUE` (`--env NAME` and `--label KEY` have an empty value);
    /// an input or output may leave out `NAME=`, and is then `INPUT_<n>` or `OUTPUT_<n>` in the order given.
    pub fn parse(kind: ColumnKind, text: &str, auto: &mut AutoNames) -> Result<Param, String> {
        let (name, value) = match (kind.is_path(), text.split_once('=')) {
            (_, Some((name, value))) if !(kind.is_path() && name.contains("://")) => {
                (name.to_owned(), value.to_owned())
            }
            (false, _) => (text.to_owned(), String::new()),
            (true, _) => (auto.next(kind), text.to_owned()),
        };
        if name.is_empty() {
            return Err(format!("{} {text}: no NAME before `=`", kind.flag()));
        }
        if value.contains(['\t', '\n', '\r']) {
            return Err(format!(
                "{} {}: a value may not hold a TAB or a line break (it is every task's cell of the tasks file)",
                kind.flag(),
                text.escape_debug()
            ));
        }
        if kind.is_path() && value.is_empty() {
            return Err(format!("{} {text}: no path after `{name}=`", kind.flag()));
        }
        if kind == ColumnKind::Label && RESERVED_LABELS.contains(&name.as_str()) {
            return Err(format!(
                "--label {text}: `{name}` is one of dsub's own labels ({}); choose another name",
                RESERVED_LABELS.join(", ")
            ));
        }
        Ok(Param { kind, name, value })
    }

    /// The flag it was given with.
    pub fn flag(&self) -> String {
        self.kind.flag().to_owned()
    }

    /// `NAME=VALUE`, as a message shows it.
    pub fn text(&self) -> String {
        format!("{}={}", self.name, self.value)
    }

    /// Its column's header cell.
    pub fn header(&self) -> String {
        format!("{} {}", self.kind.flag(), self.name)
    }
}

/// The labels dsub puts on every task itself, which a user's `--label` may not take (dsub's `RESERVED_LABELS`).
pub const RESERVED_LABELS: [&str; 6] = [
    "job-name",
    "job-id",
    "user-id",
    "task-id",
    "dsub-version",
    "task-attempt",
];

/// A value as dsub makes it a label: lowercase letters, digits and `-`, anything else `-`.
pub fn label_chars(text: &str) -> String {
    text.chars()
        .map(|c| match c.to_ascii_lowercase() {
            c @ ('a'..='z' | '0'..='9' | '-') => c,
            _ => '-',
        })
        .collect()
}

/// dsub's job name: `--name`, else the script's file name up to its first `.`, else the command's first word
/// (its base name, leading punctuation dropped), else `command`; as a label (see [`label_chars`]).
pub fn job_name(name: Option<&str>, script_file: Option<&str>, command: Option<&str>) -> String {
    let chosen = match (name, script_file, command) {
        (Some(name), _, _) => name.to_owned(),
        (None, Some(file), _) => {
            let base = file.rsplit('/').next().unwrap_or(file);
            base.split('.').next().unwrap_or(base).to_owned()
        }
        (None, None, Some(command)) => command_name(command),
        (None, None, None) => "command".to_owned(),
    };
    let label = label_chars(&chosen);
    if label.trim_matches('-').is_empty() {
        "job".to_owned()
    } else {
        label
    }
}

/// The first word of a command's first line that is not a comment, as dsub names a `--command` job.
fn command_name(command: &str) -> String {
    for line in command.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') || line == "\\" {
            continue;
        }
        for word in line.split_whitespace() {
            let base = word.rsplit('/').next().unwrap_or(word);
            let name = base.trim_start_matches(|c: char| !(c.is_ascii_alphanumeric() || c == '_'));
            if !name.is_empty() {
                return name.to_owned();
            }
        }
    }
    "command".to_owned()
}

/// The name part of a dsub job's id, `<job-name, first 10>--<user-id>--<yymmdd-HHMMSS>` (dsub's form; the id adds
/// ecsub's random suffix where dsub has hundredths of a second). The user id is cut so that the whole id fits
/// AWS's 80 characters. `utc_ms`: the submission's time.
pub fn job_id_name(job_name: &str, user_id: &str, utc_ms: i64) -> String {
    let short: String = job_name.chars().take(10).collect();
    let user: String = label_chars(user_id).chars().take(32).collect();
    let time = crate::time::rfc3339_of_ms(utc_ms);
    // 2026-12-07T23:10:18Z → 261207-231018
    let digits: String = time.chars().filter(char::is_ascii_digit).collect();
    let stamp = format!(
        "{}-{}",
        digits.get(2..8).unwrap_or("000000"),
        digits.get(8..14).unwrap_or("000000")
    );
    format!("{short}--{user}--{stamp}")
}

/// `--tasks FILE M-N`: dsub's task ids are 1-based (`M-N`, `M-` or `M`), ecsub's indices 0-based.
pub fn task_range(text: &str) -> Result<TaskRange, String> {
    let bad = || {
        format!(
            "`{text}` is not a range of task ids (dsub's: M-N, M- or M, the first task being 1)"
        )
    };
    let id = |part: &str| {
        part.trim()
            .parse::<usize>()
            .ok()
            .filter(|&n| n >= 1)
            .ok_or_else(bad)
    };
    let (first, last) = match text.split_once('-') {
        Some((first, "")) => (id(first)?, None),
        Some((first, last)) => (id(first)?, Some(id(last)?)),
        None => {
            let only = id(text)?;
            (only, Some(only))
        }
    };
    if last.is_some_and(|last| last < first) {
        return Err(bad());
    }
    Ok(TaskRange {
        first: first - 1,
        last: last.map(|last| last - 1),
    })
}

/// How a script runs: dsub runs it as a program, by its `#!` line; ecsub hands it to `--shell`, so the `#!` line's
/// interpreter and arguments become the shell (`None`: no `#!` line, ecsub's default `/bin/bash`).
pub fn shell_of(script: &[u8]) -> Option<String> {
    let first = script.split(|&b| b == b'\n').next()?;
    let line = std::str::from_utf8(first.strip_prefix(b"#!")?).ok()?.trim();
    (!line.is_empty()).then(|| line.to_owned())
}

/// `--machine-type`: an EC2 instance type (`family.size`, e.g. `m5.xlarge`) is used as it is; one of Google's
/// (`n1-standard-4`, `e2-highmem-8`, …) is refused with what to give on AWS.
pub fn machine_type(text: &str) -> Result<String, String> {
    let ec2 = text.split_once('.').is_some_and(|(family, size)| {
        !family.is_empty()
            && !size.is_empty()
            && family
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && size
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    });
    if ec2 {
        return Ok(text.to_owned());
    }
    let google = text.starts_with("custom-")
        || [
            "n1-", "n2-", "n2d-", "n4-", "e2-", "c2-", "c2d-", "c3-", "c3d-", "c4-", "m1-", "m2-",
            "m3-", "a2-", "a3-", "g2-", "t2a-", "t2d-", "h3-", "f1-", "g1-",
        ]
        .iter()
        .any(|p| text.starts_with(p));
    Err(if google {
        format!(
            "--machine-type {text}: a Google Compute Engine type; on AWS give an EC2 instance type (e.g. m5.xlarge \
             for 4 vCPUs and 16 GiB, c5.2xlarge for 8 and 16 GiB, r5.large for 2 and 16 GiB)"
        )
    } else {
        format!("--machine-type {text}: not an EC2 instance type (FAMILY.SIZE, e.g. m5.xlarge)")
    })
}

/// Is `name` an AWS region's (`us-east-1`, `eu-central-2`, `us-gov-west-1`), not a Google one's (`us-central1`)?
pub fn aws_region(name: &str) -> bool {
    let parts: Vec<&str> = name.split('-').collect();
    let (Some(first), Some(last)) = (parts.first(), parts.last()) else {
        return false;
    };
    (3..=4).contains(&parts.len())
        && first.len() == 2
        && first.chars().all(|c| c.is_ascii_lowercase())
        && parts[1..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase()))
        && !last.is_empty()
        && last.chars().all(|c| c.is_ascii_digit())
}

/// dsub's `--timeout`: a number with a unit `s`, `m`, `h`, `d` or `w` (`90m`, `1.5h`, `7d`), in seconds.
pub fn timeout_seconds(text: &str) -> Result<u64, String> {
    let bad = || {
        format!("--timeout {text}: expected a number and a unit s, m, h, d or w (e.g. 30m, 6h, 2d)")
    };
    let t = text.trim();
    let unit = t.chars().last().ok_or_else(bad)?;
    let scale: f64 = match unit {
        's' => 1.0,
        'm' => 60.0,
        'h' => 3600.0,
        'd' => 86_400.0,
        'w' => 604_800.0,
        _ => return Err(bad()),
    };
    let number: f64 = t[..t.len() - 1].parse().map_err(|_| bad())?;
    if !number.is_finite() || number <= 0.0 {
        return Err(bad());
    }
    let seconds = (number * scale).ceil();
    if seconds > u64::MAX as f64 {
        return Err(bad());
    }
    Ok(seconds as u64)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn values_are_read_as_dsub_reads_them() {
        let mut auto = AutoNames::default();
        let p = |kind, text: &str, auto: &mut AutoNames| Param::parse(kind, text, auto).unwrap();
        let input = p(ColumnKind::Input, "s3://b/a.bam", &mut auto);
        assert_eq!(
            (input.name.as_str(), input.value.as_str()),
            ("INPUT_0", "s3://b/a.bam")
        );
        let input = p(ColumnKind::InputRecursive, "s3://b/x=y/", &mut auto);
        assert_eq!(
            (input.name.as_str(), input.value.as_str()),
            ("INPUT_1", "s3://b/x=y/")
        );
        let output = p(ColumnKind::Output, "OUT=s3://b/o/*.txt", &mut auto);
        assert_eq!(
            (output.name.as_str(), output.value.as_str()),
            ("OUT", "s3://b/o/*.txt")
        );
        let output = p(ColumnKind::Output, "s3://b/o", &mut auto);
        assert_eq!(output.name, "OUTPUT_0");
        let env = p(ColumnKind::Env, "A=b=c", &mut auto);
        assert_eq!((env.name.as_str(), env.value.as_str()), ("A", "b=c"));
        let bare = p(ColumnKind::Env, "FLAG", &mut auto);
        assert_eq!((bare.name.as_str(), bare.value.as_str()), ("FLAG", ""));
        assert!(Param::parse(ColumnKind::Label, "job-id=x", &mut auto)
            .unwrap_err()
            .contains("dsub's own labels"));
        assert!(Param::parse(ColumnKind::Input, "IN=", &mut auto)
            .unwrap_err()
            .contains("no path"));
        assert!(Param::parse(ColumnKind::Env, "=1", &mut auto)
            .unwrap_err()
            .contains("no NAME"));
        assert!(Param::parse(ColumnKind::Env, "A=x\ty", &mut auto)
            .unwrap_err()
            .contains("TAB"));
        assert!(Param::parse(ColumnKind::Env, "A=x\ny", &mut auto)
            .unwrap_err()
            .contains("line break"));
    }

    #[test]
    fn the_job_is_named_and_its_id_formed_as_dsub_does() {
        assert_eq!(job_name(Some("My_Job"), None, None), "my-job");
        assert_eq!(
            job_name(None, Some("scripts/get_vcf.sample.sh"), None),
            "get-vcf"
        );
        assert_eq!(
            job_name(None, None, Some("# x\n  /usr/bin/sort -n in")),
            "sort"
        );
        assert_eq!(job_name(None, None, Some("'echo' hi")), "echo-");
        assert_eq!(job_name(None, None, Some("")), "command");
        // 2026-12-07T23:10:18Z
        let name = job_id_name("align-bam-files", "Jane_Doe", 1_796_685_018_000);
        assert_eq!(name, "align-bam---jane-doe--261207-231018");
        assert!(crate::job::check_name(&name).is_ok());
        let long = job_id_name("x", &"u".repeat(100), 0);
        assert!(crate::job::check_name(&long).is_ok(), "{long}");
    }

    #[test]
    fn task_ids_are_one_based() {
        let r = task_range("1-3").unwrap();
        assert_eq!((r.first, r.last), (0, Some(2)));
        let r = task_range("4-").unwrap();
        assert_eq!((r.first, r.last), (3, None));
        let r = task_range("2").unwrap();
        assert_eq!((r.first, r.last), (1, Some(1)));
        for bad in ["0", "0-2", "3-1", "-2", "a", ""] {
            assert!(
                task_range(bad)
                    .unwrap_err()
                    .contains("the first task being 1"),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_script_runs_by_its_interpreter_line() {
        assert_eq!(
            shell_of(b"#!/usr/bin/env python3\nprint(1)\n").as_deref(),
            Some("/usr/bin/env python3")
        );
        assert_eq!(
            shell_of(b"#!/bin/bash -eu\n").as_deref(),
            Some("/bin/bash -eu")
        );
        assert_eq!(shell_of(b"echo hi\n"), None);
        assert_eq!(shell_of(b"#!\n"), None);
    }

    #[test]
    fn machine_types_are_ec2s_and_googles_are_refused_with_advice() {
        assert_eq!(machine_type("m5.xlarge").unwrap(), "m5.xlarge");
        assert_eq!(machine_type("g4dn.2xlarge").unwrap(), "g4dn.2xlarge");
        assert!(machine_type("n1-standard-4")
            .unwrap_err()
            .contains("Google Compute Engine"));
        assert!(machine_type("custom-2-4096")
            .unwrap_err()
            .contains("m5.xlarge"));
        assert!(machine_type("big")
            .unwrap_err()
            .contains("not an EC2 instance type"));
    }

    #[test]
    fn aws_regions_are_told_from_googles() {
        for aws in [
            "us-east-1",
            "eu-central-2",
            "us-gov-west-1",
            "ap-southeast-4",
        ] {
            assert!(aws_region(aws), "{aws}");
        }
        for google in [
            "us-central1",
            "europe-west4",
            "us",
            "",
            "us-east-",
            "US-EAST-1",
        ] {
            assert!(!aws_region(google), "{google}");
        }
    }

    #[test]
    fn timeouts_have_dsubs_units() {
        assert_eq!(timeout_seconds("90m").unwrap(), 5400);
        assert_eq!(timeout_seconds("1.5h").unwrap(), 5400);
        assert_eq!(timeout_seconds("7d").unwrap(), 604_800);
        assert_eq!(timeout_seconds("30s").unwrap(), 30);
        for bad in ["", "5", "h", "-1h", "1y", "nanh"] {
            assert!(timeout_seconds(bad).is_err(), "{bad}");
        }
    }
}
