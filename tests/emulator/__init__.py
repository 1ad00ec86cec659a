"""The emulated cloud: moto 5.2.5, patched to do what AWS does, behind an IAM gateway; the stack deployed from
template.yaml; the real handler binaries; EC2 instances and ECS containers as mount namespaces. See sandbox.py.

A package: run everything from the repository root with the venv's Python (tools/setup.sh makes .venv), as a
module, never by path:

    python -m tests.emulator.sandbox --dir DIR                    the cloud (tests/src/lib.rs, tests/sandbox.sh)
    python -m tests.emulator.tools.lint                           lint of the template and its policies
    python -m unittest discover -s tests/emulator/tests -t .      the emulator's own tests

Its rooms:
- sandbox.py, stack.py, control.py, faults.py: the harness, what tests talk to: the cloud, the stack it deploys,
  its control endpoint and the faults a test injects;
- front/: the front door every request passes: the gateway, SigV4, IAM policy evaluation, the authorizations each
  operation needs, EC2's throttling;
- compute/: the instances and their ECS agent, the tasks' containers (mount namespaces), the credentials and
  metadata endpoints;
- services/: what moto lacks or gets wrong: the Lambda host, the Distributed Map, prices, EventBridge's targets;
- patches/: the patches to moto itself;
- tests/: the emulator's own tests (unittest);
- tools/: the venv's setup, the template's lint, a PNG inspector for the e2e tests; no emulation.
"""

from pathlib import Path

#: The repository's root: where template.yaml is, and where the entry points run from.
REPO = Path(__file__).resolve().parents[2]
