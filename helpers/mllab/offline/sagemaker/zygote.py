"""A pre-warmed parent for offline job processes: fork instead of start (introduced in lab 03).

Starting ``runner.py`` as a new interpreter costs the import of numpy, pandas, scipy,
scikit-learn and xgboost for every training or processing job: seconds each, most of an
offline job's time. This server imports them once and then *forks* one child per job; the
child is the same fresh process a new interpreter would be (own session, environment,
working folder, output file, OS limits applied by the runner), minus the import time.

Started by path (like the runner, so no ``mllab`` ``__init__`` runs)::

    python zygote.py

Protocol, one JSON object per line:

* in (stdin): ``{"jobdir": ..., "env": {...}, "cwd": ..., "log": <file>}`` — fork a child
  running ``runner.main([runner, jobdir])`` with that environment, its stdout and stderr
  appended to ``log``;
* out (stdout): ``{"started": pid}`` after each fork, ``{"exit": pid, "code": n}`` when a
  child ends (``n`` negative for a signal, as ``subprocess`` reports it), and
  ``{"ready": true}`` once the imports are done.

The server exits when its stdin closes (its parent is gone), killing its children. Only the
third-party libraries are preloaded: mllab's own modules are imported by each child from
disk, so an edited algorithm module is picked up by the next job.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import selectors
import signal
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RUNNER = HERE / "runner.py"

#: Imported once in the server; each is optional.
PRELOAD = (
    "numpy",
    "pandas",
    "scipy.sparse",
    "scipy.stats",
    "sklearn.linear_model",
    "sklearn.cluster",
    "sklearn.decomposition",
    "sklearn.metrics",
    "sklearn.feature_extraction.text",
    "sklearn.neighbors",
    "xgboost",
    "pyarrow.parquet",
)


def _load_runner() -> Any:
    spec = importlib.util.spec_from_file_location("mllab_offline_runner", RUNNER)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _send(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def _child(runner: Any, req: dict[str, Any]) -> None:
    """In the forked child: become the job process, run the runner, never return."""
    code = 1
    try:
        os.setsid()
        fd = os.open(req["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        os.close(fd)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.close(null)
        sys.stdout = open(1, "w", buffering=1, encoding="utf-8", errors="replace", closefd=False)  # noqa: SIM115
        sys.stderr = open(2, "w", buffering=1, encoding="utf-8", errors="replace", closefd=False)  # noqa: SIM115
        os.environ.clear()
        os.environ.update(req["env"])
        os.chdir(req.get("cwd") or req["jobdir"])
        sys.argv = [str(RUNNER), req["jobdir"]]
        code = int(runner.main(sys.argv))
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
    except BaseException:  # noqa: BLE001 - report and end like a crashed interpreter
        import traceback

        traceback.print_exc()
        code = 1
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def serve() -> int:
    """Preload, then fork a child per request until stdin closes."""
    if sys.path and Path(sys.path[0]).resolve() == HERE:
        sys.path.pop(0)  # started by path: our modules must not shadow top-level ones
    for name in PRELOAD:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - a missing optional library is imported by the child
            pass
    runner = _load_runner()
    children: set[int] = set()
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    sel = selectors.DefaultSelector()
    sel.register(0, selectors.EVENT_READ, "stdin")
    sel.register(wake_r, selectors.EVENT_READ, "wake")
    pending = b""
    _send({"ready": True})

    def reap() -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            children.discard(pid)
            _send({"exit": pid, "code": os.waitstatus_to_exitcode(status)})

    try:
        while True:
            for key, _ in sel.select():
                if key.data == "wake":
                    os.read(wake_r, 4096)
                    reap()
                    continue
                chunk = os.read(0, 65536)
                if not chunk:
                    return 0
                pending += chunk
                while b"\n" in pending:
                    line, pending = pending.split(b"\n", 1)
                    if not line.strip():
                        continue
                    req = json.loads(line)
                    pid = os.fork()
                    if pid == 0:
                        signal.set_wakeup_fd(-1)
                        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                        _child(runner, req)
                    children.add(pid)
                    _send({"started": pid})
            reap()
    finally:
        for pid in list(children):
            try:
                os.killpg(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass


if __name__ == "__main__":
    sys.exit(serve())
