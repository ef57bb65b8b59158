"""Offline SageMaker Clarify: bias metrics of a dataset and a model, computed (lab 04).

A ``CreateProcessingJob`` with the Clarify image (``sagemaker-clarify-processing``, as
``SageMakerClarifyProcessor.run_bias``/``run_pre_training_bias``/``run_post_training_bias``
starts it) reads ``analysis_config.json`` from ``/opt/ml/processing/input/config`` and the
dataset from ``/opt/ml/processing/input/data``, and writes ``analysis.json`` and a short
``report.html`` (``methods.report.name``, default ``report``) to
``/opt/ml/processing/output``. As plain functions: :func:`pre_training_bias` and
:func:`post_training_bias`.

The metric definitions are AWS's (facet *d* is the sensitive group named by
``value_or_threshold``: rows whose facet value is one of the values, or above the
threshold for a numeric facet; facet *a* is every other row; a label is positive when it is
one of ``label_values_or_threshold``, or above it when it is a number threshold):

* pre-training: ``CI`` = (na - nd) / (na + nd); ``DPL`` = qa - qd with q the proportion of
  positive labels; ``KL`` = sum_y Pa(y) ln(Pa(y) / Pd(y)) over the label distributions of
  the two facets; ``JS`` = (KL(Pa, P) + KL(Pd, P)) / 2 with P = (Pa + Pd) / 2;
  ``LP`` = sqrt(sum_y (Pa(y) - Pd(y))^2); ``TVD`` = sum_y |Pa(y) - Pd(y)| / 2;
  ``KS`` = max_y |Pa(y) - Pd(y)|; ``CDDL`` (with ``group_variable``) = sum_i n_i DD_i / n,
  DD_i = nd(0)/n(0) - nd(1)/n(1) within group i.
* post-training: ``DPPL`` = q'a - q'd with q' the proportion of positive *predicted*
  labels; ``DI`` = q'd / q'a; ``AD`` = accuracy(a) - accuracy(d); ``RD`` = recall(a) -
  recall(d).

Predicted labels come from a ``predicted_label`` column of the dataset when the config
names one, otherwise from the model of ``predictor.model_name`` (or the model behind
``predictor.endpoint_name``), loaded in-process the way offline endpoints load it (Clarify
would start a shadow endpoint; offline that costs nothing). A numeric model output in
[0, 1] is a score: the predicted label is positive when it is above
``probability_threshold`` (default 0.5). SHAP (``methods.shap``) has no offline emulation
and is reported as skipped in the log.
"""

from __future__ import annotations

import html
import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mllab.offline.sagemaker.monitor import (
    ProcessingContext,
    ProcessingFailure,
    register_processing_image,
)

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

CLARIFY_REPO = "sagemaker-clarify-processing"
PRE_TRAINING = ("CI", "DPL", "KL", "JS", "LP", "TVD", "KS", "CDDL")
POST_TRAINING = ("DPPL", "DI", "AD", "RD")
DESCRIPTIONS = {
    "CI": "Class Imbalance (CI)",
    "DPL": "Difference in Positive Proportions in Labels (DPL)",
    "KL": "Kullback-Liebler Divergence (KL)",
    "JS": "Jensen-Shannon Divergence (JS)",
    "LP": "L-p Norm (LP)",
    "TVD": "Total Variation Distance (TVD)",
    "KS": "Kolmogorov-Smirnov Distance (KS)",
    "CDDL": "Conditional Demographic Disparity in Labels (CDDL)",
    "DPPL": "Difference in Positive Proportions in Predicted Labels (DPPL)",
    "DI": "Disparate Impact (DI)",
    "AD": "Accuracy Difference (AD)",
    "RD": "Recall Difference (RD)",
}


def _as_list(v: Any) -> list[Any]:
    if v is None:
        return []
    return list(v) if isinstance(v, list | tuple) else [v]


def _is_number(v: Any) -> bool:
    if isinstance(v, bool):
        return False
    if isinstance(v, int | float):
        return True
    try:
        float(str(v))
        return True
    except ValueError:
        return False


