"""Offline SageMaker Model Monitor: baselines, monitoring schedules and executions (lab 04).

What the ``sagemaker-model-monitor-analyzer`` container does, computed here for real:

* **Baselining** (``DefaultModelMonitor.suggest_baseline``, or a ``CreateProcessingJob`` with
  the analyzer image and the environment the SDK sets: ``dataset_format``
  (``{"csv": {"header": true}}``, ``{"json": {"lines": true}}`` or ``{"parquet": {}}``),
  ``dataset_source`` (``/opt/ml/processing/input/baseline_dataset_input``) and
  ``output_path`` (``/opt/ml/processing/output``)) writes ``statistics.json`` and
  ``constraints.json`` in the container's formats. As a plain function: :func:`baseline`.
* **Monitoring**: a schedule (``CreateMonitoringSchedule`` over a
  ``CreateDataQualityJobDefinition``, or with an inline ``MonitoringJobDefinition``) runs when
  the learner calls :func:`tick` (offline there is no cron): a monitoring execution, backed
  by a processing job, reads the endpoint's captured requests, computes their statistics,
  compares them with the baseline and writes ``statistics.json`` and
  ``constraint_violations.json`` to ``<S3Uri>/<endpoint>/<schedule>/<yyyy>/<mm>/<dd>/<hh>/``,
  and publishes ``feature_baseline_drift_<feature>`` (and null/non-null/sum) metrics in
  ``aws/sagemaker/Endpoints/data-metrics`` with dimensions ``Endpoint`` and
  ``MonitoringSchedule`` when metrics are enabled.

Checks (``constraint_check_type``): ``missing_column_check``, ``extra_column_check``,
``data_type_check``, ``completeness_check``, ``baseline_drift_check``,
``categorical_values_check``. Drift of a numerical feature is the L-infinity distance between
the baseline's and the current cumulative distributions (the two-sample Kolmogorov-Smirnov
statistic); with ``comparison_method`` ``"Robust"`` (the default) it is flagged when it
exceeds ``comparison_threshold`` (default 0.1) *and* the two-sample KS critical value at
the 5% level for the two sample sizes (small samples do not raise false alarms); with
``"Simple"`` the threshold alone decides. A categorical feature's drift is the L-infinity
distance between the category frequencies (``categorical_comparison_threshold``).

Offline simplifications (documented, not hidden): the KLL sketch holds the exact values up
to ``k`` = 2048 and ``k`` evenly spaced quantiles beyond; standard deviations are the
population standard deviation (as Deequ, the library behind the container, computes it);
captured CSV columns are matched to the baseline features by position (captures have no
header); only ``endpointInput`` is analyzed (the features).

The analyzer runs as a processing job of :mod:`mllab.offline.sagemaker.processing` (inputs,
outputs, status and logs are kept there); :func:`register_processing_image` maps an image
repository to an in-process analysis (Clarify uses it; tests register their own images).
"""

from __future__ import annotations

import copy
import csv
import datetime as dt
import io
import json
import math
import re
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mllab.offline.registry import AwsError, OfflineCall, handles, on_reset

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

ANALYZER_REPO = "sagemaker-model-monitor-analyzer"
CONTAINER_BASE = "/opt/ml/processing"
METRICS_NAMESPACE = "aws/sagemaker/Endpoints/data-metrics"
#: The KLL sketch's ``k`` (values kept) and ``c`` parameters, as the container writes them.
KLL_K = 2048
KLL_C = 0.64
#: Buckets of the ``kll.buckets`` distribution (the container always materializes 10).
BUCKETS = 10
#: A String feature gets ``string_constraints.domains`` when it has at most this many values.
DOMAIN_MAX_VALUES = 20

DEFAULT_MONITORING_CONFIG: dict[str, Any] = {
    "evaluate_constraints": "Enabled",
    "emit_metrics": "Enabled",
    "datatype_check_threshold": 1.0,
    "domain_content_threshold": 1.0,
    "distribution_constraints": {
        "perform_comparison": "Enabled",
        "comparison_threshold": 0.1,
        "comparison_method": "Robust",
        "categorical_comparison_threshold": 0.1,
        "categorical_drift_method": "LInfinity",
    },
}

_LOCK = threading.RLock()


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _naive(d: dt.datetime | None) -> dt.datetime | None:
    return d.astimezone(dt.UTC).replace(tzinfo=None) if d else None


def _repo(image: str | None) -> str:
    from mllab.offline.sagemaker.images import repository

    return repository(image)


# ====================================================================== statistics


_INT_RX = re.compile(r"^[+-]?\d+$")


def _classify(series: pd.Series) -> tuple[pd.Series, pd.Series, pd.Series, pd.Series]:
    """Return (present, numeric values, is_integral, is_fractional) masks/values of a column."""
    import numpy as np
    import pandas as pd

    if pd.api.types.is_bool_dtype(series):
        series = series.astype("Int64")
    if pd.api.types.is_numeric_dtype(series):
        num = pd.to_numeric(series, errors="coerce").astype(float)
        present = num.notna()
        finite = num.where(np.isfinite(num))
        integral = present & finite.notna() & (finite == np.floor(finite))
        if pd.api.types.is_integer_dtype(series):
            integral = present.copy()
        return present, num, integral, present.copy()
    text = series.astype("string")
    stripped = text.str.strip()
    present = stripped.notna() & (stripped != "")
    num = pd.to_numeric(stripped.where(present), errors="coerce").astype(float)
    fractional = present & num.notna()
    integral = present & stripped.fillna("").str.match(_INT_RX)
    return present, num, integral, fractional


def _infer(present: pd.Series, integral: pd.Series, fractional: pd.Series) -> str:
    n = int(present.sum())
    if n == 0:
        return "Unknown"
    if int(integral.sum()) == n:
        return "Integral"
    if int(fractional.sum()) == n:
        return "Fractional"
    return "String"


def _kll(values: Any) -> dict[str, Any]:
    import numpy as np

    vals = np.sort(np.asarray(values, dtype=float))
    if vals.size == 0:
        return {
            "buckets": [],
            "sketch": {"parameters": {"c": KLL_C, "k": float(KLL_K)}, "data": []},
        }
    lo, hi = float(vals[0]), float(vals[-1])
    edges = np.linspace(lo, hi, BUCKETS + 1) if hi > lo else np.array([lo] * (BUCKETS + 1))
    if hi > lo:
        counts, _ = np.histogram(vals, bins=edges)
    else:
        counts = np.zeros(BUCKETS, dtype=int)
        counts[-1] = vals.size
    buckets = [
        {"lower_bound": float(edges[i]), "upper_bound": float(edges[i + 1]), "count": float(c)}
        for i, c in enumerate(counts)
    ]
    if vals.size > KLL_K:
        qs = (np.arange(KLL_K) + 0.5) / KLL_K
        data = np.quantile(vals, qs, method="inverted_cdf")
    else:
        data = vals
    return {
        "buckets": buckets,
        "sketch": {"parameters": {"c": KLL_C, "k": float(KLL_K)}, "data": [data.tolist()]},
    }


