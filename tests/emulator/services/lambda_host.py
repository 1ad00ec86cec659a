"""Lambda, as far as ecsub's functions can tell: each function of the stack runs as its real binary (built by cargo)
behind a local Lambda Runtime API, with what Lambda gives it and no more.

- Credentials: the function's execution role, assumed by lambda.amazonaws.com (its trust policy is checked), in
  AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN, as Lambda sets them.
- Limits: the template's Timeout (the Runtime API's deadline; past it the process is killed and the invocation
  fails with Sandbox.Timedout) and MemorySize (a process whose resident memory passes it is killed: Runtime.ExitError).
  A killed process is started again, cold, as Lambda does.
- Freezing ("Lambda execution environment lifecycle": between invocations the environment is frozen, and "background
  processes or callbacks … resume when the environment is thawed"): a handler process waiting for its next event is
  stopped (SIGSTOP) until it gets one, so work a handler leaves running after it answers does not go on here
  either.
- Concurrency ("Lambda quotas": concurrent executions, 1 000 per account and Region by default, as low as 10 in a
  new account; "Configuring reserved concurrency"): a function with ReservedConcurrentExecutions runs at most that
  many at once, the others share what the account has left, and an invocation past its limit is throttled at once.
  A synchronous one (Step Functions' Lambda tasks) fails with TooManyRequestsException (HTTP 429), which Step
  Functions names Lambda.TooManyRequestsException; an asynchronous one is kept and tried again, with a backoff from
  1 second to 5 minutes, until the event's MaximumEventAgeInSeconds ("Asynchronous invocation": throttles do not
  count against MaximumRetryAttempts). A deploy that reserves more than the account's concurrency minus 100 is
  refused, as PutFunctionConcurrency refuses it. The account's limit is faults.FAULTS.lambda_concurrency. Behind
  the limit each function has a few processes; an admitted invocation waits for a free one.
- Payloads ("Invoke"): a synchronous request or response is at most 6 MB, an asynchronous request 1 MB. A larger
  request is refused with RequestEntityTooLargeException (HTTP 413); a larger response fails the invocation with
  Function.ResponseSizeTooLarge.
- Asynchronous invocations (EventBridge targets, Invoke with InvocationType Event): retried on a function error after
  about 1 minute and then 2 more (docs: "Lambda > Asynchronous invocation > Error handling"), up to the function's
  EventInvokeConfig MaximumRetryAttempts and MaximumEventAgeInSeconds; then the event goes to the OnFailure
  destination (an SQS queue: a record of AWS's shape, sent with the function's role, so sqs:SendMessage must be
  allowed) or is discarded. Delays run at the sandbox's time scale. Faults can deliver events twice and late.
- SQS event source mappings ("Using Lambda with Amazon SQS"): pollers with the function's execution role (so
  sqs:ReceiveMessage, sqs:DeleteMessage and sqs:GetQueueAttributes must be allowed) receive up to the mapping's
  BatchSize within its MaximumBatchingWindowInSeconds and invoke the function synchronously with the batch. On
  success the batch is deleted — all but the messages named in `batchItemFailures` when the mapping has
  ReportBatchItemFailures (a response naming a message not in the batch fails the whole batch, as on AWS); on a
  function error nothing is, and the messages come back after the queue's visibility timeout. A throttled
  invocation is tried again after a backoff while its messages stay in flight. At most MaximumConcurrency batches
  are delivered at once (2 pollers here). A standard queue delivers at least once ("Amazon SQS at-least-once
  delivery": a copy on a server that was unavailable comes again): with a `delivery` fault that duplicates the
  function's events, every message of a batch comes again, each in a batch of its own, at once or after the
  fault's delay, as if another poller had received the copy.
- EventBridge may invoke a function only if the function's resource-based policy lets events.amazonaws.com do so for
  that rule (the AWS::Lambda::Permission SAM adds); otherwise (or when the function is gone, or the event too
  large) the event is not delivered, and goes to the target's dead-letter queue if it has one
  (services/event_targets.py).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import queue
import subprocess
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Optional

from ..faults import FAULTS
from . import event_targets, schedule

LOG = logging.getLogger("ecsub.sandbox.lambda")

#: Delays before the retries of a failed asynchronous invocation, in AWS's seconds.
ASYNC_RETRY_DELAYS = (60, 120)
#: A throttled asynchronous invocation is tried again after 1 s, doubling up to 5 minutes (AWS's seconds).
THROTTLE_BACKOFF = (1.0, 300.0)
#: Lambda keeps this much of the account's concurrency unreserved ("Configuring reserved concurrency").
MIN_UNRESERVED = 100


#: "Invoke": the most a synchronous request or response, and an asynchronous request, may carry.
MAX_SYNC_PAYLOAD = 6 * 1024 * 1024
MAX_ASYNC_PAYLOAD = 1024 * 1024


class TooLarge(Exception):
    """Lambda refused a request for its size: RequestEntityTooLargeException."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"Request must be smaller than {limit} bytes for the InvokeFunction operation")


