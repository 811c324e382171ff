"""The report a person reads: one self-contained HTML page, plus Markdown and JSON.

Built only from what the steps stored (quality, EDA and model reports, chart figures, step
timings), so every number in it can be traced to an artifact; nothing is computed or invented
here. The HTML inlines plotly.js once so the page renders offline, wherever it is opened.
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass
class ReportInputs:
    job: Mapping[str, Any]
    steps: Sequence[
        Mapping[str, Any]
    ]  # step records: step_id, agent, skill, status, started_at, finished_at, error
    summary: str
    quality: Mapping[str, Any] | None = None
    eda: Mapping[str, Any] | None = None
    model: Mapping[str, Any] | None = None
    charts: Sequence[Mapping[str, Any]] = field(
        default_factory=list
    )  # title, reason, kind, figure (plotly JSON str)
    artifacts: Sequence[Mapping[str, Any]] = field(default_factory=list)  # item_id, name, kind, media_type
    loading_notes: Sequence[str] = field(default_factory=list)  # what ingestion repaired or assumed


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _fmt(value: Any, digits: int = 3) -> str:
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


#: How the EDA agent's insight metrics read in the report (others: their name, spaced).
_INSIGHT_METRICS = {
    "spearman_rho": "Spearman ρ",
    "pearson_r": "Pearson r",
    "cramers_v": "Cramér's V",
    "eta": "η",
    "eta_squared": "η²",
    "epsilon_squared": "ε²",
    "cohens_d": "Cohen's d",
    "outlier_share": "share beyond 3×IQR",
    "top_share": "top level's share",
}
_STRENGTH_NOTE = (
    "Strength puts each finding's effect on one 0–1 scale (|ρ|, V, η, √ε²), which with its p-value ranks "
    "the findings."
)


def _insight_value(insight: Mapping[str, Any]) -> str:
    """The headline number with its name ("ε² 0.651"), or '' when there is none."""
    if insight.get("value") is None:
        return ""
    metric = str(insight.get("metric") or "")
    label = _INSIGHT_METRICS.get(metric, metric.replace("_", " "))
    return f"{label} {_fmt(insight['value'])}".strip()


def _p_value(value: Any) -> str:
    if value is None:
        return ""
    return "< 0.001" if float(value) < 0.001 else f"{float(value):.3f}"


def _duration(step: Mapping[str, Any]) -> str:
    from datetime import datetime

    start, end = step.get("started_at"), step.get("finished_at")
    if not start or not end:
        return ""
    seconds = (
        datetime.fromisoformat(str(end).replace("Z", "+00:00"))
        - datetime.fromisoformat(str(start).replace("Z", "+00:00"))
    ).total_seconds()
    return f"{seconds:.1f} s"


def build_json(inputs: ReportInputs) -> dict[str, Any]:
    quality = inputs.quality or {}
    model = inputs.model or {}
    return {
        "job_id": inputs.job.get("job_id"),
        "request": inputs.job.get("request"),
        "status": inputs.job.get("status"),
        "planner": inputs.job.get("planner"),
        "summary": inputs.summary,
        "quality": {
            k: quality.get(k)
            for k in (
                "score",
                "grade",
                "rows",
                "columns",
                "missing_cells",
                "duplicate_rows",
                "score_breakdown",
            )
        }
        if quality
        else None,
        "quality_issues": list(quality.get("issues", []))[:10],
        "insights": list((inputs.eda or {}).get("insights", []))[:10],
        "model": {
            k: model.get(k)
            for k in (
                "task",
                "target",
                "metric",
                "holdout",
                "baseline",
                "best_model",
                "feature_importance",
                "model_id",
                "model_version",
            )
        }
        if model
        else None,
        "charts": [{k: c.get(k) for k in ("title", "kind", "reason", "item_id")} for c in inputs.charts],
        "loading_notes": list(inputs.loading_notes),
        "steps": [
            {
                k: s.get(k)
                for k in ("step_id", "agent", "skill", "status", "started_at", "finished_at", "error")
            }
            for s in inputs.steps
        ],
        "artifacts": [dict(a) for a in inputs.artifacts],
    }


def build_markdown(inputs: ReportInputs) -> str:
    data = build_json(inputs)
    lines = [
        f"# Analysis report — {data['job_id']}",
        "",
        f"**Request:** {data['request']}",
        "",
        f"**Status:** {data['status']} · planner: {data['planner']}",
        "",
        "## Summary",
        "",
        inputs.summary,
        "",
    ]
    if data["quality"]:
        q = data["quality"]
        lines += [
            "## Data quality",
            "",
            f"Score **{q['score']}/100** (grade {q['grade']}), {_fmt(q['rows'])} rows × "
            f"{q['columns']} columns, {_fmt(q['missing_cells'])} missing cells, {_fmt(q['duplicate_rows'])} "
            "duplicate rows.",
            "",
        ]
        lines += [f"- **{i.get('severity')}** {i.get('message')}" for i in data["quality_issues"][:8]] + [""]
    if data["loading_notes"]:
        lines += ["## How the data was read", ""] + [f"- {note}" for note in data["loading_notes"]] + [""]
    if data["insights"]:
        lines += ["## Key findings", ""]
        for i, insight in enumerate(data["insights"][:8], start=1):
            numbers = ", ".join(
                part
                for part in (
                    _insight_value(insight),
                    f"p {_p_value(insight['p_value'])}" if insight.get("p_value") is not None else "",
                    f"strength {_fmt(insight['effect_size'])}"
                    if insight.get("effect_size") is not None
                    else "",
                )
                if part
            )
            lines.append(f"{i}. **{insight.get('title')}** — {insight.get('detail', '')} ({numbers})")
        lines += ["", f"_{_STRENGTH_NOTE}_", ""]
    if data["model"]:
        m = data["model"]
        metric = m.get("metric")
        lines += [
            "## Model",
            "",
            f"{m.get('best_model')} predicts **{m.get('target')}** ({m.get('task')}). Holdout "
            f"{metric} **{_fmt((m.get('holdout') or {}).get(metric))}** vs baseline "
            f"{_fmt((m.get('baseline') or {}).get(metric))}.",
            "",
        ]
        lines += [
            f"- {f.get('feature')}: {_fmt(f.get('importance'))}"
            for f in (m.get("feature_importance") or [])[:8]
        ]
        lines.append("")
    if data["charts"]:
        lines += (
            ["## Charts", ""]
            + [f"- {c['title']} ({c['kind']}): {c['reason']}" for c in data["charts"]]
            + [""]
        )
    lines += ["## Steps", "", "| Step | Agent | Status | Time | Error |", "|---|---|---|---|---|"]
    for step in inputs.steps:
        error = str(step.get("error") or "").replace("|", "\\|").replace("\n", " ")
        lines.append(
            f"| {step.get('step_id')} | {step.get('agent')} | {step.get('status')} | {_duration(step)} | {error} |"
        )
    lines += ["", "## Artifacts", ""] + [
        f"- `{a.get('item_id')}` {a.get('name')} ({a.get('media_type')})" for a in inputs.artifacts
    ]
    return "\n".join(lines) + "\n"


_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans KR","Apple SD Gothic Neo","Malgun Gothic",sans-serif;margin:0;background:#f6f7fb;color:#1d2330}
header{background:#1f3b73;color:#fff;padding:24px 32px}header h1{margin:0 0 6px;font-size:22px}
main{max-width:1200px;margin:0 auto;padding:24px 32px}section{background:#fff;border-radius:10px;padding:18px 22px;
margin-bottom:18px;box-shadow:0 1px 3px rgba(0,0,0,.08)}h2{margin-top:0;font-size:18px;color:#1f3b73}
table{border-collapse:collapse;width:100%;font-size:14px}td,th{border-bottom:1px solid #e5e7ef;padding:6px 8px;text-align:left}
.kpis{display:flex;flex-wrap:wrap;gap:14px}.kpi{background:#eef2fb;border-radius:8px;padding:10px 14px;min-width:140px}
.kpi b{display:block;font-size:20px}.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(480px,1fr));gap:16px}
.chart{border:1px solid #e5e7ef;border-radius:8px;padding:8px}.reason{color:#555;font-size:13px}.bad{color:#b42318}
pre{white-space:pre-wrap;font-family:inherit;margin:0}
"""