#: A numeric column with more distinct values than this is continuous: one number given as
#: its ``value_or_threshold`` / ``label_values_or_threshold`` is a threshold.
CONTINUOUS_MIN_VALUES = 10


def _matches(series: pd.Series, values: list[Any]) -> pd.Series:
    """Rows whose value is one of ``values``; for a continuous numeric column and a single
    number, rows above that threshold."""
    import pandas as pd

    num = pd.to_numeric(series, errors="coerce")
    numeric = bool(num.notna().all()) and len(series) > 0
    if (
        numeric
        and len(values) == 1
        and _is_number(values[0])
        and num.nunique() > CONTINUOUS_MIN_VALUES
    ):
        return num > float(values[0])
    if numeric and all(_is_number(v) for v in values):
        return num.isin([float(v) for v in values])
    return series.astype(str).isin({str(v) for v in values})


def _safe_div(a: float, b: float) -> float:
    return a / b if b else float("nan")


def _kl(p: dict[Any, float], q: dict[Any, float]) -> float:
    total = 0.0
    for y, pv in p.items():
        if pv <= 0:
            continue
        qv = q.get(y, 0.0)
        if qv <= 0:
            return float("inf")
        total += pv * math.log(pv / qv)
    return total


def _pre(
    label_pos: pd.Series,
    labels: pd.Series,
    d: pd.Series,
    group: pd.Series | None,
    methods: list[str],
) -> dict[str, float]:
    a = ~d
    na, nd = int(a.sum()), int(d.sum())
    out: dict[str, float] = {}
    qa = _safe_div(float(label_pos[a].sum()), na)
    qd = _safe_div(float(label_pos[d].sum()), nd)
    values = sorted(labels.astype(str).unique())
    pa = {y: _safe_div(float((labels[a].astype(str) == y).sum()), na) for y in values}
    pd_ = {y: _safe_div(float((labels[d].astype(str) == y).sum()), nd) for y in values}
    for m in methods:
        if m == "CI":
            out[m] = _safe_div(na - nd, na + nd)
        elif m == "DPL":
            out[m] = qa - qd
        elif m == "KL":
            out[m] = _kl(pa, pd_)
        elif m == "JS":
            mid = {y: (pa[y] + pd_[y]) / 2 for y in values}
            out[m] = 0.5 * (_kl(pa, mid) + _kl(pd_, mid))
        elif m == "LP":
            out[m] = math.sqrt(sum((pa[y] - pd_[y]) ** 2 for y in values))
        elif m == "TVD":
            out[m] = 0.5 * sum(abs(pa[y] - pd_[y]) for y in values)
        elif m == "KS":
            out[m] = max(abs(pa[y] - pd_[y]) for y in values) if values else float("nan")
        elif m == "CDDL" and group is not None:
            n = len(labels)
            total = 0.0
            for g in group.astype(str).unique():
                gi = group.astype(str) == g
                rejected = gi & ~label_pos
                accepted = gi & label_pos
                dd = _safe_div(float((rejected & d).sum()), float(rejected.sum())) - _safe_div(
                    float((accepted & d).sum()), float(accepted.sum())
                )
                if not math.isnan(dd):
                    total += float(gi.sum()) * dd
            out[m] = total / n if n else float("nan")
    return out


def _post(
    label_pos: pd.Series, pred_pos: pd.Series, d: pd.Series, methods: list[str]
) -> dict[str, float]:
    a = ~d
    out: dict[str, float] = {}
    qa = _safe_div(float(pred_pos[a].sum()), float(a.sum()))
    qd = _safe_div(float(pred_pos[d].sum()), float(d.sum()))

    def acc(g: pd.Series) -> float:
        return _safe_div(float((pred_pos[g] == label_pos[g]).sum()), float(g.sum()))

    def recall(g: pd.Series) -> float:
        tp = float((pred_pos[g] & label_pos[g]).sum())
        return _safe_div(tp, float(label_pos[g].sum()))

    for m in methods:
        if m == "DPPL":
            out[m] = qa - qd
        elif m == "DI":
            out[m] = _safe_div(qd, qa)
        elif m == "AD":
            out[m] = acc(a) - acc(d)
        elif m == "RD":
            out[m] = recall(a) - recall(d)
    return out


