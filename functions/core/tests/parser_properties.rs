//! Property tests: the tasks-file parser never panics, whatever the bytes, and what it accepts it keeps intact.

#![allow(clippy::unwrap_used)]

use ecsub_core::tasks::{parse, split_words, Cell};
use proptest::prelude::*;

/// Bytes drawn mostly from the tasks-file alphabet, so that generated inputs reach past the header checks.
fn tsv_like() -> impl Strategy<Value = Vec<u8>> {
    let token = prop_oneof![
        Just(b"\t".to_vec()),
        Just(b"\n".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(b"#".to_vec()),
        Just(b"#ecsub: --spot --processes 3 ".to_vec()),
        Just(b"--env A".to_vec()),
        Just(b"--input IN".to_vec()),
        Just(b"--output-recursive OUT".to_vec()),
        Just(b"--label l".to_vec()),
        Just(b"s3://bkt/".to_vec()),
        Just(b"*".to_vec()),
        Just(b"..".to_vec()),
        Just(b"/".to_vec()),
        Just("é".as_bytes().to_vec()),
        Just(b"\xEF\xBB\xBF".to_vec()),
        Just(b"\xff".to_vec()),
        Just(b"\0".to_vec()),
        "[a-zA-Z0-9 '\"$`]{0,6}".prop_map(String::into_bytes),
    ];
    prop::collection::vec(token, 0..60).prop_map(|parts| parts.concat())
}

fn check_no_panic(bytes: &[u8]) {
    match parse("fuzz.tsv", bytes) {
        Ok(file) => {
            assert!(!file.tasks.is_empty());
            for task in &file.tasks {
                assert!(task.cells.len() <= file.columns.len());
                assert_eq!(task.cells_with(&file.columns).count(), file.columns.len());
            }
        }
        Err(diagnostics) => {
            assert!(
                diagnostics.errors().count() > 0,
                "rejected without an error: {diagnostics:?}"
            );
            for d in &diagnostics.0 {
                assert!(d.line >= 1 && d.column >= 1, "{d}");
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        check_no_panic(&bytes);
    }

    #[test]
    fn tsv_like_bytes_never_panic(bytes in tsv_like()) {
        check_no_panic(&bytes);
    }

    #[test]
    fn directive_words_never_panic(text in "\\PC{0,80}") {
        let _ = split_words(&text);
    }

    #[test]
    fn env_values_survive_parsing_unchanged(
        rows in prop::collection::vec(prop::collection::vec("[^\t\n\r\0]{0,12}", 2), 1..8)
    ) {
        let body: String = rows
            .iter()
            .filter(|r| !r.concat().trim().is_empty() && !r[0].starts_with('#'))
            .map(|r| format!("{}\n", r.join("\t")))
            .collect();
        prop_assume!(!body.is_empty());
        let file = parse("p.tsv", format!("--env A\t--env B\n{body}").as_bytes()).unwrap();
        let kept: Vec<_> = rows.iter().filter(|r| !r.concat().trim().is_empty() && !r[0].starts_with('#')).collect();
        prop_assert_eq!(file.tasks.len(), kept.len());
        for (task, row) in file.tasks.iter().zip(kept) {
            prop_assert_eq!(&task.cells[0], &Cell::Text(row[0].clone()));
            prop_assert_eq!(&task.cells[1], &Cell::Text(row[1].clone()));
        }
    }
}
