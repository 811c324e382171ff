"""Health checks, hostile cards, registration URL rules, the refresh and discovery — no sockets.

Agents are simulated with ``httpx.MockTransport`` handlers; slowness with a fake clock (tests
never depend on wall-clock time).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from analystack.errors import InvalidInputError, NotFoundError
from analystack.registry import (
    AgentChangedError,
    AgentExistsError,
    AgentRecord,
    AgentSkill,
    DeployedAgentError,
    HealthResult,
    InMemoryAgentRegistry,
    InvalidAgentCardError,
    agent_name_from_card,
    check_agent,
    deployed_agents,
    fetch_card,
    refresh_registry,
    validate_agent_url,
)
from analystack.registry.cards import MAX_CARD_BYTES, MAX_SKILLS
from analystack.registry.models import AgentSource
from analystack.settings import AgentEndpoints
from orchestrator.discovery import (
    RefreshAgentsSkill,
    agent_functions_from_registry,
    discover_from_registry,
    routes_from_registry,
    skills_of,
)

pytestmark = pytest.mark.unit

CARD_PATH = "/.well-known/agent-card.json"


def card(name: str, *skills: dict[str, Any]) -> dict[str, Any]:
    """A card in the JSON shape a2a-sdk 1.3 serves."""
    return {
        "name": name,
        "description": f"The {name} agent",
        "version": "0.1.0",
        "supportedInterfaces": [{"url": f"http://{name}.test/", "protocolBinding": "JSONRPC"}],
        "capabilities": {"streaming": False},
        "skills": list(skills)
        or [{"id": f"{name}_skill", "name": name.title(), "description": "does things", "tags": [name]}],
    }


Handler = Callable[[httpx.Request], httpx.Response]


def agent(
    card_body: Any = None,
    *,
    card_status: int = 200,
    health: Any = None,
    health_status: int = 200,
) -> Handler:
    """One simulated agent: its card and its /health (``Exception`` instances are raised)."""
    served_card = card("quality") if card_body is None else card_body
    served_health = {"status": "ok"} if health is None else health

    def respond(body: Any, status: int, request: httpx.Request) -> httpx.Response:
        if isinstance(body, Exception):
            raise body
        if isinstance(body, httpx.Response):
            return body
        if isinstance(body, bytes):
            return httpx.Response(status, content=body)
        return httpx.Response(status, json=body)

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith(CARD_PATH):
            return respond(served_card, card_status, request)
        if request.url.path.endswith("/health"):
            return respond(served_health, health_status, request)
        return httpx.Response(404)

    return handle


def client(handler: Handler) -> httpx.Client:
    return httpx.Client(transport=httpx.MockTransport(handler))


def hosts(**agents: Handler) -> httpx.Client:
    """A client whose requests go to the simulated agent named by the URL's host."""

    def route(request: httpx.Request) -> httpx.Response:
        handler = agents.get(request.url.host.removesuffix(".test"))
        if handler is None:
            raise httpx.ConnectError("connection refused")
        return handler(request)

    return client(route)


class FakeClock:
    """Each reading advances by ``step_s``: every timed call appears to take that long."""

    def __init__(self, step_s: float) -> None:
        self.now = 0.0
        self.step_s = step_s

    def __call__(self) -> float:
        self.now += self.step_s
        return self.now


# --- classification --------------------------------------------------------------------------


def test_card_and_health_ok_and_fast_is_healthy() -> None:
    result = check_agent("http://quality.test/", client(agent()), clock=FakeClock(0.05))
    assert result.status == "healthy"
    assert (result.card_ok, result.health_ok) == (True, True)
    assert result.error is None
    assert result.latency_ms == pytest.approx(50.0)
    assert result.url == "http://quality.test"
    assert result.skills is not None
    assert [s.id for s in result.skills] == ["quality_skill"]


def test_slow_answers_are_degraded_with_a_threshold_parameter() -> None:
    slow = check_agent("http://q.test", client(agent()), clock=FakeClock(2.0))
    assert slow.status == "degraded"
    assert slow.error is not None
    assert slow.error.startswith("slow: 2000 ms")
    assert slow.health_ok  # it answered, just slowly
    relaxed = check_agent("http://q.test", client(agent()), clock=FakeClock(2.0), slow_ms=5000)
    assert relaxed.status == "healthy"


