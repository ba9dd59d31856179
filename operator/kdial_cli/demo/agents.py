"""The predictive demo's agents: `kdial api`, and simulated desktops (`kdial desktops`) for the
agents whose phones the switch's scenario has. Each agent logs in through the API with a token
from the namespace's Secret, as a call centre's agents would, takes the calls bridged to their
phone and ends each wrap-up with one of the campaign's disposition codes; the demo reads the
figures the API keeps of them.
"""

from __future__ import annotations

import json
import secrets
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import redis

from kdial.agent_state import AgentState
from kdial.state.agents import AgentRecord
from kdial.state.keys import CampaignKeys
from kdial_api.cluster import TOKENS_SECRET
from kdial_cli.demo.cluster import Api
from kdial_local import processes

#: How long `kdial api` and `kdial desktops` may take to start: the API starts beside the
#: operator while it imports the list, and on a busy machine that took more than 15 s.
STARTUP_SECONDS = 60.0


def names(scenario: Mapping[str, Any]) -> list[str]:
    """The agents of a switch scenario: one per phone it names."""
    return sorted((scenario.get("agents") or {}).get("phones") or {})


@dataclass(frozen=True)
class Staff:
    """The agents logged in, and the API they logged in through."""

    url: str
    """The agent API's campaign URL."""
    token: str = field(repr=False)
    """One agent's token: statistics are open to every agent of the campaign."""
    logged_in: int

    def stats(self) -> dict[str, Any]:
        """The campaign's agent statistics (`GET .../stats`): summed and per agent."""
        request = urllib.request.Request(  # noqa: S310 (the API this demo started, http)
            f"{self.url}/stats", headers={"Authorization": f"Bearer {self.token}"}
        )
        with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
            return cast(dict[str, Any], json.load(answer))


@dataclass(frozen=True)
class Floor:
    """Where the agents work: the agent API, their tokens (in the namespace's Secret and in
    a file for their desktops), how long their wrap-ups last."""

    api_url: str
    tokens: dict[str, str] = field(repr=False)
    """Agent -> token."""
    tokens_file: Path
    wrap_up_seconds: float
    log: Path
    """The desktops' log."""

    @contextmanager
    def staffed(self, namespace: str, campaign: str, say: Callable[[str], None]) -> Iterator[Staff]:
        """The agents logged in to `campaign` through the API, by simulated desktops, until
        the block ends: then each one not on a call logs out."""
        wrap_up = f"--wrap-up-seconds={self.wrap_up_seconds:g}"
        with processes.desktops(
            self.api_url,
            namespace,
            campaign,
            self.tokens_file,
            self.log,
            wrap_up,
            startup_timeout=STARTUP_SECONDS,
        ) as logged_in:
            say(
                f"kdial desktops: {logged_in} agents logged in through kdial api, each wrap-up "
                f"{self.wrap_up_seconds:g} s"
            )
            url = f"{self.api_url}/v1/namespaces/{namespace}/campaigns/{campaign}"
            yield Staff(url, next(iter(self.tokens.values())), logged_in)
        say("the agents logged out; kdial desktops stopped")


@contextmanager
def floor(
    api: Api,
    agents: list[str],
    *,
    kubeconfig: Path,
    redis_url: str,
    workdir: Path,
    wrap_up_seconds: float,
) -> Iterator[Floor]:
    """`kdial api` against the API server of `kubeconfig` and Redis, and a token for each of
    `agents` in the namespace's Secret, until the block ends."""
    tokens = {agent: secrets.token_urlsafe(24) for agent in agents}
    api.secret(TOKENS_SECRET, tokens)
    # The tokens file `kubectl create secret generic --from-env-file` would read: the
    # desktops' own copy, readable by this user only.
    path = workdir / "agents.env"
    path.touch(mode=0o600)
    path.write_text("".join(f"{a}={t}\n" for a, t in tokens.items()), "utf-8")
    log = workdir / "api.log"
    with processes.agent_api(kubeconfig, redis_url, log, startup_timeout=STARTUP_SECONDS) as url:
        yield Floor(url, tokens, path, wrap_up_seconds, workdir / "desktops.log")


def wrapping_up(rdb: redis.Redis, keys: CampaignKeys) -> int:
    """Agents in a wrap-up now, which their desktop ends."""
    records = cast(dict[str, str], rdb.hgetall(keys.agents))
    return sum(AgentRecord.decode(raw).state is AgentState.WRAP_UP for raw in records.values())
