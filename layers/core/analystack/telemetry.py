"""Structured logging, metrics and tracing (Powertools), one instance each per container.

Metrics are written with ``single_metric`` (flushed at once, no shared state) rather than the
``log_metrics`` decorator: skills run concurrently in threads locally, and card/health requests
record nothing, which the decorator would warn about on every call.

Powertools reads ``POWERTOOLS_SERVICE_NAME`` / ``POWERTOOLS_METRICS_NAMESPACE`` from the
environment the template sets per function. Tracing is Lambda's active X-Ray tracing (set in the
template); the Powertools Tracer is not used because importing the X-Ray SDK adds ~0.5 s to every
cold start, which would break the gateway's 0.6 s budget.
"""

from __future__ import annotations

from aws_lambda_powertools import Logger
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.metrics.functions import is_metrics_disabled

logger = Logger(utc=True)


def record_skill_outcome(agent: str, skill: str, *, succeeded: bool, duration_ms: float) -> None:
    """One EMF record per skill run: the dashboard's success rate and duration per agent.

    ``single_metric`` flushes at once and keeps no shared state, so concurrent skills (threads
    in the local cloud) cannot mix their dimensions.
    """
    if is_metrics_disabled():  # single_metric ignores POWERTOOLS_METRICS_DISABLED on its own
        return
    name = "SkillSucceeded" if succeeded else "SkillFailed"
    with single_metric(name=name, unit=MetricUnit.Count, value=1, namespace="Analystack") as metric:
        metric.add_dimension(name="agent", value=agent)
        metric.add_dimension(name="skill", value=skill)
    with single_metric(
        name="SkillDuration", unit=MetricUnit.Milliseconds, value=duration_ms, namespace="Analystack"
    ) as metric:
        metric.add_dimension(name="agent", value=agent)


def record_job_outcome(*, succeeded: bool) -> None:
    """Feeds the dashboard's job success rate (JobSucceeded / (JobSucceeded + JobFailed))."""
    if is_metrics_disabled():
        return
    with single_metric(
        name="JobSucceeded" if succeeded else "JobFailed",
        unit=MetricUnit.Count,
        value=1,
        namespace="Analystack",
    ):
        pass
