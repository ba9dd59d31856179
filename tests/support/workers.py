"""`kdial worker` processes for tests, and the checks every campaign run must pass."""

from __future__ import annotations

import re
import signal
import subprocess
from collections import defaultdict
from pathlib import Path
from typing import cast

import redis

from kdial.state.attempt import AttemptRecord
from kdial.state.keys import CampaignKeys
from kdial_local import processes


class WorkerProcess:
    """`kdial worker` with short leases and reclaim delays, so faults resolve within a test."""

    def __init__(
        self,
        campaign: str,
        redis_url: str,
        esl: tuple[str, int],
        log: Path,
        worker_id: str,
        **env: str,
    ) -> None:
        self.campaign, self.redis_url, self.esl, self.log, self.worker_id = (
            campaign,
            redis_url,
            esl,
            log,
            worker_id,
        )
        self.metrics_port = processes.free_port()
        self.env = {
            "KDIAL_METRICS_PORT": str(self.metrics_port),
            "KDIAL_LEASE_SECONDS": "3",
            "KDIAL_RECLAIM_DELAY_SECONDS": "1",
            "KDIAL_DRAIN_SECONDS": "5",
        } | env
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> WorkerProcess:
        self.proc = processes.worker(
            self.campaign, self.redis_url, self.esl, self.log, self.worker_id, **self.env
        )
        return self

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int | None:
        return None if self.proc is None else processes.stop(self.proc, sig, timeout)

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text("utf-8", "replace").splitlines()[-lines:])


#: A whole callee number of the tests' lists (138 0000 xxxx), not digits inside a timestamp.
UNMASKED = re.compile(r"(?<!\d)(\+?86)?1380000\d{4}(?!\d)")


def records(rdb: redis.Redis, keys: CampaignKeys) -> list[dict[str, str]]:
    """The campaign's attempt records as stored; each must decode as an `AttemptRecord` (every
    outcome a real `Outcome`), else the test fails here with what is wrong."""
    stream = cast(list[tuple[str, dict[str, str]]], rdb.xrange(keys.attempts))
    entries = [fields for _, fields in stream]
    for fields in entries:
        AttemptRecord.decode(fields)
    return entries


def max_overlap(intervals: list[tuple[int, int]]) -> int:
    """Most intervals open at one instant."""
    points = sorted([(s, 1) for s, _ in intervals] + [(e, -1) for _, e in intervals])
    best = current = 0
    for _, step in points:
        current += step
        best = max(best, current)
    return best


def ledger_problems(rdb: redis.Redis, keys: CampaignKeys) -> list[str]:
    """What is wrong with a finished campaign's books; empty when every contact is accounted
    for, once, and every attempt has exactly one record."""
    problems = []
    known = rdb.smembers(keys.known)
    closed = rdb.hkeys(keys.closed)
    due = rdb.zrange(keys.due, 0, -1)
    inflight = rdb.hvals(keys.inflight)
    places: dict[str, int] = defaultdict(int)
    for contact in [*closed, *due, *inflight]:
        places[contact] += 1
    if set(places) != set(known):
        lost, strange = set(known) - set(places), set(places) - set(known)
        problems.append(f"{len(lost)} contacts lost, {len(strange)} unknown")
    doubled = [c for c, n in places.items() if n > 1]
    if doubled:
        problems.append(f"{len(doubled)} contacts in two places at once")
    totals = cast(dict[str, str], rdb.hgetall(keys.totals))
    ended = sum(int(v) for k, v in totals.items() if k.startswith("outcome:"))
    if ended != rdb.xlen(keys.attempts):
        problems.append(f"{ended} attempts counted, {rdb.xlen(keys.attempts)} records")
    return problems + waits_problems(rdb, keys)


def waits_problems(rdb: redis.Redis, keys: CampaignKeys) -> list[str]:
    """Where the counts of why contacts wait (`kdial.state.waits`) disagree with the ledger:
    every tag on a pending contact, each count the number of its tags (never 0 or less, a
    field that reached 0 is removed), every counted reason with an end, every tagged contact
    with its own end and no other, and `suppressed` the contacts closed as Suppressed. Empty
    when they agree."""
    tags = cast(dict[str, str], rdb.hgetall(keys.waiting))
    timed = set(rdb.zrange(keys.waiting_until, 0, -1))
    counts = {k: int(v) for k, v in rdb.hgetall(keys.waiting_counts).items()}
    ends = cast(dict[str, str], rdb.hgetall(keys.waiting_ends))
    problems = []
    due = set(rdb.zrange(keys.due, 0, -1))
    if stray := set(tags) - due:
        problems.append(f"{len(stray)} contacts tagged as waiting but not pending")
    expected: dict[str, int] = defaultdict(int)
    for reason in tags.values():
        expected[reason] += 1
    suppressed = sum(1 for outcome in rdb.hvals(keys.closed) if outcome == "Suppressed")
    if suppressed:
        expected["suppressed"] = suppressed
    if counts != expected:
        problems.append(f"waiting counts {counts} disagree with the ledger's {dict(expected)}")
    if timed != set(tags):
        problems.append(f"{len(timed ^ set(tags))} contacts tagged or timed, not both")
    if set(ends) != set(counts) - {"suppressed"}:
        problems.append(f"waits end {sorted(ends)} for reasons counted {sorted(counts)}")
    return problems


def double_dials(rdb: redis.Redis, keys: CampaignKeys) -> list[str]:
    """Contacts that were in two calls at the same time."""
    spans: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for record in records(rdb, keys):
        if record.get("started_ms"):
            spans[record["contact"]].append((int(record["started_ms"]), int(record["ended_ms"])))
    return [c for c, s in spans.items() if max_overlap(s) > 1]
