"""The agent API's routes: who is asking (a bearer token of the namespace), which campaign,
what they ask; then the change, or a clear refusal that changed nothing.

Every route but `/openapi.json` is under `/v1/namespaces/{namespace}/campaigns/{campaign}/`
and acts for the agent the token names, in that namespace only: a token is looked up in the
namespace's own Secret, so another namespace's token is no token there (401), and another
namespace's campaign is no campaign here (404).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import redis
import redis.asyncio as aioredis
from aiohttp import web

from kdial.agent_state import AgentAction, AgentState, IllegalTransition
from kdial.modes import AGENT_MODES
from kdial.state.agents import AgentChange, AgentRecord
from kdial.state.keys import CampaignKeys
from kdial.state.wire import NewerSchema
from kdial_api import requests
from kdial_api.cluster import Cluster, Unavailable
from kdial_api.openapi import AgentView, Route, document
from kdial_api.store import Contended, Seated, Store

PREFIX = "/v1/namespaces/{namespace}/campaigns/{campaign}"
PROBLEM = "application/problem+json"

_CLUSTER = web.AppKey("cluster", Cluster)
_STORE = web.AppKey("store", Store)


class Refusal(Exception):
    """A request refused with `status` and a message saying why (RFC 9457 problem details)."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status, self.detail = status, detail


@dataclass(frozen=True)
class Caller:
    """The agent a request acts for, and where."""

    namespace: str
    campaign: str
    agent: str

    @property
    def keys(self) -> CampaignKeys:
        return CampaignKeys(self.namespace, self.campaign)


async def _caller(request: web.Request, *, agent_mode: bool) -> Caller:
    """Who asks, about which campaign; refuses a bad token (401), a campaign the namespace
    lacks (404) and, when `agent_mode`, one whose mode hands no calls to agents (409)."""
    namespace = requests.check_name("namespace", request.match_info["namespace"])
    campaign = requests.check_name("campaign", request.match_info["campaign"])
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Refusal(401, "send the agent's token as `Authorization: Bearer <token>`")
    cluster = request.app[_CLUSTER]
    agent = await cluster.agent_of(namespace, token.strip())
    if agent is None:
        raise Refusal(401, f"the token is not an agent's token in namespace {namespace}")
    found = await cluster.campaign(namespace, campaign)
    if found is None:
        raise Refusal(404, f"namespace {namespace} has no Campaign {campaign}")
    mode = str((found.get("spec") or {}).get("mode", ""))
    if agent_mode and mode not in {m.value for m in AGENT_MODES}:
        raise Refusal(
            409,
            f"Campaign {campaign} is in mode {mode or '(none)'}, which hands calls to no agents; "
            f"agents log in to campaigns in mode "
            f"{', '.join(sorted(m.value for m in AGENT_MODES))}",
        )
    return Caller(namespace, campaign, agent)


def _view(caller: Caller, record: AgentRecord) -> web.Response:
    return web.json_response(_seen(caller, record))


def _seen(caller: Caller, record: AgentRecord) -> dict[str, Any]:
    """The agent's record as the API shows it (`AgentView`)."""
    view = AgentView(
        agent=caller.agent,
        namespace=caller.namespace,
        campaign=caller.campaign,
        state=record.state,
        since_ms=record.since_ms,
        endpoint=record.endpoint,
        reason=record.reason,
    )
    return view.model_dump(mode="json", by_alias=True, exclude_none=True)


async def _known(request: web.Request, caller: Caller) -> AgentRecord:
    record = await request.app[_STORE].record(caller.keys, caller.agent)
    if record is None:
        raise Refusal(
            404, f"agent {caller.agent} has never logged in to Campaign {caller.campaign}"
        )
    return record


async def _act(
    request: web.Request, caller: Caller, action: AgentAction, **fields: Any
) -> web.Response:
    if action is not AgentAction.LOGIN:
        await _known(request, caller)
    try:
        record = await request.app[_STORE].act(caller.keys, caller.agent, action, **fields)
    except IllegalTransition as error:
        raise Refusal(409, str(error)) from None
    return _view(caller, record)


async def login(request: web.Request) -> web.Response:
    caller = await _caller(request, agent_mode=True)
    body = requests.parse(requests.Login, await request.read())
    store = request.app[_STORE]
    here = await store.record(caller.keys, caller.agent)
    if here is not None and here.state is not AgentState.LOGGED_OUT:
        # Refused before the seat is touched: a refusal changes nothing.
        raise Refusal(409, str(IllegalTransition(here.state, AgentAction.LOGIN)))
    try:
        await store.take_seat(caller.keys, caller.agent)
    except Seated as seated:
        then = "log out there first" if seated.logged_in else "try again in a minute"
        raise Refusal(409, f"agent {caller.agent} {seated}; {then}") from None
    return await _act(request, caller, AgentAction.LOGIN, ready=body.ready, endpoint=body.endpoint)


