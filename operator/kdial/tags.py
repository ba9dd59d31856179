"""Contact tags: what a tag may be, and how a cell of a business's file becomes tags (pure).

Tags label contacts for routing rules and reports ("vip", "north", "高意向"). They come from
the list (`spec.tags`, on every contact) and from each row (the column `spec.tagsField`
names). Row tags are free text from a business's file, so they are held to a narrow rule
before anything keeps them, and the same rule holds for the list's own tags:

- **Characters**: ASCII letters and digits, CJK ideographs, and `-`, `_`, `.`, `:` inside a
  tag; the first character is a letter, digit or ideograph. So a tag is never a spreadsheet
  formula (`=`, `+`, `-`, `@` first), never holds a separator, a quote or a space, and is
  safe in a Redis hash field, a log line, a label value or a CSV report.
- **Length**: 1 to `MAX_TAG_CHARS` characters.
- **No phone numbers**: a tag holding seven or more digits in a row, also with `-` or `.`
  between them (`kdial.privacy.has_number`, whatever words surround them) is refused, so a
  number typed into the tag column can never reach status, where tags are shown unmasked.
  ISO dates (`2026-01-15`) are not numbers and pass.

A cell is split on any run of `,` `;` `|` `、` and whitespace, after NFKC normalisation (so
full-width letters, digits and separators read as their ASCII forms: `ＶＩＰ；北区` is `VIP`
and `北区`). Empty pieces are ignored and a tag given twice counts once; order is kept. A row
with more than `MAX_ROW_TAGS` tags, or any tag breaking the rule, is rejected whole with a
reason: dropping a tag quietly would change the routing of a contact nobody was told about.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from typing import Any

from kdial.privacy import has_number

__all__ = [
    "MAX_ROW_TAGS",
    "MAX_TAG_CHARS",
    "TAG_PATTERN",
    "BadTags",
    "merge",
    "problem",
    "row_tags",
    "split",
]

MAX_TAG_CHARS = 63
MAX_ROW_TAGS = 16

# Literal characters, not escapes, in the class: the pattern is also the CRD's, and the API
# server's Go regexp, Python's re and pydantic's Rust regex read `\u` and `\x{}` differently
# but a literal character the same way. The ranges are CJK Unified Ideographs and Extension A.
_START = "A-Za-z0-9\u3400-\u4dbf\u4e00-\u9fff"
TAG_PATTERN = f"^[{_START}][{_START}_.:-]*$"
_TAG = re.compile(TAG_PATTERN)
_SEPARATORS = re.compile(r"[\s,;|\u3001]+")


class BadTags(ValueError):
    """A row's tags that cannot be kept. `reason` is a CamelCase word (rejection counts)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def problem(tag: str) -> str | None:
    """Why `tag` is not a tag (`InvalidTag` or `NumberInTag`), or None when it is one."""
    if not (0 < len(tag) <= MAX_TAG_CHARS) or not _TAG.match(tag):
        return "InvalidTag"
    if has_number(tag):
        return "NumberInTag"
    return None


def split(cell: str) -> list[str]:
    """The tags written in one cell, normalised, in order, each once (not yet checked)."""
    pieces = _SEPARATORS.split(unicodedata.normalize("NFKC", cell))
    return list(dict.fromkeys(p for p in pieces if p))


def row_tags(value: Any) -> list[str]:
    """A row's tags from its tags cell: a CSV cell or NDJSON string (split), an NDJSON array of
    strings (one tag each), or nothing (None or empty). Raises `BadTags`."""
    if value is None:
        return []
    if isinstance(value, str):
        tags = split(value)
    elif isinstance(value, list):
        if not all(isinstance(item, str) for item in value):
            raise BadTags("InvalidTag")
        # An array says where each tag ends, so its items are not split again: one that
        # holds a separator is simply not a tag.
        normalised = (unicodedata.normalize("NFKC", item).strip() for item in value)
        tags = list(dict.fromkeys(t for t in normalised if t))
    else:
        raise BadTags("InvalidTag")  # a number, an object, a boolean: not tags
    if len(tags) > MAX_ROW_TAGS:
        raise BadTags("TooManyTags")
    for tag in tags:
        reason = problem(tag)
        if reason is not None:
            raise BadTags(reason)
    return tags


def merge(list_tags: Sequence[str], row: Iterable[str]) -> list[str]:
    """A contact's tags: the list's, then the row's that the list does not already give."""
    return list(dict.fromkeys([*list_tags, *row]))
