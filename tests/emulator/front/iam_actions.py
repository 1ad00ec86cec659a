"""What each request asks IAM for: the operation, its parameters, and the authorizations AWS makes for it (actions
on resource ARNs, with condition keys), after the Service Authorization Reference
(docs.aws.amazon.com/service-authorization/latest/reference/). Covers the operations ecsub's code, its tests and the
emulated services call; anything else is checked against the resource "*" (see iam.py).
"""

from __future__ import annotations

import json
import re
import urllib.parse
from dataclasses import dataclass, field
from typing import Any, Optional

from .iam import Check

#: Protocol of each service's requests (how parameters arrive and how errors must look).
PROTOCOL = {
    "ec2": "ec2",
    "iam": "query",
    "sts": "query",
    "s3": "rest-xml",
    "lambda": "rest-json",
}  # everything else: "json" (X-Amz-Target)

#: The IAM service prefix of a SigV4 signing name, where they differ.
PREFIX = {"monitoring": "cloudwatch"}


@dataclass
class Request:
    service: str  # SigV4 signing name
    operation: str
    params: dict[str, Any]
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    region: str
    account: str
    partition: str = "aws"
    body: bytes = b""
    bucket: Optional[str] = None
    key: Optional[str] = None
    notes: dict[str, Any] = field(default_factory=dict)

    @property
    def protocol(self) -> str:
        return PROTOCOL.get(self.service, "json")

    def header(self, name: str) -> Optional[str]:
        return self.headers.get(name.lower())


def parse(environ: dict, body: bytes, account: str) -> Optional[Request]:
    """The request moto is about to serve, or None when it is not a signed AWS call."""
    auth = environ.get("HTTP_AUTHORIZATION", "")
    query = {k: v[0] for k, v in urllib.parse.parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True).items()}
    if "Credential=" in auth:
        scope = auth.split("Credential=", 1)[1].split(",", 1)[0].split("/")
    elif "X-Amz-Credential" in query:
        scope = query["X-Amz-Credential"].split("/")
    else:
        return None
    region, service = (scope[2], scope[3]) if len(scope) > 3 else ("us-east-1", "")
    headers = {k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")}
    if environ.get("CONTENT_TYPE"):
        headers["content-type"] = environ["CONTENT_TYPE"]
    method = environ.get("REQUEST_METHOD", "GET")
    # PATH_INFO is the path already percent-decoded, its bytes carried as latin-1 (PEP 3333): decoding it again
    # turned a key's "%41" into "A", and a UTF-8 key ("ü.txt") into mojibake that named no object.
    path = environ.get("PATH_INFO", "").encode("latin-1").decode("utf-8", "replace")
    request = Request(service, "", {}, method, path, query, headers, region, account, body=body)
    if request.protocol in ("ec2", "query"):
        form = {k: v[0] for k, v in urllib.parse.parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True).items()}
        request.params = {**query, **form}
        request.operation = request.params.get("Action", "")
    elif request.protocol == "json":
        target = headers.get("x-amz-target", "")
        request.operation = target.split(".")[-1]
        try:
            request.params = json.loads(body or b"{}")
        except ValueError:
            request.params = {}
    elif service == "s3":
        _parse_s3(request)
    elif service == "lambda":
        _parse_lambda(request)
    return request


