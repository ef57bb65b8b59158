"""Offline SageMaker hosting: endpoints that load their model from S3 and serve it in-process.

Introduced in lab 04. moto keeps the control plane (models, endpoint configs, endpoints);
this module does what the hosting fleet does:

* ``CreateEndpoint``: the endpoint starts ``Creating``; a background thread downloads each
  production variant's ``model.tar.gz`` from (moto's) S3, extracts it and loads it with the
  built-in algorithm's ``load`` (:mod:`mllab.offline.sagemaker.algorithms`) or the learner's
  inference script (:mod:`mllab.offline.sagemaker.hosting_script`). Then ``InService``, or
  ``Failed`` with AWS's ``FailureReason`` (artifact missing, image not supported offline,
  ``model_fn`` raising) and the log lines in ``/aws/sagemaker/Endpoints/<name>``.
* ``UpdateEndpoint``: ``Updating`` while the new config loads, then the switch; a failed
  update rolls back to the old config (``InService`` with ``FailureReason``), as on AWS.
* ``UpdateEndpointWeightsAndCapacities``: new weights and instance counts, used by the
  next request.
* ``DeleteEndpoint``: the loaded models and their temporary folders are dropped; no thread,
  port or process is left behind.

Offline the ``Creating`` phase lasts as long as loading the model (usually well under a
second). ``DescribeEndpoint`` waits up to :data:`DESCRIBE_WAIT_SECONDS` for a running load,
so boto3's ``endpoint_in_service`` waiter (which sleeps 30 s between polls) returns on its
first poll.

The serving itself (``InvokeEndpoint``, traffic split, metrics) is in
:mod:`mllab.offline.sagemaker.runtime`; data capture in :mod:`mllab.offline.sagemaker.capture`.
"""

from __future__ import annotations

import copy
import datetime as dt
import random
import shutil
import sys
import tarfile
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mllab.offline.registry import AwsError, OfflineCall, handles, on_reset

#: How long DescribeEndpoint waits for a model load in progress (seconds).
DESCRIBE_WAIT_SECONDS = 10.0
#: Multi-model endpoints keep at most this many models loaded per variant (LRU).
MME_CACHE_SIZE = 16

_LOCK = threading.RLock()
_RUNTIMES: dict[tuple[str, str, str], EndpointRuntime] = {}
_EXTRA_ALGORITHMS: list[tuple[Callable[[str], bool], Any]] = []
_SEED: int | None = None


class LoadFailure(Exception):
    """A model could not be loaded; the message is the endpoint's FailureReason."""


# --------------------------------------------------------------------------- models
class Served:
    """One loaded model answering requests (a built-in algorithm or a script)."""

    def predict(self, body: bytes, content_type: str, accept: str) -> tuple[bytes, str]:
        """Return ``(response body, content type)``; raise ``ClientError`` for a bad request."""
        raise NotImplementedError

    def close(self) -> None:
        """Release what the model holds (nothing by default)."""


class AlgorithmServed(Served):
    """A built-in algorithm's model: its module's ``load`` and ``predict``."""

    def __init__(self, module: Any, model_dir: Path) -> None:
        self.module = module
        self.model = module.load(model_dir)

    def predict(self, body: bytes, content_type: str, accept: str) -> tuple[bytes, str]:
        out, ctype = self.module.predict(self.model, body, content_type, accept)
        return (out.encode("utf-8") if isinstance(out, str) else bytes(out)), str(ctype)


class ScriptServed(Served):
    """A framework container running the learner's inference script."""

    def __init__(self, framework: str, script: Path | None, model_dir: Path) -> None:
        from mllab.offline.sagemaker.hosting_script import ScriptModel

        self.impl = ScriptModel(framework, script, model_dir)
        self._path = str(script.parent) if script is not None else None

    def predict(self, body: bytes, content_type: str, accept: str) -> tuple[bytes, str]:
        return self.impl.predict(body, content_type, accept)

    def close(self) -> None:
        if self._path and self._path in sys.path:
            sys.path.remove(self._path)


