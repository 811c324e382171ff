"""The final answer without an LLM: a template narration built only from step results.

Every figure in it is copied from a step's outputs, so nothing is invented; it says plainly
that no LLM was configured.
"""

from __future__ import annotations

from typing import Any

_NO_LLM_NOTE = "Planned by the heuristic planner and narrated from a template (no LLM is configured)."


def narrate(
    *,
    request: str,
    status: str,
    steps: dict[str, dict[str, Any]],
    error: str | None,
    llm_configured: bool,
    planner: str,
    rationale: str | None = None,
    order: list[str] | None = None,
) -> str:
    lines = [f"Request: {request.strip() or '(none)'}"]
    if rationale:
        lines.append(f"Plan: {rationale}")
    ingest = steps.get("ingest", {}).get("outputs", {})
    if ingest:
        lines.append(
            f"Loaded {_int(ingest.get('rows'))} rows x {_int(ingest.get('columns'))} columns "
            f"({ingest.get('format', 'unknown format')}) as dataset {ingest.get('dataset_id')}."
        )
    quality = steps.get("quality", {}).get("outputs", {})
    if quality:
        lines.append(
            f"Data quality score {quality.get('score')}/100 (grade {quality.get('grade')}) with "
            f"{_int(quality.get('issues'))} issues; see the quality report {quality.get('report_id')}."
        )
    # Plan order, not the state's key order (Parallel branches rebuild that map in any order).
    ordered = [step for step in (order or []) if step in steps] + [s for s in steps if s not in (order or [])]
    for step_id in ordered:
        if step_id in {"ingest", "quality"}:
            continue
        summary = steps[step_id].get("summary") or ""
        if summary:
            lines.append(f"{step_id}: {summary}")
    if status == "failed":
        lines.append(f"The analysis failed: {error or 'an agent reported an error'}. Your upload is kept.")
    lines.append(
        _NO_LLM_NOTE if not llm_configured or planner == "heuristic" else f"Planned by the {planner} planner."
    )
    return "\n".join(lines)


def _int(value: Any) -> str:
    try:
        return f"{int(float(value)):,}"
    except (TypeError, ValueError):
        return str(value)
