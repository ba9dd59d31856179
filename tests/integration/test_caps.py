"""Cluster-wide trunk and caller-ID caps against the session's real Redis, with real threads."""

from __future__ import annotations

import bisect
import dataclasses
import random
import threading
import time
from collections.abc import Callable, Iterator

import pytest
import redis
from redis.crc import key_slot

from kdial.state.keys import PoolKeys
from kdial_worker import caps

TP = PoolKeys("tp", "tenant", "carriers")
CIDP = PoolKeys("cidp", "tenant", "numbers")
NUMBER = "+14155550100"
TTL = 30_000
SECOND_US = 1_000_000
#: How much the delay from grant to INVITE may vary (the originate's round trip to the switch,
#: measured 68 ms p99 at 100/s) while the carrier still sees no second over the cap.
SEND_SPREAD_US = 100_000
#: A campaign of the default priority.
PROMO = caps.Claimant("tenant/promo", 100)


def trunk(
    attempt: str, rdb: redis.Redis, claimant: caps.Claimant = PROMO, **limits: int
) -> caps.TrunkGrant | caps.Denied:
    limits = {"max_concurrent": 1000, "max_cps": 1000, "ttl_ms": TTL, **limits}
    return caps.acquire_trunk(rdb, TP, "t1", attempt, claimant=claimant, **limits)


def number(
    attempt: str, rdb: redis.Redis, ttl_ms: int = TTL, **limits: int | None
) -> caps.CallerIdGrant | caps.Denied:
    limits = {"max_concurrent": None, "max_per_day": None, **limits}
    return caps.acquire_caller_id(rdb, CIDP, NUMBER, attempt, ttl_ms=ttl_ms, **limits)


def hammer(redis_url: str, threads: int, seconds: float, body: Callable[..., None]) -> None:
    """Runs `body(client, thread index, deadline)` on `threads` threads, each with its own
    client, and fails the test with the first error any of them raised."""
    deadline = time.monotonic() + seconds
    errors: list[BaseException] = []

    def run(index: int) -> None:
        client = redis.Redis.from_url(redis_url, decode_responses=True)
        try:
            body(client, index, deadline)
        except BaseException as error:
            errors.append(error)
        finally:
            client.close()

    pool = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    if errors:
        raise errors[0]


@pytest.fixture
def watcher(rdb: redis.Redis) -> Iterator[list[int]]:
    """Samples ZCARD of the trunk's slot ZSET from outside the scripts while a test runs."""
    seen: list[int] = []
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            seen.append(int(rdb.zcard(TP.trunk_active("t1"))))

    thread = threading.Thread(target=watch)
    thread.start()
    yield seen
    stop.set()
    thread.join()


def test_trunk_concurrency_is_never_exceeded(
    rdb: redis.Redis, redis_url: str, watcher: list[int]
) -> None:
    held: list[int] = []
    denied: list[caps.Denied] = []

    def body(client: redis.Redis, index: int, deadline: float) -> None:
        n = 0
        while time.monotonic() < deadline:
            n += 1
            attempt = f"w{index}-{n}"
            got = trunk(attempt, client, max_concurrent=5, max_cps=1_000_000)
            if isinstance(got, caps.Denied):
                denied.append(got)
                continue
            held.append(got.in_use)
            time.sleep(random.uniform(0, 0.002))  # a call: others contend meanwhile
            assert caps.release_trunk(client, TP, "t1", attempt)

    hammer(redis_url, threads=8, seconds=2.0, body=body)
    assert max(held) == 5, "the cap was reached"
    assert denied, "and contended"
    assert {d.reason for d in denied} == {"concurrency"}
    assert all(d.in_use == 5 for d in denied)
    assert max(watcher) <= 5
    assert caps.in_use(rdb, TP, "t1") == 0


def test_cps_never_exceeds_the_limit_in_any_one_second_window(
    rdb: redis.Redis, redis_url: str
) -> None:
    granted = cps_grants(redis_url, seconds=3.0)
    assert fullest(granted, SECOND_US) <= 20
    assert len(granted) >= 50, "the log lets the whole rate through"


def cps_grants(redis_url: str, seconds: float) -> list[int]:
    """Grant times (µs, sorted) of four threads taking trunk t1's 20/s as fast as they can."""
    granted: list[int] = []

    def body(client: redis.Redis, index: int, deadline: float) -> None:
        n = 0
        while time.monotonic() < deadline:
            n += 1
            attempt = f"w{index}-{n}"
            got = trunk(attempt, client, max_concurrent=100_000, max_cps=20)
            if isinstance(got, caps.TrunkGrant):
                granted.append(got.granted_at_us)
                caps.release_trunk(client, TP, "t1", attempt)

    hammer(redis_url, threads=4, seconds=seconds, body=body)
    return sorted(granted)


