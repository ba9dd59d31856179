"""Agents at the agent API in end-to-end tests: a desk that posts as an agent's desktop would,
a campaign of agents dialling the simulator, and the agents' records and changes as stored."""

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
from tests.support.dialing import carrier, create, csv_of, trunk
from tests.support.operator import Api, OperatorProcess
from tests.support.world import numbers

TOKENS = "kdial-agent-tokens"
#: The agents' endpoints: a user registered on the switch, a SIP URI, a phone nobody answers.
ENDPOINTS = {"ana": "agent1", "bob": "sip:agent2@10.0.0.9", "deaf": "deaf"}


def scenario(ring: float = 1) -> dict[str, Any]:
    return {
        "seed": 7,
        "switch": {"sounds": {"kdial/abandoned.wav": 3}},
        "callees": {"invalid": 0, "switchedOff": 0, "machine": 0},
        # Every callee answers and talks 100 s (5 s at 20x) from answer, then hangs up: longer
        # than the 3 s connect deadline, so a callee nobody takes hears the message.
        "carriers": {
            "answers": carrier(
                answerProbability=1, ringSeconds=ring, talkSeconds={"dist": "fixed", "value": 100}
            )
        },
        "agents": {
            "count": 2,
            "ringSeconds": 0.5,
            "phones": {"deaf": {"answerProbability": 0}},
        },
    }


def campaign(
    api: Api,
    rdb: redis.Redis,
    operator: OperatorProcess,
    namespace: str,
    contacts: int = 12,
    mode: str = "Progressive",
    dispositions: dict[str, Any] | None = None,
    phones: list[str] | None = None,
    extra: dict[str, Any] | None = None,
    **pacing: Any,
) -> CampaignKeys:
    """Campaign `promo` in `mode`, dialling `contacts` callees (or `phones`) who all answer,
    each tried once, with `extra` fields in its spec; the agents of `ENDPOINTS` have tokens
    `<agent>-token`."""
    api.secret(TOKENS, {name: f"{name}-token" for name in ENDPOINTS})
    extra = (extra or {}) | ({"dispositions": dispositions} if dispositions else {})
    return create(
        api,
        rdb,
        operator,
        namespace,
        csv_of(phones or numbers(contacts)),
        [trunk("answers")],
        mode=mode,
        destination=None,
        pacing={
            # A second over the default: on a loaded test machine the worker's reserve and
            # ring take some of the deadline (`kdial_worker.bridging.leg_timeout`).
            "connectDeadlineSeconds": 3,
            "ringTimeoutSeconds": 20,
            "abandonMessage": "kdial/abandoned.wav",
            "maxAbandonPercent": 10,
        }
        | pacing,
        retry={"closure": {"maxAttempts": 1}},
        **extra,
    )


class Desk:
    """An agent at the API: logs in, goes ready or not, over HTTP as their desktop would."""

    def __init__(
        self,
        base: str,
        namespace: str,
        agent: str,
        token: str | None = None,
        endpoint: str | None = None,
    ) -> None:
        self.url = f"{base}/v1/namespaces/{namespace}/campaigns/promo"
        self.headers = {"Authorization": f"Bearer {token or agent + '-token'}"}
        self.agent, self.endpoint = agent, endpoint or ENDPOINTS.get(agent, agent)

    def send(self, action: str, body: dict[str, Any] | None = None) -> requests.Response:
        return requests.post(f"{self.url}/{action}", json=body, headers=self.headers, timeout=10)

    def post(self, action: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        answer = self.send(action, body)
        assert answer.status_code == 200, answer.text
        return dict(answer.json())

    def login_ready(self) -> None:
        self.post("login", {"endpoint": self.endpoint, "ready": True})


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
