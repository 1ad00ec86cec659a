//! What each attempt of a task was: retried on demand after a spot interruption, logged, and priced — the spot
//! attempt at its zone's spot price, the on-demand one at its list price, each for the seconds from its launch to
//! its record, with its volume — all checked against the prices the emulated cloud's own APIs give — and the
//! job's end announced on the default event bus, and reported in ecsub's columns and as a timeline page that a real
//! headless browser opens.

use ecsub_e2e::jobs::{
    assert_nothing_running, job_id_of, new_queue, push, rfc3339_ms, sqs, summary, with_wordcount,
    write,
};
use ecsub_e2e::{repo, venv_bin, Sandbox};
use serde_json::{json, Value};

#[test]
fn a_spot_interruption_is_retried_on_demand_and_both_attempts_are_priced() {
    let sandbox = with_wordcount();
    let dir = tempfile::tempdir().unwrap();
    let tasks = write(
        dir.path(),
        "spot.tsv",
        "--output OUT\ns3://ecsub-wordcount/spot/out.txt\n",
    );
    // The first attempt runs until the instance is reclaimed; the retry finishes at once.
    let script = write(
        dir.path(),
        "spot.sh",
        "if [ \"$ECSUB_ATTEMPT\" = 1 ]; then sleep 120; fi\nmkdir -p \"$(dirname \"$OUT\")\" && echo \"attempt $ECSUB_ATTEMPT\" > \"$OUT\"\n",
    );
    let ends = job_end_queue(&sandbox);
    let push = push(
        &sandbox,
        &tasks,
        &script,
        &["--spot", "--retry-od", "--disk-size", "10"],
    );
    assert_eq!(push.code, 0, "{}\n{}", push.stdout, push.stderr);
    let job = job_id_of(&push);
    let running = sandbox.until(60, "the first attempt to run", || {
        sandbox
            .control_get("/running")
            .as_array()
            .and_then(|r| r.first().cloned())
    });
    // Spot prices move: the attempt's price changes while it runs, and it pays each for its time (K11).
    let described = sandbox.aws_json(&[
        "ec2",
        "describe-instances",
        "--instance-ids",
        running["instance_id"].as_str().unwrap(),
    ]);
    let placed = &described["Reservations"][0]["Instances"][0];
    sandbox.fault(&json!({
        "kind": "spot-price",
        "instance_type": placed["InstanceType"],
        "zone": placed["Placement"]["AvailabilityZone"],
        "price": "0.001000",
    }));
    let interrupted =
        sandbox.control_post("/interrupt", &json!({ "task_arn": running["task_arn"] }));
    assert_eq!(interrupted["interrupted"], true, "{interrupted}");
    let summary_url = format!("s3://{}/jobs/{job}/summary.json", sandbox.bucket());
    sandbox.until(90, "the job to finish", || sandbox.object(&summary_url));
    let s = summary(&sandbox, &job);
    assert_eq!(s["tasks"][0]["outcome"], "succeeded", "{s}");
    assert_eq!(s["tasks"][0]["attempts"], 2);
    assert_eq!(s["tasks"][0]["spot"], false, "the retry ran on demand");
    let first: Value = serde_json::from_slice(
        &sandbox
            .object(&format!(
                "s3://{}/jobs/{job}/attempts/000000.1.json",
                sandbox.bucket()
            ))
            .unwrap(),
    )
    .unwrap();
    assert_eq!(first["outcome"], "interrupted");
    assert_eq!(first["spot"], true);
    assert_eq!(first["next_attempt"], json!({ "number": 2, "spot": false }));
    assert_eq!(
        sandbox.object("s3://ecsub-wordcount/spot/out.txt").unwrap(),
        b"attempt 2\n"
    );
    let instance = first["instance_id"].as_str().unwrap();
    let described = sandbox.aws_json(&["ec2", "describe-instances", "--instance-ids", instance]);
    assert_eq!(
        described["Reservations"][0]["Instances"][0]["InstanceLifecycle"],
        "spot"
    );
    // The account had never launched spot: EC2 made its service-linked role, which the launch function may ask
    // for (and which a spot launch fails without).
    let role = sandbox.aws_json(&["iam", "get-role", "--role-name", "AWSServiceRoleForEC2Spot"]);
    assert_eq!(
        role["Role"]["Path"],
        "/aws-service-role/spot.amazonaws.com/"
    );
    // EC2's own warning came first, then ECS stopped the task with its host.
    assert_eq!(
        first["reason"],
        format!("Host EC2 (instance {instance}) terminated.")
    );
    // `logs` shows one section per attempt, in order (a README promise the suite did not hold: test audit §4).
    let logs = sandbox.cli(&["logs", &job]);
    assert_eq!(logs.code, 0, "{}", logs.stderr);
    let sections: Vec<&str> = logs
        .stdout
        .lines()
        .filter(|l| l.starts_with("==> task 000, attempt "))
        .collect();
    assert_eq!(sections.len(), 2, "{}", logs.stdout);
    assert!(
        sections[0].starts_with("==> task 000, attempt 1 "),
        "{}",
        logs.stdout
    );
    assert!(
        sections[1].starts_with("==> task 000, attempt 2 "),
        "{}",
        logs.stdout
    );
    assert_priced(&sandbox, &job, &s, 40);
    assert_job_end_announced(&sandbox, &ends, &job, &s);
    assert_report(&sandbox, &job, &s);
    assert_nothing_running(&sandbox, &job);
}

