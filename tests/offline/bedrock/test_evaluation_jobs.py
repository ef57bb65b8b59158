"""Bedrock evaluation jobs offline: automatic metrics, LLM-as-a-judge, RAG, output layout, cost."""

from __future__ import annotations

import json
from typing import Any

import kb_corpus
import pytest
from botocore.exceptions import ClientError
from test_knowledge_base import make_index, make_kb, make_source, put_corpus, sync

MODEL = "amazon.nova-pro-v1:0"
JUDGE = "anthropic.claude-3-5-sonnet-20240620-v1:0"


def _judge_id() -> str:
    from mllab.models import catalog

    ids = [
        p.model_id
        for p in catalog.models()
        if "claude" in p.model_id and "EMBEDDING" not in p.output_modalities
    ]
    return ids[0] if ids else MODEL


def _dataset(lab: Any, key: str, records: list[dict[str, Any]]) -> str:
    lab.client("s3").put_object(
        Bucket=lab.bucket, Key=key, Body="\n".join(json.dumps(r) for r in records).encode()
    )
    return f"s3://{lab.bucket}/{key}"


def _qa_records(with_context: bool) -> list[dict[str, Any]]:
    docs = kb_corpus.documents()
    out = []
    for (q, key), (_q, answer) in zip(kb_corpus.questions(), kb_corpus.answers(), strict=True):
        fact = next(p for p in docs[key].split("\n\n") if answer in p)
        prompt = f"Context: {fact}\n\nQuestion: {q}" if with_context else q
        out.append({"prompt": prompt, "referenceResponse": fact, "category": "science"})
    return out


def _job(
    lab: Any,
    name: str,
    uri: str,
    metrics: list[str],
    task: str = "QuestionAndAnswer",
    judge: str | None = None,
    **extra: Any,
) -> str:
    auto: dict[str, Any] = {
        "datasetMetricConfigs": [
            {
                "taskType": task,
                "dataset": {"name": "qa", "datasetLocation": {"s3Uri": uri}},
                "metricNames": metrics,
            }
        ]
    }
    if judge:
        auto["evaluatorModelConfig"] = {"bedrockEvaluatorModels": [{"modelIdentifier": judge}]}
    inference = extra.pop(
        "inferenceConfig",
        {
            "models": [
                {
                    "bedrockModel": {
                        "modelIdentifier": MODEL,
                        "inferenceParams": json.dumps({"inferenceConfig": {"maxTokens": 200}}),
                    }
                }
            ]
        },
    )
    return lab.client("bedrock").create_evaluation_job(
        jobName=name,
        roleArn=lab.role_arn,
        evaluationConfig={"automated": auto},
        inferenceConfig=inference,
        outputDataConfig={"s3Uri": f"s3://{lab.bucket}/evals/"},
        **extra,
    )["jobArn"]


def _scores(lab: Any, arn: str) -> dict[str, float]:
    from mllab.offline.bedrock import evaluation

    job = lab.client("bedrock").get_evaluation_job(jobIdentifier=arn)
    assert job["status"] == "Completed", job.get("failureMessages")
    summary = evaluation.summary(lab.account_id, lab.region, arn)
    ((_k, entry),) = [(k, v) for k, v in summary.items() if k != "usage"]
    return entry["scores"]


