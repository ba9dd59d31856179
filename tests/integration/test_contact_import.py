"""The import pipeline against a real redis-server and HTTP sources served by aiohttp.

These run the import in the test process (`contact_job.execute`, what the child process runs);
tests/integration/test_contact_operator.py runs it through the operator.
"""

from __future__ import annotations

import json
from typing import Any, cast

import pytest
import redis
from aiohttp import web

from kdial.api.contactlist import ContactListSpec
from kdial.state.keys import CampaignKeys, ListKeys
from kdial_operator import contact_job, contact_pipeline
from kdial_operator.contact_pipeline import Outcome
from kdial_operator.contact_reader import SourceError
from kdial_operator.source_policy import SourcePolicy
from tests.support.list_server import INTERNAL_ANSWER, ListServer, csv_of
from tests.support.world import numbers

#: What these tests' operator settings allow: the list servers they run on 127.0.0.1, and over
#: plain http (by default a list comes only over https from a public address).
LOOPBACK = SourcePolicy.of(allowed=["127.0.0.1/32"])


def spec(**extra: Any) -> ContactListSpec:
    doc: dict[str, Any] = {"source": {"url": {"url": "http://x/"}}, "defaultRegion": "CN"}
    return ContactListSpec.model_validate(doc | extra)


def run(
    redis_url: str,
    *,
    text: str | None = None,
    url: str | None = None,
    authorization: str | None = None,
    name: str = "leads",
    progress: contact_pipeline.Progress | None = None,
    outcome: Outcome | None = None,
    policy: SourcePolicy = LOOPBACK,
    **extra: Any,
) -> Outcome:
    job = contact_job.Job(
        "ns",
        name,
        spec(**extra),
        redis_url,
        text=text,
        url=url,
        authorization=authorization,
        policy=policy,
    )
    rdb = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        return contact_job.execute(job, rdb, progress, outcome)
    finally:
        rdb.close()


KEYS = ListKeys("ns", "leads")


def contacts(rdb: redis.Redis) -> dict[str, dict[str, Any]]:
    stored = cast(dict[str, str], rdb.hgetall(KEYS.contacts))
    return {k: json.loads(v) for k, v in stored.items()}


def staging_keys(rdb: redis.Redis) -> list[str]:
    return list(rdb.scan_iter(match=f"{KEYS.staging.replace('{', '[{]').replace('}', '[}]')}*"))


def test_an_http_list_streams_into_redis_with_counts(
    redis_url: str, rdb: redis.Redis, server: ListServer
) -> None:
    body = csv_of(numbers(5)) + "12345,bad\n13800000001,dup\n" + "=1+1,formula\n"
    url = server.text("/list.csv", body)

    outcome = run(
        redis_url, url=url, fields=[{"name": "name", "required": True}], tags=["vip", "north"]
    )

    tally = outcome.tally
    assert tally.as_dict() == {"read": 8, "imported": 5, "rejected": 2, "duplicates": 1}
    assert dict(tally.rejected) == {
        "InvalidNumber:LocalOnly": 1,
        "InvalidNumber:InvalidCharacters": 1,
    }
    assert [r["row"] for r in tally.first_rejected] == [6, 8]
    assert outcome.version == 1
    stored = contacts(rdb)
    assert sorted(c["number"] for c in stored.values()) == [f"+86{n}" for n in numbers(5)]
    one = next(iter(stored.values()))
    assert one["province"] and one["carrier"] and one["timeZones"] == ["Asia/Shanghai"]
    assert one["tags"] == ["vip", "north"]
    assert rdb.smembers(KEYS.numbers) == {f"+86{n}" for n in numbers(5)}
    assert staging_keys(rdb) == []


def test_the_authorization_header_comes_from_the_job(
    redis_url: str, rdb: redis.Redis, server: ListServer
) -> None:
    async def guarded(request: web.Request) -> web.StreamResponse:
        if request.headers.get("Authorization") != "Bearer s3cret":
            raise web.HTTPUnauthorized()
        return web.Response(text=csv_of(numbers(2)), content_type="text/csv")

    server.routes["/private.csv"] = guarded
    with pytest.raises(SourceError) as caught:
        run(redis_url, url=server.url("/private.csv?token=abc"))
    assert caught.value.reason == "HttpError"
    assert "401" in caught.value.message
    assert "token" not in caught.value.message, "query strings (tokens) stay out of messages"

    outcome = run(redis_url, url=server.url("/private.csv"), authorization="Bearer s3cret")
    assert outcome.tally.imported == 2


