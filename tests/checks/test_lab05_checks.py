"""Lab 05's checks (``mllab.checks.genai``) on prepared states: wrong ones MISS with a clear
message, valid alternatives PASS.

Every state is built directly with boto3 against an offline lab (not by rerunning the
notebook), on a small slice of the lab's corpus so that each test stays short. Each builder
does what a learner's cell would; a test changes one thing.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from mllab.checks import CheckFailed
from mllab.checks import genai as c
from mllab.datasets import genai
from tests.checks.verdicts import outcome as verdict

LOG_GROUP = "/aws/bedrock/northpeak-assistant"
CHEAP, DEAR = "us.amazon.nova-micro-v1:0", "us.amazon.nova-pro-v1:0"
EMBED = "arn:aws:bedrock:us-east-1::foundation-model/amazon.titan-embed-text-v2:0"
NONF = {"nonFilterableMetadataKeys": ["AMAZON_BEDROCK_TEXT", "AMAZON_BEDROCK_METADATA"]}
DEFAULT = {
    "chunkingStrategy": "FIXED_SIZE",
    "fixedSizeChunkingConfiguration": {"maxTokens": 300, "overlapPercentage": 20},
}
SMALL = {
    "chunkingStrategy": "FIXED_SIZE",
    "fixedSizeChunkingConfiguration": {"maxTokens": 40, "overlapPercentage": 20},
}


@pytest.fixture(scope="module")
def corpus() -> Any:
    docs = genai.product_docs(seed=5)
    products = ["Beacon 400 Headlamp", "Summit 4 Tent"]
    return docs[docs["product"].isin(products)].reset_index(drop=True)


@pytest.fixture(scope="module")
def questions(corpus: Any) -> Any:
    q = genai.support_questions(genai.product_docs(seed=5), n=60, seed=5)
    return q[q["product"].isin(set(corpus["product"]))].reset_index(drop=True)


# --------------------------------------------------------------------------- builders
def role(lab: Any) -> str:
    iam = lab.client("iam")
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "bedrock.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    return str(
        iam.create_role(RoleName="northpeak-bedrock", AssumeRolePolicyDocument=json.dumps(trust))[
            "Role"
        ]["Arn"]
    )


def logging_on(lab: Any, retention: int | None = 14, text: bool = True, **extra: Any) -> None:
    logs = lab.client("logs")
    logs.create_log_group(logGroupName=LOG_GROUP)
    if retention:
        logs.put_retention_policy(logGroupName=LOG_GROUP, retentionInDays=retention)
    cfg = {
        "cloudWatchConfig": {"logGroupName": LOG_GROUP, "roleArn": role(lab)},
        "textDataDeliveryEnabled": text,
        "imageDataDeliveryEnabled": False,
        "embeddingDataDeliveryEnabled": False,
        **extra,
    }
    lab.client("bedrock").put_model_invocation_logging_configuration(loggingConfig=cfg)


def mask_with_guardrail(lab: Any, raw: str = "docs/raw/", clean: str = "docs/clean/") -> None:
    br, rt, s3 = lab.client("bedrock"), lab.client("bedrock-runtime"), lab.client("s3")
    g = br.create_guardrail(
        name="mask",
        sensitiveInformationPolicyConfig={
            "piiEntitiesConfig": [
                {"type": t, "action": "ANONYMIZE"}
                for t in ("EMAIL", "PHONE", "CREDIT_DEBIT_CARD_NUMBER")
            ]
        },
        blockedInputMessaging="no",
        blockedOutputsMessaging="no",
    )
    v = br.create_guardrail_version(guardrailIdentifier=g["guardrailId"])["version"]
    for obj in s3.list_objects_v2(Bucket=lab.bucket, Prefix=raw).get("Contents", []):
        body = s3.get_object(Bucket=lab.bucket, Key=obj["Key"])["Body"].read()
        target = clean + obj["Key"].removeprefix(raw)
        if not obj["Key"].endswith(".metadata.json"):
            r = rt.apply_guardrail(
                guardrailIdentifier=g["guardrailId"],
                guardrailVersion=v,
                source="INPUT",
                content=[{"text": {"text": body.decode()}}],
            )
            if r["action"] == "GUARDRAIL_INTERVENED":
                body = r["outputs"][0]["text"].encode()
        s3.put_object(Bucket=lab.bucket, Key=target, Body=body)


def knowledge_base(
    lab: Any,
    name: str,
    chunking: dict[str, Any] | None,
    *,
    prefix: str = "docs/clean/",
    index_dims: int = 512,
    kb_dims: int = 512,
    nonfilterable: dict[str, Any] | None = None,
    ingest: bool = True,
    bucket: str = "northpeak-vectors",
) -> tuple[str, str]:
    s3v, agent = lab.client("s3vectors"), lab.client("bedrock-agent")
    try:
        s3v.create_vector_bucket(vectorBucketName=bucket)
    except ClientError:
        pass
    arn = s3v.create_index(
        vectorBucketName=bucket,
        indexName=f"docs-{name}",
        dataType="float32",
        dimension=index_dims,
        distanceMetric="cosine",
        metadataConfiguration=NONF if nonfilterable is None else nonfilterable,
    )["indexArn"]
    kb = agent.create_knowledge_base(
        name=f"northpeak-{name}",
        roleArn=role_arn(lab),
        knowledgeBaseConfiguration={
            "type": "VECTOR",
            "vectorKnowledgeBaseConfiguration": {
                "embeddingModelArn": EMBED,
                "embeddingModelConfiguration": {
                    "bedrockEmbeddingModelConfiguration": {"dimensions": kb_dims}
                },
            },
        },
        storageConfiguration={"type": "S3_VECTORS", "s3VectorsConfiguration": {"indexArn": arn}},
    )["knowledgeBase"]["knowledgeBaseId"]
    request: dict[str, Any] = {
        "knowledgeBaseId": kb,
        "name": "docs",
        "dataSourceConfiguration": {
            "type": "S3",
            "s3Configuration": {
                "bucketArn": f"arn:aws:s3:::{lab.bucket}",
                "inclusionPrefixes": [prefix],
            },
        },
    }
    if chunking:
        request["vectorIngestionConfiguration"] = {"chunkingConfiguration": chunking}
    ds = agent.create_data_source(**request)["dataSource"]["dataSourceId"]
    if ingest:
        run_ingestion(lab, kb, ds)
    return kb, ds


def run_ingestion(lab: Any, kb: str, ds: str) -> dict[str, Any]:
    agent = lab.client("bedrock-agent")
    job = agent.start_ingestion_job(knowledgeBaseId=kb, dataSourceId=ds)["ingestionJob"]
    for _ in range(600):
        if job["status"] not in ("STARTING", "IN_PROGRESS"):
            return dict(job)
        job = agent.get_ingestion_job(
            knowledgeBaseId=kb, dataSourceId=ds, ingestionJobId=job["ingestionJobId"]
        )["ingestionJob"]
    raise AssertionError(f"ingestion job still {job['status']} (hang guard)")


def role_arn(lab: Any) -> str:
    try:
        return str(lab.client("iam").get_role(RoleName="northpeak-bedrock")["Role"]["Arn"])
    except ClientError:
        return role(lab)


@pytest.fixture
def raw(lab: Any, corpus: Any) -> Any:
    genai.write_corpus(lab.client("s3"), lab.bucket, "docs/raw", corpus)
    return lab


@pytest.fixture
def clean(raw: Any) -> Any:
    mask_with_guardrail(raw)
    return raw


@pytest.fixture
def two_kbs(clean: Any) -> tuple[Any, dict[str, str]]:
    a, _ = knowledge_base(clean, "fixed300", DEFAULT)
    b, _ = knowledge_base(clean, "fixed40", SMALL)
    return clean, {"fixed300": a, "fixed40": b}


# --------------------------------------------------------------------------- 1 logging
def test_logging_pass_and_alternative(lab: Any) -> None:
    logging_on(lab, retention=30, s3Config={"bucketName": lab.bucket, "keyPrefix": "logs"})
    assert verdict(c.verify_logging, lab, LOG_GROUP) == "PASS"


@pytest.mark.parametrize(
    ("setup", "needle"),
    [
        (lambda lab: None, "logging is off"),
        (lambda lab: logging_on(lab, text=False), "textDataDeliveryEnabled is off"),
        (lambda lab: logging_on(lab, retention=None), "forever"),
        (lambda lab: logging_on(lab, retention=90), "90 days"),
        (lambda lab: logging_on(lab, embeddingDataDeliveryEnabled=True), "text only"),
    ],
)
def test_logging_wrong(lab: Any, setup: Callable[[Any], None], needle: str) -> None:
    setup(lab)
    assert needle in verdict(c.verify_logging, lab, LOG_GROUP)


# --------------------------------------------------------------------------- 2 model choice
def ask(lab: Any, model: str, q: Any, *, wording: str = "docs-first") -> None:
    passages = [
        p["text"]
        for lst in genai.product_docs(seed=5).query("product == @q.product").passages
        for p in lst
    ]
    context = "\n".join(passages[:12])
    text = (
        f"Documents:\n{context}\n\nQuestion: {q.question}"
        if wording == "docs-first"
        else f"{q.question}\nUse only this text:\n{context}"
    )
    lab.client("bedrock-runtime").converse(
        modelId=model,
        messages=[{"role": "user", "content": [{"text": text}]}],
        inferenceConfig={"maxTokens": 200, "temperature": 0},
    )


def evaluate(lab: Any, questions: Any, models: list[str], **kw: Any) -> None:
    for m in models:
        for q in questions.itertuples():
            ask(lab, m, q, **kw)


def test_model_choice_pass_and_alternative_wording(lab: Any, questions: Any) -> None:
    logging_on(lab)
    evaluate(lab, questions.head(3), [CHEAP, DEAR], wording="question-first")
    got = verdict(c.verify_model_choice, lab, LOG_GROUP, [CHEAP, DEAR], questions.head(3), CHEAP)
    assert got == "PASS", got


def test_model_choice_wrong_pick_missing_calls_and_no_logging(lab: Any, questions: Any) -> None:
    eval_set = questions.head(3)
    evaluate(lab, eval_set, [CHEAP, DEAR])  # logging still off: nothing recorded
    logging_on(lab)
    assert "hold 0 of the 3" in verdict(
        c.verify_model_choice, lab, LOG_GROUP, [CHEAP, DEAR], eval_set, CHEAP
    )
    evaluate(lab, eval_set.head(1), [CHEAP, DEAR])  # only one question per model
    assert "hold 1 of the 3" in verdict(
        c.verify_model_choice, lab, LOG_GROUP, [CHEAP, DEAR], eval_set, CHEAP
    )
    evaluate(lab, eval_set, [CHEAP, DEAR])
    wrong = verdict(c.verify_model_choice, lab, LOG_GROUP, [CHEAP, DEAR], eval_set, DEAR)
    assert "is not the cheapest" in wrong and "nova-micro" in wrong
    strict = verdict(
        c.verify_model_choice, lab, LOG_GROUP, [CHEAP, DEAR], eval_set, CHEAP, p90_ms=1
    )
    assert "no candidate meets" in strict


# --------------------------------------------------------------------------- 3 PII masking
def copy_with(lab: Any, edit: Callable[[str, str], str | None]) -> None:
    s3 = lab.client("s3")
    for obj in s3.list_objects_v2(Bucket=lab.bucket, Prefix="docs/raw/")["Contents"]:
        body = s3.get_object(Bucket=lab.bucket, Key=obj["Key"])["Body"].read().decode()
        out = body if obj["Key"].endswith(".json") else edit(obj["Key"], body)
        if out is not None:
            key = "docs/clean/" + obj["Key"].removeprefix("docs/raw/")
            s3.put_object(Bucket=lab.bucket, Key=key, Body=out.encode())


def regex_mask(_key: str, text: str) -> str:
    for _kind, value in genai.find_pii(text):
        text = text.replace(value, "[REDACTED]")
    return text


def test_pii_masking_guardrail_and_regex_alternative_pass(clean: Any) -> None:
    assert verdict(c.verify_pii_masking, clean, "docs/raw/", "docs/clean/") == "PASS"


def test_pii_masking_regex_alternative_passes(raw: Any) -> None:
    copy_with(raw, regex_mask)
    assert verdict(c.verify_pii_masking, raw, "docs/raw/", "docs/clean/") == "PASS"


@pytest.mark.parametrize(
    ("edit", "needle"),
    [
        (lambda k, t: t, "still contains"),  # copied unmasked
        (
            lambda k, t: t.replace(
                next((v for kind, v in genai.find_pii(t) if kind == "EMAIL"), "@@"), "{EMAIL}"
            ),
            "still contains",
        ),  # e-mails masked, phones and cards left
        (lambda k, t: None if "case-note-1" in k else regex_mask(k, t), "have no copy"),
        (lambda k, t: regex_mask(k, t).upper(), "lost or changed a line"),
    ],
)
def test_pii_masking_wrong(raw: Any, edit: Callable[[str, str], str | None], needle: str) -> None:
    copy_with(raw, edit)
    assert needle in verdict(c.verify_pii_masking, raw, "docs/raw/", "docs/clean/")


# --------------------------------------------------------------------------- 4 knowledge bases
def test_knowledge_bases_pass_and_semantic_alternative(clean: Any) -> None:
    a, _ = knowledge_base(clean, "fixed300", None)  # no configuration: Bedrock's default
    semantic = {
        "chunkingStrategy": "SEMANTIC",
        "semanticChunkingConfiguration": {
            "maxTokens": 100,
            "bufferSize": 0,
            "breakpointPercentileThreshold": 90,
        },
    }
    b, _ = knowledge_base(clean, "semantic", semantic)
    got = verdict(c.verify_knowledge_bases, clean, {"a": a, "b": b}, "docs/clean/")
    assert got == "PASS", got


def test_knowledge_bases_same_chunking(clean: Any) -> None:
    a, _ = knowledge_base(clean, "one", DEFAULT)
    b, _ = knowledge_base(clean, "two", DEFAULT)
    assert "chunk the same way" in verdict(
        c.verify_knowledge_bases, clean, {"a": a, "b": b}, "docs/clean/"
    )


def test_knowledge_bases_raw_prefix_holds_pii(clean: Any) -> None:
    a, _ = knowledge_base(clean, "one", DEFAULT, prefix="docs/raw/")
    b, _ = knowledge_base(clean, "two", SMALL)
    got = verdict(c.verify_knowledge_bases, clean, {"a": a, "b": b}, "docs/clean/")
    assert "index only docs/clean/" in got


def test_knowledge_bases_filterable_text_and_no_ingestion(clean: Any) -> None:
    a, _ = knowledge_base(clean, "one", DEFAULT, nonfilterable={"nonFilterableMetadataKeys": []})
    b, _ = knowledge_base(clean, "two", SMALL)
    got = verdict(c.verify_knowledge_bases, clean, {"a": a, "b": b}, "docs/clean/")
    assert "AMAZON_BEDROCK_TEXT" in got or "failed" in got
    x, _ = knowledge_base(clean, "three", DEFAULT)
    y, _ = knowledge_base(clean, "four", SMALL, ingest=False)
    assert "never ingested" in verdict(
        c.verify_knowledge_bases, clean, {"a": x, "b": y}, "docs/clean/"
    )


def test_knowledge_bases_wrong_dimensions(clean: Any) -> None:
    a, _ = knowledge_base(clean, "one", DEFAULT, index_dims=256, kb_dims=256)
    b, _ = knowledge_base(clean, "two", SMALL)
    assert "not 512" in verdict(c.verify_knowledge_bases, clean, {"a": a, "b": b}, "docs/clean/")


# --------------------------------------------------------------------------- 5 chunking
def test_chunking(two_kbs: tuple[Any, dict[str, str]], questions: Any) -> None:
    lab, kbs = two_kbs
    r = {n: c.recall_at_k(lab, kb, questions, 5) for n, kb in kbs.items()}
    better = max(r, key=lambda n: r[n])
    worse = min(r, key=lambda n: r[n])
    print("Recall@5 on the test slice:", r)
    assert r[better] > r[worse]
    # valid alternative: the same two knowledge bases under other names
    renamed = {f"kb-{i}": kb for i, kb in enumerate(kbs.values())}
    assert verdict(c.verify_chunking, lab, renamed, kbs[better], questions) == "PASS"
    assert "lower Recall@5" in verdict(c.verify_chunking, lab, kbs, kbs[worse], questions)
    assert "not one of the two" in verdict(c.verify_chunking, lab, kbs, "NOSUCHKB01", questions)
    same, _ = knowledge_base(lab, "again", DEFAULT)
    twins = {"a": kbs["fixed300"], "b": same}
    assert "decides nothing" in verdict(c.verify_chunking, lab, twins, same, questions)


# --------------------------------------------------------------------------- 6 vector cost
def test_vector_cost(two_kbs: tuple[Any, dict[str, str]]) -> None:
    lab, kbs = two_kbs
    kb = kbs["fixed40"]
    truth = c.monthly_costs(lab, kb, 90_000)
    assert truth["OPENSEARCH_SERVERLESS"] > 100 * truth["S3_VECTORS"]
    # valid alternative: S3 Vectors priced from the snapshot by hand (storage is negligible)
    from mllab.guard.declarations.vectors import prices

    p = prices()["s3vectors"]
    query = c.quote(lab, "s3vectors", "QueryVectors", {"indexName": "x", "queryVector": {}})
    del p
    by_hand = {
        "S3_VECTORS": truth["S3_VECTORS"] * 1.1,
        "OPENSEARCH_SERVERLESS": truth["OPENSEARCH_SERVERLESS"],
    }
    assert verdict(c.verify_vector_cost, lab, kb, by_hand) == "PASS"
    assert query.usd > 0
    hourly = dict(truth, OPENSEARCH_SERVERLESS=truth["OPENSEARCH_SERVERLESS"] / 730)
    assert "OPENSEARCH_SERVERLESS" in verdict(c.verify_vector_cost, lab, kb, hourly)
    no_queries = dict(truth, S3_VECTORS=truth["S3_VECTORS"] * 0.01)
    assert "S3_VECTORS" in verdict(c.verify_vector_cost, lab, kb, no_queries)
    assert "no 'S3_VECTORS'" in verdict(
        c.verify_vector_cost, lab, kb, {"OPENSEARCH_SERVERLESS": 350.0}
    )


# --------------------------------------------------------------------------- 7 retrieval
def retrieve(lab: Any, kb: str, flt: dict[str, Any] | None) -> dict[str, Any]:
    cfg: dict[str, Any] = {"numberOfResults": 5}
    if flt:
        cfg["filter"] = flt
    return dict(
        lab.client("bedrock-agent-runtime").retrieve(
            knowledgeBaseId=kb,
            retrievalQuery={"text": "How long does the battery last on low?"},
            retrievalConfiguration={"vectorSearchConfiguration": cfg},
        )
    )


def rag(lab: Any, kb: str) -> dict[str, Any]:
    arn = f"arn:aws:bedrock:{lab.region}:{lab.account_id}:inference-profile/{CHEAP}"
    return dict(
        lab.client("bedrock-agent-runtime").retrieve_and_generate(
            input={"text": "How long is the warranty on the Summit 4 Tent?"},
            retrieveAndGenerateConfiguration={
                "type": "KNOWLEDGE_BASE",
                "knowledgeBaseConfiguration": {"knowledgeBaseId": kb, "modelArn": arn},
            },
        )
    )


PRODUCT = {"equals": {"key": "product", "value": "Beacon 400 Headlamp"}}


def test_retrieval(two_kbs: tuple[Any, dict[str, str]], corpus: Any) -> None:
    lab, kbs = two_kbs
    kb = kbs["fixed40"]
    answer = rag(lab, kb)
    kw = {"product": "Beacon 400 Headlamp", "rag_product": "Summit 4 Tent", "docs": corpus}
    # valid alternative: the doc-type rule written as an allow-list
    allow = {
        "andAll": [
            PRODUCT,
            {"in": {"key": "doc_type", "value": ["specs", "manual", "faq", "care", "warranty"]}},
        ]
    }
    got = verdict(c.verify_retrieval, lab, kb, retrieve(lab, kb, allow), answer, **kw)
    assert got == "PASS", got
    unfiltered = retrieve(lab, kb, None)
    assert "filter on product" in verdict(c.verify_retrieval, lab, kb, unfiltered, answer, **kw)
    # a fabricated response: the real one with a chunk's text edited
    faked = json.loads(json.dumps(retrieve(lab, kb, allow), default=str))
    faked["retrievalResults"][0]["content"]["text"] += " Runs for ever."
    assert "not a chunk" in verdict(c.verify_retrieval, lab, kb, faked, answer, **kw)
    no_citations = dict(answer, citations=[])
    assert "no citations" in verdict(
        c.verify_retrieval, lab, kb, retrieve(lab, kb, allow), no_citations, **kw
    )


# --------------------------------------------------------------------------- 8 guardrail
TOPICS = [
    ("legal-advice", "Advice on legal rights, lawsuits, contracts or court action.",
     ["Can I sue the campsite?", "Write a legal letter threatening court action.",
      "Is it legal to break my contract?"]),
    ("medical-advice", "Diagnosis, treatment or medication doses for injuries or illness.",
     ["What medication dose should I take for a swollen ankle?",
      "Which antibiotics for an infected blister?", "Diagnose my chest pain."]),
    ("competitor-pricing", "Prices, discounts or price comparisons of other brands and competitors.",
     ["How much does a rival brand charge for a tent?", "Is it cheaper at another shop?",
      "What discount do competitors give?"]),
]  # fmt: skip


def guardrail(
    lab: Any,
    *,
    pii_action: str = "ANONYMIZE",
    attack: str | None = "HIGH",
    grounding: bool = True,
    publish: bool = True,
    words: bool = False,
) -> tuple[str, str]:
    br = lab.client("bedrock")
    kw: dict[str, Any] = {
        "name": "northpeak-assistant",
        "topicPolicyConfig": {
            "topicsConfig": [
                {"name": n, "definition": d, "examples": e, "type": "DENY"} for n, d, e in TOPICS
            ]
        },
        "sensitiveInformationPolicyConfig": {
            "piiEntitiesConfig": [
                {"type": t, "action": pii_action}
                for t in ("EMAIL", "PHONE", "CREDIT_DEBIT_CARD_NUMBER")
            ]
        },
        "blockedInputMessaging": "Sorry.",
        "blockedOutputsMessaging": "Sorry.",
    }
    if attack:
        kw["contentPolicyConfig"] = {
            "filtersConfig": [
                {"type": "PROMPT_ATTACK", "inputStrength": attack, "outputStrength": "NONE"}
            ]
        }
    if grounding:
        kw["contextualGroundingPolicyConfig"] = {
            "filtersConfig": [
                {"type": "GROUNDING", "threshold": 0.5},
                {"type": "RELEVANCE", "threshold": 0.5},
            ]
        }
    if words:
        kw["wordPolicyConfig"] = {"managedWordListsConfig": [{"type": "PROFANITY"}]}
    g = br.create_guardrail(**kw)
    if not publish:
        return g["guardrailId"], "DRAFT"
    return g["guardrailId"], br.create_guardrail_version(guardrailIdentifier=g["guardrailId"])[
        "version"
    ]


@pytest.fixture(scope="module")
def red_team() -> Any:
    return genai.red_team_prompts(seed=5)


def test_guardrail_pass_with_profanity_list_alternative(lab: Any, red_team: Any) -> None:
    gid, v = guardrail(lab, words=True)
    got = verdict(c.verify_guardrail, lab, gid, v, red_team)
    assert got == "PASS", got


@pytest.mark.parametrize(
    ("kw", "needle"),
    [
        ({"pii_action": "BLOCK"}, "anonymises PII"),
        ({"attack": None}, "PROMPT_ATTACK"),
        ({"attack": "LOW"}, "PROMPT_ATTACK"),
        ({"grounding": False}, "GROUNDING"),
        ({"publish": False}, "publish a version"),
    ],
)
def test_guardrail_wrong(lab: Any, red_team: Any, kw: dict[str, Any], needle: str) -> None:
    gid, v = guardrail(lab, **kw)
    assert needle in verdict(c.verify_guardrail, lab, gid, v, red_team)


# --------------------------------------------------------------------------- 9-10 prompt
TEMPLATE = "Be polite. Use the documents.\n\nDocuments:\n{{context}}\n\nQuestion: {{question}}"
SHORT = "Answer briefly from:\n{{context}}\nQ: {{question}}"


def variant(
    template: str, model: str = CHEAP, max_tokens: int = 512, names: tuple[str, ...] = ()
) -> dict[str, Any]:
    return {
        "name": "main",
        "templateType": "TEXT",
        "templateConfiguration": {
            "text": {
                "text": template,
                "inputVariables": [{"name": n} for n in (names or ("context", "question"))],
            }
        },
        "modelId": model,
        "inferenceConfiguration": {"text": {"temperature": 0, "maxTokens": max_tokens}},
    }


def prompt(
    lab: Any, v: dict[str, Any], *, version: bool = True, name: str = "northpeak-answer"
) -> tuple[str, str]:
    agent = lab.client("bedrock-agent")
    p = agent.create_prompt(name=name, defaultVariant="main", variants=[v])
    arn = agent.create_prompt_version(promptIdentifier=p["id"])["arn"] if version else ""
    return p["id"], arn


def use(lab: Any, arn: str, n: int = 10) -> None:
    for i in range(n):
        lab.client("bedrock-runtime").converse(
            modelId=arn,
            promptVariables={
                "context": {"text": "The Summit 4 Tent is covered by a 3-year warranty."},
                "question": {"text": f"How long is the warranty on the Summit 4 Tent? ({i})"},
            },
        )


def test_prompt_pass_with_profile_arn_alternative(lab: Any) -> None:
    logging_on(lab)
    arn_model = f"arn:aws:bedrock:{lab.region}:{lab.account_id}:inference-profile/{CHEAP}"
    pid, arn = prompt(lab, variant(TEMPLATE, model=arn_model))
    use(lab, arn)
    got = verdict(c.verify_prompt, lab, pid, LOG_GROUP, chosen_model=CHEAP, template=TEMPLATE)
    assert got == "PASS", got


def test_prompt_wrong(lab: Any) -> None:
    logging_on(lab)
    pid, _ = prompt(lab, variant(TEMPLATE), version=False)
    kw = {"chosen_model": CHEAP, "template": TEMPLATE}
    assert "no version 1" in verdict(c.verify_prompt, lab, pid, LOG_GROUP, **kw)
    pid, arn = prompt(lab, variant(TEMPLATE, model=DEAR), name="other-model")
    assert "not the chosen model" in verdict(c.verify_prompt, lab, pid, LOG_GROUP, **kw)
    pid, arn = prompt(
        lab,
        variant(TEMPLATE.replace("{{question}}", "?"), names=("context",)),
        name="no-question",
    )
    assert "not VERBOSE_TEMPLATE" in verdict(c.verify_prompt, lab, pid, LOG_GROUP, **kw)
    pid, arn = prompt(lab, variant(TEMPLATE), name="little-used")
    use(lab, arn, n=3)
    assert "3 Converse calls" in verdict(c.verify_prompt, lab, pid, LOG_GROUP, **kw)


def second_version(lab: Any, pid: str, v: dict[str, Any]) -> None:
    agent = lab.client("bedrock-agent")
    agent.update_prompt(
        promptIdentifier=pid, name="northpeak-answer", defaultVariant="main", variants=[v]
    )
    agent.create_prompt_version(promptIdentifier=pid)


LONG = ("You are the assistant of Northpeak Outfitters. Be warm and precise. " * 20) + (
    "\n\nDocuments:\n{{context}}\n\nQuestion: {{question}}"
)


def test_token_cost(two_kbs: tuple[Any, dict[str, str]], questions: Any) -> None:
    lab, kbs = two_kbs
    kb, kw = kbs["fixed40"], {"ratio": 0.7, "max_tokens": 150, "sample": slice(0, 4)}
    pid, _ = prompt(lab, variant(LONG))
    assert "versions ['1']" in verdict(c.verify_token_cost, lab, pid, kb, questions, **kw)
    second_version(lab, pid, variant(LONG, max_tokens=150))  # maxTokens cut, same template
    assert "at most 70%" in verdict(c.verify_token_cost, lab, pid, kb, questions, **kw)
    second_version(lab, pid, variant(SHORT, max_tokens=512))  # short template, maxTokens kept
    assert "maxTokens 512" in verdict(c.verify_token_cost, lab, pid, kb, questions, **kw)
    second_version(lab, pid, variant("Answer: {{question}}", max_tokens=100, names=("question",)))
    assert "lost" in verdict(c.verify_token_cost, lab, pid, kb, questions, **kw)
    second_version(lab, pid, variant(SHORT, max_tokens=100))  # the alternative wording
    got = verdict(c.verify_token_cost, lab, pid, kb, questions, **kw)
    assert got == "PASS", got


# --------------------------------------------------------------------------- 12 alarm
def alarm(lab: Any, **over: Any) -> None:
    kw: dict[str, Any] = {
        "AlarmName": "northpeak-latency",
        "Namespace": "AWS/Bedrock",
        "MetricName": "InvocationLatency",
        "Dimensions": [{"Name": "ModelId", "Value": CHEAP}],
        "ExtendedStatistic": "p90",
        "Period": 300,
        "EvaluationPeriods": 3,
        "DatapointsToAlarm": 2,
        "Threshold": 1500,
        "ComparisonOperator": "GreaterThanThreshold",
        "TreatMissingData": "notBreaching",
    }
    kw.update(over)
    kw = {k: v for k, v in kw.items() if v is not None}
    lab.client("cloudwatch").put_metric_alarm(**kw)


@pytest.fixture
def invoked(lab: Any) -> Any:
    lab.client("bedrock-runtime").converse(
        modelId=CHEAP, messages=[{"role": "user", "content": [{"text": "Hello?"}]}]
    )
    return lab


def test_alarm_pass_and_alternative(invoked: Any) -> None:
    alarm(invoked, ComparisonOperator="GreaterThanOrEqualToThreshold")
    got = verdict(c.verify_alarm, invoked, "northpeak-latency", CHEAP)
    assert got == "PASS", got


@pytest.mark.parametrize(
    ("over", "needle"),
    [
        ({"ExtendedStatistic": None, "Statistic": "Average"}, "90th percentile"),
        (
            {"Dimensions": [{"Name": "ModelId", "Value": "amazon.nova-pro-v1:0"}]},
            "not us.amazon.nova-micro",
        ),
        ({"Threshold": 15000}, "above 1500 ms"),
        ({"TreatMissingData": "breaching"}, "notBreaching"),
        ({"Namespace": "Northpeak"}, "AWS/Bedrock InvocationLatency"),
    ],
)
def test_alarm_wrong(invoked: Any, over: dict[str, Any], needle: str) -> None:
    alarm(invoked, **over)
    assert needle in verdict(c.verify_alarm, invoked, "northpeak-latency", CHEAP)


def test_alarm_on_a_model_that_publishes_nothing(invoked: Any) -> None:
    alarm(invoked, Dimensions=[{"Name": "ModelId", "Value": DEAR}])
    assert "publishes no InvocationLatency" in verdict(
        c.verify_alarm, invoked, "northpeak-latency", DEAR
    )


# --------------------------------------------------------------------------- 13 fine-tuning
@pytest.fixture(scope="module")
def pairs() -> Any:
    return genai.finetune_pairs(genai.product_docs(seed=5), n=120, seed=5)


def tune(lab: Any, records: list[dict[str, str]], epochs: str = "2") -> str:
    s3 = lab.client("s3")
    genai.write_jsonl(s3, lab.bucket, "finetune/train.jsonl", records)
    name = "northpeak-style-test"
    lab.client("bedrock").create_model_customization_job(
        jobName=name,
        customModelName="northpeak-style-model",
        roleArn=role_arn(lab),
        baseModelIdentifier="amazon.titan-text-express-v1",
        customizationType="FINE_TUNING",
        trainingDataConfig={"s3Uri": f"s3://{lab.bucket}/finetune/train.jsonl"},
        outputDataConfig={"s3Uri": f"s3://{lab.bucket}/finetune/output/"},
        hyperParameters={"epochCount": epochs, "batchSize": "1", "learningRate": "0.00001"},
    )
    return name


def records(pairs: Any, keep: Callable[[Any], bool]) -> list[dict[str, str]]:
    return [{"prompt": p.prompt, "completion": p.completion} for p in pairs.itertuples() if keep(p)]


def clean_rule(p: Any) -> bool:
    """A learner's rules without the answer key: non-empty, short, no PII, no fuel or stream."""
    from mllab.models import tokens

    text = p.completion
    return bool(
        text.strip()
        and tokens.count(p.prompt) + tokens.count(text) <= 1000
        and not genai.find_pii(text)
        and "petrol" not in text
        and "stream" not in text
    )


