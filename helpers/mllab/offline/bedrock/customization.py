"""Offline Bedrock model customisation: jobs, custom models, provisioned throughput.

Introduced in the model-customisation lab. ``CreateModelCustomizationJob`` validates the
training (and validation) JSONL in S3 as Bedrock does before it starts -- the record format
for the customisation type and base model, record counts, tokens per record, the
hyperparameters' names and ranges -- and the job then runs when first described: it
"trains" a :class:`mllab.models.customized.CustomModel` (memory of the training pairs +
learned answer length), writes ``step_wise_training_metrics.csv`` and
``validation_metrics.csv`` to the output location in AWS's layout, and creates the custom
model (``GetCustomModel``/``ListCustomModels``/``DeleteCustomModel``).

Formats: FINE_TUNING of Amazon Nova and DISTILLATION use ``bedrock-conversation-2024``
records (``schemaVersion``, ``system``, ``messages`` alternating user/assistant; distillation
prompts may omit the assistant turn -- the teacher model writes it); FINE_TUNING of Titan
and Llama uses ``{"prompt", "completion"}``; CONTINUED_PRE_TRAINING uses ``{"input"}``.

Inference follows AWS's rule for these models: a custom model is not invoked by its ARN;
buy Provisioned Throughput (``CreateProvisionedModelThroughput``, no commitment) or, for
Amazon Nova custom models, create an on-demand ``CreateCustomModelDeployment``, and call
Converse with that ARN. Differences from AWS: nothing is trained (see
:mod:`mllab.models.customized`); limits are those documented for each base model family,
simplified to one table. The guard prices the job (tokens x epochs), the model's monthly
storage and the hourly provisioned capacity.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import threading
import urllib.parse
import uuid
from dataclasses import dataclass, field
from typing import Any

from mllab.offline import registry
from mllab.offline.registry import AwsError, OfflineCall, handles, on_reset

SERVICE = "bedrock"


@dataclass(frozen=True)
class Limits:
    """What a base model accepts for customisation (documented figures, simplified)."""

    types: tuple[str, ...]
    fmt: str  # "conversation" or "prompt-completion"
    min_records: int
    max_records: int
    max_record_tokens: int
    max_epochs: int
    on_demand_deployment: bool


LIMITS: dict[str, Limits] = {
    "amazon.nova-micro-v1:0": Limits(
        ("FINE_TUNING", "DISTILLATION"), "conversation", 8, 20000, 32000, 5, True
    ),
    "amazon.nova-lite-v1:0": Limits(
        ("FINE_TUNING", "DISTILLATION"), "conversation", 8, 20000, 32000, 5, True
    ),
    "amazon.nova-pro-v1:0": Limits(("FINE_TUNING",), "conversation", 8, 20000, 32000, 5, True),
    "amazon.titan-text-lite-v1": Limits(
        ("FINE_TUNING", "CONTINUED_PRE_TRAINING"), "prompt-completion", 1, 10000, 4096, 10, False
    ),
    "amazon.titan-text-express-v1": Limits(
        ("FINE_TUNING", "CONTINUED_PRE_TRAINING"), "prompt-completion", 1, 10000, 4096, 10, False
    ),
    "meta.llama3-1-8b-instruct-v1:0": Limits(
        ("FINE_TUNING",), "prompt-completion", 1, 10000, 4096, 5, False
    ),
}
HYPERPARAMETERS = {
    "epochCount": (1, None, int),
    "batchSize": (1, 256, int),
    "learningRate": (1e-7, 1.0, float),
    "learningRateWarmupSteps": (0, 250, int),
}
MAX_VALIDATION_RECORDS = 1000
_LOCK = threading.RLock()


def validation(message: str) -> AwsError:
    """A ``ValidationException`` (400)."""
    return AwsError("ValidationException", message, 400)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass
class State:
    """Jobs, custom models, provisioned throughputs and deployments of one account/region."""

    jobs: dict[str, dict[str, Any]] = field(default_factory=dict)
    models: dict[str, dict[str, Any]] = field(default_factory=dict)
    provisioned: dict[str, dict[str, Any]] = field(default_factory=dict)
    deployments: dict[str, dict[str, Any]] = field(default_factory=dict)


_STATE: dict[tuple[str, str], State] = {}


@on_reset
def _reset() -> None:
    with _LOCK:
        _STATE.clear()


def state(account_id: str, region: str) -> State:
    """The customisation state of one account and region."""
    with _LOCK:
        return _STATE.setdefault((account_id, region), State())


def base_id(identifier: str) -> str:
    """The base model id of an identifier (ARN, or id with a ``:128k``-style context suffix)."""
    m = re.search(r"foundation-model/(.+)$", identifier)
    mid = m.group(1) if m else identifier
    return re.sub(r"(:\d+)(:\d+k)$", r"\1", mid)


def limits_for(identifier: str) -> Limits:
    """The customisation limits of a base model, or ValidationException."""
    lim = LIMITS.get(base_id(identifier))
    if lim is None:
        raise validation(
            f"The base model {identifier} does not support customization offline. Customizable: "
            + ", ".join(sorted(LIMITS))
        )
    return lim


# --------------------------------------------------------------------------- data validation


def _read(call: OfflineCall, uri: str) -> list[str]:
    m = re.match(r"^s3://([^/]+)/(.+)$", uri or "")
    if not m:
        raise validation(f"{uri!r} is not an s3:// URI of a JSONL object")
    try:
        body = call.client("s3").get_object(Bucket=m.group(1), Key=m.group(2))["Body"].read()
    except Exception as err:  # noqa: BLE001 - reported as AWS reports an unreadable input
        raise validation(f"Unable to read {uri}: {err}") from None
    return [ln for ln in body.decode("utf-8").splitlines() if ln.strip()]


def parse_record(line: str, n: int, ctype: str, lim: Limits, uri: str) -> tuple[str, str, str]:
    """Parse one JSONL record; return (prompt, completion, system). Raises ValidationException."""
    where = f"line {n} of {uri}"
    try:
        rec = json.loads(line)
    except ValueError:
        raise validation(f"Invalid JSON on {where}") from None
    if ctype == "CONTINUED_PRE_TRAINING":
        if not isinstance(rec.get("input"), str) or set(rec) - {"input"}:
            raise validation(f'Continued pre-training records must be {{"input": "..."}} ({where})')
        return "", rec["input"], ""
    if lim.fmt == "prompt-completion" and ctype == "FINE_TUNING":
        if not isinstance(rec.get("prompt"), str) or not isinstance(rec.get("completion"), str):
            raise validation(
                f'Fine-tuning records for this model must be {{"prompt", "completion"}} ({where})'
            )
        return rec["prompt"], rec["completion"], ""
    if rec.get("schemaVersion") != "bedrock-conversation-2024":
        raise validation(
            f'Records must have "schemaVersion": "bedrock-conversation-2024" ({where})'
        )
    msgs = rec.get("messages")
    if not isinstance(msgs, list) or not msgs:
        raise validation(f"messages must be a non-empty list ({where})")
    roles = [m.get("role") for m in msgs]
    expected = ["user", "assistant"] * len(msgs)
    if roles != expected[: len(roles)]:
        raise validation(
            f"messages must alternate user and assistant, starting with user ({where})"
        )
    if ctype == "FINE_TUNING" and roles[-1] != "assistant":
        raise validation(f"The last message must be the assistant's ({where})")
    text = lambda m: "".join(c.get("text", "") for c in m.get("content") or [])  # noqa: E731
    system = "".join(s.get("text", "") for s in rec.get("system") or [])
    users = [text(m) for m in msgs if m["role"] == "user"]
    assistants = [text(m) for m in msgs if m["role"] == "assistant"]
    return users[-1], assistants[-1] if assistants else "", system


def validate_data(
    call: OfflineCall, uri: str, ctype: str, lim: Limits, validation_set: bool = False
) -> list[tuple[str, str, str]]:
    """Read and validate a training or validation JSONL; return its records."""
    from mllab.models import tokens

    lines = _read(call, uri)
    cap = MAX_VALIDATION_RECORDS if validation_set else lim.max_records
    if len(lines) > cap:
        raise validation(f"{uri} has {len(lines)} records; at most {cap} are allowed")
    if not validation_set and len(lines) < lim.min_records:
        raise validation(
            f"{uri} has {len(lines)} records; this model needs at least {lim.min_records}"
        )
    records = [parse_record(ln, i, ctype, lim, uri) for i, ln in enumerate(lines, start=1)]
    counts = tokens.count_many([" ".join(r) for r in records])
    for i, c in enumerate(counts, start=1):
        if c > lim.max_record_tokens:
            raise validation(
                f"Record {i} of {uri} has {c} tokens; at most {lim.max_record_tokens} are allowed for this model"
            )
    return records


def hyperparameters(hp: dict[str, str] | None, lim: Limits) -> dict[str, float]:
    """Validate hyperparameters (strings, as the API takes them); return them as numbers."""
    out: dict[str, float] = {
        "epochCount": 2,
        "batchSize": 1,
        "learningRate": 1e-5,
        "learningRateWarmupSteps": 0,
    }
    for k, v in (hp or {}).items():
        if k not in HYPERPARAMETERS:
            raise validation(f"Unknown hyperparameter {k}; supported: {', '.join(HYPERPARAMETERS)}")
        lo, hi, kind = HYPERPARAMETERS[k]
        hi = lim.max_epochs if k == "epochCount" else hi
        try:
            num = kind(v)
        except ValueError:
            raise validation(
                f"Hyperparameter {k} must be a {kind.__name__} given as a string, got {v!r}"
            ) from None
        if num < lo or (hi is not None and num > hi):
            raise validation(f"Hyperparameter {k}={v} is out of range [{lo}, {hi}]")
        out[k] = num
    return out


# --------------------------------------------------------------------------- jobs


@handles(SERVICE, "CreateModelCustomizationJob")
def _create_job(call: OfflineCall) -> dict[str, Any]:
    p = call.params
    ctype = p.get("customizationType") or "FINE_TUNING"
    lim = limits_for(p["baseModelIdentifier"])
    if ctype not in lim.types:
        raise validation(
            f"{base_id(p['baseModelIdentifier'])} does not support {ctype}; it supports {', '.join(lim.types)}"
        )
    if ctype == "DISTILLATION":
        teacher = ((p.get("customizationConfig") or {}).get("distillationConfig") or {}).get(
            "teacherModelConfig"
        ) or {}
        if not teacher.get("teacherModelIdentifier"):
            raise validation(
                "DISTILLATION needs customizationConfig.distillationConfig.teacherModelConfig.teacherModelIdentifier"
            )
    hp = hyperparameters(p.get("hyperParameters"), lim)
    if not p["trainingDataConfig"].get("s3Uri"):
        raise validation(
            "trainingDataConfig.s3Uri is required offline (invocation logs as training data are not emulated)"
        )
    train = validate_data(call, p["trainingDataConfig"]["s3Uri"], ctype, lim)
    valid: list[tuple[str, str, str]] = []
    for v in (p.get("validationDataConfig") or {}).get("validators") or []:
        valid += validate_data(call, v["s3Uri"], ctype, lim, validation_set=True)
    st = state(call.account_id, call.region)
    with _LOCK:
        if any(j["jobName"] == p["jobName"] for j in st.jobs.values()):
            raise AwsError("ConflictException", f"A job named {p['jobName']} already exists", 409)
        if any(m["modelName"] == p["customModelName"] for m in st.models.values()):
            raise AwsError(
                "ConflictException",
                f"A custom model named {p['customModelName']} already exists",
                409,
            )
        jid = uuid.uuid4().hex[:12]
        arn = f"arn:aws:bedrock:{call.region}:{call.account_id}:model-customization-job/{base_id(p['baseModelIdentifier'])}/{jid}"
        st.jobs[arn] = {
            "jobArn": arn,
            "jobName": p["jobName"],
            "id": jid,
            "request": p,
            "type": ctype,
            "hp": hp,
            "train": train,
            "valid": valid,
            "status": "InProgress",
            "creationTime": _now(),
        }
    return {"jobArn": arn}


def _run(call: OfflineCall, job: dict[str, Any]) -> None:
    from mllab.models import customized, foundation

    p, hp = job["request"], job["hp"]
    base = base_id(p["baseModelIdentifier"])
    train = list(job["train"])
    if job["type"] == "DISTILLATION":
        teacher = base_id(
            p["customizationConfig"]["distillationConfig"]["teacherModelConfig"][
                "teacherModelIdentifier"
            ]
        )
        filled = []
        for prompt, completion, system in train:
            if not completion:
                out = foundation.generate(
                    teacher,
                    [{"role": "user", "content": [{"text": prompt}]}],
                    [{"text": system}] if system else None,
                )
                completion = "".join(b.get("text", "") for b in out["output"]["message"]["content"])
            filled.append((prompt, completion, system))
        train = filled
    epochs, batch = int(hp["epochCount"]), max(1, int(hp["batchSize"]))
    lm = customized.UnigramLoss(float(hp["learningRate"]))
    steps, vsteps, step = [], [], 0
    for epoch in range(1, epochs + 1):
        for i in range(0, len(train), batch):
            texts = [c for _p, c, _s in train[i : i + batch]]
            loss = lm.loss(texts)
            if epoch == 1:  # the first pass learns; later epochs see seen data
                lm.learn(texts)
            step += 1
            steps.append((step, epoch, loss))
        if job["valid"]:
            vl = lm.loss([c for _p, c, _s in job["valid"]])
            vsteps.append((step, epoch, vl))
    model = customized.CustomModel(base)
    if job["type"] == "CONTINUED_PRE_TRAINING":
        model.passages = [c for _p, c, _s in train]
    else:
        model.prompts = [pr for pr, _c, _s in train]
        model.completions = [c for _p, c, _s in train]
    model.fit()
    dest = re.match(r"^s3://([^/]+)/?(.*)$", p["outputDataConfig"]["s3Uri"])
    if dest is None:
        raise validation("outputDataConfig.s3Uri must be an s3:// URI")
    prefix = "/".join(
        x for x in (dest.group(2).rstrip("/"), f"model-customization-job-{job['id']}") if x
    )
    s3 = call.client("s3")
    csv = "step_number,epoch_number,training_loss,perplexity\n" + "".join(
        f"{s},{e},{loss:.6f},{2.718281828459045**loss:.4f}\n" for s, e, loss in steps
    )
    s3.put_object(
        Bucket=dest.group(1),
        Key=f"{prefix}/training_artifacts/step_wise_training_metrics.csv",
        Body=csv.encode(),
    )
    if vsteps:
        vcsv = "step_number,epoch_number,validation_loss,perplexity\n" + "".join(
            f"{s},{e},{loss:.6f},{2.718281828459045**loss:.4f}\n" for s, e, loss in vsteps
        )
        s3.put_object(
            Bucket=dest.group(1),
            Key=f"{prefix}/validation_artifacts/post_fine_tuning_validation/validation/validation_metrics.csv",
            Body=vcsv.encode(),
        )
    mid = uuid.uuid4().hex[:12]
    marn = f"arn:aws:bedrock:{call.region}:{call.account_id}:custom-model/{base}/{mid}"
    st = state(call.account_id, call.region)
    st.models[marn] = {
        "modelArn": marn,
        "modelName": p["customModelName"],
        "jobName": p["jobName"],
        "jobArn": job["jobArn"],
        "baseModelArn": f"arn:aws:bedrock:{call.region}::foundation-model/{base}",
        "customizationType": job["type"],
        "hyperParameters": {k: str(v) for k, v in (p.get("hyperParameters") or {}).items()},
        "trainingDataConfig": p["trainingDataConfig"],
        "outputDataConfig": p["outputDataConfig"],
        "trainingMetrics": {"trainingLoss": steps[-1][2] if steps else 0.0},
        "validationMetrics": [{"validationLoss": v[2]} for v in vsteps[-1:]],
        "creationTime": _now(),
        "modelStatus": "Active",
        "tags": {t["key"]: t["value"] for t in p.get("customModelTags") or []},
        "_model": model,
        "_base": base,
    }
    if p.get("validationDataConfig"):
        st.models[marn]["validationDataConfig"] = p["validationDataConfig"]
    job.update(
        status="Completed",
        outputModelArn=marn,
        outputModelName=p["customModelName"],
        endTime=_now(),
        trainingMetrics=st.models[marn]["trainingMetrics"],
        validationMetrics=st.models[marn]["validationMetrics"],
    )


def _job(call: OfflineCall, ident: str) -> dict[str, Any]:
    ident = urllib.parse.unquote(ident)  # an ARN in the URI path may arrive percent-encoded
    for j in state(call.account_id, call.region).jobs.values():
        if ident in (j["jobArn"], j["jobName"]):
            return j
    raise AwsError("ResourceNotFoundException", f"Model customization job {ident} not found", 404)


def _job_view(j: dict[str, Any]) -> dict[str, Any]:
    p = j["request"]
    out = {
        "jobArn": j["jobArn"],
        "jobName": j["jobName"],
        "outputModelName": p["customModelName"],
        "roleArn": p["roleArn"],
        "status": j["status"],
        "creationTime": j["creationTime"],
        "baseModelArn": f"arn:aws:bedrock:{j['jobArn'].split(':')[3]}::foundation-model/{base_id(p['baseModelIdentifier'])}",
        "hyperParameters": p.get("hyperParameters") or {},
        "trainingDataConfig": p["trainingDataConfig"],
        "validationDataConfig": p.get("validationDataConfig") or {"validators": []},
        "outputDataConfig": p["outputDataConfig"],
        "customizationType": j["type"],
    }
    for k in (
        "outputModelArn",
        "endTime",
        "trainingMetrics",
        "validationMetrics",
        "failureMessage",
    ):
        if k in j:
            out[k] = j[k]
    return out


@handles(SERVICE, "GetModelCustomizationJob")
def _get_job(call: OfflineCall) -> dict[str, Any]:
    j = _job(call, call.params["jobIdentifier"])
    with _LOCK:
        if j["status"] == "InProgress":
            try:
                _run(call, j)
            except AwsError as err:
                j.update(status="Failed", failureMessage=err.message, endTime=_now())
        elif j["status"] == "Stopping":
            j.update(status="Stopped", endTime=_now())
    return _job_view(j)


@handles(SERVICE, "ListModelCustomizationJobs")
def _list_jobs(call: OfflineCall) -> dict[str, Any]:
    p = call.params
    out = []
    for j in state(call.account_id, call.region).jobs.values():
        if p.get("statusEquals") and j["status"] != p["statusEquals"]:
            continue
        if p.get("nameContains") and p["nameContains"] not in j["jobName"]:
            continue
        v = _job_view(j)
        out.append(
            {
                k: v[k]
                for k in (
                    "jobArn",
                    "jobName",
                    "status",
                    "creationTime",
                    "baseModelArn",
                    "customizationType",
                )
                if k in v
            }
        )
    return {"modelCustomizationJobSummaries": out}


@handles(SERVICE, "StopModelCustomizationJob")
def _stop_job(call: OfflineCall) -> dict[str, Any]:
    j = _job(call, call.params["jobIdentifier"])
    if j["status"] != "InProgress":
        raise validation(f"The job is {j['status']}; only InProgress jobs can be stopped")
    j["status"] = "Stopping"
    return {}


# --------------------------------------------------------------------------- custom models


def custom_model(account_id: str, region: str, ident: str) -> dict[str, Any]:
    """A custom model by ARN or name, or ResourceNotFoundException."""
    ident = urllib.parse.unquote(ident)  # an ARN in the URI path may arrive percent-encoded
    for m in state(account_id, region).models.values():
        if ident in (m["modelArn"], m["modelName"]):
            return m
    raise AwsError("ResourceNotFoundException", f"Custom model {ident} not found", 404)


def _model_view(m: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in m.items() if not k.startswith("_") and k != "tags"}


@handles(SERVICE, "GetCustomModel")
def _get_model(call: OfflineCall) -> dict[str, Any]:
    return _model_view(custom_model(call.account_id, call.region, call.params["modelIdentifier"]))


@handles(SERVICE, "ListCustomModels")
def _list_models(call: OfflineCall) -> dict[str, Any]:
    out = [
        {
            "modelArn": m["modelArn"],
            "modelName": m["modelName"],
            "creationTime": m["creationTime"],
            "baseModelArn": m["baseModelArn"],
            "baseModelName": m["_base"],
            "customizationType": m["customizationType"],
            "modelStatus": "Active",
        }
        for m in state(call.account_id, call.region).models.values()
    ]
    return {"modelSummaries": out}


@handles(SERVICE, "DeleteCustomModel")
def _delete_model(call: OfflineCall) -> dict[str, Any]:
    m = custom_model(call.account_id, call.region, call.params["modelIdentifier"])
    st = state(call.account_id, call.region)
    if any(pt["modelArn"] == m["modelArn"] for pt in st.provisioned.values()) or any(
        d["modelArn"] == m["modelArn"] for d in st.deployments.values()
    ):
        raise validation(
            "Delete the model's provisioned throughput and deployments before the model"
        )
    del st.models[m["modelArn"]]
    return {}


# --------------------------------------------------------------------------- capacity


@handles(SERVICE, "CreateProvisionedModelThroughput")
def _create_pt(call: OfflineCall) -> dict[str, Any]:
    p = call.params
    m = custom_model(call.account_id, call.region, p["modelId"])
    if p.get("commitmentDuration"):
        raise validation(
            "Commitment terms are not available in the labs; omit commitmentDuration (no commitment)"
        )
    pid = uuid.uuid4().hex[:12]
    arn = f"arn:aws:bedrock:{call.region}:{call.account_id}:provisioned-model/{pid}"
    state(call.account_id, call.region).provisioned[arn] = {
        "provisionedModelArn": arn,
        "provisionedModelName": p["provisionedModelName"],
        "modelArn": m["modelArn"],
        "modelUnits": p["modelUnits"],
        "status": "InService",
        "creationTime": _now(),
    }
    return {"provisionedModelArn": arn}


def _pt(call: OfflineCall, ident: str) -> dict[str, Any]:
    for pt in state(call.account_id, call.region).provisioned.values():
        if ident in (pt["provisionedModelArn"], pt["provisionedModelName"]):
            return pt
    raise AwsError("ResourceNotFoundException", f"Provisioned model {ident} not found", 404)


@handles(SERVICE, "GetProvisionedModelThroughput")
def _get_pt(call: OfflineCall) -> dict[str, Any]:
    pt = _pt(call, call.params["provisionedModelId"])
    return {
        **pt,
        "desiredModelUnits": pt["modelUnits"],
        "foundationModelArn": custom_model(call.account_id, call.region, pt["modelArn"])[
            "baseModelArn"
        ],
        "desiredModelArn": pt["modelArn"],
        "lastModifiedTime": pt["creationTime"],
    }


@handles(SERVICE, "ListProvisionedModelThroughputs")
def _list_pt(call: OfflineCall) -> dict[str, Any]:
    out = []
    for pt in state(call.account_id, call.region).provisioned.values():
        base = custom_model(call.account_id, call.region, pt["modelArn"])["baseModelArn"]
        out.append(
            {
                **pt,
                "desiredModelUnits": pt["modelUnits"],
                "foundationModelArn": base,
                "desiredModelArn": pt["modelArn"],
                "lastModifiedTime": pt["creationTime"],
            }
        )
    return {"provisionedModelSummaries": out}


@handles(SERVICE, "DeleteProvisionedModelThroughput")
def _delete_pt(call: OfflineCall) -> dict[str, Any]:
    pt = _pt(call, call.params["provisionedModelId"])
    del state(call.account_id, call.region).provisioned[pt["provisionedModelArn"]]
    return {}


@handles(SERVICE, "CreateCustomModelDeployment")
def _create_dep(call: OfflineCall) -> dict[str, Any]:
    p = call.params
    m = custom_model(call.account_id, call.region, p["modelArn"])
    if not LIMITS[m["_base"]].on_demand_deployment:
        raise validation(
            f"On-demand deployment is not supported for custom models of {m['_base']}; "
            "buy Provisioned Throughput (CreateProvisionedModelThroughput) to invoke it"
        )
    did = uuid.uuid4().hex[:12]
    arn = f"arn:aws:bedrock:{call.region}:{call.account_id}:custom-model-deployment/{did}"
    state(call.account_id, call.region).deployments[arn] = {
        "customModelDeploymentArn": arn,
        "modelDeploymentName": p["modelDeploymentName"],
        "modelArn": m["modelArn"],
        "status": "Active",
        "createdAt": _now(),
    }
    return {"customModelDeploymentArn": arn}


def _dep(call: OfflineCall, ident: str) -> dict[str, Any]:
    for d in state(call.account_id, call.region).deployments.values():
        if ident in (d["customModelDeploymentArn"], d["modelDeploymentName"]):
            return d
    raise AwsError("ResourceNotFoundException", f"Custom model deployment {ident} not found", 404)


@handles(SERVICE, "GetCustomModelDeployment")
def _get_dep(call: OfflineCall) -> dict[str, Any]:
    d = _dep(call, call.params["customModelDeploymentIdentifier"])
    return {
        "customModelDeploymentArn": d["customModelDeploymentArn"],
        "modelDeploymentName": d["modelDeploymentName"],
        "modelArn": d["modelArn"],
        "createdAt": d["createdAt"],
        "status": d["status"],
    }


@handles(SERVICE, "DeleteCustomModelDeployment")
def _delete_dep(call: OfflineCall) -> dict[str, Any]:
    d = _dep(call, call.params["customModelDeploymentIdentifier"])
    del state(call.account_id, call.region).deployments[d["customModelDeploymentArn"]]
    return {}


# --------------------------------------------------------------------------- inference


def _capacity_model(call: OfflineCall, model_id: str) -> dict[str, Any] | None:
    st = state(call.account_id, call.region)
    if model_id in st.provisioned:
        return custom_model(call.account_id, call.region, st.provisioned[model_id]["modelArn"])
    if model_id in st.deployments:
        return custom_model(call.account_id, call.region, st.deployments[model_id]["modelArn"])
    return None


def _converse(call: OfflineCall) -> dict[str, Any] | None:
    """Converse on a provisioned custom model or deployment ARN (None: not ours)."""
    model_id = str(call.params.get("modelId", ""))
    if ":custom-model/" in model_id:
        raise validation(
            "A custom model cannot be invoked by its ARN: buy Provisioned Throughput "
            "(CreateProvisionedModelThroughput) or, for Amazon Nova, create a custom model "
            "deployment, and call the model with that ARN"
        )
    m = _capacity_model(call, model_id)
    if m is None:
        return None
    msgs = call.params.get("messages") or []
    prompt = "".join(c.get("text", "") for c in (msgs[-1].get("content") if msgs else []) or [])
    out = m["_model"].generate(prompt, call.params.get("inferenceConfig"))
    out.setdefault("metrics", {"latencyMs": 1})
    return out


# Registered first in the chain: the runtime's own Converse handler rejects identifiers it
# does not catalogue, so capacity ARNs must be answered before it runs.
for _op in ("Converse",):
    registry.handles("bedrock-runtime", _op)(_converse)
    with registry._LOCK:
        _chain = registry._HANDLERS[("bedrock-runtime", _op, "before")]
        _chain.insert(0, _chain.pop())
