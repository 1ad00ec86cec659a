"""The front door of the emulated cloud: a WSGI layer in front of moto that does, for every request, what AWS does
before a service acts on it, and records it.

1. Authentication: the request must be signed with an access key (and session token) the cloud issued, and its
   SigV4 signature must be the one that key's secret gives (sigv4.py: header and presigned forms, clock skew, expiry),
   scoped to the service the request's shape is addressed to (its X-Amz-Target, query Version or REST path: all
   services share this one endpoint; a mismatch gets the addressed service's error).
2. Authorization: iam.py evaluates the principal's policies for every authorization iam_actions.py lists.
3. AWS behaviour moto lacks, in front of the service:
   - S3 answers 403 (not 404) for a missing object when the caller may not s3:ListBucket the bucket (S3 GetObject
     and HeadObject API reference, "Permissions").
   - A requester-pays bucket of another account answers 403 AccessDenied to a request without
     `x-amz-request-payer: requester` (S3 user guide, "Downloading objects from Requester Pays buckets").
   - The Pricing API (GetProducts), which moto lacks, from services/pricing.py's fixture prices in AWS's response shape.
   - A spot RunInstances when the AWSServiceRoleForEC2Spot service-linked role does not exist: EC2 creates it if the
     caller may iam:CreateServiceLinkedRole for spot.amazonaws.com, and otherwise answers 403
     AuthFailure.ServiceLinkedRoleCreationNotPermitted (EC2 user guide, "Service-linked role for Spot Instance
     requests").
   - A request past its documented size (limits.py: TerminateInstances' 1 000 ids) is refused whole.
   - EC2 does not know an instance for FRESH_SECONDS after RunInstances answered (eventual consistency): a call
     naming it answers InvalidInstanceID.NotFound and acts on none of its ids.
4. Injected faults (faults.py) for the operation and the caller.
5. Metering: one record per request, with the label of the principal that signed it.
"""

from __future__ import annotations

import io
import json
import logging
import threading
import time
import uuid
from typing import Any, Optional
from xml.sax.saxutils import escape

from ..faults import FAULTS
from ..services import pricing
from . import iam, iam_actions, limits, sigv4
from .throttle import THROTTLE, Throttled

LOG = logging.getLogger("ecsub.sandbox.gateway")


class Meter:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.calls: list[dict[str, Any]] = []

    def record(self, entry: dict[str, Any]) -> None:
        with self.lock:
            self.calls.append(entry)

    def snapshot(self) -> list[dict[str, Any]]:
        with self.lock:
            return list(self.calls)