def register_algorithm(match: Callable[[str], bool] | str, module: Any) -> Callable[[], None]:
    """Serve images that ``match`` with ``module`` (``load``/``predict``), ahead of the built-ins.

    Used by tests and by labs that bring their own container emulation.

    Args:
        match: a predicate on the image URI, or a substring of it.
        module: an object with ``load(model_dir)`` and ``predict(model, body, content_type, accept)``.

    Returns:
        A function that removes the registration. Costs nothing.
    """
    pred = (lambda image: match in image) if isinstance(match, str) else match
    entry = (pred, module)
    _EXTRA_ALGORITHMS.insert(0, entry)

    def remove() -> None:
        if entry in _EXTRA_ALGORITHMS:
            _EXTRA_ALGORITHMS.remove(entry)

    return remove


def resolve_algorithm(image: str) -> Any | None:
    """Return the built-in algorithm module serving ``image``, or None when there is none."""
    for pred, module in list(_EXTRA_ALGORITHMS):
        if pred(image):
            return module
    try:
        from mllab.offline.sagemaker import images

        return images.algorithm(image)
    except ImportError:
        pass
    except Exception:  # noqa: BLE001 - an unknown image: not a built-in algorithm
        return None
    try:
        from mllab.offline.sagemaker import algorithms

        return algorithms.by_image(image)
    except Exception:  # noqa: BLE001 - no emulation for this image
        return None


def _is_framework_image(image: str) -> bool:
    repo = image.rsplit("/", 1)[-1].split(":", 1)[0].lower()
    return repo in ("sagemaker-scikit-learn", "sagemaker-xgboost") or "sklearn" in repo


def _download_failure(url: str, container: str = "container_1") -> LoadFailure:
    return LoadFailure(
        f'Failed to download model data for container "{container}" from URL: "{url}". '
        "Please ensure that there is an object located at the URL and that the role passed "
        "to CreateModel has permissions to download the object."
    )


def _safe_extract(data: bytes, dest: Path) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=__import__("io").BytesIO(data), mode="r:*") as tar:
        tar.extractall(dest, filter="data")


def fetch_model_data(
    account_id: str, container: dict[str, Any], dest: Path, url: str | None = None
) -> str | None:
    """Download and unpack a container's model data (``ModelDataUrl`` or ``ModelDataSource``).

    Args:
        account_id: the offline account.
        container: the model's container definition.
        dest: the folder that becomes ``/opt/ml/model``.
        url: use this ``model.tar.gz`` instead (multi-model endpoints).

    Returns:
        The URL read, or None when the container has no model data.

    Raises:
        LoadFailure: the object is missing or not a tar.gz (AWS's words).
    """
    from mllab.offline.sagemaker import s3io

    dest.mkdir(parents=True, exist_ok=True)
    source = (container.get("ModelDataSource") or {}).get("S3DataSource") or {}
    url = url or container.get("ModelDataUrl") or source.get("S3Uri")
    if not url:
        return None
    if source and not container.get("ModelDataUrl") and source.get("CompressionType") == "None":
        files = s3io.download_prefix(account_id, url, dest)
        if not files:
            raise _download_failure(url)
        return str(url)
    try:
        data = s3io.get_bytes(account_id, url)
    except (s3io.S3Missing, ValueError) as err:
        raise _download_failure(url) from err
    try:
        _safe_extract(data, dest)
    except (tarfile.TarError, EOFError, OSError) as err:
        raise LoadFailure(
            f'Failed to extract model data archive from URL "{url}". Please ensure that the '
            "object located at the URL is a valid tar.gz archive."
        ) from err
    return str(url)


def _fetch_code(account_id: str, submit: str, dest: Path) -> Path:
    """Get ``SAGEMAKER_SUBMIT_DIRECTORY`` (an S3 ``sourcedir.tar.gz`` or a local folder)."""
    from mllab.offline.sagemaker import s3io

    if submit.startswith("s3://"):
        if submit.endswith((".tar.gz", ".tgz")):
            try:
                _safe_extract(s3io.get_bytes(account_id, submit), dest)
            except s3io.S3Missing as err:
                raise LoadFailure(
                    f'Failed to download the inference code from "{submit}".'
                ) from err
        else:
            s3io.download_prefix(account_id, submit, dest)
        return dest
    local = Path(submit.removeprefix("file://"))
    if local.is_dir():
        return local
    raise LoadFailure(f"SAGEMAKER_SUBMIT_DIRECTORY {submit!r} is neither an S3 URI nor a folder.")