/// The on-demand price per `unit` of the one product GetProducts gives for `filters` (`Field=Value` pairs), asked
/// with the `aws` CLI.
fn list_price(sandbox: &Sandbox, filters: &[(&str, &str)], unit: &str) -> f64 {
    let mut args = vec![
        "pricing".to_owned(),
        "get-products".to_owned(),
        "--region".to_owned(),
        "us-east-1".to_owned(),
        "--service-code".to_owned(),
        "AmazonEC2".to_owned(),
        "--filters".to_owned(),
    ];
    args.extend(
        filters
            .iter()
            .map(|(field, value)| format!("Type=TERM_MATCH,Field={field},Value={value}")),
    );
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let answer = sandbox.aws_json(&args);
    let list = answer["PriceList"].as_array().unwrap();
    assert_eq!(list.len(), 1, "{filters:?}: {answer}");
    let product: Value = serde_json::from_str(list[0].as_str().unwrap()).unwrap();
    let term = product["terms"]["OnDemand"]
        .as_object()
        .unwrap()
        .values()
        .next()
        .unwrap();
    let dimension = term["priceDimensions"]
        .as_object()
        .unwrap()
        .values()
        .next()
        .unwrap();
    assert_eq!(dimension["unit"], unit);
    dimension["pricePerUnit"]["USD"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap()
}

/// Every attempt of the job is priced from its record's times and the cloud's prices (EC2's per-second billing
/// with a 60-second minimum; the gp3 GB-month over a 30-day month), and the job's and each task's cost are the
/// sums of their attempts' to the cent; `status` shows them.
fn assert_priced(sandbox: &Sandbox, job: &str, summary: &Value, volume_gib: u32) {
    let cost = &summary["cost"];
    let attempts = cost["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 2, "{cost}");
    assert_eq!(cost["unpriced"], 0, "{cost}");
    let gp3 = list_price(
        sandbox,
        &[
            ("productFamily", "Storage"),
            ("volumeApiName", "gp3"),
            ("regionCode", "us-east-1"),
        ],
        "GB-Mo",
    );
    let mut sum = 0.0;
    for priced in attempts {
        let number = priced["attempt"].as_u64().unwrap();
        let record: Value = serde_json::from_slice(
            &sandbox
                .object(&format!(
                    "s3://{}/jobs/{job}/attempts/000000.{number}.json",
                    sandbox.bucket()
                ))
                .unwrap(),
        )
        .unwrap();
        let instance_type = record["instance_type"].as_str().unwrap();
        let zone = record["availability_zone"].as_str().unwrap();
        assert_eq!(priced["availability_zone"], zone);
        let launched = rfc3339_ms(record["launched_at"].as_str().unwrap());
        let ended = rfc3339_ms(record["recorded_at"].as_str().unwrap());
        let seconds = ((ended - launched) as f64 / 1000.0).ceil().max(60.0);
        assert_eq!(
            priced["billed_seconds"].as_f64().unwrap(),
            seconds,
            "{priced}"
        );
        let ebs = gp3 * f64::from(volume_gib) * seconds / (30.0 * 24.0 * 3600.0);
        let expected = if record["spot"] == true {
            assert_eq!(priced["source"], "spot-price-history", "{priced}");
            // Each price the history gives for the billed time, for the part of it when it was in effect: the
            // test changed the price while this attempt ran.
            let billed_until = launched + (seconds * 1000.0) as i64;
            let history = sandbox.aws_json(&[
                "ec2",
                "describe-spot-price-history",
                "--instance-types",
                instance_type,
                "--product-descriptions",
                "Linux/UNIX",
                "--availability-zone",
                zone,
                "--start-time",
                record["launched_at"].as_str().unwrap(),
                "--end-time",
                &format!("{}", billed_until / 1000),
            ]);
            let mut points: Vec<(i64, f64)> = history["SpotPriceHistory"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| {
                    (
                        rfc3339_ms(p["Timestamp"].as_str().unwrap()),
                        p["SpotPrice"].as_str().unwrap().parse::<f64>().unwrap(),
                    )
                })
                .collect();
            points.sort_by_key(|p| p.0);
            assert_eq!(
                points.len(),
                2,
                "a price at the launch and the change: {history}"
            );
            assert!(points[1].0 > launched, "{history}");
            let mut instance = 0.0;
            for (i, (at, usd)) in points.iter().enumerate() {
                let from = if i == 0 {
                    launched
                } else {
                    (*at).max(launched)
                };
                let to = points
                    .get(i + 1)
                    .map_or(billed_until, |next| next.0.min(billed_until));
                instance += usd * (to - from).max(0) as f64 / 3_600_000.0;
            }
            instance + ebs
        } else {
            assert_eq!(priced["source"], "pricing-api", "{priced}");
            let hourly = list_price(
                sandbox,
                &[
                    ("instanceType", instance_type),
                    ("regionCode", "us-east-1"),
                    ("operatingSystem", "Linux"),
                    ("tenancy", "Shared"),
                    ("preInstalledSw", "NA"),
                    ("capacitystatus", "Used"),
                ],
                "Hrs",
            );
            hourly * seconds / 3600.0 + ebs
        };
        let usd = priced["usd"].as_f64().unwrap();
        assert!(
            (usd - expected).abs() < 2e-6,
            "attempt {number}: {usd} for {expected}"
        );
        sum += usd;
    }
    let total = cost["usd"].as_f64().unwrap();
    assert!(total > 0.0, "{cost}");
    assert_eq!((total * 100.0).round(), (sum * 100.0).round(), "{cost}");
    assert!((total - sum).abs() < 1e-9, "{total} is not the sum {sum}");
    assert!((summary["tasks"][0]["usd"].as_f64().unwrap() - total).abs() < 1e-9);
    let status = sandbox.cli(&["status", job]);
    assert_eq!(status.code, 0, "{}", status.stderr);
    let shown = format!("cost: ${:.4} (2 attempts; prices from spot-price-history, pricing-api; EBS from pricing-api)", total);
    assert!(status.stdout.contains(&shown), "{shown}\n{}", status.stdout);
}

/// A queue that a rule on the default bus sends every "ecsub Job State Change" to, as a user would set one up
/// (the queue's policy lets EventBridge send for that rule only); its URL.
fn job_end_queue(sandbox: &Sandbox) -> String {
    let (url, queue) = new_queue(sandbox, "job-ends");
    let pattern = json!({ "source": ["ecsub"], "detail-type": ["ecsub Job State Change"] });
    let rule = sandbox.aws_json(&[
        "events",
        "put-rule",
        "--name",
        "job-ends",
        "--event-pattern",
        &pattern.to_string(),
    ])["RuleArn"]
        .as_str()
        .unwrap()
        .to_owned();
    let policy = json!({ "Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": { "Service": "events.amazonaws.com" }, "Action": "sqs:SendMessage",
        "Resource": queue, "Condition": { "ArnEquals": { "aws:SourceArn": rule } } }] });
    let attributes = json!({ "Policy": policy.to_string() }).to_string();
    sandbox.aws_json(&sqs(
        sandbox,
        &[
            "set-queue-attributes",
            "--queue-url",
            &url,
            "--attributes",
            &attributes,
        ],
    ));
    let targets = json!([{ "Id": "queue", "Arn": queue }]).to_string();
    sandbox.aws_json(&[
        "events",
        "put-targets",
        "--rule",
        "job-ends",
        "--targets",
        &targets,
    ]);
    url
}

