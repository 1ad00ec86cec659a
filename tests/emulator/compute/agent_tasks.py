"""The tasks on the emulated instances (agent.py's Agent runs them through this mixin): a task started on a
registered instance runs its one container (container.py) with what ECS gives a container on EC2 — the image's
configuration (IMAGES) overlaid with the task definition's environment, entry point, command, user, working
directory and volumes, the overrides, and the variables the agent injects — and ships its output with the awslogs
driver; when it ends, the task is stopped the way ECS stops it and its "ECS Task State Change" event is put on the
bus (see agent.py's docstring for the whole contract). The records both keep are here: Instance and Task."""

from __future__ import annotations

import json
import logging
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

from ..faults import FAULTS
from ..front import iam
from . import container

LOG = logging.getLogger("ecsub.sandbox.agent")

#: Image configurations (what `docker inspect` would say); an image of HELD not listed here is a Debian-like image run as root
#: with no entry point. Tests may add more through the control endpoint.
#: An image's PATH: POSIX utilities only (no AWS CLI, no Python; container.py), the AWS CLI where the image ships
#: it ("aws": True), Python in a Python image.
IMAGES: dict[str, dict[str, Any]] = {
    # An image whose ENTRYPOINT is the AWS CLI: a container command given as `command` alone becomes its arguments.
    "amazon/aws-cli": {"entrypoint": ["aws"], "cmd": [], "user": "", "workdir": "/aws", "aws": True},
    "public.ecr.aws/aws-cli/aws-cli": {"entrypoint": ["aws"], "cmd": [], "user": "", "workdir": "/aws", "aws": True},
    # Biocontainers-style images run as an unprivileged user.
    "sandbox/nonroot": {"entrypoint": [], "cmd": ["/bin/sh"], "user": "1000:1000", "workdir": "/"},
    # An image that moves ecsub's scripts: `ENV ECSUB_HOME=/opt/ecsub` in its Dockerfile.
    "sandbox/ecsub-home": {"entrypoint": [], "cmd": ["/bin/sh"], "user": "", "workdir": "/", "env": {"ECSUB_HOME": "/opt/ecsub"}},
    # NVIDIA's CUDA base image sets these itself (its Dockerfile's ENV); only the NVIDIA runtime, which ECS uses for
    # a container given GPUs, acts on them, and ECS then sets the ids of the GPUs it pinned.
    "nvidia/cuda": {"entrypoint": [], "cmd": ["/bin/bash"], "user": "", "workdir": "/", "env": {"NVIDIA_VISIBLE_DEVICES": "all", "NVIDIA_DRIVER_CAPABILITIES": "compute,utility"}},
}


#: The repositories the emulated registries hold besides those of IMAGES: Docker Hub's official images the project
#: and its users name, by their short names and on ECR Public's mirror. Tags are not checked: any tag of a held
#: repository pulls.
HELD = {"python", "ubuntu", "debian", "alpine", "busybox", "amazonlinux", "bash"}

#: How long an image's first pull on an instance takes (real seconds; the same image again is in the instance's
#: cache). The task is PENDING meanwhile: ECS's createdAt is when StartTask placed it, its startedAt when the
#: container started after the pull ("Amazon ECS task lifecycle": PENDING while "the container agent … pulls
#: images"), seconds to minutes later on AWS.
PULL_SECONDS = 0.5
ECR_PUBLIC_MIRROR = "public.ecr.aws/docker/library/"


def _repository(image: str) -> str:
    name = image.split("@")[0]
    return name.rsplit(":", 1)[0] if ":" in name.rsplit("/", 1)[-1] else name


#: Private registries: an image under one of these prefixes pulls only with these credentials, which ECS reads
#: from the Secrets Manager secret the container's `repositoryCredentials` names, with the task's execution role
#: ("Private registry authentication for tasks"); an anonymous pull is refused as GitHub's registry refuses it.
PRIVATE = {"ghcr.io/ecsub-lab/": {"username": "lab-bot", "password": "ghp_sandbox_token"}}


def private_registry(image: str) -> Optional[dict[str, str]]:
    """The credentials a private repository wants, or None for a public one."""
    repository = _repository(image)
    return next((wanted for prefix, wanted in PRIVATE.items() if repository.startswith(prefix)), None)


