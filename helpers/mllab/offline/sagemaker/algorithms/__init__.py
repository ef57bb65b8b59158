"""Offline emulations of the SageMaker built-in algorithms (introduced in lab 02).

Each module implements the protocol in :mod:`mllab.offline.sagemaker.contract` (``NAME``,
``METRIC_DEFINITIONS``, ``validate``, ``train``, ``load``, ``predict``). :func:`by_image` maps
the ECR image URI a training job or model names (as ``sagemaker.core.image_uris.retrieve``
returns it, in any region or partition) to the module.

Importing this package is cheap: the algorithm modules are imported on first use.
"""

from __future__ import annotations

import importlib
import re
from types import ModuleType

# ECR repository name -> module name under this package.
_REPOSITORIES: dict[str, str] = {
    "sagemaker-xgboost": "xgboost",
    "xgboost": "xgboost",  # the legacy 0.72 image (version "1")
    "linear-learner": "linear_learner",
    "kmeans": "kmeans",
    "pca": "pca",
    "randomcutforest": "randomcutforest",
    "knn": "knn",
    "forecasting-deepar": "deepar",
    "blazingtext": "blazingtext",
    "factorization-machines": "factorization_machines",
    "ipinsights": "ipinsights",
    "object2vec": "object2vec",
    "seq2seq": "seq2seq",
    "lda": "lda",
    "ntm": "ntm",
    "image-classification": "image_classification",
    "object-detection": "object_detection",
    "semantic-segmentation": "semantic_segmentation",
}

#: Repository names of the built-in algorithm images this package emulates.
SUPPORTED: list[str] = sorted(_REPOSITORIES)

_URI = re.compile(
    r"^(?:(?P<registry>[0-9]{12})\.dkr\.ecr(?:-fips)?\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?:\.cn)?/)?"
    r"(?P<repo>[a-z0-9._/-]+?)(?::(?P<tag>[A-Za-z0-9._-]+))?(?:@sha256:[0-9a-f]{64})?$"
)


def repository_of(image_uri: str) -> str | None:
    """The ECR repository name of an image URI (``sagemaker-xgboost`` for ``...:1.7-1``).

    Args:
        image_uri: e.g. ``683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1``.

    Returns:
        The repository name, or None when the text is not an image URI.
    """
    m = _URI.match((image_uri or "").strip())
    return m.group("repo") if m else None


def module_name(image_uri: str) -> str | None:
    """The module (under this package) emulating ``image_uri``, or None."""
    repo = repository_of(image_uri)
    return _REPOSITORIES.get(repo) if repo else None


def by_image(image_uri: str) -> ModuleType | None:
    """The emulation module for a built-in algorithm image, or None for other images.

    Args:
        image_uri: the TrainingImage / model Image, in any region.

    Returns:
        The imported module (``NAME``, ``METRIC_DEFINITIONS``, ``validate``, ``train``,
        ``load``, ``predict``), or None when the image is not a built-in algorithm (for
        example a framework image running an entry script).
    """
    name = module_name(image_uri)
    if name is None:
        return None
    return importlib.import_module(f"{__name__}.{name}")
