"""Admission of Bedrock knowledge bases, retrieval, evaluation jobs and model customisation.

Introduced in the knowledge-base lab. Knowledge bases add no charge of their own: ingestion
pays the embedding model per input token, ``Retrieve`` one query embedding,
``RetrieveAndGenerate`` that plus the generation model's tokens (prices from the Bedrock
snapshot, ``bedrock_pricing.json``, falling back to ``vectors_pricing.json``). The vector
store is priced where it is created (``vectors.py``). Evaluation and customisation
declarations are at the end of this module.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from functools import partial
from typing import Any

from mllab.guard import admission
from mllab.guard.declarations._util import quietly
from mllab.guard.declarations.vectors import prices as vector_prices
from mllab.guard.estimate import Estimate, Policy, Refusal

AGENT = "bedrock-agent"
RUNTIME = "bedrock-agent-runtime"
EMBED_DEFAULT = "amazon.titan-embed-text-v2:0"


def _tokens_usd(model_id: str, input_tokens: int, output_tokens: int = 0) -> float:
    """USD of a call at the Bedrock snapshot's prices (embedding default when unknown)."""
    try:
        from mllab.guard import pricing

        got = pricing.bedrock_tokens(model_id)
    except Exception:  # noqa: BLE001 - snapshot absent: the default embedding price
        got = None
    if got is None:
        per_1k = float(vector_prices()["bedrock_kb"]["embedding_usd_per_1k_tokens_default"])
        return (input_tokens + output_tokens) / 1000.0 * per_1k
    return input_tokens / 1000.0 * got[0] + output_tokens / 1000.0 * got[1]


def embedding_usd(tokens: int, model_id: str = EMBED_DEFAULT) -> float:
    """USD of embedding ``tokens`` input tokens with ``model_id``."""
    return _tokens_usd(model_id, tokens)


def ingestion_resource(kb_id: str, ds_id: str) -> str:
    """The ledger resource name of an ingestion of one data source."""
    return f"knowledge-base/{kb_id}/data-source/{ds_id}"


def _lab() -> Any:
    from mllab import hooks

    return hooks.active()


def _model_of(arn: str) -> str:
    m = re.search(r"(?:foundation-model|inference-profile)/(.+)$", arn or "")
    return m.group(1) if m else (arn or EMBED_DEFAULT)


def ingestion_cost(params: dict[str, Any], policy: Policy) -> Estimate:
    """StartIngestionJob: every byte of the data source's objects as one embedding token.

    A byte per token is an upper bound for text (English averages about four bytes per token);
    the offline plane settles the ledger with the tokens it really embedded. The data source
    and its objects are read with the lab's own session (GetDataSource, ListObjectsV2: free).

    Args:
        params: the StartIngestionJob request.
        policy: the lab's policy (unused: ingestion leaves nothing running).

    Returns:
        The estimate.
    """
    kb_id, ds_id = str(params.get("knowledgeBaseId")), str(params.get("dataSourceId"))
    lab = _lab()
    total, model = 0, EMBED_DEFAULT
    if lab is not None:
        try:
            agent = lab.client(AGENT)
            ds = agent.get_data_source(knowledgeBaseId=kb_id, dataSourceId=ds_id)["dataSource"]
            kb = agent.get_knowledge_base(knowledgeBaseId=kb_id)["knowledgeBase"]
            model = _model_of(
                kb["knowledgeBaseConfiguration"]["vectorKnowledgeBaseConfiguration"][
                    "embeddingModelArn"
                ]
            )
            s3c = ds["dataSourceConfiguration"]["s3Configuration"]
            bucket = s3c["bucketArn"].split(":::", 1)[1]
            s3 = lab.client("s3")
            for prefix in s3c.get("inclusionPrefixes") or [""]:
                for page in s3.get_paginator("list_objects_v2").paginate(
                    Bucket=bucket, Prefix=prefix
                ):
                    total += sum(int(o["Size"]) for o in page.get("Contents", []))
        except Exception:  # noqa: BLE001 - the call itself reports a missing KB or source
            pass
    if total > 5 * 1024**3:
        raise Refusal(
            f"the data source holds {total / 1024**3:.1f} GiB; labs ingest small corpora",
            "point inclusionPrefixes at a smaller prefix",
        )
    usd = embedding_usd(total, model)
    return Estimate(
        usd,
        ingestion_resource(kb_id, ds_id),
        detail={
            "bytes": total,
            "worst_case_tokens": total,
            "embedding_model": model,
            "basis": "one token per byte of the source objects x the embedding price",
        },
    )


def retrieve_cost(params: dict[str, Any], policy: Policy) -> Estimate:
    """Retrieve: one embedding of the query (at most 20,000 characters)."""
    text = str((params.get("retrievalQuery") or {}).get("text") or "")
    return Estimate(
        embedding_usd(max(1, len(text.encode()))),
        f"knowledge-base/{params.get('knowledgeBaseId')}",
        detail={"basis": "query bytes as embedding tokens"},
    )