def _parse_s3(r: Request) -> None:
    parts = r.path.lstrip("/").split("/", 1)
    r.bucket = parts[0] or None
    r.key = parts[1] if len(parts) > 1 and parts[1] else None
    q = r.query
    m = r.method
    if r.bucket is None:
        r.operation = "ListBuckets"
    elif r.key is None:
        if "list-type" in q or (m == "GET" and not any(k in q for k in ("location", "notification", "requestPayment", "uploads", "versioning", "policy", "acl", "tagging", "versions"))):
            r.operation = "ListObjectsV2" if q.get("list-type") == "2" else "ListObjects"
        elif "location" in q:
            r.operation = "GetBucketLocation"
        elif "notification" in q:
            r.operation = "PutBucketNotificationConfiguration" if m == "PUT" else "GetBucketNotificationConfiguration"
        elif "requestPayment" in q:
            r.operation = "PutBucketRequestPayment" if m == "PUT" else "GetBucketRequestPayment"
        elif "delete" in q and m == "POST":
            r.operation = "DeleteObjects"
        elif "uploads" in q:
            r.operation = "ListMultipartUploads"
        elif m == "PUT" and not q:
            r.operation = "CreateBucket"
        elif m == "HEAD":
            r.operation = "HeadBucket"
        elif m == "DELETE":
            r.operation = "DeleteBucket"
        else:
            r.operation = f"{m} bucket?{'&'.join(sorted(q))}"
    else:
        if m == "GET":
            r.operation = "ListParts" if "uploadId" in q else "GetObject"
        elif m == "HEAD":
            r.operation = "HeadObject"
        elif m == "PUT":
            if "partNumber" in q:
                r.operation = "UploadPart"
            elif r.header("x-amz-copy-source"):
                r.operation = "CopyObject"
            elif "tagging" in q:
                r.operation = "PutObjectTagging"
            else:
                r.operation = "PutObject"
        elif m == "POST":
            r.operation = "CreateMultipartUpload" if "uploads" in q else "CompleteMultipartUpload"
        elif m == "DELETE":
            r.operation = "AbortMultipartUpload" if "uploadId" in q else "DeleteObject"


_LAMBDA_ROUTES = [
    (r"^/2015-03-31/functions/([^/]+)/invocations$", "POST", "Invoke"),
    (r"^/2014-11-13/functions/([^/]+)/invoke-async/?$", "POST", "InvokeAsync"),
    (r"^/2015-03-31/functions/([^/]+)/policy(/.*)?$", None, "Policy"),
    (r"^/2019-09-25/functions/([^/]+)/event-invoke-config$", None, "EventInvokeConfig"),
    (r"^/2015-03-31/functions/([^/]+)(/.*)?$", None, "Function"),
    (r"^/2015-03-31/functions/?$", None, "Functions"),
]


def _parse_lambda(r: Request) -> None:
    for pattern, method, name in _LAMBDA_ROUTES:
        m = re.match(pattern, r.path)
        if m and (method is None or method == r.method):
            r.params = {"FunctionName": m.group(1)} if m.groups() else {}
            r.operation = name
            return
    r.operation = f"{r.method} {r.path}"


# ---------------------------------------------------------------------------------------------------------------
# The authorizations of each operation.


def _indexed(params: dict, prefix: str) -> list[str]:
    """EC2 query lists: `InstanceId.1`, `InstanceId.2`, …"""
    pattern = re.compile(rf"^{re.escape(prefix)}\.(\d+)$")
    found = sorted((int(m.group(1)), v) for k, v in params.items() if (m := pattern.match(k)))
    return [v for _, v in found]


def _tags(params: dict, prefix: str) -> dict[str, str]:
    """EC2 query tag lists: `PREFIX.1.Key`, `PREFIX.1.Value`, …"""
    tags = {}
    for i in range(1, 100):
        key = params.get(f"{prefix}.{i}.Key")
        if key is None:
            break
        tags[key] = params.get(f"{prefix}.{i}.Value", "")
    return tags


def _tag_specs(params: dict) -> dict[str, dict[str, str]]:
    """RunInstances' TagSpecification.N: resource type -> {key: value}."""
    specs: dict[str, dict[str, str]] = {}
    for k, v in params.items():
        m = re.match(r"^TagSpecification\.(\d+)\.ResourceType$", k)
        if m:
            specs.setdefault(v, {}).update(_tags(params, f"TagSpecification.{m.group(1)}.Tag"))
    return specs


