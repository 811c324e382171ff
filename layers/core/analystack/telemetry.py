"""Structured logging, metrics and tracing (Powertools), one instance each per container.

Powertools reads ``POWERTOOLS_SERVICE_NAME`` / ``POWERTOOLS_METRICS_NAMESPACE`` from the
environment the template sets per function; the tracer switches itself off outside Lambda.
"""

from __future__ import annotations

import warnings

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit, single_metric

# Card, health and polling requests legitimately record no metric; Powertools would warn on each.
warnings.filterwarnings("ignore", message="No application metrics to publish", category=UserWarning)

logger = Logger(service="analystack", utc=True)
metrics = Metrics(namespace="Analystack", service="analystack")
tracer = Tracer(service="analystack")


def record_skill_outcome(agent: str, skill: str, *, succeeded: bool, duration_ms: float) -> None:
    """One EMF record per skill run: the dashboard's success rate and duration per agent.

    ``single_metric`` flushes at once and keeps no shared state, so concurrent skills (threads
    in the local cloud) cannot mix their dimensions.
    """
    name = "SkillSucceeded" if succeeded else "SkillFailed"
    with single_metric(name=name, unit=MetricUnit.Count, value=1, namespace="Analystack") as metric:
        metric.add_dimension(name="agent", value=agent)
        metric.add_dimension(name="skill", value=skill)
    with single_metric(
        name="SkillDuration", unit=MetricUnit.Milliseconds, value=duration_ms, namespace="Analystack"
    ) as metric:
        metric.add_dimension(name="agent", value=agent)