def load_container(
    container: dict[str, Any], account_id: str, workdir: Path, *, url: str | None = None
) -> Served:
    """Load one container's model the way its image would serve it.

    Args:
        container: a ``ContainerDefinition`` (``Image``, ``ModelDataUrl``, ``Environment``, ...).
        account_id: the offline account.
        workdir: an empty folder this model may use (deleted with the endpoint).
        url: load this model archive instead of the container's (multi-model endpoints).

    Returns:
        The loaded model. Offline it costs nothing; on AWS the instance bills from now on.

    Raises:
        LoadFailure: the reason AWS would give (artifact missing, image unsupported, ...).
    """
    image = str(container.get("Image") or "")
    env = dict(container.get("Environment") or {})
    model_dir = workdir / "model"
    fetch_model_data(account_id, container, model_dir, url)
    program = env.get("SAGEMAKER_PROGRAM")
    submit = env.get("SAGEMAKER_SUBMIT_DIRECTORY")
    code_dir = model_dir / "code"
    script: Path | None = None
    if program or submit or (code_dir / "inference.py").is_file():
        if submit and not (program and (code_dir / program).is_file()):
            code_dir = _fetch_code(account_id, submit, workdir / "code")
        script = code_dir / (program or "inference.py")
        if not script.is_file():
            raise LoadFailure(
                f"The inference script {program or 'inference.py'} was not found in the model's "
                "code/ folder or SAGEMAKER_SUBMIT_DIRECTORY. Package it with the model "
                "(model.tar.gz: code/inference.py) or set SAGEMAKER_SUBMIT_DIRECTORY."
            )
    if script is None:
        module = resolve_algorithm(image)
        if module is not None:
            return _guarded_load(lambda: AlgorithmServed(module, model_dir))
    if script is not None or _is_framework_image(image):
        if script is None and "xgboost" not in image.rsplit("/", 1)[-1]:
            raise LoadFailure(
                "The primary container did not pass the ping health check: the scikit-learn "
                "container needs an inference script with model_fn (set SAGEMAKER_PROGRAM and "
                "SAGEMAKER_SUBMIT_DIRECTORY, or put code/inference.py in model.tar.gz)."
            )
        from mllab.offline.sagemaker.hosting_script import framework_of

        return _guarded_load(lambda: ScriptServed(framework_of(image), script, model_dir))
    raise LoadFailure(
        f"The image '{image}' cannot be served offline: it is neither a SageMaker built-in "
        "algorithm image nor a scikit-learn/XGBoost framework image. Resolve the image with "
        "sagemaker.core.image_uris.retrieve(...)."
    )


def _guarded_load(make: Callable[[], Served]) -> Served:
    try:
        return make()
    except LoadFailure:
        raise
    except Exception as err:  # noqa: BLE001 - the container's start-up failed
        raise LoadFailure(
            "The primary container for production variant did not pass the ping health check. "
            f"Please check CloudWatch logs for this endpoint. ({type(err).__name__}: {err})"
        ) from err


# --------------------------------------------------------------------------- runtime state
@dataclass
class VariantRuntime:
    """One production variant while the endpoint lives (see :class:`EndpointRuntime`)."""

    name: str
    model_name: str
    container: dict[str, Any]
    instance_type: str | None
    serverless: dict[str, Any] | None
    workdir: Path
    served: Served | None = None
    multi_model: bool = False
    mme_models: dict[str, Served] = field(default_factory=dict)
    in_flight: int = 0
    cold: bool = True
    last_invoke: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)
    log: Any = None

    def target_model(self, account_id: str, target: str) -> Served:
        """Load (once) and return the multi-model endpoint's ``TargetModel``."""
        with self.lock:
            if target in self.mme_models:
                served = self.mme_models.pop(target)
                self.mme_models[target] = served  # most recently used last
                return served
        prefix = str(self.container.get("ModelDataUrl") or "")
        url = prefix.rstrip("/") + "/" + target.lstrip("/")
        folder = self.workdir / "mme" / uuid.uuid4().hex
        try:
            served = load_container(self.container, account_id, folder, url=url)
        except LoadFailure as err:
            shutil.rmtree(folder, ignore_errors=True)
            raise AwsError(
                "ValidationError",
                f"Failed to download model data(bucket: {url[5:].split('/', 1)[0]}, key: "
                f"{url[5:].split('/', 1)[-1]}). Please ensure that there is an object located at "
                "the URL and that the role passed to CreateModel has permissions to download the "
                "model."
                if "download" in str(err)
                else str(err),
            ) from None
        with self.lock:
            self.mme_models[target] = served
            while len(self.mme_models) > MME_CACHE_SIZE:
                old = next(iter(self.mme_models))
                self.mme_models.pop(old).close()
        return served


