//! `--retry-larger`: what an attempt runs on after out-of-memory and out-of-disk failures. An attempt `larger`
//! sizes up runs on the job's types from the `larger`-th on (a list is ordered smallest first); past the list's
//! end, on its last type's family's next sizes ([`larger_sizes`], which the launcher checks against EC2, since a
//! family has only some of the size names). An attempt with `disk_doublings` has its root volume doubled that many
//! times, up to what an EBS volume holds.

/// EC2's size names, smallest first ("Amazon EC2 instance types", naming conventions).
const LADDER: &[&str] = &[
    "nano", "micro", "small", "medium", "large", "xlarge", "2xlarge", "3xlarge", "4xlarge",
    "6xlarge", "8xlarge", "9xlarge", "10xlarge", "12xlarge", "16xlarge", "18xlarge", "24xlarge",
    "32xlarge", "48xlarge",
];

/// The largest gp3 root volume, GiB (EBS User Guide, "Amazon EBS volume types": 16 TiB).
pub const MAX_VOLUME_GIB: u32 = 16_384;

/// What an attempt `larger` sizes up runs on: `Listed` types of the job (tried in order), or the family's sizes
/// above the list's last type, of which the launcher takes the `steps`-th that EC2 has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptTypes {
    Listed(Vec<String>),
    Beyond { candidates: Vec<String>, steps: u32 },
}

/// The types of an attempt `larger` sizes up from the job's `types`.
pub fn attempt_types(types: &[String], larger: u32) -> AttemptTypes {
    let larger = usize::try_from(larger).unwrap_or(usize::MAX);
    if larger < types.len() {
        return AttemptTypes::Listed(types[larger..].to_vec());
    }
    let Some(last) = types.last() else {
        return AttemptTypes::Listed(Vec::new());
    };
    let steps = u32::try_from(larger + 1 - types.len()).unwrap_or(u32::MAX);
    AttemptTypes::Beyond {
        candidates: larger_sizes(last),
        steps,
    }
}

/// The size names above a type's, in its family, smallest first (`t3.micro` → `t3.small`, `t3.medium`, …); none
/// for a size off the ladder (`metal`).
pub fn larger_sizes(instance_type: &str) -> Vec<String> {
    let Some((family, size)) = instance_type.split_once('.') else {
        return Vec::new();
    };
    let Some(at) = LADDER.iter().position(|s| *s == size) else {
        return Vec::new();
    };
    LADDER[at + 1..]
        .iter()
        .map(|s| format!("{family}.{s}"))
        .collect()
}

/// The root volume of an attempt with `doublings`: the job's, doubled, at most [`MAX_VOLUME_GIB`].
pub fn attempt_volume_gib(job_gib: u32, doublings: u32) -> u32 {
    let doubled = u64::from(job_gib) << doublings.min(16);
    u32::try_from(doubled.min(u64::from(MAX_VOLUME_GIB))).unwrap_or(MAX_VOLUME_GIB)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(types: &[&str]) -> Vec<String> {
        types.iter().map(|t| (*t).to_owned()).collect()
    }

    #[test]
    fn a_list_is_walked_up_then_the_last_types_family() {
        let types = list(&["m5.large", "r5.large"]);
        assert_eq!(
            attempt_types(&types, 0),
            AttemptTypes::Listed(types.clone())
        );
        assert_eq!(
            attempt_types(&types, 1),
            AttemptTypes::Listed(list(&["r5.large"]))
        );
        assert_eq!(
            attempt_types(&types, 3),
            AttemptTypes::Beyond {
                candidates: larger_sizes("r5.large"),
                steps: 2
            }
        );
        assert_eq!(
            larger_sizes("t3.nano")[..3],
            list(&["t3.micro", "t3.small", "t3.medium"])
        );
        assert!(larger_sizes("m5.metal").is_empty());
        assert!(larger_sizes("m5.48xlarge").is_empty());
        assert!(larger_sizes("odd").is_empty());
    }

    #[test]
    fn the_disk_doubles_up_to_what_ebs_holds() {
        assert_eq!(attempt_volume_gib(52, 0), 52);
        assert_eq!(attempt_volume_gib(52, 2), 208);
        assert_eq!(attempt_volume_gib(52, 40), MAX_VOLUME_GIB);
    }
}
