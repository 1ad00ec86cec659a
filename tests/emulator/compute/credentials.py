"""The ECS agent's task-credentials endpoint (AWS_CONTAINER_CREDENTIALS_FULL_URI) and each instance's metadata
service (IMDSv2), in a process of its own.

The real agent answers from memory in a Go server, in milliseconds whatever the instance runs. The AWS CLI (botocore's
ContainerMetadataFetcher) gives up on it after 3 tries of 2 s each, and then a task's setup fails with "Unable to
locate credentials". Served from a thread of the sandbox's process, which also runs the emulated cloud, the agent and
the gateway under one GIL, the endpoint answered late when a hundred containers started at once, and a few of them
failed their setup: a failure of the emulator, not of ecsub. Here a child process serves the credentials the agent
writes, one small file per task, and does nothing else.

The instance metadata service answers what an instance's user data asks (EC2 user guide, "Use the Instance Metadata
Service to access instance metadata", IMDSv2): a session token from `PUT /latest/api/token` (the TTL header is
required: 400 without it, 1 to 21 600 s), then `GET /latest/meta-data/...` with the token in
X-aws-ec2-metadata-token (401 without a valid one, as on an instance launched with HttpTokens=required):
placement/region, instance-id, iam/security-credentials/ (the role's name; 404 when the instance has no profile) and
iam/security-credentials/ROLE (the role's credentials). Each instance is served under its own prefix
(`/imds/INSTANCE-ID`), the URL its user data gets as AWS_EC2_METADATA_SERVICE_ENDPOINT: there is no link-local
169.254.169.254 per instance here.

The instance's own metadata options decide who is answered (EC2 User Guide, "Configure the Instance Metadata Service
options"). A container in bridge mode reaches 169.254.169.254 one network hop behind the host; here it is given
`/imds/INSTANCE-ID/bridge` instead. HttpTokens `optional` answers tokenless (IMDSv1) reads, `required` refuses them
with 401. HttpPutResponseHopLimit is the IP TTL of the token's answer: a request from N hops away gets it only when
the limit is at least N + 1 ("the PUT response hop limit … in a container environment, we recommend setting the hop
limit to 2"), otherwise the answer dies on the way and the client waits for its own timeout. Here the connection is
closed unanswered, which the client sees as the same failure, sooner.

The child exits when its standard input closes (the sandbox ended, however it ended).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Optional

from .. import REPO
from ..faults import FAULTS

TOKEN = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
IMDS = re.compile(r"^/imds/(i-[0-9a-f]{1,32})(/bridge)?(/.*)$")
MAX_IMDS_TTL = 21600


class _Listener(ThreadingHTTPServer):
    # http.server listens with a backlog of 5: a hundred containers starting at once had their fetches dropped.
    request_queue_size = 1024
    daemon_threads = True


def serve(folder: Path) -> None:
    sessions: dict[str, tuple[str, float]] = {}  # IMDSv2 token -> (instance, expiry)
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def answer(self, code: int, body: bytes, kind: str = "application/json") -> None:
            self.send_response(code)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def facts(self, instance: str) -> Optional[dict]:
            try:
                return json.loads((folder / f"imds-{instance}.json").read_text())
            except FileNotFoundError:
                return None

        def do_PUT(self) -> None:
            m = IMDS.match(self.path)
            if not m or m.group(3) != "/latest/api/token":
                return self.answer(404, b"Not Found", "text/plain")
            hops = 1 if m.group(2) else 0
            facts = self.facts(m.group(1)) or {}
            if hops >= int(facts.get("hop_limit", 1)):
                # The answer's TTL runs out before it reaches the caller: nothing comes back.
                self.close_connection = True
                return
            try:
                ttl = int(self.headers.get("X-aws-ec2-metadata-token-ttl-seconds", ""))
            except ValueError:
                ttl = 0
            if not 1 <= ttl <= MAX_IMDS_TTL:
                return self.answer(400, b"Bad Request", "text/plain")
            token = secrets.token_urlsafe(32)
            with lock:
                sessions[token] = (m.group(1), time.time() + ttl)
            self.answer(200, token.encode(), "text/plain")

        def do_GET(self) -> None:
            m = IMDS.match(self.path)
            if m:
                return self.metadata(m.group(1), m.group(3))
            token = self.path.rsplit("/", 1)[-1]
            body, code = b'{"code":"NotFound","message":"no credentials"}', 404
            if self.path.startswith("/v2/credentials/") and TOKEN.match(token):
                try:
                    body, code = (folder / f"{token}.json").read_bytes(), 200
                except FileNotFoundError:
                    pass
            self.answer(code, body)

        def metadata(self, instance: str, path: str) -> None:
            facts = self.facts(instance)
            given = self.headers.get("X-aws-ec2-metadata-token")
            with lock:
                session = sessions.get(given or "")
            tokenless = given is None and facts is not None and facts.get("tokens") == "optional"
            if not tokenless and (session is None or session[0] != instance or session[1] < time.time()):
                return self.answer(401, b"Unauthorized", "text/plain")
            if facts is None:
                return self.answer(404, b"Not Found", "text/plain")
            role = facts.get("role")
            answers = {
                "/latest/meta-data/instance-id": instance,
                "/latest/meta-data/placement/region": facts["region"],
            }
            if role and time.time() >= facts.get("credentials_from", 0):
                answers["/latest/meta-data/iam/security-credentials/"] = role
                answers[f"/latest/meta-data/iam/security-credentials/{role}"] = json.dumps(facts["credentials"], indent=2)
            if path not in answers:
                return self.answer(404, b"Not Found", "text/plain")
            self.answer(200, answers[path].encode(), "text/plain")

    http = _Listener(("127.0.0.1", 0), Handler)
    print(http.server_address[1], flush=True)

    def watch_parent() -> None:
        sys.stdin.buffer.read()
        os._exit(0)

    threading.Thread(target=watch_parent, daemon=True).start()
    http.serve_forever()


class CredentialsServer:
    """A task's role credentials, at the URI put in its environment; `grant` makes them answerable."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [sys.executable, "-m", __name__, str(folder)],
            cwd=REPO,  # where the package is found
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline().strip()
        if not line.isdigit():
            raise RuntimeError(f"the credentials endpoint did not start (it printed {line!r})")
        self.port = int(line)

    def grant(self, token: str, principal) -> None:
        if not TOKEN.match(token):
            raise ValueError(f"not a credentials token: {token!r}")
        body = json.dumps(
            {
                "AccessKeyId": principal.access_key_id,
                "SecretAccessKey": principal.secret_access_key,
                "Token": principal.session_token,
                "Expiration": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 6 * 3600)),
                "RoleArn": principal.arn,
            }
        ).encode()
        part = self.folder / f".{token}.part"
        part.write_bytes(body)
        part.rename(self.folder / f"{token}.json")  # never half a file

    def grant_instance(self, instance_id: str, region: str, role: Optional[str], principal, options: dict) -> None:
        """What the instance's metadata service answers: its region and, with a role, the role's credentials; to
        whom, as its metadata options (DescribeInstances' MetadataOptions) say."""
        facts: dict = {
            "region": region,
            "role": role,
            "tokens": options.get("HttpTokens", "required"),
            "hop_limit": int(options.get("HttpPutResponseHopLimit", 1)),
        }
        late = FAULTS.take_listed("profile_late") if role and principal is not None else None
        if late:
            facts["credentials_from"] = time.time() + late
        if role and principal is not None:
            facts["credentials"] = {
                "Code": "Success",
                "LastUpdated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "Type": "AWS-HMAC",
                "AccessKeyId": principal.access_key_id,
                "SecretAccessKey": principal.secret_access_key,
                "Token": principal.session_token,
                "Expiration": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 6 * 3600)),
            }
        part = self.folder / f".imds-{instance_id}.part"
        part.write_text(json.dumps(facts))
        part.rename(self.folder / f"imds-{instance_id}.json")

    def imds(self, instance_id: str, bridged: bool = False) -> str:
        """The instance's metadata service as the host reaches it, or as a container in bridge mode does."""
        return f"http://127.0.0.1:{self.port}/imds/{instance_id}{'/bridge' if bridged else ''}"

    def uri(self, token: str) -> str:
        return f"http://127.0.0.1:{self.port}/v2/credentials/{token}"


if __name__ == "__main__":
    serve(Path(sys.argv[1]))
