"""The full analysis journey through the platform vs the same library calls in one plain script.

Measured, per row count (default 100k and 1M rows of the demo sales table's 11 columns, generated
by ``scripts/make_sample_sales.py``'s ``build(rows, seed)``, which adds its 15 duplicated rows):

* **Journey**: the embedded local cloud in-process (moto + Step Functions + every agent's handler),
  the CSV uploaded through the HTTP API as the CLI does for big files (``POST /uploads``, ``PUT``
  to the presigned URL, ``POST /analyze`` with the ``upload_id``), then ``GET /jobs/{id}`` polled
  until the job ends. Step times come from the job record (``started_at``/``finished_at``);
  totals from the client's clock (the same clock the record's timestamps use). Reported: each
  step, the time before the first step started, Σ step times, total − Σ step times, and the
  time no step was running (EDA and AutoML run in parallel, so total − Σ can be negative).
* **Plain**: one script making the same library calls (``load_table``, ``profile_table``,
  ``explore``, ``resolve_target``/``infer_task``/``train_model``, ``recommend_charts`` +
  ``render_chart`` + ``figure_json``), each timed. ``explore`` gets the target the journey's
  plan gave the EDA step (none for the default request) so both do the same work; the brief's
  ``explore(frame, target="revenue")`` is timed separately and left out of the totals.
* **Memory**: this process's RSS sampled every 50 ms by a thread (psutil) while the job (or the
  plain script) runs; peak, the baseline just before, peak − baseline, and both against the
  table's in-memory Arrow size (``pyarrow.csv.read_csv(path).nbytes``).

Each side runs in its own fresh process (RSS never shrinks back after a peak, and one side's
imports and caches must not help the other); both import the analysis modules before the
clock starts, so step times hold no import time (cold starts are ``bench/cold_start.py``'s job).
The AutoML budget is the same on both sides (``--budget``; the journey gets it through
``ANALYSTACK_LIMITS__AUTOML_TIME_BUDGET_S``).

Targets: orchestration overhead ratio = (journey total − AutoML step) / (plain total − AutoML
call) <= 1.2x; peak memory <= 3x the table's Arrow size.
Note: the embedded cloud keeps S3 objects, DynamoDB items and every agent in this one process,
so the journey's peak counts what several Lambdas and S3 would hold between them. The polls run
in that process too (gateway + moto), and on a 2-vCPU machine anything running beside the AutoML
agent's two-threaded fits (tables over 20,000 rows) can slow them several times, so ``--poll``
defaults to 1 s; the AutoML lines break the step down per candidate to show where time went.

Run: .venv/bin/python bench/bench_journey.py [--rows 100000,1000000] [--budget 20] [--quick]
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
REQUEST = "analyze the sales data and build a prediction model"
SEED = 7
MB = 1024 * 1024
OVERHEAD_TARGET = 1.2
MEMORY_TARGET = 3.0
ANALYSIS_MODULES = (
    "functions.ingestion.loaders",
    "functions.quality.profiling",
    "functions.eda.analysis",
    "functions.automl.search",
    "functions.automl.target",
    "functions.visualization.charts",
)
# (label, journey agent, plain key); the journey's own steps are matched by agent.
ROWS_SHOWN = (
    ("upload / read file", "upload", "read"),
    ("ingest / load_table", "ingestion", "load"),
    ("quality / profile_table", "quality", "profile"),
    ("eda / explore", "eda", "eda"),
    ("automl / train_model", "automl", "automl"),
    ("visualization / charts", "visualization", "charts"),
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


class RssSampler:
    """Peak RSS of this process, sampled by a daemon thread every ``interval`` seconds; the
    samples (wall-clock time, RSS) are kept so a step's peak can be read from its interval."""

    def __init__(self, interval: float = 0.05) -> None:
        import psutil

        self._process = psutil.Process()
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)
        gc.collect()
        self.baseline = self._process.memory_info().rss
        self.peak = self.baseline
        self.samples: list[tuple[float, int]] = []

    def _sample(self) -> None:
        rss = self._process.memory_info().rss
        self.samples.append((time.time(), rss))
        self.peak = max(self.peak, rss)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(self._interval)

    def peak_between(self, start: float, end: float) -> int:
        """Highest RSS sampled in [start, end] (wall-clock seconds) or first after it (steps
        shorter than the interval may hold no sample), else the baseline."""
        inside = [rss for at, rss in self.samples if start <= at <= end]
        after = next((rss for at, rss in self.samples if at > end), None)
        return max([*inside, *([after] if after is not None else [])], default=self.baseline)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()


