"""The streaming reader: bytes in any chunking -> the same rows; a broken row -> a BadRow with
its line, and reading goes on; a source that is no list -> SourceError saying where."""

from __future__ import annotations

import json
import tracemalloc
from collections.abc import Iterator
from typing import Any

import pytest

from kdial.api.contactlist import ContactListSpec
from kdial_operator import contact_reader
from kdial_operator.contact_reader import BadRow, SourceError


def spec(**extra: Any) -> ContactListSpec:
    doc = {"source": {"configMap": {"name": "s", "key": "k"}}, "defaultRegion": "CN"} | extra
    return ContactListSpec.model_validate(doc)


def chunked(data: bytes, size: int) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def read(data: bytes, size: int = 7, **extra: Any) -> list[Any]:
    return list(contact_reader.records(chunked(data, size), spec(**extra)))


def fails(data: bytes, **extra: Any) -> SourceError:
    with pytest.raises(SourceError) as caught:
        read(data, size=4096, **extra)
    return caught.value


CSV = 'phone,name,note\n13800001111,张三,"a, b"\n13800002222,Bo,"two\nlines"\n'


@pytest.mark.parametrize("size", [1, 2, 3, 5, 64, 1 << 16])
@pytest.mark.parametrize(
    ("encoded", "extra"),
    [
        (CSV.encode(), {}),
        (b"\xef\xbb\xbf" + CSV.encode(), {}),  # UTF-8 with a byte-order mark
        (CSV.encode("gb18030"), {"csv": {"encoding": "GB18030"}}),
        ("\ufeff".encode("gb18030") + CSV.encode("gb18030"), {"csv": {"encoding": "GB18030"}}),
    ],
    ids=["utf8", "utf8-bom", "gb18030", "gb18030-bom"],
)
def test_any_chunking_and_encoding_gives_the_same_rows(
    encoded: bytes, extra: dict[str, Any], size: int
) -> None:
    rows = read(encoded, size, **extra)
    assert rows == [
        {"phone": "13800001111", "name": "张三", "note": "a, b"},
        {"phone": "13800002222", "name": "Bo", "note": "two\nlines"},
    ]


@pytest.mark.parametrize("delimiter", [";", "\t", "|"])
def test_the_delimiter_is_configurable(delimiter: str) -> None:
    text = 'phone;name\n"13800001111";"Ann; the first"\r\n13800002222;Bo\r\n'
    rows = read(text.replace(";", delimiter).encode(), csv={"delimiter": delimiter})
    assert rows == [
        {"phone": "13800001111", "name": f"Ann{delimiter} the first"},
        {"phone": "13800002222", "name": "Bo"},
    ]


def test_the_quote_must_differ_from_the_delimiter() -> None:
    assert fails(b"phone\n", csv={"delimiter": '"'}).reason == "InvalidDialect"


def test_rows_that_cannot_be_matched_to_columns_are_bad_rows_not_a_bad_file() -> None:
    data = (
        b"phone,name\n13800001111,Ann\n13800002222,Bo,extra\n13800003333\n\n"
        b'13800004444,"Di"x\n13800005555,O"Brien\n'
    )
    rows = read(data)
    assert rows == [
        {"phone": "13800001111", "name": "Ann"},
        BadRow("WrongColumnCount", 3),
        BadRow("WrongColumnCount", 4),
        BadRow("MalformedRow", 6),  # text after a closing quote
        {"phone": "13800005555", "name": 'O"Brien'},  # a quote inside a cell is just a quote
    ]


def test_ndjson_rows() -> None:
    lines = [
        json.dumps({"phone": "13800001111", "name": "张三"}, ensure_ascii=False),
        "",
        "{not json",
        "[1, 2]",
        json.dumps({"phone": 13800002222}),
        "[" * 100_000,  # nesting deep enough to exhaust the parser's recursion
    ]
    rows = read("\n".join(lines).encode(), format="NDJSON")
    assert rows == [
        {"phone": "13800001111", "name": "张三"},
        BadRow("InvalidJson", 3),
        BadRow("NotAnObject", 4),
        {"phone": 13800002222},
        BadRow("InvalidJson", 6),
    ]


def test_gb18030_read_as_utf8_says_which_encoding_to_set() -> None:
    error = fails(CSV.encode("gb18030"))
    assert error.reason == "WrongEncoding"
    assert "spec.csv.encoding: GB18030" in error.message
    assert not error.transient


