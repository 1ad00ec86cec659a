//! The state machine and the payload types are one contract. This test runs the ASL's data flow by hand: each
//! state's `Parameters` (or `ItemSelector`) is evaluated against a state of the shape the previous states leave, and
//! what comes out must deserialize into the input type of the function it goes to — field by field, not by count.
//! It also checks that every path a Choice reads exists, and that every error name the state machine matches is one
//! the functions emit (or a `States.*` / `Lambda.*` name).

#![allow(clippy::unwrap_used)]

use ecsub_core::chain::limits;
use ecsub_core::chain::{
    error_names, Attempt, AttemptResult, ExecutionInput, FinalizeInput, Instance, JobRef,
    JoinCheck, LaunchAsk, LaunchRequest, Outcome, TaskItems, TaskRef,
};
use ecsub_core::JobId;
use serde_json::{json, Map, Value};
use std::collections::BTreeSet;

const ASL: &str = include_str!("../../../infra/statemachine/job.asl.json");
const TOKEN: &str = "AQCEAAAAKgAAAAMAAAAAAAAAAeMg2token";

fn asl() -> Value {
    serde_json::from_str(ASL).unwrap()
}

fn state(name: &str) -> Value {
    let asl = asl();
    asl["States"]
        .get(name)
        .or_else(|| asl["States"]["Tasks"]["ItemProcessor"]["States"].get(name))
        .unwrap_or_else(|| panic!("no state {name}"))
        .clone()
}

fn job() -> JobRef {
    JobRef {
        job_id: JobId::new("wc", "abcde").unwrap(),
        bucket: "bkt".into(),
        job_url: "s3://bkt/jobs/wc-abcde/".into(),
        cluster: "ecsub_wc-abcde".into(),
        task_definition: "arn:aws:ecs:us-east-1:1:task-definition/ecsub_wc-abcde:1".into(),
        instance_types: vec!["t3.micro".into()],
        spot: true,
        retry_od: true,
        spot_attempts: Some(2),
        retries: 2,
        retry_on_exit: vec![3],
        retry_larger: true,
        keep_on_failure: Some(3600),
        disk_size: 22,
        subnet_ids: vec![],
        security_group_id: None,
        key_name: None,
        request_payer_buckets: vec!["open-data".into()],
        processes: 2,
        waiter_delay: 1,
        join_wait: 8,
        join_polls: 40,
        task_timeout: 3600,
        stagers: Vec::new(),
        skip_price: false,
        launch_timeout: 86_400 + ecsub_core::chain::LAUNCH_TIMEOUT_MARGIN,
        tags: vec![ecsub_core::tags::Tag {
            key: "project".into(),
            value: "genomics".into(),
        }],
    }
}

/// The ask the Launch state sends the launcher for an iteration in `data`, the state entered at [`ENTERED`].
fn launch_ask(data: &Value) -> LaunchAsk {
    let launch = state("Launch");
    assert_eq!(launch["Parameters"]["QueueUrl"], "${LaunchQueueUrl}");
    let context =
        json!({ "State": { "EnteredTime": ENTERED, "RetryCount": 0 }, "Task": { "Token": TOKEN } });
    serde_json::from_value(evaluate(
        &launch["Parameters"]["MessageBody"],
        data,
        &context,
    ))
    .unwrap()
}

/// A JSONPath of the form `$.a.b.c` (or `$$.Task.Token`, `$$.Map.Item.Value`) in `data` / the context object.
fn path(data: &Value, context: &Value, p: &str) -> Value {
    let (root, rest) = if let Some(rest) = p.strip_prefix("$$.") {
        (context, rest)
    } else if p == "$" {
        return data.clone();
    } else {
        (
            data,
            p.strip_prefix("$.")
                .unwrap_or_else(|| panic!("not a path: {p}")),
        )
    };
    rest.split('.').fold(root.clone(), |v, k| {
        v.get(k)
            .cloned()
            .unwrap_or_else(|| panic!("the state machine reads {p}, which is not in {data}"))
    })
}

