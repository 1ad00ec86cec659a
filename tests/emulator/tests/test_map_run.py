"""The Distributed Map as the emulated cloud runs it (services/map_run.py), on its own: a state machine of Pass,
Wait and Fail states over items in S3, run with a role that may or may not start child executions. Run by
tests/run.sh."""

import json
import time
import unittest
import uuid

STATES_TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "states.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}
BUCKET = "map-items"


def machine(tolerance: dict, max_concurrency: int = 0) -> dict:
    """Items {n, fail}: an item with `fail` true ends in a Fail state; every item waits a second first."""
    return {
        "StartAt": "Tasks",
        "States": {
            "Tasks": {
                "Type": "Map",
                "ItemReader": {
                    "Resource": "arn:aws:states:::s3:getObject",
                    "ReaderConfig": {"InputType": "JSON"},
                    "Parameters": {"Bucket": BUCKET, "Key.$": "$.key"},
                },
                "ItemSelector": {"n.$": "$$.Map.Item.Value.n", "fail.$": "$$.Map.Item.Value.fail", "tag.$": "$.tag"},
                "MaxConcurrency": max_concurrency,
                **tolerance,
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                    "StartAt": "Hold",
                    "States": {
                        "Hold": {"Type": "Wait", "Seconds": 1, "Next": "Fail?"},
                        "Fail?": {
                            "Type": "Choice",
                            "Choices": [{"Variable": "$.fail", "BooleanEquals": True, "Next": "Failed"}],
                            "Default": "Done",
                        },
                        "Failed": {"Type": "Fail", "Error": "Item.Failed", "Cause": "asked to"},
                        "Done": {"Type": "Pass", "Parameters": {"n.$": "$.n", "tag.$": "$.tag"}, "End": True},
                    },
                },
                "ResultWriter": {
                    "Resource": "arn:aws:states:::s3:putObject",
                    "Parameters": {"Bucket.$": "$.bucket", "Prefix.$": "$.prefix"},
                },
                "End": True,
            }
        },
    }


