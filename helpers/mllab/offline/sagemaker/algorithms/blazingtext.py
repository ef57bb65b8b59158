"""BlazingText (the ``blazingtext`` image), introduced in lab 03.

``mode=supervised`` (text classification): one sentence per line with ``__label__X``
prefixes in ``train`` (and optional ``validation``, which gives ``validation:accuracy``).
The stand-in for fastText is scikit-learn: word (and ``word_ngrams``) n-gram counts, hashed
into ``buckets``, TF-IDF weighted, then multinomial logistic regression. Serving answers
``{"instances": ["text", ...], "configuration": {"k": 2}}`` with
``[{"label": ["__label__x"], "prob": [0.93]}]``.

``mode=cbow|skipgram|batch_skipgram`` (Word2Vec): the stand-in is a truncated SVD of the
positive PMI matrix of word co-occurrences within ``window_size`` (words seen at least
``min_count`` times), written to ``vectors.txt`` (word2vec text format) as the real
algorithm writes it; serving answers ``{"instances": ["word"]}`` with
``[{"vector": [...], "word": "word"}]`` (zeros for unknown words).
"""

from __future__ import annotations

import json
import pickle
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from mllab.offline.sagemaker.algorithms._common import (
    HP,
    aialgs_content_type,
    check_channels,
    emit_metric,
    log,
    parse_content_type,
    require_files,
    seed_of,
    validate_hyperparameters,
)
from mllab.offline.sagemaker.contract import ClientError, TrainingEnv

NAME = "blazingtext"

HYPERPARAMETERS: list[HP] = [
    HP("mode", "cat", required=True, choices=["cbow", "skipgram", "batch_skipgram", "supervised"]),
    HP("epochs", "int", lo=1, default=5),
    HP("learning_rate", "float", lo=0, lo_open=True, default=0.05),
    HP("min_count", "int", lo=0, default=5),
    HP("vector_dim", "int", lo=1, default=100),
    HP("word_ngrams", "int", lo=1, default=2),
    HP("buckets", "int", lo=1, default=2000000),
    HP("early_stopping", "bool", default=False),
    HP("patience", "int", lo=1, default=4),
    HP("min_epochs", "int", lo=1, default=5),
    HP("window_size", "int", lo=1, default=5),
    HP("negative_samples", "int", lo=1, default=5),
    HP("sampling_threshold", "float", lo=0, default=0.0001),
    HP("batch_size", "int", lo=1, default=11),
    HP("subwords", "bool", default=False),
    HP("min_char", "int", lo=1, default=3),
    HP("max_char", "int", lo=1, default=6),
    HP("evaluation", "bool", default=True),
]

METRIC_DEFINITIONS = [
    {"Name": "train:accuracy", "Regex": "#train_accuracy: (\\S+)"},
    {"Name": "validation:accuracy", "Regex": "#validation_accuracy: (\\S+)"},
    {"Name": "train:mean_rho", "Regex": "#train_mean_rho: (\\S+)"},
]

_CT = ["text/plain", "application/x-recordio"]


def validate(hyperparameters: dict[str, str], channels: dict[str, dict]) -> None:
    """Reject what BlazingText rejects at start-up.

    Args:
        hyperparameters: ``mode`` required.
        channels: ``train`` (and ``validation`` in supervised mode); ``text/plain``.

    Raises:
        ClientError: bad channel, ContentType or hyperparameter.
    """
    hps = validate_hyperparameters(HYPERPARAMETERS, hyperparameters)
    optional = ("validation",) if hps["mode"] == "supervised" else ()
    check_channels(channels, required=("train",), optional=optional)
    for name, ch in channels.items():
        aialgs_content_type(name, ch.get("ContentType"), _CT, default="text/plain")


def _read_lines(env: TrainingEnv, channel: str) -> list[str]:
    lines: list[str] = []
    for path in require_files(env, channel):
        lines.extend(
            ln.strip() for ln in path.read_text(errors="replace").splitlines() if ln.strip()
        )
    if not lines:
        raise ClientError(f"No data found in channel '{channel}': its files contain no lines.")
    return lines


