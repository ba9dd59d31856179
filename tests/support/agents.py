"""The worker's side of an agent's call, as tests play it on a real Redis: a contact claimed
for a call, the agent reserved for it, talking and wrapping up through
`kdial.state.agents.changed` and the agent script (the contract with the worker), and the
call's attempt ended through the ledger."""

from __future__ import annotations

import json
from typing import Any, cast

import redis

from kdial.agent_state import AgentAction
from kdial.api.campaign import Retry
from kdial.outcomes import Outcome
from kdial.state import scripts
from kdial.state.agents import CHANGES_KEPT, AgentRecord, changed
from kdial.state.contact import Contact
from kdial.state.keys import CampaignKeys, ListKeys
from kdial_operator import dataplane
from kdial_worker import ledger, retry

EPOCH = "e1"
LEASE_MS = 60_000


def now_ms(rdb: redis.Redis) -> int:
    seconds, micros = rdb.time()
    return int(seconds) * 1000 + int(micros) // 1000


def claimed(rdb: redis.Redis, keys: CampaignKeys, lists: ListKeys, contact: Contact) -> str:
    """`contact` imported into `lists`, taken by the campaign and claimed for a call; its
    attempt id."""
    rdb.hset(lists.contacts, contact.id, contact.encode())
    seed = dataplane.seed_keys(keys)
    rdb.eval(scripts.SEED, len(seed), *seed, EPOCH, contact.id, "")
    claims = ledger.claim(rdb, keys, EPOCH, limit=1, lease_ms=LEASE_MS)
    assert [c.contact for c in claims] == [contact.id], claims
    return claims[0].attempt


def act(
    rdb: redis.Redis, keys: CampaignKeys, agent: str, action: AgentAction, **fields: Any
) -> AgentRecord:
    """`action` applied to the agent's stored record, as the worker writes it."""
    raw = rdb.hget(keys.agents, agent)
    assert raw is not None, f"agent {agent} never logged in"
    new, change = changed(AgentRecord.decode(raw), agent, action, now_ms(rdb), **fields)
    args = [agent, raw, new.encode(), change.encode(), CHANGES_KEPT]
    assert rdb.eval(scripts.AGENT, 2, keys.agents, keys.agent_changes, *args)
    return new


def ended(
    rdb: redis.Redis, keys: CampaignKeys, attempt: str, outcome: Outcome, rules: Retry
) -> None:
    """The call's attempt recorded as the worker records it, the retry rules deciding what
    follows for its contact."""
    contact = cast(str, rdb.hget(keys.inflight, attempt))
    history = cast(str | None, rdb.hget(keys.contacts, contact)) or "{}"
    ending = retry.decide(outcome, json.loads(history), rules, now_ms(rdb))
    assert ledger.complete(rdb, keys, attempt, ending)


def call_to_wrap_up(
    rdb: redis.Redis,
    keys: CampaignKeys,
    agent: str,
    attempt: str,
    outcome: Outcome = Outcome.ANSWERED_HUMAN,
    rules: Retry | None = None,
) -> None:
    """The agent reserved for `attempt`, talking, the call ended and the agent in wrap-up."""
    into_wrap_up(rdb, keys, agent, attempt)
    ended(rdb, keys, attempt, outcome, rules or Retry())


def into_wrap_up(rdb: redis.Redis, keys: CampaignKeys, agent: str, attempt: str) -> None:
    """The agent reserved for `attempt`, talking, then in wrap-up; the call's end not recorded
    (its contact is still in the call)."""
    act(rdb, keys, agent, AgentAction.RESERVE, attempt=attempt)
    act(rdb, keys, agent, AgentAction.TALK)
    act(rdb, keys, agent, AgentAction.WRAP_UP)
