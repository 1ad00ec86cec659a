"""The emulated cloud's prices (services/pricing.py): the Pricing API answers GetProducts in AWS's shape through
the real boto3 client, under IAM, and EC2's spot price history answers the window asked. Run by tests/run.sh."""

import datetime
import json
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


if __name__ == "__main__":
    unittest.main()
