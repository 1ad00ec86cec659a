"""IAM as AWS enforces it, in front of moto: every request must be signed by a known principal, and is allowed
only if that principal's identity policies allow every action the request needs, on the resources it names, with
the request's condition keys.

moto's own enforcement (INITIAL_NO_AUTH_ACTION_COUNT) checks actions only: outside S3 it evaluates every policy
against the resource "*", so a statement scoped to an ARN never allows anything, and its condition handling turns
an Allow whose condition is not met into a Deny. It is not used. This module evaluates identity-based policies the
way the IAM policy evaluation logic does (docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html):
an explicit Deny wins, then an Allow whose Action, Resource and Condition all match, else an implicit deny.

What it covers (and what it does not):
- Principals: IAM users (the harness, the CLI's user, AWS's own services) and roles assumed by a service principal
  (Lambda, Step Functions, ECS tasks, EC2 instances) after their trust policy is checked.
- Policies: the principal's inline and attached managed policies, read from moto's IAM backend at request time.
  Resource-based policies are not evaluated (Lambda's resource policy is checked by the Lambda host when
  EventBridge invokes a function), nor permission boundaries, SCPs or session policies.
- Requests: the actions, resource ARNs and condition keys of the operations in iam_actions.py, including the extra
  authorizations AWS performs inside a call (iam:PassRole for an instance profile or a task role, ec2:CreateTags
  and ecs:TagResource for tag-on-create). An operation missing from that table is checked against the resource
  "*" only, so a policy scoped to an ARN fails closed and the table must be extended.
- Signatures are not verified (the access key and session token are).
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import threading
from dataclasses import dataclass, field
from typing import Any, Iterable, Optional

LOG = logging.getLogger("ecsub.sandbox.iam")


@dataclass
class Principal:
    """Who signs requests: an IAM user or an assumed role's session."""

    arn: str
    label: str  # the name the metering and the logs use (e.g. "lambda-ecsub-submit")
    access_key_id: str
    secret_access_key: str
    session_token: Optional[str] = None
    user_name: Optional[str] = None
    role_name: Optional[str] = None

    def credentials(self) -> dict[str, str]:
        creds = {"AWS_ACCESS_KEY_ID": self.access_key_id, "AWS_SECRET_ACCESS_KEY": self.secret_access_key}
        if self.session_token:
            creds["AWS_SESSION_TOKEN"] = self.session_token
        return creds


@dataclass
class Check:
    """One authorization AWS makes for a request: an action on a resource, with the request's condition keys."""

    action: str
    resource: str
    context: dict[str, Any] = field(default_factory=dict)


class Denied(Exception):
    def __init__(self, principal: Principal, check: Check, explicit: bool) -> None:
        why = "with an explicit deny in an identity-based policy" if explicit else (
            f"because no identity-based policy allows the {check.action} action"
        )
        super().__init__(
            f"User: {principal.arn} is not authorized to perform: {check.action} on resource: {check.resource} {why}"
        )
        self.check = check


class TrustError(Exception):
    pass