@dataclass
class EndpointRuntime:
    """What serves one endpoint offline: loaded variants, routing RNG, capture and async config."""

    account_id: str
    region: str
    name: str
    config_name: str
    variants: dict[str, VariantRuntime]
    rng: random.Random
    capture: dict[str, Any] | None = None
    async_config: dict[str, Any] | None = None
    root: Path | None = None
    created: float = field(default_factory=time.time)

    def close(self) -> None:
        """Drop the loaded models and delete the temporary folders."""
        for v in self.variants.values():
            for served in [v.served, *v.mme_models.values()]:
                if served is not None:
                    try:
                        served.close()
                    except Exception:  # noqa: BLE001 - best effort
                        pass
            v.mme_models.clear()
            v.served = None
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)


@dataclass
class _Loading:
    thread: threading.Thread
    done: threading.Event


_LOADING: dict[tuple[str, str, str], _Loading] = {}


def set_seed(seed: int | None) -> None:
    """Seed traffic routing and capture sampling of endpoints created from now on.

    Args:
        seed: an int for repeatable variant choices (tests, labs), None for fresh randomness.
    """
    global _SEED
    _SEED = seed


def _rng_for(name: str) -> random.Random:
    return random.Random(f"{_SEED}:{name}") if _SEED is not None else random.Random()


def get_runtime(account_id: str, region: str, name: str) -> EndpointRuntime | None:
    """Return the runtime of a live endpoint (None when it is not serving)."""
    return _RUNTIMES.get((account_id, region, name))


def wait_loaded(
    account_id: str, region: str, name: str, timeout: float = DESCRIBE_WAIT_SECONDS
) -> None:
    """Wait until a create/update of the endpoint has finished loading (or ``timeout``)."""
    loading = _LOADING.get((account_id, region, name))
    if loading is not None:
        loading.done.wait(timeout)


def backend(account_id: str, region: str) -> Any:
    """moto's SageMaker backend of the account and region."""
    from moto.sagemaker.models import sagemaker_backends

    return sagemaker_backends[account_id][region]


def _arn(kind: str, name: str, account_id: str, region: str) -> str:
    return f"arn:aws:sagemaker:{region}:{account_id}:{kind}/{name.lower()}"


def _endpoint_log(account_id: str, region: str, endpoint: str, variant: str) -> Any:
    from mllab.offline.sagemaker.cwlogs import LogStream

    return LogStream(
        account_id,
        region,
        f"/aws/sagemaker/Endpoints/{endpoint}",
        f"{variant}/i-{uuid.uuid4().hex[:17]}",
    )


def _primary(model: Any) -> dict[str, Any]:
    primary = dict(getattr(model, "primary_container", None) or {})
    if not primary and getattr(model, "containers", None):
        primary = dict(model.containers[0])
    return primary


