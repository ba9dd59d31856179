"""Which trunk carries a call and which number it presents (pure, seeded by the caller).

Line health and local presence refine these choices; the contract stays: trunks by weight,
never an ejected one, never the trunk that just lost this contact's call when another exists.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from kdial_worker.runtime import CallerId, Trunk


def pick_trunk(
    trunks: Sequence[Trunk], rng: random.Random, avoid: str | None = None
) -> Trunk | None:
    """A trunk chosen at random in proportion to its weight; `avoid` only if nothing else."""
    usable = [t for t in trunks if t.weight > 0 and t.gateway]
    preferred = [t for t in usable if t.name != avoid] or usable
    if not preferred:
        return None
    return rng.choices(preferred, weights=[t.weight for t in preferred], k=1)[0]


def pick_caller_id(
    numbers: Sequence[CallerId], default: CallerId | None, rng: random.Random
) -> CallerId | None:
    """Until local presence lands: any of the pool's numbers, else its default."""
    if numbers:
        return rng.choice(list(numbers))
    return default
