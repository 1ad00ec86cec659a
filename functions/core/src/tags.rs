//! The user's own tags (`--tag KEY=VALUE`): put beside ecsub's on everything a job makes and pays for, so that
//! a cost-allocation report (Billing, "Cost allocation tags") splits the bill by project, grant or sample batch.
//!
//! One rule for every resource a job tags, the strictest of the three services' documented rules, so that a tag
//! EC2 would take is never refused later by ECS or CloudWatch Logs halfway through a job:
//! - EC2 (User Guide, "Tag your Amazon EC2 resources", tag restrictions): at most 50 tags a resource; a key of 1 to
//!   128 Unicode characters, a value of 0 to 256; the `aws:` prefix is reserved.
//! - ECS (Developer Guide, "Tagging your Amazon ECS resources", tag restrictions): the same counts, and only
//!   "letters, numbers, and spaces representable in UTF-8, and the following characters: + - = . _ : / @".
//! - CloudWatch Logs (API Reference, CreateLogGroup, `tags`): keys `[\p{L}\p{Z}\p{N}_.:/=+\-@]+`, values the same
//!   or empty.
//!
//! Pure: parsing and checks only.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Tags a resource may have, all keys counted (the three documents above).
pub const MOST_TAGS_A_RESOURCE: usize = 50;
/// The tags ecsub puts on one resource at most: an instance's `Name`, `ecsub:stack`, `ecsub:job`, `ecsub:task`
/// and `ecsub:attempt`.
pub const OWN_TAGS: usize = 5;
/// The `--tag`s of a job: what a resource has room for beside ecsub's own.
pub const MOST_USER_TAGS: usize = MOST_TAGS_A_RESOURCE - OWN_TAGS;
pub const MOST_KEY_CHARS: usize = 128;
pub const MOST_VALUE_CHARS: usize = 256;
/// The prefix AWS keeps for itself, in any case.
const AWS_PREFIX: &str = "aws:";
/// The prefix of ecsub's own tags (`ecsub:stack`, …): the stack's IAM conditions and sweeps trust them, so a user
/// may not set them.
const OWN_PREFIX: &str = "ecsub:";
/// `Name` is the instance's name in the EC2 console, which ecsub sets to the job id.
const NAME_KEY: &str = "Name";

/// One `--tag KEY=VALUE`, checked.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Tag {
    pub key: String,
    pub value: String,
}

impl fmt::Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}", self.key, self.value)
    }
}

/// The key of `KEY=VALUE` as typed (everything before the first `=`), for laying one list over another.
pub fn key_of(typed: &str) -> &str {
    typed.split_once('=').map_or(typed, |(k, _)| k)
}

/// A character every service takes in a key or a value.
fn allowed(c: char) -> bool {
    c.is_alphanumeric() || c == ' ' || "_.:/=+-@".contains(c)
}

impl Tag {
    /// `KEY=VALUE` (the value may be empty; it may hold `=`), checked against the rules above.
    pub fn parse(typed: &str) -> Result<Tag, String> {
        let Some((key, value)) = typed.split_once('=') else {
            return Err(format!(
                "`{typed}` is not KEY=VALUE (e.g. `project=genomics`; `KEY=` for an empty value)"
            ));
        };
        let keys = key.chars().count();
        if keys == 0 {
            return Err(format!("`{typed}` has no key before the `=`"));
        }
        if keys > MOST_KEY_CHARS {
            return Err(format!(
                "the key of `{}…` has {keys} characters; AWS takes at most {MOST_KEY_CHARS}",
                key.chars().take(20).collect::<String>()
            ));
        }
        let values = value.chars().count();
        if values > MOST_VALUE_CHARS {
            return Err(format!(
                "the value of `{key}` has {values} characters; AWS takes at most {MOST_VALUE_CHARS}"
            ));
        }
        if key
            .get(..AWS_PREFIX.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(AWS_PREFIX))
        {
            return Err(format!(
                "`{key}`: keys beginning with `aws:` are AWS's own and cannot be set"
            ));
        }
        if key.starts_with(OWN_PREFIX) || key == NAME_KEY {
            return Err(format!(
                "`{key}` is a tag ecsub sets itself (`Name` and `ecsub:…`): choose another key"
            ));
        }
        for (what, text) in [("key", key), ("value", value)] {
            if let Some(bad) = text.chars().find(|c| !allowed(*c)) {
                return Err(format!(
                    "the {what} of `{typed}` holds {bad:?}: a tag has letters, digits, spaces and `_ . : / = + - @` \
                     only (ECS's and CloudWatch Logs' rule)"
                ));
            }
        }
        Ok(Tag {
            key: key.to_owned(),
            value: value.to_owned(),
        })
    }
}

