"""``analystack`` command line: run the embedded local cloud, analyze a file, print a plan."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from analystack.localcloud.cloud import LocalCloud

HEADLINE_REQUEST = "매출 데이터를 분석하고 예측 모델을 만들어주세요"
DEFAULT_API = "http://127.0.0.1:8000"


def sample_path(name: str = "sales.csv") -> Path:
    return Path(str(resources.files("analystack") / "samples" / name))


# ---------------------------------------------------------------------------------------- up
def cmd_up(args: argparse.Namespace) -> int:
    from analystack.localcloud.cloud import SEED_PORTS, LocalCloud, PortInUseError

    ports = dict(SEED_PORTS)
    ports.update(aws=args.aws_port, gateway=args.api_port)
    cloud = LocalCloud(
        host=args.host,
        ports=ports,
        stack_name=args.stack_name,
        isolation=args.isolation,
        prewarm=args.isolation == "process",
    )
    if args.isolation == "process":
        print("starting: each function warms up in an execution environment of its own (about 10 s)...")
    try:
        cloud.start()
    except PortInUseError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    assert cloud.stack is not None
    print("Analystack embedded local cloud is up (moto server + template deployed; Ctrl-C stops it)")
    print(f"  AWS endpoint   {cloud.aws_endpoint}   (export AWS_ENDPOINT_URL={cloud.aws_endpoint})")
    print(f"  HTTP API       {cloud.api_url}   (POST /analyze, GET /jobs/{{id}}, GET /agents)")
    for agent in cloud.agent_names():
        print(f"  A2A {agent:<12} {cloud.agent_url(agent)}/.well-known/agent-card.json")
    print(f"  state machines {', '.join(cloud.stack.state_machines.values())}")
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    stop.wait()
    print("\nstopping...")
    _print_environment_reports(cloud)
    cloud.stop()
    return 0


# ---------------------------------------------------------------------------------------- analyze
def _api_alive(url: str) -> bool:
    try:
        response = httpx.get(f"{url}/health", timeout=0.8)
        return response.status_code == 200 and response.json().get("service") == "gateway"
    except (httpx.HTTPError, ValueError):
        return False


@contextlib.contextmanager
def _api_endpoint(explicit: str | None, isolation: str = "thread") -> Iterator[str]:
    """A running stack's API, or an embedded cloud brought up in-process for this command."""
    url = explicit or os.environ.get("ANALYSTACK_API_URL")
    if url:
        yield url.rstrip("/")
        return
    if _api_alive(DEFAULT_API):
        print(f"using the running stack at {DEFAULT_API}")
        yield DEFAULT_API
        return
    from analystack.localcloud.cloud import LocalCloud

    print("no stack running: bringing up the embedded local cloud in-process...")
    cloud = LocalCloud.on_free_ports(isolation=isolation)
    cloud.start()
    try:
        yield cloud.api_url
    finally:
        _print_environment_reports(cloud)
        cloud.stop()


def _print_environment_reports(cloud: LocalCloud) -> None:
    if cloud.registry.environments is None or not cloud.registry.environments.reports:
        return
    from analystack.localcloud.workers import summarise_reports

    print("Lambda execution environments (REPORT lines summed per function):")
    for line in summarise_reports(list(cloud.registry.environments.reports)):
        print(f"  {line}")


def cmd_analyze(args: argparse.Namespace) -> int:
    path = Path(args.file)
    if not path.is_file():
        print(f"error: no such file: {path}", file=sys.stderr)
        return 2
    with _api_endpoint(args.api, args.isolation) as api, httpx.Client(base_url=api, timeout=120) as http:
        data = {"request": args.request}
        if args.session:
            data["session_id"] = args.session
        if path.stat().st_size > args.upload_threshold:
            response = _analyze_via_direct_upload(http, path, data)
        else:
            with path.open("rb") as handle:
                response = http.post("/analyze", data=data, files={"file": (path.name, handle)})
        return _run_job(http, response, args)


