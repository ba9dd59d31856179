"""A predictive campaign's one pacer and its dial permits, on the session's real Redis: one
worker holds the lease and another takes over when it lapses; only the holder writes permits,
less the calls claimed since it looked; claims take permits campaign-wide while they are fresh
and fall back to progressive's cap once they expire."""

from __future__ import annotations

from typing import cast

import redis
from prometheus_client import REGISTRY

from kdial.agent_state import AgentState
from kdial.api.campaign import CampaignSpec
from kdial.predictive import outcome
from kdial.state import scripts
from kdial.state.agents import AgentRecord
from kdial.state.keys import CampaignKeys
from kdial_operator import dataplane
from kdial_worker import ledger
from kdial_worker.campaign_pacer import CampaignPacer
from kdial_worker.runtime import CallerIds, Runtime
from tests.support.dialing import spec
from tests.support.operator import wait_for

EPOCH = "e1"
LEASE_MS = 30_000


def pacer(rdb: redis.Redis, keys: CampaignKeys, op: str, worker: str, *args: int) -> int:
    lease = [keys.pacer_lease, keys.permits, keys.launched]
    return int(cast(int, rdb.eval(scripts.PACER, len(lease), *lease, op, worker, *args)))


def seed(rdb: redis.Redis, keys: CampaignKeys, count: int) -> None:
    seed = dataplane.seed_keys(keys)
    contacts = (x for i in range(count) for x in (f"c{i}", ""))
    rdb.eval(scripts.SEED, len(seed), *seed, EPOCH, *contacts)


def claim(
    rdb: redis.Redis, keys: CampaignKeys, progressive_cap: int, permitted_cap: int = 100
) -> list[ledger.Claim]:
    return ledger.claim(
        rdb,
        keys,
        EPOCH,
        20,
        LEASE_MS,
        in_flight_cap=progressive_cap,
        permitted_cap=permitted_cap,
    )


def test_one_worker_holds_the_pacer_lease_and_another_takes_over_when_it_lapses(
    rdb: redis.Redis,
) -> None:
    keys = CampaignKeys("ns", "lease")
    assert pacer(rdb, keys, "hold", "w1", 200) == 1
    assert pacer(rdb, keys, "hold", "w2", 200) == 0, "held by w1"
    assert pacer(rdb, keys, "hold", "w1", 200) == 1, "renewed by its holder"
    assert pacer(rdb, keys, "permit", "w2", 5, 0, 2000) == -1, "only the holder decides"
    assert not rdb.exists(keys.permits)
    # w1 stops renewing: its lease lapses and w2 takes over.
    wait_for("w2 holding", lambda: pacer(rdb, keys, "hold", "w2", 200) == 1)
    assert pacer(rdb, keys, "permit", "w1", 5, 0, 2000) == -1, "w1 no longer decides"
    assert pacer(rdb, keys, "permit", "w2", 5, 0, 2000) == 5
    pacer(rdb, keys, "release", "w2")
    assert not rdb.exists(keys.pacer_lease) and not rdb.exists(keys.permits)


def test_claims_take_fresh_permits_campaign_wide_then_fall_back_to_progressive(
    rdb: redis.Redis,
) -> None:
    keys = CampaignKeys("ns", "permits")
    seed(rdb, keys, 12)
    assert pacer(rdb, keys, "hold", "w1", 30_000) == 1
    looked = int(cast(str | None, rdb.get(keys.launched)) or 0)
    assert pacer(rdb, keys, "permit", "w1", 4, looked, 500) == 4

    # More calls than the 1 Ready agent progressive would allow: the pacer's 4, no more.
    first, second = claim(rdb, keys, progressive_cap=1), claim(rdb, keys, progressive_cap=1)
    assert (len(first), len(second)) == (4, 0)
    ringing = cast(dict[str, str], rdb.hgetall(keys.paced_calls))
    assert set(ringing) == {c.attempt for c in first}, "each claim is a call the pacer sees"
    assert all(value.startswith("ringing:") for value in ringing.values())

    # A decision from a look before those 4 claims: they are taken off what it allows, and
    # permits never take the campaign past its cap while they hold (maxDialRatio per agent).
    assert pacer(rdb, keys, "permit", "w1", 6, looked, 500) == 2
    assert claim(rdb, keys, progressive_cap=1, permitted_cap=4) == []

    # The decision goes stale (its permits expire): claims fall back to progressive's cap,
    # counted over the calls in flight (4 already, so a cap of 5 allows one more).
    wait_for("the permits expired", lambda: not rdb.exists(keys.permits))
    assert len(claim(rdb, keys, progressive_cap=5)) == 1
    assert claim(rdb, keys, progressive_cap=5) == []


