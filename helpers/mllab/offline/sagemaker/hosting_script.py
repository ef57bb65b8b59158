"""Script-mode serving: the learner's ``inference.py`` as the framework containers run it.

Introduced in lab 04. The SageMaker scikit-learn and XGBoost framework containers import the
module named by ``SAGEMAKER_PROGRAM`` (default ``inference.py``) from the model's ``code/``
folder (or from ``SAGEMAKER_SUBMIT_DIRECTORY``) and answer each request with::

    model = model_fn(model_dir)                       # once, at start-up
    data = input_fn(request_body, content_type)       # per request
    prediction = predict_fn(data, model)
    body = output_fn(prediction, accept)

or with ``transform_fn(model, body, content_type, accept)`` when the module defines it.
Functions the module leaves out fall back to the container's defaults, reproduced here:

* scikit-learn: no default ``model_fn`` (the container refuses to start without one);
  ``input_fn`` decodes ``application/json``, ``text/csv`` (``numpy.genfromtxt``: one CSV row
  becomes a 1-D array, which ``model.predict`` rejects -- as on AWS) and
  ``application/x-npy``; ``predict_fn`` is ``model.predict``; ``output_fn`` encodes JSON
  (default), CSV or NPY.
* XGBoost: ``model_fn`` loads the Booster saved as ``xgboost-model`` (pickle or XGBoost's
  format); ``input_fn`` reads ``text/csv`` and ``text/libsvm`` into a ``DMatrix``.

Nothing here is imported before the first script-mode model loads.
"""

from __future__ import annotations

import importlib.util
import io
import json
import sys
import threading
from pathlib import Path
from typing import Any

from mllab.offline.sagemaker.contract import ClientError

_UTF8_TYPES = ("application/json", "text/csv", "text/plain", "application/jsonlines", "text/libsvm")
_IMPORT_LOCK = threading.Lock()
_counter = 0


class UnsupportedFormatError(ClientError):
    """The container cannot decode or encode this content type (HTTP 415 on AWS)."""

    status = 415

    def __init__(self, content_type: str) -> None:
        super().__init__(
            f"Content type {content_type} is not supported by this framework.\n\n"
            "            Please implement input_fn to to deserialize the request data or an "
            "output_fn to\n            serialize the response. For more information, see the "
            "SageMaker Python SDK README."
        )


def _base_type(content_type: str | None) -> str:
    return (content_type or "").split(";")[0].strip().lower()


# --------------------------------------------------------------------------- defaults
def _decode(data: Any, content_type: str) -> Any:
    import numpy as np

    ct = _base_type(content_type)
    if ct == "application/json":
        return np.array(json.loads(data))
    if ct == "text/csv":
        text = data.decode("utf-8") if isinstance(data, bytes) else data
        return np.genfromtxt(io.StringIO(text), delimiter=",")
    if ct == "application/x-npy":
        raw = data.encode("latin-1") if isinstance(data, str) else data
        return np.load(io.BytesIO(raw), allow_pickle=False)
    raise UnsupportedFormatError(content_type)


def _encode(prediction: Any, accept: str) -> bytes:
    import numpy as np

    ct = _base_type(accept)
    if ct == "application/json":
        value = prediction.tolist() if hasattr(prediction, "tolist") else prediction
        return json.dumps(value).encode("utf-8")
    if ct == "text/csv":
        stream = io.StringIO()
        np.savetxt(stream, np.asarray(prediction), delimiter=",", fmt="%s")
        return stream.getvalue().encode("utf-8")
    if ct == "application/x-npy":
        buf = io.BytesIO()
        np.save(buf, np.asarray(prediction))
        return buf.getvalue()
    raise UnsupportedFormatError(accept)


def _sklearn_model_fn(model_dir: str) -> Any:
    raise NotImplementedError(
        "Please provide a model_fn implementation.\n"
        "See documentation for model_fn at https://github.com/aws/sagemaker-python-sdk"
    )


def _sklearn_input_fn(input_data: Any, content_type: str) -> Any:
    import numpy as np

    array = _decode(input_data, content_type)
    if _base_type(content_type) in ("application/json", "text/csv"):
        return np.asarray(array).astype(np.float32)
    return array


def _predict_fn(input_data: Any, model: Any) -> Any:
    return model.predict(input_data)


def _output_fn(prediction: Any, accept: str) -> tuple[bytes, str]:
    return _encode(prediction, accept), _base_type(accept)


def _xgboost_model_fn(model_dir: str) -> Any:
    import pickle

    import xgboost as xgb

    root = Path(model_dir)
    candidates = [root / "xgboost-model"] + sorted(
        p
        for p in root.iterdir()
        if p.is_file() and p.suffix in (".json", ".ubj", ".model", ".bin", ".pkl")
    )
    for path in candidates:
        if not path.is_file():
            continue
        try:
            with path.open("rb") as fh:
                model = pickle.load(fh)  # noqa: S301 - the learner's own artifact
            if isinstance(model, xgb.Booster | xgb.XGBModel):
                return model
        except Exception:  # noqa: BLE001 - not a pickle: XGBoost's own format
            pass
        booster = xgb.Booster()
        booster.load_model(str(path))
        return booster
    raise FileNotFoundError(f"no XGBoost model file (xgboost-model) in {model_dir}")