def test_reimporting_an_unchanged_source_changes_nothing(
    redis_url: str, rdb: redis.Redis, server: ListServer
) -> None:
    url = server.text("/list.csv", csv_of(numbers(3)))
    assert run(redis_url, url=url).version == 1
    before = rdb.hgetall(KEYS.contacts)

    again = run(redis_url, url=url, refresh="tomorrow")

    assert again.version == 0
    assert again.tally.imported == 3
    assert rdb.get(KEYS.version) == "1"
    assert rdb.hgetall(KEYS.contacts) == before
    assert staging_keys(rdb) == []


def test_a_changed_source_keeps_ids_and_history_and_drops_who_left(
    redis_url: str, rdb: redis.Redis, server: ListServer
) -> None:
    first, second = numbers(4), numbers(4, start=2)  # 0,1 leave; 2,3 stay; 4,5 arrive
    url = server.text("/list.csv", csv_of(first))
    run(redis_url, url=url)
    ids = {c["number"]: cid for cid, c in contacts(rdb).items()}
    campaign = CampaignKeys("ns", "promo")
    stayer = ids["+8613800000002"]
    rdb.hset(campaign.contacts, stayer, json.dumps({"attempts": 2}))

    server.text("/list.csv", csv_of(second))
    outcome = run(redis_url, url=url)

    assert outcome.version == 2
    now = {c["number"]: cid for cid, c in contacts(rdb).items()}
    assert sorted(now) == [f"+86{n}" for n in second]
    assert now["+8613800000002"] == stayer and now["+8613800000003"] == ids["+8613800000003"]
    assert rdb.hget(campaign.contacts, stayer) == json.dumps({"attempts": 2})
    assert rdb.smembers(KEYS.numbers) == {f"+86{n}" for n in second}


def test_readers_see_the_old_list_until_the_new_one_is_whole(
    redis_url: str, rdb: redis.Redis, server: ListServer
) -> None:
    url = server.text("/list.csv", csv_of(numbers(10)))
    run(redis_url, url=url)
    seen: list[tuple[int, int, str | None]] = []

    def look(_: Outcome) -> None:
        version = cast(str | None, rdb.get(KEYS.version))
        seen.append((rdb.hlen(KEYS.contacts), rdb.scard(KEYS.numbers), version))

    server.text("/list.csv", csv_of(numbers(3 * contact_pipeline.BATCH + 5, start=10)))
    contact_pipeline_progress_every_batch(redis_url, url, look)

    assert len(seen) >= 2, "looked in the middle of the import"
    assert set(seen) == {(10, 10, "1")}
    assert rdb.hlen(KEYS.contacts) == 3 * contact_pipeline.BATCH + 5
    assert rdb.get(KEYS.version) == "2"


def contact_pipeline_progress_every_batch(
    redis_url: str, url: str, look: contact_pipeline.Progress
) -> None:
    job = contact_job.Job(
        "ns", "leads", spec(), redis_url, url=url, progress_seconds=0.0, policy=LOOPBACK
    )
    rdb = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        contact_job.execute(job, rdb, look)
    finally:
        rdb.close()


def test_duplicates_are_found_across_batches(redis_url: str, rdb: redis.Redis) -> None:
    many = numbers(contact_pipeline.BATCH + 10)
    text = csv_of([*many, many[0], many[-1], many[5]])
    outcome = run(redis_url, text=text)
    assert outcome.tally.duplicates == 3
    assert outcome.tally.imported == len(many) == rdb.hlen(KEYS.contacts)


