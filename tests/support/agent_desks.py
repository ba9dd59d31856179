"""Agents of campaign `promo` at the agent API, as the integration tests drive them: a desk
logs in and goes ready or not over HTTP; a wrap-up desk ends each wrap-up at once; and reads of
the agents' records and changes in Redis."""

from __future__ import annotations

import asyncio
import threading
from typing import Any, cast

import redis
import redis.asyncio as aioredis
import requests

from kdial.agent_state import AgentAction
from kdial.state.agents import AgentChange, AgentRecord
from kdial.state.keys import CampaignKeys
from kdial_api.store import Store


class Desk:
    """An agent at the API: logs in, goes ready or not, over HTTP as their desktop would."""

    def __init__(self, base: str, namespace: str, agent: str, endpoint: str) -> None:
        self.url = f"{base}/v1/namespaces/{namespace}/campaigns/promo"
        self.headers = {"Authorization": f"Bearer {agent}-token"}
        self.agent, self.endpoint = agent, endpoint

    def post(self, action: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        answer = requests.post(f"{self.url}/{action}", json=body, headers=self.headers, timeout=10)
        assert answer.status_code == 200, answer.text
        return dict(answer.json())

    def login_ready(self) -> None:
        self.post("login", {"endpoint": self.endpoint, "ready": True})


def end_wrap_up(redis_url: str, keys: CampaignKeys, agent: str) -> None:
    """Ends the agent's wrap-up through the agent API's store (no disposition route yet)."""

    async def run() -> None:
        client = aioredis.Redis.from_url(redis_url, decode_responses=True)
        try:
            await Store(client).act(keys, agent, AgentAction.END_WRAP_UP)
        finally:
            await client.aclose()

    asyncio.run(run())


class WrapUpDesk(threading.Thread):
    """Agents who end each wrap-up as soon as it starts, until stopped."""

    def __init__(self, redis_url: str, keys: CampaignKeys, agents: set[str]) -> None:
        super().__init__(daemon=True)
        self.redis_url, self.keys, self.agents = redis_url, keys, agents
        self.stopped = threading.Event()

    def run(self) -> None:
        rdb = redis.Redis.from_url(self.redis_url, decode_responses=True)
        while not self.stopped.wait(0.05):
            for agent in self.agents:
                if state(rdb, self.keys, agent).state.value == "WrapUp":
                    end_wrap_up(self.redis_url, self.keys, agent)


def state(rdb: redis.Redis, keys: CampaignKeys, agent: str) -> AgentRecord:
    return AgentRecord.decode(cast(str, rdb.hget(keys.agents, agent)))


def now_ms(rdb: redis.Redis) -> int:
    seconds, micros = rdb.time()
    return int(seconds) * 1000 + int(micros) // 1000


def changes(rdb: redis.Redis, keys: CampaignKeys, agent: str) -> list[AgentChange]:
    stream = cast(list[tuple[str, dict[str, str]]], rdb.xrange(keys.agent_changes))
    return [
        AgentChange.decode(fields["change"]) for _, fields in stream if fields["agent"] == agent
    ]


def moves(rdb: redis.Redis, keys: CampaignKeys, agent: str) -> list[str]:
    return [c.action.value for c in changes(rdb, keys, agent)]