/// The job's end reached the rule's queue once, with the summary's counts and cost.
fn assert_job_end_announced(sandbox: &Sandbox, queue: &str, job: &str, summary: &Value) {
    let got = sandbox.aws_json(&sqs(
        sandbox,
        &[
            "receive-message",
            "--queue-url",
            queue,
            "--wait-time-seconds",
            "5",
            "--max-number-of-messages",
            "10",
        ],
    ));
    let messages = got["Messages"].as_array().cloned().unwrap_or_default();
    assert_eq!(messages.len(), 1, "{got}");
    let event: Value = serde_json::from_str(messages[0]["Body"].as_str().unwrap()).unwrap();
    assert_eq!(event["source"], "ecsub");
    assert_eq!(event["detail-type"], "ecsub Job State Change");
    let detail = &event["detail"];
    assert_eq!(detail["job_id"], job, "{event}");
    assert_eq!(detail["state"], "SUCCEEDED");
    assert_eq!(
        (
            detail["tasks"].as_u64(),
            detail["succeeded"].as_u64(),
            detail["failed"].as_u64()
        ),
        (Some(1), Some(1), Some(0))
    );
    assert_eq!(detail["outcomes"], json!({ "succeeded": 1 }));
    assert_eq!(detail["usd"], summary["cost"]["usd"]);
    assert_eq!(
        detail["summary_url"],
        format!("s3://{}/jobs/{job}/summary.json", sandbox.bucket())
    );
}

