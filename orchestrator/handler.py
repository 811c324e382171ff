"""LLM Orchestrator (port 8100): wiring only; planning, compiling and synthesis are pure modules."""

from analystack.a2a_kit import SkillSpec, build_agent_service
from analystack.aws import client
from analystack.runtime import data_hub, event_log, job_store
from analystack.settings import get_settings
from orchestrator.skills import AnalyzeSkill, FinalizeSkill
from orchestrator.workflow import StepFunctionsRunner

_settings = get_settings()
_llm = _settings.llm.configured

service = build_agent_service(
    name="orchestrator",
    description="Understands an analysis request, plans which agents to use, runs the plan on Step Functions "
    "and explains the outcome.",
    skills=[
        SkillSpec(
            id="analyze",
            name="Plan and run an analysis",
            description="Plans a request (heuristic planner without an LLM), compiles the plan to ASL and starts "
            "it on Step Functions. Input: job_id of a job recorded by the gateway.",
            tags=("orchestration", "planning", "analysis"),
            examples=("analyze the sales data and build a prediction model", "매출 데이터를 분석해줘"),
        ),
        SkillSpec(
            id="finalize",
            name="Finalize a job",
            description="Records a finished execution's step results, artifacts and narration on the job.",
            tags=("orchestration", "synthesis"),
        ),
    ],
    handlers={
        "analyze": AnalyzeSkill(
            jobs=job_store(),
            runner=StepFunctionsRunner(
                sfn_client=client("stepfunctions"), role_arn=_settings.resources.state_machine_role_arn
            ),
            agent_functions=_settings.endpoints.agent_functions,
            llm_configured=_llm,
        ),
        "finalize": FinalizeSkill(jobs=job_store(), events=event_log(), hub=data_hub(), llm_configured=_llm),
    },
)
app = service.app
handler = service.handler
