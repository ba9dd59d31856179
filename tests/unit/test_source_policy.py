"""Which addresses a ContactList URL may be fetched from: the pure verdict on one address."""

from __future__ import annotations

import pytest

from kdial_operator.source_policy import SourcePolicy, verdict

DEFAULT = SourcePolicy.of(cluster=["10.96.0.0/12"])


@pytest.mark.parametrize(
    ("address", "what"),
    [
        ("127.0.0.1", "loopback"),
        ("127.255.0.9", "loopback"),
        ("::1", "loopback"),
        ("::ffff:127.0.0.1", "loopback"),
        ("169.254.169.254", "link-local"),
        ("fe80::1%eth0", "link-local"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("172.31.255.254", "private"),
        ("192.168.1.1", "private"),
        ("fd12:3456::1", "private"),
        ("100.64.0.1", "carrier-grade NAT"),
        ("100.127.255.254", "carrier-grade NAT"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("255.255.255.255", "reserved"),
        ("10.96.0.1", "cluster"),
    ],
)
def test_internal_addresses_are_refused_by_default(address: str, what: str) -> None:
    refusal = verdict(address, DEFAULT, plain_http=False)
    assert refusal is not None
    assert what in str(refusal)
    assert "/" in str(refusal), "the message names the network that refused it"


@pytest.mark.parametrize(
    "address", ["93.184.216.34", "8.8.8.8", "172.32.0.1", "100.128.0.1", "2606:4700::1111"]
)
def test_public_addresses_are_fetched_over_https_only(address: str) -> None:
    assert verdict(address, DEFAULT, plain_http=False) is None
    refusal = verdict(address, DEFAULT, plain_http=True)
    assert refusal is not None and "plain http" in str(refusal)


def test_an_allow_listed_network_is_fetched_over_http_too() -> None:
    policy = SourcePolicy.of(allowed=["127.0.0.1/32", "10.20.0.0/16"], cluster=["10.96.0.0/12"])
    for address in ("127.0.0.1", "10.20.3.4", "::ffff:10.20.3.4"):
        assert verdict(address, policy, plain_http=True) is None, address
    for address in ("127.0.0.2", "10.21.0.1", "::1"):
        assert verdict(address, policy, plain_http=False) is not None, address


def test_the_most_specific_network_decides() -> None:
    # A wide allow-list entry does not open the cluster's Service range inside it...
    wide = SourcePolicy.of(allowed=["10.0.0.0/8"], cluster=["10.96.0.0/12"])
    assert verdict("10.5.0.1", wide, plain_http=False) is None
    refusal = verdict("10.96.0.1", wide, plain_http=False)
    assert refusal is not None and "cluster" in str(refusal)
    # ...but a narrower one inside it lets that one Service through.
    one = SourcePolicy.of(allowed=["10.0.0.0/8", "10.96.4.2/32"], cluster=["10.96.0.0/12"])
    assert verdict("10.96.4.2", one, plain_http=True) is None
    assert verdict("10.96.4.3", one, plain_http=False) is not None


def test_a_public_cluster_range_is_refused_too() -> None:
    policy = SourcePolicy.of(cluster=["34.118.224.0/20"])
    refusal = verdict("34.118.230.1", policy, plain_http=False)
    assert refusal is not None and "cluster" in str(refusal)
    assert verdict("34.118.240.1", policy, plain_http=False) is None