def build_html(inputs: ReportInputs, *, plotly_js: str | None) -> str:
    data = build_json(inputs)
    parts = [
        f"<header><h1>Analysis report</h1><div>{_e(data['request'])}</div>"
        f"<div>Job {_e(data['job_id'])} · {_e(data['status'])} · planner {_e(data['planner'])}</div></header><main>"
    ]
    parts.append(f"<section><h2>Summary</h2><pre>{_e(inputs.summary)}</pre></section>")
    if data["quality"]:
        q = data["quality"]
        kpis = [
            ("Quality score", f"{q['score']}/100 ({q['grade']})"),
            ("Rows", _fmt(q["rows"])),
            ("Columns", _fmt(q["columns"])),
            ("Missing cells", _fmt(q["missing_cells"])),
            ("Duplicate rows", _fmt(q["duplicate_rows"])),
        ]
        parts.append(
            "<section><h2>Data quality</h2><div class='kpis'>"
            + "".join(f"<div class='kpi'>{_e(k)}<b>{_e(v)}</b></div>" for k, v in kpis)
            + "</div><table><tr><th>Severity</th>"
            "<th>Issue</th></tr>"
            + "".join(
                f"<tr><td>{_e(i.get('severity'))}</td><td>{_e(i.get('message'))}</td></tr>"
                for i in data["quality_issues"]
            )
            + "</table></section>"
        )
    if data["loading_notes"]:
        notes = "".join(f"<li>{_e(note)}</li>" for note in data["loading_notes"])
        parts.append(f"<section><h2>How the data was read</h2><ul>{notes}</ul></section>")
    if data["insights"]:
        rows = "".join(
            f"<tr><td>{n}</td><td><b>{_e(i.get('title'))}</b><div class='reason'>{_e(i.get('detail', ''))}</div></td>"
            f"<td>{_e(_insight_value(i))}</td>"
            f"<td>{_e(_p_value(i.get('p_value')))}</td>"
            f"<td>{_e(_fmt(i.get('effect_size')) if i.get('effect_size') is not None else '')}</td></tr>"
            for n, i in enumerate(data["insights"], start=1)
        )
        parts.append(
            "<section><h2>Key findings</h2><table><tr><th>#</th><th>Finding</th><th>Value</th><th>p</th>"
            f"<th>Strength</th></tr>{rows}</table><p class='reason'>{_e(_STRENGTH_NOTE)}</p></section>"
        )
    if data["model"]:
        m = data["model"]
        metric = m.get("metric") or ""
        holdout, baseline = m.get("holdout") or {}, m.get("baseline") or {}
        metric_rows = "".join(
            f"<tr><td>{_e(k)}</td><td>{_e(_fmt(v))}</td><td>{_e(_fmt(baseline.get(k, '')))}</td></tr>"
            for k, v in holdout.items()
        )
        features = "".join(
            f"<tr><td>{_e(f.get('feature'))}</td><td>{_e(_fmt(f.get('importance')))}</td></tr>"
            for f in (m.get("feature_importance") or [])[:10]
        )
        parts.append(
            f"<section><h2>Model card</h2><p>{_e(m.get('best_model'))} predicts <b>{_e(m.get('target'))}</b> "
            f"({_e(m.get('task'))}); primary metric {_e(metric)}. Model {_e(m.get('model_id'))} "
            f"(version {_e(m.get('model_version'))}).</p><table><tr><th>Metric</th><th>Holdout</th>"
            f"<th>Baseline</th></tr>{metric_rows}</table><h3>Top features</h3><table><tr><th>Feature</th>"
            f"<th>Permutation importance</th></tr>{features}</table></section>"
        )
    if inputs.charts:
        cards = []
        for n, chart in enumerate(inputs.charts):
            cards.append(
                f"<div class='chart'><b>{_e(chart.get('title'))}</b><div class='reason'>{_e(chart.get('reason'))}"
                f"</div><div id='chart{n}' style='height:380px'></div></div>"
            )
        parts.append("<section><h2>Charts</h2><div class='grid'>" + "".join(cards) + "</div></section>")
    step_rows = "".join(
        f"<tr><td>{_e(s.get('step_id'))}</td><td>{_e(s.get('agent'))}.{_e(s.get('skill'))}</td>"
        f"<td class='{'bad' if s.get('status') == 'failed' else ''}'>{_e(s.get('status'))}</td><td>{_e(_duration(s))}</td>"
        f"<td>{_e(s.get('error') or '')}</td></tr>"
        for s in inputs.steps
    )
    parts.append(
        "<section><h2>Steps</h2><table><tr><th>Step</th><th>Agent</th><th>Status</th><th>Time</th>"
        f"<th>Error</th></tr>{step_rows}</table></section>"
    )
    artifact_rows = "".join(
        f"<tr><td>{_e(a.get('name'))}</td><td>{_e(a.get('kind'))}</td><td>{_e(a.get('media_type'))}"
        f"</td><td><code>{_e(a.get('item_id'))}</code></td></tr>"
        for a in inputs.artifacts
    )
    parts.append(
        "<section><h2>Artifacts</h2><table><tr><th>Name</th><th>Kind</th><th>Type</th><th>Id</th></tr>"
        f"{artifact_rows}</table></section></main>"
    )
    scripts = ""
    if inputs.charts and plotly_js:
        # Figures are plotly JSON with <, >, / escaped (safe inside <script>); drawn after plotly.js loads.
        figures = ",".join(str(c.get("figure") or "null") for c in inputs.charts)
        scripts = (
            f"<script>{plotly_js}</script><script>const figures=[{figures}];figures.forEach((f,i)=>{{if(f)"
            "Plotly.newPlot('chart'+i,f.data,Object.assign({},f.layout,{autosize:true,height:380}),"
            "{responsive:true,displaylogo:false});});</script>"
        )
    title = _e(f"Analystack report — {data['job_id']}")
    return (
        f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><meta name='viewport' "
        f"content='width=device-width,initial-scale=1'><title>{title}</title><style>{_CSS}</style></head>"
        f"<body>{''.join(parts)}{scripts}</body></html>"
    )


def dumps(data: Mapping[str, Any]) -> str:
    return json.dumps(data, ensure_ascii=False, indent=2, default=str)
