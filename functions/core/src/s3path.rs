//! `s3://bucket/key` paths as they appear in tasks files and options, with the rules ecsub and dsub users expect.
//!
//! Pure string logic: no S3 client here. A path is validated once, when it is parsed; everything else (the local
//! path inside the container, the transport's source and destination) is derived from the parsed value.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Where a task's copy of an S3 object lives, relative to the container's scratch folder (`/scratch`).
pub const LOCAL_DATA_DIR: &str = "AWS_DATA";

/// A validated S3 location. Recursive locations (folders) always end with `/`; file locations never do.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct S3Path {
    bucket: String,
    key: String,
    recursive: bool,
}

impl S3Path {
    /// Parses a file location (`--input`, `--output`): `s3://bucket/key`, where the last segment may hold `*`
    /// wildcards. The message of an error is lowercase and quotes the value.
    pub fn parse_file(value: &str) -> Result<Self, String> {
        let (bucket, key) = split_url(value)?;
        if key.is_empty() || key.ends_with('/') {
            return Err(format!(
                "`{value}` names a folder, not a file (use an `-recursive` column for folders)"
            ));
        }
        check_key(value, key)?;
        check_wildcards(value, key)?;
        Ok(Self {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            recursive: false,
        })
    }

    /// Parses a folder location (`--input-recursive`, `--output-recursive`). A missing trailing `/` is added, so
    /// `s3://b/data` means the folder `data/` and never matches `data2/x`.
    pub fn parse_folder(value: &str) -> Result<Self, String> {
        let (bucket, key) = split_url(value)?;
        let key = key.trim_end_matches('/');
        if !key.is_empty() {
            check_key(value, key)?;
        }
        if key.contains('*') {
            return Err(format!(
                "`{value}`: wildcards are not allowed in a recursive column"
            ));
        }
        if key.contains(['?', '[', ']']) {
            return Err(format!(
                "`{value}`: `?`, `[` and `]` are not allowed in paths"
            ));
        }
        Ok(Self {
            bucket: bucket.to_owned(),
            key: if key.is_empty() {
                String::new()
            } else {
                format!("{key}/")
            },
            recursive: true,
        })
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    pub fn key(&self) -> &str {
        &self.key
    }

    pub fn is_recursive(&self) -> bool {
        self.recursive
    }

    /// True when the last segment holds a `*` (only file locations can).
    pub fn has_wildcard(&self) -> bool {
        self.key.contains('*')
    }

    /// The location as a URL, `s3://bucket/key`.
    pub fn url(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.key)
    }

    /// The path of the task's copy, relative to the scratch folder: `AWS_DATA/<bucket>/<key>`.
    pub fn local_relative(&self) -> String {
        format!("{LOCAL_DATA_DIR}/{}/{}", self.bucket, self.key)
    }
}

impl fmt::Display for S3Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, self.key)
    }
}

/// Does a file name match a pattern whose only wildcard is `*` (any run of characters)?
pub fn wildcard_matches(pattern: &str, name: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = name.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        return rest.is_empty();
    };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

/// Splits `s3://bucket/key` into a valid bucket name and the (unchecked) key.
fn split_url(value: &str) -> Result<(&str, &str), String> {
    let Some(rest) = value.strip_prefix("s3://") else {
        return Err(format!("`{value}` is not an s3:// path"));
    };
    let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
    check_bucket(bucket).map_err(|why| format!("`{value}`: {why}"))?;
    Ok((bucket, key))
}

