"""Typed settings, read once per container (cold start) and validated there.

Split by concern as small models so a function can depend on just the part it uses; every value
comes from the environment (``ANALYSTACK_*``), which the SAM template sets on AWS and the
embedded local cloud sets in-process. ``AWS_ENDPOINT_URL`` is deliberately *not* a setting:
boto3 reads it natively, and it is the one switch between AWS, LocalStack and the local cloud.
"""

from __future__ import annotations

from functools import lru_cache

from pydantic import AliasChoices, BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class ResourceNames(BaseModel):
    """Physical names of the stack's stores (the template's outputs become these env vars)."""

    hub_bucket: str = Field(default="analystack-hub", min_length=3, max_length=63)
    tasks_table: str = "analystack-tasks"
    jobs_table: str = "analystack-jobs"
    catalog_table: str = "analystack-catalog"
    events_table: str = "analystack-events"
    registry_table: str = "analystack-agents"
    connections_table: str = "analystack-connections"
    analysis_state_machine_arn: str = ""
    state_machine_role_arn: str = ""


class AgentEndpoints(BaseModel):
    """Where agents are reached: public A2A base URLs (cards) and Lambda function names."""

    public_api_url: str = ""
    """The HTTP API's public URL (with stage); agents are served under ``/a2a/<agent>`` there."""
    agent_urls: dict[str, str] = Field(default_factory=dict)
    """agent short name -> A2A base URL; overrides ``public_api_url`` (the local cloud's ports)."""
    agent_functions: dict[str, str] = Field(default_factory=dict)
    """agent short name -> Lambda function name/ARN, for Step Functions tasks and direct invokes."""
    call_timeout_seconds: float = Field(default=120.0, gt=0, le=900)
    allow_private_agent_urls: bool = False
    """Whether agents may be registered at loopback/private addresses (the local cloud's agents
    live on loopback; on AWS registration refuses them, see ``analystack.registry.cards``)."""
    progress_management_url: str = ""
    """The WebSocket API's management endpoint (https://<api>.execute-api.<region>.amazonaws.com/<stage>)."""

    def url_for(self, agent: str) -> str:
        """Base URL advertised in ``agent``'s card (cards carry no URL of their own in A2A 1.0)."""
        if agent in self.agent_urls:
            return self.agent_urls[agent].rstrip("/")
        root = self.public_api_url.rstrip("/") or "http://127.0.0.1:8000"
        return f"{root}/a2a/{agent}"


class LlmSettings(BaseModel):
    api_key: SecretStr | None = None
    api_key_secret_arn: str = ""
    """On AWS the key lives in Secrets Manager; the template passes its ARN, never the key."""
    base_url: str | None = None
    model: str = "gpt-4o"
    stream: bool = False
    """Stream replies: the timeout then bounds each chunk, so slow local models can answer at length."""
    share_sample_rows: bool = False
    """Data stays private by default: the LLM sees schema and aggregates, never rows. True lets
    the narration include a few sample rows."""

    @property
    def configured(self) -> bool:
        return bool(self.api_key or self.base_url or self.api_key_secret_arn)


class Limits(BaseModel):
    max_upload_bytes: int = Field(default=512 * 1024 * 1024, gt=0)
    max_rows: int = Field(default=20_000_000, gt=0)
    max_columns: int = Field(default=2_000, gt=0)
    automl_time_budget_s: float = Field(default=30.0, gt=0, le=840)
    """Model search budget per job; Lambda's 15-minute cap bounds it."""
    autopilot_role_arn: str = ""
    """When set, large training jobs go to SageMaker Autopilot (AutoML V2) with this role."""
    autopilot_row_threshold: int = Field(default=1_000_000, gt=0)
    autopilot_max_runtime_s: int = Field(default=3600, ge=600)
    clarify_timeout_s: int = Field(default=300, ge=0, le=86_400)
    """How long a job waits for the user's answer to a clarifying question (the target column,
    say) before it goes on with its best guess, which it records; 0 never asks."""


class Settings(BaseSettings):
    """All settings of one function; each Lambda reads the parts it needs."""

    model_config = SettingsConfigDict(
        env_prefix="ANALYSTACK_", env_nested_delimiter="__", extra="ignore", frozen=True
    )

    service_name: str = "analystack"
    stage: str = "local"
    aws_region: str = Field(
        default="us-east-1", validation_alias=AliasChoices("AWS_REGION", "AWS_DEFAULT_REGION")
    )
    resources: ResourceNames = Field(default_factory=ResourceNames)
    endpoints: AgentEndpoints = Field(default_factory=AgentEndpoints)
    llm: LlmSettings = Field(default_factory=LlmSettings)
    limits: Limits = Field(default_factory=Limits)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings of this container, parsed and validated once (at cold start)."""
    return Settings()
