"""Structured logging, metrics and tracing (Powertools), one instance each per container.

Powertools reads ``POWERTOOLS_SERVICE_NAME`` / ``POWERTOOLS_METRICS_NAMESPACE`` from the
environment the template sets per function; the tracer switches itself off outside Lambda.
"""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer

logger = Logger(service="analystack", utc=True)
metrics = Metrics(namespace="Analystack", service="analystack")
tracer = Tracer(service="analystack")