@pytest.mark.parametrize(
    ("health", "status", "error"),
    [
        ({"status": "ok"}, 500, "health: The health response URL answered HTTP 500"),
        ({"status": "failing"}, 200, "health: reports status 'failing'"),
        (httpx.ConnectError("refused"), 200, "health: The health response URL could not be reached"),
        (httpx.ReadTimeout("slow"), 200, "health: The health response URL did not answer in time"),
    ],
)
def test_a_failing_health_endpoint_with_a_good_card_is_degraded(health: Any, status: int, error: str) -> None:
    result = check_agent("http://q.test", client(agent(health=health, health_status=status)))
    assert result.status == "degraded"
    assert result.card_ok
    assert not result.health_ok
    assert result.error == error
    assert result.skills  # the card still counts: the agent stays plannable


@pytest.mark.parametrize(
    ("handler", "error"),
    [
        (agent(card_status=404), "card: The card URL answered HTTP 404"),
        (agent(card_status=503), "card: The card URL answered HTTP 503"),
        (
            agent(httpx.ConnectError("refused by secret-host.internal:8202")),
            "card: The card URL could not be reached",
        ),
        (agent(httpx.ConnectTimeout("timed out")), "card: The card URL did not answer in time"),
        (
            agent(httpx.Response(302, headers={"location": "http://169.254.169.254/latest/meta-data"})),
            "card: The card URL redirects (redirects are not followed)",
        ),
    ],
)
def test_an_unreachable_card_is_down_with_a_sanitised_error(handler: Handler, error: str) -> None:
    result = check_agent("http://q.test", client(handler))
    assert result.status == "down"
    assert result.error == error
    assert result.error_code == "agent_card_unreachable"
    assert result.latency_ms is None
    assert result.skills is None


def test_non_ok_health_text_is_cleaned_and_cut() -> None:
    health = {"status": "\x1b[31mbroken" + "x" * 500}
    result = check_agent("http://q.test", client(agent(health=health)))
    assert result.error is not None
    assert "\x1b" not in result.error
    assert len(result.error) <= 200


# --- hostile cards ---------------------------------------------------------------------------


def _skill(**fields: Any) -> dict[str, Any]:
    return {"id": "s", "name": "S", "description": "d", "tags": ["t"], **fields}


HOSTILE_CARDS: list[tuple[str, Any]] = [
    ("not json", b"<html>hello</html>"),
    ("a list", [card("x")]),
    ("a string", "card"),
    ("no name", {"skills": [_skill()]}),
    ("numeric name", {"name": 42, "skills": [_skill()]}),
    ("blank name", {"name": "  \x00 ", "skills": [_skill()]}),
    ("huge name", {"name": "n" * 201, "skills": [_skill()]}),
    ("no skills", {"name": "x"}),
    ("empty skills", {"name": "x", "skills": []}),
    ("skills object", {"name": "x", "skills": {"id": "s"}}),
    ("skill not object", {"name": "x", "skills": ["s"]}),
    ("skill without id", {"name": "x", "skills": [{"name": "S"}]}),
    ("numeric skill id", {"name": "x", "skills": [_skill(id=7)]}),
    ("skill id with control chars", {"name": "x", "skills": [_skill(id="a\x00b")]}),
    ("description object", {"name": "x", "skills": [_skill(description={"$ne": 1})]}),
    ("huge description", {"name": "x", "skills": [_skill(description="d" * 4001)]}),
    ("tags string", {"name": "x", "skills": [_skill(tags="a,b")]}),
    ("tag number", {"name": "x", "skills": [_skill(tags=["a", 3])]}),
    ("too many tags", {"name": "x", "skills": [_skill(tags=[f"t{i}" for i in range(33)])]}),
    ("too many skills", {"name": "x", "skills": [_skill(id=f"s{i}") for i in range(MAX_SKILLS + 1)]}),
    ("duplicate skill ids", {"name": "x", "skills": [_skill(), _skill()]}),
    ("card description list", {"name": "x", "description": ["a"], "skills": [_skill()]}),
    ("NaN", b'{"name": "x", "skills": [{"id": "s"}], "score": NaN}'),
    ("Infinity", b'{"name": "x", "skills": [{"id": "s"}], "score": -Infinity}'),
    ("overflowing number", b'{"name": "x", "skills": [{"id": "s"}], "score": 1e999}'),
    ("deep nesting", b'{"name": "x", "skills": [{"id": "s"}], "x": ' + b"[" * 5000 + b"]" * 5000 + b"}"),
    (
        "deeper than a record may be",
        {"name": "x", "skills": [_skill()], "x": json.loads("[" * 25 + "]" * 25)},
    ),
    ("unbalanced nesting", b"[" * 60000),
]


