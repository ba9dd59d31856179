"""kdial.privacy: masking numbers alone and inside free text, against hostile input."""

from __future__ import annotations

import re

import pytest

from kdial.privacy import mask_number, mask_text


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