def fullest(granted: list[int], window_us: int) -> int:
    """The most grants in one half-open window of `window_us`; `granted` sorted."""
    # The fullest window [a, a + w) starts at some grant, so checking those covers them all.
    return max(bisect.bisect_left(granted, t + window_us) - i for i, t in enumerate(granted))


def test_cps_holds_at_the_carrier_in_any_second_whatever_the_send_delay_within_its_spread(
    rdb: redis.Redis, redis_url: str
) -> None:
    granted = cps_grants(redis_url, seconds=3.5)
    # Each INVITE leaves at its grant's time plus a delay that varies by up to the spread: the
    # grants that can land in one second at the carrier are those of a second and a spread.
    assert fullest(granted, SECOND_US + SEND_SPREAD_US) <= 20
    assert len(granted) >= 50, "the log still lets the rate through"


def test_a_refunded_cps_grant_makes_room_at_once(rdb: redis.Redis) -> None:
    grants = [trunk(f"a{i}", rdb, max_cps=3) for i in range(3)]
    assert isinstance(trunk("late", rdb, max_cps=3), caps.Denied)
    refused_by_the_switch = grants[1]
    assert isinstance(refused_by_the_switch, caps.TrunkGrant)
    assert caps.refund_cps(rdb, refused_by_the_switch)
    assert not caps.refund_cps(rdb, refused_by_the_switch), "a refund is given once"
    assert isinstance(trunk("late", rdb, max_cps=3), caps.TrunkGrant)
    assert isinstance(trunk("later", rdb, max_cps=3), caps.Denied)


def test_a_cps_refusal_says_when_to_come_back(rdb: redis.Redis) -> None:
    for i in range(20):
        assert trunk(f"a{i}", rdb, max_cps=20)
    refused = trunk("late", rdb, max_cps=20)
    assert isinstance(refused, caps.Denied)
    assert refused.scope == "trunk"
    assert refused.reason == "cps"
    assert 0 < refused.retry_after_ms <= caps.CPS_WINDOW_MS
    time.sleep(refused.retry_after_ms / 1000 + 0.005)
    assert trunk("late", rdb, max_cps=20)


def test_a_slot_that_is_not_renewed_expires(rdb: redis.Redis) -> None:
    assert trunk("dead", rdb, max_concurrent=1, ttl_ms=200)
    assert isinstance(trunk("next", rdb, max_concurrent=1), caps.Denied)
    time.sleep(0.3)
    assert caps.in_use(rdb, TP, "t1") == 0
    got = trunk("next", rdb, max_concurrent=1)
    assert isinstance(got, caps.TrunkGrant)
    assert got.in_use == 1


def test_a_renewed_slot_stays_held(rdb: redis.Redis) -> None:
    assert trunk("alive", rdb, max_concurrent=1, ttl_ms=200)
    for _ in range(5):
        time.sleep(0.1)
        assert caps.renew_trunk(rdb, TP, "t1", ["alive"], ttl_ms=200) == []
        assert isinstance(trunk("next", rdb, max_concurrent=1), caps.Denied)
    assert caps.in_use(rdb, TP, "t1") == 1


def test_renewing_never_revives_a_lapsed_or_released_slot(rdb: redis.Redis) -> None:
    """A renewal can race the call's own release; bringing the slot back would hold capacity no
    call uses. So a slot that is gone is reported, never put back."""
    assert trunk("cut-off", rdb, max_concurrent=2, ttl_ms=200)
    time.sleep(0.3)
    assert trunk("other", rdb, max_concurrent=2)
    assert trunk("ended", rdb, max_concurrent=2)
    assert caps.release_trunk(rdb, TP, "t1", "ended")
    renewed = caps.renew_trunk(rdb, TP, "t1", ["cut-off", "other", "ended"], ttl_ms=TTL)
    assert renewed == ["cut-off", "ended"]
    assert caps.in_use(rdb, TP, "t1") == 1


