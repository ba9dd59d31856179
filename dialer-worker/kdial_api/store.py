"""Agents' records in Redis: read one, change one atomically, follow a campaign's changes,
find the call an agent is on and end its wrap-up with a disposition."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import cast

import redis.asyncio as aioredis

from kdial.agent_state import AgentAction, AgentState, IllegalTransition
from kdial.state.agents import (
    CHANGES_KEPT,
    NEVER_SEEN,
    AgentChange,
    AgentRecord,
    Seat,
    changed,
    stale_seat,
)
from kdial.state.attempt import Disposition
from kdial.state.history import ContactHistory
from kdial.state.keys import AgentKeys, CampaignKeys
from kdial.state.scripts import AGENT, DISPOSITION, SEAT
from kdial_api.dispositions import Verdict

#: Compare-and-set rounds before a change gives up: each lost round means another writer
#: changed the same agent meanwhile, which a person clicking cannot do many times at once.
_ROUNDS = 24
#: Longest pause after the first lost round (s); each later one may pause longer, at random,
#: so that writers who lost together do not collide again.
_BACKOFF_S = 0.01
#: How long one read of the change stream blocks (ms); the caller sends a keep-alive between.
BLOCK_MS = 15_000
#: How far before an agent's wrap-up began its call's attempt record is looked for (ms): the
#: worker records the call's end and starts the wrap-up as the call hangs up, in either order.
RECORD_LOOKBACK_MS = 300_000
#: Attempt records read per round trip while looking for one.
_PAGE = 500


class Pending(Exception):
    """The call's attempt is not recorded yet: its worker is still ending it."""


class Unrecorded(Exception):
    """No attempt record where the agent's call's must be."""


@dataclass(frozen=True)
class Ended:
    """The attempt record of the call an agent wraps up."""

    contact: str
    outcome: str


class Contended(Exception):
    """The agent's record kept changing under this writer."""


class Seated(Exception):
    """The agent holds the seat of another campaign of the namespace."""

    def __init__(self, campaign: str, there: AgentRecord | None) -> None:
        self.campaign = campaign
        self.logged_in = there is not None and there.state is not AgentState.LOGGED_OUT
        doing = "is logged in to" if self.logged_in else "is logging in to"
        super().__init__(f"{doing} Campaign {campaign}")


class Elsewhere(Exception):
    """The contact is in another attempt now, or left the campaign's ledger."""


async def _backoff(lost: int) -> None:
    await asyncio.sleep(random.uniform(0, _BACKOFF_S * (lost + 1)))


