"""greenswitch 0.0.19, the worker's ESL library, as an independent client of `kdial sim`.

It runs in the test process without monkey-patching: its greenlets run whenever this greenlet
waits on a gevent primitive, so every wait here is gevent's (never time.sleep) and bounded by a
gevent.Timeout, since greenswitch's own calls have no timeout.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import gevent
import gevent.event
import greenswitch
import pytest

from kdial_local.processes import SimAddress
from kdial_local.processes import simulator as running_sim

SCENARIO = {
    "carriers": {
        "gw": {"answerProbability": 1, "pddSeconds": 0.2, "ringSeconds": 1, "talkSeconds": 3600},
        "busy": {"answerProbability": 0, "pddSeconds": 0.2, "failures": {"busy": 1}},
    }
}
#: FreeSWITCH's stock ESL password, as the simulator uses by default.
CLUECON = "ClueCon"
WATCHED = ("BACKGROUND_JOB", "CHANNEL_CREATE", "CHANNEL_ANSWER", "CHANNEL_HANGUP_COMPLETE")


@pytest.fixture(scope="module")
def sim() -> Iterator[SimAddress]:
    with running_sim(SCENARIO, speed=20) as address:
        yield address


@pytest.fixture
def fs(sim: SimAddress) -> Iterator[greenswitch.InboundESL]:
    client = greenswitch.InboundESL(host=sim.host, port=sim.port, password=CLUECON)
    with gevent.Timeout(5):
        client.connect()
    yield client
    with gevent.Timeout(5):
        client.stop()


class Recorder:
    """Collects the watched events of one call (and of its background job)."""

    def __init__(self, fs: greenswitch.InboundESL) -> None:
        self.call = str(uuid.uuid4())
        self.job: str | None = None
        self.seen: list[tuple[str, dict[str, str]]] = []
        self.done = gevent.event.Event()
        self.ended = gevent.event.Event()
        for name in WATCHED:
            fs.register_handle(name, self.on_event)

    def on_event(self, event: greenswitch.esl.ESLEvent) -> None:
        headers = dict(event.headers)
        mine = headers.get("Unique-ID") == self.call or headers.get("Job-UUID") == self.job
        if mine:
            self.seen.append((headers["Event-Name"], headers))
        if mine and headers["Event-Name"] == "BACKGROUND_JOB":
            self.done.set()
        if mine and headers["Event-Name"] == "CHANNEL_HANGUP_COMPLETE":
            self.ended.set()

    def names(self) -> list[str]:
        return [name for name, _ in self.seen]

    def get(self, name: str) -> dict[str, str]:
        return next(headers for seen, headers in self.seen if seen == name)


def originate(gateway: str, call: str) -> str:
    variables = f"origination_uuid={call},origination_caller_id_number=02888880000"
    variables += ",ignore_early_media=true"
    return f"bgapi originate {{{variables}}}sofia/gateway/{gateway}/1555 &park()"


def job_body(headers: dict[str, str]) -> str:
    # greenswitch 0.0.19 leaves a plain event's body inside the Content-Length header value.
    return headers["Content-Length"].partition("\n\n")[2]


def test_greenswitch_auth_api_and_unknown_command(fs: greenswitch.InboundESL) -> None:
    with gevent.Timeout(5):
        status = fs.send("api status").data
        unknown = fs.send("api no_such_thing").data
    assert status.startswith("UP ")
    assert "session(s) per Sec out of max 30" in status
    assert unknown == "-ERR no_such_thing Command not found!\n"


def test_greenswitch_bgapi_originate_and_channel_events(fs: greenswitch.InboundESL) -> None:
    recorder = Recorder(fs)
    with gevent.Timeout(5):
        reply = fs.send("event plain " + " ".join(WATCHED))
        assert reply.data == "+OK event listener enabled plain"
        response = fs.send(originate("gw", recorder.call))
        recorder.job = response.headers["Job-UUID"]
        assert response.data == f"+OK Job-UUID: {recorder.job}"
        assert recorder.done.wait(timeout=5)
        assert recorder.names() == ["CHANNEL_CREATE", "CHANNEL_ANSWER", "BACKGROUND_JOB"]
        assert fs.send(f"api uuid_kill {recorder.call}").data == "+OK\n"
        assert recorder.ended.wait(timeout=5)
    assert job_body(recorder.get("BACKGROUND_JOB")) == f"+OK {recorder.call}"
    answer = recorder.get("CHANNEL_ANSWER")
    assert answer["Channel-Call-UUID"] == recorder.call
    assert answer["variable_origination_caller_id_number"] == "02888880000"
    ended = recorder.get("CHANNEL_HANGUP_COMPLETE")
    assert ended["variable_sip_hangup_disposition"] == "send_bye"


def test_greenswitch_sees_a_refusal(fs: greenswitch.InboundESL) -> None:
    recorder = Recorder(fs)
    with gevent.Timeout(5):
        fs.send("event plain " + " ".join(WATCHED))
        recorder.job = fs.send(originate("busy", recorder.call)).headers["Job-UUID"]
        assert recorder.done.wait(timeout=5)
    assert recorder.names() == ["CHANNEL_CREATE", "CHANNEL_HANGUP_COMPLETE", "BACKGROUND_JOB"]
    ended = recorder.get("CHANNEL_HANGUP_COMPLETE")
    assert (ended["Hangup-Cause"], ended["variable_sip_term_status"]) == ("USER_BUSY", "486")
    assert job_body(recorder.get("BACKGROUND_JOB")) == "-ERR USER_BUSY"


def test_greenswitch_wrong_password(sim: SimAddress) -> None:
    client = greenswitch.InboundESL(host=sim.host, port=sim.port, password=CLUECON.lower())
    try:
        with gevent.Timeout(5), pytest.raises(ValueError, match="Invalid password"):
            client.connect()
    finally:
        with gevent.Timeout(5):
            # stop() would send `exit` and wait forever if it ran before greenswitch saw the
            # disconnect-notice that follows "-ERR invalid"; let that arrive first.
            while client.connected:
                gevent.sleep(0.01)
            client.stop()
