"""strands-agents' BedrockModel and LangChain's ChatBedrockConverse run unchanged on offline Converse."""

from __future__ import annotations

from typing import Any

CALLS: list[str] = []


def test_strands_agent_calls_a_tool_and_answers_from_its_result(lab: Any) -> None:
    from strands import Agent, tool
    from strands.models import BedrockModel

    @tool
    def get_order_status(order_id: str) -> str:
        """Look up the shipping status of an order by its order id."""
        CALLS.append(order_id)
        return f"Order {order_id} shipped on 2026-11-30 and arrives on 2026-12-04."

    model = BedrockModel(model_id="us.amazon.nova-micro-v1:0", boto_session=lab.session)
    agent = Agent(model=model, tools=[get_order_status], callback_handler=None)
    result = agent("What is the status of order ORD-1234?")
    assert CALLS == ["ORD-1234"]  # the stand-in chose the tool and filled its input
    assert result.stop_reason == "end_turn"
    assert "arrives on 2026-12-04" in str(result)
    uses = [b["toolUse"] for m in agent.messages for b in m["content"] if "toolUse" in b]
    assert uses[0]["name"] == "get_order_status" and uses[0]["input"] == {"order_id": "ORD-1234"}
    # streaming off: strands calls Converse instead of ConverseStream
    plain = Agent(model=BedrockModel(model_id="us.amazon.nova-micro-v1:0", boto_session=lab.session,
                                     streaming=False), callback_handler=None)  # fmt: skip
    answer = plain("Context: The museum opens at 10 am.\n\nWhen does the museum open?")
    assert str(answer).strip() == "The museum opens at 10 am."


def test_langchain_invoke_stream_and_bind_tools(lab: Any) -> None:
    from langchain_aws import ChatBedrockConverse
    from langchain_core.tools import tool

    client = lab.client("bedrock-runtime")
    llm = ChatBedrockConverse(model="us.amazon.nova-micro-v1:0", client=client)
    msg = llm.invoke(
        [
            ("system", "Tents carry a two year warranty."),
            ("human", "How long is the tent warranty?"),
        ]
    )
    assert msg.content == "Tents carry a two year warranty."
    assert msg.usage_metadata and msg.usage_metadata["input_tokens"] > 0
    streamed = "".join(
        "".join(p.get("text", "") for p in c.content) if isinstance(c.content, list) else c.content
        for c in llm.stream([("system", "Tents carry a two year warranty."), ("human", "How long is the tent warranty?")])
    )  # fmt: skip
    assert streamed == "Tents carry a two year warranty."

    @tool
    def get_weather(city: str) -> str:
        """Get the current weather for a city."""
        return "sunny"

    call = llm.bind_tools([get_weather]).invoke("What's the weather in Paris?")
    assert call.tool_calls[0]["name"] == "get_weather" and call.tool_calls[0]["args"] == {
        "city": "Paris"
    }
