"""Adaptive execution on the full local cloud: replan on a missing target (asking the user, or the
LLM deciding, or the best guess after a timeout), failover when an agent is down, and a follow-up
turn in the same session that reuses the earlier dataset and target.

The orchestrator function is the real one, built by ``build_orchestrator_service`` with this
test's LLM (a scripted OpenAI-compatible server on loopback) and clarification timeout, and put
in place of the deployed orchestrator's code through the local cloud's handler registry.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
from support.openai_stub import OpenAIStub

from analystack.aws import client
from analystack.errors import AgentUnavailableError
from analystack.jobs import EVENT_SETTLE_S
from orchestrator.discovery import fetch_agent_skills
from orchestrator.llm import LlmClient
from orchestrator.planner import DataSource, plan_request
from orchestrator.routing import AgentRoute

pytestmark = pytest.mark.integration

TERMINAL = {"succeeded", "failed"}
SAMPLE_FACT = "sample.row.1"  # the narration's fact id of the first sample row
NO_TARGET_REQUEST = "build a prediction model for this data"


def _csv(rows: int = 240, *, absurd_value: bool = False) -> bytes:
    """No column has a conventional target name, so the AutoML agent cannot pick one safely."""
    rng = np.random.default_rng(11)
    visits = rng.integers(10, 200, rows)
    discount = rng.uniform(0, 0.3, rows).round(3)
    units = (visits * 0.4 + discount * 60 + rng.normal(0, 2, rows)).round(1)
    if absurd_value:
        discount[5] = 0.95  # a typo (95 % off) for the follow-up's outlier treatment
    frame = pd.DataFrame(
        {
            "region": rng.choice(["east", "west", "north"], rows),
            "visits": visits,
            "discount": discount,
            "units": units,
        }
    )
    return frame.to_csv(index=False).encode()


@pytest.fixture
def api(cloud: Any) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=cloud.api_url, timeout=60) as http:
        yield http


@pytest.fixture
def orchestrator(cloud: Any) -> Callable[..., None]:
    """Put an orchestrator built with this test's LLM, timeout and routes in place of the deployed one."""
    from orchestrator.handler import build_orchestrator_service

    def install(
        *,
        llm: LlmClient | None = None,
        clarify_timeout_s: int = 90,
        routes: Callable[[], list[AgentRoute]] | None = None,
        share_sample_rows: bool = False,
    ) -> None:
        urls = {name: cloud.agent_url(name) for name in cloud.agent_names() if name != "orchestrator"}
        service = build_orchestrator_service(
            llm=llm,
            discover=(lambda: fetch_agent_skills(urls)) if llm else list,
            routes=routes,
            clarify_timeout_s=clarify_timeout_s,
            share_sample_rows=share_sample_rows,
        )
        cloud.registry.override(cloud.function_name("orchestrator"), service.handler)

    return install


def _submit(api: httpx.Client, request: str, *, absurd_value: bool = False, **extra: str) -> str:
    body = _csv(absurd_value=absurd_value)
    response = api.post(
        "/analyze", data={"request": request, **extra}, files={"file": ("visits.csv", body, "text/csv")}
    )
    assert response.status_code == 202, response.text
    return str(response.json()["job_id"])


def _wait(api: httpx.Client, job_id: str, until: set[str], timeout: float = 180) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = api.get(f"/jobs/{job_id}").json()
        if job["status"] in until:
            return dict(job)
        time.sleep(0.3)
    raise AssertionError(f"job {job_id} did not reach {until} in {timeout}s")


def _kinds(job: dict[str, Any]) -> list[str]:
    return [decision["kind"] for decision in job["decisions"]]


def _step(job: dict[str, Any], step_id: str) -> dict[str, Any]:
    return next(step for step in job["steps"] if step["step_id"] == step_id)


