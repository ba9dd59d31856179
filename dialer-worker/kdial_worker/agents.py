"""The campaign's agents as the worker changes them: the sync twin of the agent API's store
(`kdial_api.store.Store`), over the same records, the same pure `changed` and the same
compare-and-set script, so the API and any number of workers never lose each other's changes
and two workers never reserve one agent."""

from __future__ import annotations

from collections.abc import Collection
from typing import cast

import redis

from kdial.agent_choice import next_agent
from kdial.agent_state import AgentAction, AgentState, IllegalTransition
from kdial.state.agents import CHANGES_KEPT, NEVER_SEEN, AgentRecord, changed
from kdial.state.keys import CampaignKeys
from kdial.state.scripts import AGENT

#: Compare-and-set rounds before a change gives up: each lost round is another writer's change
#: of the same agent (an API click, another worker's reserve) that landed first.
_ROUNDS = 12


class Contended(Exception):
    """The agent's record kept changing under this worker."""


class Elsewhere(Exception):
    """The agent is not on the call this worker acts for any more: its lease was reclaimed
    while the worker stood still (`AgentAction.CALL_LOST`), and they may be on another."""


class Agents:
    def __init__(self, rdb: redis.Redis, keys: CampaignKeys) -> None:
        self.rdb, self.keys = rdb, keys
        self._script = rdb.register_script(AGENT)

    def all(self) -> dict[str, AgentRecord]:
        """Every agent the campaign has seen, by name."""
        raw = cast(dict[str, str], self.rdb.hgetall(self.keys.agents))
        return {name: AgentRecord.decode(value) for name, value in raw.items()}

    def states(self) -> list[AgentState]:
        return [record.state for record in self.all().values()]

    def reserve(self, attempt: str, passed_over: Collection[str] = ()) -> tuple[str, str] | None:
        """Reserves the Ready agent longest in Ready (`next_agent`), not one of `passed_over`,
        for `attempt`; returns (agent, endpoint), or None when no agent is Ready. An agent
        another writer changed meanwhile (most often: another worker reserved them) is passed
        over and the next chosen from what is stored now, so workers racing for one floor
        each win an agent in turn rather than all retrying the same one."""
        lost = set(passed_over)
        while (agent := next_agent(self.all(), lost)) is not None:
            try:
                record = self.act(agent, AgentAction.RESERVE, attempt=attempt, rounds=1)
            except (IllegalTransition, Contended):
                lost.add(agent)
                continue
            return agent, record.endpoint or ""
        return None

    def act(
        self,
        agent: str,
        action: AgentAction,
        *,
        attempt: str | None = None,
        on: str | None = None,
        reason: str | None = None,
        rounds: int = _ROUNDS,
    ) -> AgentRecord:
        """Applies `action` to the agent's stored record, stamped on Redis's clock, and logs the
        change; raises `IllegalTransition` (nothing written) when the state forbids it, and
        `Elsewhere` when `on` (the call the worker acts for) is not the agent's call."""
        for _ in range(rounds):
            raw = cast(str | None, self.rdb.hget(self.keys.agents, agent))
            record = NEVER_SEEN if raw is None else AgentRecord.decode(raw)
            if on is not None and record.attempt != on:
                raise Elsewhere(f"agent {agent!r} is not on attempt {on} any more")
            new, change = changed(
                record, agent, action, self._now(), reason=reason, attempt=attempt
            )
            args: list[str | int] = [agent, raw or "", new.encode(), change.encode(), CHANGES_KEPT]
            if self._script(keys=[self.keys.agents, self.keys.agent_changes], args=args):
                return new
        raise Contended(f"agent {agent!r} changed {rounds} times while this change was made")

    def _now(self) -> int:
        seconds, micros = self.rdb.time()
        return int(seconds) * 1000 + int(micros) // 1000
