"""Services that launch on the account's behalf stay refused (fail closed); the refusal names
the reason and the alternative."""

from __future__ import annotations

from typing import Any

import pytest

from mllab.guard.errors import CostGuardError


@pytest.mark.parametrize(
    ("service", "call", "kwargs", "reason", "alternative"),
    [
        (
            "cloudformation", "create_stack", {"StackName": "s", "TemplateBody": "{}"},
            "creates whatever its template names", "their own (priced) API calls",
        ),
        (
            "stepfunctions", "create_state_machine",
            {"name": "m", "definition": "{}", "roleArn": "arn:aws:iam::123456789012:role/r"},
            "on the account's behalf", "SageMaker Pipeline",
        ),
        (
            "scheduler", "create_schedule",
            {"Name": "s", "ScheduleExpression": "rate(1 minute)",
             "FlexibleTimeWindow": {"Mode": "OFF"},
             "Target": {"Arn": "arn:aws:lambda:us-east-1:123456789012:function:f",
                        "RoleArn": "arn:aws:iam::123456789012:role/r"}},
            "even after the lab closes", "call the target once from the notebook",
        ),
        (
            "glue", "create_trigger",
            {"Name": "t", "Type": "SCHEDULED", "Schedule": "cron(0 * * * ? *)",
             "Actions": [{"JobName": "j"}]},
            "start jobs and crawlers on the account's behalf", "glue.start_job_run",
        ),
    ],
)  # fmt: skip
def test_refused_with_reason_and_alternative(
    lab: Any, service: str, call: str, kwargs: dict[str, Any], reason: str, alternative: str
) -> None:
    with pytest.raises(CostGuardError) as err:
        getattr(lab.client(service), call)(**kwargs)
    text = " ".join(str(err.value).split())
    assert reason in text and alternative in text, text
    assert "Nothing was sent" in text
