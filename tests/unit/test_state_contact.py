"""kdial.state.contact: the contact record's one codec, import to worker."""

from __future__ import annotations

import json

import pytest

from kdial.state.contact import BadContact, Contact

FULL = Contact(
    "+8613800001111",
    id="c1",
    time_zones=("Asia/Shanghai",),
    region="CN",
    province="Guangdong",
    city="Guangzhou",
    carrier="China Mobile",
    network="cn-china-mobile",
    fields={"name": "王芳", "age": 41, "vip": True},
    tags=("sales", "vip"),
)


def test_a_contact_reads_back_as_written() -> None:
    assert Contact.decode(FULL.encode()) == FULL


def test_the_wire_names_are_those_lists_already_in_redis_use() -> None:
    stored = json.loads(FULL.encode())
    assert set(stored) == {
        "schemaVersion",
        "id",
        "number",
        "timeZones",
        "region",
        "province",
        "city",
        "carrier",
        "network",
        "fields",
        "tags",
    }
    assert stored["timeZones"] == ["Asia/Shanghai"] and stored["fields"]["name"] == "王芳"
    assert "王芳" in FULL.encode(), "text stays readable, not escaped"


def test_a_record_with_only_a_number_takes_the_defaults() -> None:
    # A row written straight into Redis, past the import (the worker still validates it).
    assert Contact.decode('{"number": "+8613800001111", "region": null}') == Contact(
        "+8613800001111"
    )


@pytest.mark.parametrize("raw", ["{", "[]", "{}", '{"number": 8613800001111}'])
def test_a_stored_value_that_is_no_contact_is_refused(raw: str) -> None:
    with pytest.raises(BadContact):
        Contact.decode(raw)


def test_a_record_from_before_networks_gets_its_network_from_its_carrier() -> None:
    old = json.loads(FULL.encode())
    del old["network"], old["schemaVersion"]
    assert Contact.decode(json.dumps(old)).network == "cn-china-mobile"
    assert Contact.decode('{"number": "+862012345678", "region": "CN"}').network == "unknown"
