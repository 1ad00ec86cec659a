"""EC2 instances and the ECS agent on them, which moto does not have, doing what AWS does and no more.

An instance (one RunInstances made, moto says running):
- boots: its user data runs as root in the instance's own root filesystem (container.py: an overlay of the host's,
  standing in for the ECS-optimized AMI), so what it writes (/etc/ecs/ecs.config, folders it makes) is what the
  instance has, and a broken script breaks the boot;
- its ECS agent then registers it in the cluster `/etc/ecs/ecs.config` names (ECS_CLUSTER, else `default`) with the
  credentials of the instance profile's role: the role must trust ec2.amazonaws.com (else the instance metadata
  service answers AssumeRoleUnauthorizedAccess and the agent never registers; RunInstances itself does not check
  this) and must allow ecs:RegisterContainerInstance. An instance that cannot register never joins.

A task started on a registered instance (agent_tasks.py) runs its one container (container.py) with only what ECS
gives a container on EC2: the image's configuration (IMAGES) overlaid with the task definition's environment, entry
point, command, user, working directory and volumes (host paths in the instance's filesystem), the overrides, and
the variables the agent injects (the task role's credentials endpoint, AWS_EXECUTION_ENV). Nothing else: no region,
no harness variables. The only stand-in is AWS_ENDPOINT_URL, which plays the network. The awslogs driver ships the output with
the instance role's credentials and fails the container's start if it cannot create its stream.

A container may hold its instance type's memory and no more: past it, the kernel's OOM killer ends it, and ECS
reports exit 137 with OutOfMemoryError (read from /proc once a second). An instance type's NVIDIA GPUs are
registered on the GPU-optimized AMI with ECS_ENABLE_GPU_SUPPORT only. Its /scratch (where the tasks' host volume
is) holds what its root volume's size lets it hold, at container.SCRATCH_MIB_PER_GIB MiB per GiB: a task that fills
it meets ENOSPC, and `df` says it is full.

When the container exits the task is stopped and the "ECS Task State Change" event is put on the bus with the exit
code; an instance that goes away under a task stops it the way ECS reports it on EC2 (stopCode TerminationNotice,
"Host EC2 (instance …) terminated.", no exit code). A spot interruption is EC2's: an "EC2 Spot Instance Interruption
Warning" event, then the instance is terminated two minutes later (scaled).
"""

from __future__ import annotations

import base64
import json
import logging
import os
import shutil
import signal
import subprocess
import threading
import time
import traceback
import uuid
from typing import Any, Optional

from ..faults import FAULTS
from ..front import iam
from . import container
from .agent_tasks import Instance, Task, TaskRunner
from .credentials import CredentialsServer

LOG = logging.getLogger("ecsub.sandbox.agent")


