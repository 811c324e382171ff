"""SageMaker Autopilot (AutoML V2) job requests for tables too large for the Lambda search.

The in-Lambda search (:mod:`functions.automl.search`) is sized for tables up to about a
million rows; beyond that, or when the operator enables it, the agent hands the job to
SageMaker Autopilot. This module only *builds* the ``CreateAutoMLJobV2`` request - the handler
sends it with boto3's ``sagemaker`` client (DESIGN.md section 5: the sagemaker SDK pulls full
mlflow and does not fit a zip Lambda) - so the request shape is unit-testable against botocore's
service model without AWS access. No boto3, HTTP, A2A or environment access here.
"""

from __future__ import annotations

import hashlib
import math
import re
from typing import Any, Literal

from analystack.errors import InvalidInputError
from functions.automl.features import Task

__all__ = [
    "AUTOPILOT_CELL_FACTOR",
    "CONTENT_TYPES",
    "OBJECTIVE_METRICS",
    "PROBLEM_TYPES",
    "autopilot_job_request",
    "sanitize_job_name",
    "should_use_autopilot",
]

ProblemType = Literal["regression", "binary", "multiclass"]
DataFormat = Literal["csv", "parquet"]

#: Autopilot content types by data format (CSV must carry a header row).
CONTENT_TYPES: dict[str, str] = {
    "csv": "text/csv;header=present",
    "parquet": "x-application/vnd.amazon+parquet",
}
#: Our problem types -> Autopilot's ``ProblemType`` enum.
PROBLEM_TYPES: dict[str, str] = {
    "regression": "Regression",
    "binary": "BinaryClassification",
    "multiclass": "MulticlassClassification",
}
#: Objective per Autopilot problem type, matching the local search's primary metrics
#: (R², ROC AUC, macro F1); forecasts use Autopilot's quantile loss.
OBJECTIVE_METRICS: dict[str, str] = {
    "Regression": "R2",
    "BinaryClassification": "AUC",
    "MulticlassClassification": "F1macro",
    "Forecast": "AverageWeightedQuantileLoss",
}
#: Besides the row threshold, tables with ``rows x columns >= row_threshold x`` this many
#: cells go to Autopilot too (wide tables cost as much as long ones).
AUTOPILOT_CELL_FACTOR = 50

_JOB_NAME = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,31}")
_JOB_NAME_MAX = 32
_S3_URI = re.compile(r"s3://[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9](/.*)?")
_ROLE_ARN = re.compile(r"arn:aws[a-z\-]*:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+")
_FREQUENCY = re.compile(
    r"(1Y|Y|([1-9]|1[0-1])M|M|[1-4]W|W|[1-6]D|D|([1-9]|1[0-9]|2[0-3])H|H|([1-9]|[1-5][0-9])min)"
)
_QUANTILE = re.compile(r"(^p[1-9]\d?$)")


def sanitize_job_name(name: str) -> str:
    """A valid Autopilot job name (``^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,31}$``) derived from ``name``.

    Runs of other characters become one hyphen and edge hyphens go. Names longer than 32
    characters keep a 23-character prefix plus 8 hex digits of the original's SHA-256, so two
    long names that share a prefix (job ids!) still get distinct job names.
    """
    cleaned = re.sub(r"[^A-Za-z0-9]+", "-", name).strip("-") or "analystack-automl"
    if len(cleaned) > _JOB_NAME_MAX:
        digest = hashlib.sha256(name.encode("utf-8")).hexdigest()[:8]
        cleaned = cleaned[:23].rstrip("-") + "-" + digest
    assert _JOB_NAME.fullmatch(cleaned), cleaned
    return cleaned


def should_use_autopilot(rows: int, columns: int, *, enabled: bool, row_threshold: int = 1_000_000) -> bool:
    """Whether to send the job to Autopilot instead of the in-Lambda search.

    Only when enabled (Autopilot costs money and minutes), and the table has at least
    ``row_threshold`` rows or ``row_threshold x AUTOPILOT_CELL_FACTOR`` cells.
    """
    if not enabled or rows <= 0:
        return False
    return rows >= row_threshold or rows * max(columns, 1) >= row_threshold * AUTOPILOT_CELL_FACTOR


def _require(pattern: re.Pattern[str], value: str, what: str) -> str:
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise InvalidInputError(f"Invalid {what}: {str(value)[:200]!r}.", details={"field": what})
    return value