def cmd_followup(args: argparse.Namespace) -> int:
    """A follow-up turn in a session: it reuses the session's latest dataset and target."""
    with _api_endpoint(args.api) as api, httpx.Client(base_url=api, timeout=120) as http:
        response = http.post("/analyze", json={"request": args.request, "session_id": args.session})
        return _run_job(http, response, args)


def _run_job(http: httpx.Client, response: httpx.Response, args: argparse.Namespace) -> int:
    if response.status_code != 202:
        print(f"error: {response.status_code} {_error_text(response)}", file=sys.stderr)
        return 1
    accepted = response.json()
    job_id = accepted["job_id"]
    print(f"job {job_id} accepted (session {accepted.get('session_id')})")
    finished = _follow_progress(http, job_id, timeout=args.timeout)
    job = http.get(f"/jobs/{job_id}").json()
    out = Path(args.out or Path("analystack-results") / job_id).resolve()
    _write_results(http, job, out)
    print()
    print(job.get("summary") or "")
    status = job.get("status")
    if not finished:
        print(f"timed out after {args.timeout}s; the job is still {status}")
    elif status == "failed":
        print(f"job failed: {(job.get('error') or {}).get('message')}")
    for step in job.get("steps", []):
        print(f"  {step['step_id']:<12} {step['agent']:<13} {step['status']}")
    reports = sorted((out / "artifacts").glob("*-report.html"))
    if reports:
        print(f"report: {reports[0]}")
    print(f"results: {out} ({len(list((out / 'artifacts').iterdir()))} artifacts)")
    print(f'follow up in this session: analystack followup {job.get("session_id")} "<request>"')
    return 0 if status == "succeeded" else 1


# Text tables shrink 4-5x under zstd at level 1, which compresses at ~400 MB/s: less to send on
# any link (and to store). Binary formats (xlsx, parquet) are compressed already.
_COMPRESSIBLE_SUFFIXES = frozenset({".csv", ".tsv", ".tab", ".txt", ".json", ".jsonl", ".ndjson"})
ZSTD_LEVEL = 1


def compressed_upload_body(path: Path) -> tuple[bytes, str | None]:
    """The bytes to PUT for ``path`` and their media type: zstd for text tables (the ingestion
    agent recognises the frame by its magic number and keeps the user's file name), else as is."""
    data = path.read_bytes()
    if path.suffix.lower() not in _COMPRESSIBLE_SUFFIXES:
        return data, None
    import pyarrow as pa

    compressed = pa.Codec("zstd", compression_level=ZSTD_LEVEL).compress(data, asbytes=True)
    if len(compressed) >= len(data):
        return data, None
    return compressed, "application/zstd"


def upload_file(http: httpx.Client, path: Path, *, compress: bool = True) -> dict[str, Any]:
    """Reserve an upload and PUT the file to its presigned URL; returns the reservation.

    Raises ``httpx.HTTPStatusError`` when the gateway refuses the reservation or S3 the PUT.
    """
    body, media_type = compressed_upload_body(path) if compress else (path.read_bytes(), None)
    reservation = http.post(
        "/uploads", json={"filename": path.name, "size_bytes": len(body), "content_type": media_type}
    )
    reservation.raise_for_status()
    upload: dict[str, Any] = reservation.json()
    put = httpx.put(upload["upload_url"], content=body, headers=upload["headers"], timeout=600)
    put.raise_for_status()
    upload["sent_bytes"] = len(body)
    return upload


def _analyze_via_direct_upload(http: httpx.Client, path: Path, data: dict[str, str]) -> httpx.Response:
    """Big files go straight to S3 through a presigned PUT (API Gateway caps bodies at 10 MB)."""
    size = path.stat().st_size
    try:
        upload = upload_file(http, path)
    except httpx.HTTPStatusError as exc:
        if exc.request.url.path.endswith("/uploads"):
            return exc.response
        raise
    ratio = f" (zstd, {size / upload['sent_bytes']:.1f}x smaller)" if upload["sent_bytes"] < size else ""
    print(f"uploaded {size:,} bytes directly to {upload['source_uri']}{ratio}")
    return http.post("/analyze", json={**data, "upload_id": upload["upload_id"]})


