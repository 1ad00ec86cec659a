"""The emulated cloud refuses what AWS refuses, checked on its own (moto and the IAM gateway, no stack): each test
is a call AWS would refuse, and the refusal it gives. Run by tests/run.sh: python -m unittest discover."""

import json
import sys
import tempfile
import textwrap
import threading
import time
import unittest
import uuid
from pathlib import Path

TRUST = {
    "ec2": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]},
    "ecs-tasks": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"}]},
}


_SHARED: list = []

#: A handler's head, for the Lambda host's tests: the Runtime API's loop, each invocation's `event` and
#: `request_id` (a handler's body follows, indented as here).
RUNTIME_LOOP = """
        import json, os, threading, time, urllib.request
        api = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2018-06-01/runtime/invocation/"
        while True:
            with urllib.request.urlopen(api + "next") as r:
                request_id = r.headers["Lambda-Runtime-Aws-Request-Id"]
                event = json.loads(r.read())"""


def shared_cloud():
    """One moto server behind the gateway for every test class of the process: moto's backends are the process's,
    so a second server would find the first one's users."""
    if not _SHARED:
        import atexit
        import logging

        from .. import sandbox

        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        folder = tempfile.TemporaryDirectory()
        cloud = sandbox.Sandbox(Path(folder.name), 0, Path("/nonexistent"), 1, {})
        cloud.start_moto()
        atexit.register(lambda: (cloud.server.shutdown(), folder.cleanup()))
        _SHARED.append(cloud)
    return _SHARED[0]


class CloudCase(unittest.TestCase):
    """The moto server behind the gateway (shared_cloud), and helpers; no tests of its own (other files' cases
    derive from it)."""

    @classmethod
    def setUpClass(cls) -> None:
        cls.cloud = shared_cloud()
        cls.admin = cls.cloud.harness

    def client(self, service, principal=None):
        return self.cloud.client(service, principal or self.admin)

    def user(self, name, *statements):
        return self.cloud.principals.add_user(name, name, {"Version": "2012-10-17", "Statement": list(statements)})

    def ami(self):
        ssm = self.client("ssm")
        return ssm.get_parameter(Name="/aws/service/ecs/optimized-ami/amazon-linux-2023/recommended/image_id")["Parameter"]["Value"]

    def described(self, ids):
        """The instances, listed by a filter (a call naming a just-launched id may not know it yet)."""
        listed = self.client("ec2").describe_instances(Filters=[{"Name": "instance-id", "Values": list(ids)}])
        by_id = {i["InstanceId"]: i for r in listed["Reservations"] for i in r["Instances"]}
        return [by_id[i] for i in ids]

    def known(self):
        """Waits until EC2's API knows the instances just launched (front/gateway.py: eventual consistency)."""
        from ..front.gateway import FRESH_SECONDS

        time.sleep(FRESH_SECONDS + 0.1)

    def error(self, call):
        from botocore.exceptions import ClientError

        with self.assertRaises(ClientError) as raised:
            call()
        return raised.exception.response["Error"]


