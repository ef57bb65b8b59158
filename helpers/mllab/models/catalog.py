"""Profiles of real Amazon Bedrock model ids and inference profiles, for the offline plane.

Each :class:`Profile` carries what a learner weighs when choosing a model (MLA-C02 skills
2.1.1, 2.1.7, 4.2.7): context window, maximum output tokens, input/output modalities,
whether Converse tool use, streaming and system prompts are supported, whether the model
can be called on demand or only through an inference profile, the price per 1,000 tokens
(from the dated snapshot ``mllab/guard/bedrock_pricing.json``), a latency model, and the
stand-in model's quality knob.

Attributes come from the Bedrock user guide's model cards and "supported models and model
features" table for Converse (as of the price snapshot's date). Two fields are the
stand-in's, not AWS's:

* **latency** -- ``ttft_ms`` (time to first token) and ``tokens_per_second``: an
  indicative model of the service's speed, used offline to advance the lab clock and report
  ``metrics.latencyMs``; not a measurement of AWS.
* **quality** -- ``max_passages``: how many relevant passages the extractive stand-in may
  combine into one answer, and ``min_relevance``: how relevant a passage must be before it
  is used. Larger models combine more context, as larger LLMs use more of it.

Introduced in lab 05 (choosing a foundation model by evaluation, cost and latency).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cache

from mllab.guard import pricing


@dataclass(frozen=True)
class Profile:
    """One model (or inference profile) as the offline plane serves it.

    Attributes:
        model_id: the id a caller passes (base model id or inference-profile id).
        base_model_id: the foundation model behind it (equal to ``model_id`` for base ids).
        name: the model's display name.
        provider: ``Amazon``, ``Anthropic``, ``Meta``, ``Cohere``.
        family: the native ``InvokeModel`` body family: ``nova``, ``anthropic``, ``llama``,
            ``titan-text``, ``titan-embed``, ``cohere-embed``.
        input_modalities: e.g. ``("TEXT", "IMAGE")``.
        output_modalities: ``("TEXT",)`` or ``("EMBEDDING",)``.
        context_window: the most input tokens (text models) or tokens per text (embeddings).
        max_output_tokens: the most output tokens per call (0 for embedding models).
        tools: Converse tool use supported.
        streaming: ConverseStream / InvokeModelWithResponseStream supported.
        system: Converse system prompts supported.
        inference_types: ``ON_DEMAND`` and/or ``INFERENCE_PROFILE``; a model without
            ``ON_DEMAND`` must be called through an inference profile.
        usd_per_1k_input: price per 1,000 input tokens.
        usd_per_1k_output: price per 1,000 output tokens.
        ttft_ms: modelled time to first token.
        tokens_per_second: modelled output speed.
        max_passages: stand-in quality knob: passages it may combine.
        min_relevance: stand-in quality knob: least relevance of a passage it uses.
        embedding_dimensions: output dimensions an embedding model offers.
        is_inference_profile: True for an inference-profile id.
        profile_regions: the regions an inference profile routes to.
        lifecycle: ``ACTIVE`` or ``LEGACY``.
    """

    model_id: str
    base_model_id: str
    name: str
    provider: str
    family: str
    input_modalities: tuple[str, ...]
    output_modalities: tuple[str, ...]
    context_window: int
    max_output_tokens: int
    tools: bool
    streaming: bool
    system: bool
    inference_types: tuple[str, ...]
    usd_per_1k_input: float
    usd_per_1k_output: float
    ttft_ms: float
    tokens_per_second: float
    max_passages: int
    min_relevance: float
    embedding_dimensions: tuple[int, ...] = ()
    is_inference_profile: bool = False
    profile_regions: tuple[str, ...] = field(default_factory=tuple)
    lifecycle: str = "ACTIVE"

    @property
    def on_demand(self) -> bool:
        """True when the id can be invoked as given (on-demand model or inference profile)."""
        return self.is_inference_profile or "ON_DEMAND" in self.inference_types

    @property
    def is_embedding(self) -> bool:
        """True for an embedding model."""
        return "EMBEDDING" in self.output_modalities

    def latency_ms(self, output_tokens: int) -> float:
        """Modelled service latency of a call producing ``output_tokens`` tokens."""
        if self.tokens_per_second <= 0:
            return self.ttft_ms
        return self.ttft_ms + 1000.0 * output_tokens / self.tokens_per_second

    def cost_usd(self, input_tokens: int, output_tokens: int) -> float:
        """Dollars of a call with these token counts at the snapshot's prices."""
        return (
            input_tokens * self.usd_per_1k_input + output_tokens * self.usd_per_1k_output
        ) / 1000.0


