"""Shared pieces of the built-in algorithm emulations (introduced in lab 02).

Two validation dialects exist because AWS has two families of built-in containers:

* ``"toolkit"``: the open-source ``sagemaker-xgboost-container`` (sagemaker_algorithm_toolkit),
  whose messages read ``Missing required hyperparameter: num_round``.
* ``"aialgs"``: the first-party "AI algorithms" containers (Linear Learner, K-Means, PCA, ...),
  whose messages read ``No value(s) were specified for 'k' which are required
  hyperparameter(s) (caused by ValidationError)``.

Nothing here imports pandas, sklearn or xgboost at module level.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mllab.offline.sagemaker.contract import AlgorithmError, ClientError, TrainingEnv

__all__ = [
    "AlgorithmError",
    "ClientError",
    "HP",
    "validate_hyperparameters",
]

RECORDIO = "application/x-recordio-protobuf"
CSV = "text/csv"
JSON = "application/json"
JSONLINES = "application/jsonlines"

# Hyperparameters SageMaker itself may add to any built-in algorithm's job.
PLATFORM_HYPERPARAMETERS = {"_tuning_objective_metric"}


# --------------------------------------------------------------------------- hyperparameters


@dataclass(eq=False)
class HP:
    """One hyperparameter of a built-in algorithm.

    Attributes:
        name: as the algorithm's documentation spells it.
        kind: ``int``, ``float``, ``cat`` (one of ``choices``), ``bool`` (``true``/``false``),
            ``str``, ``int_or_auto``, ``float_or_auto``, ``float_or_cat`` (a number or one of
            ``choices``), ``list`` (comma-separated, each in ``choices`` when given).
        required: whether the job fails without it.
        default: the documented default (already parsed), or None.
        lo: lower bound (closed unless ``lo_open``).
        hi: upper bound (closed unless ``hi_open``).
        choices: allowed values for ``cat``/``list``/``float_or_cat``.
    """

    name: str
    kind: str = "float"
    required: bool = False
    default: Any = None
    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False
    hi_open: bool = False
    choices: Sequence[str] | None = None
    aliases: Sequence[str] = field(default_factory=tuple)

    def interval(self) -> str:
        left = (
            f"({self.lo}, "
            if self.lo_open
            else (f"[{self.lo}, " if self.lo is not None else "(-inf, ")
        )
        right = (
            f"{self.hi})" if self.hi_open else (f"{self.hi}]" if self.hi is not None else "+inf)")
        )
        return left + right

    def in_range(self, v: float) -> bool:
        if self.lo is not None and (v <= self.lo if self.lo_open else v < self.lo):
            return False
        if self.hi is not None and (v >= self.hi if self.hi_open else v > self.hi):
            return False
        return True


def _fail(dialect: str, message: str) -> ClientError:
    if dialect == "aialgs":
        return ClientError(f"{message} (caused by ValidationError)")
    return ClientError(message)


def _parse_number(text: str, integer: bool) -> float | int:
    t = text.strip()
    if integer:
        f = float(t)
        if not math.isfinite(f) or f != int(f):
            raise ValueError(t)
        return int(f)
    f = float(t)
    if math.isnan(f):
        raise ValueError(t)
    return f


def _parse_one(hp: HP, raw: Any, dialect: str) -> Any:
    text = str(raw).strip()
    kind = hp.kind
    bad_parse = (
        f"Hyperparameter {hp.name}: could not parse value"
        if dialect == "toolkit"
        else f"Hyperparameter '{hp.name}' has an invalid value '{text}': expected {_kind_words(hp)}"
    )
    if kind in ("int_or_auto", "float_or_auto") and text.lower() == "auto":
        return "auto"
    if kind == "float_or_cat" and hp.choices and text in hp.choices:
        return text
    if kind in ("int", "float", "int_or_auto", "float_or_auto", "float_or_cat"):
        try:
            value = _parse_number(text, integer=kind in ("int", "int_or_auto"))
        except ValueError:
            raise _fail(dialect, bad_parse) from None
        if not hp.in_range(value):
            if dialect == "toolkit":
                raise ClientError(
                    f"Hyperparameter {hp.name}: {_fmt(value)} is not in {hp.interval()}"
                )
            raise _fail(
                dialect,
                f"Hyperparameter '{hp.name}' has an invalid value {_fmt(value)}: it must be in "
                f"{hp.interval()}",
            )
        return value
    if kind == "bool":
        low = text.lower()
        if low in ("true", "1"):
            return True
        if low in ("false", "0"):
            return False
        raise _fail(
            dialect, bad_parse if dialect == "toolkit" else f"{bad_parse} ('true' or 'false')"
        )
    if kind == "cat":
        if hp.choices and text not in hp.choices:
            if dialect == "toolkit":
                raise ClientError(f"Hyperparameter {hp.name}: {text} is not in {list(hp.choices)}")
            raise _fail(
                dialect,
                f"Hyperparameter '{hp.name}' has an invalid value '{text}': it must be one of "
                f"{list(hp.choices)}",
            )
        return text
    if kind == "list":
        items = [s.strip() for s in text.split(",") if s.strip()]
        if hp.choices:
            for it in items:
                base = it.split("@")[0]
                if it not in hp.choices and base not in hp.choices:
                    if dialect == "toolkit":
                        raise ClientError(
                            f"Hyperparameter {hp.name}: value {items} not in range {list(hp.choices)}"
                        )
                    raise _fail(
                        dialect,
                        f"Hyperparameter '{hp.name}' has an invalid value '{it}': each entry must be "
                        f"one of {list(hp.choices)}",
                    )
        return items
    return text


def _kind_words(hp: HP) -> str:
    return {
        "int": "an integer",
        "float": "a number",
        "int_or_auto": "an integer or 'auto'",
        "float_or_auto": "a number or 'auto'",
        "float_or_cat": f"a number or one of {list(hp.choices or [])}",
        "bool": "a boolean",
    }.get(hp.kind, "a string")


def _fmt(v: float | int) -> str:
    return str(int(v)) if isinstance(v, float) and v.is_integer() else str(v)


def validate_hyperparameters(
    spec: Iterable[HP], given: dict[str, Any], dialect: str = "aialgs"
) -> dict[str, Any]:
    """Check ``given`` (strings, as SageMaker passes them) against ``spec``.

    Args:
        spec: the algorithm's hyperparameters.
        given: the job's HyperParameters.
        dialect: ``"toolkit"`` (XGBoost container wording) or ``"aialgs"`` (first-party).

    Returns:
        Every hyperparameter of ``spec`` parsed (defaults filled in; missing optional ones
        without a default are absent).

    Raises:
        ClientError: a required one is missing, an unknown one is given, or a value does not
            parse or lies out of range; worded as the real container words it.
    """
    by_name: dict[str, HP] = {}
    for hp in spec:
        by_name[hp.name] = hp
        for alias in hp.aliases:
            by_name[alias] = hp
    canonical: dict[str, Any] = {}
    for name, raw in given.items():
        if name in PLATFORM_HYPERPARAMETERS:
            continue
        found = by_name.get(name)
        if found is None:
            if dialect == "toolkit":
                raise ClientError(f"Extraneous hyperparameter found: {name}")
            raise _fail(
                dialect, f"Additional hyperparameters are not allowed ('{name}' was unexpected)"
            )
        canonical[found.name] = raw
    missing = [hp.name for hp in by_name.values() if hp.required and hp.name not in canonical]
    missing = list(dict.fromkeys(missing))
    if missing:
        if dialect == "toolkit":
            raise ClientError(f"Missing required hyperparameter: {missing[0]}")
        names = ", ".join(f"'{m}'" for m in missing)
        raise _fail(
            dialect, f"No value(s) were specified for {names} which are required hyperparameter(s)"
        )
    out: dict[str, Any] = {}
    for hp in dict.fromkeys(by_name.values()):
        if hp.name in canonical:
            out[hp.name] = _parse_one(hp, canonical[hp.name], dialect)
        elif hp.default is not None:
            out[hp.name] = hp.default
    return out


# --------------------------------------------------------------------------- content types


def parse_content_type(value: str | None) -> tuple[str, dict[str, str]]:
    """Split ``text/csv;label_size=0`` into ``("text/csv", {"label_size": "0"})`` (lower-cased).

    Args:
        value: a ContentType or Accept value.

    Returns:
        The media type and its parameters ("" when value is None).
    """
    if not value:
        return "", {}
    parts = [p.strip() for p in value.split(";")]
    params = {}
    for p in parts[1:]:
        if "=" in p:
            k, v = p.split("=", 1)
            params[k.strip().lower()] = v.strip().strip('"')
    return parts[0].lower(), params


def aialgs_content_type(
    channel: str, value: str | None, allowed: Sequence[str], default: str | None = None
) -> tuple[str, dict[str, str]]:
    """Resolve a first-party algorithm channel's ContentType, failing as the container does.

    Args:
        channel: the channel name (for the message).
        value: the channel's ContentType (None when not given).
        allowed: accepted media types.
        default: what the algorithm assumes when ContentType is absent (None: it must be set).

    Returns:
        The media type and parameters.

    Raises:
        ClientError: ``No iterator has been registered for ContentType (...)``.
    """
    if not value:
        if default is None:
            raise ClientError(
                f"No iterator has been registered for ContentType ('None', '1.0') in channel "
                f"'{channel}'. Set ContentType to one of {list(allowed)}"
            )
        return default, {}
    media, params = parse_content_type(value)
    if media not in allowed:
        raise ClientError(
            f"No iterator has been registered for ContentType ('{value}', '1.0'). "
            f"Channel '{channel}' accepts ContentType {list(allowed)}"
        )
    return media, params


# --------------------------------------------------------------------------- channels and files


def opt_ml(env: TrainingEnv, path: Path) -> str:
    """Render ``path`` as the container sees it (``/opt/ml/...``)."""
    try:
        return "/opt/ml/" + str(path.relative_to(env.root))
    except ValueError:
        return str(path)


def channel_files(env: TrainingEnv, channel: str) -> list[Path]:
    """The data files of a channel (recursively, skipping hidden and ``_`` files), sorted.

    Args:
        env: the job's tree.
        channel: the channel name.

    Returns:
        The files (may be empty).
    """
    d = env.channel_dir(channel)
    if not d.exists():
        return []
    return sorted(
        p
        for p in d.rglob("*")
        if p.is_file() and not p.name.startswith((".", "_")) and ".sagemaker" not in p.name
    )


def require_files(env: TrainingEnv, channel: str) -> list[Path]:
    """Like :func:`channel_files` but failing when the channel is empty.

    Args:
        env: the job's tree.
        channel: the channel name.

    Returns:
        The non-empty files.

    Raises:
        ClientError: the channel has no data.
    """
    files = [p for p in channel_files(env, channel) if p.stat().st_size > 0]
    if not files:
        raise ClientError(
            f"No data found in channel '{channel}' ({opt_ml(env, env.channel_dir(channel))} is empty). "
            "Check the channel's S3Uri: it must point to an object or prefix holding the data."
        )
    return files


_NUM_RE = re.compile(r"^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$|^\s*(nan|NaN|inf|-inf)?\s*$")


def _looks_numeric(cell: str) -> bool:
    return bool(_NUM_RE.match(cell))


def _fast_numeric(lines: list[str]) -> np.ndarray | None:
    """Parse well-formed numeric CSV lines with pandas' C parser; None when not well-formed.

    Rows must all have the same number of fields and every cell must be a number (or empty);
    otherwise the caller's line-by-line reading finds the fault and words the error.
    """
    widths = {ln.count(",") for ln in lines}
    if len(widths) != 1:
        return None
    import io

    import pandas as pd

    try:
        frame = pd.read_csv(
            io.StringIO("\n".join(lines)), header=None, dtype=np.float64, engine="c"
        )
    except (ValueError, TypeError):
        return None
    return frame.to_numpy(dtype=np.float64)


def read_csv(
    env: TrainingEnv,
    channel: str,
    *,
    dialect: str = "aialgs",
    expect_columns: int | None = None,
) -> np.ndarray:
    """Read every CSV file of a channel into one float matrix, as a built-in algorithm does.

    Args:
        env: the job's tree.
        channel: the channel.
        dialect: wording of the errors (``aialgs`` or ``toolkit``).
        expect_columns: fail unless every row has this many columns.

    Returns:
        A 2-D float64 array (rows x columns, label columns included).

    Raises:
        ClientError: empty channel, a header row (non-numeric cells), ragged rows or a column
            count other than ``expect_columns``.
    """
    mats = []
    for path in require_files(env, channel):
        text = path.read_text(errors="replace")
        lines = [ln for ln in text.splitlines() if ln.strip()]
        if not lines:
            continue
        fast = _fast_numeric(lines)
        if fast is not None:
            mats.append(fast)
            continue
        rows = [ln.split(",") for ln in lines]
        widths = {len(r) for r in rows}
        for i, row in enumerate(rows):
            bad = [c for c in row if not _looks_numeric(c)]
            if bad:
                where = f"file {opt_ml(env, path)}"
                if i == 0:
                    raise ClientError(
                        _csv_fail(dialect, where, len(rows))
                        + f" The first row contains non-numeric values ({', '.join(repr(b) for b in bad[:3])}):"
                        " the CSV must not contain a header row and every value must be numeric,"
                        " with the label in the first column."
                    )
                raise ClientError(
                    _csv_fail(dialect, where, len(rows))
                    + f" Row {i + 1} contains non-numeric values ({', '.join(repr(b) for b in bad[:3])});"
                    " encode categorical columns as numbers before training."
                )
        if len(widths) > 1:
            raise ClientError(
                _csv_fail(dialect, f"file {opt_ml(env, path)}", len(rows))
                + f" Rows have different numbers of columns ({sorted(widths)})."
            )
        arr = np.array(
            [[float(c) if c.strip() else np.nan for c in r] for r in rows], dtype=np.float64
        )
        mats.append(arr)
    if not mats:
        raise ClientError(f"No data found in channel '{channel}': its files contain no rows.")
    widths = {m.shape[1] for m in mats}
    if len(widths) > 1:
        raise ClientError(
            f"Files in channel '{channel}' have different numbers of columns ({sorted(widths)}); "
            "every file must have the same layout."
        )
    data = np.vstack(mats)
    if expect_columns is not None and data.shape[1] != expect_columns:
        raise ClientError(
            f"Channel '{channel}' has {data.shape[1]} columns; expected {expect_columns} "
            f"(feature_dim plus the label column, if any). Check feature_dim and label_size."
        )
    return data


def _csv_fail(dialect: str, where: str, nrows: int) -> str:
    if dialect == "toolkit":
        return f"Failed to load csv data with exception: could not parse {where}."
    return f"Unable to parse csv: rows 1-{nrows}, {where}."


def read_recordio(
    env: TrainingEnv, channel: str, feature_dim: int | None = None
) -> tuple[np.ndarray, np.ndarray | None]:
    """Read every recordIO-protobuf file of a channel.

    Args:
        env: the job's tree.
        channel: the channel.
        feature_dim: the expected width (sparse records are filled to it).

    Returns:
        ``(X, y)`` with y None when the records carry no label.

    Raises:
        ClientError: empty channel, bytes that are not recordIO-protobuf, or a width other than
            ``feature_dim``.
    """
    from mllab.formats import recordio

    records: list[dict[str, Any]] = []
    for path in require_files(env, channel):
        data = path.read_bytes()
        try:
            records.extend(recordio.read_records(data))
        except recordio.RecordIOError as e:
            raise ClientError(
                f"Unable to read data channel '{channel}': file {opt_ml(env, path)} is not "
                f"RecordIO-protobuf ({e}). Is the ContentType right? CSV data needs "
                "ContentType 'text/csv'."
            ) from None
    if not records:
        raise ClientError(f"No data found in channel '{channel}': its files contain no records.")
    try:
        X, y = recordio.to_numpy(records, feature_dim=feature_dim)
    except recordio.RecordIOError as e:
        raise ClientError(
            f"Channel '{channel}': {e}. Check the feature_dim hyperparameter against the data."
        ) from None
    if feature_dim is not None and X.shape[1] != feature_dim:
        raise ClientError(
            f"Channel '{channel}' records have {X.shape[1]} features; feature_dim is {feature_dim}."
        )
    return X, y


def load_table(
    env: TrainingEnv,
    channel: str,
    media: str,
    params: dict[str, str],
    *,
    feature_dim: int | None,
    default_label_size: int = 1,
    need_label: bool = False,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Load a first-party algorithm's channel (CSV label-first, or recordIO-protobuf).

    Args:
        env: the job's tree.
        channel: the channel.
        media: ``text/csv`` or the recordIO media type.
        params: ContentType parameters (``label_size``).
        feature_dim: expected number of features (None: whatever the data has).
        default_label_size: label columns assumed for CSV without ``label_size``.
        need_label: fail when the data carries no label.

    Returns:
        ``(X, y)``; y is None for unlabelled data.

    Raises:
        ClientError: as :func:`read_csv` / :func:`read_recordio`, or a missing label.
    """
    if media == CSV:
        try:
            label_size = int(params.get("label_size", default_label_size))
        except ValueError:
            raise ClientError(f"Channel '{channel}': label_size must be an integer.") from None
        expect = None if feature_dim is None else feature_dim + label_size
        try:
            data = read_csv(env, channel, expect_columns=expect)
        except ClientError as e:
            if (
                "label_size" not in params
                and expect is not None
                and f"has {feature_dim} columns" in str(e)
            ):
                raise ClientError(
                    f"{e} The data has exactly feature_dim columns but ContentType 'text/csv' means one "
                    "label column: for unlabelled data set ContentType 'text/csv;label_size=0'."
                ) from None
            raise
        if label_size:
            X, y = data[:, label_size:], data[:, 0]
        else:
            X, y = data, None
    else:
        X, y = read_recordio(env, channel, feature_dim)
        if y is not None and np.isnan(y).any():
            y = None if np.isnan(y).all() else y
    if need_label and y is None:
        raise ClientError(
            f"Channel '{channel}' has no labels. Supervised training needs the label in the "
            "first CSV column (label_size=1) or in each record's label['values']."
        )
    return X, y


