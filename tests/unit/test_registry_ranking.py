"""Ranking agents for a task: lexical (BM25 over words and n-grams) offline, the LLM when given.

The catalogue below carries the deployed agents' skills as their cards advertise them
(functions/*/handler.py); the functional tier ranks against the real cards served over HTTP.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from analystack.errors import AgentUnavailableError, InvalidInputError
from analystack.registry import AgentRecord, AgentSkill, AgentStatus, rank, rank_agents
from analystack.registry.ranking import STATUS_FACTORS
from orchestrator.llm import LlmClient

pytestmark = pytest.mark.unit

SKILLS: dict[str, AgentSkill] = {
    "ingestion": AgentSkill(
        id="ingest",
        name="Ingest a file",
        description="Detects format, encoding and delimiter, infers the schema, stores the table as Parquet "
        "with a catalog entry and lineage. Inputs: source_uri (s3://...), filename, upload_id.",
        tags=["ingestion", "csv", "excel", "json", "parquet", "load"],
        examples=["load s3://bucket/sales.csv", "이 파일을 읽어줘"],
    ),
    "quality": AgentSkill(
        id="assess_quality",
        name="Assess data quality",
        description="Per-column profile, missing values, IQR and z-score outliers, duplicates, type problems, "
        "quality score and grade; report as JSON and Markdown. Input: dataset_id.",
        tags=["quality", "profiling", "missing values", "outliers", "duplicates", "cleaning"],
        examples=["check the data quality", "결측치와 이상치를 확인해줘"],
    ),
    "eda": AgentSkill(
        id="explore",
        name="Explore a dataset",
        description="Distributions, correlations, hypothesis tests against a target or group, time-series "
        "awareness and ranked insights. Inputs: dataset_id; optional target, group.",
        tags=["eda", "statistics", "correlation", "hypothesis test", "insights", "time series"],
        examples=["what drives revenue?", "매출 데이터의 통계를 분석해줘"],
    ),
    "visualization": AgentSkill(
        id="visualize",
        name="Chart a dataset",
        description="Histograms/box plots, bars, lines over time, scatter of strong pairs, correlation heatmap, "
        "feature importance and missing values. Inputs: dataset_id; optional eda_report_id, "
        "quality_report_id, model_report_id, target.",
        tags=["visualization", "charts", "plotly", "dashboard"],
        examples=["show me a dashboard of revenue by region", "매출 추이를 차트로 보여줘"],
    ),
    "automl": AgentSkill(
        id="train_model",
        name="Train a prediction model",
        description="Regression, classification or time-based forecast; model, metrics, feature importance, "
        "sample predictions and a model card. Inputs: dataset_id; optional target, time_budget_s.",
        tags=["automl", "machine learning", "prediction", "regression", "classification", "forecast"],
        examples=["build a model to predict revenue", "매출 예측 모델을 만들어주세요"],
    ),
    "orchestrator": AgentSkill(
        id="analyze",
        name="Plan and run an analysis",
        description="Plans a request (heuristic planner without an LLM), compiles the plan to ASL and starts "
        "it on Step Functions. Input: job_id of a job recorded by the gateway.",
        tags=["orchestration", "planning", "analysis"],
        examples=["analyze the sales data and build a prediction model", "매출 데이터를 분석해줘"],
    ),
}


def catalogue(**statuses: AgentStatus) -> list[AgentRecord]:
    return [
        AgentRecord(
            agent=name,
            url=f"http://agents.test/a2a/{name}",
            function_name=f"analystack-{name}",
            skills=[skill],
            status=statuses.get(name, "healthy"),
            source="deployed",
        )
        for name, skill in SKILLS.items()
    ]


@pytest.mark.parametrize(
    ("task", "agent", "skill"),
    [
        ("find missing values and outliers", "quality", "assess_quality"),
        ("예측 모델을 만들어줘", "automl", "train_model"),
        ("결측치 확인", "quality", "assess_quality"),
        ("매출을 차트로 그려줘", "visualization", "visualize"),
        ("train a classifier on this table", "automl", "train_model"),
        ("이 CSV 파일 불러와", "ingestion", "ingest"),
        ("correlation and hypothesis tests between price and sales", "eda", "explore"),
    ],
)
def test_lexical_ranking_picks_the_agent_whose_skill_fits(task: str, agent: str, skill: str) -> None:
    ranked = rank_agents(task, catalogue())
    assert ranked, task
    top = ranked[0]
    assert (top.agent, top.skill, top.method) == (agent, skill, "lexical")
    assert 0 < top.confidence <= 1
    assert all(other.confidence <= top.confidence for other in ranked[1:])
    assert len({entry.agent for entry in ranked}) == len(ranked)  # one entry per agent
    assert top.fallback_reason is None


def test_the_reason_names_the_matching_words() -> None:
    top = rank_agents("find missing values and outliers", catalogue())[0]
    assert "'missing'" in top.reason
    assert "'outliers'" in top.reason
    assert "Assess data quality" in top.reason


def test_korean_inflections_match_partially() -> None:
    top = rank_agents("예측 모델을 만들어줘", catalogue())[0]
    # "만들어줘" is not a word of the card ("만들어주세요" is): only its n-grams can match.
    assert "parts of '만들어줘'" in top.reason


def test_an_unrelated_task_gets_less_confidence_than_a_related_one() -> None:
    related = rank_agents("find missing values and outliers", catalogue())[0].confidence
    unrelated = rank_agents("book a flight to Paris for next week", catalogue())
    assert all(entry.confidence < related / 2 for entry in unrelated)


def test_down_agents_are_never_ranked() -> None:
    ranked = rank_agents("find missing values and outliers", catalogue(quality="down"))
    assert "quality" not in {entry.agent for entry in ranked}


def test_degraded_and_unchecked_agents_are_penalised() -> None:
    task = "find missing values and outliers"
    healthy = rank_agents(task, catalogue())[0]
    degraded = next(e for e in rank_agents(task, catalogue(quality="degraded")) if e.agent == "quality")
    unknown = next(e for e in rank_agents(task, catalogue(quality="unknown")) if e.agent == "quality")
    assert degraded.confidence == pytest.approx(healthy.confidence * STATUS_FACTORS["degraded"], abs=1e-3)
    assert unknown.confidence == pytest.approx(healthy.confidence * STATUS_FACTORS["unknown"], abs=1e-3)
    assert degraded.status == "degraded"
    assert "degraded" in degraded.reason


def test_one_agent_catalogue_still_ranks() -> None:
    # Okapi BM25's IDF is negative when every document has the term; the ranking must not be.
    only = [r for r in catalogue() if r.agent == "quality"]
    ranked = rank_agents("find missing values and outliers", only)
    assert [e.agent for e in ranked] == ["quality"]
    assert ranked[0].confidence > 0.5


def test_limit_caps_the_number_of_agents() -> None:
    task = "analyze data quality, correlations, charts and a prediction model"
    assert len(rank_agents(task, catalogue(), limit=2)) == 2
    assert len(rank_agents(task, catalogue(), limit=10)) > 2


def test_agents_without_skills_and_empty_registries_rank_nothing() -> None:
    assert rank_agents("find outliers", []) == []
    bare = AgentRecord(agent="bare", url="http://x.test", status="healthy")
    assert rank_agents("find outliers", [bare]) == []


@pytest.mark.parametrize("task", ["", "   ", "?!? ...", "\x00\x01"])
def test_a_task_without_words_is_refused(task: str) -> None:
    with pytest.raises(InvalidInputError):
        rank_agents(task, catalogue())


# --- the LLM path ----------------------------------------------------------------------------


class FakeReply:
    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data


class FakeLlm:
    """Answers with a scripted ranking (or raises) and keeps what it was asked."""

    def __init__(self, answer: dict[str, Any] | Exception) -> None:
        self.answer = answer
        self.calls: list[dict[str, Any]] = []

    def complete_json(self, *, system: str, user: str, schema_name: str, schema: dict[str, Any]) -> FakeReply:
        self.calls.append({"system": system, "user": user, "schema_name": schema_name, "schema": schema})
        if isinstance(self.answer, Exception):
            raise self.answer
        return FakeReply(self.answer)


def test_the_llm_scores_the_candidates() -> None:
    llm = FakeLlm(
        {
            "rankings": [
                {"agent": "eda", "skill": "explore", "confidence": 0.4, "reason": "can describe outliers"},
                {"agent": "quality", "skill": "assess_quality", "confidence": 0.95, "reason": "detects both"},
            ]
        }
    )
    ranking = rank("find missing values and outliers", catalogue(eda="degraded", automl="down"), llm=llm)
    assert ranking.method == "llm"
    assert ranking.fallback_reason is None
    assert [(e.agent, e.skill, e.method) for e in ranking.agents] == [
        ("quality", "assess_quality", "llm"),
        ("eda", "explore", "llm"),
    ]
    assert ranking.agents[0].confidence == pytest.approx(0.95)
    assert ranking.agents[1].confidence == pytest.approx(0.4 * STATUS_FACTORS["degraded"])
    assert ranking.agents[0].reason == "detects both"
    # The prompt lists the available candidates only, and the schema pins their names.
    sent = json.loads(llm.calls[0]["user"])
    offered = {c["agent"] for c in sent["candidates"]}
    assert "automl" not in offered
    assert {"quality", "eda"} <= offered
    enum = llm.calls[0]["schema"]["properties"]["rankings"]["items"]["properties"]["agent"]["enum"]
    assert set(enum) == offered


@pytest.mark.parametrize(
    ("answer", "why"),
    [
        ({"rankings": [{"agent": "travel", "skill": "book", "confidence": 0.9, "reason": "x"}]}, "unusable"),
        ({"rankings": [{"agent": "quality", "skill": "nope", "confidence": 0.9, "reason": "x"}]}, "unusable"),
        ({"rankings": [{"agent": "quality", "skill": "assess_quality", "confidence": 1.7}]}, "unusable"),
        ({"rankings": [{"agent": "quality", "skill": "assess_quality", "confidence": True}]}, "unusable"),
        ({"rankings": [{"agent": "quality", "skill": "assess_quality", "confidence": "0.9"}]}, "unusable"),
        ({"ranking": []}, "unusable"),
        ({"rankings": "quality"}, "unusable"),
        (AgentUnavailableError("The LLM endpoint could not be reached"), "could not rank"),
    ],
)
def test_any_llm_failure_falls_back_to_lexical_with_the_reason(answer: Any, why: str) -> None:
    ranking = rank("find missing values and outliers", catalogue(), llm=FakeLlm(answer))
    assert ranking.method == "lexical"
    assert ranking.fallback_reason is not None
    assert why in ranking.fallback_reason
    assert ranking.agents[0].agent == "quality"
    assert all(entry.fallback_reason == ranking.fallback_reason for entry in ranking.agents)


def test_the_real_llm_client_fits_the_ranking_port() -> None:
    """orchestrator.llm.LlmClient over MockTransport: a JSON reply in, a ranking out."""
    content = {"rankings": [{"agent": "automl", "skill": "train_model", "confidence": 0.9, "reason": "모델"}]}
    requests: list[dict[str, Any]] = []

    def llm_server(request: httpx.Request) -> httpx.Response:
        requests.append(json.loads(request.content))
        return httpx.Response(
            200,
            json={
                "id": "chatcmpl-1",
                "object": "chat.completion",
                "created": 1_700_000_000,
                "model": "gpt-4o-mini",
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": json.dumps(content)},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
            },
        )

    client = LlmClient(
        model="gpt-4o-mini",
        api_key="sk-test",
        base_url="http://llm.test/v1",
        max_retries=0,
        http_client=httpx.Client(transport=httpx.MockTransport(llm_server)),
    )
    ranked = rank_agents("예측 모델을 만들어줘", catalogue(), llm=client)
    assert [(e.agent, e.method) for e in ranked] == [("automl", "llm")]
    assert requests[0]["response_format"]["json_schema"]["name"] == "agent_ranking"

    def unavailable(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503, json={"error": {"message": "down"}})

    broken = LlmClient(
        model="gpt-4o-mini",
        api_key="sk-test",
        base_url="http://llm.test/v1",
        max_retries=0,
        http_client=httpx.Client(transport=httpx.MockTransport(unavailable)),
    )
    fallback = rank("예측 모델을 만들어줘", catalogue(), llm=broken)
    assert fallback.method == "lexical"
    assert fallback.fallback_reason is not None
    assert "HTTP 503" in fallback.fallback_reason
    assert fallback.agents[0].agent == "automl"
