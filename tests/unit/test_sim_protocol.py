"""Event Socket framing as mod_event_socket writes it."""

from __future__ import annotations

import asyncio
import json

import pytest

from kdial_sim import protocol
from kdial_sim.commands import Api, Auth, BgApi, Exit, Reply, Subscribe, parse_command
from kdial_sim.protocol import ClientMessage, EslEvent


@pytest.mark.parametrize(
    ("value", "encoded"),
    [
        ("plain-text_1.2", "plain-text_1.2"),
        ("a b:c", "a%20b%3Ac"),
        ("line\nnext\r", "line%0Anext%0D"),
        ('#%&+;<=>?@[\\]^`{|}"', "%23%25%26%2B%3B%3C%3D%3E%3F%40%5B%5C%5D%5E%60%7B%7C%7D%22"),
        ("Zoë", "Zo%C3%AB"),
        ("\x7f\x01", "%7F%01"),
        # FreeSWITCH 1.10 does not encode twice: an existing %XX (upper-case hex) stays.
        ("100%41 and 5%", "100%41%20and%205%25"),
    ],
)
def test_url_encode_like_switch_url_encode(value: str, encoded: str) -> None:
    assert protocol.url_encode(value) == encoded


def test_plain_event_frame_counts_bytes_not_characters() -> None:
    event = EslEvent([("Event-Name", "BACKGROUND_JOB"), ("Job-Command", "é")], body="+OK ñ\n")
    data = event.encode("plain")
    head, _, payload = data.partition(b"\n\n")
    assert head == f"Content-Length: {len(payload)}\nContent-Type: text/event-plain".encode()
    assert payload == (
        b"Event-Name: BACKGROUND_JOB\nJob-Command: %C3%A9\nContent-Length: 7\n\n+OK \xc3\xb1\n"
    )


def test_plain_event_without_body_ends_with_a_blank_line_and_undef_for_empty() -> None:
    payload = EslEvent([("Event-Name", "HEARTBEAT"), ("Empty", "")]).encode("plain")
    assert payload.endswith(b"\n\nEvent-Name: HEARTBEAT\nEmpty: _undef_\n\n")


def test_json_event_is_unescaped_utf8_with_body_fields() -> None:
    event = EslEvent([("Event-Name", "BACKGROUND_JOB"), ("Name", "Zoë")], body="-ERR NO_ANSWER\n")
    data = event.encode("json")
    head, _, payload = data.partition(b"\n\n")
    assert head == f"Content-Length: {len(payload)}\nContent-Type: text/event-json".encode()
    assert "Zoë".encode() in payload
    assert json.loads(payload) == {
        "Event-Name": "BACKGROUND_JOB",
        "Name": "Zoë",
        "Content-Length": "15",
        "_body": "-ERR NO_ANSWER\n",
    }


def test_xml_event_has_an_element_per_header() -> None:
    data = EslEvent([("Event-Name", "X"), ("A", "b c")], body="<ok>").encode("xml")
    head, _, payload = data.partition(b"\n\n")
    assert head.endswith(b"Content-Type: text/event-xml")
    assert b"<Event-Name>X</Event-Name>" in payload
    assert b"<A>b%20c</A>" in payload
    assert b"<body>&lt;ok&gt;</body>" in payload


def test_replies_and_notices() -> None:
    assert protocol.auth_request() == b"Content-Type: auth/request\n\n"
    assert protocol.command_reply("+OK Job-UUID: j", [("Job-UUID", "j")]) == (
        b"Content-Type: command/reply\nReply-Text: +OK Job-UUID: j\nJob-UUID: j\n\n"
    )
    assert (
        protocol.api_response("ü\n")
        == b"Content-Type: api/response\nContent-Length: 3\n\n\xc3\xbc\n"
    )
    assert protocol.api_response("").endswith(b"\n\n-ERR no reply\n")
    notice = protocol.disconnect_notice()
    assert notice.startswith(b"Content-Type: text/disconnect-notice\nContent-Length: 67\n\n")


def _read(data: bytes) -> list[ClientMessage]:
    async def run() -> list[ClientMessage]:
        reader = asyncio.StreamReader()
        reader.feed_data(data)
        reader.feed_eof()
        messages = []
        while (message := await protocol.read_message(reader)) is not None:
            messages.append(message)
        return messages

    return asyncio.run(run())


def test_read_message_lf_crlf_headers_and_body() -> None:
    messages = _read(
        b"\n\nauth ClueCon\n\n"
        b"api status\r\n\r\n"
        b"bgapi originate x\nJob-UUID: my-job\n\n"
        b"sendevent CUSTOM\nContent-Length: 3\n\nab\xc3"
    )
    assert [m.command for m in messages] == [
        "auth ClueCon",
        "api status",
        "bgapi originate x",
        "sendevent CUSTOM",
    ]
    assert messages[2].header("job-uuid") == "my-job"
    assert messages[3].body == "ab\ufffd"


@pytest.mark.parametrize(
    ("line", "authed", "expected"),
    [
        ("auth ClueCon", False, Auth("ClueCon")),
        ("api status", False, Reply("-ERR command not found")),
        ("exit", False, Exit()),
        ("api status", True, Api("status", None)),
        ("api originate a b", True, Api("originate", "a b")),
        ("bgapi status", True, BgApi("status", None, None)),
        ("event plain ALL", True, Subscribe(("plain", "ALL"))),
        ("nonsense", True, Reply("-ERR command not found")),
    ],
)
def test_commands_are_recognised_like_parse_command(
    line: str, authed: bool, expected: object
) -> None:
    assert parse_command(ClientMessage(line), authed) == expected
