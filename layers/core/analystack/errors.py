"""Typed errors shared by every agent and service.

Each error carries a stable ``code`` and the HTTP status it maps to, so handlers translate
errors in one place (the A2A kit and the gateway's exception handler) and never by matching
message strings. Messages must be safe to show to the user: no stack traces, no internal paths.
"""

from __future__ import annotations


class AnalystackError(Exception):
    """Base for every error the platform reports to a user."""

    code: str = "internal_error"
    http_status: int = 500

    def __init__(self, message: str, *, details: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}

    def to_dict(self) -> dict[str, object]:
        return {"code": self.code, "message": self.message, "details": self.details}


class InvalidInputError(AnalystackError):
    """The request or its data is malformed; retrying the same input will not help."""

    code = "invalid_input"
    http_status = 400


class EmptyDataError(InvalidInputError):
    code = "empty_data"


class UnsupportedFormatError(InvalidInputError):
    code = "unsupported_format"
    http_status = 415


class DecodingError(InvalidInputError):
    code = "decoding_error"


class ParseError(InvalidInputError):
    code = "parse_error"


class DataTooLargeError(InvalidInputError):
    code = "data_too_large"
    http_status = 413


class UnknownColumnError(InvalidInputError):
    code = "unknown_column"


class NotFoundError(AnalystackError):
    code = "not_found"
    http_status = 404


class ConflictError(AnalystackError):
    code = "conflict"
    http_status = 409


class AgentUnavailableError(AnalystackError):
    """A downstream agent could not be reached or crashed; a retry or a failover may help."""

    code = "agent_unavailable"
    http_status = 503


class AgentTaskFailedError(AnalystackError):
    """An agent ran the task and reported failure (its message is already sanitised)."""

    code = "agent_task_failed"
    http_status = 502


class ReplanRequestedError(AgentTaskFailedError):
    """An agent could not go on because an assumption of the plan broke (no usable target, an
    unknown column, an unlearnable target): the orchestrator can replan the remaining steps.

    Step Functions catches it by this class name (Lambda's ``errorType``) and routes the run to the
    orchestrator's ``replan`` skill instead of failing the job. ``details['code']`` keeps the
    agent's own error code.
    """

    code = "replan_requested"


#: Agent error codes that mean "the plan's assumption broke", not "the data or agent is broken".
REPLANNABLE_CODES = frozenset({"target_not_found", "unknown_column", "unlearnable_target"})


class TargetNotFoundError(InvalidInputError):
    """No usable target column could be identified (the agent says so instead of guessing)."""

    code = "target_not_found"


class UnlearnableTargetError(InvalidInputError):
    """The target cannot be modelled (constant, all missing, or no signal beyond the baseline)."""

    code = "unlearnable_target"
