"""A campaign's agents as the operator sees them: counted in status, and scaling its workers."""

from __future__ import annotations

from typing import cast

import redis

from kdial.agent_state import AgentAction
from kdial.state.agents import CHANGES_KEPT, NEVER_SEEN, AgentRecord, changed
from kdial.state.keys import CampaignKeys
from kdial.state.scripts import AGENT
from tests.support.operator import Api, OperatorProcess, wait_for
from tests.support.world import campaign_spec, numbers, world


def act(
    rdb: redis.Redis, keys: CampaignKeys, agent: str, action: AgentAction, ready: bool = False
) -> None:
    """One agent state change, written the way `kdial api` writes it (agent.lua)."""
    raw = cast(str | None, rdb.hget(keys.agents, agent))
    record = NEVER_SEEN if raw is None else AgentRecord.decode(raw)
    new, change = changed(record, agent, action, 1_000, ready=ready, endpoint="1001")
    args = (agent, raw or "", new.encode(), change.encode(), CHANGES_KEPT)
    assert rdb.eval(AGENT, 2, keys.agents, keys.agent_changes, *args)


def agents(api: Api) -> object:
    return (api.get("campaigns", "promo") or {}).get("status", {}).get("agents")


def test_status_counts_the_agents_logged_in_ready_and_on_call(
    api: Api, operator: OperatorProcess, rdb: redis.Redis, namespace: str
) -> None:
    world(api, numbers(3))
    spec = campaign_spec(mode="Predictive", pacing={"maxConcurrency": 5})
    del spec["destination"]
    api.create("campaigns", "promo", spec, "Campaign")
    keys = CampaignKeys(namespace, "promo")
    wait_for("status written", lambda: agents(api) is not None, log=operator)

    act(rdb, keys, "ana", AgentAction.LOGIN, ready=True)
    act(rdb, keys, "bo", AgentAction.LOGIN)
    act(rdb, keys, "cy", AgentAction.LOGIN, ready=True)
    act(rdb, keys, "cy", AgentAction.RESERVE)
    want = {"loggedIn": 3, "ready": 1, "onCall": 1, "previewsSkipped": 0}
    wait_for("three agents counted", lambda: agents(api) == want, log=operator)

    act(rdb, keys, "bo", AgentAction.LOGOUT)
    want = {"loggedIn": 2, "ready": 1, "onCall": 1, "previewsSkipped": 0}
    wait_for("a logout counted", lambda: agents(api) == want, log=operator)