@pytest.mark.parametrize(("case", "body"), HOSTILE_CARDS, ids=[c for c, _ in HOSTILE_CARDS])
def test_hostile_cards_are_rejected_with_a_typed_error(case: str, body: Any) -> None:
    with pytest.raises(InvalidAgentCardError) as caught:
        fetch_card("http://evil.test", client(agent(body)))
    assert caught.value.code == "invalid_agent_card"
    assert caught.value.http_status == 400
    result = check_agent("http://evil.test", client(agent(body)))
    assert result.status == "down"
    assert result.error_code == "invalid_agent_card"


def test_an_oversized_card_is_refused_by_its_declared_length() -> None:
    body = json.dumps(card("big") | {"padding": "x" * MAX_CARD_BYTES}).encode()
    with pytest.raises(InvalidAgentCardError, match="larger than"):
        fetch_card("http://big.test", client(agent(body)))


def test_an_oversized_card_is_refused_while_streaming_without_a_length() -> None:
    read: list[int] = []

    def chunks() -> Iterator[bytes]:
        for _ in range(1000):  # 8 MB if read to the end
            read.append(1)
            yield b" " * 8192

    response = httpx.Response(200, content=chunks())  # chunked: no Content-Length
    with pytest.raises(InvalidAgentCardError, match="larger than"):
        fetch_card("http://big.test", client(agent(response)))
    assert len(read) < 20  # the read stopped at the cap, not at the end


def test_card_text_loses_control_characters() -> None:
    body = card("q", _skill(id="s", name="Na\x1b[2Jme", description="line\x00one", tags=["\x07bell"]))
    result = check_agent("http://q.test", client(agent(body)))
    assert result.skills is not None
    skill = result.skills[0]
    assert (skill.name, skill.description, skill.tags) == ("Na [2Jme", "line one", ["bell"])


# --- registration URLs (SSRF rules) ----------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "base"),
    [
        ("https://agents.example.com/a2a/translator", "https://agents.example.com/a2a/translator"),
        ("https://agents.example.com/a2a/translator/", "https://agents.example.com/a2a/translator"),
        ("http://agents.example.com:8080" + CARD_PATH, "http://agents.example.com:8080"),
        ("  https://8.8.8.8/x  ", "https://8.8.8.8/x"),
    ],
)
def test_public_http_urls_are_accepted(url: str, base: str) -> None:
    assert validate_agent_url(url) == base


@pytest.mark.parametrize(
    "url",
    [
        "",
        "ftp://agents.example.com/card",
        "file:///etc/passwd",
        "gopher://x.example.com",
        "agents.example.com/a2a",
        "http://user:secret@agents.example.com",
        "http://agents.example.com/?next=http://10.0.0.1",
        "http://agents.example.com/#frag",
        "http://169.254.169.254/latest/meta-data",
        "http://[fe80::1]/",
        "http://[fd00:ec2::254]/",
        "http://127.0.0.1:8202",
        "http://localhost:8202",
        "http://api.localhost/",
        "http://10.0.0.5/",
        "http://192.168.1.1/",
        "http://100.64.0.1/",
        "http://[::1]:8000/",
        "http://[::ffff:127.0.0.1]/",
        "http://0.0.0.0/",
        "http://2130706433/",
        "http://0x7f.1/",
        "http://017700000001/",
        "http://224.0.0.1/",
        "https://" + "a" * 2100 + ".com",
    ],
)
def test_unsafe_urls_are_refused(url: str) -> None:
    with pytest.raises(InvalidInputError):
        validate_agent_url(url)


def test_private_addresses_only_when_allowed_and_metadata_never() -> None:
    assert validate_agent_url("http://127.0.0.1:8202/", allow_private=True) == "http://127.0.0.1:8202"
    assert validate_agent_url("http://localhost:8202", allow_private=True) == "http://localhost:8202"
    with pytest.raises(InvalidInputError):
        validate_agent_url("http://169.254.169.254/", allow_private=True)


@pytest.mark.parametrize(
    ("name", "slug"),
    [("quality", "quality"), ("Data Quality Agent", "data-quality-agent"), ("My_Bot 2", "my_bot-2")],
)
def test_card_names_become_registry_names(name: str, slug: str) -> None:
    assert agent_name_from_card(name) == slug


