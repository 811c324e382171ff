"""Adaptive execution: what to do when a step reports that the plan's assumption broke.

An agent raises a replannable error (no usable target, a target that is not a column, a target
with nothing to learn) and the state machine hands the run here. The decision is one of:

* ``continue`` with a revised plan: the remaining steps run in a new execution that starts
  from the completed steps' results (a named or guessed target, or the failed step dropped);
* ``ask`` the user a question (the job pauses in ``input_required``, A2A's input-required state) when the
  answer is genuinely ambiguous and asking is allowed; silence past the timeout comes back here
  with ``timed_out`` and the best guess is taken — and recorded as a guess;
* ``give_up``: nothing sensible is left to try, or the replanning budget is spent.

The decision is pure (no I/O). With an LLM configured it proposes the decision from the failure,
the plan and the dataset's schema (never its rows); the proposal is validated against the
columns and the plan, and the heuristic decides whenever the LLM fails or proposes something
invalid — the reason is recorded either way.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from analystack.errors import AnalystackError
from orchestrator.llm import LlmAudit, LlmClient
from orchestrator.llm_planner import ColumnInfo
from orchestrator.plan import Plan, PlanStep, validate_plan

#: Replans per job: enough for "ask, then use the answer", bounded so a run never loops.
MAX_REPLANS = 2
TARGET_CODES = frozenset({"target_not_found", "unknown_column"})
SCHEMA_NAME = "replan_decision"

#: Column names that conventionally hold what people predict, English and Korean.
_TARGET_WORDS = (
    "target",
    "label",
    "y",
    "class",
    "outcome",
    "revenue",
    "sales",
    "amount",
    "price",
    "profit",
    "churn",
    "total",
    "매출",
    "판매",
    "금액",
    "가격",
    "이익",
    "수익",
)
#: Inputs a step can do without (the charts of another step's report); any other reference to a
#: dropped step means the step cannot run without it and is dropped too.
OPTIONAL_INPUTS = frozenset({"quality_report_id", "eda_report_id", "model_report_id", "target"})
_ID_LIKE = re.compile(r"(^|_)(id|uuid|key|code|no|number)$|^id_", re.IGNORECASE)
_NUMERIC_DTYPES = ("int", "float", "double", "decimal", "number")


class StepFailure(BaseModel):
    """The failed step as its agent reported it (from the job's event log)."""

    model_config = ConfigDict(frozen=True)

    step_id: str
    agent: str
    code: str
    message: str
    details: dict[str, str] = Field(default_factory=dict)


class Question(BaseModel):
    """What the job asks the user while it waits in ``input-required``."""

    field: Literal["target"] = "target"
    text: str
    options: list[str] = Field(default_factory=list)
    default: str | None = None
    """The best guess, used when no answer arrives in time."""


class ReplanDecision(BaseModel):
    action: Literal["continue", "ask", "give_up"]
    reason: str
    decided_by: Literal["llm", "heuristic"] = "heuristic"
    plan: Plan | None = None
    question: Question | None = None
    change: str = ""
    """What changed in the plan, in one line (recorded in the job's decisions)."""
    guessed: bool = False
    """True when the target is a guess (no answer, or the user could not be asked)."""
    fallback_reason: str | None = None
    """Why the LLM's proposal was not used, when an LLM was asked."""


class ReplanContext(BaseModel):
    model_config = ConfigDict(arbitrary_types_allowed=True)

    plan: Plan
    completed: frozenset[str]
    failure: StepFailure
    columns: list[ColumnInfo] = Field(default_factory=list)
    replans: int = 0
    answer: str | None = None
    timed_out: bool = False
    can_ask: bool = True
    language: Literal["ko", "en"] = "en"


def decide(context: ReplanContext, *, llm: LlmClient | None = None) -> tuple[ReplanDecision, LlmAudit | None]:
    """The decision for this failure, and the LLM audit (prompts, usage) when an LLM was asked."""
    if context.replans >= MAX_REPLANS:
        return (
            ReplanDecision(
                action="give_up",
                reason=f"replanning is bounded at {MAX_REPLANS} per job and was used up; the step "
                f"'{context.failure.step_id}' failed: {context.failure.message}",
            ),
            None,
        )
    if llm is None:
        return decide_heuristically(context), None
    audit = LlmAudit(schema_name=SCHEMA_NAME)
    try:
        reply = audit.call(
            llm,
            "replan",
            system=_SYSTEM,
            user=build_replan_prompt(context),
            schema=_DECISION_SCHEMA,
        )
        decision = _from_llm(reply.data, context)
    except AnalystackError as exc:
        fallback = decide_heuristically(context)
        return fallback.model_copy(update={"fallback_reason": f"the LLM failed: {exc.message}"}), audit
    except (ValidationError, ValueError) as exc:
        fallback = decide_heuristically(context)
        reason = f"the LLM's decision was invalid: {str(exc).splitlines()[0][:200]}"
        return fallback.model_copy(update={"fallback_reason": reason}), audit
    return decision, audit


def decide_heuristically(context: ReplanContext) -> ReplanDecision:
    failure = context.failure
    step = _find_step(context.plan, failure.step_id)
    if step is None:
        return ReplanDecision(
            action="give_up", reason=f"the failed step '{failure.step_id}' is not in the plan"
        )
    if failure.code in TARGET_CODES:
        return _resolve_target(context, step)
    if failure.code == "unlearnable_target":
        return _drop(context, step, f"the target cannot be learned ({failure.message})")
    return ReplanDecision(
        action="give_up", reason=f"no replanning rule for '{failure.code}' ({failure.message})"
    )


def _resolve_target(context: ReplanContext, step: PlanStep) -> ReplanDecision:
    columns = [c.name for c in context.columns]
    candidates = _candidates(context)
    guess = best_guess_target(candidates or columns, context.columns)
    if context.answer is not None:
        named = match_column(context.answer, columns)
        if named is not None:
            return _with_target(context, step, named, reason=f"the user named the target '{named}'")
        if guess is not None:
            return _with_target(
                context,
                step,
                guess,
                reason=f"the answer '{context.answer[:60]}' is not a column; the best guess '{guess}' is used",
                guessed=True,
            )
    if context.timed_out and guess is not None:
        return _with_target(
            context,
            step,
            guess,
            reason=f"no answer arrived in time; the best guess '{guess}' is used",
            guessed=True,
        )
    if guess is None:
        return _drop(context, step, f"no column can serve as the target ({context.failure.message})")
    if context.can_ask and len(candidates) != 1:
        return ReplanDecision(
            action="ask",
            reason="the target is ambiguous: " + context.failure.message,
            question=Question(
                text=_question_text(context.language, candidates or columns, guess),
                options=(candidates or columns)[:30],
                default=guess,
            ),
            change="asked the user which column to predict",
        )
    return _with_target(
        context,
        step,
        guess,
        reason=f"the only candidate target is '{guess}'"
        if len(candidates) == 1
        else f"asking is turned off; the best guess '{guess}' is used",
        guessed=len(candidates) != 1,
    )


def _with_target(
    context: ReplanContext, step: PlanStep, target: str, *, reason: str, guessed: bool = False
) -> ReplanDecision:
    data = context.plan.model_dump(mode="json")
    for raw in data["steps"]:
        if raw["id"] == step.id or (raw["agent"] == step.agent and raw["id"] not in context.completed):
            raw["inputs"]["target"] = target
        elif raw["id"] not in context.completed and "target" in raw["inputs"]:
            raw["inputs"]["target"] = target  # e.g. the charts of the model's target
    data["target_column"] = target
    plan = validate_plan(data)
    return ReplanDecision(
        action="continue",
        reason=reason,
        plan=plan,
        change=f"step '{step.id}' retries with target '{target}'",
        guessed=guessed,
    )


def _drop(context: ReplanContext, step: PlanStep, why: str) -> ReplanDecision:
    """Continue without the failed step: later steps lose only their references to it."""
    removed = {step.id}
    data = context.plan.model_dump(mode="json")
    kept: list[dict[str, Any]] = []
    for raw in data["steps"]:
        if raw["id"] in removed:
            continue
        needs = [
            name
            for name, value in raw["inputs"].items()
            if isinstance(value, dict) and value.get("step") in removed and name not in OPTIONAL_INPUTS
        ]
        if needs and raw["id"] not in context.completed:
            removed.add(raw["id"])  # e.g. tracking a model that will not exist
            continue
        raw["depends_on"] = [d for d in raw["depends_on"] if d not in removed]
        raw["inputs"] = {
            name: value
            for name, value in raw["inputs"].items()
            if not (isinstance(value, dict) and value.get("step") in removed)
        }
        kept.append(raw)
    remaining = [raw for raw in kept if raw["id"] not in context.completed]
    if not remaining:
        return ReplanDecision(
            action="give_up",
            reason=f"{why}; no step is left to run without '{step.id}'",
        )
    data["steps"] = kept
    return ReplanDecision(
        action="continue",
        reason=f"{why}; the analysis goes on without step '{step.id}'",
        plan=validate_plan(data),
        change="dropped step(s) " + ", ".join(f"'{r}'" for r in sorted(removed)),
    )


def _candidates(context: ReplanContext) -> list[str]:
    columns = [c.name for c in context.columns]
    listed = context.failure.details.get("candidates") or context.failure.details.get("suggestions") or ""
    names = [name.strip() for name in listed.split(",") if name.strip() and "…" not in name]
    if not columns:
        return names
    return [name for name in names if name in columns]


def match_column(text: str, columns: Sequence[str]) -> str | None:
    """The column a user's answer names: exact, then case- and space-insensitive."""
    answer = text.strip().strip("'\"`")
    if answer in columns:
        return answer
    folded = _fold(answer)
    for column in columns:
        if _fold(column) == folded:
            return column
    return None


def best_guess_target(names: Sequence[str], columns: Sequence[ColumnInfo]) -> str | None:
    """The most plausible target among ``names``: a conventional target name, numeric, not an ID.

    Ties go to the later column (tables tend to put outcomes last). ``None`` when nothing is
    plausible (every name looks like an ID).
    """
    dtypes = {c.name: c.dtype.lower() for c in columns}
    best: tuple[float, int, str] | None = None
    for position, name in enumerate(names):
        if _ID_LIKE.search(name):
            continue
        folded = _fold(name)
        score = 0.0
        if any(
            word == folded or word in folded.split("_") or (len(word) > 1 and word in folded)
            for word in _TARGET_WORDS
        ):
            score += 2.0
        dtype = dtypes.get(name, "")
        if any(kind in dtype for kind in _NUMERIC_DTYPES):
            score += 1.0
        if "date" in dtype or "time" in dtype:
            score -= 2.0
        key = (score, position, name)
        if best is None or key[:2] > best[:2]:
            best = key
    return best[2] if best is not None else None


def _fold(name: str) -> str:
    return re.sub(r"[\s\-]+", "_", name.strip().lower())


def _find_step(plan: Plan, step_id: str) -> PlanStep | None:
    return next((step for step in plan.steps if step.id == step_id), None)


def _question_text(language: str, options: Sequence[str], guess: str) -> str:
    shown = ", ".join(options[:12]) + (" …" if len(options) > 12 else "")
    if language == "ko":
        return f"어떤 열을 예측할까요? 후보: {shown}. 답이 없으면 '{guess}'(으)로 진행합니다."
    return (
        f"Which column should the model predict? Candidates: {shown}. Without an answer, '{guess}' is used."
    )


# --- the LLM's proposal ------------------------------------------------------------------------

_SYSTEM = """\
You are the replanner of Analystack, a data-analysis platform. A step of a running analysis \
failed because an assumption of its plan broke. Decide how the analysis goes on. You see the \
plan, the failure and the dataset's column names and types — never its rows. Reply with one JSON \
object: {"action": "continue" | "ask" | "give_up", "target": a column name exactly as listed \
(for action continue when the failure is about the target), "drop_step": a step id to drop \
instead (for action continue), "question": a short question for the user in the user's language \
(for action ask), "options": candidate column names (for action ask), "default": the column to \
use when the user does not answer (for action ask), "reason": one sentence}. Ask only when the \
answer is genuinely ambiguous; never invent columns."""

_DECISION_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "action": {"type": "string", "enum": ["continue", "ask", "give_up"]},
        "target": {"type": ["string", "null"]},
        "drop_step": {"type": ["string", "null"]},
        "question": {"type": ["string", "null"]},
        "options": {"type": "array", "items": {"type": "string"}},
        "default": {"type": ["string", "null"]},
        "reason": {"type": "string"},
    },
    "required": ["action", "reason"],
}


