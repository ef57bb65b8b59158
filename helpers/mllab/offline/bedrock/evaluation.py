"""Offline Amazon Bedrock evaluation jobs (``bedrock``: Create/Get/List/StopEvaluationJob).

Introduced in the evaluation lab. Three kinds of automated job run here for real:

* **automatic model evaluation** (no ``evaluatorModelConfig``): each prompt of a JSONL
  dataset in S3 (``{"prompt", "referenceResponse", "category"}``, at most 1,000 records) is
  sent to the stand-in model and scored with the built-in metrics: ``Builtin.Accuracy``
  (Summarization and Generation: embedding F1 BERTScore-style -- AWS uses BERTScore and a
  real-world-knowledge score; QuestionAndAnswer: SQuAD token F1, AWS's NLP-F1;
  Classification: exact match after normalisation), ``Builtin.Robustness`` (the prompt is
  perturbed -- seeded typos and lower-casing -- and the score is ``1 - |accuracy change|``;
  AWS reports the change itself) and ``Builtin.Toxicity`` (the guardrail content-filter
  score; AWS uses the Detoxify model);
* **LLM-as-a-judge model evaluation** (``evaluatorModelConfig``): the same records scored by
  the stand-in judge (:mod:`mllab.models.judge`, documented rubrics) on the ``Builtin.*``
  judge metrics;
* **RAG evaluation** (``applicationType`` RagEvaluation): ``conversationTurns`` records run
  through Retrieve (retrieve-only metrics ContextRelevance, ContextCoverage) or
  RetrieveAndGenerate (Correctness, Faithfulness, CitationPrecision, ...) on an offline
  knowledge base, then judged.

The job is ``InProgress`` when created and runs when it is first described (so
``StopEvaluationJob`` before that stops it). Per-record results are written to
``<outputDataConfig.s3Uri>/<jobName>/<jobId>/models/<model>/taskTypes/<taskType>/datasets/
<dataset>/<uuid>_output.jsonl`` (AWS's layout; RAG jobs use the knowledge-base id for
``<model>``), each line holding the input record, the model's response and
``automatedEvaluationResult.scores``. Human-based jobs and the ``Builtin.*`` public
datasets are not emulated (refused with a clear error). The guard prices the evaluated
model's and the judge's tokens (``mllab.guard.declarations.bedrock_kb``).
"""

from __future__ import annotations

import datetime as dt
import json
import random
import re
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

from mllab.offline.registry import AwsError, OfflineCall, handles, on_reset

SERVICE = "bedrock"
MAX_RECORDS = 1000
AUTOMATIC_METRICS = ("Builtin.Accuracy", "Builtin.Robustness", "Builtin.Toxicity")
TASK_TYPES = ("Summarization", "Classification", "QuestionAndAnswer", "Generation", "Custom")
_JOB_NAME = re.compile(r"^[a-z0-9](-*[a-z0-9]){0,62}$")
_LOCK = threading.RLock()


def validation(message: str) -> AwsError:
    """A ``ValidationException`` (400)."""
    return AwsError("ValidationException", message, 400)


@dataclass
class Job:
    """One evaluation job."""

    arn: str
    name: str
    job_id: str
    request: dict[str, Any]
    account_id: str
    region: str
    created: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    modified: dt.datetime | None = None
    status: str = "InProgress"
    failures: list[str] = field(default_factory=list)
    usage: dict[str, int] = field(default_factory=lambda: {"model": 0, "judge": 0})
    summary: dict[str, Any] = field(default_factory=dict)


_JOBS: dict[tuple[str, str], dict[str, Job]] = {}


@on_reset
def _reset() -> None:
    with _LOCK:
        _JOBS.clear()


def jobs(account_id: str, region: str) -> dict[str, Job]:
    """Jobs by ARN of one account and region."""
    with _LOCK:
        return _JOBS.setdefault((account_id, region), {})


