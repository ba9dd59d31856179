"""`kdial sim` bridges a parked callee to an agent's phone with `uuid_bridge`, as FreeSWITCH
does (switch_ivr_bridge.c), over real ESL: the events, the answer, which leg's hangup ends the
other and with which cause, and what it refuses to emulate."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from kdial_local.processes import simulator as running_sim
from tests.support.esl_raw import EslClient

SCENARIO: dict[str, Any] = {
    "carriers": {
        "people": {
            "answerProbability": 1,
            "pddSeconds": 0.1,
            "ringSeconds": 0.2,
            "talkSeconds": {"dist": "fixed", "value": 30},
        }
    },
    "callees": {"invalid": 0, "switchedOff": 0, "machine": 0},
    "agents": {"count": 1, "ringSeconds": 0.2, "phones": {"deaf": {"answerProbability": 0}}},
}


def callee(call: str, extra: str = ",hangup_after_bridge=true") -> str:
    variables = f"origination_uuid={call},ignore_early_media=true{extra}"
    return f"originate {{{variables}}}sofia/gateway/people/8613800138000 &park()"


def agent(leg: str, endpoint: str = "user/agent1", timeout: int = 5) -> str:
    return f"originate {{origination_uuid={leg},originate_timeout={timeout}}}{endpoint} &park()"


@contextmanager
def switch(speed: float = 10) -> Iterator[EslClient]:
    with running_sim(SCENARIO, speed=speed) as sim, EslClient(*sim).connect() as esl:
        esl.subscribe("plain", "CHANNEL_ANSWER CHANNEL_BRIDGE CHANNEL_UNBRIDGE CHANNEL_HANGUP")
        yield esl


def answered_pair(
    esl: EslClient, callee_extra: str = ",hangup_after_bridge=true"
) -> tuple[str, str]:
    call, leg = str(uuid.uuid4()), str(uuid.uuid4())
    assert esl.api(callee(call, callee_extra), timeout=10) == f"+OK {call}\n"
    assert esl.api(agent(leg), timeout=10) == f"+OK {leg}\n"
    return call, leg


def test_uuid_bridge_joins_the_legs_and_the_agent_hanging_up_ends_the_callee_with_its_cause() -> (
    None
):
    with switch() as esl:
        call, leg = answered_pair(esl)
        assert esl.api(f"uuid_bridge {call} {leg}") == f"+OK {leg}\n"
        bridge = esl.wait_for(lambda e: e.name == "CHANNEL_BRIDGE")
        assert bridge["Unique-ID"] == call, "fired from the originator"
        assert (bridge["Bridge-A-Unique-ID"], bridge["Bridge-B-Unique-ID"]) == (call, leg)

        assert esl.api(f"uuid_kill {leg} USER_BUSY") == "+OK\n"
        unbridge = esl.wait_for(lambda e: e.name == "CHANNEL_UNBRIDGE")
        assert (unbridge["Unique-ID"], unbridge["Bridge-B-Unique-ID"]) == (call, leg)
        ended = esl.channel_event("CHANNEL_HANGUP", call)
        # hangup_after_bridge=true: the originator hangs up with the other leg's cause.
        assert ended["Hangup-Cause"] == "USER_BUSY"
        assert esl.api(f"uuid_exists {call}") == "false"


def test_the_callee_hanging_up_ends_the_agents_leg_normal_clearing() -> None:
    with switch(speed=20) as esl:
        call, leg = answered_pair(esl)
        assert esl.api(f"uuid_bridge {call} {leg}") == f"+OK {leg}\n"
        # The callee's 30 s talk (1.5 s here) runs out: they hang up, the agent leg follows.
        gone = esl.channel_event("CHANNEL_HANGUP", call, timeout=10)
        assert gone["Hangup-Cause"] == "NORMAL_CLEARING"
        esl.wait_for(lambda e: e.name == "CHANNEL_UNBRIDGE" and e.get("Unique-ID") == call)
        assert esl.channel_event("CHANNEL_HANGUP", leg)["Hangup-Cause"] == "NORMAL_CLEARING"


def test_an_agent_phone_nobody_answers_times_out_and_an_unknown_user_is_not_registered() -> None:
    with switch() as esl:
        leg = str(uuid.uuid4())
        answer = esl.api(agent(leg, "user/deaf", timeout=1), timeout=10)
        assert answer == "-ERR NO_ANSWER\n"
        assert esl.api(agent(str(uuid.uuid4()), "user/nobody")) == "-ERR USER_NOT_REGISTERED\n"
        sip = str(uuid.uuid4())
        assert esl.api(agent(sip, "sofia/external/agent1@10.0.0.9"), timeout=10) == f"+OK {sip}\n"


@pytest.mark.parametrize(
    ("case", "reply"),
    [
        ("usage", "-USAGE: <uuid> <other_uuid>\n"),
        ("unknown", "-ERR Invalid uuid\n"),
        ("no hangup_after_bridge", "lacks hangup_after_bridge=true"),
        ("park_after_bridge", "sets park_after_bridge"),
        ("twice", "bridged or transferred already"),
    ],
)
def test_a_bridge_it_cannot_emulate_is_refused(case: str, reply: str) -> None:
    extra = {
        "no hangup_after_bridge": "",
        "park_after_bridge": ",hangup_after_bridge=true,park_after_bridge=true",
    }.get(case, ",hangup_after_bridge=true")
    with switch() as esl:
        call, leg = answered_pair(esl, extra)
        command = {
            "usage": f"uuid_bridge {call}",
            "unknown": f"uuid_bridge {call} {uuid.uuid4()}",
        }.get(case, f"uuid_bridge {call} {leg}")
        if case == "twice":
            assert esl.api(command).startswith("+OK")
        answer = esl.api(command)
        assert reply in answer, answer
        if reply.startswith("-ERR kdial") or "emulate" in answer:
            assert answer.startswith("-ERR kdial sim cannot emulate uuid_bridge: ")
        if case != "twice":
            assert esl.api(f"uuid_getvar {call} bridge_uuid") == "_undef_", "nothing bridged"
