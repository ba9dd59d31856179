"""ContactList imports through the operator process: URL sources with a Secret, progress while an
import runs (and the operator answering meanwhile), refresh, hostile sources, suppression counts.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from aiohttp import web

from kdial.state.keys import ListKeys
from tests.integration.test_contact_import import ListServer, csv_of, numbers
from tests.support.operator import Api, OperatorProcess, wait_for

pytestmark = pytest.mark.integration


@pytest.fixture
def server() -> Iterator[ListServer]:
    srv = ListServer().start()
    yield srv
    srv.stop()


def url_list(api: Api, name: str, url: str, **extra: Any) -> None:
    spec = {"source": {"url": {"url": url}}, "defaultRegion": "CN"} | extra
    api.create("contactlists", name, spec, "ContactList")


def status(api: Api, name: str) -> dict[str, Any]:
    return dict((api.get("contactlists", name) or {}).get("status") or {})


def condition(api: Api, name: str, type_: str) -> dict[str, Any]:
    return api.condition("contactlists", name, type_) or {}


def finished(api: Api, name: str, generation: int = 1) -> dict[str, Any] | None:
    st = status(api, name)
    importing = next((c for c in st.get("conditions", []) if c["type"] == "Importing"), {})
    done = st.get("observedGeneration") == generation and importing.get("status") == "False"
    return st if done else None


def test_a_url_list_with_a_secret_imports_and_masks(
    api: Api, operator: OperatorProcess, server: ListServer, rdb: redis.Redis, namespace: str
) -> None:
    async def guarded(request: web.Request) -> web.StreamResponse:
        if request.headers.get("Authorization") != "Bearer t0ken":
            raise web.HTTPForbidden()
        body = csv_of(numbers(6)) + "12345,short\n13800000001,again\n"
        return web.Response(text=body, content_type="text/csv")

    server.routes["/leads.csv"] = guarded
    secret = base64.b64encode(b"Bearer t0ken").decode()
    api.core.create_namespaced_secret(
        namespace, {"metadata": {"name": "list-auth"}, "data": {"authorization": secret}}
    )
    source = {
        "url": server.url("/leads.csv?sig=xyz"),
        "authSecretRef": {"name": "list-auth", "key": "authorization"},
    }
    api.create(
        "contactlists",
        "leads",
        {"source": {"url": source}, "defaultRegion": "CN"},
        "ContactList",
    )

    st = wait_for("imported", lambda: finished(api, "leads"), log=operator)
    assert st["counts"] == {"read": 8, "imported": 6, "rejected": 1, "duplicates": 1}
    assert st["firstRejected"] == [
        {"row": 7, "number": "***45", "reason": "InvalidNumber:LocalOnly"}
    ]
    assert st["lastImportTime"]
    assert "progress" not in st
    assert condition(api, "leads", "Ready")["status"] == "True"
    assert condition(api, "leads", "Failed")["status"] == "False"
    assert rdb.hlen(ListKeys(namespace, "leads").contacts) == 6
    shown = json.dumps(st) + json.dumps(api.events("leads")) + operator.tail(400)
    assert "t0ken" not in shown and "sig=xyz" not in shown
    for n in numbers(6):
        assert n not in shown


def test_progress_shows_while_an_import_runs_and_other_lists_go_on(
    api: Api, operator: OperatorProcess, server: ListServer, rdb: redis.Redis, namespace: str
) -> None:
    rows = numbers(4000)

    async def slow(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        response.content_type = "text/csv"
        await response.prepare(request)
        await response.write(b"phone,name\n")
        for start in range(0, len(rows), 200):  # ~6 s in all
            await response.write(csv_of(rows[start : start + 200], header="").lstrip().encode())
            await asyncio.sleep(0.3)
        await response.write_eof()
        return response

    server.routes["/slow.csv"] = slow
    url_list(api, "big", server.url("/slow.csv"))

    running = wait_for(
        "progress in status",
        lambda: (
            (status(api, "big").get("progress") or {}).get("read", 0) > 0 and status(api, "big")
        ),
        log=operator,
    )
    importing = next(c for c in running["conditions"] if c["type"] == "Importing")
    assert importing["status"] == "True"
    assert "rows/s" in importing["message"]
    # The operator still acts on other lists while the import runs.
    api.config_map("small-src", {"l.csv": csv_of(numbers(2, start=9000))})
    api.create(
        "contactlists",
        "small",
        {"source": {"configMap": {"name": "small-src", "key": "l.csv"}}, "defaultRegion": "CN"},
        "ContactList",
    )
    wait_for("the small list", lambda: finished(api, "small"), log=operator)
    assert status(api, "big").get("progress"), "the big import is still running"
    assert not rdb.exists(ListKeys(namespace, "big").contacts), "nothing live before the swap"

    st = wait_for("the big list", lambda: finished(api, "big"), timeout=30, log=operator)
    assert st["counts"]["imported"] == 4000
    assert "progress" not in st


def test_refresh_reimports_a_changed_url_keeping_ids(
    api: Api, operator: OperatorProcess, server: ListServer, rdb: redis.Redis, namespace: str
) -> None:
    server.text("/l.csv", csv_of(numbers(3)))
    url_list(api, "leads", server.url("/l.csv"))
    wait_for("first import", lambda: finished(api, "leads"), log=operator)
    keys = ListKeys(namespace, "leads")
    ids = {json.loads(v)["number"]: k for k, v in rdb.hgetall(keys.contacts).items()}

    server.text("/l.csv", csv_of(numbers(3, start=1)))
    api.patch_spec("contactlists", "leads", {"refresh": "2026-11-24"})
    st = wait_for("second import", lambda: finished(api, "leads", 2), log=operator)

    assert st["counts"]["imported"] == 3
    now = {json.loads(v)["number"]: k for k, v in rdb.hgetall(keys.contacts).items()}
    assert sorted(now) == [f"+86{n}" for n in numbers(3, start=1)]
    assert all(now[n] == ids[n] for n in now if n in ids)
    assert rdb.get(keys.version) == "2"


def test_a_hostile_url_fails_with_a_clear_status_and_imports_nothing(
    api: Api, operator: OperatorProcess, server: ListServer, rdb: redis.Redis, namespace: str
) -> None:
    server.text("/portal", "<html><body>Please log in</body></html>", "text/html")
    url_list(api, "leads", server.url("/portal"))

    st = wait_for("failed", lambda: finished(api, "leads"), log=operator)
    ready, failed = condition(api, "leads", "Ready"), condition(api, "leads", "Failed")
    assert (ready["status"], ready["reason"]) == ("False", "NotAList")
    assert (failed["status"], failed["reason"]) == ("True", "NotAList")
    assert "text/html" in failed["message"]
    assert "counts" not in st
    left = set(rdb.scan_iter(match=f"*{namespace}/leads*"))
    assert left <= {ListKeys(namespace, "leads").id_key}, "nothing but the id secret"
    events = api.events("leads")
    assert any(e.get("reason") == "NotAList" for e in events)

    # A later import that fails keeps the good generation usable, and says why.
    server.text("/portal", csv_of(numbers(2)))
    api.patch_spec("contactlists", "leads", {"refresh": "fixed"})
    wait_for("fixed", lambda: finished(api, "leads", 2), log=operator)
    server.text("/portal", b"phone,name\n\xff\xfe13800001111,x\n")
    api.patch_spec("contactlists", "leads", {"refresh": "broken-again"})
    wait_for("failed again", lambda: finished(api, "leads", 3), log=operator)
    ready, failed = condition(api, "leads", "Ready"), condition(api, "leads", "Failed")
    assert ready["status"] == "True" and "the latest import failed" in ready["message"]
    assert (failed["status"], failed["reason"]) == ("True", "WrongEncoding")
    assert rdb.hlen(ListKeys(namespace, "leads").contacts) == 2


def test_a_do_not_call_list_reports_what_it_suppresses(api: Api, operator: OperatorProcess) -> None:
    api.config_map("dnc-src", {"l.csv": csv_of(numbers(4)) + "13800000000,again\n"})
    spec = {
        "source": {"configMap": {"name": "dnc-src", "key": "l.csv"}},
        "defaultRegion": "CN",
        "purpose": "Suppress",
    }
    api.create("contactlists", "dnc", spec, "ContactList")
    st = wait_for("imported", lambda: finished(api, "dnc"), log=operator)
    assert st["counts"] == {
        "read": 5,
        "imported": 4,
        "rejected": 0,
        "duplicates": 1,
        "suppressed": 4,
    }


def test_a_spec_change_cancels_the_import_under_way(
    api: Api, operator: OperatorProcess, server: ListServer, rdb: redis.Redis, namespace: str
) -> None:
    async def endless(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        response.content_type = "text/csv"
        await response.prepare(request)
        await response.write(b"phone,name\n")
        start = 0
        while True:  # rows forever, slowly: only a cancel ends this import
            await response.write(csv_of(numbers(300, start), header="").lstrip().encode())
            start = (start + 300) % 9000
            await asyncio.sleep(0.2)

    server.routes["/endless.csv"] = endless
    url_list(api, "leads", server.url("/endless.csv"))
    wait_for(
        "the endless import under way",
        lambda: (status(api, "leads").get("progress") or {}).get("read", 0) > 0,
        log=operator,
    )
    url = server.text("/short.csv", csv_of(numbers(2)))
    api.patch_spec("contactlists", "leads", {"source": {"url": {"url": url}}})

    st = wait_for("the new source imported", lambda: finished(api, "leads", 2), log=operator)
    assert st["counts"]["imported"] == 2
    keys = ListKeys(namespace, "leads")
    assert rdb.hlen(keys.contacts) == 2 and rdb.get(keys.version) == "1"
    staging = keys.staging.replace("{", "[{]").replace("}", "[}]") + "*"
    wait_for("no staging keys left", lambda: not list(rdb.scan_iter(staging)))