def dedupe(recs: list[dict[str, str]]) -> list[dict[str, str]]:
    seen: set[tuple[str, str]] = set()
    out = []
    for r in recs:
        if (r["prompt"], r["completion"]) not in seen:
            seen.add((r["prompt"], r["completion"]))
            out.append(r)
    return out


def test_fine_tuning_pass_with_rules_and_reversed_order(lab: Any, pairs: Any) -> None:
    name = tune(lab, dedupe(records(pairs, clean_rule))[::-1])
    got = verdict(c.verify_fine_tuning, lab, name, pairs)
    assert got == "PASS", got


@pytest.mark.parametrize(
    ("build", "needle"),
    [
        (lambda pairs: records(pairs, lambda p: True), "defective records"),
        (lambda pairs: records(pairs, clean_rule), "duplicate"),
        (
            lambda pairs: dedupe(
                records(pairs, lambda p: clean_rule(p) or bool(genai.find_pii(p.completion)))
            ),
            "'pii'",
        ),
        (lambda pairs: dedupe(records(pairs, clean_rule))[:40], "valid pairs were kept"),
    ],
)
def test_fine_tuning_wrong_data(
    lab: Any, pairs: Any, build: Callable[[Any], Any], needle: str
) -> None:
    name = tune(lab, build(pairs))
    assert needle in verdict(c.verify_fine_tuning, lab, name, pairs)


