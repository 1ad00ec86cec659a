"""What EventBridge may deliver to: a rule's target that is an SQS queue receives the rule's events only if the
queue's access policy lets events.amazonaws.com send to it (EventBridge user guide, "Using resource-based policies
for Amazon EventBridge", "Amazon SQS permissions": without it the delivery fails and counts as a FailedInvocation).
moto delivered to any queue. An SNS topic target likewise receives them only if the topic's policy lets
events.amazonaws.com publish ("Amazon SNS permissions"); moto never delivered to a topic, so `publish` here does.

An event a target could not be given at all goes to the target's dead-letter queue, if it has one whose policy
lets EventBridge send this rule's events (EventBridge user guide, "Using dead-letter queues to process undelivered
events"): the event as it was, with the message attributes RULE_ARN, TARGET_ARN, ERROR_CODE, ERROR_MESSAGE,
EXHAUSTED_RETRY_CONDITION and RETRY_ATTEMPTS. Without one the event is dropped."""

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


def _topic(topic_arn: str):
    from moto.sns.models import sns_backends

    _, _, _, region, account, _ = topic_arn.split(":", 5)
    try:
        return sns_backends[account][region].get_topic(topic_arn)
    except Exception:  # noqa: BLE001 - no such topic: nothing may be published to it
        return None


def _events_allowed(policy: dict, action: str, resource: str, rule_arn: str) -> bool:
    """Does a resource policy allow events.amazonaws.com `action` on `resource` for this rule?"""
    for statement in policy.get("Statement", []):
        principal = statement.get("Principal")
        service = principal.get("Service") if isinstance(principal, dict) else principal
        if service != "*" and "events.amazonaws.com" not in iam._as_list(service):
            continue
        check = iam.Check(action, resource, {"aws:SourceArn": rule_arn})
        if iam.evaluate([{"Statement": [statement]}], check) == "Allow":
            return True
    return False


def sqs_may_receive(rule_arn: str, queue_arn: str) -> bool:
    """Does the queue's policy allow events.amazonaws.com to send this rule's events?"""
    return _events_allowed(_queue_policy(queue_arn), "sqs:SendMessage", queue_arn, rule_arn)


def sns_may_publish(rule_arn: str, topic_arn: str) -> bool:
    """Does the topic's policy allow events.amazonaws.com to publish this rule's events?"""
    topic = _topic(topic_arn)
    return topic is not None and _events_allowed(json.loads(topic.policy), "sns:Publish", topic_arn, rule_arn)


def publish(rule_arn: str, topic_arn: str, message: str) -> None:
    """EventBridge publishing a rule's (transformed) event to an SNS topic target."""
    topic = _topic(topic_arn)
    if topic is None:
        LOG.error("EventBridge cannot publish to %s for %s: no such topic", topic_arn, rule_arn)
        return
    topic.publish(message)
    LOG.info("rule %s: published to %s", rule_arn, topic_arn)


def deliverable(rule_arn: str, targets: list[dict]) -> list[dict]:
    """The targets EventBridge can deliver to; the others are logged and remembered."""
    kept = []
    for target in targets:
        arn = target.get("Arn", "")
        if ":sqs:" in arn and not sqs_may_receive(rule_arn, arn):
            LOG.error("EventBridge cannot send to %s for %s: the queue's policy does not let events.amazonaws.com", arn, rule_arn)
            REFUSED.append((rule_arn, arn))
            continue
        if ":sns:" in arn and not sns_may_publish(rule_arn, arn):
            LOG.error("EventBridge cannot publish to %s for %s: the topic's policy does not let events.amazonaws.com", arn, rule_arn)
            REFUSED.append((rule_arn, arn))
            continue
        kept.append(target)
    return kept


#: Events sent to a dead-letter queue: (rule ARN, target ARN, error code).
DEAD_LETTERED: list[tuple[str, str, str]] = []


def dead_letter(rule_arn: str, target: dict, event: str, code: str, message: str) -> bool:
    """Sends an undeliverable event to the target's dead-letter queue; whether it went there."""
    from moto.sqs.models import sqs_backends

    queue_arn = (target.get("DeadLetterConfig") or {}).get("Arn")
    if not queue_arn:
        LOG.error("EventBridge drops the event of %s for %s (%s): the target has no dead-letter queue", rule_arn, target.get("Arn"), code)
        return False
    if not sqs_may_receive(rule_arn, queue_arn):
        LOG.error("EventBridge cannot send to the dead-letter queue %s for %s: its policy does not let events.amazonaws.com", queue_arn, rule_arn)
        return False
    _, _, _, region, account, name = queue_arn.split(":", 5)
    attributes = {
        "RULE_ARN": rule_arn,
        "TARGET_ARN": target.get("Arn", ""),
        "ERROR_CODE": code,
        "ERROR_MESSAGE": message,
        "EXHAUSTED_RETRY_CONDITION": "",
        "RETRY_ATTEMPTS": "0",
    }
    sqs_backends[account][region].send_message(
        name, event, message_attributes={k: {"DataType": "String", "StringValue": v or "-"} for k, v in attributes.items()}
    )
    DEAD_LETTERED.append((rule_arn, target.get("Arn", ""), code))
    LOG.warning("EventBridge sent the event of %s for %s to its dead-letter queue (%s)", rule_arn, target.get("Arn"), code)
    return True
