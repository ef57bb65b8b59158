"""Offline Bedrock Prompt Management through boto3, and resolve() for Converse with a prompt ARN."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from mllab.offline.bedrock import prompts
from mllab.offline.registry import AwsError

MODEL = "amazon.nova-micro-v1:0"


def _chat_variant(system: str = "You answer for {{company}}.", **extra: Any) -> dict[str, Any]:
    return {
        "name": "main",
        "templateType": "CHAT",
        "modelId": MODEL,
        "templateConfiguration": {
            "chat": {
                "system": [{"text": system}],
                "messages": [{"role": "user", "content": [{"text": "Question: {{question}}"}]}],
                "inputVariables": [{"name": "company"}, {"name": "question"}],
                **extra,
            }
        },
        "inferenceConfiguration": {"text": {"maxTokens": 256, "temperature": 0.2, "topP": 0.9}},
    }


def _text_variant(text: str = "Summarise for {{audience}}: {{document}}") -> dict[str, Any]:
    names = [{"name": n} for n in ("audience", "document") if "{{" + n + "}}" in text]
    return {
        "name": "main",
        "templateType": "TEXT",
        "modelId": MODEL,
        "templateConfiguration": {"text": {"text": text, "inputVariables": names}},
        "inferenceConfiguration": {"text": {"maxTokens": 100, "stopSequences": ["END"]}},
    }


def test_create_version_get_list_delete(lab: Any) -> None:
    ag = lab.client("bedrock-agent")
    made = ag.create_prompt(
        name="support-answer",
        defaultVariant="main",
        variants=[_chat_variant()],
        tags={"team": "ml"},
    )
    assert made["version"] == "DRAFT" and len(made["id"]) == 10
    assert made["arn"] == f"arn:aws:bedrock:{lab.region}:{lab.account_id}:prompt/{made['id']}"
    v1 = ag.create_prompt_version(promptIdentifier=made["arn"], description="launch")
    assert v1["version"] == "1" and v1["arn"] == made["arn"] + ":1"

    ag.update_prompt(
        promptIdentifier=made["id"],
        name="support-answer",
        defaultVariant="main",
        variants=[_chat_variant("You are terse. You answer for {{company}}.")],
    )
    draft = ag.get_prompt(promptIdentifier=made["id"])
    first = ag.get_prompt(promptIdentifier=made["id"], promptVersion="1")
    system = lambda p: p["variants"][0]["templateConfiguration"]["chat"]["system"][0]["text"]  # noqa: E731
    assert system(draft).startswith("You are terse.")
    assert system(first) == "You answer for {{company}}."
    assert first["description"] == "launch" and first["version"] == "1"

    summaries = ag.list_prompts(promptIdentifier=made["id"])["promptSummaries"]
    assert [s["version"] for s in summaries] == ["DRAFT", "1"]
    assert [s["name"] for s in ag.list_prompts()["promptSummaries"]] == ["support-answer"]
    tags = ag.list_tags_for_resource(resourceArn=made["arn"])["tags"]
    assert tags["team"] == "ml"  # the learner's tag is kept beside the run's
    assert tags["mllab:lab"] == lab.guard.lab and tags["mllab:run"] == lab.guard.run

    assert ag.delete_prompt(promptIdentifier=made["id"], promptVersion="1")["version"] == "1"
    with pytest.raises(ClientError) as err:
        ag.get_prompt(promptIdentifier=made["id"], promptVersion="1")
    assert err.value.response["Error"]["Code"] == "ResourceNotFoundException"
    ag.delete_prompt(promptIdentifier=made["id"])
    assert ag.list_prompts()["promptSummaries"] == []


def test_versions_are_immutable_and_numbered(lab: Any) -> None:
    ag = lab.client("bedrock-agent")
    made = ag.create_prompt(name="p", variants=[_text_variant()])
    for n in ("1", "2"):
        assert ag.create_prompt_version(promptIdentifier=made["id"])["version"] == n
    with pytest.raises(ClientError) as err:
        ag.update_prompt(
            promptIdentifier=made["arn"] + ":1",
            name="p",
            variants=[_text_variant("Hi {{audience}}")],
        )
    assert err.value.response["Error"]["Code"] == "ValidationException"
    assert "immutable" in err.value.response["Error"]["Message"]


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        (
            {"variants": [_text_variant(), {**_text_variant(), "name": "other"}]},
            "at most 1 variant",
        ),
        ({"variants": [_text_variant()], "defaultVariant": "nope"}, "defaultVariant"),
        (
            {
                "variants": [
                    {**_text_variant(), "templateConfiguration": {"text": {"text": "Hi {{who}}"}}}
                ]
            },
            "inputVariables",
        ),
        (
            {"variants": [{**_chat_variant(), "templateType": "TEXT"}]},
            "must contain 'text'",
        ),
    ],
)
def test_invalid_prompts_are_refused(lab: Any, kwargs: dict[str, Any], words: str) -> None:
    with pytest.raises(ClientError) as err:
        lab.client("bedrock-agent").create_prompt(name="bad", **kwargs)
    assert err.value.response["Error"]["Code"] == "ValidationException"
    assert words in err.value.response["Error"]["Message"]


def test_duplicate_prompt_name_conflicts(lab: Any) -> None:
    ag = lab.client("bedrock-agent")
    ag.create_prompt(name="same", variants=[_text_variant()])
    with pytest.raises(ClientError) as err:
        ag.create_prompt(name="same", variants=[_text_variant()])
    assert err.value.response["Error"]["Code"] == "ConflictException"


def test_resolve_chat_prompt_fills_variables_and_carries_config(lab: Any) -> None:
    tool = {
        "tools": [
            {
                "toolSpec": {
                    "name": "lookup_order",
                    "description": "Look up an order",
                    "inputSchema": {"json": {"type": "object"}},
                }
            }
        ]
    }
    ag = lab.client("bedrock-agent")
    made = ag.create_prompt(
        name="chat", defaultVariant="main", variants=[_chat_variant(toolConfiguration=tool)]
    )
    ag.create_prompt_version(promptIdentifier=made["id"])
    out = prompts.resolve(
        lab.account_id,
        lab.region,
        made["arn"] + ":1",
        {"company": {"text": "Northpeak"}, "question": {"text": "Can I return boots?"}},
    )
    assert out["modelId"] == MODEL
    assert out["system"] == [{"text": "You answer for Northpeak."}]
    assert out["messages"] == [
        {"role": "user", "content": [{"text": "Question: Can I return boots?"}]}
    ]
    assert out["inferenceConfig"] == {"maxTokens": 256, "temperature": 0.2, "topP": 0.9}
    assert out["toolConfig"] == tool


def test_resolve_text_prompt_and_draft_without_version(lab: Any) -> None:
    ag = lab.client("bedrock-agent")
    made = ag.create_prompt(name="text", variants=[_text_variant()])
    ag.create_prompt_version(promptIdentifier=made["id"])
    ag.update_prompt(
        promptIdentifier=made["id"],
        name="text",
        variants=[_text_variant("For {{audience}} only: {{document}}")],
    )
    values = {"audience": {"text": "managers"}, "document": {"text": "Q3 sales rose."}}
    draft = prompts.resolve(lab.account_id, lab.region, made["arn"], values)
    v1 = prompts.resolve(lab.account_id, lab.region, made["arn"] + ":1", values)
    assert draft["messages"][0]["content"][0]["text"] == "For managers only: Q3 sales rose."
    assert v1["messages"][0]["content"][0]["text"] == "Summarise for managers: Q3 sales rose."
    assert v1["system"] is None and v1["toolConfig"] is None
    assert v1["inferenceConfig"] == {"maxTokens": 100, "stopSequences": ["END"]}


def test_resolve_errors_name_the_problem(lab: Any) -> None:
    ag = lab.client("bedrock-agent")
    made = ag.create_prompt(name="errs", variants=[_text_variant()])
    with pytest.raises(AwsError) as err:
        prompts.resolve(lab.account_id, lab.region, made["arn"], {"audience": {"text": "x"}})
    assert err.value.code == "ValidationException" and "document" in err.value.message
    with pytest.raises(AwsError) as err:
        prompts.resolve(lab.account_id, lab.region, made["arn"] + ":4", {})
    assert err.value.code == "ResourceNotFoundException"
    missing = f"arn:aws:bedrock:{lab.region}:{lab.account_id}:prompt/ABCDEFGHIJ"
    with pytest.raises(AwsError) as err:
        prompts.resolve(lab.account_id, lab.region, missing, {})
    assert err.value.code == "ResourceNotFoundException"
    nomodel = ag.create_prompt(
        name="nomodel", variants=[{k: v for k, v in _text_variant().items() if k != "modelId"}]
    )
    with pytest.raises(AwsError) as err:
        prompts.resolve(
            lab.account_id,
            lab.region,
            nomodel["arn"],
            {"audience": {"text": "a"}, "document": {"text": "b"}},
        )
    assert "modelId" in err.value.message


def test_converse_restrictions_with_a_prompt_arn() -> None:
    assert prompts.is_prompt_arn("arn:aws:bedrock:us-east-1:123456789012:prompt/ABCDEFGHIJ:3")
    assert prompts.is_prompt_arn("arn:aws:bedrock:us-east-1:123456789012:prompt/ABCDEFGHIJ")
    assert not prompts.is_prompt_arn(MODEL)
    prompts.check_converse_request({"modelId": "x", "messages": [], "promptVariables": {}})
    with pytest.raises(AwsError) as err:
        prompts.check_converse_request(
            {"modelId": "x", "system": [{"text": "s"}], "inferenceConfig": {"maxTokens": 5}}
        )
    assert "system" in err.value.message and "inferenceConfig" in err.value.message


def test_prompt_deleter_finds_and_deletes(lab: Any) -> None:
    from mllab.guard import admission

    ag = lab.client("bedrock-agent")
    ag.create_prompt(name="to-sweep", variants=[_text_variant()])
    deleter = admission.DELETERS["bedrock-prompt"]
    found = dict(deleter.find(lab.session, lab.region))  # type: ignore[misc]
    # the guard tagged it (sweep finds a run's prompts by these tags)
    assert found["to-sweep"]["mllab:lab"] == lab.guard.lab
    assert found["to-sweep"]["mllab:run"] == lab.guard.run
    assert deleter.delete(lab.session, lab.region, "to-sweep") == "deleted"
    assert deleter.delete(lab.session, lab.region, "to-sweep") is None
    assert ag.list_prompts()["promptSummaries"] == []
    for op in ("CreatePrompt", "UpdatePrompt", "CreatePromptVersion", "DeletePrompt"):
        assert admission.classify("bedrock-agent", op).kind == "free"  # type: ignore[union-attr]
