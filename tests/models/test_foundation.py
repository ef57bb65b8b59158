"""The stand-in foundation model: answers computed from the request, instructions followed, tools called."""

from __future__ import annotations

import json
import re
from typing import Any

import jsonschema
import pytest

from mllab.models import foundation, tokens
from mllab.models.foundation import CANNOT_ANSWER, ModelInputError, generate

MICRO = "amazon.nova-micro-v1:0"
PRO = "amazon.nova-pro-v1:0"

FACTS = [
    ("Tents carry a two year warranty.", "How long is the warranty on a tent?", "two year"),
    ("Sleeping bags are guaranteed for five years.", "How long are sleeping bags guaranteed?", "five years"),
    ("Returns are accepted within 30 days of purchase with a receipt.", "Within how many days can I return an item?", "30 days"),
    ("Our store in Lyon opens at 9 am on weekdays.", "When does the Lyon store open?", "9 am"),
    ("Shipping to Canada takes seven business days.", "How long does shipping to Canada take?", "seven business days"),
    ("Gift cards never expire and can be used online.", "Do gift cards expire?", "never expire"),
]  # fmt: skip
CONTEXT = " ".join(f for f, _, _ in FACTS)


def user(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": [{"text": text}]}]


def text_of(result: dict[str, Any]) -> str:
    return "".join(b.get("text", "") for b in result["output"]["message"]["content"])


def rag(question: str, context: str = CONTEXT) -> list[dict[str, Any]]:
    return user(
        f"Answer from the context.\n\n<context>\n{context}\n</context>\n\nQuestion: {question}"
    )


def test_rag_answers_with_the_passage_holding_the_fact_and_bare_prompt_cannot() -> None:
    rag_hits = bare_hits = 0
    for fact, question, key in FACTS:
        answer = text_of(generate(MICRO, rag(question)))
        assert answer == fact, (question, answer)
        rag_hits += key in answer
        bare = text_of(generate(MICRO, user(question)))
        assert bare == CANNOT_ANSWER
        bare_hits += key in bare
    print(f"\nRAG accuracy {rag_hits}/{len(FACTS)}, bare prompt {bare_hits}/{len(FACTS)}")
    assert rag_hits == len(FACTS) and bare_hits == 0


def test_irrelevant_context_gives_cannot_answer() -> None:
    context = "Photosynthesis converts light into chemical energy. Jazz musicians improvise."
    out = generate(MICRO, rag("How long is the warranty on a tent?", context))
    assert text_of(out) == CANNOT_ANSWER


def test_bad_chunking_measurably_hurts() -> None:
    words = CONTEXT.split()
    # fixed 4-word chunks, one per line, that cut facts apart from their subjects
    bad = "\n\n".join(" ".join(words[i : i + 4]) for i in range(0, len(words), 4))
    good_hits = bad_hits = 0
    for _, question, key in FACTS:
        good_hits += key in text_of(generate(MICRO, rag(question)))
        bad_hits += key in text_of(generate(MICRO, rag(question, bad)))
    print(f"\nsentence chunks {good_hits}/{len(FACTS)}, 4-word chunks {bad_hits}/{len(FACTS)}")
    assert bad_hits < good_hits


def test_conversation_and_system_prompt_are_context() -> None:
    msgs = [
        {"role": "user", "content": [{"text": "My order number is 4471 and it shipped to Porto."}]},
        {"role": "assistant", "content": [{"text": "Thanks, noted."}]},
        {"role": "user", "content": [{"text": "Where did my order ship to?"}]},
    ]
    assert "Porto" in text_of(generate(MICRO, msgs))
    system = [{"text": "You are a support agent. The support line is open from 8 am to 6 pm."}]
    out = text_of(generate(MICRO, user("When is the support line open?"), system=system))
    assert out == "The support line is open from 8 am to 6 pm."  # the instruction is not a fact


def test_quality_knob_bigger_model_combines_more_passages() -> None:
    q = "How long is the tent warranty and how long does shipping to Canada take?"
    micro = text_of(generate(MICRO, rag(q)))
    pro = text_of(generate(PRO, rag(q)))
    assert len(foundation.split_sentences(micro)) == 1
    assert "two year" in pro and "seven business days" in pro


def test_json_schema_in_the_prompt_is_followed() -> None:
    schema = {
        "type": "object",
        "properties": {"answer": {"type": "string"}, "years": {"type": "integer"},
                       "category": {"type": "string", "enum": ["camping", "shipping", "billing"]}},
        "required": ["answer", "years", "category"],
    }  # fmt: skip
    prompt = (
        f"<context>{CONTEXT}</context>\nQuestion: How long are sleeping bags guaranteed? "
        f"Respond only with JSON matching this schema: {json.dumps(schema)}"
    )
    out = json.loads(text_of(generate(MICRO, user(prompt))))
    jsonschema.validate(out, schema)
    assert out["years"] == 5 and "Sleeping bags" in out["answer"]
    # the enum value is computed from the answer, not fixed: shipping for a shipping question
    # a shipping question: the enum value follows the answer; "seven business days" is no
    # number of years, so a nullable ``years`` stays null and ``days`` takes the 7
    schema2 = json.loads(json.dumps(schema))
    schema2["properties"]["years"]["type"] = ["integer", "null"]
    schema2["properties"]["days"] = {"type": "integer"}
    prompt2 = (
        f"<context>{CONTEXT}</context>\nQuestion: How long does shipping to Canada take? "
        f"Respond only with JSON matching this schema: {json.dumps(schema2)}"
    )
    out2 = json.loads(text_of(generate(MICRO, user(prompt2))))
    jsonschema.validate(out2, schema2)
    assert out2["category"] == "shipping" and out2["years"] is None and out2["days"] == 7


def test_word_and_sentence_limits() -> None:
    q = "How long is the tent warranty and how long does shipping to Canada take?"
    out = text_of(generate(PRO, rag(q + " Answer in at most 6 words.")))
    assert len(out.split()) <= 6
    one = text_of(generate(PRO, rag(q + " Answer in one sentence.")))
    assert len(foundation.split_sentences(one)) == 1
    bullets = text_of(generate(PRO, rag(q + " Answer as a bulleted list.")))
    assert (
        all(line.startswith("- ") for line in bullets.splitlines())
        and len(bullets.splitlines()) >= 2
    )


def test_language_request_is_honest() -> None:
    out = text_of(generate(MICRO, rag("How long are sleeping bags guaranteed? Answer in French.")))
    assert out.startswith("I can only answer in English") and "five years" in out
    fr = CONTEXT + " Les sacs de couchage sont garantis pendant cinq ans."
    out_fr = text_of(
        generate(MICRO, rag("How long are sleeping bags guaranteed? Answer in French.", fr))
    )
    assert out_fr == "Les sacs de couchage sont garantis pendant cinq ans."


def test_max_tokens_cuts_at_that_many_tokens() -> None:
    full = generate(
        PRO, rag("How long is the tent warranty and how long does shipping to Canada take?")
    )
    assert full["stopReason"] == "end_turn"
    for n in (1, 5, 9):
        cut = generate(PRO, rag("How long is the tent warranty and how long does shipping to Canada take?"),
                       inference_config={"maxTokens": n})  # fmt: skip
        assert cut["stopReason"] == "max_tokens"
        assert cut["usage"]["outputTokens"] == tokens.count(text_of(cut)) <= n
        assert cut["usage"]["outputTokens"] >= n - 1
        assert text_of(full).startswith(text_of(cut))
    assert (
        full["usage"]["totalTokens"] == full["usage"]["inputTokens"] + full["usage"]["outputTokens"]
    )
    prompt = rag("How long is the tent warranty and how long does shipping to Canada take?")
    assert full["usage"]["inputTokens"] == tokens.count(prompt[0]["content"][0]["text"])


def test_stop_sequences() -> None:
    out = generate(
        MICRO,
        rag("How long is the warranty on a tent?"),
        inference_config={"stopSequences": ["year"]},
    )
    assert out["stopReason"] == "stop_sequence" and text_of(out) == "Tents carry a two "
    assert out["additionalModelResponseFields"] == {"stop_sequence": "year"}
    none = generate(
        MICRO,
        rag("How long is the warranty on a tent?"),
        inference_config={"stopSequences": ["zebra"]},
    )
    assert none["stopReason"] == "end_turn"


def test_temperature_changes_choice_seeded_and_reproducible() -> None:
    context = " ".join(f"Tent model T{i} carries a warranty of {i + 1} years." for i in range(6))
    msgs = rag("What warranty does a tent carry?", context)
    greedy = text_of(generate(MICRO, msgs, inference_config={"temperature": 0}))
    seen = set()
    for t in (0.2, 0.4, 0.6, 0.8, 1.0):
        a = text_of(generate(MICRO, msgs, inference_config={"temperature": t}))
        b = text_of(generate(MICRO, msgs, inference_config={"temperature": t}))
        assert a == b  # seeded by the request: reproducible
        seen.add(a)
    print(f"\ndistinct answers over 5 temperatures: {len(seen)}")
    assert len(seen) >= 2
    # topP tiny keeps only the best candidate: the greedy answer
    assert (
        text_of(generate(MICRO, msgs, inference_config={"temperature": 1.0, "topP": 0.01}))
        == greedy
    )


WEATHER = {"toolSpec": {"name": "get_weather", "description": "Get the current weather for a city",
           "inputSchema": {"json": {"type": "object", "properties": {
               "city": {"type": "string", "description": "the city"},
               "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}}, "required": ["city"]}}}}  # fmt: skip
HOTEL = {"toolSpec": {"name": "book_hotel", "description": "Book hotel rooms for a number of nights",
         "inputSchema": {"json": {"type": "object", "properties": {
             "city": {"type": "string", "description": "city of the hotel"},
             "nights": {"type": "integer"}, "rooms": {"type": "integer"},
             "guest_email": {"type": "string", "description": "email of the guest"}},
             "required": ["city", "nights", "rooms"]}}}}  # fmt: skip
TOOLS = {"tools": [WEATHER, HOTEL]}


def tool_use(result: dict[str, Any]) -> dict[str, Any] | None:
    return next(
        (b["toolUse"] for b in result["output"]["message"]["content"] if "toolUse" in b), None
    )


def test_tool_is_chosen_and_filled_from_the_conversation() -> None:
    out = generate(
        MICRO, user("What's the weather in Paris right now, in celsius?"), tool_config=TOOLS
    )
    use = tool_use(out)
    assert out["stopReason"] == "tool_use" and use is not None
    assert use["name"] == "get_weather" and use["input"] == {"city": "Paris", "unit": "celsius"}
    out = generate(
        MICRO,
        user("Please book 2 rooms in Lisbon for 3 nights, my email is ana@example.com"),
        tool_config=TOOLS,
    )
    use = tool_use(out)
    assert use is not None and use["name"] == "book_hotel"
    assert use["input"] == {
        "city": "Lisbon",
        "nights": 3,
        "rooms": 2,
        "guest_email": "ana@example.com",
    }
    jsonschema.validate(use["input"], HOTEL["toolSpec"]["inputSchema"]["json"])


def test_missing_required_field_makes_it_ask() -> None:
    out = generate(MICRO, user("Book a hotel for 3 nights please"), tool_config=TOOLS)
    assert tool_use(out) is None and out["stopReason"] == "end_turn"
    text = text_of(out)
    assert "book_hotel" in text and "city" in text and "rooms" in text and "nights" not in text


def test_tool_choice_auto_any_and_named() -> None:
    unrelated = user("Tell me a fun fact about owls.")
    assert tool_use(generate(MICRO, unrelated, tool_config=TOOLS)) is None
    forced = generate(
        MICRO, user("Paris weather?"), tool_config={**TOOLS, "toolChoice": {"any": {}}}
    )
    assert tool_use(forced) is not None
    named = generate(MICRO, user("What's it like in Rome today?"),
                     tool_config={**TOOLS, "toolChoice": {"tool": {"name": "get_weather"}}})  # fmt: skip
    use = tool_use(named)
    assert use is not None and use["name"] == "get_weather" and use["input"]["city"] == "Rome"


def test_answers_from_the_tool_result() -> None:
    msgs = user("What's the weather in Paris?") + [
        {"role": "assistant", "content": [{"toolUse": {"toolUseId": "t1", "name": "get_weather", "input": {"city": "Paris"}}}]},
        {"role": "user", "content": [{"toolResult": {"toolUseId": "t1", "content": [{"json": {"city": "Paris", "temperature_c": 14, "conditions": "light rain"}}]}}]},
    ]  # fmt: skip
    out = generate(MICRO, msgs, tool_config=TOOLS)
    assert tool_use(out) is None and out["stopReason"] == "end_turn"
    assert "14" in text_of(out) and "light rain" in text_of(out)
    other = json.loads(json.dumps(msgs))
    other[2]["content"][0]["toolResult"]["content"][0]["json"]["temperature_c"] = 31
    assert "31" in text_of(generate(MICRO, other, tool_config=TOOLS))


def test_summarize_picks_central_sentences() -> None:
    doc = ("Bedrock bills per token. Input tokens and output tokens have separate prices. "
           "Output tokens cost more than input tokens. My cat likes the sofa.")  # fmt: skip
    out = text_of(generate(PRO, user(f"Summarize the following text:\n\n{doc}")))
    assert "cat" not in out and "token" in out


@pytest.mark.parametrize(
    ("model", "kwargs", "message"),
    [
        (
            "amazon.titan-text-express-v1",
            {"system": [{"text": "Be brief."}]},
            "doesn't support system messages",
        ),
        ("meta.llama3-8b-instruct-v1:0", {"tool_config": TOOLS}, "doesn't support tool use"),
        (MICRO, {"inference_config": {"maxTokens": 20000}}, "exceeds the model limit of 10000"),
        ("amazon.titan-embed-text-v2:0", {}, "embedding model"),
        ("no.such-model", {}, "model identifier is invalid"),
    ],
)
def test_model_limits_in_bedrock_words(model: str, kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ModelInputError, match=re.escape(message)):
        generate(model, user("hi"), **kwargs)


def test_context_window_and_message_order() -> None:
    long = "word " * 9000
    with pytest.raises(ModelInputError, match="Input is too long for requested model"):
        generate("meta.llama3-8b-instruct-v1:0", user(long))
    assert generate(MICRO, user(long))["stopReason"] == "end_turn"  # 128k context
    with pytest.raises(ModelInputError, match="alternate"):
        generate(MICRO, user("a") + user("b"))
    image = [
        {
            "role": "user",
            "content": [
                {"text": "what is this?"},
                {"image": {"format": "png", "source": {"bytes": b"x"}}},
            ],
        }
    ]
    with pytest.raises(ModelInputError, match="image content block"):
        generate(MICRO, image)


def test_explain_shows_scores_and_choice() -> None:
    out = generate(MICRO, rag("How long is the warranty on a tent?"), explain=True)
    exp = out["explanation"]
    assert exp["chosen"] == ["Tents carry a two year warranty."]
    assert exp["scores"][0]["text"] == "Tents carry a two year warranty."
    assert exp["scores"][0]["score"] >= exp["threshold"] > exp["scores"][1]["score"]


def test_knowledge_base_search_results_format() -> None:
    results = "\n".join(
        f'<search_result index="{i}">\n{fact}\n</search_result>'
        for i, (fact, _, _) in enumerate(FACTS, 1)
    )
    prompt = (
        "You are a question answering agent. Answer only from the search results.\n\n"
        f"Here are the search results in numbered order:\n{results}\n\nQuestion: Do gift cards expire?"
    )
    out = generate(MICRO, user(prompt), explain=True)
    assert text_of(out) == "Gift cards never expire and can be used online."
    assert all("<" not in p["text"] for p in out["explanation"]["scores"])


TICKET = {"toolSpec": {"name": "create_ticket", "description": "Create a support ticket with a title and a priority",
          "inputSchema": {"json": {"type": "object", "properties": {
              "title": {"type": "string", "description": "short title of the ticket"},
              "priority": {"type": "string", "enum": ["low", "medium", "high"]},
              "due": {"type": "string", "description": "due date"}}, "required": ["title", "priority"]}}}}  # fmt: skip


def test_quoted_strings_dates_and_a_follow_up_turn_fill_the_input() -> None:
    tools = {"tools": [TICKET, HOTEL]}
    out = generate(MICRO, user('Please create a ticket titled "Printer on fire" with high priority, due 2026-12-24.'),
                   tool_config=tools)  # fmt: skip
    assert tool_use(out) == {"toolUseId": tool_use(out)["toolUseId"], "name": "create_ticket",  # type: ignore[index]
                             "input": {"title": "Printer on fire", "priority": "high", "due": "2026-12-24"}}  # fmt: skip
    first = generate(MICRO, user("Book a hotel for 3 nights please"), tool_config=tools)
    assert tool_use(first) is None
    follow = (
        user("Book a hotel for 3 nights please")
        + [first["output"]["message"]]
        + user("In Lisbon, 2 rooms.")
    )
    use = tool_use(generate(MICRO, follow, tool_config=tools))
    assert use is not None and use["name"] == "book_hotel"
    assert use["input"] == {"city": "Lisbon", "nights": 3, "rooms": 2}
