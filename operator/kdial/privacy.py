"""Masking phone numbers (脱敏) in anything a person or a log may read.

`mask_number` masks one number the way the trade writes it, 138****1234. `mask_text` finds
the phone numbers inside free text (log messages, error strings, event notes) and masks each,
and leaves what a person needs to read (counts, sizes, line numbers, ids) as it is. Both are
total: any input gives a masked string, nothing raises, and the output never contains more of
a number than the mask keeps.

What a phone number is in free text:

- A *run*: an optional `+` (ASCII or full-width), then seven or more digits (any script) with at
  most two separators (space, no-break space, `-`, `.`, parentheses, full-width forms) between
  consecutive digits. Fewer than seven digits is never a number (no plan assigns shorter).
- Every run is a phone number and is masked, unless it is one of these:
  - a token that is not personal data: a UUID, an ISO date or date-time, an IPv4 address, a
    hex id of 16 or more characters with a letter in it (hashes, contact ids);
  - a *quantity*: a run with no `+`, written as a plain number (`1048576`, `0.1234567`) or in
    thousands (`2 147 483 648`, `2.147.483.648`), with a unit word after it on the same line
    (one space between: `bytes`, `MiB`, `characters`, `lines`, `rows`, `contacts`, `seconds`,
    `ms`, ...; or `%`), or a label before it on the same line: a position word (`line`,
    `row`, `byte`, `offset`, `column`, `port`, `pid`, `version`, `generation`), or a key
    before `=`, `:` or `#` with a quantity word among its parts (`KDIAL_MAX_DOWNLOAD_BYTES=`,
    `"bytesRead": `, `Content-Length:`) and none saying it holds a number (not
    `offline_number=`, `max_callee_number=`).
- A group of seven or more digits stands alone: a space beside it ends the run, so a number
  and a count written one after the other ("13812341234 1000000 bytes") are told apart.

So a `+` always means a number, and a run formatted like a phone number (`138 1234 1234`,
`020-8888-1234`) is masked whatever surrounds it. What is given up: a bare phone number right
after a label or before a unit word ("line 13812341234", "13812341234 bytes") reads as the
quantity it claims to be; a run of digits with neither (an epoch, a numeric id) is masked, as a
number is the safer guess. Values shown unmasked (tags) use `has_number`, which ignores context.
"""

from __future__ import annotations

import re
import unicodedata

from phonenumbers import COUNTRY_CODE_TO_REGION_CODE

__all__ = ["has_number", "mask_number", "mask_text"]

MASK_CHAR = "*"
# What a number-less, non-empty input masks to: the input itself is never echoed.
OPAQUE = "****"

_PLUSES = ("+", "\uff0b")  # ASCII and full-width plus
# Separators people put inside numbers: spaces (incl. no-break and ideographic), dashes, dots,
# parentheses, and their full-width forms. Newlines and tabs are not: they end a run.
_SEP = r"[ \-.()\u00a0\u202f\u3000\uff08\uff09\uff0d]"
# Tokens that look numeric but are not personal data, kept as they are so logs stay useful:
# UUIDs (call and attempt ids), ISO dates and date-times, IPv4 addresses. An alternative that
# matches at a position wins over the phone alternative there.
_NOT_A_NUMBER = (
    r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}"
    r"|\d{4}(?P<date_sep>[-.])\d{2}(?P=date_sep)\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2})?)?"
    r"|(?<![\d.])\d{1,3}(?:\.\d{1,3}){3}(?!\.?\d)"
)
# Hex ids (hashes, contact ids): 16 or more hex digits, a letter among them.
_HEX_ID = r"\b(?=[0-9]*[A-Fa-f])[0-9A-Fa-f]{16,}\b"
# A phone-number-looking run: optional plus, then 7 or more digits (any script), with at most
# two separator characters between consecutive digits.
_RUN = rf"(?:[+\uff0b][ \u00a0]?)?\d(?:{_SEP}{{0,2}}\d){{6,}}"
_TOKEN = re.compile(rf"(?P<keep>{_NOT_A_NUMBER}|{_HEX_ID})|(?P<phone>{_RUN})")
# What a value shown unmasked may not hold: a hex id may hide a number there.
_RUN_ANYWHERE = re.compile(rf"(?P<keep>{_NOT_A_NUMBER})|(?P<phone>{_RUN})")


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


