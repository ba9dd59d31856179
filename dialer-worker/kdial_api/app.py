"""The agent API's routes: who is asking (a bearer token of the namespace), which campaign,
what they ask; then the change, or a clear refusal that changed nothing.

Every route but `/openapi.json`, `/healthz` and `/metrics` is under
`/v1/namespaces/{namespace}/campaigns/{campaign}/` and acts for the agent the token names, in
that namespace only: a token is looked up in the namespace's own Secret, so another
namespace's token is no token there (401), and another namespace's campaign is no campaign
here (404).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import redis
import redis.asyncio as aioredis
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from pydantic import ValidationError

from kdial.agent_state import AgentAction, AgentState, IllegalTransition
from kdial.agent_stats import AgentStats, total
from kdial.api.campaign import CampaignMode, CampaignSpec, Dispositions
from kdial.api.contactlist import ContactListSpec
from kdial.api.meta import explain
from kdial.modes import AGENT_MODES
from kdial.state.agents import AgentChange, AgentRecord
from kdial.state.contact import BadContact, Contact
from kdial.state.keys import CampaignKeys, ListKeys
from kdial.state.preview import DialRequest
from kdial.state.wire import NewerSchema
from kdial_api import dispositions, offers, requests
from kdial_api.cluster import Cluster, Unavailable
from kdial_api.openapi import AgentView, CampaignStatsView, OfferView, Route, StatsView, document
from kdial_api.previews import Chosen, Lost, NotDialling, NothingDue, Previews
from kdial_api.stats import StatsBook
from kdial_api.store import Contended, Elsewhere, Pending, Seated, Store, Unrecorded

log = logging.getLogger(__name__)

PREFIX = "/v1/namespaces/{namespace}/campaigns/{campaign}"
PROBLEM = "application/problem+json"

_CLUSTER = web.AppKey("cluster", Cluster)
_STORE = web.AppKey("store", Store)
_BOOK = web.AppKey("book", StatsBook)
_PREVIEWS = web.AppKey("previews", Previews)
_AGENT_LABEL = web.AppKey("agent_label", bool)


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
    #: The Campaign object as read.
    found: dict[str, Any]

    @property
    def keys(self) -> CampaignKeys:
        return CampaignKeys(self.namespace, self.campaign)

    def spec(self) -> CampaignSpec:
        """The campaign's spec; refuses (409) one that is not valid."""
        try:
            return CampaignSpec.model_validate(self.found.get("spec") or {})
        except ValidationError as error:
            raise Refusal(
                409,
                f"Campaign {self.campaign} is not valid (its Ready condition says so): "
                f"{explain(error)}",
            ) from None


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
    return Caller(namespace, campaign, agent, found)


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
    try:
        await _follow(request, caller, stream, record, after)
    except (Unavailable, Contended, NewerSchema, redis.RedisError) as error:
        # Begun, a stream cannot turn into a problem response (the middleware's would be
        # written into it, and the client would wait on a stream that never ends): it ends
        # here, and the client resumes from the last id it saw, an offer sent again with
        # the state.
        log.warning("agent %s: event stream ended: %s", caller.agent, error)
    except ConnectionResetError:
        pass  # the client went away: nobody to tell
    return stream


async def _follow(
    request: web.Request,
    caller: Caller,
    stream: web.StreamResponse,
    record: AgentRecord,
    after: str,
) -> None:
    """Writes the agent's state, the call offered to them if any, then each change."""
    await stream.write(_event("state", json.dumps(_seen(caller, record), sort_keys=True)))
    if record.attempt is not None:
        await stream.write(await _offer(request, caller, record.attempt, record.since_ms))
    async for item in request.app[_STORE].changes(caller.keys, caller.agent, after):
        if item is None:
            await stream.write(_heartbeat())
            continue
        await stream.write(_change(*item))
        change = item[1]
        if change.action is AgentAction.RESERVE and change.attempt is not None:
            await stream.write(await _offer(request, caller, change.attempt, change.at_ms))