def autopilot_job_request(
    *,
    job_name: str,
    s3_input_uri: str,
    s3_output_uri: str,
    target: str,
    task: Task,
    role_arn: str,
    max_runtime_s: float,
    problem_type: ProblemType | None = None,
    data_format: DataFormat | None = None,
    timestamp_column: str | None = None,
    item_id_column: str | None = None,
    forecast_frequency: str = "D",
    forecast_horizon: int = 30,
    forecast_quantiles: tuple[str, ...] = ("p10", "p50", "p90"),
) -> dict[str, Any]:
    """Keyword arguments for boto3 ``sagemaker.create_auto_ml_job_v2(**request)``.

    Args:
        job_name: Any text (a job id); sanitised with :func:`sanitize_job_name`.
        s3_input_uri: ``s3://bucket/prefix`` of the training data (CSV with header or Parquet).
        s3_output_uri: ``s3://bucket/prefix`` where Autopilot writes its artifacts.
        target: Target column name.
        task: ``regression``, ``classification`` or ``forecast``.
        role_arn: IAM role SageMaker assumes.
        max_runtime_s: ``MaxAutoMLJobRuntimeInSeconds`` (rounded up to whole seconds, >= 1).
        problem_type: ``regression``/``binary``/``multiclass`` (tabular only). For
            classification without it, ``ProblemType`` and the objective are omitted and
            Autopilot infers them from the data.
        data_format: ``csv`` or ``parquet``; by default inferred from the input URI's suffix.
        timestamp_column: Forecast only (required): the timestamp column.
        item_id_column: Forecast only (required by Autopilot): the series identifier column;
            for a single series, add a constant column when exporting the data.
        forecast_frequency: Autopilot frequency code (``D``, ``W``, ``1M``, ``H``, ``15min``...).
        forecast_horizon: Number of future periods to forecast (>= 1).
        forecast_quantiles: Quantiles to forecast (``p1``..``p99``).

    Returns:
        The request dict (nothing is sent).

    Raises:
        InvalidInputError: An argument Autopilot would reject (bad URI, ARN, name, frequency,
            inconsistent task/problem type, missing forecast columns).
    """
    _require(_S3_URI, s3_input_uri, "S3 input URI")
    _require(_S3_URI, s3_output_uri, "S3 output URI")
    _require(_ROLE_ARN, role_arn, "IAM role ARN")
    if not isinstance(target, str) or not target.strip():
        raise InvalidInputError("The target column name is empty.", details={"field": "target"})
    if not (isinstance(max_runtime_s, int | float) and math.isfinite(max_runtime_s) and max_runtime_s > 0):
        raise InvalidInputError(
            "max_runtime_s must be a positive number of seconds.", details={"field": "max_runtime_s"}
        )
    fmt = data_format or (
        "parquet" if s3_input_uri.lower().rstrip("/").endswith((".parquet", ".pq")) else "csv"
    )
    if fmt not in CONTENT_TYPES:
        raise InvalidInputError(f"Unsupported data format {fmt!r}.", details={"field": "data_format"})
    completion = {"MaxAutoMLJobRuntimeInSeconds": max(1, math.ceil(max_runtime_s))}

    if task == "forecast":
        problem = _forecast_config(
            target, timestamp_column, item_id_column, forecast_frequency, forecast_horizon, forecast_quantiles
        )
        problem["CompletionCriteria"] = completion
        problem_config: dict[str, Any] = {"TimeSeriesForecastingJobConfig": problem}
        objective: str | None = OBJECTIVE_METRICS["Forecast"]
    elif task in ("regression", "classification"):
        kind = problem_type or ("regression" if task == "regression" else None)
        if kind is not None and kind not in PROBLEM_TYPES:
            raise InvalidInputError(f"Unknown problem type {kind!r}.", details={"field": "problem_type"})
        if (task == "regression") != (kind == "regression"):
            raise InvalidInputError(
                f"Problem type {kind!r} does not fit a {task} task.", details={"field": "problem_type"}
            )
        tabular: dict[str, Any] = {"TargetAttributeName": target, "CompletionCriteria": completion}
        objective = None
        if kind is not None:
            tabular["ProblemType"] = PROBLEM_TYPES[kind]
            objective = OBJECTIVE_METRICS[PROBLEM_TYPES[kind]]
        problem_config = {"TabularJobConfig": tabular}
    else:
        raise InvalidInputError(f"Unknown task {task!r}.", details={"field": "task"})

    request: dict[str, Any] = {
        "AutoMLJobName": sanitize_job_name(job_name),
        "AutoMLJobInputDataConfig": [
            {
                "ChannelType": "training",
                "ContentType": CONTENT_TYPES[fmt],
                "CompressionType": "None",
                "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": s3_input_uri}},
            }
        ],
        "OutputDataConfig": {"S3OutputPath": s3_output_uri},
        "AutoMLProblemTypeConfig": problem_config,
        "RoleArn": role_arn,
    }
    if objective is not None:
        request["AutoMLJobObjective"] = {"MetricName": objective}
    return request


def _forecast_config(
    target: str,
    timestamp_column: str | None,
    item_id_column: str | None,
    frequency: str,
    horizon: int,
    quantiles: tuple[str, ...],
) -> dict[str, Any]:
    """``TimeSeriesForecastingJobConfig`` without its completion criteria."""
    if not timestamp_column:
        raise InvalidInputError(
            "A forecast job needs the timestamp column.", details={"field": "timestamp_column"}
        )
    if not item_id_column:
        raise InvalidInputError(
            "Autopilot forecasting needs an item identifier column; for a single series add a constant "
            "column (e.g. item_id = 'all') when exporting the data.",
            details={"field": "item_id_column"},
        )
    _require(_FREQUENCY, frequency, "forecast frequency")
    if not isinstance(horizon, int) or isinstance(horizon, bool) or horizon < 1:
        raise InvalidInputError(
            "The forecast horizon must be a whole number of periods >= 1.", details={"field": "horizon"}
        )
    for quantile in quantiles:
        _require(_QUANTILE, quantile, "forecast quantile")
    return {
        "ForecastFrequency": frequency,
        "ForecastHorizon": horizon,
        "ForecastQuantiles": list(quantiles),
        "TimeSeriesConfig": {
            "TargetAttributeName": target,
            "TimestampAttributeName": timestamp_column,
            "ItemIdentifierAttributeName": item_id_column,
        },
    }
