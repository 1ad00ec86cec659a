"""The emulated cloud: moto (pinned, patched) in server mode, the stack created from template.yaml and the ASL
files, the real Lambda handler binaries behind a local Lambda Runtime API, and a stand-in for the ECS agent.

    python tests/emulator/sandbox.py --dir DIR [--port PORT] [--bin-dir target/debug]

When it is ready it writes DIR/sandbox.json (endpoint, bucket, state machine, control URL) and serves until it is
sent SIGTERM or SIGINT. Everything it starts (handler processes, task processes) stops with it.

What it plays, and why:
- AWS itself: moto, with the patches in moto_patches.py.
- Lambda: each function of the template runs as its real binary (built by cargo) polling a Runtime API served
  here; moto's Invoke and EventBridge's Lambda targets are handed to it.
- The ECS agent (moto has none), with the awslogs driver (container output → CloudWatch Logs): an instance launched for a cluster (its user data names it) is registered as a
  container instance; a task started on it runs its container command as a local process, with the container
  paths (/scratch, /ecsub) mapped into DIR and AWS_ENDPOINT_URL pointing at moto, so `aws s3 cp` moves real bytes.
  When the process exits, the task is stopped and the "ECS Task State Change" event is put on the default bus
  with the real exit code. An instance terminated under a running task kills the process and reports it the way
  ECS does ("Host EC2 (instance …) terminated.").
- Metering: every request to moto is logged with the access key that signed it; each component has its own key.
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import os
import queue
import signal
import subprocess
import sys
import threading
import time
import traceback
import uuid
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Optional

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
REGION = "us-east-1"
ACCOUNT = "123456789012"
BUCKET = "ecsub-jobs"
STATE_MACHINE = "ecsub-jobs"

LOG = logging.getLogger("ecsub.sandbox")


# ---------------------------------------------------------------------------------------------------------------
# Metering: one record per request to moto, with the access key that signed it.


class Meter:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.calls: list[dict[str, Any]] = []

    def wrap(self, app):
        def metered(environ, start_response):
            record = describe_request(environ)
            status_holder: dict[str, str] = {}

            def start(status, headers, exc_info=None):
                status_holder["status"] = status
                return start_response(status, headers, exc_info)

            body = app(environ, start)
            if record is not None:
                record["status"] = int(status_holder.get("status", "0 ").split(" ")[0] or 0)
                with self.lock:
                    self.calls.append(record)
            return body

        return metered


def describe_request(environ) -> Optional[dict[str, Any]]:
    path = environ.get("PATH_INFO", "")
    if path.startswith("/moto-api"):
        return None
    auth = environ.get("HTTP_AUTHORIZATION", "")
    key, service = "", ""
    if "Credential=" in auth:
        scope = auth.split("Credential=", 1)[1].split(",", 1)[0].split("/")
        key = scope[0]
        service = scope[3] if len(scope) > 3 else ""
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    operation = target.split(".")[-1] if target else ""
    method = environ.get("REQUEST_METHOD", "")
    if not operation and environ.get("QUERY_STRING", "").find("Action=") >= 0:
        for part in environ["QUERY_STRING"].split("&"):
            if part.startswith("Action="):
                operation = part[7:]
    if not operation and method == "POST" and service in ("ec2", "iam", "sts", "ssm"):
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
            raw = environ["wsgi.input"].read(length)
            environ["wsgi.input"] = io.BytesIO(raw)
            for part in raw.decode("utf-8", "replace").split("&"):
                if part.startswith("Action="):
                    operation = part[7:]
        except Exception:  # noqa: BLE001 - metering must never break a request
            pass
    if not operation:
        operation = f"{method} {path}"
    if service == "lambda" and "/invocations" in path:
        operation = "Invoke"
    return {
        "time": time.time(),
        "service": service,
        "operation": operation,
        "method": method,
        "path": path,
        "key": key,
        "if_none_match": environ.get("HTTP_IF_NONE_MATCH"),
    }


# ---------------------------------------------------------------------------------------------------------------
# Lambda: the real handler binaries behind a local Runtime API.


class Invocation:
    def __init__(self, payload: str) -> None:
        self.id = str(uuid.uuid4())
        self.payload = payload
        self.done = threading.Event()
        self.result = ""
        self.errored = False


class FunctionRuntime:
    """One Lambda function: a Runtime API endpoint and a small pool of handler processes."""

    def __init__(self, name: str, binary: Path, env: dict[str, str], workdir: Path, moto_url: str, processes: int):
        self.name = name
        self.binary = binary
        self.env = env
        self.workdir = workdir
        self.moto_url = moto_url
        self.processes = processes
        self.queue: "queue.Queue[Invocation]" = queue.Queue()
        self.pending: dict[str, Invocation] = {}
        self.lock = threading.Lock()
        self.children: list[subprocess.Popen] = []
        self.stopping = False
        self.invocations = 0
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, name=f"runtime-{name}", daemon=True).start()

    @property
    def api(self) -> str:
        host, port = self.server.server_address[:2]
        return f"{host}:{port}"

    def start(self) -> None:
        for i in range(self.processes):
            self.children.append(self._spawn(i))
        threading.Thread(target=self._watch, name=f"watch-{self.name}", daemon=True).start()

    def _spawn(self, i: int) -> subprocess.Popen:
        env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": os.environ.get("HOME", "/tmp"),
            "AWS_LAMBDA_RUNTIME_API": self.api,
            "AWS_LAMBDA_FUNCTION_NAME": self.name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ENDPOINT_URL": self.moto_url,
            "AWS_ACCESS_KEY_ID": f"lambda-{self.name}",
            "AWS_SECRET_ACCESS_KEY": "sandbox",
            "AWS_EC2_METADATA_DISABLED": "true",
            **self.env,
        }
        log = open(self.workdir / f"lambda-{self.name}.log", "ab")  # noqa: SIM115 - handed to the child
        return subprocess.Popen([str(self.binary)], env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    def _watch(self) -> None:
        while not self.stopping:
            for i, child in enumerate(self.children):
                if child.poll() is not None and not self.stopping:
                    LOG.warning("%s handler exited with %s; restarting it", self.name, child.returncode)
                    self.children[i] = self._spawn(i)
            time.sleep(0.5)

    def invoke(self, payload: str, timeout: float = 900) -> tuple[str, bool]:
        invocation = Invocation(payload)
        with self.lock:
            self.pending[invocation.id] = invocation
            self.invocations += 1
        self.queue.put(invocation)
        if not invocation.done.wait(timeout):
            return json.dumps({"errorType": "Sandbox.Timeout", "errorMessage": f"{self.name} did not answer"}), True
        return invocation.result, invocation.errored

    def stop(self) -> None:
        self.stopping = True
        for child in self.children:
            if child.poll() is None:
                child.terminate()
        for child in self.children:
            try:
                child.wait(5)
            except subprocess.TimeoutExpired:
                child.kill()
        self.server.shutdown()

    def _handler(self):
        runtime = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # quiet
                pass

            def _reply(self, code: int, body: bytes = b"{}", headers: Optional[dict[str, str]] = None) -> None:
                self.send_response(code)
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                if not self.path.endswith("/runtime/invocation/next"):
                    return self._reply(404)
                invocation = runtime.queue.get()
                deadline = int((time.time() + 900) * 1000)
                self._reply(
                    200,
                    invocation.payload.encode(),
                    {
                        "Content-Type": "application/json",
                        "Lambda-Runtime-Aws-Request-Id": invocation.id,
                        "Lambda-Runtime-Deadline-Ms": str(deadline),
                        "Lambda-Runtime-Invoked-Function-Arn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{runtime.name}",
                        "Lambda-Runtime-Trace-Id": f"Root=1-{uuid.uuid4().hex[:8]}-{uuid.uuid4().hex[:24]}",
                    },
                )

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode("utf-8", "replace")
                parts = self.path.strip("/").split("/")
                # /2018-06-01/runtime/invocation/{id}/response|error, or /runtime/init/error
                if len(parts) >= 5 and parts[2] == "invocation":
                    with runtime.lock:
                        invocation = runtime.pending.pop(parts[3], None)
                    if invocation is not None:
                        invocation.result = body
                        invocation.errored = parts[4] == "error"
                        invocation.done.set()
                    return self._reply(202)
                LOG.error("%s failed to start: %s", runtime.name, body)
                return self._reply(202)

        return Handler


# ---------------------------------------------------------------------------------------------------------------
# template.yaml → resources in moto.


def load_template(path: Path) -> dict:
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    def tag(name: str):
        def construct(loader, node):
            if isinstance(node, yaml.ScalarNode):
                value = loader.construct_scalar(node)
                if name == "Fn::GetAtt" and isinstance(value, str):
                    value = value.split(".", 1)
            elif isinstance(node, yaml.SequenceNode):
                value = loader.construct_sequence(node, deep=True)
            else:
                value = loader.construct_mapping(node, deep=True)
            return {name: value}

        return construct

    for short, full in [("Ref", "Ref"), ("GetAtt", "Fn::GetAtt"), ("Sub", "Fn::Sub"), ("Join", "Fn::Join"), ("If", "Fn::If")]:
        Loader.add_constructor(f"!{short}", tag(full))
    return yaml.load(path.read_text(), Loader=Loader)  # noqa: S506 - SafeLoader subclass


class Stack:
    """Resolves the few intrinsics the template uses, against what the sandbox created."""

    def __init__(self, template: dict, parameters: dict[str, str]):
        self.template = template
        self.parameters = {
            name: str(spec.get("Default", "")) for name, spec in template.get("Parameters", {}).items()
        }
        self.parameters.update(parameters)
        self.refs: dict[str, str] = {"AWS::Region": REGION, "AWS::AccountId": ACCOUNT, "AWS::Partition": "aws"}
        self.arns: dict[str, str] = {}

    def resolve(self, value: Any) -> Any:
        if isinstance(value, dict):
            if "Ref" in value:
                name = value["Ref"]
                if name in self.parameters:
                    return self.parameters[name]
                return self.refs[name]
            if "Fn::GetAtt" in value:
                resource, attribute = value["Fn::GetAtt"]
                assert attribute == "Arn", f"GetAtt {resource}.{attribute} is not emulated"
                return self.arns[resource]
            if "Fn::Sub" in value:
                text = value["Fn::Sub"]
                for name, resolved in {**self.refs, **self.parameters}.items():
                    text = text.replace("${" + name + "}", str(resolved))
                return text
            return {k: self.resolve(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        return value


def dummy_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("bootstrap", "#!/bin/sh\n# the sandbox runs the real binary instead\n")
    return buffer.getvalue()


# ---------------------------------------------------------------------------------------------------------------
# The ECS agent stand-in.


class Agent:
    def __init__(self, sandbox: "Sandbox") -> None:
        self.sandbox = sandbox
        self.ec2 = sandbox.client("ec2", "agent")
        self.ecs = sandbox.client("ecs", "agent")
        self.events = sandbox.client("events", "agent")
        self.registered: set[str] = set()
        self.running: dict[str, dict[str, Any]] = {}
        self.finished: set[str] = set()
        self.stopped_events: dict[str, dict[str, Any]] = {}
        self.task_definitions: dict[str, dict] = {}
        self.stop = threading.Event()
        self.errors: list[str] = []
        self.lock = threading.Lock()
        self.sfn = sandbox.client("stepfunctions", "agent")
        self.logs = sandbox.client("logs", "agent")
        self.execution_status: dict[str, str] = {}

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                with self.lock:
                    self.tick()
            except Exception:  # noqa: BLE001 - keep the agent alive; the error is shown in the log and /info
                message = traceback.format_exc()
                LOG.error("agent: %s", message)
                self.errors.append(message)
            self.stop.wait(0.25)

    def tick(self) -> None:
        self.report_executions()
        instances = {}
        for reservation in self.ec2.describe_instances()["Reservations"]:
            for instance in reservation["Instances"]:
                instances[instance["InstanceId"]] = instance
        for instance_id, instance in instances.items():
            state = instance["State"]["Name"]
            if state == "running" and instance_id not in self.registered:
                self.register(instance)
        for task_arn, task in list(self.running.items()):
            self.ship_logs(task)
            process: subprocess.Popen = task["process"]
            instance = instances.get(task["instance_id"])
            host_gone = instance is None or instance["State"]["Name"] in ("shutting-down", "terminated")
            if process.poll() is not None:
                self.finish(task_arn, task, exit_code=process.returncode, reason="Essential container in task exited")
            elif host_gone:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
                self.finish(
                    task_arn,
                    task,
                    exit_code=None,
                    reason=f"Host EC2 (instance {task['instance_id']}) terminated.",
                    stop_code="TerminationNotice",
                )
        for cluster_arn in self.ecs.list_clusters()["clusterArns"]:
            arns = self.ecs.list_tasks(cluster=cluster_arn, desiredStatus="RUNNING")["taskArns"]
            fresh = [a for a in arns if a not in self.running and a not in self.finished]
            if not fresh:
                continue
            for task in self.ecs.describe_tasks(cluster=cluster_arn, tasks=fresh)["tasks"]:
                self.start(cluster_arn, task)

    def report_executions(self) -> None:
        """What AWS does and moto does not: a "Step Functions Execution Status Change" event when an execution
        ends."""
        machine = self.sandbox.info.get("state_machine_arn")
        if not machine:
            return
        for execution in self.sfn.list_executions(stateMachineArn=machine)["executions"]:
            arn, status = execution["executionArn"], execution["status"]
            if self.execution_status.get(arn) == status:
                continue
            self.execution_status[arn] = status
            if status == "RUNNING":
                continue
            described = self.sfn.describe_execution(executionArn=arn)
            detail = {
                "executionArn": arn,
                "stateMachineArn": machine,
                "name": execution["name"],
                "status": status,
                "input": described.get("input"),
            }
            self.events.put_events(
                Entries=[
                    {
                        "Source": "aws.states",
                        "DetailType": "Step Functions Execution Status Change",
                        "Detail": json.dumps(detail),
                        "Resources": [arn],
                    }
                ]
            )
            LOG.info("agent: execution %s ended %s", execution["name"], status)

    def register(self, instance: dict) -> None:
        instance_id = instance["InstanceId"]
        raw = self.ec2.describe_instance_attribute(InstanceId=instance_id, Attribute="userData")
        data = raw.get("UserData", {}).get("Value")
        self.registered.add(instance_id)
        if not data:
            return
        import base64

        text = base64.b64decode(data).decode("utf-8", "replace")
        cluster = next((line.split("=", 1)[1].strip() for line in text.splitlines() if line.startswith("ECS_CLUSTER=")), None)
        if not cluster:
            return
        document = json.dumps({"instanceId": instance_id, "region": REGION, "accountId": ACCOUNT})
        self.ecs.register_container_instance(cluster=cluster, instanceIdentityDocument=document)
        LOG.info("agent: %s joined cluster %s", instance_id, cluster)

    def container_instance_of(self, cluster_arn: str, arn: str) -> str:
        described = self.ecs.describe_container_instances(cluster=cluster_arn, containerInstances=[arn])
        return described["containerInstances"][0]["ec2InstanceId"]

    def start(self, cluster_arn: str, task: dict) -> None:
        task_arn = task["taskArn"]
        definition_arn = task["taskDefinitionArn"]
        if definition_arn not in self.task_definitions:
            self.task_definitions[definition_arn] = self.ecs.describe_task_definition(taskDefinition=definition_arn)[
                "taskDefinition"
            ]
        definition = self.task_definitions[definition_arn]
        container = definition["containerDefinitions"][0]
        env = {kv["name"]: kv["value"] for kv in container.get("environment", [])}
        for override in task.get("overrides", {}).get("containerOverrides", []):
            if override.get("name") == container["name"]:
                env.update({kv["name"]: kv["value"] for kv in override.get("environment", [])})
        root = self.sandbox.workdir / "tasks" / task_arn.split("/")[-1]
        scratch, home = root / "scratch", root / "ecsub"
        scratch.mkdir(parents=True, exist_ok=True)
        home.mkdir(parents=True, exist_ok=True)
        process_env = {
            "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
            "HOME": str(root),
            "AWS_ENDPOINT_URL": self.sandbox.moto_url,
            "AWS_ACCESS_KEY_ID": "container",
            "AWS_SECRET_ACCESS_KEY": "sandbox",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
            "ECSUB_SCRATCH": str(scratch),
            "ECSUB_HOME": str(home),
            **env,
        }
        log = open(root / "container.log", "ab")  # noqa: SIM115 - handed to the child
        process = subprocess.Popen(
            container["command"],
            env=process_env,
            cwd=scratch,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        instance_id = self.container_instance_of(cluster_arn, task["containerInstanceArn"])
        options = container.get("logConfiguration", {}).get("options", {})
        self.running[task_arn] = {
            "process": process,
            "cluster": cluster_arn,
            "task": task,
            "instance_id": instance_id,
            "started_at": time.time(),
            "log_path": root / "container.log",
            "log_offset": 0,
            "log_group": options.get("awslogs-group"),
            # The awslogs driver's stream: PREFIX/CONTAINER/TASK-ID.
            "log_stream": f"{options.get('awslogs-stream-prefix', 'ecs')}/{container['name']}/{task_arn.split('/')[-1]}",
            "log_stream_made": False,
        }
        LOG.info("agent: started %s on %s", task_arn, instance_id)

    def ship_logs(self, task: dict) -> None:
        """The awslogs driver: the container's new output lines, as events of its CloudWatch Logs stream."""
        if not task["log_group"]:
            return
        with open(task["log_path"], "rb") as f:
            f.seek(task["log_offset"])
            data = f.read()
        end = data.rfind(b"\n") + 1
        if end == 0:
            return
        if not task["log_stream_made"]:
            self.logs.create_log_stream(logGroupName=task["log_group"], logStreamName=task["log_stream"])
            task["log_stream_made"] = True
        now = int(time.time() * 1000)
        # CloudWatch Logs refuses empty messages, and the awslogs driver does not send them.
        events = [
            {"timestamp": now, "message": line.decode("utf-8", "replace")}
            for line in data[:end].split(b"\n")[:-1]
            if line.strip()
        ]
        if events:
            self.logs.put_log_events(logGroupName=task["log_group"], logStreamName=task["log_stream"], logEvents=events)
        task["log_offset"] += end

    def finish(self, task_arn: str, task: dict, exit_code: Optional[int], reason: str, stop_code: str = "EssentialContainerExited") -> None:
        if not task["log_path"].read_bytes().endswith(b"\n"):  # a last line without its newline is shipped too
            with open(task["log_path"], "ab") as f:
                f.write(b"\n")
        self.ship_logs(task)
        self.running.pop(task_arn, None)
        self.finished.add(task_arn)
        cluster = task["cluster"]
        self.ecs.stop_task(cluster=cluster, task=task_arn, reason=reason)
        described = task["task"]
        now = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
        started = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(task["started_at"]))
        container: dict[str, Any] = {
            "name": "main",
            "lastStatus": "STOPPED",
            "containerArn": f"{task_arn}/main",
            "taskArn": task_arn,
        }
        if exit_code is not None:
            container["exitCode"] = exit_code
        detail = {
            "clusterArn": cluster,
            "taskArn": task_arn,
            "taskDefinitionArn": described.get("taskDefinitionArn"),
            "containerInstanceArn": described.get("containerInstanceArn"),
            "lastStatus": "STOPPED",
            "desiredStatus": "STOPPED",
            "launchType": "EC2",
            "startedBy": described.get("startedBy", ""),
            "group": described.get("group", ""),
            "stopCode": stop_code,
            "stoppedReason": reason,
            "createdAt": started,
            "startedAt": started,
            "stoppingAt": now,
            "stoppedAt": now,
            "containers": [container],
            "overrides": described.get("overrides", {}),
            "version": 3,
        }
        entry = {
            "Source": "aws.ecs",
            "DetailType": "ECS Task State Change",
            "Detail": json.dumps(detail),
            "Resources": [task_arn],
        }
        self.stopped_events[task_arn] = entry
        self.sandbox.stopped_at[task_arn] = time.time()
        self.events.put_events(Entries=[entry])
        LOG.info("agent: %s stopped (exit %s): %s", task_arn, exit_code, reason)

    def running_tasks(self) -> list[dict[str, Any]]:
        with self.lock:
            return [
                {"task_arn": arn, "instance_id": t["instance_id"], "cluster": t["cluster"]} for arn, t in self.running.items()
            ]

    def interrupt(self, task_arn: str) -> bool:
        """A spot interruption: the instance is reclaimed under the running task, as EC2 and ECS report it."""
        with self.lock:
            task = self.running.get(task_arn)
            if task is None:
                return False
            try:
                os.killpg(task["process"].pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            task["process"].wait()
            self.sandbox.client("ec2", "harness").terminate_instances(InstanceIds=[task["instance_id"]])
            self.finish(task_arn, task, exit_code=None, reason="Your Spot Task was interrupted.", stop_code="SpotInterruption")
            return True

    def redeliver(self, task_arn: str) -> bool:
        entry = self.stopped_events.get(task_arn)
        if entry is None:
            return False
        self.events.put_events(Entries=[entry])
        return True

    def shutdown(self) -> None:
        self.stop.set()
        for task in self.running.values():
            try:
                os.killpg(task["process"].pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


# ---------------------------------------------------------------------------------------------------------------


class Sandbox:
    def __init__(self, workdir: Path, port: int, bin_dir: Path, processes: int):
        self.workdir = workdir
        self.port = port
        self.bin_dir = bin_dir
        self.processes = processes
        self.moto_url = f"http://127.0.0.1:{port}"
        self.meter = Meter()
        self.runtimes: dict[str, FunctionRuntime] = {}
        self.stopped_at: dict[str, float] = {}
        self.info: dict[str, Any] = {}

    def client(self, service: str, key: str):
        import boto3
        from botocore.config import Config

        return boto3.client(
            service,
            region_name=REGION,
            endpoint_url=self.moto_url,
            aws_access_key_id=key,
            aws_secret_access_key="sandbox",
            config=Config(retries={"max_attempts": 2}, s3={"addressing_style": "path"}),
        )

    def start_moto(self) -> None:
        os.environ.setdefault("AWS_DEFAULT_REGION", REGION)
        import moto_patches

        moto_patches.apply()
        moto_patches.LAMBDA_DISPATCH = self.dispatch
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
        from werkzeug.serving import make_server

        app = self.meter.wrap(DomainDispatcherApplication(create_backend_app))
        # Port 0 lets the kernel choose: no window in which another process can take a port picked in advance.
        self.server = make_server("127.0.0.1", self.port, app, threaded=True)
        self.port = self.server.server_port
        self.moto_url = f"http://127.0.0.1:{self.port}"
        os.environ["MOTO_PORT"] = str(self.port)
        threading.Thread(target=self.server.serve_forever, name="moto", daemon=True).start()
        import urllib.request

        def post(path: str, body: dict) -> None:
            request = urllib.request.Request(
                f"{self.moto_url}{path}", data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
            )
            urllib.request.urlopen(request, timeout=10).read()

        post("/moto-api/config", {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}})
        # Tasks stay RUNNING until the agent stops them (moto moves them along on every describe otherwise).
        post(
            "/moto-api/state-manager/set-transition",
            {"model_name": "ecs::task", "transition": {"progression": "manual", "times": 1000000}},
        )

    def dispatch(self, function_name: str, payload: str) -> tuple[str, bool]:
        runtime = self.runtimes.get(function_name)
        if runtime is None:
            return json.dumps({"errorType": "Sandbox.UnknownFunction", "errorMessage": function_name}), True
        return runtime.invoke(payload)

    def create_stack(self) -> None:
        template = load_template(REPO / "template.yaml")
        stack = Stack(template, {})
        resources = template["Resources"]
        globals_env = template.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})
        s3 = self.client("s3", "setup")
        iam = self.client("iam", "setup")
        lam = self.client("lambda", "setup")
        events = self.client("events", "setup")
        sfn = self.client("stepfunctions", "setup")

        # The bucket, with EventBridge notifications.
        bucket_ids = [name for name, r in resources.items() if r["Type"] == "AWS::S3::Bucket"]
        assert bucket_ids == ["JobBucket"], bucket_ids
        s3.create_bucket(Bucket=BUCKET)
        if resources["JobBucket"]["Properties"]["NotificationConfiguration"]["EventBridgeConfiguration"]["EventBridgeEnabled"]:
            s3.put_bucket_notification_configuration(
                Bucket=BUCKET, NotificationConfiguration={"EventBridgeConfiguration": {}}
            )
        stack.refs["JobBucket"] = BUCKET

        # Roles: the functions', the state machine's, and the instances' profile named by the parameter.
        assume = json.dumps({"Version": "2012-10-17", "Statement": []})
        role_arn = iam.create_role(RoleName="ecsub-sandbox", AssumeRolePolicyDocument=assume)["Role"]["Arn"]
        profile = stack.parameters["InstanceProfileName"]
        iam.create_role(RoleName=profile, AssumeRolePolicyDocument=assume)
        iam.create_instance_profile(InstanceProfileName=profile)
        iam.add_role_to_instance_profile(InstanceProfileName=profile, RoleName=profile)

        functions = {name: r for name, r in resources.items() if r["Type"] == "AWS::Serverless::Function"}
        names = {logical: f"ecsub-{r['Metadata']['BuildProperties']['Binary']}" for logical, r in functions.items()}
        for logical, name in names.items():
            stack.refs[logical] = name
            stack.arns[logical] = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"
        machines = [name for name, r in resources.items() if r["Type"] == "AWS::Serverless::StateMachine"]
        assert machines == ["JobStateMachine"], machines
        machine = resources["JobStateMachine"]["Properties"]
        machine_arn = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{STATE_MACHINE}"
        stack.refs["JobStateMachine"] = machine_arn

        # The functions: moto keeps their configuration; the sandbox runs their binaries.
        for logical, resource in functions.items():
            properties = resource["Properties"]
            env = stack.resolve({**globals_env, **properties.get("Environment", {}).get("Variables", {})})
            env = {k: str(v) for k, v in env.items()}
            lam.create_function(
                FunctionName=names[logical],
                Runtime=template["Globals"]["Function"]["Runtime"],
                Role=role_arn,
                Handler="bootstrap",
                Code={"ZipFile": dummy_zip()},
                Environment={"Variables": env},
                Timeout=int(properties.get("Timeout", template["Globals"]["Function"].get("Timeout", 3))),
            )
            binary = self.bin_dir / resource["Metadata"]["BuildProperties"]["Binary"]
            if not binary.exists():
                raise SystemExit(f"sandbox: {binary} is missing: build the handlers first (cargo build --workspace --bins)")
            runtime = FunctionRuntime(names[logical], binary, env, self.workdir, self.moto_url, self.processes)
            self.runtimes[names[logical]] = runtime

        # The state machine, from its ASL file with the template's substitutions.
        definition = (REPO / machine["DefinitionUri"]).read_text()
        for name, value in stack.resolve(machine.get("DefinitionSubstitutions", {})).items():
            definition = definition.replace("${" + name + "}", value)
        sfn.create_state_machine(name=STATE_MACHINE, definition=definition, roleArn=role_arn, type=machine.get("Type", "STANDARD"))

        # The rules: the functions' EventBridgeRule events, and plain AWS::Events::Rule resources.
        rules: dict[str, dict] = {}
        for logical, resource in functions.items():
            for event_name, event in resource["Properties"].get("Events", {}).items():
                rule = f"{logical}-{event_name}"
                if event["Type"] == "EventBridgeRule":
                    pattern = stack.resolve(event["Properties"]["Pattern"])
                    events.put_rule(Name=rule, EventPattern=json.dumps(pattern), State="ENABLED")
                    rules[rule] = {"pattern": pattern}
                elif event["Type"] == "Schedule":
                    schedule = event["Properties"]["Schedule"]
                    enabled = event["Properties"].get("Enabled", True)
                    events.put_rule(Name=rule, ScheduleExpression=schedule, State="ENABLED" if enabled else "DISABLED")
                    rules[rule] = {"schedule": schedule}
                else:
                    raise SystemExit(f"sandbox: {logical}.{event_name}: {event['Type']} events are not emulated")
                events.put_targets(Rule=rule, Targets=[{"Id": "1", "Arn": stack.arns[logical]}])
        for logical, resource in resources.items():
            if resource["Type"] != "AWS::Events::Rule":
                continue
            properties = stack.resolve(resource["Properties"])
            events.put_rule(Name=logical, ScheduleExpression=properties["ScheduleExpression"], State=properties.get("State", "ENABLED"))
            targets = []
            for target in properties["Targets"]:
                entry = {"Id": target["Id"], "Arn": target["Arn"]}
                if "InputTransformer" in target:
                    entry["InputTransformer"] = target["InputTransformer"]
                if "Input" in target:
                    entry["Input"] = target["Input"]
                targets.append(entry)
            events.put_targets(Rule=logical, Targets=targets)
            rules[logical] = {"schedule": properties["ScheduleExpression"]}

        self.info = {
            "endpoint": self.moto_url,
            "region": REGION,
            "account": ACCOUNT,
            "bucket": BUCKET,
            "state_machine_arn": machine_arn,
            "functions": {logical: names[logical] for logical in functions},
            "rules": rules,
            "instance_profile": profile,
        }

    def fire_schedule(self, rule_name: str) -> None:
        """What EventBridge does when a schedule is due: a "Scheduled Event" through the rule's targets."""
        from moto.events.models import events_backends

        backend = events_backends[ACCOUNT][REGION]
        rule = backend.event_buses["default"].rules[rule_name]
        if rule.state != "ENABLED":
            raise RuntimeError(f"rule {rule_name} is {rule.state}: a disabled schedule does not fire")
        event = {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": ACCOUNT,
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "region": REGION,
            "resources": [rule.arn],
            "detail": {},
            "ingestion-time": time.time(),
        }
        self.last_schedule_event = event
        self._deliver_schedule(rule, event)

    def _deliver_schedule(self, rule, event: dict) -> None:
        from moto.events.models import EventTemplateParser
        import moto_patches

        for target in rule.targets:
            transformer = target.get("InputTransformer")
            if transformer:
                payload = EventTemplateParser.parse(
                    input_template=transformer.get("InputTemplate"),
                    input_paths_map=transformer.get("InputPathsMap", {}),
                    event=event,
                )
                payload = payload if isinstance(payload, str) else json.dumps(payload)
            else:
                payload = target.get("Input") or json.dumps(event)
            moto_patches._deliver_async(moto_patches._function_name(target["Arn"]), payload)

    def redeliver_schedule(self, rule_name: str) -> None:
        from moto.events.models import events_backends

        rule = events_backends[ACCOUNT][REGION].event_buses["default"].rules[rule_name]
        self._deliver_schedule(rule, self.last_schedule_event)

    def serve_control(self) -> None:
        sandbox = self

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
                if self.path == "/info":
                    return self._json(200, {**sandbox.info, "agent_errors": sandbox.agent.errors})
                if self.path == "/calls":
                    with sandbox.meter.lock:
                        calls = list(sandbox.meter.calls)
                    return self._json(200, calls)
                if self.path == "/stopped":
                    return self._json(200, sandbox.stopped_at)
                if self.path == "/running":
                    return self._json(200, sandbox.agent.running_tasks())
                if self.path == "/invocations":
                    return self._json(200, {n: r.invocations for n, r in sandbox.runtimes.items()})
                return self._json(404, {"error": self.path})

            def do_POST(self) -> None:
                try:
                    length = int(self.headers.get("Content-Length") or 0)
                    body = json.loads(self.rfile.read(length) or b"{}")
                    if self.path == "/fire-schedule":
                        sandbox.fire_schedule(body["rule"])
                        return self._json(200, {"fired": body["rule"]})
                    if self.path == "/redeliver-schedule":
                        sandbox.redeliver_schedule(body["rule"])
                        return self._json(200, {"redelivered": body["rule"]})
                    if self.path == "/no-capacity":
                        import moto_patches

                        moto_patches.NO_CAPACITY.clear()
                        moto_patches.NO_CAPACITY.update(body["instance_types"])
                        return self._json(200, {"no_capacity": sorted(moto_patches.NO_CAPACITY)})
                    if self.path == "/interrupt":
                        ok = sandbox.agent.interrupt(body["task_arn"])
                        return self._json(200 if ok else 404, {"interrupted": ok})
                    if self.path == "/redeliver-stopped":
                        ok = sandbox.agent.redeliver(body["task_arn"])
                        return self._json(200 if ok else 404, {"redelivered": ok})
                except Exception as e:  # noqa: BLE001 - the caller gets the error
                    LOG.error("control %s: %s", self.path, traceback.format_exc())
                    return self._json(500, {"error": f"{type(e).__name__}: {e}"})
                return self._json(404, {"error": self.path})

        self.control = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.control.daemon_threads = True
        threading.Thread(target=self.control.serve_forever, name="control", daemon=True).start()
        host, port = self.control.server_address[:2]
        self.info["control"] = f"http://{host}:{port}"

    def run(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.start_moto()
        self.create_stack()
        for runtime in self.runtimes.values():
            runtime.start()
        self.agent = Agent(self)
        threading.Thread(target=self.agent.run, name="agent", daemon=True).start()
        self.serve_control()
        self.info["pid"] = os.getpid()
        self.info["workdir"] = str(self.workdir)
        ready = self.workdir / "sandbox.json"
        ready.with_suffix(".tmp").write_text(json.dumps(self.info, indent=2))
        ready.with_suffix(".tmp").rename(ready)
        LOG.info("sandbox ready: %s", json.dumps(self.info))
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        stop.wait()
        self.shutdown()

    def shutdown(self) -> None:
        self.agent.shutdown()
        for runtime in self.runtimes.values():
            runtime.stop()
        self.server.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dir", required=True, type=Path, help="work folder: sandbox.json, logs, task folders")
    parser.add_argument("--port", type=int, default=0, help="moto's port (default: a free one)")
    parser.add_argument("--bin-dir", type=Path, default=None, help="where the handler binaries are")
    parser.add_argument("--processes", type=int, default=2, help="handler processes per function")
    args = parser.parse_args()
    bin_dir = args.bin_dir or Path(os.environ.get("CARGO_TARGET_DIR", str(Path.home() / ".cache/ecsub-target"))) / "debug"
    args.dir.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
        handlers=[logging.FileHandler(args.dir / "sandbox.log"), logging.StreamHandler(sys.stderr)],
    )
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    sys.path.insert(0, str(HERE))
    Sandbox(args.dir.resolve(), args.port, bin_dir.resolve(), args.processes).run()


if __name__ == "__main__":
    main()
