"""What the emulated services have scheduled for later and not done yet: a Step Functions Wait state or Retry
back-off under way. The harness's "settled" (GET /busy) counts them, so a test that checks that nothing happened
does not pass while a retry is still to come (test audit 2026-12, K12: "quiet" meant only that the Lambda host was
idle)."""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Iterator

_lock = threading.Lock()
_pending = 0


@contextmanager
def waiting() -> Iterator[None]:
    """Counts the enclosed wait as scheduled work."""
    global _pending
    with _lock:
        _pending += 1
    try:
        yield
    finally:
        with _lock:
            _pending -= 1


def pending() -> int:
    with _lock:
        return _pending
