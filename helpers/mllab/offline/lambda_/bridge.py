"""The call bridge: a child process's boto3 calls answered by the lab (lab 06).

Introduced in lab 06 for Lambda functions and AgentCore agents; it is the mechanism
:mod:`mllab.offline.glue` uses for Python shell jobs, generalised: several child processes
(and several threads in one child) share one bridge, and streamed answers cross it.

How it works. The lab process opens a :class:`Bridge`: a local authenticated socket
(``multiprocessing.connection``, ``127.0.0.1``, a free port, a random key). The child is
started with :meth:`Bridge.child_env` in its environment and runs
:func:`mllab.offline.lambda_.bridge_client.install` (by path, stdlib only) before the user's
code. That installs two botocore handlers in the child as soon as botocore is imported: one
stashes each request's parameters, the other sends ``(service, operation, params, region)``
over the socket instead of sending HTTP. The lab answers on its own session -- so the call
passes the cost guard (refused calls reach the child as an error naming the guard) and the
offline data plane (a Converse call is answered by the stand-in model, an S3 read by moto) --
and sends back the parsed answer or the AWS error, which botocore in the child raises as the
usual ``ClientError``. Streaming bodies cross as bytes; event streams (``ConverseStream``) as
the list of their events, which the child iterates as it would the stream. No request leaves
the machine: the child's endpoint is an unroutable local address and its keys are fake.

Costs nothing itself; the calls it forwards are priced by the guard as if the lab made them.
"""

from __future__ import annotations

import os
import secrets
import sys
import threading
from pathlib import Path
from typing import Any

CLIENT = Path(__file__).resolve().parent / "bridge_client.py"


def _plain(value: Any) -> Any:
    """Make a botocore answer picklable: bodies to bytes, event streams to lists of events."""
    from botocore.eventstream import EventStream
    from botocore.response import StreamingBody

    if isinstance(value, StreamingBody):
        return {"__mllab_stream__": value.read()}
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, EventStream) or (
        hasattr(value, "__iter__")
        and hasattr(value, "__next__")
        and not isinstance(value, str | bytes | bytearray)
    ):
        return {"__mllab_events__": [_plain(e) for e in value]}
    return value


class Bridge:
    """Answer AWS calls of child processes on a boto3 session (see the module docstring).

    Args:
        session: the session that makes the calls; None uses the active lab's session
            (or a plain boto3 session when no lab is open).
        region: the region children's clients default to.

    Costs nothing; every forwarded call is priced by the guard like a call of the lab's.
    """

    def __init__(self, session: Any = None, region: str = "us-east-1") -> None:
        from multiprocessing.connection import Listener

        self.session = session
        self.region = region
        self._key = secrets.token_bytes(16)
        self._listener = Listener(("127.0.0.1", 0), authkey=self._key)
        self._closed = threading.Event()
        self._clients: dict[tuple[str, str | None], Any] = {}
        self._clients_lock = threading.Lock()
        self.calls: list[tuple[str, str]] = []
        threading.Thread(target=self._accept, daemon=True, name="mllab-bridge").start()

    @property
    def port(self) -> int:
        """The local port children connect to."""
        return int(self._listener.address[1])

    def child_env(self) -> dict[str, str]:
        """Environment variables a child needs to reach this bridge (fake keys, no endpoint)."""
        return {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
            "MLLAB_BRIDGE_HOST": "127.0.0.1",
            "MLLAB_BRIDGE_PORT": str(self.port),
            "MLLAB_BRIDGE_KEY": self._key.hex(),
            "MLLAB_BRIDGE_CLIENT": str(CLIENT),
        }

    def close(self) -> None:
        """Stop accepting and answering (children still connected get EOF)."""
        self._closed.set()
        try:
            self._listener.close()
        except OSError:
            pass

    # ------------------------------------------------------------------ serving
    def _session(self) -> Any:
        if self.session is not None:
            return self.session
        from mllab import hooks

        lab = hooks.active()
        if lab is not None:
            return lab.session
        import boto3

        return boto3.Session(region_name=self.region)

    def _client(self, service: str, region: str | None) -> Any:
        key = (service, region)
        with self._clients_lock:
            if key not in self._clients:
                self._clients[key] = self._session().client(
                    service, region_name=region or self.region
                )
            return self._clients[key]

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                conn = self._listener.accept()
            except Exception:  # noqa: BLE001 - listener closed, or a client failed auth
                if self._closed.is_set():
                    return
                continue
            threading.Thread(
                target=self._serve, args=(conn,), daemon=True, name="mllab-bridge-conn"
            ).start()

    def answer(self, service: str, op: str, params: dict[str, Any], region: str | None) -> Any:
        """Make one call on the session; return the reply the child expects."""
        from botocore.exceptions import ClientError

        self.calls.append((service, op))
        try:
            parsed = self._client(service, region)._make_api_call(op, params)
            return ("ok", (200, _plain(dict(parsed))))
        except ClientError as err:
            status = int(err.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 400)
            return (
                "ok",
                (
                    status,
                    {
                        "Error": err.response.get("Error", {}),
                        "ResponseMetadata": {"HTTPStatusCode": status},
                    },
                ),
            )
        except Exception as err:  # noqa: BLE001 - e.g. CostGuardError: the child sees it
            return ("exc", (type(err).__name__, str(err)))

    def _serve(self, conn: Any) -> None:
        with conn:
            while not self._closed.is_set():
                try:
                    if not conn.poll(0.2):
                        continue
                    msg = conn.recv()
                except (EOFError, OSError):
                    return
                service, op, params, region = msg
                reply = self.answer(service, op, params, region)
                try:
                    conn.send(reply)
                except (OSError, ValueError):
                    return


def client_bootstrap_path() -> str:
    """The path of the child-side module (started by path, imports only the stdlib)."""
    return str(CLIENT)


def python() -> str:
    """The interpreter children run on (this one: its site-packages are the lab's)."""
    return sys.executable
