"""Patches to moto 5.2.5 that the emulated cloud needs. Each one makes moto do what AWS does; none adds behaviour
AWS lacks. Pinned to 5.2.5: check each again when moto is upgraded, and drop the one a release fixes.

1. Step Functions service integrations (moto #10076, fixes in PRs #10094/#10101 unmerged): moto's port of the
   LocalStack interpreter left `_normalise_parameters` / `_normalise_response` empty, so PascalCase parameters
   never reach boto3 in its shapes and responses are not PascalCased. They are filled in here from botocore's
   operation model, and responses are made JSON-safe (datetimes, streams).
2. ECS ListContainerInstances ignores its `filter` (the cluster query language); `ec2InstanceId == i-...` is
   honoured here, the one form ecsub uses.
3. ECS task containers carry `cpu` and `memory` as numbers where the ECS model says strings; the Rust SDK's strict
   parser rejects them. They are strings here.
4. EventBridge: moto's S3 notifications reach disabled rules and schedule rules (whose empty pattern matches
   everything); AWS delivers neither.
5. StopExecution leaves an execution RUNNING while a state waits for a task token; AWS aborts it at once.
6. (A fault to inject, not a fix.) NO_CAPACITY makes RunInstances answer InsufficientInstanceCapacity for the
   instance types a test names, as EC2 does when a type runs out.
7. Lambda Invoke needs Docker in moto, and EventBridge rules with a Lambda target fail PutEvents (HTTP 500). Here
   an invocation is handed to `LAMBDA_DISPATCH` (the sandbox's Lambda runtime, which runs the real handler
   binaries), synchronously for Invoke and asynchronously (with AWS's two retries) for rule targets.
"""

from __future__ import annotations

import copy
import datetime
import json
import logging
import threading
import time
from typing import Any, Callable, Optional

import botocore.session
from botocore.response import StreamingBody

LOG = logging.getLogger("ecsub.sandbox.patches")

#: Instance types EC2 has no capacity for, to exercise what AWS does when capacity runs out (set by the sandbox's
#: control endpoint; empty by default, so nothing changes unless a test asks).
NO_CAPACITY: set[str] = set()

#: Set by the sandbox: (function_name, event_json_str) -> (payload_str, errored); blocks until the handler answers.
LAMBDA_DISPATCH: Optional[Callable[[str, str], tuple[str, bool]]] = None

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


def _patch_stepfunctions() -> None:
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


def _patch_stop_execution() -> None:
    # StopExecution only flags the interpreter, which notices when the running state returns; a state waiting for
    # a task token (days, for ecsub) keeps the execution RUNNING. AWS aborts at once: so does this.
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


def _patch_ec2_capacity() -> None:
    from moto.ec2.exceptions import EC2ClientError
    from moto.ec2.models.instances import InstanceBackend

    original = InstanceBackend.run_instances

    def run_instances(self, image_id, count, user_data, security_group_names, **kwargs):
        instance_type = kwargs.get("instance_type")
        if instance_type in NO_CAPACITY:
            raise EC2ClientError(
                "InsufficientInstanceCapacity",
                f"We currently do not have sufficient {instance_type} capacity in the Availability Zone you requested.",
            )
        return original(self, image_id, count, user_data, security_group_names, **kwargs)

    InstanceBackend.run_instances = run_instances


