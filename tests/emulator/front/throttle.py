"""EC2's API throttling, which moto does not have: token buckets per account and Region, as AWS documents them in
"Request throttling for the Amazon EC2 API" (https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-throttling.html):

- request rate limiting: each call takes one token from its API's bucket; RunInstances' bucket holds 5 tokens and
  refills 2 a second;
- resource rate limiting, on top of it: RunInstances takes one token per instance it launches from a bucket of
  1 000 that refills 2 a second; TerminateInstances one per instance from a bucket of 1 000 that refills 20.

A call that finds its bucket short fails with RequestLimitExceeded (HTTP 503) and takes nothing. Buckets start full
and refill continuously (a fraction of a token counts toward the next). Only the buckets above are kept: they are
the ones a job's launches and terminations meet. A test may shrink a bucket (`POST /ec2-bucket`) to meet the limit
with a few tasks instead of a thousand; the rule stays AWS's.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Optional

# (kind, API) -> (capacity, refill per second), from the document above.
DOCUMENTED: dict[tuple[str, str], tuple[float, float]] = {
    ("request", "RunInstances"): (5, 2),
    ("resource", "RunInstances"): (1000, 2),
    ("resource", "TerminateInstances"): (1000, 20),
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
    """The call is over its bucket: EC2 answers RequestLimitExceeded."""

    code = "RequestLimitExceeded"
    status = 503

    def __init__(self, api: str, kind: str) -> None:
        super().__init__("Request limit exceeded.")
        self.api, self.kind = api, kind


class Ec2Throttle:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.lock = threading.Lock()
        self.sizes = dict(DOCUMENTED)
        self.buckets: dict[tuple[str, str, str, str], Bucket] = {}
        self.throttled: dict[str, int] = {}

    def resize(self, kind: str, api: str, capacity: float, refill: float) -> dict[str, Any]:
        """A test's smaller (or larger) bucket; existing buckets of that API start again, full."""
        if (kind, api) not in DOCUMENTED:
            raise ValueError(f"no {kind} bucket for {api} (known: {sorted(DOCUMENTED)})")
        with self.lock:
            self.sizes[(kind, api)] = (float(capacity), float(refill))
            for key in [k for k in self.buckets if k[2:] == (kind, api)]:
                del self.buckets[key]
        return self.state()

    def state(self) -> dict[str, Any]:
        with self.lock:
            return {
                "sizes": {f"{k} {a}": list(v) for (k, a), v in self.sizes.items()},
                "throttled": dict(self.throttled),
            }

    def _bucket(self, account: str, region: str, kind: str, api: str, now: float) -> Bucket:
        key = (account, region, kind, api)
        bucket = self.buckets.get(key)
        if bucket is None:
            capacity, refill = self.sizes[(kind, api)]
            bucket = self.buckets[key] = Bucket(capacity, refill, capacity, now)
        return bucket

    def check(self, account: str, region: str, api: str, params: dict[str, Any]) -> None:
        """Takes the call's tokens, or raises Throttled and takes none."""
        needs: list[tuple[str, float]] = []
        if ("request", api) in self.sizes:
            needs.append(("request", 1))
        if ("resource", api) in self.sizes:
            needs.append(("resource", _resources(api, params)))
        if not needs:
            return
        with self.lock:
            now = self.clock()
            buckets = [(kind, n, self._bucket(account, region, kind, api, now)) for kind, n in needs]
            # Take only if every bucket has enough: a throttled call costs nothing.
            for kind, n, bucket in buckets:
                bucket.refill_to(now)
                if bucket.tokens < n:
                    self.throttled[api] = self.throttled.get(api, 0) + 1
                    raise Throttled(api, kind)
            for _, n, bucket in buckets:
                bucket.tokens -= n


def _resources(api: str, params: dict[str, Any]) -> float:
    """How many resources the call acts on: RunInstances' MaxCount, TerminateInstances' instance ids."""
    if api == "RunInstances":
        return float(_int(params.get("MaxCount")) or 1)
    return float(sum(1 for k in params if k.startswith("InstanceId.")) or 1)


def _int(value: Optional[Any]) -> int:
    try:
        return int(value) if value is not None else 0
    except (TypeError, ValueError):
        return 0


EC2_THROTTLE = Ec2Throttle()
