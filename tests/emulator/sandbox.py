"""The emulated cloud: moto (pinned, patched) behind an IAM gateway, one or more stacks deployed from template.yaml,
the real Lambda handler binaries, and EC2 instances with an ECS agent that run tasks as isolated processes.

    python -m tests.emulator.sandbox --dir DIR [--port PORT] [--bin-dir target/debug]    (from the repository root)
        [--stacks '{"ecsub": {"DataBuckets": "ecsub-wordcount"}}'] [--time-scale 0.0167]

When it is ready it writes DIR/sandbox.json (endpoint, stacks, the credentials of the harness and of the CLI's user,
control URL) and serves until SIGTERM or SIGINT; everything it started stops with it. The parts, one module each:
- front/gateway.py + front/iam.py + front/iam_actions.py: authentication, IAM policy evaluation, AWS behaviour in
  front of services, metering;
- patches/behaviour.py: moto made to behave as AWS does; faults.py: what tests inject;
- stack.py: template.yaml → resources (SAM's own translator, then each resource created);
- services/lambda_host.py: the functions, under their roles, limits and AWS's asynchronous delivery;
- compute/agent.py (instances: user data, registration), compute/agent_tasks.py (tasks) and compute/container.py
  (their containers);
- control.py: the control endpoint.
Runs as root (instances and containers are mount namespaces).
"""

from __future__ import annotations

import argparse
import faulthandler
import json
import logging
import os
import signal
import sys
import threading
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any, Optional

from . import REPO
from .faults import FAULTS

REGION = "us-east-1"
ACCOUNT = "123456789012"

#: Parameters the sandbox deploys a stack with, when the template declares them and the caller does not say.
SANDBOX_PARAMETERS = {
    "DataBuckets": "ecsub-wordcount",
    "MinWaiterDelaySeconds": "1",
}

ADMIN = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}

LOG = logging.getLogger("ecsub.sandbox")


