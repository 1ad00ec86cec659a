//! What a stack tells people, as the deploy guide promises (docs/deploy.md, the `NotifyTopicArn` and
//! `AlarmTopicArn` parameters; test audit 2026-12, untested promises): a job's end reaches the notify topic as one
//! line a person reads, through the topic's own policy (the emulated EventBridge publishes to a topic only if that
//! policy lets events.amazonaws.com); the failed-events queue has its alarm, acting on the alarm topic.

use ecsub_e2e::jobs::{job_id_of, new_queue, push, queue_name, sqs};
use ecsub_e2e::{Options, Sandbox};
use serde_json::{json, Value};

const NOTIFY: &str = "arn:aws:sns:us-east-1:123456789012:ecsub-notify";
const ALARM: &str = "arn:aws:sns:us-east-1:123456789012:ecsub-alarm";

/// A queue subscribed to the notify topic (SNS may send to it); its URL.
fn subscribed_queue(sandbox: &Sandbox) -> String {
    let (url, queue) = new_queue(sandbox, "notes");
    let subscribed = sandbox.aws(&[
        "sns",
        "subscribe",
        "--topic-arn",
        NOTIFY,
        "--protocol",
        "sqs",
        "--notification-endpoint",
        &queue,
        "--attributes",
        "RawMessageDelivery=true",
    ]);
    assert_eq!(subscribed.code, 0, "{}", subscribed.stderr);
    url
}

fn received(sandbox: &Sandbox, url: &str) -> Vec<String> {
    let got = sandbox.aws_json(&sqs(
        sandbox,
        &[
            "receive-message",
            "--queue-url",
            url,
            "--max-number-of-messages",
            "10",
        ],
    ));
    got["Messages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m["Body"].as_str().map(str::to_owned))
        .collect()
}

#[test]
fn a_jobs_end_reaches_the_notify_topic_only_through_its_policy_and_failed_events_have_an_alarm() {
    let sandbox = Sandbox::start_with(&Options::with_parameters(&[
        ("NotifyTopicArn", NOTIFY),
        ("AlarmTopicArn", ALARM),
    ]));
    sandbox.upload_wordcount_inputs();
    for name in ["ecsub-notify", "ecsub-alarm"] {
        let made = sandbox.aws(&["sns", "create-topic", "--name", name]);
        assert_eq!(made.code, 0, "{}", made.stderr);
    }
    let queue = subscribed_queue(&sandbox);
    let run = || {
        let pushed = push(
            &sandbox,
            "examples/wordcount/wordcount.tsv",
            "examples/wordcount/wordcount.sh",
            &["--wait"],
        );
        assert_eq!(pushed.code, 0, "{}\n{}", pushed.stdout, pushed.stderr);
        job_id_of(&pushed)
    };
    // The topic's default policy does not let EventBridge publish: nothing arrives (as on AWS, where the rule
    // counts a FailedInvocation).
    run();
    sandbox.settled(10);
    assert_eq!(received(&sandbox, &queue), Vec::<String>::new());
    // With the policy the deploy guide asks for, the job's end arrives as one line.
    let rule = sandbox.stack("ecsub")["rules"]["JobEndNotice"]["name"]
        .as_str()
        .unwrap()
        .to_owned();
    let policy = json!({ "Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": { "Service": "events.amazonaws.com" }, "Action": "sns:Publish",
        "Resource": NOTIFY,
        "Condition": { "ArnEquals": { "aws:SourceArn": format!("arn:aws:events:us-east-1:123456789012:rule/{rule}") } } }] });
    let set = sandbox.aws(&[
        "sns",
        "set-topic-attributes",
        "--topic-arn",
        NOTIFY,
        "--attribute-name",
        "Policy",
        "--attribute-value",
        &policy.to_string(),
    ]);
    assert_eq!(set.code, 0, "{}", set.stderr);
    let job = run();
    let lines = sandbox.until(30, "the notice", || {
        let got = received(&sandbox, &queue);
        (!got.is_empty()).then_some(got)
    });
    assert_eq!(lines.len(), 1, "one notice per job: {lines:?}");
    let line = format!(
        "ecsub job {job}: SUCCEEDED, 2 succeeded, 0 failed. Summary: s3://{}/jobs/{job}/summary.json",
        sandbox.bucket()
    );
    assert_eq!(lines[0].trim_matches('"'), line);
    // The alarm on the failed-events queue acts on the alarm topic.
    let alarms = sandbox.aws_json(&["cloudwatch", "describe-alarms"]);
    let alarm: &Value = alarms["MetricAlarms"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["AlarmActions"] == json!([ALARM]))
        .unwrap_or_else(|| panic!("no alarm acts on {ALARM}: {alarms}"));
    assert_eq!(
        alarm["MetricName"], "ApproximateNumberOfMessagesVisible",
        "{alarm}"
    );
    let queue_name = queue_name(&sandbox, "ecsub", "FailedEventsQueue");
    assert_eq!(
        alarm["Dimensions"],
        json!([{ "Name": "QueueName", "Value": queue_name }]),
        "{alarm}"
    );
}