def pull_error(image: str, puller: Optional[str] = None) -> Optional[str]:
    """Why the image cannot be pulled, or None. A repository no registry holds fails the task's start with
    CannotPullContainerError, as on ECS ("Amazon ECS stopped task errors": CannotPullContainerError, "… not
    found"), so a misspelt --image or default is seen by the suite, not run as some other image. An ECR image
    pulls when the account's registry has the repository, and, from another account's registry, when its
    repository policy lets the pulling account (`puller`) call ecr:BatchGetImage (ECR User Guide, "Private
    repository policy examples": allow another account to pull); otherwise ECR answers 403."""
    repository = _repository(image)
    if repository in IMAGES:
        return None
    short = repository.removeprefix("docker.io/").removeprefix("library/").removeprefix(ECR_PUBLIC_MIRROR)
    if short in HELD or private_registry(image) is not None:
        return None
    if ".dkr.ecr." in repository:
        from moto.ecr.models import ecr_backends

        host, _, name = repository.partition("/")
        account, region = host.split(".")[0], host.split(".")[3]
        try:
            repo = ecr_backends[account][region]._get_repository(name)
        except Exception:  # noqa: BLE001 - no such repository
            repo = None
        if repo is not None and (puller is None or puller == account or _lets_pull(repo.policy, puller)):
            return None
        if repo is not None:
            return (
                f"CannotPullContainerError: pull image manifest has been retried 7 time(s): failed to resolve ref "
                f"{image}: pulling from host {host} failed with status code [manifests {image.rpartition(':')[2]}]: "
                f"403 Forbidden (the repository's policy does not let account {puller} pull)"
            )
    return (
        f"CannotPullContainerError: pull image manifest has been retried 7 time(s): failed to resolve ref "
        f"{image}: {repository}: not found"
    )


def _lets_pull(policy_text: Optional[str], account: str) -> bool:
    """Whether a repository policy allows `account` (its root, or any of its principals) ecr:BatchGetImage."""
    if not policy_text:
        return False
    try:
        policy = json.loads(policy_text)
    except ValueError:
        return False
    allowed = False
    for statement in iam._statements(policy):
        principal = statement.get("Principal")
        named = ["*"] if principal == "*" else iam._as_list((principal or {}).get("AWS")) if isinstance(principal, dict) else []
        covers = any(p in ("*", account, f"arn:aws:iam::{account}:root") or p.startswith(f"arn:aws:iam::{account}:") for p in named)
        acts = any(iam._like(a, "ecr:BatchGetImage", ignore_case=True) for a in iam._as_list(statement.get("Action")))
        if covers and acts:
            if statement.get("Effect") == "Deny":
                return False
            allowed = allowed or statement.get("Effect") == "Allow"
    return allowed


def image_config(image: str) -> dict[str, Any]:
    repository = _repository(image)
    python = repository.rsplit("/", 1)[-1] == "python"
    config = {"entrypoint": [], "cmd": ["/bin/sh"], "user": "", "workdir": "/", "env": {}, "aws": False, "python": python}
    config.update(IMAGES.get(repository, {}))
    path = ([container.SANDBOX_BIN] if config["aws"] else []) + ([container.PYTHON_BIN] if config["python"] else [])
    config["env"] = {"PATH": ":".join(path + [container.POSIX_BIN]), **config.get("env", {})}
    return config



def gpus_wanted(definition: dict, overrides: Optional[dict]) -> int:
    """The GPUs a task asks for: each container's `resourceRequirements` of type GPU, an override's replacing its
    definition's (ECS API Reference, ContainerOverride.resourceRequirements)."""
    by_container = {
        c.get("name"): c.get("resourceRequirements") or [] for c in definition.get("containerDefinitions") or definition.get("container_definitions") or []
    }
    for override in (overrides or {}).get("containerOverrides") or []:
        if override.get("resourceRequirements") is not None:
            by_container[override.get("name")] = override["resourceRequirements"]
    total = 0
    for requirements in by_container.values():
        for r in requirements:
            if r.get("type") == "GPU":
                total += int(r.get("value") or 0)
    return total