def rag_cost(params: dict[str, Any], policy: Policy) -> Estimate:
    """RetrieveAndGenerate: the query embedding + the model's worst case.

    Worst case: numberOfResults chunks of 8,192 tokens each plus the template and query as
    input, and ``maxTokens`` (default 2,048) as output, at the generation model's price.
    """
    conf = (params.get("retrieveAndGenerateConfiguration") or {}).get(
        "knowledgeBaseConfiguration"
    ) or {}
    model = _model_of(str(conf.get("modelArn") or ""))
    k = int(
        ((conf.get("retrievalConfiguration") or {}).get("vectorSearchConfiguration") or {}).get(
            "numberOfResults"
        )
        or 5
    )
    gen = conf.get("generationConfiguration") or {}
    max_out = int(
        ((gen.get("inferenceConfig") or {}).get("textInferenceConfig") or {}).get("maxTokens")
        or 2048
    )
    query = str((params.get("input") or {}).get("text") or "")
    input_tokens = k * 8192 + 1000 + len(query.encode())
    usd = _tokens_usd(model, input_tokens, max_out) + embedding_usd(len(query.encode()))
    return Estimate(
        usd,
        f"knowledge-base/{conf.get('knowledgeBaseId')}",
        detail={
            "model": model,
            "worst_case_input_tokens": input_tokens,
            "max_output_tokens": max_out,
        },
    )


# --------------------------------------------------------------------------- deleters


def _agent(session: Any, region: str) -> Any:
    return session.client(AGENT, region_name=region)


def delete_knowledge_base(session: Any, region: str, name: str) -> None:
    """Delete a knowledge base by id or name (its data sources first; the store stays)."""
    agent = _agent(session, region)
    kb_id = name
    for page in agent.get_paginator("list_knowledge_bases").paginate():
        for kb in page["knowledgeBaseSummaries"]:
            if kb["name"] == name:
                kb_id = kb["knowledgeBaseId"]
    try:
        for page in agent.get_paginator("list_data_sources").paginate(knowledgeBaseId=kb_id):
            for ds in page["dataSourceSummaries"]:
                ds_id = str(ds["dataSourceId"])
                quietly(
                    lambda ds_id=ds_id: agent.delete_data_source(  # type: ignore[misc]
                        knowledgeBaseId=kb_id, dataSourceId=ds_id
                    )
                )
    except Exception:  # noqa: BLE001 - the KB is gone: nothing to list
        pass
    quietly(lambda: agent.delete_knowledge_base(knowledgeBaseId=kb_id))


def find_knowledge_bases(session: Any, region: str) -> Iterable[tuple[str, dict[str, str]]]:
    """Every knowledge base with its tags."""
    agent = _agent(session, region)
    for page in agent.get_paginator("list_knowledge_bases").paginate():
        for kb in page["knowledgeBaseSummaries"]:
            arn = agent.get_knowledge_base(knowledgeBaseId=kb["knowledgeBaseId"])["knowledgeBase"][
                "knowledgeBaseArn"
            ]
            tags = agent.list_tags_for_resource(resourceArn=arn).get("tags") or {}
            yield kb["knowledgeBaseId"], dict(tags)


def delete_data_source(session: Any, region: str, name: str) -> None:
    """Delete a data source named ``<kbId>/<dataSourceId>``, or by its name in any knowledge base."""
    agent = _agent(session, region)
    if "/" in name:
        kb_id, _, ds_id = name.partition("/")
        quietly(partial(agent.delete_data_source, knowledgeBaseId=kb_id, dataSourceId=ds_id))
        return
    for page in agent.get_paginator("list_knowledge_bases").paginate():
        for kb in page["knowledgeBaseSummaries"]:
            kb_id = kb["knowledgeBaseId"]
            for ds in agent.list_data_sources(knowledgeBaseId=kb_id)["dataSourceSummaries"]:
                if ds["name"] == name:
                    quietly(
                        partial(
                            agent.delete_data_source,
                            knowledgeBaseId=kb_id,
                            dataSourceId=ds["dataSourceId"],
                        )
                    )


