"""The gateway checks SigV4 signatures as AWS does (front/sigv4.py): the right secret passes, in the header and
presigned forms and from `curl --aws-sigv4` (what an instance's user data signs with); a wrong secret, an altered
presigned URL, an expired one, a stale clock and a missing x-amz-content-sha256 are refused with AWS's error
codes; and so is a signature scoped to another service than the one the request is addressed to, with that
service's error, while every client of the project (and a request of a shape the tables do not know) passes."""

import contextlib
import shutil
import subprocess
import unittest
import urllib.error
import urllib.request

from . import test_cloud


class Signatures(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        cls.cloud = test_cloud.shared_cloud()
        cls.admin = cls.cloud.harness
        s3 = cls.cloud.client("s3", cls.cloud.harness)
        s3.create_bucket(Bucket="signed")
        s3.put_object(Bucket="signed", Key="a b/ü%41+.txt", Body=b"signed bytes")
        cls.key = cls.cloud.principals.add_user(
            "sig-reader", "sig-reader", {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}
        )

    def s3(self, secret=None):
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=self.cloud.moto_url,
            region_name="us-east-1",
            aws_access_key_id=self.key.access_key_id,
            aws_secret_access_key=secret or self.key.secret_access_key,
            config=Config(signature_version="s3v4"),  # S3 refuses SigV2 on buckets made since June 2020
        )

    def error(self, call):
        from botocore.exceptions import ClientError

        with self.assertRaises(ClientError) as raised:
            call()
        return raised.exception.response["Error"]

    def fetch(self, url, headers=None):
        try:
            with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {})) as answer:
                return answer.status, answer.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def test_the_right_secret_passes_and_a_wrong_one_is_refused(self):
        self.assertEqual(self.s3().get_object(Bucket="signed", Key="a b/ü%41+.txt")["Body"].read(), b"signed bytes")
        self.assertEqual(self.error(lambda: self.s3("wrong").get_object(Bucket="signed", Key="a b/ü%41+.txt"))["Code"], "SignatureDoesNotMatch")
        ecs = self.cloud.client("ecs", self.admin)
        ecs.list_clusters()  # a JSON service, its path "/"
        import boto3

        bad = boto3.client(
            "ecs", endpoint_url=self.cloud.moto_url, region_name="us-east-1", aws_access_key_id=self.admin.access_key_id, aws_secret_access_key="wrong"
        )
        self.assertEqual(self.error(bad.list_clusters)["Code"], "InvalidSignatureException")

    def test_a_presigned_url_passes_until_altered_or_expired(self):
        url = self.s3().generate_presigned_url("get_object", Params={"Bucket": "signed", "Key": "a b/ü%41+.txt"}, ExpiresIn=60)
        self.assertEqual(self.fetch(url), (200, b"signed bytes"))
        status, body = self.fetch(url.replace("X-Amz-Expires=60", "X-Amz-Expires=61"))
        self.assertEqual(status, 403)
        self.assertIn(b"SignatureDoesNotMatch", body)
        expired = self.s3().generate_presigned_url("get_object", Params={"Bucket": "signed", "Key": "a b/ü%41+.txt"}, ExpiresIn=1)
        import time

        time.sleep(2.1)
        status, body = self.fetch(expired)
        self.assertEqual(status, 403)
        self.assertIn(b"Request has expired", body)

    def test_a_stale_clock_a_missing_payload_hash_unsigned_headers_and_another_region_are_refused(self):
        from ..front import sigv4

        environ = {"HTTP_AUTHORIZATION": "AWS4-HMAC-SHA256 Credential=K/20200101/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-date, Signature=" + "0" * 64, "HTTP_X_AMZ_DATE": "20200101T000000Z"}
        signed = sigv4.read(environ, [])
        with self.assertRaises(sigv4.Refused) as raised:
            sigv4.check(environ, [], b"", signed, "secret", "us-east-1")
        self.assertEqual(raised.exception.code, "RequestTimeTooSkewed")
        with self.assertRaises(sigv4.Refused) as raised:
            sigv4.check(environ, [], b"", signed, "secret", "us-east-1", now=1577836800)
        self.assertEqual(raised.exception.code, "InvalidRequest")
        environ["HTTP_X_AMZ_CONTENT_SHA256"] = sigv4.EMPTY_SHA256
        environ["HTTP_X_AMZ_META_NOTE"] = "unsigned"
        with self.assertRaises(sigv4.Refused) as raised:
            sigv4.check(environ, [], b"", signed, "secret", "us-east-1", now=1577836800)
        self.assertEqual(raised.exception.code, "AccessDenied")
        self.assertTrue(raised.exception.message.endswith("not signed: x-amz-content-sha256, x-amz-meta-note"), raised.exception.message)
        with self.assertRaises(sigv4.Refused) as raised:
            sigv4.check(environ, [], b"", signed, "secret", "eu-west-1", now=1577836800)
        self.assertEqual(raised.exception.code, "AuthorizationHeaderMalformed")

    @unittest.skipUnless(shutil.which("curl"), "curl is not installed")
    def test_curl_aws_sigv4_reads_an_object_as_user_data_does(self):
        url = f"{self.cloud.moto_url}/signed/a%20b/%C3%BC%2541%2B.txt"

        def curl(secret):
            return subprocess.run(
                [
                    "curl", "-sS", "--fail-with-body", "--aws-sigv4", "aws:amz:us-east-1:s3",
                    "--user", f"{self.key.access_key_id}:{secret}",
                    "-H", f"x-amz-content-sha256: {'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'}",
                    url,
                ],
                capture_output=True,
                timeout=30,
            )

        good = curl(self.key.secret_access_key)
        self.assertEqual((good.returncode, good.stdout), (0, b"signed bytes"), good.stderr)
        bad = curl("wrong")
        self.assertNotEqual(bad.returncode, 0)
        self.assertIn(b"SignatureDoesNotMatch", bad.stdout)


