"""Patches to moto 5.2.5 that the emulated cloud needs. Each makes moto do what AWS does (with the AWS document that
says so); none adds behaviour AWS lacks. Pinned to 5.2.5: check each again when moto is upgraded, and drop the one
a release fixes. The faults a test injects are applied here too, through faults.FAULTS.

Step Functions
1. Service integrations (moto #10076, fixes in PRs #10094/#10101 unmerged): `_normalise_parameters` /
   `_normalise_response` are empty in moto's port of the LocalStack interpreter, so PascalCase parameters never
   reach boto3 in its shapes and responses are not PascalCased ("Learning to use AWS service SDK integrations":
   parameters are PascalCase). Filled in from botocore's operation model; responses made JSON-safe.
2. The interpreter's calls to other services are signed with the execution role's credentials, as Step Functions
   does ("Step Functions uses the state machine's execution role for its integrations"); moto signs them with a
   dummy key, which the sandbox's IAM gateway would refuse. The role must trust states.amazonaws.com.
3. StopExecution aborts an execution at once, even while a state waits for a task token (moto only flags it).
   SendTaskFailure's cause reaches the waiting state's Catch with its error ("SendTaskFailure": error and cause);
   moto dropped the cause.
   A task token is answered once: SendTaskSuccess or SendTaskFailure on a token already answered answers
   TaskTimedOut ("SendTaskSuccess", Errors: "the task associated with the token has already been closed"); moto
   took a second answer as the first.
4. Retry intervals follow the sandbox's time scale (faults.FAULTS.time_scale), like every other AWS schedule here.
   A Retry back-off or a Wait state under way counts as scheduled work (services/schedule.py), which the
   harness's "settled" waits for.
5. The Distributed Map: its authorization, child histories, failure thresholds and ResultWriter (services/map_run.py).
   And States.ALL in a Catch or Retry matches neither States.Runtime nor States.DataLimitExceeded ("Handling
   errors in Step Functions workflows": "This error type can't catch the States.DataLimitExceeded terminal error
   type and runtime error types"): such an error fails the execution. moto's States.ALL matched every error.

EC2
6. RunInstances launches MaxCount instances (capacity permitting; moto launched MinCount), each with the instance
   profile (moto gave it to the first only), and honours ClientToken
   (EC2 "Ensuring idempotency"): the same token and parameters return the first
   call's instances; the same token with other parameters fails IdempotentParameterMismatch (seen also after a
   failed first call: ubicloud/ubicloud#5898). moto ignores the token.
7. (Fault) InsufficientInstanceCapacity for the instance types faults.FAULTS.no_capacity names.
7a. A launch without MetadataOptions gets its AMI's: the ECS-optimized AL2023 AMI is registered with ImdsSupport
   v2.0, so HttpTokens `required` and HttpPutResponseHopLimit 2 (EC2 API reference, `Image.ImdsSupport`: "Instances
   launched from this AMI will have HttpTokens automatically set to required … HttpPutResponseHopLimit is set to
   2"); moto gave `optional` and 1. A hop limit outside 1–64 is InvalidParameterValue. The metadata service of
   compute/credentials.py answers as these options say.
   A launch without a subnet in a region without a default VPC fails VPCIdNotSpecified ("No default VPC for this
   user": EC2 API error codes); moto launched it anyway.

ECS
8. ListContainerInstances honours its `filter` (`ec2InstanceId == i-…`, the cluster query language), and answers
   while an instance registers (moto iterated the live dict: RuntimeError, HTTP 500). ListTasks,
   ListContainerInstances, ListClusters and ListTaskDefinitions answer 100 a page with a nextToken, as ECS does
   (moto answered everything at once, so no caller's paging was ever exercised).
9. Task containers carry `cpu` and `memory` as strings, as the ECS model says (the Rust SDK rejects numbers).
10. StartTask: the failures ECS answers with HTTP 200 instead of starting a task ("API failure reasons"): AGENT when
   the instance's agent is disconnected, MISSING / INACTIVE for an unknown or deregistered instance, RESOURCE:GPU
   when the task asks for more GPUs than the instance registered (compute/agent.py registers an instance type's
   NVIDIA GPUs only on the GPU-optimized AMI with ECS_ENABLE_GPU_SUPPORT=true), and injected ones; and ClientException "ECS was unable to assume the role …" when the task role does not trust
   ecs-tasks.amazonaws.com (the ECS task IAM role docs; the error RunTask/StartTask give). RegisterTaskDefinition
   refuses repositoryCredentials without an executionRoleArn.

EventBridge, S3, Lambda
11. Disabled rules and schedule rules get no S3 events (moto delivers to both); an SQS target gets a rule's events
    only if its queue's policy lets events.amazonaws.com send them, and an SNS topic target (which moto never
    delivered to) only if the topic's policy lets it publish them (services/event_targets.py).
12. S3's EventBridge events carry a fresh `id` and a `sequencer` that grows with every write, as S3's do (moto gives
    every event the same of both); keys are raw, not URL-encoded (as moto already does).
13. Lambda: moto's Invoke needs Docker, and rules with Lambda targets make PutEvents fail. Both are handed to the
    sandbox's Lambda host (services/lambda_host.py), which runs the real handlers and checks the resource-based policy.
    An invocation past the concurrency limit answers TooManyRequestsException, HTTP 429, and a request over the
    payload limit RequestEntityTooLargeException, HTTP 413 ("Invoke": errors). A Lambda
    task state (a function ARN as its Resource) names an error of the Invoke call itself `Lambda.<code>`, as the
    `lambda:invoke` integration does ("Handle transient Lambda service exceptions": Lambda.TooManyRequestsException,
    Lambda.ServiceException, …); moto named every such error `Exception`, which no Retry of AWS's names matches.

SQS
15. A message's delay (DelaySeconds) follows the sandbox's time scale, as every AWS schedule and Retry interval here
    does: the launcher's waits (a minute for capacity) take a second in tests. Visibility timeouts do not (a reader
    that hides a message while it works keeps it hidden as long as on AWS).

Prices
14. DescribeSpotPriceHistory answers the fixture history of services/pricing.py for the window asked (moto answered
    one made-up price dated 2006); the Pricing API, which moto lacks, is answered by the gateway from the same file.

speed.py holds the patches that change only what a call costs; patches.apply() (__init__.py) applies every patch.
"""