def _tag_context(tags: dict[str, str], kind: str) -> dict[str, Any]:
    context: dict[str, Any] = {f"aws:{kind}/{k}": v for k, v in tags.items()}
    if kind == "RequestTag":
        context["aws:TagKeys"] = list(tags)
    return context


class Lookups:
    """What the authorization of a request needs to know about existing resources (read from moto in-process)."""

    def __init__(self, account: str, region: str) -> None:
        self.account = account
        self.region = region

    def instance_tags(self, instance_id: str) -> dict[str, str]:
        from moto.ec2.models import ec2_backends

        try:
            instance = ec2_backends[self.account][self.region].get_instance(instance_id)
        except Exception:  # noqa: BLE001 - an unknown id is EC2's error to give
            return {}
        return {t["key"]: t["value"] for t in instance.get_tags()}

    def profile_role_arns(self, name: Optional[str], arn: Optional[str]) -> list[str]:
        from moto.iam.models import iam_backends

        iam = iam_backends[self.account]["aws"]
        for profile in iam.instance_profiles.values():
            if profile.name == name or profile.arn == arn:
                return [role.arn for role in profile.roles]
        return []

    def task_role_arn(self, task_definition: str) -> Optional[str]:
        return self._definition_role(task_definition, "task_role_arn")

    def execution_role_arn(self, task_definition: str) -> Optional[str]:
        return self._definition_role(task_definition, "execution_role_arn")

    def _definition_role(self, task_definition: str, attribute: str) -> Optional[str]:
        from moto.ecs.models import ecs_backends

        try:
            definition = ecs_backends[self.account][self.region].describe_task_definition(task_definition)
        except Exception:  # noqa: BLE001
            return None
        return getattr(definition, attribute, None)

    def task_definition_arn(self, task_definition: str) -> str:
        from moto.ecs.models import ecs_backends

        try:
            return ecs_backends[self.account][self.region].describe_task_definition(task_definition).arn
        except Exception:  # noqa: BLE001
            return task_definition

    def kms_key_arn(self, ciphertext_b64: Optional[str], key_id: Optional[str]) -> str:
        import base64

        from moto.kms.models import kms_backends

        backend = kms_backends[self.account][self.region]
        if key_id is None and ciphertext_b64:
            try:
                from moto.kms.utils import _deserialize_ciphertext_blob

                key_id = _deserialize_ciphertext_blob(base64.b64decode(ciphertext_b64)).key_id
            except Exception:  # noqa: BLE001
                return "*"
        if key_id is None:
            return "*"
        try:
            return backend.describe_key(key_id).arn
        except Exception:  # noqa: BLE001
            return f"arn:aws:kms:{self.region}:{self.account}:key/{key_id}"

    def secret_key(self, secret_id: str) -> Optional[str]:
        """The customer-managed KMS key a Secrets Manager secret is encrypted with, or None (the account's
        AWS-managed aws/secretsmanager key, which the service uses for the caller without a grant)."""
        from moto.secretsmanager.models import secretsmanager_backends

        secrets = secretsmanager_backends[self.account][self.region].secrets
        found = secrets.get(secret_id)
        if found is None and secret_id.startswith("arn:"):
            found = next((v for v in secrets.values() if getattr(v, "arn", None) == secret_id), None)
        return self._customer_key(getattr(found, "kms_key_id", None))

    def parameter_key(self, name: str) -> Optional[str]:
        """The customer-managed KMS key an SSM SecureString is encrypted with, or None (a String, or the
        AWS-managed aws/ssm key)."""
        from moto.ssm.models import ssm_backends

        parameters = ssm_backends[self.account][self.region]._parameters
        versions = parameters.get(name) or parameters.get("/" + name.lstrip("/"))
        if not versions:
            return None
        latest = versions[-1]
        if getattr(latest, "parameter_type", None) != "SecureString":
            return None
        return self._customer_key(getattr(latest, "keyid", None))

    def _customer_key(self, key_id: Optional[str]) -> Optional[str]:
        if not key_id or key_id.startswith("alias/aws/"):
            return None
        from moto.kms.models import kms_backends

        try:
            key = kms_backends[self.account][self.region].describe_key(key_id)
        except Exception:  # noqa: BLE001 - a key KMS does not know: its ARN as given
            return key_id if key_id.startswith("arn:") else f"arn:aws:kms:{self.region}:{self.account}:key/{key_id}"
        return None if getattr(key, "key_manager", "CUSTOMER") == "AWS" else key.arn

    def secret_arn(self, secret_id: str, partition: str) -> str:
        """A Secrets Manager secret's ARN (its name plus the 6 random characters AWS adds), as IAM sees it."""
        if secret_id.startswith("arn:"):
            return secret_id
        from moto.secretsmanager.models import secretsmanager_backends

        found = secretsmanager_backends[self.account][self.region].secrets.get(secret_id)
        return found.arn if found is not None else f"arn:{partition}:secretsmanager:{self.region}:{self.account}:secret:{secret_id}"