def _error_text(response: httpx.Response) -> str:
    try:
        return str(response.json()["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return response.text[:500]


def _follow_progress(http: httpx.Client, job_id: str, *, timeout: float) -> bool:
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
    from rich.table import Column

    after: str | None = None
    bars: dict[str, Any] = {}
    deadline = time.monotonic() + timeout
    with Progress(
        TextColumn("[bold]{task.fields[step]}", table_column=Column(width=13, no_wrap=True)),
        BarColumn(bar_width=24),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        TextColumn("{task.description}", table_column=Column(no_wrap=True, overflow="ellipsis")),
    ) as progress:
        while time.monotonic() < deadline:
            params = {"format": "json", **({"after": after} if after else {})}
            page = http.get(f"/jobs/{job_id}/events", params=params).json()
            for event in page["events"]:
                after = event["event_id"]
                step = event.get("step_id") or event["agent"]
                if step not in bars:
                    bars[step] = progress.add_task(event["message"], total=100, step=step)
                progress.update(bars[step], completed=event["progress"], description=event["message"][:80])
                if event.get("stage") == "input_required":
                    progress.stop()
                    _answer_question(http, job_id)
                    progress.start()
            if page["finished"]:
                return True
            time.sleep(0.4)
    return False


def _answer_question(http: httpx.Client, job_id: str) -> None:
    """The job asks something (which column to predict?): ask the person at the terminal."""
    question = http.get(f"/jobs/{job_id}").json().get("question") or {}
    text = question.get("text") or "The job needs an answer"
    print(f"\n? {text}")
    if not sys.stdin.isatty():
        print(
            f"  (not a terminal: answer with POST /jobs/{job_id}/answer; without an answer the job uses "
            f"'{question.get('default')}' after {question.get('timeout_s')} s)"
        )
        return
    answer = input(f"  answer [{question.get('default')}]: ").strip() or str(question.get("default") or "")
    if answer:
        response = http.post(f"/jobs/{job_id}/answer", json={"answer": answer})
        if response.status_code != 200:
            print(f"  could not answer: {_error_text(response)}")


def _write_results(http: httpx.Client, job: dict[str, Any], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "job.json").write_text(json.dumps(job, indent=2, ensure_ascii=False), encoding="utf-8")
    events = http.get(f"/jobs/{job['job_id']}/events", params={"format": "json"}).json()["events"]
    (out / "events.jsonl").write_text(
        "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in events), encoding="utf-8"
    )
    artifacts_dir = out / "artifacts"
    artifacts_dir.mkdir(exist_ok=True)
    for artifact in job.get("artifacts", []):
        if artifact["kind"] == "upload":
            continue
        name = {"dataset": "dataset.parquet", "model": "model.joblib"}.get(artifact["kind"], artifact["name"])
        target = artifacts_dir / f"{artifact['item_id']}-{Path(name).name}"
        response = httpx.get(artifact["url"], timeout=120)
        if response.status_code == 200:
            target.write_bytes(response.content)
    lines = [
        f"# Analystack job {job['job_id']}",
        "",
        f"Status: **{job['status']}**",
        "",
        job.get("summary") or "",
        "",
        "## Steps",
        "",
    ]
    lines += [f"- `{s['step_id']}` ({s['agent']}.{s['skill']}): {s['status']}" for s in job.get("steps", [])]
    lines += ["", "## Artifacts", ""]
    lines += [
        f"- {a['name']} ({a['kind']}, {a['media_type']}, {a['size_bytes']:,} bytes) — `{a['s3_uri']}`"
        for a in job.get("artifacts", [])
    ]
    (out / "README.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


# ---------------------------------------------------------------------------------------- plan
def cmd_plan(args: argparse.Namespace) -> int:
    """The plan as JSON: from the gateway's ``POST /plan`` (LLM first) when a stack runs or an LLM is
    configured, else from the heuristic planner in-process (no stack needed)."""
    from analystack.settings import get_settings

    explicit = args.api or os.environ.get("ANALYSTACK_API_URL")
    if explicit or _api_alive(DEFAULT_API) or get_settings().llm.configured:
        with _api_endpoint(args.api) as api, httpx.Client(base_url=api, timeout=120) as http:
            body: dict[str, Any] = {"request": args.request}
            if args.dataset_id:
                body["dataset_id"] = args.dataset_id
            response = http.post("/plan", json=body)
        if response.status_code != 200:
            print(f"error: {response.status_code} {_error_text(response)}", file=sys.stderr)
            return 1
        outputs = response.json()
        if outputs.get("fallback_reason"):
            print(f"note: heuristic planner ({outputs['fallback_reason']})", file=sys.stderr)
        print(json.dumps(outputs.get("plan"), indent=2, ensure_ascii=False))
        return 0
    from orchestrator.planner import DataSource, plan_request

    source = DataSource(kind="dataset") if args.dataset or args.dataset_id else DataSource(kind="upload")
    plan = plan_request(args.request, source=source)
    print("note: heuristic planner (no LLM is configured and no stack is running)", file=sys.stderr)
    print(json.dumps(plan.model_dump(mode="json"), indent=2, ensure_ascii=False))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    args.file = str(sample_path())
    args.request = args.request or HEADLINE_REQUEST
    return cmd_analyze(args)


def _add_isolation_option(command: argparse.ArgumentParser, *, default: str) -> None:
    command.add_argument(
        "--isolation",
        choices=("thread", "process"),
        default=default,
        help="embedded cloud only: run every function in this process ('thread', quickest to start) or "
        "each in execution environments of its own, as on Lambda ('process': own interpreter, "
        f"environment, timeout, memory figures per invoke). Default: {default}",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="analystack", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    up = sub.add_parser("up", help="run the embedded local cloud (moto + the SAM template) until Ctrl-C")
    up.add_argument("--host", default="127.0.0.1")
    up.add_argument("--aws-port", type=int, default=4566)
    up.add_argument("--api-port", type=int, default=8000)
    up.add_argument("--stack-name", default="analystack")
    _add_isolation_option(up, default="process")
    up.set_defaults(func=cmd_up)

    for name, func, help_text in (
        ("analyze", cmd_analyze, "analyze a file on a running stack (or an embedded one brought up for it)"),
        ("demo", cmd_demo, "analyze the bundled sales sample with the headline request"),
    ):
        command = sub.add_parser(name, help=help_text)
        if name == "analyze":
            command.add_argument("file")
            command.add_argument("request")
        else:
            command.add_argument("--request", default=None)
        command.add_argument(
            "--api", default=None, help="API base URL (default: a stack on :8000, else embedded)"
        )
        command.add_argument(
            "--out", default=None, help="results folder (default ./analystack-results/<job>)"
        )
        command.add_argument("--session", default=None)
        command.add_argument("--timeout", type=float, default=900)
        command.add_argument(
            "--upload-threshold",
            type=int,
            default=5 * 1024 * 1024,
            help="files larger than this many bytes are uploaded with a presigned PUT",
        )
        _add_isolation_option(command, default="thread")
        command.set_defaults(func=func)

    followup = sub.add_parser(
        "followup", help="a follow-up request in a session (reuses its dataset and results)"
    )
    followup.add_argument("session")
    followup.add_argument("request")
    followup.add_argument("--api", default=None)
    followup.add_argument("--out", default=None)
    followup.add_argument("--timeout", type=float, default=900)
    followup.set_defaults(func=cmd_followup)

    plan = sub.add_parser("plan", help="print the plan for a request as JSON without running it")
    plan.add_argument("request")
    plan.add_argument(
        "--dataset", action="store_true", help="plan for an existing hub dataset instead of an upload"
    )
    plan.add_argument("--dataset-id", default=None, help="plan for this hub dataset (its schema is used)")
    plan.add_argument("--api", default=None, help="API base URL (default: a stack on :8000)")
    plan.set_defaults(func=cmd_plan)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