def _seconds(start: str | None, end: str | None) -> float | None:
    if not start or not end:
        return None
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()


def _union_seconds(intervals: list[tuple[float, float]]) -> float:
    """Length of the union of [start, end] intervals (parallel steps counted once)."""
    total, reach = 0.0, float("-inf")
    for start, end in sorted(intervals):
        if end <= reach:
            continue
        total += end - max(start, reach)
        reach = end
    return total


def _import_analysis_modules() -> None:
    for module in ANALYSIS_MODULES:
        __import__(module)
    import plotly.graph_objects  # noqa: F401  (the charts module imports it lazily in places)


# --------------------------------------------------------------------------------------------
# The two sides (each in a fresh child process)
# --------------------------------------------------------------------------------------------


def child_journey(csv: Path, budget: float, timeout: float, poll: float) -> dict[str, Any]:
    os.environ["POWERTOOLS_LOG_LEVEL"] = "ERROR"
    os.environ["ANALYSTACK_LIMITS__AUTOML_TIME_BUDGET_S"] = str(budget)
    import httpx

    from analystack.localcloud.cloud import LocalCloud

    _import_analysis_modules()
    started = time.perf_counter()
    cloud = LocalCloud.on_free_ports()
    cloud.start()
    cloud_start = time.perf_counter() - started
    try:
        with httpx.Client(base_url=cloud.api_url, timeout=120) as http, RssSampler() as rss:
            clock, wall = time.perf_counter(), time.time()
            size = csv.stat().st_size
            reservation = http.post("/uploads", json={"filename": csv.name, "size_bytes": size})
            if reservation.status_code != 201:
                raise RuntimeError(f"POST /uploads: {reservation.status_code} {reservation.text[:300]}")
            upload = reservation.json()
            put = httpx.put(
                upload["upload_url"], content=csv.read_bytes(), headers=upload["headers"], timeout=600
            )
            put.raise_for_status()
            upload_s = time.perf_counter() - clock
            posted_at = datetime.now(UTC)
            accepted = http.post("/analyze", json={"request": REQUEST, "upload_id": upload["upload_id"]})
            if accepted.status_code != 202:
                raise RuntimeError(f"POST /analyze: {accepted.status_code} {accepted.text[:300]}")
            job_id = accepted.json()["job_id"]
            deadline = time.monotonic() + timeout
            while True:
                job = http.get(f"/jobs/{job_id}").json()
                if job["status"] in ("succeeded", "failed") or time.monotonic() > deadline:
                    break
                time.sleep(poll)
            seen_s = time.perf_counter() - clock
            events: list[dict[str, Any]] = []
            while True:  # pages of up to 1,000 events, resumed after the last id
                params = {"format": "json", **({"after": events[-1]["event_id"]} if events else {})}
                page = http.get(f"/jobs/{job_id}/events", params=params).json()["events"]
                events += page
                if len(page) < 1000:
                    break
    finally:
        cloud.stop()

    origin = posted_at.timestamp()
    steps, intervals = [], []
    for step in job.get("steps", []):
        seconds = _seconds(step.get("started_at"), step.get("finished_at"))
        if seconds is not None:
            start = datetime.fromisoformat(step["started_at"]).timestamp() - origin
            intervals.append((start, start + seconds))
        steps.append(
            {
                "step_id": step["step_id"],
                "agent": step["agent"],
                "status": step["status"],
                "seconds": seconds,
                "start_offset": intervals[-1][0] if seconds is not None else None,
                "peak_rss": rss.peak_between(origin + intervals[-1][0], origin + intervals[-1][1])
                if seconds is not None
                else None,
                "outputs": {
                    k: v
                    for k, v in (step.get("outputs") or {}).items()
                    if k in ("metric", "score", "best_model", "target", "task", "charts", "rows")
                },
            }
        )
    finished = job.get("finished_at")
    job_s = (datetime.fromisoformat(finished).timestamp() - origin) if finished else seen_s - upload_s
    eda_plan = next((s for s in (job.get("plan") or {}).get("steps", []) if s.get("id") == "eda"), None)
    eda_target = (eda_plan or {}).get("inputs", {}).get("target")
    return {
        "status": job["status"],
        "error": (job.get("error") or {}).get("message"),
        "cloud_start_s": cloud_start,
        "upload_s": upload_s,
        "upload_peak_rss": rss.peak_between(wall, wall + upload_s),
        "job_s": job_s,
        "total_s": upload_s + job_s,
        "client_seen_s": seen_s,
        "first_step_s": min((i[0] for i in intervals), default=None),
        "steps": steps,
        "sum_steps_s": sum(s["seconds"] or 0.0 for s in steps),
        "busy_s": _union_seconds(intervals),
        "eda_target": eda_target if isinstance(eda_target, str) else None,
        "automl_events": [
            (datetime.fromisoformat(e["at"]).timestamp() - origin, e["message"])
            for e in events
            if e.get("agent") == "automl"
        ],
        "baseline_rss": rss.baseline,
        "peak_rss": rss.peak,
    }


