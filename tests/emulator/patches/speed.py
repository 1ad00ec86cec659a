"""Patches to moto 5.2.5 that change what a call costs, never what it answers. Pinned like behaviour.py
(patches.apply() applies both); check each again when moto is upgraded.

Found with py-spy on the emulated cloud while a job ran 300 tasks at once (`job-scale -- 600 300`, 2026-12-03): of
the samples of threads doing work, 18 % waited on the lock of moto's request dispatcher and 6 % were in EC2's tag
lookup; API calls queued for minutes and the job's Lambda invocations timed out waiting for them.

1. The dispatcher (DomainDispatcherApplication.get_backend_for_host) lists moto's package folder (`os.listdir` and
   an `os.path.isdir` for each of ~200 entries) and then tries every service's URL patterns, on every request and
   under one lock that every request takes. A host names the same backend for the life of the process: the answer
   is kept per host.
2. An EC2 resource's tags (TaggedEC2Resource.get_tags) are found by copying every tag of every resource in the
   region and matching each against the resource's id: DescribeInstances with a tag filter over N instances costs
   N² work. The tags are read from the resource's own entry instead, in the same order, with the same fields.
"""

from __future__ import annotations

import threading
from typing import Any


def patch_dispatcher() -> None:
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    original = DomainDispatcherApplication.get_backend_for_host
    known: dict[str, Any] = {}
    lock = threading.Lock()

    def get_backend_for_host(self, host):
        if host is None:
            return original(self, host)
        with lock:
            if host in known:
                return known[host]
        backend = original(self, host)
        if backend is not None:
            with lock:
                known[host] = backend
        return backend

    DomainDispatcherApplication.get_backend_for_host = get_backend_for_host


def patch_ec2_tags() -> None:
    from moto.ec2.models.core import TaggedEC2Resource
    from moto.ec2.utils import EC2_PREFIX_TO_RESOURCE, get_prefix

    def get_tags(self) -> list[dict[str, str]]:
        resource_id = self.id  # type: ignore[attr-defined]
        if not resource_id:
            return []
        tags = self.ec2_backend.tags.get(resource_id)  # type: ignore[attr-defined]
        if not tags:
            return []
        kind = EC2_PREFIX_TO_RESOURCE.get(get_prefix(resource_id), "")
        return [
            {"resource_id": resource_id, "key": key, "value": value, "resource_type": kind}
            for key, value in list(tags.items())
        ]

    TaggedEC2Resource.get_tags = get_tags
