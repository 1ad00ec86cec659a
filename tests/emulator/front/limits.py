"""What AWS refuses by a request's size, which moto does not check. Each limit is AWS's documented one, named with
its document; a request past it is refused whole, before the service acts and before it takes any throttling tokens.

- EC2 TerminateInstances: at most 1 000 instance ids a call (EC2 API Reference, TerminateInstances, `InstanceIds`:
  "Constraints: Up to 1000 instance IDs. We recommend breaking up this request into smaller batches."). The
  reference does not say which code answers a call of more; this answers InvalidParameterValue (HTTP 400), the code
  EC2 gives its other list limits (DescribeInstanceTopology: "instance-ids cannot contain over 100 values").
- ECS DescribeTasks and DescribeContainerInstances: at most 100 (ECS API Reference, DescribeTasks, `tasks`: "A list
  of up to 100 task IDs or full ARN entries"; DescribeContainerInstances, `containerInstances`: "A list of up to 100
  container instance IDs or full Amazon Resource Name (ARN) entries"), answered with InvalidParameterException.
"""

from __future__ import annotations

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


def check(service: str, operation: str, params: dict[str, Any]) -> Optional[TooMany]:
    """The refusal of a request past its documented size, or None."""
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
