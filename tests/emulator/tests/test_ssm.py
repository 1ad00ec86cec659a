"""Run Command reaches managed nodes only (services/ssm_commands.py): an instance whose SSM Agent has the rights of
AmazonSSMManagedInstanceCore, running. Run by tests/run.sh: python -m unittest discover."""

import unittest
from types import SimpleNamespace

from ..services import ssm_commands
from .test_cloud import CloudCase

#: What AmazonSSMManagedInstanceCore lets the SSM Agent do, in short.
CORE = {"Effect": "Allow", "Action": ["ssm:UpdateInstanceInformation", "ssmmessages:*", "ec2messages:*"], "Resource": "*"}


class RunCommand(CloudCase):
    def setUp(self):
        self.saved = (ssm_commands.AGENT, ssm_commands.PRINCIPALS)
        self.addCleanup(lambda: setattr(ssm_commands, "AGENT", self.saved[0]) or setattr(ssm_commands, "PRINCIPALS", self.saved[1]))

    def launch(self):
        ec2 = self.client("ec2")
        return ec2.run_instances(ImageId=self.ami(), InstanceType="t3.micro", MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]

    def send(self, instance):
        return self.client("ssm").send_command(
            InstanceIds=[instance], DocumentName="AWS-RunShellScript", Parameters={"commands": ["ls /scratch"]}
        )

    def test_a_command_reaches_only_a_running_instance_whose_agent_may_reach_systems_manager(self):
        managed, plain, gone = self.launch(), self.launch(), self.launch()
        with_core = self.user("instance-with-core", CORE)
        without = self.user("instance-without", {"Effect": "Allow", "Action": "ecs:*", "Resource": "*"})
        ssm_commands.PRINCIPALS = self.cloud.principals
        ssm_commands.AGENT = SimpleNamespace(
            instances={
                managed: SimpleNamespace(principal=with_core),
                plain: SimpleNamespace(principal=without),
                gone: SimpleNamespace(principal=with_core),
            }
        )
        self.known()
        self.client("ec2").terminate_instances(InstanceIds=[gone])
        self.assertIsNone(ssm_commands.managed("123456789012", "us-east-1", managed))
        self.assertIn("cannot reach Systems Manager", ssm_commands.managed("123456789012", "us-east-1", plain))
        self.assertRegex(ssm_commands.managed("123456789012", "us-east-1", gone) or "", r"^it is (shutting-down|terminated)$")
        for refused in (plain, gone):
            error = self.error(lambda: self.send(refused))
            self.assertEqual(error["Code"], "InvalidInstanceId")
            self.assertIn(refused, error["Message"])
        # No agent knows the instance (not booted, or no instance profile): not a managed node either.
        ssm_commands.AGENT = SimpleNamespace(instances={})
        self.assertEqual(self.error(lambda: self.send(managed))["Code"], "InvalidInstanceId")


if __name__ == "__main__":
    unittest.main()
