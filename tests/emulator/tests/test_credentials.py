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


REQUIRED_HOST_ONLY = {"HttpTokens": "required", "HttpPutResponseHopLimit": 1}
CREDS = "/latest/meta-data/iam/security-credentials/"


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

    def imds(self, instance: str, path: str, token=None, method="GET", ttl=None, bridged=False) -> tuple[int, bytes]:
        request = urllib.request.Request(f"{self.server.imds(instance, bridged)}{path}", method=method)
        if token is not None:
            request.add_header("X-aws-ec2-metadata-token", token)
        if ttl is not None:
            request.add_header("X-aws-ec2-metadata-token-ttl-seconds", str(ttl))
        return self.get(request)

    def test_imds_answers_only_with_a_session_token_of_that_instance(self):
        self.server.grant_instance("i-0abc", "us-east-1", "ecsub-InstanceRole", Principal(), REQUIRED_HOST_ONLY)
        self.server.grant_instance("i-0def", "us-east-1", None, None, REQUIRED_HOST_ONLY)
        creds = CREDS
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

    def bridged_token(self, instance: str) -> str:
        """A session token as a container in bridge mode asks for one; "" when no answer comes back."""
        try:
            code, token = self.imds(instance, "/latest/api/token", method="PUT", ttl=60, bridged=True)
        except (urllib.error.URLError, ConnectionError) as e:  # the connection closed unanswered
            self.assertNotIsInstance(e, urllib.error.HTTPError)
            return ""
        self.assertEqual(code, 200)
        return token.decode()

    def test_a_bridged_container_gets_the_instance_role_unless_the_hop_limit_is_1_and_tokens_required(self):
        # What the ECS-optimized AMI gives an instance launched without MetadataOptions (ImdsSupport v2.0).
        self.server.grant_instance("i-0a2", "us-east-1", "ecsub-InstanceRole", Principal(), {"HttpTokens": "required", "HttpPutResponseHopLimit": 2})
        token = self.bridged_token("i-0a2")
        self.assertTrue(token, "a hop limit of 2 lets the token's answer reach the container")
        self.assertEqual(self.imds("i-0a2", CREDS, token, bridged=True), (200, b"ecsub-InstanceRole"))
        # moto's default, EC2's for an AMI without ImdsSupport: IMDSv1 answers anyone who reaches it.
        self.server.grant_instance("i-0b1", "us-east-1", "ecsub-InstanceRole", Principal(), {"HttpTokens": "optional", "HttpPutResponseHopLimit": 1})
        self.assertEqual(self.bridged_token("i-0b1"), "", "a hop limit of 1 drops the token's answer")
        self.assertEqual(self.imds("i-0b1", CREDS, bridged=True), (200, b"ecsub-InstanceRole"), "but IMDSv1 needs none")
        # What the launcher asks for: nothing reaches the container, and the host is still answered.
        self.server.grant_instance("i-0c1", "us-east-1", "ecsub-InstanceRole", Principal(), REQUIRED_HOST_ONLY)
        self.assertEqual(self.bridged_token("i-0c1"), "")
        self.assertEqual(self.imds("i-0c1", CREDS, bridged=True)[0], 401)
        code, token = self.imds("i-0c1", "/latest/api/token", method="PUT", ttl=60)
        self.assertEqual(self.imds("i-0c1", CREDS, token.decode()), (200, b"ecsub-InstanceRole"))


if __name__ == "__main__":
    unittest.main()
