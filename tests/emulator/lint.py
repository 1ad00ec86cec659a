"""Lints the stack: cfn-lint (pinned) on template.yaml, and on the state machine's ASL wrapped in a one-resource
AWS::StepFunctions::StateMachine template (no cfn-lint version checks the ASL inside a SAM state machine).
Exits non-zero, with cfn-lint's findings, if either has any."""

import json
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent.parent


def main() -> int:
    cfn_lint = Path(sys.executable).parent / "cfn-lint"
    failed = subprocess.run([str(cfn_lint), str(REPO / "template.yaml")]).returncode != 0
    for asl in sorted((REPO / "infra" / "statemachine").glob("*.asl.json")):
        text = asl.read_text()
        for name in ("LaunchFunctionArn", "FinalizeFunctionArn"):
            text = text.replace("${" + name + "}", f"arn:aws:lambda:us-east-1:123456789012:function:{name}")
        text = text.replace("${Partition}", "aws")
        wrapped = {
            "AWSTemplateFormatVersion": "2010-09-09",
            "Resources": {
                "Machine": {
                    "Type": "AWS::StepFunctions::StateMachine",
                    "Properties": {"RoleArn": "arn:aws:iam::123456789012:role/sfn", "Definition": json.loads(text)},
                }
            },
        }
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump(wrapped, f)
        if subprocess.run([str(cfn_lint), f.name]).returncode != 0:
            print(f"lint: {asl.relative_to(REPO)} has findings (above)", file=sys.stderr)
            failed = True
        Path(f.name).unlink()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
