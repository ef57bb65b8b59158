"""Offline Amazon Bedrock Prompt Management (``bedrock-agent`` prompts) and prompt resolution.

moto 5.2's ``bedrock-agent`` has agents and knowledge bases but no prompts, so these operations
are answered here, in botocore's shapes:

* ``CreatePrompt`` (a DRAFT with at most one variant, as botocore's model allows; ``templateType``
  TEXT or CHAT; ``{{variable}}`` placeholders declared in ``inputVariables``; ``modelId``;
  ``inferenceConfiguration``; ``defaultVariant``), ``UpdatePrompt`` (replaces the DRAFT whole),
  ``CreatePromptVersion`` (an immutable snapshot numbered 1, 2, ...; its ARN ends ``:N``),
  ``GetPrompt`` (``promptVersion`` optional, DRAFT by default), ``ListPrompts`` (the DRAFT of
  every prompt, or every version of one prompt), ``DeletePrompt`` (the whole prompt, or one
  version with ``promptVersion``), and tags on prompt ARNs.
* :func:`resolve` turns a prompt ARN used as a Converse ``modelId`` plus ``promptVariables`` into
  the Converse inputs the offline Converse runs. As on AWS, an ARN without a version suffix uses
  the DRAFT; a version ARN (``...:prompt/ID:2``) uses that snapshot. :func:`check_converse_request`
  enforces what AWS documents for such a Converse request: no ``additionalModelRequestFields``,
  ``inferenceConfig``, ``system`` or ``toolConfig`` (they come from the prompt), and any
  ``messages`` are appended after the prompt's own.

Error messages follow AWS's meaning; where AWS's exact words are not documented they are
mllab's, naming the problem and the fix.

Introduced in lab 05 (a generative AI application: prompt engineering and versioning).
"""

from __future__ import annotations

import copy
import re
import secrets
import threading
from dataclasses import dataclass, field
from typing import Any

from mllab.offline import clock
from mllab.offline.registry import AwsError, OfflineCall, handles, on_reset

#: Numbered versions a prompt may have (AWS's default quota is 10 per prompt).
MAX_VERSIONS = 10

_ARN = re.compile(
    r"^arn:aws[a-z-]*:bedrock:([a-z0-9-]+):(\d{12}):prompt/([0-9a-zA-Z]{10})(?::([0-9]{1,5}))?$"
)
_ID = re.compile(r"^[0-9a-zA-Z]{10}$")
_VAR = re.compile(r"\{\{\s*([0-9a-zA-Z_-]+)\s*\}\}")


@dataclass
class _Prompt:
    id: str
    arn: str
    created_at: Any
    draft: dict[str, Any]
    versions: dict[str, dict[str, Any]] = field(default_factory=dict)
    next_version: int = 1
    tags: dict[str, str] = field(default_factory=dict)


_LOCK = threading.RLock()
_STATE: dict[tuple[str, str], dict[str, _Prompt]] = {}


@on_reset
def _reset() -> None:
    with _LOCK:
        _STATE.clear()


def _store(account_id: str, region: str) -> dict[str, _Prompt]:
    return _STATE.setdefault((account_id, region), {})


def _validation(message: str) -> AwsError:
    return AwsError("ValidationException", message, 400)


def _not_found(identifier: str, version: str | None = None) -> AwsError:
    what = f"Version {version} of prompt {identifier}" if version else f"Prompt {identifier}"
    return AwsError(
        "ResourceNotFoundException",
        f"{what} does not exist. Check the prompt id or ARN (ListPrompts lists them) "
        "and the version (ListPrompts with promptIdentifier lists its versions).",
        404,
    )


def _parse(account_id: str, region: str, identifier: str) -> tuple[_Prompt, str | None]:
    """Find a prompt by id or ARN; return it and the version named in the ARN, if any."""
    version = None
    pid = identifier or ""
    m = _ARN.match(pid)
    if m:
        if m.group(1) != region or m.group(2) != account_id:
            raise _not_found(identifier)
        pid, version = m.group(3), m.group(4)
    elif not _ID.match(pid):
        raise _validation(
            f"Invalid prompt identifier {identifier!r}: give the 10-character prompt id or the "
            "prompt ARN (arn:aws:bedrock:REGION:ACCOUNT:prompt/ID, optionally :VERSION)."
        )
    with _LOCK:
        p = _store(account_id, region).get(pid)
    if p is None:
        raise _not_found(identifier)
    return p, version