def test_fine_tuning_wrong_epochs(lab: Any, pairs: Any) -> None:
    name = tune(lab, dedupe(records(pairs, clean_rule)), epochs="3")
    assert "epochCount is 3" in verdict(c.verify_fine_tuning, lab, name, pairs)


# --------------------------------------------------------------------------- drill
def drill(lab: Any) -> tuple[str, str]:
    return knowledge_base(lab, "drill", None, index_dims=512, kb_dims=1024)


def repair(lab: Any, dims: int = 1024) -> None:
    s3v = lab.client("s3vectors")
    s3v.delete_index(vectorBucketName="northpeak-vectors", indexName="docs-drill")
    s3v.create_index(
        vectorBucketName="northpeak-vectors",
        indexName="docs-drill",
        dataType="float32",
        dimension=dims,
        distanceMetric="euclidean",  # the alternative: another metric, the right dimension
        metadataConfiguration=NONF,
    )


def test_drill_pass_and_not_repaired(clean: Any) -> None:
    kb, ds = drill(clean)
    assert "failed documents" in verdict(c.verify_drill, clean, kb, ds)
    repair(clean, dims=512)  # recreated, but with the same wrong dimension
    run_ingestion(clean, kb, ds)
    assert "failed documents" in verdict(c.verify_drill, clean, kb, ds)
    repair(clean)
    run_ingestion(clean, kb, ds)
    got = verdict(c.verify_drill, clean, kb, ds)
    assert got == "PASS", got