def statistics(df: pd.DataFrame) -> dict[str, Any]:
    """Compute the ``statistics.json`` of a dataset, as the analyzer container writes it.

    Args:
        df: the dataset (a column per feature). Values may be numbers or text; empty text
            and NaN count as missing.

    Returns:
        ``{"version": 0.0, "dataset": {"item_count"}, "features": [...]}`` with
        ``numerical_statistics`` (``common``, ``mean``, ``sum``, ``std_dev`` (population),
        ``min``, ``max``, ``distribution.kll``) for Integral/Fractional features and
        ``string_statistics`` (``common``, ``distinct_count``,
        ``distribution.categorical.buckets``) for String ones. Costs nothing (lab 04).
    """
    import numpy as np

    features: list[dict[str, Any]] = []
    for name in df.columns:
        col = df[name]
        present, num, integral, fractional = _classify(col)
        itype = _infer(present, integral, fractional)
        n_present = int(present.sum())
        common = {"num_present": n_present, "num_missing": int(len(col) - n_present)}
        feat: dict[str, Any] = {"name": str(name), "inferred_type": itype}
        if itype in {"Integral", "Fractional"}:
            vals = num[present].to_numpy(dtype=float)
            feat["numerical_statistics"] = {
                "common": common,
                "mean": float(vals.mean()),
                "sum": float(vals.sum()),
                "std_dev": float(vals.std(ddof=0)),
                "min": float(vals.min()),
                "max": float(vals.max()),
                "distribution": {"kll": _kll(vals)},
            }
        else:
            vals_s = col[present].astype(str)
            counts = vals_s.value_counts(sort=True)
            feat["string_statistics"] = {
                "common": common,
                "distinct_count": float(len(counts)),
                "distribution": {
                    "categorical": {
                        "buckets": [{"value": str(v), "count": float(c)} for v, c in counts.items()]
                    }
                },
            }
        features.append(feat)
    _ = np
    return {"version": 0.0, "dataset": {"item_count": int(len(df))}, "features": features}


def suggest_constraints(
    stats: dict[str, Any], monitoring_config: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Suggest ``constraints.json`` from a dataset's statistics, as the baselining job does.

    Args:
        stats: a :func:`statistics` result.
        monitoring_config: keys that override :data:`DEFAULT_MONITORING_CONFIG` (e.g. the
            SDK's ``monitoring_config_override``; ``distribution_constraints`` merge key by key).

    Returns:
        ``{"version": 0.0, "features": [{name, inferred_type, completeness,
        num_constraints.is_non_negative | string_constraints.domains}], "monitoring_config"}``.
    """
    n = max(1, int(stats["dataset"]["item_count"]))
    features = []
    for f in stats["features"]:
        num = f.get("numerical_statistics")
        st = f.get("string_statistics")
        common = (num or st or {}).get("common", {})
        item: dict[str, Any] = {
            "name": f["name"],
            "inferred_type": f["inferred_type"],
            "completeness": float(common.get("num_present", 0)) / n,
        }
        if num is not None:
            item["num_constraints"] = {"is_non_negative": bool(num["min"] >= 0)}
        elif st is not None and f["inferred_type"] == "String":
            buckets = st["distribution"]["categorical"]["buckets"]
            if 0 < len(buckets) <= DOMAIN_MAX_VALUES:
                item["string_constraints"] = {"domains": [b["value"] for b in buckets]}
        features.append(item)
    cfg = copy.deepcopy(DEFAULT_MONITORING_CONFIG)
    for k, v in (monitoring_config or {}).items():
        if k == "distribution_constraints" and isinstance(v, dict):
            cfg["distribution_constraints"].update(v)
        else:
            cfg[k] = v
    return {"version": 0.0, "features": features, "monitoring_config": cfg}


def baseline(
    df: pd.DataFrame, monitoring_config: dict[str, Any] | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Baseline a dataset: ``(statistics, constraints)`` as ``suggest_baseline`` writes them.

    Args:
        df: the baseline dataset (usually the training features, without the label).
        monitoring_config: overrides of the suggested ``monitoring_config``.

    Returns:
        The ``statistics.json`` and ``constraints.json`` documents. Costs nothing; on AWS the
        baselining job bills its processing instance (lab 04).
    """
    stats = statistics(df)
    return stats, suggest_constraints(stats, monitoring_config)


# ====================================================================== comparison


def _ecdf_distance(base: Any, cur: Any) -> float:
    import numpy as np

    b = np.sort(np.asarray(base, dtype=float))
    c = np.sort(np.asarray(cur, dtype=float))
    if b.size == 0 or c.size == 0:
        return 0.0
    pts = np.concatenate([b, c])
    fb = np.searchsorted(b, pts, side="right") / b.size
    fc = np.searchsorted(c, pts, side="right") / c.size
    return float(np.max(np.abs(fb - fc)))


def ks_critical(n: int, m: int, alpha: float = 0.05) -> float:
    """The two-sample Kolmogorov-Smirnov critical value ``c(alpha) * sqrt((n + m) / (n m))``."""
    if n <= 0 or m <= 0:
        return math.inf
    c = math.sqrt(-0.5 * math.log(alpha / 2))
    return c * math.sqrt((n + m) / (n * m))


def _pct(x: float) -> str:
    return f"{round(x * 100, 4):g}%"


def compare(
    current: pd.DataFrame,
    baseline_statistics: dict[str, Any],
    constraints: dict[str, Any],
    *,
    by_position: bool = False,
) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, float]]:
    """Evaluate a current dataset against a baseline, as a monitoring execution does.

    Args:
        current: the current data (captured requests).
        baseline_statistics: the baseline's ``statistics.json``.
        constraints: the baseline's (possibly edited) ``constraints.json``.
        by_position: name the current columns after the baseline features by position
            (captured CSV has no header); extra columns become ``_c<i>``.

    Returns:
        ``(statistics, violations, drift)``: the current data's ``statistics.json``, the
        ``violations`` list of ``constraint_violations.json``, and each compared feature's
        drift distance. Costs nothing (lab 04).
    """
    base_feats = {f["name"]: f for f in baseline_statistics.get("features", [])}
    cons = constraints.get("features", [])
    names = [c["name"] for c in cons]
    cfg = copy.deepcopy(DEFAULT_MONITORING_CONFIG)
    user_cfg = constraints.get("monitoring_config") or {}
    for k, v in user_cfg.items():
        if k == "distribution_constraints" and isinstance(v, dict):
            cfg["distribution_constraints"].update(v)
        else:
            cfg[k] = v
    if by_position:
        cols = [names[i] if i < len(names) else f"_c{i}" for i in range(len(current.columns))]
        current = current.set_axis(cols, axis=1)
    stats = statistics(current)
    cur_feats = {f["name"]: f for f in stats["features"]}
    violations: list[dict[str, Any]] = []
    drift: dict[str, float] = {}
    missing = [n for n in names if n not in cur_feats]
    extra = [n for n in cur_feats if n not in set(names)]
    if missing:
        violations.append(
            {
                "feature_name": ",".join(missing) if not by_position else missing[0],
                "constraint_check_type": "missing_column_check",
                "description": (
                    "There are missing columns in current dataset. Number of columns in current "
                    f"dataset: {len(cur_feats)}, Number of columns in baseline constraints: "
                    f"{len(names)}. Missing: {', '.join(missing)}"
                ),
            }
        )
    if extra:
        violations.append(
            {
                "feature_name": ",".join(extra) if not by_position else extra[0],
                "constraint_check_type": "extra_column_check",
                "description": (
                    "There are extra columns in current dataset. Number of columns in current "
                    f"dataset: {len(cur_feats)}, Number of columns in baseline constraints: "
                    f"{len(names)}. Extra: {', '.join(extra)}"
                ),
            }
        )
    if str(cfg.get("evaluate_constraints", "Enabled")) != "Enabled":
        return stats, violations, drift
    dist_cfg = cfg["distribution_constraints"]
    dtype_thr = float(cfg.get("datatype_check_threshold", 1.0))
    domain_thr = float(cfg.get("domain_content_threshold", 1.0))
    for c in cons:
        name = c["name"]
        if name not in cur_feats:
            continue
        col = current[name]
        present, num, integral, fractional = _classify(col)
        n = len(col)
        n_present = int(present.sum())
        itype = c.get("inferred_type")
        # data type
        if n_present and itype in {"Integral", "Fractional"}:
            ok = integral if itype == "Integral" else fractional
            frac = float(ok.sum()) / n_present
            if frac < dtype_thr:
                violations.append(
                    {
                        "feature_name": name,
                        "constraint_check_type": "data_type_check",
                        "description": (
                            f"Data type match requirement is not met. Expected data type: {itype}, "
                            f"Expected match: {_pct(dtype_thr)}. Observed: Only {_pct(frac)} of "
                            f"data is {itype}."
                        ),
                    }
                )
        # completeness
        if "completeness" in c and n:
            want = float(c["completeness"])
            got = n_present / n
            if got < want - 1e-12:
                violations.append(
                    {
                        "feature_name": name,
                        "constraint_check_type": "completeness_check",
                        "description": (
                            f"Data completeness requirement is not met. Expected: {_pct(want)} of "
                            f"data is present. Observed: Only {_pct(got)} of data is present."
                        ),
                    }
                )
        # domain
        domains = (c.get("string_constraints") or {}).get("domains")
        if domains and n_present:
            vals = col[present].astype(str)
            frac = float(vals.isin([str(d) for d in domains]).sum()) / n_present
            if frac < domain_thr:
                violations.append(
                    {
                        "feature_name": name,
                        "constraint_check_type": "categorical_values_check",
                        "description": (
                            "Data does not meet the categorical values requirement. Expected: "
                            f"{_pct(domain_thr)} of data in the baseline domain. Observed: Only "
                            f"{_pct(frac)} of data is in the baseline domain."
                        ),
                    }
                )
        # drift
        base = base_feats.get(name)
        if base is None or str(dist_cfg.get("perform_comparison", "Enabled")) != "Enabled":
            continue
        bnum = base.get("numerical_statistics")
        bstr = base.get("string_statistics")
        if bnum is not None and itype in {"Integral", "Fractional"}:
            sketch = bnum["distribution"]["kll"]["sketch"]["data"]
            bvals = [v for level in sketch for v in level]
            cvals = num[present & fractional].to_numpy(dtype=float)
            if not len(cvals) or not bvals:
                continue
            d = _ecdf_distance(bvals, cvals)
            drift[name] = d
            thr = float(dist_cfg.get("comparison_threshold", 0.1))
            flagged = d > thr
            if str(dist_cfg.get("comparison_method", "Robust")) == "Robust":
                flagged = flagged and d > ks_critical(
                    int(bnum["common"]["num_present"]), len(cvals)
                )
            if flagged:
                violations.append(
                    {
                        "feature_name": name,
                        "constraint_check_type": "baseline_drift_check",
                        "description": (
                            f"Baseline drift distance: {d:.6g} exceeds threshold: {thr:g}"
                        ),
                    }
                )
        elif bstr is not None and itype == "String" and n_present:
            bb = bstr["distribution"]["categorical"]["buckets"]
            btotal = sum(float(b["count"]) for b in bb) or 1.0
            bp = {str(b["value"]): float(b["count"]) / btotal for b in bb}
            cp = col[present].astype(str).value_counts(normalize=True).to_dict()
            d = max(abs(bp.get(k, 0.0) - float(cp.get(k, 0.0))) for k in set(bp) | set(cp))
            drift[name] = d
            thr = float(dist_cfg.get("categorical_comparison_threshold", 0.1))
            if d > thr:
                violations.append(
                    {
                        "feature_name": name,
                        "constraint_check_type": "baseline_drift_check",
                        "description": (
                            f"Baseline drift distance: {d:.6g} exceeds threshold: {thr:g}"
                        ),
                    }
                )
    return stats, violations, drift


