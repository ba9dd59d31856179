"""Contact tags: the rule, how a cell splits, and what a row with tags imports as (pure)."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import JsonValue

from kdial import tags
from kdial.api.contactlist import ContactListSpec
from kdial.state.contact import Contact
from kdial.tags import BadTags
from kdial_operator import contact_import
from kdial_operator.contact_import import Rejection


@pytest.mark.parametrize(
    "tag",
    ["vip", "VIP", "q1", "高意向", "北区-2", "batch:2026-01-15", "2026-01-15", "v1.2.3", "a_b"],
)
def test_tags_the_rule_keeps(tag: str) -> None:
    assert tags.problem(tag) is None


@pytest.mark.parametrize(
    ("tag", "reason"),
    [
        ("", "InvalidTag"),
        ("x" * 64, "InvalidTag"),
        ("=cmd|' /C calc'!A0", "InvalidTag"),  # a spreadsheet formula
        ("+1", "InvalidTag"),
        ("-x", "InvalidTag"),
        ("@SUM", "InvalidTag"),
        ("two words", "InvalidTag"),
        ('say"hi', "InvalidTag"),
        ("<script>", "InvalidTag"),
        ("tab\there", "InvalidTag"),
        ("café", "InvalidTag"),  # outside the charset (documented: ASCII and CJK)
        ("13800001111", "NumberInTag"),
        ("cust13800001111", "NumberInTag"),
        ("138-0000-1111", "NumberInTag"),
        ("1234567", "NumberInTag"),
    ],
)
def test_tags_the_rule_refuses(tag: str, reason: str) -> None:
    assert tags.problem(tag) == reason


def test_six_digits_are_not_a_number_but_seven_are() -> None:
    assert tags.problem("z123456") is None
    assert tags.problem("z1234567") == "NumberInTag"


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("vip", ["vip"]),
        ("vip;north", ["vip", "north"]),
        ("vip, north | q1", ["vip", "north", "q1"]),
        ("vip north\tq1", ["vip", "north", "q1"]),
        ("高意向、北区", ["高意向", "北区"]),
        ("ＶＩＰ；北区，Ｑ１", ["VIP", "北区", "Q1"]),  # full-width forms read as ASCII
        (";;vip;;", ["vip"]),
        ("vip;vip;north;vip", ["vip", "north"]),  # each once, first place kept
        ("", []),
        ("  ", []),
    ],
)
def test_a_cell_splits_on_any_separator(cell: str, expected: list[str]) -> None:
    assert tags.split(cell) == expected
    assert tags.row_tags(cell) == expected


def test_an_ndjson_array_holds_one_tag_per_item() -> None:
    assert tags.row_tags(["vip", "高意向", " q1 ", "vip", ""]) == ["vip", "高意向", "q1"]
    assert tags.row_tags(None) == []
    assert tags.row_tags([]) == []


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (["vip", 3], "InvalidTag"),
        (["a,b"], "InvalidTag"),  # an item is one tag, so a separator inside is refused
        ([["nested"]], "InvalidTag"),
        (7, "InvalidTag"),
        ({"tag": "vip"}, "InvalidTag"),
        (True, "InvalidTag"),
        ("vip;13800001111", "NumberInTag"),
        ("vip;=1+1", "InvalidTag"),
        (";".join(f"t{i}" for i in range(tags.MAX_ROW_TAGS + 1)), "TooManyTags"),
        ([f"t{i}" for i in range(tags.MAX_ROW_TAGS + 1)], "TooManyTags"),
    ],
)
def test_tags_that_cannot_be_kept_raise_with_a_reason(value: Any, reason: str) -> None:
    with pytest.raises(BadTags) as caught:
        tags.row_tags(value)
    assert caught.value.reason == reason


def test_as_many_tags_as_allowed_are_kept() -> None:
    many = [f"t{i}" for i in range(tags.MAX_ROW_TAGS)]
    assert tags.row_tags(";".join(many)) == many


def test_merge_puts_the_lists_tags_first_and_each_once() -> None:
    assert tags.merge(["sales", "q1"], ["vip", "q1", "north"]) == ["sales", "q1", "vip", "north"]


# What a row with a tags column imports as (contact_import.check, no I/O).


def spec(**extra: Any) -> ContactListSpec:
    doc = {"source": {"configMap": {"name": "s", "key": "k"}}, "defaultRegion": "CN"}
    return ContactListSpec.model_validate(doc | extra)


def check(record: dict[str, Any], **extra: Any) -> Contact | Rejection:
    return contact_import.check(record, spec(**extra), b"key")


def test_row_tags_follow_the_lists_on_the_contact() -> None:
    listed = spec(tags=["sales", "q1"], tagsField="segment")
    contact = contact_import.check(
        {"phone": "13800001111", "segment": "vip;q1;north"}, listed, b"key"
    )
    assert isinstance(contact, Contact)
    assert contact.tags == ("sales", "q1", "vip", "north")
    assert contact_import.row_tags_of(contact, listed) == ["vip", "north"]
    assert Contact.decode(contact.encode()) == contact  # what the worker reads back


def test_a_row_without_tags_has_the_lists_only() -> None:
    for record in ({"phone": "13800001111", "segment": ""}, {"phone": "13800001111"}):
        contact = check(record, tags=["sales"], tagsField="segment")
        assert isinstance(contact, Contact)
        assert contact.tags == ("sales",)


def test_without_a_tags_field_a_tags_column_is_just_a_column() -> None:
    contact = check({"phone": "13800001111", "tags": "vip"}, tags=["sales"])
    assert isinstance(contact, Contact) and contact.tags == ("sales",)


@pytest.mark.parametrize(
    ("cell", "reason"),
    [
        ("vip;13912345678", "NumberInTag:segment"),
        ("=HYPERLINK()", "InvalidTag:segment"),
        (";".join(f"t{i}" for i in range(17)), "TooManyTags:segment"),
    ],
)
def test_a_bad_tag_rejects_the_row_with_a_reason_and_no_tag_in_it(cell: str, reason: str) -> None:
    rejected = check({"phone": "13800001111", "segment": cell}, tagsField="segment")
    assert rejected == Rejection(reason, "13800001111")


def test_import_rows_counts_contacts_with_row_tags() -> None:
    listed = spec(tags=["sales"], tagsField="segment")
    records: list[dict[str, JsonValue]] = [
        {"phone": "13800001111", "segment": "vip"},
        {"phone": "13800002222", "segment": "sales"},  # the list's tag already: nothing added
        {"phone": "13800003333", "segment": ""},
        {"phone": "13800001111", "segment": "north"},  # a duplicate: dropped, not counted
    ]
    result = contact_import.import_rows(records, listed, b"key")
    assert result.as_dict() == {
        "read": 4,
        "imported": 3,
        "rejected": 0,
        "duplicates": 1,
        "tagged": 1,
    }
    assert contact_import.import_rows(records, spec(), b"key").tagged is None
