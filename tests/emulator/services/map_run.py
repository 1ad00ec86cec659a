"""The Distributed Map as AWS runs it. moto 5.2.5 runs a Distributed Map's items in-process, on worker threads that
share one throwaway history, and none of what follows; each patch makes it do what AWS does, with the document that
says so. Pinned to moto 5.2.5 like patches/behaviour.py; patches.apply() applies these.

1. A Map run starts every item as a child execution of the state machine (StartExecution), so the execution role
   must allow `states:StartExecution` on the state machine ("IAM policies for using Distributed Map states"); a
   role that does not fails the Map run before any item runs. moto checks nothing.
2. Every child execution has a history of its own ("Using Map state in Distributed mode": child workflow
   executions, each with its own execution history), bounded by one execution's 25 000 events ("Step Functions
   service quotas"); past that the child fails (States.Runtime). moto piles every item's events into one list.
   Each child's figures (events, state transitions, largest state input or output) are kept per Map run and shown
   by the sandbox's control endpoint `/map-runs`, with how many children ran at once, since moto lists no child
   executions. Children start at most 100 a second per Map run (the same page: a Map run "dispatches … standard
   executions at up to 100 TPS"); moto starts them as fast as its threads go.
3. Tolerated failures ("Setting failure thresholds for Distributed Map states"): the Map run fails with
   States.ExceedToleratedFailureThreshold when the failed items exceed ToleratedFailureCount or
   ToleratedFailurePercentage, whichever the state declares (neither: no failure is tolerated). moto never fails a
   Map run for its items.
4. ResultWriter writes what AWS writes ("ResultWriter (Map)"): `<Prefix>/<map-run-id>/SUCCEEDED_0.json` and
   `FAILED_0.json` (each child's Name, ExecutionArn, Input, Output or Error and Cause, Status, dates) and a
   `manifest.json` that lists them with their sizes. moto writes a manifest that lists no result file, and
   evaluates ResultWriter's path parameters (`Prefix.$`) against the children's outputs instead of the Map state's
   input, which fails the Map after its last child.
5. An ItemReader that cannot read its items fails the Map state with States.ItemReaderFailed, a ResultWriter that
   cannot write fails it with States.ResultWriterFailed ("Handling errors in Step Functions workflows": error
   names), each with the service's error as the cause. moto fails it with States.Runtime, which a Catch of
   States.ALL must not catch (patches/behaviour.py) — AWS's names are the ones a state machine can catch.

Left as moto has it (stricter than AWS, so nothing passes here that AWS refuses): its ASL parser takes
ToleratedFailurePercentage only as a decimal literal (`100.0`; `100` fails to parse), so job.asl.json writes
`100.0`, which AWS accepts too.
"""

from __future__ import annotations

import datetime
import json
import threading
import time
import uuid
from typing import Any, Callable, Optional

#: Set by the sandbox: (role ARN, action, resource) -> None, or raises iam.Denied.
AUTHORIZE: Optional[Callable[[str, str, str], None]] = None

#: Step Functions: events in one execution's history.
MAX_HISTORY_EVENTS = 25_000

#: Step Functions: a Map run "dispatches … standard executions at up to 100 TPS" ("Step Functions service quotas",
#: the row of parallel child executions within a single Map Run).
CHILD_STARTS_PER_SECOND = 100