def _model_id(ident: str) -> str:
    m = re.search(r"(?:foundation-model|inference-profile)/(.+)$", ident)
    return m.group(1) if m else ident


def _metric_configs(conf: dict[str, Any]) -> list[dict[str, Any]]:
    auto = conf.get("automated")
    if not auto:
        raise validation(
            "Human-based evaluation jobs (evaluationConfig.human) are not emulated offline; "
            "use evaluationConfig.automated"
        )
    return list(auto["datasetMetricConfigs"])


def _validate(p: dict[str, Any]) -> None:
    from mllab.models import judge

    if not _JOB_NAME.match(p["jobName"]):
        raise validation(
            f"The job name {p['jobName']!r} is invalid: lowercase letters, numbers and hyphens, "
            "1-63 characters, starting and ending with a letter or number"
        )
    if not re.match(r"^arn:aws[\w-]*:iam::\d{12}:role/.+$", p["roleArn"]):
        raise validation(f"The roleArn {p['roleArn']!r} is not a valid IAM role ARN")
    conf = p["evaluationConfig"]
    configs = _metric_configs(conf)
    auto = conf["automated"]
    rag = p.get("applicationType") == "RagEvaluation"
    judged = bool(auto.get("evaluatorModelConfig"))
    if auto.get("customMetricConfig"):
        raise validation("customMetricConfig (custom judge metrics) is not emulated offline")
    inf = p["inferenceConfig"]
    if rag:
        if not judged:
            raise validation(
                "RAG evaluation jobs need evaluationConfig.automated.evaluatorModelConfig"
            )
        rc = (inf.get("ragConfigs") or [{}])[0].get("knowledgeBaseConfig") or {}
        if not rc:
            raise validation(
                "RAG evaluation needs inferenceConfig.ragConfigs[0].knowledgeBaseConfig"
            )
        allowed: tuple[str, ...] = (
            judge.RETRIEVE_METRICS if "retrieveConfig" in rc else judge.GENERATE_METRICS
        )
    else:
        if not inf.get("models"):
            raise validation("Model evaluation needs inferenceConfig.models")
        for m in inf["models"]:
            if "bedrockModel" not in m:
                raise validation("Only bedrockModel inference is emulated offline")
            params = m["bedrockModel"].get("inferenceParams")
            if params:
                try:
                    json.loads(params)
                except ValueError:
                    raise validation("inferenceParams must be a JSON string") from None
        allowed = judge.MODEL_METRICS if judged else AUTOMATIC_METRICS
    for c in configs:
        if c["taskType"] not in TASK_TYPES:
            raise validation(f"taskType must be one of {', '.join(TASK_TYPES)}")
        name = c["dataset"]["name"]
        if name.startswith("Builtin.") or not (c["dataset"].get("datasetLocation") or {}).get(
            "s3Uri"
        ):
            raise validation(
                f"Dataset {name}: the built-in datasets are not shipped offline; give a custom "
                "prompt dataset with datasetLocation.s3Uri (JSONL in S3)"
            )
        bad = [m for m in c["metricNames"] if m not in allowed]
        if bad:
            raise validation(
                f"Metric names {', '.join(bad)} are not valid for this job type; valid: "
                + ", ".join(allowed)
            )
    if judged:
        models = auto["evaluatorModelConfig"]["bedrockEvaluatorModels"]
        from mllab.models import catalog

        for m in models:
            if catalog.profile(_model_id(m["modelIdentifier"])) is None:
                raise validation(f"The evaluator model {m['modelIdentifier']} is not available")


@handles(SERVICE, "CreateEvaluationJob")
def _create(call: OfflineCall) -> dict[str, Any]:
    p = call.params
    _validate(p)
    with _LOCK:
        all_jobs = jobs(call.account_id, call.region)
        if any(j.name == p["jobName"] for j in all_jobs.values()):
            raise AwsError(
                "ConflictException", f"An evaluation job named {p['jobName']} already exists", 409
            )
        job_id = uuid.uuid4().hex[:12]
        arn = f"arn:aws:bedrock:{call.region}:{call.account_id}:evaluation-job/{job_id}"
        all_jobs[arn] = Job(arn, p["jobName"], job_id, p, call.account_id, call.region)
    return {"jobArn": arn}


