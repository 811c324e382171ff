"""The LLM planner over real HTTP: the official client against a scripted OpenAI-compatible server.

Unlike the unit tests (MockTransport), these go through sockets, the client's real timeouts and
its retry loop, so they show how the planner behaves against a slow, flaky or sloppy LLM server.
No cloud fixture is needed: the stub is the only server.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from support.openai_stub import Delay, OpenAIStub

from orchestrator.llm import LlmClient
from orchestrator.llm_planner import (
    AgentSkillInfo,
    ColumnInfo,
    DatasetSummary,
    PlanningOutcome,
    plan_with_llm,
)
from orchestrator.planner import DataSource, plan_request

pytestmark = pytest.mark.functional

UPLOAD = DataSource(kind="upload")
AGENTS = {"ingestion": "ingest", "quality": "assess_quality", "eda": "explore",
          "visualization": "visualize", "automl": "train_model"}  # fmt: skip
SKILLS = [AgentSkillInfo(agent=a, skill=s, description=f"{a} skill") for a, s in AGENTS.items()]
SUMMARY = DatasetSummary(
    name="sales.csv",
    rows=9994,
    columns=[
        ColumnInfo(name=n, dtype=t)
        for n, t in [("Region", "string"), ("Sales", "double"), ("Profit", "double")]
    ],
)
REQUEST = "매출 데이터를 분석하고 Profit 예측 모델을 만들어주세요"


def good_plan(request: str = REQUEST) -> dict[str, Any]:
    data = plan_request(request, source=UPLOAD, available_agents=set(AGENTS)).model_dump(
        mode="json", exclude={"planner"}
    )
    data["rationale"] = (
        "업로드 파일을 적재하고 품질을 먼저 확인한 뒤, 탐색 분석과 모델 학습을 병렬로 실행합니다."
    )
    return data


def run(
    stub: OpenAIStub, *, timeout_s: float = 10, max_retries: int = 2, stream: bool = False
) -> PlanningOutcome:
    client = LlmClient(
        model="gpt-4o-mini",
        api_key=None,
        base_url=stub.base_url,
        timeout_s=timeout_s,
        max_retries=max_retries,
        stream=stream,
    )
    return plan_with_llm(
        REQUEST,
        source=UPLOAD,
        agents=SKILLS,
        dataset_summary=SUMMARY,
        llm=client,
        available_agents=set(AGENTS),
    )


def test_a_plan_from_the_server_is_used() -> None:
    with OpenAIStub([good_plan()]) as stub:
        outcome = run(stub)
    assert outcome.planner == "llm"
    assert outcome.plan.target_column == "Profit"
    assert outcome.plan.agents() == ["ingestion", "quality", "eda", "automl", "visualization"]
    (body,) = stub.requests
    assert body["model"] == "gpt-4o-mini"
    assert body["response_format"]["json_schema"]["name"] == "analysis_plan"
    assert body["messages"] == outcome.prompts[0]["messages"]
    assert "- Profit: double" in body["messages"][-1]["content"]
    assert outcome.usage.prompt_tokens > 500  # the stub counts the (long) system prompt
    assert outcome.usage.completion_tokens > 50
    assert outcome.usage.cost_usd is not None
    assert outcome.usage.cost_usd > 0


def test_malformed_json_is_repaired_in_one_round() -> None:
    truncated = json.dumps(good_plan())[:200]
    with OpenAIStub([truncated, good_plan()]) as stub:
        outcome = run(stub)
    assert outcome.planner == "llm"
    assert len(stub.requests) == 2
    repair = stub.requests[1]["messages"]
    assert [m["role"] for m in repair] == ["system", "user", "assistant", "user"]
    assert repair[2]["content"] == truncated
    assert "not valid JSON" in repair[3]["content"]
    assert [p["purpose"] for p in outcome.prompts] == ["plan", "repair"]


def test_a_rate_limit_is_retried_by_the_client() -> None:
    with OpenAIStub(
        [(429, {"error": {"message": "Rate limit reached", "type": "requests"}}), good_plan()]
    ) as stub:
        outcome = run(stub, max_retries=2)
    assert outcome.planner == "llm"
    assert len(stub.requests) == 2  # the retry is the client's, not a repair round
    assert stub.requests[0] == stub.requests[1]
    assert len(outcome.prompts) == 1


def test_a_server_that_does_not_answer_in_time_falls_back_to_the_heuristic() -> None:
    with OpenAIStub([Delay(2.0, good_plan())]) as stub:
        outcome = run(stub, timeout_s=0.5, max_retries=0)
    assert outcome.planner == "heuristic"
    assert outcome.plan.planner == "heuristic"
    assert outcome.fallback_reason is not None
    assert "did not answer within 0.5 s" in outcome.fallback_reason
    assert len(stub.requests) == 1
    assert outcome.prompts[0]["error"]["code"] == "llm_unavailable"


def test_an_exhausted_script_is_an_unavailable_llm() -> None:
    with OpenAIStub([]) as stub:
        outcome = run(stub, max_retries=0)
    assert outcome.planner == "heuristic"
    assert outcome.fallback_reason is not None
    assert "HTTP 500" in outcome.fallback_reason


def test_a_streamed_plan_is_assembled_from_its_chunks_with_its_usage() -> None:
    with OpenAIStub([good_plan()]) as stub:
        outcome = run(stub, stream=True)
    assert outcome.planner == "llm", outcome.fallback_reason
    assert outcome.plan.target_column == "Profit"
    (body,) = stub.requests
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    assert outcome.usage.prompt_tokens > 500  # from the stream's final usage chunk
    assert outcome.usage.completion_tokens > 50
    assert outcome.prompts[0]["reply"] == json.dumps(good_plan(), ensure_ascii=False)


def test_streamed_malformed_json_and_errors_are_handled_like_whole_replies() -> None:
    truncated = json.dumps(good_plan())[:200]
    with OpenAIStub([truncated, good_plan()]) as stub:
        repaired = run(stub, stream=True)
    assert repaired.planner == "llm"
    assert [p["purpose"] for p in repaired.prompts] == ["plan", "repair"]
    with OpenAIStub([(500, {"error": {"message": "boom", "type": "server"}})]) as stub:
        failed = run(stub, stream=True, max_retries=0)
    assert failed.planner == "heuristic"
    assert failed.fallback_reason is not None
    assert "HTTP 500" in failed.fallback_reason
    with OpenAIStub([Delay(2.0, good_plan())]) as stub:
        slow = run(stub, stream=True, timeout_s=0.5, max_retries=0)
    assert slow.fallback_reason is not None
    assert "did not answer within 0.5 s" in slow.fallback_reason
