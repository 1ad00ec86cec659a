"""The sandbox's control endpoint: what a test may ask of the emulated cloud besides AWS's own APIs (read its
records, make time pass for a schedule, inject a fault). JSON in, JSON out; an error is answered as JSON too.

GET  /info /calls /stopped /running /invocations /busy /faults /instances /undelivered /denials
     /lambda-rss                      each function's peak resident set (kB), sampled every 0.1 s
     /map-runs                        each Distributed Map run's children: counts, events, transitions
                                      (services/map_run.py)
POST /fault {kind, ...}               (faults.py)
POST /fire-schedule {rule[, stack]}   a schedule rule's time came (logical id, e.g. JanitorFunctionSweep)
POST /redeliver-schedule {rule[, stack]}
POST /redeliver-stopped {task_arn}    the same ECS STOPPED event once more
POST /redeliver-s3 {bucket, key}      S3's last event for that object once more, with a new event id
POST /interrupt {task_arn}            EC2 reclaims the spot instance under the task
POST /no-capacity {instance_types}    (kept: a fault)
POST /ec2-bucket {kind, api, capacity, refill}   resize one of EC2's throttling buckets (front/throttle.py)
POST /bucket {service, bucket, capacity, refill}  resize any service's throttling bucket (its name in front/throttle.py)
POST /quota {code, value}             set one of the account's EC2 vCPU quotas (services/quotas.py)
POST /ecr-repository {account, name[, policy]}   a repository in another account's ECR, with its repository policy
"""

from __future__ import annotations

import json
import logging
import threading
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from .faults import FAULTS
from .front.throttle import THROTTLE
from .services import quotas
from .services.map_run import RUNS

LOG = logging.getLogger("ecsub.sandbox.control")


def serve(sandbox) -> str:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def _json(self, code: int, value: Any) -> None:
            body = json.dumps(value, default=str).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            try:
                answers = {
                    "/info": lambda: {**sandbox.info, "agent_errors": sandbox.agent.errors},
                    "/calls": sandbox.gateway.meter.snapshot,
                    "/stopped": lambda: sandbox.stopped_at,
                    "/stopped-events": lambda: sandbox.agent.stopped_events,
                    "/running": sandbox.agent.running_tasks,
                    "/invocations": lambda: {n: r.invocations for n, r in sandbox.lambdas.functions.items()},
                    "/lambda-rss": lambda: {n: r.peak_rss_kb for n, r in sandbox.lambdas.functions.items()},
                    "/busy": lambda: sandbox.lambdas.busy(sandbox.agent.stopping()),
                    "/faults": FAULTS.state,
                    "/throttle": THROTTLE.state,
                    "/instances": sandbox.agent.instance_states,
                    "/undelivered": lambda: sandbox.lambdas.undelivered,
                    "/denials": lambda: sandbox.gateway.denials,
                    "/map-runs": RUNS.snapshot,
                }
                if self.path in answers:
                    return self._json(200, answers[self.path]())
            except Exception as e:  # noqa: BLE001 - the caller gets the error
                LOG.error("control %s: %s", self.path, traceback.format_exc())
                return self._json(500, {"error": f"{type(e).__name__}: {e}"})
            return self._json(404, {"error": self.path})

        def do_POST(self) -> None:
            try:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                if self.path == "/fault":
                    return self._json(200, FAULTS.add(body))
                if self.path == "/no-capacity":
                    return self._json(200, FAULTS.add({"kind": "no-capacity", **body}))
                if self.path == "/ec2-bucket":
                    return self._json(
                        200, THROTTLE.resize_ec2(body["kind"], body["api"], body["capacity"], body["refill"])
                    )
                if self.path == "/bucket":
                    return self._json(
                        200, THROTTLE.resize(body["service"], body["bucket"], body["capacity"], body["refill"])
                    )
                if self.path == "/ecr-repository":
                    return self._json(200, sandbox.foreign_repository(body["account"], body["name"], body.get("policy")))
                if self.path == "/quota":
                    return self._json(200, quotas.set_quota(body["code"], body["value"]))
                if self.path == "/fire-schedule":
                    sandbox.fire_schedule(body["rule"], body.get("stack"))
                    return self._json(200, {"fired": body["rule"]})
                if self.path == "/redeliver-schedule":
                    sandbox.redeliver_schedule(body["rule"], body.get("stack"))
                    return self._json(200, {"redelivered": body["rule"]})
                if self.path == "/interrupt":
                    ok = sandbox.agent.interrupt(body["task_arn"])
                    return self._json(200 if ok else 404, {"interrupted": ok})
                if self.path == "/redeliver-stopped":
                    ok = sandbox.agent.redeliver(body["task_arn"])
                    return self._json(200 if ok else 404, {"redelivered": ok})
                if self.path == "/redeliver-s3":
                    ok = sandbox.redeliver_s3(body["bucket"], body["key"])
                    return self._json(200 if ok else 404, {"redelivered": ok})
            except Exception as e:  # noqa: BLE001 - the caller gets the error
                LOG.error("control %s: %s", self.path, traceback.format_exc())
                return self._json(500, {"error": f"{type(e).__name__}: {e}"})
            return self._json(404, {"error": self.path})

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="control", daemon=True).start()
    host, port = server.server_address[:2]
    return f"http://{host}:{port}"
