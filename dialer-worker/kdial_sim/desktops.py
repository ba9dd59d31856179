"""Simulated agent desktops: clients of the agent API over HTTP, as a person's desktop is.

Each agent logs in Ready, follows their event stream (no polling), and when a call's wrap-up
begins, ends it `wrap_up_seconds` later with a disposition drawn from the campaign's codes
(`choose`, pure), its required fields filled in, and a call-back time for a code that asks for
one. A disposition refused while the worker is still recording the call is sent again. An
agent the worker sets NotReady (a call that rang out on their phone) is Ready again
`READY_AGAIN_SECONDS` later, as a person at their desk would be. On stop each agent not on a
call logs out.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import sys
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp

__all__ = ["DesktopConfig", "choose", "read_tokens", "run_desktops"]

log = logging.getLogger("kdial.desktops")

#: Pause between sends of a disposition the API refused as too early (s), and how many sends.
_AGAIN_S, _SENDS = 0.2, 50
#: Pause before a dropped event stream is opened again (s).
_RECONNECT_S = 1.0
#: How long an agent the worker set NotReady takes to go Ready again (s).
READY_AGAIN_SECONDS = 2.0
_FILLERS: dict[str, Any] = {
    "String": "simulated",
    "Integer": 1,
    "Decimal": "1.00",
    "Boolean": True,
}


@dataclass(frozen=True)
class DesktopConfig:
    api: str
    """The agent API's base URL (`http://host:port`)."""
    namespace: str
    campaign: str
    tokens: Mapping[str, str]
    """Agent name -> bearer token."""
    wrap_up_seconds: float = 5.0
    call_back_minutes: float = 60.0
    """How far ahead a call-back is asked for."""
    endpoint: str = "{agent}"
    """Each agent's SIP endpoint; `{agent}` is the agent's name."""
    seed: int = 0


def read_tokens(text: str) -> dict[str, str]:
    """`agent=token` lines (as `kubectl create secret generic --from-env-file` reads them);
    blank lines and `#` comments skipped. Raises ValueError naming a malformed line."""
    tokens = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        agent, sep, token = line.partition("=")
        if not sep or not agent.strip() or not token.strip():
            raise ValueError(f"line {number}: want agent=token")
        tokens[agent.strip()] = token.strip()
    return tokens


def choose(
    declared: Mapping[str, Any], rng: random.Random, now: datetime, call_back: timedelta
) -> dict[str, Any]:
    """A disposition body for the campaign's `declared` codes and fields (the API's
    `/dispositions` answer): a code at random, every required field filled in by its type,
    a call-back time `call_back` after `now` for a code that asks for one."""
    codes = list(declared.get("codes") or [])
    body: dict[str, Any] = {}
    if codes:
        code = rng.choice(codes)
        body["code"] = code["code"]
        if code.get("callBack"):
            body["callBackAt"] = (now + call_back).isoformat()
    body["fields"] = {
        field["name"]: _filler(field.get("type", "String"), now)
        for field in declared.get("fields") or []
        if field.get("required")
    }
    return body


def _filler(kind: str, now: datetime) -> Any:
    return now.date().isoformat() if kind == "Date" else _FILLERS[kind]


