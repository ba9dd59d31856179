"""Reading a contact list source: bytes in, one record per data row out, in bounded memory.

The source arrives as chunks of bytes (a ConfigMap value cut into pieces, or an HTTP body as it
streams in) and leaves as records, one per data row, without the file ever being held whole:
what is buffered is one decoder state, at most one unfinished line and the row being parsed.

Trouble comes in two sizes. A bad *row* (wrong column count, a malformed quoted cell, a line of
NDJSON that is not an object) becomes a `BadRow` and the import goes on. A bad *file* (not the
declared encoding, an HTML page, a line longer than `MAX_LINE_CHARS`, a quote that never closes,
binary content, no header) raises `SourceError`: the rest of it cannot be trusted, so the import
stops and the list keeps what it had.
"""

from __future__ import annotations

import codecs
import csv
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from kdial.api.contactlist import ContactListSpec, CsvOptions, Encoding, ListFormat

#: A physical line longer than this is not a contact row (a 10 MB line is an attack or a
#: broken export); refusing it bounds what one row may cost.
MAX_LINE_CHARS = 1 << 20
#: What the start of a source must not look like: an HTML page (a login form, an error page or a
#: portal's index served with 200 OK) is not a list, however many commas it holds.
_MARKUP = ("<!doctype", "<html", "<head", "<body", "<?xml")
_SNIFF_CHARS = 64
#: csv's own message for a field longer than csv.field_size_limit() (128 KiB by default). We
#: keep the process-wide default: it also bounds a quoted field that never closes.
_FIELD_LIMIT = "field larger than field limit"


class SourceError(Exception):
    """The source as a whole cannot be imported. `reason` is a CamelCase word for conditions and
    counts; the message says what to do and never repeats the source's content. A transient
    error (the server was down) is worth retrying as it is; others need the source fixed."""

    def __init__(self, reason: str, message: str, *, transient: bool = False) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.transient = transient


@dataclass(frozen=True, slots=True)
class BadRow:
    """A data row that could not be read as a row; the import counts it as rejected."""

    reason: str


Record = dict[str, Any] | BadRow


def records(
    chunks: Iterable[bytes], spec: ContactListSpec, encoding: Encoding | None = None
) -> Iterator[Record]:
    """One record per data row of the source. `encoding` overrides the spec's (a ConfigMap's
    value reaches us already decoded and re-encoded as UTF-8). NDJSON is UTF-8 (RFC 8259)."""
    if spec.format is ListFormat.NDJSON:
        return _ndjson(_lines(_text(chunks, Encoding.UTF8)))
    return _csv(_lines(_text(chunks, encoding or spec.csv.encoding)), spec)


def _text(chunks: Iterable[bytes], encoding: Encoding) -> Iterator[str]:
    # utf-8-sig drops a byte-order mark if there is one; GB18030 decodes its own BOM to U+FEFF,
    # which the first chunk loses below.
    codec = "utf-8-sig" if encoding is Encoding.UTF8 else "gb18030"
    decoder = codecs.getincrementaldecoder(codec)(errors="strict")
    offset, head = 0, ""
    sniffed = False
    for chunk in chunks:
        try:
            text = decoder.decode(chunk)
        except UnicodeDecodeError as error:
            raise _wrong_encoding(encoding, offset + error.start) from None
        offset += len(chunk)
        if not sniffed:
            head += text
            if len(head.lstrip()) < _SNIFF_CHARS:
                continue
            text, head, sniffed = _sniffed(head), "", True
        if "\x00" in text:
            raise _binary()
        yield text
    try:
        text = decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        raise SourceError(
            "Truncated",
            f"the source ends in the middle of a {encoding} character: the file is truncated "
            f"or not {encoding}",
        ) from None
    if not sniffed:
        text = _sniffed(head + text)
    if "\x00" in text:
        raise _binary()
    yield text


def _sniffed(head: str) -> str:
    head = head.removeprefix("\ufeff")
    if head.lstrip()[:_SNIFF_CHARS].lower().startswith(_MARKUP):
        raise SourceError(
            "NotAList",
            "the source is an HTML or XML page, not CSV or NDJSON (a login or error page "
            "served instead of the file?)",
        )
    return head


def _wrong_encoding(encoding: Encoding, offset: int) -> SourceError:
    hint = (
        "; Chinese exports are often GB18030: set spec.csv.encoding: GB18030"
        if encoding is Encoding.UTF8
        else ""
    )
    return SourceError(
        "WrongEncoding", f"byte {offset} of the source is not valid {encoding}{hint}"
    )