def test_drill_without_the_failure(clean: Any) -> None:
    kb, ds = knowledge_base(clean, "drill", None, index_dims=1024, kb_dims=1024)
    assert "no failed ingestion" in verdict(c.verify_drill, clean, kb, ds)
    assert "no ingestion job" in verdict(
        c.verify_drill, clean, *knowledge_base(clean, "other", None, ingest=False)
    )


# --------------------------------------------------------------------------- teardown
def test_teardown(clean: Any) -> None:
    lab = clean
    logging_on(lab)
    kb, ds = knowledge_base(lab, "fixed300", DEFAULT)
    gid, _ = guardrail(lab)
    args = (lab, "northpeak-vectors", LOG_GROUP, "northpeak-bedrock")
    got = verdict(c.verify_teardown, *args)
    assert "vector bucket" in got and "guardrail" in got and "invocation logging" in got
    agent, s3v = lab.client("bedrock-agent"), lab.client("s3vectors")
    agent.delete_data_source(knowledgeBaseId=kb, dataSourceId=ds)
    agent.delete_knowledge_base(knowledgeBaseId=kb)
    lab.client("bedrock").delete_guardrail(guardrailIdentifier=gid)
    # the vector bucket left behind: still a MISS
    lab.client("bedrock").delete_model_invocation_logging_configuration()
    lab.client("logs").delete_log_group(logGroupName=LOG_GROUP)
    lab.client("iam").delete_role(RoleName="northpeak-bedrock")
    assert "vector bucket northpeak-vectors" in verdict(c.verify_teardown, *args)
    for idx in s3v.list_indexes(vectorBucketName="northpeak-vectors")["indexes"]:
        s3v.delete_index(vectorBucketName="northpeak-vectors", indexName=idx["indexName"])
    s3v.delete_vector_bucket(vectorBucketName="northpeak-vectors")
    for g in lab.client("bedrock").list_guardrails()["guardrails"]:
        lab.client("bedrock").delete_guardrail(guardrailIdentifier=g["id"])
    got = verdict(c.verify_teardown, *args)
    assert got == "PASS", got