def test_automatic_accuracy_rewards_context_and_outputs_follow_aws_layout(lab: Any) -> None:
    with_ctx = _dataset(lab, "data/with.jsonl", _qa_records(True))
    bare = _dataset(lab, "data/bare.jsonl", _qa_records(False))
    a = _job(
        lab, "acc-context", with_ctx, ["Builtin.Accuracy", "Builtin.Robustness", "Builtin.Toxicity"]
    )
    b = _job(lab, "acc-bare", bare, ["Builtin.Accuracy"])
    sa, sb = _scores(lab, a), _scores(lab, b)
    print(
        f"\nBuiltin.Accuracy (token F1): with context {sa['Builtin.Accuracy']:.2f}, bare {sb['Builtin.Accuracy']:.2f}; "
        f"robustness {sa['Builtin.Robustness']:.2f}, toxicity {sa['Builtin.Toxicity']:.2f}"
    )
    assert sa["Builtin.Accuracy"] > sb["Builtin.Accuracy"] + 0.3
    assert sa["Builtin.Toxicity"] < 0.2
    keys = [
        o["Key"]
        for o in lab.client("s3").list_objects_v2(Bucket=lab.bucket, Prefix="evals/acc-context/")[
            "Contents"
        ]
    ]
    job_id = a.rsplit("/", 1)[-1]
    assert len(keys) == 1 and keys[0].startswith(
        f"evals/acc-context/{job_id}/models/{MODEL}/taskTypes/QuestionAndAnswer/datasets/qa/"
    )
    assert keys[0].endswith("_output.jsonl")
    lines = (
        lab.client("s3")
        .get_object(Bucket=lab.bucket, Key=keys[0])["Body"]
        .read()
        .decode()
        .splitlines()
    )
    first = json.loads(lines[0])
    assert len(lines) == 12 and first["modelResponses"][0]["modelIdentifier"] == MODEL
    assert {s["metricName"] for s in first["automatedEvaluationResult"]["scores"]} == {
        "Builtin.Accuracy",
        "Builtin.Robustness",
        "Builtin.Toxicity",
    }
    listed = lab.client("bedrock").list_evaluation_jobs(statusEquals="Completed")["jobSummaries"]
    assert {j["jobName"] for j in listed} == {"acc-context", "acc-bare"}
    rows = [
        r for r in lab.guard.ledger.rows(run=lab.guard.run) if r.operation == "CreateEvaluationJob"
    ]
    assert len(rows) == 2 and all(r.estimate_usd > 0 for r in rows)


def test_judge_scores_correct_answers_above_wrong_ones(lab: Any) -> None:
    recs = _qa_records(True)
    # the same prompts, but the reference is another question's fact: a correct answer now MISSES
    wrong = [
        dict(r, referenceResponse=recs[(i + 1) % len(recs)]["referenceResponse"])
        for i, r in enumerate(recs)
    ]
    judge = _judge_id()
    metrics = [
        "Builtin.Correctness",
        "Builtin.Completeness",
        "Builtin.Faithfulness",
        "Builtin.Harmfulness",
    ]
    good = _scores(
        lab,
        _job(lab, "judge-good", _dataset(lab, "data/j1.jsonl", recs), metrics, "Generation", judge),
    )
    bad = _scores(
        lab,
        _job(lab, "judge-bad", _dataset(lab, "data/j2.jsonl", wrong), metrics, "Generation", judge),
    )
    print(
        f"\njudge Correctness right refs {good['Builtin.Correctness']:.2f} vs wrong refs {bad['Builtin.Correctness']:.2f}; "
        f"Faithfulness {good['Builtin.Faithfulness']:.2f}"
    )
    assert good["Builtin.Correctness"] > bad["Builtin.Correctness"] + 0.3
    assert good["Builtin.Completeness"] > bad["Builtin.Completeness"]
    assert good["Builtin.Faithfulness"] > 0.6
    with pytest.raises(ClientError, match="not valid for this job type"):
        _job(
            lab,
            "judge-bad-metric",
            _dataset(lab, "data/j3.jsonl", recs),
            ["Builtin.Accuracy"],
            "Generation",
            judge,
        )