from __future__ import annotations

import base64
import copy
import datetime
import hashlib
import itertools
import json
import logging
import sys
import threading
import time
import uuid
from typing import Any, Callable, Optional

import botocore.session
from botocore.response import StreamingBody

from ..faults import FAULTS
from ..services import event_targets, pricing, quotas, schedule

LOG = logging.getLogger("ecsub.sandbox.patches")

#: Set by the sandbox: the Lambda host (invoke_sync, invoke_async, deliver_event).
LAMBDA_HOST = None
#: Set by the sandbox: role ARN -> the Principal Step Functions acts as (after the trust check).
STATES_PRINCIPAL: Optional[Callable[[str], Any]] = None

_SESSION = botocore.session.get_session()
_OPERATIONS: dict[tuple[str, str], Any] = {}


def _operation_model(service: str, snake_action: str):
    key = (service, snake_action)
    if key not in _OPERATIONS:
        from moto.stepfunctions.parser.utils import camel_to_snake_case

        model = _SESSION.get_service_model(service)
        found = None
        for name in model.operation_names:
            if camel_to_snake_case(name) == snake_action:
                found = model.operation_model(name)
                break
        _OPERATIONS[key] = found
    return _OPERATIONS[key]


def _json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    if isinstance(value, datetime.datetime):
        return value.isoformat()
    if isinstance(value, StreamingBody):
        return value.read().decode("utf-8", "replace")
    if isinstance(value, (bytes, bytearray)):
        return value.decode("utf-8", "replace")
    return value


def patch_stepfunctions() -> None:
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service import (
        StateTaskService,
    )

    def normalise_parameters(self, parameters, boto_service_name=None, service_action_name=None):
        service = self._get_boto_service_name(boto_service_name=boto_service_name)
        action = self._get_boto_service_action(service_action_name=service_action_name)
        operation = _operation_model(service, action)
        if operation is not None and operation.input_shape is not None:
            self._to_boto_request(parameters, operation.input_shape)

    def normalise_response(self, response, boto_service_name=None, service_action_name=None):
        service = self._get_boto_service_name(boto_service_name=boto_service_name)
        action = self._get_boto_service_action(service_action_name=service_action_name)
        operation = _operation_model(service, action)
        if isinstance(response, dict):
            safe = _json_safe(response)
            response.clear()
            response.update(safe)
            if operation is not None and operation.output_shape is not None:
                self._from_boto_response(response, operation.output_shape)

    StateTaskService._normalise_parameters = normalise_parameters
    StateTaskService._normalise_response = normalise_response


