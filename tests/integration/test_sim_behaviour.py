"""`kdial sim` scenarios that need a simulator of their own: the session-rate throttle, faults
that cut ESL connections, and reproducible outcomes from a seed."""

from __future__ import annotations

import socket
import time
import uuid
from typing import Any

import pytest

from kdial.dialstring import SipUri, originate_command
from kdial_local.processes import SimAddress
from kdial_local.processes import simulator as running_sim
from tests.support.esl_raw import EslClient, EslError


def originate(gateway: str, call_uuid: str, number: str = "13800138000", timeout: int = 20) -> str:
    variables = f"origination_uuid={call_uuid},origination_caller_id_number=02888880000"
    variables += f",originate_timeout={timeout},ignore_early_media=true"
    return f"originate {{{variables}}}sofia/gateway/{gateway}/{number} &park()"


def test_burst_over_sessions_per_second_is_throttled_without_channel_events() -> None:
    scenario = {
        "switch": {"sessionsPerSecond": 3},
        "carriers": {"busy": {"answerProbability": 0, "pddSeconds": 0.05, "failures": {"busy": 1}}},
    }
    with running_sim(scenario, speed=1) as sim, EslClient(*sim).connect() as esl:
        esl.subscribe("plain", "ALL")
        calls = [str(uuid.uuid4()) for _ in range(6)]
        replies = esl.pipeline([f"bgapi {originate('busy', c)}" for c in calls])
        assert all(r.headers["Reply-Text"].startswith("+OK Job-UUID: ") for r in replies)
        results = [esl.job_result(r.headers["Job-UUID"]) for r in replies]
        throttled = [c for c, r in zip(calls, results, strict=True) if "OUT_OF_ORDER" in r]
        admitted = [c for c in calls if c not in throttled]
        assert results.count("-ERR DESTINATION_OUT_OF_ORDER\n") == 3
        assert results.count("-ERR USER_BUSY\n") == 3
        for call in admitted:
            esl.channel_event("CHANNEL_DESTROY", call)
        leftovers = esl.drain(0.2)
        seen = {e.get("Unique-ID") for e in leftovers}
        assert not seen & set(throttled)
        assert "session(s) per Sec out of max 3, peak 3" in esl.api("status")


def test_drop_esl_and_refuse_esl_faults_then_reconnect() -> None:
    # At speed 20: connections are cut 2 s after start; the port is closed from 3 s to 4 s.
    scenario = {
        "carriers": {"long": {"answerProbability": 1, "pddSeconds": 0.1, "ringSeconds": 0.5}},
        "faults": [
            {"at": 40, "action": "drop-esl"},
            {"at": 60, "action": "refuse-esl", "until": 80},
        ],
    }
    with running_sim(scenario, speed=20) as sim:
        call = str(uuid.uuid4())
        esl = EslClient(*sim).connect()
        esl.subscribe("plain", "CHANNEL_ANSWER")
        esl.bgapi(originate("long", call))
        esl.channel_event("CHANNEL_ANSWER", call)
        with pytest.raises(EslError, match="closed"):
            esl.drain_until_closed(timeout=5)
        esl.close()

        with EslClient(*sim).connect() as again:
            assert again.api(f"uuid_exists {call}") == "true"  # the call outlived the link
            with pytest.raises(EslError, match="closed"):
                again.drain_until_closed(timeout=5)
        assert _refused(sim), "the port should refuse connections while refuse-esl lasts"
        _wait_until_accepting(sim, timeout=5)
        with EslClient(*sim).connect() as back:
            assert back.api("status").startswith("UP ")
            assert back.api(f"uuid_exists {call}") == "true"


def _refused(sim: SimAddress) -> bool:
    try:
        socket.create_connection(sim, timeout=1).close()
    except ConnectionRefusedError:
        return True
    return False


