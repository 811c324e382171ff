"""The A2A kit in-process: executor, app factory and Lambda handler (no sockets, no AWS)."""

from __future__ import annotations

import json
import threading
from typing import Any

import httpx
import pytest
from a2a.server.tasks import InMemoryTaskStore

from analystack.a2a_kit import (
    ProgressReporter,
    SkillExecutor,
    SkillRequest,
    SkillResult,
    SkillSpec,
    build_agent_card,
    create_agent_app,
    make_lambda_handler,
)
from analystack.errors import AgentTaskFailedError, InvalidInputError, UnknownColumnError
from analystack.localcloud.dispatch import LambdaContext
from analystack.models import ProgressEvent

pytestmark = [pytest.mark.unit, pytest.mark.anyio]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class RecordingSink:
    def __init__(self) -> None:
        self.events: list[tuple[str, ProgressEvent]] = []

    def append(self, job_id: str, event: ProgressEvent) -> ProgressEvent:
        self.events.append((job_id, event))
        return event


def double(request: SkillRequest, report: ProgressReporter) -> SkillResult:
    value = int(request.require("value"))
    report(50, f"doubling {value}", stage="computing")
    return SkillResult(outputs={"result": str(value * 2)}, summary=f"{value} doubled")


def leaky(request: SkillRequest, report: ProgressReporter) -> SkillResult:
    raise RuntimeError("password=hunter2 at /srv/secret/config.py")


def typed(request: SkillRequest, report: ProgressReporter) -> SkillResult:
    raise UnknownColumnError("Column 'prce' does not exist; did you mean 'price'?")


def _app(sink: RecordingSink, skills: dict[str, Any] | None = None) -> Any:
    card = build_agent_card(
        name="calc",
        description="test agent",
        skills=[SkillSpec(id="double", name="Double", description="doubles")],
        base_url="http://calc.test",
    )
    executor = SkillExecutor(
        agent="calc", skills=skills or {"double": double, "leaky": leaky, "typed": typed}, progress_sink=sink
    )
    return create_agent_app(card=card, executor=executor, task_store=InMemoryTaskStore())


def _rpc(data: dict[str, Any] | None = None, text: str | None = None) -> dict[str, Any]:
    parts: list[dict[str, Any]] = []
    if data is not None:
        parts.append({"data": data})
    if text is not None:
        parts.append({"text": text})
    return {
        "jsonrpc": "2.0",
        "id": "1",
        "method": "SendMessage",
        "params": {"message": {"messageId": "m1", "role": "ROLE_USER", "parts": parts}},
    }


async def _send(app: Any, payload: dict[str, Any]) -> dict[str, Any]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://calc.test") as http:
        response = await http.post("/", json=payload, headers={"A2A-Version": "1.0"})
    return dict(response.json())


async def test_skill_runs_and_publishes_outputs_and_progress() -> None:
    sink = RecordingSink()
    body = await _send(
        _app(sink), _rpc({"skill": "double", "job_id": "job-1", "step_id": "s1", "inputs": {"value": "21"}})
    )
    task = body["result"]["task"]
    assert task["status"]["state"] == "TASK_STATE_COMPLETED"
    assert task["status"]["message"]["parts"][0]["text"] == "21 doubled"
    artifact = task["artifacts"][0]
    assert artifact["name"] == "outputs"
    assert artifact["parts"][0]["data"]["outputs"] == {"result": "42"}
    stages = [(e.stage, e.progress, e.step_id) for _, e in sink.events]
    assert stages == [("started", 0, "s1"), ("computing", 50, "s1"), ("finished", 100, "s1")]
    assert {job for job, _ in sink.events} == {"job-1"}