def template_variables(variant: dict[str, Any]) -> list[str]:
    """The ``{{name}}`` placeholders a variant's template uses, in order of first use.

    Args:
        variant: a PromptVariant (CreatePrompt's shape).

    Returns:
        Variable names. Costs nothing; deletes nothing.
    """
    texts: list[str] = []
    tc = variant.get("templateConfiguration") or {}
    if "text" in tc:
        texts.append(str(tc["text"].get("text", "")))
    if "chat" in tc:
        chat = tc["chat"]
        texts += [str(b.get("text", "")) for b in chat.get("system") or []]
        for msg in chat.get("messages") or []:
            texts += [str(b.get("text", "")) for b in msg.get("content") or [] if "text" in b]
    seen: list[str] = []
    for t in texts:
        for name in _VAR.findall(t):
            if name not in seen:
                seen.append(name)
    return seen


def _validate(params: dict[str, Any]) -> dict[str, Any]:
    variants = params.get("variants") or []
    if len(variants) > 1:
        raise _validation(
            "A prompt can have at most 1 variant in the API (variants has "
            f"{len(variants)}); create one prompt per variant to compare them."
        )
    names = [v["name"] for v in variants]
    default = params.get("defaultVariant")
    if default and default not in names:
        raise _validation(
            f"defaultVariant {default!r} is not the name of a variant of this prompt "
            f"(variants: {', '.join(names) or 'none'})."
        )
    for v in variants:
        ttype = v["templateType"]
        tc = v.get("templateConfiguration") or {}
        key = "text" if ttype == "TEXT" else "chat"
        if key not in tc:
            raise _validation(
                f"Variant {v['name']!r} has templateType {ttype}: its templateConfiguration "
                f"must contain {key!r}."
            )
        if ttype == "CHAT" and not tc["chat"].get("messages"):
            raise _validation(f"Variant {v['name']!r}: a CHAT template needs at least 1 message.")
        declared = [iv.get("name") for iv in tc[key].get("inputVariables") or []]
        undeclared = [n for n in template_variables(v) if n not in declared]
        if undeclared:
            raise _validation(
                f"Variant {v['name']!r} uses {', '.join('{{' + n + '}}' for n in undeclared)} "
                "but does not declare it in inputVariables; add "
                + ", ".join(f"{{'name': '{n}'}}" for n in undeclared)
                + "."
            )
    cfg: dict[str, Any] = {
        k: copy.deepcopy(params[k])
        for k in ("name", "description", "customerEncryptionKeyArn", "defaultVariant", "variants")
        if k in params
    }
    return cfg


def _new_id(store: dict[str, _Prompt]) -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    while True:
        pid = "".join(secrets.choice(alphabet) for _ in range(10))
        if pid not in store:
            return pid


def _view(p: _Prompt, version: str) -> dict[str, Any]:
    if version == "DRAFT":
        cfg, arn = p.draft, p.arn
    else:
        if version not in p.versions:
            raise _not_found(p.id, version)
        cfg, arn = p.versions[version], f"{p.arn}:{version}"
    return {**copy.deepcopy(cfg), "id": p.id, "arn": arn, "version": version}


# --------------------------------------------------------------------------- handlers


@handles("bedrock-agent", "CreatePrompt")
def _create(call: OfflineCall) -> dict[str, Any]:
    cfg = _validate(call.params)
    now = clock.now_dt()
    with _LOCK:
        store = _store(call.account_id, call.region)
        if any(p.draft["name"] == cfg["name"] for p in store.values()):
            raise AwsError(
                "ConflictException",
                f"A prompt named {cfg['name']!r} already exists; choose another name or update it.",
                409,
            )
        pid = _new_id(store)
        arn = f"arn:aws:bedrock:{call.region}:{call.account_id}:prompt/{pid}"
        cfg.update(createdAt=now, updatedAt=now)
        store[pid] = _Prompt(pid, arn, now, cfg, tags=dict(call.params.get("tags") or {}))
        return _view(store[pid], "DRAFT")


@handles("bedrock-agent", "UpdatePrompt")
def _update(call: OfflineCall) -> dict[str, Any]:
    p, version = _parse(call.account_id, call.region, call.params["promptIdentifier"])
    if version:
        raise _validation(
            "Only the DRAFT of a prompt can be updated; numbered versions are immutable. "
            "Give the prompt id or its ARN without a version."
        )
    cfg = _validate(call.params)
    with _LOCK:
        store = _store(call.account_id, call.region)
        if any(o.draft["name"] == cfg["name"] and o.id != p.id for o in store.values()):
            raise AwsError(
                "ConflictException", f"A prompt named {cfg['name']!r} already exists.", 409
            )
        cfg.update(createdAt=p.created_at, updatedAt=clock.now_dt())
        p.draft = cfg
        return _view(p, "DRAFT")


