"""kdial.networks: the callee network key line health keeps pairs by."""

from __future__ import annotations

import pytest

from kdial.networks import UNKNOWN, network_of
from kdial.numbers import normalize


@pytest.mark.parametrize(
    ("number", "network"),
    [
        ("13800138000", "cn-china-mobile"),
        ("13012345678", "cn-china-unicom"),
        ("13312345678", "cn-china-telecom"),
        ("19212345678", "cn-china-broadnet"),
        ("02012345678", UNKNOWN),  # a landline: phonenumbers names no carrier
    ],
)
def test_cn_numbers_map_to_their_mobile_network(number: str, network: str) -> None:
    phone = normalize(number, "CN")
    assert network_of(phone.region_code, phone.carrier) == network


def test_the_key_is_short_and_safe_in_counter_fields_whatever_the_carrier_name() -> None:
    key = network_of("GB", "Vodafone | O2 (UK) " + "x" * 80)
    assert key.startswith("gb-vodafone-o2-uk-") and len(key) <= 48
    assert all(c.isalnum() or c == "-" for c in key) and not key.endswith("-")
    assert network_of("CN", " ") == UNKNOWN