def checks(r: Request, look: Lookups) -> list[Check]:
    """The authorizations AWS makes for the request."""
    handler = _HANDLERS.get(r.service)
    if handler is not None:
        found = handler(r, look)
        if found is not None:
            return found
    prefix = PREFIX.get(r.service, r.service)
    return [Check(f"{prefix}:{r.operation}", "*")]


def _arn(r: Request, service: str, resource: str, region: Optional[str] = None, account: Optional[str] = None) -> str:
    return f"arn:{r.partition}:{service}:{r.region if region is None else region}:{r.account if account is None else account}:{resource}"


def _ec2(r: Request, look: Lookups) -> Optional[list[Check]]:
    p = r.params
    op = r.operation
    ec2 = lambda res, region=None, account=None: _arn(r, "ec2", res, region, account)  # noqa: E731
    if op == "RunInstances":
        tags = _tag_specs(p)
        instance_ctx = {**_tag_context(tags.get("instance", {}), "RequestTag"), "ec2:InstanceType": p.get("InstanceType", "m1.small")}
        if p.get("InstanceMarketOptions.MarketType"):
            instance_ctx["ec2:InstanceMarketType"] = p["InstanceMarketOptions.MarketType"]
        found = [
            Check("ec2:RunInstances", ec2("instance/*"), instance_ctx),
            Check("ec2:RunInstances", ec2("volume/*"), _tag_context(tags.get("volume", {}), "RequestTag")),
            Check("ec2:RunInstances", ec2("network-interface/*")),
            Check("ec2:RunInstances", ec2(f"image/{p.get('ImageId', '*')}", account="")),
        ]
        groups = _indexed(p, "SecurityGroupId") or ["*"]
        found += [Check("ec2:RunInstances", ec2(f"security-group/{g}")) for g in groups]
        found.append(Check("ec2:RunInstances", ec2(f"subnet/{p.get('SubnetId', '*')}")))
        if p.get("KeyName"):
            found.append(Check("ec2:RunInstances", ec2(f"key-pair/{p['KeyName']}")))
        for kind, kind_tags in tags.items():
            found.append(
                Check(
                    "ec2:CreateTags",
                    ec2(f"{kind}/*"),
                    {**_tag_context(kind_tags, "RequestTag"), "ec2:CreateAction": "RunInstances"},
                )
            )
        for role in look.profile_role_arns(p.get("IamInstanceProfile.Name"), p.get("IamInstanceProfile.Arn")):
            found.append(Check("iam:PassRole", role, {"iam:PassedToService": "ec2.amazonaws.com"}))
        return found
    if op in ("TerminateInstances", "StopInstances", "StartInstances", "RebootInstances"):
        return [
            Check(f"ec2:{op}", ec2(f"instance/{i}"), _tag_context(look.instance_tags(i), "ResourceTag"))
            for i in _indexed(p, "InstanceId")
        ]
    if op == "CreateTags":
        tags = _tags(p, "Tag")
        found = []
        for resource in _indexed(p, "ResourceId"):
            kind = {"i": "instance", "vol": "volume", "sg": "security-group", "subnet": "subnet"}.get(resource.split("-")[0], "*")
            context = {**_tag_context(tags, "RequestTag")}
            if kind == "instance":
                context.update(_tag_context(look.instance_tags(resource), "ResourceTag"))
            found.append(Check("ec2:CreateTags", ec2(f"{kind}/{resource}"), context))
        return found
    return None  # Describe* and the rest: resource "*"


