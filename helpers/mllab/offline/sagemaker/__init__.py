"""Offline SageMaker: training, tuning and processing jobs, hosting and MLOps, run for real.

Submodules register their botocore handlers at import (see :mod:`mllab.offline.registry`).
"""

import importlib
import pkgutil

for _info in pkgutil.iter_modules(__path__, __name__ + "."):
    if _info.name.rsplit(".", 1)[-1] not in {"algorithms", "contract"}:
        importlib.import_module(_info.name)
