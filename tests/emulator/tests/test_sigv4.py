"""The gateway checks SigV4 signatures as AWS does (front/sigv4.py): the right secret passes, in the header and
presigned forms and from `curl --aws-sigv4` (what an instance's user data signs with); a wrong secret, an altered
presigned URL, an expired one, a stale clock and a missing x-amz-content-sha256 are refused with AWS's error
codes."""

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


if __name__ == "__main__":
    unittest.main()