# --------------------------------------------------------------------------- serving


def parse_features_request(body: bytes, content_type: str | None, feature_dim: int) -> np.ndarray:
    """Parse an inference request of a first-party algorithm into a feature matrix.

    Accepts ``text/csv`` (features only, no label), ``application/json``
    (``{"instances": [{"features": [...]}]}``, ``{"instances": [{"data": {"features":
    {"values": [...], "keys": [...], "shape": [n]}}}]}`` or one ``{"features": [...]}``),
    ``application/jsonlines`` (one ``{"features": [...]}`` per line) and recordIO-protobuf.

    Args:
        body: the request body.
        content_type: its ContentType.
        feature_dim: the model's number of features.

    Returns:
        A (rows, feature_dim) float matrix.

    Raises:
        ClientError: an unsupported content type, unparsable body or wrong feature count.
    """
    media, _ = parse_content_type(content_type or CSV)
    try:
        if media == CSV:
            text = body.decode("utf-8").strip()
            rows = [ln.split(",") for ln in text.splitlines() if ln.strip()]
            try:
                X = np.array([[float(c) for c in r] for r in rows], dtype=np.float64)
            except ValueError:
                raise ClientError(
                    "Unable to evaluate payload provided: the CSV request has a non-numeric value "
                    "(a header row?). Send only numeric feature values, without a header and "
                    "without the label column."
                ) from None
            if len({len(r) for r in rows}) > 1:
                raise ClientError(
                    "Unable to evaluate payload provided: CSV rows have different lengths."
                )
        elif media in (JSON, "application/json;verbose=true"):
            obj = json.loads(body.decode("utf-8"))
            instances = (
                obj.get("instances") if isinstance(obj, dict) and "instances" in obj else [obj]
            )
            X = _instances_to_matrix(instances, feature_dim)
        elif media in (JSONLINES, "application/jsonl", "application/x-jsonlines"):
            lines = [json.loads(ln) for ln in body.decode("utf-8").splitlines() if ln.strip()]
            X = _instances_to_matrix(lines, feature_dim)
        elif media == RECORDIO:
            from mllab.formats import recordio

            try:
                X, _ = recordio.to_numpy(body, feature_dim=feature_dim)
            except recordio.RecordIOError as e:
                raise ClientError(f"Unable to evaluate payload provided: {e}") from None
        else:
            raise ClientError(
                f"Content type {content_type} is not supported by this algorithm. Use text/csv, "
                "application/json, application/jsonlines or application/x-recordio-protobuf."
            )
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ClientError(
            f"Unable to evaluate payload provided: the body is not valid {media}: {e}"
        ) from None
    if X.ndim != 2 or X.shape[0] == 0:
        raise ClientError("Unable to evaluate payload provided: the request contains no records.")
    if X.shape[1] != feature_dim:
        raise ClientError(
            f"Unable to evaluate payload provided: the request has {X.shape[1]} features per "
            f"record but the model was trained with feature_dim={feature_dim}."
        )
    return X