def test_a_file_cut_inside_a_character_is_truncated() -> None:
    error = fails(CSV.encode()[: CSV.encode().index("张".encode()) + 1])
    assert error.reason == "Truncated"


def test_an_html_page_is_not_a_list() -> None:
    page = b"\n  <!DOCTYPE html><html><head><title>Sign in</title></head><body>a,b</body></html>"
    assert fails(page).reason == "NotAList"


GOOD = {"phone": "13800009999", "name": "Zed"}


def test_a_nul_byte_rejects_its_row_and_reading_goes_on() -> None:
    data = b"phone,name\n13800001111,Ann\n13800002222,B\x00o\n\x00\n13800009999,Zed\n"
    assert read(data) == [
        {"phone": "13800001111", "name": "Ann"},
        BadRow("NulByte", 3),
        BadRow("NulByte", 4),
        GOOD,
    ]


def test_ndjson_lines_with_nul_bytes_or_over_long_are_bad_rows() -> None:
    long = b'{"phone": "' + b"1" * contact_reader.MAX_LINE_CHARS + b'"}'
    data = b'{"phone": "13800001111"}\n{"phone": "1\x00"}\n' + long + b"\n" + b'{"a": 1}'
    assert read(data, size=65536, format="NDJSON") == [
        {"phone": "13800001111"},
        BadRow("NulByte", 2),
        BadRow("LineTooLong", 3),
        {"a": 1},
    ]


def test_a_10_mb_line_is_a_bad_row_read_past_in_bounded_memory() -> None:
    def source() -> Iterator[bytes]:
        yield b"phone,name\n13800001111,"
        for _ in range(160):  # 10 MiB without a newline
            yield b"x" * 65536
        yield b"\n13800009999,Zed\n"

    tracemalloc.start()
    try:
        rows = list(contact_reader.records(source(), spec()))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert rows == [BadRow("LineTooLong", 2), GOOD]
    # The line is dropped as it streams in: what is held stays near one line's worth.
    assert peak < 4 * contact_reader.MAX_LINE_CHARS


@pytest.mark.parametrize(("extra", "long"), [(0, False), (1, True)])
def test_the_line_limit_counts_characters_without_the_newline(extra: int, long: bool) -> None:
    # Ten cells, each under csv's own cell limit, filling the line to the limit (or one over).
    cell, rest = divmod(contact_reader.MAX_LINE_CHARS - len("13800001111") - 10, 10)
    cells = ["x" * (cell + rest + extra)] + ["x" * cell] * 9
    line = ",".join(["13800001111", *cells])
    header = ",".join(["phone", *"abcdefghij"])
    rows = read(f"{header}\n{line}\r\n".encode(), size=65536)
    assert rows == (
        [BadRow("LineTooLong", 2)]
        if long
        else [dict(zip(header.split(","), ["13800001111", *cells], strict=True))]
    )


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        # never closes: runs to the end of the file
        (
            b'phone,name\n13800001111,"Ann\n13800002222,Bo\n',
            [BadRow("UnbalancedQuote", 2), {"phone": "13800002222", "name": "Bo"}],
        ),
        # closes, wrongly: on a later row, with text after it
        (
            b'phone,name\n13800001111,"Ann\n13800002222,"Bo"\n13800009999,Zed\n',
            [BadRow("UnbalancedQuote", 2), {"phone": "13800002222", "name": "Bo"}, GOOD],
        ),
        # closes on a later line, leaving too few cells
        (
            b'phone,name,note\n13800001111,"Ann\n13800002222,Bo"\n13800009999,Zed,\n',
            [
                BadRow("UnbalancedQuote", 2),
                BadRow("WrongColumnCount", 3),
                {"phone": "13800009999", "name": "Zed", "note": ""},
            ],
        ),
        # the last line opens a quote
        (b'phone,name\n13800009999,Zed\n13800001111,"Ann', [GOOD, BadRow("UnbalancedQuote", 3)]),
        # a quoted cell spanning lines that reach a NUL byte
        (
            b'phone,name\n13800001111,"Ann\n\x00\nsmith"\n13800009999,Zed\n',
            [
                BadRow("UnbalancedQuote", 2),
                BadRow("NulByte", 3),
                BadRow("WrongColumnCount", 4),
                GOOD,
            ],
        ),
    ],
    ids=["at-end", "mid-file", "wrong-width", "last-line", "nul-inside"],
)
def test_an_unbalanced_quote_rejects_the_line_that_opened_it(
    data: bytes, expected: list[Any]
) -> None:
    assert read(data) == expected