_T, _TI, _TIV = ("TEXT",), ("TEXT", "IMAGE"), ("TEXT", "IMAGE", "VIDEO")
_OD, _OD_IP, _IP = ("ON_DEMAND",), ("ON_DEMAND", "INFERENCE_PROFILE"), ("INFERENCE_PROFILE",)

# model id, name, provider, family, inputs, outputs, context, max out, tools, stream, system,
# inference types, ttft ms, tokens/s, max passages, min relevance, embedding dims, lifecycle
_BASE: tuple[tuple[object, ...], ...] = (
    (
        "amazon.nova-micro-v1:0",
        "Nova Micro",
        "Amazon",
        "nova",
        _T,
        _T,
        128_000,
        10_000,
        True,
        True,
        True,
        _OD_IP,
        280.0,
        210.0,
        1,
        0.45,
        (),
        "ACTIVE",
    ),
    (
        "amazon.nova-lite-v1:0",
        "Nova Lite",
        "Amazon",
        "nova",
        _TIV,
        _T,
        300_000,
        10_000,
        True,
        True,
        True,
        _OD_IP,
        330.0,
        160.0,
        2,
        0.40,
        (),
        "ACTIVE",
    ),
    (
        "amazon.nova-pro-v1:0",
        "Nova Pro",
        "Amazon",
        "nova",
        _TIV,
        _T,
        300_000,
        10_000,
        True,
        True,
        True,
        _OD_IP,
        480.0,
        95.0,
        3,
        0.35,
        (),
        "ACTIVE",
    ),
    (
        "amazon.nova-premier-v1:0",
        "Nova Premier",
        "Amazon",
        "nova",
        _TIV,
        _T,
        1_000_000,
        32_000,
        True,
        True,
        True,
        _IP,
        900.0,
        60.0,
        5,
        0.30,
        (),
        "ACTIVE",
    ),
    (
        "amazon.titan-text-express-v1",
        "Titan Text G1 - Express",
        "Amazon",
        "titan-text",
        _T,
        _T,
        8_192,
        8_192,
        False,
        True,
        False,
        _OD,
        420.0,
        80.0,
        1,
        0.45,
        (),
        "LEGACY",
    ),
    (
        "anthropic.claude-3-haiku-20240307-v1:0",
        "Claude 3 Haiku",
        "Anthropic",
        "anthropic",
        _TI,
        _T,
        200_000,
        4_096,
        True,
        True,
        True,
        _OD_IP,
        420.0,
        125.0,
        2,
        0.40,
        (),
        "ACTIVE",
    ),
    (
        "anthropic.claude-3-5-haiku-20241022-v1:0",
        "Claude 3.5 Haiku",
        "Anthropic",
        "anthropic",
        _T,
        _T,
        200_000,
        8_192,
        True,
        True,
        True,
        _IP,
        520.0,
        65.0,
        3,
        0.35,
        (),
        "ACTIVE",
    ),
    (
        "anthropic.claude-3-5-sonnet-20240620-v1:0",
        "Claude 3.5 Sonnet",
        "Anthropic",
        "anthropic",
        _TI,
        _T,
        200_000,
        4_096,
        True,
        True,
        True,
        _OD_IP,
        850.0,
        55.0,
        4,
        0.30,
        (),
        "LEGACY",
    ),
    (
        "anthropic.claude-haiku-4-5-20251001-v1:0",
        "Claude Haiku 4.5",
        "Anthropic",
        "anthropic",
        _TI,
        _T,
        200_000,
        64_000,
        True,
        True,
        True,
        _IP,
        500.0,
        110.0,
        4,
        0.30,
        (),
        "ACTIVE",
    ),
    (
        "anthropic.claude-sonnet-4-5-20250929-v1:0",
        "Claude Sonnet 4.5",
        "Anthropic",
        "anthropic",
        _TI,
        _T,
        200_000,
        64_000,
        True,
        True,
        True,
        _IP,
        1000.0,
        60.0,
        5,
        0.28,
        (),
        "ACTIVE",
    ),
    (
        "anthropic.claude-sonnet-4-6",
        "Claude Sonnet 4.6",
        "Anthropic",
        "anthropic",
        _TI,
        _T,
        200_000,
        64_000,
        True,
        True,
        True,
        _IP,
        950.0,
        65.0,
        5,
        0.28,
        (),
        "ACTIVE",
    ),
    (
        "meta.llama3-8b-instruct-v1:0",
        "Llama 3 8B Instruct",
        "Meta",
        "llama",
        _T,
        _T,
        8_192,
        2_048,
        False,
        True,
        True,
        _OD,
        300.0,
        130.0,
        1,
        0.45,
        (),
        "LEGACY",
    ),
    (
        "meta.llama3-70b-instruct-v1:0",
        "Llama 3 70B Instruct",
        "Meta",
        "llama",
        _T,
        _T,
        8_192,
        2_048,
        False,
        True,
        True,
        _OD,
        600.0,
        50.0,
        3,
        0.35,
        (),
        "LEGACY",
    ),
    (
        "meta.llama3-1-8b-instruct-v1:0",
        "Llama 3.1 8B Instruct",
        "Meta",
        "llama",
        _T,
        _T,
        128_000,
        2_048,
        True,
        True,
        True,
        _OD_IP,
        320.0,
        125.0,
        1,
        0.42,
        (),
        "ACTIVE",
    ),
    (
        "meta.llama3-2-1b-instruct-v1:0",
        "Llama 3.2 1B Instruct",
        "Meta",
        "llama",
        _T,
        _T,
        128_000,
        2_048,
        False,
        True,
        True,
        _IP,
        220.0,
        230.0,
        1,
        0.50,
        (),
        "ACTIVE",
    ),
    (
        "meta.llama3-3-70b-instruct-v1:0",
        "Llama 3.3 70B Instruct",
        "Meta",
        "llama",
        _T,
        _T,
        128_000,
        8_192,
        True,
        True,
        True,
        _IP,
        620.0,
        45.0,
        3,
        0.33,
        (),
        "ACTIVE",
    ),
    (
        "amazon.titan-embed-text-v2:0",
        "Titan Text Embeddings V2",
        "Amazon",
        "titan-embed",
        _T,
        ("EMBEDDING",),
        8_192,
        0,
        False,
        False,
        False,
        _OD,
        60.0,
        0.0,
        0,
        0.0,
        (256, 512, 1024),
        "ACTIVE",
    ),
    (
        "cohere.embed-english-v3",
        "Embed English",
        "Cohere",
        "cohere-embed",
        _T,
        ("EMBEDDING",),
        512,
        0,
        False,
        False,
        False,
        _OD,
        80.0,
        0.0,
        0,
        0.0,
        (1024,),
        "ACTIVE",
    ),
    (
        "cohere.embed-multilingual-v3",
        "Embed Multilingual",
        "Cohere",
        "cohere-embed",
        _T,
        ("EMBEDDING",),
        512,
        0,
        False,
        False,
        False,
        _OD,
        80.0,
        0.0,
        0,
        0.0,
        (1024,),
        "ACTIVE",
    ),
)

