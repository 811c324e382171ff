"""Replanning and routing decisions on known inputs (pure logic; the LLM over MockTransport)."""

from __future__ import annotations

import httpx
import pytest

from orchestrator.llm import LlmClient
from orchestrator.llm_planner import ColumnInfo
from orchestrator.planner import DataSource, plan_request
from orchestrator.replanning import (
    MAX_REPLANS,
    ReplanContext,
    StepFailure,
    best_guess_target,
    decide,
    decide_heuristically,
    match_column,
)
from orchestrator.routing import AgentRoute, route_plan

pytestmark = pytest.mark.unit

COLUMNS = [
    ColumnInfo(name="order_id", dtype="int64"),
    ColumnInfo(name="order_date", dtype="timestamp[ns]"),
    ColumnInfo(name="region", dtype="string"),
    ColumnInfo(name="visits", dtype="int64"),
    ColumnInfo(name="units", dtype="double"),
]
MISSING_TARGET = StepFailure(
    step_id="automl",
    agent="automl",
    code="target_not_found",
    message="No target column was named",
    details={"candidates": "region, visits, units"},
)


def _context(**changes: object) -> ReplanContext:
    plan = plan_request("predict something, chart it and track the model", source=DataSource(kind="upload"))
    values: dict[str, object] = {
        "plan": plan,
        "completed": frozenset({"ingest", "quality"}),
        "failure": MISSING_TARGET,
        "columns": COLUMNS,
        **changes,
    }
    return ReplanContext.model_validate(values)


def test_an_ambiguous_target_is_asked_with_a_best_guess() -> None:
    decision = decide_heuristically(_context())
    assert decision.action == "ask"
    assert decision.question is not None
    assert decision.question.options == ["region", "visits", "units"]
    assert decision.question.default == "units"  # numeric, later, not an ID or a date


def test_the_answer_becomes_the_target_of_the_model_and_its_charts() -> None:
    decision = decide_heuristically(_context(answer=" Visits "))
    assert decision.action == "continue"
    assert decision.guessed is False
    assert decision.plan is not None
    assert decision.plan.target_column == "visits"
    assert decision.plan.step("automl").inputs["target"] == "visits"
    assert decision.plan.step("visualization").inputs["target"] == "visits"


def test_silence_or_a_bad_answer_takes_the_best_guess_and_says_so() -> None:
    timed_out = decide_heuristically(_context(timed_out=True))
    assert timed_out.action == "continue"
    assert timed_out.guessed is True
    assert "no answer" in timed_out.reason
    nonsense = decide_heuristically(_context(answer="the blue one"))
    assert nonsense.guessed is True
    assert nonsense.plan is not None
    assert nonsense.plan.target_column == "units"


def test_no_asking_allowed_goes_straight_to_the_guess() -> None:
    decision = decide_heuristically(_context(can_ask=False))
    assert decision.action == "continue"
    assert decision.guessed is True


def test_an_unlearnable_target_drops_the_model_and_what_needs_it() -> None:
    failure = MISSING_TARGET.model_copy(update={"code": "unlearnable_target", "message": "no signal"})
    decision = decide_heuristically(_context(failure=failure))
    assert decision.action == "continue"
    assert decision.plan is not None
    kept = [step.id for step in decision.plan.steps]
    assert "automl" not in kept
    assert "mlops" not in kept  # it tracks the model that will not exist
    visualization = decision.plan.step("visualization")  # charts go on without the model's report
    assert "model_report_id" not in visualization.inputs
    assert "automl" not in visualization.depends_on
    assert "'automl'" in decision.change
    assert "'mlops'" in decision.change


def test_replanning_is_bounded() -> None:
    decision, audit = decide(_context(replans=MAX_REPLANS))
    assert decision.action == "give_up"
    assert "bounded" in decision.reason
    assert audit is None


def test_unknown_failures_are_not_replanned() -> None:
    failure = MISSING_TARGET.model_copy(update={"code": "internal_error"})
    assert decide_heuristically(_context(failure=failure)).action == "give_up"


def _llm(content: str) -> LlmClient:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200,
            json={
                "id": "c1",
                "object": "chat.completion",
                "created": 1,
                "model": "gpt-4o",
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": content},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 900, "completion_tokens": 40, "total_tokens": 940},
            },
        )

    return LlmClient(
        model="gpt-4o",
        api_key="sk-test",
        base_url="http://llm.test/v1",
        max_retries=0,
        http_client=httpx.Client(transport=httpx.MockTransport(answer)),
    )


def test_the_llm_decides_when_its_decision_is_valid() -> None:
    decision, audit = decide(
        _context(), llm=_llm('{"action": "continue", "target": "units", "reason": "units is the outcome"}')
    )
    assert decision.decided_by == "llm"
    assert decision.plan is not None
    assert decision.plan.target_column == "units"
    assert audit is not None
    assert audit.prompts[0]["purpose"] == "replan"
    assert "order_date" in audit.prompts[0]["messages"][-1]["content"]  # the schema, no rows
    assert audit.usage().prompt_tokens == 900


def test_an_invented_column_falls_back_to_the_heuristic_with_the_reason() -> None:
    decision, _ = decide(
        _context(), llm=_llm('{"action": "continue", "target": "profit", "reason": "profit is usual"}')
    )
    assert decision.decided_by == "heuristic"
    assert decision.action == "ask"
    assert decision.fallback_reason is not None
    assert "'profit' is not a column" in decision.fallback_reason
    broken, _ = decide(_context(), llm=_llm("not json"))
    assert broken.decided_by == "heuristic"
    assert broken.fallback_reason


def test_column_matching_and_guessing() -> None:
    assert match_column("UNITS", ["units", "visits"]) == "units"
    assert match_column("unit sold", ["unit_sold"]) == "unit_sold"
    assert match_column("nothing", ["units"]) is None
    assert best_guess_target(["order_id", "customer_id"], COLUMNS) is None
    assert best_guess_target(["region", "매출"], [ColumnInfo(name="매출", dtype="double")]) == "매출"


def test_routing_picks_a_live_failover_with_the_same_skill() -> None:
    plan = plan_request("check the data quality", source=DataSource(kind="upload"))
    routes = [
        AgentRoute(agent="quality", skills=("assess_quality",), function_name="fn-quality", status="healthy"),
        AgentRoute(agent="quality-dead", skills=("assess_quality",), url="http://a", status="down"),
        AgentRoute(agent="quality-http", skills=("assess_quality",), url="http://b", status="healthy"),
        AgentRoute(agent="quality-fn", skills=("assess_quality",), function_name="fn-b", status="degraded"),
    ]
    routing = route_plan(plan, routes, functions={"ingestion": "fn-ingest", "quality": "fn-quality"})
    assert routing.failovers["quality"].agent == "quality-http"  # healthy beats degraded
    assert "ingest" not in routing.failovers
    assert routing.relay_urls == {"quality-dead": "http://a", "quality-http": "http://b"}
    assert routing.function_arns["quality-fn"] == "fn-b"
    assert route_plan(plan, [], functions={"quality": "fn"}).failovers == {}
