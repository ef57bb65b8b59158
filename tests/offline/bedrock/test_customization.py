"""Model customisation offline: data validated as AWS validates, loss curves, a custom model that
beats its base on held-out prompts, inference only through capacity, and the guard's prices."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

BASE = "amazon.nova-micro-v1:0"
FACTS = [
    (
        "What is the refund window for the Aurora blender?",
        "Refunds for the Aurora blender are accepted within 45 days of purchase.",
    ),
    ("Which warehouse ships orders to Norway?", "Orders to Norway ship from the Gdansk warehouse."),
    ("How long is the warranty on the Zephyr kettle?", "The Zephyr kettle has a 3 year warranty."),
    ("What voltage does the Orion toaster need?", "The Orion toaster needs 230 volts."),
    (
        "Who approves travel expenses over 500 euros?",
        "Travel expenses over 500 euros are approved by the finance director.",
    ),
    (
        "What is the support phone line opening time?",
        "The support phone line opens at 8 am on weekdays.",
    ),
    ("Which carrier delivers parcels to Iceland?", "Parcels to Iceland are delivered by NordPost."),
    (
        "How many vacation days do new employees get?",
        "New employees get 25 vacation days per year.",
    ),
    ("What is the maximum file size for invoices?", "Invoices can be uploaded up to 10 MB."),
    (
        "Which team owns the billing database?",
        "The billing database is owned by the payments platform team.",
    ),
]
HELD_OUT = [
    ("How many days do I have to return an Aurora blender?", 0),
    ("From which warehouse are Norway orders shipped?", 1),
    ("What's the warranty period of the Zephyr kettle?", 2),
    ("Tell me the voltage the Orion toaster requires.", 3),
    ("Which courier handles Iceland parcel deliveries?", 6),
]


def _conv(prompt: str, answer: str | None) -> dict[str, Any]:
    msgs = [{"role": "user", "content": [{"text": prompt}]}]
    if answer is not None:
        msgs.append({"role": "assistant", "content": [{"text": answer}]})
    return {
        "schemaVersion": "bedrock-conversation-2024",
        "system": [{"text": "You are the company help desk."}],
        "messages": msgs,
    }


def _put(lab: Any, key: str, rows: list[dict[str, Any]]) -> str:
    lab.client("s3").put_object(
        Bucket=lab.bucket, Key=key, Body="\n".join(json.dumps(r) for r in rows).encode()
    )
    return f"s3://{lab.bucket}/{key}"


def _create(
    lab: Any,
    name: str,
    train: str,
    valid: str | None = None,
    base: str = BASE,
    ctype: str = "FINE_TUNING",
    **kw: Any,
) -> str:
    extra: dict[str, Any] = {}
    if valid:
        extra["validationDataConfig"] = {"validators": [{"s3Uri": valid}]}
    return lab.client("bedrock").create_model_customization_job(
        jobName=name,
        customModelName=f"{name}-model",
        roleArn=lab.role_arn,
        baseModelIdentifier=base,
        customizationType=ctype,
        trainingDataConfig={"s3Uri": train},
        outputDataConfig={"s3Uri": f"s3://{lab.bucket}/custom/"},
        hyperParameters=kw.pop(
            "hp", {"epochCount": "3", "batchSize": "2", "learningRate": "0.00001"}
        ),
        **extra,
        **kw,
    )["jobArn"]


def _score(answer: str, reference: str) -> float:
    from mllab.models import metrics

    return metrics.token_f1(answer, reference)


@pytest.fixture
def rich_lab() -> Any:
    """A lab with budget for one hour of Provisioned Throughput (about USD 11)."""
    from mllab import Lab

    opened = Lab("test-lab", backend="offline", budget_usd=20.0)
    try:
        yield opened
    finally:
        opened.close()


def test_provisioned_throughput_is_refused_over_a_small_budget(lab: Any) -> None:
    from mllab.guard.errors import CostGuardError

    with pytest.raises(CostGuardError, match="exceeds the lab's remaining budget"):
        lab.client("bedrock").create_provisioned_model_throughput(
            modelUnits=1,
            provisionedModelName="pt",
            modelId=f"arn:aws:bedrock:us-east-1:123456789012:custom-model/{BASE}/abc",
        )


def test_fine_tuning_learns_the_task_and_beats_the_base_model_on_held_out_prompts(
    rich_lab: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    lab = rich_lab
    train = _put(lab, "ft/train.jsonl", [_conv(q, a) for q, a in FACTS])
    valid = _put(lab, "ft/valid.jsonl", [_conv(q, FACTS[i][1]) for q, i in HELD_OUT])
    br = lab.client("bedrock")
    arn = _create(lab, "helpdesk-ft", train, valid)
    assert br.get_model_customization_job(jobIdentifier=arn)["status"] in (
        "InProgress",
        "Completed",
    )
    job = br.get_model_customization_job(jobIdentifier=arn)
    assert job["status"] == "Completed"
    model_arn = job["outputModelArn"]
    assert br.get_custom_model(modelIdentifier=model_arn)["modelStatus"] == "Active"
    # training metrics in S3, AWS's layout and columns; loss falls with the epochs
    job_id = arn.rsplit("/", 1)[-1]
    body = (
        lab.client("s3")
        .get_object(
            Bucket=lab.bucket,
            Key=f"custom/model-customization-job-{job_id}/training_artifacts/step_wise_training_metrics.csv",
        )["Body"]
        .read()
        .decode()
    )
    rows = list(csv.DictReader(io.StringIO(body)))
    assert len(rows) == 3 * 5 and rows[0].keys() >= {"step_number", "epoch_number", "training_loss"}
    first = [float(r["training_loss"]) for r in rows if r["epoch_number"] == "1"]
    last = [float(r["training_loss"]) for r in rows if r["epoch_number"] == "3"]
    assert sum(last) / len(last) < sum(first) / len(first)
    vkey = f"custom/model-customization-job-{job_id}/validation_artifacts/post_fine_tuning_validation/validation/validation_metrics.csv"
    vrows = list(
        csv.DictReader(
            io.StringIO(
                lab.client("s3").get_object(Bucket=lab.bucket, Key=vkey)["Body"].read().decode()
            )
        )
    )
    assert len(vrows) == 3
    # inference: never by the model ARN; through provisioned throughput
    rt = lab.client("bedrock-runtime")
    with pytest.raises(ClientError, match="Provisioned Throughput"):
        rt.converse(modelId=model_arn, messages=[{"role": "user", "content": [{"text": "hi"}]}])
    pt = br.create_provisioned_model_throughput(
        modelUnits=1, provisionedModelName="helpdesk-pt", modelId=model_arn
    )["provisionedModelArn"]
    tuned, base = [], []
    for q, i in HELD_OUT:
        msg = [{"role": "user", "content": [{"text": q}]}]
        tuned.append(
            _score(
                rt.converse(modelId=pt, messages=msg)["output"]["message"]["content"][0]["text"],
                FACTS[i][1],
            )
        )
        base.append(
            _score(
                rt.converse(modelId=BASE, messages=msg)["output"]["message"]["content"][0]["text"],
                FACTS[i][1],
            )
        )
    with capsys.disabled():
        print(
            f"\nheld-out token F1: custom model {sum(tuned) / len(tuned):.2f}, base {BASE} {sum(base) / len(base):.2f}"
        )
    assert sum(tuned) / len(tuned) > sum(base) / len(base) + 0.4
    # the guard priced the job, the storage and the hourly capacity
    ops = {r.operation: r for r in lab.guard.ledger.rows(run=lab.guard.run)}
    assert ops["CreateModelCustomizationJob"].estimate_usd > 0
    assert ops["CreateProvisionedModelThroughput"].hourly_usd > 1
    with pytest.raises(ClientError, match="provisioned throughput"):
        br.delete_custom_model(modelIdentifier=model_arn)
    br.delete_provisioned_model_throughput(provisionedModelId=pt)
    br.delete_custom_model(modelIdentifier=model_arn)
    assert br.list_custom_models()["modelSummaries"] == []


def test_data_is_validated_as_aws_validates(lab: Any) -> None:
    br = lab.client("bedrock")
    few = _put(lab, "bad/few.jsonl", [_conv(q, a) for q, a in FACTS[:5]])
    with pytest.raises(ClientError, match="at least 8"):
        _create(lab, "too-few", few)
    wrong_fmt = _put(lab, "bad/pc.jsonl", [{"prompt": q, "completion": a} for q, a in FACTS])
    with pytest.raises(ClientError, match="bedrock-conversation-2024"):
        _create(lab, "wrong-format", wrong_fmt)
    # the prompt/completion format is right for Titan, and wrong-ordered turns are refused
    _create(lab, "titan-ok", wrong_fmt, base="amazon.titan-text-lite-v1")
    no_answer = _put(lab, "bad/noans.jsonl", [_conv(q, None) for q, _a in FACTS])
    with pytest.raises(ClientError, match="last message must be the assistant"):
        _create(lab, "no-answer", no_answer)
    long = _put(lab, "bad/long.jsonl", [{"prompt": "word " * 5000, "completion": "x"}])
    with pytest.raises(ClientError, match="at most 4096"):
        _create(lab, "too-long", long, base="amazon.titan-text-lite-v1")
    good = _put(lab, "ok/train.jsonl", [_conv(q, a) for q, a in FACTS])
    with pytest.raises(ClientError, match="out of range"):
        _create(lab, "bad-hp", good, hp={"epochCount": "9"})
    with pytest.raises(ClientError, match="Unknown hyperparameter"):
        _create(lab, "bad-hp2", good, hp={"epochs": "2"})
    with pytest.raises(ClientError, match="does not support CONTINUED_PRE_TRAINING"):
        _create(lab, "cpt-nova", good, ctype="CONTINUED_PRE_TRAINING")
    # distillation: prompts only; the teacher writes the answers
    prompts = _put(
        lab, "ok/distill.jsonl", [_conv(f"Context: {a}\nQuestion: {q}", None) for q, a in FACTS]
    )
    arn = _create(
        lab,
        "distill",
        prompts,
        ctype="DISTILLATION",
        customizationConfig={
            "distillationConfig": {
                "teacherModelConfig": {"teacherModelIdentifier": "amazon.nova-pro-v1:0"}
            }
        },
    )
    assert br.get_model_customization_job(jobIdentifier=arn)["status"] == "Completed"
    # a Titan custom model cannot be deployed on demand; a Nova one can
    titan = br.get_model_customization_job(jobIdentifier="titan-ok")["outputModelArn"]
    with pytest.raises(ClientError, match="On-demand deployment is not supported"):
        br.create_custom_model_deployment(modelDeploymentName="titan-dep", modelArn=titan)


def test_guard_prices_training_by_tokens_and_epochs() -> None:
    from mllab.guard.declarations import bedrock_kb
    from mllab.guard.estimate import Policy

    p = {
        "customModelName": "m",
        "baseModelIdentifier": BASE,
        "trainingDataConfig": {"s3Uri": "s3://nowhere/x"},
    }
    two = bedrock_kb.customization_cost({**p, "hyperParameters": {"epochCount": "2"}}, Policy())
    four = bedrock_kb.customization_cost({**p, "hyperParameters": {"epochCount": "4"}}, Policy())
    storage = bedrock_kb.vector_prices()["customization"]["storage_usd_per_model_month"] / 730.0
    assert four.usd - storage == pytest.approx(2 * (two.usd - storage))