@dataclass
class Instance:
    """An instance as the agent knows it (agent.py boots and registers it; tasks start on it)."""

    instance_id: str
    home: Path
    cluster: Optional[str] = None
    container_instance_arn: Optional[str] = None
    principal: Optional[iam.Principal] = None
    state: str = "booting"  # booting, registered, failed
    why: str = ""
    disk_gone: bool = False
    pulled: set[str] = field(default_factory=set)  # the images in its Docker cache
    user_data: Optional[subprocess.Popen] = None  # its user data's process, while the instance boots
    events_version: int = 0  # the ContainerInstance's version in its state change events
    gpus: list[str] = field(default_factory=list)  # the GPU ids its agent registered (agent.py: _gpus)


@dataclass
class Task:
    arn: str
    cluster: str
    instance_id: str
    process: Optional[subprocess.Popen]
    home: Path
    described: dict
    created_at: float  # by ECS's clock: when the agent was given it
    started_at: Optional[float] = None  # by ECS's clock: when its container started (after the image's pull)
    # While its image is pulled: when the pull ends, and what starts the container then (the agent's tick calls it).
    pull_until: float = 0.0
    launch: Optional[Callable[[], None]] = None
    log_group: Optional[str] = None
    log_stream: Optional[str] = None
    log_offset: int = 0
    instance_principal: Optional[iam.Principal] = None
    failed_to_start: Optional[str] = None
    extra: dict[str, Any] = field(default_factory=dict)


