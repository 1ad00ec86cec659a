//! The property behind `validate`: for arbitrary tasks files and option lines, `validate` either accepts the file
//! (and `run --local` on it then never exits 2, the input error) or exits 2 with every error naming the file, and
//! at a line and column where the error has one; it never panics. The cases come from a grammar of tasks files
//! (headers, rows, `#ecsub:` lines, odd values) rather than raw bytes, so they reach past the first check; the
//! number of cases is bounded for CI (`PROPTEST_CASES` raises it).

#![allow(clippy::unwrap_used)]

mod common;
use common::{cli, run};
use proptest::prelude::*;

/// A column: its TYPE (mostly valid) and NAME (mostly valid).
fn column() -> impl Strategy<Value = (&'static str, String)> {
    let kind = prop_oneof![
        4 => Just("--env"),
        1 => Just("--secret-env"),
        3 => Just("--input"),
        1 => Just("--input-recursive"),
        3 => Just("--output"),
        1 => Just("--output-recursive"),
        1 => Just("--label"),
        1 => Just("--bogus"),
    ];
    let name = prop_oneof![
        12 => "[A-Z][A-Z0-9_]{0,4}",
        1 => Just("OPTIND".to_owned()),
        1 => Just("_src".to_owned()),
        1 => Just("ECSUB_X".to_owned()),
        1 => Just("1BAD".to_owned()),
    ];
    (kind, name)
}

/// Odd values that any column may get now and then.
fn odd_value() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("s3://bkt/../x".to_owned()),
        Just("s3://B/x".to_owned()),
        Just("#ff0000".to_owned()),
        Just("a\u{1b}]0;x\u{7}b".to_owned()),
        Just("$(id) `x` '\"".to_owned()),
        Just("   ".to_owned()),
        Just("s3://bkt/a/*/b".to_owned()),
        Just("extra\tcell".to_owned()),
    ]
}

/// A value for a column of `kind`: mostly one it takes, sometimes an odd one.
fn value(kind: &'static str) -> BoxedStrategy<String> {
    let fitting: BoxedStrategy<String> = match kind {
        "--input" | "--output" => prop_oneof![
            "s3://bkt/[a-z]{1,5}(/[a-z]{1,4})?",
            "s3://bkt/[a-z]{1,3}/\\*\\.txt",
            Just(String::new()),
        ]
        .boxed(),
        "--input-recursive" | "--output-recursive" => {
            prop_oneof!["s3://bkt/[a-z]{1,5}/?", Just(String::new())].boxed()
        }
        _ => "[a-zA-Z0-9 ._-]{0,8}".boxed(),
    };
    prop_oneof![8 => fitting, 1 => odd_value()].boxed()
}

fn directive() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("#ecsub: --spot".to_owned()),
        (0u32..5).prop_map(|n| format!("#ecsub: --processes {n}")),
        Just("#ecsub: --task-range 1-2".to_owned()),
        Just("#ecsub: --task-range 9".to_owned()),
        Just("#ecsub: --task-name ../x".to_owned()),
        Just("#ecsub: --task-name job_1".to_owned()),
        Just("#ecsub: --aws-ec2-instance-type t3.micro,t3.small".to_owned()),
        Just("#ecsub: --bogus".to_owned()),
        Just("#ecsub: --image 'unterminated".to_owned()),
        Just("#ECSUB: --spot".to_owned()),
        Just("# a comment".to_owned()),
    ]
}

fn tasks_file() -> impl Strategy<Value = String> {
    let directives = prop::collection::vec(directive(), 0..3);
    let columns = prop::collection::vec(column(), 1..5);
    (directives, columns, 0usize..4)
        .prop_flat_map(|(directives, columns, n_rows)| {
            let row: Vec<BoxedStrategy<String>> = columns.iter().map(|(k, _)| value(k)).collect();
            let rows = prop::collection::vec(row, n_rows..=n_rows);
            (Just(directives), Just(columns), rows)
        })
        .prop_map(|(directives, columns, rows)| {
            let mut text = String::new();
            for d in directives {
                text.push_str(&d);
                text.push('\n');
            }
            let header: Vec<String> = columns.iter().map(|(k, n)| format!("{k} {n}")).collect();
            text.push_str(&header.join("\t"));
            text.push('\n');
            for row in rows {
                text.push_str(&row.join("\t"));
                text.push('\n');
            }
            text
        })
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(48),
        ..ProptestConfig::default()
    })]

    #[test]
    fn validate_accepts_what_runs_or_positions_every_error(text in tasks_file()) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("t.tsv"), &text).unwrap();
        std::fs::write(dir.path().join("s.sh"), "true\n").unwrap();
        let checked = run(cli().current_dir(dir.path()).args(["validate", "--tasks", "t.tsv"]));
        prop_assert!(!checked.stderr.contains("panicked"), "{}", checked.stderr);
        match checked.code {
            0 => {
                let ran = run(cli().current_dir(dir.path()).args([
                    "run", "--local", "--tasks", "t.tsv", "--script", "s.sh", "--not-verify-bucket",
                ]));
                prop_assert!(
                    ran.code == 0 || ran.code == 1,
                    "validate accepted it but run exited {}:\n{text}\n{}",
                    ran.code,
                    ran.stderr
                );
            }
            2 => {
                for line in checked.stderr.lines().filter(|l| !l.contains(": warning: ")) {
                    prop_assert!(line.starts_with("t.tsv:"), "unplaced error `{line}` for:\n{text}");
                }
                prop_assert!(!checked.stderr.is_empty());
            }
            other => prop_assert!(false, "validate exited {other}:\n{text}\n{}", checked.stderr),
        }
    }
}