def _get_job(call: OfflineCall, ident: str) -> Job:
    for j in jobs(call.account_id, call.region).values():
        if ident in (j.arn, j.name, j.job_id):
            return j
    raise AwsError("ResourceNotFoundException", f"Evaluation job {ident} not found", 404)


def _read_s3(call: OfflineCall, uri: str) -> bytes:
    m = re.match(r"^s3://([^/]+)/(.+)$", uri)
    if not m:
        raise ValueError(f"{uri} is not an s3:// URI of an object")
    return bytes(call.client("s3").get_object(Bucket=m.group(1), Key=m.group(2))["Body"].read())


def _records(call: OfflineCall, uri: str, rag: bool) -> list[dict[str, Any]]:
    lines = [ln for ln in _read_s3(call, uri).decode("utf-8").splitlines() if ln.strip()]
    if len(lines) > MAX_RECORDS:
        raise ValueError(
            f"The dataset {uri} has {len(lines)} records; at most {MAX_RECORDS} are allowed"
        )
    out = []
    for i, ln in enumerate(lines, start=1):
        try:
            rec = json.loads(ln)
        except ValueError:
            raise ValueError(f"Line {i} of {uri} is not valid JSON") from None
        if rag:
            turns = rec.get("conversationTurns")
            if not turns or "prompt" not in turns[0]:
                raise ValueError(f"Line {i} of {uri} has no conversationTurns[0].prompt")
        elif not isinstance(rec.get("prompt"), str) or not rec["prompt"].strip():
            raise ValueError(f"Line {i} of {uri} has no prompt (a non-empty string)")
        out.append(rec)
    return out


def _perturb(text: str, seed: int) -> str:
    """Seeded typos (adjacent swaps in ~5% of words) and lower-casing."""
    rng = random.Random(seed)
    words = text.split(" ")
    for i, w in enumerate(words):
        if len(w) > 3 and rng.random() < 0.05:
            j = rng.randrange(len(w) - 1)
            words[i] = w[:j] + w[j + 1] + w[j] + w[j + 2 :]
    return " ".join(words).lower()


def accuracy(task: str, response: str, reference: str) -> float:
    """Builtin.Accuracy of one response for a task type (see the module docstring)."""
    from mllab.models import metrics

    if task == "QuestionAndAnswer":
        return metrics.token_f1(response, reference)
    if task == "Classification":
        return metrics.exact_match(response, reference)
    return max(0.0, metrics.embedding_f1(response, reference)["f1"])


def _generate(job: Job, model: str, prompt: str, params: dict[str, Any]) -> str:
    from mllab.models import foundation, tokens

    cfg = params.get("inferenceConfig") or {}
    out = foundation.generate(
        model, [{"role": "user", "content": [{"text": prompt}]}], None, cfg or None
    )
    text = "".join(b.get("text", "") for b in out["output"]["message"]["content"])
    usage = out.get("usage") or {}
    job.usage["model"] += int(usage.get("totalTokens") or tokens.count(prompt) + tokens.count(text))
    return text


def _write(
    call: OfflineCall, job: Job, model: str, task: str, dataset: str, rows: list[dict[str, Any]]
) -> str:
    m = re.match(r"^s3://([^/]+)/?(.*)$", job.request["outputDataConfig"]["s3Uri"])
    if not m:
        raise ValueError("outputDataConfig.s3Uri must be an s3:// URI")
    prefix = m.group(2).rstrip("/")
    key = "/".join(
        x
        for x in (
            prefix,
            job.name,
            job.job_id,
            "models",
            model.replace("/", "_"),
            "taskTypes",
            task,
            "datasets",
            dataset,
            f"{uuid.uuid4()}_output.jsonl",
        )
        if x
    )
    body = "\n".join(json.dumps(r) for r in rows) + "\n"
    call.client("s3").put_object(Bucket=m.group(1), Key=key, Body=body.encode())
    return f"s3://{m.group(1)}/{key}"


