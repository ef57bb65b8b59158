"""Offline Amazon Bedrock: ``bedrock-runtime``, ``bedrock`` and ``bedrock-agent``, computed here.

moto keeps almost nothing of Bedrock (``InvokeModel`` answers an empty body; no ``Converse``),
so the handlers of this package answer in ``before`` handlers with botocore's shapes. The model
code they call lives apart, in :mod:`mllab.models` (tokenizer, embeddings, catalogue, the
stand-in foundation model). Submodules register their handlers at import; those owned by
other parts of the project are imported when present.
"""

import importlib

#: Submodules, in import order (a missing one is skipped: it has not landed yet).
SUBMODULES = (
    "quotas",
    "invocation_logging",
    "runtime",
    "control",
    "guardrails",
    "prompts",
    "knowledge_bases",
    "agent_runtime",
    "evaluation",
    "customization",
    "agents_classic",
)

for _name in SUBMODULES:
    try:
        importlib.import_module(f"{__name__}.{_name}")
    except ModuleNotFoundError as _err:  # only a module that does not exist yet is skipped
        if _err.name != f"{__name__}.{_name}":
            raise
