"""The moto patch that runs project handlers on lambda:invoke (private moto API: pinned and covered)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from analystack.aws import client

pytestmark = pytest.mark.functional


class AgentUnavailableError(Exception):
    pass


def test_invoke_runs_the_registered_handler(cloud: Any) -> None:
    seen: list[Any] = []

    def handler(event: Any, context: Any) -> dict[str, Any]:
        seen.append((event, context.function_name, context.get_remaining_time_in_millis() > 0))
        return {"answer": event["question"] * 2}

    cloud.registry.override("analystack-ingestion", handler)
    response = client("lambda").invoke(
        FunctionName="analystack-ingestion", Payload=json.dumps({"question": 21})
    )
    assert json.loads(response["Payload"].read()) == {"answer": 42}
    assert "FunctionError" not in response
    assert seen == [({"question": 21}, "analystack-ingestion", True)]


def test_exceptions_become_lambda_function_errors_with_the_error_type(cloud: Any) -> None:
    def handler(event: Any, context: Any) -> None:
        raise AgentUnavailableError("downstream is down")

    cloud.registry.override("analystack-quality", handler)
    response = client("lambda").invoke(
        FunctionName=cloud.stack.functions["QualityFunction"].arn, Payload=b"{}"
    )
    assert response["FunctionError"] == "Unhandled"
    assert json.loads(response["Payload"].read()) == {
        "errorType": "AgentUnavailableError",
        "errorMessage": "downstream is down",
    }


def test_unknown_functions_are_refused_by_moto(cloud: Any) -> None:
    lam = client("lambda")
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.invoke(FunctionName="analystack-nonexistent", Payload=b"{}")