def patch_stepfunctions_credentials() -> None:
    import boto3
    from botocore.config import Config
    from moto.settings import moto_server_port
    from moto.stepfunctions.parser.asl.utils import boto_client as module

    original = module.boto_client_for
    clients: dict[tuple, Any] = {}
    clients_lock = threading.Lock()

    def boto_client_for(region: str, service: str, state_credentials: Any = None):
        role = getattr(state_credentials, "role_arn", None)
        if STATES_PRINCIPAL is None or not role:
            raise RuntimeError(f"Step Functions has no execution role to call {service} with")
        principal = STATES_PRINCIPAL(role)
        # One client per service and credentials (a client is thread-safe; making one costs more than most calls).
        key = (region, service, principal.access_key_id, principal.secret_access_key, principal.session_token)
        with clients_lock:
            client = clients.get(key)
            if client is None:
                client = clients[key] = boto3.client(
                    service_name=service,
                    region_name=region,
                    endpoint_url=f"http://127.0.0.1:{moto_server_port()}",
                    aws_access_key_id=principal.access_key_id,
                    aws_secret_access_key=principal.secret_access_key,
                    aws_session_token=principal.session_token,
                    config=Config(parameter_validation=False, retries={"max_attempts": 0, "total_max_attempts": 1}, read_timeout=900, s3={"addressing_style": "path"}, max_pool_connections=64),
                )
        return client

    import moto.stepfunctions.parser  # noqa: F401 - load the interpreter's modules before rebinding their imports
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils  # noqa: F401
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import state_task_service_factory  # noqa: F401

    module.boto_client_for = boto_client_for
    for name, loaded in sys.modules.copy().items():  # a copy: a server thread may be importing
        if name.startswith("moto.stepfunctions") and getattr(loaded, "boto_client_for", None) is original:
            loaded.boto_client_for = boto_client_for


class _ScaledTime:
    """`time` for the Retry code: its sleeps follow the sandbox's time scale."""

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)

    @staticmethod
    def sleep(seconds: float) -> None:
        with schedule.waiting():
            time.sleep(FAULTS.scaled(seconds))


def patch_stepfunctions_retry() -> None:
    from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
    from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import WaitFunction

    retrier_decl.time = _ScaledTime()
    original = WaitFunction._wait_interval

    def wait_interval(self, env, wait_seconds):
        with schedule.waiting():  # a Wait state under way is work still to come (services/schedule.py)
            return original(self, env=env, wait_seconds=wait_seconds)

    WaitFunction._wait_interval = wait_interval


def patch_states_all() -> None:
    from moto.stepfunctions.parser.asl.component.common.error_name.error_equals_decl import ErrorEqualsDecl
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import StatesErrorNameType

    uncatchable = {StatesErrorNameType.StatesRuntime, StatesErrorNameType.StatesStatesDataLimitExceeded}
    inner = ErrorEqualsDecl._eval_body

    def _eval_body(self, env) -> None:
        error_name = env.stack[-1]
        if (
            ErrorEqualsDecl._STATE_ALL_ERROR in self.error_names
            and isinstance(error_name, StatesErrorName)
            and error_name.typ in uncatchable
        ):
            env.stack.pop()
            env.stack.append(False)
            return
        inner(self, env)

    ErrorEqualsDecl._eval_body = _eval_body


def patch_send_task_failure() -> None:
    from moto.core.responses import EmptyResult
    from moto.stepfunctions.responses import StepFunctionResponse

    def send_task_failure(self):
        self.stepfunction_backend.send_task_failure(self._get_param("taskToken"), error=self._get_param("error"), cause=self._get_param("cause"))
        return EmptyResult()

    StepFunctionResponse.send_task_failure = send_task_failure