class ServiceError(Exception):
    def __init__(self, code: str, message: str, status: int, protocol: Optional[str] = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.protocol = protocol  # the protocol of the error's body, when not the request's (a mis-scoped request)


class Gateway:
    def __init__(self, app, principals: iam.Principals, region: str) -> None:
        self.app = app
        self.principals = principals
        self.region = region
        self.meter = Meter()
        self.lookups = iam_actions.Lookups(principals.account, region)
        self.denials: list[str] = []

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path.startswith("/moto-api"):
            return self.app(environ, start_response)
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        request = iam_actions.parse(environ, body, self.principals.account)
        record: dict[str, Any] = {
            "time": time.time(),
            "service": request.service if request else "",
            "operation": (request.operation if request else "") or f"{environ.get('REQUEST_METHOD')} {path}",
            "method": environ.get("REQUEST_METHOD", ""),
            "path": path,
            "query": environ.get("QUERY_STRING", ""),
            "key": "",
            "if_none_match": environ.get("HTTP_IF_NONE_MATCH"),
        }
        try:
            principal = self._authenticate(environ, request, body)
            record["key"] = principal.label
            record["principal"] = principal.arn
            self._authorize(principal, request)
            lost = self._behave(principal, request)
        except ServiceError as e:
            if e.code in ("AccessDenied", "AccessDeniedException", "UnauthorizedOperation"):
                with self.meter.lock:
                    self.denials.append(f"{record['key'] or '?'}: {e.message}")
                LOG.warning("denied %s %s (%s): %s", record["service"], record["operation"], record["key"], e.message)
            record["status"] = e.status
            record["error"] = e.code
            self.meter.record(record)
            return _error(request, e, start_response)

        status_holder: dict[str, str] = {}

        def start(status, headers, exc_info=None):
            status_holder["status"] = status
            return start_response(status, headers, exc_info)

        if request.service == "sts" and request.operation == "GetCallerIdentity":
            record["status"] = 200
            self.meter.record(record)
            return _caller_identity(principal, self.principals.account, start_response)
        if request.service == "pricing":
            return self._pricing(request, record, start_response)
        result = self.app(environ, start if lost is None else (lambda status, headers, exc_info=None: None))
        if lost is not None:
            for _ in result:  # the service acted; its answer is lost on the way back
                pass
            record["status"] = lost.status
            record["error"] = lost.code
            self.meter.record(record)
            return _error(request, ServiceError(lost.code, lost.message, lost.status), start_response)
        record["status"] = int(status_holder.get("status", "0 ").split(" ")[0] or 0)
        self.meter.record(record)
        return result

    def _pricing(self, request: iam_actions.Request, record: dict[str, Any], start_response):
        """The Pricing API, which moto lacks (services/pricing.py)."""
        try:
            if request.operation != "GetProducts":
                raise pricing.PricingError("UnknownOperationException", f"{request.operation} is not emulated")
            answer = json.dumps(pricing.get_products(request.params)).encode()
        except pricing.PricingError as e:
            record["status"] = 400
            record["error"] = e.code
            self.meter.record(record)
            return _error(request, ServiceError(e.code, e.message, 400), start_response)
        record["status"] = 200
        self.meter.record(record)
        start_response("200 OK", [("Content-Type", "application/x-amz-json-1.1"), ("Content-Length", str(len(answer)))])
        return [answer]

    def _authenticate(self, environ, request: Optional[iam_actions.Request], body: bytes) -> iam.Principal:
        if request is None:
            raise ServiceError("MissingAuthenticationToken", "Request is missing Authentication Token", 403)
        query = sigv4.parse_query(environ.get("QUERY_STRING", ""))
        try:
            signed = sigv4.read(environ, query)
        except sigv4.Refused as refused:
            raise _signature_error(request.service, request.protocol, refused) from None
        if signed is None:
            raise ServiceError("MissingAuthenticationToken", "Request is missing Authentication Token", 403)
        # The scope's service before its access key, as AWS checks the credential's parts before looking it up.
        try:
            sigv4.check_service(signed, sigv4.addressed_to(environ, query, body))
        except sigv4.WrongService as wrong:
            raise _signature_error(wrong.addressed.service, wrong.addressed.protocol, wrong) from None
        if signed.presigned:
            token = dict(query).get("X-Amz-Security-Token")
        else:
            token = environ.get("HTTP_X_AMZ_SECURITY_TOKEN")
        principal = self.principals.lookup(signed.access_key, token)
        if principal is None:
            code = {"s3": "InvalidAccessKeyId", "ec2": "AuthFailure"}.get(request.service, "UnrecognizedClientException")
            raise ServiceError(code, f"The security token included in the request is invalid (access key {signed.access_key})", 403)
        try:
            sigv4.check(environ, query, body, signed, principal.secret_access_key, self.region)
        except sigv4.Refused as refused:
            raise _signature_error(request.service, request.protocol, refused) from None
        return principal

    def _authorize(self, principal: iam.Principal, request: iam_actions.Request) -> None:
        try:
            checks = iam_actions.checks(request, self.lookups)
            iam.authorize(self.principals, principal, checks)
        except iam.Denied as denied:
            raise _access_denied(request, str(denied)) from None

    def _behave(self, principal: iam.Principal, request: iam_actions.Request):
        """AWS's behaviour in front of the service; returns an injected fault whose answer is lost after the
        service acted, if there is one."""
        fault = FAULTS.api_fault(request.operation, principal.label, request.body)
        if fault is not None and fault.delay_ms:
            LOG.info("fault: %s %s (%s) waits %d ms", request.service, request.operation, principal.label, fault.delay_ms)
            time.sleep(fault.delay_ms / 1000)
        if fault is not None and not fault.code:
            fault = None
        if fault is not None and not fault.lost_response:
            LOG.info("fault: %s %s (%s) answers %s", request.service, request.operation, principal.label, fault.code)
            raise ServiceError(fault.code, fault.message, fault.status)
        too_many = limits.check(request.service, request.operation, request.params)
        if too_many is not None:
            LOG.info("refused: %s %s (%s): %s", request.service, request.operation, principal.label, too_many)
            raise ServiceError(too_many.code, str(too_many), too_many.status)
        if principal.label != "aws":  # AWS's own services acting are not metered (front/throttle.py)
            try:
                THROTTLE.check(request.service, request.account, request.region, request.operation, request.params)
            except Throttled as t:
                LOG.info("throttled: %s %s (%s): its bucket %r is empty", request.service, request.operation, principal.label, t.bucket)
                raise ServiceError(t.code, str(t), t.status) from None
        if request.service == "s3":
            self._s3(principal, request)
        if request.service == "ec2" and principal.label != "aws":
            _not_yet_known(request)
        if request.service == "ec2" and request.operation == "RunInstances":
            self._spot_service_linked_role(principal, request)
        if fault is not None:
            LOG.info("fault: %s %s (%s) acts, and its answer is lost", request.service, request.operation, principal.label)
        return fault

    def _s3(self, principal: iam.Principal, request: iam_actions.Request) -> None:
        if request.bucket in FAULTS.requester_pays:
            payer = request.header("x-amz-request-payer") or request.query.get("x-amz-request-payer")
            if payer != "requester":
                raise ServiceError("AccessDenied", "Access Denied", 403)
        if request.operation in ("GetObject", "HeadObject") and request.bucket and request.key:
            from moto.s3.models import s3_backends

            backend = s3_backends[self.principals.account]["global"]
            try:
                bucket = backend.get_bucket(request.bucket)
            except Exception:  # noqa: BLE001 - moto answers NoSuchBucket itself
                return
            if request.key in bucket.keys:
                return
            check = iam.Check("s3:ListBucket", f"arn:aws:s3:::{request.bucket}", {"s3:prefix": request.key})
            try:
                iam.authorize(self.principals, principal, [check])
            except iam.Denied:
                raise ServiceError("AccessDenied", "Access Denied", 403) from None

    def _spot_service_linked_role(self, principal: iam.Principal, request: iam_actions.Request) -> None:
        if request.params.get("InstanceMarketOptions.MarketType") != "spot":
            return
        from moto.iam.models import iam_backends

        backend = iam_backends[self.principals.account]["aws"]
        name = iam_actions.SLR_NAMES["spot.amazonaws.com"]
        if any(role.name == name for role in backend.roles.values()):
            return
        check = iam.Check(
            "iam:CreateServiceLinkedRole",
            f"arn:aws:iam::{self.principals.account}:role/aws-service-role/spot.amazonaws.com/{name}",
            {"iam:AWSServiceName": "spot.amazonaws.com"},
        )
        try:
            iam.authorize(self.principals, principal, [check])
        except iam.Denied:
            raise ServiceError(
                "AuthFailure.ServiceLinkedRoleCreationNotPermitted",
                "The provided credentials do not have permission to create the service-linked role for EC2 Spot Instances.",
                403,
            ) from None
        trust = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"Service": "spot.amazonaws.com"}, "Action": "sts:AssumeRole"}],
        }
        backend.create_role(
            role_name=name,
            assume_role_policy_document=json.dumps(trust),
            path="/aws-service-role/spot.amazonaws.com/",
            permissions_boundary=None,
            description="Created by EC2 for a spot request",
            tags=[],
            max_session_duration=None,
            linked_service="spot.amazonaws.com",
        )
        LOG.info("EC2 created the service-linked role %s for %s", name, principal.label)