#: Every botocore client the project, its tests and the emulator make (sandbox.client, stack.py, moto's Step
#: Functions tasks), with one call each; the Rust SDK's crates sign the same shapes (sigv4.TARGETS).
CLIENTS = {
    "ec2": ("describe_instances", {}),
    "ecs": ("list_clusters", {}),
    "stepfunctions": ("list_state_machines", {}),
    "logs": ("describe_log_groups", {}),
    "ssm": ("get_parameter", {"Name": "/a"}),
    "events": ("list_rules", {}),
    "pricing": ("get_products", {"ServiceCode": "AmazonEC2"}),
    "secretsmanager": ("list_secrets", {}),
    "kms": ("list_keys", {}),
    "sqs": ("list_queues", {}),
    "sns": ("list_topics", {}),
    "sts": ("get_caller_identity", {}),
    "iam": ("list_roles", {}),
    "cloudformation": ("list_stacks", {}),
    "cloudwatch": ("describe_alarms", {}),
    "lambda": ("invoke", {"FunctionName": "f"}),
    "s3": ("get_object", {"Bucket": "b", "Key": "k"}),
}


def _environ(request) -> dict:
    """The WSGI environ of a prepared botocore request, as the gateway receives it."""
    from urllib.parse import unquote, urlsplit

    url = urlsplit(request.url)
    environ = {
        "REQUEST_METHOD": request.method,
        "PATH_INFO": unquote(url.path or "/"),
        "RAW_URI": (url.path or "/") + (f"?{url.query}" if url.query else ""),
        "QUERY_STRING": url.query,
        "HTTP_HOST": url.netloc,
    }
    for name, value in request.headers.items():
        value = value.decode() if isinstance(value, bytes) else value
        key = name.upper().replace("-", "_")
        environ[key if key in ("CONTENT_TYPE", "CONTENT_LENGTH") else "HTTP_" + key] = value
    return environ


def _body(request) -> bytes:
    body = request.body or b""
    return body.encode() if isinstance(body, str) else body