def test_an_ambiguous_target_asks_the_user_and_the_answer_resumes_the_run(
    cloud: Any, api: httpx.Client, orchestrator: Callable[..., None]
) -> None:
    orchestrator(clarify_timeout_s=120)
    job_id = _submit(api, NO_TARGET_REQUEST)

    paused = _wait(api, job_id, {"input_required", *TERMINAL})
    assert paused["status"] == "input_required", paused.get("error")
    question = paused["question"]
    assert "units" in question["options"]
    assert question["default"] in question["options"]
    assert "task_token" not in question  # the token resumes the execution: never shown
    time.sleep(EVENT_SETTLE_S)  # readers of a running job get events once they have settled
    events = api.get(f"/jobs/{job_id}/events", params={"format": "json"}).json()["events"]
    assert any(e["stage"] == "input_required" for e in events)

    session = api.get(f"/sessions/{paused['session_id']}").json()
    assert session["turns"][0]["question"]["text"] == question["text"]
    assert api.post(f"/jobs/{job_id}/answer", json={"answer": ""}).status_code == 400
    # Answered in the conversation: the session's waiting job gets it.
    answered = api.post(f"/sessions/{paused['session_id']}/answer", json={"answer": "units"})
    assert answered.status_code == 200, answered.text
    assert answered.json()["job_id"] == job_id
    again = api.post(f"/jobs/{job_id}/answer", json={"answer": "units"})
    assert again.status_code == 409  # the question is closed

    job = _wait(api, job_id, TERMINAL)
    assert job["status"] == "succeeded", job.get("error")
    assert _kinds(job)[:4] == ["plan", "ask", "answer", "replan"]
    replan = job["decisions"][3]
    assert replan["outcome"] == "continued"
    assert "units" in replan["change"]
    assert replan["guessed"] is False
    assert _step(job, "automl")["outputs"]["target"] == "units"
    assert len(job["executions"]) == 2
    sfn = client("stepfunctions")
    first, second = (sfn.describe_execution(executionArn=arn) for arn in job["executions"])
    assert first["status"] == "SUCCEEDED"  # ended in Replanned, handing over to the second
    assert second["status"] == "SUCCEEDED"
    history = sfn.get_execution_history(executionArn=job["executions"][0])["events"]
    entered = [e["stateEnteredEventDetails"]["name"] for e in history if "stateEnteredEventDetails" in e]
    assert {"Replan", "AskUser", "ReplanWithAnswer", "Replanned"} <= set(entered)
    # The second execution did not run the completed steps again.
    later = sfn.get_execution_history(executionArn=job["executions"][1])["events"]
    later_states = [e["stateEnteredEventDetails"]["name"] for e in later if "stateEnteredEventDetails" in e]
    assert "ingest" not in later_states
    assert "automl" in later_states
    assert "Replanned (" in job["summary"]


def test_without_an_answer_the_best_guess_is_used_and_recorded(
    cloud: Any, api: httpx.Client, orchestrator: Callable[..., None]
) -> None:
    orchestrator(clarify_timeout_s=2)
    job_id = _submit(api, NO_TARGET_REQUEST)
    job = _wait(api, job_id, TERMINAL)
    assert job["status"] == "succeeded", job.get("error")
    assert job["planner"] == "heuristic"  # no LLM configured: the job says which planner ran
    assert job["planning"]["fallback_reason"] == "no LLM is configured"
    assert "no LLM is configured" in job["summary"]
    assert "timeout" in _kinds(job)
    replan = next(d for d in job["decisions"] if d["kind"] == "replan")
    assert replan["guessed"] is True
    assert "best guess" in replan["reason"]
    target = _step(job, "automl")["outputs"]["target"]
    assert target in {"units", "visits", "discount"}
    assert target in replan["change"]


