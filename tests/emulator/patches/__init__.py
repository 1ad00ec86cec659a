"""Patches to moto 5.2.5, pinned: check each again when moto is upgraded, and drop the one a release fixes.
- behaviour.py: moto made to answer what AWS answers (each patch numbered there, with the AWS document that says so);
- services/quotas.py: EC2's vCPU quotas, answered by Service Quotas and met by RunInstances;
- services/ssm_commands.py: Run Command on the emulated instances that are managed nodes;
- services/map_run.py: the Distributed Map as AWS runs it, patched into moto's interpreter beside the records it
  keeps;
- clocks.py: the services' clocks, a fraction of a second apart;
- speed.py: what a call costs, never what it answers.

apply() applies every one of them."""

from __future__ import annotations

from ..services import map_run, quotas, ssm_commands
from . import behaviour, clocks, speed

_APPLIED = False


def apply() -> None:
    """Patches moto, once per process (the emulator's own tests start several clouds in one process)."""
    global _APPLIED
    import moto

    if moto.__version__ != "5.2.5":
        raise RuntimeError(f"these patches are for moto 5.2.5, not {moto.__version__}: check them again")
    if _APPLIED:
        return
    _APPLIED = True
    # What moto answers (behaviour.py, in its docstring's order).
    behaviour.patch_stepfunctions()
    behaviour.patch_stepfunctions_credentials()
    behaviour.patch_stepfunctions_retry()
    behaviour.patch_states_all()
    behaviour.patch_stop_execution()
    behaviour.patch_send_task_failure()
    behaviour.patch_closed_tokens()
    behaviour.patch_ec2()
    behaviour.patch_ecs()
    behaviour.patch_events()
    behaviour.patch_s3_events()
    behaviour.patch_lambda()
    behaviour.patch_sqs()
    behaviour.patch_spot_price_history()
    quotas.patch_service_quotas()
    ssm_commands.patch_run_command()
    clocks.patch_s3_clock()
    # The Distributed Map (services/map_run.py); ResultWriter's input is replaced before its errors are named.
    map_run.patch_declared_tolerance()
    map_run.patch_map_run()
    map_run.patch_children()
    map_run.patch_result_writer()
    map_run.patch_result_writer_input()
    map_run.patch_reader_writer_errors()
    # What a call costs (speed.py).
    speed.patch_dispatcher()
    speed.patch_ec2_tags()