def _build_runtime(
    account_id: str, region: str, endpoint: str, config: dict[str, Any]
) -> EndpointRuntime:
    """Load every production variant of ``config`` (runs in the loader thread)."""
    be = backend(account_id, region)
    root = Path(tempfile.mkdtemp(prefix=f"mllab-endpoint-{endpoint}-"))
    variants: dict[str, VariantRuntime] = {}
    rt = EndpointRuntime(
        account_id=account_id,
        region=region,
        name=endpoint,
        config_name=config["EndpointConfigName"],
        variants=variants,
        rng=_rng_for(endpoint),
        capture=copy.deepcopy(config.get("DataCaptureConfig")) or None,
        async_config=copy.deepcopy(config.get("AsyncInferenceConfig")) or None,
        root=root,
    )
    try:
        for pv in config.get("ProductionVariants") or []:
            vname = pv["VariantName"]
            model = be._models.get(pv["ModelName"])
            if model is None:
                raise LoadFailure(
                    f'Could not find model "{_arn("model", pv["ModelName"], account_id, region)}".'
                )
            container = _primary(model)
            vr = VariantRuntime(
                name=vname,
                model_name=pv["ModelName"],
                container=container,
                instance_type=pv.get("InstanceType"),
                serverless=pv.get("ServerlessConfig"),
                workdir=root / vname,
                multi_model=container.get("Mode") == "MultiModel",
            )
            vr.log = _endpoint_log(account_id, region, endpoint, vname)
            vr.log.write(
                f"Starting the model server for variant {vname} (image {container.get('Image')})"
            )
            try:
                if not vr.multi_model:
                    vr.served = load_container(container, account_id, vr.workdir)
                else:
                    vr.log.write(
                        "Multi-model endpoint: models are loaded on first request (TargetModel)"
                    )
            except LoadFailure as err:
                vr.log.write(f"ERROR: {err}")
                vr.log.flush()
                raise
            vr.log.write("Model loaded; the model server is listening (offline, in-process)")
            vr.log.flush()
            variants[vname] = vr
    except BaseException:
        rt.close()
        raise
    return rt