class Principals:
    """The access keys the emulated cloud knows, and the roles assumed so far."""

    def __init__(self, account: str, partition: str = "aws") -> None:
        self.account = account
        self.partition = partition
        self.by_key: dict[str, Principal] = {}
        self.lock = threading.Lock()

    def _iam(self):
        from moto.iam.models import iam_backends

        return iam_backends[self.account][self.partition]

    def add_user(self, name: str, label: str, policy: Optional[dict] = None) -> Principal:
        iam = self._iam()
        iam.create_user(region_name="us-east-1", user_name=name, path="/", tags=[])
        if policy is not None:
            iam.put_user_policy(name, f"{name}-policy", json.dumps(policy))
        key = iam.create_access_key(name)
        principal = Principal(
            arn=f"arn:{self.partition}:iam::{self.account}:user/{name}",
            label=label,
            access_key_id=key.access_key_id,
            secret_access_key=key.secret_access_key,
            user_name=name,
        )
        with self.lock:
            self.by_key[principal.access_key_id] = principal
        return principal

    def assume(self, role_arn: str, service: str, label: str, session: Optional[str] = None) -> Principal:
        """A service assumes a role, as AWS does before it acts with it: only if the role's trust policy lets that
        service call sts:AssumeRole (raises TrustError otherwise, with AWS's wording)."""
        role_name = role_arn.split("/")[-1]
        try:
            role = self._iam().get_role(role_name)
        except Exception as e:  # noqa: BLE001 - moto raises its own not-found type
            raise TrustError(f"the role {role_arn} does not exist") from e
        if not trusts(json.loads(role.assume_role_policy_document), service):
            raise TrustError(
                f"{service} is not authorized to perform: sts:AssumeRole on resource: {role_arn} "
                f"(the role's trust policy does not name {service})"
            )
        key = "ASIA" + secrets.token_hex(8).upper()
        principal = Principal(
            arn=f"arn:{self.partition}:sts::{self.account}:assumed-role/{role_name}/{session or label}",
            label=label,
            access_key_id=key,
            secret_access_key=secrets.token_urlsafe(30),
            session_token=secrets.token_urlsafe(60),
            role_name=role_name,
        )
        with self.lock:
            self.by_key[key] = principal
        return principal

    def lookup(self, access_key_id: str, session_token: Optional[str]) -> Optional[Principal]:
        principal = self.by_key.get(access_key_id)
        if principal is None or principal.session_token != (session_token or None):
            return None
        return principal

    def policies(self, principal: Principal) -> list[dict]:
        """The principal's identity-based policies: inline and attached managed (and its groups', for users)."""
        iam = self._iam()
        documents: list[str] = []
        if principal.role_name:
            role = iam.get_role(principal.role_name)
            documents.extend(role.policies.values())
            documents.extend(_default_version(p) for p in role.managed_policies.values())
        elif principal.user_name:
            user = iam.get_user(principal.user_name)
            documents.extend(user.policies.values())
            documents.extend(_default_version(p) for p in user.managed_policies.values())
            for group in iam.get_groups_for_user(principal.user_name):
                documents.extend(group.policies.values())
                documents.extend(_default_version(p) for p in group.managed_policies.values())
        return [json.loads(d) if isinstance(d, str) else d for d in documents]


def _default_version(policy) -> str:
    for version in policy.versions:
        if version.version_id == policy.default_version_id:
            return version.document
    raise ValueError(f"{policy.arn} has no default version")


def trusts(document: dict, service: str) -> bool:
    """Does a trust policy let `service` (e.g. ecs-tasks.amazonaws.com) call sts:AssumeRole?"""
    allowed = False
    for statement in _statements(document):
        actions = _as_list(statement.get("Action"))
        if not any(_like(a, "sts:AssumeRole", ignore_case=True) for a in actions):
            continue
        services = _as_list((statement.get("Principal") or {}).get("Service")) if isinstance(statement.get("Principal"), dict) else []
        if service not in services:
            continue
        if statement.get("Effect") == "Deny":
            return False
        allowed = True
    return allowed


def _statements(document: dict) -> list[dict]:
    statements = document.get("Statement", [])
    return statements if isinstance(statements, list) else [statements]


def _as_list(value: Any) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _like(pattern: str, value: str, ignore_case: bool = False) -> bool:
    """IAM's wildcard match: `*` any run of characters (colons and slashes too), `?` one character."""
    if ignore_case:
        pattern, value = pattern.lower(), value.lower()
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, re.DOTALL) is not None


# ---------------------------------------------------------------------------------------------------------------
# Evaluation.