def _cluster_arn(r: Request, value: Optional[str]) -> str:
    value = value or "default"
    return value if value.startswith("arn:") else _arn(r, "ecs", f"cluster/{value}")


def _ecs(r: Request, look: Lookups) -> Optional[list[Check]]:
    p = r.params
    op = r.operation
    cluster = _cluster_arn(r, p.get("cluster"))
    cluster_name = cluster.split("/")[-1]
    request_tags = {t["key"]: t.get("value", "") for t in p.get("tags", []) if "key" in t}
    if op == "CreateCluster":
        arn = _arn(r, "ecs", f"cluster/{p.get('clusterName', 'default')}")
        found = [Check("ecs:CreateCluster", arn, _tag_context(request_tags, "RequestTag"))]
        if request_tags:
            found.append(Check("ecs:TagResource", arn, {**_tag_context(request_tags, "RequestTag"), "ecs:CreateAction": "CreateCluster"}))
        return found
    if op == "RegisterTaskDefinition":
        found = [Check("ecs:RegisterTaskDefinition", "*", _tag_context(request_tags, "RequestTag"))]
        if request_tags:
            found.append(
                Check(
                    "ecs:TagResource",
                    _arn(r, "ecs", f"task-definition/{p.get('family')}:*"),
                    {**_tag_context(request_tags, "RequestTag"), "ecs:CreateAction": "RegisterTaskDefinition"},
                )
            )
        for role in (p.get("taskRoleArn"), p.get("executionRoleArn")):
            if role:
                found.append(Check("iam:PassRole", role, {"iam:PassedToService": "ecs-tasks.amazonaws.com"}))
        return found
    if op in ("StartTask", "RunTask"):
        definition = p.get("taskDefinition", "")
        context = {"ecs:cluster": cluster, "ecs:container-instances": p.get("containerInstances", [])}
        found = [Check(f"ecs:{op}", look.task_definition_arn(definition), context)]
        if request_tags:
            found.append(Check("ecs:TagResource", _arn(r, "ecs", f"task/{cluster_name}/*"), {**_tag_context(request_tags, "RequestTag"), "ecs:CreateAction": op}))
        # RunTask and StartTask pass the definition's roles again: the task role and the execution role (ECS
        # Developer Guide, "Amazon ECS task execution IAM role" and "task IAM role": the caller needs iam:PassRole).
        for role in (look.task_role_arn(definition), look.execution_role_arn(definition)):
            if role:
                found.append(Check("iam:PassRole", role, {"iam:PassedToService": "ecs-tasks.amazonaws.com"}))
        return found
    if op in ("ListContainerInstances", "DeleteCluster", "DeregisterContainerInstance", "RegisterContainerInstance", "UpdateContainerInstancesState", "SubmitTaskStateChange", "SubmitContainerStateChange", "DescribeClusters"):
        if op == "DescribeClusters":
            return [Check("ecs:DescribeClusters", _cluster_arn(r, c)) for c in p.get("clusters", ["default"])]
        return [Check(f"ecs:{op}", cluster)]
    if op == "DescribeContainerInstances":
        return [
            Check("ecs:DescribeContainerInstances", ci if ci.startswith("arn:") else _arn(r, "ecs", f"container-instance/{cluster_name}/{ci}"), {"ecs:cluster": cluster})
            for ci in p.get("containerInstances", [])
        ]
    if op == "ListTasks":
        instance = p.get("containerInstance")
        resource = instance if instance and instance.startswith("arn:") else _arn(r, "ecs", f"container-instance/{cluster_name}/{instance or '*'}")
        return [Check("ecs:ListTasks", resource, {"ecs:cluster": cluster})]
    if op in ("DescribeTasks", "StopTask"):
        tasks = p.get("tasks") or [p.get("task", "*")]
        return [
            Check(f"ecs:{op}", t if t.startswith("arn:") else _arn(r, "ecs", f"task/{cluster_name}/{t}"), {"ecs:cluster": cluster})
            for t in tasks
        ]
    if op in ("TagResource", "UntagResource", "ListTagsForResource"):
        return [Check(f"ecs:{op}", p.get("resourceArn", "*"))]
    return None