# ====================================================================== dataset IO


def read_dataset(paths: list[Path], dataset_format: dict[str, Any] | None) -> pd.DataFrame:
    """Read the files of a dataset in the analyzer's ``dataset_format``.

    Args:
        paths: the files (read in order and concatenated).
        dataset_format: ``{"csv": {"header": bool}}`` (default header true),
            ``{"json": {"lines": bool}}`` or ``{"parquet": {}}``.

    Returns:
        One DataFrame (CSV read as text, the analyzer infers the types itself).
    """
    import pandas as pd

    fmt = dataset_format or {"csv": {"header": True}}
    frames = []
    for p in paths:
        if "parquet" in fmt:
            frames.append(pd.read_parquet(p))
        elif "json" in fmt:
            lines = bool((fmt.get("json") or {}).get("lines", True))
            frames.append(pd.read_json(p, lines=lines))
        else:
            header = (fmt.get("csv") or {}).get("header", True)
            df = pd.read_csv(
                p,
                header=0 if header else None,
                dtype=str,
                keep_default_na=True,
                skip_blank_lines=True,
            )
            if not header:
                df.columns = [f"_c{i}" for i in range(len(df.columns))]
            frames.append(df)
    if not frames:
        return pd.DataFrame()
    return pd.concat(frames, ignore_index=True)


def _capture_rows(record: dict[str, Any]) -> list[list[Any] | dict[str, Any]]:
    from mllab.offline.sagemaker.capture import decode_data

    part = (record.get("captureData") or {}).get("endpointInput")
    if not part:
        return []
    raw = decode_data(part).decode("utf-8", errors="replace")
    enc = part.get("encoding")
    ctype = str(part.get("observedContentType", "")).lower()
    if enc == "JSON" or "json" in ctype:
        try:
            obj = json.loads(raw)
        except ValueError:
            return [[raw]]
        if isinstance(obj, dict) and "instances" in obj:
            obj = obj["instances"]
        if isinstance(obj, dict):
            return [obj]
        if isinstance(obj, list) and obj and all(isinstance(o, list | dict) for o in obj):
            return [o if isinstance(o, dict) else list(o) for o in obj]
        return [obj if isinstance(obj, list) else [obj]]
    return [row for row in csv.reader(io.StringIO(raw)) if row]


def captures_frame(records: list[dict[str, Any]]) -> tuple[pd.DataFrame, bool]:
    """Turn captured records into a DataFrame of the requests' features.

    Returns:
        ``(frame, positional)``: positional is True for CSV/JSON-array requests (columns
        ``_c0``, ``_c1``...), False for JSON objects (columns named by their keys).
    """
    import pandas as pd

    rows: list[Any] = []
    for rec in records:
        rows += _capture_rows(rec)
    if rows and all(isinstance(r, dict) for r in rows):
        return pd.DataFrame(rows), False
    width = max((len(r) for r in rows if isinstance(r, list)), default=0)
    data = [list(r) + [None] * (width - len(r)) for r in rows if isinstance(r, list)]
    return pd.DataFrame(data, columns=[f"_c{i}" for i in range(width)], dtype=object), True


# ====================================================================== in-process processing


class ProcessingFailure(Exception):
    """Ends an in-process processing job as ``Failed`` with this FailureReason (verbatim)."""