/// Every `--tag` of a job, checked: each one's rule, no key twice, and at most [`MOST_USER_TAGS`]. All problems
/// are returned together, each starting with `--tag`.
pub fn parse_all(typed: &[String]) -> Result<Vec<Tag>, Vec<String>> {
    let mut errors = Vec::new();
    let mut tags: Vec<Tag> = Vec::with_capacity(typed.len());
    for t in typed {
        match Tag::parse(t) {
            Ok(tag) => match tags.iter().find(|seen| seen.key == tag.key) {
                Some(seen) => errors.push(format!(
                    "--tag: `{}` is given twice (`{seen}` and `{tag}`); a resource has one value per key",
                    tag.key
                )),
                None => tags.push(tag),
            },
            Err(why) => errors.push(format!("--tag: {why}")),
        }
    }
    if typed.len() > MOST_USER_TAGS {
        errors.push(format!(
            "--tag: {} tags; a resource has at most {MOST_TAGS_A_RESOURCE}, of which ecsub's own take {OWN_TAGS}, \
             so a job has at most {MOST_USER_TAGS}",
            typed.len()
        ));
    }
    if errors.is_empty() {
        Ok(tags)
    } else {
        Err(errors)
    }
}

/// `high` laid over `low`: the command line's tags over a tasks file's `#ecsub:` ones, key by key.
pub fn over(high: Vec<String>, low: Vec<String>) -> Vec<String> {
    let mut merged: Vec<String> = low
        .into_iter()
        .filter(|l| !high.iter().any(|h| key_of(h) == key_of(l)))
        .collect();
    merged.extend(high);
    merged
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn a_tag_is_key_equals_value_and_the_value_may_be_empty_or_hold_equals() {
        assert_eq!(
            Tag::parse("project=genomics").unwrap(),
            Tag {
                key: "project".into(),
                value: "genomics".into()
            }
        );
        assert_eq!(Tag::parse("batch=").unwrap().value, "");
        assert_eq!(Tag::parse("formula=a=b+c").unwrap().value, "a=b+c");
        assert_eq!(
            Tag::parse("cost center=Lab of Δ-genomics @ Tōkyō/2")
                .unwrap()
                .key,
            "cost center"
        );
    }

    #[test]
    fn each_rule_of_aws_is_refused_with_its_reason() {
        let refused = |t: &str| Tag::parse(t).unwrap_err();
        assert!(refused("project").contains("is not KEY=VALUE"));
        assert!(refused("=x").contains("has no key"));
        assert!(refused(&format!("{}=x", "k".repeat(129))).contains("129 characters"));
        assert!(Tag::parse(&format!("{}=x", "é".repeat(128))).is_ok());
        assert!(refused(&format!("k={}", "v".repeat(257))).contains("257 characters"));
        assert!(Tag::parse(&format!("k={}", "v".repeat(256))).is_ok());
        assert!(refused("AWS:createdBy=me").contains("AWS's own"));
        assert!(
            Tag::parse("aé:x=1").is_ok(),
            "a key with a character astride the prefix's length"
        );
        assert!(refused("ecsub:stack=other").contains("ecsub sets itself"));
        assert!(refused("Name=mine").contains("ecsub sets itself"));
        assert!(refused("team=a,b").contains("holds ','"));
        assert!(refused("te\tam=a").contains("holds '\\t'"));
        assert!(refused("note=50%").contains("holds '%'"));
    }

    #[test]
    fn a_job_has_no_key_twice_and_at_most_what_a_resource_has_room_for() {
        let errors = parse_all(&strings(&["a=1", "b=2", "a=3", "bad"])).unwrap_err();
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(
            errors[0].contains("`a` is given twice (`a=1` and `a=3`)"),
            "{errors:?}"
        );
        assert!(errors[1].starts_with("--tag: `bad`"), "{errors:?}");
        let most: Vec<String> = (0..MOST_USER_TAGS).map(|i| format!("k{i}=v")).collect();
        assert_eq!(parse_all(&most).unwrap().len(), 45);
        let over_by_one: Vec<String> = (0..=MOST_USER_TAGS).map(|i| format!("k{i}=v")).collect();
        assert_eq!(
            parse_all(&over_by_one).unwrap_err(),
            ["--tag: 46 tags; a resource has at most 50, of which ecsub's own take 5, so a job has at most 45"]
        );
    }

    #[test]
    fn the_command_line_wins_key_by_key_over_the_file() {
        assert_eq!(
            over(
                strings(&["project=b", "new=1"]),
                strings(&["project=a", "grant=g"])
            ),
            strings(&["grant=g", "project=b", "new=1"])
        );
    }
}
