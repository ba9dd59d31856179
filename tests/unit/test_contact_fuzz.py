"""Hostile contact files, generated: whatever bytes a source serves, reading and checking them
ends in rows (imported or rejected, counted) or one SourceError with a reason, never a crash,
and nothing a person reads afterwards (the error, the rejected samples) holds a number from
the file unmasked."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kdial.api.contactlist import ContactListSpec
from kdial_operator import contact_pipeline, contact_reader
from kdial_operator.contact_import import Tally
from kdial_operator.contact_reader import SourceError

#: Canary mobiles: any seven of their digits in a row, shown, would be a leak.
CANARIES = [f"139{n:08d}" for n in (17_250_001, 17_250_002, 17_250_003, 48_360_004)]
_WINDOWS = {c[i : i + 7] for c in CANARIES for i in range(len(c) - 6)}
_REASON = re.compile(r"^[A-Z][A-Za-z]+(:[A-Z][A-Za-z]+)?$")
ID_KEY = b"fuzz-id-key-0123456789abcdef0123"


def _spec(fmt: str, encoding: str) -> ContactListSpec:
    doc: dict[str, object] = {
        "source": {"configMap": {"name": "s", "key": "k"}},
        "defaultRegion": "CN",
        "format": fmt,
    }
    if fmt == "CSV":
        doc["csv"] = {"encoding": encoding}
    return ContactListSpec.model_validate(doc)


_junk = st.sampled_from(
    [b"\x00", b'"', b'""', b"\n", b"\r\n", b",", b"\xff\xfe", b"\xe4\xb8", b"=cmd|", b"+", b"\t"]
)


@st.composite
def csv_files(draw: st.DrawFn) -> tuple[bytes, str]:
    encoding = draw(st.sampled_from(["UTF-8", "GB18030"]))
    lines = ["phone,name,note"]
    for number in draw(st.lists(st.sampled_from(CANARIES), min_size=1, max_size=12)):
        shown = draw(st.sampled_from([number, f"+86{number}", f"{number[:3]} {number[3:]}"]))
        name = draw(st.text(max_size=6))
        lines.append(f"{shown},{name},note {number}")
    data = "\n".join(lines).encode("gb18030" if encoding == "GB18030" else "utf-8", "replace")
    for _ in range(draw(st.integers(0, 6))):
        at = draw(st.integers(0, len(data)))
        data = data[:at] + draw(_junk) + data[at:]
    return data, encoding


@st.composite
def ndjson_files(draw: st.DrawFn) -> tuple[bytes, str]:
    rows = []
    for number in draw(st.lists(st.sampled_from(CANARIES), min_size=1, max_size=8)):
        value = draw(st.sampled_from([number, int(number), [number], {"n": number}, None]))
        rows.append(json.dumps({"phone": value, "note": f"x {number}"}, ensure_ascii=False))
    data = "\n".join(rows).encode()
    for _ in range(draw(st.integers(0, 4))):
        at = draw(st.integers(0, len(data)))
        data = data[:at] + draw(_junk) + data[at:]
    return data, "UTF-8"


def _chunks(data: bytes, size: int) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def _leaks(text: str) -> set[str]:
    digits = re.sub(r"\D", "", text)
    return {w for w in _WINDOWS if w in text or w in digits}


def _import(data: bytes, spec: ContactListSpec, size: int) -> tuple[Tally, SourceError | None]:
    tally = Tally()
    try:
        for record in contact_reader.records(_chunks(data, size), spec):
            if contact_pipeline.admit(record, spec, ID_KEY, tally) is not None:
                tally.imported += 1
    except SourceError as error:
        return tally, error
    return tally, None


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    file=st.one_of(
        csv_files().map(lambda f: ("CSV", *f)), ndjson_files().map(lambda f: ("NDJSON", *f))
    ),
    size=st.sampled_from([1, 3, 64, 4096]),
)
def test_any_file_imports_or_fails_with_a_reason_and_shows_no_number(
    file: tuple[str, bytes, str], size: int
) -> None:
    fmt, data, encoding = file
    tally, error = _import(data, _spec(fmt, encoding), size)

    assert tally.read == tally.imported + sum(tally.rejected.values())
    assert all(_REASON.match(reason) for reason in tally.rejected)
    shown = json.dumps(tally.first_rejected, ensure_ascii=False)
    if error is not None:
        assert _REASON.match(error.reason), error.reason
        assert error.message
        shown += error.message
    assert not _leaks(shown), shown