def _methods(spec: Any, allowed: tuple[str, ...]) -> list[str]:
    if spec is None or spec == "all" or spec == ["all"]:
        return list(allowed)
    return [str(m).upper() for m in _as_list(spec) if str(m).upper() in allowed]


def pre_training_bias(
    df: pd.DataFrame,
    label: str,
    label_value: Any,
    facet: str,
    facet_value: Any,
    *,
    methods: list[str] | str = "all",
    group_variable: str | None = None,
) -> dict[str, float]:
    """Clarify's pre-training bias metrics of a dataset for one facet (lab 04).

    Args:
        df: the dataset.
        label: the label column; ``label_value`` the positive label value(s), or a number
            threshold (positive = above it) for a numeric label.
        facet: the sensitive attribute column; ``facet_value`` the sensitive group's
            value(s), or a number threshold (sensitive = above it) for a numeric facet.
        methods: ``"all"`` or names from ``CI, DPL, KL, JS, LP, TVD, KS, CDDL``.
        group_variable: the column CDDL conditions on (CDDL is skipped without it).

    Returns:
        ``{metric name: value}``. Costs nothing; on AWS Clarify bills its processing job.
    """
    d = _matches(df[facet], _as_list(facet_value))
    pos = _matches(df[label], _as_list(label_value))
    chosen = [m for m in _methods(methods, PRE_TRAINING) if m != "CDDL" or group_variable]
    group = df[group_variable] if group_variable else None
    return _pre(pos, df[label], d, group, chosen)


def post_training_bias(
    df: pd.DataFrame,
    label: str,
    label_value: Any,
    facet: str,
    facet_value: Any,
    predicted: Any,
    *,
    methods: list[str] | str = "all",
) -> dict[str, float]:
    """Clarify's post-training bias metrics of a model's predicted labels (lab 04).

    Args:
        df: the dataset with the observed labels.
        label: the label column; ``label_value`` the positive value(s) or threshold.
        facet: the sensitive attribute; ``facet_value`` the sensitive group.
        predicted: the predicted labels (a column name of ``df`` or a sequence aligned with
            it), in the same values as the label.
        methods: ``"all"`` or names from ``DPPL, DI, AD, RD``.

    Returns:
        ``{metric name: value}``. Costs nothing.
    """
    import pandas as pd

    pred = (
        df[predicted] if isinstance(predicted, str) else pd.Series(list(predicted), index=df.index)
    )
    d = _matches(df[facet], _as_list(facet_value))
    pos = _matches(df[label], _as_list(label_value))
    ppos = _matches(pred, _as_list(label_value))
    return _post(pos, ppos, d, _methods(methods, POST_TRAINING))


# ====================================================================== the container


def _column(cfg_ref: Any, headers: list[str]) -> str:
    if isinstance(cfg_ref, int) and not isinstance(cfg_ref, bool):
        if cfg_ref >= len(headers):
            raise ProcessingFailure(f"ClientError: column index {cfg_ref} is out of range.")
        return headers[cfg_ref]
    name = str(cfg_ref)
    if name not in headers:
        raise ProcessingFailure(
            f"ClientError: column {name!r} is not in the dataset's headers ({', '.join(headers)})."
        )
    return name


