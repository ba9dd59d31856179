"""`kdial sim` over real TCP, driven by a raw Event Socket client written from the protocol."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from kdial_local.processes import SimAddress
from kdial_local.processes import simulator as running_sim
from tests.support.esl_raw import EslClient, EslError, Event

SPEED = 20
SCENARIO = {
    "seed": 11,
    "switch": {"sounds": {"kdial/abandoned.wav": 3}},
    "carriers": {
        "ans": {"answerProbability": 1, "pddSeconds": 0.2, "ringSeconds": 1, "talkSeconds": 4},
        "long": {"answerProbability": 1, "pddSeconds": 0.2, "ringSeconds": 1, "talkSeconds": 3600},
        "busy": {"answerProbability": 0, "pddSeconds": 0.2, "failures": {"busy": 1}},
        "ring": {"answerProbability": 0, "pddSeconds": 0.2, "failures": {"noAnswer": 1}},
        "tiny": {
            "answerProbability": 1,
            "pddSeconds": 0.2,
            "ringSeconds": 1,
            "maxConcurrentCalls": 1,
        },
        "early": {
            "answerProbability": 1,
            "earlyMedia": True,
            "pddSeconds": 0.2,
            "ringSeconds": 4,
            "talkSeconds": 2,
        },
    },
}


def originate(gateway: str, call_uuid: str, extra: str = "", number: str = "13800138000") -> str:
    variables = f"origination_uuid={call_uuid},origination_caller_id_number=02888880000"
    variables += ",originate_timeout=20,ignore_early_media=true" + extra
    return f"originate {{{variables}}}sofia/gateway/{gateway}/{number} &park()"


def new_uuid() -> str:
    return str(uuid.uuid4())


@pytest.fixture(scope="module")
def sim() -> Iterator[SimAddress]:
    with running_sim(SCENARIO, speed=SPEED) as address:
        yield address


@pytest.fixture
def esl(sim: SimAddress) -> Iterator[EslClient]:
    with EslClient(*sim).connect() as client:
        client.subscribe("plain", "ALL")
        yield client


def events_of(client: EslClient, call_uuid: str, job: str, until: str) -> list[Event]:
    """This call's events and its BACKGROUND_JOB, in arrival order, up to event `until`."""
    taken: list[Event] = []
    while not any(e.name == until for e in taken):
        taken.append(
            client.wait_for(lambda e: e.get("Unique-ID") == call_uuid or e.get("Job-UUID") == job)
        )
    return taken


def test_auth_status_and_unknown_commands(sim: SimAddress) -> None:
    with EslClient(*sim).connect() as client:
        status = client.api("status")
        assert status.startswith("UP 0 years, 0 days")
        assert "FreeSWITCH (Version " in status
        assert "session(s) per Sec out of max 30" in status
        assert client.api("no_such_thing now") == "-ERR no_such_thing Command not found!\n"
        reply = client.command("frobnicate")
        assert reply.headers["Reply-Text"] == "-ERR command not found"


def test_wrong_password_gets_err_invalid_then_disconnect(sim: SimAddress) -> None:
    with EslClient(*sim).connect(password=None) as client:
        reply = client.command("auth not-the-password")
        assert reply.content_type == "command/reply"
        assert reply.headers["Reply-Text"] == "-ERR invalid"
        notice = client.read_frame()
        assert notice.content_type == "text/disconnect-notice"
        assert notice.body.startswith(b"Disconnected, goodbye.")
        with pytest.raises(EslError, match="closed"):
            client.read_frame(timeout=2)


def test_answered_call_events_in_order_with_variables(esl: EslClient) -> None:
    call = new_uuid()
    job = esl.bgapi(originate("ans", call, ",kdial_attempt=a-1"))
    taken = events_of(esl, call, job, "CHANNEL_DESTROY")
    assert [e.name for e in taken] == [
        "CHANNEL_CREATE",
        "CHANNEL_PROGRESS",
        "CHANNEL_ANSWER",
        "BACKGROUND_JOB",
        "CHANNEL_HANGUP",
        "CHANNEL_HANGUP_COMPLETE",
        "CHANNEL_DESTROY",
    ]
    background = taken[3]
    assert background.body == f"+OK {call}\n"
    assert background["Job-Command"] == "originate"
    assert background["Job-Command-Arg"].startswith("{origination_uuid=")
    channel_events = [e for e in taken if e.name != "BACKGROUND_JOB"]
    assert all(e["variable_kdial_attempt"] == "a-1" for e in channel_events)
    assert all(e["Unique-ID"] == e["Channel-Call-UUID"] == call for e in channel_events)
    stamps = [int(e["Event-Date-Timestamp"]) for e in taken]
    assert stamps == sorted(stamps)
    complete = taken[5]
    assert complete["variable_sip_hangup_disposition"] == "recv_bye"
    assert 3900 <= int(complete["variable_billmsec"]) < 6000  # talkSeconds 4, plus timer lag
    assert complete["variable_amd_result"] == "HUMAN"