class MapRuns:
    """What each Map run did, per map run ARN: its children's figures and the most that ran at once."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.runs: dict[str, dict[str, Any]] = {}
        self.children: dict[str, list[dict[str, Any]]] = {}
        self.next_start: dict[str, float] = {}  # per Map run: when its next child may start

    def _run(self, arn: str, execution_arn: str = "") -> dict[str, Any]:
        if arn not in self.runs:
            self.runs[arn] = {
                "execution_arn": execution_arn,
                "children": 0,
                "running": 0,
                "most_running": 0,
                "by_status": {},
                "events": 0,
                "transitions": 0,
                "most_events": 0,
                "largest_payload": 0,
            }
            self.children[arn] = []
        return self.runs[arn]

    def dispatch(self, arn: str) -> None:
        """Waits for the Map run's next child start: at most CHILD_STARTS_PER_SECOND of them a second."""
        with self.lock:
            now = time.monotonic()
            at = max(now, self.next_start.get(arn, now))
            self.next_start[arn] = at + 1 / CHILD_STARTS_PER_SECOND
        if at > now:
            time.sleep(at - now)

    def started(self, arn: str, execution_arn: str) -> None:
        with self.lock:
            run = self._run(arn, execution_arn)
            run["children"] += 1
            run["running"] += 1
            run["most_running"] = max(run["most_running"], run["running"])

    def ended(self, arn: str, child: dict[str, Any], events: list[dict[str, Any]]) -> None:
        transitions = sum(1 for e in events if str(e.get("type", "")).endswith("StateEntered"))
        largest = max((_payload_size(e) for e in events), default=0)
        with self.lock:
            run = self._run(arn)
            run["running"] -= 1
            run["by_status"][child["Status"]] = run["by_status"].get(child["Status"], 0) + 1
            run["events"] += len(events)
            run["transitions"] += transitions
            run["most_events"] = max(run["most_events"], len(events))
            run["largest_payload"] = max(run["largest_payload"], largest, len(child.get("Input", "")))
            self.children[arn].append(child)

    def results(self, arn: str) -> list[dict[str, Any]]:
        with self.lock:
            return list(self.children.get(arn, []))

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return json.loads(json.dumps(self.runs))


RUNS = MapRuns()


def _payload_size(event: dict[str, Any]) -> int:
    most = 0
    for value in event.values():
        if isinstance(value, dict):
            for key in ("input", "output"):
                if isinstance(value.get(key), str):
                    most = max(most, len(value[key].encode()))
    return most


def _now() -> str:
    return datetime.datetime.now(tz=datetime.timezone.utc).isoformat()


def _failure(env, error_type, error: str, cause: str):
    """The exception that fails a Map run, as moto's own Map run failures are raised."""
    from moto.stepfunctions.parser.api import HistoryEventType, MapRunFailedEventDetails
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
        FailureEvent,
        FailureEventException,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
    from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails

    return FailureEventException(
        failure_event=FailureEvent(
            env=env,
            error_name=StatesErrorName(typ=error_type),
            event_type=HistoryEventType.MapRunFailed,
            event_details=EventDetails(mapRunFailedEventDetails=MapRunFailedEventDetails(error=error, cause=cause)),
        )
    )


def patch_declared_tolerance() -> None:
    """Remembers, on the Map's iteration component, which failure thresholds the state declares."""
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.state_map import StateMap
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.tolerated_failure import (
        ToleratedFailureCountDecl,
        ToleratedFailurePercentageDecl,
    )

    original = StateMap.from_state_props

    def from_state_props(self, state_props) -> None:
        original(self, state_props)
        self.iteration_component.ecsub_declared = (
            state_props.get(ToleratedFailureCountDecl) is not None,
            state_props.get(ToleratedFailurePercentageDecl) is not None,
        )

    StateMap.from_state_props = from_state_props