def _read(files: list[Path], cfg: dict[str, Any]) -> pd.DataFrame:
    import pandas as pd

    kind = str(cfg.get("dataset_type", "text/csv")).lower()
    headers = cfg.get("headers")
    frames = []
    for f in files:
        if kind == "text/csv":
            df = pd.read_csv(f, header=None)
            if headers:
                if len(df) and [str(v) for v in df.iloc[0]] == [str(h) for h in headers]:
                    df = df.iloc[1:].reset_index(drop=True)
                    for col in df.columns:
                        conv = pd.to_numeric(df[col], errors="coerce")
                        if conv.notna().all():
                            df[col] = conv
                if len(df.columns) != len(headers):
                    raise ProcessingFailure(
                        f"ClientError: the dataset has {len(df.columns)} columns but headers lists "
                        f"{len(headers)}."
                    )
                df.columns = [str(h) for h in headers]
            else:
                df = pd.read_csv(f)
            frames.append(df)
        elif kind in {"application/jsonlines", "application/json"}:
            frames.append(pd.read_json(f, lines=kind == "application/jsonlines"))
        elif kind == "application/x-parquet":
            frames.append(pd.read_parquet(f))
        else:
            raise ProcessingFailure(
                f"ClientError: dataset_type {kind} has no offline emulation (text/csv, "
                "application/jsonlines, application/json, application/x-parquet do)."
            )
    if not frames:
        raise ProcessingFailure("ClientError: the dataset input holds no files.")
    return pd.concat(frames, ignore_index=True)


def _predict(ctx: ProcessingContext, cfg: dict[str, Any], features: pd.DataFrame) -> list[Any]:
    """Predicted labels of the config's predictor, from the model loaded in-process."""
    import tempfile

    from moto.sagemaker.models import sagemaker_backends

    from mllab.offline.sagemaker.hosting import LoadFailure, load_container

    pred = cfg.get("predictor") or {}
    be = sagemaker_backends[ctx.account_id][ctx.region]
    model_name = pred.get("model_name")
    if not model_name and pred.get("endpoint_name"):
        ep = be.endpoints.get(pred["endpoint_name"])
        if ep is None:
            raise ProcessingFailure(
                f"ClientError: endpoint {pred['endpoint_name']} does not exist."
            )
        cfg_obj = be.endpoint_configs.get(ep.endpoint_config_name)
        model_name = cfg_obj.production_variants[0]["ModelName"] if cfg_obj else None
    if not model_name:
        raise ProcessingFailure(
            "ClientError: post-training bias needs predictions: give predictor.model_name (or "
            "endpoint_name) or a predicted_label column in the analysis config."
        )
    model = be._models.get(model_name)
    if model is None:
        raise ProcessingFailure(f'ClientError: Could not find model "{model_name}".')
    container = dict(model.primary_container or (model.containers or [{}])[0])
    content_type = str(pred.get("content_type") or "text/csv")
    accept = str(pred.get("accept_type") or "text/csv")
    with tempfile.TemporaryDirectory(prefix="mllab-clarify-") as tmp:
        try:
            served = load_container(container, ctx.account_id, Path(tmp))
        except LoadFailure as err:
            raise ProcessingFailure(f"ClientError: the model could not be loaded: {err}") from None
        try:
            outputs: list[Any] = []
            batch = 500
            for start in range(0, len(features), batch):
                part = features.iloc[start : start + batch]
                if content_type == "application/jsonlines":
                    body = "\n".join(
                        json.dumps({"features": list(r)}) for r in part.itertuples(index=False)
                    )
                else:
                    body = part.to_csv(header=False, index=False)
                out, ctype = served.predict(body.encode("utf-8"), content_type, accept)
                outputs += _parse_predictions(out, ctype or accept, pred, len(part))
        finally:
            served.close()
    if len(outputs) != len(features):
        raise ProcessingFailure(
            f"ClientError: the model returned {len(outputs)} predictions for {len(features)} records."
        )
    threshold = float(cfg.get("probability_threshold", 0.5))
    nums = [float(o) for o in outputs if _is_number(o)]
    if (
        len(nums) == len(outputs)
        and all(0.0 <= v <= 1.0 for v in nums)
        and not all(v.is_integer() for v in nums)
    ):
        return [1 if v > threshold else 0 for v in nums]
    return outputs


