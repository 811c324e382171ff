"""The LLM planner without a network: the real OpenAI client over ``httpx.MockTransport``.

Each test scripts the LLM's answers (a plan, garbage, an HTTP error) and checks what the planner
makes of them: the plan it accepts, the single repair round, the heuristic fallback and its
reason, the audit trail of prompts, the token usage — and what the prompt does and does not carry
(column names and types, never the data's values).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest

from analystack.errors import AgentUnavailableError, AnalystackError
from orchestrator.llm import LlmClient, LlmResponseError, LlmUnavailableError, estimate_cost_usd
from orchestrator.llm_planner import (
    AgentSkillInfo,
    ColumnInfo,
    DatasetSummary,
    check_plan,
    plan_with_llm,
    summarize_columns,
)
from orchestrator.planner import DataSource, plan_request

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
UPLOAD = DataSource(kind="upload")
DATASET = DataSource(kind="dataset")
MODEL = "gpt-4o-mini"

SKILLS = [
    AgentSkillInfo(
        agent="ingestion",
        skill="ingest",
        description="Loads CSV, Excel, JSON and Parquet into the data hub",
        tags=["ingestion"],
    ),
    AgentSkillInfo(
        agent="quality", skill="assess_quality", description="Profile and quality report", tags=["quality"]
    ),
    AgentSkillInfo(
        agent="eda", skill="explore", description="Distributions, correlations, tests", tags=["eda"]
    ),
    AgentSkillInfo(agent="visualization", skill="visualize", description="Plotly charts and a dashboard"),
    AgentSkillInfo(agent="automl", skill="train_model", description="Regression, classification, forecast"),
    AgentSkillInfo(agent="mlops", skill="track_model", description="Track and register models"),
]
DEPLOYED = {"ingestion", "quality", "eda", "visualization", "automl"}  # mlops advertised but down
SALES = DatasetSummary(
    name="sales.csv",
    rows=1200,
    columns=[
        ColumnInfo(name="order_date", dtype="date32[day]"),
        ColumnInfo(name="region", dtype="string"),
        ColumnInfo(name="units", dtype="int64"),
        ColumnInfo(name="revenue", dtype="double"),
    ],
)
HEADLINE = "analyze the sales data and build a model to predict revenue"


class ScriptedLlm:
    """A MockTransport handler answering each chat call with the next scripted item.

    Items: a dict (the assistant's JSON content), a str (content as-is), ``(status, body)`` for
    an HTTP error (repeated when it is the last item, so client retries see it again).
    """

    def __init__(self, script: Iterable[Any], *, model: str = "gpt-4o-mini-2024-07-18") -> None:
        self.script = list(script)
        self.model = model
        self.bodies: list[dict[str, Any]] = []
        self.raw: list[bytes] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/v1/chat/completions"
        self.raw.append(request.content)
        self.bodies.append(json.loads(request.content))
        item = self.script.pop(0) if len(self.script) > 1 else self.script[0]
        if isinstance(item, tuple):
            status, body = item
            return httpx.Response(status, json=body, headers={"retry-after-ms": "1"})
        content = item if isinstance(item, str) else json.dumps(item)
        return httpx.Response(
            200,
            json={
                "id": f"chatcmpl-{len(self.bodies)}",
                "object": "chat.completion",
                "created": 1_700_000_000,
                "model": self.model,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": content},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 1500, "completion_tokens": 300, "total_tokens": 1800},
            },
        )


def client_for(llm: ScriptedLlm, *, max_retries: int = 0) -> LlmClient:
    return LlmClient(
        model=MODEL,
        api_key="sk-test",
        base_url="http://llm.test/v1",
        max_retries=max_retries,
        http_client=httpx.Client(transport=httpx.MockTransport(llm)),
    )


def llm_plan(request: str = HEADLINE, source: DataSource = UPLOAD, **changes: Any) -> dict[str, Any]:
    """A correct plan in the LLM's JSON shape (the heuristic's plan minus ``planner``)."""
    data = plan_request(request, source=source, available_agents=DEPLOYED).model_dump(
        mode="json", exclude={"planner"}
    )
    data["rationale"] = "Profile first, then explore and model in parallel, then chart the findings."
    data.update(changes)
    return data


def plan(
    request: str,
    llm: ScriptedLlm,
    *,
    source: DataSource = UPLOAD,
    summary: DatasetSummary | None = SALES,
    max_retries: int = 0,
    available: set[str] = DEPLOYED,
) -> Any:
    return plan_with_llm(
        request,
        source=source,
        agents=SKILLS,
        dataset_summary=summary,
        llm=client_for(llm, max_retries=max_retries),
        available_agents=available,
    )


# --- the happy path --------------------------------------------------------------------------


def test_a_valid_llm_plan_is_accepted_with_prompts_and_usage_recorded() -> None:
    llm = ScriptedLlm([llm_plan()])
    outcome = plan(HEADLINE, llm)

    assert outcome.planner == "llm"
    assert outcome.fallback_reason is None
    assert outcome.plan.planner == "llm"
    assert outcome.plan.request == HEADLINE
    assert outcome.plan.target_column == "revenue"
    assert [s.id for s in outcome.plan.steps] == ["ingest", "quality", "eda", "automl", "visualization"]

    (body,) = llm.bodies
    assert body["model"] == MODEL
    assert body["temperature"] == 0
    assert body["response_format"]["type"] == "json_schema"
    spec = body["response_format"]["json_schema"]
    assert spec["name"] == "analysis_plan"
    assert spec["strict"] is False
    assert set(spec["schema"]["required"]) == {"request", "language", "steps", "rationale", "target_column"}
    step_schema = spec["schema"]["properties"]["steps"]["items"]
    assert set(step_schema["properties"]["agent"]["enum"]) == DEPLOYED  # mlops is down: not offered

    # The audit trail holds exactly what was sent, and the reply.
    (record,) = outcome.prompts
    assert record["purpose"] == "plan"
    assert record["messages"] == body["messages"]
    assert json.loads(record["reply"])["steps"][0]["id"] == "ingest"
    system = body["messages"][0]["content"]
    assert "$.upload.source_uri" in system
    assert "track_model" not in system  # skills of unavailable agents are not offered
    assert "assess_quality" in system

    assert outcome.usage.prompt_tokens == 1500
    assert outcome.usage.completion_tokens == 300
    assert outcome.usage.cost_usd == pytest.approx((1500 * 0.15 + 300 * 0.60) / 1_000_000)


def test_a_dataset_source_plan_reads_the_dataset_id_and_has_no_ingest_step() -> None:
    llm = ScriptedLlm([llm_plan("상관관계를 분석해줘", DATASET)])
    outcome = plan("상관관계를 분석해줘", llm, source=DATASET)
    assert outcome.planner == "llm"
    assert outcome.plan.language == "ko"
    assert "ingestion" not in outcome.plan.agents()
    system = llm.bodies[0]["messages"][0]["content"]
    assert '{"path": "$.dataset_id"}' in system
    assert "$.upload.source_uri" not in system


# --- repair and fallback ---------------------------------------------------------------------


def test_a_plan_naming_an_unavailable_agent_gets_one_repair_round() -> None:
    bad = llm_plan()
    bad["steps"].append(
        {
            "id": "mlops",
            "agent": "mlops",
            "skill": "track_model",
            "description": "Register the model",
            "inputs": {"model_id": {"step": "automl", "output": "model_id"}},
            "depends_on": ["automl"],
        }
    )
    llm = ScriptedLlm([bad, llm_plan()])
    outcome = plan(HEADLINE, llm)

    assert outcome.planner == "llm"
    assert outcome.fallback_reason is None
    assert "mlops" not in outcome.plan.agents()
    assert len(llm.bodies) == 2
    assert [p["purpose"] for p in outcome.prompts] == ["plan", "repair"]
    repair_messages = llm.bodies[1]["messages"]
    assert [m["role"] for m in repair_messages] == ["system", "user", "assistant", "user"]
    assert repair_messages[:2] == llm.bodies[0]["messages"]
    assert json.loads(repair_messages[2]["content"]) == bad  # its own answer, quoted back
    assert "agent 'mlops' is not available" in repair_messages[3]["content"]
    assert outcome.usage.prompt_tokens == 3000
    assert outcome.usage.completion_tokens == 600


def test_garbage_twice_falls_back_to_the_heuristic_planner_with_a_reason() -> None:
    llm = ScriptedLlm(["Sure! Here is your plan: ingest, then analyse.", '{"steps": [ {"id": '])
    outcome = plan(HEADLINE, llm)

    assert outcome.planner == "heuristic"
    assert outcome.plan.planner == "heuristic"
    assert outcome.plan == plan_request(HEADLINE, source=UPLOAD, available_agents=DEPLOYED)
    assert outcome.fallback_reason is not None
    assert "still unusable after one repair round" in outcome.fallback_reason
    assert "not valid JSON" in outcome.fallback_reason
    assert len(llm.bodies) == 2
    assert "not valid JSON" in llm.bodies[1]["messages"][-1]["content"]
    assert outcome.prompts[0]["reply"].startswith("Sure!")
    assert outcome.prompts[1]["error"]["code"] == "llm_bad_response"
    assert outcome.usage.prompt_tokens == 3000  # the bad answers still cost tokens


def test_a_plan_still_invalid_after_the_repair_falls_back_listing_the_problem() -> None:
    cyclic = llm_plan()
    cyclic["steps"][1]["depends_on"] = ["ingest", "visualization"]
    llm = ScriptedLlm([cyclic, cyclic])
    outcome = plan(HEADLINE, llm)
    assert outcome.planner == "heuristic"
    assert outcome.fallback_reason is not None
    assert "still invalid after one repair round" in outcome.fallback_reason
    assert "declared after it" in outcome.fallback_reason or "cycle" in outcome.fallback_reason


def test_a_server_error_is_retried_by_the_client_then_the_heuristic_plans() -> None:
    llm = ScriptedLlm([(500, {"error": {"message": "upstream exploded", "type": "server_error"}})])
    outcome = plan(HEADLINE, llm, max_retries=2)

    assert len(llm.bodies) == 3  # one call + two client retries
    assert outcome.planner == "heuristic"
    assert outcome.fallback_reason is not None
    assert "unavailable" in outcome.fallback_reason
    assert "HTTP 500" in outcome.fallback_reason
    assert "exploded" not in outcome.fallback_reason  # the server's text is not passed on
    assert len(outcome.prompts) == 1
    assert outcome.prompts[0]["error"]["code"] == "llm_unavailable"
    assert outcome.usage.prompt_tokens == 0
    assert outcome.usage.cost_usd == 0.0


def test_the_llm_failing_during_the_repair_falls_back() -> None:
    bad = llm_plan(target_column="profit")  # not a column of the dataset
    llm = ScriptedLlm([bad, (503, {"error": {"message": "overloaded"}})])
    outcome = plan(HEADLINE, llm)
    assert outcome.planner == "heuristic"
    assert outcome.fallback_reason is not None
    assert "'profit' is not a column of the dataset" in outcome.fallback_reason
    assert "HTTP 503" in outcome.fallback_reason


def test_no_llm_or_no_skills_plans_heuristically() -> None:
    outcome = plan_with_llm(
        "analyze this",
        source=UPLOAD,
        agents=SKILLS,
        dataset_summary=None,
        llm=None,
        available_agents=DEPLOYED,
    )
    assert outcome.planner == "heuristic"
    assert outcome.fallback_reason == "no LLM is configured"
    assert outcome.prompts == []

    llm = ScriptedLlm([llm_plan()])
    outcome = plan_with_llm(
        "analyze this",
        source=UPLOAD,
        agents=[],  # no card advertises anything (e.g. discovery failed)
        dataset_summary=None,
        llm=client_for(llm),
        available_agents=DEPLOYED,
    )
    assert outcome.planner == "heuristic"
    assert outcome.fallback_reason is not None
    assert "advertises" in outcome.fallback_reason
    assert llm.bodies == []


def test_the_fallback_still_raises_when_no_agent_can_run() -> None:
    with pytest.raises(AgentUnavailableError):
        plan_with_llm(
            "analyze this",
            source=DATASET,
            agents=SKILLS,
            dataset_summary=None,
            llm=None,
            available_agents=set(),
        )


# --- platform checks beyond the plan model ---------------------------------------------------

SKILL_IDS = {"ingestion": ["ingest"], "quality": ["assess_quality"], "eda": ["explore"],
             "visualization": ["visualize"], "automl": ["train_model"]}  # fmt: skip


def problems_of(
    data: dict[str, Any], source: DataSource = UPLOAD, summary: DatasetSummary | None = SALES
) -> list[str]:
    result, problems = check_plan(
        data, request=HEADLINE, source=source, skills=SKILL_IDS, dataset_summary=summary
    )
    assert (result is None) == bool(problems)
    return problems


def test_check_plan_accepts_the_reference_plans() -> None:
    assert problems_of(llm_plan()) == []
    assert problems_of(llm_plan(source=DATASET), DATASET) == []


def test_check_plan_rejects_what_would_fail_inside_the_execution() -> None:
    wrong_skill = llm_plan()
    wrong_skill["steps"][2]["skill"] = "analyze"
    assert any("has no skill 'analyze'" in p for p in problems_of(wrong_skill))

    upload_path_on_dataset = llm_plan(source=DATASET)
    upload_path_on_dataset["steps"][0]["inputs"]["dataset_id"] = {"path": "$.upload.source_uri"}
    assert any("is not in the execution input" in p for p in problems_of(upload_path_on_dataset, DATASET))

    no_ingest = llm_plan(source=DATASET)  # reads $.dataset_id, but the data is a fresh upload
    found = problems_of(no_ingest, UPLOAD)
    assert any("ingestion step" in p for p in found)

    unknown_output = llm_plan()
    unknown_output["steps"][-1]["inputs"]["eda_report_id"] = {"step": "eda", "output": "charts"}
    assert any("has no output 'charts'" in p for p in problems_of(unknown_output))

    no_quality = llm_plan()
    no_quality["steps"] = [s for s in no_quality["steps"] if s["id"] in {"ingest", "automl"}]
    no_quality["steps"][1]["depends_on"] = ["ingest"]
    assert any("quality step" in p for p in problems_of(no_quality))

    assert any("'price' is not a column" in p for p in problems_of(llm_plan(target_column="price")))

    numbers = llm_plan()
    numbers["steps"][3]["inputs"]["time_budget_s"] = 30  # a number, not a string
    assert problems_of(numbers)


def test_check_plan_fills_language_and_keeps_the_users_request() -> None:
    data = llm_plan(request="something the LLM paraphrased")
    del data["language"]
    result, problems = check_plan(data, request="예측 모델을 만들어줘", source=UPLOAD, skills=SKILL_IDS)
    assert problems == []
    assert result is not None
    assert result.request == "예측 모델을 만들어줘"
    assert result.language == "ko"


# --- what the prompt carries -----------------------------------------------------------------


def test_the_prompt_has_column_names_and_types_but_never_the_values() -> None:
    frame = pd.DataFrame(
        {
            "customer_name": ["Kim Minji", "Lee Junho", "Park Seoyeon"],
            "email": ["minji.kim@example.com", "junho@example.org", "seoyeon.p@example.net"],
            "monthly_spend": [1234.56, 98765.43, 55501.25],
            "churned": [True, False, True],
        }
    )
    summary = DatasetSummary.from_dtypes("customers.csv", len(frame), frame.dtypes.items())
    llm = ScriptedLlm([llm_plan("predict churned", DATASET)])
    outcome = plan("predict churned", llm, source=DATASET, summary=summary)
    assert outcome.planner == "llm"

    user = llm.bodies[0]["messages"][-1]["content"]
    for column in frame.columns:
        assert f"- {column}: {frame.dtypes[column]}" in user
    assert "3 rows, 4 columns" in user
    sent = b"".join(llm.raw).decode("utf-8")
    audit = json.dumps(outcome.prompts)
    for value in [
        "Kim Minji",
        "Lee Junho",
        "minji.kim@example.com",
        "example.org",
        "1234.56",
        "98765.43",
        "55501",
    ]:
        assert value not in sent
        assert value not in audit


def test_a_hundred_column_table_is_summarised_keeping_the_columns_the_request_names() -> None:
    columns = [ColumnInfo(name=f"feature_{i:03d}", dtype="double") for i in range(98)]
    columns += [ColumnInfo(name="월매출", dtype="double"), ColumnInfo(name="Churn", dtype="bool")]
    summary = DatasetSummary(name="wide.parquet", rows=50_000, columns=columns)
    request = "feature_087 과 feature_099는 빼고, churn을 예측하고 월매출 분포를 보여줘"
    llm = ScriptedLlm([llm_plan("analyze this", DATASET)])
    outcome = plan(request, llm, source=DATASET, summary=summary)
    assert outcome.planner == "llm"

    user = llm.bodies[0]["messages"][-1]["content"]
    listed = [line[2:].split(":")[0] for line in user.splitlines() if line.startswith("- ")]
    assert len(listed) == 60
    assert {"feature_087", "월매출", "Churn"} <= set(listed)  # named in the request (any case)
    assert "feature_099" not in listed  # no such column: nothing to keep
    assert listed[:3] == ["feature_000", "feature_001", "feature_002"]  # then the first ones, in order
    assert "feature_058" not in listed
    assert "(40 more columns omitted)" in user
    assert "50000 rows, 100 columns" in user


def test_summarize_columns_leaves_narrow_tables_alone_and_matches_whole_words() -> None:
    narrow = [ColumnInfo(name=f"c{i}", dtype="int64") for i in range(60)]
    assert summarize_columns(narrow, "anything") == (narrow, 0)
    wide = [ColumnInfo(name=f"c{i}", dtype="int64") for i in range(61)] + [
        ColumnInfo(name="id", dtype="int64")
    ]
    shown, omitted = summarize_columns(wide, "validate the data", limit=60)
    assert omitted == 2
    assert "id" not in {c.name for c in shown}  # "validate" does not name the column "id"
    shown, _ = summarize_columns(wide, "group by id", limit=60)
    assert "id" in {c.name for c in shown}


def test_dataset_summary_from_a_catalog_item() -> None:
    from analystack.models import CatalogItem, Producer

    item = CatalogItem(
        item_id="ds-1",
        kind="dataset",
        name="sales.parquet",
        s3_uri="s3://hub/datasets/ds-1.parquet",
        media_type="application/vnd.apache.parquet",
        size_bytes=100,
        producer=Producer(agent="ingestion"),
        row_count=10,
        column_count=2,
        schema=[{"name": "region", "dtype": "string"}, {"name": "revenue", "dtype": "double"}],
    )
    summary = DatasetSummary.from_catalog_item(item)
    assert summary.rows == 10
    assert [(c.name, c.dtype) for c in summary.columns] == [("region", "string"), ("revenue", "double")]


# --- the client's typed errors ---------------------------------------------------------------


def complete(llm: ScriptedLlm, *, max_retries: int = 0) -> Any:
    return client_for(llm, max_retries=max_retries).complete_json(
        system="s", user="u", schema_name="x", schema={"type": "object"}
    )


def test_client_errors_are_typed() -> None:
    with pytest.raises(LlmUnavailableError) as rate_limited:
        complete(ScriptedLlm([(429, {"error": {"message": "slow down"}})]), max_retries=1)
    assert rate_limited.value.code == "llm_unavailable"
    assert isinstance(rate_limited.value, AgentUnavailableError)
    assert "HTTP 429" in rate_limited.value.message
    assert "after 1 retry" in rate_limited.value.message

    with pytest.raises(LlmUnavailableError, match="HTTP 401"):
        complete(ScriptedLlm([(401, {"error": {"message": "bad key"}})]))

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    unreachable = LlmClient(
        model=MODEL, api_key=None, base_url="http://llm.test/v1", max_retries=0,
        http_client=httpx.Client(transport=httpx.MockTransport(refuse)),
    )  # fmt: skip
    with pytest.raises(LlmUnavailableError, match="could not be reached"):
        unreachable.complete_json(system="s", user="u", schema_name="x", schema={})

    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    timing_out = LlmClient(
        model=MODEL, api_key=None, base_url="http://llm.test/v1", max_retries=0, timeout_s=0.5,
        http_client=httpx.Client(transport=httpx.MockTransport(slow)),
    )  # fmt: skip
    with pytest.raises(LlmUnavailableError, match=r"within 0\.5 s \(no retries\)"):
        timing_out.complete_json(system="s", user="u", schema_name="x", schema={})

    for content, message in [("", "empty"), ("[1, 2]", "not an object"), ("{'a': 1}", "not valid JSON")]:
        with pytest.raises(LlmResponseError, match=message) as bad:
            complete(ScriptedLlm([content]))
        assert bad.value.code == "llm_bad_response"
        assert isinstance(bad.value, AnalystackError)
        assert bad.value.prompt_tokens == 1500


def test_client_reply_carries_data_usage_model_and_messages() -> None:
    llm = ScriptedLlm(['```json\n{"answer": "42"}\n```'])  # some local models fence their JSON
    reply = complete(llm)
    assert reply.data == {"answer": "42"}
    assert (reply.prompt_tokens, reply.completion_tokens) == (1500, 300)
    assert reply.model == "gpt-4o-mini-2024-07-18"
    assert reply.messages == [{"role": "system", "content": "s"}, {"role": "user", "content": "u"}]
    assert llm.bodies[0]["messages"] == reply.messages


def test_estimated_cost() -> None:
    assert estimate_cost_usd("gpt-4o", 1_000_000, 1_000_000) == pytest.approx(12.5)
    assert estimate_cost_usd("gpt-4o-mini", 1000, 500) == pytest.approx(0.00045)
    assert estimate_cost_usd("gpt-4o-2024-08-06", 1_000_000, 0) == pytest.approx(2.5)
    assert estimate_cost_usd("gpt-4o-2024-05-13", 1_000_000, 0) == pytest.approx(5.0)
    assert estimate_cost_usd("GPT-4o-mini-2024-07-18", 0, 1_000_000) == pytest.approx(0.6)
    assert estimate_cost_usd("llama3.1:8b", 1000, 1000) is None
    assert estimate_cost_usd("gpt-4o-audio-preview", 1000, 1000) is None


def test_importing_the_planner_loads_neither_openai_nor_cloud_or_server_libraries() -> None:
    probe = (
        "import sys, orchestrator.llm_planner; "
        "print(sorted(m for m in ('openai', 'boto3', 'fastapi', 'a2a', 'pandas') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "[]"