#: Seconds after RunInstances answered during which EC2's API does not know the new instances yet ("Eventual
#: consistency in the Amazon EC2 API": a DescribeInstances, CreateTags or TerminateInstances right after
#: RunInstances may answer InvalidInstanceID.NotFound, and a call naming several ids then acts on none).
FRESH_SECONDS = 1.0
#: The calls that name instances, and the parameter that names them.
_NAMING_INSTANCES = {
    "DescribeInstances": "InstanceId.",
    "TerminateInstances": "InstanceId.",
    "StopInstances": "InstanceId.",
    "CreateTags": "ResourceId.",
    "DescribeInstanceAttribute": "InstanceId",
}


def _not_yet_known(request: iam_actions.Request) -> None:
    """Refuses a call naming an instance launched less than FRESH_SECONDS ago, as EC2's eventual consistency may."""
    prefix = _NAMING_INSTANCES.get(request.operation)
    if prefix is None:
        return
    named = [str(v) for k, v in request.params.items() if (k.startswith(prefix) if prefix.endswith(".") else k == prefix)]
    named = [i for i in named if i.startswith("i-")]
    if not named:
        return
    from moto.ec2.models import ec2_backends

    backend = ec2_backends[request.account][request.region]
    now = time.monotonic()
    fresh = []
    for instance_id in named:
        try:
            launched = getattr(backend.get_instance(instance_id), "ecsub_launched", None)
        except Exception:  # noqa: BLE001 - unknown to moto: moto answers for it
            continue
        if launched is not None and now - launched < FRESH_SECONDS:
            fresh.append(instance_id)
    if fresh:
        LOG.info("not yet known: %s %s names %s", request.service, request.operation, fresh)
        message = f"The instance ID '{fresh[0]}' does not exist" if len(fresh) == 1 else f"The instance IDs '{', '.join(fresh)}' do not exist"
        raise ServiceError("InvalidInstanceID.NotFound", message, 400)


