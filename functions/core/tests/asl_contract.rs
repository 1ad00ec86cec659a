//! The state machine and the payload types are one contract: every path the ASL reads must exist in the types
//! the Lambdas produce, every error name it matches must be one the Lambdas emit (or a `States.*`/`Lambda.*`
//! name), and what it passes to the Lambdas must deserialize into their input types.

#![allow(clippy::unwrap_used)]

use ecsub_core::chain::{
    error_names, Attempt, AttemptResult, ExecutionInput, FinalizeInput, Instance, JobRef,
    LaunchInput, Outcome, TaskRef,
};
use ecsub_core::JobId;
use serde_json::{json, Value};
use std::collections::BTreeSet;

const ASL: &str = include_str!("../../../infra/statemachine/job.asl.json");

fn asl() -> Value {
    serde_json::from_str(ASL).unwrap()
}

fn job() -> JobRef {
    JobRef {
        job_id: JobId::new("wc", "abcde").unwrap(),
        bucket: "bkt".into(),
        job_url: "s3://bkt/jobs/wc-abcde/".into(),
        cluster: "wc-abcde".into(),
        task_definition: "arn:aws:ecs:us-east-1:1:task-definition/wc-abcde:1".into(),
        instance_types: vec!["t3.micro".into()],
        spot: true,
        retry_od: true,
        disk_size: 22,
        subnet_ids: vec![],
        security_group_id: None,
        key_name: None,
        instance_profile: Some("ecsInstanceRole".into()),
        processes: 2,
        waiter_delay: 1,
        join_polls: 40,
        task_timeout: 3600,
    }
}

fn keys(v: &impl serde::Serialize) -> BTreeSet<String> {
    serde_json::to_value(v)
        .unwrap()
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect()
}

