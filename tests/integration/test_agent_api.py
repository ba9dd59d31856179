"""`kdial api` as a real process against the emulated API server and the session's Redis:
agents log in, change state and follow it; every refusal is clear and changes nothing."""

from __future__ import annotations

import itertools
import json
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, cast

import pytest
import redis
import requests

from kdial.state.agents import SEAT_CLAIM_MS, AgentChange, AgentRecord, Seat
from kdial.state.keys import AgentKeys, CampaignKeys
from kdial_local import processes
from kdial_local.apiserver import KubeServer
from tests.support.operator import Api
from tests.support.world import campaign_spec

TOKENS = "kdial-agent-tokens"


@pytest.fixture(scope="module")
def agent_api(
    kubeconfig: Path, redis_server: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    log = tmp_path_factory.mktemp("agent-api") / "api.log"
    with processes.agent_api(kubeconfig, redis_server, log) as url:
        yield url


def floor(api: Api, agents: dict[str, str]) -> None:
    """The namespace's agents and campaigns: `promo` (Predictive) and `blast` (Agentless)."""
    api.secret(TOKENS, agents)
    agent_spec = campaign_spec(mode="Predictive", pacing={"maxConcurrency": 5})
    del agent_spec["destination"]
    api.create("campaigns", "promo", agent_spec, "Campaign")
    api.create("campaigns", "blast", campaign_spec(), "Campaign")


def call(
    base: str, method: str, path: str, token: str | None, body: Any = None, raw: bytes | None = None
) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    return requests.request(method, base + path, headers=headers, data=data, timeout=10)


def at(namespace: str, campaign: str = "promo") -> str:
    return f"/v1/namespaces/{namespace}/campaigns/{campaign}"


def changes(rdb: redis.Redis, keys: CampaignKeys) -> list[AgentChange]:
    stream = cast(list[tuple[str, dict[str, str]]], rdb.xrange(keys.agent_changes))
    return [AgentChange.decode(fields["change"]) for _, fields in stream]


def snapshot(rdb: redis.Redis, namespace: str) -> dict[str, Any]:
    """Every agent key of the namespace's campaigns, as stored."""
    out: dict[str, Any] = {}
    for campaign in ("promo", "blast", "other"):
        keys = CampaignKeys(namespace, campaign)
        out[campaign] = (rdb.hgetall(keys.agents), rdb.xrange(keys.agent_changes))
    out["seats"] = rdb.hgetall(AgentKeys(namespace).seats)
    return out


def test_an_agent_logs_in_goes_ready_and_not_ready_and_logs_out(
    agent_api: str, api: Api, namespace: str, rdb: redis.Redis
) -> None:
    floor(api, {"ana": "ana-token"})
    base = agent_api + at(namespace)

    login = call(base, "POST", "/login", "ana-token", {"endpoint": "sip:1001@pbx.example.com"})
    assert login.status_code == 200, login.text
    assert login.json() | {"sinceMs": 0} == {
        "agent": "ana",
        "namespace": namespace,
        "campaign": "promo",
        "state": "NotReady",
        "sinceMs": 0,
        "endpoint": "sip:1001@pbx.example.com",
    }
    assert call(base, "POST", "/ready", "ana-token").json()["state"] == "Ready"
    away = call(base, "POST", "/not-ready", "ana-token", {"reason": "lunch"}).json()
    assert (away["state"], away["reason"]) == ("NotReady", "lunch")
    assert call(base, "GET", "/state", "ana-token").json() == away
    assert call(base, "POST", "/logout", "ana-token").json()["state"] == "LoggedOut"

    keys = CampaignKeys(namespace, "promo")
    logged = changes(rdb, keys)
    assert [(c.action.value, c.before.value, c.after.value) for c in logged] == [
        ("login", "LoggedOut", "NotReady"),
        ("ready", "NotReady", "Ready"),
        ("notReady", "Ready", "NotReady"),
        ("logout", "NotReady", "LoggedOut"),
    ]
    stamps = [c.at_ms for c in logged]
    assert stamps == sorted(stamps) and stamps[0] > 0, "each change stamped, in order"
    record = AgentRecord.decode(cast(str, rdb.hget(keys.agents, "ana")))
    assert (record.state.value, record.since_ms) == ("LoggedOut", stamps[-1])

    again = call(base, "POST", "/login", "ana-token", {"endpoint": "1002", "ready": True})
    assert (again.json()["state"], again.json()["endpoint"]) == ("Ready", "1002")


def test_each_refusal_is_clear_and_changes_nothing(
    agent_api: str, api: Api, kube: KubeServer, namespace: str, rdb: redis.Redis
) -> None:
    floor(api, {"ana": "ana-token", "bo": "bo-token"})
    other = f"t-{uuid.uuid4().hex[:8]}"
    elsewhere = Api(kube.url, other)
    elsewhere.secret(TOKENS, {"cy": "cy-token"})
    spec = campaign_spec(mode="Preview")
    del spec["destination"]
    elsewhere.create("campaigns", "other", spec, "Campaign")
    base = agent_api + at(namespace)
    assert call(base, "POST", "/login", "ana-token", {"endpoint": "1001"}).status_code == 200
    before = snapshot(rdb, namespace), snapshot(rdb, other)

    refusals: list[tuple[int, str, requests.Response]] = [
        (401, "Authorization: Bearer", call(base, "POST", "/ready", None)),
        (401, f"not an agent's token in namespace {namespace}", call(base, "POST", "/ready", "x")),
        # Another namespace's token is no token here, and this one's none there.
        (401, "not an agent's token", call(base, "GET", "/state", "cy-token")),
        (
            401,
            "not an agent's token",
            call(agent_api + at(other, "other"), "GET", "/state", "ana-token"),
        ),
        # Another namespace's campaign is no campaign here.
        (
            404,
            f"namespace {namespace} has no Campaign other",
            call(
                agent_api + at(namespace, "other"),
                "POST",
                "/login",
                "ana-token",
                {"endpoint": "1001"},
            ),
        ),
        (
            409,
            "Campaign blast is in mode Agentless",
            call(
                agent_api + at(namespace, "blast"),
                "POST",
                "/login",
                "bo-token",
                {"endpoint": "1003"},
            ),
        ),
        (400, "Invalid JSON", call(base, "POST", "/login", "bo-token", raw=b"{endpoint")),
        (
            400,
            "endpoint: endpoint must be a user registered",
            call(base, "POST", "/login", "bo-token", {"endpoint": "1003,user/1004"}),
        ),
        (400, "reason: Field required", call(base, "POST", "/not-ready", "ana-token", {})),
        (
            400,
            "is not a Kubernetes name",
            call(agent_api + at(namespace, "Promo"), "GET", "/state", "ana-token"),
        ),
        # bo has a token but never logged in to promo.
        (
            404,
            "agent bo has never logged in to Campaign promo",
            call(base, "GET", "/state", "bo-token"),
        ),
        (404, "agent bo has never logged in", call(base, "POST", "/ready", "bo-token")),
        (404, "agent bo has never logged in", call(base, "GET", "/events", "bo-token")),
        (
            409,
            "an agent in state NotReady cannot login",
            call(base, "POST", "/login", "ana-token", {"endpoint": "1009"}),
        ),
    ]
    for status, says, response in refusals:
        assert response.status_code == status, (response.request.url, response.text)
        assert response.headers["Content-Type"].startswith("application/problem+json")
        assert says in response.json()["detail"], response.json()
    assert (snapshot(rdb, namespace), snapshot(rdb, other)) == before, "nothing changed"


def test_agents_of_two_namespaces_never_see_each_other(
    agent_api: str, api: Api, kube: KubeServer, namespace: str
) -> None:
    floor(api, {"ana": "ana-here"})
    other = Api(kube.url, f"t-{uuid.uuid4().hex[:8]}")
    floor(other, {"ana": "ana-there"})  # the same agent and campaign names, another tenant
    here, there = agent_api + at(namespace), agent_api + at(other.namespace)

    assert call(here, "POST", "/login", "ana-here", {"endpoint": "1001", "ready": True}).ok
    assert call(there, "GET", "/state", "ana-there").status_code == 404, "not logged in there"
    assert call(there, "POST", "/login", "ana-there", {"endpoint": "2001"}).json()["state"] == (
        "NotReady"
    )
    mine = call(here, "GET", "/state", "ana-here").json()
    assert (mine["state"], mine["endpoint"], mine["namespace"]) == ("Ready", "1001", namespace)
    assert call(there, "GET", "/state", "ana-here").status_code == 401


def test_an_event_stream_pushes_the_agents_state_changes(
    agent_api: str, api: Api, namespace: str
) -> None:
    floor(api, {"ana": "ana-token", "bo": "bo-token"})
    base = agent_api + at(namespace)
    assert call(base, "POST", "/login", "ana-token", {"endpoint": "1001"}).ok
    assert call(base, "POST", "/login", "bo-token", {"endpoint": "1002"}).ok

    headers = {"Authorization": "Bearer ana-token"}
    with requests.get(base + "/events", headers=headers, stream=True, timeout=(5, 30)) as stream:
        assert stream.status_code == 200
        assert stream.headers["Content-Type"].startswith("text/event-stream")
        events = _events(stream.iter_lines(decode_unicode=True))
        kind, _, data = next(events)
        assert kind == "state"
        assert json.loads(data) == call(base, "GET", "/state", "ana-token").json()
        assert json.loads(data)["state"] == "NotReady"

        assert call(base, "POST", "/ready", "bo-token").ok, "another agent's change"
        assert call(base, "POST", "/ready", "ana-token").ok
        kind, event_id, data = next(events)
        change = AgentChange.decode(data)
        assert kind == "change" and event_id
        assert (change.agent, change.before.value, change.after.value) == (
            "ana",
            "NotReady",
            "Ready",
        )

    # A client that reconnects with the last id it saw gets what it missed, and only that.
    assert call(base, "POST", "/not-ready", "ana-token", {"reason": "call back"}).ok
    headers["Last-Event-ID"] = event_id
    with requests.get(base + "/events", headers=headers, stream=True, timeout=(5, 30)) as stream:
        events = _events(stream.iter_lines(decode_unicode=True))
        assert next(events)[0] == "state"
        kind, _, data = next(events)
        assert AgentChange.decode(data).reason == "call back"


def _events(lines: Iterator[str]) -> Iterator[tuple[str, str, str]]:
    """Server-sent events as (event, id, data); comments skipped."""
    fields: dict[str, str] = {}
    for line in lines:
        if not line:
            if fields:
                yield fields.get("event", ""), fields.get("id", ""), fields.get("data", "")
            fields = {}
        elif not line.startswith(":"):
            name, _, value = line.partition(": ")
            fields[name] = value


def test_two_api_replicas_lose_no_transition(
    agent_api: str, kubeconfig: Path, redis_url: str, api: Api, namespace: str, rdb: redis.Redis,
    tmp_path: Path,
) -> None:  # fmt: skip
    """Many requests at once through two processes: each accepted one is one change, and each
    change starts where the one before it ended."""
    floor(api, {"ana": "ana-token"})
    with processes.agent_api(kubeconfig, redis_url, tmp_path / "api2.log") as second:
        bases = [agent_api + at(namespace), second + at(namespace)]
        assert call(bases[0], "POST", "/login", "ana-token", {"endpoint": "1001"}).ok

        def toggle(i: int) -> int:
            if i % 2:
                return call(bases[i % 2], "POST", "/ready", "ana-token").status_code
            body = {"reason": f"r{i}"}
            return call(bases[i % 2], "POST", "/not-ready", "ana-token", body).status_code

        with ThreadPoolExecutor(16) as pool:
            statuses = list(pool.map(toggle, range(200)))
    assert set(statuses) <= {200, 409}, statuses
    logged = changes(rdb, CampaignKeys(namespace, "promo"))
    assert len(logged) == 1 + statuses.count(200)
    for earlier, later in itertools.pairwise(logged):
        assert later.before == earlier.after, (earlier, later)
    record = AgentRecord.decode(cast(str, rdb.hget(CampaignKeys(namespace, "promo").agents, "ana")))
    assert (record.state, record.reason) == (logged[-1].after, logged[-1].reason)


def test_without_redis_a_request_is_refused_as_unavailable_and_says_so(
    kubeconfig: Path, api: Api, namespace: str, tmp_path: Path
) -> None:
    floor(api, {"ana": "ana-token"})
    nowhere = f"redis://127.0.0.1:{processes.free_port()}/0"
    with processes.agent_api(kubeconfig, nowhere, tmp_path / "api.log") as base:
        answer = call(base + at(namespace), "POST", "/login", "ana-token", {"endpoint": "1001"})
    assert answer.status_code == 503
    assert answer.json()["detail"].startswith("Redis did not answer: ")


def test_an_agent_is_logged_in_to_one_campaign_at_a_time(
    agent_api: str, api: Api, namespace: str, rdb: redis.Redis
) -> None:
    floor(api, {"ana": "ana-token"})
    spec = campaign_spec(mode="Progressive", pacing={"maxConcurrency": 5})
    del spec["destination"]
    api.create("campaigns", "other", spec, "Campaign")
    promo, other = agent_api + at(namespace), agent_api + at(namespace, "other")
    assert call(promo, "POST", "/login", "ana-token", {"endpoint": "1001", "ready": True}).ok
    before = snapshot(rdb, namespace)

    second = call(other, "POST", "/login", "ana-token", {"endpoint": "1001"})
    assert second.status_code == 409
    assert second.json()["detail"] == (
        "agent ana is logged in to Campaign promo; log out there first"
    )
    assert snapshot(rdb, namespace) == before, "nothing changed"

    assert call(promo, "POST", "/logout", "ana-token").ok
    assert call(other, "POST", "/login", "ana-token", {"endpoint": "1001"}).ok
    assert rdb.hgetall(AgentKeys(namespace).seats).keys() == {"ana"}


def test_a_seat_left_by_a_login_or_logout_that_did_not_finish_is_taken_over(
    agent_api: str, api: Api, namespace: str, rdb: redis.Redis
) -> None:
    """A process that died between a seat and a record leaves a seat that holds nobody."""
    floor(api, {"ana": "ana-token", "bo": "bo-token"})
    seats = AgentKeys(namespace).seats
    seconds, _ = rdb.time()
    now = int(seconds) * 1000
    rdb.hset(seats, "ana", Seat(campaign="gone", at_ms=now - SEAT_CLAIM_MS - 1000).encode())
    rdb.hset(seats, "bo", Seat(campaign="gone", at_ms=now).encode())
    base = agent_api + at(namespace)

    assert call(base, "POST", "/login", "ana-token", {"endpoint": "1001"}).ok
    assert Seat.decode(cast(str, rdb.hget(seats, "ana"))).campaign == "promo"
    young = call(base, "POST", "/login", "bo-token", {"endpoint": "1002"})
    assert young.status_code == 409, "a login to `gone` may still be under way"
    assert young.json()["detail"] == (
        "agent bo is logging in to Campaign gone; try again in a minute"
    )