def predictive() -> Runtime:
    raw = spec(mode="Predictive", destination=None, pacing={"maxAbandonPercent": 3})
    return Runtime(
        dialing=True,
        spec=CampaignSpec.model_validate(raw),
        contacts_key="",
        suppression_keys=(),
        list_versions=(),
        trunks=(),
        caller_ids=CallerIds(),
    )


def gauge(name: str, keys: CampaignKeys) -> float | None:
    return REGISTRY.get_sample_value(name, {"campaign": f"{keys.namespace}/{keys.name}"})


def push(rdb: redis.Redis, keys: CampaignKeys, *events: str) -> None:
    rdb.rpush(keys.pacer_outcomes, *events)


def test_the_holders_pacer_dials_ahead_of_ready_agents_until_abandons_brake_it(
    rdb: redis.Redis,
) -> None:
    """Three Ready agents. Once the pacer has learnt that callees answer 3 times in 10 and
    every answered call found an agent, it permits more calls than agents; after abandons put
    the 30-minute window over the limit, the brake holds it to one call per Ready agent."""
    keys = CampaignKeys("ns", "brake")
    seconds, _ = rdb.time()
    for agent in ("ana", "bob", "cy"):
        record = AgentRecord(state=AgentState.READY, since_ms=int(seconds) * 1000)
        rdb.hset(keys.agents, agent, record.encode())
    w1, w2 = CampaignPacer(rdb, keys, "w1"), CampaignPacer(rdb, keys, "w2")
    rt = predictive()
    assert w1.tick(rt) is not None and w2.tick(rt) is None, "one pacer for the campaign"

    push(rdb, keys, *[outcome("answered", 5)] * 30, *[outcome("unanswered", 20)] * 70)
    push(rdb, keys, *[outcome("connected")] * 30)
    ahead = w1.tick(rt)
    assert ahead is not None and ahead > 3, "more calls than Ready agents"
    assert int(cast(str, rdb.get(keys.permits))) == ahead
    assert rdb.llen(keys.pacer_outcomes) == 0, "each outcome learnt once"

    push(rdb, keys, *[outcome("answered", 5)] * 20, *[outcome("connected")] * 10)
    push(rdb, keys, *[outcome("abandoned")] * 10)
    assert w1.tick(rt) == 3, "braked: one call per Ready agent"
    assert gauge("kdial_pacer_braked", keys) == 1
    assert gauge("kdial_pacer_window_abandon_ratio", keys) == 10 / 50

    w1.release()
    assert gauge("kdial_pacer_holding", keys) == 0
    assert gauge("kdial_pacer_braked", keys) is None, "a brake nobody holds is not exported"
    assert w2.tick(rt) is not None, "the lease given up, another worker paces"
    assert gauge("kdial_pacer_holding", keys) == 1
    assert gauge("kdial_pacer_braked", keys) == 0, "no abandon in the campaign's counters"


def test_a_pacer_taking_over_is_braked_by_the_abandons_in_the_minute_counters(
    rdb: redis.Redis,
) -> None:
    """The worker that paced a campaign died after its calls abandoned 10 of 50 answers: the
    worker that takes over reads them in the ledger's minute counters and dials no more than
    one call per Ready agent, not ahead as a pacer that knew nothing would."""
    keys = CampaignKeys("ns", "takeover")
    seconds, _ = rdb.time()
    for agent in ("ana", "bob", "cy"):
        record = AgentRecord(state=AgentState.READY, since_ms=int(seconds) * 1000)
        rdb.hset(keys.agents, agent, record.encode())
    minute = int(seconds) // 60
    # As the ledger's complete script counts them (`campaign_increments`), minutes ago.
    rdb.hset(keys.minute(minute - 3), mapping={"outcome:AnsweredHuman": 25, "answered": 25})
    rdb.hset(keys.minute(minute - 2), mapping={"outcome:AnsweredHuman": 15, "abandoned": 10})
    learnt = [outcome("answered", 5)] * 30 + [outcome("unanswered", 20)] * 70
    push(rdb, keys, *learnt, *[outcome("connected")] * 30)
    w2 = CampaignPacer(rdb, keys, "w2")
    assert w2.tick(predictive()) == 3, "braked: one call per Ready agent"
    assert gauge("kdial_pacer_braked", keys) == 1
    assert gauge("kdial_pacer_window_abandon_ratio", keys) == 10 / 80
