"""ContactList imports through the operator process: URL sources with a Secret, progress while an
import runs (and the operator answering meanwhile), refresh, hostile sources, suppression counts.
"""

from __future__ import annotations

import asyncio
import base64
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from aiohttp import web

from kdial.state.keys import ListKeys
from kdial_local.processes import free_port
from tests.support.list_server import INTERNAL_ANSWER, ListServer, csv_of
from tests.support.operator import Api, OperatorProcess, wait_for
from tests.support.traces import keys_holding
from tests.support.world import contact_list, numbers

#: The lists these tests serve are on 127.0.0.1 over http: the operator is told to allow that,
#: as the chart's `operator.contactSources.allowedNetworks` would.
LOOPBACK_ALLOWED = {"KDIAL_SOURCE_ALLOWED_NETWORKS": '["127.0.0.1/32"]'}


def start_operator(
    kubeconfig: Path, redis_url: str, namespace: str, log: Path, **env: str
) -> OperatorProcess:
    return OperatorProcess(
        kubeconfig,
        redis_url,
        log,
        "--standalone",
        f"--namespace={namespace}",
        f"--liveness=http://127.0.0.1:{free_port()}/healthz",
        **env,
    ).start()


@pytest.fixture
def operator(
    kubeconfig: Path, redis_url: str, namespace: str, tmp_path: Path
) -> Iterator[OperatorProcess]:
    proc = start_operator(
        kubeconfig, redis_url, namespace, tmp_path / "operator.log", **LOOPBACK_ALLOWED
    )
    yield proc
    proc.stop()


def url_list(api: Api, name: str, url: str, **extra: Any) -> None:
    spec = {"source": {"url": {"url": url}}, "defaultRegion": "CN"} | extra
    api.create("contactlists", name, spec, "ContactList")


def status(api: Api, name: str) -> dict[str, Any]:
    return dict((api.get("contactlists", name) or {}).get("status") or {})


def condition(api: Api, name: str, type_: str) -> dict[str, Any]:
    return api.condition("contactlists", name, type_) or {}


def finished(api: Api, name: str, generation: int = 1) -> dict[str, Any] | None:
    st = status(api, name)
    conditions: list[dict[str, Any]] = st.get("conditions", [])
    importing = next((c for c in conditions if c["type"] == "Importing"), {})
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
        namespace,
        {"metadata": {"name": "list-auth"}, "data": {"authorization": secret}},  # type: ignore[arg-type]  # a dict body is fine
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