class Addressing(unittest.TestCase):
    """Which service a request is addressed to, read from its shape (sigv4.addressed_to), with no cloud."""

    def captured(self, service, operation, params):
        """The request a botocore client of `service` sends for `operation`, signed, and not sent."""
        import boto3
        from botocore.awsrequest import AWSResponse

        client = boto3.client(service, region_name="us-east-1", endpoint_url="http://127.0.0.1:1", aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="secret")
        sent = []

        def capture(request, **_):
            sent.append(request)
            return AWSResponse(request.url, 200, {}, None)

        client.meta.events.register_first("before-send", capture)
        with contextlib.suppress(Exception):  # the empty answer may not parse; the request is what is read
            getattr(client, operation)(**params)
        return client, sent[0]

    def test_every_client_is_addressed_to_the_service_it_signs_for(self):
        from ..front import sigv4

        for service, (operation, params) in CLIENTS.items():
            with self.subTest(service=service):
                client, request = self.captured(service, operation, params)
                signing_name = client.meta.service_model.signing_name
                environ = _environ(request)
                signed = sigv4.read(environ, sigv4.parse_query(environ["QUERY_STRING"]))
                self.assertEqual(signed.scope[2], signing_name)
                addressed = sigv4.addressed_to(environ, sigv4.parse_query(environ["QUERY_STRING"]), _body(request))
                self.assertTrue(addressed, f"{service}: its shape names no service")
                self.assertEqual(addressed[0].service, signing_name)
                sigv4.check_service(signed, addressed)  # passes
        # The IAM prefix is not the signing name everywhere: CloudWatch signs as "monitoring", Step Functions as
        # "states", EventBridge as "events".
        self.assertEqual(sigv4.TARGETS["GraniteServiceVersion20100801"], "monitoring")
        self.assertEqual(sigv4.TARGETS["AWSStepFunctions"], "states")

    def test_the_tables_say_what_botocore_models_say(self):
        import botocore.session

        from ..front import sigv4

        session = botocore.session.get_session()
        models = {}
        for name in session.get_available_services():
            metadata = session.get_service_model(name).metadata
            models[name] = (metadata.get("targetPrefix"), metadata["apiVersion"], metadata.get("signingName", metadata["endpointPrefix"]))
        # Each prefix and each version is its service's alone: no other service signs under another name with it.
        for prefix, signing_name in sigv4.TARGETS.items():
            with self.subTest(prefix=prefix):
                self.assertEqual({sign for target, _, sign in models.values() if target == prefix}, {signing_name})
        for version, signing_name in sigv4.VERSIONS.items():
            with self.subTest(version=version):
                self.assertEqual({sign for _, api, sign in models.values() if api == version}, {signing_name})

    def test_a_shape_the_tables_do_not_know_names_no_service(self):
        from ..front import sigv4

        _, request = self.captured("dynamodb", "list_tables", {})
        self.assertEqual(sigv4.addressed_to(_environ(request), [], _body(request)), ())
        _, request = self.captured("autoscaling", "describe_auto_scaling_groups", {})
        self.assertEqual(sigv4.addressed_to(_environ(request), [], _body(request)), ())
        # A path that is both a Lambda route and an S3 one (a bucket named "2015-03-31") is either.
        environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/2015-03-31/functions/x", "QUERY_STRING": ""}
        self.assertEqual([a.service for a in sigv4.addressed_to(environ, [], b"")], ["lambda", "s3"])