class _Desktop:
    def __init__(self, config: DesktopConfig, agent: str, session: aiohttp.ClientSession) -> None:
        self.config, self.agent, self.session = config, agent, session
        self.base = f"{config.api}/v1/namespaces/{config.namespace}/campaigns/{config.campaign}"
        self.headers = {"Authorization": f"Bearer {config.tokens[agent]}"}
        self.rng = random.Random(f"{config.seed}/{agent}")
        self.state = ""
        self.back: asyncio.Task[None] | None = None
        """Going Ready again after the worker set the agent NotReady."""

    async def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        async with self.session.request(
            method, self.base + path, json=body, headers=self.headers
        ) as answer:
            return answer.status, await answer.json(content_type=None)

    async def login(self) -> None:
        endpoint = self.config.endpoint.format(agent=self.agent)
        status, body = await self.request("POST", "/login", {"endpoint": endpoint, "ready": True})
        if status == 409 and "cannot login" in body.get("detail", ""):
            status, body = await self.request("GET", "/state")  # logged in already
            if status == 200 and body["state"] == "NotReady":
                status, body = await self.request("POST", "/ready")
        if status != 200:
            raise RuntimeError(f"agent {self.agent} could not log in: {body.get('detail', body)}")
        self.state = body["state"]

    async def follow(self) -> None:
        """Follows the agent's events for ever, ending each wrap-up with a disposition."""
        last = ""
        while True:
            try:
                async for kind, event_id, data in self._events(last):
                    last = event_id or last
                    await self._on(kind, data)
            except (TimeoutError, aiohttp.ClientError) as error:
                log.warning("agent %s: event stream dropped (%s); reconnecting", self.agent, error)
            await asyncio.sleep(_RECONNECT_S)

    async def _on(self, kind: str, data: str) -> None:
        doc = json.loads(data)
        if kind == "offer":
            log.info("agent %s offered %s: %s", self.agent, doc["attempt"], doc["fields"])
            return
        state = doc["state"] if kind == "state" else doc["after"]
        if state == "WrapUp" and self.state != "WrapUp":
            asyncio.get_running_loop().create_task(self._wrap_up())
        elif state == "NotReady" and self.state != "NotReady":
            log.info("agent %s set NotReady: %s", self.agent, doc.get("reason"))
            self.back = asyncio.get_running_loop().create_task(self._ready_again())
        self.state = state

    async def _ready_again(self) -> None:
        await asyncio.sleep(READY_AGAIN_SECONDS)
        status, answer = await self.request("POST", "/ready")
        if status != 200:
            log.warning("agent %s: could not go Ready again: %s", self.agent, answer)

    async def _wrap_up(self) -> None:
        await asyncio.sleep(self.config.wrap_up_seconds)
        status, declared = await self.request("GET", "/dispositions")
        if status != 200:
            log.warning("agent %s: no disposition codes: %s", self.agent, declared)
            return
        call_back = timedelta(minutes=self.config.call_back_minutes)
        body = choose(declared, self.rng, datetime.now(UTC), call_back)
        for _ in range(_SENDS):
            status, answer = await self.request("POST", "/disposition", body)
            if status != 409 or "still being recorded" not in answer.get("detail", ""):
                break
            await asyncio.sleep(_AGAIN_S)
        if status == 200:
            log.info("agent %s ended wrap-up: %s", self.agent, body.get("code"))
        else:
            log.warning("agent %s: disposition refused: %s", self.agent, answer)

    async def _events(self, last: str) -> AsyncIterator[tuple[str, str, str]]:
        headers = self.headers | ({"Last-Event-ID": last} if last else {})
        timeout = aiohttp.ClientTimeout(total=None, sock_read=60)
        async with self.session.get(
            self.base + "/events", headers=headers, timeout=timeout
        ) as stream:
            stream.raise_for_status()
            fields: dict[str, str] = {}
            async for raw in stream.content:
                line = raw.decode().rstrip("\r\n")
                if not line:
                    if "data" in fields:
                        yield fields.get("event", ""), fields.get("id", ""), fields["data"]
                    fields = {}
                elif not line.startswith(":"):
                    name, _, value = line.partition(": ")
                    fields[name] = value

    async def leave(self) -> None:
        """Logs out if not on a call (a call's agent stays until its wrap-up ends)."""
        if self.back is not None:
            self.back.cancel()
        status, body = await self.request("GET", "/state")
        if status == 200 and body["state"] == "Ready":
            await self.request("POST", "/not-ready", {"reason": "end of shift"})
        if status == 200 and body["state"] in ("Ready", "NotReady"):
            await self.request("POST", "/logout")


async def run_desktops(config: DesktopConfig, stop: asyncio.Event) -> None:
    """Logs every agent in, says so on stdout, and follows them until `stop` is set."""
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        desktops = [_Desktop(config, agent, session) for agent in sorted(config.tokens)]
        await asyncio.gather(*(d.login() for d in desktops))
        sys.stdout.write(
            f"kdial-desktops: {len(desktops)} agents logged in to "
            f"{config.namespace}/{config.campaign}\n"
        )
        sys.stdout.flush()
        following = [asyncio.create_task(d.follow()) for d in desktops]
        await stop.wait()
        for task in following:
            task.cancel()
        await asyncio.gather(*following, return_exceptions=True)
        await asyncio.gather(*(d.leave() for d in desktops), return_exceptions=True)
