"""`kdial sim` against what a real FreeSWITCH 1.11 did when measured again
(tests/data/freeswitch-1.11-measured.yaml): early media with and without
`ignore_early_media=true`, originate_timeout in whole seconds, the order of events, an unknown
gateway, and uuid_kill's reply for a channel that does not exist."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from kdial_local.processes import simulator as running_sim
from tests.support.esl_raw import EslClient, Event
from tests.support.freeswitch import measured

MEASURED = measured()
EARLY = MEASURED["early_media"]
SPEED = 10
FIXED = "fixed"


def _seconds(value: float) -> dict[str, Any]:
    return {"dist": FIXED, "value": value}


SCENARIO = {
    "seed": 7,
    "callees": {"amd": {"enabled": False}},
    "carriers": {
        # 183 with SDP at once, 200 after the measured 2 s.
        "early": {
            "answerProbability": 1,
            "earlyMedia": True,
            "pddSeconds": 0.02,
            "ringSeconds": _seconds(EARLY["answers_after_seconds"]),
            "talkSeconds": 3600,
        },
        # 183, then nothing until the carrier gives up after a minute.
        "early-silent": {
            "answerProbability": 0,
            "earlyMedia": True,
            "pddSeconds": 0.02,
            "failures": {"noAnswer": 1},
            "maxRingSeconds": 60,
        },
        "ring": {"answerProbability": 0, "pddSeconds": 0.1, "failures": {"noAnswer": 1}},
        "busy": {"answerProbability": 0, "pddSeconds": 0.1, "failures": {"busy": 1}},
    },
}


@pytest.fixture(scope="module")
def esl() -> Iterator[EslClient]:
    # A generous bound, as wait_for's: only a failure waits it out. With 5 s, the first call
    # to this fresh simulator once saw no event in time in a full run (it passes alone).
    with running_sim(SCENARIO, speed=SPEED) as sim, EslClient(*sim, timeout=30).connect() as client:
        client.subscribe("plain", "ALL")
        yield client


def originate(gateway: str, call: str, variables: str) -> str:
    return (
        f"originate {{origination_uuid={call},origination_caller_id_number=02888880000"
        f"{variables}}}sofia/gateway/{gateway}/13800138000 &park()"
    )


def events_until(esl: EslClient, call: str, job: str, last: str) -> list[Event]:
    """The call's events and its BACKGROUND_JOB in arrival order, up to the event `last`."""
    taken: list[Event] = []
    while not any(e.name == last for e in taken):
        taken.append(esl.wait_for(lambda e: e.get("Unique-ID") == call or e.get("Job-UUID") == job))
    return taken


def names(taken: list[Event]) -> list[str]:
    return [e.name for e in taken]


def test_without_ignore_early_media_the_originate_completes_at_183(esl: EslClient) -> None:
    """The job's +OK comes at 183 and the application runs from then on (CS_EXECUTE, caller-ID
    flipped, before the answer); originate_timeout=1 no longer applies: still answered at 2 s."""
    call = str(uuid.uuid4())
    job = esl.bgapi(originate("early", call, ",originate_timeout=1"))
    taken = events_until(esl, call, job, "CHANNEL_ANSWER")
    assert names(taken) == [
        "CHANNEL_CREATE",
        "CHANNEL_PROGRESS_MEDIA",
        "BACKGROUND_JOB",
        "CHANNEL_ANSWER",
    ]
    assert taken[2].body == f"+OK {call}\n"
    answer = taken[3]
    assert answer["Channel-State"] == "CS_EXECUTE"  # the application is already running
    assert answer["Caller-Caller-ID-Number"] == "13800138000"
    assert esl.api(f"uuid_kill {call}") == "+OK\n"
    ended = esl.channel_event("CHANNEL_HANGUP_COMPLETE", call)
    assert ended["Hangup-Cause"] == "NORMAL_CLEARING"
    answered_ms = int(ended["variable_answermsec"])
    assert answered_ms >= EARLY["answers_after_seconds"] * 1000


def test_with_ignore_early_media_the_originate_completes_at_answer(esl: EslClient) -> None:
    call = str(uuid.uuid4())
    job = esl.bgapi(originate("early", call, ",originate_timeout=20,ignore_early_media=true"))
    taken = events_until(esl, call, job, "BACKGROUND_JOB")
    answered = ["CHANNEL_CREATE", "CHANNEL_PROGRESS_MEDIA", "CHANNEL_ANSWER", "BACKGROUND_JOB"]
    assert names(taken) == answered
    assert names(taken[-2:]) == MEASURED["event_order"]["answered_ignoring_early_media"]
    answer = taken[2]
    assert answer["Channel-State"] == "CS_CONSUME_MEDIA"  # not yet: it starts after this
    assert answer["Caller-Caller-ID-Number"] == "02888880000"
    assert taken[3].body == f"+OK {call}\n"
    esl.api(f"uuid_kill {call}")
    esl.channel_event("CHANNEL_HANGUP_COMPLETE", call)


