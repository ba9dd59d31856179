"""Event rendering: the call-detail arithmetic reproduces a real FreeSWITCH capture exactly."""

from __future__ import annotations

import re

from kdial_sim.channel import Channel, Ending, SipParticulars
from kdial_sim.clock import SimClock
from kdial_sim.events import HANGUP_COMPLETE, Identity, Stamper, channel_event
from kdial_sim.originate import parse_dial_target
from tests.support.freeswitch import capture

DURATIONS = re.compile(r"^variable_(\w*(?:sec|msec|usec|duration|epoch)): (\d+)$", re.MULTILINE)


def captured_durations() -> dict[str, str]:
    text = capture("carrier-a.CHANNEL_HANGUP_COMPLETE.txt").read_text(encoding="utf-8")
    return {f"variable_{k}": v for k, v in DURATIONS.findall(text)}


def test_call_detail_variables_match_freeswitch_arithmetic() -> None:
    # The captured call's own timestamps, in microseconds.
    created, answered, ended = 1795446936808724, 1795446937808730, 1795446942828696
    channel = Channel(
        uuid="59c7314e-0b1a-474b-9754-ac156398715a",
        session_id=1,
        target=parse_dial_target("sofia/gateway/carrier-a/13800138000"),
        remote_host="127.0.0.1",
        remote_port=5091,
        cid_number="02888880000",
        cid_name="",
        context="default",
        user_vars=[],
        app="park",
        app_arg="",
        created_us=created,
        sip=SipParticulars.for_uuid("x"),
        progress_us=created,
        answered_us=answered,
        hangup_us=ended,
        dialog=True,
        cid_flipped=True,
        hangup_cause="NORMAL_CLEARING",
        ending=Ending.REMOTE_BYE,
    )
    stamper = Stamper(Identity("core", "vm", "127.0.0.1", "::1", 5080), SimClock())
    event = channel_event(HANGUP_COMPLETE, channel, stamper)
    ours = {name: value for name, value in event.headers if name in captured_durations()}
    assert ours == captured_durations()
    assert event.get("variable_billsec") == "5"
    assert event.get("variable_caller_id") == '"Outbound Call" <13800138000>'