def test_rag_evaluation_retrieve_only_and_retrieve_and_generate(lab: Any) -> None:
    put_corpus(lab)
    kb_id = make_kb(lab, make_index(lab))
    sync(lab, kb_id, make_source(lab, kb_id))
    docs = kb_corpus.documents()
    recs = [
        {
            "conversationTurns": [
                {
                    "prompt": {"content": [{"text": q}]},
                    "referenceResponses": [
                        {"content": [{"text": next(p for p in docs[key].split("\n\n") if a in p)}]}
                    ],
                }
            ]
        }
        for (q, key), (_q, a) in zip(kb_corpus.questions(), kb_corpus.answers(), strict=True)
    ]
    uri = _dataset(lab, "data/rag.jsonl", recs)
    retrieve = {
        "ragConfigs": [
            {
                "knowledgeBaseConfig": {
                    "retrieveConfig": {
                        "knowledgeBaseId": kb_id,
                        "knowledgeBaseRetrievalConfiguration": {
                            "vectorSearchConfiguration": {"numberOfResults": 3}
                        },
                    }
                }
            }
        ]
    }
    arn = _job(
        lab,
        "rag-retrieve",
        uri,
        ["Builtin.ContextRelevance", "Builtin.ContextCoverage"],
        "General" if False else "QuestionAndAnswer",
        _judge_id(),
        inferenceConfig=retrieve,
        applicationType="RagEvaluation",
    )
    s = _scores(lab, arn)
    gen = {
        "ragConfigs": [
            {
                "knowledgeBaseConfig": {
                    "retrieveAndGenerateConfig": {
                        "type": "KNOWLEDGE_BASE",
                        "knowledgeBaseConfiguration": {
                            "knowledgeBaseId": kb_id,
                            "modelArn": f"arn:aws:bedrock:us-east-1::foundation-model/{MODEL}",
                        },
                    }
                }
            }
        ]
    }
    arn2 = _job(
        lab,
        "rag-generate",
        uri,
        ["Builtin.Correctness", "Builtin.Faithfulness", "Builtin.CitationCoverage"],
        "QuestionAndAnswer",
        _judge_id(),
        inferenceConfig=gen,
        applicationType="RagEvaluation",
    )
    s2 = _scores(lab, arn2)
    print(
        f"\nRAG retrieve: ContextCoverage {s['Builtin.ContextCoverage']:.2f}, ContextRelevance {s['Builtin.ContextRelevance']:.2f}; "
        f"generate: Correctness {s2['Builtin.Correctness']:.2f}, Faithfulness {s2['Builtin.Faithfulness']:.2f}, "
        f"CitationCoverage {s2['Builtin.CitationCoverage']:.2f}"
    )
    assert s["Builtin.ContextCoverage"] >= 0.75
    assert s2["Builtin.Faithfulness"] >= 0.7 and s2["Builtin.CitationCoverage"] >= 0.5


def test_stop_before_it_runs_and_bad_datasets_fail(lab: Any) -> None:
    br = lab.client("bedrock")
    arn = _job(
        lab, "to-stop", _dataset(lab, "data/s.jsonl", _qa_records(True)), ["Builtin.Accuracy"]
    )
    br.stop_evaluation_job(jobIdentifier=arn)
    assert br.get_evaluation_job(jobIdentifier=arn)["status"] == "Stopped"
    with pytest.raises(ClientError, match="only InProgress"):
        br.stop_evaluation_job(jobIdentifier=arn)
    bad = _job(
        lab,
        "bad-data",
        _dataset(lab, "data/bad.jsonl", [{"referenceResponse": "x"}]),
        ["Builtin.Accuracy"],
    )
    got = br.get_evaluation_job(jobIdentifier=bad)
    assert got["status"] == "Failed" and "no prompt" in got["failureMessages"][0]
    with pytest.raises(ClientError, match="built-in datasets"):
        br.create_evaluation_job(
            jobName="builtin",
            roleArn=lab.role_arn,
            evaluationConfig={
                "automated": {
                    "datasetMetricConfigs": [
                        {
                            "taskType": "QuestionAndAnswer",
                            "dataset": {"name": "Builtin.BoolQ"},
                            "metricNames": ["Builtin.Accuracy"],
                        }
                    ]
                }
            },
            inferenceConfig={
                "models": [{"bedrockModel": {"modelIdentifier": MODEL, "inferenceParams": "{}"}}]
            },
            outputDataConfig={"s3Uri": f"s3://{lab.bucket}/evals/"},
        )