def test_refused_call_reports_after_hangup_complete(esl: EslClient) -> None:
    call = new_uuid()
    job = esl.bgapi(originate("busy", call))
    taken = events_of(esl, call, job, "BACKGROUND_JOB")
    names = [e.name for e in taken]
    assert names == [
        "CHANNEL_CREATE",
        "CHANNEL_HANGUP",
        "CHANNEL_HANGUP_COMPLETE",
        "CHANNEL_DESTROY",
        "BACKGROUND_JOB",
    ]
    assert taken[-1].body == "-ERR USER_BUSY\n"
    assert taken[2]["variable_sip_term_status"] == "486"


def test_json_events_carry_non_ascii_with_byte_lengths(sim: SimAddress) -> None:
    call = new_uuid()
    with EslClient(*sim).connect() as as_json, EslClient(*sim).connect() as plain:
        as_json.subscribe("json", "CHANNEL_ANSWER")
        plain.subscribe("plain", "CHANNEL_ANSWER")
        plain.bgapi(originate("long", call, ",origination_caller_id_name='Zoë Ñandú'"))
        json_event = as_json.channel_event("CHANNEL_ANSWER", call)
        plain_event = plain.channel_event("CHANNEL_ANSWER", call)
        assert json_event.frame.content_type == "text/event-json"
        assert json_event["Caller-Caller-ID-Name"] == "Zoë Ñandú"
        assert plain_event["Caller-Caller-ID-Name"] == "Zoë Ñandú"
        assert b"Caller-Caller-ID-Name: Zo%C3%AB%20%C3%91and%C3%BA\n" in plain_event.frame.body
        assert json_event.headers == plain_event.headers
        assert plain.api(f"uuid_kill {call}") == "+OK\n"


def test_api_originate_blocks_and_holds_events_until_its_reply(esl: EslClient) -> None:
    call = new_uuid()
    esl.drain(0.05)
    reply = esl.api(originate("ans", call))
    assert reply == f"+OK {call}\n"
    assert not [e for e in esl.events if e.get("Unique-ID") == call]
    assert esl.channel_event("CHANNEL_CREATE", call)
    assert esl.channel_event("CHANNEL_ANSWER", call)


def test_uuid_kill_answered_and_ringing_then_hupall(esl: EslClient) -> None:
    calls = [new_uuid() for _ in range(3)]
    jobs = [esl.bgapi(originate("long", c)) for c in calls]
    for c in calls:
        esl.channel_event("CHANNEL_ANSWER", c)
    assert esl.api(f"uuid_exists {calls[0]}") == "true"
    assert esl.api(f"uuid_kill {calls[0]}") == "+OK\n"
    killed = esl.channel_event("CHANNEL_HANGUP_COMPLETE", calls[0])
    assert killed["Hangup-Cause"] == "NORMAL_CLEARING"
    assert killed["variable_sip_hangup_disposition"] == "send_bye"
    assert "variable_sip_term_status" not in killed.headers
    assert esl.api(f"uuid_exists {calls[0]}") == "false"
    assert esl.api(f"uuid_kill {calls[0]}") == "-ERR No such channel!\n"
    assert esl.api("hupall") == "+OK hangup all channels with cause MANAGER_REQUEST\n"
    for c in calls[1:]:
        ended = esl.channel_event("CHANNEL_HANGUP_COMPLETE", c)
        assert ended["Hangup-Cause"] == "MANAGER_REQUEST"
        assert ended["variable_hangup_cause_q850"] == "503"
    assert [esl.job_result(j) for j in jobs] == [f"+OK {c}\n" for c in calls]

    ringing = new_uuid()
    job = esl.bgapi(originate("ring", ringing))
    esl.channel_event("CHANNEL_PROGRESS", ringing)
    assert esl.api(f"uuid_kill {ringing} USER_BUSY") == "+OK\n"
    cancelled = esl.channel_event("CHANNEL_HANGUP_COMPLETE", ringing)
    assert cancelled["Hangup-Cause"] == "USER_BUSY"
    assert cancelled["variable_sip_hangup_disposition"] == "send_cancel"
    assert cancelled["variable_sip_invite_failure_status"] == "487"
    assert esl.job_result(job) == "-ERR USER_BUSY\n"


