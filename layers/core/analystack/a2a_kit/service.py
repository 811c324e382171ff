"""One call that turns an agent's skills into its FastAPI app and its Lambda handler."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, FastAPI

from analystack.a2a_kit.app import create_agent_app
from analystack.a2a_kit.card import SkillSpec, build_agent_card
from analystack.a2a_kit.executor import SkillExecutor, SkillHandler
from analystack.a2a_kit.lambda_handler import LambdaHandler, make_lambda_handler
from analystack.a2a_kit.task_store import DynamoDbTaskStore
from analystack.aws import client
from analystack.runtime import event_log
from analystack.settings import get_settings


@dataclass(frozen=True)
class AgentService:
    name: str
    app: FastAPI
    handler: LambdaHandler
    card: Any


def build_agent_service(
    *,
    name: str,
    description: str,
    skills: list[SkillSpec],
    handlers: Mapping[str, SkillHandler],
    version: str = "0.1.0",
    routers: Iterable[APIRouter] = (),
) -> AgentService:
    """Card (URL from settings), executor, DynamoDB task store, app and Lambda handler.

    On AWS the agent is reached under ``/a2a/<name>`` on the HTTP API, which Mangum strips.
    """
    settings = get_settings()
    missing = sorted({s.id for s in skills} - set(handlers))
    if missing:
        raise ValueError(f"Skills without handlers: {', '.join(missing)}")
    card = build_agent_card(
        name=name,
        description=description,
        skills=skills,
        base_url=settings.endpoints.url_for(name),
        version=version,
    )
    executor = SkillExecutor(agent=name, skills=handlers, progress_sink=event_log())
    task_store = DynamoDbTaskStore(table=settings.resources.tasks_table, dynamodb_client=client("dynamodb"))
    app = create_agent_app(card=card, executor=executor, task_store=task_store, routers=routers)
    return AgentService(
        name=name, app=app, handler=make_lambda_handler(app, api_gateway_base_path=f"/a2a/{name}"), card=card
    )