@handles("bedrock-agent", "CreatePromptVersion")
def _create_version(call: OfflineCall) -> dict[str, Any]:
    p, _ = _parse(call.account_id, call.region, call.params["promptIdentifier"])
    with _LOCK:
        if len(p.versions) >= MAX_VERSIONS:
            raise AwsError(
                "ServiceQuotaExceededException",
                f"Prompt {p.id} has reached the quota of {MAX_VERSIONS} versions; delete one "
                "(DeletePrompt with promptVersion).",
                400,
            )
        version = str(p.next_version)
        p.next_version += 1
        snap = copy.deepcopy(p.draft)
        snap.pop("description", None)
        if call.params.get("description"):
            snap["description"] = call.params["description"]
        now = clock.now_dt()
        snap.update(createdAt=now, updatedAt=now)
        p.versions[version] = snap
        return _view(p, version)


@handles("bedrock-agent", "GetPrompt")
def _get(call: OfflineCall) -> dict[str, Any]:
    p, arn_version = _parse(call.account_id, call.region, call.params["promptIdentifier"])
    version = call.params.get("promptVersion") or arn_version or "DRAFT"
    return _view(p, version)


def _summary(p: _Prompt, version: str) -> dict[str, Any]:
    v = _view(p, version)
    keep = ("name", "description", "id", "arn", "version", "createdAt", "updatedAt")
    return {k: v[k] for k in keep if k in v}


@handles("bedrock-agent", "ListPrompts")
def _list(call: OfflineCall) -> dict[str, Any]:
    ident = call.params.get("promptIdentifier")
    if ident:
        p, _ = _parse(call.account_id, call.region, ident)
        rows = [_summary(p, "DRAFT")] + [_summary(p, v) for v in sorted(p.versions, key=int)]
    else:
        with _LOCK:
            items = sorted(
                _store(call.account_id, call.region).values(), key=lambda p: p.created_at
            )
        rows = [_summary(p, "DRAFT") for p in items]
    start = int(call.params.get("nextToken") or 0)
    size = int(call.params.get("maxResults") or 1000)
    out: dict[str, Any] = {"promptSummaries": rows[start : start + size]}
    if start + size < len(rows):
        out["nextToken"] = str(start + size)
    return out


@handles("bedrock-agent", "DeletePrompt")
def _delete(call: OfflineCall) -> dict[str, Any]:
    p, arn_version = _parse(call.account_id, call.region, call.params["promptIdentifier"])
    version = call.params.get("promptVersion") or arn_version
    with _LOCK:
        if version:
            if version not in p.versions:
                raise _not_found(p.id, version)
            del p.versions[version]
            return {"id": p.id, "version": version}
        _store(call.account_id, call.region).pop(p.id, None)
    return {"id": p.id}


def _own(call: OfflineCall, arn: str) -> _Prompt | None:
    if not _ARN.match(arn or ""):
        return None
    return _parse(call.account_id, call.region, arn)[0]


@handles("bedrock-agent", "TagResource")
def _tag(call: OfflineCall) -> dict[str, Any] | None:
    p = _own(call, call.params.get("resourceArn", ""))
    if p is None:
        return None
    with _LOCK:
        p.tags.update(call.params.get("tags") or {})
    return {}


@handles("bedrock-agent", "UntagResource")
def _untag(call: OfflineCall) -> dict[str, Any] | None:
    p = _own(call, call.params.get("resourceArn", ""))
    if p is None:
        return None
    with _LOCK:
        for k in call.params.get("tagKeys") or []:
            p.tags.pop(k, None)
    return {}


@handles("bedrock-agent", "ListTagsForResource")
def _list_tags(call: OfflineCall) -> dict[str, Any] | None:
    p = _own(call, call.params.get("resourceArn", ""))
    if p is None:
        return None
    return {"tags": dict(p.tags)}


# --------------------------------------------------------------------------- Converse


def is_prompt_arn(model_id: str) -> bool:
    """True when a Converse ``modelId`` is a Prompt management ARN (with or without version)."""
    return bool(_ARN.match(model_id or ""))