def patch_map_run() -> None:
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
        StatesErrorNameType,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.distributed_iteration_component import (
        DistributedIterationComponent,
    )

    original = DistributedIterationComponent._map_run

    def _map_run(self, env, eval_input) -> None:
        record = eval_input.map_run_record
        role = env.aws_execution_details.role_arn
        if AUTHORIZE is not None:
            try:
                AUTHORIZE(role, "states:StartExecution", record.map_state_machine_arn.rsplit("/", 1)[0])
            except Exception as denied:  # noqa: BLE001 - iam.Denied, reported as AWS reports it
                raise _failure(env, StatesErrorNameType.StatesRuntime, "States.Runtime", str(denied)) from denied
        original(self, env, eval_input)
        counts = record.item_counter
        failed = counts.failed.get() + counts.timed_out.get() + counts.aborted.get()
        total = max(counts.total.get(), 1)
        count_declared, percentage_declared = getattr(self, "ecsub_declared", (False, False))
        over_count = failed > eval_input.tolerated_failure_count
        over_percentage = failed * 100.0 / total > eval_input.tolerated_failure_percentage
        if count_declared or percentage_declared:
            exceeded = (count_declared and over_count) or (percentage_declared and over_percentage)
        else:
            exceeded = failed > 0
        if exceeded:
            raise _failure(
                env,
                StatesErrorNameType.StatesExceedToleratedFailureThreshold,
                "States.ExceedToleratedFailureThreshold",
                f"The specified tolerated failure threshold was exceeded: {failed} of {total} items failed",
            )

    DistributedIterationComponent._map_run = _map_run


def patch_children() -> None:
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import FailureEventException
    from moto.stepfunctions.parser.asl.component.common.timeouts.timeout import EvalTimeoutError
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.itemprocessor.distributed_item_processor_worker import (
        DistributedItemProcessorWorker,
    )
    from moto.stepfunctions.parser.asl.eval.event.event_manager import EventManager
    from moto.stepfunctions.parser.asl.eval.program_state import ProgramError, ProgramStopped
    from moto.stepfunctions.parser.asl.eval.states import ItemData, MapData
    from moto.stepfunctions.parser.asl.utils.encoding import to_json_str

    class ChildHistory(EventManager):
        """One child execution's history; the child fails when it would pass one execution's limit."""

        def add_event(self, *args, **kwargs) -> int:
            if len(self._history_event_list) >= MAX_HISTORY_EVENTS:
                raise RuntimeError(
                    f"the child execution's history reached {MAX_HISTORY_EVENTS} events (Step Functions service quotas)"
                )
            return super().add_event(*args, **kwargs)

    def _eval_job(self, env, job) -> None:
        record = self._map_run_record
        parent = record.execution_arn
        state_machine = record.map_state_machine_arn.rsplit("/", 1)[0]
        name = str(uuid.uuid4())
        child = {
            "Name": name,
            "ExecutionArn": record.map_state_machine_arn.replace(":stateMachine:", ":execution:", 1) + f":{name}",
            "StateMachineArn": state_machine,
            "StartDate": _now(),
        }
        RUNS.dispatch(record.map_run_arn)
        RUNS.started(record.map_run_arn, parent)
        for counter in (record.item_counter, record.execution_counter):
            counter.total.count()
            counter.running.count()
        history = ChildHistory()
        env.event_manager = history
        status, output = "FAILED", None
        error, cause = None, None
        try:
            env.states.context_object.context_object_data["Map"] = MapData(
                Item=ItemData(Index=job.job_index, Value=job.job_input)
            )
            env.states.reset(job.job_input)
            env.stack.append(env.states.get_input())
            self._eval_input(env_frame=env)
            child["Input"] = to_json_str(env.states.get_input())
            job.job_program.eval(env)
            end = env.program_state()
            if isinstance(end, ProgramError):
                details = end.error or {}
                error, cause = details.get("error"), details.get("cause")
            elif isinstance(end, ProgramStopped):
                status = "ABORTED"
            else:
                status = "SUCCEEDED"
                output = env.states.get_input()
        except EvalTimeoutError:
            status = "TIMED_OUT"
        except FailureEventException as failure:
            error, cause = failure.extract_error_cause_pair() or (None, None)
        except Exception as exception:  # noqa: BLE001 - a child's failure, as the Map run sees it
            error, cause = "States.Runtime", str(exception)
        finally:
            counter_name = {"SUCCEEDED": "succeeded", "ABORTED": "aborted", "TIMED_OUT": "timed_out"}.get(status, "failed")
            for counter in (record.item_counter, record.execution_counter):
                getattr(counter, counter_name).count()
                counter.running.offset(-1)
            if status == "SUCCEEDED":
                record.item_counter.results_written.count()
                record.execution_counter.results_written.count()
            child["Status"] = status
            child["StopDate"] = _now()
            if output is not None:
                child["Output"] = to_json_str(output)
            if status != "SUCCEEDED":
                child["Error"] = error or "States.Runtime"
                child["Cause"] = cause or ""
            RUNS.ended(record.map_run_arn, child, list(history._history_event_list))
            job.job_output = output

    DistributedItemProcessorWorker._eval_job = _eval_job


