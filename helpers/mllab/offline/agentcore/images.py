"""Where an agent runtime's code comes from offline: a code artifact or a resolved image (lab 06).

* **Code artifact** (``codeConfiguration``): the S3 object ``code.s3.bucket`` /
  ``code.s3.prefix`` is the deployment .zip (AgentCore's direct code deployment), or, when
  the prefix names a folder, every object under it. ``entryPoint`` is the command AgentCore
  runs, e.g. ``["main.py"]`` or ``["opentelemetry-instrument", "main.py"]``.
* **Container image** (``containerConfiguration.containerUri``): there is no container engine
  offline, so an image is *resolved*, as the SageMaker training runner resolves a framework
  image to script mode: :func:`register` binds an image URI to the folder it is built from
  (its Docker build context); the Dockerfile's ``CMD``/``ENTRYPOINT`` (JSON form) gives the
  command, and the folder's files are the image's working directory. ``docker build`` and
  ``docker push`` are what makes the same URI work on AWS.

Either way the command is normalised to a Python invocation: ``opentelemetry-instrument``
and ``uv run`` prefixes are dropped (offline, spans are collected by the runtime itself),
``python -m pkg.mod`` runs a module, ``python app.py`` or ``app.py`` a file.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import shutil
import tempfile
import threading
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mllab.offline.registry import AwsError, on_reset

_IMAGES: dict[str, Path] = {}
_ROOT: Path | None = None
_LOCK = threading.Lock()


class EntryPointMissing(AwsError):
    """The code artifact exists but has no file the entry point names.

    AgentCore accepts such a runtime and then marks it ``CREATE_FAILED`` (``UPDATE_FAILED``
    for an update) with a ``failureReason``, rather than refusing the request (lab 06's drill).
    """


@dataclass(frozen=True)
class Resolved:
    """The code folder and the Python command of a runtime version.

    Attributes:
        code_dir: the working directory (the extracted code).
        module: the module to run with ``-m``, or None.
        script: the script to run, or None.
        args: the command's further arguments.
        runtime: ``PYTHON_3_12`` & co (code artifacts), or ``CONTAINER``.
    """

    code_dir: str
    module: str | None
    script: str | None
    args: tuple[str, ...]
    runtime: str


def register(container_uri: str, build_context: str | Path) -> None:
    """Bind an image URI to the folder it is built from (offline only; lab 06).

    Args:
        container_uri: the ECR URI the runtime names (``<acct>.dkr.ecr.<region>.amazonaws.com/
            <repo>:<tag>``).
        build_context: the folder with the Dockerfile and the agent's code.

    Returns:
        None. Costs nothing; on AWS, ``docker build`` + ``docker push`` the same folder.
    """
    path = Path(build_context)
    if not path.is_dir():
        raise ValueError(f"build context {path} is not a folder")
    with _LOCK:
        _IMAGES[container_uri] = path.resolve()


def _root() -> Path:
    global _ROOT
    with _LOCK:
        if _ROOT is None:
            _ROOT = Path(tempfile.mkdtemp(prefix="mllab-agentcore-"))
        return _ROOT


def _command(argv: list[str]) -> tuple[str | None, str | None, tuple[str, ...]]:
    args = list(argv)
    while args and args[0] in ("opentelemetry-instrument", "uv", "run", "--"):
        args.pop(0)
    if args and re.match(r"^(python(3(\.\d+)?)?|.*/python(3(\.\d+)?)?)$", args[0]):
        args.pop(0)
    if not args:
        raise AwsError(
            "ValidationException", f"The entry point {argv!r} names no Python file or module"
        )
    if args[0] == "-m" and len(args) >= 2:
        return args[1], None, tuple(args[2:])
    return None, args[0], tuple(args[1:])


def _dockerfile_command(context: Path) -> list[str]:
    docker = context / "Dockerfile"
    if not docker.is_file():
        raise AwsError(
            "ValidationException",
            f"The image's build context {context} has no Dockerfile, so its command is unknown",
        )
    entry: list[str] = []
    cmd: list[str] = []
    for raw in docker.read_text().splitlines():
        line = raw.strip()
        for key in ("ENTRYPOINT", "CMD"):
            if line.upper().startswith(key + " "):
                value = line[len(key) :].strip()
                try:
                    parsed = json.loads(value)
                    parts = [str(x) for x in parsed] if isinstance(parsed, list) else [str(parsed)]
                except ValueError:
                    parts = value.split()
                if key == "ENTRYPOINT":
                    entry = parts
                else:
                    cmd = parts
    if not entry and not cmd:
        raise AwsError(
            "ValidationException", f"The Dockerfile in {context} has neither CMD nor ENTRYPOINT"
        )
    return entry + cmd


def _extract_s3(account_id: str, region: str, bucket: str, prefix: str) -> str:
    from mllab.offline.athena.catalog import s3_backend

    backend = s3_backend(account_id)
    try:
        b = backend.get_bucket(bucket)
    except Exception:  # noqa: BLE001 - moto's MissingBucket
        raise AwsError(
            "ValidationException", f"The S3 bucket {bucket} of the code artifact does not exist"
        ) from None
    keys = [k for k in b.keys.keys() if k == prefix or k.startswith(prefix.rstrip("/") + "/")]
    if not keys:
        raise AwsError(
            "ValidationException",
            f"The code artifact s3://{bucket}/{prefix} does not exist: upload the .zip first",
        )
    digest = hashlib.sha256()
    objs = []
    for k in sorted(keys):
        obj = backend.get_object(bucket, k)
        data = bytes(obj.value)
        digest.update(k.encode() + b"\0" + hashlib.sha256(data).digest())
        objs.append((k, data))
    target = _root() / digest.hexdigest()[:16]
    if target.is_dir():
        return str(target)
    tmp = Path(str(target) + ".part")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for k, data in objs:
        if k == prefix and zipfile.is_zipfile(io.BytesIO(data)):
            with zipfile.ZipFile(io.BytesIO(data)) as zf:
                zf.extractall(tmp)
        else:
            rel = k[len(prefix) :].lstrip("/") or Path(k).name
            dest = tmp / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            if zipfile.is_zipfile(io.BytesIO(data)) and rel.endswith(".zip"):
                with zipfile.ZipFile(io.BytesIO(data)) as zf:
                    zf.extractall(tmp)
            else:
                dest.write_bytes(data)
    tmp.rename(target)
    return str(target)


def resolve(
    account_id: str, region: str, artifact: dict[str, Any], check_only: bool = False
) -> Resolved:
    """Return where a runtime version's code is and how it starts.

    Args:
        account_id: the offline account.
        region: the region.
        artifact: ``agentRuntimeArtifact``.
        check_only: validate without extracting (CreateAgentRuntime).

    Raises:
        AwsError: ``ValidationException`` naming what is missing.
    """
    code = artifact.get("codeConfiguration")
    container = artifact.get("containerConfiguration")
    if code:
        runtime = str(code.get("runtime", ""))
        if not runtime.startswith("PYTHON_"):
            raise AwsError(
                "ValidationException",
                f"Runtime {runtime} is not supported offline: only PYTHON_3_x agents run on the "
                "offline backend (on the lab's Python)",
            )
        s3 = (code.get("code") or {}).get("s3") or {}
        bucket, prefix = str(s3.get("bucket", "")), str(s3.get("prefix", ""))
        module, script, args = _command([str(x) for x in code.get("entryPoint") or []])
        code_dir = _extract_s3(account_id, region, bucket, prefix)
        if script and not (Path(code_dir) / script).is_file():
            present = sorted(
                str(f.relative_to(code_dir)) for f in Path(code_dir).rglob("*") if f.is_file()
            )
            raise EntryPointMissing(
                "ValidationException",
                f"The entry point {script} is not in the code artifact s3://{bucket}/{prefix} "
                f"(it holds: {', '.join(present[:10]) or 'no files'})",
            )
        return Resolved(code_dir, module, script, args, runtime)
    if container:
        uri = str(container.get("containerUri", ""))
        with _LOCK:
            context = _IMAGES.get(uri)
        if context is None:
            raise AwsError(
                "ValidationException",
                f"The container image {uri} cannot be resolved offline (there is no container "
                "engine). Bind it to its build context first: "
                f"mllab.offline.agentcore.images.register({uri!r}, 'path/to/folder'); on AWS, "
                "docker build and push it to ECR.",
            )
        module, script, args = _command(_dockerfile_command(context))
        if check_only:
            return Resolved(str(context), module, script, args, "CONTAINER")
        target = _root() / ("image-" + hashlib.sha256(uri.encode()).hexdigest()[:12])
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(context, target)
        return Resolved(str(target), module, script, args, "CONTAINER")
    raise AwsError(
        "ValidationException",
        "agentRuntimeArtifact needs codeConfiguration (code in S3) or containerConfiguration "
        "(a container image)",
    )


@on_reset
def _reset() -> None:
    global _ROOT
    with _LOCK:
        _IMAGES.clear()
        if _ROOT is not None:
            shutil.rmtree(_ROOT, ignore_errors=True)
            _ROOT = None
