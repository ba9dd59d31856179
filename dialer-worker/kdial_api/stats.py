"""Agent statistics as the API serves them: each campaign's change stream folded as it grows
(`kdial.agent_stats`), read incrementally, and the Prometheus metrics of every campaign's
agents on /metrics.

Labels are the namespace, the campaign, a state or a disposition code (the campaign declares
at most 64): bounded. An agent's name is a label only when `agent_label` is on (the chart's
`api.metrics.agentLabel`): a floor of agents is a label set that grows with staff turnover.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from typing import cast

import redis.asyncio as aioredis
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from kdial.agent_state import AgentState
from kdial.agent_stats import AgentStats, StatsFold, total
from kdial.state.agents import AgentChange
from kdial.state.keys import PREFIX, CampaignKeys

__all__ = ["AgentMetrics", "StatsBook"]

#: Changes read per round trip while catching up.
_PAGE = 1000
_CHANGES_KEY = re.compile(rf"{PREFIX}:\{{c:(?P<namespace>[^/]+)/(?P<name>[^}}]+)\}}:agent-changes")


class StatsBook:
    """The folds of the campaigns this process has read, each with where it stopped."""

    def __init__(self, redis: aioredis.Redis) -> None:
        self.redis = redis
        self._folds: dict[CampaignKeys, tuple[str, StatsFold]] = {}
        # Two requests catching up one fold at once would add the same changes twice.
        self._lock = asyncio.Lock()

    async def fold(self, keys: CampaignKeys) -> StatsFold:
        """The campaign's fold, caught up with its change stream."""
        async with self._lock:
            return await self._catch_up(keys)

    async def _catch_up(self, keys: CampaignKeys) -> StatsFold:
        after, fold = self._folds.get(keys, ("-", StatsFold()))
        while True:
            start = after if after == "-" else f"({after}"
            page = await self.redis.xrange(keys.agent_changes, start, "+", count=_PAGE)
            entries = cast(list[tuple[str, dict[str, str]]], page)
            for entry_id, fields in entries:
                fold.add(AgentChange.decode(fields["change"]))
                after = str(entry_id)
            if len(entries) < _PAGE:
                break
        self._folds[keys] = (after, fold)
        return fold

    async def now_ms(self) -> int:
        seconds, micros = await self.redis.time()
        return int(seconds) * 1000 + int(micros) // 1000

    async def campaigns(self) -> list[CampaignKeys]:
        """Every campaign with an agent change stream."""
        pattern = CampaignKeys("*", "*").agent_changes.replace("{", "[{]").replace("}", "[}]")
        found = []
        async for key in self.redis.scan_iter(match=pattern, count=1000):
            if match := _CHANGES_KEY.fullmatch(str(key)):
                found.append(CampaignKeys(match["namespace"], match["name"]))
        return sorted(found, key=lambda k: (k.namespace, k.name))

    async def metrics(self, *, agent_label: bool) -> Collector:
        """A collector of every campaign's agent metrics as they stand now."""
        now = await self.now_ms()
        families = AgentMetrics(agent_label)
        for keys in await self.campaigns():
            fold = await self.fold(keys)
            families.add(keys, fold, now)
        return families


class AgentMetrics(Collector):
    """The agent metrics of the campaigns added, as Prometheus families."""

    def __init__(self, agent_label: bool) -> None:
        labels = ["namespace", "campaign", *(["agent"] if agent_label else [])]
        self.agent_label = agent_label
        self.calls = CounterMetricFamily(
            "kdial_agent_calls_handled", "Calls agents talked on and ended.", labels=labels
        )
        self.missed = CounterMetricFamily(
            "kdial_agent_calls_missed",
            "Calls reserved for an agent who did not answer.",
            labels=labels,
        )
        self.seconds = {
            name: CounterMetricFamily(
                f"kdial_agent_{name}_seconds", f"Seconds agents spent {what}.", labels=labels
            )
            for name, what in [
                ("idle", "Ready, waiting for a call"),
                ("reserved", "Reserved for a call on its way to them"),
                ("talk", "Talking"),
                ("wrap_up", "in wrap-up"),
                ("not_ready", "NotReady"),
            ]
        }
        self.dispositions = CounterMetricFamily(
            "kdial_agent_dispositions",
            "Wrap-ups ended, by disposition code.",
            labels=[*labels, "code"],
        )
        self.occupancy = GaugeMetricFamily(
            "kdial_agent_occupancy_ratio",
            "(reserved + talk + wrap-up) / (idle + reserved + talk + wrap-up) since the "
            "oldest change kept; rate() the seconds counters for a window's.",
            labels=labels,
        )
        self.agents = GaugeMetricFamily(
            "kdial_agents", "Agents in each state now.", labels=["namespace", "campaign", "state"]
        )

    def add(self, keys: CampaignKeys, fold: StatsFold, now_ms: int) -> None:
        base = [keys.namespace, keys.name]
        by_agent = fold.stats(now_ms)
        rows = (
            [([*base, agent], stats) for agent, stats in by_agent.items()]
            if self.agent_label
            else [(base, total(by_agent.values()))]
        )
        for labels, stats in rows:
            self._row(labels, stats)
        states = list(fold.states().values())
        for state in AgentState:
            self.agents.add_metric([*base, state.value], states.count(state))

    def _row(self, labels: list[str], stats: AgentStats) -> None:
        self.calls.add_metric(labels, stats.calls)
        self.missed.add_metric(labels, stats.missed)
        for name, ms in [
            ("idle", stats.idle_ms),
            ("reserved", stats.reserved_ms),
            ("talk", stats.talk_ms),
            ("wrap_up", stats.wrap_up_ms),
            ("not_ready", stats.not_ready_ms),
        ]:
            self.seconds[name].add_metric(labels, ms / 1000)
        for code, count in sorted(stats.dispositions.items()):
            self.dispositions.add_metric([*labels, code], count)
        if stats.occupancy is not None:
            self.occupancy.add_metric(labels, stats.occupancy)

    def collect(self) -> Iterator[Metric]:
        yield self.calls
        yield self.missed
        yield from self.seconds.values()
        yield self.dispositions
        yield self.occupancy
        yield self.agents