async def _offer(request: web.Request, caller: Caller, attempt: str, since_ms: int) -> bytes:
    """The `offer` event of the call `attempt`."""
    view = await _offer_view(request, caller, attempt, since_ms)
    return _event("offer", view.model_dump_json(by_alias=True, exclude_none=True))


async def _offer_view(
    request: web.Request, caller: Caller, attempt: str, since_ms: int
) -> OfferView:
    """The call `attempt` as offered: its contact's fields the campaign's list shows agents,
    masked as it says."""
    store, cluster = request.app[_STORE], request.app[_CLUSTER]
    contact_id = await store.contact_of(caller.keys, attempt, since_ms)
    shown: dict[str, Any] = {}
    if contact_id is not None:
        spec = caller.found.get("spec") or {}
        listed = str((spec.get("contactListRef") or {}).get("name", ""))
        contact = await _contact(request, ListKeys(caller.namespace, listed), contact_id)
        if contact is not None:
            shown = offers.shown(contact, await _list_spec(cluster, caller.namespace, listed))
    return OfferView(attempt=attempt, contact=contact_id, fields=shown)


async def preview(request: web.Request) -> web.Response:
    """Preview mode: the next due record for the Ready agent, who is Reserved for it and
    sees its display fields, masked; they then dial or skip it."""
    caller = await _caller(request, agent_mode=True)
    requests.parse(requests.Empty, await request.read())
    spec = _preview_spec(caller)
    record = await _known(request, caller)
    if record.state is not AgentState.READY:
        raise Refusal(
            409, f"only a Ready agent previews a record; {caller.agent} is {record.state.value}"
        )
    store, previews = request.app[_STORE], request.app[_PREVIEWS]
    try:
        attempt = await previews.claim(caller.keys, spec)
    except NotDialling as error:
        raise Refusal(409, f"Campaign {caller.campaign} is not dialling: {error}") from None
    except NothingDue:
        raise Refusal(
            409, f"Campaign {caller.campaign} has no record due now; ask again later"
        ) from None
    try:
        new = await store.act(caller.keys, caller.agent, AgentAction.RESERVE, attempt=attempt)
    except IllegalTransition as error:
        # The agent changed meanwhile (went NotReady, say): the record goes back untouched.
        await previews.give_back(caller.keys, attempt)
        raise Refusal(409, str(error)) from None
    except BaseException:
        await previews.give_back(caller.keys, attempt)
        raise
    view = await _offer_view(request, caller, attempt, new.since_ms)
    return web.json_response(view.model_dump(mode="json", by_alias=True, exclude_none=True))


def _preview_spec(caller: Caller) -> CampaignSpec:
    spec = caller.spec()
    if spec.mode is not CampaignMode.PREVIEW:
        raise Refusal(
            409,
            f"Campaign {caller.campaign} is in mode {spec.mode.value}; only Preview "
            "campaigns serve records to preview",
        )
    return spec


async def _previewing(request: web.Request, caller: Caller) -> tuple[str, AgentRecord]:
    """The attempt in the path, if the agent is Reserved for its preview."""
    _preview_spec(caller)
    attempt = requests.check_attempt(request.match_info["attempt"])
    record = await _known(request, caller)
    if record.state is not AgentState.RESERVED or record.attempt != attempt:
        raise Refusal(409, f"agent {caller.agent} is not previewing attempt {attempt}")
    return attempt, record


def _chosen(attempt: str, error: Chosen | Lost) -> Refusal:
    if isinstance(error, Lost):
        return Refusal(409, f"the preview of attempt {attempt} ran out; preview the next record")
    if error.standing == "none":
        return Refusal(409, f"attempt {attempt} is no preview of this campaign")
    return Refusal(409, f"attempt {attempt} was chosen to {error.standing} already")


