"""AWS Signature Version 4, checked as AWS checks it: the gateway recomputes every request's signature with the secret
key of the access key it names and refuses the request when the two differ.

Without this, the emulated cloud identified a caller by its access key alone: a request signed wrongly (a hand-rolled
signer such as `curl --aws-sigv4`, a presigned URL altered or expired, a canonical form that S3 computes otherwise)
passed here and failed on AWS. Sources: IAM user guide, "Create a signed AWS API request" (canonical request, string to
sign, signing key) and "Elements of an AWS API request signature"; S3 API reference, "Authenticating Requests: Using
the Authorization Header (AWS Signature Version 4)" (S3's URI is not normalized or encoded twice; x-amz-content-sha256
is required) and "Authenticating Requests: Using Query Parameters" (X-Amz-Expires, at most 7 days; UNSIGNED-PAYLOAD).
A request more than 15 minutes away from the server's clock is refused (RequestTimeTooSkewed / "Signature expired"),
and so is a signature scoped to another region (S3: AuthorizationHeaderMalformed) or an S3 request with an
x-amz-* header it did not sign.

The scope's service is checked too. IAM user guide, "Elements of an AWS API request signature" (Credential:
ACCESS-KEY/DATE/REGION/SERVICE/aws4_request) and "Create a signed AWS API request" (the credential scope): the
scope's service is the target service's signing name (`ecs`, `states`, `monitoring`, `events`, `pricing`, …; not
always its IAM prefix, see iam_actions.PREFIX). AWS, where every service has an endpoint of its own, refuses a
signature scoped to another service with the addressed service's error, worded as AWS words it (reported answers
of ECS, DynamoDB, Batch, SageMaker; S3's as OpenStack Swift's s3api reproduces it): JSON protocol:
InvalidSignatureException "Credential should be scoped to correct service: 'ecs'. " (HTTP 400; Lambda's REST API:
403); EC2: AuthFailure; the other query services: SignatureDoesNotMatch; S3: AuthorizationHeaderMalformed "The
authorization header is malformed; incorrect service "s3x". This endpoint belongs to "s3".", or
AuthorizationQueryParametersError "Error parsing the X-Amz-Credential parameter; …" for a presigned URL. The
scope's service is checked before its access key is looked up, as AWS checks the credential's parts first.

Here every service shares one endpoint, so `addressed_to` reads the service from the request's own shape instead,
whatever its scope says: the X-Amz-Target prefix of a JSON request (TARGETS; also the service an RPC v2 CBOR request
names in its path), the `Version` of a query request (VERSIONS), Lambda's REST paths, and S3 for every other REST
request. A shape this module does not know (a JSON target or query version of a service missing from the tables)
names no service, and its scope is not checked; nor is the scope of a path that is both a Lambda route and an S3
one (a bucket named like Lambda's API version, say `2015-03-31`) when it says `s3`. A REST service other than S3 and
Lambda (none of the project's clients calls one) would be taken for S3: add its routes here first.

Not checked: S3's own re-encoding of a path sent with unusual percent-encoding.
"""

from __future__ import annotations

import calendar
import hashlib
import hmac
import re
import time
from dataclasses import dataclass
from typing import Optional
from urllib.parse import parse_qsl, quote, unquote

ALGORITHM = "AWS4-HMAC-SHA256"
SKEW_SECONDS = 15 * 60
MAX_EXPIRES = 7 * 24 * 3600
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
_AUTH = re.compile(r"^AWS4-HMAC-SHA256\s+Credential=([^,\s]+),\s*SignedHeaders=([^,\s]+),\s*Signature=([0-9a-f]{64})\s*$")