def _parse_predictions(out: bytes, ctype: str, pred: dict[str, Any], n: int) -> list[Any]:
    """Split a model's answer to ``n`` records into one prediction per record."""
    text = out.decode("utf-8", errors="replace").strip()
    if "json" in ctype.lower():
        rows: list[Any] = []
        lines = text.splitlines() if "jsonlines" in ctype.lower() else [text]
        for line in lines:
            obj = json.loads(line)
            if isinstance(obj, dict) and "predictions" in obj:
                obj = obj["predictions"]
            for item in obj if isinstance(obj, list) else [obj]:
                if isinstance(item, dict):
                    key = pred.get("label") or pred.get("probability") or "score"
                    rows.append(item.get(key, item.get("predicted_label", item.get("score"))))
                else:
                    rows.append(item)
        return rows
    lines = [line for line in text.splitlines() if line.strip()]
    if len(lines) == 1 and n > 1:
        cells = [c.strip() for c in lines[0].split(",")]
        if len(cells) == n:
            return [float(c) if _is_number(c) else c for c in cells]
    vals: list[Any] = []
    idx = pred.get("label")
    for line in lines:
        cells = [c.strip() for c in line.split(",")]
        cell = cells[idx] if isinstance(idx, int) and idx < len(cells) else cells[0]
        vals.append(float(cell) if _is_number(cell) else cell)
    return vals


def _facet_entries(
    df: pd.DataFrame, cfg: dict[str, Any], headers: list[str]
) -> list[tuple[str, list[Any]]]:
    out = []
    for f in cfg.get("facet") or []:
        name = _column(f.get("name_or_index"), headers)
        values = _as_list(f.get("value_or_threshold"))
        if values:
            out.append((name, values))
        else:  # every value of the facet, one against the rest
            out += [(name, [v]) for v in sorted(df[name].dropna().unique().tolist(), key=str)]
    return out


def _value_text(values: list[Any]) -> str:
    return ",".join(str(v) for v in values)


def _clean(v: float) -> float | None:
    return None if isinstance(v, float) and math.isnan(v) else v