def _caller_identity(principal: iam.Principal, account: str, start_response):
    """sts:GetCallerIdentity answers who signed the request; moto's STS knows only its own sessions."""
    user_id = f"AROA{principal.access_key_id[-12:]}:{principal.arn.rsplit('/', 1)[-1]}" if principal.role_name else f"AIDA{principal.access_key_id[-12:]}"
    body = (
        '<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult>'
        f"<Arn>{escape(principal.arn)}</Arn><UserId>{escape(user_id)}</UserId><Account>{account}</Account>"
        f"</GetCallerIdentityResult><ResponseMetadata><RequestId>{uuid.uuid4()}</RequestId></ResponseMetadata>"
        "</GetCallerIdentityResponse>"
    ).encode()
    start_response("200 OK", [("Content-Type", "text/xml"), ("Content-Length", str(len(body)))])
    return [body]


def _access_denied(request: iam_actions.Request, message: str) -> ServiceError:
    if request.service == "ec2":
        return ServiceError("UnauthorizedOperation", f"You are not authorized to perform this operation. {message}", 403)
    if request.protocol in ("query", "rest-xml"):
        return ServiceError("AccessDenied", message if request.service != "s3" else "Access Denied", 403)
    return ServiceError("AccessDeniedException", message, 403 if request.service == "lambda" else 400)


def _signature_error(service: str, protocol: str, refused: "sigv4.Refused") -> ServiceError:
    """The error `service` (its protocol `protocol`) gives a bad signature (S3: its own codes; EC2: AuthFailure; the
    query services: SignatureDoesNotMatch; the JSON services: InvalidSignatureException, HTTP 400, as ECS and
    DynamoDB answer it; Lambda's REST API: the same code, HTTP 403)."""
    if service == "s3":
        bad_request = ("InvalidRequest", "XAmzContentSHA256Mismatch", "AuthorizationQueryParametersError", "AuthorizationHeaderMalformed")
        status = 400 if refused.code in bad_request else 403
        return ServiceError(refused.code, refused.message, status, protocol)
    if service == "ec2":
        return ServiceError("AuthFailure", refused.message, 401, protocol)
    if protocol == "query":
        return ServiceError("SignatureDoesNotMatch", refused.message, 403, protocol)
    return ServiceError("InvalidSignatureException", refused.message, 400 if protocol == "json" else 403, protocol)


def _error(request: Optional[iam_actions.Request], e: ServiceError, start_response):
    protocol = e.protocol or (request.protocol if request else "json")
    request_id = str(uuid.uuid4())
    headers = [("x-amzn-RequestId", request_id), ("x-amz-request-id", request_id)]
    reason = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 500: "Internal Server Error", 503: "Service Unavailable"}.get(e.status, "Error")
    code, message = escape(e.code), escape(e.message)
    if protocol in ("ec2", "query", "rest-xml"):
        error = {
            "ec2": f"<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message></Error></Errors><RequestID>{request_id}</RequestID></Response>",
            "query": f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>",
            "rest-xml": f"<Error><Code>{code}</Code><Message>{message}</Message><RequestId>{request_id}</RequestId></Error>",
        }[protocol]
        body = f'<?xml version="1.0" encoding="UTF-8"?>\n{error}'.encode()
        if request is not None and request.method == "HEAD":
            body = b""  # a HEAD answer has no body: the status says it all
        headers.append(("Content-Type", "text/xml"))
    else:
        body = json.dumps({"__type": e.code, "message": e.message, "Message": e.message}).encode()
        headers += [("Content-Type", "application/x-amz-json-1.1"), ("x-amzn-ErrorType", e.code)]
    headers.append(("Content-Length", str(len(body))))
    start_response(f"{e.status} {reason}", headers)
    return [body]