@dataclass
class ProcessingContext:
    """What an in-process processing job's work function sees (its ``/opt/ml/processing``).

    A thin view of :class:`mllab.offline.sagemaker.processing.ProcessingEnv`, which runs the
    job (downloads the inputs, uploads the outputs, keeps the status).

    Attributes:
        penv: the processing module's job environment.
        env: the job's ``Environment``.
        request: the CreateProcessingJob request.
        account_id: the offline account; ``region`` its region.
        result: what the work leaves for the caller (``run.result`` after the job).
    """

    penv: Any
    env: dict[str, str]
    request: dict[str, Any]
    account_id: str
    region: str
    result: Any = None

    @property
    def root(self) -> Path:
        """The local stand-in for ``/opt/ml/processing``."""
        return self.local(CONTAINER_BASE)

    def local(self, container_path: str) -> Path:
        """Map a container path (``/opt/ml/processing/...``) to the local folder."""
        return Path(self.penv.local(container_path))

    def write_log(self, line: str) -> None:
        """Write a line to the job's CloudWatch Logs stream."""
        self.penv.log(line)


Work = Callable[[ProcessingContext], None]
_IMAGES: dict[str, Work] = {}


def _where() -> tuple[str, str]:
    from mllab import hooks

    lab = hooks.active()
    if lab is None:
        return "123456789012", "us-east-1"
    return str(lab.account_id), str(lab.region)


def _adapt(work: Work, account_id: str, region: str) -> Callable[[Any], Any]:
    """Wrap a :data:`Work` for :func:`mllab.offline.sagemaker.processing.run_processing_job`."""

    def run(penv: Any) -> Any:
        from mllab.offline.sagemaker.training import JobFailure

        ctx = ProcessingContext(
            penv=penv,
            env={k: str(v) for k, v in (penv.environment or {}).items()},
            request=penv.request,
            account_id=account_id,
            region=region,
        )
        try:
            work(ctx)
        except ProcessingFailure as err:
            raise JobFailure(str(err)) from None
        return ctx.result

    return run


def register_processing_image(repo: str, work: Work) -> Callable[[], None]:
    """Run ``CreateProcessingJob`` of an image repository in-process with ``work`` (lab 04; tests).

    The job itself (inputs, outputs, status, logs, stop) is run by
    :mod:`mllab.offline.sagemaker.processing`; ``work`` is the container's analysis.

    Args:
        repo: the ECR repository name, e.g. ``"sagemaker-clarify-processing"``.
        work: called in the job's thread with a :class:`ProcessingContext` after the inputs
            are downloaded; it writes the outputs under their local paths (uploaded
            afterwards) and raises :class:`ProcessingFailure` to fail the job with a reason.

    Returns:
        A function that removes the registration.
    """
    from mllab.offline.sagemaker import processing

    _IMAGES[repo] = work

    def factory(_request: dict[str, Any]) -> Callable[[Any], Any]:
        account_id, region = _where()
        return _adapt(work, account_id, region)

    processing.register_processing_image(repo, factory)

    def remove() -> None:
        if _IMAGES.get(repo) is work:
            _IMAGES.pop(repo, None)
            # processing.py has no unregister yet: drop its entry the same way
            getattr(processing, "_WORK_BY_IMAGE", {}).pop(repo, None)

    return remove


def handles_image(image: str | None) -> bool:
    """True when processing jobs of this image run an in-process analysis registered here."""
    return _repo(image) in _IMAGES


def _moto_backend(account_id: str, region: str) -> Any:
    from moto.sagemaker.models import sagemaker_backends

    return sagemaker_backends[account_id][region]


#: processing job name -> the monitoring schedule ARN that started it
_EXECUTION_JOBS: dict[tuple[str, str, str], str] = {}


@handles("sagemaker", "DescribeProcessingJob", "before")
def _describe_execution_job(call: OfflineCall) -> dict[str, Any] | None:
    """Monitoring executions' jobs also name their schedule (``MonitoringScheduleArn``)."""
    name = str(call.params.get("ProcessingJobName"))
    with _LOCK:
        sched = _EXECUTION_JOBS.get((call.account_id, call.region, name))
    if sched is None:
        return None
    from mllab.offline.sagemaker import processing

    run = processing.get_run(call.account_id, call.region, name)
    if run is None:
        return None
    out = run.describe()
    out["MonitoringScheduleArn"] = sched
    return dict(out)


# ====================================================================== the analyzer container


def _files(folder: Path) -> list[Path]:
    if folder.is_file():
        return [folder]
    return sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith("."))


def _analyzer(ctx: ProcessingContext) -> None:
    """The ``sagemaker-model-monitor-analyzer`` container: baselining or monitoring."""
    env = ctx.env
    out = ctx.local(env.get("output_path") or f"{CONTAINER_BASE}/output")
    out.mkdir(parents=True, exist_ok=True)
    analysis = str(env.get("analysis_type") or "DATA_QUALITY").upper()
    if analysis == "MODEL_QUALITY":
        raise ProcessingFailure(
            "ClientError: model quality baselining and monitoring (analysis_type MODEL_QUALITY) "
            "have no offline emulation yet; data quality (the default analysis) is emulated."
        )
    try:
        fmt = json.loads(env.get("dataset_format") or "null")
    except ValueError:
        raise ProcessingFailure(
            f"ClientError: dataset_format {env.get('dataset_format')!r} is not valid JSON "
            '(e.g. {"csv": {"header": true}}).'
        ) from None
    if env.get("baseline_constraints") or env.get("mllab_captures"):
        _monitor_run(ctx, out, fmt)
        return
    src = env.get("dataset_source")
    if not src:
        raise ProcessingFailure(
            "ClientError: the environment names no dataset_source (the container path of the "
            "baseline dataset, e.g. /opt/ml/processing/input/baseline_dataset_input)."
        )
    files = _files(ctx.local(src))
    if not files:
        raise ProcessingFailure(f"ClientError: no dataset files under {src}.")
    try:
        df = read_dataset(files, fmt)
    except Exception as err:  # noqa: BLE001 - unreadable data: the container's error
        raise ProcessingFailure(
            f"AlgorithmError: Error: could not read the dataset under {src} as {fmt}: {err}"
        ) from None
    stats, cons = baseline(df, _config_override(env))
    (out / "statistics.json").write_text(json.dumps(stats, indent=4))
    (out / "constraints.json").write_text(json.dumps(cons, indent=4))
    ctx.write_log(f"Baselined {len(df)} records with {len(df.columns)} features.")


def _config_override(env: dict[str, str]) -> dict[str, Any] | None:
    method = env.get("categorical_drift_method")
    if method:
        return {"distribution_constraints": {"categorical_drift_method": method}}
    return None


def _monitor_run(ctx: ProcessingContext, out: Path, fmt: Any) -> None:
    env = ctx.env
    cons_path = env.get("baseline_constraints")
    stats_path = env.get("baseline_statistics")
    if not cons_path:
        raise ProcessingFailure(
            "ClientError: the monitoring job has no baseline constraints "
            "(DataQualityBaselineConfig.ConstraintsResource.S3Uri)."
        )
    try:
        constraints = json.loads(ctx.local(cons_path).read_text())
    except (OSError, ValueError) as err:
        raise ProcessingFailure(
            f"ClientError: could not read the baseline constraints {cons_path}: {err}"
        ) from None
    base_stats: dict[str, Any] = {"features": []}
    if stats_path:
        try:
            base_stats = json.loads(ctx.local(stats_path).read_text())
        except (OSError, ValueError):
            base_stats = {"features": []}
    src = ctx.local(env.get("dataset_source") or f"{CONTAINER_BASE}/input/endpoint")
    records: list[dict[str, Any]] = []
    for p in _files(src):
        for line in p.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.strip():
                try:
                    records.append(json.loads(line))
                except ValueError:
                    continue
    if not records:
        raise ProcessingFailure(
            "ClientError: No data to analyze: the endpoint captured no requests in the "
            "analysis window. Invoke the endpoint (with data capture enabled) and run again."
        )
    frame, positional = captures_frame(records)
    stats, violations, drift = compare(frame, base_stats, constraints, by_position=positional)
    (out / "statistics.json").write_text(json.dumps(stats, indent=4))
    (out / "constraint_violations.json").write_text(
        json.dumps({"violations": violations}, indent=4)
    )
    ctx.result = {"violations": violations, "drift": drift, "records": len(frame)}
    ctx.write_log(f"Analyzed {len(frame)} records: {len(violations)} violation(s).")
    cfg = constraints.get("monitoring_config") or {}
    emit = (
        str(cfg.get("emit_metrics", "Enabled")) == "Enabled"
        and str(env.get("publish_cloudwatch_metrics", "Enabled")) == "Enabled"
    )
    if emit:
        _publish(ctx, stats, drift)