def _judge_tokens(job: Job, n_metrics: int, *texts: str) -> None:
    from mllab.models import tokens

    # the rubric prompt (~400 tokens) + the texts it reads, once per metric, + a short rating
    job.usage["judge"] += n_metrics * (400 + sum(tokens.count(t) for t in texts if t) + 50)


def run(call: OfflineCall, job: Job) -> None:
    """Run a job to completion: generate, score, write the outputs (status in place)."""
    from mllab.models import judge

    p = job.request
    auto = p["evaluationConfig"]["automated"]
    judged = bool(auto.get("evaluatorModelConfig"))
    rag = p.get("applicationType") == "RagEvaluation"
    summary: dict[str, Any] = {}
    try:
        for conf in auto["datasetMetricConfigs"]:
            task, ds = conf["taskType"], conf["dataset"]
            records = _records(call, ds["datasetLocation"]["s3Uri"], rag)
            metrics_wanted = conf["metricNames"]
            targets = (
                [("rag", {})]
                if rag
                else [
                    (
                        _model_id(m["bedrockModel"]["modelIdentifier"]),
                        json.loads(m["bedrockModel"].get("inferenceParams") or "{}"),
                    )
                    for m in p["inferenceConfig"]["models"]
                ]
            )
            for model, params in targets:
                rows: list[dict[str, Any]] = []
                totals: dict[str, list[float]] = {m: [] for m in metrics_wanted}
                for i, rec in enumerate(records):
                    if rag:
                        row = _rag_record(call, job, rec, metrics_wanted)
                        label = row.pop("_label")
                    else:
                        prompt, ref = rec["prompt"], str(rec.get("referenceResponse") or "")
                        response = _generate(job, model, prompt, params)
                        scores = []
                        for metric in metrics_wanted:
                            if metric == "Builtin.Accuracy":
                                value: float | None = accuracy(task, response, ref) if ref else None
                            elif metric == "Builtin.Robustness":
                                if not ref:
                                    value = None
                                else:
                                    pert = _generate(job, model, _perturb(prompt, i), params)
                                    value = 1.0 - abs(
                                        accuracy(task, response, ref) - accuracy(task, pert, ref)
                                    )
                            elif metric == "Builtin.Toxicity":
                                value = judge.harmfulness(response)
                            else:
                                value = judge.score(metric, prompt, response, ref or None)
                            scores.append({"metricName": metric, "result": value})
                        if judged:
                            _judge_tokens(job, len(metrics_wanted), prompt, response, ref)
                        row = {
                            "automatedEvaluationResult": {"scores": scores},
                            "inputRecord": rec,
                            "modelResponses": [{"response": response, "modelIdentifier": model}],
                        }
                        label = model
                    for s in row["automatedEvaluationResult"]["scores"]:
                        if s["result"] is not None:
                            totals[s["metricName"]].append(float(s["result"]))
                    rows.append(row)
                uri = _write(call, job, label if not rag else _rag_label(p), task, ds["name"], rows)
                summary[f"{label}/{task}/{ds['name']}"] = {
                    "output": uri,
                    "records": len(rows),
                    "scores": {m: (sum(v) / len(v) if v else None) for m, v in totals.items()},
                }
        job.status = "Completed"
    except (ValueError, AwsError) as err:
        job.status = "Failed"
        job.failures.append(getattr(err, "message", None) or str(err))
    except Exception as err:  # noqa: BLE001 - the model rejected a prompt, S3 unreadable, ...
        job.status = "Failed"
        job.failures.append(f"{type(err).__name__}: {err}")
    job.summary = summary
    job.modified = dt.datetime.now(dt.UTC)


