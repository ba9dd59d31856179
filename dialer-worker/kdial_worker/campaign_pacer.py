"""The one predictive pacer of a campaign, run by whichever of its workers holds the lease.

Every worker of a predictive campaign tries for the lease a few times a second; the holder
renews it and, each time, looks at the campaign as every worker stored it
(`kdial.predictive.snapshot`), asks its `PredictivePacer` how many calls to launch now, and
writes that as dial permits that expire after `PERMIT_MS`. Claims on any worker take them
(claim.lua). A holder that dies lets its lease lapse and another worker takes over with a new
pacer: it recalls the last half hour's connected and abandoned calls from the campaign's minute
counters, so its abandon window, brake and feedback start where the campaign is, and learns the
answer rate and times again from the outcomes. A decision that goes stale lets the permits
expire, and claims fall back to progressive's cap: never more calls than the pacer allowed.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from typing import cast

import redis

from kdial.api.campaign import CampaignMode
from kdial.pacing import PredictivePacer, Tuning
from kdial.pacing.abandon import WINDOW_SECONDS
from kdial.predictive import compliance_mode, recalled, snapshot
from kdial.state import scripts
from kdial.state.agents import AgentRecord
from kdial.state.keys import CampaignKeys
from kdial_worker import metrics
from kdial_worker.runtime import Runtime

log = logging.getLogger(__name__)

#: How often the holder looks and decides.
LOOK_SECONDS = 0.25
#: The lease lapses this long after its holder last renewed it.
LEASE_MS = 3000
#: A decision is good for this long: older, claims fall back to progressive.
PERMIT_MS = 2000


@dataclass(frozen=True)
class Look:
    now_ms: int
    agents: dict[str, AgentRecord]
    calls: dict[str, str]
    outcomes: list[str]
    launched: int


class CampaignPacer:
    def __init__(self, rdb: redis.Redis, keys: CampaignKeys, worker_id: str) -> None:
        self.rdb, self.keys, self.worker_id = rdb, keys, worker_id
        self._script = rdb.register_script(scripts.PACER)
        self._pacer: PredictivePacer | None = None
        self._agents: dict[str, AgentRecord] = {}
        self._campaign = f"{keys.namespace}/{keys.name}"

    @property
    def holding(self) -> bool:
        return self._pacer is not None

    def tick(self, rt: Runtime | None) -> int | None:
        """Decides once if this worker holds (or takes) the lease of a predictive campaign that
        is dialling; returns the permits written, None when it did not decide."""
        if rt is None or not rt.dialing or rt.spec.mode is not CampaignMode.PREDICTIVE:
            self.release()
            return None
        if not self._run("hold", LEASE_MS):
            self._let_go()
            return None
        pacer = self._pacer_for(rt)
        look = self._look()
        decided = pacer.decide(
            snapshot(look.now_ms, look.agents, look.calls.values(), look.outcomes, self._agents)
        )
        self._agents = look.agents
        written = self._run("permit", decided, look.launched, PERMIT_MS)
        if written < 0:  # the lease lapsed under this worker: another pacer decides now
            self._let_go()
            return None
        self._export(pacer)
        return written

    def release(self) -> None:
        if self._pacer is not None:
            self._run("release")
            self._let_go()

    def _export(self, pacer: PredictivePacer) -> None:
        metrics.PACER_HOLDING.labels(self._campaign).set(1)
        metrics.PACER_BRAKED.labels(self._campaign).set(int(pacer.brake.engaged))
        metrics.PACER_WINDOW_ABANDON.labels(self._campaign).set(pacer.window.rate())

    def _let_go(self) -> None:
        """This worker paces no more: its brake and window are nobody's figures now (the new
        holder exports its own), so they go rather than linger beside the holder's."""
        self._pacer = None
        metrics.PACER_HOLDING.labels(self._campaign).set(0)
        for gauge in (metrics.PACER_BRAKED, metrics.PACER_WINDOW_ABANDON):
            with contextlib.suppress(KeyError):
                gauge.remove(self._campaign)

    def _pacer_for(self, rt: Runtime) -> PredictivePacer:
        pacing = rt.spec.pacing
        mode = compliance_mode(pacing.max_abandon_percent)
        tuning = Tuning(connect_deadline=float(pacing.connect_deadline_seconds))
        pacer = self._pacer
        if pacer is None or pacer.mode != mode or pacer.tuning != tuning:
            log.info("campaign %s: this worker paces it (%s)", self.keys.name, mode.name)
            pacer = self._pacer = PredictivePacer(mode, tuning)
            pacer.recall(recalled(self._minutes()))
            self._agents = {}
        return pacer

    def _minutes(self) -> dict[int, dict[str, str]]:
        """The campaign's minute counters of the last abandon window, by minute."""
        seconds, _ = self.rdb.time()
        now = int(seconds) // 60
        minutes = range(now - int(WINDOW_SECONDS) // 60, now + 1)
        pipe = self.rdb.pipeline(transaction=False)
        for minute in minutes:
            pipe.hgetall(self.keys.minute(minute))
        return dict(zip(minutes, pipe.execute(), strict=True))

    def _look(self) -> Look:
        """One consistent look (MULTI): the outcomes it takes are gone from the list, so each
        is learnt once; calls whose attempt is no longer in flight (a worker died between
        its end and forgetting it) are dropped."""
        pipe = self.rdb.pipeline(transaction=True)
        pipe.time()
        pipe.hgetall(self.keys.agents)
        pipe.hgetall(self.keys.paced_calls)
        pipe.hkeys(self.keys.inflight)
        pipe.lrange(self.keys.pacer_outcomes, 0, -1)
        pipe.delete(self.keys.pacer_outcomes)
        pipe.get(self.keys.launched)
        (seconds, micros), agents, calls, inflight, outcomes, _, launched = pipe.execute()
        calls = cast(dict[str, str], calls)
        gone = set(calls) - set(cast(list[str], inflight))
        if gone:
            self.rdb.hdel(self.keys.paced_calls, *gone)
        return Look(
            now_ms=int(seconds) * 1000 + int(micros) // 1000,
            agents={n: AgentRecord.decode(v) for n, v in cast(dict[str, str], agents).items()},
            calls={a: v for a, v in calls.items() if a not in gone},
            outcomes=cast(list[str], outcomes),
            launched=int(launched or 0),
        )

    def _run(self, op: str, *args: int) -> int:
        keys = [self.keys.pacer_lease, self.keys.permits, self.keys.launched]
        return int(self._script(keys=keys, args=[op, self.worker_id, *args]))