class Throttled(Exception):
    """Lambda refused an invocation for concurrency: TooManyRequestsException, with the reason AWS gives."""

    def __init__(self, function: str, reason: str) -> None:
        super().__init__(f"{function}: Rate Exceeded. ({reason})")
        self.reason = reason


class Invocation:
    def __init__(self, payload: str) -> None:
        self.id = str(uuid.uuid4())
        self.payload = payload
        self.done = threading.Event()
        self.result = ""
        self.errored = False

    def finish(self, result: str, errored: bool) -> None:
        if not self.done.is_set():
            self.result = result
            self.errored = errored
            self.done.set()


class Slot:
    """One handler process and the Runtime API endpoint only it polls."""

    def __init__(self, function: "FunctionRuntime", index: int) -> None:
        self.function = function
        self.index = index
        self.process: Optional[subprocess.Popen] = None
        self.current: Optional[Invocation] = None
        self.sampled = 0  # the pid read while idle since its last invocation (0: read it again)
        self.deadline = 0.0
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, name=f"runtime-{function.name}-{index}", daemon=True).start()

    @property
    def api(self) -> str:
        host, port = self.server.server_address[:2]
        return f"{host}:{port}"

    def spawn(self) -> None:
        f = self.function
        env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": "/tmp",
            "LANG": "C.UTF-8",
            "AWS_LAMBDA_RUNTIME_API": self.api,
            "AWS_LAMBDA_FUNCTION_NAME": f.name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(f.memory),
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{f.name}",
            "AWS_LAMBDA_LOG_STREAM_NAME": f"sandbox/{self.index}",
            "AWS_EXECUTION_ENV": "AWS_Lambda_provided.al2023",
            "AWS_REGION": f.region,
            "AWS_DEFAULT_REGION": f.region,
            # The network: AWS's endpoints are the emulator's.
            "AWS_ENDPOINT_URL": f.endpoint,
            "AWS_EC2_METADATA_DISABLED": "true",
            **f.credentials,
            **f.env,
        }
        with open(f.workdir / f"lambda-{f.name}.log", "ab") as log:
            self.process = subprocess.Popen([str(f.binary)], env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    def signal(self, sig: int) -> None:
        """Freezes (SIGSTOP) or thaws (SIGCONT) the handler process."""
        process = self.process
        if process is not None and process.poll() is None:
            try:
                os.kill(process.pid, sig)
            except ProcessLookupError:
                pass

    def kill(self, result: str) -> None:
        with self.lock:
            invocation, self.current = self.current, None
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        if invocation is not None:
            invocation.finish(result, True)

    def _handler(self):
        slot = self
        f = self.function

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def _reply(self, code: int, body: bytes = b"{}", headers: Optional[dict[str, str]] = None) -> None:
                try:
                    self.send_response(code)
                    for k, v in (headers or {}).items():
                        self.send_header(k, v)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the process was killed (a timeout, memory) while it talked to the Runtime API

            def do_GET(self) -> None:
                if not self.path.endswith("/runtime/invocation/next"):
                    return self._reply(404)
                slot.signal(signal.SIGSTOP)  # waiting for an event: the environment is frozen
                while True:
                    try:
                        invocation = f.queue.get(timeout=1)
                        break
                    except queue.Empty:
                        if f.stopping:
                            slot.signal(signal.SIGCONT)
                            return self._reply(500)
                slot.signal(signal.SIGCONT)
                with slot.lock:
                    slot.current = invocation
                    slot.deadline = time.time() + f.timeout
                self._reply(
                    200,
                    invocation.payload.encode(),
                    {
                        "Content-Type": "application/json",
                        "Lambda-Runtime-Aws-Request-Id": invocation.id,
                        "Lambda-Runtime-Deadline-Ms": str(int(slot.deadline * 1000)),
                        "Lambda-Runtime-Invoked-Function-Arn": f.arn,
                        "Lambda-Runtime-Trace-Id": f"Root=1-{uuid.uuid4().hex[:8]}-{uuid.uuid4().hex[:24]}",
                    },
                )

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode("utf-8", "replace")
                parts = self.path.strip("/").split("/")
                # /2018-06-01/runtime/invocation/{id}/response|error, or /runtime/init/error
                if len(parts) >= 5 and parts[2] == "invocation":
                    with slot.lock:
                        invocation = slot.current if slot.current and slot.current.id == parts[3] else None
                        if invocation is not None:
                            slot.current = None
                    if invocation is not None:
                        invocation.finish(body, parts[4] == "error")
                    return self._reply(202)
                LOG.error("%s failed to start: %s", f.name, body)
                return self._reply(202)

        return Handler


class FunctionRuntime:
    def __init__(self, spec, binary: Path, credentials: dict[str, str], endpoint: str, region: str, workdir: Path, processes: int) -> None:
        self.spec = spec
        self.name = spec.name
        self.arn = spec.arn
        self.binary = binary
        self.env = spec.env
        self.timeout = spec.timeout
        self.memory = spec.memory
        self.credentials = credentials
        self.endpoint = endpoint
        self.region = region
        self.workdir = workdir
        self.queue: "queue.Queue[Invocation]" = queue.Queue()
        self.stopping = False
        self.invocations = 0
        self.in_flight = 0
        self.peak_rss_kb = 0  # the largest resident set any of its handler processes had (sampled every 0.1 s)
        self.lock = threading.Lock()
        self.slots = [Slot(self, i) for i in range(processes)]

    def start(self) -> None:
        for slot in self.slots:
            slot.spawn()
        threading.Thread(target=self._watch, name=f"watch-{self.name}", daemon=True).start()

    def _watch(self) -> None:
        limit_kb = self.memory * 1024
        while not self.stopping:
            now = time.time()
            for slot in self.slots:
                process = slot.process
                if process is None:
                    continue
                if process.poll() is not None:
                    if self.stopping:
                        return
                    LOG.warning("%s handler exited with %s; starting it again", self.name, process.returncode)
                    slot.kill(_error("Runtime.ExitError", f"Runtime exited with error: exit status {process.returncode}"))
                    slot.spawn()
                    continue
                if slot.current is not None and now > slot.deadline:
                    LOG.warning("%s: invocation timed out after %s s; the process is killed", self.name, self.timeout)
                    slot.kill(_error("Sandbox.Timedout", f"Task timed out after {self.timeout:.2f} seconds"))
                    slot.spawn()
                    continue
                # An idle handler's memory does not grow: the busy ones are read, an idle one once after its start
                # or its last invocation.
                if slot.current is None and slot.sampled == process.pid:
                    continue
                slot.sampled = process.pid if slot.current is None else 0
                rss_kb = _rss_kb(process.pid)
                self.peak_rss_kb = max(self.peak_rss_kb, rss_kb)
                if rss_kb > limit_kb:
                    LOG.warning("%s: memory above %s MB; the process is killed", self.name, self.memory)
                    slot.kill(_error("Runtime.ExitError", "Runtime exited with error: signal: killed (memory size exceeded)"))
                    slot.spawn()
            time.sleep(0.1)

    def invoke(self, payload: str) -> tuple[str, bool]:
        invocation = Invocation(payload)
        with self.lock:
            self.invocations += 1
            self.in_flight += 1
        try:
            self.queue.put(invocation)
            invocation.done.wait()
        finally:
            with self.lock:
                self.in_flight -= 1
        return invocation.result, invocation.errored

    def stop(self) -> None:
        self.stopping = True
        for slot in self.slots:
            if slot.process is not None and slot.process.poll() is None:
                slot.process.terminate()
                slot.signal(signal.SIGCONT)  # a frozen process takes its SIGTERM only once thawed
        for slot in self.slots:
            if slot.process is None:
                continue
            try:
                slot.process.wait(5)
            except subprocess.TimeoutExpired:
                slot.process.kill()
            slot.server.shutdown()


def _error(kind: str, message: str) -> str:
    return json.dumps({"errorType": kind, "errorMessage": message})


def _rss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class QueuePoller:
    """One SQS event source mapping's pollers (see the module's docstring)."""

    def __init__(self, host: "LambdaHost", mapping, sqs, queue_url: str, region: str) -> None:
        self.host = host
        self.mapping = mapping
        self.sqs = sqs
        self.queue_url = queue_url
        self.region = region
        self.stopping = False
        self.delivering = 0
        self.lock = threading.Lock()

    def start(self) -> None:
        for i in range(min(self.mapping.max_concurrency, 2)):
            threading.Thread(target=self._poll, name=f"sqs-{self.mapping.function}-{i}", daemon=True).start()

    def queued(self) -> int:
        """Messages in the queue (visible, in flight or delayed) and batches being delivered."""
        try:
            attributes = self.sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["All"])["Attributes"]
        except Exception:  # noqa: BLE001 - a busy() that cannot look says busy
            return 1
        names = ("ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible", "ApproximateNumberOfMessagesDelayed")
        with self.lock:
            return sum(int(attributes.get(n, 0)) for n in names) + self.delivering

    def _receive(self, most: int, wait: int) -> list[dict]:
        try:
            answer = self.sqs.receive_message(
                QueueUrl=self.queue_url, MaxNumberOfMessages=most, WaitTimeSeconds=wait, AttributeNames=["All"], MessageAttributeNames=["All"]
            )
        except Exception as e:  # noqa: BLE001 - AWS shows it as the mapping's state; the messages stay
            if not self.stopping:
                LOG.error("%s: cannot poll %s: %s", self.mapping.function, self.mapping.queue_arn, e)
                time.sleep(1)
            return []
        return answer.get("Messages", [])

    def _poll(self) -> None:
        m = self.mapping
        while not self.stopping:
            batch = self._receive(min(10, m.batch_size), 1)
            if not batch:
                continue
            with self.lock:
                self.delivering += 1
            try:
                deadline = time.time() + m.window_seconds
                while len(batch) < m.batch_size and time.time() < deadline and not self.stopping:
                    batch.extend(self._receive(min(10, m.batch_size - len(batch)), 0) or [])
                    if len(batch) < m.batch_size:
                        time.sleep(min(0.2, max(0.0, deadline - time.time())))
                self._deliver_copy(batch)
                self._deliver(batch)
            finally:
                with self.lock:
                    self.delivering -= 1

    def _deliver_copy(self, batch: list[dict]) -> None:
        """SQS delivers at least once: a message drawn to arrive twice (faults.py, `delivery`) comes again, alone,
        from another poller, after its drawn delay."""
        for message in batch:
            delays = FAULTS.deliveries(self.mapping.function)
            if len(delays) < 2:
                continue

            def again(message: dict = message, delay: float = delays[1]) -> None:
                try:
                    time.sleep(delay)
                    self._deliver([message])
                finally:
                    with self.lock:
                        self.delivering -= 1

            with self.lock:
                self.delivering += 1
            threading.Thread(target=again, name=f"sqs-{self.mapping.function}-copy", daemon=True).start()

    def _deliver(self, batch: list[dict]) -> None:
        m = self.mapping
        runtime = self.host.functions[m.function]
        event = {"Records": [self._record(message) for message in batch]}
        backoff = THROTTLE_BACKOFF[0]
        while True:
            try:
                result, errored = self.host._run(runtime, json.dumps(event))
                break
            except Throttled:
                time.sleep(FAULTS.scaled(backoff))
                backoff = min(backoff * 2, THROTTLE_BACKOFF[1])
        if errored:
            LOG.warning("%s: a batch of %d from %s failed; it comes back after the visibility timeout: %s", m.function, len(batch), m.queue_arn, result[:300])
            return
        ids = {message["MessageId"] for message in batch}
        failed: set[str] = set()
        if m.partial_failures:
            answer = _json_or_text(result)
            listed = answer.get("batchItemFailures", []) if isinstance(answer, dict) else []
            failed = {str(item.get("itemIdentifier")) for item in listed if isinstance(item, dict)}
            if not failed <= ids or len(failed) != len(listed):
                LOG.warning("%s: batchItemFailures names messages not in the batch: the whole batch failed", m.function)
                return
        done = [message for message in batch if message["MessageId"] not in failed]
        for start in range(0, len(done), 10):
            entries = [{"Id": str(i), "ReceiptHandle": message["ReceiptHandle"]} for i, message in enumerate(done[start : start + 10])]
            try:
                self.sqs.delete_message_batch(QueueUrl=self.queue_url, Entries=entries)
            except Exception as e:  # noqa: BLE001 - the messages come back: at-least-once, as on AWS
                LOG.error("%s: cannot delete handled messages from %s: %s", m.function, m.queue_arn, e)

    def _record(self, message: dict) -> dict:
        return {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": message.get("Attributes", {}),
            "messageAttributes": message.get("MessageAttributes", {}),
            "md5OfBody": message.get("MD5OfBody", ""),
            "eventSource": "aws:sqs",
            "eventSourceARN": self.mapping.queue_arn,
            "awsRegion": self.region,
        }

    def stop(self) -> None:
        self.stopping = True