def _xgboost_input_fn(input_data: Any, content_type: str) -> Any:
    import numpy as np
    import xgboost as xgb

    ct = _base_type(content_type)
    text = input_data.decode("utf-8") if isinstance(input_data, bytes) else input_data
    if ct in ("text/csv", "csv"):
        rows = np.atleast_2d(np.genfromtxt(io.StringIO(text), delimiter=","))
        return xgb.DMatrix(rows)
    if ct in ("text/libsvm", "text/x-libsvm", "libsvm"):
        from sklearn.datasets import load_svmlight_file

        X, _ = load_svmlight_file(io.BytesIO(text.encode("utf-8")))
        return xgb.DMatrix(X)
    raise UnsupportedFormatError(content_type)


def _xgboost_predict_fn(input_data: Any, model: Any) -> Any:
    import xgboost as xgb

    if isinstance(model, xgb.XGBModel):
        if hasattr(model, "predict_proba"):
            return model.predict_proba(
                input_data.get_data() if isinstance(input_data, xgb.DMatrix) else input_data
            )
        return model.predict(input_data)
    return model.predict(input_data, validate_features=False)


def _xgboost_output_fn(prediction: Any, accept: str) -> tuple[bytes, str]:
    import numpy as np

    ct = _base_type(accept)
    if ct == "text/csv":
        arr = np.asarray(prediction)
        if arr.ndim == 1:
            return ",".join(str(float(v)) for v in arr).encode("utf-8"), "text/csv"
        lines = "\n".join(",".join(str(float(v)) for v in row) for row in arr)
        return lines.encode("utf-8"), "text/csv"
    return _encode(prediction, accept), ct


_DEFAULTS: dict[str, dict[str, Any]] = {
    "sklearn": {
        "model_fn": _sklearn_model_fn,
        "input_fn": _sklearn_input_fn,
        "predict_fn": _predict_fn,
        "output_fn": _output_fn,
        "accept": "application/json",
    },
    "xgboost": {
        "model_fn": _xgboost_model_fn,
        "input_fn": _xgboost_input_fn,
        "predict_fn": _xgboost_predict_fn,
        "output_fn": _xgboost_output_fn,
        "accept": "text/csv",
    },
}


def framework_of(image: str) -> str:
    """Return ``"xgboost"`` or ``"sklearn"`` for a framework image URI (sklearn otherwise)."""
    repo = image.rsplit("/", 1)[-1].lower()
    return "xgboost" if "xgboost" in repo else "sklearn"


def _import_script(path: Path) -> Any:
    """Import the learner's script as a fresh module (its folder on ``sys.path``)."""
    global _counter
    with _IMPORT_LOCK:
        _counter += 1
        name = f"mllab_user_inference_{_counter}"
        folder = str(path.parent)
        if folder not in sys.path:
            sys.path.insert(0, folder)
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot import {path}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return module


class ScriptModel:
    """A model served by the learner's inference script (introduced in lab 04).

    Args:
        framework: ``"sklearn"`` or ``"xgboost"`` (which container defaults apply).
        script: the inference script's path.
        model_dir: the extracted ``model.tar.gz`` (what ``model_fn`` receives).

    Loading runs ``model_fn``; costs nothing offline.
    """

    def __init__(self, framework: str, script: Path | None, model_dir: Path) -> None:
        self.framework = framework
        self.script = script
        self.model_dir = model_dir
        self.module = _import_script(script) if script is not None else None
        defaults = _DEFAULTS.get(framework, _DEFAULTS["sklearn"])
        self.default_accept = defaults["accept"]

        def pick(name: str) -> Any:
            fn = getattr(self.module, name, None) if self.module is not None else None
            return fn if callable(fn) else defaults[name]

        self.transform_fn = (
            getattr(self.module, "transform_fn", None) if self.module is not None else None
        )
        self.input_fn = pick("input_fn")
        self.predict_fn = pick("predict_fn")
        self.output_fn = pick("output_fn")
        self.model = pick("model_fn")(str(model_dir))

    def predict(self, body: bytes, content_type: str, accept: str) -> tuple[bytes, str]:
        """Answer one request the way the framework container does.

        Returns:
            ``(body, content_type)`` of the response.
        """
        if not accept or accept == "*/*":
            accept = self.default_accept
        data: Any = body
        if _base_type(content_type) in _UTF8_TYPES:
            data = body.decode("utf-8")
        if callable(self.transform_fn):
            result = self.transform_fn(self.model, data, content_type, accept)
        else:
            result = self.output_fn(
                self.predict_fn(self.input_fn(data, content_type), self.model), accept
            )
        return _normalize(result, accept)


def _normalize(result: Any, accept: str) -> tuple[bytes, str]:
    ctype = _base_type(accept) or "application/json"
    if isinstance(result, tuple) and len(result) == 2:
        result, ctype = result[0], str(result[1])
    if hasattr(result, "get_data") and hasattr(result, "mimetype"):  # a Flask-style Response
        return bytes(result.get_data()), str(result.mimetype)
    if isinstance(result, str):
        return result.encode("utf-8"), ctype
    if isinstance(result, bytes | bytearray):
        return bytes(result), ctype
    return json.dumps(result.tolist() if hasattr(result, "tolist") else result).encode(
        "utf-8"
    ), ctype
