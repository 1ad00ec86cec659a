//! A job's `--tag`s on everything it makes and pays for, as AWS itself then lists them (EC2's instances and
//! volumes, ECS's task, cluster and task definition, the log group), and `report`'s totals by `--label` value and
//! by tag.

use ecsub_e2e::jobs::{
    assert_nothing_running, cluster_of, job_id_of, push, summary, until_running, with_wordcount,
    write,
};
use ecsub_e2e::Sandbox;
use serde_json::Value;
use std::collections::BTreeMap;

/// The user's tags of the test: one from the tasks file's `#ecsub:` line, two from the command line (one of them
/// overriding the file's value), with a space and non-ASCII letters, which every service takes.
const WANTED: [(&str, &str); 3] = [
    ("grant", "R01-HG0001"),
    ("project", "genomics"),
    ("cost center", "Lab Δ 7"),
];

/// `[{"Key": k, "Value": v}]` (EC2) or `[{"key": k, "value": v}]` (ECS) as a map.
fn tag_map(list: &Value, key: &str, value: &str) -> BTreeMap<String, String> {
    list.as_array()
        .into_iter()
        .flatten()
        .map(|t| {
            (
                t[key].as_str().unwrap_or_default().to_owned(),
                t[value].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

fn assert_tagged(what: &str, tags: &BTreeMap<String, String>, job: &str) {
    for (key, value) in WANTED {
        assert_eq!(
            tags.get(key).map(String::as_str),
            Some(value),
            "{what} lacks {key}={value}: {tags:?}"
        );
    }
    assert_eq!(
        tags.get("ecsub:job").map(String::as_str),
        Some(job),
        "{what} keeps ecsub's own tags: {tags:?}"
    );
}

#[test]
fn a_jobs_tags_are_on_every_resource_it_makes_and_report_totals_it_by_tag_and_label() {
    let sandbox = with_wordcount();
    let dir = tempfile::tempdir().unwrap();
    let tasks = write(
        dir.path(),
        "tagged.tsv",
        "#ecsub: --tag grant=R01-HG0001 --tag project=old\n--label cohort\t--env N\nA\t1\nB\t2\n",
    );
    // Long enough for the volumes and the ECS tasks (gone with their instances) to be looked at while they run.
    let script = write(dir.path(), "tagged.sh", "sleep 45\n");
    let pushed = push(
        &sandbox,
        &tasks,
        &script,
        &["--tag", "project=genomics", "--tag", "cost center=Lab Δ 7"],
    );
    assert_eq!(pushed.code, 0, "{}\n{}", pushed.stdout, pushed.stderr);
    let job = job_id_of(&pushed);
    until_running(&sandbox, 2, 120);

    // What lives only while the tasks run: the volumes and the ECS tasks.
    let volumes = sandbox.aws_json(&[
        "ec2",
        "describe-volumes",
        "--filters",
        &format!("Name=tag:ecsub:job,Values={job}"),
    ]);
    let volumes = volumes["Volumes"].as_array().cloned().unwrap_or_default();
    assert_eq!(volumes.len(), 2, "one root volume an instance: {volumes:?}");
    for v in &volumes {
        assert_tagged("a volume", &tag_map(&v["Tags"], "Key", "Value"), &job);
    }
    let cluster = cluster_of(&sandbox, &job);
    let listed = sandbox.aws_json(&["ecs", "list-tasks", "--cluster", &cluster]);
    let task_arns: Vec<String> = listed["taskArns"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| a.as_str().map(str::to_owned))
        .collect();
    assert_eq!(task_arns.len(), 2, "{listed}");
    for arn in &task_arns {
        let tags = sandbox.aws_json(&["ecs", "list-tags-for-resource", "--resource-arn", arn]);
        let tags = tag_map(&tags["tags"], "key", "value");
        assert_tagged("an ECS task", &tags, &job);
        assert!(tags.contains_key("ecsub:task") && tags.contains_key("ecsub:attempt"));
    }
    // The cluster and the task definition, until the job's end removes them.
    let clusters = sandbox.aws_json(&[
        "ecs",
        "describe-clusters",
        "--clusters",
        &cluster,
        "--include",
        "TAGS",
    ]);
    assert_tagged(
        "the cluster",
        &tag_map(&clusters["clusters"][0]["tags"], "key", "value"),
        &job,
    );
    let definition = sandbox.aws_json(&[
        "ecs",
        "describe-task-definition",
        "--task-definition",
        &cluster,
        "--include",
        "TAGS",
    ]);
    assert_tagged(
        "the task definition",
        &tag_map(&definition["tags"], "key", "value"),
        &job,
    );

    let summary_url = format!("s3://{}/jobs/{job}/summary.json", sandbox.bucket());
    sandbox.until(240, "the job's end", || sandbox.object(&summary_url));
    let s = summary(&sandbox, &job);
    assert_eq!(s["succeeded"], 2, "{s}");
    assert_nothing_running(&sandbox, &job);
    let instances = ecsub_e2e::jobs::all_instances(&sandbox, &job);
    assert!(!instances.is_empty());
    for i in &instances {
        assert_tagged("an instance", &tag_map(&i["Tags"], "Key", "Value"), &job);
    }
    let stack = sandbox.info["stack"].as_str().unwrap();
    let group = sandbox.aws_json(&[
        "logs",
        "list-tags-log-group",
        "--log-group-name",
        &format!("/ecsub/{stack}/{job}"),
    ]);
    let group: BTreeMap<String, String> =
        serde_json::from_value(group["tags"].clone()).unwrap_or_default();
    assert_tagged("the log group", &group, &job);

    assert_totals(&sandbox, &job, &s);
}

/// `report --totals`: the job's priced total split by cohort (each value's task, its attempt) adds up to the job's
/// total, and each tag carries the whole of it; the text table ends with the same totals.
fn assert_totals(sandbox: &Sandbox, job: &str, summary: &Value) {
    let usd = summary["cost"]["usd"].as_f64().expect("the job was priced");
    assert!(usd > 0.0, "{summary}");
    let ran = sandbox.cli(&["report", job, "--totals", "--output", "json"]);
    assert_eq!(ran.code, 0, "{}\n{}", ran.stdout, ran.stderr);
    let totals: Value = serde_json::from_str(&ran.stdout).unwrap();
    assert_eq!(totals["usd"].as_f64(), Some(usd), "{totals}");
    let by_label = totals["by_label"].as_array().unwrap();
    let values: Vec<(&str, &str, u64)> = by_label
        .iter()
        .map(|g| {
            (
                g["label"].as_str().unwrap(),
                g["value"].as_str().unwrap(),
                g["tasks"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(values, [("cohort", "A", 1), ("cohort", "B", 1)], "{totals}");
    let split: f64 = by_label.iter().map(|g| g["usd"].as_f64().unwrap()).sum();
    assert!(
        (split - usd).abs() < 1e-6,
        "{split} against {usd}: {totals}"
    );
    let tags: BTreeMap<&str, (&str, f64)> = totals["by_tag"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["key"].as_str().unwrap(),
                (t["value"].as_str().unwrap(), t["usd"].as_f64().unwrap()),
            )
        })
        .collect();
    for (key, value) in WANTED {
        assert_eq!(tags.get(key), Some(&(value, usd)), "{totals}");
    }
    let table = sandbox.cli(&["report", job]);
    assert!(
        table.stdout.contains("cost by --label cohort:\n  A: $")
            && table.stdout.contains("cost under the job's tags (grant=R01-HG0001, project=genomics, cost center=Lab Δ 7): $"),
        "{}",
        table.stdout
    );
}