class Refused(Exception):
    """The request's signature is wrong, missing or out of date; `code` is the error AWS names for it."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class Signed:
    """What a request says about its signature, before it is checked."""

    def __init__(self, access_key: str, scope: list[str], signed_headers: list[str], signature: str, amz_date: str, presigned: bool, expires: Optional[int]) -> None:
        self.access_key = access_key
        self.scope = scope  # date, region, service, "aws4_request"
        self.signed_headers = signed_headers
        self.signature = signature
        self.amz_date = amz_date
        self.presigned = presigned
        self.expires = expires


def read(environ, query: list[tuple[str, str]]) -> Optional[Signed]:
    """The signature a request carries (Authorization header or presigned query), or None when it carries none."""
    auth = environ.get("HTTP_AUTHORIZATION", "")
    if auth:
        m = _AUTH.match(auth)
        if not m:
            raise Refused("IncompleteSignature", f"Authorization header is not a SigV4 signature: {auth[:60]!r}")
        credential, headers, signature = m.groups()
        amz_date = environ.get("HTTP_X_AMZ_DATE", "")
        presigned, expires = False, None
    else:
        params = dict(query)
        if params.get("X-Amz-Algorithm") != ALGORITHM:
            return None
        credential = params.get("X-Amz-Credential", "")
        headers = params.get("X-Amz-SignedHeaders", "")
        signature = params.get("X-Amz-Signature", "")
        amz_date = params.get("X-Amz-Date", "")
        presigned = True
        try:
            expires = int(params.get("X-Amz-Expires", ""))
        except ValueError:
            raise Refused("AuthorizationQueryParametersError", "X-Amz-Expires must be a number of seconds") from None
    parts = credential.split("/")
    if len(parts) != 5 or parts[4] != "aws4_request":
        raise Refused("IncompleteSignature", f"Credential must be KEY/DATE/REGION/SERVICE/aws4_request, not {credential!r}")
    if not re.fullmatch(r"\d{8}T\d{6}Z", amz_date):
        raise Refused("IncompleteSignature", f"X-Amz-Date must be YYYYMMDDTHHMMSSZ, not {amz_date!r}")
    if amz_date[:8] != parts[1]:
        raise Refused("SignatureDoesNotMatch", f"the credential's date {parts[1]} is not the request's date {amz_date[:8]}")
    return Signed(parts[0], parts[1:], headers.split(";"), signature, amz_date, presigned, expires)


#: JSON protocol: the X-Amz-Target prefix of each JSON service the emulator serves (the service's Smithy shape name,
#: which an RPC v2 CBOR request names in its path instead: /service/<name>/operation/<operation>), and its signing
#: name. botocore's models and the Rust SDK's crates say the same (test_sigv4 checks botocore's).
TARGETS = {
    "AmazonEC2ContainerServiceV20141113": "ecs",
    "AWSStepFunctions": "states",
    "Logs_20140328": "logs",
    "AmazonSSM": "ssm",
    "AWSEvents": "events",  # EventBridge
    "AWSPriceListService": "pricing",
    "secretsmanager": "secretsmanager",
    "TrentService": "kms",
    "AmazonSQS": "sqs",
    "GraniteServiceVersion20100801": "monitoring",  # CloudWatch (IAM prefix: cloudwatch)
}
#: Query protocol: the API version (the `Version` parameter) of each query service the emulator serves, and its
#: signing name.
VERSIONS = {
    "2016-11-15": "ec2",
    "2010-05-08": "iam",
    "2011-06-15": "sts",
    "2010-03-31": "sns",
    "2012-11-05": "sqs",  # SQS's query protocol, which its JSON one replaced
    "2010-05-15": "cloudformation",
    "2010-08-01": "monitoring",  # CloudWatch's query protocol
}
#: Lambda's REST API: its paths begin with an API version and one of Lambda's collections (botocore's lambda model).
LAMBDA_PATH = re.compile(
    r"^/\d{4}-\d{2}-\d{2}/(functions|event-source-mappings|account-settings|tags|layers|code-signing-configs"
    r"|capacity-providers|durable-executions|durable-execution-callbacks)(/|$)"
)
_RPC_V2_PATH = re.compile(r"^/service/([^/]+)/operation/[^/]+$")


@dataclass(frozen=True)
class Addressed:
    """A service a request is addressed to: its signing name, and the protocol its errors take (iam_actions'
    names: "json", "rest-json", "query", "ec2", "rest-xml")."""

    service: str
    protocol: str


S3 = Addressed("s3", "rest-xml")
LAMBDA = Addressed("lambda", "rest-json")


def addressed_to(environ, query: list[tuple[str, str]], body: bytes) -> tuple[Addressed, ...]:
    """The services the request's own shape says it is sent to, whatever its scope says, the likeliest first; ()
    when the shape names none that the tables know (a JSON target or a query version missing from them)."""
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target is not None:
        service = TARGETS.get(target.rsplit(".", 1)[0])
        return (Addressed(service, "json"),) if service else ()
    if environ.get("HTTP_SMITHY_PROTOCOL"):
        m = _RPC_V2_PATH.match(_raw_path(environ))
        service = TARGETS.get(unquote(m.group(1))) if m else None
        return (Addressed(service, "json"),) if service else ()
    params = dict(query)
    form = environ.get("CONTENT_TYPE", "").lower().startswith("application/x-www-form-urlencoded")
    if form and environ.get("REQUEST_METHOD", "GET").upper() == "POST":
        params.update(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    if "Action" in params:
        service = VERSIONS.get(params.get("Version", ""))
        return (Addressed(service, "ec2" if service == "ec2" else "query"),) if service else ()
    if LAMBDA_PATH.match(_raw_path(environ)):
        return (LAMBDA, S3)  # also a valid S3 path: a bucket may be named "2015-03-31"
    return (S3,)


class WrongService(Refused):
    """The scope names another service than the one the request is sent to; `addressed` is the service whose
    error the request gets."""

    def __init__(self, code: str, message: str, addressed: Addressed) -> None:
        super().__init__(code, message)
        self.addressed = addressed


def check_service(signed: Signed, addressed: tuple[Addressed, ...]) -> None:
    """Raises WrongService unless the scope's service is one the request is addressed to (`addressed_to`); a
    request whose shape names no service is not checked."""
    scoped = signed.scope[2]
    if not addressed or scoped in {a.service for a in addressed}:
        return
    to = addressed[0]
    if to.service == "s3":
        if signed.presigned:
            message = f'Error parsing the X-Amz-Credential parameter; incorrect service "{scoped}". This endpoint belongs to "s3".'
            raise WrongService("AuthorizationQueryParametersError", message, to)
        message = f'The authorization header is malformed; incorrect service "{scoped}". This endpoint belongs to "s3".'
        raise WrongService("AuthorizationHeaderMalformed", message, to)
    code = {"ec2": "AuthFailure", "query": "SignatureDoesNotMatch"}.get(to.protocol, "InvalidSignatureException")
    raise WrongService(code, f"Credential should be scoped to correct service: '{to.service}'. ", to)


def check(
    environ, query: list[tuple[str, str]], body: bytes, signed: Signed, secret_key: str, region: str, now: Optional[float] = None
) -> None:
    """Raises Refused unless the request's signature is the one its secret key gives, scoped to `region` (the
    cloud's only one)."""
    now = time.time() if now is None else now
    try:
        when = calendar.timegm(time.strptime(signed.amz_date, "%Y%m%dT%H%M%SZ"))
    except ValueError:
        raise Refused("IncompleteSignature", f"X-Amz-Date {signed.amz_date!r} is not a date") from None
    service = signed.scope[2]
    if signed.scope[1] != region:
        if service == "s3":
            raise Refused("AuthorizationHeaderMalformed", f"the region '{signed.scope[1]}' is wrong; expecting '{region}'")
        raise Refused("SignatureDoesNotMatch", f"Credential should be scoped to a valid region, not '{signed.scope[1]}'")
    if service == "s3":
        # S3: every x-amz-* header sent must be signed (S3 API reference, "Authenticating Requests (AWS Signature
        # Version 4)": "all x-amz-* headers that you plan to add to the request").
        unsigned = sorted(
            name
            for name in (k[5:].lower().replace("_", "-") for k in environ if k.startswith("HTTP_X_AMZ_"))
            if name not in signed.signed_headers
        )
        if unsigned:
            raise Refused("AccessDenied", f"There were headers present in the request which were not signed: {', '.join(unsigned)}")
    if signed.presigned:
        if signed.expires is None or not 1 <= signed.expires <= MAX_EXPIRES:
            raise Refused("AuthorizationQueryParametersError", "X-Amz-Expires must be between 1 and 604800 seconds")
        if now > when + signed.expires:
            raise Refused("AccessDenied", "Request has expired")
        if when > now + SKEW_SECONDS:
            raise Refused("AccessDenied", "Request is not valid yet")
    elif abs(now - when) > SKEW_SECONDS:
        raise Refused("RequestTimeTooSkewed", "The difference between the request time and the current time is too large.")
    if "host" not in signed.signed_headers:
        raise Refused("SignatureDoesNotMatch", "the host header must be signed")
    payload = _payload_hash(environ, body, service, signed.presigned)
    canonical = "\n".join(
        [
            environ.get("REQUEST_METHOD", "GET").upper(),
            _canonical_uri(environ, service),
            _canonical_query(query, signed.presigned),
            "".join(f"{name}:{_header(environ, name)}\n" for name in signed.signed_headers),
            ";".join(signed.signed_headers),
            payload,
        ]
    )
    scope = "/".join(signed.scope)
    to_sign = "\n".join([ALGORITHM, signed.amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = ("AWS4" + secret_key).encode()
    for part in signed.scope:
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    expected = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signed.signature):
        raise Refused(
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided. Check your key and signing method.",
        )


def _payload_hash(environ, body: bytes, service: str, presigned: bool) -> str:
    declared = environ.get("HTTP_X_AMZ_CONTENT_SHA256")
    if service == "s3":
        if presigned:
            return declared or "UNSIGNED-PAYLOAD"
        if not declared:
            raise Refused("InvalidRequest", "Missing required header for this request: x-amz-content-sha256")
        if re.fullmatch(r"[0-9a-f]{64}", declared) and declared != hashlib.sha256(body).hexdigest():
            raise Refused("XAmzContentSHA256Mismatch", "The provided 'x-amz-content-sha256' header does not match what was computed.")
        return declared
    return declared or hashlib.sha256(body).hexdigest()


def _raw_path(environ) -> str:
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if raw:
        if "://" in raw:  # an absolute URI in the request line
            raw = "/" + raw.split("://", 1)[1].split("/", 1)[-1] if "/" in raw.split("://", 1)[1] else "/"
        return raw.split("?", 1)[0] or "/"
    return quote(environ.get("PATH_INFO", "/") or "/", safe="/~")


def _canonical_uri(environ, service: str) -> str:
    path = _raw_path(environ)
    if service == "s3":
        # S3 signs the path as sent: each segment URI-encoded once by the client, never normalized.
        return path
    # Every other service: the normalized path, each segment encoded twice (the client's encoding, encoded again).
    segments: list[str] = []
    for segment in path.split("/"):
        if segment == "..":
            if segments:
                segments.pop()
        elif segment not in ("", "."):
            segments.append(segment)
    normalized = "/" + "/".join(segments) + ("/" if path.endswith("/") and segments else "")
    return quote(normalized, safe="/~")


def _canonical_query(query: list[tuple[str, str]], presigned: bool) -> str:
    pairs = [(quote(k, safe="-_.~"), quote(v, safe="-_.~")) for k, v in query if not (presigned and k == "X-Amz-Signature")]
    return "&".join(f"{k}={v}" for k, v in sorted(pairs))


def _header(environ, name: str) -> str:
    if name == "host":
        value = environ.get("HTTP_HOST", "")
    elif name == "content-type":
        value = environ.get("CONTENT_TYPE", "")
    elif name == "content-length":
        value = environ.get("CONTENT_LENGTH", "")
    else:
        value = environ.get("HTTP_" + name.upper().replace("-", "_"), "")
    return " ".join(value.split())


def parse_query(raw: str) -> list[tuple[str, str]]:
    """The query string's pairs, decoded once ('+' stays '+': AWS clients encode a space as %20)."""
    pairs = []
    for item in raw.split("&"):
        if not item:
            continue
        k, _, v = item.partition("=")
        pairs.append((unquote(k), unquote(v)))
    return pairs
