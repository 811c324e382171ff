"""Score the planners on a set of user requests: does each plan call the agents the request needs?

Each line of the eval set (``evals/planner_requests.jsonl``) is a request as a user would write
it, with its source (``upload`` or ``dataset``), the agents its plan must include and the agents
it must not include. A request passes when its plan has every ``must_include`` agent and none of
the ``must_not_include`` ones. The heuristic planner is always scored; with ``--llm-base-url`` the
LLM planner (``plan_with_llm``, with this platform's skills from a static table) is scored too,
against any OpenAI-compatible server.

    .venv/bin/python evals/score_planner.py
    .venv/bin/python evals/score_planner.py --llm-base-url http://127.0.0.1:11434/v1 --model llama3.1:8b
    .venv/bin/python evals/score_planner.py --llm-base-url https://api.openai.com/v1 --model gpt-4o-mini --api-key sk-...

The exit status is 0 when every scored planner reaches the target accuracy (85 %), else 1.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orchestrator.llm import LlmClient
from orchestrator.llm_planner import AgentSkillInfo, PlanningOutcome, plan_with_llm
from orchestrator.plan import Plan
from orchestrator.planner import DataSource, plan_request

DEFAULT_SET = Path(__file__).with_name("planner_requests.jsonl")
TARGET_ACCURACY = 0.85
AGENTS = ("ingestion", "quality", "eda", "visualization", "automl", "mlops", "codegen", "nlp", "realtime")

#: The platform's skills as the agents' cards advertise them (functions/*/handler.py), plus the
#: skills the heuristic planner already plans for the agents that are not built yet.
PLATFORM_SKILLS: tuple[AgentSkillInfo, ...] = (
    AgentSkillInfo(
        agent="ingestion",
        skill="ingest",
        description="Detects format, encoding and delimiter, infers the schema, stores the table as Parquet "
        "with a catalog entry and lineage. Inputs: source_uri (s3://...), filename, upload_id.",
        tags=["ingestion", "csv", "excel", "json", "parquet", "load"],
    ),
    AgentSkillInfo(
        agent="quality",
        skill="assess_quality",
        description="Per-column profile, missing values, IQR and z-score outliers, duplicates, type problems, "
        "quality score and grade; report as JSON and Markdown. Input: dataset_id.",
        tags=["quality", "profiling", "missing values", "outliers", "duplicates", "cleaning"],
    ),
    AgentSkillInfo(
        agent="eda",
        skill="explore",
        description="Distributions, correlations, hypothesis tests against a target or group, time-series "
        "awareness and ranked insights. Inputs: dataset_id; optional target, group.",
        tags=["eda", "statistics", "correlation", "hypothesis test", "insights", "time series"],
    ),
    AgentSkillInfo(
        agent="visualization",
        skill="visualize",
        description="Histograms/box plots, bars, lines over time, scatter of strong pairs, correlation heatmap, "
        "feature importance and missing values. Inputs: dataset_id; optional eda_report_id, "
        "quality_report_id, model_report_id, target.",
        tags=["visualization", "charts", "plotly", "dashboard"],
    ),
    AgentSkillInfo(
        agent="automl",
        skill="train_model",
        description="Regression, classification or time-based forecast; model, metrics, feature importance, "
        "sample predictions and a model card. Inputs: dataset_id; optional target, time_budget_s.",
        tags=["automl", "machine learning", "prediction", "regression", "classification", "forecast"],
    ),
    AgentSkillInfo(
        agent="mlops",
        skill="track_model",
        description="Tracks the experiment in MLflow, registers the trained model and its versions, "
        "deployment and drift monitoring. Inputs: dataset_id, model_id (automl's output).",
        tags=["mlops", "mlflow", "registry", "deployment", "drift", "monitoring"],
    ),
    AgentSkillInfo(
        agent="codegen",
        skill="generate_notebook",
        description="Writes Python code and a Jupyter notebook that reproduces the analysis, runs it in a "
        "sandbox and verifies it. Input: dataset_id.",
        tags=["code", "python", "notebook", "jupyter"],
    ),
    AgentSkillInfo(
        agent="nlp",
        skill="answer_question",
        description="Answers a natural-language question over the data (NL to SQL/pandas) and analyses text "
        "columns (sentiment, topics). Input: dataset_id.",
        tags=["nlp", "question answering", "sql", "sentiment", "topics", "text"],
    ),
    AgentSkillInfo(
        agent="realtime",
        skill="stream_summary",
        description="Stream ingestion, windowed aggregates, a live dashboard and threshold alerts. "
        "Input: dataset_id.",
        tags=["realtime", "streaming", "windows", "alerts"],
    ),
)


@dataclass(frozen=True)
class Case:
    line: int
    request: str
    source: DataSource
    must_include: frozenset[str]
    must_not_include: frozenset[str]


@dataclass
class Score:
    name: str
    passed: int = 0
    failures: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.passed + len(self.failures)

    @property
    def accuracy(self) -> float:
        return self.passed / self.total if self.total else 0.0


def load_cases(path: Path) -> list[Case]:
    cases: list[Case] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        item: dict[str, Any] = json.loads(line)
        include = frozenset(item.get("must_include", []))
        exclude = frozenset(item.get("must_not_include", []))
        unknown = (include | exclude) - set(AGENTS)
        if unknown or item.get("source") not in ("upload", "dataset") or include & exclude:
            raise SystemExit(
                f"{path}:{number}: bad case (unknown agents {sorted(unknown)}, or bad source/overlap)"
            )
        cases.append(Case(number, str(item["request"]), DataSource(kind=item["source"]), include, exclude))
    return cases


def judge(case: Case, plan: Plan) -> str | None:
    """``None`` when the plan passes, else what is wrong with it."""
    used = set(plan.agents())
    missing = sorted(case.must_include - used)
    unexpected = sorted(case.must_not_include & used)
    if not missing and not unexpected:
        return None
    parts = [f"missing {', '.join(missing)}"] if missing else []
    parts += [f"unexpected {', '.join(unexpected)}"] if unexpected else []
    return f"{'; '.join(parts)} — planned: {' -> '.join(plan.agents())}"


def score(name: str, cases: list[Case], make_plan: Callable[[Case], Plan]) -> Score:
    result = Score(name)
    for case in cases:
        try:
            problem = judge(case, make_plan(case))
        except Exception as exc:  # noqa: BLE001 - an eval reports every failure and goes on
            problem = f"planner raised {type(exc).__name__}: {exc}"
        if problem is None:
            result.passed += 1
        else:
            result.failures.append(f"line {case.line} [{case.source.kind}] {case.request!r}: {problem}")
    return result


def heuristic(case: Case) -> Plan:
    return plan_request(case.request, source=case.source)


def llm_planner(client: LlmClient, score_notes: list[str], usage: dict[str, float]) -> Callable[[Case], Plan]:
    def make_plan(case: Case) -> Plan:
        outcome: PlanningOutcome = plan_with_llm(
            case.request,
            source=case.source,
            agents=PLATFORM_SKILLS,
            dataset_summary=None,
            llm=client,
            available_agents=set(AGENTS),
        )
        usage["prompt_tokens"] += outcome.usage.prompt_tokens
        usage["completion_tokens"] += outcome.usage.completion_tokens
        if outcome.usage.cost_usd is None:
            usage["unpriced"] = 1
        else:
            usage["cost_usd"] += outcome.usage.cost_usd
        if len(outcome.prompts) > 1 and outcome.planner == "llm":
            usage["repaired"] += 1
        if outcome.planner != "llm":
            score_notes.append(f"line {case.line}: heuristic fallback ({outcome.fallback_reason})")
        return outcome.plan

    return make_plan


def report(result: Score) -> bool:
    ok = result.accuracy >= TARGET_ACCURACY
    print(f"\n== {result.name} planner")
    for failure in result.failures:
        print(f"  FAIL {failure}")
    for note in result.notes:
        print(f"  note {note}")
    print(
        f"  accuracy {result.passed}/{result.total} = {result.accuracy:.1%} "
        f"(target {TARGET_ACCURACY:.0%}): {'PASS' if ok else 'BELOW TARGET'}"
    )
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--file", type=Path, default=DEFAULT_SET, help="the eval set (JSON lines)")
    parser.add_argument(
        "--llm-base-url", help="score the LLM planner too, against this OpenAI-compatible URL"
    )
    parser.add_argument("--model", default="gpt-4o-mini", help="model name for the LLM planner")
    parser.add_argument(
        "--api-key", default=None, help="API key for the LLM server (local servers need none)"
    )
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per LLM call")
    args = parser.parse_args(argv)

    cases = load_cases(args.file)
    languages = sum(1 for c in cases if any("\uac00" <= ch <= "\ud7a3" for ch in c.request))
    print(f"{len(cases)} requests from {args.file} ({languages} Korean, {len(cases) - languages} English)")
    ok = report(score("heuristic", cases, heuristic))

    if args.llm_base_url:
        client = LlmClient(
            model=args.model, api_key=args.api_key, base_url=args.llm_base_url, timeout_s=args.timeout
        )
        notes: list[str] = []
        usage = {
            "prompt_tokens": 0.0,
            "completion_tokens": 0.0,
            "cost_usd": 0.0,
            "unpriced": 0.0,
            "repaired": 0.0,
        }
        started = time.monotonic()
        result = score(f"LLM ({args.model})", cases, llm_planner(client, notes, usage))
        result.notes = notes
        ok = report(result) and ok
        cost = "unknown (no price for this model)" if usage["unpriced"] else f"${usage['cost_usd']:.4f}"
        print(
            f"  {len(cases) - len(notes)} LLM plans ({int(usage['repaired'])} after a repair), "
            f"{len(notes)} heuristic fallbacks; tokens {int(usage['prompt_tokens'])} in / "
            f"{int(usage['completion_tokens'])} out; cost {cost}; {time.monotonic() - started:.1f} s"
        )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