@pytest.mark.parametrize("name", ["번역기", "42", "---"])
def test_card_names_that_make_no_registry_name_ask_for_one(name: str) -> None:
    with pytest.raises(InvalidInputError, match="send a 'name'"):
        agent_name_from_card(name)


# --- the registry contract (in memory; the DynamoDB one runs in the functional tier) -------


def record(
    name: str, *, source: AgentSource = "runtime", url: str | None = None, **fields: Any
) -> AgentRecord:
    return AgentRecord(agent=name, url=url or f"http://{name}.test", source=source, **fields)


def test_in_memory_registry_follows_the_registry_rules() -> None:
    registry = InMemoryAgentRegistry()
    registry.put(record("translator"))
    with pytest.raises(AgentExistsError):
        registry.put(record("translator", url="http://other.test"))
    registry.put(record("translator", url="http://other.test"), replace=True)
    assert registry.get("translator").url == "http://other.test"
    assert registry.put_deployed(record("quality", source="deployed"))
    assert not registry.put_deployed(record("translator"))  # a runtime registration holds the name
    with pytest.raises(DeployedAgentError):
        registry.remove("quality")
    with pytest.raises(AgentChangedError):
        registry.record_health("translator", HealthResult(url="http://translator.test", status="down"))
    with pytest.raises(NotFoundError):
        registry.record_health("ghost", HealthResult(url="http://ghost.test", status="down"))
    registry.remove("translator")
    with pytest.raises(NotFoundError):
        registry.get("translator")
    registry.remove("quality", allow_deployed=True)
    assert registry.list() == []


# --- the refresh -----------------------------------------------------------------------------


def test_refresh_seeds_deployed_agents_rechecks_runtime_ones_and_prunes_stale_ones() -> None:
    registry = InMemoryAgentRegistry(
        [
            record("translator", status="healthy"),  # runtime: now failing /health
            record("automl", url="http://myautoml.test", status="healthy"),  # runtime replacement
            record("mlops", source="deployed", status="healthy"),  # no longer deployed
            record(
                "eda",
                source="deployed",
                status="healthy",
                registered_at="2025-01-01T00:00:00.000000Z",
                skills=[AgentSkill(id="explore")],
            ),
        ]
    )
    http = hosts(
        quality=agent(card("quality", _skill(id="assess_quality", tags=["quality"]))),
        translator=agent(card("translator"), health_status=500),
        myautoml=agent(card("automl")),
        automl=agent(card("automl")),
        # eda: nothing answers
    )
    deployed = {
        "quality": ("http://quality.test/", "analystack-quality"),
        "eda": ("http://eda.test", "analystack-eda"),
        "automl": ("http://automl.test", "analystack-automl"),
    }
    summary = refresh_registry(registry, http, deployed)

    assert summary.agents == {
        "quality": "healthy",
        "eda": "down",
        "translator": "degraded",
        "automl": "healthy",
    }
    assert sorted(summary.seeded) == ["eda", "quality"]
    assert summary.pruned == ["mlops"]
    assert summary.skipped == ["automl"]  # the operator's replacement is kept
    quality = registry.get("quality")
    assert (quality.source, quality.function_name, quality.url) == (
        "deployed",
        "analystack-quality",
        "http://quality.test",
    )
    assert [s.id for s in quality.skills] == ["assess_quality"]
    assert quality.card is not None
    assert quality.card["name"] == "quality"
    eda = registry.get("eda")
    assert eda.status == "down"
    assert eda.last_error == "card: The card URL could not be reached"
    assert [s.id for s in eda.skills] == ["explore"]  # what it last advertised is kept
    assert eda.registered_at == "2025-01-01T00:00:00.000000Z"
    assert registry.get("automl").url == "http://myautoml.test"
    assert registry.get("translator").status == "degraded"
    with pytest.raises(NotFoundError):
        registry.get("mlops")
    assert summary.text() == "Checked 4 agents: 2 healthy, 1 degraded, 1 down"


def test_refresh_without_pruning_keeps_and_rechecks_unlisted_deployed_records() -> None:
    registry = InMemoryAgentRegistry([record("mlops", source="deployed", status="healthy")])
    summary = refresh_registry(registry, hosts(), {}, prune=False)
    assert summary.agents == {"mlops": "down"}
    assert registry.get("mlops").status == "down"


def test_a_health_check_updates_the_skills_when_the_card_changed() -> None:
    registry = InMemoryAgentRegistry([record("translator", skills=[AgentSkill(id="old")], status="healthy")])
    refresh_registry(registry, hosts(translator=agent(card("translator", _skill(id="new")))), {})
    assert [s.id for s in registry.get("translator").skills] == ["new"]