def _states(r: Request, look: Lookups) -> Optional[list[Check]]:
    p = r.params
    op = r.operation
    for key in ("stateMachineArn", "executionArn"):
        if key in p and op not in ("CreateStateMachine",):
            return [Check(f"states:{op}", p[key])]
    return None


def _logs(r: Request, look: Lookups) -> Optional[list[Check]]:
    p = r.params
    op = r.operation
    group = p.get("logGroupName")
    if group is None:
        return None
    stream = p.get("logStreamName")
    if op in ("CreateLogStream", "PutLogEvents", "GetLogEvents") and stream:
        return [Check(f"logs:{op}", _arn(r, "logs", f"log-group:{group}:log-stream:{stream}"))]
    if op == "CreateLogGroup" and p.get("tags"):
        # A group made with tags also needs the right to tag it (CloudWatch Logs API Reference, CreateLogGroup,
        # `tags`: "you must have the logs:TagResource or logs:TagLogGroup permission").
        arn = _arn(r, "logs", f"log-group:{group}")
        return [Check("logs:CreateLogGroup", arn), Check("logs:TagResource", arn)]
    if op in ("CreateLogGroup", "PutRetentionPolicy", "DeleteLogGroup", "DeleteRetentionPolicy", "TagLogGroup"):
        return [Check(f"logs:{op}", _arn(r, "logs", f"log-group:{group}"))]
    return [Check(f"logs:{op}", _arn(r, "logs", f"log-group:{group}:*"))]


def _servicequotas(r: Request, look: Lookups) -> Optional[list[Check]]:
    # Service Authorization Reference, Service Quotas: GetServiceQuota acts on the quota,
    # arn:${Partition}:servicequotas:${Region}:${Account}:${ServiceCode}/${QuotaCode}.
    p = r.params
    if r.operation == "GetServiceQuota":
        return [Check("servicequotas:GetServiceQuota", _arn(r, "servicequotas", f"{p.get('ServiceCode')}/{p.get('QuotaCode')}"))]
    return None


def _ssm(r: Request, look: Lookups) -> Optional[list[Check]]:
    if r.operation in ("SendCommand", "StartSession"):
        # Service Authorization Reference, Systems Manager: both act on the instance (its tags as
        # ssm:resourceTag/… and aws:ResourceTag/…) and on the document; AWS's own documents have no account.
        ids = r.params.get("InstanceIds") or ([r.params["Target"]] if "Target" in r.params else [])
        document = r.params.get("DocumentName") or "SSM-SessionManagerRunShell"
        account = "" if document.startswith("AWS-") else None
        found = [Check(f"ssm:{r.operation}", _arn(r, "ssm", f"document/{document}", account=account))]
        for instance_id in ids:
            tags = look.instance_tags(instance_id)
            context = {**_tag_context(tags, "ResourceTag"), **{f"ssm:resourceTag/{k}": v for k, v in tags.items()}}
            found.append(Check(f"ssm:{r.operation}", _arn(r, "ec2", f"instance/{instance_id}"), context))
        return found
    names = r.params.get("Names") or ([r.params["Name"]] if "Name" in r.params else [])
    if not names:
        return None
    found = []
    decrypts = r.operation in ("GetParameter", "GetParameters") and str(r.params.get("WithDecryption", "")).lower() == "true"
    for name in names:
        # AWS's public parameters have no account in their ARN.
        account = "" if name.startswith("/aws/service/") else None
        found.append(Check(f"ssm:{r.operation}", _arn(r, "ssm", f"parameter/{name.lstrip('/')}", account=account)))
        # A SecureString under a customer-managed key is decrypted with the caller's kms:Decrypt on that key,
        # through SSM ("Restricting access to Parameter Store parameters using IAM policies").
        key = look.parameter_key(name) if decrypts and account is None else None
        if key is not None:
            found.append(Check("kms:Decrypt", key, {"kms:ViaService": f"ssm.{r.region}.amazonaws.com"}))
    return found


