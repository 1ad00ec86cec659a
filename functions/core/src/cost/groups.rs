//! A priced job's cost split the ways a lab bills it: by each `--label` column's values (a sample batch, a
//! cohort, a PI), and under each of the job's `--tag`s (the whole job: every resource it paid for carries them).
//! Money is summed in whole micro-dollars, as the job's own total is, so the groups of a column add up to it.

use super::{dollars, micros, JobCost};
use crate::tags::Tag;
use crate::tasks::{Cell, ColumnKind, TasksFile};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};

/// The cost of the tasks that share one value of a `--label` column.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LabelGroup {
    /// The label column's name.
    pub label: String,
    /// The value the tasks have (empty for tasks that left it empty).
    pub value: String,
    pub tasks: usize,
    pub attempts: usize,
    pub usd: f64,
}

/// The whole job's cost under one of its tags.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TagGroup {
    pub key: String,
    pub value: String,
    pub usd: f64,
}

/// Every `--label` column's groups, column by column in header order, each column's values in byte order.
pub fn by_label(file: &TasksFile, cost: &JobCost) -> Vec<LabelGroup> {
    let mut per_task: HashMap<usize, (usize, u64)> = HashMap::new();
    for a in &cost.attempts {
        let entry = per_task.entry(a.index).or_default();
        entry.0 += 1;
        entry.1 += micros(a.usd);
    }
    let mut out = Vec::new();
    for (at, column) in file.columns.iter().enumerate() {
        if column.kind != ColumnKind::Label {
            continue;
        }
        // value -> (tasks, attempts, micro-dollars)
        let mut groups: BTreeMap<&str, (usize, usize, u64)> = BTreeMap::new();
        for task in &file.tasks {
            let value = match task.cells.get(at) {
                Some(Cell::Text(v)) => v.as_str(),
                _ => "",
            };
            let (attempts, micros) = per_task.get(&task.index).copied().unwrap_or_default();
            let group = groups.entry(value).or_default();
            group.0 += 1;
            group.1 += attempts;
            group.2 += micros;
        }
        out.extend(
            groups
                .into_iter()
                .map(|(value, (tasks, attempts, micros))| LabelGroup {
                    label: column.name.clone(),
                    value: value.to_owned(),
                    tasks,
                    attempts,
                    usd: dollars(micros),
                }),
        );
    }
    out
}

/// The job's total under each of its tags.
pub fn by_tag(tags: &[Tag], cost: &JobCost) -> Vec<TagGroup> {
    tags.iter()
        .map(|t| TagGroup {
            key: t.key.clone(),
            value: t.value.clone(),
            usd: cost.usd,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cost::AttemptCost;

    fn attempt(index: usize, attempt: u32, usd: f64) -> AttemptCost {
        AttemptCost {
            index,
            attempt,
            instance_type: Some("t3.micro".into()),
            spot: false,
            availability_zone: None,
            billed_seconds: 60,
            instance_usd: usd,
            ebs_usd: 0.0,
            usd,
            source: "snapshot".into(),
            unpriced: None,
        }
    }

    #[test]
    fn each_label_column_splits_the_whole_job_and_its_groups_add_up_to_it() {
        let file = crate::tasks::parse(
            "t.tsv",
            b"--label cohort\t--env X\t--label pi\nA\t1\tkim\nB\t2\tkim\nA\t3\tlee\n\t4\n",
        )
        .unwrap();
        let cost = JobCost {
            usd: 0.000_013,
            attempts: vec![
                attempt(0, 1, 0.000_001),
                attempt(0, 2, 0.000_002),
                attempt(1, 1, 0.000_003),
                attempt(2, 1, 0.000_004),
                attempt(3, 1, 0.000_003),
            ],
            sources: vec![],
            ebs_source: None,
            unpriced: 0,
            notes: vec![],
        };
        let groups = by_label(&file, &cost);
        let seen: Vec<(&str, &str, usize, usize, f64)> = groups
            .iter()
            .map(|g| {
                (
                    g.label.as_str(),
                    g.value.as_str(),
                    g.tasks,
                    g.attempts,
                    g.usd,
                )
            })
            .collect();
        assert_eq!(
            seen,
            [
                ("cohort", "", 1, 1, 0.000_003),
                ("cohort", "A", 2, 3, 0.000_007),
                ("cohort", "B", 1, 1, 0.000_003),
                ("pi", "", 1, 1, 0.000_003),
                ("pi", "kim", 2, 3, 0.000_006),
                ("pi", "lee", 1, 1, 0.000_004),
            ]
        );
        for column in ["cohort", "pi"] {
            let sum: u64 = groups
                .iter()
                .filter(|g| g.label == column)
                .map(|g| micros(g.usd))
                .sum();
            assert_eq!(sum, micros(cost.usd), "{column} adds up to the job");
        }
        let tags = [Tag {
            key: "project".into(),
            value: "p1".into(),
        }];
        assert_eq!(by_tag(&tags, &cost)[0].usd, cost.usd);
    }
}