def test_the_llm_plans_fails_over_replans_and_explains(
    cloud: Any, api: httpx.Client, orchestrator: Callable[..., None]
) -> None:
    """The issue's whole story in one job: LLM plan, Step Functions, a down agent failing over to a
    runtime-registered one, a missing target replanned once by the LLM, an LLM explanation."""
    from analystack.runtime import agent_registry
    from orchestrator.discovery import routes_from_registry

    def down(event: Any, context: Any) -> Any:
        raise AgentUnavailableError("connection refused")

    registered = api.post("/agents", json={"card_url": cloud.agent_url("quality"), "name": "quality-standby"})
    assert registered.status_code == 201, registered.text
    cloud.registry.override(cloud.function_name("quality"), down)
    plan = plan_request(NO_TARGET_REQUEST, source=DataSource(kind="upload")).model_dump(mode="json")
    plan.pop("planner")
    assert "target" not in next(s for s in plan["steps"] if s["agent"] == "automl")["inputs"]
    decision = {"action": "continue", "target": "units", "reason": "units is the outcome the table measures"}
    narration = {
        "paragraphs": [
            {
                "text": "A model now predicts units from visits and discount.",
                "fact_ids": [],
                "artifact_ids": [],
            }
        ]
    }
    with OpenAIStub([plan, decision, narration]) as stub:
        llm = LlmClient(model="gpt-4o", api_key="test", base_url=stub.base_url, timeout_s=20, max_retries=0)
        orchestrator(llm=llm, routes=lambda: routes_from_registry(agent_registry()))
        job_id = _submit(api, NO_TARGET_REQUEST)
        job = _wait(api, job_id, TERMINAL)
        calls = len(stub.requests)
        narration_prompt = json.dumps(stub.requests[-1]["messages"])
    assert job["status"] == "succeeded", job.get("error")
    assert job["planner"] == "llm"
    assert job["planning"]["fallback_reason"] is None
    # Failover, through the first execution's Catch path.
    assert _step(job, "quality")["agent"] == "quality-standby"
    assert "failover" in _kinds(job)
    # Replanned once, by the LLM, with its prompt audited (schema only, never the rows).
    replans = [d for d in job["decisions"] if d["kind"] == "replan"]
    assert len(replans) == 1
    assert replans[0]["decided_by"] == "llm"
    assert replans[0]["reason"] == decision["reason"]
    assert replans[0]["llm_prompts"][0]["purpose"] == "replan"
    assert "region,visits" not in str(replans[0]["llm_prompts"])
    assert _step(job, "automl")["outputs"]["target"] == "units"
    assert len(job["executions"]) == 2
    # Explained by the LLM; token accounting for every call.
    assert job["synthesis"]["narrator"] == "llm"
    assert job["summary"].startswith("A model now predicts units")
    assert calls == 3
    assert SAMPLE_FACT not in narration_prompt  # private by default: aggregates, never rows
    usage = job["llm_usage"]
    assert usage["calls"] == 3
    assert usage["prompt_tokens"] > 0


def test_sample_rows_reach_the_llm_only_when_allowed(
    cloud: Any, api: httpx.Client, orchestrator: Callable[..., None]
) -> None:
    plan = plan_request("check the data quality", source=DataSource(kind="upload")).model_dump(mode="json")
    plan.pop("planner")
    narration = {"paragraphs": [{"text": "The table was profiled.", "fact_ids": [], "artifact_ids": []}]}
    with OpenAIStub([plan, narration]) as stub:
        llm = LlmClient(model="gpt-4o", api_key="test", base_url=stub.base_url, timeout_s=20, max_retries=0)
        orchestrator(llm=llm, share_sample_rows=True)
        job = _wait(api, _submit(api, "check the data quality"), TERMINAL)
        narration_prompt = json.dumps(stub.requests[-1]["messages"])
    assert job["status"] == "succeeded", job.get("error")
    assert SAMPLE_FACT in narration_prompt