class Agent(TaskRunner):
    def __init__(self, sandbox) -> None:
        self.sandbox = sandbox
        self.region = sandbox.region
        self.account = sandbox.account
        self.aws = sandbox.aws_principal  # AWS's own services (EC2, ECS, EventBridge) acting
        self.ec2 = sandbox.client("ec2", self.aws)
        self.ecs = sandbox.client("ecs", self.aws)
        self.events = sandbox.client("events", self.aws)
        self.sfn = sandbox.client("stepfunctions", self.aws)
        self.instances: dict[str, Instance] = {}
        self.running: dict[str, Task] = {}
        self.finished: set[str] = set()
        self.stopped_events: dict[str, dict[str, Any]] = {}
        self.task_definitions: dict[str, dict] = {}
        self.execution_status: dict[str, str] = {}
        self.errors: list[str] = []
        self.lock = threading.RLock()
        self.stop = threading.Event()
        self.credentials = CredentialsServer(sandbox.workdir / "task-credentials")
        self.tools = {
            "aws": container.sandbox_tools(sandbox.workdir / "tools"),
            "posix": container.posix_tools(sandbox.workdir / "posix"),
            "python": container.python_tools(sandbox.workdir / "python"),
        }

    # -- the loop -------------------------------------------------------------------------------------------------

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                with self.lock:
                    self.tick()
            except Exception:  # noqa: BLE001 - keep the agent alive; the error is in the log and in /info
                message = traceback.format_exc()
                LOG.error("agent: %s", message)
                self.errors.append(message)
            self.stop.wait(0.25)

    def tick(self) -> None:
        self.report_executions()
        states = {}
        # The instances not terminated (EC2 lists a terminated one for about an hour: at 2 000 tasks, listing them all
        # took 106 s a tick), 1 000 a page; one known here and not listed is gone.
        live = [{"Name": "instance-state-name", "Values": ["pending", "running", "shutting-down", "stopping", "stopped"]}]
        for page in self.ec2.get_paginator("describe_instances").paginate(Filters=live, PaginationConfig={"PageSize": 1000}):
            for reservation in page["Reservations"]:
                for described in reservation["Instances"]:
                    states[described["InstanceId"]] = described
        for instance_id, described in states.items():
            if described["State"]["Name"] != "running" or instance_id in self.instances:
                continue
            if FAULTS.instance_dies_now():
                _die_before_boot(self.account, self.region, instance_id)
                continue
            instance = self.instances[instance_id] = Instance(instance_id, self.sandbox.workdir / "instances" / instance_id)
            if "IamInstanceProfile" not in described and not _user_data(self.account, self.region, instance_id):
                # Nothing runs on it: no user data, and no credentials for an agent. It stays running, as EC2
                # keeps it, and never joins; booting it would only cost the sandbox (a test makes a thousand).
                instance.state, instance.why = "failed", "no user data and no instance profile: nothing runs on it"
                instance.disk_gone = True
                continue
            threading.Thread(target=self.boot, args=(described,), name=f"boot-{instance_id}", daemon=True).start()
        rss = self._memory_by_group()
        for task_arn, task in list(self.running.items()):
            self.ship_logs(task)
            described = states.get(task.instance_id)
            host_gone = described is None or described["State"]["Name"] in ("shutting-down", "terminated", "stopping", "stopped")
            if task.launch is not None:  # its image is being pulled
                if host_gone:
                    task.launch = None
                    verb = "stopped" if described and described["State"]["Name"] in ("stopping", "stopped") else "terminated"
                    self.finish(task, exit_code=None, reason=f"Host EC2 (instance {task.instance_id}) {verb}.", stop_code="TerminationNotice")
                elif time.time() >= task.pull_until:
                    launch, task.launch = task.launch, None
                    launch()
                continue
            if task.process is None:
                self.finish(task, exit_code=None, reason=task.failed_to_start or "Task failed to start", stop_code="TaskFailedToStart", container_reason=task.failed_to_start)
            elif task.process.poll() is not None:
                failure = container.start_failure(task.home)
                if failure:
                    self.finish(task, exit_code=None, reason=failure, stop_code="TaskFailedToStart", container_reason=failure)
                else:
                    self.finish(task, exit_code=task.process.returncode, reason="Essential container in task exited")
            elif not host_gone and rss.get(task.process.pid, 0) > _memory_bytes(described):
                # The container has no hard limit, so it may take the instance's memory, and no more: the kernel's
                # OOM killer ends it, and ECS reports it as OutOfMemoryError with exit 137 ("Amazon ECS stopped
                # task error messages": "OutOfMemoryError: Container killed due to memory usage").
                _kill(task.process)
                LOG.info("task %s: over its instance's memory (%d bytes): OOM-killed", task_arn, rss[task.process.pid])
                self.finish(task, exit_code=137, reason="Essential container in task exited", container_reason="OutOfMemoryError: Container killed due to memory usage")
            elif host_gone:
                _kill(task.process)
                verb = "stopped" if described and described["State"]["Name"] in ("stopping", "stopped") else "terminated"
                self.finish(task, exit_code=None, reason=f"Host EC2 (instance {task.instance_id}) {verb}.", stop_code="TerminationNotice")
        for instance_id, instance in self.instances.items():
            if not instance.disk_gone and instance.state != "booting" and instance_id not in states:
                # Its root volume goes with it (DeleteOnTermination): its files (the stager among them), not its
                # console log. Thousands of instances in one sandbox would otherwise fill the disk.
                container.unmount_scratch(instance.home / "upper" / "scratch")
                shutil.rmtree(instance.home / "upper", ignore_errors=True)
                instance.disk_gone = True
        registered = {i.container_instance_arn: i for i in self.instances.values() if i.container_instance_arn}
        by_cluster: dict[str, set[str]] = {}
        for instance in registered.values():
            by_cluster.setdefault(instance.cluster or "default", set()).add(instance.container_instance_arn)
        for cluster, arns in by_cluster.items():
            try:
                pages = self.ecs.get_paginator("list_tasks").paginate(cluster=cluster, desiredStatus="RUNNING")
                listed = [arn for page in pages for arn in page["taskArns"]]
            except self.ecs.exceptions.ClusterNotFoundException:
                continue
            fresh = [a for a in listed if a not in self.running and a not in self.finished]
            # DescribeTasks takes at most 100 tasks a call.
            for at in range(0, len(fresh), 100):
                for task in self.ecs.describe_tasks(cluster=cluster, tasks=fresh[at : at + 100])["tasks"]:
                    if task.get("containerInstanceArn") in arns:
                        self.start(cluster, task, registered[task["containerInstanceArn"]])

    # -- instances ------------------------------------------------------------------------------------------------

    def boot(self, described: dict) -> None:
        instance = self.instances[described["InstanceId"]]
        try:
            self._boot(instance, described)
        except Exception as e:  # noqa: BLE001 - the instance is broken, the sandbox is not
            instance.state, instance.why = "failed", f"{type(e).__name__}: {e}"
            LOG.error("instance %s: %s\n%s", instance.instance_id, instance.why, traceback.format_exc())

    def _boot(self, instance: Instance, described: dict) -> None:
        home = instance.home
        upper = home / "upper"
        (upper / "etc" / "ecs").mkdir(parents=True, exist_ok=True)
        if container.SCRATCH_DISKS:
            # /scratch is on the root volume, and as full as its size lets it be (scaled: container.py).
            problem = container.mount_scratch(upper / "scratch", _root_volume_gib(self.ec2, described))
            if problem:
                # A disk without its size would be kinder than the volume: the instance fails instead.
                instance.state, instance.why = "failed", problem
                LOG.error("instance %s: %s", instance.instance_id, problem)
                return
        (upper / "etc" / "ecs" / "ecs.config").touch()
        # The metadata service has the instance profile's credentials from the start, before the user data runs.
        profile = self._instance_profile(instance.instance_id, described)
        principal, why = None, "no instance profile: the ECS agent has no credentials"
        roles = self.sandbox.lookups.profile_role_arns(None, profile) if profile else []
        if profile:
            try:
                if not roles:
                    raise iam.TrustError(f"the instance profile {profile} has no role")
                principal = self.sandbox.principals.assume(roles[0], "ec2.amazonaws.com", "instance", session=instance.instance_id)
            except iam.TrustError as e:
                why = f"instance metadata credentials: AssumeRoleUnauthorizedAccess ({e})"
        role_name = roles[0].rsplit("/", 1)[-1] if principal is not None else None
        self.credentials.grant_instance(instance.instance_id, self.region, role_name, principal, described.get("MetadataOptions") or {})
        raw = self.ec2.describe_instance_attribute(InstanceId=instance.instance_id, Attribute="userData")
        data = base64.b64decode(raw.get("UserData", {}).get("Value") or "")
        # The instance's power-off: `shutdown` (the host's would be systemctl) records it, and the instance stops or
        # terminates afterwards as its InstanceInitiatedShutdownBehavior says.
        halted = upper / "var" / "lib" / "ecsub-sandbox" / "halted"
        for folder in ("usr/local/sbin", "usr/sbin"):
            shim = upper / folder / "shutdown"
            shim.parent.mkdir(parents=True, exist_ok=True)
            shim.write_text("#!/bin/sh\n# The emulated instance's power-off (tests/emulator/compute/agent.py).\nmkdir -p /var/lib/ecsub-sandbox && : > /var/lib/ecsub-sandbox/halted\n")
            shim.chmod(0o755)
        if data.startswith(b"#!"):
            script = upper / "var" / "lib" / "cloud" / "instance" / "user-data.txt"
            script.parent.mkdir(parents=True, exist_ok=True)
            script.write_bytes(data)
            script.chmod(0o700)
            # The network: the instance's metadata service and the cloud's endpoint (both unset on an instance).
            env = {
                "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "HOME": "/root",
                "AWS_EC2_METADATA_SERVICE_ENDPOINT": self.credentials.imds(instance.instance_id),
                "AWS_ENDPOINT_URL": self.sandbox.moto_url,
            }
            process = container.start(home, ["/var/lib/cloud/instance/user-data.txt"], env, [], log=home / "cloud-init-output.log")
            # The ECS agent starts after cloud-init's last stage, however long the user data takes (the ECS-optimized
            # AMI's ecs.service has After=cloud-final.service: amazon-ecs-init#175; "we want to start up after both
            # docker and cloud-final", amazon-ecs-agent#4792): a user data that never ends keeps the instance from
            # ever joining, and one that fails does not (the order is After=, not Requires=).
            instance.user_data = process
            code = None
            while code is None:
                try:
                    code = process.wait(1)
                except subprocess.TimeoutExpired:
                    if _gone(self.account, self.region, instance.instance_id):
                        _kill(process)
                        # What kept it from joining, if the sandbox knows, comes first (its metadata credentials).
                        gone = "it went away while its user data ran"
                        instance.state, instance.why = "failed", gone if principal is not None else f"{why}; {gone}"
                        LOG.info("instance %s: %s", instance.instance_id, instance.why)
                        return
            if code != 0:
                tail = (home / "cloud-init-output.log").read_text(errors="replace").strip().splitlines()[-3:]
                LOG.warning("instance %s: its user data exited %s: %s", instance.instance_id, code, " / ".join(tail))
        if halted.exists():
            self._halt(instance, None if principal is not None else why)
            return
        config = _ecs_config((upper / "etc" / "ecs" / "ecs.config").read_text(errors="replace"))
        cluster = config.get("ECS_CLUSTER") or "default"
        instance.cluster = cluster
        if FAULTS.take("never_join"):
            instance.state, instance.why = "failed", "fault: the agent never reaches ECS"
            LOG.info("instance %s: (fault) its agent never registers", instance.instance_id)
            return
        if principal is None:
            instance.state, instance.why = "failed", why
            LOG.warning("instance %s: %s; the ECS agent cannot register", instance.instance_id, instance.why)
            return
        instance.principal = principal
        ecs = self.sandbox.client("ecs", principal)
        document = json.dumps(
            {
                "instanceId": instance.instance_id,
                "region": self.region,
                "accountId": self.account,
                "instanceType": described.get("InstanceType"),
                "imageId": described.get("ImageId"),
            }
        )
        for attempt in range(3):
            try:
                registered = ecs.register_container_instance(cluster=cluster, instanceIdentityDocument=document)
                break
            except Exception as e:  # noqa: BLE001 - the real agent logs and retries
                instance.why = f"RegisterContainerInstance in {cluster}: {e}"
                LOG.warning("instance %s: %s", instance.instance_id, instance.why)
                time.sleep(1 + attempt)
        else:
            instance.state = "failed"
            return
        arn = registered["containerInstance"]["containerInstanceArn"]
        instance.gpus = self._gpus(instance, described, config)
        if instance.gpus:
            _register_gpus(self.account, self.region, cluster, arn, instance.gpus)
        seconds = FAULTS.take_listed("agent_disconnect")
        if seconds is not None:
            _set_agent_connected(self.account, self.region, cluster, arn, False)
            LOG.info("instance %s: (fault) its agent disconnects for %s s", instance.instance_id, seconds)
            threading.Timer(seconds, self._reconnect, args=(instance, cluster, arn)).start()
        with self.lock:
            instance.container_instance_arn = arn
            instance.state = "registered"
            self.instance_changed(instance, seconds is None, 0, 0, registered=True)
        LOG.info("instance %s joined cluster %s", instance.instance_id, cluster)

    def _memory_by_group(self) -> dict[int, int]:
        """Resident bytes by process group (each container is one: container.py starts it in its own session),
        read from /proc at most once a second, and only while a container runs."""
        now = time.monotonic()
        if not any(t.process is not None and t.process.poll() is None for t in self.running.values()):
            return {}
        if now - getattr(self, "_rss_at", 0.0) < 1.0:
            return getattr(self, "_rss", {})
        groups: dict[int, int] = {}
        page = os.sysconf("SC_PAGE_SIZE")
        for name in os.listdir("/proc"):
            if not name.isdigit():
                continue
            try:
                with open(f"/proc/{name}/stat", "rb") as f:
                    data = f.read()
            except OSError:
                continue
            fields = data[data.rfind(b")") + 2 :].split()
            if len(fields) > 21:
                # After the command: state, ppid, pgrp (3rd) … rss in pages (22nd; proc(5), fields 3 and 24).
                groups[int(fields[2])] = groups.get(int(fields[2]), 0) + int(fields[21]) * page
        self._rss_at, self._rss = now, groups
        return groups

    def _gpus(self, instance: Instance, described: dict, config: dict[str, str]) -> list[str]:
        """The GPU ids the agent registers: an instance type's NVIDIA GPUs, when the instance runs the ECS
        GPU-optimized AMI (the standard one has no NVIDIA driver) and its ecs.config enables GPU support
        (ECS_ENABLE_GPU_SUPPORT, "Amazon ECS container agent configuration"); none otherwise."""
        kind = described.get("InstanceType")
        types = self.ec2.describe_instance_types(InstanceTypes=[kind])["InstanceTypes"] if kind else []
        gpu_info = (types[0].get("GpuInfo") if types else None) or {}
        count = sum(g.get("Count", 0) for g in gpu_info.get("Gpus", []) if g.get("Manufacturer") == "NVIDIA")
        if not count:
            return []
        images = self.ec2.describe_images(ImageIds=[described.get("ImageId", "")])["Images"]
        name = images[0].get("Name", "") if images else ""
        if "-ecs-gpu-" not in name:
            LOG.info("instance %s: %s has %d GPU(s), but its AMI %s has no NVIDIA driver", instance.instance_id, kind, count, name)
            return []
        if config.get("ECS_ENABLE_GPU_SUPPORT", "").lower() != "true":
            LOG.info("instance %s: ECS_ENABLE_GPU_SUPPORT is not true: its GPUs are not registered", instance.instance_id)
            return []
        return [f"GPU-{uuid.uuid5(uuid.NAMESPACE_OID, f'{instance.instance_id}/{n}')}" for n in range(count)]

    def _reconnect(self, instance: Instance, cluster: str, arn: str) -> None:
        _set_agent_connected(self.account, self.region, cluster, arn, True)
        with self.lock:
            self.instance_changed(instance, True, 0, 0)

    def _halt(self, instance: Instance, cause: Optional[str]) -> None:
        """The instance shut itself down: EC2 stops it or terminates it, as launched. `cause`: what the instance
        lacked (its metadata credentials), if the sandbox knows."""
        behavior = self.ec2.describe_instance_attribute(InstanceId=instance.instance_id, Attribute="instanceInitiatedShutdownBehavior")
        terminate = behavior.get("InstanceInitiatedShutdownBehavior", {}).get("Value") == "terminate"
        if terminate:
            self.ec2.terminate_instances(InstanceIds=[instance.instance_id])
        else:
            self.ec2.stop_instances(InstanceIds=[instance.instance_id])
        shut = f"its user data shut it down ({'terminated' if terminate else 'stopped'})"
        instance.state, instance.why = "failed", f"{cause}; {shut}" if cause else shut
        LOG.info("instance %s: %s", instance.instance_id, instance.why)

    def _instance_profile(self, instance_id: str, described: dict) -> Optional[str]:
        """The instance profile EC2 launched the instance with (on an instance, the metadata service has it from
        the start; moto attaches it a moment after the instance shows up, so it is looked up again)."""
        for _ in range(20):
            profile = (described.get("IamInstanceProfile") or {}).get("Arn")
            if profile:
                return profile
            time.sleep(0.25)
            reservations = self.ec2.describe_instances(InstanceIds=[instance_id])["Reservations"]
            described = reservations[0]["Instances"][0] if reservations else {}
        return None

    # -- what tests ask for -----------------------------------------------------------------------------------------

    def running_tasks(self) -> list[dict[str, Any]]:
        with self.lock:
            return [{"task_arn": arn, "instance_id": t.instance_id, "cluster": t.cluster} for arn, t in self.running.items()]

    def stopping(self) -> int:
        """Tasks whose container has exited (or never started) and that the agent's next tick stops: their STOPPED
        events are still to come."""
        with self.lock:
            return sum(
                1
                for t in self.running.values()
                if t.process is None or t.process.poll() is not None
            )

    def instance_states(self) -> dict[str, dict[str, Any]]:
        with self.lock:
            return {i.instance_id: {"state": i.state, "cluster": i.cluster, "why": i.why} for i in self.instances.values()}

    def interrupt(self, task_arn: str) -> bool:
        """EC2 reclaims the spot instance under a task: the interruption warning, then (two minutes later, scaled)
        the instance is terminated, and ECS reports the task stopped with its host."""
        with self.lock:
            task = self.running.get(task_arn)
            if task is None:
                return False
            instance_id = task.instance_id
        arn = f"arn:aws:ec2:{self.region}:{self.account}:instance/{instance_id}"
        self.events.put_events(
            Entries=[
                {
                    "Source": "aws.ec2",
                    "DetailType": "EC2 Spot Instance Interruption Warning",
                    "Detail": json.dumps({"instance-id": instance_id, "instance-action": "terminate"}),
                    "Resources": [arn],
                }
            ]
        )

        def reclaim() -> None:
            self.ec2.terminate_instances(InstanceIds=[instance_id])
            LOG.info("EC2 reclaimed the spot instance %s", instance_id)

        threading.Timer(FAULTS.scaled(120), reclaim).start()
        return True

    def redeliver(self, task_arn: str) -> bool:
        entry = self.stopped_events.get(task_arn)
        if entry is None:
            return False
        self.events.put_events(Entries=[entry])
        return True

    def report_executions(self) -> None:
        """Step Functions' "Execution Status Change" event when an execution ends (moto sends none)."""
        for machine in self.sandbox.state_machine_arns():
            pages = self.sfn.get_paginator("list_executions").paginate(stateMachineArn=machine)
            for execution in (e for page in pages for e in page["executions"]):
                arn, status = execution["executionArn"], execution["status"]
                if self.execution_status.get(arn) == status:
                    continue
                self.execution_status[arn] = status
                if status == "RUNNING":
                    continue
                described = self.sfn.describe_execution(executionArn=arn)
                detail = {"executionArn": arn, "stateMachineArn": machine, "name": execution["name"], "status": status, "input": described.get("input")}
                self.events.put_events(
                    Entries=[{"Source": "aws.states", "DetailType": "Step Functions Execution Status Change", "Detail": json.dumps(detail), "Resources": [arn]}]
                )
                LOG.info("execution %s ended %s", execution["name"], status)

    def shutdown(self) -> None:
        self.stop.set()
        for task in list(self.running.values()):
            if task.process is not None:
                _kill(task.process)
        for instance in list(self.instances.values()):
            if instance.user_data is not None and instance.user_data.poll() is None:
                _kill(instance.user_data)


