"""The policies `kdial bench pacing` measures the predictive pacer against, behind the same
`kdial.pacing.Pacer` interface: VICIdial's fixed dial level (its semantics, the level tuned
offline by the bench: an oracle), its ADAPT_AVERAGE adaptive level, and an open-loop Poisson
dial rate from Erlang B (given the true answer rate: an oracle too)."""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable

import numpy as np

from kdial.pacing import Snapshot


def vicidial_launches(level: float, snapshot: Snapshot) -> int:
    """VICIdial's AST_VDauto_dial.pl: lines to keep = level x agents (Ready and in calls, as
    with available_only_ratio_tally=N), minus calls up (ringing, waiting and talking)."""
    goal = math.floor(level * snapshot.staffed + 1e-9)
    up = len(snapshot.ringing) + snapshot.waiting + len(snapshot.talking)
    return max(0, goal - up)


class FixedRatio:
    def __init__(self, level: float) -> None:
        self.level = level

    def decide(self, snapshot: Snapshot) -> int:
        return vicidial_launches(self.level, snapshot)


class AdaptAverage:
    """VICIdial's adaptive dial level, ADAPT_AVERAGE, as AST_VDadapt.pl's calculate_dial_level
    reads (intensity 0, dl_diff_target 0), every 15 s: ``level *= 1 + differential / agents``
    (one-minute means of Ready agents minus answered calls waiting, and of agents); then it
    halves if more than 20 calls ended in the last minute and over half of them were dropped,
    and halves again if more than 50 calls ended today and today's drops exceed the target
    share of answers; capped at ``maximum``, floored at 1."""

    def __init__(self, target: float = 0.03, maximum: float = 3.0, start: float = 1.0) -> None:
        self.target, self.maximum, self.level = target, maximum, start
        self.minute: deque[tuple[float, int, int, int, int, int]] = deque()
        self.calls = self.answered = self.dropped = 0
        self.next_adapt = 15.0

    def decide(self, snapshot: Snapshot) -> int:
        o = snapshot.outcomes
        now = snapshot.now
        calls = len(o.answered) + len(o.unanswered)
        self.calls += calls
        self.answered += o.connected + o.abandoned
        self.dropped += o.abandoned
        sample = (snapshot.ready, snapshot.waiting, snapshot.staffed, calls, o.abandoned)
        self.minute.append((now, *sample))
        while self.minute[0][0] <= now - 60:
            self.minute.popleft()
        if now >= self.next_adapt:
            self.next_adapt += 15.0
            self._adapt()
        return vicidial_launches(self.level, snapshot)

    def _adapt(self) -> None:
        _, ready, waiting, agents, calls, drops = (sum(x) for x in zip(*self.minute, strict=True))
        if agents:
            self.level *= 1 + (ready - waiting) / agents
        self.level = min(self.maximum, self.level)
        if calls > 20 and drops > calls / 2:
            self.level /= 2
        if self.calls > 50 and self.dropped > self.target * self.answered:
            self.level /= 2
        self.level = max(1.0, self.level)


def erlang_b(servers: int, load: float) -> float:
    b = 1.0
    for k in range(1, servers + 1):
        b = load * b / (k + load * b)
    return b


def erlang_load(servers: int, blocking: float) -> float:
    """The offered load (Erlangs) at which `servers` block `blocking` of arrivals."""
    if servers <= 0:
        return 0.0
    lo, hi = 0.0, 2.0 * servers + 10
    for _ in range(50):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if erlang_b(servers, mid) < blocking else (lo, mid)
    return lo


class ErlangOpenLoop:
    """Poisson dialling at the rate whose answers an Erlang-B loss system of the staffed agents
    (service = talk + wrap-up) would block ``target`` of, given the true answer rate."""

    def __init__(
        self,
        answer_rate: Callable[[float], float],
        service: float,
        seed: int,
        target: float = 0.03,
        tick: float = 1.0,
    ) -> None:
        self.answer_rate, self.service, self.target, self.tick = answer_rate, service, target, tick
        self.rng = np.random.default_rng([seed, 7])
        self.loads: dict[int, float] = {}

    def decide(self, snapshot: Snapshot) -> int:
        agents = snapshot.staffed
        if agents not in self.loads:
            self.loads[agents] = erlang_load(agents, self.target)
        rate = self.loads[agents] / self.service / self.answer_rate(snapshot.now)
        return int(self.rng.poisson(rate * self.tick))