def _publish(ctx: ProcessingContext, stats: dict[str, Any], drift: dict[str, float]) -> None:
    endpoint = ctx.env.get("sagemaker_endpoint_name", "")
    schedule = ctx.env.get("sagemaker_monitoring_schedule_name", "")
    dims = [
        {"Name": "Endpoint", "Value": endpoint},
        {"Name": "MonitoringSchedule", "Value": schedule},
    ]
    now = _naive(_now())
    data = []
    for f in stats["features"]:
        common = (f.get("numerical_statistics") or f.get("string_statistics") or {}).get(
            "common", {}
        )
        present = float(common.get("num_present", 0))
        missing = float(common.get("num_missing", 0))
        total = present + missing or 1.0
        values = {
            f"feature_non_null_{f['name']}": present / total,
            f"feature_null_{f['name']}": missing / total,
        }
        if f.get("numerical_statistics"):
            values[f"feature_sum_{f['name']}"] = float(f["numerical_statistics"]["sum"])
        if f["name"] in drift:
            values[f"feature_baseline_drift_{f['name']}"] = drift[f["name"]]
        for name, value in values.items():
            data.append({"MetricName": name, "Value": value, "Timestamp": now, "Dimensions": dims})
    try:
        from moto.cloudwatch.models import cloudwatch_backends

        cloudwatch_backends[ctx.account_id][ctx.region].put_metric_data(METRICS_NAMESPACE, data)
    except Exception:  # noqa: BLE001 - metrics never fail the job
        pass


register_processing_image(ANALYZER_REPO, _analyzer)


# ====================================================================== schedules


@dataclass
class Execution:
    """One monitoring execution (a processing job the schedule started)."""

    schedule: str
    scheduled_time: dt.datetime
    creation_time: dt.datetime
    job_definition_name: str | None
    monitoring_type: str
    endpoint: str | None
    run: Any = None  # mllab.offline.sagemaker.processing.ProcessingRun
    status: str = "Pending"
    failure_reason: str | None = None
    last_modified: dt.datetime = field(default_factory=_now)
    output_uri: str | None = None

    def refresh(self) -> None:
        run = self.run
        if run is None or not run.done.is_set() or self.status not in {"Pending", "InProgress"}:
            if run is not None and not run.done.is_set():
                self.status = "InProgress"
            return
        if run.status == "Completed":
            violations = (run.result or {}).get("violations") or []
            self.status = "CompletedWithViolations" if violations else "Completed"
        elif run.status == "Stopped":
            self.status = "Stopped"
        else:
            self.status = "Failed"
            self.failure_reason = run.failure_reason
        self.last_modified = run.end_time or _now()

    def summary(self) -> dict[str, Any]:
        self.refresh()
        out: dict[str, Any] = {
            "MonitoringScheduleName": self.schedule,
            "ScheduledTime": self.scheduled_time,
            "CreationTime": self.creation_time,
            "LastModifiedTime": self.last_modified,
            "MonitoringExecutionStatus": self.status,
            "MonitoringType": self.monitoring_type,
        }
        if self.run is not None:
            out["ProcessingJobArn"] = self.run.arn
        if self.endpoint:
            out["EndpointName"] = self.endpoint
        if self.failure_reason:
            out["FailureReason"] = self.failure_reason
        if self.job_definition_name:
            out["MonitoringJobDefinitionName"] = self.job_definition_name
        return out


@dataclass
class Schedule:
    """One monitoring schedule (moto has none: kept here)."""

    account_id: str
    region: str
    name: str
    config: dict[str, Any]
    tags: list[dict[str, str]]
    status: str = "Scheduled"
    creation_time: dt.datetime = field(default_factory=_now)
    last_modified: dt.datetime = field(default_factory=_now)
    executions: list[Execution] = field(default_factory=list)
    failure_reason: str | None = None

    @property
    def arn(self) -> str:
        return f"arn:aws:sagemaker:{self.region}:{self.account_id}:monitoring-schedule/{self.name.lower()}"

    @property
    def monitoring_type(self) -> str:
        return str(self.config.get("MonitoringType") or "DataQuality")

    def definition(self) -> dict[str, Any]:
        """The job definition, normalized to the inline ``MonitoringJobDefinition`` shape."""
        inline = self.config.get("MonitoringJobDefinition")
        if inline:
            return copy.deepcopy(inline)
        name = self.config.get("MonitoringJobDefinitionName")
        return job_definition(self.account_id, self.region, str(name), self.monitoring_type)

    def endpoint(self) -> str | None:
        try:
            d = self.definition()
        except AwsError:
            return None
        for inp in d.get("MonitoringInputs") or []:
            ep = (inp.get("EndpointInput") or {}).get("EndpointName")
            if ep:
                return str(ep)
        return None

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "MonitoringScheduleArn": self.arn,
            "MonitoringScheduleName": self.name,
            "MonitoringScheduleStatus": self.status,
            "MonitoringType": self.monitoring_type,
            "CreationTime": self.creation_time,
            "LastModifiedTime": self.last_modified,
            "MonitoringScheduleConfig": copy.deepcopy(self.config),
        }
        ep = self.endpoint()
        if ep:
            out["EndpointName"] = ep
        if self.failure_reason:
            out["FailureReason"] = self.failure_reason
        if self.executions:
            out["LastMonitoringExecutionSummary"] = self.executions[-1].summary()
        return out

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "MonitoringScheduleName": self.name,
            "MonitoringScheduleArn": self.arn,
            "CreationTime": self.creation_time,
            "LastModifiedTime": self.last_modified,
            "MonitoringScheduleStatus": self.status,
            "MonitoringType": self.monitoring_type,
        }
        ep = self.endpoint()
        if ep:
            out["EndpointName"] = ep
        if self.config.get("MonitoringJobDefinitionName"):
            out["MonitoringJobDefinitionName"] = self.config["MonitoringJobDefinitionName"]
        return out


_SCHEDULES: dict[tuple[str, str, str], Schedule] = {}

_DEFINITION_KINDS = {
    "DataQuality": ("data_quality_job_definitions", "DataQuality"),
    "ModelQuality": ("model_quality_job_definitions", "ModelQuality"),
    "ModelBias": ("model_bias_job_definitions", "ModelBias"),
    "ModelExplainability": ("model_explainability_job_definitions", "ModelExplainability"),
}