/// Every `$.a.b…` path in the document (in path fields, `.$` fields and intrinsic functions).
fn paths(v: &Value, out: &mut BTreeSet<String>) {
    match v {
        Value::Object(map) => {
            for (k, v) in map {
                if let Value::String(s) = v {
                    if k.ends_with(".$")
                        || (k.ends_with("Path") && k != "ResultPath")
                        || k == "Variable"
                    {
                        let mut rest = s.as_str();
                        while let Some(at) = rest.find("$.") {
                            let path: String = rest[at..]
                                .chars()
                                .take_while(|c| {
                                    c.is_ascii_alphanumeric() || matches!(c, '$' | '.' | '_')
                                })
                                .collect();
                            // `$$.…` is the context object (`$$.Task.Token`), not the state's input.
                            if !rest[..at].ends_with('$') {
                                out.insert(path.clone());
                            }
                            rest = &rest[at + path.len()..];
                        }
                    }
                }
                paths(v, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|i| paths(i, out)),
        _ => {}
    }
}

#[test]
fn every_path_the_state_machine_reads_exists_in_the_payload_types() {
    let mut found = BTreeSet::new();
    paths(&asl(), &mut found);
    let result = AttemptResult {
        outcome: Outcome::Interrupted,
        exit_code: None,
        reason: String::new(),
        next_attempt: Some(Attempt {
            number: 2,
            spot: false,
        }),
    };
    let instance = Instance {
        instance_id: "i-1".into(),
        instance_type: "t3.micro".into(),
        spot: false,
        subnet_id: None,
        launched_at: String::new(),
    };
    let known: Vec<(&str, BTreeSet<String>)> = vec![
        ("job", keys(&job())),
        ("task", keys(&TaskRef { index: 0, line: 1 })),
        (
            "attempt",
            keys(&Attempt {
                number: 1,
                spot: true,
            }),
        ),
        ("instance", keys(&instance)),
        ("result", keys(&result)),
        // Made by the state machine itself: the poll counter and the join check's ResultSelector.
        ("polls", ["n".to_owned()].into()),
        ("joined", ["arns".to_owned(), "count".to_owned()].into()),
    ];
    let top_level: BTreeSet<String> = ["tasks", "job"].map(str::to_owned).into();
    let mut checked = 0;
    for path in &found {
        let parts: Vec<&str> = path.trim_start_matches("$.").split('.').collect();
        match parts.as_slice() {
            [first] if first.starts_with(char::is_uppercase) => {} // a service response, in a ResultSelector
            [first] => assert!(
                top_level.contains(*first) || known.iter().any(|(k, _)| k == first),
                "{path}"
            ),
            [first, field, ..] => {
                let (_, fields) = known.iter().find(|(k, _)| k == first).unwrap_or_else(|| {
                    panic!("the state machine reads {path}, which no payload type has")
                });
                assert!(
                    fields.contains(*field),
                    "the state machine reads {path}, but `{first}` has no `{field}`"
                );
                checked += 1;
            }
            [] => {}
        }
    }
    for expected in [
        "$.job.waiter_delay",
        "$.instance.instance_id",
        "$.result.next_attempt",
        "$.task.index",
    ] {
        assert!(
            found.contains(expected),
            "the walk missed {expected}: {found:?}"
        );
    }
    assert!(
        checked >= 15,
        "only {checked} paths were checked: is the walk broken?"
    );
}

fn error_names_in(v: &Value, out: &mut BTreeSet<String>) {
    match v {
        Value::Object(map) => {
            if let Some(Value::Array(names)) = map.get("ErrorEquals") {
                out.extend(names.iter().filter_map(|n| n.as_str().map(str::to_owned)));
            }
            if let Some(Value::String(name)) = map.get("Error") {
                out.insert(name.clone());
            }
            map.values().for_each(|v| error_names_in(v, out));
        }
        Value::Array(items) => items.iter().for_each(|i| error_names_in(i, out)),
        _ => {}
    }
}

#[test]
fn every_error_name_the_state_machine_uses_is_one_the_functions_emit() {
    let mut names = BTreeSet::new();
    error_names_in(&asl(), &mut names);
    assert!(names.contains(error_names::CAPACITY_UNAVAILABLE));
    for name in names {
        assert!(
            name.starts_with("States.")
                || name.starts_with("Lambda.")
                || error_names::ALL.contains(&name.as_str()),
            "the state machine uses the error name `{name}`, which no function emits"
        );
    }
}

#[test]
fn what_the_state_machine_passes_deserializes_into_the_functions_inputs() {
    let input = ExecutionInput {
        job: job(),
        tasks: vec![TaskRef { index: 0, line: 2 }],
    };
    let input = serde_json::to_value(&input).unwrap();
    // The Map's ItemSelector, applied by hand: this is the launch function's input.
    let item = json!({
        "job": input["job"],
        "task": input["tasks"][0],
        "attempt": { "number": 1, "spot": input["job"]["spot"] },
        "polls": { "n": 0 }
    });
    let selector = &asl()["States"]["Tasks"]["ItemSelector"];
    let selected: BTreeSet<&String> = selector.as_object().unwrap().keys().collect();
    let built: BTreeSet<&String> = item.as_object().unwrap().keys().collect();
    assert_eq!(
        selected.len(),
        built.len(),
        "the ItemSelector changed: update this test"
    );
    let launch: LaunchInput = serde_json::from_value(item.clone()).unwrap();
    assert!(launch.attempt.spot);

    let states = &asl()["States"]["Tasks"]["ItemProcessor"]["States"];
    let mut failed = item.clone();
    failed["error"] = json!({ "Error": "Ecsub.CapacityUnavailable", "Cause": "none left" });
    let task_error =
        json!({ "action": states["TaskError"]["Parameters"]["action"], "state": failed });
    assert!(matches!(
        serde_json::from_value(task_error).unwrap(),
        FinalizeInput::TaskError { .. }
    ));
    let finish = &asl()["States"]["FinishJob"]["Parameters"];
    let job_end =
        json!({ "action": finish["action"], "job": input["job"], "tasks": input["tasks"] });
    assert!(matches!(
        serde_json::from_value(job_end).unwrap(),
        FinalizeInput::JobEnd { .. }
    ));
}