def test_deployed_agents_come_from_the_endpoint_settings() -> None:
    endpoints = AgentEndpoints(
        public_api_url="https://api.example.com/prod",
        agent_urls={"quality": "http://127.0.0.1:8202/"},
        agent_functions={
            "quality": "stack-quality",
            "eda": "stack-eda",
            "orchestrator": "stack-orchestrator",
        },
    )
    assert deployed_agents(endpoints, exclude=["orchestrator"]) == {
        "eda": ("https://api.example.com/prod/a2a/eda", "stack-eda"),
        "quality": ("http://127.0.0.1:8202", "stack-quality"),
    }


def test_the_refresh_skill_reports_the_outcome() -> None:
    from analystack.a2a_kit import SkillRequest

    registry = InMemoryAgentRegistry()
    reported: list[tuple[float, str]] = []

    def report(progress: float, message: str, *, stage: str | None = None) -> None:
        reported.append((progress, message))

    skill = RefreshAgentsSkill(
        registry=registry,
        deployed={"quality": ("http://quality.test", "analystack-quality")},
        http_factory=lambda: hosts(quality=agent()),
    )
    result = skill(SkillRequest(skill="refresh_agents"), report)
    assert result.outputs["agents"] == {"quality": "healthy"}
    assert result.summary == "Checked 1 agents: 1 healthy, 0 degraded, 0 down"
    assert reported
    assert registry.get("quality").status == "healthy"


# --- discovery -------------------------------------------------------------------------------


def test_discovery_offers_available_plannable_skills_only() -> None:
    registry = InMemoryAgentRegistry(
        [
            record(
                "quality",
                source="deployed",
                status="healthy",
                function_name="f-q",
                skills=[AgentSkill(id="assess_quality", description="profile", tags=["quality"])],
            ),
            record(
                "eda",
                source="deployed",
                status="degraded",
                function_name="f-e",
                skills=[AgentSkill(id="explore")],
            ),
            record(
                "automl",
                source="deployed",
                status="down",
                function_name="f-a",
                skills=[AgentSkill(id="train_model")],
            ),
            record(
                "translator",
                status="healthy",
                function_name="f-t",
                skills=[AgentSkill(id="translate_text"), AgentSkill(id="bad id/with slash")],
            ),
            record("webonly", status="healthy", skills=[AgentSkill(id="search")]),
            record(
                "orchestrator",
                source="deployed",
                status="healthy",
                function_name="f-o",
                skills=[AgentSkill(id="analyze")],
            ),
        ]
    )
    offered = {(info.agent, info.skill) for info in discover_from_registry(registry)}
    assert offered == {
        ("quality", "assess_quality"),
        ("eda", "explore"),
        ("translator", "translate_text"),  # registered at runtime: plannable without a redeploy
        ("webonly", "search"),  # HTTP-only: plans relay to it
    }
    with_functions = {i.agent for i in skills_of(registry.list(), require_function=True)}
    assert with_functions == {"quality", "eda", "translator"}
    routes = {route.agent: route for route in routes_from_registry(registry)}
    assert set(routes) == {"quality", "eda", "automl", "translator", "webonly"}
    assert routes["webonly"].function_name is None
    assert routes["webonly"].url == "http://webonly.test"
    assert routes["automl"].status == "down"  # routing itself skips down agents
    assert routes["translator"].skills == ("translate_text", "bad id/with slash")
    base = {"quality": "stack-quality", "automl": "stack-automl", "orchestrator": "stack-orchestrator"}
    assert agent_functions_from_registry(registry, base=base) == {
        "quality": "f-q",  # the registry's record wins
        "automl": "stack-automl",  # down in the registry: the stack's function stays
        "eda": "f-e",
        "translator": "f-t",
        "orchestrator": "stack-orchestrator",  # never re-pointed through the registry
    }


def test_discovery_falls_back_to_live_cards_while_the_registry_is_empty() -> None:
    http = hosts(quality=agent(card("quality", _skill(id="assess_quality"))))
    urls = {
        "quality": "http://quality.test",
        "eda": "http://eda.test",
        "orchestrator": "http://orchestrator.test",
    }
    offered = discover_from_registry(InMemoryAgentRegistry(), fallback_urls=urls, http=http)
    assert [(i.agent, i.skill) for i in offered] == [("quality", "assess_quality")]
    assert discover_from_registry(InMemoryAgentRegistry()) == []
