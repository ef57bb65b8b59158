"""Which offline emulation a SageMaker image maps to (introduced in lab 03).

Built-in algorithm images (``<account>.dkr.ecr.<region>.amazonaws.com/<algorithm>:<tag>``,
as ``sagemaker.core.image_uris.retrieve`` returns them) map to the emulation modules of
:mod:`mllab.offline.sagemaker.algorithms`; the framework images of scikit-learn
(``sagemaker-scikit-learn``) and XGBoost (``sagemaker-xgboost``) run the learner's
entry script. The XGBoost image is both: with a ``sagemaker_program`` hyperparameter (or
an SDK ``SourceCode``) it runs the script, otherwise the built-in algorithm, as on AWS.
"""

from __future__ import annotations

import importlib
from types import ModuleType

#: Framework image repositories whose containers run an entry script.
FRAMEWORK_REPOS = {"sagemaker-scikit-learn": "sklearn", "sagemaker-xgboost": "xgboost"}

#: Processing image repositories that run ``AppSpecification.ContainerEntrypoint``.
PROCESSING_REPOS = {"sagemaker-scikit-learn": "sklearn", "sagemaker-xgboost": "xgboost"}

_EXTRA: dict[str, ModuleType] = {}


def repository(image_uri: str | None) -> str:
    """Return the repository name of an ECR image URI (``.../sagemaker-xgboost:1.7-1`` -> ``sagemaker-xgboost``)."""
    if not image_uri:
        return ""
    path = image_uri.split("/", 1)[1] if "/" in image_uri else image_uri
    path = path.split("@", 1)[0]
    return path.rsplit(":", 1)[0] if ":" in path else path


def framework(image_uri: str | None) -> str | None:
    """Return ``"sklearn"`` or ``"xgboost"`` for a script-mode framework image, else None."""
    return FRAMEWORK_REPOS.get(repository(image_uri))


def register_algorithm(repo: str, module: ModuleType) -> None:
    """Map an image repository to an algorithm module (tests, and algorithms added later).

    Args:
        repo: the repository name, e.g. ``"fake-algo"``.
        module: a module implementing the container contract
            (:mod:`mllab.offline.sagemaker.contract`); it must be importable by name or
            have a ``__file__`` the child process can load it from.
    """
    _EXTRA[repo] = module


def unregister_algorithm(repo: str) -> None:
    """Forget a mapping made with :func:`register_algorithm`."""
    _EXTRA.pop(repo, None)


def _algorithms() -> ModuleType | None:
    try:
        return importlib.import_module("mllab.offline.sagemaker.algorithms")
    except ImportError:
        return None


def algorithm(image_uri: str | None) -> ModuleType | None:
    """Return the built-in algorithm emulation for an image, or None when there is none."""
    repo = repository(image_uri)
    if repo in _EXTRA:
        return _EXTRA[repo]
    pkg = _algorithms()
    if pkg is None or not image_uri:
        return None
    by_image = getattr(pkg, "by_image", None)
    return by_image(image_uri) if by_image else None


def supported() -> list[str]:
    """Names of the images that have an offline emulation, for failure messages."""
    names: set[str] = set(_EXTRA)
    pkg = _algorithms()
    if pkg is not None:
        for attr in ("SUPPORTED", "NAMES", "supported", "names"):
            found = getattr(pkg, attr, None)
            if callable(found):
                found = found()
            if found:
                names.update(str(n) for n in found)
                break
        else:
            import pkgutil

            names.update(
                i.name.replace("_", "-")
                for i in pkgutil.iter_modules(pkg.__path__)
                if not i.name.startswith("_")
            )
    return sorted(names)


def unsupported_reason(image_uri: str | None, what: str = "training") -> str:
    """The FailureReason of a job whose image has no offline emulation."""
    algos = ", ".join(supported()) or "none yet"
    return (
        f"ClientError: the {what} image {image_uri!r} has no offline emulation. Offline, these "
        f"run: built-in algorithm images ({algos}); script mode on the scikit-learn and XGBoost "
        "framework images (sagemaker-scikit-learn, sagemaker-xgboost) with a sagemaker_program "
        "hyperparameter or the SDK's SourceCode. Resolve images with "
        "sagemaker.core.image_uris.retrieve(...)."
    )