def patch_closed_tokens() -> None:
    from moto.stepfunctions.parser.asl.eval.callback.callback import (
        CallbackConsumerTimeout,
        CallbackNotifyConsumerError,
        CallbackPoolManager,
    )

    original = CallbackPoolManager.notify

    def notify(self, callback_id, outcome):
        endpoint = self._pool.get(callback_id, None)
        if endpoint is not None and endpoint.consumer_error is None and endpoint.get_outcome() is not None:
            # Answered, and the state has not taken the answer yet: closed all the same.
            raise CallbackNotifyConsumerError(callback_consumer_error=CallbackConsumerTimeout())
        return original(self, callback_id, outcome)

    CallbackPoolManager.notify = notify

    # moto raises TaskTimedOut() and TaskDoesNotExist() without the message their base requires (HTTP 500), and
    # tells them apart by the wrong object (the notify error, never its cause), so every closed token came back as
    # TaskDoesNotExist. AWS answers TaskTimedOut for a token that expired or whose task is closed.
    from moto.stepfunctions.parser import api, models

    def closed():
        return api.TaskTimedOut("Task Timed Out: the task associated with the token has already been closed", "TaskTimedOut", 400)

    models.TaskTimedOut = closed
    models.TaskDoesNotExist = closed


def patch_stop_execution() -> None:
    from moto.stepfunctions.parser.api import ExecutionStatus
    from moto.stepfunctions.parser.backend.execution import Execution

    original_stop = Execution.stop

    def stop(self, stop_date, error, cause):
        original_stop(self, stop_date=stop_date, error=error, cause=cause)
        if self.exec_status == ExecutionStatus.RUNNING:
            self.exec_status = ExecutionStatus.ABORTED
            self.stop_date = stop_date
            if error:
                self.error = error
            if cause:
                self.cause = cause

    Execution.stop = stop


_TOKENS: dict[str, tuple[str, Any]] = {}
#: The MaxCount of the RunInstances request each server thread is answering.
_MAX_COUNT: dict[int, int] = {}
#: Held while a RunInstances counts the vCPU quota and launches (run_instances_backend).
_QUOTA_LAUNCH = threading.Lock()
_TOKENS_LOCK = threading.Lock()


def patch_ec2() -> None:
    from moto.ec2.exceptions import EC2ClientError
    from moto.ec2.models.instances import InstanceBackend
    from moto.ec2.responses.instances import InstanceResponse

    original_backend = InstanceBackend.run_instances

    def run_instances_backend(self, image_id, count, user_data, security_group_names, **kwargs):
        # EC2 launches as many as it can up to MaxCount, at least MinCount ("RunInstances": MaxCount); moto
        # launched MinCount. The request's MaxCount is read from the response object's parameters (see below).
        min_count = int(count)
        count = max(min_count, int(_MAX_COUNT.get(threading.get_ident(), count)))
        options = dict(kwargs.get("metadata_options") or {})
        options.setdefault("HttpTokens", "required")
        options.setdefault("HttpPutResponseHopLimit", 2)
        if not 1 <= int(options["HttpPutResponseHopLimit"]) <= 64:
            raise EC2ClientError(
                "InvalidParameterValue",
                f"Value ({options['HttpPutResponseHopLimit']}) for parameter HttpPutResponseHopLimit is invalid.",
            )
        kwargs["metadata_options"] = options
        if not kwargs.get("subnet_id") and self.get_default_vpc() is None:
            raise EC2ClientError("VPCIdNotSpecified", "No default VPC for this user. GroupName is only supported for EC2-Classic and default VPC.")
        instance_type = kwargs.get("instance_type")
        if instance_type in FAULTS.no_capacity:
            raise EC2ClientError(
                "InsufficientInstanceCapacity",
                f"We currently do not have sufficient {instance_type} capacity in the Availability Zone you requested.",
            )
        # The account's vCPU quota of the type's class and market (services/quotas.py): as many as fit, at least
        # MinCount, or VcpuLimitExceeded. Counted and launched as one step: two launches at once must not both
        # count the room only one of them fits in (CI seed 4081870371 launched two t3.micro under a 2-vCPU quota).
        with _QUOTA_LAUNCH:
            count = quotas.launchable(self, instance_type, bool(kwargs.get("instance_market_options")), min_count, count)
            reservation = original_backend(self, image_id, count, user_data, security_group_names, **kwargs)
        # When EC2's API will know them (front/gateway.py: eventual consistency).
        for instance in reservation.instances:
            instance.ecsub_launched = time.monotonic()
        # Every instance of the call has the instance profile (moto's response associates the first one only).
        for instance in reservation.instances[1:]:
            if kwargs.get("iam_instance_profile_arn"):
                self.associate_iam_instance_profile(instance_id=instance.id, iam_instance_profile_arn=kwargs["iam_instance_profile_arn"])
            elif kwargs.get("iam_instance_profile_name"):
                self.associate_iam_instance_profile(instance_id=instance.id, iam_instance_profile_name=kwargs["iam_instance_profile_name"])
        return reservation

    InstanceBackend.run_instances = run_instances_backend

    original_response = InstanceResponse.run_instances

    def run_instances_response(self):
        _MAX_COUNT[threading.get_ident()] = int(self._get_param("MaxCount", if_none=self._get_param("MinCount", if_none="1")))
        try:
            return run_instances_idempotent(self)
        finally:
            _MAX_COUNT.pop(threading.get_ident(), None)

    def run_instances_idempotent(self):
        token = self._get_param("ClientToken")
        if not token:
            return original_response(self)
        params = {k: v for k, v in self.querystring.items() if k not in ("ClientToken", "Action", "Version")}
        fingerprint = hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()
        with _TOKENS_LOCK:
            seen = _TOKENS.get(token)
            if seen is not None:
                if seen[0] != fingerprint:
                    raise EC2ClientError(
                        "IdempotentParameterMismatch",
                        "Arguments on this idempotent request are inconsistent with arguments used in previous request(s).",
                    )
                if seen[1] is not None:
                    LOG.info("RunInstances: ClientToken %s seen before; the same instances are returned", token)
                    return seen[1]
            _TOKENS[token] = (fingerprint, None)
        result = original_response(self)
        with _TOKENS_LOCK:
            _TOKENS[token] = (fingerprint, result)
        return result

    InstanceResponse.run_instances = run_instances_response