def test_a_183_that_never_answers_times_out_with_ignore_early_media(esl: EslClient) -> None:
    facts = EARLY["with_ignore_early_media"]["never_answered"]
    call = str(uuid.uuid4())
    job = esl.bgapi(originate("early-silent", call, ",originate_timeout=3,ignore_early_media=true"))
    taken = events_until(esl, call, job, "BACKGROUND_JOB")
    assert names(taken[-2:]) == ["CHANNEL_DESTROY", "BACKGROUND_JOB"]
    ended = next(e for e in taken if e.name == "CHANNEL_HANGUP_COMPLETE")
    assert ended["Hangup-Cause"] == facts["hangup_cause"]
    assert ended["variable_endpoint_disposition"] == facts["endpoint_disposition"]
    assert ended["variable_sip_hangup_disposition"] == facts["sip_hangup_disposition"]
    assert 2000 < int(ended["variable_mduration"]) <= 3000 + 500  # not the carrier's minute
    assert taken[-1].body == facts["background_job"] + "\n"


def test_a_183_that_never_answers_rings_on_without_ignore_early_media(esl: EslClient) -> None:
    """Past originate_timeout nothing cancels it: only the carrier (or we) can end it."""
    call = str(uuid.uuid4())
    job = esl.bgapi(originate("early-silent", call, ",originate_timeout=1"))
    assert esl.job_result(job) == f"+OK {call}\n"
    esl.drain(3 / SPEED)  # three scenario seconds past a one-second timeout
    assert esl.api(f"uuid_exists {call}") == "true"
    rows = json.loads(esl.api("show channels as json"))["rows"]
    assert [r["state"] for r in rows if r["uuid"] == call] == ["CS_EXECUTE"]  # parked, ringing
    assert esl.api(f"uuid_kill {call}") == "+OK\n"
    ended = esl.channel_event("CHANNEL_HANGUP_COMPLETE", call)
    assert ended["variable_sip_hangup_disposition"] == "send_cancel"


@pytest.mark.parametrize("row", MEASURED["originate_timeout"], ids=lambda r: f"{r['timeout']}s")
def test_originate_timeout_fires_on_a_whole_second(esl: EslClient, row: dict[str, Any]) -> None:
    """NO_ANSWER between T-1 and T seconds after the originate, on the switch's whole-second
    tick: a call created at x.y s times out at (x+T).0 s."""
    timeout = row["timeout"]
    call = str(uuid.uuid4())
    job = esl.bgapi(originate("ring", call, f",originate_timeout={timeout}"))
    ended = esl.channel_event("CHANNEL_HANGUP_COMPLETE", call, timeout=timeout / SPEED + 5)
    assert ended["Hangup-Cause"] == "NO_ANSWER"
    created, hung_up = int(ended["variable_start_uepoch"]), int(ended["variable_end_uepoch"])
    assert (timeout - 1) * 1_000_000 < hung_up - created
    # On the tick itself, give or take the timer's lag (40 ms real is 0.4 scenario s here).
    tick = (created // 1_000_000 + timeout) * 1_000_000
    assert 0 <= hung_up - tick < 400_000
    assert esl.job_result(job) == "-ERR NO_ANSWER\n"


def test_a_refusal_reports_hangup_complete_before_the_job(esl: EslClient) -> None:
    call = str(uuid.uuid4())
    job = esl.bgapi(originate("busy", call, ",originate_timeout=20,ignore_early_media=true"))
    taken = events_until(esl, call, job, "BACKGROUND_JOB")
    order = [n for n in names(taken) if n in MEASURED["event_order"]["refused"]]
    assert order == MEASURED["event_order"]["refused"]
    assert taken[-1].body == "-ERR USER_BUSY\n"


def test_an_unknown_gateway_makes_no_channel(esl: EslClient) -> None:
    facts = MEASURED["unknown_gateway"]
    call = str(uuid.uuid4())
    job = esl.bgapi(originate("no-such-gateway", call, ",ignore_early_media=true"))
    assert esl.job_result(job) == facts["background_job"] + "\n"
    seen = [e for e in esl.drain(0.2) if e.get("Unique-ID") == call]
    assert len(seen) == facts["channel_events"]
    assert esl.api(f"uuid_exists {call}") == "false"


def test_uuid_kill_of_an_unknown_uuid(esl: EslClient) -> None:
    assert esl.api(f"uuid_kill {uuid.uuid4()}") == MEASURED["uuid_kill_unknown"]


@pytest.mark.parametrize("ignore", [False, True], ids=["early", "ignore_early_media"])
def test_a_bridge_starts_with_the_originate(esl: EslClient, ignore: bool) -> None:
    """`&bridge(...)` to an IVR (which picks up at once) connects when the originate completes:
    at 183 without ignore_early_media, while the callee's phone still rings; else at answer."""
    call = str(uuid.uuid4())
    variables = ",originate_timeout=20" + (",ignore_early_media=true" if ignore else "")
    line = originate("early", call, variables).replace(
        "&park()", "&bridge(sofia/external/ivr@10.0.0.9)"
    )
    job = esl.bgapi(line)
    taken = [e.name for e in events_until(esl, call, job, "CHANNEL_BRIDGE")]
    if ignore:
        assert taken[-3:] == ["CHANNEL_ANSWER", "BACKGROUND_JOB", "CHANNEL_BRIDGE"]
    else:
        early = ["CHANNEL_CREATE", "CHANNEL_PROGRESS_MEDIA", "BACKGROUND_JOB", "CHANNEL_BRIDGE"]
        assert taken == early
        esl.channel_event("CHANNEL_ANSWER", call)
    assert esl.api(f"uuid_kill {call}") == "+OK\n"
    esl.channel_event("CHANNEL_HANGUP_COMPLETE", call)