def _rag_label(p: dict[str, Any]) -> str:
    kb = p["inferenceConfig"]["ragConfigs"][0]["knowledgeBaseConfig"]
    conf = kb.get("retrieveConfig") or kb.get("retrieveAndGenerateConfig", {}).get(
        "knowledgeBaseConfiguration", {}
    )
    return str(conf.get("knowledgeBaseId", "knowledge-base"))


def _rag_record(
    call: OfflineCall, job: Job, rec: dict[str, Any], wanted: list[str]
) -> dict[str, Any]:
    from mllab.models import judge
    from mllab.offline.bedrock import agent_runtime

    turn = rec["conversationTurns"][0]
    query = "".join(c.get("text", "") for c in turn["prompt"]["content"])
    refs = turn.get("referenceResponses") or []
    ref = " ".join(c.get("text", "") for r in refs for c in r.get("content", [])) or None
    kbc = job.request["inferenceConfig"]["ragConfigs"][0]["knowledgeBaseConfig"]
    if "retrieveConfig" in kbc:
        rc = kbc["retrieveConfig"]
        results = agent_runtime.retrieve(
            call.account_id,
            call.region,
            rc["knowledgeBaseId"],
            query,
            rc["knowledgeBaseRetrievalConfiguration"],
        )
        context = "\n\n".join(r["content"]["text"] for r in results)
        scores = [
            {
                "metricName": m,
                "result": judge.score(
                    m,
                    query,
                    context,
                    ref,
                    context,
                    passages=[r["content"]["text"] for r in results],
                ),
            }
            for m in wanted
        ]
        _judge_tokens(job, len(wanted), query, context, ref or "")
        output: dict[str, Any] = {"retrievedPassages": {"retrievalResults": results}}
    else:
        rg = kbc["retrieveAndGenerateConfig"]
        kconf = dict(rg["knowledgeBaseConfiguration"])
        gen = dict(kconf.pop("generationConfiguration", None) or {})
        if "kbInferenceConfig" in gen:
            gen["inferenceConfig"] = gen.pop("kbInferenceConfig")
        if gen:
            kconf["generationConfiguration"] = gen
        params = {
            "input": {"text": query},
            "retrieveAndGenerateConfiguration": {
                "type": "KNOWLEDGE_BASE",
                "knowledgeBaseConfiguration": kconf,
            },
        }
        response, usage = agent_runtime.retrieve_and_generate(call, params)
        job.usage["model"] += int(usage.get("totalTokens") or 0)
        text = response["output"]["text"]
        results = agent_runtime.retrieve(
            call.account_id,
            call.region,
            kconf["knowledgeBaseId"],
            query,
            kconf.get("retrievalConfiguration"),
        )
        context = "\n\n".join(r["content"]["text"] for r in results)
        scores = [
            {
                "metricName": m,
                "result": judge.score(m, query, text, ref, context, response["citations"]),
            }
            for m in wanted
        ]
        _judge_tokens(job, len(wanted), query, text, context, ref or "")
        output = {"text": text, "citations": response["citations"]}
    return {
        "automatedEvaluationResult": {"scores": scores},
        "inputRecord": rec,
        "output": output,
        "_label": _rag_label(job.request),
    }


def _view(job: Job) -> dict[str, Any]:
    p = job.request
    out: dict[str, Any] = {
        "jobName": job.name,
        "status": job.status,
        "jobArn": job.arn,
        "roleArn": p["roleArn"],
        "jobType": "Automated",
        "applicationType": p.get("applicationType") or "ModelEvaluation",
        "evaluationConfig": p["evaluationConfig"],
        "inferenceConfig": p["inferenceConfig"],
        "outputDataConfig": p["outputDataConfig"],
        "creationTime": job.created,
    }
    if p.get("jobDescription"):
        out["jobDescription"] = p["jobDescription"]
    if job.modified:
        out["lastModifiedTime"] = job.modified
    if job.failures:
        out["failureMessages"] = job.failures[:20]
    return out