class ScopedService(unittest.TestCase):
    """A request signed (by botocore's own signer) for another service than the one its shape is addressed to is
    refused with the addressed service's error; the same request signed for its own service passes."""

    @classmethod
    def setUpClass(cls) -> None:
        cls.cloud = test_cloud.shared_cloud()
        cls.admin = cls.cloud.harness
        cls.cloud.client("s3", cls.admin).create_bucket(Bucket="scoped")
        cls.cloud.client("s3", cls.admin).put_object(Bucket="scoped", Key="k", Body=b"scoped bytes")

    def send(self, scope, method, path, headers=None, body=b"", presign=False):
        """(status, headers, body) of the request, signed for the scope's service `scope`."""
        from botocore.auth import S3SigV4Auth, S3SigV4QueryAuth, SigV4Auth
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import Credentials
        from botocore.httpsession import URLLib3Session

        credentials = Credentials(self.admin.access_key_id, self.admin.secret_access_key, self.admin.session_token)
        request = AWSRequest(method=method, url=f"{self.cloud.moto_url}{path}", headers=dict(headers or {}), data=body)
        if presign:
            S3SigV4QueryAuth(credentials, scope, "us-east-1", expires=60).add_auth(request)
        elif path.startswith("/scoped") or path == "/":
            S3SigV4Auth(credentials, scope, "us-east-1").add_auth(request)
        else:
            SigV4Auth(credentials, scope, "us-east-1").add_auth(request)
        answer = URLLib3Session().send(request.prepare())
        return answer.status_code, answer.headers, answer.content

    def json_call(self, scope, target, body=b"{}"):
        return self.send(scope, "POST", "/", {"X-Amz-Target": target, "Content-Type": "application/x-amz-json-1.1"}, body)

    def query_call(self, scope, body):
        return self.send(scope, "POST", "/", {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}, body.encode())

    def code(self, body):
        import json
        import re

        if body.startswith(b"{"):
            return json.loads(body)["__type"], json.loads(body)["message"]
        m = re.search(rb"<Code>(.*?)</Code><Message>(.*?)</Message>", body)
        return m.group(1).decode(), m.group(2).decode().replace("&quot;", '"')

    def test_each_protocol_signed_for_its_own_service_passes(self):
        self.assertEqual(self.json_call("ecs", "AmazonEC2ContainerServiceV20141113.ListClusters")[0], 200)
        self.assertEqual(self.json_call("states", "AWSStepFunctions.ListStateMachines")[0], 200)
        self.assertEqual(self.query_call("ec2", "Action=DescribeInstances&Version=2016-11-15")[0], 200)
        self.assertEqual(self.query_call("iam", "Action=ListRoles&Version=2010-05-08")[0], 200)
        self.assertEqual(self.send("s3", "GET", "/scoped/k")[:3:2], (200, b"scoped bytes"))
        self.assertEqual(self.send("s3", "GET", "/scoped/k", presign=True)[:3:2], (200, b"scoped bytes"))
        self.assertEqual(self.send("lambda", "GET", "/2015-03-31/functions")[0], 200)
        # And the SDK's clients of every protocol, CloudWatch's "monitoring" among them.
        calls = {
            "ecs": "list_clusters",
            "ec2": "describe_instances",
            "sts": "get_caller_identity",
            "s3": "list_buckets",
            "lambda": "list_functions",
            "cloudwatch": "describe_alarms",
            "events": "list_rules",
        }
        for service, call in calls.items():
            with self.subTest(service=service):
                self.assertEqual(getattr(self.cloud.client(service, self.admin), call)()["ResponseMetadata"]["HTTPStatusCode"], 200)

    def test_a_json_call_signed_for_another_service_is_refused(self):
        status, headers, body = self.json_call("states", "AmazonEC2ContainerServiceV20141113.ListClusters")
        self.assertEqual((status, headers.get("x-amzn-ErrorType")), (400, "InvalidSignatureException"), body)
        self.assertEqual(self.code(body), ("InvalidSignatureException", "Credential should be scoped to correct service: 'ecs'. "))
        status, _, body = self.json_call("ecs", "AWSStepFunctions.ListStateMachines")
        self.assertEqual((status, self.code(body)[1]), (400, "Credential should be scoped to correct service: 'states'. "))
        # CloudWatch's signing name is "monitoring", not its IAM prefix.
        status, _, body = self.send("cloudwatch", "POST", "/", {"X-Amz-Target": "GraniteServiceVersion20100801.DescribeAlarms", "Content-Type": "application/x-amz-json-1.0"}, b"{}")
        self.assertEqual((status, self.code(body)[1]), (400, "Credential should be scoped to correct service: 'monitoring'. "))

    def test_a_query_call_signed_for_another_service_is_refused(self):
        status, _, body = self.query_call("ecs", "Action=DescribeInstances&Version=2016-11-15")
        self.assertEqual(status, 401, body)
        self.assertIn(b"<Response><Errors><Error>", body)
        self.assertEqual(self.code(body), ("AuthFailure", "Credential should be scoped to correct service: 'ec2'. "))
        status, _, body = self.query_call("sts", "Action=ListRoles&Version=2010-05-08")
        self.assertEqual((status, self.code(body)), (403, ("SignatureDoesNotMatch", "Credential should be scoped to correct service: 'iam'. ")))

    def test_an_s3_call_signed_for_another_service_is_refused(self):
        for scope in ("s3x", "ecs"):
            with self.subTest(scope=scope):
                status, _, body = self.send(scope, "GET", "/scoped/k")
                self.assertEqual(status, 400, body)
                message = f'The authorization header is malformed; incorrect service "{scope}". This endpoint belongs to "s3".'
                self.assertEqual(self.code(body), ("AuthorizationHeaderMalformed", message))
        status, _, body = self.send("s3x", "GET", "/scoped/k", presign=True)
        self.assertEqual(status, 400, body)
        self.assertEqual(self.code(body)[0], "AuthorizationQueryParametersError")
        # Lambda's REST API, signed for ECS.
        status, _, body = self.send("ecs", "GET", "/2015-03-31/functions")
        self.assertEqual((status, self.code(body)), (403, ("InvalidSignatureException", "Credential should be scoped to correct service: 'lambda'. ")))

    def test_a_request_of_a_shape_the_tables_do_not_know_is_not_refused(self):
        # DynamoDB and Auto Scaling are in neither table: their scope is not checked, and moto answers.
        self.assertEqual(self.send("dynamodb", "POST", "/", {"X-Amz-Target": "DynamoDB_20120810.ListTables", "Content-Type": "application/x-amz-json-1.0"}, b"{}")[0], 200)
        self.assertEqual(self.query_call("autoscaling", "Action=DescribeAutoScalingGroups&Version=2011-01-01")[0], 200)


if __name__ == "__main__":
    unittest.main()
