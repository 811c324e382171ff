"""The full analysis journey through the platform vs the same library calls in one plain script.

Measured, per row count (default 100k and 1M rows of the demo sales table's 11 columns, generated
by ``scripts/make_sample_sales.py``'s ``build(rows, seed)``, which adds its 15 duplicated rows):

* **Journey**: the embedded local cloud (moto + Step Functions + every agent's handler) in one
  process, and a *client in another process*, as with ``analystack up`` + ``analystack analyze
  --api``: it uploads the CSV as the CLI does for big files (``POST /uploads``, ``PUT`` to the
  presigned URL, ``POST /analyze`` with the ``upload_id``), follows ``GET /jobs/{id}/events``
  every ``--poll`` seconds (the CLI's 0.4 s) until the job ends, then reads ``GET /jobs/{id}``
  once. Why another process: a client in the cloud's process competes with the agents for the
  GIL (the 81 MB upload alone took 2-4 s that way instead of ~1 s), which no deployment does.
  Step times come from the job record (each step's first and last progress event); the phases
  between steps from the event log: before the first step (gateway, plan, state machine,
  execution start), the gaps between steps (Lambda invokes, task store, reading inputs) and the
  report assembly (``finalize``).
* **Plain**: one script making the same library calls for the same outputs, each timed:
  ``load_table``; ``profile_table`` + its JSON and Markdown report; ``explore`` + its JSON and
  Markdown report; ``resolve_target``/``infer_task``/``train_model``; ``recommend_charts`` and,
  per chart, ``render_chart`` + ``figure_json`` + ``figure_html``, then ``build_dashboard``.
  ``explore`` gets the target the journey's plan gave the EDA step (none for the default
  request) so both do the same work. What only the platform does — upload, storing and reading
  datasets and artifacts, gzip, events, orchestration, the job's report — is the overhead.
* **Memory**: the RSS of the process doing the work (the cloud's, not the client's; the plain
  script's), sampled every 50 ms by a thread (psutil). Per step: the highest RSS during the step
  minus the RSS when it started (what the step added), and the peak minus the baseline taken just
  before the upload (what the whole run added), both against the table's in-memory Arrow size
  (``pyarrow.csv.read_csv(path).nbytes``).

The overhead ratio leaves the AutoML budget out: (journey wall clock − the time AutoML ran alone)
/ (plain total − the ``train_model`` call). Steps the plan runs side by side (the headline plan:
quality beside EDA) are counted by wall clock; a step running beside AutoML is counted in full
(no credit for the overlap). The older definition, (journey total − the whole AutoML step) /
(plain − AutoML), which credits an overlap with AutoML, is printed too.

Each side runs in fresh processes (RSS never shrinks back after a peak, and one side's imports
and caches must not help the other); both import the analysis modules before the clock starts,
so step times hold no import time (cold starts are ``bench/cold_start.py``'s job). The AutoML
budget is the same on both sides (``--budget``; the journey gets it through
``ANALYSTACK_LIMITS__AUTOML_TIME_BUDGET_S``).

Targets: orchestration overhead ratio <= 1.2x; peak memory <= 3x the table's Arrow size.
Note: the embedded cloud keeps S3 objects (under 5 MB; larger ones spill to moto's temporary
files), DynamoDB items and every agent in one process, so its RSS counts what several Lambdas
and S3 would hold between them, and on a 2-vCPU machine the agents running beside the AutoML
agent's two-threaded fits (EDA, the gateway answering polls) slow each other down.

Run: .venv/bin/python bench/bench_journey.py [--rows 100000,1000000] [--budget 20] [--repeat 3] [--quick]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from rss import RssSampler  # bench/rss.py, beside this script

ROOT = Path(__file__).resolve().parents[1]
REQUEST = "analyze the sales data and build a prediction model"
SEED = 7
MB = 1024 * 1024
OVERHEAD_TARGET = 1.2
MEMORY_TARGET = 3.0
ANALYSIS_MODULES = (
    "functions.ingestion.loaders",
    "functions.quality.profiling",
    "functions.quality.report",
    "functions.eda.analysis",
    "functions.eda.report",
    "functions.automl.search",
    "functions.automl.target",
    "functions.visualization.charts",
    "functions.visualization.dashboard",
)
# (label, journey agent, plain key); the journey's own steps are matched by agent.
ROWS_SHOWN = (
    ("upload / read file", "upload", "read"),
    ("ingest / load_table", "ingestion", "load"),
    ("quality / profile_table + reports", "quality", "profile"),
    ("eda / explore + reports", "eda", "eda"),
    ("automl / train_model", "automl", "automl"),
    ("visualization / charts + pages", "visualization", "charts"),
)


# --------------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------------


def load_generator() -> Any:
    """``scripts/make_sample_sales.py`` as a module (scripts/ is not a package)."""
    spec = importlib.util.spec_from_file_location(
        "make_sample_sales", ROOT / "scripts" / "make_sample_sales.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_sales_csv(rows: int, path: Path, *, columns: list[str] | None = None) -> int:
    """The demo sales table with ``rows`` rows (+ the generator's duplicates) as CSV; returns rows."""
    frame = load_generator().build(rows, SEED)
    if columns:
        frame = frame[columns]
    frame.to_csv(path, index=False)
    return len(frame)


def arrow_nbytes(path: Path) -> int:
    import pyarrow.csv

    return int(pyarrow.csv.read_csv(path).nbytes)


# --------------------------------------------------------------------------------------------
# Measurement helpers
# --------------------------------------------------------------------------------------------


def _stamp(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def _union(intervals: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """The union of [start, end] intervals as sorted disjoint intervals."""
    merged: list[tuple[float, float]] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _length(intervals: list[tuple[float, float]]) -> float:
    return sum(end - start for start, end in _union(intervals))


def _alone(interval: tuple[float, float], others: list[tuple[float, float]]) -> float:
    """How long ``interval`` ran while none of ``others`` did."""
    start, end = interval
    clipped = [(max(start, s), min(end, e)) for s, e in others if s < end and e > start]
    return (end - start) - _length(clipped)


def _import_analysis_modules() -> None:
    for module in ANALYSIS_MODULES:
        __import__(module)
    import plotly.graph_objects  # noqa: F401  (the charts module imports it lazily in places)


# --------------------------------------------------------------------------------------------
# The journey: the cloud in this process, the client in a child process
# --------------------------------------------------------------------------------------------


def child_client(api: str, csv: Path, timeout: float, poll: float, compress: bool = True) -> dict[str, Any]:
    """What ``analystack analyze --api`` does for a big file, timed (runs in its own process)."""
    import httpx

    from analystack.cli import upload_file

    with httpx.Client(base_url=api, timeout=120) as http:
        started = time.time()
        upload = upload_file(http, csv, compress=compress)  # the CLI's own upload, presigned PUT
        uploaded = time.time()
        accepted = http.post("/analyze", json={"request": REQUEST, "upload_id": upload["upload_id"]})
        if accepted.status_code != 202:
            raise RuntimeError(f"POST /analyze: {accepted.status_code} {accepted.text[:300]}")
        job_id = accepted.json()["job_id"]
        events: list[dict[str, Any]] = []
        polls = 0
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:  # the CLI's loop: new events after the last id
            params = {"format": "json", **({"after": events[-1]["event_id"]} if events else {})}
            page = http.get(f"/jobs/{job_id}/events", params=params).json()
            polls += 1
            events += page["events"]
            if page["finished"]:
                break
            time.sleep(poll)
        seen = time.time()
        job = http.get(f"/jobs/{job_id}").json()
    return {
        "started": started,
        "uploaded": uploaded,
        "sent_bytes": upload["sent_bytes"],
        "seen": seen,
        "job": job,
        "events": events,
        "polls": polls,
    }


def _head_csv(csv: Path, lines: int) -> Path:
    """The first ``lines`` rows of ``csv`` beside it (the warm-up job's input)."""
    head = csv.with_name(f"warmup-{csv.name}")
    with csv.open("rb") as source, head.open("wb") as target:
        for _ in range(lines + 1):
            line = source.readline()
            if not line:
                break
            target.write(line)
    return head


def child_journey(csv: Path, args: argparse.Namespace) -> dict[str, Any]:
    os.environ["POWERTOOLS_LOG_LEVEL"] = "ERROR"
    os.environ["ANALYSTACK_LIMITS__AUTOML_TIME_BUDGET_S"] = str(args.budget)
    from analystack.localcloud.cloud import LocalCloud

    _import_analysis_modules()
    clock = time.perf_counter()
    cloud = LocalCloud.on_free_ports(isolation=args.isolation, prewarm=True)
    cloud.start()
    if cloud.registry.environments is not None:
        # Warm environments, as a deployed stack's are after its first requests: a small job loads
        # what the skills import lazily (the plain script imports it all before its clock, too).
        _run_child("client", _head_csv(csv, 2000), args, ["--api", cloud.api_url], timeout=args.timeout)
    cloud_start = time.perf_counter() - clock
    try:
        with RssSampler() as rss:
            client = _run_child("client", csv, args, ["--api", cloud.api_url], timeout=args.timeout + 120)
        reports = [
            r
            for r in (cloud.registry.environments.reports if cloud.registry.environments else [])
            if r.started >= client["started"]
        ]
    finally:
        cloud.stop()
    job, events = client["job"], client["events"]
    steps = []
    for step in job.get("steps", []):
        if not (step.get("started_at") and step.get("finished_at")):
            steps.append({**_step_fields(step), "start": None, "end": None})
            continue
        start, end = _stamp(step["started_at"]), _stamp(step["finished_at"])
        memory = (
            rss.step(start, end)
            if not reports
            else _environment_memory(reports, cloud.function_name(step["agent"]), start, end)
        )
        steps.append({**_step_fields(step), "start": start, "end": end, **memory})
    eda_plan = next((s for s in (job.get("plan") or {}).get("steps", []) if s.get("id") == "eda"), None)
    eda_target = (eda_plan or {}).get("inputs", {}).get("target")
    return {
        "status": job["status"],
        "error": (job.get("error") or {}).get("message"),
        "isolation": args.isolation,
        "cloud_start_s": cloud_start,
        "started": client["started"],
        "uploaded": client["uploaded"],
        "upload_sent_bytes": client["sent_bytes"],
        "finished": _stamp(job["finished_at"]) if job.get("finished_at") else client["seen"],
        "polls": client["polls"],
        "upload_memory": rss.step(client["started"], client["uploaded"]),
        "steps": steps,
        "orchestrator_events": [
            _stamp(e["at"]) for e in events if e.get("agent") == "orchestrator" and e.get("at")
        ],
        "eda_target": eda_target if isinstance(eda_target, str) else None,
        "automl_events": [(_stamp(e["at"]), e["message"]) for e in events if e.get("agent") == "automl"],
        "baseline_rss": rss.baseline,
        "peak_rss": rss.peak,
        "functions": {
            r.function.removeprefix(cloud.function_name("")): {
                "peak": int(r.max_memory_used_mb * MB),
                "memory_size": r.memory_size_mb * MB,
            }
            for r in sorted(reports, key=lambda r: r.max_memory_used_mb)
        },
    }


def _environment_memory(reports: list[Any], function: str, start: float, end: float) -> dict[str, int]:
    """A step's memory from its function's REPORT: the invoke that overlaps the step longest."""
    runs = [
        r
        for r in reports
        if r.function == function and r.started < end and r.started + r.duration_ms / 1000 > start
    ]
    if not runs:
        return {"peak": 0, "added": 0}
    run = max(runs, key=lambda r: min(end, r.started + r.duration_ms / 1000) - max(start, r.started))
    return {
        "peak": int(run.max_memory_used_mb * MB),
        "added": int(max(0.0, run.max_memory_used_mb - run.memory_at_start_mb) * MB),
    }


def _step_fields(step: dict[str, Any]) -> dict[str, Any]:
    return {
        "step_id": step["step_id"],
        "agent": step["agent"],
        "status": step["status"],
        "outputs": {
            k: v
            for k, v in (step.get("outputs") or {}).items()
            if k in ("metric", "score", "best_model", "target", "task", "charts", "rows")
        },
    }


# --------------------------------------------------------------------------------------------
# The plain script
# --------------------------------------------------------------------------------------------


def child_plain(csv: Path, budget: float, eda_target: str | None) -> dict[str, Any]:
    _import_analysis_modules()
    from functions.automl.search import train_model
    from functions.automl.target import infer_task, resolve_target
    from functions.eda.analysis import explore
    from functions.eda.report import render_markdown as eda_markdown
    from functions.ingestion.loaders import load_table
    from functions.quality.profiling import profile_table
    from functions.quality.report import render_markdown as quality_markdown
    from functions.visualization.charts import figure_html, figure_json, recommend_charts, render_chart
    from functions.visualization.dashboard import build_dashboard

    times: dict[str, float] = {}
    memory: dict[str, dict[str, int]] = {}
    automl_events: list[tuple[float, str]] = []
    written = Path(tempfile.mkdtemp(prefix="bench-plain-"))  # a script writes its outputs to files

    def report_json(model: Any) -> bytes:
        return json.dumps(
            model.model_dump(mode="json"), ensure_ascii=False, indent=2, allow_nan=False
        ).encode()

    with RssSampler() as rss:

        def timed(key: str, fn: Any, *args: Any) -> Any:
            clock, wall = time.perf_counter(), time.time()
            value = fn(*args)
            times[key] = time.perf_counter() - clock
            memory[key] = rss.step(wall, wall + times[key])
            return value

        data = timed("read", csv.read_bytes)
        frame = timed("load", lambda payload: load_table(payload, csv.name).frame, data)
        del data  # the ingestion agent drops the upload's bytes once parsed, too

        def quality_step() -> Any:
            quality = profile_table(frame)
            (written / "quality_report.json").write_bytes(report_json(quality))
            (written / "quality_report.md").write_text(
                quality_markdown(quality, dataset_name=csv.name), encoding="utf-8"
            )
            return quality

        quality = timed("profile", quality_step)

        def eda_step() -> Any:
            eda = explore(frame, target=eda_target, request=REQUEST)
            (written / "eda_report.json").write_bytes(report_json(eda))
            (written / "eda_report.md").write_text(eda_markdown(eda, dataset_name=csv.name), encoding="utf-8")
            return eda

        eda = timed("eda", eda_step)

        def automl() -> Any:
            choice = resolve_target(frame, requested=None, request_text=REQUEST)
            task = infer_task(frame, choice.column, request_text=REQUEST)
            automl_events.append((time.time(), f"target '{choice.column}'; task {task}"))
            return train_model(
                frame,
                target=choice.column,
                task=task,
                time_budget_s=budget,
                progress=lambda _fraction, message: automl_events.append((time.time(), message)),
            )[0]

        automl_start = time.time()
        result = timed("automl", automl)

        def charts() -> int:
            specs = recommend_charts(
                frame,
                target=result.target,
                max_charts=8,
                eda=eda.model_dump(mode="json"),
                quality=quality.model_dump(mode="json"),
                model=result.model_dump(mode="json"),
            )
            drawn = []
            for spec in specs:  # what the agent stores: Plotly JSON and a standalone page per chart
                figure = render_chart(frame, spec)
                (written / f"chart-{spec.chart_id}.json").write_text(figure_json(figure), encoding="utf-8")
                (written / f"chart-{spec.chart_id}.html").write_text(
                    figure_html(figure, title=spec.title), encoding="utf-8"
                )
                drawn.append((spec, figure))
            dashboard = build_dashboard(drawn, title=f"{csv.name}: analysis dashboard", subtitle=REQUEST)
            (written / "dashboard.html").write_text(dashboard, encoding="utf-8")
            return len(specs)

        n_charts = timed("charts", charts)
    shutil.rmtree(written)
    return {
        "times": times,
        "total_s": sum(times.values()),
        "metric": result.metric,
        "score": result.holdout.get(result.metric),
        "best_model": result.best_model,
        "charts": n_charts,
        "automl_events": automl_events,
        "automl_start": automl_start,
        "memory": memory,
        "baseline_rss": rss.baseline,
        "peak_rss": rss.peak,
    }


def _run_child(
    kind: str, csv: Path, args: argparse.Namespace, extra: list[str], *, timeout: float | None = None
) -> dict[str, Any]:
    command = [sys.executable, __file__, "--child", kind, "--csv", str(csv), "--budget", str(args.budget)]
    command += [
        "--timeout",
        str(args.timeout),
        "--poll",
        str(args.poll),
        "--isolation",
        args.isolation,
        "--upload",
        args.upload,
        *extra,
    ]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    out = subprocess.run(
        command,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=timeout or args.timeout + 300,
        check=False,
    )
    if out.returncode != 0:
        raise SystemExit(f"{kind} run failed ({out.returncode}):\n{out.stderr[-3000:]}")
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


# --------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------


def _fmt(value: float | None, width: int = 10) -> str:
    return f"{'-':>{width}}" if value is None else f"{value:>{width}.2f}"


def _mib(value: int | None, width: int = 10) -> str:
    return f"{'-':>{width}}" if value is None else f"{value / MB:>{width}.0f}"


def automl_breakdown(events: list[tuple[float, str]], start: float, end: float, after: str) -> str:
    """Seconds before the candidate search, per candidate (summed, with the count of fits) and
    after it, from the progress messages ("split ...", "fitted <model> (cv ...)")."""
    parts: dict[str, list[float]] = {}
    last: float | None = None
    searching = False
    for at, message in events:
        # The search starts after the split; the latest of the events before it stands in
        # when its event was throttled away (a stage reports at most every 0.25 s).
        if not searching and message.startswith(("split ", "planned ", "checked target ")):
            parts["prep"] = [at - start]
            last = at
        elif last is not None and message.startswith("fitted "):
            searching = True
            name = message.removeprefix("fitted ").removeprefix("the ").split(" (cv")[0]
            parts.setdefault(name, []).append(at - last)
            last = at
    if last is None:
        return "(no search progress events)"
    parts[after] = [end - last]
    return ", ".join(f"{name}{f' x{len(v)}' if len(v) > 1 else ''} {sum(v):.1f}" for name, v in parts.items())


def _verdict(ratio: float, target: float) -> str:
    return "ok" if ratio <= target else "OVER"


def _phases(journey: dict[str, Any]) -> dict[str, Any]:
    """The journey's timeline cut into steps and what happened around them."""
    steps = [s for s in journey["steps"] if s["start"] is not None]
    intervals = [(s["start"], s["end"]) for s in steps]
    first = min((s for s, _ in intervals), default=journey["uploaded"])
    last = max((e for _, e in intervals), default=journey["finished"])
    automl = [(s["start"], s["end"]) for s in steps if s["agent"] == "automl"]
    others = [(s["start"], s["end"]) for s in steps if s["agent"] != "automl"]
    finalize_start = min((at for at in journey["orchestrator_events"] if at >= last), default=last)
    return {
        "upload": journey["uploaded"] - journey["started"],
        "before_first": first - journey["uploaded"],
        "between": (last - first) - _length(intervals),
        "after_last": finalize_start - last,
        "finalize": journey["finished"] - finalize_start,
        "total": journey["finished"] - journey["started"],
        "automl_step": sum(e - s for s, e in automl),
        "automl_alone": sum(_alone(a, others) for a in automl),
    }


def _beside(steps: list[dict[str, Any]]) -> dict[str, list[str]]:
    """Per agent, the other agents whose steps ran (partly) at the same time as its own."""
    timed = [s for s in steps if s["start"] is not None]
    return {
        step["agent"]: sorted(
            {
                o["agent"]
                for o in timed
                if o is not step and o["start"] < step["end"] and step["start"] < o["end"]
            }
        )
        for step in timed
    }


def figures(journey: dict[str, Any], plain: dict[str, Any]) -> dict[str, Any]:
    """Every number the report prints, from one journey run and one plain run."""
    phases = _phases(journey)
    times, plain_memory = plain["times"], plain["memory"]
    seconds: dict[str, float] = {"upload": phases["upload"]}
    added: dict[str, int] = {"upload": journey["upload_memory"]["added"]}
    for step in journey["steps"]:
        if step["start"] is not None:
            seconds[step["agent"]] = seconds.get(step["agent"], 0.0) + step["end"] - step["start"]
            added[step["agent"]] = max(added.get(step["agent"], 0), step["added"])
    plain_rest = plain["total_s"] - times.get("automl", 0.0)
    journey_rest = phases["total"] - phases["automl_alone"]
    out: dict[str, Any] = {
        **{f"journey {a}": seconds.get(a) for _, a, _ in ROWS_SHOWN},
        **{f"plain {k}": times.get(k) for _, _, k in ROWS_SHOWN},
        **{f"journey MiB {a}": added.get(a) for _, a, _ in ROWS_SHOWN},
        **{f"plain MiB {k}": (plain_memory.get(k) or {}).get("added") for _, _, k in ROWS_SHOWN},
        **phases,
        "plain total": plain["total_s"],
        "journey rest": journey_rest,
        "plain rest": plain_rest,
        "ratio": journey_rest / plain_rest,
        "credited": (phases["total"] - phases["automl_step"]) / plain_rest,
        "cloud start": journey["cloud_start_s"],
        "polls": journey["polls"],
        "sent": journey["upload_sent_bytes"],
        "automl added": added.get("automl") or 0,
        "beside": _beside(journey["steps"]),
    }
    for name, side, step_added in (
        ("journey", journey, {a: m for a, m in added.items() if a != "automl"}),
        ("plain", plain, {k: m["added"] for k, m in plain_memory.items() if k != "automl"}),
    ):
        worst = max(step_added, key=lambda k: step_added[k])
        out.update(
            {
                f"{name} baseline": side["baseline_rss"],
                f"{name} peak": side["peak_rss"],
                f"{name} worst step": worst,
                f"{name} worst added": step_added[worst],
            }
        )
    return out


def _median(values: list[Any]) -> Any:
    present = sorted(v for v in values if v is not None)
    if not present:
        return None
    if isinstance(present[0], str):
        return max(set(present), key=present.count)
    middle = len(present) // 2
    return present[middle] if len(present) % 2 else (present[middle - 1] + present[middle]) / 2


def report(
    rows: int, csv: Path, arrow: int, runs: list[tuple[dict[str, Any], dict[str, Any]]], budget: float
) -> None:
    """The figures of each run, as medians over the runs (``--repeat``)."""
    every = [figures(journey, plain) for journey, plain in runs]
    f = {key: _median([one[key] for one in every]) for key in every[0]}
    journey, plain = runs[0]
    statuses = ", ".join(sorted({j["status"] for j, _ in runs}))
    errors = "; ".join(sorted({j["error"] for j, _ in runs if j["error"]}))
    print()
    print(
        f"== {rows:,} rows x 11 columns, {csv.stat().st_size / MB:.1f} MiB CSV, Arrow {arrow / MB:.1f} MiB; "
        f"AutoML budget {budget:g} s; journey status {statuses}"
        + (f" ({errors})" if errors else "")
        + (f"; medians of {len(runs)} runs" if len(runs) > 1 else "")
    )
    print(
        f"{'':<36}{'---------- seconds ----------':>30}  {'- MiB added by the step -':>25}\n"
        f"{'step (journey / plain)':<36}{'journey':>10}{'plain':>10}{'overhead':>10}  "
        f"{'journey':>12}{'plain':>13}"
    )
    for label, agent, key in ROWS_SHOWN:
        j, p = f[f"journey {agent}"], f[f"plain {key}"]
        overhead = _median(
            [
                one[f"journey {agent}"] - one[f"plain {key}"]
                for one in every
                if one[f"journey {agent}"] is not None and one[f"plain {key}"] is not None
            ]
        )
        beside = f["beside"].get(agent) or []
        note = f"  (runs beside {', '.join(beside)})" if beside else ""
        print(
            f"{label:<36}{_fmt(j)}{_fmt(p)}{_fmt(overhead)}  "
            f"{_mib(f[f'journey MiB {agent}'], 12)}{_mib(f[f'plain MiB {key}'], 13)}{note}"
        )
    for label, key in (
        ("POST /analyze -> first step started", "before_first"),
        ("between steps (no step running)", "between"),
        ("last step -> finalize started", "after_last"),
        ("finalize (the job's report)", "finalize"),
    ):
        print(f"{label:<36}{_fmt(f[key])}{_fmt(None)}{_fmt(f[key])}")
    print(f"{'total (wall clock)':<36}{_fmt(f['total'])}{_fmt(f['plain total'])}")
    print(
        f"orchestration overhead, AutoML excluded = (journey total - time AutoML ran alone) / "
        f"(plain total - train_model) = ({f['total']:.2f} - {f['automl_alone']:.2f}) / "
        f"{f['plain rest']:.2f} = {f['ratio']:.2f}x  target <= {OVERHEAD_TARGET}x  "
        f"{_verdict(f['ratio'], OVERHEAD_TARGET)}"
        + (
            f"  (runs: {', '.join(format(one['ratio'], '.2f') + 'x' for one in every)})"
            if len(every) > 1
            else ""
        )
    )
    print(
        f"  crediting overlaps with AutoML (journey total - whole AutoML step) / (plain - train_model): "
        f"{f['credited']:.2f}x; overhead in seconds: {f['journey rest'] - f['plain rest']:+.2f} s"
    )
    print(
        f"journey: cloud start {f['cloud start']:.1f} s (not counted); the client polled the events "
        f"{f['polls']:.0f} times; AutoML step {f['automl_step']:.2f} s, {f['automl_alone']:.2f} s of it alone"
    )
    print(f"upload: {csv.stat().st_size / MB:.1f} MiB CSV sent as {f['sent'] / MB:.1f} MiB")
    for name in ("journey", "plain"):
        base, peak, worst = f[f"{name} baseline"], f[f"{name} peak"], f[f"{name} worst added"]
        if name == "journey" and journey["isolation"] == "process":
            functions = ", ".join(
                f"{fn} {m['peak'] / MB:.0f} of {m['memory_size'] / MB:.0f}"
                for fn, m in journey["functions"].items()
            )
            print(
                f"memory (journey, each function in its own environment, from its REPORT): most any step but "
                f"AutoML added to its function: {f['journey worst step']} {worst / MB:.0f} MiB = {worst / arrow:.1f}x "
                f"Arrow {_verdict(worst / arrow, MEMORY_TARGET)}; automl {f['automl added'] / MB:.0f} MiB = "
                f"{f['automl added'] / arrow:.1f}x {_verdict(f['automl added'] / arrow, MEMORY_TARGET)}  "
                f"(target <= {MEMORY_TARGET}x)\n"
                f"  Max Memory Used (MiB) of MemorySize, first run: {functions}\n"
                f"  the cloud's own process (moto's S3, DynamoDB and Step Functions, the HTTP bridge): "
                f"baseline {base / MB:.0f} MiB, added {(peak - base) / MB:.0f} MiB"
            )
            continue
        print(
            f"memory ({name}): baseline RSS {base / MB:.0f} MiB, peak {peak / MB:.0f} MiB; "
            f"(peak - baseline) / Arrow {(peak - base) / arrow:.1f}x {_verdict((peak - base) / arrow, MEMORY_TARGET)}; "
            f"most any step but AutoML added: {f[f'{name} worst step']} {worst / MB:.0f} MiB = "
            f"{worst / arrow:.1f}x Arrow {_verdict(worst / arrow, MEMORY_TARGET)}  (target <= {MEMORY_TARGET}x)"
        )
    automl = next((s for s in journey["steps"] if s["agent"] == "automl" and s["start"] is not None), None)
    if automl:
        print(
            "automl step (s), first run: journey "
            + automl_breakdown(
                journey["automl_events"], automl["start"], automl["end"], "refit/score/importance/store"
            )
        )
    print(
        "automl call (s), first run: plain   "
        + automl_breakdown(
            plain["automl_events"],
            plain["automl_start"],
            plain["automl_start"] + plain["times"].get("automl", 0.0),
            "refit/score/importance",
        )
    )
    model: dict[str, Any] = next((s["outputs"] for s in journey["steps"] if s["agent"] == "automl"), {})
    charts = next(
        (s["outputs"].get("charts") for s in journey["steps"] if s["agent"] == "visualization"), "-"
    )
    print(
        f"model: journey {model.get('best_model')} {model.get('metric')} {model.get('score')}; "
        f"plain {plain['best_model']} {plain['metric']} {plain['score']:.4f}; "
        f"charts: journey {charts}, plain {plain['charts']}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", default="100000,1000000", help="comma-separated row counts")
    parser.add_argument(
        "--budget", type=float, default=20.0, help="AutoML time budget in seconds (both sides)"
    )
    parser.add_argument(
        "--timeout", type=float, default=900.0, help="give up on a job after this many seconds"
    )
    parser.add_argument(
        "--poll", type=float, default=0.4, help="seconds between the client's event polls (the CLI's 0.4 s)"
    )
    parser.add_argument(
        "--repeat", type=int, default=1, help="runs per row count, alternating the sides; medians are shown"
    )
    parser.add_argument(
        "--upload",
        choices=["zstd", "raw"],
        default="zstd",
        help="how the client sends the CSV: zstd-compressed as the CLI does, or as is",
    )
    parser.add_argument(
        "--isolation",
        choices=["process", "thread"],
        default="process",
        help="the cloud's Lambda model: each function in its own warm environment (as deployed; memory "
        "per function from its REPORT) or every handler in the cloud's process (memory summed)",
    )
    parser.add_argument("--quick", action="store_true", help="smoke test: 10,000 rows, 2 s AutoML budget")
    parser.add_argument("--child", choices=["journey", "client", "plain"], help=argparse.SUPPRESS)
    parser.add_argument("--csv", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--api", help=argparse.SUPPRESS)
    parser.add_argument("--eda-target", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child == "journey":
        print(json.dumps(child_journey(args.csv, args)))
        return
    if args.child == "client":
        print(json.dumps(child_client(args.api, args.csv, args.timeout, args.poll, args.upload == "zstd")))
        return
    if args.child == "plain":
        print(json.dumps(child_plain(args.csv, args.budget, args.eda_target)))
        return

    if args.quick:
        args.rows, args.budget = "10000", 2.0
    row_counts = [int(r.replace("_", "")) for r in args.rows.split(",") if r.strip()]
    print(
        f"request: {REQUEST!r}; each side in fresh processes (the journey's client in its own); "
        f"machine: {os.cpu_count()} CPUs"
    )
    with tempfile.TemporaryDirectory(prefix="bench-journey-") as tmp:
        for rows in row_counts:
            csv = Path(tmp) / "sales.csv"
            actual = write_sales_csv(rows, csv)
            arrow = arrow_nbytes(csv)
            runs = []
            for _ in range(max(1, args.repeat)):
                journey = _run_child("journey", csv, args, [])
                extra = ["--eda-target", journey["eda_target"]] if journey["eda_target"] else []
                runs.append((journey, _run_child("plain", csv, args, extra)))
            report(actual, csv, arrow, runs, args.budget)


if __name__ == "__main__":
    main()
