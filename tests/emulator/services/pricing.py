"""Prices in the emulated cloud: the AWS Pricing API (moto has none) and EC2's spot price history (moto answers
one made-up price from 2006 whatever is asked).

- GetProducts (Pricing API reference, "GetProducts"; AWS Billing user guide, "Reading the service price list
  files"): `PriceList` is a list of JSON documents as strings, one per product, `{"product": {"productFamily",
  "attributes", "sku"}, "serviceCode", "terms": {"OnDemand": {...}, "Reserved": {...}}, "version",
  "publicationDate"}`, each price under `terms.OnDemand.<sku>.<term>.priceDimensions.<rate>.pricePerUnit.USD` as a
  string with 10 decimals; filters are `TERM_MATCH` on an attribute (or `ServiceCode`, or `productFamily`, which
  the document holds beside the attributes), all of which must match;
  `MaxResults` 1–100 with `NextToken`; `FormatVersion` `aws_v1` only.
- DescribeSpotPriceHistory (EC2 API reference): with a start and an end time, the price changes within the window
  and the last change before its start (the price in effect at the start); newest first; filtered by instance
  type, product description and availability zone.

The prices are fixtures: the on-demand ones are US East (N. Virginia) list prices; every zone's spot price is a
share of the on-demand price (zone a 30 %, b 35 %, c 40 %, …), in effect from an hour before the cloud started,
until a test changes it (faults.py, "spot-price"): spot prices move with supply and demand, and an attempt may run
under several. Tests read them from here to check what a job's attempts cost. The gateway answers GetProducts from
here (front/gateway.py), and a patch to moto answers DescribeSpotPriceHistory (patches/behaviour.py).
"""

from __future__ import annotations

import json
import time
from typing import Any, Optional

#: On-demand Linux, per hour (the instance types the suite launches, and a few more).
ON_DEMAND = {
    "t3.micro": "0.0104",
    "t3.small": "0.0208",
    "t3.medium": "0.0416",
    "t4g.micro": "0.0084",
    "t4g.small": "0.0168",
    "m5.large": "0.0960",
    "m6g.large": "0.0770",
    "c5.large": "0.0850",
    "c6g.large": "0.0680",
    "r5.large": "0.1260",
}
#: gp3, per GB-month.
GP3 = "0.0800"
REGION = "us-east-1"
LOCATION = "US East (N. Virginia)"
SPOT_SHARE = {"a": 0.30, "b": 0.35, "c": 0.40, "d": 0.45, "e": 0.50, "f": 0.55}
STARTED = time.time()
#: When every fixture spot price took effect.
SPOT_SINCE = STARTED - 3600
#: Later changes, (instance type, zone) -> [(epoch seconds, price)], oldest first.
SPOT_CHANGES: dict[tuple[str, str], list[tuple[float, str]]] = {}


def change_spot_price(instance_type: str, zone: str, price: str, at: Optional[float] = None) -> None:
    """The spot price of a type in a zone changes (now, or at `at`)."""
    if instance_type not in ON_DEMAND or spot_price(instance_type, zone) is None:
        raise ValueError(f"no spot price is kept for {instance_type} in {zone}")
    float(price)  # a price, as EC2 writes it
    changes = SPOT_CHANGES.setdefault((instance_type, zone), [])
    changes.append((time.time() if at is None else at, price))
    changes.sort()


def spot_price(instance_type: str, zone: str) -> Optional[str]:
    """The fixture spot price of a type in a zone (dollars per hour, as EC2 writes it), or None."""
    od = ON_DEMAND.get(instance_type)
    share = SPOT_SHARE.get(zone[-1:]) if zone.startswith(REGION) else None
    if od is None or share is None:
        return None
    return f"{float(od) * share:.6f}"


def _document(sku: str, family: str, attributes: dict[str, str], unit: str, usd: str, description: str) -> str:
    term = f"{sku}.JRTCKXETXF"
    return json.dumps(
        {
            "product": {"productFamily": family, "attributes": attributes, "sku": sku},
            "serviceCode": "AmazonEC2",
            "terms": {
                "OnDemand": {
                    term: {
                        "priceDimensions": {
                            f"{term}.6YS6EN2CT7": {
                                "unit": unit,
                                "endRange": "Inf",
                                "description": description,
                                "appliesTo": [],
                                "rateCode": f"{term}.6YS6EN2CT7",
                                "beginRange": "0",
                                "pricePerUnit": {"USD": f"{float(usd):.10f}"},
                            }
                        },
                        "sku": sku,
                        "effectiveDate": "2026-11-01T00:00:00Z",
                        "offerTermCode": "JRTCKXETXF",
                        "termAttributes": {},
                    }
                },
                "Reserved": {
                    f"{sku}.4NA7Y494T4": {
                        "priceDimensions": {
                            f"{sku}.4NA7Y494T4.6YS6EN2CT7": {
                                "unit": unit,
                                "description": "reserved, 1 year, no upfront",
                                "pricePerUnit": {"USD": f"{float(usd) * 0.6:.10f}"},
                            }
                        },
                        "sku": sku,
                        "offerTermCode": "4NA7Y494T4",
                        "termAttributes": {"LeaseContractLength": "1yr", "PurchaseOption": "No Upfront"},
                    }
                },
            },
            "version": "20261101000000",
            "publicationDate": "2026-11-01T00:00:00Z",
        }
    )