def test_no_answer_until_originate_timeout(esl: EslClient) -> None:
    call = new_uuid()
    job = esl.bgapi(originate("ring", call).replace("originate_timeout=20", "originate_timeout=10"))
    ended = esl.channel_event("CHANNEL_HANGUP_COMPLETE", call, timeout=5)
    assert ended["Hangup-Cause"] == "NO_ANSWER"
    # Whole seconds: between 9 and 10 s after the originate, as a real switch (plus timer lag).
    assert 9000 < int(ended["variable_mduration"]) < 11000
    assert esl.job_result(job) == "-ERR NO_ANSWER\n"


def test_sched_hangup_and_execute_on_answer_safety_net(esl: EslClient) -> None:
    by_var, by_api = new_uuid(), new_uuid()
    esl.bgapi(originate("long", by_var, ",execute_on_answer='sched_hangup +3'"))
    esl.bgapi(originate("long", by_api))
    esl.channel_event("CHANNEL_ANSWER", by_api)
    assert esl.api(f"sched_hangup +2 {by_api}") == "+OK\n"
    assert esl.api(f"sched_hangup +2 {new_uuid()}") == "-ERR No such channel!\n"
    for call, seconds in ((by_var, 3), (by_api, 2)):
        ended = esl.channel_event("CHANNEL_HANGUP_COMPLETE", call)
        assert ended["Hangup-Cause"] == "ALLOTTED_TIMEOUT"
        assert ended["variable_sip_hangup_disposition"] == "send_bye"
        # Timers fire late, never early; at speed 20 a 50 ms hiccup is a scenario second.
        assert seconds * 1000 - 100 <= int(ended["variable_billmsec"]) < seconds * 1000 + 2000


def test_early_media_returns_originate_before_answer(esl: EslClient) -> None:
    call = new_uuid()
    job = esl.bgapi(originate("early", call).replace(",ignore_early_media=true", ""))
    taken = events_of(esl, call, job, "CHANNEL_ANSWER")
    names = [e.name for e in taken]
    assert names == ["CHANNEL_CREATE", "CHANNEL_PROGRESS_MEDIA", "BACKGROUND_JOB", "CHANNEL_ANSWER"]
    assert taken[1]["Answer-State"] == "early"
    assert taken[1]["Channel-Read-Codec-Name"] == "PCMU"


def test_failures_before_any_channel(esl: EslClient) -> None:
    alive = new_uuid()
    esl.bgapi(originate("long", alive))
    esl.channel_event("CHANNEL_CREATE", alive)
    cases = {
        originate("long", alive): "-ERR DESTINATION_OUT_OF_ORDER\n",
        originate("nowhere", new_uuid()): "-ERR INVALID_GATEWAY\n",
        "originate {origination_uuid=x}user/nobody &park()": "-ERR USER_NOT_REGISTERED\n",
        "originate foo/bar &park()": "-ERR CHAN_NOT_IMPLEMENTED\n",
        "originate error/user_busy &park()": "-ERR USER_BUSY\n",
    }
    for line, expected in cases.items():
        assert esl.api(line) == expected, line
    assert esl.api("originate onlyonearg").startswith("-USAGE: <call url> <exten>")
    assert esl.api(f"uuid_kill {alive}") == "+OK\n"
    esl.channel_event("CHANNEL_DESTROY", alive)
    creates = [e for e in esl.drain(0.1) if e.name == "CHANNEL_CREATE"]
    assert creates == []