def child_plain(csv: Path, budget: float, eda_target: str | None) -> dict[str, Any]:
    _import_analysis_modules()
    from functions.automl.search import train_model
    from functions.automl.target import infer_task, resolve_target
    from functions.eda.analysis import explore
    from functions.ingestion.loaders import load_table
    from functions.quality.profiling import profile_table
    from functions.visualization.charts import figure_json, recommend_charts, render_chart

    times: dict[str, float] = {}
    spans: dict[str, tuple[float, float]] = {}
    automl_events: list[tuple[float, str]] = []

    def timed(key: str, fn: Any) -> Any:
        clock, wall = time.perf_counter(), time.time()
        value = fn()
        times[key] = time.perf_counter() - clock
        spans[key] = (wall, wall + times[key])
        return value

    with RssSampler() as rss:
        data = timed("read", csv.read_bytes)
        frame = timed("load", lambda: load_table(data, csv.name).frame)
        quality = timed("profile", lambda: profile_table(frame))
        eda = timed("eda", lambda: explore(frame, target=eda_target, request=REQUEST))

        def automl() -> Any:
            choice = resolve_target(frame, requested=None, request_text=REQUEST)
            task = infer_task(frame, choice.column, request_text=REQUEST)
            automl_events.append((time.perf_counter(), f"target '{choice.column}'; task {task}"))
            return train_model(
                frame,
                target=choice.column,
                task=task,
                time_budget_s=budget,
                progress=lambda _fraction, message: automl_events.append((time.perf_counter(), message)),
            )[0]

        automl_start = time.perf_counter()
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
            for spec in specs:
                figure_json(render_chart(frame, spec))
            return len(specs)

        n_charts = timed("charts", charts)
    brief_eda = None
    if eda_target != "revenue":  # the brief's call, for reference only (not in the totals)
        brief_eda = timed("eda_revenue", lambda: explore(frame, target="revenue"))
    return {
        "times": times,
        "total_s": sum(v for k, v in times.items() if k != "eda_revenue"),
        "brief_eda_s": times.get("eda_revenue") if brief_eda is not None else None,
        "metric": result.metric,
        "score": result.holdout.get(result.metric),
        "best_model": result.best_model,
        "charts": n_charts,
        "automl_events": [(at - automl_start, message) for at, message in automl_events],
        "step_peaks": {key: rss.peak_between(*span) for key, span in spans.items() if key != "eda_revenue"},
        "baseline_rss": rss.baseline,
        "peak_rss": rss.peak,
    }


def _run_child(kind: str, csv: Path, args: argparse.Namespace, extra: list[str]) -> dict[str, Any]:
    command = [sys.executable, __file__, "--child", kind, "--csv", str(csv), "--budget", str(args.budget)]
    command += ["--timeout", str(args.timeout), "--poll", str(args.poll), *extra]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    out = subprocess.run(
        command, capture_output=True, text=True, cwd=ROOT, env=env, timeout=args.timeout + 300, check=False
    )
    if out.returncode != 0:
        raise SystemExit(f"{kind} run failed ({out.returncode}):\n{out.stderr[-3000:]}")
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


