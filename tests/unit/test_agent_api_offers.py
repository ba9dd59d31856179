"""What an agent is shown of the call offered to them (pure)."""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

from kdial.api.contactlist import ContactListSpec
from kdial.state.contact import Contact
from kdial_api.offers import shown

CONTACT = Contact(
    number="+8613800138101",
    fields=MappingProxyType({"name": "Ana Li", "plan": "Fiber 300M", "balance": 129, "vip": True}),
)


def spec(**overrides: Any) -> ContactListSpec:
    return ContactListSpec.model_validate(
        {
            "source": {"configMap": {"name": "s", "key": "k"}},
            "defaultRegion": "CN",
            "fields": [{"name": "name"}, {"name": "plan"}, {"name": "balance"}, {"name": "vip"}],
        }
        | overrides
    )


def test_only_listed_fields_show_in_the_lists_order_the_number_partial_by_default() -> None:
    listed = spec(display=[{"name": "plan"}, {"name": "name"}])
    assert shown(CONTACT, listed) == {
        "phone": "+86138****8101",
        "plan": "Fiber 300M",
        "name": "Ana Li",
    }
    assert list(shown(CONTACT, listed)) == ["phone", "plan", "name"]


def test_each_field_is_masked_as_the_list_says() -> None:
    listed = spec(
        display=[
            {"name": "name", "mask": "Full"},
            {"name": "phone", "mask": "Full"},
            {"name": "balance", "mask": "Partial"},
            {"name": "vip", "mask": "Clear"},
        ]
    )
    assert shown(CONTACT, listed) == {
        "name": "****",
        "phone": "****",
        "balance": "**9",
        "vip": True,
    }


def test_the_number_shows_in_clear_only_when_the_list_says_so() -> None:
    assert shown(CONTACT, spec(display=[{"name": "phone", "mask": "Clear"}])) == {
        "phone": "+8613800138101"
    }


def test_the_phone_field_is_whatever_the_list_names_it() -> None:
    listed = spec(phoneField="mobile", display=[{"name": "mobile"}])
    assert shown(CONTACT, listed) == {"mobile": "+86138****8101"}


def test_without_a_readable_list_only_the_masked_number_shows() -> None:
    assert shown(CONTACT, None) == {"phone": "+86138****8101"}


def test_a_listed_field_the_contact_lacks_is_left_out() -> None:
    bare = Contact(number="+8613800138101")
    assert shown(bare, spec(display=[{"name": "name"}])) == {"phone": "+86138****8101"}
