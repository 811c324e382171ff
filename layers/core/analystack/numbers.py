"""Numbers shared by the agents' reports: JSON-safe pydantic types and one human formatter.

Reports must survive ``json.dumps(..., allow_nan=False)`` (NaN/inf become None) and must not leak
numpy scalars out of ``model_dump``; messages and Markdown format numbers the same way everywhere.
"""

from __future__ import annotations

import math
import numbers
from typing import Annotated, Any

from pydantic import BeforeValidator, Field


def finite_or_none(value: Any) -> Any:
    """Plain Python numbers; NaN and infinities become None (JSON has no place for them)."""
    if value is None or isinstance(value, bool):
        return value
    if type(value).__name__ == "bool_":  # numpy.bool_, told apart without importing numpy
        return bool(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        number = float(value)
        return number if math.isfinite(number) else None
    return value


OptFloat = Annotated[float | None, BeforeValidator(finite_or_none)]
OptNumber = Annotated[int | float | None, BeforeValidator(finite_or_none)]
Share = Annotated[float, Field(ge=0.0, le=1.0)]


def format_number(value: float | int | None, *, digits: int = 4, missing: str = "—") -> str:
    """Thousands separators, at most ``digits`` decimals, scientific for the very small or large."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return missing
    number = float(value)
    if number.is_integer() and abs(number) < 1e15:
        return f"{int(number):,}"
    if 1e-3 <= abs(number) < 1e15:
        return f"{number:,.{digits}f}".rstrip("0").rstrip(".")
    return f"{number:.4g}"
