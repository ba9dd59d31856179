"""Hostile Event Socket frames, generated: whatever headers a switch (or something posing as
one) sends, the worker's event handler never raises and every call it reads an ending from
gets a real Outcome; and whatever a number looks like, an originate dials digits or nothing."""

from __future__ import annotations

import re
import time

from hypothesis import given, settings
from hypothesis import strategies as st

from kdial.dialstring import originate_command
from kdial.outcomes import Outcome, classify
from kdial.state.keys import PoolKeys
from kdial_worker.calls import Call, Calls
from kdial_worker.caps import CallerIdGrant, Grant, TrunkGrant
from kdial_worker.lease import Lease

UUID = "0b8e4a5c-6a1e-4c1f-9a57-3f2d8e9b7c10"
EVENT_NAMES = [
    "CHANNEL_PROGRESS",
    "CHANNEL_PROGRESS_MEDIA",
    "CHANNEL_ANSWER",
    "CHANNEL_BRIDGE",
    "CHANNEL_HANGUP_COMPLETE",
    "BACKGROUND_JOB",
    "CHANNEL_EXECUTE",
    "",
]
HEADERS = [
    "Hangup-Cause",
    "variable_hangup_cause",
    "variable_hangup_cause_q850",
    "variable_sip_term_status",
    "variable_sip_invite_failure_status",
    "variable_answer_epoch",
    "Caller-Channel-Answered-Time",
    "variable_endpoint_disposition",
    "variable_amd_result",
    "Job-Command-Arg",
    "_body",
]
_values = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["-ERR NORMAL_TEMPORARY_FAILURE", "+OK " + UUID, "486", "-1", "9" * 40]),
    st.sampled_from(["NORMAL_CLEARING", "USER_BUSY", "ANSWER", "MACHINE", "HUMAN", "0"]),
    st.integers(-(10**30), 10**30).map(str),
)


@st.composite
def frames(draw: st.DrawFn) -> dict[str, str]:
    event = {k: draw(_values) for k in draw(st.lists(st.sampled_from(HEADERS), unique=True))}
    event["Event-Name"] = draw(st.sampled_from(EVENT_NAMES))
    event["Unique-ID"] = draw(st.sampled_from([UUID, UUID.upper(), "", "x" * 36]))
    if draw(st.booleans()):
        event["Job-Command-Arg"] = draw(st.sampled_from([UUID, f"{{origination_uuid={UUID}}}x"]))
    return event


def _call() -> Call:
    pool = PoolKeys("tp", "ns", "lines")
    grant = Grant(
        TrunkGrant(pool, "a", "1", 1, 0),
        CallerIdGrant(PoolKeys("cidp", "ns", "ids"), "", "1", 1, 1),
    )
    lease = Lease.taken("1", time.monotonic(), 15)
    return Call(attempt="1", uuid=UUID, trunk="a", grant=grant, lease=lease, connect_deadline=2)


@settings(max_examples=400, deadline=None)
@given(st.lists(frames(), max_size=12))
def test_any_frames_leave_the_worker_standing_with_a_real_outcome(
    events: list[dict[str, str]],
) -> None:
    calls, call = Calls(), _call()
    calls.add(call)

    for event in events:
        calls.on_event(event)

    facts = call.facts()
    assert facts is None or isinstance(classify(facts), Outcome)


@settings(max_examples=400, deadline=None)
@given(
    number=st.one_of(
        st.text(max_size=24),
        st.from_regex(r"\+?[0-9]{6,15}", fullmatch=True),
        st.sampled_from(["+86138${x}", "+86 138 0000 1111", "+8613800001111&bridge(x)"]),
    )
)
def test_an_originate_dials_digits_or_nothing(number: str) -> None:
    try:
        command = originate_command("carrier-a", number)
    except ValueError:
        return
    destination = command.split(" ")[1].rpartition("/")[2]
    assert re.fullmatch(r"\+?[0-9]+", destination), command