def test_api_line_quoting_reaches_channel_variables(esl: EslClient) -> None:
    call = new_uuid()
    extra = r",a=x\,y,b='p,q',c=\'r,s\'"
    line = originate("busy", call, extra).replace("sofia/", r"[d=1\,2,e=3]sofia/")
    esl.bgapi(line)
    ended = esl.channel_event("CHANNEL_HANGUP_COMPLETE", call)
    # The API's blank split eats plain quotes (b), so only escaped commas and \' survive.
    assert ended["variable_a"] == "x,y"
    assert ended["variable_b"] == "p"
    assert ended["variable_c"] == "r,s"
    assert (ended["variable_d"], ended["variable_e"]) == ("1,2", "3")


def test_show_channels_and_setvar(esl: EslClient) -> None:
    call = new_uuid()
    esl.bgapi(originate("long", call))
    esl.channel_event("CHANNEL_ANSWER", call)
    assert esl.api("show channels count").endswith(" total.\n")
    assert call in esl.api("show channels as json")
    assert esl.api(f"uuid_setvar {call} kdial_outcome human") == "+OK\n"
    assert esl.api(f"uuid_getvar {call} kdial_outcome") == "human"
    esl.api(f"uuid_kill {call}")
    ended = esl.channel_event("CHANNEL_HANGUP_COMPLETE", call)
    assert ended["variable_kdial_outcome"] == "human"


def test_carrier_over_its_concurrent_calls_answers_503(esl: EslClient) -> None:
    first, second = new_uuid(), new_uuid()
    assert esl.api(originate("tiny", first)) == f"+OK {first}\n"
    assert esl.api(originate("tiny", second)) == "-ERR NORMAL_TEMPORARY_FAILURE\n"
    refused = esl.channel_event("CHANNEL_HANGUP_COMPLETE", second)
    assert refused["variable_sip_term_status"] == "503"
    assert esl.api(f"uuid_kill {first}") == "+OK\n"
    esl.channel_event("CHANNEL_DESTROY", first)
    third = new_uuid()
    assert esl.api(originate("tiny", third)) == f"+OK {third}\n"
    esl.api(f"uuid_kill {third}")


def test_uuid_transfer_inline_plays_the_message_then_hangs_up(esl: EslClient) -> None:
    played, missing, other = new_uuid(), new_uuid(), new_uuid()
    for call in (played, missing, other):
        esl.bgapi(originate("long", call))
        esl.channel_event("CHANNEL_ANSWER", call)

    inline = "playback:kdial/abandoned.wav,hangup:NORMAL_CLEARING inline"
    assert esl.api(f"uuid_transfer {played} {inline}") == "+OK\n"
    started = esl.channel_event("CHANNEL_EXECUTE", played)
    assert (started["Application"], started["Application-Data"]) == (
        "playback",
        "kdial/abandoned.wav",
    )
    done = esl.channel_event("CHANNEL_EXECUTE_COMPLETE", played)
    assert done["Application-Response"] == "FILE PLAYED"
    assert done["Application-UUID"] == started["Application-UUID"]
    ended = esl.channel_event("CHANNEL_HANGUP_COMPLETE", played)
    assert ended["Hangup-Cause"] == "NORMAL_CLEARING"
    assert ended["variable_sip_hangup_disposition"] == "send_bye"
    assert int(ended["variable_billsec"]) >= 3, "the whole message played"

    # A file the switch does not have fails at once; the dialplan runs out and hangs up.
    assert esl.api(f"uuid_transfer {missing} playback:nope.wav inline") == "+OK\n"
    done = esl.channel_event("CHANNEL_EXECUTE_COMPLETE", missing)
    assert done["Application-Response"] == "FILE NOT FOUND"
    assert (
        esl.channel_event("CHANNEL_HANGUP_COMPLETE", missing)["Hangup-Cause"] == "NORMAL_CLEARING"
    )

    assert esl.api(f"uuid_transfer {new_uuid()} {inline}") == "-ERR No such channel!\n"
    assert esl.api("uuid_transfer").startswith("-USAGE: <uuid> [-bleg|-both] <dest-exten>")
    # What the simulator cannot know the outcome of, it refuses rather than guess.
    refused = esl.api(f"uuid_transfer {other} 9000 XML default")
    assert refused.startswith("-ERR kdial sim cannot emulate uuid_transfer"), refused
    assert esl.api(f"uuid_kill {other}") == "+OK\n"