def job_definition(account_id: str, region: str, name: str, monitoring_type: str) -> dict[str, Any]:
    """A monitoring job definition (stored by moto) in the inline ``MonitoringJobDefinition`` shape.

    Raises:
        AwsError: ``ResourceNotFound`` when there is no such definition.
    """
    attr, prefix = _DEFINITION_KINDS.get(monitoring_type, _DEFINITION_KINDS["DataQuality"])
    be = _moto_backend(account_id, region)
    store = getattr(be, attr, {}) or {}
    d = store.get(name)
    if d is None:
        raise AwsError("ResourceNotFound", f"Job definition {name} not found")
    snake = lambda s: re.sub(r"(?<!^)(?=[A-Z])", "_", s).lower()  # noqa: E731
    get = lambda key: copy.deepcopy(getattr(d, snake(key), None) or {})  # noqa: E731
    app = get(f"{prefix}AppSpecification")
    base = get(f"{prefix}BaselineConfig")
    job_in = get(f"{prefix}JobInput")
    job_out = get(f"{prefix}JobOutputConfig")
    env = dict(app.pop("Environment", None) or {})
    env.update(getattr(d, "environment", None) or {})
    inline: dict[str, Any] = {
        "BaselineConfig": base,
        "MonitoringInputs": [
            {k: v for k, v in job_in.items() if k in {"EndpointInput", "BatchTransformInput"}}
        ],
        "MonitoringOutputConfig": job_out,
        "MonitoringResources": get("JobResources"),
        "MonitoringAppSpecification": app,
        "StoppingCondition": get("StoppingCondition"),
        "Environment": env,
        "NetworkConfig": get("NetworkConfig"),
        "RoleArn": getattr(d, "role_arn", None),
    }
    if "GroundTruthS3Input" in job_in:
        inline["GroundTruthS3Input"] = job_in["GroundTruthS3Input"]
    return inline


def _schedule(account_id: str, region: str, name: str) -> Schedule:
    with _LOCK:
        s = _SCHEDULES.get((account_id, region, name))
    if s is None:
        raise AwsError(
            "ResourceNotFound",
            f"Monitoring schedule arn:aws:sagemaker:{region}:{account_id}:monitoring-schedule/"
            f"{name.lower()} does not exist.",
        )
    return s


def _validate_config(account_id: str, region: str, cfg: dict[str, Any]) -> None:
    inline = cfg.get("MonitoringJobDefinition")
    name = cfg.get("MonitoringJobDefinitionName")
    if not inline and not name:
        raise AwsError(
            "ValidationException",
            "Either MonitoringJobDefinition or MonitoringJobDefinitionName must be provided in "
            "MonitoringScheduleConfig.",
        )
    if inline and name:
        raise AwsError(
            "ValidationException",
            "MonitoringJobDefinition and MonitoringJobDefinitionName cannot both be provided.",
        )
    if name:
        mtype = str(cfg.get("MonitoringType") or "")
        if not mtype:
            raise AwsError(
                "ValidationException",
                "MonitoringType must be provided when MonitoringJobDefinitionName is used.",
            )
        job_definition(account_id, region, str(name), mtype)
    sched = cfg.get("ScheduleConfig") or {}
    expr = sched.get("ScheduleExpression")
    if expr is not None and not (
        str(expr) == "NOW" or str(expr).startswith("cron(") and str(expr).endswith(")")
    ):
        raise AwsError(
            "ValidationException",
            f"Invalid ScheduleExpression {expr}: use cron(...) (hourly: cron(0 * ? * * *)) or NOW.",
        )
    if str(expr) == "NOW" and not (
        sched.get("DataAnalysisStartTime") and sched.get("DataAnalysisEndTime")
    ):
        raise AwsError(
            "ValidationException",
            "A one-time schedule (ScheduleExpression NOW) needs DataAnalysisStartTime and "
            "DataAnalysisEndTime, e.g. -PT1H and -PT0H.",
        )


