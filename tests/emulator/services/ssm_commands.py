"""Systems Manager Run Command on the emulated instances, which moto only records (every command "Success", no
output, on any instance id).

- A command is on the instances it names (moto's is on every instance when it names no Targets); one by Targets is
  refused here (not emulated).
- SendCommand with AWS-RunShellScript reaches only managed nodes ("Troubleshooting managed node availability"): a
  running instance whose SSM Agent can reach Systems Manager with its instance profile's credentials, which needs
  ssm:UpdateInstanceInformation, ssmmessages:* and ec2messages:* ("Configure instance permissions required for
  Systems Manager": AmazonSSMManagedInstanceCore). Any other is refused with InvalidInstanceId ("Instances
  [[i-…]] not in a valid state for account …", as the SendCommand reference lists it), and nothing runs.
- The command runs on the instance as root, in the instance's own filesystem (what its user data and its tasks'
  host volumes wrote), with the AWS-RunShellScript document's `commands` joined into one script; GetCommandInvocation
  answers InProgress until it ends, then Success or Failed with its exit code and its output (AWS keeps the first
  24 000 characters of standard output and 8 000 of standard error: "GetCommandInvocation").

The sandbox attaches its agent (`AGENT`) and principals (`PRINCIPALS`) when it starts.
"""

from __future__ import annotations

import datetime
import subprocess
import threading
from typing import Any, Optional

from ..compute import container
from ..front import iam

AGENT: Any = None
PRINCIPALS: Optional[iam.Principals] = None

#: What the SSM Agent does with the instance's credentials to be a managed node (AmazonSSMManagedInstanceCore).
AGENT_ACTIONS = ("ssm:UpdateInstanceInformation", "ssmmessages:CreateControlChannel", "ec2messages:GetMessages")
MAX_STDOUT = 24_000
MAX_STDERR = 8_000

_LOCK = threading.Lock()
_RESULTS: dict[tuple[str, str], dict[str, Any]] = {}


def managed(account: str, region: str, instance_id: str) -> Optional[str]:
    """Why the instance is not a managed node, or None if it is."""
    from moto.ec2.models import ec2_backends

    try:
        state = ec2_backends[account][region].get_instance(instance_id).state
    except Exception:  # noqa: BLE001 - EC2 does not know it
        return "no such instance"
    if state != "running":
        return f"it is {state}"
    instance = AGENT.instances.get(instance_id) if AGENT is not None else None
    if instance is None or instance.principal is None or PRINCIPALS is None:
        return "its SSM Agent has no credentials (no instance profile, or it has not booted)"
    try:
        iam.authorize(PRINCIPALS, instance.principal, [iam.Check(action, "*") for action in AGENT_ACTIONS])
    except iam.Denied as e:
        return f"its SSM Agent cannot reach Systems Manager: {e}"
    return None


def _run(command_id: str, instance_id: str, script: str) -> None:
    instance = AGENT.instances[instance_id]
    home = instance.home / "ssm" / command_id
    env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:" + container.POSIX_BIN, "HOME": "/root"}
    # /scratch is its own filesystem here (agent.py), bound as the instance's tasks have it.
    binds = container.tool_binds(AGENT.tools, False, False) + [[str(instance.home / "upper" / "scratch"), "/scratch", False]]
    process = container.start(home, ["/bin/sh", "-c", script], env, binds, upper=instance.home / "upper", log=home / "stdout")
    try:
        code = process.wait(600)
    except subprocess.TimeoutExpired:
        process.kill()
        code = process.wait()
    out = (home / "stdout").read_text(errors="replace")
    with _LOCK:
        _RESULTS[(command_id, instance_id)].update(
            {
                "Status": "Success" if code == 0 else "Failed",
                "StatusDetails": "Success" if code == 0 else "Failed",
                "ResponseCode": code,
                "StandardOutputContent": out[:MAX_STDOUT],
                "StandardErrorContent": "",
                "ExecutionEndDateTime": datetime.datetime.now(datetime.timezone.utc).isoformat(),
            }
        )


def patch_run_command() -> None:
    from moto.ssm.exceptions import SSMException as RESTError
    from moto.ssm.models import SimpleSystemManagerBackend

    original_send = SimpleSystemManagerBackend.send_command
    original_get = SimpleSystemManagerBackend.get_command_invocation

    def send_command(self, **kwargs: Any):
        document_name, instance_ids = kwargs.get("document_name"), kwargs.get("instance_ids") or []
        if document_name == "AWS-RunShellScript" and kwargs.get("targets"):
            # Not emulated: a command by Targets would reach instances without the managed-node check.
            raise RESTError("InvalidParameters", "the emulated cloud runs commands by InstanceIds only, not Targets")
        if document_name == "AWS-RunShellScript":
            refused = [i for i in instance_ids if managed(self.account_id, self.region_name, i)]
            if refused:
                raise RESTError(
                    "InvalidInstanceId",
                    f"Instances [{refused}] not in a valid state for account {self.account_id}",
                )
        # moto adds to the list it is given every instance its (empty) Targets match, which is all of them: it gets
        # a copy, and the command is on the instances named.
        instance_ids = list(dict.fromkeys(instance_ids))
        command = original_send(self, **{**kwargs, "instance_ids": list(instance_ids)})
        if not kwargs.get("targets"):
            command.instance_ids = instance_ids
            command.invocations = [i for i in command.invocations if i["InstanceId"] in instance_ids]
            command.completed_count = command.target_count = len(instance_ids)
        if document_name == "AWS-RunShellScript":
            script = "\n".join((kwargs.get("parameters") or {}).get("commands", []))
            for instance_id in instance_ids:
                with _LOCK:
                    _RESULTS[(command.command_id, instance_id)] = {
                        "CommandId": command.command_id,
                        "InstanceId": instance_id,
                        "DocumentName": document_name,
                        "PluginName": "aws:runShellScript",
                        "ResponseCode": -1,
                        "Status": "InProgress",
                        "StatusDetails": "InProgress",
                        "StandardOutputContent": "",
                        "StandardErrorContent": "",
                    }
                threading.Thread(target=_run, args=(command.command_id, instance_id, script), daemon=True).start()
        return command

    def get_command_invocation(self, command_id, instance_id, plugin_name):
        with _LOCK:
            found = _RESULTS.get((command_id, instance_id))
            if found is not None:
                return dict(found)
        return original_get(self, command_id, instance_id, plugin_name)

    SimpleSystemManagerBackend.send_command = send_command
    SimpleSystemManagerBackend.get_command_invocation = get_command_invocation
