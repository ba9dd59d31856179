"""Evaluates the CRDs' CEL rules the way the Kubernetes API server does.

Values are typed as the API server types them: a `date-time` string is a timestamp, integers
are `int`, objects are maps. Only rules over `self` are evaluated here; transition rules
(`oldSelf`) belong to the API server alone.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Any

import celpy
from celpy import celtypes
from celpy.evaluation import CELEvalError

_ENV = celpy.Environment()


@cache
def _program(rule: str) -> Any:
    return _ENV.program(_ENV.compile(rule))


def to_cel(value: Any) -> Any:
    """Converts plain Python data (as a pydantic model dumps it) into CEL values."""
    if isinstance(value, bool):
        return celtypes.BoolType(value)
    if isinstance(value, int):
        return celtypes.IntType(value)
    if isinstance(value, float):
        return celtypes.DoubleType(value)
    if isinstance(value, datetime):
        return celtypes.TimestampType(value)
    if isinstance(value, str):
        return celtypes.StringType(value)
    if isinstance(value, dict):
        return celtypes.MapType({celtypes.StringType(k): to_cel(v) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return celtypes.ListType([to_cel(v) for v in value])
    raise TypeError(f"no CEL type for {type(value).__name__}")


def holds(rule: str, obj: dict[str, Any]) -> bool:
    """True when `rule` evaluates to true with `self` bound to `obj`.

    An evaluation error counts as a violation, as it does in the API server.
    """
    try:
        result = _program(rule).evaluate({"self": to_cel(obj)})
    except CELEvalError:
        return False
    return isinstance(result, celtypes.BoolType) and bool(result)
