"""LLM Orchestrator (port 8100): wiring only; planning, compiling and synthesis are pure modules."""

from analystack.a2a_kit import SkillSpec, build_agent_service
from analystack.aws import client
from analystack.runtime import data_hub, event_log, job_store
from analystack.settings import get_settings
from orchestrator.discovery import fetch_agent_skills
from orchestrator.llm import LlmClient
from orchestrator.llm_planner import AgentSkillInfo
from orchestrator.skills import AnalyzeSkill, FinalizeSkill
from orchestrator.workflow import StepFunctionsRunner

_settings = get_settings()
_llm = _settings.llm.configured


def _llm_client() -> LlmClient | None:
    """The configured LLM, or None (heuristic planner, template narration — and the job says so)."""
    if not _llm:
        return None
    key = None
    if _settings.llm.api_key_secret_arn:  # on AWS the key lives in Secrets Manager, read at cold start
        key = client("secretsmanager").get_secret_value(SecretId=_settings.llm.api_key_secret_arn)[
            "SecretString"
        ]
    return LlmClient.from_settings(_settings.llm, api_key=key, timeout_s=20, max_retries=1)


def _discover_agents() -> list[AgentSkillInfo]:
    agents = [name for name in _settings.endpoints.agent_functions if name != "orchestrator"]
    return fetch_agent_skills({name: _settings.endpoints.url_for(name) for name in agents})


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
            llm=_llm_client(),
            discover=_discover_agents,
            hub=data_hub(),
        ),
        "finalize": FinalizeSkill(jobs=job_store(), events=event_log(), hub=data_hub(), llm_configured=_llm),
    },
)
app = service.app
handler = service.handler
