"""Lints the stack, offline:
1. cfn-lint (pinned) on template.yaml, and on the state machine's ASL wrapped in a one-resource
   AWS::StepFunctions::StateMachine template (no cfn-lint version checks the ASL inside a SAM state machine);
2. least privilege: the template is transformed with SAM's own translator, and every statement of every policy it
   yields (the functions', the state machine's, the instances', the tasks', the users') is checked: no
   `Action: "*"` (nor `service:*`), and no `Resource: "*"` without a condition unless each of its actions is one
   that AWS's Service Authorization Reference gives no resource type (listed below, with why).
Exits non-zero with every finding. From the repository root: python -m tests.emulator.tools.lint"""

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from .. import REPO, stack

#: Actions with no resource-level permissions: "*" is the only Resource they accept.
RESOURCE_STAR_ONLY = {
    "ec2:DescribeInstances": "Describe* actions take no resource",
    "ec2:DescribeInstanceTypes": "Describe* actions take no resource",
    "ec2:DescribeSpotPriceHistory": "Describe* actions take no resource",
    "ec2:DescribeVpcs": "Describe* actions take no resource",
    "pricing:GetProducts": "the Price List API has no resource types",
    "ecs:RegisterTaskDefinition": "no resource type (the task definition does not exist yet)",
    "ecs:DeregisterTaskDefinition": "no resource type",
    "ecs:ListTaskDefinitions": "no resource type",
    "ecs:ListClusters": "no resource type",
    "states:SendTaskSuccess": "no resource type: the task token names the execution",
    "states:SendTaskFailure": "no resource type: the task token names the execution",
    "ssm:GetCommandInvocation": "no resource type: the command id names the command",
}


def cfn_lint() -> bool:
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
    return failed


def policies(resources: dict):
    """(where, statement) of every statement of every policy the template makes."""
    for logical, resource in resources.items():
        properties = resource.get("Properties", {})
        documents = []
        if resource["Type"] == "AWS::IAM::Role":
            documents = [(p["PolicyName"], p["PolicyDocument"]) for p in properties.get("Policies", [])]
        elif resource["Type"] in ("AWS::IAM::ManagedPolicy", "AWS::IAM::Policy"):
            documents = [(logical, properties["PolicyDocument"])]
        for name, document in documents:
            statements = document.get("Statement", [])
            for i, statement in enumerate(statements if isinstance(statements, list) else [statements]):
                if isinstance(statement, dict) and "Fn::If" in statement:
                    statement = statement["Fn::If"][1]  # the statement when its condition holds
                yield f"{logical}/{name}[{i}] {statement.get('Sid', '')}".rstrip(), statement


def as_list(value):
    return value if isinstance(value, list) else [value]


def least_privilege() -> bool:
    sam = stack.load_sam(REPO / "template.yaml")
    packaged, _ = stack.package(sam, REPO)
    cfn = stack.transform(packaged, {"DataBuckets": "data"}, "us-east-1")
    findings = []
    for where, statement in policies(cfn["Resources"]):
        actions = [a for a in as_list(statement.get("Action", [])) if isinstance(a, str)]
        for action in actions:
            if action == "*" or action.endswith(":*"):
                findings.append(f"{where}: Action {action!r} allows every action")
        if statement.get("Effect") != "Allow" or "Condition" in statement:
            continue
        if "*" in as_list(statement.get("Resource", [])):
            wide = [a for a in actions if a not in RESOURCE_STAR_ONLY]
            if wide:
                findings.append(f"{where}: Resource \"*\" without a condition for {wide} (they take narrower resources)")
    for finding in findings:
        print(f"lint: {finding}", file=sys.stderr)
    return bool(findings)


def main() -> int:
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    failed = cfn_lint()
    failed = least_privilege() or failed
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