/// S3's naming rules for general purpose buckets (its "General purpose bucket naming rules"): 3–63 characters of
/// lowercase letters, digits, `.` and `-`, beginning and ending with a letter or digit, no two adjacent `.`, not
/// in the form of an IP address, and none of the prefixes and suffixes S3 reserves. A name S3 never allows is
/// refused here, with the rule it breaks, rather than by the first copy of the first task.
///
/// A directory bucket's name (`…--x-s3`, S3 Express One Zone) keeps these rules and is taken: a task may read
/// and write one.
pub fn check_bucket(bucket: &str) -> Result<(), String> {
    if bucket.is_empty() {
        return Err("the bucket name is empty".to_owned());
    }
    if !(3..=63).contains(&bucket.len()) {
        return Err(format!(
            "bucket name `{bucket}` must be 3 to 63 characters long"
        ));
    }
    let ok_char = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-';
    let edge = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if !bucket.chars().all(ok_char) || !edge(bucket.chars().next()) || !edge(bucket.chars().last())
    {
        return Err(format!(
            "`{bucket}` is not a valid bucket name (lowercase letters, digits, `.` and `-`; \
             beginning and ending with a letter or digit)"
        ));
    }
    if bucket.contains("..") {
        return Err(format!(
            "`{bucket}` is not a valid bucket name: S3 allows no two adjacent `.`"
        ));
    }
    let labels: Vec<&str> = bucket.split('.').collect();
    if labels.len() == 4 && labels.iter().all(|l| l.bytes().all(|b| b.is_ascii_digit())) {
        return Err(format!(
            "`{bucket}` is not a valid bucket name: S3 allows no name in the form of an IP address"
        ));
    }
    if let Some((prefix, why)) = RESERVED_PREFIXES
        .iter()
        .find(|(p, _)| bucket.starts_with(p))
    {
        return Err(format!(
            "`{bucket}` is not a valid bucket name: S3 reserves the prefix `{prefix}` ({why})"
        ));
    }
    if let Some((suffix, why)) = RESERVED_SUFFIXES.iter().find(|(s, _)| bucket.ends_with(s)) {
        return Err(format!(
            "`{bucket}` is not a valid bucket name: S3 reserves the suffix `{suffix}` ({why})"
        ));
    }
    Ok(())
}

/// The prefixes no general purpose bucket's name may start with, and why S3 reserves them.
const RESERVED_PREFIXES: [(&str, &str); 3] = [
    ("xn--", "internationalized domain names"),
    ("sthree-", "S3's own names"),
    ("amzn-s3-demo-", "the documentation's examples"),
];

/// The suffixes no general purpose bucket's name may end with, and why S3 reserves them. The suffixes of access
/// point aliases (`-s3alias`, `--ol-s3`) are reserved too, and taken here: an alias works "anywhere you use a
/// bucket name" in object operations (S3 user guide, "Access point aliases"), so a task may read and write
/// through one.
const RESERVED_SUFFIXES: [(&str, &str); 1] = [(".mrap", "Multi-Region Access Point names")];

/// Rules that keep the container's local copy inside its data folder and the key usable by the transport.
fn check_key(value: &str, key: &str) -> Result<(), String> {
    if key.len() > 1024 {
        return Err(format!("`{value}`: the key is longer than S3's 1024 bytes"));
    }
    if key.chars().any(char::is_control) {
        return Err(format!("`{value}`: the key contains a control character"));
    }
    for segment in key.trim_end_matches('/').split('/') {
        match segment {
            "" => return Err(format!("`{value}`: the key has an empty segment (`//`)")),
            "." | ".." => {
                return Err(format!(
                    "`{value}`: `{segment}` segments are not allowed (the local copy would leave its folder)"
                ))
            }
            _ => {}
        }
    }
    Ok(())
}

