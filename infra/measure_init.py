#!/usr/bin/env python3
"""Init time of the Lambda handler binaries: process start -> first GET /runtime/invocation/next.

Serves the Lambda Runtime API on 127.0.0.1 (a free port) and starts each binary RUNS times with the environment
Lambda gives it (AWS_LAMBDA_RUNTIME_API, AWS_LAMBDA_FUNCTION_NAME, _MEMORY_SIZE, _VERSION), the stack's variables
from template.yaml, a region, dummy credentials and AWS_ENDPOINT_URL=http://127.0.0.1:1, so nothing can reach AWS.
The time measured is what the binary does before it asks for its first event: tracing set-up, reading the
configuration and building the SDK clients (functions/lambda/src/config.rs, functions/aws/src/clients.rs). The request is then held open (no event
is ever given), the process is killed, and the next run starts.

Runs are interleaved (one of each function per round) after WARMUP unmeasured rounds, so all functions see the
same machine load and a warm page cache. This is init on this machine, not Lambda's INIT duration (which adds
fetching the code and starting the sandbox, on another CPU).

Usage: infra/measure_init.py [--bin-dir DIR] [--runs 20] [--warmup 1] [--memory 256] [--env NAME=VALUE]... [FUNCTION ...]
  --bin-dir  where the binaries are (default: $CARGO_TARGET_DIR/release, else ~/.cache/ecsub-release-x86/release);
             build them with: cargo build --release --bins -p ecsub-lambda
Python 3.11, standard library only.
"""

from __future__ import annotations

import argparse
import http.server
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time

FUNCTIONS = ["submit", "launcher", "launch", "task-stopped", "finalize", "janitor"]
NEXT = "/2018-06-01/runtime/invocation/next"


class RuntimeApi(http.server.ThreadingHTTPServer):
    """A Runtime API that records when /next was first asked for, and never answers it."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.asked = threading.Event()
        self.asked_at = 0.0
        self.release = threading.Event()
        self.unexpected: list[str] = []

    def arm(self) -> None:
        self.asked.clear()
        self.release.clear()
        self.asked_at = 0.0


class Handler(http.server.BaseHTTPRequestHandler):
    server: RuntimeApi

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        now = time.perf_counter()
        if self.path != NEXT:
            self.server.unexpected.append(f"GET {self.path}")
            self.send_error(404)
            return
        if not self.server.asked.is_set():
            self.server.asked_at = now
            self.server.asked.set()
        # Hold the request open, as Lambda does between events, until the process is gone.
        self.server.release.wait(timeout=30)
        self.close_connection = True

    def do_POST(self) -> None:  # noqa: N802
        # An init error (POST /runtime/init/error) means the binary failed before asking for an event.
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8", "replace")
        self.server.unexpected.append(f"POST {self.path}: {body[:300]}")
        self.send_response(202)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (http.server's signature)
        pass


def environment(function: str, port: int, memory: int, home: str) -> dict[str, str]:
    return {
        "PATH": "/usr/bin:/bin",
        # An empty home: no shared config or credentials file of this machine changes what the SDK does at start
        # (on Lambda there is none either).
        "HOME": home,
        "LANG": "C.UTF-8",
        "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{port}",
        "AWS_LAMBDA_FUNCTION_NAME": f"ecsub-{function}",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory),
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "AKIDMEASUREINIT",
        "AWS_SECRET_ACCESS_KEY": "measure-init",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:1",
        # The stack's variables (template.yaml, Globals and the functions' own).
        "ECSUB_BUCKET": "ecsub-measure-init",
        "ECSUB_STATE_MACHINE_ARN": "arn:aws:states:us-east-1:123456789012:stateMachine:ecsub-measure-init",
        "ECSUB_SUBNET_IDS": "",
        "ECSUB_SECURITY_GROUP_ID": "",
        "ECSUB_INSTANCE_PROFILE": "ecsInstanceRole",
        "ECSUB_TASK_TIMEOUT": "604800",
        "RUST_LOG": "info",
    }


def one_run(api: RuntimeApi, binary: str, function: str, env: dict[str, str], timeout: float) -> float:
    """Milliseconds from just before the process is started to its first /next request."""
    api.arm()
    with tempfile.TemporaryFile() as log:
        start = time.perf_counter()
        process = subprocess.Popen([binary], env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        try:
            while not api.asked.wait(timeout=0.05):
                if process.poll() is not None or time.perf_counter() - start > timeout:
                    process.kill()
                    process.wait()
                    log.seek(0)
                    output = log.read().decode("utf-8", "replace")[-2000:]
                    why = f"exited with {process.returncode}" if process.returncode != -9 else "timed out"
                    raise RuntimeError(
                        f"{function}: {why} before asking for an event; its output:\n{output}"
                        + "".join(f"\n  {u}" for u in api.unexpected)
                    )
            return (api.asked_at - start) * 1000
        finally:
            if process.poll() is None:
                process.kill()
            process.wait()
            api.release.set()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    default_dir = os.path.join(
        os.environ.get("CARGO_TARGET_DIR") or os.path.expanduser("~/.cache/ecsub-release-x86"), "release"
    )
    parser.add_argument("--bin-dir", default=default_dir)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--memory", type=int, default=256, help="AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds a run may take")
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                        help="set (or, with an empty value, unset) a variable for the binaries; repeatable")
    parser.add_argument("functions", nargs="*", default=FUNCTIONS)
    args = parser.parse_args()

    binaries = {f: os.path.join(args.bin_dir, f) for f in args.functions}
    missing = [b for b in binaries.values() if not os.access(b, os.X_OK)]
    if missing:
        print(f"measure_init.py: not built: {', '.join(missing)}", file=sys.stderr)
        return 2

    api = RuntimeApi()
    threading.Thread(target=api.serve_forever, daemon=True).start()
    home = tempfile.TemporaryDirectory(prefix="measure-init-home-")
    envs = {}
    for function in binaries:
        env = environment(function, api.server_address[1], args.memory, home.name)
        for item in args.env:
            name, _, value = item.partition("=")
            if value:
                env[name] = value
            else:
                env.pop(name, None)
        envs[function] = env
    samples: dict[str, list[float]] = {f: [] for f in args.functions}
    try:
        for round_ in range(args.warmup + args.runs):
            for function, binary in binaries.items():
                ms = one_run(api, binary, function, envs[function], args.timeout)
                if round_ >= args.warmup:
                    samples[function].append(ms)
    except RuntimeError as error:
        print(f"measure_init.py: {error}", file=sys.stderr)
        return 1
    finally:
        api.shutdown()
        home.cleanup()
    if api.unexpected:
        print("measure_init.py: unexpected requests: " + "; ".join(api.unexpected), file=sys.stderr)

    print(f"init = process start -> first GET {NEXT}; {args.runs} runs each after {args.warmup} warm-up, "
          f"binaries in {args.bin_dir}" + "".join(f"; {e}" for e in args.env))
    print(f"{'function':<14} {'median ms':>10} {'min ms':>8} {'max ms':>8} {'binary MiB':>11}")
    for function, values in samples.items():
        size = os.path.getsize(binaries[function]) / 2**20
        print(f"{function:<14} {statistics.median(values):>10.1f} {min(values):>8.1f} {max(values):>8.1f} "
              f"{size:>11.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