class DistributedMap(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        import logging

        from .test_cloud import shared_cloud

        logging.getLogger("moto.stepfunctions").setLevel(logging.CRITICAL)  # each Fail state's traceback
        cls.cloud = shared_cloud()
        cls.admin = cls.cloud.harness
        cls.client("s3").create_bucket(Bucket=BUCKET)

    @classmethod
    def client(cls, service):
        return cls.cloud.client(service, cls.admin)

    def role(self, may_start_children: bool) -> str:
        iam = self.client("iam")
        name = f"map-{uuid.uuid4().hex[:8]}"
        arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(STATES_TRUST))["Role"]["Arn"]
        statements = [
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{BUCKET}/items/*"},
            {"Effect": "Allow", "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{BUCKET}/results/*"},
        ]
        if may_start_children:
            statements.append(
                {"Effect": "Allow", "Action": "states:StartExecution", "Resource": "arn:aws:states:us-east-1:123456789012:stateMachine:map-*"}
            )
        iam.put_role_policy(RoleName=name, PolicyName="map", PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": statements}))
        return arn

    def run_map(self, items: list, definition: dict, may_start_children: bool = True, **input_fields) -> dict:
        key = f"items/{uuid.uuid4().hex}.json"
        if items is not None:
            self.client("s3").put_object(Bucket=BUCKET, Key=key, Body=json.dumps(items).encode())
        sfn = self.client("stepfunctions")
        arn = sfn.create_state_machine(
            name=f"map-{uuid.uuid4().hex[:8]}", definition=json.dumps(definition), roleArn=self.role(may_start_children)
        )["stateMachineArn"]
        execution = sfn.start_execution(stateMachineArn=arn, input=json.dumps({"key": key, "tag": "t", "bucket": BUCKET, "prefix": "results/x/", **input_fields}))["executionArn"]
        deadline = time.time() + 60
        while time.time() < deadline:
            described = sfn.describe_execution(executionArn=execution)
            if described["status"] != "RUNNING":
                history = sfn.get_execution_history(executionArn=execution)["events"]
                run = next((r for r in self.cloud_runs().values() if r["execution_arn"] == execution), None)
                return {"described": described, "history": history, "run": run}
            time.sleep(0.2)
        self.fail(f"{execution} still running after 60 s")

    def cloud_runs(self) -> dict:
        from ..services import map_run

        return map_run.RUNS.snapshot()

    def failure(self, history: list) -> dict:
        return next(e["executionFailedEventDetails"] for e in history if e["type"] == "ExecutionFailed")

    def test_a_role_that_may_not_start_child_executions_fails_the_map_run(self):
        ran = self.run_map([{"n": 1, "fail": False}], machine({}), may_start_children=False)
        self.assertEqual(ran["described"]["status"], "FAILED")
        failed = self.failure(ran["history"])
        self.assertEqual(failed["error"], "States.Runtime")
        self.assertIn("states:StartExecution", failed["cause"])
        self.assertIsNone(ran["run"], "a child ran")

    def test_a_failed_item_fails_the_map_unless_tolerated(self):
        items = [{"n": n, "fail": n == 2} for n in range(4)]
        strict = self.run_map(items, machine({}))
        self.assertEqual(strict["described"]["status"], "FAILED")
        self.assertEqual(self.failure(strict["history"])["error"], "States.ExceedToleratedFailureThreshold")
        over = self.run_map(items, machine({"ToleratedFailurePercentage": 20.0}))
        self.assertEqual(self.failure(over["history"])["error"], "States.ExceedToleratedFailureThreshold")
        tolerated = self.run_map(items, machine({"ToleratedFailureCount": 1}))
        self.assertEqual(tolerated["described"]["status"], "SUCCEEDED")
        self.assertEqual(tolerated["run"]["by_status"], {"SUCCEEDED": 3, "FAILED": 1})

    def test_each_child_has_its_own_history_and_the_results_are_written_as_aws_writes_them(self):
        items = [{"n": n, "fail": n == 5} for n in range(6)]
        ran = self.run_map(items, machine({"ToleratedFailurePercentage": 100.0}, max_concurrency=2))
        self.assertEqual(ran["described"]["status"], "SUCCEEDED")
        run = ran["run"]
        self.assertEqual(run["children"], 6)
        self.assertEqual(run["most_running"], 2, "MaxConcurrency 2")
        # Hold, Fail?, and Done or Failed: three states entered by each child, in its own history.
        self.assertEqual(run["transitions"], 18)
        self.assertLess(run["most_events"], 20)
        self.assertFalse([e for e in ran["history"] if e["type"] == "WaitStateEntered"], "a child's event in the parent")
        output = json.loads(ran["described"]["output"])
        manifest_key = output["ResultWriterDetails"]["Key"]
        s3 = self.client("s3")
        manifest = json.loads(s3.get_object(Bucket=BUCKET, Key=manifest_key)["Body"].read())
        self.assertEqual(manifest["DestinationBucket"], BUCKET)
        self.assertEqual(manifest["ResultFiles"]["PENDING"], [])
        results = {}
        for status in ("SUCCEEDED", "FAILED"):
            (listed,) = manifest["ResultFiles"][status]
            body = s3.get_object(Bucket=BUCKET, Key=listed["Key"])["Body"].read()
            self.assertEqual(listed["Size"], len(body))
            results[status] = json.loads(body)
        self.assertEqual(sorted(json.loads(r["Output"])["n"] for r in results["SUCCEEDED"]), [0, 1, 2, 3, 4])
        (failed,) = results["FAILED"]
        self.assertEqual((failed["Error"], failed["Cause"]), ("Item.Failed", "asked to"))
        self.assertEqual(json.loads(failed["Input"]), {"n": 5, "fail": True, "tag": "t"})
        self.assertIn(":execution:", failed["ExecutionArn"])


    def test_a_map_that_cannot_read_or_write_fails_with_names_a_catch_can_match(self):
        caught = with_catch(machine({"ToleratedFailurePercentage": 100.0}))
        unread = self.run_map(None, caught)
        self.assertEqual(unread["described"]["status"], "SUCCEEDED")
        error = json.loads(unread["described"]["output"])["caught"]
        self.assertEqual(error["Error"], "States.ItemReaderFailed")
        # No such key, and the role may not list the bucket: S3 answers 403, not 404 (GetObject's permissions).
        self.assertIn("AccessDenied", error["Cause"])
        self.assertIsNone(unread["run"], "a child ran")
        unwritten = self.run_map([{"n": 1, "fail": False}], caught, prefix="elsewhere/")
        error = json.loads(unwritten["described"]["output"])["caught"]
        self.assertEqual(error["Error"], "States.ResultWriterFailed")
        self.assertIn("AccessDenied", error["Cause"])
        self.assertEqual(unwritten["run"]["by_status"], {"SUCCEEDED": 1}, "the items ran before the results failed")

    def test_a_task_token_is_answered_once(self):
        # "SendTaskSuccess", Errors: TaskTimedOut when "the task associated with the token has already been closed".
        sqs, sfn, iam = self.client("sqs"), self.client("stepfunctions"), self.client("iam")
        queue = sqs.create_queue(QueueName=f"tokens-{uuid.uuid4().hex[:8]}")["QueueUrl"]
        name = f"token-{uuid.uuid4().hex[:8]}"
        role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(STATES_TRUST))["Role"]["Arn"]
        allow = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "*"}]}
        iam.put_role_policy(RoleName=name, PolicyName="send", PolicyDocument=json.dumps(allow))
        definition = {
            "StartAt": "Ask",
            "States": {
                "Ask": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                    "Parameters": {"QueueUrl": queue, "MessageBody": {"token.$": "$$.Task.Token"}},
                    "Next": "Hold",
                },
                "Hold": {"Type": "Wait", "Seconds": 5, "End": True},
            },
        }
        machine_arn = sfn.create_state_machine(name=name, definition=json.dumps(definition), roleArn=role)["stateMachineArn"]
        execution = sfn.start_execution(stateMachineArn=machine_arn, input="{}")["executionArn"]
        token = None
        deadline = time.time() + 30
        while token is None and time.time() < deadline:
            for message in sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=1).get("Messages", []):
                token = json.loads(message["Body"])["token"]
        self.assertIsNotNone(token, "the state sent no token")
        sfn.send_task_success(taskToken=token, output='{"n": 1}')
        from botocore.exceptions import ClientError

        for n, again in enumerate((lambda: sfn.send_task_success(taskToken=token, output="{}"), lambda: sfn.send_task_failure(taskToken=token, error="E"))):
            with self.assertRaises(ClientError) as raised:
                again()
            self.assertEqual(raised.exception.response["Error"]["Code"], "TaskTimedOut", n)
        self.assertEqual(sfn.describe_execution(executionArn=execution)["status"], "RUNNING", "the second answer came too late to test")

    def test_a_catch_of_states_all_does_not_catch_a_runtime_error(self):
        ran = self.run_map([{"n": 1, "fail": False}], with_catch(machine({})), may_start_children=False)
        self.assertEqual(ran["described"]["status"], "FAILED")
        self.assertEqual(self.failure(ran["history"])["error"], "States.Runtime")

    def test_a_state_whose_output_passes_256_kib_fails_the_execution(self):
        # "Step Functions service quotas": a task's, state's or execution's input or output is at most 256 KiB of
        # UTF-8; past it the execution fails with States.DataLimitExceeded, which no Catch takes.
        def grow(size: int) -> dict:
            return {"StartAt": "Grow", "States": {"Grow": {"Type": "Pass", "Result": "x" * size, "ResultPath": "$.grown", "End": True}}}

        fits = self.run_map([], grow(250 * 1024))
        self.assertEqual(fits["described"]["status"], "SUCCEEDED")
        over = self.run_map([], grow(256 * 1024))
        self.assertEqual(over["described"]["status"], "FAILED")
        self.assertEqual(self.failure(over["history"])["error"], "States.DataLimitExceeded")


def with_catch(definition: dict) -> dict:
    """The Map's errors caught into `$.caught`."""
    definition["States"]["Tasks"]["Catch"] = [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.caught", "Next": "Caught"}]
    definition["States"]["Caught"] = {"Type": "Pass", "End": True}
    return definition


if __name__ == "__main__":
    unittest.main()


class ChildStarts(unittest.TestCase):
    """A Map run's children start at most 100 a second, on a clock the test turns."""

    def test_children_are_dispatched_at_most_100_a_second_per_map_run(self):
        from unittest import mock

        from ..services import map_run

        now = [50.0]
        slept: list[float] = []

        def sleep(seconds: float) -> None:
            slept.append(seconds)
            now[0] += seconds

        runs = map_run.MapRuns()
        with mock.patch.object(map_run.time, "monotonic", lambda: now[0]), mock.patch.object(map_run.time, "sleep", sleep):
            for _ in range(201):
                runs.dispatch("run-a")
            runs.dispatch("run-b")  # another Map run has its own pace
        self.assertAlmostEqual(sum(slept), 2.0, places=6, msg="the 201st start comes 2 s after the first")
        self.assertEqual(len(slept), 200)
