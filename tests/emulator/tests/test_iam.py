"""The emulated cloud's IAM is only worth its strictness if its policy evaluation is right: these check it against
the IAM policy evaluation logic (docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html
and the condition operators reference). Run by tests/run.sh: python -m unittest discover -s tests/emulator/tests -t ."""

import unittest

from ..front.iam import Check, conditions_hold, evaluate, trusts


def policy(*statements):
    return {"Version": "2012-10-17", "Statement": list(statements)}


ALLOW_TERMINATE_OWN = {
    "Effect": "Allow",
    "Action": "ec2:TerminateInstances",
    "Resource": "arn:aws:ec2:us-east-1:1:instance/*",
    "Condition": {"StringEquals": {"aws:ResourceTag/ecsub:stack": "ecsub"}},
}


class Evaluation(unittest.TestCase):
    def test_an_allow_needs_its_action_resource_and_conditions(self):
        own = Check("ec2:TerminateInstances", "arn:aws:ec2:us-east-1:1:instance/i-1", {"aws:ResourceTag/ecsub:stack": "ecsub"})
        theirs = Check("ec2:TerminateInstances", "arn:aws:ec2:us-east-1:1:instance/i-2", {"aws:ResourceTag/ecsub:stack": "other"})
        untagged = Check("ec2:TerminateInstances", "arn:aws:ec2:us-east-1:1:instance/i-3", {})
        self.assertEqual(evaluate([policy(ALLOW_TERMINATE_OWN)], own), "Allow")
        # An unmet condition makes the statement not apply: an implicit deny, not an explicit one.
        self.assertIsNone(evaluate([policy(ALLOW_TERMINATE_OWN)], theirs))
        self.assertIsNone(evaluate([policy(ALLOW_TERMINATE_OWN)], untagged))
        other_region = Check("ec2:TerminateInstances", "arn:aws:ec2:eu-west-1:1:instance/i-1", {"aws:ResourceTag/ecsub:stack": "ecsub"})
        self.assertIsNone(evaluate([policy(ALLOW_TERMINATE_OWN)], other_region))

    def test_actions_match_without_case_and_resources_with_it(self):
        statement = {"Effect": "Allow", "Action": "S3:Get*", "Resource": "arn:aws:s3:::Bucket/*"}
        self.assertEqual(evaluate([policy(statement)], Check("s3:GetObject", "arn:aws:s3:::Bucket/k")), "Allow")
        self.assertIsNone(evaluate([policy(statement)], Check("s3:GetObject", "arn:aws:s3:::bucket/k")))
        self.assertIsNone(evaluate([policy(statement)], Check("s3:PutObject", "arn:aws:s3:::Bucket/k")))

    def test_a_wildcard_spans_colons_and_slashes(self):
        statement = {"Effect": "Allow", "Action": "logs:*", "Resource": "arn:aws:logs:us-east-1:1:log-group:ecsub-*"}
        stream = Check("logs:PutLogEvents", "arn:aws:logs:us-east-1:1:log-group:ecsub-wc-abcde:log-stream:ecsub/main/1")
        self.assertEqual(evaluate([policy(statement)], stream), "Allow")
        self.assertIsNone(evaluate([policy(statement)], Check("logs:PutLogEvents", "arn:aws:logs:us-east-1:1:log-group:other")))

    def test_an_explicit_deny_wins_over_any_allow(self):
        allow = {"Effect": "Allow", "Action": "*", "Resource": "*"}
        deny = {"Effect": "Deny", "Action": "iam:PassRole", "Resource": "*"}
        check = Check("iam:PassRole", "arn:aws:iam::1:role/r")
        self.assertEqual(evaluate([policy(allow), policy(deny)], check), "Deny")

    def test_not_action_and_not_resource(self):
        statement = {"Effect": "Allow", "NotAction": "iam:*", "NotResource": "arn:aws:s3:::secret/*"}
        self.assertEqual(evaluate([policy(statement)], Check("s3:GetObject", "arn:aws:s3:::data/k")), "Allow")
        self.assertIsNone(evaluate([policy(statement)], Check("iam:PassRole", "arn:aws:iam::1:role/r")))
        self.assertIsNone(evaluate([policy(statement)], Check("s3:GetObject", "arn:aws:s3:::secret/k")))


