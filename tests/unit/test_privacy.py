"""kdial.privacy: masking numbers alone and inside free text, against hostile input."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kdial.privacy import has_number, mask_number, mask_text


@pytest.mark.parametrize(
    ("raw", "masked"),
    [
        ("13812341234", "138****1234"),
        ("+8613812341234", "+86138****1234"),
        ("+86 138 1234 1234", "+86138****1234"),
        ("138-1234-1234", "138****1234"),
        ("02088881234", "020****1234"),
        ("+862088881234", "+862*****1234"),  # national number without the trunk 0
        ("+14155552671", "+14*****2671"),  # 10 national digits keep 5
        ("+442083612345", "+442*****2345"),
        ("88881234", "8****234"),
        ("1234567", "1****67"),
        ("95588", "***88"),
        ("1234", "**34"),
        ("123", "**3"),
        ("12", "*2"),
        ("1", "*"),
        ("8613812341234", "861******1234"),  # no +: the country code is not recognised
        ("\uff11\uff13\uff18\uff11\uff12\uff13\uff14\uff11\uff12\uff13\uff14", "138****1234"),
        ("\uff0b8613812341234", "+86138****1234"),
        ("\u0661\u0663\u0668\u0661\u0662\u0663\u0664\u0661\u0662\u0663\u0664", "138****1234"),
    ],
)
def test_mask_number(raw: str, masked: str) -> None:
    assert mask_number(raw) == masked


def test_mask_number_without_digits_never_echoes_the_input() -> None:
    assert mask_number("") == ""
    assert mask_number("   ") == ""
    assert mask_number("Zhang San") == "****"
    assert mask_number("+") == "****"
    assert mask_number("\n\x00\u202e") == "****"


@pytest.mark.parametrize("n", range(1, 40))
def test_short_numbers_always_hide_at_least_half(n: int) -> None:
    digits = "".join(str((i * 7 + 3) % 10) for i in range(n))
    masked = mask_number(digits)
    hidden = masked.count("*")
    assert len(masked) == n
    if n < 11:
        assert hidden >= (n + 1) // 2
    else:
        assert masked[:3] == digits[:3]
        assert masked[-4:] == digits[-4:]
        assert hidden == n - 7


@pytest.mark.parametrize(
    "hostile",
    [
        "1" * 100_000,
        "+" * 1000,
        "+" + "9" * 5000,
        "\x00" * 10,
        "\n13812341234\n",
        "13812341234\r\napi originate {x}sofia/gateway/gw/1 &park()",
        "{api_on_answer=system rm -rf /}13812341234",
        "\ud800",  # a lone surrogate
        "\u202e4321431831",
        "%0a13812341234",
        "😀13812341234😀",
    ],
)
def test_mask_number_is_total_and_output_is_inert(hostile: str) -> None:
    masked = mask_number(hostile)
    # Only "+", ASCII digits and stars come out: no newline, no markup, no metacharacter.
    assert re.fullmatch(r"\+?[0-9*]*", masked)
    assert "13812341234" not in masked


def test_mask_number_never_raises_on_objects_that_are_not_strings() -> None:
    class Hostile:
        def __str__(self) -> str:
            raise RuntimeError("boom")

    assert mask_number(Hostile()) == "****"  # type: ignore[arg-type]
    assert mask_number(13812341234) == "138****1234"  # type: ignore[arg-type]
    assert mask_number(None) == "****"  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("dial 13812341234 failed", "dial 138****1234 failed"),
        ("to +86 138 1234 1234.", "to +86138****1234."),
        ("(+86) 138-1234-1234", "(+86138****1234"),
        ("sip:13800138000@127.0.0.1:5091", "sip:138****8000@127.0.0.1:5091"),
        ("sofia/gateway/gw/8613812341234 &park()", "sofia/gateway/gw/861******1234 &park()"),
        ("user13800138000x", "user138****8000x"),  # glued to letters is still a number
        ("a=13812341234,b=13900001111", "a=138****1234,b=139****1111"),
        ("020 8888 1234 or 020-8888-1234", "020****1234 or 020****1234"),
        (
            "call \uff11\uff13\uff18\uff11\uff12\uff13\uff14\uff11\uff12\uff13\uff14",
            "call 138****1234",
        ),
        ("row 12 of 345", "row 12 of 345"),  # short runs are not numbers
        ("123456 is six", "123456 is six"),
        ("1234567 is seven", "1****67 is seven"),
        ("", ""),
    ],
)
def test_mask_text(text: str, expected: str) -> None:
    assert mask_text(text) == expected


def test_mask_text_keeps_ids_dates_and_addresses_readable() -> None:
    line = (
        "2026-11-23 15:15:37 attempt 59c7314e-0b1a-474b-9754-ac156398715a "
        "from 192.168.100.200:5060 to 13812341234 at 2026-11-23T15:15:42"
    )
    assert mask_text(line) == line.replace("13812341234", "138****1234")
    assert mask_text("uuid 12345678-1234-1234-1234-123456789012") == (
        "uuid 12345678-1234-1234-1234-123456789012"
    )


def test_mask_text_prefers_masking_when_in_doubt() -> None:
    # An epoch or a long decimal looks like a number; masking it is the accepted cost.
    assert "1795446936" not in mask_text("at 1795446936")
    assert "13812341234" not in mask_text("x 2026-11-23 13812341234")
    assert "13812341234" not in mask_text("10.0.0.1 13812341234")


@pytest.mark.parametrize(
    "hostile",
    [
        "1 " * 50_000,
        "1-" * 50_000,
        "1 -" * 30_000 + "x",
        "(" * 10_000 + "13812341234" + ")" * 10_000,
        "+" * 50_000 + "13812341234",
        "0" * 200_000,
        ("13812341234\n" * 5000),
        "\x00\x1b[31m13812341234\x1b[0m",
        "a" * 100_000,
    ],
)
@pytest.mark.timeout(30)  # a hang guard against catastrophic backtracking, not a benchmark
def test_mask_text_on_hostile_input_terminates_and_leaks_nothing(hostile: str) -> None:
    masked = mask_text(hostile)
    assert "13812341234" not in masked
    assert re.search(r"[0-9]{7}", masked) is None


def test_mask_text_never_raises() -> None:
    assert mask_text(None) == "None"  # type: ignore[arg-type]
    assert mask_text("\ud800 13812341234") == "\ud800 138****1234"


# What a person needs to read stays readable: counts, sizes, line numbers, ids (issue 15).


@pytest.mark.parametrize(
    "text",
    [
        "the source has a line longer than 1048576 characters",
        "(KDIAL_MAX_DOWNLOAD_BYTES=2147483648): split the list, or raise the limit",
        "1000000 contacts imported, 1000000 rows rejected, 1000000 duplicates, of 3000000 rows",
        "byte 2147483650 of the source (line 1048577) is not valid UTF-8",
        '{"bytesRead": 2147483648, "read": 1000000}',
        "Content-Length: 21474836480",
        "2 147 483 648 bytes, 2.147.483.648 bytes, 99.1234567%",
        "took 0.12345678 seconds",
        "contact e4d2046813579102c9ab77f1 and attempt 59c7314e-0b1a-474b-9754-ac156398715a",
    ],
)
def test_mask_text_leaves_counts_sizes_lines_and_ids_readable(text: str) -> None:
    assert mask_text(text) == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # A + always makes a number, whatever follows.
        ("+8613812341234 bytes", "+86138****1234 bytes"),
        ("+86 13812341234 rows", "+86 138****1234 rows"),
        # Formatted like a phone number: masked, whatever surrounds it.
        ("line 138 1234 1234", "line 138****1234"),
        ("020-8888-1234 bytes", "020****1234 bytes"),
        # A key that is not a quantity is no label.
        ("destination_number=13812341234", "destination_number=138****1234"),
        ("offline_number=13812341234", "offline_number=138****1234"),
        ("last_read_number: 13812341234", "last_read_number: 138****1234"),
        # A long group stands alone: a number beside a count splits from it.
        ("dial 13812341234 1000000 bytes", "dial 138****1234 1000000 bytes"),
        ("line 5 13812341234", "line 5 138****1234"),
        # A hex id is kept; a number glued to letters that are no hex id is not.
        ("cust13812341234", "cust138****1234"),
    ],
)
def test_mask_text_quantity_rule_edges(text: str, expected: str) -> None:
    assert mask_text(text) == expected


def test_has_number_ignores_what_surrounds_a_run() -> None:
    assert has_number("line:13812341234") and has_number("13812341234ms")
    assert has_number("deadbeefdeadbeef13812341234")  # a hex id may hide one
    assert not has_number("2026-01-15") and not has_number("vip-123456")


def _grouped(digits: str, sizes: list[int], sep: str) -> str:
    groups, at = [], 0
    for size in sizes:
        groups.append(digits[at : at + size])
        at += size
    if at < len(digits):
        groups.append(digits[at:])
    return sep.join(g for g in groups if g)


_SEPS = st.sampled_from(["", " ", "-"])
_CN_MOBILE = st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True)
# National significant numbers of other countries, with their country codes.
_ABROAD = st.one_of(
    st.from_regex(r"[2-9][0-9]{2}[2-9][0-9]{6}", fullmatch=True).map(lambda n: ("1", n)),
    st.from_regex(r"20[0-9]{8}", fullmatch=True).map(lambda n: ("44", n)),
    st.from_regex(r"30[0-9]{8}", fullmatch=True).map(lambda n: ("49", n)),
    st.from_regex(r"90[0-9]{8}", fullmatch=True).map(lambda n: ("81", n)),
    st.from_regex(r"[689][0-9]{7}", fullmatch=True).map(lambda n: ("65", n)),
    st.from_regex(r"[5-9][0-9]{7}", fullmatch=True).map(lambda n: ("852", n)),
)


@st.composite
def phone_numbers(draw: st.DrawFn) -> str:
    """A phone number as people and systems write it."""
    sep = draw(_SEPS)
    kind = draw(st.sampled_from(["cn", "cn-e164", "e164", "cn-landline"]))
    if kind == "cn":
        return _grouped(draw(_CN_MOBILE), [3, 4], sep)
    if kind == "cn-e164":
        return "+86" + draw(st.sampled_from(["", " "])) + _grouped(draw(_CN_MOBILE), [3, 4], sep)
    if kind == "e164":
        cc, national = draw(_ABROAD)
        return f"+{cc}{sep or draw(st.sampled_from(['', ' ']))}" + _grouped(national, [3, 3], sep)
    area = draw(st.sampled_from(["10", "20", "21", "755", "571"]))
    local = draw(st.from_regex(r"[2-8][0-9]{7}", fullmatch=True))
    return f"0{area}{sep}" + _grouped(local, [4], sep)


_PHONE_TEMPLATES = [
    "dial {} failed",
    "call to {} ended",
    "sip:{}@10.0.0.1:5060",
    "sofia/gateway/gw1/{} &park()",
    "destination_number={}",
    "callee ({}) busy",
    "{}: no answer",
]
_COUNT_TEMPLATES = [
    "line {}",
    "the source has a line longer than {} characters",
    "KDIAL_MAX_DOWNLOAD_BYTES={}",
    "{} contacts imported",
    "{} rows rejected",
    "byte {} of the source",
    "at row {}:",
    '"bytesRead": {}',
    "took {} ms",
    "of {} rows",
    "{} MiB",
    "Content-Length: {}",
]
_IDS = st.one_of(
    st.uuids().map(str),
    st.binary(min_size=12, max_size=12).map(bytes.hex).filter(lambda h: not h.isdecimal()),
    st.datetimes().map(lambda d: d.isoformat(timespec="seconds")),
    st.ip_addresses(v=4).map(str),
)


@st.composite
def messages(draw: st.DrawFn) -> tuple[str, list[tuple[str, str | None]]]:
    """A message of fragments; each fragment with the phone number in it (None for a count or
    an id, which must come out as it went in)."""
    fragments: list[tuple[str, str | None]] = []
    for _ in range(draw(st.integers(1, 6))):
        what = draw(st.sampled_from(["phone", "count", "id"]))
        if what == "phone":
            phone = draw(phone_numbers())
            fragments.append((draw(st.sampled_from(_PHONE_TEMPLATES)).format(phone), phone))
        elif what == "count":
            count = draw(st.integers(0, 10**15))
            text = draw(st.sampled_from(_COUNT_TEMPLATES)).format(count)
            fragments.append((text, None))
        else:
            fragments.append((f"id {draw(_IDS)}", None))
    joiner = draw(st.sampled_from([" ; ", " | ", "\n", ", "]))
    return joiner, fragments


@settings(deadline=None, max_examples=400)
@given(messages())
def test_every_phone_number_masked_every_count_readable(
    message: tuple[str, list[tuple[str, str | None]]],
) -> None:
    joiner, fragments = message
    masked = mask_text(joiner.join(text for text, _ in fragments)).split(joiner)
    assert len(masked) == len(fragments)
    for (text, phone), out in zip(fragments, masked, strict=True):
        if phone is None:
            assert out == text
            continue
        digits = re.sub(r"\D", "", phone)
        assert phone not in out and digits not in re.sub(r"\D", "", out)
        assert "*" in out
        # What is left of the number: at most its country code, three digits and four.
        shown = sum(c.isdigit() for c in out) - sum(c.isdigit() for c in text.replace(phone, ""))
        assert shown <= 10