def _patch_ecs() -> None:
    from moto.ecs import models as ecs_models
    from moto.ecs.responses import EC2ContainerServiceResponse

    original_list = EC2ContainerServiceResponse.list_container_instances

    def list_container_instances(self):
        result = original_list(self)
        query = (self._get_param("filter") or "").strip()
        if not query:
            return result
        field, _, wanted = query.partition("==")
        if field.strip() != "ec2InstanceId":
            return result
        wanted = wanted.strip()
        cluster = (self._get_param("cluster", "default") or "default").split("/")[-1]
        instances = self.ecs_backend.container_instances.get(cluster, {}).values()
        arns = sorted(ci.container_instance_arn for ci in instances if ci.ec2_instance_id == wanted)
        status = self._get_param("status")
        if status:
            arns = [a for a in arns if any(ci.container_instance_arn == a and ci.status == status for ci in instances)]
        result_type = type(result)
        return result_type({"containerInstanceArns": arns})

    EC2ContainerServiceResponse.list_container_instances = list_container_instances

    original_init = ecs_models.Container.__init__

    def container_init(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        if self.cpu is not None:
            self.cpu = str(self.cpu)
        if self.memory is not None:
            self.memory = str(self.memory)

    ecs_models.Container.__init__ = container_init


def _iso(event: dict) -> dict:
    event = dict(event)
    if isinstance(event.get("time"), (int, float)):
        event["time"] = datetime.datetime.fromtimestamp(event["time"], tz=datetime.timezone.utc).strftime(
            "%Y-%m-%dT%H:%M:%SZ"
        )
    return event


def _function_name(arn: str) -> str:
    # arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]
    parts = arn.split(":")
    return parts[6] if len(parts) > 6 else arn


def _deliver_async(function_name: str, payload: str) -> None:
    def run() -> None:
        for attempt in range(3):  # AWS retries a failed asynchronous invocation twice
            if LAMBDA_DISPATCH is None:
                LOG.error("no Lambda runtime to deliver to %s", function_name)
                return
            _, errored = LAMBDA_DISPATCH(function_name, payload)
            if not errored:
                return
            time.sleep(1 + attempt)

    threading.Thread(target=run, name=f"deliver-{function_name}", daemon=True).start()


def _patch_events() -> None:
    from moto.events import models as events_models
    from moto.events.models import EventTemplateParser

    original = events_models.Rule.send_to_targets

    def send_to_targets(self, original_event, transform_input=True):
        # As on AWS: a disabled rule delivers nothing, and a schedule rule is not matched against events (moto's
        # S3 notifications skip both checks; an empty pattern would match everything).
        if getattr(self, "state", "ENABLED") != "ENABLED":
            return None
        if getattr(self, "scheduled_expression", None) and not self.event_pattern.get_pattern():
            return None
        lambda_targets = [t for t in self.targets if ":lambda:" in t.get("Arn", "")]
        if not lambda_targets:
            return original(self, original_event, transform_input)
        if not self.event_pattern.matches_event(original_event):
            return None
        others = [t for t in self.targets if t not in lambda_targets]
        if others:
            shallow = copy.copy(self)
            shallow.targets = others
            original(shallow, original_event, transform_input)
        for target in lambda_targets:
            event = _iso(original_event)
            LOG.info(
                "rule %s: %s %s -> %s",
                self.name,
                event.get("detail-type"),
                (event.get("detail") or {}).get("object", {}).get("key", ""),
                target["Arn"],
            )
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
            _deliver_async(_function_name(target["Arn"]), payload)
        return None

    events_models.Rule.send_to_targets = send_to_targets


def _patch_lambda() -> None:
    # The sandbox turns moto's Docker-based Lambda off ({"lambda": {"use_docker": false}}), which selects the
    # "simple" backend; its Invoke is routed to the real handler here.
    from moto.awslambda_simple.models import LambdaSimpleBackend

    def invoke(self, function_name, qualifier, body, headers, response_headers):
        function = self.get_function(function_name, qualifier)
        if LAMBDA_DISPATCH is None:
            response_headers["x-amz-function-error"] = "Unhandled"
            return json.dumps({"errorType": "Sandbox.NoRuntime", "errorMessage": "no Lambda runtime"}).encode()
        payload = body if isinstance(body, str) else json.dumps(body if body is not None else {})
        asynchronous = (headers or {}).get("X-Amz-Invocation-Type", (headers or {}).get("x-amz-invocation-type")) == "Event"
        if asynchronous:
            _deliver_async(function.function_name, payload)
            return b""
        result, errored = LAMBDA_DISPATCH(function.function_name, payload)
        if errored:
            response_headers["x-amz-function-error"] = "Unhandled"
        return result.encode()

    LambdaSimpleBackend.invoke = invoke


def apply() -> None:
    import moto

    if moto.__version__ != "5.2.5":
        raise RuntimeError(f"these patches are for moto 5.2.5, not {moto.__version__}: check them again")
    _patch_stepfunctions()
    _patch_stop_execution()
    _patch_ec2_capacity()
    _patch_ecs()
    _patch_events()
    _patch_lambda()