# A quantity's shapes: a plain number (an optional decimal part), or thousands with one
# separator throughout.
_PLAIN = re.compile(r"\d+(?:\.\d+)?")
_THOUSANDS = re.compile(r"\d{1,3}(?P<sep>[ .\u00a0\u202f])\d{3}(?:(?P=sep)\d{3})*")
# Words that say the number before them counts something. One space between, or none for "%".
_UNIT_AFTER = re.compile(
    r"(?: (?:bytes?|[KMGTPE]i?B|characters?|chars?|lines?|rows?|columns?|cells?|contacts?"
    r"|calls?|attempts?|records?|entries|items?|keys?|digits?|requests?|events?|errors?"
    r"|workers?|replicas?|duplicates?|seconds?|secs?|ms|us|\u00b5s|ns|minutes?|mins?|hours?"
    r"|days?|times)\b| ?%)",
    re.IGNORECASE,
)
# Words that say the number after them is a position: alone, on the same line ("line 5",
# "byte 12 of").
_POSITIONS = frozenset(
    ["line", "row", "byte", "offset", "column", "col", "port", "pid", "version", "generation"]
)
# Words that, as a part of a key before `=`, `:` or `#`, say its value is a quantity
# ("KDIAL_MAX_DOWNLOAD_BYTES=", '"bytesRead": ', "Content-Length:").
_QUANTITIES = _POSITIONS | {
    *("lines", "rows", "bytes", "offsets", "columns", "characters", "chars", "size", "count"),
    *("total", "limit", "length", "len", "max", "min", "replicas", "workers", "seconds", "ms"),
    *("read", "imported", "rejected", "duplicates"),
}
# ...unless another part says it holds a number ("max_callee_number=", "readPhone:").
_NUMBER_PARTS = frozenset(
    ["number", "phone", "mobile", "tel", "caller", "callee", "destination", "msisdn", "did"]
)
_KEY_BEFORE = re.compile(r"([A-Za-z][\w.\-]*)[\"']?[ \t]*[=:#][ \t]*$")
_WORD_BEFORE = re.compile(r"\b([A-Za-z]+)[ \t]+$")
_KEY_PARTS = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])")
#: How far around a run the words that make it a quantity are looked for.
_CONTEXT = 48


def _labelled(text: str, start: int) -> bool:
    before = max(0, start - _CONTEXT)
    if word := _WORD_BEFORE.search(text, before, start):
        return word.group(1).lower() in _POSITIONS
    if not (key := _KEY_BEFORE.search(text, before, start)):
        return False
    parts = {part.lower() for part in _KEY_PARTS.findall(key.group(1))}
    return bool(parts & _QUANTITIES) and not parts & _NUMBER_PARTS


def _is_quantity(run: str, text: str, start: int, end: int) -> bool:
    if not (_PLAIN.fullmatch(run) or _THOUSANDS.fullmatch(run)):
        return False
    return _UNIT_AFTER.match(text, end, end + _CONTEXT) is not None or _labelled(text, start)


# Where a run splits: a group of seven or more digits stands alone, so a space beside it ends
# the run ("dial 13812341234 1000 bytes" is a number and a size, not one 15-digit number).
_ALONE = re.compile(r"((?<=\d{7})\s+|(?<=\d)\s+(?=\d{7}))")


def _replace(match: re.Match[str]) -> str:
    if match.group("keep") is not None:
        return match.group(0)
    run, text, start, out = match.group(0), match.string, match.start(), []
    # A leading + makes a number of the run up to its first long group ("+86 13812341234").
    plus = run.startswith(_PLUSES)
    for piece in _ALONE.split(run):
        end = start + len(piece)
        if sum(c.isdecimal() for c in piece) < 7:
            out.append(piece)
        else:
            quantity = not plus and _is_quantity(piece, text, start, end)
            out.append(piece if quantity else mask_number(piece))
            plus = False
        start = end
    return "".join(out)


def mask_text(text: str) -> str:
    """Mask every phone number in free text (see the module docstring for what one is): a `+`
    and seven or more digits, or seven or more digits that are not a quantity (no unit word
    after them, no label before them) nor an id, a date or an address. Never raises."""
    try:
        return _TOKEN.sub(_replace, str(text))
    except Exception:  # see mask_number
        return OPAQUE


def has_number(text: str) -> bool:
    """Whether `text` holds a run of seven or more digits that could be a phone number,
    whatever surrounds it: what a value shown unmasked (a tag) may not hold."""
    try:
        return any(m.group("phone") is not None for m in _RUN_ANYWHERE.finditer(str(text)))
    except Exception:  # see mask_number
        return True