def _instances_to_matrix(instances: Any, feature_dim: int) -> np.ndarray:
    rows = []
    for inst in instances or []:
        if isinstance(inst, list):
            rows.append(np.asarray(inst, dtype=float))
            continue
        if not isinstance(inst, dict):
            raise ClientError(
                "Unable to evaluate payload provided: each instance must be an object."
            )
        if "features" in inst:
            rows.append(np.asarray(inst["features"], dtype=float))
        elif "data" in inst and isinstance(inst["data"], dict) and "features" in inst["data"]:
            f = inst["data"]["features"]
            vals = np.asarray(f.get("values", []), dtype=float)
            if f.get("keys"):
                width = int((f.get("shape") or [feature_dim])[0])
                row = np.zeros(width)
                row[np.asarray(f["keys"], dtype=int)] = vals
                rows.append(row)
            else:
                rows.append(vals)
        else:
            raise ClientError(
                "Unable to evaluate payload provided: each instance needs a 'features' list "
                "(or data.features.values)."
            )
    widths = {r.size for r in rows}
    if len(widths) > 1:
        raise ClientError("Unable to evaluate payload provided: instances have different lengths.")
    return np.vstack(rows) if rows else np.zeros((0, feature_dim))


def encode_response(
    top_key: str, items: list[dict[str, Any]], accept: str | None
) -> tuple[bytes, str]:
    """Encode a first-party algorithm's response in the requested Accept type.

    JSON: ``{top_key: items}``; JSON Lines: one item per line; recordIO-protobuf: one record per
    item with every field as a Float32 tensor in ``label``. Anything else (including
    ``text/csv``, which these algorithms do not produce) falls back to JSON, as the containers do.

    Args:
        top_key: ``predictions``, ``projections`` or ``scores``.
        items: one dict per input record.
        accept: the Accept header.

    Returns:
        ``(body, content_type)``.
    """
    media, params = parse_content_type(accept or JSON)
    if media in (JSONLINES, "application/jsonl", "application/x-jsonlines"):
        body = "".join(json.dumps(it) + "\n" for it in items).encode()
        return body, JSONLINES
    if media == RECORDIO:
        from mllab.formats import recordio

        recs = [
            {
                "label": {
                    k: {"type": "float32", "values": np.atleast_1d(np.asarray(v, dtype=np.float32))}
                    for k, v in it.items()
                }
            }
            for it in items
        ]
        return recordio.write_records(recs), RECORDIO
    body = json.dumps({top_key: items}).encode()
    if media == JSON and params.get("verbose") == "true":
        return body, "application/json;verbose=true"
    return body, JSON


