"""The ECS agent's task-credentials endpoint (AWS_CONTAINER_CREDENTIALS_FULL_URI), in a process of its own.

The real agent answers from memory in a Go server, in milliseconds whatever the instance runs. The AWS CLI (botocore's
ContainerMetadataFetcher) gives up on it after 3 tries of 2 s each, and then a task's setup fails with "Unable to
locate credentials". Served from a thread of the sandbox's process, which also runs the emulated cloud, the agent and
the gateway under one GIL, the endpoint answered late when a hundred containers started at once, and a few of them
failed their setup: a failure of the emulator, not of ecsub. Here a child process serves the credentials the agent
writes, one small file per task, and does nothing else.

The child exits when its standard input closes (the sandbox ended, however it ended).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

TOKEN = re.compile(r"^[A-Za-z0-9_-]{1,128}$")


class _Listener(ThreadingHTTPServer):
    # http.server listens with a backlog of 5: a hundred containers starting at once had their fetches dropped.
    request_queue_size = 1024
    daemon_threads = True


def serve(folder: Path) -> None:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def do_GET(self) -> None:
            token = self.path.rsplit("/", 1)[-1]
            body, code = b'{"code":"NotFound","message":"no credentials"}', 404
            if self.path.startswith("/v2/credentials/") and TOKEN.match(token):
                try:
                    body, code = (folder / f"{token}.json").read_bytes(), 200
                except FileNotFoundError:
                    pass
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

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
            [sys.executable, str(Path(__file__).resolve()), str(folder)],
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

    def uri(self, token: str) -> str:
        return f"http://127.0.0.1:{self.port}/v2/credentials/{token}"


if __name__ == "__main__":
    serve(Path(sys.argv[1]))
