"""Faults a test can inject into the emulated cloud, through the sandbox's control endpoint (`POST /fault`). Each is
something AWS does on its own now and then; none changes what AWS would do otherwise. Counted faults are used up
as they fire, and `GET /faults` shows what is left, so a test can check that its fault really happened.

Kinds (the JSON body of `POST /fault`):
- {"kind": "api", "operation": "RunInstances", "principal": "lambda-ecsub-launch", "times": 2,
   "code": "VcpuLimitExceeded", "message": "...", "status": 400}
    the next `times` matching calls fail with that error (principal: a label prefix; omitted = anyone). Quotas,
    throttling (RequestLimitExceeded), 5xx and any other error code of the operation. With "lost_response": true
    the service does act, and the answer is lost on the way back (the caller sees the error): a timeout after
    the call took effect. "body_contains": "…" limits it to requests whose body holds that text (a Lambda Invoke
    of one action, say). "delay_ms": N holds each matching request that long before the service sees it (with
    no "code", the call then goes through: a slow call). "after": N lets the first N matching calls through.
- {"kind": "no-capacity", "instance_types": ["t3.small"]}: RunInstances of these types answer
    InsufficientInstanceCapacity until changed.
- {"kind": "start-task-failures", "reason": "RESOURCE:MEMORY", "times": 1}: StartTask answers HTTP 200 with
    `failures` and starts no task.
- {"kind": "agent-disconnect", "seconds": 3, "times": 1}: the next registered instances' agents disconnect right
    after registering (agentConnected false) for that long.
- {"kind": "never-join", "times": 1}: the next instances never register (their agent cannot reach ECS).
- {"kind": "instance-dies", "times": 1}: EC2 terminates the next instances before they boot (state reason
    Server.InternalError), as it does now and then to a pending instance. With "every": N instead, every Nth new
    instance dies, from then on (a steady small rate, as a large job meets; "every": 0 ends it). `GET /faults`
    counts the deaths in "instance_deaths".
- {"kind": "profile-late", "seconds": 4, "times": 1}: the next instances' metadata service has no role credentials
    (404) for that long after boot, as EC2's may not have them yet when the user data first asks ("Retrieve
    security credentials from instance metadata": the role's credentials are available once the instance profile
    is associated; the user data's stager fetch waits for them).
- {"kind": "drop-stopped", "times": 1}: the next tasks' "ECS Task State Change" STOPPED events never arrive.
- {"kind": "drop-joined", "times": 1}: the next instances' first "ECS Container Instance State Change" events (their
    join) never arrive.
- {"kind": "delivery", "function": "ecsub-task-stopped", "duplicate": true, "delay_ms": [0, 800]}: how
    asynchronous invocations of a function arrive: twice, late and so out of order (null function = every one).
    "duplicate" and "late" may be rates (0.05: one in twenty); "delay_ms" alone makes every one late. Without
    any, delivery is at-least-once as on AWS, always: DEFAULT_DELIVERY below, drawn from the sandbox's seed. A
    test that counts calls asks for exactly-once with {"kind": "delivery", "duplicate": 0, "late": 0}.
- {"kind": "requester-pays", "bucket": "ecsub-open-data"}: the bucket is a requester-pays bucket of another account.
- {"kind": "lambda-concurrency", "account": 10}: the account's concurrent executions quota for Lambda (1 000 by
    default; a new account may have 10): invocations past it are throttled (services/lambda_host.py).
- {"kind": "clocks", "ecs": 0.4, "s3": -0.4}: how far (seconds) each service's clock is from the host's: ECS's
    stamps its tasks' and container instances' times (createdAt, startedAt, stoppedAt, updatedAt), S3's its
    objects' LastModified. AWS's services keep their clocks close but not equal (each is an NTP client, to within
    a fraction of a second); by default ECS runs 0.8 s ahead of S3 (DEFAULT_CLOCKS), the direction in which an
    output written just after its task started looks older than the start.
- {"kind": "spot-price", "instance_type": "t3.small", "zone": "us-east-1a", "price": "0.004200"}: the spot price of
    that type in that zone changes now (services/pricing.py); DescribeSpotPriceHistory shows the change.
- {"kind": "time-scale", "scale": 0.0167}: how much faster than AWS's own schedules (async retries, Step Functions
    Retry intervals, the two minutes of a spot interruption notice) the sandbox runs.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Optional


@dataclass
class ApiFault:
    operation: str
    code: str
    message: str
    status: int
    times: int
    principal: Optional[str] = None
    lost_response: bool = False
    # Only requests whose body holds this text (a Lambda Invoke's payload, say); None: any.
    body_contains: Optional[str] = None
    # A slow call: the request waits this long before the service sees it (no error when `code` is empty).
    delay_ms: int = 0
    # Matching calls that go through first: the fault begins with the next one.
    after: int = 0

    def matches(self, operation: str, label: str, body: bytes = b"") -> bool:
        return (
            self.times > 0
            and self.operation == operation
            and (self.principal is None or label.startswith(self.principal))
            and (self.body_contains is None or self.body_contains.encode() in body)
        )


@dataclass
class Delivery:
    """How an event reaches its function: the share delivered twice, the share delivered late (by a time drawn
    from `delay_ms`, so out of order with the events around it)."""

    duplicate: float = 0.0
    late: float = 0.0
    delay_ms: tuple[int, int] = (0, 0)


#: Every end-to-end test meets AWS's delivery, not an exactly-once one: EventBridge delivers "at least once" and
#: "events might be delivered out of order" (EventBridge user guide, "Event delivery" and "Retrying events"); S3
#: event notifications are "typically delivered in seconds" and "can be delivered more than once" (S3 user guide,
#: "Amazon S3 Event Notifications"); Lambda's asynchronous invocation "might receive the same event multiple times"
#: (Lambda developer guide, "Asynchronous invocation"); an SQS event source delivers at least once. One event in
#: twenty-five arrives twice and one in ten up to 0.6 s late.
DEFAULT_DELIVERY = Delivery(duplicate=0.04, late=0.1, delay_ms=(0, 600))

#: Seconds each service's clock is ahead of the host's (faults.py's "clocks").
DEFAULT_CLOCKS = {"ecs": 0.4, "s3": -0.4}


@dataclass
class Faults:
    lock: threading.Lock = field(default_factory=threading.Lock)
    api: list[ApiFault] = field(default_factory=list)
    no_capacity: set[str] = field(default_factory=set)
    start_task_failures: list[list[Any]] = field(default_factory=list)  # [reason, times]
    agent_disconnect: list[list[float]] = field(default_factory=list)  # [seconds, times]
    profile_late: list[list[float]] = field(default_factory=list)  # [seconds, times]
    never_join: int = 0
    instance_dies: int = 0
    instance_dies_every: int = 0
    instances_seen: int = 0  # new instances the agent met since `every` was set
    instance_deaths: int = 0  # instances the fault ended
    drop_stopped: int = 0
    drop_joined: int = 0
    delivery: dict[Optional[str], Delivery] = field(default_factory=dict)
    # The draws of at-least-once delivery: the nth delivery to a function draws from (seed, function, n), so one
    # seed gives a sequential test the same duplicates and delays again (the harness prints it).
    seed: int = field(default_factory=lambda: random.randrange(1 << 32))
    delivered: dict[str, int] = field(default_factory=dict)
    duplicated: int = 0
    delayed: int = 0
    requester_pays: set[str] = field(default_factory=set)
    clocks: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_CLOCKS))
    # Lambda's concurrent executions for the account ("Lambda quotas": 1 000 by default).
    lambda_concurrency: int = 1000
    # AWS's schedules run this much faster here; 1/60: a minute is a second.
    time_scale: float = 1 / 60

    def add(self, spec: dict[str, Any]) -> dict[str, Any]:
        kind = spec.get("kind")
        with self.lock:
            if kind == "api":
                self.api.append(
                    ApiFault(
                        operation=spec["operation"],
                        code=spec.get("code", ""),
                        message=spec.get("message", spec.get("code", "")),
                        status=int(spec.get("status", 400)),
                        times=int(spec.get("times", 1)),
                        principal=spec.get("principal"),
                        lost_response=bool(spec.get("lost_response", False)),
                        body_contains=spec.get("body_contains"),
                        delay_ms=int(spec.get("delay_ms", 0)),
                        after=int(spec.get("after", 0)),
                    )
                )
            elif kind == "no-capacity":
                self.no_capacity = set(spec["instance_types"])
            elif kind == "start-task-failures":
                self.start_task_failures.append([spec.get("reason", "RESOURCE:MEMORY"), int(spec.get("times", 1))])
            elif kind == "agent-disconnect":
                self.agent_disconnect.append([float(spec.get("seconds", 3)), int(spec.get("times", 1))])
            elif kind == "profile-late":
                self.profile_late.append([float(spec.get("seconds", 4)), int(spec.get("times", 1))])
            elif kind == "never-join":
                self.never_join += int(spec.get("times", 1))
            elif kind == "instance-dies" and "every" in spec:
                self.instance_dies_every = int(spec["every"])
                self.instances_seen = 0
            elif kind == "instance-dies":
                self.instance_dies += int(spec.get("times", 1))
            elif kind == "drop-stopped":
                self.drop_stopped += int(spec.get("times", 1))
            elif kind == "drop-joined":
                self.drop_joined += int(spec.get("times", 1))
            elif kind == "delivery":
                low, high = spec.get("delay_ms", [0, 0])
                late = spec.get("late", 1.0 if high else 0.0)
                self.delivery[spec.get("function")] = Delivery(float(spec.get("duplicate", 0.0)), float(late), (int(low), int(high)))
            elif kind == "requester-pays":
                self.requester_pays.add(spec["bucket"])
            elif kind == "lambda-concurrency":
                self.lambda_concurrency = int(spec["account"])
            elif kind == "clocks":
                self.clocks = {service: float(spec.get(service, 0.0)) for service in DEFAULT_CLOCKS}
            elif kind == "spot-price":
                from .services import pricing

                pricing.change_spot_price(spec["instance_type"], spec["zone"], str(spec["price"]))
            elif kind == "time-scale":
                self.time_scale = float(spec["scale"])
            else:
                raise ValueError(f"unknown fault kind {kind!r}")
        return self.state()

    def state(self) -> dict[str, Any]:
        return {
            "api": [vars(f) for f in self.api],
            "no_capacity": sorted(self.no_capacity),
            "start_task_failures": self.start_task_failures,
            "agent_disconnect": self.agent_disconnect,
            "profile_late": self.profile_late,
            "never_join": self.never_join,
            "instance_dies": self.instance_dies,
            "instance_dies_every": self.instance_dies_every,
            "instance_deaths": self.instance_deaths,
            "drop_stopped": self.drop_stopped,
            "drop_joined": self.drop_joined,
            "delivery": {str(k): vars(v) for k, v in self.delivery.items()},
            "seed": self.seed,
            "deliveries": {"by_function": dict(self.delivered), "duplicated": self.duplicated, "delayed": self.delayed},
            "requester_pays": sorted(self.requester_pays),
            "clocks": dict(self.clocks),
            "lambda_concurrency": self.lambda_concurrency,
            "time_scale": self.time_scale,
        }

    def api_fault(self, operation: str, label: str, body: bytes = b"") -> Optional[ApiFault]:
        with self.lock:
            for fault in self.api:
                if fault.matches(operation, label, body):
                    if fault.after > 0:
                        fault.after -= 1
                        return None
                    fault.times -= 1
                    return fault
        return None

    def take(self, name: str) -> bool:
        """Uses up one of a counted fault (`never_join`, `instance_dies`, `drop_stopped`, `drop_joined`)."""
        with self.lock:
            if getattr(self, name) > 0:
                setattr(self, name, getattr(self, name) - 1)
                return True
        return False

    def instance_dies_now(self) -> bool:
        """Whether the new instance the agent meets dies before it boots: one of the counted ones, or every Nth."""
        with self.lock:
            self.instances_seen += 1
            if self.instance_dies > 0:
                self.instance_dies -= 1
            elif not (self.instance_dies_every and self.instances_seen % self.instance_dies_every == 0):
                return False
            self.instance_deaths += 1
            return True

    def take_listed(self, name: str) -> Optional[Any]:
        """Uses up one of a listed fault ([value, times] entries); returns its value."""
        with self.lock:
            entries = getattr(self, name)
            for entry in entries:
                if entry[1] > 0:
                    entry[1] -= 1
                    return entry[0]
        return None

    def deliveries(self, function: str) -> list[float]:
        """The delays (seconds) of the copies of one event delivered to `function`: one copy, or two when this one
        is delivered twice; 0 for a copy on time."""
        with self.lock:
            how = self.delivery.get(function) or self.delivery.get(None) or DEFAULT_DELIVERY
            n = self.delivered[function] = self.delivered.get(function, 0) + 1
            draw = random.Random(f"{self.seed}/{function}/{n}")
            copies = 2 if draw.random() < how.duplicate else 1
            delays = [draw.uniform(*how.delay_ms) / 1000 if draw.random() < how.late else 0.0 for _ in range(copies)]
            self.duplicated += copies - 1
            self.delayed += sum(1 for d in delays if d)
            return delays

    def now(self, service: str) -> float:
        """The time by `service`'s clock (seconds since the epoch)."""
        return time.time() + self.clocks.get(service, 0.0)

    def scaled(self, seconds: float) -> float:
        return seconds * self.time_scale


FAULTS = Faults()
