"""Plain-dict <-> DynamoDB attribute-value conversion shared by every store.

The low-level client is used (not the resource API, which is in feature freeze); floats travel
as ``Decimal`` because DynamoDB's number type is decimal, and come back as int or float.
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def _to_dynamo_value(value: Any) -> Any:
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, float):
        # DynamoDB has no NaN/inf; None keeps the record writable and honest about the gap.
        return None if not math.isfinite(value) else Decimal(repr(value))
    if isinstance(value, dict):
        return {str(k): _to_dynamo_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_to_dynamo_value(v) for v in value]
    return value


def _from_dynamo_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _from_dynamo_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_from_dynamo_value(v) for v in value]
    if isinstance(value, set):
        return sorted(_from_dynamo_value(v) for v in value)
    return value


def to_item(data: dict[str, Any]) -> dict[str, Any]:
    """Serialise a plain dict (dropping None values at the top level) to a DynamoDB item."""
    return {k: _serializer.serialize(_to_dynamo_value(v)) for k, v in data.items() if v is not None}


def from_item(item: dict[str, Any]) -> dict[str, Any]:
    return {k: _from_dynamo_value(_deserializer.deserialize(v)) for k, v in item.items()}


def to_value(value: Any) -> Any:
    return _serializer.serialize(_to_dynamo_value(value))