class LambdaHost:
    """Every function of every stack, by name, and how invocations reach them."""

    def __init__(self, send_to_queue: Callable[[dict[str, str], str, str], None]) -> None:
        self.functions: dict[str, FunctionRuntime] = {}
        self.send_to_queue = send_to_queue  # (credentials, queue ARN, body)
        self.lock = threading.Lock()
        self.undelivered: list[dict[str, Any]] = []
        self.pending_async = 0  # asynchronous deliveries not finished: waiting, running or between retries
        self.concurrent: dict[str, int] = {}  # invocations admitted and not finished, per function
        self.pollers: list[QueuePoller] = []  # SQS event source mappings
        self.throttled: dict[str, int] = {}  # invocations refused for concurrency, per function

    def busy(self, stopping: int = 0) -> dict[str, Any]:
        """What is still under way: asynchronous deliveries not finished and invocations running, per function;
        Step Functions' waits and back-offs (services/schedule.py); and `stopping`, the containers that have
        exited but whose task the agent has not stopped yet. A test waits for all of it to be zero instead of
        sleeping before it checks that nothing happened."""
        with self.lock:
            pending = self.pending_async
            throttled = dict(self.throttled)
        running = {name: r.in_flight for name, r in self.functions.items() if r.in_flight}
        queued = {p.mapping.queue_arn: n for p in self.pollers if (n := p.queued())}
        scheduled = schedule.pending()
        idle = pending == 0 and not running and not queued and scheduled == 0 and stopping == 0
        return {
            "pending_async": pending,
            "running": running,
            "queued": queued,
            "scheduled": scheduled,
            "stopping": stopping,
            "idle": idle,
            "throttled": throttled,
        }

    def add(self, runtime: FunctionRuntime) -> None:
        reserved = sum(r.spec.reserved or 0 for r in self.functions.values()) + (runtime.spec.reserved or 0)
        account = FAULTS.lambda_concurrency
        if runtime.spec.reserved is not None and account - reserved < MIN_UNRESERVED:
            raise ValueError(
                f"{runtime.name}: InvalidParameterValueException: Specified ReservedConcurrentExecutions for function "
                f"decreases account's UnreservedConcurrentExecution below its minimum value of [{MIN_UNRESERVED}]."
            )
        self.functions[runtime.name] = runtime

    def _admit(self, runtime: FunctionRuntime) -> None:
        """Counts the invocation in, or raises Throttled: past the function's reserved concurrency, or past what
        the account leaves the functions without one."""
        with self.lock:
            reserved = runtime.spec.reserved
            if reserved is not None:
                full = self.concurrent.get(runtime.name, 0) >= reserved
                reason = "ReservedFunctionConcurrentInvocationLimitExceeded"
            else:
                pool = FAULTS.lambda_concurrency - sum(r.spec.reserved or 0 for r in self.functions.values())
                used = sum(n for name, n in self.concurrent.items() if self.functions[name].spec.reserved is None)
                full = used >= pool
                reason = "ConcurrentInvocationLimitExceeded"
            if full:
                self.throttled[runtime.name] = self.throttled.get(runtime.name, 0) + 1
                raise Throttled(runtime.name, reason)
            self.concurrent[runtime.name] = self.concurrent.get(runtime.name, 0) + 1

    def _run(self, runtime: FunctionRuntime, payload: str) -> tuple[str, bool]:
        self._admit(runtime)
        try:
            return runtime.invoke(payload)
        finally:
            with self.lock:
                self.concurrent[runtime.name] -= 1

    def invoke_sync(self, name: str, payload: str) -> tuple[str, bool]:
        """A synchronous invocation's (result, errored); raises Throttled past the concurrency limit and TooLarge
        for a request over 6 MB."""
        runtime = self.functions.get(name)
        if runtime is None:
            return _error("ResourceNotFoundException", f"Function not found: {name}"), True
        if len(payload.encode()) > MAX_SYNC_PAYLOAD:
            raise TooLarge(MAX_SYNC_PAYLOAD)
        result, errored = self._run(runtime, payload)
        if len(result.encode()) > MAX_SYNC_PAYLOAD:
            return _error("Function.ResponseSizeTooLarge", f"Response payload size exceeded maximum allowed payload size ({MAX_SYNC_PAYLOAD} bytes)."), True
        return result, errored

    def invoke_async(self, name: str, payload: str, source: str) -> None:
        """Queues an event for the function; raises TooLarge for one over 1 MB (nothing is queued)."""
        runtime = self.functions.get(name)
        if runtime is None:
            LOG.error("%s: no function %s", source, name)
            return
        if len(payload.encode()) > MAX_ASYNC_PAYLOAD:
            raise TooLarge(MAX_ASYNC_PAYLOAD)
        delays = FAULTS.deliveries(name)
        with self.lock:
            self.pending_async += len(delays)
        for delay in delays:
            threading.Thread(
                target=self._run_async, args=(runtime, payload, source, delay), name=f"async-{name}", daemon=True
            ).start()

    def _run_async(self, runtime: FunctionRuntime, payload: str, source: str, delay: float) -> None:
        try:
            self._deliver_async(runtime, payload, source, delay)
        finally:
            with self.lock:
                self.pending_async -= 1

    def _deliver_async(self, runtime: FunctionRuntime, payload: str, source: str, delay: float) -> None:
        if delay:
            time.sleep(delay)
        spec = runtime.spec
        queued = time.time()
        attempts = 1 + spec.max_retries
        result, errored, condition = "", True, "RetriesExhausted"
        invoked = 0
        backoff = THROTTLE_BACKOFF[0]
        while invoked < attempts:
            if time.time() - queued > FAULTS.scaled(spec.max_event_age):
                condition = "EventAgeExceeded"
                break
            try:
                result, errored = self._run(runtime, payload)
            except Throttled:
                # Kept and tried again: a throttle is not one of the event's attempts.
                time.sleep(FAULTS.scaled(backoff))
                backoff = min(backoff * 2, THROTTLE_BACKOFF[1])
                continue
            invoked += 1
            if not errored:
                return
            LOG.warning("%s: asynchronous invocation %d of %d failed: %s", runtime.name, invoked, attempts, result[:300])
            if invoked < attempts:
                time.sleep(FAULTS.scaled(ASYNC_RETRY_DELAYS[min(invoked - 1, len(ASYNC_RETRY_DELAYS) - 1)]))
        record = {
            "version": "1.0",
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
            "requestContext": {
                "requestId": str(uuid.uuid4()),
                "functionArn": f"{runtime.arn}:$LATEST",
                "condition": condition,
                "approximateInvokeCount": invoked,
            },
            "requestPayload": _json_or_text(payload),
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
            "responsePayload": _json_or_text(result),
        }
        with self.lock:
            self.undelivered.append({"function": runtime.name, "source": source, "record": record})
        if spec.on_failure:
            try:
                self.send_to_queue(runtime.credentials, spec.on_failure, json.dumps(record))
                LOG.warning("%s: the event went to its OnFailure destination %s (%s)", runtime.name, spec.on_failure, condition)
            except Exception as e:  # noqa: BLE001 - AWS counts it as DestinationDeliveryFailures
                LOG.error("%s: could not send the failed event to %s: %s", runtime.name, spec.on_failure, e)
        else:
            LOG.error("%s: the event is discarded after %d attempts (no OnFailure destination)", runtime.name, attempts)

    def deliver_event(self, rule_arn: str, target: dict, payload: str, event: str) -> bool:
        """EventBridge invoking a function for a rule (`payload`, the target's input made of `event`): only if the
        function's resource policy allows it; an event it cannot deliver goes to the target's dead-letter queue."""
        function_arn = target["Arn"]
        name = function_arn.split(":")[6] if function_arn.count(":") >= 6 else function_arn
        if name not in self.functions:
            return self._undeliverable(rule_arn, target, event, name, "ResourceNotFoundException", f"Function not found: {function_arn}")
        if not _events_may_invoke(name, rule_arn):
            return self._undeliverable(
                rule_arn, target, event, name, "NO_PERMISSIONS",
                f"EventBridge is not allowed to invoke {function_arn}: no resource-based policy statement allows events.amazonaws.com",
            )
        try:
            self.invoke_async(name, payload, rule_arn)
        except TooLarge as large:
            return self._undeliverable(rule_arn, target, event, name, "RequestEntityTooLargeException", str(large))
        return True

    def _undeliverable(self, rule_arn: str, target: dict, event: str, name: str, code: str, message: str) -> bool:
        LOG.error("EventBridge cannot invoke %s for %s: %s", name, rule_arn, message)
        with self.lock:
            self.undelivered.append({"function": name, "source": rule_arn, "record": {"reason": code}})
        event_targets.dead_letter(rule_arn, target, event, code, message)
        return False

    def stop(self) -> None:
        for poller in self.pollers:
            poller.stop()
        for runtime in self.functions.values():
            runtime.stop()


def _json_or_text(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def _events_may_invoke(function_name: str, rule_arn: str) -> bool:
    from ..front import iam

    # With Docker off, moto keeps functions in its "simple" Lambda backend.
    from moto.awslambda_simple.models import lambda_simple_backends as lambda_backends

    for account in list(lambda_backends.keys()):
        for region in list(lambda_backends[account].keys()):
            backend = lambda_backends[account][region]
            try:
                policy = backend.get_policy(function_name, None)
            except Exception:  # noqa: BLE001 - no function or no policy here
                continue
            document = json.loads(policy) if isinstance(policy, str) else policy
            if "Policy" in document:  # GetPolicy's wire format: the policy is a JSON string inside
                document = json.loads(document["Policy"])
            for statement in document.get("Statement", []):
                principal = statement.get("Principal")
                service = principal.get("Service") if isinstance(principal, dict) else principal
                if "events.amazonaws.com" not in iam._as_list(service):
                    continue
                check = iam.Check("lambda:InvokeFunction", statement.get("Resource", "*"), {"AWS:SourceArn": rule_arn})
                if statement.get("Effect") == "Allow" and iam.evaluate([{"Statement": [statement]}], check) == "Allow":
                    return True
    return False
