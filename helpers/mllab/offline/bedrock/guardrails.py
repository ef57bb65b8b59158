"""Offline Amazon Bedrock Guardrails: the control plane (``bedrock``) and ``ApplyGuardrail``.

moto 5.2 has no guardrails, so every operation is answered here in a ``before`` handler, with
the request and response shapes of botocore's ``bedrock`` and ``bedrock-runtime`` models:

* ``CreateGuardrail`` / ``UpdateGuardrail`` / ``GetGuardrail`` / ``ListGuardrails`` /
  ``DeleteGuardrail`` / ``CreateGuardrailVersion``: a DRAFT that every update replaces whole,
  and immutable numbered versions ("1", "2", ...) that snapshot it. A guardrail is READY at
  once (AWS takes seconds). ``TagResource`` / ``UntagResource`` / ``ListTagsForResource`` on a
  guardrail ARN are answered here too (other ARNs go on to moto).
* ``ApplyGuardrail`` and :func:`assess` -- the function the offline Converse and InvokeModel
  call with their ``guardrailConfig`` -- judge text with the classifiers of
  :mod:`mllab.models.guardrail_classifiers` (read its docstring for every approximation) and
  answer in AWS's assessment shape: ``topicPolicy``, ``contentPolicy``, ``wordPolicy``,
  ``sensitiveInformationPolicy``, ``contextualGroundingPolicy``, ``invocationMetrics`` with
  ``usage`` in text units (one unit per started 1,000 characters, per policy evaluated),
  ``action`` ``GUARDRAIL_INTERVENED`` or ``NONE``, and ``outputs`` holding the blocked message
  or the anonymized text.

Offline differences you can see:

* PII types that need a named-entity model (NAME, ADDRESS) are never detected offline. Creating
  a guardrail that asks for them warns (:class:`OfflineApproximationWarning`), and every
  assessment lists them under the extra key ``mllabOffline.notDetectedOffline`` -- AWS has no such
  key; code that works on AWS ignores it.
* ``actionReason`` is "Guardrail blocked.", "Guardrail masked." or "No action.".
* Image blocks are counted in ``guardrailCoverage`` but not judged (no image classifier).
* The Standard/Classic tier (``tierConfig``) is stored and returned; it does not change the
  offline classifiers.

Introduced in lab 06 (responsible generative AI: guardrails).
"""

from __future__ import annotations

import copy
import re
import secrets
import threading
import time
import warnings
from dataclasses import dataclass, field
from typing import Any

from mllab.offline import clock
from mllab.offline.registry import AwsError, OfflineCall, handles, on_reset

#: The most guardrails an account may have per region (AWS's default quota is 100).
MAX_GUARDRAILS = 100
#: The most numbered versions a guardrail may have (AWS's default quota is 20).
MAX_VERSIONS = 20
MAX_TOPICS = 30
MAX_TOPIC_EXAMPLES = 5
MAX_WORDS = 10_000
MAX_REGEXES = 10

_ARN = re.compile(r"^arn:aws[a-z-]*:bedrock:([a-z0-9-]+):(\d{12}):guardrail/([a-z0-9]+)$")


class OfflineApproximationWarning(UserWarning):
    """The offline plane cannot do what was asked as AWS does (e.g. detect NAME offline)."""


@dataclass
class _Guardrail:
    id: str
    arn: str
    name: str
    created_at: Any
    draft: dict[str, Any]
    versions: dict[str, dict[str, Any]] = field(default_factory=dict)
    next_version: int = 1
    tags: dict[str, str] = field(default_factory=dict)


_LOCK = threading.RLock()
_STATE: dict[tuple[str, str], dict[str, _Guardrail]] = {}


@on_reset
def _reset() -> None:
    with _LOCK:
        _STATE.clear()


def _store(account_id: str, region: str) -> dict[str, _Guardrail]:
    return _STATE.setdefault((account_id, region), {})


def _validation(message: str) -> AwsError:
    return AwsError("ValidationException", message, 400)


def _not_found(identifier: str, version: str | None = None) -> AwsError:
    what = f"version {version} of guardrail {identifier}" if version else f"guardrail {identifier}"
    return AwsError(
        "ResourceNotFoundException",
        f"The {what} was not found. Check the guardrail identifier (id or ARN) and version "
        "(ListGuardrails lists them).",
        404,
    )


