"""The account's EC2 vCPU quotas, which moto's Service Quotas does not have (it answers `vpc` only) and its EC2 does
not enforce.

- Service Quotas' GetServiceQuota answers each EC2 vCPU quota by its code, with the account's value here
  (`QUOTAS`; the control API's POST /quota sets one), as AWS does ("GetServiceQuota"; the quota codes of the EC2
  User Guide's "Amazon EC2 service quotas"); an unknown code is NoSuchResourceException.
- RunInstances meets them: the vCPUs of the account's pending and running instances of the quota's class and
  market (on demand, or spot), with the launch's, may not pass the quota. EC2 then launches the largest number
  above MinCount that fits ("RunInstances", MaxCount: "Amazon EC2 launches the largest possible number of
  instances above the specified minimum count"), or refuses the call with VcpuLimitExceeded ("You have requested
  more vCPU capacity than your current vCPU limit of N allows for the instance bucket that the specified instance
  type belongs to", EC2 API error codes).

The defaults hold every test's jobs (the scale tests run over 1 000 t3.micro at once); a test that wants a small
quota sets it.
"""

from __future__ import annotations

import threading
from typing import Any, Optional

# code -> (name, vCPUs)
DEFAULTS: dict[str, tuple[str, float]] = {
    "L-1216C47A": ("Running On-Demand Standard (A, C, D, H, I, M, R, T, Z) instances", 5120.0),
    "L-34B43A08": ("All Standard (A, C, D, H, I, M, R, T, Z) Spot Instance Requests", 5120.0),
    "L-DB2E81BA": ("Running On-Demand G and VT instances", 256.0),
    "L-3819A6DF": ("All G and VT Spot Instance Requests", 256.0),
    "L-417A185B": ("Running On-Demand P instances", 384.0),
    "L-7212CCBC": ("All P4, P3 and P2 Spot Instance Requests", 384.0),
    "L-C4BD4855": ("All P5 Spot Instance Requests", 384.0),
}

_LOCK = threading.Lock()
QUOTAS: dict[str, float] = {code: value for code, (_, value) in DEFAULTS.items()}


def set_quota(code: str, value: float) -> dict[str, Any]:
    if code not in DEFAULTS:
        raise ValueError(f"no EC2 quota {code} here (known: {', '.join(DEFAULTS)})")
    with _LOCK:
        QUOTAS[code] = float(value)
    return {"code": code, "value": float(value)}


def reset() -> None:
    with _LOCK:
        QUOTAS.update({code: value for code, (_, value) in DEFAULTS.items()})


def quota_for(instance_type: str, spot: bool) -> Optional[str]:
    """The quota code an instance type's launches draw on (as ecsub-core's chain/quotas.rs decides; None for the
    classes not held here)."""
    family = instance_type.split(".")[0]
    if any(family.startswith(p) for p in ("inf", "dl", "trn", "u-", "hpc")):
        return None
    if family.startswith("g") or family.startswith("vt"):
        return "L-3819A6DF" if spot else "L-DB2E81BA"
    if family.startswith("p"):
        if not spot:
            return "L-417A185B"
        return "L-C4BD4855" if family.startswith("p5") else "L-7212CCBC"
    if family[:1] in "acdhimrtz":
        return "L-34B43A08" if spot else "L-1216C47A"
    return None


def _vcpus(backend, instance_type: str) -> int:
    from moto.ec2.models.instance_types import INSTANCE_TYPES

    info = INSTANCE_TYPES.get(instance_type) or {}
    return int((info.get("VCpuInfo") or {}).get("DefaultVCpus") or 0)


def launchable(backend, instance_type: str, spot: bool, min_count: int, max_count: int) -> int:
    """How many of a launch EC2 starts under the quota (raises VcpuLimitExceeded when not even MinCount fits)."""
    from moto.ec2.exceptions import EC2ClientError

    code = quota_for(instance_type, spot)
    each = _vcpus(backend, instance_type)
    if code is None or each == 0:
        return max_count
    used = 0
    for reservation in backend.reservations.values():
        for instance in reservation.instances:
            if instance.state not in ("pending", "running"):
                continue
            their_spot = getattr(instance, "lifecycle", None) == "spot"
            if quota_for(instance.instance_type, their_spot) == code:
                used += _vcpus(backend, instance.instance_type)
    with _LOCK:
        limit = QUOTAS[code]
    fits = int((limit - used) // each) if limit > used else 0
    if fits < min_count:
        raise EC2ClientError(
            "VcpuLimitExceeded",
            f"You have requested more vCPU capacity than your current vCPU limit of {int(limit)} allows for the "
            f"instance bucket that the specified instance type belongs to. Please visit "
            f"http://aws.amazon.com/contact-us/ec2-request to request an adjustment to this limit.",
        )
    return min(max_count, fits)


def patch_service_quotas() -> None:
    from moto.servicequotas.exceptions import NoSuchResource
    from moto.servicequotas.models import ServiceQuotasBackend

    original = ServiceQuotasBackend.get_service_quota

    def get_service_quota(self, service_code: str, quota_code: str) -> dict[str, Any]:
        if service_code != "ec2":
            return original(self, service_code, quota_code)
        if quota_code not in DEFAULTS:
            raise NoSuchResource
        with _LOCK:
            value = QUOTAS[quota_code]
        return {
            "ServiceCode": "ec2",
            "ServiceName": "Amazon Elastic Compute Cloud (Amazon EC2)",
            "QuotaArn": f"arn:aws:servicequotas:{self.region_name}:{self.account_id}:ec2/{quota_code}",
            "QuotaCode": quota_code,
            "QuotaName": DEFAULTS[quota_code][0],
            "Value": value,
            "Unit": "None",
            "Adjustable": True,
            "GlobalQuota": False,
        }

    ServiceQuotasBackend.get_service_quota = get_service_quota
