"""Which trunk carries a call and which number it presents (pure, seeded by the caller).

Trunks: at random in proportion to their weight for this callee (`kdial.routing.weights`:
health state, priority, cost, headroom, region and carrier fit), where the health state is the
worse of the trunk's and its route's to the callee's network; never an ejected one (nor one
whose route to that network is), never one with neither a gateway nor a SIP URI to dial, and
never the trunk that just lost this contact's call when another exists.

Caller IDs: local presence (`kdial.routing.presence`): the callee's city, province, capital,
then the default, skipping numbers that are quarantined, at a cap, or shown to this callee
within the pool's cooldown.
"""

from __future__ import annotations

import random
from collections.abc import Collection, Mapping, Sequence
from dataclasses import replace

from kdial.api.trunkpool import TrunkState
from kdial.routing.presence import Place, choose, recently_shown
from kdial.routing.weights import weight_for
from kdial_worker.runtime import CallerId, CallerIds, Trunk


def pick_trunk(
    trunks: Sequence[Trunk],
    rng: random.Random,
    *,
    avoid: str | None = None,
    callee_region: str | None = None,
    callee_carrier: str | None = None,
    callee_network: str | None = None,
    in_use: Mapping[str, int] | None = None,
) -> Trunk | None:
    """A trunk chosen in proportion to its weight for the callee; `avoid` only if nothing else.

    ``in_use`` is the calls last seen up on each trunk; it lowers a busy trunk's weight but
    never to zero, because it is only refreshed when the trunk is picked again.
    """
    weighted: list[tuple[Trunk, int]] = []
    for trunk in trunks:
        if trunk.weight <= 0 or not (trunk.gateway or trunk.sip_uri):
            continue
        busy = min((in_use or {}).get(trunk.name, 0), trunk.max_concurrent - 1)
        state = _worse(trunk.routed.state, trunk.networks.get(callee_network or ""))
        routed = replace(trunk.routed, active_calls=max(busy, 0), state=state)
        weight = weight_for(routed, callee_region, callee_carrier)
        if weight > 0:
            weighted.append((trunk, weight))
    preferred = [(t, w) for t, w in weighted if t.name != avoid] or weighted
    if not preferred:
        return None
    return rng.choices([t for t, _ in preferred], weights=[w for _, w in preferred], k=1)[0]


# From the state that takes the most calls to the one that takes none.
_SEVERITY = (TrunkState.HEALTHY, TrunkState.DEGRADED, TrunkState.PROBING, TrunkState.EJECTED)


def _worse(trunk: TrunkState, route: TrunkState | None) -> TrunkState:
    if route is None:
        return trunk
    return max(trunk, route, key=_SEVERITY.index)


def pick_caller_id(
    ids: CallerIds,
    callee: Place,
    rng: random.Random,
    *,
    shown: Mapping[str, float] | None = None,
    capped: Collection[str] = (),
    now: float,
) -> CallerId | None:
    """The number to show the callee; None when every number is resting, capped or shown to
    them within the cooldown. ``shown`` maps numbers to when this callee last saw them
    (seconds since the epoch)."""
    chosen = choose(
        callee,
        ids.candidates,
        ids.selection,
        default=ids.default,
        capped=capped,
        quarantined=ids.quarantined,
        shown_recently=recently_shown(shown or {}, now, ids.cooldown_days),
        rng=rng,
    )
    return ids.get(chosen.number) if chosen else None