def _find(account_id: str, region: str, identifier: str) -> _Guardrail:
    m = _ARN.match(identifier or "")
    gid = identifier
    if m:
        if m.group(1) != region or m.group(2) != account_id:
            raise _not_found(identifier)
        gid = m.group(3)
    with _LOCK:
        g = _store(account_id, region).get(gid)
    if g is None:
        raise _not_found(identifier)
    return g


# --------------------------------------------------------------------------- configuration


def _io_defaults(item: dict[str, Any], action_key: str | None = None) -> dict[str, Any]:
    """Fill the per-direction fields AWS returns with their documented defaults."""
    out = dict(item)
    default = out.get(action_key, "BLOCK") if action_key else "BLOCK"
    out.setdefault("inputAction", default)
    out.setdefault("outputAction", default)
    out.setdefault("inputEnabled", True)
    out.setdefault("outputEnabled", True)
    return out


def _validate_and_build(params: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Turn a Create/UpdateGuardrail request into the stored (GetGuardrail-shaped) policies.

    Returns:
        The stored configuration and the PII types that are not detected offline.
    """
    cfg: dict[str, Any] = {
        "blockedInputMessaging": params["blockedInputMessaging"],
        "blockedOutputsMessaging": params["blockedOutputsMessaging"],
    }
    if params.get("description"):
        cfg["description"] = params["description"]
    if params.get("kmsKeyId"):
        cfg["kmsKeyArn"] = params["kmsKeyId"]
    missing: list[str] = []

    topic = params.get("topicPolicyConfig")
    if topic is not None:
        topics = topic.get("topicsConfig") or []
        if not topics:
            raise _validation("topicPolicyConfig.topicsConfig must contain at least 1 topic.")
        if len(topics) > MAX_TOPICS:
            raise _validation(f"A guardrail can have at most {MAX_TOPICS} denied topics.")
        names = [t["name"] for t in topics]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise _validation(f"Denied topic names must be unique; duplicated: {', '.join(dupes)}.")
        for t in topics:
            if len(t.get("examples") or []) > MAX_TOPIC_EXAMPLES:
                raise _validation(
                    f"Denied topic {t['name']!r} has more than {MAX_TOPIC_EXAMPLES} examples."
                )
        stored: dict[str, Any] = {"topics": [_io_defaults(t) for t in topics]}
        if topic.get("tierConfig"):
            stored["tier"] = dict(topic["tierConfig"])
        cfg["topicPolicy"] = stored

    content = params.get("contentPolicyConfig")
    if content is not None:
        filters = content.get("filtersConfig") or []
        if not filters:
            raise _validation("contentPolicyConfig.filtersConfig must contain at least 1 filter.")
        types = [f["type"] for f in filters]
        dupes = sorted({t for t in types if types.count(t) > 1})
        if dupes:
            raise _validation(
                f"Content filter types must be unique; duplicated: {', '.join(dupes)}."
            )
        for f in filters:
            if f["type"] == "PROMPT_ATTACK" and f.get("outputStrength", "NONE") != "NONE":
                raise _validation(
                    "The PROMPT_ATTACK content filter applies to inputs only: its outputStrength "
                    f"must be NONE (got {f.get('outputStrength')})."
                )
        stored = {
            "filters": [
                {
                    "inputModalities": ["TEXT"],
                    "outputModalities": ["TEXT"],
                    **_io_defaults(f),
                }
                for f in filters
            ]
        }
        if content.get("tierConfig"):
            stored["tier"] = dict(content["tierConfig"])
        cfg["contentPolicy"] = stored

    word = params.get("wordPolicyConfig")
    if word is not None:
        words = word.get("wordsConfig") or []
        managed = word.get("managedWordListsConfig") or []
        if not words and not managed:
            raise _validation(
                "wordPolicyConfig needs wordsConfig or managedWordListsConfig (or leave it out)."
            )
        if len(words) > MAX_WORDS:
            raise _validation(f"A word filter can have at most {MAX_WORDS} words.")
        for w in words:
            if len(w["text"].split()) > 3:
                raise _validation(
                    f"Word filter entry {w['text']!r} has more than 3 words; a custom word or "
                    "phrase can be up to 3 words."
                )
        cfg["wordPolicy"] = {
            "words": [_io_defaults(w) for w in words],
            "managedWordLists": [_io_defaults(m) for m in managed],
        }

    sens = params.get("sensitiveInformationPolicyConfig")
    if sens is not None:
        pii = sens.get("piiEntitiesConfig") or []
        regexes = sens.get("regexesConfig") or []
        if not pii and not regexes:
            raise _validation(
                "sensitiveInformationPolicyConfig needs piiEntitiesConfig or regexesConfig."
            )
        types = [p["type"] for p in pii]
        dupes = sorted({t for t in types if types.count(t) > 1})
        if dupes:
            raise _validation(f"PII entity types must be unique; duplicated: {', '.join(dupes)}.")
        if len(regexes) > MAX_REGEXES:
            raise _validation(f"A guardrail can have at most {MAX_REGEXES} regex filters.")
        for r in regexes:
            try:
                re.compile(r["pattern"])
            except re.error as err:
                raise _validation(
                    f"The regex pattern of {r['name']!r} is not a valid regular expression: {err}."
                ) from None
        from mllab.models.guardrail_classifiers import NOT_DETECTED_OFFLINE

        missing = sorted(t for t in types if t in NOT_DETECTED_OFFLINE)
        cfg["sensitiveInformationPolicy"] = {
            "piiEntities": [_io_defaults(p, "action") for p in pii],
            "regexes": [_io_defaults(r, "action") for r in regexes],
        }

    grounding = params.get("contextualGroundingPolicyConfig")
    if grounding is not None:
        filters = grounding.get("filtersConfig") or []
        if not filters:
            raise _validation(
                "contextualGroundingPolicyConfig.filtersConfig must contain at least 1 filter."
            )
        types = [f["type"] for f in filters]
        dupes = sorted({t for t in types if types.count(t) > 1})
        if dupes:
            raise _validation(
                f"Contextual grounding filter types must be unique; duplicated: {', '.join(dupes)}."
            )
        for f in filters:
            t = float(f["threshold"])
            if not 0.0 <= t <= 0.99:
                raise _validation(
                    f"The {f['type']} threshold must be between 0 and 0.99 (got {t})."
                )
        stored = {"filters": [{"action": "BLOCK", "enabled": True, **dict(f)} for f in filters]}
        if grounding.get("tierConfig"):
            stored["tier"] = dict(grounding["tierConfig"])
        cfg["contextualGroundingPolicy"] = stored

    if params.get("automatedReasoningPolicyConfig"):
        raise _validation(
            "Automated Reasoning policies are not emulated offline; leave out "
            "automatedReasoningPolicyConfig (or run this part on the aws backend)."
        )
    return cfg, missing


def _warn_missing(missing: list[str]) -> None:
    if missing:
        warnings.warn(
            f"Offline, PII types {', '.join(missing)} are not detected (they need a named-entity "
            "model); every assessment lists them under mllabOffline.notDetectedOffline. On AWS "
            "they are detected.",
            OfflineApproximationWarning,
            stacklevel=2,
        )


def _new_id(store: dict[str, _Guardrail]) -> str:
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    while True:
        gid = "".join(secrets.choice(alphabet) for _ in range(12))
        if gid not in store:
            return gid


# --------------------------------------------------------------------------- control plane


@handles("bedrock", "CreateGuardrail")
def _create(call: OfflineCall) -> dict[str, Any]:
    p = call.params
    cfg, missing = _validate_and_build(p)
    now = clock.now_dt()
    with _LOCK:
        store = _store(call.account_id, call.region)
        if any(g.name == p["name"] for g in store.values()):
            raise AwsError(
                "ConflictException",
                f"A guardrail named {p['name']!r} already exists; choose another name or update it.",
                409,
            )
        if len(store) >= MAX_GUARDRAILS:
            raise AwsError(
                "ServiceQuotaExceededException",
                f"The account has reached the quota of {MAX_GUARDRAILS} guardrails in {call.region}.",
                400,
            )
        gid = _new_id(store)
        arn = f"arn:aws:bedrock:{call.region}:{call.account_id}:guardrail/{gid}"
        cfg.update(createdAt=now, updatedAt=now)
        store[gid] = _Guardrail(
            id=gid,
            arn=arn,
            name=p["name"],
            created_at=now,
            draft=cfg,
            tags={t["key"]: t["value"] for t in p.get("tags") or []},
        )
    _warn_missing(missing)
    return {"guardrailId": gid, "guardrailArn": arn, "version": "DRAFT", "createdAt": now}


@handles("bedrock", "UpdateGuardrail")
def _update(call: OfflineCall) -> dict[str, Any]:
    p = call.params
    g = _find(call.account_id, call.region, p["guardrailIdentifier"])
    cfg, missing = _validate_and_build(p)
    now = clock.now_dt()
    with _LOCK:
        store = _store(call.account_id, call.region)
        if any(o.name == p["name"] and o.id != g.id for o in store.values()):
            raise AwsError(
                "ConflictException", f"A guardrail named {p['name']!r} already exists.", 409
            )
        g.name = p["name"]
        cfg.update(createdAt=g.created_at, updatedAt=now)
        g.draft = cfg
    _warn_missing(missing)
    return {"guardrailId": g.id, "guardrailArn": g.arn, "version": "DRAFT", "updatedAt": now}


@handles("bedrock", "CreateGuardrailVersion")
def _create_version(call: OfflineCall) -> dict[str, Any]:
    p = call.params
    g = _find(call.account_id, call.region, p["guardrailIdentifier"])
    with _LOCK:
        if len(g.versions) >= MAX_VERSIONS:
            raise AwsError(
                "ServiceQuotaExceededException",
                f"Guardrail {g.id} has reached the quota of {MAX_VERSIONS} versions; delete one.",
                400,
            )
        version = str(g.next_version)
        g.next_version += 1
        snap = copy.deepcopy(g.draft)
        snap["name"] = g.name
        snap.pop("description", None)
        if p.get("description"):
            snap["description"] = p["description"]
        now = clock.now_dt()
        snap.update(createdAt=now, updatedAt=now)
        g.versions[version] = snap
    return {"guardrailId": g.id, "version": version}


def _config(g: _Guardrail, version: str | None) -> dict[str, Any]:
    v = version or "DRAFT"
    if v == "DRAFT":
        return {**g.draft, "name": g.name}
    if v not in g.versions:
        raise _not_found(g.id, v)
    return g.versions[v]


@handles("bedrock", "GetGuardrail")
def _get(call: OfflineCall) -> dict[str, Any]:
    p = call.params
    g = _find(call.account_id, call.region, p["guardrailIdentifier"])
    version = p.get("guardrailVersion") or "DRAFT"
    cfg = copy.deepcopy(_config(g, version))
    return {
        **cfg,
        "guardrailId": g.id,
        "guardrailArn": g.arn,
        "version": version,
        "status": "READY",
    }


def _summary(g: _Guardrail, version: str) -> dict[str, Any]:
    cfg = _config(g, version)
    out = {
        "id": g.id,
        "arn": g.arn,
        "status": "READY",
        "name": cfg["name"],
        "version": version,
        "createdAt": cfg["createdAt"],
        "updatedAt": cfg["updatedAt"],
    }
    if cfg.get("description"):
        out["description"] = cfg["description"]
    return out


@handles("bedrock", "ListGuardrails")
def _list(call: OfflineCall) -> dict[str, Any]:
    p = call.params
    if p.get("guardrailIdentifier"):
        g = _find(call.account_id, call.region, p["guardrailIdentifier"])
        rows = [_summary(g, "DRAFT")] + [_summary(g, v) for v in sorted(g.versions, key=int)]
    else:
        with _LOCK:
            items = sorted(
                _store(call.account_id, call.region).values(), key=lambda g: g.created_at
            )
        rows = [_summary(g, "DRAFT") for g in items]
    start = int(p.get("nextToken") or 0)
    size = int(p.get("maxResults") or 1000)
    out: dict[str, Any] = {"guardrails": rows[start : start + size]}
    if start + size < len(rows):
        out["nextToken"] = str(start + size)
    return out


@handles("bedrock", "DeleteGuardrail")
def _delete(call: OfflineCall) -> dict[str, Any]:
    p = call.params
    g = _find(call.account_id, call.region, p["guardrailIdentifier"])
    version = p.get("guardrailVersion")
    with _LOCK:
        if version:
            if version not in g.versions:
                raise _not_found(g.id, version)
            del g.versions[version]
        else:
            _store(call.account_id, call.region).pop(g.id, None)
    return {}


def _own_arn(call: OfflineCall, arn: str) -> _Guardrail | None:
    m = _ARN.match(arn or "")
    if not m:
        return None
    return _find(call.account_id, call.region, arn)


@handles("bedrock", "TagResource")
def _tag(call: OfflineCall) -> dict[str, Any] | None:
    g = _own_arn(call, call.params.get("resourceARN", ""))
    if g is None:
        return None
    with _LOCK:
        g.tags.update({t["key"]: t["value"] for t in call.params.get("tags") or []})
    return {}


@handles("bedrock", "UntagResource")
def _untag(call: OfflineCall) -> dict[str, Any] | None:
    g = _own_arn(call, call.params.get("resourceARN", ""))
    if g is None:
        return None
    with _LOCK:
        for k in call.params.get("tagKeys") or []:
            g.tags.pop(k, None)
    return {}


@handles("bedrock", "ListTagsForResource")
def _list_tags(call: OfflineCall) -> dict[str, Any] | None:
    g = _own_arn(call, call.params.get("resourceARN", ""))
    if g is None:
        return None
    return {"tags": [{"key": k, "value": v} for k, v in sorted(g.tags.items())]}


# --------------------------------------------------------------------------- assessment


def _blocks_of(content: list[dict[str, Any]]) -> tuple[list[str], list[str], list[str], int]:
    """Split content blocks into guarded texts, grounding sources and queries (+ image count).

    Accepts ApplyGuardrail's ``{"text": {"text", "qualifiers"}}``, Converse's plain
    ``{"text": "..."}`` and ``{"guardContent": {...}}`` blocks.
    """
    guarded: list[str] = []
    sources: list[str] = []
    queries: list[str] = []
    images = 0
    for block in content or []:
        if "guardContent" in block:
            block = block["guardContent"]
        if "image" in block:
            images += 1
            continue
        text = block.get("text")
        if text is None:
            continue
        if isinstance(text, str):
            guarded.append(text)
            continue
        qualifiers = set(text.get("qualifiers") or [])
        value = str(text.get("text", ""))
        if "grounding_source" in qualifiers:
            sources.append(value)
        elif "query" in qualifiers:
            queries.append(value)
        else:
            guarded.append(value)
    return guarded, sources, queries, images


def _direction(item: dict[str, Any], source: str) -> tuple[bool, str]:
    if source == "INPUT":
        return bool(item.get("inputEnabled", True)), str(item.get("inputAction", "BLOCK"))
    return bool(item.get("outputEnabled", True)), str(item.get("outputAction", "BLOCK"))


_DONE = {"BLOCK": "BLOCKED", "ANONYMIZE": "ANONYMIZED", "NONE": "NONE"}


def assess(
    account_id: str,
    region: str,
    identifier: str,
    version: str,
    source: str,
    content: list[dict[str, Any]],
    *,
    query: str | None = None,
    grounding_source: str | None = None,
    output_scope: str = "INTERVENTIONS",
) -> dict[str, Any]:
    """Apply a guardrail to content, as ``ApplyGuardrail`` does (computed, offline).

    Used by the ``ApplyGuardrail`` handler and by the offline Converse/InvokeModel for
    ``guardrailConfig``.

    Args:
        account_id: the offline account id.
        region: the region the guardrail lives in.
        identifier: the guardrail id or ARN.
        version: ``"DRAFT"`` (or ``""``) or a numbered version.
        source: ``"INPUT"`` (a prompt) or ``"OUTPUT"`` (a model response).
        content: ApplyGuardrail content blocks (Converse text/guardContent blocks accepted);
            blocks qualified ``grounding_source`` or ``query`` feed the grounding check.
        query: the user's query for the relevance check (added to any ``query`` block).
        grounding_source: the reference text for the grounding check (added to any
            ``grounding_source`` block).
        output_scope: ``INTERVENTIONS`` (list only what was detected) or ``FULL``.

    Returns:
        ApplyGuardrail's response: ``usage``, ``action``, ``actionReason``, ``outputs``,
        ``assessments``, ``guardrailCoverage``. Costs nothing offline (on AWS it bills per text
        unit and policy); deletes nothing.

    Raises:
        AwsError: ResourceNotFoundException for an unknown guardrail or version,
            ValidationException for a bad source.
    """
    from mllab.models import guardrail_classifiers as gc

    started = time.perf_counter()
    if source not in ("INPUT", "OUTPUT"):
        raise _validation(f"source must be INPUT or OUTPUT (got {source!r}).")
    g = _find(account_id, region, identifier)
    cfg = _config(g, version or "DRAFT")
    guarded, sources, queries, images = _blocks_of(content)
    if grounding_source:
        sources.append(grounding_source)
    if query:
        queries.append(query)
    full = output_scope == "FULL"
    text = "\n".join(guarded)
    units = sum(gc.text_units(t) for t in guarded)
    usage = {
        "topicPolicyUnits": 0,
        "contentPolicyUnits": 0,
        "wordPolicyUnits": 0,
        "sensitiveInformationPolicyUnits": 0,
        "sensitiveInformationPolicyFreeUnits": 0,
        "contextualGroundingPolicyUnits": 0,
    }
    assessment: dict[str, Any] = {}
    blocked = False
    masks: list[list[gc.Span]] = [[] for _ in guarded]  # what to anonymize, per block
    notes: dict[str, Any] = {}

    def keep(entry: dict[str, Any]) -> bool:
        return full or bool(entry.get("detected"))

    # denied topics
    topics = [t for t in cfg.get("topicPolicy", {}).get("topics", []) if _direction(t, source)[0]]
    if topics:
        usage["topicPolicyUnits"] = units
        entries = []
        for t in topics:
            score = (
                gc.topic_score(text, t["definition"], t.get("examples") or [], t["name"])
                if text
                else 0.0
            )
            detected = score >= gc.TOPIC_THRESHOLD
            act = _DONE[_direction(t, source)[1]] if detected else "NONE"
            blocked |= act == "BLOCKED"
            entry = {"name": t["name"], "type": "DENY", "action": act, "detected": detected}
            if keep(entry):
                entries.append(entry)
        if entries:
            assessment["topicPolicy"] = {"topics": entries}

    # content filters
    filters = []
    for f in cfg.get("contentPolicy", {}).get("filters", []):
        enabled, _ = _direction(f, source)
        strength = f["inputStrength"] if source == "INPUT" else f["outputStrength"]
        if f["type"] == "PROMPT_ATTACK" and source == "OUTPUT":
            continue  # prompt attacks are judged on inputs only, as on AWS
        if enabled and strength != "NONE":
            filters.append((f, strength))
    if filters:
        usage["contentPolicyUnits"] = units
        scores = [gc.content_scores(t, [f["type"] for f, _ in filters]) for t in guarded] or [
            gc.content_scores("", [f["type"] for f, _ in filters])
        ]
        entries = []
        for f, strength in filters:
            best = max((s[f["type"]] for s in scores), key=lambda c: c.score)
            detected = gc.blocks(strength, best.confidence)
            act = _DONE[_direction(f, source)[1]] if detected else "NONE"
            blocked |= act == "BLOCKED"
            entry = {
                "type": f["type"],
                "confidence": best.confidence,
                "filterStrength": strength,
                "action": act,
                "detected": detected,
            }
            if keep(entry):
                entries.append(entry)
        if entries:
            assessment["contentPolicy"] = {"filters": entries}

    # word filters
    wp = cfg.get("wordPolicy")
    if wp:
        words = [w for w in wp.get("words", []) if _direction(w, source)[0]]
        managed = [m for m in wp.get("managedWordLists", []) if _direction(m, source)[0]]
        if words or managed:
            usage["wordPolicyUnits"] = units
            custom_entries, managed_entries = [], []
            for w in words:
                act = _DONE[_direction(w, source)[1]]
                for span in gc.find_words(text, [w["text"]]):
                    blocked |= act == "BLOCKED"
                    custom_entries.append({"match": span.match, "action": act, "detected": True})
            for m in managed:
                act = _DONE[_direction(m, source)[1]]
                for span in gc.find_profanity(text):
                    blocked |= act == "BLOCKED"
                    managed_entries.append(
                        {"match": span.match, "type": "PROFANITY", "action": act, "detected": True}
                    )
            if custom_entries or managed_entries or full:
                assessment["wordPolicy"] = {
                    "customWords": custom_entries,
                    "managedWordLists": managed_entries,
                }

    # sensitive information
    sp = cfg.get("sensitiveInformationPolicy")
    if sp:
        pii = [e for e in sp.get("piiEntities", []) if _direction(e, source)[0]]
        regexes = [r for r in sp.get("regexes", []) if _direction(r, source)[0]]
        if pii:
            usage["sensitiveInformationPolicyUnits"] = units
        elif regexes:
            usage["sensitiveInformationPolicyFreeUnits"] = units
        pii_entries, regex_entries = [], []
        actions = {e["type"]: _DONE[_direction(e, source)[1]] for e in pii}
        for i, block in enumerate(guarded):
            for span in gc.find_pii(block, actions):
                act = actions[span.type]
                blocked |= act == "BLOCKED"
                if act == "ANONYMIZED":
                    masks[i].append(span)
                pii_entries.append(
                    {"match": span.match, "type": span.type, "action": act, "detected": True}
                )
            for r in regexes:
                act = _DONE[_direction(r, source)[1]]
                for span in gc.find_regex(block, r["name"], r["pattern"]):
                    blocked |= act == "BLOCKED"
                    if act == "ANONYMIZED":
                        masks[i].append(span)
                    regex_entries.append(
                        {
                            "name": r["name"],
                            "match": span.match,
                            "regex": r["pattern"],
                            "action": act,
                            "detected": True,
                        }
                    )
        if pii_entries or regex_entries or (full and (pii or regexes)):
            assessment["sensitiveInformationPolicy"] = {
                "piiEntities": pii_entries,
                "regexes": regex_entries,
            }
        unseen = sorted(t for t in actions if t in gc.NOT_DETECTED_OFFLINE)
        if unseen:
            notes["notDetectedOffline"] = unseen

    # contextual grounding and relevance
    cg = cfg.get("contextualGroundingPolicy")
    if cg and source == "OUTPUT":
        entries = []
        evaluated = False
        for f in cg.get("filters", []):
            if not f.get("enabled", True):
                continue
            if f["type"] == "GROUNDING":
                if not sources:
                    notes.setdefault("skipped", []).append(
                        "GROUNDING: no content block qualified grounding_source"
                    )
                    continue
                score = gc.grounding_score(text, "\n".join(sources))
            else:
                if not queries:
                    notes.setdefault("skipped", []).append(
                        "RELEVANCE: no content block qualified query"
                    )
                    continue
                score = gc.relevance_score(text, "\n".join(queries))
            evaluated = True
            threshold = float(f["threshold"])
            detected = score < threshold
            act = "BLOCKED" if detected and f.get("action", "BLOCK") == "BLOCK" else "NONE"
            blocked |= act == "BLOCKED"
            entry = {
                "type": f["type"],
                "threshold": threshold,
                "score": score,
                "action": act,
                "detected": detected,
            }
            entries.append(entry)  # AWS reports grounding scores whether or not they pass
        if evaluated:
            usage["contextualGroundingPolicyUnits"] = units + sum(
                gc.text_units(t) for t in [*sources, *queries]
            )
        if entries:
            assessment["contextualGroundingPolicy"] = {"filters": entries}

    if blocked:
        action, reason = "GUARDRAIL_INTERVENED", "Guardrail blocked."
        message = (
            cfg["blockedInputMessaging"] if source == "INPUT" else cfg["blockedOutputsMessaging"]
        )
        outputs = [{"text": message}]
    elif any(masks):
        action, reason = "GUARDRAIL_INTERVENED", "Guardrail masked."
        outputs = [
            {"text": gc.anonymize(block, m)} for block, m in zip(guarded, masks, strict=True)
        ]
    else:
        action, reason, outputs = "NONE", "No action.", []

    total_chars = sum(len(t) for t in guarded)
    coverage: dict[str, Any] = {"textCharacters": {"guarded": total_chars, "total": total_chars}}
    if images:
        coverage["images"] = {"guarded": 0, "total": images}
    latency_ms = int((time.perf_counter() - started) * 1000)
    assessment["invocationMetrics"] = {
        "guardrailProcessingLatency": latency_ms,
        "usage": dict(usage),
        "guardrailCoverage": coverage,
    }
    if notes:
        notes["note"] = (
            "mllab offline: see mllab.models.guardrail_classifiers for what is approximated; "
            "this key does not exist on AWS."
        )
        assessment["mllabOffline"] = notes
    return {
        "usage": usage,
        "action": action,
        "actionReason": reason,
        "outputs": outputs,
        "assessments": [assessment],
        "guardrailCoverage": coverage,
    }


@handles("bedrock-runtime", "ApplyGuardrail")
def _apply(call: OfflineCall) -> dict[str, Any]:
    p = call.params
    return assess(
        call.account_id,
        call.region,
        p["guardrailIdentifier"],
        p.get("guardrailVersion") or "DRAFT",
        p["source"],
        p.get("content") or [],
        output_scope=p.get("outputScope") or "INTERVENTIONS",
    )
