"""The agent registry on the moto server, with real agents over HTTP.

The deployed agents are the local cloud's (their A2A apps on loopback ports); the runtime agent
is a real A2A app (the project's kit) served by uvicorn on a free port, which the test stops to
see its health flip to down. The gateway's ``/agents`` routes run in-process (FastAPI
``TestClient``) with the same error mapping as the gateway app.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.testclient import TestClient

from analystack.aws import client
from analystack.errors import AnalystackError, InvalidInputError, NotFoundError
from analystack.localcloud.cloud import free_port
from analystack.registry import (
    CARD_PATH,
    AgentChangedError,
    AgentExistsError,
    AgentRecord,
    AgentRegistry,
    AgentSkill,
    DeployedAgentError,
    DynamoDbAgentRegistry,
    HealthResult,
    InMemoryAgentRegistry,
    new_http_client,
    rank_agents,
    refresh_registry,
)
from functions.gateway.agents_api import create_agents_router
from orchestrator.discovery import (
    REFRESH_AGENTS_EVENT,
    RefreshAgentsSkill,
    discover_from_registry,
    routes_from_registry,
)

pytestmark = pytest.mark.functional

#: No wall-clock flakiness: on a busy machine a loopback call may take long, and "slow" is not
#: what these tests are about (the unit tier covers the threshold with a fake clock).
RELAXED_MS = 60_000.0


@pytest.fixture
def registry(cloud: Any) -> DynamoDbAgentRegistry:
    return DynamoDbAgentRegistry(
        table=cloud.stack.tables["AgentRegistryTable"], dynamodb_client=client("dynamodb")
    )


@pytest.fixture(params=["dynamodb", "memory"])
def any_registry(request: pytest.FixtureRequest) -> AgentRegistry:
    """The contract holds for both implementations (the unit tier uses the in-memory one)."""
    if request.param == "memory":
        return InMemoryAgentRegistry()
    registry: AgentRegistry = request.getfixturevalue("registry")
    return registry


def deployed_of(cloud: Any) -> dict[str, tuple[str, str | None]]:
    return {name: (cloud.agent_url(name), cloud.function_name(name)) for name in cloud.agent_names()}


# --- the registry contract -------------------------------------------------------------------


def test_registry_round_trip(any_registry: AgentRegistry) -> None:
    card = {"name": "translator", "version": "1.0", "n": 42, "x": 0.1, "ko": "번역", "skills": [{"id": "t"}]}
    translator = AgentRecord(
        agent="translator",
        url="http://translator.test",
        function_name="analystack-translator",
        skills=[
            AgentSkill(id="translate_text", name="Translate", tags=["translation"], examples=["번역해줘"])
        ],
        card=card,
        status="healthy",
        latency_ms=12.5,
        checked_at="2025-06-01T00:00:00.000000Z",
    )
    any_registry.put(translator)
    assert any_registry.get("translator") == translator  # the card's numbers and text come back exact
    with pytest.raises(AgentExistsError):
        any_registry.put(translator.model_copy(update={"url": "http://elsewhere.test"}))
    any_registry.put(translator.model_copy(update={"url": "http://elsewhere.test"}), replace=True)
    assert any_registry.get("translator").url == "http://elsewhere.test"

    quality = AgentRecord(agent="quality", url="http://quality.test", source="deployed", status="healthy")
    assert any_registry.put_deployed(quality)
    assert any_registry.put_deployed(quality.model_copy(update={"status": "degraded"}))  # updates its own
    assert not any_registry.put_deployed(translator.model_copy(update={"source": "deployed"}))
    assert any_registry.get("translator").source == "runtime"
    assert [r.agent for r in any_registry.list()] == ["quality", "translator"]

    # Health: a down result clears the latency and records the error; a healthy one clears the error.
    any_registry.record_health(
        "quality", HealthResult(url="http://quality.test", status="down", error="card: unreachable")
    )
    down = any_registry.get("quality")
    assert (down.status, down.latency_ms, down.last_error) == ("down", None, "card: unreachable")
    new_skills = [AgentSkill(id="assess_quality")]
    any_registry.record_health(
        "quality",
        HealthResult(
            url="http://quality.test",
            status="healthy",
            latency_ms=3.0,
            card={"name": "quality", "skills": [{"id": "assess_quality"}]},
            skills=new_skills,
        ),
    )
    healthy = any_registry.get("quality")
    assert (healthy.status, healthy.latency_ms, healthy.last_error) == ("healthy", 3.0, None)
    assert healthy.skills == new_skills
    with pytest.raises(AgentChangedError):  # checked the old URL: not stamped on the new record
        any_registry.record_health("translator", HealthResult(url="http://translator.test", status="down"))
    with pytest.raises(NotFoundError):
        any_registry.record_health("ghost", HealthResult(url="http://ghost.test", status="down"))

    with pytest.raises(DeployedAgentError):
        any_registry.remove("quality")
    with pytest.raises(NotFoundError):
        any_registry.remove("ghost")
    any_registry.remove("translator")
    with pytest.raises(NotFoundError):
        any_registry.get("translator")
    any_registry.remove("quality", allow_deployed=True)
    assert any_registry.list() == []


# --- seeding from the deployed agents' cards -------------------------------------------------


def test_deployed_agents_are_seeded_from_their_cards_and_ranked(
    cloud: Any, registry: DynamoDbAgentRegistry
) -> None:
    deployed = deployed_of(cloud)
    with new_http_client() as http:
        summary = refresh_registry(registry, http, deployed, slow_ms=RELAXED_MS)
    assert set(summary.seeded) == set(deployed)
    assert all(status == "healthy" for status in summary.agents.values()), summary.agents
    quality = registry.get("quality")
    assert quality.source == "deployed"
    assert quality.function_name == cloud.function_name("quality")
    assert "assess_quality" in {skill.id for skill in quality.skills}
    assert quality.card is not None
    assert quality.card["name"] == "quality"
    assert quality.latency_ms is not None

    records = registry.list()
    assert rank_agents("find missing values and outliers", records)[0].agent == "quality"
    assert rank_agents("예측 모델을 만들어줘", records)[0].agent == "automl"
    offered = {(info.agent, info.skill) for info in discover_from_registry(registry)}
    assert ("quality", "assess_quality") in offered
    assert "orchestrator" not in {agent for agent, _ in offered}


# --- runtime registration over the gateway routes --------------------------------------------


def _translate(request: Any, report: Any) -> Any:
    from analystack.a2a_kit import SkillResult

    return SkillResult(outputs={"text": str(request.inputs.get("text", ""))[::-1]}, summary="translated")


def _hostile_card_router() -> APIRouter:
    router = APIRouter()

    @router.get("/evil" + CARD_PATH)
    async def evil_card() -> dict[str, Any]:
        return {"name": "evil", "skills": [{"id": "x", "description": {"$gt": ""}}]}

    return router


class AgentServer:
    """A real A2A agent app (the project's kit) on a loopback port, stoppable mid-test."""

    def __init__(self) -> None:
        import uvicorn

        from analystack.a2a_kit import SkillSpec, build_agent_service

        service = build_agent_service(
            name="translator",
            description="Translates text between Korean and English",
            skills=[
                SkillSpec(
                    id="translate_text",
                    name="Translate text",
                    description="Translates reviews, comments and other text between Korean and English.",
                    tags=("translation", "korean", "english", "번역"),
                    examples=("translate these reviews to English", "이 문장을 영어로 번역해줘"),
                )
            ],
            handlers={"translate_text": _translate},
            routers=[_hostile_card_router()],
        )
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            service.app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off"
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="translator", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 20
        while not self._server.started:
            assert self._thread.is_alive(), "the agent server did not start"
            assert time.monotonic() < deadline, "the agent server did not start in time"
            time.sleep(0.02)

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)


