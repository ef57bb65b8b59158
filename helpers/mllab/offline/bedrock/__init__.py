"""Offline Amazon Bedrock: ``bedrock-runtime``, ``bedrock``, ``bedrock-agent`` and friends.

moto keeps almost nothing of Bedrock (``InvokeModel`` answers an empty body; no ``Converse``),
so the handlers of this package answer in ``before`` handlers with botocore's shapes. The model
code they call lives apart, in :mod:`mllab.models` (tokenizer, embeddings, catalogue, the
stand-in foundation model). Submodules register their handlers at import: those named in
:data:`SUBMODULES` first, in that order, then any other module of the package.
"""

import importlib
import pkgutil

#: Submodules imported first, in this order (one that does not exist yet is skipped).
SUBMODULES = (
    "quotas",
    "invocation_logging",
    "runtime",
    "control",
    "guardrails",
    "prompts",
    "knowledge_bases",
    "agent_runtime",
    "agents_classic",
    "evaluation",
    "customization",
)

for _name in SUBMODULES:
    try:
        importlib.import_module(f"{__name__}.{_name}")
    except ModuleNotFoundError as _err:  # only a module that does not exist yet is skipped
        if _err.name != f"{__name__}.{_name}":
            raise
for _info in pkgutil.iter_modules(__path__):
    if _info.name not in SUBMODULES and not _info.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_info.name}")