/// `report` gives both attempts with ecsub's columns and their prices; its HTML page, opened in headless
/// Chromium, has one row for the task and a bar for each attempt, and its screenshot shows both outcomes' colours.
fn assert_report(sandbox: &Sandbox, job: &str, summary: &Value) {
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("report.html");
    let report = sandbox.cli(&[
        "report",
        job,
        "--output",
        "json",
        "--html",
        page.to_str().unwrap(),
    ]);
    assert_eq!(report.code, 0, "{}", report.stderr);
    let rows: Value = serde_json::from_str(&report.stdout).unwrap();
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 2, "{rows:?}");
    let sizes = sandbox.aws_json(&[
        "ec2",
        "describe-instance-types",
        "--instance-types",
        rows[0]["instance_type"].as_str().unwrap(),
    ]);
    let size = &sizes["InstanceTypes"][0];
    for (row, priced) in rows
        .iter()
        .zip(summary["cost"]["attempts"].as_array().unwrap())
    {
        assert_eq!(row["taskname"], job);
        assert_eq!(
            (&row["no"], &row["attempt"]),
            (&priced["index"], &priced["attempt"])
        );
        assert_eq!(row["price"], priced["usd"], "{row}");
        assert_eq!(row["cpu"], size["VCpuInfo"]["DefaultVCpus"], "{row}");
        assert_eq!(row["memory"], size["MemoryInfo"]["SizeInMiB"], "{row}");
        assert_eq!(row["disk_size"], 40);
        assert!(
            row["log"]
                .as_str()
                .unwrap()
                .contains("#logsV2:log-groups/log-group/"),
            "{row}"
        );
        let at = |column: &str| {
            rfc3339_ms(
                row[column]
                    .as_str()
                    .unwrap_or_else(|| panic!("no {column}: {row}")),
            )
        };
        // The task's times are ECS's, the instance's the functions': clocks apart by up to a second (K3).
        assert!(
            at("instance_createAt") <= at("task_startAt") + 1000,
            "{row}"
        );
        assert!(at("task_endAt") <= at("instance_stopAt") + 1000, "{row}");
    }
    assert_eq!(
        (&rows[0]["outcome"], &rows[1]["outcome"]),
        (&json!("interrupted"), &json!("succeeded"))
    );
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(
        !html.contains("<script") && !html.contains("src="),
        "the page fetches nothing"
    );
    let url = format!("file://{}", page.display());
    let dom = chromium(&["--dump-dom", &url]);
    assert_eq!(dom.matches("class=\"task-row\"").count(), 1, "{dom}");
    assert_eq!(dom.matches("class=\"attempt ").count(), 2, "{dom}");
    assert_eq!(
        dom.matches("class=\"attempt outcome-interrupted\"").count(),
        1
    );
    assert_eq!(
        dom.matches("class=\"attempt outcome-succeeded\"").count(),
        1
    );
    // The screenshot is kept as the test's artifact: target/test-artifacts/report.png.
    let artifacts = repo().join("target/test-artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    let shot = artifacts.join("report.png");
    chromium(&[
        "--window-size=1200,700",
        &format!("--screenshot={}", shot.display()),
        &url,
    ]);
    let look = std::process::Command::new(venv_bin("python"))
        .current_dir(repo())
        .args(["-m", "tests.emulator.tools.look"])
        .arg(&shot)
        .args(["#e36209", "#2e9e44"])
        .output()
        .unwrap();
    assert!(
        look.status.success(),
        "{}",
        String::from_utf8_lossy(&look.stderr)
    );
    let seen: Value = serde_json::from_slice(&look.stdout).unwrap();
    // Only the bars have these colours (the legend's squares are faded), each at least 2 × 16 px.
    assert!(
        seen["not_white"].as_u64().unwrap() > 2000,
        "a blank page: {seen}"
    );
    assert!(
        seen["colours"]["#e36209"].as_u64().unwrap() > 20,
        "no interrupted bar: {seen}"
    );
    assert!(
        seen["colours"]["#2e9e44"].as_u64().unwrap() > 20,
        "no succeeded bar: {seen}"
    );
}

