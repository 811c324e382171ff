"""Health checks: each agent's card and ``/health``, classified healthy / degraded / down.

* **healthy** — the card is valid and ``/health`` answers OK, both within ``slow_ms``;
* **degraded** — the card is valid but ``/health`` fails or says it is not OK, or a call is slow:
  the agent can still be planned with, but ranking penalises it;
* **down** — no valid card (unreachable, HTTP error, redirect, hostile content): not plannable.

``refresh_registry`` is the periodic job (an EventBridge schedule on the orchestrator, the local
cloud at startup, ``GET /agents?refresh=true``): it seeds and updates the deployed agents from
their cards and re-checks every registered one, in parallel on one shared ``httpx.Client``.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import httpx
from pydantic import BaseModel, Field

from analystack.errors import NotFoundError
from analystack.models import utc_now
from analystack.registry.cards import card_skills, clean_text, fetch_card, read_capped
from analystack.registry.models import (
    MAX_ERROR_CHARS,
    AgentCardUnreachableError,
    AgentChangedError,
    AgentRecord,
    AgentRegistry,
    AgentStatus,
    DeployedAgent,
    HealthResult,
    InvalidAgentCardError,
)

if TYPE_CHECKING:
    from analystack.settings import AgentEndpoints

HEALTH_PATH = "/health"
MAX_HEALTH_BYTES = 16 * 1024
DEFAULT_SLOW_MS = 1500.0
"""Above this a call counts as slow (Lambda cold starts of the data agents are ~1–1.5 s)."""
DEFAULT_TIMEOUT_S = 5.0
"""Per request: a data agent's cold start behind API Gateway must fit (cards load no heavy library)."""
_OK_STATUSES = {"ok", "healthy", "pass", "up"}

Clock = Callable[[], float]


class RefreshSummary(BaseModel):
    """What one refresh did: each agent's status, and which records it seeded, pruned or skipped."""

    checked_at: str = Field(default_factory=utc_now)
    agents: dict[str, AgentStatus] = Field(default_factory=dict)
    seeded: list[str] = Field(default_factory=list)
    """Deployed agents written from their cards (created or updated)."""
    pruned: list[str] = Field(default_factory=list)
    """Deployed records of agents the stack no longer deploys."""
    skipped: list[str] = Field(default_factory=list)
    """Names held by a runtime registration, or removed/re-registered during the check."""

    def count(self, status: AgentStatus) -> int:
        return sum(1 for value in self.agents.values() if value == status)

    def text(self) -> str:
        counts = ", ".join(f"{self.count(s)} {s}" for s in ("healthy", "degraded", "down"))
        return f"Checked {len(self.agents)} agents: {counts}"


def new_http_client(timeout_s: float = DEFAULT_TIMEOUT_S) -> httpx.Client:
    """The client health checks and registrations use: short timeouts, redirects not followed."""
    return httpx.Client(timeout=timeout_s, follow_redirects=False, limits=httpx.Limits(max_connections=16))


def deployed_agents(endpoints: AgentEndpoints, *, exclude: Iterable[str] = ()) -> dict[str, DeployedAgent]:
    """The stack's agents from settings: card URL and function name of each deployed function."""
    skip = set(exclude)
    return {
        name: DeployedAgent(url=endpoints.url_for(name), function_name=function)
        for name, function in sorted(endpoints.agent_functions.items())
        if name not in skip
    }


def check_agent(
    target: AgentRecord | str,
    http: httpx.Client,
    *,
    slow_ms: float = DEFAULT_SLOW_MS,
    clock: Clock = time.perf_counter,
) -> HealthResult:
    """Fetch the card and ``GET /health`` of one agent and classify it (never raises for the agent's
    faults: every failure becomes a status and a short, sanitised error)."""
    url = (target.url if isinstance(target, AgentRecord) else target).rstrip("/")
    started = clock()
    try:
        card = fetch_card(url, http)
    except (AgentCardUnreachableError, InvalidAgentCardError) as exc:
        return HealthResult(url=url, status="down", error=_short(f"card: {exc.message}"), error_code=exc.code)
    card_ms = (clock() - started) * 1000
    skills = card_skills(card)

    started = clock()
    health_ms: float | None = None
    try:
        body = read_capped(http, url + HEALTH_PATH, MAX_HEALTH_BYTES, what="health response")
        health_ms = (clock() - started) * 1000
        problem = _health_problem(body)
    except (AgentCardUnreachableError, InvalidAgentCardError) as exc:
        problem = f"health: {exc.message}"
    health_ok = problem is None
    latency = max(card_ms, health_ms if health_ms is not None else 0.0)
    if problem is None and latency > slow_ms:
        problem = f"slow: {latency:.0f} ms (threshold {slow_ms:.0f} ms)"
    return HealthResult(
        url=url,
        status="healthy" if problem is None else "degraded",
        latency_ms=round(latency, 1),
        error=_short(problem) if problem else None,
        card_ok=True,
        health_ok=health_ok,
        card=card,
        skills=skills,
    )