def test_a_down_agent_fails_over_to_an_agent_registered_at_runtime(cloud: Any, api: httpx.Client) -> None:
    """The deployed orchestrator, unchanged: its routes come from the registry, where a standby
    registered through ``POST /agents`` (reached over A2A at its URL) offers the same skill."""

    def down(event: Any, context: Any) -> Any:
        raise AgentUnavailableError("connection refused")

    registered = api.post("/agents", json={"card_url": cloud.agent_url("quality"), "name": "quality-standby"})
    assert registered.status_code == 201, registered.text
    listed = {a["agent"]: a for a in api.get("/agents").json()["agents"]}
    assert listed["quality-standby"]["status"] == "healthy"
    cloud.registry.override(cloud.function_name("quality"), down)

    job_id = _submit(api, "check the data quality")
    job = _wait(api, job_id, TERMINAL)
    assert job["status"] == "succeeded", job.get("error")
    assert job["planning"]["failovers"] == {"quality": "quality-standby"}
    quality = _step(job, "quality")
    assert quality["status"] == "succeeded"
    assert quality["agent"] == "quality-standby"
    assert quality["failover_from"] == "quality"
    assert quality["outputs"]["report_id"]
    failover = next(d for d in job["decisions"] if d["kind"] == "failover")
    assert failover["from_agent"] == "quality"
    assert failover["to_agent"] == "quality-standby"
    assert "AgentUnavailableError" in failover["reason"]
    history = client("stepfunctions").get_execution_history(executionArn=job["execution_arn"])["events"]
    entered = [e["stateEnteredEventDetails"]["name"] for e in history if "stateEnteredEventDetails" in e]
    assert "Failover_quality" in entered

    # Removed at runtime: the next plan has no failover for the step.
    assert api.delete("/agents/quality-standby").status_code == 204
    cloud.registry.override(cloud.function_name("quality"), None)
    again = _wait(api, _submit(api, "check the data quality"), TERMINAL)
    assert again["status"] == "succeeded", again.get("error")
    assert again["planning"]["failovers"] == {}


def test_a_follow_up_turn_reuses_the_sessions_dataset_and_target(
    cloud: Any, api: httpx.Client, orchestrator: Callable[..., None]
) -> None:
    orchestrator()
    first_id = _submit(api, "predict units", absurd_value=True, session_id="ses-followup")
    first = _wait(api, first_id, TERMINAL)
    assert first["status"] == "succeeded", first.get("error")
    dataset_id = _step(first, "ingest")["outputs"]["dataset_id"]

    response = api.post(
        "/analyze", json={"request": "now remove the outliers and retrain", "session_id": "ses-followup"}
    )
    assert response.status_code == 202, response.text
    second = _wait(api, response.json()["job_id"], TERMINAL)
    assert second["status"] == "succeeded", second.get("error")
    assert second["context"]["dataset_id"] == dataset_id
    assert second["context"]["previous_job_id"] == first_id
    assert second["dataset_id"] == dataset_id
    assert [s["step_id"] for s in second["steps"]] == ["quality", "clean", "automl"]
    clean = _step(second, "clean")["outputs"]
    assert int(clean["removed_rows"]) >= 1  # the planted 95 % discount
    assert _step(second, "automl")["outputs"]["target"] == "units"  # carried over
    cleaned = clean["dataset_id"]
    assert cleaned != dataset_id

    session = api.get("/sessions/ses-followup").json()
    assert [t["job_id"] for t in session["turns"]] == [first_id, second["job_id"]]
    assert session["turns"][1]["reused"]["dataset_id"] == dataset_id
    datasets = {d["dataset_id"]: d for d in session["datasets"]}
    assert datasets[cleaned]["parents"] == [dataset_id]  # lineage of the treated copy
    assert api.get("/sessions/nope").status_code == 404
    no_data = api.post("/analyze", json={"request": "retrain", "session_id": "ses-empty"})
    assert no_data.status_code == 404


def test_plan_only_returns_the_plan_without_running_it(cloud: Any, api: httpx.Client) -> None:
    response = api.post("/plan", json={"request": "매출 데이터를 분석하고 예측 모델을 만들어주세요"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["planner"] == "heuristic"
    assert body["fallback_reason"] == "no LLM is configured"
    plan = body["plan"]
    assert plan["language"] == "ko"
    assert [s["agent"] for s in plan["steps"]] == ["ingestion", "quality", "eda", "automl", "visualization"]
    machines = client("stepfunctions").list_state_machines()["stateMachines"]
    assert not [m for m in machines if m["name"].startswith("analystack-plan-")]  # nothing ran
    assert api.post("/plan", json={"request": ""}).status_code == 400
    unknown = api.post("/plan", json={"request": "profile it", "dataset_id": "ds-00000000000000000000"})
    assert unknown.status_code == 404