def patch_result_writer() -> None:
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.result_writer.resource_eval.resource_eval_s3 import (
        ResourceEvalS3,
    )

    def _handle_put_object(env, resource_runtime_part, state_credentials) -> None:
        parameters = env.stack.pop()
        env.stack.pop()  # the children's outputs: written from the Map run's records instead
        s3 = ResourceEvalS3._get_s3_client(
            resource_runtime_part=resource_runtime_part, state_credentials=state_credentials
        )
        record = env.map_run_record_pool_manager.get_all()[-1]
        run_id = record.map_run_arn.split(":")[-1]
        prefix = parameters.get("Prefix", "")
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        bucket = parameters["Bucket"]
        files: dict[str, list[dict[str, Any]]] = {"FAILED": [], "PENDING": [], "SUCCEEDED": []}
        by_status: dict[str, list[dict[str, Any]]] = {"FAILED": [], "SUCCEEDED": []}
        for child in RUNS.results(record.map_run_arn):
            entry = {
                **child,
                "InputDetails": {"Included": True},
                "RedriveCount": 0,
                "RedriveStatus": "NOT_REDRIVABLE",
            }
            if "Output" in child:
                entry["OutputDetails"] = {"Included": True}
            by_status["SUCCEEDED" if child["Status"] == "SUCCEEDED" else "FAILED"].append(entry)
        for status, entries in by_status.items():
            if not entries:
                continue
            key = f"{prefix}{run_id}/{status}_0.json"
            body = json.dumps(entries).encode()
            s3.put_object(Bucket=bucket, Key=key, Body=body)
            files[status].append({"Key": key, "Size": len(body)})
        key = f"{prefix}{run_id}/manifest.json"
        manifest = {"DestinationBucket": bucket, "MapRunArn": record.map_run_arn, "ResultFiles": files}
        s3.put_object(Bucket=bucket, Key=key, Body=json.dumps(manifest, indent=2).encode())
        env.stack.append(
            {"MapRunArn": record.map_run_arn, "ResultWriterDetails": {"Bucket": bucket, "Key": key}}
        )

    ResourceEvalS3._handle_put_object = staticmethod(_handle_put_object)


def patch_reader_writer_errors() -> None:
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import FailureEventException
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import StatesErrorNameType
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.item_reader.item_reader_decl import ItemReader
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.result_writer.result_writer_decl import (
        ResultWriter,
    )

    def named(cls, error_type, error: str) -> None:
        inner = cls._eval_body

        def _eval_body(self, env) -> None:
            try:
                inner(self, env)
            except FailureEventException:
                raise
            except Exception as e:
                raise _failure(env, error_type, error, str(e)) from e

        cls._eval_body = _eval_body

    named(ItemReader, StatesErrorNameType.StatesItemReaderFailed, "States.ItemReaderFailed")
    named(ResultWriter, StatesErrorNameType.StatesResultWriterFailed, "States.ResultWriterFailed")


def patch_result_writer_input() -> None:
    """ResultWriter's Parameters are evaluated on the Map state's input (moto: on the children's outputs)."""
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.result_writer.result_writer_decl import (
        ResultWriter,
    )

    def _eval_body(self, env) -> None:
        outputs = env.stack.pop()
        env.stack.append(env.states.get_input())
        self.parargs.eval(env=env)
        parameters = env.stack.pop()
        env.stack.pop()
        env.stack.append(outputs)
        env.stack.append(parameters)
        self.resource_eval.eval_resource(env=env)

    ResultWriter._eval_body = _eval_body