def refresh_registry(
    registry: AgentRegistry,
    http: httpx.Client,
    deployed: Mapping[str, tuple[str, str | None]],
    *,
    slow_ms: float = DEFAULT_SLOW_MS,
    clock: Clock = time.perf_counter,
    max_workers: int = 8,
    prune: bool = True,
) -> RefreshSummary:
    """Seed/update the deployed agents from their cards and re-check every registered agent.

    Args:
        registry: where the records live.
        http: the client every check uses (shared by the worker threads; httpx clients are
            thread-safe).
        deployed: agent name -> (A2A base URL, Lambda function name) of the stack's agents.
        slow_ms: above this a call counts as slow (degraded).
        clock: monotonic seconds (tests pass a fake to simulate slowness).
        max_workers: checks run in parallel, so one dead agent's timeout does not add up.
        prune: delete deployed records of agents that ``deployed`` no longer lists.
    """
    summary = RefreshSummary()
    existing = {record.agent: record for record in registry.list()}
    # (name, url, deployed info or None for "just record the health")
    targets: list[tuple[str, str, DeployedAgent | None]] = []
    for name, (url, function_name) in sorted(deployed.items()):
        holder = existing.get(name)
        if holder is not None and holder.source == "runtime":
            summary.skipped.append(name)  # an operator replaced it; checked below as runtime
            continue
        targets.append((name, url.rstrip("/"), DeployedAgent(url.rstrip("/"), function_name)))
    for record in existing.values():
        if record.source == "runtime":
            targets.append((record.agent, record.url, None))
        elif record.agent not in deployed:
            if prune:
                with contextlib.suppress(NotFoundError):  # removed concurrently: the same outcome
                    registry.remove(record.agent, allow_deployed=True)
                summary.pruned.append(record.agent)
            else:
                targets.append((record.agent, record.url, None))

    def check(target: tuple[str, str, DeployedAgent | None]) -> HealthResult:
        return check_agent(target[1], http, slow_ms=slow_ms, clock=clock)

    with ThreadPoolExecutor(max_workers=max(1, min(max_workers, len(targets)))) as pool:
        results = list(pool.map(check, targets))

    for (name, url, deployment), result in zip(targets, results, strict=True):
        if deployment is not None:
            old = existing.get(name)
            record = AgentRecord(
                agent=name,
                url=url,
                function_name=deployment.function_name,
                skills=result.skills if result.skills is not None else (old.skills if old else []),
                card=result.card if result.card is not None else (old.card if old else None),
                status=result.status,
                latency_ms=result.latency_ms,
                checked_at=result.checked_at,
                last_error=result.error,
                source="deployed",
                registered_at=old.registered_at if old else utc_now(),
            )
            if not registry.put_deployed(record):
                summary.skipped.append(name)  # registered at runtime while the check ran
                continue
            summary.seeded.append(name)
        else:
            try:
                registry.record_health(name, result)
            except (NotFoundError, AgentChangedError):
                summary.skipped.append(name)
                continue
        summary.agents[name] = result.status
    return summary


def _health_problem(body: bytes) -> str | None:
    """``None`` when a 2xx ``/health`` body says OK (or says nothing: the status code is the signal)."""
    try:
        data = json.loads(body) if body.strip() else None
    except ValueError:
        return None
    if isinstance(data, dict) and isinstance(data.get("status"), str):
        status = data["status"].strip()
        if status.lower() not in _OK_STATUSES:
            return f"health: reports status '{status[:40]}'"
    return None


def _short(text: str) -> str:
    cleaned = " ".join(clean_text(text).split())
    return cleaned if len(cleaned) <= MAX_ERROR_CHARS else cleaned[: MAX_ERROR_CHARS - 1] + "…"
