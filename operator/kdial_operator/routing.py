"""Compiling pools into what workers read: a TrunkPool's routing table, a CallerIdPool's numbers.

Pure functions. A routing table carries each trunk's spec, its health state and its weight for
a callee nothing is known of (`kdial.routing.weights`); workers refine the weight per callee
from the same fields (region and carrier fit, their own load).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping

from kdial.api.calleridpool import CallerId, CallerIdPoolSpec
from kdial.api.meta import E164
from kdial.api.trunkpool import TrunkPoolSpec, TrunkState
from kdial.routing.weights import RoutedTrunk, weight_for
from kdial.state.caller_ids import CallerIdTable
from kdial.state.routing_table import RoutingTable, TrunkRow


def routing_table(
    spec: TrunkPoolSpec,
    states: Mapping[str, TrunkState],
    gateways_generation: str = "",
    unconfigured: Collection[str] = (),
    *,
    routes: Mapping[str, Mapping[str, TrunkState]] | None = None,
    down: Mapping[str, float] | None = None,
    fingerprints: Mapping[str, str] | None = None,
) -> RoutingTable:
    """Every trunk with its limits, state and weight; a trunk without a state is Healthy.

    `unconfigured` trunks have a gateway the switch was not given (its credentials are
    missing): weight 0, since a call to a gateway the switch does not know never leaves it.
    `routes` are the trunks' routes to callee networks that are not Healthy ({trunk: {network:
    state}}), `down` the networks down on every trunk with when each is probed (epoch seconds),
    `fingerprints` each gateway's as compiled in `gateways_generation`.
    """
    rows = []
    for trunk in spec.trunks:
        state = states.get(trunk.name, TrunkState.HEALTHY)
        weight = 0 if trunk.name in unconfigured else weight_for(RoutedTrunk.of(trunk, state))
        networks = dict((routes or {}).get(trunk.name, {}))
        fingerprint = (fingerprints or {}).get(trunk.name, "") if trunk.gateway else ""
        rows.append(
            TrunkRow(
                **dict(trunk),
                state=state,
                weight=weight,
                networks=networks,
                gateway_fingerprint=fingerprint,
            )
        )
    return RoutingTable(
        trunks=tuple(rows),
        gateways_generation=gateways_generation,
        networks_down={n: int(at * 1000) for n, at in (down or {}).items()},
    )


def caller_ids(spec: CallerIdPoolSpec, extra: list[str]) -> tuple[CallerIdTable, list[str]]:
    """The pool's numbers (inline first, then `extra` from numbersFrom) and the problems found.

    A line of `extra` that is not E.164 is a problem, named by its line number.
    """
    numbers = list(spec.numbers)
    known = {n.number for n in numbers}
    problems = []
    for line_no, line in enumerate(extra, start=1):
        value = line.strip()
        if not value or value.startswith("#") or value in known:
            continue
        if not re.fullmatch(E164, value):
            problems.append(f"line {line_no}: not an E.164 number")
            continue
        known.add(value)
        numbers.append(CallerId(number=value))
    if spec.default_number and spec.default_number not in known:
        problems.append("defaultNumber must be one of the pool's numbers")
    table = CallerIdTable(
        numbers=tuple(numbers),
        default_number=spec.default_number,
        selection=spec.selection,
        callee_cooldown_days=spec.callee_cooldown_days,
        quarantine=spec.quarantine,
    )
    return table, problems