@pytest.fixture
def translator(cloud: Any) -> Iterator[AgentServer]:
    server = AgentServer()
    try:
        yield server
    finally:
        server.stop()


def gateway_for(
    registry: AgentRegistry, deployed: dict[str, tuple[str, str | None]], **options: Any
) -> TestClient:
    """The /agents routes with the gateway's error mapping (functions/gateway/app.py)."""
    app = FastAPI()

    @app.exception_handler(AnalystackError)
    async def analystack_error(_: Request, exc: AnalystackError) -> JSONResponse:
        return JSONResponse({"error": exc.to_dict()}, status_code=exc.http_status)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"error": InvalidInputError("Invalid request").to_dict()}, status_code=400)

    app.include_router(
        create_agents_router(lambda: registry, get_deployed=lambda: deployed, slow_ms=RELAXED_MS, **options)
    )
    return TestClient(app)


def _error(response: Any) -> str:
    return str(response.json()["error"]["code"])


def test_runtime_registration_makes_skills_plannable_and_health_follows_the_server(
    cloud: Any, registry: DynamoDbAgentRegistry, translator: AgentServer
) -> None:
    api = gateway_for(registry, deployed_of(cloud), allow_private_urls=True)

    # First read of an empty registry seeds it from the deployed agents' cards.
    listed = api.get("/agents")
    assert listed.status_code == 200, listed.text
    agents = {a["agent"]: a for a in listed.json()["agents"]}
    assert set(agents) == set(cloud.agent_names())
    assert agents["quality"]["status"] == "healthy"
    assert agents["quality"]["source"] == "deployed"

    # Register the new agent by its card URL; the name comes from its card.
    created = api.post("/agents", json={"card_url": translator.url + CARD_PATH})
    assert created.status_code == 201, created.text
    body = created.json()
    assert (body["agent"], body["url"], body["source"], body["status"]) == (
        "translator",
        translator.url,
        "runtime",
        "healthy",
    )
    assert [s["id"] for s in body["skills"]] == ["translate_text"]
    assert created.headers["location"] == "/agents/translator"
    again = api.post("/agents", json={"card_url": translator.url})
    assert (again.status_code, _error(again)) == (409, "agent_exists")
    replaced = api.post("/agents", json={"card_url": translator.url, "replace": True})
    assert replaced.status_code == 201, replaced.text
    assert api.get("/agents/translator").json()["agent"] == "translator"

    # Plannable without a redeploy, routed to its URL, and ranked for a matching task.
    assert ("translator", "translate_text") in {(i.agent, i.skill) for i in discover_from_registry(registry)}
    route = next(r for r in routes_from_registry(registry) if r.agent == "translator")
    assert (route.url, route.function_name, route.status) == (translator.url, None, "healthy")
    ranking = api.get("/agents/rank", params={"task": "이 리뷰들을 영어로 번역해줘"})
    assert ranking.status_code == 200, ranking.text
    assert ranking.json()["method"] == "lexical"
    assert ranking.json()["agents"][0]["agent"] == "translator"
    assert (
        api.get("/agents/rank", params={"task": "find missing values and outliers"}).json()["agents"][0][
            "agent"
        ]
        == "quality"
    )

    # The agent's server stops: the next check marks it down and it leaves the planner's choices.
    translator.stop()
    refreshed = api.get("/agents", params={"refresh": "true"})
    assert refreshed.status_code == 200, refreshed.text
    after = {a["agent"]: a for a in refreshed.json()["agents"]}
    assert after["translator"]["status"] == "down"
    assert after["translator"]["last_error"] == "card: The card URL could not be reached"
    assert after["quality"]["status"] == "healthy"
    assert "translator" not in {i.agent for i in discover_from_registry(registry)}
    ranked = api.get("/agents/rank", params={"task": "이 리뷰들을 영어로 번역해줘"}).json()["agents"]
    assert "translator" not in {a["agent"] for a in ranked}

    # Removal: runtime agents go, deployed ones are refused with a typed 409.
    assert api.delete("/agents/translator").status_code == 204
    missing = api.get("/agents/translator")
    assert (missing.status_code, _error(missing)) == (404, "not_found")
    deployed = api.delete("/agents/quality")
    assert (deployed.status_code, _error(deployed)) == (409, "agent_deployed")
    assert registry.get("quality").source == "deployed"
    ghost = api.delete("/agents/ghost")
    assert (ghost.status_code, _error(ghost)) == (404, "not_found")


