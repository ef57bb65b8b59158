"""One offline Lambda execution environment: the Python runtime, without the container (lab 06).

Started by path (stdlib only at start, like :mod:`mllab.offline.sagemaker.runner`) by
:mod:`mllab.offline.lambda_.environment`::

    python worker.py

with the function's code extracted in its working folder (``LAMBDA_TASK_ROOT``), the
function's environment variables and the runtime's reserved ones (``AWS_LAMBDA_FUNCTION_NAME``,
``AWS_LAMBDA_FUNCTION_MEMORY_SIZE``, ``_HANDLER``, ...), and a control socket (fd
``MLLAB_LAMBDA_FD``). As the Python runtime does, it

1. **initialises once** (the *init phase*, "cold start"): routes boto3 to the lab's bridge,
   imports the handler's module and finds the handler, reporting ``Runtime.ImportModuleError``
   / ``Runtime.HandlerNotFound`` / the module's own exception in the runtime's words;
2. then **serves invocations one at a time** (a warm environment keeps module state between
   them): it builds the ``context`` object, calls ``handler(event, context)``, serialises the
   answer as JSON (``Runtime.MarshalError`` when it cannot) or reports the exception as the
   runtime does (``errorMessage``, ``errorType``, ``stackTrace``, and an ``[ERROR]`` log line).

After each phase it writes a marker line to its output, so the parent knows which log lines
belong to which invocation. Timeout and memory are enforced by the parent, which kills this
process (as Lambda resets the environment).
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
import traceback
from typing import Any

MARKER = "\x1emllab-lambda-phase-end"


class ClientContext:
    """``context.client_context``: the ``custom``, ``env`` and ``client`` parts, as attributes."""

    def __init__(self, doc: dict[str, Any]) -> None:
        self.custom = doc.get("custom")
        self.env = doc.get("env")
        self.client = doc.get("client")

    @classmethod
    def of(cls, doc: Any) -> ClientContext | None:
        """None when the caller sent no client context, as in the runtime."""
        return cls(doc) if isinstance(doc, dict) else None


class LambdaContext:
    """The ``context`` argument, with the attributes and method of the Python runtime's.

    ``memory_limit_in_mb`` is a string, as in the runtime (it comes from an environment
    variable there too).
    """

    def __init__(self, request: dict[str, Any]) -> None:
        self.aws_request_id: str = request["request_id"]
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.invoked_function_arn: str = request["invoked_function_arn"]
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME", "")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME", "")
        self.identity = None
        self.client_context = ClientContext.of(request.get("client_context"))
        self._deadline_ms = float(request["deadline_ms"])
        self._offset_s = float(request.get("clock_offset_s", 0.0))

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds left before the function times out (lab time)."""
        now_ms = (time.time() + self._offset_s) * 1000.0
        return max(0, int(self._deadline_ms - now_ms))

    def __repr__(self) -> str:
        return (
            f"LambdaContext([aws_request_id={self.aws_request_id},log_group_name="
            f"{self.log_group_name},log_stream_name={self.log_stream_name},function_name="
            f"{self.function_name},memory_limit_in_mb={self.memory_limit_in_mb},function_version="
            f"{self.function_version},invoked_function_arn={self.invoked_function_arn}])"
        )


_request_id = {"id": ""}


class _LambdaFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        ms = int(record.msecs)
        return f"[{record.levelname}]\t{ts}.{ms:03d}Z\t{_request_id['id']}\t{record.getMessage()}"


def _setup_logging() -> None:
    """The runtime's root handler: ``[LEVEL]\\ttimestamp\\trequest id\\tmessage``."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(_LambdaFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]


def _end_phase() -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    os.write(1, (MARKER + "\n").encode())


def _stack(tb: Any, skip: int = 1) -> list[str]:
    frames = traceback.extract_tb(tb)[skip:]
    return [
        f'  File "{f.filename}", line {f.lineno}, in {f.name}\n    {(f.line or "").strip()}\n'
        for f in frames
    ]


def _error(err: BaseException, skip: int = 1, error_type: str | None = None) -> dict[str, Any]:
    return {
        "errorMessage": str(err),
        "errorType": error_type or type(err).__name__,
        "requestId": _request_id["id"],
        "stackTrace": _stack(err.__traceback__, skip),
    }


def _error_log(info: dict[str, Any]) -> str:
    """The runtime's one-event log record of an error: ``[ERROR] Type: message`` + traceback."""
    head = f"[ERROR] {info['errorType']}: {info['errorMessage']}"
    if info.get("stackTrace"):
        head += "\nTraceback (most recent call last):\n" + "".join(info["stackTrace"])
    return head.rstrip("\n")