def _binary() -> SourceError:
    return SourceError("BinaryContent", "the source contains NUL bytes: it is not a text file")


def _lines(texts: Iterable[str]) -> Iterator[str]:
    """Physical lines, each with its newline (csv needs it inside quoted cells)."""
    tail = ""
    for text in texts:
        if "\n" not in text:
            tail += text
            if len(tail) > MAX_LINE_CHARS:
                raise _too_long()
            continue
        parts = (tail + text).split("\n")
        tail = parts.pop()
        if len(tail) > MAX_LINE_CHARS or max(map(len, parts)) > MAX_LINE_CHARS:
            raise _too_long()
        for part in parts:
            yield part + "\n"
    if tail:
        yield tail


def _too_long() -> SourceError:
    return SourceError(
        "LineTooLong",
        f"the source has a line longer than {MAX_LINE_CHARS} characters: not a contact row "
        "(wrong delimiter, or not a list at all?)",
    )


def _csv(lines: Iterator[str], spec: ContactListSpec) -> Iterator[Record]:
    options: CsvOptions = spec.csv
    # The quote character is a spec option once the API has it (`csv.quote`); until then, RFC
    # 4180's double quote.
    quote = str(getattr(options, "quote", '"'))
    if quote == options.delimiter:
        raise SourceError("InvalidDialect", "spec.csv: the delimiter and quote must differ")
    # strict: a quote in the wrong place is an error, not a guess that shifts every cell after it.
    reader = csv.reader(lines, delimiter=options.delimiter, quotechar=quote, strict=True)
    header = _header(reader, spec)
    width = len(header)
    while True:
        before = reader.line_num
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            yield _bad_csv(str(error), before, reader.line_num)
            continue
        if not row:
            continue  # a blank line is no row
        if len(row) != width:
            # Too many cells is a delimiter inside an unquoted cell; too few, a cut-off row.
            # Either way the cells cannot be matched to their columns.
            yield BadRow("WrongColumnCount")
            continue
        yield dict(zip(header, row, strict=True))


def _header(reader: Any, spec: ContactListSpec) -> list[str]:
    try:
        header = next(reader)
        while not header:
            header = next(reader)
    except StopIteration:
        raise SourceError(
            "NoHeader", "the source is empty: a CSV list starts with a header row naming columns"
        ) from None
    except csv.Error as error:
        raise SourceError("MalformedHeader", f"the header row cannot be read: {error}") from None
    header = [name.strip() for name in header]
    # A declared tags column that is absent is a misspelt spec, not a list without tags.
    tags_field = [spec.tags_field] if spec.tags_field else []
    wanted = [spec.phone_field, *tags_field, *(f.name for f in spec.fields if f.required)]
    missing = [name for name in wanted if name not in header]
    if missing:
        raise _missing_column(missing[0], header, spec.csv.delimiter)
    return header


def _missing_column(name: str, header: list[str], delimiter: str) -> SourceError:
    # The header is not quoted: a source without the columns a list needs has not shown it is
    # a list, and may be anything the URL reached (a token, a config file). Only what can be
    # said without repeating it is.
    hint = (
        "; one column has that name in other letter case"
        if any(h.casefold() == name.casefold() for h in header)
        else ""
    )
    count = f"{len(header)} column{'s' if len(header) != 1 else ''}"
    return SourceError(
        "MissingColumn",
        f"the header has no column {name!r} (read with delimiter {delimiter!r}, it has "
        f"{count}{hint}): check the field names in the spec and spec.csv.delimiter, and that "
        "the source is a contact list (its header is not shown: a file that is not a list may "
        "hold anything)",
    )


def _bad_csv(message: str, before: int, after: int) -> BadRow:
    if message.startswith("unexpected end of data") or after - before > 1:
        # The cell opened a quote that swallowed the lines after it: nothing after that point
        # is what the file meant, so the whole import stops.
        raise SourceError(
            "UnbalancedQuotes",
            f"a quoted cell opened on line {before + 1} never closes properly "
            "(unbalanced quotes, or a truncated file)",
        )
    if message.startswith(_FIELD_LIMIT):
        return BadRow("CellTooLong")
    return BadRow("MalformedRow")


def _ndjson(lines: Iterator[str]) -> Iterator[Record]:
    for line in lines:
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except (ValueError, RecursionError):
            yield BadRow("InvalidJson")
            continue
        yield value if isinstance(value, dict) else BadRow("NotAnObject")
