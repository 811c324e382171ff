"""The template's default analysis workflow (ingest -> quality), rendered by the plan compiler.

``infra/statemachine/analysis.asl.json`` is this definition with ``DefinitionSubstitutions``
placeholders for the function ARNs; a unit test keeps the file and the compiler in step.
"""

from __future__ import annotations

import json
from typing import Any

from orchestrator.compiler import compile_plan
from orchestrator.planner import DataSource, plan_request

SUBSTITUTIONS = {
    "ingestion": "${IngestionFunctionArn}",
    "quality": "${QualityFunctionArn}",
}
FINALIZE = "${OrchestratorFunctionArn}"
REQUEST = "check the data quality"


def default_definition() -> dict[str, Any]:
    plan = plan_request(REQUEST, source=DataSource(kind="upload"), available_agents=set(SUBSTITUTIONS))
    return compile_plan(plan, function_arns=SUBSTITUTIONS, finalize_function_arn=FINALIZE)


def render() -> str:
    return json.dumps(default_definition(), indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    print(render(), end="")