class TaskRunner:
    """Starts, watches and stops tasks; mixed into agent.Agent, whose state (ecs, events, lock, instances, running, finished,
    task_definitions, sandbox, account, region) it uses."""

    # -- tasks ----------------------------------------------------------------------------------------------------

    def definition(self, arn: str) -> dict:
        if arn not in self.task_definitions:
            self.task_definitions[arn] = self.ecs.describe_task_definition(taskDefinition=arn)["taskDefinition"]
        return self.task_definitions[arn]

    def registry_refusal(self, definition: dict, spec: dict) -> Optional[str]:
        """Why a private registry refuses the container's image, or None (a public image, or the right
        credentials). ECS reads `repositoryCredentials` with the execution role, whose GetSecretValue goes through
        the IAM gateway like any call; what fails there fails the task's start with ResourceInitializationError, a
        missing or wrong credential with the registry's CannotPullContainerError."""
        image = spec.get("image", "")
        wanted = private_registry(image)
        if wanted is None:
            return None
        denied = f"CannotPullContainerError: Error response from daemon: Head \"https://{image.split('/')[0]}/v2/\": unauthorized: authentication required ({image})"
        secret = (spec.get("repositoryCredentials") or {}).get("credentialsParameter")
        if not secret:
            return denied
        role = definition.get("executionRoleArn") or ""
        failed = "ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval failed: unable to retrieve secret from asm"
        try:
            principal = self.sandbox.principals.assume(role, "ecs-tasks.amazonaws.com", "execution", session="registry")
            answer = self.sandbox.client("secretsmanager", principal).get_secret_value(SecretId=secret)
            given = json.loads(answer.get("SecretString") or "{}")
        except iam.TrustError as e:
            return f"{failed}: the execution role cannot be assumed: {e}"
        except Exception as e:  # noqa: BLE001 - AccessDenied, no such secret, not JSON: ECS says what the call said
            return f"{failed}: service call has been retried 1 time(s): {e}"
        if not isinstance(given, dict) or given.get("username") != wanted["username"] or given.get("password") != wanted["password"]:
            return denied
        return None

    def start(self, cluster: str, described: dict, instance: Instance) -> None:
        arn = described["taskArn"]
        definition = self.definition(described["taskDefinitionArn"])
        spec = definition["containerDefinitions"][0]
        image = image_config(spec.get("image", ""))
        unpulled = self.registry_refusal(definition, spec) or pull_error(spec.get("image", ""), self.account)
        home = self.sandbox.workdir / "tasks" / arn.split("/")[-1]
        home.mkdir(parents=True, exist_ok=True)
        task = Task(arn, cluster, instance.instance_id, None, home, described, FAULTS.now("ecs"), instance_principal=instance.principal)
        self.running[arn] = task
        self.instance_changed(instance, True, 0, 1)
        if unpulled:
            task.failed_to_start = unpulled
            return

        env = dict(image["env"])
        env.update({kv["name"]: kv["value"] for kv in spec.get("environment", [])})
        for override in described.get("overrides", {}).get("containerOverrides", []):
            if override.get("name") == spec["name"]:
                env.update({kv["name"]: kv["value"] for kv in override.get("environment", [])})
        # A container given GPUs (resourceRequirements) sees the ids the agent pinned to it, and only then (ECS:
        # "If your GPU requirements aren't specified in the task definition, the task uses the default Docker
        # runtime"); StartTask refused a task that wanted more than the instance registered (behaviour.py).
        wanted = gpus_wanted(definition, described.get("overrides"))
        if wanted:
            env["NVIDIA_VISIBLE_DEVICES"] = ",".join(instance.gpus[:wanted])
        env["AWS_EXECUTION_ENV"] = "AWS_ECS_EC2"
        env["AWS_ENDPOINT_URL"] = self.sandbox.moto_url  # the network
        # The network, too: the instance's metadata service, which a container reaches at 169.254.169.254 through
        # the host, one hop away in bridge mode (what it answers there: credentials.py).
        bridged = definition.get("networkMode", "bridge") == "bridge"
        env["AWS_EC2_METADATA_SERVICE_ENDPOINT"] = self.credentials.imds(instance.instance_id, bridged=bridged)
        user = spec.get("user") or image["user"] or "0"
        uid, gid = _user(user)
        env.setdefault("HOME", "/root" if uid == 0 else "/")
        role = definition.get("taskRoleArn")
        if role:
            try:
                principal = self.sandbox.principals.assume(role, "ecs-tasks.amazonaws.com", "container", session=arn.split("/")[-1])
            except iam.TrustError as e:
                task.failed_to_start = f"ECS was unable to assume the role '{role}' that was provided for this task: {e}"
                return
            token = arn.split("/")[-1]
            self.credentials.grant(token, principal)
            env["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = self.credentials.uri(token)

        log_options = (spec.get("logConfiguration") or {}).get("options", {})
        if (spec.get("logConfiguration") or {}).get("logDriver") == "awslogs":
            task.log_group = log_options.get("awslogs-group")
            task.log_stream = f"{log_options.get('awslogs-stream-prefix', 'ecs')}/{spec['name']}/{arn.split('/')[-1]}"
            try:
                logs = self.sandbox.client("logs", instance.principal)
                logs.create_log_stream(logGroupName=task.log_group, logStreamName=task.log_stream)
            except Exception as e:  # noqa: BLE001 - Docker fails the container's start
                task.failed_to_start = f"CannotStartContainerError: failed to initialize logging driver: {e}"
                return

        volumes = {v["name"]: (v.get("host") or {}).get("sourcePath") for v in definition.get("volumes", [])}
        binds = container.tool_binds(self.tools, image["aws"], image["python"])
        for point in spec.get("mountPoints", []):
            source = volumes.get(point["sourceVolume"])
            if not source:
                continue
            host = instance.home / "upper" / source.lstrip("/")
            if not host.exists():
                host.mkdir(parents=True)  # Docker makes a missing host folder, root-owned, 0755
            binds.append([str(host), point["containerPath"], bool(point.get("readOnly"))])

        if spec.get("entryPoint"):
            argv = list(spec["entryPoint"]) + list(spec.get("command") or [])
        else:
            argv = list(image["entrypoint"]) + list(spec.get("command") or image["cmd"])
        cwd = spec.get("workingDirectory") or image["workdir"]
        self._transition(task, "PENDING", 1)

        def launch() -> None:
            task.process = container.start(home, argv, env, binds, uid=uid, gid=gid, cwd=cwd, log=home / "container.log")
            task.started_at = FAULTS.now("ecs")
            self._transition(task, "RUNNING", 2)
            self.instance_changed(instance, True, 1, 0)
            LOG.info("started %s on %s as %s:%s: %s", arn, instance.instance_id, uid, gid, argv[:2])

        if spec.get("image", "") in instance.pulled:
            launch()
        else:
            instance.pulled.add(spec.get("image", ""))
            task.pull_until, task.launch = time.time() + PULL_SECONDS, launch

    def instance_changed(self, instance: Instance, connected: bool, running: int, pending: int, registered: bool = False) -> None:
        """ECS's "Container Instance State Change" event ("Amazon ECS container instance state change events"):
        when the agent first registers the instance, when its agent connects or disconnects, and when a task is
        placed on it or stops (its remaining resources change). The detail is the ContainerInstance. The fault
        "drop-joined" loses the first one, as ECS's best-effort delivery may."""
        if registered and FAULTS.take("drop_joined"):
            LOG.info("(fault) the join event of %s never arrives", instance.instance_id)
            return
        cluster = instance.cluster or "default"
        cluster_arn = cluster if cluster.startswith("arn:") else f"arn:aws:ecs:{self.region}:{self.account}:cluster/{cluster}"
        instance.events_version += 1
        detail = {
            "clusterArn": cluster_arn,
            "containerInstanceArn": instance.container_instance_arn,
            "ec2InstanceId": instance.instance_id,
            "status": "ACTIVE",
            "agentConnected": connected,
            "runningTasksCount": running,
            "pendingTasksCount": pending,
            "version": instance.events_version,
            "updatedAt": _iso_ms(FAULTS.now("ecs")),
        }
        entry = {"Source": "aws.ecs", "DetailType": "ECS Container Instance State Change", "Detail": json.dumps(detail), "Resources": [instance.container_instance_arn]}
        self.events.put_events(Entries=[entry])

    def _transition(self, task: Task, status: str, version: int) -> None:
        """ECS puts a Task State Change event on the bus at every transition of a task, PENDING and RUNNING too
        ("Amazon ECS task state change events": "Task state change events are delivered … whenever the task's
        lastStatus or desiredStatus changes"), not only STOPPED; a rule that wants STOPPED must filter."""
        described = task.described
        container_status = {"name": "main", "lastStatus": status, "containerArn": f"{task.arn}/main", "taskArn": task.arn}
        detail = {
            "clusterArn": described.get("clusterArn", task.cluster),
            "taskArn": task.arn,
            "taskDefinitionArn": described.get("taskDefinitionArn"),
            "containerInstanceArn": described.get("containerInstanceArn"),
            "lastStatus": status,
            "desiredStatus": "RUNNING",
            "launchType": "EC2",
            "startedBy": described.get("startedBy", ""),
            "group": described.get("group", ""),
            "createdAt": _iso_ms(task.created_at),
            "containers": [container_status],
            "overrides": described.get("overrides", {}),
            "version": version,
        }
        if task.started_at is not None:
            detail["startedAt"] = _iso_ms(task.started_at)
        entry = {"Source": "aws.ecs", "DetailType": "ECS Task State Change", "Detail": json.dumps(detail), "Resources": [task.arn]}
        self.events.put_events(Entries=[entry])

    def ship_logs(self, task: Task) -> None:
        """The awslogs driver: the container's new output lines, as events of its CloudWatch Logs stream."""
        if not task.log_group or task.process is None:
            return
        path = task.home / "container.log"
        if not path.exists():
            return
        with open(path, "rb") as f:
            f.seek(task.log_offset)
            data = f.read()
        end = data.rfind(b"\n") + 1
        if end == 0:
            return
        now = int(time.time() * 1000)
        events = [
            {"timestamp": now, "message": line.decode("utf-8", "replace")}
            for line in data[:end].split(b"\n")[:-1]
            if line.strip()  # CloudWatch Logs refuses empty messages; the driver does not send them
        ]
        if events:
            logs = self.sandbox.client("logs", task.instance_principal)
            logs.put_log_events(logGroupName=task.log_group, logStreamName=task.log_stream, logEvents=events)
        task.log_offset += end

    def finish(self, task: Task, exit_code: Optional[int], reason: str, stop_code: str = "EssentialContainerExited", container_reason: Optional[str] = None) -> None:
        path = task.home / "container.log"
        if path.exists() and path.stat().st_size and not path.read_bytes().endswith(b"\n"):
            with open(path, "ab") as f:  # a last line without its newline is shipped too
                f.write(b"\n")
        try:
            self.ship_logs(task)
        except Exception as e:  # noqa: BLE001 - lost log lines do not stop the task's end
            LOG.warning("%s: the last log lines were not shipped: %s", task.arn, e)
        self.running.pop(task.arn, None)
        self.finished.add(task.arn)
        self.ecs.stop_task(cluster=task.cluster, task=task.arn, reason=reason)
        _record_stop(self.account, self.region, task, stop_code, exit_code, container_reason)
        described = task.described
        now = _iso_ms(FAULTS.now("ecs"))
        main: dict[str, Any] = {"name": "main", "lastStatus": "STOPPED", "containerArn": f"{task.arn}/main", "taskArn": task.arn}
        if exit_code is not None:
            main["exitCode"] = exit_code
        if container_reason:
            main["reason"] = container_reason
        detail = {
            "clusterArn": described.get("clusterArn", task.cluster),
            "taskArn": task.arn,
            "taskDefinitionArn": described.get("taskDefinitionArn"),
            "containerInstanceArn": described.get("containerInstanceArn"),
            "lastStatus": "STOPPED",
            "desiredStatus": "STOPPED",
            "launchType": "EC2",
            "startedBy": described.get("startedBy", ""),
            "group": described.get("group", ""),
            "stopCode": stop_code,
            "stoppedReason": reason,
            "createdAt": _iso_ms(task.created_at),
            "stoppingAt": now,
            "stoppedAt": now,
            "containers": [main],
            "overrides": described.get("overrides", {}),
            "version": 3,
        }
        # startedAt: when the task went from PENDING to RUNNING (ECS API reference, Task) — so a task whose host went
        # away while it ran has one, and one that never started has none.
        if task.started_at is not None and task.process is not None and not task.failed_to_start:
            detail["startedAt"] = _iso_ms(task.started_at)
        entry = {"Source": "aws.ecs", "DetailType": "ECS Task State Change", "Detail": json.dumps(detail), "Resources": [task.arn]}
        self.stopped_events[task.arn] = entry
        self.sandbox.stopped_at[task.arn] = time.time()
        if FAULTS.take("drop_stopped"):
            LOG.info("(fault) the STOPPED event of %s never arrives", task.arn)
        else:
            self.events.put_events(Entries=[entry])
        instance = self.instances.get(task.instance_id)
        if instance is not None and instance.container_instance_arn and stop_code != "TerminationNotice":
            self.instance_changed(instance, True, 0, 0)  # its resources freed; a host that went away says nothing
        LOG.info("%s stopped (exit %s): %s", task.arn, exit_code, reason)



def _user(user: str) -> tuple[int, int]:
    name, _, group = user.partition(":")
    uid = 0 if name in ("", "root") else int(name)
    gid = int(group) if group else (0 if uid == 0 else uid)
    return uid, gid


def _iso_ms(t: float) -> str:
    """A time as ECS events give it: ISO 8601 in UTC, to the millisecond."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".%03dZ" % (int(t * 1000) % 1000)


def _record_stop(account: str, region: str, task: "Task", stop_code: str, exit_code: Optional[int], reason: Optional[str]) -> None:
    """What ECS keeps about a stopped task (DescribeTasks shows it for an hour): moto's StopTask keeps only the
    reason, so the stop code, times and the container's exit code are set here."""
    from moto.ecs.models import ecs_backends

    backend = ecs_backends[account][region]
    found = backend.tasks.get(task.cluster.split("/")[-1], {}).get(task.arn)
    if found is None:
        return
    found.stop_code = stop_code
    found.created_at = task.created_at
    if task.started_at is not None and task.process is not None and not task.failed_to_start:
        found.started_at = task.started_at
    found.stopped_at = FAULTS.now("ecs")
    for container in found.containers:
        container.last_status = "STOPPED"
        if exit_code is None:
            if hasattr(container, "exitCode"):
                del container.exitCode
        else:
            container.exitCode = exit_code
        if reason:
            container.reason = reason