/// dsub's wildcard rules: only `*`, only in the last segment, never `**`.
fn check_wildcards(value: &str, key: &str) -> Result<(), String> {
    if key.contains(['?', '[', ']']) {
        return Err(format!(
            "`{value}`: only `*` wildcards are supported (`?`, `[` and `]` are not allowed)"
        ));
    }
    if !key.contains('*') {
        return Ok(());
    }
    let (folder, name) = key.rsplit_once('/').unwrap_or(("", key));
    if folder.contains('*') {
        return Err(format!(
            "`{value}`: `*` is only allowed in the file name, not in a folder"
        ));
    }
    if name.contains("**") {
        return Err(format!("`{value}`: `**` is not supported (only `*`)"));
    }
    if name.contains('\\') {
        return Err(format!(
            "`{value}`: a file name with `*` cannot also contain `\\`"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_paths_keep_their_key_and_map_under_aws_data() {
        let p = S3Path::parse_file("s3://my-bucket/in/a b.txt").unwrap();
        assert_eq!(p.bucket(), "my-bucket");
        assert_eq!(p.key(), "in/a b.txt");
        assert_eq!(p.url(), "s3://my-bucket/in/a b.txt");
        assert_eq!(p.local_relative(), "AWS_DATA/my-bucket/in/a b.txt");
        assert!(!p.has_wildcard());
    }

    #[test]
    fn folder_paths_are_normalised_to_a_trailing_slash() {
        assert_eq!(
            S3Path::parse_folder("s3://bkt/data").unwrap().url(),
            "s3://bkt/data/"
        );
        assert_eq!(
            S3Path::parse_folder("s3://bkt/data///").unwrap().url(),
            "s3://bkt/data/"
        );
        assert_eq!(S3Path::parse_folder("s3://bkt").unwrap().url(), "s3://bkt/");
    }

    #[test]
    fn rejects_what_is_not_an_s3_path() {
        assert_eq!(
            S3Path::parse_file("gs://x/y").unwrap_err(),
            "`gs://x/y` is not an s3:// path"
        );
        assert!(S3Path::parse_file("s3://Bad_Bucket/k")
            .unwrap_err()
            .contains("not a valid bucket name"));
        assert!(S3Path::parse_file("s3://ab/k")
            .unwrap_err()
            .contains("3 to 63"));
        assert!(S3Path::parse_file("s3://bkt/")
            .unwrap_err()
            .contains("names a folder"));
        assert!(S3Path::parse_file("s3://bkt")
            .unwrap_err()
            .contains("names a folder"));
        assert!(S3Path::parse_file("s3://bkt/a//b")
            .unwrap_err()
            .contains("empty segment"));
        assert!(S3Path::parse_file("s3://bkt/../etc/passwd")
            .unwrap_err()
            .contains("`..` segments"));
    }

    /// Probe 2026-12, finding 19: names S3 never gives a bucket are refused, each with the rule it breaks.
    #[test]
    fn bucket_names_follow_every_general_purpose_naming_rule() {
        for (bucket, why) in [
            ("a..b", "no two adjacent `.`"),
            ("192.168.1.1", "in the form of an IP address"),
            ("xn--abc", "the prefix `xn--`"),
            ("sthree-x", "the prefix `sthree-`"),
            ("sthree-configurator", "the prefix `sthree-`"),
            ("amzn-s3-demo-bucket", "the prefix `amzn-s3-demo-`"),
            ("bkt.mrap", "the suffix `.mrap`"),
        ] {
            let err = S3Path::parse_file(&format!("s3://{bucket}/x")).unwrap_err();
            assert!(
                err.starts_with(&format!(
                    "`s3://{bucket}/x`: `{bucket}` is not a valid bucket name: S3 "
                )) && err.contains(why),
                "{bucket}: {err}"
            );
            assert!(check_bucket(bucket).is_err(), "{bucket}");
        }
        assert_eq!(
            check_bucket("10.0.0.1").unwrap_err(),
            "`10.0.0.1` is not a valid bucket name: S3 allows no name in the form of an IP address"
        );
        // Near misses are names S3 gives: dots apart, three or five groups of digits, the words inside a name, a
        // directory bucket; and access point aliases, which work as bucket names.
        for bucket in [
            "a.b.c",
            "1.2.3",
            "1.2.3.4.5",
            "1.2.3.a",
            "my-xn--bucket",
            "a-sthree-b",
            "s3alias-bkt",
            "bkt-s3alias-2",
            "base--usw2-az1--x-s3",
            "ecsub-wordcount",
            "my-ap-hrzrlukc5m36ft7okagglf3gmwluquse1b-s3alias",
            "my-olap-abc123--ol-s3",
        ] {
            assert_eq!(check_bucket(bucket), Ok(()), "{bucket}");
        }
    }

    #[test]
    fn star_matches_any_run_of_characters() {
        assert!(wildcard_matches("*.bam", "a.bam"));
        assert!(wildcard_matches("s*_*.bam", "s1_x.bam"));
        assert!(wildcard_matches("*", "anything"));
        assert!(!wildcard_matches("*.bam", "a.bai"));
        assert!(!wildcard_matches("a*a", "a"));
        assert!(wildcard_matches("exact", "exact"));
        assert!(!wildcard_matches("exact", "exact2"));
    }

    #[test]
    fn wildcards_follow_dsub_rules() {
        assert!(S3Path::parse_file("s3://bkt/dir/*.bam")
            .unwrap()
            .has_wildcard());
        assert!(S3Path::parse_file("s3://bkt/d*/x.bam")
            .unwrap_err()
            .contains("not in a folder"));
        assert!(S3Path::parse_file("s3://bkt/dir/**.bam")
            .unwrap_err()
            .contains("`**`"));
        assert!(S3Path::parse_file("s3://bkt/dir/?.bam")
            .unwrap_err()
            .contains("only `*`"));
        assert!(S3Path::parse_file("s3://bkt/dir/[ab].bam")
            .unwrap_err()
            .contains("only `*`"));
        assert!(S3Path::parse_folder("s3://bkt/dir*/")
            .unwrap_err()
            .contains("recursive"));
    }
}
