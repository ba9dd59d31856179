"""What a predictive campaign's pacer sees of this worker's calls: each call no agent has
taken yet (`CampaignKeys.paced_calls`, written ringing by the claim itself) and the outcomes it
learns from (`CampaignKeys.pacer_outcomes`). The pacer runs in whichever worker holds the
campaign's lease, so every worker publishes its calls campaign-wide."""

from __future__ import annotations

import contextlib

import redis

from kdial.predictive import WAITING, OutcomeKind, outcome
from kdial.state.keys import CampaignKeys
from kdial_worker.calls import Call

#: Outcomes kept for a pacer that is not draining them (none holds the lease yet).
OUTCOMES_KEPT = 5000


class PacedCalls:
    def __init__(self, rdb: redis.Redis, keys: CampaignKeys) -> None:
        self.rdb, self.keys = rdb, keys

    def answered(self, call: Call) -> None:
        """The callee answered: waiting for an agent, and one more answer after its ring."""
        if call.paced and call.answered is not None and call.originated is not None:
            self._write(call.attempt, WAITING, ("answered", call.answered - call.originated))

    def connected(self, call: Call) -> None:
        """An agent took the call: no longer the pacer's to wait for."""
        if call.paced:
            self._write(call.attempt, None, ("connected", 0.0))

    def abandoned(self, call: Call) -> None:
        if call.paced:
            self._write(call.attempt, None, ("abandoned", 0.0))

    def ended(self, call: Call) -> None:
        """The call ended: its talk time if an agent took it, its ring time if it rang out
        (a call the switch refused never rang, and says nothing of the answer rate)."""
        if not call.paced or call.ended is None:
            return
        if call.bridged is not None:
            self._write(call.attempt, None, ("talk", call.ended - call.bridged))
        elif call.answered is None and call.channel_seen and call.originated is not None:
            self._write(call.attempt, None, ("unanswered", call.ended - call.originated))

    def forget(self, attempt: str) -> None:
        """The attempt is over (dialled or given back): not a call under way any more."""
        with contextlib.suppress(redis.RedisError):
            self.rdb.hdel(self.keys.paced_calls, attempt)

    def _write(self, attempt: str, state: str | None, event: tuple[OutcomeKind, float]) -> None:
        # The pacer sees less while Redis is away, and no claim is made meanwhile either.
        with contextlib.suppress(redis.RedisError):
            pipe = self.rdb.pipeline(transaction=True)
            if state is None:
                pipe.hdel(self.keys.paced_calls, attempt)
            else:
                pipe.hset(self.keys.paced_calls, attempt, state)
            pipe.rpush(self.keys.pacer_outcomes, outcome(*event))
            pipe.ltrim(self.keys.pacer_outcomes, -OUTCOMES_KEPT, -1)
            pipe.execute()
