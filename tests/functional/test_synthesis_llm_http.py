"""The final explanation over real HTTP: the official client against a scripted OpenAI-compatible server.

Unlike the unit tests (MockTransport), these go through sockets, the client's real timeouts and
its retry loop, so they show how synthesis behaves against a slow, flaky or inventive LLM server.
No cloud fixture is needed: the stub is the only server.
"""

from __future__ import annotations

from typing import Any

import pytest
from support.openai_stub import Delay, OpenAIStub

from orchestrator.llm import LlmClient
from orchestrator.synthesis import Narration, SynthesisFacts, build_facts, synthesize, template_narration

pytestmark = pytest.mark.functional

REQUEST = "매출 데이터를 분석하고 Profit 예측 모델을 만들어주세요"
QUALITY_ID = "art-1111111111111111111a"
MODEL_ID = "art-1111111111111111111c"


def facts() -> SynthesisFacts:
    return build_facts(
        request=REQUEST,
        status="succeeded",
        steps={
            "ingest": {
                "outputs": {
                    "dataset_id": "ds-11111111111111111111",
                    "rows": "9994",
                    "columns": "13",
                    "format": "csv",
                }
            },
            "quality": {"outputs": {"report_id": QUALITY_ID, "score": "96.2", "grade": "A", "issues": "4"}},
            "automl": {"outputs": {"report_id": MODEL_ID}, "summary": "Profit model trained"},
        },
        order=["ingest", "quality", "automl"],
        planner="llm",
        quality={
            "score": 96.2,
            "grade": "A",
            "rows": 9994,
            "columns": 13,
            "missing_cells": 0,
            "missing_share": 0.0,
            "duplicate_rows": 17,
            "duplicate_share": 0.0017,
            "issues": [],
        },
        model={
            "task": "regression",
            "target": "Profit",
            "metric": "r2",
            "holdout": {"r2": 0.8123},
            "baseline": {"r2": -0.0011},
            "beats_baseline": True,
            "best_model": "HistGradientBoostingRegressor",
            "rows_train": 7995,
            "rows_holdout": 1999,
        },
        artifacts=[
            {"item_id": QUALITY_ID, "name": "quality_report.json", "kind": "artifact"},
            {"item_id": MODEL_ID, "name": "model_report.json", "kind": "artifact"},
        ],
    )


def explanation(r2: str = "0.81") -> dict[str, Any]:
    return {
        "paragraphs": [
            {
                "text": "9,994행의 데이터 품질 점수는 96.2점(A 등급)이며 중복 행은 17개(0.17%)입니다.",
                "fact_ids": ["dataset.rows", "quality.score", "quality.grade", "quality.duplicate_rows"],
                "artifact_ids": [QUALITY_ID],
            },
            {
                "text": f"Profit 예측 모델의 R2는 {r2}로, 기준 모델(-0.001)보다 훨씬 정확합니다.",
                "fact_ids": ["model.holdout.r2", "model.baseline.r2"],
                "artifact_ids": [MODEL_ID],
            },
        ]
    }


def run(stub: OpenAIStub, *, timeout_s: float = 10, max_retries: int = 2) -> Narration:
    client = LlmClient(
        model="gpt-4o-mini",
        api_key=None,
        base_url=stub.base_url,
        timeout_s=timeout_s,
        max_retries=max_retries,
    )
    return synthesize(facts(), llm=client, request=REQUEST)


def test_an_explanation_from_the_server_is_verified_and_used() -> None:
    with OpenAIStub([explanation()]) as stub:
        narration = run(stub)
    assert narration.narrator == "llm"
    assert narration.language == "ko"
    assert narration.text.startswith("9,994행의 데이터 품질 점수는 96.2점")
    assert narration.text.endswith(
        f"산출물: quality_report.json ({QUALITY_ID}), model_report.json ({MODEL_ID})"
    )
    assert narration.cited_fact_ids[:2] == ["dataset.rows", "quality.score"]
    (body,) = stub.requests
    assert body["response_format"]["json_schema"]["name"] == "analysis_narration"
    assert body["messages"] == narration.prompts[0]["messages"]
    assert "in Korean (한국어)" in body["messages"][0]["content"]
    assert narration.usage.prompt_tokens > 300  # the stub counts the prompt's characters
    assert narration.usage.cost_usd is not None
    assert narration.usage.cost_usd > 0


def test_an_invented_figure_is_repaired_once_then_the_template_is_used() -> None:
    with OpenAIStub([explanation(r2="0.87"), explanation(r2="0.87")]) as stub:
        narration = run(stub)
    assert len(stub.requests) == 2
    assert "0.87" in stub.requests[1]["messages"][-1]["content"]
    assert narration.narrator == "template"
    assert narration.fallback_reason is not None
    assert "0.87" in narration.fallback_reason
    assert narration.text == template_narration(
        facts(), llm_configured=True, fallback_reason=narration.fallback_reason
    )
    assert "Data quality score 96.2/100 (grade A) with 4 issues" in narration.text


def test_a_rate_limit_is_retried_by_the_client() -> None:
    with OpenAIStub([(429, {"error": {"message": "Rate limit reached"}}), explanation()]) as stub:
        narration = run(stub, max_retries=1)
    assert narration.narrator == "llm"
    assert len(stub.requests) == 2  # the client's retry, not a repair round
    assert stub.requests[0] == stub.requests[1]
    assert len(narration.prompts) == 1


def test_a_server_that_does_not_answer_in_time_gets_the_template() -> None:
    with OpenAIStub([Delay(2.0, explanation())]) as stub:
        narration = run(stub, timeout_s=0.5, max_retries=0)
    assert narration.narrator == "template"
    assert narration.fallback_reason is not None
    assert "did not answer within 0.5 s" in narration.fallback_reason
    assert len(stub.requests) == 1
    assert narration.prompts[0]["error"]["code"] == "llm_unavailable"