def _variant_description(
    pv: dict[str, Any], previous: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A ProductionVariantSummary as DescribeEndpoint shows it."""
    now = dt.datetime.now(dt.UTC)
    out: dict[str, Any] = {"VariantName": pv["VariantName"]}
    image = None
    try:
        image = _primary_image(pv)
    except Exception:  # noqa: BLE001
        image = None
    if image:
        out["DeployedImages"] = [
            {"SpecifiedImage": image, "ResolvedImage": image, "ResolutionTime": now}
        ]
    weight = float(pv.get("InitialVariantWeight", 1.0))
    out["CurrentWeight"] = out["DesiredWeight"] = weight
    if pv.get("ServerlessConfig"):
        out["CurrentServerlessConfig"] = dict(pv["ServerlessConfig"])
        out["DesiredServerlessConfig"] = dict(pv["ServerlessConfig"])
    else:
        n = int(pv.get("InitialInstanceCount", 1))
        out["CurrentInstanceCount"] = out["DesiredInstanceCount"] = n
    if previous:
        for key in (
            "CurrentWeight",
            "DesiredWeight",
            "CurrentInstanceCount",
            "DesiredInstanceCount",
        ):
            if key in previous and key in out:
                out[key] = previous[key]
    return out


_IMAGE_CACHE: dict[str, str] = {}


def _primary_image(pv: dict[str, Any]) -> str | None:
    return _IMAGE_CACHE.get(pv.get("ModelName", ""))


def _capture_summary(cfg: dict[str, Any] | None) -> dict[str, Any] | None:
    if not cfg:
        return None
    enabled = bool(cfg.get("EnableCapture", True))
    out = {
        "EnableCapture": enabled,
        "CaptureStatus": "Started" if enabled else "Stopped",
        "CurrentSamplingPercentage": int(cfg.get("InitialSamplingPercentage", 0)),
        "DestinationS3Uri": cfg.get("DestinationS3Uri", ""),
    }
    if cfg.get("KmsKeyId"):
        out["KmsKeyId"] = cfg["KmsKeyId"]
    return out


def _start_loading(
    account_id: str,
    region: str,
    name: str,
    config: dict[str, Any],
    on_done: Callable[[EndpointRuntime | None, str | None], None],
) -> None:
    done = threading.Event()

    def run() -> None:
        try:
            rt: EndpointRuntime | None = _build_runtime(account_id, region, name, config)
            reason = None
        except LoadFailure as err:
            rt, reason = None, str(err)
        except Exception as err:  # noqa: BLE001 - moto stopped or an unexpected failure
            rt, reason = None, f"{type(err).__name__}: {err}"
        try:
            on_done(rt, reason)
        except Exception:  # noqa: BLE001 - the lab closed under us
            if rt is not None:
                rt.close()
        finally:
            done.set()

    thread = threading.Thread(target=run, name=f"mllab-endpoint-{name}", daemon=True)
    _LOADING[(account_id, region, name)] = _Loading(thread, done)
    thread.start()


def _config_of(account_id: str, region: str, config_name: str) -> dict[str, Any]:
    be = backend(account_id, region)
    cfg = be.endpoint_configs.get(config_name)
    if cfg is None:
        raise AwsError(
            "ValidationException",
            f'Could not find endpoint configuration "{_arn("endpoint-config", config_name, account_id, region)}".',
        )
    return {
        "EndpointConfigName": cfg.endpoint_config_name,
        "ProductionVariants": copy.deepcopy(cfg.production_variants),
        "DataCaptureConfig": copy.deepcopy(cfg.data_capture_config),
        "AsyncInferenceConfig": copy.deepcopy(cfg.async_inference_config),
    }


def _remember_images(account_id: str, region: str, config: dict[str, Any]) -> None:
    be = backend(account_id, region)
    for pv in config.get("ProductionVariants") or []:
        model = be._models.get(pv.get("ModelName"))
        if model is not None:
            _IMAGE_CACHE[pv["ModelName"]] = str(_primary(model).get("Image") or "")


# --------------------------------------------------------------------------- validation
def _validate_config(params: dict[str, Any]) -> None:
    variants = list(params.get("ProductionVariants") or [])
    seen: set[str] = set()
    for i, pv in enumerate(variants, start=1):
        name = pv.get("VariantName")
        if name in seen:
            raise AwsError(
                "ValidationException",
                f"Variant names must be unique within an endpoint config: {name!r} appears twice.",
            )
        seen.add(name)
        sc = pv.get("ServerlessConfig")
        if sc is not None and pv.get("InstanceType"):
            raise AwsError(
                "ValidationException",
                "A production variant cannot have both InstanceType and ServerlessConfig: "
                "choose instance-based or serverless hosting.",
            )
        if sc is not None:
            where = f"productionVariants.{i}.member.serverlessConfig"
            mem = sc.get("MemorySizeInMB")
            if not isinstance(mem, int) or mem < 1024 or mem > 6144 or mem % 1024:
                raise AwsError(
                    "ValidationException",
                    f"1 validation error detected: Value '{mem}' at '{where}.memorySizeInMB' failed "
                    "to satisfy constraint: Member must satisfy enum value set: "
                    "[1024, 2048, 3072, 4096, 5120, 6144]",
                )
            conc = sc.get("MaxConcurrency")
            if not isinstance(conc, int) or conc < 1 or conc > 200:
                raise AwsError(
                    "ValidationException",
                    f"1 validation error detected: Value '{conc}' at '{where}.maxConcurrency' failed "
                    "to satisfy constraint: Member must have value less than or equal to 200"
                    if isinstance(conc, int) and conc > 200
                    else f"1 validation error detected: Value '{conc}' at '{where}.maxConcurrency' "
                    "failed to satisfy constraint: Member must have value greater than or equal to 1",
                )
            prov = sc.get("ProvisionedConcurrency")
            if prov is not None and prov > conc:
                raise AwsError(
                    "ValidationException",
                    "ProvisionedConcurrency must be less than or equal to MaxConcurrency.",
                )
        if not name:
            raise AwsError("ValidationException", "Every production variant needs a VariantName.")
        weight = pv.get("InitialVariantWeight")
        if weight is not None and float(weight) < 0:
            raise AwsError(
                "ValidationException",
                f"1 validation error detected: Value '{weight}' at 'productionVariants.{i}.member."
                "initialVariantWeight' failed to satisfy constraint: Member must have value greater "
                "than or equal to 0",
            )
    if any(pv.get("ServerlessConfig") for pv in variants) and params.get("AsyncInferenceConfig"):
        raise AwsError(
            "ValidationException",
            "Serverless inference does not support asynchronous inference: remove "
            "AsyncInferenceConfig or use instance-based variants.",
        )
    dcc = params.get("DataCaptureConfig")
    if dcc:
        pct = dcc.get("InitialSamplingPercentage")
        if not isinstance(pct, int) or not 0 <= pct <= 100:
            raise AwsError(
                "ValidationException",
                f"1 validation error detected: Value '{pct}' at 'dataCaptureConfig."
                "initialSamplingPercentage' failed to satisfy constraint: Member must have value "
                "less than or equal to 100",
            )
        uri = str(dcc.get("DestinationS3Uri") or "")
        if not uri.startswith("s3://"):
            raise AwsError(
                "ValidationException",
                f"DataCaptureConfig.DestinationS3Uri {uri!r} is not an S3 URI (s3://bucket/prefix).",
            )
        opts = dcc.get("CaptureOptions") or []
        if not opts:
            raise AwsError(
                "ValidationException",
                "DataCaptureConfig.CaptureOptions must list at least one of "
                "{'CaptureMode': 'Input'} and {'CaptureMode': 'Output'}.",
            )
    aic = params.get("AsyncInferenceConfig")
    if aic:
        out = (aic.get("OutputConfig") or {}).get("S3OutputPath")
        if not str(out or "").startswith("s3://"):
            raise AwsError(
                "ValidationException",
                "AsyncInferenceConfig.OutputConfig.S3OutputPath must be an S3 URI (s3://bucket/prefix).",
            )


@handles("sagemaker", "CreateEndpointConfig")
def _create_endpoint_config(call: OfflineCall) -> dict[str, Any] | None:
    _validate_config(call.params)
    return None  # moto stores it


# --------------------------------------------------------------------------- create
def _status(account_id: str, region: str, name: str, status: str, reason: str | None = None) -> Any:
    ep = backend(account_id, region).endpoints.get(name)
    if ep is not None:
        ep.endpoint_status = status
        ep.failure_reason = reason
        ep.last_modified_time = dt.datetime.now(dt.UTC)
    return ep


@handles("sagemaker", "CreateEndpoint")
def _create_endpoint_check(call: OfflineCall) -> dict[str, Any] | None:
    name = call.params.get("EndpointName", "")
    if name in backend(call.account_id, call.region).endpoints:
        raise AwsError(
            "ValidationException",
            f'Cannot create already existing endpoint "{_arn("endpoint", name, call.account_id, call.region)}".',
        )
    return None


@handles("sagemaker", "CreateEndpoint", "after")
def _create_endpoint(call: OfflineCall) -> None:
    acct, region = call.account_id, call.region
    name = call.params["EndpointName"]
    config = _config_of(acct, region, call.params["EndpointConfigName"])
    _remember_images(acct, region, config)
    ep = backend(acct, region).endpoints.get(name)
    if ep is None:
        return
    ep.production_variants = [_variant_description(pv) for pv in config["ProductionVariants"]]
    ep.data_capture_config = _capture_summary(config.get("DataCaptureConfig"))
    _status(acct, region, name, "Creating")

    def finish(rt: EndpointRuntime | None, reason: str | None) -> None:
        if rt is None:
            _status(acct, region, name, "Failed", reason)
            return
        with _LOCK:
            if name not in backend(acct, region).endpoints:  # deleted while loading
                rt.close()
                return
            stale = _RUNTIMES.pop((acct, region, name), None)
            _RUNTIMES[(acct, region, name)] = rt
        if stale is not None:  # left by an earlier lab (moto was reset since)
            stale.close()
        _status(acct, region, name, "InService")

    _start_loading(acct, region, name, config, finish)


@handles("sagemaker", "DescribeEndpoint")
def _describe_endpoint(call: OfflineCall) -> dict[str, Any] | None:
    wait_loaded(call.account_id, call.region, str(call.params.get("EndpointName", "")))
    return None  # moto answers with the current state


# --------------------------------------------------------------------------- update
def _require_in_service(call: OfflineCall, name: str) -> Any:
    ep = backend(call.account_id, call.region).endpoints.get(name)
    arn = _arn("endpoint", name, call.account_id, call.region)
    if ep is None:
        raise AwsError("ValidationException", f'Could not find endpoint "{arn}".')
    if ep.endpoint_status in ("Creating", "Updating", "SystemUpdating", "RollingBack", "Deleting"):
        raise AwsError("ValidationException", f'Cannot update in-progress endpoint "{arn}".')
    if ep.endpoint_status == "Failed":
        raise AwsError(
            "ValidationException",
            f'Cannot update failed endpoint "{arn}". Delete it and create it again.',
        )
    return ep


@handles("sagemaker", "UpdateEndpoint")
def _update_endpoint(call: OfflineCall) -> dict[str, Any]:
    acct, region = call.account_id, call.region
    name = call.params["EndpointName"]
    ep = _require_in_service(call, name)
    config = _config_of(acct, region, call.params["EndpointConfigName"])
    _remember_images(acct, region, config)
    retain = bool(call.params.get("RetainAllVariantProperties"))
    old_variants = {v["VariantName"]: v for v in ep.production_variants}
    _status(acct, region, name, "Updating")

    def finish(rt: EndpointRuntime | None, reason: str | None) -> None:
        if rt is None:  # rolled back: the old config keeps serving
            _status(acct, region, name, "InService", reason)
            return
        with _LOCK:
            ep2 = backend(acct, region).endpoints.get(name)
            if ep2 is None:
                rt.close()
                return
            old = _RUNTIMES.pop((acct, region, name), None)
            _RUNTIMES[(acct, region, name)] = rt
            ep2.endpoint_config_name = config["EndpointConfigName"]
            ep2.production_variants = [
                _variant_description(pv, old_variants.get(pv["VariantName"]) if retain else None)
                for pv in config["ProductionVariants"]
            ]
            ep2.data_capture_config = _capture_summary(config.get("DataCaptureConfig"))
        if old is not None:
            from mllab.offline.sagemaker import capture

            capture.flush_endpoint(old)
            old.close()
        _status(acct, region, name, "InService")

    _start_loading(acct, region, name, config, finish)
    return {"EndpointArn": ep.arn}


@handles("sagemaker", "UpdateEndpointWeightsAndCapacities")
def _update_weights(call: OfflineCall) -> dict[str, Any]:
    name = call.params["EndpointName"]
    ep = _require_in_service(call, name)
    desired = list(call.params.get("DesiredWeightsAndCapacities") or [])
    by_name = {v["VariantName"]: v for v in ep.production_variants}
    seen: set[str] = set()
    for d in desired:
        vname = d.get("VariantName")
        if vname in seen:
            raise AwsError(
                "ValidationException",
                f'The variant name "{vname}" was non-unique within the request.',
            )
        seen.add(vname)
        if vname not in by_name:
            raise AwsError(
                "ValidationException",
                f'The variant name(s) "{vname}" is/are not present within endpoint configuration '
                f'"{ep.endpoint_config_name}".',
            )
        if (
            "DesiredWeight" not in d
            and "DesiredInstanceCount" not in d
            and "ServerlessUpdateConfig" not in d
        ):
            raise AwsError(
                "ValidationException",
                f"Variant {vname}: give DesiredWeight, DesiredInstanceCount or both.",
            )
        if "DesiredInstanceCount" in d and "CurrentServerlessConfig" in by_name[vname]:
            raise AwsError(
                "ValidationException",
                f"Variant {vname} is serverless: it has no instance count to update.",
            )
    for d in desired:
        v = by_name[d["VariantName"]]
        if "DesiredWeight" in d:
            v["CurrentWeight"] = v["DesiredWeight"] = float(d["DesiredWeight"])
        if "DesiredInstanceCount" in d:
            v["CurrentInstanceCount"] = v["DesiredInstanceCount"] = int(d["DesiredInstanceCount"])
    ep.last_modified_time = dt.datetime.now(dt.UTC)
    return {"EndpointArn": ep.arn}


# --------------------------------------------------------------------------- delete
def _drop(account_id: str, region: str, name: str) -> None:
    with _LOCK:
        rt = _RUNTIMES.pop((account_id, region, name), None)
    if rt is not None:
        from mllab.offline.sagemaker import capture

        capture.flush_endpoint(rt)
        rt.close()


@handles("sagemaker", "DeleteEndpoint", "after")
def _delete_endpoint(call: OfflineCall) -> None:
    name = str(call.params.get("EndpointName", ""))
    loading = _LOADING.pop((call.account_id, call.region, name), None)
    if loading is not None:
        loading.done.wait(DESCRIBE_WAIT_SECONDS)
    _drop(call.account_id, call.region, name)
    from mllab.offline.sagemaker import runtime

    runtime.flush_metrics()  # before a lab's teardown stops moto: metrics outlive the endpoint


def close_all() -> None:
    """Drop every loaded endpoint (what closing the last offline lab does). Costs nothing."""
    with _LOCK:
        keys = list(_RUNTIMES)
    for key in keys:
        _drop(*key)


@on_reset
def _reset() -> None:
    """The offline account is wiped: unload every endpoint's models and forget them."""
    close_all()
    with _LOCK:
        _LOADING.clear()
        _IMAGE_CACHE.clear()