def _secretsmanager(r: Request, look: Lookups) -> Optional[list[Check]]:
    secret = r.params.get("SecretId")
    if not secret:
        return None
    found = [Check(f"secretsmanager:{r.operation}", look.secret_arn(secret, r.partition))]
    # A secret under a customer-managed key: the service decrypts with the caller's permission, so the caller needs
    # kms:Decrypt on that key too ("GetSecretValue": required permissions), asked through the service.
    key = look.secret_key(secret) if r.operation == "GetSecretValue" else None
    if key is not None:
        found.append(Check("kms:Decrypt", key, {"kms:ViaService": f"secretsmanager.{r.region}.amazonaws.com"}))
    return found


def _sqs(r: Request, look: Lookups) -> Optional[list[Check]]:
    url = r.params.get("QueueUrl")
    if not url:
        return None
    parts = urllib.parse.urlparse(url).path.strip("/").split("/")
    account, name = (parts[-2], parts[-1]) if len(parts) >= 2 else (r.account, parts[-1])
    # A batch action is authorized as its single action ("Amazon SQS API permissions: Actions and resource
    # reference": SendMessageBatch needs sqs:SendMessage, DeleteMessageBatch sqs:DeleteMessage, …).
    action = r.operation.removesuffix("Batch") if r.operation.endswith("MessageBatch") or r.operation == "ChangeMessageVisibilityBatch" else r.operation
    return [Check(f"sqs:{action}", _arn(r, "sqs", name, account=account))]


def _lambda(r: Request, look: Lookups) -> Optional[list[Check]]:
    name = r.params.get("FunctionName")
    if not name:
        return None
    arn = name if name.startswith("arn:") else _arn(r, "lambda", f"function:{name}")
    action = {"Invoke": "lambda:InvokeFunction", "InvokeAsync": "lambda:InvokeFunction"}.get(r.operation)
    if action is None:
        return None
    return [Check(action, arn)]


def _kms(r: Request, look: Lookups) -> Optional[list[Check]]:
    p = r.params
    if r.operation in ("Decrypt", "Encrypt", "GenerateDataKey", "ReEncrypt"):
        key = look.kms_key_arn(p.get("CiphertextBlob"), p.get("KeyId"))
        context = {f"kms:EncryptionContext:{k}": v for k, v in (p.get("EncryptionContext") or {}).items()}
        return [Check(f"kms:{r.operation}", key, context)]
    return None


def _iam(r: Request, look: Lookups) -> Optional[list[Check]]:
    p = r.params
    if r.operation == "CreateServiceLinkedRole":
        service = p.get("AWSServiceName", "")
        return [Check("iam:CreateServiceLinkedRole", _slr_arn(r, service), {"iam:AWSServiceName": service})]
    for key, kind in (("RoleName", "role"), ("UserName", "user"), ("InstanceProfileName", "instance-profile")):
        if key in p:
            return [Check(f"iam:{r.operation}", f"arn:{r.partition}:iam::{r.account}:{kind}/{p[key]}")]
    return None


