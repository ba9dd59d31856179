"""The worker's agent store (`kdial_worker.agents`) against a real Redis: reserving is a
compare-and-set, so workers racing for the same floor never reserve one agent twice."""

from __future__ import annotations

import threading
from collections import Counter
from typing import cast

import redis

from kdial.agent_state import AgentAction
from kdial.state.agents import AgentChange, AgentRecord
from kdial.state.keys import CampaignKeys
from kdial_worker.agents import Agents

KEYS = CampaignKeys("floor", "promo")
WORKERS = 8
AGENTS = 30


def test_workers_racing_for_agents_never_reserve_one_twice(redis_url: str) -> None:
    setup = Agents(redis.Redis.from_url(redis_url, decode_responses=True), KEYS)
    for n in range(AGENTS):
        record = AgentRecord(state="Ready", since_ms=n, endpoint=f"{1000 + n}")
        setup.rdb.hset(KEYS.agents, f"agent{n}", record.encode())
    taken: list[tuple[str, str]] = []
    errors: list[Exception] = []
    start = threading.Barrier(WORKERS)

    def worker(index: int) -> None:
        agents = Agents(redis.Redis.from_url(redis_url, decode_responses=True), KEYS)
        start.wait()
        try:
            for call in range(AGENTS):
                attempt = f"w{index}-{call}"
                got = agents.reserve(attempt)
                if got is None:
                    return
                taken.append((got[0], attempt))
        except Exception as error:
            errors.append(error)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    per_agent = Counter(agent for agent, _ in taken)
    assert len(per_agent) == AGENTS and set(per_agent.values()) == {1}, per_agent
    stored = setup.all()
    for agent, attempt in taken:
        assert (stored[agent].state.value, stored[agent].attempt) == ("Reserved", attempt)
    stream = cast(list[tuple[str, dict[str, str]]], setup.rdb.xrange(KEYS.agent_changes))
    reserves = [AgentChange.decode(fields["change"]) for _, fields in stream]
    assert sorted((c.agent, c.attempt) for c in reserves) == sorted(taken), "one change each"


def test_the_agent_longest_in_ready_is_reserved_and_then_released(redis_url: str) -> None:
    agents = Agents(redis.Redis.from_url(redis_url, decode_responses=True), KEYS)
    for name, since in (("ana", 300), ("bob", 100)):
        record = AgentRecord(state="Ready", since_ms=since, endpoint="sip:1@pbx.example.com")
        agents.rdb.hset(KEYS.agents, name, record.encode())

    assert agents.reserve("a1") == ("bob", "sip:1@pbx.example.com")
    assert agents.reserve("a2", passed_over=["ana"]) is None, "bob is Reserved, ana passed over"
    released = agents.act("bob", AgentAction.RELEASE)
    assert (released.state.value, released.attempt) == ("Ready", None)
    assert agents.reserve("a3", passed_over=["ana"]) == ("bob", "sip:1@pbx.example.com")