def _split_labelled(lines: list[str], channel: str) -> tuple[list[str], list[str]]:
    texts, labels = [], []
    for i, ln in enumerate(lines, 1):
        toks = ln.split()
        labs = [t for t in toks if t.startswith("__label__")]
        if not labs:
            raise ClientError(
                f"Line {i} of channel '{channel}' has no label: in supervised mode every line must start "
                "with __label__<class>, e.g. '__label__positive great product'."
            )
        labels.append(labs[0])
        texts.append(" ".join(t for t in toks if not t.startswith("__label__")))
    return texts, labels


def train(env: TrainingEnv) -> None:
    """Train the classifier (``model.bin``) or the word vectors (``vectors.txt``).

    Args:
        env: the job's ``/opt/ml`` tree.

    Raises:
        ClientError: unlabelled lines in supervised mode, a single class, an empty channel.
    """
    hps = validate_hyperparameters(HYPERPARAMETERS, dict(env.hyperparameters))
    env.model_dir.mkdir(parents=True, exist_ok=True)
    if hps["mode"] == "supervised":
        _train_supervised(env, hps)
    else:
        _train_word2vec(env, hps)


def _train_supervised(env: TrainingEnv, hps: dict[str, Any]) -> None:
    from sklearn.feature_extraction.text import CountVectorizer, HashingVectorizer, TfidfTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    texts, labels = _split_labelled(_read_lines(env, "train"), "train")
    if len(set(labels)) < 2:
        raise ClientError(
            "The train channel has a single label; supervised mode needs at least two classes."
        )
    ngrams = int(hps["word_ngrams"])
    # fastText hashes only word n-grams longer than one into `buckets`; words get their own
    # vocabulary rows. So: a vocabulary for unigrams, and hashing only when n-grams are used
    # (capped at 2**18 rows to keep the stand-in's solver quick).
    if ngrams <= 1:
        vectorizer: Any = CountVectorizer(token_pattern=r"(?u)\S+", lowercase=False)
    else:
        vectorizer = HashingVectorizer(
            ngram_range=(1, ngrams),
            n_features=min(int(hps["buckets"]), 2**18),
            alternate_sign=False,
            token_pattern=r"(?u)\S+",
            lowercase=False,
        )
    pipe = make_pipeline(
        vectorizer,
        TfidfTransformer(),
        LogisticRegression(max_iter=max(100, 20 * int(hps["epochs"])), random_state=seed_of(hps)),
    )
    pipe.fit(texts, labels)
    log(f"Read {sum(len(t.split()) for t in texts)} words; number of labels: {len(set(labels))}")
    log(f"#train_accuracy: {float(np.mean(pipe.predict(texts) == np.array(labels)))}")
    if "validation" in env.channels:
        vt, vl = _split_labelled(_read_lines(env, "validation"), "validation")
        acc = float(np.mean(pipe.predict(vt) == np.array(vl)))
        log(f"#validation_accuracy: {acc}")
        log(f"Number of validation examples: {len(vl)}")
        emit_metric("validation:accuracy", acc)
    with open(env.model_dir / "model.bin", "wb") as fh:
        pickle.dump({"mode": "supervised", "pipeline": pipe}, fh)


