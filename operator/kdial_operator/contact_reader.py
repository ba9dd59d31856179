"""Reading a contact list source: bytes in, one record per data row out, in bounded memory.

The source arrives as chunks of bytes (a ConfigMap value cut into pieces, or an HTTP body as it
streams in) and leaves as records, one per data row, without the file ever being held whole:
what is buffered is one decoder state, at most one unfinished line and the lines of the row
being parsed (at most `MAX_ROW_LINES`).

Trouble comes in two sizes. A bad *row* becomes a `BadRow` with the line it starts on, and the
import goes on at the next line: wrong column count, a malformed quoted cell, a NUL byte, a line
longer than `MAX_LINE_CHARS` (dropped as it streams in, never held), a quote that does not close
cleanly (see below), a line of NDJSON that is not an object. A bad *file* raises `SourceError`
saying where and why: it is not a contact list at all (not the declared encoding, binary
content: a NUL byte on its first line that is not blank, an HTML page, no header, no phone
column).

An unbalanced quote: a quoted cell may hold line breaks, so a quote that never closes would
swallow every line after it. A row spanning lines is kept only when it reads cleanly (the quote
closes before end of file, within `MAX_ROW_LINES` lines, with the right number of cells and no
faulty line in it). Otherwise only the line that opened it is rejected (`UnbalancedQuote`) and
reading starts again at the line after it, so the rows it swallowed are read as rows.
"""

from __future__ import annotations

import codecs
import csv
import json
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from pydantic import JsonValue

from kdial.api.contactlist import ContactListSpec, CsvOptions, Encoding, ListFormat

#: A physical line longer than this is not a contact row (a 10 MB line is an attack or a
#: broken export); refusing it bounds what one row may cost.
MAX_LINE_CHARS = 1 << 20
#: The most physical lines one row may span (a quoted cell holding line breaks: an address, a
#: note). More is a quote that never closed.
MAX_ROW_LINES = 32
#: What the start of a source must not look like: an HTML page (a login form, an error page or a
#: portal's index served with 200 OK) is not a list, however many commas it holds.
_MARKUP = ("<!doctype", "<html", "<head", "<body", "<?xml")
_SNIFF_CHARS = 64
#: csv's own message for a field longer than csv.field_size_limit() (128 KiB by default). We
#: keep the process-wide default: it also bounds what a quote that never closes buffers.
_FIELD_LIMIT = "field larger than field limit"
_NUL = "\x00"


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
    """A data row that could not be read as a row; the import counts it as rejected. `line` is
    the source line it starts on (1 is the first line, the header of a CSV list)."""

    reason: str
    line: int


#: A data row as read: its cells by column name; text from CSV, any JSON value from NDJSON.
Row = dict[str, JsonValue]
Record = Row | BadRow


@dataclass(frozen=True, slots=True)
class _Fault:
    """A physical line that cannot be read, in place of its text (which is not kept)."""

    reason: str


_TOO_LONG = _Fault("LineTooLong")
_HAS_NUL = _Fault("NulByte")
#: A physical line: its text with its newline, or why it cannot be read.
_Line = str | _Fault


def records(
    chunks: Iterable[bytes], spec: ContactListSpec, encoding: Encoding | None = None
) -> Iterator[Record]:
    """One record per data row of the source. `encoding` overrides the spec's (a ConfigMap's
    value reaches us already decoded and re-encoded as UTF-8). NDJSON is UTF-8 (RFC 8259)."""
    if spec.format is ListFormat.NDJSON:
        return _ndjson(_text_file(_lines(_text(chunks, Encoding.UTF8))))
    return _csv(_text_file(_lines(_text(chunks, encoding or spec.csv.encoding))), spec)


