"""API gateway (port 8000): wiring only; routes in app.py, logic in service.py."""

from functools import lru_cache

from analystack.a2a_kit.lambda_handler import make_lambda_handler
from analystack.aws import client
from analystack.registry import deployed_agents
from analystack.runtime import agent_registry, data_hub, event_log, job_store
from analystack.settings import get_settings
from functions.gateway.agents_api import create_agents_router
from functions.gateway.app import create_gateway_app
from functions.gateway.service import AnalysisService, LambdaOrchestratorClient, StepFunctionsCallbacks


@lru_cache(maxsize=1)
def _service() -> AnalysisService:
    settings = get_settings()
    return AnalysisService(
        hub=data_hub(),
        jobs=job_store(),
        events=event_log(),
        orchestrator=LambdaOrchestratorClient(
            lambda_client=client("lambda"), function_name=settings.endpoints.agent_functions["orchestrator"]
        ),
        max_upload_bytes=settings.limits.max_upload_bytes,
        callbacks=StepFunctionsCallbacks(sfn_client=client("stepfunctions")),
    )


def get_service() -> AnalysisService:
    # A plain function: FastAPI would read lru_cache's (*args, **kwargs) as request parameters.
    return _service()


agents_router = create_agents_router(
    agent_registry,
    get_deployed=lambda: deployed_agents(get_settings().endpoints),
    allow_private_urls=get_settings().endpoints.allow_private_agent_urls,
)
app = create_gateway_app(get_service=get_service, routers=[agents_router])
handler = make_lambda_handler(app)