def _clarify(ctx: ProcessingContext) -> None:
    """The ``sagemaker-clarify-processing`` container (bias analysis)."""
    cfg_dir = ctx.local("/opt/ml/processing/input/config")
    cfg_file = cfg_dir / "analysis_config.json"
    if not cfg_file.is_file():
        found = sorted(cfg_dir.rglob("*.json")) if cfg_dir.exists() else []
        if not found:
            raise ProcessingFailure(
                "ClientError: analysis_config.json was not found in /opt/ml/processing/input/config "
                "(the analysis_config input)."
            )
        cfg_file = found[0]
    try:
        cfg = json.loads(cfg_file.read_text())
    except ValueError as err:
        raise ProcessingFailure(
            f"ClientError: analysis_config.json is not valid JSON: {err}"
        ) from None
    data_dir = ctx.local("/opt/ml/processing/input/data")
    files = sorted(p for p in data_dir.rglob("*") if p.is_file()) if data_dir.exists() else []
    df = _read(files, cfg)
    headers = [str(c) for c in df.columns]
    if cfg.get("label") is None:
        raise ProcessingFailure("ClientError: the analysis config names no label.")
    label = _column(cfg["label"], headers)
    label_values = _as_list(cfg.get("label_values_or_threshold"))
    if not label_values:
        raise ProcessingFailure(
            "ClientError: label_values_or_threshold is required for bias analysis."
        )
    methods = cfg.get("methods") or {}
    facets = _facet_entries(df, cfg, headers)
    if not facets and (methods.get("pre_training_bias") or methods.get("post_training_bias")):
        raise ProcessingFailure("ClientError: bias analysis needs at least one facet.")
    group = (
        _column(cfg["group_variable"], headers) if cfg.get("group_variable") is not None else None
    )
    label_pos = _matches(df[label], label_values)
    analysis: dict[str, Any] = {"version": "1.0"}
    if "pre_training_bias" in methods:
        chosen = _methods((methods["pre_training_bias"] or {}).get("methods"), PRE_TRAINING)
        chosen = [m for m in chosen if m != "CDDL" or group]
        fac: dict[str, list[Any]] = {}
        for name, values in facets:
            d = _matches(df[name], values)
            got = _pre(label_pos, df[label], d, df[group] if group else None, chosen)
            fac.setdefault(name, []).append(
                {
                    "value_or_threshold": _value_text(values),
                    "metrics": [
                        {"name": m, "description": DESCRIPTIONS[m], "value": _clean(got[m])}
                        for m in chosen
                        if m in got
                    ],
                }
            )
        analysis["pre_training_bias_metrics"] = {
            "label": label,
            "facets": fac,
            "label_value_or_threshold": _value_text(label_values),
        }
    if "post_training_bias" in methods:
        chosen = _methods((methods["post_training_bias"] or {}).get("methods"), POST_TRAINING)
        excluded = {
            str(c) if not isinstance(c, int) else headers[c]
            for c in cfg.get("excluded_columns") or []
        }
        if cfg.get("predicted_label") is not None:
            pcol = _column(cfg["predicted_label"], headers)
            predicted = df[pcol].tolist()
            excluded.add(pcol)
        else:
            features = df.drop(columns=[c for c in [label, *excluded] if c in df.columns])
            predicted = _predict(ctx, cfg, features)
            ctx.write_log(f"Predicted {len(predicted)} records with the model.")
        import pandas as pd

        pred_series = pd.Series(predicted, index=df.index)
        pred_pos = _matches(pred_series, label_values)
        fac = {}
        for name, values in facets:
            d = _matches(df[name], values)
            got = _post(label_pos, pred_pos, d, chosen)
            fac.setdefault(name, []).append(
                {
                    "value_or_threshold": _value_text(values),
                    "metrics": [
                        {"name": m, "description": DESCRIPTIONS[m], "value": _clean(got[m])}
                        for m in chosen
                        if m in got
                    ],
                }
            )
        analysis["post_training_bias_metrics"] = {
            "label": label,
            "facets": fac,
            "label_value_or_threshold": _value_text(label_values),
        }
    if "shap" in methods:
        ctx.write_log("mllab offline: SHAP explanations have no offline emulation; skipped.")
    out = ctx.local("/opt/ml/processing/output")
    out.mkdir(parents=True, exist_ok=True)
    (out / "analysis.json").write_text(json.dumps(analysis, indent=2))
    report = methods.get("report") or {}
    name = str(report.get("name") or "report")
    (out / f"{name}.html").write_text(
        _report_html(analysis, str(report.get("title") or "Analysis Report"))
    )
    ctx.write_log(f"Wrote analysis.json and {name}.html for {len(df)} records.")


def _report_html(analysis: dict[str, Any], title: str) -> str:
    parts = [
        f"<html><head><title>{html.escape(title)}</title></head><body>",
        f"<h1>{html.escape(title)}</h1>",
    ]
    for key, heading in (
        ("pre_training_bias_metrics", "Pre-training bias"),
        ("post_training_bias_metrics", "Post-training bias"),
    ):
        sec = analysis.get(key)
        if not sec:
            continue
        parts.append(
            f"<h2>{heading}</h2><p>Label <b>{html.escape(str(sec['label']))}</b>, positive: "
            f"{html.escape(str(sec['label_value_or_threshold']))}</p>"
        )
        for facet, entries in sec["facets"].items():
            for e in entries:
                parts.append(
                    f"<h3>Facet {html.escape(facet)} = {html.escape(str(e['value_or_threshold']))}</h3>"
                    "<table border='1'><tr><th>Metric</th><th>Description</th><th>Value</th></tr>"
                )
                for m in e["metrics"]:
                    v = m["value"]
                    shown = "n/a" if v is None else f"{v:.4f}"
                    parts.append(
                        f"<tr><td>{m['name']}</td><td>{html.escape(m['description'])}</td><td>{shown}</td></tr>"
                    )
                parts.append("</table>")
    parts.append("</body></html>")
    return "\n".join(parts)


register_processing_image(CLARIFY_REPO, _clarify)
