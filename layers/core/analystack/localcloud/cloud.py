"""The embedded local cloud: moto's AWS server in-process with the template deployed on it.

``LocalCloud`` starts moto on loopback, turns on Step Functions execution, deploys
``infra/template.yaml`` with the project's deployer, routes Lambda invokes (including the ones
Step Functions makes) to the real handlers in-process, serves the template's HTTP API routes
through those handlers (API Gateway v2 events), and serves each agent's A2A app on its seed
port. The process environment is set the way Lambda would set it for the functions.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from analystack.localcloud.deployer import DeployedStack, deploy
from analystack.localcloud.dispatch import HandlerRegistry, install

# The seed's port map, kept for local runs.
SEED_PORTS: dict[str, int] = {
    "aws": 4566,
    "gateway": 8000,
    "orchestrator": 8100,
    "ingestion": 8201,
    "quality": 8202,
    "eda": 8203,
    "visualization": 8204,
    "automl": 8205,
    "mlops": 8206,
    "codegen": 8207,
    "nlp": 8208,
    "realtime": 8209,
}
NON_AGENT_FUNCTIONS = {"gateway", "progress"}  # HTTP/WebSocket services, not A2A agents


class PortInUseError(RuntimeError):
    """A port the local cloud needs is taken (another stack running?)."""


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _check_port(host: str, port: int, what: str) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                raise PortInUseError(
                    f"Port {port} ({what}) on {host} is already in use. Is another 'analystack up' running? "
                    f"Stop it, or choose other ports (see 'analystack up --help')."
                ) from None
            raise


@dataclass
class _ServerThread:
    name: str
    port: int
    server: Any
    thread: threading.Thread


@dataclass
class LocalCloud:
    host: str = "127.0.0.1"
    ports: dict[str, int] = field(default_factory=lambda: dict(SEED_PORTS))
    stack_name: str = "analystack"
    region: str = "us-east-1"
    serve_http: bool = True
    template_path: Path | None = None
    # "thread": every handler in this process (fast to start; tests). "process": each function in
    # execution environments of its own, as on Lambda (see analystack.localcloud.workers).
    isolation: str = "thread"
    # With process isolation: start one environment per function before serving (no cold starts).
    prewarm: bool = False
    registry: HandlerRegistry = field(init=False)
    stack: DeployedStack | None = None
    _moto: Any = None
    _servers: list[_ServerThread] = field(default_factory=list)
    _undo_dispatch: Any = None

    def __post_init__(self) -> None:
        self.registry = HandlerRegistry(isolation=self.isolation)

    @classmethod
    def on_free_ports(cls, **kwargs: Any) -> LocalCloud:
        """A cloud on ephemeral ports (tests, and `analyze` while another stack holds the seed ports)."""
        return cls(ports={name: free_port() for name in SEED_PORTS}, **kwargs)

    @property
    def aws_endpoint(self) -> str:
        return f"http://{self.host}:{self.ports['aws']}"

    @property
    def api_url(self) -> str:
        return f"http://{self.host}:{self.ports['gateway']}"

    def agent_url(self, agent: str) -> str:
        return f"http://{self.host}:{self.ports[agent]}"

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> LocalCloud:
        import logging

        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request drowns the CLI
        # The ASL interpreter logs every failed state with its whole parse tree; the failures are
        # expected flows (Catch paths) and reach the job record and execution history anyway.
        logging.getLogger("moto.stepfunctions.parser").setLevel(logging.CRITICAL)

        _check_port(self.host, self.ports["aws"], "embedded AWS")
        if self.serve_http:
            for name in ("gateway", "orchestrator", "ingestion", "quality"):
                _check_port(self.host, self.ports[name], name)
        self._environment_for_aws()
        self._moto = ThreadedMotoServer(ip_address=self.host, port=self.ports["aws"], verbose=False)
        self._moto.start()
        self._configure_moto()
        self.deploy()
        if self.prewarm:
            self.registry.prewarm()
        if self.serve_http:
            self._serve()
            self.refresh_agents()
        return self

    def refresh_agents(self) -> None:
        """Seed the agent registry from the served agents' cards and health-check them, as the
        template's schedule does on AWS (schedules do not fire here)."""
        from analystack.registry import deployed_agents, new_http_client, refresh_registry
        from analystack.runtime import agent_registry
        from analystack.settings import get_settings

        agent_registry.cache_clear()  # the table name comes from this deploy's settings
        with new_http_client() as http:
            refresh_registry(agent_registry(), http, deployed_agents(get_settings().endpoints))

    def stop(self) -> None:
        for server in reversed(self._servers):
            server.server.should_exit = True
        for server in self._servers:
            server.thread.join(timeout=10)
        self._servers.clear()
        if self._undo_dispatch:
            self._undo_dispatch()
            self._undo_dispatch = None
        self.registry.stop()
        if self._moto is not None:
            self._moto.stop()
            self._moto = None

    def __enter__(self) -> LocalCloud:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def deploy(self) -> DeployedStack:
        from analystack.aws import client
        from analystack.settings import get_settings

        self.stack = deploy(
            client, stack_name=self.stack_name, region=self.region, template_path=self.template_path
        )
        os.environ.update(self.stack.shared_environment())
        agent_urls = {
            name: self.agent_url(name) if self.serve_http else f"{self.api_url}/a2a/{name}"
            for name in self.agent_names()
        }
        os.environ["ANALYSTACK_ENDPOINTS__AGENT_URLS"] = json.dumps(agent_urls)
        os.environ["ANALYSTACK_ENDPOINTS__PUBLIC_API_URL"] = self.api_url
        # Agents here live on loopback, so registering one at a loopback URL must be allowed.
        os.environ["ANALYSTACK_ENDPOINTS__ALLOW_PRIVATE_AGENT_URLS"] = "true"
        get_settings.cache_clear()
        for spec in self.stack.functions.values():
            self.registry.register(
                spec.name,
                spec.arn,
                spec.handler,
                spec.timeout,
                memory_size=spec.memory_size,
                environment=spec.environment,
            )
        if self._undo_dispatch is None:
            self._undo_dispatch = install(self.registry)
        return self.stack

    def reset(self) -> None:
        """Wipe every resource's state and deploy again (tests isolate themselves with this)."""
        httpx.post(f"{self.aws_endpoint}/moto-api/reset", timeout=30).raise_for_status()
        self._configure_moto()
        self.deploy()

    def agent_names(self) -> list[str]:
        assert self.stack is not None
        prefix = f"{self.stack_name}-"
        names = [f.name.removeprefix(prefix) for f in self.stack.functions.values()]
        return sorted(n for n in names if n not in NON_AGENT_FUNCTIONS)

    def function_name(self, short_name: str) -> str:
        return f"{self.stack_name}-{short_name}"

    # ------------------------------------------------------------------ internals
    def _environment_for_aws(self) -> None:
        # Credentials are required by boto3 even though moto ignores them; real ones are never
        # sent anywhere because the endpoint is loopback.
        os.environ.setdefault("AWS_ACCESS_KEY_ID", "analystack-local")
        os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "analystack-local")
        os.environ["AWS_DEFAULT_REGION"] = self.region
        os.environ["AWS_REGION"] = self.region
        os.environ["AWS_ENDPOINT_URL"] = self.aws_endpoint
        # The Step Functions interpreter calls back into moto on localhost:MOTO_PORT.
        os.environ["MOTO_PORT"] = str(self.ports["aws"])
        os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
        os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "Analystack")
        # EMF lines are for CloudWatch Logs, which the local cloud does not ingest.
        os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
        from analystack.aws import reset_clients

        reset_clients()

    def _configure_moto(self) -> None:
        response = httpx.post(
            f"{self.aws_endpoint}/moto-api/config",
            json={"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}},
            timeout=30,
        )
        response.raise_for_status()

    def _serve(self) -> None:
        import importlib

        from analystack.localcloud.bridge import create_bridge_app

        assert self.stack is not None
        names = {logical: spec.name for logical, spec in self.stack.functions.items()}
        gateway = next(s for s in self.stack.functions.values() if s.name == self.function_name("gateway"))
        gateway_app = importlib.import_module(gateway.handler.rpartition(".")[0]).app
        bridge = create_bridge_app(self.stack.routes, names, self.registry.invoke, websocket_app=gateway_app)
        self._start_uvicorn("gateway", bridge, self.ports["gateway"])
        for spec in self.stack.functions.values():
            short = spec.name.removeprefix(f"{self.stack_name}-")
            if short in NON_AGENT_FUNCTIONS or short not in self.ports:
                continue
            module = importlib.import_module(spec.handler.rpartition(".")[0])
            self._start_uvicorn(short, module.app, self.ports[short])

    def _start_uvicorn(self, name: str, app: Any, port: int) -> None:
        import uvicorn

        config = uvicorn.Config(
            app, host=self.host, port=port, log_level="warning", lifespan="off", access_log=False
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, name=f"http-{name}", daemon=True)
        thread.start()
        deadline = time.monotonic() + 20
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise PortInUseError(f"Could not serve {name} on {self.host}:{port}")
            time.sleep(0.02)
        self._servers.append(_ServerThread(name=name, port=port, server=server, thread=thread))


@contextlib.contextmanager
def running_cloud(**kwargs: Any) -> Any:
    cloud = LocalCloud(**kwargs)
    try:
        yield cloud.start()
    finally:
        cloud.stop()
