"""What EventBridge may deliver to: a rule's target that is an SQS queue receives the rule's events only if the
queue's access policy lets events.amazonaws.com send to it (EventBridge user guide, "Using resource-based policies
for Amazon EventBridge", "Amazon SQS permissions": without it the delivery fails and counts as a FailedInvocation).
moto delivered to any queue."""

from __future__ import annotations

import json
import logging

from ..front import iam

LOG = logging.getLogger("ecsub.sandbox.events")

#: Deliveries refused for want of a policy: (rule ARN, target ARN).
REFUSED: list[tuple[str, str]] = []


def _queue_policy(queue_arn: str) -> dict:
    from moto.sqs.models import sqs_backends

    _, _, _, region, account, name = queue_arn.split(":", 5)
    try:
        queue = sqs_backends[account][region].get_queue(name)
    except Exception:  # noqa: BLE001 - no such queue: nothing may be sent to it
        return {}
    policy = getattr(queue, "policy", None) or {}
    return json.loads(policy) if isinstance(policy, str) else policy


def sqs_may_receive(rule_arn: str, queue_arn: str) -> bool:
    """Does the queue's policy allow events.amazonaws.com to send this rule's events?"""
    for statement in _queue_policy(queue_arn).get("Statement", []):
        principal = statement.get("Principal")
        service = principal.get("Service") if isinstance(principal, dict) else principal
        if service != "*" and "events.amazonaws.com" not in iam._as_list(service):
            continue
        check = iam.Check("sqs:SendMessage", queue_arn, {"aws:SourceArn": rule_arn})
        if iam.evaluate([{"Statement": [statement]}], check) == "Allow":
            return True
    return False


def deliverable(rule_arn: str, targets: list[dict]) -> list[dict]:
    """The targets EventBridge can deliver to; the others are logged and remembered."""
    kept = []
    for target in targets:
        arn = target.get("Arn", "")
        if ":sqs:" in arn and not sqs_may_receive(rule_arn, arn):
            LOG.error("EventBridge cannot send to %s for %s: the queue's policy does not let events.amazonaws.com", arn, rule_arn)
            REFUSED.append((rule_arn, arn))
            continue
        kept.append(target)
    return kept
