"""The app factory every agent uses: FastAPI + A2A JSON-RPC + REST + card routes + /health."""

from __future__ import annotations

from collections.abc import Iterable

from a2a.server.agent_execution import AgentExecutor
from a2a.server.request_handlers import DefaultRequestHandler
from a2a.server.routes import (
    add_a2a_routes_to_fastapi,
    create_agent_card_routes,
    create_jsonrpc_routes,
    create_rest_routes,
)
from a2a.server.tasks.task_store import TaskStore
from a2a.types import AgentCard
from fastapi import APIRouter, FastAPI

from analystack.a2a_kit.card import JSONRPC_PATH


def create_agent_app(
    *,
    card: AgentCard,
    executor: AgentExecutor,
    task_store: TaskStore,
    routers: Iterable[APIRouter] = (),
) -> FastAPI:
    """Build the ASGI app of one agent.

    The agent's own routes are registered before the A2A REST routes because those end in a
    ``/{tenant}`` catch-all mount that would otherwise shadow them.
    """
    request_handler = DefaultRequestHandler(agent_executor=executor, task_store=task_store, agent_card=card)
    app = FastAPI(title=card.name, description=card.description, version=card.version)

    @app.get("/health", tags=["ops"])
    async def health() -> dict[str, object]:
        return {
            "status": "ok",
            "agent": card.name,
            "version": card.version,
            "skills": [s.id for s in card.skills],
        }

    for router in routers:
        app.include_router(router)
    add_a2a_routes_to_fastapi(
        app,
        agent_card_routes=create_agent_card_routes(card),
        jsonrpc_routes=create_jsonrpc_routes(request_handler, rpc_url=JSONRPC_PATH),
        rest_routes=create_rest_routes(request_handler),
    )
    return app