class Conditions(unittest.TestCase):
    def test_keys_are_not_case_sensitive_and_values_are(self):
        self.assertTrue(conditions_hold({"StringEquals": {"IAM:PassedToService": "ec2.amazonaws.com"}}, {"iam:PassedToService": "ec2.amazonaws.com"}))
        self.assertFalse(conditions_hold({"StringEquals": {"iam:PassedToService": "EC2.amazonaws.com"}}, {"iam:PassedToService": "ec2.amazonaws.com"}))

    def test_values_of_one_key_are_ored_and_keys_and_operators_anded(self):
        block = {"StringEquals": {"ecs:CreateAction": ["CreateCluster", "RegisterTaskDefinition"]}}
        self.assertTrue(conditions_hold(block, {"ecs:CreateAction": "RegisterTaskDefinition"}))
        both = {"StringEquals": {"a": "1", "b": "2"}, "ArnLike": {"c": "arn:aws:ecs:*:1:cluster/ecsub_*"}}
        self.assertTrue(conditions_hold(both, {"a": "1", "b": "2", "c": "arn:aws:ecs:us-east-1:1:cluster/ecsub_wc"}))
        self.assertFalse(conditions_hold(both, {"a": "1", "b": "2", "c": "arn:aws:ecs:us-east-1:1:cluster/other_wc"}))
        self.assertFalse(conditions_hold(both, {"a": "1", "c": "arn:aws:ecs:us-east-1:1:cluster/ecsub_wc"}))

    def test_a_missing_key_fails_positive_operators_and_passes_negated_ones_and_if_exists(self):
        self.assertFalse(conditions_hold({"StringEquals": {"aws:RequestTag/ecsub:stack": "ecsub"}}, {}))
        self.assertTrue(conditions_hold({"StringNotEquals": {"aws:RequestTag/ecsub:stack": "ecsub"}}, {}))
        self.assertTrue(conditions_hold({"StringEqualsIfExists": {"aws:RequestTag/ecsub:stack": "ecsub"}}, {}))
        self.assertFalse(conditions_hold({"StringEqualsIfExists": {"k": "ecsub"}}, {"k": "other"}))

    def test_null_tells_whether_a_key_is_there(self):
        self.assertTrue(conditions_hold({"Null": {"aws:RequestTag/ecsub:stack": "false"}}, {"aws:RequestTag/ecsub:stack": "x"}))
        self.assertTrue(conditions_hold({"Null": {"aws:RequestTag/ecsub:stack": "true"}}, {}))
        self.assertFalse(conditions_hold({"Null": {"aws:RequestTag/ecsub:stack": "true"}}, {"aws:RequestTag/ecsub:stack": "x"}))

    def test_multivalued_keys_need_for_any_value_or_for_all_values(self):
        tags = {"aws:TagKeys": ["ecsub:stack", "ecsub:job"]}
        self.assertTrue(conditions_hold({"ForAnyValue:StringEquals": {"aws:TagKeys": "ecsub:job"}}, tags))
        self.assertFalse(conditions_hold({"ForAllValues:StringEquals": {"aws:TagKeys": "ecsub:job"}}, tags))
        self.assertTrue(conditions_hold({"ForAllValues:StringLike": {"aws:TagKeys": "ecsub:*"}}, tags))


class Trust(unittest.TestCase):
    def test_a_role_trusts_only_the_services_its_trust_policy_names(self):
        ec2 = policy({"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"})
        both = policy({"Effect": "Allow", "Principal": {"Service": ["ec2.amazonaws.com", "ecs-tasks.amazonaws.com"]}, "Action": ["sts:AssumeRole"]})
        self.assertTrue(trusts(ec2, "ec2.amazonaws.com"))
        self.assertFalse(trusts(ec2, "ecs-tasks.amazonaws.com"), "the console's ecsInstanceRole cannot be a task role")
        self.assertTrue(trusts(both, "ecs-tasks.amazonaws.com"))
        self.assertFalse(trusts(policy(), "lambda.amazonaws.com"))
        denied = policy(
            {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"},
            {"Effect": "Deny", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"},
        )
        self.assertFalse(trusts(denied, "ec2.amazonaws.com"))


if __name__ == "__main__":
    unittest.main()
