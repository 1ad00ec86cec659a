"""The emulated cloud's prices (services/pricing.py): the Pricing API answers GetProducts in AWS's shape through
the real boto3 client, under IAM, and EC2's spot price history answers the window asked. Run by tests/run.sh."""

import datetime
import json
import time
import unittest

from ..services import pricing
from .test_cloud import CloudCase


class Prices(CloudCase):
    def test_get_products_answers_one_document_per_product_with_its_on_demand_price(self):
        client = self.client("pricing")
        filters = [
            {"Type": "TERM_MATCH", "Field": "instanceType", "Value": "m5.large"},
            {"Type": "TERM_MATCH", "Field": "regionCode", "Value": "us-east-1"},
            {"Type": "TERM_MATCH", "Field": "operatingSystem", "Value": "Linux"},
            {"Type": "TERM_MATCH", "Field": "capacitystatus", "Value": "Used"},
        ]
        answer = client.get_products(ServiceCode="AmazonEC2", Filters=filters, FormatVersion="aws_v1")
        self.assertEqual(answer["FormatVersion"], "aws_v1")
        self.assertEqual(len(answer["PriceList"]), 1)
        product = json.loads(answer["PriceList"][0])
        self.assertEqual(product["product"]["attributes"]["instanceType"], "m5.large")
        (term,) = product["terms"]["OnDemand"].values()
        (dimension,) = term["priceDimensions"].values()
        self.assertEqual((dimension["unit"], dimension["pricePerUnit"]["USD"]), ("Hrs", "0.0960000000"))

    def test_get_products_pages_and_refuses_what_aws_refuses(self):
        client = self.client("pricing")
        pages = list(client.get_paginator("get_products").paginate(ServiceCode="AmazonEC2", PaginationConfig={"PageSize": 7}))
        self.assertGreater(len(pages), 1)
        self.assertEqual(sum(len(p["PriceList"]) for p in pages), len(pricing.PRODUCTS))
        error = self.error(lambda: client.get_products(ServiceCode="AmazonEC2", FormatVersion="aws_v2"))
        self.assertEqual(error["Code"], "InvalidParameterException")
        error = self.error(lambda: client.get_products(ServiceCode="AmazonEC2", NextToken="junk"))
        self.assertEqual(error["Code"], "InvalidNextTokenException")

    def test_get_products_needs_leave(self):
        nobody = self.user("pricing-nobody", {"Effect": "Allow", "Action": "ec2:DescribeInstances", "Resource": "*"})
        error = self.error(lambda: self.client("pricing", nobody).get_products(ServiceCode="AmazonEC2"))
        self.assertEqual(error["Code"], "AccessDeniedException")

    def test_spot_history_gives_the_price_in_effect_at_the_start_of_the_window(self):
        ec2 = self.client("ec2")
        now = datetime.datetime.now(datetime.timezone.utc)
        answer = ec2.describe_spot_price_history(
            InstanceTypes=["m5.large"],
            ProductDescriptions=["Linux/UNIX"],
            Filters=[{"Name": "availability-zone", "Values": ["us-east-1b"]}],
            StartTime=now - datetime.timedelta(minutes=5),
            EndTime=now,
        )
        (point,) = answer["SpotPriceHistory"]
        self.assertEqual((point["AvailabilityZone"], point["SpotPrice"]), ("us-east-1b", pricing.spot_price("m5.large", "us-east-1b")))
        self.assertLess(point["Timestamp"], now - datetime.timedelta(minutes=5))
        before = ec2.describe_spot_price_history(InstanceTypes=["m5.large"], EndTime=now - datetime.timedelta(days=1))
        self.assertEqual(before["SpotPriceHistory"], [], "no price was in effect a day before the cloud started")

    def test_spot_history_gives_every_change_within_the_window_newest_first(self):
        ec2 = self.client("ec2")
        now = time.time()
        pricing.change_spot_price("c5.large", "us-east-1c", "0.031000", at=now - 120)
        pricing.change_spot_price("c5.large", "us-east-1c", "0.029500", at=now - 30)
        self.addCleanup(pricing.SPOT_CHANGES.pop, ("c5.large", "us-east-1c"))

        def window(start: float, end: float) -> list[tuple[str, float]]:
            answer = ec2.describe_spot_price_history(
                InstanceTypes=["c5.large"],
                ProductDescriptions=["Linux/UNIX"],
                Filters=[{"Name": "availability-zone", "Values": ["us-east-1c"]}],
                StartTime=datetime.datetime.fromtimestamp(start, datetime.timezone.utc),
                EndTime=datetime.datetime.fromtimestamp(end, datetime.timezone.utc),
            )
            return [(p["SpotPrice"], p["Timestamp"].timestamp()) for p in answer["SpotPriceHistory"]]

        # A window holding both changes: both, and the price in effect at its start, newest first.
        prices = window(now - 300, now)
        self.assertEqual([p for p, _ in prices], ["0.029500", "0.031000", pricing.spot_price("c5.large", "us-east-1c")])
        self.assertEqual([int(t) for _, t in prices[:2]], [int(now - 30), int(now - 120)])
        # A window after the first change: the first as the price in effect at its start, then the second.
        self.assertEqual([p for p, _ in window(now - 60, now)], ["0.029500", "0.031000"])
        # A window that ended before the second: it is not shown.
        self.assertEqual([p for p, _ in window(now - 100, now - 60)], ["0.031000"])
        with self.assertRaises(ValueError):
            pricing.change_spot_price("c5.large", "eu-west-1a", "0.01")


if __name__ == "__main__":
    unittest.main()
