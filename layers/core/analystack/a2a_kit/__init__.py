"""The one A2A kit: card builder, executor base, app factory, DynamoDB task store, Lambda handler.

Exports resolve lazily (PEP 562): the a2a-sdk server modules cost about a second to import, and
functions that only need the Lambda handler factory (the gateway) must not pay for them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "create_agent_app": "analystack.a2a_kit.app",
    "SkillSpec": "analystack.a2a_kit.card",
    "build_agent_card": "analystack.a2a_kit.card",
    "ArtifactRef": "analystack.a2a_kit.executor",
    "ProgressReporter": "analystack.a2a_kit.executor",
    "SkillExecutor": "analystack.a2a_kit.executor",
    "SkillRequest": "analystack.a2a_kit.executor",
    "SkillResult": "analystack.a2a_kit.executor",
    "make_lambda_handler": "analystack.a2a_kit.lambda_handler",
    "send_data_message": "analystack.a2a_kit.client",
    "AgentService": "analystack.a2a_kit.service",
    "build_agent_service": "analystack.a2a_kit.service",
    "DynamoDbTaskStore": "analystack.a2a_kit.task_store",
}

__all__ = [
    "AgentService",
    "ArtifactRef",
    "DynamoDbTaskStore",
    "ProgressReporter",
    "SkillExecutor",
    "SkillRequest",
    "SkillResult",
    "SkillSpec",
    "build_agent_card",
    "build_agent_service",
    "create_agent_app",
    "make_lambda_handler",
    "send_data_message",
]

if TYPE_CHECKING:
    from analystack.a2a_kit.app import create_agent_app
    from analystack.a2a_kit.card import SkillSpec, build_agent_card
    from analystack.a2a_kit.client import send_data_message
    from analystack.a2a_kit.executor import (
        ArtifactRef,
        ProgressReporter,
        SkillExecutor,
        SkillRequest,
        SkillResult,
    )
    from analystack.a2a_kit.lambda_handler import make_lambda_handler
    from analystack.a2a_kit.service import AgentService, build_agent_service
    from analystack.a2a_kit.task_store import DynamoDbTaskStore


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'analystack.a2a_kit' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