SLR_NAMES = {"spot.amazonaws.com": "AWSServiceRoleForEC2Spot"}


def _slr_arn(r: Request, service: str) -> str:
    return f"arn:{r.partition}:iam::{r.account}:role/aws-service-role/{service}/{SLR_NAMES.get(service, '*')}"


def _sts(r: Request, look: Lookups) -> Optional[list[Check]]:
    if r.operation == "GetCallerIdentity":
        return []  # always allowed (IAM docs: no permission is required)
    return None


def _events(r: Request, look: Lookups) -> Optional[list[Check]]:
    if r.operation == "PutEvents":
        buses = {e.get("EventBusName") or "default" for e in r.params.get("Entries", [])} or {"default"}
        return [Check("events:PutEvents", b if b.startswith("arn:") else _arn(r, "events", f"event-bus/{b}")) for b in buses]
    name = r.params.get("Name") or r.params.get("Rule")
    if name and r.operation in ("PutRule", "PutTargets", "EnableRule", "DisableRule", "DescribeRule", "DeleteRule", "RemoveTargets"):
        return [Check(f"events:{r.operation}", _arn(r, "events", f"rule/{name}"))]
    return None


def _s3(r: Request, look: Lookups) -> Optional[list[Check]]:
    op = r.operation
    bucket_arn = f"arn:{r.partition}:s3:::{r.bucket}"
    object_arn = f"{bucket_arn}/{r.key}"
    if op in ("GetObject", "HeadObject"):
        return [Check("s3:GetObject", object_arn)]
    if op in ("PutObject", "UploadPart", "CreateMultipartUpload", "CompleteMultipartUpload"):
        return [Check("s3:PutObject", object_arn)]
    if op == "CopyObject":
        source = urllib.parse.unquote(r.header("x-amz-copy-source") or "").lstrip("/").split("?")[0]
        return [Check("s3:GetObject", f"arn:{r.partition}:s3:::{source}"), Check("s3:PutObject", object_arn)]
    if op in ("DeleteObject",):
        return [Check("s3:DeleteObject", object_arn)]
    if op == "AbortMultipartUpload":
        return [Check("s3:AbortMultipartUpload", object_arn)]
    if op == "DeleteObjects":
        return [Check("s3:DeleteObject", f"{bucket_arn}/*")]
    if op in ("ListObjects", "ListObjectsV2", "HeadBucket"):
        return [Check("s3:ListBucket", bucket_arn, {"s3:prefix": r.query.get("prefix", "")})]
    simple = {
        "GetBucketLocation": "s3:GetBucketLocation",
        "CreateBucket": "s3:CreateBucket",
        "DeleteBucket": "s3:DeleteBucket",
        "PutBucketNotificationConfiguration": "s3:PutBucketNotification",
        "GetBucketNotificationConfiguration": "s3:GetBucketNotification",
        "PutBucketRequestPayment": "s3:PutBucketRequestPayment",
        "GetBucketRequestPayment": "s3:GetBucketRequestPayment",
        "ListMultipartUploads": "s3:ListBucketMultipartUploads",
        "ListParts": "s3:ListMultipartUploadParts",
        "PutObjectTagging": "s3:PutObjectTagging",
    }
    if op in simple:
        resource = object_arn if op in ("ListParts", "PutObjectTagging") else bucket_arn
        return [Check(simple[op], resource)]
    if op == "ListBuckets":
        return [Check("s3:ListAllMyBuckets", "*")]
    return [Check(f"s3:{op.split(' ')[0]}", bucket_arn)]


_HANDLERS = {
    "ec2": _ec2,
    "ecs": _ecs,
    "states": _states,
    "logs": _logs,
    "servicequotas": _servicequotas,
    "ssm": _ssm,
    "secretsmanager": _secretsmanager,
    "sqs": _sqs,
    "lambda": _lambda,
    "kms": _kms,
    "iam": _iam,
    "sts": _sts,
    "events": _events,
    "s3": _s3,
}