def test_combined_renew_reports_grants_with_a_lapsed_slot(rdb: redis.Redis) -> None:
    cid = caps.CallerIdCap(CIDP, NUMBER)
    cap = caps.TrunkCap(TP, "t1", max_concurrent=10, max_cps=10)
    kept = caps.acquire(rdb, "kept", cap, cid, 200, claimant=PROMO)
    lapsing = caps.acquire(rdb, "lapsing", cap, cid, 200, claimant=PROMO)
    assert isinstance(kept, caps.Grant)
    assert isinstance(lapsing, caps.Grant)
    time.sleep(0.1)
    assert caps.renew(rdb, [kept], ttl_ms=200) == []
    time.sleep(0.15)
    assert caps.number_in_use(rdb, CIDP, NUMBER) == 1
    assert caps.renew(rdb, [kept, lapsing], ttl_ms=TTL) == [lapsing]
    assert caps.in_use(rdb, TP, "t1") == 1
    assert caps.number_in_use(rdb, CIDP, NUMBER) == 1


def test_caller_id_concurrency_cap(rdb: redis.Redis) -> None:
    assert number("a1", rdb, max_concurrent=2)
    assert number("a2", rdb, max_concurrent=2)
    refused = number("a3", rdb, max_concurrent=2)
    assert isinstance(refused, caps.Denied)
    assert (refused.scope, refused.reason, refused.in_use) == ("caller_id", "concurrency", 2)
    assert caps.release_caller_id(rdb, CIDP, NUMBER, "a1")
    assert number("a3", rdb, max_concurrent=2)
    assert caps.calls_today(rdb, CIDP, NUMBER) == 3, "a refusal is not a call"


