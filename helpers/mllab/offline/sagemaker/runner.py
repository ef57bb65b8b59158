"""The child process of an offline SageMaker job: the container, without the container.

Introduced in lab 03. The parent (:mod:`mllab.offline.sagemaker.jobproc`) prepares a job
folder holding ``job.json`` and the ``/opt/ml`` stand-in ``ml/``, then starts::

    python <this file> <job folder>

This module is started by path, not with ``-m``, and imports nothing of mllab but the
container contract (the ``mllab`` packages are stubbed so that their ``__init__`` files,
which import boto3, do not run): the child starts in ~0.1 s.

What the child does, by ``job.json``'s ``mode``:

* ``algorithm``: imports the built-in algorithm's emulation module and calls
  ``train(TrainingEnv.from_root(root))``.
* ``script``: runs the learner's entry script in this process (``runpy``), with
  ``sys.argv = [script, --name, value, ...]`` as the framework containers pass
  hyperparameters, after checking that a ``requirements.txt`` names only installed packages.
* ``command``: runs a shell command (SDK v3 ``SourceCode(command=...)``) in the code folder.

In every mode:

* the instance's memory becomes ``RLIMIT_AS`` and its vCPUs the CPU affinity (the thread
  counts ``OMP_NUM_THREADS`` etc. are set by the parent);
* **paths under /opt/ml are mapped to the job's root**: the ``SM_*`` variables already hold
  the real folders, and a small shim in front of ``open``/``os``/``pathlib`` rewrites any
  path starting with ``/opt/ml/`` to the root, so scripts that hard-code
  ``/opt/ml/model`` or ``/opt/ml/processing/input`` work unchanged (paths handed to other
  programs, e.g. via ``subprocess``, are not rewritten);
* failures are written to ``ml/output/failure`` in AWS's words (``ClientError: ...``,
  ``AlgorithmError: ...``), which the parent turns into ``FailureReason``.
"""

from __future__ import annotations

import json
import os
import sys
import types
from pathlib import Path
from typing import Any

OOM_REASON = (
    "OutOfMemoryError: Please use an instance type with more memory, or reduce the size of "
    "job data processed on an instance."
)

_OPT_ML = "/opt/ml"


def _stub_packages() -> None:
    """Make ``mllab.offline.sagemaker.*`` importable without running the packages' ``__init__``."""
    here = Path(__file__).resolve().parent  # .../mllab/offline/sagemaker
    pkgs = [
        ("mllab", here.parent.parent),
        ("mllab.offline", here.parent),
        ("mllab.offline.sagemaker", here),
    ]
    for name, path in pkgs:
        if name not in sys.modules:
            mod = types.ModuleType(name)
            mod.__path__ = [str(path)]
            mod.__file__ = str(path / "__init__.py")
            sys.modules[name] = mod
    top = str(here.parent.parent.parent)
    if top not in sys.path:
        sys.path.insert(0, top)


def _limit(spec: dict[str, Any]) -> None:
    """Apply the instance type's memory and vCPUs as OS limits (Linux; best effort elsewhere)."""
    mem = spec.get("memory_bytes")
    if mem:
        try:
            import resource

            resource.setrlimit(resource.RLIMIT_AS, (int(mem), int(mem)))
        except (ImportError, ValueError, OSError):
            pass
    cpus = int(spec.get("cpus") or 0)
    if cpus and hasattr(os, "sched_setaffinity"):
        try:
            avail = sorted(os.sched_getaffinity(0))
            if cpus < len(avail):
                os.sched_setaffinity(0, avail[:cpus])
        except OSError:
            pass


def _map_path(root: str, p: Any) -> Any:
    if isinstance(p, os.PathLike):
        s = os.fspath(p)
        if isinstance(s, str) and (s == _OPT_ML or s.startswith(_OPT_ML + "/")):
            return root + s[len(_OPT_ML) :]
        return p
    if isinstance(p, str) and (p == _OPT_ML or p.startswith(_OPT_ML + "/")):
        return root + p[len(_OPT_ML) :]
    return p


def install_path_shim(root: str) -> None:
    """Rewrite ``/opt/ml/...`` paths to ``root/...`` in ``open`` and the ``os`` file functions.

    Args:
        root: the job's stand-in for ``/opt/ml``.
    """
    import builtins
    import io

    def one(fn: Any) -> Any:
        def wrapped(path: Any, *a: Any, **k: Any) -> Any:
            return fn(_map_path(root, path), *a, **k)

        wrapped.__wrapped__ = fn  # type: ignore[attr-defined]
        return wrapped

    def two(fn: Any) -> Any:
        def wrapped(src: Any, dst: Any, *a: Any, **k: Any) -> Any:
            return fn(_map_path(root, src), _map_path(root, dst), *a, **k)

        wrapped.__wrapped__ = fn  # type: ignore[attr-defined]
        return wrapped

    builtins.open = one(builtins.open)
    io.open = builtins.open
    for name in ("stat", "lstat", "open", "listdir", "scandir", "mkdir", "makedirs", "remove", "unlink",
                 "rmdir", "access", "chdir", "chmod", "utime", "truncate", "readlink"):  # fmt: skip
        if hasattr(os, name):
            setattr(os, name, one(getattr(os, name)))
    for name in ("rename", "replace", "link", "symlink"):
        if hasattr(os, name):
            setattr(os, name, two(getattr(os, name)))
    # os.path.exists & co. call os.stat at run time, so they follow; glob uses os.scandir.