# --------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------


def _fmt(value: float | None, width: int = 10) -> str:
    return f"{'-':>{width}}" if value is None else f"{value:>{width}.2f}"


def automl_breakdown(events: list[tuple[float, str]], start: float, end: float, after: str) -> str:
    """Seconds before the candidate search, per candidate (summed, with the count of fits) and
    after it, from the progress messages ("split ...", "fitted <model> (cv ...)")."""
    parts: dict[str, list[float]] = {}
    last: float | None = None
    for at, message in events:
        if last is None:
            if message.startswith("split "):
                parts["prep"] = [at - start]
                last = at
            continue
        if message.startswith("fitted "):
            name = message.removeprefix("fitted ").removeprefix("the ").split(" (cv")[0]
            parts.setdefault(name, []).append(at - last)
            last = at
    if last is None:
        return "(no search progress events)"
    parts[after] = [end - last]
    return ", ".join(f"{name}{f' x{len(v)}' if len(v) > 1 else ''} {sum(v):.1f}" for name, v in parts.items())


def _verdict(ratio: float, target: float) -> str:
    return "ok" if ratio <= target else "OVER"


def report(
    rows: int, csv: Path, arrow: int, journey: dict[str, Any], plain: dict[str, Any], budget: float
) -> None:
    print()
    print(
        f"== {rows:,} rows x 11 columns, {csv.stat().st_size / MB:.1f} MiB CSV, Arrow {arrow / MB:.1f} MiB; "
        f"AutoML budget {budget:g} s; journey status {journey['status']}"
        + (f" ({journey['error']})" if journey["error"] else "")
    )
    print(f"{'step':<34}{'journey s':>10}{'plain s':>10}{'journey MiB':>13}{'plain MiB':>11}")
    by_agent: dict[str, float] = {"upload": journey["upload_s"]}
    peak_by_agent: dict[str, int] = {"upload": journey["upload_peak_rss"]}
    for step in journey["steps"]:
        if step["seconds"] is not None:
            by_agent[step["agent"]] = by_agent.get(step["agent"], 0.0) + step["seconds"]
            peak_by_agent[step["agent"]] = max(peak_by_agent.get(step["agent"], 0), step["peak_rss"])
    times = plain["times"]

    def mib(peak: int | None, base: int) -> str:
        return f"{'-':>12}" if peak is None else f"{(peak - base) / MB:>12.0f}"

    for label, agent, key in ROWS_SHOWN:
        print(
            f"{label:<34}{_fmt(by_agent.get(agent))}{_fmt(times.get(key))} "
            f"{mib(peak_by_agent.get(agent), journey['baseline_rss'])}"
            f"{mib(plain['step_peaks'].get(key), plain['baseline_rss'])[1:]}"
        )
    for step in journey["steps"]:  # anything else the plan ran
        if step["agent"] not in {a for _, a, _ in ROWS_SHOWN}:
            print(f"{step['step_id'] + ' (journey only)':<34}{_fmt(step['seconds'])}{_fmt(None)}")
    idle = journey["job_s"] - journey["busy_s"]
    print(f"{'no step running (orchestration)':<34}{_fmt(idle)}{_fmt(None)}")
    print(f"{'total':<34}{_fmt(journey['total_s'])}{_fmt(plain['total_s'])}")
    if plain["brief_eda_s"] is not None:
        print(f"  (plain explore(frame, target='revenue'), not in the totals: {plain['brief_eda_s']:.2f} s)")

    sum_steps = journey["sum_steps_s"]
    print(
        f"journey: cloud start {journey['cloud_start_s']:.1f} s (not counted); upload {journey['upload_s']:.2f} s; "
        f"POST /analyze -> first step started {_fmt(journey['first_step_s'], 0).strip()} s; "
        f"job {journey['job_s']:.2f} s; sum of step times {sum_steps:.2f} s; "
        f"job - sum of steps {journey['job_s'] - sum_steps:+.2f} s (EDA and AutoML overlap); "
        f"no step running {idle:.2f} s"
    )
    automl_step = by_agent.get("automl", 0.0)
    journey_rest = journey["total_s"] - automl_step
    plain_rest = plain["total_s"] - times.get("automl", 0.0)
    ratio = journey_rest / plain_rest if plain_rest > 0 else float("inf")
    print(
        f"orchestration overhead ratio = (journey total - AutoML step) / (plain total - AutoML call) = "
        f"{journey_rest:.2f} / {plain_rest:.2f} = {ratio:.2f}x  target <= {OVERHEAD_TARGET}x  "
        f"{_verdict(ratio, OVERHEAD_TARGET)}"
    )
    serial = journey["upload_s"] + idle + sum_steps - automl_step
    print(
        f"  without the parallelism credit (upload + no-step time + every step but AutoML) = {serial:.2f} s "
        f"-> {serial / plain_rest if plain_rest > 0 else float('inf'):.2f}x"
    )
    print(
        "  (MiB: highest RSS sampled during the step minus the baseline; EDA and AutoML run at the same "
        "time in the journey, so they share their peak)"
    )
    for name, side in (("journey", journey), ("plain", plain)):
        base, peak = side["baseline_rss"], side["peak_rss"]
        print(
            f"memory ({name}): baseline RSS {base / MB:.0f} MiB, peak {peak / MB:.0f} MiB "
            f"(+{(peak - base) / MB:.0f} MiB); peak / Arrow {peak / arrow:.1f}x "
            f"{_verdict(peak / arrow, MEMORY_TARGET)}, (peak - baseline) / Arrow {(peak - base) / arrow:.1f}x "
            f"{_verdict((peak - base) / arrow, MEMORY_TARGET)}  (target <= {MEMORY_TARGET}x)"
        )
    automl = next((s for s in journey["steps"] if s["agent"] == "automl" and s["seconds"]), None)
    if automl:
        start = automl["start_offset"]
        print(
            "automl step (s): journey "
            + automl_breakdown(
                journey["automl_events"], start, start + automl["seconds"], "refit/score/importance/store"
            )
        )
    print(
        "automl call (s): plain   "
        + automl_breakdown(plain["automl_events"], 0.0, times.get("automl", 0.0), "refit/score/importance")
    )
    model = next((s["outputs"] for s in journey["steps"] if s["agent"] == "automl"), {})
    print(
        f"model: journey {model.get('best_model')} {model.get('metric')} {model.get('score')}; "
        f"plain {plain['best_model']} {plain['metric']} {plain['score']:.4f}; "
        f"charts: journey {next((s['outputs'].get('charts') for s in journey['steps'] if s['agent'] == 'visualization'), '-')}, "
        f"plain {plain['charts']}"
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
        "--poll",
        type=float,
        default=1.0,
        help="seconds between GET /jobs/{id} polls (each poll runs in this process too, see the docstring)",
    )
    parser.add_argument("--quick", action="store_true", help="smoke test: 10,000 rows, 2 s AutoML budget")
    parser.add_argument("--child", choices=["journey", "plain"], help=argparse.SUPPRESS)
    parser.add_argument("--csv", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--eda-target", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child == "journey":
        print(json.dumps(child_journey(args.csv, args.budget, args.timeout, args.poll)))
        return
    if args.child == "plain":
        print(json.dumps(child_plain(args.csv, args.budget, args.eda_target)))
        return

    if args.quick:
        args.rows, args.budget = "10000", 2.0
    row_counts = [int(r.replace("_", "")) for r in args.rows.split(",") if r.strip()]
    print(f"request: {REQUEST!r}; each side in a fresh process; machine: {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory(prefix="bench-journey-") as tmp:
        for rows in row_counts:
            csv = Path(tmp) / "sales.csv"
            actual = write_sales_csv(rows, csv)
            arrow = arrow_nbytes(csv)
            journey = _run_child("journey", csv, args, [])
            extra = ["--eda-target", journey["eda_target"]] if journey["eda_target"] else []
            plain = _run_child("plain", csv, args, extra)
            report(actual, csv, arrow, journey, plain, args.budget)


if __name__ == "__main__":
    main()
