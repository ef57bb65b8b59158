"""Lab 05's seeded data: determinism, and labels consistent with the corpus they describe."""

from __future__ import annotations

import json

import boto3
import pandas as pd
import pytest
from moto import mock_aws

from mllab.datasets import genai as g


@pytest.fixture(scope="module")
def docs() -> pd.DataFrame:
    return g.product_docs(0)


def test_deterministic_per_seed(docs: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(docs, g.product_docs(0))
    assert not docs.equals(g.product_docs(1))
    q = g.support_questions(docs, seed=3)
    pd.testing.assert_frame_equal(q, g.support_questions(docs, seed=3))
    assert not q.equals(g.support_questions(docs, seed=4))
    pd.testing.assert_frame_equal(g.red_team_prompts(5), g.red_team_prompts(5))
    assert not g.red_team_prompts(5).equals(g.red_team_prompts(6))
    pd.testing.assert_frame_equal(g.finetune_pairs(docs, seed=2), g.finetune_pairs(docs, seed=2))


def test_corpus_shape_metadata_and_passages(docs: pd.DataFrame) -> None:
    assert 200 <= len(docs) <= 300
    assert docs.doc_id.is_unique
    assert set(docs.doc_type) == set(g.DOC_TYPES)
    assert docs.category.nunique() == 8 and docs["product"].nunique() == 24
    assert docs.updated.str.match(r"^\d{4}-\d{2}-\d{2}$").all()
    assert (docs.year == docs.updated.str[:4].astype(int)).all()
    for _, row in docs.iterrows():
        for p in row["passages"]:
            assert row["text"][p["start"] : p["end"]] == p["text"]
            assert p["passage_id"].startswith(row["doc_id"] + "#")
        side = g.metadata_sidecar(row)["metadataAttributes"]
        assert side["product"] == row["product"] and side["doc_type"] == row["doc_type"]
        assert len(json.dumps(g.metadata_sidecar(row))) < 1024  # far under the 10 KB limit


def test_pii_is_where_the_labels_say(docs: pd.DataFrame) -> None:
    with_pii = docs[docs.pii.str.len() > 0]
    assert 0.1 < len(with_pii) / len(docs) < 0.35
    assert (docs[docs.doc_type == "case-note"].pii.str.len() == 3).all()
    for _, row in docs.iterrows():
        found = {v for _k, v in g.find_pii(row["text"])}
        assert found == {v for _k, v in row["pii"]}, row["doc_id"]
    kinds = {k for lst in docs.pii for k, _ in lst}
    assert kinds == {"EMAIL", "PHONE", "CREDIT_DEBIT_CARD_NUMBER"}
    card = next(v for lst in docs.pii for k, v in lst if k == "CREDIT_DEBIT_CARD_NUMBER")
    assert g.luhn_ok(card) and not g.luhn_ok(card[:-1] + str((int(card[-1]) + 1) % 10))


def test_questions_are_answered_by_the_docs_they_name(docs: pd.DataFrame) -> None:
    q = g.support_questions(docs, n=60)
    assert len(q) == 60 and q.question_id.is_unique
    assert set(q.kind) == {"attribute", "warranty", "fix"}
    by_id = docs.set_index("doc_id")
    passages = {p["passage_id"]: p["text"] for lst in docs.passages for p in lst}
    for _, row in q.iterrows():
        assert row["answer_span"] in passages[row["passage_id"]]
        assert row["passage_id"].split("#")[0] in row["doc_ids"]
        same_product = docs[docs["product"] == row["product"]]
        expected = {
            d
            for d, t in zip(same_product.doc_id, same_product.text, strict=True)
            if row["answer_span"] in t
        }
        assert set(row["doc_ids"]) == expected
        for d in row["doc_ids"]:
            assert by_id.loc[d, "doc_type"] != "case-note"
            assert not g.find_pii(by_id.loc[d, "text"]) or by_id.loc[d, "doc_type"] == "faq"
        assert row["product"] in row["question"]
        assert row["answer_span"] in row["reference"]


def test_red_team_labels(docs: pd.DataFrame) -> None:
    r = g.red_team_prompts(0)
    counts = r.category.value_counts().to_dict()
    assert counts == {"benign": 18, "pii": 12, "denied-topic": 12, "prompt-attack": 6}
    assert set(r[r.category == "denied-topic"].topic) == {
        "legal-advice",
        "medical-advice",
        "competitor-pricing",
    }
    expect = {"denied-topic": "BLOCKED", "prompt-attack": "BLOCKED", "pii": "ANONYMIZED"}
    for _, row in r.iterrows():
        assert row["expected"] == expect.get(row["category"], "NONE")
        found = {v for _k, v in g.find_pii(row["prompt"])}
        assert found == set(row["pii"])
        assert bool(found) == (row["category"] == "pii")


def test_finetune_defects_are_real(docs: pd.DataFrame) -> None:
    from mllab.models import tokens

    f = g.finetune_pairs(docs, n=120, max_tokens=1000)
    assert f.record_id.is_unique
    good = f[f.defect.isna()]
    assert 0.8 < len(good) / len(f) < 0.9
    assert (good.completion.str.len() > 0).all()
    assert not any(g.find_pii(t) for t in good.prompt + " " + good.completion)
    for _, row in f.iterrows():
        n = tokens.count(row["prompt"]) + tokens.count(row["completion"])
        if row["defect"] == "over-long":
            assert n > 1000
        else:
            assert n < 1000
        if row["defect"] == "empty-completion":
            assert row["completion"] == ""
        if row["defect"] == "pii":
            assert g.find_pii(row["completion"])
    pairs = list(zip(f.prompt, f.completion, strict=True))
    dup = [pairs[i] in pairs[:i] for i in range(len(pairs))]
    assert all(d for d, defect in zip(dup, f.defect, strict=True) if defect == "duplicate")
    assert not any(d for d, defect in zip(dup, f.defect, strict=True) if defect is None)


@mock_aws
def test_writers_put_documents_sidecars_and_jsonl(docs: pd.DataFrame) -> None:
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="genai-test")
    keys = g.write_corpus(s3, "genai-test", "docs/raw/", docs.head(5))
    assert keys == [f"docs/raw/{d}.txt" for d in docs.head(5).doc_id]
    body = s3.get_object(Bucket="genai-test", Key=keys[0])["Body"].read().decode()
    assert body == docs.iloc[0]["text"]
    side = json.loads(
        s3.get_object(Bucket="genai-test", Key=keys[0] + ".metadata.json")["Body"].read()
    )
    assert side["metadataAttributes"]["product"] == docs.iloc[0]["product"]
    masked = {docs.iloc[1]["doc_id"]: "masked"}
    g.write_corpus(s3, "genai-test", "docs/clean", docs.iloc[1:2], texts=masked, metadata=False)
    assert (
        s3.get_object(Bucket="genai-test", Key=f"docs/clean/{docs.iloc[1]['doc_id']}.txt")[
            "Body"
        ].read()
        == b"masked"
    )
    assert "Contents" in s3.list_objects_v2(Bucket="genai-test", Prefix="docs/clean/")
    assert s3.list_objects_v2(Bucket="genai-test", Prefix="docs/clean/")["KeyCount"] == 1
    f = g.finetune_pairs(docs, n=10)
    key = g.write_jsonl(s3, "genai-test", "ft/train.jsonl", f, columns=["prompt", "completion"])
    lines = s3.get_object(Bucket="genai-test", Key=key)["Body"].read().decode().splitlines()
    assert [json.loads(x) for x in lines] == f[["prompt", "completion"]].to_dict(orient="records")