def _text(chunks: Iterable[bytes], encoding: Encoding) -> Iterator[str]:
    # utf-8-sig drops a byte-order mark if there is one; GB18030 decodes its own BOM to U+FEFF,
    # which the first chunk loses below.
    codec = "utf-8-sig" if encoding is Encoding.UTF8 else "gb18030"
    decoder = codecs.getincrementaldecoder(codec)(errors="strict")
    offset, newlines, head = 0, 0, ""
    sniffed = False
    for chunk in chunks:
        try:
            text = decoder.decode(chunk)
        except UnicodeDecodeError as error:
            # The decoder reports positions in what it held back from the last chunk + this one.
            held = len(error.object) - len(chunk)
            before = bytes(error.object[: error.start])
            raise _wrong_encoding(
                encoding, offset - held + error.start, newlines + before.count(b"\n") + 1
            ) from None
        offset += len(chunk)
        newlines += chunk.count(b"\n")
        if not sniffed:
            head += text
            if len(head.lstrip()) < _SNIFF_CHARS:
                continue
            text, head, sniffed = _sniffed(head), "", True
        yield text
    try:
        text = decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        raise SourceError(
            "Truncated",
            f"the source ends (at byte {offset}) in the middle of a {encoding} character: the "
            f"file is truncated or not {encoding}",
        ) from None
    if not sniffed:
        text = _sniffed(head + text)
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


def _wrong_encoding(encoding: Encoding, offset: int, line: int) -> SourceError:
    hint = (
        "; Chinese exports are often GB18030: set spec.csv.encoding: GB18030"
        if encoding is Encoding.UTF8
        else ""
    )
    return SourceError(
        "WrongEncoding",
        f"byte {offset} of the source (line {line}) is not valid {encoding}{hint}",
    )


def _lines(texts: Iterable[str]) -> Iterator[_Line]:
    """Physical lines, each with its newline (csv needs it inside quoted cells). A line over
    MAX_LINE_CHARS is dropped as it arrives, never held, and comes out as `_TOO_LONG`."""
    tail, over = "", False
    for text in texts:
        parts = text.split("\n")
        for part in parts[:-1]:
            yield _line(tail + part + "\n", over)
            tail, over = "", False
        tail += parts[-1]
        # + 1: the tail may end in the "\r" of a "\r\n" still to come.
        if len(tail) > MAX_LINE_CHARS + 1:
            tail, over = "", True
    if tail or over:
        yield _line(tail, over)


def _line(text: str, over: bool) -> _Line:
    # The newline ("\n" or "\r\n") is not part of the line's length.
    newline = 2 if text.endswith("\r\n") else text.endswith("\n")
    if over or len(text) - newline > MAX_LINE_CHARS:
        return _TOO_LONG
    if _NUL in text:
        return _HAS_NUL
    return text


def _text_file(lines: Iterator[_Line]) -> Iterator[_Line]:
    """Lines of a text file: a NUL byte on the first line that is not blank says the source is
    binary (a spreadsheet, an archive, UTF-16), not a damaged list."""
    for number, line in enumerate(lines, start=1):
        if line is _HAS_NUL:
            raise SourceError(
                "BinaryContent",
                f"line {number} of the source holds NUL bytes: it is a binary file (a "
                "spreadsheet, an archive, UTF-16 text?), not CSV or NDJSON",
            )
        yield line
        if isinstance(line, _Fault) or line.strip():
            break
    yield from lines


class _Feed:
    """The lines csv reads, numbered. It keeps the lines of the row being read, so that a row
    gone wrong can be given back and read again from its second line, and it stops a row at
    MAX_ROW_LINES."""

    def __init__(self, lines: Iterator[_Line]) -> None:
        self._lines = lines
        self._again: deque[_Line] = deque()
        self.taken: list[_Line] = []
        #: The number of the last line handed out, and of the first line of the row being read.
        self.number = self.start = 0

    def __iter__(self) -> _Feed:
        return self

    def __next__(self) -> str:
        if len(self.taken) == MAX_ROW_LINES:
            raise _RowError("UnbalancedQuote")
        line = self._again.popleft() if self._again else next(self._lines)
        self.number += 1
        self.taken.append(line)
        if isinstance(line, _Fault):
            raise _RowError(line.reason)
        return line

    def next_row(self) -> None:
        self.taken = []
        self.start = self.number + 1

    def rejected(self, reason: str) -> BadRow:
        """The row just read is rejected. One that spans lines went wrong at its opening quote:
        its first line is rejected, and the lines after it are read again."""
        if len(self.taken) > 1:
            self._again.extendleft(reversed(self.taken[1:]))
            self.number = self.start
            return BadRow("UnbalancedQuote", self.start)
        return BadRow(reason, self.start)