def _load_handler() -> Any:
    spec = os.environ.get("_HANDLER", "")
    module_name, _, func = spec.rpartition(".")
    if not module_name or not func:
        raise _InitError(
            "Runtime.MalformedHandlerName",
            f"Bad handler '{spec}': not enough values to unpack (expected 2, got 1)",
        )
    import importlib

    try:
        module = importlib.import_module(module_name.replace("/", "."))
    except ModuleNotFoundError as err:
        if err.name and module_name.replace("/", ".").startswith(err.name):
            raise _InitError(
                "Runtime.ImportModuleError",
                f"Unable to import module '{module_name}': No module named '{err.name}'",
            ) from None
        raise _InitError(
            "Runtime.ImportModuleError", f"Unable to import module '{module_name}': {err}"
        ) from None
    except SyntaxError as err:
        raise _InitError(
            "Runtime.UserCodeSyntaxError",
            f"Syntax error in module '{module_name}': {err}",
        ) from None
    handler = getattr(module, func, None)
    if handler is None:
        raise _InitError(
            "Runtime.HandlerNotFound", f"Handler '{func}' missing on module '{module_name}'"
        )
    return handler


class _InitError(Exception):
    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type


def _max_memory_mb() -> int:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) // 1024
    except OSError:
        pass
    import resource

    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) // 1024


def main() -> int:
    """Initialise, then serve invocations until the parent closes the control socket."""
    from multiprocessing.connection import Connection

    here = os.path.dirname(os.path.abspath(__file__))
    if sys.path and os.path.abspath(sys.path[0]) == here:
        sys.path.pop(0)  # started by path: our folder must not shadow the function's modules
    conn = Connection(int(os.environ.pop("MLLAB_LAMBDA_FD")))
    client_path = os.environ.get("MLLAB_BRIDGE_CLIENT")
    if client_path:
        import importlib.util

        spec = importlib.util.spec_from_file_location("mllab_bridge_client", client_path)
        assert spec is not None and spec.loader is not None
        bridge = importlib.util.module_from_spec(spec)
        sys.modules["mllab_bridge_client"] = bridge
        spec.loader.exec_module(bridge)
        bridge.install()
    task_root = os.environ.get("LAMBDA_TASK_ROOT", os.getcwd())
    sys.path.insert(0, task_root)
    _setup_logging()
    t0 = time.perf_counter()
    try:
        handler = _load_handler()
        init: dict[str, Any] = {"ok": True}
    except _InitError as err:
        init = {
            "ok": False,
            "error": {
                "errorMessage": str(err),
                "errorType": err.error_type,
                "requestId": "",
                "stackTrace": [],
            },
        }
    except Exception as err:  # noqa: BLE001 - the module's own exception at import
        init = {"ok": False, "error": _error(err, skip=0)}
    init["init_ms"] = (time.perf_counter() - t0) * 1000.0
    init["max_memory_mb"] = _max_memory_mb()
    if not init["ok"]:
        init["log"] = _error_log(init["error"])
    _end_phase()
    conn.send(("init", init))
    if not init["ok"]:
        return 1
    while True:
        try:
            kind, request = conn.recv()
        except (EOFError, OSError):
            return 0
        if kind != "invoke":
            continue
        _request_id["id"] = request["request_id"]
        reply: dict[str, Any]
        try:
            event = json.loads(request["payload"] or b"null")
            result = handler(event, LambdaContext(request))
            try:
                reply = {"ok": True, "payload": json.dumps(result).encode()}
            except (TypeError, ValueError) as err:
                info = {
                    "errorMessage": f"Unable to marshal response: {err}",
                    "errorType": "Runtime.MarshalError",
                    "requestId": request["request_id"],
                    "stackTrace": [],
                }
                reply = {"ok": False, "error": info, "log": _error_log(info)}
        except Exception as err:  # noqa: BLE001 - the function's exception, as Lambda reports it
            info = _error(err)
            reply = {"ok": False, "error": info, "log": _error_log(info)}
        except SystemExit as stop:
            info = {
                "errorMessage": f"RequestId: {request['request_id']} Error: Runtime exited "
                f"with error: exit status {stop.code if isinstance(stop.code, int) else 1}",
                "errorType": "Runtime.ExitError",
            }
            reply = {"ok": False, "error": info, "log": info["errorMessage"], "exit": True}
        reply["max_memory_mb"] = _max_memory_mb()
        _end_phase()
        conn.send(("result", reply))
        if reply.get("exit"):
            return 1


if __name__ == "__main__":
    sys.exit(main())