def _root_volume_gib(ec2, described: dict) -> int:
    """The size of the instance's root volume (its launch's BlockDeviceMappings, or the AMI's 30 GiB)."""
    root = described.get("RootDeviceName")
    ids = [m["Ebs"]["VolumeId"] for m in described.get("BlockDeviceMappings", []) if m.get("DeviceName") == root and "Ebs" in m]
    if not ids:
        return 30
    return int(ec2.describe_volumes(VolumeIds=ids[:1])["Volumes"][0]["Size"])


def _user_data(account: str, region: str, instance_id: str) -> bool:
    """Whether EC2 holds user data for the instance (read in-process: a thousand instances are a thousand calls)."""
    from moto.ec2.models import ec2_backends

    return bool(getattr(ec2_backends[account][region].get_instance(instance_id), "user_data", None))


def _gone(account: str, region: str, instance_id: str) -> bool:
    """Whether EC2 has stopped or terminated the instance (read in-process, as _user_data)."""
    from moto.ec2.models import ec2_backends

    try:
        state = ec2_backends[account][region].get_instance(instance_id).state
    except Exception:  # noqa: BLE001 - no longer listed at all
        return True
    return state in ("shutting-down", "terminated", "stopping", "stopped")


def _die_before_boot(account: str, region: str, instance_id: str) -> None:
    """(Fault) EC2 ends an instance before it boots, as it does now and then ("Troubleshoot Amazon EC2 instance
    launch issues": an instance that goes from pending to terminated, with a state reason such as
    Server.InternalError or Server.InsufficientInstanceCapacity)."""
    from moto.ec2.models import ec2_backends
    from moto.ec2.models.instances import StateReason

    instance = ec2_backends[account][region].get_instance(instance_id)
    instance.terminate()
    instance.state_reason = StateReason("Server.InternalError: Internal error on launch", "Server.InternalError")
    instance._reason = "Server.InternalError: Internal error on launch"
    LOG.info("instance %s: (fault) EC2 ended it before it booted", instance_id)