#: System-defined cross-region inference profiles: prefix -> the regions it routes to.
GEOGRAPHIES = {
    "us": ("us-east-1", "us-east-2", "us-west-2"),
    "eu": ("eu-central-1", "eu-west-1", "eu-west-3", "eu-north-1"),
    "apac": ("ap-northeast-1", "ap-southeast-1", "ap-southeast-2", "ap-south-1"),
    "global": (
        "us-east-1",
        "us-east-2",
        "us-west-2",
        "eu-central-1",
        "eu-west-1",
        "eu-west-3",
        "eu-north-1",
        "ap-northeast-1",
        "ap-southeast-1",
        "ap-southeast-2",
        "ap-south-1",
    ),
}

#: Which base models have which geographic inference profiles.
_PROFILES = {
    "amazon.nova-micro-v1:0": ("us", "eu", "apac"),
    "amazon.nova-lite-v1:0": ("us", "eu", "apac"),
    "amazon.nova-pro-v1:0": ("us", "eu", "apac"),
    "amazon.nova-premier-v1:0": ("us",),
    "anthropic.claude-3-haiku-20240307-v1:0": ("us", "eu", "apac"),
    "anthropic.claude-3-5-haiku-20241022-v1:0": ("us",),
    "anthropic.claude-3-5-sonnet-20240620-v1:0": ("us", "eu", "apac"),
    "anthropic.claude-haiku-4-5-20251001-v1:0": ("us", "eu", "global"),
    "anthropic.claude-sonnet-4-5-20250929-v1:0": ("us", "eu", "global"),
    "anthropic.claude-sonnet-4-6": ("us", "eu", "global"),
    "meta.llama3-1-8b-instruct-v1:0": ("us",),
    "meta.llama3-2-1b-instruct-v1:0": ("us", "eu"),
    "meta.llama3-3-70b-instruct-v1:0": ("us",),
}


