"""503s our own pace provoked: telling them from line failures, and slowing down after one.

kdial never sends a trunk more than its `maxCallsPerSecond` (the caps' sliding window), but a
carrier's real limit may be lower than the one configured. Its answer to the excess is a SIP
503, which also means "line failure". Such a 503 is ours when the trunk ran near its configured
rate when the call went out (`SELF_INFLICTED_SHARE` of the cap in the second before it) and
this worker was not already slowed down: it is then not counted against the line's health, and
the worker sends that trunk at most `SLOW_SHARE` of its cap for `SLOW_SECONDS`. 503s that keep
coming at the slower pace are the line's: a failing trunk that runs at its cap loses a few
samples to this rule, and is judged on the rest.
"""

from __future__ import annotations

import math

from kdial.outcomes import Outcome

SELF_INFLICTED_SHARE = 0.8
SLOW_SHARE = 0.5
SLOW_SECONDS = 5.0


class CarrierPace:
    """Per trunk: the calls-per-second cap this worker uses now (pure; time passed in)."""

    def __init__(self) -> None:
        self._slow_until: dict[str, float] = {}

    def max_cps(self, trunk: str, configured: int, now: float) -> int:
        if self._slow_until.get(trunk, 0.0) > now:
            return max(1, math.floor(configured * SLOW_SHARE))
        return configured

    def self_inflicted(
        self,
        trunk: str,
        outcome: Outcome,
        sip_status: str,
        *,
        configured: int,
        used: int,
        in_window: int,
        now: float,
    ) -> bool:
        """Whether this attempt's 503 was our pace's doing (and if so, slow down).

        ``used`` is the cap the grant was taken under, ``in_window`` the trunk's grants in the
        second up to it (`caps.TrunkGrant.cps_in_window`)."""
        if outcome is not Outcome.CALL_LOSS or sip_status != "503":
            return False
        if used < configured or in_window < math.ceil(configured * SELF_INFLICTED_SHARE):
            return False
        self._slow_until[trunk] = now + SLOW_SECONDS
        return True