class Cloud(CloudCase):
    def test_an_unknown_access_key_is_refused(self):
        import boto3

        s3 = boto3.client("s3", endpoint_url=self.cloud.moto_url, region_name="us-east-1", aws_access_key_id="AKIAUNKNOWN", aws_secret_access_key="x")
        self.assertEqual(self.error(s3.list_buckets)["Code"], "InvalidAccessKeyId")

    def test_a_spot_launch_without_the_service_linked_role_needs_leave_to_create_it(self):
        iam = self.client("iam")
        launch = {"Effect": "Allow", "Action": "ec2:RunInstances", "Resource": "*"}
        may_not = self.user("spot-no", launch)
        may = self.user(
            "spot-yes",
            launch,
            {
                "Effect": "Allow",
                "Action": "iam:CreateServiceLinkedRole",
                "Resource": "arn:aws:iam::123456789012:role/aws-service-role/spot.amazonaws.com/AWSServiceRoleForEC2Spot",
                "Condition": {"StringEquals": {"iam:AWSServiceName": "spot.amazonaws.com"}},
            },
        )
        spot = {"MarketType": "spot", "SpotOptions": {"SpotInstanceType": "one-time"}}
        run = lambda who, market: self.client("ec2", who).run_instances(  # noqa: E731
            ImageId=self.ami(), InstanceType="t3.micro", MinCount=1, MaxCount=1, **({"InstanceMarketOptions": market} if market else {})
        )
        run(may_not, None)  # on demand needs no service-linked role
        refused = self.error(lambda: run(may_not, spot))
        self.assertEqual(refused["Code"], "AuthFailure.ServiceLinkedRoleCreationNotPermitted")
        self.assertEqual(
            refused["Message"], "The provided credentials do not have permission to create the service-linked role for EC2 Spot Instances."
        )
        run(may, spot)
        role = iam.get_role(RoleName="AWSServiceRoleForEC2Spot")["Role"]
        self.assertEqual(role["Path"], "/aws-service-role/spot.amazonaws.com/")
        run(may_not, spot)  # once it exists, launching spot needs nothing more

    def test_pass_role_is_checked_with_the_service_it_is_passed_to(self):
        iam = self.client("iam")
        role = iam.create_role(RoleName="instances", AssumeRolePolicyDocument=json.dumps(TRUST["ec2"]))["Role"]["Arn"]
        iam.create_instance_profile(InstanceProfileName="instances")
        iam.add_role_to_instance_profile(InstanceProfileName="instances", RoleName="instances")
        launch = {"Effect": "Allow", "Action": "ec2:RunInstances", "Resource": "*"}
        to_ecs = self.user(
            "pass-to-ecs", launch, {"Effect": "Allow", "Action": "iam:PassRole", "Resource": role, "Condition": {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}}}
        )
        to_ec2 = self.user(
            "pass-to-ec2", launch, {"Effect": "Allow", "Action": "iam:PassRole", "Resource": role, "Condition": {"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}}}
        )
        run = lambda who: self.client("ec2", who).run_instances(  # noqa: E731
            ImageId=self.ami(), InstanceType="t3.micro", MinCount=1, MaxCount=1, IamInstanceProfile={"Name": "instances"}
        )
        refused = self.error(lambda: run(to_ecs))
        self.assertEqual(refused["Code"], "UnauthorizedOperation")
        self.assertIn(f"iam:PassRole on resource: {role}", refused["Message"])
        run(to_ec2)

    def test_tag_on_create_needs_the_create_action_and_the_request_tags(self):
        scoped = self.user(
            "tagged-launch",
            {"Effect": "Allow", "Action": "ec2:RunInstances", "Resource": ["arn:aws:ec2:us-east-1:123456789012:instance/*"], "Condition": {"StringEquals": {"aws:RequestTag/ecsub:stack": "ecsub"}}},
            {"Effect": "Allow", "Action": "ec2:RunInstances", "NotResource": ["arn:aws:ec2:us-east-1:123456789012:instance/*"]},
            {"Effect": "Allow", "Action": "ec2:CreateTags", "Resource": "*", "Condition": {"StringEquals": {"ec2:CreateAction": "RunInstances"}}},
        )
        ec2 = self.client("ec2", scoped)
        run = lambda stack: ec2.run_instances(  # noqa: E731
            ImageId=self.ami(),
            InstanceType="t3.micro",
            MinCount=1,
            MaxCount=1,
            TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "ecsub:stack", "Value": stack}]}],
        )
        instance = run("ecsub")["Instances"][0]["InstanceId"]
        self.assertEqual(self.error(lambda: run("other"))["Code"], "UnauthorizedOperation")
        retag = self.error(lambda: ec2.create_tags(Resources=[instance], Tags=[{"Key": "ecsub:stack", "Value": "other"}]))
        self.assertEqual(retag["Code"], "UnauthorizedOperation", "CreateTags outside RunInstances")

    def test_start_task_refuses_a_task_role_that_does_not_trust_ecs_tasks(self):
        iam, ecs, ec2 = self.client("iam"), self.client("ecs"), self.client("ec2")
        bad = iam.create_role(RoleName="ecsInstanceRoleAsTaskRole", AssumeRolePolicyDocument=json.dumps(TRUST["ec2"]))["Role"]["Arn"]
        good = iam.create_role(RoleName="taskRole", AssumeRolePolicyDocument=json.dumps(TRUST["ecs-tasks"]))["Role"]["Arn"]
        ecs.create_cluster(clusterName="trust")
        instance = ec2.run_instances(ImageId=self.ami(), InstanceType="t3.micro", MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
        document = json.dumps({"instanceId": instance, "region": "us-east-1", "accountId": "123456789012"})
        arn = ecs.register_container_instance(cluster="trust", instanceIdentityDocument=document)["containerInstance"]["containerInstanceArn"]
        container = [{"name": "main", "image": "busybox", "memoryReservation": 64}]
        for family, role in (("bad", bad), ("good", good)):
            ecs.register_task_definition(family=family, taskRoleArn=role, containerDefinitions=container)
        refused = self.error(lambda: ecs.start_task(cluster="trust", taskDefinition="bad", containerInstances=[arn]))
        self.assertEqual(refused["Code"], "ClientException")
        self.assertTrue(refused["Message"].startswith(f"ECS was unable to assume the role '{bad}' that was provided for this task."))
        started = ecs.start_task(cluster="trust", taskDefinition="good", containerInstances=[arn])
        self.assertEqual(len(started["tasks"]), 1)
        self.assertEqual(started["failures"], [])

    def test_another_accounts_ecr_image_pulls_only_when_its_repository_policy_lets_this_account(self):
        from moto.ecr.models import ecr_backends

        from ..compute.agent_tasks import pull_error

        theirs = ecr_backends["444455556666"]["us-east-1"]
        for name in ("team/shared", "team/closed"):
            theirs.create_repository(name, "444455556666", {}, {}, "MUTABLE", [])
        theirs.set_repository_policy("444455556666", "team/shared", json.dumps({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"}, "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]}],
        }))
        host = "444455556666.dkr.ecr.us-east-1.amazonaws.com"
        self.assertIsNone(pull_error(f"{host}/team/shared:1", "123456789012"))
        self.assertIsNone(pull_error(f"{host}/team/closed:1", "444455556666"), "its own account pulls")
        for image, account in ((f"{host}/team/closed:1", "123456789012"), (f"{host}/team/shared:1", "999988887777")):
            refused = pull_error(image, account)
            self.assertIn("403 Forbidden", refused or "", image)

    def test_repository_credentials_need_an_execution_role_and_start_task_passes_it(self):
        iam, ecs = self.client("iam"), self.client("ecs")
        execution = iam.create_role(RoleName="executionRole", AssumeRolePolicyDocument=json.dumps(TRUST["ecs-tasks"]))["Role"]["Arn"]
        container = [{"name": "main", "image": "ghcr.io/ecsub-lab/aligner:2.1", "memoryReservation": 64,
                      "repositoryCredentials": {"credentialsParameter": "arn:aws:secretsmanager:us-east-1:123456789012:secret:ecsub/ghcr"}}]
        refused = self.error(lambda: ecs.register_task_definition(family="private", containerDefinitions=container))
        self.assertEqual(refused["Code"], "ClientException")
        self.assertIn("executionRoleArn", refused["Message"])
        ecs.register_task_definition(family="private", containerDefinitions=container, executionRoleArn=execution)
        # Starting it passes the execution role again: a caller that may pass only the task role is refused.
        starter = self.user(
            "starts-tasks",
            {"Effect": "Allow", "Action": "ecs:StartTask", "Resource": "*"},
            {"Effect": "Allow", "Action": "iam:PassRole", "Resource": "arn:aws:iam::123456789012:role/taskRole"},
        )
        denied = self.error(lambda: self.client("ecs", starter).start_task(cluster="default", taskDefinition="private", containerInstances=["x"]))
        self.assertEqual(denied["Code"], "AccessDeniedException")
        self.assertIn("iam:PassRole", denied["Message"])

    def test_start_task_refuses_a_task_wanting_more_gpus_than_its_instance_registered(self):
        from ..compute.agent import _register_gpus

        ecs, ec2 = self.client("ecs"), self.client("ec2")
        ecs.create_cluster(clusterName="gpus")
        arns = []
        for kind in ("g4dn.xlarge", "g4dn.12xlarge"):
            instance = ec2.run_instances(ImageId=self.ami(), InstanceType=kind, MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
            document = json.dumps({"instanceId": instance, "region": "us-east-1", "accountId": "123456789012"})
            arns.append(ecs.register_container_instance(cluster="gpus", instanceIdentityDocument=document)["containerInstance"]["containerInstanceArn"])
        plain, four = arns
        _register_gpus("123456789012", "us-east-1", "gpus", four, [f"GPU-{n}" for n in range(4)])
        ecs.register_task_definition(family="cuda", containerDefinitions=[{"name": "main", "image": "nvidia/cuda", "memoryReservation": 64}])
        wanting = lambda n: {"containerOverrides": [{"name": "main", "resourceRequirements": [{"type": "GPU", "value": str(n)}]}]}  # noqa: E731
        # An instance whose agent registered no GPU (the standard AMI, or GPU support off) takes no GPU task.
        refused = ecs.start_task(cluster="gpus", taskDefinition="cuda", containerInstances=[plain], overrides=wanting(1))
        self.assertEqual(refused["tasks"], [])
        self.assertEqual([f["reason"] for f in refused["failures"]], ["RESOURCE:GPU"])
        self.assertEqual(ecs.start_task(cluster="gpus", taskDefinition="cuda", containerInstances=[four], overrides=wanting(5))["failures"][0]["reason"], "RESOURCE:GPU")
        started = ecs.start_task(cluster="gpus", taskDefinition="cuda", containerInstances=[four], overrides=wanting(4))
        self.assertEqual((len(started["tasks"]), started["failures"]), (1, []))
        # A task that asks for none starts anywhere.
        self.assertEqual(len(ecs.start_task(cluster="gpus", taskDefinition="cuda", containerInstances=[plain])["tasks"]), 1)

    def test_an_sqs_target_gets_a_rules_events_only_if_its_policy_lets_eventbridge_send(self):
        sqs, events = self.client("sqs"), self.client("events")
        rule = events.put_rule(Name="ends", EventPattern=json.dumps({"source": ["ecsub"]}))["RuleArn"]
        queues = {}
        for name in ("open", "closed"):
            url = sqs.create_queue(QueueName=f"ends-{name}")["QueueUrl"]
            queues[name] = (url, sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"])
        url, arn = queues["open"]
        policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"}, "Action": "sqs:SendMessage", "Resource": arn, "Condition": {"ArnEquals": {"aws:SourceArn": rule}}}]}
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(policy)})
        events.put_targets(Rule="ends", Targets=[{"Id": name, "Arn": queues[name][1]} for name in queues])
        events.put_events(Entries=[{"Source": "ecsub", "DetailType": "x", "Detail": "{}"}])
        got = {name: sqs.receive_message(QueueUrl=queues[name][0], WaitTimeSeconds=1).get("Messages", []) for name in queues}
        self.assertEqual((len(got["open"]), len(got["closed"])), (1, 0))
        self.assertEqual(json.loads(got["open"][0]["Body"])["source"], "ecsub")

    def test_s3_hides_a_missing_object_from_who_may_not_list_the_bucket(self):
        self.client("s3").create_bucket(Bucket="listing")
        read_only = self.user("get-only", {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::listing/*"})
        lister = self.user(
            "get-and-list",
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::listing/*"},
            {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::listing"},
        )
        head = lambda who: self.client("s3", who).head_object(Bucket="listing", Key="missing")  # noqa: E731
        self.assertEqual(self.error(lambda: head(read_only))["Code"], "403")
        self.assertEqual(self.error(lambda: head(lister))["Code"], "404")

    def test_a_secret_under_a_customer_managed_key_needs_kms_decrypt_through_its_service(self):
        key = self.client("kms").create_key(Description="team")["KeyMetadata"]["Arn"]
        sm, ssm = self.client("secretsmanager"), self.client("ssm")
        sm.create_secret(Name="cmk/token", SecretString="t", KmsKeyId=key)
        sm.create_secret(Name="cmk/plain", SecretString="p")
        ssm.put_parameter(Name="/cmk/db", Type="SecureString", Value="d", KeyId=key)
        ssm.put_parameter(Name="/cmk/plain", Type="SecureString", Value="d")
        read = [
            {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": "*"},
            {"Effect": "Allow", "Action": "ssm:GetParameter", "Resource": "*"},
        ]
        reader = self.user("cmk-reader", *read)
        via = lambda service: {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": key, "Condition": {"StringEquals": {"kms:ViaService": f"{service}.us-east-1.amazonaws.com"}}}  # noqa: E731
        granted = self.user("cmk-granted", *read, via("secretsmanager"), via("ssm"))
        only_ssm = self.user("cmk-ssm-only", *read, via("ssm"))
        secret = lambda who, name: self.client("secretsmanager", who).get_secret_value(SecretId=name)  # noqa: E731
        parameter = lambda who, name: self.client("ssm", who).get_parameter(Name=name, WithDecryption=True)  # noqa: E731
        # The AWS-managed keys need no grant.
        secret(reader, "cmk/plain")
        parameter(reader, "/cmk/plain")
        for refused in (lambda: secret(reader, "cmk/token"), lambda: parameter(reader, "/cmk/db"), lambda: secret(only_ssm, "cmk/token")):
            error = self.error(refused)
            self.assertEqual(error["Code"], "AccessDeniedException")
            self.assertIn(f"kms:Decrypt on resource: {key}", error["Message"])
        self.assertEqual(secret(granted, "cmk/token")["SecretString"], "t")
        self.assertEqual(parameter(granted, "/cmk/db")["Parameter"]["Value"], "d")
        self.client("ssm", reader).get_parameter(Name="/cmk/db", WithDecryption=False)  # the ciphertext needs no key

    def test_a_requester_pays_bucket_of_another_account_needs_the_header(self):
        from ..faults import FAULTS

        s3 = self.client("s3")
        s3.create_bucket(Bucket="open-data")
        s3.put_object(Bucket="open-data", Key="a.txt", Body=b"a")
        FAULTS.add({"kind": "requester-pays", "bucket": "open-data"})
        self.assertEqual(self.error(lambda: s3.get_object(Bucket="open-data", Key="a.txt"))["Code"], "AccessDenied")
        self.assertEqual(s3.get_object(Bucket="open-data", Key="a.txt", RequestPayer="requester")["Body"].read(), b"a")

    def test_run_instances_honours_its_client_token(self):
        from botocore.exceptions import ClientError

        ec2 = self.client("ec2")
        first = ec2.run_instances(ImageId=self.ami(), InstanceType="t3.micro", MinCount=1, MaxCount=1, ClientToken="tok-1")
        again = ec2.run_instances(ImageId=self.ami(), InstanceType="t3.micro", MinCount=1, MaxCount=1, ClientToken="tok-1")
        self.assertEqual(first["Instances"][0]["InstanceId"], again["Instances"][0]["InstanceId"])
        with self.assertRaises(ClientError) as raised:
            ec2.run_instances(ImageId=self.ami(), InstanceType="m5.large", MinCount=1, MaxCount=1, ClientToken="tok-1")
        self.assertEqual(raised.exception.response["Error"]["Code"], "IdempotentParameterMismatch")


    def test_run_instances_is_throttled_by_its_token_buckets(self):
        import botocore.config
        from ..front import throttle

        # One try per call: the SDK's own retries would hide the answer.
        ec2 = self.cloud.client("ec2", self.admin, config=botocore.config.Config(retries={"max_attempts": 1, "mode": "standard"}))
        try:
            throttle.THROTTLE.resize_ec2("request", "RunInstances", 2, 0.001)
            launch = lambda: ec2.run_instances(ImageId=self.ami(), InstanceType="t3.micro", MinCount=1, MaxCount=1)  # noqa: E731
            launch()
            launch()
            self.assertEqual(self.error(launch)["Code"], "RequestLimitExceeded")
            # A resource bucket counts instances, not calls: three instances from a bucket of two is refused whole.
            throttle.THROTTLE.restore()
            throttle.THROTTLE.resize_ec2("resource", "RunInstances", 2, 0.001)
            three = lambda: ec2.run_instances(ImageId=self.ami(), InstanceType="t3.micro", MinCount=3, MaxCount=3)  # noqa: E731
            self.assertEqual(self.error(three)["Code"], "RequestLimitExceeded")
            ec2.run_instances(ImageId=self.ami(), InstanceType="t3.micro", MinCount=2, MaxCount=2)
        finally:
            throttle.THROTTLE.restore()

    def test_ecs_and_step_functions_calls_are_throttled_with_their_own_error(self):
        import botocore.config
        from ..front import throttle

        once = botocore.config.Config(retries={"max_attempts": 1, "mode": "standard"})
        ecs = self.cloud.client("ecs", self.admin, config=once)
        sfn = self.cloud.client("stepfunctions", self.admin, config=once)
        try:
            # ListTasks and DescribeContainerInstances share the cluster resource read bucket.
            cluster = ecs.create_cluster(clusterName=f"throttled-{uuid.uuid4().hex[:8]}")["cluster"]["clusterArn"]
            throttle.THROTTLE.resize("ecs", "cluster resource read", 2, 0.001)
            ecs.list_container_instances(cluster=cluster)
            ecs.list_tasks(cluster=cluster)
            error = self.error(lambda: ecs.list_tasks(cluster=cluster))
            self.assertEqual((error["Code"], error["Message"]), ("ThrottlingException", "Rate exceeded"))
            ecs.list_clusters()  # another category, another bucket
            throttle.THROTTLE.resize("states", "DescribeExecution", 1, 0.001)
            arn = "arn:aws:states:us-east-1:123456789012:execution:none:none"
            self.assertNotEqual(self.error(lambda: sfn.describe_execution(executionArn=arn))["Code"], "ThrottlingException")
            self.assertEqual(self.error(lambda: sfn.describe_execution(executionArn=arn))["Code"], "ThrottlingException")
        finally:
            throttle.THROTTLE.restore()

    def test_ec2_does_not_know_a_just_launched_instance_for_a_moment(self):
        from ..front.gateway import FRESH_SECONDS

        ec2 = self.client("ec2")
        ids = [i["InstanceId"] for i in ec2.run_instances(ImageId=self.ami(), InstanceType="t3.micro", MinCount=2, MaxCount=2)["Instances"]]
        tag = lambda: ec2.create_tags(Resources=ids, Tags=[{"Key": "k", "Value": "v"}])  # noqa: E731
        refused = self.error(tag)
        self.assertEqual(refused["Code"], "InvalidInstanceID.NotFound")
        self.assertEqual(refused["Message"], f"The instance IDs '{ids[0]}, {ids[1]}' do not exist")
        refused = self.error(lambda: ec2.terminate_instances(InstanceIds=ids[:1]))
        self.assertEqual(refused["Message"], f"The instance ID '{ids[0]}' does not exist")
        self.assertEqual(self.error(lambda: ec2.describe_instances(InstanceIds=ids))["Code"], "InvalidInstanceID.NotFound")
        # A listing by filter is not refused; it simply may not hold them yet (here it does).
        listed = ec2.describe_instances(Filters=[{"Name": "instance-id", "Values": ids}])
        self.assertEqual(len([i for r in listed["Reservations"] for i in r["Instances"]]), 2)
        time.sleep(FRESH_SECONDS + 0.1)
        tag()
        ec2.terminate_instances(InstanceIds=ids)

    def test_run_instances_launches_max_count_not_min_count(self):
        ec2 = self.client("ec2")
        iam = self.client("iam")
        profile = f"batch-{uuid.uuid4().hex[:8]}"
        arn = iam.create_instance_profile(InstanceProfileName=profile)["InstanceProfile"]["Arn"]
        launched = ec2.run_instances(ImageId=self.ami(), InstanceType="t3.micro", MinCount=1, MaxCount=3, IamInstanceProfile={"Arn": arn})["Instances"]
        self.assertEqual(len(launched), 3, "EC2 launches as many as it can up to MaxCount")
        described = self.described([i["InstanceId"] for i in launched])
        self.assertEqual([i.get("IamInstanceProfile", {}).get("Arn") for i in described], [arn] * 3, "each has the profile")
        self.known()
        ec2.terminate_instances(InstanceIds=[i["InstanceId"] for i in launched])

    def test_an_instance_launched_without_metadata_options_gets_the_ecs_amis(self):
        ec2 = self.client("ec2")
        launched = ec2.run_instances(ImageId=self.ami(), InstanceType="t3.micro", MinCount=1, MaxCount=1)["Instances"][0]
        options = self.described([launched["InstanceId"]])[0]["MetadataOptions"]
        self.assertEqual((options["HttpTokens"], options["HttpPutResponseHopLimit"]), ("required", 2), "ImdsSupport v2.0")
        asked = ec2.run_instances(
            ImageId=self.ami(), InstanceType="t3.micro", MinCount=1, MaxCount=1,
            MetadataOptions={"HttpTokens": "required", "HttpPutResponseHopLimit": 1},
        )["Instances"][0]
        self.assertEqual(asked["MetadataOptions"]["HttpPutResponseHopLimit"], 1)
        refused = self.error(lambda: ec2.run_instances(
            ImageId=self.ami(), InstanceType="t3.micro", MinCount=1, MaxCount=1, MetadataOptions={"HttpPutResponseHopLimit": 65},
        ))
        self.assertEqual(refused["Code"], "InvalidParameterValue")
        self.known()
        ec2.terminate_instances(InstanceIds=[launched["InstanceId"], asked["InstanceId"]])

    def test_vcpu_quotas_are_answered_by_service_quotas_and_met_by_run_instances(self):
        from ..services import quotas

        self.addCleanup(quotas.reset)
        quotas.set_quota("L-417A185B", 192)
        answer = self.client("service-quotas").get_service_quota(ServiceCode="ec2", QuotaCode="L-417A185B")["Quota"]
        self.assertEqual((answer["QuotaName"], answer["Value"]), ("Running On-Demand P instances", 192.0))
        self.assertEqual(self.error(lambda: self.client("service-quotas").get_service_quota(ServiceCode="ec2", QuotaCode="L-00000000"))["Code"], "NoSuchResourceException")
        ec2 = self.client("ec2")
        launch = lambda n: ec2.run_instances(ImageId=self.ami(), InstanceType="p4d.24xlarge", MinCount=1, MaxCount=n)["Instances"]  # noqa: E731
        # 96 vCPUs each (no other test runs P instances): two of three fit, then none.
        first = launch(3)
        self.assertEqual(len(first), 2)
        refused = self.error(lambda: launch(1))
        self.assertEqual(refused["Code"], "VcpuLimitExceeded")
        self.assertIn("current vCPU limit of 192", refused["Message"])
        # A terminated instance gives its vCPUs back.
        self.known()
        ec2.terminate_instances(InstanceIds=[first[0]["InstanceId"]])
        self.assertEqual(len(launch(1)), 1)
        plain = self.user("no-quotas", {"Effect": "Allow", "Action": "servicequotas:GetServiceQuota", "Resource": "arn:aws:servicequotas:us-east-1:123456789012:ec2/L-1216C47A"})
        quota = self.client("service-quotas", plain)
        self.assertEqual(quota.get_service_quota(ServiceCode="ec2", QuotaCode="L-1216C47A")["Quota"]["QuotaCode"], "L-1216C47A")
        self.assertEqual(self.error(lambda: quota.get_service_quota(ServiceCode="ec2", QuotaCode="L-DB2E81BA"))["Code"], "AccessDeniedException")

    def test_terminate_instances_takes_at_most_1000_ids_and_refuses_more_whole(self):
        ec2 = self.client("ec2")
        launched = ec2.run_instances(ImageId=self.ami(), InstanceType="t3.micro", MinCount=2, MaxCount=2)
        ids = [i["InstanceId"] for i in launched["Instances"]]
        self.known()
        padding = [f"i-{n:017x}" for n in range(999)]
        refused = self.error(lambda: ec2.terminate_instances(InstanceIds=ids + padding))
        self.assertEqual(refused["Code"], "InvalidParameterValue")
        self.assertIn("1001", refused["Message"])
        states = ec2.describe_instances(InstanceIds=ids)["Reservations"][0]["Instances"]
        self.assertEqual({i["State"]["Name"] for i in states}, {"running"}, "a refused call acted on some ids")
        ended = ec2.terminate_instances(InstanceIds=ids)["TerminatingInstances"]
        self.assertEqual(sorted(i["InstanceId"] for i in ended), sorted(ids))


    def test_tags_past_aws_rules_are_refused_by_each_service_and_make_nothing(self):
        ec2, ecs, logs = self.client("ec2"), self.client("ecs"), self.client("logs")
        launch = lambda tags: ec2.run_instances(  # noqa: E731
            ImageId=self.ami(), InstanceType="t3.micro", MinCount=1, MaxCount=1,
            TagSpecifications=[{"ResourceType": "instance", "Tags": tags}],
        )
        before = len(ec2.describe_instances()["Reservations"])
        for tags, code in [
            ([{"Key": "aws:owner", "Value": "me"}], "InvalidParameterValue"),
            ([{"Key": "k" * 129, "Value": "v"}], "InvalidParameterValue"),
            ([{"Key": "k", "Value": "v" * 257}], "InvalidParameterValue"),
            ([{"Key": f"k{i}", "Value": "v"} for i in range(51)], "TagLimitExceeded"),
        ]:
            self.assertEqual(self.error(lambda: launch(tags))["Code"], code, tags[0]["Key"][:10])
        self.assertEqual(len(ec2.describe_instances()["Reservations"]), before, "a refused launch launched")
        # EC2 takes any character; ECS and CloudWatch Logs only letters, numbers, spaces and _ . : / = + - @.
        launch([{"Key": "team", "Value": "a,b"}])
        refused = self.error(lambda: ecs.create_cluster(clusterName="tagged", tags=[{"key": "team", "value": "a,b"}]))
        self.assertEqual(refused["Code"], "InvalidParameterException")
        self.assertEqual(ecs.describe_clusters(clusters=["tagged"])["clusters"], [], "a refused cluster exists")
        ecs.create_cluster(clusterName="tagged", tags=[{"key": "cost center", "value": "Δ-lab @ Tōkyō/2"}])
        refused = self.error(lambda: logs.create_log_group(logGroupName="tagged", tags={"team": "a\tb"}))
        self.assertEqual(refused["Code"], "InvalidParameterException")
        self.assertEqual(logs.describe_log_groups(logGroupNamePrefix="tagged")["logGroups"], [])

    def test_a_log_group_made_with_tags_needs_the_right_to_tag_it(self):
        group = "arn:aws:logs:us-east-1:123456789012:log-group:/made/*"
        untagging = self.user("logs-untagging", {"Effect": "Allow", "Action": "logs:CreateLogGroup", "Resource": group})
        logs = self.client("logs", untagging)
        logs.create_log_group(logGroupName="/made/plain")
        refused = self.error(lambda: logs.create_log_group(logGroupName="/made/tagged", tags={"project": "p"}))
        self.assertEqual(refused["Code"], "AccessDeniedException")
        self.assertIn("logs:TagResource", refused["Message"])
        tagging = self.user("logs-tagging", {"Effect": "Allow", "Action": ["logs:CreateLogGroup", "logs:TagResource"], "Resource": group})
        self.client("logs", tagging).create_log_group(logGroupName="/made/tagged", tags={"project": "p"})

    def test_ecs_lists_answer_100_a_page_with_a_token_for_the_rest(self):
        ecs = self.client("ecs")
        family = f"paged-{uuid.uuid4().hex[:8]}"
        container = [{"name": "c", "image": "busybox", "memory": 64}]
        from ..front import throttle

        # 101 definitions at once: ECS's task definition bucket (20, refilled 1 a second) would take 80 s.
        throttle.THROTTLE.resize("ecs", "task definition modify", 200, 200)
        try:
            for _ in range(101):
                ecs.register_task_definition(family=family, containerDefinitions=container)
        finally:
            throttle.THROTTLE.restore()
        first = ecs.list_task_definitions(familyPrefix=family)
        self.assertEqual(len(first["taskDefinitionArns"]), 100)
        rest = ecs.list_task_definitions(familyPrefix=family, nextToken=first["nextToken"])
        self.assertEqual(len(rest["taskDefinitionArns"]), 1)
        self.assertNotIn("nextToken", rest)
        self.assertEqual(len(set(first["taskDefinitionArns"] + rest["taskDefinitionArns"])), 101)
        paged = ecs.get_paginator("list_task_definitions").paginate(familyPrefix=family, PaginationConfig={"PageSize": 30})
        self.assertEqual([len(p["taskDefinitionArns"]) for p in paged], [30, 30, 30, 11])
        self.assertIn("maxResults", self.error(lambda: ecs.list_task_definitions(familyPrefix=family, maxResults=101))["Message"])
        ecs.create_cluster(clusterName=family)
        refused = self.error(lambda: ecs.describe_tasks(cluster=family, tasks=[f"t{n}" for n in range(101)]))
        self.assertEqual(refused["Code"], "InvalidParameterException")
        self.assertIn("over 100", refused["Message"])
        self.assertEqual(ecs.describe_tasks(cluster=family, tasks=[f"t{n}" for n in range(100)])["tasks"], [])


class SqsEventSource(CloudCase):
    """An SQS event source mapping delivers batches and deletes what the function handled."""

    HANDLER = RUNTIME_LOOP + """
            failed = [{"itemIdentifier": m["messageId"]} for m in event["Records"] if m["body"] == "fail"]
            body = json.dumps({"batchItemFailures": failed}).encode()
            urllib.request.urlopen(urllib.request.Request(api + request_id + "/response", data=body, method="POST")).read()
        """

    def test_a_batch_is_delivered_and_deleted_but_for_the_messages_the_function_failed(self):
        from .. import stack
        from ..services import lambda_host

        sqs = self.client("sqs")
        name = f"asks-{uuid.uuid4().hex[:8]}"
        url = sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "1"})["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        for body in ("a", "b", "fail", "c"):
            sqs.send_message(QueueUrl=url, MessageBody=body)
        directory = tempfile.TemporaryDirectory()
        self.addCleanup(directory.cleanup)
        binary = Path(directory.name) / "bootstrap"
        binary.write_text(f"#!{sys.executable}\n" + textwrap.dedent(self.HANDLER))
        binary.chmod(0o755)
        host = lambda_host.LambdaHost(lambda *args: None)
        self.addCleanup(host.stop)
        spec = stack.Function(logical="F", name="consumer", arn="arn:aws:lambda:us-east-1:1:function:consumer", binary="c", role_arn="", env={}, timeout=30, memory=256)
        runtime = lambda_host.FunctionRuntime(spec, binary, {}, "http://127.0.0.1:1", "us-east-1", Path(directory.name), 1)
        host.add(runtime)
        runtime.start()
        mapping = stack.QueueMapping(function="consumer", queue_arn=arn, batch_size=10, window_seconds=1, partial_failures=True)
        poller = lambda_host.QueuePoller(host, mapping, sqs, url, "us-east-1")
        host.pollers.append(poller)
        poller.start()
        deadline = time.time() + 20
        while runtime.invocations < 2 and time.time() < deadline:
            time.sleep(0.1)
        self.assertGreaterEqual(runtime.invocations, 2, "the failed message came back for another batch")
        poller.stop()
        time.sleep(1.5)  # the last batch's failure comes back into view
        left = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1, AttributeNames=["All"]).get("Messages", [])
        self.assertEqual([m["Body"] for m in left], ["fail"], "the handled messages were deleted")
        self.assertGreaterEqual(int(left[0]["Attributes"]["ApproximateReceiveCount"]), 2)


class Buckets(unittest.TestCase):
    """The token bucket arithmetic of front/throttle.py, on a clock the test turns."""

    def test_a_bucket_holds_its_capacity_and_refills_at_its_rate(self):
        from ..front import throttle

        now = [0.0]
        t = throttle.Throttle(clock=lambda: now[0])
        run = lambda: t.check("ec2", "1", "us-east-1", "RunInstances", {"MaxCount": "1"})  # noqa: E731
        for _ in range(5):  # the documented burst: five calls at once
            run()
        with self.assertRaises(throttle.Throttled) as raised:
            run()
        self.assertEqual((raised.exception.bucket, raised.exception.status), ("request RunInstances", 503))
        now[0] += 0.5  # one token back at two a second
        run()
        with self.assertRaises(throttle.Throttled):
            run()
        now[0] += 60  # refilled to the capacity, never beyond it
        for _ in range(5):
            run()
        with self.assertRaises(throttle.Throttled):
            run()
        # Another account or Region has buckets of its own; another API too.
        t.check("ec2", "2", "us-east-1", "RunInstances", {"MaxCount": "1"})
        t.check("ec2", "1", "eu-west-1", "RunInstances", {"MaxCount": "1"})
        t.check("ec2", "1", "us-east-1", "DescribeInstances", {})
        self.assertEqual(t.state()["throttled"], {"RunInstances": 3})

    def test_a_throttled_call_takes_no_token_and_terminations_count_instances(self):
        from ..front import throttle

        now = [0.0]
        t = throttle.Throttle(clock=lambda: now[0])
        t.resize_ec2("resource", "TerminateInstances", 3, 20)
        ids = {f"InstanceId.{i}": f"i-{i}" for i in range(1, 3)}
        t.check("ec2", "1", "us-east-1", "TerminateInstances", ids)  # two of three
        with self.assertRaises(throttle.Throttled):
            t.check("ec2", "1", "us-east-1", "TerminateInstances", ids)  # two more: refused, nothing taken
        t.check("ec2", "1", "us-east-1", "TerminateInstances", {"InstanceId.1": "i-1"})  # the one left
        now[0] += 0.1  # 20 a second: two more
        t.check("ec2", "1", "us-east-1", "TerminateInstances", ids)

    def test_each_api_meets_the_bucket_its_document_gives_it(self):
        from ..front import throttle

        def burst(service: str, api: str, params: dict, region: str = "us-east-1") -> int:
            """How many calls at once pass before the first refusal."""
            t = throttle.Throttle(clock=lambda: 0.0)
            n = 0
            while n < 10_000:
                try:
                    t.check(service, "1", region, api, params)
                except throttle.Throttled:
                    return n
                n += 1
            return n

        self.assertEqual(burst("ec2", "CreateTags", {}), 100)
        self.assertEqual(burst("ec2", "TerminateInstances", {"InstanceId.1": "i-1"}), 100)
        self.assertEqual(burst("ec2", "DescribeInstances", {}), 50, "unfiltered and unpaginated")
        self.assertEqual(burst("ec2", "DescribeInstances", {"Filter.1.Name": "tag:ecsub:job"}), 100)
        self.assertEqual(burst("ec2", "DescribeInstanceTypes", {}), 100, "non-mutating")
        self.assertEqual(burst("ec2", "CreateSecurityGroup", {}), 50, "mutating")
        self.assertEqual(burst("ecs", "StartTask", {}), 100)
        self.assertEqual(burst("ecs", "DeleteCluster", {}), 20)
        self.assertEqual(burst("ecs", "DeleteTaskDefinitions", {}), 5)
        self.assertEqual(burst("states", "SendTaskSuccess", {}), 3000)
        self.assertEqual(burst("states", "SendTaskSuccess", {}, "ap-northeast-1"), 1500)
        self.assertEqual(burst("states", "DescribeExecution", {}), 300)
        self.assertEqual(burst("s3", "PutObject", {}), 10_000, "S3 is not metered here")
        # ECS's categories share a bucket; EC2's APIs do not.
        t = throttle.Throttle(clock=lambda: 0.0)
        for _ in range(100):
            t.check("ecs", "1", "us-east-1", "ListTasks", {})
        with self.assertRaises(throttle.Throttled):
            t.check("ecs", "1", "us-east-1", "DescribeContainerInstances", {})
        t.check("ecs", "1", "us-east-1", "StartTask", {})


class LambdaHost(unittest.TestCase):
    """A function runs under its Timeout and MemorySize, and is started again, cold, when killed."""

    def runtime(self, script: str, timeout: int, memory: int):
        from .. import stack
        from ..services import lambda_host

        self.dir = tempfile.TemporaryDirectory()
        binary = Path(self.dir.name) / "bootstrap"
        binary.write_text(f"#!{sys.executable}\n" + textwrap.dedent(script))
        binary.chmod(0o755)
        spec = stack.Function(logical="F", name="f", arn="arn:aws:lambda:us-east-1:1:function:f", binary="f", role_arn="", env={}, timeout=timeout, memory=memory)
        runtime = lambda_host.FunctionRuntime(spec, binary, {}, "http://127.0.0.1:1", "us-east-1", Path(self.dir.name), 1)
        runtime.start()
        self.addCleanup(runtime.stop)
        self.addCleanup(self.dir.cleanup)
        return runtime

    HANDLER = RUNTIME_LOOP + """
            if event.get("sleep"):
                time.sleep(event["sleep"])
            if event.get("after_answer"):
                # Work left running after the answer: a thread that writes a file a moment later.
                path = event["after_answer"]
                threading.Thread(target=lambda: (time.sleep(0.3), open(path, "w").write("done")), daemon=True).start()
            if event.get("allocate_mb"):
                hog = bytearray(event["allocate_mb"] * 1024 * 1024)
                for i in range(0, len(hog), 4096):
                    hog[i] = 1
                time.sleep(2)
            body = json.dumps({"pid": os.getpid(), "memory": os.environ["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"], "pad": "x" * (event.get("respond_mb", 0) * 1024 * 1024)}).encode()
            urllib.request.urlopen(urllib.request.Request(api + request_id + "/response", data=body, method="POST")).read()
        """

    def test_an_invocation_past_the_timeout_fails_and_the_function_starts_again(self):
        runtime = self.runtime(self.HANDLER, timeout=1, memory=256)
        first, errored = runtime.invoke("{}")
        self.assertFalse(errored, first)
        self.assertEqual(json.loads(first)["memory"], "256")
        started = time.time()
        result, errored = runtime.invoke('{"sleep": 30}')
        self.assertTrue(errored)
        self.assertEqual(json.loads(result)["errorType"], "Sandbox.Timedout")
        self.assertLess(time.time() - started, 5)
        after, errored = runtime.invoke("{}")
        self.assertFalse(errored)
        self.assertNotEqual(json.loads(after)["pid"], json.loads(first)["pid"], "a cold start")

    def test_work_left_running_after_the_answer_waits_for_the_next_invocation(self):
        runtime = self.runtime(self.HANDLER, timeout=30, memory=256)
        marker = Path(self.dir.name) / "after"
        result, errored = runtime.invoke(json.dumps({"after_answer": str(marker)}))
        self.assertFalse(errored, result)
        time.sleep(1.5)
        self.assertFalse(marker.exists(), "the environment was not frozen after it answered")
        runtime.invoke("{}")
        deadline = time.time() + 5
        while not marker.exists() and time.time() < deadline:
            time.sleep(0.05)
        self.assertTrue(marker.exists(), "thawed by the next invocation, the work went on")

    def test_an_invocation_past_the_memory_size_is_killed(self):
        runtime = self.runtime(self.HANDLER, timeout=30, memory=128)
        result, errored = runtime.invoke('{"allocate_mb": 300}')
        self.assertTrue(errored)
        self.assertEqual(json.loads(result)["errorType"], "Runtime.ExitError")
        ok, errored = runtime.invoke("{}")
        self.assertFalse(errored, ok)


class LambdaLimits(unittest.TestCase):
    """Past the account's concurrency (or a function's reserved concurrency) Lambda throttles at once: a
    synchronous invocation fails with TooManyRequestsException, an asynchronous one is kept and runs later. Invoke's
    payloads are bounded."""

    def setUp(self) -> None:
        from ..faults import FAULTS
        from ..services import lambda_host

        self.limit = FAULTS.lambda_concurrency
        self.addCleanup(setattr, FAULTS, "lambda_concurrency", self.limit)
        # Exactly-once delivery: these tests count invocations (at-least-once has its own, test_faults.py).
        FAULTS.add({"kind": "delivery", "function": None, "duplicate": 0, "late": 0})
        self.addCleanup(FAULTS.delivery.pop, None, None)
        self.host = lambda_host.LambdaHost(lambda *args: None)
        self.host_module = lambda_host
        self.addCleanup(self.host.stop)

    def function(self, name: str, reserved=None):
        from .. import stack

        directory = tempfile.TemporaryDirectory()
        self.addCleanup(directory.cleanup)
        binary = Path(directory.name) / "bootstrap"
        binary.write_text(f"#!{sys.executable}\n" + textwrap.dedent(LambdaHost.HANDLER))
        binary.chmod(0o755)
        spec = stack.Function(logical=name, name=name, arn=f"arn:aws:lambda:us-east-1:1:function:{name}", binary=name, role_arn="", env={}, timeout=30, memory=256, reserved=reserved)
        runtime = self.host_module.FunctionRuntime(spec, binary, {}, "http://127.0.0.1:1", "us-east-1", Path(directory.name), 2)
        self.host.add(runtime)
        runtime.start()
        return runtime

    def hold(self, name: str, seconds: float) -> threading.Thread:
        """A synchronous invocation that holds one of the account's executions for `seconds`."""
        held = threading.Thread(target=self.host.invoke_sync, args=(name, json.dumps({"sleep": seconds})))
        held.start()
        deadline = time.time() + 10
        while self.host.concurrent.get(name, 0) < 1 and time.time() < deadline:
            time.sleep(0.01)
        return held

    def test_a_synchronous_invocation_past_the_accounts_concurrency_is_throttled_at_once(self):
        from ..faults import FAULTS

        FAULTS.lambda_concurrency = 1
        self.function("a")
        self.function("b")
        held = self.hold("a", 2)
        started = time.time()
        with self.assertRaises(self.host_module.Throttled) as refused:
            self.host.invoke_sync("b", "{}")  # another function: the account's limit is shared
        self.assertLess(time.time() - started, 0.5, "throttled at once, not queued")
        self.assertEqual(refused.exception.reason, "ConcurrentInvocationLimitExceeded")
        held.join()
        result, errored = self.host.invoke_sync("b", "{}")
        self.assertFalse(errored, result)
        self.assertEqual(self.host.busy()["throttled"], {"b": 1})

    def test_a_function_runs_no_more_than_its_reserved_concurrency(self):
        self.function("reserved", reserved=1)
        held = self.hold("reserved", 2)
        with self.assertRaises(self.host_module.Throttled) as refused:
            self.host.invoke_sync("reserved", "{}")
        self.assertEqual(refused.exception.reason, "ReservedFunctionConcurrentInvocationLimitExceeded")
        held.join()

    def test_a_throttled_asynchronous_invocation_is_kept_and_runs_once_there_is_room(self):
        from ..faults import FAULTS

        FAULTS.lambda_concurrency = 1
        runtime = self.function("a")
        held = self.hold("a", 1.5)
        self.host.invoke_async("a", "{}", "test")
        held.join()
        deadline = time.time() + 20
        while not self.host.busy()["idle"] and time.time() < deadline:
            time.sleep(0.05)
        self.assertTrue(self.host.busy()["idle"])
        self.assertGreaterEqual(self.host.throttled.get("a", 0), 1, "it was throttled while the other ran")
        self.assertEqual(runtime.invocations, 2, "and then ran, once")
        self.assertEqual(self.host.undelivered, [], "a throttle is not one of the event's attempts")

    def test_requests_and_responses_past_invokes_payload_limits_are_refused(self):
        lambda_host = self.host_module
        runtime = self.function("a")
        with self.assertRaises(lambda_host.TooLarge):
            self.host.invoke_sync("a", json.dumps({"pad": "x" * lambda_host.MAX_SYNC_PAYLOAD}))
        with self.assertRaises(lambda_host.TooLarge):
            self.host.invoke_async("a", json.dumps({"pad": "x" * lambda_host.MAX_ASYNC_PAYLOAD}), "test")
        self.assertEqual(runtime.invocations, 0, "nothing reached the function")
        result, errored = self.host.invoke_sync("a", json.dumps({"respond_mb": 7}))
        self.assertTrue(errored)
        self.assertEqual(json.loads(result)["errorType"], "Function.ResponseSizeTooLarge")
        result, errored = self.host.invoke_sync("a", json.dumps({"pad": "x" * (lambda_host.MAX_ASYNC_PAYLOAD * 2)}))
        self.assertFalse(errored, "2 MB is within a synchronous request's 6 MB")

    def test_a_reservation_that_leaves_the_account_less_than_100_unreserved_is_refused(self):
        self.function("small", reserved=500)
        with self.assertRaisesRegex(ValueError, r"below its minimum value of \[100\]"):
            self.function("large", reserved=401)


if __name__ == "__main__":
    unittest.main()