async def dial(request: web.Request) -> web.Response:
    """The agent dials the record they preview: a worker rings their phone, then the callee."""
    caller = await _caller(request, agent_mode=True)
    requests.parse(requests.Empty, await request.read())
    attempt, record = await _previewing(request, caller)
    dialled = DialRequest(attempt=attempt, agent=caller.agent, endpoint=record.endpoint or "")
    try:
        await request.app[_PREVIEWS].dial(caller.keys, dialled)
    except NotDialling as error:
        raise Refusal(
            409, f"Campaign {caller.campaign} is not dialling: {error}; skip the record"
        ) from None
    except (Chosen, Lost) as error:
        raise _chosen(attempt, error) from None
    return _view(caller, record)


async def skip(request: web.Request) -> web.Response:
    """The agent skips the record they preview: due again, no attempt counted; they are
    Ready again."""
    caller = await _caller(request, agent_mode=False)
    requests.parse(requests.Empty, await request.read())
    attempt, _ = await _previewing(request, caller)
    try:
        await request.app[_PREVIEWS].skip(caller.keys, attempt)
    except (Chosen, Lost) as error:
        raise _chosen(attempt, error) from None
    return await _act(request, caller, AgentAction.RELEASE)


async def _contact(request: web.Request, keys: ListKeys, contact: str) -> Contact | None:
    raw = await request.app[_STORE].redis.hget(keys.contacts, contact)
    try:
        return None if raw is None else Contact.decode(raw)
    except BadContact:
        return None


async def _list_spec(cluster: Cluster, namespace: str, name: str) -> ContactListSpec | None:
    """The list's spec; None when it is gone, not valid or cannot be read now (the stream is
    under way: no refusal can be sent), and then only the masked number shows."""
    try:
        found = await cluster.contact_list(namespace, name) if name else None
        return None if found is None else ContactListSpec.model_validate(found.get("spec") or {})
    except (ValidationError, Unavailable):
        return None


async def disposition(request: web.Request) -> web.Response:
    """Ends the agent's wrap-up with a disposition the campaign declares: kept with the call's
    attempt, applied to its contact, and the agent Ready again."""
    caller = await _caller(request, agent_mode=False)
    body = requests.parse(requests.Disposition, await request.read())
    spec = caller.spec()
    record = await _known(request, caller)
    if record.state is not AgentState.WRAP_UP or record.attempt is None:
        raise Refusal(409, str(IllegalTransition(record.state, AgentAction.END_WRAP_UP)))
    store, attempt = request.app[_STORE], record.attempt
    try:
        ended = await store.ended(caller.keys, attempt, record.since_ms)
        new, _ = await store.dispose(
            caller.keys,
            caller.agent,
            attempt,
            ended,
            lambda history, now: dispositions.judge(body, spec, history, now),
        )
    except dispositions.Refused as refused:
        raise Refusal(refused.status, str(refused)) from None
    except IllegalTransition as error:
        raise Refusal(409, str(error)) from None
    except Pending:
        raise Refusal(
            409,
            f"the call (attempt {attempt}) is still being recorded by its worker; "
            "send the disposition again in a moment",
        ) from None
    except Unrecorded:
        raise Refusal(
            409, f"the call (attempt {attempt}) has no attempt record to keep a disposition in"
        ) from None
    except Elsewhere:
        raise Refusal(
            409,
            "the contact is in another call now, or left the campaign's list: send the "
            "disposition again once that call has ended",
        ) from None
    return _view(caller, new)


async def dispositions_of(request: web.Request) -> web.Response:
    """The codes and fields the campaign's agents end wrap-up with."""
    caller = await _caller(request, agent_mode=False)
    declared = caller.spec().dispositions
    return web.json_response(declared.model_dump(mode="json", by_alias=True))


