"""LLM Orchestrator (port 8100): wiring only; planning, compiling and synthesis are pure modules."""

from collections.abc import Callable

import httpx

from analystack.a2a_kit import AgentService, SkillSpec, build_agent_service
from analystack.aws import client
from analystack.registry import deployed_agents
from analystack.runtime import agent_registry, data_hub, event_log, job_store
from analystack.settings import get_settings
from orchestrator.discovery import RefreshAgentsSkill, discover_from_registry, routes_from_registry
from orchestrator.llm import LlmClient
from orchestrator.llm_planner import AgentSkillInfo
from orchestrator.routing import AgentRoute
from orchestrator.skills import (
    AnalyzeSkill,
    AskSkill,
    ExecutionLauncher,
    FinalizeSkill,
    PlanOnlySkill,
    RelaySkill,
    ReplanSkill,
    RequestPlanner,
)
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
    """The health-checked registry's skills (runtime-registered agents included); live cards while
    the registry is still empty."""
    fallback = {name: _settings.endpoints.url_for(name) for name in _settings.endpoints.agent_functions}
    return discover_from_registry(agent_registry(), fallback_urls=fallback)


def _agent_routes() -> list[AgentRoute]:
    return routes_from_registry(agent_registry())


def _http_client() -> httpx.Client:
    return httpx.Client(timeout=_settings.endpoints.call_timeout_seconds)


def build_orchestrator_service(
    *,
    llm: LlmClient | None,
    discover: Callable[[], list[AgentSkillInfo]],
    routes: Callable[[], list[AgentRoute]] | None = None,
    clarify_timeout_s: int,
    share_sample_rows: bool = False,
) -> AgentService:
    """The orchestrator's card, skills and handlers (the composition root below calls it once)."""
    launcher = ExecutionLauncher(
        runner=StepFunctionsRunner(
            sfn_client=client("stepfunctions"), role_arn=_settings.resources.state_machine_role_arn
        ),
        agent_functions=_settings.endpoints.agent_functions,
        routes=routes,
        clarify_timeout_s=clarify_timeout_s,
    )
    planner = RequestPlanner(llm=llm, discover=discover, hub=data_hub())
    return build_agent_service(
        name="orchestrator",
        description="Understands an analysis request, plans which agents to use, runs the plan on Step Functions, "
        "adapts it when a step's assumption breaks, and explains the outcome.",
        skills=[
            SkillSpec(
                id="analyze",
                name="Plan and run an analysis",
                description="Plans a request (LLM first; heuristic planner without an LLM), compiles the plan to ASL "
                "and starts it on Step Functions. Input: job_id of a job recorded by the gateway.",
                tags=("orchestration", "planning", "analysis"),
                examples=("analyze the sales data and build a prediction model", "매출 데이터를 분석해줘"),
            ),
            SkillSpec(
                id="plan",
                name="Plan a request without running it",
                description="Returns the plan a request would run, as JSON. Input: the request text; optional "
                "dataset_id.",
                tags=("planning",),
            ),
            SkillSpec(
                id="finalize",
                name="Finalize a job",
                description="Records a finished execution's step results, artifacts and narration on the job.",
                tags=("orchestration", "synthesis"),
            ),
            SkillSpec(
                id="replan",
                name="Replan after a broken assumption",
                description="Called by the state machine when a step reports a replannable failure: revises the "
                "remaining plan (or asks the user) and continues in a new execution.",
                tags=("orchestration", "replanning"),
            ),
            SkillSpec(
                id="ask",
                name="Ask the user",
                description="Pauses the job in input-required with its question until the user answers.",
                tags=("orchestration", "clarification"),
            ),
            SkillSpec(
                id="refresh_agents",
                name="Refresh the agent registry",
                description="Seeds the registry from the deployed agents' cards and health-checks every agent "
                "(card fetch + /health): healthy, degraded or down with its latency. Runs on a schedule.",
                tags=("discovery", "health"),
            ),
            SkillSpec(
                id="relay",
                name="Relay a step to an HTTP agent",
                description="Runs a plan step on an agent registered with an A2A URL only.",
                tags=("orchestration", "a2a"),
            ),
        ],
        handlers={
            "analyze": AnalyzeSkill(jobs=job_store(), launcher=launcher, planner=planner),
            "plan": PlanOnlySkill(planner=planner, agents=lambda: launcher.agents),
            "finalize": FinalizeSkill(
                jobs=job_store(),
                events=event_log(),
                hub=data_hub(),
                llm=llm,
                share_sample_rows=share_sample_rows,
            ),
            "replan": ReplanSkill(
                jobs=job_store(), events=event_log(), launcher=launcher, hub=data_hub(), llm=llm
            ),
            "ask": AskSkill(jobs=job_store(), timeout_s=clarify_timeout_s),
            "relay": RelaySkill(http_factory=_http_client),
            "refresh_agents": RefreshAgentsSkill(
                registry=agent_registry(), deployed=deployed_agents(_settings.endpoints)
            ),
        },
    )


service = build_orchestrator_service(
    llm=_llm_client(),
    discover=_discover_agents,
    routes=_agent_routes,
    clarify_timeout_s=_settings.limits.clarify_timeout_s,
    share_sample_rows=_settings.llm.share_sample_rows,
)
app = service.app
handler = service.handler