# --------------------------------------------------------------------------- exam angle
def test_exam_angle(lab: Any) -> None:
    assert (
        len(c.exam_angle(lab, {"05-vector-store": "B", "05-grounding": "C", "05-token-cost": "B"}))
        == 3
    )
    with pytest.raises(CheckFailed):
        c.exam_angle(lab, {"05-vector-store": "A", "05-grounding": "C", "05-token-cost": "B"})


# --------------------------------------------------------------------------- 11 evaluation
def eval_job(
    lab: Any, name: str, prompts: list[str], refs: list[str], *, judge: str | None = DEAR
) -> str:
    key = genai.write_jsonl(
        lab.client("s3"),
        lab.bucket,
        f"eval/{name}.jsonl",
        [{"prompt": p, "referenceResponse": r} for p, r in zip(prompts, refs, strict=True)],
    )
    automated: dict[str, Any] = {
        "datasetMetricConfigs": [
            {
                "taskType": "QuestionAndAnswer",
                "dataset": {"name": name, "datasetLocation": {"s3Uri": f"s3://{lab.bucket}/{key}"}},
                "metricNames": ["Builtin.Correctness", "Builtin.Completeness"]
                if judge
                else ["Builtin.Accuracy"],
            }
        ]
    }
    if judge:
        automated["evaluatorModelConfig"] = {"bedrockEvaluatorModels": [{"modelIdentifier": judge}]}
    br = lab.client("bedrock")
    arn = br.create_evaluation_job(
        jobName=f"northpeak-{name}",
        roleArn=role_arn(lab),
        applicationType="ModelEvaluation",
        evaluationConfig={"automated": automated},
        inferenceConfig={"models": [{"bedrockModel": {"modelIdentifier": CHEAP}}]},
        outputDataConfig={"s3Uri": f"s3://{lab.bucket}/eval/results/"},
    )["jobArn"]
    for _ in range(600):
        if br.get_evaluation_job(jobIdentifier=arn)["status"] != "InProgress":
            break
    return str(arn)