class Store:
    def __init__(self, redis: aioredis.Redis) -> None:
        self.redis = redis
        self._script = redis.register_script(AGENT)
        self._seat = redis.register_script(SEAT)
        self._dispose = redis.register_script(DISPOSITION)

    async def take_seat(self, keys: CampaignKeys, agent: str) -> None:
        """Seats the agent in this campaign before they log in to it; raises `Seated` while
        they hold another campaign's seat, which a stale one (`stale_seat`) does not count as."""
        seats = AgentKeys(keys.namespace).seats
        expected = ""
        for _ in range(_ROUNDS):
            held = await self._seat(keys=[seats], args=["take", agent, keys.name, expected])
            if not held:
                return
            seat = Seat.decode(held)
            there = await self.record(CampaignKeys(keys.namespace, seat.campaign), agent)
            if not stale_seat(seat, there, await self._now()):
                raise Seated(seat.campaign, there)
            expected = held
        raise Contended(f"agent {agent!r}'s seat changed {_ROUNDS} times while they logged in")

    async def leave_seat(self, keys: CampaignKeys, agent: str) -> None:
        """Frees the agent's seat after they logged out of this campaign."""
        await self._seat(keys=[AgentKeys(keys.namespace).seats], args=["leave", agent, keys.name])

    async def _stored(self, keys: CampaignKeys, agent: str) -> tuple[str | None, int]:
        """The agent's stored record and Redis's time, in one round trip: the shorter the time
        between reading and writing, the fewer rounds are lost to other writers."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.hget(keys.agents, agent)
        pipe.time()
        raw, (seconds, micros) = await pipe.execute()
        return (None if raw is None else str(raw)), int(seconds) * 1000 + int(micros) // 1000

    async def _now(self) -> int:
        seconds, micros = await self.redis.time()
        return int(seconds) * 1000 + int(micros) // 1000

    async def record(self, keys: CampaignKeys, agent: str) -> AgentRecord | None:
        """The agent's record in the campaign; None if they never logged in to it."""
        raw = await self.redis.hget(keys.agents, agent)
        return None if raw is None else AgentRecord.decode(raw)

    async def act(
        self,
        keys: CampaignKeys,
        agent: str,
        action: AgentAction,
        *,
        ready: bool = False,
        endpoint: str | None = None,
        reason: str | None = None,
        attempt: str | None = None,
    ) -> AgentRecord:
        """Applies `action` to the agent's stored record, stamped on Redis's clock, and logs
        the change; raises `IllegalTransition` (nothing written) when the state forbids it.
        `attempt` names the call a reserve is for (a record the agent previews)."""
        for lost in range(_ROUNDS):
            raw, now = await self._stored(keys, agent)
            record = NEVER_SEEN if raw is None else AgentRecord.decode(raw)
            new, change = changed(
                record,
                agent,
                action,
                now,
                ready=ready,
                endpoint=endpoint,
                reason=reason,
                attempt=attempt,
            )
            args: list[str | int] = [agent, raw or "", new.encode(), change.encode(), CHANGES_KEPT]
            if await self._script(keys=[keys.agents, keys.agent_changes], args=args):
                return new
            await _backoff(lost)
        raise Contended(f"agent {agent!r} changed {_ROUNDS} times while this change was made")

    async def contact_of(self, keys: CampaignKeys, attempt: str, since_ms: int) -> str | None:
        """The contact of `attempt`, in flight or recorded at most `RECORD_LOOKBACK_MS` before
        `since_ms`; None if neither."""
        contact = await self.redis.hget(keys.inflight, attempt)
        if contact is not None:
            return str(contact)
        ended = await self._recorded(keys, attempt, since_ms)
        return None if ended is None else ended.contact

    async def ended(self, keys: CampaignKeys, attempt: str, wrap_up_ms: int) -> Ended:
        """The record of the call `attempt` an agent began to wrap up at `wrap_up_ms`; raises
        `Pending` while it is in flight, `Unrecorded` when it has no record."""
        if await self.redis.hexists(keys.inflight, attempt):
            raise Pending(attempt)
        ended = await self._recorded(keys, attempt, wrap_up_ms)
        if ended is None:
            raise Unrecorded(attempt)
        return ended

    async def _recorded(self, keys: CampaignKeys, attempt: str, since_ms: int) -> Ended | None:
        # Stream ids are the ms they were appended at: read back from the newest to the
        # earliest the call could have been recorded, a page at a time.
        floor, top = f"{max(since_ms - RECORD_LOOKBACK_MS, 0)}-0", "+"
        while True:
            page = await self.redis.xrevrange(keys.attempts, top, floor, count=_PAGE)
            entries = cast(list[tuple[str, dict[str, str]]], page)
            for _, fields in entries:
                if fields.get("attempt") == attempt:
                    return Ended(fields["contact"], fields["outcome"])
            if len(entries) < _PAGE:
                return None
            top = "(" + str(entries[-1][0])

    async def history(self, keys: CampaignKeys, contact: str) -> str:
        """The contact's ledger history as stored ('' when it has none)."""
        return str(await self.redis.hget(keys.contacts, contact) or "")

    async def dispose(
        self,
        keys: CampaignKeys,
        agent: str,
        attempt: str,
        ended: Ended,
        decide: Callable[[ContactHistory, int], Verdict],
    ) -> tuple[AgentRecord, Verdict]:
        """Ends the agent's wrap-up of `attempt` with the disposition `decide` gives for the
        contact's history now: stored, applied to the contact, the agent Ready, in one step.
        Raises `IllegalTransition` when the agent is not wrapping up `attempt`, `Refused` (of
        `decide`), `Pending`, or `Elsewhere` when the contact is in another attempt."""
        for lost in range(_ROUNDS):
            raw, now = await self._stored(keys, agent)
            record = NEVER_SEEN if raw is None else AgentRecord.decode(raw)
            if record.attempt != attempt:
                raise IllegalTransition(record.state, AgentAction.END_WRAP_UP)
            history = await self.history(keys, ended.contact)
            verdict = decide(cast(ContactHistory, json.loads(history or "{}")), now)
            new, change = changed(
                record, agent, AgentAction.END_WRAP_UP, now, disposition=verdict.code
            )
            kept = Disposition(
                agent=agent,
                at_ms=now,
                code=verdict.code,
                fields=verdict.fields,
                call_back_ms=verdict.call_back_ms,
            )
            args: list[str | int] = [
                *(agent, raw or "", new.encode(), change.encode(), CHANGES_KEPT),
                *(attempt, ended.contact, history, verdict.effect.value, ended.outcome),
                *(verdict.due_ms or 0, kept.encode()),
            ]
            answer = await self._dispose(
                keys=[
                    *(keys.agents, keys.agent_changes, keys.inflight, keys.due, keys.closed),
                    *(keys.contacts, keys.dispositions, *keys.waits),
                ],
                args=args,
            )
            outcome = str(answer[0])
            if outcome == "ok":
                return new, verdict
            if outcome == "inflight":
                raise Pending(attempt)
            if outcome == "elsewhere":
                raise Elsewhere(ended.contact)
            await _backoff(lost)
        raise Contended(f"agent {agent!r} changed {_ROUNDS} times while wrap-up was ended")

    async def last_change_id(self, keys: CampaignKeys) -> str:
        """The id of the campaign's latest change ("0-0" before the first)."""
        latest = await self.redis.xrevrange(keys.agent_changes, count=1)
        return str(latest[0][0]) if latest else "0-0"

    async def changes(
        self, keys: CampaignKeys, agent: str, after: str
    ) -> AsyncIterator[tuple[str, AgentChange] | None]:
        """The agent's changes logged after stream id `after`, as (id, change), forever;
        None whenever `BLOCK_MS` passes without one, so the caller can show it is alive."""
        while True:
            read = await self.redis.xread({keys.agent_changes: after}, block=BLOCK_MS)
            batches = cast(list[tuple[str, list[tuple[str, dict[str, str]]]]], read)
            if not batches:
                yield None
                continue
            for entry_id, fields in batches[0][1]:
                after = str(entry_id)
                if fields.get("agent") == agent:
                    yield after, AgentChange.decode(fields["change"])