def evaluate(policies: Iterable[dict], check: Check) -> Optional[str]:
    """"Allow", "Deny" (explicit) or None (no statement applies: an implicit deny)."""
    allowed = False
    for document in policies:
        for statement in _statements(document):
            if not _applies(statement, check):
                continue
            if statement.get("Effect") == "Deny":
                return "Deny"
            if statement.get("Effect") == "Allow":
                allowed = True
    return "Allow" if allowed else None


def _applies(statement: dict, check: Check) -> bool:
    if "Action" in statement:
        if not any(_like(a, check.action, ignore_case=True) for a in _as_list(statement["Action"])):
            return False
    elif "NotAction" in statement:
        if any(_like(a, check.action, ignore_case=True) for a in _as_list(statement["NotAction"])):
            return False
    else:
        return False
    if "Resource" in statement:
        if not any(_like(r, check.resource) for r in _as_list(statement["Resource"])):
            return False
    elif "NotResource" in statement:
        if any(_like(r, check.resource) for r in _as_list(statement["NotResource"])):
            return False
    return conditions_hold(statement.get("Condition") or {}, check.context)


_NEGATED = {"StringNotEquals", "StringNotEqualsIgnoreCase", "StringNotLike", "ArnNotEquals", "ArnNotLike", "NumericNotEquals"}


def conditions_hold(conditions: dict, context: dict[str, Any]) -> bool:
    """Every operator block and every key in it must hold (AND); the values listed for one key are ORed."""
    lowered = {k.lower(): v for k, v in context.items()}
    for operator, block in conditions.items():
        for key, wanted in block.items():
            if not _condition(operator, lowered.get(key.lower()), [str(w) for w in _as_list(wanted)]):
                return False
    return True


def _condition(operator: str, actual: Any, wanted: list[str]) -> bool:
    qualifier = ""
    if ":" in operator:
        qualifier, operator = operator.split(":", 1)
    if_exists = operator.endswith("IfExists")
    if if_exists:
        operator = operator[: -len("IfExists")]
    if operator == "Null":
        return (actual is None) == (wanted[0].lower() == "true")
    if actual is None:
        # A missing key: true only for IfExists and for the negated operators (IAM condition operators docs).
        return if_exists or operator in _NEGATED or qualifier == "ForAllValues"
    values = [str(v) for v in _as_list(actual)]
    negated = operator in _NEGATED
    base = operator.replace("Not", "", 1) if negated else operator

    def one(value: str) -> bool:
        if base in ("StringEquals", "ArnEquals"):
            hit = value in wanted
        elif base == "StringEqualsIgnoreCase":
            hit = value.lower() in [w.lower() for w in wanted]
        elif base in ("StringLike", "ArnLike"):
            hit = any(_like(w, value) for w in wanted)
        elif base == "Bool":
            hit = value.lower() in [w.lower() for w in wanted]
        elif base.startswith("Numeric"):
            hit = any(_numeric(base, float(value), float(w)) for w in wanted)
        else:
            LOG.warning("condition operator %s is not emulated; it does not match", operator)
            return False
        return not hit if negated else hit

    if qualifier == "ForAllValues":
        return all(one(v) for v in values)
    # ForAnyValue, and single-valued keys.
    return any(one(v) for v in values)


def _numeric(operator: str, actual: float, wanted: float) -> bool:
    return {
        "NumericEquals": actual == wanted,
        "NumericLessThan": actual < wanted,
        "NumericLessThanEquals": actual <= wanted,
        "NumericGreaterThan": actual > wanted,
        "NumericGreaterThanEquals": actual >= wanted,
    }.get(operator, False)


def authorize(principals: Principals, principal: Principal, checks: list[Check]) -> None:
    """Raises Denied for the first check the principal's policies do not allow."""
    policies = principals.policies(principal)
    for check in checks:
        check.context.setdefault("aws:PrincipalArn", principal.arn)
        check.context.setdefault("aws:PrincipalAccount", principals.account)
        verdict = evaluate(policies, check)
        if verdict != "Allow":
            raise Denied(principal, check, explicit=verdict == "Deny")
