"""Compiling pools into what workers read: a TrunkPool's routing table, a CallerIdPool's numbers.

Pure functions. Line health (ejection, probing, weights from measured rates) builds on the
trunk entries' `state` and `weight` here.
"""

from __future__ import annotations

import re
from typing import Any

from kdial.api.calleridpool import CallerIdPoolSpec
from kdial.api.meta import E164
from kdial.api.trunkpool import TrunkPoolSpec, TrunkState


def routing_table(spec: TrunkPoolSpec, states: dict[str, str]) -> dict[str, Any]:
    """Every trunk with its limits, state and weight; a new trunk starts Healthy."""
    trunks = []
    for trunk in spec.trunks:
        state = TrunkState(states.get(trunk.name, TrunkState.HEALTHY))
        trunks.append(
            trunk.model_dump(mode="json", by_alias=True, exclude_none=True)
            | {"state": state.value, "weight": base_weight(trunk.priority, state)}
        )
    return {"trunks": trunks, "health": spec.health.model_dump(mode="json", by_alias=True)}


def base_weight(priority: int, state: TrunkState) -> int:
    """Weight before measured health refines it: ejected trunks take no new calls."""
    if state is TrunkState.EJECTED:
        return 0
    return max(priority, 1)


def caller_ids(spec: CallerIdPoolSpec, extra: list[str]) -> tuple[dict[str, Any], list[str]]:
    """The pool's numbers (inline first, then `extra` from numbersFrom) and the problems found.

    A line of `extra` that is not E.164 is a problem, named by its line number.
    """
    numbers = [n.model_dump(mode="json", by_alias=True, exclude_none=True) for n in spec.numbers]
    known = {n["number"] for n in numbers}
    problems = []
    for line_no, line in enumerate(extra, start=1):
        value = line.strip()
        if not value or value.startswith("#") or value in known:
            continue
        if not re.fullmatch(E164, value):
            problems.append(f"line {line_no}: not an E.164 number")
            continue
        known.add(value)
        numbers.append({"number": value, "verified": False})
    if spec.default_number and spec.default_number not in known:
        problems.append("defaultNumber must be one of the pool's numbers")
    config = spec.model_dump(mode="json", by_alias=True, exclude={"numbers", "numbers_from"})
    return config | {"numbers": numbers}, problems