def check_converse_request(params: dict[str, Any]) -> None:
    """Refuse what AWS refuses in a Converse request whose ``modelId`` is a prompt ARN.

    Args:
        params: the Converse request.

    Raises:
        AwsError: ValidationException naming the fields to remove. Costs nothing.
    """
    banned = [
        k
        for k in ("additionalModelRequestFields", "inferenceConfig", "system", "toolConfig")
        if params.get(k)
    ]
    if banned:
        raise _validation(
            f"With a Prompt management prompt as modelId, the request can't include "
            f"{', '.join(banned)}: define them in the prompt (UpdatePrompt, then "
            "CreatePromptVersion) and remove them from the request."
        )


def _fill(text: str, values: dict[str, str]) -> str:
    return _VAR.sub(lambda m: values[m.group(1)], text)


def resolve(
    account_id: str, region: str, prompt_identifier: str, variables: dict[str, Any]
) -> dict[str, Any]:
    """Turn a prompt ARN (Converse ``modelId``) and ``promptVariables`` into Converse inputs.

    The default variant is used (or the only one). TEXT templates become one user message;
    CHAT templates give their system blocks, messages and tool configuration. Variables are
    substituted in every text block.

    Args:
        account_id: the offline account id.
        region: the region of the prompt.
        prompt_identifier: ``arn:aws:bedrock:REGION:ACCOUNT:prompt/ID`` (the DRAFT) or with
            ``:VERSION`` (that version); the bare id is accepted too.
        variables: Converse's ``promptVariables``: ``{name: {"text": value}}`` (plain strings
            are accepted).

    Returns:
        ``{"modelId", "system", "messages", "inferenceConfig", "toolConfig"}`` (``system`` and
        ``toolConfig`` may be None; ``inferenceConfig`` may be empty). Costs nothing; deletes nothing.

    Raises:
        AwsError: ResourceNotFoundException for an unknown prompt or version;
            ValidationException for a prompt without a variant or model, or a missing variable.
    """
    p, version = _parse(account_id, region, prompt_identifier)
    cfg = _view(p, version or "DRAFT")
    variants = cfg.get("variants") or []
    if not variants:
        raise _validation(
            f"Prompt {p.id} (version {cfg['version']}) has no variant to run; add one with "
            "UpdatePrompt (and CreatePromptVersion)."
        )
    default = cfg.get("defaultVariant")
    variant = next((v for v in variants if v["name"] == default), variants[0])
    model_id = variant.get("modelId")
    if not model_id:
        raise _validation(
            f"Prompt {p.id} variant {variant['name']!r} has no modelId; set one to run the "
            "prompt with Converse."
        )
    values: dict[str, str] = {}
    for name, v in (variables or {}).items():
        values[name] = str(v.get("text", "")) if isinstance(v, dict) else str(v)
    tc = variant["templateConfiguration"]
    key = "text" if variant["templateType"] == "TEXT" else "chat"
    declared = [iv["name"] for iv in tc[key].get("inputVariables") or [] if iv.get("name")]
    needed = list(dict.fromkeys([*declared, *template_variables(variant)]))
    missing = [n for n in needed if n not in values]
    if missing:
        raise _validation(
            "Missing value for prompt variable(s) "
            + ", ".join(missing)
            + ": pass promptVariables={"
            + ", ".join(f"'{n}': {{'text': '...'}}" for n in missing)
            + "}."
        )
    system: list[dict[str, Any]] | None = None
    tool_config: dict[str, Any] | None = None
    if key == "text":
        messages = [{"role": "user", "content": [{"text": _fill(tc["text"]["text"], values)}]}]
    else:
        chat = tc["chat"]
        if chat.get("system"):
            system = [
                {**b, "text": _fill(b["text"], values)} if "text" in b else dict(b)
                for b in chat["system"]
            ]
        messages = [
            {
                "role": m["role"],
                "content": [
                    {**b, "text": _fill(b["text"], values)} if "text" in b else dict(b)
                    for b in m["content"]
                ],
            }
            for m in chat["messages"]
        ]
        if chat.get("toolConfiguration"):
            tool_config = copy.deepcopy(chat["toolConfiguration"])
    inference = dict((variant.get("inferenceConfiguration") or {}).get("text") or {})
    return {
        "modelId": model_id,
        "system": system,
        "messages": messages,
        "inferenceConfig": inference,
        "toolConfig": tool_config,
    }