def _fail(root: Path, reason: str) -> None:
    path = root / "output" / "failure"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(reason[:4096])


def _is_oom(err: BaseException) -> bool:
    text = f"{type(err).__name__}: {err}"
    return isinstance(err, MemoryError) or "bad_alloc" in text or "Cannot allocate memory" in text


def check_requirements(req_file: Path) -> list[str]:
    """Return the packages a requirements file names that are not installed here.

    Offline nothing is downloaded, so a package that is missing fails the job with
    ``InstallRequirementsError`` (on AWS the container would pip-install it).
    """
    import re
    from importlib import metadata

    missing = []
    for raw in req_file.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        m = re.match(r"^([A-Za-z0-9][A-Za-z0-9._\-]*)", line)
        if not m:
            continue
        name = m.group(1)
        try:
            metadata.version(name)
        except metadata.PackageNotFoundError:
            missing.append(name)
    return missing


def _run_algorithm(spec: dict[str, Any], root: Path) -> int:
    import importlib
    import importlib.util

    from mllab.offline.sagemaker.contract import AlgorithmError, ClientError, TrainingEnv

    info = spec["algorithm"]
    try:
        module = importlib.import_module(info["module"])
    except ImportError:
        loc = importlib.util.spec_from_file_location(info["module"], info["file"])
        assert loc is not None and loc.loader is not None
        module = importlib.util.module_from_spec(loc)
        sys.modules[info["module"]] = module
        loc.loader.exec_module(module)
    env = TrainingEnv.from_root(root)
    try:
        module.train(env)
    except ClientError as err:
        print(f"ClientError: {err}", flush=True)
        _fail(root, f"ClientError: {err}")
        return 2
    except AlgorithmError as err:
        print(f"AlgorithmError: {err}", flush=True)
        _fail(root, f"AlgorithmError: {err}")
        return 1
    return 0


def _run_script(spec: dict[str, Any], root: Path) -> int:
    import runpy
    import traceback

    info = spec["script"]
    cwd = Path(info["cwd"])
    program = info["program"]
    args = [str(a) for a in info.get("args", [])]
    req = info.get("requirements")
    if req and Path(cwd, req).is_file():
        print(f"Installing requirements from {req} (offline: nothing is downloaded)", flush=True)
        missing = check_requirements(Path(cwd, req))
        if missing:
            msg = (
                "AlgorithmError: InstallRequirementsError:\n"
                f"{req} names packages that are not installed offline: {', '.join(missing)}. "
                "Offline jobs download nothing: install them into the lab environment "
                f"(pip install {' '.join(missing)}) or remove them from {req}."
            )
            print(msg, flush=True)
            _fail(root, msg)
            return 1
    os.chdir(cwd)
    sys.path.insert(0, str(cwd))
    script = str(cwd / program) if not os.path.isabs(program) else program
    command = f"{sys.executable} {program} {' '.join(args)}".strip()
    print(f"Invoking script with the following command:\n\n{command}\n", flush=True)
    sys.argv = [script, *args]
    try:
        runpy.run_path(script, run_name="__main__")
    except SystemExit as ex:
        code = ex.code if isinstance(ex.code, int) else (0 if ex.code is None else 1)
        if code == 0:
            return 0
        msg = f'AlgorithmError: ExecuteUserScriptError:\nExitCode {code}\nCommand "{command}", exit code: {code}'
        _fail(root, msg)
        return code
    except BaseException as err:  # noqa: BLE001 - the learner's script failed: report it as AWS does
        traceback.print_exc()
        sys.stderr.flush()
        if _is_oom(err):
            _fail(root, OOM_REASON)
            return 137
        last = f"{type(err).__name__}: {err}".strip()
        msg = (
            "AlgorithmError: ExecuteUserScriptError:\nExitCode 1\n"
            f'ErrorMessage "{last}"\nCommand "{command}", exit code: 1'
        )
        _fail(root, msg)
        return 1
    return 0


def _run_command(spec: dict[str, Any], root: Path) -> int:
    import subprocess

    info = spec["command"]
    env = dict(os.environ)
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    print(f"Executing command: {info['shell']}", flush=True)
    proc = subprocess.run(info["shell"], shell=True, cwd=info["cwd"], env=env, check=False)  # noqa: S602
    if proc.returncode != 0:
        _fail(
            root,
            "AlgorithmError: ExecuteUserScriptError:\n"
            f'ExitCode {proc.returncode}\nCommand "{info["shell"]}", exit code: {proc.returncode}',
        )
    return proc.returncode


def main(argv: list[str]) -> int:
    """Run the job described by ``<argv[1]>/job.json``; return the process exit code."""
    jobdir = Path(argv[1])
    spec = json.loads((jobdir / "job.json").read_text())
    root = Path(spec["root"])
    if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
        sys.path.pop(0)  # started by path: do not shadow top-level modules with ours
    _stub_packages()
    install_path_shim(str(root))
    _limit(spec)
    try:
        mode = spec["mode"]
        if mode == "algorithm":
            return _run_algorithm(spec, root)
        if mode == "script":
            return _run_script(spec, root)
        if mode == "command":
            return _run_command(spec, root)
        _fail(root, f"ClientError: unknown offline job mode {mode!r}")
        return 2
    except BaseException as err:  # noqa: BLE001 - anything else is the algorithm's failure
        import traceback

        traceback.print_exc()
        if _is_oom(err):
            _fail(root, OOM_REASON)
            return 137
        _fail(root, f"AlgorithmError: {type(err).__name__}: {err}")
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
