"""template.yaml → a deployed stack in moto, the way `sam deploy` would make it.

The SAM template is transformed by AWS's own translator (aws-sam-translator, what `sam deploy` and CloudFormation
run), after the packaging `sam package` does (function code and the state machine's definition file become
artifacts). The plain CloudFormation that comes out is then created resource by resource, with its intrinsic
functions resolved, so the roles, policies, permissions, rules, queues and settings the sandbox runs with are
exactly those the template asks for. Several stacks can live in one account, as on AWS.

Physical names follow one rule (`<stack>-<logical id>`, lowercased for buckets; functions `<stack>-<binary>`), where
CloudFormation would add a random suffix. A name longer than its type allows is cut and given a suffix, as
CloudFormation does for generated names ("Name type": it "generates a unique physical ID"), so a long stack name
(CloudFormation allows 128 characters) deploys here only if the template's own names fit their limits. A stack's
id ends in a UUID of its own, as CloudFormation's do.
"""

from __future__ import annotations

import copy
import hashlib
import io
import json
import logging
import os
import re
import uuid
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

LOG = logging.getLogger("ecsub.sandbox.stack")

#: The resource types the sandbox can create (what template.yaml uses after SAM's transform).
SUPPORTED = {
    "AWS::S3::Bucket",
    "AWS::SQS::Queue",
    "AWS::SQS::QueuePolicy",
    "AWS::IAM::Role",
    "AWS::IAM::ManagedPolicy",
    "AWS::IAM::InstanceProfile",
    "AWS::Lambda::Function",
    "AWS::Lambda::Permission",
    "AWS::Lambda::EventInvokeConfig",
    "AWS::Lambda::EventSourceMapping",
    "AWS::StepFunctions::StateMachine",
    "AWS::Events::Rule",
    "AWS::CloudWatch::Alarm",
    "AWS::Logs::LogGroup",
}


@dataclass
class Function:
    logical: str
    name: str
    arn: str
    binary: str
    role_arn: str
    env: dict[str, str]
    timeout: int
    memory: int
    max_retries: int = 2
    max_event_age: int = 21600
    on_failure: Optional[str] = None  # destination ARN
    reserved: Optional[int] = None  # ReservedConcurrentExecutions; None: the account's unreserved concurrency


@dataclass
class QueueMapping:
    """An event source mapping from an SQS queue to a function (AWS::Lambda::EventSourceMapping)."""

    function: str  # the function's name
    queue_arn: str
    batch_size: int = 10
    window_seconds: float = 0.0
    partial_failures: bool = False  # FunctionResponseTypes: ReportBatchItemFailures
    max_concurrency: int = 2


@dataclass
class Stack:
    name: str
    parameters: dict[str, str]
    region: str
    account: str
    resources: dict[str, dict[str, Any]] = field(default_factory=dict)
    refs: dict[str, str] = field(default_factory=dict)
    attrs: dict[str, dict[str, str]] = field(default_factory=dict)
    functions: dict[str, Function] = field(default_factory=dict)
    mappings: list[QueueMapping] = field(default_factory=list)
    outputs: dict[str, str] = field(default_factory=dict)
    conditions: dict[str, bool] = field(default_factory=dict)
    parameter_types: dict[str, str] = field(default_factory=dict)

    @property
    def pseudo(self) -> dict[str, str]:
        return {
            "AWS::Region": self.region,
            "AWS::AccountId": self.account,
            "AWS::Partition": "aws",
            "AWS::StackName": self.name,
            "AWS::StackId": f"arn:aws:cloudformation:{self.region}:{self.account}:stack/{self.name}/{uuid.uuid5(uuid.NAMESPACE_URL, self.name)}",
            "AWS::URLSuffix": "amazonaws.com",
        }

    def of_type(self, kind: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.resources.items() if v["Type"] == kind}

    def info(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "parameters": self.parameters,
            "outputs": self.outputs,
            "functions": {f.logical: f.name for f in self.functions.values()},
            "resources": {k: self.refs.get(k) for k in self.resources},
        }


_NO_VALUE = object()


