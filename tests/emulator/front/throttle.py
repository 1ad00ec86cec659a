"""AWS's API throttling, which moto does not have: token buckets per account and Region, as each service documents
them. A call that finds one of its buckets short is refused with the service's throttling error and takes nothing;
buckets start full and refill continuously (a fraction of a token counts toward the next).

EC2, "Request throttling for the Amazon EC2 API" (https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-throttling.html):
- request rate limiting: "each API is evaluated individually": every API has a bucket of its own, sized by its
  category: RunInstances and StartInstances 5 (refill 2 a second), CreateTags and DeleteTags 100 (10),
  TerminateInstances 100 (5); DescribeInstances and the other "unfiltered and unpaginated non-mutating actions" 50
  (10) when called with no filter, id list or page size, else as a non-mutating action; non-mutating actions
  (Describe*, Get*, List*, Search*) 100 (20); every other (mutating, resource-intensive) action 50 (5);
- resource rate limiting, on top of it: RunInstances takes one token per instance it launches from a bucket of 1 000
  that refills 2 a second, StartInstances the same; TerminateInstances and StopInstances one per instance from 1 000
  refilling 20. A refusal is RequestLimitExceeded (HTTP 503).

ECS, "Request throttling for the Amazon ECS API"
(https://docs.aws.amazon.com/AmazonECS/latest/APIReference/request-throttling.html): "All API actions in a category
share the same token bucket", the same in every Region: cluster resource modify actions (StartTask, RunTask,
StopTask, DeregisterContainerInstance, …) 100 (40); cluster resource read actions (DescribeTasks, ListTasks,
DescribeContainerInstances, ListContainerInstances, ListAttributes) 100 (20); cluster read actions
(DescribeClusters, ListClusters) 50 (20); cluster modify actions (CreateCluster, DeleteCluster) 20 (1); task
definition modify actions (RegisterTaskDefinition, DeregisterTaskDefinition) 20 (1); DeleteTaskDefinitions 5 (1);
tag modify actions 20 (10); agent modify actions 200 (120). An API our copy of that table does not name
(ListTaskDefinitions, DescribeTaskDefinition, ListTagsForResource) is counted as a cluster read: the figure is ours. A refusal is ThrottlingException "Rate exceeded" (HTTP 400).

Step Functions, "Step Functions service quotas", Quotas related to API action throttling
(https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html), standard workflows, per API; us-east-1,
us-west-2 and eu-west-1 first, every other Region after the slash: StartExecution 1 300 (300) / 800 (150);
SendTaskSuccess, SendTaskFailure and SendTaskHeartbeat 3 000 (500) / 1 500 (300) each; DescribeExecution 300 (15) /
250 (10); ListExecutions 200 (5) / 100 (2); StopExecution 1 000 (200) / 500 (25); GetExecutionHistory 400 (20);
other actions 100 (20) (not listed there: the figure is ours, the smallest the page gives a frequent read). A refusal
is ThrottlingException (HTTP 400).

Calls of the principal that stands for AWS's own services (the emulated ECS agent's view of its tasks: on AWS the
agent talks to ECS over its own channel, not the public API) are not metered. A test may resize a bucket
(`POST /bucket`, or `POST /ec2-bucket` for EC2's) to meet a limit with a few tasks instead of thousands; the rule
stays AWS's.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Optional

#: Regions with Step Functions' larger API buckets ("Step Functions service quotas").
SFN_BIG_REGIONS = {"us-east-1", "us-west-2", "eu-west-1"}

#: EC2's request buckets of the uncategorized actions, per API (capacity, refill per second).
EC2_UNCATEGORIZED: dict[str, tuple[float, float]] = {
    "RunInstances": (5, 2),
    "StartInstances": (5, 2),
    "CreateTags": (100, 10),
    "DeleteTags": (100, 10),
    "TerminateInstances": (100, 5),
}
#: EC2's "unfiltered and unpaginated non-mutating actions": this bucket when called with no filter, id or page size.
EC2_UNFILTERED = {
    "DescribeInstances",
    "DescribeInstanceStatus",
    "DescribeNetworkInterfaces",
    "DescribeSecurityGroups",
    "DescribeSnapshots",
    "DescribeSpotInstanceRequests",
    "DescribeVolumes",
}
EC2_UNFILTERED_SIZE = (50.0, 10.0)
EC2_NON_MUTATING_SIZE = (100.0, 20.0)
EC2_MUTATING_SIZE = (50.0, 5.0)
#: EC2's resource buckets: tokens per instance acted on.
EC2_RESOURCE: dict[str, tuple[float, float]] = {
    "RunInstances": (1000, 2),
    "StartInstances": (1000, 2),
    "TerminateInstances": (1000, 20),
    "StopInstances": (1000, 20),
}

#: ECS's categories: (capacity, refill) and their APIs; an API not listed is a cluster read.
ECS_CATEGORIES: dict[str, tuple[tuple[float, float], tuple[str, ...]]] = {
    "cluster resource modify": (
        (100, 40),
        ("StartTask", "RunTask", "StopTask", "DeregisterContainerInstance", "DeleteAttributes", "ExecuteCommand",
         "PutAttributes", "UpdateContainerAgent", "UpdateContainerInstancesState"),
    ),
    "cluster resource read": (
        (100, 20),
        ("DescribeTasks", "ListTasks", "DescribeContainerInstances", "ListContainerInstances", "ListAttributes"),
    ),
    "cluster read": ((50, 20), ("DescribeClusters", "ListClusters")),
    "cluster modify": ((20, 1), ("CreateCluster", "DeleteCluster", "UpdateCluster", "PutClusterCapacityProviders")),
    "task definition modify": ((20, 1), ("RegisterTaskDefinition", "DeregisterTaskDefinition")),
    "task definition deletion": ((5, 1), ("DeleteTaskDefinitions",)),
    "tag modify": ((20, 10), ("TagResource", "UntagResource")),
    "agent modify": (
        (200, 120),
        ("RegisterContainerInstance", "SubmitTaskStateChange", "SubmitContainerStateChange",
         "SubmitAttachmentStateChanges", "DiscoverPollEndpoint"),
    ),
}
ECS_CATEGORY_OF = {api: name for name, (_, apis) in ECS_CATEGORIES.items() for api in apis}

#: Step Functions' API buckets: (big Regions, other Regions).
SFN_APIS: dict[str, tuple[tuple[float, float], tuple[float, float]]] = {
    "StartExecution": ((1300, 300), (800, 150)),
    "SendTaskSuccess": ((3000, 500), (1500, 300)),
    "SendTaskFailure": ((3000, 500), (1500, 300)),
    "SendTaskHeartbeat": ((3000, 500), (1500, 300)),
    "DescribeExecution": ((300, 15), (250, 10)),
    "ListExecutions": ((200, 5), (100, 2)),
    "StopExecution": ((1000, 200), (500, 25)),
    "GetExecutionHistory": ((400, 20), (400, 20)),
}
SFN_OTHER = (100.0, 20.0)

#: Each service's answer to a throttled call: (code, message, HTTP status).
REFUSAL = {
    "ec2": ("RequestLimitExceeded", "Request limit exceeded.", 503),
    "ecs": ("ThrottlingException", "Rate exceeded", 400),
    "states": ("ThrottlingException", "Rate exceeded", 400),
}


@dataclass
class Bucket:
    capacity: float
    refill: float  # tokens a second
    tokens: float
    at: float

    def refill_to(self, now: float) -> None:
        self.tokens = min(self.capacity, self.tokens + (now - self.at) * self.refill)
        self.at = now


class Throttled(Exception):
    """The call is over one of its buckets: the service answers with its throttling error."""

    def __init__(self, service: str, api: str, bucket: str) -> None:
        self.code, message, self.status = REFUSAL[service]
        super().__init__(message)
        self.service, self.api, self.bucket = service, api, bucket


def buckets_of(service: str, api: str, params: dict[str, Any], region: str) -> list[tuple[str, tuple[float, float], float]]:
    """The buckets a call draws on: (bucket name, its documented size, tokens the call takes)."""
    if service == "ec2":
        needs: list[tuple[str, tuple[float, float], float]] = []
        if api in EC2_UNCATEGORIZED:
            needs.append((f"request {api}", EC2_UNCATEGORIZED[api], 1))
        elif api in EC2_UNFILTERED and not _filtered(params):
            needs.append((f"request {api} unfiltered", EC2_UNFILTERED_SIZE, 1))
        elif api.startswith(("Describe", "Get", "List", "Search")):
            needs.append((f"request {api}", EC2_NON_MUTATING_SIZE, 1))
        else:
            needs.append((f"request {api}", EC2_MUTATING_SIZE, 1))
        if api in EC2_RESOURCE:
            needs.append((f"resource {api}", EC2_RESOURCE[api], _resources(api, params)))
        return needs
    if service == "ecs":
        category = ECS_CATEGORY_OF.get(api, "cluster read")
        return [(category, ECS_CATEGORIES[category][0], 1)]
    if service == "states":
        big, other = SFN_APIS.get(api, (SFN_OTHER, SFN_OTHER))
        return [(api, big if region in SFN_BIG_REGIONS else other, 1)]
    return []


class Throttle:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.lock = threading.Lock()
        # (service, bucket name) -> (capacity, refill): a test's resize of a documented bucket.
        self.resized: dict[tuple[str, str], tuple[float, float]] = {}
        self.buckets: dict[tuple[str, str, str, str], Bucket] = {}
        # Refused calls, by API (EC2's key stays the bare API name, as the tests read it).
        self.throttled: dict[str, int] = {}

    def resize(self, service: str, bucket: str, capacity: float, refill: float) -> dict[str, Any]:
        """A test's smaller (or larger) bucket; existing buckets of that name start again, full."""
        with self.lock:
            self.resized[(service, bucket)] = (float(capacity), float(refill))
            for key in [k for k in self.buckets if (k[0], k[3]) == (service, bucket)]:
                del self.buckets[key]
        return self.state()

    def resize_ec2(self, kind: str, api: str, capacity: float, refill: float) -> dict[str, Any]:
        """EC2's request or resource bucket of one API."""
        if kind not in ("request", "resource") or (kind == "resource" and api not in EC2_RESOURCE):
            raise ValueError(f"no {kind} bucket for {api}")
        return self.resize("ec2", f"{kind} {api}", capacity, refill)

    def restore(self) -> None:
        """Every bucket as documented again, full."""
        with self.lock:
            self.resized.clear()
            self.buckets.clear()

    def state(self) -> dict[str, Any]:
        with self.lock:
            return {
                "resized": {f"{s} {b}": list(v) for (s, b), v in self.resized.items()},
                "throttled": dict(self.throttled),
            }

    def check(self, service: str, account: str, region: str, api: str, params: dict[str, Any]) -> None:
        """Takes the call's tokens, or raises Throttled and takes none."""
        needs = buckets_of(service, api, params, region)
        if not needs:
            return
        with self.lock:
            now = self.clock()
            found = []
            for name, size, n in needs:
                key = (service, account, region, name)
                bucket = self.buckets.get(key)
                if bucket is None:
                    capacity, refill = self.resized.get((service, name), size)
                    bucket = self.buckets[key] = Bucket(capacity, refill, capacity, now)
                bucket.refill_to(now)
                found.append((name, n, bucket))
            # Take only if every bucket has enough: a throttled call costs nothing.
            for name, n, bucket in found:
                if bucket.tokens < n:
                    counted = api if service == "ec2" else f"{service}:{api}"
                    self.throttled[counted] = self.throttled.get(counted, 0) + 1
                    raise Throttled(service, api, name)
            for _, n, bucket in found:
                bucket.tokens -= n


def _filtered(params: dict[str, Any]) -> bool:
    """Whether an EC2 Describe call names a filter, ids or a page size (query protocol: `Filter.1.Name`, …)."""
    return any(k.startswith(("Filter.", "InstanceId.", "MaxResults", "NextToken")) for k in params)


def _resources(api: str, params: dict[str, Any]) -> float:
    """How many resources the call acts on: RunInstances' MaxCount, the instance ids of the others."""
    if api == "RunInstances":
        return float(_int(params.get("MaxCount")) or 1)
    return float(sum(1 for k in params if k.startswith("InstanceId.")) or 1)


def _int(value: Optional[Any]) -> int:
    try:
        return int(value) if value is not None else 0
    except (TypeError, ValueError):
        return 0


THROTTLE = Throttle()
