"""Agent Card builder: every agent describes itself the same way."""

from __future__ import annotations

from dataclasses import dataclass

from a2a.types import AgentCapabilities, AgentCard, AgentInterface, AgentProvider, AgentSkill
from a2a.utils.constants import PROTOCOL_VERSION_1_0, TransportProtocol

JSONRPC_PATH = "/"


@dataclass(frozen=True)
class SkillSpec:
    id: str
    name: str
    description: str
    tags: tuple[str, ...] = ()
    examples: tuple[str, ...] = ()
    input_modes: tuple[str, ...] = ("application/json", "text/plain")
    output_modes: tuple[str, ...] = ("application/json", "text/plain")


def build_agent_card(
    *,
    name: str,
    description: str,
    skills: list[SkillSpec],
    base_url: str,
    version: str = "0.1.0",
    streaming: bool = False,
) -> AgentCard:
    """The card served at ``/.well-known/agent-card.json``.

    ``base_url`` comes from settings (the function's public URL): cards have no ``url`` field in
    A2A 1.0, only ``supported_interfaces``. Lambda-hosted agents pass ``streaming=False`` because
    API Gateway and Mangum buffer responses.
    """
    root = base_url.rstrip("/")
    return AgentCard(
        name=name,
        description=description,
        version=version,
        provider=AgentProvider(organization="Analystack", url="https://github.com/analystack"),
        supported_interfaces=[
            AgentInterface(
                url=root + JSONRPC_PATH,
                protocol_binding=TransportProtocol.JSONRPC.value,
                protocol_version=PROTOCOL_VERSION_1_0,
            ),
            AgentInterface(
                url=root,
                protocol_binding=TransportProtocol.HTTP_JSON.value,
                protocol_version=PROTOCOL_VERSION_1_0,
            ),
        ],
        capabilities=AgentCapabilities(streaming=streaming, push_notifications=False),
        default_input_modes=["application/json", "text/plain"],
        default_output_modes=["application/json", "text/plain"],
        skills=[
            AgentSkill(
                id=s.id,
                name=s.name,
                description=s.description,
                tags=list(s.tags) or [s.id],  # the spec requires at least one tag
                examples=list(s.examples),
                input_modes=list(s.input_modes),
                output_modes=list(s.output_modes),
            )
            for s in skills
        ],
    )