def test_an_unbalanced_quote_cannot_swallow_the_rows_after_it() -> None:
    data = b'phone,name\n13800001111,"Ann\n' + b"13800002222,Bo\n" * 20_000
    rows = read(data, size=4096)
    assert rows[0] == BadRow("UnbalancedQuote", 2)
    assert rows[1:] == [{"phone": "13800002222", "name": "Bo"}] * 20_000


def test_a_quoted_cell_may_span_up_to_max_row_lines() -> None:
    lines = contact_reader.MAX_ROW_LINES
    note = "\n".join(["l"] * lines)
    ok = f'phone,note\n13800001111,"{note}"\n'.encode()
    assert read(ok) == [{"phone": "13800001111", "note": note}]
    over = f'phone,note\n13800001111,"{note}\nl"\n13800009999,Zed\n'.encode()
    rows = read(over)
    assert rows[0] == BadRow("UnbalancedQuote", 2)
    assert rows[-1] == {"phone": "13800009999", "note": "Zed"}


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "NoHeader"),
        (b"\n\n", "NoHeader"),
        (b"mobile,name\n13800001111,Ann\n", "MissingColumn"),
    ],
)
def test_files_that_are_not_lists(data: bytes, reason: str) -> None:
    assert fails(data).reason == reason


@pytest.mark.parametrize(
    ("data", "line"),
    [
        (b"PK\x03\x04\x14\x00\x06\x00phone,name\n", 1),  # a zip archive (an .xlsx workbook)
        ("\nphone,name\n".encode("utf-16-le"), 2),  # UTF-16: "\n" then "\x00..."
    ],
    ids=["xlsx", "utf-16"],
)
def test_a_nul_byte_on_the_first_line_is_a_binary_file(data: bytes, line: int) -> None:
    error = fails(data)
    assert error.reason == "BinaryContent"
    assert error.message.startswith(f"line {line} of the source holds NUL bytes")


@pytest.mark.parametrize("fmt", ["CSV", "NDJSON"])
def test_a_wrong_encoding_says_which_byte_and_line(fmt: str) -> None:
    data = CSV.encode("gb18030")
    error = fails(b"\n" * 3 + data, format=fmt)
    offset = 3 + data.index("张".encode("gb18030"))
    assert error.reason == "WrongEncoding"
    assert f"byte {offset} of the source (line 5)" in error.message


def test_a_header_that_cannot_be_read_says_its_line() -> None:
    error = fails(b'\nphone,"name\n13800001111,Ann\n')
    assert error.reason == "MalformedHeader"
    assert "line 2" in error.message
    long = b"phone," + b"x" * contact_reader.MAX_LINE_CHARS + b"\n13800001111\n"
    error = fails(long)
    assert (error.reason, "line 1") == ("MalformedHeader", "line 1")
    assert "longer than" in error.message


def test_a_required_field_missing_from_the_header_fails_the_file() -> None:
    error = fails(b"phone,age\n13800001111,3\n", fields=[{"name": "name", "required": True}])
    assert error.reason == "MissingColumn"
    assert "'name'" in error.message


def test_a_tags_column_missing_from_the_header_fails_the_file() -> None:
    error = fails(b"phone,segments\n13800001111,vip\n", tagsField="segment")
    assert error.reason == "MissingColumn"
    assert "'segment'" in error.message


def test_a_header_without_the_columns_is_not_quoted_back() -> None:
    """What an internal URL answered (a token, a config line) is no list: status must not
    repeat it."""
    error = fails(b"internal-admin-token=8f2e1c0d,scope=all\n")
    assert error.reason == "MissingColumn"
    assert "'phone'" in error.message and "2 columns" in error.message
    assert "8f2e1c0d" not in error.message and "admin" not in error.message
    assert "scope" not in error.message


def test_a_column_named_in_other_letter_case_is_hinted_at() -> None:
    error = fails(b"Phone,Name\n13800001111,Ann\n")
    assert error.reason == "MissingColumn"
    assert "other letter case" in error.message
    assert "other letter case" not in fails(b"mobile,name\n13800001111,Ann\n").message