# --------------------------------------------------------------------------- logging and metrics


def log(message: str) -> None:
    """Print one log line the way the containers do (flushed, so the runner streams it)."""
    print(message, flush=True)


def metric_line(name: str, value: float, tag: str = "score") -> str:
    """The first-party metric log line, e.g. ``#quality_metric: host=algo-1, test msd <loss>=1.2``."""
    channel, metric = name.split(":", 1)
    return f"#quality_metric: host=algo-1, {channel} {metric} <{tag}>={value}"


def aialgs_metric(name: str, tag: str = "score") -> dict[str, str]:
    """A METRIC_DEFINITIONS entry matching :func:`metric_line` output for ``channel:metric``."""
    channel, metric = name.split(":", 1)
    return {"Name": name, "Regex": f"#quality_metric: host=\\S+, {channel} {metric} <{tag}>=(\\S+)"}


def emit_metric(name: str, value: float, tag: str = "score") -> None:
    """Print a first-party quality metric line (``channel:metric``)."""
    log(metric_line(name, float(value), tag))


def save_json(path: Path, obj: Any) -> None:
    """Write ``obj`` as JSON (creating folders)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj))


def save_arrays(path: Path, **arrays: Any) -> None:
    """Write numpy arrays to ``path`` (``.npz``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        np.savez(fh, **arrays)


def load_arrays(path: Path) -> dict[str, np.ndarray]:
    """Read arrays written by :func:`save_arrays`."""
    with np.load(path, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


def model_file(model_dir: Path, name: str) -> Path:
    """``model_dir/name``, failing clearly when the artifact is not this algorithm's."""
    p = Path(model_dir) / name
    if not p.exists():
        raise ClientError(
            f"Unable to load model: {name} not found in the model artifact. Was the model trained "
            "by this algorithm?"
        )
    return p


def seed_of(hps: dict[str, Any], default: int = 0) -> int:
    """The job's random seed (``_seed``/``seed`` when given)."""
    for k in ("seed", "_seed", "random_seed"):
        if k in hps and hps[k] is not None:
            try:
                return int(hps[k])
            except (TypeError, ValueError):
                pass
    return default


def not_emulated(name: str) -> AlgorithmError:
    """The error for algorithms validated offline but not trained."""
    return AlgorithmError(
        f"{name} is validated offline but not trained; the channels, content types and "
        "hyperparameters passed validation. Run it on the aws backend (mllab.Lab(..., "
        "backend='aws')) to train it."
    )


def check_channels(
    channels: dict[str, dict[str, Any]],
    *,
    required: Sequence[str] = ("train",),
    optional: Sequence[str] = (),
) -> None:
    """Fail for missing required channels or unknown channel names (first-party wording).

    Args:
        channels: the job's InputDataConfig entries by name.
        required: channels that must be given.
        optional: channels that may be given.

    Raises:
        ClientError: ``Unable to initialize the algorithm. Failed to validate input data
            configuration.``
    """
    for name in required:
        if name not in channels:
            raise ClientError(
                "Unable to initialize the algorithm. Failed to validate input data configuration. "
                f"(caused by ValidationError) Caused by: '{name}' is a required property"
            )
    allowed = set(required) | set(optional)
    for name in channels:
        if name not in allowed:
            raise ClientError(
                "Unable to initialize the algorithm. Failed to validate input data configuration. "
                f"(caused by ValidationError) Caused by: Additional properties are not allowed "
                f"('{name}' was unexpected); this algorithm accepts channels {sorted(allowed)}"
            )


def check_train_test_channels(
    channels: dict[str, dict[str, Any]], accepted: Sequence[str], default: str | None
) -> dict[str, tuple[str, dict[str, str]]]:
    """Check a ``train`` (required) / ``test`` (optional) algorithm's channels and ContentTypes.

    Args:
        channels: the job's InputDataConfig entries by name.
        accepted: the media types the algorithm reads.
        default: the type assumed when a channel gives none.

    Returns:
        Each channel's ``(media type, parameters)``.

    Raises:
        ClientError: a missing/unknown channel or an unsupported ContentType, as the container says.
    """
    check_channels(channels, required=("train",), optional=("test",))
    return {
        name: aialgs_content_type(name, ch.get("ContentType"), accepted, default=default)
        for name, ch in channels.items()
    }