def endless_list(server: ListServer, path: str, closed: threading.Event | None = None) -> str:
    """A list that sends rows slowly forever: only a cancel ends its import. `closed` is set
    when the reader hangs up."""

    async def endless(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        response.content_type = "text/csv"
        await response.prepare(request)
        try:
            await response.write(b"phone,name\n")
            start = 0
            while True:
                await response.write(csv_of(numbers(300, start), header="").lstrip().encode())
                start = (start + 300) % 9000
                await asyncio.sleep(0.2)
        finally:
            if closed is not None:
                closed.set()

    server.routes[path] = endless
    return server.url(path)


def test_two_lists_at_once_with_a_cap_of_one_queue(
    api: Api, server: ListServer, kubeconfig: Path, redis_url: str, namespace: str, tmp_path: Path
) -> None:
    """The cap on imports running at once holds across lists (one operator-wide registry)."""
    env = LOOPBACK_ALLOWED | {"KDIAL_MAX_CONCURRENT_IMPORTS": "1"}
    operator = start_operator(kubeconfig, redis_url, namespace, tmp_path / "operator.log", **env)
    try:
        url_list(api, "first", endless_list(server, "/first.csv"))
        wait_for(
            "the first import under way",
            lambda: (status(api, "first").get("progress") or {}).get("read", 0) > 0,
            log=operator,
        )
        url_list(api, "second", server.text("/second.csv", csv_of(numbers(3))))

        queued = wait_for(
            "the second list queued",
            lambda: (
                condition(api, "second", "Importing").get("reason") == "Queued"
                and condition(api, "second", "Importing")
            ),
            log=operator,
        )
        assert queued["status"] == "True"
        api.patch_spec("contactlists", "first", {"source": {"url": {"url": server.text(
            "/first-short.csv", csv_of(numbers(2, start=5000)))}}})  # fmt: skip
        st = wait_for("the second list imported", lambda: finished(api, "second"), log=operator)
        assert st["counts"]["imported"] == 3
    finally:
        operator.stop()


def test_stopping_the_operator_cancels_running_imports(
    api: Api, server: ListServer, kubeconfig: Path, redis_url: str, namespace: str, tmp_path: Path
) -> None:
    """SIGTERM stops the import under way: its child hangs up on the source and its staging
    keys go, rather than an orphan reading on after the operator is gone."""
    closed = threading.Event()
    log = tmp_path / "operator.log"
    operator = start_operator(kubeconfig, redis_url, namespace, log, **LOOPBACK_ALLOWED)
    try:
        url_list(api, "leads", endless_list(server, "/endless.csv", closed))
        wait_for(
            "the import under way",
            lambda: (status(api, "leads").get("progress") or {}).get("read", 0) > 0,
            log=operator,
        )
    finally:
        operator.stop()

    assert closed.wait(10), "the source is still being read after the operator stopped"
    keys = ListKeys(namespace, "leads")
    rdb = redis.Redis.from_url(redis_url)
    assert not list(rdb.scan_iter(keys.staging.replace("{", "[{]").replace("}", "[}]") + "*"))


def cm_list(api: Api, name: str, source: str, **extra: Any) -> None:
    spec = {"source": {"configMap": {"name": source, "key": "l.csv"}}, "defaultRegion": "CN"}
    api.create("contactlists", name, spec | extra, "ContactList")


def test_row_tags_reach_status_counted_and_never_carry_a_number(
    api: Api, operator: OperatorProcess, rdb: redis.Redis, namespace: str
) -> None:
    rows = [
        "phone,name,segment",
        '13800000001,A,"vip,north"',
        "13800000002,B,vip;高意向",
        "13800000003,C,",
        "13800000004,D,vip;13912345678",  # refused: a number in the tags
    ]
    api.config_map("tagged-src", {"l.csv": "\n".join(rows) + "\n"})
    cm_list(api, "leads", "tagged-src", tags=["sales"], tagsField="segment")

    st = wait_for("imported", lambda: finished(api, "leads"), log=operator)
    assert st["counts"] == {"read": 4, "imported": 3, "rejected": 1, "duplicates": 0, "tagged": 2}
    assert st["rowTags"] == {
        "distinct": 3,
        "top": [
            {"tag": "vip", "contacts": 2},
            {"tag": "north", "contacts": 1},
            {"tag": "高意向", "contacts": 1},
        ],
    }
    assert st["rejectedByReason"] == {"NumberInTag:segment": 1}
    assert st["firstRejected"] == [
        {"row": 4, "number": "138****0004", "reason": "NumberInTag:segment"}
    ]
    shown = (
        json.dumps(st, ensure_ascii=False) + json.dumps(api.events("leads")) + operator.tail(400)
    )
    assert "13912345678" not in shown and "139****5678" not in shown, "the tag is not echoed"
    stored = {
        json.loads(v)["number"]: json.loads(v)["tags"]
        for v in rdb.hvals(ListKeys(namespace, "leads").contacts)
    }
    assert stored["+8613800000001"] == ["sales", "vip", "north"]

    # A fixed file: the stale rejection reason and the old counts go from status.
    fixed = [*rows[:4], "13800000004,D,vip"]
    api.core.patch_namespaced_config_map(
        "tagged-src", namespace, {"data": {"l.csv": "\n".join(fixed) + "\n"}}
    )
    api.patch_spec("contactlists", "leads", {"refresh": "fixed"})
    st = wait_for("re-imported", lambda: finished(api, "leads", 2), log=operator)
    assert st["counts"]["tagged"] == 3
    assert st["rowTags"]["top"][0] == {"tag": "vip", "contacts": 3}
    assert st.get("rejectedByReason", {}) == {}, "no reason left over from the last import"

    # No tags column any more: no row tags in status, none in Redis.
    api.patch_spec("contactlists", "leads", {"tagsField": None})
    st = wait_for("without tags", lambda: finished(api, "leads", 3), log=operator)
    assert "rowTags" not in st and "tagged" not in st["counts"]
    assert not rdb.exists(ListKeys(namespace, "leads").tags)


def test_a_gb18030_list_from_binary_data_imports(
    api: Api, operator: OperatorProcess, rdb: redis.Redis, namespace: str
) -> None:
    text = "phone,name\n13800000001,张三\n13800000002,李四\n"
    api.config_map("gbk-src", {}, binary_data={"l.csv": text.encode("gb18030")})
    cm_list(api, "leads", "gbk-src", csv={"encoding": "GB18030"}, fields=[{"name": "name"}])

    st = wait_for("imported", lambda: finished(api, "leads"), log=operator)
    assert st["counts"]["imported"] == 2
    assert condition(api, "leads", "Ready")["status"] == "True"
    names = {
        json.loads(v)["fields"]["name"] for v in rdb.hvals(ListKeys(namespace, "leads").contacts)
    }
    assert names == {"张三", "李四"}


def test_a_url_over_the_download_cap_fails_with_source_too_large(
    kubeconfig: Path,
    redis_url: str,
    namespace: str,
    tmp_path: Path,
    api: Api,
    server: ListServer,
    rdb: redis.Redis,
) -> None:
    capped = start_operator(
        kubeconfig,
        redis_url,
        namespace,
        tmp_path / "operator.log",
        KDIAL_MAX_DOWNLOAD_BYTES=str(16 << 10),
        **LOOPBACK_ALLOWED,
    )
    try:
        url_list(api, "big", server.text("/big.csv", csv_of(numbers(2000))))
        wait_for("failed", lambda: finished(api, "big"), log=capped)
    finally:
        capped.stop()
    failed, ready = condition(api, "big", "Failed"), condition(api, "big", "Ready")
    assert (failed["status"], failed["reason"]) == ("True", "SourceTooLarge")
    assert "16 KiB" in failed["message"] and "KDIAL_MAX_DOWNLOAD_BYTES=16384" in failed["message"]
    assert (ready["status"], ready["reason"]) == ("False", "SourceTooLarge")
    assert not rdb.exists(ListKeys(namespace, "big").contacts)


def shown_anywhere(api: Api, name: str, proc: OperatorProcess) -> str:
    """Everything a person can read about a list: its status, its Events, the operator's log."""
    return json.dumps(status(api, name)) + json.dumps(api.events(name)) + proc.tail(400)


def test_a_url_on_loopback_is_refused_by_default_and_nothing_of_it_shows(
    kubeconfig: Path, redis_url: str, namespace: str, tmp_path: Path, api: Api, server: ListServer
) -> None:
    url = server.text("/admin", INTERNAL_ANSWER, "text/plain")
    default = start_operator(kubeconfig, redis_url, namespace, tmp_path / "operator.log")
    try:
        url_list(api, "leads", url)
        wait_for("refused", lambda: finished(api, "leads"), log=default)
        shown = shown_anywhere(api, "leads", default)
    finally:
        default.stop()

    ready, failed = condition(api, "leads", "Ready"), condition(api, "leads", "Failed")
    assert (ready["status"], ready["reason"]) == ("False", "SourceNotAllowed")
    assert (failed["status"], failed["reason"]) == ("True", "SourceNotAllowed")
    assert "'127.0.0.1' is a loopback address" in failed["message"]
    assert "operator.contactSources.allowedNetworks" in failed["message"]
    assert any(e.get("reason") == "SourceNotAllowed" for e in api.events("leads"))
    assert server.requests == [], "nothing was sent to the internal address"
    assert "8f2e1c0d" not in shown and "internal-admin-token" not in shown


def test_what_a_source_that_is_not_a_list_answers_is_not_echoed(
    api: Api, operator: OperatorProcess, server: ListServer
) -> None:
    url_list(api, "leads", server.text("/admin", INTERNAL_ANSWER, "text/plain"))

    wait_for("failed", lambda: finished(api, "leads"), log=operator)

    failed = condition(api, "leads", "Failed")
    assert (failed["status"], failed["reason"]) == ("True", "MissingColumn")
    assert "'phone'" in failed["message"]
    shown = shown_anywhere(api, "leads", operator)
    assert "8f2e1c0d" not in shown and "internal-admin-token" not in shown


def test_deleting_a_list_removes_its_numbers_from_redis(
    api: Api, operator: OperatorProcess, rdb: redis.Redis
) -> None:
    phones = numbers(5, start=7770)
    contact_list(api, "gone", phones)
    wait_for(
        "imported",
        lambda: condition(api, "gone", "Ready").get("status") == "True",
        log=operator,
    )
    assert keys_holding(rdb, phones), "control: the numbers are in Redis while the list exists"

    api.delete("contactlists", "gone")
    wait_for("list gone", lambda: api.get("contactlists", "gone") is None, log=operator)
    assert keys_holding(rdb, phones) == []
    assert list(rdb.scan_iter(match=ListKeys(api.namespace, "gone").pattern)) == []