def test_evaluation(two_kbs: tuple[Any, dict[str, str]], questions: Any) -> None:
    lab, kbs = two_kbs
    rt = lab.client("bedrock-agent-runtime")
    test = questions.head(20)
    bare = list(test.question)
    contexts = [
        "\n".join(
            r["content"]["text"]
            for r in rt.retrieve(
                knowledgeBaseId=kbs["fixed40"],
                retrievalQuery={"text": q},
                retrievalConfiguration={"vectorSearchConfiguration": {"numberOfResults": 5}},
            )["retrievalResults"]
        )
        for q in bare
    ]
    rag = [f"Context:\n{c}\n\nQ: {q}" for c, q in zip(contexts, bare, strict=True)]
    refs = list(test.reference)
    scores = {"rag": {"rougeL": 0.5, "semantic": 0.7}, "bare": {"rougeL": 0.1, "semantic": 0.0}}
    jobs = {
        "rag": eval_job(lab, "rag", rag, refs, judge="us.anthropic.claude-3-haiku-20240307-v1:0"),
        "bare": eval_job(
            lab, "bare", bare, refs, judge="us.anthropic.claude-3-haiku-20240307-v1:0"
        ),
    }
    got = verdict(
        c.verify_evaluation, lab, jobs, scores, min_records=5
    )  # another judge, another RAG wording
    assert got == "PASS", got
    assert "one job 'rag'" in verdict(
        c.verify_evaluation, lab, {"rag": jobs["rag"]}, scores, min_records=5
    )
    no_context = {"rag": eval_job(lab, "rag2", bare, refs), "bare": jobs["bare"]}
    assert "holds the bare questions" in verdict(
        c.verify_evaluation, lab, no_context, scores, min_records=5
    )
    automatic = {"rag": eval_job(lab, "rag3", rag, refs, judge=None), "bare": jobs["bare"]}
    assert "no judge model" in verdict(c.verify_evaluation, lab, automatic, scores, min_records=5)
    flipped = {"rag": scores["bare"], "bare": scores["rag"]}
    assert "do not show RAG ahead" in verdict(
        c.verify_evaluation, lab, jobs, flipped, min_records=5
    )