class Sandbox:
    def __init__(self, workdir: Path, port: int, bin_dir: Path, processes: int, stacks: dict[str, dict[str, str]]) -> None:
        self.workdir = workdir
        self.port = port
        self.bin_dir = bin_dir
        self.processes = processes
        self.stack_parameters = stacks
        self.region = REGION
        self.account = ACCOUNT
        self.moto_url = ""
        self.stacks: dict[str, Any] = {}
        self.stopped_at: dict[str, float] = {}
        self.info: dict[str, Any] = {}
        self.states_principals: dict[str, Any] = {}
        self._clients: dict[tuple, Any] = {}
        self._clients_lock = threading.Lock()
        self.lock = threading.Lock()

    # -- clients --------------------------------------------------------------------------------------------------

    def client(self, service: str, principal, config=None):
        import boto3
        from botocore.config import Config

        # Clients with the default configuration are kept per service and credentials (thread-safe, and costly to
        # make: the agent asks for one per instance and per tick).
        key = (service, principal.access_key_id, principal.secret_access_key, principal.session_token)
        if config is None:
            with self._clients_lock:
                if key in self._clients:
                    return self._clients[key]
        base = Config(retries={"max_attempts": 2}, s3={"addressing_style": "path"})
        client = boto3.client(
            service,
            region_name=REGION,
            endpoint_url=self.moto_url,
            aws_access_key_id=principal.access_key_id,
            aws_secret_access_key=principal.secret_access_key,
            aws_session_token=principal.session_token,
            config=base.merge(config) if config else base,
        )
        if config is None:
            with self._clients_lock:
                client = self._clients.setdefault(key, client)
        return client

    def state_machine_arns(self) -> list[str]:
        return [s.refs[k] for s in self.stacks.values() for k in s.of_type("AWS::StepFunctions::StateMachine")]

    def states_authorize(self, role_arn: str, action: str, resource: str) -> None:
        """What Step Functions does with a state machine's role is allowed by the role's policies (or iam.Denied)."""
        from .front import iam

        iam.authorize(self.principals, self.states_principal(role_arn), [iam.Check(action, resource)])

    def states_principal(self, role_arn: str):
        """Step Functions acting with a state machine's role (assumed once, after the trust check)."""
        from .front import iam

        with self.lock:
            if role_arn not in self.states_principals:
                stack = next(
                    (s.name for s in self.stacks.values() for attrs in s.attrs.values() if attrs.get("Arn") == role_arn),
                    "unknown",
                )
                try:
                    self.states_principals[role_arn] = self.principals.assume(role_arn, "states.amazonaws.com", f"states-{stack}")
                except iam.TrustError as e:
                    raise RuntimeError(f"Step Functions cannot assume {role_arn}: {e}") from e
            return self.states_principals[role_arn]

    # -- start ----------------------------------------------------------------------------------------------------

    def start_moto(self) -> None:
        os.environ.setdefault("AWS_DEFAULT_REGION", REGION)
        # AWS's managed policies (AWSLambdaBasicExecutionRole, AmazonEC2ContainerServiceforEC2Role, …) exist.
        os.environ["MOTO_IAM_LOAD_MANAGED_POLICIES"] = "true"
        from . import patches
        from .patches import behaviour
        from .services import map_run

        patches.apply()
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
        from werkzeug.serving import BaseWSGIServer, make_server

        # Every container's AWS CLI connects here; werkzeug listens with a backlog of 128, which a hundred containers
        # starting at once overflow (their connections dropped, their setup failing). AWS's endpoints do not.
        BaseWSGIServer.request_queue_size = 1024

        from .front import gateway, iam, iam_actions

        self.principals = iam.Principals(ACCOUNT)
        self.lookups = iam_actions.Lookups(ACCOUNT, REGION)
        self.gateway = gateway.Gateway(DomainDispatcherApplication(create_backend_app), self.principals, REGION)
        # Port 0 lets the kernel choose: no window in which another process can take a port picked in advance.
        self.server = make_server("127.0.0.1", self.port, self.gateway, threaded=True)
        self.port = self.server.server_port
        self.moto_url = f"http://127.0.0.1:{self.port}"
        os.environ["MOTO_PORT"] = str(self.port)
        threading.Thread(target=self.server.serve_forever, name="moto", daemon=True).start()

        def post(path: str, body: dict) -> None:
            request = urllib.request.Request(f"{self.moto_url}{path}", data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
            urllib.request.urlopen(request, timeout=10).read()

        post("/moto-api/config", {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}})
        # Tasks stay RUNNING until the agent stops them (moto moves them along on every describe otherwise).
        post("/moto-api/state-manager/set-transition", {"model_name": "ecs::task", "transition": {"progression": "manual", "times": 1000000}})
        behaviour.STATES_PRINCIPAL = self.states_principal
        map_run.AUTHORIZE = self.states_authorize
        # Who else signs requests: the harness, AWS's own services, CloudFormation, and the CLI's user (whose
        # permissions are the stacks' user policies, attached as they are deployed).
        self.harness = self.principals.add_user("sandbox-harness", "harness", ADMIN)
        self.aws_principal = self.principals.add_user("sandbox-aws-services", "aws", ADMIN)
        self.deployer = self.principals.add_user("sandbox-cloudformation", "setup", ADMIN)
        self.cli_user = self.principals.add_user("ecsub-user", "cli")

    def _sqs(self, credentials: dict[str, str], region: str):
        """An SQS client signing with a function's credentials (its execution role)."""
        import boto3

        return boto3.client(
            "sqs",
            region_name=region,
            endpoint_url=self.moto_url,
            aws_access_key_id=credentials["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=credentials["AWS_SECRET_ACCESS_KEY"],
            aws_session_token=credentials.get("AWS_SESSION_TOKEN"),
        )

    def _queue_url(self, queue_arn: str) -> str:
        _, _, _, _, account, name = queue_arn.split(":")
        return f"{self.moto_url}/{account}/{name}"

    def _send_to_queue(self, credentials: dict[str, str], queue_arn: str, body: str) -> None:
        self._sqs(credentials, queue_arn.split(":")[3]).send_message(QueueUrl=self._queue_url(queue_arn), MessageBody=body)

    def _fixture(self, value: str) -> str:
        """Parameter values may name fixtures the sandbox makes first: `${kms-key:ALIAS}` is a KMS key's ARN."""
        if value.startswith("${kms-key:") and value.endswith("}"):
            alias = "alias/" + value[len("${kms-key:") : -1]
            kms = self.client("kms", self.harness)
            existing = {a["AliasName"]: a.get("TargetKeyId") for a in kms.list_aliases()["Aliases"]}
            key_id = existing.get(alias)
            if key_id is None:
                key_id = kms.create_key(Description=f"sandbox {alias}")["KeyMetadata"]["KeyId"]
                kms.create_alias(AliasName=alias, TargetKeyId=key_id)
            return kms.describe_key(KeyId=key_id)["KeyMetadata"]["Arn"]
        return value

    def deploy(self) -> None:
        from . import stack as stacks
        from .patches import behaviour
        from .services import lambda_host

        self.lambdas = lambda_host.LambdaHost(self._send_to_queue)

        behaviour.LAMBDA_HOST = self.lambdas
        template = stacks.load_sam(REPO / "template.yaml")
        declared = template.get("Parameters", {})
        iam_client = self.client("iam", self.deployer)
        for name, overrides in self.stack_parameters.items():
            parameters = {k: v for k, v in SANDBOX_PARAMETERS.items() if k in declared}
            parameters.update({k: self._fixture(str(v)) for k, v in overrides.items()})
            deployed = stacks.deploy(
                REPO / "template.yaml", REPO, name, parameters, REGION, ACCOUNT, lambda service: self.client(service, self.deployer)
            )
            self.stacks[name] = deployed
            for function in deployed.functions.values():
                binary = self.bin_dir / function.binary
                if not binary.exists():
                    raise SystemExit(f"sandbox: {binary} is missing: build the handlers first (cargo build --workspace --bins)")
                principal = self.principals.assume(function.role_arn, "lambda.amazonaws.com", f"lambda-{function.name}")
                runtime = lambda_host.FunctionRuntime(function, binary, principal.credentials(), self.moto_url, REGION, self.workdir, self.processes)
                self.lambdas.add(runtime)
            for mapping in deployed.mappings:
                # Lambda's pollers act with the function's role, but they are Lambda's own calls, not the
                # function's: their own session, so that metering tells them apart.
                function = next(f for f in deployed.functions.values() if f.name == mapping.function)
                poller = self.principals.assume(function.role_arn, "lambda.amazonaws.com", f"event-source-{function.name}")
                sqs = self._sqs(poller.credentials(), REGION)
                self.lambdas.pollers.append(lambda_host.QueuePoller(self.lambdas, mapping, sqs, self._queue_url(mapping.queue_arn), REGION))
            if "UserPolicyArn" in deployed.outputs:
                iam_client.attach_user_policy(UserName="ecsub-user", PolicyArn=deployed.outputs["UserPolicyArn"])
            LOG.info("stack %s deployed: %s", name, json.dumps(deployed.outputs))

    def stack_info(self, deployed) -> dict[str, Any]:
        machines = deployed.of_type("AWS::StepFunctions::StateMachine")
        buckets = deployed.of_type("AWS::S3::Bucket")
        queues = deployed.of_type("AWS::SQS::Queue")
        rules = {}
        for logical, resource in deployed.of_type("AWS::Events::Rule").items():
            properties = resource.get("Properties", {})
            rules[logical] = {"name": deployed.refs[logical], "schedule": "ScheduleExpression" in properties}
        return {
            **deployed.info(),
            "bucket": deployed.refs[next(iter(buckets))] if buckets else None,
            "state_machine_arn": deployed.refs[next(iter(machines))] if machines else None,
            "functions": {f.logical: f.name for f in deployed.functions.values()},
            "queues": {k: deployed.refs[k] for k in queues},
            "rules": rules,
        }

    # -- schedules and redeliveries -------------------------------------------------------------------------------

    def _rule(self, rule: str, stack: Optional[str]):
        from moto.events.models import events_backends

        deployed = self.stacks[stack] if stack else next(iter(self.stacks.values()))
        physical = deployed.refs.get(rule, rule)
        return events_backends[ACCOUNT][REGION].event_buses["default"].rules[physical]

    def fire_schedule(self, rule_name: str, stack: Optional[str] = None) -> None:
        """What EventBridge does when a schedule is due: a "Scheduled Event" through the rule's targets."""
        rule = self._rule(rule_name, stack)
        if rule.state != "ENABLED":
            raise RuntimeError(f"rule {rule.name} is {rule.state}: a disabled schedule does not fire")
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
            "ingestion-time": time.time(),  # moto's input transformer reads it
        }
        self.last_schedule_event = event
        self._deliver_schedule(rule, event)

    def _deliver_schedule(self, rule, event: dict) -> None:
        from moto.events.models import EventTemplateParser

        for target in rule.targets:
            transformer = target.get("InputTransformer")
            if transformer:
                payload = EventTemplateParser.parse(
                    input_template=transformer.get("InputTemplate"), input_paths_map=transformer.get("InputPathsMap", {}), event=event
                )
                payload = payload if isinstance(payload, str) else json.dumps(payload)
            else:
                payload = target.get("Input") or json.dumps(event)
            self.lambdas.deliver_event(rule.arn, target, payload, json.dumps(event))

    def redeliver_schedule(self, rule_name: str, stack: Optional[str] = None) -> None:
        self._deliver_schedule(self._rule(rule_name, stack), self.last_schedule_event)

    def redeliver_s3(self, bucket: str, key: str) -> bool:
        """S3 delivering one event a second time (at-least-once): the same detail, a new event id."""
        from .patches import behaviour

        found = behaviour.LAST_S3_EVENTS.get((bucket, key))
        if found is None:
            return False
        account, region, event = found
        event = {**event, "id": str(uuid.uuid4())}
        behaviour.send_s3_event(account, region, event)
        return True

    def foreign_repository(self, account: str, name: str, policy: Optional[dict]) -> dict:
        """A repository in another account's ECR (a team's shared images), with its repository policy, made as
        that account would (moto's backend of that account: the harness has no credentials there)."""
        from moto.ecr.models import ecr_backends

        backend = ecr_backends[account][self.region]
        backend.create_repository(name, account, {}, {}, "MUTABLE", [])
        if policy is not None:
            backend.set_repository_policy(account, name, json.dumps(policy))
        return {"repository": f"{account}.dkr.ecr.{self.region}.amazonaws.com/{name}"}

    # -- run ------------------------------------------------------------------------------------------------------

    def run(self) -> None:
        from . import control
        from .compute import agent, container
        from .services import ssm_commands

        problem = container.can_isolate()
        if problem:
            raise SystemExit(f"sandbox: {problem}")
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.start_moto()
        self.deploy()
        for runtime in self.lambdas.functions.values():
            runtime.start()
        for poller in self.lambdas.pollers:
            poller.start()
        self.agent = agent.Agent(self)
        # Run Command reaches the agent's instances, as the instances' own SSM Agent would (services/ssm_commands.py).
        ssm_commands.AGENT, ssm_commands.PRINCIPALS = self.agent, self.principals
        threading.Thread(target=self.agent.run, name="agent", daemon=True).start()
        stacks = {name: self.stack_info(s) for name, s in self.stacks.items()}
        first = next(iter(stacks.values()))
        credentials = lambda p: {"access_key_id": p.access_key_id, "secret_access_key": p.secret_access_key}  # noqa: E731
        self.info = {
            "endpoint": self.moto_url,
            "region": REGION,
            "account": ACCOUNT,
            "stacks": stacks,
            # The first stack's, for the common case of one.
            "stack": first["name"],
            "bucket": first["bucket"],
            "state_machine_arn": first["state_machine_arn"],
            "functions": first["functions"],
            "principals": {"harness": credentials(self.harness), "cli": credentials(self.cli_user)},
            "pid": os.getpid(),
            "seed": FAULTS.seed,
            "workdir": str(self.workdir),
        }
        self.info["control"] = control.serve(self)
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
        self.lambdas.stop()
        self.server.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dir", required=True, type=Path, help="work folder: sandbox.json, logs, instances, tasks")
    parser.add_argument("--port", type=int, default=0, help="moto's port (default: a free one)")
    parser.add_argument("--bin-dir", type=Path, default=None, help="where the handler binaries are")
    parser.add_argument("--processes", type=int, default=2, help="handler processes per function (its concurrency)")
    parser.add_argument("--stacks", default='{"ecsub": {}}', help="JSON: stack name -> template parameters")
    parser.add_argument("--time-scale", type=float, default=None, help="AWS's schedules run this much faster (default 1/60)")
    parser.add_argument("--seed", type=int, default=None, help="the seed of at-least-once delivery's draws (default: a random one, logged)")
    args = parser.parse_args()
    from .compute import container

    # Before any thread: the instances' scratch disks are mounted in this process's own namespace, and go with it.
    own = container.own_mount_namespace() if container.can_isolate() is None else "not root"
    container.SCRATCH_DISKS = own is None
    bin_dir = args.bin_dir or Path(os.environ.get("CARGO_TARGET_DIR", str(Path.home() / ".cache/ecsub-target"))) / "debug"
    args.dir.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
        handlers=[logging.FileHandler(args.dir / "sandbox.log"), logging.StreamHandler(sys.stderr)],
    )
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    # `kill -USR1 <pid>` writes every thread's stack to stacks.txt: what a sandbox that stopped answering is doing.
    stacks = open(args.dir / "stacks.txt", "a")  # noqa: SIM115 (open for the process's life)
    faulthandler.register(signal.SIGUSR1, file=stacks, all_threads=True)
    if args.time_scale is not None:
        FAULTS.time_scale = args.time_scale
    if args.seed is not None:
        FAULTS.seed = args.seed
    LOG.info("delivery seed %d (--seed %d draws the same duplicates and delays)", FAULTS.seed, FAULTS.seed)
    Sandbox(args.dir.resolve(), args.port, bin_dir.resolve(), args.processes, json.loads(args.stacks)).run()


if __name__ == "__main__":
    main()