class Resolver:
    def __init__(self, stack: Stack) -> None:
        self.stack = stack

    def ref(self, name: str) -> Any:
        s = self.stack
        if name == "AWS::NoValue":
            return _NO_VALUE
        if name in s.pseudo:
            return s.pseudo[name]
        if name in s.parameters:
            if s.parameter_types.get(name, "String") == "CommaDelimitedList" or s.parameter_types.get(name, "").startswith("List<"):
                return [v.strip() for v in s.parameters[name].split(",")]
            return s.parameters[name]
        if name in s.refs:
            return s.refs[name]
        raise KeyError(f"Ref {name}: no such parameter or resource")

    def condition(self, value: Any) -> bool:
        if isinstance(value, str):
            return self.stack.conditions[value]
        if isinstance(value, dict):
            (fn, args), = value.items()
            if fn == "Fn::Equals":
                a, b = (self.resolve(x) for x in args)
                return str(a) == str(b)
            if fn == "Fn::Not":
                return not self.condition(args[0])
            if fn == "Fn::And":
                return all(self.condition(a) for a in args)
            if fn == "Fn::Or":
                return any(self.condition(a) for a in args)
            if fn == "Condition":
                return self.stack.conditions[args]
        raise ValueError(f"not a condition: {value!r}")

    def sub(self, text: str, variables: dict[str, Any]) -> str:
        def replace(m: re.Match) -> str:
            name = m.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                return str(variables[name])
            if "." in name:
                logical, attribute = name.split(".", 1)
                return str(self.stack.attrs[logical][attribute])
            return str(self.ref(name))

        return re.sub(r"\$\{([^}]+)\}", replace, text)

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            out = [self.resolve(v) for v in value]
            return [v for v in out if v is not _NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            (fn, args), = value.items()
            if fn == "Ref":
                return self.ref(args)
            if fn == "Fn::GetAtt":
                logical, attribute = args if isinstance(args, list) else args.split(".", 1)
                try:
                    return self.stack.attrs[logical][attribute]
                except KeyError:
                    raise KeyError(f"Fn::GetAtt {logical}.{attribute} is not emulated") from None
            if fn == "Fn::Sub":
                if isinstance(args, str):
                    return self.sub(args, {})
                text, variables = args
                return self.sub(text, {k: self.resolve(v) for k, v in variables.items()})
            if fn == "Fn::Join":
                sep, items = args
                return str(self.resolve(sep)).join(str(i) for i in self.resolve(items))
            if fn == "Fn::Split":
                sep, text = args
                return str(self.resolve(text)).split(str(self.resolve(sep)))
            if fn == "Fn::Select":
                index, items = args
                return self.resolve(items)[int(self.resolve(index))]
            if fn == "Fn::If":
                name, yes, no = args
                return self.resolve(yes if self.stack.conditions[name] else no)
            if fn == "Fn::GetAZs":
                return [f"{self.stack.region}{z}" for z in "abc"]
            if fn == "Fn::Base64":
                import base64

                return base64.b64encode(str(self.resolve(args)).encode()).decode()
            if fn == "Fn::ToJsonString":
                return json.dumps(self.resolve(args))
            if fn.startswith("Fn::"):
                raise ValueError(f"{fn} is not emulated")
        out = {k: self.resolve(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if v is not _NO_VALUE}


def load_sam(template_path: Path) -> dict:
    from samtranslator.yaml_helper import yaml_parse

    return yaml_parse(template_path.read_text())


def package(template: dict, repo: Path) -> tuple[dict, dict[str, str]]:
    """What `sam package` does: function code becomes an artifact in S3 and the state machine's definition file is
    read in. Returns the packaged template and each function's binary (from its cargo-lambda build metadata)."""
    packaged = copy.deepcopy(template)
    binaries: dict[str, str] = {}
    for logical, resource in packaged["Resources"].items():
        if resource["Type"] == "AWS::Serverless::Function":
            binaries[logical] = resource.get("Metadata", {}).get("BuildProperties", {}).get("Binary", logical)
            resource["Properties"]["CodeUri"] = f"s3://sandbox-artifacts/{binaries[logical]}.zip"
        if resource["Type"] == "AWS::Serverless::StateMachine":
            properties = resource["Properties"]
            uri = properties.pop("DefinitionUri")
            properties["Definition"] = json.loads((repo / uri).read_text())
    return packaged, binaries


def transform(template: dict, parameters: dict[str, str], region: str) -> dict:
    from samtranslator.translator.transform import transform as sam_transform

    class NoManagedPolicyNames:
        # The template names managed policies by ARN, so the translator never needs to look names up.
        def load(self) -> dict:
            return {}

    os.environ.setdefault("AWS_DEFAULT_REGION", region)
    return sam_transform(template, parameters, NoManagedPolicyNames())


def deploy(
    template_path: Path,
    repo: Path,
    name: str,
    parameters: dict[str, str],
    region: str,
    account: str,
    client: Callable[[str], Any],
) -> Stack:
    """Creates the stack `name` from the template; `client(service)` gives boto3 clients of the deploying user."""
    sam = load_sam(template_path)
    declared = sam.get("Parameters", {})
    unknown = set(parameters) - set(declared)
    if unknown:
        raise ValueError(f"stack {name}: the template has no parameters {sorted(unknown)}")
    values = {k: str(spec.get("Default", "")) for k, spec in declared.items() if "Default" in spec}
    values.update(parameters)
    missing = set(declared) - set(values)
    if missing:
        raise ValueError(f"stack {name}: no value for the parameters {sorted(missing)}")
    for key, spec in declared.items():
        _check_parameter(name, key, spec, values[key])
    packaged, binaries = package(sam, repo)
    cfn = transform(packaged, dict(values), region)
    stack = Stack(name=name, parameters=values, region=region, account=account)
    stack.parameter_types = {k: spec.get("Type", "String") for k, spec in declared.items()}
    stack.resources = cfn["Resources"]
    unsupported = {r["Type"] for r in stack.resources.values()} - SUPPORTED
    if unsupported:
        raise ValueError(f"stack {name}: the sandbox cannot create {sorted(unsupported)}")
    resolver = Resolver(stack)
    for condition, expression in cfn.get("Conditions", {}).items():
        stack.conditions[condition] = resolver.condition(expression)
    stack.resources = {
        k: v for k, v in stack.resources.items() if "Condition" not in v or stack.conditions[v["Condition"]]
    }
    _name_everything(stack, binaries, resolver)
    _create(stack, resolver, client, binaries)
    for key, output in cfn.get("Outputs", {}).items():
        if "Condition" in output and not stack.conditions[output["Condition"]]:
            continue
        stack.outputs[key] = str(resolver.resolve(output["Value"]))
    return stack


def _check_parameter(stack: str, key: str, spec: dict, value: str) -> None:
    kind = spec.get("Type", "String")
    if kind == "Number":
        number = float(value)
        if "MinValue" in spec and number < float(spec["MinValue"]):
            raise ValueError(f"stack {stack}: {key}={value} is below its MinValue {spec['MinValue']}")
        if "MaxValue" in spec and number > float(spec["MaxValue"]):
            raise ValueError(f"stack {stack}: {key}={value} is above its MaxValue {spec['MaxValue']}")
    if "AllowedPattern" in spec and kind == "String" and not re.fullmatch(spec["AllowedPattern"], value):
        raise ValueError(f"stack {stack}: {key}={value!r} does not match {spec['AllowedPattern']}")
    if "AllowedValues" in spec and value not in [str(v) for v in spec["AllowedValues"]]:
        raise ValueError(f"stack {stack}: {key}={value!r} is not one of {spec['AllowedValues']}")


#: The longest name of each type CloudFormation may generate (each service's own limit).
NAME_LIMITS = {
    "AWS::S3::Bucket": 63,
    "AWS::SQS::Queue": 80,
    "AWS::IAM::Role": 64,
    "AWS::IAM::ManagedPolicy": 128,
    "AWS::IAM::InstanceProfile": 128,
    "AWS::Lambda::Function": 64,
    "AWS::StepFunctions::StateMachine": 80,
    "AWS::Events::Rule": 64,
    "AWS::Logs::LogGroup": 512,
}


def generated(name: str, kind: str) -> str:
    """A generated name that fits its type: cut, with a suffix that keeps it unique, when it is too long."""
    limit = NAME_LIMITS.get(kind, 255)
    if len(name) <= limit:
        return name
    suffix = hashlib.sha256(name.encode()).hexdigest()[:12].upper()
    return f"{name[: limit - len(suffix) - 1]}-{suffix}"


def _name_everything(stack: Stack, binaries: dict[str, str], resolver: "Resolver") -> None:
    """Physical names and attributes, known before anything is created (so references resolve in any order). A
    name given by an intrinsic function (a log group named after its function) is resolved in a second pass."""
    r, a, n = stack.region, stack.account, stack.name
    named_by_others = []
    for logical, resource in stack.resources.items():
        props = resource.get("Properties", {})
        if any(isinstance(v, dict) for k, v in props.items() if k.endswith("Name")):
            named_by_others.append(logical)
    for logical, resource in sorted(stack.resources.items(), key=lambda kv: kv[0] in named_by_others):
        kind = resource["Type"]
        props = resource.get("Properties", {})
        if logical in named_by_others:
            props = {k: resolver.resolve(v) if k.endswith("Name") else v for k, v in props.items()}
        base = generated(f"{n}-{logical}", kind)
        if kind == "AWS::S3::Bucket":
            bucket = props.get("BucketName") or base.lower()
            stack.refs[logical] = bucket
            stack.attrs[logical] = {"Arn": f"arn:aws:s3:::{bucket}", "DomainName": f"{bucket}.s3.amazonaws.com"}
        elif kind == "AWS::SQS::Queue":
            queue = props.get("QueueName") or base
            stack.refs[logical] = f"https://sqs.{r}.amazonaws.com/{a}/{queue}"
            stack.attrs[logical] = {"Arn": f"arn:aws:sqs:{r}:{a}:{queue}", "QueueName": queue, "QueueUrl": stack.refs[logical]}
        elif kind == "AWS::IAM::Role":
            role = props.get("RoleName") or base
            path = props.get("Path", "/")
            stack.refs[logical] = role
            stack.attrs[logical] = {"Arn": f"arn:aws:iam::{a}:role{path}{role}", "RoleId": f"AROA{logical.upper()[:16]}"}
        elif kind == "AWS::IAM::ManagedPolicy":
            policy = props.get("ManagedPolicyName") or base
            stack.refs[logical] = f"arn:aws:iam::{a}:policy/{policy}"
            stack.attrs[logical] = {"PolicyArn": stack.refs[logical]}
        elif kind == "AWS::IAM::InstanceProfile":
            profile = props.get("InstanceProfileName") or base
            stack.refs[logical] = profile
            stack.attrs[logical] = {"Arn": f"arn:aws:iam::{a}:instance-profile{props.get('Path', '/')}{profile}"}
        elif kind == "AWS::Lambda::Function":
            function = props.get("FunctionName") or generated(f"{n}-{binaries.get(logical, logical)}", kind)
            stack.refs[logical] = function
            stack.attrs[logical] = {"Arn": f"arn:aws:lambda:{r}:{a}:function:{function}"}
        elif kind == "AWS::StepFunctions::StateMachine":
            machine = props.get("StateMachineName") or base
            arn = f"arn:aws:states:{r}:{a}:stateMachine:{machine}"
            stack.refs[logical] = arn
            stack.attrs[logical] = {"Arn": arn, "Name": machine}
        elif kind == "AWS::Events::Rule":
            rule = props.get("Name") or base
            stack.refs[logical] = rule
            stack.attrs[logical] = {"Arn": f"arn:aws:events:{r}:{a}:rule/{rule}"}
        elif kind == "AWS::Logs::LogGroup":
            group = props.get("LogGroupName") or base
            stack.refs[logical] = group
            stack.attrs[logical] = {"Arn": f"arn:aws:logs:{r}:{a}:log-group:{group}:*"}
        else:
            stack.refs[logical] = base
            stack.attrs[logical] = {}


_ORDER = [
    "AWS::S3::Bucket",
    "AWS::SQS::Queue",
    "AWS::SQS::QueuePolicy",
    "AWS::Logs::LogGroup",
    "AWS::IAM::ManagedPolicy",
    "AWS::IAM::Role",
    "AWS::IAM::InstanceProfile",
    "AWS::Lambda::Function",
    "AWS::Lambda::EventInvokeConfig",
    "AWS::Lambda::EventSourceMapping",
    "AWS::Lambda::Permission",
    "AWS::StepFunctions::StateMachine",
    "AWS::Events::Rule",
    "AWS::CloudWatch::Alarm",
]


def _versioned(document: dict) -> str:
    """IAM accepts a policy without Version (it is then the 2008-10-17 language: IAM JSON policy reference,
    "Version"), and SAM generates such policies (LambdaInvokePolicy, the EventInvokeConfig destination's); moto
    refuses them. The two languages differ only in policy variables, which these policies do not use."""
    return json.dumps({"Version": "2012-10-17", **document} if "Version" not in document else document)


def _dummy_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("bootstrap", "#!/bin/sh\n# the sandbox runs the real binary instead\n")
    return buffer.getvalue()


def _create(stack: Stack, resolver: Resolver, client: Callable[[str], Any], binaries: dict[str, str]) -> None:
    ordered = sorted(stack.resources.items(), key=lambda kv: _ORDER.index(kv[1]["Type"]))
    attach_later: list[tuple[str, str, str]] = []
    for logical, resource in ordered:
        props = resolver.resolve(resource.get("Properties", {}))
        kind = resource["Type"]
        physical = stack.refs[logical]
        if kind == "AWS::S3::Bucket":
            s3 = client("s3")
            s3.create_bucket(Bucket=physical)
            if props.get("NotificationConfiguration", {}).get("EventBridgeConfiguration", {}).get("EventBridgeEnabled"):
                s3.put_bucket_notification_configuration(Bucket=physical, NotificationConfiguration={"EventBridgeConfiguration": {}})
            rules = props.get("LifecycleConfiguration", {}).get("Rules", [])
            if rules:
                # CloudFormation's rule (Id, Status, Prefix, ExpirationInDays) in S3's own shape. The emulated clock
                # never reaches a day: the rules are kept, not run.
                s3.put_bucket_lifecycle_configuration(
                    Bucket=physical,
                    LifecycleConfiguration={
                        "Rules": [
                            {"ID": r["Id"], "Status": r["Status"], "Filter": {"Prefix": r.get("Prefix", "")}, "Expiration": {"Days": int(r["ExpirationInDays"])}}
                            for r in rules
                        ]
                    },
                )
        elif kind == "AWS::SQS::Queue":
            attributes = {k: str(v) for k, v in props.items() if k in ("MessageRetentionPeriod", "VisibilityTimeout", "SqsManagedSseEnabled")}
            client("sqs").create_queue(QueueName=stack.attrs[logical]["QueueName"], Attributes=attributes)
        elif kind == "AWS::SQS::QueuePolicy":
            for url in props["Queues"]:
                client("sqs").set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(props["PolicyDocument"])})
        elif kind == "AWS::Logs::LogGroup":
            logs = client("logs")
            logs.create_log_group(logGroupName=physical)
            if "RetentionInDays" in props:
                logs.put_retention_policy(logGroupName=physical, retentionInDays=int(props["RetentionInDays"]))
        elif kind == "AWS::IAM::Role":
            iam = client("iam")
            iam.create_role(
                RoleName=physical,
                Path=props.get("Path", "/"),
                AssumeRolePolicyDocument=json.dumps(props["AssumeRolePolicyDocument"]),
                Tags=props.get("Tags", []),
            )
            for policy in props.get("Policies", []):
                iam.put_role_policy(RoleName=physical, PolicyName=policy["PolicyName"], PolicyDocument=_versioned(policy["PolicyDocument"]))
            for arn in props.get("ManagedPolicyArns", []):
                iam.attach_role_policy(RoleName=physical, PolicyArn=arn)
        elif kind == "AWS::IAM::ManagedPolicy":
            # Made before the roles that name it in ManagedPolicyArns; the roles it names itself are attached last.
            iam = client("iam")
            iam.create_policy(PolicyName=physical.split("/")[-1], PolicyDocument=_versioned(props["PolicyDocument"]))
            attach_later.extend(("role", role, physical) for role in props.get("Roles", []))
            attach_later.extend(("user", user, physical) for user in props.get("Users", []))
        elif kind == "AWS::IAM::InstanceProfile":
            iam = client("iam")
            iam.create_instance_profile(InstanceProfileName=physical, Path=props.get("Path", "/"))
            for role in props.get("Roles", []):
                iam.add_role_to_instance_profile(InstanceProfileName=physical, RoleName=role)
        elif kind == "AWS::Lambda::Function":
            env = {k: str(v) for k, v in props.get("Environment", {}).get("Variables", {}).items()}
            client("lambda").create_function(
                FunctionName=physical,
                Runtime=props.get("Runtime", "provided.al2023"),
                Role=props["Role"],
                Handler=props.get("Handler", "bootstrap"),
                Code={"ZipFile": _dummy_zip()},
                Environment={"Variables": env},
                Timeout=int(props.get("Timeout", 3)),
                MemorySize=int(props.get("MemorySize", 128)),
                Architectures=props.get("Architectures", ["x86_64"]),
            )
            stack.functions[logical] = Function(
                logical=logical,
                name=physical,
                arn=stack.attrs[logical]["Arn"],
                binary=binaries.get(logical, logical),
                role_arn=props["Role"],
                env=env,
                timeout=int(props.get("Timeout", 3)),
                memory=int(props.get("MemorySize", 128)),
                reserved=int(props["ReservedConcurrentExecutions"]) if "ReservedConcurrentExecutions" in props else None,
            )
        elif kind == "AWS::Lambda::EventInvokeConfig":
            target = next(f for f in stack.functions.values() if f.name == props["FunctionName"] or f.arn == props["FunctionName"])
            target.max_retries = int(props.get("MaximumRetryAttempts", 2))
            target.max_event_age = int(props.get("MaximumEventAgeInSeconds", 21600))
            target.on_failure = props.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
        elif kind == "AWS::Lambda::EventSourceMapping":
            source = props["EventSourceArn"]
            if ":sqs:" not in source:
                raise ValueError(f"stack {stack.name}: {logical}: only SQS event sources are emulated ({source})")
            target = next(f for f in stack.functions.values() if f.name == props["FunctionName"] or f.arn == props["FunctionName"])
            batch = int(props.get("BatchSize", 10))
            window = float(props.get("MaximumBatchingWindowInSeconds", 0))
            # "Using Lambda with Amazon SQS": a standard queue's batch is 1 to 10 000, and more than 10 needs a
            # batching window of at least 1 second; MaximumConcurrency is 2 to 1 000.
            if not 1 <= batch <= 10_000 or (batch > 10 and window < 1):
                raise ValueError(f"stack {stack.name}: {logical}: BatchSize {batch} with MaximumBatchingWindowInSeconds {window}")
            concurrency = int(props.get("ScalingConfig", {}).get("MaximumConcurrency", 2))
            if not 2 <= concurrency <= 1000:
                raise ValueError(f"stack {stack.name}: {logical}: MaximumConcurrency {concurrency} (2 to 1 000)")
            stack.mappings.append(
                QueueMapping(
                    function=target.name,
                    queue_arn=source,
                    batch_size=batch,
                    window_seconds=window,
                    partial_failures="ReportBatchItemFailures" in props.get("FunctionResponseTypes", []),
                    max_concurrency=concurrency,
                )
            )
        elif kind == "AWS::Lambda::Permission":
            function = props["FunctionName"]
            arguments = {
                "FunctionName": function.split(":")[-1] if function.startswith("arn:") else function,
                "StatementId": logical,
                "Action": props["Action"],
                "Principal": props["Principal"],
            }
            if "SourceArn" in props:
                arguments["SourceArn"] = props["SourceArn"]
            client("lambda").add_permission(**arguments)
        elif kind == "AWS::StepFunctions::StateMachine":
            definition = props.get("Definition")
            text = json.dumps(definition) if definition is not None else props["DefinitionString"]
            for key, value in props.get("DefinitionSubstitutions", {}).items():
                text = text.replace("${" + key + "}", str(value))
            leftover = re.findall(r"\$\{[A-Za-z0-9]+\}", text)
            if leftover:
                raise ValueError(f"stack {stack.name}: {logical}: no substitution for {sorted(set(leftover))}")
            client("stepfunctions").create_state_machine(
                name=stack.attrs[logical]["Name"],
                definition=text,
                roleArn=props["RoleArn"],
                type=props.get("StateMachineType", "STANDARD"),
                tags=[{"key": t["Key"], "value": str(t["Value"])} for t in props.get("Tags", [])],
            )
        elif kind == "AWS::Events::Rule":
            events = client("events")
            arguments = {"Name": physical, "State": props.get("State", "ENABLED")}
            if "EventPattern" in props:
                arguments["EventPattern"] = json.dumps(props["EventPattern"])
            if "ScheduleExpression" in props:
                arguments["ScheduleExpression"] = props["ScheduleExpression"]
            if "Description" in props:
                arguments["Description"] = props["Description"]
            events.put_rule(**arguments)
            targets = []
            for target in props.get("Targets", []):
                entry = {k: v for k, v in target.items() if k in ("Id", "Arn", "Input", "InputPath", "InputTransformer", "RetryPolicy", "DeadLetterConfig")}
                targets.append(entry)
            if targets:
                events.put_targets(Rule=physical, Targets=targets)
        elif kind == "AWS::CloudWatch::Alarm":
            arguments = {k: v for k, v in props.items() if k in (
                "AlarmName", "AlarmDescription", "MetricName", "Namespace", "Statistic", "Period", "EvaluationPeriods",
                "Threshold", "ComparisonOperator", "TreatMissingData", "AlarmActions", "Dimensions",
            )}
            arguments.setdefault("AlarmName", physical)
            client("cloudwatch").put_metric_alarm(**arguments)
        LOG.info("stack %s: created %s %s", stack.name, kind, physical)
    for kind, name, policy in attach_later:
        if kind == "role":
            client("iam").attach_role_policy(RoleName=name, PolicyArn=policy)
        else:
            client("iam").attach_user_policy(UserName=name, PolicyArn=policy)
