"""How many dialer workers a campaign needs: a pure function of demand and bounds."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Demand:
    """What a campaign could use right now."""

    dialing: bool
    """Ready, Running, not Completed, inside its start/end times."""
    max_concurrency: int | None
    """The campaign's own cap on calls in flight."""
    trunk_capacity: int
    """Concurrent calls its trunk pools carry in all."""
    due_now: int
    """Contacts due for an attempt now."""
    pending: int
    """Contacts waiting, due now or later."""
    in_flight: int
    """Contacts in a call now."""
    agent_lines: float = math.inf
    """Calls the campaign's logged-in agents can take at once (`agent_lines`); unbounded for
    Agentless campaigns."""


def desired_workers(demand: Demand, calls_per_worker: int, lower: int, upper: int) -> int:
    """Workers to run: enough for the calls the campaign can place now, within its bounds.

    The calls it can place are bounded by its cap, its trunks, its agents and its backlog (due
    plus in flight), so a short list does not get ten idle workers, a long one does not get
    more than the lines carry, and a floor of five agents does not get workers for fifty.
    With work only later (retries not yet due), or no agent logged in yet, it keeps `lower`
    warm; with no work at all, or when not dialing, it runs none: a pause drains to zero.
    """
    if not demand.dialing:
        return 0
    calls = min(
        demand.max_concurrency if demand.max_concurrency is not None else math.inf,
        demand.trunk_capacity,
        demand.agent_lines,
        demand.due_now + demand.in_flight,
    )
    needed = math.ceil(calls / calls_per_worker) if calls > 0 else 0
    floor = lower if demand.pending or demand.in_flight else 0
    return max(floor, min(needed, upper))