def _products() -> list[tuple[dict[str, str], str]]:
    products = []
    for n, (instance_type, usd) in enumerate(sorted(ON_DEMAND.items())):
        for os_name, license_model in (("Linux", "No License required"), ("Windows", "No License required")):
            for capacity in ("Used", "UnusedCapacityReservation"):
                attributes = {
                    "instanceType": instance_type,
                    "regionCode": REGION,
                    "location": LOCATION,
                    "operatingSystem": os_name,
                    "tenancy": "Shared",
                    "preInstalledSw": "NA",
                    "capacitystatus": capacity,
                    "licenseModel": license_model,
                    "servicecode": "AmazonEC2",
                }
                price = usd if os_name == "Linux" else f"{float(usd) * 1.9:.4f}"
                sku = f"SKU{n:03d}{os_name[0]}{capacity[0]}"
                description = f"${price} per On Demand {os_name} {instance_type} Instance Hour"
                products.append(({**attributes, "productFamily": "Compute Instance"}, _document(sku, "Compute Instance", attributes, "Hrs", price, description)))
    for volume, usd in (("gp3", GP3), ("gp2", "0.10")):
        attributes = {"volumeApiName": volume, "regionCode": REGION, "location": LOCATION, "servicecode": "AmazonEC2"}
        document = _document(f"EBS{volume}", "Storage", attributes, "GB-Mo", usd, f"${usd} per GB-month of {volume}")
        products.append(({**attributes, "productFamily": "Storage"}, document))
    return products


PRODUCTS = _products()


class PricingError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def get_products(params: dict[str, Any]) -> dict[str, Any]:
    """GetProducts, as the Pricing API answers it."""
    service = params.get("ServiceCode")
    if not service:
        raise PricingError("InvalidParameterException", "ServiceCode is required")
    if params.get("FormatVersion", "aws_v1") != "aws_v1":
        raise PricingError("InvalidParameterException", f"FormatVersion {params['FormatVersion']!r} is not supported: aws_v1")
    size = params.get("MaxResults", 100)
    if not isinstance(size, int) or not 1 <= size <= 100:
        raise PricingError("InvalidParameterException", "MaxResults must be between 1 and 100")
    filters = params.get("Filters", [])
    for f in filters:
        if f.get("Type") != "TERM_MATCH" or not f.get("Field"):
            raise PricingError("InvalidParameterException", f"unsupported filter {f!r}: TERM_MATCH on a field")
    found = [
        document
        for attributes, document in PRODUCTS
        if service == "AmazonEC2"
        and all(
            (service if f["Field"] == "ServiceCode" else attributes.get(f["Field"])) == f.get("Value") for f in filters
        )
    ]
    token = params.get("NextToken")
    try:
        start = int(token) if token else 0
    except ValueError:
        raise PricingError("InvalidNextTokenException", "The pagination token is invalid") from None
    page = found[start : start + size]
    answer: dict[str, Any] = {"FormatVersion": "aws_v1", "PriceList": page}
    if start + size < len(found):
        answer["NextToken"] = str(start + size)
    return answer


def _iso(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(epoch))


def spot_history(instance_types: list[str], descriptions: list[str], zones: list[str], start: Optional[float], end: Optional[float]) -> list[dict[str, str]]:
    """DescribeSpotPriceHistory's answer from the fixture: for each (type, zone), the changes within the window and
    the last one before its start (the price in effect at the start), newest first."""
    if descriptions and not any(d in ("Linux/UNIX", "Linux/UNIX (Amazon VPC)") for d in descriptions):
        return []
    history = []
    for instance_type in instance_types or sorted(ON_DEMAND):
        for letter in SPOT_SHARE:
            zone = f"{REGION}{letter}"
            if zones and zone not in zones:
                continue
            price = spot_price(instance_type, zone)
            if price is None:
                continue
            changes = [(SPOT_SINCE, price)] + SPOT_CHANGES.get((instance_type, zone), [])
            if end is not None:
                changes = [c for c in changes if c[0] <= end]
            if start is not None:
                before = [c for c in changes if c[0] <= start]
                changes = before[-1:] + [c for c in changes if c[0] > start]
            for at, value in reversed(changes):
                history.append(
                    {
                        "InstanceType": instance_type,
                        "ProductDescription": "Linux/UNIX",
                        "SpotPrice": value,
                        "AvailabilityZone": zone,
                        "Timestamp": _iso(at),
                    }
                )
    history.sort(key=lambda h: h["Timestamp"], reverse=True)
    return history
