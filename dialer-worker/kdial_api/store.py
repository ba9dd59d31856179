"""Agents' records in Redis: read one, change one atomically, follow a campaign's changes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import cast

import redis.asyncio as aioredis

from kdial.agent_state import AgentAction, AgentState
from kdial.state.agents import (
    CHANGES_KEPT,
    NEVER_SEEN,
    AgentChange,
    AgentRecord,
    Seat,
    changed,
    stale_seat,
)
from kdial.state.keys import AgentKeys, CampaignKeys
from kdial.state.scripts import AGENT, SEAT

#: Compare-and-set rounds before a change gives up: each lost round means another writer
#: changed the same agent meanwhile, which a person clicking cannot do a dozen times at once.
_ROUNDS = 12
#: How long one read of the change stream blocks (ms); the caller sends a keep-alive between.
BLOCK_MS = 15_000


class Contended(Exception):
    """The agent's record kept changing under this writer."""


class Seated(Exception):
    """The agent holds the seat of another campaign of the namespace."""

    def __init__(self, campaign: str, there: AgentRecord | None) -> None:
        self.campaign = campaign
        self.logged_in = there is not None and there.state is not AgentState.LOGGED_OUT
        doing = "is logged in to" if self.logged_in else "is logging in to"
        super().__init__(f"{doing} Campaign {campaign}")


class Store:
    def __init__(self, redis: aioredis.Redis) -> None:
        self.redis = redis
        self._script = redis.register_script(AGENT)
        self._seat = redis.register_script(SEAT)

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
    ) -> AgentRecord:
        """Applies `action` to the agent's stored record, stamped on Redis's clock, and logs
        the change; raises `IllegalTransition` (nothing written) when the state forbids it."""
        for _ in range(_ROUNDS):
            raw = await self.redis.hget(keys.agents, agent)
            record = NEVER_SEEN if raw is None else AgentRecord.decode(raw)
            new, change = changed(
                record,
                agent,
                action,
                await self._now(),
                ready=ready,
                endpoint=endpoint,
                reason=reason,
            )
            args = [agent, raw or "", new.encode(), change.encode(), CHANGES_KEPT]
            if await self._script(keys=[keys.agents, keys.agent_changes], args=args):
                return new
        raise Contended(f"agent {agent!r} changed {_ROUNDS} times while this change was made")

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