/// ASL's payload template: `key.$` fields take a path (intrinsic functions are checked for their paths and
/// stand in as strings), other fields are literal, recursively.
fn evaluate(template: &Value, data: &Value, context: &Value) -> Value {
    match template {
        Value::Object(fields) => {
            let mut out = Map::new();
            for (key, value) in fields {
                if let Some(name) = key.strip_suffix(".$") {
                    let text = value.as_str().unwrap();
                    let result = if text.starts_with("States.") {
                        for p in intrinsic_paths(text) {
                            path(data, context, &p);
                        }
                        Value::String(format!("<{text}>"))
                    } else {
                        path(data, context, text)
                    };
                    out.insert(name.to_owned(), result);
                } else {
                    out.insert(key.clone(), evaluate(value, data, context));
                }
            }
            Value::Object(out)
        }
        other => other.clone(),
    }
}

fn intrinsic_paths(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("$.") {
        let p: String = rest[at..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '$' | '.' | '_'))
            .collect();
        rest = &rest[at + p.len()..];
        found.push(p);
    }
    found
}

/// ResultPath: puts a state's result into its input.
fn with(data: &Value, at: &str, result: Value) -> Value {
    let mut data = data.clone();
    data[at.strip_prefix("$.").unwrap()] = result;
    data
}

fn instance() -> Value {
    serde_json::to_value(Instance {
        instance_id: "i-1".into(),
        instance_type: "t3.micro".into(),
        spot: true,
        subnet_id: None,
        launched_at: "2026-11-28T00:00:00Z".into(),
        availability_zone: Some("us-east-1a".into()),
        // Carried to the StartTask step, which asks ECS for them.
        gpus: 1,
    })
    .unwrap()
}

fn execution_input() -> Value {
    serde_json::to_value(ExecutionInput {
        job: job(),
        items: TaskItems {
            key: "jobs/wc-abcde/items.json".into(),
            count: 1,
            results_prefix: "jobs/wc-abcde/map/".into(),
        },
        map_error: None,
    })
    .unwrap()
}

/// One task's iteration state, as the Map's ItemSelector makes it from the execution's input and one item of
/// `items.json` (written by submit as a JSON array of TaskRef).
fn iteration() -> Value {
    let items = serde_json::to_value(vec![TaskRef { index: 0, line: 2 }]).unwrap();
    let context = json!({ "Map": { "Item": { "Value": items[0] } } });
    evaluate(
        &asl()["States"]["Tasks"]["ItemSelector"],
        &execution_input(),
        &context,
    )
}

#[test]
fn the_map_reads_items_json_and_writes_its_results_into_the_job_folder() {
    let map = &asl()["States"]["Tasks"];
    assert_eq!(
        map["ItemProcessor"]["ProcessorConfig"]["Mode"],
        "DISTRIBUTED"
    );
    assert_eq!(
        map["ItemProcessor"]["ProcessorConfig"]["ExecutionType"], "STANDARD",
        "a task waits for its container for hours; EXPRESS children end after 5 minutes"
    );
    assert_eq!(map["ToleratedFailurePercentage"], 100.0);
    assert_eq!(
        map["ResultPath"],
        Value::Null,
        "no state grows with the tasks"
    );
    let input = execution_input();
    let reader = evaluate(&map["ItemReader"]["Parameters"], &input, &json!({}));
    assert_eq!(
        reader,
        json!({ "Bucket": "bkt", "Key": "jobs/wc-abcde/items.json" })
    );
    assert_eq!(map["ItemReader"]["ReaderConfig"]["InputType"], "JSON");
    let writer = evaluate(&map["ResultWriter"]["Parameters"], &input, &json!({}));
    assert_eq!(
        writer,
        json!({ "Bucket": "bkt", "Prefix": "jobs/wc-abcde/map/" })
    );
    assert_eq!(
        path(
            &input,
            &json!({}),
            map["MaxConcurrencyPath"].as_str().unwrap()
        ),
        json!(2)
    );
}