def _kill(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        pass


def _ecs_config(text: str) -> dict[str, str]:
    config = {}
    for line in text.splitlines():
        if "=" in line and not line.lstrip().startswith("#"):
            key, value = line.split("=", 1)
            config[key.strip()] = value.strip()
    return config


def _memory_bytes(described: Optional[dict]) -> float:
    """An instance's memory (its type's, as DescribeInstanceTypes says); unbounded for an unknown type."""
    from moto.ec2.models.instance_types import INSTANCE_TYPES

    kind = (described or {}).get("InstanceType", "")
    mib = ((INSTANCE_TYPES.get(kind) or {}).get("MemoryInfo") or {}).get("SizeInMiB")
    return float(mib) * 1024 * 1024 if mib else float("inf")


def _register_gpus(account: str, region: str, cluster: str, arn: str, gpus: list[str]) -> None:
    """The container instance's GPU resource, as ECS lists it (registeredResources: `GPU`, a STRINGSET of ids)."""
    from moto.ecs.models import ecs_backends

    instance = ecs_backends[account][region].container_instances.get(cluster, {}).get(arn.split("/")[-1])
    if instance is not None:
        resource = {"doubleValue": 0.0, "integerValue": 0, "longValue": 0, "name": "GPU", "stringSetValue": list(gpus), "type": "STRINGSET"}
        instance.registered_resources.append(dict(resource))
        instance.remaining_resources.append(dict(resource))


def _set_agent_connected(account: str, region: str, cluster: str, arn: str, connected: bool) -> None:
    from moto.ecs.models import ecs_backends

    backend = ecs_backends[account][region]
    instance = backend.container_instances.get(cluster, {}).get(arn.split("/")[-1])
    if instance is not None:
        instance.agent_connected = connected
        LOG.info("container instance %s: agentConnected=%s", arn, connected)
