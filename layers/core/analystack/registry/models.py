"""What the agent registry holds: one record per agent, with its skills and its last health check."""

from __future__ import annotations

from typing import Any, Literal, NamedTuple, Protocol

from pydantic import BaseModel, ConfigDict, Field

from analystack.errors import AgentUnavailableError, ConflictError, InvalidInputError
from analystack.models import utc_now

#: The same rule as a plan step's agent (``orchestrator.plan.AGENT_NAME_PATTERN``): any registry
#: name can be planned with.
AGENT_NAME_PATTERN = r"^[a-z][a-z0-9_-]{0,39}$"
#: Lambda function names (64) or ARNs, optionally with a version or alias.
FUNCTION_NAME_PATTERN = r"^[A-Za-z0-9_:.\-/]{1,170}$"
MAX_ERROR_CHARS = 200

AgentStatus = Literal["healthy", "degraded", "down", "unknown"]
AgentSource = Literal["deployed", "runtime"]


class AgentSkill(BaseModel):
    """One skill as the agent's card advertises it (already validated and cut to size)."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(min_length=1, max_length=128)
    name: str = ""
    description: str = ""
    tags: list[str] = Field(default_factory=list)
    examples: list[str] = Field(default_factory=list)


class AgentRecord(BaseModel):
    """An agent the platform knows: where it lives, what it can do, and how it was last seen."""

    agent: str = Field(pattern=AGENT_NAME_PATTERN)
    """Short name, used in plans and URLs."""
    url: str = Field(min_length=1, max_length=2048)
    """A2A base URL: the card is at ``<url>/.well-known/agent-card.json``, health at ``<url>/health``."""
    function_name: str | None = Field(default=None, pattern=FUNCTION_NAME_PATTERN)
    """The Lambda function plans invoke; ``None`` for agents reached only over HTTP (plans reach
    those through the orchestrator's ``relay`` skill at ``url``)."""
    skills: list[AgentSkill] = Field(default_factory=list)
    card: dict[str, Any] | None = None
    """The card JSON as served (validated, size-capped); ``None`` until one was fetched."""
    status: AgentStatus = "unknown"
    latency_ms: float | None = None
    checked_at: str | None = None
    last_error: str | None = Field(default=None, max_length=MAX_ERROR_CHARS)
    """Why the last check was not healthy, in words safe to show (never an exception's text)."""
    source: AgentSource = "runtime"
    registered_at: str = Field(default_factory=utc_now)

    @property
    def available(self) -> bool:
        """Worth planning with: reachable at the last check (healthy, or degraded but answering)."""
        return self.status in ("healthy", "degraded")


class DeployedAgent(NamedTuple):
    """A deployed agent as the stack's settings know it."""

    url: str
    function_name: str | None


class HealthResult(BaseModel):
    """One check of one agent: the card fetch and ``/health``, classified."""

    url: str
    status: AgentStatus
    latency_ms: float | None = None
    """The slower of the two calls that answered (``None`` when neither did)."""
    checked_at: str = Field(default_factory=utc_now)
    error: str | None = None
    error_code: str | None = None
    """The typed error's code when the card failed (``agent_card_unreachable`` or ``invalid_agent_card``)."""
    card_ok: bool = False
    health_ok: bool = False
    card: dict[str, Any] | None = None
    skills: list[AgentSkill] | None = None
    """The card's skills when the card was fetched and valid (the registry follows card changes)."""


class AgentRegistry(Protocol):
    """Where agent records live (``DynamoDbAgentRegistry`` on AWS and in the local cloud)."""

    def put(self, record: AgentRecord, *, replace: bool = False) -> AgentRecord:
        """Store ``record``; an existing name needs ``replace`` (else ``AgentExistsError``)."""
        ...

    def put_deployed(self, record: AgentRecord) -> bool:
        """Store a deployed agent's record unless a runtime registration holds the name (False)."""
        ...

    def get(self, agent: str) -> AgentRecord:
        """The record, or ``NotFoundError``."""
        ...

    def list(self) -> list[AgentRecord]:
        """Every record, by name."""
        ...

    def remove(self, agent: str, *, allow_deployed: bool = False) -> None:
        """Delete a runtime record (``DeployedAgentError`` for deployed ones unless allowed)."""
        ...

    def record_health(self, agent: str, result: HealthResult) -> None:
        """Store a check's outcome (and the card's skills when it was fetched).

        Raises ``NotFoundError`` if the record is gone and ``AgentChangedError`` if it now points
        at another URL than the one checked.
        """
        ...


# --- typed errors ----------------------------------------------------------------------------


class InvalidAgentCardError(InvalidInputError):
    """The card was fetched but is not a usable Agent Card (wrong types, too big, no skills)."""

    code = "invalid_agent_card"


class AgentCardUnreachableError(AgentUnavailableError):
    """The card URL did not answer with a card (connection, timeout, HTTP error, redirect)."""

    code = "agent_card_unreachable"
    http_status = 502


class AgentExistsError(ConflictError):
    code = "agent_exists"


class DeployedAgentError(ConflictError):
    """Deployed agents come from the stack: they go away with a deploy, not through the API."""

    code = "agent_deployed"


class AgentChangedError(ConflictError):
    """The record was re-registered (another URL) while a health check of the old one ran."""

    code = "agent_changed"