class _RowError(Exception):
    """A row cannot be read; `reason` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _csv(lines: Iterator[_Line], spec: ContactListSpec) -> Iterator[Record]:
    options: CsvOptions = spec.csv
    # The quote character is a spec option once the API has it (`csv.quote`); until then, RFC
    # 4180's double quote.
    quote = str(getattr(options, "quote", '"'))
    if quote == options.delimiter:
        raise SourceError("InvalidDialect", "spec.csv: the delimiter and quote must differ")
    feed = _Feed(lines)
    # strict: a quote in the wrong place is an error, not a guess that shifts every cell after it.
    reader = csv.reader(feed, delimiter=options.delimiter, quotechar=quote, strict=True)
    header = _header(reader, feed, spec)
    width = len(header)
    while True:
        feed.next_row()
        try:
            row = next(reader)
        except StopIteration:
            return
        except _RowError as error:
            yield feed.rejected(error.reason)
            continue
        except csv.Error as error:
            yield feed.rejected(_csv_reason(str(error)))
            continue
        if not row:
            continue  # a blank line is no row
        if len(row) != width:
            # Too many cells is a delimiter inside an unquoted cell; too few, a cut-off row.
            # Either way the cells cannot be matched to their columns.
            yield feed.rejected("WrongColumnCount")
            continue
        yield dict(zip(header, row, strict=True))


def _csv_reason(message: str) -> str:
    if message.startswith("unexpected end of data"):
        return "UnbalancedQuote"
    if message.startswith(_FIELD_LIMIT):
        return "CellTooLong"
    return "MalformedRow"


def _header(reader: Any, feed: _Feed, spec: ContactListSpec) -> list[str]:
    try:
        header: list[str] = []
        while not header:
            feed.next_row()
            header = next(reader)
    except StopIteration:
        raise SourceError(
            "NoHeader", "the source is empty: a CSV list starts with a header row naming columns"
        ) from None
    except (_RowError, csv.Error) as error:
        line = feed.start
        why = _header_fault(error.reason) if isinstance(error, _RowError) else str(error)
        raise SourceError(
            "MalformedHeader", f"the header row (line {line}) cannot be read: {why}"
        ) from None
    header = [name.strip() for name in header]
    # A declared tags column that is absent is a misspelt spec, not a list without tags.
    tags_field = [spec.tags_field] if spec.tags_field else []
    wanted = [spec.phone_field, *tags_field, *(f.name for f in spec.fields if f.required)]
    missing = [name for name in wanted if name not in header]
    if missing:
        line = feed.start
        raise _missing_column(missing[0], header, line, spec.csv.delimiter)
    return header


def _header_fault(reason: str) -> str:
    if reason == "LineTooLong":
        return f"it is longer than {MAX_LINE_CHARS} characters (wrong delimiter, or not a list?)"
    return f"a quoted column name does not close within {MAX_ROW_LINES} lines"


def _missing_column(name: str, header: list[str], line: int, delimiter: str) -> SourceError:
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
        f"the header (line {line}) has no column {name!r} (read with delimiter {delimiter!r}, "
        f"it has {count}{hint}): check the field names in the spec and spec.csv.delimiter, and "
        "that the source is a contact list (its header is not shown: a file that is not a list "
        "may hold anything)",
    )


def _ndjson(lines: Iterator[_Line]) -> Iterator[Record]:
    for number, line in enumerate(lines, start=1):
        if isinstance(line, _Fault):
            yield BadRow(line.reason, number)
            continue
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except (ValueError, RecursionError):
            yield BadRow("InvalidJson", number)
            continue
        yield value if isinstance(value, dict) else BadRow("NotAnObject", number)
