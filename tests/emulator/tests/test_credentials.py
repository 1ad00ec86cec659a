"""The task-credentials endpoint and the instances' metadata service (IMDSv2): their own process, answering what
the agent granted and nothing else."""

import json
import tempfile
import unittest
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from ..compute.credentials import CredentialsServer


@dataclass
class Principal:
    access_key_id: str = "ASIAEXAMPLE"
    secret_access_key: str = "secret"
    session_token: str = "token"
    arn: str = "arn:aws:sts::123456789012:assumed-role/ecsub-TaskRole/0f1e"


class CredentialsEndpointTest(unittest.TestCase):
    def setUp(self) -> None:
        self.tmp = tempfile.TemporaryDirectory()
        self.server = CredentialsServer(Path(self.tmp.name) / "creds")

    def tearDown(self) -> None:
        assert self.server.process.stdin is not None
        self.server.process.stdin.close()  # the child exits when its parent's pipe closes
        self.assertEqual(self.server.process.wait(10), 0)
        self.tmp.cleanup()

    def get(self, url) -> tuple[int, bytes]:
        """Status and body of a request (a URL or a urllib Request), an HTTP error's too."""
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def test_a_granted_token_gets_its_role_credentials(self):
        self.server.grant("0f1e2d", Principal())
        code, body = self.get(self.server.uri("0f1e2d"))
        self.assertEqual(code, 200)
        answer = json.loads(body)
        self.assertEqual(answer["AccessKeyId"], "ASIAEXAMPLE")
        self.assertEqual(answer["Token"], "token")
        self.assertTrue(answer["RoleArn"].endswith("/0f1e"))

    def test_unknown_and_malformed_tokens_get_nothing(self):
        self.server.grant("0f1e2d", Principal())
        base = f"http://127.0.0.1:{self.server.port}"
        self.assertEqual(self.get(self.server.uri("other"))[0], 404)
        self.assertEqual(self.get(f"{base}/v2/credentials/..%2F0f1e2d")[0], 404)
        self.assertEqual(self.get(f"{base}/v1/credentials/0f1e2d")[0], 404)
        with self.assertRaises(ValueError):
            self.server.grant("../escape", Principal())

    def imds(self, instance: str, path: str, token=None, method="GET", ttl=None) -> tuple[int, bytes]:
        request = urllib.request.Request(f"{self.server.imds(instance)}{path}", method=method)
        if token is not None:
            request.add_header("X-aws-ec2-metadata-token", token)
        if ttl is not None:
            request.add_header("X-aws-ec2-metadata-token-ttl-seconds", str(ttl))
        return self.get(request)

    def test_imds_answers_only_with_a_session_token_of_that_instance(self):
        self.server.grant_instance("i-0abc", "us-east-1", "ecsub-InstanceRole", Principal())
        self.server.grant_instance("i-0def", "us-east-1", None, None)
        creds = "/latest/meta-data/iam/security-credentials/"
        self.assertEqual(self.imds("i-0abc", creds)[0], 401, "IMDSv1 (no token) is refused")
        self.assertEqual(self.imds("i-0abc", "/latest/api/token", method="PUT")[0], 400, "the TTL header is required")
        self.assertEqual(self.imds("i-0abc", "/latest/api/token", method="PUT", ttl=21601)[0], 400)
        code, token = self.imds("i-0abc", "/latest/api/token", method="PUT", ttl=60)
        self.assertEqual(code, 200)
        token = token.decode()
        self.assertEqual(self.imds("i-0abc", creds, token), (200, b"ecsub-InstanceRole"))
        code, body = self.imds("i-0abc", creds + "ecsub-InstanceRole", token)
        self.assertEqual(code, 200)
        answer = json.loads(body)
        self.assertEqual((answer["Code"], answer["AccessKeyId"], answer["Token"]), ("Success", "ASIAEXAMPLE", "token"))
        self.assertEqual(self.imds("i-0abc", "/latest/meta-data/placement/region", token), (200, b"us-east-1"))
        self.assertEqual(self.imds("i-0def", creds, token)[0], 401, "a token is its instance's only")
        code, other = self.imds("i-0def", "/latest/api/token", method="PUT", ttl=60)
        self.assertEqual(self.imds("i-0def", creds, other.decode())[0], 404, "no profile, no role")


if __name__ == "__main__":
    unittest.main()
