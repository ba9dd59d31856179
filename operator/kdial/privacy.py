"""Masking phone numbers (脱敏) in anything a person or a log may read.

`mask_number` masks one number the way the trade writes it, 138****1234. `mask_text` finds
number-looking digit runs inside free text (log messages, error strings, event notes) and
masks each. Both are total: any input gives a masked string, nothing raises, and the output
never contains more of a number than the mask keeps.
"""

from __future__ import annotations

import re
import unicodedata

from phonenumbers import COUNTRY_CODE_TO_REGION_CODE

__all__ = ["mask_number", "mask_text"]

MASK_CHAR = "*"
# What a number-less, non-empty input masks to: the input itself is never echoed.
OPAQUE = "****"

_PLUSES = ("+", "\uff0b")  # ASCII and full-width plus
# Separators people put inside numbers: spaces (incl. no-break and ideographic), dashes, dots,
# parentheses, and their full-width forms. Newlines and tabs are not: they end a run.
_SEP = r"[ \-.()\u00a0\u3000\uff08\uff09\uff0d]"
_TOKEN = re.compile(
    # Tokens that look numeric but are not personal data, kept as they are so logs stay
    # useful: UUIDs (call and attempt ids), ISO dates and date-times, IPv4 addresses. An
    # alternative that matches at a position wins over the phone alternative there.
    r"(?P<keep>"
    r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}"
    r"|\d{4}([-.])\d{2}\2\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2})?)?"
    r"|(?<![\d.])\d{1,3}(?:\.\d{1,3}){3}(?!\.?\d)"
    r")"
    # A phone-number-looking run: optional plus, then 7 or more digits (any script), with at
    # most two separator characters between consecutive digits.
    rf"|(?P<phone>(?:[+\uff0b][ \u00a0]?)?\d(?:{_SEP}{{0,2}}\d){{6,}})"
)


def _country_code_length(digits: str) -> int:
    # Country codes are prefix-free (ITU-T E.164), so at most one length matches.
    for length in (1, 2, 3):
        if len(digits) > length and int(digits[:length]) in COUNTRY_CODE_TO_REGION_CODE:
            return length
    return 0


def _mask_digits(digits: str) -> str:
    n = len(digits)
    if n >= 11:
        # The trade's format (138****1234): first three and last four of the national number.
        head, tail = 3, 4
    else:
        # Shorter numbers keep less: at most half, mostly from the end (what operators read
        # back to a callee), a little from the start.
        keep = n // 2
        head = keep // 3
        tail = keep - head
    return digits[:head] + MASK_CHAR * (n - head - tail) + digits[n - tail :]


def _mask(text: str) -> str:
    # Digits of any script count (a full-width or Arabic-Indic number is still a number);
    # the kept ones come out as ASCII.
    digits = "".join(str(unicodedata.decimal(c)) for c in text if c.isdecimal())
    if not digits:
        return OPAQUE if text.strip() else ""
    if not text.lstrip().startswith(_PLUSES):
        return _mask_digits(digits)
    cc = _country_code_length(digits)
    return "+" + digits[:cc] + _mask_digits(digits[cc:])


def mask_number(s: str) -> str:
    """Mask one phone number: "13812341234" -> "138****1234", "+8613812341234" ->
    "+86138****1234". Separators are dropped; a leading + keeps the country code; numbers
    shorter than 11 national digits keep at most half of them; text without digits becomes
    "****" (or "" when empty). Never raises."""
    try:
        return _mask(str(s))
    except Exception:  # masking must never be the thing that breaks a log line
        return OPAQUE


def _replace(match: re.Match[str]) -> str:
    if match.group("keep") is not None:
        return match.group(0)
    return mask_number(match.group(0))


def mask_text(text: str) -> str:
    """Mask every phone-number-looking run (7+ digits, optional +, separators) in free text.

    UUIDs, ISO dates/times and IPv4 addresses are left alone; any other run of seven or more
    digits is treated as a number (an over-masked timestamp is the price of never leaking
    one). Never raises.
    """
    try:
        return _TOKEN.sub(_replace, str(text))
    except Exception:  # see mask_number
        return OPAQUE
