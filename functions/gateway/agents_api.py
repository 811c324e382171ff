"""The gateway's agent routes: the registry with health, runtime registration, removal, ranking.

``GET /agents`` lists the registry (``?refresh=true`` checks every agent now; an empty registry
is seeded from the deployed agents' cards on first read). ``POST /agents`` registers an agent
from its card URL — its skills become plannable at once, no redeploy — and ``DELETE
/agents/{name}`` removes a runtime-registered one (deployed agents go away with a deploy).
``GET /agents/rank?task=...`` ranks the agents for a task.

Registration makes the gateway fetch a URL the caller chose (SSRF): only http(s) URLs with a
host, no credentials, and never link-local/metadata addresses are accepted; loopback and private
addresses only when ``allow_private_urls`` (the local cloud); redirects are not followed and the
card's size is capped. Host names are not resolved, so on AWS registration belongs behind
authentication and an egress allow-list (see ``analystack.registry.cards``).
"""
# No "from __future__ import annotations": FastAPI must resolve the Annotated dependency aliases
# defined inside create_agents_router at runtime.

import asyncio
from collections.abc import Callable, Iterator, Mapping
from typing import Annotated, Any

import httpx
from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from analystack.registry import (
    DEFAULT_SLOW_MS,
    AgentCardUnreachableError,
    AgentRecord,
    AgentRegistry,
    InvalidAgentCardError,
    JsonLlm,
    agent_name_from_card,
    check_agent,
    new_http_client,
    rank,
    refresh_registry,
    validate_agent_url,
)
from analystack.registry.cards import MAX_URL_CHARS
from analystack.registry.models import AGENT_NAME_PATTERN, FUNCTION_NAME_PATTERN
from analystack.registry.ranking import MAX_TASK_CHARS

Deployed = Mapping[str, tuple[str, str | None]]


class RegisterAgent(BaseModel):
    card_url: str = Field(min_length=1, max_length=MAX_URL_CHARS)
    """The agent's A2A base URL, or its card URL (``.../.well-known/agent-card.json``)."""
    name: str | None = Field(default=None, pattern=AGENT_NAME_PATTERN)
    """Registry name; defaults to the card's name made into one (``"Data Quality"`` -> ``data-quality``)."""
    function_name: str | None = Field(default=None, pattern=FUNCTION_NAME_PATTERN)
    """The Lambda function plans invoke; without one, plans relay to the agent over A2A at its URL."""
    replace: bool = False


def default_http() -> Iterator[httpx.Client]:
    """One short-timeout client per request, closed after it (redirects never followed)."""
    with new_http_client() as http:
        yield http


def create_agents_router(
    get_registry: Callable[[], AgentRegistry],
    get_http: Callable[..., Any] = default_http,
    *,
    get_deployed: Callable[[], Deployed] | None = None,
    get_llm: Callable[[], JsonLlm | None] | None = None,
    allow_private_urls: bool = False,
    slow_ms: float = DEFAULT_SLOW_MS,
) -> APIRouter:
    """The ``/agents`` routes.

    Args:
        get_registry: dependency returning the registry.
        get_http: dependency returning (or yielding) the ``httpx.Client`` for card fetches and
            health checks.
        get_deployed: dependency returning agent -> (A2A base URL, function name) of the stack's
            agents; enables seeding and pruning. Without it a refresh only re-checks records.
        get_llm: dependency returning an LLM for ranking (``None``: lexical ranking).
        allow_private_urls: accept loopback/private registration URLs (local runs only).
        slow_ms: above this a health-check call counts as slow (degraded).
    """
    router = APIRouter(tags=["agents"])
    Registry = Annotated[AgentRegistry, Depends(get_registry)]
    Http = Annotated[httpx.Client, Depends(get_http)]

    def deployed() -> Deployed | None:
        return get_deployed() if get_deployed is not None else None

    def refresh(registry: AgentRegistry, http: httpx.Client) -> None:
        stack = deployed()
        refresh_registry(registry, http, stack or {}, slow_ms=slow_ms, prune=stack is not None)

    @router.get("/agents")
    async def list_agents(
        registry: Registry, http: Http, refresh_now: Annotated[bool, Query(alias="refresh")] = False
    ) -> dict[str, Any]:
        """Every agent with its skills, card, health status, last latency and last error."""

        def work() -> list[AgentRecord]:
            records = registry.list()
            if refresh_now or (not records and get_deployed is not None):
                refresh(registry, http)  # an empty registry: a fresh stack, seed it now
                records = registry.list()
            return records

        records = await asyncio.to_thread(work)
        return {"agents": [record.model_dump(mode="json") for record in records]}

    @router.post("/agents", status_code=201)
    async def register_agent(body: RegisterAgent, registry: Registry, http: Http) -> JSONResponse:
        """Register (or with ``replace``, re-register) an agent from its card."""
        base_url = validate_agent_url(body.card_url, allow_private=allow_private_urls)

        def work() -> AgentRecord:
            result = check_agent(base_url, http, slow_ms=slow_ms)
            if result.card is None or result.skills is None:
                message = (result.error or "card: unavailable").removeprefix("card: ")
                if result.error_code == InvalidAgentCardError.code:
                    raise InvalidAgentCardError(message)
                raise AgentCardUnreachableError(message)
            name = body.name or agent_name_from_card(str(result.card["name"]))
            record = AgentRecord(
                agent=name,
                url=base_url,
                function_name=body.function_name,
                skills=result.skills,
                card=result.card,
                status=result.status,
                latency_ms=result.latency_ms,
                checked_at=result.checked_at,
                last_error=result.error,
                source="runtime",
            )
            return registry.put(record, replace=body.replace)

        record = await asyncio.to_thread(work)
        return JSONResponse(
            record.model_dump(mode="json"), status_code=201, headers={"Location": f"/agents/{record.agent}"}
        )

    @router.get("/agents/rank")
    async def rank_for_task(
        registry: Registry,
        task: Annotated[str, Query(min_length=1, max_length=MAX_TASK_CHARS)],
        limit: Annotated[int, Query(ge=1, le=20)] = 5,
    ) -> dict[str, Any]:
        """The agents best suited to ``task``, each with its best skill, a confidence and why."""
        llm = get_llm() if get_llm is not None else None
        ranking = await asyncio.to_thread(lambda: rank(task, registry.list(), llm=llm, limit=limit))
        return {"task": task, **ranking.model_dump(mode="json")}

    @router.get("/agents/{name}")
    async def get_agent(
        registry: Registry, name: Annotated[str, Path(pattern=AGENT_NAME_PATTERN)]
    ) -> dict[str, Any]:
        record = await asyncio.to_thread(registry.get, name)
        return record.model_dump(mode="json")

    @router.delete("/agents/{name}", status_code=204)
    async def remove_agent(
        registry: Registry, name: Annotated[str, Path(pattern=AGENT_NAME_PATTERN)]
    ) -> Response:
        """Remove a runtime-registered agent (409 ``agent_deployed`` for the stack's own)."""
        await asyncio.to_thread(registry.remove, name)
        return Response(status_code=204)

    return router
