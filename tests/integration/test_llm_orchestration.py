"""The LLM leads when configured: planned by the LLM (stub server over HTTP), run on Step Functions."""

from __future__ import annotations

import time
from typing import Any

import pytest
from support.openai_stub import OpenAIStub

from analystack.a2a_kit import SkillRequest
from analystack.aws import client
from analystack.jobs import JobRecord
from analystack.models import JobStatus, Producer
from analystack.runtime import data_hub, job_store
from analystack.settings import get_settings
from orchestrator.discovery import fetch_agent_skills
from orchestrator.llm import LlmClient
from orchestrator.planner import DataSource, plan_request
from orchestrator.skills import AnalyzeSkill, ExecutionLauncher, RequestPlanner
from orchestrator.workflow import StepFunctionsRunner

pytestmark = pytest.mark.integration

REQUEST = "profile the data and show me charts"


def _job_with_upload(job_id: str) -> None:
    upload = data_hub().put_upload(
        job_id=job_id,
        filename="t.csv",
        body=b"region,amount\nSeoul,1\nBusan,2\nSeoul,3\nDaegu,40\n",
        media_type="text/csv",
        producer=Producer(agent="test", job_id=job_id),
    )
    job_store().create(
        JobRecord(
            job_id=job_id,
            request=REQUEST,
            session_id="s",
            upload={"source_uri": upload.s3_uri, "filename": "t.csv", "upload_id": upload.item_id},
        )
    )


def _skill(cloud: Any, stub: OpenAIStub) -> AnalyzeSkill:
    settings = get_settings()
    agents = {name: cloud.agent_url(name) for name in cloud.agent_names() if name != "orchestrator"}
    return AnalyzeSkill(
        jobs=job_store(),
        launcher=ExecutionLauncher(
            runner=StepFunctionsRunner(
                sfn_client=client("stepfunctions"), role_arn=settings.resources.state_machine_role_arn
            ),
            agent_functions=settings.endpoints.agent_functions,
        ),
        planner=RequestPlanner(
            llm=LlmClient(
                model="gpt-4o", api_key="test", base_url=stub.base_url, timeout_s=10, max_retries=0
            ),
            discover=lambda: fetch_agent_skills(agents),
            hub=data_hub(),
        ),
    )


def _wait(job_id: str, timeout: float = 120) -> JobRecord:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = job_store().get(job_id)
        if job.status in {JobStatus.SUCCEEDED, JobStatus.FAILED}:
            return job
        time.sleep(0.3)
    raise AssertionError("job did not finish")


def _llm_plan() -> dict[str, Any]:
    # What a good LLM answers: the plan shape the platform documents (minus the planner field).
    plan = plan_request(
        REQUEST, source=DataSource(kind="upload"), available_agents={"ingestion", "quality", "visualization"}
    )
    data = plan.model_dump(mode="json")
    data.pop("planner")
    data["rationale"] = "Profile first, then chart the profiled table."
    return data


def test_the_llm_plans_and_step_functions_runs_it(cloud: Any) -> None:
    _job_with_upload("job-llm")
    with OpenAIStub([_llm_plan()]) as stub:
        _skill(cloud, stub)(
            SkillRequest(skill="analyze", job_id="job-llm"),
            lambda progress, message, stage=None: None,
        )
        system_prompt = stub.requests[0]["messages"][0]["content"]
    assert "visualize" in system_prompt  # the cards' skills were offered
    job = _wait("job-llm")
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert job.planner == "llm"
    assert job.planning is not None
    assert job.planning["planner"] == "llm"
    assert job.planning["llm_usage"]["prompt_tokens"] > 0
    assert job.planning["llm_prompts"][0]["purpose"] == "plan"  # every prompt is kept for audit
    assert [s.step_id for s in job.steps] == ["ingest", "quality", "visualization"]
    assert "Seoul" not in str(job.planning["llm_prompts"])  # no raw rows reach the LLM


def test_a_broken_llm_falls_back_to_the_heuristic_planner_and_says_why(cloud: Any) -> None:
    _job_with_upload("job-fallback")
    with OpenAIStub(["not json at all", "still not json"]) as stub:
        _skill(cloud, stub)(
            SkillRequest(skill="analyze", job_id="job-fallback"),
            lambda progress, message, stage=None: None,
        )
    job = _wait("job-fallback")
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert job.planner == "heuristic"
    assert job.planning is not None
    assert job.planning["fallback_reason"]
