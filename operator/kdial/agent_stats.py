"""Agent statistics (绩效) from the agent change stream (pure): per agent, calls handled, time
idle (Ready), reserved, talking, wrapping up and NotReady, occupancy and dispositions.

Each interval is counted in the state the agent was in, from the change that began it to the
one that ended it (the changes' own timestamps, Redis's clock); the interval still open is
counted up to `now_ms`. An agent's time before their first change in the stream (which is
capped) is not known and not counted.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from kdial.agent_state import AgentAction, AgentState
from kdial.state.agents import AgentChange

__all__ = ["AgentStats", "StatsFold", "agent_stats", "total"]


@dataclass(frozen=True)
class AgentStats:
    """One agent's (or a campaign's summed) figures; times in ms."""

    calls: int = 0
    """Calls handled: talks that ended (the agent went to WrapUp)."""
    missed: int = 0
    """Calls reserved for the agent that they did not answer (Reserved to NotReady; not a
    call lost with its worker)."""
    idle_ms: int = 0
    """Ready, waiting for a call."""
    reserved_ms: int = 0
    talk_ms: int = 0
    wrap_up_ms: int = 0
    not_ready_ms: int = 0
    dispositions: Mapping[str, int] = field(default_factory=dict)
    """Wrap-ups ended, by disposition code."""

    @property
    def occupancy(self) -> float | None:
        """Share of the time available for calls spent on them: (reserved + talk + wrap-up) /
        (idle + reserved + talk + wrap-up); None before any such time."""
        busy = self.reserved_ms + self.talk_ms + self.wrap_up_ms
        available = busy + self.idle_ms
        return busy / available if available else None

    def __add__(self, other: AgentStats) -> AgentStats:
        return AgentStats(
            calls=self.calls + other.calls,
            missed=self.missed + other.missed,
            idle_ms=self.idle_ms + other.idle_ms,
            reserved_ms=self.reserved_ms + other.reserved_ms,
            talk_ms=self.talk_ms + other.talk_ms,
            wrap_up_ms=self.wrap_up_ms + other.wrap_up_ms,
            not_ready_ms=self.not_ready_ms + other.not_ready_ms,
            dispositions=dict(Counter(self.dispositions) + Counter(other.dispositions)),
        )


_TIMED = {
    AgentState.READY: "idle_ms",
    AgentState.RESERVED: "reserved_ms",
    AgentState.TALKING: "talk_ms",
    AgentState.WRAP_UP: "wrap_up_ms",
    AgentState.NOT_READY: "not_ready_ms",
}


@dataclass
class _Tally:
    state: AgentState
    since_ms: int
    counts: dict[str, int] = field(default_factory=dict)
    dispositions: Counter[str] = field(default_factory=Counter)

    def stats(self, now_ms: int) -> AgentStats:
        counts = dict(self.counts)
        if (name := _TIMED.get(self.state)) is not None:
            counts[name] = counts.get(name, 0) + max(now_ms - self.since_ms, 0)
        return AgentStats(dispositions=dict(self.dispositions), **counts)


class StatsFold:
    """The figures so far, one change at a time (in stream order)."""

    def __init__(self) -> None:
        self._agents: dict[str, _Tally] = {}

    def add(self, change: AgentChange) -> None:
        tally = self._agents.get(change.agent)
        if tally is None:
            tally = self._agents[change.agent] = _Tally(change.after, change.at_ms)
        else:
            if (name := _TIMED.get(tally.state)) is not None:
                elapsed = max(change.at_ms - tally.since_ms, 0)
                tally.counts[name] = tally.counts.get(name, 0) + elapsed
            tally.state, tally.since_ms = change.after, change.at_ms
        if change.after is AgentState.WRAP_UP:  # a wrap-up, or a talk its worker lost
            tally.counts["calls"] = tally.counts.get("calls", 0) + 1
        elif change.action is AgentAction.NOT_READY and change.before is AgentState.RESERVED:
            tally.counts["missed"] = tally.counts.get("missed", 0) + 1
        elif change.action is AgentAction.END_WRAP_UP and change.disposition is not None:
            tally.dispositions[change.disposition] += 1

    def stats(self, now_ms: int) -> dict[str, AgentStats]:
        """Each agent's figures, the open interval counted up to `now_ms`."""
        return {agent: tally.stats(now_ms) for agent, tally in sorted(self._agents.items())}

    def states(self) -> dict[str, AgentState]:
        """Each agent's state after the last change."""
        return {agent: tally.state for agent, tally in self._agents.items()}


def agent_stats(changes: Iterable[AgentChange], now_ms: int) -> dict[str, AgentStats]:
    """Each agent's figures over `changes` (oldest first) up to `now_ms`."""
    fold = StatsFold()
    for change in changes:
        fold.add(change)
    return fold.stats(now_ms)


def total(stats: Iterable[AgentStats]) -> AgentStats:
    """The figures of several agents summed (a campaign's)."""
    summed = AgentStats()
    for one in stats:
        summed = summed + one
    return summed
