"""Cold-start benchmark: each function's init in a fresh Python process.

Init = importing the handler module (which builds settings, clients, the app and the Lambda
handler at module scope, as on Lambda) plus answering one card/health request through the
Lambda handler. Prints the median of several runs per function, the target, and the modules
that dominate (self + children time from ``-X importtime``).

Run: .venv/bin/python bench/cold_start.py [--runs 7]
Targets on this machine (issue 3): gateway <= 0.6 s, orchestrator <= 1.0 s, data agents <= 1.5 s.
Note: in the development venv, httpx imports its optional CLI (rich, click) because they are
installed; Lambda packages do not ship them, so figures here are an upper bound.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FUNCTIONS = {
    "gateway": ("functions.gateway.handler", "/health", 0.6),
    "orchestrator": ("orchestrator.handler", "/a2a/orchestrator/.well-known/agent-card.json", 1.0),
    "ingestion": ("functions.ingestion.handler", "/a2a/ingestion/.well-known/agent-card.json", 1.5),
    "quality": ("functions.quality.handler", "/a2a/quality/.well-known/agent-card.json", 1.5),
}
for optional, spec in {
    "eda": ("functions.eda.handler", "/a2a/eda/.well-known/agent-card.json", 1.5),
    "visualization": (
        "functions.visualization.handler",
        "/a2a/visualization/.well-known/agent-card.json",
        1.5,
    ),
    "automl": ("functions.automl.handler", "/a2a/automl/.well-known/agent-card.json", 1.5),
}.items():
    if (ROOT / "functions" / optional / "handler.py").exists():
        FUNCTIONS[optional] = spec

PROBE = """
import json, sys, time
started = time.perf_counter()
module = __import__(sys.argv[1], fromlist=["handler"])
imported = time.perf_counter()
class LambdaContext:  # the attributes Powertools reads; the built layer has no local cloud
    def __init__(self, **kwargs):
        self.__dict__.update(kwargs, memory_limit_in_mb=1024, aws_request_id="bench", function_version="1")
path = sys.argv[2]
event = {"version": "2.0", "routeKey": "$default", "rawPath": path, "rawQueryString": "", "headers": {"host": "x"},
         "requestContext": {"http": {"method": "GET", "path": path, "sourceIp": "127.0.0.1"}, "stage": "$default"},
         "isBase64Encoded": False}
response = module.handler(event, LambdaContext(function_name="f", invoked_function_arn="arn:aws:lambda:us-east-1:1:function:f"))
done = time.perf_counter()
assert response["statusCode"] == 200, response
print(json.dumps({"import": imported - started, "first_request": done - imported, "total": done - started}))
"""


def _env() -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", ""),
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "ANALYSTACK_ENDPOINTS__AGENT_FUNCTIONS": json.dumps({name: name for name in FUNCTIONS}),
        "POWERTOOLS_LOG_LEVEL": "ERROR",
    }


BUILT: dict[str, str] = {}  # set by --built: the Python 3.12 executable and a PYTHONPATH per function


def _command(name: str) -> tuple[list[str], dict[str, str], Path]:
    env = _env()
    if not BUILT:
        return [sys.executable], env, ROOT
    env["PYTHONPATH"] = BUILT[name]
    return [BUILT["python"], "-s"], env, Path(BUILT[name].split(os.pathsep)[0])


def _run(name: str, module: str, path: str) -> dict[str, float]:
    command, env, cwd = _command(name)
    out = subprocess.run(
        [*command, "-c", PROBE, module, path], capture_output=True, text=True, env=env, cwd=cwd, check=True
    )
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def _dominant(name: str, module: str, top: int = 5) -> list[tuple[str, float]]:
    command, env, cwd = _command(name)
    out = subprocess.run(
        [*command, "-X", "importtime", "-c", f"import {module}"],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        check=True,
    )
    packages: dict[str, float] = {}
    for line in out.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        own, _, name = line.removeprefix("import time:").split("|")
        if own.strip().isdigit():  # self time, summed per top-level package
            package = name.strip().split(".")[0]
            packages[package] = packages.get(package, 0.0) + int(own) / 1e6
    return sorted(packages.items(), key=lambda item: item[1], reverse=True)[:top]


def _use_built(root: Path) -> None:
    """Point each function at its built package (+ the core layer for zip functions) and at
    boto3, which Lambda's runtime provides and the packages therefore leave out."""
    sys.path.insert(0, str(ROOT / "scripts"))
    from build_lambda import _install, _python312

    python = _python312()
    if python is None:
        raise SystemExit("--built needs a Python 3.12 (Lambda's runtime) on PATH or in pyenv")
    runtime = root / "_runtime"
    if not (runtime / "boto3").exists():
        requirements = root / "_runtime.txt"
        requirements.write_text("boto3\n")
        _install([requirements], runtime, keep_runtime_provided=True)
    BUILT["python"] = python
    layer = root / "CoreLayer" / "python"
    logical = {
        "gateway": "GatewayFunction",
        "orchestrator": "OrchestratorFunction",
        "ingestion": "IngestionFunction",
        "quality": "QualityFunction",
        "eda": "EdaFunction",
        "visualization": "VisualizationFunction",
        "automl": "AutoMLFunction",
    }
    for name, function in logical.items():
        directory = root / function
        if directory.exists():
            paths = [directory, layer] if name in {"gateway", "orchestrator"} else [directory]
            BUILT[name] = os.pathsep.join(str(p) for p in [*paths, runtime])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument(
        "--built",
        type=Path,
        help="measure the packages scripts/build_lambda.py built (e.g. build/lambda) with Python 3.12, "
        "as Lambda loads them, instead of the development venv",
    )
    args = parser.parse_args()
    if args.built:
        _use_built(args.built.resolve())
    print(
        f"{'function':<14}{'median init':>12}{'import':>9}{'1st req':>9}{'target':>8}  verdict  dominant imports"
    )
    for name, (module, path, target) in FUNCTIONS.items():
        if BUILT and name not in BUILT:
            print(f"{name:<14}  (not built)")
            continue
        _run(name, module, path)  # warm the disk cache and write .pyc files, as a deployed package ships them
        runs = [_run(name, module, path) for _ in range(args.runs)]
        total = statistics.median(r["total"] for r in runs)
        imported = statistics.median(r["import"] for r in runs)
        first = statistics.median(r["first_request"] for r in runs)
        verdict = "ok" if total <= target else "OVER"
        dominant = ", ".join(f"{pkg} {secs:.2f}s" for pkg, secs in _dominant(name, module))
        print(
            f"{name:<14}{total:>11.2f}s{imported:>8.2f}s{first:>8.2f}s{target:>7.1f}s  {verdict:<7}  {dominant}"
        )


if __name__ == "__main__":
    main()
