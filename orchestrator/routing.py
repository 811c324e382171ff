"""Which function or URL runs each step, and where a step fails over to.

Plans name agents; the registry knows how each agent is reached (its own Lambda function, or only
an A2A URL for agents registered at runtime) and which skills it offers. A step whose skill is
offered by another live agent gets that agent as its failover, compiled into the step's Catch
path. Pure: the caller reads the registry.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from orchestrator.compiler import Failover
from orchestrator.plan import Plan

_STATUS_ORDER = {"healthy": 0, "unknown": 1, "degraded": 2}


@dataclass(frozen=True)
class AgentRoute:
    agent: str
    skills: tuple[str, ...] = ()
    function_name: str | None = None
    url: str | None = None
    status: str = "unknown"
    """healthy | degraded | down | unknown (from the registry's health checks)."""


@dataclass(frozen=True)
class PlanRouting:
    function_arns: dict[str, str] = field(default_factory=dict)
    relay_urls: dict[str, str] = field(default_factory=dict)
    failovers: dict[str, Failover] = field(default_factory=dict)

    def describe(self) -> dict[str, str]:
        """step id -> failover agent, for the job record."""
        return {step: failover.agent for step, failover in self.failovers.items()}


def route_plan(plan: Plan, routes: Sequence[AgentRoute], *, functions: Mapping[str, str]) -> PlanRouting:
    """Functions and relay URLs for the plan's agents, and a failover for each step that has one.

    Args:
        plan: the plan to run.
        routes: the registry's agents (may be empty: then only ``functions`` are used and no step
            has a failover).
        functions: the deployed functions (agent -> function name) from the settings; a route's own
            function name wins.
    """
    function_arns = {name: fn for name, fn in functions.items() if fn}
    relay_urls: dict[str, str] = {}
    for route in routes:
        if route.function_name:
            function_arns[route.agent] = route.function_name
        elif route.url and route.agent not in function_arns:
            relay_urls[route.agent] = route.url
    failovers: dict[str, Failover] = {}
    for step in plan.steps:
        alternatives = [
            route
            for route in routes
            if route.agent != step.agent
            and step.skill in route.skills
            and route.status != "down"
            and (route.agent in function_arns or route.agent in relay_urls)
        ]
        if alternatives:
            # Healthy first; among equals an own function before a relay (one hop fewer).
            best = min(
                alternatives,
                key=lambda r: (_STATUS_ORDER.get(r.status, 3), r.agent not in function_arns, r.agent),
            )
            failovers[step.id] = Failover(agent=best.agent)
    return PlanRouting(function_arns=function_arns, relay_urls=relay_urls, failovers=failovers)