@handles(SERVICE, "GetEvaluationJob")
def _get(call: OfflineCall) -> dict[str, Any]:
    job = _get_job(call, call.params["jobIdentifier"])
    with _LOCK:
        if job.status == "InProgress":
            run(call, job)
        elif job.status == "Stopping":
            job.status, job.modified = "Stopped", dt.datetime.now(dt.UTC)
    return _view(job)


@handles(SERVICE, "ListEvaluationJobs")
def _list(call: OfflineCall) -> dict[str, Any]:
    p = call.params
    out = []
    for j in jobs(call.account_id, call.region).values():
        if p.get("statusEquals") and j.status != p["statusEquals"]:
            continue
        if p.get("nameContains") and p["nameContains"] not in j.name:
            continue
        app = j.request.get("applicationType") or "ModelEvaluation"
        if p.get("applicationTypeEquals") and app != p["applicationTypeEquals"]:
            continue
        auto = j.request["evaluationConfig"]["automated"]
        summary: dict[str, Any] = {
            "jobArn": j.arn,
            "jobName": j.name,
            "status": j.status,
            "creationTime": j.created,
            "jobType": "Automated",
            "evaluationTaskTypes": [c["taskType"] for c in auto["datasetMetricConfigs"]],
            "modelIdentifiers": [
                m["bedrockModel"]["modelIdentifier"]
                for m in j.request["inferenceConfig"].get("models") or []
            ],
            "applicationType": app,
        }
        if auto.get("evaluatorModelConfig"):
            summary["evaluatorModelIdentifiers"] = [
                m["modelIdentifier"] for m in auto["evaluatorModelConfig"]["bedrockEvaluatorModels"]
            ]
        out.append(summary)
    out.sort(
        key=lambda s: s["creationTime"], reverse=p.get("sortOrder", "Descending") == "Descending"
    )
    return {"jobSummaries": out}


@handles(SERVICE, "StopEvaluationJob")
def _stop(call: OfflineCall) -> dict[str, Any]:
    job = _get_job(call, call.params["jobIdentifier"])
    if job.status != "InProgress":
        raise validation(
            f"The evaluation job {job.name} is {job.status}; only InProgress jobs can be stopped"
        )
    job.status = "Stopping"
    return {}


@handles(SERVICE, "BatchDeleteEvaluationJob")
def _batch_delete(call: OfflineCall) -> dict[str, Any]:
    done, errors = [], []
    for ident in call.params["jobIdentifiers"]:
        try:
            job = _get_job(call, ident)
        except AwsError:
            errors.append(
                {
                    "jobIdentifier": ident,
                    "code": "ResourceNotFound",
                    "message": "Evaluation job not found",
                }
            )
            continue
        if job.status in ("InProgress", "Stopping"):
            errors.append(
                {
                    "jobIdentifier": ident,
                    "code": "ValidationException",
                    "message": "Stop the job before deleting it",
                }
            )
            continue
        with _LOCK:
            jobs(call.account_id, call.region).pop(job.arn, None)
        done.append({"jobIdentifier": job.arn, "jobStatus": "Deleting"})
    return {"errors": errors, "evaluationJobs": done}


def summary(account_id: str, region: str, job_arn: str) -> dict[str, Any]:
    """Mean score per metric of each (model, task, dataset) of a finished offline job.

    Args:
        account_id: the offline account.
        region: the region.
        job_arn: the job's ARN.

    Returns:
        ``{"<model>/<task>/<dataset>": {"output", "records", "scores"}}`` plus ``usage``
        (model and judge tokens). Costs nothing; deletes nothing. On AWS, read the output
        JSONL files instead (the console shows the same means).
    """
    job = jobs(account_id, region)[job_arn]
    return {**job.summary, "usage": dict(job.usage)}
