"""The final explanation without a network: the real OpenAI client over ``httpx.MockTransport``.

Each test scripts the LLM's answers and checks what synthesis makes of them: a faithful
explanation is accepted with its citations; an invented number or an unknown id gets one repair
naming it, then the template narration with the reason; an unreachable or garbled LLM falls back;
the prompt carries aggregates and never the data's rows; a Korean request is answered in Korean.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest

from orchestrator.llm import LlmClient
from orchestrator.synthesis import (
    Narration,
    SynthesisFacts,
    build_facts,
    check_narration,
    narrate,
    synthesize,
    template_narration,
)

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
MODEL = "gpt-4o-mini"
REQUEST = "analyze the 2024 sales data and predict revenue"
KOREAN_REQUEST = "2024년 매출 데이터를 분석하고 revenue 예측 모델을 만들어주세요"
QUALITY_ID = "art-0000000000000000000a"
EDA_ID = "art-0000000000000000000b"
MODEL_ID = "art-0000000000000000000c"
DATASET_ID = "ds-00000000000000000001"
#: Values that exist only in individual rows of the data (a customer, an unparseable cell, an
#: actual target value): they reach the agents' reports, and must never reach the LLM.
PLANTED = ("Kim Planted-7731", "Zq-Planted-4242", "987654.321")

STEPS: dict[str, dict[str, Any]] = {
    "ingest": {
        "outputs": {"dataset_id": DATASET_ID, "rows": "240", "columns": "6", "format": "csv"},
        "summary": "Loaded 240 rows x 6 columns from sales.csv (csv, utf-8)",
    },
    "quality": {
        "outputs": {"report_id": QUALITY_ID, "score": "97.4", "grade": "A", "issues": "2"},
        "summary": "Quality score 97.4/100 (grade A): 2 issues, 0 missing cells, 0 duplicate rows, 0 outliers",
    },
    "eda": {"outputs": {"report_id": EDA_ID, "insights": "2"}, "summary": "2 insights; top: revenue rises"},
    "automl": {
        "outputs": {"report_id": MODEL_ID, "model_id": "mdl-00000000000000000001", "score": "0.9891"},
        "summary": "HistGradientBoostingRegressor predicts 'revenue' (regression): holdout r2 0.989 vs baseline -0.004",
    },
    "visualization": {"outputs": {"dashboard_id": "art-0000000000000000000d", "charts": "7"}, "summary": ""},
}
ORDER = ["ingest", "quality", "eda", "automl", "visualization"]
ARTIFACTS = [
    {"item_id": QUALITY_ID, "name": "quality_report.json", "kind": "artifact", "media_type": "application/json"},
    {"item_id": EDA_ID, "name": "eda_report.json", "kind": "artifact", "media_type": "application/json"},
    {"item_id": MODEL_ID, "name": "model_report.json", "kind": "artifact", "media_type": "application/json"},
    {"item_id": "art-0000000000000000000d", "name": "dashboard.html", "kind": "artifact", "media_type": "text/html"},
]  # fmt: skip


def model_report() -> dict[str, Any]:
    return {
        "task": "regression",
        "target": "revenue",
        "metric": "r2",
        "holdout": {"r2": 0.98912, "rmse": 15.31, "mae": 11.42},
        "baseline": {"r2": -0.0043, "rmse": 70.2, "mae": 60.1},
        "beats_baseline": True,
        "cv_leaderboard": [
            {
                "model": "HistGradientBoostingRegressor",
                "params": {},
                "cv_score": 0.948,
                "cv_std": 0.011,
                "fit_seconds": 0.4,
            },
        ],
        "best_model": "HistGradientBoostingRegressor",
        "feature_importance": [
            {"feature": "units", "importance": 0.91, "std": 0.02},
            {"feature": "region", "importance": 0.05, "std": 0.01},
        ],
        "sample_predictions": [{"actual": 987654.321, "predicted": 120.1}],
        "features": {},
        "rows_train": 1234,
        "rows_holdout": 60,
        "time_budget_s": 4.0,
        "elapsed_s": 3.2,
        "notes": [],
        "target_choice": {"column": "revenue", "source": "request", "reason": "named in the request"},
    }


@pytest.fixture(scope="module")
def reports() -> dict[str, Any]:
    """Real quality and EDA reports of a small table holding the planted values."""
    from functions.eda.analysis import explore
    from functions.quality.profiling import profile_table

    rng = np.random.default_rng(7)
    n = 240
    units = rng.integers(1, 20, n)
    region = rng.choice(["West", "East", "North"], n)
    amount = [f"{v:.2f}" for v in rng.normal(100, 10, n)]
    amount[5] = PLANTED[1]
    frame = pd.DataFrame(
        {
            "order_id": [f"ORD-{i:05d}" for i in range(n)],
            "region": region,
            "units": units,
            "revenue": units * 12.5 + rng.normal(0, 5, n) + np.where(region == "West", 30, 0),
            "amount": amount,
            "customer": [PLANTED[0] if i % 3 == 0 else f"Customer {i}" for i in range(n)],
        }
    )
    return {
        "quality": profile_table(frame).model_dump(mode="json"),
        "eda": explore(frame, request="predict revenue").model_dump(mode="json"),
        "model": model_report(),
        "rows": frame.head(3).to_dict(orient="records"),
    }


def facts_for(reports: dict[str, Any], request: str = REQUEST, **overrides: Any) -> SynthesisFacts:
    arguments: dict[str, Any] = {
        "request": request,
        "status": "succeeded",
        "steps": STEPS,
        "order": ORDER,
        "planner": "llm",
        "rationale": "ingest, profile, then explore and model in parallel",
        "quality": reports["quality"],
        "eda": reports["eda"],
        "model": reports["model"],
        "artifacts": ARTIFACTS,
        "sample_rows": reports["rows"],
        **overrides,
    }
    return build_facts(**arguments)


class ScriptedLlm:
    """A MockTransport handler answering each chat call with the next scripted item.

    Items: a dict (the assistant's JSON content), a str (content as-is), ``(status, body)`` for
    an HTTP error, or an exception class raised as the transport's error (a timeout).
    """

    def __init__(self, script: Iterable[Any]) -> None:
        self.script = list(script)
        self.bodies: list[dict[str, Any]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/v1/chat/completions"
        self.bodies.append(json.loads(request.content))
        item = self.script.pop(0) if len(self.script) > 1 else self.script[0]
        if isinstance(item, type) and issubclass(item, httpx.TransportError):
            raise item("scripted", request=request)
        if isinstance(item, tuple):
            status, body = item
            return httpx.Response(status, json=body, headers={"retry-after-ms": "1"})
        content = item if isinstance(item, str) else json.dumps(item, ensure_ascii=False)
        return httpx.Response(
            200,
            json={
                "id": f"chatcmpl-{len(self.bodies)}",
                "object": "chat.completion",
                "created": 1_700_000_000,
                "model": "gpt-4o-mini-2024-07-18",
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": content},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 2000, "completion_tokens": 250, "total_tokens": 2250},
            },
        )

    def sent_text(self) -> str:
        return "\n".join(m["content"] for body in self.bodies for m in body["messages"])


def client_for(llm: Callable[[httpx.Request], httpx.Response], *, max_retries: int = 0) -> LlmClient:
    return LlmClient(
        model=MODEL,
        api_key="sk-test",
        base_url="http://llm.test/v1",
        max_retries=max_retries,
        timeout_s=0.5,
        http_client=httpx.Client(transport=httpx.MockTransport(llm)),
    )


def faithful() -> dict[str, Any]:
    return {
        "paragraphs": [
            {
                "text": "The 240 rows of sales data are clean: the quality score is 97.4 out of 100 "
                "(grade A) with 2 issues.",
                "fact_ids": ["dataset.rows", "quality.score", "quality.grade", "quality.issues"],
                "artifact_ids": [QUALITY_ID],
            },
            {
                "text": "The model predicts revenue with an R2 of 0.99 (98.9%) on 1,234 training rows, "
                "far above the baseline's -0.004; units matter most (importance 0.91).",
                "fact_ids": ["model.holdout.r2", "model.rows_train", "model.baseline.r2", "model.feature.1"],
                "artifact_ids": [MODEL_ID],
            },
        ]
    }


def inventing(number: str = "0.93") -> dict[str, Any]:
    reply = faithful()
    reply["paragraphs"][1]["text"] = f"The model explains {number} of the variance in revenue."
    return reply


def run(llm: ScriptedLlm, facts: SynthesisFacts, *, request: str = REQUEST, **kwargs: Any) -> Narration:
    return synthesize(facts, llm=client_for(llm, **kwargs), request=request)


# --- the LLM path ----------------------------------------------------------------------------


def test_a_faithful_explanation_is_accepted_with_its_citations(reports: dict[str, Any]) -> None:
    facts = facts_for(reports)
    llm = ScriptedLlm([faithful()])
    narration = run(llm, facts)

    assert narration.narrator == "llm"
    assert narration.fallback_reason is None
    assert narration.language == "en"
    assert narration.cited_fact_ids == [
        "dataset.rows", "quality.score", "quality.grade", "quality.issues",
        "model.holdout.r2", "model.rows_train", "model.baseline.r2", "model.feature.1",
    ]  # fmt: skip
    assert narration.cited_artifact_ids == [QUALITY_ID, MODEL_ID]
    assert narration.text.startswith("The 240 rows of sales data are clean")
    assert narration.text.endswith(
        f"Artifacts: quality_report.json ({QUALITY_ID}), model_report.json ({MODEL_ID})"
    )
    assert narration.usage.prompt_tokens == 2000
    assert narration.usage.completion_tokens == 250
    assert narration.usage.cost_usd == pytest.approx((2000 * 0.15 + 250 * 0.60) / 1_000_000)
    (record,) = narration.prompts
    assert record["purpose"] == "narrate"
    assert record["model"] == MODEL
    assert record["messages"] == llm.bodies[0]["messages"]
    assert json.loads(record["reply"]) == faithful()
    body = llm.bodies[0]
    assert body["response_format"]["json_schema"]["name"] == "analysis_narration"
    user = body["messages"][-1]["content"]
    assert '"id": "model.holdout.r2", "value": 0.98912' in user
    assert f'"id": "{MODEL_ID}", "name": "model_report.json"' in user


def test_an_invented_number_gets_one_repair_then_the_template_with_the_number(
    reports: dict[str, Any],
) -> None:
    facts = facts_for(reports)
    llm = ScriptedLlm([inventing("0.93"), inventing("0.93")])
    narration = run(llm, facts)

    assert len(llm.bodies) == 2
    repair = llm.bodies[1]["messages"]
    assert [m["role"] for m in repair] == ["system", "user", "assistant", "user"]
    assert repair[1]["content"] == llm.bodies[0]["messages"][-1]["content"]
    assert "0.93" in repair[2]["content"]  # the rejected reply is quoted back
    assert "numbers that are not the value of any fact: 0.93" in repair[3]["content"]
    assert narration.narrator == "template"
    assert narration.fallback_reason is not None
    assert "numbers not in the results" in narration.fallback_reason
    assert "0.93" in narration.fallback_reason
    assert narration.cited_fact_ids == []
    assert narration.text == template_narration(
        facts, llm_configured=True, fallback_reason=narration.fallback_reason
    )
    assert narration.text.startswith(f"Request: {REQUEST}")
    assert "Narrated from a template: the LLM's explanation still cited numbers" in narration.text
    assert [p["purpose"] for p in narration.prompts] == ["narrate", "repair"]
    assert narration.usage.prompt_tokens == 4000  # both calls are paid for


def test_a_repaired_explanation_is_accepted(reports: dict[str, Any]) -> None:
    llm = ScriptedLlm([inventing("12.5%"), faithful()])
    narration = run(llm, facts_for(reports))
    assert narration.narrator == "llm"
    assert "12.5%" in llm.bodies[1]["messages"][-1]["content"]
    assert [p["purpose"] for p in narration.prompts] == ["narrate", "repair"]
    assert "12.5" not in narration.text


def test_unknown_fact_or_artifact_ids_are_named_in_the_repair(reports: dict[str, Any]) -> None:
    bad = faithful()
    bad["paragraphs"][0]["fact_ids"].append("model.holdout.auc")
    bad["paragraphs"][1]["artifact_ids"] = ["art-ffffffffffffffffffff"]
    bad["paragraphs"][1]["text"] += " See eda.insight.99 for more."
    llm = ScriptedLlm([bad, bad])
    narration = run(llm, facts_for(reports))
    repair = llm.bodies[1]["messages"][-1]["content"]
    assert "unknown fact ids: model.holdout.auc" in repair
    assert "unknown artifact ids: art-ffffffffffffffffffff" in repair
    assert "unknown ids in the text: eda.insight.99" in repair
    assert narration.narrator == "template"
    assert narration.fallback_reason is not None
    assert "model.holdout.auc" in narration.fallback_reason


@pytest.mark.parametrize(
    ("script", "reason"),
    [
        (['{"paragraphs": [{"text": "cut', "not json at all"], "still unreadable after one repair round"),
        ([httpx.ReadTimeout], "did not answer within 0.5 s"),
        ([(429, {"error": {"message": "slow down"}})], "HTTP 429"),
        ([(500, {"error": {"message": "boom"}})], "HTTP 500"),
    ],
    ids=["malformed-json", "timeout", "rate-limit", "server-error"],
)
def test_an_unusable_or_unreachable_llm_falls_back_to_the_template(
    reports: dict[str, Any], script: list[Any], reason: str
) -> None:
    facts = facts_for(reports)
    llm = ScriptedLlm(script)
    narration = run(llm, facts)
    assert narration.narrator == "template"
    assert narration.fallback_reason is not None
    assert reason in narration.fallback_reason
    assert narration.text == template_narration(
        facts, llm_configured=True, fallback_reason=narration.fallback_reason
    )
    assert narration.prompts[-1]["error"] is not None
    unavailable = not isinstance(script[0], str)
    assert len(llm.bodies) == (1 if unavailable else 2)  # no repair round for an unreachable LLM


def test_the_prompt_carries_aggregates_never_rows(reports: dict[str, Any]) -> None:
    raw = json.dumps(reports["quality"]) + json.dumps(reports["model"]) + json.dumps(reports["rows"])
    for value in PLANTED:
        assert value in raw  # the planted values do reach the reports the facts are built from
    llm = ScriptedLlm([inventing(), faithful()])  # a repair round too: every prompt is checked
    narration = run(llm, facts_for(reports))
    assert len(llm.bodies) == 2
    sent = llm.sent_text()
    recorded = json.dumps(narration.prompts, ensure_ascii=False)
    for value in PLANTED:
        assert value not in sent
        assert value not in recorded
    assert "column 'amount'" in sent  # column names do go
    assert "Pearson r" in sent  # and the ranked findings

    shared = facts_for(reports, share_sample_rows=True)
    assert any(PLANTED[0] in str(f.value) for f in shared.facts)  # only when a setting allows it


def test_a_korean_request_is_answered_in_korean(reports: dict[str, Any]) -> None:
    facts = facts_for(reports, request=KOREAN_REQUEST)
    korean = {
        "paragraphs": [
            {
                "text": "2024년 매출 데이터 240행의 품질 점수는 97.4점(A 등급)입니다.",
                "fact_ids": ["dataset.rows", "quality.score", "quality.grade"],
                "artifact_ids": [QUALITY_ID],
            },
            {
                "text": "revenue 예측 모델의 R2는 0.99로 기준 모델(-0.004)보다 훨씬 높습니다. "
                "1위 특성은 units입니다.",
                "fact_ids": ["model.holdout.r2", "model.baseline.r2", "model.feature.1"],
                "artifact_ids": [MODEL_ID],
            },
        ]
    }
    llm = ScriptedLlm([faithful(), korean])  # an English answer first
    narration = synthesize(facts, llm=client_for(llm), request=KOREAN_REQUEST)
    system = llm.bodies[0]["messages"][0]["content"]
    assert "Write in Korean (한국어)" in system
    assert "must be written in Korean" in llm.bodies[1]["messages"][-1]["content"]
    assert narration.narrator == "llm"
    assert narration.language == "ko"
    assert narration.text.startswith("2024년 매출 데이터 240행")
    assert f"산출물: quality_report.json ({QUALITY_ID})" in narration.text


# --- the template path -----------------------------------------------------------------------


def test_without_an_llm_the_template_is_todays_narration(reports: dict[str, Any]) -> None:
    facts = facts_for(reports)
    narration = synthesize(facts, llm=None, request=REQUEST)
    expected = narrate(
        request=REQUEST,
        status="succeeded",
        steps=STEPS,
        error=None,
        llm_configured=False,
        planner="llm",
        rationale="ingest, profile, then explore and model in parallel",
        order=ORDER,
    )
    assert narration.text == expected
    assert "no LLM is configured" in narration.text
    assert "Loaded 240 rows x 6 columns (csv)" in narration.text
    assert narration.narrator == "template"
    assert narration.fallback_reason == "no LLM is configured"
    assert narration.prompts == []
    assert narration.usage.prompt_tokens == 0


def test_a_failed_job_keeps_the_error_in_the_facts_and_the_template() -> None:
    steps = {"ingest": STEPS["ingest"]}
    facts = build_facts(
        request=REQUEST,
        status="failed",
        steps=steps,
        order=ORDER,
        error="The eda agent timed out after 900 s",
    )
    assert facts.fact("job.error") is not None
    assert facts.fact("job.steps_planned") is not None
    assert facts.fact("job.steps_completed") is not None
    text = synthesize(facts, llm=None, request=REQUEST).text
    assert "The analysis failed: The eda agent timed out after 900 s. Your upload is kept." in text
    check = check_narration(
        {"paragraphs": [{"text": "The exploration timed out after 900 s; 240 rows were loaded.",
                         "fact_ids": ["job.error", "dataset.rows"], "artifact_ids": []}]},
        facts, request=REQUEST, language="en",
    )  # fmt: skip
    assert check.ok, check.problems


# --- the number check ------------------------------------------------------------------------


def _numbers_flagged(facts: SynthesisFacts, text: str, request: str = REQUEST) -> list[str]:
    check = check_narration(
        {"paragraphs": [{"text": text, "fact_ids": [], "artifact_ids": []}]},
        facts,
        request=request,
        language="en",
    )
    return check.invented_numbers


@pytest.mark.parametrize(
    ("text", "invented"),
    [
        ("R2 is 0.99, or 98.9%, and 0.989 exactly", []),  # rounding and a share as a percentage
        ("trained on 1,234 rows, about 1,200", []),  # thousands separators; rounded, 2 digits kept
        ("trained on about 1,000 rows", ["1,000"]),  # one significant digit is not the figure
        ("R2 is 0.9867", ["0.9867"]),  # 0.98912 does not round to 0.9867
        ("the baseline scores −0.004 and -0.0043", []),  # signs (and a Unicode minus) are ignored
        ("for the 2024 data", []),  # numbers the user wrote are theirs
        ("the third insight, 3위, eda.insight.2 and the 2nd", []),  # ranks of listed facts; ordinals
        ("R2, Q3 and sales_2023 are names", []),  # digits glued to letters are not figures
        ("quality 97.4/100 and 99.6% of amount looks numeric", []),  # figures inside descriptions
        ("a p-value of 4.3e-204", ["4.3e-204"]),
        ("on 2031-05-17 the trend changed", ["2031-05-17"]),
        ("0 duplicate rows, but 0 charts failed and 7 charts", []),
        ("42 customers churned", ["42"]),
    ],
)
def test_numbers_must_be_fact_values(reports: dict[str, Any], text: str, invented: list[str]) -> None:
    assert _numbers_flagged(facts_for(reports), text) == invented


def test_a_plain_zero_claims_an_exact_zero() -> None:
    facts = build_facts(
        request="analyze",
        status="succeeded",
        steps={"quality": {"outputs": {"score": "88.2", "grade": "B", "issues": "3"}}},
    )
    assert _numbers_flagged(facts, "0 issues were found", request="analyze") == ["0"]
    assert _numbers_flagged(facts, "3 issues were found; score 88", request="analyze") == []


# --- bounded facts ---------------------------------------------------------------------------


def test_wide_tables_and_many_insights_stay_within_the_budget(reports: dict[str, Any]) -> None:
    quality = {
        **reports["quality"],
        "issues": [
            {"severity": "warning", "kind": "missing_values", "column": f"col_{i:04d}" + "x" * 80,
             "message": "m", "count": i}
            for i in range(1, 2001)
        ],
        "score_breakdown": {f"dimension {i}": 50.0 + i / 10 for i in range(60)},
    }  # fmt: skip
    eda = {
        **reports["eda"],
        "insights": [
            {"rank": r, "kind": "correlation", "title": f"c{r} rises with d{r} " + "t" * 150,
             "detail": "d" * 250, "columns": [], "metric": "pearson_r", "value": 1 / (r + 1), "score": 1 / r}
            for r in range(1, 101)
        ],
    }  # fmt: skip
    budget = 6000
    facts = facts_for(reports, quality=quality, eda=eda, budget_chars=budget)
    lines = _fact_lines(facts)
    assert len(lines) == len(facts.facts)
    assert sum(len(line) + 1 for line in lines) <= budget
    ids = {f.id for f in facts.facts}
    assert {"job.status", "quality.score", "model.holdout.r2", "model.baseline.r2", "eda.insight.1"} <= ids
    assert "eda.insight.100" not in ids
    assert "quality.issue.2000" not in ids
    assert facts.omitted_facts > 0
    assert all(len(f.about) <= 400 for f in facts.facts)


def _fact_lines(facts: SynthesisFacts) -> list[str]:
    from orchestrator.synthesis import build_narration_user_prompt

    prompt = build_narration_user_prompt(facts, request=REQUEST)
    return [line for line in prompt.splitlines() if line.startswith('{"id": "') and '"about"' in line]


def test_facts_are_json_safe_and_name_their_source(reports: dict[str, Any]) -> None:
    facts = facts_for(reports)
    json.dumps(facts.model_dump(mode="json"), allow_nan=False)
    assert facts.fact("quality.score") is not None
    assert facts.fact("quality.score").source == QUALITY_ID  # type: ignore[union-attr]
    assert facts.fact("quality.score").source_name == "quality_report.json"  # type: ignore[union-attr]
    assert facts.fact("model.holdout.r2").source == MODEL_ID  # type: ignore[union-attr]
    assert facts.fact("dataset.rows").value == 240  # type: ignore[union-attr]
    assert facts.fact("step.visualization.charts").value == 7  # type: ignore[union-attr]


def test_importing_synthesis_loads_neither_openai_nor_cloud_or_server_libraries() -> None:
    probe = (
        "import sys, orchestrator.synthesis; "
        "print(sorted(m for m in ('openai', 'boto3', 'fastapi', 'a2a', 'pandas') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "[]"
