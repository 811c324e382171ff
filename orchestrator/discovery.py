"""Agent discovery: the skills the planner may use, from the health-checked agent registry.

The registry holds every deployed agent (seeded from its card) and every agent registered at
runtime through the gateway's ``POST /agents``; discovery offers the skills of those that
answered their last health check (healthy or degraded). That is how a new agent's skills become
plannable without a redeploy. While the registry is still empty (a fresh stack before its first
refresh) the cards are fetched live instead, so planning never depends on the schedule having
run.

``RefreshAgentsSkill`` is the orchestrator skill the EventBridge schedule invokes: it runs the
registry refresh (seed deployed agents, re-check all) and reports the outcome.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable, Mapping
from typing import Any

import httpx

from analystack.a2a_kit import ProgressReporter, SkillRequest, SkillResult
from analystack.registry import (
    DEFAULT_SLOW_MS,
    AgentCardUnreachableError,
    AgentRecord,
    AgentRegistry,
    AgentSkill,
    InvalidAgentCardError,
    card_skills,
    fetch_card,
    new_http_client,
    refresh_registry,
)
from orchestrator.llm_planner import AgentSkillInfo
from orchestrator.routing import AgentRoute

#: A plan step's skill must match this (``orchestrator.plan.Step.skill``): other card skill ids are
#: listed and ranked, but cannot be planned.
PLANNABLE_SKILL = re.compile(r"^[A-Za-z][A-Za-z0-9_\-]{0,63}$")
MAX_DESCRIPTION_CHARS = 500
MAX_TAGS = 12
#: The Lambda event the EventBridge schedule sends the orchestrator (the template's ``Input``):
#: an A2A ``SendMessage`` for the ``refresh_agents`` skill, which the Lambda handler replays
#: through the A2A app like any direct invoke.
REFRESH_AGENTS_EVENT: dict[str, Any] = {
    "a2a": {
        "jsonrpc": "2.0",
        "method": "SendMessage",
        "params": {"message": {"role": "ROLE_USER", "parts": [{"data": {"skill": "refresh_agents"}}]}},
    }
}


def discover_from_registry(
    registry: AgentRegistry,
    *,
    fallback_urls: Mapping[str, str] | None = None,
    exclude: Collection[str] = ("orchestrator",),
    require_function: bool = False,
    timeout_s: float = 3.0,
    http: httpx.Client | None = None,
) -> list[AgentSkillInfo]:
    """The plannable skills of the registry's healthy and degraded agents.

    Args:
        registry: the agent registry.
        fallback_urls: agent -> A2A base URL, fetched live when the registry has no records yet.
        exclude: agents never offered to the planner (the orchestrator itself).
        require_function: leave out agents without a Lambda function (by default they stay:
            plans reach HTTP-only agents through the orchestrator's ``relay`` skill).
        timeout_s: per-request timeout of the live fallback.
        http: the live fallback's client (default: a short-lived one with ``timeout_s``).
    """
    records = registry.list()
    if not records:
        urls = {name: url for name, url in (fallback_urls or {}).items() if name not in exclude}
        return fetch_agent_skills(urls, timeout_s=timeout_s, http=http) if urls else []
    return skills_of(records, exclude=exclude, require_function=require_function)


def skills_of(
    records: Iterable[AgentRecord],
    *,
    exclude: Collection[str] = ("orchestrator",),
    require_function: bool = False,
) -> list[AgentSkillInfo]:
    """``AgentSkillInfo`` for every plannable skill of the available records."""
    return [
        info
        for record in records
        if record.available and record.agent not in exclude and (record.function_name or not require_function)
        for info in _plannable(record.agent, record.skills)
    ]


def _plannable(agent: str, skills: Iterable[AgentSkill]) -> list[AgentSkillInfo]:
    """The planner's view of an agent's skills: ids a plan step can name, bounded texts."""
    return [
        AgentSkillInfo(
            agent=agent,
            skill=skill.id,
            description=skill.description[:MAX_DESCRIPTION_CHARS],
            tags=skill.tags[:MAX_TAGS],
        )
        for skill in skills
        if PLANNABLE_SKILL.match(skill.id)
    ]


def agent_functions_from_registry(
    registry: AgentRegistry, *, base: Mapping[str, str], exclude: Collection[str] = ("orchestrator",)
) -> dict[str, str]:
    """``base`` (the stack's agent -> function map) plus the available registry agents' functions.

    A registry record wins over ``base`` for its name: an operator who replaced a deployed agent
    at runtime (``replace=true``) meant plans to call the replacement. ``exclude`` names are never
    re-pointed (the orchestrator's own function runs every plan's finalize step).
    """
    functions = dict(base)
    for record in registry.list():
        if record.available and record.function_name and record.agent not in exclude:
            functions[record.agent] = record.function_name
    return functions


def routes_from_registry(
    registry: AgentRegistry, *, exclude: Collection[str] = ("orchestrator",)
) -> list[AgentRoute]:
    """How each registry agent is reached, with its skills and health, for ``route_plan``
    (failovers, relays to HTTP-only agents). Down agents are included: routing skips them."""
    return [
        AgentRoute(
            agent=record.agent,
            skills=tuple(skill.id for skill in record.skills),
            function_name=record.function_name,
            url=record.url,
            status=record.status,
        )
        for record in registry.list()
        if record.agent not in exclude
    ]


def fetch_agent_skills(
    urls: Mapping[str, str], *, timeout_s: float = 3.0, http: httpx.Client | None = None
) -> list[AgentSkillInfo]:
    """The skills of each agent's live card (cards validated as hostile input; bad ones skipped)."""
    if http is None:
        with new_http_client(timeout_s) as client:
            return fetch_agent_skills(urls, http=client)
    skills: list[AgentSkillInfo] = []
    for agent, url in urls.items():
        try:
            card = fetch_card(url.rstrip("/"), http)
        except (AgentCardUnreachableError, InvalidAgentCardError):
            continue  # down or not deployed: not offered to the planner
        skills.extend(_plannable(agent, card_skills(card)))
    return skills


class RefreshAgentsSkill:
    """The orchestrator's ``refresh_agents`` skill: the scheduled registry refresh."""

    def __init__(
        self,
        *,
        registry: AgentRegistry,
        deployed: Mapping[str, tuple[str, str | None]],
        http_factory: Callable[[], httpx.Client] = new_http_client,
        slow_ms: float = DEFAULT_SLOW_MS,
    ) -> None:
        self._registry = registry
        self._deployed = dict(deployed)
        self._http_factory = http_factory
        self._slow_ms = slow_ms

    def __call__(self, request: SkillRequest, report: ProgressReporter) -> SkillResult:
        report(
            10, f"checking {len(self._deployed)} deployed agents and the registered ones", stage="checking"
        )
        with self._http_factory() as http:
            summary = refresh_registry(self._registry, http, self._deployed, slow_ms=self._slow_ms)
        return SkillResult(outputs=summary.model_dump(mode="json"), summary=summary.text())
