r"""What AWS refuses by a request's size, which moto does not check. Each limit is AWS's documented one, named with
its document; a request past it is refused whole, before the service acts and before it takes any throttling tokens.

- EC2 TerminateInstances: at most 1 000 instance ids a call (EC2 API Reference, TerminateInstances, `InstanceIds`:
  "Constraints: Up to 1000 instance IDs. We recommend breaking up this request into smaller batches."). The
  reference does not say which code answers a call of more; this answers InvalidParameterValue (HTTP 400), the code
  EC2 gives its other list limits (DescribeInstanceTopology: "instance-ids cannot contain over 100 values").
- ECS DescribeTasks and DescribeContainerInstances: at most 100 (ECS API Reference, DescribeTasks, `tasks`: "A list
  of up to 100 task IDs or full ARN entries"; DescribeContainerInstances, `containerInstances`: "A list of up to 100
  container instance IDs or full Amazon Resource Name (ARN) entries"), answered with InvalidParameterException.

And the tags a request puts on a resource, which moto takes whatever they are (it counts EC2's 50 only):
- EC2 (User Guide, "Tag your Amazon EC2 resources", tag restrictions): at most 50 a resource, a key of 1 to 128
  characters, a value of at most 256, no key beginning with `aws:` (InvalidParameterValue, TagLimitExceeded).
- ECS (Developer Guide, "Tagging your Amazon ECS resources"): the same, and only letters, numbers, spaces and
  `+ - = . _ : / @` (InvalidParameterException).
- CloudWatch Logs (API Reference, CreateLogGroup and TagResource, `tags`): at most 50, keys
  `[\p{L}\p{Z}\p{N}_.:/=+\-@]+` of 1 to 128, values the same or empty of at most 256 (InvalidParameterException).
"""

from __future__ import annotations

import re
from typing import Any, Optional

# (service, operation) -> (the request's list parameter, its query-string prefix (None: a JSON list), the most
# items, the error code, the document).
DOCUMENTED: dict[tuple[str, str], tuple[str, Optional[str], int, str, str]] = {
    ("ec2", "TerminateInstances"): ("InstanceIds", "InstanceId.", 1000, "InvalidParameterValue", "EC2 API Reference, TerminateInstances"),
    ("ecs", "DescribeTasks"): ("tasks", None, 100, "InvalidParameterException", "ECS API Reference, DescribeTasks"),
    ("ecs", "DescribeContainerInstances"): ("containerInstances", None, 100, "InvalidParameterException", "ECS API Reference, DescribeContainerInstances"),
}


class TooMany(Exception):
    status = 400

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code


def _ec2_tag_sets(operation: str, params: dict[str, Any]) -> list[list[tuple[str, str]]]:
    """The tags an EC2 query request puts on each resource it makes or tags."""
    sets: dict[str, list[tuple[str, str]]] = {}
    if operation == "RunInstances":
        pattern = re.compile(r"^TagSpecification\.(\d+)\.Tag\.(\d+)\.Key$")
    elif operation == "CreateTags":
        pattern = re.compile(r"^()Tag\.(\d+)\.Key$")
    else:
        return []
    for key, value in params.items():
        m = pattern.match(key)
        if m:
            spec, n = m.groups()
            prefix = f"TagSpecification.{spec}.Tag.{n}" if spec else f"Tag.{n}"
            sets.setdefault(spec, []).append((value, params.get(f"{prefix}.Value", "")))
    return list(sets.values())


def _tag_sets(service: str, operation: str, params: dict[str, Any]) -> list[list[tuple[str, str]]]:
    if service == "ec2":
        return _ec2_tag_sets(operation, params)
    tags = params.get("tags")
    if service == "ecs" and isinstance(tags, list):
        return [[(t.get("key", ""), t.get("value", "")) for t in tags if isinstance(t, dict)]]
    if service == "logs" and isinstance(tags, dict):
        return [[(k, v) for k, v in tags.items()]]
    return []


# ECS's and CloudWatch Logs' characters: letters, numbers, separators (spaces) and `_ . : / = + - @`.
_TAG_TEXT = re.compile(r"^[\w\s.:/=+\-@]*$")


def _tag_refusal(service: str, tags: list[tuple[str, str]]) -> Optional[TooMany]:
    code = "InvalidParameterValue" if service == "ec2" else "InvalidParameterException"
    if len(tags) > 50:
        return TooMany(f"the request puts {len(tags)} tags on a resource; a resource has at most 50", "TagLimitExceeded" if service == "ec2" else code)
    for key, value in tags:
        if not 1 <= len(key) <= 128:
            return TooMany(f"Tag key '{key[:20]}' must be 1 to 128 characters long", code)
        if len(value) > 256:
            return TooMany(f"Tag value of '{key}' exceeds the maximum length of 256 characters", code)
        if key.lower().startswith("aws:"):
            return TooMany(f"Tag keys starting with 'aws:' are reserved for internal use ('{key}')", code)
        if service != "ec2":
            for text in (key, value):
                # \w is letters, digits and `_`; of \s only spaces are separators, not tabs or line breaks.
                if not _TAG_TEXT.match(text) or any(c in text for c in "\t\n\r\x0b\x0c"):
                    return TooMany(f"Tag '{key}={value}' holds a character outside letters, numbers, spaces and _ . : / = + - @", code)
    return None


def check(service: str, operation: str, params: dict[str, Any]) -> Optional[TooMany]:
    """The refusal of a request past its documented size or tag rules, or None."""
    for tags in _tag_sets(service, operation, params):
        refused = _tag_refusal(service, tags)
        if refused is not None:
            return refused
    limit = DOCUMENTED.get((service, operation))
    if limit is None:
        return None
    name, prefix, most, code, _document = limit
    if prefix is None:
        listed = params.get(name)
        count = len(listed) if isinstance(listed, list) else 0
    else:
        count = sum(1 for key in params if key.startswith(prefix))
    if count <= most:
        return None
    return TooMany(f"{name} cannot contain over {most} values (the request has {count})", code)
