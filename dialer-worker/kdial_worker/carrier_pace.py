"""503s our own pace provoked: telling them from line failures, and slowing down after one.

kdial never sends a trunk more than its `maxCallsPerSecond` (the caps' sliding window), but a
carrier's real limit may be lower than the one configured, or count its seconds differently.
Its answer to the excess is a SIP 503, which also means "line failure". The worker tells them
apart by the pace the call went out at:

- a 503 on a call sent while the trunk ran at the cap this worker used for it (at least
  `AT_CAP_SHARE` of it in the second before) is taken as ours: it is not counted against the
  line, and the worker halves that cap for `SLOW_SECONDS` (and again, if 503s come at the
  halved pace while it runs at that);
- a 503 on a call sent below the cap, or at a cap of one call a second, is the line's.

A carrier that limits us stops answering 503 once the pace is under its limit. A failing line
keeps answering 503 whatever the pace: it is halved down to one call a second within a few
seconds, and its losses count from then on (or at once, when it never ran at its cap).

What this cannot tell: a carrier whose limit is far below the configured one, sent a pace
between the two, looks like a failing line (its 503s come below our cap). `maxCallsPerSecond`
should be the carrier's contracted rate.
"""

from __future__ import annotations

import math

from kdial.outcomes import Outcome

AT_CAP_SHARE = 0.8
SLOW_SECONDS = 5.0


class CarrierPace:
    """Per trunk: the calls-per-second cap this worker uses now (pure; time passed in)."""

    def __init__(self) -> None:
        self._slow: dict[str, tuple[float, int]] = {}  # trunk -> (until, cap)

    def max_cps(self, trunk: str, configured: int, now: float) -> int:
        until, cap = self._slow.get(trunk, (0.0, configured))
        return min(configured, cap) if until > now else configured

    def self_inflicted(
        self,
        trunk: str,
        outcome: Outcome,
        sip_status: str,
        *,
        used: int,
        in_window: int,
        now: float,
    ) -> bool:
        """Whether this attempt's 503 was our pace's doing (and if so, slow down).

        ``used`` is the cap the grant was taken under, ``in_window`` the trunk's grants in the
        window up to it (`caps.TrunkGrant.cps_in_window`)."""
        if outcome is not Outcome.CALL_LOSS or sip_status != "503":
            return False
        if used < 2 or in_window < math.ceil(used * AT_CAP_SHARE):
            return False
        until, cap = self._slow.get(trunk, (0.0, used))
        halved = max(1, used // 2)
        # Calls still in flight from before a slow-down report at the old cap: they do not
        # halve it again.
        self._slow[trunk] = (now + SLOW_SECONDS, min(halved, cap) if until > now else halved)
        return True
