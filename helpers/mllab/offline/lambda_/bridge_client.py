"""The child side of the call bridge (see :mod:`mllab.offline.lambda_.bridge`; lab 06).

Started or loaded by path in a child process (a Lambda function's execution environment, an
AgentCore agent): it imports only the standard library, so a child that never calls AWS
never pays for botocore. :func:`install` arranges that, as soon as the child imports
``botocore.handlers``, two handlers join botocore's built-in ones: every request's
parameters are stashed, then sent to the lab over the bridge instead of over HTTP.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import io
import os
import sys
import threading
from typing import Any

_conn: Any = None
_lock = threading.Lock()


def _connection() -> Any:
    global _conn
    if _conn is None:
        from multiprocessing.connection import Client

        _conn = Client(
            (os.environ["MLLAB_BRIDGE_HOST"], int(os.environ["MLLAB_BRIDGE_PORT"])),
            authkey=bytes.fromhex(os.environ["MLLAB_BRIDGE_KEY"]),
        )
    return _conn


def _plain(v: Any) -> Any:
    if hasattr(v, "read") and not isinstance(v, bytes | bytearray | str):
        try:
            pos = v.tell()
        except Exception:  # noqa: BLE001 - not seekable
            pos = None
        data = v.read()
        if pos is not None:
            try:
                v.seek(pos)
            except Exception:  # noqa: BLE001
                pass
        return data.encode() if isinstance(data, str) else data
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_plain(x) for x in v]
    return v


def _stash(params: Any, context: Any, **_: Any) -> None:
    if context is not None:
        context["mllab_bridge_params"] = _plain(dict(params))


class _Http:
    def __init__(self, status: int) -> None:
        self.status_code = status
        self.headers: dict[str, str] = {}
        self.content = b""
        self.raw = None


class _Events(list):  # type: ignore[type-arg]
    """The events of a streamed answer, iterated as botocore's EventStream is."""

    def close(self) -> None:
        """Nothing to release: the events already crossed the bridge."""


class BridgeCallError(RuntimeError):
    """The lab refused or failed a forwarded call (e.g. the cost guard's CostGuardError)."""


def _revive(v: Any) -> Any:
    from botocore.response import StreamingBody

    if isinstance(v, dict) and "__mllab_stream__" in v:
        data = v["__mllab_stream__"]
        return StreamingBody(io.BytesIO(data), len(data))
    if isinstance(v, dict) and "__mllab_events__" in v:
        return _Events(_revive(e) for e in v["__mllab_events__"])
    if isinstance(v, dict):
        return {k: _revive(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_revive(x) for x in v]
    return v


def _forward(model: Any, context: Any, **_: Any) -> Any:
    params = (context or {}).get("mllab_bridge_params", {})
    msg = (
        model.service_model.service_name,
        model.name,
        params,
        (context or {}).get("client_region"),
    )
    with _lock:
        conn = _connection()
        conn.send(msg)
        kind, payload = conn.recv()
    if kind == "exc":
        name, text = payload
        raise BridgeCallError(f"{name}: {text}")
    status, parsed = payload
    return _Http(status), _revive(parsed)


def _add_handlers(builtin: list[Any]) -> None:
    builtin.insert(0, ("before-parameter-build", _stash))
    builtin.append(("before-call", _forward))


class AfterImport(importlib.abc.MetaPathFinder):
    """Runs ``hook(module)`` right after the module ``name`` is first imported (then retires).

    Used here to add the bridge's handlers once ``botocore.handlers`` loads, and by
    :mod:`mllab.offline.agentcore.agent_boot` to patch ``BedrockAgentCoreApp.run``: a child
    process pays for neither import unless its own code makes it.
    """

    def __init__(self, name: str, hook: Any) -> None:
        self.name = name
        self.hook = hook

    def find_spec(self, name: str, path: Any, target: Any = None) -> Any:
        if name != self.name:
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        if spec is None or spec.loader is None:
            return spec
        loader = spec.loader
        original = loader.exec_module  # type: ignore[attr-defined]
        hook = self.hook

        def exec_module(module: Any) -> None:
            original(module)
            hook(module)

        loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


def install() -> None:
    """Route this process's botocore calls to the lab's bridge (once; lazily)."""
    if "botocore.handlers" in sys.modules:
        _add_handlers(sys.modules["botocore.handlers"].BUILTIN_HANDLERS)
        return
    if not any(isinstance(f, AfterImport) and f.name == "botocore.handlers" for f in sys.meta_path):
        sys.meta_path.insert(
            0, AfterImport("botocore.handlers", lambda m: _add_handlers(m.BUILTIN_HANDLERS))
        )