def test_caller_id_daily_cap_lasts_until_utc_midnight_on_redis_clock(rdb: redis.Redis) -> None:
    for i in range(3):
        assert number(f"a{i}", rdb, max_per_day=3)
        caps.release_caller_id(rdb, CIDP, NUMBER, f"a{i}")
    refused = number("a3", rdb, max_per_day=3)
    assert isinstance(refused, caps.Denied)
    assert refused.reason == "day"
    seconds, micros = rdb.time()
    to_midnight_ms = 86_400_000 - (seconds * 1000 + micros // 1000) % 86_400_000
    assert abs(refused.retry_after_ms - to_midnight_ms) < 1000
    assert abs(int(rdb.pttl(CIDP.number_day(NUMBER))) - to_midnight_ms) < 1000
    assert caps.calls_today(rdb, CIDP, NUMBER) == 3


def test_a_refunded_caller_id_call_leaves_todays_count_once(rdb: redis.Redis) -> None:
    grants = [number(f"a{i}", rdb, max_per_day=2) for i in range(2)]
    assert isinstance(number("late", rdb, max_per_day=2), caps.Denied)
    refused_by_the_switch = grants[0]
    assert isinstance(refused_by_the_switch, caps.CallerIdGrant)
    caps.release_caller_id(rdb, CIDP, NUMBER, "a0")
    assert caps.refund_caller_id(rdb, refused_by_the_switch)
    assert not caps.refund_caller_id(rdb, refused_by_the_switch), "taken back once"
    assert caps.calls_today(rdb, CIDP, NUMBER) == 1
    assert isinstance(number("late", rdb, max_per_day=2), caps.CallerIdGrant)
    assert isinstance(number("later", rdb, max_per_day=2), caps.Denied)
    other = grants[1]
    assert isinstance(other, caps.CallerIdGrant)
    day_before = other.granted_at_us - 86_400 * SECOND_US
    yesterday = dataclasses.replace(other, granted_at_us=day_before)
    assert not caps.refund_caller_id(rdb, yesterday), "yesterday's count is over"


def test_an_uncapped_caller_id_is_still_counted(rdb: redis.Redis) -> None:
    for i in range(10):
        got = number(f"a{i}", rdb)
        assert isinstance(got, caps.CallerIdGrant)
        assert (got.in_use, got.today) == (i + 1, i + 1)
    assert caps.number_in_use(rdb, CIDP, NUMBER) == 10


def test_combined_acquire_rolls_the_trunk_back_when_the_caller_id_is_refused(
    rdb: redis.Redis,
) -> None:
    assert trunk("on-the-trunk", rdb)
    assert number("on-the-number", rdb)
    cap = caps.TrunkCap(TP, "t1", max_concurrent=10, max_cps=10)
    cid = caps.CallerIdCap(CIDP, NUMBER, max_concurrent=1)
    got = caps.acquire(rdb, "new", cap, cid, TTL, claimant=PROMO)
    assert isinstance(got, caps.Denied)
    assert (got.scope, got.reason) == ("caller_id", "concurrency")
    assert caps.in_use(rdb, TP, "t1") == 1, "back to what it was"
    # The CPS grant stays spent: erring towards fewer calls is the safe side of a carrier limit.
    assert rdb.zcard(TP.trunk_cps("t1")) == 2


def test_combined_acquire_rolls_the_trunk_back_when_the_caller_id_errors(
    rdb: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unreachable(*args: object, **kwargs: object) -> None:
        raise redis.ConnectionError("the caller-ID pool's shard is down")

    monkeypatch.setattr(caps, "acquire_caller_id", unreachable)
    cap = caps.TrunkCap(TP, "t1", max_concurrent=10, max_cps=10)
    with pytest.raises(redis.ConnectionError):
        caps.acquire(rdb, "new", cap, caps.CallerIdCap(CIDP, NUMBER), TTL, claimant=PROMO)
    assert caps.in_use(rdb, TP, "t1") == 0


def test_combined_acquire_and_release(rdb: redis.Redis) -> None:
    cap = caps.TrunkCap(TP, "t1", max_concurrent=10, max_cps=10)
    cid = caps.CallerIdCap(CIDP, NUMBER, max_concurrent=5, max_per_day=100)
    grant = caps.acquire(rdb, "a1", cap, cid, TTL, claimant=PROMO)
    assert isinstance(grant, caps.Grant)
    assert (grant.trunk.in_use, grant.caller_id.in_use, grant.caller_id.today) == (1, 1, 1)
    caps.release(rdb, grant)
    caps.release(rdb, grant)
    assert caps.in_use(rdb, TP, "t1") == 0
    assert caps.number_in_use(rdb, CIDP, NUMBER) == 0
    assert caps.calls_today(rdb, CIDP, NUMBER) == 1, "the call was placed"


def test_release_is_idempotent_and_unknown_attempts_are_a_no_op(rdb: redis.Redis) -> None:
    assert trunk("a1", rdb)
    assert caps.release_trunk(rdb, TP, "t1", "a1")
    assert not caps.release_trunk(rdb, TP, "t1", "a1")
    assert not caps.release_trunk(rdb, TP, "t2", "never")
    assert not caps.release_caller_id(rdb, CIDP, NUMBER, "never")
    assert rdb.exists(TP.trunk_active("t2"), CIDP.number_active(NUMBER)) == 0, "none created"


def test_acquiring_again_with_the_same_attempt_takes_nothing_more(rdb: redis.Redis) -> None:
    """A script re-sent after a lost reply must not take a second slot or CPS grant."""
    first = trunk("a1", rdb, max_concurrent=1, max_cps=1)
    again = trunk("a1", rdb, max_concurrent=1, max_cps=1)
    assert isinstance(first, caps.TrunkGrant)
    assert isinstance(again, caps.TrunkGrant)
    assert again.in_use == 1
    assert rdb.zcard(TP.trunk_cps("t1")) == 1
    assert number("a1", rdb, max_per_day=1)
    assert number("a1", rdb, max_per_day=1)
    assert caps.calls_today(rdb, CIDP, NUMBER) == 1


def test_keys_stay_on_their_pools_slot_and_expire(rdb: redis.Redis) -> None:
    assert trunk("a1", rdb, ttl_ms=TTL)
    assert not trunk("a2", rdb, max_concurrent=1), "refused: its campaign marked as waiting"
    assert number("a1", rdb)
    for pool, keys in (
        (TP, [TP.trunk_active("t1"), TP.trunk_cps("t1"), TP.trunk_wanted("t1")]),
        (CIDP, [CIDP.number_active(NUMBER), CIDP.number_day(NUMBER)]),
    ):
        assert {key_slot(k.encode()) for k in keys} == {key_slot(pool.config.encode())}
        assert all(int(rdb.pttl(k)) > 0 for k in keys), "nothing is left behind forever"
    assert 0 < int(rdb.pttl(TP.trunk_cps("t1"))) <= caps.CPS_WINDOW_MS


def test_the_script_is_reloaded_after_redis_lost_its_cache(rdb: redis.Redis) -> None:
    assert trunk("a1", rdb)
    rdb.script_flush()
    assert trunk("a2", rdb)


def test_limits_below_one_are_refused(rdb: redis.Redis) -> None:
    with pytest.raises(ValueError, match="max_cps"):
        trunk("a1", rdb, max_cps=0)
    with pytest.raises(ValueError, match="max_per_day"):
        number("a1", rdb, max_per_day=0)


LOW = caps.Claimant("tenant/low", 100)
MID = caps.Claimant("tenant/mid", 200)
HIGH = caps.Claimant("tenant/high", 300)


def test_what_frees_on_a_trunk_goes_to_the_waiting_campaign_of_higher_priority(
    rdb: redis.Redis,
) -> None:
    assert trunk("l1", rdb, LOW, max_concurrent=1)
    refused = trunk("h1", rdb, HIGH, max_concurrent=1)
    assert isinstance(refused, caps.Denied) and refused.reason == "concurrency"
    assert caps.release_trunk(rdb, TP, "t1", "l1")
    kept = trunk("l2", rdb, LOW, max_concurrent=1)
    assert isinstance(kept, caps.Denied), "the freed slot is kept for the higher campaign"
    assert (kept.reason, kept.retry_after_ms) == ("priority", caps.CONCURRENCY_RETRY_MS)
    assert trunk("h1", rdb, HIGH, max_concurrent=1), "and goes to it when it asks again"
    assert caps.release_trunk(rdb, TP, "t1", "h1")
    assert not trunk("l2", rdb, LOW, max_concurrent=1), "it took the last slot: still its"


def test_a_campaign_granted_with_room_to_spare_holds_nothing_back(rdb: redis.Redis) -> None:
    assert trunk("l1", rdb, LOW, max_concurrent=2)
    assert trunk("l2", rdb, LOW, max_concurrent=2)
    assert not trunk("h1", rdb, HIGH, max_concurrent=2)
    for attempt in ("l1", "l2"):
        assert caps.release_trunk(rdb, TP, "t1", attempt)
    assert trunk("h1", rdb, HIGH, max_concurrent=2)
    assert trunk("l3", rdb, LOW, max_concurrent=2), "the higher campaign is not short of it"


def test_a_campaign_refused_for_calls_per_second_holds_the_next_grant_too(
    rdb: redis.Redis,
) -> None:
    assert trunk("h1", rdb, HIGH, max_cps=1)
    assert isinstance(refused := trunk("h2", rdb, HIGH, max_cps=1), caps.Denied)
    assert refused.reason == "cps"
    low = trunk("l1", rdb, LOW, max_cps=1)
    assert isinstance(low, caps.Denied) and low.reason == "priority"


def test_priorities_rank_every_campaign_waiting_on_a_trunk(rdb: redis.Redis) -> None:
    """One refused for priority holds what frees against those below it in its turn."""
    other = caps.Claimant("tenant/other", 100)
    for attempt in ("o1", "o2"):
        assert trunk(attempt, rdb, other, max_concurrent=2)
    assert not trunk("h1", rdb, HIGH, max_concurrent=2)
    assert not trunk("m1", rdb, MID, max_concurrent=2)
    for attempt in ("o1", "o2"):
        assert caps.release_trunk(rdb, TP, "t1", attempt)
    assert not trunk("l1", rdb, LOW, max_concurrent=2)
    assert not trunk("m1", rdb, MID, max_concurrent=2)
    assert trunk("h1", rdb, HIGH, max_concurrent=2)
    assert trunk("m1", rdb, MID, max_concurrent=2)
    assert caps.release_trunk(rdb, TP, "t1", "h1")
    assert not trunk("l1", rdb, LOW, max_concurrent=2), "the middle one took the last slot"


def test_campaigns_of_equal_priority_take_what_frees_as_they_ask(rdb: redis.Redis) -> None:
    other = caps.Claimant("tenant/other", LOW.priority)
    assert trunk("l1", rdb, LOW, max_concurrent=1)
    assert not trunk("o1", rdb, other, max_concurrent=1)
    assert caps.release_trunk(rdb, TP, "t1", "l1")
    assert trunk("l2", rdb, LOW, max_concurrent=1)


def test_a_campaign_that_stops_asking_holds_nothing_back_for_long(
    rdb: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(caps, "WANTED_MS", 200)
    assert trunk("l1", rdb, LOW, max_concurrent=1)
    assert not trunk("h1", rdb, HIGH, max_concurrent=1)
    assert caps.release_trunk(rdb, TP, "t1", "l1")
    assert not trunk("l2", rdb, LOW, max_concurrent=1)
    time.sleep(0.25)  # past the higher campaign's mark, which it did not renew
    assert trunk("l2", rdb, LOW, max_concurrent=1)
    assert 0 < int(rdb.pttl(TP.trunk_wanted("t1"))) <= 200, "marks leave nothing behind"