@handles("sagemaker", "CreateMonitoringSchedule", "before")
def _create_schedule(call: OfflineCall) -> dict[str, Any]:
    p = call.params
    name = str(p.get("MonitoringScheduleName", ""))
    if not re.match(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$", name):
        raise AwsError(
            "ValidationException",
            f"1 validation error detected: Value '{name}' at 'monitoringScheduleName' failed to "
            "satisfy constraint: Member must satisfy regular expression pattern: "
            "^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}",
        )
    cfg = copy.deepcopy(p.get("MonitoringScheduleConfig") or {})
    if cfg.get("MonitoringJobDefinition") and not cfg.get("MonitoringType"):
        cfg["MonitoringType"] = "DataQuality"
    _validate_config(call.account_id, call.region, cfg)
    key = (call.account_id, call.region, name)
    with _LOCK:
        if key in _SCHEDULES:
            raise AwsError(
                "ResourceInUse",
                f"Monitoring Schedule arn:aws:sagemaker:{call.region}:{call.account_id}:"
                f"monitoring-schedule/{name.lower()} already exists.",
            )
        s = _SCHEDULES[key] = Schedule(
            call.account_id, call.region, name, cfg, list(p.get("Tags") or [])
        )
    return {"MonitoringScheduleArn": s.arn}


@handles("sagemaker", "DescribeMonitoringSchedule", "before")
def _describe_schedule(call: OfflineCall) -> dict[str, Any]:
    s = _schedule(call.account_id, call.region, str(call.params.get("MonitoringScheduleName")))
    with _LOCK:
        return s.describe()


@handles("sagemaker", "UpdateMonitoringSchedule", "before")
def _update_schedule(call: OfflineCall) -> dict[str, Any]:
    s = _schedule(call.account_id, call.region, str(call.params.get("MonitoringScheduleName")))
    cfg = copy.deepcopy(call.params.get("MonitoringScheduleConfig") or {})
    if cfg.get("MonitoringJobDefinition") and not cfg.get("MonitoringType"):
        cfg["MonitoringType"] = s.monitoring_type
    _validate_config(call.account_id, call.region, cfg)
    with _LOCK:
        s.config = cfg
        s.last_modified = _now()
    return {"MonitoringScheduleArn": s.arn}


@handles("sagemaker", "DeleteMonitoringSchedule", "before")
def _delete_schedule(call: OfflineCall) -> dict[str, Any]:
    s = _schedule(call.account_id, call.region, str(call.params.get("MonitoringScheduleName")))
    with _LOCK:
        _SCHEDULES.pop((s.account_id, s.region, s.name), None)
    return {}


@handles("sagemaker", "StopMonitoringSchedule", "before")
def _stop_schedule(call: OfflineCall) -> dict[str, Any]:
    s = _schedule(call.account_id, call.region, str(call.params.get("MonitoringScheduleName")))
    with _LOCK:
        s.status = "Stopped"
        s.last_modified = _now()
    return {}


@handles("sagemaker", "StartMonitoringSchedule", "before")
def _start_schedule(call: OfflineCall) -> dict[str, Any]:
    s = _schedule(call.account_id, call.region, str(call.params.get("MonitoringScheduleName")))
    with _LOCK:
        s.status = "Scheduled"
        s.last_modified = _now()
    return {}


def _page(items: list[dict[str, Any]], params: dict[str, Any], key: str) -> dict[str, Any]:
    start = int(params.get("NextToken") or 0)
    size = int(params.get("MaxResults") or 100)
    out: dict[str, Any] = {key: items[start : start + size]}
    if start + size < len(items):
        out["NextToken"] = str(start + size)
    return out


def _aware(value: Any) -> dt.datetime | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    return dt.datetime.fromtimestamp(float(value), dt.UTC)


@handles("sagemaker", "ListMonitoringSchedules", "before")
def _list_schedules(call: OfflineCall) -> dict[str, Any]:
    p = call.params
    with _LOCK:
        found = [
            s
            for s in _SCHEDULES.values()
            if (s.account_id, s.region) == (call.account_id, call.region)
        ]
    if p.get("EndpointName"):
        found = [s for s in found if s.endpoint() == p["EndpointName"]]
    if p.get("NameContains"):
        found = [s for s in found if str(p["NameContains"]).lower() in s.name.lower()]
    if p.get("StatusEquals"):
        found = [s for s in found if s.status == p["StatusEquals"]]
    if p.get("MonitoringJobDefinitionName"):
        found = [
            s
            for s in found
            if s.config.get("MonitoringJobDefinitionName") == p["MonitoringJobDefinitionName"]
        ]
    if p.get("MonitoringTypeEquals"):
        found = [s for s in found if s.monitoring_type == p["MonitoringTypeEquals"]]
    for key, cmp in (("CreationTimeBefore", "lt"), ("CreationTimeAfter", "gt")):
        t = _aware(p.get(key))
        if t is not None:
            found = [
                s for s in found if (s.creation_time < t if cmp == "lt" else s.creation_time > t)
            ]
    sort = p.get("SortBy") or "CreationTime"
    keyf = {"Name": lambda s: s.name, "Status": lambda s: s.status}.get(
        sort, lambda s: s.creation_time
    )
    found.sort(key=keyf, reverse=(p.get("SortOrder") or "Descending") == "Descending")
    with _LOCK:
        return _page([s.summary() for s in found], p, "MonitoringScheduleSummaries")


@handles("sagemaker", "ListMonitoringExecutions", "before")
def _list_executions(call: OfflineCall) -> dict[str, Any]:
    p = call.params
    with _LOCK:
        scheds = [
            s
            for s in _SCHEDULES.values()
            if (s.account_id, s.region) == (call.account_id, call.region)
        ]
        execs = [e for s in scheds for e in s.executions]
        sums = [e.summary() for e in execs]
    if p.get("MonitoringScheduleName"):
        sums = [x for x in sums if x["MonitoringScheduleName"] == p["MonitoringScheduleName"]]
    if p.get("EndpointName"):
        sums = [x for x in sums if x.get("EndpointName") == p["EndpointName"]]
    if p.get("StatusEquals"):
        sums = [x for x in sums if x["MonitoringExecutionStatus"] == p["StatusEquals"]]
    if p.get("MonitoringJobDefinitionName"):
        sums = [
            x
            for x in sums
            if x.get("MonitoringJobDefinitionName") == p["MonitoringJobDefinitionName"]
        ]
    if p.get("MonitoringTypeEquals"):
        sums = [x for x in sums if x["MonitoringType"] == p["MonitoringTypeEquals"]]
    for key, field_, cmp in (
        ("ScheduledTimeBefore", "ScheduledTime", "lt"),
        ("ScheduledTimeAfter", "ScheduledTime", "gt"),
        ("CreationTimeBefore", "CreationTime", "lt"),
        ("CreationTimeAfter", "CreationTime", "gt"),
    ):
        t = _aware(p.get(key))
        if t is not None:
            sums = [x for x in sums if (x[field_] < t if cmp == "lt" else x[field_] > t)]
    sort = p.get("SortBy") or "ScheduledTime"
    keyf = {
        "Status": lambda x: x["MonitoringExecutionStatus"],
        "CreationTime": lambda x: x["CreationTime"],
    }.get(sort, lambda x: x["ScheduledTime"])
    sums.sort(key=keyf, reverse=(p.get("SortOrder") or "Descending") == "Descending")
    return _page(sums, p, "MonitoringExecutionSummaries")


# ====================================================================== tick


def _capture_destination(account_id: str, region: str, endpoint: str) -> str:
    be = _moto_backend(account_id, region)
    ep = be.endpoints.get(endpoint)
    if ep is None:
        raise AwsError("ValidationException", f'Could not find endpoint "{endpoint}".')
    cfg = be.endpoint_configs.get(ep.endpoint_config_name)
    dest = ((getattr(cfg, "data_capture_config", None) or {}) if cfg else {}).get(
        "DestinationS3Uri"
    )
    if not dest:
        raise AwsError(
            "ValidationException",
            f"Endpoint {endpoint} has no data capture: create its endpoint config with "
            "DataCaptureConfig (EnableCapture, DestinationS3Uri, CaptureOptions) before monitoring it.",
        )
    return str(dest)


def _in_window(uri_key: str, start: dt.datetime | None, end: dt.datetime) -> bool:
    m = re.search(r"/(\d{4})/(\d{2})/(\d{2})/(\d{2})/[^/]+$", uri_key)
    if not m:
        return True
    y, mo, d, h = (int(x) for x in m.groups())
    hour = dt.datetime(y, mo, d, h, tzinfo=dt.UTC)
    if hour > end:
        return False
    return start is None or hour + dt.timedelta(hours=1) > start


def tick(
    session_or_lab: Any,
    schedule_name: str,
    *,
    window: str | dt.timedelta | None = "PT1H",
    wait: bool = True,
    timeout: float = 120.0,
) -> dict[str, Any]:
    """Run a monitoring schedule now, as its cron would (offline there is no scheduler).

    The execution analyzes the endpoint's captured requests whose ``inferenceTime`` falls in
    the analysis window, ending now: the last hour by default (an hourly schedule analyzes
    the previous hour), ``window=None`` (or ``"all"``) for every capture. It is a processing
    job (``ProcessingJobArn``) whose status becomes ``Completed``, ``CompletedWithViolations``
    or ``Failed``; the report goes to ``<S3Uri>/<endpoint>/<schedule>/<yyyy>/<mm>/<dd>/<hh>/``.

    Args:
        session_or_lab: the lab (``lab``) or its ``lab.session``.
        schedule_name: the monitoring schedule.
        window: the analysis window: an ISO-8601 duration (``"PT1H"``, ``"PT30M"``), a
            ``timedelta``, or None/``"all"`` for all captured data.
        wait: block until the execution ends (default).
        timeout: seconds to wait at most.

    Returns:
        The execution's summary (as ``ListMonitoringExecutions`` gives it), plus
        ``"ReportUri"`` (the output folder). On AWS each execution bills its processing
        instance (a few cents per hourly run on ml.m5.large); offline nothing (lab 04).

    Raises:
        botocore.exceptions.ClientError: the schedule does not exist, is stopped, or its
            endpoint has no data capture.
    """
    session = getattr(session_or_lab, "session", session_or_lab)
    region = session.region_name
    account_id = _account_of(session_or_lab)
    try:
        s = _schedule(account_id, region, schedule_name)
        if s.status == "Stopped":
            raise AwsError(
                "ValidationException",
                f"Monitoring schedule {schedule_name} is Stopped: StartMonitoringSchedule first.",
            )
        execution = _start_execution(s, window)
    except AwsError as err:
        from botocore.exceptions import ClientError

        raise ClientError(
            {"Error": {"Code": err.code, "Message": err.message}}, "MonitoringScheduleTick"
        ) from None
    if wait and execution.run is not None:
        execution.run.done.wait(timeout)
    with _LOCK:
        out = execution.summary()
    out["ReportUri"] = execution.output_uri
    return out


def _account_of(session_or_lab: Any) -> str:
    acct = getattr(session_or_lab, "account_id", None)
    if acct:
        return str(acct)
    from mllab import hooks

    lab = hooks.active()
    if lab is not None:
        return str(lab.account_id)
    return "123456789012"


def _parse_window(window: str | dt.timedelta | None) -> dt.timedelta | None:
    if window is None or window == "all":
        return None
    if isinstance(window, dt.timedelta):
        return window
    m = re.fullmatch(r"-?PT(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?", str(window))
    if not m or not any(m.groups()):
        raise AwsError(
            "ValidationException", f"window {window!r} is not an ISO-8601 duration such as PT1H."
        )
    h, mi, se = (int(x or 0) for x in m.groups())
    return dt.timedelta(hours=h, minutes=mi, seconds=se)


def _start_execution(s: Schedule, window: str | dt.timedelta | None) -> Execution:
    from mllab.offline.sagemaker import s3io
    from mllab.offline.sagemaker.capture import capture_prefix

    span = _parse_window(window)
    defn = s.definition()
    now = _now()
    start = now - span if span is not None else None
    endpoint = s.endpoint()
    mtype = s.monitoring_type
    execution = Execution(
        schedule=s.name,
        scheduled_time=now.replace(minute=0, second=0, microsecond=0),
        creation_time=now,
        job_definition_name=s.config.get("MonitoringJobDefinitionName"),
        monitoring_type=mtype,
        endpoint=endpoint,
    )
    batch = None
    for inp in defn.get("MonitoringInputs") or []:
        batch = batch or inp.get("BatchTransformInput")
    if not endpoint and not batch:
        raise AwsError("ValidationException", "The job definition has no EndpointInput.")
    if endpoint:
        capture_uri = capture_prefix(
            _capture_destination(s.account_id, s.region, endpoint), endpoint
        )
        local_in = (
            next(
                (
                    (i.get("EndpointInput") or {}).get("LocalPath")
                    for i in defn.get("MonitoringInputs") or []
                    if i.get("EndpointInput")
                ),
                None,
            )
            or f"{CONTAINER_BASE}/input/endpoint"
        )
    else:
        assert batch is not None
        capture_uri = str(batch["DataCapturedDestinationS3Uri"]).rstrip("/") + "/"
        local_in = batch.get("LocalPath") or f"{CONTAINER_BASE}/input/transform"
    outputs = (defn.get("MonitoringOutputConfig") or {}).get("MonitoringOutputs") or []
    out_s3 = (outputs[0].get("S3Output") if outputs else None) or {}
    if not out_s3.get("S3Uri"):
        raise AwsError(
            "ValidationException", "The job definition has no MonitoringOutputs S3Output."
        )
    stamp = execution.scheduled_time.strftime("%Y/%m/%d/%H")
    report = f"{str(out_s3['S3Uri']).rstrip('/')}/{endpoint or 'batch-transform'}/{s.name}/{stamp}"
    execution.output_uri = report + "/"
    local_out = out_s3.get("LocalPath") or f"{CONTAINER_BASE}/output"
    base_cfg = defn.get("BaselineConfig") or {}
    cons_uri = (base_cfg.get("ConstraintsResource") or {}).get("S3Uri")
    stats_uri = (base_cfg.get("StatisticsResource") or {}).get("S3Uri")
    env: dict[str, str] = {
        "dataset_format": json.dumps(
            {"sagemakerCaptureJson": {"captureIndexNames": ["endpointInput", "endpointOutput"]}}
        ),
        "dataset_source": local_in,
        "output_path": local_out,
        "publish_cloudwatch_metrics": "Enabled",
        "sagemaker_monitoring_schedule_name": s.name,
        "start_time": (start or dt.datetime(1970, 1, 1, tzinfo=dt.UTC)).strftime(
            "%Y-%m-%dT%H:%M:%SZ"
        ),
        "end_time": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "metric_time": execution.scheduled_time.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "mllab_captures": "1",
    }
    if endpoint:
        env["sagemaker_endpoint_name"] = endpoint
    inputs: list[dict[str, Any]] = []
    if cons_uri:
        env["baseline_constraints"] = f"{CONTAINER_BASE}/baseline/constraints/constraints.json"
        inputs.append(
            {
                "InputName": "constraints",
                "S3Input": {
                    "S3Uri": cons_uri,
                    "LocalPath": f"{CONTAINER_BASE}/baseline/constraints",
                    "S3DataType": "S3Prefix",
                    "S3InputMode": "File",
                },
            }
        )
    if stats_uri:
        env["baseline_statistics"] = f"{CONTAINER_BASE}/baseline/stats/statistics.json"
        inputs.append(
            {
                "InputName": "baseline",
                "S3Input": {
                    "S3Uri": stats_uri,
                    "LocalPath": f"{CONTAINER_BASE}/baseline/stats",
                    "S3DataType": "S3Prefix",
                    "S3InputMode": "File",
                },
            }
        )
    env.update({k: str(v) for k, v in (defn.get("Environment") or {}).items()})
    app = defn.get("MonitoringAppSpecification") or {}
    job_name = f"model-monitoring-{now.strftime('%Y%m%d%H%M')}-{uuid.uuid4().hex[:8]}"
    request: dict[str, Any] = {
        "ProcessingJobName": job_name,
        "ProcessingInputs": inputs,
        "ProcessingOutputConfig": {
            "Outputs": [
                {
                    "OutputName": "result",
                    "S3Output": {
                        "S3Uri": report,
                        "LocalPath": local_out,
                        "S3UploadMode": "EndOfJob",
                    },
                }
            ]
        },
        "ProcessingResources": copy.deepcopy(defn.get("MonitoringResources") or {}),
        "StoppingCondition": copy.deepcopy(
            defn.get("StoppingCondition") or {"MaxRuntimeInSeconds": 3600}
        ),
        "AppSpecification": {"ImageUri": app.get("ImageUri") or ANALYZER_REPO},
        "Environment": env,
        "RoleArn": defn.get("RoleArn"),
    }
    end = now

    def stage(ctx: ProcessingContext) -> None:
        dest = ctx.local(local_in)
        dest.mkdir(parents=True, exist_ok=True)
        kept = 0
        for key, _size in s3io.list_keys(s.account_id, capture_uri):
            if not key.endswith((".jsonl", ".json")) or not _in_window(key, start, end):
                continue
            bucket = capture_uri[5:].split("/", 1)[0]
            text = s3io.get_bytes(s.account_id, f"s3://{bucket}/{key}").decode("utf-8", "replace")
            lines = []
            for line in text.splitlines():
                try:
                    rec = json.loads(line)
                except ValueError:
                    continue
                t = _inference_time(rec)
                if t is None or ((start is None or t >= start) and t <= end):
                    lines.append(line)
            if lines:
                kept += len(lines)
                target = dest / key.replace("/", "_")
                target.write_text("\n".join(lines) + "\n")
        ctx.write_log(f"Staged {kept} captured record(s) from {capture_uri}")

    analysis = _IMAGES.get(_repo(app.get("ImageUri"))) or _analyzer

    def work(ctx: ProcessingContext) -> None:
        stage(ctx)
        analysis(ctx)

    from mllab.offline.sagemaker import processing

    with _LOCK:
        _EXECUTION_JOBS[(s.account_id, s.region, job_name)] = s.arn
    execution.run = processing.run_processing_job(
        request,
        _adapt(work, s.account_id, s.region),
        account_id=s.account_id,
        region=s.region,
        create_in_moto=True,
    )
    execution.status = "InProgress"
    with _LOCK:
        s.executions.append(execution)
    return execution


def _inference_time(rec: dict[str, Any]) -> dt.datetime | None:
    t = (rec.get("eventMetadata") or {}).get("inferenceTime")
    if not t:
        return None
    try:
        return dt.datetime.fromisoformat(str(t).replace("Z", "+00:00"))
    except ValueError:
        return None


# ====================================================================== reset


@on_reset
def _reset() -> None:
    """Forget schedules and executions (the lab closed; processing stops the jobs)."""
    with _LOCK:
        _SCHEDULES.clear()
        _EXECUTION_JOBS.clear()
