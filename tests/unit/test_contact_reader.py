"""The streaming reader: bytes in any chunking -> the same rows; a broken file -> SourceError."""

from __future__ import annotations

import json
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
        BadRow("WrongColumnCount"),
        BadRow("WrongColumnCount"),
        BadRow("MalformedRow"),  # text after a closing quote
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
        BadRow("InvalidJson"),
        BadRow("NotAnObject"),
        {"phone": 13800002222},
        BadRow("InvalidJson"),
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


def test_a_10_mb_line_is_refused_without_reading_the_rest() -> None:
    produced = 0

    def endless() -> Iterator[bytes]:
        nonlocal produced
        yield b"phone,name\n13800001111,"
        while True:
            produced += 1
            yield b"x" * 65536

    with pytest.raises(SourceError) as caught:
        list(contact_reader.records(endless(), spec()))
    assert caught.value.reason == "LineTooLong"
    assert produced * 65536 < 2 * contact_reader.MAX_LINE_CHARS + 65536


@pytest.mark.parametrize(
    "data",
    [
        b'phone,name\n13800001111,"Ann\n13800002222,Bo\n',  # never closes: runs to the end
        b'phone,name\n13800001111,"Ann\n13800002222,"Bo"\n13800003333,Cy\n',  # closes, wrongly
    ],
    ids=["at-end", "mid-file"],
)
def test_unbalanced_quotes_fail_the_file(data: bytes) -> None:
    error = fails(data)
    assert error.reason == "UnbalancedQuotes"
    assert "line 2" in error.message


def test_an_unbalanced_quote_cannot_swallow_megabytes() -> None:
    data = b'phone,name\n13800001111,"Ann\n' + b"13800002222,Bo\n" * 20_000
    assert fails(data).reason == "UnbalancedQuotes"


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "NoHeader"),
        (b"\n\n", "NoHeader"),
        (b"mobile,name\n13800001111,Ann\n", "MissingColumn"),
        (b"phone,name\x00\n", "BinaryContent"),
    ],
)
def test_files_that_are_not_lists(data: bytes, reason: str) -> None:
    assert fails(data).reason == reason


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