async def ready(request: web.Request) -> web.Response:
    caller = await _caller(request, agent_mode=True)
    requests.parse(requests.Empty, await request.read())
    return await _act(request, caller, AgentAction.READY)


async def not_ready(request: web.Request) -> web.Response:
    caller = await _caller(request, agent_mode=False)
    body = requests.parse(requests.NotReady, await request.read())
    return await _act(request, caller, AgentAction.NOT_READY, reason=body.reason)


async def logout(request: web.Request) -> web.Response:
    caller = await _caller(request, agent_mode=False)
    requests.parse(requests.Empty, await request.read())
    answer = await _act(request, caller, AgentAction.LOGOUT)
    await request.app[_STORE].leave_seat(caller.keys, caller.agent)
    return answer


async def state(request: web.Request) -> web.Response:
    caller = await _caller(request, agent_mode=False)
    return _view(caller, await _known(request, caller))


async def events(request: web.Request) -> web.StreamResponse:
    """The agent's state as server-sent events: `state` (an `AgentView` of now) first, then
    one `change` (an `AgentChange`) per state change; each change's `id` resumes the stream
    (`Last-Event-ID`)."""
    caller = await _caller(request, agent_mode=False)
    store = request.app[_STORE]
    resume = request.headers.get("Last-Event-ID", "")
    after = resume if _stream_id(resume) else await store.last_change_id(caller.keys)
    record = await _known(request, caller)
    stream = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
    )
    await stream.prepare(request)
    await stream.write(_event("state", json.dumps(_seen(caller, record), sort_keys=True)))
    async for item in store.changes(caller.keys, caller.agent, after):
        await stream.write(_heartbeat() if item is None else _change(*item))
    return stream


def _event(kind: str, data: str, event_id: str | None = None) -> bytes:
    lines = [f"event: {kind}"] + ([f"id: {event_id}"] if event_id else []) + [f"data: {data}"]
    return ("\n".join(lines) + "\n\n").encode()


def _change(event_id: str, change: AgentChange) -> bytes:
    return _event("change", change.encode(), event_id)


def _heartbeat() -> bytes:
    # A comment line: clients ignore it, proxies see the connection is alive.
    return b": keep-alive\n\n"


def _stream_id(text: str) -> bool:
    first, dash, second = text.partition("-")
    return bool(dash) and first.isdigit() and second.isdigit()


async def openapi(_: web.Request) -> web.Response:
    return web.json_response(document(ROUTES))


ROUTES: tuple[Route, ...] = (
    Route("POST", f"{PREFIX}/login", login, "Log in to the campaign", requests.Login),
    Route("POST", f"{PREFIX}/ready", ready, "Go Ready to take calls", requests.Empty),
    Route("POST", f"{PREFIX}/not-ready", not_ready, "Go NotReady, saying why", requests.NotReady),
    Route("POST", f"{PREFIX}/logout", logout, "Log out of the campaign", requests.Empty),
    Route("GET", f"{PREFIX}/state", state, "The agent's own state", None),
    Route("GET", f"{PREFIX}/events", events, "The agent's state changes as events", None),
)


@web.middleware
async def _problems(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Refusals as problem details (RFC 9457); nothing was written before one."""
    try:
        return await handler(request)
    except Refusal as error:
        return _problem(error.status, error.detail)
    except requests.BadRequest as error:
        return _problem(400, str(error))
    except (Unavailable, Contended, NewerSchema) as error:
        return _problem(503, str(error))
    except redis.RedisError as error:
        return _problem(503, f"Redis did not answer: {error}")


def _problem(status: int, detail: str) -> web.Response:
    body = {"type": "about:blank", "title": _TITLES[status], "status": status, "detail": detail}
    return web.json_response(body, status=status, content_type=PROBLEM)


_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    409: "Conflict",
    503: "Service Unavailable",
}


def build(cluster: Cluster, redis: aioredis.Redis) -> web.Application:
    app = web.Application(middlewares=[_problems])
    app[_CLUSTER] = cluster
    app[_STORE] = Store(redis)
    for route in ROUTES:
        app.router.add_route(route.method, route.path, route.handler)
    app.router.add_get("/openapi.json", openapi)
    return app