#[test]
fn each_task_state_sends_the_launch_function_a_request_it_understands() {
    let item = iteration();
    let no_context = json!({});

    let ask = launch_ask(&item);
    assert_eq!(
        ask.token, TOKEN,
        "the launcher answers the state's own token"
    );
    assert_eq!(ask.job, job());
    assert_eq!(
        ask.asked_at, ENTERED,
        "the launch's patience counts from the state's entry"
    );
    assert_eq!(ask.relaunch, 0, "the first launch of the attempt");
    assert_eq!(ask.task, TaskRef { index: 0, line: 2 });
    assert_eq!(
        ask.attempt,
        Attempt {
            number: 1,
            spot: true,
            ..Attempt::default()
        },
        "spot comes from the job"
    );
    assert_eq!(ask.waited, None);
    let launched = with(
        &item,
        state("Launch")["ResultPath"].as_str().unwrap(),
        instance(),
    );

    let wait = state("AwaitJoin");
    assert_eq!(wait["Parameters"]["FunctionName"], "${LaunchFunctionArn}");
    assert!(wait["Resource"]
        .as_str()
        .unwrap()
        .ends_with(":states:::lambda:invoke.waitForTaskToken"));
    let awaited = evaluate(
        &wait["Parameters"]["Payload"],
        &launched,
        &json!({ "Task": { "Token": TOKEN } }),
    );
    match serde_json::from_value(awaited).unwrap() {
        LaunchRequest::AwaitJoin {
            token,
            job: j,
            instance: i,
        } => {
            assert_eq!(
                token, TOKEN,
                "the join's event answers this state's own token"
            );
            assert_eq!(j, job());
            assert_eq!(serde_json::to_value(i).unwrap(), instance());
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        path(
            &launched,
            &no_context,
            wait["TimeoutSecondsPath"].as_str().unwrap()
        ),
        json!(job().join_wait),
        "no event within the job's join_wait: the state machine checks for itself"
    );
    assert_eq!(
        wait["ResultPath"],
        state("CheckJoined")["ResultPath"],
        "both answer a JoinCheck"
    );

    let check = evaluate(&state("CheckJoined")["Parameters"], &launched, &no_context);
    assert!(matches!(
        serde_json::from_value(check).unwrap(),
        LaunchRequest::CheckJoined { .. }
    ));
    let joined = JoinCheck {
        joined: true,
        container_instance_arn: Some(
            "arn:aws:ecs:us-east-1:1:container-instance/ecsub_wc-abcde/ci".into(),
        ),
        seen: "registered, ACTIVE, agent connected".into(),
        lost: None,
        ended: None,
    };
    let checked = with(
        &launched,
        state("CheckJoined")["ResultPath"].as_str().unwrap(),
        serde_json::to_value(joined).unwrap(),
    );
    // Every path a rule compares is in the state (an `IsPresent` rule asks whether it is: `lost` is absent here).
    let choice = state("Joined?");
    for rule in choice["Choices"].as_array().unwrap() {
        let rules = match rule.get("And") {
            Some(all) => all.as_array().unwrap().clone(),
            None => vec![rule.clone()],
        };
        for rule in rules.iter().filter(|r| r.get("IsPresent").is_none()) {
            path(&checked, &no_context, rule["Variable"].as_str().unwrap());
        }
    }

    let start = state("StartTask");
    assert_eq!(start["Parameters"]["FunctionName"], "${LaunchFunctionArn}");
    assert!(start["Resource"]
        .as_str()
        .unwrap()
        .ends_with(":states:::lambda:invoke.waitForTaskToken"));
    let payload = evaluate(
        &start["Parameters"]["Payload"],
        &checked,
        &json!({ "Task": { "Token": TOKEN }, "State": { "RetryCount": 2 } }),
    );
    match serde_json::from_value(payload).unwrap() {
        LaunchRequest::Start {
            token,
            container_instance,
            instance: i,
            retry,
            ..
        } => {
            assert_eq!(token, TOKEN);
            assert!(container_instance.ends_with("/ci"));
            assert_eq!(i.instance_id, "i-1");
            assert_eq!(retry, 2, "the start is told which try it is");
        }
        other => panic!("StartTask sends {other:?}"),
    }
}

/// An interrupted attempt, and a task's own failure tried again under `--retries` (its count of failures goes
/// round with it, through the state machine's own paths).
#[test]
fn a_retried_attempt_goes_round_as_a_valid_iteration_state() {
    let launched = with(&iteration(), "$.instance", instance());
    let own_failure = AttemptResult {
        outcome: Outcome::Failed,
        exit_code: Some(3),
        reason: "exited 3".into(),
        // An out-of-memory failure and an out-of-disk one before it, under --retry-larger.
        next_attempt: Some(Attempt {
            number: 3,
            spot: false,
            failures: 2,
            larger: 1,
            disk_doublings: 1,
        }),
    };
    let ended = with(
        &launched,
        "$.result",
        serde_json::to_value(own_failure).unwrap(),
    );
    let next = evaluate(&state("NextAttempt")["Parameters"], &ended, &json!({}));
    assert_eq!(
        launch_ask(&next).attempt,
        Attempt {
            number: 3,
            spot: false,
            failures: 2,
            larger: 1,
            disk_doublings: 1,
        }
    );
    let result = AttemptResult {
        outcome: Outcome::Interrupted,
        exit_code: None,
        reason: "Host EC2 (instance i-1) terminated.".into(),
        next_attempt: Some(Attempt {
            number: 2,
            spot: false,
            ..Attempt::default()
        }),
    };
    let ended = with(&launched, "$.result", serde_json::to_value(result).unwrap());
    for rule in state("Again?")["Choices"].as_array().unwrap() {
        path(&ended, &json!({}), rule["Variable"].as_str().unwrap());
    }
    let next = evaluate(&state("NextAttempt")["Parameters"], &ended, &json!({}));
    assert_eq!(next["polls"], json!({ "n": 0, "relaunched": 0 }));
    assert_eq!(
        launch_ask(&next).attempt,
        Attempt {
            number: 2,
            spot: false,
            ..Attempt::default()
        }
    );
    let done = evaluate(
        &state("TaskDone")["Parameters"],
        &with(
            &ended,
            "$.result",
            json!({ "outcome": "succeeded", "exit_code": 0, "reason": "exited 0" }),
        ),
        &json!({}),
    );
    assert_eq!(
        done,
        json!({ "index": 0, "outcome": "succeeded", "exit_code": 0 })
    );
}

#[test]
fn the_error_paths_and_the_end_reach_finalize_with_what_it_needs() {
    let launched = with(&iteration(), "$.instance", instance());
    let polled = with(
        &with(
            &launched,
            "$.joined",
            json!({ "joined": false, "container_instance_arn": null, "seen": "not registered" }),
        ),
        "$.polls",
        json!({ "n": 40, "relaunched": 0 }),
    );
    let lost = evaluate(
        &state("LostTooOften")["Parameters"],
        &with(
            &with(
                &launched,
                "$.joined",
                json!({ "joined": false, "container_instance_arn": null, "seen": "not registered", "lost": "terminated: Server.InternalError" }),
            ),
            "$.polls",
            json!({ "n": 7, "relaunched": limits::MAX_RELAUNCHES }),
        ),
        &json!({}),
    );
    assert_eq!(lost["Error"], error_names::INSTANCE_LOST);
    let never = evaluate(&state("NeverJoined")["Parameters"], &polled, &json!({}));
    assert_eq!(never["Error"], error_names::INSTANCE_NEVER_JOINED);
    let failed = with(&polled, "$.error", never);
    let task_error = evaluate(&state("TaskError")["Parameters"], &failed, &json!({}));
    match serde_json::from_value(task_error).unwrap() {
        FinalizeInput::TaskError { state } => {
            assert_eq!(state.instance.unwrap().instance_id, "i-1");
            assert_eq!(
                state.error.unwrap().error,
                error_names::INSTANCE_NEVER_JOINED
            );
        }
        other => panic!("{other:?}"),
    }
    let end = evaluate(
        &state("FinishJob")["Parameters"],
        &execution_input(),
        &json!({}),
    );
    match serde_json::from_value(end).unwrap() {
        FinalizeInput::JobEnd {
            job: j,
            items,
            map_error,
        } => {
            assert_eq!(j, job());
            assert_eq!(items.key, "jobs/wc-abcde/items.json");
            assert_eq!(items.count, 1);
            assert_eq!(map_error, None);
        }
        other => panic!("FinishJob sends {other:?}"),
    }
}

#[test]
fn a_map_that_fails_as_a_whole_hands_its_error_to_the_jobs_end() {
    let map = &asl()["States"]["Tasks"];
    let catch = &map["Catch"][0];
    assert_eq!(catch["ErrorEquals"], json!(["States.ALL"]));
    assert_eq!(catch["Next"], "FinishJob");
    assert_eq!(map["Next"], "FinishJob");
    let error = json!({ "Error": "States.ItemReaderFailed", "Cause": "AccessDenied" });
    let caught = with(
        &execution_input(),
        catch["ResultPath"].as_str().unwrap(),
        error,
    );
    let end = evaluate(&state("FinishJob")["Parameters"], &caught, &json!({}));
    match serde_json::from_value(end).unwrap() {
        FinalizeInput::JobEnd { map_error, .. } => {
            let map_error = map_error.unwrap();
            assert_eq!(map_error.error, "States.ItemReaderFailed");
            assert_eq!(map_error.reason(), "States.ItemReaderFailed: AccessDenied");
        }
        other => panic!("FinishJob sends {other:?}"),
    }
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
    for expected in [
        error_names::THROTTLED,
        error_names::START_FAILED,
        error_names::AWS_ERROR,
    ] {
        assert!(
            names.contains(expected),
            "the state machine never handles {expected}"
        );
    }
    for name in names {
        assert!(
            name.starts_with("States.")
                || name.starts_with("Lambda.")
                || name.starts_with("SQS.")
                || error_names::ALL.contains(&name.as_str()),
            "the state machine uses the error name `{name}`, which no function emits"
        );
    }
}

/// A retried start may follow a try that placed the task and lost its answer (an ECS 5xx, a Lambda service
/// error): it is safe only because every try after the first looks on the instance first, which it knows from
/// `$$.State.RetryCount` in its payload. The errors it retries are these, and none that means "a task is running".
#[test]
fn the_start_is_retried_only_for_errors_a_look_on_the_instance_makes_safe() {
    let start = state("StartTask");
    assert_eq!(
        start["Parameters"]["Payload"]["retry.$"], "$$.State.RetryCount",
        "a retried start would not know to look for the task an earlier try started"
    );
    let retried: BTreeSet<String> = start["Retry"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["ErrorEquals"].as_array().unwrap().clone())
        .map(|n| n.as_str().unwrap().to_owned())
        .collect();
    let safe: BTreeSet<String> = [
        error_names::START_FAILED,
        error_names::AWS_ERROR,
        "Lambda.ServiceException",
        "Lambda.AWSLambdaException",
        "Lambda.SdkClientException",
        "Lambda.TooManyRequestsException",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    assert_eq!(retried, safe);
}

/// A join check only reads (ListContainerInstances, DescribeContainerInstances: ECS's read bucket that every task's
/// check and every CLI poll share, 100 and 20 a second). One that outlasts its state's 60 s — throttled past the
/// SDK's retries, or slow behind a busy account — is tried again instead of failing a task that did nothing wrong;
/// the count is bounded (a check that always hangs ends the attempt, not the job's patience).
#[test]
fn a_join_check_that_outlasts_its_state_is_tried_again_not_a_failed_task() {
    let check = state("CheckJoined");
    let timeout = check["TimeoutSeconds"].as_u64().unwrap();
    let retry = check["Retry"].as_array().unwrap();
    let on_timeout = retry
        .iter()
        .find(|r| {
            r["ErrorEquals"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e == "States.Timeout")
        })
        .expect("CheckJoined does not retry States.Timeout");
    let attempts = on_timeout["MaxAttempts"].as_u64().unwrap();
    assert!((10..1000).contains(&attempts), "{on_timeout}");
    assert!(timeout <= 60, "{timeout}");
}

/// A join is heard, not polled: after the launch the attempt waits for ECS's event; only a wait that runs out (a
/// lost event, an instance EC2 ended while pending) goes to a check, and a check that finds the instance still
/// booting waits again, counted against the join timeout.
#[test]
fn the_join_is_awaited_and_checked_only_when_no_event_came() {
    assert_eq!(state("Launch")["Next"], "AwaitJoin");
    let wait = state("AwaitJoin");
    assert_eq!(wait["Next"], "Joined?");
    let catches = wait["Catch"].as_array().unwrap();
    let on_timeout = &catches[0];
    assert_eq!(on_timeout["ErrorEquals"], json!(["States.Timeout"]));
    assert_eq!(on_timeout["Next"], "CheckJoined");
    assert_eq!(
        on_timeout["ResultPath"], "$.joined",
        "the caught timeout is replaced by the check's answer, so the state keeps its shape"
    );
    assert_eq!(catches.last().unwrap()["Next"], "TaskError");
    assert_eq!(state("CheckJoined")["Next"], "Joined?");
    assert_eq!(state("CountPoll")["Next"], "AwaitJoin");
    assert_eq!(state("Joined?")["Default"], "CountPoll");
    assert!(
        !ASL.contains("\"Type\": \"Wait\""),
        "no Wait state polls between launch and start"
    );
}

#[test]
fn the_state_machine_names_no_partition_of_its_own() {
    // `arn:aws:` would break the stack in China and GovCloud: the template substitutes ${Partition}.
    assert!(
        !ASL.contains("arn:aws:"),
        "a hard-coded partition in the ASL"
    );
    assert!(ASL.contains("arn:${Partition}:states:::lambda:invoke.waitForTaskToken"));
}

/// Every Task state of the job, the Map's and its iterations'.
fn task_states() -> Vec<(String, Value)> {
    let asl = asl();
    let mut found = Vec::new();
    for states in [
        &asl["States"],
        &asl["States"]["Tasks"]["ItemProcessor"]["States"],
    ] {
        for (name, state) in states.as_object().unwrap() {
            if state["Type"] == "Task" {
                found.push((name.clone(), state.clone()));
            }
        }
    }
    found
}

#[test]
fn lambda_throttling_is_waited_out_with_no_count_to_run_out_in_every_state_that_invokes_a_function()
{
    // Lambda refuses an invocation past the account's concurrency with TooManyRequestsException at once (a new
    // account may have 10); with hundreds of tasks polling at once that is not an error of the task, and it always
    // ends: every invocation holding the account's concurrency ends within its function's Timeout. So each state
    // waits it out with the launch's own retry count, which no wait reaches (full jitter, up to 5 minutes apart):
    // a count of 30 ran out after about an hour of a busy account and failed the task.
    let states: Vec<(String, Value)> = task_states()
        .into_iter()
        .filter(|(_, s)| {
            s["Resource"]
                .as_str()
                .is_some_and(|r| r.contains("FunctionArn") || r.contains(":lambda:"))
        })
        .collect();
    assert!(states.len() >= 4, "{states:?}");
    for (name, state) in states {
        let retry = state["Retry"].as_array().cloned().unwrap_or_default();
        let waits = retry.iter().find(|r| {
            r["ErrorEquals"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e == "Lambda.TooManyRequestsException")
        });
        let Some(waits) = waits else {
            panic!("{name} does not retry Lambda.TooManyRequestsException")
        };
        assert_eq!(waits["MaxAttempts"], 100_000, "{name}: {waits}");
        assert_eq!(waits["JitterStrategy"], "FULL", "{name}: {waits}");
        assert_eq!(waits["MaxDelaySeconds"], 300, "{name}: {waits}");
        let first = retry.iter().position(|r| r == waits).unwrap();
        let catch_all = retry
            .iter()
            .position(|r| r["ErrorEquals"][0] == "States.ALL")
            .unwrap_or(usize::MAX);
        assert!(first < catch_all, "{name}: States.ALL is matched before it");
    }
}

/// An instance EC2 ended before it joined is launched again at once, with the poll count as the launch's
/// idempotency key (a new instance, not the dead one), at most `MAX_RELAUNCHES` times; then the attempt fails as
/// `Ecsub.InstanceLost`. Polls keep counting, so the join timeout still bounds the whole wait.
#[test]
fn a_lost_instance_is_launched_again_a_bounded_number_of_times() {
    let launched = with(&iteration(), "$.instance", instance());
    let lost = json!({ "joined": false, "container_instance_arn": null, "seen": "not registered", "lost": "terminated: Server.InternalError" });
    let choice = state("Joined?");
    let next_for = |joined: &Value, polls: Value| -> String {
        let data = with(
            &with(&launched, "$.joined", joined.clone()),
            "$.polls",
            polls,
        );
        for rule in choice["Choices"].as_array().unwrap() {
            let holds = match rule.get("And") {
                Some(all) => all.as_array().unwrap().iter().all(|r| rule_holds(r, &data)),
                None => rule_holds(rule, &data),
            };
            if holds {
                return rule["Next"].as_str().unwrap().to_owned();
            }
        }
        choice["Default"].as_str().unwrap().to_owned()
    };
    let next = |polls: Value| next_for(&lost, polls);
    let ended = json!({ "joined": false, "container_instance_arn": null, "seen": "not registered", "ended": "terminated: Client.UserInitiatedShutdown" });
    assert_eq!(
        next_for(&ended, json!({ "n": 1, "relaunched": 0 })),
        "NeverJoined",
        "an instance that shut itself down is not launched again, nor waited for"
    );
    assert_eq!(next(json!({ "n": 3, "relaunched": 0 })), "LaunchAgain");
    assert_eq!(
        next(json!({ "n": 3, "relaunched": limits::MAX_RELAUNCHES - 1 })),
        "LaunchAgain"
    );
    assert_eq!(
        next(json!({ "n": 3, "relaunched": limits::MAX_RELAUNCHES })),
        "LostTooOften"
    );
    assert_eq!(next(json!({ "n": 40, "relaunched": 0 })), "NeverJoined");
    let again = state("LaunchAgain");
    assert_eq!(again["Next"], "Launch");
    let polls = evaluate(
        &again["Parameters"],
        &with(&launched, "$.polls", json!({ "n": 3, "relaunched": 1 })),
        &json!({}),
    );
    assert_eq!(
        polls,
        json!({ "n": "<States.MathAdd($.polls.n, 1)>", "relaunched": "<States.MathAdd($.polls.relaunched, 1)>" })
    );
    let relaunch = launch_ask(&with(
        &launched,
        "$.polls",
        json!({ "n": 4, "relaunched": 1 }),
    ));
    assert_eq!(relaunch.relaunch, 4, "a launch again is an ask of its own");
}

/// One rule of a Choice state, of the forms job.asl.json uses.
fn rule_holds(rule: &Value, data: &Value) -> bool {
    let variable = rule["Variable"].as_str().unwrap();
    let found = variable
        .strip_prefix("$.")
        .unwrap()
        .split('.')
        .try_fold(data, |v, k| v.get(k));
    if let Some(present) = rule.get("IsPresent") {
        return found.is_some() == present.as_bool().unwrap();
    }
    let value = found.unwrap_or_else(|| panic!("{variable} is not in {data}"));
    if let Some(bound) = rule.get("NumericLessThan") {
        return value.as_f64().unwrap() < bound.as_f64().unwrap();
    }
    if let Some(bound) = rule.get("NumericGreaterThanEqualsPath") {
        let bound = path(data, &json!({}), bound.as_str().unwrap());
        return value.as_f64().unwrap() >= bound.as_f64().unwrap();
    }
    if let Some(expected) = rule.get("BooleanEquals") {
        return value == expected;
    }
    panic!("a Choice rule this test does not read: {rule}")
}

/// `$$.State.EnteredTime` as Step Functions gives it.
const ENTERED: &str = "2026-12-06T10:00:00.123Z";

/// Throttling, a used-up quota and no capacity are waited for by the launcher, by time (the stack's
/// `LaunchPatienceSeconds`, after which it fails the ask): the Launch state itself only waits for the answer, up to
/// the job's `launch_timeout` (the patience and a margin), and retries only the sending of its ask, with a count no
/// wait reaches.
#[test]
fn a_launch_waits_for_the_launchers_answer_by_time_and_retries_only_its_send() {
    let launch = state("Launch");
    assert_eq!(
        launch["Resource"],
        "arn:${Partition}:states:::sqs:sendMessage.waitForTaskToken"
    );
    assert_eq!(launch["TimeoutSecondsPath"], "$.job.launch_timeout");
    assert!(
        job().launch_timeout > 86_400,
        "the margin past the patience"
    );
    let retry = launch["Retry"].as_array().unwrap();
    assert_eq!(retry.len(), 1, "{retry:?}");
    let names: Vec<&str> = retry[0]["ErrorEquals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap())
        .collect();
    assert!(names.iter().all(|n| n.starts_with("SQS.")), "{names:?}");
    let tries = retry[0]["MaxAttempts"].as_f64().unwrap();
    let longest = retry[0]["MaxDelaySeconds"].as_f64().unwrap();
    assert!(tries * longest / 2.0 > 30.0 * 24.0 * 3600.0);
}