admission.deleter(
    "bedrock-data-source",
    created_by=[(AGENT, "CreateDataSource")],
    delete=delete_data_source,
    order=20,
)
admission.deleter(
    "bedrock-knowledge-base",
    created_by=[(AGENT, "CreateKnowledgeBase")],
    delete=delete_knowledge_base,
    find=find_knowledge_bases,
    order=25,
)
admission.read(
    AGENT,
    "GetKnowledgeBase",
    "ListKnowledgeBases",
    "GetDataSource",
    "ListDataSources",
    "GetIngestionJob",
    "ListIngestionJobs",
    note="knowledge-base descriptions",
)
admission.free(
    AGENT,
    "CreateKnowledgeBase",
    "UpdateKnowledgeBase",
    "DeleteKnowledgeBase",
    "CreateDataSource",
    "UpdateDataSource",
    "DeleteDataSource",
    "StopIngestionJob",
    note="a knowledge base bills nothing itself; its vector store is priced where created",
)
admission.billable(
    AGENT,
    "StartIngestionJob",
    estimator=ingestion_cost,
    deleter="bedrock-data-source",
    note="embedding tokens of every new or changed document",
)
admission.billable(
    RUNTIME,
    "Retrieve",
    estimator=retrieve_cost,
    deleter=admission.NOTHING_PERSISTS,
    note="one query embedding",
)
admission.billable(
    RUNTIME,
    "RetrieveAndGenerate",
    estimator=rag_cost,
    deleter=admission.NOTHING_PERSISTS,
    note="query embedding + generation tokens",
)


# --------------------------------------------------------------------------- evaluation jobs

BEDROCK = "bedrock"


def _dataset_bytes(uri: str) -> tuple[int, int]:
    """(records, bytes) of a JSONL dataset in S3, read with the lab's session (free)."""
    lab = _lab()
    m = re.match(r"^s3://([^/]+)/(.+)$", uri or "")
    if not m:  # a built-in dataset: AWS samples at most 100 prompts of it per job
        return 100, 100 * 1024
    if lab is None:
        return 1000, 1000 * 4096
    try:
        body = lab.client("s3").get_object(Bucket=m.group(1), Key=m.group(2))["Body"].read()
    except Exception:  # noqa: BLE001 - the job itself reports an unreadable dataset
        return 1000, 1000 * 4096
    lines = [ln for ln in body.splitlines() if ln.strip()]
    return len(lines), len(body)


def evaluation_cost(params: dict[str, Any], policy: Policy) -> Estimate:
    """CreateEvaluationJob: the evaluated model's and the judge's tokens, worst case.

    Per record: the prompt's bytes as input tokens plus ``maxTokens`` (from inferenceParams,
    default 2,048) as output, per model (twice with Builtin.Robustness); the judge reads a
    ~400-token rubric, the record and the response once per metric and writes 50 tokens.

    Args:
        params: the CreateEvaluationJob request.
        policy: unused (nothing keeps running).

    Returns:
        The estimate.
    """
    auto = (params.get("evaluationConfig") or {}).get("automated") or {}
    judges = [
        _model_of(m["modelIdentifier"])
        for m in ((auto.get("evaluatorModelConfig") or {}).get("bedrockEvaluatorModels") or [])
    ]
    inf = params.get("inferenceConfig") or {}
    models = []
    for m in inf.get("models") or []:
        bm = m.get("bedrockModel") or {}
        try:
            ip = json.loads(bm.get("inferenceParams") or "{}")
        except ValueError:
            ip = {}
        max_out = int((ip.get("inferenceConfig") or {}).get("maxTokens") or 2048)
        models.append((_model_of(bm.get("modelIdentifier", "")), max_out))
    rag = inf.get("ragConfigs")
    if rag:
        kbc = (rag[0].get("knowledgeBaseConfig") or {}).get("retrieveAndGenerateConfig") or {}
        gen_model = _model_of(
            str((kbc.get("knowledgeBaseConfiguration") or {}).get("modelArn") or "")
        )
        if kbc:
            models.append((gen_model, 2048))
    usd, records_total = 0.0, 0
    for conf in auto.get("datasetMetricConfigs") or []:
        uri = ((conf.get("dataset") or {}).get("datasetLocation") or {}).get("s3Uri", "")
        records, size = _dataset_bytes(uri)
        records_total += records
        metrics_n = len(conf.get("metricNames") or [])
        factor = 2 if "Builtin.Robustness" in (conf.get("metricNames") or []) else 1
        for model, max_out in models:
            extra = 5 * 8192 * records if rag else 0  # retrieved passages in the prompt
            usd += factor * _tokens_usd(model, size + extra, records * max_out)
        for j in judges:
            per = 400 + size // max(1, records) + 2048
            usd += _tokens_usd(j, records * metrics_n * per, records * metrics_n * 50)
    return Estimate(
        usd,
        str(params.get("jobName", "")),
        detail={
            "records": records_total,
            "models": [m for m, _ in models],
            "judges": judges,
            "basis": "model tokens (prompt bytes + maxTokens) + judge tokens per metric",
        },
    )


