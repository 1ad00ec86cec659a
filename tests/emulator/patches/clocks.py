"""The services' clocks, apart as on AWS (faults.py, "clocks"): every service is an NTP client and keeps time to
within a fraction of a second, never exactly with the others. S3 stamps an object's LastModified with its own clock
(and keeps it to the second, as moto already does); ECS's times come from the stand-in agent
(compute/agent_tasks.py), which reads ECS's clock from `FAULTS.now("ecs")`."""

from __future__ import annotations

import datetime

from ..faults import FAULTS


def patch_s3_clock() -> None:
    """moto's S3 stamps objects and uploads with `utcnow()`; here with S3's clock."""
    import moto.s3.models as s3_models

    def s3_utcnow() -> datetime.datetime:
        return datetime.datetime.fromtimestamp(FAULTS.now("s3"), tz=datetime.timezone.utc).replace(tzinfo=None)

    s3_models.utcnow = s3_utcnow
