"""Preview mode's ledger side at the agent API: the next due record claimed for an agent, and
the choice they make, dial (handed to the campaign's workers) or skip (the contact due again,
no attempt counted).

The claim is the workers' own script (`claim.lua`): the contact leaves `due` for `inflight`
under an attempt id, within the campaign's cap on calls in flight, so no worker and no other
agent can take it meanwhile. A record is previewed only if it may be dialled now
(`kdial.admission`: its calling window, the do-not-call lists): an agent is shown no one they
may not call, and a record that may not is given back or closed as a worker would. The worker
checks again when it dials: a window may close while the agent reads.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import redis
import redis.asyncio as aioredis

from kdial import admission
from kdial.api.campaign import CampaignSpec
from kdial.state import scripts
from kdial.state.config import CampaignConfig
from kdial.state.keys import CampaignKeys, ListKeys
from kdial.state.preview import PREVIEW_LEASE_MS, SKIPPED, DialRequest
from kdial.state.wire import Generation

#: A cap that caps nothing, for a campaign without `maxConcurrency`: agents bound previews.
NO_CAP = 1_000_000_000
#: Records one preview request claims at most before it says none is due, those that may not
#: be dialled now given back or closed on the way (the next request goes on from there).
PREVIEW_LOOKS = 20


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

    async def claim(self, keys: CampaignKeys, spec: CampaignSpec) -> str:
        """Claims the next due contact that may be dialled now for a preview; its attempt id."""
        epoch = await self._epoch(keys)
        for _ in range(PREVIEW_LOOKS):
            attempt = await self._claim(keys, epoch, spec.pacing.max_concurrency)
            try:
                refused = await self._refusal(keys, spec, attempt)
            except BaseException:
                await self.give_back(keys, attempt)
                raise
            if refused is None:
                await self.redis.set(keys.preview_choice(attempt), "open", px=PREVIEW_LEASE_MS)
                return attempt
            await self._turn_away(keys, attempt, refused)
        raise NothingDue()

    async def _turn_away(
        self, keys: CampaignKeys, attempt: str, refused: admission.Undialled
    ) -> None:
        """The record closed or given back, as a worker does with one it may not dial."""
        if refused.close:
            await self._release(keys, attempt, "close", refused.reason)
        else:
            delay_ms = str(int(refused.delay * 1000))
            await self._release(keys, attempt, "defer", delay_ms, refused.wait)

    async def _claim(self, keys: CampaignKeys, epoch: str, max_concurrency: int | None) -> str:
        try:
            claimed = [
                *(keys.due, keys.leases, keys.inflight, keys.attempt_seq, keys.epoch),
                *(keys.contacts, *keys.waits),
            ]
            raw = await self.redis.eval(
                scripts.CLAIM,
                len(claimed),
                *claimed,
                *(1, PREVIEW_LEASE_MS, epoch, max_concurrency or NO_CAP),
            )
        except redis.ResponseError as error:
            if str(error).startswith("EPOCH"):
                raise NotDialling(str(error)) from None
            raise
        if not raw:
            raise NothingDue()
        return str(raw[0])

    async def _refusal(
        self, keys: CampaignKeys, spec: CampaignSpec, attempt: str
    ) -> admission.Undialled | None:
        """Why the claimed record may not be dialled now, or None. A record this cannot read
        (its list gone or changed, the contact removed) is left to the worker, which says
        why when it dials."""
        contact_id = await self.redis.hget(keys.inflight, attempt)
        listed = ListKeys(keys.namespace, spec.contact_list_ref.name)
        suppression = [ListKeys(keys.namespace, r.name) for r in spec.suppression_list_refs]
        versions = [k.version for k in (listed, *suppression)]
        if contact_id is None or await self.redis.exists(*versions) < len(versions):
            return None
        raw = await self.redis.hget(listed.contacts, contact_id)
        if raw is None:
            return None
        contact = admission.decoded(raw)
        if isinstance(contact, admission.Undialled):
            return contact
        suppressed = any(
            [await self.redis.sismember(k.numbers, contact.number) for k in suppression]
        )
        history = await self.redis.hget(keys.contacts, contact_id)
        return admission.refusal(
            contact,
            suppressed=suppressed,
            history=json.loads(history) if history else {},
            spec=spec,
            now=datetime.now(UTC),
        )

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
        await self._release(keys, attempt, "defer", "0")

    async def skip(self, keys: CampaignKeys, attempt: str) -> None:
        """The agent skips the record: due again at once, no attempt counted, the skip
        counted in the campaign's totals. Raises `Chosen` or `Lost`."""
        await self._chosen(keys, attempt, "skip")
        if not await self._release(keys, attempt, "defer", "0"):
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

    async def _release(
        self, keys: CampaignKeys, attempt: str, mode: str, arg: str, wait: str = ""
    ) -> bool:
        """The contact given back ("defer", due in `arg` ms) or closed ("close", for reason
        `arg`), no attempt counted: `kdial_worker.ledger`'s release."""
        released = [keys.inflight, keys.leases, keys.due, keys.closed, keys.totals, *keys.waits]
        done = await self.redis.eval(
            scripts.RELEASE,
            len(released),
            *released,
            *(attempt, mode, arg, wait),
        )
        return bool(done)