def delete_evaluation_job(session: Any, region: str, name: str) -> None:
    """Stop (if running) and delete one evaluation job by name or ARN; gone is fine."""
    br = session.client(BEDROCK, region_name=region)
    for page in br.get_paginator("list_evaluation_jobs").paginate():
        for j in page["jobSummaries"]:
            if name in (j["jobName"], j["jobArn"]):
                arn = str(j["jobArn"])
                if j["status"] == "InProgress":
                    quietly(partial(br.stop_evaluation_job, jobIdentifier=arn))
                quietly(partial(br.batch_delete_evaluation_job, jobIdentifiers=[arn]))


admission.deleter(
    "bedrock-evaluation-job",
    created_by=[(BEDROCK, "CreateEvaluationJob")],
    delete=delete_evaluation_job,
    order=15,
)
admission.billable(
    BEDROCK,
    "CreateEvaluationJob",
    estimator=evaluation_cost,
    deleter="bedrock-evaluation-job",
    note="the evaluated model's and the judge model's tokens",
)
admission.read(BEDROCK, "GetEvaluationJob", "ListEvaluationJobs")
admission.free(BEDROCK, "StopEvaluationJob", "BatchDeleteEvaluationJob")


# --------------------------------------------------------------------------- customisation


def _customization_prices() -> dict[str, Any]:
    return dict(vector_prices()["customization"])


def customization_cost(params: dict[str, Any], policy: Policy) -> Estimate:
    """CreateModelCustomizationJob: training tokens x epochs + the model's storage for the ttl.

    Training tokens: the training object's bytes as tokens (an upper bound for text), read
    with the lab's session; storage: the monthly per-model price prorated over the lab's
    ttl (teardown deletes the custom model).
    """
    prices = _customization_prices()
    base = re.sub(r"(:\d+)(:\d+k)$", r"\1", _model_of(str(params.get("baseModelIdentifier", ""))))
    per_1k = float(
        prices["training_usd_per_1k_tokens"].get(
            base, prices["training_usd_per_1k_tokens"]["default"]
        )
    )
    uri = (params.get("trainingDataConfig") or {}).get("s3Uri", "")
    _records, size = _dataset_bytes(uri)
    try:
        epochs = int((params.get("hyperParameters") or {}).get("epochCount", "2"))
    except ValueError:
        epochs = 2
    if epochs > 10:
        raise Refusal(
            f"epochCount is {epochs}; labs train at most 10 epochs", "set epochCount to 2"
        )
    train_usd = size * max(1, epochs) / 1000.0 * per_1k
    storage_usd = float(prices["storage_usd_per_model_month"]) * policy.ttl_hours / 730.0
    return Estimate(
        train_usd + storage_usd,
        str(params.get("customModelName", "")),
        detail={
            "base_model": base,
            "training_tokens_upper_bound": size,
            "epochs": epochs,
            "usd_per_1k_training_tokens": per_1k,
            "storage_usd_per_month": prices["storage_usd_per_model_month"],
            "basis": "bytes as tokens x epochs x training price + storage prorated over ttl",
        },
    )


def delete_custom_model(session: Any, region: str, name: str) -> None:
    """Delete a custom model (its provisioned throughput and deployments first); gone is fine."""
    br = session.client(BEDROCK, region_name=region)
    try:
        arn = br.get_custom_model(modelIdentifier=name)["modelArn"]
    except Exception:  # noqa: BLE001 - already gone
        return
    for pt in br.list_provisioned_model_throughputs().get("provisionedModelSummaries", []):
        if pt.get("modelArn") == arn:
            quietly(
                partial(
                    br.delete_provisioned_model_throughput,
                    provisionedModelId=pt["provisionedModelArn"],
                )
            )
    quietly(partial(br.delete_custom_model, modelIdentifier=arn))


def find_custom_models(session: Any, region: str) -> Iterable[tuple[str, dict[str, str]]]:
    """Every custom model (tags are not listed offline: found by name)."""
    br = session.client(BEDROCK, region_name=region)
    for m in br.list_custom_models().get("modelSummaries", []):
        yield m["modelName"], {}


admission.deleter(
    "bedrock-custom-model",
    created_by=[(BEDROCK, "CreateModelCustomizationJob")],
    delete=delete_custom_model,
    find=find_custom_models,
    order=12,
)
admission.billable(
    BEDROCK,
    "CreateModelCustomizationJob",
    estimator=customization_cost,
    deleter="bedrock-custom-model",
    note="training tokens x epochs, then monthly storage of the custom model",
)
admission.read(
    BEDROCK,
    "GetModelCustomizationJob",
    "ListModelCustomizationJobs",
    "GetCustomModel",
    "ListCustomModels",
    "GetProvisionedModelThroughput",
    "ListProvisionedModelThroughputs",
    "GetCustomModelDeployment",
    "ListCustomModelDeployments",
)
admission.free(
    BEDROCK,
    "StopModelCustomizationJob",
    "DeleteCustomModel",
    "DeleteProvisionedModelThroughput",
    "DeleteCustomModelDeployment",
)