#: The most an ECS List* call answers.
ECS_PAGE = 100


def _paged(original: Callable, field: str) -> Callable:
    """An ECS List* response cut to one page, with an opaque nextToken for the rest."""
    from moto.core.responses import ActionResult
    from moto.ecs.exceptions import EcsClientException

    def page(self):
        wanted = self._get_param("maxResults")
        size = ECS_PAGE if wanted in (None, "") else int(wanted)
        if not 1 <= size <= ECS_PAGE:
            raise EcsClientException(f"maxResults must be between 1 and {ECS_PAGE}")  # InvalidParameterException on AWS
        token = self._get_param("nextToken")
        start = 0
        if token:
            try:
                start = int(base64.b64decode(token.encode()).decode().removeprefix("page:"))
            except (ValueError, UnicodeDecodeError) as bad:
                raise EcsClientException(f"Invalid nextToken: {token}") from bad
        answer = original(self)
        items = list(answer.result.get(field, []))
        result = {field: items[start : start + size]}
        if start + size < len(items):
            result["nextToken"] = base64.b64encode(f"page:{start + size}".encode()).decode()
        return ActionResult(result)

    return page


def patch_ecs() -> None:
    from moto.core.responses import ActionResult
    from moto.ecs import models as ecs_models
    from moto.ecs.exceptions import EcsClientException
    from moto.ecs.responses import EC2ContainerServiceResponse

    original_list = EC2ContainerServiceResponse.list_container_instances

    def snapshot(backend, cluster_str: str) -> list:
        # The cluster's instances copied in one C-level call (atomic under the GIL): moto iterates the live dict,
        # which an instance registering at the same moment changes (RuntimeError, an HTTP 500 AWS never gives).
        return list(backend.container_instances.get(cluster_str.split("/")[-1], {}).values())

    def backend_list(self, cluster_str: str, status: Optional[str] = None) -> list[str]:
        return sorted(ci.container_instance_arn for ci in snapshot(self, cluster_str) if status is None or ci.status == status)

    ecs_models.EC2ContainerServiceBackend.list_container_instances = backend_list

    def list_container_instances(self):
        field, _, wanted = (self._get_param("filter") or "").strip().partition("==")
        if field.strip() != "ec2InstanceId":
            return original_list(self)
        wanted, status = wanted.strip(), self._get_param("status")
        instances = snapshot(self.ecs_backend, self._get_param("cluster", "default") or "default")
        arns = sorted(
            ci.container_instance_arn for ci in instances if ci.ec2_instance_id == wanted and (not status or ci.status == status)
        )
        return ActionResult({"containerInstanceArns": arns})

    EC2ContainerServiceResponse.list_container_instances = list_container_instances

    # Paging: every ECS List* answers at most `maxResults` (1 to 100; 100 when not given) with a nextToken for
    # the rest ("ListTasks", "ListContainerInstances", "ListClusters", "ListTaskDefinitions": "If maxResults
    # was not used, then … returns up to 100 results and a nextToken value if applicable"). moto answered all.
    for operation, field in (
        ("list_tasks", "taskArns"),
        ("list_container_instances", "containerInstanceArns"),
        ("list_clusters", "clusterArns"),
        ("list_task_definitions", "taskDefinitionArns"),
    ):
        setattr(EC2ContainerServiceResponse, operation, _paged(getattr(EC2ContainerServiceResponse, operation), field))

    original_init = ecs_models.Container.__init__

    def container_init(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        if self.cpu is not None:
            self.cpu = str(self.cpu)
        if self.memory is not None:
            self.memory = str(self.memory)

    ecs_models.Container.__init__ = container_init

    original_register = EC2ContainerServiceResponse.register_task_definition

    def register_task_definition(self):
        # "Private registry authentication for tasks": the task execution role is required, since ECS reads the
        # credentials with it; ECS refuses the definition without one, as it does container secrets without one.
        containers = self._get_param("containerDefinitions") or []
        if any(c.get("repositoryCredentials") for c in containers) and not self._get_param("executionRoleArn"):
            raise EcsClientException(
                "When you are specifying repositoryCredentials, you must also specify a value for 'executionRoleArn'."
            )
        return original_register(self)

    EC2ContainerServiceResponse.register_task_definition = register_task_definition

    def start_task(self):
        from moto.iam.models import iam_backends

        from ..compute.agent_tasks import gpus_wanted

        from ..front import iam

        cluster_str = self._get_param("cluster", "default")
        definition = self.ecs_backend.describe_task_definition(self._get_param("taskDefinition"))
        role = getattr(definition, "task_role_arn", None)
        if role:
            try:
                trust = json.loads(iam_backends[self.current_account]["aws"].get_role(role.split("/")[-1]).assume_role_policy_document)
            except Exception:  # noqa: BLE001 - a role that does not exist cannot be assumed either
                trust = {}
            if not iam.trusts(trust, "ecs-tasks.amazonaws.com"):
                raise EcsClientException(
                    f"ECS was unable to assume the role '{role}' that was provided for this task. Please verify that the "
                    "role being passed has the proper trust relationship and permissions and that your IAM user has "
                    "permissions to pass this role."
                )
        cluster = self.ecs_backend._get_cluster(cluster_str)
        wanted = self._get_param("containerInstances") or []
        failures, ready = [], []
        for arn in wanted:
            instance = self.ecs_backend.container_instances.get(cluster.name, {}).get(arn.split("/")[-1])
            full_arn = instance.container_instance_arn if instance else arn
            injected = FAULTS.take_listed("start_task_failures")
            if instance is None:
                failures.append({"arn": full_arn, "reason": "MISSING"})
            elif instance.status != "ACTIVE":
                failures.append({"arn": full_arn, "reason": "INACTIVE"})
            elif not instance.agent_connected:
                failures.append({"arn": full_arn, "reason": "AGENT"})
            elif injected is not None:
                failures.append({"arn": full_arn, "reason": injected})
            elif gpus_wanted({"containerDefinitions": definition.container_definitions}, self._get_param("overrides")) > _gpus_of(instance):
                # "The number of GPUs reserved for all containers in a task cannot exceed the number of available
                # GPUs on the container instance" (ECS Developer Guide, GPUs in a task definition).
                failures.append({"arn": full_arn, "reason": "RESOURCE:GPU"})
            else:
                ready.append(arn)
        tasks = []
        if ready:
            tasks = self.ecs_backend.start_task(
                cluster_str,
                self._get_param("taskDefinition"),
                ready,
                self._get_param("overrides"),
                self._get_param("startedBy"),
                self._get_param("tags"),
                self._get_param("group"),
            )
        if failures:
            LOG.info("StartTask answers failures %s", failures)
        return ActionResult({"tasks": tasks, "failures": failures})

    EC2ContainerServiceResponse.start_task = start_task


def _gpus_of(container_instance) -> int:
    """The GPUs a container instance's agent registered (none unless agent.py registered some)."""
    for resource in container_instance.registered_resources:
        if resource.get("name") == "GPU":
            return len(resource.get("stringSetValue") or [])
    return 0


def _function_name(arn: str) -> str:
    # arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]
    parts = arn.split(":")
    return parts[6] if len(parts) > 6 else arn


def _iso(event: dict) -> dict:
    event = dict(event)
    if isinstance(event.get("time"), (int, float)):
        event["time"] = datetime.datetime.fromtimestamp(event["time"], tz=datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return event


def patch_events() -> None:
    from moto.events import models as events_models
    from moto.events.models import EventTemplateParser

    original = events_models.Rule.send_to_targets

    def send_to_targets(self, original_event, transform_input=True):
        if getattr(self, "state", "ENABLED") != "ENABLED":
            return None
        if getattr(self, "scheduled_expression", None) and not self.event_pattern.get_pattern():
            return None
        if not self.event_pattern.matches_event(original_event):
            return None
        targets = event_targets.deliverable(self.arn, self.targets)
        lambda_targets = [t for t in targets if ":lambda:" in t.get("Arn", "")]
        sns_targets = [t for t in targets if ":sns:" in t.get("Arn", "")]
        others = [t for t in targets if t not in lambda_targets and t not in sns_targets]
        if others:
            shallow = copy.copy(self)
            shallow.targets = others
            original(shallow, original_event, transform_input)
        for target in lambda_targets + sns_targets:
            event = _iso(original_event)
            transformer = target.get("InputTransformer")
            if transform_input and transformer:
                payload = EventTemplateParser.parse(
                    input_template=transformer.get("InputTemplate"),
                    input_paths_map=transformer.get("InputPathsMap", {}),
                    event=event,
                )
                payload = payload if isinstance(payload, str) else json.dumps(payload)
            elif transform_input and target.get("Input"):
                payload = target["Input"]
            else:
                payload = json.dumps(event)
            LOG.info("rule %s: %s -> %s", self.name, event.get("detail-type"), target["Arn"])
            if target in sns_targets:
                event_targets.publish(self.arn, target["Arn"], payload)
                continue
            if LAMBDA_HOST is None:
                LOG.error("no Lambda host to deliver to %s", target["Arn"])
                continue
            LAMBDA_HOST.deliver_event(self.arn, target, payload, json.dumps(event))
        return None

    events_models.Rule.send_to_targets = send_to_targets


_SEQUENCER = itertools.count(int(time.time() * 1000) << 20)


def patch_s3_events() -> None:
    from moto.s3 import notifications

    def send(account_id, bucket, event_name, key):
        # moto's _send_event_bridge_message, with S3's id and sequencer (moto gives every event the same of both).
        event = {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": notifications._detail_type(event_name),
            "source": "aws.s3",
            "account": account_id,
            "time": time.time(),
            "region": bucket.region_name,
            "resources": [bucket.arn],
            "detail": {
                "version": "0",
                "bucket": {"name": bucket.name},
                "object": {
                    "key": key.name,
                    "size": key.size,
                    "etag": key.etag.replace('"', ""),
                    "version-id": key.version_id,
                    "sequencer": f"{next(_SEQUENCER):016X}",
                },
                "request-id": uuid.uuid4().hex[:16].upper(),
                "requester": account_id,
                "source-ip-address": "127.0.0.1",
                "reason": event_name.split(":")[1],
            },
        }
        if event["detail-type"] == "Object Created":
            LAST_S3_EVENTS[(bucket.name, key.name)] = (account_id, bucket.region_name, event)
        send_s3_event(account_id, bucket.region_name, event)

    notifications._send_event_bridge_message = send


#: The last "Object Created" event S3 sent for each (bucket, key), for tests that redeliver one.
LAST_S3_EVENTS: dict[tuple[str, str], tuple[str, str, dict]] = {}


def send_s3_event(account_id: str, region: str, event: dict) -> None:
    from moto.events.models import events_backends

    backend = events_backends[account_id][region]
    for bus in list(backend.event_buses.values()):
        for rule in list(bus.rules.values()):
            try:
                rule.send_to_targets(copy.deepcopy(event), transform_input=False)
            except Exception:  # noqa: BLE001 - asynchronous on AWS: a failing target does not fail the write
                LOG.exception("S3 event to rule %s", rule.name)


def patch_lambda() -> None:
    from moto.awslambda_simple.models import LambdaSimpleBackend
    from moto.core.exceptions import JsonRESTError

    from ..services.lambda_host import Throttled, TooLarge

    class TooManyRequests(JsonRESTError):
        code = 429

        def __init__(self, reason: str) -> None:
            super().__init__("TooManyRequestsException", "Rate Exceeded.")
            self.description = json.dumps({"__type": "TooManyRequestsException", "message": "Rate Exceeded.", "Reason": reason, "Type": "User"})

    class RequestTooLarge(JsonRESTError):
        code = 413

        def __init__(self, message: str) -> None:
            super().__init__("RequestEntityTooLargeException", message)

    def invoke(self, function_name, qualifier, body, headers, response_headers):
        function = self.get_function(function_name, qualifier)
        if LAMBDA_HOST is None:
            response_headers["x-amz-function-error"] = "Unhandled"
            return json.dumps({"errorType": "Sandbox.NoRuntime", "errorMessage": "no Lambda host"}).encode()
        payload = body if isinstance(body, str) else json.dumps(body if body is not None else {})
        kind = (headers or {}).get("X-Amz-Invocation-Type", (headers or {}).get("x-amz-invocation-type"))
        try:
            if kind == "Event":
                LAMBDA_HOST.invoke_async(function.function_name, payload, "Invoke")
                return b""
            result, errored = LAMBDA_HOST.invoke_sync(function.function_name, payload)
        except Throttled as throttled:
            raise TooManyRequests(throttled.reason) from None
        except TooLarge as large:
            raise RequestTooLarge(str(large)) from None
        if errored:
            response_headers["x-amz-function-error"] = "Unhandled"
        return result.encode()

    LambdaSimpleBackend.invoke = invoke

    from botocore.exceptions import ClientError
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.state_task_lambda import StateTaskLambda

    from_error = StateTaskLambda._from_error

    def _from_error(self, env, ex: Exception):
        failure = from_error(self, env, ex)
        if isinstance(ex, ClientError):
            from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import CustomErrorName

            name = f"Lambda.{ex.response['Error']['Code']}"
            failure.error_name = CustomErrorName(name)
            failure.event_details["lambdaFunctionFailedEventDetails"]["error"] = name
        return failure

    StateTaskLambda._from_error = _from_error


def patch_sqs() -> None:
    from moto.core.utils import unix_time_millis
    from moto.sqs.models import Message

    def delay(self, delay_seconds: int) -> None:
        self.delayed_until = unix_time_millis() + FAULTS.scaled(int(delay_seconds)) * 1000

    Message.delay = delay


def patch_spot_price_history() -> None:
    """DescribeSpotPriceHistory answers the fixture's history for the window asked (services/pricing.py)."""
    from moto.core.responses import ActionResult
    from moto.ec2.responses.spot_instances import SpotInstances

    def describe_spot_price_history(self) -> ActionResult:
        filters = self._filters_from_querystring()
        types = self._get_param("InstanceTypes", []) + filters.get("instance-type", [])
        descriptions = self._get_param("ProductDescriptions", []) + filters.get("product-description", [])
        zone = self._get_param("AvailabilityZone")
        zones = filters.get("availability-zone", []) + ([zone] if zone else [])
        start, end = self._get_param("StartTime"), self._get_param("EndTime")
        history = pricing.spot_history(types, descriptions, zones, _epoch(start), _epoch(end))
        return ActionResult({"SpotPriceHistory": history})

    SpotInstances.describe_spot_price_history = describe_spot_price_history


def _epoch(value: Any) -> Optional[float]:
    if value is None or value == "":
        return None
    if hasattr(value, "timestamp"):
        return value.timestamp()
    return datetime.datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()