def _wait_until_accepting(sim: SimAddress, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _refused(sim):
            return
        time.sleep(0.05)
    pytest.fail("the simulator did not listen again after refuse-esl")


@pytest.mark.parametrize(("sps", "bridged"), [(1, False), (2, True)])
def test_a_bridge_leg_counts_against_sessions_per_second(sps: int, bridged: bool) -> None:
    """Every leg is a session (measured on 1.11): a callee answered and bridged to an agent
    within the same second takes two, and over the limit the bridge fails at once."""
    quick = {"answerProbability": 1, "pddSeconds": 0.05, "ringSeconds": 0.1, "talkSeconds": 60}
    scenario = {
        "switch": {"sessionsPerSecond": sps},
        "carriers": {"c": quick},
        "agents": {"count": 1, "ringSeconds": 0.1},
    }
    call = str(uuid.uuid4())
    command = originate("c", call).replace("&park()", "&bridge(user/agent1)")
    with running_sim(scenario, speed=1) as sim, EslClient(*sim).connect() as esl:
        esl.subscribe("plain", "ALL")
        esl.bgapi(command)
        esl.channel_event("CHANNEL_ANSWER", call)
        if bridged:
            esl.channel_event("CHANNEL_BRIDGE", call)
            return
        hangup = esl.channel_event("CHANNEL_HANGUP_COMPLETE", call)
        assert hangup["variable_originate_disposition"] == "DESTINATION_OUT_OF_ORDER"
        assert not [e for e in esl.events if e.name == "CHANNEL_BRIDGE"]


def test_a_switch_shutting_down_refuses_originates_then_closes_its_event_socket() -> None:
    """As FreeSWITCH 1.11 did after "Shutting down": calls up end SYSTEM_SHUTDOWN, the Event
    Socket stays up about 1.7 s answering every originate -ERR CHAN_NOT_IMPLEMENTED with no
    channel event, then closes."""
    long = {"answerProbability": 1, "pddSeconds": 0.05, "ringSeconds": 0.1, "talkSeconds": 60}
    scenario = {"carriers": {"long": long}}
    with running_sim(scenario, speed=1) as sim, EslClient(*sim).connect() as esl:
        esl.subscribe("plain", "ALL")
        up = str(uuid.uuid4())
        esl.bgapi(originate("long", up))
        esl.channel_event("CHANNEL_ANSWER", up)
        assert esl.api("fsctl shutdown") == "+OK\n"
        hangup = esl.channel_event("CHANNEL_HANGUP_COMPLETE", up)
        assert hangup["Hangup-Cause"] == "SYSTEM_SHUTDOWN"
        refused = [str(uuid.uuid4()) for _ in range(3)]
        jobs = [esl.bgapi(originate("long", c)) for c in refused]
        assert [esl.job_result(j) for j in jobs] == ["-ERR CHAN_NOT_IMPLEMENTED\n"] * 3
        with pytest.raises(EslError, match="closed"):
            esl.drain_until_closed(timeout=10)
        assert not {e.get("Unique-ID") for e in esl.events} & set(refused), "no channel at all"


def test_a_shutdown_fault_with_until_is_a_restarted_switch() -> None:
    # At speed 20: "Shutting down" 1 s after start, listening again 3 s after start.
    scenario = {
        "carriers": {"c": {"answerProbability": 1, "pddSeconds": 0.1}},
        "faults": [{"at": 20, "action": "shutdown", "until": 60}],
    }
    with running_sim(scenario, speed=20) as sim:
        with EslClient(*sim).connect() as esl, pytest.raises(EslError, match="closed"):
            esl.drain_until_closed(timeout=10)
        _wait_until_accepting(sim, timeout=10)
        with EslClient(*sim).connect() as back:
            back.subscribe("plain", "BACKGROUND_JOB")
            assert back.job_result(back.bgapi(originate("c", str(uuid.uuid4())))).startswith("+OK")


def test_fail_fault_makes_a_carrier_answer_503_for_its_window() -> None:
    scenario = {
        "carriers": {"c": {"answerProbability": 1, "pddSeconds": 0.1, "ringSeconds": 0.1}},
        "faults": [{"at": 0, "carrier": "c", "action": "fail", "cause": 503, "until": 20}],
    }
    with running_sim(scenario, speed=20) as sim, EslClient(*sim).connect() as esl:
        assert esl.api(originate("c", str(uuid.uuid4()))) == "-ERR NORMAL_TEMPORARY_FAILURE\n"
        time.sleep(1.1)  # past `until` (20 scenario seconds = 1 s at speed 20)
        assert esl.api(originate("c", str(uuid.uuid4()))).startswith("+OK ")


def test_a_sip_uri_dial_string_reaches_the_carrier_serving_that_host() -> None:
    """The line a worker sends for a TrunkPool sipUri trunk, byte for byte, reaches the carrier
    whose `hosts` names that host (any case; no port is SIP's 5060); other hosts reach nobody."""
    quick = {"answerProbability": 0, "pddSeconds": 0.1}
    scenario = {
        "carriers": {
            "direct": quick | {"hosts": ["sip.direct.example"], "failures": {"busy": 1}},
            "other": quick | {"hosts": ["sip.other.example:5060"], "failures": {"invalid": 1}},
        },
    }
    cases = [
        ("sip.direct.example:5080", "-ERR USER_BUSY\n", "486"),
        ("SIP.Direct.Example", "-ERR USER_BUSY\n", "486"),
        ("sip.other.example", "-ERR UNALLOCATED_NUMBER\n", "404"),
        ("sip.other.example:5060", "-ERR UNALLOCATED_NUMBER\n", "404"),
        ("sip.other.example:5080", "-ERR RECOVERY_ON_TIMER_EXPIRE\n", "408"),
        ("sip.nowhere.example", "-ERR RECOVERY_ON_TIMER_EXPIRE\n", "408"),
    ]
    with running_sim(scenario, speed=20) as sim, EslClient(*sim).connect() as esl:
        esl.subscribe("plain", "CHANNEL_HANGUP")
        for host, reply, status in cases:
            call = str(uuid.uuid4())
            line = originate_command(
                SipUri(host),
                "+8613812345678",
                {"origination_uuid": call, "originate_timeout": "20"},
                max_call_seconds=3600,
            )
            assert esl.api(line) == reply, host
            hangup = esl.channel_event("CHANNEL_HANGUP", call)
            assert hangup["Channel-Name"] == f"sofia/external/8613812345678@{host}"
            assert hangup["variable_sip_term_status"] == status, host


MIXED: dict[str, Any] = {
    "seed": 5,
    "callees": {"invalid": 0.1, "switchedOff": 0.1, "machine": 0.15},
    "carriers": {
        "mix": {
            "answerProbability": 0.4,
            "pddSeconds": {"dist": "uniform", "min": 0.2, "max": 2},
            "ringSeconds": {"dist": "lognormal", "median": 4, "sigma": 0.6, "max": 30},
            "talkSeconds": {"dist": "uniform", "min": 1, "max": 6},
            "failures": {"busy": 2, "noAnswer": 2, "rejected": 1, "lineFailure": 1},
        }
    },
}


def _outcomes(seed: int | None) -> dict[str, tuple[str, str, str, str]]:
    numbers = [f"1380013{n:04d}" for n in range(30)]
    with running_sim(MIXED, speed=50, seed=seed) as sim, EslClient(*sim).connect() as esl:
        esl.subscribe("plain", "BACKGROUND_JOB CHANNEL_HANGUP_COMPLETE")
        calls = {n: str(uuid.uuid4()) for n in numbers}
        jobs = {n: esl.bgapi(originate("mix", calls[n], n, timeout=15)) for n in numbers}
        outcomes = {}
        for number in numbers:
            ended = esl.channel_event("CHANNEL_HANGUP_COMPLETE", calls[number], timeout=10)
            body = esl.job_result(jobs[number], timeout=10).replace(calls[number], "<uuid>")
            answered = str(int(ended["variable_billsec"]) > 0)
            amd = ended.get("variable_amd_result") or "-"
            outcomes[number] = (body, ended["Hangup-Cause"], answered, amd)
    return outcomes


def test_same_seed_same_outcomes_other_seed_other_outcomes() -> None:
    first, second, other = _outcomes(None), _outcomes(None), _outcomes(6)
    assert first == second
    assert first != other
    causes = {cause for _, cause, _, _ in first.values()}
    assert {"NORMAL_CLEARING", "UNALLOCATED_NUMBER", "NO_USER_RESPONSE"} <= causes
    assert "MACHINE" in {amd for *_, amd in first.values()}
