"""Offline AWS Lambda: ``Invoke`` runs the function's Python code for real (lab 06).

moto keeps the control plane (``CreateFunction``, versions, aliases, configuration, the
code's bytes) but needs Docker to invoke. Here ``Invoke`` is answered by running the
function in an execution environment (:mod:`mllab.offline.lambda_.environment`):

* ``InvocationType``: ``RequestResponse`` (200, the handler's JSON answer), ``Event``
  (202 at once; the function runs in the background, a function error is retried twice as
  Lambda's asynchronous invocation does -- at once offline, AWS waits about 1 and 2 minutes),
  ``DryRun`` (204, nothing runs).
* Errors as Lambda reports them: 200 with ``FunctionError: Unhandled`` and the payload
  ``{"errorMessage", "errorType", "requestId", "stackTrace"}``; timeouts
  (``Sandbox.Timedout``, "Task timed out after 3.00 seconds"), out-of-memory
  (``Runtime.OutOfMemory``), init failures (``Runtime.ImportModuleError``,
  ``Runtime.HandlerNotFound``); request errors (``InvalidRequestContentException`` for a
  payload that is not JSON, ``RequestTooLargeException`` past 6 MB).
* ``LogType: Tail``: ``LogResult`` is the last 4 KB of the invocation's log, base64.
* The function's own boto3 calls cross the call bridge (:mod:`mllab.offline.lambda_.bridge`)
  and are answered by the same offline account, through the cost guard.

What differs from AWS: Python runtimes only (the function runs on the lab's Python, whatever
``pythonX.Y`` it names), no layers, no container-image functions, no VPC; the function's
calls are made with the lab's identity, not its execution role.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import shutil
import tempfile
import threading
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mllab.offline import clock
from mllab.offline.registry import AwsError, OfflineCall, handles, on_reset

#: Largest synchronous request and response payload (bytes), as Lambda documents.
SYNC_PAYLOAD_LIMIT = 6 * 1024 * 1024
#: Largest asynchronous (Event) request payload (bytes).
ASYNC_PAYLOAD_LIMIT = 1024 * 1024
#: Bytes of log returned with ``LogType: Tail``.
TAIL_BYTES = 4096
#: Retries of a failed asynchronous invocation (Lambda's default MaximumRetryAttempts).
ASYNC_RETRIES = 2

_CODE_ROOT: Path | None = None
_CODE_LOCK = threading.Lock()
_BRIDGE: Any = None
_BRIDGE_LOCK = threading.Lock()


@dataclass
class Invocation:
    """The answer to one invocation, as ``Invoke`` returns it.

    Attributes:
        status: 200, 202 (Event) or 204 (DryRun).
        payload: the answer's bytes (the error document on a function error).
        function_error: ``"Unhandled"`` on a function error, else None.
        log_tail: base64 of the last 4 KB of the invocation's log.
        executed_version: the version that ran.
        request_id: the request id.
        log_lines: the invocation's log lines.
        billed_ms: billed duration.
        memory_mb: the function's memory size.
    """

    status: int
    payload: bytes
    function_error: str | None
    log_tail: str
    executed_version: str
    request_id: str
    log_lines: list[str]
    billed_ms: int = 0
    memory_mb: int = 128

    def json(self) -> Any:
        """The payload parsed as JSON (None when empty)."""
        return json.loads(self.payload) if self.payload else None


def zip_source(code: str, filename: str = "lambda_function.py") -> bytes:
    """Package inline source code as a deployment .zip (``Code={"ZipFile": ...}``; lab 06).

    Args:
        code: the Python source.
        filename: the file name inside the archive; the handler is ``<module>.<function>``
            with ``module`` this name without ``.py``.

    Returns:
        The .zip bytes. Costs nothing.
    """
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        info = zipfile.ZipInfo(filename)
        info.external_attr = 0o644 << 16
        zf.writestr(info, code)
    return buf.getvalue()


def _bridge(region: str) -> Any:
    global _BRIDGE
    from mllab.offline.lambda_.bridge import Bridge

    with _BRIDGE_LOCK:
        if _BRIDGE is None:
            _BRIDGE = Bridge(None, region)
        return _BRIDGE


def _code_dir(sha: str, code: bytes) -> str:
    """Extract a deployment package once per code hash; return the folder."""
    global _CODE_ROOT
    with _CODE_LOCK:
        if _CODE_ROOT is None:
            _CODE_ROOT = Path(tempfile.mkdtemp(prefix="mllab-lambda-"))
        target = _CODE_ROOT / hashlib.sha256(sha.encode()).hexdigest()[:16]
        if not target.is_dir():
            tmp = target.with_suffix(".part")
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir(parents=True)
            try:
                with zipfile.ZipFile(io.BytesIO(code)) as zf:
                    zf.extractall(tmp)
            except zipfile.BadZipFile:
                shutil.rmtree(tmp, ignore_errors=True)
                raise AwsError(
                    "InvalidParameterValueException",
                    "Could not unzip uploaded file. Please check your file, then try to upload "
                    "again.",
                ) from None
            tmp.rename(target)
        return str(target)


def _moto_function(account_id: str, region: str, name: str, qualifier: str | None) -> Any:
    from moto.awslambda.models import lambda_backends

    backend = lambda_backends[account_id][region]
    try:
        return backend.get_function(name, qualifier)
    except Exception:  # noqa: BLE001 - moto's UnknownFunctionException
        arn = (
            name
            if name.startswith("arn:")
            else (f"arn:aws:lambda:{region}:{account_id}:function:{name}")
        )
        if qualifier and not name.startswith("arn:"):
            arn += f":{qualifier}"
        raise AwsError("ResourceNotFoundException", f"Function not found: {arn}", 404) from None


def spec_of(account_id: str, region: str, name: str, qualifier: str | None = None) -> Any:
    """Return the :class:`~mllab.offline.lambda_.environment.FunctionSpec` of a function version.

    Args:
        account_id: the offline account.
        region: the region.
        name: a function name, ARN or partial ARN (``name:qualifier`` allowed).
        qualifier: a version or alias.

    Raises:
        AwsError: the function does not exist, or cannot run offline (not Python, an image).
    """
    from mllab.offline.lambda_.environment import FunctionSpec

    fn = _moto_function(account_id, region, name, qualifier)
    if getattr(fn, "package_type", "Zip") == "Image":
        raise AwsError(
            "InvalidParameterValueException",
            f"Function {fn.function_name} is a container image function; offline, only .zip "
            "functions on a Python runtime run (there is no container engine). Package the "
            "code as a .zip (Code={'ZipFile': ...}) or invoke it on a sandbox account.",
        )
    runtime = str(fn.run_time or "")
    if not runtime.startswith("python3"):
        raise AwsError(
            "InvalidRuntimeException",
            f"The runtime parameter of {runtime or 'None'} is not supported offline: only "
            "python3.x functions run on the offline backend (they run on the lab's Python). "
            "Use a Python runtime, or invoke it on a sandbox account.",
        )
    code = bytes(getattr(fn, "code_bytes", b"") or b"")
    if not code:
        raise AwsError(
            "InvalidParameterValueException",
            f"Function {fn.function_name} has no code package offline (upload the .zip with "
            "ZipFile, or S3Bucket/S3Key of an object that exists).",
        )
    sha = str(getattr(fn, "code_sha_256", "") or hashlib.sha256(code).hexdigest())
    group = f"/aws/lambda/{fn.function_name}"
    logging_config = getattr(fn, "logging_config", None)
    if isinstance(logging_config, dict) and logging_config.get("LogGroup"):
        group = str(logging_config["LogGroup"])
    return FunctionSpec(
        account_id=account_id,
        region=region,
        name=fn.function_name,
        arn=f"arn:aws:lambda:{region}:{account_id}:function:{fn.function_name}",
        version=str(fn.version),
        handler=str(fn.handler or ""),
        runtime=runtime,
        memory_mb=int(fn.memory_size or 128),
        timeout_s=int(fn.timeout or 3),
        variables=tuple(sorted((fn.environment_vars or {}).items())),
        code_sha=sha,
        code_dir=_code_dir(sha, code),
        log_group=group,
    )


def run(
    account_id: str,
    region: str,
    function: str,
    payload: bytes | str | dict[str, Any] | list[Any] | None = None,
    *,
    qualifier: str | None = None,
    client_context: dict[str, Any] | None = None,
    invoked_arn: str | None = None,
) -> Invocation:
    """Run a function synchronously, as ``Invoke`` with ``RequestResponse`` does (lab 06).

    For offline services that invoke functions on the learner's behalf (a Firehose
    transform, an AgentCore gateway's Lambda target). Not seen by the guard: the caller
    prices what it invokes.

    Args:
        account_id: the offline account.
        region: the region.
        function: the function name or ARN (qualified or not).
        payload: the event (JSON bytes/str, or an object to serialise).
        qualifier: a version or alias.
        client_context: ``context.client_context``.
        invoked_arn: the ARN the caller used (``context.invoked_function_arn``).

    Returns:
        The :class:`Invocation`.

    Raises:
        AwsError: the function does not exist or cannot run offline.
    """
    from mllab.offline.lambda_.environment import POOL

    if payload is None:
        body = b""
    elif isinstance(payload, bytes):
        body = payload
    elif isinstance(payload, str):
        body = payload.encode()
    else:
        body = json.dumps(payload).encode()
    spec = spec_of(account_id, region, function, qualifier)
    rid = str(uuid.uuid4())
    arn = invoked_arn or (spec.arn if spec.version == "$LATEST" else f"{spec.arn}:{spec.version}")
    env, cold = POOL.acquire(spec, _bridge(region).child_env())
    try:
        init_ms: float | None = None
        if cold:
            ok, init_ms, err, init_lines = env.init()
            env._write(init_lines)
            if not ok:
                env.kill()
                assert err is not None
                err.setdefault("requestId", rid)
                text = f"{err.get('errorType')}: {err.get('errorMessage')}"
                lines = [
                    f"START RequestId: {rid} Version: {spec.version}",
                    f"[ERROR] {text}" if not any(text in ln for ln in init_lines) else "",
                    f"END RequestId: {rid}",
                    f"REPORT RequestId: {rid}\tDuration: {init_ms:.2f} ms\tBilled Duration: "
                    f"{int(init_ms) + 1} ms\tMemory Size: {spec.memory_mb} MB\t"
                    f"Max Memory Used: 0 MB\tStatus: error\tError Type: {err.get('errorType')}",
                ]
                lines = [ln for ln in lines if ln]
                env._write(lines)
                return _invocation(
                    200,
                    json.dumps(err).encode(),
                    "Unhandled",
                    init_lines + lines,
                    spec,
                    rid,
                    int(init_ms) + 1,
                )
        request = {
            "request_id": rid,
            "payload": body,
            "invoked_function_arn": arn,
            "deadline_ms": (clock.now() + spec.timeout_s) * 1000.0,
            "clock_offset_s": clock.now() - __import__("time").time(),
            "client_context": client_context,
        }
        out = env.invoke(request, init_ms, cold)
        env._write(out.log_lines)
    finally:
        POOL.release(env)
    result = out.payload
    error = None if out.ok else "Unhandled"
    if out.ok and len(result) > SYNC_PAYLOAD_LIMIT:
        error = "Unhandled"
        result = json.dumps(
            {
                "errorMessage": f"Response payload size ({len(result)} bytes) exceeded maximum "
                f"allowed payload size ({SYNC_PAYLOAD_LIMIT} bytes).",
                "errorType": "Function.ResponseSizeTooLarge",
            }
        ).encode()
    return _invocation(200, result, error, out.log_lines, spec, rid, out.billed_ms)


def _invocation(
    status: int,
    payload: bytes,
    error: str | None,
    lines: list[str],
    spec: Any,
    rid: str,
    billed_ms: int,
) -> Invocation:
    text = ("\n".join(lines) + "\n").encode()
    tail = base64.b64encode(text[-TAIL_BYTES:]).decode()
    return Invocation(
        status=status,
        payload=payload,
        function_error=error,
        log_tail=tail,
        executed_version=spec.version,
        request_id=rid,
        log_lines=lines,
        billed_ms=billed_ms,
        memory_mb=spec.memory_mb,
    )


def _streaming(data: bytes) -> Any:
    from botocore.response import StreamingBody

    return StreamingBody(io.BytesIO(data), len(data))


def _payload_bytes(p: dict[str, Any]) -> bytes:
    raw = p.get("Payload")
    if raw is None:
        return b""
    if hasattr(raw, "read"):
        raw = raw.read()
    return raw.encode() if isinstance(raw, str) else bytes(raw)


@handles("lambda", "Invoke")
def invoke(call: OfflineCall) -> dict[str, Any]:
    """Run the function for real (Invoke; Lambda bills requests and GB-seconds)."""
    p = call.params
    name = str(p.get("FunctionName", ""))
    qualifier = p.get("Qualifier")
    kind = str(p.get("InvocationType") or "RequestResponse")
    body = _payload_bytes(p)
    limit = ASYNC_PAYLOAD_LIMIT if kind == "Event" else SYNC_PAYLOAD_LIMIT
    if len(body) > limit:
        raise AwsError(
            "RequestTooLargeException",
            f"Request must be smaller than {limit} bytes for the InvokeFunction operation",
            413,
        )
    if body:
        try:
            json.loads(body)
        except ValueError as err:
            raise AwsError(
                "InvalidRequestContentException",
                f"Could not parse request body into json: Could not parse payload into json: {err}",
            ) from None
    client_context = None
    if p.get("ClientContext"):
        try:
            client_context = json.loads(base64.b64decode(p["ClientContext"]))
        except ValueError:
            raise AwsError(
                "InvalidRequestContentException",
                "Client context must be a valid Base64-encoded JSON object.",
            ) from None
    spec = spec_of(call.account_id, call.region, name, qualifier)  # raises when it cannot run
    reserved = _reserved_concurrency(call.account_id, call.region, spec.name)
    if reserved is not None and _busy(spec.arn) >= reserved:
        raise AwsError(
            "TooManyRequestsException",
            "Rate Exceeded.",
            429,
        )
    meta = {"HTTPStatusCode": 200, "RequestId": str(uuid.uuid4())}
    if kind == "DryRun":
        meta["HTTPStatusCode"] = 204
        return {"StatusCode": 204, "Payload": _streaming(b""), "ResponseMetadata": meta}
    if kind == "Event":
        threading.Thread(
            target=_run_async,
            args=(call.account_id, call.region, name, body, qualifier, client_context),
            daemon=True,
            name=f"mllab-lambda-event-{spec.name}",
        ).start()
        meta["HTTPStatusCode"] = 202
        return {"StatusCode": 202, "Payload": _streaming(b""), "ResponseMetadata": meta}
    if kind != "RequestResponse":
        raise AwsError(
            "ValidationException",
            f"1 validation error detected: Value '{kind}' at 'invocationType' failed to satisfy "
            "constraint: Member must satisfy enum value set: [Event, RequestResponse, DryRun]",
        )
    out = run(
        call.account_id,
        call.region,
        name,
        body,
        qualifier=qualifier,
        client_context=client_context,
    )
    answer: dict[str, Any] = {
        "StatusCode": out.status,
        "ExecutedVersion": out.executed_version,
        "Payload": _streaming(out.payload),
        "ResponseMetadata": {"HTTPStatusCode": out.status, "RequestId": out.request_id},
    }
    if out.function_error:
        answer["FunctionError"] = out.function_error
    _remember_report(out)
    if p.get("LogType") == "Tail":
        answer["LogResult"] = out.log_tail
    return answer


#: The REPORT line of recent synchronous invocations by request id, for the cost guard to
#: settle Invoke's estimate to the billed duration (AWS writes it to CloudWatch Logs).
REPORTS: dict[str, str] = {}
_REPORTS_KEPT = 1000
_REPORTS_LOCK = threading.Lock()


def _remember_report(out: Invocation) -> None:
    line = next((ln for ln in reversed(out.log_lines) if ln.startswith("REPORT ")), None)
    if line is None:
        return
    with _REPORTS_LOCK:
        REPORTS[out.request_id] = line
        while len(REPORTS) > _REPORTS_KEPT:
            REPORTS.pop(next(iter(REPORTS)))


def _busy(arn: str) -> int:
    from mllab.offline.lambda_.environment import POOL

    return POOL.busy(arn)


def _reserved_concurrency(account_id: str, region: str, name: str) -> int | None:
    from moto.awslambda.models import lambda_backends

    try:
        fn = lambda_backends[account_id][region].get_function(name)
        value = getattr(fn, "reserved_concurrency", None)
        return None if value is None else int(value)
    except Exception:  # noqa: BLE001
        return None


#: Outcomes of asynchronous invocations, newest last (for tests and lab checks).
ASYNC_RESULTS: list[Invocation] = []


def _run_async(
    account_id: str,
    region: str,
    name: str,
    body: bytes,
    qualifier: str | None,
    client_context: dict[str, Any] | None,
) -> None:
    for _attempt in range(1 + ASYNC_RETRIES):
        try:
            out = run(
                account_id, region, name, body, qualifier=qualifier, client_context=client_context
            )
        except Exception:  # noqa: BLE001 - the account was reset under us
            return
        ASYNC_RESULTS.append(out)
        if out.function_error is None:
            return


def _after_code_change(call: OfflineCall) -> None:
    from mllab.offline.lambda_.environment import POOL

    name = str(call.params.get("FunctionName", ""))
    short = name.split(":function:")[-1].split(":")[0]
    POOL.drop(f"arn:aws:lambda:{call.region}:{call.account_id}:function:{short}")


@handles("lambda", "UpdateFunctionCode", "after")
def update_function_code(call: OfflineCall) -> None:
    """New code: warm environments of the old code are not reused."""
    _after_code_change(call)


@handles("lambda", "UpdateFunctionConfiguration", "after")
def update_function_configuration(call: OfflineCall) -> None:
    """New configuration: warm environments of the old one are not reused."""
    _after_code_change(call)


@handles("lambda", "DeleteFunction", "after")
def delete_function(call: OfflineCall) -> None:
    """A deleted function's environments are killed."""
    _after_code_change(call)


@on_reset
def _reset() -> None:
    global _BRIDGE, _CODE_ROOT
    from mllab.offline.lambda_.environment import POOL

    POOL.drop(None)
    ASYNC_RESULTS.clear()
    REPORTS.clear()
    with _BRIDGE_LOCK:
        if _BRIDGE is not None:
            _BRIDGE.close()
            _BRIDGE = None
    with _CODE_LOCK:
        if _CODE_ROOT is not None:
            shutil.rmtree(_CODE_ROOT, ignore_errors=True)
            _CODE_ROOT = None