def test_registration_refuses_bad_urls_and_cards_with_typed_errors(
    cloud: Any, registry: DynamoDbAgentRegistry, translator: AgentServer
) -> None:
    api = gateway_for(registry, deployed_of(cloud), allow_private_urls=True)
    cases: list[tuple[dict[str, Any], int, str]] = [
        ({"card_url": "http://169.254.169.254/latest/meta-data"}, 400, "invalid_input"),
        ({"card_url": "ftp://127.0.0.1/card"}, 400, "invalid_input"),
        ({"card_url": f"http://127.0.0.1:{free_port()}"}, 502, "agent_card_unreachable"),  # nobody listens
        ({"card_url": translator.url + "/nothing-here"}, 502, "agent_card_unreachable"),  # 404
        ({"card_url": translator.url + "/evil"}, 400, "invalid_agent_card"),
        ({"card_url": translator.url, "name": "Not A Name!"}, 400, "invalid_input"),
        ({"card_url": translator.url, "function_name": "bad name with spaces"}, 400, "invalid_input"),
        ({"name": "translator"}, 400, "invalid_input"),
    ]
    for body, status, code in cases:
        response = api.post("/agents", json=body)
        assert (response.status_code, _error(response)) == (status, code), (body, response.text)
    assert registry.list() == []  # nothing half-registered

    # A deployed stack's gateway refuses loopback and private URLs outright.
    strict = gateway_for(registry, deployed_of(cloud))
    refused = strict.post("/agents", json={"card_url": translator.url})
    assert (refused.status_code, _error(refused)) == (400, "invalid_input")
    assert strict.get("/agents/rank").status_code == 400  # task is required
    assert strict.delete("/agents/Bad!").status_code == 400


def test_the_scheduled_event_runs_the_refresh_through_a_lambda_handler(
    cloud: Any, registry: DynamoDbAgentRegistry, lambda_context: Any
) -> None:
    """The schedule's payload, through the kit's Lambda handler, reaches ``RefreshAgentsSkill``."""
    import copy

    from analystack.a2a_kit import SkillSpec, build_agent_service

    deployed = {name: spec for name, spec in deployed_of(cloud).items() if name in ("quality", "eda")}
    service = build_agent_service(
        name="orchestrator",
        description="probe",
        skills=[SkillSpec(id="refresh_agents", name="Refresh the agent registry", description="health")],
        handlers={
            "refresh_agents": RefreshAgentsSkill(registry=registry, deployed=deployed, slow_ms=RELAXED_MS)
        },
    )
    result = service.handler(copy.deepcopy(REFRESH_AGENTS_EVENT), lambda_context("orchestrator"))
    assert result["state"] == "TASK_STATE_COMPLETED"
    assert result["outputs"]["agents"] == {"eda": "healthy", "quality": "healthy"}
    assert {r.agent: r.status for r in registry.list()} == {"eda": "healthy", "quality": "healthy"}
