"""A campaign's status says why its contacts wait, from the operator over the emulated API, with
real workers dialling the simulator: a closed window (and when it opens, in the callee's zone),
a retry delay, and counts that return to zero, never below, through a worker's SIGKILL."""

from __future__ import annotations

import signal
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any, cast
from zoneinfo import ZoneInfo

import redis

from kdial.api.campaign import Weekday
from tests.support.dialing import carrier, create, csv_of, dialing, trunk
from tests.support.operator import Api, OperatorProcess, wait_for
from tests.support.workers import double_dials, ledger_problems, records
from tests.support.world import numbers

NOTHING_WAITS = {"window": 0, "windows": [], "retry": 0, "cap": 0, "trunk": 0, "held": 0}


def waiting(api: Api) -> dict[str, Any]:
    return dict(((api.get("campaigns", "promo") or {}).get("status") or {}).get("waiting") or {})


def dialing_message(api: Api) -> str:
    return str((api.condition("campaigns", "promo", "Dialing") or {}).get("message", ""))


def test_contacts_outside_their_window_wait_for_its_opening_in_their_zone(
    api: Api,
    operator: OperatorProcess,
    rdb: redis.Redis,
    redis_url: str,
    namespace: str,
    tmp_path: Path,
) -> None:
    """Chinese mobiles under a window open only tomorrow, 09:00 in their local time."""
    shanghai = ZoneInfo("Asia/Shanghai")
    tomorrow = datetime.now(shanghai).date() + timedelta(days=1)
    opens = datetime.combine(tomorrow, time(9), shanghai).isoformat()
    day = tuple(Weekday)[tomorrow.weekday()]
    keys = create(
        api,
        rdb,
        operator,
        namespace,
        csv_of(numbers(5)),
        [trunk("gw")],
        schedule={"windows": [{"days": [day], "start": "09:00", "end": "10:00"}]},
    )
    scenario = {"seed": 3, "carriers": {"gw": carrier()}}
    with dialing(scenario, namespace, redis_url, tmp_path) as (worker,):
        wait_for(
            "every contact waiting for its window",
            lambda: waiting(api).get("window") == 5,
            log=operator,
        )
        assert worker.proc is not None and worker.proc.poll() is None
    assert waiting(api)["windows"] == [
        {"timeZone": "Asia/Shanghai", "contacts": 5, "opensAt": opens}
    ]
    assert dialing_message(api) == (
        f"no contact is due now: 5 contacts wait for their calling window "
        f"(Asia/Shanghai opens {opens})"
    )
    assert records(rdb, keys) == [], "nobody was called outside the window"
    assert ledger_problems(rdb, keys) == []

    assert rdb.exists(*keys.waits) == len(keys.waits)
    api.delete("campaigns", "promo")
    wait_for("campaign gone", lambda: api.get("campaigns", "promo") is None, log=operator)
    assert list(rdb.scan_iter(match=keys.pattern)) == [], "why they waited goes with them"


def test_a_retry_delay_is_said_and_its_count_returns_to_zero_once_claimed(
    api: Api,
    operator: OperatorProcess,
    rdb: redis.Redis,
    redis_url: str,
    namespace: str,
    tmp_path: Path,
) -> None:
    keys = create(
        api,
        rdb,
        operator,
        namespace,
        csv_of(numbers(3)),
        [trunk("gw")],
        retry={
            "rules": [{"outcome": "NoAnswer", "delayMinutes": 1}],
            "closure": {"maxAttempts": 2},
        },
    )
    scenario = {
        "seed": 5,
        "carriers": {"gw": carrier(answerProbability=0, failures={"noAnswer": 1})},
    }
    with dialing(scenario, namespace, redis_url, tmp_path) as (worker,):
        wait_for(
            "three contacts waiting for a retry",
            lambda: waiting(api).get("retry") == 3,
            log=operator,
        )
        assert dialing_message(api) == "no contact is due now: 3 contacts wait for a retry delay"
        assert ledger_problems(rdb, keys) == []
        wait_for(
            "the second attempts made", lambda: rdb.hlen(keys.closed) == 3, timeout=150, log=worker
        )
    assert rdb.hgetall(keys.waiting_counts) == {}, "claimed again, nothing waits"
    wait_for(
        "the campaign completed with nothing waiting",
        lambda: (
            (api.get("campaigns", "promo") or {})["status"]["summary"] == "Completed"
            and waiting(api) == NOTHING_WAITS | {"suppressed": 0}
        ),
        log=operator,
    )
    assert len(records(rdb, keys)) == 6


def test_counts_never_go_below_zero_when_a_killed_workers_contacts_are_reclaimed(
    api: Api,
    operator: OperatorProcess,
    rdb: redis.Redis,
    redis_url: str,
    namespace: str,
    tmp_path: Path,
) -> None:
    keys = create(
        api,
        rdb,
        operator,
        namespace,
        csv_of(numbers(120)),
        [trunk("gw", concurrent=40)],
        pacing={"maxConcurrency": 40, "ringTimeoutSeconds": 20},
    )
    long_calls = carrier(
        answerProbability=0.8, talkSeconds={"dist": "uniform", "min": 20, "max": 40}
    )
    scenario = {"seed": 9, "carriers": {"gw": long_calls}}
    seen: list[dict[str, str]] = []

    def closed(count: int) -> bool:
        seen.append(cast(dict[str, str], rdb.hgetall(keys.waiting_counts)))
        return rdb.hlen(keys.closed) >= count

    with dialing(scenario, namespace, redis_url, tmp_path, workers=2) as (first, second):
        wait_for(
            "calls in flight on the first worker",
            lambda: closed(20) and rdb.hlen(keys.inflight) >= 10,
            log=first,
        )
        first.stop(signal.SIGKILL)
        before = len(seen)
        wait_for("every contact closed", lambda: closed(120), timeout=180, log=second)
    assert all(int(n) > 0 for counts in seen for n in counts.values()), "no count at 0 or below"
    assert any(int(c.get("retry", 0)) > 0 for c in seen[before:]), "reclaimed contacts wait"
    assert ledger_problems(rdb, keys) == []
    assert double_dials(rdb, keys) == []
    assert any(r["outcome"] == "Unknown" for r in records(rdb, keys))
    wait_for(
        "nothing waiting in status",
        lambda: waiting(api) == NOTHING_WAITS | {"suppressed": 0},
        log=operator,
    )
