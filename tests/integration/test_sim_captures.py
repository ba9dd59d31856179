"""Each outcome row of tests/data/freeswitch-facts.md, produced by `kdial sim`, against the
events a real FreeSWITCH 1.11 emitted (tests/data/freeswitch-1.11-events).

For every row the simulator's CHANNEL_HANGUP_COMPLETE must carry the capture's header names in
the capture's order, each value in the same form (digits, UUIDs, dates, tags normalised), and
the row's cause, Q.850 code, SIP status (or its absence), disposition, billsec and
BACKGROUND_JOB body. Rows without a capture of their own (uuid_kill, 480) are checked against
the capture of the same shape, with the differences the facts table states.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from kdial_local.processes import simulator as running_sim
from tests.support.esl_raw import EslClient, Event
from tests.support.freeswitch import capture

SPEED = 20
NUMBER, CALLER = "13800138000", "02888880000"


def carrier(port: int, **behaviour: object) -> dict[str, object]:
    return {"proxy": f"127.0.0.1:{port}", "pddSeconds": 0.2, **behaviour}


SCENARIO = {
    "seed": 1,
    # The captured switch's identity, so that its values compare as they are.
    "switch": {"hostname": "vm", "ipv4": "192.0.2.2", "ipv6": "fd00::2"},
    "callees": {"amd": {"enabled": False}},
    "carriers": {
        "carrier-a": carrier(5091, answerProbability=1, ringSeconds=1, talkSeconds=5),
        "carrier-b": carrier(5092, answerProbability=0, failures={"lineFailure": 1}),
        "carrier-c": carrier(5093, answerProbability=0, failures={"busy": 1}),
        "carrier-d": carrier(5094, answerProbability=0, failures={"noAnswer": 1}),
        "carrier-e": carrier(5095, answerProbability=0, failures={"unreachable": 1}),
        "carrier-k": carrier(5096, answerProbability=1, ringSeconds=1, talkSeconds=3600),
    },
}

#: Headers that carry the outcome itself; checked per row instead of by form.
OUTCOME_HEADERS = {
    "Hangup-Cause",
    "variable_hangup_cause",
    "variable_hangup_cause_q850",
    "variable_sip_term_status",
    "variable_sip_term_cause",
    "variable_proto_specific_hangup_cause",
    "variable_sip_hangup_disposition",
    "variable_sip_invite_failure_status",
    "variable_sip_invite_failure_phrase",
}
TERM_STATUS = [
    "variable_sip_term_status",
    "variable_proto_specific_hangup_cause",
    "variable_sip_term_cause",
]


@dataclass(frozen=True)
class Row:
    label: str
    gateway: str
    capture: str
    cause: str
    q850: str
    sip_term_status: str | None
    disposition: str
    answered: bool
    kill: bool = False


#: The facts table's rows: the capture each is checked against and what it must report
#: (`end` is sip_hangup_disposition, `ok` whether the call was answered).
_TABLE = """
label       | gateway   | capture   | cause                    | q850 | sip | end         | ok
answer+bye  | carrier-a | carrier-a | NORMAL_CLEARING          | 16   | 200 | recv_bye    | y
answer+kill | carrier-k | carrier-a | NORMAL_CLEARING          | 16   | -   | send_bye    | y
503         | carrier-b | carrier-b | NORMAL_TEMPORARY_FAILURE | 41   | 503 | recv_refuse | n
486-busy    | carrier-c | carrier-c | USER_BUSY                | 17   | 486 | recv_refuse | n
no-answer   | carrier-d | carrier-d | NO_ANSWER                | 19   | -   | send_cancel | n
480         | carrier-e | carrier-b | NO_USER_RESPONSE         | 18   | 480 | recv_refuse | n
"""


def _rows() -> list[Row]:
    rows = []
    for line in _TABLE.strip().splitlines()[1:]:
        label, gateway, capture, cause, q850, sip, disposition, answered = (
            cell.strip() for cell in line.split("|")
        )
        status = None if sip == "-" else sip
        kill = disposition == "send_bye"
        rows.append(
            Row(label, gateway, capture, cause, q850, status, disposition, answered == "y", kill)
        )
    return rows


ROWS = _rows()


def load_capture(name: str) -> dict[str, str]:
    """A capture file as headers in order; multi-line values (SDP) keep their CRLFs."""
    path = capture(f"{name}.txt")
    headers: dict[str, str] = {}
    last: str | None = None
    for line in path.read_text(encoding="utf-8").removesuffix("\n").split("\n"):
        found = re.match(r"^([A-Za-z][A-Za-z0-9_-]*): (.*)$", line)
        if found:
            last = found[1]
            headers[last] = found[2]
        elif last is not None:
            headers[last] += "\n" + line
    return headers


_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_NAMES = re.compile(
    r"\b(Mon|Tue|Wed|Thu|Fri|Sat|Sun|Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)\b"
)
_TOKEN = re.compile(r"[A-Za-z0-9]{10,}")


def shape(value: str) -> str:
    """The form of a value: UUIDs, day/month names, long tokens and numbers normalised."""
    value = _UUID.sub("U", value.replace("\r\n", "\n"))
    value = _NAMES.sub("N", value)
    value = _TOKEN.sub(lambda m: "9" if m[0].isdigit() else "T", value)
    return re.sub(r"\d+", "9", value)


@pytest.fixture(scope="module")
def esl() -> Iterator[EslClient]:
    with running_sim(SCENARIO, speed=SPEED) as sim, EslClient(*sim).connect() as client:
        client.subscribe("plain", "ALL")
        yield client


def place(esl: EslClient, row: Row) -> tuple[Event, Event | None, str]:
    """Dial as the capture did; return (HANGUP_COMPLETE, CHANNEL_ANSWER or None, job body)."""
    call = str(uuid.uuid4())
    variables = f"origination_uuid={call},origination_caller_id_number={CALLER}"
    variables += ",originate_timeout=20,ignore_early_media=true"
    job = esl.bgapi(f"originate {{{variables}}}sofia/gateway/{row.gateway}/{NUMBER} &park()")
    answer = esl.channel_event("CHANNEL_ANSWER", call) if row.answered else None
    if row.kill:
        time.sleep(2.5 / SPEED)  # talk 2.5 scenario seconds first, as the captured call did
        assert esl.api(f"uuid_kill {call}") == "+OK\n"
    ended = esl.channel_event("CHANNEL_HANGUP_COMPLETE", call, timeout=10)
    return ended, answer, esl.job_result(job, timeout=10).replace(call, "<uuid>")


def expected_names(row: Row) -> list[str]:
    names = list(load_capture(f"{row.capture}.CHANNEL_HANGUP_COMPLETE"))
    if row.sip_term_status is None and row.capture == "carrier-a":
        names = [n for n in names if n not in TERM_STATUS]
    return names


@pytest.mark.parametrize("row", ROWS, ids=[r.label for r in ROWS])
def test_hangup_complete_matches_freeswitch(esl: EslClient, row: Row) -> None:
    capture = load_capture(f"{row.capture}.CHANNEL_HANGUP_COMPLETE")
    ended, _, body = place(esl, row)

    assert list(ended.headers) == expected_names(row)
    forms = {
        # A row checked against another carrier's capture differs in the gateway's name only.
        name: (shape(value.replace(row.gateway, row.capture)), shape(capture[name]))
        for name, value in ended.headers.items()
        if name not in OUTCOME_HEADERS
    }
    assert {n: f for n, f in forms.items() if f[0] != f[1]} == {}

    assert ended["Hangup-Cause"] == ended["variable_hangup_cause"] == row.cause
    assert ended["variable_hangup_cause_q850"] == row.q850
    assert ended.get("variable_sip_term_status") == row.sip_term_status
    assert ended["variable_sip_hangup_disposition"] == row.disposition
    assert (int(ended["variable_billsec"]) > 0) is row.answered
    assert body == ("+OK <uuid>\n" if row.answered else f"-ERR {row.cause}\n")
    if row.capture == row.gateway:  # the capture is this very row: outcome values are equal
        outcome = {n: capture[n] for n in OUTCOME_HEADERS if n in capture}
        assert {n: ended[n] for n in outcome} == outcome


def test_channel_answer_matches_freeswitch(esl: EslClient) -> None:
    capture = load_capture("carrier-a.CHANNEL_ANSWER")
    _, answer, _ = place(esl, ROWS[0])
    assert answer is not None
    assert list(answer.headers) == list(capture)
    mismatched = {
        name: (shape(value), shape(capture[name]))
        for name, value in answer.headers.items()
        if shape(value) != shape(capture[name])
    }
    assert mismatched == {}
    assert answer["Answer-State"] == "answered"
    assert answer["Caller-Callee-ID-Number"] == NUMBER
