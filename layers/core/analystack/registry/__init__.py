"""The agent registry: records filled from Agent Cards, health checks, runtime registration, ranking.

* ``models`` — ``AgentRecord``, ``HealthResult``, the ``AgentRegistry`` port and typed errors;
* ``store`` — ``DynamoDbAgentRegistry`` (the template's ``AgentRegistryTable``);
* ``cards`` — fetching and validating cards as hostile input, registration URL rules (SSRF);
* ``health`` — ``check_agent`` and ``refresh_registry`` (the scheduled and on-demand checks);
* ``ranking`` — ``rank_agents``: LLM-scored when an LLM is given, lexical (BM25) otherwise.
"""

from analystack.registry.cards import (
    CARD_PATH,
    agent_name_from_card,
    card_skills,
    fetch_card,
    validate_agent_url,
    validate_card,
)
from analystack.registry.health import (
    DEFAULT_SLOW_MS,
    RefreshSummary,
    check_agent,
    deployed_agents,
    new_http_client,
    refresh_registry,
)
from analystack.registry.models import (
    AgentCardUnreachableError,
    AgentChangedError,
    AgentExistsError,
    AgentRecord,
    AgentRegistry,
    AgentSkill,
    AgentStatus,
    DeployedAgent,
    DeployedAgentError,
    HealthResult,
    InvalidAgentCardError,
)
from analystack.registry.ranking import JsonLlm, RankedAgent, Ranking, rank, rank_agents
from analystack.registry.store import DynamoDbAgentRegistry, InMemoryAgentRegistry

__all__ = [
    "CARD_PATH",
    "DEFAULT_SLOW_MS",
    "AgentCardUnreachableError",
    "AgentChangedError",
    "AgentExistsError",
    "AgentRecord",
    "AgentRegistry",
    "AgentSkill",
    "AgentStatus",
    "DeployedAgent",
    "DeployedAgentError",
    "DynamoDbAgentRegistry",
    "HealthResult",
    "InMemoryAgentRegistry",
    "InvalidAgentCardError",
    "JsonLlm",
    "RankedAgent",
    "Ranking",
    "RefreshSummary",
    "agent_name_from_card",
    "card_skills",
    "check_agent",
    "deployed_agents",
    "fetch_card",
    "new_http_client",
    "rank",
    "rank_agents",
    "refresh_registry",
    "validate_agent_url",
    "validate_card",
]