def _train_word2vec(env: TrainingEnv, hps: dict[str, Any]) -> None:
    import scipy.sparse as sp
    from sklearn.utils.extmath import randomized_svd

    sentences = [ln.split() for ln in _read_lines(env, "train")]
    counts = Counter(w for s in sentences for w in s)
    vocab = sorted(w for w, c in counts.items() if c >= int(hps["min_count"]))
    if len(vocab) < 2:
        raise ClientError(
            f"Fewer than two words occur at least min_count={hps['min_count']} times; lower min_count "
            "or provide more text."
        )
    index = {w: i for i, w in enumerate(vocab)}
    win = int(hps["window_size"])
    rows, cols = [], []
    for s in sentences:
        ids = [index[w] for w in s if w in index]
        for i, a in enumerate(ids):
            for j in range(max(0, i - win), min(len(ids), i + win + 1)):
                if j != i:
                    rows.append(a)
                    cols.append(ids[j])
    n = len(vocab)
    C = sp.coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n)).tocsr()
    total = C.sum()
    rs = np.asarray(C.sum(axis=1)).ravel()
    cs = np.asarray(C.sum(axis=0)).ravel() ** 0.75
    cs = cs / cs.sum() * total
    C = C.tocoo()
    with np.errstate(divide="ignore"):
        pmi = np.log(C.data * total / (rs[C.row] * cs[C.col]))
    keep = pmi > 0
    M = sp.csr_matrix((pmi[keep], (C.row[keep], C.col[keep])), shape=(n, n))
    dim = min(int(hps["vector_dim"]), n - 1)
    U, S, _ = randomized_svd(M, n_components=dim, random_state=seed_of(hps))
    vectors = U * np.sqrt(S)
    if dim < int(hps["vector_dim"]):
        vectors = np.hstack([vectors, np.zeros((n, int(hps["vector_dim"]) - dim))])
    with open(env.model_dir / "vectors.txt", "w") as fh:
        fh.write(f"{n} {vectors.shape[1]}\n")
        for w, v in zip(vocab, vectors, strict=True):
            fh.write(w + " " + " ".join(f"{x:.6f}" for x in v) + "\n")
    log(f"Read {sum(counts.values())} words; vocabulary size {n}; wrote vectors.txt")


def load(model_dir: Path) -> dict[str, Any]:
    """Load ``model.bin`` (supervised) or ``vectors.txt`` (Word2Vec).

    Args:
        model_dir: the extracted artifact.

    Returns:
        The model.

    Raises:
        ClientError: neither file is present.
    """
    model_dir = Path(model_dir)
    if (model_dir / "model.bin").exists():
        with open(model_dir / "model.bin", "rb") as fh:
            return pickle.load(fh)  # noqa: S301 - written by this emulation
    if (model_dir / "vectors.txt").exists():
        lines = (model_dir / "vectors.txt").read_text().splitlines()[1:]
        vecs = {}
        for ln in lines:
            parts = ln.split(" ")
            vecs[parts[0]] = [float(x) for x in parts[1:]]
        return {"mode": "word2vec", "vectors": vecs}
    raise ClientError("Unable to load model: neither model.bin nor vectors.txt is in the artifact.")


def predict(
    model: dict[str, Any], body: bytes, content_type: str, accept: str
) -> tuple[bytes, str]:
    """Classify sentences or look up word vectors.

    Args:
        model: from :func:`load`.
        body: ``{"instances": [...], "configuration": {"k": n}}``.
        content_type: ``application/json``.
        accept: ``application/json``.

    Returns:
        ``[{"label": [...], "prob": [...]}]`` or ``[{"vector": [...], "word": w}]``.

    Raises:
        ClientError: a non-JSON body or missing ``instances``.
    """
    if parse_content_type(content_type or "application/json")[0] != "application/json":
        raise ClientError(
            f"Content type {content_type} is not supported; BlazingText accepts application/json."
        )
    try:
        req = json.loads(body.decode("utf-8"))
        instances = req["instances"]
        assert isinstance(instances, list)
    except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, AssertionError):
        raise ClientError(
            'The request must be JSON like {"instances": ["a sentence", ...]}.'
        ) from None
    if model["mode"] == "supervised":
        k = int((req.get("configuration") or {}).get("k", 1))
        pipe = model["pipeline"]
        proba = pipe.predict_proba([str(s) for s in instances])
        classes = pipe.classes_
        out = []
        for row in proba:
            top = np.argsort(-row)[:k]
            out.append(
                {"label": [str(classes[i]) for i in top], "prob": [float(row[i]) for i in top]}
            )
    else:
        dim = len(next(iter(model["vectors"].values())))
        out = [
            {"vector": model["vectors"].get(str(w), [0.0] * dim), "word": str(w)} for w in instances
        ]
    return json.dumps(out).encode(), "application/json"
