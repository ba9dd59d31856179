"""Preview mode's ledger side at the agent API: the next due record claimed for an agent, and
the choice they make, dial (handed to the campaign's workers) or skip (the contact due again,
no attempt counted).

The claim is the workers' own script (`claim.lua`): the contact leaves `due` for `inflight`
under an attempt id, within the campaign's cap on calls in flight, so no worker and no other
agent can take it meanwhile. Calling windows and do-not-call lists are checked where every
call's are, by the worker, when it dials.
"""

from __future__ import annotations

import redis
import redis.asyncio as aioredis

from kdial.state import scripts
from kdial.state.config import CampaignConfig
from kdial.state.keys import CampaignKeys
from kdial.state.preview import PREVIEW_LEASE_MS, SKIPPED, DialRequest
from kdial.state.wire import Generation

#: A cap that caps nothing, for a campaign without `maxConcurrency`: agents bound previews.
NO_CAP = 1_000_000_000


class NotDialling(Exception):
    """The campaign is paused, held, not valid, or has no ledger yet."""


class NothingDue(Exception):
    """No contact is due now (or the campaign is at its cap of calls in flight)."""


class Chosen(Exception):
    """The record was dialled or skipped already, or is no preview."""

    def __init__(self, standing: str) -> None:
        super().__init__(standing)
        self.standing = standing


class Lost(Exception):
    """The preview's lease ran out: the record went back to the ledger."""


class Previews:
    def __init__(self, redis: aioredis.Redis) -> None:
        self.redis = redis
        self._choose = redis.register_script(scripts.PREVIEW)

    async def claim(self, keys: CampaignKeys, max_concurrency: int | None) -> str:
        """Claims the next due contact for a preview; its attempt id."""
        epoch = await self._epoch(keys)
        try:
            raw = await self.redis.eval(
                scripts.CLAIM,
                9,
                *(keys.due, keys.leases, keys.inflight, keys.attempt_seq, keys.epoch),
                *(keys.contacts, *keys.waits),
                *(1, PREVIEW_LEASE_MS, epoch, max_concurrency or NO_CAP),
            )
        except redis.ResponseError as error:
            if str(error).startswith("EPOCH"):
                raise NotDialling(str(error)) from None
            raise
        if not raw:
            raise NothingDue()
        attempt = str(raw[0])
        await self.redis.set(keys.preview_choice(attempt), "open", px=PREVIEW_LEASE_MS)
        return attempt

    async def _epoch(self, keys: CampaignKeys) -> str:
        stored = await self.redis.get(keys.config)
        config = None if stored is None else CampaignConfig.of(Generation.decode(stored).content)
        epoch = await self.redis.get(keys.epoch)
        if config is None or not config.dialing or epoch is None:
            raise NotDialling("its operator does not have it dialling")
        return str(epoch)

    async def give_back(self, keys: CampaignKeys, attempt: str) -> None:
        """The contact due again at once, no attempt counted (a preview nobody took)."""
        await self.redis.delete(keys.preview_choice(attempt))
        await self._release(keys, attempt)

    async def skip(self, keys: CampaignKeys, attempt: str) -> None:
        """The agent skips the record: due again at once, no attempt counted, the skip
        counted in the campaign's totals. Raises `Chosen` or `Lost`."""
        await self._chosen(keys, attempt, "skip")
        if not await self._release(keys, attempt):
            raise Lost()
        await self.redis.hincrby(keys.totals, SKIPPED, 1)

    async def dial(self, keys: CampaignKeys, request: DialRequest) -> None:
        """The agent dials the record: its lease renewed and the request queued for the
        campaign's workers. Raises `NotDialling` (nothing changed: the agent may skip the
        record), `Chosen` or `Lost`."""
        await self._epoch(keys)
        await self._chosen(keys, request.attempt, "dial")
        lost = await self.redis.eval(
            scripts.RENEW, 2, keys.leases, keys.inflight, PREVIEW_LEASE_MS, request.attempt
        )
        if lost:
            raise Lost()
        await self.redis.rpush(keys.preview_dials, request.encode())

    async def _chosen(self, keys: CampaignKeys, attempt: str, choice: str) -> None:
        made = await self._choose(
            keys=[keys.preview_choice(attempt)], args=[choice, PREVIEW_LEASE_MS]
        )
        if str(made) != "ok":
            raise Chosen(str(made))

    async def _release(self, keys: CampaignKeys, attempt: str) -> bool:
        done = await self.redis.eval(
            scripts.RELEASE,
            8,
            *(keys.inflight, keys.leases, keys.due, keys.closed, keys.totals, *keys.waits),
            *(attempt, "defer", "0", ""),
        )
        return bool(done)
