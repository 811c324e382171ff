"""The one A2A kit: card builder, executor base, app factory, DynamoDB task store, Lambda handler."""

from analystack.a2a_kit.app import create_agent_app
from analystack.a2a_kit.card import SkillSpec, build_agent_card
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
]
