"""Offline ``bedrock`` control plane: foundation models and inference profiles (lab 05).

moto 5.2's ``bedrock`` backend has no foundation-model catalogue and no inference profiles,
so ``ListFoundationModels``, ``GetFoundationModel``, ``ListInferenceProfiles`` and
``GetInferenceProfile`` are answered here from :mod:`mllab.models.catalog`, in botocore's
shapes: ``modelArn`` (``arn:aws:bedrock:REGION::foundation-model/ID``), ``providerName``,
``inputModalities`` / ``outputModalities``, ``responseStreamingSupported``,
``inferenceTypesSupported`` (``ON_DEMAND`` and/or ``INFERENCE_PROFILE``),
``customizationsSupported`` and ``modelLifecycle``, with the ``byProvider``,
``byOutputModality``, ``byInferenceType`` and ``byCustomizationType`` filters. Inference
profiles are the ``SYSTEM_DEFINED`` cross-region ones, each listing the foundation-model ARNs
of the regions it routes to. Invocation logging configuration is moto's (checked in
:mod:`mllab.offline.bedrock.invocation_logging`).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from mllab.offline.registry import AwsError, OfflineCall, handles

_CREATED = dt.datetime(2024, 8, 27, tzinfo=dt.UTC)


def _model_arn(region: str, model_id: str) -> str:
    return f"arn:aws:bedrock:{region}::foundation-model/{model_id}"


def _summary(prof: Any, region: str) -> dict[str, Any]:
    return {
        "modelArn": _model_arn(region, prof.model_id),
        "modelId": prof.model_id,
        "modelName": prof.name,
        "providerName": prof.provider,
        "inputModalities": list(prof.input_modalities),
        "outputModalities": list(prof.output_modalities),
        "responseStreamingSupported": prof.streaming,
        "customizationsSupported": [],
        "inferenceTypesSupported": list(prof.inference_types),
        "modelLifecycle": {"status": prof.lifecycle},
    }


@handles("bedrock", "ListFoundationModels")
def _list_models(call: OfflineCall) -> dict[str, Any]:
    from mllab.models import catalog

    p = call.params
    out = []
    for prof in catalog.models():
        if p.get("byProvider") and prof.provider.lower() != str(p["byProvider"]).lower():
            continue
        if p.get("byOutputModality") and p["byOutputModality"] not in prof.output_modalities:
            continue
        if p.get("byInferenceType") and p["byInferenceType"] not in prof.inference_types:
            continue
        if p.get("byCustomizationType"):
            continue  # no catalogued model is customizable offline (part 2)
        out.append(_summary(prof, call.region))
    return {"modelSummaries": out}


@handles("bedrock", "GetFoundationModel")
def _get_model(call: OfflineCall) -> dict[str, Any]:
    from mllab.models import catalog

    ident = str(call.params.get("modelIdentifier", ""))
    prof = catalog.profile(ident)
    if prof is None or prof.is_inference_profile:
        raise AwsError("ValidationException", "The provided model identifier is invalid.")
    return {"modelDetails": _summary(prof, call.region)}


def _profile_view(prof: Any, account_id: str, region: str) -> dict[str, Any]:
    geo = prof.model_id.split(".", 1)[0]
    return {
        "inferenceProfileName": f"{prof.name}",
        "description": f"Routes requests to {prof.name.split(' ', 1)[-1]} in "
        f"{', '.join(prof.profile_regions)}.",
        "createdAt": _CREATED,
        "updatedAt": _CREATED,
        "inferenceProfileArn": f"arn:aws:bedrock:{region}:{account_id}:inference-profile/{prof.model_id}",
        "models": [{"modelArn": _model_arn(r, prof.base_model_id)} for r in prof.profile_regions],
        "inferenceProfileId": prof.model_id,
        "status": "ACTIVE",
        "type": "SYSTEM_DEFINED",
        **({} if geo else {}),
    }


@handles("bedrock", "ListInferenceProfiles")
def _list_profiles(call: OfflineCall) -> dict[str, Any]:
    from mllab.models import catalog

    kind = call.params.get("typeEquals")
    if kind == "APPLICATION":
        return {"inferenceProfileSummaries": []}
    items = [
        _profile_view(p, call.account_id, call.region)
        for p in catalog.inference_profiles()
        if call.region in p.profile_regions
    ]
    max_results = int(call.params.get("maxResults") or 1000)
    start = int(call.params.get("nextToken") or 0)
    page = items[start : start + max_results]
    answer: dict[str, Any] = {"inferenceProfileSummaries": page}
    if start + max_results < len(items):
        answer["nextToken"] = str(start + max_results)
    return answer


@handles("bedrock", "GetInferenceProfile")
def _get_profile(call: OfflineCall) -> dict[str, Any]:
    from mllab.models import catalog

    ident = str(call.params.get("inferenceProfileIdentifier", ""))
    prof = catalog.profile(ident)
    if prof is None or not prof.is_inference_profile or call.region not in prof.profile_regions:
        raise AwsError("ResourceNotFoundException", f"Inference profile {ident} not found.", 404)
    return _profile_view(prof, call.account_id, call.region)
