"""The discrete-event simulation behind `kdial bench pacing`: agents, calls and a pacer.

The pacer under test is fed a `kdial.pacing.Snapshot` every `TICK` seconds of simulated time,
exactly what a worker would report, and launches as many calls as it says. Every attempt's
outcome (answered or not, its ring time, its talk time) is drawn in advance by attempt number
from the seed: every policy dials the same list, whose n-th number answers, rings and talks
alike for all of them (common random numbers), so that their differences are theirs and not the
dice's. Only whether it answers depends on the hour (S3's answer rate changes).

An answered call takes the longest-idle Ready agent at once, or waits for the first agent free
within the connect deadline (first come, first served), or is abandoned. Agents talk, wrap up,
and are Ready again; in S6 they also pause for five minutes and log out for a while (a request
waits for their wrap-up to end). Talk minutes count per logged-in, non-paused agent-hour.
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from kdial.pacing import Outcomes, Pacer, Snapshot

TICK = 1.0
DEADLINE = 2.0
WINDOW = 1800.0
BLOCK = 4096

RING_END, TALK_END, WRAP_END, AWAY, BACK = range(5)


@dataclass(frozen=True)
class Scenario:
    name: str
    agents: int
    answer_steps: tuple[tuple[float, float], ...]
    """(from second, answer rate) steps."""
    realistic_ring: bool = False
    """S4's rings: answers lognormal (mean 8 s), a fifth of the rest fail at 3 s, the others
    time out at 25 s. Otherwise every attempt rings 20 s and then answers or not."""
    lognormal_talk: bool = False
    churn: bool = False
    talk_mean: float = 180.0
    wrap: float = 15.0

    def answer_rate(self, t: float) -> float:
        rate = self.answer_steps[0][1]
        for start, value in self.answer_steps:
            if t >= start:
                rate = value
        return rate

    def clairvoyant(self) -> float:
        """B0: talk-min per agent-hour of a dialer that knows every outcome (talk and wrap-up
        back to back, no wait)."""
        return 60.0 * self.talk_mean / (self.talk_mean + self.wrap)


SCENARIOS = {
    s.name: s
    for s in (
        Scenario("S1", 20, ((0.0, 0.30),)),
        Scenario("S2", 100, ((0.0, 0.30),)),
        Scenario("S3", 20, ((0.0, 0.15), (7200.0, 0.30), (18000.0, 0.15))),
        Scenario("S4", 20, ((0.0, 0.30),), realistic_ring=True, lognormal_talk=True),
        Scenario("S4/100", 100, ((0.0, 0.30),), realistic_ring=True, lognormal_talk=True),
        Scenario("S5", 20, ((0.0, 0.10),)),
        Scenario("S6", 50, ((0.0, 0.30),), churn=True),
    )
}


class Draws:
    """Attempt n's dice, the same for every policy: drawn in blocks, each from its own seed."""

    def __init__(self, scenario: Scenario, seed: int) -> None:
        self.scenario = scenario
        self.key = [seed, list(SCENARIOS).index(scenario.name)]
        self.u: list[float] = []
        self.answer: list[float] = []
        self.fail: list[float] = []
        self.talk: list[float] = []

    def ensure(self, n: int) -> None:
        while len(self.u) <= n:
            rng = np.random.default_rng([*self.key, len(self.u) // BLOCK])
            s = self.scenario
            self.u += rng.random(BLOCK).tolist()
            if s.realistic_ring:
                sigma = math.sqrt(math.log(1 + 0.6**2))
                answer = rng.lognormal(math.log(8.0) - sigma**2 / 2, sigma, BLOCK)
                self.answer += np.clip(answer, 1.0, 25.0).tolist()
                self.fail += np.where(rng.random(BLOCK) < 0.2, 3.0, 25.0).tolist()
            else:
                self.answer += [20.0] * BLOCK
                self.fail += [20.0] * BLOCK
            if s.lognormal_talk:
                sigma = math.sqrt(math.log(2.0))  # cv 1.0
                talk = rng.lognormal(math.log(s.talk_mean) - sigma**2 / 2, sigma, BLOCK)
            else:
                talk = rng.exponential(s.talk_mean, BLOCK)
            self.talk += np.maximum(talk, 1.0).tolist()


def churn_events(scenario: Scenario, seed: int, end: float) -> list[tuple[float, int, float]]:
    """(time, agent, seconds away) requests: a five-minute pause about once an hour, a log-out
    of 30 minutes on average about every four hours, per agent."""
    if not scenario.churn:
        return []
    rng = np.random.default_rng([seed, 1000 + list(SCENARIOS).index(scenario.name)])
    out = []
    for agent in range(scenario.agents):
        for rate, away in ((1 / 3600, None), (1 / 14400, 1800.0)):
            t = float(rng.exponential(1 / rate))
            while t < end:
                out.append((t, agent, 300.0 if away is None else float(rng.exponential(away))))
                t += float(rng.exponential(1 / rate))
    return sorted(out)


@dataclass
class Run:
    """One policy's day on one seed."""

    talk: float = 0.0
    staffed: float = 0.0
    """Agent-seconds logged in and not paused."""
    idle: float = 0.0
    """Agent-seconds Ready."""
    dials: int = 0
    connected: int = 0
    abandoned: int = 0
    windows: list[list[int]] = field(default_factory=list)
    """Per 30-minute window: [answered, abandoned]."""

    def count(self, t: float, abandoned: bool) -> None:
        w = self.windows[min(int(t // WINDOW), len(self.windows) - 1)]
        w[0] += 1
        w[1] += abandoned
        if abandoned:
            self.abandoned += 1
        else:
            self.connected += 1

    def figures(self) -> dict[str, Any]:
        answered = self.connected + self.abandoned
        rates = [a / n for n, a in self.windows if n]
        return {
            "talk_min_per_agent_hour": 60.0 * self.talk / self.staffed if self.staffed else 0.0,
            "abandon_daily": self.abandoned / answered if answered else 0.0,
            "abandon_windows": rates,
            "agent_wait_s": self.idle / self.connected if self.connected else math.inf,
            "dials_per_connect": self.dials / self.connected if self.connected else math.inf,
        }


class Day:
    """One policy's day of one scenario on one seed: the agents, the calls and the clock."""

    def __init__(self, scenario: Scenario, seed: int, hours: float, draws: Draws) -> None:
        self.scenario, self.draws = scenario, draws
        self.end = hours * 3600.0
        self.run = Run(windows=[[0, 0] for _ in range(max(1, math.ceil(self.end / WINDOW)))])
        churn = churn_events(scenario, seed, self.end)
        self.away_for = {(t, agent): away for t, agent, away in churn}
        self.events: list[tuple[float, int, int, int]] = [
            (t, i, AWAY, agent) for i, (t, agent, _) in enumerate(churn)
        ]
        self.seq = len(self.events)
        self.ready: deque[int] = deque(range(scenario.agents))
        self.ready_since = dict.fromkeys(range(scenario.agents), 0.0)
        self.talking: dict[int, float] = {}
        self.wrapping: dict[int, float] = {}
        self.pending_away: dict[int, float] = {}
        self.away_since: dict[int, float] = {}
        self.away_total = 0.0
        self.ringing: dict[int, float] = {}
        self.waiting: deque[tuple[int, float]] = deque()
        self.next_attempt = 0
        self._reset_outcomes()

    def _reset_outcomes(self) -> None:
        self.answered: list[float] = []
        self.unanswered: list[float] = []
        self.talks: list[float] = []
        self.wraps: list[float] = []
        self.connected = self.abandoned = 0

    def _push(self, t: float, kind: int, x: int) -> None:
        heapq.heappush(self.events, (t, self.seq, kind, x))
        self.seq += 1

    def connect(self, agent: int, call: int, t: float) -> None:
        talk = self.draws.talk[call]
        self.talking[agent] = t
        self.run.talk += min(talk, self.end - t)
        self.run.count(t, False)
        self.connected += 1
        self._push(t + talk, TALK_END, agent)

    def expire(self, t: float) -> None:
        """Abandon the answered calls no agent took within the deadline."""
        while self.waiting and self.waiting[0][1] + DEADLINE < t:
            _, answered_at = self.waiting.popleft()
            self.run.count(answered_at, True)
            self.abandoned += 1

    def free(self, agent: int, t: float) -> None:
        self.expire(t)
        if self.waiting:
            call, _ = self.waiting.popleft()
            self.connect(agent, call, t)
        else:
            self.ready.append(agent)
            self.ready_since[agent] = t

    def go_away(self, agent: int, t: float, seconds: float) -> None:
        self.away_since[agent] = t
        self._push(t + seconds, BACK, agent)

    def ring_end(self, call: int, t: float) -> None:
        dialled = self.ringing.pop(call)
        if self.draws.u[call] >= self.scenario.answer_rate(dialled):
            self.unanswered.append(t - dialled)
            return
        self.answered.append(t - dialled)
        self.expire(t)
        if self.ready:
            agent = self.ready.popleft()
            self.run.idle += t - self.ready_since[agent]
            self.connect(agent, call, t)
        else:
            self.waiting.append((call, t))

    def talk_end(self, agent: int, t: float) -> None:
        self.talks.append(t - self.talking.pop(agent))
        self.wrapping[agent] = t
        self._push(t + self.scenario.wrap, WRAP_END, agent)

    def wrap_end(self, agent: int, t: float) -> None:
        self.wraps.append(t - self.wrapping.pop(agent))
        if agent in self.pending_away:
            self.go_away(agent, t, self.pending_away.pop(agent))
        else:
            self.free(agent, t)

    def away(self, agent: int, t: float) -> None:
        """A pause or log-out request: at once if Ready, else after the wrap-up."""
        seconds = self.away_for[(t, agent)]
        if agent in self.away_since or agent in self.pending_away:
            return
        if agent in self.ready:
            self.ready.remove(agent)
            self.run.idle += t - self.ready_since[agent]
            self.go_away(agent, t, seconds)
        else:
            self.pending_away[agent] = seconds

    def back(self, agent: int, t: float) -> None:
        self.away_total += min(t, self.end) - self.away_since.pop(agent)
        self.free(agent, t)

    def snapshot(self, now: float) -> Snapshot:
        snapshot = Snapshot(
            now=now,
            ready=len(self.ready),
            talking=[now - s for s in self.talking.values()],
            wrapping=[now - s for s in self.wrapping.values()],
            ringing=[now - s for s in self.ringing.values()],
            waiting=len(self.waiting),
            outcomes=Outcomes(
                self.answered,
                self.unanswered,
                self.talks,
                self.wraps,
                connected=self.connected,
                abandoned=self.abandoned,
            ),
        )
        self._reset_outcomes()
        return snapshot

    def launch(self, n: int, now: float) -> None:
        self.draws.ensure(self.next_attempt + n)
        p = self.scenario.answer_rate(now)
        d = self.draws
        for call in range(self.next_attempt, self.next_attempt + n):
            self.ringing[call] = now
            self._push(now + (d.answer[call] if d.u[call] < p else d.fail[call]), RING_END, call)
        self.next_attempt += n
        self.run.dials += n

    def play(self, pacer: Pacer) -> Run:
        handlers = {
            RING_END: self.ring_end,
            TALK_END: self.talk_end,
            WRAP_END: self.wrap_end,
            AWAY: self.away,
            BACK: self.back,
        }
        events = self.events
        now = 0.0
        while now < self.end:
            while events and events[0][0] <= now:
                t, _, kind, x = heapq.heappop(events)
                handlers[kind](x, t)
            self.expire(now)
            n = pacer.decide(self.snapshot(now))
            if n:
                self.launch(n, now)
            now += TICK
        for agent in self.ready:
            self.run.idle += self.end - self.ready_since[agent]
        self.away_total += sum(self.end - since for since in self.away_since.values())
        self.run.staffed = self.scenario.agents * self.end - self.away_total
        return self.run


def simulate(scenario: Scenario, seed: int, pacer: Pacer, hours: float, draws: Draws) -> Run:
    """One day of `scenario` on `seed` paced by `pacer`."""
    return Day(scenario, seed, hours, draws).play(pacer)