def build_replan_prompt(context: ReplanContext) -> str:
    failure = context.failure
    facts = {
        "plan": [
            {"id": s.id, "agent": s.agent, "skill": s.skill, "done": s.id in context.completed}
            for s in context.plan.steps
        ],
        "failed_step": {
            "id": failure.step_id,
            "agent": failure.agent,
            "code": failure.code,
            "message": failure.message[:500],
            "details": {k: v[:300] for k, v in failure.details.items()},
        },
        "columns": [{"name": c.name, "dtype": c.dtype} for c in context.columns[:200]],
        "user_answer": context.answer,
        "timed_out_waiting_for_user": context.timed_out,
        "may_ask_user": context.can_ask,
        "language": context.language,
    }
    return "The situation:\n" + json.dumps(facts, ensure_ascii=False, indent=1)


def _from_llm(data: dict[str, Any], context: ReplanContext) -> ReplanDecision:
    action = data.get("action")
    reason = str(data.get("reason") or "")[:300] or "proposed by the LLM"
    columns = [c.name for c in context.columns]
    step = _find_step(context.plan, context.failure.step_id)
    if step is None:
        raise ValueError(f"the failed step '{context.failure.step_id}' is not in the plan")
    if action == "give_up":
        return ReplanDecision(action="give_up", reason=reason, decided_by="llm")
    if action == "ask":
        if not context.can_ask or context.answer is not None or context.timed_out:
            raise ValueError("asking the user is not possible now")
        options = [o for o in (data.get("options") or []) if isinstance(o, str) and o in columns]
        default = data.get("default")
        if not isinstance(default, str) or default not in columns:
            raise ValueError("the default answer is not a column")
        question = str(data.get("question") or "").strip()[:500]
        if not question:
            raise ValueError("the question is empty")
        return ReplanDecision(
            action="ask",
            reason=reason,
            decided_by="llm",
            question=Question(text=question, options=options[:30] or [default], default=default),
            change="asked the user which column to predict",
        )
    if action == "continue":
        target = data.get("target")
        drop = data.get("drop_step")
        if isinstance(target, str) and target:
            if target not in columns:
                raise ValueError(f"the target '{target[:60]}' is not a column")
            decision = _with_target(context, step, target, reason=reason, guessed=context.answer is None)
        elif isinstance(drop, str) and drop == step.id:
            decision = _drop(context, step, reason)
        else:
            raise ValueError("a 'continue' decision needs a target column or the failed step to drop")
        return decision.model_copy(update={"decided_by": "llm"})
    raise ValueError(f"unknown action {action!r}")
