"""`kdial api` as a real process against the emulated API server and the session's Redis:
agents log in, change state and follow it; every refusal is clear and changes nothing."""

from __future__ import annotations

import itertools
import json
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any, cast

import pytest
import redis
import requests

from kdial.agent_state import AgentAction
from kdial.outcomes import Outcome
from kdial.state.agents import SEAT_CLAIM_MS, AgentChange, AgentRecord, Seat
from kdial.state.attempt import AttemptRecord, Disposition
from kdial.state.contact import Contact
from kdial.state.counters import campaign_increments
from kdial.state.keys import AgentKeys, CampaignKeys, ListKeys
from kdial_local import processes
from kdial_local.apiserver import KubeServer
from kdial_worker import ledger
from tests.support import agents, desks
from tests.support.operator import Api, wait_for
from tests.support.world import campaign_spec

TOKENS = "kdial-agent-tokens"


@pytest.fixture(scope="module")
def agent_api(
    kubeconfig: Path, redis_server: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    log = tmp_path_factory.mktemp("agent-api") / "api.log"
    with processes.agent_api(kubeconfig, redis_server, log) as url:
        yield url


#: How agents of `promo` end wrap-up.
DISPOSITIONS = {
    "codes": [
        {"code": "Sale", "description": "Bought the plan", "closesContact": True},
        {"code": "NotNow", "retryDelayMinutes": 120},
        {"code": "CallBack", "description": "Asked to be called later", "callBack": True},
    ],
    "fields": [
        {"name": "interested", "type": "Boolean", "required": True},
        {"name": "amount", "type": "Decimal"},
        {"name": "note"},
    ],
}
#: What `leads` shows agents: the name as it is, the number as the trade masks it (by
#: default), the plan hidden; `city` is a field of the list but not shown.
LEADS = {
    "source": {"configMap": {"name": "leads-source", "key": "contacts.csv"}},
    "defaultRegion": "CN",
    "fields": [{"name": "name"}, {"name": "plan"}, {"name": "city"}],
    "display": [{"name": "name"}, {"name": "phone"}, {"name": "plan", "mask": "Full"}],
}
CONTACT = Contact(
    number="+8613800138101",
    id="c0ffee00c0ffee01",
    fields=MappingProxyType({"name": "Ana Li", "plan": "Fiber 300M", "city": "Shanghai"}),
)


def floor(api: Api, agents: dict[str, str]) -> None:
    """The namespace's agents and campaigns: `promo` (Predictive, calling `leads`) and
    `blast` (Agentless)."""
    api.secret(TOKENS, agents)
    agent_spec = campaign_spec(
        mode="Predictive", pacing={"maxConcurrency": 5}, dispositions=DISPOSITIONS
    )
    del agent_spec["destination"]
    api.create("campaigns", "promo", agent_spec, "Campaign")
    api.create("campaigns", "blast", campaign_spec(), "Campaign")
    api.create("contactlists", "leads", LEADS, "ContactList")


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


def test_an_event_stream_that_fails_once_begun_ends(
    agent_api: str, api: Api, namespace: str, rdb: redis.Redis
) -> None:
    """Begun, a stream cannot turn into an error response: it ends, so that the agent's client
    reconnects, instead of waiting on a stream that never ends while calls are offered to the
    agent. Here a change under a newer schema (a newer worker, mid-upgrade) cannot be read."""
    floor(api, {"ana": "ana-token"})
    keys = CampaignKeys(namespace, "promo")
    base = agent_api + at(namespace)
    assert call(base, "POST", "/login", "ana-token", {"endpoint": "1001"}).ok
    headers = {"Authorization": "Bearer ana-token"}
    with requests.get(base + "/events", headers=headers, stream=True, timeout=(5, 30)) as stream:
        events = _events(stream.iter_lines(decode_unicode=True))
        assert next(events)[0] == "state"
        assert call(base, "POST", "/ready", "ana-token").ok
        newer = json.loads(changes(rdb, keys)[-1].encode()) | {"schemaVersion": 99}
        rdb.xadd(keys.agent_changes, {"agent": "ana", "change": json.dumps(newer)})
        seen = list(events)  # to the stream's end
    assert [(kind, AgentChange.decode(data).after.value) for kind, _, data in seen] == [
        ("change", "Ready")
    ], "the readable change, then the end"


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


def ledger_state(rdb: redis.Redis, keys: CampaignKeys) -> dict[str, Any]:
    """Where the campaign's contacts are, and the dispositions kept."""
    return {
        "due": rdb.zrange(keys.due, 0, -1, withscores=True),
        "closed": rdb.hgetall(keys.closed),
        "inflight": rdb.hgetall(keys.inflight),
        "contacts": rdb.hgetall(keys.contacts),
        "waiting": rdb.hgetall(keys.waiting),
        "dispositions": rdb.hgetall(keys.dispositions),
    }


def records(rdb: redis.Redis, keys: CampaignKeys) -> list[AttemptRecord]:
    """The campaign's attempt records, each with its disposition if it has one."""
    entries = cast(list[tuple[str, dict[str, str]]], rdb.xrange(keys.attempts))
    return [
        AttemptRecord.decode(
            fields, cast(str | None, rdb.hget(keys.dispositions, fields["attempt"]))
        )
        for _, fields in entries
    ]


def left_open(rdb: redis.Redis, keys: CampaignKeys, attempt: str) -> None:
    """The call's attempt recorded with its contact due again in an hour, as a worker that
    leaves an agent's call's contact to its disposition records it."""
    ending = ledger.Ending(
        outcome=Outcome.ANSWERED_HUMAN,
        close=False,
        delay_ms=3_600_000,
        counters=campaign_increments(Outcome.ANSWERED_HUMAN),
    )
    assert ledger.complete(rdb, keys, attempt, ending)


def test_an_offer_shows_the_lists_display_fields_masked_and_only_to_its_agent(
    agent_api: str, api: Api, kube: KubeServer, namespace: str, rdb: redis.Redis
) -> None:
    floor(api, {"ana": "ana-token"})
    other = Api(kube.url, f"t-{uuid.uuid4().hex[:8]}")
    floor(other, {"ana": "ana-there"})  # the same agent, campaign and list names elsewhere
    here, there = agent_api + at(namespace), agent_api + at(other.namespace)
    assert call(here, "POST", "/login", "ana-token", {"endpoint": "1001", "ready": True}).ok
    assert call(there, "POST", "/login", "ana-there", {"endpoint": "1001", "ready": True}).ok
    keys = CampaignKeys(namespace, "promo")
    attempt = agents.claimed(rdb, keys, ListKeys(namespace, "leads"), CONTACT)

    mine = requests.get(
        here + "/events", headers={"Authorization": "Bearer ana-token"}, stream=True, timeout=30
    )
    theirs = requests.get(
        there + "/events", headers={"Authorization": "Bearer ana-there"}, stream=True, timeout=30
    )
    with mine, theirs:
        seen_here = _events(mine.iter_lines(decode_unicode=True))
        seen_there = _events(theirs.iter_lines(decode_unicode=True))
        assert next(seen_here)[0] == next(seen_there)[0] == "state"
        agents.act(rdb, keys, "ana", AgentAction.RESERVE, attempt=attempt)

        kind, _, data = next(seen_here)
        assert (kind, AgentChange.decode(data).attempt) == ("change", attempt)
        kind, _, data = next(seen_here)
        assert kind == "offer"
        assert json.loads(data) == {
            "attempt": attempt,
            "contact": CONTACT.id,
            "fields": {"name": "Ana Li", "phone": "+86138****8101", "plan": "****"},
        }
        assert list(json.loads(data)["fields"]) == ["name", "phone", "plan"], "the list's order"

        # The other namespace's Ana hears of her own change next, of nothing of this call.
        assert call(there, "POST", "/not-ready", "ana-there", {"reason": "break"}).ok
        kind, _, data = next(seen_there)
        assert (kind, AgentChange.decode(data).after.value) == ("change", "NotReady")

    # A desktop that connects while its agent is on the call is offered it at once.
    headers = {"Authorization": "Bearer ana-token"}
    with requests.get(here + "/events", headers=headers, stream=True, timeout=30) as again:
        seen = _events(again.iter_lines(decode_unicode=True))
        assert json.loads(next(seen)[2])["state"] == "Reserved"
        kind, _, data = next(seen)
        assert kind == "offer" and json.loads(data)["fields"]["phone"] == "+86138****8101"


def test_a_disposition_lands_in_the_attempt_record_and_a_closing_one_closes_the_contact(
    agent_api: str, api: Api, namespace: str, rdb: redis.Redis
) -> None:
    floor(api, {"ana": "ana-token"})
    base, keys = agent_api + at(namespace), CampaignKeys(namespace, "promo")
    assert call(base, "POST", "/login", "ana-token", {"endpoint": "1001", "ready": True}).ok
    attempt = agents.claimed(rdb, keys, ListKeys(namespace, "leads"), CONTACT)
    agents.into_wrap_up(rdb, keys, "ana", attempt)
    left_open(rdb, keys, attempt)
    assert rdb.zscore(keys.due, CONTACT.id) is not None, "the call left its contact open"

    body = {"code": "Sale", "fields": {"interested": True, "amount": "129.50", "note": "fiber"}}
    answer = call(base, "POST", "/disposition", "ana-token", body)
    assert answer.status_code == 200, answer.text
    assert answer.json()["state"] == "Ready"

    (record,) = records(rdb, keys)
    assert record.attempt == attempt and record.disposition is not None
    assert (record.disposition.code, record.disposition.agent) == ("Sale", "ana")
    assert record.disposition.fields == {"interested": True, "amount": "129.50", "note": "fiber"}
    assert rdb.hget(keys.closed, CONTACT.id) == "AnsweredHuman", "Sale closes the contact"
    assert rdb.zscore(keys.due, CONTACT.id) is None
    assert rdb.hget(keys.waiting, CONTACT.id) is None, "no longer counted as waiting"
    last = changes(rdb, keys)[-1]
    assert (last.action, last.disposition, last.attempt) == (
        AgentAction.END_WRAP_UP,
        "Sale",
        attempt,
    )


def test_a_call_back_comes_due_at_the_time_the_agent_gave(
    agent_api: str, api: Api, namespace: str, rdb: redis.Redis
) -> None:
    floor(api, {"ana": "ana-token"})
    base, keys = agent_api + at(namespace), CampaignKeys(namespace, "promo")
    assert call(base, "POST", "/login", "ana-token", {"endpoint": "1001", "ready": True}).ok
    attempt = agents.claimed(rdb, keys, ListKeys(namespace, "leads"), CONTACT)
    agents.call_to_wrap_up(rdb, keys, "ana", attempt)
    assert rdb.hget(keys.closed, CONTACT.id) == "AnsweredHuman", "an answered call closes"

    when_ms = agents.now_ms(rdb) + 2000
    when = datetime.fromtimestamp(when_ms / 1000, UTC).isoformat()
    body = {"code": "CallBack", "fields": {"interested": True}, "callBackAt": when}
    answer = call(base, "POST", "/disposition", "ana-token", body)
    assert answer.status_code == 200, answer.text

    assert rdb.hget(keys.closed, CONTACT.id) is None, "the call-back reopens the contact"
    assert rdb.zscore(keys.due, CONTACT.id) == pytest.approx(when_ms, abs=1)
    assert rdb.hget(keys.waiting, CONTACT.id) == "retry"
    (record,) = records(rdb, keys)
    assert record.disposition is not None
    assert record.disposition.call_back_ms == pytest.approx(when_ms, abs=1)
    assert ledger.claim(rdb, keys, agents.EPOCH, limit=1, lease_ms=1000) == [], "not yet"
    again = wait_for(
        "the call-back to come due",
        lambda: ledger.claim(rdb, keys, agents.EPOCH, limit=1, lease_ms=60_000),
        timeout=15,
    )
    assert [c.contact for c in again] == [CONTACT.id]
    assert again[0].history["attempts"] == 1, "the call-back keeps the contact's attempts"
    assert agents.now_ms(rdb) >= when_ms


def test_each_refused_disposition_is_clear_and_changes_nothing(
    agent_api: str, api: Api, kube: KubeServer, namespace: str, rdb: redis.Redis
) -> None:
    floor(api, {"ana": "ana-token", "bo": "bo-token", "cy": "cy-token"})
    elsewhere = Api(kube.url, f"t-{uuid.uuid4().hex[:8]}")
    floor(elsewhere, {"di": "di-token"})
    base, keys = agent_api + at(namespace), CampaignKeys(namespace, "promo")
    assert call(base, "POST", "/login", "ana-token", {"endpoint": "1001", "ready": True}).ok
    assert call(base, "POST", "/login", "cy-token", {"endpoint": "1003", "ready": True}).ok
    attempt = agents.claimed(rdb, keys, ListKeys(namespace, "leads"), CONTACT)
    agents.call_to_wrap_up(rdb, keys, "ana", attempt)
    before = snapshot(rdb, namespace), ledger_state(rdb, keys)
    past = datetime(2020, 1, 1, tzinfo=UTC).isoformat()
    soon = datetime.now(UTC).replace(year=datetime.now(UTC).year + 1).isoformat()

    def sale(**change: Any) -> dict[str, Any]:
        return {"code": "Sale", "fields": {"interested": True}} | change

    refusals: list[tuple[int, str, requests.Response]] = [
        (401, "not an agent's token", call(base, "POST", "/disposition", "x", sale())),
        (
            401,
            "not an agent's token",
            call(base, "POST", "/disposition", "di-token", sale()),
        ),
        (
            404,
            f"namespace {namespace} has no Campaign other",
            call(agent_api + at(namespace, "other"), "POST", "/disposition", "ana-token", sale()),
        ),
        (400, "Invalid JSON", call(base, "POST", "/disposition", "ana-token", raw=b"{code")),
        (
            400,
            "code: 'Won' is not one of CallBack, NotNow, Sale",
            call(base, "POST", "/disposition", "ana-token", sale(code="Won")),
        ),
        (
            400,
            "code: choose one of CallBack, NotNow, Sale",
            call(base, "POST", "/disposition", "ana-token", {"fields": {"interested": True}}),
        ),
        (
            400,
            "fields.interested: required",
            call(base, "POST", "/disposition", "ana-token", sale(fields={})),
        ),
        (
            400,
            "fields.amount: a decimal",
            call(
                base,
                "POST",
                "/disposition",
                "ana-token",
                sale(fields={"interested": True, "amount": "lots"}),
            ),
        ),
        (
            400,
            "fields.phone: not a disposition field (declared: amount, interested, note)",
            call(
                base,
                "POST",
                "/disposition",
                "ana-token",
                sale(fields={"interested": True, "phone": "13800138101"}),
            ),
        ),
        (
            400,
            "callBackAt: code 'Sale' asks for no call-back",
            call(base, "POST", "/disposition", "ana-token", sale(callBackAt=soon)),
        ),
        (
            400,
            "callBackAt: code 'CallBack' asks for a call-back: say when",
            call(base, "POST", "/disposition", "ana-token", sale(code="CallBack")),
        ),
        (
            400,
            "callBackAt: a call-back must be in the future",
            call(base, "POST", "/disposition", "ana-token", sale(code="CallBack", callBackAt=past)),
        ),
        (
            404,
            "agent bo has never logged in to Campaign promo",
            call(base, "POST", "/disposition", "bo-token", sale()),
        ),
        (
            409,
            "an agent in state Ready cannot endWrapUp",
            call(base, "POST", "/disposition", "cy-token", sale()),
        ),
    ]
    for status, says, response in refusals:
        assert response.status_code == status, (response.request.body, response.text)
        assert response.headers["Content-Type"].startswith("application/problem+json")
        assert says in response.json()["detail"], response.json()
    assert (snapshot(rdb, namespace), ledger_state(rdb, keys)) == before, "nothing changed"


def test_statistics_follow_the_agents_changes_on_the_api_and_on_metrics(
    agent_api: str, api: Api, namespace: str, rdb: redis.Redis
) -> None:
    floor(api, {"ana": "ana-token", "bo": "bo-token"})
    base, keys = agent_api + at(namespace), CampaignKeys(namespace, "promo")
    assert call(base, "POST", "/login", "ana-token", {"endpoint": "1001", "ready": True}).ok
    assert call(base, "POST", "/login", "bo-token", {"endpoint": "1002", "ready": True}).ok
    attempt = agents.claimed(rdb, keys, ListKeys(namespace, "leads"), CONTACT)
    agents.call_to_wrap_up(rdb, keys, "ana", attempt)
    body = {"code": "NotNow", "fields": {"interested": False}}
    assert call(base, "POST", "/disposition", "ana-token", body).ok

    mine = call(base, "GET", "/agents/ana/stats", "bo-token").json()
    assert (mine["calls"], mine["missed"], mine["dispositions"]) == (1, 0, {"NotNow": 1})
    assert mine["talkSeconds"] >= 0 and 0 <= mine["occupancy"] <= 1
    whole = call(base, "GET", "/stats", "bo-token").json()
    assert set(whole["agents"]) == {"ana", "bo"}
    assert whole["campaign"]["calls"] == 1 and whole["agents"]["bo"]["calls"] == 0
    assert call(base, "GET", "/agents/cy/stats", "bo-token").status_code == 404

    scraped = requests.get(agent_api + "/metrics", timeout=10).text
    labels = f'campaign="promo",namespace="{namespace}"'
    assert f"kdial_agent_calls_handled_total{{{labels}}} 1.0" in scraped
    disposed = f'campaign="promo",code="NotNow",namespace="{namespace}"'
    assert f"kdial_agent_dispositions_total{{{disposed}}} 1.0" in scraped
    assert f'kdial_agents{{{labels},state="Ready"}} 2.0' in scraped
    assert "ana" not in scraped, "no agent names in labels unless the chart opts in"


def test_reads_from_the_api_server_are_kept_and_a_revoked_token_stops_within_that_time(
    kubeconfig: Path, redis_url: str, api: Api, kube: KubeServer, namespace: str, tmp_path: Path
) -> None:
    floor(api, {"ana": "ana-token"})
    log = tmp_path / "api.log"
    with processes.agent_api(kubeconfig, redis_url, log, "--cache-seconds", "600") as base:
        here = base + at(namespace)
        assert call(here, "POST", "/login", "ana-token", {"endpoint": "1001"}).ok
        with kube.failing(0):
            # The API server fails, yet the token and the campaign just read are kept.
            assert call(here, "GET", "/state", "ana-token").status_code == 200
    with processes.agent_api(kubeconfig, redis_url, log, "--cache-seconds", "1") as base:
        here = base + at(namespace)
        assert call(here, "GET", "/state", "ana-token").status_code == 200
        api.core.delete_namespaced_secret(TOKENS, namespace)
        wait_for(
            "the revoked token to be refused",
            lambda: call(here, "GET", "/state", "ana-token").status_code == 401,
            timeout=1 + 5,
        )


def test_simulated_desktops_log_agents_in_and_end_each_wrap_up_with_a_campaign_code(
    agent_api: str, api: Api, namespace: str, rdb: redis.Redis, tmp_path: Path
) -> None:
    floor(api, {"ana": "ana-token", "bo": "bo-token"})
    tokens = tmp_path / "agents.env"
    tokens.write_text("# the floor\nana=ana-token\nbo=bo-token\n")
    keys = CampaignKeys(namespace, "promo")

    def state(agent: str) -> str:
        return AgentRecord.decode(cast(str, rdb.hget(keys.agents, agent))).state.value

    log = tmp_path / "desktops.log"
    with processes.desktops(
        agent_api, namespace, "promo", tokens, log, "--wrap-up-seconds", "0.2"
    ) as logged_in:
        assert logged_in == 2
        assert (state("ana"), state("bo")) == ("Ready", "Ready")
        assert AgentRecord.decode(cast(str, rdb.hget(keys.agents, "ana"))).endpoint == "ana"
        attempt = agents.claimed(rdb, keys, ListKeys(namespace, "leads"), CONTACT)
        agents.call_to_wrap_up(rdb, keys, "ana", attempt)

        kept = wait_for(
            "ana's desktop to end the wrap-up",
            lambda: cast(str | None, rdb.hget(keys.dispositions, attempt)),
            timeout=20,
        )
        disposition = Disposition.decode(kept)
        assert disposition.agent == "ana"
        assert disposition.code in {"Sale", "NotNow", "CallBack"}
        assert disposition.fields == {"interested": True}, "the required field, filled in"
        assert (disposition.call_back_ms is not None) == (disposition.code == "CallBack")
        wait_for("ana Ready again", lambda: state("ana") == "Ready")
    assert (state("ana"), state("bo")) == ("LoggedOut", "LoggedOut"), log.read_text()


def test_a_simulated_agent_set_not_ready_by_a_call_that_rang_out_is_ready_again(
    agent_api: str, api: Api, namespace: str, rdb: redis.Redis, tmp_path: Path
) -> None:
    """As a person at the desk would be: else a predictive run loses an agent to every leg
    whose one-second originate timeout fired before the phone answered."""
    floor(api, {"ana": "ana-token"})
    tokens = tmp_path / "agents.env"
    tokens.write_text("ana=ana-token\n")
    keys = CampaignKeys(namespace, "promo")
    log = tmp_path / "desktops.log"
    with processes.desktops(agent_api, namespace, "promo", tokens, log):
        attempt = agents.claimed(rdb, keys, ListKeys(namespace, "leads"), CONTACT)
        agents.act(rdb, keys, "ana", AgentAction.RESERVE, attempt=attempt)
        agents.act(rdb, keys, "ana", AgentAction.NOT_READY, reason="no answer")
        back = wait_for("ana Ready again", lambda: desks.moves(rdb, keys, "ana")[3:])
        assert back == ["ready"], log.read_text()
    moves = ["login", "reserve", "notReady", "ready", "notReady", "logout"]
    assert desks.moves(rdb, keys, "ana") == moves, "and out at the end of the shift"


def test_a_disposition_never_moves_a_contact_that_is_in_another_call(
    agent_api: str, api: Api, namespace: str, rdb: redis.Redis
) -> None:
    floor(api, {"ana": "ana-token"})
    base, keys = agent_api + at(namespace), CampaignKeys(namespace, "promo")
    assert call(base, "POST", "/login", "ana-token", {"endpoint": "1001", "ready": True}).ok
    attempt = agents.claimed(rdb, keys, ListKeys(namespace, "leads"), CONTACT)
    agents.into_wrap_up(rdb, keys, "ana", attempt)
    ending = ledger.Ending(outcome=Outcome.ANSWERED_HUMAN, close=False)  # due again at once
    assert ledger.complete(rdb, keys, attempt, ending)
    (again,) = ledger.claim(rdb, keys, agents.EPOCH, limit=1, lease_ms=60_000)
    assert again.contact == CONTACT.id, "the contact is in a second call"
    before = snapshot(rdb, namespace), ledger_state(rdb, keys)

    answer = call(
        base, "POST", "/disposition", "ana-token", {"code": "Sale", "fields": {"interested": True}}
    )
    assert answer.status_code == 409
    assert "the contact is in another call now" in answer.json()["detail"]
    assert (snapshot(rdb, namespace), ledger_state(rdb, keys)) == before, "nothing changed"
