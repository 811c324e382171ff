"""Each agent through its real Lambda handler: API Gateway v2 events and Step Functions direct invokes."""

from __future__ import annotations

import importlib
import json
from typing import Any

import pytest

from analystack.errors import AgentTaskFailedError, InvalidInputError
from analystack.models import Producer
from analystack.runtime import data_hub

pytestmark = pytest.mark.functional

AGENTS = {
    "ingestion": ("functions.ingestion.handler", {"ingest"}),
    "quality": ("functions.quality.handler", {"assess_quality", "clean_data"}),
    "orchestrator": (
        "orchestrator.handler",
        {"analyze", "plan", "finalize", "replan", "ask", "relay", "refresh_agents"},
    ),
}


def _handler(agent: str) -> Any:
    return importlib.import_module(AGENTS[agent][0]).handler


def _event_for(
    load_event: Any, agent: str, template: str, body: dict[str, Any] | None = None
) -> dict[str, Any]:
    event = load_event(template)
    for key in ("rawPath",):
        event[key] = (
            event[key].replace("/a2a/ingestion", f"/a2a/{agent}").replace("/a2a/quality", f"/a2a/{agent}")
        )
    event["requestContext"]["http"]["path"] = event["rawPath"]
    if body is not None:
        event["body"] = json.dumps(body)
    return event


@pytest.mark.parametrize("agent", sorted(AGENTS))
def test_agent_card_through_api_gateway(cloud: Any, agent: str, load_event: Any, lambda_context: Any) -> None:
    response = _handler(agent)(
        _event_for(load_event, agent, "apigw_v2_agent_card.json"), lambda_context(agent)
    )
    assert response["statusCode"] == 200
    card = json.loads(response["body"])
    assert card["name"] == agent
    assert {s["id"] for s in card["skills"]} == AGENTS[agent][1]
    assert all(s["tags"] for s in card["skills"])
    interfaces = {i["protocolBinding"]: i for i in card["supportedInterfaces"]}
    assert interfaces["JSONRPC"]["protocolVersion"] == "1.0"
    assert interfaces["JSONRPC"]["url"].startswith(cloud.agent_url(agent))
    assert card["capabilities"].get("streaming", False) is False  # Lambda buffers responses


def _send(skill: str, inputs: dict[str, str], *, job_id: str | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {"skill": skill, "inputs": inputs}
    if job_id:
        data["job_id"] = job_id
    return {
        "jsonrpc": "2.0",
        "id": "1",
        "method": "SendMessage",
        "params": {"message": {"messageId": "m-1", "role": "ROLE_USER", "parts": [{"data": data}]}},
    }


def test_ingest_then_assess_quality_through_api_gateway_events(
    cloud: Any, load_event: Any, lambda_context: Any
) -> None:
    hub = data_hub()
    csv = b"region;revenue;units\nSeoul;10.5;1\nBusan;20.25;2\nSeoul;;3\nDaegu;9000;4\n"
    upload = hub.put_upload(
        job_id="job-f",
        filename="sales.csv",
        body=csv,
        media_type="text/csv",
        producer=Producer(agent="gateway", job_id="job-f"),
    )
    event = _event_for(
        load_event,
        "ingestion",
        "apigw_v2_send_message.json",
        _send(
            "ingest",
            {"source_uri": upload.s3_uri, "filename": "sales.csv", "upload_id": upload.item_id},
            job_id="job-f",
        ),
    )
    response = _handler("ingestion")(event, lambda_context("ingestion"))
    assert response["statusCode"] == 200, response["body"]
    task = json.loads(response["body"])["result"]["task"]
    assert task["status"]["state"] == "TASK_STATE_COMPLETED"
    outputs = task["artifacts"][0]["parts"][0]["data"]["outputs"]
    assert outputs["rows"] == "4"
    assert outputs["columns"] == "3"
    dataset = hub.get_item(outputs["dataset_id"])
    assert dataset.parents == [upload.item_id]
    assert dataset.metadata["delimiter"] == ";"

    quality_event = load_event("apigw_v2_send_message.json")
    quality_event["body"] = quality_event["body"].replace("DATASET_ID", outputs["dataset_id"])
    response = _handler("quality")(quality_event, lambda_context("quality"))
    task = json.loads(response["body"])["result"]["task"]
    assert task["status"]["state"] == "TASK_STATE_COMPLETED", task["status"]
    quality = task["artifacts"][0]["parts"][0]["data"]["outputs"]
    report = json.loads(hub.read_bytes(hub.get_item(quality["report_id"]).s3_uri))
    assert report["rows"] == 4
    assert hub.get_item(quality["report_id"]).parents == [outputs["dataset_id"]]


def test_direct_invoke_returns_compact_result_and_raises_on_failure(
    cloud: Any, load_event: Any, lambda_context: Any
) -> None:
    handler = _handler("ingestion")
    hub = data_hub()
    upload = hub.put_upload(
        job_id="job-d",
        filename="t.json",
        body=b'[{"a": 1, "b": "x"}, {"a": 2, "b": "y"}]',
        media_type="application/json",
        producer=Producer(agent="gateway"),
    )
    result = handler(
        {"a2a": _send("ingest", {"source_uri": upload.s3_uri, "filename": "t.json"})},
        lambda_context("ingestion"),
    )
    assert result["state"] == "TASK_STATE_COMPLETED"
    assert result["outputs"]["rows"] == "2"
    assert result["artifacts"][0]["item_id"] == result["outputs"]["dataset_id"]

    png = hub.put_upload(
        job_id="job-d",
        filename="photo.csv",
        body=b"\x89PNG\r\n\x1a\n" + b"\x00" * 64,
        media_type="text/csv",
        producer=Producer(agent="gateway"),
    )
    with pytest.raises(AgentTaskFailedError) as failure:
        handler(
            {"a2a": _send("ingest", {"source_uri": png.s3_uri, "filename": "photo.csv"})},
            lambda_context("ingestion"),
        )
    assert "PNG" in failure.value.message or "png" in failure.value.message.lower()
    assert "Traceback" not in failure.value.message

    with pytest.raises(AgentTaskFailedError, match="Unknown skill 'explode'"):
        handler({"a2a": _send("explode", {})}, lambda_context("ingestion"))
    with pytest.raises(AgentTaskFailedError, match="Input 'source_uri' is required"):
        handler({"a2a": _send("ingest", {})}, lambda_context("ingestion"))
    with pytest.raises(InvalidInputError):
        handler({"a2a": {"method": "ListTasks"}}, lambda_context("ingestion"))


def test_a2a_version_header_is_required(cloud: Any, load_event: Any, lambda_context: Any) -> None:
    event = _event_for(load_event, "quality", "apigw_v2_send_message.json")
    del event["headers"]["a2a-version"]
    response = _handler("quality")(event, lambda_context("quality"))
    assert json.loads(response["body"])["error"]["code"] == -32009