def hostile(server: ListServer) -> dict[str, tuple[str, str]]:
    """path -> (expected reason, words the message must contain)."""

    async def loop(request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound(server.url("/loop-again" if request.path == "/loop" else "/loop"))

    async def truncated(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Length": "100000"})
        response.content_type = "text/csv"
        await response.prepare(request)
        await response.write(csv_of(numbers(20)).encode())
        # Close the connection with most of the promised body missing.
        assert request.transport is not None
        request.transport.close()
        return response

    server.routes.update({"/loop": loop, "/loop-again": loop})
    server.routes["/truncated.csv"] = truncated
    server.text("/login", "<html><body><form>user,password</form></body></html>", "text/html")
    server.text("/sniffed.csv", "<!DOCTYPE html>\n<html>phone,name</html>\n")
    server.text("/gbk.csv", csv_of(numbers(3)).replace("N", "张").encode("gb18030"))
    server.text("/xlsx.csv", b"PK\x03\x04\x14\x00\x06\x00" + csv_of(numbers(3)).encode())
    return {
        "/loop": ("TooManyRedirects", "redirect loop"),
        "/login": ("NotAList", "text/html"),
        "/sniffed.csv": ("NotAList", "HTML"),
        "/truncated.csv": ("Truncated", "closed before the whole file"),
        "/gbk.csv": ("WrongEncoding", "GB18030"),
        "/xlsx.csv": ("BinaryContent", "line 1"),
        "/missing.csv": ("HttpError", "404"),
    }


def test_hostile_sources_fail_cleanly_and_leave_the_list_as_it_was(
    redis_url: str, rdb: redis.Redis, server: ListServer
) -> None:
    good = server.text("/good.csv", csv_of(numbers(5)))
    run(redis_url, url=good)
    before = (rdb.hgetall(KEYS.contacts), rdb.smembers(KEYS.numbers), rdb.get(KEYS.version))

    for path, (reason, words) in hostile(server).items():
        with pytest.raises(SourceError) as caught:
            run(redis_url, url=server.url(path))
        assert (path, caught.value.reason) == (path, reason)
        assert words in caught.value.message, caught.value.message
        after = (rdb.hgetall(KEYS.contacts), rdb.smembers(KEYS.numbers), rdb.get(KEYS.version))
        assert after == before, f"{path} changed the list"
        assert staging_keys(rdb) == [], f"{path} left staging keys"


def test_damaged_rows_are_rejected_with_their_line_and_the_rest_imports(
    redis_url: str, rdb: redis.Redis, server: ListServer
) -> None:
    """One NUL byte, one quote that never closes and one 10 MiB line, among good rows."""

    async def damaged(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        response.content_type = "text/csv"
        await response.prepare(request)
        await response.write(b"phone,name\n13800000001,Ann\n13800000002,B\x00o\n")
        await response.write(b'13800000003,"Cy\n13800000004,Di\n13800000005,')
        for _ in range(160):
            await response.write(b"A" * 65536)
        await response.write(b"\n13800000006,Ed\n")
        await response.write_eof()
        return response

    server.routes["/damaged.csv"] = damaged
    outcome = run(redis_url, url=server.url("/damaged.csv"))

    tally = outcome.tally
    assert tally.as_dict() == {"read": 6, "imported": 3, "rejected": 3, "duplicates": 0}
    assert tally.first_rejected == [
        {"row": 2, "number": "", "reason": "NulByte", "line": 3},
        {"row": 3, "number": "", "reason": "UnbalancedQuote", "line": 4},
        {"row": 5, "number": "", "reason": "LineTooLong", "line": 6},
    ]
    assert sorted(c["number"] for c in contacts(rdb).values()) == [
        "+8613800000001",
        "+8613800000004",
        "+8613800000006",
    ]
    assert outcome.version == 1


def test_a_cell_that_looks_like_a_formula_is_kept_as_written(
    redis_url: str, rdb: redis.Redis
) -> None:
    """A second number or a note is no reason to lose a customer: a cell is a formula only in
    a spreadsheet, and kdial writes none."""
    text = (
        "phone,name,note\n"
        "13800001111,=cmd|' /C calc'!A0,+86 139 1234 5678\n"
        "13800002222,@SUM(A1),-5 overdue\n"
    )
    outcome = run(redis_url, text=text, fields=[{"name": "name"}, {"name": "note"}])
    assert outcome.tally.as_dict() == {"read": 2, "imported": 2, "rejected": 0, "duplicates": 0}
    stored = {c["number"]: c["fields"] for c in contacts(rdb).values()}
    assert stored == {
        "+8613800001111": {"name": "=cmd|' /C calc'!A0", "note": "+86 139 1234 5678"},
        "+8613800002222": {"name": "@SUM(A1)", "note": "-5 overdue"},
    }


# Row tags


def test_row_tags_are_kept_on_contacts_and_counted_without_duplicates(
    redis_url: str, rdb: redis.Redis, server: ListServer
) -> None:
    body = (
        "phone,name,segment\n"
        '13800000001,A,"vip,north"\n'
        "13800000002,B,vip;高意向\n"
        "13800000003,C,\n"
        "13800000004,D,sales\n"  # the list's own tag: nothing added by the row
        "13800000001,A again,south\n"  # a duplicate: dropped, its tag not counted
        "13800000005,E,vip;13912345678\n"  # a number typed into the tags: row rejected
        "13800000006,F,=HYPERLINK(x)\n"
    )
    url = server.text("/tagged.csv", body)

    outcome = run(redis_url, url=url, tags=["sales"], tagsField="segment")

    tally = outcome.tally
    assert tally.as_dict() == {
        "read": 7,
        "imported": 4,
        "rejected": 2,
        "duplicates": 1,
        "tagged": 2,
    }
    assert dict(tally.rejected) == {"NumberInTag:segment": 1, "InvalidTag:segment": 1}
    shown = json.dumps(tally.first_rejected)
    assert "13912345678" not in shown and "13800000005" not in shown
    by_number = {c["number"]: c["tags"] for c in contacts(rdb).values()}
    assert by_number == {
        "+8613800000001": ["sales", "vip", "north"],
        "+8613800000002": ["sales", "vip", "高意向"],
        "+8613800000003": ["sales"],
        "+8613800000004": ["sales"],
    }
    assert rdb.hgetall(KEYS.tags) == {"vip": "2", "north": "1", "高意向": "1"}
    assert (outcome.distinct_tags, outcome.top_tags) == (
        3,
        [("vip", 2), ("north", 1), ("高意向", 1)],
    )
    assert staging_keys(rdb) == []


def test_ndjson_row_tags_may_be_an_array_or_a_string(redis_url: str, rdb: redis.Redis) -> None:
    lines = [
        {"phone": "13800000001", "tags": ["vip", "北区"]},
        {"phone": "13800000002", "tags": "vip|q1"},
        {"phone": "13800000003"},
        {"phone": "13800000004", "tags": ["ok", 5]},
    ]
    text = "\n".join(json.dumps(line, ensure_ascii=False) for line in lines)

    outcome = run(redis_url, text=text, format="NDJSON", tagsField="tags")

    assert dict(outcome.tally.rejected) == {"InvalidTag:tags": 1}
    assert outcome.tally.tagged == 2
    by_number = {c["number"]: c["tags"] for c in contacts(rdb).values()}
    assert by_number == {
        "+8613800000001": ["vip", "北区"],
        "+8613800000002": ["vip", "q1"],
        "+8613800000003": [],
    }
    assert outcome.top_tags == [("vip", 2), ("q1", 1), ("北区", 1)]


def test_tag_counts_follow_the_source_and_show_the_top_20(
    redis_url: str, rdb: redis.Redis, server: ListServer
) -> None:
    # 30 tags: tag t<k> on 30 - k contacts (one tag a row), so the top 20 are t00..t19.
    segments = [f"t{k:02d}" for k in range(30) for _ in range(30 - k)]
    rows = ["phone,segment"]
    rows += [f"{n},{t}" for n, t in zip(numbers(len(segments)), segments, strict=True)]
    url = server.text("/many.csv", "\n".join(rows) + "\n")

    outcome = run(redis_url, url=url, tagsField="segment")

    assert outcome.distinct_tags == 30 and rdb.hlen(KEYS.tags) == 30
    assert outcome.top_tags == [(f"t{t:02d}", 30 - t) for t in range(20)]

    # A new source without row tags, and then a spec without a tags column: nothing stale.
    server.text("/many.csv", "phone,segment\n13800000001,\n")
    outcome = run(redis_url, url=url, tagsField="segment")
    assert (outcome.distinct_tags, outcome.top_tags, outcome.tally.tagged) == (0, [], 0)
    assert not rdb.exists(KEYS.tags)
    assert outcome.version == 2


# Sources: ConfigMap binaryData, and the download cap


def test_a_binary_data_value_is_read_in_the_lists_encoding(
    redis_url: str, rdb: redis.Redis
) -> None:
    data = "phone,name\n13800000001,张三\n13800000002,李四\n".encode("gb18030")
    job = contact_job.Job(
        "ns",
        "leads",
        spec(csv={"encoding": "GB18030"}, fields=[{"name": "name"}]),
        redis_url,
        data=data,
    )
    # Through the child's JSON protocol, as the operator hands it over.
    job = contact_job.Job.from_json(job.to_json())
    assert job.data == data

    outcome = contact_job.execute(job, rdb)

    assert outcome.tally.imported == 2
    assert sorted(c["fields"]["name"] for c in contacts(rdb).values()) == ["张三", "李四"]


def capped(redis_url: str, url: str, max_bytes: int) -> Outcome:
    job = contact_job.Job(
        "ns", "leads", spec(), redis_url, url=url, max_bytes=max_bytes, policy=LOOPBACK
    )
    rdb = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        return contact_job.execute(job, rdb)
    finally:
        rdb.close()


def test_a_source_over_the_download_cap_fails_and_leaves_the_list(
    redis_url: str, rdb: redis.Redis, server: ListServer
) -> None:
    limit = 64 << 10
    body = csv_of(numbers(5000))  # ~110 KiB
    assert len(body) > limit
    good = server.text("/good.csv", csv_of(numbers(5)))
    run(redis_url, url=good)
    before = (rdb.hgetall(KEYS.contacts), rdb.get(KEYS.version))
    sizes = server.text("/declared.csv", body)  # aiohttp sends Content-Length

    async def streamed(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()  # chunked: no Content-Length to go by
        response.content_type = "text/csv"
        await response.prepare(request)
        for start in range(0, len(body), 4096):
            await response.write(body[start : start + 4096].encode())
        await response.write_eof()
        return response

    server.routes["/streamed.csv"] = streamed

    outcome = Outcome()
    with pytest.raises(SourceError) as caught:
        contact_job.execute(
            contact_job.Job(
                "ns", "leads", spec(), redis_url, url=sizes, max_bytes=limit, policy=LOOPBACK
            ),
            rdb,
            outcome=outcome,
        )
    assert caught.value.reason == "SourceTooLarge"
    assert "64 KiB" in caught.value.message and "KDIAL_MAX_DOWNLOAD_BYTES" in caught.value.message
    assert not caught.value.transient
    assert outcome.bytes_read == 0, "a declared size over the cap is refused before the body"

    with pytest.raises(SourceError) as caught:
        capped(redis_url, server.url("/streamed.csv"), limit)
    assert caught.value.reason == "SourceTooLarge"

    assert (rdb.hgetall(KEYS.contacts), rdb.get(KEYS.version)) == before
    assert staging_keys(rdb) == []
    # The cap is a limit, not a guess: a source of exactly that size imports.
    exact = server.text("/exact.csv", body[:limit].rsplit("\n", 1)[0].ljust(limit - 1) + "\n")
    assert capped(redis_url, exact, max_bytes=limit).tally.imported > 0


# Where a list may be fetched from: public https by default, every hop vetted on its address


@pytest.mark.parametrize(
    "origin",
    [
        "http://127.0.0.1",
        "https://127.0.0.1",
        "https://localhost",  # a name: judged by what it resolves to
        "http://[::ffff:127.0.0.1]",
        "http://[::1]",
        "http://2130706433",  # 127.0.0.1 as one number
        "http://127.1",
    ],
)
def test_a_loopback_url_is_refused_by_default_and_never_requested(
    redis_url: str, server: ListServer, origin: str
) -> None:
    url = server.text("/admin", INTERNAL_ANSWER, "text/plain").replace("http://127.0.0.1", origin)

    with pytest.raises(SourceError) as caught:
        run(redis_url, url=url, policy=SourcePolicy())

    error = caught.value
    assert error.reason == "SourceNotAllowed", error.message
    assert "loopback" in error.message or "canonical" in error.message, error.message
    assert "operator.contactSources.allowedNetworks" in error.message
    assert not error.transient, "a refused source is not retried until the settings change"
    assert server.requests == []


def test_a_redirect_is_vetted_like_the_url_and_keeps_credentials_at_home(
    redis_url: str, rdb: redis.Redis, server: ListServer
) -> None:
    other = ListServer(host="127.0.0.2").start()
    try:
        other.text("/l.csv", csv_of(numbers(2)))

        async def guarded(request: web.Request) -> web.StreamResponse:
            if request.headers.get("Authorization") != "Bearer s3cret":
                raise web.HTTPUnauthorized()
            raise web.HTTPFound(other.url("/l.csv"))

        async def moved(_: web.Request) -> web.StreamResponse:
            raise web.HTTPFound("/guarded")  # same origin: the credentials go along

        server.routes.update({"/moved": moved, "/guarded": guarded})

        # 127.0.0.2 is loopback too, and only 127.0.0.1 is allow-listed.
        with pytest.raises(SourceError) as caught:
            run(redis_url, url=server.url("/moved"), authorization="Bearer s3cret")
        assert caught.value.reason == "SourceNotAllowed"
        assert "redirects to, '127.0.0.2'" in caught.value.message
        assert "loopback" in caught.value.message
        assert other.requests == []
        assert [r.path for r in server.requests] == ["/moved", "/guarded"]

        # Allow-listed, the same redirect is followed; the credentials stay with their origin.
        both = SourcePolicy.of(allowed=["127.0.0.1/32", "127.0.0.2/32"])
        outcome = run(
            redis_url, url=server.url("/moved"), authorization="Bearer s3cret", policy=both
        )
        assert outcome.tally.imported == 2
        assert [r.headers.get("Authorization") for r in other.requests] == [None]
    finally:
        other.stop()


@pytest.mark.parametrize("location", ["file:///etc/passwd", "gopher://10.0.0.7:6379/_INFO"])
def test_a_redirect_to_another_scheme_is_refused(
    redis_url: str, server: ListServer, location: str
) -> None:
    async def away(_: web.Request) -> web.StreamResponse:
        return web.Response(status=302, headers={"Location": location})

    server.routes["/list.csv"] = away
    with pytest.raises(SourceError) as caught:
        run(redis_url, url=server.url("/list.csv"))
    assert caught.value.reason == "SourceNotAllowed"
    message = caught.value.message
    assert "passwd" not in message and "10.0.0.7" not in message, "its target is not echoed"


def test_a_url_that_cannot_be_parsed_fails_cleanly(redis_url: str) -> None:
    with pytest.raises(SourceError) as caught:
        run(redis_url, url="http://[zz/list.csv")
    assert (caught.value.reason, caught.value.transient) == ("InvalidUrl", False)


def test_an_error_status_shows_the_standard_phrase_not_the_servers(
    redis_url: str, server: ListServer
) -> None:
    async def refusing(_: web.Request) -> web.StreamResponse:
        return web.Response(status=403, reason=INTERNAL_ANSWER.strip())

    server.routes["/admin"] = refusing
    with pytest.raises(SourceError) as caught:
        run(redis_url, url=server.url("/admin"))
    assert caught.value.reason == "HttpError"
    assert "403 Forbidden" in caught.value.message
    assert "8f2e1c0d" not in caught.value.message


def test_the_policy_reaches_the_import_process() -> None:
    policy = SourcePolicy.of(allowed=["127.0.0.1/32", "fd00::/8"], cluster=["10.96.0.0/12"])
    job = contact_job.Job("ns", "leads", spec(), "redis://x", url="https://x/", policy=policy)
    assert contact_job.Job.from_json(job.to_json()).policy == policy
    assert (
        contact_job.Job.from_json(
            contact_job.Job("ns", "leads", spec(), "redis://x").to_json()
        ).policy
        == SourcePolicy()
    ), "nothing allowed unless the settings say so"
