"""`kdial bench throughput`: real workers against the simulator and a real Redis.

The campaign's trunk is capped at `--rate` calls per second per worker, plus 5% (kdial paces
every trunk by its cap, evenly, and loses a little to jitter right at the cap: the headroom makes
the worker, not the cap, what is measured). The cap is raised to `--burst-rate` for
`--burst-seconds` in the middle of the run, the way a TrunkPool edit reaches the workers.
Figures come from the attempt records the workers write, so they are exact:
originates per second, bgapi -> Job-UUID latency percentiles, and lost events (attempts whose
end the switch never reported). A separate pass measures the Redis claim path alone.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import tempfile
import time
from pathlib import Path
from typing import Any, cast

import numpy as np
import redis
import redis.asyncio as aioredis

from kdial.api.calleridpool import CallerIdPoolSpec
from kdial.api.campaign import CampaignSpec
from kdial.api.trunkpool import TrunkPoolSpec
from kdial.state.contact import Contact
from kdial.state.keys import CampaignKeys, ListKeys, PoolKeys
from kdial_local import processes
from kdial_operator import compile, contact_store, dataplane, routing
from kdial_worker import ledger

NAMESPACE, CAMPAIGN = "bench", "throughput"
WARMUP_SECONDS = 5.0

SCENARIO: dict[str, Any] = {
    "seed": 1,
    "switch": {"sessionsPerSecond": 10_000, "maxChannels": 100_000},
    "carriers": {
        "bench": {
            "answerProbability": 0.6,
            "pddSeconds": 0.3,
            "ringSeconds": {"dist": "uniform", "min": 0.5, "max": 2},
            "talkSeconds": {"dist": "uniform", "min": 2, "max": 5},
            "failures": {"busy": 1, "rejected": 1},
            "maxConcurrentCalls": 100_000,
            "maxCallsPerSecond": 100_000,
        }
    },
    "callees": {"invalid": 0, "switchedOff": 0, "machine": 0},
}


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="kdial bench throughput", description=__doc__)
    p.add_argument("--duration", type=float, default=60, help="seconds measured (default 60)")
    p.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    p.add_argument("--rate", type=int, default=50, help="originates/s per worker (default 50)")
    p.add_argument("--burst-rate", type=int, default=100, help="burst originates/s per worker")
    p.add_argument("--burst-seconds", type=float, default=5, help="burst length (default 5)")
    p.add_argument("--json", action="store_true", help="print one JSON object, not a table")
    return p


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="kdial-bench-") as tmp:
        result = run(args, Path(tmp))
    print(json.dumps(result, indent=2) if args.json else table(result))
    return 0


def run(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    total = args.workers * (
        args.rate * (args.duration + WARMUP_SECONDS + 10) + args.burst_rate * args.burst_seconds
    )
    with (
        processes.redis_server(workdir) as url,
        processes.simulator(SCENARIO, workdir=workdir) as esl,
    ):
        asyncio.run(_setup(url, int(total * 1.2), _cap(args.workers * args.rate)))
        rdb = redis.Redis.from_url(url, decode_responses=True)
        procs = [
            processes.worker(
                f"{NAMESPACE}/{CAMPAIGN}",
                url,
                esl,
                workdir / f"worker-{i}.log",
                f"bench-{i}",
                KDIAL_MAX_CALLS="2000",
                KDIAL_DRAIN_SECONDS="10",
            )
            for i in range(args.workers)
        ]
        try:
            start = time.time() + WARMUP_SECONDS
            burst = start + args.duration / 2
            time.sleep(max(burst - time.time(), 0))
            asyncio.run(_set_cps(url, _cap(args.workers * args.burst_rate)))
            time.sleep(args.burst_seconds)
            asyncio.run(_set_cps(url, _cap(args.workers * args.rate)))
            time.sleep(max(start + args.duration - time.time(), 0))
        finally:
            for proc in procs:
                processes.stop(proc)
        figures = _figures(rdb, start, burst, args)
        figures["claims_per_second"], figures["claims_per_second_single"] = _claim_path(rdb)
    return figures


def _store_contacts(url: str, lst: ListKeys, contacts: int) -> None:
    """The list written the way an import writes it (`contact_store`)."""
    generation = contact_store.Generation(redis.Redis.from_url(url, decode_responses=True), lst)
    for start in range(0, contacts, 1000):
        generation.add(
            [
                Contact(f"+86138{i:08d}", id=f"c{i}", time_zones=("Asia/Shanghai",))
                for i in range(start, min(start + 1000, contacts))
            ]
        )
    generation.commit("bench")


def _cap(rate: int) -> int:
    return math.ceil(rate * 1.05)


async def _setup(url: str, contacts: int, cps: int) -> None:
    rdb = aioredis.Redis.from_url(url, decode_responses=True)
    lst = ListKeys(NAMESPACE, "leads")
    _store_contacts(url, lst, contacts)
    await _set_cps(url, cps)
    ids = CallerIdPoolSpec.model_validate(
        {"numbers": [{"number": f"+8620{i:08d}"} for i in range(50)]}
    )
    await dataplane.write_config(
        rdb, PoolKeys("cidp", NAMESPACE, "ids").config, routing.caller_ids(ids, [])[0]
    )
    spec = CampaignSpec.model_validate(
        {
            "mode": "Agentless",
            "contactListRef": {"name": "leads"},
            "trunkPoolRefs": [{"name": "lines"}],
            "callerIdPoolRef": {"name": "ids"},
            "destination": {"extension": "9000"},
            "pacing": {"maxConcurrency": 100_000, "ringTimeoutSeconds": 10},
            "schedule": {"windows": [{"start": "00:00", "end": "24:00"}]},
            "retry": {"rules": [], "closure": {"maxAttempts": 1}},
        }
    )
    keys = CampaignKeys(NAMESPACE, CAMPAIGN)
    await dataplane.write_config(
        rdb, keys.config, compile.campaign_config(NAMESPACE, CAMPAIGN, spec, True)
    )
    await dataplane.seed(rdb, keys, lst, None)
    await rdb.aclose()


async def _set_cps(url: str, cps: int) -> None:
    """What the operator does when a TrunkPool changes: a new routing generation."""
    rdb = aioredis.Redis.from_url(url, decode_responses=True)
    pool = TrunkPoolSpec.model_validate(
        {
            "trunks": [
                {
                    "name": "bench",
                    "gateway": {"proxy": "bench.sip.example"},
                    "maxConcurrentCalls": 100_000,
                    "maxCallsPerSecond": cps,
                }
            ]
        }
    )
    await dataplane.write_config(
        rdb, PoolKeys("tp", NAMESPACE, "lines").config, routing.routing_table(pool, {})
    )
    await rdb.aclose()


def _figures(
    rdb: redis.Redis, start: float, burst: float, args: argparse.Namespace
) -> dict[str, Any]:
    keys = CampaignKeys(NAMESPACE, CAMPAIGN)
    rows = _records(rdb, keys)
    started = np.array([int(r["started_ms"]) / 1000 for r in rows if r.get("started_ms")])
    latency = np.array([float(r["bgapi_ms"]) for r in rows if r.get("bgapi_ms")])
    end = start + args.duration
    in_window = started[(started >= start) & (started < end)]
    burst_end = burst + args.burst_seconds
    steady = in_window[(in_window < burst) | (in_window >= burst_end + 2)]
    steady_seconds = args.duration - args.burst_seconds - 2
    in_burst = in_window[(in_window >= burst) & (in_window < burst_end)]
    per_second = np.bincount((in_window - start).astype(int), minlength=int(args.duration))
    return {
        "workers": args.workers,
        "duration_seconds": args.duration,
        "target_originates_per_second": args.workers * args.rate,
        "originates_per_second": round(len(steady) / steady_seconds, 2),
        "burst_originates_per_second": round(len(in_burst) / args.burst_seconds, 2),
        "peak_second_originates": int(per_second.max()) if len(per_second) else 0,
        "attempts": len(rows),
        "bgapi_latency_p50_ms": _pct(latency, 50),
        "bgapi_latency_p99_ms": _pct(latency, 99),
        "bgapi_latency_max_ms": round(float(latency.max()), 2) if len(latency) else None,
        "lost_events": len([r for r in rows if r["outcome"] == "Unknown"]),
    }


def _records(rdb: redis.Redis, keys: CampaignKeys) -> list[dict[str, str]]:
    entries = cast(list[tuple[str, dict[str, str]]], rdb.xrange(keys.attempts))
    return [fields for _, fields in entries]


def _pct(values: np.ndarray[Any, Any], q: float) -> float | None:
    return round(float(np.percentile(values, q)), 2) if len(values) else None


def _claim_path(rdb: redis.Redis, seconds: float = 3.0) -> tuple[int, int]:
    """Claims/s of the Lua claim path alone, batched as workers claim (20) and one by one."""
    rates = []
    for batch in (20, 1):
        keys = CampaignKeys(NAMESPACE, f"claims-{batch}")
        rdb.set(keys.epoch, "bench")
        pipe = rdb.pipeline(transaction=False)
        for i in range(0, 200_000, 5000):
            pipe.zadd(keys.due, {f"c{j}": 0 for j in range(i, i + 5000)})
        pipe.execute()
        claimed, deadline = 0, time.monotonic() + seconds
        while time.monotonic() < deadline:
            claimed += len(ledger.claim(rdb, keys, "bench", batch, 60_000))
        rates.append(int(claimed / seconds))
    return rates[0], rates[1]


def table(r: dict[str, Any]) -> str:
    rows = [
        (
            "originates/s, sustained",
            r["originates_per_second"],
            f">= {r['target_originates_per_second']}",
        ),
        ("originates/s, burst", r["burst_originates_per_second"], "the burst rate"),
        ("peak originates in one second", r["peak_second_originates"], ""),
        ("bgapi -> Job-UUID p50 (ms)", r["bgapi_latency_p50_ms"], ""),
        ("bgapi -> Job-UUID p99 (ms)", r["bgapi_latency_p99_ms"], "<= 50"),
        ("lost events", r["lost_events"], "0"),
        ("claims/s, Redis, batches of 20", r["claims_per_second"], ">= 10000"),
        ("claims/s, Redis, one at a time", r["claims_per_second_single"], ""),
    ]
    head = (
        f"kdial bench throughput: {r['workers']} worker(s), {r['duration_seconds']:g} s, "
        f"{r['attempts']} attempts"
    )
    lines = [head, "", f"{'metric':<34} {'value':>10}   target"]
    lines += [f"{name:<34} {value!s:>10}   {target}" for name, value, target in rows]
    return "\n".join(lines)
