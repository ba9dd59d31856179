"""kdial.state.attempt: the attempt record's one codec, as the worker and the ledger write it."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from kdial.outcomes import Outcome
from kdial.state.attempt import AttemptRecord, BadRecord, CallRecord, Disposition
from kdial.state.wire import NewerSchema

CALL = CallRecord(
    number="+86138****5678",
    trunk="carrier-a",
    caller_id="+861065529988",
    tags=("sales", "vip"),
    worker="w-1",
    uuid="kdial-promo-17",
    started_ms=1_700_000_000_000,
    call_ended_ms=1_700_000_031_000,
    pdd_ms=1800,
    bgapi_ms=2.3456,
    billsec=25,
    cause="NORMAL_CLEARING",
    sip="200",
)
# What complete.lua writes before the worker's fields.
LEDGER = {"attempt": "17", "contact": "c1", "outcome": "AnsweredHuman", "ended_ms": "1700000031500"}


def test_a_worker_record_reads_back_as_written() -> None:
    record = AttemptRecord.decode(LEDGER | CALL.encode())
    # bgapi_ms is kept to the hundredth of a millisecond on the wire.
    call = replace(CALL, bgapi_ms=2.35)
    assert record == AttemptRecord("17", "c1", Outcome.ANSWERED_HUMAN, 1_700_000_031_500, call)


def test_absent_figures_stay_absent() -> None:
    call = CallRecord("+86138****5678", "t", "", (), "w", "u", 1, 2)
    encoded = call.encode()
    assert encoded["pdd_ms"] == encoded["bgapi_ms"] == encoded["tags"] == ""
    assert AttemptRecord.decode(LEDGER | encoded).call == call


def test_a_reclaimed_lease_is_a_real_outcome_without_a_call() -> None:
    # As reclaim.lua writes it: no worker saw how the call ended.
    fields = LEDGER | {"outcome": "Unknown", "reason": "lease expired"}
    record = AttemptRecord.decode(fields)
    assert record.outcome is Outcome.UNKNOWN
    assert record.call is None and record.reason == "lease expired"


@pytest.mark.parametrize(
    ("fields", "says"),
    [
        (LEDGER | {"outcome": "Lost"}, "bad value"),
        ({k: v for k, v in LEDGER.items() if k != "contact"}, "without 'contact'"),
        (LEDGER | {"ended_ms": "soon"}, "bad value"),
        (LEDGER | CALL.encode() | {"billsec": ""}, "bad value"),
    ],
)
def test_an_entry_that_is_no_attempt_record_is_refused(fields: dict[str, str], says: str) -> None:
    with pytest.raises(BadRecord, match=says):
        AttemptRecord.decode(fields)


def test_a_disposition_kept_apart_reads_back_joined_to_its_attempt() -> None:
    disposition = Disposition(
        agent="ana", at_ms=1_700_000_060_000, code="Sale", fields={"amount": "129.50"}
    )
    stored = disposition.encode()
    assert '"schemaVersion": 1' in stored
    record = AttemptRecord.decode(LEDGER | CALL.encode(), stored)
    assert record.disposition == disposition
    assert AttemptRecord.decode(LEDGER).disposition is None


def test_a_disposition_of_a_newer_schema_is_refused_not_misread() -> None:
    newer = json.dumps({"schemaVersion": 2, "agent": "ana", "atMs": 1, "mood": "happy"})
    with pytest.raises(NewerSchema, match="disposition has schemaVersion 2"):
        AttemptRecord.decode(LEDGER, newer)


def test_the_agent_a_call_was_bridged_to_and_when_read_back() -> None:
    call = replace(CALL, agent="ana", bridged_ms=1_700_000_004_500, bgapi_ms=2.35)
    assert AttemptRecord.decode(LEDGER | call.encode()).call == call
    assert call.encode()["schema_version"] == "2"


def test_a_record_written_before_agents_reads_without_one() -> None:
    old = {k: v for k, v in CALL.encode().items() if k not in {"agent", "bridged_ms"}}
    del old["schema_version"]
    decoded = AttemptRecord.decode(LEDGER | old).call
    assert decoded is not None and (decoded.agent, decoded.bridged_ms) == ("", None)


def test_a_record_from_a_newer_writer_is_refused_not_misread() -> None:
    with pytest.raises(BadRecord, match="schemaVersion 3"):
        AttemptRecord.decode(LEDGER | CALL.encode() | {"schema_version": "3"})