def _base(
    mid: str,
    name: str,
    prov: str,
    fam: str,
    ins: tuple[str, ...],
    outs: tuple[str, ...],
    ctx: int,
    mx: int,
    tools: bool,
    stream: bool,
    system: bool,
    itypes: tuple[str, ...],
    ttft: float,
    tps: float,
    passages: int,
    rel: float,
    dims: tuple[int, ...],
    life: str,
) -> Profile:
    prices = pricing.bedrock_tokens(mid)
    if prices is None:  # pragma: no cover - the snapshot covers every catalogued model
        raise KeyError(f"{mid} has no price in bedrock_pricing.json")
    return Profile(
        model_id=mid,
        base_model_id=mid,
        name=name,
        provider=prov,
        family=fam,
        input_modalities=ins,
        output_modalities=outs,
        context_window=ctx,
        max_output_tokens=mx,
        tools=tools,
        streaming=stream,
        system=system,
        inference_types=itypes,
        usd_per_1k_input=prices[0],
        usd_per_1k_output=prices[1],
        ttft_ms=ttft,
        tokens_per_second=tps,
        max_passages=passages,
        min_relevance=rel,
        embedding_dimensions=dims,
        lifecycle=life,
    )


@cache
def _table() -> dict[str, Profile]:
    out: dict[str, Profile] = {}
    for row in _BASE:
        prof = _base(*row)  # type: ignore[arg-type]
        out[prof.model_id] = prof
    for base, geos in _PROFILES.items():
        for geo in geos:
            pid = f"{geo}.{base}"
            out[pid] = replace(
                out[base],
                model_id=pid,
                is_inference_profile=True,
                profile_regions=GEOGRAPHIES[geo],
                name=f"{geo.upper()} {out[base].name}",
            )
    return out


def profile(model_id: str) -> Profile | None:
    """The profile of a base model id or inference-profile id (also accepts their ARNs).

    Args:
        model_id: e.g. ``"amazon.nova-micro-v1:0"``, ``"us.amazon.nova-micro-v1:0"``, or
            ``arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-micro-v1:0`` /
            ``arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.amazon.nova-micro-v1:0``.

    Returns:
        The profile, or None for an id the catalogue does not know. Costs nothing.
    """
    key = model_id
    if model_id.startswith("arn:") and "/" in model_id:
        kind, _, key = model_id.split(":", 5)[-1].partition("/")
        if kind not in {"foundation-model", "inference-profile"}:
            return None
    return _table().get(key)


def models() -> list[Profile]:
    """Every base model in the catalogue (no inference profiles), sorted by id."""
    return sorted(
        (p for p in _table().values() if not p.is_inference_profile), key=lambda p: p.model_id
    )


def inference_profiles() -> list[Profile]:
    """Every system-defined inference profile in the catalogue, sorted by id."""
    return sorted(
        (p for p in _table().values() if p.is_inference_profile), key=lambda p: p.model_id
    )


def ids() -> list[str]:
    """Every id the catalogue serves (base models and inference profiles)."""
    return sorted(_table())