async def campaign_stats(request: web.Request) -> web.Response:
    """The campaign's agent statistics, summed and per agent."""
    caller = await _caller(request, agent_mode=False)
    per_agent = await _stats(request, caller)
    view = CampaignStatsView(
        campaign=_stats_view(total(per_agent.values())),
        agents={agent: _stats_view(stats) for agent, stats in per_agent.items()},
    )
    return web.json_response(view.model_dump(mode="json", by_alias=True))


async def agent_stats(request: web.Request) -> web.Response:
    """One agent's statistics in the campaign."""
    caller = await _caller(request, agent_mode=False)
    agent = requests.check_agent(request.match_info["agent"])
    stats = (await _stats(request, caller)).get(agent)
    if stats is None:
        raise Refusal(404, f"agent {agent} has no state changes in Campaign {caller.campaign}")
    return web.json_response(_stats_view(stats).model_dump(mode="json", by_alias=True))


async def _stats(request: web.Request, caller: Caller) -> dict[str, AgentStats]:
    book = request.app[_BOOK]
    fold = await book.fold(caller.keys)
    return fold.stats(await book.now_ms())


def _stats_view(stats: AgentStats) -> StatsView:
    return StatsView(
        calls=stats.calls,
        missed=stats.missed,
        idle_seconds=stats.idle_ms / 1000,
        reserved_seconds=stats.reserved_ms / 1000,
        talk_seconds=stats.talk_ms / 1000,
        wrap_up_seconds=stats.wrap_up_ms / 1000,
        not_ready_seconds=stats.not_ready_ms / 1000,
        occupancy=None if stats.occupancy is None else round(stats.occupancy, 4),
        dispositions=dict(stats.dispositions),
    )


async def metrics(request: web.Request) -> web.Response:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(await request.app[_BOOK].metrics(agent_label=request.app[_AGENT_LABEL]))
    return web.Response(
        body=generate_latest(registry), headers={"Content-Type": CONTENT_TYPE_LATEST}
    )


async def healthz(_: web.Request) -> web.Response:
    return web.Response(text="ok\n")


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
    Route(
        "POST", f"{PREFIX}/preview", preview, "Preview the next record", requests.Empty, OfferView
    ),
    Route(
        "POST",
        f"{PREFIX}/preview/{{attempt}}/dial",
        dial,
        "Dial the record previewed",
        requests.Empty,
        AgentView,
    ),
    Route(
        "POST",
        f"{PREFIX}/preview/{{attempt}}/skip",
        skip,
        "Skip the record previewed",
        requests.Empty,
        AgentView,
    ),
    Route("GET", f"{PREFIX}/state", state, "The agent's own state", None),
    Route("GET", f"{PREFIX}/events", events, "The agent's state changes as events", None),
    Route(
        "POST",
        f"{PREFIX}/disposition",
        disposition,
        "End wrap-up with a disposition",
        requests.Disposition,
    ),
    Route(
        "GET",
        f"{PREFIX}/dispositions",
        dispositions_of,
        "The disposition codes and fields agents choose from",
        None,
        Dispositions,
    ),
    Route(
        "GET",
        f"{PREFIX}/stats",
        campaign_stats,
        "The campaign's agent statistics",
        None,
        CampaignStatsView,
    ),
    Route(
        "GET",
        f"{PREFIX}/agents/{{agent}}/stats",
        agent_stats,
        "One agent's statistics",
        None,
        StatsView,
    ),
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


def build(cluster: Cluster, redis: aioredis.Redis, *, agent_label: bool = False) -> web.Application:
    """The app; `agent_label` puts agents' names in metric labels."""
    app = web.Application(middlewares=[_problems])
    app[_CLUSTER] = cluster
    app[_STORE] = Store(redis)
    app[_BOOK] = StatsBook(redis)
    app[_PREVIEWS] = Previews(redis)
    app[_AGENT_LABEL] = agent_label
    for route in ROUTES:
        app.router.add_route(route.method, route.path, route.handler)
    app.router.add_get("/openapi.json", openapi)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
    return app
