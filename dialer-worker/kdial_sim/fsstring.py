"""FreeSWITCH's string tokenizer (`switch_separate_string` and friends), rule for rule.

An API line reaches the switch as one string; how FreeSWITCH cuts it (single quotes, backslash
escapes, nested brackets, the `^^<c>` custom delimiter) decides which channel variables a worker
really set. The simulator cuts lines the same way so that it catches the same quoting mistakes a
real switch would: for example, quotes are consumed by the first, blank-delimited split of an
`originate` line, so `{a='x,y'}` does not protect the comma there, while `{a=x\\,y}` does.
"""

from __future__ import annotations

from dataclasses import dataclass

ESCAPE = "\\"
QUOTE = "'"
#: What FreeSWITCH turns commas inside `[...]` into before it splits legs on commas
#: (`QUOTED_ESC_COMMA` / `UNQUOTED_ESC_COMMA` in switch_types.h).
QUOTED_ESC_COMMA = "\x01"
UNQUOTED_ESC_COMMA = "\x02"

_UNESCAPES = {"n": "\n", "r": "\r", "t": "\t", "s": " "}


def separate(buf: str, delim: str, limit: int = 1024) -> list[str]:
    """Split `buf` like `switch_separate_string(buf, delim, argv, limit)`.

    The last of `limit` pieces keeps the rest of the line unsplit, as in C. A line starting with
    `^^<c>` is split on `<c>` instead of `delim`.
    """
    if buf.startswith("^^") and len(buf) >= 4:
        delim, buf = buf[2], buf[3:]
    if delim == " ":
        return [cleanup(piece, None) for piece in _split_blank(buf, limit)]
    return [cleanup(piece, delim) for piece in _split_char(buf, delim, limit)]


def cleanup(token: str, delim: str | None) -> str:
    """Strip leading/trailing blanks and matched quotes; resolve backslash escapes."""
    out: list[str] = []
    keep = 0
    inside = False
    i = _skip_spaces(token, 0)
    while i < len(token):
        ch = token[i]
        escaped = _escaped_char(token, i, delim)
        if escaped is not None:
            out.append(escaped)
            keep = len(out)
            i += 2
            continue
        if ch == QUOTE and (inside or QUOTE in token[i + 1 :]):
            inside = not inside
            if inside:
                keep = len(out)
        else:
            out.append(ch)
            if ch != " " or inside:
                keep = len(out)
        i += 1
    return "".join(out[:keep])


def _escaped_char(token: str, i: int, delim: str | None) -> str | None:
    """The character a backslash at `i` stands for, or None if it is a literal backslash."""
    if token[i] != ESCAPE or i + 1 >= len(token):
        return None
    nxt = token[i + 1]
    if nxt in (QUOTE, '"', ESCAPE) or (delim is not None and nxt == delim):
        return nxt
    return _UNESCAPES.get(nxt)


def _skip_spaces(text: str, i: int) -> int:
    while i < len(text) and text[i] == " ":
        i += 1
    return i


def _split_char(buf: str, delim: str, limit: int) -> list[str]:
    pieces: list[str] = []
    start: int | None = None
    inside = False
    i = 0
    while i < len(buf) and (start is not None or len(pieces) < limit):
        if start is None:
            start = i
            if len(pieces) + 1 == limit:
                break
        ch = buf[i]
        if ch == ESCAPE:
            i += 1
        elif ch == QUOTE and (inside or QUOTE in buf[i + 1 :]):
            inside = not inside
        elif ch == delim and not inside:
            pieces.append(buf[start:i])
            start = None
        i += 1
    if start is not None:
        pieces.append(buf[start:])
    return pieces


@dataclass
class _BlankState:
    pieces: list[str]
    start: int | None = None
    inside: bool = False


def _split_blank(buf: str, limit: int) -> list[str]:
    state = _BlankState(pieces=[])
    i = 0
    while i < len(buf):
        if state.start is None:
            if len(state.pieces) == limit:
                break
            state.start = i
            if len(state.pieces) + 1 == limit:
                break
            i = _skip_spaces(buf, i)
            continue
        i = _blank_step(buf, i, state)
    if state.start is not None:
        state.pieces.append(buf[state.start :])
    return state.pieces


def _blank_step(buf: str, i: int, state: _BlankState) -> int:
    """Advance one character inside a blank-delimited token; close it on an unquoted space."""
    ch = buf[i]
    if ch == ESCAPE:
        return i + 2
    if ch == QUOTE:
        # Unlike the character splitter, the blank splitter toggles on any quote.
        state.inside = not state.inside
    elif ch == " " and not state.inside:
        assert state.start is not None
        state.pieces.append(buf[state.start : i])
        state.start = None
        return _skip_spaces(buf, i + 1)
    return i + 1


def find_end_paren(text: str, start: int, open_ch: str, close_ch: str) -> int | None:
    """Index of the bracket closing the one at `start` (after blanks): switch_find_end_paren."""
    i = _skip_spaces(text, start)
    if i >= len(text) or text[i] != open_ch:
        return None
    depth = 0
    for j in range(i, len(text)):
        if text[j] == open_ch and (open_ch != close_ch or j == i):
            depth += 1
        elif text[j] == close_ch:
            depth -= 1
            if depth == 0:
                return j
    return None


def parse_bracket_vars(inner: str, delim: str) -> list[tuple[str, str]]:
    """Channel variables of one `{...}`/`[...]` body, like switch_event_create_brackets."""
    if inner.startswith("^^") and len(inner) >= 3:
        delim, inner = inner[2], inner[3:]
    pairs: list[tuple[str, str]] = []
    for item in separate(inner, delim):
        name_value = separate(item, "=", 2)
        if len(name_value) == 2 and name_value[0]:
            pairs.append((name_value[0], name_value[1]))
    return pairs