def test_teardown_single_leftovers(lab: Any) -> None:
    args = (lab, "northpeak-vectors", LOG_GROUP, "northpeak-bedrock")
    alarm(lab)
    assert "alarm northpeak-latency" in verdict(c.verify_teardown, *args)
    lab.client("cloudwatch").delete_alarms(AlarmNames=["northpeak-latency"])
    pid, _ = prompt(lab, variant(TEMPLATE))
    assert "prompt northpeak-answer" in verdict(c.verify_teardown, *args)
    lab.client("bedrock-agent").delete_prompt(promptIdentifier=pid)
    assert verdict(c.verify_teardown, *args) == "PASS"


def test_chunk_pii_ignores_service_ids_but_not_document_text_or_metadata() -> None:
    """A chunk id whose digits read as a Luhn-valid card is not PII; a card in the chunk is."""
    from mllab.checks.genai import chunk_pii

    uuid_like_card = "97437841-1078-8181-b186-76b0dfbaa387"  # 16 digits, Luhn-valid
    clean = {
        "AMAZON_BEDROCK_TEXT": "The Summit tent carries a two-year warranty.",
        "x-amz-bedrock-kb-chunk-id": uuid_like_card,
        "x-amz-bedrock-kb-source-uri": "s3://bucket/docs/clean/tent.md",
        "product": "summit-tent",
    }
    assert chunk_pii(clean) == []
    in_text = dict(clean, AMAZON_BEDROCK_TEXT="Charge card 4111 1111 1111 1111 for the tent.")
    assert {k for k, _ in chunk_pii(in_text)} == {"CREDIT_DEBIT_CARD_NUMBER"}
    in_metadata = dict(clean, owner="ana.lopez@example.com")
    assert {k for k, _ in chunk_pii(in_metadata)} == {"EMAIL"}