class GatedSink(RecordingSink):
    """An event log that stores nothing until the skill says so (a slow DynamoDB)."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()

    def append(self, job_id: str, event: ProgressEvent) -> ProgressEvent:
        if not self.gate.wait(timeout=10):
            raise TimeoutError("the gate never opened")
        return super().append(job_id, event)


async def test_reporting_does_not_wait_for_the_event_log_yet_every_event_is_stored_in_order() -> None:
    sink = GatedSink()
    stored_while_running: list[int] = []

    def busy(request: SkillRequest, report: ProgressReporter) -> SkillResult:
        for percent in (20, 40, 60):
            report(percent, f"step {percent}", stage=f"stage-{percent}")  # returns before it is stored
        stored_while_running.append(len(sink.events))
        sink.gate.set()
        return SkillResult(outputs={}, summary="busy done")

    app = _app(sink, {"busy": busy})
    task = (await _send(app, _rpc({"skill": "busy", "job_id": "job-1"})))["result"]["task"]
    assert task["status"]["state"] == "TASK_STATE_COMPLETED"
    assert stored_while_running == [0]  # the skill never waited for a write
    assert [e.message for _, e in sink.events] == [
        "busy started",
        "step 20",
        "step 40",
        "step 60",
        "busy done",
    ]


async def test_crashes_are_sanitised_and_typed_errors_pass_through() -> None:
    sink = RecordingSink()
    app = _app(sink)
    crashed = (await _send(app, _rpc({"skill": "leaky", "job_id": "j"})))["result"]["task"]
    assert crashed["status"]["state"] == "TASK_STATE_FAILED"
    text = json.dumps(crashed)
    assert "hunter2" not in text
    assert "/srv/secret" not in text
    assert "Internal error in agent 'calc' (reference " in crashed["status"]["message"]["parts"][0]["text"]
    assert sink.events[-1][1].level == "error"

    typed_failure = (await _send(app, _rpc({"skill": "typed"})))["result"]["task"]
    parts = typed_failure["status"]["message"]["parts"]
    assert parts[0]["text"] == "Column 'prce' does not exist; did you mean 'price'?"
    assert parts[1]["data"]["error"]["code"] == "unknown_column"


async def test_text_only_messages_use_the_default_skill_and_bad_data_is_refused() -> None:
    app = _app(RecordingSink())
    missing = (await _send(app, _rpc(text="double it")))["result"]["task"]
    assert missing["status"]["message"]["parts"][0]["text"] == "Input 'value' is required for skill 'double'"
    malformed = (await _send(app, _rpc({"skill": "double", "inputs": "not-an-object"})))["result"]["task"]
    assert malformed["status"]["message"]["parts"][0]["text"] == "Malformed request data (fields: inputs)"
    unknown = (await _send(app, _rpc({"skill": "divide"})))["result"]["task"]
    assert "Unknown skill 'divide'" in unknown["status"]["message"]["parts"][0]["text"]


async def test_card_and_health_routes() -> None:
    transport = httpx.ASGITransport(app=_app(RecordingSink()))
    async with httpx.AsyncClient(transport=transport, base_url="http://calc.test") as http:
        card = (await http.get("/.well-known/agent-card.json")).json()
        health = (await http.get("/health")).json()
    assert card["supportedInterfaces"][0] == {
        "url": "http://calc.test/",
        "protocolBinding": "JSONRPC",
        "protocolVersion": "1.0",
    }
    assert card["skills"][0]["tags"] == ["double"]
    assert health == {"status": "ok", "agent": "calc", "version": "0.1.0", "skills": ["double"]}


def _context() -> LambdaContext:
    return LambdaContext(
        function_name="calc", invoked_function_arn="arn:aws:lambda:us-east-1:1:function:calc"
    )


def test_lambda_handler_direct_invoke_and_failures() -> None:
    handler = make_lambda_handler(_app(RecordingSink()), api_gateway_base_path="/a2a/calc")
    result = handler({"a2a": _rpc({"skill": "double", "inputs": {"value": "5"}})}, _context())
    assert result["state"] == "TASK_STATE_COMPLETED"
    assert result["outputs"] == {"result": "10"}
    assert result["summary"] == "5 doubled"
    with pytest.raises(AgentTaskFailedError, match="did you mean 'price'"):
        handler({"a2a": _rpc({"skill": "typed"})}, _context())
    with pytest.raises(InvalidInputError):
        handler({"a2a": {"method": "GetTask"}}, _context())


class _QuietUpdater:
    """The one TaskUpdater call a reporter makes."""

    async def update_status(self, *args: Any, **kwargs: Any) -> None:
        return None


async def test_a_skill_reporting_after_its_task_ended_does_not_crash() -> None:
    import asyncio

    from analystack.a2a_kit.executor import _Reporter

    sink = RecordingSink()
    request = SkillRequest(skill="busy", job_id="job-1")
    updater: Any = _QuietUpdater()
    reporter = _Reporter("calc", request, updater, asyncio.get_running_loop(), sink)
    reporter(10, "before", stage="s")
    await reporter.drain()
    reporter.close()  # a cancelled task: its skill's thread runs on and still reports
    reporter(50, "after", stage="t")
    await reporter.drain()
    assert [e.message for _, e in sink.events] == ["before"]