/// Headless Chromium's output for `args` (tests/run.sh installs Debian's chromium).
fn chromium(args: &[&str]) -> String {
    let profile = tempfile::tempdir().unwrap();
    let out = std::process::Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("chromium does not run ({e}): apt-get install chromium"));
    assert!(
        out.status.success(),
        "chromium {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// docs/aws.md: "when the Pricing API cannot be asked, the table shipped with the stack" prices the job, and says so
/// (test audit 2026-12, K11 and the untested promise): the Pricing API throttles every call of the job's end.
#[test]
fn a_pricing_api_that_refuses_is_replaced_by_the_shipped_table_and_the_cost_says_so() {
    let sandbox = with_wordcount();
    sandbox.fault(&json!({
        "kind": "api", "operation": "GetProducts", "code": "ThrottlingException", "message": "Rate exceeded",
        "status": 400, "times": 1000
    }));
    let pushed = push(
        &sandbox,
        "examples/wordcount/wordcount.tsv",
        "examples/wordcount/wordcount.sh",
        &["--wait"],
    );
    assert_eq!(pushed.code, 0, "{}\n{}", pushed.stdout, pushed.stderr);
    let job = job_id_of(&pushed);
    let s = summary(&sandbox, &job);
    let cost = &s["cost"];
    assert_eq!(cost["unpriced"], 0, "{cost}");
    let attempts = cost["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 2, "{cost}");
    for priced in attempts {
        assert_eq!(priced["source"], "snapshot (2026-11)", "{priced}");
        assert!(priced["usd"].as_f64().unwrap() > 0.0, "{priced}");
    }
    let notes: Vec<&str> = cost["notes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        notes.iter().any(|n| n.starts_with("Pricing API: ")
            && n.contains("ThrottlingException")
            && n.contains("from the table shipped with the stack (2026-11")),
        "{notes:?}"
    );
    assert_nothing_running(&sandbox, &job);
}
