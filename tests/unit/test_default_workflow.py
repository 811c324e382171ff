from pathlib import Path

import pytest

from orchestrator.default_workflow import render

pytestmark = pytest.mark.unit

ASL = Path(__file__).resolve().parents[2] / "infra" / "statemachine" / "analysis.asl.json"


def test_template_asl_is_the_compiled_default_plan() -> None:
    # Regenerate with: python -m orchestrator.default_workflow > infra/statemachine/analysis.asl.json
    assert ASL.read_text(encoding="utf-8") == render()
